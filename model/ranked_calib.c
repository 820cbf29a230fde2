/* ranked_calib.c: whitened factors from the exact model's layer inputs on calibration
 * sentences, and their HDF5 cache keyed by the model file's hash (ranked_calib.h). */
#include "model/ranked_calib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attention/factors_io.h"
#include "attention/moment.h"
#include "core/sha256.h"
#include "core/store.h"
#include "core/timer.h"

void ranked_calib_data_hash(char hex[65], const EncodedSet *set, int rows) {
    Sha256 h;
    uint8_t dg[32];
    sha256_init(&h);
    const int32_t n = rows;
    sha256_update(&h, &n, sizeof n);
    for (int i = 0; i < rows; i++) {
        const int32_t len = set->len[i];
        sha256_update(&h, &len, sizeof len);
        sha256_update(&h, set->ids + (size_t)i * set->max_len, sizeof(int32_t) * (size_t)len);
    }
    sha256_final(&h, dg);
    sha256_hex(dg, hex);
}

/* the cache's key attributes, as stored at the root */
typedef struct {
    char model[72], data[72];
    int64_t rows, L, d, H;
    double ridge;
} CacheKey;

static Status key_read(Store *st, CacheKey *k, Err *e) {
    Status s = store_get_attr_str(st, "/", "model_sha256", k->model, sizeof k->model, e);
    if (!s) s = store_get_attr_str(st, "/", "data_sha256", k->data, sizeof k->data, e);
    if (!s) s = store_get_attr_i64(st, "/", "calib_rows", &k->rows, e);
    if (!s) s = store_get_attr_f64(st, "/", "ridge", &k->ridge, e);
    if (!s) s = store_get_attr_i64(st, "/", "n_layers", &k->L, e);
    if (!s) s = store_get_attr_i64(st, "/", "d_model", &k->d, e);
    if (!s) s = store_get_attr_i64(st, "/", "n_heads", &k->H, e);
    return s;
}

static int key_equal(const CacheKey *a, const CacheKey *b) {
    return !strcmp(a->model, b->model) && !strcmp(a->data, b->data) && a->rows == b->rows &&
           a->ridge == b->ridge && a->L == b->L && a->d == b->d && a->H == b->H;
}

static void group_of(char *out, size_t cap, int l, int white) {
    snprintf(out, cap, "/factors/layer/%d/%s", l, white ? "whitened" : "plain");
}

/* try the cache: *hit = 1 and R's factors filled when its key matches; a missing file is a
   miss; a file of another format (or unreadable) is an error */
static Status cache_load(Ranked *R, const char *path, const CacheKey *want, int *hit,
                         int64_t *tokens, Err *e) {
    *hit = 0;
    if (access(path, F_OK) != 0) return ST_OK;
    Store *st = NULL;
    Status s = store_open(&st, path, RANKED_CACHE_FORMAT, RANKED_CACHE_VERSION,
                          RANKED_CACHE_VERSION, e);
    if (s) return err_prefix(e, "factor cache");
    CacheKey got;
    s = key_read(st, &got, e);
    if (!s && key_equal(&got, want)) {
        char g[96];
        for (int l = 0; l < R->L && !s; l++) {
            group_of(g, sizeof g, l, 0);
            s = attn_factors_read(st, g, &R->plain[l], NULL, e);
            group_of(g, sizeof g, l, 1);
            if (!s) s = attn_factors_read(st, g, &R->white[l], NULL, e);
        }
        Err ignore; /* informational: 0 when absent */
        if (!s && store_get_attr_i64(st, "/", "calib_tokens", tokens, &ignore)) *tokens = 0;
        *hit = !s;
    }
    store_close(st);
    return s;
}

static Status cache_write(const Ranked *R, const char *path, const CacheKey *k, int64_t tokens,
                          Err *e) {
    Store *st = NULL;
    Status s = store_create(&st, path, RANKED_CACHE_FORMAT, RANKED_CACHE_VERSION, e);
    if (s) return s;
    if (!s) s = store_set_attr_str(st, "/", "model_sha256", k->model, e);
    if (!s) s = store_set_attr_str(st, "/", "data_sha256", k->data, e);
    if (!s) s = store_set_attr_i64(st, "/", "calib_rows", k->rows, e);
    if (!s) s = store_set_attr_f64(st, "/", "ridge", k->ridge, e);
    if (!s) s = store_set_attr_i64(st, "/", "n_layers", k->L, e);
    if (!s) s = store_set_attr_i64(st, "/", "d_model", k->d, e);
    if (!s) s = store_set_attr_i64(st, "/", "n_heads", k->H, e);
    if (!s) s = store_set_attr_i64(st, "/", "calib_tokens", tokens, e);
    char g[96];
    for (int l = 0; l < R->L && !s; l++) {
        group_of(g, sizeof g, l, 0);
        s = attn_factors_write(st, g, &R->plain[l], e);
        group_of(g, sizeof g, l, 1);
        if (!s) s = attn_factors_write(st, g, &R->white[l], e);
    }
    if (s) {
        store_abort(st);
        return s;
    }
    return store_commit(st, e);
}

