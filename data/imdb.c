/* imdb.c: byte-level IMDB loading, joining and encoding (see imdb.h). The decompressed
 * file is the text allocation: each review's LF becomes its NUL terminator in place. */
#include "data/imdb.h"

#include <stdlib.h>
#include <string.h>

#include "data/gz.h"
#include "data/text.h"

/* alloc_rows: text pointers and the len, label, src arrays of n rows in one block. */
static Status alloc_rows(ImdbData *d, size_t n, const char *what, Err *e) {
    size_t cnt = n > 0 ? n : 1;
    d->text = malloc(cnt * (sizeof(char *) + 3 * sizeof(int32_t)));
    if (!d->text) return err_set(e, ST_NOMEM, "%s: cannot allocate arrays for %zu rows", what, n);
    d->len = (int32_t *)(d->text + cnt);
    d->label = d->len + cnt;
    d->src = d->label + cnt;
    return ST_OK;
}

void imdb_free(ImdbData *d) {
    if (!d) return;
    free(d->text);
    free(d->buf);
    memset(d, 0, sizeof *d);
}

Status imdb_load(ImdbData *d, const char *path, long line_max, Err *e) {
    memset(d, 0, sizeof *d);
    if (line_max <= 0) line_max = IMDB_LINE_MAX;
    char *buf;
    size_t len;
    Status st = gz_read_all(path, &buf, &len, e);
    if (st) return st;
    d->buf = buf;

    size_t nlines = 0; /* every LF ends a line; a last line without one counts too */
    for (const char *q = buf; (q = memchr(q, '\n', (size_t)(buf + len - q))) != NULL; q++)
        nlines++;
    if (len > 0 && buf[len - 1] != '\n') nlines++;
    size_t n = nlines > 0 ? nlines - 1 : 0; /* < INT_MAX: len <= GZ_MAX_BYTES */
    if ((st = alloc_rows(d, n, path, e))) goto fail;

    char found[TEXT_SHOW_CAP];
    char *p = buf, *end = buf + len;
    int row = 0;
    for (int lineno = 1; lineno == 1 || p < end; lineno++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end; /* *le is LF or the NUL after the buffer */
        size_t ll = (size_t)(le - p);
        if (lineno == 1) {
            if (ll != 10 || memcmp(p, "label\ttext", 10) != 0) {
                text_show(found, sizeof found, p, ll);
                st = err_set(e, ST_FORMAT, "%s:1: header: expected 'label\\ttext', found '%s'",
                             path, found);
                goto fail;
            }
            p = le + (nl != NULL);
            continue;
        }
        if (ll > (size_t)line_max) {
            st = err_set(e, ST_FORMAT, "%s:%d: expected a line of at most %ld bytes, found %zu "
                         "bytes", path, lineno, line_max, ll);
            goto fail;
        }
        char *tab = memchr(p, '\t', ll);
        int cols = 1;
        for (const char *q = tab; q; q = memchr(q + 1, '\t', (size_t)(le - q - 1))) cols++;
        if (cols != 2) {
            st = err_set(e, ST_FORMAT, "%s:%d: expected 2 tab-separated columns (label, text), "
                         "found %d", path, lineno, cols);
            goto fail;
        }
        if (tab - p != 1 || (p[0] != '0' && p[0] != '1')) {
            text_show(found, sizeof found, p, (size_t)(tab - p));
            st = err_set(e, ST_FORMAT, "%s:%d: label: expected 0 or 1, found '%s'", path, lineno,
                         found);
            goto fail;
        }
        if (le == tab + 1) {
            st = err_set(e, ST_FORMAT, "%s:%d: text: expected a non-empty review, found ''", path,
                         lineno);
            goto fail;
        }
        *le = '\0';
        d->text[row] = tab + 1;
        d->len[row] = (int32_t)(le - tab - 1);
        d->label[row] = p[0] - '0';
        d->src[row] = row;
        row++;
        p = le + (nl != NULL);
    }
    d->n = row; /* == n: every line after the header is a row */
    return ST_OK;

fail:
    imdb_free(d);
    return st;
}

int imdb_rows_min_len(const ImdbData *d, int min_bytes, int32_t *rows) {
    int k = 0;
    for (int i = 0; i < d->n; i++)
        if (d->len[i] >= min_bytes) {
            if (rows) rows[k] = i;
            k++;
        }
    return k;
}

