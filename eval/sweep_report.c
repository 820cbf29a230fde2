/* sweep_report.c: drrl-sweep's Markdown table and CSV rows (see sweep_run.h). */
#include <math.h>

#include "eval/sweep_run.h"

/* " v |" with prec decimals, " - |" for NaN */
static void cell_num(FILE *f, int prec, double v) {
    if (isnan(v)) fputs(" - |", f);
    else fprintf(f, " %.*f |", prec, v);
}

/* ",v" with "" for NaN */
static void csv_num(FILE *f, double v) {
    fputc(',', f);
    if (!isnan(v)) fprintf(f, "%.6g", v);
}

void sweep_report_header(FILE *f, const Sweep *d, int rows, int reps) {
    fprintf(f, "- inputs: up to %d per length, joined from same-label reviews of %s; each runs "
            "alone (batch 1); medians over %d rep(s) x the rows\n"
            "- attn ms: the attention kernels alone (summed over layers); forward ms: the whole "
            "forward; ratios vs full at the same length; KL = mean KL(p_full || p_mode); rel err = "
            "mean relative Frobenius error of the last layer's attention output vs exact on the "
            "same input; rank: mean per head over layers and segments (full = %d); bits/byte: a "
            "language model's over the rows' next bytes\n\n"
            "| length | mode | rows | attn ms | attn ratio | forward ms | forward ratio | attn "
            "FLOPs | FLOPs ratio | KL | bits/byte | rel err | rank | policy ms | decision ms "
            "(share) |\n"
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | ---: | ---: |\n", rows, d->base.data.test, reps, d->R.dh);
    fflush(f);
}

void sweep_report_csv_header(FILE *csv) {
    fprintf(csv, "length,mode,latency_ms,latency_ratio,attn_flops,flops_ratio,kl,forward_ms,"
                 "forward_ratio,rel_err,rows,mean_rank,policy_ms,decision_ms,decision_share,"
                 "bits_per_byte\n");
}

void sweep_report_rows(FILE *f, FILE *csv, int L, const EvalMode *modes, int nm,
                       const SweepCell *cells) {
    for (int i = 0; i < nm; i++) {
        const SweepCell *c = &cells[i], *full = &cells[0];
        const double lr = c->lat_ms / full->lat_ms, fr = c->fwd_ms / full->fwd_ms;
        const double flr = (double)c->attn_flops / (double)full->attn_flops;
        fprintf(f, "| %d | %s | %d | %.3f | %.3f | %.3f | %.3f | %lld | %.4f | %.3g |", L,
                modes[i].name, c->rows, c->lat_ms, lr, c->fwd_ms, fr, (long long)c->attn_flops,
                flr, c->kl);
        cell_num(f, 4, c->bpb);
        fprintf(f, " %.3g |", c->rel);
        cell_num(f, 1, c->rank);
        cell_num(f, 2, c->policy_ms);
        fprintf(f, " %.2f (%.3f) |\n", c->dec_ms, c->dec_ms / full->fwd_ms);
        if (!csv) continue;
        fprintf(csv, "%d,%s,%.6f,%.6f,%lld,%.6f,%.6g,%.6f,%.6f,%.6g,%d", L, modes[i].name,
                c->lat_ms, lr, (long long)c->attn_flops, flr, c->kl, c->fwd_ms, fr, c->rel,
                c->rows);
        csv_num(csv, c->rank), csv_num(csv, c->policy_ms);
        csv_num(csv, c->dec_ms), csv_num(csv, c->dec_ms / full->fwd_ms), csv_num(csv, c->bpb);
        fputc('\n', csv);
    }
    fflush(f);
}
