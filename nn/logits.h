/* logits.h: the numerics of a classifier's output, written once for the whole project (the
 * environment's reward KL, drrl-eval, drrl-factors, drrl-sweep, drrl-base's predictions).
 * Everything is computed in double from float logits z (K classes, finite), never from
 * probabilities:
 *
 *   log-sum-exp     lse(z) = m + log sum_k exp(z_k - m),   m = max_k z_k
 *                   (max shift: every exp(z_k - m) lies in (0, 1] and the one at the maximum
 *                   is exactly 1, so the sum lies in [1, K]: it neither overflows for z = 1000
 *                   nor underflows to 0 for z = -1000, where exp(z) alone would)
 *   log-softmax     log p_k = z_k - lse(z)      (one subtraction from z_k, in this order)
 *   KL              KL(p || q) = sum_k p_k (log p_k - log q_k),  p = softmax(zp),
 *                   q = softmax(zq), p_k = exp(log p_k); nats. >= 0 exactly (Gibbs); a
 *                   rounding result below 0 (about -1e-17 when p = q) is returned as 0.
 *                   Finite whenever the logits are: log q_k = zq_k - lse(zq) stays finite
 *                   where q_k itself would underflow to 0 (so no floor such as 1e-30 on q)
 *   top probability max_k p_k = exp(m - lse(z))
 *   argmax          the first maximum: the lowest k with z_k = max (ties go to the lower
 *                   class; compared with >, so a NaN after class 0 never wins)
 *   margin          z_c - max_{k != c} z_k  (+inf for K = 1: no other class)
 *
 * The exp and log are the C library's (double); the terms are summed in class order, so the
 * results are deterministic bit for bit for the same logits. */
#ifndef DRRL_NN_LOGITS_H
#define DRRL_NN_LOGITS_H

/* logits_logsumexp: log sum_k exp(z_k), max-shifted, in double (K >= 1). */
double logits_logsumexp(const float *z /* (K) */, int K);

/* logits_log_softmax: out_k = z_k - logsumexp(z), in double (K >= 1). */
void logits_log_softmax(double *out /* (K) */, const float *z /* (K) */, int K);

/* logits_kl: KL(softmax(zp) || softmax(zq)) in nats, in double, >= 0 (K >= 1). */
double logits_kl(const float *zp /* (K) */, const float *zq /* (K) */, int K);

/* logits_top_prob: max_k softmax(z)_k = exp(max z - logsumexp z), in double (K >= 1). */
double logits_top_prob(const float *z /* (K) */, int K);

/* logits_argmax: the index of the first maximum of z (ties: the lower class) (K >= 1). */
int logits_argmax(const float *z /* (K) */, int K);

/* logits_margin: z_c - max over the other classes k != c (+inf when K = 1). */
double logits_margin(const float *z /* (K) */, int K, int c);

#endif
