/* base_lm.c: the language model's byte targets and held-out evaluation (base_lm.h). */
#include "pipeline/base_lm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/timer.h"
#include "data/imdb.h"
#include "model/lm.h"
#include "nn/logits.h"

void base_lm_targets(int32_t *targets, const int32_t *ids, int B, int N) {
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            const size_t bn = (size_t)b * N + n;
            targets[bn] = n + 1 < N && ids[bn + 1] >= IMDB_BYTE0 ? ids[bn + 1] : -1;
        }
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Status base_lm_bootstrap(double *lo, double *hi, int *clusters, const double *nats,
                         const double *targets, size_t stride, const int32_t *doc, int n,
                         int resamples, uint64_t seed, Err *e) {
    *lo = *hi = NAN;
    if (clusters) *clusters = 0;
    if (n < 1 || resamples < 1) return ST_OK;
    /* clusters: runs of rows with the same document (imdb_stream keeps a document's rows
       adjacent); their sums (K, 2) */
    double *cs = malloc(sizeof(double) * 2 * (size_t)n), *b = malloc(sizeof(double) * resamples);
    if (!cs || !b) {
        free(cs), free(b);
        return err_set(e, ST_NOMEM, "evaluate: out of memory for the bootstrap");
    }
    int K = 0;
    for (int i = 0; i < n; i++) {
        if (!doc || i == 0 || doc[i] != doc[i - 1]) cs[2 * K] = cs[2 * K + 1] = 0.0, K++;
        cs[2 * (K - 1)] += nats[(size_t)i * stride];
        cs[2 * (K - 1) + 1] += targets[(size_t)i * stride];
    }
    if (clusters) *clusters = K;
    Rng g;
    rng_init(&g, seed, 0x6c6d /* "lm" */);
    for (int k = 0; k < resamples; k++) {
        double sn = 0.0, st = 0.0;
        for (int i = 0; i < K; i++) {
            const size_t j = 2 * (size_t)rng_below(&g, (uint64_t)K);
            sn += cs[j], st += cs[j + 1];
        }
        b[k] = st > 0 ? sn / (st * M_LN2) : 0.0;
    }
    qsort(b, (size_t)resamples, sizeof(double), cmp_dbl);
    *lo = b[(int)floor(0.025 * (resamples - 1))];
    *hi = b[(int)ceil(0.975 * (resamples - 1))];
    free(cs), free(b);
    return ST_OK;
}

Status base_lm_evaluate(Bert *m, const EncodedSet *s, int batch, LmEvalResult *r,
                        double *row_nats, int64_t *row_targets, Progress *progress, Err *e) {
    memset(r, 0, sizeof *r);
    if (batch > m->max_B) batch = m->max_B;
    if (s->max_len > m->max_N)
        return err_set(e, ST_INVALID, "evaluate: rows of %d tokens, model planned for %d",
                       s->max_len, m->max_N);
    const int n = s->n, V = m->c.vocab;
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)batch);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)batch * s->max_len);
    int32_t *tg = malloc(sizeof(int32_t) * (size_t)batch * s->max_len);
    uint8_t *mask = malloc((size_t)batch * s->max_len);
    double *rn = malloc(sizeof(double) * 2 * (size_t)(n ? n : 1)); /* (n, 2) nats, targets */
    Status st = ST_OK;
    if (!idx || !ids || !tg || !mask || !rn) {
        st = err_set(e, ST_NOMEM, "evaluate: out of memory for %d rows", n);
        goto out;
    }
    int64_t hits = 0;
    const double t0 = time_now();
    for (int at = 0; at < n; at += batch) {
        const int B = n - at < batch ? n - at : batch;
        for (int b = 0; b < B; b++) idx[b] = at + b;
        const int N = encoded_max_len(s, idx, B);
        encoded_gather(s, idx, B, N, ids, mask, NULL);
        base_lm_targets(tg, ids, B, N);
        lm_forward(m, ids, mask, tg, B, N, 0, NULL);
        const float *lg = lm_logits(m), *ls = lm_losses(m);
        for (int b = 0; b < B; b++) {
            double nats = 0.0;
            int64_t cnt = 0;
            for (int i = 0; i < N; i++) {
                const size_t bi = (size_t)b * N + i;
                if (tg[bi] < 0) continue;
                nats += ls[bi], cnt++;
                hits += logits_argmax(lg + bi * V, V) == tg[bi];
            }
            rn[2 * (at + b)] = nats, rn[2 * (at + b) + 1] = (double)cnt;
            r->nats += nats, r->targets += cnt;
            progress_add(progress, s->len[at + b]);
        }
    }
    r->seconds = time_now() - t0;
    r->rows = n;
    if (r->targets > 0) {
        r->bits_per_byte = r->nats / ((double)r->targets * M_LN2);
        r->ppl = exp(r->nats / (double)r->targets);
        r->top1 = (double)hits / (double)r->targets;
    }
    r->bytes_per_s = r->seconds > 0 ? (double)r->targets / r->seconds : 0.0;
    st = base_lm_bootstrap(&r->ci_lo, &r->ci_hi, &r->docs, rn, rn + 1, 2, s->index, n,
                           BASE_LM_BOOT, BASE_LM_SEED, e);
    for (int i = 0; i < n && !st; i++) {
        if (row_nats) row_nats[i] = rn[2 * i];
        if (row_targets) row_targets[i] = (int64_t)rn[2 * i + 1];
    }
out:
    free(idx), free(ids), free(tg), free(mask), free(rn);
    return st;
}

void base_lm_print(FILE *f, const char *what, const LmEvalResult *r) {
    fprintf(f, "%s: %.4f bits per byte (95%% CI %.4f..%.4f over %d documents in %d rows), per-byte "
            "perplexity %.4f, top-1 next byte %.4f\n", what, r->bits_per_byte, r->ci_lo,
            r->ci_hi, r->docs, r->rows, r->ppl, r->top1);
    fprintf(f, "  %lld bytes predicted in %.3f s: %.0f bytes/s\n", (long long)r->targets,
            r->seconds, r->bytes_per_s);
}
