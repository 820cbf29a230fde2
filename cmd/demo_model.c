/* demo_model.c: forward and backward of the drrl-demo classifier (see demo_model.h). */
#include "demo_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/activation.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/loss.h"

/* ---- parameter layout ---- */

static void add_tensor(DemoTensorList *tl, MemPlan *plan, float **ptr, const char *name,
                       int64_t d0, int64_t d1, int decay) {
    DemoTensor *t = &tl->t[tl->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ptr = ptr;
    t->ndim = d1 ? 2 : 1;
    t->dims[0] = d0;
    t->dims[1] = d1;
    t->decay = decay;
    mem_plan_f32(plan, ptr, (size_t)(d0 * (d1 ? d1 : 1)), t->name);
}

/* plan_params: register every tensor of p in plan, in a fixed order, with its name */
static void plan_params(DemoTensorList *tl, MemPlan *plan, DemoParams *p, const DemoDims *d) {
    char nm[64];
    tl->n = 0;
    add_tensor(tl, plan, &p->tok, "embeddings/token", d->V, d->C, 1);
    add_tensor(tl, plan, &p->pos, "embeddings/position", d->N, d->C, 1);
    add_tensor(tl, plan, &p->ln_e_w, "embeddings/ln/weight", d->C, 0, 0);
    add_tensor(tl, plan, &p->ln_e_b, "embeddings/ln/bias", d->C, 0, 0);
    for (int l = 0; l < d->L; l++) {
        DemoLayer *ly = &p->layer[l];
        float **mh[MHSA_NPARAMS] = {&ly->attn.wq, &ly->attn.bq, &ly->attn.wk, &ly->attn.bk,
                                    &ly->attn.wv, &ly->attn.bv, &ly->attn.wo, &ly->attn.bo};
        for (int i = 0; i < MHSA_NPARAMS; i++) {
            snprintf(nm, sizeof nm, "layers/%d/%s", l, mhsa_param_names[i]);
            int w = (i % 2) == 0;
            add_tensor(tl, plan, mh[i], nm, d->C, w ? d->C : 0, w);
        }
#define LAYER_T(field, suffix, d0, d1, dec)                        \
    snprintf(nm, sizeof nm, "layers/%d/%s", l, suffix);            \
    add_tensor(tl, plan, &ly->field, nm, d0, d1, dec)
        LAYER_T(ln1_w, "attention.output.LayerNorm.weight", d->C, 0, 0);
        LAYER_T(ln1_b, "attention.output.LayerNorm.bias", d->C, 0, 0);
        LAYER_T(w1, "intermediate.dense.weight", d->F, d->C, 1);
        LAYER_T(b1, "intermediate.dense.bias", d->F, 0, 0);
        LAYER_T(w2, "output.dense.weight", d->C, d->F, 1);
        LAYER_T(b2, "output.dense.bias", d->C, 0, 0);
        LAYER_T(ln2_w, "output.LayerNorm.weight", d->C, 0, 0);
        LAYER_T(ln2_b, "output.LayerNorm.bias", d->C, 0, 0);
#undef LAYER_T
    }
    add_tensor(tl, plan, &p->pool_w, "pooler/weight", d->C, d->C, 1);
    add_tensor(tl, plan, &p->pool_b, "pooler/bias", d->C, 0, 0);
    add_tensor(tl, plan, &p->cls_w, "classifier/weight", d->K, d->C, 1);
    add_tensor(tl, plan, &p->cls_b, "classifier/bias", d->K, 0, 0);
}

static void plan_acts(DemoActs *a, MemPlan *plan, const DemoDims *d) {
    size_t BN = (size_t)d->B * d->N, BNC = BN * d->C, BNF = BN * d->F;
    size_t BC = (size_t)d->B * d->C, BK = (size_t)d->B * d->K;
    int threads = attention_max_threads();
    mem_plan_i32(plan, &a->pos_ids, BN, "pos_ids");
    mem_plan_f32(plan, &a->emb, BNC, "emb");
    mem_plan_f32(plan, &a->x0, BNC, "x0");
    mem_plan_f32(plan, &a->lne_mean, BN, "lne_mean");
    mem_plan_f32(plan, &a->lne_rstd, BN, "lne_rstd");
    for (int l = 0; l < d->L; l++) {
        DemoLayerActs *la = &a->layer[l];
        /* one MhsaGradActs serves every layer: mhsa_backward overwrites it */
        mhsa_plan(plan, &la->mh, l == 0 ? &a->mg : NULL, "mhsa", d->B, d->N, d->C, d->H,
                  threads, 1);
        float **c[] = {&la->attn_out, &la->r1, &la->y, &la->f, &la->r2, &la->out};
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) mem_plan_f32(plan, c[i], BNC, "act");
        mem_plan_f32(plan, &la->h, BNF, "ffn_h");
        mem_plan_f32(plan, &la->g, BNF, "ffn_g");
        float **s[] = {&la->ln1_mean, &la->ln1_rstd, &la->ln2_mean, &la->ln2_rstd};
        for (size_t i = 0; i < 4; i++) mem_plan_f32(plan, s[i], BN, "ln_stats");
        mem_plan_u8(plan, &la->drop1, BNC, "drop1");
        mem_plan_u8(plan, &la->drop2, BNC, "drop2");
    }
    mem_plan_f32(plan, &a->cls_in, BC, "cls_in");
    mem_plan_f32(plan, &a->pre, BC, "pre");
    mem_plan_f32(plan, &a->pooled, BC, "pooled");
    mem_plan_f32(plan, &a->logits, BK, "logits");
    mem_plan_f32(plan, &a->probs, BK, "probs");
    mem_plan_f32(plan, &a->losses, (size_t)d->B, "losses");
    mem_plan_f32(plan, &a->dA, BNC, "dA");
    mem_plan_f32(plan, &a->dB, BNC, "dB");
    mem_plan_f32(plan, &a->dC, BNC, "dC");
    mem_plan_f32(plan, &a->dF1, BNF, "dF1");
    mem_plan_f32(plan, &a->dF2, BNF, "dF2");
    mem_plan_f32(plan, &a->dpooled, BC, "dpooled");
    mem_plan_f32(plan, &a->dpre, BC, "dpre");
    mem_plan_f32(plan, &a->dcls, BC, "dcls");
    mem_plan_f32(plan, &a->dlogits, BK, "dlogits");
}

