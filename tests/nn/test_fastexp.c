/* test_fastexp.c: fastexp_neg (nn/fastexp.h) against double-precision exp.
 *   test_fastexp              every 101st float in [-87, 0] (about 11 million values)
 *   test_fastexp --exhaustive every float in [-87, 0] (about 1.1e9 values; slow suite)
 * Tolerance: relative error <= 1.5e-7 (about 2.5 ulp; measured 8.6e-8) on [-87, 0];
 * below -87 the result is e^-87 (clamped, a normal float), above 0 it is 1. */
#include <stdint.h>
#include <math.h>
#include <string.h>

#include "nn/fastexp.h"
#include "tests/check.h"

int main(int argc, char **argv) {
    int exhaustive = argc > 1 && !strcmp(argv[1], "--exhaustive");
    /* a NaN argument gives NaN, without undefined behaviour (UBSan build: no float-to-int
       conversion of NaN, no left shift of a negative value; issue 16, case 5) */
    volatile float nan_in = NAN;
    CHECK(isnan(fastexp_neg(nan_in)), "fastexp_neg(NaN) = %g", (double)fastexp_neg(nan_in));
    uint32_t stride = exhaustive ? 1 : 101;
    /* negative floats: bit patterns from 0x80000000 (-0) up to that of -87 */
    float lim = -87.0f;
    uint32_t hi;
    memcpy(&hi, &lim, sizeof hi);
    double worst = 0;
    float worst_x = 0;
    uint64_t n = 0;
    for (uint32_t bits = 0x80000000u; bits <= hi; bits += stride) {
        float x;
        memcpy(&x, &bits, sizeof x);
        double ref = exp((double)x);
        double rel = fabs((double)fastexp_neg(x) - ref) / ref;
        if (rel > worst) { worst = rel; worst_x = x; }
        n++;
    }
    printf("fastexp_neg: %llu values in [-87, 0], worst relative error %.3g at x = %.9g\n",
           (unsigned long long)n, worst, worst_x);
    CHECK(worst <= 1.5e-7, "worst relative error %.3g at %.9g", worst, worst_x);
    CHECK_CLOSE(fastexp_neg(-1000.0f), exp(-87.0), 1.5e-7, 0, "clamped below -87");
    CHECK(fastexp_neg(0.0f) == 1.0f && fastexp_neg(3.0f) == 1.0f, "e^0 = 1, clamped above 0");
    return check_exit("test_fastexp");
}
