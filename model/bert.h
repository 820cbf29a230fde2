/* bert.h: the frozen model, a BERT-style encoder classifier (post-LN, as BERT and HuggingFace's
 * BertForSequenceClassification), forward and backward on memory planned once.
 *
 * Sizes: B sequences of N tokens, C = d_model, H = n_heads, F = d_ff, K = n_classes.
 *   emb    = tok[ids] + pos[0..N) + type[type_ids]                     (B, N, C)
 *            (c.position == BERT_POS_LEARNED, BERT's learned absolute positions), or
 *   e      = tok[ids] + type[type_ids];  emb = e + DWConv_k(m * e)      (B, N, C)
 *            (c.position == BERT_POS_CONV: a convolutional position encoding, nn/conv1d.h:
 *            a depthwise convolution of odd width k = c.conv_kernel along the sequence, zero
 *            padding, padded tokens (mask m = 0) zeroed in its input, learned weights (k, C)
 *            and bias (C). It is relative and local, so it applies unchanged at any length:
 *            a conv model has no position table and runs at any N, max_pos only records the
 *            length it was planned for; attention is untouched.)
 *   x0     = drop(LN_e(emb))
 *   per layer l = 0 .. L-1, with x the layer input (B, N, C):
 *     a    = MHSA(x; key padding mask)   (nn/mhsa.h: Q/K/V projections, attention with
 *            dropout on the probabilities P' = drop(softmax(Q K^T / sqrt(dh))), output
 *            projection Wo, bo included)
 *     y    = LN1(x + drop(a))
 *     h    = W1 y + b1                                                  (B, N, F)
 *     x'   = LN2(y + drop(W2 gelu(h) + b2))                             (B, N, C)
 *   pooled = tanh(Wp x_L[:, 0] + bp)                                    (B, C)
 *   logits = Wc drop(pooled) + bc                                       (B, K)
 *   loss   = mean over labelled rows of -log softmax(logits)[label]
 * drop() is inverted dropout with probability c.dropout (hidden) or c.attn_dropout (on the
 * attention probabilities), active only in a training forward; LN_* are layer norms with
 * eps c.ln_eps (1e-12 as BERT), gelu the exact erf form. Padded tokens (mask 0) are never
 * attended to; their own rows are computed and ignored (the classifier reads token 0).
 *
 * Backward (bert_backward) runs the chain rule through every step above in reverse with the
 * nn/ layers' backward functions; the gradient of the word-embedding table is a scatter-add
 * over the ids of the batch. Nothing allocates in forward or backward.
 *
 * Memory: bert_init plans the parameters (one allocation), and for a training model the
 * gradients (one allocation, same layout) and every activation the backward needs (one
 * allocation) for up to max_B x max_N tokens. An inference-only model (train = 0) keeps no
 * attention probabilities and no per-layer activations: its layers share one set of
 * forward buffers, so long evaluation batches stay lean. Activations of a call are laid out
 * (B, N, C) contiguously for that call's B and N. */
#ifndef DRRL_ENV_BERT_H
#define DRRL_ENV_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/rng.h"
#include "nn/mhsa.h"

#define BERT_MAX_LAYERS 24
#define BERT_TENSORS_PER_LAYER 16 /* 8 attention + 2 LN1 + 4 FFN + 2 LN2 */
/* embeddings: word, position (learned: 1 table; conv: weight and bias), type, LN_e (2) */
#define BERT_MAX_TENSORS (6 + BERT_TENSORS_PER_LAYER * BERT_MAX_LAYERS + 4)
#define BERT_NAME_MAX 96
#define BERT_CONV_MAX_KERNEL 255 /* widest convolutional position kernel */
#define BERT_CONV_MAX_LEN (1 << 20) /* longest sequence a conv-position model is planned for */

/* position encodings (BertConfig.position) */
enum { BERT_POS_LEARNED = 0, BERT_POS_CONV = 1 };
/* architectures (BertConfig.arch): the post-LN BERT encoder classifier above, or the pre-LN
   GPT-2 causal decoder language model of model/lm.h (same struct, same tensors' meaning where
   they coincide) */
enum { BERT_ARCH_ENCODER = 0, BERT_ARCH_DECODER = 1 };
/* feed-forward activations (BertConfig.act): exact erf GELU (BERT's "gelu") or its tanh
   approximation (GPT-2's "gelu_new", nn/activation.h gelu_tanh_forward) */
enum { BERT_ACT_GELU = 0, BERT_ACT_GELU_TANH = 1 };