Status demo_model_init(DemoModel *m, DemoDims d, Rng *rng, Err *e) {
    memset(m, 0, sizeof *m);
    m->d = d;
    if (d.L < 1 || d.L > DEMO_MAX_LAYERS)
        return err_set(e, ST_INVALID, "demo model: layers: expected 1..%d, found %d",
                       DEMO_MAX_LAYERS, d.L);
    Status st = mhsa_check(d.B, d.N, d.C, d.H, e);
    if (st) return st;
    mem_plan_init(&m->param_plan);
    mem_plan_init(&m->grad_plan);
    mem_plan_init(&m->act_plan);
    plan_params(&m->tensors, &m->param_plan, &m->p, &d);
    plan_params(&m->grad_tensors, &m->grad_plan, &m->g, &d);
    plan_acts(&m->a, &m->act_plan, &d);
    if ((st = mem_plan_alloc(&m->param_plan, e)) || (st = mem_plan_alloc(&m->grad_plan, e)) ||
        (st = mem_plan_alloc(&m->act_plan, e))) {
        demo_model_free(m);
        return st;
    }
    for (int i = 0; i < m->tensors.n; i++) {
        DemoTensor *t = &m->tensors.t[i];
        float *x = *t->ptr;
        int64_t n = t->dims[0] * (t->ndim == 2 ? t->dims[1] : 1);
        int is_gain = strstr(t->name, "LayerNorm.weight") || strstr(t->name, "ln/weight");
        for (int64_t j = 0; j < n; j++)
            x[j] = t->ndim == 2 ? (float)(0.02 * rng_normal(rng)) : (is_gain ? 1.0f : 0.0f);
    }
    for (int b = 0; b < d.B; b++)
        for (int n = 0; n < d.N; n++) m->a.pos_ids[b * d.N + n] = n;
    return ST_OK;
}