Status imdb_join(ImdbData *out, const ImdbData *in, int target_bytes, int same_label,
                 int max_rows, Err *e) {
    memset(out, 0, sizeof *out);
    if (target_bytes < 1)
        return err_set(e, ST_INVALID, "imdb_join: target_bytes: expected >= 1, found %d",
                       target_bytes);
    /* rows use disjoint reviews and each needs >= target bytes of review + separator */
    int64_t total = 0;
    for (int i = 0; i < in->n; i++) total += (int64_t)in->len[i] + 1;
    int64_t bound = total / target_bytes;
    if (max_rows > 0 && bound > max_rows) bound = max_rows;
    if (bound > INT32_MAX) bound = INT32_MAX;
    size_t stride = (size_t)target_bytes + 1;
    Status st = alloc_rows(out, (size_t)bound, "imdb_join", e);
    if (st) return st;
    out->buf = malloc(bound > 0 ? (size_t)bound * stride : 1);
    if (!out->buf) {
        imdb_free(out);
        return err_set(e, ST_NOMEM, "imdb_join: cannot allocate %lld rows of %d bytes",
                       (long long)bound, target_bytes);
    }
    /* class of a review: its label (same_label) or 0; nxt[c] = next unused review of class c */
    int nxt[2] = {in->n, in->n}, live[2] = {1, same_label != 0};
    for (int i = in->n - 1; i >= 0; i--) nxt[same_label ? in->label[i] != 0 : 0] = i;
    int rows = 0;
    while (rows < bound) {
        int c = -1; /* the class whose next review comes first */
        for (int k = 0; k < 2; k++)
            if (live[k] && nxt[k] < in->n && (c < 0 || nxt[k] < nxt[c])) c = k;
        if (c < 0) break;
        char *w = out->buf + (size_t)rows * stride;
        int first = nxt[c], i = first, filled = 0;
        for (; i < in->n && filled < target_bytes; i++) {
            if (same_label && (in->label[i] != 0) != c) continue;
            if (filled > 0) w[filled++] = ' ';
            int take = target_bytes - filled < in->len[i] ? target_bytes - filled : in->len[i];
            if (take == 0) break; /* only the separator fitted: this review waits */
            memcpy(w + filled, in->text[i], (size_t)take);
            filled += take;
        }
        while (i < in->n && same_label && (in->label[i] != 0) != c) i++;
        nxt[c] = i;
        if (filled < target_bytes) { /* the data ran out: drop the partial row */
            live[c] = 0;
            continue;
        }
        w[target_bytes] = '\0';
        out->text[rows] = w;
        out->len[rows] = target_bytes;
        out->label[rows] = in->label[first];
        out->src[rows] = in->src[first];
        rows++;
    }
    out->n = rows;
    return ST_OK;
}

Status imdb_stream(ImdbData *out, const ImdbData *in, int target_bytes, Err *e) {
    memset(out, 0, sizeof *out);
    if (target_bytes < 1)
        return err_set(e, ST_INVALID, "imdb_stream: target_bytes: expected >= 1, found %d",
                       target_bytes);
    int64_t total = in->n > 0 ? -1 : 0; /* the stream: the texts with n - 1 separators */
    for (int i = 0; i < in->n; i++) total += (int64_t)in->len[i] + 1;
    int64_t rows = total / target_bytes;
    if (rows > INT32_MAX) rows = INT32_MAX;
    const size_t stride = (size_t)target_bytes + 1;
    Status st = alloc_rows(out, (size_t)rows, "imdb_stream", e);
    if (st) return st;
    out->buf = malloc(rows > 0 ? (size_t)rows * stride : 1);
    if (!out->buf) {
        imdb_free(out);
        return err_set(e, ST_NOMEM, "imdb_stream: cannot allocate %lld rows of %d bytes",
                       (long long)rows, target_bytes);
    }
    int i = 0;   /* the review being copied */
    int32_t o = 0; /* bytes of review i (its separator at len[i]) already copied */
    for (int64_t r = 0; r < rows; r++) {
        char *w = out->buf + (size_t)r * stride;
        out->label[r] = in->label[i], out->src[r] = in->src[i];
        for (int filled = 0; filled < target_bytes;) {
            if (o == in->len[i]) { /* the separator after review i */
                w[filled++] = '\n';
                i++, o = 0;
                continue;
            }
            int take = in->len[i] - o < target_bytes - filled ? in->len[i] - o
                                                               : target_bytes - filled;
            memcpy(w + filled, in->text[i] + o, (size_t)take);
            filled += take, o += take;
        }
        if (i < in->n && o == in->len[i] && i + 1 == in->n) i++, o = 0; /* no separator last */
        w[target_bytes] = '\0';
        out->text[r] = w;
        out->len[r] = target_bytes;
    }
    out->n = (int)rows;
    return ST_OK;
}

Status encoded_from_imdb(EncodedSet *s, const ImdbData *d, int max_len, Err *e) {
    int n = d->n;
    Status st = encoded_alloc(s, n, max_len, e);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        int32_t *row = s->ids + (size_t)i * max_len;
        const unsigned char *t = (const unsigned char *)d->text[i];
        int k = d->len[i] < max_len - 2 ? d->len[i] : max_len - 2;
        row[0] = IMDB_CLS;
        for (int j = 0; j < k; j++) row[1 + j] = IMDB_BYTE0 + t[j];
        row[k + 1] = IMDB_SEP;
        for (int j = k + 2; j < max_len; j++) row[j] = IMDB_PAD;
        s->len[i] = k + 2;
        s->label[i] = d->label[i];
        s->index[i] = d->src[i];
        s->n_truncated += d->len[i] > max_len - 2;
        s->n_tokens += k + 2;
    }
    return ST_OK;
}
