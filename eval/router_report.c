/* router_report.c: drrl-router's comparison and its files (router_report.h). */
#include "eval/router_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/signals_stats.h"

#define NTAU 243 /* +inf, 10^(-0.05 j) for j = 0..240, 0 */

typedef struct {
    int c, k;      /* currency, the static rank's mode */
    double cost, st, router, rule, coracle, oracle;
    double r_acc, r_agree, u_acc, u_agree, s_acc, s_agree;
} CmpRow;

typedef struct {
    CascadeCosts cc;
    CascadePoint *router, *rule, st[ROUTER_MAX_RANKS + 1];
    int nrule;
    SigPoint *orc[2][CUR_N]; /* plain, cascade */
    int norc[2][CUR_N];
    double *x, *y;           /* (nrule) hull work */
    int *idx;
    CmpRow row[CUR_N * ROUTER_MAX_RANKS];
    int nrow;
} Rep;

/* the hull of points p in currency c at cost C: out = kl, acc, agree (NaN left of it) */
static void pts_at(Rep *r, const CascadePoint *p, int np, int c, double C, double out[3]) {
    for (int i = 0; i < np; i++) r->x[i] = p[i].cost[c], r->y[i] = p[i].kl;
    const int nh = frontier_hull(r->x, r->y, np, r->idx);
    int a, b;
    double t;
    if (frontier_at(r->x, r->y, r->idx, nh, C, &a, &b, &t)) {
        out[0] = out[1] = out[2] = NAN;
        return;
    }
    out[0] = (1 - t) * p[a].kl + t * p[b].kl, out[1] = (1 - t) * p[a].acc + t * p[b].acc;
    out[2] = (1 - t) * p[a].agree + t * p[b].agree;
}

static Status points_make(Rep *r, const Router *rt, const RouterData *tr, const RouterData *d,
                          const char *sig, Err *e) {
    const int n = d->n, M = d->M;
    int *choice = malloc(sizeof(int) * (size_t)n);
    double *yhat = malloc(sizeof(double) * (size_t)n * (M - 1));
    double *work = malloc(sizeof(double) * 2 * (size_t)tr->n);
    int *iwork = malloc(sizeof(int) * (size_t)tr->n);
    r->nrule = (M - 1) * (n + 1);
    r->router = malloc(sizeof(CascadePoint) * (NTAU + (size_t)r->nrule));
    r->x = malloc(sizeof(double) * 2 * ((size_t)r->nrule + NTAU));
    r->idx = malloc(sizeof(int) * ((size_t)r->nrule + NTAU));
    Status s = choice && yhat && work && iwork && r->router && r->x && r->idx
                   ? ST_OK : err_set(e, ST_NOMEM, "router_report: out of memory for %d rows", n);
    if (!s) r->rule = r->router + NTAU, r->y = r->x + r->nrule + NTAU;
    if (!s) s = router_predict(rt, d, yhat, e);
    for (int j = 0; j < NTAU && !s; j++) {
        const double lt = j == 0 ? INFINITY : j == NTAU - 1 ? -INFINITY : -0.05 * (j - 1) * log(10);
        cascade_route(yhat, n, M, lt, choice);
        r->router[j] = cascade_point(&r->cc, d, choice);
        r->router[j].param = exp(lt);
    }
    const double *sd = router_data_col(d, sig), *st = router_data_col(tr, sig);
    if (!s && (!sd || !st))
        s = err_set(e, ST_MISSING, "--rule-signal: expected a column %s in both signals.tsv, "
                    "found none", sig);
    if (!s) {
        double *y0 = malloc(sizeof(double) * (size_t)tr->n);
        if (!y0) s = err_set(e, ST_NOMEM, "router_report: out of memory");
        for (int i = 0; i < tr->n && !s; i++) y0[i] = tr->kl[(size_t)i * tr->M];
        const double rho = s ? NAN : sig_spearman(st, y0, tr->n, work, iwork);
        free(y0);
        if (!s) s = cascade_rule_points(&r->cc, d, sd, rho < 0 ? -1 : 1, r->rule, e);
    }
    for (int m = 0; m < M && !s; m++) {
        for (int i = 0; i < n; i++) choice[i] = m;
        r->st[m] = cascade_point(&r->cc, d, choice);
        for (int c = 0; c < CUR_N; c++) { /* static: no cheap pass */
            r->st[m].cost[c] = 0;
            for (int i = 0; i < n; i++)
                r->st[m].cost[c] += r->cc.cost[((size_t)c * n + i) * M + m] / n;
        }
        r->st[m].mode = m, r->st[m].param = m < M - 1 ? d->ranks[m] : 0;
    }
    free(choice), free(yhat), free(work), free(iwork);
    return s;
}

