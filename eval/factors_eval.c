/* factors_eval.c: one (kind, rank) evaluation of drrl-factors over an encoded set (see
 * factors_eval.h): the batched passes, then the comparison with the full model by drrl-eval's
 * eval_compare (eval/eval_stats.h: agreement, KL, margin; the same KL as the environment's
 * reward). Violation: measured > bound * (1 + 1e-5) + 1e-6 (relative Frobenius errors; the
 * slack covers the float rounding of the kernels, which the bound excludes). */
#include "eval/factors_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "eval/eval_stats.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* per-layer bound vs measured error on this pass; appends to tight[], rel[] */
static Status layer_with_bound(Ranked *R, const RankSpec *sp, double *work /* (3 B) */,
                               double *tight, double *rel, long *nb, long *viol, Err *e) {
    const int B = R->B;
    double *fro = work, *yn = work + B, *meas = work + 2 * B;
    BoundOut bo = {NULL, fro, NULL, NULL, NULL};
    Status s = ranked_bound(R, sp->kind, BOUND_TIGHT, &sp->rank, 1, &bo, e);
    if (!s) s = ranked_teacher(R, e);
    if (!s) s = ranked_layer(R, sp, e);
    if (s) return s;
    ranked_fidelity(R, 0, R->N, NULL, meas);
    bound_ynorm(yn, R->teacher, attn_mask_u8(R->mask), B, R->N, R->C);
    for (int b = 0; b < B; b++) {
        const double bound = yn[b] > 0 ? fro[b] / yn[b] : 0.0;
        if (meas[b] > bound * (1 + 1e-5) + 1e-6) (*viol)++;
        tight[*nb] = meas[b] > 0 ? bound / meas[b] : INFINITY;
        rel[*nb] = meas[b];
        (*nb)++;
    }
    return ST_OK;
}

Status factors_eval(Ranked *R, const EncodedSet *s, const RankSpec *spec, int with_bound,
                    const FullRef *ref, FullRef *out_ref, EvalRow *row, Err *e) {
    memset(row, 0, sizeof *row);
    const int n = s->n, K = R->K, L = R->L, batch = R->max_B, W = s->max_len;
    uint64_t *key = malloc(sizeof(uint64_t) * (size_t)n);
    int32_t *order = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)batch * W);
    uint8_t *mask = malloc((size_t)batch * W);
    const long nbmax = with_bound ? (long)n * L : 1;
    double *tight = malloc(sizeof(double) * nbmax), *rel = malloc(sizeof(double) * nbmax);
    double *work = malloc(sizeof(double) * 3 * (size_t)batch);
    /* (n, K) this run's logits in set order: the full run's go straight to out_ref */
    float *zm = ref ? malloc(sizeof(float) * (size_t)n * K) : out_ref->logits;
    Status st = ST_OK;
    if (!key || !order || !ids || !mask || !tight || !rel || !work || !zm)
        st = err_set(e, ST_NOMEM, "factors_eval: out of memory for %d rows", n);
    if (!st && W > R->max_N)
        st = err_set(e, ST_INVALID, "factors_eval: rows of %d tokens, planned for %d", W, R->max_N);
    RankSpec sp[BERT_MAX_LAYERS];
    for (int l = 0; l < L; l++) sp[l] = *spec;
    const double t0 = time_now();
    if (!st) {
        for (int i = 0; i < n; i++) key[i] = ((uint64_t)(uint32_t)s->len[i] << 32) | (uint32_t)i;
        qsort(key, (size_t)n, sizeof(uint64_t), cmp_u64);
        for (int i = 0; i < n; i++) order[i] = (int32_t)(key[i] & 0xffffffffu);
    }
    for (int at = 0; at < n && !st; at += batch) {
        const int B = n - at < batch ? n - at : batch;
        const int N = encoded_max_len(s, order + at, B);
        encoded_gather(s, order + at, B, N, ids, mask, NULL);
        st = ranked_begin(R, ids, NULL, mask, B, N, e);
        for (int l = 0; l < L && !st; l++)
            st = with_bound ? layer_with_bound(R, &sp[l], work, tight, rel, &row->n_bound,
                                               &row->violations, e)
                            : ranked_layer(R, &sp[l], e);
        if (!st) st = ranked_end(R, e);
        if (st) break;
        row->attn_flops += ranked_attn_flops(R);
        row->model_flops += ranked_model_flops(R);
        for (int b = 0; b < B; b++)
            memcpy(zm + (size_t)order[at + b] * K, R->logits + (size_t)b * K, sizeof(float) * K);
    }
    row->seconds = time_now() - t0;
    row->n = n;
    if (!st) { /* the full run against itself: agreement 1, KL and dmargin 0 exactly */
        EvalCompare c;
        eval_compare(ref ? ref->logits : zm, zm, s->label, n, K, NULL, &c);
        row->n_labeled = c.n_labeled, row->correct = c.correct, row->agree = c.agree;
        row->accuracy = c.accuracy, row->agreement = c.agreement;
        row->kl = c.kl_mean, row->dmargin = c.dmargin;
    }
    /* (sequence, layer) pairs: far below INT_MAX for any split drrl-factors reads */
    const int nb = (int)row->n_bound;
    row->rel_median = with_bound && nb > 0 ? time_median(rel, nb) : NAN;
    row->tight_median = with_bound && nb > 0 ? time_median(tight, nb) : NAN;
    free(key), free(order), free(ids), free(mask), free(tight), free(rel), free(work);
    if (ref) free(zm);
    return st;
}
