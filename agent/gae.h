/* gae.h: generalised advantage estimation (Schulman et al. 2016) over a step-major rollout of
 * S steps of E episode slots, index (t, i) = t * E + i. With done_t = 1 when step t ended
 * its episode (so V_{t+1} belongs to the next episode and is not used) and V_S = 0 (a
 * rollout ends on an episode boundary; episodes end for real, there is no truncation):
 *     delta_t = r_t + gamma (1 - done_t) V_{t+1} - V_t
 *     adv_t   = delta_t + gamma lam (1 - done_t) adv_{t+1},   adv_S = 0
 *     ret_t   = adv_t + V_t
 * i.e. adv_t = sum_{k>=0} (gamma lam)^k delta_{t+k} up to the episode's end. Accumulated in
 * double per slot, backwards in t. */
#ifndef DRRL_AGENT_GAE_H
#define DRRL_AGENT_GAE_H

#include <stdint.h>

void gae_compute(float *adv /* (S, E) */, float *ret /* (S, E) */,
                 const float *reward /* (S, E) */, const float *value /* (S, E) */,
                 const uint8_t *done /* (S, E) */, int S, int E, double gamma, double lam);

#endif