/* the plain and cascade oracles in each currency */
static Status oracles_make(Rep *r, const RouterData *d, Err *e) {
    const int n = d->n, M = d->M;
    double *cost = malloc(sizeof(double) * (size_t)n * M);
    Status s = cost ? ST_OK : err_set(e, ST_NOMEM, "router_report: out of memory");
    for (int c = 0; c < CUR_N && !s; c++) {
        const double *cm = r->cc.cost + (size_t)c * n * M, *k = r->cc.cheap + (size_t)c * n;
        s = sig_oracle_hull(d->kl, cm, n, M, &r->orc[0][c], &r->norc[0][c], e);
        for (int i = 0; i < n && !s; i++)
            for (int m = 0; m < M; m++)
                cost[(size_t)i * M + m] = k[i] + (m ? cm[(size_t)i * M + m] : 0);
        if (!s) s = sig_oracle_hull(d->kl, cost, n, M, &r->orc[1][c], &r->norc[1][c], e);
    }
    free(cost);
    return s;
}

static void rows_make(Rep *r, const RouterData *d) {
    for (int c = 0; c < CUR_N; c++)
        for (int k = 1; k < d->nr; k++) {
            CmpRow *w = &r->row[r->nrow++];
            double o[3];
            w->c = c, w->k = k, w->cost = r->st[k].cost[c];
            pts_at(r, r->st, d->M, c, w->cost, o);
            w->st = o[0], w->s_acc = r->st[k].acc, w->s_agree = r->st[k].agree;
            pts_at(r, r->router, NTAU, c, w->cost, o);
            w->router = o[0], w->r_acc = o[1], w->r_agree = o[2];
            pts_at(r, r->rule, r->nrule, c, w->cost, o);
            w->rule = o[0], w->u_acc = o[1], w->u_agree = o[2];
            w->oracle = sig_hull_at(r->orc[0][c], r->norc[0][c], w->cost);
            w->coracle = sig_hull_at(r->orc[1][c], r->norc[1][c], w->cost);
        }
}

static double share(double st, double m, double orc) {
    return st - orc > 0 ? (st - m) / (st - orc) : NAN;
}

static Status write_compare(const Rep *r, const RouterData *d, const RouterReportInfo *ri,
                            const char *dir, FILE *md, Err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/compare.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return err_set(e, ST_IO, "%s: cannot open for writing", path);
    fprintf(f, "currency,at_rank,cost,kl_static,kl_router,kl_rule,kl_cascade_oracle,kl_oracle,"
               "static_over_router,static_over_rule,share_router_cascade_oracle,share_router_oracle,"
               "share_rule_cascade_oracle,share_rule_oracle,acc_router,agree_router,acc_rule,"
               "agree_rule,acc_static,agree_static\n");
    for (int j = 0; j < r->nrow; j++) {
        const CmpRow *w = &r->row[j];
        fprintf(f, "%s,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,"
                "%.9g,%.9g,%.9g,%.9g\n", router_currency[w->c], d->ranks[w->k], w->cost, w->st,
                w->router, w->rule, w->coracle, w->oracle, w->st / w->router, w->st / w->rule,
                share(w->st, w->router, w->coracle), share(w->st, w->router, w->oracle),
                share(w->st, w->rule, w->coracle), share(w->st, w->rule, w->oracle), w->r_acc,
                w->r_agree, w->u_acc, w->u_agree, w->s_acc, w->s_agree);
    }
    if (fclose(f)) return err_set(e, ST_IO, "%s: write failed", path);
    snprintf(path, sizeof path, "%s/compare.md", dir);
    FILE *g = fopen(path, "w");
    if (!g) return err_set(e, ST_IO, "%s: cannot open for writing", path);
    for (FILE *o = g; o; o = o == g ? md : NULL) {
        fprintf(o, "# drrl-router: router fitted on %s, evaluated on %s (%d inputs)\n\n`%s`\n\n",
                ri->train, ri->dev, d->n, ri->cmdline);
        fprintf(o, "At the mean cost of each static rank (ratio to full) in each currency; KL = "
                   "mean KL(p_full || p); share = of the cascade oracle's / the plain oracle's "
                   "gain over the static hull; rule = %s threshold cascade; acc/agree in %%.\n\n"
                   "| currency | at | cost | static | router | rule | casc. oracle | oracle | "
                   "static/router | static/rule | share router | share rule | router acc | "
                   "router agree | rule acc | static acc | static agree |\n"
                   "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
                   "---: | ---: | ---: | ---: | ---: | ---: |\n", ri->rule_signal);
        for (int j = 0; j < r->nrow; j++) {
            const CmpRow *w = &r->row[j];
            fprintf(o, "| %s | %d | %.4f | %.3g | %.3g | %.3g | %.3g | %.3g | %.2f | %.2f | "
                    "%.2f / %.2f | %.2f / %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
                    router_currency[w->c], d->ranks[w->k], w->cost, w->st, w->router, w->rule,
                    w->coracle, w->oracle, w->st / w->router, w->st / w->rule,
                    share(w->st, w->router, w->coracle), share(w->st, w->router, w->oracle),
                    share(w->st, w->rule, w->coracle), share(w->st, w->rule, w->oracle),
                    100 * w->r_acc, 100 * w->r_agree, 100 * w->u_acc, 100 * w->s_acc,
                    100 * w->s_agree);
        }
        fprintf(o, "\nFull: accuracy %.2f%%; cheap pass (rank %d + features): %.4f / %.4f / "
                "%.4f of full (attention / model / latency).\n", 100 * r->st[d->M - 1].acc,
                d->ranks[0], r->router[0].cost[0], r->router[0].cost[1], r->router[0].cost[2]);
    }
    return fclose(g) ? err_set(e, ST_IO, "%s: write failed", path) : ST_OK;
}

