/* signals_table.c: drrl-signals' accounting (costs, hulls, oracle, rules, shares) and its
 * files (signals_table.h). */
#include "eval/signals_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/store.h"
#include "eval/signals_stats.h"

#define MAX_T (2 * SIG_MAX_RANKS)

typedef struct {
    int nt, lo[MAX_T], hi[MAX_T];
    double target[MAX_T], kl_static[MAX_T], kl_oracle[MAX_T];
    char name[MAX_T][32];
    double mcost[SIG_MAX_RANKS + 1], mkl[SIG_MAX_RANKS + 1];
    double *cost;  /* (n, M) */
    /* per signal */
    double rho[SIG_MAX][SIG_MAX_RANKS], kl_rule[SIG_MAX + 1][MAX_T], share[SIG_MAX + 1][MAX_T];
    int sign[SIG_MAX];
} Acct;

static void mode_name(char *buf, size_t cap, const SigResult *r, int m) {
    if (m == r->M - 1) snprintf(buf, cap, "full");
    else snprintf(buf, cap, "%d", r->ranks[m]);
}

/* costs, modes, hulls and targets */
static Status acct_frontiers(Acct *a, const SigResult *r, Err *e) {
    const int n = r->n, M = r->M;
    double fsum = 0;
    for (int i = 0; i < n; i++) fsum += (double)r->flops[(size_t)i * M + M - 1];
    const double fmean = fsum / n;
    SigPoint st[SIG_MAX_RANKS + 1];
    for (int m = 0; m < M; m++) {
        a->mcost[m] = a->mkl[m] = 0;
        for (int i = 0; i < n; i++) {
            a->cost[(size_t)i * M + m] = (double)r->flops[(size_t)i * M + m] / fmean;
            a->mcost[m] += a->cost[(size_t)i * M + m] / n;
            a->mkl[m] += r->kl[(size_t)i * M + m] / n;
        }
        st[m] = (SigPoint){a->mcost[m], a->mkl[m]};
    }
    const int ns = sig_hull(st, M);
    SigPoint *orc = NULL;
    int no = 0;
    Status s = sig_oracle_hull(r->kl, a->cost, n, M, &orc, &no, e);
    if (s) return s;
    a->nt = 0;
    char lo[16], hi[16], mid[16];
    for (int m = 0; m + 1 < M; m++) {
        const int t = a->nt++;
        a->lo[t] = m, a->hi[t] = m + 1, a->target[t] = 0.5 * (a->mcost[m] + a->mcost[m + 1]);
        mode_name(lo, sizeof lo, r, m), mode_name(hi, sizeof hi, r, m + 1);
        snprintf(a->name[t], sizeof a->name[t], "%s-%s", lo, hi);
    }
    for (int m = 1; m + 1 < M; m++) {
        const int t = a->nt++;
        a->lo[t] = m - 1, a->hi[t] = m + 1, a->target[t] = a->mcost[m];
        mode_name(mid, sizeof mid, r, m);
        snprintf(a->name[t], sizeof a->name[t], "@%s", mid);
    }
    for (int t = 0; t < a->nt; t++) {
        a->kl_static[t] = sig_hull_at(st, ns, a->target[t]);
        a->kl_oracle[t] = sig_hull_at(orc, no, a->target[t]);
    }
    free(orc);
    return ST_OK;
}

static double share_of(const Acct *a, int t, double kl) {
    const double gain = a->kl_static[t] - a->kl_oracle[t];
    return gain > 0 ? (a->kl_static[t] - kl) / gain : NAN;
}

/* Spearman, sign, rule and share of every signal; the oracle's row last (index S) */
static Status acct_signals(Acct *a, const SigResult *r, Err *e) {
    const int n = r->n, M = r->M;
    double *work = malloc(sizeof(double) * 3 * (size_t)n);
    int *iw = malloc(sizeof(int) * (size_t)n), *order = malloc(sizeof(int) * (size_t)n);
    if (!work || !iw || !order) {
        free(work), free(iw), free(order);
        return err_set(e, ST_NOMEM, "signals_write: out of memory for %d inputs", n);
    }
    double *klm = work + 2 * (size_t)n;
    for (int j = 0; j < r->S; j++) {
        const double *v = r->val + (size_t)j * n;
        for (int k = 0; k < r->nr; k++) {
            for (int i = 0; i < n; i++) klm[i] = r->kl[(size_t)i * M + k];
            a->rho[j][k] = sig_spearman(v, klm, n, work, iw);
        }
        a->sign[j] = a->rho[j][0] < 0 ? -1 : 1;
        sig_order(order, v, n, a->sign[j]);
        for (int t = 0; t < a->nt; t++) {
            a->kl_rule[j][t] = sig_rule_kl(r->kl, a->cost, n, M, order, a->lo[t], a->hi[t],
                                           a->target[t]);
            a->share[j][t] = share_of(a, t, a->kl_rule[j][t]);
        }
    }
    for (int t = 0; t < a->nt; t++)
        a->kl_rule[r->S][t] = a->kl_oracle[t], a->share[r->S][t] = share_of(a, t, a->kl_oracle[t]);
    free(work), free(iw), free(order);
    return ST_OK;
}

