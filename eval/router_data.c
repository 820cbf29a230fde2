/* router_data.c: signals.tsv read back (router_data.h). */
#include "eval/router_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double *router_data_col(const RouterData *d, const char *name) {
    for (int j = 0; j < d->ncol; j++)
        if (!strcmp(d->name[j], name)) return d->col + (size_t)j * d->n;
    return NULL;
}

/* split line in place at tabs into at most cap fields; returns the count */
static int split_tabs(char *line, char **f, int cap) {
    int k = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line; k < cap;) {
        f[k++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = 0, p = t + 1;
    }
    return k;
}

static Status read_header(RouterData *d, FILE *fp, char **line, size_t *cap, const char *path,
                          Err *e) {
    if (getline(line, cap, fp) < 0) return err_set(e, ST_FORMAT, "%s: expected a header, found an empty file", path);
    int nt = 1;
    for (const char *p = *line; *p; p++) nt += *p == '\t';
    char **f = malloc(sizeof(char *) * (size_t)nt);
    d->name = malloc(sizeof *d->name * (size_t)nt);
    if (!f || !d->name) return free(f), err_set(e, ST_NOMEM, "%s: out of memory", path);
    d->ncol = split_tabs(*line, f, nt);
    for (int j = 0; j < d->ncol; j++) snprintf(d->name[j], ROUTER_NAME, "%s", f[j]);
    free(f);
    return ST_OK;
}

/* the rows into d->col (grown as needed) */
static Status read_rows(RouterData *d, FILE *fp, char **line, size_t *cap, const char *path,
                        Err *e) {
    char **f = malloc(sizeof(char *) * (size_t)(d->ncol + 1));
    double *row = NULL;
    size_t have = 0;
    Status s = f ? ST_OK : err_set(e, ST_NOMEM, "%s: out of memory", path);
    while (!s && getline(line, cap, fp) >= 0) {
        if (**line == '\n' || !**line) continue;
        const int k = split_tabs(*line, f, d->ncol + 1);
        if (k != d->ncol) {
            s = err_set(e, ST_FORMAT, "%s: row %d: expected %d fields, found %d", path, d->n + 2,
                        d->ncol, k);
            break;
        }
        if ((size_t)d->n == have) {
            have = have ? 2 * have : 1024;
            double *g = realloc(row, sizeof(double) * have * (size_t)d->ncol);
            if (!g) { s = err_set(e, ST_NOMEM, "%s: out of memory", path); break; }
            row = g;
        }
        for (int j = 0; j < d->ncol && !s; j++) {
            char *end;
            double v = *f[j] ? strtod(f[j], &end) : NAN;
            if (*f[j] && *end)
                s = err_set(e, ST_FORMAT, "%s: row %d, column %s: expected a number, found '%s'",
                            path, d->n + 2, d->name[j], f[j]);
            row[(size_t)d->n * d->ncol + j] = v;
        }
        d->n++;
    }
    if (!s && !d->n) s = err_set(e, ST_FORMAT, "%s: expected data rows, found none", path);
    if (!s && !(d->col = malloc(sizeof(double) * (size_t)d->n * d->ncol)))
        s = err_set(e, ST_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < d->n && !s; i++) /* transpose: (n, ncol) to (ncol, n) */
        for (int j = 0; j < d->ncol; j++) d->col[(size_t)j * d->n + i] = row[(size_t)i * d->ncol + j];
    free(f), free(row);
    return s;
}

static Status need(const RouterData *d, const char *name, const double **out, const char *path,
                   Err *e) {
    *out = router_data_col(d, name);
    return *out ? ST_OK : err_set(e, ST_MISSING, "%s: expected a column %s (drrl-signals' "
                                  "signals.tsv), found none", path, name);
}

/* the modes' columns into the row-major copies */
static Status modes_copy(RouterData *d, const char *path, Err *e) {
    for (int j = 0; j < d->ncol && d->nr < ROUTER_MAX_RANKS; j++)
        if (!strncmp(d->name[j], "kl:", 3)) d->ranks[d->nr++] = atoi(d->name[j] + 3);
    if (d->nr < 1) return err_set(e, ST_MISSING, "%s: expected kl:<rank> columns, found none", path);
    const int n = d->n, M = d->M = d->nr + 1;
    d->kl = calloc((size_t)n * M * 3, sizeof(double));
    d->ms = malloc(sizeof(double) * (size_t)n * (M + 1));
    if (!d->kl || !d->ms) return err_set(e, ST_NOMEM, "%s: out of memory", path);
    d->attn = d->kl + (size_t)n * M, d->pred = d->kl + (size_t)2 * n * M;
    const char *what[4] = {"kl", "flops", "pred", "ms"};
    double *to[4] = {d->kl, d->attn, d->pred, d->ms};
    Status s = ST_OK;
    for (int w = 0; w < 4 && !s; w++)
        for (int m = 0; m < M + (w == 3) && !s; m++) {
            if (w == 0 && m == M - 1) continue; /* full: KL 0 */
            char nm[ROUTER_NAME];
            if (m < d->nr) snprintf(nm, sizeof nm, "%s:%d", what[w], d->ranks[m]);
            else snprintf(nm, sizeof nm, "%s:%s", what[w], m == M - 1 ? "full" : "cheap");
            const double *c;
            s = need(d, nm, &c, path, e);
            for (int i = 0; i < n && !s; i++) to[w][(size_t)i * (M + (w == 3)) + m] = c[i];
        }
    if (!s) s = need(d, "rest_flops", &d->rest, path, e);
    if (!s) s = need(d, "feat_flops", &d->feat, path, e);
    if (!s) s = need(d, "label", &d->label, path, e);
    return s;
}

Status router_data_load(RouterData *d, const char *path, Err *e) {
    FILE *fp = fopen(path, "r");
    if (!fp) return err_set(e, ST_IO, "%s: cannot open for reading", path);
    char *line = NULL;
    size_t cap = 0;
    Status s = read_header(d, fp, &line, &cap, path, e);
    if (!s) s = read_rows(d, fp, &line, &cap, path, e);
    free(line);
    fclose(fp);
    return s ? s : modes_copy(d, path, e);
}

void router_data_free(RouterData *d) {
    free(d->name), free(d->col), free(d->kl), free(d->ms);
    memset(d, 0, sizeof *d);
}
