/* lm_cache.c: incremental decoding with a full or low-rank key/value cache (lm_cache.h; the
 * math is there). One step is a handful of matrix-vector products per layer (cblas_sgemv) and
 * two over the cache per head (scores, then the probability-weighted sum of the values). */
#include "model/lm_cache.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/bert_internal.h"
#include "nn/layernorm.h"
#include "nn/linear.h"

static int grid_pos(const Ranked *R, int r) {
    for (int i = 0; i < R->n_ranks; i++)
        if (R->ranks[i] == r) return i;
    return -1;
}

Status lm_cache_init(LmCache *c, const Bert *m, const Ranked *R, RankKind kind, const int *rank,
                     int max_ctx, Err *e) {
    memset(c, 0, sizeof *c);
    mem_plan_init(&c->plan);
    const BertConfig *bc = &m->c;
    if (bc->arch != BERT_ARCH_DECODER)
        return err_set(e, ST_INVALID, "lm_cache_init: expected a decoder, found an encoder");
    if (max_ctx < 1 || max_ctx > bert_max_len(bc))
        return err_set(e, ST_INVALID, "lm_cache_init: max_ctx: expected 1..%d, found %d",
                       bert_max_len(bc), max_ctx);
    c->m = m, c->L = bc->n_layers, c->C = bc->d_model, c->H = bc->n_heads;
    c->dh = c->C / c->H, c->F = bc->d_ff, c->V = bc->vocab, c->max_ctx = max_ctx;
    const int white = kind == RANK_WHITENED;
    for (int l = 0; l < c->L; l++) {
        const int r = rank ? rank[l] : 0;
        c->bo[l] = m->p.layer[l].attn.bo;
        if (r <= 0) continue;
        const int g = R ? grid_pos(R, r) : -1;
        if (g < 0 || (kind != RANK_PLAIN && kind != RANK_WHITENED) || (white && !R->whitened))
            return err_set(e, ST_INVALID, "lm_cache_init: layer %d: rank %d of %s: expected a "
                           "rank of the ranked forward's grid with its %s factors", l, r,
                           rank_kind_name(kind), rank_kind_name(kind));
        c->rank[l] = r;
        c->pack[l] = &R->lr[white * R->L + l].pack[g];
        c->bo[l] = R->lr[white * R->L + l].bo;
    }
    MemPlan *P = &c->plan;
    for (int l = 0; l < c->L; l++) {
        const size_t w = (size_t)c->H * (c->rank[l] ? c->rank[l] : c->dh);
        mem_plan_f32(P, &c->kc[l], (size_t)max_ctx * w, "lm_cache.kc");
        mem_plan_f32(P, &c->vc[l], (size_t)max_ctx * w, "lm_cache.vc");
    }
    const int k = bc->position == BERT_POS_CONV ? bc->conv_kernel : 1;
    mem_plan_i32(P, &c->ring, (size_t)k, "lm_cache.ring");
    mem_plan_f32(P, &c->x, (size_t)c->C, "lm_cache.x");
    mem_plan_f32(P, &c->u, (size_t)c->C, "lm_cache.u");
    mem_plan_f32(P, &c->a, (size_t)c->C, "lm_cache.a");
    mem_plan_f32(P, &c->f, (size_t)c->C, "lm_cache.f");
    mem_plan_f32(P, &c->q, (size_t)c->C, "lm_cache.q");
    mem_plan_f32(P, &c->o, (size_t)c->C, "lm_cache.o");
    mem_plan_f32(P, &c->h, (size_t)c->F, "lm_cache.h");
    mem_plan_f32(P, &c->p, (size_t)max_ctx, "lm_cache.p");
    mem_plan_f32(P, &c->logits, (size_t)c->V, "lm_cache.logits");
    Status s = mem_plan_alloc(P, e);
    return s ? err_prefix(e, "lm_cache_init") : ST_OK;
}

void lm_cache_free(LmCache *c) { mem_plan_free(&c->plan); }

void lm_cache_reset(LmCache *c) { c->t = 0; }

size_t lm_cache_bytes_per_token(const LmCache *c) {
    size_t b = 0;
    for (int l = 0; l < c->L; l++) b += 2 * sizeof(float) * c->H * (c->rank[l] ? c->rank[l] : c->dh);
    return b;
}

/* the embedding of the token at position t into c->x (lm_forward's bert_embed for one row) */
static void embed(LmCache *c, int32_t id) {
    const BertConfig *bc = &c->m->c;
    const BertParams *p = &c->m->p;
    const int C = c->C, t = c->t;
    memcpy(c->x, p->tok + (size_t)id * C, sizeof(float) * C);
    if (bc->position != BERT_POS_CONV) {
        for (int i = 0; i < C; i++) c->x[i] += p->pos[(size_t)t * C + i];
        return;
    }
    const int k = bc->conv_kernel;
    c->ring[t % k] = id;
    /* conv(e)[t] = bias + sum_j w[j] e[t - (k - 1) + j] over positions >= 0, then x = e + that */
    for (int i = 0; i < C; i++) c->a[i] = p->conv_b[i];
    for (int j = 0; j < k; j++) {
        const int s = t - (k - 1) + j;
        if (s < 0) continue;
        const float *e = p->tok + (size_t)c->ring[s % k] * C, *w = p->conv_w + (size_t)j * C;
        for (int i = 0; i < C; i++) c->a[i] += w[i] * e[i];
    }
    for (int i = 0; i < C; i++) c->x[i] += c->a[i];
}

