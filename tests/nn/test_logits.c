/* test_logits.c: nn/logits.h against closed forms and an independent long double reference:
 *   - two classes (a, b): log p_0 = -log(1 + e^(b - a)), the Bernoulli KL
 *     p log(p / q) + (1 - p) log((1 - p) / (1 - q)), the top probability 1 / (1 + e^-|a - b|);
 *   - extreme logits where a naive softmax overflows (e^1000 = inf) or underflows (e^-1000 = 0):
 *     lse(1000, -1000) = 1000, log-softmax (0, -2000), KL((1000, -1000) || (-1000, 1000)) =
 *     2000, and a KL whose q_1 = e^-200 / (1 + e^-200) is below any float (closed form
 *     100 - log 2 + log(1 + e^-200));
 *   - uniform logits: log p = -log K, top probability 1 / K, KL 0; KL(z || z) = 0 exactly;
 *     shift invariance KL(z || z + 64) ~ 0 (z + 64 exact in float);
 *   - 2000 random (K, zp, zq) against a naive long double sum (moderate logits, no shift);
 *   - argmax: the first maximum on ties, a NaN after class 0 never wins; margin by hand. */
#include <math.h>
#include <stdio.h>

#include "core/rng.h"
#include "nn/logits.h"
#include "tests/check.h"

#define KMAX 10

/* naive long double references (no max shift: only for moderate logits) */
static long double ref_lse(const float *z, int K) {
    long double s = 0;
    for (int k = 0; k < K; k++) s += expl((long double)z[k]);
    return logl(s);
}

static long double ref_kl(const float *zp, const float *zq, int K) {
    const long double lp = ref_lse(zp, K), lq = ref_lse(zq, K);
    long double kl = 0;
    for (int k = 0; k < K; k++) {
        const long double p = expl(zp[k] - lp), q = expl(zq[k] - lq);
        kl += p * logl(p / q);
    }
    return kl;
}

static void two_classes(void) {
    const float pairs[][2] = {{0, 0}, {2, -1}, {0.5f, 0.25f}, {-3, 4}, {10, 9.5f}};
    const int np = (int)(sizeof pairs / sizeof pairs[0]);
    for (int i = 0; i < np; i++) {
        const double a = pairs[i][0], b = pairs[i][1];
        double lsm[2];
        /* z_k - lse loses the bits of |z| (cancellation): absolute error ~ 1e-16 |z| */
        const double tol = 2e-16 * (fabs(a) + fabs(b) + 1);
        logits_log_softmax(lsm, pairs[i], 2);
        CHECK_CLOSE(lsm[0], -log1p(exp(b - a)), 1e-15, tol, "two classes: log p_0");
        CHECK_CLOSE(lsm[1], -log1p(exp(a - b)), 1e-15, tol, "two classes: log p_1");
        CHECK_CLOSE(logits_top_prob(pairs[i], 2), 1 / (1 + exp(-fabs(a - b))), 1e-15, 0,
                    "two classes: top probability");
        CHECK(logits_argmax(pairs[i], 2) == (b > a), "two classes: argmax of (%g, %g)", a, b);
        for (int j = 0; j < np; j++) {
            const double p = 1 / (1 + exp(b - a));
            const double q = 1 / (1 + exp((double)pairs[j][1] - pairs[j][0]));
            const double want = p * log(p / q) + (1 - p) * log((1 - p) / (1 - q));
            CHECK_CLOSE(logits_kl(pairs[i], pairs[j], 2), want, 1e-12, 1e-16,
                        "two classes: Bernoulli KL");
        }
    }
}

static void extremes(void) {
    const float big[2] = {1000, -1000}, flip[2] = {-1000, 1000}, low[2] = {-1000, -1001};
    double lsm[2];
    /* e^1000 overflows a double: only the max shift gives these */
    CHECK(logits_logsumexp(big, 2) == 1000, "lse(1000, -1000) = %.17g", logits_logsumexp(big, 2));
    logits_log_softmax(lsm, big, 2);
    CHECK(lsm[0] == 0 && lsm[1] == -2000, "log-softmax (0, -2000): %g %g", lsm[0], lsm[1]);
    CHECK(logits_top_prob(big, 2) == 1, "top probability 1");
    CHECK(logits_kl(big, flip, 2) == 2000, "KL = 2000: %.17g", logits_kl(big, flip, 2));
    CHECK(logits_kl(flip, big, 2) == 2000, "KL = 2000 (reversed)");
    CHECK(logits_kl(big, big, 2) == 0, "KL of equal extremes");
    /* e^-1000 underflows to 0: a naive log-softmax would be -inf */
    logits_log_softmax(lsm, low, 2);
    CHECK_CLOSE(lsm[0], -log1p(exp(-1.0)), 0, 4e-13, "log p_0 of (-1000, -1001)");
    CHECK_CLOSE(lsm[1], -1 - log1p(exp(-1.0)), 0, 4e-13, "log p_1 of (-1000, -1001)");
    CHECK_CLOSE(logits_logsumexp(low, 2), -1000 + log1p(exp(-1.0)), 1e-16, 0, "lse(-1000, -1001)");
    /* q_1 = e^-200 / (1 + e^-200): zero as a float probability; the KL stays exact */
    const float half[2] = {0, 0}, tiny[2] = {0, -200};
    CHECK_CLOSE(logits_kl(half, tiny, 2), 100 - log(2.0) + log1p(exp(-200.0)), 1e-15, 0,
                "KL to a class of probability e^-200");
    CHECK_CLOSE(logits_kl(tiny, half, 2), log(2.0) - log1p(exp(-200.0)) - 200 * exp(-200.0),
                1e-15, 0, "KL from a class of probability e^-200");
}

