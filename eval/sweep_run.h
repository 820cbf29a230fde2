/* sweep_run.h: drrl-sweep's measurements: attention latency, counted FLOPs and fidelity of a
 * frozen byte-level IMDB model's attention modes against sequence length.
 *
 * For each length L, K inputs of exactly L bytes are made by joining consecutive same-label
 * reviews of the model's test file (data/imdb.h imdb_join; data.test from the config stored
 * in the model, overridable) and encoded to L + 2 tokens ([CLS] bytes [SEP]). Every input
 * runs alone (B = 1) through the ranked forward (model/ranked.h) in every mode
 * (eval/eval_modes.h syntax):
 *   full           exact attention
 *   static:r       weight-level whitened factors at rank r in every layer (calibrated on the
 *                  first N training rows, or loaded from the cache next to the model, as
 *                  drrl-train does)
 *   static:r0/r1/.. one rank per layer (full: exact attention); static:A+B+.. by layer and
 *                  position (with a checkpoint: segment s of a row's n segments of its T
 *                  tokens at part floor(s k / n), through ranked_layer_each as the policy's)
 *   static-plain:r weight-level plain SVD factors at rank r
 *   nystrom:m      Nystromformer, m landmarks;   performer:m   Performer FAVOR+, m features
 *   policy         (a checkpoint) the trained policy's greedy ranks per layer and segment,
 *                  chosen under its guardrail for each input (eval/sweep_policy.h)
 * Measured per (L, mode), medians over R reps x K rows (monotonic clock):
 *   lat_ms   attention only: the attention kernel calls of the pass (ranked attn_sec), summed
 *            over layers
 *   fwd_ms   the whole forward (embeddings, every layer, head) around them
 * and, per row (first rep): counted attention FLOPs (ranked_attn_flops), KL(p_full || p_mode)
 * (nn/logits.h, in double; a decoder's: the mean over positions whose next token is a byte of
 * the next-token distributions' KL, eval_lm_row, as drrl-eval's KL per token), a decoder's
 * sums of -ln p_mode(next byte) and of next bytes (eval_lm_row; bpb is their ratio over all
 * rows over ln 2, as drrl-eval's bits per byte), and the relative
 * Frobenius error of the last layer's attention
 * output vs exact attention on the same input (the teacher, computed outside the timed
 * time). rank is the rank per head averaged over layers and segments (full = head size; NaN
 * for Nystrom and Performer); for the policy, whose timed passes are deployed forwards
 * (pipeline/deploy.h), dec_ms the decision inside fwd_ms (features, bounds, guardrail, policy
 * network; the teacher too when its guard needs one) and policy_ms the policy network's part
 * (medians); 0 and NaN for modes that decide nothing. */
#ifndef DRRL_EVAL_SWEEP_RUN_H
#define DRRL_EVAL_SWEEP_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "core/progress.h"
#include "data/imdb.h"
#include "eval/eval_modes.h"
#include "eval/sweep_policy.h"
#include "model/bert_io.h"
#include "model/ranked.h"
#include "pipeline/base_config.h"
#include "pipeline/base_eval.h"

typedef struct {
    double lat_ms, fwd_ms;   /* medians */
    int64_t attn_flops;      /* mean over rows (equal for equal lengths) */
    double kl, rel;          /* means over rows */
    double bpb;              /* a decoder's bits per byte over the rows; NaN: a classifier */
    double rank, policy_ms;  /* mean rank per head (NaN: not rank-based); policy's ms (NaN) */
    double dec_ms;           /* median decision time inside fwd_ms (0: none) */
    int rows;
} SweepCell;

typedef struct {
    BertConfig bc;
    Bert m;
    BaseConfig base;
    BertFileInfo info;
    BaseVocab voc;
    ImdbData test;
    EncodedSet calib;
    Ranked R;
    int ranked_ok;
    char sha[65];            /* the model file's SHA-256 */
    EvalCkpt *k;             /* the policy's checkpoint (NULL: none) */
    SweepPolicy pol;         /* the policy at the current length */
} Sweep;

typedef struct {
    const char *model;       /* the model file */
    const char *const *over; /* overrides of its stored config */
    int n_over;
    const int *lengths;      /* (n_lengths) bytes */
    int n_lengths;
    const EvalMode *modes;   /* (n_modes), modes[0] is full */
    int n_modes;
    int calib_rows;          /* whitened factors' calibration rows */
    const char *factors;     /* factor cache (NULL or "": next to the model) */
    uint64_t performer_seed; /* Performer's random features */
} SweepOptions;

/* sweep_modes: parse the --modes list for the sweep: any rank (checked against the model by
   sweep_load) or, with a checkpoint, its grid G; random, auto and per-layer lists are
   drrl-eval's; policy needs a checkpoint. */
Status sweep_modes(const char *list, const int *grid, int G, int has_ckpt, EvalMode *modes,
                   int *n, Err *e);

/* sweep_load: the model, its config, the test file and (static modes) the whitened factors;
   a description of them goes to info. d->k is the policy's checkpoint or NULL. */
Status sweep_load(Sweep *d, const SweepOptions *o, FILE *info, Err *e);

/* sweep_length: every mode at length L on at most rows inputs, reps timed rounds: cells
   (n_modes); progress counts L*L/65536 units per timed pass (attention's cost). */
Status sweep_length(Sweep *d, const SweepOptions *o, int L, int rows, int reps,
                    SweepCell *cells, Progress *progress, Err *e);

void sweep_free(Sweep *d);

/* sweep_report_header: the Markdown table's preamble and header to f. */
void sweep_report_header(FILE *f, const Sweep *d, int rows, int reps);
/* sweep_report_csv_header: the CSV header:
   length,mode,latency_ms,latency_ratio,attn_flops,flops_ratio,kl,forward_ms,forward_ratio,
   rel_err,rows,mean_rank,policy_ms,decision_ms,decision_share */
void sweep_report_csv_header(FILE *csv);
/* sweep_report_rows: one table row (to f) and one CSV row (to csv, if not NULL) per mode at
   length L; ratios against cells[0] (full). */
void sweep_report_rows(FILE *f, FILE *csv, int L, const EvalMode *modes, int nm,
                       const SweepCell *cells);

#endif
