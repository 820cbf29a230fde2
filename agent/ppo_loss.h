/* ppo_loss.h: the PPO loss of one minibatch of M samples and its gradient with respect to the
 * policy's pre-softmax logits and value (cleanrl's ppo.py; SB3 where noted). Per sample m:
 *     logp_m   = sum over active heads k of logp[m, k, action[m, k]]     (heads independent)
 *     ratio_m  = exp(logp_m - old_logp_m)
 *     A_m      = adv_m, or (adv_m - mean) / (std + 1e-8) if norm_adv and M > 1, with std the
 *                unbiased (Bessel, M - 1) standard deviation of the minibatch: torch's
 *                Tensor.std() default, as cleanrl and SB3 use it (SB3 also skips M = 1)
 *     pg_m     = max(-A_m ratio_m, -A_m clip(ratio_m, 1 - c, 1 + c))
 *     vl_m     = 0.5 (V_m - R_m)^2                                        clip_vloss <= 0
 *              = 0.5 max((V_m - R_m)^2, (Vold_m + clip(V_m - Vold_m, -cv, cv) - R_m)^2)
 *                (cleanrl's clipped variant; SB3's differs: no max, no 0.5)
 *     H_m      = sum over active heads of the head's entropy (dist.h)
 *     loss     = mean(pg) + vf_coef mean(vl) - ent_coef mean(H)
 * Gradients (torch conventions: max/min ties split the gradient in half; clamp passes it on
 * the closed interval):
 *     d loss / d logp_m   = -A_m ratio_m / M where the unclipped term is the max, else 0
 *     d logp_m / d z[k,j] = [j = action[m,k]] - p[k,j]            (active head k, allowed j)
 *     d (-ent_coef H_m / M) / d z[k,j] = ent_coef p[k,j] (logp[k,j] + H_k) / M
 *     d loss / d V_m      = vf_coef (V_m - R_m) / M  (or through the clipped branch)
 * dlogits is 0 at masked choices and inactive heads. Statistics (double):
 *     approx_kl = mean((ratio - 1) - log ratio)  (Schulman's k3 estimator, cleanrl's)
 *     clip_fraction = mean(|ratio - 1| > c). */
#ifndef DRRL_AGENT_PPO_LOSS_H
#define DRRL_AGENT_PPO_LOSS_H

#include <stdint.h>

#include "agent/ppo.h"

typedef struct {
    int M, n_heads, n_actions;
    const float *logp;      /* (M, n_heads, A) new log-probabilities (policy_forward) */
    const uint8_t *active;  /* (M, n_heads) 1 if head k's token is present */
    const int32_t *action;  /* (M, n_heads) taken choices (ignored at inactive heads) */
    const float *old_logp;  /* (M) joint log-probability when sampled */
    const float *adv;       /* (M) GAE advantages (raw; normalised here if cfg.norm_adv) */
    const float *ret;       /* (M) returns */
    const float *old_value; /* (M) value when sampled */
    const float *value;     /* (M) new value (policy_forward) */
    /* a part of a minibatch split over processes (agent/ppo.h); zero for a whole one */
    int M_total;            /* the whole minibatch's size: the divisor of every mean (0: M) */
    int moments_given;      /* 1: normalise with adv_mean and adv_std (the whole minibatch's) */
    double adv_mean, adv_std;
} PpoBatch;

typedef struct {
    double loss;          /* the total above */
    double pg_loss;       /* mean(pg) */
    double v_loss;        /* mean(vl), including its 0.5 */
    double entropy;       /* mean(H) */
    double approx_kl;     /* mean((ratio - 1) - log ratio) */
    double clip_fraction; /* mean(|ratio - 1| > clip) */
} PpoLossStats;

/* ppo_loss: the loss and statistics of batch b under cfg (clip, clip_vloss, vf_coef,
   ent_coef, norm_adv); writes (overwrites) dlogits (M, n_heads, A) and dvalue (M). For a
   part (M_total > M) every mean and gradient is divided by M_total: the parts' losses,
   statistics and gradients then add up to the whole minibatch's. */
void ppo_loss(const PpoBatch *b, const PpoConfig *cfg, float *dlogits /* (M, n_heads, A) */,
              float *dvalue /* (M) */, PpoLossStats *st);

#endif
