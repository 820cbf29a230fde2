/* train_run.h: one drrl-train run: its config (a file, or a checkpoint's stored config, plus
 * overrides), the environment and agent built from it (resumed from the checkpoint when
 * given), the run directory's files, and the PPO loop with its metrics, rollouts and
 * checkpoints.
 *
 * Run directory: config.yaml (the resolved config), latency.h5 (the latency table in use,
 * reusable as latency.file), metrics.csv (pipeline/train_log.h), rollouts/iter-*.h5,
 * checkpoints/ckpt-*.h5 (every run.checkpoint_every iterations, at the end and when *stop is
 * set; the last run.keep kept). A resumed run continues weights, Adam moments, RNG streams,
 * counters, schedule position, environment state and latency table, so it equals an
 * uninterrupted one bit for bit in table latency mode. */
#ifndef DRRL_PIPELINE_TRAIN_RUN_H
#define DRRL_PIPELINE_TRAIN_RUN_H

#include <signal.h>
#include <stdio.h>

#include "agent/ppo.h"
#include "pipeline/train_config.h"
#include "core/rundir.h"
#include "pipeline/train_env.h"
#include "pipeline/train_log.h"

typedef struct {
    TrainConfig c;
    char *yaml;          /* the resolved config as YAML (owned) */
    char ckpt[4096];     /* the checkpoint resumed from ("" for a new run) */
    char last[4096];     /* the last checkpoint written */
    TrainEnv t;
    Agent A;
    PpoConfig pp;
    MetricsCsv mc;
    double seconds0;     /* training seconds before this process (resumed runs) */
    int64_t it0;         /* the iteration this process started at */
    int force;           /* --force: a new run may move another run's files aside */
    RunLock lock;        /* RUN_DIR/.lock, held while the run lives (core/rundir.h) */
    char run_id[33];     /* the run's id (rundir_new_id; kept across resumes) */
} TrainRun;

/* train_run_config: resolve r->c and r->yaml from cfg_path (NULL: the embedded defaults) and
   the overrides; with resume (a checkpoint in a run directory, or a run directory: its newest
   checkpoint) by the resume contract (pipeline/resume.h: the run continues in that
   directory; only the run-control keys may differ from the checkpoint's config, said on
   info). */
Status train_run_config(TrainRun *r, const char *cfg_path, const char *resume,
                        const char *const *over, int n_over, FILE *info, Err *e);

/* train_run_init: environment, agent (resumed when r->ckpt is set) and the run directory's
   config.yaml, latency.h5 and metrics.csv; a short description goes to info. */
Status train_run_init(TrainRun *r, FILE *info, Err *e);

/* train_run_loop: PPO iterations until ppo.iterations (or run.stop_at), or until *stop is
   set (after the iteration in progress); progress lines on stdout every run.log_every
   iterations; the final checkpoint's path in r->last. */
Status train_run_loop(TrainRun *r, volatile sig_atomic_t *stop, Err *e);

/* train_run_state_hash: SHA-256 (hex) of the training state: parameters, Adam moments and
   step, the agent's RNG streams and counters (equal for a straight and a resumed run). */
void train_run_state_hash(const TrainRun *r, char hex[65]);

void train_run_free(TrainRun *r);

#endif
