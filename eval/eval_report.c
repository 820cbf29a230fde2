/* eval_report.c: drrl-eval's table, CSV, JSON and prediction files (see eval_report.h). */
#include "eval/eval_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/store.h"

#define MAX_FILES 80

/* ---- the Markdown table ---- */

/* one table cell: v as %.{prec}{conv} (conv f, e or g), "-" for NaN */
static void cell(FILE *f, char conv, int prec, double v) {
    fputs(" ", f);
    if (isnan(v)) fputs("-", f);
    else if (conv == 'e') fprintf(f, "%.*e", prec, v);
    else if (conv == 'g') fprintf(f, "%.*g", prec, v);
    else fprintf(f, "%.*f", prec, v);
    fputs(" |", f);
}

void eval_report_table(FILE *f, const EvalInfo *in, const EvalRow *rows, int n) {
    const int lab = in->n_labeled > 0;
    fprintf(f, "\n## drrl-eval: %s split, %d sentences%s\n\n", in->split, in->n,
            lab ? "" : " (unlabelled: agreement, KL and cost only)");
    fprintf(f, "| mode | accuracy [%g%% CI] | agreement | KL(full \\|\\| mode) | abs dmargin | "
               "McNemar p | attn FLOPs | model FLOPs | latency ms (ratio) | attn ms (ratio) | "
               "decision ms (share) | ex/s | mean rank per layer | mask / full / >eps / viol |\n"
               "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
               "| --- | --- |\n",
            100 * in->level);
    for (int i = 0; i < n; i++) {
        const EvalRow *r = &rows[i];
        fprintf(f, "| %s |", r->mode);
        if (isnan(r->accuracy)) fputs(" - |", f);
        else fprintf(f, " %.4f [%.4f, %.4f] |", r->accuracy, r->ci_low, r->ci_high);
        cell(f, 'f', 4, r->agreement);
        cell(f, 'e', 2, r->kl_mean);
        cell(f, 'f', 4, r->dmargin);
        cell(f, 'g', 3, r->mcnemar_p);
        cell(f, 'f', 3, r->attn_flops_ratio);
        cell(f, 'f', 3, r->model_flops_ratio);
        if (isnan(r->latency_ratio)) cell(f, 'f', 2, r->latency_ms);
        else fprintf(f, " %.2f (%.2f) |", r->latency_ms, r->latency_ratio);
        if (isnan(r->attn_ratio)) cell(f, 'f', 2, r->attn_ms);
        else fprintf(f, " %.2f (%.2f) |", r->attn_ms, r->attn_ratio);
        fprintf(f, " %.2f (%.3f) |", r->decision_ms, r->decision_share);
        cell(f, 'f', 0, r->ex_per_s);
        fputs(" ", f);
        if (isnan(r->rank_layer[0])) fputs("-", f);
        else
            for (int l = 0; l < in->layers; l++) fprintf(f, l ? " %.1f" : "%.1f", r->rank_layer[l]);
        fputs(" |", f);
        if (isnan(r->full_share)) fputs(" - |\n", f);
        else {
            if (isnan(r->mask_rate)) fputs(" -", f);
            else fprintf(f, " %.3f", r->mask_rate);
            fprintf(f, " / %.3f / %.3f / %.0f |\n", r->full_share, r->over_eps, r->violations);
        }
    }
    fprintf(f, "\nAccuracy: %g%% percentile bootstrap CI over sentences (%d resamples, seed "
               "%llu); agreement: same prediction as full; KL in nats, mean over sentences; abs "
               "dmargin: mean |change of the full class's logit margin|; McNemar: exact two-sided "
               "test vs full on the discordant sentences. FLOPs: counted by the kernels over the "
               "split (model: feed-forward on real tokens, padding excluded), ratios vs full. "
               "Latency: the forward as deployed, median per batch of %d sentences over %d rounds; "
               "ratio: total time vs full; attn: the attention kernels' own share of that "
               "forward, likewise; decision: the time inside it that chooses ranks (policy: "
               "observation features, bounds, guardrail and the policy network, plus each "
               "layer's exact attention when its guard needs it), share = its total vs full's "
               "whole forward. Weight-level "
               "modes run each sequence's attention alone at its own length and the rest of the "
               "layer batched; Nystrom and Performer run each sequence alone (batch 1, no "
               "padding), so their latency carries small-batch feed-forward costs too. Mean rank: "
               "per head, full = %d. Guardrail (trained epsilon %g): mask = share of grid ranks "
               "the guardrail masked (policy; fixed modes run unguarded), full = share of layers "
               "at full rank, >eps = share whose chosen rank's bound exceeds epsilon, viol = "
               "measured error above the proven bound.\n",
            100 * in->level, in->resamples, (unsigned long long)in->seed, in->batch, in->reps,
            in->head_size, in->epsilon);
    for (int i = 0; i < n; i++) {
        const EvalRow *r = &rows[i];
        if (isnan(r->policy_ms)) continue;
        fprintf(f, "%s: decision %.2f ms per batch (median), %.1f%% of full's forward time and "
                   "%.1f%% of its model FLOPs; per batch (mean of the first round): teacher "
                   "%.2f ms, bounds %.2f ms, features %.2f ms, policy network %.2f ms; FLOPs: "
                   "teacher %lld, bounds %lld, features %lld, policy %lld\n",
                r->mode, r->decision_ms, 100 * r->decision_share, 100 * r->decision_flops_ratio,
                r->decision_part_ms[0], r->decision_part_ms[1], r->decision_part_ms[2],
                r->decision_part_ms[3], (long long)r->decision_part_fl[0],
                (long long)r->decision_part_fl[1], (long long)r->decision_part_fl[2],
                (long long)r->decision_part_fl[3]);
    }
}

