/* lowrank.h: the weight-level rank-controllable MHSA layer (docs/design.md section 2): with the
 * per-head factors of attention/factors.h (M_QK = A B^T, M_VO = C D^T, biases folded in
 * through x~ = [x, 1]) and rank r <= dh per head,
 *     Q~ = X~ A_pack,  K~ = X~ B_pack,  U = X~ C_pack        (N, H r): head h at cols [h r, h r + r)
 *     O_h = softmax_masked(Q~_h K~_h^T / sqrt(dh)) U_h        (the ORIGINAL scale 1/sqrt(dh))
 *     Y = [O_h]_h D_pack + bo                                 (N, d)
 * where A_pack ((d+1) x H r) holds the first r columns of every head's A (row d is the bias
 * row: X~ A = X A[:d] + 1 A[d]), likewise B, C, and D_pack (H r x d) holds D_h[:, :r]^T.
 * Every GEMM shrinks with r: the projections (3 x 2 N d H r), both N^2 products (2 x 2 N^2 r
 * per head) and the output GEMM (2 N H r d). At r = dh it is exact attention (up to float
 * rounding), biases and masks included.
 *
 * Per-segment ranks: the query rows of each sequence are split into segments of T tokens
 * (the last may be shorter), segment s at rank r_s. Keys and values are projected once at
 * r_max = max_s r_s with the pack of r_max, whose per-head columns are ordered by singular
 * value, so the first r_s coordinates of a head are its rank-r_s coordinates; segment s
 * projects its queries with the pack of r_s, attends with k = r_s (GEMMs with leading
 * dimension H r_max over the keys), and maps its (T, H r_s) head outputs with the D pack of
 * r_s. The result equals running each segment's queries alone at its rank.
 *
 * Counted FLOPs (attn_lowrank_flops gives the same closed form), with M_s = B T_s the query
 * rows of segment s and M = B N:
 *     proj    (2 M d H r_max + M H r_max) * 2        keys, values
 *           + sum_s (2 M_s d H r_s + M_s H r_s)      queries
 *     scores  sum_s 2 M_s N H r_s,   values  sum_s 2 M_s N H r_s
 *     softmax sum_s H M_s (ATTN_SOFTMAX_FLOPS N + ATTN_NORM_FLOPS r_s)
 *     out     sum_s (2 M_s H r_s d + M_s d)
 * One segment at rank r: per head 8 N d r + 4 N^2 r plus the bias terms and the softmax,
 * ATTN_SOFTMAX_FLOPS N^2 = 27 N^2, which does not shrink with r (at r = 16 it is 0.42 of the
 * 4 N^2 r of the two products, at r = dh = 64 0.11).
 *
 * Causal (key_mask.causal, nn/attention.h): segment s's rows are at positions s T .. (the
 * kernel's AttnSegment.q0 = s T), so query row i keeps keys j <= i at every rank; an item of
 * query rows reads only the keys up to its last row. Scores, softmax and values then follow
 * attn_variant_flops_causal per segment (attn_lowrank_flops_causal); the projections and the
 * output GEMM are unchanged (every key is still needed by some later row). The factors are
 * fixed weights, not fitted to the input, so no output depends on a later token, bit for bit
 * (tests/attention/test_causal_layers). */
#ifndef DRRL_ATTENTION_LOWRANK_H
#define DRRL_ATTENTION_LOWRANK_H

#include <stddef.h>

#include "attention/factors.h"
#include "attention/flops.h"
#include "attention/kernel.h"
#include "core/err.h"
#include "core/mem.h"
#include "nn/attention.h"

#define ATTN_MAX_RANKS 16

typedef struct {
    int r;
    float *a;  /* (d+1, H*r) query-side score factor; row d is the bias row */
    float *b;  /* (d+1, H*r) key-side score factor */
    float *c;  /* (d+1, H*r) value factor */
    float *dt; /* (H*r, d) output factor, row h*r + j = D_h[:, j]^T */
} AttnRankPack;

