/* signals_pass.c: the passes of one batch of drrl-signals (signals_pass.h). Every attention
 * runs per sequence (ranked_layer_each, ranked_attend_each, ranked_teacher_each: B = 1 on its
 * real rows), so counted FLOPs and seconds are each input's own; the bounds run batched
 * (their summaries are per sequence over its real rows) and are counted by bound_flops'
 * closed form on each sequence's real rows. */
#include "eval/signals_pass.h"

#include <math.h>
#include <string.h>

#include "core/timer.h"
#include "nn/linear.h"
#include "nn/logits.h"

/* the result row of the batch's sequence b */
static int row_of(const SigCtx *x, int b) { return x->order[x->at + b]; }

static double *val(SigCtx *x, int sig, int b) {
    return &x->res->val[(size_t)sig * x->res->n + row_of(x, b)];
}

static void add_cost(SigCtx *x, int sig, int64_t flops, double sec) {
    x->res->def[sig].flops += flops, x->res->def[sig].sec += sec;
}

/* one layer at rank (RANKED_FULL: exact) per sequence, FLOPs into mode column m */
static Status layer_at(SigCtx *x, int rank, int m, Err *e) {
    Ranked *R = x->R;
    for (int b = 0; b < R->B; b++) x->rk[b] = rank;
    Status s = ranked_layer_each(R, RANK_WHITENED, 0, x->rk, x->fl, NULL, e);
    for (int b = 0; b < R->B && !s; b++)
        x->res->flops[(size_t)row_of(x, b) * x->res->M + m] += attn_flops_total(&x->fl[b]);
    return s;
}

/* the head after the current layer (its output in R->x) into margin / entropy signals */
static void head_after(SigCtx *x, int sig_m, int sig_e) {
    Ranked *R = x->R;
    const double t0 = time_now();
    for (int b = 0; b < R->B; b++)
        sig_head(R->m, R->x + (size_t)b * R->N * R->C, x->work, val(x, sig_m, b), val(x, sig_e, b));
    const double dt = time_now() - t0;
    const int64_t f = sig_head_flops(R->C, R->K) * R->B;
    add_cost(x, sig_m, f, dt), add_cost(x, sig_e, f, dt);
}

/* KL of the pass's logits against the full pass's into mode column m */
static void kl_into(SigCtx *x, int m) {
    Ranked *R = x->R;
    for (int b = 0; b < R->B; b++) {
        const size_t i = (size_t)row_of(x, b) * x->res->M + m;
        x->res->kl[i] = logits_kl(x->zfull + (size_t)b * R->K, R->logits + (size_t)b * R->K, R->K);
        x->res->pred[i] = logits_argmax(R->logits + (size_t)b * R->K, R->K);
    }
}

Status sig_pass_full(SigCtx *x, const int32_t *ids, const uint8_t *mask, int B, int N, Err *e) {
    Ranked *R = x->R;
    const size_t BNC = (size_t)B * N * R->C, stride = (size_t)R->max_B * R->max_N * R->C;
    const double t0 = time_now();
    Status s = ranked_begin(R, ids, NULL, mask, B, N, e);
    for (int l = 0; l < R->L && !s; l++) {
        memcpy(x->xfull + l * stride, R->x, sizeof(float) * BNC);
        s = layer_at(x, RANKED_FULL, x->res->M - 1, e);
        if (!s) head_after(x, x->full_m + l, x->full_e + l);
    }
    if (!s) memcpy(x->xfull + R->L * stride, R->x, sizeof(float) * BNC);
    if (!s) s = ranked_end(R, e);
    if (s) return s;
    x->res->full_sec += time_now() - t0;
    memcpy(x->zfull, R->logits, sizeof(float) * (size_t)B * R->K);
    for (int b = 0; b < B; b++) {
        const double p = logits_top_prob(R->logits + (size_t)b * R->K, R->K);
        *val(x, x->full_pq, b) = p * (1 - p);
        const int n = ranked_seq_len(R, b), i = row_of(x, b), M = x->res->M;
        x->res->pred[(size_t)i * M + M - 1] = logits_argmax(R->logits + (size_t)b * R->K, R->K);
        const int64_t rest = (int64_t)R->L * (linear_flops(n, R->C, R->F) +
                                              linear_bias_flops(n, R->F) +
                                              linear_flops(n, R->F, R->C) +
                                              linear_bias_flops(n, R->C)) +
                             linear_flops(1, R->C, R->C) + linear_bias_flops(1, R->C) +
                             linear_flops(1, R->C, R->K) + linear_bias_flops(1, R->K);
        x->res->rest[i] = rest;
        x->res->feat[i] = R->L * (sig_head_flops(R->C, R->K) + sig_rownorm_flops(n, R->C));
        x->res->fwd_flops += rest + x->res->flops[(size_t)i * M + M - 1];
    }
    return ST_OK;
}

