/* train_env.h: the environment drrl-train trains on, built from the config and wired into
 * agent/env_api.h's Env: the rank environment over the frozen model (env/rankenv.h: model,
 * factors calibrated or loaded from their cache, the latency table measured here unless a
 * checkpoint brings it) or the toy environment (env/toy.h). */
#ifndef DRRL_CMD_TRAIN_ENV_H
#define DRRL_CMD_TRAIN_ENV_H

#include "agent/env_api.h"
#include "attention/latency.h"
#include "pipeline/base_config.h"
#include "data/encode.h"
#include "env/rankenv.h"
#include "pipeline/train_config.h"

typedef struct {
    Env env;
    char type[16];          /* "rank" or "toy" */
    char model_sha256[65];  /* the frozen model's file hash ("" for toy) */
    LatencyTable lt;        /* the latency table (rank env, table mode) */
    int has_lt;
    void *impl;             /* the environment and everything it needs (train_env.c) */
} TrainEnv;

/* train_env_init: build the environment of c. In table latency mode the table is `given` (a
   resumed run's, from its checkpoint; checked against the model) or, when NULL, measured here.
   Prints what it loads and measures. */
Status train_env_init(TrainEnv *t, const TrainConfig *c, const LatencyTable *given, Err *e);
void train_env_free(TrainEnv *t);

/* TrainEvalOptions: the rank environment drrl-eval runs (train_env_init_eval). */
typedef struct {
    const char *split;             /* "dev" or "test": data.dev / data.test of the model's config
                                      (recall: the generated dev / test rows) */
    int batch;                     /* sequences per batch; 0: the model config's eval.batch */
    int max_m;                     /* Nystrom / Performer planned up to m (0: neither) */
    const LatencyTable *lt;        /* the checkpoint's table (required in table latency mode) */
    const char *const *base_over;  /* key=value overrides of the model's stored config (data.*) */
    int n_base_over;
    int min_bytes;                 /* > 0 (imdb only): reviews of at least this many bytes */
    int join;                      /* > 0 (imdb, test split only): instead of the reviews, inputs
                                      of exactly `join` bytes joined from consecutive same-label
                                      test reviews (data/imdb.h imdb_join), encoded at join + 2
                                      tokens (data.max_len is set to that) */
    int join_rows;                 /* with join or min_bytes: at most this many inputs (0: all;
                                      min_bytes keeps the first ones in file order) */
    int quiet;                     /* 1: print nothing (errors are returned) */
} TrainEvalOptions;

/* TrainEvalParts: what an evaluation needs besides the Env (owned by the TrainEnv). */
typedef struct {
    RankEnv *env;            /* over the split, c's guardrail and grid, batch o->batch */
    Ranked *R;               /* its ranked forward (max_B = batch, bounds, max_m) */
    const EncodedSet *set;   /* the split, encoded */
    const BaseConfig *base;  /* the model's stored config with the overrides */
    const char *desc;        /* where the split's rows came from (base_load_split) */
} TrainEvalParts;

/* train_env_init_eval: the rank environment of c (type rank) over a split of the model's data
   instead of the training rows: the same model, factors and reward settings; the latency table
   is o->lt (never measured). The factors are those of training whatever data.max_len says:
   their calibration rows are encoded at the model's stored data.max_len. Prints what it loads. */
Status train_env_init_eval(TrainEnv *t, const TrainConfig *c, const TrainEvalOptions *o, Err *e);
/* train_env_eval_parts: the pieces of an environment built by train_env_init_eval. */
void train_env_eval_parts(TrainEnv *t, TrainEvalParts *p);

#endif
