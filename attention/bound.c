/* bound.c: perturbation bounds for weight-level truncation of attention (see bound.h).
 *
 * DERIVATION. One head; x~_t = [x_t, 1]; kept keys j (padding excluded everywhere: masked keys
 * have p = p' = 0). A rank-r truncation keeps the first r columns of the factors, so the
 * discarded parts are EXACTLY
 *     dM_QK = M_QK - M_QK,r = A_qk,perp B_qk,perp^T,   dM_VO = A_vo,perp B_vo,perp^T,
 * with X_perp = X[:, r:]. For plain factors A_perp = U_perp S_perp^1/2; for whitened ones
 * A_perp = L^-T U_perp S_perp^1/2 (columns not orthonormal in the input space). Nothing below
 * uses orthonormality, so every step holds for both.
 *
 * 1. Scores. ds_ij = s'_ij - s_ij = -(x~_i A_perp) . (x~_j B_perp) / sqrt(dh), an inner
 *    product of two (dh - r)-vectors, so by Cauchy-Schwarz
 *        |ds_ij| <= a_i b_j / sqrt(dh),   a_i = ||x~_i A_perp||,  b_j = ||x~_j B_perp||,
 *    and also |ds_ij| <= ||x~_i|| ||dM_QK||_2 ||x~_j|| / sqrt(dh). For plain factors
 *    a_i b_j = ||x~_i U_perp S_perp^1/2|| ||x~_j V_perp S_perp^1/2||, the split of S between
 *    the two sides, which is <= sigma_{r+1} ||x~_i U_perp|| ||x~_j V_perp|| (the form in
 *    docs/design.md section 3).
 *    delta_i := max_j |ds_ij| <= min(a_i max_j b_j, |x~_i| max_j |x~_j| ||dM_QK||_2) / sqrt(dh).
 *
 * 2. Softmax. p_j = e^{s_j} / Z, p'_j = e^{s_j + ds_j} / Z' over kept j, so the log-ratios
 *    l_j = log(p'_j / p_j) = ds_j - log(Z'/Z) all lie in one interval [al, al + w] of width
 *    w = 2 delta (ds_j in [-delta, delta], the shift is common). Claim: ||p' - p||_1 <=
 *    2 tanh(w / 4) = 2 tanh(delta / 2). Proof: let m = e^al, k = e^w, M = m k. Since
 *    sum_j p_j e^{l_j} = sum_j p'_j = 1, m <= 1 <= M. With S+ = {j : p'_j > p_j}, P = p(S+),
 *    P' = p'(S+): ||p' - p||_1 = 2 (P' - P) (both sum to 1), and P' <= M P,
 *    1 - P' >= m (1 - P), so P' - P <= min((M - 1) P, (1 - m)(1 - P)) <= (M-1)(1-m)/(M-m)
 *    (the crossing point of the rising and falling lines). With t = m in [1/k, 1] this is
 *    (k + 1 - t k - 1/t) / (k - 1), largest at t = k^-1/2: (sqrt k - 1)^2 / (k - 1) =
 *    (sqrt k - 1)/(sqrt k + 1) = tanh(w/4). (k = 1: p' = p.) Never above 2.
 *
 * 3. Head output. o_i = sum_j p_j u_j, o'_i = sum_j p'_j u'_j, u_j = x~_j M_VO,
 *    u'_j = x~_j M_VO,r:  o'_i - o_i = sum_j (p'_j - p_j) u_j + sum_j p'_j (u'_j - u_j).
 *    First term: sum_j (p'_j - p_j) = 0, so for ANY vector c fixed over j it equals
 *    sum_j (p'_j - p_j)(u_j - c), of norm <= ||p' - p||_1 max_j ||u_j - c|| (centring). We use
 *    c = zbar B_vo^T with zbar the mean over kept keys of z_j = x~_j A_vo (as computed), so
 *    u_j - c = (z_j - zbar) B_vo^T and ||u_j - c||^2 = (z_j - zbar) G (z_j - zbar)^T with
 *    G = B_vo^T B_vo; c = 0 gives max_j ||u_j|| <= max_j |x~_j| ||M_VO||_2 (cheap). Centring
 *    removes the part all value rows share (value bias, mean token), usually most of it.
 *    Second term: p' >= 0 sums to 1, so its norm is <= max_j ||x~_j dM_VO||, which is
 *    exactly sqrt(z_j,perp G_perp z_j,perp^T), and <= |x~_j| ||dM_VO||_2 (cheap). Hence
 *        ||o'_i - o_i|| <= 2 tanh(delta_i / 2) max_j ||u_j - c|| + max_j ||x~_j dM_VO||.
 *
 * 4. Layer. u already includes W_O, so y_i = sum_h o_hi + bo: the triangle inequality sums
 *    the head bounds into e_i, and ||Y' - Y||_F^2 = sum_i ||y'_i - y_i||^2 <= sum_i e_i^2.
 *    Each head's term e_{i,h} (BoundOut.row_head) bounds its own share ||o'_hi - o_hi|| and
 *    depends only on that head's rank, so with a rank r_h per head (and rows of a segment S)
 *    Minkowski over the rows gives ||Y'_S - Y_S||_F <= sum_h sqrt(sum_{i in S} e_{i,h}(r_h)^2).
 *
 * 5. Upper bounds only. Operator norms come from Grams G = X^T X (double):
 *    ||X||_2^2 = lambda_max(G) <= min(max_k sum_l |G_kl| (Gershgorin), trace G); for plain
 *    factors G is diagonal and this is exact (sigma_{r+1} for the products below).
 *    ||A_perp B_perp^T||_2 <= min(||A_perp||_2 ||B_perp||_2, ||A_perp B_perp^T||_F) with
 *    ||A_perp B_perp^T||_F^2 = sum_{k,l >= r} GA_kl GB_kl. Power iteration is never used.
 *    The projections z = x~ A are float sgemms: |fl(x~ . a_k) - x~ . a_k| <= g |x~|.|a_k|
 *    <= g ||x~|| ||a_k||, g = n u / (1 - n u), n = d + 1, u = 2^-24, for any summation order
 *    (FMA or not); over the columns k >= r the error vector is <= g ||x~|| F_A(r),
 *    F_A(r) = ||A_perp||_F. So a_i <= ||z~_perp|| + g ||x~_i|| F_A(r), and ||x~ dM_VO|| <=
 *    sqrt(z~_perp G_perp z~_perp^T) + g ||x~|| F_A(r) ||B_perp||_2. (c uses the computed zbar,
 *    so the centred term needs only g max_j ||x~_j|| F_A(0) ||B_vo||_2.) Each tight quantity
 *    is also capped by its cheap counterpart (a min of two valid bounds), so tight <= cheap
 *    exactly. All other arithmetic is double (~1e-15 relative, far below g ~ 1e-5).
 *    Suffix sums give every rank at once: ||z_perp||^2 = sum_{k>=r} z_k^2, and
 *    q(r) = z_perp G_perp z_perp^T = q(r+1) + z_r (z_r G_rr + 2 sum_{l>r} G_rl z_l).
 *
 * 6. Causal masks (mask.causal: row i keeps the kept keys j <= i, a subset K_i of the kept
 *    keys K). Nothing above needs K_i = K: step 1 bounds max_{j in K_i} |ds_ij|; step 2 holds
 *    for the two softmaxes over any one key set (K_i); step 3 needs only that p and p' both
 *    sum to 1 over K_i (so sum_{j in K_i} (p'_j - p_j) = 0 and any c fixed over j centres,
 *    the zbar over K included) and takes maxima over K_i; step 4 is per row. So the bound
 *    holds unchanged with maxima over K (a superset), and bound_compute tightens it by taking
 *    the key-side maxima over K_i: max_{j in K_i} ||x~_j||, b_j and ||x~_j dM_VO|| are prefix
 *    maxima (running maxima in position order, the same compares as the maxima over K, so
 *    bound_flops is unchanged). The centred value term keeps max over K (c = zbar over K):
 *    valid for every K_i, and so the tight term stays <= the cheap one. A row with K_i empty
 *    gets e_i = 0, as o_i = o'_i = 0 there. Each row's bound is at most its non-causal bound
 *    (tests/attention/test_bound runs half its batches causal and checks both). */
