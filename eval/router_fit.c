/* router_fit.c: the router's ridge fits, cross-validation and prediction (router_fit.h). */
#include "eval/router_fit.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

Status router_features(const Router *rt, const RouterData *d, double *x, Err *e) {
    for (int j = 0; j < rt->P; j++) {
        const int lg = !strncmp(rt->feat[j], "log:", 4);
        const double *c = router_data_col(d, rt->feat[j] + 4 * lg);
        if (!c)
            return err_set(e, ST_MISSING, "router: expected a feature column %s in signals.tsv, "
                           "found none", rt->feat[j] + 4 * lg);
        for (int i = 0; i < d->n; i++) {
            const double v = lg ? log(fmax(c[i], 1e-30)) : c[i];
            if (!isfinite(v))
                return err_set(e, ST_NUMERIC, "router: feature %s of row %d: expected a finite "
                               "value, found %g", rt->feat[j], i, v);
            x[(size_t)j * d->n + i] = v;
        }
    }
    return ST_OK;
}

/* the rows of a fit: fold < 0 all, else those with i mod k != fold */
static int in_fit(int i, int fold, int k) { return fold < 0 || i % k != fold; }

/* mean, std of x (P, n) and mean of y over the fit's rows; A = Z'Z / m, g = Z'(y - b) / m */
static void moments(const double *x, const double *y, int n, int P, int fold, int k,
                    double *mean, double *std, double *b, double *A, double *g, double *z) {
    int m = 0;
    double sy = 0;
    for (int i = 0; i < n; i++) if (in_fit(i, fold, k)) m++, sy += y[i];
    *b = sy / m;
    for (int j = 0; j < P; j++) {
        const double *xj = x + (size_t)j * n;
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++) if (in_fit(i, fold, k)) s += xj[i];
        mean[j] = s / m;
        for (int i = 0; i < n; i++)
            if (in_fit(i, fold, k)) ss += (xj[i] - mean[j]) * (xj[i] - mean[j]);
        std[j] = ss > 0 ? sqrt(ss / m) : 1.0;
    }
    memset(A, 0, sizeof(double) * (size_t)P * P), memset(g, 0, sizeof(double) * (size_t)P);
    for (int i = 0; i < n; i++) {
        if (!in_fit(i, fold, k)) continue;
        for (int j = 0; j < P; j++) z[j] = (x[(size_t)j * n + i] - mean[j]) / std[j];
        for (int j = 0; j < P; j++) {
            g[j] += z[j] * (y[i] - *b) / m;
            for (int l = 0; l <= j; l++) A[j * P + l] += z[j] * z[l] / m;
        }
    }
    for (int j = 0; j < P; j++)
        for (int l = 0; l < j; l++) A[l * P + j] = A[j * P + l];
}

/* w = (A + lambda I)^-1 g */
static Status solve(const double *A, const double *g, int P, double lambda, double *w,
                    double *work, Err *e) {
    memcpy(work, A, sizeof(double) * (size_t)P * P), memcpy(w, g, sizeof(double) * (size_t)P);
    for (int j = 0; j < P; j++) work[j * P + j] += lambda;
    lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', P, 1, work, P, w, 1);
    return info ? err_set(e, ST_NUMERIC, "router: LAPACKE_dposv: info %d (lambda %g; a feature "
                          "constant or collinear? try a larger lambda)", (int)info, lambda)
                : ST_OK;
}

static double predict_row(const double *x, int n, int i, int P, const double *mean,
                          const double *std, double b, const double *w) {
    double y = b;
    for (int j = 0; j < P; j++) y += w[j] * (x[(size_t)j * n + i] - mean[j]) / std[j];
    return y;
}

