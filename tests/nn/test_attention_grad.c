/* test_attention_grad.c: the attention block (nn/attention.h) and the multi-head
 * self-attention layer (nn/mhsa.h) against independent naive double-precision code:
 *   - forward vs a naive double forward (B=2, N=7, H=3, dh=5, padded keys in one sequence,
 *     one fully padded sequence in a second case);
 *   - masked keys get probability exactly 0, a row with no valid key gives zeros, and the
 *     dK/dV rows of masked keys are exactly 0;
 *   - backward vs central finite differences of the double forward (h = 1e-5) for every
 *     element of q, k, v (attention) and of x and all eight parameters (mhsa);
 *   - the accumulate (+=) convention, int32 vs uint8 masks, the inference path (att NULL,
 *     scores in scratch) with one or several scratch slices, a larger case where the
 *     (b, h) pairs are split across threads, a saturated softmax (score gaps of hundreds),
 *     no mask == all-ones mask, and attention_flops / mhsa_flops;
 *   - dropout on the probabilities (attention_forward_dropout / _backward_dropout): forward
 *     vs the naive double forward with the same keep mask, backward vs finite differences,
 *     dropped and masked entries of P' exactly 0, and keep-all with p = 0 equal to the plain
 *     attention (forward bit for bit, backward to float rounding).
 *
 * Tolerance for gradients: |ours - fd| <= GRAD_TOL * max(|fd|, scale), scale = the largest
 * |fd| of that tensor. The finite differences are taken in double on the same inputs, so their
 * own error is ~h^2 * |f'''| + 1e-16 / h ~ 1e-10: the comparison measures our float32
 * arithmetic, whose error is a few float ulps (6e-8) times the length of the sums involved
 * (<= N*dh or C terms here) relative to the tensor's gradient scale, i.e. ~1e-6. GRAD_TOL = 1e-4
 * leaves a 100x margin while any wrong or missing term (O(scale)) is caught. Forward values
 * (O(1)) are compared with |a - b| <= 1e-5 + 1e-5 |b| for the same reason. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "nn/attention.h"
#include "nn/mhsa.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/ref.h"

#define GRAD_TOL 1e-4
#define FWD_RTOL 1e-5
#define FWD_ATOL 1e-5

/* ---------------------------------------------------------------- naive double reference */

/* naive double backward of the attention block (the formulas of attention.h written out
   element by element); validated against finite differences in test_attention_small. The
   forward, ref_attention, is in tests/ref.h. */
static void ref_attention_backward(double *dq, double *dk, double *dv, const double *g,
                                   const double *P, const double *q, const double *k,
                                   const double *v, int B, int N, int H, int dh) {
    int C = H * dh;
    double sc = 1.0 / sqrt((double)dh);
    double *dS = malloc(sizeof(double) * (size_t)N * N);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const double *Pb = P + ((size_t)b * H + h) * N * N;
#define AT(x, n, c) x[((size_t)b * N + (n)) * C + h * dh + (c)]
            for (int i = 0; i < N; i++) {
                double rs = 0;
                for (int j = 0; j < N; j++) {
                    double dp = 0;
                    for (int c = 0; c < dh; c++) dp += AT(g, i, c) * AT(v, j, c);
                    dS[i * N + j] = dp;
                    rs += dp * Pb[i * N + j];
                }
                for (int j = 0; j < N; j++) dS[i * N + j] = Pb[i * N + j] * (dS[i * N + j] - rs);
            }
            for (int j = 0; j < N; j++)
                for (int c = 0; c < dh; c++) {
                    double a = 0, kk = 0;
                    for (int i = 0; i < N; i++) {
                        a += Pb[i * N + j] * AT(g, i, c);
                        kk += dS[i * N + j] * AT(q, i, c);
                    }
                    AT(dv, j, c) += a;
                    AT(dk, j, c) += kk * sc;
                }
            for (int i = 0; i < N; i++)
                for (int c = 0; c < dh; c++) {
                    double a = 0;
                    for (int j = 0; j < N; j++) a += dS[i * N + j] * AT(k, j, c);
                    AT(dq, i, c) += a * sc;
                }
#undef AT
        }
    free(dS);
}

