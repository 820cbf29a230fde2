/* router_fit.h: the supervised router: for each rank r of a drrl-signals list, a ridge
 * regression of y_r = log(KL_r + 1e-12) on P deployable features of the cheap pass.
 *
 * Features: columns of signals.tsv by name; "log:NAME" is log(max(NAME, 1e-30)). Each is
 * standardised with the training rows' mean and (population) std (std 0: 1):
 * z_ij = (x_ij - mu_j) / s_j. Fit per rank with b = mean(y) (unpenalised) and
 *     w = argmin (1/n) ||y - b - Z w||^2 + lambda ||w||^2,
 *     (Z'Z / n + lambda I) w = Z'(y - b) / n          (LAPACKE_dposv)
 * lambda from a grid by k-fold cross-validation on the training rows: fold f = rows i with
 * i mod k = f; the mean, std, b and w refitted on the other folds; the CV error is the mean
 * squared error of y over all held-out rows; the smallest lambda of least CV error wins (per
 * rank), then the fit on all rows. Prediction: yhat_r = b_r + w_r . z. */
#ifndef DRRL_EVAL_ROUTER_FIT_H
#define DRRL_EVAL_ROUTER_FIT_H

#include <stdio.h>

#include "eval/router_data.h"

#define ROUTER_MAX_FEAT 64
#define ROUTER_MAX_LAMBDAS 16
#define ROUTER_KL_EPS 1e-12

typedef struct {
    int P, nr, nl, folds;
    int ranks[ROUTER_MAX_RANKS];
    char feat[ROUTER_MAX_FEAT][ROUTER_NAME];
    double mean[ROUTER_MAX_FEAT], std[ROUTER_MAX_FEAT];
    double lambdas[ROUTER_MAX_LAMBDAS];
    double cv[ROUTER_MAX_RANKS][ROUTER_MAX_LAMBDAS]; /* CV mean squared error of y */
    double lambda[ROUTER_MAX_RANKS], b[ROUTER_MAX_RANKS], train_mse[ROUTER_MAX_RANKS];
    double w[ROUTER_MAX_RANKS][ROUTER_MAX_FEAT];
} Router;

/* router_features: x (P, n) of the named features (rt->feat[0..P)) on d's rows. ST_MISSING
   names the absent column. */
Status router_features(const Router *rt, const RouterData *d, double *x, Err *e);

/* router_fit: rt->P, feat, nl, lambdas, folds set by the caller; fits every rank of d. */
Status router_fit(Router *rt, const RouterData *d, Err *e);

/* router_predict: yhat (n, nr) = predicted log(KL + 1e-12) at each rank for d's rows; d's
   ranks must be rt's. */
Status router_predict(const Router *rt, const RouterData *d, double *yhat, Err *e);

/* router_save / router_load: the text file (one "key values" line each: ranks, features with
   mean and std, per rank lambda, intercept and weights; %.17g). */
Status router_save(const Router *rt, const char *path, Err *e);
Status router_load(Router *rt, const char *path, Err *e);

#endif
