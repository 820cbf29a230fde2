/* fd.h: central finite differences in double precision for gradient tests.
 * grad_i = (L(x + h e_i) - L(x - h e_i)) / 2h, truncation error O(h^2 L''') ~ 1e-10 and
 * rounding error ~ eps_double * |L| / h ~ 1e-11 for h = 1e-5 and O(1) losses: far below
 * the float32 error (~1e-7 relative) of the analytic gradients being checked. */
#ifndef DRRL_TESTS_FD_H
#define DRRL_TESTS_FD_H

#include <stddef.h>

#define FD_H 1e-5

typedef double (*FdLossFn)(void *ctx);

/* fd_grad: central differences of loss(ctx) w.r.t. x[0..n) (x lives inside ctx and is
   restored exactly afterwards). */
static inline void fd_grad(double *grad, double *x, size_t n, FdLossFn loss, void *ctx) {
    for (size_t i = 0; i < n; i++) {
        double save = x[i];
        x[i] = save + FD_H;
        double lp = loss(ctx);
        x[i] = save - FD_H;
        double lm = loss(ctx);
        x[i] = save;
        grad[i] = (lp - lm) / (2.0 * FD_H);
    }
}

#endif
