/* router_cascade.h: the cascade (escalate) rule and its cost accounting in three currencies,
 * from a drrl-signals per-input file (eval/router_data.h). Modes m = 0 .. M-1: the ranks of
 * the list, then full (KL 0). Input i's cost of mode m alone, normalised so that full's mean
 * over the inputs is 1:
 *   attention  c_i(m) = flops_i(m) / mean_j flops_j(full)              (counted)
 *   model      c_i(m) = (flops_i(m) + rest_i) / mean_j (flops_j(full) + rest_j)   (counted:
 *              attention, feed-forward, pooler and classifier on the real rows)
 *   latency    c_i(m) = ms_i(m) / mean_j ms_j(full)                   (measured, per input:
 *              eval/signals_time.h)
 * The cheap pass: mode 0 plus its deployable features (the head after every layer, the row
 * norms of every layer input): k_i = c_i(0) (attention: the features run no attention), or
 * (flops_i(0) + rest_i + feat_i) / norm (model), or ms_i(cheap) / norm (latency).
 * A cascade input that ends in mode m pays k_i (m = 0) or k_i + c_i(m) (m >= 1: re-run whole).
 *
 * Rules (each gives a choice per input, then a point: mean cost per currency, mean KL,
 * accuracy against the labels, agreement with full's prediction, share escalated):
 *   router    predicted y_ik = log(KL_ik + 1e-12) (eval/router_fit.h), budget tau: m = 0 if
 *             y_i0 <= log tau, else the cheapest k >= 1 with y_ik <= log tau, else full
 *   rule      one signal s, threshold t, target mode m: escalate to m the inputs with
 *             sign * s_i > t (sign -1 for a margin: low margin escalates)
 *   oracle    per input, with hindsight (signals_stats.h's sig_oracle_hull): the cascade
 *             oracle over costs k_i, k_i + c_i(m); the plain oracle over c_i(m)
 * Frontiers are lower convex hulls of (mean cost, mean KL) points (mixing two points by a
 * per-input coin is a rule too); at a cost the hull's value (or a vertex to its left if
 * lower), accuracy and agreement mixed with the same weight. */
#ifndef DRRL_EVAL_ROUTER_CASCADE_H
#define DRRL_EVAL_ROUTER_CASCADE_H

#include "eval/router_data.h"

enum { CUR_ATTN, CUR_MODEL, CUR_MS, CUR_N };
extern const char *const router_currency[CUR_N]; /* "attention", "model", "latency" */

typedef struct {
    int n, M;
    double *cost;  /* (CUR_N, n, M) c_i(m) */
    double *cheap; /* (CUR_N, n) k_i */
} CascadeCosts;

typedef struct {
    double cost[CUR_N], kl, acc, agree, esc;
    double param; /* tau, or the rule's threshold */
    int mode;     /* the rule's target mode (router: -1) */
} CascadePoint;

/* cascade_costs: cc zeroed by the caller; cascade_costs_free after any return. ST_NUMERIC
   when a normaliser is not positive (latency: NaN ms, an untimed run, gives NaN costs). */
Status cascade_costs(CascadeCosts *cc, const RouterData *d, Err *e);
void cascade_costs_free(CascadeCosts *cc);

/* cascade_point: the point of per-input final modes choice (n) (m = 0: not escalated). */
CascadePoint cascade_point(const CascadeCosts *cc, const RouterData *d, const int *choice);

/* cascade_route: the router's choices at log budget log_tau; yhat (n, M - 1). */
void cascade_route(const double *yhat, int n, int M, double log_tau, int *choice);

/* cascade_rule_points: every threshold of signal s (escalating the j inputs of largest
   sign * s, j = 0..n) for every target mode 1..M-1 into out ((M - 1) (n + 1) points, param =
   the threshold's signal value, +inf for j = 0). ST_NOMEM. */
Status cascade_rule_points(const CascadeCosts *cc, const RouterData *d, const double *s,
                           int sign, CascadePoint *out, Err *e);

/* frontier_hull: the lower convex hull of (x[i], y[i]) as indices in increasing x (equal x:
   the lowest y); idx (n) out; returns the count. */
int frontier_hull(const double *x, const double *y, int n, int *idx);

/* frontier_at: the hull's least y at cost at most xq as y[a] (1 - t) + y[b] t; returns 0, or
   -1 when xq is left of the hull (a, b, t unset). */
int frontier_at(const double *x, const double *y, const int *idx, int nh, double xq, int *a,
                int *b, double *t);

#endif
