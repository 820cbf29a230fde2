/* test_attention_grad.c: the attention block (nn/attention.h) against independent naive
 * double-precision code:
 *   - forward vs a naive double forward (B=2, N=7, H=3, dh=5, padded keys in one sequence,
 *     one fully padded sequence in a second case);
 *   - masked keys get probability exactly 0, a row with no valid key gives zeros, and the
 *     dK/dV rows of masked keys are exactly 0;
 *   - backward vs central finite differences of the double forward (h = 1e-5) for every
 *     element of q, k, v;
 *   - the accumulate (+=) convention, int32 vs uint8 masks, the inference path (att NULL,
 *     scores in scratch) with one or several scratch slices, a larger case where the
 *     (b, h) pairs are split across threads, a saturated softmax (score gaps of hundreds),
 *     no mask == all-ones mask, and attention_flops;
 *   - dropout on the probabilities (attention_forward_dropout / _backward_dropout): forward
 *     vs the naive double forward with the same keep mask, backward vs finite differences,
 *     dropped and masked entries of P' exactly 0, and keep-all with p = 0 equal to the plain
 *     attention (forward bit for bit, backward to float rounding).
 *
 * Tolerances (GRAD_TOL, FWD_RTOL, FWD_ATOL) and their derivation: attn_grad_util.h, shared
 * with the self-attention layer's test, test_mhsa_grad.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/attention.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/nn/attn_grad_util.h"
#include "tests/ref.h"

/* ---------------------------------------------------------------- attention block */

typedef struct {
    int B, N, H, dh;
    const uint8_t *mask;
    const double *q, *k, *v, *g; /* g: the fixed upstream gradient, L = sum(out .* g) */
    double *out;                 /* (B, N, C) work */
    double *s;                   /* (N) scratch */
} AttnLoss;

static double attn_loss(const AttnLoss *a) {
    size_t n = (size_t)a->B * a->N * a->H * a->dh;
    ref_attention(a->out, NULL, a->q, a->k, a->v, a->mask, NULL, a->s, a->B, a->N, a->H,
                  a->dh);
    return ref_dot(a->out, a->g, n);
}

/* attn_loss_fd: attn_loss through the FdLossFn signature of tests/fd.h */
static double attn_loss_fd(void *ctx) { return attn_loss(ctx); }

/* check_prob_rows: masked keys get probability exactly 0 in P (B, H, N, N); its rows sum to 1
   (or are all 0 in a sequence without valid keys, mask (B, N)) */
static void check_prob_rows(const float *att, const int32_t *mask, int B, int H, int N) {
    int masked_nonzero = 0, badsum = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                const float *row = att + (((size_t)b * H + h) * N + i) * N;
                double s = 0;
                int any = 0;
                for (int j = 0; j < N; j++) {
                    if (!mask[b * N + j] && row[j] != 0.0f) masked_nonzero++;
                    any |= mask[b * N + j];
                    s += row[j];
                }
                if (fabs(s - (any ? 1.0 : 0.0)) > 1e-6) badsum++;
            }
    CHECK(masked_nonzero == 0, "%d masked probabilities are not exactly 0", masked_nonzero);
    CHECK(badsum == 0, "%d probability rows do not sum to 1 (or 0 when fully padded)", badsum);
}

/* check_naive_backward: the naive double backward of g (B, N, C) through P agrees with the
   finite differences fq, fk, fv (B, N, C) of the loss at q, k, v too (it is the reference for
   the larger case below) */
static void check_naive_backward(const double *fq, const double *fk, const double *fv,
                                 const double *g, const double *P, const double *q,
                                 const double *k, const double *v, int B, int N, int H,
                                 int dh) {
    const size_t n = (size_t)B * N * H * dh;
    double *rq = calloc(n, sizeof(double)), *rk = calloc(n, sizeof(double)),
           *rv = calloc(n, sizeof(double));
    ref_attention_backward(rq, rk, rv, g, P, q, k, v, B, N, H, dh);
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs(rq[i] - fq[i]));
        e = fmax(e, fabs(rk[i] - fk[i]));
        e = fmax(e, fabs(rv[i] - fv[i]));
    }
    CHECK(e < 1e-7, "naive double backward vs finite differences: %g", e);
    free(rq);
    free(rk);
    free(rv);
}

