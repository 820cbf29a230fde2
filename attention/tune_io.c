/* tune_io.c: a kernel tuning (tune.h) in an HDF5 group, and the per-machine cache file. */
#include "attention/tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"

static const char *path_of(char *buf, size_t cap, const char *group, const char *leaf) {
    snprintf(buf, cap, "%s/%s", group, leaf);
    return buf;
}

Status attn_tune_save(Store *st, const char *group, const AttnTune *t, Err *e) {
    if (t->n < 1 || t->n > TUNE_MAX)
        return err_set(e, ST_INVALID, "attn_tune_save: expected 1..%d entries, found %d", TUNE_MAX,
                       t->n);
    int32_t N[TUNE_MAX], k[TUNE_MAX], kind[TUNE_MAX], block[TUNE_MAX], rows[TUNE_MAX];
    for (int i = 0; i < t->n; i++) {
        N[i] = t->N[i], k[i] = t->k[i];
        kind[i] = t->v[i].kind, block[i] = t->v[i].block, rows[i] = t->v[i].rows;
    }
    const int64_t d1[1] = {t->n};
    char nm[512];
    const char *names[5] = {"N", "k", "kind", "block", "rows"};
    const int32_t *data[5] = {N, k, kind, block, rows};
    Status s = ST_OK;
    for (int j = 0; j < 5 && !s; j++)
        s = store_write(st, path_of(nm, sizeof nm, group, names[j]), DT_I32, data[j], 1, d1, e);
    if (!s) s = store_write(st, path_of(nm, sizeof nm, group, "seconds"), DT_F64, t->sec, 1, d1, e);
    if (!s)
        s = store_write(st, path_of(nm, sizeof nm, group, "seconds_default"), DT_F64,
                        t->sec_default, 1, d1, e);
    if (!s) s = store_set_attr_i64(st, group, "threads", t->threads, e);
    if (!s) s = store_set_attr_i64(st, group, "heads", t->H, e);
    if (!s) s = store_set_attr_i64(st, group, "batch", t->B, e);
    if (!s) s = store_set_attr_str(st, group, "cpu", t->cpu, e);
    if (!s) s = store_set_attr_str(st, group, "date", t->date, e);
    return s;
}

Status attn_tune_load(Store *st, const char *group, AttnTune *t, Err *e) {
    memset(t, 0, sizeof *t);
    if (!store_exists(st, group))
        return err_set(e, ST_MISSING, "%s: %s: expected a kernel tuning, found no such group",
                       store_path(st), group);
    char nm[512];
    int nd = 0;
    int64_t dims[STORE_MAX_DIMS];
    DType ty;
    Status s = store_shape(st, path_of(nm, sizeof nm, group, "N"), &nd, dims, &ty, e);
    if (s) return s;
    if (nd != 1 || dims[0] < 1 || dims[0] > TUNE_MAX)
        return err_set(e, ST_SHAPE, "%s: %s: expected shape [n] with 1 <= n <= %d", store_path(st),
                       nm, TUNE_MAX);
    t->n = (int)dims[0];
    int32_t N[TUNE_MAX], k[TUNE_MAX], kind[TUNE_MAX], block[TUNE_MAX], rows[TUNE_MAX];
    const char *names[5] = {"N", "k", "kind", "block", "rows"};
    int32_t *data[5] = {N, k, kind, block, rows};
    for (int j = 0; j < 5 && !s; j++)
        s = store_read(st, path_of(nm, sizeof nm, group, names[j]), DT_I32, data[j], 1, dims, e);
    if (!s) s = store_read(st, path_of(nm, sizeof nm, group, "seconds"), DT_F64, t->sec, 1, dims, e);
    if (!s)
        s = store_read(st, path_of(nm, sizeof nm, group, "seconds_default"), DT_F64,
                       t->sec_default, 1, dims, e);
    if (!s) s = store_get_attr_int(st, group, "threads", 1, 1 << 20, &t->threads, e);
    if (!s) s = store_get_attr_int(st, group, "heads", 1, 1 << 20, &t->H, e);
    if (!s) s = store_get_attr_int(st, group, "batch", 1, 1 << 20, &t->B, e);
    if (!s) s = store_get_attr_str(st, group, "cpu", t->cpu, sizeof t->cpu, e);
    if (!s) s = store_get_attr_str(st, group, "date", t->date, sizeof t->date, e);
    if (s) return s;
    for (int i = 0; i < t->n; i++) {
        t->N[i] = N[i], t->k[i] = k[i];
        t->v[i] = (AttnVariant){kind[i], block[i], rows[i]};
        if (N[i] < 1 || k[i] < 1 || !attn_variant_valid(t->v[i]) || !(t->sec[i] > 0) ||
            !(t->sec_default[i] > 0) || !isfinite(t->sec[i]) || !isfinite(t->sec_default[i]))
            return err_set(e, ST_FORMAT, "%s: %s: entry %d: expected N >= 1, k >= 1, a known "
                           "variant and positive times, found N=%d k=%d variant (%d, %d, %d) "
                           "%g s", store_path(st), group, i, (int)N[i], (int)k[i], (int)kind[i],
                           (int)block[i], (int)rows[i], t->sec[i]);
    }
    return ST_OK;
}

