/* bert.c: the BERT-style encoder classifier of bert.h: memory planning, initialisation,
 * forward and backward. The math (post-LN BERT):
 *   emb = tok[ids] + type[type_ids] + pos[n];  x0 = drop(LN_e(emb))
 *   layer:  q, k, v = x Wq^T + bq, ...;  P = softmax_masked(q_h k_h^T / sqrt(dh));
 *           P' = drop(P);  a = (P' v_h) Wo^T + bo;  r1 = x + drop(a);  y = LN1(r1)
 *           h = y W1^T + b1;  g = gelu(h);  r2 = y + drop(g W2^T + b2);  x' = LN2(r2)
 *   pooled = tanh(x_L[:, 0] Wp^T + bp);  logits = drop(pooled) Wc^T + bc;  CE loss.
 * Backward, per layer from dx' (held in dA):
 *   dr2 = LN2'(dx');  dy = dr2 + W1-path;  df = drop'(dr2);  dg = df W2;  dh = gelu'(h) dg
 *   dy += dh W1;  dr1 = LN1'(dy);  dx = dr1 + attention-path(drop'(dr1))
 * and the parameter gradients of every linear / layer norm / embedding on the way.
 *
 * Buffers are laid out by offset once (Lay below), then pointed into one allocation per
 * block (parameters, gradients, activations) registered with core/mem.h. */
#include "env/bert.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/dropout.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/softmax.h"

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
    return ST_OK;
}

/* ------------------------------------------------------------------ layout by offsets */

/* Lay: buffers registered by byte offset (64-aligned) in one block; lay_point sets every
   registered pointer once the block exists. Enough slots for BERT_MAX_LAYERS layers. */
#define LAY_MAX (64 + 24 * BERT_MAX_LAYERS)
typedef struct {
    struct {
        int kind; /* 0 float, 1 uint8, 2 int32 */
        void *target; /* float**, uint8_t** or int32_t** */
        size_t off;
    } s[LAY_MAX];
    int n;
    size_t bytes;
} Lay;

static void lay_add(Lay *L, int kind, void *target, size_t bytes) {
    assert(L->n < LAY_MAX);
    L->s[L->n].kind = kind;
    L->s[L->n].target = target;
    L->s[L->n].off = L->bytes;
    L->n++;
    L->bytes += (bytes + 63) & ~(size_t)63;
}
static void lay_f32(Lay *L, float **p, size_t n) { lay_add(L, 0, p, n * sizeof(float)); }
static void lay_u8(Lay *L, uint8_t **p, size_t n) { lay_add(L, 1, p, n); }
static void lay_i32(Lay *L, int32_t **p, size_t n) { lay_add(L, 2, p, n * sizeof(int32_t)); }

static void lay_point(const Lay *L, uint8_t *base) {
    for (int i = 0; i < L->n; i++) {
        uint8_t *at = base + L->s[i].off;
        switch (L->s[i].kind) {
        case 0: *(float **)L->s[i].target = (float *)(void *)at; break;
        case 1: *(uint8_t **)L->s[i].target = at; break;
        default: *(int32_t **)L->s[i].target = (int32_t *)(void *)at; break;
        }
    }
}

/* ------------------------------------------------------------------ parameter table */

/* add_tensor: append a table entry and lay out its parameter (and gradient) storage; the
   parameter and gradient blocks share one layout, so the same offset serves both. */
