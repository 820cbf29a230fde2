/* ppo.c: the PPO agent's set-up and teardown, learning-rate schedule, greedy action and one
 * iteration (collect then update; the halves are in ppo_collect.c and ppo_update.c).
 *     lr(it) = lr + (lr_final - lr) * clamp(it / (iterations - 1), 0, 1)
 * agent_init validates the settings, builds the policy (dims from the environment, max_batch
 * raised to hold a minibatch and one step of every episode slot), draws its initial
 * parameters from stream AGENT_STREAM_INIT of the seed, seeds rng_act and rng_mb from their
 * own streams, and plans the rollout, the Adam moments and the scratch in one allocation. */
#include "agent/ppo.h"

#include <stdlib.h>
#include <string.h>

#include "agent/dist.h"
#include "agent/ppo_work.h"
#include "core/dist.h"
#include "core/timer.h"

double agent_lr(const PpoConfig *c, int64_t it) {
    if (c->iterations <= 1) return (double)c->lr;
    double f = (double)it / (double)(c->iterations - 1);
    f = f < 0.0 ? 0.0 : (f > 1.0 ? 1.0 : f);
    return (double)c->lr + ((double)c->lr_final - (double)c->lr) * f;
}

/* check_settings: every inconsistency named */
static Status check_settings(const PpoConfig *c, const EnvDims *d, Err *e) {
#define REQUIRE(cond, ...) \
    if (!(cond)) return err_set(e, ST_INVALID, "agent_init: " __VA_ARGS__)
    REQUIRE(d->n_envs >= 1, "env n_envs: expected >= 1, found %d", d->n_envs);
    REQUIRE(d->n_tokens >= 1 && d->token_dim >= 1 && d->n_actions >= 1 && d->n_heads >= 1,
            "env dims: expected n_tokens, token_dim, n_heads, n_actions >= 1, found %d, %d, "
            "%d, %d", d->n_tokens, d->token_dim, d->n_heads, d->n_actions);
    REQUIRE(d->head_token0 >= 0 && d->head_token0 + d->n_heads <= d->n_tokens,
            "env heads: expected head_token0 + n_heads <= n_tokens (%d), found %d + %d",
            d->n_tokens, d->head_token0, d->n_heads);
    REQUIRE(d->value_token >= 0 && d->value_token < d->n_tokens,
            "env value_token: expected 0..%d, found %d", d->n_tokens - 1, d->value_token);
    REQUIRE(d->max_steps >= 1, "env max_steps: expected >= 1, found %d", d->max_steps);
    REQUIRE(d->n_info >= 0 && d->n_info <= ENV_MAX_INFO,
            "env n_info: expected 0..%d, found %d", ENV_MAX_INFO, d->n_info);
    REQUIRE(c->n_steps >= 1 && c->n_steps % d->max_steps == 0,
            "n_steps: expected a positive multiple of the episode length %d, found %d",
            d->max_steps, c->n_steps);
    REQUIRE(c->epochs >= 1, "epochs: expected >= 1, found %d", c->epochs);
    REQUIRE(c->minibatch >= 1, "minibatch: expected >= 1, found %d", c->minibatch);
    REQUIRE(c->gamma >= 0.0f && c->gamma <= 1.0f, "gamma: expected in [0, 1], found %g",
            (double)c->gamma);
    REQUIRE(c->lam >= 0.0f && c->lam <= 1.0f, "lam: expected in [0, 1], found %g",
            (double)c->lam);
    REQUIRE(c->clip > 0.0f, "clip: expected > 0, found %g", (double)c->clip);
    REQUIRE(c->vf_coef >= 0.0f && c->ent_coef >= 0.0f,
            "vf_coef, ent_coef: expected >= 0, found %g, %g", (double)c->vf_coef,
            (double)c->ent_coef);
    REQUIRE(c->lr >= 0.0f && c->lr_final >= 0.0f, "lr, lr_final: expected >= 0, found %g, %g",
            (double)c->lr, (double)c->lr_final);
    REQUIRE(c->iterations >= 1, "iterations: expected >= 1, found %lld",
            (long long)c->iterations);
    REQUIRE(c->adam_eps > 0.0f, "adam_eps: expected > 0, found %g", (double)c->adam_eps);
    REQUIRE(c->parts >= 1 && c->part >= 0 && c->part < c->parts,
            "part, parts: expected 0 <= part < parts, found %d, %d", c->part, c->parts);
    REQUIRE((int64_t)c->n_steps * d->n_envs * c->parts <= INT32_MAX / 2,
            "n_steps x n_envs x parts: expected < 2^30, found %lld",
            (long long)c->n_steps * d->n_envs * c->parts);
#undef REQUIRE
    return ST_OK;
}