typedef struct {
    int max_B, max_N, d, H, dh, threads;
    int n_ranks, r_max;
    int ranks[ATTN_MAX_RANKS];       /* the rank grid, increasing */
    AttnRankPack pack[ATTN_MAX_RANKS];
    float *bo;        /* (d) output bias */
    float *q;         /* (max_B, max_N, H*r_max) query coordinates; segment s: row stride H*r_s */
    float *k;         /* (max_B, max_N, H*r_max) key coordinates */
    float *u;         /* (max_B, max_N, H*r_max) value coordinates */
    float *o;         /* (max_B, max_N, H*r_max) head outputs, laid out like q */
    float *scratch;   /* attention kernel scratch (attn_kernel_scratch_size) */
    size_t scratch_len;
    uint8_t *seg_mem; /* (ATTN_MAX_SEGS) AttnSegment descriptors */
    MemPlan plan;
} AttnLowrank;

/* attn_lowrank_init: plan buffers for up to max_B x max_N tokens and pack f at every rank of
   the grid ranks[0..n_ranks) (distinct, 1..dh, any order; at most ATTN_MAX_RANKS). */
Status attn_lowrank_init(AttnLowrank *L, const AttnFactors *f, const int *ranks, int n_ranks,
                         int max_B, int max_N, Err *e);
void attn_lowrank_free(AttnLowrank *L);
/* attn_lowrank_repack: re-pack from other factors of the same d and H (e.g. plain vs
   whitened) without reallocating. */
Status attn_lowrank_repack(AttnLowrank *L, const AttnFactors *f, Err *e);

/* attn_lowrank_forward: y (B, N, d) with per-segment ranks: segment s covers query rows
   [s T, min(N, (s+1) T)) of every sequence and uses rank seg_rank[s] (a grid rank);
   ceil(N / T) entries, at most ATTN_MAX_SEGS. key_mask (B, N). fl (may be NULL) receives the
   FLOPs executed. y must not alias x. */
Status attn_lowrank_forward(float *y /* (B, N, d) */, AttnLowrank *L, const float *x /* (B, N, d) */,
                            AttnMask key_mask, int B, int N, int T, const int *seg_rank,
                            AttnFlops *fl, Err *e);
/* attn_lowrank_forward_rank: one rank r for all queries (T = N). */
Status attn_lowrank_forward_rank(float *y /* (B, N, d) */, AttnLowrank *L,
                                 const float *x /* (B, N, d) */, AttnMask key_mask, int B, int N,
                                 int r, AttnFlops *fl, Err *e);

/* attn_lowrank_forward_heads: y (B, N, d) with a rank per segment and head: rank (nseg, H),
   rank[s H + h] the grid rank of head h in segment s (query rows [s T, min(N, (s+1) T)));
   lowrank_heads.c has the math and FLOPs. When each segment's heads share one rank it is
   attn_lowrank_forward at those ranks, bit for bit. ST_INVALID as attn_lowrank_forward. */
Status attn_lowrank_forward_heads(float *y /* (B, N, d) */, AttnLowrank *L,
                                  const float *x /* (B, N, d) */, AttnMask key_mask, int B, int N,
                                  int T, const int *rank /* (ceil(N / T), H) */, AttnFlops *fl,
                                  Err *e);
/* attn_lowrank_flops_heads: its counted FLOPs in closed form (per-head ranks that differ;
   causal: with key_mask.causal, v the kernel variant that runs). */
AttnFlops attn_lowrank_flops_heads(int64_t B, int64_t N, int64_t d, int64_t H, int64_t T,
                                   const int *rank, int causal, AttnVariant v);

/* attn_lowrank_flops: the closed form above (seg_rank as for the forward). */
AttnFlops attn_lowrank_flops(int64_t B, int64_t N, int64_t d, int64_t H, int64_t T,
                             const int *seg_rank);
/* attn_lowrank_flops_causal: the closed form under a causal mask when the kernel runs variant
   v (attn_kernel_forward runs attn_tune_pick(N, max_s r_s)). */
AttnFlops attn_lowrank_flops_causal(int64_t B, int64_t N, int64_t d, int64_t H, int64_t T,
                                    const int *seg_rank, AttnVariant v);

#endif
