/* moment.h: the layer-input second moment for whitened (calibration-aware) factors
 * (docs/design.md section 2), and its regularised Cholesky factor.
 *
 * With x~ = [x, 1] (d+1) a real (unmasked) token of a layer input,
 *     M = E[x~^T x~] = (1/n) sum_t x~_t^T x~_t                        ((d+1) x (d+1))
 * accumulated in double over calibration batches (B, N, d) with key masks. M is exactly
 * singular for LayerNorm outputs: x = gamma .* z + beta with sum_i z_i = 0 gives
 *     x~ w = 0   for   w = [1 / gamma ; -sum_i beta_i / gamma_i],
 * so M w = 0. The whitener therefore factors the ridge-regularised moment
 *     M + lambda * (tr(M) / (d+1)) * I = L L^T          (L lower triangular, dpotrf)
 * whose smallest eigenvalue is at least lambda times the mean eigenvalue. */
#ifndef DRRL_ATTENTION_MOMENT_H
#define DRRL_ATTENTION_MOMENT_H

#include <stddef.h>

#include "core/err.h"
#include "core/mem.h"
#include "nn/attention.h"

/* ATTN_RIDGE_DEFAULT: the default lambda (relative to the mean eigenvalue tr(M)/(d+1)). */
#define ATTN_RIDGE_DEFAULT 1e-3
/* ATTN_MOMENT_CHUNK: tokens gathered per rank-k update. */
#define ATTN_MOMENT_CHUNK 256

typedef struct {
    int d;
    double *sum;   /* (d+1, d+1) sum over real tokens of x~^T x~ */
    double *chunk; /* (ATTN_MOMENT_CHUNK, d+1) gathered real tokens, last column 1 */
    double count;  /* real tokens accumulated */
    MemPlan plan;
} AttnMoment;

Status attn_moment_init(AttnMoment *m, int d, Err *e);
void attn_moment_free(AttnMoment *m);
/* attn_moment_reset: forget everything accumulated. */
void attn_moment_reset(AttnMoment *m);
/* attn_moment_add: accumulate the real tokens of x (B, N, d) (key_mask (B, N): 0 = padding,
   skipped; ATTN_MASK_NONE: all tokens). key_mask.causal is irrelevant here and ignored: it
   says which keys a query sees, not which tokens are real, and the moment is of tokens. */
void attn_moment_add(AttnMoment *m, const float *x /* (B, N, d) */, AttnMask key_mask, int B,
                     int N);
/* attn_moment_get: M (d+1, d+1) = sum / count; ST_INVALID if nothing was accumulated. */
Status attn_moment_get(double *M /* (d+1, d+1) */, const AttnMoment *m, Err *e);

/* attn_whitener: L (d+1, d+1) lower triangular (upper part zeroed) with
   L L^T = M + ridge * tr(M)/(d+1) * I. ridge >= 0 (0: plain Cholesky of M, which fails with
   ST_NUMERIC on a singular M). ST_NUMERIC also for a non-finite or non-positive trace. */
Status attn_whitener(double *L /* (d+1, d+1) */, const double *M /* (d+1, d+1) */, int d,
                     double ridge, Err *e);

/* attn_moment_hash: lower-case hex SHA-256 of the bytes of M (d+1, d+1) and the ridge, a
   fingerprint of the calibration for the factors' cache. */
void attn_moment_hash(char hex[65], const double *M, int d, double ridge);

#endif
