/* test_bound: the perturbation bounds of attention/bound.h against an independent
 * double-precision reference (bound_ref.h): the explicit bias-folded forms M_QK and M_VO of
 * each head, truncated through LAPACKE dgesvd of the explicit (plain, or whitened) matrices,
 * and the exact (rank dh) and the rank-r layer outputs (softmax and all) computed in double
 * from the very float factors the bound is given (so the check is exact up to double
 * rounding; the reference itself is checked against mhsa_forward). Checked on thousands of
 * sequences (Gaussian inputs at several scales, LayerNorm-shaped inputs standing in for the
 * hidden states of a trained model, tokens aligned with discarded singular directions, huge
 * outlier tokens, random padding and holes): every row's error <= its bound (tight and
 * cheap, plain and whitened), cheap >= tight, bound 0 at full rank, FLOP counter = closed
 * form, the guardrail mask, the AttnFactors view. Prints the tightness (median of bound /
 * measured error of each sequence's output, Frobenius over kept rows). Half of the batches run
 * under a causal mask (reference and errors causal; each row's bound at most its non-causal
 * bound). The error paths: test_bound_errors.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/bound.h"
#include "attention/factors.h"
#include "core/rng.h"
#include "nn/mhsa.h"
#include "tests/attention/bound_ref.h"
#include "tests/attention/util.h"
#include "tests/check.h"

#define BMAX 4
#define NMAX 136 /* one batch of 2 x 136 per model runs the OpenMP token loops */
#define NCAT 4
static const char *cat_name[NCAT] = {"gaussian", "layernorm", "aligned", "outlier"};

/* ratio samples: [kind 0 plain / 1 whitened][version 0 cheap / 1 tight][category] */
static double *ratios[2][2][NCAT];
static size_t nratio[2][2][NCAT], cap_ratio = 1 << 16;
static long violations[2][2], rows_checked[2][2], seqs_checked[2], causal_checked[2];
static long causal_tighter[2]; /* [cheap / tight]: causal row bounds below the non-causal */

static double min_ratio[2][2][2] = {{{INFINITY, INFINITY}, {INFINITY, INFINITY}},
                                    {{INFINITY, INFINITY}, {INFINITY, INFINITY}}};

/* add_ratio: one bound / error sample; several = more than one kept key (with one key the
 * probabilities cannot change and the value term of the tight bound is exact: ratio ~ 1) */
