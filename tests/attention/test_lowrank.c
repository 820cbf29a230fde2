/* test_lowrank.c: the weight-level low-rank layer (attention/lowrank.h).
 *  - rank = dh reproduces exact attention (nn/mhsa's mhsa_forward) with biases and padding
 *    masks, B = 3, N = 77 and 203 (not multiples of the query block), for plain and
 *    whitened factors: relative Frobenius error over real rows < 1e-5;
 *  - counted FLOPs equal the closed form, written out here independently: per head
 *    8 N d r + 4 N^2 r plus bias, softmax (max, subtract, exp as FASTEXP_FLOPS, sum per
 *    score) and normalisation terms;
 *  - per-segment ranks equal running each segment's queries at its own rank over the same
 *    keys (relative error < 1e-6: the same sums, possibly in another GEMM blocking);
 *  - padded positions change nothing at real positions (bit-identical outputs);
 *  - the error falls as the rank grows; ranks outside the grid are errors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/lowrank.h"
#include "attention/moment.h"
#include "tests/attention/util.h"
#include "tests/check.h"

#define NAME "test_lowrank"

typedef struct {
    TuCase t;   /* weights, inputs, mask (row b keeps N - 29 b mod N tokens), outputs */
    double *Lw; /* (d+1, d+1) whitener */
} Case;

