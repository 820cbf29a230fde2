/* bucket.c: length-bucketed batch plans (see bucket.h). */
#include "data/bucket.h"

#include <stdlib.h>
#include <string.h>

Status batch_plan_init(BatchPlan *bp, int n, int batch, Err *e) {
    memset(bp, 0, sizeof *bp);
    if (n < 1 || batch < 1)
        return err_set(e, ST_INVALID, "batch plan: expected n >= 1 and batch >= 1, found %d, %d",
                       n, batch);
    bp->n = n;
    bp->batch = batch;
    bp->n_batches = (n + batch - 1) / batch;
    size_t nb = (size_t)bp->n_batches;
    /* keys first: the uint64 array keeps the allocation's alignment */
    bp->keys = malloc(sizeof(uint64_t) * (size_t)n + sizeof(int32_t) * (2 * (size_t)n + 3 * nb + 1));
    if (!bp->keys) return err_set(e, ST_NOMEM, "batch plan: out of memory for %d examples", n);
    bp->idx = (int32_t *)(void *)(bp->keys + n);
    bp->tmp = bp->idx + n;
    bp->start = bp->tmp + n;
    bp->bstart = bp->start + nb + 1;
    bp->border = bp->bstart + nb;
    return ST_OK;
}

void batch_plan_free(BatchPlan *bp) {
    free(bp->keys);
    memset(bp, 0, sizeof *bp);
}

/* keys (length << 32) | index are distinct, so the sorted order is unique: qsort's
   instability cannot make the plan depend on the C library */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void batch_plan_make(BatchPlan *bp, const int32_t *len, int bucket, int pool, Rng *rng) {
    int n = bp->n, B = bp->batch;
    int32_t *perm = bp->tmp;
    for (int i = 0; i < n; i++) perm[i] = i;
    /* Fisher-Yates on int32 indices */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(rng, (uint64_t)i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    if (bucket) {
        int span = pool < 1 ? B : pool * B;
        for (int i = 0; i < n; i++)
            bp->keys[i] = ((uint64_t)(uint32_t)len[perm[i]] << 32) | (uint32_t)perm[i];
        for (int s = 0; s < n; s += span) {
            int cnt = n - s < span ? n - s : span;
            qsort(bp->keys + s, (size_t)cnt, sizeof(uint64_t), cmp_u64);
        }
        for (int i = 0; i < n; i++) perm[i] = (int32_t)(bp->keys[i] & 0xffffffffu);
    }
    /* batches are consecutive runs of perm; shuffle their order. The short last batch
       (if any) takes part in the shuffle like the others. */
    int nb = bp->n_batches;
    for (int b = 0; b < nb; b++) {
        bp->bstart[b] = b * B;
        bp->border[b] = b;
    }
    for (int i = nb - 1; i > 0; i--) {
        int j = (int)rng_below(rng, (uint64_t)i + 1);
        int32_t t = bp->border[i];
        bp->border[i] = bp->border[j];
        bp->border[j] = t;
    }
    int at = 0;
    for (int b = 0; b < nb; b++) {
        int src = bp->bstart[bp->border[b]];
        int cnt = n - src < B ? n - src : B;
        bp->start[b] = at;
        memcpy(bp->idx + at, perm + src, sizeof(int32_t) * (size_t)cnt);
        at += cnt;
    }
    bp->start[nb] = at;
}

double batch_plan_padding(const BatchPlan *bp, const int32_t *len) {
    double padded = 0, real = 0;
    for (int b = 0; b < bp->n_batches; b++) {
        int32_t mx = 0;
        for (int i = bp->start[b]; i < bp->start[b + 1]; i++) {
            int32_t l = len[bp->idx[i]];
            mx = l > mx ? l : mx;
            real += l;
        }
        padded += (double)mx * (bp->start[b + 1] - bp->start[b]);
    }
    return real > 0 ? padded / real : 1.0;
}