/* ---------------------------------------------------------------- helpers */

/* m8 (n) = m (n): the uint8 copy of an int32 key mask, for ref_attention */
static void mask_to_u8(uint8_t *m8, const int32_t *m, size_t n) {
    for (size_t i = 0; i < n; i++) m8[i] = (uint8_t)m[i];
}

static void fill_normal(Rng *r, float *x, size_t n, double sd) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * rng_normal(r));
}

/* compare a float gradient with a double reference; returns the worst scaled error.
   scale = max(largest |want|, floor): floor is for tensors whose true gradient is 0 (or tiny)
   while the float computation sums O(floor) terms that cancel. */
static double check_grad_floor(const float *got, const double *want, size_t n, double floor,
                               const char *what) {
    double scale = fmax(ref_max_abs(want, n), floor), worst = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double den = fabs(want[i]) > scale ? fabs(want[i]) : scale;
        if (den == 0) den = 1;
        double err = fabs((double)got[i] - want[i]) / den;
        if (err > worst) worst = err;
        if (err > GRAD_TOL && bad++ < 5)
            CHECK(0, "%s[%zu]: got %.9g, expected %.9g (scale %.3g)", what, i, (double)got[i],
                  want[i], scale);
    }
    CHECK(bad == 0, "%s: %d of %zu elements off", what, bad, n);
    return worst;
}
static double check_grad(const float *got, const double *want, size_t n, const char *what) {
    return check_grad_floor(got, want, n, 0.0, what);
}

/* after a second identical backward, now == 2 * first up to float rounding of the sums
   (relative to the tensor's scale: entries that are 0 up to cancellation stay ~0) */
static int count_not_doubled(const float *now, const float *first, size_t n) {
    double scale = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(first[i]));
    /* n counts all the parameter gradients at once in the mhsa check: the key bias gradient
       is 0 up to cancellation noise that depends on the starting value of the sum */
    for (size_t i = 0; i < n; i++) bad += fabs(now[i] - 2.0 * first[i]) > 1e-6 * scale;
    return bad;
}

static void check_fwd(const float *got, const double *want, size_t n, const char *what) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)got[i] - want[i]) > FWD_ATOL + FWD_RTOL * fabs(want[i]) && bad++ < 5)
            CHECK(0, "%s[%zu]: got %.9g, expected %.9g", what, i, (double)got[i], want[i]);
    }
    CHECK(bad == 0, "%s: %d of %zu elements off", what, bad, n);
}

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

