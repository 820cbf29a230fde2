/* base_eval.c: drrl-base's data splits in the three formats, and full-rank evaluation of the
 * frozen classifier (see base_eval.h). */
#include "pipeline/base_eval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/sha256.h"
#include "core/file.h"
#include "core/progress.h"
#include "core/timer.h"
#include "data/imdb.h"
#include "data/recall.h"
#include "data/tsv.h"
#include "nn/logits.h"

/* ------------------------------------------------------------------ data */

/* text_sha: the SHA-256 (hex) of a NUL-terminated text */
static void text_sha(const char *text, char hex[65]) {
    Sha256 h;
    uint8_t d[32];
    sha256_init(&h);
    sha256_update(&h, text, strlen(text));
    sha256_final(&h, d);
    sha256_hex(d, hex);
}

Status base_vocab_open(BaseVocab *v, const BaseConfig *c, Err *e) {
    memset(v, 0, sizeof *v);
    v->imdb = base_is_imdb(c);
    v->recall = base_is_recall(c);
    if (v->imdb) {
        text_sha(BASE_IMDB_VOCAB_TEXT, v->sha);
        v->vocab = IMDB_VOCAB;
        return ST_OK;
    }
    if (v->recall) {
        RecallConfig rc = base_recall_config(c);
        char text[512];
        recall_vocab_text(&rc, text, sizeof text);
        text_sha(text, v->sha);
        v->vocab = recall_vocab(&rc);
        return ST_OK;
    }
    Status s = wordpiece_load(&v->wp, c->data.vocab, e);
    if (!s) s = sha256_file(c->data.vocab, v->sha, e);
    if (s) {
        base_vocab_close(v);
        return err_prefix(e, "data.vocab");
    }
    v->vocab = wordpiece_vocab_size(v->wp);
    return ST_OK;
}

void base_vocab_close(BaseVocab *v) {
    if (v->wp) wordpiece_free(v->wp);
    v->wp = NULL;
}

/* the rows of an IMDB file that form split (train or dev) under dev_rows (see base_eval.h):
   rows (n) receives them in file order for train, in permutation order for dev */
static Status imdb_rows(int32_t **rows, int *n_rows, int n, int dev_rows, int dev, const char *path,
                        Err *e) {
    *rows = NULL, *n_rows = 0;
    if (dev_rows >= n)
        return err_set(e, ST_CONFIG, "data.dev_rows: expected fewer than the %d rows of %s, found %d",
                       n, path, dev_rows);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n); /* (n) the seeded permutation */
    int32_t *out = malloc(sizeof(int32_t) * (size_t)n);  /* (n) the split's rows */
    uint8_t *is_dev = calloc((size_t)n, 1);               /* (n) 1: held out as dev */
    if (!perm || !out || !is_dev) {
        free(perm), free(out), free(is_dev);
        return err_set(e, ST_NOMEM, "out of memory for %d rows", n);
    }
    Rng r;
    rng_init(&r, BASE_IMDB_SPLIT_SEED, 0);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)rng_below(&r, (uint64_t)i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    int m = 0;
    if (dev) {
        for (int i = n - dev_rows; i < n; i++) out[m++] = perm[i];
    } else {
        for (int i = n - dev_rows; i < n; i++) is_dev[perm[i]] = 1;
        for (int i = 0; i < n; i++)
            if (!is_dev[i]) out[m++] = i;
    }
    free(perm), free(is_dev);
    *rows = out, *n_rows = m;
    return ST_OK;
}