void demo_model_free(DemoModel *m) {
    mem_plan_free(&m->param_plan);
    mem_plan_free(&m->grad_plan);
    mem_plan_free(&m->act_plan);
}

/* ---- forward ---- */

float demo_model_forward(DemoModel *m, const int32_t *ids, const uint8_t *mask,
                         const int32_t *targets, int Bp, int training, Rng *rng) {
    const DemoDims *d = &m->d;
    DemoParams *p = &m->p;
    DemoActs *a = &m->a;
    int N = d->N, C = d->C, F = d->F, M = Bp * N;
    size_t MC = (size_t)M * C;
    /* embeddings: token + position, then layer norm */
    embedding_forward(a->emb, ids, p->tok, M, d->V, C);
    embedding_forward(a->dA, a->pos_ids, p->pos, M, d->N, C);
    for (size_t i = 0; i < MC; i++) a->emb[i] += a->dA[i];
    layernorm_forward(a->x0, a->lne_mean, a->lne_rstd, a->emb, p->ln_e_w, p->ln_e_b, M, C,
                      d->ln_eps);
    const float *x = a->x0;
    for (int l = 0; l < d->L; l++) {
        DemoLayer *ly = &p->layer[l];
        DemoLayerActs *la = &a->layer[l];
        mhsa_forward(la->attn_out, &la->mh, x, attn_mask_u8(mask), &ly->attn, Bp, N, C, d->H);
        dropout_forward(la->r1, la->drop1, la->attn_out, d->dropout, training, rng, MC);
        for (size_t i = 0; i < MC; i++) la->r1[i] += x[i];
        layernorm_forward(la->y, la->ln1_mean, la->ln1_rstd, la->r1, ly->ln1_w, ly->ln1_b, M, C,
                          d->ln_eps);
        linear_forward(la->h, la->y, ly->w1, ly->b1, M, C, F);
        gelu_forward(la->g, la->h, (size_t)M * F);
        linear_forward(la->f, la->g, ly->w2, ly->b2, M, F, C);
        dropout_forward(la->r2, la->drop2, la->f, d->dropout, training, rng, MC);
        for (size_t i = 0; i < MC; i++) la->r2[i] += la->y[i];
        layernorm_forward(la->out, la->ln2_mean, la->ln2_rstd, la->r2, ly->ln2_w, ly->ln2_b, M,
                          C, d->ln_eps);
        x = la->out;
    }
    /* pooler on the first token, classifier */
    for (int b = 0; b < Bp; b++) memcpy(a->cls_in + (size_t)b * C, x + (size_t)b * N * C,
                                        (size_t)C * sizeof(float));
    linear_forward(a->pre, a->cls_in, p->pool_w, p->pool_b, Bp, C, C);
    tanh_forward(a->pooled, a->pre, (size_t)Bp * C);
    linear_forward(a->logits, a->pooled, p->cls_w, p->cls_b, Bp, C, d->K);
    if (!targets) return 0.0f;
    return crossentropy_forward(a->losses, a->probs, a->logits, targets, Bp, d->K);
}

/* ---- backward ---- */

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