static void test_attention_small(int fully_padded) {
    const int B = 2, N = 7, H = 3, dh = 5, C = H * dh;
    const size_t n = (size_t)B * N * C, nn = (size_t)B * H * N * N;
    Rng r;
    rng_init(&r, 1234, (uint64_t)fully_padded);
    /* batch 0: all real; batch 1: keys 2, 5, 6 padded (or all padded) */
    int32_t mask[2 * 7] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0};
    if (fully_padded)
        for (int j = 0; j < N; j++) mask[N + j] = 0;
    uint8_t mask8[2 * 7];
    mask_to_u8(mask8, mask, (size_t)B * N);
    double srow[7]; /* (N) scratch of ref_attention */

    float *q = malloc(sizeof(float) * n), *k = malloc(sizeof(float) * n),
          *v = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n),
          *out = malloc(sizeof(float) * n), *out2 = malloc(sizeof(float) * n),
          *att = malloc(sizeof(float) * nn), *dq = calloc(n, sizeof(float)),
          *dk = calloc(n, sizeof(float)), *dv = calloc(n, sizeof(float));
    int threads = attention_max_threads();
    size_t slen = attention_scratch_size(N, threads);
    float *scratch = malloc(sizeof(float) * slen);
    fill_normal(&r, q, n, 1.0);
    fill_normal(&r, k, n, 1.0);
    fill_normal(&r, v, n, 1.0);
    fill_normal(&r, g, n, 1.0);

    double *dq_ = malloc(sizeof(double) * n), *dk_ = malloc(sizeof(double) * n),
           *dv_ = malloc(sizeof(double) * n), *dg = malloc(sizeof(double) * n),
           *ref = malloc(sizeof(double) * n), *P = malloc(sizeof(double) * nn),
           *fq = malloc(sizeof(double) * n), *fk = malloc(sizeof(double) * n),
           *fv = malloc(sizeof(double) * n), *work = malloc(sizeof(double) * n);
    ref_to_double(dq_, q, n); /* reuse dq_/dk_/dv_ as the double copies of q/k/v */
    ref_to_double(dk_, k, n);
    ref_to_double(dv_, v, n);
    ref_to_double(dg, g, n);

    /* forward vs naive */
    attention_forward(out, att, NULL, 0, q, k, v, attn_mask_i32(mask), B, N, H, dh);
    ref_attention(ref, P, dq_, dk_, dv_, mask8, NULL, srow, B, N, H, dh);
    check_fwd(out, ref, n, "attention out");
    check_fwd(att, P, nn, "attention P");

    /* masked keys: probability exactly 0; rows sum to 1 (or are all 0 without valid keys) */
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
    if (fully_padded) {
        int nz = 0;
        for (size_t i = (size_t)N * C; i < n; i++) nz += out[i] != 0.0f;
        CHECK(nz == 0, "fully padded sequence: %d nonzero outputs", nz);
    }

    /* uint8 mask gives the same result bit for bit */
    attention_forward(out2, att, NULL, 0, q, k, v, attn_mask_u8(mask8), B, N, H, dh);
    CHECK(memcmp(out, out2, sizeof(float) * n) == 0, "uint8 mask == int32 mask");
    /* inference path: att NULL, scores in scratch (all slices, then a single slice) */
    attention_forward(out2, NULL, scratch, slen, q, k, v, attn_mask_i32(mask), B, N, H, dh);
    check_fwd(out2, ref, n, "attention out (att NULL)");
    attention_forward(out2, NULL, scratch, (size_t)N * N, q, k, v, attn_mask_i32(mask), B, N, H,
                      dh);
    check_fwd(out2, ref, n, "attention out (att NULL, one slice)");
    /* recompute P (the uint8 call overwrote it with identical values anyway) */
    attention_forward(out, att, NULL, 0, q, k, v, attn_mask_i32(mask), B, N, H, dh);

    /* backward vs finite differences of the double forward */
    attention_backward(dq, dk, dv, scratch, slen, g, att, q, k, v, B, N, H, dh);
    AttnLoss L = {B, N, H, dh, mask8, dq_, dk_, dv_, dg, work, srow};
    fd_grad(fq, dq_, n, attn_loss_fd, &L);
    fd_grad(fk, dk_, n, attn_loss_fd, &L);
    fd_grad(fv, dv_, n, attn_loss_fd, &L);
    double w1 = check_grad(dq, fq, n, "dq");
    double w2 = check_grad(dk, fk, n, "dk");
    double w3 = check_grad(dv, fv, n, "dv");
    printf("attention B=%d N=%d H=%d dh=%d%s: worst scaled grad error dq %.2e dk %.2e dv %.2e\n",
           B, N, H, dh, fully_padded ? " (one sequence fully padded)" : "", w1, w2, w3);

    /* the naive double backward agrees with the finite differences too (it is the reference
       for the larger case below) */
    {
        double *rq = calloc(n, sizeof(double)), *rk = calloc(n, sizeof(double)),
               *rv = calloc(n, sizeof(double));
        ref_attention_backward(rq, rk, rv, dg, P, dq_, dk_, dv_, B, N, H, dh);
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

    /* masked keys: dK and dV rows exactly 0 */
    int nzk = 0;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++)
            if (!mask[b * N + j])
                for (int c = 0; c < C; c++) {
                    size_t at = ((size_t)b * N + j) * C + c;
                    nzk += (dk[at] != 0.0f) + (dv[at] != 0.0f);
                }
    CHECK(nzk == 0, "%d nonzero dK/dV entries at masked keys", nzk);
    if (fully_padded) {
        int nzq = 0;
        for (size_t i = (size_t)N * C; i < n; i++) nzq += dq[i] != 0.0f;
        CHECK(nzq == 0, "fully padded sequence: %d nonzero dq", nzq);
    }

    /* accumulate: a second backward adds the same gradient again */
    float *dq1 = malloc(sizeof(float) * n);
    memcpy(dq1, dq, sizeof(float) * n);
    float *dv1 = malloc(sizeof(float) * n);
    memcpy(dv1, dv, sizeof(float) * n);
    attention_backward(dq, dk, dv, scratch, slen, g, att, q, k, v, B, N, H, dh);
    int badacc = count_not_doubled(dq, dq1, n) + count_not_doubled(dv, dv1, n);
    CHECK(badacc == 0, "backward accumulates (+=): %d entries are not twice the first", badacc);

    free(q), free(k), free(v), free(g), free(out), free(out2), free(att), free(dq), free(dk);
    free(dv), free(scratch), free(dq_), free(dk_), free(dv_), free(dg), free(ref), free(P);
    free(fq), free(fk), free(fv), free(work), free(dq1), free(dv1);
}

