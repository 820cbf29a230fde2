/* test_attention_causal.c: the causal mask of the training attention (nn/attention.h,
 * AttnMask.causal), against an independent naive double-precision causal attention written
 * here from the definition
 *     P_ij = [j <= i] m_j exp(S_ij) / sum_{l <= i, m_l = 1} exp(S_il),  S = Q K^T / sqrt(dh),
 *     O = P V,
 * with B = 2, N = 7, H = 2, dh = 3 and a key padding mask (the second row has 4 real tokens):
 *   - forward (out and P) vs the double reference (FWD_RTOL / FWD_ATOL of attn_grad_util.h);
 *   - P_ij exactly 0 for every j > i;
 *   - no output depends on a later token: q, k and v of positions > n changed, rows <= n of
 *     the output bit-identical, for every n;
 *   - backward vs central finite differences of the double reference for every element of
 *     q, k and v (GRAD_TOL), so later keys and values get exactly the gradient they should
 *     (zero from earlier queries);
 *   - the inference path (att NULL, scratch) equals the training path bit for bit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/rng.h"
#include "nn/attention.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/nn/attn_grad_util.h"
#include "tests/ref.h"

enum { B = 2, N = 7, H = 2, DH = 3, C = H * DH, NX = B * N * C };

static const uint8_t t_mask[B * N] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};

typedef struct {
    double q[NX], k[NX], v[NX], g[NX], out[NX], P[B * H * N * N];
} Ctx;

/* the naive causal masked attention in double */
static void ref_causal(Ctx *c) {
    const double sc = 1.0 / sqrt((double)DH);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                double s[N], mx = -INFINITY, z = 0.0;
                int any = 0;
                for (int j = 0; j < N; j++) {
                    s[j] = 0.0;
                    for (int d = 0; d < DH; d++)
                        s[j] += c->q[((b * N + i) * C) + h * DH + d] *
                                c->k[((b * N + j) * C) + h * DH + d];
                    s[j] *= sc;
                    if (j <= i && t_mask[b * N + j]) mx = any++ ? fmax(mx, s[j]) : s[j];
                }
                for (int j = 0; j < N; j++)
                    z += j <= i && t_mask[b * N + j] ? exp(s[j] - mx) : 0.0;
                double *p = c->P + (((size_t)b * H + h) * N + i) * N;
                for (int j = 0; j < N; j++)
                    p[j] = any && j <= i && t_mask[b * N + j] ? exp(s[j] - mx) / z : 0.0;
                for (int d = 0; d < DH; d++) {
                    double o = 0.0;
                    for (int j = 0; j < N; j++) o += p[j] * c->v[((b * N + j) * C) + h * DH + d];
                    c->out[((b * N + i) * C) + h * DH + d] = o;
                }
            }
}

static double loss(void *p) {
    Ctx *c = p;
    ref_causal(c);
    return ref_dot(c->g, c->out, NX);
}

int main(void) {
    Rng r;
    rng_init(&r, 20261207, 1);
    float q[NX], k[NX], v[NX], g[NX], out[NX], att[B * H * N * N];
    ref_fill_randn(&r, q, NX, 0.5, 2.0, 0.1);
    ref_fill_randn(&r, k, NX, 0.5, 2.0, 0.1);
    ref_fill_randn(&r, v, NX, 0.5, 2.0, 0.1);
    ref_fill_randn(&r, g, NX, 0.3, 1.5, 0.1);
    static Ctx c;
    ref_to_double(c.q, q, NX), ref_to_double(c.k, k, NX), ref_to_double(c.v, v, NX);
    ref_to_double(c.g, g, NX);
    const AttnMask km = attn_mask_causal(attn_mask_u8(t_mask));
    const size_t slen = attention_scratch_size(N, attention_max_threads());
    static float scratch[64 * N * N];
    CHECK(slen <= sizeof scratch / sizeof scratch[0], "scratch too small for %zu", slen);

    attention_forward(out, att, NULL, 0, q, k, v, km, B, N, H, DH);
    ref_causal(&c);
    check_fwd(out, c.out, NX, "causal out");
    check_fwd(att, c.P, (size_t)B * H * N * N, "causal P");
    int upper = 0;
    for (int bh = 0; bh < B * H; bh++)
        for (int i = 0; i < N; i++)
            for (int j = i + 1; j < N; j++) upper += att[((size_t)bh * N + i) * N + j] != 0.0f;
    CHECK(upper == 0, "causal: %d probabilities of later keys are not exactly 0", upper);

    /* no output depends on a later token */
    for (int n = 0; n + 1 < N; n++) {
        float q2[NX], k2[NX], v2[NX], out2[NX];
        memcpy(q2, q, sizeof q), memcpy(k2, k, sizeof k), memcpy(v2, v, sizeof v);
        for (int i = 0; i < NX; i++)
            if ((i / C) % N > n) q2[i] += 3.0f, k2[i] -= 2.0f, v2[i] *= -4.0f;
        attention_forward(out2, NULL, scratch, slen, q2, k2, v2, km, B, N, H, DH);
        int bad = 0;
        for (int i = 0; i < NX; i++) bad += (i / C) % N <= n && memcmp(&out2[i], &out[i], 4);
        CHECK(bad == 0, "causal: %d outputs at or before %d changed with later tokens", bad, n);
    }

    /* the inference path equals the training path bit for bit */
    float out3[NX];
    attention_forward(out3, NULL, scratch, slen, q, k, v, km, B, N, H, DH);
    CHECK(memcmp(out3, out, sizeof out) == 0, "causal: inference path differs");

    /* backward vs finite differences */
    float dq[NX] = {0}, dk[NX] = {0}, dv[NX] = {0};
    attention_backward(dq, dk, dv, scratch, slen, g, att, q, k, v, B, N, H, DH);
    double fq[NX], fk[NX], fv[NX];
    fd_grad(fq, c.q, NX, loss, &c);
    fd_grad(fk, c.k, NX, loss, &c);
    fd_grad(fv, c.v, NX, loss, &c);
    printf("causal dq worst %.2e, dk %.2e, dv %.2e (tol %.0e)\n",
           check_grad(dq, fq, NX, "causal dq"), check_grad(dk, fk, NX, "causal dk"),
           check_grad(dv, fv, NX, "causal dv"), GRAD_TOL);
    return check_exit("test_attention_causal");
}
