/* sweep.c: drrl-sweep, attention latency, counted FLOPs and fidelity of a frozen byte-level
 * IMDB model against sequence length (issue 7, item 3: the sweep against length).
 *
 *   drrl-sweep --model MODEL.h5 | --checkpoint CKPT.h5|RUN_DIR
 *              [--lengths 1024,2048,4096,8192,16384]
 *              [--modes full,static:8,static:16,nystrom:32,performer:32[,policy]] [--rows K]
 *              [--reps R] [--csv FILE] [--calib N] [--factors FILE.h5] [key.path=value ...]
 *
 * For each length L, K inputs of exactly L bytes are made by joining consecutive same-label
 * reviews of the model's test file (data/imdb.h imdb_join; data.test from the config stored
 * in the model, overridable as key.path=value) and encoded to L + 2 tokens ([CLS] bytes
 * [SEP]). Every input runs alone (B = 1) through the ranked forward (model/ranked.h) in every
 * mode (eval/eval_modes.h syntax):
 *   full           exact attention
 *   static:r       weight-level whitened factors at rank r in every layer (calibrated on the
 *                  first N training rows, or loaded from the cache next to the model, as
 *                  drrl-train does)
 *   static-plain:r weight-level plain SVD factors at rank r
 *   nystrom:m      Nystromformer, m landmarks;   performer:m   Performer FAVOR+, m features
 *   policy         (--checkpoint) the trained policy's greedy ranks per layer and segment,
 *                  chosen under its guardrail for each input (eval/sweep_policy.h)
 * With --checkpoint the model is the checkpoint's (env.model; --model, if given, must be that
 * file) and the whitened factors are its (env.calib_rows, env.factors), so static ranks and
 * the policy share them.
 * Measured per (L, mode), medians over R reps x K rows (monotonic clock):
 *   latency_ms     attention only: the attention kernel calls of the pass (model/ranked.h
 *                  attn_sec), summed over layers
 *   forward_ms     the whole forward (embeddings, every layer, head) around them
 * and, per row (first rep): counted attention FLOPs (ranked_attn_flops), KL(p_full || p_mode),
 * and the relative Frobenius error of the last layer's attention output vs exact attention on
 * the same input (the teacher, computed outside the timed time). Ratios are against full at
 * the same length; mean_rank is the rank per head averaged over layers and segments (full =
 * head size; empty for Nystrom and Performer); policy_ms the policy network's decisions per
 * input (median; policy only). Prints a Markdown table and writes CSV (--csv):
 * length,mode,latency_ms,latency_ratio,attn_flops,flops_ratio,kl,forward_ms,forward_ratio,
 * rel_err,rows,mean_rank,policy_ms. A learned-position model refuses L + 2 > max_pos; a
 * conv-position model runs at any length. Only byte-level IMDB models (data.format: imdb). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/base_config.h"
#include "pipeline/base_eval.h"
#include "core/sha256.h"
#include "core/timer.h"
#include "data/encode.h"
#include "data/imdb.h"
#include "model/bert_io.h"
#include "model/ranked.h"
#include "model/ranked_calib.h"
#include "eval/eval_modes.h"
#include "eval/eval_policy.h"
#include "eval/sweep_policy.h"
#include "nn/logits.h"

#define MAX_LIST 32
#define PERFORMER_SEED 1

typedef struct {
    double lat_ms, fwd_ms;   /* medians */
    int64_t attn_flops;      /* mean over rows (equal for equal lengths) */
    double kl, rel;          /* means over rows */
    double rank, policy_ms;  /* mean rank per head (NaN: not rank-based); policy's ms (NaN) */
    int rows;
} Cell;

typedef struct {
    BertConfig bc;
    Bert m;
    BaseConfig base;
    BertFileInfo info;
    BaseVocab voc;
    ImdbData test;
    EncodedSet calib;
    Ranked R;
    int ranked_ok;
    EvalCkpt *k;             /* --checkpoint: the policy's checkpoint (NULL: none) */
    SweepPolicy pol;         /* the policy at the current length */
} Sweep;