/* one method's points in currency c, hull vertices marked */
static void frontier_rows(Rep *r, FILE *f, const char *method, const CascadePoint *p, int np,
                          int c) {
    for (int i = 0; i < np; i++) r->x[i] = p[i].cost[c], r->y[i] = p[i].kl;
    const int nh = frontier_hull(r->x, r->y, np, r->idx);
    for (int i = 0; i < np; i++) {
        int hull = 0;
        for (int q = 0; q < nh && !hull; q++) hull = r->idx[q] == i;
        fprintf(f, "%s,%s,%.9g,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%d\n", method, router_currency[c],
                p[i].param, p[i].mode, p[i].cost[c], p[i].kl, p[i].acc, p[i].agree, p[i].esc,
                hull);
    }
}

static Status write_frontier(Rep *r, const RouterData *d, const char *dir, Err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/frontier.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return err_set(e, ST_IO, "%s: cannot open for writing", path);
    fprintf(f, "method,currency,param,mode,cost,kl,acc,agree,escalated,hull\n");
    for (int c = 0; c < CUR_N; c++) {
        frontier_rows(r, f, "static", r->st, d->M, c);
        frontier_rows(r, f, "router", r->router, NTAU, c);
        frontier_rows(r, f, "rule", r->rule, r->nrule, c);
        for (int o = 0; o < 2; o++)
            for (int q = 0; q < r->norc[o][c]; q++)
                fprintf(f, "%s,%s,nan,-1,%.9g,%.9g,nan,nan,nan,1\n", o ? "cascade_oracle" : "oracle",
                        router_currency[c], r->orc[o][c][q].x, r->orc[o][c][q].y);
    }
    return fclose(f) ? err_set(e, ST_IO, "%s: write failed", path) : ST_OK;
}

static Status write_cv(const Router *rt, const char *dir, Err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/cv.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return err_set(e, ST_IO, "%s: cannot open for writing", path);
    fprintf(f, "rank,lambda,cv_mse,chosen,train_mse\n");
    for (int k = 0; k < rt->nr; k++)
        for (int l = 0; l < rt->nl; l++)
            fprintf(f, "%d,%.9g,%.9g,%d,%.9g\n", rt->ranks[k], rt->lambdas[l], rt->cv[k][l],
                    rt->lambdas[l] == rt->lambda[k], rt->train_mse[k]);
    return fclose(f) ? err_set(e, ST_IO, "%s: write failed", path) : ST_OK;
}

Status router_report(const Router *rt, const RouterData *train, const RouterData *dev,
                     const RouterReportInfo *ri, const char *dir, FILE *md, Err *e) {
    static Rep r;
    memset(&r, 0, sizeof r);
    Status s = cascade_costs(&r.cc, dev, e);
    if (!s) s = points_make(&r, rt, train, dev, ri->rule_signal, e);
    if (!s) s = oracles_make(&r, dev, e);
    if (!s) rows_make(&r, dev);
    if (!s) s = write_compare(&r, dev, ri, dir, md, e);
    if (!s) s = write_frontier(&r, dev, dir, e);
    if (!s && rt->nl > 0) s = write_cv(rt, dir, e);
    cascade_costs_free(&r.cc);
    free(r.router), free(r.x), free(r.idx);
    for (int o = 0; o < 2; o++)
        for (int c = 0; c < CUR_N; c++) free(r.orc[o][c]);
    return s;
}
