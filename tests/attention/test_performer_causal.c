/* test_performer_causal.c: causal FAVOR+ (attention/performer.h, performer_causal.c):
 *  - against a double-precision reference of the same formula written here, from the layer's
 *    own features: out_i = sum_{kept j <= i} (phi(q_i) . phi(k_j)) v_j / sum_{kept j <= i}
 *    phi(q_i) . phi(k_j), phi(x)_l = exp(w_l . x' - ||x'||^2 / 2), x' = x / dh^{1/4}, no
 *    shifts (they cancel); relative Frobenius error of the attention output < 2e-5, with and
 *    without a key mask (a sequence with its first tokens padded, one with a hole, one all
 *    padded: output 0);
 *  - counted FLOPs equal the closed form written out here with the number of rescalings R
 *    (increases of the running maximum of a key's largest exponent, counted in the double
 *    reference) and equal performer_flops_causal with that R;
 *  - causality bit for bit: the inputs at a position t and at the last position redrawn leave
 *    every output row before t identical (memcmp) and change row t;
 *  - it approaches exact causal softmax attention (double, written here) as the features grow:
 *    the mean relative error over 4 feature seeds at m = 256 is at most half that at m = 16
 *    (the bidirectional check of test_baselines_approx, same scales). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/performer.h"
#include "tests/attention/baselines_util.h"
#include "tests/attention/causal_util.h"
#include "tests/check.h"

#define NAME "test_performer_causal"

/* rows (B N) of x (B, N, C) times W^T + b, in double */
static void project(double *out, const float *x, const float *W, const float *b, int M, int C) {
    for (int i = 0; i < M; i++)
        for (int o = 0; o < C; o++) {
            double a = b[o];
            for (int t = 0; t < C; t++) a += (double)x[(size_t)i * C + t] * W[(size_t)o * C + t];
            out[(size_t)i * C + o] = a;
        }
}

/* exponents e_l(x) = w_l . x' - ||x'||^2 / 2 of one head's row x (dh) */
static void exponents(double *e, const double *x, const float *W, int dh, int m) {
    const double s4 = pow((double)dh, -0.25);
    double n2 = 0;
    for (int c = 0; c < dh; c++) n2 += x[c] * s4 * x[c] * s4;
    for (int l = 0; l < m; l++) {
        double a = 0;
        for (int c = 0; c < dh; c++) a += W[(size_t)l * dh + c] * x[c] * s4;
        e[l] = a - n2 / 2;
    }
}

/* a (B, N, C): performer (W non-NULL, m features) or exact (W NULL) causal attention in
   double; rescales[b] += the rescalings of sequence b's heads (performer) */
static void reference(double *a, const float *x, const int32_t *mask, const MhsaParams *p,
                      const float *W, int m, int B, int N, int C, int H, int64_t *rescales) {
    const int dh = C / H, M = B * N;
    double *q = malloc(sizeof(double) * M * C), *k = malloc(sizeof(double) * M * C);
    double *v = malloc(sizeof(double) * M * C), *s = malloc(sizeof(double) * N);
    double *pr = malloc(sizeof(double) * N), *eq = malloc(sizeof(double) * m);
    double *ek = malloc(sizeof(double) * (size_t)N * m);
    project(q, x, p->wq, p->bq, M, C), project(k, x, p->wk, p->bk, M, C);
    project(v, x, p->wv, p->bv, M, C);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const size_t base = (size_t)b * N * C + (size_t)h * dh;
            const int32_t *kb = mask ? mask + (size_t)b * N : NULL;
            double run = -INFINITY;
            for (int j = 0; j < N && W; j++) {
                exponents(ek + (size_t)j * m, k + base + (size_t)j * C, W, dh, m);
                double mx = -INFINITY;
                for (int l = 0; l < m; l++) mx = ek[(size_t)j * m + l] > mx ? ek[(size_t)j * m + l] : mx;
                if (kb && !kb[j]) continue;
                if (mx > run && run > -INFINITY) rescales[b]++;
                run = mx > run ? mx : run;
            }
            for (int i = 0; i < N; i++) {
                if (W) exponents(eq, q + base + (size_t)i * C, W, dh, m);
                for (int j = 0; j <= i; j++) {
                    double t = 0;
                    if (W)
                        for (int l = 0; l < m; l++) t += exp(eq[l] + ek[(size_t)j * m + l]);
                    else
                        for (int c = 0; c < dh; c++)
                            t += q[base + (size_t)i * C + c] * k[base + (size_t)j * C + c];
                    s[j] = W ? t : t / sqrt((double)dh); /* performer: the kernel itself */
                }
                if (W) { /* pr_j = kernel over the kept keys, normalised */
                    double sum = 0;
                    for (int j = 0; j <= i; j++) sum += pr[j] = (!kb || kb[j]) ? s[j] : 0.0;
                    for (int j = 0; j <= i; j++) pr[j] = sum > 0 ? pr[j] / sum : 0.0;
                } else {
                    cu_softmax_row(pr, s, kb, i);
                }
                for (int c = 0; c < dh; c++) {
                    double o = 0;
                    for (int j = 0; j <= i; j++) o += pr[j] * v[base + (size_t)j * C + c];
                    a[base + (size_t)i * C + c] = o;
                }
            }
        }
    free(q), free(k), free(v), free(s), free(pr), free(eq), free(ek);
}

