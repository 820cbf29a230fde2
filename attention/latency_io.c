/* latency_io.c: the latency table in an HDF5 group (layout in latency.h): writing it, and
 * reading it back with shape, type and invariant checks. */
#include "attention/latency.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* name = group + "/" + leaf */
static const char *path_of(char *buf, size_t cap, const char *group, const char *leaf) {
    snprintf(buf, cap, "%s/%s", group, leaf);
    return buf;
}

Status latency_table_save(Store *st, const char *group, const LatencyTable *t, Err *e) {
    const int64_t nb = t->n_buckets, nr = t->n_ranks;
    if (nb < 1 || nb > LATENCY_MAX_BUCKETS || nr < 1 || nr > LATENCY_MAX_RANKS)
        return err_set(e, ST_INVALID,
                       "latency_table_save: expected 1..%d buckets and 1..%d ranks, found %lld "
                       "and %lld",
                       LATENCY_MAX_BUCKETS, LATENCY_MAX_RANKS, (long long)nb, (long long)nr);
    int32_t bk[LATENCY_MAX_BUCKETS], rk[LATENCY_MAX_RANKS];
    double lat[LATENCY_MAX_BUCKETS * LATENCY_MAX_RANKS];
    for (int i = 0; i < nb; i++) {
        bk[i] = t->buckets[i];
        for (int j = 0; j < nr; j++) lat[i * nr + j] = t->lat[i][j];
    }
    for (int j = 0; j < nr; j++) rk[j] = t->ranks[j];
    const int64_t d1[1] = {nb}, d2[1] = {nr}, d3[2] = {nb, nr};
    char nm[512];
    Status s = ST_OK;
    if (!s) s = store_write(st, path_of(nm, sizeof nm, group, "buckets"), DT_I32, bk, 1, d1, e);
    if (!s) s = store_write(st, path_of(nm, sizeof nm, group, "ranks"), DT_I32, rk, 1, d2, e);
    if (!s) s = store_write(st, path_of(nm, sizeof nm, group, "latency"), DT_F64, lat, 2, d3, e);
    if (!s) s = store_write(st, path_of(nm, sizeof nm, group, "full"), DT_F64, t->full, 1, d1, e);
    const char *ik[6] = {"d_model", "n_heads", "batch", "warmup", "reps", "threads"};
    const int iv[6] = {t->d, t->H, t->B, t->warmup, t->reps, t->threads};
    for (int k = 0; k < 6 && !s; k++) s = store_set_attr_i64(st, group, ik[k], iv[k], e);
    if (!s) s = store_set_attr_str(st, group, "cpu", t->cpu, e);
    if (!s) s = store_set_attr_str(st, group, "blas_config", t->blas, e);
    if (!s) s = store_set_attr_str(st, group, "date", t->date, e);
    /* written only for a causal table: a non-causal one is stored as before the field */
    if (!s && t->causal) s = store_set_attr_i64(st, group, "causal", 1, e);
    if (!s && t->tune.n > 0) s = attn_tune_save(st, path_of(nm, sizeof nm, group, "kernels"), &t->tune, e);
    return s;
}

/* read_grid: a 1-d int32 dataset of 1..max_n increasing values >= lo (and <= hi). */
static Status read_grid(Store *st, const char *name, int *out, int *n, int max_n, int lo, int hi,
                        Err *e) {
    int nd = 0;
    int64_t dims[STORE_MAX_DIMS];
    DType ty;
    Status s = store_shape(st, name, &nd, dims, &ty, e);
    if (s) return s;
    if (nd != 1 || ty != DT_I32 || dims[0] < 1 || dims[0] > max_n)
        return err_set(e, ST_SHAPE, "%s: %s: expected shape [n] int32 with 1 <= n <= %d, found %d "
                       "dims (first %lld) %s",
                       store_path(st), name, max_n, nd, nd > 0 ? (long long)dims[0] : 0LL,
                       dtype_name(ty));
    int32_t v[64];
    s = store_read(st, name, DT_I32, v, 1, dims, e);
    if (s) return s;
    *n = (int)dims[0];
    for (int i = 0; i < *n; i++) {
        if (v[i] < lo || v[i] > hi || (i > 0 && v[i] <= v[i - 1]))
            return err_set(e, ST_FORMAT,
                           "%s: %s: expected increasing values in [%d, %d], found %d at index %d",
                           store_path(st), name, lo, hi, (int)v[i], i);
        out[i] = v[i];
    }
    return ST_OK;
}

