/* lowrank_internal.h: what lowrank.c (per-segment ranks) and lowrank_heads.c (per-segment,
 * per-head ranks) share; nothing else includes it. */
#ifndef DRRL_ATTENTION_LOWRANK_INTERNAL_H
#define DRRL_ATTENTION_LOWRANK_INTERNAL_H

#include <stdint.h>

#include "attention/lowrank.h"

/* attn_lowrank_grid_index: the index of rank r in L's grid, or -1 */
int attn_lowrank_grid_index(const AttnLowrank *L, int r);

/* attn_lowrank_gemm_bias: out (m, n) with row stride ldo = x (m, kx) W (kx, n) + bias (n) on
   every row (written first, then the GEMM accumulates); returns the FLOPs, 2 m kx n + m n */
int64_t attn_lowrank_gemm_bias(float *out, int ldo, const float *x, int ldx, const float *W,
                               const float *bias, int m, int kx, int n);

#endif
