/* lm.h: the causal decoder language model, GPT-2's layout (Radford et al. 2019; Hugging Face
 * GPT2LMHeadModel): pre-LN blocks, a GELU MLP, a final layer norm and the LM head tied to the
 * input embeddings. It is a Bert (model/bert.h) with c.arch = BERT_ARCH_DECODER: the same
 * struct, planning, tensor table and model file, its own passes (lm_forward.c,
 * lm_backward.c) and file names (GPT-2's, model/bert_io.h).
 *
 * Sizes: B sequences of N tokens, C = d_model, H = n_heads, F = d_ff, V = vocab.
 *   learned positions:  x0 = drop(wte[ids] + wpe[n])                          (B, N, C)
 *   conv positions:     e = wte[ids];  x0 = drop(e + CConv_k(m * e))           (B, N, C)
 *            (nn/conv1d.h's CAUSAL depthwise convolution: tap j reads position n - k + 1 + j,
 *            so no position depends on a later token; relative and local, it runs at any
 *            length: why the decoders drrl trains use it, docs/design.md "Language models")
 *   per layer l, x the layer input:
 *     y   = LN1(x)                                   ln_1
 *     a   = MHSA(y; causal mask + key padding mask)  attn (c_attn = [q k v], c_proj = Wo)
 *     r1  = x + drop(a)
 *     z   = LN2(r1)                                  ln_2
 *     x'  = r1 + drop(W2 act(W1 z + b1) + b2)        mlp.c_fc (W1), mlp.c_proj (W2)
 *   zf     = LN_f(x_L)                                                         (B, N, C)
 *   logits = zf wte^T                                (tied LM head)            (B, N, V)
 *   loss   = mean over positions with a target t of -log softmax(logits[b, n])[t]
 * act is the config's (GPT-2: the tanh GELU, BERT_ACT_GELU_TANH). The causal mask drops every
 * key after the query (nn/attention.h AttnMask.causal), so logits[b, n] depends on tokens
 * 0 .. n only; with targets[b, n] = ids[b, n + 1] (lm_targets) it predicts the next token.
 *
 * Where the Bert fields hold what (BertLayerActs): y = LN1 output, mh = the attention's
 * buffers, r1 = x + drop(a), z = LN2(r1), h, g = the MLP's, out = the layer output; r2 is
 * unused; the model keeps emb (the embedding sum), x0, tmp (branch outputs), zf, logits
 * (B, N, V), probs (B, N, V, with targets), losses (B, N). An inference-only decoder runs
 * the residual stream in place on emb (r1 = out = emb; z = zf = y; g = h). */
#ifndef DRRL_MODEL_LM_H
#define DRRL_MODEL_LM_H

#include <stdint.h>

#include "core/rng.h"
#include "model/bert.h"

/* lm_targets: targets[b, n] = ids[b, n + 1] where position n + 1 is real (mask 1), else -1
   (no target: the last real token and padding). */
void lm_targets(int32_t *targets /* (B, N) */, const int32_t *ids /* (B, N) */,
                const uint8_t *mask /* (B, N) */, int B, int N);

/* lm_forward: logits (B, N, V) of B <= max_B sequences of N <= max_N tokens of a decoder.
 * ids (B, N) in [0, V); mask (B, N): 1 = real token, 0 = padding (at the end of a row:
 * padded keys are never attended to, their rows are computed and ignored); targets (B, N)
 * in [0, V) or -1 (no target), or NULL (no loss, probs not computed). training = 1 turns
 * dropout on (draws from rng). Returns the mean cross-entropy (nats) over the targets. */
float lm_forward(Bert *m, const int32_t *ids /* (B, N) */, const uint8_t *mask /* (B, N) */,
                 const int32_t *targets /* (B, N) or NULL */, int B, int N, int training,
                 Rng *rng);

/* lm_backward: after lm_forward with targets on a train = 1 decoder (same ids, targets, B,
 * N), zero every gradient and fill it with d(mean loss)/d(parameter); the tied word
 * embedding gets the LM head's gradient and the embedding's scatter-add. */
void lm_backward(Bert *m, const int32_t *ids /* (B, N) */, const int32_t *targets /* (B, N) */,
                 int B, int N);

/* lm_logits: (B, N, V) of the last forward; lm_losses: (B, N) per-position losses (0 where
   no target) of the last forward with targets. */
const float *lm_logits(const Bert *m);
const float *lm_losses(const Bert *m);

/* lm_forward_flops: FLOPs of one forward as bert_forward_flops counts them (the layers'
   matrix products and the attention over all N keys, as nn/attention.c runs it) plus the LM
   head's 2 B N C V. */
int64_t lm_forward_flops(const BertConfig *c, int B, int N);

#endif
