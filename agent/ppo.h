/* ppo.h: the PPO agent (docs/design.md section 5): rollout collection from an Env
 * (agent/env_api.h) with the policy of agent/policy.h, GAE, and the clipped-surrogate update with value loss,
 * entropy bonus, per-minibatch advantage normalisation, Adam (eps 1e-5), global gradient-norm
 * clipping, optional target-KL early stop and a linear learning-rate schedule.
 *
 * One iteration (agent_iterate) = agent_collect (cfg.n_steps steps of all n_envs episodes; a
 * multiple of the episode length, so it starts with env->reset and ends on a boundary) then
 * agent_update (GAE, cfg.epochs passes over shuffled minibatches). With several action heads
 * per observation the action's log-probability is the sum over the active heads (the heads are
 * independent given the observation) and the entropy is the sum of the heads' entropies.
 *
 * Everything random draws from the agent's own streams (rng_act for actions: one per episode
 * slot; rng_mb for minibatch order), saved in checkpoints with the Adam moments, step and
 * counters, so that a resumed run continues bit for bit (given a deterministic environment).
 *
 * Data-parallel (cfg.parts > 1, core/dist.h): the run's E = parts x n_envs episode slots are
 * split over the job's processes, process `part` holding global slots part * n_envs ..
 * (part + 1) * n_envs - 1 (its environment's n_envs). Each slot draws its actions from its own
 * stream (global index), so a slot's episodes do not depend on the split. The update is the
 * one-process update over all E slots (agent_init gives every process process 0's initial
 * parameters): every process draws the same permutation of the S x E samples (rng_mb, same
 * seed), cuts it into the same minibatches and runs the part of each that its slots hold;
 * the advantage normalisation, the losses, statistics and the target-KL test are over the
 * whole minibatch (sums added across processes), and the gradient is summed over processes
 * (one allreduce of the flat buffer) before clipping and Adam, so the parameters stay
 * identical on every process. With two processes the sum of two
 * partial gradients is exact (IEEE addition commutes); the one-process run adds its samples in
 * another order, so the two agree to float rounding, not bit for bit. */
#ifndef DRRL_AGENT_PPO_H
#define DRRL_AGENT_PPO_H

#include <stdint.h>

#include "agent/env_api.h"
#include "agent/policy.h"
#include "core/err.h"
#include "core/rng.h"
#include "nn/optim.h"

typedef struct {
    int n_steps;          /* steps per episode slot per iteration; a multiple of max_steps */
    int epochs;           /* update passes over the rollout (4) */
    int minibatch;        /* observations per minibatch (<= the policy's max_batch) */
    float gamma, lam;     /* GAE (0.99, 0.95) */
    float clip;           /* surrogate clip range (0.2) */
    float clip_vloss;     /* value clip range; <= 0: unclipped value loss */
    float vf_coef;        /* 0.5 */
    float ent_coef;       /* 0.01 */
    float max_grad_norm;  /* 0.5 */
    float target_kl;      /* stop the epochs when approx_kl exceeds it; <= 0: never */
    float lr, lr_final;   /* linear schedule from lr (iteration 0) to lr_final (last) */
    int64_t iterations;   /* the schedule's length */
    float adam_eps;       /* 1e-5 */
    int norm_adv;         /* 1: normalise advantages per minibatch */
    int max_nonfinite;    /* updates in a row that may be skipped for non-finite values */
    int part, parts;      /* data-parallel: this process's index and the process count (0, 1
                             alone; parts 0 is read as 1) */
} PpoConfig;

/* Rollout: one iteration's transitions, step-major: index (t, i) = t * n_envs + i. */
typedef struct {
    int n_steps, n_envs, n_tokens, token_dim, n_heads, n_actions, n_info;
    float *obs;        /* (S, E, n_tokens, token_dim) */
    uint8_t *tok_mask; /* (S, E, n_tokens) */
    uint8_t *act_mask; /* (S, E, n_heads, n_actions) */
    int32_t *action;   /* (S, E, n_heads) */
    float *logp;       /* (S, E) log-probability of the action when sampled */
    float *value;      /* (S, E) value estimate when sampled */
    float *reward;     /* (S, E) */
    uint8_t *done;     /* (S, E) */
    float *info;       /* (S, E, n_info) */
    float *adv;        /* (S, E) GAE advantages */
    float *ret;        /* (S, E) returns = adv + value */
} Rollout;

