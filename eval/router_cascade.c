/* router_cascade.c: the cascade's costs, its rules' points and the frontiers
 * (router_cascade.h). */
#include "eval/router_cascade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const router_currency[CUR_N] = {"attention", "model", "latency"};

Status cascade_costs(CascadeCosts *cc, const RouterData *d, Err *e) {
    const int n = d->n, M = d->M;
    cc->n = n, cc->M = M;
    cc->cost = malloc(sizeof(double) * (size_t)CUR_N * n * M);
    cc->cheap = malloc(sizeof(double) * (size_t)CUR_N * n);
    if (!cc->cost || !cc->cheap) return err_set(e, ST_NOMEM, "cascade: out of memory for %d rows", n);
    double norm[CUR_N] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        const size_t f = (size_t)i * M + M - 1;
        norm[CUR_ATTN] += d->attn[f] / n, norm[CUR_MODEL] += (d->attn[f] + d->rest[i]) / n;
        norm[CUR_MS] += d->ms[(size_t)i * (M + 1) + M - 1] / n;
    }
    if (!(norm[CUR_ATTN] > 0) || !(norm[CUR_MODEL] > 0))
        return err_set(e, ST_NUMERIC, "cascade: expected positive FLOPs at full, found mean %g",
                       norm[CUR_ATTN]);
    for (int i = 0; i < n; i++) {
        const double *ms = d->ms + (size_t)i * (M + 1);
        for (int m = 0; m < M; m++) {
            const double a = d->attn[(size_t)i * M + m];
            cc->cost[((size_t)CUR_ATTN * n + i) * M + m] = a / norm[CUR_ATTN];
            cc->cost[((size_t)CUR_MODEL * n + i) * M + m] = (a + d->rest[i]) / norm[CUR_MODEL];
            cc->cost[((size_t)CUR_MS * n + i) * M + m] = ms[m] / norm[CUR_MS];
        }
        cc->cheap[(size_t)CUR_ATTN * n + i] = d->attn[(size_t)i * M] / norm[CUR_ATTN];
        cc->cheap[(size_t)CUR_MODEL * n + i] =
            (d->attn[(size_t)i * M] + d->rest[i] + d->feat[i]) / norm[CUR_MODEL];
        cc->cheap[(size_t)CUR_MS * n + i] = ms[M] / norm[CUR_MS];
    }
    return ST_OK;
}

void cascade_costs_free(CascadeCosts *cc) {
    free(cc->cost), free(cc->cheap);
    memset(cc, 0, sizeof *cc);
}

/* input i's cascade cost in currency c ending in mode m */
static double casc(const CascadeCosts *cc, int c, int i, int m) {
    const double k = cc->cheap[(size_t)c * cc->n + i];
    return m == 0 ? k : k + cc->cost[((size_t)c * cc->n + i) * cc->M + m];
}

CascadePoint cascade_point(const CascadeCosts *cc, const RouterData *d, const int *choice) {
    const int n = d->n, M = d->M;
    CascadePoint p;
    memset(&p, 0, sizeof p);
    p.mode = -1;
    int lab = 0, ok = 0, agree = 0;
    for (int i = 0; i < n; i++) {
        const int m = choice[i];
        for (int c = 0; c < CUR_N; c++) p.cost[c] += casc(cc, c, i, m) / n;
        p.kl += d->kl[(size_t)i * M + m] / n, p.esc += (m != 0) / (double)n;
        const double pr = d->pred[(size_t)i * M + m];
        agree += pr == d->pred[(size_t)i * M + M - 1];
        if (d->label[i] >= 0) lab++, ok += pr == d->label[i];
    }
    p.acc = lab ? (double)ok / lab : NAN, p.agree = (double)agree / n;
    return p;
}

void cascade_route(const double *yhat, int n, int M, double log_tau, int *choice) {
    const int nr = M - 1;
    for (int i = 0; i < n; i++) {
        const double *y = yhat + (size_t)i * nr;
        int m = 0;
        if (!(y[0] <= log_tau)) {
            m = M - 1;
            for (int k = 1; k < nr; k++)
                if (y[k] <= log_tau) { m = k; break; }
        }
        choice[i] = m;
    }
}

