/* ppo_update.c: the PPO update of one rollout. GAE (gae.h) gives adv and ret; then for each of
 * cfg.epochs epochs a fresh permutation of the N = S*E samples (identity shuffled by rng_mb,
 * as SB3's per-epoch np.random.permutation) is cut into minibatches of cfg.minibatch (the last
 * one smaller when N is not a multiple, as SB3), and per minibatch:
 *     gather -> policy_forward -> ppo_loss (ppo_loss.h) -> zero grads -> policy_backward
 *     -> global-norm clip to max_grad_norm -> Adam (weight decay 0, betas (0.9, 0.999),
 *        eps cfg.adam_eps, lr agent_lr(cfg, iteration))
 * Target KL (cfg.target_kl > 0): checked per minibatch BEFORE its step, as SB3 does (cleanrl
 * checks only after each epoch): when the minibatch's approx_kl exceeds target_kl (no 1.5
 * factor: SB3's behaviour is target_kl * 1.5 here) that minibatch takes no step and the update
 * stops; its losses still count in the statistics. Epochs_run counts the epochs completed in
 * full. Statistics: pg_loss, v_loss, entropy, clip_fraction, grad_norm are means over the
 * minibatches evaluated (clip_fraction weighted by size); approx_kl is the mean over the
 * samples of the last epoch evaluated;
 *     explained_variance = 1 - Var(ret - value) / Var(ret) (population variances; NaN when
 *                          Var(ret) = 0, as cleanrl and SB3).
 * Non-finite numbers (ppo.h): a non-finite reward skips the update, a non-finite loss or
 * gradient norm skips its minibatch's step; more than cfg.max_nonfinite skips in a row stop
 * with ST_NUMERIC. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/gae.h"
#include "agent/ppo.h"
#include "agent/ppo_loss.h"
#include "agent/ppo_work.h"
#include "core/dist.h"

/* gather: minibatch rows r = 0..M-1 from rollout samples idx[r] */
static void gather(const Agent *A, AgentWork *W, const int32_t *idx, int M) {
    const Rollout *ro = &A->ro;
    const size_t T = (size_t)ro->n_tokens, D = (size_t)ro->token_dim;
    const size_t H = (size_t)ro->n_heads, Ac = (size_t)ro->n_actions;
    const int h0 = A->dims.head_token0;
    for (int r = 0; r < M; r++) {
        size_t k = (size_t)idx[r];
        memcpy(W->mb_obs + r * T * D, ro->obs + k * T * D, T * D * sizeof(float));
        memcpy(W->mb_tm + r * T, ro->tok_mask + k * T, T);
        memcpy(W->mb_am + r * H * Ac, ro->act_mask + k * H * Ac, H * Ac);
        memcpy(W->mb_action + r * H, ro->action + k * H, H * sizeof(int32_t));
        for (size_t j = 0; j < H; j++)
            W->mb_active[r * H + j] = ro->tok_mask[k * T + (size_t)h0 + j] ? 1 : 0;
        W->mb_old_logp[r] = ro->logp[k];
        W->mb_adv[r] = ro->adv[k];
        W->mb_ret[r] = ro->ret[k];
        W->mb_old_value[r] = ro->value[k];
    }
}

/* explained_variance: 1 - Var(y - yhat) / Var(y), NaN if Var(y) = 0 */
static double explained_variance(const float *y, const float *yhat, size_t n) {
    double sy = 0.0, sd = 0.0;
    for (size_t i = 0; i < n; i++) {
        sy += (double)y[i];
        sd += (double)y[i] - (double)yhat[i];
    }
    double my = sy / (double)n, md = sd / (double)n, vy = 0.0, vd = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = (double)y[i] - my, b = (double)y[i] - (double)yhat[i] - md;
        vy += a * a;
        vd += b * b;
    }
    return vy == 0.0 ? NAN : 1.0 - vd / vy;
}

/* step: backward of this process's M samples, the gradient summed over every process, clip,
   Adam; *norm the global gradient norm before clipping. *taken 0 (nothing changed: no Adam
   step) when the norm is not finite. */
