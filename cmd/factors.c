/* factors.c: drrl-factors, the weight-level factors of a frozen model and what they cost and
 * keep, printed as Markdown tables.
 *
 *   drrl-factors --model MODEL.h5 [--calib N] [--out FILE.h5] [--ranks 4,8,16,32]
 *                [--m 8,16,32] [--split dev|train|test] [--batch B] [key.path=value ...]
 *
 * Computes the plain and whitened factors of every layer (whitened: calibrated on the first
 * N training sentences, default 2048), caches them in FILE.h5 (default MODEL.factors.h5,
 * keyed by the model file's SHA-256: a second run loads them), then prints
 *   - per layer and rank, the energy retained by plain and whitened factors (QK and VO);
 *   - over the split, for each rank with all layers at that rank, plain and whitened:
 *     accuracy, agreement with the full model's predictions, mean KL(p_full || p_r), mean
 *     |change of logit margin|, attention and model FLOPs ratios vs exact, and the tight
 *     perturbation bound (relative Frobenius) vs the measured relative error of each layer's
 *     attention output: median tightness and violations (which must be 0);
 *   - Nystrom and Performer at m in --m, same columns without the bound.
 * The data paths, vocabulary and max_len come from the config stored in the model file
 * (overridable as key.path=value, as drrl-base --eval). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/base_config.h"
#include "core/sha256.h"
#include "data/encode.h"
#include "data/tsv.h"
#include "data/wordpiece.h"
#include "model/bert_io.h"
#include "model/ranked.h"
#include "model/ranked_calib.h"
#include "eval/factors_eval.h"

#define MAX_LIST 16
#define PERFORMER_SEED 1

static void die(const Err *e) {
    fprintf(stderr, "drrl-factors: error: %s\n", e->msg);
    exit(1);
}

static void usage(FILE *f) {
    fprintf(f, "usage: drrl-factors --model MODEL.h5 [--calib N] [--out FILE.h5] [--ranks 4,8,16,32]\n"
               "                    [--m 8,16,32] [--split dev|train|test] [--batch B] [key.path=value ...]\n"
               "Computes (or loads from FILE.h5) the plain and whitened attention factors of a frozen\n"
               "model and prints their energy, and accuracy, agreement, KL, FLOPs and bound tightness\n"
               "over a split at each rank, with Nystrom and Performer for comparison.\n");
}

typedef struct {
    BertConfig bc;
    Bert m;
    BaseConfig c;
    BertFileInfo info;
    WordPiece *wp;
    TsvData train, eval;
    EncodedSet calib, set;
} Loaded;

/* the model, its stored config (with overrides), the vocabulary (hash checked), the first
   `rows` training rows and the evaluated split, encoded */
static Status load_all(Loaded *d, const char *model, const char *split, int rows,
                       const char *const *over, int n_over, Err *e) {
    char vsha[65], src[CONFIG_STR_MAX + 32];
    Status s = bert_read_config(model, &d->bc, e);
    if (!s) s = bert_init(&d->m, &d->bc, 1, 1, 0, e);
    if (!s) s = bert_load(&d->m, model, &d->info, e);
    if (s) return s;
    snprintf(src, sizeof src, "%s:/config", model);
    if ((s = config_load_text(&base_schema, &d->c, d->info.config_yaml, src, over, n_over, e)))
        return s;
    if ((s = wordpiece_load(&d->wp, d->c.data.vocab, e))) return s;
    if ((s = sha256_file(d->c.data.vocab, vsha, e))) return s;
    if (d->info.vocab_sha256[0] && strcmp(vsha, d->info.vocab_sha256))
        return err_set(e, ST_FORMAT, "%s: vocab_sha256: expected %s (the vocabulary %s), found %s",
                       model, vsha, d->c.data.vocab, d->info.vocab_sha256);
    if ((s = tsv_load(&d->train, d->c.data.train, e))) return s;
    TsvData head = d->train; /* the first `rows` rows only */
    if (rows < head.n) head.n = rows;
    if ((s = encoded_from_tsv(&d->calib, &head, d->wp, d->c.data.max_len, e))) return s;
    const char *path = !strcmp(split, "dev") ? d->c.data.dev : !strcmp(split, "test") ? d->c.data.test
                                                                                      : d->c.data.train;
    if ((s = tsv_load(&d->eval, path, e))) return s;
    return encoded_from_tsv(&d->set, &d->eval, d->wp, d->c.data.max_len, e);
}

