/* test_layers_grad.c: forward and backward checks for the dense nn/ layers (linear,
 * layernorm, GELU, tanh, softmax with mask).
 *
 * Method, per layer:
 *  1. an independent naive double-precision reference forward (plain loops, no BLAS);
 *     the float forward must match it (FWD_RTOL);
 *  2. every backward against central finite differences on the double reference:
 *     L = sum(g .* y) with a fixed random non-uniform upstream gradient g, step h = 1e-5,
 *     for every input and parameter element;
 *  3. the accumulate convention: a second backward call doubles every gradient buffer.
 * Plus layer-specific checks: masked softmax, in-place forwards, and the parallel (OpenMP)
 * row paths of layernorm, softmax and GELU against the serial one. Embedding, dropout and
 * cross-entropy: test_index_layers_grad.c. Tolerances and their derivation:
 * layers_grad_util.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/rng.h"
#include "nn/activation.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/softmax.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/nn/layers_grad_util.h"
#include "tests/ref.h"

/* ---------------------------------------------------------------- linear */

typedef struct {
    double x[NM * NC], W[NOC * NC], b[NOC], g[NM * NOC], y[NM * NOC];
} LinCtx;

static double lin_loss(void *p) {
    LinCtx *c = p;
    ref_linear(c->y, c->x, c->W, c->b, NM, NC, NOC);
    return ref_dot(c->g, c->y, NM * NOC);
}

static void test_linear(Rng *r) {
    float x[NM * NC], W[NOC * NC], b[NOC], g[NM * NOC], y[NM * NOC];
    ref_fill_randn(r, x, NM * NC, 0.3, 2.0, 0.2);
    ref_fill_randn(r, W, NOC * NC, 0.1, 0.8, 0.0);
    ref_fill_randn(r, b, NOC, 0.5, 1.5, 0.0);
    ref_fill_randn(r, g, NM * NOC, 0.2, 1.5, 0.1);
    static LinCtx c;
    ref_to_double(c.x, x, NM * NC);
    ref_to_double(c.W, W, NOC * NC);
    ref_to_double(c.b, b, NOC);
    ref_to_double(c.g, g, NM * NOC);

    linear_forward(y, x, W, b, NM, NC, NOC);
    ref_linear(c.y, c.x, c.W, c.b, NM, NC, NOC);
    check_fwd("linear fwd", y, c.y, NM * NOC);
    linear_forward(y, x, W, NULL, NM, NC, NOC);
    ref_linear(c.y, c.x, c.W, NULL, NM, NC, NOC);
    check_fwd("linear fwd (no bias)", y, c.y, NM * NOC);

    float dx[NM * NC] = {0}, dW[NOC * NC] = {0}, db[NOC] = {0};
    linear_backward(dx, dW, db, g, x, W, NM, NC, NOC);
    double fx[NM * NC], fW[NOC * NC], fb[NOC];
    fd_grad(fx, c.x, NM * NC, lin_loss, &c);
    fd_grad(fW, c.W, NOC * NC, lin_loss, &c);
    fd_grad(fb, c.b, NOC, lin_loss, &c);
    check_grad("linear dinp", dx, fx, NM * NC);
    check_grad("linear dW", dW, fW, NOC * NC);
    check_grad("linear db", db, fb, NOC);

    float dx1[NM * NC], dW1[NOC * NC], db1[NOC];
    memcpy(dx1, dx, sizeof dx);
    memcpy(dW1, dW, sizeof dW);
    memcpy(db1, db, sizeof db);
    linear_backward(dx, dW, db, g, x, W, NM, NC, NOC);
    check_accum("linear dinp accum", dx, dx1, NM * NC);
    check_accum("linear dW accum", dW, dW1, NOC * NC);
    check_accum("linear db accum", db, db1, NOC);

    /* NULL gradient buffers are skipped */
    float dx3[NM * NC] = {0};
    linear_backward(dx3, NULL, NULL, g, x, W, NM, NC, NOC);
    for (int i = 0; i < NM * NC; i++)
        CHECK(dx3[i] == dx1[i], "linear dinp-only [%d] %g vs %g", i, dx3[i], dx1[i]);

    CHECK(linear_flops(NM, NC, NOC) == 2 * NM * NC * NOC, "linear_flops");
    CHECK(linear_bias_flops(NM, NOC) == NM * NOC, "linear_bias_flops");
}

