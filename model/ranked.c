/* ranked.c: planning and factors of the ranked forward (ranked.h): the rank grid, one set of
 * kernel and activation buffers for all layers, per-layer factors, low-rank packs and bound
 * norms.
 *
 * Low-rank packs vs buffers. attention/lowrank.h's AttnLowrank holds both the packed factors
 * of one layer and the (max_B, max_N, H r_max) work buffers. Planning one per layer and kind
 * at full size would multiply the buffers by 2 L (1 GiB at N = 4096); instead every layer and
 * kind gets an AttnLowrank planned for 1 x 1 tokens (packs only, R->lr), one AttnLowrank is
 * planned at full size (R->lr_work, buffers), and R->lr_view is a copy of lr_work whose
 * pack[] and bo are pointed at a layer's packs before each forward (fields of lowrank.h's
 * public struct; same grid, so ranks, n_ranks and r_max agree). lr_view is never freed. */
#include "model/ranked.h"

#include "attention/kernel.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[RANK_KINDS] = {"exact",      "plain",   "whitened",
                                                   "activation", "nystrom", "performer"};

const char *rank_kind_name(RankKind k) {
    return (unsigned)k < RANK_KINDS ? kind_names[k] : "unknown";
}

RankSpec rank_spec(RankKind kind, int rank) {
    RankSpec s = {kind, rank, 0, NULL, NULL};
    return s;
}

/* the grid: given ranks (checked, duplicates dropped) plus dh, sorted increasing */
static Status make_grid(Ranked *R, const RankedOptions *o, Err *e) {
    int g[ATTN_MAX_RANKS + 1], n = 0;
    const int dh = R->dh;
    for (int i = 0; o->ranks && i < o->n_ranks; i++) {
        const int r = o->ranks[i];
        if (r < 1 || r > dh)
            return err_set(e, ST_INVALID, "ranked_init: rank %d: expected 1..%d", r, dh);
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= g[j] == r;
        if (dup) continue;
        if (n > ATTN_MAX_RANKS) break; /* too many: reported below */
        int j = n++;
        while (j > 0 && g[j - 1] > r) {
            g[j] = g[j - 1];
            j--;
        }
        g[j] = r;
    }
    if (n <= ATTN_MAX_RANKS && (n == 0 || g[n - 1] != dh)) g[n++] = dh;
    if (n > ATTN_MAX_RANKS)
        return err_set(e, ST_INVALID,
                       "ranked_init: rank grid: expected at most %d ranks (dh = %d included)",
                       ATTN_MAX_RANKS, dh);
    memcpy(R->ranks, g, sizeof(int) * (size_t)n);
    R->n_ranks = n;
    return ST_OK;
}

static void plan_acts(Ranked *R) {
    const size_t BN = (size_t)R->max_B * R->max_N, BNC = BN * R->C, BC = (size_t)R->max_B * R->C,
                 BK = (R->dec ? BN : (size_t)R->max_B) * R->K; /* decoder: per position */
    MemPlan *p = &R->plan;
    mem_plan_init(p);
    mem_plan_f32(p, &R->x, BNC, "ranked.x");
    mem_plan_f32(p, &R->att, BNC, "ranked.att");
    mem_plan_f32(p, &R->teacher, BNC, "ranked.teacher");
    mem_plan_f32(p, &R->r, BNC, "ranked.r");
    mem_plan_f32(p, &R->y, BNC, "ranked.y");
    mem_plan_f32(p, &R->h, BN * R->F, "ranked.h");
    mem_plan_f32(p, &R->f, BNC, "ranked.f");
    mem_plan_f32(p, &R->cls_in, BC, "ranked.cls_in");
    mem_plan_f32(p, &R->pre, BC, "ranked.pre");
    mem_plan_f32(p, &R->pooled, BC, "ranked.pooled");
    mem_plan_f32(p, &R->logits, BK, "ranked.logits");
    if (!R->dec) mem_plan_f32(p, &R->probs, BK, "ranked.probs");
    if (R->dec) mem_plan_f32(p, &R->u, BNC, "ranked.u");
    mem_plan_u8(p, &R->mask, BN, "ranked.mask");
    /* ranked_layer_each_heads: one sequence's (segment, head) ranks per lane (+ the serial) */
    mem_plan_i32(p, &R->hrank, (size_t)(R->nt + 1) * R->max_N * R->H, "ranked.hrank");
    if (R->has_bounds) {
        for (int i = 0; i < 2 * R->L; i++) bound_layer_plan(p, &R->bl[i], R->C, R->H, R->dh);
        bound_work_plan(p, &R->bw, R->max_B, R->max_N, R->n_ranks + 1, R->dh);
    }
}

