/* test_layers_grad.c: forward and backward checks for the nn/ layers (linear, layernorm,
 * GELU, tanh, softmax with mask, embedding, dropout, cross-entropy).
 *
 * Method, per layer:
 *  1. an independent naive double-precision reference forward (plain loops, no BLAS);
 *     the float forward must match it (FWD_RTOL below);
 *  2. every backward against central finite differences on the double reference:
 *     L = sum(g .* y) with a fixed random non-uniform upstream gradient g, step h = 1e-5,
 *     for every input and parameter element;
 *  3. the accumulate convention: a second backward call doubles every gradient buffer.
 * Plus layer-specific checks: masked softmax, ignored cross-entropy targets, dropout
 * statistics and determinism, embedding scatter-add with repeated ids, and the parallel
 * (OpenMP) row paths against the serial one.
 *
 * Tolerances:
 *  - gradients: |a - b| <= 1e-3 * max(|b|, scale), scale = 1e-2 * max_j |b_j| over the
 *    tensor. b is the double FD gradient: its error is ~h^2 f''' + eps_double |L| / h
 *    ~ 1e-10, negligible. a is computed in float32: forward and backward each round at
 *    ~6e-8 relative to the magnitudes involved (not to the result, which can be a small
 *    difference of O(1) terms as in layernorm's dinp), hence the floor relative to the
 *    tensor's largest gradient. 1e-3 leaves a wide margin over the ~1e-6 actually seen while
 *    still catching any wrong formula (those are off by O(1)).
 *  - forward: |a - b| <= 1e-5 * max(|b|, 0.1 * max_j |b_j|) (float rounding of short sums).
 *  - accumulate: second call minus 2 x first within 1e-6 of the tensor scale (the same
 *    float computation is added twice). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/rng.h"
#include "nn/activation.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/softmax.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/ref.h"

#define NM 5  /* rows */
#define NC 7  /* input features / classes */
#define NOC 6 /* output features */
#define NV 6  /* embedding vocabulary */
#define NE 9  /* embedding lookups */

#define GRAD_RTOL 1e-3
#define GRAD_SCALE_FRAC 1e-2
#define FWD_RTOL 1e-5
#define FWD_SCALE_FRAC 0.1
#define ACC_RTOL 1e-6

/* ---------------------------------------------------------------- helpers */

/* |a - b| <= rtol * max(|b|, frac * max|b|, floor) for every element (tests/ref.h); the worst
   ratio printed with DRRL_TEST_VERBOSE set */
static void check_vec(const char *what, const float *a, const double *b, size_t n, double rtol,
                      double frac, double floor_) {
    double worst = ref_check_vec(what, a, b, n, rtol, frac, floor_);
    if (getenv("DRRL_TEST_VERBOSE"))
        printf("  %-28s worst |a-b|/max(|b|,scale) = %.2e (tol %.0e)\n", what, worst, rtol);
}

static void check_fwd(const char *what, const float *a, const double *b, size_t n) {
    check_vec(what, a, b, n, FWD_RTOL, FWD_SCALE_FRAC, 1e-30);
}

static void check_grad(const char *what, const float *a, const double *b, size_t n) {
    check_vec(what, a, b, n, GRAD_RTOL, GRAD_SCALE_FRAC, 1e-8);
}

/* after a second backward call: grad2 == 2 * grad1 */
static void check_accum(const char *what, const float *g2, const float *g1, size_t n) {
    double d[1024];
    for (size_t i = 0; i < n; i++) d[i] = 2.0 * g1[i];
    check_vec(what, g2, d, n, ACC_RTOL, 1.0, 1e-30);
}

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

#define NACT (NM * NC)

typedef struct {
    double x[NACT], g[NACT], y[NACT];
    int kind; /* 0 gelu, 1 tanh */
} ActCtx;

static void ref_act(double *y, const double *x, int kind) {
    for (int i = 0; i < NACT; i++)
        y[i] = kind == 0 ? 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))) : tanh(x[i]);
}

static double act_loss(void *p) {
    ActCtx *c = p;
    ref_act(c->y, c->x, c->kind);
    return ref_dot(c->g, c->y, NACT);
}

