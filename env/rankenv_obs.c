/* rankenv_obs.c: the rank environment's observation of a layer (rankenv.h): the teacher
 * and the tight bounds of the layer input (needed by the guardrail before choosing), the
 * per-segment relative bounds rho and masks, and the feature tokens.
 *
 * Token layout (RANKENV_TOKEN_DIM = 64 floats, zero-padded; features 0..4 are the type
 * one-hot: 0 CLS, 1 layer, 2 previous ranks, 3 sequence, 4 segment). G = grid size,
 * max_pos = the frozen model's max_pos (fixed per model, so features agree across sets).
 *   token 0 CLS (the value head reads it): the type only.
 *   token 1 layer l (fixed per layer, computed once at init):
 *     5  l / (L-1) (0 when L = 1);  6, 7  sin, cos of pi l / (L-1);  8 first; 9 last
 *     10 + 3 m (m = 0 W_Q, 1 W_K, 2 W_V, the (C, C) projection weights):
 *        mean(W) sqrt(C);  log10(var(W) C)  (0 for an i.i.d. 1/sqrt(C)-scaled matrix);
 *        log10 ||W||_2 (spectral norm from all singular values, LAPACKE_dgesdd, once)
 *     19 + g      energy retained by the factors in use (kind) at ranks[g], W_QK, summed
 *                 over heads: sum_h sum_{i<r} s_hi^2 / sum_h sum_i s_hi^2 (in [0, 1])
 *     19 + G + g  the same for W_VO
 *   token 2 previous ranks (this sequence's choices at layer l-1, over its real segments;
 *     per head (config per_head) over its real (segment, head) pairs, each counted once):
 *     5  1 at layer 0 ("none");  6 + g  share of segments at ranks[g];  6 + G  share at
 *     full;  7 + G  mean previous rank per head / dh (full = dh; 0 at layer 0)
 *   token 3 sequence: 5 n_b / max_pos (real length);  6 log(1 + n_b) / log(1 + max_pos);
 *     7 real segments / n_heads;  8 real tokens / n_b; with config head_features, the frozen
 *     model's own pooler and classifier applied to the sequence's CLS row of the layer's
 *     input (the running hidden state, what the model would answer if it stopped here):
 *     9 log(1 + z_1 - z_2) (z_1 >= z_2 the two largest logits), 10 the entropy of its
 *     softmax / log K, 11 1 - its top probability (0 without head_features). Every
 *     feature of a sequence's tokens is its own: nothing depends on which sequences share its
 *     batch (not the batch's padded length), so a decision is the same whatever the batch.
 *   token 4 + s, segment s (rows [s T, min(n_b, (s+1) T)), or [0, n_b) when T = 0):
 *     5 + o, 21 + o  mean and max over the segment's real rows of
 *                    c_io = relu(sum_k x_{i+k-1} w_ko),  k = 0, 1, 2 (kernel 3),
 *                    o < 16 channels, x the layer input rows (C), rows outside the
 *                    sequence's real rows count as 0; w ~ N(0, 1 / (3C)) drawn once from
 *                    the fixed RANKENV_CONV_SEED (so c_io is O(1) for LayerNorm outputs)
 *     37, 38         mean and std of ||x_i|| / sqrt(C) over the segment's real rows
 *     39             s / n_heads;   40  real rows / T (T = 0: / max_pos)
 *     41 + g         log10 rho_s(ranks[g]), clipped to [-6, 6]: the relative tight bound
 *                    of the segment at each candidate rank (what the guardrail masks on)
 *     56             with probe_features: log10 of ||A_1 - A_0||_F / ||A_1||_F over the
 *                    segment's real rows, A_g the layer's attention of the sequence alone
 *                    at grid rank ranks[g] (measured, not bounded), clipped to [-6, 2]; -6
 *                    in layers at or past probe_layers (> 0), which run no probe
 *   per head (config per_head), token 4 + s H + h, head h of segment s: the segment's
 *   features above (5..40, 56 the same for its H tokens), except
 *     41 + g         log10 rho_{s,h}(ranks[g]) clipped to [-6, 6]: the head's OWN relative
 *                    bound (its term of the layer bound, rankenv.h "Per-head ranks"), what
 *                    the guardrail masks on (against epsilon / H)
 *     57             h / H, the head's index (0 in per-segment mode, where it is unused)
 *   features 58..63 are unused (0).
 * Tokens that do not exist (segments past n_b; everything but CLS in idle slots) are zero
 * with tok_mask 0.
 *
 * Lengths past max_pos: a conv-position model (IMDB, issue 7) runs at any length, and
 * drrl-eval evaluates a policy trained at max_pos tokens at up to 4x that, where sequence
 * features 5 and 6 reach 4 and log(1 + 4 max_pos) / log(1 + max_pos) (1.20 for max_pos 1024).
 * Kept as they are, deliberately: with per-segment ranks (T > 0) every segment token's own
 * features (40: rows / T, 39: s / n_heads) stay in their training range apart from the index
 * s, and the sequence token's length is information the policy should have; a log-only or
 * clipped feature would be just as far outside what the policy saw in training (it never sees
 * n_b > max_pos) while hiding the length, and would change the observations of every SST-2
 * policy already trained. A policy evaluated past its training length is extrapolating either
 * way; drrl-eval reports its accuracy and fidelity at each length. */