/* check_accumulate: dq, dk, dv (B, N, C) hold one attention_backward; a second call adds the
   same gradient again, so dq and dv end at twice the first (+= convention) */
static void check_accumulate(float *dq, float *dk, float *dv, float *scratch, size_t slen,
                             const float *g, const float *att, const float *q, const float *k,
                             const float *v, int B, int N, int H, int dh) {
    const size_t n = (size_t)B * N * H * dh;
    float *dq1 = malloc(sizeof(float) * n);
    memcpy(dq1, dq, sizeof(float) * n);
    float *dv1 = malloc(sizeof(float) * n);
    memcpy(dv1, dv, sizeof(float) * n);
    attention_backward(dq, dk, dv, scratch, slen, g, att, q, k, v, B, N, H, dh);
    int badacc = count_not_doubled(dq, dq1, n) + count_not_doubled(dv, dv1, n);
    CHECK(badacc == 0, "backward accumulates (+=): %d entries are not twice the first", badacc);
    free(dq1), free(dv1);
}

/* AttnInputs: one case of the attention block: q, k, v and the upstream gradient g (B, N, C)
   drawn N(0, 1) in that order, their double copies qd, kd, vd, gd, the float gradients dq, dk,
   dv (B, N, C) zeroed, and the backward's scratch (slen floats, every thread's slice) */
typedef struct {
    int B, N, H, dh;
    size_t n, nn; /* B N C and B H N N */
    float *q, *k, *v, *g, *dq, *dk, *dv, *scratch;
    double *qd, *kd, *vd, *gd;
    size_t slen;
} AttnInputs;

static void attn_inputs_init(AttnInputs *t, Rng *r, int B, int N, int H, int dh) {
    t->B = B, t->N = N, t->H = H, t->dh = dh;
    t->n = (size_t)B * N * H * dh, t->nn = (size_t)B * H * N * N;
    size_t n = t->n;
    t->q = malloc(sizeof(float) * n), t->k = malloc(sizeof(float) * n);
    t->v = malloc(sizeof(float) * n), t->g = malloc(sizeof(float) * n);
    t->dq = calloc(n, sizeof(float)), t->dk = calloc(n, sizeof(float));
    t->dv = calloc(n, sizeof(float));
    t->slen = attention_scratch_size(N, attention_max_threads());
    t->scratch = malloc(sizeof(float) * t->slen);
    fill_normal(r, t->q, n, 1.0);
    fill_normal(r, t->k, n, 1.0);
    fill_normal(r, t->v, n, 1.0);
    fill_normal(r, t->g, n, 1.0);
    t->qd = malloc(sizeof(double) * n), t->kd = malloc(sizeof(double) * n);
    t->vd = malloc(sizeof(double) * n), t->gd = malloc(sizeof(double) * n);
    ref_to_double(t->qd, t->q, n), ref_to_double(t->kd, t->k, n);
    ref_to_double(t->vd, t->v, n), ref_to_double(t->gd, t->g, n);
}

static void attn_inputs_free(AttnInputs *t) {
    free(t->q), free(t->k), free(t->v), free(t->g), free(t->dq), free(t->dk), free(t->dv);
    free(t->scratch), free(t->qd), free(t->kd), free(t->vd), free(t->gd);
}

/* check_fd_grads: dq, dk, dv of t against central finite differences fq, fk, fv (filled here)
   of loss at qd, kd, vd; prints the worst scaled errors after label */
static void check_fd_grads(const AttnInputs *t, double *fq, double *fk, double *fv,
                           FdLossFn loss, void *ctx, const char *dq_name, const char *dk_name,
                           const char *dv_name, const char *label) {
    fd_grad(fq, t->qd, t->n, loss, ctx);
    fd_grad(fk, t->kd, t->n, loss, ctx);
    fd_grad(fv, t->vd, t->n, loss, ctx);
    double w1 = check_grad(t->dq, fq, t->n, dq_name);
    double w2 = check_grad(t->dk, fk, t->n, dk_name);
    double w3 = check_grad(t->dv, fv, t->n, dv_name);
    printf("%s B=%d N=%d H=%d dh=%d: worst scaled grad error dq %.2e dk %.2e dv %.2e\n", label,
           t->B, t->N, t->H, t->dh, w1, w2, w3);
}

