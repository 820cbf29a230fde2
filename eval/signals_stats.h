/* signals_stats.h: the accounting of drrl-signals: Spearman correlation with average ranks
 * for ties, the lower convex hull of (cost, KL) points, the per-input oracle's frontier with
 * per-input costs, and the two-rank rule that allocates ranks by a signal. The same accounting
 * as scripts/oracle.py (hull, at, oracle_points), with each input's own cost per mode instead
 * of the mode's mean (inputs of different lengths).
 *
 * Spearman: rho = Pearson correlation of the average ranks (ties share the mean of the ranks
 * they span: 1-based ranks 1..n). NaN when either variable is constant or n < 2.
 *
 * Hull: the lower convex hull of points (x, y) sorted by x; at x, the least y the hull
 * reaches at cost at most x: its value at x, or a vertex left of x if lower (NaN below its
 * range). Points with equal x keep the lowest y.
 *
 * Oracle: input i takes the mode m minimising KL_i(m) + lam c_i(m); every lam >= 0 at which
 * some input's choice can change (lam = (KL_ia - KL_ib) / (c_ib - c_ia) > 0 for c_ib > c_ia),
 * just above it (lam (1 + 1e-9) + 1e-300), 0 and 1e300 are visited; the points (mean cost,
 * mean KL) of the choices, hulled, are the best any per-input rule over the modes reaches at
 * each mean cost (the Lagrangian of "least mean KL at mean cost C" separates over inputs).
 * Ties: the mode of lower index (modes are given in increasing cost).
 *
 * Rule (lo, hi, target C): inputs in the order given (the highest signal first) move from
 * mode lo to mode hi while the mean cost stays at most C; the first input that does not fit
 * moves by the fraction t that makes the mean cost exactly C (its KL and cost interpolated:
 * a randomised choice); the rest stay at lo. The result is the mean KL. Requires
 * mean c(lo) <= C <= mean c(hi). */
#ifndef DRRL_EVAL_SIGNALS_STATS_H
#define DRRL_EVAL_SIGNALS_STATS_H

#include "core/err.h"

typedef struct {
    double x, y;
} SigPoint;

/* sig_avg_ranks: rank[i] = 1-based rank of x[i], ties averaged. idx (n) is workspace. */
void sig_avg_ranks(double *rank /* (n) */, const double *x /* (n) */, int n, int *idx /* (n) */);

/* sig_spearman: Spearman's rho of x and y (average ranks); work (2 n), iwork (n). */
double sig_spearman(const double *x, const double *y, int n, double *work, int *iwork);

/* sig_hull: the lower convex hull of p[0..n) in place (p is sorted); returns its size. */
int sig_hull(SigPoint *p, int n);

/* sig_hull_at: the hull's least y at cost at most x (NaN left of its first vertex). */
double sig_hull_at(const SigPoint *h, int nh, double x);

/* sig_oracle_hull: the oracle's frontier for kl, cost (n, M) (row i = input i, modes in
   increasing mean cost) into *out (allocated; free()) with *nh points. ST_NOMEM. */
Status sig_oracle_hull(const double *kl, const double *cost, int n, int M, SigPoint **out,
                       int *nh, Err *e);

/* sig_rule_kl: the rule's mean KL at mean cost target, moving inputs order[0..n) (highest
   signal first) from mode lo to mode hi. NaN when target is outside [mean c(lo), mean c(hi)]. */
double sig_rule_kl(const double *kl, const double *cost, int n, int M, const int *order, int lo,
                   int hi, double target);

/* sig_order: order (n) of the inputs by decreasing sign * s, ties by increasing index. */
void sig_order(int *order /* (n) */, const double *s /* (n) */, int n, int sign);

#endif