static Status open_in(AtomicFile *f, const char *dir, const char *name, Err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return file_atomic_open(f, path, e);
}

static Status write_tsv(const SigResult *r, const char *dir, Err *e) {
    AtomicFile f;
    Status s = open_in(&f, dir, "signals.tsv", e);
    if (s) return s;
    const int M = r->M;
    fprintf(f.f, "row\tlength\tlabel");
    for (int k = 0; k < r->nr; k++) fprintf(f.f, "\tkl:%d", r->ranks[k]);
    for (int k = 0; k < r->nr; k++) fprintf(f.f, "\tflops:%d", r->ranks[k]);
    fprintf(f.f, "\tflops:full");
    for (int k = 0; k < r->nr; k++) fprintf(f.f, "\tpred:%d", r->ranks[k]);
    fprintf(f.f, "\tpred:full\trest_flops\tfeat_flops");
    for (int k = 0; k < r->nr; k++) fprintf(f.f, "\tms:%d", r->ranks[k]);
    fprintf(f.f, "\tms:full\tms:cheap");
    for (int j = 0; j < r->S; j++) fprintf(f.f, "\t%s", r->def[j].name);
    fprintf(f.f, "\n");
    for (int i = 0; i < r->n; i++) {
        fprintf(f.f, "%d\t%d\t%d", r->row[i], r->len[i], r->label[i]);
        for (int k = 0; k < r->nr; k++) fprintf(f.f, "\t%.17g", r->kl[(size_t)i * M + k]);
        for (int m = 0; m < M; m++) fprintf(f.f, "\t%lld", (long long)r->flops[(size_t)i * M + m]);
        for (int m = 0; m < M; m++) fprintf(f.f, "\t%d", r->pred[(size_t)i * M + m]);
        fprintf(f.f, "\t%lld\t%lld", (long long)r->rest[i], (long long)r->feat[i]);
        for (int m = 0; m <= M; m++) fprintf(f.f, "\t%.9g", r->ms[(size_t)i * (M + 1) + m]);
        for (int j = 0; j < r->S; j++) fprintf(f.f, "\t%.17g", r->val[(size_t)j * r->n + i]);
        fprintf(f.f, "\n");
    }
    return file_atomic_commit(&f, e);
}

static Status write_csvs(const SigResult *r, const Acct *a, const char *dir, Err *e) {
    AtomicFile f;
    Status s = open_in(&f, dir, "table.csv", e);
    if (s) return s;
    fprintf(f.f, "signal,family,needs,deployable,flops_ratio,ms,sign");
    for (int k = 0; k < r->nr; k++) fprintf(f.f, ",rho:%d", r->ranks[k]);
    for (int t = 0; t < a->nt; t++) /* share:lo-hi, share@r */
        fprintf(f.f, ",share%s%s", a->name[t][0] == '@' ? "" : ":", a->name[t]);
    for (int t = 0; t < a->nt; t++)
        fprintf(f.f, ",kl%s%s", a->name[t][0] == '@' ? "" : ":", a->name[t]);
    fprintf(f.f, "\n");
    for (int j = 0; j <= r->S; j++) {
        if (j < r->S) {
            const SigDef *d = &r->def[j];
            fprintf(f.f, "%s,%s,%s,%d,%.9g,%.6g,%d", d->name, d->family, d->needs, d->deployable,
                    (double)d->flops / (double)r->fwd_flops, 1e3 * d->sec, a->sign[j]);
            for (int k = 0; k < r->nr; k++) fprintf(f.f, ",%.9g", a->rho[j][k]);
        } else {
            fprintf(f.f, "oracle,oracle,hindsight (every mode's KL),0,nan,nan,1");
            for (int k = 0; k < r->nr; k++) fprintf(f.f, ",nan");
        }
        for (int t = 0; t < a->nt; t++) fprintf(f.f, ",%.9g", a->share[j][t]);
        for (int t = 0; t < a->nt; t++) fprintf(f.f, ",%.9g", a->kl_rule[j][t]);
        fprintf(f.f, "\n");
    }
    if ((s = file_atomic_commit(&f, e))) return s;
    if ((s = open_in(&f, dir, "targets.csv", e))) return s;
    fprintf(f.f, "target,lo,hi,cost,kl_static,kl_oracle\n");
    char lo[16], hi[16];
    for (int t = 0; t < a->nt; t++) {
        mode_name(lo, sizeof lo, r, a->lo[t]), mode_name(hi, sizeof hi, r, a->hi[t]);
        fprintf(f.f, "%s,%s,%s,%.9g,%.9g,%.9g\n", a->name[t], lo, hi, a->target[t],
                a->kl_static[t], a->kl_oracle[t]);
    }
    if ((s = file_atomic_commit(&f, e))) return s;
    if ((s = open_in(&f, dir, "modes.csv", e))) return s;
    fprintf(f.f, "mode,cost,kl\n");
    for (int m = 0; m < r->M; m++) {
        mode_name(lo, sizeof lo, r, m);
        fprintf(f.f, "%s,%.9g,%.9g\n", lo, a->mcost[m], a->mkl[m]);
    }
    return file_atomic_commit(&f, e);
}

