/* ppo_collect.c: rollout collection and its statistics. agent_collect runs cfg.n_steps steps
 * of the E episode slots: env->reset, then per step t
 *     logp, V = policy_forward(obs_t)                  (E observations at once)
 *     a_{t,i,k} ~ Categorical(exp(logp[i, k]))          per active head k (dist.h), drawn from
 *                                                       slot i's stream rng_act[i] in k order
 *     logp_{t,i} = sum over active heads of logp[i, k, a_{t,i,k}]
 *     env->step(a_t) -> r_t, done_t, info_t, obs_{t+1}; env->reset after done
 * storing every field in A->ro (obs_{t+1} is written straight into the rollout). Episodes of
 * one rollout end together (the Env contract): done must be all 0 or all 1 at every step,
 * and all 1 at the last. */
#include <math.h>
#include <string.h>

#include "agent/dist.h"
#include "agent/ppo.h"
#include "agent/ppo_work.h"
#include "core/dist.h"

/* check_dims: the environment is the one the agent was planned for */
static Status check_dims(const EnvDims *a, const EnvDims *b, Err *e) {
    if (a->n_envs != b->n_envs || a->n_tokens != b->n_tokens || a->token_dim != b->token_dim ||
        a->n_heads != b->n_heads || a->head_token0 != b->head_token0 ||
        a->value_token != b->value_token || a->n_actions != b->n_actions ||
        a->max_steps != b->max_steps || a->n_info != b->n_info)
        return err_set(e, ST_INVALID,
                       "agent_collect: env dims (n_envs %d, n_tokens %d, token_dim %d, n_heads "
                       "%d, head_token0 %d, value_token %d, n_actions %d, max_steps %d, n_info "
                       "%d) differ from the agent's (%d, %d, %d, %d, %d, %d, %d, %d, %d)",
                       b->n_envs, b->n_tokens, b->token_dim, b->n_heads, b->head_token0,
                       b->value_token, b->n_actions, b->max_steps, b->n_info, a->n_envs,
                       a->n_tokens, a->token_dim, a->n_heads, a->head_token0, a->value_token,
                       a->n_actions, a->max_steps, a->n_info);
    return ST_OK;
}

/* sample_step: actions, joint logp and value of step t from the policy outputs in W */
static Status sample_step(Agent *A, AgentWork *W, int t, Err *e) {
    Rollout *ro = &A->ro;
    const int E = ro->n_envs, T = ro->n_tokens, H = ro->n_heads, Ac = ro->n_actions;
    const int h0 = A->dims.head_token0;
    for (int i = 0; i < E; i++) {
        size_t row = (size_t)t * E + i;
        const uint8_t *tm = ro->tok_mask + row * T;
        int32_t *act = ro->action + row * H;
        double joint = 0.0;
        for (int k = 0; k < H; k++) {
            act[k] = 0; /* inactive heads: 0 (ignored by the environment and the loss) */
            if (!tm[h0 + k]) continue;
            const float *lp = W->logp + ((size_t)i * H + k) * Ac;
            int a = dist_sample(lp, Ac, &A->rng_act[i]);
            if (a < 0)
                return err_set(e, ST_NUMERIC, "agent_collect: step %d episode %d head %d: no "
                               "allowed choice with a finite log-probability", t, i, k);
            act[k] = a;
            joint += (double)lp[a];
        }
        ro->logp[row] = (float)joint;
        ro->value[row] = W->value[i];
    }
    return ST_OK;
}