/* ---- CSV and JSON ---- */

/* ",v" at full precision, "," for NaN */
static void csv_num(FILE *f, double v) {
    fputc(',', f);
    if (!isnan(v)) fprintf(f, "%.17g", v);
}

static void write_csv(FILE *f, const EvalInfo *in, const EvalRow *rows, int n) {
    fputs("mode,n,n_labeled,correct,accuracy,ci_low,ci_high,agree,agreement,kl_mean,"
          "dmargin_mean,mcnemar_b,mcnemar_c,mcnemar_p,attn_flops,model_flops,attn_flops_ratio,"
          "model_flops_ratio,latency_ms,latency_ratio,ex_per_s,policy_ms,fidelity,rel_err,"
          "bound_mean,mask_rate,full_share,over_eps,violations,lat_table_ratio,attn_ms,"
          "attn_ratio,decision_ms,decision_share,decision_flops,decision_flops_ratio,"
          "teacher_ms,bound_ms,feature_ms,policy_net_ms,teacher_flops,bound_flops,"
          "feature_flops,policy_flops,rank_diff,bits_per_byte,bpb_ci_low,bpb_ci_high,"
          "ppl_per_byte,top1", f);
    for (int l = 0; l < in->layers; l++) fprintf(f, ",rank_l%d", l);
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        const EvalRow *r = &rows[i];
        fprintf(f, "%s,%d,%d,%d", r->mode, r->n, r->n_labeled, r->correct);
        csv_num(f, r->accuracy), csv_num(f, r->ci_low);
        csv_num(f, r->ci_high);
        fprintf(f, ",%d", r->agree);
        csv_num(f, r->agreement), csv_num(f, r->kl_mean);
        csv_num(f, r->dmargin);
        fprintf(f, ",%d,%d", r->mc_b, r->mc_c);
        csv_num(f, r->mcnemar_p);
        fprintf(f, ",%lld,%lld", (long long)r->attn_flops, (long long)r->model_flops);
        const double v[] = {r->attn_flops_ratio, r->model_flops_ratio, r->latency_ms,
                            r->latency_ratio, r->ex_per_s, r->policy_ms, r->fidelity,
                            r->rel_err, r->bound, r->mask_rate, r->full_share, r->over_eps,
                            r->violations, r->lat_est, r->attn_ms, r->attn_ratio,
                            r->decision_ms, r->decision_share};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) csv_num(f, v[k]);
        fprintf(f, ",%lld", (long long)r->decision_flops);
        csv_num(f, r->decision_flops_ratio);
        for (int k = 0; k < 4; k++) csv_num(f, r->decision_part_ms[k]);
        for (int k = 0; k < 4; k++) fprintf(f, ",%lld", (long long)r->decision_part_fl[k]);
        csv_num(f, r->rank_diff);
        const double lm[5] = {r->bpb, r->bpb_lo, r->bpb_hi, r->ppl, r->top1};
        for (int k = 0; k < 5; k++) csv_num(f, r->lm ? lm[k] : NAN);
        for (int l = 0; l < in->layers; l++) csv_num(f, r->rank_layer[l]);
        fputc('\n', f);
    }
}