static void test_activation(Rng *r, int kind) {
    const char *nm = kind == 0 ? "gelu" : "tanh";
    char what[64];
    float x[NACT], g[NACT], y[NACT];
    ref_fill_randn(r, x, NACT, 0.3, 2.5, 0.1);
    ref_fill_randn(r, g, NACT, 0.2, 1.5, 0.1);
    static ActCtx c;
    c.kind = kind;
    ref_to_double(c.x, x, NACT);
    ref_to_double(c.g, g, NACT);

    if (kind == 0)
        gelu_forward(y, x, NACT);
    else
        tanh_forward(y, x, NACT);
    ref_act(c.y, c.x, kind);
    snprintf(what, sizeof what, "%s fwd", nm);
    check_fwd(what, y, c.y, NACT);

    float dx[NACT] = {0};
    if (kind == 0)
        gelu_backward(dx, g, x, NACT);
    else
        tanh_backward(dx, g, y, NACT);
    double fx[NACT];
    fd_grad(fx, c.x, NACT, act_loss, &c);
    snprintf(what, sizeof what, "%s dinp", nm);
    check_grad(what, dx, fx, NACT);

    float dx1[NACT];
    memcpy(dx1, dx, sizeof dx);
    if (kind == 0)
        gelu_backward(dx, g, x, NACT);
    else
        tanh_backward(dx, g, y, NACT);
    snprintf(what, sizeof what, "%s dinp accum", nm);
    check_accum(what, dx, dx1, NACT);

    /* in place forward gives the same values */
    float z[NACT];
    memcpy(z, x, sizeof z);
    if (kind == 0)
        gelu_forward(z, z, NACT);
    else
        tanh_forward(z, z, NACT);
    CHECK(memcmp(z, y, sizeof z) == 0, "%s in-place forward differs", nm);
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
    ref_fill_randn(r, x, SR * SC, 0.3, 2.0, 0.0);
    ref_fill_randn(r, g, SR * SC, 0.2, 1.5, 0.1);
    static SmCtx c;
    c.mask = mask;
    ref_to_double(c.x, x, SR * SC);
    ref_to_double(c.g, g, SR * SC);

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

/* ---------------------------------------------------------------- embedding */

typedef struct {
    double table[NV * NC], g[NE * NC], y[NE * NC];
    const int32_t *ids;
} EmbCtx;

static void ref_embedding(double *y, const int32_t *ids, const double *table) {
    for (int i = 0; i < NE; i++)
        for (int c = 0; c < NC; c++) y[i * NC + c] = table[ids[i] * NC + c];
}

static double emb_loss(void *p) {
    EmbCtx *c = p;
    ref_embedding(c->y, c->ids, c->table);
    return ref_dot(c->g, c->y, NE * NC);
}

static void test_embedding(Rng *r) {
    /* id 2 three times, id 0 twice, id 5 never */
    static const int32_t ids[NE] = {2, 0, 3, 2, 1, 0, 4, 2, 3};
    float table[NV * NC], g[NE * NC], y[NE * NC];
    ref_fill_randn(r, table, NV * NC, 0.3, 2.0, 0.0);
    ref_fill_randn(r, g, NE * NC, 0.2, 1.5, 0.1);
    static EmbCtx c;
    c.ids = ids;
    ref_to_double(c.table, table, NV * NC);
    ref_to_double(c.g, g, NE * NC);

    embedding_forward(y, ids, table, NE, NV, NC);
    ref_embedding(c.y, ids, c.table);
    int exact = 1;
    for (int i = 0; i < NE * NC; i++) exact &= (double)y[i] == c.y[i];
    CHECK(exact, "embedding forward is not an exact gather");

    float dt[NV * NC] = {0};
    embedding_backward(dt, g, ids, NE, NV, NC);
    double ft[NV * NC];
    fd_grad(ft, c.table, NV * NC, emb_loss, &c);
    check_grad("embedding dtable", dt, ft, NV * NC);
    for (int k = 0; k < NC; k++) {
        CHECK(dt[5 * NC + k] == 0.0f, "unused id 5 got gradient %g", dt[5 * NC + k]);
        /* id 2 at positions 0, 3, 7: sum in the same order as the scatter */
        float s = 0.0f;
        s += g[0 * NC + k];
        s += g[3 * NC + k];
        s += g[7 * NC + k];
        CHECK(dt[2 * NC + k] == s, "repeated id 2 scatter-add %g vs %g", dt[2 * NC + k], s);
    }

    float dt1[NV * NC];
    memcpy(dt1, dt, sizeof dt);
    embedding_backward(dt, g, ids, NE, NV, NC);
    check_accum("embedding dtable accum", dt, dt1, NV * NC);
}

/* ---------------------------------------------------------------- dropout */

#define DN 100000
#define DP 0.3f

typedef struct {
    double x[NACT], g[NACT], y[NACT];
    const uint8_t *mask;
    double scale;
} DropCtx;

static double drop_loss(void *p) {
    DropCtx *c = p;
    for (int i = 0; i < NACT; i++) c->y[i] = c->mask[i] ? c->x[i] * c->scale : 0.0;
    return ref_dot(c->g, c->y, NACT);
}

static void test_dropout(Rng *r) {
    static float x[DN], y[DN], y2[DN], dx[DN], g[DN];
    static uint8_t mask[DN], mask2[DN];
    ref_fill_randn(r, x, DN, 0.3, 2.0, 0.1);
    ref_fill_randn(r, g, DN, 0.2, 1.5, 0.1);

    Rng d1, d2;
    rng_init(&d1, 1234, 7);
    rng_init(&d2, 1234, 7);
    dropout_forward(y, mask, x, DP, 1, &d1, DN);
    dropout_forward(y2, mask2, x, DP, 1, &d2, DN);
    CHECK(memcmp(mask, mask2, DN) == 0 && memcmp(y, y2, sizeof y) == 0,
          "same seed gives a different mask");
    dropout_forward(y2, mask2, x, DP, 1, &d1, DN); /* the stream moved on */
    CHECK(memcmp(mask, mask2, DN) != 0, "the Rng was not consumed");

    /* keep fraction within 4 standard errors of 1 - p */
    size_t kept = 0;
    int vals_ok = 1, zero_ok = 1;
    double scale = 1.0 / (1.0 - (double)DP);
    for (size_t i = 0; i < DN; i++) {
        if (mask[i]) {
            kept++;
            vals_ok &= fabs((double)y[i] - x[i] * scale) <= 1e-6 * fabs(x[i] * scale);
        } else {
            zero_ok &= y[i] == 0.0f;
        }
        vals_ok &= mask[i] == DROPOUT_KEEP || mask[i] == DROPOUT_DROP;
    }
    double frac = (double)kept / DN, q = 1.0 - (double)DP;
    double se = sqrt(q * (1.0 - q) / DN);
    CHECK(fabs(frac - q) <= 4.0 * se, "keep fraction %g, expected %g +- %g", frac, q, 4 * se);
    CHECK(vals_ok, "kept values not scaled by 1/(1-p) (or mask not 0/1)");
    CHECK(zero_ok, "dropped values not zero");

    /* backward reuses the mask: dinp = dout * mask / (1 - p) */
    memset(dx, 0, sizeof dx);
    dropout_backward(dx, g, mask, DP, DN);
    int bw_ok = 1;
    for (size_t i = 0; i < DN; i++) {
        double want = mask[i] ? g[i] * scale : 0.0;
        bw_ok &= fabs((double)dx[i] - want) <= 1e-6 * fabs(want);
    }
    CHECK(bw_ok, "dropout backward does not follow the mask");

    /* FD on a small slice, with the mask fixed (dropout is then linear in x) */
    static DropCtx c;
    c.mask = mask;
    c.scale = scale;
    ref_to_double(c.x, x, NACT);
    ref_to_double(c.g, g, NACT);
    double fx[NACT];
    fd_grad(fx, c.x, NACT, drop_loss, &c);
    float dxs[NACT] = {0};
    dropout_backward(dxs, g, mask, DP, NACT);
    check_grad("dropout dinp", dxs, fx, NACT);
    float dxs1[NACT];
    memcpy(dxs1, dxs, sizeof dxs);
    dropout_backward(dxs, g, mask, DP, NACT);
    check_accum("dropout dinp accum", dxs, dxs1, NACT);

    /* eval mode and p = 0: identity, pass-through mask, Rng untouched */
    uint64_t s0[RNG_STATE_WORDS], s1[RNG_STATE_WORDS];
    rng_save(&d1, s0);
    dropout_forward(y2, mask2, x, DP, 0, &d1, DN);
    CHECK(memcmp(y2, x, sizeof y2) == 0, "eval-mode dropout is not the identity");
    memset(dx, 0, sizeof dx);
    dropout_backward(dx, g, mask2, DP, DN); /* eval mask + the training p: still identity */
    CHECK(memcmp(dx, g, sizeof dx) == 0, "eval-mode dropout backward is not the identity");
    dropout_forward(y2, mask2, x, 0.0f, 1, &d1, DN);
    CHECK(memcmp(y2, x, sizeof y2) == 0, "p=0 dropout is not the identity");
    int ones = 1;
    for (size_t i = 0; i < DN; i++) ones &= mask2[i] == DROPOUT_PASS;
    CHECK(ones, "identity dropout mask not all DROPOUT_PASS");
    rng_save(&d1, s1);
    CHECK(memcmp(s0, s1, sizeof s0) == 0, "identity dropout consumed random numbers");
    memset(dx, 0, sizeof dx);
    dropout_backward(dx, g, mask2, 0.0f, DN);
    CHECK(memcmp(dx, g, sizeof dx) == 0, "p=0 dropout backward is not the identity");
}

/* ---------------------------------------------------------------- cross-entropy */

#define CB NM
#define CCL NC
#define CE_DLOSS 0.7

typedef struct {
    double z[CB * CCL], probs[CB * CCL], losses[CB];
    const int32_t *t;
} CeCtx;

/* returns the mean over non-ignored rows */
static double ref_ce(CeCtx *c) {
    double tot = 0.0;
    int valid = 0;
    for (int b = 0; b < CB; b++) {
        const double *z = c->z + b * CCL;
        double mx = z[0], s = 0.0;
        for (int k = 1; k < CCL; k++) mx = fmax(mx, z[k]);
        for (int k = 0; k < CCL; k++) s += exp(z[k] - mx);
        for (int k = 0; k < CCL; k++) c->probs[b * CCL + k] = exp(z[k] - mx) / s;
        if (c->t[b] < 0) {
            c->losses[b] = 0.0;
            continue;
        }
        c->losses[b] = mx + log(s) - z[c->t[b]];
        tot += c->losses[b];
        valid++;
    }
    return valid ? tot / valid : 0.0;
}

static double ce_loss(void *p) { return CE_DLOSS * ref_ce(p); }

static void test_crossentropy(Rng *r) {
    static const int32_t t[CB] = {3, CE_IGNORE, 0, 6, 3};
    float z[CB * CCL], probs[CB * CCL], losses[CB];
    ref_fill_randn(r, z, CB * CCL, 0.5, 3.0, 0.0);
    static CeCtx c;
    c.t = t;
    ref_to_double(c.z, z, CB * CCL);

    float mean = crossentropy_forward(losses, probs, z, t, CB, CCL);
    double rmean = ref_ce(&c);
    check_fwd("ce probs", probs, c.probs, CB * CCL);
    check_fwd("ce losses", losses, c.losses, CB);
    CHECK_CLOSE(mean, rmean, 1e-5, 0, "ce mean loss");
    CHECK(losses[1] == 0.0f, "ignored row loss %g", losses[1]);

    float dz[CB * CCL] = {0};
    crossentropy_backward(dz, probs, t, (float)CE_DLOSS, CB, CCL);
    double fz[CB * CCL];
    fd_grad(fz, c.z, CB * CCL, ce_loss, &c);
    check_grad("ce dlogits", dz, fz, CB * CCL);
    for (int k = 0; k < CCL; k++)
        CHECK(dz[1 * CCL + k] == 0.0f, "ignored row gradient %g", dz[1 * CCL + k]);

    float dz1[CB * CCL];
    memcpy(dz1, dz, sizeof dz);
    crossentropy_backward(dz, probs, t, (float)CE_DLOSS, CB, CCL);
    check_accum("ce dlogits accum", dz, dz1, CB * CCL);

    /* numerically stable for huge logits */
    float big[CCL], pb[CCL], lb;
    int32_t tb = 2;
    for (int k = 0; k < CCL; k++) big[k] = 5000.0f + (float)k;
    float mb = crossentropy_forward(&lb, pb, big, &tb, 1, CCL);
    double s = 0.0;
    for (int k = 0; k < CCL; k++) s += exp((double)k - 6.0);
    CHECK(isfinite(mb) && fabs(mb - (6.0 + log(s) - 2.0)) < 1e-4, "ce large logits: %g", mb);

    /* all ignored: zero loss, no gradient */
    static const int32_t tall[2] = {CE_IGNORE, CE_IGNORE};
    float l2[2], dz2[2 * CCL] = {0};
    CHECK(crossentropy_forward(l2, probs, z, tall, 2, CCL) == 0.0f, "all-ignored mean");
    crossentropy_backward(dz2, probs, tall, 1.0f, 2, CCL);
    for (int k = 0; k < 2 * CCL; k++) CHECK(dz2[k] == 0.0f, "all-ignored gradient");
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
    test_softmax(&r);
    test_embedding(&r);
    test_dropout(&r);
    test_crossentropy(&r);
    test_parallel_paths(&r);
    return check_exit("test_layers_grad");
}
