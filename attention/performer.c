/* performer.c: Performer FAVOR+ attention layer (see performer.h for the math, the
 * stabilising shifts and the FLOP count). Per (b, h):
 *     phi(Q) = exp(Q W^T / dh^{1/4} - ||q_i||^2 / (2 sqrt(dh)) - c_i) / sqrt(m)   (N, m)
 *     phi(K) = exp(K W^T / dh^{1/4} - ||k_j||^2 / (2 sqrt(dh)) - c) / sqrt(m), 0 if padded
 *     O = D^{-1} phi(Q) (phi(K)^T V),  D_i = phi(Q)_i . (phi(K)^T 1)
 * Q, K, V, O are (N, dh) views with row stride C into the (B, N, C) buffers. */
#include "attention/performer.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "attention/baseline_layer.h"
#include "attention/performer_internal.h"
#include "nn/fastexp.h"

size_t performer_work_size(int N, int m, int dh) {
    size_t n = (size_t)N, mm = (size_t)m;
    return 2 * n * mm + mm * (size_t)dh + mm + n;
}

AttnFlops performer_flops(int64_t N, int64_t n_real, int64_t C, int64_t H, int64_t m) {
    const int64_t dh = C / H;
    AttnFlops f;
    attn_flops_zero(&f);
    f.proj = 3 * (2 * N * C * C + N * C);
    f.out = 2 * N * C * C + N * C;
    if (n_real <= 0) return f;
    f.scores = H * (4 * N * m * dh);
    f.softmax = H * (N * (2 * dh + 2 + (3 + FASTEXP_FLOPS) * m) +
                     n_real * (2 * dh + 1 + (4 + FASTEXP_FLOPS) * m) + 1 + N * (2 * m + 2 + dh));
    f.values = H * (4 * N * m * dh);
    return f;
}

Status performer_init(PerformerLayer *L, int max_B, int max_N, int C, int H, int max_m,
                      uint64_t seed, Err *e) {
    memset(L, 0, sizeof *L);
    Status st = baseline_check_plan("performer_init", max_B, max_N, max_m, C, H, e);
    if (st) return st;
    L->max_B = max_B, L->max_N = max_N, L->max_m = max_m;
    L->C = C, L->H = H, L->dh = C / H;
    L->slices = attention_max_threads();
    L->work_len = performer_work_size(max_N, max_m, L->dh);
    st = performer_features_init(&L->feat, max_m, L->dh, seed, e);
    if (st != ST_OK) return st;
    const size_t bnc = (size_t)max_B * max_N * C, bn = (size_t)max_B * max_N;
    mem_plan_init(&L->plan);
    mem_plan_f32(&L->plan, &L->q, bnc, "performer.q");
    mem_plan_f32(&L->plan, &L->k, bnc, "performer.k");
    mem_plan_f32(&L->plan, &L->v, bnc, "performer.v");
    mem_plan_f32(&L->plan, &L->a, bnc, "performer.a");
    mem_plan_i32(&L->plan, &L->n_real, (size_t)max_B, "performer.n_real");
    mem_plan_u8(&L->plan, &L->keep, bn, "performer.keep");
    mem_plan_f32(&L->plan, &L->work, (size_t)L->slices * L->work_len, "performer.work");
    st = mem_plan_alloc(&L->plan, e);
    if (st != ST_OK) performer_features_free(&L->feat);
    return st;
}

void performer_free(PerformerLayer *L) {
    mem_plan_free(&L->plan);
    performer_features_free(&L->feat);
}

/* hn[i] = ||x_i||^2 / (2 sqrt(dh)) = ||x_i'||^2 / 2 for the rows i with keep[i] (NULL: all) */
static void half_sq_norms(float *hn /* (N) */, const float *x /* (N, dh), stride C */,
                          const uint8_t *keep, int N, int C, int dh) {
    const float s = 0.5f / sqrtf((float)dh);
    for (int i = 0; i < N; i++) {
        if (keep && !keep[i]) continue;
        const float *r = x + (size_t)i * C;
        float acc = 0.0f;
        for (int c = 0; c < dh; c++) acc += r[c] * r[c];
        hn[i] = acc * s;
    }
}

void performer_query_features(float *Qf, float *hn, const float *q, int N, int C, int dh, int m,
                              AttnFlops *f) {
    const float half_log_m = 0.5f * logf((float)m); /* 1/sqrt(m) = e^{-half_log_m} */
    /* per-row shift c_i = max_l (w_l^T q_i' - ||q_i'||^2/2) + log(m)/2 */
    half_sq_norms(hn, q, NULL, N, C, dh);
    for (int i = 0; i < N; i++) {
        float *r = Qf + (size_t)i * m;
        float mx = -INFINITY;
        for (int l = 0; l < m; l++) {
            r[l] -= hn[i];
            mx = r[l] > mx ? r[l] : mx;
        }
        const float c = mx + half_log_m;
        for (int l = 0; l < m; l++) r[l] = fastexp_neg(r[l] - c);
    }
    /* per row: norm 2 dh + 1, shift 1; per feature: subtract, max, subtract, exp */
    f->softmax += (int64_t)N * (2 * dh + 2 + (3 + FASTEXP_FLOPS) * (int64_t)m);
}

/* the core for one (b, h): out rows (N, dh) of head h of sequence b. W (m, dh) the features,
   work one work area, keep (N) the real-token flags, n_real their count. FLOPs to f. */
