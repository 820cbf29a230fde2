/* performer_causal.c: causal FAVOR+ (Choromanski et al. 2021, section 2.6, unidirectional
 * attention by prefix sums) for one (b, h); the features, phi and the query shift are those of
 * performer.h. For the query at position i, over the kept keys j <= i:
 *     S_i = sum_{j <= i} phi(k_j) v_j^T   (m, dh),      z_i = sum_{j <= i} phi(k_j)   (m)
 *     out_i = phi(q_i)^T S_i / (phi(q_i)^T z_i)          (0 when the denominator is 0)
 * computed in one pass over the positions: S and z are updated with key i, then row i is read
 * off them, so row i reads nothing at a later position (bit for bit: the feature GEMMs treat
 * each row alone, and the pass has not reached later rows yet).
 *
 * Key shift. The bidirectional core shifts every key's exponent by one constant, the maximum
 * over the whole sequence, which would let later keys change earlier rows (in rounding, and by
 * underflow). Here the shift is the running maximum c_i = max_{kept j <= i} max_l e_jl (plus
 * log(m)/2, e_jl = w_l^T k_j' - ||k_j'||^2/2), a prefix quantity: when key i raises it from c
 * to c', S and z (held at scale e^{-c}) are rescaled by e^{c - c'} <= 1 before key i is added,
 * so they are always at scale e^{-c_i} and no exponent exceeds 0. A common factor of S_i and
 * z_i cancels in out_i, so this is exactly the formula above. (A data-independent shift, e.g.
 * max_l ||w_l||^2 / 2 >= e_jl, avoids the rescaling but underflows keys of large norm, which
 * can be the dominant keys of the exact softmax: not used.)
 *
 * FLOPs, counted as run (E = FASTEXP_FLOPS), per (b, h) with N positions, n_real kept keys and
 * R rescalings (increases of the running maximum after the first kept key):
 *   scores   4 N m dh                             Q W^T, K W^T (all N rows)
 *   softmax  N (2 dh + 2 + (3 + E) m)             query phi (performer_query_features)
 *            n_real (2 dh + 3 + (4 + E) m)        per kept key: norm 2 dh + 1, subtract and
 *                                                 max per feature, shifted max 1, compare 1,
 *                                                 subtract, exp and z's add per feature
 *            R (1 + E + m (dh + 1))               e^{c - c'} and the rescaling of S and z
 *            N (2 m + 2 + dh)                     phi(q_i)^T z_i, the > 0 test, 1 / D, scaling
 *   values   2 n_real m dh + 2 N m dh             S += phi(k_i) v_i^T, phi(q_i)^T S_i
 * (performer_flops_causal; n_real = 0: no core work, output 0, as the bidirectional core). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "attention/performer.h"
#include "attention/performer_internal.h"
#include "nn/fastexp.h"

AttnFlops performer_flops_causal(int64_t N, int64_t n_real, int64_t C, int64_t H, int64_t m,
                                 int64_t rescales) {
    const int64_t dh = C / H, E = FASTEXP_FLOPS;
    AttnFlops f;
    attn_flops_zero(&f);
    f.proj = 3 * (2 * N * C * C + N * C);
    f.out = 2 * N * C * C + N * C;
    if (n_real <= 0) return f;
    f.scores = H * 4 * N * m * dh;
    f.softmax = H * (N * (2 * dh + 2 + (3 + E) * m) + n_real * (2 * dh + 3 + (4 + E) * m) +
                     N * (2 * m + 2 + dh)) +
                rescales * (1 + E + m * (dh + 1));
    f.values = H * (2 * n_real * m * dh + 2 * N * m * dh);
    return f;
}

/* kf (m) <- e_il - ||k_i'||^2/2 (kf holds w_l^T k_i' on entry); returns max_l of it. The norm
   is 2 dh + 1 FLOPs, the loop 2 per feature. */
static float key_exponents(float *kf, const float *k, int dh, int m) {
    float acc = 0.0f;
    for (int c = 0; c < dh; c++) acc += k[c] * k[c];
    const float hn = acc * (0.5f / sqrtf((float)dh));
    float mx = -INFINITY;
    for (int l = 0; l < m; l++) {
        kf[l] -= hn;
        mx = kf[l] > mx ? kf[l] : mx;
    }
    return mx;
}

/* the prefix-sum pass over positions 0..N-1 of one (b, h); Qf (N, m) phi(Q), Kf (N, m) the
   key GEMM (row i becomes phi(k_i)), S (m, dh), z (m); out, k, v rows of stride C (distinct
   buffers: restrict lets the loops over features and coordinates vectorise). Returns the
   rescalings. */
