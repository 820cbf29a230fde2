/* base_ckpt.h: checkpoints of drrl-base training, so that an interrupted run resumes
 * bit-exactly: parameters, AdamW moments and step, every RNG state, the position in the
 * epoch, the best dev accuracy so far, the resolved config and the data/vocab hashes.
 * HDF5 format "drrl-base-ckpt" version 2 (version 1 still loads: it lacks the root
 * attributes run_id, nonfinite_total and nonfinite_run, read as "", 0, 0), written
 * atomically (core/store.h). */
#ifndef DRRL_CMD_BASE_CKPT_H
#define DRRL_CMD_BASE_CKPT_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/bert.h"
#include "nn/optim.h"

typedef struct {
    int64_t step;        /* batches taken: optimizer steps and steps skipped (non-finite) */
    int epoch;           /* current epoch (0-based) */
    int batch;           /* next batch of the epoch's plan */
    double best_dev;     /* best dev score so far (-1: none yet): accuracy, or for a language
                            model 1 / bits per byte (higher is better in both) */
    double train_seconds; /* training time spent before this process (for the report) */
    Rng order_epoch;     /* order stream as it was before this epoch's plan was drawn */
    Rng order;           /* order stream now */
    Rng dropout;         /* dropout stream now */
    char vocab_sha[65], data_sha[65];
    char run_id[33];     /* the run's id (core/rundir.h) */
    int64_t nonfinite_total, nonfinite_run; /* steps skipped for non-finite numbers: in all, in a row */
} BaseProgress;

/* base_ckpt_save: write path atomically. adam_m, adam_v have n floats, the layout of the
   model's parameter allocation (n = m->param_plan.bytes / sizeof(float)). */
Status base_ckpt_save(const char *path, const Bert *m, const float *adam_m, const float *adam_v,
                      size_t n, const OptimStep *step, const BaseProgress *p,
                      const char *config_yaml, Err *e);

/* base_ckpt_load: read a checkpoint written for the same architecture into m, the moments,
   step and progress; *config_yaml receives the stored config (malloc'd, caller frees; NULL
   after a failure). */
Status base_ckpt_load(const char *path, Bert *m, float *adam_m, float *adam_v, size_t n,
                      OptimStep *step, BaseProgress *p, char **config_yaml, Err *e);

/* base_ckpt_config: only the stored config text of a checkpoint (malloc'd; NULL after a
   failure). */
Status base_ckpt_config(const char *path, char **config_yaml, Err *e);

#endif
