/* test_latency.c: the latency calibration table (attention/latency.h), at tiny sizes (a few
 * milliseconds); no timing is asserted, only that the table is filled:
 *  - measure: grids stored sorted, every entry finite and positive, the hardware described,
 *    progress reported once per bucket in order; bad grids and counts are errors;
 *  - lookup: bucket = smallest bucket >= N or the largest; rank = LATENCY_FULL, a grid rank,
 *    or the next grid rank above, or exact beyond the grid; the ratio to exact;
 *  - store: a round trip is bit-exact; a missing group, a latency matrix of the wrong shape,
 *    a wrong element type, non-increasing buckets and non-positive latencies are errors that
 *    name the dataset; the layer-shape check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attention/latency.h"
#include "tests/attention/util.h"
#include "tests/check.h"

#define NAME "test_latency"

typedef struct {
    int calls, last;
} Progress;

static void on_progress(void *ctx, const LatencyTable *t, int i) {
    Progress *p = ctx;
    CHECK(i == p->last + 1 && i < t->n_buckets, "progress out of order: %d after %d", i, p->last);
    p->calls++;
    p->last = i;
}

static void test_measure(LatencyTable *t) {
    const int buckets[3] = {48, 16, 33}, ranks[3] = {4, 2, 8};
    Progress pr = {0, -1};
    Err e;
    Status s = latency_table_measure(t, NULL, 32, 4, 2, buckets, 3, ranks, 3, 1, 3, 7,
                                     on_progress, &pr, &e);
    CHECK(s == ST_OK, "%s", e.msg);
    CHECK(pr.calls == 3, "progress called %d times", pr.calls);
    CHECK(t->n_buckets == 3 && t->buckets[0] == 16 && t->buckets[1] == 33 && t->buckets[2] == 48,
          "buckets not sorted");
    CHECK(t->n_ranks == 3 && t->ranks[0] == 2 && t->ranks[1] == 4 && t->ranks[2] == 8,
          "ranks not sorted");
    CHECK(t->d == 32 && t->H == 4 && t->B == 2 && t->warmup == 1 && t->reps == 3, "sizes");
    for (int i = 0; i < 3; i++) {
        CHECK(isfinite(t->full[i]) && t->full[i] > 0, "full[%d] = %g", i, t->full[i]);
        for (int j = 0; j < 3; j++)
            CHECK(isfinite(t->lat[i][j]) && t->lat[i][j] > 0, "lat[%d][%d] = %g", i, j,
                  t->lat[i][j]);
    }
    CHECK(t->cpu[0] && t->blas[0] && strlen(t->date) == 20 && t->threads >= 1,
          "hardware: cpu '%s' blas '%s' date '%s' threads %d", t->cpu, t->blas, t->date,
          t->threads);
    /* the kernel variants chosen first: 3 buckets x widths 2, 4, 8 (8 is also the head size) */
    CHECK(t->tune.n == 9, "tuning entries %d, expected 9", t->tune.n);
    for (int i = 0; i < t->tune.n; i++)
        CHECK(attn_variant_valid(t->tune.v[i]) && t->tune.sec[i] <= t->tune.sec_default[i] &&
                  (t->tune.k[i] == 2 || t->tune.k[i] == 4 || t->tune.k[i] == 8),
              "tuning entry %d", i);
    CHECK(attn_tune_current() && attn_tune_current()->n == 9, "the tuning was not installed");
    attn_tune_use(NULL);
    printf("measured on %s, %d threads, %s, %s: N=33 exact %.3g ms, rank 2 %.3g ms\n", t->cpu,
           t->threads, t->blas, t->date, 1e3 * t->full[1], 1e3 * t->lat[1][0]);

    LatencyTable u;
    const int bad_rank[2] = {2, 9}, dup[2] = {16, 16}, one[1] = {4};
    s = latency_table_measure(&u, NULL, 32, 4, 1, buckets, 1, bad_rank, 2, 0, 1, 1, NULL, NULL, &e);
    CHECK(s == ST_INVALID && strstr(e.msg, "ranks: expected values in [1, 8], found 9"), "%s",
          e.msg);
    s = latency_table_measure(&u, NULL, 32, 4, 1, dup, 2, one, 1, 0, 1, 1, NULL, NULL, &e);
    CHECK(s == ST_INVALID && strstr(e.msg, "buckets: expected distinct values, found 16 twice"),
          "%s", e.msg);
    s = latency_table_measure(&u, NULL, 32, 4, 1, buckets, 1, one, 1, 0, 0, 1, NULL, NULL, &e);
    CHECK(s == ST_INVALID && strstr(e.msg, "reps >= 1"), "%s", e.msg);
    s = latency_table_measure(&u, NULL, 30, 4, 1, buckets, 1, one, 1, 0, 1, 1, NULL, NULL, &e);
    CHECK(s == ST_INVALID, "H not dividing d accepted");
}