static void add_ratio(int kind, int ver, int cat, int several, double v) {
    if (v < min_ratio[kind][ver][several]) min_ratio[kind][ver][several] = v;
    if (nratio[kind][ver][cat] < cap_ratio) ratios[kind][ver][cat][nratio[kind][ver][cat]++] = v;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    if (!n) return NAN;
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* make_inputs: x (B, N, d) of category cat, mask (B, N). */
static void make_inputs(float *x, uint8_t *mask, int cat, const Model *m, int B, int N, Rng *r) {
    int d = m->d, D = d + 1, dh = m->dh;
    static const double scales[] = {0.3, 1, 3, 10};
    double sc = scales[rng_below(r, 4)];
    if (cat == 1) {
        tu_ln_inputs(x, B, N, d, 4, m->seed, r);
        if (rng_below(r, 4) == 0)
            for (int i = 0; i < B * N * d; i++) x[i] *= (float)sc;
    } else {
        tu_normal(x, (size_t)B * N * d, (float)sc, r);
    }
    if (cat == 2) { /* tokens along discarded columns: queries a_k, keys b_k, values c_k */
        for (int t = 0; t < B * N; t++) {
            if (rng_below(r, 4) == 0) continue;
            int h = (int)rng_below(r, (uint64_t)m->H);
            int k = dh / 2 + (int)rng_below(r, (uint64_t)(dh - dh / 2));
            const float *f = (rng_below(r, 3) == 0 ? m->fa : rng_below(r, 2) ? m->fb : m->fc) +
                             (size_t)h * D * dh;
            double nrm = 0;
            for (int i = 0; i < d; i++) nrm += (double)f[i * dh + k] * f[i * dh + k];
            double alpha = (1 + 9 * rng_uniform(r)) * sqrt((double)d) / sqrt(nrm + 1e-30);
            if (rng_below(r, 2)) alpha = -alpha;
            for (int i = 0; i < d; i++) x[(size_t)t * d + i] = (float)(alpha * f[i * dh + k]);
        }
    }
    if (cat == 3) /* one huge token per sequence */
        for (int b = 0; b < B; b++) {
            int t = b * N + (int)rng_below(r, (uint64_t)N);
            for (int i = 0; i < d; i++) x[(size_t)t * d + i] *= 30.0f;
        }
    for (int b = 0; b < B; b++) {
        int len = rng_below(r, 8) == 0 ? (int)rng_below(r, (uint64_t)N + 1) : N;
        int holes = rng_below(r, 4) == 0;
        for (int i = 0; i < N; i++)
            mask[b * N + i] = i < len && !(holes && rng_below(r, 5) == 0);
    }
}

/* The buffers of run_model: bound_compute's outputs per version [0 cheap / 1 tight] for up to
   BMAX sequences of NMAX tokens at R = dh + 1 ranks, and the reference's work. */
typedef struct {
    int ranks[64];                             /* (R) 0..dh */
    double *row[2];                            /* (BMAX, R, NMAX) per-row bounds */
    double *fro[2], *mx[2], *mean[2];          /* (BMAX, R) their summaries */
    double *xt, *y0, *yr;                      /* (NMAX, d+1), (NMAX, d) x2 */
    double *err;                               /* (R, NMAX) measured row errors */
    double *nc;                                /* (BMAX, R, NMAX) non-causal row bounds */
    double *tmp;                               /* ref_layer scratch */
} RunBufs;

/* run_bufs_init: the buffers for a model of width d and R ranks; free with run_bufs_free */
static void run_bufs_init(RunBufs *rb, int d, int R) {
    int D = d + 1;
    for (int i = 0; i < R; i++) rb->ranks[i] = i;
    for (int v = 0; v < 2; v++) {
        rb->row[v] = malloc(sizeof(double) * BMAX * R * NMAX);
        rb->fro[v] = malloc(sizeof(double) * BMAX * R);
        rb->mx[v] = malloc(sizeof(double) * BMAX * R);
        rb->mean[v] = malloc(sizeof(double) * BMAX * R);
    }
    rb->xt = malloc(sizeof(double) * NMAX * D), rb->y0 = malloc(sizeof(double) * NMAX * d);
    rb->yr = malloc(sizeof(double) * NMAX * d), rb->err = malloc(sizeof(double) * R * NMAX);
    rb->nc = malloc(sizeof(double) * BMAX * R * NMAX);
    rb->tmp = malloc(sizeof(double) * (NMAX * D + NMAX * NMAX + NMAX * d));
}

static void run_bufs_free(RunBufs *rb) {
    free(rb->xt), free(rb->y0), free(rb->yr), free(rb->err), free(rb->tmp), free(rb->nc);
    for (int v = 0; v < 2; v++)
        free(rb->row[v]), free(rb->fro[v]), free(rb->mx[v]), free(rb->mean[v]);
}

/* check_rank_rows: sequence b (keep (N)) at rank ri, rb->yr holding its rank-ri output and
   rb->y0 the exact one: every row's error within both bounds (violations counted), tight <=
   cheap, both 0 at full rank; the row errors go to rb->err. Returns the squared Frobenius
   error over kept rows. */
static double check_rank_rows(const Model *m, RunBufs *rb, const uint8_t *keep, int b, int N,
                              int ri, int cat) {
    int d = m->d, dh = m->dh, R = dh + 1;
    const double *yr = rb->yr, *y0 = rb->y0;
    double *const *row = rb->row, *err = rb->err;
    double ef = 0;
    for (int i = 0; i < N; i++) {
        double e2 = 0, yn = 0;
        for (int c = 0; c < d; c++) {
            double df = ri < dh ? yr[i * d + c] - y0[i * d + c] : 0;
            e2 += df * df, yn += y0[i * d + c] * y0[i * d + c];
        }
        err[ri * N + i] = sqrt(e2);
        if (keep[i]) ef += e2;
        for (int v = 0; v < 2; v++) {
            double bd = row[v][((size_t)b * R + ri) * N + i];
            rows_checked[m->whiten][v]++;
            if (!(sqrt(e2) <= bd * (1 + 1e-9) + 1e-12 * (1 + sqrt(yn)))) {
                if (violations[m->whiten][v]++ < 5)
                    fprintf(stderr, "violation (%s, %s, %s): N %d rank %d row %d: "
                            "error %.6g > bound %.6g\n",
                            m->whiten ? "whitened" : "plain", v ? "tight" : "cheap",
                            cat_name[cat], N, ri, i, sqrt(e2), bd);
            }
        }
        double bt = row[1][((size_t)b * R + ri) * N + i],
               bc = row[0][((size_t)b * R + ri) * N + i];
        CHECK(bt <= bc * (1 + 1e-12), "tight %.9g > cheap %.9g", bt, bc);
        if (ri == dh) CHECK(bt == 0 && bc == 0, "full rank bound %g %g", bt, bc);
    }
    return ef;
}

/* check_summaries: the per-sequence summaries (Frobenius, max, mean over kept rows) of sequence
   b at rank ri equal those of its row bounds; the bound / error ratios are recorded */
static void check_summaries(const Model *m, const RunBufs *rb, const uint8_t *keep, int b, int N,
                            int ri, int cat, int nkeep, double ef, double y0n) {
    int dh = m->dh, R = dh + 1;
    double *const *row = rb->row, *const *fro = rb->fro, *const *mx = rb->mx,
                  *const *mean = rb->mean;
    for (int v = 0; v < 2; v++) {
        size_t bi = (size_t)b * R + ri;
        double s2 = 0, mxx = 0, sm = 0;
        for (int i = 0; i < N; i++)
            if (keep[i]) {
                double bd = row[v][bi * N + i];
                s2 += bd * bd, sm += bd, mxx = bd > mxx ? bd : mxx;
            }
        CHECK(fabs(fro[v][bi] - sqrt(s2)) <= 1e-12 * sqrt(s2) &&
                  mx[v][bi] == mxx && fabs(mean[v][bi] - (nkeep ? sm / nkeep : 0)) <=
                      1e-12 * sm,
              "summaries b %d rank %d", b, ri);
        if (ri < dh && nkeep > 0 && ef > 1e-12 * (1 + y0n))
            add_ratio(m->whiten, v, cat, nkeep > 1, fro[v][bi] / ef);
    }
}

/* check_guardrail: the ranks bound_mask allows for sequence b keep the relative error of its
   output (exact norm y0n) under epsilon; one sequence: allow_all == allow */
static void check_guardrail(const Model *m, const RunBufs *rb, const uint8_t *keep, int b, int N,
                            double y0n) {
    int dh = m->dh, R = dh + 1;
    const double *err = rb->err;
    Err e;
    double ynorm = y0n;
    uint8_t allow[BMAX * 64], all[64];
    int nm = -1;
    double eps = 0.05;
    CHECK(bound_mask(allow, all, &nm, rb->fro[1] + (size_t)b * R, &ynorm, rb->ranks, R, 1, dh,
                     eps, &e) == ST_OK,
          "%s", e.msg);
    CHECK(allow[dh] == 1, "full rank masked");
    for (int ri = 0; ri < R; ri++) {
        CHECK(all[ri] == allow[ri], "allow_all with one sequence");
        if (!allow[ri]) continue;
        double ef = 0;
        for (int i = 0; i < N; i++) ef += keep[i] ? err[ri * N + i] * err[ri * N + i] : 0;
        CHECK(sqrt(ef) <= eps * ynorm * (1 + 1e-9) + 1e-12, "allowed rank %d rel err %g",
              ri, sqrt(ef) / ynorm);
    }
}

/* check_sequence: sequence b of a batch (x (N, d), keep (N); causal: the causal mask too)
   against the reference at every rank; its bounds are in rb */
static void check_sequence(const Model *m, RunBufs *rb, const float *x, const uint8_t *keep,
                           int causal, int b, int N, int cat) {
    int d = m->d, D = d + 1, dh = m->dh, R = dh + 1;
    double *xt = rb->xt, *y0 = rb->y0;
    int nkeep = 0;
    for (int i = 0; i < N; i++) nkeep += keep[i];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < d; k++) xt[i * D + k] = x[(size_t)i * d + k];
        xt[i * D + d] = 1;
    }
    ref_layer(y0, xt, keep, causal, N, m, dh, rb->tmp);
    double y0n = 0;
    for (int i = 0; i < N; i++)
        for (int c = 0; c < d; c++) y0n += keep[i] ? y0[i * d + c] * y0[i * d + c] : 0;
    y0n = sqrt(y0n);
    for (int ri = 0; ri < R; ri++) {
        if (ri < dh) ref_layer(rb->yr, xt, keep, causal, N, m, ri, rb->tmp);
        double ef = sqrt(check_rank_rows(m, rb, keep, b, N, ri, cat));
        check_summaries(m, rb, keep, b, N, ri, cat, nkeep, ef, y0n);
    }
    check_guardrail(m, rb, keep, b, N, y0n);
}

