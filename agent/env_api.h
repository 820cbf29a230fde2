/* env_api.h: the environment interface the agent knows (docs/design.md sections 5 and 10). The
 * agent never includes env/; an environment (the rank environment over the frozen model, the
 * toy environment) provides functions with these signatures and cmd/ (or a test) fills an Env
 * with them.
 *
 * Vectorised and synchronous: n_envs episodes run side by side (the sequences of one batch),
 * every episode lasts exactly max_steps steps (the layers) and all end together; the agent then
 * calls reset for the next ones. So a rollout of k * max_steps steps ends on an episode
 * boundary and the environment's state between iterations is only its RNG streams and
 * counters (save / load).
 *
 * An observation is a set of n_tokens tokens of token_dim features, some masked off
 * (tok_mask 0: the token does not exist in this observation, e.g. segments past the end of a
 * short sequence). Action head k (0 <= k < n_heads) chooses from token head_token0 + k one of
 * n_actions choices; a head whose token is masked off is inactive (its action is ignored and
 * its log-probability not counted). act_mask says which choices are allowed (the guardrail);
 * every active head has at least one. The value head reads token value_token.
 *
 * Each step reports n_info named per-episode numbers (info_names), e.g. the reward terms
 * apart, fidelity, FLOPs ratio: the agent logs their means without knowing what they mean. */
#ifndef DRRL_AGENT_ENV_API_H
#define DRRL_AGENT_ENV_API_H

#include <stdint.h>

#include "core/err.h"
#include "core/store.h"

#define ENV_MAX_INFO 32

typedef struct {
    int n_envs;      /* episodes side by side */
    int n_tokens;    /* tokens per observation */
    int token_dim;   /* features per token */
    int n_heads;     /* action heads per observation */
    int head_token0; /* head k reads token head_token0 + k */
    int value_token; /* the value head reads this token */
    int n_actions;   /* choices per head */
    int max_steps;   /* steps per episode (every episode has exactly this many) */
    int n_info;      /* per-step info columns */
    const char *info_names[ENV_MAX_INFO];
} EnvDims;

typedef struct {
    void *self;
    EnvDims dims;
    /* reset: begin n_envs fresh episodes. */
    Status (*reset)(void *self, float *obs /* (n_envs, n_tokens, token_dim) */,
                    uint8_t *tok_mask /* (n_envs, n_tokens) */,
                    uint8_t *act_mask /* (n_envs, n_heads, n_actions) 1 = allowed */, Err *e);
    /* step: apply action (n_envs, n_heads); reward (n_envs); done (n_envs) 1 when this step
       ended the episode (then obs and masks are not written: call reset); info (n_envs,
       n_info) of this step. */
    Status (*step)(void *self, const int32_t *action /* (n_envs, n_heads) */, float *obs,
                   uint8_t *tok_mask, uint8_t *act_mask, float *reward /* (n_envs) */,
                   uint8_t *done /* (n_envs) */, float *info /* (n_envs, n_info) */, Err *e);
    /* save / load: the environment's state between episodes (RNG streams, counters) into /
       from group `group` of an open store (load checks it matches this environment). */
    Status (*save)(void *self, Store *st, const char *group, Err *e);
    Status (*load)(void *self, Store *st, const char *group, Err *e);
} Env;

#endif