#include "attention/bound.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define ROUND_UP (1.0 + 1e-12) /* on prepared double norms: covers their own rounding */
#define PAR_MIN 256            /* tokens below which the per-token loops stay serial */

static inline double dmin(double a, double b) { return a < b ? a : b; }
static inline double dmax(double a, double b) { return a > b ? a : b; }

static inline int kept(AttnMask m, size_t t) {
    if (m.type == ATTN_MASK_I32) return ((const int32_t *)m.data)[t] != 0;
    if (m.type == ATTN_MASK_U8) return ((const uint8_t *)m.data)[t] != 0;
    return 1;
}

BoundFactors bound_factors_attn(const AttnFactors *f) {
    BoundFactors v = {f->a, f->b, f->c, f->dm, f->dh, (size_t)(f->d + 1) * f->dh,
                      (size_t)f->d * f->dh};
    return v;
}

void bound_layer_plan(MemPlan *plan, BoundLayer *bl, int d, int H, int dh) {
    memset(bl, 0, sizeof *bl);
    bl->d = d, bl->H = H, bl->dh = dh;
    size_t n = (size_t)H * (size_t)(dh + 1);
    double **v[8] = {&bl->fa_qk, &bl->fb_qk, &bl->fa_vo, &bl->oa_qk,
                     &bl->ob_qk, &bl->ob_vo, &bl->op_qk, &bl->op_vo};
    for (int i = 0; i < 8; i++) mem_plan_f64(plan, v[i], n, "bound.layer");
    mem_plan_f64(plan, &bl->g_vo, (size_t)H * dh * dh, "bound.layer");
    mem_plan_f64(plan, &bl->g_lo, (size_t)H * dh * dh, "bound.layer");
    mem_plan_f64(plan, &bl->gtmp, (size_t)2 * dh * dh + dh + 1, "bound.layer");
}

