/* performer_internal.h: internal to attention/performer*.c: what the bidirectional core
 * (performer.c) and the causal one (performer_causal.c) share: the per-call arguments of a
 * (b, h) pair and the query feature map. */
#ifndef DRRL_ATTENTION_PERFORMER_INTERNAL_H
#define DRRL_ATTENTION_PERFORMER_INTERNAL_H

#include <stdint.h>

#include "attention/flops.h"

/* PerformerCtx: the arguments a pair function shares across the (b, h) pairs of one call */
typedef struct {
    float *a;
    const float *q, *k, *v, *W;
    const int32_t *n_real;
    const uint8_t *keep;
    int N, H, dh, m;
} PerformerCtx;

/* performer_query_features: Qf (N, m), holding Q W^T / dh^{1/4} on entry, becomes phi(Q) with
 * each row shifted by its own maximum (performer.h); hn (N) is scratch; q (N, dh) with row
 * stride C. Adds N (2 dh + 2 + (3 + FASTEXP_FLOPS) m) to f->softmax. */
void performer_query_features(float *Qf, float *hn, const float *q, int N, int C, int dh, int m,
                              AttnFlops *f);

/* performer_causal_pair_fn: the causal core of pair (b, h) of ctx (a PerformerCtx) on the
 * work area scratch (performer_causal.c) */
void performer_causal_pair_fn(const void *ctx, float *scratch, int b, int h, AttnFlops *f);

#endif
