/* train_config.h: the configuration of drrl-train (configs/sst2-drrl.yaml, configs/toy.yaml):
 * its struct, its schema and its cross-field checks. The defaults are the default SST-2 run. */
#ifndef DRRL_CMD_TRAIN_CONFIG_H
#define DRRL_CMD_TRAIN_CONFIG_H

#include "agent/ppo.h"
#include "core/config.h"

typedef struct {
    int seed;
    struct {
        char type[CONFIG_STR_MAX];      /* "rank" (the frozen model) or "toy" */
        char model[CONFIG_STR_MAX];     /* the frozen model file (drrl-base) */
        char factors[CONFIG_STR_MAX];   /* factors cache ("": MODEL.factors.h5) */
        int calib_rows;
        int train_rows;                 /* episodes draw from the first N training rows (0: all) */
        int min_tokens;                 /* ... of at least this many tokens ([CLS], [SEP] included) */
        char kind[CONFIG_STR_MAX];      /* "whitened" or "plain" */
        IntList ranks;                  /* the rank grid; "full" (exact) is added as last action */
        int segment;                    /* T query tokens per segment (0: one per sequence) */
        int batch;                      /* sequences per episode batch = parallel episodes */
        int bucket;                     /* length-bucketed batches */
        int per_head;                   /* a rank per (segment, head) */
        int head_features;              /* observe the frozen head on the running state */
        int probe_features;             /* observe the attention change between 2 ranks */
        int probe_layers;               /* ... in layers 0 .. N-1 only (0: every layer) */
        double alpha, beta, gamma, lambda, epsilon;
        char latency[CONFIG_STR_MAX];   /* "table" or "live" */
        char guard[CONFIG_STR_MAX];     /* "output", "input" (the guard's denominator) or
                                           "none" (no bounds) */
        char bound[CONFIG_STR_MAX];     /* "tight" or "cheap" */
        int threads;                    /* OpenMP threads of the environment's kernels */
    } env;
    struct {
        int batch, segments;
        double noise;
    } toy;
    struct {
        int width, layers, heads, ffn;
    } policy;
    struct {
        int iterations, episodes, epochs, minibatch, norm_adv, max_nonfinite;
        double gamma, lam, clip, clip_vloss, vf_coef, ent_coef, max_grad_norm, target_kl;
        double lr, lr_final, adam_eps;
    } ppo;
    struct {
        char file[CONFIG_STR_MAX];      /* "" : measure; else a drrl-latency file */
        IntList buckets;
        int warmup, reps;
    } latency;
    struct {
        char dir[CONFIG_STR_MAX];
        int checkpoint_every, keep, rollouts_every, log_every, stop_at;
    } run;
} TrainConfig;

extern const ConfigSchema train_schema;

/* train_ppo_config: the PPO settings of c for episodes of max_steps steps (n_steps =
   ppo.episodes x max_steps). */
PpoConfig train_ppo_config(const TrainConfig *c, int max_steps);
/* train_policy_config: the policy architecture of c (the sizes of the observation are the
   environment's, filled by agent_init). */
PolicyConfig train_policy_config(const TrainConfig *c);

#endif