/* gram: G (dh, dh) = X^T X for X (n, dh) with row stride ld; 0 if all finite. */
static int gram(double *G, const float *X, int n, int dh, int ld) {
    memset(G, 0, sizeof(double) * dh * dh);
    int bad = 0;
    for (int t = 0; t < n; t++) {
        const float *row = X + (size_t)t * ld;
        for (int k = 0; k < dh; k++) {
            double xk = row[k];
            if (!isfinite(xk)) bad = 1;
            for (int l = k; l < dh; l++) G[k * dh + l] += xk * row[l];
        }
    }
    for (int k = 0; k < dh; k++)
        for (int l = 0; l < k; l++) G[k * dh + l] = G[l * dh + k];
    return bad;
}

/* suffix_norms: fro[r] = ||X[:, r:]||_F, op[r] >= ||X[:, r:]||_2, r = 0..dh. */
static void suffix_norms(double *fro, double *op, const double *G, int dh) {
    double tr = 0;
    fro[dh] = op[dh] = 0;
    for (int r = dh - 1; r >= 0; r--) {
        tr += G[r * dh + r];
        double gers = 0;
        for (int k = r; k < dh; k++) {
            double s = 0;
            for (int l = r; l < dh; l++) s += fabs(G[k * dh + l]);
            if (s > gers) gers = s;
        }
        fro[r] = sqrt(tr) * ROUND_UP;
        op[r] = sqrt(gers < tr ? gers : tr) * ROUND_UP;
    }
}

/* prod_norms: op[r] >= ||A_perp B_perp^T||_2 from the Grams and the factor bounds. */
static void prod_norms(double *op, const double *GA, const double *GB, const double *oa,
                       const double *ob, int dh) {
    double f2 = 0;
    op[dh] = 0;
    for (int r = dh - 1; r >= 0; r--) {
        double s = 0;
        for (int l = r + 1; l < dh; l++) s += GA[r * dh + l] * GB[r * dh + l];
        f2 += GA[r * dh + r] * GB[r * dh + r] + 2 * s;
        double fr = sqrt(f2 > 0 ? f2 : 0) * ROUND_UP, pr = oa[r] * ob[r] * ROUND_UP;
        op[r] = fr < pr ? fr : pr;
    }
}