/* the input-side signals of layer l on R->x: row norms, exact energy, sketch, deviation */
static void input_signals(SigCtx *x, int l) {
    Ranked *R = x->R;
    const int r = x->res->ranks[0];
    const size_t stride = (size_t)R->max_B * R->max_N * R->C;
    for (int b = 0; b < R->B; b++) {
        const int n = ranked_seq_len(R, b);
        const float *xb = R->x + (size_t)b * R->N * R->C;
        double t0 = time_now();
        sig_rownorm(xb, n, R->C, val(x, x->rn_mean + l, b), val(x, x->rn_std + l, b));
        double t1 = time_now();
        const int64_t fr = sig_rownorm_flops(n, R->C);
        add_cost(x, x->rn_mean + l, fr, t1 - t0), add_cost(x, x->rn_std + l, fr, t1 - t0);
        double sh[3];
        sig_energy(&R->white[l], xb, n, r, x->work, sh);
        t0 = time_now();
        const int64_t fe = sig_energy_flops(n, R->C, R->H, R->dh);
        for (int sd = 0; sd < 3; sd++) { /* one call measures the three sides: a third each */
            *val(x, x->energy + 3 * l + sd, b) = sh[sd];
            add_cost(x, x->energy + 3 * l + sd, fe, (t0 - t1) / 3);
        }
        t0 = time_now();
        *val(x, x->sketch + l, b) = sig_sketch(&x->sk, l, xb, n, x->work);
        t1 = time_now();
        add_cost(x, x->sketch + l, sig_sketch_flops(&x->sk, n), t1 - t0);
        if (l > 0) {
            const float *fb = x->xfull + l * stride + (size_t)b * R->N * R->C;
            *val(x, x->dev + l - 1, b) = sig_relerr(xb, fb, n, R->C);
            add_cost(x, x->dev + l - 1, sig_relerr_flops(n, R->C), time_now() - t1);
        }
    }
}

/* the tight bounds at every rank of the list on R->x, over ||x||_F and over the exact
   attention output's norm (the teacher, per sequence) */