static Status load_imdb(EncodedSet *out, const BaseConfig *c, const char *split, int limit,
                        char *desc, size_t cap, Err *e) {
    const int test = !strcmp(split, "test"), dev = !strcmp(split, "dev");
    const int carve = !test && c->data.dev_rows > 0;
    const char *key = test ? "data.test" : dev && !carve ? "data.dev" : "data.train";
    const char *path = test ? c->data.test : dev && !carve ? c->data.dev : c->data.train;
    ImdbData d, view;
    memset(&view, 0, sizeof view);
    Status s = imdb_load(&d, path, 0, e);
    if (s) return err_prefix(e, "%s", key);
    int32_t *rows = NULL;
    int n = d.n;
    if (carve && (s = imdb_rows(&rows, &n, d.n, c->data.dev_rows, dev, path, e))) goto out;
    if (limit > 0 && limit < n) n = limit;
    /* a view of the chosen rows (texts stay in d's buffer): text (n), then len, label and
       src (n) each in one allocation */
    view.n = n;
    view.text = malloc(sizeof(char *) * (size_t)(n ? n : 1));
    view.len = malloc(sizeof(int32_t) * 3 * (size_t)(n ? n : 1));
    if (!view.text || !view.len) {
        s = err_set(e, ST_NOMEM, "out of memory for %d rows", n);
        goto out;
    }
    view.label = view.len + n, view.src = view.label + n;
    for (int i = 0; i < n; i++) {
        int k = rows ? rows[i] : i;
        view.text[i] = d.text[k], view.len[i] = d.len[k];
        view.label[i] = d.label[k], view.src[i] = d.src[k];
    }
    if (base_is_lm(c)) { /* language model rows: the reviews' text cut into max_len - 2 bytes */
        ImdbData j;
        if ((s = imdb_stream(&j, &view, c->data.max_len - 2, e))) goto out;
        s = encoded_from_imdb(out, &j, c->data.max_len, e);
        if (!s && desc)
            snprintf(desc, cap, "%d rows of %d bytes of %d reviews %s %s", j.n,
                     c->data.max_len - 2, n, carve && dev ? "held out of" : "of", path);
        imdb_free(&j);
        goto out;
    }
    s = encoded_from_imdb(out, &view, c->data.max_len, e);
    if (desc) {
        if (carve)
            snprintf(desc, cap, "%d rows %s %s", n, dev ? "held out of" : "of", path);
        else
            snprintf(desc, cap, "%s", path);
    }
out:
    free(view.text), free(view.len), free(rows);
    imdb_free(&d);
    return s;
}

/* the rows of a recall split, generated (data/recall.h) */
static Status load_recall(EncodedSet *out, const BaseConfig *c, const char *split, int limit,
                          char *desc, size_t cap, Err *e) {
    const int test = !strcmp(split, "test"), dev = !strcmp(split, "dev");
    const int which = test ? RECALL_TEST : dev ? RECALL_DEV : RECALL_TRAIN;
    int n = test ? c->data.recall.test_rows : dev ? c->data.recall.dev_rows
                                                  : c->data.recall.train_rows;
    if (limit > 0 && limit < n) n = limit;
    RecallConfig rc = base_recall_config(c);
    Status s = recall_generate(out, NULL, &rc, which, n, c->data.max_len, e);
    if (s) return err_prefix(e, "data.recall");
    if (desc)
        snprintf(desc, cap, "%d recall rows generated (data.recall.seed %d, %s stream)", n,
                 c->data.recall.seed, test ? "test" : dev ? "dev" : "train");
    return ST_OK;
}

static Status load_any(EncodedSet *out, const BaseConfig *c, const BaseVocab *v,
                       const char *split, int limit, int labelled, char *desc, size_t cap,
                       Err *e) {
    if (v->imdb) return load_imdb(out, c, split, limit, desc, cap, e);
    if (v->recall) return load_recall(out, c, split, limit, desc, cap, e);
    const char *key = !strcmp(split, "dev") ? "data.dev" : !strcmp(split, "test") ? "data.test"
                                                                                  : "data.train";
    const char *path = !strcmp(split, "dev") ? c->data.dev : !strcmp(split, "test") ? c->data.test
                                                                                    : c->data.train;
    TsvData t;
    Status s = tsv_load(&t, path, e);
    if (s) return err_prefix(e, "%s", key);
    if (labelled && !t.labeled) {
        tsv_free(&t);
        return err_set(e, ST_FORMAT, "%s: expected a labelled 'sentence\\tlabel' file, found "
                       "'index\\tsentence'", path);
    }
    if (limit > 0 && limit < t.n) t.n = limit;
    s = encoded_from_tsv(out, &t, v->wp, c->data.max_len, e);
    if (desc) snprintf(desc, cap, "%s", path);
    tsv_free(&t);
    return s;
}