Status bound_layer_prepare(BoundLayer *bl, const BoundFactors *f, Err *e) {
    int d = bl->d, H = bl->H, dh = bl->dh;
    if (d < 1 || H < 1 || dh < 1 || !bl->fa_qk || !f || !f->a_qk || !f->b_qk || !f->a_vo ||
        !f->b_vo || f->ld < dh)
        return err_set(e, ST_INVALID, "bound_layer_prepare: expected a planned layer and "
                       "factors with ld >= dh, found d %d, H %d, dh %d, ld %d", d, H, dh,
                       f ? f->ld : -1);
    bl->f = *f;
    double *GA = bl->gtmp, *GB = bl->gtmp + (size_t)dh * dh, *fb = GB + (size_t)dh * dh;
    for (int h = 0; h < H; h++) {
        size_t o = (size_t)h * f->hs, oo = (size_t)h * f->hs_out, n1 = (size_t)h * (dh + 1);
        double *G = bl->g_vo + (size_t)h * dh * dh;
        int bad = gram(GA, f->a_qk + o, d + 1, dh, f->ld);
        bad |= gram(GB, f->b_qk + o, d + 1, dh, f->ld);
        suffix_norms(bl->fa_qk + n1, bl->oa_qk + n1, GA, dh);
        suffix_norms(bl->fb_qk + n1, bl->ob_qk + n1, GB, dh);
        prod_norms(bl->op_qk + n1, GA, GB, bl->oa_qk + n1, bl->ob_qk + n1, dh);
        bad |= gram(GA, f->a_vo + o, d + 1, dh, f->ld);
        bad |= gram(G, f->b_vo + oo, d, dh, f->ld);
        /* ||A_vo[:, r:]||_2 is needed only here: op_vo holds it until prod_norms overwrites
         * it in place (entry r is read before it is written, r descending). */
        suffix_norms(bl->fa_vo + n1, bl->op_vo + n1, GA, dh);
        suffix_norms(fb, bl->ob_vo + n1, G, dh);
        prod_norms(bl->op_vo + n1, GA, G, bl->op_vo + n1, bl->ob_vo + n1, dh);
        double *Glo = bl->g_lo + (size_t)h * dh * dh;
        for (int k = 0; k < dh; k++)
            for (int l = 0; l < dh; l++) Glo[k * dh + l] = k > l ? G[k * dh + l] : 0;
        if (bad)
            return err_set(e, ST_NUMERIC, "bound_layer_prepare: head %d: expected finite "
                           "factors, found a NaN or Inf", h);
    }
    return ST_OK;
}

void bound_work_plan(MemPlan *plan, BoundWork *w, int B, int N, int R, int dh) {
    memset(w, 0, sizeof *w);
    w->B = B, w->N = N, w->R = R, w->dh = dh;
    size_t BN = (size_t)B * N;
    mem_plan_f32(plan, &w->z, BN * dh, "bound.work");
    mem_plan_f64(plan, &w->zd, BN * dh, "bound.work");
    mem_plan_f64(plan, &w->tt, BN * dh, "bound.work");
    mem_plan_f64(plan, &w->suf, BN * (dh + 1), "bound.work");
    mem_plan_f64(plan, &w->xn, BN, "bound.work");
    mem_plan_f64(plan, &w->q0, BN, "bound.work");
    mem_plan_f64(plan, &w->xmax, (size_t)B, "bound.work");
    mem_plan_f64(plan, &w->xpre, BN, "bound.work");
    mem_plan_f64(plan, &w->aq, BN * R, "bound.work");
    mem_plan_f64(plan, &w->tv, BN * R, "bound.work");
    mem_plan_f64(plan, &w->bmax, BN * R, "bound.work"); /* (B, R); causal (B N, R) */
    mem_plan_f64(plan, &w->vmax, (size_t)B * R, "bound.work"); /* causal: in tv instead */
    mem_plan_f64(plan, &w->rc, (size_t)B, "bound.work");
    mem_plan_f64(plan, &w->zbar, (size_t)B * dh, "bound.work");
    mem_plan_f64(plan, &w->acc, BN * R, "bound.work");
}

