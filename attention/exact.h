/* exact.h: the exact multi-head self-attention layer (what nn/mhsa.h's mhsa_forward
 * computes) for inference, with its memory planned once and every FLOP counted:
 *     Q = X Wq^T + bq,  K = X Wk^T + bk,  V = X Wv^T + bv                 (B, N, d) each
 *     A_h = softmax_masked(Q_h K_h^T / sqrt(dh)) V_h    per (b, h)         (attention/kernel.h)
 *     Y = A Wo^T + bo                                                      (B, N, d)
 * The projections are single GEMMs over all B*N rows (threaded by OpenBLAS); the attention
 * runs blocked over query rows with per-thread scratch (no N x N buffer per head).
 * Counted FLOPs (attn_exact_flops, the same numbers the forward adds):
 *     proj    3 * (2 B N d d + B N d)
 *     scores  2 B H N^2 dh,   values 2 B H N^2 dh
 *     softmax B H (ATTN_SOFTMAX_FLOPS N^2 + ATTN_NORM_FLOPS N dh)   (27 and 1: flops.h)
 *     out     2 B N d d + B N d
 * Causal (key_mask.causal, nn/attention.h): the one segment of query rows starts at position
 * 0, so row i keeps keys j <= i; the kernel reads only keys up to each item's last row and
 * counts what ran (attn_exact_flops_causal: proj and out as above, the rest
 * attn_variant_flops_causal of the variant that ran; about half the N^2 work). No output
 * depends on a later token, bit for bit (tests/attention/test_causal_layers). */
#ifndef DRRL_ATTENTION_EXACT_H
#define DRRL_ATTENTION_EXACT_H

#include <stddef.h>

#include "attention/flops.h"
#include "attention/kernel.h"
#include "core/err.h"
#include "core/mem.h"
#include "nn/attention.h"
#include "nn/mhsa.h"

typedef struct {
    int max_B, max_N, d, H, dh, threads;
    float *q;          /* (max_B, max_N, d) query projection */
    float *k;          /* (max_B, max_N, d) key projection */
    float *v;          /* (max_B, max_N, d) value projection */
    float *a;          /* (max_B, max_N, d) attention output, heads concatenated */
    float *scratch;    /* (threads, attn_kernel_scratch_size / threads) per-thread scores */
    size_t scratch_len;
    MemPlan plan;
} AttnExact;

/* attn_exact_init: plan and allocate the buffers for up to max_B x max_N tokens of width d
   with H heads (H divides d). */
Status attn_exact_init(AttnExact *x, int max_B, int max_N, int d, int H, Err *e);
void attn_exact_free(AttnExact *x);

/* attn_exact_forward: y (B, N, d) = MHSA(x) with key_mask (B, N); B <= max_B, N <= max_N.
   fl (may be NULL) receives the FLOPs executed. y must not alias x. */
Status attn_exact_forward(float *y /* (B, N, d) */, AttnExact *x, const float *inp /* (B, N, d) */,
                          AttnMask key_mask, const MhsaParams *p, int B, int N, AttnFlops *fl,
                          Err *e);

/* attn_exact_flops: the closed form above. */
AttnFlops attn_exact_flops(int64_t B, int64_t N, int64_t d, int64_t H);
/* attn_exact_flops_causal: the closed form under a causal mask when the kernel runs variant v
   (attn_kernel_forward runs attn_tune_pick(N, d / H)). */
AttnFlops attn_exact_flops_causal(int64_t B, int64_t N, int64_t d, int64_t H, AttnVariant v);

#endif