typedef struct {
    int vocab;        /* word-piece vocabulary size V (30522 for bert-base-uncased) */
    int max_pos;      /* learned: position embeddings P (longest sequence); conv: only the
                         length the model was trained at (no table, any length runs) */
    int type_vocab;   /* token type (segment) embeddings T (2 in BERT) */
    int d_model;      /* hidden width C */
    int n_heads;      /* attention heads H; C % H == 0 */
    int d_ff;         /* feed-forward width F */
    int n_layers;     /* encoder layers L, 1 .. BERT_MAX_LAYERS */
    int n_classes;    /* classifier outputs K */
    float ln_eps;     /* layer-norm epsilon, 1e-12 in BERT */
    float dropout;    /* hidden dropout (embeddings, residual branches, pooled), BERT 0.1 */
    float attn_dropout; /* dropout on the attention probabilities, BERT 0.1 */
    int position;     /* BERT_POS_LEARNED (0, the default of a zeroed config) or BERT_POS_CONV */
    int conv_kernel;  /* conv: the kernel width k, odd, 1 .. BERT_CONV_MAX_KERNEL; learned: 0
                         (decoder: the causal convolution, any width 1 .. 255) */
    int arch;         /* BERT_ARCH_ENCODER (0, the default of a zeroed config) or
                         BERT_ARCH_DECODER (then type_vocab = 1 and n_classes = vocab: no type
                         table, the tied LM head's outputs) */
    int act;          /* BERT_ACT_GELU (0) or BERT_ACT_GELU_TANH */
} BertConfig;

/* bert_config_check: ST_CONFIG with a message naming the field, the allowed range and the
 * value found, unless every field is in range (sizes >= 1, n_heads divides d_model,
 * n_layers <= BERT_MAX_LAYERS, 0 < ln_eps < 1, dropouts in [0, 1), tables < 2^31 floats,
 * position learned with conv_kernel 0 or conv with an odd conv_kernel in 1 .. 255 (decoder:
 * any width in 1 .. 255), arch and act known, a decoder with type_vocab 1 and n_classes =
 * vocab). */
Status bert_config_check(const BertConfig *c, Err *e);

/* bert_max_len: the longest sequence a model of this config can run: max_pos for learned
 * positions (the table's rows), BERT_CONV_MAX_LEN for conv (no table). */
int bert_max_len(const BertConfig *c);

/* bert_position_name: "learned" or "conv" (the config and model-file spelling). */
const char *bert_position_name(int position);
/* bert_arch_name: "encoder" or "decoder"; bert_act_name: "gelu" or "gelu_tanh" (the config
   and model-file spellings). */
const char *bert_arch_name(int arch);
const char *bert_act_name(int act);

/* BertLayerParams: one encoder layer (HuggingFace names under bert.encoder.layer.<l>.) */
typedef struct {
    MhsaParams attn;      /* attention.self.{query,key,value}.*, attention.output.dense.* */
    float *ln1_w, *ln1_b; /* (C) attention.output.LayerNorm.{weight,bias} */
    float *w1, *b1;       /* (F, C), (F) intermediate.dense.{weight,bias} */
    float *w2, *b2;       /* (C, F), (C) output.dense.{weight,bias} */
    float *ln2_w, *ln2_b; /* (C) output.LayerNorm.{weight,bias} */
} BertLayerParams;

typedef struct {
    float *tok;             /* (V, C) bert.embeddings.word_embeddings.weight */
    float *pos;             /* (P, C) bert.embeddings.position_embeddings.weight (learned;
                               NULL for conv) */
    float *conv_w, *conv_b; /* (k, C), (C) bert.embeddings.position_conv.{weight,bias} (conv;
                               NULL for learned): w[j, c] is tap j of channel c */
    float *type;            /* (T, C) bert.embeddings.token_type_embeddings.weight */
    float *ln_e_w, *ln_e_b; /* (C) bert.embeddings.LayerNorm.{weight,bias} */
    BertLayerParams layer[BERT_MAX_LAYERS];
    float *pool_w, *pool_b; /* (C, C), (C) bert.pooler.dense.{weight,bias} */
    float *cls_w, *cls_b;   /* (K, C), (K) classifier.{weight,bias} */
    float *lnf_w, *lnf_b;   /* (C) decoder only: ln_f.{weight,bias}, the final layer norm
                               (a decoder has no type, LN_e, pooler or classifier tensors:
                               those pointers are NULL) */
} BertParams;

/* BertTensor: one named parameter tensor; the optimizer and the model file iterate over the
 * table m->tensor[0 .. m->n_tensors) (order: embeddings, layers 0 .. L-1, pooler, classifier,
 * i.e. the order of HuggingFace's state_dict). The embeddings are word, position (learned:
 * position_embeddings; conv: position_conv.weight, position_conv.bias), token type,
 * LayerNorm weight and bias: bert_embedding_tensors(c) = 5 (learned) or 6 (conv) entries,
 * word embeddings always first. */