/* the exact model over rows [0, rows) in batches; each layer's input moment accumulated */
static Status accumulate(Ranked *R, const EncodedSet *set, int rows, int batch,
                         AttnMoment *mom, int64_t *tokens, Err *e) {
    const int W = set->max_len;
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)batch);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)batch * W);
    uint8_t *mask = malloc((size_t)batch * W);
    Status s = ST_OK;
    if (!idx || !ids || !mask) s = err_set(e, ST_NOMEM, "ranked_calibrate: out of memory");
    RankSpec exact = rank_spec(RANK_EXACT, 0);
    for (int at = 0; at < rows && !s; at += batch) {
        const int B = rows - at < batch ? rows - at : batch;
        for (int b = 0; b < B; b++) idx[b] = at + b;
        const int N = encoded_max_len(set, idx, B);
        encoded_gather(set, idx, B, N, ids, mask, NULL);
        for (int b = 0; b < B; b++) *tokens += set->len[at + b];
        s = ranked_begin(R, ids, NULL, mask, B, N, e);
        for (int l = 0; l < R->L && !s; l++) {
            attn_moment_add(&mom[l], ranked_input(R), attn_mask_u8(mask), B, N);
            s = ranked_layer(R, &exact, e);
        }
    }
    free(idx), free(ids), free(mask);
    return s;
}

/* whitened factors of every layer from the accumulated moments */
static Status whiten(Ranked *R, const AttnMoment *mom, double ridge, Err *e) {
    const size_t D = (size_t)R->C + 1;
    double *M = malloc(sizeof(double) * D * D), *Lw = malloc(sizeof(double) * D * D);
    Status s = ST_OK;
    if (!M || !Lw) s = err_set(e, ST_NOMEM, "ranked_calibrate: out of memory");
    for (int l = 0; l < R->L && !s; l++) {
        char hash[65];
        s = attn_moment_get(M, &mom[l], e);
        if (!s) s = attn_whitener(Lw, M, R->C, ridge, e);
        if (!s) attn_moment_hash(hash, M, R->C, ridge);
        if (!s)
            s = attn_factors_compute(&R->white[l], &R->m->p.layer[l].attn, Lw, ridge, hash, e);
        if (s) err_prefix(e, "ranked_calibrate: layer %d", l);
    }
    free(M), free(Lw);
    return s;
}

Status ranked_calibrate(Ranked *R, const EncodedSet *set, const RankedCalib *c,
                        RankedCalibInfo *info, Err *e) {
    RankedCalibInfo tmp;
    if (!info) info = &tmp;
    memset(info, 0, sizeof *info);
    const double t0 = time_now();
    const int rows = c->rows < set->n ? c->rows : set->n;
    const int batch = c->batch > 0 && c->batch < R->max_B ? c->batch : R->max_B;
    if (rows < 1 || !(c->ridge >= 0))
        return err_set(e, ST_INVALID,
                       "ranked_calibrate: expected at least 1 row and ridge >= 0, found %d rows "
                       "(set of %d) and ridge %g",
                       c->rows, set->n, c->ridge);
    if (c->cache && !c->model_sha256)
        return err_set(e, ST_INVALID, "ranked_calibrate: a cache needs the model's hash");
    int longest = 0;
    for (int i = 0; i < rows; i++) longest = set->len[i] > longest ? set->len[i] : longest;
    if (longest > R->max_N)
        return err_set(e, ST_INVALID,
                       "ranked_calibrate: rows of up to %d tokens, planned for max_N = %d",
                       longest, R->max_N);
    info->rows = rows;
    ranked_calib_data_hash(info->data_sha256, set, rows);
    CacheKey key;
    memset(&key, 0, sizeof key);
    snprintf(key.model, sizeof key.model, "%s", c->model_sha256 ? c->model_sha256 : "");
    snprintf(key.data, sizeof key.data, "%s", info->data_sha256);
    key.rows = rows, key.ridge = c->ridge, key.L = R->L, key.d = R->C, key.H = R->H;
    Status s = ST_OK;
    if (c->cache) {
        int hit = 0;
        if ((s = cache_load(R, c->cache, &key, &hit, &info->tokens, e))) return s;
        if (hit) {
            info->loaded = 1;
            info->seconds = time_now() - t0;
            return ranked_set_factors(R, 1, e);
        }
    }
    AttnMoment *mom = calloc((size_t)R->L, sizeof *mom);
    if (!mom) return err_set(e, ST_NOMEM, "ranked_calibrate: out of memory");
    for (int l = 0; l < R->L && !s; l++) s = attn_moment_init(&mom[l], R->C, e);
    if (!s) s = accumulate(R, set, rows, batch, mom, &info->tokens, e);
    if (!s) s = whiten(R, mom, c->ridge, e);
    for (int l = 0; l < R->L; l++) attn_moment_free(&mom[l]);
    free(mom);
    if (!s) s = ranked_set_factors(R, 1, e);
    if (!s && c->cache) s = cache_write(R, c->cache, &key, info->tokens, e);
    info->seconds = time_now() - t0;
    return s;
}

void ranked_calib_cache_path(char *out, size_t cap, const char *model) {
    size_t n = strlen(model);
    int cut = n > 3 && !strcmp(model + n - 3, ".h5") ? 3 : 0;
    snprintf(out, cap, "%.*s.factors.h5", (int)(n - cut), model);
}
