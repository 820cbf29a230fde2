/* fastexp.h: a branch-free, vectorisable e^x for x <= 0, as softmax needs it (x = s - max).
 * libm's expf is a call per element and took half the attention time at N = 512. */
#ifndef DRRL_NN_FASTEXP_H
#define DRRL_NN_FASTEXP_H

#include <stdint.h>
#include <string.h>

/* fastexp_neg: e^x for softmax rows, where x = s - max <= 0 (masked entries may be anything
   finite; they are zeroed afterwards). Branch-free so that the row loop vectorises (libm's
   expf is a call per element, and took half the attention time at N = 512):
   x is clamped to [-87, 0] (e^-87 = 1.6e-38, the smallest result, still a normal float and
   negligible next to the row sum >= 1; torch gives 0 or a denormal there);
   n = round(x / ln 2), r = x - n ln 2 in two pieces (Cody-Waite, |r| <= ln2 / 2); e^r by
   Cephes' expf minimax polynomial; times 2^n built in the exponent bits (n + 127 >= 1).
   tests/nn/test_fastexp checks it against double exp: a strided sample of the floats in
   [-87, 0] in the fast suite, every one of them in the slow suite (relative error
   <= 8.6e-8, 1.4 ulp, measured). */

/* FASTEXP_FLOPS: the floating-point operations one fastexp_neg call executes (attention/
   flops.h conventions: each float add, subtract, multiply and min/max-style compare is 1, a
   multiply-add 2; integer and bit operations and the float-to-int conversion are not FLOPs):
       clamps to [-87, 0]                   2   (a max and a min)
       n = round(x / ln 2)                  3   (multiply, add 1.5 * 2^23, subtract it)
       r = x - n ln2_hi - n ln2_lo          4   (two multiply-subtracts)
       p: 5 Horner steps p r + c            10
       p r r + r + 1                        4   (two multiplies, two adds)
       p 2^n                                1   (2^n itself is built from integer bits)
   total                                    24
   (GCC 12 compiles it, without FMA contraction, to exactly these: 2 compares, 11 mulss,
   11 addss/subss, plus integer operations on t's bits for 2^n.)
   Keep it in step with the function: FLOP counters of its callers are built on it. */
#define FASTEXP_FLOPS 24

static inline float fastexp_neg(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 0.0f ? 0.0f : x;
    /* n = round(x / ln 2) by adding 1.5 * 2^23 (the float's low bits then hold the rounded
       integer; exact for |y| < 2^22; floorf/lrintf would stop the loop vectorising) */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f;  /* ln 2 high part (exact in float) */
    r = r - n * -2.12194440e-4f;     /* ln 2 low part */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n from t's bits: t = 1.5 * 2^23 + n exactly, so its bits are 0x4B400000 + n; n + 127
       (in [1, 127]: a normal 2^n) shifted into the exponent field. Unsigned arithmetic: a NaN
       argument (a broken input) gives a NaN result, never undefined behaviour (a float-to-int
       conversion of NaN and a left shift of a negative value would be). */
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    const uint32_t bits = (tb - 0x4B400000u + 127u) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

#endif
