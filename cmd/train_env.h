/* train_env.h: the environment drrl-train trains on, built from the config and wired into
 * agent/env_api.h's Env: the rank environment over the frozen model (env/rankenv.h: model,
 * factors calibrated or loaded from their cache, the latency table measured here unless a
 * checkpoint brings it) or the toy environment (env/toy.h). */
#ifndef DRRL_CMD_TRAIN_ENV_H
#define DRRL_CMD_TRAIN_ENV_H

#include "agent/env_api.h"
#include "attention/latency.h"
#include "train_config.h"

typedef struct {
    Env env;
    char type[16];          /* "rank" or "toy" */
    char model_sha256[65];  /* the frozen model's file hash ("" for toy) */
    LatencyTable lt;        /* the latency table (rank env, table mode) */
    int has_lt;
    void *impl;             /* the environment and everything it needs (train_env.c) */
} TrainEnv;

/* train_env_init: build the environment of c. measure_latency = 0 leaves the latency table to
   be loaded (from a checkpoint) before the first step. Prints what it loads and measures. */
Status train_env_init(TrainEnv *t, const TrainConfig *c, int measure_latency, Err *e);
void train_env_free(TrainEnv *t);

#endif