static void loaded_free(Loaded *d) {
    encoded_free(&d->calib), encoded_free(&d->set);
    tsv_free(&d->train), tsv_free(&d->eval);
    if (d->wp) wordpiece_free(d->wp);
    bert_free(&d->m);
    bert_file_info_free(&d->info);
}

static void print_energy(const Ranked *R, const int *ranks, int nr) {
    printf("\n## Energy retained (sum of squared singular values kept, all heads of the layer)\n\n"
           "| layer | rank | QK plain | QK whitened | VO plain | VO whitened |\n"
           "| ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int l = 0; l < R->L; l++)
        for (int i = 0; i < nr; i++)
            printf("| %d | %d | %.4f | %.4f | %.4f | %.4f |\n", l, ranks[i],
                   attn_factors_energy(&R->plain[l], ATTN_QK, -1, ranks[i]),
                   attn_factors_energy(&R->white[l], ATTN_QK, -1, ranks[i]),
                   attn_factors_energy(&R->plain[l], ATTN_VO, -1, ranks[i]),
                   attn_factors_energy(&R->white[l], ATTN_VO, -1, ranks[i]));
}

static void print_row(const char *kind, const char *rank, const EvalRow *r, const EvalRow *full,
                      int bound) {
    printf("| %s | %s | %.4f | %.4f | %.3g | %.4f | %.4f | %.4f |", kind, rank, r->accuracy,
           r->agreement, r->kl, r->dmargin, (double)r->attn_flops / full->attn_flops,
           (double)r->model_flops / full->model_flops);
    if (bound)
        printf(" %.2f | %.3g | %ld / %ld |", r->tight_median, r->rel_median, r->violations,
               r->n_bound);
    else
        printf(" - | - | - |");
    printf(" %.1f |\n", r->seconds);
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *split = "dev";
    const char *over[128];
    int n_over = 0, calib = RANKED_CALIB_DEFAULT_ROWS, batch = 0;
    int ranks[MAX_LIST] = {4, 8, 16, 32}, nr = 4, ms[MAX_LIST] = {8, 16, 32}, nm = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc, bad = 0;
        if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--out") && more) out = argv[++i];
        else if (!strcmp(a, "--split") && more) split = argv[++i];
        else if (!strcmp(a, "--calib") && more) bad = (calib = atoi(argv[++i])) < 1;
        else if (!strcmp(a, "--batch") && more) bad = (batch = atoi(argv[++i])) < 1;
        else if (!strcmp(a, "--ranks") && more) bad = !(nr = cli_int_list(argv[++i], ranks, MAX_LIST, 1, 4096));
        else if (!strcmp(a, "--m") && more) bad = !(nm = cli_int_list(argv[++i], ms, MAX_LIST, 1, 4096));
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (a[0] != '-' && strchr(a, '=') && n_over < 128) over[n_over++] = a;
        else bad = 1;
        if (bad) {
            fprintf(stderr, "drrl-factors: error: unknown, incomplete or invalid argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model || (strcmp(split, "dev") && strcmp(split, "test") && strcmp(split, "train"))) {
        fprintf(stderr, "drrl-factors: error: %s\n", model ? "--split: expected dev, test or train"
                                                           : "--model is required");
        usage(stderr);
        return 2;
    }
    char out_buf[4096];
    if (!out) {
        ranked_calib_cache_path(out_buf, sizeof out_buf, model);
        out = out_buf;
    }
    Err e;
    err_clear(&e);
    static Loaded d;
    if (load_all(&d, model, split, calib, over, n_over, &e)) die(&e);
    char sha[65];
    if (sha256_file(model, sha, &e)) die(&e);
    const int dh = d.bc.d_model / d.bc.n_heads;
    for (int i = 0; i < nr; i++)
        if (ranks[i] > dh) {
            fprintf(stderr, "drrl-factors: error: --ranks: %d exceeds the head size %d\n", ranks[i], dh);
            return 2;
        }
    int max_m = 0;
    for (int i = 0; i < nm; i++) max_m = ms[i] > max_m ? ms[i] : max_m;
    static Ranked R;
    RankedOptions o = {.max_B = batch ? batch : d.c.eval.batch, .max_N = d.c.data.max_len,
                       .ranks = ranks, .n_ranks = nr, .max_m = max_m, .activation = 0,
                       .bounds = 1, .performer_seed = PERFORMER_SEED};
    if (ranked_init(&R, &d.m, &o, &e)) die(&e);
    RankedCalib rc = {.rows = calib, .batch = 0, .ridge = ATTN_RIDGE_DEFAULT, .cache = out,
                      .model_sha256 = sha};
    RankedCalibInfo ci;
    if (ranked_calibrate(&R, &d.calib, &rc, &ci, &e)) die(&e);

    printf("# drrl-factors: %s\n\n", model);
    printf("- model: %d layers, d=%d, %d heads of %d, FFN %d; sha256 %s\n", d.bc.n_layers,
           d.bc.d_model, d.bc.n_heads, dh, d.bc.d_ff, sha);
    printf("- factors: %s %s (%.2f s); calibration: first %d sentences of %s (%lld real tokens per "
           "layer), data sha256 %s, ridge %g x mean eigenvalue\n",
           ci.loaded ? "loaded from" : "computed and cached in", out, ci.seconds, ci.rows,
           d.c.data.train, (long long)ci.tokens,
           ci.data_sha256, rc.ridge);
    printf("- evaluation: %s split (%d sentences), batches of up to %d, all layers at the same "
           "kernel and rank\n", split, d.set.n, R.max_B);
    print_energy(&R, ranks, nr);

    FullRef ref = {malloc(sizeof(float) * (size_t)d.set.n * R.K)};
    if (!ref.logits) {
        fprintf(stderr, "drrl-factors: error: out of memory\n");
        return 1;
    }
    EvalRow full, row[2][MAX_LIST];
    RankSpec sp = rank_spec(RANK_EXACT, 0);
    if (factors_eval(&R, &d.set, &sp, 0, NULL, &ref, &full, &e)) die(&e);
    printf("\n## %s set: all layers at one rank vs the full model\n\n"
           "KL = mean KL(p_full || p_r) (nats); |dmargin| = mean |change of the logit margin of the "
           "full model's class|; FLOPs ratios counted by the kernels vs exact attention (attention "
           "only, and the whole model); tightness = median over (sentence, layer) of the tight bound "
           "/ measured relative Frobenius error of the layer's attention output on the pass's own "
           "hidden states; violations: measured > bound (1 + 1e-5) + 1e-6.\n\n"
           "| kind | rank / m | accuracy | agreement | KL | abs dmargin | attn FLOPs ratio | model "
           "FLOPs ratio | bound tightness | measured rel. err | violations | seconds |\n"
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
           split);
    print_row("exact", "full", &full, &full, 0);
    char rs[32];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < nr; i++) {
            sp = rank_spec(k ? RANK_WHITENED : RANK_PLAIN, ranks[i]);
            if (factors_eval(&R, &d.set, &sp, ranks[i] < dh, &ref, NULL, &row[k][i], &e)) die(&e);
            snprintf(rs, sizeof rs, "%d", ranks[i]);
            print_row(k ? "whitened" : "plain", rs, &row[k][i], &full, ranks[i] < dh);
        }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < nm; i++) {
            EvalRow r;
            sp = rank_spec(k ? RANK_PERFORMER : RANK_NYSTROM, ms[i]);
            if (factors_eval(&R, &d.set, &sp, 0, &ref, NULL, &r, &e)) die(&e);
            snprintf(rs, sizeof rs, "%d", ms[i]);
            print_row(k ? "performer" : "nystrom", rs, &r, &full, 0);
        }
    printf("\n## KL ratio plain / whitened at equal rank\n\n| rank | KL plain | KL whitened | "
           "ratio |\n| ---: | ---: | ---: | ---: |\n");
    long viol = 0;
    for (int i = 0; i < nr; i++) {
        printf("| %d | %.3g | %.3g | %.1f |\n", ranks[i], row[0][i].kl, row[1][i].kl,
               row[1][i].kl > 0 ? row[0][i].kl / row[1][i].kl : 0.0);
        viol += row[0][i].violations + row[1][i].violations;
    }
    printf("\nbound violations in total: %ld\n", viol);
    free(ref.logits);
    ranked_free(&R);
    loaded_free(&d);
    return viol ? 1 : 0;
}