static void json_num(FILE *f, const char *key, double v, int comma) {
    fprintf(f, "\"%s\": ", key);
    if (isnan(v) || isinf(v)) fputs("null", f);
    else fprintf(f, "%.17g", v);
    if (comma) fputs(", ", f);
}

/* a JSON string (our strings: paths and mode names; escape quotes, backslashes, controls) */
static void json_str(FILE *f, const char *key, const char *s, int comma) {
    fprintf(f, "\"%s\": \"", key);
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputs(comma ? "\", " : "\"", f);
}

static void write_json(FILE *f, const EvalInfo *in, const EvalRow *rows, int n) {
    fputs("{", f);
    json_str(f, "checkpoint", in->checkpoint, 1), json_str(f, "model", in->model, 1);
    json_str(f, "model_sha256", in->model_sha256, 1), json_str(f, "split", in->split, 1);
    fprintf(f, "\"n\": %d, \"n_labeled\": %d, \"batch\": %d, \"reps\": %d, \"resamples\": %d, "
               "\"seed\": %llu, \"layers\": %d, \"head_size\": %d, \"processes\": %d, ", in->n,
            in->n_labeled, in->batch, in->reps, in->resamples, (unsigned long long)in->seed,
            in->layers, in->head_size, in->processes);
    json_num(f, "level", in->level, 1), json_num(f, "epsilon", in->epsilon, 1);
    fputs("\"grid\": [", f);
    for (int g = 0; g < in->n_grid; g++) fprintf(f, g ? ", %d" : "%d", in->grid[g]);
    fputs("],\n \"modes\": [", f);
    for (int i = 0; i < n; i++) {
        const EvalRow *r = &rows[i];
        fputs(i ? ",\n  {" : "\n  {", f);
        json_str(f, "mode", r->mode, 1);
        fprintf(f, "\"n\": %d, \"n_labeled\": %d, \"correct\": %d, \"agree\": %d, ", r->n,
                r->n_labeled, r->correct, r->agree);
        json_num(f, "accuracy", r->accuracy, 1), json_num(f, "ci_low", r->ci_low, 1);
        json_num(f, "ci_high", r->ci_high, 1), json_num(f, "agreement", r->agreement, 1);
        json_num(f, "kl_mean", r->kl_mean, 1), json_num(f, "dmargin_mean", r->dmargin, 1);
        fprintf(f, "\"mcnemar_b\": %d, \"mcnemar_c\": %d, ", r->mc_b, r->mc_c);
        json_num(f, "mcnemar_p", r->mcnemar_p, 1);
        fprintf(f, "\"attn_flops\": %lld, \"model_flops\": %lld, ", (long long)r->attn_flops,
                (long long)r->model_flops);
        json_num(f, "attn_flops_ratio", r->attn_flops_ratio, 1);
        json_num(f, "model_flops_ratio", r->model_flops_ratio, 1);
        json_num(f, "latency_ms", r->latency_ms, 1), json_num(f, "latency_ratio", r->latency_ratio, 1);
        json_num(f, "ex_per_s", r->ex_per_s, 1), json_num(f, "policy_ms", r->policy_ms, 1);
        json_num(f, "attn_ms", r->attn_ms, 1), json_num(f, "attn_ratio", r->attn_ratio, 1);
        json_num(f, "fidelity", r->fidelity, 1), json_num(f, "rel_err", r->rel_err, 1);
        json_num(f, "bound_mean", r->bound, 1), json_num(f, "mask_rate", r->mask_rate, 1);
        json_num(f, "full_share", r->full_share, 1), json_num(f, "over_eps", r->over_eps, 1);
        json_num(f, "violations", r->violations, 1), json_num(f, "lat_table_ratio", r->lat_est, 1);
        json_num(f, "replay_max_abs_diff", r->replay_diff, 1);
        json_num(f, "bits_per_byte", r->lm ? r->bpb : NAN, 1);
        json_num(f, "bpb_ci_low", r->lm ? r->bpb_lo : NAN, 1);
        json_num(f, "bpb_ci_high", r->lm ? r->bpb_hi : NAN, 1);
        json_num(f, "ppl_per_byte", r->lm ? r->ppl : NAN, 1);
        json_num(f, "top1", r->lm ? r->top1 : NAN, 1);
        json_num(f, "decision_ms", r->decision_ms, 1);
        json_num(f, "decision_share", r->decision_share, 1);
        fprintf(f, "\"decision_flops\": %lld, ", (long long)r->decision_flops);
        json_num(f, "decision_flops_ratio", r->decision_flops_ratio, 1);
        static const char *const part[4] = {"teacher", "bound", "feature", "policy_net"};
        for (int k = 0; k < 4; k++) {
            char key[32];
            snprintf(key, sizeof key, "%s_ms", part[k]);
            json_num(f, key, r->decision_part_ms[k], 1);
            fprintf(f, "\"%s_flops\": %lld, ", part[k], (long long)r->decision_part_fl[k]);
        }
        json_num(f, "rank_diff", r->rank_diff, 1);
        fputs("\"rank_per_layer\": ", f);
        if (isnan(r->rank_layer[0])) fputs("null", f);
        else {
            fputs("[", f);
            for (int l = 0; l < in->layers; l++) fprintf(f, l ? ", %.17g" : "%.17g", r->rank_layer[l]);
            fputs("]", f);
        }
        fputs(", ", f);
        if (r->pred_file[0]) json_str(f, "predictions", r->pred_file, 0);
        else fputs("\"predictions\": null", f);
        fputs("}", f);
    }
    fputs("\n ]\n}\n", f);
}

