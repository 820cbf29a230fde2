/* bert.c: the BERT-style encoder classifier of bert.h, everything but the passes: the config
 * check, memory planning (parameters, gradients, activations, each one core/mem.h MemPlan
 * and one allocation), bert_init / bert_free, BERT's weight initialisation, the tensor
 * table, the accessors and the FLOP count. The forward pass is in bert_forward.c, the
 * backward pass in bert_backward.c.
 *
 * Position kinds: a learned model registers bert.embeddings.position_embeddings (P, C); a
 * conv model registers bert.embeddings.position_conv.weight (k, C) and .bias (C) in that
 * slot instead (so its layers start one entry later), initialised N(0, 1/k) per tap (see
 * bert_init_weights) and has no length limit.
 *
 * Parameter layout: tensors are registered in table order (embeddings, layers 0 .. L-1,
 * pooler, classifier, each 64-byte aligned), so the parameter allocation m->param_plan.base
 * (m->param_plan.bytes long, padding zero) is one flat float array in HuggingFace state_dict
 * order. The gradient plan registers the same tensors in the same order with the same sizes,
 * so the gradient allocation mirrors it offset for offset. Callers rely on both: the
 * optimizer state and the checkpoint's /params are indexed by offsets into param_plan.base,
 * gradient clipping and bert_zero_grad treat grad_plan.base as one flat array. Keep the
 * registration order of plan_params (and the MemPlan rounding) unchanged. */
#include "model/bert.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bert_internal.h"
#include "nn/attention.h"
#include "nn/linear.h"

/* ------------------------------------------------------------------ configuration */

Status bert_config_check(const BertConfig *c, Err *e) {
    if (!c) return err_set(e, ST_INVALID, "bert: NULL config");
    struct {
        const char *name;
        int v, lo, hi;
    } ints[] = {
        {"vocab", c->vocab, 1, 1 << 24},       {"max_pos", c->max_pos, 1, 1 << 20},
        {"type_vocab", c->type_vocab, 1, 1 << 16}, {"d_model", c->d_model, 1, 1 << 16},
        {"n_heads", c->n_heads, 1, 1 << 12},   {"d_ff", c->d_ff, 1, 1 << 18},
        {"n_layers", c->n_layers, 1, BERT_MAX_LAYERS}, {"n_classes", c->n_classes, 1, 1 << 16},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v < ints[i].lo || ints[i].v > ints[i].hi)
            return err_set(e, ST_CONFIG, "%s: expected %d..%d, found %d", ints[i].name,
                           ints[i].lo, ints[i].hi, ints[i].v);
    if (c->d_model % c->n_heads != 0)
        return err_set(e, ST_CONFIG,
                       "n_heads: expected a divisor of d_model (%d), found %d", c->d_model,
                       c->n_heads);
    const int64_t lim = (int64_t)1 << 31;
    if ((int64_t)c->vocab * c->d_model >= lim || (int64_t)c->max_pos * c->d_model >= lim ||
        (int64_t)c->d_ff * c->d_model >= lim)
        return err_set(e, ST_CONFIG,
                       "vocab/max_pos/d_ff x d_model: expected tables below 2^31 elements, "
                       "found %d/%d/%d x %d", c->vocab, c->max_pos, c->d_ff, c->d_model);
    if (!(c->ln_eps > 0.0f && c->ln_eps < 1.0f))
        return err_set(e, ST_CONFIG, "ln_eps: expected a number in (0, 1), found %g",
                       (double)c->ln_eps);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return err_set(e, ST_CONFIG, "dropout: expected a number in [0, 1), found %g",
                       (double)c->dropout);
    if (!(c->attn_dropout >= 0.0f && c->attn_dropout < 1.0f))
        return err_set(e, ST_CONFIG, "attn_dropout: expected a number in [0, 1), found %g",
                       (double)c->attn_dropout);
    if (c->position != BERT_POS_LEARNED && c->position != BERT_POS_CONV)
        return err_set(e, ST_CONFIG, "position: expected %d (learned) or %d (conv), found %d",
                       BERT_POS_LEARNED, BERT_POS_CONV, c->position);
    if (c->position == BERT_POS_LEARNED && c->conv_kernel != 0)
        return err_set(e, ST_CONFIG,
                       "conv_kernel: expected 0 with learned positions, found %d",
                       c->conv_kernel);
    if (c->arch != BERT_ARCH_ENCODER && c->arch != BERT_ARCH_DECODER)
        return err_set(e, ST_CONFIG, "arch: expected %d (encoder) or %d (decoder), found %d",
                       BERT_ARCH_ENCODER, BERT_ARCH_DECODER, c->arch);
    if (c->act != BERT_ACT_GELU && c->act != BERT_ACT_GELU_TANH)
        return err_set(e, ST_CONFIG, "act: expected %d (gelu) or %d (gelu_tanh), found %d",
                       BERT_ACT_GELU, BERT_ACT_GELU_TANH, c->act);
    const int dec = c->arch == BERT_ARCH_DECODER;
    if (c->position == BERT_POS_CONV &&
        (c->conv_kernel < 1 || c->conv_kernel > BERT_CONV_MAX_KERNEL ||
         (!dec && c->conv_kernel % 2 == 0)))
        return err_set(e, ST_CONFIG, "conv_kernel: expected %s width in 1..%d, found %d",
                       dec ? "a" : "an odd", BERT_CONV_MAX_KERNEL, c->conv_kernel);
    if (dec && c->type_vocab != 1)
        return err_set(e, ST_CONFIG, "type_vocab: expected 1 for a decoder (no token types), "
                       "found %d", c->type_vocab);
    if (dec && c->n_classes != c->vocab)
        return err_set(e, ST_CONFIG, "n_classes: expected the vocabulary size %d for a decoder "
                       "(its LM head's outputs), found %d", c->vocab, c->n_classes);
    return ST_OK;
}