/* run_model: many batches through one model; checks every row. Every other group of NCAT
   batches (each category once) runs under a causal mask: the reference and the measured
   errors are causal, and each causal row bound is at most the non-causal one (bound.c,
   step 6: prefix maxima). */
static void run_model(const Model *m, int nbatch, int big, Rng *r) {
    int d = m->d, D = d + 1, dh = m->dh, H = m->H, R = dh + 1;
    RunBufs rb;
    run_bufs_init(&rb, d, R);
    Err e;
    MemPlan plan;
    BoundLayer bl;
    BoundWork w;
    bound_plan_alloc(&plan, &bl, &w, d, H, dh, BMAX, NMAX, R);
    BoundFactors f = {m->fa, m->fb, m->fc, m->fd, dh, (size_t)D * dh, (size_t)d * dh};
    CHECK(bound_layer_prepare(&bl, &f, &e) == ST_OK, "%s", e.msg);
    float *x = malloc(sizeof(float) * BMAX * NMAX * d);
    uint8_t *mask = malloc(BMAX * NMAX);
    static const int Ns[] = {1, 2, 3, 5, 8, 13, 21, 33};
    for (int it = 0; it < nbatch; it++) {
        int N = Ns[rng_below(r, 8)], B = 1 + (int)rng_below(r, BMAX), cat = it % NCAT;
        if (it == 0 && big) N = NMAX, B = 2;
        make_inputs(x, mask, cat, m, B, N, r);
        const int causal = (it / NCAT) % 2;
        AttnMask am = causal ? attn_mask_causal(attn_mask_u8(mask)) : attn_mask_u8(mask);
        for (int v = 0; v < 2; v++) {
            BoundOut out = {rb.row[v], rb.fro[v], rb.mx[v], rb.mean[v], NULL};
            int64_t fl = 0;
            CHECK(bound_compute(&out, &w, &fl, x, am, &bl, (BoundKind)v, rb.ranks, R, B, N, &e) ==
                      ST_OK, "%s", e.msg);
            CHECK(fl == bound_flops((BoundKind)v, B, N, d, H, R), "flops %lld vs %lld",
                  (long long)fl, (long long)bound_flops((BoundKind)v, B, N, d, H, R));
            if (!causal) continue;
            /* causal rows take maxima over fewer keys: never above the non-causal bound */
            BoundOut nco = {rb.nc, NULL, NULL, NULL, NULL};
            CHECK(bound_compute(&nco, &w, NULL, x, attn_mask_u8(mask), &bl, (BoundKind)v,
                                rb.ranks, R, B, N, &e) == ST_OK, "%s", e.msg);
            for (size_t i = 0; i < (size_t)B * R * N; i++) {
                CHECK(rb.row[v][i] <= rb.nc[i], "causal row bound %.9g above the non-causal "
                      "%.9g", rb.row[v][i], rb.nc[i]);
                causal_tighter[v] += rb.row[v][i] < rb.nc[i];
            }
        }
        for (int b = 0; b < B; b++)
            check_sequence(m, &rb, x + (size_t)b * N * d, mask + b * N, causal, b, N, cat);
        seqs_checked[m->whiten] += B;
        causal_checked[m->whiten] += causal ? B : 0;
    }
    free(x), free(mask);
    run_bufs_free(&rb);
    mem_plan_free(&plan);
}