#define TOK_FLOPS(d) (2 * ((d) + 1))                     /* ||x~||, running max */
#define SUM_FLOPS 4                                      /* per (token, rank): fro, max, mean */
#define TIGHT_TOKHEAD_FLOPS(d, dh) \
    (6 * (d) * (dh) + 4 * (dh) * (dh) + 16 * (dh) + 2)   /* per (token, head) */
#define TIGHT_TOKHEADRANK_FLOPS 24                       /* per (token, head, rank) */
#define TIGHT_SEQHEAD_FLOPS(dh) ((dh) + 6)               /* per (sequence, head) */

int64_t bound_flops(BoundKind kind, int64_t B, int64_t N, int64_t d, int64_t H, int64_t R) {
    int64_t dh = d / H, BN = B * N;
    int64_t f = BN * TOK_FLOPS(d) + BN * H * R * BOUND_ROW_FLOPS + BN * R * SUM_FLOPS;
    if (kind == BOUND_TIGHT)
        f += H * (BN * TIGHT_TOKHEAD_FLOPS(d, dh) + BN * R * TIGHT_TOKHEADRANK_FLOPS +
                  B * TIGHT_SEQHEAD_FLOPS(dh));
    return f;
}

/* project: z (BN, dh) = x~ A = x A[0:d] + A[d] (float sgemm, then the bias row). */
static void project(float *z, const float *x, const float *A, int ld, int BN, int d, int dh) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BN, dh, d, 1.0f, x, d, A, ld, 0.0f,
                z, dh);
    const float *bias = A + (size_t)d * ld;
#pragma omp parallel for schedule(static) if (BN >= PAR_MIN)
    for (int t = 0; t < BN; t++)
        for (int k = 0; k < dh; k++) z[(size_t)t * dh + k] += bias[k];
}

/* sq_norms: out[t, ri] = min(sqrt(sum_{k >= r} z_tk^2) + g xn_t fr[r], xn_t op[r]) with
 * r = ranks[ri]: ||x~_t X[:, r:]|| inflated by the rounding margin, capped by the cheap bound.
 * suf (BN, dh+1) holds each token's suffix sums. */
static void sq_norms(double *out, double *suf, const float *z, const double *xn,
                     const double *fr, const double *op, double g, const int *ranks, int R,
                     int BN, int dh) {
#pragma omp parallel for schedule(static) if (BN >= PAR_MIN)
    for (int t = 0; t < BN; t++) {
        const float *zt = z + (size_t)t * dh;
        double *st = suf + (size_t)t * (dh + 1), x = xn[t];
        st[dh] = 0;
        for (int k = dh - 1; k >= 0; k--) st[k] = st[k + 1] + (double)zt[k] * zt[k];
        for (int ri = 0; ri < R; ri++) {
            int r = ranks[ri];
            out[(size_t)t * R + ri] = dmin(sqrt(st[r]) + g * x * fr[r], x * op[r]);
        }
    }
}

/* seq_max: m (B, R) = max over kept tokens of each sequence of v (BN, R). */
static void seq_max(double *m, const double *v, AttnMask mask, int R, int B, int N) {
    for (int i = 0; i < B * R; i++) m[i] = 0;
    for (int t = 0; t < B * N; t++) {
        if (!kept(mask, (size_t)t)) continue;
        double *mb = m + (size_t)(t / N) * R;
        for (int ri = 0; ri < R; ri++) mb[ri] = dmax(mb[ri], v[(size_t)t * R + ri]);
    }
}

/* prefix_max: m (BN, R): row t = (b, i) holds the max of v over the kept tokens j <= i of
   sequence b (0 if none): the same compares as seq_max, one per kept token and rank. m may
   be v (in place). */
