/* policy.h: the actor-critic policy, a small transformer over the state tokens
 * (docs/design.md section 5). Per observation of T tokens of D features (tokens masked off
 * are ignored as keys and their outputs unused):
 *     h0 = obs W_in^T + b_in                                  (T, W)   token embedding
 *     per block l (pre-LN):  h = h + MHSA_l(LN_a,l(h); token mask)
 *                            h = h + W2 gelu(W1 LN_f,l(h) + b1) + b2  (FFN width F)
 *     z  = LN_out(h)                                          (T, W)
 *     logits[k] = z[head_token0 + k] W_pi^T + b_pi             (n_heads, A) action head k
 *     value     = z[value_token] w_v + b_v                     scalar
 *     logp[k]   = log_softmax over the allowed choices of logits[k]; -INFINITY where masked
 * Parameters live in one flat buffer (and gradients in another of the same layout) so that
 * Adam, clipping and checkpoints see one array; policy_tensor names each piece.
 * Orthogonal init (policy_init_params): weight matrices orthogonal with gain sqrt(2), the
 * action head gain 0.01, the value head gain 1, biases 0, layer norms (1, 0).
 * Memory: activations for up to max_batch observations planned once by policy_init. */
#ifndef DRRL_AGENT_POLICY_H
#define DRRL_AGENT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/rng.h"

#define POLICY_MAX_TENSORS 64

typedef struct {
    int n_tokens, token_dim, n_heads, head_token0, value_token, n_actions; /* EnvDims */
    int width;      /* W, model width (64) */
    int layers;     /* transformer blocks (2) */
    int attn_heads; /* heads of each block's MHSA (4); width % attn_heads == 0 */
    int ffn;        /* F, feed-forward width (4 W) */
    int max_batch;  /* most observations per forward */
} PolicyConfig;

typedef struct {
    char name[48];     /* e.g. "blocks/0/attn/w_q", "pi/w", "v/b" */
    size_t offset;     /* into params / grads */
    int ndim;
    int64_t shape[2];
    int decay;         /* 1 for weight matrices (weight decay applies), 0 for biases / norms */
} PolicyTensor;

typedef struct Policy Policy; /* defined in policy.c; opaque */

Status policy_init(Policy **out, const PolicyConfig *c, Err *e);
void policy_free(Policy *P);
const PolicyConfig *policy_config(const Policy *P);

/* the flat parameters and gradients, n = policy_n_params floats each */
size_t policy_n_params(const Policy *P);
float *policy_params(Policy *P);
float *policy_grads(Policy *P);
int policy_n_tensors(const Policy *P);
const PolicyTensor *policy_tensor(const Policy *P, int i);

/* policy_init_params: orthogonal init as above, drawn from rng. */
void policy_init_params(Policy *P, Rng *rng);

/* policy_forward: logp (M, n_heads, n_actions) and value (M) for M <= max_batch observations;
   keeps the activations for policy_backward. Every head must have an allowed choice where its
   token is present (ST_INVALID otherwise); heads whose token is masked off get logp 0 for
   every choice and must not be used. */
Status policy_forward(Policy *P, float *logp, float *value, const float *obs /* (M, T, D) */,
                      const uint8_t *tok_mask /* (M, T) */,
                      const uint8_t *act_mask /* (M, n_heads, A) */, int M, Err *e);

/* policy_forward_flops: the FLOPs of policy_forward on M observations, counted as the frozen
   model's are (model/ranked.h: matrix products and bias adds; LayerNorm, GELU, residual adds
   and the heads' log-softmax uncounted), with R = M T token rows:
     linear_flops(R, D, W) + linear_bias_flops(R, W)                 token embedding
   + layers (mhsa_flops(M, T, W, attn_heads)                         each block
             + linear_flops(R, W, F) + linear_bias_flops(R, F)
             + linear_flops(R, F, W) + linear_bias_flops(R, W))
   + linear_flops(M n_heads, W, A) + linear_bias_flops(M n_heads, A)  action heads
   + linear_flops(M, W, 1) + linear_bias_flops(M, 1)                 value head
   Every token runs, masked ones too (they are zeroed, not skipped). */
int64_t policy_forward_flops(const PolicyConfig *c, int64_t M);

/* policy_backward: grads += d loss / d params for the last policy_forward, given dlogits
   (M, n_heads, A) = d loss / d logits (the pre-softmax logits; entries of masked choices and of
   inactive heads are ignored) and dvalue (M) = d loss / d value. */
void policy_backward(Policy *P, const float *dlogits, const float *dvalue);

void policy_zero_grad(Policy *P);

#endif