/* more (b, h) pairs than threads, longer N: forward and backward against the naive double
   code (whose backward was validated by finite differences above). */
static void test_attention_large(void) {
    const int B = 3, N = 33, H = 4, dh = 8, C = H * dh;
    const size_t n = (size_t)B * N * C, nn = (size_t)B * H * N * N;
    Rng r;
    rng_init(&r, 99, 7);
    int32_t *mask = malloc(sizeof(int32_t) * (size_t)B * N);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++) mask[b * N + j] = j < N - 5 * b; /* 33, 28, 23 real */
    uint8_t mask8[3 * 33];
    mask_to_u8(mask8, mask, (size_t)B * N);
    double srow[33]; /* (N) scratch of ref_attention */
    float *q = malloc(sizeof(float) * n), *k = malloc(sizeof(float) * n),
          *v = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n),
          *out = malloc(sizeof(float) * n), *att = malloc(sizeof(float) * nn),
          *dq = calloc(n, sizeof(float)), *dk = calloc(n, sizeof(float)),
          *dv = calloc(n, sizeof(float));
    size_t slen = attention_scratch_size(N, attention_max_threads());
    float *scratch = malloc(sizeof(float) * slen);
    fill_normal(&r, q, n, 1.0);
    fill_normal(&r, k, n, 1.0);
    fill_normal(&r, v, n, 1.0);
    fill_normal(&r, g, n, 1.0);
    double *qd = malloc(sizeof(double) * n), *kd = malloc(sizeof(double) * n),
           *vd = malloc(sizeof(double) * n), *gd = malloc(sizeof(double) * n),
           *ref = malloc(sizeof(double) * n), *P = malloc(sizeof(double) * nn),
           *rq = calloc(n, sizeof(double)), *rk = calloc(n, sizeof(double)),
           *rv = calloc(n, sizeof(double));
    ref_to_double(qd, q, n), ref_to_double(kd, k, n), ref_to_double(vd, v, n);
    ref_to_double(gd, g, n);
    attention_forward(out, att, NULL, 0, q, k, v, attn_mask_i32(mask), B, N, H, dh);
    ref_attention(ref, P, qd, kd, vd, mask8, NULL, srow, B, N, H, dh);
    check_fwd(out, ref, n, "large attention out");
    attention_backward(dq, dk, dv, scratch, slen, g, att, q, k, v, B, N, H, dh);
    ref_attention_backward(rq, rk, rv, gd, P, qd, kd, vd, B, N, H, dh);
    double w1 = check_grad(dq, rq, n, "large dq");
    double w2 = check_grad(dk, rk, n, "large dk");
    double w3 = check_grad(dv, rv, n, "large dv");
    printf("attention B=%d N=%d H=%d dh=%d (%d threads): worst scaled grad error %.2e %.2e "
           "%.2e\n", B, N, H, dh, attention_max_threads(), w1, w2, w3);

    CHECK(attention_flops(B, N, H, dh) ==
              (int64_t)B * H * (4LL * N * N * dh + ATTENTION_SOFTMAX_FLOPS * (int64_t)N * N),
          "attention_flops closed form");
    CHECK(attention_flops(1, 512, 8, 64) == 8LL * (4LL * 512 * 512 * 64 + 5LL * 512 * 512),
          "attention_flops N=512");
    CHECK(attention_backward_flops(2, 10, 3, 4) == 6LL * (8LL * 100 * 4 + 4LL * 100),
          "attention_backward_flops");

    free(mask), free(q), free(k), free(v), free(g), free(out), free(att), free(dq), free(dk);
    free(dv), free(scratch), free(qd), free(kd), free(vd), free(gd), free(ref), free(P);
    free(rq), free(rk), free(rv);
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
    const size_t n = (size_t)B * N * C, nn = (size_t)B * H * N * N;
    const float p = 0.3f;
    Rng r;
    rng_init(&r, 777, 1);
    int32_t mask[2 * 7] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0};
    uint8_t mask8[2 * 7];
    mask_to_u8(mask8, mask, (size_t)B * N);
    double srow[7]; /* (N) scratch of ref_attention */
    uint8_t *keep = malloc(nn), *ones = malloc(nn);
    for (size_t i = 0; i < nn; i++) keep[i] = rng_uniformf(&r) >= p, ones[i] = 1;
    float *q = malloc(sizeof(float) * n), *k = malloc(sizeof(float) * n),
          *v = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n),
          *out = malloc(sizeof(float) * n), *out2 = malloc(sizeof(float) * n),
          *att = malloc(sizeof(float) * nn), *attd = malloc(sizeof(float) * nn),
          *att2 = malloc(sizeof(float) * nn), *dq = calloc(n, sizeof(float)),
          *dk = calloc(n, sizeof(float)), *dv = calloc(n, sizeof(float)),
          *eq = calloc(n, sizeof(float)), *ek = calloc(n, sizeof(float)),
          *ev = calloc(n, sizeof(float));
    size_t slen = attention_scratch_size(N, attention_max_threads());
    float *scratch = malloc(sizeof(float) * slen);
    fill_normal(&r, q, n, 1.0);
    fill_normal(&r, k, n, 1.0);
    fill_normal(&r, v, n, 1.0);
    fill_normal(&r, g, n, 1.0);
    double *qd = malloc(sizeof(double) * n), *kd = malloc(sizeof(double) * n),
           *vd = malloc(sizeof(double) * n), *gd = malloc(sizeof(double) * n),
           *work = malloc(sizeof(double) * n), *P = malloc(sizeof(double) * nn),
           *fq = malloc(sizeof(double) * n), *fk = malloc(sizeof(double) * n),
           *fv = malloc(sizeof(double) * n);
    ref_to_double(qd, q, n), ref_to_double(kd, k, n), ref_to_double(vd, v, n);
    ref_to_double(gd, g, n);

    AttnDropLoss L = {B,  N,  H,  dh,   mask8, keep, 1.0 / (1.0 - (double)p),
                      qd, kd, vd, gd, work,  P,    srow};
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
    fd_grad(fq, qd, n, attn_drop_loss, &L);
    fd_grad(fk, kd, n, attn_drop_loss, &L);
    fd_grad(fv, vd, n, attn_drop_loss, &L);
    double w1 = check_grad(dq, fq, n, "dropout dq");
    double w2 = check_grad(dk, fk, n, "dropout dk");
    double w3 = check_grad(dv, fv, n, "dropout dv");
    printf("attention dropout p=%.1f B=%d N=%d H=%d dh=%d: worst scaled grad error dq %.2e "
           "dk %.2e dv %.2e\n", (double)p, B, N, H, dh, w1, w2, w3);
    int nzk = 0;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++)
            if (!mask[b * N + j])
                for (int c = 0; c < C; c++) {
                    size_t at = ((size_t)b * N + j) * C + c;
                    nzk += (dk[at] != 0.0f) + (dv[at] != 0.0f);
                }
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
    double *ed = malloc(sizeof(double) * n);
    ref_to_double(ed, eq, n);
    check_grad(dq, ed, n, "keep-all dq vs plain");
    ref_to_double(ed, ek, n);
    check_grad(dk, ed, n, "keep-all dk vs plain");
    CHECK(memcmp(dv, ev, sizeof(float) * n) == 0, "keep-all dv == plain, bit for bit");

    free(keep), free(ones), free(q), free(k), free(v), free(g), free(out), free(out2), free(att);
    free(attd), free(att2), free(dq), free(dk), free(dv), free(eq), free(ek), free(ev);
    free(scratch), free(qd), free(kd), free(vd), free(gd), free(work), free(P), free(fq);
    free(fk), free(fv), free(ed);
}

