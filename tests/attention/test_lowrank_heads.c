/* test_lowrank_heads.c: the weight-level low-rank layer with a rank per segment and head
 * (attention/lowrank.h attn_lowrank_forward_heads; the paper's rank per head, layer and
 * segment), plain factors of a random layer (d = 32, H = 4, dh = 8, grid {2, 4, 8}), B = 2
 * sequences of N = 13 tokens (the second with 9 real), segments of T = 5 (3 segments):
 *   - heads sharing each segment's rank reproduce attn_lowrank_forward at those segment ranks
 *     bit for bit (output and counted FLOPs);
 *   - mixed per-head ranks against a double-precision reference written here from the factors
 *     (attention/factors.h: q~ = x~ A_h[:, :r], k~ = x~ B_h[:, :r], u~ = x~ C_h[:, :r],
 *     y = bo + sum_h softmax(q~ k~^T / sqrt(dh)) u~ D_h[:, :r]^T over the kept keys), with and
 *     without a causal mask: |ours - ref| <= 1e-5 of the output's scale on real rows;
 *   - counted FLOPs equal attn_lowrank_flops_heads and a closed form written here (non-causal);
 *   - causal: tokens after position n changed, every row at or before n bit-identical;
 *   - a rank outside the grid is an error naming the segment and head. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/factors.h"
#include "attention/kernel.h"
#include "attention/lowrank.h"
#include "tests/attention/util.h"
#include "tests/check.h"

enum { B = 2, N = 13, D = 32, H = 4, DH = D / H, T = 5, S = 3 };
static const int grid[3] = {2, 4, 8};
static const int lens[B] = {13, 9};

/* the double reference of the layer at per-head ranks rank (S, H) into ref (B, N, D) */
static void reference(double *ref, const AttnFactors *f, const float *x, const uint8_t *mask,
                      const int *rank, int causal) {
    const int d1 = D + 1;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N; i++) {
            double *y = ref + ((size_t)b * N + i) * D;
            for (int o = 0; o < D; o++) y[o] = f->bo[o];
            const float *xi = x + ((size_t)b * N + i) * D;
            for (int h = 0; h < H; h++) {
                const int r = rank[(i / T) * H + h];
                const float *A = f->a + (size_t)h * d1 * DH, *Bk = f->b + (size_t)h * d1 * DH;
                const float *Cv = f->c + (size_t)h * d1 * DH, *Dm = f->dm + (size_t)h * D * DH;
                double q[DH] = {0}, s[N], o[DH] = {0}, mx = -INFINITY, z = 0;
                for (int j = 0; j < r; j++) {
                    q[j] = A[(size_t)D * DH + j];
                    for (int c = 0; c < D; c++) q[j] += xi[c] * (double)A[(size_t)c * DH + j];
                }
                for (int t = 0; t < N; t++) {
                    s[t] = -INFINITY;
                    if (!mask[b * N + t] || (causal && t > i)) continue;
                    const float *xt = x + ((size_t)b * N + t) * D;
                    double dot = 0;
                    for (int j = 0; j < r; j++) {
                        double k = Bk[(size_t)D * DH + j];
                        for (int c = 0; c < D; c++) k += xt[c] * (double)Bk[(size_t)c * DH + j];
                        dot += q[j] * k;
                    }
                    s[t] = dot / sqrt((double)DH);
                    mx = fmax(mx, s[t]);
                }
                for (int t = 0; t < N; t++) {
                    if (s[t] == -INFINITY) continue;
                    const double p = exp(s[t] - mx);
                    z += p;
                    const float *xt = x + ((size_t)b * N + t) * D;
                    for (int j = 0; j < r; j++) {
                        double u = Cv[(size_t)D * DH + j];
                        for (int c = 0; c < D; c++) u += xt[c] * (double)Cv[(size_t)c * DH + j];
                        o[j] += p * u;
                    }
                }
                for (int oo = 0; oo < D; oo++)
                    for (int j = 0; j < r; j++) y[oo] += o[j] / z * Dm[(size_t)oo * DH + j];
            }
        }
}

/* the non-causal closed form, written out here: keys and values at r_max, the rest per
   (segment, head) at its rank, over B sequences of N tokens */
static int64_t closed_form(const int *rank) {
    int64_t rm = 0, fl;
    for (int i = 0; i < S * H; i++) rm = rank[i] > rm ? rank[i] : rm;
    fl = 2 * (2LL * B * N * D * H * rm + (int64_t)B * N * H * rm) + (int64_t)B * N * D;
    for (int s = 0; s < S; s++) {
        const int64_t m = s < S - 1 ? T : N - s * T;
        for (int h = 0; h < H; h++) {
            const int64_t r = rank[s * H + h], Ms = B * m;
            fl += 2 * Ms * D * r + Ms * r + 4 * Ms * N * r + 2 * Ms * r * D;
            fl += Ms * ((int64_t)ATTN_SOFTMAX_FLOPS * N + (int64_t)ATTN_NORM_FLOPS * r);
        }
    }
    return fl;
}

