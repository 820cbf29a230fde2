/* test_exact.c: attention/exact against nn/mhsa's mhsa_forward (the reference layer, itself
 * checked against PyTorch in tests/nn/test_torch_ref): the same output with biases and
 * padding masks (B = 3, N = 77 and 200: not multiples of the query block), counted FLOPs equal
 * to the closed form (written out here, with and without a mask), and padded positions
 * irrelevant to real outputs.
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

/* the operations of one nn/fastexp.h fastexp_neg, counted from its source: clamps 2, rounding
   x / ln 2 to n 3, Cody-Waite reduction 4, 5 Horner steps 10, p r r + r + 1 4, times 2^n 1.
   A change to the function must be recounted here and in FASTEXP_FLOPS. */
#define EXP_OPS (2 + 3 + 4 + 10 + 4 + 1)

/* the closed form of exact.h written out: projections and output with biases, both N^2
   products, per score max + subtract + exp + sum, one normalising multiply per output */
static AttnFlops closed_form(int64_t B, int64_t N, int64_t d, int64_t H) {
    const int64_t dh = d / H;
    AttnFlops f;
    attn_flops_zero(&f);
    f.proj = 3 * (2 * B * N * d * d + B * N * d);
    f.scores = 2 * B * H * N * N * dh;
    f.softmax = B * H * ((1 + 1 + EXP_OPS + 1) * N * N + N * dh);
    f.values = 2 * B * H * N * N * dh;
    f.out = 2 * B * N * d * d + B * N * d;
    return f;
}

static int flops_eq(const AttnFlops *a, const AttnFlops *b) {
    return a->proj == b->proj && a->factor == b->factor && a->scores == b->scores &&
           a->softmax == b->softmax && a->values == b->values && a->out == b->out;
}

static void one_case(int B, int N, int d, int H, uint64_t seed) {
    int len[8];
    for (int b = 0; b < B; b++) len[b] = N - (b * 37) % N;
    if (B > 2) len[2] = 1; /* a single real token */
    Rng r;
    TuCase c;
    tu_case_init(&c, &r, B, N, d, H, seed, len);
    float *x = c.x, *y = c.y, *yref = c.yref;
    const int32_t *mask = c.mask;
    const MhsaParams *p = &c.p;

    /* reference: nn/mhsa */
    TuRef ref;
    tu_ref_init(&ref, &c);
    tu_ref_forward(&ref, &c, yref, attn_mask_i32(mask));

    Err e;
    AttnExact ex;
    CHECK(attn_exact_init(&ex, B, N + 5, d, H, &e) == ST_OK, "%s", e.msg);
    AttnFlops fl;
    attn_flops_zero(&fl);
    CHECK(attn_exact_forward(y, &ex, x, attn_mask_i32(mask), p, B, N, &fl, &e) == ST_OK, "%s",
          e.msg);
    double err = tu_rel_err(y, yref, (size_t)B * N, d, mask);
    printf("exact vs mhsa_forward B=%d N=%d d=%d H=%d: rel err %.3g\n", B, N, d, H, err);
    CHECK(err < 1e-5, "rel err %g", err);
    const AttnFlops cf = closed_form(B, N, d, H), lib = attn_exact_flops(B, N, d, H);
    CHECK(flops_eq(&fl, &cf), "flops %lld (softmax %lld) vs closed form %lld (softmax %lld)",
          (long long)attn_flops_total(&fl), (long long)fl.softmax,
          (long long)attn_flops_total(&cf), (long long)cf.softmax);
    CHECK(flops_eq(&lib, &cf), "attn_exact_flops %lld vs closed form %lld",
          (long long)attn_flops_total(&lib), (long long)attn_flops_total(&cf));
    /* no mask equals the reference without mask, at the same count (the masked softmax drops
       padded keys with bit masks: no extra FLOPs) */
    tu_ref_forward(&ref, &c, yref, attn_mask_none());
    attn_flops_zero(&fl);
    CHECK(attn_exact_forward(y, &ex, x, attn_mask_none(), p, B, N, &fl, &e) == ST_OK, "fwd");
    err = tu_rel_err(y, yref, (size_t)B * N, d, NULL);
    CHECK(err < 1e-5, "no mask: rel err %g", err);
    CHECK(flops_eq(&fl, &cf), "no mask: flops %lld vs closed form %lld",
          (long long)attn_flops_total(&fl), (long long)attn_flops_total(&cf));

    /* padded positions are irrelevant: change them, real rows stay bit-identical */
    CHECK(attn_exact_forward(yref, &ex, x, attn_mask_i32(mask), p, B, N, NULL, &e) == ST_OK,
          "fwd");
    tu_perturb_padded(x, mask, (size_t)B * N, d, 100.0, &r);
    CHECK(attn_exact_forward(y, &ex, x, attn_mask_i32(mask), p, B, N, NULL, &e) == ST_OK, "fwd");
    CHECK(tu_real_rows_same(y, yref, mask, (size_t)B * N, d),
          "real rows changed when padded positions changed");
    /* bad sizes are errors */
    CHECK(attn_exact_forward(y, &ex, x, attn_mask_none(), p, B + 1, N, NULL, &e) ==
              ST_INVALID, "B > max_B accepted");
    attn_exact_free(&ex);
    tu_ref_free(&ref);
    tu_case_free(&c);
}

int main(void) {
    CHECK(FASTEXP_FLOPS == EXP_OPS, "FASTEXP_FLOPS %d, counted from fastexp_neg's source %d",
          FASTEXP_FLOPS, EXP_OPS);
    one_case(3, 77, 64, 4, 11);
    one_case(2, 200, 96, 3, 12);
    one_case(1, 1, 32, 2, 13);
    return check_exit(NAME);
}
