/* ranked_forward.c: a pass of the ranked forward (ranked.h): embeddings, one layer at a time
 * with a chosen attention kernel, the head; the teacher, fidelity, bounds and FLOP sums.
 * The non-attention steps are bert_forward's eval-mode calls in the same order (dropout is
 * the identity there), so all-exact passes reproduce its logits to float rounding.
 * Per-sequence variants (ranked_layer_each, ranked_teacher_each) run the attention of each
 * sequence alone (B = 1, its first n_b rows: no padded query rows, only its own keys) at its
 * own ranks, timed, then the rest of the layer batched through the same finish_layer. */
#include "model/ranked.h"

#include "model/bert_internal.h"

#include <math.h>
#include <string.h>

#include "core/timer.h"
#include "nn/activation.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/softmax.h"

#ifdef _OPENMP
#include <omp.h>
#endif

Status ranked_begin(Ranked *R, const int32_t *ids, const int32_t *type_ids, const uint8_t *mask,
                    int B, int N, Err *e) {
    const BertConfig *c = &R->m->c;
    const BertParams *p = &R->m->p;
    if (B < 1 || N < 1 || B > R->max_B || N > R->max_N)
        return err_set(e, ST_INVALID,
                       "ranked_begin: expected 1 <= B <= %d and 1 <= N <= %d, found B=%d N=%d",
                       R->max_B, R->max_N, B, N);
    const int C = R->C;
    for (size_t bn = 0; bn < (size_t)B * N; bn++) {
        const int32_t id = ids[bn], tid = type_ids ? type_ids[bn] : 0;
        if (id < 0 || id >= c->vocab || tid < 0 || tid >= c->type_vocab)
            return err_set(e, ST_INVALID,
                           "ranked_begin: token %zu: expected id in [0, %d) and type in [0, %d), "
                           "found %d and %d",
                           bn, c->vocab, c->type_vocab, id, tid);
    }
    R->B = B, R->N = N, R->layer = 0, R->teacher_layer = -1;
    memcpy(R->mask, mask, (size_t)B * N);
    for (int l = 0; l < R->L; l++)
        attn_flops_zero(&R->attn_fl[l]), R->rest_fl[l] = 0, R->attn_sec[l] = 0;
    attn_flops_zero(&R->teacher_fl);
    R->head_fl = R->bound_fl = 0;
    if (R->dec) { /* lm_forward's embeddings into x (e0 in r); layer 0's u = LN1(x) */
        bert_embed(R->m, R->x, R->r, ids, NULL, mask, B, N);
        layernorm_forward(R->u, NULL, NULL, R->x, p->layer[0].ln1_w, p->layer[0].ln1_b, B * N,
                          C, c->ln_eps);
        return ST_OK;
    }
    /* bert_forward's embeddings into r (conv positions: e0 in x); then x0 = LN_e(emb) */
    bert_embed(R->m, R->r, R->x, ids, type_ids, mask, B, N);
    layernorm_forward(R->x, NULL, NULL, R->r, p->ln_e_w, p->ln_e_b, B * N, C, c->ln_eps);
    return ST_OK;
}

const float *ranked_input(const Ranked *R) { return R->ain; }

/* the key mask of a pass (m: its (B, N) padding mask, or one sequence's rows): causal for a
   decoder */
static AttnMask kmask(const Ranked *R, const uint8_t *m) {
    return R->dec ? attn_mask_causal(attn_mask_u8(m)) : attn_mask_u8(m);
}

Status ranked_teacher(Ranked *R, Err *e) {
    if (R->layer >= R->L)
        return err_set(e, ST_INVALID, "ranked_teacher: all %d layers already ran", R->L);
    const int l = R->layer;
    Status s = attn_exact_forward(R->teacher, &R->exact, R->ain, kmask(R, R->mask),
                                  &R->m->p.layer[l].attn, R->B, R->N, &R->teacher_fl, e);
    if (s) return err_prefix(e, "ranked_teacher: layer %d", l);
    R->teacher_layer = l;
    return ST_OK;
}

/* point view v (R->lr_view over lr_work's buffers, or a lane's) at layer l's plain (white 0)
   or whitened packs */
