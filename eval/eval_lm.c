/* eval_lm.c: the per-row sums, statistics and table of drrl-eval on a language model
 * (eval_lm.h). */
#include "eval/eval_lm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/imdb.h"
#include "nn/logits.h"
#include "pipeline/base_lm.h"

void eval_lm_row(double *out, const int32_t *ids, int n, const float *z, const float *zf, int V) {
    memset(out, 0, sizeof(double) * EVAL_LM_STATS);
    for (int i = 0; i + 1 < n; i++) {
        const int32_t t = ids[i + 1];
        if (t < IMDB_BYTE0 || t >= V) continue;
        const float *zi = z + (size_t)i * V, *fi = zf + (size_t)i * V;
        const int a = logits_argmax(zi, V);
        out[EVAL_LM_NATS] += logits_logsumexp(zi, V) - zi[t];
        out[EVAL_LM_TARGETS] += 1;
        out[EVAL_LM_KL] += zf == z ? 0.0 : logits_kl(fi, zi, V);
        out[EVAL_LM_AGREE] += a == (zf == z ? a : logits_argmax(fi, V));
        out[EVAL_LM_HITS] += a == t;
    }
}

Status eval_lm_modes(EvalMode *modes, int *n, int named, FILE *info, Err *e) {
    int k = 0, dropped = 0;
    for (int i = 0; i < *n; i++) {
        const EvalModeKind kd = modes[i].kind;
        if (kd != EVAL_NYSTROM && kd != EVAL_MARGIN) {
            modes[k++] = modes[i];
            continue;
        }
        if (named)
            return err_set(e, ST_CONFIG, "--modes: %s: expected a mode a causal decoder can run, "
                           "found %s (the model is a language model)", modes[i].name,
                           kd == EVAL_NYSTROM ? "Nystrom, which has no causal variant: its "
                           "landmarks average the whole sequence, so every output would depend "
                           "on later tokens" : "the margin rule, which reads a classifier's head");
        dropped++;
    }
    *n = k;
    if (dropped)
        fprintf(info, "note: a causal decoder: the %d Nystrom modes of the default list are "
                "left out (no causal variant; docs/attention.md)\n", dropped);
    return ST_OK;
}

void eval_lm_per_row(double *kl, double *bits, const double *lm, int n) {
    for (int r = 0; r < n; r++) {
        const double *l = lm + (size_t)r * EVAL_LM_STATS, t = l[EVAL_LM_TARGETS];
        kl[r] = t > 0 ? l[EVAL_LM_KL] / t : 0.0;
        bits[r] = t > 0 ? l[EVAL_LM_NATS] / (t * M_LN2) : 0.0;
    }
}

Status eval_lm_stats(EvalRow *r, const double *lm, const int32_t *doc, int n, int resamples,
                     uint64_t seed, Err *e) {
    double s[EVAL_LM_STATS] = {0};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < EVAL_LM_STATS; k++) s[k] += lm[(size_t)i * EVAL_LM_STATS + k];
    const double T = s[EVAL_LM_TARGETS];
    r->lm = 1, r->n = n;
    r->bpb = T > 0 ? s[EVAL_LM_NATS] / (T * M_LN2) : NAN;
    r->ppl = T > 0 ? exp(s[EVAL_LM_NATS] / T) : NAN;
    r->kl_mean = T > 0 ? s[EVAL_LM_KL] / T : NAN;
    r->agreement = T > 0 ? s[EVAL_LM_AGREE] / T : NAN;
    r->top1 = T > 0 ? s[EVAL_LM_HITS] / T : NAN;
    r->accuracy = r->ci_low = r->ci_high = r->mcnemar_p = r->dmargin = NAN;
    r->bpb_lo = r->bpb_hi = NAN;
    if (n < 1 || resamples < 1) return ST_OK;
    return base_lm_bootstrap(&r->bpb_lo, &r->bpb_hi, NULL, lm + EVAL_LM_NATS,
                             lm + EVAL_LM_TARGETS, EVAL_LM_STATS, doc, n, resamples, seed, e);
}

/* " v |" with prec digits (e: exponent form), " - |" for NaN */
static void cell(FILE *f, char conv, int prec, double v) {
    if (isnan(v)) fputs(" - |", f);
    else if (conv == 'e') fprintf(f, " %.*e |", prec, v);
    else fprintf(f, " %.*f |", prec, v);
}

void eval_lm_table(FILE *f, const EvalInfo *in, const EvalRow *rows, int n) {
    fprintf(f, "\ndrrl-eval (language model): %s on %s, %d rows; %d rounds, medians\n\n",
            in->model, in->split, in->n, in->reps);
    fputs("| mode | bits/byte [95% CI] | ppl/byte | KL/token (nats) | top-1 agree | top-1 | "
          "attn FLOPs | model FLOPs | latency | attn latency | decision |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|\n", f);
    for (int i = 0; i < n; i++) {
        const EvalRow *r = &rows[i];
        fprintf(f, "| %s | %.4f [%.4f, %.4f] |", r->mode, r->bpb, r->bpb_lo, r->bpb_hi);
        cell(f, 'f', 4, r->ppl), cell(f, 'e', 3, r->kl_mean), cell(f, 'f', 4, r->agreement);
        cell(f, 'f', 4, r->top1), cell(f, 'f', 3, r->attn_flops_ratio);
        cell(f, 'f', 3, r->model_flops_ratio), cell(f, 'f', 3, r->latency_ratio);
        cell(f, 'f', 3, r->attn_ratio), cell(f, 'f', 3, r->decision_share);
        fputc('\n', f);
    }
    fprintf(f, "\nbits/byte: next-byte cross-entropy / ln 2 over every byte of the rows (95%% "
            "bootstrap interval over documents, %d resamples, seed %llu); ppl/byte = 2^bits; KL: "
            "mean over bytes of KL(p_full || p_mode) of the next-byte distributions; top-1 "
            "agree: the mode's most likely next byte is full's; FLOPs and latency (the "
            "forward's total time, its attention kernels', the decision inside it) as ratios "
            "to full's in the same run.\n", in->resamples, (unsigned long long)in->seed);
}
