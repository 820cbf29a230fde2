/* layers_grad_util.h: what the gradient tests of the nn/ layers (test_layers_grad.c and
 * test_index_layers_grad.c) share: the small sizes, and the comparisons of a float result with
 * its double reference under the tolerances below.
 *
 * Tolerances:
 *  - gradients: |a - b| <= 1e-3 * max(|b|, scale), scale = 1e-2 * max_j |b_j| over the
 *    tensor. b is the double FD gradient: its error is ~h^2 f''' + eps_double |L| / h
 *    ~ 1e-10, negligible. a is computed in float32: forward and backward each round at
 *    ~6e-8 relative to the magnitudes involved (not to the result, which can be a small
 *    difference of O(1) terms as in layernorm's dinp), hence the floor relative to the
 *    tensor's largest gradient. 1e-3 leaves a wide margin over the ~1e-6 actually seen while
 *    still catching any wrong formula (those are off by O(1)).
 *  - forward: |a - b| <= 1e-5 * max(|b|, 0.1 * max_j |b_j|) (float rounding of short sums).
 *  - accumulate: second call minus 2 x first within 1e-6 of the tensor scale (the same
 *    float computation is added twice).
 * Header-only (static), test code only. */
#ifndef DRRL_TESTS_NN_LAYERS_GRAD_UTIL_H
#define DRRL_TESTS_NN_LAYERS_GRAD_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"
#include "tests/check.h"
#include "tests/ref.h"

#define NM 5  /* rows */
#define NC 7  /* input features / classes */
#define NOC 6 /* output features */
#define NV 6  /* embedding vocabulary */
#define NE 9  /* embedding lookups */

#define GRAD_RTOL 1e-3
#define GRAD_SCALE_FRAC 1e-2
#define FWD_RTOL 1e-5
#define FWD_SCALE_FRAC 0.1
#define ACC_RTOL 1e-6

#define NACT (NM * NC) /* elements of the element-wise layers' inputs */

/* |a - b| <= rtol * max(|b|, frac * max|b|, floor) for every element (tests/ref.h); the worst
   ratio printed with DRRL_TEST_VERBOSE set */
static inline void check_vec(const char *what, const float *a, const double *b, size_t n,
                             double rtol, double frac, double floor_) {
    double worst = ref_check_vec(what, a, b, n, rtol, frac, floor_);
    if (getenv("DRRL_TEST_VERBOSE"))
        printf("  %-28s worst |a-b|/max(|b|,scale) = %.2e (tol %.0e)\n", what, worst, rtol);
}

static inline void check_fwd(const char *what, const float *a, const double *b, size_t n) {
    check_vec(what, a, b, n, FWD_RTOL, FWD_SCALE_FRAC, 1e-30);
}

static inline void check_grad(const char *what, const float *a, const double *b, size_t n) {
    check_vec(what, a, b, n, GRAD_RTOL, GRAD_SCALE_FRAC, 1e-8);
}

/* fill_xg: an input x (nx) = ref_fill_randn(0.3, 2.0, offset 0) and an upstream gradient
   g (ng) = ref_fill_randn(0.2, 1.5, offset 0.1), drawn in that order, and their double copies
   xd (nx), gd (ng) for the reference */
static inline void fill_xg(Rng *r, float *x, double *xd, size_t nx, float *g, double *gd,
                           size_t ng) {
    ref_fill_randn(r, x, nx, 0.3, 2.0, 0.0);
    ref_fill_randn(r, g, ng, 0.2, 1.5, 0.1);
    ref_to_double(xd, x, nx);
    ref_to_double(gd, g, ng);
}

/* after a second backward call: grad2 == 2 * grad1 */
static inline void check_accum(const char *what, const float *g2, const float *g1, size_t n) {
    double d[1024];
    for (size_t i = 0; i < n; i++) d[i] = 2.0 * g1[i];
    check_vec(what, g2, d, n, ACC_RTOL, 1.0, 1e-30);
}

#endif