Status latency_table_load(Store *st, const char *group, LatencyTable *t, Err *e) {
    memset(t, 0, sizeof *t);
    if (!store_exists(st, group))
        return err_set(e, ST_MISSING, "%s: %s: expected a latency table, found no such group",
                       store_path(st), group);
    Status s = store_get_attr_int(st, group, "d_model", 1, 1 << 20, &t->d, e);
    if (!s) s = store_get_attr_int(st, group, "n_heads", 1, 1 << 20, &t->H, e);
    if (!s) s = store_get_attr_int(st, group, "batch", 1, 1 << 30, &t->B, e);
    if (!s) s = store_get_attr_int(st, group, "warmup", 0, 1 << 30, &t->warmup, e);
    if (!s) s = store_get_attr_int(st, group, "reps", 1, 1 << 30, &t->reps, e);
    if (!s) s = store_get_attr_int(st, group, "threads", 1, 1 << 20, &t->threads, e);
    if (s) return s;
    if (t->d % t->H != 0)
        return err_set(e, ST_FORMAT, "%s: %s: expected n_heads dividing d_model, found %d and %d",
                       store_path(st), group, t->H, t->d);
    s = store_get_attr_str(st, group, "cpu", t->cpu, sizeof t->cpu, e);
    if (!s) s = store_get_attr_str(st, group, "blas_config", t->blas, sizeof t->blas, e);
    if (!s) s = store_get_attr_str(st, group, "date", t->date, sizeof t->date, e);
    if (!s) { /* absent: a non-causal table (and every table from before the field) */
        s = store_get_attr_int(st, group, "causal", 0, 1, &t->causal, e);
        if (s == ST_MISSING) t->causal = 0, s = ST_OK;
    }
    char nm[512];
    if (!s)
        s = read_grid(st, path_of(nm, sizeof nm, group, "buckets"), t->buckets, &t->n_buckets,
                      LATENCY_MAX_BUCKETS, 1, 1 << 30, e);
    if (!s)
        s = read_grid(st, path_of(nm, sizeof nm, group, "ranks"), t->ranks, &t->n_ranks,
                      LATENCY_MAX_RANKS, 1, t->d / t->H, e);
    if (s) return s;
    const int nb = t->n_buckets, nr = t->n_ranks;
    const int64_t d1[1] = {nb}, d3[2] = {nb, nr};
    double lat[LATENCY_MAX_BUCKETS * LATENCY_MAX_RANKS];
    s = store_read(st, path_of(nm, sizeof nm, group, "latency"), DT_F64, lat, 2, d3, e);
    if (!s) s = store_read(st, path_of(nm, sizeof nm, group, "full"), DT_F64, t->full, 1, d1, e);
    if (s) return s;
    for (int i = 0; i < nb; i++) {
        for (int j = 0; j < nr; j++) t->lat[i][j] = lat[i * nr + j];
        for (int j = -1; j < nr; j++) {
            double v = j < 0 ? t->full[i] : t->lat[i][j];
            if (!isfinite(v) || v <= 0)
                return err_set(e, ST_FORMAT,
                               "%s: %s: expected finite positive latencies, found %g at N = %d, "
                               "%s %d",
                               store_path(st), group, v, t->buckets[i], j < 0 ? "full" : "rank",
                               j < 0 ? t->d / t->H : t->ranks[j]);
        }
    }
    path_of(nm, sizeof nm, group, "kernels");
    if (store_exists(st, nm)) return attn_tune_load(st, nm, &t->tune, e);
    return ST_OK;
}
