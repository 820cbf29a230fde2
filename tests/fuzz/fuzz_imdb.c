/* fuzz_imdb.c: libFuzzer target of the gzip reader (data/gz.h) and the IMDB TSV reader on top
 * of it (data/imdb.h), with what runs on the loaded reviews (imdb_rows_min_len, imdb_join,
 * encoded_from_imdb).
 *
 * Input: byte 0 is the mode, byte 1 a parameter, the rest the payload.
 *   mode & 3 == 0: the payload is the file itself (raw gzip bytes: gz_read_all's magic,
 *                  member, trailer and truncation checks).
 *   otherwise:     the payload is the decompressed text; the target gzips it (zlib, gzip
 *                  wrapper) so the fuzzer works on the TSV format directly: mode & 3 == 2
 *                  splits it into two members at byte (param * payload / 256); mode & 3 == 3
 *                  drops the last param % 16 bytes of the compressed file (truncation) or,
 *                  when param >= 128, appends param % 4 junk bytes after it.
 * mode >> 2 picks line_max (0 = the default, else a small limit). The file is written to
 * FUZZ_DIR/fuzz.tsv.gz and read with imdb_load; failures must leave a message and a zeroed
 * ImdbData; on success every review must hold the promised invariants, and the joins and the
 * byte encoding run on it with small sizes taken from param. gz_read_all runs on the same
 * file too (its result must agree with imdb_load's reading). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/gz.h"
#include "data/imdb.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* gzip_append: the gzip member of in[0..n) appended to out at *len (cap big enough) */
static void gzip_append(uint8_t *out, size_t cap, size_t *len, const uint8_t *in, size_t n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out + *len;
    z.avail_out = (uInt)(cap - *len);
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *len = cap - z.avail_out;
    deflateEnd(&z);
}

static void check_reviews(const ImdbData *d, uint8_t param) {
    for (int i = 0; i < d->n; i++) {
        if (d->len[i] < 1 || (d->label[i] != 0 && d->label[i] != 1) || d->text[i][d->len[i]])
            abort();
        if (d->src[i] != i) abort();
    }
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)(d->n + 1));
    if (!rows) abort();
    int k = imdb_rows_min_len(d, param % 64, rows);
    if (k < 0 || k > d->n || k != imdb_rows_min_len(d, param % 64, NULL)) abort();
    for (int i = 0; i < k; i++)
        if (d->len[rows[i]] < param % 64 || (i > 0 && rows[i] <= rows[i - 1])) abort();
    free(rows);
    ImdbData j;
    Err e;
    err_clear(&e);
    Status s = imdb_join(&j, d, 1 + param % 50, param & 1, (param >> 1) % 4, &e);
    fuzz_check_err(s, &e);
    if (!s) {
        for (int i = 0; i < j.n; i++)
            if (j.len[i] != 1 + param % 50 || j.text[i][j.len[i]]) abort();
        imdb_free(&j);
    }
    EncodedSet es;
    s = encoded_from_imdb(&es, d, 2 + param % 40, &e);
    fuzz_check_err(s, &e);
    if (!s) {
        for (int i = 0; i < es.n; i++)
            if (es.len[i] < 2 || es.len[i] > es.max_len || es.ids[(size_t)i * (size_t)es.max_len] != IMDB_CLS)
                abort();
        encoded_free(&es);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const uint8_t mode = data[0], param = data[1], *pay = data + 2;
    const size_t n = size - 2, cap = 2 * n + 256;
    uint8_t *file = malloc(cap);
    if (!file) abort();
    size_t len = 0;
    if ((mode & 3) == 0) {
        memcpy(file, pay, n);
        len = n;
    } else if ((mode & 3) == 2) {
        size_t cut = (size_t)param * n / 256;
        gzip_append(file, cap, &len, pay, cut);
        gzip_append(file, cap, &len, pay + cut, n - cut);
    } else {
        gzip_append(file, cap, &len, pay, n);
        if ((mode & 3) == 3 && param < 128) len -= len < param % 16 ? len : param % 16;
        if ((mode & 3) == 3 && param >= 128)
            for (int i = 0; i < param % 4; i++) file[len++] = (uint8_t)(0x1f + 0x6c * i);
    }
    const char *path = fuzz_path(0, "fuzz.tsv.gz");
    fuzz_write(path, file, len);
    free(file);
    static const long line_max[4] = {0, 8, 64, 1024};
    ImdbData d;
    memset(&d, 0xab, sizeof d);
    Err e;
    err_clear(&e);
    Status s = imdb_load(&d, path, line_max[(mode >> 2) % 4], &e);
    fuzz_check_err(s, &e);
    if (s) {
        static const ImdbData zero;
        if (memcmp(&d, &zero, sizeof d)) abort();
    } else {
        check_reviews(&d, param);
    }
    imdb_free(&d);
    char *raw = (char *)1;
    size_t raw_len = 1;
    err_clear(&e);
    Status g = gz_read_all(path, &raw, &raw_len, &e);
    fuzz_check_err(g, &e);
    if (g ? raw != NULL || raw_len != 0 : raw[raw_len] != 0) abort();
    if (!s && g) abort(); /* imdb_load read the file, so it must be readable */
    free(raw);
    return 0;
}
