/* signals_time.c: every mode of a drrl-signals batch timed (signals_time.h). */
#include "eval/signals_time.h"

#include <math.h>
#include <stdlib.h>

#include "core/timer.h"

#define TIME_MAX_REPS 64

/* one pass of the batch at mode m (m = M: the cheap pass with its features); seconds */
static Status pass_once(SigCtx *x, const int32_t *ids, const uint8_t *mask, int B, int N, int m,
                        double *sec, Err *e) {
    Ranked *R = x->R;
    const SigResult *r = x->res;
    const int cheap = m == r->M, rank = cheap ? r->ranks[0] : m == r->M - 1 ? RANKED_FULL
                                                                            : r->ranks[m];
    for (int b = 0; b < B; b++) x->rk[b] = rank;
    double mean, std, margin, entropy;
    const double t0 = time_now();
    Status s = ranked_begin(R, ids, NULL, mask, B, N, e);
    for (int l = 0; l < R->L && !s; l++) {
        for (int b = 0; b < B && cheap; b++)
            sig_rownorm(R->x + (size_t)b * N * R->C, ranked_seq_len(R, b), R->C, &mean, &std);
        s = ranked_layer_each(R, RANK_WHITENED, 0, x->rk, x->fl, NULL, e);
        for (int b = 0; b < B && cheap && !s; b++)
            sig_head(R->m, R->x + (size_t)b * N * R->C, x->work, &margin, &entropy);
    }
    if (!s) s = ranked_end(R, e);
    *sec = time_now() - t0;
    return s;
}

static int cmp_double(const void *a, const void *b) {
    const double p = *(const double *)a, q = *(const double *)b;
    return (p > q) - (p < q);
}

Status sig_time_batch(SigCtx *x, const int32_t *ids, const uint8_t *mask, int B, int N, Err *e) {
    SigResult *r = x->res;
    const int M = r->M, reps = r->reps < TIME_MAX_REPS ? r->reps : TIME_MAX_REPS;
    double t[SIG_MAX_RANKS + 2][TIME_MAX_REPS];
    Status s = ST_OK;
    for (int k = 0; k < reps && !s; k++)
        for (int m = 0; m <= M && !s; m++) s = pass_once(x, ids, mask, B, N, m, &t[m][k], e);
    for (int m = 0; m <= M && !s; m++) {
        qsort(t[m], (size_t)reps, sizeof(double), cmp_double);
        const double med = reps % 2 ? t[m][reps / 2] : (t[m][reps / 2 - 1] + t[m][reps / 2]) / 2;
        const int mf = m == M ? 0 : m;
        double sum = 0;
        for (int b = 0; b < B; b++) {
            const int i = x->order[x->at + b];
            sum += (double)(r->flops[(size_t)i * M + mf] + r->rest[i] + (m == M ? r->feat[i] : 0));
        }
        for (int b = 0; b < B; b++) {
            const int i = x->order[x->at + b];
            const double w = (double)(r->flops[(size_t)i * M + mf] + r->rest[i] +
                                      (m == M ? r->feat[i] : 0));
            r->ms[(size_t)i * (M + 1) + m] = 1e3 * med * (sum > 0 ? w / sum : 1.0 / B);
        }
    }
    return s;
}
