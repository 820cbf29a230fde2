/* lm_plan.c: the decoder's (model/lm.h) tensor table and activation plan, called by
 * bert_init (model/bert.c) for c.arch = BERT_ARCH_DECODER.
 *
 * Table order (the flat parameter layout; the optimizer and checkpoints index it by offset):
 *   wte.weight (V, C); wpe.weight (P, C) (learned) or wpe.conv.weight (k, C), wpe.conv.bias
 *   (C) (conv); per layer l, under "h.<l>.": ln_1.{weight,bias}, attn.{q,k,v}.{weight,bias}
 *   (C, C), (C), attn.c_proj.{weight,bias} (C, C), (C), ln_2.{weight,bias}, mlp.c_fc.
 *   {weight (F, C), bias (F)}, mlp.c_proj.{weight (C, F), bias (C)}; ln_f.{weight,bias}.
 * 2 (learned) or 3 (conv) embedding entries, then 16 per layer, so layer l starts at
 * bert_embedding_tensors(c) + 16 l as for the encoder. Matrices are stored (out, in) as
 * nn/linear.h reads them; GPT-2's files store its Conv1D weights (in, out) and fuse q, k, v
 * into c_attn: the model file's reader and writer (bert_io.c) translate. */
#include <stdio.h>
#include <string.h>

#include "model/bert_internal.h"
#include "nn/attention.h"

void lm_plan_params(BertPlan *P) {
    Bert *m = P->m;
    const BertConfig *c = &m->c;
    const int C = c->d_model, F = c->d_ff;
    BertParams *p = &m->p, *g = &m->g;
    char nm[BERT_NAME_MAX];
    m->n_tensors = 0;
    m->n_params = 0;
    bert_plan_tensor(P, &p->tok, &g->tok, "wte.weight", c->vocab, C, 1);
    if (c->position == BERT_POS_CONV) {
        bert_plan_tensor(P, &p->conv_w, &g->conv_w, "wpe.conv.weight", c->conv_kernel, C, 1);
        bert_plan_tensor(P, &p->conv_b, &g->conv_b, "wpe.conv.bias", C, 0, 0);
    } else {
        bert_plan_tensor(P, &p->pos, &g->pos, "wpe.weight", c->max_pos, C, 1);
    }
    static const char *const attn[MHSA_NPARAMS] = {
        "attn.q.weight", "attn.q.bias", "attn.k.weight",      "attn.k.bias",
        "attn.v.weight", "attn.v.bias", "attn.c_proj.weight", "attn.c_proj.bias"};
    for (int l = 0; l < c->n_layers; l++) {
        BertLayerParams *lp = &p->layer[l], *lg = &g->layer[l];
#define LAYER_T(field, suffix, d0, d1, dec)                      \
    snprintf(nm, sizeof nm, "h.%d.%s", l, suffix);               \
    bert_plan_tensor(P, &lp->field, &lg->field, nm, d0, d1, dec)
        LAYER_T(ln1_w, "ln_1.weight", C, 0, 0);
        LAYER_T(ln1_b, "ln_1.bias", C, 0, 0);
        float **pm[MHSA_NPARAMS] = {&lp->attn.wq, &lp->attn.bq, &lp->attn.wk, &lp->attn.bk,
                                    &lp->attn.wv, &lp->attn.bv, &lp->attn.wo, &lp->attn.bo};
        float **gm[MHSA_NPARAMS] = {&lg->attn.wq, &lg->attn.bq, &lg->attn.wk, &lg->attn.bk,
                                    &lg->attn.wv, &lg->attn.bv, &lg->attn.wo, &lg->attn.bo};
        for (int i = 0; i < MHSA_NPARAMS; i++) {
            const int w = i % 2 == 0;
            snprintf(nm, sizeof nm, "h.%d.%s", l, attn[i]);
            bert_plan_tensor(P, pm[i], gm[i], nm, C, w ? C : 0, w);
        }
        LAYER_T(ln2_w, "ln_2.weight", C, 0, 0);
        LAYER_T(ln2_b, "ln_2.bias", C, 0, 0);
        LAYER_T(w1, "mlp.c_fc.weight", F, C, 1);
        LAYER_T(b1, "mlp.c_fc.bias", F, 0, 0);
        LAYER_T(w2, "mlp.c_proj.weight", C, F, 1);
        LAYER_T(b2, "mlp.c_proj.bias", C, 0, 0);
#undef LAYER_T
    }
    bert_plan_tensor(P, &p->lnf_w, &g->lnf_w, "ln_f.weight", C, 0, 0);
    bert_plan_tensor(P, &p->lnf_b, &g->lnf_b, "ln_f.bias", C, 0, 0);
}

