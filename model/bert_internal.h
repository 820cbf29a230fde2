/* bert_internal.h: what the encoder (bert*.c) and the decoder (lm*.c) files of model/ share
 * and nothing else includes: the tensor-table registration used while planning, and the
 * attention sub-layer's forward and backward with optional dropout on the probabilities. */
#ifndef DRRL_MODEL_BERT_INTERNAL_H
#define DRRL_MODEL_BERT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/store.h"
#include "model/bert.h"

/* BertPlan: the table being registered: slot i holds the addresses of tensor i's parameter
   and gradient pointers (fields of m->p and m->g), filled in after the allocation
   (bert_plan_point). */
typedef struct {
    Bert *m;
    float **pf[BERT_MAX_TENSORS];
    float **gf[BERT_MAX_TENSORS];
} BertPlan;

/* bert_plan_tensor: append a table entry (d1 = 0: a vector) and register its parameter (and,
   for a training model, gradient) storage, in table order in both plans. */
void bert_plan_tensor(BertPlan *P, float **pf, float **gf, const char *name, int64_t d0,
                      int64_t d1, int decay);

/* lm_plan_params / lm_plan_acts / lm_alias_acts: the decoder's parameter table (lm_plan.c),
   its activations, and the inference-only aliasing after the allocation. */
void lm_plan_params(BertPlan *P);
void lm_plan_acts(Bert *m);
void lm_alias_acts(Bert *m);

/* bert_draw_keep: the attention dropout keep mask, keep[i] = u_i >= p in index order */
void bert_draw_keep(uint8_t *keep, size_t n, float p, Rng *rng);

/* bert_attn_forward: out (B, N, C) = Wo attention(x Wq + bq, x Wk + bk, x Wv + bv; km) + bo,
   with dropout on the probabilities when dropped (keep drawn by the caller), keeping what
   the backward needs in la->mh (and la->att_drop). */
void bert_attn_forward(float *out, BertLayerActs *la, const uint8_t *keep, float p_attn,
                       int dropped, const float *x, AttnMask km, const MhsaParams *w, int B,
                       int N, int C, int H);

/* bert_attn_backward: dx += d/dx of bert_attn_forward and the parameter gradients +=, from
   dout (B, N, C); g holds the layer's scratch gradients. */
void bert_attn_backward(float *dx, MhsaParams *gw, MhsaGradActs *g, const float *dout,
                        const float *x, const BertLayerActs *la, int dropped,
                        const MhsaParams *w, int B, int N, int C, int H);

/* bert_add_inplace: y += x over n elements */
void bert_add_inplace(float *y, const float *x, size_t n);

/* bert_act_forward / bert_act_backward: the config's feed-forward activation (c->act) */
void bert_act_forward(const BertConfig *c, float *out, const float *inp, size_t n);
void bert_act_backward(const BertConfig *c, float *dinp, const float *dout, const float *inp,
                       size_t n);

/* lm_io_xfer: the decoder's tensors to (wr 1) or from (wr 0: finite values required) an open
   model file under GPT-2's names and layouts (lm_io.c) */
Status lm_io_xfer(Store *st, Bert *m, int wr, Err *e);

#endif
