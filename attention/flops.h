/* flops.h: the FLOP counter every attention kernel adds to as it runs (docs/design.md section 2:
 * "FLOPs are counted where the work runs"). Conventions: a multiply-add is 2 FLOPs, a GEMM
 * of (m x k) by (k x n) is 2*m*n*k, a bias add over an (m x n) output is m*n; softmax work is
 * charged per score as written next to each kernel (ATTN_SOFTMAX_FLOPS below for the kernels
 * of attention/kernel.h), an exp as the FASTEXP_FLOPS operations of nn/fastexp.h's
 * fastexp_neg; factorisations (QR, SVD, pseudo-inverses) go to `factor`.
 * Counters are plain sums: zero one, run kernels, read the fields or attn_flops_total. */
#ifndef DRRL_ATTENTION_FLOPS_H
#define DRRL_ATTENTION_FLOPS_H

#include <stdint.h>

#include "nn/fastexp.h"

typedef struct {
    int64_t proj;    /* input projections (queries, keys, values or their low-rank coordinates) */
    int64_t factor;  /* per-input factorisations (activation-level QR/SVD, landmarks' pinv) */
    int64_t scores;  /* query-key products (the N x N logits or their kernel equivalent) */
    int64_t softmax; /* softmax (max, subtract, exp, sum) and output normalisation */
    int64_t values;  /* probability-value products */
    int64_t out;     /* output projection and its bias */
} AttnFlops;

/* ATTN_SOFTMAX_FLOPS: charged per score by the blocked kernel (attention/kernel.c), the
 * operations its softmax loops execute per score:
 *     max (1 compare) + subtract (1) + exp (FASTEXP_FLOPS = 24, nn/fastexp.h) + sum (1) = 27.
 * An exp is fastexp_neg's 24 operations, not 1: this work does not shrink with rank, so
 * undercounting it would make every low-rank FLOPs ratio look better than it runs. Masked and
 * unmasked rows run the same float operations: padded keys are dropped by ANDing with integer
 * key masks (bit operations, no FLOPs), so one constant covers both. Normalisation is applied
 * to the (rows x width) output, one FLOP per output element (ATTN_NORM_FLOPS), instead of to
 * the N x N probabilities. Per-row work (the reciprocal of the row sum, the lane reductions
 * of the vector max and sum) is O(rows), not O(scores), and is not charged. */
#define ATTN_SOFTMAX_FLOPS (3 + FASTEXP_FLOPS)
#define ATTN_NORM_FLOPS 1

static inline void attn_flops_zero(AttnFlops *f) {
    f->proj = f->factor = f->scores = f->softmax = f->values = f->out = 0;
}

static inline int64_t attn_flops_total(const AttnFlops *f) {
    return f->proj + f->factor + f->scores + f->softmax + f->values + f->out;
}

/* attn_flops_add: acc += x, field by field. */
static inline void attn_flops_add(AttnFlops *acc, const AttnFlops *x) {
    acc->proj += x->proj;
    acc->factor += x->factor;
    acc->scores += x->scores;
    acc->softmax += x->softmax;
    acc->values += x->values;
    acc->out += x->out;
}

#endif