/* plan: the rollout, Adam moments and scratch, all in W's one plan */
static void plan(AgentWork *W, const Agent *A, size_t n_params, int B) {
    const EnvDims *d = &A->dims;
    size_t S = (size_t)A->cfg.n_steps, E = (size_t)d->n_envs, T = (size_t)d->n_tokens;
    size_t Ng = S * E * (size_t)A->cfg.parts; /* the samples of every process */
    size_t D = (size_t)d->token_dim, H = (size_t)d->n_heads, Ac = (size_t)d->n_actions;
    size_t N = S * E, MB = (size_t)W->mb_cap, Bz = (size_t)B;
    MemPlan *p = &W->plan;
    mem_plan_f32(p, &W->adam_m, n_params, "agent.adam_m");
    mem_plan_f32(p, &W->adam_v, n_params, "agent.adam_v");
    Rollout *r = &W->ro;
    mem_plan_f32(p, &r->obs, N * T * D, "agent.ro.obs");
    mem_plan_u8(p, &r->tok_mask, N * T, "agent.ro.tok_mask");
    mem_plan_u8(p, &r->act_mask, N * H * Ac, "agent.ro.act_mask");
    mem_plan_i32(p, &r->action, N * H, "agent.ro.action");
    mem_plan_f32(p, &r->logp, N, "agent.ro.logp");
    mem_plan_f32(p, &r->value, N, "agent.ro.value");
    mem_plan_f32(p, &r->reward, N, "agent.ro.reward");
    mem_plan_u8(p, &r->done, N, "agent.ro.done");
    mem_plan_f32(p, &r->info, N * (size_t)(d->n_info > 0 ? d->n_info : 1), "agent.ro.info");
    mem_plan_f32(p, &r->adv, N, "agent.ro.adv");
    mem_plan_f32(p, &r->ret, N, "agent.ro.ret");
    mem_plan_f32(p, &W->logp, Bz * H * Ac, "agent.logp");
    mem_plan_f32(p, &W->value, Bz, "agent.value");
    mem_plan_f32(p, &W->obs_spare, E * T * D, "agent.obs_spare");
    mem_plan_u8(p, &W->tm_spare, E * T, "agent.tm_spare");
    mem_plan_u8(p, &W->am_spare, E * H * Ac, "agent.am_spare");
    mem_plan_i32(p, &W->perm, Ng, "agent.perm");
    mem_plan_i32(p, &W->mb_idx, MB, "agent.mb_idx");
    mem_plan_u8(p, &W->rng_bytes, E * sizeof(Rng), "agent.rng_act");
    mem_plan_f32(p, &W->mb_obs, MB * T * D, "agent.mb_obs");
    mem_plan_u8(p, &W->mb_tm, MB * T, "agent.mb_tm");
    mem_plan_u8(p, &W->mb_am, MB * H * Ac, "agent.mb_am");
    mem_plan_i32(p, &W->mb_action, MB * H, "agent.mb_action");
    mem_plan_u8(p, &W->mb_active, MB * H, "agent.mb_active");
    mem_plan_f32(p, &W->mb_old_logp, MB, "agent.mb_old_logp");
    mem_plan_f32(p, &W->mb_adv, MB, "agent.mb_adv");
    mem_plan_f32(p, &W->mb_ret, MB, "agent.mb_ret");
    mem_plan_f32(p, &W->mb_old_value, MB, "agent.mb_old_value");
    mem_plan_f32(p, &W->dlogits, MB * H * Ac, "agent.dlogits");
    mem_plan_f32(p, &W->dvalue, MB, "agent.dvalue");
}

