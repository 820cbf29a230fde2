/* baseline_layer.h: the layer shell shared by the static baselines (nystrom.h, performer.h).
 * A baseline layer is nn/mhsa.h's layer with the attention core swapped:
 *     Q = X Wq^T + bq,  K = X Wk^T + bk,  V = X Wv^T + bv        (B, N, C) each
 *     A = core(Q, K, V; key mask)   per head h, on the (N, dh) column slices
 *     Y = A Wo^T + bo                                             (B, N, C)
 * This file holds the parts around the core: the projections, the list of real tokens of a
 * sequence (key mask), and the choice of how many threads run the (batch, head) pairs. */
#ifndef DRRL_ATTENTION_BASELINE_LAYER_H
#define DRRL_ATTENTION_BASELINE_LAYER_H

#include <stdint.h>

#include "core/err.h"
#include "attention/flops.h"
#include "nn/attention.h"
#include "nn/mhsa.h"

/* baseline_check_plan: ST_INVALID unless the planned limits max_B, max_N, max_m are >= 1 and
 * H divides C; `who` names the init function in the message. */
Status baseline_check_plan(const char *who, int max_B, int max_N, int max_m, int C, int H,
                           Err *e);

/* baseline_check: ST_INVALID unless 1 <= B <= max_B, 1 <= N <= max_N, 1 <= m <= max_m (the
 * planned limits) and H divides C; `who` names the kernel in the message. */
Status baseline_check(const char *who, int B, int N, int m, int max_B, int max_N, int max_m,
                      int C, int H, Err *e);

/* baseline_real_tokens: idx[0..n_real) = the positions j of sequence b with key_mask[b][j]
 * != 0, in increasing order (all of 0..N-1 without a mask), and keep[j] = 1 for those, 0
 * for padding; either output may be NULL. Returns n_real. key_mask.causal is not read here:
 * the padding part is the same either way, and the causal part is each core's (performer.h
 * honours it, nystrom.h refuses it). */
int baseline_real_tokens(int32_t *idx /* (N) or NULL */, uint8_t *keep /* (N) or NULL */,
                         AttnMask key_mask /* (B, N) */, int b, int N);

/* baseline_project: q, k, v (B*N, C) = inp Wq^T + bq, ... (OpenBLAS threads each GEMM; call
 * outside parallel regions). Returns the FLOPs executed: 3 * (2*M*C*C + M*C), M = B*N. */
int64_t baseline_project(float *q /* (M, C) */, float *k /* (M, C) */, float *v /* (M, C) */,
                         const float *inp /* (M, C) */, const MhsaParams *p, int M, int C);

/* baseline_output: out (M, C) = a Wo^T + bo. Returns 2*M*C*C + M*C. */
int64_t baseline_output(float *out /* (M, C) */, const float *a /* (M, C) */,
                        const MhsaParams *p, int M, int C);

/* baseline_team: threads for `pairs` independent (b, h) items with `slices` per-thread work
 * areas: min(omp_get_max_threads(), slices), or 1 when pairs < that (then the pairs run
 * serially and OpenBLAS threads each GEMM instead). 1 without OpenMP. */
int baseline_team(int pairs, int slices);

/* BaselinePairFn: the approximate core of one (b, h) pair; scratch is this thread's work
 * slice; adds the FLOPs it executes to f. ctx carries the kernel's own arguments. */
typedef void (*BaselinePairFn)(const void *ctx, float *scratch, int b, int h, AttnFlops *f);

/* baseline_pairs: fn over all B*H (b, h) pairs on baseline_team(B*H, slices) threads, thread
 * t using work[t*work_len ..); the threads' FLOP counts are summed into f. */
void baseline_pairs(BaselinePairFn fn, const void *ctx, float *work /* (slices, work_len) */,
                    size_t work_len, int slices, int B, int H, AttnFlops *f);

#endif