/* check_reference: the double reference (exact forms) + bo equals mhsa_forward. */
static void check_reference(const Model *m, const MhsaParams *p, Rng *r) {
    int d = m->d, D = d + 1, N = 7, H = m->H;
    float *x = malloc(sizeof(float) * N * d), *y = malloc(sizeof(float) * N * d);
    uint8_t keep[7] = {1, 1, 0, 1, 1, 1, 0};
    int32_t km[7];
    for (int i = 0; i < N; i++) km[i] = keep[i];
    tu_normal(x, (size_t)N * d, 1.0f, r);
    MemPlan plan;
    MhsaActs acts;
    Err e;
    mem_plan_init(&plan);
    mhsa_plan(&plan, &acts, NULL, "ref", 1, N, d, H, 1, 0);
    CHECK(mem_plan_alloc(&plan, &e) == ST_OK, "%s", e.msg);
    mhsa_forward(y, &acts, x, attn_mask_i32(km), p, 1, N, d, H);
    double *xt = malloc(sizeof(double) * N * D), *yr = malloc(sizeof(double) * N * d);
    double *tmp = malloc(sizeof(double) * (N * D + N * N + N * d));
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < d; k++) xt[i * D + k] = x[i * d + k];
        xt[i * D + d] = 1;
    }
    ref_layer(yr, xt, keep, 0, N, m, m->dh, tmp);
    double num = 0, den = 0;
    for (int i = 0; i < N * d; i++) {
        double t = yr[i] + p->bo[i % d];
        num += (t - y[i]) * (t - y[i]), den += t * t;
    }
    CHECK(sqrt(num / den) < 1e-5, "reference vs mhsa_forward rel err %g", sqrt(num / den));
    free(x), free(y), free(xt), free(yr), free(tmp);
    mem_plan_free(&plan);
}

