/* base_run.h: what drrl-base runs besides the training loop: the config of a run (a file or
 * a checkpoint's stored config, plus overrides, with the resume rule) and the evaluation of a
 * saved model file on one split. */
#ifndef DRRL_PIPELINE_BASE_RUN_H
#define DRRL_PIPELINE_BASE_RUN_H

#include <stdio.h>

#include "core/err.h"
#include "pipeline/base_config.h"

/* base_run_config: the resolved config c and its YAML text (*yaml, malloc'd) of a training
   run: the defaults or cfg_path, then the overrides; with resume (a drrl-base checkpoint, or
   a run directory: its checkpoint.h5, whose path goes to ckpt) by the resume contract
   (pipeline/resume.h): the run continues in the checkpoint's folder, and only the
   run-control keys (train.max_steps, train.log_every, train.checkpoint_every,
   train.eval_every, eval.batch) may differ from the checkpoint's config, said on info. */
Status base_run_config(const char *cfg_path, const char *resume, const char *const *over,
                       int n_over, BaseConfig *c, char **yaml, char *ckpt, size_t cap,
                       FILE *info, Err *e);

/* base_run_model_config: the drrl-base config stored in a model file (its /config, read
   without the weights) with the overrides applied; messages name MODEL:/config. */
Status base_run_model_config(const char *model, const char *const *over, int n_over,
                             BaseConfig *c, Err *e);

/* base_run_eval: evaluate the model file model_path on split ("dev", "test" or "train") with
   the config stored in it plus the overrides (data paths, data.max_len, eval.batch): checks
   the vocabulary's hash and size against the model's and the length against learned
   positions, and prints accuracy, confusion (two classes) or accuracy by pair count (recall)
   and speed to f. With pred_dir (not NULL) it also writes the predictions (GLUE's format:
   index<TAB>prediction) to pred_dir/SST-2.tsv (GLUE's name), pred_dir/IMDB.tsv or
   pred_dir/RECALL.tsv by data.format, creating pred_dir, and names the file in written (cap
   bytes). limit > 0 keeps only the split's first limit reviews (IMDB) or sentences. */
Status base_run_eval(const char *model_path, const char *split, int limit, const char *pred_dir,
                     const char *const *over, int n_over, FILE *f, char *written, size_t cap,
                     Err *e);

#endif