/* ---------------------------------------------------------------- layernorm */

#define LN_EPS 1e-5f

typedef struct {
    double x[NM * NC], w[NC], b[NC], g[NM * NC], y[NM * NC];
    double eps;
} LnCtx;

static double ln_loss(void *p) {
    LnCtx *c = p;
    ref_layernorm(c->y, c->x, c->w, c->b, NM, NC, c->eps);
    return ref_dot(c->g, c->y, NM * NC);
}

static void test_layernorm(Rng *r) {
    float x[NM * NC], w[NC], b[NC], g[NM * NC], y[NM * NC], mean[NM], rstd[NM];
    /* rows with different offsets and spreads (never constant: var > 0) */
    for (int m = 0; m < NM; m++)
        ref_fill_randn(r, x + m * NC, NC, 0.2 + 0.6 * m, 0.5 + 0.8 * m, -1.0 + 0.7 * m);
    ref_fill_randn(r, w, NC, 0.3, 1.2, 1.0);
    ref_fill_randn(r, b, NC, 0.2, 0.8, 0.0);
    ref_fill_randn(r, g, NM * NC, 0.2, 1.5, 0.1);
    static LnCtx c;
    ref_to_double(c.x, x, NM * NC);
    ref_to_double(c.w, w, NC);
    ref_to_double(c.b, b, NC);
    ref_to_double(c.g, g, NM * NC);

    /* BERT's eps forward */
    layernorm_forward(y, mean, rstd, x, w, b, NM, NC, 1e-12f);
    ref_layernorm(c.y, c.x, c.w, c.b, NM, NC, (double)1e-12f);
    check_fwd("layernorm fwd eps=1e-12", y, c.y, NM * NC);

    c.eps = (double)LN_EPS;
    layernorm_forward(y, mean, rstd, x, w, b, NM, NC, LN_EPS);
    ref_layernorm(c.y, c.x, c.w, c.b, NM, NC, c.eps);
    check_fwd("layernorm fwd", y, c.y, NM * NC);
    for (int m = 0; m < NM; m++) {
        double mu = 0.0, var = 0.0;
        for (int k = 0; k < NC; k++) mu += c.x[m * NC + k];
        mu /= NC;
        for (int k = 0; k < NC; k++) var += (c.x[m * NC + k] - mu) * (c.x[m * NC + k] - mu);
        var /= NC;
        CHECK_CLOSE(mean[m], mu, 1e-6, 1e-6, "layernorm mean cache");
        CHECK_CLOSE(rstd[m], 1.0 / sqrt(var + c.eps), 1e-6, 0, "layernorm rstd cache");
    }

    float dx[NM * NC] = {0}, dw[NC] = {0}, db[NC] = {0};
    layernorm_backward(dx, dw, db, g, x, w, mean, rstd, NM, NC);
    double fx[NM * NC], fw[NC], fb[NC];
    fd_grad(fx, c.x, NM * NC, ln_loss, &c);
    fd_grad(fw, c.w, NC, ln_loss, &c);
    fd_grad(fb, c.b, NC, ln_loss, &c);
    check_grad("layernorm dinp", dx, fx, NM * NC);
    check_grad("layernorm dw", dw, fw, NC);
    check_grad("layernorm db", db, fb, NC);

    float dx1[NM * NC], dw1[NC], db1[NC];
    memcpy(dx1, dx, sizeof dx);
    memcpy(dw1, dw, sizeof dw);
    memcpy(db1, db, sizeof db);
    layernorm_backward(dx, dw, db, g, x, w, mean, rstd, NM, NC);
    check_accum("layernorm dinp accum", dx, dx1, NM * NC);
    check_accum("layernorm dw accum", dw, dw1, NC);
    check_accum("layernorm db accum", db, db1, NC);
}

