/* toy.h: a toy rank environment with a KNOWN optimal policy, for testing the PPO agent
 * (agent/) end to end. It mimics the rank environment's shape: an episode is a stack of
 * TOY_LAYERS layers (one step each); at each step every present segment of the input picks a
 * rank r_a = 4 * 2^a (a = 0..TOY_ACTIONS-1, ranks 4..64) for that layer. Each segment s of
 * episode slot i has a hidden difficulty c in {0, 1}, drawn at reset and shown in its token.
 * Reward of one segment at layer l for action a (a closed form):
 *     fidelity(l, c, a) = 1 - exp(-r_a / s_{l,c})          (saturating in the rank)
 *     reward            = fidelity - TOY_COST * a           (cost linear in log2 rank)
 * with the scales s_{l,c} (toy.c) chosen so that the best action per (l, c) is unique with a
 * margin of at least 0.06 over the next allowed action and differs across layers and
 * difficulties:
 *     best allowed a, layers 0..3:   c = 0: 0 1 2 1     c = 1: 2 3 4 2
 * Action 0 (rank 4) is unsafe (masked off) when c = 1 or l is odd. At (l = 3, c = 0) the
 * unconstrained best is that masked action 0 (s = 1: reward 0.98); the best allowed is 1
 * (0.85, margin 0.15 over action 2). The step reward is the mean over the present segments.
 *
 * Observation: n_tokens = 3 + n_segments tokens of TOY_TOKEN_DIM = 16 features; features 0-3
 * one-hot the token type:
 *     token 0  CLS:             [0] = 1                                 (value head reads it)
 *     token 1  layer:           [1] = 1, [4 + l] = 1 (depth one-hot), [8] = l / (L - 1)
 *     token 2  previous action: [2] = 1, [4 + a_prev] = 1 of segment 0 (or [9] = 1 at l = 0)
 *     token 3+s segment s:      [3] = 1, [4] = 2c - 1, [5] = s / n_segments,
 *                               [6..15] noise ~ N(0, noise^2), fresh every step
 * Action head k reads segment token 3 + k (head_token0 = 3, n_heads = n_segments). Segment 0
 * is always present; segment s >= 1 is present with probability 1/2 per episode (absent: token
 * masked off, head inactive, all its choices marked allowed).
 * Info columns: "optimal" (share of present segments that took the best allowed action),
 * "rank" (mean chosen rank), "fidelity" (mean fidelity), "cost" (mean TOY_COST * a).
 *
 * toy_reset / toy_step / toy_save / toy_load have exactly the signatures of agent/env_api.h's
 * Env function pointers (this file does not include agent/: docs/design.md section 10); the
 * caller fills an Env from them and from ToyEnv's dims. Randomness: one stream (core/rng.h) from
 * (seed, TOY_STREAM), drawn at reset (difficulty, then presence, per slot and segment) and per
 * step (noise); toy_save stores its state words and the episode counter. */
#ifndef DRRL_ENV_TOY_H
#define DRRL_ENV_TOY_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "core/store.h"

#define TOY_LAYERS 4
#define TOY_ACTIONS 5
#define TOY_TOKEN_DIM 16
#define TOY_MAX_SEGMENTS 4
#define TOY_N_INFO 4
#define TOY_COST 0.15
#define TOY_STREAM 0x70e1u

typedef struct {
    int n_envs;     /* episode slots side by side (>= 1) */
    int n_segments; /* 1..TOY_MAX_SEGMENTS */
    float noise;    /* std of the noise features (0.3) */
    uint64_t seed;
    int first_slot; /* the global index of slot 0 (several processes split the slots of one
                       run: core/dist.h); slot i draws from its own stream of global index
                       first_slot + i, so a slot's episodes do not depend on the split */
} ToyConfig;

typedef struct {
    ToyConfig cfg;
    /* the Env dims (agent/env_api.h EnvDims) as plain ints */
    int n_envs, n_tokens, token_dim, n_heads, head_token0, value_token, n_actions, max_steps;
    int n_info;
    const char *info_names[TOY_N_INFO];
    /* state */
    Rng *rng;         /* (n_envs) one stream per slot */
    int64_t episodes; /* episodes completed */
    int layer;        /* the current step's layer; -1 before the first reset or after done */
    uint8_t *diff;    /* (n_envs, n_segments) difficulty c */
    uint8_t *present; /* (n_envs, n_segments) */
    int32_t *prev;    /* (n_envs) previous action of segment 0, -1 at layer 0 */
} ToyEnv;

Status toy_init(ToyEnv *t, const ToyConfig *c, Err *e);
void toy_free(ToyEnv *t);

/* the closed forms (independent of any ToyEnv) */
int toy_rank(int a);                       /* r_a = 4 * 2^a */
int toy_allowed(int layer, int c, int a);  /* 0 where a is unsafe */
double toy_fidelity(int layer, int c, int a);
double toy_reward(int layer, int c, int a); /* fidelity - TOY_COST * a */
int toy_optimal(int layer, int c);         /* the best allowed action */

/* Env functions: self is a ToyEnv. Shapes as agent/env_api.h: obs (n_envs, n_tokens,
   token_dim), tok_mask (n_envs, n_tokens), act_mask (n_envs, n_heads, n_actions), action
   (n_envs, n_heads), reward, done (n_envs), info (n_envs, n_info). A step before reset, or
   an active head's action out of range or masked off, is ST_INVALID. */
Status toy_reset(void *self, float *obs, uint8_t *tok_mask, uint8_t *act_mask, Err *e);
Status toy_step(void *self, const int32_t *action, float *obs, uint8_t *tok_mask,
                uint8_t *act_mask, float *reward, uint8_t *done, float *info, Err *e);
/* toy_save / toy_load: group/rng (uint64 [RNG_STATE_WORDS]), group/episodes (int64 [1]),
   group/dims (int64 [n_envs, n_segments]; load checks it). Between episodes only. */
Status toy_save(void *self, Store *st, const char *group, Err *e);
Status toy_load(void *self, Store *st, const char *group, Err *e);

#endif
