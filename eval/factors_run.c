/* factors_run.c: the steps of a drrl-factors run around factors_eval (factors_run.h). */
#include "eval/factors_run.h"

#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "core/sha256.h"
#include "pipeline/base_run.h"

/* encode_split: the TSV at path, encoded into set (rows: at most that many; < 0 all) */
static Status encode_split(FactorsData *d, TsvData *t, const char *path, int rows,
                           EncodedSet *set, Err *e) {
    Status s = tsv_load(t, path, e);
    if (s) return s;
    TsvData head = *t;
    if (rows >= 0 && rows < head.n) head.n = rows;
    return encoded_from_tsv(set, &head, d->wp, d->c.data.max_len, e);
}

Status factors_load(FactorsData *d, const FactorsOptions *o, Err *e) {
    char vsha[65];
    Status s = base_run_model_config(o->model, o->over, o->n_over, &d->c, e);
    if (!s && (base_is_imdb(&d->c) || base_is_recall(&d->c)))
        s = err_set(e, ST_INVALID, "%s: data.format: expected sst2 (drrl-factors and drrl-signals "
                    "read WordPiece GLUE TSV sets), found %s (its per-input measures: drrl-eval "
                    "--modes ... --out DIR and scripts/oracle.py)", o->model, d->c.data.format);
    if (!s) s = bert_read_config(o->model, &d->bc, e);
    if (!s) s = bert_init(&d->m, &d->bc, 1, 1, 0, e);
    if (!s) s = bert_load(&d->m, o->model, &d->info, e);
    if (!s) s = sha256_file(o->model, d->sha256, e);
    if (!s) s = wordpiece_load(&d->wp, d->c.data.vocab, e);
    if (!s) s = sha256_file(d->c.data.vocab, vsha, e);
    if (s) return s;
    if (d->info.vocab_sha256[0] && strcmp(vsha, d->info.vocab_sha256))
        return err_set(e, ST_FORMAT, "%s: vocab_sha256: expected %s (the vocabulary %s), found %s",
                       o->model, vsha, d->c.data.vocab, d->info.vocab_sha256);
    const char *split = o->split, *path = !strcmp(split, "dev")    ? d->c.data.dev
                                          : !strcmp(split, "test") ? d->c.data.test
                                                                   : d->c.data.train;
    if ((s = encode_split(d, &d->train, d->c.data.train, o->calib_rows, &d->calib, e))) return s;
    return encode_split(d, &d->eval, path, -1, &d->set, e);
}

void factors_data_free(FactorsData *d) {
    encoded_free(&d->calib), encoded_free(&d->set);
    tsv_free(&d->train), tsv_free(&d->eval);
    if (d->wp) wordpiece_free(d->wp);
    d->wp = NULL;
    bert_free(&d->m);
    bert_file_info_free(&d->info);
}

Status factors_check(const FactorsData *d, const FactorsOptions *o, Err *e) {
    const int dh = d->bc.d_model / d->bc.n_heads;
    for (int i = 0; i < o->nr; i++)
        if (o->ranks[i] > dh)
            return err_set(e, ST_INVALID, "--ranks: expected ranks in [1, %d] (the head size of "
                           "%s), found %d", dh, o->model, o->ranks[i]);
    return ST_OK;
}

Status factors_prepare(Ranked *R, FactorsData *d, const FactorsOptions *o, RankedCalibInfo *ci,
                       Err *e) {
    int max_m = 0;
    for (int i = 0; i < o->nm; i++) max_m = o->ms[i] > max_m ? o->ms[i] : max_m;
    RankedOptions ro = {.max_B = o->batch ? o->batch : d->c.eval.batch,
                        .max_N = d->c.data.max_len, .ranks = o->ranks, .n_ranks = o->nr,
                        .max_m = max_m, .activation = 0, .bounds = 1,
                        .performer_seed = o->performer_seed};
    Status s = ranked_init(R, &d->m, &ro, e);
    if (s) return s;
    RankedCalib rc = {.rows = o->calib_rows, .batch = 0, .ridge = ATTN_RIDGE_DEFAULT,
                      .cache = o->cache, .model_sha256 = d->sha256};
    return ranked_calibrate(R, &d->calib, &rc, ci, e);
}

int factors_plan(FactorsPass *p, const FactorsOptions *o, int head) {
    int n = 0;
    p[n++] = (FactorsPass){.kind = RANK_EXACT, .rank = head};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < o->nr; i++)
            p[n++] = (FactorsPass){.kind = k ? RANK_WHITENED : RANK_PLAIN, .rank = o->ranks[i],
                                   .bound = o->ranks[i] < head};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < o->nm; i++)
            p[n++] = (FactorsPass){.kind = k ? RANK_PERFORMER : RANK_NYSTROM, .rank = o->ms[i]};
    return n;
}

const char *factors_kind_name(RankKind k) {
    switch (k) {
    case RANK_EXACT: return "exact";
    case RANK_PLAIN: return "plain";
    case RANK_WHITENED: return "whitened";
    case RANK_NYSTROM: return "nystrom";
    case RANK_PERFORMER: return "performer";
    default: return "activation";
    }
}

Status factors_run(Ranked *R, const EncodedSet *set, FactorsPass *p, int n, FILE *progress,
                   Err *e) {
    FullRef ref = {malloc(sizeof(float) * (size_t)set->n * R->K)}; /* (n, K) */
    if (!ref.logits) return err_set(e, ST_NOMEM, "drrl-factors: out of memory");
    Progress pr;
    progress_init(&pr, progress, "drrl-factors: passes", n, 0.0);
    Status s = ST_OK;
    for (int i = 0; i < n && !s; i++) {
        RankSpec sp = rank_spec(p[i].kind, p[i].kind == RANK_EXACT ? 0 : p[i].rank);
        s = factors_eval(R, set, &sp, p[i].bound, i ? &ref : NULL, i ? NULL : &ref, &p[i].row, e);
        char what[96];
        snprintf(what, sizeof what, "drrl-factors: %s %d done, passes", factors_kind_name(p[i].kind),
                 p[i].rank);
        progress_label(&pr, what);
        if (!s) progress_add(&pr, 1);
    }
    free(ref.logits);
    return s;
}
