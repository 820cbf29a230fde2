/* test_conv1d.c: the depthwise sequence convolution of nn/conv1d.h (the convolutional
 * position encoding) against an independent double-precision reference written out here
 * from the definition
 *   y[b, n, c] = bias[c] + sum_j w[j, c] m[b, n + j - h] x[b, n + j - h, c]   (zero outside),
 * following tests/nn/test_layers_grad.c:
 *  1. forward vs the double reference (FWD_RTOL);
 *  2. every element of dx, dw, dbias vs central finite differences of the double reference
 *     on L = sum(g .* y), g a fixed random non-uniform upstream gradient (tests/fd.h);
 *  3. accumulate convention: a second backward doubles every gradient buffer;
 * for kernels k = 1, 3, 5, 9 (9 wider than the shortest real row: every boundary case),
 * and for the causal variant (h = k - 1) with k = 1, 2, 4, 9, where also no output depends
 * on a later input (bitwise),
 * with rows of 7, 4, 1 and 0 real tokens (padding at the end) and with mask NULL. Plus:
 *  - masked inputs do not matter (their values changed: y bit-identical) and get dx = 0;
 *  - a row's output at its real tokens does not depend on the padded length N (bitwise:
 *    the same sums in the same order), the property that lets a model trained at one
 *    length run at any other;
 *  - the OpenMP paths (a large call) equal one-row serial calls (forward, dx) and a
 *    one-thread run (dw, dbias) bit for bit.
 *
 * Tolerances as test_layers_grad.c: gradients |a - b| <= 1e-3 max(|b|, 1e-2 max|b|) (the FD
 * error ~1e-10 is negligible; float32 sums of <= 9 terms are good to ~1e-7), forward
 * |a - b| <= 1e-5 max(|b|, 0.1 max|b|), accumulate within 1e-6 of the tensor scale. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/rng.h"
#include "nn/conv1d.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/ref.h"

#define GRAD_RTOL 1e-3
#define GRAD_SCALE_FRAC 1e-2
#define FWD_RTOL 1e-5
#define FWD_SCALE_FRAC 0.1
#define ACC_RTOL 1e-6

enum { TB = 4, TN = 7, TC = 5, KMAX = 9 };
#define NX (TB * TN * TC)

/* |a - b| <= rtol * max(|b|, frac * max|b|, floor) for every element (tests/ref.h); prints
   the worst ratio */
static void check_vec(const char *what, const float *a, const double *b, size_t n, double rtol,
                      double frac, double floor_) {
    double worst = ref_check_vec(what, a, b, n, rtol, frac, floor_);
    printf("  %-34s worst |a-b|/max(|b|,scale) = %.2e (tol %.0e)\n", what, worst, rtol);
}

/* ---------------------------------------------------------------- double reference */

typedef struct {
    int k, causal;
    const uint8_t *mask; /* (TB, TN) or NULL */
    double x[NX], w[KMAX * TC], b[TC], g[NX], y[NX];
} Ctx;

static void ref_conv(Ctx *c) {
    const int h = c->causal ? c->k - 1 : (c->k - 1) / 2; /* taps before n */
    for (int b = 0; b < TB; b++)
        for (int n = 0; n < TN; n++)
            for (int ch = 0; ch < TC; ch++) {
                double s = c->b[ch];
                for (int j = 0; j < c->k; j++) {
                    int t = n + j - h;
                    if (t < 0 || t >= TN) continue;
                    double m = c->mask ? c->mask[b * TN + t] : 1.0;
                    s += c->w[j * TC + ch] * m * c->x[(b * TN + t) * TC + ch];
                }
                c->y[(b * TN + n) * TC + ch] = s;
            }
}

static double ref_loss(void *p) {
    Ctx *c = p;
    ref_conv(c);
    double s = 0;
    for (int i = 0; i < NX; i++) s += c->g[i] * c->y[i];
    return s;
}

/* rows of 7, 4, 1 and 0 real tokens */
static const uint8_t t_mask[TB * TN] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0,
                                        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

