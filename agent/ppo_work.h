/* ppo_work.h: the agent's private scratch (Agent.work), planned once by agent_init in one
 * allocation (core/mem.h) together with the rollout and the Adam moments; shared by ppo.c,
 * ppo_collect.c and ppo_update.c. Nothing here is agent state: it is all rewritten before use
 * (the state is the policy's parameters, Agent.adam_m/adam_v/step/rng_act/rng_mb and the
 * counters). B = the policy's max_batch, E = n_envs, T = n_tokens, D = token_dim,
 * H = n_heads, A = n_actions, N = n_steps * n_envs, MB = min(minibatch, N x parts). */
#ifndef DRRL_AGENT_PPO_WORK_H
#define DRRL_AGENT_PPO_WORK_H

#include "agent/ppo.h"
#include "core/mem.h"

/* stream ids of the agent's RNG streams (rng_init(seed, stream)) */
#define AGENT_STREAM_INIT 0x1001u /* policy initialisation */
#define AGENT_STREAM_ACT 0x1002u  /* action sampling (Agent.rng_act) */
#define AGENT_STREAM_MB 0x1003u   /* minibatch permutations (Agent.rng_mb) */

typedef struct {
    MemPlan plan;
    /* owned copies of what Agent points at (the plan's targets stay valid if Agent moves) */
    float *adam_m, *adam_v; /* (n_params) */
    Rollout ro;
    /* policy outputs: collection (E rows), minibatches (MB rows), greedy (B rows) */
    float *logp;    /* (B, H, A) */
    float *value;   /* (B) */
    /* where step writes the next observation after the rollout's last step (not used) */
    float *obs_spare;   /* (E, T, D) */
    uint8_t *tm_spare;  /* (E, T) */
    uint8_t *am_spare;  /* (E, H, A) */
    /* minibatch gather */
    int32_t *perm;      /* (Ng) sample order of one epoch over every process's samples
                           (Ng = N x parts) */
    int32_t *mb_idx;    /* (MB) the local samples of a minibatch */
    uint8_t *rng_bytes; /* (E Rng) the action streams (Agent.rng_act) */
    float *mb_obs;      /* (MB, T, D) */
    uint8_t *mb_tm;     /* (MB, T) */
    uint8_t *mb_am;     /* (MB, H, A) */
    int32_t *mb_action; /* (MB, H) */
    uint8_t *mb_active; /* (MB, H) */
    float *mb_old_logp; /* (MB) */
    float *mb_adv;      /* (MB) */
    float *mb_ret;      /* (MB) */
    float *mb_old_value;/* (MB) */
    float *dlogits;     /* (MB, H, A) */
    float *dvalue;      /* (MB) */
    int mb_cap;         /* MB */
} AgentWork;

#endif
