/* tsv.c: GLUE-format TSV loader (see tsv.h). The file is read into one buffer; rows are
 * checked line by line and their stripped texts compacted in place to the front of that
 * buffer, which then becomes the single text allocation. */
#include "tsv.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "data/text.h"

/* utf8_bad: offset of the first byte of the first invalid UTF-8 sequence in s[0..n), or
 * -1 if all of it is valid (Unicode table 3-7: no overlongs, no surrogates, <= U+10FFFF). */
static long utf8_bad(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c == 0xE0) len = 3, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) len = 3;
        else if (c == 0xED) len = 3, hi = 0x9F;
        else if (c >= 0xEE && c <= 0xEF) len = 3;
        else if (c == 0xF0) len = 4, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) len = 4;
        else if (c == 0xF4) len = 4, hi = 0x8F;
        else return (long)i;
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) return (long)i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return (long)i;
        i += len;
    }
    return -1;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* parse_index: non-negative decimal integer filling the whole field, <= INT32_MAX. */
static int parse_index(const char *s, size_t n, int32_t *v) {
    if (n == 0) return 0;
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        x = x * 10 + (s[i] - '0');
        if (x > INT32_MAX) return 0;
    }
    *v = (int32_t)x;
    return 1;
}

void tsv_free(TsvData *d) {
    if (!d) return;
    if (d->text && d->n > 0) free(d->text[0]);
    free(d->text);
    free(d->label);
    free(d->index);
    free(d->line);
    memset(d, 0, sizeof *d);
}

/* tsv_check_bytes: line lineno, [p, p + ll), holds no NUL byte and is valid UTF-8 */
static Status tsv_check_bytes(const char *path, int lineno, const char *p, size_t ll, Err *e) {
    const char *z = memchr(p, '\0', ll);
    if (z)
        return err_set(e, ST_FORMAT, "%s:%d: expected text without NUL bytes, found byte 0x00 "
                       "at column %ld", path, lineno, (long)(z - p) + 1);
    long bad = utf8_bad((const unsigned char *)p, ll);
    if (bad >= 0)
        return err_set(e, ST_FORMAT, "%s:%d: expected valid UTF-8, found byte 0x%02x at "
                       "column %ld", path, lineno, (unsigned char)p[bad], bad + 1);
    return ST_OK;
}

/* tsv_header: the header line [h, h + hl) (after an optional BOM) sets d->labeled */
static Status tsv_header(TsvData *d, const char *path, const char *h, size_t hl, Err *e) {
    if (hl >= 3 && memcmp(h, "\xEF\xBB\xBF", 3) == 0) h += 3, hl -= 3; /* BOM */
    if (hl == 14 && memcmp(h, "sentence\tlabel", 14) == 0) {
        d->labeled = 1;
    } else if (hl == 14 && memcmp(h, "index\tsentence", 14) == 0) {
        d->labeled = 0;
    } else {
        char found[TEXT_SHOW_CAP];
        text_show(found, sizeof found, h, hl);
        return err_set(e, ST_FORMAT, "%s:1: header: expected 'sentence\\tlabel' or "
                       "'index\\tsentence', found '%s'", path, found);
    }
    return ST_OK;
}

/* tsv_index_error: the message for an index field [p, p + il) that parse_index refused:
   digits (or a minus sign and digits) that do not fit get the range */
static Status tsv_index_error(const char *path, int lineno, const char *p, size_t il, Err *e) {
    char found[TEXT_SHOW_CAP];
    size_t k = il > 0 && p[0] == '-' ? 1 : 0;
    int numeric = il > k;
    for (size_t i = k; i < il; i++) numeric &= p[i] >= '0' && p[i] <= '9';
    text_show(found, sizeof found, p, il);
    if (numeric)
        return err_set(e, ST_FORMAT, "%s:%d: index: expected an integer from 0 to %ld, found "
                       "'%s'", path, lineno, (long)INT32_MAX, found);
    return err_set(e, ST_FORMAT, "%s:%d: index: expected an integer, found '%s'", path, lineno,
                   found);
}

/* tsv_row: split data line lineno, [p, le), into its label (labeled files) or index (else;
   *index keeps its value otherwise) and its text [*s, *se) with white space stripped */