static void usage(FILE *f) {
    fprintf(f, "usage: drrl-sweep --model MODEL.h5 | --checkpoint CKPT.h5|RUN_DIR\n"
               "                  [--lengths 1024,2048,4096,8192,16384]\n"
               "                  [--modes full,static:8,static:16,nystrom:32,performer:32[,policy]]\n"
               "                  [--rows K] [--reps R] [--csv FILE] [--calib N] [--factors FILE.h5]\n"
               "                  [key.path=value ...]\n"
               "Attention latency, counted FLOPs and fidelity (KL, relative error) of a byte-level IMDB\n"
               "model's attention modes against sequence length, on inputs of exactly L bytes joined\n"
               "from same-label test reviews. Modes: full, static:r (whitened), static-plain:r,\n"
               "nystrom:m, performer:m, and with --checkpoint (a drrl-train run on the model) policy:\n"
               "the trained policy's ranks per layer and segment (default list then adds policy).\n");
}

/* the ranked forward's kind of a fixed mode */
static RankKind mode_kind(const EvalMode *m) {
    switch (m->kind) {
    case EVAL_STATIC: return RANK_WHITENED;
    case EVAL_PLAIN: return RANK_PLAIN;
    case EVAL_NYSTROM: return RANK_NYSTROM;
    case EVAL_PERFORMER: return RANK_PERFORMER;
    default: return RANK_EXACT;
    }
}

/* the --modes list against ranks 1..dh (a policy's grid with --checkpoint) */
static Status sweep_modes(const char *list, const int *grid, int G, int has_ckpt, EvalMode *modes,
                          int *n, Err *e) {
    Status s = eval_modes_parse(list, grid, G, 1 << 20, modes, n, e);
    if (s) return s;
    for (int i = 0; i < *n; i++) {
        if (modes[i].kind == EVAL_RANDOM || (modes[i].kind == EVAL_PLAIN && !modes[i].r))
            return err_set(e, ST_CONFIG, "--modes: '%s': expected one of full, static:r, "
                           "static-plain:r, nystrom:m, performer:m, policy (random and auto "
                           "belong to drrl-eval)", modes[i].name);
        if (modes[i].n_layer)
            return err_set(e, ST_CONFIG, "--modes: '%s': expected one rank for every layer "
                           "(per-layer static lists belong to drrl-eval)", modes[i].name);
        if (modes[i].kind == EVAL_POLICY && !has_ckpt)
            return err_set(e, ST_CONFIG, "--modes: policy: expected --checkpoint (the trained "
                           "policy to run)");
    }
    return ST_OK;
}

/* one timed pass of row i in mode md on R: the pass's attention seconds (att_s) and its whole
   forward (fwd_s); with `measure` also the last layer's relative error (the teacher, outside
   the timed time). The policy's ranks come from pol (row i), the other modes' from md. */
static Status timed_pass(Ranked *R, const SweepPolicy *pol, int i, const int32_t *ids,
                         const uint8_t *mask, int N, const EvalMode *md, int measure,
                         double *att_s, double *fwd_s, double *rel, Err *e) {
    const RankSpec sp = rank_spec(mode_kind(md), md->r);
    const int policy = md->kind == EVAL_POLICY;
    double teach = 0, t0 = time_now();
    Status s = ranked_begin(R, ids, NULL, mask, 1, N, e);
    for (int l = 0; !s && l < R->L; l++) {
        const int last = measure && l == R->L - 1;
        if (last) {
            const double t1 = time_now();
            s = ranked_teacher_each(R, NULL, NULL, e);
            teach = time_now() - t1;
            if (s) break;
        }
        s = policy ? ranked_layer_each(R, pol->p.env->c.kind, pol->p.env->c.T,
                                       sweep_policy_ranks(pol, i, l), NULL, NULL, e)
                   : ranked_layer(R, &sp, e);
        if (!s && last) ranked_fidelity(R, 0, N, NULL, rel);
    }
    if (!s) s = ranked_end(R, e);
    if (s) return err_prefix(e, "%s", md->name);
    *fwd_s = time_now() - t0 - teach;
    *att_s = ranked_attn_seconds(R);
    return ST_OK;
}