/* ---------------------------------------------------------------- GELU, tanh */

typedef struct {
    double x[NACT], g[NACT], y[NACT];
    int kind; /* 0 gelu, 1 tanh, 2 gelu_tanh (GPT-2's gelu_new) */
} ActCtx;

static void ref_act(double *y, const double *x, int kind) {
    for (int i = 0; i < NACT; i++) {
        const double u = sqrt(2.0 / M_PI) * (x[i] + 0.044715 * x[i] * x[i] * x[i]);
        y[i] = kind == 0   ? 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)))
               : kind == 1 ? tanh(x[i])
                           : 0.5 * x[i] * (1.0 + tanh(u));
    }
}

static void act_fwd(int kind, float *y, const float *x) {
    if (kind == 0) gelu_forward(y, x, NACT);
    else if (kind == 1) tanh_forward(y, x, NACT);
    else gelu_tanh_forward(y, x, NACT);
}

static void act_bwd(int kind, float *dx, const float *g, const float *x, const float *y) {
    if (kind == 0) gelu_backward(dx, g, x, NACT);
    else if (kind == 1) tanh_backward(dx, g, y, NACT);
    else gelu_tanh_backward(dx, g, x, NACT);
}

static double act_loss(void *p) {
    ActCtx *c = p;
    ref_act(c->y, c->x, c->kind);
    return ref_dot(c->g, c->y, NACT);
}

static void test_activation(Rng *r, int kind) {
    const char *nm = kind == 0 ? "gelu" : kind == 1 ? "tanh" : "gelu_tanh";
    char what[64];
    float x[NACT], g[NACT], y[NACT];
    ref_fill_randn(r, x, NACT, 0.3, 2.5, 0.1);
    ref_fill_randn(r, g, NACT, 0.2, 1.5, 0.1);
    static ActCtx c;
    c.kind = kind;
    ref_to_double(c.x, x, NACT);
    ref_to_double(c.g, g, NACT);

    act_fwd(kind, y, x);
    ref_act(c.y, c.x, kind);
    snprintf(what, sizeof what, "%s fwd", nm);
    check_fwd(what, y, c.y, NACT);

    float dx[NACT] = {0};
    act_bwd(kind, dx, g, x, y);
    double fx[NACT];
    fd_grad(fx, c.x, NACT, act_loss, &c);
    snprintf(what, sizeof what, "%s dinp", nm);
    check_grad(what, dx, fx, NACT);

    float dx1[NACT];
    memcpy(dx1, dx, sizeof dx);
    act_bwd(kind, dx, g, x, y);
    snprintf(what, sizeof what, "%s dinp accum", nm);
    check_accum(what, dx, dx1, NACT);

    /* in place forward gives the same values */
    float z[NACT];
    memcpy(z, x, sizeof z);
    act_fwd(kind, z, z);
    CHECK(memcmp(z, y, sizeof z) == 0, "%s in-place forward differs", nm);
}

/* GELU over a dense grid of [-12, 12] against double erf: absolute error at most 5e-7
   (|y| up to 12: a few float ulps), relative error at most 3e-6 wherever |y| > 1e-6 |x|
   (the negative tail included, where 1 + erf(x / sqrt 2) would cancel) */
static void test_gelu_accuracy(void) {
    enum { NG = 1 << 18 };
    float *x = malloc(sizeof(float) * NG), *y = malloc(sizeof(float) * NG);
    for (int i = 0; i < NG; i++) x[i] = (float)(-12.0 + 24.0 * i / (NG - 1));
    gelu_forward(y, x, NG);
    double worst_abs = 0, worst_rel = 0;
    for (int i = 0; i < NG; i++) {
        const double v = x[i], g = 0.5 * v * erfc(-v / sqrt(2.0)), d = fabs(y[i] - g);
        worst_abs = d > worst_abs ? d : worst_abs;
        if (fabs(g) > 1e-6 * fabs(v) && d / fabs(g) > worst_rel) worst_rel = d / fabs(g);
    }
    printf("gelu vs double erf on [-12, 12]: max abs err %.3g, max rel err %.3g\n", worst_abs,
           worst_rel);
    CHECK(worst_abs <= 5e-7, "gelu abs err %g", worst_abs);
    CHECK(worst_rel <= 3e-6, "gelu rel err %g", worst_rel);
    free(x), free(y);
}