static void test_lookup(void) {
    LatencyTable t;
    memset(&t, 0, sizeof t);
    t.d = 512, t.H = 8, t.B = 1, t.n_buckets = 2, t.n_ranks = 3;
    t.buckets[0] = 128, t.buckets[1] = 512;
    t.ranks[0] = 8, t.ranks[1] = 16, t.ranks[2] = 32;
    for (int i = 0; i < 2; i++) {
        t.full[i] = 100.0 * (i + 1);
        for (int j = 0; j < 3; j++) t.lat[i][j] = 10.0 * (i + 1) * (j + 1);
    }
    const int n_in[6] = {1, 127, 128, 129, 512, 100000}, b_out[6] = {0, 0, 0, 1, 1, 1};
    for (int k = 0; k < 6; k++)
        CHECK(latency_table_bucket(&t, n_in[k]) == b_out[k], "bucket of N=%d: %d, expected %d",
              n_in[k], latency_table_bucket(&t, n_in[k]), b_out[k]);
    CHECK(latency_table_lookup(&t, 100, LATENCY_FULL) == 100.0, "full at N=100");
    CHECK(latency_table_lookup(&t, 200, LATENCY_FULL) == 200.0, "full at N=200");
    CHECK(latency_table_lookup(&t, 100, 8) == 10.0, "rank 8");
    CHECK(latency_table_lookup(&t, 100, 1) == 10.0, "rank 1 -> grid rank 8");
    CHECK(latency_table_lookup(&t, 100, 9) == 20.0, "rank 9 -> grid rank 16");
    CHECK(latency_table_lookup(&t, 600, 32) == 60.0, "rank 32 beyond the last bucket");
    CHECK(latency_table_lookup(&t, 600, 33) == 200.0, "rank 33 -> exact");
    CHECK(latency_table_ratio(&t, 300, 16) == 0.2, "ratio %g", latency_table_ratio(&t, 300, 16));
    Err e;
    CHECK(latency_table_check(&t, 512, 8, &e) == ST_OK, "%s", e.msg);
    Status s = latency_table_check(&t, 256, 4, &e);
    CHECK(s == ST_SHAPE && strstr(e.msg, "expected a table for d_model 256, n_heads 4, found "
                                         "d_model 512, n_heads 8"),
          "%s", e.msg);
}

/* write_parts: a latency group written by hand: lat_cols columns in the latency matrix,
   buckets as given, latency type t_lat, every latency = v. */