/* check_views: the (rows, H*dh) layout and attn_factors_compute's factors give the same
 * bounds as the test's own (H, rows, dh) factors (up to float rounding of the SVDs). */
static void check_views(const Model *m, const MhsaParams *p, Rng *r) {
    int d = m->d, D = d + 1, H = m->H, dh = m->dh, B = 2, N = 9, R = dh + 1;
    int ranks[64];
    for (int i = 0; i < R; i++) ranks[i] = i;
    Err e;
    MemPlan plan;
    mem_plan_init(&plan);
    BoundLayer bl[3];
    BoundWork w;
    for (int v = 0; v < 3; v++) bound_layer_plan(&plan, &bl[v], d, H, dh);
    bound_work_plan(&plan, &w, B, N, R, dh);
    CHECK(mem_plan_alloc(&plan, &e) == ST_OK, "%s", e.msg);
    float *wide = malloc(sizeof(float) * (3 * D + d) * H * dh);
    float *wa = wide, *wb = wa + D * H * dh, *wc = wb + D * H * dh, *wd = wc + D * H * dh;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < D; i++)
            for (int k = 0; k < dh; k++) {
                size_t src = ((size_t)h * D + i) * dh + k, dst = (size_t)i * H * dh + h * dh + k;
                wa[dst] = m->fa[src], wb[dst] = m->fb[src], wc[dst] = m->fc[src];
                if (i < d) wd[dst] = m->fd[((size_t)h * d + i) * dh + k];
            }
    BoundFactors f0 = {m->fa, m->fb, m->fc, m->fd, dh, (size_t)D * dh, (size_t)d * dh};
    BoundFactors f1 = {wa, wb, wc, wd, H * dh, (size_t)dh, (size_t)dh};
    AttnFactors af;
    CHECK(attn_factors_init(&af, d, H, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_compute(&af, p, m->whiten ? m->L : NULL, m->whiten ? 1e-3 : 0, NULL, &e) ==
              ST_OK, "%s", e.msg);
    BoundFactors f2 = bound_factors_attn(&af);
    CHECK(bound_layer_prepare(&bl[0], &f0, &e) == ST_OK, "%s", e.msg);
    CHECK(bound_layer_prepare(&bl[1], &f1, &e) == ST_OK, "%s", e.msg);
    CHECK(bound_layer_prepare(&bl[2], &f2, &e) == ST_OK, "%s", e.msg);
    float *x = malloc(sizeof(float) * B * N * d);
    tu_normal(x, (size_t)B * N * d, 1.0f, r);
    double *rows[3];
    for (int v = 0; v < 3; v++) rows[v] = malloc(sizeof(double) * B * R * N);
    for (int kind = 0; kind < 2; kind++) {
        for (int v = 0; v < 3; v++) {
            BoundOut out = {rows[v], NULL, NULL, NULL, NULL};
            CHECK(bound_compute(&out, &w, NULL, x, attn_mask_none(), &bl[v], (BoundKind)kind,
                                ranks, R, B, N, &e) == ST_OK, "%s", e.msg);
        }
        double worst = 0;
        for (int i = 0; i < B * R * N; i++) {
            CHECK(rows[0][i] == rows[1][i], "layouts differ at %d: %.9g vs %.9g", i, rows[0][i],
                  rows[1][i]);
            double rel = fabs(rows[2][i] - rows[0][i]) / (rows[0][i] + 1e-30);
            if (rows[0][i] > 0 && rel > worst) worst = rel;
        }
        CHECK(worst < 1e-3, "AttnFactors view (%s, %s): bounds differ by %g relative",
              m->whiten ? "whitened" : "plain", kind ? "tight" : "cheap", worst);
        /* a grid subset in any order gives the same rows as the full grid */
        int sub[3] = {dh, 2, 0};
        BoundOut out = {rows[1], NULL, NULL, NULL, NULL};
        CHECK(bound_compute(&out, &w, NULL, x, attn_mask_none(), &bl[0], (BoundKind)kind, sub, 3,
                            B, N, &e) == ST_OK, "%s", e.msg);
        for (int b = 0; b < B; b++)
            for (int si = 0; si < 3; si++)
                for (int i = 0; i < N; i++)
                    CHECK(rows[1][((size_t)b * 3 + si) * N + i] ==
                              rows[0][((size_t)b * R + sub[si]) * N + i],
                          "rank subset differs (b %d rank %d row %d)", b, sub[si], i);
    }
    attn_factors_free(&af);
    for (int v = 0; v < 3; v++) free(rows[v]);
    free(wide), free(x);
    mem_plan_free(&plan);
}