Status agent_init(Agent *A, const PpoConfig *c, const PolicyConfig *pc, const EnvDims *d,
                  uint64_t seed, Err *e) {
    memset(A, 0, sizeof *A);
    PpoConfig cc = *c;
    if (cc.parts == 0) cc.parts = 1, cc.part = 0;
    c = &cc;
    Status s = check_settings(c, d, e);
    if (s) return s;
    A->cfg = *c;
    A->dims = *d;
    int N = c->n_steps * d->n_envs * c->parts; /* a minibatch is cut from every process's */
    int MB = c->minibatch < N ? c->minibatch : N;
    PolicyConfig q = *pc;
    q.n_tokens = d->n_tokens;
    q.token_dim = d->token_dim;
    q.n_heads = d->n_heads;
    q.head_token0 = d->head_token0;
    q.value_token = d->value_token;
    q.n_actions = d->n_actions;
    if (q.max_batch < MB) q.max_batch = MB;
    if (q.max_batch < d->n_envs) q.max_batch = d->n_envs;
    s = policy_init(&A->pi, &q, e);
    if (s) return err_prefix(e, "agent_init"), s;
    Rng r;
    rng_init(&r, seed, AGENT_STREAM_INIT);
    policy_init_params(A->pi, &r);
    rng_init(&A->rng_mb, seed, AGENT_STREAM_MB);

    AgentWork *W = calloc(1, sizeof *W);
    if (!W) {
        agent_free(A);
        return err_set(e, ST_NOMEM, "agent_init: out of memory (%zu bytes)", sizeof *W);
    }
    A->work = W;
    mem_plan_init(&W->plan);
    W->mb_cap = MB;
    Rollout *ro = &W->ro;
    ro->n_steps = c->n_steps;
    ro->n_envs = d->n_envs;
    ro->n_tokens = d->n_tokens;
    ro->token_dim = d->token_dim;
    ro->n_heads = d->n_heads;
    ro->n_actions = d->n_actions;
    ro->n_info = d->n_info;
    plan(W, A, policy_n_params(A->pi), policy_config(A->pi)->max_batch);
    s = mem_plan_alloc(&W->plan, e);
    if (s) {
        agent_free(A);
        return err_prefix(e, "agent_init"), s;
    }
    A->adam_m = W->adam_m;
    A->adam_v = W->adam_v;
    A->rng_act = (Rng *)(void *)W->rng_bytes; /* 64-byte aligned: holds Rng */
    for (int i = 0; i < d->n_envs; i++) /* global slot g's stream: the id, g in the high bits */
        rng_init(&A->rng_act[i], seed,
                 AGENT_STREAM_ACT | (uint64_t)(c->part * d->n_envs + i) << 32);
    A->ro = W->ro;
    A->step.t = 0;
    /* one set of parameters for the job: process 0's (every process drew the same from the
       seed, but LAPACK's orthogonalisation may round differently on another machine's CPU) */
    if (c->parts > 1 &&
        (s = dist_bcast(policy_params(A->pi), policy_n_params(A->pi) * sizeof(float), 0, e))) {
        agent_free(A);
        return err_prefix(e, "agent_init"), s;
    }
    return ST_OK;
}

void agent_free(Agent *A) {
    if (!A) return;
    AgentWork *W = A->work;
    if (W) {
        mem_plan_free(&W->plan);
        free(W);
    }
    policy_free(A->pi);
    memset(A, 0, sizeof *A);
}

Status agent_act_greedy(Agent *A, int32_t *action, const float *obs, const uint8_t *tok_mask,
                        const uint8_t *act_mask, int M, Err *e) {
    AgentWork *W = A->work;
    const int T = A->dims.n_tokens, D = A->dims.token_dim, H = A->dims.n_heads;
    const int Ac = A->dims.n_actions, h0 = A->dims.head_token0;
    const int B = policy_config(A->pi)->max_batch;
    for (int m0 = 0; m0 < M; m0 += B) {
        int n = M - m0 < B ? M - m0 : B;
        Status s = policy_forward(A->pi, W->logp, W->value, obs + (size_t)m0 * T * D,
                                  tok_mask + (size_t)m0 * T, act_mask + (size_t)m0 * H * Ac,
                                  n, e);
        if (s) return err_prefix(e, "agent_act_greedy"), s;
        for (int m = 0; m < n; m++)
            for (int k = 0; k < H; k++) {
                int a = 0; /* inactive heads: 0 (ignored by the environment) */
                if (tok_mask[(size_t)(m0 + m) * T + h0 + k]) {
                    a = dist_argmax(W->logp + ((size_t)m * H + k) * Ac, Ac);
                    if (a < 0)
                        return err_set(e, ST_NUMERIC, "agent_act_greedy: observation %d head "
                                       "%d: no allowed choice with a finite log-probability",
                                       m0 + m, k);
                }
                action[(size_t)(m0 + m) * H + k] = a;
            }
    }
    return ST_OK;
}

Status agent_iterate(Agent *A, Env *env, PpoStats *s, Err *e) {
    memset(s, 0, sizeof *s);
    double t0 = time_now();
    Status st = agent_collect(A, env, e);
    if (A->cfg.parts > 1) st = dist_agree(st, e); /* one process's failure is every one's */
    if (st) return st;
    double t1 = time_now();
    if ((st = agent_rollout_stats(A, s, e))) return st;
    st = agent_update(A, s, e);
    if (st) return st;
    s->collect_seconds = t1 - t0;
    s->update_seconds = time_now() - t1;
    A->iteration++;
    A->env_steps += (int64_t)A->cfg.n_steps * A->dims.n_envs * A->cfg.parts; /* every process's */
    A->episodes += s->rollout_episodes;
    s->iteration = A->iteration;
    s->env_steps = A->env_steps;
    s->episodes = A->episodes;
    return ST_OK;
}