static void performer_pair(float *out, float *work, const float *q, const float *k,
                           const float *v, const float *W, const uint8_t *keep, int n_real,
                           int b, int h, int N, int H, int dh, int m, AttnFlops *f) {
    const int C = H * dh;
    const size_t base = (size_t)b * N * C + (size_t)h * dh;
    if (n_real == 0) { /* no real key: the core is 0, as in exact attention */
        for (int i = 0; i < N; i++) memset(out + base + (size_t)i * C, 0, (size_t)dh * 4);
        return;
    }
    const size_t nm = (size_t)N * m;
    float *Qf = work;              /* (N, m) phi(Q) */
    float *Kf = Qf + nm;           /* (N, m) phi(K) */
    float *KV = Kf + nm;           /* (m, dh) phi(K)^T V */
    float *ks = KV + (size_t)m * dh; /* (m) phi(K)^T 1 */
    float *hn = ks + m;            /* (N) half squared norms, then 1 / D */
    const float s4 = 1.0f / sqrtf(sqrtf((float)dh)); /* dh^{-1/4} */
    const float half_log_m = 0.5f * logf((float)m);  /* 1/sqrt(m) = e^{-half_log_m} */

    /* Qf = Q W^T / dh^{1/4}, Kf = K W^T / dh^{1/4}: (N, dh) x (m, dh)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, m, dh, s4, q + base, C, W, dh, 0.0f,
                Qf, m);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, m, dh, s4, k + base, C, W, dh, 0.0f,
                Kf, m);
    f->scores += 2 * 2 * (int64_t)nm * dh;

    /* query features: per-row shift c_i = max_l (w_l^T q_i' - ||q_i'||^2/2) + log(m)/2 */
    performer_query_features(Qf, hn, q + base, N, C, dh, m, f);

    /* key features: one shift c for the sequence (max over real keys and features);
       padded rows are 0 */
    half_sq_norms(hn, k + base, keep, N, C, dh);
    float mx = -INFINITY;
    for (int j = 0; j < N; j++) {
        float *r = Kf + (size_t)j * m;
        if (!keep[j]) {
            memset(r, 0, (size_t)m * sizeof(float));
            continue;
        }
        for (int l = 0; l < m; l++) {
            r[l] -= hn[j];
            mx = r[l] > mx ? r[l] : mx;
        }
    }
    const float c = mx + half_log_m;
    memset(ks, 0, (size_t)m * sizeof(float));
    for (int j = 0; j < N; j++) {
        if (!keep[j]) continue;
        float *r = Kf + (size_t)j * m;
        for (int l = 0; l < m; l++) {
            r[l] = fastexp_neg(r[l] - c);
            ks[l] += r[l];
        }
    }
    /* per real row: norm 2 dh + 1; per feature: subtract, max, subtract, exp, sum; one shift */
    f->softmax += (int64_t)n_real * (2 * dh + 1 + (4 + FASTEXP_FLOPS) * (int64_t)m) + 1;

    /* KV = phi(K)^T V: (N, m)^T x (N, dh); O = phi(Q) KV: (N, m) x (m, dh) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, dh, N, 1.0f, Kf, m, v + base, C,
                0.0f, KV, dh);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, dh, m, 1.0f, Qf, m, KV, dh, 0.0f,
                out + base, C);
    f->values += 2 * 2 * (int64_t)nm * dh;

    /* O_i /= D_i with D_i = phi(Q)_i . ks; D_i = 0 (total underflow) gives 0 */
    for (int i = 0; i < N; i++) {
        const float *r = Qf + (size_t)i * m;
        float d = 0.0f;
        for (int l = 0; l < m; l++) d += r[l] * ks[l];
        const float inv = d > 0.0f ? 1.0f / d : 0.0f;
        float *o = out + base + (size_t)i * C;
        for (int c2 = 0; c2 < dh; c2++) o[c2] *= inv;
    }
    /* per row: the dot product 2 m, the d > 0 compare, 1 / d, dh scalings */
    f->softmax += (int64_t)N * (2 * (int64_t)m + 2 + dh);
}


static void performer_pair_fn(const void *ctx, float *scratch, int b, int h, AttnFlops *f) {
    const PerformerCtx *c = ctx;
    performer_pair(c->a, scratch, c->q, c->k, c->v, c->W, c->keep + (size_t)b * c->N,
                   c->n_real[b], b, h, c->N, c->H, c->dh, c->m, f);
}

Status performer_forward(float *out, PerformerLayer *L, const float *inp, AttnMask key_mask,
                         const MhsaParams *p, int B, int N, int m, AttnFlops *flops, Err *e) {
    Status st = baseline_check("performer_forward", B, N, m, L->max_B, L->max_N, L->max_m,
                               L->C, L->H, e);
    if (st != ST_OK) return st;
    const int C = L->C, H = L->H, dh = L->dh, M = B * N;
    AttnFlops f;
    attn_flops_zero(&f);
    f.proj += baseline_project(L->q, L->k, L->v, inp, p, M, C);
    for (int b = 0; b < B; b++)
        L->n_real[b] = baseline_real_tokens(NULL, L->keep + (size_t)b * N, key_mask, b, N);

    PerformerCtx ctx = {L->a, L->q, L->k, L->v, L->feat.w, L->n_real, L->keep, N, H, dh, m};
    baseline_pairs(key_mask.causal ? performer_causal_pair_fn : performer_pair_fn, &ctx, L->work,
                   L->work_len, L->slices, B, H, &f);
    f.out += baseline_output(out, L->a, p, M, C);
    if (flops) attn_flops_add(flops, &f);
    return ST_OK;
}
