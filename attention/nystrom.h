/* nystrom.h: Nystromformer attention layer (Xiong et al., AAAI 2021), a static baseline behind
 * the layer interface of nn/mhsa.h: Y = A Wo^T + bo with A from Q, K, V = X W^T + b
 * (baseline_layer.h), the softmax attention core replaced per (batch b, head h) by
 *
 *   landmarks  the n_real real tokens of sequence b (key mask != 0, in order) are split into
 *              m' = min(m, n_real) contiguous segments, segment s = real tokens
 *              [floor(s n_real / m'), floor((s+1) n_real / m')) (sizes differ by at most 1;
 *              the paper needs m | N, this is its generalisation). Landmarks are segment means:
 *              Q~_s = mean of Q_i, K~_s = mean of K_i over segment s             (m', dh)
 *              n_real < m: m' = n_real landmarks, each one real token (then the output is
 *              exact softmax attention up to the pseudoinverse's convergence, which the tests
 *              check); n_real = 0: the core gives 0 (as exact attention does with no key).
 *   kernels    F  = softmax(Q  K~^T / sqrt(dh))                                  (N, m')
 *              A  = softmax(Q~ K~^T / sqrt(dh))                                  (m', m')
 *              Bk = softmax(Q~ K^T  / sqrt(dh)), padded keys masked out          (m', N)
 *   pinv       Z0 = A^T / (max_i sum_j |A_ij| * max_j sum_i |A_ij|)
 *              Z_{k+1} = 1/4 Z_k (13 I - A Z_k (15 I - A Z_k (7 I - A Z_k))), 6 iterations
 *              (NYSTROM_PINV_ITERS, as in the authors' code) -> Z ~ A^+           (m', m')
 *   output     O = (F Z)(Bk V), computed as F (Z (Bk V)): m'^2 dh instead of N m'^2 (N, dh)
 * Padded keys enter only through Bk, where they are masked to 0, and landmarks use real tokens
 * only, so padded positions change nothing at real positions. Padded query rows get an output
 * too (as in exact attention); it is meaningless and ignored downstream.
 *
 * FLOPs (flops.h conventions; per (b, h) with m' landmarks, S = 4 + FASTEXP_FLOPS = 28 per
 * probability: max, subtract, exp (nn/fastexp.h), sum, normalise):
 *   factor   2 (n_real + m') dh          landmark sums and scaling (Q~ and K~)
 *            2 m'^2 dh + S m'^2          A
 *            3 m'^2                      Z0 (row sums, column sums, scale)
 *            6 (8 m'^3 + 3 m'^2)         6 iterations: 4 GEMMs and 3 "c I - X" each
 *   scores   2 N m' dh + 2 m' N dh       Q K~^T and Q~ K^T
 *   softmax  S N m' + S m' N             F and Bk (Bk over all N keys, masked ones included)
 *   values   2 m' N dh + 2 m'^2 dh + 2 N m' dh    Bk V, Z (Bk V), F (Z Bk V)
 * so about 8 N m d + 2 S N m H + 48 m^3 H per sequence (the design's "6 N m d" misses one of
 * the four N x m x dh products; the softmax term is 2 S / (8 dh) = 11% of the first at
 * dh = 64); proj 3 (2 N C^2 + N C) and out 2 N C^2 + N C per sequence.
 *
 * No causal variant (a causal key_mask is refused, ST_INVALID, docs/attention.md "Causal
 * masks"): every landmark averages queries or keys over a whole segment of the sequence, and
 * every output row goes through all landmarks (F Z Bk), so every output depends on every
 * token, later ones included. Masking cannot be pushed through the factorisation: the causal
 * softmax's row normalisation and the triangle do not factor through m landmarks, and
 * landmarks of each row's prefix would mean a landmark set, kernel and pseudoinverse per
 * query block, O(N^2 m dh / T) work plus (N / T) m^3 pseudoinverses, no cheaper than exact
 * attention. Performer (performer.h) has an exact causal form (prefix sums).
 *
 * Threads: the (b, h) pairs run in an OpenMP loop, each thread with its own work area; the
 * GEMMs inside run single-threaded (OpenMP OpenBLAS). With fewer pairs than threads they run
 * serially and OpenBLAS threads each GEMM. Memory: planned once (core/mem.h) by nystrom_init
 * for the largest B, N and m; nystrom_forward allocates nothing. */
#ifndef DRRL_ATTENTION_NYSTROM_H
#define DRRL_ATTENTION_NYSTROM_H

#include <stddef.h>
#include <stdint.h>

#include "attention/flops.h"
#include "core/err.h"
#include "core/mem.h"
#include "nn/attention.h"
#include "nn/mhsa.h"

#define NYSTROM_PINV_ITERS 6

/* NystromLayer: planned limits and buffers. It registers pointers to its own fields in its
 * plan, so it must not be moved or copied between nystrom_init and nystrom_free. */
typedef struct {
    int max_B, max_N, max_m; /* planned limits */
    int C, H, dh;            /* width, heads, head size dh = C / H */
    int iters;               /* pseudoinverse iterations: NYSTROM_PINV_ITERS (may be changed) */
    int slices;              /* per-thread work areas (attention_max_threads() at init) */
    size_t work_len;         /* floats per work area */
    float *q, *k, *v;        /* (max_B, max_N, C) projections */
    float *a;                /* (max_B, max_N, C) attention output, input of Wo */
    int32_t *real;           /* (max_B, max_N) positions of the real tokens of each sequence */
    int32_t *n_real;         /* (max_B) how many */
    uint8_t *keep;           /* (max_B, max_N) 1 = real token, 0 = padding */
    float *work;             /* (slices, work_len) per-thread kernels and pinv buffers */
    MemPlan plan;
} NystromLayer;

/* nystrom_work_size: floats of one work area for N tokens, m landmarks, head size dh:
 * Q~, K~ (m, dh); F (N, m); Bk (m, N); A, Z, Z', AZ, T1, T2 (m, m); BV, W (m, dh). */
size_t nystrom_work_size(int N, int m, int dh);

/* nystrom_init: plan and allocate (one allocation) for batches up to max_B sequences of up to
 * max_N tokens, width C, H heads, up to max_m landmarks. ST_INVALID on bad sizes, ST_NOMEM. */
Status nystrom_init(NystromLayer *L, int max_B, int max_N, int C, int H, int max_m, Err *e);
/* nystrom_free: release the allocation (L may be zeroed or already freed). */
void nystrom_free(NystromLayer *L);

/* nystrom_forward: out (B, N, C) = the layer on inp (B, N, C) with m landmarks per head.
 * flops (may be NULL) is ADDED to (proj, factor, scores, softmax, values, out as above).
 * out must not alias inp. ST_INVALID if B, N, m exceed the plan. Call outside parallel
 * regions. */
Status nystrom_forward(float *out /* (B, N, C) */, NystromLayer *L,
                       const float *inp /* (B, N, C) */, AttnMask key_mask /* (B, N) */,
                       const MhsaParams *p, int B, int N, int m, AttnFlops *flops, Err *e);

/* nystrom_flops: the closed form above for ONE sequence of N tokens of which n_real are real,
 * m landmarks requested (m' = min(m, n_real)), width C, H heads; a batch is the sum over its
 * sequences. */
AttnFlops nystrom_flops(int64_t N, int64_t n_real, int64_t C, int64_t H, int64_t m);

#endif