static void prefix_max(double *m, const double *v, AttnMask mask, int R, int B, int N) {
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N; i++) {
            const size_t t = (size_t)b * N + i;
            for (int ri = 0; ri < R; ri++) {
                const double prev = i > 0 ? m[(t - 1) * R + ri] : 0;
                m[t * R + ri] = kept(mask, t) ? dmax(prev, v[t * R + ri]) : prev;
            }
        }
}

/* tight_head: fills w->aq (BN, R), w->bmax, w->vmax (B, R), w->rc (B) for head h; causal:
   w->bmax and w->tv hold the (BN, R) prefix maxima of the key and value terms instead. */
static void tight_head(BoundWork *w, const float *x, AttnMask mask, const BoundLayer *bl, int h,
                       const int *ranks, int R, int B, int N) {
    int d = bl->d, dh = bl->dh, ld = bl->f.ld, BN = B * N;
    size_t o = (size_t)h * bl->f.hs, n1 = (size_t)h * (dh + 1), hh = (size_t)h * dh * dh;
    const double g = (d + 1) * 0x1p-24 / (1 - (d + 1) * 0x1p-24); /* gamma_{d+1}, float */
    const double *fav = bl->fa_vo + n1, *obv = bl->ob_vo + n1, *opv = bl->op_vo + n1;
    const double *G = bl->g_vo + hh, *Glo = bl->g_lo + hh;
    /* queries: aq = a_i(r) = ||x~_i A_qk[:, r:]|| */
    project(w->z, x, bl->f.a_qk + o, ld, BN, d, dh);
    sq_norms(w->aq, w->suf, w->z, w->xn, bl->fa_qk + n1, bl->oa_qk + n1, g, ranks, R, BN, dh);
    /* keys: bmax(r) = max_j ||x~_j B_qk[:, r:]|| */
    project(w->z, x, bl->f.b_qk + o, ld, BN, d, dh);
    sq_norms(w->tv, w->suf, w->z, w->xn, bl->fb_qk + n1, bl->ob_qk + n1, g, ranks, R, BN, dh);
    if (mask.causal) prefix_max(w->bmax, w->tv, mask, R, B, N);
    else seq_max(w->bmax, w->tv, mask, R, B, N);
    /* values: z = x~ A_vo; tt = z tril(G, -1), so tt_r = sum_{l>r} G_rl z_l and
     * q(r) = q(r+1) + z_r (z_r G_rr + 2 tt_r) = ||x~ dM_VO(r)||^2 */
    project(w->z, x, bl->f.a_vo + o, ld, BN, d, dh);
    for (size_t i = 0; i < (size_t)BN * dh; i++) w->zd[i] = w->z[i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BN, dh, dh, 1.0, w->zd, dh, Glo, dh,
                0.0, w->tt, dh);
#pragma omp parallel for schedule(static) if (BN >= PAR_MIN)
    for (int t = 0; t < BN; t++) {
        const double *zt = w->zd + (size_t)t * dh, *tr = w->tt + (size_t)t * dh;
        double *st = w->suf + (size_t)t * (dh + 1), xn = w->xn[t];
        st[dh] = 0;
        for (int k = dh - 1; k >= 0; k--) st[k] = st[k + 1] + zt[k] * (zt[k] * G[k * dh + k] + 2 * tr[k]);
        for (int ri = 0; ri < R; ri++) {
            int r = ranks[ri];
            double v = sqrt(dmax(st[r], 0)) + g * xn * fav[r] * obv[r];
            w->tv[(size_t)t * R + ri] = dmin(v, xn * opv[r]);
        }
    }
    if (mask.causal) prefix_max(w->tv, w->tv, mask, R, B, N); /* tv's last use: in place */
    else seq_max(w->vmax, w->tv, mask, R, B, N);
    /* centred value rows: rc = max_j ||(z_j - zbar) B_vo^T||, zbar the mean over kept keys */
    for (int b = 0; b < B; b++) {
        double *zb = w->zbar + (size_t)b * dh;
        int cnt = 0;
        for (int k = 0; k < dh; k++) zb[k] = 0;
        for (int j = 0; j < N; j++) {
            size_t t = (size_t)b * N + j;
            if (!kept(mask, t)) continue;
            cnt++;
            for (int k = 0; k < dh; k++) zb[k] += w->zd[t * dh + k];
        }
        for (int k = 0; k < dh; k++) zb[k] = cnt ? zb[k] / cnt : 0;
    }
    for (size_t t = 0; t < (size_t)BN; t++)
        for (int k = 0; k < dh; k++) w->zd[t * dh + k] -= w->zbar[(t / N) * dh + k];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BN, dh, dh, 1.0, w->zd, dh, G, dh,
                0.0, w->tt, dh);