/* ---------------------------------------------------------------- mhsa layer */

enum { T_X, T_WQ, T_BQ, T_WK, T_BK, T_WV, T_BV, T_WO, T_BO, T_COUNT };

typedef struct {
    int B, N, C, H;
    const uint8_t *mask;
    double *s;                /* (N) scratch of ref_attention */
    double *theta;            /* x then the 8 parameters, in MhsaParams order */
    size_t off[T_COUNT + 1];  /* offsets of each tensor in theta */
    const double *g;          /* (B, N, C) upstream gradient */
    double *q, *k, *v, *a, *y; /* work (B, N, C) each */
} MhsaRef;

static double mhsa_ref_loss(MhsaRef *m) {
    int M = m->B * m->N, C = m->C;
    const double *t = m->theta;
    const double *x = t + m->off[T_X];
    ref_linear(m->q, x, t + m->off[T_WQ], t + m->off[T_BQ], M, C, C);
    ref_linear(m->k, x, t + m->off[T_WK], t + m->off[T_BK], M, C, C);
    ref_linear(m->v, x, t + m->off[T_WV], t + m->off[T_BV], M, C, C);
    ref_attention(m->a, NULL, m->q, m->k, m->v, m->mask, NULL, m->s, m->B, m->N, m->H, C / m->H);
    ref_linear(m->y, m->a, t + m->off[T_WO], t + m->off[T_BO], M, C, C);
    return ref_dot(m->y, m->g, (size_t)M * C);
}