#include "env/rankenv.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "nn/activation.h"
#include "nn/linear.h"

enum { TD = RANKENV_TOKEN_DIM, NC = RANKENV_CONV, TYPE_N = 5, F0 = TYPE_N };
_Static_assert(41 + RANKENV_MAX_GRID <= 56 && 56 < TD, "segment token: the bound features "
               "(41 + g) must end before the probe feature (56)");

static const double PI = 3.14159265358979323846;

static double clip(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* mean, variance and spectral norm of a (C, C) matrix (double SVD, values only) */
static Status wstats(const float *w, int C, double *work, double out[3], Err *e) {
    const size_t CC = (size_t)C * C;
    double s = 0, ss = 0;
    for (size_t i = 0; i < CC; i++) work[i] = w[i], s += w[i];
    const double mean = s / (double)CC;
    for (size_t i = 0; i < CC; i++) ss += (w[i] - mean) * (w[i] - mean);
    double *sv = work + CC;
    /* values only; those of W^T (column-major view) are the same */
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', C, C, work, C, sv, NULL, 1, NULL, 1);
    if (info) return err_set(e, ST_NUMERIC, "spectral norm: dgesdd info %d", (int)info);
    out[0] = mean, out[1] = ss / (double)CC, out[2] = sv[0];
    return ST_OK;
}

Status rankenv_obs_prepare(RankEnv *E, Err *e) {
    const int C = E->C, L = E->L, G = E->G;
    Rng r;
    rng_init(&r, RANKENV_CONV_SEED, 0);
    const double sc = 1.0 / sqrt(3.0 * C);
    for (size_t i = 0; i < (size_t)C * 3 * NC; i++) E->conv_w[i] = (float)(rng_normal(&r) * sc);
    double *work = malloc(sizeof(double) * ((size_t)C * C + C));
    if (!work) return err_set(e, ST_NOMEM, "rankenv: out of memory for the weight statistics");
    const AttnFactors *fac = E->c.kind == RANK_WHITENED ? E->R->white : E->R->plain;
    Status s = ST_OK;
    for (int l = 0; l < L && !s; l++) {
        float *t = E->layer_tok + (size_t)l * TD;
        memset(t, 0, sizeof(float) * TD);
        const double pos = L > 1 ? (double)l / (L - 1) : 0.0;
        t[1] = 1, t[F0] = (float)pos;
        t[F0 + 1] = (float)sin(PI * pos), t[F0 + 2] = (float)cos(PI * pos);
        t[F0 + 3] = l == 0, t[F0 + 4] = l == L - 1;
        const MhsaParams *p = &E->R->m->p.layer[l].attn;
        const float *w[3] = {p->wq, p->wk, p->wv};
        for (int m = 0; m < 3 && !s; m++) {
            double st[3] = {0, 0, 0};
            s = wstats(w[m], C, work, st, e);
            if (s) {
                err_prefix(e, "rankenv: layer %d", l);
                break;
            }
            t[10 + 3 * m] = (float)(st[0] * sqrt((double)C));
            t[11 + 3 * m] = (float)log10(fmax(st[1] * C, 1e-30));
            t[12 + 3 * m] = (float)log10(fmax(st[2], 1e-30));
        }
        for (int g = 0; g < G; g++) {
            t[19 + g] = (float)attn_factors_energy(&fac[l], ATTN_QK, -1, E->c.ranks[g]);
            t[19 + G + g] = (float)attn_factors_energy(&fac[l], ATTN_VO, -1, E->c.ranks[g]);
        }
    }
    free(work);
    return s;
}

/* rows [i0, i1) of segment s of a sequence of n rows */
static void seg_span(const RankEnv *E, int s, int n, int *i0, int *i1) {
    const int T = E->c.T;
    *i0 = T > 0 ? s * T : 0;
    *i1 = T > 0 && (s + 1) * T < n ? (s + 1) * T : n;
}

/* the teacher when needed (training: the reward's reference; deployment: only for guard
   OUTPUT), timed and counted in E->cost */
static Status teacher(RankEnv *E, Err *e) {
    if (E->deploy && E->c.guard != RANKENV_GUARD_OUTPUT) return ST_OK;
    Ranked *R = E->R;
    const int64_t f0 = attn_flops_total(&R->teacher_fl);
    const double t0 = time_now();
    Status s = ranked_teacher_each(R, E->tfl, E->tsec, e);
    E->cost.teacher_sec += time_now() - t0;
    E->cost.teacher_fl += attn_flops_total(&R->teacher_fl) - f0;
    return s;
}

/* per segment: the bound's root-sum-square fro over its real rows, ||T_s|| (when the teacher
   ran) and the guard's denominator D_s; returns the FLOPs counted (rankenv_feature_flops) */
static int64_t seg_norms(RankEnv *E, int had_teacher) {
    const Ranked *R = E->R;
    const int N = E->N, S = E->S, C = E->C, in = E->c.guard == RANKENV_GUARD_INPUT, P = E->P;
    const int G = E->c.guard == RANKENV_GUARD_NONE ? 0 : E->G; /* none: no bounds */
    const float *x = ranked_input(R);
    int64_t fl = 0;
    for (int b = 0; b < E->n_active; b++)
        for (int sg = 0; sg < E->nseg[b]; sg++) {
            int i0, i1;
            seg_span(E, sg, E->len[b], &i0, &i1);
            /* (P, G) of the segment's heads; brow (B, P, G, N) */
            double *fro = E->bfro + ((size_t)b * E->NA + (size_t)sg * P) * G, yy = 0, xx = 0;
            for (int i = i0; i < i1; i++) {
                const size_t t = (size_t)b * N + i;
                if (!E->mask[t]) continue;
                if (had_teacher) {
                    const float *y = R->teacher + t * C;
                    for (int c = 0; c < C; c++) yy += (double)y[c] * y[c];
                    fl += 2 * C;
                }
                if (in) { /* ||x~_i||^2 = ||x_i||^2 + 1 */
                    const float *xi = x + t * C;
                    for (int c = 0; c < C; c++) xx += (double)xi[c] * xi[c];
                    xx += 1, fl += 2 * C + 1;
                }
                for (int h = 0; h < P; h++)
                    for (int g = 0; g < G; g++) {
                        const double r = E->brow[(((size_t)b * P + h) * G + g) * N + i];
                        fro[h * G + g] += r * r;
                    }
                fl += 2 * G * P;
            }
            const size_t k = (size_t)b * S + sg;
            E->yseg[k] = had_teacher ? sqrt(yy) : 0.0;
            E->den[k] = in ? sqrt(xx) : E->yseg[k];
            for (int g = 0; g < G * P; g++) fro[g] = sqrt(fro[g]);
            fl += G * P + had_teacher + in;
        }
    return fl;
}

/* teacher, bounds, rho and the guardrail of the current layer */
static Status bounds(RankEnv *E, Err *e) {
    Ranked *R = E->R;
    const int B = E->n_active, S = E->S, G = E->G, NA = E->NA, P = E->P;
    Status s = teacher(E, e);
    const int had_teacher = R->teacher_layer == E->layer && !s;
    if (!had_teacher && E->c.guard == RANKENV_GUARD_OUTPUT && !s)
        s = err_set(e, ST_INVALID, "rankenv: guard output needs the teacher");
    if (s) return s;
    if (E->c.guard == RANKENV_GUARD_NONE) { /* no bounds: everything allowed, rho 0 */
        const double t1 = time_now();
        memset(E->rho, 0, sizeof(double) * (size_t)B * NA * G);
        memset(E->allow, 1, (size_t)B * NA * G);
        memset(E->masked, 0, sizeof(double) * (size_t)B);
        E->cost.feature_fl += seg_norms(E, had_teacher); /* ||T_s|| for the info only */
        E->cost.feature_sec += time_now() - t1;
        return ST_OK;
    }
    BoundOut bo = {P > 1 ? NULL : E->brow, NULL, NULL, NULL, P > 1 ? E->brow : NULL};
    const int64_t f0 = R->bound_fl;
    const double t0 = time_now();
    if (!s) s = ranked_bound(R, E->c.kind, E->c.bound, E->c.ranks, G, &bo, e);
    const double t1 = time_now();
    E->cost.bound_sec += t1 - t0, E->cost.bound_fl += R->bound_fl - f0;
    if (s) return s;
    memset(E->bfro, 0, sizeof(double) * (size_t)B * NA * G);
    memset(E->yseg, 0, sizeof(double) * (size_t)B * S);
    memset(E->den, 0, sizeof(double) * (size_t)B * S);
    int64_t fl = seg_norms(E, had_teacher);
    /* the guardrail on (B S) "sequences": allowed iff fro <= epsilon D_s (bound_mask); per
       head: head h of segment s at rank r iff fro_{s,h}(r) <= (epsilon / H) D_s, so any mix of
       allowed heads has rho_s = sum_h rho_{s,h}(r_h) <= epsilon */
    if (P > 1) {
        memset(E->allow, 1, (size_t)B * NA * G);
        const double eh = E->c.epsilon / P;
        for (int b = 0; b < B; b++)
            for (size_t k = 0; k < (size_t)E->nseg[b] * P; k++)
                for (int g = 0; g < G; g++) {
                    const size_t i = ((size_t)b * NA + k) * G + g;
                    E->allow[i] = E->bfro[i] <= eh * E->den[(size_t)b * S + k / P];
                }
    } else {
        s = bound_mask(E->allow, NULL, NULL, E->bfro, E->den, E->c.ranks, G, B * S, E->dh,
                       E->c.epsilon, e);
        if (s) return s;
    }
    for (int b = 0; b < B; b++) {
        int nm = 0;
        for (int sg = 0; sg < E->nseg[b]; sg++) {
            const double y = E->den[(size_t)b * S + sg];
            for (int g = 0; g < G * P; g++) { /* (head h, rank g) of the segment */
                const size_t k = ((size_t)b * NA + (size_t)sg * P) * G + g;
                const double f = E->bfro[k];
                E->rho[k] = y > 0 ? f / y : (f > 0 ? INFINITY : 0.0);
                nm += !E->allow[k];
            }
            fl += 2 * G * P; /* epsilon D_s and the division, per head and rank */
        }
        E->masked[b] = E->nseg[b] ? (double)nm / ((double)E->nseg[b] * P * G) : 0.0;
    }
    E->cost.feature_fl += fl;
    E->cost.feature_sec += time_now() - t1;
    return ST_OK;
}

/* the head features of (segment sg, head h) of sequence b into its token t: 41 + g the log10
   rho of the head (per segment: of the segment) at each grid rank, 57 (per head) h / H */
static void head_rho(const RankEnv *E, int b, int sg, int h, float *t) {
    const int G = E->G;
    for (int g = 0; g < G; g++) {
        const double r = E->rho[((size_t)b * E->NA + (size_t)sg * E->P + h) * G + g];
        t[41 + g] = (float)clip(log10(fmax(r, 1e-30)), -6, 6);
    }
    if (E->P > 1) t[57] = (float)h / (float)E->P;
}

/* the features of segment sg of sequence b into t (TD); returns the FLOPs counted: per real
   row 5 NC (taps summed, relu, mean, max) + 2 C + 5 (the row norm, its sqrt and sums), per
   segment NC + 4 (the means, the std) */
static int64_t seg_token(const RankEnv *E, int b, int sg, float *t) {
    const int N = E->N, C = E->C, n = E->len[b];
    const float *x = ranked_input(E->R), *P = E->conv_p;
    const uint8_t *mk = E->mask + (size_t)b * N;
    int i0, i1, rows = 0;
    seg_span(E, sg, n, &i0, &i1);
    double mean[NC] = {0}, mx[NC] = {0}, ns = 0, nss = 0;
    for (int i = i0; i < i1; i++) {
        if (!mk[i]) continue;
        rows++;
        const float *pc = P + ((size_t)b * N + i) * 3 * NC;
        for (int o = 0; o < NC; o++) {
            double v = pc[NC + o];
            if (i > 0 && mk[i - 1]) v += pc[o - 3 * NC];
            if (i + 1 < n && mk[i + 1]) v += pc[3 * NC + 2 * NC + o];
            v = v > 0 ? v : 0;
            mean[o] += v, mx[o] = v > mx[o] ? v : mx[o];
        }
        const float *xi = x + ((size_t)b * N + i) * C;
        double q = 0;
        for (int c = 0; c < C; c++) q += (double)xi[c] * xi[c];
        q = sqrt(q / C), ns += q, nss += q * q;
    }
    t[4] = 1;
    const double w = rows ? 1.0 / rows : 0.0, mn = ns * w;
    for (int o = 0; o < NC; o++) t[F0 + o] = (float)(mean[o] * w), t[21 + o] = (float)mx[o];
    t[37] = (float)mn, t[38] = (float)sqrt(fmax(nss * w - mn * mn, 0.0));
    t[39] = (float)sg / (float)E->S;
    t[40] = (float)rows / (float)(E->c.T > 0 ? E->c.T : E->max_pos);
    head_rho(E, b, sg, 0, t);
    if (E->c.probe_features)
        t[56] = (float)clip(log10(fmax(E->pchg[(size_t)b * E->S + sg], 1e-30)), -6, 2);
    return (int64_t)rows * (5 * NC + 2 * C + 5) + NC + 4;
}

int64_t rankenv_head(RankEnv *E, double *margin, double *entropy, double *ptop) {
    const BertParams *p = &E->R->m->p;
    const int n = E->n_active, C = E->C, K = E->K;
    const float *x = ranked_input(E->R);
    for (int b = 0; b < n; b++)
        memcpy(E->hd_in + (size_t)b * C, x + (size_t)b * E->N * C, sizeof(float) * C);
    linear_forward(E->hd_pre, E->hd_in, p->pool_w, p->pool_b, n, C, C);
    tanh_forward(E->hd_pre, E->hd_pre, (size_t)n * C);
    linear_forward(E->hd_z, E->hd_pre, p->cls_w, p->cls_b, n, C, K);
    for (int b = 0; b < n; b++) {
        const float *z = E->hd_z + (size_t)b * K;
        double z1 = -INFINITY, z2 = -INFINITY, s = 0, ent = 0;
        for (int k = 0; k < K; k++) {
            if (z[k] > z1) z2 = z1, z1 = z[k];
            else if (z[k] > z2) z2 = z[k];
        }
        for (int k = 0; k < K; k++) s += exp(z[k] - z1);
        for (int k = 0; k < K; k++) {
            const double q = exp(z[k] - z1) / s;
            ent -= q > 0 ? q * log(q) : 0.0;
        }
        if (margin) margin[b] = K > 1 ? z1 - z2 : 0.0;
        if (entropy) entropy[b] = ent;
        if (ptop) ptop[b] = 1.0 / s;
    }
    return (int64_t)n * (linear_flops(1, C, C) + linear_bias_flops(1, C) + linear_flops(1, C, K) +
                         linear_bias_flops(1, K) + 3 * K + 4);
}

/* head features of the active sequences into their sequence tokens (obs); returns the FLOPs
   counted (rankenv_head's) */
static int64_t head_tokens(RankEnv *E, float *obs) {
    const int n = E->n_active, K = E->K, NT = E->dims.n_tokens;
    double *mg = E->hd_stat, *en = mg + E->B, *pt = en + E->B;
    const int64_t fl = rankenv_head(E, mg, en, pt);
    for (int b = 0; b < n; b++) {
        float *ts = obs + ((size_t)b * NT + 3) * TD;
        ts[F0 + 4] = (float)log1p(mg[b]);
        ts[F0 + 5] = (float)(K > 1 ? en[b] / log((double)K) : 0.0);
        ts[F0 + 6] = (float)(1.0 - pt[b]);
    }
    return fl;
}

Status rankenv_probe(RankEnv *E, int ra, int rb, int per_seq, float *pa, float *pb,
                     AttnFlops *pfl, double *chg, int64_t *fl, Err *e) {
    Ranked *R = E->R;
    const int n = E->n_active, N = E->N, C = E->C, S = E->S;
    Status st = ranked_attend_each(R, E->c.kind, ra, pa, pfl, NULL, e);
    for (int b = 0; b < n && !st; b++) *fl += attn_flops_total(&pfl[b]);
    if (!st) st = ranked_attend_each(R, E->c.kind, rb, pb, pfl, NULL, e);
    if (st) return st;
    for (int b = 0; b < n; b++) {
        *fl += attn_flops_total(&pfl[b]);
        double sd = 0, sa = 0; /* the whole sequence's sums (per_seq) */
        for (int sg = 0; sg < E->nseg[b]; sg++) {
            int i0, i1;
            seg_span(E, sg, E->len[b], &i0, &i1);
            double dd = 0, aa = 0;
            for (int i = i0; i < i1; i++) {
                const size_t t = (size_t)b * N + i;
                if (!E->mask[t]) continue;
                const float *a = pb + t * C, *q = pa + t * C;
                for (int c = 0; c < C; c++) {
                    const double df = (double)a[c] - q[c];
                    dd += df * df, aa += (double)a[c] * a[c];
                }
                *fl += 4 * C;
            }
            if (!per_seq) chg[(size_t)b * S + sg] = aa > 0 ? sqrt(dd / aa) : 0.0, *fl += 2;
            sd += dd, sa += aa;
        }
        if (per_seq) chg[b] = sa > 0 ? sqrt(sd / sa) : 0.0, *fl += 2;
    }
    return ST_OK;
}

/* previous-rank and sequence tokens of sequence b; returns the FLOPs counted (8: the
   shares, means and length features) */
static int64_t seq_tokens(const RankEnv *E, int b, float *tp, float *ts) {
    const int G = E->G, ns = E->nseg[b], n = E->len[b], nh = ns * E->P;
    tp[2] = 1;
    if (E->layer == 0) {
        tp[F0] = 1;
    } else if (ns > 0) { /* over the real (segment, head) pairs */
        double rk = 0;
        for (int k = 0; k < nh; k++) {
            const int a = E->prev[(size_t)b * E->NA + k];
            tp[F0 + 1 + a] += 1.0f / (float)nh;
            rk += a < G ? E->c.ranks[a] : E->dh;
        }
        tp[7 + G] = (float)(rk / nh / E->dh);
    }
    int real = 0;
    for (int i = 0; i < n; i++) real += E->mask[(size_t)b * E->N + i];
    ts[3] = 1;
    ts[F0] = (float)n / (float)E->max_pos;
    ts[F0 + 1] = (float)(log1p((double)n) / log1p((double)E->max_pos));
    ts[F0 + 2] = (float)ns / (float)E->S, ts[F0 + 3] = n ? (float)real / (float)n : 0.0f;
    return 8;
}

Status rankenv_observe(RankEnv *E, float *obs, uint8_t *tok_mask, uint8_t *act_mask, Err *e) {
    Status s = bounds(E, e);
    if (s) return err_prefix(e, "rankenv: layer %d", E->layer);
    const double t0 = time_now();
    const int NT = E->dims.n_tokens, NA = E->NA, G = E->G, A = G + 1, P = E->P;
    /* P = X conv_w: every tap of every row in one GEMM, (B N, C) x (C, 3 NC) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, E->n_active * E->N, 3 * NC, E->C,
                1.0f, ranked_input(E->R), E->C, E->conv_w, 3 * NC, 0.0f, E->conv_p, 3 * NC);
    int64_t fl = 2 * (int64_t)E->n_active * E->N * E->C * 3 * NC;
    if (E->c.probe_features && (E->c.probe_layers == 0 || E->layer < E->c.probe_layers)) {
        s = rankenv_probe(E, E->c.ranks[0], E->c.ranks[1], 0, E->pa, E->pb, E->pfl, E->pchg,
                          &fl, e);
        if (s) return err_prefix(e, "rankenv: layer %d: probe", E->layer);
    } else if (E->c.probe_features) {
        memset(E->pchg, 0, sizeof(double) * (size_t)E->B * E->S);
    }
    _Static_assert(57 < TD, "per-head token: the head index feature (57)");
    memset(obs, 0, sizeof(float) * (size_t)E->B * NT * TD);
    memset(tok_mask, 0, (size_t)E->B * NT);
    memset(act_mask, 0, (size_t)E->B * NA * A);
    for (int b = 0; b < E->B; b++) {
        float *o = obs + (size_t)b * NT * TD;
        uint8_t *tm = tok_mask + (size_t)b * NT, *am = act_mask + (size_t)b * NA * A;
        o[0] = 1, tm[0] = 1;
        for (int k = 0; k < NA; k++) am[(size_t)k * A + G] = 1; /* full: always */
        if (b >= E->n_active) continue;                            /* idle slot */
        memcpy(o + TD, E->layer_tok + (size_t)E->layer * TD, sizeof(float) * TD);
        fl += seq_tokens(E, b, o + 2 * TD, o + 3 * TD);
        tm[1] = tm[2] = tm[3] = 1;
        for (int sg = 0; sg < E->nseg[b]; sg++) {
            float *tk = o + (size_t)(RANKENV_HEAD_TOKEN0 + sg * P) * TD;
            fl += seg_token(E, b, sg, tk); /* head 0's; the others copy it, then their own */
            for (int h = 0; h < P; h++) {
                const int k = sg * P + h;
                if (h) memcpy(tk + (size_t)h * TD, tk, sizeof(float) * TD);
                if (P > 1) head_rho(E, b, sg, h, tk + (size_t)h * TD);
                tm[RANKENV_HEAD_TOKEN0 + k] = 1;
                memcpy(am + (size_t)k * A, E->allow + ((size_t)b * NA + k) * G, (size_t)G);
            }
        }
    }
    if (E->c.head_features) fl += head_tokens(E, obs);
    E->cost.feature_fl += fl;
    E->cost.feature_sec += time_now() - t0;
    return ST_OK;
}