int attn_tune_cache_path(char *buf, size_t cap, int threads) {
    const char *dir = getenv("DRRL_KERNEL_CACHE");
    char base[3072];
    if (dir && strcmp(dir, "off") == 0) return -1;
    if (dir && *dir) snprintf(base, sizeof base, "%s", dir);
    else if ((dir = getenv("XDG_CACHE_HOME")) && *dir) snprintf(base, sizeof base, "%s/drrl", dir);
    else if ((dir = getenv("HOME")) && *dir) snprintf(base, sizeof base, "%s/.cache/drrl", dir);
    else return -1;
    char cpu[128], key[192];
    attn_tune_cpu(cpu, sizeof cpu);
    snprintf(key, sizeof key, "%s|%d", cpu, threads);
    Sha256 h;
    uint8_t d[32];
    char hex[65];
    sha256_init(&h);
    sha256_update(&h, key, strlen(key));
    sha256_final(&h, d);
    sha256_hex(d, hex);
    int n = snprintf(buf, cap, "%s/kernels-%.16s.h5", base, hex);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* cache_write: t as the cache file path (its folder created) */
static Status cache_write(const char *path, const AttnTune *t, Err *e) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    Status s = store_mkdirs(dir, e);
    Store *st = NULL;
    if (!s) s = store_create(&st, path, TUNE_FORMAT, TUNE_VERSION, e);
    if (s) return s;
    s = attn_tune_save(st, TUNE_GROUP, t, e);
    if (!s) return store_commit(st, e);
    store_abort(st);
    return s;
}

/* merge: into m (the cached tuning of the same machine), t's entries replacing those of the
   same shape */
static void merge(AttnTune *m, const AttnTune *t) {
    for (int i = 0; i < t->n; i++) {
        int j = 0;
        while (j < m->n && (m->N[j] != t->N[i] || m->k[j] != t->k[i])) j++;
        if (j == m->n) {
            if (m->n == TUNE_MAX) continue;
            m->n++;
        }
        m->N[j] = t->N[i], m->k[j] = t->k[i], m->v[j] = t->v[i];
        m->sec[j] = t->sec[i], m->sec_default[j] = t->sec_default[i];
    }
    m->H = t->H, m->B = t->B;
    memcpy(m->date, t->date, sizeof m->date);
}

Status attn_tune_cache_save(const AttnTune *t, Err *e) {
    char path[4096];
    if (attn_tune_cache_path(path, sizeof path, t->threads)) return ST_OK; /* cache off */
    AttnTune *m = malloc(sizeof *m);
    if (!m) return err_set(e, ST_NOMEM, "attn_tune_cache_save: out of memory");
    Store *old = NULL;
    Err ignore;
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    if (!f || store_open(&old, path, TUNE_FORMAT, TUNE_VERSION, TUNE_VERSION, &ignore) ||
        attn_tune_load(old, TUNE_GROUP, m, &ignore) || strcmp(m->cpu, t->cpu) ||
        m->threads != t->threads)
        *m = *t; /* no usable cache: t alone */
    else
        merge(m, t);
    store_close(old);
    Status s = cache_write(path, m, e);
    free(m);
    return s;
}

int attn_tune_cache_apply(FILE *info) {
    char path[4096];
    if (attn_tune_cache_path(path, sizeof path, attn_kernel_threads())) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0; /* nothing calibrated on this machine yet */
    fclose(f);
    Store *st = NULL;
    Err e;
    AttnTune t;
    Status s = store_open(&st, path, TUNE_FORMAT, TUNE_VERSION, TUNE_VERSION, &e);
    if (!s) s = attn_tune_load(st, TUNE_GROUP, &t, &e);
    if (st) store_close(st);
    char cpu[128];
    attn_tune_cpu(cpu, sizeof cpu);
    if (s) {
        if (info) fprintf(info, "note: kernel cache not used (%s); the default variant runs\n", e.msg);
        return 0;
    }
    if (strcmp(cpu, t.cpu) != 0 || t.threads != attn_kernel_threads()) {
        if (info)
            fprintf(info, "note: kernel cache %s was measured on %s with %d threads, this is %s "
                    "with %d: not used\n", path, t.cpu, t.threads, cpu, attn_kernel_threads());
        return 0;
    }
    attn_tune_use(&t);
    return 1;
}