Status base_load_split(EncodedSet *out, const BaseConfig *c, const BaseVocab *v,
                       const char *split, int limit, int labelled, char *desc, size_t cap,
                       Err *e) {
    memset(out, 0, sizeof *out);
    char where[CONFIG_STR_MAX + 128] = "";
    Status s = load_any(out, c, v, split, limit, labelled, where, sizeof where, e);
    if (!s && out->n < 1) {
        encoded_free(out);
        memset(out, 0, sizeof *out);
        return err_set(e, ST_FORMAT, "%s split (%s): expected at least one row, found none (a "
                       "header only, or an empty file)", split, where[0] ? where : "no file");
    }
    if (!s && desc) snprintf(desc, cap, "%s", where);
    return s;
}

/* ------------------------------------------------------------------ evaluation */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

Status base_evaluate(Bert *m, const EncodedSet *s, int batch, int32_t *pred, EvalResult *r,
                     Progress *progress, Err *e) {
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
            const int arg = logits_argmax(lg + (size_t)b * K, K); /* ties: the lower class */
            int row = order[at + b];
            if (pred) pred[row] = arg;
            int y = labels[b];
            if (y >= 0 && y < K) {
                r->n_labeled++;
                r->correct += arg == y;
                if (y < 2 && arg < 2) r->confusion[y][arg]++;
            }
            r->tokens += s->len[row];
            progress_add(progress, s->len[row]);
        }
        r->padded_tokens += (int64_t)B * N;
    }
    r->seconds = time_now() - t0;
    r->n = n;
    r->n_classes = K;
    r->accuracy = r->n_labeled ? (double)r->correct / r->n_labeled : 0.0;
    r->examples_per_s = r->seconds > 0 ? n / r->seconds : 0.0;
    free(key), free(order), free(ids), free(mask), free(labels);
    return ST_OK;
}

void eval_print(FILE *f, const char *what, const EvalResult *r) {
    if (r->n_labeled) {
        fprintf(f, "%s: accuracy %.4f (%d/%d)\n", what, r->accuracy, r->correct, r->n_labeled);
        if (r->n_classes == 2)
            fprintf(f, "  confusion (rows: true, columns: predicted)\n"
                       "              pred 0   pred 1\n"
                       "    true 0  %8d %8d\n"
                       "    true 1  %8d %8d\n",
                    r->confusion[0][0], r->confusion[0][1], r->confusion[1][0],
                    r->confusion[1][1]);
    } else {
        fprintf(f, "%s: %d unlabelled sentences predicted\n", what, r->n);
    }
    fprintf(f, "  %d sentences in %.3f s: %.0f examples/s (%lld tokens, %.2fx after padding)\n",
            r->n, r->seconds, r->examples_per_s, (long long)r->tokens,
            r->tokens ? (double)r->padded_tokens / (double)r->tokens : 1.0);
}

void recall_print_by_pairs(FILE *f, const RecallConfig *rc, const EncodedSet *s,
                           const int32_t *pred) {
    const int P = rc->max_pairs;
    int *n = calloc(2 * ((size_t)P + 1), sizeof(int)); /* (2, P + 1) rows, correct by pairs */
    if (!n) return;
    for (int i = 0; i < s->n; i++) {
        int p = recall_count_pairs(rc, s->ids + (size_t)i * s->max_len, s->len[i]);
        if (p > P) p = P; /* not from this generator's settings: counted with the largest */
        n[p]++;
        n[P + 1 + p] += pred[i] == s->label[i];
    }
    fprintf(f, "  accuracy by pairs:\n  pairs       n  correct  accuracy\n");
    for (int p = 0; p <= P; p++)
        if (n[p])
            fprintf(f, "  %5d %7d %8d  %.4f\n", p, n[p], n[P + 1 + p],
                    (double)n[P + 1 + p] / n[p]);
    free(n);
}

Status predictions_write(const char *path, const int32_t *index, const int32_t *pred, int n,
                         Err *e) {
    AtomicFile af;
    Status s = file_atomic_open(&af, path, e);
    if (s) return s;
    fprintf(af.f, "index\tprediction\n");
    for (int i = 0; i < n; i++) fprintf(af.f, "%d\t%d\n", index[i], pred[i]);
    return file_atomic_commit(&af, e);
}
