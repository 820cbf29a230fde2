/* train_config.c: schema of the drrl-train config (see train_config.h). The defaults are the
 * default SST-2 run; configs/sst2-drrl.yaml holds the same values, printed by
 * `drrl-train --print-config`. */
#include "pipeline/train_config.h"

#include <stddef.h>
#include <string.h>

#define F(path, type, member, def, lo, hi, help) \
    {path, type, offsetof(TrainConfig, member), 0, def, lo, hi, NULL, help}
#define E(path, member, def, choices, help) \
    {path, CF_ENUM, offsetof(TrainConfig, member), 0, def, 1, 0, choices, help}
static const ConfigField train_fields[] = {
    F("seed", CF_INT, seed, "1", 0, 2147483647, "seed of every random stream (policy init, actions, minibatches, episodes)"),
    E("env.type", env.type, "rank", "rank|toy", "rank: the frozen model's attention layers; toy: a synthetic layer stack with a known optimal policy"),
    F("env.model", CF_STRING, env.model, "\"runs/sst2-base/model.h5\"", 1, 0, "frozen model file (drrl-base); its stored config gives the data paths"),
    F("env.factors", CF_STRING, env.factors, "\"\"", 1, 0, "factor cache file (empty: MODEL.factors.h5)"),
    F("env.calib_rows", CF_INT, env.calib_rows, "2048", 1, 1 << 30, "training sentences that calibrate the whitened factors"),
    F("env.train_rows", CF_INT, env.train_rows, "0", 0, 1 << 30, "episodes draw from the first N training rows (0: all)"),
    F("env.min_tokens", CF_INT, env.min_tokens, "0", 0, 1 << 20, "episodes draw only from training rows of at least this many tokens (SST-2 training phrases are much shorter than dev sentences)"),
    E("env.kind", env.kind, "whitened", "whitened|plain", "weight-level factors truncated in the whitened or the plain space"),
    F("env.ranks", CF_INT_LIST, env.ranks, "[2, 4, 8, 16, 32]", 1, 4096, "rank grid per head; exact attention ('full') is always the last action"),
    F("env.segment", CF_INT, env.segment, "0", 0, 1 << 20, "query tokens per segment (0: one segment per sequence)"),
    F("env.per_head", CF_BOOL, env.per_head, "false", 0, 0, "a rank per (segment, head) instead of per segment (the paper's setting): the policy's action heads are the segments' heads, the guardrail bounds each head at epsilon / n_heads"),
    F("env.batch", CF_INT, env.batch, "32", 1, 4096, "sequences per batch = episodes run side by side"),
    F("env.bucket", CF_BOOL, env.bucket, "true", 0, 0, "length-bucketed batches"),
    F("env.probe_features", CF_BOOL, env.probe_features, "false", 0, 0, "observe, per segment, the measured change of each layer's attention between the two smallest grid ranks (two low-rank attentions per layer, counted as decision cost: drrl-signals' best layer-0 predictor of an input's KL)"),
    F("env.probe_layers", CF_INT, env.probe_layers, "0", 0, 1024, "probe features in layers 0 .. N-1 only (0: every layer); on SST-2 layer 0 carries most of an input's KL"),
    F("env.head_features", CF_BOOL, env.head_features, "false", 0, 0, "observe the frozen classifier head applied to each layer's input (margin, entropy, top probability of the running hidden state: drrl-signals' best cheap predictor of an input's KL)"),
    F("env.alpha", CF_FLOAT, env.alpha, "1.0", 0, 1e9, "weight of the fidelity (cosine) term per layer"),
    F("env.beta", CF_FLOAT, env.beta, "0.5", 0, 1e9, "weight of the latency ratio term per layer"),
    F("env.gamma", CF_FLOAT, env.gamma, "0.1", 0, 1e9, "weight of the perturbation-bound term per layer"),
    F("env.lambda", CF_FLOAT, env.lambda, "2000", 0, 1e12, "weight of the terminal KL(p_full || p_r) in nats"),
    F("env.epsilon", CF_FLOAT, env.epsilon, "8.0", 0, 1e12, "guardrail: mask ranks whose proven bound on the relative error of the layer's attention output exceeds it (the bound sits ~20x above the measured error: 8 masks ~8% of the grid on SST-2 dev, 1 masks ~60%)"),
    E("env.guard", env.guard, "output", "output|input|none", "guardrail and observation bound relative to the exact attention output (needs exact attention before deciding: not deployable), to the layer input (deployable without a teacher), or none (no bounds, no guardrail, no bound term: the cheapest decision)"),
    E("env.bound", env.bound, "tight", "tight|cheap", "perturbation bound of the guardrail, observation and reward: tight (projections of every token, 3/4 of exact attention's projection work) or cheap (token norms only)"),
    E("env.latency", env.latency, "table", "table|live", "latency from the calibrated table (deterministic) or measured live"),
    F("env.threads", CF_INT, env.threads, "1", 0, 1024, "OpenMP threads (0: OMP_NUM_THREADS); per-sequence layers of short inputs run best on 1"),
    F("toy.batch", CF_INT, toy.batch, "16", 1, 4096, "toy environment: episodes side by side"),
    F("toy.segments", CF_INT, toy.segments, "2", 1, 4, "toy environment: segments (action heads) per observation"),
    F("toy.noise", CF_FLOAT, toy.noise, "0.3", 0, 100, "toy environment: std of the noise features"),
    F("policy.width", CF_INT, policy.width, "64", 4, 4096, "policy transformer width"),
    F("policy.layers", CF_INT, policy.layers, "2", 1, 16, "policy transformer blocks"),
    F("policy.heads", CF_INT, policy.heads, "4", 1, 64, "attention heads of each block (divide the width)"),
    F("policy.ffn", CF_INT, policy.ffn, "256", 1, 65536, "feed-forward width"),
    F("ppo.iterations", CF_INT, ppo.iterations, "300", 1, 1 << 30, "PPO iterations (collect + update)"),
    F("ppo.episodes", CF_INT, ppo.episodes, "4", 1, 1 << 20, "episodes per slot per iteration (steps = episodes x layers)"),
    F("ppo.epochs", CF_INT, ppo.epochs, "4", 1, 1000, "update passes over each rollout"),
    F("ppo.minibatch", CF_INT, ppo.minibatch, "128", 1, 1 << 20, "observations per minibatch"),
    F("ppo.norm_adv", CF_BOOL, ppo.norm_adv, "true", 0, 0, "normalise advantages per minibatch"),
    F("ppo.gamma", CF_FLOAT, ppo.gamma, "0.99", 0, 1, "discount"),
    F("ppo.lam", CF_FLOAT, ppo.lam, "0.95", 0, 1, "GAE lambda"),
    F("ppo.clip", CF_FLOAT, ppo.clip, "0.2", 0, 10, "surrogate clip range"),
    F("ppo.clip_vloss", CF_FLOAT, ppo.clip_vloss, "0", 0, 1e6, "value clip range (0: unclipped value loss)"),
    F("ppo.vf_coef", CF_FLOAT, ppo.vf_coef, "0.5", 0, 1e6, "value loss coefficient"),
    F("ppo.ent_coef", CF_FLOAT, ppo.ent_coef, "0.01", 0, 1e6, "entropy bonus coefficient"),
    F("ppo.max_grad_norm", CF_FLOAT, ppo.max_grad_norm, "0.5", 0, 1e6, "global gradient-norm clip (0: off)"),
    F("ppo.target_kl", CF_FLOAT, ppo.target_kl, "0.03", 0, 1e6, "stop an update's epochs past this approx_kl (0: never)"),
    F("ppo.max_nonfinite", CF_INT, ppo.max_nonfinite, "8", 0, 1 << 20, "updates in a row that may be skipped for a non-finite reward, loss or gradient before the run stops (0: stop at the first)"),
    F("ppo.lr", CF_FLOAT, ppo.lr, "0.0003", 1e-9, 1, "Adam learning rate at the first iteration"),
    F("ppo.lr_final", CF_FLOAT, ppo.lr_final, "0", 0, 1, "learning rate at the last iteration (linear schedule)"),
    F("ppo.adam_eps", CF_FLOAT, ppo.adam_eps, "0.00001", 1e-12, 1, "Adam epsilon"),
    F("latency.file", CF_STRING, latency.file, "\"\"", 1, 0, "latency table to use (drrl-bench --calibrate or a run's latency.h5); empty: measure it at start"),
    F("latency.buckets", CF_INT_LIST, latency.buckets, "[8, 16, 24, 32, 48, 64]", 1, 1 << 20, "sequence lengths of the latency table"),
    F("latency.warmup", CF_INT, latency.warmup, "3", 0, 1000, "discarded runs per table entry"),
    F("latency.reps", CF_INT, latency.reps, "15", 1, 100000, "timed runs per table entry (median)"),
    F("run.dir", CF_STRING, run.dir, "\"runs/sst2-drrl\"", 1, 0, "output directory (metrics.csv, checkpoints/, rollouts/)"),
    F("run.checkpoint_every", CF_INT, run.checkpoint_every, "10", 1, 1 << 24, "checkpoint period (iterations); also at the end and on SIGINT/SIGTERM"),
    F("run.keep", CF_INT, run.keep, "3", 1, 1000, "checkpoints kept (older ones are removed)"),
    F("run.rollouts_every", CF_INT, run.rollouts_every, "10", 0, 1 << 24, "rollout file period (iterations; 0: none)"),
    F("run.stop_at", CF_INT, run.stop_at, "0", 0, 1 << 30, "stop (with a checkpoint) once this many iterations are done (0: all); the schedule still spans ppo.iterations"),
    F("run.log_every", CF_INT, run.log_every, "1", 1, 1 << 24, "progress line period (iterations)"),
};
#undef F
#undef E