/* the order by decreasing key, ties by increasing index */
static const double *sort_key;
static int cmp_desc(const void *a, const void *b) {
    const int i = *(const int *)a, j = *(const int *)b;
    const double p = sort_key[i], q = sort_key[j];
    return p > q ? -1 : p < q ? 1 : (i > j) - (i < j);
}

Status cascade_rule_points(const CascadeCosts *cc, const RouterData *d, const double *s,
                           int sign, CascadePoint *out, Err *e) {
    const int n = d->n, M = d->M;
    int *order = malloc(sizeof(int) * (size_t)n), *choice = malloc(sizeof(int) * (size_t)n);
    double *key = malloc(sizeof(double) * (size_t)n);
    if (!order || !choice || !key) {
        free(order), free(choice), free(key);
        return err_set(e, ST_NOMEM, "cascade: out of memory for %d rows", n);
    }
    for (int i = 0; i < n; i++) order[i] = i, key[i] = sign * s[i], choice[i] = 0;
    sort_key = key;
    qsort(order, (size_t)n, sizeof(int), cmp_desc);
    for (int m = 1; m < M; m++) {
        CascadePoint p = cascade_point(cc, d, choice);
        int lab = 0, ok = 0, agree = (int)lround(p.agree * n);
        for (int i = 0; i < n; i++)
            if (d->label[i] >= 0) lab++, ok += d->pred[(size_t)i * M] == d->label[i];
        for (int j = 0; j <= n; j++) {
            if (j > 0) { /* input order[j-1] escalates from 0 to m */
                const int i = order[j - 1];
                const double *pr = d->pred + (size_t)i * M;
                for (int c = 0; c < CUR_N; c++) p.cost[c] += (casc(cc, c, i, m) - casc(cc, c, i, 0)) / n;
                p.kl += (d->kl[(size_t)i * M + m] - d->kl[(size_t)i * M]) / n;
                p.esc += 1.0 / n;
                agree += (pr[m] == pr[M - 1]) - (pr[0] == pr[M - 1]);
                if (d->label[i] >= 0) ok += (pr[m] == d->label[i]) - (pr[0] == d->label[i]);
            }
            p.acc = lab ? (double)ok / lab : NAN, p.agree = (double)agree / n;
            p.param = j ? s[order[j - 1]] : sign * INFINITY, p.mode = m;
            out[(size_t)(m - 1) * (n + 1) + j] = p;
        }
    }
    free(order), free(choice), free(key);
    return ST_OK;
}

static const double *hx, *hy;
static int cmp_xy(const void *a, const void *b) {
    const int i = *(const int *)a, j = *(const int *)b;
    if (hx[i] != hx[j]) return hx[i] < hx[j] ? -1 : 1;
    if (hy[i] != hy[j]) return hy[i] < hy[j] ? -1 : 1;
    return (i > j) - (i < j);
}

int frontier_hull(const double *x, const double *y, int n, int *idx) {
    int *o = malloc(sizeof(int) * (size_t)(n ? n : 1)), k = 0, h = 0;
    if (!o) return 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) o[k++] = i;
    hx = x, hy = y;
    qsort(o, (size_t)k, sizeof(int), cmp_xy);
    for (int q = 0; q < k; q++) {
        const int p = o[q];
        if (q > 0 && x[p] == x[o[q - 1]]) continue; /* equal x: the lowest y came first */
        while (h >= 2) {
            const int a = idx[h - 2], b = idx[h - 1];
            const double cr = (x[b] - x[a]) * (y[p] - y[a]) - (y[b] - y[a]) * (x[p] - x[a]);
            if (cr <= 0) h--; else break;
        }
        idx[h++] = p;
    }
    free(o);
    return h;
}

int frontier_at(const double *x, const double *y, const int *idx, int nh, double xq, int *a,
                int *b, double *t) {
    if (nh < 1 || xq < x[idx[0]]) return -1;
    double best = INFINITY;
    for (int q = 0; q < nh && x[idx[q]] <= xq; q++) {
        if (y[idx[q]] < best) best = y[idx[q]], *a = *b = idx[q], *t = 0;
        if (q + 1 < nh && x[idx[q + 1]] > xq) {
            const int u = idx[q], v = idx[q + 1];
            const double w = (xq - x[u]) / (x[v] - x[u]), yy = y[u] + w * (y[v] - y[u]);
            if (yy < best) best = yy, *a = u, *b = v, *t = w;
        }
    }
    return 0;
}