typedef struct {
    int64_t iteration;        /* iterations completed (after this one) */
    int64_t env_steps;        /* transitions so far (steps x n_envs) */
    int64_t episodes;         /* episodes completed so far */
    double lr;                /* the rate used by this iteration's update */
    double ep_return_mean;    /* mean over this iteration's episodes of the summed reward */
    double reward_mean;       /* mean reward per step */
    double info_mean[ENV_MAX_INFO]; /* mean of each info column over the iteration's steps */
    double pg_loss, v_loss, entropy;  /* means over the minibatches run */
    double approx_kl;         /* mean of (ratio - 1) - log ratio over the last epoch run */
    double clip_fraction;     /* share of |ratio - 1| > clip */
    double explained_variance;/* 1 - Var(ret - value) / Var(ret) of the rollout */
    double grad_norm;         /* mean global norm before clipping */
    int epochs_run;           /* < cfg.epochs after a target-KL stop */
    double collect_seconds, update_seconds;
    /* added with ppo.c: */
    int64_t rollout_episodes; /* episodes completed in this iteration's rollout */
    int64_t updates;          /* optimizer steps taken by this update */
    int kl_stop;              /* 1 if the target-KL check stopped this update early */
    int64_t skipped;          /* updates skipped for a non-finite reward, loss or gradient */
    char skip_reason[160];    /* the last one's reason ("" when none) */
} PpoStats;

typedef struct {
    PpoConfig cfg;
    EnvDims dims;
    Policy *pi;
    float *adam_m, *adam_v;   /* (n_params) Adam moments */
    OptimStep step;
    Rng *rng_act;             /* (n_envs) action streams, slot i's of global slot
                                 part * n_envs + i */
    Rng rng_mb;
    int64_t iteration, env_steps, episodes;
    int64_t nonfinite_total;  /* updates skipped for non-finite values, in all */
    int64_t nonfinite_run;    /* ... in a row, up to now (0 after an update taken) */
    Rollout ro;
    /* planned once: minibatch and sampling buffers (see ppo.c) */
    void *work;
} Agent;

/* agent_init: plan everything for env dims d, policy pc (n_tokens .. n_actions are taken from
   d; max_batch is raised to max(minibatch, n_envs)), PPO c; init the policy from a stream of
   seed and the two RNG streams. ST_INVALID on inconsistent settings (named). */
Status agent_init(Agent *A, const PpoConfig *c, const PolicyConfig *pc, const EnvDims *d,
                  uint64_t seed, Err *e);
void agent_free(Agent *A);

/* agent_collect: A->ro from cfg.n_steps steps of env (starting with env->reset). */
Status agent_collect(Agent *A, Env *env, Err *e);
/* agent_rollout_stats: the rollout fields of s (ep_return_mean, reward_mean, info_mean,
   rollout_episodes) from A->ro, over every process's slots; agent_iterate calls it between
   collect and update. */
Status agent_rollout_stats(const Agent *A, PpoStats *s, Err *e);
/* agent_update: GAE on A->ro then the PPO epochs; fills the update fields of s (lr, pg_loss,
   v_loss, entropy, approx_kl, clip_fraction, explained_variance, grad_norm, epochs_run,
   updates, kl_stop, skipped). Target KL: checked per minibatch before its step (SB3's
   placement, threshold target_kl itself): that minibatch takes no step and the update ends.
   Non-finite numbers: a non-finite reward in the rollout skips the whole update (GAE would
   carry it into every return), a non-finite minibatch loss or gradient norm skips that
   minibatch's step (parameters, moments and Adam step untouched); each skip is counted in
   s->skipped and A->nonfinite_total; more than cfg.max_nonfinite skips in a row (across
   iterations) is ST_NUMERIC naming the last one. */
Status agent_update(Agent *A, PpoStats *s, Err *e);
/* agent_iterate: collect + update + counters; s gets every field. */
Status agent_iterate(Agent *A, Env *env, PpoStats *s, Err *e);

/* agent_act_greedy: the most probable allowed choice per head (evaluation). */
Status agent_act_greedy(Agent *A, int32_t *action /* (M, n_heads) */, const float *obs,
                        const uint8_t *tok_mask, const uint8_t *act_mask, int M, Err *e);

/* agent_lr: the schedule's rate at iteration it. */
double agent_lr(const PpoConfig *c, int64_t it);

#endif