static Status write_parts(Store *st, const char *g, const LatencyTable *t, int lat_cols,
                          const int32_t *bk, DType t_lat, double v, Err *e) {
    char nm[256];
    int32_t rk[LATENCY_MAX_RANKS];
    double lat[LATENCY_MAX_BUCKETS * (LATENCY_MAX_RANKS + 1)], full[LATENCY_MAX_BUCKETS];
    float latf[LATENCY_MAX_BUCKETS * (LATENCY_MAX_RANKS + 1)];
    for (int j = 0; j < t->n_ranks; j++) rk[j] = t->ranks[j];
    for (int i = 0; i < t->n_buckets * lat_cols; i++) lat[i] = v, latf[i] = (float)v;
    for (int i = 0; i < t->n_buckets; i++) full[i] = 1.0;
    const int64_t nb[1] = {t->n_buckets}, nr[1] = {t->n_ranks}, m[2] = {t->n_buckets, lat_cols};
    Status s = ST_OK;
    snprintf(nm, sizeof nm, "%s/buckets", g);
    if (!s) s = store_write(st, nm, DT_I32, bk, 1, nb, e);
    snprintf(nm, sizeof nm, "%s/ranks", g);
    if (!s) s = store_write(st, nm, DT_I32, rk, 1, nr, e);
    snprintf(nm, sizeof nm, "%s/latency", g);
    if (!s) s = store_write(st, nm, t_lat, t_lat == DT_F32 ? (void *)latf : (void *)lat, 2, m, e);
    snprintf(nm, sizeof nm, "%s/full", g);
    if (!s) s = store_write(st, nm, DT_F64, full, 1, nb, e);
    const char *ik[6] = {"d_model", "n_heads", "batch", "warmup", "reps", "threads"};
    const int iv[6] = {t->d, t->H, t->B, t->warmup, t->reps, t->threads};
    for (int k = 0; k < 6 && !s; k++) s = store_set_attr_i64(st, g, ik[k], iv[k], e);
    if (!s) s = store_set_attr_str(st, g, "cpu", "x", e);
    if (!s) s = store_set_attr_str(st, g, "blas_config", "y", e);
    if (!s) s = store_set_attr_str(st, g, "date", "z", e);
    return s;
}