/* ---------------------------------------------------------------- softmax */

#define SR 6 /* rows */
#define SC NC
#define SG 3 /* rows per mask group: 2 mask rows */

typedef struct {
    double x[SR * SC], g[SR * SC], y[SR * SC];
    const uint8_t *mask; /* (SR / SG, SC) or NULL */
} SmCtx;

static void ref_softmax(double *y, const double *x, const uint8_t *mask) {
    for (int rr = 0; rr < SR; rr++) {
        const uint8_t *mk = mask ? mask + (rr / SG) * SC : NULL;
        double mx = -INFINITY, s = 0.0;
        for (int j = 0; j < SC; j++)
            if (!mk || mk[j]) mx = fmax(mx, x[rr * SC + j]);
        for (int j = 0; j < SC; j++)
            if (!mk || mk[j]) s += exp(x[rr * SC + j] - mx);
        for (int j = 0; j < SC; j++)
            y[rr * SC + j] = (mk && !mk[j]) || s == 0.0 ? 0.0 : exp(x[rr * SC + j] - mx) / s;
    }
}

static double sm_loss(void *p) {
    SmCtx *c = p;
    ref_softmax(c->y, c->x, c->mask);
    return ref_dot(c->g, c->y, SR * SC);
}

static void test_softmax_case(Rng *r, const uint8_t *mask, const char *nm) {
    char what[96];
    float x[SR * SC], g[SR * SC], y[SR * SC];
    static SmCtx c;
    c.mask = mask;
    fill_xg(r, x, c.x, SR * SC, g, c.g, SR * SC);

    softmax_forward(y, x, mask, SR, SC, SG);
    ref_softmax(c.y, c.x, mask);
    snprintf(what, sizeof what, "softmax%s fwd", nm);
    check_fwd(what, y, c.y, SR * SC);

    float dx[SR * SC] = {0};
    softmax_backward(dx, g, y, SR, SC);
    double fx[SR * SC];
    fd_grad(fx, c.x, SR * SC, sm_loss, &c);
    snprintf(what, sizeof what, "softmax%s dinp", nm);
    check_grad(what, dx, fx, SR * SC);

    if (mask) {
        for (int rr = 0; rr < SR; rr++) {
            const uint8_t *mk = mask + (rr / SG) * SC;
            int kept = 0;
            double s = 0.0;
            for (int j = 0; j < SC; j++) {
                kept += mk[j];
                s += y[rr * SC + j];
                if (!mk[j]) {
                    CHECK(y[rr * SC + j] == 0.0f, "masked prob [%d][%d] = %g", rr, j,
                          y[rr * SC + j]);
                    CHECK(dx[rr * SC + j] == 0.0f, "masked grad [%d][%d] = %g", rr, j,
                          dx[rr * SC + j]);
                }
            }
            if (kept)
                CHECK_CLOSE(s, 1.0, 0, 1e-6, "masked softmax row sum");
            else
                CHECK(s == 0.0, "all-masked row %d sums to %g", rr, s);
        }
    }

    float dx1[SR * SC];
    memcpy(dx1, dx, sizeof dx);
    softmax_backward(dx, g, y, SR, SC);
    snprintf(what, sizeof what, "softmax%s dinp accum", nm);
    check_accum(what, dx, dx1, SR * SC);

    /* in place forward */
    float z[SR * SC];
    memcpy(z, x, sizeof z);
    softmax_forward(z, z, mask, SR, SC, SG);
    CHECK(memcmp(z, y, sizeof z) == 0, "softmax%s in-place forward differs", nm);
}

