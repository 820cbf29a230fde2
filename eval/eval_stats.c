/* eval_stats.c: drrl-eval's statistics: comparison with the full model (its KL, argmax and
 * margin by nn/logits.h), McNemar's exact test, the percentile bootstrap (formulas in
 * eval_stats.h). */
#include "eval/eval_stats.h"

#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "nn/logits.h"

#define BOOT_STREAM 0x424f4f5453545250ull /* the bootstrap's Rng stream of the seed */

void eval_compare(const float *full, const float *mode, const int32_t *labels, int n, int K,
                  uint8_t *correct, EvalCompare *out) {
    EvalCompare r = {0};
    double kl = 0, dm = 0;
    r.n = n;
    for (int i = 0; i < n; i++) {
        const float *f = full + (size_t)i * K, *z = mode + (size_t)i * K;
        const int cf = logits_argmax(f, K), cz = logits_argmax(z, K), y = labels[i];
        r.agree += cz == cf;
        kl += logits_kl(f, z, K);
        dm += fabs(logits_margin(z, K, cf) - logits_margin(f, K, cf));
        const int ok = y >= 0 && cz == y;
        if (correct) correct[i] = (uint8_t)ok;
        if (y < 0) continue;
        r.n_labeled++;
        r.correct += ok;
        r.correct_full += cf == y;
        r.b += cf == y && cz != y;
        r.c += cf != y && cz == y;
    }
    r.accuracy = r.n_labeled ? (double)r.correct / r.n_labeled : NAN;
    r.agreement = n ? (double)r.agree / n : NAN;
    r.kl_mean = n ? kl / n : NAN;
    r.dmargin = n ? dm / n : NAN;
    *out = r;
}

double eval_mcnemar_p(int b, int c) {
    const int n = b + c, m = b < c ? b : c;
    /* |b - c| <= 1: P[X <= min] >= 1/2 exactly (symmetry), so p = 1 (not 1 - rounding) */
    if (n <= 0 || abs(b - c) <= 1) return 1.0;
    /* log C(n, k) - n log 2 for k = 0..m, summed by log-sum-exp around the largest (k = m:
       the terms increase with k up to n/2 and m <= n/2) */
    const double base = lgamma(n + 1.0) - n * log(2.0);
    const double top = base - lgamma(m + 1.0) - lgamma(n - m + 1.0);
    double s = 0;
    for (int k = 0; k <= m; k++) s += exp(base - lgamma(k + 1.0) - lgamma(n - k + 1.0) - top);
    const double p = 2.0 * exp(top) * s;
    return p < 1.0 ? p : 1.0;
}

double eval_quantile(const double *sorted, int n, double q) {
    const double h = q * (n - 1);
    int i = (int)floor(h);
    if (i < 0) return sorted[0];
    if (i >= n - 1) return sorted[n - 1];
    return sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]);
}

static int cmp_dbl(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Status eval_bootstrap_ci(const uint8_t *x, int n, int resamples, double level, uint64_t seed,
                         double *lo, double *hi, double *mean_out, Err *e) {
    if (n < 1 || resamples < 1 || !(level > 0 && level < 1))
        return err_set(e, ST_INVALID, "bootstrap: expected n >= 1, resamples >= 1 and a level "
                       "in (0, 1), found %d, %d, %g", n, resamples, level);
    double *a = malloc(sizeof(double) * (size_t)resamples); /* (resamples) resample means */
    if (!a) return err_set(e, ST_NOMEM, "bootstrap: out of memory for %d resamples", resamples);
    Rng r;
    rng_init(&r, seed, BOOT_STREAM);
    double sum = 0;
    for (int j = 0; j < resamples; j++) {
        long k = 0;
        for (int i = 0; i < n; i++) k += x[rng_below(&r, (uint64_t)n)];
        a[j] = (double)k / n;
        sum += a[j];
    }
    qsort(a, (size_t)resamples, sizeof(double), cmp_dbl);
    const double alpha = 1 - level;
    *lo = eval_quantile(a, resamples, alpha / 2);
    *hi = eval_quantile(a, resamples, 1 - alpha / 2);
    if (mean_out) *mean_out = sum / resamples;
    free(a);
    return ST_OK;
}