int main(void) {
    static const int cfg[][2] = {{16, 2}, {24, 4}, {32, 4}, {32, 2}};
    for (int k = 0; k < 2; k++)
        for (int v = 0; v < 2; v++)
            for (int c = 0; c < NCAT; c++) ratios[k][v][c] = malloc(sizeof(double) * cap_ratio);
    Rng r;
    rng_init(&r, 20240531, 4);
    int nmodels = 3, nbatch = 70;
    for (int ci = 0; ci < 4; ci++)
        for (int mi = 0; mi < nmodels; mi++) {
            int d = cfg[ci][0], H = cfg[ci][1];
            float *buf = malloc(sizeof(float) * (4 * d * d + 4 * d));
            MhsaParams p;
            tu_params(&p, buf, d, &r, 1.0f, mi == 0 ? 0.0f : 0.5f);
            int nc = 512;
            float *xc = malloc(sizeof(float) * nc * d);
            uint64_t seed = 1000 + 10 * ci + mi;
            tu_ln_inputs(xc, 1, nc, d, 4, seed, &r);
            for (int wh = 0; wh < 2; wh++) {
                Model m;
                model_build(&m, &p, xc, nc, d, H, wh);
                m.seed = seed;
                if (mi == 0) check_reference(&m, &p, &r);
                if (mi == 0) check_views(&m, &p, &r);
                run_model(&m, nbatch, mi == 0 && ci == 0, &r);
                model_free(&m);
            }
            free(buf), free(xc);
        }
    printf("test_bound: sequences checked: plain %ld, whitened %ld (under a causal mask: %ld, "
           "%ld)\n", seqs_checked[0], seqs_checked[1], causal_checked[0], causal_checked[1]);
    CHECK(causal_checked[0] > 0 && causal_checked[1] > 0, "no causal sequence checked");
    printf("causal row bounds below the non-causal ones: cheap %ld, tight %ld\n",
           causal_tighter[0], causal_tighter[1]);
    CHECK(causal_tighter[0] > 0 && causal_tighter[1] > 0, "causal bounds never tighter");
    printf("tightness: median over sequences and ranks r < dh of (bound on ||Y_r - Y||_F) / "
           "(measured ||Y_r - Y||_F)\n");
    printf("%-9s %-6s %-10s %8s %12s\n", "factors", "bound", "inputs", "samples", "median");
    for (int k = 0; k < 2; k++)
        for (int v = 1; v >= 0; v--) {
            size_t nall = 0;
            double *all = malloc(sizeof(double) * NCAT * cap_ratio);
            for (int c = 0; c < NCAT; c++) {
                memcpy(all + nall, ratios[k][v][c], sizeof(double) * nratio[k][v][c]);
                nall += nratio[k][v][c];
                printf("%-9s %-6s %-10s %8zu %12.4g\n", k ? "whitened" : "plain",
                       v ? "tight" : "cheap", cat_name[c], nratio[k][v][c],
                       median(ratios[k][v][c], nratio[k][v][c]));
            }
            printf("%-9s %-6s %-10s %8zu %12.4g   (smallest: %.4g with one kept key, %.4g with "
                   "more)\n", k ? "whitened" : "plain", v ? "tight" : "cheap", "all", nall,
                   median(all, nall), min_ratio[k][v][0], min_ratio[k][v][1]);
            free(all);
        }
    for (int k = 0; k < 2; k++)
        for (int v = 0; v < 2; v++) {
            printf("violations (%s, %s): %ld of %ld rows\n", k ? "whitened" : "plain",
                   v ? "tight" : "cheap", violations[k][v], rows_checked[k][v]);
            CHECK(violations[k][v] == 0, "%ld violations", violations[k][v]);
        }
    for (int k = 0; k < 2; k++)
        for (int v = 0; v < 2; v++)
            for (int c = 0; c < NCAT; c++) free(ratios[k][v][c]);
    return check_exit("test_bound");
}