/* rank k: CV over the lambdas, then the fit on all rows */
static Status fit_rank(Router *rt, const double *x, const double *y, int n, int k, double *buf,
                       Err *e) {
    const int P = rt->P, K = rt->folds;
    double *A = buf, *work = A + P * P, *g = work + P * P, *z = g + P, *w = z + P;
    double mean[ROUTER_MAX_FEAT], std[ROUTER_MAX_FEAT], b;
    Status s = ST_OK;
    memset(rt->cv[k], 0, sizeof rt->cv[k]);
    for (int f = 0; f < K && !s; f++) {
        moments(x, y, n, P, f, K, mean, std, &b, A, g, z);
        for (int l = 0; l < rt->nl && !s; l++) {
            s = solve(A, g, P, rt->lambdas[l], w, work, e);
            for (int i = f; i < n && !s; i += K) {
                const double r = y[i] - predict_row(x, n, i, P, mean, std, b, w);
                rt->cv[k][l] += r * r / n;
            }
        }
    }
    int best = 0;
    for (int l = 1; l < rt->nl; l++) if (rt->cv[k][l] < rt->cv[k][best]) best = l;
    rt->lambda[k] = rt->lambdas[best];
    moments(x, y, n, P, -1, K, rt->mean, rt->std, &rt->b[k], A, g, z);
    if (!s) s = solve(A, g, P, rt->lambda[k], rt->w[k], work, e);
    rt->train_mse[k] = 0;
    for (int i = 0; i < n && !s; i++) {
        const double r = y[i] - predict_row(x, n, i, P, rt->mean, rt->std, rt->b[k], rt->w[k]);
        rt->train_mse[k] += r * r / n;
    }
    return s;
}

Status router_fit(Router *rt, const RouterData *d, Err *e) {
    const int n = d->n, P = rt->P;
    if (P < 1 || P > ROUTER_MAX_FEAT || rt->nl < 1 || rt->nl > ROUTER_MAX_LAMBDAS)
        return err_set(e, ST_INVALID, "router_fit: expected 1 to %d features and 1 to %d lambdas, "
                       "found %d and %d", ROUTER_MAX_FEAT, ROUTER_MAX_LAMBDAS, P, rt->nl);
    if (rt->folds < 2 || rt->folds > n)
        return err_set(e, ST_INVALID, "router_fit: expected 2 to %d folds, found %d", n, rt->folds);
    rt->nr = d->nr;
    memcpy(rt->ranks, d->ranks, sizeof rt->ranks);
    double *x = malloc(sizeof(double) * ((size_t)P * n + n + 2 * (size_t)P * P + 3 * P));
    if (!x) return err_set(e, ST_NOMEM, "router_fit: out of memory for %d rows", n);
    double *y = x + (size_t)P * n, *buf = y + n;
    Status s = router_features(rt, d, x, e);
    for (int k = 0; k < d->nr && !s; k++) {
        for (int i = 0; i < n; i++) y[i] = log(d->kl[(size_t)i * d->M + k] + ROUTER_KL_EPS);
        s = fit_rank(rt, x, y, n, k, buf, e);
    }
    free(x);
    return s;
}

Status router_predict(const Router *rt, const RouterData *d, double *yhat, Err *e) {
    if (d->nr != rt->nr || memcmp(d->ranks, rt->ranks, sizeof(int) * (size_t)rt->nr))
        return err_set(e, ST_INVALID, "router: expected the router's %d ranks in signals.tsv, "
                       "found %d kl:<r> columns or other ranks", rt->nr, d->nr);
    double *x = malloc(sizeof(double) * (size_t)rt->P * d->n);
    if (!x) return err_set(e, ST_NOMEM, "router_predict: out of memory for %d rows", d->n);
    Status s = router_features(rt, d, x, e);
    for (int i = 0; i < d->n && !s; i++)
        for (int k = 0; k < rt->nr; k++)
            yhat[(size_t)i * rt->nr + k] =
                predict_row(x, d->n, i, rt->P, rt->mean, rt->std, rt->b[k], rt->w[k]);
    free(x);
    return s;
}
