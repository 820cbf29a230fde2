/* factors_io.c: write and read one layer's AttnFactors in an HDF5 group (layout in
 * factors_io.h), with shape checks and the calibration hash. */
#include "attention/factors_io.h"

#include <stdio.h>
#include <string.h>

/* name = group + "/" + leaf */
static const char *path_of(char *buf, size_t cap, const char *group, const char *leaf) {
    snprintf(buf, cap, "%s/%s", group, leaf);
    return buf;
}

/* the seven datasets of a factors group: a, b, c (H, d + 1, dh), d (H, d, dh), bo (d),
   s_qk, s_vo (H, dh) */
#define N_SETS 7
typedef struct {
    const char *leaf;
    DType dt;
    void *p;
    int ndim;
    int64_t shape[3];
} FactorSet;

static void factor_sets(const AttnFactors *f, FactorSet set[N_SETS]) {
    const int64_t H = f->H, D = f->d + 1, d = f->d, dh = f->dh;
    const FactorSet all[N_SETS] = {
        {"a", DT_F32, f->a, 3, {H, D, dh}},     {"b", DT_F32, f->b, 3, {H, D, dh}},
        {"c", DT_F32, f->c, 3, {H, D, dh}},     {"d", DT_F32, f->dm, 3, {H, d, dh}},
        {"bo", DT_F32, f->bo, 1, {d, 0, 0}},    {"s_qk", DT_F64, f->s_qk, 2, {H, dh, 0}},
        {"s_vo", DT_F64, f->s_vo, 2, {H, dh, 0}},
    };
    memcpy(set, all, sizeof all);
}

Status attn_factors_write(Store *st, const char *group, const AttnFactors *f, Err *e) {
    const int64_t H = f->H, d = f->d;
    FactorSet set[N_SETS];
    factor_sets(f, set);
    char nm[512];
    Status s = ST_OK;
    for (int i = 0; i < N_SETS && !s; i++)
        s = store_write(st, path_of(nm, sizeof nm, group, set[i].leaf), set[i].dt, set[i].p,
                        set[i].ndim, set[i].shape, e);
    const char *kind = f->kind == ATTN_FACTORS_WHITENED ? "whitened" : "plain";
    if (!s) s = store_set_attr_str(st, group, "kind", kind, e);
    if (!s) s = store_set_attr_i64(st, group, "d_model", d, e);
    if (!s) s = store_set_attr_i64(st, group, "n_heads", H, e);
    if (!s) s = store_set_attr_f64(st, group, "ridge", f->ridge, e);
    if (!s) s = store_set_attr_str(st, group, "calib_hash", f->calib_hash, e);
    return s;
}

Status attn_factors_read(Store *st, const char *group, AttnFactors *f, const char *expect_hash,
                         Err *e) {
    int64_t d = 0, H = 0;
    char kind[32], hash[80];
    double ridge = 0;
    Status s = store_get_attr_i64(st, group, "d_model", &d, e);
    if (!s) s = store_get_attr_i64(st, group, "n_heads", &H, e);
    if (s) return s;
    if (d != f->d || H != f->H)
        return err_set(e, ST_SHAPE,
                       "%s: %s: expected factors for d_model %d, n_heads %d, found d_model "
                       "%lld, n_heads %lld",
                       store_path(st), group, f->d, f->H, (long long)d, (long long)H);
    s = store_get_attr_str(st, group, "kind", kind, sizeof kind, e);
    if (!s) s = store_get_attr_f64(st, group, "ridge", &ridge, e);
    if (!s) s = store_get_attr_str(st, group, "calib_hash", hash, sizeof hash, e);
    if (s) return s;
    if (strlen(hash) >= sizeof f->calib_hash)
        return err_set(e, ST_FORMAT, "%s: %s: calib_hash: expected at most 64 characters, found %zu",
                       store_path(st), group, strlen(hash));
    AttnFactorKind k;
    if (strcmp(kind, "plain") == 0) k = ATTN_FACTORS_PLAIN;
    else if (strcmp(kind, "whitened") == 0) k = ATTN_FACTORS_WHITENED;
    else
        return err_set(e, ST_FORMAT, "%s: %s: kind: expected 'plain' or 'whitened', found '%s'",
                       store_path(st), group, kind);
    if (expect_hash && strcmp(expect_hash, hash) != 0)
        return err_set(e, ST_FORMAT,
                       "%s: %s: calib_hash: expected %s, found %s (factors from another "
                       "calibration)",
                       store_path(st), group, expect_hash, hash);
    FactorSet set[N_SETS];
    factor_sets(f, set); /* the shapes of f: d and H were checked above */
    char nm[512];
    for (int i = 0; i < N_SETS && !s; i++)
        s = store_read_finite(st, path_of(nm, sizeof nm, group, set[i].leaf), set[i].dt,
                              set[i].p, set[i].ndim, set[i].shape, e);
    if (s) return s;
    f->kind = k;
    f->ridge = ridge;
    memcpy(f->calib_hash, hash, strlen(hash) + 1);
    return ST_OK;
}