static double rel_err(const float *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
    return sqrt(num / (den > 0 ? den : 1));
}

/* the closed form of one sequence with n_real real tokens and R rescalings (E = 24) */
static AttnFlops closed(int64_t N, int64_t nr, int64_t C, int64_t H, int64_t m, int64_t R) {
    const int64_t dh = C / H;
    AttnFlops f;
    attn_flops_zero(&f);
    f.proj = 3 * (2 * N * C * C + N * C);
    f.out = 2 * N * C * C + N * C;
    if (nr == 0) return f;
    f.scores = H * 4 * N * m * dh;
    f.softmax = H * (N * (2 * dh + 2 + 27 * m) + nr * (2 * dh + 3 + 28 * m) + N * (2 * m + 2 + dh)) +
                R * (1 + 24 + m * dh + m);
    f.values = H * (2 * nr * m * dh + 2 * N * m * dh);
    return f;
}

static void formula(int masked) {
    enum { B = 3, N = 40, C = 32, H = 2, M = 64 };
    Rng r;
    rng_init(&r, 5, 5);
    const size_t n = (size_t)B * N * C;
    float *x = malloc(n * 4), *x0 = malloc(n * 4), *y = malloc(n * 4), *y2 = malloc(n * 4);
    float *a1 = malloc(n * 4);
    double *ref = malloc(n * sizeof(double));
    int32_t mask[B * N];
    for (int j = 0; j < N; j++) {
        mask[j] = j >= 3 && j != 20;     /* first tokens padded, a hole */
        mask[N + j] = j < N - 7;         /* shorter */
        mask[2 * N + j] = 0;             /* all padded */
    }
    fill_normal(x, n, 1.0, &r);
    memcpy(x0, x, n * 4);
    Weights w;
    weights_init(&w, C, 0.5 / sqrt((double)C), 0.05, &r);
    PerformerLayer L;
    Err e;
    CHECK(performer_init(&L, B, N, C, H, M, 7, &e) == ST_OK, "%s", e.msg);
    const AttnMask am = attn_mask_causal(masked ? attn_mask_i32(mask) : attn_mask_none());
    AttnFlops fl;
    attn_flops_zero(&fl);
    CHECK(performer_forward(y, &L, x, am, &w.p, B, N, M, &fl, &e) == ST_OK, "%s", e.msg);
    int64_t R[B] = {0, 0, 0};
    reference(ref, x, masked ? mask : NULL, &w.p, L.feat.w, M, B, N, C, H, R);
    const double err = rel_err(L.a, ref, n);
    AttnFlops want, lib;
    attn_flops_zero(&want), attn_flops_zero(&lib);
    for (int b = 0; b < B; b++) {
        int nr = 0;
        for (int j = 0; j < N; j++) nr += masked ? mask[b * N + j] != 0 : 1;
        AttnFlops one = closed(N, nr, C, H, M, R[b]), two = performer_flops_causal(N, nr, C, H, M, R[b]);
        attn_flops_add(&want, &one), attn_flops_add(&lib, &two);
    }
    printf("performer causal m=%d mask=%d: rel err vs the double formula %.3g, rescalings %lld "
           "%lld %lld\n", M, masked, err, (long long)R[0], (long long)R[1], (long long)R[2]);
    CHECK(err < 2e-5, "mask=%d: rel err %g", masked, err);
    CHECK(cu_flops_eq(&fl, &want), "mask=%d: flops %lld (softmax %lld values %lld) vs closed form "
          "%lld (%lld %lld)", masked, (long long)attn_flops_total(&fl), (long long)fl.softmax,
          (long long)fl.values, (long long)attn_flops_total(&want), (long long)want.softmax,
          (long long)want.values);
    CHECK(cu_flops_eq(&lib, &want), "performer_flops_causal differs from the closed form");
    if (masked)
        for (size_t i = 2 * (size_t)N * C; i < n; i++)
            CHECK(L.a[i] == 0.0f, "all-padded sequence: attention output %g at %zu", L.a[i], i);
    memcpy(a1, L.a, n * 4);
    for (int t = N / 4; t < N - 1; t += N / 4) { /* causality, bit for bit */
        cu_perturb(x, B, N, C, t, &r);
        CHECK(performer_forward(y2, &L, x, am, &w.p, B, N, M, NULL, &e) == ST_OK, "%s", e.msg);
        int changed = 0, changed_a = 0;
        CHECK(cu_prefix_same(y, y2, B, N, C, t, &changed), "mask=%d: the input at position %d "
              "changed an earlier output row", masked, t);
        CHECK(cu_prefix_same(a1, L.a, B, N, C, t, &changed_a), "mask=%d: position %d changed an "
              "earlier attention row", masked, t);
        CHECK(changed && changed_a, "mask=%d: position %d did not change its own row", masked, t);
        memcpy(x, x0, n * 4);
    }
    performer_free(&L);
    free(w.buf), free(x), free(x0), free(y), free(y2), free(a1), free(ref);
}

