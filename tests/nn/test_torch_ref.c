/* test_torch_ref.c: our nn/ layers against PyTorch. Runs
 *     /usr/bin/python3 $DRRL_SOURCE_ROOT/scripts/torch_ref.py DIR/torch_ref.h5
 * (DIR from mkdtemp), reads the file with core/store (format 'drrl-torch-ref', version 1) and
 * compares our forward outputs and input/parameter gradients for the attention block, the mhsa
 * layer (torch's own F.multi_head_attention_forward), layer norm (eps 1e-12) and exact GELU.
 * Skips (exit 77) when DRRL_SOURCE_ROOT is unset or /usr/bin/python3, torch or h5py is absent.
 *
 * The references are float64 computed from the same float32 inputs, so a comparison measures
 * only our float32 error. Tolerance: |ours - ref| <= RTOL |ref| + ATOL * max(1, scale), with
 * scale = the largest |ref| of that tensor, RTOL 1e-4 and ATOL 1e-5: float32 sums of at most a
 * few dozen O(1) terms are good to ~1e-6 of the tensor's scale; elements that are 0 up to
 * cancellation (e.g. the key-bias gradient, exactly 0 in exact math) are judged on the scale. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/store.h"
#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/layernorm.h"
#include "nn/mhsa.h"
#include "tests/check.h"
#include "tests/torch_ref.h"

#define RTOL 1e-4
#define ATOL 1e-5
#define NAME "test_torch_ref"

static size_t count_of(int ndim, const int64_t *dims) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    return n;
}

static int64_t attr_i64(Store *st, const char *obj, const char *name) {
    int64_t v = 0;
    Err e;
    err_clear(&e);
    Status s = store_get_attr_i64(st, obj, name, &v, &e);
    CHECK(s == ST_OK, "attribute %s of %s: %s", name, obj, e.msg);
    return v;
}

static void test_attention(Store *st) {
    printf("attention block:\n");
    int B = (int)attr_i64(st, "/attention", "B"), N = (int)attr_i64(st, "/attention", "N");
    int H = (int)attr_i64(st, "/attention", "H"), dh = (int)attr_i64(st, "/attention", "dh");
    if (B < 1 || N < 1 || H < 1 || dh < 1) return;
    int C = H * dh;
    int64_t d3[3] = {B, N, C}, d2[2] = {B, N}, d4[4] = {B, H, N, N};
    size_t n = count_of(3, d3), nn = count_of(4, d4);
    float *q = torch_ref_load(st, "/attention/q", DT_F32, 3, d3),
          *k = torch_ref_load(st, "/attention/k", DT_F32, 3, d3),
          *v = torch_ref_load(st, "/attention/v", DT_F32, 3, d3),
          *dout = torch_ref_load(st, "/attention/dout", DT_F32, 3, d3);
    int32_t *mask = torch_ref_load(st, "/attention/mask", DT_I32, 2, d2);
    double *rout = torch_ref_load(st, "/attention/out", DT_F64, 3, d3),
           *rp = torch_ref_load(st, "/attention/p", DT_F64, 4, d4),
           *rdq = torch_ref_load(st, "/attention/dq", DT_F64, 3, d3),
           *rdk = torch_ref_load(st, "/attention/dk", DT_F64, 3, d3),
           *rdv = torch_ref_load(st, "/attention/dv", DT_F64, 3, d3);
    float *out = calloc(n, 4), *att = calloc(nn, 4), *dq = calloc(n, 4), *dk = calloc(n, 4),
          *dv = calloc(n, 4);
    size_t slen = attention_scratch_size(N, attention_max_threads());
    float *scratch = calloc(slen, 4);
    if (q && k && v && dout && mask) {
        attention_forward(out, att, NULL, 0, q, k, v, attn_mask_i32(mask), B, N, H, dh);
        attention_backward(dq, dk, dv, scratch, slen, dout, att, q, k, v, B, N, H, dh);
        torch_ref_compare(out, rout, n, "attention out", RTOL, ATOL);
        torch_ref_compare(att, rp, nn, "attention p", RTOL, ATOL);
        torch_ref_compare(dq, rdq, n, "attention dq", RTOL, ATOL);
        torch_ref_compare(dk, rdk, n, "attention dk", RTOL, ATOL);
        torch_ref_compare(dv, rdv, n, "attention dv", RTOL, ATOL);
    }
    free(q), free(k), free(v), free(dout), free(mask), free(rout), free(rp), free(rdq);
    free(rdk), free(rdv), free(out), free(att), free(dq), free(dk), free(dv), free(scratch);
}

static void test_mhsa(Store *st) {
    printf("mhsa layer (torch F.multi_head_attention_forward):\n");
    int B = (int)attr_i64(st, "/mhsa", "B"), N = (int)attr_i64(st, "/mhsa", "N");
    int C = (int)attr_i64(st, "/mhsa", "C"), H = (int)attr_i64(st, "/mhsa", "H");
    Err e;
    err_clear(&e);
    CHECK(mhsa_check(B, N, C, H, &e) == ST_OK, "mhsa sizes: %s", e.msg);
    if (e.status != ST_OK) return;
    int64_t d3[3] = {B, N, C}, d2[2] = {B, N};
    size_t n = count_of(3, d3), psz[MHSA_NPARAMS];
    size_t np = mhsa_param_sizes(psz, C);
    float *pbuf = calloc(np, 4), *gbuf = calloc(np, 4);
    MhsaParams p, g;
    mhsa_params_point(&p, pbuf, C);
    mhsa_params_point(&g, gbuf, C);
    double *rg = calloc(np, 8);
    int ok = 1;
    size_t off = 0;
    for (int i = 0; i < MHSA_NPARAMS; i++) {
        char name[128];
        int64_t dims[2] = {C, C};
        int nd = psz[i] == (size_t)C * C ? 2 : 1;
        snprintf(name, sizeof name, "/mhsa/%s", mhsa_param_names[i]);
        float *t = torch_ref_load(st, name, DT_F32, nd, dims);
        snprintf(name, sizeof name, "/mhsa/grad/%s", mhsa_param_names[i]);
        double *r = torch_ref_load(st, name, DT_F64, nd, dims);
        if (t) memcpy(pbuf + off, t, psz[i] * 4);
        if (r) memcpy(rg + off, r, psz[i] * 8);
        ok &= t && r;
        free(t);
        free(r);
        off += psz[i];
    }
    float *x = torch_ref_load(st, "/mhsa/x", DT_F32, 3, d3),
          *dout = torch_ref_load(st, "/mhsa/dout", DT_F32, 3, d3);
    int32_t *mask = torch_ref_load(st, "/mhsa/mask", DT_I32, 2, d2);
    double *rout = torch_ref_load(st, "/mhsa/out", DT_F64, 3, d3),
           *rdx = torch_ref_load(st, "/mhsa/grad/x", DT_F64, 3, d3);
    MhsaSizes sz = mhsa_buffer_sizes(B, N, C, H, attention_max_threads(), 1);
    MhsaActs a = {calloc(sz.q, 4), calloc(sz.k, 4), calloc(sz.v, 4), calloc(sz.att, 4),
                  calloc(sz.a, 4), calloc(sz.scratch, 4), sz.scratch};
    MhsaGradActs ga = {calloc(sz.dq, 4), calloc(sz.dk, 4), calloc(sz.dv, 4), calloc(sz.da, 4)};
    float *y = calloc(n, 4), *dx = calloc(n, 4);
    if (ok && x && dout && mask) {
        mhsa_forward(y, &a, x, attn_mask_i32(mask), &p, B, N, C, H);
        mhsa_backward(dx, &g, &ga, dout, x, &a, &p, B, N, C, H);
        torch_ref_compare(y, rout, n, "mhsa out", RTOL, ATOL);
        torch_ref_compare(dx, rdx, n, "mhsa grad/x", RTOL, ATOL);
        off = 0;
        for (int i = 0; i < MHSA_NPARAMS; i++) {
            char what[96];
            snprintf(what, sizeof what, "mhsa grad/%s", mhsa_param_names[i]);
            torch_ref_compare(gbuf + off, rg + off, psz[i], what, RTOL, ATOL);
            off += psz[i];
        }
    }
    free(pbuf), free(gbuf), free(rg), free(x), free(dout), free(mask), free(rout), free(rdx);
    free(a.q), free(a.k), free(a.v), free(a.att), free(a.a), free(a.scratch);
    free(ga.dq), free(ga.dk), free(ga.dv), free(ga.da), free(y), free(dx);
}

static void test_layernorm(Store *st) {
    printf("layernorm (eps from the file):\n");
    int M = (int)attr_i64(st, "/layernorm", "M"), C = (int)attr_i64(st, "/layernorm", "C");
    double eps = 0;
    Err e;
    err_clear(&e);
    CHECK(store_get_attr_f64(st, "/layernorm", "eps", &eps, &e) == ST_OK, "eps: %s", e.msg);
    if (M < 1 || C < 1) return;
    int64_t d2[2] = {M, C}, d1[1] = {C};
    size_t n = count_of(2, d2);
    float *x = torch_ref_load(st, "/layernorm/x", DT_F32, 2, d2),
          *w = torch_ref_load(st, "/layernorm/weight", DT_F32, 1, d1),
          *b = torch_ref_load(st, "/layernorm/bias", DT_F32, 1, d1),
          *dout = torch_ref_load(st, "/layernorm/dout", DT_F32, 2, d2);
    double *rout = torch_ref_load(st, "/layernorm/out", DT_F64, 2, d2),
           *rdx = torch_ref_load(st, "/layernorm/dx", DT_F64, 2, d2),
           *rdw = torch_ref_load(st, "/layernorm/dweight", DT_F64, 1, d1),
           *rdb = torch_ref_load(st, "/layernorm/dbias", DT_F64, 1, d1);
    float *out = calloc(n, 4), *mean = calloc((size_t)M, 4), *rstd = calloc((size_t)M, 4),
          *dx = calloc(n, 4), *dw = calloc((size_t)C, 4), *db = calloc((size_t)C, 4);
    if (x && w && b && dout) {
        layernorm_forward(out, mean, rstd, x, w, b, M, C, (float)eps);
        layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, M, C);
        torch_ref_compare(out, rout, n, "layernorm out", RTOL, ATOL);
        torch_ref_compare(dx, rdx, n, "layernorm dx", RTOL, ATOL);
        torch_ref_compare(dw, rdw, (size_t)C, "layernorm dweight", RTOL, ATOL);
        torch_ref_compare(db, rdb, (size_t)C, "layernorm dbias", RTOL, ATOL);
    }
    free(x), free(w), free(b), free(dout), free(rout), free(rdx), free(rdw), free(rdb);
    free(out), free(mean), free(rstd), free(dx), free(dw), free(db);
}

static void test_gelu(Store *st) {
    printf("gelu (exact erf):\n");
    int64_t n = attr_i64(st, "/gelu", "n");
    if (n < 1) return;
    int64_t d1[1] = {n};
    float *x = torch_ref_load(st, "/gelu/x", DT_F32, 1, d1),
          *dout = torch_ref_load(st, "/gelu/dout", DT_F32, 1, d1);
    double *rout = torch_ref_load(st, "/gelu/out", DT_F64, 1, d1),
           *rdx = torch_ref_load(st, "/gelu/dx", DT_F64, 1, d1);
    float *out = calloc((size_t)n, 4), *dx = calloc((size_t)n, 4);
    if (x && dout) {
        gelu_forward(out, x, (size_t)n);
        gelu_backward(dx, dout, x, (size_t)n);
        torch_ref_compare(out, rout, (size_t)n, "gelu out", RTOL, ATOL);
        torch_ref_compare(dx, rdx, (size_t)n, "gelu dx", RTOL, ATOL);
    }
    free(x), free(dout), free(rout), free(rdx), free(out), free(dx);
}

static void body(Store *st) {
    test_attention(st);
    test_mhsa(st);
    test_layernorm(st);
    test_gelu(st);
}

int main(void) {
    return torch_ref_main(NAME, "torch_ref.py", "torch_ref.h5", "drrl-torch-ref", body);
}