static void test_attention_small(int fully_padded) {
    const int B = 2, N = 7, H = 3, dh = 5, C = H * dh;
    Rng r;
    rng_init(&r, 1234, (uint64_t)fully_padded);
    /* batch 0: all real; batch 1: keys 2, 5, 6 padded (or all padded) */
    int32_t mask[2 * 7] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0};
    if (fully_padded)
        for (int j = 0; j < N; j++) mask[N + j] = 0;
    uint8_t mask8[2 * 7];
    mask_to_u8(mask8, mask, (size_t)B * N);
    double srow[7]; /* (N) scratch of ref_attention */
    AttnInputs t;
    attn_inputs_init(&t, &r, B, N, H, dh);
    const size_t n = t.n, nn = t.nn, slen = t.slen;
    const float *q = t.q, *k = t.k, *v = t.v;
    float *out = malloc(sizeof(float) * n), *out2 = malloc(sizeof(float) * n),
          *att = malloc(sizeof(float) * nn);
    double *ref = malloc(sizeof(double) * n), *P = malloc(sizeof(double) * nn),
           *fq = malloc(sizeof(double) * n), *fk = malloc(sizeof(double) * n),
           *fv = malloc(sizeof(double) * n), *work = malloc(sizeof(double) * n);

    /* forward vs naive */
    attention_forward(out, att, NULL, 0, q, k, v, attn_mask_i32(mask), B, N, H, dh);
    ref_attention(ref, P, t.qd, t.kd, t.vd, mask8, NULL, srow, B, N, H, dh);
    check_fwd(out, ref, n, "attention out");
    check_fwd(att, P, nn, "attention P");

    /* masked keys: probability exactly 0; rows sum to 1 (or are all 0 without valid keys) */
    check_prob_rows(att, mask, B, H, N);
    if (fully_padded) {
        int nz = 0;
        for (size_t i = (size_t)N * C; i < n; i++) nz += out[i] != 0.0f;
        CHECK(nz == 0, "fully padded sequence: %d nonzero outputs", nz);
    }

    /* uint8 mask gives the same result bit for bit */
    attention_forward(out2, att, NULL, 0, q, k, v, attn_mask_u8(mask8), B, N, H, dh);
    CHECK(memcmp(out, out2, sizeof(float) * n) == 0, "uint8 mask == int32 mask");
    /* inference path: att NULL, scores in scratch (all slices, then a single slice) */
    attention_forward(out2, NULL, t.scratch, slen, q, k, v, attn_mask_i32(mask), B, N, H, dh);
    check_fwd(out2, ref, n, "attention out (att NULL)");
    attention_forward(out2, NULL, t.scratch, (size_t)N * N, q, k, v, attn_mask_i32(mask), B, N,
                      H, dh);
    check_fwd(out2, ref, n, "attention out (att NULL, one slice)");
    /* recompute P (the uint8 call overwrote it with identical values anyway) */
    attention_forward(out, att, NULL, 0, q, k, v, attn_mask_i32(mask), B, N, H, dh);

    /* backward vs finite differences of the double forward */
    attention_backward(t.dq, t.dk, t.dv, t.scratch, slen, t.g, att, q, k, v, B, N, H, dh);
    AttnLoss L = {B, N, H, dh, mask8, t.qd, t.kd, t.vd, t.gd, work, srow};
    check_fd_grads(&t, fq, fk, fv, attn_loss_fd, &L, "dq", "dk", "dv",
                   fully_padded ? "attention (one sequence fully padded)" : "attention");

    check_naive_backward(fq, fk, fv, t.gd, P, t.qd, t.kd, t.vd, B, N, H, dh);

    /* masked keys: dK and dV rows exactly 0 */
    int nzk = count_masked_kv(t.dk, t.dv, mask, B, N, C);
    CHECK(nzk == 0, "%d nonzero dK/dV entries at masked keys", nzk);
    if (fully_padded) {
        int nzq = 0;
        for (size_t i = (size_t)N * C; i < n; i++) nzq += t.dq[i] != 0.0f;
        CHECK(nzq == 0, "fully padded sequence: %d nonzero dq", nzq);
    }

    check_accumulate(t.dq, t.dk, t.dv, t.scratch, slen, t.g, att, q, k, v, B, N, H, dh);

    attn_inputs_free(&t);
    free(out), free(out2), free(att), free(ref), free(P), free(fq), free(fk), free(fv), free(work);
}