static double worst_rel(const float *y, const double *ref, const uint8_t *mask) {
    double scale = 0, worst = 0;
    for (int i = 0; i < B * N * D; i++) scale = fmax(scale, fabs(ref[i]));
    for (int i = 0; i < B * N * D; i++)
        if (mask[i / D]) worst = fmax(worst, fabs(y[i] - ref[i]) / scale);
    return worst;
}

int main(void) {
    Err e;
    err_clear(&e);
    Rng r;
    rng_init(&r, 20261207, 1);
    MhsaParams p;
    float *pbuf = tu_params_new(&p, D, &r, 1.0f, 0.5f);
    static float x[B * N * D], y[B * N * D], y2[B * N * D], x2[B * N * D];
    static double ref[B * N * D];
    tu_ln_inputs(x, B, N, D, 8, 7, &r);
    uint8_t mask[B * N];
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N; i++) mask[b * N + i] = i < lens[b];
    AttnFactors f;
    AttnLowrank L;
    CHECK(attn_factors_init(&f, D, H, &e) == ST_OK, "factors: %s", e.msg);
    CHECK(attn_factors_compute(&f, &p, NULL, 0, NULL, &e) == ST_OK, "factors: %s", e.msg);
    CHECK(attn_lowrank_init(&L, &f, grid, 3, B, N, &e) == ST_OK, "lowrank: %s", e.msg);
    const AttnMask km = attn_mask_u8(mask), kc = attn_mask_causal(km);

    /* heads sharing each segment's rank: the per-segment layer bit for bit */
    const int seg[S] = {8, 2, 4};
    int same[S * H];
    for (int s = 0; s < S; s++)
        for (int h = 0; h < H; h++) same[s * H + h] = seg[s];
    AttnFlops f1, f2;
    attn_flops_zero(&f1), attn_flops_zero(&f2);
    CHECK(attn_lowrank_forward_heads(y, &L, x, km, B, N, T, same, &f1, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_lowrank_forward(y2, &L, x, km, B, N, T, seg, &f2, &e) == ST_OK, "%s", e.msg);
    CHECK(!memcmp(y, y2, sizeof y) && !memcmp(&f1, &f2, sizeof f1),
          "per-head ranks equal per segment: not bit for bit the per-segment layer");

    /* mixed per-head ranks vs the double reference, plain and causal */
    const int mixed[S * H] = {2, 8, 4, 2, 8, 8, 2, 4, 4, 2, 2, 8};
    for (int causal = 0; causal < 2; causal++) {
        AttnFlops fl;
        attn_flops_zero(&fl);
        CHECK(attn_lowrank_forward_heads(y, &L, x, causal ? kc : km, B, N, T, mixed, &fl, &e) ==
                  ST_OK, "mixed: %s", e.msg);
        reference(ref, &f, x, mask, mixed, causal);
        const double w = worst_rel(y, ref, mask);
        printf("mixed per-head ranks%s: worst |ours - ref| / scale %.3g\n",
               causal ? " (causal)" : "", w);
        CHECK(w <= 1e-5, "mixed per-head ranks%s: %.3g off the reference", causal ? " (causal)" : "",
              w);
        const AttnFlops cf = attn_lowrank_flops_heads(B, N, D, H, T, mixed, causal,
                                                      attn_variant_default());
        CHECK(!memcmp(&fl, &cf, sizeof fl), "%s: counted FLOPs differ from the closed form",
              causal ? "causal" : "plain");
        if (!causal)
            CHECK(attn_flops_total(&fl) == closed_form(mixed), "FLOPs %lld, closed form %lld",
                  (long long)attn_flops_total(&fl), (long long)closed_form(mixed));
    }
    /* causal: later tokens leave earlier rows bit-identical */
    CHECK(attn_lowrank_forward_heads(y, &L, x, kc, B, N, T, mixed, NULL, &e) == ST_OK, "%s", e.msg);
    int bad = 0;
    for (int n = 0; n + 1 < N; n++) {
        memcpy(x2, x, sizeof x);
        for (int i = 0; i < B * N * D; i++)
            if ((i / D) % N > n) x2[i] += 0.5f;
        CHECK(attn_lowrank_forward_heads(y2, &L, x2, kc, B, N, T, mixed, NULL, &e) == ST_OK, "%s",
              e.msg);
        for (int i = 0; i < B * N * D; i++) bad += (i / D) % N <= n && memcmp(&y[i], &y2[i], 4);
    }
    CHECK(bad == 0, "causal: %d outputs changed with later tokens", bad);
    int wrong[S * H];
    memcpy(wrong, mixed, sizeof wrong);
    wrong[5] = 3;
    CHECK(attn_lowrank_forward_heads(y, &L, x, km, B, N, T, wrong, NULL, &e) == ST_INVALID &&
              strstr(e.msg, "segment 1 head 1: rank 3"), "rank outside the grid: %s", e.msg);
    attn_lowrank_free(&L);
    attn_factors_free(&f);
    free(pbuf);
    return check_exit("test_lowrank_heads");
}