static int64_t prefix_pass(float *restrict out, const float *restrict Qf, float *restrict Kf,
                           float *restrict S, float *restrict z, const float *restrict k,
                           const float *restrict v, const uint8_t *keep, int N, int C, int dh,
                           int m) {
    const float half_log_m = 0.5f * logf((float)m);
    float c = -INFINITY; /* the running shift; S and z are at scale e^{-c} */
    int64_t rescales = 0;
    memset(S, 0, sizeof(float) * (size_t)m * dh);
    memset(z, 0, sizeof(float) * (size_t)m);
    for (int i = 0; i < N; i++) {
        const float *vi = v + (size_t)i * C;
        if (keep[i]) {
            float *kf = Kf + (size_t)i * m;
            const float ci = key_exponents(kf, k + (size_t)i * C, dh, m) + half_log_m;
            if (ci > c) {
                if (c > -INFINITY) { /* rescale the sums from e^{-c} to e^{-ci} */
                    const float a = fastexp_neg(c - ci);
                    for (size_t t = 0; t < (size_t)m * dh; t++) S[t] *= a;
                    for (int l = 0; l < m; l++) z[l] *= a;
                    rescales++;
                }
                c = ci;
            }
            for (int l = 0; l < m; l++) kf[l] = fastexp_neg(kf[l] - c); /* phi(k_i) */
            for (int l = 0; l < m; l++) z[l] += kf[l];
            for (int l = 0; l < m; l++) { /* S += phi(k_i) v_i^T */
                const float p = kf[l];
                float *Sl = S + (size_t)l * dh;
                for (int t = 0; t < dh; t++) Sl[t] += p * vi[t];
            }
        }
        /* out_i = phi(q_i)^T S / phi(q_i)^T z */
        const float *qf = Qf + (size_t)i * m;
        float *o = out + (size_t)i * C, d = 0.0f;
        memset(o, 0, sizeof(float) * (size_t)dh);
        for (int l = 0; l < m; l++) d += qf[l] * z[l];
        for (int l = 0; l < m; l++) {
            const float *Sl = S + (size_t)l * dh, a = qf[l];
            for (int t = 0; t < dh; t++) o[t] += a * Sl[t];
        }
        const float inv = d > 0.0f ? 1.0f / d : 0.0f;
        for (int t = 0; t < dh; t++) o[t] *= inv;
    }
    return rescales;
}

void performer_causal_pair_fn(const void *ctx, float *scratch, int b, int h, AttnFlops *f) {
    const PerformerCtx *x = ctx;
    const int N = x->N, H = x->H, dh = x->dh, m = x->m, C = H * dh;
    const int n_real = x->n_real[b];
    const size_t base = (size_t)b * N * C + (size_t)h * dh, nm = (size_t)N * m;
    if (n_real == 0) { /* no real key: the core is 0, as in exact attention */
        for (int i = 0; i < N; i++) memset(x->a + base + (size_t)i * C, 0, (size_t)dh * 4);
        return;
    }
    float *Qf = scratch;                 /* (N, m) phi(Q) */
    float *Kf = Qf + nm;                 /* (N, m) key exponents */
    float *S = Kf + nm;                  /* (m, dh) prefix sum of phi(k_j) v_j^T */
    float *z = S + (size_t)m * dh;       /* (m) prefix sum of phi(k_j) */
    float *hn = z + m;                   /* (N) half squared query norms */
    const float s4 = 1.0f / sqrtf(sqrtf((float)dh)); /* dh^{-1/4} */
    /* Qf = Q W^T / dh^{1/4}, Kf = K W^T / dh^{1/4}: (N, dh) x (m, dh)^T, row by row the same */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, m, dh, s4, x->q + base, C, x->W, dh,
                0.0f, Qf, m);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, m, dh, s4, x->k + base, C, x->W, dh,
                0.0f, Kf, m);
    f->scores += 2 * 2 * (int64_t)nm * dh;
    performer_query_features(Qf, hn, x->q + base, N, C, dh, m, f);
    const uint8_t *keep = x->keep + (size_t)b * N;
    const int64_t R = prefix_pass(x->a + base, Qf, Kf, S, z, x->k + base, x->v + base, keep, N,
                                  C, dh, m);
    const int64_t E = FASTEXP_FLOPS;
    f->softmax += (int64_t)n_real * (2 * dh + 3 + (4 + E) * m) + R * (1 + E + (int64_t)m * (dh + 1)) +
                  (int64_t)N * (2 * (int64_t)m + 2 + dh);
    f->values += 2 * (int64_t)n_real * m * dh + 2 * (int64_t)N * m * dh;
}
