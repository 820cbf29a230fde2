/* dist.h: the masked categorical distribution over one row of log-probabilities (one action
 * head of policy_forward's logp). A choice is masked off when its logp is -INFINITY; every
 * function skips such choices. p_j = exp(logp_j) over the allowed j (they sum to 1 up to
 * rounding).
 *     sample:   inverse CDF: the first j with sum_{i<=j} p_i > u * sum_i p_i
 *     entropy:  H = -sum_j p_j logp_j
 *     argmax:   the first allowed j of largest logp_j (greedy action)
 *     d H / d z_k = -p_k (logp_k + H)  (z the pre-softmax logits; 0 at masked k) */
#ifndef DRRL_AGENT_DIST_H
#define DRRL_AGENT_DIST_H

#include "core/rng.h"

/* dist_sample_u: the choice for a uniform draw u in [0, 1) (inverse CDF, sums in double);
   -1 if every choice is masked. */
int dist_sample_u(const float *logp /* (n) */, int n, double u);
/* dist_sample: dist_sample_u with u = rng_uniform(rng) (one draw per call). */
int dist_sample(const float *logp /* (n) */, int n, Rng *rng);
/* dist_argmax: the most probable allowed choice (first of ties); -1 if all masked. */
int dist_argmax(const float *logp /* (n) */, int n);
/* dist_entropy: H = -sum over allowed j of p_j logp_j (double). */
double dist_entropy(const float *logp /* (n) */, int n);
/* dist_entropy_grad: dz[k] += scale * dH/dz_k = -scale p_k (logp_k + H) for allowed k;
   masked k untouched. H as from dist_entropy. */
void dist_entropy_grad(float *dz /* (n) */, const float *logp /* (n) */, int n, double H,
                       double scale);

#endif
