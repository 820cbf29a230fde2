/* test_exact.c: attention/exact against nn/mhsa's mhsa_forward (the reference layer, itself
 * checked against PyTorch in tests/nn/test_torch_ref): the same output with biases and
 * padding masks (B = 3, N = 77 and 200: not multiples of the query block), counted FLOPs equal
 * to the closed form, and padded positions irrelevant to real outputs.
 * Tolerance: relative Frobenius error 1e-5 over real rows (two float32 evaluations of the
 * same sums in different orders differ by ~1e-7 relative). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/exact.h"
#include "tests/attention/util.h"
#include "tests/check.h"

#define NAME "test_exact"

static void one_case(int B, int N, int d, int H, uint64_t seed) {
    Rng r;
    rng_init(&r, seed, 1);
    size_t sz[MHSA_NPARAMS];
    float *pbuf = malloc(sizeof(float) * mhsa_param_sizes(sz, d));
    MhsaParams p;
    tu_params(&p, pbuf, d, &r, 1.0f, 0.5f);
    const size_t bnd = (size_t)B * N * d;
    float *x = malloc(sizeof(float) * bnd), *y = malloc(sizeof(float) * bnd);
    float *yref = malloc(sizeof(float) * bnd);
    tu_ln_inputs(x, B, N, d, 8, seed, &r);
    int32_t *mask = malloc(sizeof(int32_t) * B * N);
    int len[8];
    for (int b = 0; b < B; b++) len[b] = N - (b * 37) % N;
    if (B > 2) len[2] = 1; /* a single real token */
    tu_mask(mask, B, N, len);

    /* reference: nn/mhsa */
    MemPlan plan;
    mem_plan_init(&plan);
    MhsaActs acts;
    mhsa_plan(&plan, &acts, NULL, "ref", B, N, d, H, attention_max_threads(), 0);
    Err e;
    CHECK(mem_plan_alloc(&plan, &e) == ST_OK, "alloc");
    mhsa_forward(yref, &acts, x, attn_mask_i32(mask), &p, B, N, d, H);

    AttnExact ex;
    CHECK(attn_exact_init(&ex, B, N + 5, d, H, &e) == ST_OK, "%s", e.msg);
    AttnFlops fl;
    attn_flops_zero(&fl);
    CHECK(attn_exact_forward(y, &ex, x, attn_mask_i32(mask), &p, B, N, &fl, &e) == ST_OK, "%s",
          e.msg);
    double err = tu_rel_err(y, yref, (size_t)B * N, d, mask);
    printf("exact vs mhsa_forward B=%d N=%d d=%d H=%d: rel err %.3g\n", B, N, d, H, err);
    CHECK(err < 1e-5, "rel err %g", err);
    AttnFlops cf = attn_exact_flops(B, N, d, H);
    CHECK(fl.proj == cf.proj && fl.scores == cf.scores && fl.softmax == cf.softmax &&
              fl.values == cf.values && fl.out == cf.out && fl.factor == 0,
          "flops %lld vs closed form %lld", (long long)attn_flops_total(&fl),
          (long long)attn_flops_total(&cf));
    /* no mask equals the reference without mask */
    mhsa_forward(yref, &acts, x, attn_mask_none(), &p, B, N, d, H);
    CHECK(attn_exact_forward(y, &ex, x, attn_mask_none(), &p, B, N, NULL, &e) == ST_OK, "fwd");
    err = tu_rel_err(y, yref, (size_t)B * N, d, NULL);
    CHECK(err < 1e-5, "no mask: rel err %g", err);

    /* padded positions are irrelevant: change them, real rows stay bit-identical */
    CHECK(attn_exact_forward(yref, &ex, x, attn_mask_i32(mask), &p, B, N, NULL, &e) == ST_OK,
          "fwd");
    for (size_t t = 0; t < (size_t)B * N; t++)
        if (!mask[t])
            for (int i = 0; i < d; i++) x[t * d + i] = (float)(100.0 * rng_normal(&r));
    CHECK(attn_exact_forward(y, &ex, x, attn_mask_i32(mask), &p, B, N, NULL, &e) == ST_OK, "fwd");
    int same = 1;
    for (size_t t = 0; t < (size_t)B * N; t++)
        if (mask[t] && memcmp(y + t * d, yref + t * d, sizeof(float) * d) != 0) same = 0;
    CHECK(same, "real rows changed when padded positions changed");
    /* bad sizes are errors */
    CHECK(attn_exact_forward(y, &ex, x, attn_mask_none(), &p, B + 1, N, NULL, &e) ==
              ST_INVALID, "B > max_B accepted");
    attn_exact_free(&ex);
    mem_plan_free(&plan);
    free(pbuf), free(x), free(y), free(yref), free(mask);
}

int main(void) {
    one_case(3, 77, 64, 4, 11);
    one_case(2, 200, 96, 3, 12);
    one_case(1, 1, 32, 2, 13);
    return check_exit(NAME);
}
