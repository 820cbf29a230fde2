/* train_ckpt.h: drrl-train checkpoints (docs/design.md section 7), HDF5 format
 * "drrl-train-ckpt" version 1, written atomically (core/store.h: temporary file, flush, fsync,
 * rename), so the previous checkpoint survives any crash:
 *   /config            the resolved config (YAML text)
 *   /policy/params     (n) float32, the flat parameters; /policy/layout (text): one line
 *                      "name offset dim0 dim1" per tensor, compared on load
 *   /adam/m, /adam/v   (n) float32 moments; attribute /adam t (steps taken)
 *   /rng/act/G         version 3: the action stream of global episode slot G (version 1
 *                      and 2: /rng/act, one stream for every slot)
 *   /rng/mb            the minibatch stream (uint64 words)
 *   /env/...           the environment's state (Env.save) of process 0
 *   /proc/p            version 3, several processes: process p's part (its /env and
 *                      /rng/act/G) as the bytes of an HDF5 file (train_ckpt_part.c); root
 *                      attribute processes: how many wrote it
 *   /latency/...       the latency table and the hardware it was measured on (rank env)
 *   root attributes    iteration, env_steps, episodes, seconds (training time so far),
 *                      env_type, model_sha256 (the frozen model's hash; "" for toy);
 *                      version 2: run_id (core/rundir.h: the run the file belongs to),
 *                      nonfinite_total, nonfinite_run (updates skipped, in all and in a row)
 * Loading checks the format, the base model's hash, the layout and every dataset's shape and
 * type; a mismatch is an error naming the file, the item, expected and found. */
#ifndef DRRL_CMD_TRAIN_CKPT_H
#define DRRL_CMD_TRAIN_CKPT_H

#include "agent/ppo.h"
#include "attention/latency.h"
#include "core/err.h"

#define TRAIN_CKPT_FORMAT "drrl-train-ckpt"
#define TRAIN_CKPT_VERSION 3 /* 2: run_id, nonfinite_*; 3: per-slot action streams */

typedef struct {
    const char *config_yaml;  /* save: the resolved config */
    char env_type[16];        /* "rank" or "toy" */
    char model_sha256[65];    /* "" for toy */
    double seconds;           /* training wall time so far */
    char run_id[33];          /* the run's id ("" in a version 1 file) */
    int policy_only;          /* load: the policy and the agent's shared state alone, not this
                                 process's part (an evaluation: its environment and slots
                                 are its own, and any process count may read it) */
} TrainCkptMeta;

/* TrainCkptParts: the parts of the other processes (train_ckpt_part.c): n processes, the
   bytes of process p's in-memory store at buf + len[0] + .. + len[p - 1] (len[0] = 0: process
   0's part is the checkpoint's own /env and /rng/act). NULL: one process. */
typedef struct {
    int n;
    const uint8_t *buf;
    const int64_t *len;
} TrainCkptParts;

/* train_ckpt_save: write path atomically, with the other processes' parts. lt may be NULL
   (toy env, or live latency). */
Status train_ckpt_save(const char *path, const Agent *A, Env *env, const LatencyTable *lt,
                       const TrainCkptMeta *m, const TrainCkptParts *parts, Err *e);

/* train_ckpt_part_save: this process's part (its environment's state, /env, and its slots'
   action streams, /rng/act/G) into st (the checkpoint, or an in-memory store). */
Status train_ckpt_part_save(Store *st, const Agent *A, Env *env, Err *e);
/* train_ckpt_parts_write: the root attribute processes and the other processes' parts as
   /proc/p (uint8) into st. */
Status train_ckpt_parts_write(Store *st, const TrainCkptParts *parts, Err *e);
/* train_ckpt_part_load: this process's part of the checkpoint st (path: for messages):
   process 0 from st itself, process p from /proc/p; ST_CONFIG when the checkpoint was
   written by another number of processes than A->cfg.parts. */
Status train_ckpt_part_load(Store *st, const char *path, Agent *A, Env *env, Err *e);

/* train_ckpt_peek: the stored config (malloc'd, caller frees) and meta of a checkpoint. */
Status train_ckpt_peek(const char *path, char **config_yaml, TrainCkptMeta *m, Err *e);

/* train_ckpt_latency: the latency table stored in a checkpoint; *found = 0 if it has none. */
Status train_ckpt_latency(const char *path, LatencyTable *lt, int *found, Err *e);

/* train_ckpt_load: restore A (initialised for the same config), env's state and lt (if not
   NULL and stored); m->model_sha256 is compared with the stored one unless empty; m->seconds
   receives the stored training time. */
Status train_ckpt_load(const char *path, Agent *A, Env *env, LatencyTable *lt, TrainCkptMeta *m,
                       Err *e);

/* train_ckpt_path: "DIR/checkpoints/ckpt-ITER.h5" (iteration zero-padded to 8 digits). */
void train_ckpt_path(char *out, size_t cap, const char *dir, int64_t iteration);
/* train_ckpt_latest: the newest checkpoint file under DIR/checkpoints (ST_MISSING if none);
   ST_FORMAT naming two files when the checkpoints there belong to different runs (their
   run_id differs: files copied together by hand), since "the newest" would then be a guess. */
Status train_ckpt_latest(char *out, size_t cap, const char *dir, Err *e);
/* train_ckpt_prune: remove all but the newest keep checkpoints of run run_id under
   DIR/checkpoints (files of another run are never removed), and the temporary files of
   checkpoint writers that were killed (their process is gone). */
Status train_ckpt_prune(const char *dir, int keep, const char *run_id, Err *e);

#endif