/* the sequence lanes (ranked.h): one exact layer and one low-rank work area per thread, each
   for a single sequence of max_N tokens, when there are >= 2 threads and batches of >= 2 */
static Status lanes_init(Ranked *R, Err *e) {
    const int nt = attn_kernel_threads();
    R->nt = 0;
    if (nt < 2 || R->max_B < 2) return ST_OK;
    R->lane_ex = calloc((size_t)nt, sizeof *R->lane_ex);
    R->lane_lr = calloc((size_t)nt, sizeof *R->lane_lr);
    R->lane_lv = calloc((size_t)nt, sizeof *R->lane_lv);
    if (!R->lane_ex || !R->lane_lr || !R->lane_lv)
        return err_set(e, ST_NOMEM, "ranked_init: out of memory for %d sequence lanes", nt);
    R->nt = nt;
    Status s = ST_OK;
    for (int t = 0; t < nt && !s; t++) {
        s = attn_exact_init(&R->lane_ex[t], 1, R->max_N, R->C, R->H, e);
        if (!s)
            s = attn_lowrank_init(&R->lane_lr[t], &R->plain[0], R->ranks, R->n_ranks, 1, R->max_N,
                                  e);
        if (!s) memcpy(&R->lane_lv[t], &R->lane_lr[t], sizeof R->lane_lv[t]);
    }
    return s ? err_prefix(e, "ranked_init: sequence lanes") : ST_OK;
}

Status ranked_init(Ranked *R, const Bert *m, const RankedOptions *o, Err *e) {
    memset(R, 0, sizeof *R);
    const BertConfig *c = &m->c;
    R->m = m;
    R->L = c->n_layers, R->C = c->d_model, R->H = c->n_heads, R->dh = c->d_model / c->n_heads;
    R->F = c->d_ff, R->K = c->n_classes;
    R->dec = c->arch == BERT_ARCH_DECODER;
    R->max_B = o->max_B, R->max_N = o->max_N, R->max_m = o->max_m;
    R->has_act = o->activation != 0, R->has_bounds = o->bounds != 0;
    R->teacher_layer = -1;
    if (o->max_B < 1 || o->max_N < 1 || o->max_N > bert_max_len(c) || o->max_m < 0)
        return err_set(e, ST_INVALID,
                       "ranked_init: expected max_B >= 1, 1 <= max_N <= %d (%s), max_m >= "
                       "0, found max_B=%d max_N=%d max_m=%d", bert_max_len(c),
                       c->position == BERT_POS_CONV ? "convolutional positions" : "max_pos",
                       o->max_B, o->max_N, o->max_m);
    Status s = make_grid(R, o, e);
    if (s) return s;
    const int L = R->L;
    R->plain = calloc((size_t)L, sizeof *R->plain);
    R->white = calloc((size_t)L, sizeof *R->white);
    R->lr = calloc((size_t)2 * L, sizeof *R->lr);
    R->bl = calloc((size_t)2 * L, sizeof *R->bl);
    if (!R->plain || !R->white || !R->lr || !R->bl) {
        ranked_free(R);
        return err_set(e, ST_NOMEM, "ranked_init: out of memory for %d layers", L);
    }
    for (int l = 0; l < L && !s; l++) {
        s = attn_factors_init(&R->plain[l], R->C, R->H, e);
        if (!s) s = attn_factors_init(&R->white[l], R->C, R->H, e);
        if (!s) s = attn_factors_compute(&R->plain[l], &m->p.layer[l].attn, NULL, 0, NULL, e);
        /* both pack holders start from the plain factors; whitened ones replace theirs */
        if (!s) s = attn_lowrank_init(&R->lr[l], &R->plain[l], R->ranks, R->n_ranks, 1, 1, e);
        if (!s)
            s = attn_lowrank_init(&R->lr[L + l], &R->plain[l], R->ranks, R->n_ranks, 1, 1, e);
        if (s) err_prefix(e, "ranked_init: layer %d", l);
    }
    if (!s)
        s = attn_lowrank_init(&R->lr_work, &R->plain[0], R->ranks, R->n_ranks, R->max_B,
                              R->max_N, e);
    if (!s) memcpy(&R->lr_view, &R->lr_work, sizeof R->lr_view);
    if (!s) s = attn_exact_init(&R->exact, R->max_B, R->max_N, R->C, R->H, e);
    if (!s) s = lanes_init(R, e);
    if (!s && R->has_act) s = attn_activation_init(&R->act, R->max_B, R->max_N, R->C, R->H, e);
    if (!s && R->max_m > 0) s = nystrom_init(&R->nys, R->max_B, R->max_N, R->C, R->H, R->max_m, e);
    if (!s && R->max_m > 0)
        s = performer_init(&R->perf, R->max_B, R->max_N, R->C, R->H, R->max_m, o->performer_seed,
                           e);
    if (!s) {
        plan_acts(R);
        s = mem_plan_alloc(&R->plan, e);
        R->ain = R->dec ? R->u : R->x;
    }
    if (!s) s = ranked_set_factors(R, 0, e);
    if (s) ranked_free(R);
    return s;
}