static Status tsv_row(const TsvData *d, const char *path, int lineno, char *p, char *le,
                      char **s, char **se, int32_t *label, int32_t *index, Err *e) {
    char found[TEXT_SHOW_CAP];
    int tabs = 0;
    for (const char *q = p; (q = memchr(q, '\t', (size_t)(le - q))) != NULL; q++) tabs++;
    if (tabs != 1)
        return err_set(e, ST_FORMAT, "%s:%d: expected 2 tab-separated columns, found %d", path,
                       lineno, tabs + 1);
    if (d->labeled) { /* sentence \t label: split on the last TAB */
        char *tab = le - 1;
        while (*tab != '\t') tab--;
        *s = p;
        *se = tab;
        size_t fl = (size_t)(le - tab - 1);
        if (fl != 1 || (tab[1] != '0' && tab[1] != '1')) {
            text_show(found, sizeof found, tab + 1, fl);
            return err_set(e, ST_FORMAT, "%s:%d: label: expected 0 or 1, found '%s'", path,
                           lineno, found);
        }
        *label = tab[1] - '0';
    } else { /* index \t sentence: split on the first TAB */
        char *tab = memchr(p, '\t', (size_t)(le - p));
        *s = tab + 1;
        *se = le;
        size_t il = (size_t)(tab - p);
        if (!parse_index(p, il, index)) return tsv_index_error(path, lineno, p, il, e);
    }
    char *raw = *s, *raw_end = *se;
    while (*s < *se && is_space(**s)) (*s)++;
    while (*se > *s && is_space((*se)[-1])) (*se)--;
    if (*s == *se) {
        text_show(found, sizeof found, raw, (size_t)(raw_end - raw));
        return err_set(e, ST_FORMAT, "%s:%d: expected a non-empty sentence, found '%s'", path,
                       lineno, found);
    }
    return ST_OK;
}

Status tsv_load(TsvData *d, const char *path, Err *e) {
    memset(d, 0, sizeof *d);
    char *buf = NULL;
    size_t len = 0;
    Status st = file_read_all(path, &buf, &len, e);
    if (st) return st;

    /* lines: every '\n' ends one; a last line without '\n' counts too */
    size_t nlines = 0;
    for (const char *q = buf; (q = memchr(q, '\n', (size_t)(buf + len - q))) != NULL; q++)
        nlines++;
    if (len > 0 && buf[len - 1] != '\n') nlines++;
    int n = nlines > 0 ? (int)(nlines - 1) : 0; /* < INT_MAX: the file is under 2 GiB */

    size_t cnt = n > 0 ? (size_t)n : 1;
    d->text = malloc(cnt * sizeof *d->text);
    d->label = malloc(cnt * sizeof *d->label);
    d->index = malloc(cnt * sizeof *d->index);
    d->line = malloc(cnt * sizeof *d->line);
    if (!d->text || !d->label || !d->index || !d->line) {
        st = err_set(e, ST_NOMEM, "%s: cannot allocate arrays for %d rows", path, n);
        goto fail;
    }

    char *p = buf, *end = buf + len, *w = buf;
    int row = 0;
    for (int lineno = 1; lineno == 1 || p < end; lineno++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        if (le > p && le[-1] == '\r') le--;
        size_t ll = (size_t)(le - p);
        if ((st = tsv_check_bytes(path, lineno, p, ll, e))) goto fail;
        if (lineno == 1) {
            if ((st = tsv_header(d, path, p, ll, e))) goto fail;
            p = next;
            continue;
        }
        char *s = NULL, *se = NULL; /* text field [s, se) */
        int32_t label = -1, index = row;
        if ((st = tsv_row(d, path, lineno, p, le, &s, &se, &label, &index, e))) goto fail;
        /* compact: w <= s always (each row consumed at least its text plus one byte), and the
           fields parsed above are no longer needed */
        size_t tl = (size_t)(se - s);
        memmove(w, s, tl);
        w[tl] = '\0';
        w += tl + 1;
        d->label[row] = label;
        d->index[row] = index;
        d->line[row] = lineno;
        row++;
        p = next;
    }
    /* row == n here: every line after the header is one row */

    if (n == 0) {
        free(buf);
        buf = NULL;
    } else {
        char *nb = realloc(buf, (size_t)(w - buf)); /* give back headers, labels, indexes */
        if (nb) buf = nb;
        char *q = buf;
        for (int i = 0; i < n; i++) {
            d->text[i] = q;
            q += strlen(q) + 1;
        }
    }
    d->n = n;
    return ST_OK;

fail:
    free(buf);
    free(d->text);
    free(d->label);
    free(d->index);
    free(d->line);
    memset(d, 0, sizeof *d);
    return st;
}