/* ---- the files, together ---- */

typedef struct {
    char path[4200], tmp[4300];
} Pending;

/* open the temporary file of dir/name as pending slot p */
static FILE *open_pending(Pending *p, const char *dir, const char *name, Err *e) {
    snprintf(p->path, sizeof p->path, "%s/%s", dir, name);
    snprintf(p->tmp, sizeof p->tmp, "%s/%s.tmp.%ld", dir, name, (long)getpid());
    FILE *f = fopen(p->tmp, "w");
    if (!f) err_set(e, ST_IO, "%s: cannot open: %s", p->tmp, strerror(errno));
    return f;
}

/* flush, fsync and close; ST_IO naming the file on failure */
static Status close_pending(const Pending *p, FILE *f, Err *e) {
    int bad = ferror(f) || fflush(f) || fsync(fileno(f));
    bad |= fclose(f) != 0;
    return bad ? err_set(e, ST_IO, "%s: cannot write: %s", p->tmp, strerror(errno)) : ST_OK;
}

static void write_ranks(FILE *f, const EvalRanks *r) {
    fputs("index\tlength", f);
    for (int l = 0; l < r->L; l++) fprintf(f, "\trank_l%d", l);
    fputc('\n', f);
    for (int i = 0; i < r->n; i++) {
        fprintf(f, "%d\t%d", r->index[i], r->len[i]);
        for (int l = 0; l < r->L; l++) fprintf(f, "\t%.6g", r->rank[(size_t)i * r->L + l]);
        fputc('\n', f);
    }
}

