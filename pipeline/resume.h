/* resume.h: the resume contract of drrl-base and drrl-train (docs/cli.md, "Resuming a run").
 *
 * `--resume CKPT|DIR` continues a run in its own directory, wherever that lies now: the run
 * directory stored in the checkpoint's config is not used, so a moved or copied run directory
 * continues where it is (a copy is a fork: it writes only into itself). The directory is
 *   drrl-train: DIR (resuming from the newest DIR/checkpoints/ckpt-NNNNNNNN.h5), or the run
 *               directory holding CKPT (RUN_DIR/checkpoints/CKPT);
 *   drrl-base:  DIR (resuming from DIR/checkpoint.h5), or CKPT's folder.
 * The config is the checkpoint's, or --config FILE's when given, then the command line's
 * KEY=VALUE, as for a new run; it is compared key by key with the checkpoint's: only the keys
 * of the program's resume list (how long to train, how often to log, evaluate and save) may
 * differ, and each one that does is said; any other difference is an error naming the key,
 * the checkpoint's value, the new one and where it came from. A run.dir (or --out) naming
 * another directory than the run's is an error: to continue a run elsewhere, copy its
 * directory there and resume the copy. */
#ifndef DRRL_PIPELINE_RESUME_H
#define DRRL_PIPELINE_RESUME_H

#include <stddef.h>
#include <stdio.h>

#include "core/config.h"

typedef struct {
    const ConfigSchema *schema;
    size_t size;            /* sizeof the config struct */
    size_t run_dir;         /* offsetof its run.dir (char[CONFIG_STR_MAX]) */
    const char *may_change; /* '|'-separated keys that may differ on resume */
} ResumeRule;

/* resume_config: cfg for a resume from ckpt (stored: its config text) in run_dir (its
   run.dir set to it); cfg_path (NULL: the stored config) and the overrides as for a new run.
   ST_CONFIG for a key that may not change, or a run.dir override naming another directory;
   the allowed changes are said on info (may be NULL). */
Status resume_config(const ResumeRule *r, const char *ckpt, const char *stored,
                     const char *run_dir, const char *cfg_path, const char *const *over,
                     int n_over, void *cfg, FILE *info, Err *e);

/* resume_parent: the folder of path ("." when it has none), into out. */
Status resume_parent(const char *path, char *out, size_t cap, Err *e);

/* resume_kind: *is_dir = 1 when path is a directory, 0 for a file; ST_MISSING (naming
   --resume path) when nothing is there. */
Status resume_kind(const char *path, int *is_dir, Err *e);

#endif
