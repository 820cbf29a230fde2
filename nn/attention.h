/* attention.h: exact multi-head scaled-dot-product attention with key padding masks,
 * forward and backward on explicit buffers (the "attention block" between the Q/K/V
 * projections and the output projection of a transformer layer).
 *
 * Layout, as linear projections produce it: q, k, v and out are (B, N, C) row-major with
 * C = H * dh; head h occupies columns [h*dh, (h+1)*dh). Per batch b and head h, with
 * Q, K, V the (N, dh) slices (row stride C, never copied):
 *     S = Q K^T / sqrt(dh)                                          (N, N)
 *     P_ij = mask_j exp(S_ij - max_k S_ik) / sum_k mask_k exp(S_ik - max_k S_ik)
 *            (max and sum over kept keys; masked keys get P = 0 exactly; a row with no
 *             kept key is all zeros)
 *     O = P V                                                       (N, dh)
 * Backward (dO given, P saved by the forward):
 *     dV += P^T dO
 *     dP  = dO V^T
 *     dS  = P .* (dP - rowsum(dP .* P))
 *     dQ += dS K / sqrt(dh)
 *     dK += dS^T Q / sqrt(dh)
 * Masked keys have a zero column in P and in dS, so their dK and dV rows get exactly 0.
 *
 * Threads: the (b, h) pairs are split across OpenMP threads, each with its own N*N slice of
 * the caller's scratch buffer; cblas_sgemm runs single-threaded inside the parallel region
 * (OpenMP flavour of OpenBLAS). When there are fewer (b, h) pairs than threads the loop
 * runs serially and OpenBLAS threads each product instead. Without OpenMP: serial. */
#ifndef DRRL_NN_ATTENTION_H
#define DRRL_NN_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

/* Key padding mask (B, N): 1 = real token, 0 = padding; either element type. With causal
 * set, a query at position i also drops every key j > i (a decoder's causal mask: no output
 * depends on a later token); positions are within the sequence (row i of (B, N, .) is
 * position i; kernels that take blocks of query rows say where a block starts). */
typedef enum { ATTN_MASK_NONE = 0, ATTN_MASK_I32, ATTN_MASK_U8 } AttnMaskType;
typedef struct {
    AttnMaskType type;
    const void *data; /* (B, N) int32_t or uint8_t; NULL for ATTN_MASK_NONE */
    int causal;       /* 1: key j kept for query i only if j <= i */
} AttnMask;

static inline AttnMask attn_mask_none(void) {
    AttnMask m = {ATTN_MASK_NONE, NULL, 0};
    return m;
}
static inline AttnMask attn_mask_i32(const int32_t *m /* (B, N) */) {
    AttnMask r = {m ? ATTN_MASK_I32 : ATTN_MASK_NONE, m, 0};
    return r;
}
static inline AttnMask attn_mask_u8(const uint8_t *m /* (B, N) */) {
    AttnMask r = {m ? ATTN_MASK_U8 : ATTN_MASK_NONE, m, 0};
    return r;
}
/* attn_mask_causal: m with the causal mask added (a decoder's attention). */
static inline AttnMask attn_mask_causal(AttnMask m) {
    m.causal = 1;
    return m;
}

/* attention_scratch_size: floats of scratch for up to `threads` threads, threads * N * N
 * (one N x N slice per thread). Use threads = attention_max_threads() when planning. */
size_t attention_scratch_size(int N, int threads);
/* attention_max_threads: omp_get_max_threads(), or 1 without OpenMP. */
int attention_max_threads(void);

/* attention_forward: out (B, N, C) = softmax_masked(Q K^T / sqrt(dh)) V per (b, h).
 * att (B, H, N, N) receives P for the backward; att may be NULL (inference), then the
 * scores live in scratch. scratch: scratch_len floats, used only when att == NULL; it is
 * split into scratch_len / (N*N) per-thread slices (at least one slice required then).
 * out must not alias q, k or v. Do not call from inside an OpenMP parallel region. */
void attention_forward(float *out /* (B, N, H*dh) */, float *att /* (B, H, N, N) or NULL */,
                       float *scratch /* (threads, N, N) or NULL */, size_t scratch_len,
                       const float *q /* (B, N, H*dh) */, const float *k /* (B, N, H*dh) */,
                       const float *v /* (B, N, H*dh) */, AttnMask key_mask /* (B, N) */,
                       int B, int N, int H, int dh);

