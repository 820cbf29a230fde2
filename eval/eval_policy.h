/* eval_policy.h: a trained rank policy opened for evaluation (drrl-eval, drrl-sweep): the
 * checkpoint (a run directory means its newest one), the train config it stores (or a given
 * one, with key=value overrides), the frozen model it must have been trained on (SHA-256
 * compared), its latency table (or latency.file=X's) and the policy network restored against
 * an evaluation environment (pipeline/train_env.h train_env_init_eval). */
#ifndef DRRL_CMD_EVAL_POLICY_H
#define DRRL_CMD_EVAL_POLICY_H

#include <stddef.h>

#include "agent/ppo.h"
#include "attention/latency.h"
#include "pipeline/train_config.h"
#include "pipeline/train_env.h"

typedef struct {
    const char *arg;          /* CKPT.h5 or RUN_DIR */
    const char *cfg_path;     /* NULL: the checkpoint's stored config */
    const char *const *over;  /* key=value overrides of the train config */
    int n_over;
    const char *latency_file; /* NULL or "": the checkpoint's latency table */
} EvalCkptArgs;

typedef struct {
    char path[4096];          /* the checkpoint file */
    TrainConfig c;            /* its train config, overrides applied */
    LatencyTable lt;          /* table latency mode: the table evaluations are charged */
    int has_lt;
} EvalCkpt;

/* eval_ckpt_open: resolve, read and check a rank-environment checkpoint (ST_FORMAT for a toy
   checkpoint or one trained on another model file than c.env.model). Prints which latency
   table replaces the checkpoint's. */
Status eval_ckpt_open(EvalCkpt *k, const EvalCkptArgs *a, Err *e);

/* eval_policy_load: A initialised for t's dimensions and restored from k (the environment's
   saved state, the training batch order, is not applied to t); *seconds = training time. */
Status eval_policy_load(Agent *A, const EvalCkpt *k, TrainEnv *t, double *seconds, Err *e);

#endif