/* more (b, h) pairs than threads, longer N: forward and backward against the naive double
   code (whose backward was validated by finite differences above). */
static void test_attention_large(void) {
    const int B = 3, N = 33, H = 4, dh = 8;
    Rng r;
    rng_init(&r, 99, 7);
    int32_t *mask = malloc(sizeof(int32_t) * (size_t)B * N);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++) mask[b * N + j] = j < N - 5 * b; /* 33, 28, 23 real */
    uint8_t mask8[3 * 33];
    mask_to_u8(mask8, mask, (size_t)B * N);
    double srow[33]; /* (N) scratch of ref_attention */
    AttnInputs t;
    attn_inputs_init(&t, &r, B, N, H, dh);
    const size_t n = t.n, nn = t.nn;
    float *out = malloc(sizeof(float) * n), *att = malloc(sizeof(float) * nn);
    double *ref = malloc(sizeof(double) * n), *P = malloc(sizeof(double) * nn),
           *rq = calloc(n, sizeof(double)), *rk = calloc(n, sizeof(double)),
           *rv = calloc(n, sizeof(double));
    attention_forward(out, att, NULL, 0, t.q, t.k, t.v, attn_mask_i32(mask), B, N, H, dh);
    ref_attention(ref, P, t.qd, t.kd, t.vd, mask8, NULL, srow, B, N, H, dh);
    check_fwd(out, ref, n, "large attention out");
    attention_backward(t.dq, t.dk, t.dv, t.scratch, t.slen, t.g, att, t.q, t.k, t.v, B, N, H,
                       dh);
    ref_attention_backward(rq, rk, rv, t.gd, P, t.qd, t.kd, t.vd, B, N, H, dh);
    double w1 = check_grad(t.dq, rq, n, "large dq");
    double w2 = check_grad(t.dk, rk, n, "large dk");
    double w3 = check_grad(t.dv, rv, n, "large dv");
    printf("attention B=%d N=%d H=%d dh=%d (%d threads): worst scaled grad error %.2e %.2e "
           "%.2e\n", B, N, H, dh, attention_max_threads(), w1, w2, w3);

    CHECK(attention_flops(B, N, H, dh) ==
              (int64_t)B * H * (4LL * N * N * dh + ATTENTION_SOFTMAX_FLOPS * (int64_t)N * N),
          "attention_flops closed form");
    CHECK(attention_flops(1, 512, 8, 64) == 8LL * (4LL * 512 * 512 * 64 + 5LL * 512 * 512),
          "attention_flops N=512");
    CHECK(attention_backward_flops(2, 10, 3, 4) == 6LL * (8LL * 100 * 4 + 4LL * 100),
          "attention_backward_flops");

    attn_inputs_free(&t);
    free(mask), free(out), free(att), free(ref), free(P), free(rq), free(rk), free(rv);
}

/* saturated softmax (score gaps far beyond e^-87, where our exp clamps) and the no-mask path
   against an all-ones mask: same values, finite, rows summing to 1 */
