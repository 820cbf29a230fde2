/* eval_report.h: drrl-eval's outputs: the Markdown table (stdout), eval.csv and eval.json,
 * and GLUE-format prediction files ("index\tprediction"), all written at the end and
 * atomically as a set: every file goes to PATH.tmp.PID first (flushed, fsynced) and only
 * when all are written are they renamed into place, so a failed run leaves nothing.
 *
 * Numbers that do not apply (accuracy on the unlabelled test split, ranks of Nystrom and
 * Performer, the guardrail mask share of the unguarded fixed modes, the policy's time of
 * other modes) are NaN: "-" in the table, empty in the CSV, null in the JSON. */
#ifndef DRRL_CMD_EVAL_REPORT_H
#define DRRL_CMD_EVAL_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "eval/eval_modes.h"
#include "model/bert.h"

typedef struct {
    char mode[EVAL_NAME];
    int n, n_labeled, correct, agree, mc_b, mc_c;
    double accuracy, ci_low, ci_high;  /* labelled sentences; bootstrap percentile CI */
    double agreement, kl_mean, dmargin, mcnemar_p;
    int64_t attn_flops, model_flops;   /* counted over the split */
    double attn_flops_ratio, model_flops_ratio;
    double latency_ms;                 /* median per batch of the model's forward */
    double latency_ratio;              /* total forward time / full's */
    double ex_per_s;                   /* sentences / total forward time */
    double attn_ms;                    /* median per batch of the attention kernels alone */
    double attn_ratio;                 /* total attention time / full's */
    double policy_ms;                  /* median per batch of the policy network's decisions */
    double decision_ms;                /* median per batch of the whole decision inside the
                                          timed forward (0: a mode that decides nothing) */
    double decision_share;             /* total decision time / full's total forward time */
    double decision_part_ms[4];        /* teacher, bounds, features, policy: mean per batch */
    int64_t decision_part_fl[4];       /* their counted FLOPs over the split */
    int64_t decision_flops;            /* their sum */
    double decision_flops_ratio;       /* decision FLOPs / full's model FLOPs */
    double rank_diff;                  /* deployed vs environment rank mismatches (policy) */
    double rank_layer[BERT_MAX_LAYERS]; /* mean rank per head of each layer (full = head size) */
    double fidelity, rel_err, bound;   /* means over (sentence, layer) of the environment */
    double mask_rate, full_share, over_eps, lat_est;
    double violations;
    double replay_diff;
    char pred_file[EVAL_NAME + 16];    /* prediction file name ("" if none) */
    int lm;                            /* 1: a language model's row (eval/eval_lm.h): the
                                          fields below; accuracy, its interval, margins and
                                          McNemar are NaN; agreement and kl_mean per token */
    double bpb, bpb_lo, bpb_hi;        /* bits per byte and its 95% bootstrap interval */
    double ppl, top1;                  /* per-byte perplexity; top-1 next-byte accuracy */
} EvalRow;

typedef struct {
    const char *checkpoint, *model, *model_sha256, *split;
    int n, n_labeled, batch, reps, resamples, layers, head_size, n_grid;
    const int *grid;
    double epsilon, level;
    uint64_t seed;
    int processes;      /* the job's processes (core/dist.h): each timed its own batches */
} EvalInfo;

/* EvalRanks: the policy's chosen ranks per sentence (the heat map's data), written as
   "index\tlength\trank_l0\t...": one row per sentence in set order. */
typedef struct {
    int n, L;
    const int32_t *index;  /* (n) the split's index column */
    const int32_t *len;    /* (n) real tokens ([CLS], [SEP] included) */
    const double *rank;    /* (n, L) mean rank per head over the sentence's segments (full = dh) */
} EvalRanks;

/* EvalPerInput: every mode's KL(p_full || p_mode) and predicted class per sentence, written
   as "index\tlength\tlabel\tp_full\tkl:MODE...\tpred:MODE...": one row per sentence in set
   order, p_full the full model's probability of its predicted class (the data of
   scripts/oracle.py and scripts/outcome.py: which inputs a mode hurts, and what a per-input
   choice could gain). A decoder's row (bits != NULL) is "index\tlength\tlabel\tbits_full\t
   kl:MODE...\tbits:MODE...": kl the row's mean per-token KL of the next-byte distributions,
   bits the row's bits per byte under each mode (bits_full: full's). */
typedef struct {
    int n, n_modes;
    const int32_t *index;  /* (n) the split's index column */
    const int32_t *len;    /* (n) real tokens */
    const int32_t *label;  /* (n) -1: unlabelled */
    const double *p_full;  /* (n) max softmax probability of the full model */
    const EvalRow *rows;   /* (n_modes) the modes' names */
    const double *kl;      /* (n_modes, n) nats */
    int32_t *const *pred;  /* (n_modes) of (n): each mode's predicted class */
    const double *bits;    /* (n_modes, n) a decoder's bits per byte per row, else NULL */
    int full;              /* the full mode's index among the modes (decoder) */
} EvalPerInput;

/* eval_report_table: the Markdown table and its notes. */
void eval_report_table(FILE *f, const EvalInfo *info, const EvalRow *rows, int n);

/* eval_report_write: DIR/eval.csv and DIR/eval.json (DIR/eval_test.* for the test split),
   for each row with a pred_file, DIR/pred_file from index (n_sent) and pred[row] (n_sent),
   with ranks (may be NULL) DIR/policy_ranks.tsv (policy_ranks_test.tsv) and with per
   (may be NULL) DIR/per_input.tsv (per_input_test.tsv), created together (DIR too, if
   missing). */
Status eval_report_write(const char *dir, const EvalInfo *info, const EvalRow *rows, int n,
                         const int32_t *index, int32_t *const *pred, int n_sent,
                         const EvalRanks *ranks, const EvalPerInput *per, Err *e);

#endif