/* the model, its config, the test file and (static modes) the whitened factors */
static Status sweep_load(Sweep *d, const char *model, const char *const *over, int n_over,
                         const int *lengths, int nl, const EvalMode *modes, int nm, int calib_rows,
                         const char *factors, Err *e) {
    char src[CONFIG_STR_MAX + 32], sha[65];
    Status s;
    if ((s = sha256_file(model, sha, e)) || (s = bert_read_config(model, &d->bc, e)) ||
        (s = bert_init(&d->m, &d->bc, 1, 1, 0, e)) || (s = bert_load(&d->m, model, &d->info, e)))
        return err_prefix(e, "--model");
    snprintf(src, sizeof src, "%s:/config", model);
    if ((s = config_load_text(&base_schema, &d->base, d->info.config_yaml, src, over, n_over, e)))
        return s;
    if (!base_is_imdb(&d->base))
        return err_set(e, ST_CONFIG, "%s: expected a byte-level IMDB model (data.format: imdb), found "
                       "data.format: %s; drrl-sweep makes its long inputs by joining IMDB reviews",
                       model, d->base.data.format);
    int maxL = 0, dh = d->bc.d_model / d->bc.n_heads, max_m = 0, white = 0;
    for (int i = 0; i < nl; i++) maxL = lengths[i] > maxL ? lengths[i] : maxL;
    if (maxL + 2 > bert_max_len(&d->bc))
        return err_set(e, ST_CONFIG, "--lengths: %d bytes need %d tokens ([CLS] and [SEP] added), more "
                       "than the max_pos %d of %s, whose positions are learned; only a model with "
                       "model.position: conv runs longer", maxL, maxL + 2, d->bc.max_pos, model);
    int grid[MAX_LIST], ng = 0;
    for (int i = 0; i < nm; i++) {
        const RankKind k = mode_kind(&modes[i]);
        if ((k == RANK_PLAIN || k == RANK_WHITENED) && modes[i].r > dh)
            return err_set(e, ST_CONFIG, "--modes: %s: expected a rank of at most the head size %d",
                           modes[i].name, dh);
        if (k == RANK_PLAIN || k == RANK_WHITENED) {
            int seen = 0;
            for (int j = 0; j < ng; j++) seen |= grid[j] == modes[i].r;
            if (!seen) grid[ng++] = modes[i].r;
        }
        if (k == RANK_NYSTROM || k == RANK_PERFORMER)
            max_m = modes[i].r > max_m ? modes[i].r : max_m;
        white |= k == RANK_WHITENED;
    }
    if (ng > ATTN_MAX_RANKS - 1)
        return err_set(e, ST_CONFIG, "--modes: at most %d distinct static ranks", ATTN_MAX_RANKS - 1);
    if ((s = imdb_load(&d->test, d->base.data.test, 0, e))) return err_prefix(e, "data.test");
    const int maxN = maxL + 2 > d->base.data.max_len ? maxL + 2 : d->base.data.max_len;
    RankedOptions o = {.max_B = 1, .max_N = maxN, .ranks = grid, .n_ranks = ng, .max_m = max_m,
                       .activation = 0, .bounds = 0, .performer_seed = PERFORMER_SEED};
    if ((s = ranked_init(&d->R, &d->m, &o, e))) return s;
    d->ranked_ok = 1;
    printf("# drrl-sweep: %s\n\n- model: %d layers, d=%d, %d heads of %d, %s positions; sha256 %s\n",
           model, d->bc.n_layers, d->bc.d_model, d->bc.n_heads, dh, d->base.model.position, sha);
    if (d->k)
        printf("- policy: %s (grid of %d ranks + full, segments of %d tokens, guardrail epsilon "
               "%g)\n", d->k->path, d->k->c.env.ranks.n, d->k->c.env.segment, d->k->c.env.epsilon);
    if (!white) return ST_OK;
    /* whitened factors: the first calib_rows training rows at data.max_len, cached next to the
       model as drrl-train and drrl-factors do (the same cache when the rows agree) */
    if ((s = base_vocab_open(&d->voc, &d->base, e))) return s;
    if ((s = base_load_split(&d->calib, &d->base, &d->voc, "train", calib_rows, 1, NULL, 0, e)))
        return s;
    char cache[CONFIG_STR_MAX + 16];
    if (factors && factors[0]) snprintf(cache, sizeof cache, "%s", factors);
    else ranked_calib_cache_path(cache, sizeof cache, model);
    RankedCalib rc = {.rows = calib_rows, .batch = 0, .ridge = ATTN_RIDGE_DEFAULT, .cache = cache,
                      .model_sha256 = sha};
    RankedCalibInfo ci;
    if ((s = ranked_calibrate(&d->R, &d->calib, &rc, &ci, e))) return s;
    printf("- whitened factors: %s %s (%.2f s, %d calibration rows)\n",
           ci.loaded ? "loaded from" : "calibrated and cached in", cache, ci.seconds, ci.rows);
    return ST_OK;
}