static void write_per_input(FILE *f, const EvalPerInput *p) {
    const int lm = p->bits != NULL;
    fputs(lm ? "index\tlength\tlabel\tbits_full" : "index\tlength\tlabel\tp_full", f);
    for (int m = 0; m < p->n_modes; m++) fprintf(f, "\tkl:%s", p->rows[m].mode);
    for (int m = 0; m < p->n_modes; m++)
        fprintf(f, lm ? "\tbits:%s" : "\tpred:%s", p->rows[m].mode);
    fputc('\n', f);
    for (int i = 0; i < p->n; i++) {
        fprintf(f, "%d\t%d\t%d\t%.9f", p->index[i], p->len[i], p->label[i],
                lm ? p->bits[(size_t)p->full * p->n + i] : p->p_full[i]);
        for (int m = 0; m < p->n_modes; m++) fprintf(f, "\t%.6e", p->kl[(size_t)m * p->n + i]);
        for (int m = 0; m < p->n_modes; m++) {
            if (lm) fprintf(f, "\t%.6f", p->bits[(size_t)m * p->n + i]);
            else fprintf(f, "\t%d", p->pred[m][i]);
        }
        fputc('\n', f);
    }
}

Status eval_report_write(const char *dir, const EvalInfo *in, const EvalRow *rows, int n,
                         const int32_t *index, int32_t *const *pred, int n_sent,
                         const EvalRanks *ranks, const EvalPerInput *per, Err *e) {
    static Pending pend[MAX_FILES];
    int np = 0;
    const int test = !strcmp(in->split, "test");
    Status s = store_mkdirs(dir, e);
    for (int k = -1; k < 3 + n && !s; k++) { /* per input, csv, json, ranks, predictions */
        if (k == -1 && !per) continue;
        if (k == 2 && !ranks) continue;
        if (k >= 3 && !rows[k - 3].pred_file[0]) continue;
        if (np == MAX_FILES) {
            s = err_set(e, ST_INVALID, "eval: at most %d output files", MAX_FILES);
            break;
        }
        const char *name = k == -1  ? (test ? "per_input_test.tsv" : "per_input.tsv")
                           : k == 0 ? (test ? "eval_test.csv" : "eval.csv")
                           : k == 1 ? (test ? "eval_test.json" : "eval.json")
                           : k == 2 ? (test ? "policy_ranks_test.tsv" : "policy_ranks.tsv")
                                    : rows[k - 3].pred_file;
        FILE *f = open_pending(&pend[np], dir, name, e);
        if (!f) {
            s = ST_IO;
            break;
        }
        np++;
        if (k == -1) write_per_input(f, per);
        else if (k == 0) write_csv(f, in, rows, n);
        else if (k == 1) write_json(f, in, rows, n);
        else if (k == 2) write_ranks(f, ranks);
        else {
            fputs("index\tprediction\n", f);
            for (int i = 0; i < n_sent; i++) fprintf(f, "%d\t%d\n", index[i], pred[k - 3][i]);
        }
        s = close_pending(&pend[np - 1], f, e);
    }
    for (int i = 0; i < np && !s; i++)
        if (rename(pend[i].tmp, pend[i].path))
            s = err_set(e, ST_IO, "%s: cannot rename to %s: %s", pend[i].tmp, pend[i].path,
                        strerror(errno));
    if (s)
        for (int i = 0; i < np; i++) remove(pend[i].tmp);
    return s;
}
