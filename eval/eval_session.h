/* eval_session.h: one drrl-eval run, from its options to its files: open the checkpoint,
 * build the evaluation environment, restore the policy, decide every weight-level mode
 * through its environment (the policy first: random and static-plain:auto follow its
 * ranks), time every mode's forward, compare each with full and write the report.
 *
 * Output folder (out, default the checkpoint's directory): eval.csv, eval.json,
 * per_input.tsv (eval_test.*, per_input_test.tsv for --split test), policy_ranks.tsv (when
 * the policy runs) and a prediction file per mode for the test split (or dev with
 * predictions): SST-2.MODE.tsv / IMDB.MODE.tsv / dev.MODE.tsv, ':' in MODE written '-' and
 * '/' '_' (eval/eval_report.h). Bad input is an error before anything runs; files are
 * written only at the end. */
#ifndef DRRL_EVAL_EVAL_SESSION_H
#define DRRL_EVAL_EVAL_SESSION_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

typedef struct {
    const char *ckpt;      /* checkpoint file or run directory (its newest checkpoint) */
    const char *cfg_path;  /* a train config replacing the checkpoint's (NULL: the stored one) */
    const char *split;     /* "dev" or "test" */
    const char *modes;     /* mode list (NULL: the default list) */
    const char *out;       /* output folder (NULL: the checkpoint's directory) */
    uint64_t seed;         /* bootstrap and random-mode draws */
    int batch, reps, resamples, predictions, min_bytes, join, rows;
    const char *const *over; /* train-config overrides (latency.file=X among them) */
    int n_over;
    const char *const *base_over; /* data.* and eval.*: the frozen model's config */
    int n_base_over;
} EvalOptions;

/* eval_session_run: the whole evaluation; informational lines and the comparison table go to
   info, notes to stderr, progress lines with an ETA to progress (NULL: none); the files
   written are named in written (cap bytes, one line). */
Status eval_session_run(const EvalOptions *o, FILE *info, FILE *progress, char *written,
                        size_t cap, Err *e);

/* eval_session_print_config: the train config the evaluation would use (the checkpoint's, or
   cfg_path's, with the overrides) printed to f as YAML, followed by the frozen model's config
   with the data.* and eval.* overrides as comment lines (checked like the run checks them). */
Status eval_session_print_config(const EvalOptions *o, FILE *f, Err *e);

#endif