void demo_model_backward(DemoModel *m, const int32_t *ids, const int32_t *targets, int Bp) {
    const DemoDims *d = &m->d;
    DemoParams *p = &m->p, *g = &m->g;
    DemoActs *a = &m->a;
    int N = d->N, C = d->C, F = d->F, M = Bp * N;
    size_t MC = (size_t)M * C, MF = (size_t)M * F, BC = (size_t)Bp * C;
    zero(m->grad_plan.base, m->grad_plan.bytes / sizeof(float));
    /* head: dlogits -> pooled -> tanh -> pooler -> first token of the last layer */
    zero(a->dlogits, (size_t)Bp * d->K);
    crossentropy_backward(a->dlogits, a->probs, targets, 1.0f, Bp, d->K);
    zero(a->dpooled, BC);
    linear_backward(a->dpooled, g->cls_w, g->cls_b, a->dlogits, a->pooled, p->cls_w, Bp, C,
                    d->K);
    zero(a->dpre, BC);
    tanh_backward(a->dpre, a->dpooled, a->pooled, BC);
    zero(a->dcls, BC);
    linear_backward(a->dcls, g->pool_w, g->pool_b, a->dpre, a->cls_in, p->pool_w, Bp, C, C);
    zero(a->dA, MC); /* dA: gradient of the current layer's output */
    for (int b = 0; b < Bp; b++)
        memcpy(a->dA + (size_t)b * N * C, a->dcls + (size_t)b * C, (size_t)C * sizeof(float));
    for (int l = d->L - 1; l >= 0; l--) {
        DemoLayer *ly = &p->layer[l], *gl = &g->layer[l];
        DemoLayerActs *la = &a->layer[l];
        const float *x = l ? a->layer[l - 1].out : a->x0;
        /* out = LN2(r2), r2 = y + drop(f) */
        zero(a->dB, MC);
        layernorm_backward(a->dB, gl->ln2_w, gl->ln2_b, a->dA, la->r2, ly->ln2_w, la->ln2_mean,
                           la->ln2_rstd, M, C);
        zero(a->dC, MC);
        dropout_backward(a->dC, a->dB, la->drop2, d->dropout, MC);
        memcpy(a->dA, a->dB, MC * sizeof(float)); /* dA now accumulates dL/dy */
        /* f = W2 gelu(h) + b2, h = W1 y + b1 */
        zero(a->dF1, MF);
        linear_backward(a->dF1, gl->w2, gl->b2, a->dC, la->g, ly->w2, M, F, C);
        zero(a->dF2, MF);
        gelu_backward(a->dF2, a->dF1, la->h, MF);
        linear_backward(a->dA, gl->w1, gl->b1, a->dF2, la->y, ly->w1, M, C, F);
        /* y = LN1(r1), r1 = x + drop(attn_out) */
        zero(a->dB, MC);
        layernorm_backward(a->dB, gl->ln1_w, gl->ln1_b, a->dA, la->r1, ly->ln1_w, la->ln1_mean,
                           la->ln1_rstd, M, C);
        zero(a->dC, MC);
        dropout_backward(a->dC, a->dB, la->drop1, d->dropout, MC);
        memcpy(a->dA, a->dB, MC * sizeof(float)); /* dA now accumulates dL/dx */
        mhsa_backward(a->dA, &gl->attn, &a->mg, a->dC, x, &la->mh, &ly->attn, Bp, N, C, d->H);
    }
    /* x0 = LN_e(emb), emb = tok[ids] + pos[n] */
    zero(a->dB, MC);
    layernorm_backward(a->dB, g->ln_e_w, g->ln_e_b, a->dA, a->emb, p->ln_e_w, a->lne_mean,
                       a->lne_rstd, M, C);
    embedding_backward(g->tok, a->dB, ids, M, d->V, C);
    embedding_backward(g->pos, a->dB, a->pos_ids, M, d->N, C);
}

int64_t demo_model_flops(const DemoDims *d, int Bp) {
    int64_t M = (int64_t)Bp * d->N, C = d->C, F = d->F;
    int64_t per_layer = mhsa_flops(Bp, d->N, C, d->H) + linear_flops(M, C, F) +
                        linear_bias_flops(M, F) + linear_flops(M, F, C) + linear_bias_flops(M, C);
    int64_t head = linear_flops(Bp, C, C) + linear_flops(Bp, C, d->K);
    return d->L * per_layer + head;
}
