/* eval_stats.h: the statistics of drrl-eval, over the sentences of a split.
 *
 * Comparison of one attention mode with the full model (eval_compare), per sentence i with
 * logits z (mode) and f (full), p = softmax(f), q = softmax(z), c*_i = argmax f (the full
 * model's prediction), y_i the label (-1: unlabelled):
 *     accuracy   = #{i labelled: argmax z_i = y_i} / #{i labelled}
 *     agreement  = #{i: argmax z_i = c*_i} / n
 *     kl_mean    = (1/n) sum_i sum_k p_k (log p_k - log q_k)              nats, in double
 *     dmargin    = (1/n) sum_i |m(z_i) - m(f_i)|,  m(v) = v[c*_i] - max_{k != c*_i} v[k]
 *     McNemar    b = #{labelled i: full right, mode wrong}, c = #{labelled: full wrong, mode
 *                right} (the discordant pairs; the concordant ones carry no information)
 * summed over i in index order. The per-sentence KL, argmax (the first maximum: ties go to the
 * lower class, as drrl-base does) and margin are nn/logits.h's, the environment's reward KL's.
 *
 * McNemar's exact test (eval_mcnemar_p): under H0 (both classifiers equally accurate) each
 * discordant pair is a fair coin, so with n = b + c and X ~ Binomial(n, 1/2)
 *     p = min(1, 2 P[X <= min(b, c)]) = min(1, 2^(1-n) sum_{k=0}^{min(b,c)} C(n, k))
 * (two-sided: the binomial is symmetric, so doubling the smaller tail is exact), p = 1 when
 * n = 0, and exactly 1 when |b - c| <= 1 (then P[X <= min(b, c)] >= 1/2 by symmetry, so the
 * rounding of the sum cannot leave it at 0.9999999). The terms are summed in log space
 * (lgamma, log-sum-exp) so that n of any size is fine (2^-n underflows a double past
 * n = 1074).
 *
 * Bootstrap CI of an accuracy (eval_bootstrap_ci): R resamples of the n_labeled correctness
 * flags drawn with replacement (core/rng.h, seeded); each resample's mean a_r; the interval
 * is the percentile interval [Q(alpha/2), Q(1 - alpha/2)], alpha = 1 - level, with Q the
 * linear interpolation of the sorted a_r at position q (R - 1) (the "type 7" quantile).
 * The bootstrap distribution of a_r is Binomial(n, k/n) / n, which the tests check. */
#ifndef DRRL_EVAL_EVAL_STATS_H
#define DRRL_EVAL_EVAL_STATS_H

#include <stdint.h>

#include "core/err.h"

typedef struct {
    int n;            /* sentences */
    int n_labeled;    /* of which labelled */
    int correct;      /* labelled and right (mode) */
    int correct_full; /* labelled and right (full) */
    int agree;        /* same prediction as full */
    int b, c;         /* McNemar's discordant pairs: full right / mode wrong, and the reverse */
    double accuracy;  /* correct / n_labeled (NaN if none) */
    double agreement; /* agree / n */
    double kl_mean;   /* mean KL(p_full || p_mode), nats */
    double dmargin;   /* mean |change of the logit margin of the full model's class| */
} EvalCompare;

/* eval_compare: the mode's logits (n, K) against the full model's (n, K); labels (n) (-1:
   unlabelled). correct (n) (may be NULL) receives 1 where a labelled sentence is predicted
   right, else 0. */
void eval_compare(const float *full /* (n, K) */, const float *mode /* (n, K) */,
                  const int32_t *labels /* (n) */, int n, int K, uint8_t *correct /* (n) */,
                  EvalCompare *out);

/* eval_mcnemar_p: the exact two-sided McNemar p-value of b and c discordant pairs (b, c >= 0). */
double eval_mcnemar_p(int b, int c);

/* eval_quantile: type 7 quantile of sorted x (n >= 1) at q in [0, 1]. */
double eval_quantile(const double *sorted, int n, double q);

/* eval_bootstrap_ci: percentile bootstrap interval at `level` (e.g. 0.95) of the mean of the
   0/1 flags x (n >= 1) with `resamples` >= 1 resamples drawn from seed. mean_out (may be NULL)
   receives the mean of the resample means. ST_INVALID on bad arguments, ST_NOMEM. */
Status eval_bootstrap_ci(const uint8_t *x /* (n) */, int n, int resamples, double level,
                         uint64_t seed, double *lo, double *hi, double *mean_out, Err *e);

#endif
