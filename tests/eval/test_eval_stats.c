/* test_eval_stats.c: drrl-eval's statistics (eval/eval_stats.h) against closed forms:
 *   - McNemar's exact two-sided p: hand-worked values (2^(1-n) sum_{k<=min} C(n, k)), an
 *     exact integer reference for every b + c <= 60 (binomials in uint64), a long-double
 *     recurrence for large n (n = 880, 3000; 2^-3000 underflows a double), symmetry, and the
 *     continuity-corrected normal approximation at large n;
 *   - the type 7 quantile on small arrays;
 *   - the percentile bootstrap of an accuracy: the bootstrap distribution of a resample mean
 *     of n 0/1 flags with k ones is Binomial(n, k/n) / n, so with many resamples the interval
 *     matches that binomial's 2.5% / 97.5% quantiles to within a step or two of 1/n, and the
 *     mean of the resample means is k/n; degenerate flags give a point; seeds reproduce;
 *   - eval_compare on a hand-made example: accuracy, agreement, discordant pairs, KL and
 *     margin change against closed forms. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "eval/eval_stats.h"

/* exact: 2 sum_{k<=min(b,c)} C(n, k) / 2^n, capped at 1, for n <= 60 */
static double mcnemar_exact(int b, int c) {
    const int n = b + c, m = b < c ? b : c;
    if (!n) return 1.0;
    uint64_t C = 1, s = 0; /* C(n, k) exactly: C(n, k+1) = C(n, k) (n-k) / (k+1) */
    for (int k = 0; k <= m; k++) {
        s += C;
        C = C / (uint64_t)(k + 1) * (uint64_t)(n - k) +
            C % (uint64_t)(k + 1) * (uint64_t)(n - k) / (uint64_t)(k + 1);
    }
    const long double p = 2.0L * (long double)s / ldexpl(1.0L, n);
    return p < 1 ? (double)p : 1.0;
}

/* long-double recurrence: pmf(0) = 2^-n, pmf(k+1) = pmf(k) (n-k)/(k+1) */
static double mcnemar_ld(int b, int c) {
    const int n = b + c, m = b < c ? b : c;
    long double pmf = ldexpl(1.0L, -n), s = 0;
    for (int k = 0; k <= m; k++) {
        s += pmf;
        pmf = pmf * (n - k) / (k + 1);
    }
    return 2 * s < 1 ? (double)(2 * s) : 1.0;
}

static void test_mcnemar(void) {
    CHECK(eval_mcnemar_p(0, 0) == 1.0, "no discordant pairs: p = 1");
    CHECK_CLOSE(eval_mcnemar_p(0, 5), 2.0 / 32, 1e-12, 0, "b=0 c=5: 2/32");
    CHECK_CLOSE(eval_mcnemar_p(1, 9), 22.0 / 1024, 1e-12, 0, "b=1 c=9: 2 (1 + 10) / 1024");
    CHECK_CLOSE(eval_mcnemar_p(2, 8), 112.0 / 1024, 1e-12, 0, "b=2 c=8: 2 (1 + 10 + 45) / 1024");
    CHECK_CLOSE(eval_mcnemar_p(0, 10), 2.0 / 1024, 1e-12, 0, "b=0 c=10");
    CHECK(eval_mcnemar_p(5, 5) == 1.0, "b = c: p = 1");
    CHECK(eval_mcnemar_p(3, 4) == 1.0, "b=3 c=4: 2 * 64/128 = 1");
    CHECK(eval_mcnemar_p(0, 1) == 1.0, "b=0 c=1: 2 * 1/2 = 1");
    int bad = 0;
    for (int n = 0; n <= 60; n++)
        for (int b = 0; b <= n; b++) {
            const double p = eval_mcnemar_p(b, n - b), q = mcnemar_exact(b, n - b);
            if (fabs(p - q) > 1e-11 * q + 1e-300) {
                if (bad++ < 5) CHECK(0, "b=%d c=%d: %.17g vs exact %.17g", b, n - b, p, q);
            }
            if (p != eval_mcnemar_p(n - b, b)) bad++;
        }
    CHECK(bad == 0, "%d of the b + c <= 60 cases differ from the exact reference or are "
          "asymmetric", bad);
    const int big[][2] = {{400, 480}, {1450, 1550}, {0, 3000}, {10, 2990}, {1500, 1500}};
    for (int i = 0; i < 5; i++) {
        const double p = eval_mcnemar_p(big[i][0], big[i][1]), q = mcnemar_ld(big[i][0], big[i][1]);
        CHECK(fabs(p - q) <= 1e-9 * q + 1e-300, "b=%d c=%d: %.17g vs long-double %.17g",
              big[i][0], big[i][1], p, q);
    }
    /* normal approximation with continuity correction at large n (b=400, c=480) */
    const double z = (80.0 - 1) / sqrt(880.0), pn = erfc(z / sqrt(2.0));
    CHECK_CLOSE(eval_mcnemar_p(400, 480), pn, 0.03, 0, "b=400 c=480 vs the normal approximation");
    CHECK(eval_mcnemar_p(0, 3000) >= 0 && eval_mcnemar_p(0, 3000) < 1e-300,
          "b=0 c=3000: p = 2^-2999 (0 in double)");
}