static void sweep_free(Sweep *d) {
    sweep_policy_free(&d->pol);
    if (d->ranked_ok) ranked_free(&d->R);
    encoded_free(&d->calib);
    imdb_free(&d->test);
    base_vocab_close(&d->voc);
    bert_free(&d->m);
    bert_file_info_free(&d->info);
}

/* every mode at one length: cells[nm]; modes[0] is full */
static Status sweep_length(Sweep *d, int L, const EvalMode *modes, int nm, int rows, int reps,
                           const char *const *over, int n_over, Cell *cells, Err *e) {
    ImdbData j;
    EncodedSet enc;
    memset(&enc, 0, sizeof enc);
    Status s = imdb_join(&j, &d->test, L, 1, rows, e);
    if (s) return err_prefix(e, "length %d", L);
    if (j.n < 1) {
        imdb_free(&j);
        return err_set(e, ST_CONFIG, "length %d: the reviews of %s do not join into one input of "
                       "%d bytes", L, d->base.data.test, L);
    }
    if ((s = encoded_from_imdb(&enc, &j, L + 2, e))) {
        imdb_free(&j);
        return s;
    }
    const int K = j.n, N = L + 2, C = d->R.K, dh = d->R.dh;
    imdb_free(&j);
    int has_pol = 0;
    for (int i = 0; i < nm; i++) has_pol |= modes[i].kind == EVAL_POLICY;
    sweep_policy_free(&d->pol);
    if (has_pol && (s = sweep_policy_decide(&d->pol, d->k, L, rows, over, n_over, &enc, e))) {
        encoded_free(&enc);
        return err_prefix(e, "policy at length %d", L);
    }
    double *att = malloc(sizeof(double) * (size_t)nm * K * reps);
    double *fwd = malloc(sizeof(double) * (size_t)nm * K * reps);
    float *zfull = malloc(sizeof(float) * (size_t)C); /* (C) the full pass's logits */
    uint8_t *mask = malloc((size_t)N);
    if (!att || !fwd || !zfull || !mask) {
        s = err_set(e, ST_NOMEM, "out of memory for length %d", L);
        goto done;
    }
    for (int i = 0; i < N; i++) mask[i] = 1;
    memset(cells, 0, sizeof(Cell) * (size_t)nm);
    for (int k = 0; k < K; k++) {
        const int32_t *ids = enc.ids + (size_t)k * N;
        RankSpec full[BERT_MAX_LAYERS];
        for (int l = 0; l < d->R.L; l++) full[l] = rank_spec(RANK_EXACT, 0);
        if ((s = ranked_forward(&d->R, ids, NULL, mask, 1, N, full, e))) goto done;
        memcpy(zfull, d->R.logits, sizeof(float) * (size_t)C);
        for (int i = 0; i < nm; i++) {
            Ranked *R = modes[i].kind == EVAL_POLICY ? d->pol.p.R : &d->R;
            for (int r = 0; r < reps; r++) {
                double a = 0, f = 0, rel = 0;
                const size_t at = ((size_t)i * K + k) * reps + r;
                if ((s = timed_pass(R, &d->pol, k, ids, mask, N, &modes[i], r == 0, &a, &f, &rel,
                                    e)))
                    goto done;
                att[at] = a, fwd[at] = f;
                if (r) continue;
                cells[i].attn_flops += ranked_attn_flops(R);
                cells[i].kl += logits_kl(zfull, R->logits, C); /* nn/logits.h, in double */
                cells[i].rel += rel;
            }
        }
    }
    for (int i = 0; i < nm; i++) {
        Cell *c = &cells[i];
        const RankKind kind = mode_kind(&modes[i]);
        c->rows = K;
        c->attn_flops /= K;
        c->kl /= K, c->rel /= K;
        if (modes[i].kind == EVAL_FULL) c->kl = 0, c->rel = 0; /* exact vs itself */
        c->lat_ms = 1e3 * time_median(att + (size_t)i * K * reps, K * reps);
        c->fwd_ms = 1e3 * time_median(fwd + (size_t)i * K * reps, K * reps);
        c->rank = modes[i].kind == EVAL_POLICY ? d->pol.mean_rank
                  : modes[i].kind == EVAL_FULL ? dh
                  : kind == RANK_WHITENED || kind == RANK_PLAIN ? modes[i].r : NAN;
        c->policy_ms = NAN;
        if (modes[i].kind == EVAL_POLICY) {
            for (int k = 0; k < K; k++) att[k] = 1e3 * d->pol.o.policy_sec[k];
            c->policy_ms = time_median(att, K);
        }
    }
done:
    free(att), free(fwd), free(zfull), free(mask);
    encoded_free(&enc);
    return s;
}

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

