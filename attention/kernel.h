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
 * Work is split into items (b, h, segment, block of query rows: attn_variant_rows); items
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
 * or without a key mask), values 2*m*N*kv.
 *
 * Causal masks (key_mask.causal, nn/attention.h): query row r of a segment is at position
 * p = q0 + r and keeps key j only if j <= p (and the key mask keeps j). An item of rows at
 * positions [P0, P1) runs both products over the keys [0, Nk), Nk = min(N, P1), only: no
 * later key is read, and the work shrinks (about half of the N^2 products over a sequence).
 * Inside that range the triangle j > p is dropped like a padded key: the softmax of row p runs
 * over its first min(N, p + 1) keys and the rest of its row of E is zeroed (bit-exact zeros,
 * so P V adds nothing for them). Every output row therefore depends on keys, values and its
 * own query at positions <= p only, bit for bit. FLOPs: attn_variant_flops_causal. Without
 * causal the path is the one above, unchanged. */
#ifndef DRRL_ATTENTION_KERNEL_H
#define DRRL_ATTENTION_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "attention/flops.h"
#include "nn/attention.h"

/* Query rows per work item of the default variant: attn_kernel_rows(N) = ATTN_SBLOCK / N
   rounded down to a multiple of 8, within [8, ATTN_QBLOCK], so that the (rows x N) scores of
   one item (512 KB) stay in L2 between the two products and the softmax. Other variants
   (AttnVariant below) choose other blocks; the calibration (attention/tune.h) picks by
   measurement. */
#ifndef ATTN_QBLOCK
#define ATTN_QBLOCK 128
#endif
#ifndef ATTN_SBLOCK
#define ATTN_SBLOCK 131072
#endif
/* ATTN_MAX_ROWS: most query rows per item of any variant; ATTN_MAX_SBLOCK: most scores
   (floats) of one item of any variant (the scratch is planned for it: 4 MB per thread) */
#define ATTN_MAX_ROWS 256
#define ATTN_MAX_SBLOCK 1048576
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
   kv value coordinates of every head. q0: the position of its first row in the sequence
   (keys are at positions 0..N-1); only a causal mask reads it (row r is at q0 + r), so a
   zero-initialised q0 keeps the meaning segments had before it existed. */
typedef struct {
    AttnView q;      /* (B, rows, H, >= kq) */
    AttnOutView out; /* (B, rows, H, >= kv) */
    int rows;
    int kq;
    int kv;
    int q0;          /* position of row 0 (>= 0), read with key_mask.causal */
} AttnSegment;

/* The variants of the kernel: the same math and the same no-N-by-N-buffer structure,
 * different schedules; outputs agree to float rounding (tests/attention/test_kernel).
 *  ATTN_VAR_TILED  scores of `rows` query rows against all N keys in one block (rows x N),
 *                  both products by the register tiles of kernel_tiles.c (cblas_sgemm where
 *                  kq > ATTN_KPACK or kv % 16 != 0); rows = block / N (multiple of 8, within
 *                  [8, ATTN_MAX_ROWS]).
 *  ATTN_VAR_SGEMM  the same blocks, both products by cblas_sgemm (single-threaded in the
 *                  parallel region); rows = block / N as above.
 *  ATTN_VAR_FLASH  online softmax over key blocks of `block` keys (a multiple of 32): the
 *                  scores of `rows` query rows against one key block (rows x block, sized for
 *                  L1/L2) never leave the cache; per row a running max m and sum l, and
 *                  O <- O e^(m_old - m_new) + E_blk V_blk. Extra work, counted: per row and
 *                  key block after the first, the max update (1), the correction e^(m_old -
 *                  m_new) (1 + FASTEXP_FLOPS), l <- l c + sum (2) and O's rescaling (kv):
 *                  ATTN_FLASH_FLOPS + kv (softmax field).
 * Every variant executes the multiply-adds counted: scores 2 m N kq, values 2 m N kv,
 * softmax ATTN_SOFTMAX_FLOPS m N + ATTN_NORM_FLOPS m kv (+ the flash extra). */
enum { ATTN_VAR_TILED = 0, ATTN_VAR_SGEMM = 1, ATTN_VAR_FLASH = 2, ATTN_VAR_KINDS = 3 };
#define ATTN_FLASH_FLOPS (1 + 1 + FASTEXP_FLOPS + 2)

typedef struct {
    int kind;  /* ATTN_VAR_* */
    int block; /* TILED, SGEMM: scores (floats) per item; FLASH: keys per key block */
    int rows;  /* FLASH: query rows per item (multiple of 8); others: 0 (from block / N) */
} AttnVariant;