#pragma omp parallel for schedule(static) if (BN >= PAR_MIN)
    for (int t = 0; t < BN; t++) {
        double q = 0;
        for (int k = 0; k < dh; k++) q += w->zd[(size_t)t * dh + k] * w->tt[(size_t)t * dh + k];
        w->q0[t] = sqrt(dmax(q, 0));
    }
    for (int b = 0; b < B; b++) {
        double m = 0;
        for (int j = 0; j < N; j++)
            if (kept(mask, (size_t)b * N + j)) m = dmax(m, w->q0[(size_t)b * N + j]);
        w->rc[b] = dmin(m + g * w->xmax[b] * fav[0] * obv[0], w->xmax[b] * opv[0]);
    }
}

Status bound_compute(BoundOut *out, BoundWork *w, int64_t *flops, const float *x, AttnMask mask,
                     const BoundLayer *bl, BoundKind kind, const int *ranks, int R, int B, int N,
                     Err *e) {
    int d = bl->d, H = bl->H, dh = bl->dh;
    if (!out || !w || !x || !ranks || !bl->fa_qk || B < 1 || N < 1 || R < 1 || B > w->B ||
        N > w->N || R > w->R || dh != w->dh || (kind != BOUND_CHEAP && kind != BOUND_TIGHT))
        return err_set(e, ST_INVALID, "bound_compute: expected 1 <= B <= %d, 1 <= N <= %d, "
                       "1 <= R <= %d, head size %d and a known kind, found B %d, N %d, R %d, "
                       "head size %d, kind %d", w ? w->B : 0, w ? w->N : 0, w ? w->R : 0,
                       w ? w->dh : 0, B, N, R, dh, (int)kind);
    for (int ri = 0; ri < R; ri++)
        if (ranks[ri] < 0 || ranks[ri] > dh)
            return err_set(e, ST_INVALID, "bound_compute: ranks[%d]: expected 0..%d, found %d",
                           ri, dh, ranks[ri]);
    size_t BN = (size_t)B * N;
    /* token norms ||x~_t|| and per-sequence max over kept tokens */
#pragma omp parallel for schedule(static) if (BN >= PAR_MIN)
    for (size_t t = 0; t < BN; t++) {
        double s = 1;
        for (int k = 0; k < d; k++) s += (double)x[t * d + k] * x[t * d + k];
        w->xn[t] = sqrt(s);
    }
    for (int b = 0; b < B; b++) w->xmax[b] = 0;
    for (size_t t = 0; t < BN; t++) {
        if (kept(mask, t)) w->xmax[t / N] = dmax(w->xmax[t / N], w->xn[t]);
        w->xpre[t] = w->xmax[t / N]; /* the running max is the prefix max (causal rows) */
    }
    const int causal = mask.causal != 0;
    memset(w->acc, 0, sizeof(double) * BN * R);
    const double isq = 1 / sqrt((double)dh);
    const int tight = kind == BOUND_TIGHT;
    for (int h = 0; h < H; h++) {
        size_t n1 = (size_t)h * (dh + 1);
        const double *opq = bl->op_qk + n1, *opv = bl->op_vo + n1;
        if (tight) tight_head(w, x, mask, bl, h, ranks, R, B, N);
        /* e_i += 2 tanh(delta_i / 2) R + V (step 3), cheap or tight ingredients */
#pragma omp parallel for schedule(static) if (BN >= PAR_MIN)
        for (size_t t = 0; t < BN; t++) {
            size_t b = t / N, i = t % N;
            /* causal: row i's key maxima are over kept j <= i (xp, the prefix rows of bmax and
               vmax); the centring term keeps the whole sequence's (valid for any subset, and
               so the tight rc, capped with the whole xmax, stays <= the cheap one) */
            double xm = w->xmax[b], xt = w->xn[t], xp = causal ? w->xpre[t] : xm;
            const size_t kr = causal ? t * R : b * R; /* row of bmax and of vm */
            const double *vm = causal ? w->tv : w->vmax;
            for (int ri = 0; ri < R; ri++) {
                int r = ranks[ri];
                double delta = xt * xp * opq[r] * isq;
                if (tight) delta = dmin(delta, w->aq[t * R + ri] * w->bmax[kr + ri] * isq);
                double rcv = tight ? w->rc[b] : xm * opv[0];
                double vmx = tight ? vm[kr + ri] : xp * opv[r];
                const double eh = 2 * tanh(0.5 * delta) * rcv + vmx; /* e_{i,h}(r) */
                w->acc[(b * R + ri) * N + i] += eh;
                if (out->row_head) out->row_head[((b * H + h) * R + ri) * N + i] = eh;
            }
        }
    }
    /* summaries over kept query rows */
    for (int b = 0; b < B; b++)
        for (int ri = 0; ri < R; ri++) {
            const double *acc = w->acc + ((size_t)b * R + ri) * N;
            double s2 = 0, mx = 0, sm = 0;
            int cnt = 0;
            for (int i = 0; i < N; i++) {
                if (!kept(mask, (size_t)b * N + i)) continue;
                cnt++;
                s2 += acc[i] * acc[i], sm += acc[i], mx = dmax(mx, acc[i]);
            }
            size_t bi = (size_t)b * R + ri;
            if (out->fro) out->fro[bi] = sqrt(s2);
            if (out->max) out->max[bi] = mx;
            if (out->mean) out->mean[bi] = cnt ? sm / cnt : 0;
        }
    if (out->row) memcpy(out->row, w->acc, sizeof(double) * BN * R);
    if (flops) {
        int64_t f = (int64_t)BN * TOK_FLOPS(d) + (int64_t)BN * H * R * BOUND_ROW_FLOPS +
                    (int64_t)BN * R * SUM_FLOPS;
        if (kind == BOUND_TIGHT)
            f += (int64_t)H * ((int64_t)BN * TIGHT_TOKHEAD_FLOPS((int64_t)d, dh) +
                               (int64_t)BN * R * TIGHT_TOKHEADRANK_FLOPS +
                               (int64_t)B * TIGHT_SEQHEAD_FLOPS(dh));
        *flops += f;
    }
    return ST_OK;
}