static void test_store(const LatencyTable *t) {
    char dir[] = "/tmp/drrl-latency-XXXXXX", path[256];
    Store *st;
    tu_tmp_store(&st, dir, path, sizeof path, "lat.h5", LATENCY_FORMAT, LATENCY_VERSION);
    Err e;
    CHECK(latency_table_save(st, LATENCY_GROUP, t, &e) == ST_OK, "%s", e.msg);
    int32_t bk[LATENCY_MAX_BUCKETS], bad_bk[LATENCY_MAX_BUCKETS];
    for (int i = 0; i < t->n_buckets; i++) bk[i] = t->buckets[i], bad_bk[i] = t->buckets[i];
    bad_bk[1] = bad_bk[0];
    CHECK(write_parts(st, "/wide", t, t->n_ranks + 1, bk, DT_F64, 1.0, &e) == ST_OK, "%s", e.msg);
    CHECK(write_parts(st, "/f32", t, t->n_ranks, bk, DT_F32, 1.0, &e) == ST_OK, "%s", e.msg);
    CHECK(write_parts(st, "/order", t, t->n_ranks, bad_bk, DT_F64, 1.0, &e) == ST_OK, "%s",
          e.msg);
    CHECK(write_parts(st, "/zero", t, t->n_ranks, bk, DT_F64, 0.0, &e) == ST_OK, "%s", e.msg);
    CHECK(write_parts(st, "/fine", t, t->n_ranks, bk, DT_F64, 1.0, &e) == ST_OK, "%s", e.msg);
    CHECK(store_commit(st, &e) == ST_OK, "%s", e.msg);

    CHECK(store_open(&st, path, LATENCY_FORMAT, 1, 1, &e) == ST_OK, "%s", e.msg);
    LatencyTable u;
    CHECK(latency_table_load(st, LATENCY_GROUP, &u, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(&u, t, sizeof u) == 0, "round trip differs");
    CHECK(u.full[2] == t->full[2] && u.lat[1][2] == t->lat[1][2] && strcmp(u.cpu, t->cpu) == 0 &&
              strcmp(u.blas, t->blas) == 0 && strcmp(u.date, t->date) == 0,
          "round trip fields differ");
    CHECK(latency_table_load(st, "/fine", &u, &e) == ST_OK, "hand-written table: %s", e.msg);
    CHECK(u.tune.n == 0, "a table without kernels: %d tuning entries", u.tune.n);
    CHECK(u.causal == 0, "a table without the causal attribute loaded as causal");

    Status s = latency_table_load(st, "/nothing", &u, &e);
    CHECK(s == ST_MISSING && strstr(e.msg, "/nothing: expected a latency table"), "%s", e.msg);
    s = latency_table_load(st, "/wide", &u, &e);
    CHECK(s == ST_SHAPE && strstr(e.msg, "/wide/latency") && strstr(e.msg, "[3, 3]") &&
              strstr(e.msg, "[3, 4]"),
          "%s", e.msg);
    printf("wrong shape: %s\n", e.msg);
    s = latency_table_load(st, "/f32", &u, &e);
    CHECK(s == ST_SHAPE && strstr(e.msg, "/f32/latency") && strstr(e.msg, "float32"), "%s", e.msg);
    s = latency_table_load(st, "/order", &u, &e);
    CHECK(s == ST_FORMAT && strstr(e.msg, "/order/buckets: expected increasing values"), "%s",
          e.msg);
    s = latency_table_load(st, "/zero", &u, &e);
    CHECK(s == ST_FORMAT && strstr(e.msg, "expected finite positive latencies"), "%s", e.msg);
    store_close(st);
    tu_tmp_remove(path, dir);
}

/* a causal table: measured under the causal mask, flagged, stored and loaded as such; a
   causal attribute other than 0 or 1 is refused */
static void test_causal(void) {
    static LatencyTable t, u;
    const int buckets[2] = {40, 96}, ranks[2] = {2, 4};
    Err e;
    CHECK(latency_table_measure_causal(&t, NULL, 32, 4, 1, buckets, 2, ranks, 2, 0, 1, 3, NULL,
                                       NULL, &e) == ST_OK, "%s", e.msg);
    attn_tune_use(NULL);
    CHECK(t.causal == 1 && t.full[1] > 0 && t.lat[1][1] > 0, "causal table: causal %d", t.causal);
    printf("causal table: N=96 exact %.3g ms, rank 4 %.3g ms\n", 1e3 * t.full[1], 1e3 * t.lat[1][1]);
    char dir[] = "/tmp/drrl-latency-XXXXXX", path[256];
    Store *st;
    tu_tmp_store(&st, dir, path, sizeof path, "lat.h5", LATENCY_FORMAT, LATENCY_VERSION);
    CHECK(latency_table_save(st, LATENCY_GROUP, &t, &e) == ST_OK, "%s", e.msg);
    CHECK(latency_table_save(st, "/bad", &t, &e) == ST_OK, "%s", e.msg);
    CHECK(store_set_attr_i64(st, "/bad", "causal", 2, &e) == ST_OK, "%s", e.msg);
    CHECK(store_commit(st, &e) == ST_OK, "%s", e.msg);
    CHECK(store_open(&st, path, LATENCY_FORMAT, 1, 1, &e) == ST_OK, "%s", e.msg);
    CHECK(latency_table_load(st, LATENCY_GROUP, &u, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(&u, &t, sizeof u) == 0 && u.causal == 1, "causal round trip differs");
    Status s = latency_table_load(st, "/bad", &u, &e);
    CHECK(s == ST_FORMAT && strstr(e.msg, "causal"), "causal = 2 accepted: %s", e.msg);
    store_close(st);
    tu_tmp_remove(path, dir);
}

int main(void) {
    LatencyTable t;
    test_measure(&t);
    test_lookup();
    test_store(&t);
    test_causal();
    return check_exit(NAME);
}