static Status step(Agent *A, AgentWork *W, int M, const AdamWGroup *g, double *norm,
                   int *taken, Err *e) {
    Policy *pi = A->pi;
    size_t n = policy_n_params(pi);
    float *grads = policy_grads(pi);
    policy_zero_grad(pi);
    if (M) policy_backward(pi, W->dlogits, W->dvalue);
    Status st = A->cfg.parts > 1 ? dist_sum_f32(grads, n, e) : ST_OK;
    if (st) return err_prefix(e, "agent_update: the gradient's sum"), st;
    *norm = grad_clip_norm(&grads, &n, 1, (double)A->cfg.max_grad_norm);
    *taken = isfinite(*norm);
    if (!*taken) return ST_OK;
    optim_step_begin(&A->step);
    adamw_update(policy_params(pi), A->adam_m, A->adam_v, grads, g, &A->step, n);
    A->nonfinite_run = 0;
    return ST_OK;
}

static Status skip(Agent *A, PpoStats *s, Err *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* unsign: x, with a NaN's sign bit cleared */
static double unsign(double x) { return isnan(x) ? NAN : x; }

/* skip: one update skipped for a non-finite number (the reason: fmt ...), counted; ST_NUMERIC
   when that makes more than cfg.max_nonfinite in a row */
static Status skip(Agent *A, PpoStats *s, Err *e, const char *fmt, ...) {
    va_list ap; /* callers pass NaNs through unsign() so that none prints as "-nan" */
    va_start(ap, fmt);
    vsnprintf(s->skip_reason, sizeof s->skip_reason, fmt, ap);
    va_end(ap);
    s->skipped++;
    A->nonfinite_total++;
    if (++A->nonfinite_run <= A->cfg.max_nonfinite) return ST_OK;
    return err_set(e, ST_NUMERIC, "agent_update: iteration %lld: %lld updates in a row skipped "
                   "for non-finite numbers, the last for %s: expected at most ppo.max_nonfinite "
                   "= %d in a row; stopping (the last checkpoint is intact)",
                   (long long)A->iteration + 1, (long long)A->nonfinite_run, s->skip_reason,
                   A->cfg.max_nonfinite);
}

/* skip_rollout: a non-finite reward (GAE would carry it into every return): no update; k its
   local index on process who (k < 0: another process's) */
static Status skip_rollout(Agent *A, PpoStats *s, int k, int who, Err *e) {
    const Rollout *ro = &A->ro;
    s->lr = agent_lr(&A->cfg, A->iteration);
    s->pg_loss = s->v_loss = s->entropy = s->approx_kl = NAN;
    s->clip_fraction = s->explained_variance = s->grad_norm = NAN;
    s->epochs_run = 0;
    s->updates = 0;
    s->kl_stop = 0;
    if (k < 0) return skip(A, s, e, "a non-finite reward on process %d", who);
    return skip(A, s, e, "a reward of %g (step %d, slot %d)", unsign(ro->reward[k]),
                k / ro->n_envs, A->cfg.part * ro->n_envs + k % ro->n_envs);
}

/* local_samples: the samples of this process among the global samples perm[0..Mg) (global
   sample g = t E_g + slot; this process holds slots part n_envs ..), as local rollout indices
   into W->mb_idx in minibatch order; their count */
static int local_samples(const Agent *A, AgentWork *W, const int32_t *perm, int Mg) {
    const int El = A->ro.n_envs, Eg = El * A->cfg.parts, lo = A->cfg.part * El;
    int M = 0;
    for (int r = 0; r < Mg; r++) {
        const int t = perm[r] / Eg, slot = perm[r] % Eg;
        if (slot >= lo && slot < lo + El) W->mb_idx[M++] = t * El + slot - lo;
    }
    return M;
}

/* moments: the mean and unbiased standard deviation of the whole minibatch's advantages
   (the M local ones, Mg in all), as ppo_loss computes them for a whole one */
static Status moments(const AgentWork *W, int M, int Mg, double *mean, double *std, Err *e) {
    double sum = 0.0, ss = 0.0;
    for (int m = 0; m < M; m++) sum += (double)W->mb_adv[m];
    Status st = dist_sum_f64(&sum, 1, e);
    if (st) return st;
    *mean = sum / (double)Mg;
    for (int m = 0; m < M; m++) {
        const double d = (double)W->mb_adv[m] - *mean;
        ss += d * d;
    }
    if ((st = dist_sum_f64(&ss, 1, e))) return st;
    *std = Mg > 1 ? sqrt(ss / (double)(Mg - 1)) : 0.0;
    return ST_OK;
}

/* part_loss: forward and loss of this process's part of a minibatch (M of Mg samples, the
   statistics summed over every process); M = 0 leaves dlogits and dvalue unused */
static Status part_loss(Agent *A, AgentWork *W, PpoBatch *b, int M, int Mg, PpoLossStats *ls,
                        Err *e) {
    const PpoConfig *c = &A->cfg;
    gather(A, W, W->mb_idx, M);
    Status st = M ? policy_forward(A->pi, W->logp, W->value, W->mb_obs, W->mb_tm, W->mb_am, M, e)
                  : ST_OK;
    if (c->parts > 1) st = dist_agree(st, e); /* a failed forward stops every process here */
    if (st) return err_prefix(e, "agent_update"), st;
    b->M = M, b->M_total = Mg, b->moments_given = c->parts > 1;
    if (c->parts > 1 && c->norm_adv && Mg > 1 &&
        (st = moments(W, M, Mg, &b->adv_mean, &b->adv_std, e)))
        return st;
    memset(ls, 0, sizeof *ls);
    if (M) ppo_loss(b, c, W->dlogits, W->dvalue, ls);
    if (c->parts == 1) return ST_OK;
    double v[6] = {ls->loss, ls->pg_loss, ls->v_loss, ls->entropy, ls->approx_kl,
                   ls->clip_fraction};
    if ((st = dist_sum_f64(v, 6, e))) return st;
    *ls = (PpoLossStats){v[0], v[1], v[2], v[3], v[4], v[5]};
    return ST_OK;
}

/* explained_variance_all: explained_variance over every process's samples */
static Status explained_variance_all(const Agent *A, double *ev, Err *e) {
    const Rollout *ro = &A->ro;
    const size_t n = (size_t)ro->n_steps * ro->n_envs;
    if (A->cfg.parts == 1) return *ev = explained_variance(ro->ret, ro->value, n), ST_OK;
    double m[2] = {0.0, 0.0}, v[2] = {0.0, 0.0}; /* sums of y and y - yhat, then squares */
    for (size_t i = 0; i < n; i++) {
        m[0] += (double)ro->ret[i];
        m[1] += (double)ro->ret[i] - (double)ro->value[i];
    }
    Status st = dist_sum_f64(m, 2, e);
    if (st) return st;
    const double N = (double)n * A->cfg.parts, my = m[0] / N, md = m[1] / N;
    for (size_t i = 0; i < n; i++) {
        double a = (double)ro->ret[i] - my, d = (double)ro->ret[i] - (double)ro->value[i] - md;
        v[0] += a * a, v[1] += d * d;
    }
    if ((st = dist_sum_f64(v, 2, e))) return st;
    *ev = v[0] == 0.0 ? NAN : 1.0 - v[1] / v[0];
    return ST_OK;
}

/* bad_reward: the first non-finite reward of any process: its local index on the process
   that has it (-1 elsewhere), *who its process (-1: none) */
static Status bad_reward(const Agent *A, int *k, int *who, Err *e) {
    const Rollout *ro = &A->ro;
    const int N = ro->n_steps * ro->n_envs, P = A->cfg.parts;
    *k = -1;
    for (int i = 0; i < N && *k < 0; i++)
        if (!isfinite(ro->reward[i])) *k = i;
    double v = *k >= 0 ? (double)(P - A->cfg.part) : 0.0; /* the lowest process wins */
    Status st = P > 1 ? dist_max_f64(&v, 1, e) : ST_OK;
    *who = v > 0 ? P - (int)v : -1;
    if (*who != A->cfg.part) *k = -1;
    return st;
}

Status agent_update(Agent *A, PpoStats *s, Err *e) {
    AgentWork *W = A->work;
    Rollout *ro = &A->ro;
    const PpoConfig *c = &A->cfg;
    const int N = ro->n_steps * ro->n_envs * c->parts, MB = W->mb_cap; /* every process's */
    int bad, who;
    Status st = bad_reward(A, &bad, &who, e);
    if (st) return st;
    if (who >= 0) return skip_rollout(A, s, bad, who, e);
    gae_compute(ro->adv, ro->ret, ro->reward, ro->value, ro->done, ro->n_steps, ro->n_envs,
                (double)c->gamma, (double)c->lam);
    if ((st = explained_variance_all(A, &s->explained_variance, e))) return st;
    s->lr = agent_lr(c, A->iteration);
    AdamWGroup g = adamw_group((float)s->lr, 0.0f);
    g.eps = c->adam_eps;

    PpoBatch b = {.n_heads = ro->n_heads, .n_actions = ro->n_actions, .logp = W->logp,
                  .active = W->mb_active, .action = W->mb_action, .old_logp = W->mb_old_logp,
                  .adv = W->mb_adv, .ret = W->mb_ret, .old_value = W->mb_old_value,
                  .value = W->value};
    double pg = 0.0, vl = 0.0, ent = 0.0, cf = 0.0, gn = 0.0, kl = 0.0;
    int64_t n_mb = 0, n_samples = 0, n_steps = 0, kl_n = 0;
    int stop = 0, epochs_run = 0;
    for (int ep = 0; ep < c->epochs && !stop; ep++) {
        for (int j = 0; j < N; j++) W->perm[j] = j;
        rng_shuffle(&A->rng_mb, W->perm, N);
        kl = 0.0;
        kl_n = 0;
        for (int start = 0; start < N && !stop; start += MB) {
            const int Mg = N - start < MB ? N - start : MB;
            const int M = local_samples(A, W, W->perm + start, Mg);
            PpoLossStats ls;
            if ((st = part_loss(A, W, &b, M, Mg, &ls, e))) return st;
            if (!isfinite(ls.loss)) { /* no step, and out of the statistics */
                if ((st = skip(A, s, e, "a loss of %g (epoch %d: pg %g, value %g, entropy %g)",
                               unsign(ls.loss), ep, unsign(ls.pg_loss), unsign(ls.v_loss),
                               unsign(ls.entropy))))
                    return st;
                continue;
            }
            pg += ls.pg_loss;
            vl += ls.v_loss;
            ent += ls.entropy;
            cf += ls.clip_fraction * Mg;
            kl += ls.approx_kl * Mg;
            kl_n += Mg;
            n_mb++;
            n_samples += Mg;
            if (c->target_kl > 0.0f && ls.approx_kl > (double)c->target_kl) {
                stop = 1;
                break;
            }
            double norm;
            int taken;
            if ((st = step(A, W, M, &g, &norm, &taken, e))) return st;
            if (!taken) {
                if ((st = skip(A, s, e, "a gradient norm of %g (epoch %d)", unsign(norm), ep)))
                    return st;
                continue;
            }
            gn += norm;
            n_steps++;
        }
        if (!stop) epochs_run++;
    }
    s->pg_loss = n_mb ? pg / (double)n_mb : NAN;
    s->v_loss = n_mb ? vl / (double)n_mb : NAN;
    s->entropy = n_mb ? ent / (double)n_mb : NAN;
    s->clip_fraction = n_samples ? cf / (double)n_samples : NAN;
    s->approx_kl = kl_n ? kl / (double)kl_n : NAN;
    s->grad_norm = n_steps ? gn / (double)n_steps : 0.0;
    s->epochs_run = epochs_run;
    s->updates = n_steps;
    s->kl_stop = stop;
    return ST_OK;
}