/* the error against exact causal softmax attention falls as the features grow */
static void convergence(void) {
    enum { B = 1, N = 64, C = 32, H = 2, NSEED = 4 };
    Rng r;
    rng_init(&r, 9, 9);
    const size_t n = (size_t)B * N * C;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    double *ae = malloc(n * sizeof(double));
    fill_normal(x, n, 1.0, &r);
    Weights w;
    weights_init(&w, C, 0.5 / sqrt((double)C), 0.05, &r);
    reference(ae, x, NULL, &w.p, NULL, 1, B, N, C, H, NULL);
    const int ms[2] = {16, 256};
    double mean[2] = {0, 0};
    Err e;
    for (int k = 0; k < 2; k++) {
        for (int s = 0; s < NSEED; s++) {
            PerformerLayer L;
            CHECK(performer_init(&L, B, N, C, H, ms[k], 100 + (uint64_t)s, &e) == ST_OK, "%s",
                  e.msg);
            CHECK(performer_forward(y, &L, x, attn_mask_causal(attn_mask_none()), &w.p, B, N,
                                    ms[k], NULL, &e) == ST_OK, "%s", e.msg);
            mean[k] += rel_err(L.a, ae, n) / NSEED;
            performer_free(&L);
        }
        printf("performer causal m=%-4d mean rel err of the attention output vs exact causal "
               "attention (%d seeds): %.4f\n", ms[k], NSEED, mean[k]);
    }
    CHECK(mean[1] <= 0.5 * mean[0], "m=256 error %.4f not below half of m=16 error %.4f", mean[1],
          mean[0]);
    free(w.buf), free(x), free(y), free(ae);
}

int main(void) {
    formula(0);
    formula(1);
    convergence();
    return check_exit(NAME);
}