static void test_softmax(Rng *r) {
    test_softmax_case(r, NULL, "");
    /* group 0: columns 1, 4, 6 masked; group 1: every column masked */
    static const uint8_t mask[2 * SC] = {1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    test_softmax_case(r, mask, " masked");

    /* large logits: stable (no overflow) */
    float big[SC], yb[SC];
    for (int j = 0; j < SC; j++) big[j] = 1000.0f + (float)j;
    softmax_forward(yb, big, NULL, 1, SC, 1);
    double s = 0.0;
    for (int j = 0; j < SC; j++) s += yb[j];
    CHECK(isfinite(s) && fabs(s - 1.0) < 1e-6, "softmax of large logits sums to %g", s);
}

/* ---------------------------------------------------------------- parallel row paths */

/* Large calls take the OpenMP path; each row must equal a one-row (serial) call exactly. */
static void test_parallel_paths(Rng *r) {
    enum { PM = 2048, PC = 40 };
    static float x[PM * PC], y[PM * PC], y1[PC], g[PM * PC], dx[PM * PC], dx1[PC];
    static float w[PC], b[PC], mean[PM], rstd[PM];
    static uint8_t mask[(PM / 16) * PC];
    ref_fill_randn(r, x, PM * PC, 0.3, 2.0, 0.1);
    ref_fill_randn(r, g, PM * PC, 0.3, 2.0, 0.1);
    ref_fill_randn(r, w, PC, 0.3, 1.0, 1.0);
    ref_fill_randn(r, b, PC, 0.3, 1.0, 0.0);
    for (size_t i = 0; i < sizeof mask; i++) mask[i] = rng_uniform(r) < 0.7;
    for (int j = 0; j < PC; j++) mask[3 * PC + j] = 0; /* an all-masked group */

    int ok = 1;
    layernorm_forward(y, mean, rstd, x, w, b, PM, PC, 1e-12f);
    memset(dx, 0, sizeof dx);
    layernorm_backward(dx, NULL, NULL, g, x, w, mean, rstd, PM, PC);
    for (int m = 0; m < PM; m++) {
        float mu, rs;
        layernorm_forward(y1, &mu, &rs, x + m * PC, w, b, 1, PC, 1e-12f);
        memset(dx1, 0, sizeof dx1);
        layernorm_backward(dx1, NULL, NULL, g + m * PC, x + m * PC, w, &mu, &rs, 1, PC);
        ok &= memcmp(y1, y + m * PC, sizeof y1) == 0 && memcmp(dx1, dx + m * PC, sizeof dx1) == 0;
    }
    CHECK(ok, "layernorm parallel path differs from serial rows");

    ok = 1;
    softmax_forward(y, x, mask, PM, PC, 16);
    memset(dx, 0, sizeof dx);
    softmax_backward(dx, g, y, PM, PC);
    for (int m = 0; m < PM; m++) {
        softmax_forward(y1, x + m * PC, mask + (m / 16) * PC, 1, PC, 1);
        memset(dx1, 0, sizeof dx1);
        softmax_backward(dx1, g + m * PC, y1, 1, PC);
        ok &= memcmp(y1, y + m * PC, sizeof y1) == 0 && memcmp(dx1, dx + m * PC, sizeof dx1) == 0;
    }
    CHECK(ok, "softmax parallel path differs from serial rows");

    ok = 1;
    gelu_forward(y, x, (size_t)PM * PC);
    memset(dx, 0, sizeof dx);
    gelu_backward(dx, g, x, (size_t)PM * PC);
    for (int m = 0; m < PM; m++) {
        gelu_forward(y1, x + m * PC, PC);
        memset(dx1, 0, sizeof dx1);
        gelu_backward(dx1, g + m * PC, x + m * PC, PC);
        ok &= memcmp(y1, y + m * PC, sizeof y1) == 0 && memcmp(dx1, dx + m * PC, sizeof dx1) == 0;
    }
    CHECK(ok, "gelu parallel path differs from serial");
}

int main(void) {
    Rng r;
    rng_init(&r, 20240601, 1);
    test_linear(&r);
    test_layernorm(&r);
    test_activation(&r, 0);
    test_activation(&r, 1);
    test_activation(&r, 2);
    test_gelu_accuracy();
    test_softmax(&r);
    test_parallel_paths(&r);
    return check_exit("test_layers_grad");
}
