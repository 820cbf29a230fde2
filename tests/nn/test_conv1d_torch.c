/* test_conv1d_torch.c: the depthwise sequence convolution (nn/conv1d.h) against PyTorch's
 * torch.nn.functional.conv1d with groups = C on the masked input. Runs
 *     /usr/bin/python3 $DRRL_SOURCE_ROOT/scripts/conv1d_ref.py DIR/conv1d_ref.h5
 * (DIR from mkdtemp), reads it with core/store (format 'drrl-conv1d-ref', version 1) and
 * compares our forward output and the gradients dx, dweight, dbias (L = sum(out * dout)) for
 * k = 1, 3, 9 on rows with padding at the end. Skips (exit 77) when DRRL_SOURCE_ROOT is unset
 * or /usr/bin/python3, torch, h5py or numpy is absent.
 *
 * The references are float64 from the same float32 inputs, so a comparison measures only our
 * float32 error. Tolerance (as test_torch_ref.c): |ours - ref| <= RTOL |ref| + ATOL max(1,
 * scale), scale = the largest |ref| of that tensor, RTOL 1e-4, ATOL 1e-5: the outputs are sums
 * of <= 10 terms and the weight gradients of <= 33, good to ~1e-6 of the scale. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/store.h"
#include "nn/conv1d.h"
#include "tests/check.h"
#include "tests/torch_ref.h"

#define RTOL 1e-4
#define ATOL 1e-5
#define NAME "test_conv1d_torch"

static void test_case(Store *st, const char *grp) {
    char name[64];
    int64_t v[4] = {0, 0, 0, 0};
    static const char *const an[4] = {"B", "N", "C", "k"};
    Err e;
    err_clear(&e);
    for (int i = 0; i < 4; i++) {
        Status s = store_get_attr_i64(st, grp, an[i], &v[i], &e);
        CHECK(s == ST_OK, "%s: attribute %s: %s", grp, an[i], e.msg);
        if (s) return;
    }
    const int B = (int)v[0], N = (int)v[1], C = (int)v[2], k = (int)v[3];
    printf("%s (B=%d N=%d C=%d k=%d):\n", grp, B, N, C, k);
    const size_t n = (size_t)B * N * C;
    int64_t d3[3] = {B, N, C}, d2[2] = {B, N}, dk[2] = {k, C}, dc[1] = {C};
#define LD(var, ds, t, nd, dims) \
    snprintf(name, sizeof name, "%s/%s", grp, ds), var = torch_ref_load(st, name, t, nd, dims)
    float *x, *w, *b, *dout;
    int32_t *mask;
    double *rout, *rdx, *rdw, *rdb;
    LD(x, "x", DT_F32, 3, d3);
    LD(mask, "mask", DT_I32, 2, d2);
    LD(w, "weight", DT_F32, 2, dk);
    LD(b, "bias", DT_F32, 1, dc);
    LD(dout, "dout", DT_F32, 3, d3);
    LD(rout, "out", DT_F64, 3, d3);
    LD(rdx, "dx", DT_F64, 3, d3);
    LD(rdw, "dweight", DT_F64, 2, dk);
    LD(rdb, "dbias", DT_F64, 1, dc);
#undef LD
    uint8_t *m8 = malloc((size_t)B * N);
    float *y = calloc(n, 4), *dx = calloc(n, 4), *dw = calloc((size_t)k * C, 4),
          *db = calloc((size_t)C, 4);
    if (x && mask && w && b && dout && m8 && y && dx && dw && db) {
        for (int i = 0; i < B * N; i++) m8[i] = mask[i] != 0;
        conv1d_dw_forward(y, x, m8, w, b, B, N, C, k, 0);
        conv1d_dw_backward(dx, dw, db, dout, x, m8, w, B, N, C, k, 0);
        torch_ref_compare(y, rout, n, "out", RTOL, ATOL);
        torch_ref_compare(dx, rdx, n, "dx", RTOL, ATOL);
        torch_ref_compare(dw, rdw, (size_t)k * C, "dweight", RTOL, ATOL);
        torch_ref_compare(db, rdb, (size_t)C, "dbias", RTOL, ATOL);
    } else {
        CHECK(0, "%s: missing inputs", grp);
    }
    free(x), free(mask), free(w), free(b), free(dout), free(rout), free(rdx), free(rdw);
    free(rdb), free(m8), free(y), free(dx), free(dw), free(db);
}

static void body(Store *st) {
    test_case(st, "/k1");
    test_case(st, "/k3");
    test_case(st, "/k9");
}

int main(void) {
    return torch_ref_main(NAME, "conv1d_ref.py", "conv1d_ref.h5", "drrl-conv1d-ref", body);
}
