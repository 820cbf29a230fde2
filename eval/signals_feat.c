/* signals_feat.c: drrl-signals' per-sequence measurements (signals_feat.h). The projections
 * are one sgemm per head and side on the sequence's real rows. */
#include "eval/signals_feat.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/logits.h"

void sig_head(const Bert *m, const float *x0, float *work, double *margin, double *entropy) {
    const int C = m->c.d_model, K = m->c.n_classes;
    float *pooled = work, *z = work + 2 * C; /* work + C: spare */
    linear_forward(pooled, x0, m->p.pool_w, m->p.pool_b, 1, C, C);
    tanh_forward(pooled, pooled, (size_t)C);
    linear_forward(z, pooled, m->p.cls_w, m->p.cls_b, 1, C, K);
    double lp[64], h = 0;
    const int KK = K < 64 ? K : 64;
    logits_log_softmax(lp, z, KK);
    for (int k = 0; k < KK; k++) h -= exp(lp[k]) * lp[k];
    *entropy = h;
    if (K == 2) {
        *margin = fabs((double)z[1] - z[0]);
        return;
    }
    const int top = logits_argmax(z, K);
    *margin = logits_margin(z, K, top);
}

int64_t sig_head_flops(int C, int K) {
    return linear_flops(1, C, C) + linear_bias_flops(1, C) + C + linear_flops(1, C, K) +
           linear_bias_flops(1, K) + 4 * (int64_t)K;
}

double sig_relerr(const float *a, const float *b, int n, int C) {
    double dd = 0, bb = 0;
    for (size_t i = 0; i < (size_t)n * C; i++) {
        const double d = (double)a[i] - b[i];
        dd += d * d, bb += (double)b[i] * b[i];
    }
    return bb > 0 ? sqrt(dd / bb) : dd > 0 ? INFINITY : 0.0;
}

int64_t sig_relerr_flops(int n, int C) { return 5 * (int64_t)n * C + 2; }

void sig_rownorm(const float *x, int n, int C, double *mean, double *std) {
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) {
        double q = 0;
        for (int c = 0; c < C; c++) q += (double)x[(size_t)i * C + c] * x[(size_t)i * C + c];
        const double v = sqrt(q / C);
        s += v, ss += v * v;
    }
    *mean = s / n;
    const double var = ss / n - *mean * *mean;
    *std = var > 0 ? sqrt(var) : 0.0;
}

int64_t sig_rownorm_flops(int n, int C) { return 2 * (int64_t)n * C + 4 * (int64_t)n + 4; }

/* P = x~ S_h (n, w): x (n, C) times rows 0..C-1 of S_h (C+1, w), plus its bias row C */
static void project(float *P, const float *x, int n, int C, const float *S, int w) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, w, C, 1.0f, x, C, S, w, 0.0f, P, w);
    const float *bias = S + (size_t)C * w;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < w; k++) P[(size_t)i * w + k] += bias[k];
}

/* sums of squares of P's columns [0, r) into *kept and [r, w) into *out */
static void split_energy(const float *P, int n, int w, int r, double *kept, double *out) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < w; k++) {
            const double v = P[(size_t)i * w + k];
            if (k < r) *kept += v * v;
            else *out += v * v;
        }
}

void sig_energy(const AttnFactors *f, const float *x, int n, int r, float *work, double out[3]) {
    const float *side[3] = {f->a, f->b, f->c};
    const int C = f->d, dh = f->dh;
    for (int s = 0; s < 3; s++) {
        double kept = 0, outside = 0;
        for (int h = 0; h < f->H; h++) {
            project(work, x, n, C, side[s] + (size_t)h * (C + 1) * dh, dh);
            split_energy(work, n, dh, r, &kept, &outside);
        }
        out[s] = kept + outside > 0 ? outside / (kept + outside) : 0.0;
    }
}

int64_t sig_energy_flops(int n, int C, int H, int dh) {
    return (int64_t)H * n * dh * (2 * (int64_t)C + 3);
}

Status sig_sketch_init(SigSketch *sk, const AttnFactors *white, int L, int r, int k,
                       uint64_t seed, Err *e) {
    memset(sk, 0, sizeof *sk);
    const int C = white[0].d, H = white[0].H, dh = white[0].dh, w = r + k;
    if (r < 1 || r >= dh || k < 1)
        return err_set(e, ST_INVALID, "sig_sketch_init: expected 1 <= r < %d and k >= 1, found "
                       "r=%d k=%d", dh, r, k);
    *sk = (SigSketch){.L = L, .C = C, .H = H, .dh = dh, .r = r, .k = k, .w = w};
    const size_t per = (size_t)(C + 1) * w;
    sk->s = malloc(sizeof(float) * (size_t)L * 3 * H * per);
    double *g = malloc(sizeof(double) * (size_t)(dh - r) * k);
    if (!sk->s || !g) {
        free(g), sig_sketch_free(sk);
        return err_set(e, ST_NOMEM, "sig_sketch_init: out of memory");
    }
    Rng rng;
    rng_init(&rng, seed, 17);
    for (int l = 0; l < L; l++) {
        const float *side[3] = {white[l].a, white[l].b, white[l].c};
        for (int s = 0; s < 3; s++)
            for (int h = 0; h < H; h++) {
                for (int j = 0; j < (dh - r) * k; j++) g[j] = rng_normal(&rng) / sqrt((double)k);
                const float *S = side[s] + (size_t)h * (C + 1) * dh;
                float *T = sk->s + (((size_t)l * 3 + s) * H + h) * per;
                for (int i = 0; i <= C; i++) {
                    const float *si = S + (size_t)i * dh;
                    for (int c = 0; c < r; c++) T[(size_t)i * w + c] = si[c];
                    for (int c = 0; c < k; c++) {
                        double v = 0;
                        for (int j = r; j < dh; j++) v += si[j] * g[(size_t)(j - r) * k + c];
                        T[(size_t)i * w + r + c] = (float)v;
                    }
                }
            }
    }
    free(g);
    return ST_OK;
}

void sig_sketch_free(SigSketch *sk) {
    free(sk->s);
    sk->s = NULL;
}

double sig_sketch(const SigSketch *sk, int l, const float *x, int n, float *work) {
    const size_t per = (size_t)(sk->C + 1) * sk->w;
    double kept = 0, outside = 0;
    for (int s = 0; s < 3; s++)
        for (int h = 0; h < sk->H; h++) {
            project(work, x, n, sk->C, sk->s + (((size_t)l * 3 + s) * sk->H + h) * per, sk->w);
            split_energy(work, n, sk->w, sk->r, &kept, &outside);
        }
    return kept + outside > 0 ? outside / (kept + outside) : 0.0;
}

int64_t sig_sketch_flops(const SigSketch *sk, int n) {
    return 3 * (int64_t)sk->H * n * sk->w * (2 * (int64_t)sk->C + 3);
}
