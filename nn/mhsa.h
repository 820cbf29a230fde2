/* mhsa.h: multi-head self-attention layer (BERT's "attention.self" + "attention.output.dense"),
 * composed of separate Q, K, V projections with biases, the attention block (attention.h)
 * and the output projection; forward and backward on explicit, caller-planned buffers.
 *
 * With X (B*N, C) the layer input, H heads of dh = C / H, weights stored (out, in) as in
 * PyTorch nn.Linear / BERT checkpoints:
 *     Q = X Wq^T + bq,  K = X Wk^T + bk,  V = X Wv^T + bv            (B, N, C) each
 *     A = attention(Q, K, V; key mask)   per head: softmax(Q_h K_h^T / sqrt(dh)) V_h
 *     Y = A Wo^T + bo                                                   (B, N, C)
 * Backward (dY given):
 *     dA = dY Wo;  dWo += dY^T A;  dbo += colsum(dY)
 *     dQ, dK, dV from the attention backward
 *     dX += dQ Wq + dK Wk + dV Wv;  dWq += dQ^T X (same for k, v);  dbq += colsum(dQ) ...
 * The residual connection, dropout and LayerNorm of BERT's attention.output are not part of
 * this layer.
 *
 * Separate (not fused) projections: each of Q, K, V is its own (B, N, C) buffer with row
 * stride C, which is the layout attention.h reads; a fused (3C, C) GEMM would cost the same
 * FLOPs but interleave the three in (B, N, 3C) rows. Parameters map one to one onto BERT:
 *     wq, bq <- attention.self.query.{weight,bias}   wk, bk <- attention.self.key.*
 *     wv, bv <- attention.self.value.*               wo, bo <- attention.output.dense.*
 * (torch.nn.MultiheadAttention's in_proj_weight (3C, C) is [Wq; Wk; Wv] stacked by rows, and
 * out_proj is Wo, bo.) */
#ifndef DRRL_NN_MHSA_H
#define DRRL_NN_MHSA_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "nn/attention.h"

#define MHSA_NPARAMS 8

/* MhsaParams: the eight parameter tensors, in this order (also the gradient layout; any
 * gradient pointer may be NULL in mhsa_backward to skip it, e.g. frozen weights). */
typedef struct {
    float *wq; /* (C, C) attention.self.query.weight */
    float *bq; /* (C)    attention.self.query.bias */
    float *wk; /* (C, C) attention.self.key.weight */
    float *bk; /* (C)    attention.self.key.bias */
    float *wv; /* (C, C) attention.self.value.weight */
    float *bv; /* (C)    attention.self.value.bias */
    float *wo; /* (C, C) attention.output.dense.weight */
    float *bo; /* (C)    attention.output.dense.bias */
} MhsaParams;

/* mhsa_param_names: BERT-relative names in MhsaParams order ("attention.self.query.weight",
 * ...); prefix with "bert.encoder.layer.<i>." for a full BERT key. */
extern const char *const mhsa_param_names[MHSA_NPARAMS];
/* mhsa_param_sizes: element counts in MhsaParams order (C*C for weights, C for biases);
 * returns the total, 4*C*C + 4*C. */
size_t mhsa_param_sizes(size_t sizes[MHSA_NPARAMS], int C);
/* mhsa_params_point: point every field of p into the flat buffer base (mhsa_param_sizes
 * total floats), in MhsaParams order, with no padding. */
void mhsa_params_point(MhsaParams *p, float *base, int C);

/* MhsaActs: forward activations kept for the backward (and the attention scratch). */
typedef struct {
    float *q;       /* (B, N, C) query projection */
    float *k;       /* (B, N, C) key projection */
    float *v;       /* (B, N, C) value projection */
    float *att;     /* (B, H, N, N) attention probabilities; NULL for inference only */
    float *a;       /* (B, N, C) attention output (heads concatenated), input of Wo */
    float *scratch; /* (threads, N, N) per-thread attention scratch */
    size_t scratch_len; /* floats in scratch (threads * N * N) */
} MhsaActs;

/* MhsaGradActs: gradients of the intermediate activations (overwritten by the backward). */
typedef struct {
    float *dq; /* (B, N, C) */
    float *dk; /* (B, N, C) */
    float *dv; /* (B, N, C) */
    float *da; /* (B, N, C) */
} MhsaGradActs;

/* MhsaSizes: element counts of every buffer for given B, N, C, H, threads. */
typedef struct {
    size_t q, k, v;  /* B*N*C each */
    size_t att;      /* B*H*N*N (0 when planning for inference) */
    size_t a;        /* B*N*C */
    size_t scratch;  /* threads*N*N */
    size_t dq, dk, dv, da; /* B*N*C each (0 when planning for inference) */
} MhsaSizes;

/* mhsa_buffer_sizes: sizes for batch B, length N, width C, H heads and `threads` scratch
 * slices (attention_max_threads() normally); train = 0 leaves out att and the gradient
 * buffers (inference: scores live in the scratch). */
MhsaSizes mhsa_buffer_sizes(int B, int N, int C, int H, int threads, int train);

/* mhsa_plan: register the buffers of mhsa_buffer_sizes in plan, all under the name prefix
 * (it must outlive the plan, e.g. a string literal). g may be NULL (no backward; then
 * train only decides whether att is kept). The pointers are set by mem_plan_alloc;
 * acts->scratch_len is set now. */
void mhsa_plan(MemPlan *plan, MhsaActs *acts, MhsaGradActs *g, const char *prefix, int B,
               int N, int C, int H, int threads, int train);

/* mhsa_check: ST_INVALID unless B, N, C, H >= 1 and H divides C (message says which). */
Status mhsa_check(int B, int N, int C, int H, Err *e);

/* mhsa_forward: out (B, N, C) from inp (B, N, C); fills acts->q, k, v, a and (if not NULL)
 * acts->att. out must not alias inp or any acts buffer. key_mask (B, N) as in attention.h. */
void mhsa_forward(float *out /* (B, N, C) */, MhsaActs *acts, const float *inp /* (B, N, C) */,
                  AttnMask key_mask, const MhsaParams *p, int B, int N, int C, int H);

/* mhsa_backward: ACCUMULATES into dinp (B, N, C) (may be NULL) and every non-NULL gradient
 * in grads (grads itself may be NULL: input gradient only); g's buffers are overwritten
 * (zeroed, then filled). Needs the forward's acts with att != NULL and a scratch of at least
 * one N*N slice. */
void mhsa_backward(float *dinp /* (B, N, C) or NULL */, MhsaParams *grads, MhsaGradActs *g,
                   const float *dout /* (B, N, C) */, const float *inp /* (B, N, C) */,
                   const MhsaActs *acts, const MhsaParams *p, int B, int N, int C, int H);

/* mhsa_flops: forward FLOPs: four C x C projections with bias over B*N rows
 * (4 * (2*B*N*C*C + B*N*C)) plus attention_flops(B, N, H, C/H). */
int64_t mhsa_flops(int64_t B, int64_t N, int64_t C, int64_t H);

#endif
