/* train_log.h: what drrl-train reports per iteration: the progress line on stdout, the row of
 * RUN_DIR/metrics.csv, and the rollout files RUN_DIR/rollouts/iter-NNNNNNNN.h5.
 *
 * metrics.csv columns: iteration, env_steps, episodes, fps, seconds, reward_mean (mean reward
 * per step), ep_return_mean, then the environment's numbers (mean over the iteration's steps
 * of each info column; columns the environment lacks are empty): fidelity_mean, rel_err_mean,
 * latency_ratio, flops_ratio, bound_mean, kl_mean (per episode: the terminal KL), r_fid,
 * r_lat, r_bound, r_kl (the reward terms, per step), rank_mean, full_share, mask_rate,
 * bound_violations (a count: the sum over the iteration), then PPO's approx_kl,
 * clip_fraction, explained_variance, entropy, pg_loss, v_loss, grad_norm, lr, epochs_run,
 * nonfinite (updates skipped for a non-finite reward, loss or gradient: agent/ppo.h),
 * then rank_l0 .. rank_l{L-1} (mean chosen rank at each step of the episode, i.e. per layer).
 * fps and seconds are wall-clock; every other column is a function of the seeds (table
 * latency), so a resumed run reproduces them exactly.
 *
 * Rollout file (format "drrl-rollout" version 1, deflate-compressed, chunked; core/store.h):
 * every field of agent/ppo.h's Rollout under its name (obs, tok_mask, act_mask, action, logp,
 * value, reward, done, info, adv, ret), the info column names as text /info_names (one per
 * line), attributes iteration, n_steps, n_envs, first_slot (the global index of slot 0). With
 * several processes (core/dist.h) each writes its own slots' file: process 0 iter-N.h5,
 * process p iter-N.pP.h5. */
#ifndef DRRL_CMD_TRAIN_LOG_H
#define DRRL_CMD_TRAIN_LOG_H

#include <stdio.h>

#include "agent/ppo.h"
#include "core/err.h"

typedef struct {
    FILE *f;
    char path[4096];
    int n_layers;
} MetricsCsv;

/* metrics_open: open DIR/metrics.csv for appending; with resume_iteration >= 0 the rows of
   iterations after it are dropped first (a run resumed from an older checkpoint rewrites
   them); otherwise the file is started anew with its header. */
Status metrics_open(MetricsCsv *m, const char *dir, int n_layers, int64_t resume_iteration,
                    Err *e);
/* metrics_write: one row for the iteration just done (flushed). */
Status metrics_write(MetricsCsv *m, const PpoStats *s, const Agent *A, double seconds, double fps,
                     Err *e);
void metrics_close(MetricsCsv *m);

/* train_progress: one progress line on stdout. */
void train_progress(const PpoStats *s, const Agent *A, int64_t total_iterations, double fps,
                    double eta_seconds);

/* rollout_write: the agent's last rollout to DIR/rollouts/iter-NNNNNNNN.h5 (atomic). */
Status rollout_write(const char *dir, const Agent *A, Err *e);

/* info_col: index of the info column called name, or -1. */
int info_col(const EnvDims *d, const char *name);

#endif
