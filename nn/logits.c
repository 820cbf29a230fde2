/* logits.c: log-sum-exp, log-softmax, KL, top probability, argmax and margin of classifier
 * logits, in double (the formulas and their numerics are in logits.h). */
#include "nn/logits.h"

#include <math.h>

int logits_argmax(const float *z, int K) {
    int a = 0;
    for (int k = 1; k < K; k++) a = z[k] > z[a] ? k : a; /* strict: the first maximum wins */
    return a;
}

/* lse = m + log sum_k exp(z_k - m), m = max_k z_k: the sum lies in [1, K] */
double logits_logsumexp(const float *z, int K) {
    const double m = z[logits_argmax(z, K)];
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)z[k] - m);
    return m + log(s);
}

void logits_log_softmax(double *out, const float *z, int K) {
    const double lse = logits_logsumexp(z, K);
    for (int k = 0; k < K; k++) out[k] = (double)z[k] - lse;
}

/* sum_k p_k (log p_k - log q_k) with log p_k = zp_k - lse(zp), log q_k = zq_k - lse(zq) (the
   log-softmax of logits_log_softmax, element by element, so that no buffer is needed) */
double logits_kl(const float *zp, const float *zq, int K) {
    const double lp = logits_logsumexp(zp, K), lq = logits_logsumexp(zq, K);
    double kl = 0;
    for (int k = 0; k < K; k++) {
        const double a = (double)zp[k] - lp, b = (double)zq[k] - lq;
        kl += exp(a) * (a - b);
    }
    return kl > 0 ? kl : 0.0; /* >= 0 exactly; rounding may give -1e-17 */
}

double logits_top_prob(const float *z, int K) {
    return exp((double)z[logits_argmax(z, K)] - logits_logsumexp(z, K));
}

double logits_margin(const float *z, int K, int c) {
    double o = -INFINITY;
    for (int k = 0; k < K; k++)
        if (k != c && z[k] > o) o = z[k];
    return (double)z[c] - o;
}