static Status train_validate(const void *p, const char *src, Err *e) {
    const TrainConfig *c = p;
    if (c->policy.width % c->policy.heads)
        return err_set(e, ST_CONFIG, "%s: policy.heads: expected a divisor of policy.width (%d), found %d",
                       src, c->policy.width, c->policy.heads);
    for (int i = 1; i < c->env.ranks.n; i++)
        if (c->env.ranks.v[i] <= c->env.ranks.v[i - 1])
            return err_set(e, ST_CONFIG, "%s: env.ranks[%d]: expected increasing ranks (> %d), found %d",
                           src, i, c->env.ranks.v[i - 1], c->env.ranks.v[i]);
    for (int i = 1; i < c->latency.buckets.n; i++)
        if (c->latency.buckets.v[i] <= c->latency.buckets.v[i - 1])
            return err_set(e, ST_CONFIG, "%s: latency.buckets[%d]: expected increasing lengths (> %d), found %d",
                           src, i, c->latency.buckets.v[i - 1], c->latency.buckets.v[i]);
    if (c->ppo.lr_final > c->ppo.lr)
        return err_set(e, ST_CONFIG, "%s: ppo.lr_final: expected <= ppo.lr (%g), found %g", src,
                       c->ppo.lr, c->ppo.lr_final);
    return ST_OK;
}