const char *bert_arch_name(int arch) {
    return arch == BERT_ARCH_ENCODER ? "encoder" : arch == BERT_ARCH_DECODER ? "decoder" : "?";
}

const char *bert_act_name(int act) {
    return act == BERT_ACT_GELU ? "gelu" : act == BERT_ACT_GELU_TANH ? "gelu_tanh" : "?";
}

int bert_max_len(const BertConfig *c) {
    return c->position == BERT_POS_CONV ? BERT_CONV_MAX_LEN : c->max_pos;
}

const char *bert_position_name(int position) {
    return position == BERT_POS_LEARNED ? "learned" : position == BERT_POS_CONV ? "conv" : "?";
}

int bert_embedding_tensors(const BertConfig *c) {
    if (c->arch == BERT_ARCH_DECODER) return c->position == BERT_POS_CONV ? 3 : 2;
    return c->position == BERT_POS_CONV ? 6 : 5;
}

/* every buffer of a model fits one MemPlan: at most BERT_MAX_TENSORS parameter tensors, and
   per training layer 19 activation buffers plus 32 model-level ones (plan_acts) */
_Static_assert(BERT_MAX_TENSORS <= MEM_PLAN_MAX && 32 + 19 * BERT_MAX_LAYERS <= MEM_PLAN_MAX,
               "MEM_PLAN_MAX too small for a BERT_MAX_LAYERS model");

/* ------------------------------------------------------------------ parameter table */

