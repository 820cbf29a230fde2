/* base_eval.c: full-rank evaluation of the frozen classifier (see base_eval.h). */
#include "base_eval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

Status base_evaluate(Bert *m, const EncodedSet *s, int batch, int32_t *pred, EvalResult *r,
                     Err *e) {
    memset(r, 0, sizeof *r);
    if (batch > m->max_B) batch = m->max_B;
    if (s->max_len > m->max_N)
        return err_set(e, ST_INVALID, "evaluate: rows of %d tokens, model planned for %d",
                       s->max_len, m->max_N);
    int n = s->n;
    uint64_t *key = malloc(sizeof(uint64_t) * (size_t)n);
    int32_t *order = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)batch * s->max_len);
    uint8_t *mask = malloc((size_t)batch * s->max_len);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)batch);
    if (!key || !order || !ids || !mask || !labels) {
        free(key), free(order), free(ids), free(mask), free(labels);
        return err_set(e, ST_NOMEM, "evaluate: out of memory for %d rows", n);
    }
    /* rows ordered by (length, index) so that batches of neighbours pad little */
    for (int i = 0; i < n; i++) key[i] = ((uint64_t)(uint32_t)s->len[i] << 32) | (uint32_t)i;
    qsort(key, (size_t)n, sizeof(uint64_t), cmp_u64);
    for (int i = 0; i < n; i++) order[i] = (int32_t)(key[i] & 0xffffffffu);
    int K = m->c.n_classes;
    double t0 = time_now();
    for (int at = 0; at < n; at += batch) {
        int B = n - at < batch ? n - at : batch;
        int N = encoded_max_len(s, order + at, B);
        encoded_gather(s, order + at, B, N, ids, mask, labels);
        bert_forward(m, ids, NULL, mask, NULL, B, N, 0, NULL);
        const float *lg = bert_logits(m);
        for (int b = 0; b < B; b++) {
            int arg = 0;
            for (int k = 1; k < K; k++) arg = lg[b * K + k] > lg[b * K + arg] ? k : arg;
            int row = order[at + b];
            if (pred) pred[row] = arg;
            int y = labels[b];
            if (y >= 0 && y < 2 && arg < 2) {
                r->n_labeled++;
                r->correct += arg == y;
                r->confusion[y][arg]++;
            }
            r->tokens += s->len[row];
        }
        r->padded_tokens += (int64_t)B * N;
    }
    r->seconds = time_now() - t0;
    r->n = n;
    r->accuracy = r->n_labeled ? (double)r->correct / r->n_labeled : 0.0;
    r->examples_per_s = r->seconds > 0 ? n / r->seconds : 0.0;
    free(key), free(order), free(ids), free(mask), free(labels);
    return ST_OK;
}

void eval_print(FILE *f, const char *what, const EvalResult *r) {
    if (r->n_labeled) {
        fprintf(f, "%s: accuracy %.4f (%d/%d)\n", what, r->accuracy, r->correct, r->n_labeled);
        fprintf(f, "  confusion (rows: true, columns: predicted)\n"
                   "              pred 0   pred 1\n"
                   "    true 0  %8d %8d\n"
                   "    true 1  %8d %8d\n",
                r->confusion[0][0], r->confusion[0][1], r->confusion[1][0], r->confusion[1][1]);
    } else {
        fprintf(f, "%s: %d unlabelled sentences predicted\n", what, r->n);
    }
    fprintf(f, "  %d sentences in %.3f s: %.0f examples/s (%lld tokens, %.2fx after padding)\n",
            r->n, r->seconds, r->examples_per_s, (long long)r->tokens,
            r->tokens ? (double)r->padded_tokens / (double)r->tokens : 1.0);
}

Status predictions_write(const char *path, const int32_t *index, const int32_t *pred, int n,
                         Err *e) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return err_set(e, ST_IO, "%s: cannot open: %s", tmp, strerror(errno));
    fprintf(f, "index\tprediction\n");
    for (int i = 0; i < n; i++) fprintf(f, "%d\t%d\n", index[i], pred[i]);
    if (fclose(f) || rename(tmp, path)) {
        Status s = err_set(e, ST_IO, "%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        return s;
    }
    return ST_OK;
}
