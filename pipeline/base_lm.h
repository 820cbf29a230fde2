/* base_lm.h: what drrl-base does for a language model (model.arch: decoder, model/lm.h) on
 * the IMDB review text: the byte targets and the held-out evaluation in bits per byte.
 *
 * Rows are [CLS] b_1 .. b_T [SEP] (data/imdb.h ids, T = data.max_len - 2 bytes joined from
 * consecutive reviews: base_eval.h). The model predicts every BYTE from the tokens before
 * it: targets[n] = ids[n + 1] when that is a byte (id >= IMDB_BYTE0), else -1, so b_1 is
 * predicted from [CLS] alone and [SEP] and padding are never targets. Evaluation sums
 *     nats = sum over targets of -ln p(target | prefix)
 * and reports bits per byte nats / (targets ln 2), the per-byte perplexity exp(nats /
 * targets) = 2^bpb, a 95% bootstrap interval of the bits per byte over documents (rows,
 * resampled with replacement, BASE_LM_BOOT resamples from a fixed seed), the top-1 next-byte
 * accuracy (argmax = target; ties: the lower id) and the throughput. */
#ifndef DRRL_PIPELINE_BASE_LM_H
#define DRRL_PIPELINE_BASE_LM_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/progress.h"
#include "data/encode.h"
#include "model/bert.h"

#define BASE_LM_BOOT 2000 /* bootstrap resamples of the interval */

typedef struct {
    int rows;             /* documents (rows) evaluated */
    int64_t targets;      /* bytes predicted */
    double nats;          /* sum of -ln p over the targets */
    double bits_per_byte; /* nats / (targets ln 2) */
    double ppl;           /* exp(nats / targets) */
    double ci_lo, ci_hi;  /* 95% bootstrap interval of bits_per_byte over rows */
    double top1;          /* fraction of targets that are the argmax */
    double seconds;       /* wall time of the forwards (monotonic clock) */
    double bytes_per_s;   /* targets / seconds */
} LmEvalResult;

/* base_lm_targets: targets (B, N) of the rows ids (B, N) as above (mask unused but for
   padding, whose ids are [PAD] and never bytes). */
void base_lm_targets(int32_t *targets /* (B, N) */, const int32_t *ids /* (B, N) */, int B,
                     int N);

/* base_lm_evaluate: the result over every row of s, in batches of up to `batch` rows (at most
   m's max_B); m a decoder planned for s's max_len. progress (NULL: none) counts real
   tokens. row_nats, row_targets (s->n) (may be NULL) receive each row's sums. */
Status base_lm_evaluate(Bert *m, const EncodedSet *s, int batch, LmEvalResult *r,
                        double *row_nats /* (n) or NULL */, int64_t *row_targets /* (n) */,
                        Progress *progress, Err *e);

/* base_lm_print: the result as a few human-readable lines. */
void base_lm_print(FILE *f, const char *what, const LmEvalResult *r);

#endif