static void test_attention_saturated(void) {
    const int B = 1, N = 20, H = 2, dh = 4, C = H * dh;
    const size_t n = (size_t)B * N * C, nn = (size_t)B * H * N * N;
    Rng r;
    rng_init(&r, 5, 5);
    float *q = malloc(sizeof(float) * n), *k = malloc(sizeof(float) * n),
          *v = malloc(sizeof(float) * n), *o1 = malloc(sizeof(float) * n),
          *o2 = malloc(sizeof(float) * n), *att = malloc(sizeof(float) * nn);
    int32_t ones[20];
    double srow[20]; /* (N) scratch of ref_attention */
    for (int j = 0; j < N; j++) ones[j] = 1;
    fill_normal(&r, q, n, 15.0); /* scores ~ 15*15*2 / 2: gaps of hundreds */
    fill_normal(&r, k, n, 15.0);
    fill_normal(&r, v, n, 1.0);
    double *qd = malloc(sizeof(double) * n), *kd = malloc(sizeof(double) * n),
           *vd = malloc(sizeof(double) * n), *ref = malloc(sizeof(double) * n);
    ref_to_double(qd, q, n), ref_to_double(kd, k, n), ref_to_double(vd, v, n);
    ref_attention(ref, NULL, qd, kd, vd, NULL, NULL, srow, B, N, H, dh);
    attention_forward(o1, att, NULL, 0, q, k, v, attn_mask_none(), B, N, H, dh);
    attention_forward(o2, att, NULL, 0, q, k, v, attn_mask_i32(ones), B, N, H, dh);
    check_fwd(o1, ref, n, "saturated attention out");
    CHECK(memcmp(o1, o2, sizeof(float) * n) == 0, "no mask == all-ones mask, bit for bit");
    int bad = 0;
    for (int i = 0; i < B * H * N; i++) {
        double s = 0;
        for (int j = 0; j < N; j++) {
            float pij = att[(size_t)i * N + j];
            bad += !(pij >= 0.0f && pij <= 1.0f);
            s += pij;
        }
        bad += fabs(s - 1.0) > 1e-6;
    }
    CHECK(bad == 0, "saturated softmax: %d bad probabilities or row sums", bad);
    free(q), free(k), free(v), free(o1), free(o2), free(att), free(qd), free(kd), free(vd);
    free(ref);
}

/* ---------------------------------------------------------------- attention dropout */

typedef struct {
    int B, N, H, dh;
    const uint8_t *mask;
    const uint8_t *keep; /* (B, H, N, N) */
    double kscale;       /* 1 / (1 - p) */
    const double *q, *k, *v, *g;
    double *out, *P;     /* work */
    double *s;           /* (N) scratch */
} AttnDropLoss;

/* out = (P .* keep * kscale) V per (b, h), P from the naive reference; L = sum(out .* g) */
static double attn_drop_loss(void *ctx) {
    AttnDropLoss *a = ctx;
    int B = a->B, N = a->N, H = a->H, dh = a->dh, C = H * dh;
    ref_attention(a->out, a->P, a->q, a->k, a->v, a->mask, NULL, a->s, B, N, H, dh);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++)
                for (int c = 0; c < dh; c++) {
                    double o = 0;
                    for (int j = 0; j < N; j++) {
                        size_t pij = (((size_t)b * H + h) * N + i) * N + j;
                        if (a->keep[pij])
                            o += a->P[pij] * a->kscale * a->v[((size_t)b * N + j) * C + h * dh + c];
                    }
                    a->out[((size_t)b * N + i) * C + h * dh + c] = o;
                }
    return ref_dot(a->out, a->g, (size_t)B * N * C);
}