static void test_quantile(void) {
    const double x[] = {1, 2, 3, 4};
    CHECK(eval_quantile(x, 4, 0) == 1 && eval_quantile(x, 4, 1) == 4, "ends");
    CHECK_CLOSE(eval_quantile(x, 4, 0.5), 2.5, 1e-15, 0, "median of 1..4");
    CHECK_CLOSE(eval_quantile(x, 4, 0.25), 1.75, 1e-15, 0, "q=0.25 (type 7)");
    const double y[] = {7};
    CHECK(eval_quantile(y, 1, 0.3) == 7, "one value");
}

/* the q-quantile of Binomial(n, p): smallest k with CDF(k) >= q */
static int binom_quantile(int n, double p, double q) {
    long double pmf = powl(1 - p, n), cdf = 0;
    for (int k = 0; k <= n; k++) {
        cdf += pmf;
        if (cdf >= q) return k;
        pmf = pmf * (n - k) / (k + 1) * p / (1 - p);
    }
    return n;
}

static void test_bootstrap(void) {
    enum { N = 872, K = 711 };
    uint8_t *x = malloc(N);
    for (int i = 0; i < N; i++) x[i] = (uint8_t)((i * 7919) % N < K); /* K ones, scattered */
    int k = 0;
    for (int i = 0; i < N; i++) k += x[i];
    CHECK(k == K, "flags: %d ones", k);
    double lo, hi, mean, lo2, hi2;
    Err e;
    err_clear(&e);
    const int R = 20000;
    CHECK(eval_bootstrap_ci(x, N, R, 0.95, 7, &lo, &hi, &mean, &e) == ST_OK, "%s", e.msg);
    const double ph = (double)K / N;
    const double ql = binom_quantile(N, ph, 0.025) / (double)N;
    const double qh = binom_quantile(N, ph, 0.975) / (double)N;
    CHECK(fabs(lo - ql) <= 2.0 / N, "ci_low %.5f vs Binomial quantile %.5f", lo, ql);
    CHECK(fabs(hi - qh) <= 2.0 / N, "ci_high %.5f vs Binomial quantile %.5f", hi, qh);
    CHECK(lo < ph && ph < hi, "the interval holds the accuracy");
    /* the mean of R resample means: k/n within 5 standard errors sqrt(p(1-p)/n/R) */
    CHECK(fabs(mean - ph) < 5 * sqrt(ph * (1 - ph) / N / R), "mean %.6f vs %.6f", mean, ph);
    /* normal approximation of the same interval (+- 1.96 sd) */
    const double sd = sqrt(ph * (1 - ph) / N);
    CHECK(fabs(lo - (ph - 1.96 * sd)) < 3.0 / N && fabs(hi - (ph + 1.96 * sd)) < 3.0 / N,
          "normal approximation [%.4f, %.4f] vs [%.4f, %.4f]", ph - 1.96 * sd, ph + 1.96 * sd,
          lo, hi);
    /* seeded: the same seed gives the same interval */
    eval_bootstrap_ci(x, N, 2000, 0.95, 7, &lo, &hi, NULL, &e);
    eval_bootstrap_ci(x, N, 2000, 0.95, 7, &lo2, &hi2, NULL, &e);
    CHECK(lo == lo2 && hi == hi2, "same seed, same interval");
    /* degenerate flags */
    memset(x, 1, N);
    eval_bootstrap_ci(x, N, 500, 0.95, 1, &lo, &hi, NULL, &e);
    CHECK(lo == 1 && hi == 1, "all right: [1, 1], found [%g, %g]", lo, hi);
    memset(x, 0, N);
    eval_bootstrap_ci(x, N, 500, 0.95, 1, &lo, &hi, NULL, &e);
    CHECK(lo == 0 && hi == 0, "all wrong: [0, 0], found [%g, %g]", lo, hi);
    CHECK(eval_bootstrap_ci(x, 0, 500, 0.95, 1, &lo, &hi, NULL, &e) == ST_INVALID,
          "n = 0 is an error");
    CHECK(eval_bootstrap_ci(x, N, 500, 1.0, 1, &lo, &hi, NULL, &e) == ST_INVALID,
          "level 1 is an error");
    free(x);
}