static void add_tensor(Bert *m, Lay *pl, Lay *gl, float **pf, float **gf, const char *name,
                       int64_t d0, int64_t d1, int decay) {
    BertTensor *t = &m->tensor[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->dims[0] = d0;
    t->dims[1] = d1;
    t->count = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    t->decay = decay;
    lay_f32(pl, pf, t->count);
    if (gl) lay_f32(gl, gf, t->count);
    m->n_params += t->count;
}

static void plan_params(Bert *m, Lay *pl, Lay *gl) {
    const BertConfig *c = &m->c;
    const int C = c->d_model, F = c->d_ff;
    BertParams *p = &m->p, *g = &m->g;
    char nm[BERT_NAME_MAX];
    m->n_tensors = 0;
    m->n_params = 0;
    add_tensor(m, pl, gl, &p->tok, &g->tok, "bert.embeddings.word_embeddings.weight", c->vocab,
               C, 1);
    add_tensor(m, pl, gl, &p->pos, &g->pos, "bert.embeddings.position_embeddings.weight",
               c->max_pos, C, 1);
    add_tensor(m, pl, gl, &p->type, &g->type, "bert.embeddings.token_type_embeddings.weight",
               c->type_vocab, C, 1);
    add_tensor(m, pl, gl, &p->ln_e_w, &g->ln_e_w, "bert.embeddings.LayerNorm.weight", C, 0, 0);
    add_tensor(m, pl, gl, &p->ln_e_b, &g->ln_e_b, "bert.embeddings.LayerNorm.bias", C, 0, 0);
    for (int l = 0; l < c->n_layers; l++) {
        BertLayerParams *lp = &p->layer[l], *lg = &g->layer[l];
        float **pm[MHSA_NPARAMS] = {&lp->attn.wq, &lp->attn.bq, &lp->attn.wk, &lp->attn.bk,
                                    &lp->attn.wv, &lp->attn.bv, &lp->attn.wo, &lp->attn.bo};
        float **gm[MHSA_NPARAMS] = {&lg->attn.wq, &lg->attn.bq, &lg->attn.wk, &lg->attn.bk,
                                    &lg->attn.wv, &lg->attn.bv, &lg->attn.wo, &lg->attn.bo};
        for (int i = 0; i < MHSA_NPARAMS; i++) {
            int w = i % 2 == 0;
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s", l, mhsa_param_names[i]);
            add_tensor(m, pl, gl, pm[i], gm[i], nm, C, w ? C : 0, w);
        }
#define LAYER_T(field, suffix, d0, d1, dec)                               \
    snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s", l, suffix);       \
    add_tensor(m, pl, gl, &lp->field, &lg->field, nm, d0, d1, dec)
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
    add_tensor(m, pl, gl, &p->pool_w, &g->pool_w, "bert.pooler.dense.weight", C, C, 1);
    add_tensor(m, pl, gl, &p->pool_b, &g->pool_b, "bert.pooler.dense.bias", C, 0, 0);
    add_tensor(m, pl, gl, &p->cls_w, &g->cls_w, "classifier.weight", c->n_classes, C, 1);
    add_tensor(m, pl, gl, &p->cls_b, &g->cls_b, "classifier.bias", c->n_classes, 0, 0);
}

/* table_point: after the parameter/gradient pointers are set, copy them into the table */
static void table_point(Bert *m) {
    /* the table order is the layout order: walk the param struct fields the same way */
    float **pf[BERT_MAX_TENSORS], **gf[BERT_MAX_TENSORS];
    int n = 0;
    BertParams *p = &m->p, *g = &m->g;
#define T2(a) (pf[n] = &p->a, gf[n] = &g->a, n++)
    T2(tok), T2(pos), T2(type), T2(ln_e_w), T2(ln_e_b);
    for (int l = 0; l < m->c.n_layers; l++) {
        T2(layer[l].attn.wq), T2(layer[l].attn.bq), T2(layer[l].attn.wk), T2(layer[l].attn.bk);
        T2(layer[l].attn.wv), T2(layer[l].attn.bv), T2(layer[l].attn.wo), T2(layer[l].attn.bo);
        T2(layer[l].ln1_w), T2(layer[l].ln1_b), T2(layer[l].w1), T2(layer[l].b1);
        T2(layer[l].w2), T2(layer[l].b2), T2(layer[l].ln2_w), T2(layer[l].ln2_b);
    }
    T2(pool_w), T2(pool_b), T2(cls_w), T2(cls_b);
#undef T2
    assert(n == m->n_tensors);
    for (int i = 0; i < n; i++) {
        m->tensor[i].param = *pf[i];
        m->tensor[i].grad = m->train ? *gf[i] : NULL;
    }
}

/* ------------------------------------------------------------------ activations */

static void plan_acts(Bert *m, Lay *L) {
    const BertConfig *c = &m->c;
    const int B = m->max_B, N = m->max_N, C = c->d_model, H = c->n_heads, F = c->d_ff;
    const size_t BN = (size_t)B * N, BNC = BN * C, BNF = BN * F, BC = (size_t)B * C;
    const size_t BK = (size_t)B * c->n_classes, BHNN = (size_t)B * H * N * N;
    const int threads = attention_max_threads();
    BertActs *a = &m->a;
    memset(a, 0, sizeof *a);
    lay_f32(L, &a->emb, BNC);
    lay_f32(L, &a->tmp, BNC);
    for (int l = 0; l < c->n_layers; l++) {
        BertLayerActs *la = &a->layer[l];
        if (!m->train && l > 0) break; /* inference: layers share layer 0's buffers */
        lay_f32(L, &la->mh.q, BNC);
        lay_f32(L, &la->mh.k, BNC);
        lay_f32(L, &la->mh.v, BNC);
        lay_f32(L, &la->mh.a, BNC);
        la->mh.scratch_len = attention_scratch_size(N, threads);
        if (l == 0) lay_f32(L, &la->mh.scratch, la->mh.scratch_len);
        lay_f32(L, &la->y, BNC);
        lay_f32(L, &la->h, BNF);
        if (!m->train) continue;
        lay_f32(L, &la->mh.att, BHNN);
        if (c->attn_dropout > 0.0f) lay_f32(L, &la->att_drop, BHNN);
        lay_f32(L, &la->r1, BNC);
        lay_f32(L, &la->g, BNF);
        lay_f32(L, &la->r2, BNC);
        lay_f32(L, &la->out, BNC);
        lay_f32(L, &la->ln1_mean, BN);
        lay_f32(L, &la->ln1_rstd, BN);
        lay_f32(L, &la->ln2_mean, BN);
        lay_f32(L, &la->ln2_rstd, BN);
        lay_u8(L, &la->drop1, BNC);
        lay_u8(L, &la->drop2, BNC);
    }
    if (m->train) {
        lay_f32(L, &a->x0, BNC);
        lay_f32(L, &a->lne_mean, BN);
        lay_f32(L, &a->lne_rstd, BN);
        lay_u8(L, &a->drop_e, BNC);
        if (c->attn_dropout > 0.0f) lay_u8(L, &a->att_keep, BHNN);
        lay_u8(L, &a->drop_p, BC);
        lay_f32(L, &a->pooled_d, BC);
        lay_f32(L, &a->mg.dq, BNC);
        lay_f32(L, &a->mg.dk, BNC);
        lay_f32(L, &a->mg.dv, BNC);
        lay_f32(L, &a->mg.da, BNC);
        lay_f32(L, &a->dA, BNC);
        lay_f32(L, &a->dB, BNC);
        lay_f32(L, &a->dC, BNC);
        lay_f32(L, &a->dF1, BNF);
        lay_f32(L, &a->dF2, BNF);
        lay_f32(L, &a->dpooled_d, BC);
        lay_f32(L, &a->dpooled, BC);
        lay_f32(L, &a->dpre, BC);
        lay_f32(L, &a->dcls, BC);
        lay_f32(L, &a->dlogits, BK);
        lay_i32(L, &a->prev_ids, BN);
    }
    lay_f32(L, &a->cls_in, BC);
    lay_f32(L, &a->pre, BC);
    lay_f32(L, &a->pooled, BC);
    lay_f32(L, &a->logits, BK);
    lay_f32(L, &a->probs, BK);
    lay_f32(L, &a->losses, (size_t)B);
}

/* alias_acts: after lay_point, the pointers that share storage. Training: the scratch is
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
    if (max_B < 1 || max_N < 1 || max_N > c->max_pos)
        return err_set(e, ST_INVALID,
                       "bert_init: expected max_B >= 1 and 1 <= max_N <= max_pos (%d), found "
                       "max_B %d, max_N %d", c->max_pos, max_B, max_N);
    m->c = *c;
    m->max_B = max_B;
    m->max_N = max_N;
    m->train = train ? 1 : 0;
    Lay *pl = calloc(1, sizeof(Lay)), *gl = calloc(1, sizeof(Lay)), *al = calloc(1, sizeof(Lay));
    if (!pl || !gl || !al) {
        free(pl), free(gl), free(al);
        return err_set(e, ST_NOMEM, "bert_init: out of memory");
    }
    plan_params(m, pl, m->train ? gl : NULL);
    plan_acts(m, al);
    uint8_t *pbase = NULL, *gbase = NULL, *abase = NULL;
    mem_plan_u8(&m->param_plan, &pbase, pl->bytes, "bert.params");
    if (m->train) mem_plan_u8(&m->grad_plan, &gbase, gl->bytes, "bert.grads");
    mem_plan_u8(&m->act_plan, &abase, al->bytes, "bert.acts");
    if ((st = mem_plan_alloc(&m->param_plan, e)) ||
        (m->train && (st = mem_plan_alloc(&m->grad_plan, e))) ||
        (st = mem_plan_alloc(&m->act_plan, e))) {
        free(pl), free(gl), free(al);
        bert_free(m);
        err_prefix(e, "bert_init");
        return st;
    }
    lay_point(pl, pbase);
    if (m->train) lay_point(gl, gbase);
    lay_point(al, abase);
    free(pl), free(gl), free(al);
    alias_acts(m);
    table_point(m);
    return ST_OK;
}

void bert_init_weights(Bert *m, Rng *rng) {
    for (int i = 0; i < m->n_tensors; i++) {
        BertTensor *t = &m->tensor[i];
        if (t->ndim == 2) {
            for (size_t j = 0; j < t->count; j++) t->param[j] = (float)(0.02 * rng_normal(rng));
        } else {
            float v = strstr(t->name, "LayerNorm.weight") ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->count; j++) t->param[j] = v;
        }
    }
}

/* ------------------------------------------------------------------ forward */

/* draw the attention dropout keep mask: keep[i] = u_i >= p, u_i uniform, in index order */
static void draw_keep(uint8_t *keep, size_t n, float p, Rng *rng) {
    for (size_t i = 0; i < n; i++) keep[i] = rng_uniformf(rng) >= p;
}

/* attention sub-layer: out (B, N, C) = Wo (attention(x Wq, x Wk, x Wv) with optional
   dropout on P) + bo, the nn/mhsa.h layer with attention dropout inserted */
static void attn_forward(float *out, BertLayerActs *la, uint8_t *keep, float p_attn,
                         int dropped, const float *x, AttnMask km, const MhsaParams *w, int B,
                         int N, int C, int H) {
    const int M = B * N, dh = C / H;
    MhsaActs *s = &la->mh;
    linear_forward(s->q, x, w->wq, w->bq, M, C, C);
    linear_forward(s->k, x, w->wk, w->bk, M, C, C);
    linear_forward(s->v, x, w->wv, w->bv, M, C, C);
    if (dropped)
        attention_forward_dropout(s->a, s->att, la->att_drop, keep, p_attn, s->q, s->k, s->v,
                                  km, B, N, H, dh);
    else
        attention_forward(s->a, s->att, s->scratch, s->scratch_len, s->q, s->k, s->v, km, B, N,
                          H, dh);
    linear_forward(out, s->a, w->wo, w->bo, M, C, C);
}

static void add_inplace(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

float bert_forward(Bert *m, const int32_t *ids, const int32_t *type_ids, const uint8_t *mask,
                   const int32_t *labels, int B, int N, int training, Rng *rng) {
    const BertConfig *c = &m->c;
    const BertParams *p = &m->p;
    BertActs *a = &m->a;
    assert(B >= 1 && B <= m->max_B && N >= 1 && N <= m->max_N);
    const int C = c->d_model, H = c->n_heads, F = c->d_ff, K = c->n_classes, M = B * N;
    const size_t MC = (size_t)M * C, MF = (size_t)M * F, BC = (size_t)B * C;
    training = training && m->train;
    const float pd = c->dropout;
    const int dropped = training && c->attn_dropout > 0.0f && a->att_keep != NULL;
    m->B = B, m->N = N, m->fwd_training = training, m->attn_dropped = dropped;
    AttnMask km = attn_mask_u8(mask);

    /* embeddings: emb = (tok[id] + type[tid]) + pos[n] (torch's order of the sums) */
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            size_t bn = (size_t)b * N + n;
            int32_t id = ids[bn], tid = type_ids ? type_ids[bn] : 0;
            assert(id >= 0 && id < c->vocab && tid >= 0 && tid < c->type_vocab);
            const float *tw = p->tok + (size_t)id * C, *ty = p->type + (size_t)tid * C,
                        *ps = p->pos + (size_t)n * C;
            float *o = a->emb + bn * C;
            for (int i = 0; i < C; i++) o[i] = (tw[i] + ty[i]) + ps[i];
        }
    layernorm_forward(a->lne, a->lne_mean, a->lne_rstd, a->emb, p->ln_e_w, p->ln_e_b, M, C,
                      c->ln_eps);
    dropout_forward(a->x0, a->drop_e, a->lne, pd, training, rng, MC);

    const float *x = a->x0;
    for (int l = 0; l < c->n_layers; l++) {
        const BertLayerParams *lp = &p->layer[l];
        BertLayerActs *la = &a->layer[l];
        if (dropped) draw_keep(a->att_keep, (size_t)B * H * N * N, c->attn_dropout, rng);
        attn_forward(a->tmp, la, a->att_keep, c->attn_dropout, dropped, x, km, &lp->attn, B,
                     N, C, H);
        /* r1 = x + drop(a); y = LN1(r1) */
        dropout_forward(la->r1, la->drop1, a->tmp, pd, training, rng, MC);
        add_inplace(la->r1, x, MC);
        layernorm_forward(la->y, la->ln1_mean, la->ln1_rstd, la->r1, lp->ln1_w, lp->ln1_b, M, C,
                          c->ln_eps);
        /* feed-forward: h = W1 y + b1; g = gelu(h); tmp = W2 g + b2 */
        linear_forward(la->h, la->y, lp->w1, lp->b1, M, C, F);
        gelu_forward(la->g, la->h, MF);
        linear_forward(a->tmp, la->g, lp->w2, lp->b2, M, F, C);
        /* r2 = y + drop(tmp); out = LN2(r2) */
        dropout_forward(la->r2, la->drop2, a->tmp, pd, training, rng, MC);
        add_inplace(la->r2, la->y, MC);
        layernorm_forward(la->out, la->ln2_mean, la->ln2_rstd, la->r2, lp->ln2_w, lp->ln2_b, M,
                          C, c->ln_eps);
        x = la->out;
    }

    /* pooler on token 0, dropout, classifier */
    for (int b = 0; b < B; b++)
        memcpy(a->cls_in + (size_t)b * C, x + (size_t)b * N * C, (size_t)C * sizeof(float));
    linear_forward(a->pre, a->cls_in, p->pool_w, p->pool_b, B, C, C);
    tanh_forward(a->pooled, a->pre, BC);
    dropout_forward(a->pooled_d, a->drop_p, a->pooled, pd, training, rng, BC);
    linear_forward(a->logits, a->pooled_d, p->cls_w, p->cls_b, B, C, K);
    if (!labels) {
        softmax_forward(a->probs, a->logits, NULL, B, K, 1);
        return 0.0f;
    }
    return crossentropy_forward(a->losses, a->probs, a->logits, labels, B, K);
}

/* ------------------------------------------------------------------ backward */

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

void bert_zero_grad(Bert *m) {
    if (!m->train) return;
    memset(m->grad_plan.base, 0, m->grad_plan.bytes);
    m->n_prev_ids = 0;
}

/* attention sub-layer backward: dx += d/dx, parameter gradients += , from dout (B, N, C) */
static void attn_backward(float *dx, MhsaParams *gw, MhsaGradActs *g, const float *dout,
                          const float *x, const BertLayerActs *la, int dropped,
                          const MhsaParams *w, int B, int N, int C, int H) {
    const int M = B * N, dh = C / H;
    const size_t MC = (size_t)M * C;
    const MhsaActs *s = &la->mh;
    zero(g->da, MC);
    zero(g->dq, MC);
    zero(g->dk, MC);
    zero(g->dv, MC);
    /* output projection: dA = dY Wo, dWo += dY^T A, dbo += colsum dY */
    linear_backward(g->da, gw->wo, gw->bo, dout, s->a, w->wo, M, C, C);
    if (dropped)
        attention_backward_dropout(g->dq, g->dk, g->dv, s->scratch, s->scratch_len, g->da,
                                   s->att, la->att_drop, s->q, s->k, s->v, B, N, H, dh);
    else
        attention_backward(g->dq, g->dk, g->dv, s->scratch, s->scratch_len, g->da, s->att, s->q,
                           s->k, s->v, B, N, H, dh);
    linear_backward(dx, gw->wq, gw->bq, g->dq, x, w->wq, M, C, C);
    linear_backward(dx, gw->wk, gw->bk, g->dk, x, w->wk, M, C, C);
    linear_backward(dx, gw->wv, gw->bv, g->dv, x, w->wv, M, C, C);
}

void bert_backward(Bert *m, const int32_t *ids, const int32_t *type_ids, const int32_t *labels,
                   int B, int N) {
    const BertConfig *c = &m->c;
    const BertParams *p = &m->p;
    BertParams *g = &m->g;
    BertActs *a = &m->a;
    assert(m->train && B == m->B && N == m->N && labels);
    if (!m->train) return;
    const int C = c->d_model, H = c->n_heads, F = c->d_ff, K = c->n_classes, M = B * N;
    const size_t MC = (size_t)M * C, MF = (size_t)M * F, BC = (size_t)B * C;
    const float pd = c->dropout;
    const int dropped = m->attn_dropped;

    /* zero the gradients: the word-embedding table only where the last backward wrote */
    for (int i = 0; i < m->n_prev_ids; i++)
        zero(g->tok + (size_t)a->prev_ids[i] * C, (size_t)C);
    for (int i = 1; i < m->n_tensors; i++) zero(m->tensor[i].grad, m->tensor[i].count);

    /* head: CE -> classifier -> dropout -> tanh -> pooler -> token 0 of the last layer */
    zero(a->dlogits, (size_t)B * K);
    crossentropy_backward(a->dlogits, a->probs, labels, 1.0f, B, K);
    zero(a->dpooled_d, BC);
    linear_backward(a->dpooled_d, g->cls_w, g->cls_b, a->dlogits, a->pooled_d, p->cls_w, B, C,
                    K);
    zero(a->dpooled, BC);
    dropout_backward(a->dpooled, a->dpooled_d, a->drop_p, pd, BC);
    zero(a->dpre, BC);
    tanh_backward(a->dpre, a->dpooled, a->pooled, BC);
    zero(a->dcls, BC);
    linear_backward(a->dcls, g->pool_w, g->pool_b, a->dpre, a->cls_in, p->pool_w, B, C, C);
    zero(a->dA, MC); /* dA: gradient w.r.t. the current layer's output */
    for (int b = 0; b < B; b++)
        memcpy(a->dA + (size_t)b * N * C, a->dcls + (size_t)b * C, (size_t)C * sizeof(float));

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const BertLayerParams *lp = &p->layer[l];
        BertLayerParams *lg = &g->layer[l];
        const BertLayerActs *la = &a->layer[l];
        const float *x = l ? a->layer[l - 1].out : a->x0;
        /* out = LN2(r2), r2 = y + drop(f) */
        zero(a->dB, MC);
        layernorm_backward(a->dB, lg->ln2_w, lg->ln2_b, a->dA, la->r2, lp->ln2_w, la->ln2_mean,
                           la->ln2_rstd, M, C);
        zero(a->dC, MC);
        dropout_backward(a->dC, a->dB, la->drop2, pd, MC);
        memcpy(a->dA, a->dB, MC * sizeof(float)); /* dA accumulates dL/dy */
        /* f = W2 g + b2, g = gelu(h), h = W1 y + b1 */
        zero(a->dF1, MF);
        linear_backward(a->dF1, lg->w2, lg->b2, a->dC, la->g, lp->w2, M, F, C);
        zero(a->dF2, MF);
        gelu_backward(a->dF2, a->dF1, la->h, MF);
        linear_backward(a->dA, lg->w1, lg->b1, a->dF2, la->y, lp->w1, M, C, F);
        /* y = LN1(r1), r1 = x + drop(attn) */
        zero(a->dB, MC);
        layernorm_backward(a->dB, lg->ln1_w, lg->ln1_b, a->dA, la->r1, lp->ln1_w, la->ln1_mean,
                           la->ln1_rstd, M, C);
        zero(a->dC, MC);
        dropout_backward(a->dC, a->dB, la->drop1, pd, MC);
        memcpy(a->dA, a->dB, MC * sizeof(float)); /* dA accumulates dL/dx */
        attn_backward(a->dA, &lg->attn, &a->mg, a->dC, x, la, dropped, &lp->attn, B, N, C, H);
    }

    /* x0 = drop(LN_e(emb)), emb = tok[ids] + type[type_ids] + pos[n] */
    zero(a->dC, MC);
    dropout_backward(a->dC, a->dA, a->drop_e, pd, MC);
    zero(a->dB, MC);
    layernorm_backward(a->dB, g->ln_e_w, g->ln_e_b, a->dC, a->emb, p->ln_e_w, a->lne_mean,
                       a->lne_rstd, M, C);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            size_t bn = (size_t)b * N + n;
            const float *d = a->dB + bn * C;
            float *gt = g->tok + (size_t)ids[bn] * C;
            float *gy = g->type + (size_t)(type_ids ? type_ids[bn] : 0) * C;
            float *gp = g->pos + (size_t)n * C;
            for (int i = 0; i < C; i++) {
                gt[i] += d[i];
                gy[i] += d[i];
                gp[i] += d[i];
            }
        }
    memcpy(a->prev_ids, ids, (size_t)M * sizeof(int32_t));
    m->n_prev_ids = M;
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