typedef struct {
    char name[BERT_NAME_MAX]; /* HuggingFace key, e.g. "bert.encoder.layer.3.output.dense.weight" */
    float *param;             /* into the parameter allocation */
    float *grad;              /* into the gradient allocation; NULL for an inference model */
    int ndim;                 /* 1 or 2 */
    int64_t dims[2];          /* (out, in) for matrices, as torch stores them */
    size_t count;             /* elements */
    int decay;                /* 1: weight decay applies (matrices, embeddings); 0: biases, LN */
} BertTensor;

/* per-layer activations (training: one set per layer; inference-only: every layer uses the
 * same buffers, in place: r1 = r2 = BertActs.tmp, g = h, out = BertActs.emb, att = NULL) */
typedef struct {
    MhsaActs mh;      /* q, k, v, att (P), a, scratch (nn/mhsa.h) */
    float *att_drop;  /* (B, H, N, N) P' = dropped-out P, training with attn_dropout > 0 */
    float *r1;        /* (B, N, C) x + drop(a), input of LN1 */
    float *y;         /* (B, N, C) LN1 output */
    float *h;         /* (B, N, F) W1 y + b1 */
    float *g;         /* (B, N, F) gelu(h) */
    float *r2;        /* (B, N, C) y + drop(W2 g + b2), input of LN2 */
    float *out;       /* (B, N, C) LN2 output = next layer's input */
    float *z;         /* (B, N, C) decoder: LN2(r1), the feed-forward's input (model/lm.h
                         says how a decoder uses the other fields) */
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd; /* (B*N), training only */
    uint8_t *drop1, *drop2; /* (B, N, C) dropout masks, training only */
} BertLayerActs;

typedef struct {
    float *emb;                 /* (B, N, C) tok + pos + type (learned), e + conv(e) (conv) */
    float *e0;                  /* (B, N, C) conv only: e = tok + type, the conv's input
                                   (aliases tmp when inference-only); NULL for learned */
    uint8_t *mask;              /* (B, N) conv training only: the last forward's mask, for
                                   the conv's backward */
    float *lne;                 /* (B, N, C) LN_e(emb) before dropout (aliases tmp; emb when
                                   inference-only) */
    float *x0;                  /* (B, N, C) drop(LN_e(emb)), layer 0's input (aliases emb
                                   when inference-only: everything runs in place there) */
    float *lne_mean, *lne_rstd; /* (B*N) training only */
    uint8_t *drop_e;            /* (B, N, C) training only */
    BertLayerActs layer[BERT_MAX_LAYERS];
    float *tmp;                 /* (B, N, C) branch output before dropout (a, W2 g + b2) */
    uint8_t *att_keep;          /* (B, H, N, N) attention dropout keep mask (drawn per layer) */
    float *cls_in;              /* (B, C) x_L[:, 0] */
    float *pre;                 /* (B, C) Wp cls_in + bp */
    float *pooled;              /* (B, C) tanh(pre) */
    float *pooled_d;            /* (B, C) drop(pooled), classifier input */
    uint8_t *drop_p;            /* (B, C) training only */
    float *logits, *probs;      /* (B, K); decoder: (B, N, V) per position */
    float *losses;              /* (B); decoder: (B, N) */
    float *zf;                  /* (B, N, C) decoder: LN_f(x_L), the LM head's input */
    float *lnf_mean, *lnf_rstd; /* (B*N) decoder training only */
    /* backward scratch (training only) */
    MhsaGradActs mg;            /* dq, dk, dv, da (B, N, C), shared by the layers */
    float *dA, *dB, *dC;        /* (B, N, C) */
    float *dF1, *dF2;           /* (B, N, F) */
    float *dpooled_d, *dpooled, *dpre, *dcls; /* (B, C) */
    float *dlogits;             /* (B, K) */
    int32_t *prev_ids;          /* (B*N) ids of the last backward: rows of the word-embedding
                                   gradient that are nonzero */
} BertActs;

typedef struct {
    BertConfig c;
    int max_B, max_N; /* planned batch and length */
    int train;        /* 1: gradients and backward activations planned */
    /* one MemPlan (one allocation: .base, .bytes) each. param_plan holds the tensors in
       table order, 64-byte aligned, padding zero, so .base is one flat float array of
       .bytes / 4 entries (optimizer state and checkpoints index it by offset); grad_plan
       (train = 1 only, else .base NULL) mirrors it offset for offset. */
    MemPlan param_plan, grad_plan, act_plan;
    BertParams p;     /* parameters */
    BertParams g;     /* gradients (same layout; NULL pointers for an inference model) */
    BertActs a;
    BertTensor tensor[BERT_MAX_TENSORS];
    int n_tensors;
    size_t n_params;  /* total parameter count */
    /* state of the last forward (for the backward and the accessors) */
    int B, N;            /* its batch and length */
    int fwd_training;    /* 1 if dropout was active */
    int attn_dropped;    /* 1 if the attention used P' (att_drop) */
    int n_prev_ids;      /* valid entries of a.prev_ids */
} Bert;