/* attention_backward: ACCUMULATES (+=) into dq, dk, dv (callers zero them). att is the
 * forward's P; scratch holds dP/dS, scratch_len / (N*N) >= 1 per-thread slices of N*N.
 * dq, dk, dv must not alias each other or the inputs. The mask is implied by P. */
void attention_backward(float *dq /* (B, N, H*dh) */, float *dk /* (B, N, H*dh) */,
                        float *dv /* (B, N, H*dh) */,
                        float *scratch /* (threads, N, N) */, size_t scratch_len,
                        const float *dout /* (B, N, H*dh) */, const float *att /* (B, H, N, N) */,
                        const float *q /* (B, N, H*dh) */, const float *k /* (B, N, H*dh) */,
                        const float *v /* (B, N, H*dh) */, int B, int N, int H, int dh);

/* Dropout on the attention probabilities (BERT's attention_probs_dropout_prob), training
 * only. keep (B, H, N, N) is drawn by the caller (nonzero = kept, e.g. u >= p with u uniform
 * in [0, 1), in index order, so the mask does not depend on the thread count):
 *     P' = P .* keep / (1 - p)      (p == 1: P' = 0)
 *     O  = P' V
 * Backward, with dP' = dO V^T (the mask is implied by P and P'):
 *     dV += P'^T dO
 *     dS  = P' .* dP' - P .* rowsum(P' .* dP')
 *     dQ += dS K / sqrt(dh);  dK += dS^T Q / sqrt(dh)
 * (dP = dP' .* keep / (1 - p), so P .* dP = P' .* dP' and P .* rowsum(P .* dP) is the
 * second term). With keep all nonzero and p = 0 this is exactly attention_forward. */

/* attention_forward_dropout: as attention_forward with dropout on P; att (B, H, N, N)
 * receives P (the softmax), att_drop (B, H, N, N) receives P', which the output uses. Both
 * are required (no scratch needed). 0 <= p <= 1. */
void attention_forward_dropout(float *out /* (B, N, H*dh) */, float *att /* (B, H, N, N) */,
                               float *att_drop /* (B, H, N, N) */,
                               const uint8_t *keep /* (B, H, N, N) */, float p,
                               const float *q /* (B, N, H*dh) */,
                               const float *k /* (B, N, H*dh) */,
                               const float *v /* (B, N, H*dh) */, AttnMask key_mask /* (B, N) */,
                               int B, int N, int H, int dh);

/* attention_backward_dropout: the backward of attention_forward_dropout; ACCUMULATES into
 * dq, dk, dv like attention_backward; att and att_drop are the forward's P and P'. */
void attention_backward_dropout(float *dq /* (B, N, H*dh) */, float *dk /* (B, N, H*dh) */,
                                float *dv /* (B, N, H*dh) */,
                                float *scratch /* (threads, N, N) */, size_t scratch_len,
                                const float *dout /* (B, N, H*dh) */,
                                const float *att /* (B, H, N, N) */,
                                const float *att_drop /* (B, H, N, N) */,
                                const float *q /* (B, N, H*dh) */,
                                const float *k /* (B, N, H*dh) */,
                                const float *v /* (B, N, H*dh) */, int B, int N, int H, int dh);

/* ATTENTION_SOFTMAX_FLOPS: the count charged per score for the masked softmax: scale is
 * folded into the GEMM (0), max (1), subtract (1), exp (1), sum (1), normalise (1). */
#define ATTENTION_SOFTMAX_FLOPS 5
/* ATTENTION_SOFTMAX_BWD_FLOPS: per score in backward: dP.*P (1), row sum (1), subtract (1),
 * times P (1). */
#define ATTENTION_SOFTMAX_BWD_FLOPS 4

/* attention_flops: FLOPs the forward executes (multiply-add = 2), over all N keys (masked
 * ones included: the GEMMs do not skip them):
 *     B * H * (2 * 2*N*N*dh   [Q K^T and P V]  +  ATTENTION_SOFTMAX_FLOPS * N*N). */
int64_t attention_flops(int64_t B, int64_t N, int64_t H, int64_t dh);
/* attention_backward_flops: B * H * (4 * 2*N*N*dh + ATTENTION_SOFTMAX_BWD_FLOPS * N*N). */
int64_t attention_backward_flops(int64_t B, int64_t N, int64_t H, int64_t dh);

#endif