/* mhsa_ref_loss_fd: mhsa_ref_loss through the FdLossFn signature of tests/fd.h */
static double mhsa_ref_loss_fd(void *ctx) { return mhsa_ref_loss(ctx); }

static void test_mhsa(void) {
    const int B = 2, N = 5, C = 12, H = 3;
    const size_t n = (size_t)B * N * C;
    Err e;
    CHECK(mhsa_check(B, N, C, H, &e) == ST_OK, "mhsa_check ok");
    CHECK(mhsa_check(B, N, 10, 3, &e) == ST_INVALID, "mhsa_check C %% H");
    CHECK(mhsa_check(0, N, C, H, &e) == ST_INVALID, "mhsa_check B = 0");

    int32_t mask[2 * 5] = {1, 1, 1, 1, 1, 1, 0, 1, 1, 0};
    uint8_t mask8[2 * 5];
    mask_to_u8(mask8, mask, (size_t)B * N);
    double srow[5]; /* (N) scratch of ref_attention */
    size_t psz[MHSA_NPARAMS];
    size_t np = mhsa_param_sizes(psz, C);
    CHECK(np == 4 * (size_t)C * C + 4 * (size_t)C, "parameter count");

    /* buffers through a MemPlan, as a model would do it */
    MemPlan plan;
    mem_plan_init(&plan);
    float *x, *y, *dx, *pbuf, *gbuf, *dy;
    mem_plan_f32(&plan, &x, n, "x");
    mem_plan_f32(&plan, &y, n, "y");
    mem_plan_f32(&plan, &dx, n, "dx");
    mem_plan_f32(&plan, &dy, n, "dy");
    mem_plan_f32(&plan, &pbuf, np, "params");
    mem_plan_f32(&plan, &gbuf, np, "grads");
    MhsaActs acts;
    MhsaGradActs gacts;
    mhsa_plan(&plan, &acts, &gacts, "mhsa", B, N, C, H, attention_max_threads(), 1);
    CHECK(mem_plan_alloc(&plan, &e) == ST_OK, "mem_plan_alloc: %s", e.msg);
    if (!plan.base) return;
    MhsaSizes sz = mhsa_buffer_sizes(B, N, C, H, attention_max_threads(), 1);
    CHECK(sz.att == (size_t)B * H * N * N && sz.q == n && sz.dq == n, "mhsa_buffer_sizes");
    CHECK(acts.att != NULL && gacts.dq != NULL && acts.scratch_len == sz.scratch,
          "mhsa_plan assigned the buffers");

    MhsaParams p, gp;
    mhsa_params_point(&p, pbuf, C);
    mhsa_params_point(&gp, gbuf, C);
    CHECK(p.bo + C == pbuf + np, "mhsa_params_point covers the buffer");
    CHECK(strcmp(mhsa_param_names[0], "attention.self.query.weight") == 0 &&
              strcmp(mhsa_param_names[7], "attention.output.dense.bias") == 0,
          "BERT names");

    Rng r;
    rng_init(&r, 42, 3);
    fill_normal(&r, x, n, 1.0);
    fill_normal(&r, pbuf, np, 0.3); /* weights ~ 0.3: scores O(1), softmax not saturated */
    fill_normal(&r, dy, n, 1.0);

    mhsa_forward(y, &acts, x, attn_mask_i32(mask), &p, B, N, C, H);

    /* reference */
    MhsaRef m;
    m.B = B, m.N = N, m.C = C, m.H = H, m.mask = mask8, m.s = srow;
    m.off[0] = 0;
    m.off[1] = n;
    for (int i = 0; i < MHSA_NPARAMS; i++) m.off[i + 2] = m.off[i + 1] + psz[i];
    size_t nt = m.off[T_COUNT];
    m.theta = malloc(sizeof(double) * nt);
    ref_to_double(m.theta, x, n);
    ref_to_double(m.theta + n, pbuf, np);
    double *gd = malloc(sizeof(double) * n);
    ref_to_double(gd, dy, n);
    m.g = gd;
    m.q = malloc(sizeof(double) * n), m.k = malloc(sizeof(double) * n);
    m.v = malloc(sizeof(double) * n), m.a = malloc(sizeof(double) * n);
    m.y = malloc(sizeof(double) * n);
    mhsa_ref_loss(&m);
    check_fwd(y, m.y, n, "mhsa out");

    /* backward (accumulating into zeroed gradients) vs finite differences */
    mhsa_backward(dx, &gp, &gacts, dy, x, &acts, &p, B, N, C, H);
    double *fd = malloc(sizeof(double) * nt);
    fd_grad(fd, m.theta, nt, mhsa_ref_loss_fd, &m);
    static const char *names[T_COUNT] = {"dx", "dwq", "dbq", "dwk", "dbk",
                                          "dwv", "dbv", "dwo", "dbo"};
    printf("mhsa B=%d N=%d C=%d H=%d worst scaled grad error:", B, N, C, H);
    for (int t = 0; t < T_COUNT; t++) {
        const float *got = t == T_X ? dx : gbuf + (m.off[t] - n);
        /* the key bias has a zero gradient: q_i . bk is the same for every key j and cancels
           in the softmax. Ours is a sum of dS rows (which sum to 0) in float, so compare it
           on the scale of the key weight gradient (same terms times x). */
        double floor = t == T_BK ? ref_max_abs(fd + m.off[T_WK], m.off[T_WK + 1] - m.off[T_WK]) : 0;
        double w = check_grad_floor(got, fd + m.off[t], m.off[t + 1] - m.off[t], floor,
                                    names[t]);
        printf(" %s %.1e", names[t], w);
    }
    printf("\n");
    CHECK(ref_max_abs(fd + m.off[T_BK], (size_t)C) < 1e-8, "key bias gradient is 0 in exact math");
    /* masked keys: the key/value projections' input gradient comes only through dK/dV,
       so dK and dV rows of padded tokens must be exactly 0 here too */
    int nz = 0;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++)
            if (!mask[b * N + j])
                for (int c = 0; c < C; c++)
                    nz += (gacts.dk[((size_t)b * N + j) * C + c] != 0.0f) +
                          (gacts.dv[((size_t)b * N + j) * C + c] != 0.0f);
    CHECK(nz == 0, "mhsa: %d nonzero dK/dV entries at padded tokens", nz);

    /* accumulate: a second backward doubles every gradient; NULL grads skip parameters */
    float *g1 = malloc(sizeof(float) * np), *dx1 = malloc(sizeof(float) * n);
    memcpy(g1, gbuf, sizeof(float) * np);
    memcpy(dx1, dx, sizeof(float) * n);
    mhsa_backward(dx, &gp, &gacts, dy, x, &acts, &p, B, N, C, H);
    int bad = count_not_doubled(dx, dx1, n) + count_not_doubled(gbuf, g1, np);
    CHECK(bad == 0, "mhsa backward accumulates: %d entries off", bad);
    memcpy(gbuf, g1, sizeof(float) * np);
    memset(dx, 0, sizeof(float) * n);
    mhsa_backward(dx, NULL, &gacts, dy, x, &acts, &p, B, N, C, H);
    CHECK(memcmp(gbuf, g1, sizeof(float) * np) == 0, "grads NULL: parameters untouched");
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += fabs(dx[i] - dx1[i]) > 1e-6 * fabs(dx1[i]) + 1e-12;
    CHECK(bad == 0, "grads NULL: input gradient still computed (%d off)", bad);

    /* inference plan: no att, forward gives the same output */
    {
        MemPlan ip;
        mem_plan_init(&ip);
        MhsaActs ia;
        float *y2;
        mem_plan_f32(&ip, &y2, n, "y2");
        mhsa_plan(&ip, &ia, NULL, "mhsa-infer", B, N, C, H, attention_max_threads(), 0);
        CHECK(mem_plan_alloc(&ip, &e) == ST_OK, "inference plan alloc");
        if (ip.base) {
            CHECK(ia.att == NULL, "inference plan keeps no probabilities");
            mhsa_forward(y2, &ia, x, attn_mask_i32(mask), &p, B, N, C, H);
            check_fwd(y2, m.y, n, "mhsa out (inference)");
            mem_plan_free(&ip);
        }
    }

    CHECK(mhsa_flops(B, N, C, H) == 4 * (2LL * B * N * C * C + (int64_t)B * N * C) +
                                       attention_flops(B, N, H, C / H),
          "mhsa_flops");

    free(m.theta), free(gd), free(m.q), free(m.k), free(m.v), free(m.a), free(m.y), free(fd);
    free(g1), free(dx1);
    mem_plan_free(&plan);
}

int main(void) {
    test_attention_small(0);
    test_attention_small(1);
    test_attention_large();
    test_attention_saturated();
    test_attention_dropout();
    test_mhsa();
    return check_exit("test_attention_grad");
}
