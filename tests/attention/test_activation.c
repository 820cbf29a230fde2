/* test_activation.c: activation-level factors (attention/activation.h).
 *  - optimality: for every (b, h), q~ k~^T equals the best rank-r approximation of the
 *    (masked) Q_h K_h^T: its squared Frobenius error equals sum_{i>r} sigma_i^2 of an
 *    independent double SVD (LAPACKE_dgesdd on the full N x N product) to 1e-6 of
 *    ||Q K^T||_F^2 (float32 coordinates; measured about 1e-13);
 *  - r = dh: equals exact attention (nn/mhsa) with biases and masks, rel err < 1e-5; counted
 *    scores, values and softmax FLOPs equal their closed forms;
 *  - N < dh (thin QR with fewer rows than columns) works;
 *  - padded positions change nothing at real positions (bit-identical). */
#include <lapacke.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/activation.h"
#include "tests/attention/util.h"
#include "tests/check.h"

#define NAME "test_activation"

/* squared Frobenius error of q~ k~^T against Q K^T (double) and the optimal one, for (b, h) */
static void optimality(const AttnActivation *A, const int32_t *mask, int b, int h, int N, int r,
                       double *ours, double *best, double *total) {
    const int d = A->d, dh = A->dh, H = A->H;
    double *P = malloc(sizeof(double) * N * N), *s = malloc(sizeof(double) * N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            const size_t ti = (size_t)b * N + i, tj = (size_t)b * N + j;
            if (!mask || (mask[ti] && mask[tj]))
                for (int c = 0; c < dh; c++)
                    acc += (double)A->q[ti * d + h * dh + c] * A->k[tj * d + h * dh + c];
            P[(size_t)i * N + j] = acc;
        }
    double err = 0, tot = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double a = 0;
            for (int c = 0; c < r; c++)
                a += (double)A->qr[((size_t)b * N + i) * H * r + h * r + c] *
                     A->kr[((size_t)b * N + j) * H * r + h * r + c];
            double df = a - P[(size_t)i * N + j];
            err += df * df;
            tot += P[(size_t)i * N + j] * P[(size_t)i * N + j];
        }
    double *u = malloc(sizeof(double) * N * N), *vt = malloc(sizeof(double) * N * N);
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', N, N, P, N, s, u, N, vt, N);
    CHECK(info == 0, "dgesdd info %d", (int)info);
    double opt = 0;
    for (int i = r; i < N; i++) opt += s[i] * s[i];
    *ours = err, *best = opt, *total = tot;
    free(P), free(s), free(u), free(vt);
}

static void one_case(int B, int N, int d, int H, uint64_t seed) {
    int len[8];
    for (int b = 0; b < B; b++) len[b] = N - (b * 13) % N;
    Rng rg;
    TuCase tc;
    tu_case_init(&tc, &rg, B, N, d, H, seed, len);
    float *x = tc.x, *y = tc.y, *yref = tc.yref;
    const int32_t *mask = tc.mask;
    const MhsaParams p = tc.p;
    const int dh = d / H;
    Err e;
    AttnActivation A;
    CHECK(attn_activation_init(&A, B, N, d, H, &e) == ST_OK, "%s", e.msg);

    /* optimality at a few ranks, every (b, h) */
    int ranks[3] = {1, dh / 4, dh / 2};
    for (int g = 0; g < 3; g++) {
        int r = ranks[g];
        CHECK(attn_activation_forward(y, &A, x, attn_mask_i32(mask), &p, B, N, r, NULL, &e) ==
                  ST_OK,
              "%s", e.msg);
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                double ours, best, tot;
                optimality(&A, mask, b, h, N, r, &ours, &best, &tot);
                double gap = (ours - best) / tot;
                worst = fabs(gap) > worst ? fabs(gap) : worst;
                CHECK(fabs(gap) < 1e-6, "b %d h %d r %d: error %g, optimum %g (total %g)", b, h,
                      r, ours, best, tot);
            }
        printf("N=%d dh=%d r=%d: |err^2 - optimal err^2| / ||QK^T||^2 <= %.2g\n", N, dh, r,
               worst);
    }
    /* r = dh: exact attention */
    tu_reference(&tc, yref, attn_mask_i32(mask));
    AttnFlops fl;
    attn_flops_zero(&fl);
    CHECK(attn_activation_forward(y, &A, x, attn_mask_i32(mask), &p, B, N, dh, &fl, &e) == ST_OK,
          "%s", e.msg);
    double err = tu_rel_err(y, yref, (size_t)B * N, d, mask);
    printf("N=%d r=dh=%d: rel err vs exact %.3g\n", N, dh, err);
    CHECK(err < 1e-5, "r = dh vs exact: %g", err);
    CHECK(fl.scores == 2LL * B * H * N * N * dh && fl.values == 2LL * B * H * N * N * dh &&
              fl.factor > 0,
          "flops");
    /* softmax per score: max, subtract, exp (nn/fastexp.h's count), sum; normalisation one
       multiply per (exact-width) output */
    const int64_t sm = (int64_t)B * H * ((1 + 1 + FASTEXP_FLOPS + 1) * (int64_t)N * N +
                                         (int64_t)N * dh);
    CHECK(fl.softmax == sm, "softmax flops %lld, closed form %lld", (long long)fl.softmax,
          (long long)sm);
    /* padded positions irrelevant */
    const int r = dh / 2;
    CHECK(attn_activation_forward(yref, &A, x, attn_mask_i32(mask), &p, B, N, r, NULL, &e) ==
              ST_OK,
          "%s", e.msg);
    tu_perturb_padded(x, mask, (size_t)B * N, d, 30.0, &rg);
    CHECK(attn_activation_forward(y, &A, x, attn_mask_i32(mask), &p, B, N, r, NULL, &e) == ST_OK,
          "%s", e.msg);
    CHECK(tu_real_rows_same(y, yref, mask, (size_t)B * N, d),
          "real rows changed when padded positions changed");
    CHECK(attn_activation_forward(y, &A, x, attn_mask_none(), &p, B, N, dh + 1, NULL, &e) ==
              ST_INVALID,
          "r > dh accepted");
    attn_activation_free(&A);
    tu_case_free(&tc);
}

int main(void) {
    one_case(3, 77, 64, 4, 31);
    one_case(2, 10, 64, 2, 32); /* N = 10 < dh = 32 */
    return check_exit(NAME);
}
