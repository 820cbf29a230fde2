/* base_lm.h: what drrl-base does for a language model (model.arch: decoder, model/lm.h) on
 * the IMDB review text: the byte targets and the held-out evaluation in bits per byte.
 *
 * Rows are [CLS] b_1 .. b_T [SEP] (data/imdb.h ids, T = data.max_len - 2 bytes joined from
 * consecutive reviews: base_eval.h). The model predicts every BYTE from the tokens before
 * it: targets[n] = ids[n + 1] when that is a byte (id >= IMDB_BYTE0), else -1, so b_1 is
 * predicted from [CLS] alone and [SEP] and padding are never targets. Evaluation sums
 *     nats = sum over targets of -ln p(target | prefix)
 * and reports bits per byte nats / (targets ln 2), the per-byte perplexity exp(nats /
 * targets) = 2^bpb, a 95% bootstrap interval of the bits per byte over documents
 * (base_lm_bootstrap: BASE_LM_BOOT resamples from a fixed seed), the top-1 next-byte accuracy
 * (argmax = target; ties: the lower id) and the throughput.
 *
 * Documents. A row of the stream is 510 bytes (at the default length) of one to a few
 * consecutive reviews, and a review of ~1,300 bytes spans several rows, whose losses are
 * correlated (same topic, same writer). The interval therefore resamples DOCUMENTS, not
 * rows: a cluster is the rows whose first byte lies in the same review (EncodedSet.index =
 * that review's file row: imdb_stream), and a resample draws K clusters with replacement
 * from the K there are, its bits per byte the ratio sum nats / (sum targets ln 2) of the
 * clusters drawn (a cluster bootstrap of a ratio estimator). The 95% interval is the
 * percentile interval [b_(floor(0.025 )), b_(ceil(0.975 ))] of the R sorted
 * resamples. Splitting a row into several rows of the same document leaves it unchanged. */
#ifndef DRRL_PIPELINE_BASE_LM_H
#define DRRL_PIPELINE_BASE_LM_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/progress.h"
#include "data/encode.h"
#include "model/bert.h"

#define BASE_LM_BOOT 2000 /* bootstrap resamples of the interval */
#define BASE_LM_SEED 0x6c6d626f6f74ULL /* "lmboot": the interval's fixed seed */

typedef struct {
    int rows;             /* rows evaluated */
    int docs;             /* documents among them (the bootstrap's clusters) */
    int64_t targets;      /* bytes predicted */
    double nats;          /* sum of -ln p over the targets */
    double bits_per_byte; /* nats / (targets ln 2) */
    double ppl;           /* exp(nats / targets) */
    double ci_lo, ci_hi;  /* 95% bootstrap interval of bits_per_byte over documents */
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

/* base_lm_bootstrap: the 95% percentile interval [*lo, *hi] of the bits per byte over
   `resamples` cluster-bootstrap resamples drawn from seed (above): row i has nats[i stride]
   and targets[i stride]; its document doc[i] (n) (NULL: every row its own document); runs of
   equal doc are one cluster, their count in *clusters (may be NULL). NaN (and 0 clusters)
   when n < 1 or resamples < 1. ST_NOMEM. */
Status base_lm_bootstrap(double *lo, double *hi, int *clusters, const double *nats,
                         const double *targets, size_t stride,
                         const int32_t *doc /* (n) or NULL */, int n, int resamples,
                         uint64_t seed, Err *e);

/* base_lm_print: the result as a few human-readable lines. */
void base_lm_print(FILE *f, const char *what, const LmEvalResult *r);

#endif
