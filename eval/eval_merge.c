/* eval_merge.c: every process's part of a mode's output on every process (eval_run.h,
 * core/dist.h). Each batch runs on one process; before the exact merge (a bitwise OR of the
 * buffers), every process clears the entries of the batches it did not run, so that only the
 * owner's bytes survive, whatever a buffer held before (an earlier phase's merge, say). Counts
 * are summed, the largest replay difference kept. Alone, nothing changes. */
#include <string.h>

#include "core/dist.h"
#include "eval/eval_run.h"
#include "eval/eval_lm.h"

/* keep_rows: zero the rows (width w elements of size sz) of the batches not this process's */
static void keep_rows(const EvalCtx *x, const EvalBatches *bt, void *a, size_t w, size_t sz) {
    for (int k = 0; k < bt->n_batches; k++) {
        if (eval_mine(x, k)) continue;
        for (int i = bt->start[k]; i < bt->start[k + 1]; i++)
            memset((char *)a + (size_t)bt->order[i] * w * sz, 0, w * sz);
    }
}

/* keep_batches: zero the entries (w doubles each) of the batches not this process's */
static void keep_batches(const EvalCtx *x, const EvalBatches *bt, double *a, size_t w) {
    for (int k = 0; k < bt->n_batches; k++)
        if (!eval_mine(x, k)) memset(a + (size_t)k * w, 0, w * sizeof(double));
}

/* merge_rows / merge_batches: keep_* then the exact merge */
static Status merge_rows(const EvalCtx *x, const EvalBatches *bt, void *a, int n, size_t w,
                         size_t sz, Err *e) {
    keep_rows(x, bt, a, w, sz);
    return dist_or(a, (size_t)n * w * sz, e);
}

static Status merge_batches(const EvalCtx *x, const EvalBatches *bt, double *a, size_t w,
                            Err *e) {
    keep_batches(x, bt, a, w);
    return dist_or(a, (size_t)bt->n_batches * w * sizeof(double), e);
}

/* merge_decision: the decision's parts (seconds summed, FLOPs exact) */
static Status merge_decision(EvalModeOut *o, Err *e) {
    Status s = dist_sum_f64(o->dec_sec, 4, e);
    return s ? s : dist_sum_i64(o->dec_fl, 4, e);
}

Status eval_merge(const EvalCtx *x, const EvalBatches *bt, const EvalMode *m, EvalModeOut *o,
                  int n, int K, int L, int S, int phase, Err *e) {
    if (x->parts == 1) return ST_OK;
    Status s;
    const int policy = m->kind == EVAL_POLICY;
    if (phase == EVAL_DECIDED) {
        if ((s = merge_rows(x, bt, o->rank, n, (size_t)L * S, sizeof(int32_t), e)) ||
            (s = merge_rows(x, bt, o->env_logits, n, (size_t)K, sizeof(float), e)) ||
            (s = merge_batches(x, bt, o->batch_acc, EVAL_ACC, e)) ||
            (s = merge_batches(x, bt, o->policy_sec, 1, e)) ||
            (s = dist_sum_i64(&o->violations, 1, e)))
            return s;
        return policy ? ST_OK : merge_decision(o, e); /* the probe rules decide here */
    }
    int64_t c[3] = {o->attn_flops, o->model_flops, o->rank_diff};
    if ((s = merge_rows(x, bt, o->logits, n, (size_t)K, sizeof(float), e)) ||
        (s = merge_rows(x, bt, o->lm, n, EVAL_LM_STATS, sizeof(double), e)) ||
        (s = merge_batches(x, bt, o->sec, 1, e)) ||
        (s = merge_batches(x, bt, o->attn_sec, 1, e)) ||
        (s = merge_batches(x, bt, o->decision_sec, 1, e)) ||
        (s = merge_batches(x, bt, o->policy_sec, 1, e)) ||
        (s = dist_sum_i64(c, 3, e)) ||
        (s = dist_max_f64(&o->replay_diff, 1, e)))
        return s;
    o->attn_flops = c[0], o->model_flops = c[1], o->rank_diff = c[2];
    return policy ? merge_decision(o, e) : ST_OK;
}