/* bert_init: check c (bert_config_check), plan and allocate for batches of up to max_B
 * sequences of up to max_N tokens (max_N <= bert_max_len(c): max_pos for learned positions,
 * any length for conv). train = 1: gradients and backward activations too. Parameters
 * start at zero: call bert_init_weights or bert_load. On failure nothing stays allocated
 * (bert_free is still safe). */
Status bert_init(Bert *m, const BertConfig *c, int max_B, int max_N, int train, Err *e);
/* bert_free: release the three allocations; safe on a zeroed or failed Bert. */
void bert_free(Bert *m);

/* bert_init_weights: BERT's initialisation: matrices and embedding tables N(0, 0.02)
 * (initializer_range), layer-norm gains 1, biases 0; the conv position taps N(0, 1/k) (so
 * that conv(e) starts at the scale of e); a decoder's c_proj matrices N(0, 0.02 /
 * sqrt(2 L)) as GPT-2; draws in tensor-table order. */
void bert_init_weights(Bert *m, Rng *rng);

/* bert_forward: logits (and probs) of B <= max_B sequences of N <= max_N tokens.
 * ids (B, N) in [0, vocab); type_ids (B, N) in [0, type_vocab) or NULL (all 0); mask (B, N)
 * 1 = real token, 0 = padding (token 0 should be real: the classifier reads it); labels (B)
 * in [0, n_classes) or -1 (ignored), or NULL. training = 1 turns dropout on (draws from rng,
 * which may be NULL otherwise); a model planned with train = 0 always runs in eval mode.
 * Returns the mean cross-entropy over the labelled rows (0 without labels). */
float bert_forward(Bert *m, const int32_t *ids /* (B, N) */,
                   const int32_t *type_ids /* (B, N) or NULL */, const uint8_t *mask /* (B, N) */,
                   const int32_t *labels /* (B) or NULL */, int B, int N, int training,
                   Rng *rng);

/* bert_embed: the embedding sum of B sequences of N tokens (ids, type_ids, mask as for
 * bert_forward), before the embedding layer norm, into emb (B, N, C):
 *   learned positions: emb = (tok[id] + type[tid]) + pos[n]  (torch's order of the sums);
 *   conv positions:    e0 = tok[id] + type[tid], emb = conv(mask * e0) + e0.
 * e0 (B, N, C) is scratch for conv positions (holds e0 after the call), unused otherwise.
 * bert_forward and the ranked forward (model/ranked.h) both start with it. */
void bert_embed(const Bert *m, float *emb /* (B, N, C) */, float *e0 /* (B, N, C) */,
                const int32_t *ids /* (B, N) */, const int32_t *type_ids /* (B, N) or NULL */,
                const uint8_t *mask /* (B, N) */, int B, int N);

/* bert_backward: after a forward with labels on a train = 1 model (same ids, type_ids,
 * labels, B, N), zero every gradient and fill it with d(mean loss)/d(parameter).
 * The word-embedding gradient is zeroed sparsely: only the rows of the previous backward's
 * ids are cleared (the rest of the table is assumed still zero), so no full-table pass is
 * spent here. Callers that write into the gradients other than scaling them (e.g. summing
 * gradients from other processes) call bert_zero_grad first. */
void bert_backward(Bert *m, const int32_t *ids /* (B, N) */,
                   const int32_t *type_ids /* (B, N) or NULL */,
                   const int32_t *labels /* (B) */, int B, int N);

/* bert_zero_grad: zero the whole gradient allocation (a full pass over the tables). */
void bert_zero_grad(Bert *m);

/* bert_logits / bert_probs: (B, n_classes) of the last forward (row-major, B of that call). */
const float *bert_logits(const Bert *m);
const float *bert_probs(const Bert *m);

/* bert_embedding_tensors: the embedding entries at the head of the tensor table (5 learned,
 * 6 conv); layer l's 16 entries start at bert_embedding_tensors(c) + 16 l. */
int bert_embedding_tensors(const BertConfig *c);

/* bert_find_tensor: the table entry with that HuggingFace name, or NULL. */
const BertTensor *bert_find_tensor(const Bert *m, const char *name);

/* bert_forward_flops: FLOPs of one forward of B sequences of N tokens, summed from the
 * layers' own counts (mhsa_flops, linear_flops + linear_bias_flops for the feed-forward,
 * pooler and classifier); elementwise work (embeddings, the convolutional position
 * encoding's 2 k C per token, layer norms, GELU, dropout) is not counted. */
int64_t bert_forward_flops(const BertConfig *c, int B, int N);

#endif