/* a number for the Markdown table: "-" for NaN */
static void md_num(FILE *f, double v) {
    if (isnan(v)) fprintf(f, " - |");
    else fprintf(f, " %.3f |", v);
}

static void write_md(FILE *f, const SigResult *r, const Acct *a, const SigTableInfo *ti) {
    fprintf(f, "# drrl-signals: %s, %s split, %d inputs\n\n`%s`\n\n", ti->model, ti->split, r->n,
            ti->cmdline ? ti->cmdline : "");
    fprintf(f, "Modes (all layers at one whitened rank; cost = attention FLOPs ratio vs full, "
            "per input counted; the full model's forward over the run: %.4g GFLOPs, %.1f ms "
            "measured):\n\n| mode | cost | mean KL |\n| --- | ---: | ---: |\n",
            1e-9 * (double)r->fwd_flops, 1e3 * r->full_sec);
    char m[16];
    for (int k = 0; k < r->M; k++) {
        mode_name(m, sizeof m, r, k);
        fprintf(f, "| %s | %.4f | %.4g |\n", m, a->mcost[k], a->mkl[k]);
    }
    fprintf(f, "\nTargets (lo-hi: mean cost halfway between two adjacent modes; @r: rank r's own "
            "cost, mixing its neighbours):\n\n| target | cost | static hull KL | oracle KL | "
            "static / oracle |\n| --- | ---: | ---: | ---: | ---: |\n");
    for (int t = 0; t < a->nt; t++)
        fprintf(f, "| %s | %.4f | %.4g | %.4g | %.2f |\n", a->name[t], a->target[t],
                a->kl_static[t], a->kl_oracle[t], a->kl_static[t] / a->kl_oracle[t]);
    fprintf(f, "\nSignals: cost = own counted FLOPs / the full model's forward FLOPs and measured "
            "ms over the run (plus what it needs); rho = Spearman with the KL at each rank; "
            "share = (static hull KL - rule KL) / (static hull KL - oracle KL) at each target "
            "(energy sketch: %d columns).\n\n| signal | needs | dep. | FLOPs/fwd | ms |",
            ti->sketch_k);
    for (int k = 0; k < r->nr; k++) fprintf(f, " rho %d |", r->ranks[k]);
    for (int t = 0; t < a->nt; t++) fprintf(f, " share %s |", a->name[t]);
    fprintf(f, "\n| --- | --- | --- | ---: | ---: |");
    for (int k = 0; k < r->nr + a->nt; k++) fprintf(f, " ---: |");
    fprintf(f, "\n");
    for (int j = 0; j <= r->S; j++) {
        if (j < r->S) {
            const SigDef *d = &r->def[j];
            fprintf(f, "| %s | %s | %s | %.2e | %.1f |", d->name, d->needs,
                    d->deployable ? "yes" : "no",
                    (double)d->flops / (double)r->fwd_flops, 1e3 * d->sec);
            for (int k = 0; k < r->nr; k++) md_num(f, a->rho[j][k]);
        } else {
            fprintf(f, "| oracle | every mode's KL | no | - | - |");
            for (int k = 0; k < r->nr; k++) fprintf(f, " - |");
        }
        for (int t = 0; t < a->nt; t++) md_num(f, a->share[j][t]);
        fprintf(f, "\n");
    }
}

Status signals_write(const SigResult *r, const char *dir, const SigTableInfo *ti, FILE *md,
                     Err *e) {
    Acct *a = calloc(1, sizeof *a);
    if (a) a->cost = malloc(sizeof(double) * (size_t)r->n * r->M);
    if (!a || !a->cost) {
        if (a) free(a->cost);
        free(a);
        return err_set(e, ST_NOMEM, "signals_write: out of memory");
    }
    Status s = store_mkdirs(dir, e);
    if (!s) s = acct_frontiers(a, r, e);
    if (!s) s = acct_signals(a, r, e);
    if (!s) s = write_tsv(r, dir, e);
    if (!s) s = write_csvs(r, a, dir, e);
    AtomicFile f;
    if (!s) s = open_in(&f, dir, "table.md", e);
    if (!s) {
        write_md(f.f, r, a, ti);
        s = file_atomic_commit(&f, e);
    }
    if (!s && md) write_md(md, r, a, ti);
    free(a->cost), free(a);
    return s;
}
