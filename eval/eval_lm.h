/* eval_lm.h: drrl-eval on a causal decoder language model (model/lm.h): the perplexity table.
 *
 * A decoder's logits are per position ((B, N, V) per batch), too many to keep for every mode
 * and row at long lengths, so the first timed round reduces each row at once (eval_lm_row),
 * against the full mode's pass of the same batch, which runs first in every batch
 * (eval_run.c). Targets are pipeline/base_lm.h's: position i predicts the token at i + 1 when
 * that is a byte (id >= IMDB_BYTE0). Per row (EVAL_LM_* order):
 *     nats    sum over targets of -ln p_mode(target | prefix)
 *     targets their count
 *     kl      sum over targets' positions of KL(p_full || p_mode) of the next-token
 *             distributions (nats; 0 for full)
 *     agree   positions where the mode's argmax equals full's
 *     hits    positions where the mode's argmax is the target (top-1 next byte)
 * A mode's row in the table (eval_lm_stats): bits per byte = sum nats / (sum targets ln 2)
 * with a 95% bootstrap percentile interval over documents (pipeline/base_lm.h's cluster
 * bootstrap: the rows that start in one review are resampled together), per-byte perplexity 2^bpb, KL per token (sum kl / sum targets), top-1
 * agreement with full and top-1 accuracy, beside the costs every mode reports. */
#ifndef DRRL_EVAL_EVAL_LM_H
#define DRRL_EVAL_EVAL_LM_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "eval/eval_modes.h"
#include "eval/eval_report.h"

enum { EVAL_LM_NATS, EVAL_LM_TARGETS, EVAL_LM_KL, EVAL_LM_AGREE, EVAL_LM_HITS, EVAL_LM_STATS };

/* eval_lm_row: row's sums into out (EVAL_LM_STATS) from the mode's logits z (n, V) and the full
   pass's zf (n, V) of the same row (ids (n) its tokens; zf may equal z). */
void eval_lm_row(double *out /* (EVAL_LM_STATS) */, const int32_t *ids /* (n) */, int n,
                 const float *z /* (n, V) */, const float *zf /* (n, V) */, int V);

/* eval_lm_stats: r's language-model fields (lm = 1, bpb, its interval, ppl, kl_mean, agreement,
   top1; n) from the rows' sums lm (n, EVAL_LM_STATS), the interval from `resamples` resamples
   of seed over the documents doc (n) (runs of equal values; NULL: every row its own). */
Status eval_lm_stats(EvalRow *r, const double *lm /* (n, EVAL_LM_STATS) */,
                     const int32_t *doc /* (n) or NULL */, int n, int resamples, uint64_t seed,
                     Err *e);

/* eval_lm_per_row: each row's mean per-token KL (nats) and bits per byte from its sums lm
   (n, EVAL_LM_STATS) (0 for a row without targets): per_input.tsv's columns. */
void eval_lm_per_row(double *kl /* (n) */, double *bits /* (n) */,
                     const double *lm /* (n, EVAL_LM_STATS) */, int n);

/* eval_lm_modes: keep the modes of modes (*n) that a causal decoder can run: Nystrom has no
   causal variant and the margin rule reads a classifier's head. From the default list
   (named 0) they are dropped with a note on info; a list the user named holding one is
   ST_CONFIG saying why. */
Status eval_lm_modes(EvalMode *modes, int *n, int named, FILE *info, Err *e);

/* eval_lm_table: the Markdown perplexity table and its notes. */
void eval_lm_table(FILE *f, const EvalInfo *info, const EvalRow *rows, int n);

#endif