static void test_case(Rng *r, int k, const uint8_t *mask, int causal) {
    char tag[64];
    snprintf(tag, sizeof tag, "k=%d%s%s", k, causal ? " causal" : "", mask ? " masked" : "");
    printf("conv1d %s:\n", tag);
    float x[NX], w[KMAX * TC], b[TC], g[NX], y[NX], dx[NX], dw[KMAX * TC], db[TC];
    float dx1[NX], dw1[KMAX * TC], db1[TC];
    ref_fill_randn(r, x, NX, 0.3, 2.0, 0.1);
    ref_fill_randn(r, w, (size_t)k * TC, 0.3, 1.0, 0.0);
    ref_fill_randn(r, b, TC, 0.3, 1.0, 0.0);
    ref_fill_randn(r, g, NX, 0.3, 2.0, 0.1);
    static Ctx c;
    c.k = k, c.mask = mask, c.causal = causal;
    for (int i = 0; i < NX; i++) c.x[i] = x[i], c.g[i] = g[i];
    for (int i = 0; i < k * TC; i++) c.w[i] = w[i];
    for (int i = 0; i < TC; i++) c.b[i] = b[i];

    conv1d_dw_forward(y, x, mask, w, b, TB, TN, TC, k, causal);
    ref_conv(&c);
    char what[96];
    snprintf(what, sizeof what, "%s y", tag);
    check_vec(what, y, c.y, NX, FWD_RTOL, FWD_SCALE_FRAC, 1e-30);

    memset(dx, 0, sizeof dx), memset(dw, 0, sizeof dw), memset(db, 0, sizeof db);
    conv1d_dw_backward(dx, dw, db, g, x, mask, w, TB, TN, TC, k, causal);
    double fx[NX], fw[KMAX * TC], fb[TC];
    fd_grad(fx, c.x, NX, ref_loss, &c);
    fd_grad(fw, c.w, (size_t)k * TC, ref_loss, &c);
    fd_grad(fb, c.b, TC, ref_loss, &c);
    snprintf(what, sizeof what, "%s dx", tag);
    check_vec(what, dx, fx, NX, GRAD_RTOL, GRAD_SCALE_FRAC, 1e-8);
    snprintf(what, sizeof what, "%s dw", tag);
    check_vec(what, dw, fw, (size_t)k * TC, GRAD_RTOL, GRAD_SCALE_FRAC, 1e-8);
    snprintf(what, sizeof what, "%s dbias", tag);
    check_vec(what, db, fb, TC, GRAD_RTOL, GRAD_SCALE_FRAC, 1e-8);

    /* masked inputs: no gradient, and their values do not matter */
    if (mask) {
        int nz = 0;
        for (int i = 0; i < NX; i++) nz += !mask[i / TC] && dx[i] != 0.0f;
        CHECK(nz == 0, "%s: %d nonzero input gradients at masked tokens", tag, nz);
        float x2[NX], y2[NX];
        for (int i = 0; i < NX; i++) x2[i] = mask[i / TC] ? x[i] : 1e3f * (float)(i % 7 - 3);
        conv1d_dw_forward(y2, x2, mask, w, b, TB, TN, TC, k, causal);
        CHECK(memcmp(y, y2, sizeof y) == 0, "%s: masked input values changed the output", tag);
    }

    /* causal: no output depends on a later token (the inputs after position n changed:
       rows [0, n] bit-identical) */
    if (causal)
        for (int n = 0; n + 1 < TN; n++) {
            float x3[NX], y3[NX];
            memcpy(x3, x, sizeof x3);
            for (int i = 0; i < NX; i++)
                if ((i / TC) % TN > n) x3[i] += 1.0f + (float)(i % 5);
            conv1d_dw_forward(y3, x3, mask, w, b, TB, TN, TC, k, causal);
            int bad = 0;
            for (int i = 0; i < NX; i++)
                bad += (i / TC) % TN <= n && memcmp(&y3[i], &y[i], 4) != 0;
            CHECK(bad == 0, "%s: %d outputs at or before %d changed with later inputs", tag,
                  bad, n);
        }

    /* accumulate: a second call doubles every gradient */
    memcpy(dx1, dx, sizeof dx), memcpy(dw1, dw, sizeof dw), memcpy(db1, db, sizeof db);
    conv1d_dw_backward(dx, dw, db, g, x, mask, w, TB, TN, TC, k, causal);
    double d2x[NX], d2w[KMAX * TC], d2b[TC];
    for (int i = 0; i < NX; i++) d2x[i] = 2.0 * dx1[i];
    for (int i = 0; i < k * TC; i++) d2w[i] = 2.0 * dw1[i];
    for (int i = 0; i < TC; i++) d2b[i] = 2.0 * db1[i];
    snprintf(what, sizeof what, "%s accumulate dx", tag);
    check_vec(what, dx, d2x, NX, ACC_RTOL, 1.0, 1e-30);
    snprintf(what, sizeof what, "%s accumulate dw", tag);
    check_vec(what, dw, d2w, (size_t)k * TC, ACC_RTOL, 1.0, 1e-30);
    snprintf(what, sizeof what, "%s accumulate dbias", tag);
    check_vec(what, db, d2b, TC, ACC_RTOL, 1.0, 1e-30);

    /* NULL gradients are skipped: dx alone equals dx of the full call */
    float dxo[NX];
    memset(dxo, 0, sizeof dxo);
    conv1d_dw_backward(dxo, NULL, NULL, g, x, mask, w, TB, TN, TC, k, causal);
    CHECK(memcmp(dxo, dx1, sizeof dxo) == 0, "%s: dx alone differs", tag);
}