void bert_plan_tensor(BertPlan *P, float **pf, float **gf, const char *name, int64_t d0,
                      int64_t d1, int decay) {
    Bert *m = P->m;
    assert(m->n_tensors < BERT_MAX_TENSORS);
    P->pf[m->n_tensors] = pf;
    P->gf[m->n_tensors] = gf;
    BertTensor *t = &m->tensor[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->dims[0] = d0;
    t->dims[1] = d1;
    t->count = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    t->decay = decay;
    mem_plan_f32(&m->param_plan, pf, t->count, t->name);
    if (m->train) mem_plan_f32(&m->grad_plan, gf, t->count, t->name);
    m->n_params += t->count;
}

static void plan_params(BertPlan *P) {
    Bert *m = P->m;
    const BertConfig *c = &m->c;
    const int C = c->d_model, F = c->d_ff;
    BertParams *p = &m->p, *g = &m->g;
    char nm[BERT_NAME_MAX];
    m->n_tensors = 0;
    m->n_params = 0;
    bert_plan_tensor(P, &p->tok, &g->tok, "bert.embeddings.word_embeddings.weight", c->vocab, C, 1);
    if (c->position == BERT_POS_CONV) {
        bert_plan_tensor(P, &p->conv_w, &g->conv_w, "bert.embeddings.position_conv.weight",
                   c->conv_kernel, C, 1);
        bert_plan_tensor(P, &p->conv_b, &g->conv_b, "bert.embeddings.position_conv.bias", C, 0, 0);
    } else {
        bert_plan_tensor(P, &p->pos, &g->pos, "bert.embeddings.position_embeddings.weight",
                   c->max_pos, C, 1);
    }
    bert_plan_tensor(P, &p->type, &g->type, "bert.embeddings.token_type_embeddings.weight",
               c->type_vocab, C, 1);
    bert_plan_tensor(P, &p->ln_e_w, &g->ln_e_w, "bert.embeddings.LayerNorm.weight", C, 0, 0);
    bert_plan_tensor(P, &p->ln_e_b, &g->ln_e_b, "bert.embeddings.LayerNorm.bias", C, 0, 0);
    for (int l = 0; l < c->n_layers; l++) {
        BertLayerParams *lp = &p->layer[l], *lg = &g->layer[l];
        float **pm[MHSA_NPARAMS] = {&lp->attn.wq, &lp->attn.bq, &lp->attn.wk, &lp->attn.bk,
                                    &lp->attn.wv, &lp->attn.bv, &lp->attn.wo, &lp->attn.bo};
        float **gm[MHSA_NPARAMS] = {&lg->attn.wq, &lg->attn.bq, &lg->attn.wk, &lg->attn.bk,
                                    &lg->attn.wv, &lg->attn.bv, &lg->attn.wo, &lg->attn.bo};
        for (int i = 0; i < MHSA_NPARAMS; i++) {
            int w = i % 2 == 0;
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s", l, mhsa_param_names[i]);
            bert_plan_tensor(P, pm[i], gm[i], nm, C, w ? C : 0, w);
        }
#define LAYER_T(field, suffix, d0, d1, dec)                               \
    snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s", l, suffix);       \
    bert_plan_tensor(P, &lp->field, &lg->field, nm, d0, d1, dec)
        LAYER_T(ln1_w, "attention.output.LayerNorm.weight", C, 0, 0);
        LAYER_T(ln1_b, "attention.output.LayerNorm.bias", C, 0, 0);
        LAYER_T(w1, "intermediate.dense.weight", F, C, 1);
        LAYER_T(b1, "intermediate.dense.bias", F, 0, 0);
        LAYER_T(w2, "output.dense.weight", C, F, 1);
        LAYER_T(b2, "output.dense.bias", C, 0, 0);
        LAYER_T(ln2_w, "output.LayerNorm.weight", C, 0, 0);
        LAYER_T(ln2_b, "output.LayerNorm.bias", C, 0, 0);
#undef LAYER_T
    }
    bert_plan_tensor(P, &p->pool_w, &g->pool_w, "bert.pooler.dense.weight", C, C, 1);
    bert_plan_tensor(P, &p->pool_b, &g->pool_b, "bert.pooler.dense.bias", C, 0, 0);
    bert_plan_tensor(P, &p->cls_w, &g->cls_w, "classifier.weight", c->n_classes, C, 1);
    bert_plan_tensor(P, &p->cls_b, &g->cls_b, "classifier.bias", c->n_classes, 0, 0);
}

/* table_point: after the allocation, copy each tensor's parameter and gradient pointers
   (set by the plans) into the table */
static void table_point(BertPlan *P) {
    Bert *m = P->m;
    for (int i = 0; i < m->n_tensors; i++) {
        m->tensor[i].param = *P->pf[i];
        m->tensor[i].grad = m->train ? *P->gf[i] : NULL;
    }
}

/* ------------------------------------------------------------------ activations */

static void plan_acts(Bert *m) {
    const BertConfig *c = &m->c;
    const int B = m->max_B, N = m->max_N, C = c->d_model, H = c->n_heads, F = c->d_ff;
    const size_t BN = (size_t)B * N, BNC = BN * C, BNF = BN * F, BC = (size_t)B * C;
    const size_t BK = (size_t)B * c->n_classes, BHNN = (size_t)B * H * N * N;
    const int threads = attention_max_threads();
    BertActs *a = &m->a;
    MemPlan *P = &m->act_plan;
    memset(a, 0, sizeof *a);
#define F32(field, n) mem_plan_f32(P, &(field), (n), "bert.acts: " #field)
#define U8(field, n) mem_plan_u8(P, &(field), (n), "bert.acts: " #field)
#define I32(field, n) mem_plan_i32(P, &(field), (n), "bert.acts: " #field)
    const int conv = c->position == BERT_POS_CONV;
    F32(a->emb, BNC);
    F32(a->tmp, BNC);
    if (conv && m->train) {
        F32(a->e0, BNC);
        U8(a->mask, BN);
    }
    for (int l = 0; l < c->n_layers; l++) {
        BertLayerActs *la = &a->layer[l];
        if (!m->train && l > 0) break; /* inference: layers share layer 0's buffers */
        F32(la->mh.q, BNC);
        F32(la->mh.k, BNC);
        F32(la->mh.v, BNC);
        F32(la->mh.a, BNC);
        la->mh.scratch_len = attention_scratch_size(N, threads);
        if (l == 0) F32(la->mh.scratch, la->mh.scratch_len);
        F32(la->y, BNC);
        F32(la->h, BNF);
        if (!m->train) continue;
        F32(la->mh.att, BHNN);
        if (c->attn_dropout > 0.0f) F32(la->att_drop, BHNN);
        F32(la->r1, BNC);
        F32(la->g, BNF);
        F32(la->r2, BNC);
        F32(la->out, BNC);
        F32(la->ln1_mean, BN);
        F32(la->ln1_rstd, BN);
        F32(la->ln2_mean, BN);
        F32(la->ln2_rstd, BN);
        U8(la->drop1, BNC);
        U8(la->drop2, BNC);
    }
    if (m->train) {
        F32(a->x0, BNC);
        F32(a->lne_mean, BN);
        F32(a->lne_rstd, BN);
        U8(a->drop_e, BNC);
        if (c->attn_dropout > 0.0f) U8(a->att_keep, BHNN);
        U8(a->drop_p, BC);
        F32(a->pooled_d, BC);
        F32(a->mg.dq, BNC);
        F32(a->mg.dk, BNC);
        F32(a->mg.dv, BNC);
        F32(a->mg.da, BNC);
        F32(a->dA, BNC);
        F32(a->dB, BNC);
        F32(a->dC, BNC);
        F32(a->dF1, BNF);
        F32(a->dF2, BNF);
        F32(a->dpooled_d, BC);
        F32(a->dpooled, BC);
        F32(a->dpre, BC);
        F32(a->dcls, BC);
        F32(a->dlogits, BK);
        I32(a->prev_ids, BN);
    }
    F32(a->cls_in, BC);
    F32(a->pre, BC);
    F32(a->pooled, BC);
    F32(a->logits, BK);
    F32(a->probs, BK);
    F32(a->losses, (size_t)B);
#undef F32
#undef U8
#undef I32
}

/* alias_acts: after mem_plan_alloc, the pointers that share storage. Training: the scratch is
   shared by the layers, LN_e's output lives in tmp. Inference (everything in place, see
   bert_forward): emb = lne = x0 = every layer's out, r1 = r2 = tmp, g = h, and every layer
   uses layer 0's buffers. */
static void alias_acts(Bert *m) {
    BertActs *a = &m->a;
    const int L = m->c.n_layers;
    if (m->train) {
        a->lne = a->tmp;
        for (int l = 1; l < L; l++) {
            a->layer[l].mh.scratch = a->layer[0].mh.scratch;
            a->layer[l].mh.scratch_len = a->layer[0].mh.scratch_len;
        }
        return;
    }
    a->lne = a->x0 = a->emb;
    if (m->c.position == BERT_POS_CONV) a->e0 = a->tmp; /* free until the first layer */
    a->pooled_d = a->pooled;
    BertLayerActs *l0 = &a->layer[0];
    l0->r1 = l0->r2 = a->tmp;
    l0->g = l0->h;
    l0->out = a->emb;
    for (int l = 1; l < L; l++) a->layer[l] = *l0;
}

/* ------------------------------------------------------------------ init / free */

void bert_free(Bert *m) {
    if (!m) return;
    mem_plan_free(&m->param_plan);
    mem_plan_free(&m->grad_plan);
    mem_plan_free(&m->act_plan);
}

Status bert_init(Bert *m, const BertConfig *c, int max_B, int max_N, int train, Err *e) {
    memset(m, 0, sizeof *m);
    mem_plan_init(&m->param_plan);
    mem_plan_init(&m->grad_plan);
    mem_plan_init(&m->act_plan);
    Status st = bert_config_check(c, e);
    if (st) {
        err_prefix(e, "bert_init");
        return st;
    }
    if (max_B < 1 || max_N < 1 || max_N > bert_max_len(c)) {
        if (c->position == BERT_POS_CONV)
            return err_set(e, ST_INVALID,
                           "bert_init: expected max_B >= 1 and 1 <= max_N <= %d (convolutional "
                           "positions), found max_B %d, max_N %d", BERT_CONV_MAX_LEN, max_B,
                           max_N);
        return err_set(e, ST_INVALID,
                       "bert_init: expected max_B >= 1 and 1 <= max_N <= max_pos (%d), found "
                       "max_B %d, max_N %d", c->max_pos, max_B, max_N);
    }
    m->c = *c;
    m->max_B = max_B;
    m->max_N = max_N;
    m->train = train ? 1 : 0;
    BertPlan *P = malloc(sizeof *P);
    if (!P) return err_set(e, ST_NOMEM, "bert_init: out of memory");
    P->m = m;
    const int dec = c->arch == BERT_ARCH_DECODER;
    if (dec) lm_plan_params(P), lm_plan_acts(m);
    else plan_params(P), plan_acts(m);
    if ((st = mem_plan_alloc(&m->param_plan, e)) ||
        (m->train && (st = mem_plan_alloc(&m->grad_plan, e))) ||
        (st = mem_plan_alloc(&m->act_plan, e))) {
        free(P);
        bert_free(m);
        err_prefix(e, "bert_init");
        return st;
    }
    if (dec) lm_alias_acts(m);
    else alias_acts(m);
    table_point(P);
    free(P);
    return ST_OK;
}

void bert_init_weights(Bert *m, Rng *rng) {
    for (int i = 0; i < m->n_tensors; i++) {
        BertTensor *t = &m->tensor[i];
        if (t->param == m->p.conv_w) {
            /* the conv taps: N(0, 1/k), so that conv(e) starts at the scale of e (a sum of
               k products), as PyTorch's default conv init (fan_in = k for a depthwise conv) */
            const double sd = 1.0 / sqrt((double)t->dims[0]);
            for (size_t j = 0; j < t->count; j++) t->param[j] = (float)(sd * rng_normal(rng));
        } else if (t->ndim == 2) {
            /* N(0, 0.02); a decoder's residual output projections (attention and MLP
               c_proj) N(0, 0.02 / sqrt(2 L)) as GPT-2, so the residual stream's variance
               does not grow with depth */
            double sd = 0.02;
            if (m->c.arch == BERT_ARCH_DECODER && strstr(t->name, "c_proj"))
                sd /= sqrt(2.0 * m->c.n_layers);
            for (size_t j = 0; j < t->count; j++) t->param[j] = (float)(sd * rng_normal(rng));
        } else {
            /* layer-norm gains 1 (BERT's LayerNorm.weight, GPT-2's ln_*.weight) */
            const int gain = strstr(t->name, "LayerNorm.weight") ||
                             (strstr(t->name, "ln_") && strstr(t->name, ".weight"));
            float v = gain ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->count; j++) t->param[j] = v;
        }
    }
}

/* ------------------------------------------------------------------ accessors */

const float *bert_logits(const Bert *m) { return m->a.logits; }
const float *bert_probs(const Bert *m) { return m->a.probs; }

const BertTensor *bert_find_tensor(const Bert *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensor[i].name, name) == 0) return &m->tensor[i];
    return NULL;
}

int64_t bert_forward_flops(const BertConfig *c, int B, int N) {
    const int64_t M = (int64_t)B * N, C = c->d_model, F = c->d_ff, K = c->n_classes;
    int64_t layer = mhsa_flops(B, N, C, c->n_heads) + linear_flops(M, C, F) +
                    linear_bias_flops(M, F) + linear_flops(M, F, C) + linear_bias_flops(M, C);
    int64_t head = linear_flops(B, C, C) + linear_bias_flops(B, C) + linear_flops(B, C, K) +
                   linear_bias_flops(B, K);
    return c->n_layers * layer + head;
}