static void case_init(Case *c, int B, int N, int d, int H, uint64_t seed) {
    Rng r;
    int len[8];
    for (int b = 0; b < B; b++) len[b] = N - (b * 29) % N;
    tu_case_init(&c->t, &r, B, N, d, H, seed, len);
    /* whitener from calibration inputs of the same distribution */
    AttnMoment m;
    Err e;
    CHECK(attn_moment_init(&m, d, &e) == ST_OK, "%s", e.msg);
    float *cal = malloc(sizeof(float) * 4 * 64 * d);
    tu_ln_inputs(cal, 4, 64, d, 8, seed, &r);
    attn_moment_add(&m, cal, attn_mask_none(), 4, 64);
    double *M = malloc(sizeof(double) * (d + 1) * (d + 1));
    c->Lw = malloc(sizeof(double) * (d + 1) * (d + 1));
    CHECK(attn_moment_get(M, &m, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_whitener(c->Lw, M, d, ATTN_RIDGE_DEFAULT, &e) == ST_OK, "%s", e.msg);
    free(M), free(cal);
    attn_moment_free(&m);
}

static void case_free(Case *c) {
    tu_case_free(&c->t);
    free(c->Lw);
}

static void full_rank(Case *c, int whitened) {
    const int dh = c->t.d / c->t.H, B = c->t.B, N = c->t.N, d = c->t.d, H = c->t.H;
    AttnFactors f;
    Err e;
    CHECK(attn_factors_init(&f, d, H, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_compute(&f, &c->t.p, whitened ? c->Lw : NULL, ATTN_RIDGE_DEFAULT, NULL,
                               &e) == ST_OK,
          "%s", e.msg);
    int grid[3] = {dh, dh / 2, dh / 4};
    AttnLowrank L;
    CHECK(attn_lowrank_init(&L, &f, grid, 3, B, N, &e) == ST_OK, "%s", e.msg);
    AttnFlops fl;
    attn_flops_zero(&fl);
    for (int masked = 0; masked < 2; masked++) {
        AttnMask am = masked ? attn_mask_i32(c->t.mask) : attn_mask_none();
        tu_reference(&c->t, c->t.yref, am);
        CHECK(attn_lowrank_forward_rank(c->t.y, &L, c->t.x, am, B, N, dh, &fl, &e) == ST_OK, "%s",
              e.msg);
        double err = tu_rel_err(c->t.y, c->t.yref, (size_t)B * N, d, masked ? c->t.mask : NULL);
        printf("%s factors, rank %d = dh, N=%d %s: rel err vs exact %.3g\n",
               whitened ? "whitened" : "plain", dh, N, masked ? "masked" : "no mask", err);
        CHECK(err < 1e-5, "rank dh vs exact: rel err %g", err);
    }
    /* error decreases with rank (masked) */
    tu_reference(&c->t, c->t.yref, attn_mask_i32(c->t.mask));
    double prev = 1e30;
    for (int g = 2; g >= 0; g--) {
        CHECK(attn_lowrank_forward_rank(c->t.y, &L, c->t.x, attn_mask_i32(c->t.mask), B, N, grid[g],
                                        NULL, &e) == ST_OK,
              "%s", e.msg);
        double err = tu_rel_err(c->t.y, c->t.yref, (size_t)B * N, d, c->t.mask);
        printf("  rank %d: rel err %.3g\n", grid[g], err);
        CHECK(err <= prev * 1.0001, "error grew with rank: %g after %g", err, prev);
        prev = err;
    }
    /* a rank outside the grid is an error */
    CHECK(attn_lowrank_forward_rank(c->t.y, &L, c->t.x, attn_mask_none(), B, N, 3, NULL, &e) ==
              ST_INVALID,
          "rank 3 accepted");
    attn_lowrank_free(&L);
    attn_factors_free(&f);
}

/* softmax FLOPs per score: max 1, subtract 1, exp (nn/fastexp.h's count), sum 1 */
#define SOFTMAX_OPS (1 + 1 + FASTEXP_FLOPS + 1)

/* closed form, written out independently of attn_lowrank_flops: one segment at rank r */
static void flops_uniform(Case *c) {
    const int64_t B = c->t.B, N = c->t.N, d = c->t.d, H = c->t.H, dh = d / H, S = SOFTMAX_OPS;
    AttnFactors f;
    Err e;
    CHECK(attn_factors_init(&f, c->t.d, c->t.H, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_compute(&f, &c->t.p, NULL, 0, NULL, &e) == ST_OK, "%s", e.msg);
    int grid[2] = {(int)dh / 2, (int)dh};
    AttnLowrank L;
    CHECK(attn_lowrank_init(&L, &f, grid, 2, c->t.B, c->t.N, &e) == ST_OK, "%s", e.msg);
    for (int g = 0; g < 2; g++) {
        const int64_t r = grid[g];
        AttnFlops fl;
        attn_flops_zero(&fl);
        CHECK(attn_lowrank_forward_rank(c->t.y, &L, c->t.x, attn_mask_i32(c->t.mask), c->t.B,
                                        c->t.N, (int)r, &fl, &e) == ST_OK,
              "%s", e.msg);
        /* per sequence and head: 8 N d r (three projections and the output GEMM) + 4 N^2 r
           (scores and values); plus bias adds 3 N r per head and N d for bo, softmax S N^2
           and normalisation N r per head */
        int64_t closed = B * H * (8 * N * d * r + 4 * N * N * r) + B * H * 3 * N * r + B * N * d +
                         B * H * (S * N * N + N * r);
        CHECK(attn_flops_total(&fl) == closed, "rank %lld: counted %lld, closed form %lld",
              (long long)r, (long long)attn_flops_total(&fl), (long long)closed);
        int seg[1] = {(int)r};
        AttnFlops cf = attn_lowrank_flops(B, N, d, H, N, seg);
        CHECK(memcmp(&cf, &fl, sizeof cf) == 0, "attn_lowrank_flops differs from the count");
        if (r == dh) {
            /* at full rank the count equals exact attention's */
            int64_t ex = 3 * (2 * B * N * d * d + B * N * d) + 4 * B * H * N * N * dh +
                         B * H * (S * N * N + N * dh) + 2 * B * N * d * d + B * N * d;
            CHECK(attn_flops_total(&fl) == ex, "full rank %lld vs exact %lld",
                  (long long)attn_flops_total(&fl), (long long)ex);
        }
    }
    attn_lowrank_free(&L);
    attn_factors_free(&f);
}

static void segments(Case *c) {
    const int B = c->t.B, N = c->t.N, d = c->t.d, H = c->t.H, dh = d / H;
    AttnFactors f;
    Err e;
    CHECK(attn_factors_init(&f, d, H, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_compute(&f, &c->t.p, c->Lw, ATTN_RIDGE_DEFAULT, NULL, &e) == ST_OK, "%s",
          e.msg);
    int grid[4] = {dh / 4, dh / 2, 3 * dh / 4, dh};
    AttnLowrank L;
    CHECK(attn_lowrank_init(&L, &f, grid, 4, B, N, &e) == ST_OK, "%s", e.msg);
    const int T = 20, nseg = (N + T - 1) / T;
    int sr[64];
    for (int s = 0; s < nseg; s++) sr[s] = grid[(s * 3 + 1) % 3]; /* never r_max = dh */
    AttnMask am = attn_mask_i32(c->t.mask);
    AttnFlops fl;
    attn_flops_zero(&fl);
    CHECK(attn_lowrank_forward(c->t.y, &L, c->t.x, am, B, N, T, sr, &fl, &e) == ST_OK, "%s", e.msg);
    AttnFlops cf = attn_lowrank_flops(B, N, d, H, T, sr);
    CHECK(memcmp(&cf, &fl, sizeof cf) == 0, "segments: counted %lld, closed form %lld",
          (long long)attn_flops_total(&fl), (long long)attn_flops_total(&cf));
    /* the softmax written out: every query row against all N keys, normalised at its rank */
    int64_t sm = 0;
    for (int s = 0; s < nseg; s++) {
        const int64_t rows = (int64_t)B * (s * T + T < N ? T : N - s * T);
        sm += (int64_t)H * rows * ((int64_t)SOFTMAX_OPS * N + sr[s]);
    }
    CHECK(fl.softmax == sm, "segments: softmax %lld, closed form %lld", (long long)fl.softmax,
          (long long)sm);
    double worst = 0;
    for (int s = 0; s < nseg; s++) {
        CHECK(attn_lowrank_forward_rank(c->t.yref, &L, c->t.x, am, B, N, sr[s], NULL, &e) == ST_OK,
              "%s", e.msg);
        const int i0 = s * T, m = i0 + T < N ? T : N - i0;
        for (int b = 0; b < B; b++) {
            const size_t row = (size_t)b * N + i0;
            double err = tu_rel_err(c->t.y + row * d, c->t.yref + row * d, (size_t)m, d,
                                    c->t.mask + row);
            worst = err > worst ? err : worst;
        }
    }
    printf("per-segment ranks (T=%d, %d segments) vs separate runs: worst rel err %.3g\n", T,
           nseg, worst);
    CHECK(worst < 1e-6, "per-segment vs separate: rel err %g", worst);

    /* masks: padded positions are irrelevant to real outputs */
    memcpy(c->t.yref, c->t.y, sizeof(float) * B * N * d);
    float *x2 = malloc(sizeof(float) * B * N * d);
    memcpy(x2, c->t.x, sizeof(float) * B * N * d);
    Rng r;
    rng_init(&r, 99, 3);
    tu_perturb_padded(x2, c->t.mask, (size_t)B * N, d, 50.0, &r);
    CHECK(attn_lowrank_forward(c->t.y, &L, x2, am, B, N, T, sr, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(tu_real_rows_same(c->t.y, c->t.yref, c->t.mask, (size_t)B * N, d),
          "real rows changed when padded positions changed");
    free(x2);
    int bad[64];
    for (int s = 0; s < nseg; s++) bad[s] = s == 1 ? 5 : dh;
    CHECK(attn_lowrank_forward(c->t.y, &L, c->t.x, am, B, N, T, bad, NULL, &e) == ST_INVALID,
          "off-grid segment rank accepted");
    attn_lowrank_free(&L);
    attn_factors_free(&f);
}

int main(void) {
    static const int cases[2][5] = {{3, 77, 64, 4, 21}, {2, 203, 96, 3, 22}}; /* B N d H seed */
    for (int i = 0; i < 2; i++) {
        const int *k = cases[i];
        Case c;
        case_init(&c, k[0], k[1], k[2], k[3], (uint64_t)k[4]);
        full_rank(&c, 0);
        full_rank(&c, 1);
        flops_uniform(&c);
        segments(&c);
        case_free(&c);
    }
    return check_exit(NAME);
}