static AttnLowrank *point_view(Ranked *R, AttnLowrank *v, int l, int white) {
    const AttnLowrank *pk = &R->lr[white * R->L + l];
    memcpy(v->pack, pk->pack, sizeof pk->pack);
    v->bo = pk->bo;
    return v;
}

static AttnLowrank *lowrank_view(Ranked *R, int l, int white) {
    return point_view(R, &R->lr_view, l, white);
}

/* a = attention of layer l on its input R->ain by spec's kernel, FLOPs added to fl */
static Status attend(Ranked *R, int l, const RankSpec *sp, AttnFlops *fl, Err *e) {
    const MhsaParams *w = &R->m->p.layer[l].attn;
    const AttnMask km = kmask(R, R->mask);
    const float *x = R->ain;
    const int B = R->B, N = R->N;
    switch (sp->kind) {
    case RANK_EXACT:
        return attn_exact_forward(R->att, &R->exact, x, km, w, B, N, fl, e);
    case RANK_PLAIN:
    case RANK_WHITENED: {
        const int white = sp->kind == RANK_WHITENED;
        if (white && !R->whitened)
            return err_set(e, ST_INVALID, "whitened factors are not computed (ranked_calibrate)");
        lowrank_view(R, l, white);
        if (sp->head_rank) {
            if (sp->T < 1)
                return err_set(e, ST_INVALID, "head ranks need T >= 1, found T=%d", sp->T);
            return attn_lowrank_forward_heads(R->att, &R->lr_view, x, km, B, N, sp->T,
                                              sp->head_rank, fl, e);
        }
        if (sp->seg_rank) {
            if (sp->T < 1)
                return err_set(e, ST_INVALID, "segment ranks need T >= 1, found T=%d", sp->T);
            return attn_lowrank_forward(R->att, &R->lr_view, x, km, B, N, sp->T, sp->seg_rank,
                                        fl, e);
        }
        return attn_lowrank_forward_rank(R->att, &R->lr_view, x, km, B, N, sp->rank, fl, e);
    }
    case RANK_ACTIVATION:
        if (!R->has_act)
            return err_set(e, ST_INVALID, "the activation-level kernel was not planned");
        return attn_activation_forward(R->att, &R->act, x, km, w, B, N, sp->rank, fl, e);
    case RANK_NYSTROM:
    case RANK_PERFORMER:
        if (sp->rank < 1 || sp->rank > R->max_m)
            return err_set(e, ST_INVALID, "%s: m = %d: expected 1..%d (max_m)",
                           rank_kind_name(sp->kind), sp->rank, R->max_m);
        if (sp->kind == RANK_NYSTROM)
            return nystrom_forward(R->att, &R->nys, x, km, w, B, N, sp->rank, fl, e);
        return performer_forward(R->att, &R->perf, x, km, w, B, N, sp->rank, fl, e);
    }
    return err_set(e, ST_INVALID, "unknown attention kind %d", (int)sp->kind);
}