static void uniform_and_shift(void) {
    for (int K = 1; K <= KMAX; K++) {
        float z[KMAX], w[KMAX];
        double lsm[KMAX];
        for (int k = 0; k < K; k++) z[k] = 3.5f, w[k] = -7.25f;
        logits_log_softmax(lsm, z, K);
        for (int k = 0; k < K; k++) CHECK_CLOSE(lsm[k], -log((double)K), 1e-15, 1e-16, "uniform");
        CHECK_CLOSE(logits_top_prob(z, K), 1.0 / K, 1e-15, 0, "uniform top probability");
        CHECK(logits_kl(z, w, K) < 1e-15, "uniform vs uniform: %g", logits_kl(z, w, K));
        CHECK(logits_argmax(z, K) == 0, "uniform: argmax is class 0");
    }
    Rng r;
    rng_init(&r, 5, 1);
    for (int t = 0; t < 200; t++) {
        const int K = 2 + (int)rng_below(&r, KMAX - 1);
        float z[KMAX], s[KMAX];
        /* multiples of 2^-10 in (-64, 64): z + 64 is exact in float */
        for (int k = 0; k < K; k++) {
            z[k] = (float)(round(fmin(fmax(4 * rng_normal(&r), -63), 63) * 1024) / 1024);
            s[k] = z[k] + 64;
        }
        CHECK(logits_kl(z, z, K) == 0, "KL(z || z) = 0 exactly");
        CHECK(logits_kl(z, s, K) < 1e-13, "shift invariance: %g", logits_kl(z, s, K));
    }
}

static void random_reference(void) {
    Rng r;
    rng_init(&r, 7, 2);
    double worst = 0;
    for (int t = 0; t < 2000; t++) {
        const int K = 2 + (int)rng_below(&r, KMAX - 1);
        float zp[KMAX], zq[KMAX];
        double lsm[KMAX], psum = 0;
        for (int k = 0; k < K; k++)
            zp[k] = (float)(3 * rng_normal(&r)), zq[k] = zp[k] + (float)(rng_normal(&r) * (t % 4));
        const long double lse = ref_lse(zp, K);
        CHECK_CLOSE(logits_logsumexp(zp, K), (double)lse, 1e-15, 1e-15, "random lse");
        logits_log_softmax(lsm, zp, K);
        for (int k = 0; k < K; k++) psum += exp(lsm[k]);
        CHECK_CLOSE(psum, 1.0, 0, 1e-14, "softmax sums to 1");
        const double want = (double)ref_kl(zp, zq, K), got = logits_kl(zp, zq, K);
        CHECK(got >= 0, "KL >= 0");
        CHECK_CLOSE(got, want, 1e-10, 1e-15, "random KL vs long double");
        if (want > 1e-6 && fabs(got - want) / want > worst) worst = fabs(got - want) / want;
    }
    printf("random KL: worst relative error vs long double %.2e\n", worst);
}

static void argmax_and_margin(void) {
    CHECK(logits_argmax((const float[]){1, 3, 3}, 3) == 1, "ties: the first maximum");
    CHECK(logits_argmax((const float[]){3, 3, 1}, 3) == 0, "ties at class 0");
    CHECK(logits_argmax((const float[]){-2, -1, -1, -3}, 4) == 1, "negative logits");
    CHECK(logits_argmax((const float[]){-5}, 1) == 0, "one class");
    CHECK(logits_argmax((const float[]){1, NAN, 0.5f}, 3) == 0, "a NaN after class 0 never wins");
    CHECK(logits_argmax((const float[]){1, NAN, 2}, 3) == 2, "past a NaN");
    const float z[3] = {1, 4, 2};
    CHECK(logits_margin(z, 3, 1) == 2, "margin of the top class: 4 - 2");
    CHECK(logits_margin(z, 3, 0) == -3, "margin of class 0: 1 - 4");
    CHECK(logits_margin(z, 3, 2) == -2, "margin of class 2: 2 - 4");
    CHECK(isinf(logits_margin(z, 1, 0)) && logits_margin(z, 1, 0) > 0, "one class: +inf");
}

int main(void) {
    two_classes();
    extremes();
    uniform_and_shift();
    random_reference();
    argmax_and_margin();
    return check_exit("test_logits");
}