void lm_plan_acts(Bert *m) {
    const BertConfig *c = &m->c;
    const int B = m->max_B, N = m->max_N, C = c->d_model, H = c->n_heads, F = c->d_ff;
    const size_t BN = (size_t)B * N, BNC = BN * C, BNF = BN * F, BNV = BN * c->vocab;
    const size_t BHNN = (size_t)B * H * N * N;
    const int threads = attention_max_threads(), tr = m->train;
    BertActs *a = &m->a;
    MemPlan *P = &m->act_plan;
    memset(a, 0, sizeof *a);
#define F32(field, n) mem_plan_f32(P, &(field), (n), "lm.acts: " #field)
#define U8(field, n) mem_plan_u8(P, &(field), (n), "lm.acts: " #field)
    const int conv = c->position == BERT_POS_CONV;
    F32(a->emb, BNC); /* the embedding sum; inference: the residual stream, in place */
    F32(a->tmp, BNC); /* branch outputs (attention, MLP) before dropout */
    if (conv && tr) F32(a->e0, BNC), U8(a->mask, BN);
    for (int l = 0; l < c->n_layers; l++) {
        BertLayerActs *la = &a->layer[l];
        if (!tr && l > 0) break; /* inference: layers share layer 0's buffers */
        F32(la->mh.q, BNC), F32(la->mh.k, BNC), F32(la->mh.v, BNC), F32(la->mh.a, BNC);
        la->mh.scratch_len = attention_scratch_size(N, threads);
        if (l == 0) F32(la->mh.scratch, la->mh.scratch_len);
        F32(la->y, BNC); /* LN1(x) (inference: also z, zf) */
        F32(la->h, BNF); /* W1 z + b1 (inference: also g) */
        if (!tr) continue;
        F32(la->mh.att, BHNN);
        if (c->attn_dropout > 0.0f) F32(la->att_drop, BHNN);
        F32(la->r1, BNC), F32(la->z, BNC), F32(la->g, BNF), F32(la->out, BNC);
        F32(la->ln1_mean, BN), F32(la->ln1_rstd, BN), F32(la->ln2_mean, BN);
        F32(la->ln2_rstd, BN);
        U8(la->drop1, BNC), U8(la->drop2, BNC);
    }
    if (tr) {
        F32(a->x0, BNC);
        U8(a->drop_e, BNC);
        if (c->attn_dropout > 0.0f) U8(a->att_keep, BHNN);
        F32(a->zf, BNC), F32(a->lnf_mean, BN), F32(a->lnf_rstd, BN);
        F32(a->mg.dq, BNC), F32(a->mg.dk, BNC), F32(a->mg.dv, BNC), F32(a->mg.da, BNC);
        F32(a->dA, BNC), F32(a->dB, BNC), F32(a->dC, BNC);
        F32(a->dF1, BNF), F32(a->dF2, BNF);
        F32(a->dlogits, BNV);
    }
    F32(a->logits, BNV);
    F32(a->probs, BNV);
    F32(a->losses, BN);
#undef F32
#undef U8
}

void lm_alias_acts(Bert *m) {
    BertActs *a = &m->a;
    const int L = m->c.n_layers;
    if (m->train) {
        for (int l = 1; l < L; l++) {
            a->layer[l].mh.scratch = a->layer[0].mh.scratch;
            a->layer[l].mh.scratch_len = a->layer[0].mh.scratch_len;
        }
        return;
    }
    /* inference: x0 = r1 = out = emb (the residual stream, updated in place), z = zf = y,
       g = h, e0 = tmp (free until the first layer), every layer on layer 0's buffers */
    a->x0 = a->emb;
    if (m->c.position == BERT_POS_CONV) a->e0 = a->tmp;
    BertLayerActs *l0 = &a->layer[0];
    l0->r1 = l0->out = a->emb;
    l0->z = l0->y;
    l0->g = l0->h;
    a->zf = l0->y;
    for (int l = 1; l < L; l++) a->layer[l] = *l0;
}
