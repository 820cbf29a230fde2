/* signals_stats.c: Spearman, hulls, the per-input oracle and the two-rank rule of drrl-signals
 * (signals_stats.h). Sorting is qsort over indices with the index as the last key, so every
 * result is deterministic. */
#include "eval/signals_stats.h"

#include <math.h>
#include <stdlib.h>

static const double *sort_key; /* qsort's comparators read the values through this */
static int sort_sign;

static int cmp_idx(const void *a, const void *b) {
    const int i = *(const int *)a, j = *(const int *)b;
    const double x = sort_sign * sort_key[i], y = sort_sign * sort_key[j];
    if (x < y) return -1;
    if (x > y) return 1;
    return (i > j) - (i < j);
}

static void sort_indices(int *idx, const double *x, int n, int sign) {
    for (int i = 0; i < n; i++) idx[i] = i;
    sort_key = x, sort_sign = sign;
    qsort(idx, (size_t)n, sizeof(int), cmp_idx);
}

void sig_avg_ranks(double *rank, const double *x, int n, int *idx) {
    sort_indices(idx, x, n, 1);
    for (int a = 0; a < n;) {
        int b = a + 1;
        while (b < n && x[idx[b]] == x[idx[a]]) b++;
        const double r = 0.5 * (a + 1 + b); /* mean of the 1-based ranks a+1 .. b */
        for (int k = a; k < b; k++) rank[idx[k]] = r;
        a = b;
    }
}

double sig_spearman(const double *x, const double *y, int n, double *work, int *iwork) {
    if (n < 2) return NAN;
    double *rx = work, *ry = work + n;
    sig_avg_ranks(rx, x, n, iwork);
    sig_avg_ranks(ry, y, n, iwork);
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) mx += rx[i], my += ry[i];
    mx /= n, my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        const double a = rx[i] - mx, b = ry[i] - my;
        sxy += a * b, sxx += a * a, syy += b * b;
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

static int cmp_point(const void *a, const void *b) {
    const SigPoint *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return (p->y > q->y) - (p->y < q->y);
}

int sig_hull(SigPoint *p, int n) {
    qsort(p, (size_t)n, sizeof *p, cmp_point);
    int h = 0;
    for (int k = 0; k < n; k++) {
        const SigPoint q = p[k];
        while (h >= 2) {
            const SigPoint a = p[h - 2], b = p[h - 1];
            if ((b.x - a.x) * (q.y - a.y) - (b.y - a.y) * (q.x - a.x) <= 0) h--;
            else break;
        }
        if (h && p[h - 1].x == q.x) continue; /* same x, higher y: not on the lower hull */
        p[h++] = q;
    }
    return h;
}

double sig_hull_at(const SigPoint *h, int nh, double x) {
    if (nh < 1 || x < h[0].x - 1e-12) return NAN;
    double best = INFINITY;
    for (int k = 0; k < nh; k++)
        if (h[k].x <= x + 1e-12 && h[k].y < best) best = h[k].y;
    for (int k = 0; k + 1 < nh; k++)
        if (h[k].x < x && x < h[k + 1].x) {
            const double y = h[k].y + (h[k + 1].y - h[k].y) * (x - h[k].x) / (h[k + 1].x - h[k].x);
            if (y < best) best = y;
        }
    return best;
}

/* the oracle's (mean cost, mean KL) at one lam; ties to the lower mode index */
static SigPoint oracle_at(const double *kl, const double *cost, int n, int M, double lam) {
    double c = 0, k = 0;
    for (int i = 0; i < n; i++) {
        const double *ki = kl + (size_t)i * M, *ci = cost + (size_t)i * M;
        int best = 0;
        double bo = ki[0] + lam * ci[0];
        for (int m = 1; m < M; m++) {
            const double o = ki[m] + lam * ci[m];
            if (o < bo) bo = o, best = m;
        }
        c += ci[best], k += ki[best];
    }
    return (SigPoint){c / n, k / n};
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Status sig_oracle_hull(const double *kl, const double *cost, int n, int M, SigPoint **out,
                       int *nh, Err *e) {
    const size_t cap = (size_t)n * M * (M - 1) / 2 + 1;
    double *lam = malloc(sizeof(double) * cap);
    SigPoint *p = malloc(sizeof(SigPoint) * (2 * cap + 1));
    if (!lam || !p) {
        free(lam), free(p);
        return err_set(e, ST_NOMEM, "sig_oracle_hull: out of memory for %zu breakpoints", cap);
    }
    size_t nl = 0;
    lam[nl++] = 0.0;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < M; a++)
            for (int b = 0; b < M; b++) {
                const double ca = cost[(size_t)i * M + a], cb = cost[(size_t)i * M + b];
                if (!(cb > ca)) continue;
                const double v = (kl[(size_t)i * M + a] - kl[(size_t)i * M + b]) / (cb - ca);
                if (v > 0) lam[nl++] = v;
            }
    qsort(lam, nl, sizeof(double), cmp_double);
    size_t np = 0;
    for (size_t j = 0; j < nl; j++) {
        if (j && lam[j] == lam[j - 1]) continue;
        p[np++] = oracle_at(kl, cost, n, M, lam[j]);
        p[np++] = oracle_at(kl, cost, n, M, lam[j] * (1 + 1e-9) + 1e-300);
    }
    p[np++] = oracle_at(kl, cost, n, M, 1e300);
    free(lam);
    *nh = sig_hull(p, (int)np);
    *out = p;
    return ST_OK;
}

double sig_rule_kl(const double *kl, const double *cost, int n, int M, const int *order, int lo,
                   int hi, double target) {
    double c_lo = 0, c_hi = 0, k = 0;
    for (int i = 0; i < n; i++) {
        c_lo += cost[(size_t)i * M + lo], c_hi += cost[(size_t)i * M + hi];
        k += kl[(size_t)i * M + lo];
    }
    if (target * n < c_lo - 1e-9 * fabs(c_lo) || target * n > c_hi + 1e-9 * fabs(c_hi))
        return NAN;
    double budget = target * n - c_lo;
    for (int j = 0; j < n; j++) {
        const size_t i = (size_t)order[j] * M;
        const double dc = cost[i + hi] - cost[i + lo], dk = kl[i + hi] - kl[i + lo];
        if (dc <= budget) {
            budget -= dc, k += dk;
            continue;
        }
        k += dk * (budget > 0 ? budget / dc : 0.0); /* the fraction that fills the budget */
        break;
    }
    return k / n;
}

void sig_order(int *order, const double *s, int n, int sign) {
    sort_indices(order, s, n, sign >= 0 ? -1 : 1);
}
