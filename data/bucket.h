/* bucket.h: length-bucketed batches. Each epoch the examples are shuffled, cut into pools
 * of `pool` batches, each pool is sorted by length and cut into batches, and the order of
 * all batches is shuffled. Batches then hold sentences of similar length, so padding to the
 * longest in the batch wastes little (SST-2 phrases: about 1.05x tokens instead of 3.3x for
 * random batches), while the batch order and membership stay random from epoch to epoch.
 * bucket = 0 gives plain shuffled batches. Everything is a function of the Rng state. */
#ifndef DRRL_DATA_BUCKET_H
#define DRRL_DATA_BUCKET_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"

typedef struct {
    int n;           /* examples */
    int batch;       /* batch size (the last batch may be smaller) */
    int n_batches;   /* ceil(n / batch) */
    int32_t *idx;    /* (n) example indices, batch after batch */
    int32_t *start;  /* (n_batches + 1) batch b holds idx[start[b] .. start[b+1]) */
    int32_t *bstart; /* (n_batches) scratch: start of each batch before the batch shuffle */
    int32_t *border; /* (n_batches) scratch: batch order */
    int32_t *tmp;    /* (n) scratch */
    uint64_t *keys;  /* (n) scratch: (length << 32) | index, for sorting a pool */
} BatchPlan;

/* batch_plan_init: allocate for n examples in batches of `batch` (one allocation). */
Status batch_plan_init(BatchPlan *bp, int n, int batch, Err *e);
void batch_plan_free(BatchPlan *bp);

/* batch_plan_make: a new epoch's batches from len (n) with rng; bucket = 1 sorts pools of
   `pool` batches by length (pool >= 1), bucket = 0 only shuffles. */
void batch_plan_make(BatchPlan *bp, const int32_t *len /* (n) */, int bucket, int pool, Rng *rng);

/* batch_plan_padding: tokens after padding each batch to its longest example, divided by
   the real tokens (>= 1). */
double batch_plan_padding(const BatchPlan *bp, const int32_t *len /* (n) */);

#endif