Status agent_collect(Agent *A, Env *env, Err *e) {
    AgentWork *W = A->work;
    Rollout *ro = &A->ro;
    const int S = ro->n_steps, E = ro->n_envs, T = ro->n_tokens, D = ro->token_dim;
    const int H = ro->n_heads, Ac = ro->n_actions, NI = ro->n_info;
    Status s = check_dims(&A->dims, &env->dims, e);
    if (s) return s;
    const size_t obs_step = (size_t)E * T * D, tm_step = (size_t)E * T;
    const size_t am_step = (size_t)E * H * Ac;
    s = env->reset(env->self, ro->obs, ro->tok_mask, ro->act_mask, e);
    if (s) return err_prefix(e, "agent_collect: reset"), s;
    for (int t = 0; t < S; t++) {
        float *obs = ro->obs + (size_t)t * obs_step;
        uint8_t *tm = ro->tok_mask + (size_t)t * tm_step;
        uint8_t *am = ro->act_mask + (size_t)t * am_step;
        s = policy_forward(A->pi, W->logp, W->value, obs, tm, am, E, e);
        if (s) return err_prefix(e, "agent_collect: step %d", t), s;
        s = sample_step(A, W, t, e);
        if (s) return s;
        /* the next observation goes to slot t + 1 (after the last step: the spare) */
        int last = t + 1 == S;
        float *obs1 = last ? W->obs_spare : obs + obs_step;
        uint8_t *tm1 = last ? W->tm_spare : tm + tm_step;
        uint8_t *am1 = last ? W->am_spare : am + am_step;
        size_t row = (size_t)t * E;
        uint8_t *done = ro->done + row;
        s = env->step(env->self, ro->action + row * H, obs1, tm1, am1, ro->reward + row, done,
                      ro->info + row * (size_t)(NI > 0 ? NI : 1), e);
        if (s) return err_prefix(e, "agent_collect: step %d", t), s;
        int n_done = 0;
        for (int i = 0; i < E; i++) n_done += done[i] ? 1 : 0;
        if ((n_done != 0 && n_done != E) || (last && n_done != E))
            return err_set(e, ST_INVALID, "agent_collect: step %d of %d: %d of %d episodes "
                           "ended (expected all to end together, at the latest at the "
                           "rollout's last step)", t, S, n_done, E);
        if (n_done && !last) {
            s = env->reset(env->self, obs1, tm1, am1, e);
            if (s) return err_prefix(e, "agent_collect: reset after step %d", t), s;
        }
    }
    return ST_OK;
}

Status agent_rollout_stats(const Agent *A, PpoStats *s, Err *e) {
    const Rollout *ro = &A->ro;
    const int S = ro->n_steps, E = ro->n_envs, NI = ro->n_info;
    /* sums over this process's slots, then over every process's: reward, returns, episodes,
       info columns */
    double sum[3 + ENV_MAX_INFO] = {0}, *info = sum + 3;
    double r_sum = 0.0, ret_sum = 0.0;
    int64_t n_ep = 0;
    for (int i = 0; i < E; i++) {
        double ep = 0.0; /* the running episode's summed reward */
        for (int t = 0; t < S; t++) {
            size_t k = (size_t)t * E + i;
            ep += (double)ro->reward[k];
            r_sum += (double)ro->reward[k];
            for (int j = 0; j < NI; j++) info[j] += (double)ro->info[k * NI + j];
            if (ro->done[k]) {
                ret_sum += ep;
                n_ep++;
                ep = 0.0;
            }
        }
    }
    sum[0] = r_sum, sum[1] = ret_sum, sum[2] = (double)n_ep; /* exact below 2^53 */
    Status st = A->cfg.parts > 1 ? dist_sum_f64(sum, 3 + (size_t)NI, e) : ST_OK;
    if (st) return err_prefix(e, "agent_rollout_stats"), st;
    r_sum = sum[0], ret_sum = sum[1], n_ep = (int64_t)sum[2];
    double n = (double)S * (double)E * A->cfg.parts;
    s->reward_mean = r_sum / n;
    s->ep_return_mean = n_ep ? ret_sum / (double)n_ep : 0.0;
    s->rollout_episodes = n_ep;
    for (int j = 0; j < ENV_MAX_INFO; j++) s->info_mean[j] = j < NI ? info[j] / n : 0.0;
    return ST_OK;
}