void ranked_free(Ranked *R) {
    mem_plan_free(&R->plan); /* first: its slots point into R->bl */
    for (int l = 0; l < R->L; l++) {
        if (R->plain) attn_factors_free(&R->plain[l]);
        if (R->white) attn_factors_free(&R->white[l]);
        if (R->lr) attn_lowrank_free(&R->lr[l]), attn_lowrank_free(&R->lr[R->L + l]);
    }
    free(R->plain), free(R->white), free(R->lr), free(R->bl);
    R->plain = R->white = NULL;
    R->lr = NULL;
    R->bl = NULL;
    attn_lowrank_free(&R->lr_work);
    attn_exact_free(&R->exact);
    for (int t = 0; t < R->nt; t++) {
        if (R->lane_ex) attn_exact_free(&R->lane_ex[t]);
        if (R->lane_lr) attn_lowrank_free(&R->lane_lr[t]);
    }
    free(R->lane_ex), free(R->lane_lr), free(R->lane_lv);
    R->lane_ex = NULL, R->lane_lr = R->lane_lv = NULL, R->nt = 0;
    attn_activation_free(&R->act);
    nystrom_free(&R->nys);
    performer_free(&R->perf);
    memset(&R->lr_view, 0, sizeof R->lr_view);
}

Status ranked_set_factors(Ranked *R, int whitened, Err *e) {
    Status s = ST_OK;
    if (whitened) R->whitened = 1;
    for (int l = 0; l < R->L && !s; l++) {
        s = attn_lowrank_repack(&R->lr[l], &R->plain[l], e);
        if (!s && R->whitened) s = attn_lowrank_repack(&R->lr[R->L + l], &R->white[l], e);
        if (!s && R->has_bounds) {
            BoundFactors bp = bound_factors_attn(&R->plain[l]);
            s = bound_layer_prepare(&R->bl[l], &bp, e);
            if (!s && R->whitened) {
                BoundFactors bw = bound_factors_attn(&R->white[l]);
                s = bound_layer_prepare(&R->bl[R->L + l], &bw, e);
            }
        }
        if (s) err_prefix(e, "ranked_set_factors: layer %d", l);
    }
    return s;
}