/* a row's outputs at its real tokens do not depend on the padded length */
static void test_length_invariance(Rng *r) {
    enum { L = 11, NBIG = 40, C = 6, K = 9 };
    float x[NBIG * C], w[K * C], b[C], ys[L * C], yb[NBIG * C];
    uint8_t mb[NBIG];
    ref_fill_randn(r, x, NBIG * C, 0.3, 2.0, 0.1);
    ref_fill_randn(r, w, K * C, 0.3, 1.0, 0.0);
    ref_fill_randn(r, b, C, 0.3, 1.0, 0.0);
    for (int n = 0; n < NBIG; n++) mb[n] = n < L;
    conv1d_dw_forward(ys, x, NULL, w, b, 1, L, C, K, 0);
    conv1d_dw_forward(yb, x, mb, w, b, 1, NBIG, C, K, 0);
    CHECK(memcmp(ys, yb, sizeof ys) == 0,
          "a row of %d real tokens padded to %d: outputs at its real tokens changed", L, NBIG);
}

/* large calls (OpenMP): rows equal one-row serial calls; dw/dbias equal a 1-thread run */
static void test_parallel_paths(Rng *r) {
    enum { PB = 3, PN = 300, PC = 70, PK = 9 };
    const size_t n = (size_t)PB * PN * PC;
    float *x = malloc(n * 4), *g = malloc(n * 4), *y = malloc(n * 4), *dx = calloc(n, 4);
    float *y1 = malloc(n * 4), *dx1 = calloc(n, 4);
    float w[PK * PC], b[PC], dw[PK * PC] = {0}, db[PC] = {0}, dw1[PK * PC] = {0}, db1[PC] = {0};
    uint8_t mask[PB * PN];
    ref_fill_randn(r, x, n, 0.3, 2.0, 0.1);
    ref_fill_randn(r, g, n, 0.3, 2.0, 0.1);
    ref_fill_randn(r, w, PK * PC, 0.3, 1.0, 0.0);
    ref_fill_randn(r, b, PC, 0.3, 1.0, 0.0);
    for (int i = 0; i < PB * PN; i++) mask[i] = (i % PN) < PN - 37 * (i / PN);
    conv1d_dw_forward(y, x, mask, w, b, PB, PN, PC, PK, 0);
    conv1d_dw_backward(dx, dw, db, g, x, mask, w, PB, PN, PC, PK, 0);
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    conv1d_dw_forward(y1, x, mask, w, b, PB, PN, PC, PK, 0);
    conv1d_dw_backward(dx1, dw1, db1, g, x, mask, w, PB, PN, PC, PK, 0);
#ifdef _OPENMP
    omp_set_num_threads(threads);
    printf("parallel paths: %d threads vs 1\n", threads);
#endif
    CHECK(memcmp(y, y1, n * 4) == 0, "conv1d forward: parallel differs from serial");
    CHECK(memcmp(dx, dx1, n * 4) == 0, "conv1d dx: parallel differs from serial");
    CHECK(memcmp(dw, dw1, sizeof dw) == 0 && memcmp(db, db1, sizeof db) == 0,
          "conv1d dw/dbias: parallel differs from serial");
    free(x), free(g), free(y), free(dx), free(y1), free(dx1);
}

int main(void) {
    Rng r;
    rng_init(&r, 20250601, 1);
    const int ks[] = {1, 3, 5, 9};
    for (int i = 0; i < 4; i++) {
        test_case(&r, ks[i], t_mask, 0);
        test_case(&r, ks[i], NULL, 0);
    }
    /* the causal variant (a decoder's positions), even widths included */
    const int kc[] = {1, 2, 4, 9};
    for (int i = 0; i < 4; i++) {
        test_case(&r, kc[i], t_mask, 1);
        test_case(&r, kc[i], NULL, 1);
    }
    test_length_invariance(&r);
    test_parallel_paths(&r);
    return check_exit("test_conv1d");
}