const ConfigSchema train_schema = {"drrl-train config", train_fields,
                                   (int)(sizeof train_fields / sizeof train_fields[0]),
                                   train_validate};

PpoConfig train_ppo_config(const TrainConfig *c, int max_steps) {
    PpoConfig p = {0};
    p.n_steps = c->ppo.episodes * max_steps;
    p.epochs = c->ppo.epochs;
    p.minibatch = c->ppo.minibatch;
    p.gamma = (float)c->ppo.gamma, p.lam = (float)c->ppo.lam;
    p.clip = (float)c->ppo.clip, p.clip_vloss = (float)c->ppo.clip_vloss;
    p.vf_coef = (float)c->ppo.vf_coef, p.ent_coef = (float)c->ppo.ent_coef;
    p.max_grad_norm = (float)c->ppo.max_grad_norm, p.target_kl = (float)c->ppo.target_kl;
    p.lr = (float)c->ppo.lr, p.lr_final = (float)c->ppo.lr_final;
    p.iterations = c->ppo.iterations;
    p.adam_eps = (float)c->ppo.adam_eps;
    p.norm_adv = c->ppo.norm_adv;
    p.max_nonfinite = c->ppo.max_nonfinite;
    return p;
}

PolicyConfig train_policy_config(const TrainConfig *c) {
    PolicyConfig pc = {.width = c->policy.width, .layers = c->policy.layers,
                       .attn_heads = c->policy.heads, .ffn = c->policy.ffn};
    return pc;
}