int main(int argc, char **argv) {
    const char *model = NULL, *csv = NULL, *factors = NULL, *ckpt = NULL, *modes_s = NULL;
    const char *over[128];
    int n_over = 0, rows = 8, reps = 3, calib = 0;
    int lengths[MAX_LIST] = {1024, 2048, 4096, 8192, 16384}, nl = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc, bad = 0;
        if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--checkpoint") && more) ckpt = argv[++i];
        else if (!strcmp(a, "--csv") && more) csv = argv[++i];
        else if (!strcmp(a, "--factors") && more) factors = argv[++i];
        else if (!strcmp(a, "--modes") && more) modes_s = argv[++i];
        else if (!strcmp(a, "--rows") && more) bad = (rows = atoi(argv[++i])) < 1;
        else if (!strcmp(a, "--reps") && more) bad = (reps = atoi(argv[++i])) < 1;
        else if (!strcmp(a, "--calib") && more) bad = (calib = atoi(argv[++i])) < 1;
        else if (!strcmp(a, "--lengths") && more)
            bad = !(nl = cli_int_list(argv[++i], lengths, MAX_LIST, 1, 1 << 22));
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (a[0] != '-' && strchr(a, '=') && n_over < 128) over[n_over++] = a;
        else bad = 1;
        if (bad) {
            fprintf(stderr, "drrl-sweep: error: unknown, incomplete or invalid argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    Err e;
    err_clear(&e);
    if (!model && !ckpt) {
        fprintf(stderr, "drrl-sweep: error: --model or --checkpoint is required\n");
        usage(stderr);
        return 2;
    }
    if (ckpt && (calib || factors)) {
        fprintf(stderr, "drrl-sweep: error: --%s: not with --checkpoint (its env.calib_rows and "
                "env.factors are used, so that static ranks and the policy share factors)\n",
                calib ? "calib" : "factors");
        return 2;
    }
    static Sweep d;
    static EvalCkpt k;
    if (ckpt) { /* the policy's checkpoint: its model, factors and grid */
        EvalCkptArgs ka = {.arg = ckpt};
        if (eval_ckpt_open(&k, &ka, &e)) {
            fprintf(stderr, "drrl-sweep: error: --checkpoint: %s\n", e.msg);
            return 1;
        }
        char a[65], b[65];
        if (model && (sha256_file(model, a, &e) || sha256_file(k.c.env.model, b, &e) || strcmp(a, b))) {
            fprintf(stderr, "drrl-sweep: error: --model %s: expected the checkpoint's model %s%s%s\n",
                    model, k.c.env.model, e.msg[0] ? ": " : " (another file)", e.msg);
            return 1;
        }
        model = k.c.env.model, calib = k.c.env.calib_rows, factors = k.c.env.factors;
        d.k = &k;
    }
    if (!calib) calib = RANKED_CALIB_DEFAULT_ROWS;
    /* modes: any static rank up to the head size (checked with the model) or the policy's grid */
    int grid[CONFIG_LIST_MAX], G = 0;
    if (ckpt) {
        G = k.c.env.ranks.n;
        memcpy(grid, k.c.env.ranks.v, sizeof(int) * (size_t)G);
    }
    static EvalMode modes[EVAL_MAX_MODES];
    int nm = 0;
    char deflist[256];
    if (!modes_s && !ckpt) modes_s = "full,static:8,static:16,nystrom:32,performer:32";
    else if (!modes_s) { /* the default list with a policy: every grid rank */
        size_t n = (size_t)snprintf(deflist, sizeof deflist, "full");
        for (int g = 0; g < G && n < sizeof deflist; g++)
            n += (size_t)snprintf(deflist + n, sizeof deflist - n, ",static:%d", grid[g]);
        if (n < sizeof deflist) snprintf(deflist + n, sizeof deflist - n, ",nystrom:32,performer:32,policy");
        modes_s = deflist;
    }
    if (sweep_modes(modes_s, grid, G, ckpt != NULL, modes, &nm, &e)) {
        fprintf(stderr, "drrl-sweep: error: %s\n", e.msg);
        return 2;
    }
    if (sweep_load(&d, model, over, n_over, lengths, nl, modes, nm, calib, factors, &e)) {
        fprintf(stderr, "drrl-sweep: error: %s\n", e.msg);
        sweep_free(&d);
        return 1;
    }
    printf("- inputs: up to %d per length, joined from same-label reviews of %s; each runs alone "
           "(batch 1); medians over %d rep(s) x the rows\n"
           "- attn ms: the attention kernels alone (summed over layers); forward ms: the whole "
           "forward; ratios vs full at the same length; KL = mean KL(p_full || p_mode); rel err = "
           "mean relative Frobenius error of the last layer's attention output vs exact on the same "
           "input; rank: mean per head over layers and segments (full = %d)\n\n"
           "| length | mode | rows | attn ms | attn ratio | forward ms | forward ratio | attn FLOPs "
           "| FLOPs ratio | KL | rel err | rank | policy ms |\n"
           "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
           rows, d.base.data.test, reps, d.R.dh);
    fflush(stdout);
    FILE *out = NULL;
    char tmp[4200];
    if (csv) {
        snprintf(tmp, sizeof tmp, "%s.tmp", csv);
        if (!(out = fopen(tmp, "w"))) {
            fprintf(stderr, "drrl-sweep: error: --csv: %s: cannot write\n", tmp);
            sweep_free(&d);
            return 1;
        }
        fprintf(out, "length,mode,latency_ms,latency_ratio,attn_flops,flops_ratio,kl,forward_ms,"
                     "forward_ratio,rel_err,rows,mean_rank,policy_ms\n");
    }
    Cell cells[EVAL_MAX_MODES];
    int rc = 0;
    for (int li = 0; li < nl && !rc; li++) {
        const int L = lengths[li];
        if (sweep_length(&d, L, modes, nm, rows, reps, over, n_over, cells, &e)) {
            fprintf(stderr, "drrl-sweep: error: %s\n", e.msg);
            rc = 1;
            break;
        }
        for (int i = 0; i < nm; i++) {
            const Cell *c = &cells[i], *f = &cells[0];
            const double lr = c->lat_ms / f->lat_ms, fr = c->fwd_ms / f->fwd_ms;
            const double flr = (double)c->attn_flops / (double)f->attn_flops;
            printf("| %d | %s | %d | %.3f | %.3f | %.3f | %.3f | %lld | %.4f | %.3g | %.3g |", L,
                   modes[i].name, c->rows, c->lat_ms, lr, c->fwd_ms, fr, (long long)c->attn_flops,
                   flr, c->kl, c->rel);
            cell_num(stdout, 1, c->rank);
            cell_num(stdout, 2, c->policy_ms);
            putchar('\n');
            if (out) {
                fprintf(out, "%d,%s,%.6f,%.6f,%lld,%.6f,%.6g,%.6f,%.6f,%.6g,%d", L, modes[i].name,
                        c->lat_ms, lr, (long long)c->attn_flops, flr, c->kl, c->fwd_ms, fr, c->rel,
                        c->rows);
                csv_num(out, c->rank), csv_num(out, c->policy_ms);
                fputc('\n', out);
            }
        }
        fflush(stdout);
    }
    if (out) {
        if (fclose(out) || (!rc && rename(tmp, csv))) {
            fprintf(stderr, "drrl-sweep: error: --csv: cannot write %s\n", csv);
            rc = 1;
        }
        if (rc) remove(tmp);
        else printf("\nwrote %s\n", csv);
    }
    sweep_free(&d);
    return rc;
}
