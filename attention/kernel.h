/* kernel.h: the blocked, masked attention core shared by the exact, low-rank and
 * activation-level layers: for every segment of query rows, batch b and head h,
 *     S = scale * Q[:, :kq] K[:, :kq]^T                 (rows x N; first kq coordinates)
 *     E_ij = keep_j exp(S_ij - max_{l kept} S_il),  l_i = sum_j E_ij
 *     O = diag(1 / l) E V[:, :kv]                        (rows x kv)
 * i.e. O = softmax_masked(S) V, with masked keys getting probability exactly 0 and a row
 * without any kept key giving O = 0 (as nn/attention.h). The normalisation is applied to
 * the (rows x kv) output instead of the (rows x N) probabilities, which saves a pass over
 * the scores.
 *
 * Work is split into items (b, h, segment, block of attn_kernel_rows(N) query rows); items
 * run on OpenMP threads, each with its own (rows x N) slice of scratch (the scores of one
 * block never leave that slice; no N x N buffer exists) and its own copy of the current
 * head's keys packed for the tiled score product (kernel.c). Where cblas_sgemm is used it
 * runs single-threaded inside the parallel region (OpenMP OpenBLAS). Without OpenMP:
 * serial.
 *
 * Operands are strided views, so per-head slices of (B, N, H*w) layouts and per-segment
 * blocks of different rank are read in place: element (b, i, h, c) lives at
 *     p[b * bstride + i * ld + h * hstride + c].
 * Counted FLOPs per item of m rows (added to AttnFlops): scores 2*m*N*kq, softmax
 * ATTN_SOFTMAX_FLOPS*m*N + ATTN_NORM_FLOPS*m*kv (flops.h: 27 per score, exp included, with
 * or without a key mask), values 2*m*N*kv. */
#ifndef DRRL_ATTENTION_KERNEL_H
#define DRRL_ATTENTION_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "attention/flops.h"
#include "nn/attention.h"

/* Query rows per work item: attn_kernel_rows(N) = ATTN_SBLOCK / N rounded down to a multiple
   of 8, within [8, ATTN_QBLOCK], so that the (rows x N) scores of one item (512 KB) stay in
   L2 between the two products and the softmax (-D... overrides them for tuning; ATTN_SBLOCK
   from 32768 to 262144 measured within noise at N = 4096). */
#ifndef ATTN_QBLOCK
#define ATTN_QBLOCK 128
#endif
#ifndef ATTN_SBLOCK
#define ATTN_SBLOCK 131072
#endif
/* ATTN_KPACK: widest kq whose keys the tiled score product packs (wider: cblas_sgemm). */
#ifndef ATTN_KPACK
#define ATTN_KPACK 128
#endif
/* ATTN_MAX_SEGS: most segments one call accepts. */
#define ATTN_MAX_SEGS 4096

typedef struct {
    const float *p; /* element (b, i, h, c) at p[b*bstride + i*ld + h*hstride + c] */
    size_t bstride;
    int ld;
    int hstride;
} AttnView;

typedef struct {
    float *p; /* writable view, same addressing as AttnView */
    size_t bstride;
    int ld;
    int hstride;
} AttnOutView;

/* AttnSegment: one block of query rows [0, rows) of every sequence (the view's p already
   points at its first row), attended with the first kq query/key coordinates and the first
   kv value coordinates of every head. */
typedef struct {
    AttnView q;      /* (B, rows, H, >= kq) */
    AttnOutView out; /* (B, rows, H, >= kv) */
    int rows;
    int kq;
    int kv;
} AttnSegment;

/* attn_kernel_threads: threads the kernel will use, omp_get_max_threads() (1 without
   OpenMP): plan scratch for this many. */
int attn_kernel_threads(void);
/* attn_kernel_rows: query rows per work item for N keys (see ATTN_SBLOCK). */
int attn_kernel_rows(int N);
/* attn_kernel_scratch_size: floats of scratch for `threads` threads and N keys, with
   R = attn_kernel_rows(N), Np = N rounded up to 32 and Ns = N rounded up to 16, plus 16:
   threads * (R Ns + R + N + ATTN_KPACK Np + R ATTN_KPACK) (scores, inverse row sums, key
   flags, packed keys, scaled query block). */
size_t attn_kernel_scratch_size(int N, int threads);

/* attn_kernel_forward: the attention of every segment (see above) against the same N keys
   k (B, N, H, >= kq) and values v (B, N, H, >= kv); key_mask (B, N) as in nn/attention.h.
   Uses min(threads available, scratch_len / per-thread size) threads. fl (may be NULL)
   receives the counted FLOPs. Outputs must not alias inputs. Do not call from inside an
   OpenMP parallel region. */
void attn_kernel_forward(const AttnSegment *seg, int nseg, AttnView k, AttnView v,
                         AttnMask key_mask, int B, int H, int N, float scale,
                         float *scratch /* (threads, per-thread size) */, size_t scratch_len,
                         AttnFlops *fl);

#endif