static void test_attention_dropout(void) {
    const int B = 2, N = 7, H = 3, dh = 5, C = H * dh;
    const float p = 0.3f;
    Rng r;
    rng_init(&r, 777, 1);
    int32_t mask[2 * 7] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0};
    uint8_t mask8[2 * 7];
    mask_to_u8(mask8, mask, (size_t)B * N);
    double srow[7]; /* (N) scratch of ref_attention */
    const size_t nn = (size_t)B * H * N * N;
    uint8_t *keep = malloc(nn), *ones = malloc(nn);
    for (size_t i = 0; i < nn; i++) keep[i] = rng_uniformf(&r) >= p, ones[i] = 1;
    AttnInputs t;
    attn_inputs_init(&t, &r, B, N, H, dh);
    const size_t n = t.n, slen = t.slen;
    const float *q = t.q, *k = t.k, *v = t.v, *g = t.g;
    float *dq = t.dq, *dk = t.dk, *dv = t.dv, *scratch = t.scratch;
    float *out = malloc(sizeof(float) * n), *out2 = malloc(sizeof(float) * n),
          *att = malloc(sizeof(float) * nn), *attd = malloc(sizeof(float) * nn),
          *att2 = malloc(sizeof(float) * nn), *eq = calloc(n, sizeof(float)),
          *ek = calloc(n, sizeof(float)), *ev = calloc(n, sizeof(float));
    double *work = malloc(sizeof(double) * n), *P = malloc(sizeof(double) * nn),
           *fq = malloc(sizeof(double) * n), *fk = malloc(sizeof(double) * n),
           *fv = malloc(sizeof(double) * n);

    AttnDropLoss L = {B,    N,    H,    dh,   mask8, keep, 1.0 / (1.0 - (double)p),
                      t.qd, t.kd, t.vd, t.gd, work,  P,    srow};
    attn_drop_loss(&L);
    attention_forward_dropout(out, att, attd, keep, p, q, k, v, attn_mask_i32(mask), B, N, H,
                              dh);
    check_fwd(out, work, n, "attention dropout out");
    check_fwd(att, P, nn, "attention dropout P (before dropout)");
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (size_t i = 0; i < (size_t)H * N * N; i++) {
            size_t at = (size_t)b * H * N * N + i;
            int j = (int)(i % (size_t)N);
            if ((!keep[at] || !mask[b * N + j]) && attd[at] != 0.0f) bad++;
            if (keep[at] && fabs(attd[at] - att[at] / (1.0 - p)) > 1e-6 * att[at]) bad++;
        }
    CHECK(bad == 0, "P': %d entries not 0 (dropped/masked) or not P / (1 - p) (kept)", bad);

    attention_backward_dropout(dq, dk, dv, scratch, slen, g, att, attd, q, k, v, B, N, H, dh);
    char label[64];
    snprintf(label, sizeof label, "attention dropout p=%.1f", (double)p);
    check_fd_grads(&t, fq, fk, fv, attn_drop_loss, &L, "dropout dq", "dropout dk", "dropout dv",
                   label);
    int nzk = count_masked_kv(dk, dv, mask, B, N, C);
    CHECK(nzk == 0, "dropout: %d nonzero dK/dV entries at masked keys", nzk);

    /* keep everything with p = 0: the plain attention, forward bit for bit */
    attention_forward(out, att2, NULL, 0, q, k, v, attn_mask_i32(mask), B, N, H, dh);
    attention_forward_dropout(out2, att, attd, ones, 0.0f, q, k, v, attn_mask_i32(mask), B, N,
                              H, dh);
    CHECK(memcmp(out, out2, sizeof(float) * n) == 0, "keep-all p=0 forward == plain, bit for bit");
    CHECK(memcmp(att, att2, sizeof(float) * nn) == 0 && memcmp(attd, att2, sizeof(float) * nn) == 0,
          "keep-all p=0: P and P' == plain P");
    memset(dq, 0, sizeof(float) * n), memset(dk, 0, sizeof(float) * n);
    memset(dv, 0, sizeof(float) * n);
    attention_backward_dropout(dq, dk, dv, scratch, slen, g, att, attd, q, k, v, B, N, H, dh);
    attention_backward(eq, ek, ev, scratch, slen, g, att2, q, k, v, B, N, H, dh);
    double *ed = calloc(n, sizeof(double)); /* (B, N, C) the plain gradient in double */
    ref_to_double(ed, eq, n);
    check_grad(dq, ed, n, "keep-all dq vs plain");
    ref_to_double(ed, ek, n);
    check_grad(dk, ed, n, "keep-all dk vs plain");
    CHECK(memcmp(dv, ev, sizeof(float) * n) == 0, "keep-all dv == plain, bit for bit");

    attn_inputs_free(&t);
    free(keep), free(ones), free(out), free(out2), free(att), free(attd), free(att2), free(eq);
    free(ek), free(ev), free(work), free(P), free(fq), free(fk), free(fv), free(ed);
}

int main(void) {
    test_attention_small(0);
    test_attention_small(1);
    test_attention_large();
    test_attention_saturated();
    test_attention_dropout();
    return check_exit("test_attention_grad");
}
