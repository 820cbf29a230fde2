/* encode.c: token-id rows for a text set (see encode.h). */
#include "data/encode.h"

#include <stdlib.h>
#include <string.h>

Status encoded_alloc(EncodedSet *s, int n, int max_len, Err *e) {
    memset(s, 0, sizeof *s);
    if (max_len < 2)
        return err_set(e, ST_INVALID, "encode: max_len: expected >= 2, found %d", max_len);
    size_t rows = (size_t)n * (size_t)max_len;
    /* ids, then len, label, index: all int32 in one allocation; mask is made per batch */
    int32_t *buf = malloc(sizeof(int32_t) * (rows + 3 * (size_t)n + 1));
    if (!buf)
        return err_set(e, ST_NOMEM, "encode: out of memory for %d rows of %d tokens", n, max_len);
    s->n = n;
    s->max_len = max_len;
    s->ids = buf;
    s->len = buf + rows;
    s->label = s->len + n;
    s->index = s->label + n;
    return ST_OK;
}

Status encoded_from_tsv(EncodedSet *s, const TsvData *t, WordPiece *wp, int max_len, Err *e) {
    int n = t->n;
    Status st = encoded_alloc(s, n, max_len, e);
    if (st) return st;
    uint8_t *mask = malloc((size_t)max_len); /* (max_len) wordpiece_encode's mask, unused */
    if (!mask) {
        encoded_free(s);
        return err_set(e, ST_NOMEM, "encode: out of memory for %d rows of %d tokens", n, max_len);
    }
    for (int i = 0; i < n; i++) {
        int32_t *row = s->ids + (size_t)i * max_len;
        s->len[i] = wordpiece_encode(wp, t->text[i], row, mask, max_len);
        /* truncated when the pieces alone need more than max_len - 2 slots */
        if (wordpiece_tokenize(wp, t->text[i], NULL, 0) > max_len - 2) s->n_truncated++;
        s->label[i] = t->label[i];
        s->index[i] = t->index[i];
        s->n_tokens += s->len[i];
    }
    free(mask);
    return ST_OK;
}

void encoded_free(EncodedSet *s) {
    free(s->ids);
    memset(s, 0, sizeof *s);
}

void encoded_gather(const EncodedSet *s, const int32_t *idx, int B, int N, int32_t *ids,
                    uint8_t *mask, int32_t *labels) {
    for (int b = 0; b < B; b++) {
        const int32_t *row = s->ids + (size_t)idx[b] * s->max_len;
        int32_t len = s->len[idx[b]];
        memcpy(ids + (size_t)b * N, row, sizeof(int32_t) * (size_t)N);
        for (int j = 0; j < N; j++) mask[(size_t)b * N + j] = j < len;
        if (labels) labels[b] = s->label[idx[b]];
    }
}

int encoded_max_len(const EncodedSet *s, const int32_t *idx, int B) {
    int mx = 0;
    for (int b = 0; b < B; b++) mx = s->len[idx[b]] > mx ? s->len[idx[b]] : mx;
    return mx;
}