/* out (n) = W^T x + bias for W (m, n) row-major (a pack: x (m) the input, bias its row m) */
static void pack_gemv(float *out, const float *W, const float *x, int m, int n) {
    memcpy(out, W + (size_t)m * n, sizeof(float) * n); /* the bias row */
    cblas_sgemv(CblasRowMajor, CblasTrans, m, n, 1.0f, W, n, x, 1, 1.0f, out, 1);
}

/* the attention of the current token of layer l on u = c->u into c->a, its keys and values
   appended at row t of the cache */
static void attend(LmCache *c, int l) {
    const MhsaParams *w = &c->m->p.layer[l].attn;
    const int C = c->C, H = c->H, r = c->rank[l], wd = r ? r : c->dh, HW = H * wd, t = c->t;
    float *kt = c->kc[l] + (size_t)t * HW, *vt = c->vc[l] + (size_t)t * HW;
    if (r) {
        const AttnRankPack *pk = c->pack[l];
        pack_gemv(c->q, pk->a, c->u, C, HW);
        pack_gemv(kt, pk->b, c->u, C, HW);
        pack_gemv(vt, pk->c, c->u, C, HW);
    } else {
        linear_forward(c->q, c->u, w->wq, w->bq, 1, C, C);
        linear_forward(kt, c->u, w->wk, w->bk, 1, C, C);
        linear_forward(vt, c->u, w->wv, w->bv, 1, C, C);
    }
    const double scale = 1.0 / sqrt((double)c->dh);
    for (int h = 0; h < H; h++) { /* the cache rows of head h: (t + 1, wd), row stride HW */
        const float *qh = c->q + (size_t)h * wd, *K = c->kc[l] + (size_t)h * wd;
        const float *V = c->vc[l] + (size_t)h * wd;
        float *p = c->p, *oh = c->o + (size_t)h * wd;
        /* s = K q_h / sqrt(dh); p = exp(s - max s); o_h = V^T p / sum p */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, t + 1, wd, (float)scale, K, HW, qh, 1, 0.0f,
                    p, 1);
        float mx = -INFINITY;
        for (int j = 0; j <= t; j++) mx = p[j] > mx ? p[j] : mx;
        double z = 0.0;
        for (int j = 0; j <= t; j++) z += p[j] = expf(p[j] - mx);
        cblas_sgemv(CblasRowMajor, CblasTrans, t + 1, wd, (float)(1.0 / z), V, HW, p, 1, 0.0f,
                    oh, 1);
    }
    if (r) {
        memcpy(c->a, c->bo[l], sizeof(float) * C);
        cblas_sgemv(CblasRowMajor, CblasTrans, HW, C, 1.0f, c->pack[l]->dt, C, c->o, 1, 1.0f,
                    c->a, 1);
    } else {
        linear_forward(c->a, c->o, w->wo, w->bo, 1, C, C);
    }
}

Status lm_cache_step(LmCache *c, int32_t id, Err *e) {
    const BertConfig *bc = &c->m->c;
    const BertParams *p = &c->m->p;
    if (id < 0 || id >= c->V)
        return err_set(e, ST_INVALID, "lm_cache_step: id: expected 0..%d, found %d", c->V - 1, id);
    if (c->t >= c->max_ctx)
        return err_set(e, ST_INVALID, "lm_cache_step: the cache is full (max_ctx %d positions)",
                       c->max_ctx);
    const int C = c->C, F = c->F;
    embed(c, id);
    for (int l = 0; l < c->L; l++) {
        const BertLayerParams *lp = &p->layer[l];
        layernorm_forward(c->u, NULL, NULL, c->x, lp->ln1_w, lp->ln1_b, 1, C, bc->ln_eps);
        attend(c, l);
        bert_add_inplace(c->x, c->a, (size_t)C);
        layernorm_forward(c->u, NULL, NULL, c->x, lp->ln2_w, lp->ln2_b, 1, C, bc->ln_eps);
        linear_forward(c->h, c->u, lp->w1, lp->b1, 1, C, F);
        bert_act_forward(bc, c->h, c->h, (size_t)F);
        linear_forward(c->f, c->h, lp->w2, lp->b2, 1, F, C);
        bert_add_inplace(c->x, c->f, (size_t)C);
    }
    layernorm_forward(c->u, NULL, NULL, c->x, p->lnf_w, p->lnf_b, 1, C, bc->ln_eps);
    linear_forward(c->logits, c->u, p->tok, NULL, 1, C, c->V);
    c->t++;
    return ST_OK;
}