/* attn_variant_default: the tiled variant with ATTN_SBLOCK (what runs without calibration) */
AttnVariant attn_variant_default(void);
/* attn_variant_candidates: the variants the calibration times (at most ATTN_MAX_VARIANTS);
   returns their number. */
#define ATTN_MAX_VARIANTS 16
int attn_variant_candidates(AttnVariant *out);
/* attn_variant_name: "tiled:131072", "sgemm:1048576", "flash:64x256" (rows x keys) into buf;
   attn_variant_parse: the inverse (0 on success, -1 on a malformed or unsupported name). */
const char *attn_variant_name(AttnVariant v, char *buf, size_t cap);
int attn_variant_parse(const char *s, AttnVariant *v);
/* attn_variant_valid: 1 if v is a variant attn_kernel_forward_with accepts */
int attn_variant_valid(AttnVariant v);
/* attn_variant_rows: query rows per item of v for N keys */
int attn_variant_rows(AttnVariant v, int N);
/* attn_variant_rows_causal: query rows per item under a causal mask: attn_variant_rows(v, N)
   but at most max(8, N / 8 rounded down to a multiple of 8), so that the triangle an item
   computes and drops (m Nk - the kept scores, about N R / 2 over a sequence) stays near 1/8
   of the N^2 / 2 kept ones: at N = 64 items of 128 rows would run the whole N x N block. */
int attn_variant_rows_causal(AttnVariant v, int N);
/* attn_variant_flops: fl += the FLOPs v counts for `rows` query rows against N keys with kq
   query/key and kv value coordinates (the closed form of the counters above). */
void attn_variant_flops(AttnFlops *fl, AttnVariant v, int64_t rows, int64_t N, int64_t kq,
                        int64_t kv);
/* attn_variant_flops_causal: fl += the FLOPs v counts, under a causal mask, for `copies`
   (b, h) pairs of one segment of `rows` query rows at positions q0, q0 + 1, .. against N
   keys. The segment is cut into items of R = attn_variant_rows_causal(v, N) rows as the
   kernel cuts it; an item of rows at positions [P0, P1) reads only the keys [0, Nk), Nk = min(N, P1)
   (none of them later than its last row), and row p keeps n_p = min(N, p + 1) of them:
       scores 2 m Nk kq,  values 2 m Nk kv                       (m = P1 - P0)
       softmax ATTN_SOFTMAX_FLOPS sum_p n_p + ATTN_NORM_FLOPS m kv
       flash   + sum_p (ceil(n_p / block) - 1) (ATTN_FLASH_FLOPS + kv)
   (the triangle's scores are computed by the products and dropped by bit masks; the softmax
   and the flash rescaling run only over a row's n_p keys and the key blocks holding them). */
void attn_variant_flops_causal(AttnFlops *fl, AttnVariant v, int64_t copies, int64_t q0,
                               int64_t rows, int64_t N, int64_t kq, int64_t kv);

/* attn_kernel_threads: threads the kernel will use, omp_get_max_threads() (1 without
   OpenMP): plan scratch for this many. */
int attn_kernel_threads(void);
/* attn_kernel_rows: query rows per work item of the default variant for N keys. */
int attn_kernel_rows(int N);
/* attn_kernel_scratch_size: floats of scratch for `threads` threads and up to N keys, enough
   for every variant (attn_variant_candidates and any valid one with block <=
   ATTN_MAX_SBLOCK): per thread, scores, inverse row sums and running maxima, key flags,
   packed keys (ATTN_KPACK x N rounded up to 32) and a scaled query block. */
size_t attn_kernel_scratch_size(int N, int threads);

/* attn_kernel_forward: the attention of every segment (see above) against the same N keys
   k (B, N, H, >= kq) and values v (B, N, H, >= kv); key_mask (B, N) as in nn/attention.h.
   Uses min(threads available, scratch_len / per-thread size) threads. fl (may be NULL)
   receives the counted FLOPs. Outputs must not alias inputs. Called from inside an OpenMP
   parallel region (one thread per sequence: model/ranked.h's lanes) it runs serially on the
   first thread's slice of its scratch.
   The variant is the one chosen for (N, widest kq) by attention/tune.h (the default variant
   when nothing was calibrated). */
void attn_kernel_forward(const AttnSegment *seg, int nseg, AttnView k, AttnView v,
                         AttnMask key_mask, int B, int H, int N, float scale,
                         float *scratch /* (threads, per-thread size) */, size_t scratch_len,
                         AttnFlops *fl);
/* attn_kernel_forward_with: the same with variant var (attn_variant_valid; an invalid one
   runs the default). */
void attn_kernel_forward_with(AttnVariant var, const AttnSegment *seg, int nseg, AttnView k,
                              AttnView v, AttnMask key_mask, int B, int H, int N, float scale,
                              float *scratch, size_t scratch_len, AttnFlops *fl);

#endif