static void test_compare(void) {
    /* 4 sentences, K = 2; full logits f, mode logits z, labels y (-1: unlabelled) */
    const float f[] = {0, (float)log(3.0), 2, 0, 0, 1, 1, 0};
    const float z[] = {0, 0, 2, 0, 1, 0, 1, 0};
    const int32_t y[] = {1, 0, 1, -1};
    uint8_t ok[4];
    EvalCompare c;
    eval_compare(f, z, y, 4, 2, ok, &c);
    /* predictions: full 1, 0, 1, 0; mode 0 (tie: first), 0, 0, 0 */
    CHECK(c.n == 4 && c.n_labeled == 3, "counts %d %d", c.n, c.n_labeled);
    CHECK(c.correct == 1 && c.correct_full == 3, "correct %d, full %d", c.correct, c.correct_full);
    CHECK(c.agree == 2, "agree %d", c.agree);
    CHECK(c.b == 2 && c.c == 0, "discordant b=%d c=%d", c.b, c.c);
    CHECK(ok[0] == 0 && ok[1] == 1 && ok[2] == 0 && ok[3] == 0, "correct flags");
    CHECK_CLOSE(c.accuracy, 1.0 / 3, 1e-15, 0, "accuracy");
    CHECK_CLOSE(c.agreement, 0.5, 1e-15, 0, "agreement");
    /* KL: s0: p = (1/4, 3/4), q = (1/2, 1/2); s1: 0; s2: p = softmax(0, 1), q = softmax(1, 0)
       = p reversed: KL = (p1 - p0)(l1 - l0) with l = log p; s3: 0 */
    const double p1 = 1 / (1 + exp(-1.0)), p0 = 1 - p1;
    const double kl0 = 0.25 * log(0.5) + 0.75 * log(1.5), kl2 = (p1 - p0) * (log(p1) - log(p0));
    CHECK_CLOSE(c.kl_mean, (kl0 + kl2) / 4, 1e-6, 0, "KL mean");
    /* margins of the full class: s0 log 3 -> 0; s2 1 -> -1; others unchanged */
    CHECK_CLOSE(c.dmargin, (log(3.0) + 2) / 4, 1e-6, 0, "margin change");
}

int main(void) {
    test_mcnemar();
    test_quantile();
    test_bootstrap();
    test_compare();
    return check_exit("test_eval_stats");
}