static void add_to(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* the decoder's rest of layer l (lm_forward's math): r = x + a; y = LN2(r);
   x' = r + W2 act(W1 y + b1) + b2; then the next layer's u = LN1(x') */
static void finish_decoder(Ranked *R, int l, int M) {
    const int C = R->C, F = R->F;
    const size_t MC = (size_t)M * C;
    const BertLayerParams *lp = &R->m->p.layer[l];
    const BertConfig *c = &R->m->c;
    add_to(R->r, R->x, R->att, MC);
    layernorm_forward(R->y, NULL, NULL, R->r, lp->ln2_w, lp->ln2_b, M, C, c->ln_eps);
    linear_forward(R->h, R->y, lp->w1, lp->b1, M, C, F);
    bert_act_forward(c, R->h, R->h, (size_t)M * F);
    linear_forward(R->f, R->h, lp->w2, lp->b2, M, F, C);
    add_to(R->x, R->r, R->f, MC);
    if (l + 1 < R->L)
        layernorm_forward(R->u, NULL, NULL, R->x, R->m->p.layer[l + 1].ln1_w,
                          R->m->p.layer[l + 1].ln1_b, M, C, c->ln_eps);
}

/* the rest of the current layer after R->att holds its attention output, batched over all
   B N rows: y = LN1(a + x); h = gelu(W1 y + b1); f = W2 h + b2; x' = LN2(f + y) into R->x
   (a decoder: finish_decoder); the layer advances (shared by ranked_layer and
   ranked_layer_each) */
static void finish_layer(Ranked *R) {
    const int l = R->layer, C = R->C, F = R->F, M = R->B * R->N;
    const size_t MC = (size_t)M * C;
    const BertLayerParams *lp = &R->m->p.layer[l];
    const float eps = R->m->c.ln_eps;
    R->rest_fl[l] = linear_flops(M, C, F) + linear_bias_flops(M, F) + linear_flops(M, F, C) +
                    linear_bias_flops(M, C);
    if (R->dec) {
        finish_decoder(R, l, M);
        R->layer++;
        return;
    }
    add_to(R->r, R->att, R->x, MC);
    layernorm_forward(R->y, NULL, NULL, R->r, lp->ln1_w, lp->ln1_b, M, C, eps);
    linear_forward(R->h, R->y, lp->w1, lp->b1, M, C, F);
    bert_act_forward(&R->m->c, R->h, R->h, (size_t)M * F);
    linear_forward(R->f, R->h, lp->w2, lp->b2, M, F, C);
    add_to(R->r, R->f, R->y, MC);
    layernorm_forward(R->x, NULL, NULL, R->r, lp->ln2_w, lp->ln2_b, M, C, eps);
    R->layer++;
}

Status ranked_layer(Ranked *R, const RankSpec *spec, Err *e) {
    if (R->layer >= R->L)
        return err_set(e, ST_INVALID, "ranked_layer: all %d layers already ran", R->L);
    const int l = R->layer;
    const double t0 = time_now();
    Status s = attend(R, l, spec, &R->attn_fl[l], e);
    R->attn_sec[l] += time_now() - t0;
    if (s) return err_prefix(e, "ranked_layer: layer %d (%s)", l, rank_kind_name(spec->kind));
    finish_layer(R);
    return ST_OK;
}

int ranked_segments(int n, int T) { return n < 1 ? 0 : T > 0 ? (n + T - 1) / T : 1; }

int ranked_seq_len(const Ranked *R, int b) {
    const uint8_t *m = R->mask + (size_t)b * R->N;
    int n = R->N;
    while (n > 0 && !m[n - 1]) n--;
    return n;
}

/* exact attention of sequence b alone (B = 1, its first n rows) into out's rows of b, with
   the exact layer ex (R->exact, or a lane's) */
static Status exact_one(Ranked *R, AttnExact *ex, int l, float *out, int b, int n, AttnFlops *f,
                        Err *e) {
    const size_t off = (size_t)b * R->N * R->C;
    return attn_exact_forward(out + off, ex, R->ain + off, kmask(R, R->mask + (size_t)b * R->N),
                              &R->m->p.layer[l].attn, 1, n, f, e);
}

/* rows [n, N) of sequence b of out (B, N, C) set to 0 (padding the per-sequence calls skip) */
static void zero_tail(const Ranked *R, float *out, int b, int n) {
    const size_t C = (size_t)R->C;
    memset(out + ((size_t)b * R->N + n) * C, 0, sizeof(float) * (size_t)(R->N - n) * C);
}

/* what one per-sequence pass does to sequence b (SeqJob): its ranks rank[b stride ..] of kind
   with segments of T rows (teacher: the exact kernel whatever the ranks), into out */
typedef struct {
    const char *who;
    RankKind kind;
    int T, teacher;
    const int *rank;
    size_t stride;
    float *out;
    int heads; /* 1: rank holds (segment, head) entries (ranked_layer_each_heads) */
} SeqJob;

/* sequence b's (segment, head) ranks of job j (heads) into hr (Sb H), full -> dh; 1 when every
   one is full */
static int head_ranks(const Ranked *R, const SeqJob *j, int b, int Sb, int *hr) {
    int full = 1;
    for (int k = 0; k < Sb * R->H; k++) {
        const int r = j->rank[(size_t)b * j->stride + k];
        full &= r <= 0;
        hr[k] = r <= 0 ? R->dh : r;
    }
    return full;
}

/* sequence b of job j on lane t (t < 0: R's own exact layer and R->lr_view, already pointed
   at the layer's packs; else lane t's, whose view is pointed here); *f, *sec its FLOPs and
   seconds */
static Status seq_run(Ranked *R, const SeqJob *j, int t, int b, AttnFlops *f, double *sec,
                      Err *e) {
    const int l = R->layer, N = R->N, n = ranked_seq_len(R, b), Sb = ranked_segments(n, j->T);
    AttnExact *ex = t < 0 ? &R->exact : &R->lane_ex[t];
    int seg[ATTN_MAX_SEGS]; /* sequence b's segment ranks, full -> dh */
    int full = 1;
    int *hr = R->hrank + (size_t)(t < 0 ? R->nt : t) * R->max_N * R->H;
    if (j->heads) full = head_ranks(R, j, b, Sb, hr);
    for (int s = 0; s < Sb && !j->teacher && !j->heads; s++) {
        const int r = j->rank[(size_t)b * j->stride + s];
        full &= r <= 0;
        seg[s] = r <= 0 ? R->dh : r;
    }
    attn_flops_zero(f);
    const size_t off = (size_t)b * N * R->C;
    const double t0 = time_now();
    Status s = ST_OK;
    if (n && full) { /* every segment full: the exact kernel */
        s = exact_one(R, ex, l, j->out, b, n, f, e);
    } else if (n) { /* some segment low-rank: one segmented pass, full segments at rank dh */
        AttnLowrank *lv = t < 0 ? &R->lr_view
                                : point_view(R, &R->lane_lv[t], l, j->kind == RANK_WHITENED);
        const AttnMask km = kmask(R, R->mask + (size_t)b * N);
        if (j->heads)
            s = attn_lowrank_forward_heads(j->out + off, lv, R->ain + off, km, 1, n,
                                           j->T > 0 ? j->T : n, hr, f, e);
        else
            s = attn_lowrank_forward(j->out + off, lv, R->ain + off, km, 1, n,
                                     j->T > 0 ? j->T : n, seg, f, e);
    }
    *sec = time_now() - t0;
    if (s) return err_prefix(e, "%s: layer %d sequence %d", j->who, l, b);
    zero_tail(R, j->out, b, n);
    return ST_OK;
}

/* every sequence of job j: serially on R's own buffers, or, with lanes (ranked.h), the
   sequences concurrently, one lane per thread. fl_seq, sec_seq (may be NULL): each sequence's
   FLOPs and seconds (a lane's: its thread's time, concurrent with the others); *fl (may be
   NULL) += their FLOPs, *wall (may be NULL) += the pass's wall time. */
static Status seq_pass(Ranked *R, const SeqJob *j, AttnFlops *fl_seq, double *sec_seq,
                       AttnFlops *fl, double *wall, Err *e) {
    const double t0 = time_now();
    Status st = ST_OK;
    AttnFlops sum;
    attn_flops_zero(&sum);
#ifdef _OPENMP
    if (R->nt >= 2 && R->B >= 2) {
#pragma omp parallel num_threads(R->nt)
        {
            const int t = omp_get_thread_num();
            AttnFlops loc;
            attn_flops_zero(&loc);
            Err le;
            err_clear(&le);
#pragma omp for schedule(dynamic, 1)
            for (int b = 0; b < R->B; b++) {
                AttnFlops f;
                double sec;
                Status s = seq_run(R, j, t, b, &f, &sec, &le);
                if (s) {
#pragma omp critical(ranked_seq_err)
                    if (!st) st = s, *e = le;
                    continue;
                }
                attn_flops_add(&loc, &f);
                if (fl_seq) fl_seq[b] = f;
                if (sec_seq) sec_seq[b] = sec;
            }
#pragma omp critical(ranked_seq_flops)
            attn_flops_add(&sum, &loc);
        }
    } else
#endif
    {
        if (!j->teacher) lowrank_view(R, R->layer, j->kind == RANK_WHITENED);
        for (int b = 0; b < R->B && !st; b++) {
            AttnFlops f;
            double sec;
            st = seq_run(R, j, -1, b, &f, &sec, e);
            if (st) break;
            attn_flops_add(&sum, &f);
            if (fl_seq) fl_seq[b] = f;
            if (sec_seq) sec_seq[b] = sec;
        }
    }
    if (st) return st;
    if (fl) attn_flops_add(fl, &sum);
    if (wall) *wall += time_now() - t0;
    return ST_OK;
}

Status ranked_teacher_each(Ranked *R, AttnFlops *fl_seq, double *sec_seq, Err *e) {
    if (R->layer >= R->L)
        return err_set(e, ST_INVALID, "ranked_teacher_each: all %d layers already ran", R->L);
    const SeqJob j = {"ranked_teacher_each", RANK_EXACT, 0, 1, NULL, 0, R->teacher, 0};
    Status s = seq_pass(R, &j, fl_seq, sec_seq, &R->teacher_fl, NULL, e);
    if (s) return s;
    R->teacher_layer = R->layer;
    return ST_OK;
}

/* the checks ranked_layer_each and ranked_attend_each share (who: the caller's name) */
static Status check_each(const Ranked *R, const char *who, RankKind kind, Err *e) {
    if (R->layer >= R->L)
        return err_set(e, ST_INVALID, "%s: all %d layers already ran", who, R->L);
    if (kind != RANK_PLAIN && kind != RANK_WHITENED)
        return err_set(e, ST_INVALID, "%s: expected plain or whitened, found %s", who,
                       rank_kind_name(kind));
    if (kind == RANK_WHITENED && !R->whitened)
        return err_set(e, ST_INVALID, "%s: whitened factors are not computed (ranked_calibrate)",
                       who);
    return ST_OK;
}

/* ranked_layer_each (heads 0) and ranked_layer_each_heads (heads 1) */
static Status layer_each(Ranked *R, const char *who, RankKind kind, int T, const int *rank,
                         int heads, AttnFlops *fl_seq, double *sec_seq, Err *e) {
    Status s = check_each(R, who, kind, e);
    if (s) return s;
    const int l = R->layer, S = ranked_segments(R->N, T);
    if (T < 0 || S > ATTN_MAX_SEGS)
        return err_set(e, ST_INVALID,
                       "%s: expected T >= 0 and at most %d segments, found T=%d (%d segments)",
                       who, ATTN_MAX_SEGS, T, S);
    const SeqJob j = {who, kind, T, 0, rank, (size_t)S * (heads ? R->H : 1), R->att, heads};
    s = seq_pass(R, &j, fl_seq, sec_seq, &R->attn_fl[l], &R->attn_sec[l], e);
    if (s) return s;
    finish_layer(R);
    return ST_OK;
}

Status ranked_layer_each(Ranked *R, RankKind kind, int T, const int *rank, AttnFlops *fl_seq,
                         double *sec_seq, Err *e) {
    return layer_each(R, "ranked_layer_each", kind, T, rank, 0, fl_seq, sec_seq, e);
}

Status ranked_layer_each_heads(Ranked *R, RankKind kind, int T, const int *rank,
                               AttnFlops *fl_seq, double *sec_seq, Err *e) {
    return layer_each(R, "ranked_layer_each_heads", kind, T, rank, 1, fl_seq, sec_seq, e);
}

Status ranked_end(Ranked *R, Err *e) {
    if (R->layer != R->L)
        return err_set(e, ST_INVALID, "ranked_end: %d of %d layers ran", R->layer, R->L);
    const BertParams *p = &R->m->p;
    const int B = R->B, N = R->N, C = R->C, K = R->K;
    if (R->dec) { /* LN_f, then the tied head per position: logits (B, N, V) */
        const int M = B * N;
        layernorm_forward(R->y, NULL, NULL, R->x, p->lnf_w, p->lnf_b, M, C, R->m->c.ln_eps);
        linear_forward(R->logits, R->y, p->tok, NULL, M, C, K);
        R->head_fl = linear_flops(M, C, K);
        return ST_OK;
    }
    for (int b = 0; b < B; b++)
        memcpy(R->cls_in + (size_t)b * C, R->x + (size_t)b * N * C, sizeof(float) * C);
    linear_forward(R->pre, R->cls_in, p->pool_w, p->pool_b, B, C, C);
    tanh_forward(R->pooled, R->pre, (size_t)B * C);
    linear_forward(R->logits, R->pooled, p->cls_w, p->cls_b, B, C, K);
    softmax_forward(R->probs, R->logits, NULL, B, K, 1);
    R->head_fl = linear_flops(B, C, C) + linear_bias_flops(B, C) + linear_flops(B, C, K) +
                 linear_bias_flops(B, K);
    return ST_OK;
}

Status ranked_forward(Ranked *R, const int32_t *ids, const int32_t *type_ids,
                      const uint8_t *mask, int B, int N, const RankSpec *spec, Err *e) {
    Status s = ranked_begin(R, ids, type_ids, mask, B, N, e);
    for (int l = 0; l < R->L && !s; l++) s = ranked_layer(R, &spec[l], e);
    if (!s) s = ranked_end(R, e);
    return s;
}

void ranked_fidelity(const Ranked *R, int i0, int i1, double *cos, double *rel) {
    const int N = R->N, C = R->C;
    if (i0 < 0) i0 = 0;
    if (i1 > N) i1 = N;
    for (int b = 0; b < R->B; b++) {
        double aa = 0, tt = 0, at = 0, dd = 0;
        for (int i = i0; i < i1; i++) {
            const size_t t = (size_t)b * N + i;
            if (!R->mask[t]) continue;
            const float *a = R->att + t * C, *q = R->teacher + t * C;
            for (int c = 0; c < C; c++) {
                const double x = a[c], y = q[c];
                aa += x * x, tt += y * y, at += x * y, dd += (x - y) * (x - y);
            }
        }
        if (cos) cos[b] = aa > 0 && tt > 0 ? at / sqrt(aa * tt) : (aa == tt ? 1.0 : 0.0);
        if (rel) rel[b] = tt > 0 ? sqrt(dd / tt) : (dd > 0 ? INFINITY : 0.0);
    }
}

Status ranked_bound(Ranked *R, RankKind kind, BoundKind bk, const int *ranks, int n,
                    BoundOut *out, Err *e) {
    if (!R->has_bounds)
        return err_set(e, ST_INVALID, "ranked_bound: bounds were not planned");
    if (kind != RANK_PLAIN && kind != RANK_WHITENED)
        return err_set(e, ST_INVALID, "ranked_bound: expected plain or whitened, found %s",
                       rank_kind_name(kind));
    if (kind == RANK_WHITENED && !R->whitened)
        return err_set(e, ST_INVALID, "ranked_bound: whitened factors are not computed");
    if (R->layer >= R->L)
        return err_set(e, ST_INVALID, "ranked_bound: all %d layers already ran", R->L);
    const BoundLayer *bl = &R->bl[(kind == RANK_WHITENED) * R->L + R->layer];
    Status s = bound_compute(out, &R->bw, &R->bound_fl, R->ain, kmask(R, R->mask), bl, bk,
                             ranks, n, R->B, R->N, e);
    return s ? err_prefix(e, "ranked_bound: layer %d", R->layer) : ST_OK;
}

int64_t ranked_attn_flops(const Ranked *R) {
    int64_t t = 0;
    for (int l = 0; l < R->L; l++) t += attn_flops_total(&R->attn_fl[l]);
    return t;
}

double ranked_attn_seconds(const Ranked *R) {
    double t = 0;
    for (int l = 0; l < R->L; l++) t += R->attn_sec[l];
    return t;
}

int64_t ranked_model_flops(const Ranked *R) {
    int64_t t = ranked_attn_flops(R) + R->head_fl;
    for (int l = 0; l < R->L; l++) t += R->rest_fl[l];
    return t;
}

Status ranked_attend_each(Ranked *R, RankKind kind, int rank, float *out, AttnFlops *fl_seq,
                          double *sec_seq, Err *e) {
    Status s = check_each(R, "ranked_attend_each", kind, e);
    if (s) return s;
    if (out == R->x || out == R->ain)
        return err_set(e, ST_INVALID, "ranked_attend_each: out must not be the layer input");
    /* ranked_layer_each's call for one segment (T = 0) at this rank, nothing counted */
    const SeqJob j = {"ranked_attend_each", kind, 0, 0, &rank, 0, out, 0};
    return seq_pass(R, &j, fl_seq, sec_seq, NULL, NULL, e);
}