void bound_ynorm(double *ynorm, const float *y, AttnMask mask, int B, int N, int C) {
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int i = 0; i < N; i++) {
            size_t t = (size_t)b * N + i;
            if (!kept(mask, t)) continue;
            for (int c = 0; c < C; c++) s += (double)y[t * C + c] * y[t * C + c];
        }
        ynorm[b] = sqrt(s);
    }
}

Status bound_mask(uint8_t *allow, uint8_t *allow_all, int *n_masked, const double *fro,
                  const double *ynorm, const int *ranks, int R, int B, int dh, double epsilon,
                  Err *e) {
    if (!(epsilon >= 0) || !isfinite(epsilon) || !allow || !fro || !ynorm || !ranks || R < 1 ||
        B < 1)
        return err_set(e, ST_INVALID, "bound_mask: expected a finite epsilon >= 0, B >= 1, "
                       "R >= 1 and non-NULL arrays, found epsilon %g, B %d, R %d", epsilon, B, R);
    int nm = 0;
    if (allow_all) memset(allow_all, 1, (size_t)R);
    for (int b = 0; b < B; b++)
        for (int ri = 0; ri < R; ri++) {
            size_t i = (size_t)b * R + ri;
            allow[i] = ranks[ri] >= dh || fro[i] <= epsilon * ynorm[b];
            if (!allow[i]) {
                nm++;
                if (allow_all) allow_all[ri] = 0;
            }
        }
    if (n_masked) *n_masked = nm;
    return ST_OK;
}