static Status bound_signals(SigCtx *x, int l, Err *e) {
    Ranked *R = x->R;
    SigResult *res = x->res;
    const int nr = res->nr;
    BoundOut bo = {NULL, x->fro, NULL, NULL, NULL};
    double t0 = time_now();
    Status s = ranked_bound(R, RANK_WHITENED, BOUND_TIGHT, res->ranks, nr, &bo, e);
    const double tb = time_now() - t0;
    if (!s) s = ranked_teacher_each(R, x->fl, x->sec, e);
    if (s) return s;
    bound_ynorm(x->yn, R->teacher, attn_mask_u8(R->mask), R->B, R->N, R->C);
    for (int b = 0; b < R->B; b++) {
        const int n = ranked_seq_len(R, b);
        const float *xb = R->x + (size_t)b * R->N * R->C;
        double xx = 0;
        for (size_t i = 0; i < (size_t)n * R->C; i++) xx += (double)xb[i] * xb[i];
        const double xn = sqrt(xx);
        const int64_t fb = bound_flops(BOUND_TIGHT, 1, n, R->C, R->H, nr) + 2 * (int64_t)n * R->C;
        const int64_t ft = attn_flops_total(&x->fl[b]);
        const double sb = tb / R->B;
        for (int k = 0; k < nr; k++) {
            const double fro = x->fro[(size_t)b * nr + k];
            const double ri = log10(fmax(xn > 0 ? fro / xn : 0.0, 1e-30));
            const double ro = log10(fmax(x->yn[b] > 0 ? fro / x->yn[b] : 0.0, 1e-30));
            if (k == 0) {
                *val(x, x->rho_in + l, b) = ri, *val(x, x->rho_out + l, b) = ro;
                add_cost(x, x->rho_in + l, fb, sb);
                add_cost(x, x->rho_out + l, fb + ft, sb + x->sec[b]);
            }
            *val(x, x->rho_in_r + k, b) += ri / R->L, *val(x, x->rho_out_r + k, b) += ro / R->L;
        }
    }
    return ST_OK;
}

/* change of layer l's attention between r_a (then in R->att) and r_b (in x->side) */
static void change_signal(SigCtx *x, int l) {
    Ranked *R = x->R;
    const double t0 = time_now();
    for (int b = 0; b < R->B; b++) {
        const size_t off = (size_t)b * R->N * R->C;
        const int n = ranked_seq_len(R, b);
        *val(x, x->change + l, b) = sig_relerr(R->att + off, x->side + off, n, R->C);
        add_cost(x, x->change + l, attn_flops_total(&x->fl_side[b]) + sig_relerr_flops(n, R->C),
                 x->sec_side[b]);
    }
    add_cost(x, x->change + l, 0, time_now() - t0);
}

Status sig_pass_cheap(SigCtx *x, const int32_t *ids, const uint8_t *mask, int B, int N, Err *e) {
    Ranked *R = x->R;
    SigResult *res = x->res;
    const int ra = res->ranks[0], rb = res->ranks[1];
    const size_t stride = (size_t)R->max_B * R->max_N * R->C;
    Status s = ranked_begin(R, ids, NULL, mask, B, N, e);
    for (int l = 0; l < R->L && !s; l++) {
        input_signals(x, l);
        s = bound_signals(x, l, e);
        if (!s) s = ranked_attend_each(R, RANK_WHITENED, rb, x->side, x->fl_side, x->sec_side, e);
        if (!s) s = layer_at(x, ra, 0, e);
        if (s) break;
        change_signal(x, l);
        head_after(x, x->head_m + l, x->head_e + l);
    }
    if (s) return s;
    const double t0 = time_now();
    for (int b = 0; b < B; b++) { /* the last hidden state against the full pass's */
        const int n = ranked_seq_len(R, b);
        const size_t off = (size_t)b * N * R->C;
        *val(x, x->dev + R->L - 1, b) =
            sig_relerr(R->x + off, x->xfull + R->L * stride + off, n, R->C);
        add_cost(x, x->dev + R->L - 1, sig_relerr_flops(n, R->C), 0);
    }
    add_cost(x, x->dev + R->L - 1, 0, time_now() - t0);
    if ((s = ranked_end(R, e))) return s;
    kl_into(x, 0);
    for (int b = 0; b < B; b++) *val(x, x->kl_cheap, b) = res->kl[(size_t)row_of(x, b) * res->M];
    return ST_OK;
}

Status sig_pass_rank(SigCtx *x, const int32_t *ids, const uint8_t *mask, int B, int N, int k,
                     Err *e) {
    Ranked *R = x->R;
    Status s = ranked_begin(R, ids, NULL, mask, B, N, e);
    for (int l = 0; l < R->L && !s; l++) s = layer_at(x, x->res->ranks[k], k, e);
    if (!s) s = ranked_end(R, e);
    if (!s) kl_into(x, k);
    return s;
}
