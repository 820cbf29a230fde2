/* test_imdb.c: byte-level IMDB (data/gz.h, data/imdb.h). Fixtures written by the test (gzip
 * through zlib's gzopen "wb") with known rows: texts, lengths, labels, byte token ids,
 * truncation to max_len ending in [SEP], C1 control bytes passing through; every error with
 * its exact text (not gzip, empty, truncated at several points, corrupt data and trailer,
 * trailing garbage, bad header, bad label, missing/extra TAB, empty text, a line over the
 * limit); joining reviews; the shipped sample (data/imdb-sample); the full files in data/imdb
 * (or DRRL_IMDB_DIR) when present (row and label counts, their statistics, load time printed). */
#include "data/gz.h"
#include "data/imdb.h"
#include "tests/check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/timer.h"

static char tmpdir[] = "/tmp/drrl_imdb_XXXXXX";
static char fixtures[64][256]; /* paths written, for cleanup */
static int nfixtures = 0;

static const char *fixture_path(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    int seen = 0;
    for (int i = 0; i < nfixtures; i++) seen |= strcmp(fixtures[i], path) == 0;
    if (!seen && nfixtures < 64) memcpy(fixtures[nfixtures++], path, sizeof path);
    return path;
}

/* write_raw: len bytes (len < 0: strlen) to tmpdir/name as they are. */
static const char *write_raw(const char *name, const void *bytes, long len) {
    const char *path = fixture_path(name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fwrite(bytes, 1, len < 0 ? strlen(bytes) : (size_t)len, f);
        fclose(f);
    }
    return path;
}

/* write_gz: len bytes (len < 0: strlen) gzip'd by zlib to tmpdir/name. */
static const char *write_gz(const char *name, const void *bytes, long len) {
    const char *path = fixture_path(name);
    gzFile g = gzopen(path, "wb");
    CHECK(g != NULL, "gzopen %s failed", path);
    if (g) {
        unsigned n = (unsigned)(len < 0 ? strlen(bytes) : (size_t)len);
        CHECK(n == 0 || gzwrite(g, bytes, n) == (int)n, "gzwrite %s failed", path);
        gzclose(g);
    }
    return path;
}

/* slurp: the bytes of a file (caller frees); *n its size. */
static unsigned char *slurp(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *b = malloc(1 << 22);
    *n = f && b ? (long)fread(b, 1, 1 << 22, f) : 0;
    if (f) fclose(f);
    return b;
}

/* expect_err: imdb_load(path, line_max) fails with st and message "<path><rest>" (rest
   NULL: only the status and a cleared d are checked; a rest ending in '*' is a prefix). */
static void expect_err(const char *path, long line_max, Status st, const char *rest) {
    ImdbData d;
    Err e = {0};
    Status got = imdb_load(&d, path, line_max, &e);
    CHECK(got == st, "%s: status %s, expected %s (%s)", path, status_name(got), status_name(st),
          e.msg);
    if (rest) {
        char want[ERR_MSG_MAX];
        snprintf(want, sizeof want, "%s%s", path, rest);
        size_t wl = strlen(want);
        int prefix = wl > 0 && want[wl - 1] == '*';
        CHECK(prefix ? strncmp(e.msg, want, wl - 1) == 0 : strcmp(e.msg, want) == 0,
              "\n   got '%s'\n  want '%s'", e.msg, want);
    }
    CHECK(d.n == 0 && !d.text && !d.buf && !d.len, "%s: d not cleared", path);
    imdb_free(&d);
}

static ImdbData expect_ok(const char *path, long line_max) {
    ImdbData d;
    Err e = {0};
    Status st = imdb_load(&d, path, line_max, &e);
    CHECK(st == ST_OK, "%s: %s", path, e.msg);
    return d;
}

/* the good fixture: a C0 byte, C1 mojibake (NEL, en dash), leading/trailing spaces, a
   150-byte review, and no final newline */
static const char GOOD[] =
    "label\ttext\n"
    "0\tab c\n"
    "1\tHi\xC2\x85there \xC2\x96 ok\n"
    "1\t lead and trail \n"
    "0\tback\x08space\n"
    "0\t"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
    "89012345678901234567890123456789012345678901234567890123456789";

static void test_good(void) {
    const char *path = write_gz("good.tsv.gz", GOOD, -1);
    ImdbData d = expect_ok(path, 0);
    CHECK(d.n == 5, "rows %d, expected 5", d.n);
    if (d.n != 5) return;
    const char *texts[5] = {"ab c", "Hi\xC2\x85there \xC2\x96 ok", " lead and trail ",
                            "back\x08space", NULL};
    const int labels[5] = {0, 1, 1, 0, 0};
    for (int i = 0; i < 5; i++) {
        int want_len = texts[i] ? (int)strlen(texts[i]) : 150;
        CHECK(d.len[i] == want_len, "row %d: len %d, expected %d", i, d.len[i], want_len);
        CHECK(!texts[i] || memcmp(d.text[i], texts[i], (size_t)want_len) == 0, "row %d text", i);
        CHECK(d.text[i][d.len[i]] == '\0', "row %d: not NUL-terminated", i);
        CHECK(d.label[i] == labels[i] && d.src[i] == i, "row %d: label %d src %d", i,
              d.label[i], d.src[i]);
    }
    CHECK(d.text[4][0] == '0' && d.text[4][149] == '9', "long row bytes");
    int32_t rows[5];
    CHECK(imdb_rows_min_len(&d, 16, rows) == 2 && rows[0] == 2 && rows[1] == 4,
          "rows of >= 16 bytes");
    CHECK(imdb_rows_min_len(&d, 1, NULL) == 5, "rows of >= 1 byte");

    /* byte tokens at max_len 24: [CLS]=2, bytes + 4, [SEP]=3, [PAD]=0 */
    EncodedSet s;
    Err e = {0};
    Status st = encoded_from_imdb(&s, &d, 24, &e);
    CHECK(st == ST_OK, "encode: %s", e.msg);
    if (st == ST_OK) {
        const int32_t want0[8] = {IMDB_CLS, 'a' + 4, 'b' + 4, ' ' + 4, 'c' + 4, IMDB_SEP, 0, 0};
        CHECK(memcmp(s.ids, want0, sizeof want0) == 0, "row 0 ids");
        CHECK(IMDB_PAD == 0 && IMDB_CLS == 2 && IMDB_SEP == 3 && IMDB_VOCAB == 260, "ids");
        const int32_t *r1 = s.ids + 24; /* Hi C2 85 there ... */
        CHECK(r1[3] == 0xC2 + 4 && r1[4] == 0x85 + 4 && r1[11] == 0xC2 + 4 && r1[12] == 0x96 + 4,
              "C1 bytes: %d %d %d %d", r1[3], r1[4], r1[11], r1[12]);
        const int32_t *r3 = s.ids + 3 * 24;
        CHECK(r3[5] == 0x08 + 4, "C0 byte: %d", r3[5]);
        const int32_t *r4 = s.ids + 4 * 24; /* truncated: first 22 bytes then [SEP] */
        int keep = 1;
        for (int j = 0; j < 22; j++) keep &= r4[1 + j] == 4 + (unsigned char)d.text[4][j];
        CHECK(keep && r4[0] == IMDB_CLS && r4[23] == IMDB_SEP, "truncated row");
        const int32_t want_len[5] = {6, 17, 18, 12, 24};
        int64_t tok = 0;
        for (int i = 0; i < 5; i++) {
            CHECK(s.len[i] == want_len[i], "row %d: encoded len %d, expected %d", i, s.len[i],
                  want_len[i]);
            CHECK(s.label[i] == labels[i] && s.index[i] == i, "row %d: label/index", i);
            tok += want_len[i];
        }
        CHECK(s.n_truncated == 1 && s.n_tokens == tok, "truncated %d, tokens %lld",
              s.n_truncated, (long long)s.n_tokens);
        int32_t idx[2] = {4, 0}, ids[48], lab[2];
        uint8_t mask[48];
        CHECK(encoded_max_len(&s, idx, 2) == 24, "encoded_max_len");
        encoded_gather(&s, idx, 2, 24, ids, mask, lab);
        CHECK(ids[0] == IMDB_CLS && mask[23] == 1 && mask[24 + 5] == 1 && mask[24 + 6] == 0 &&
              lab[0] == 0, "gather");
        encoded_free(&s);
    }
    st = encoded_from_imdb(&s, &d, 1, &e);
    CHECK(st == ST_INVALID && strcmp(e.msg, "encode: max_len: expected >= 2, found 1") == 0,
          "max_len 1: %s", e.msg);
    imdb_free(&d);

    /* a final newline, and two concatenated gzip members, read the same */
    long n1 = 0, n2 = 0;
    unsigned char *a = slurp(write_gz("a.gz", "label\ttext\n0\tx\n", -1), &n1);
    unsigned char *b = slurp(write_gz("b.gz", "1\tyz\n", -1), &n2);
    memcpy(a + n1, b, (size_t)n2);
    d = expect_ok(write_raw("two.tsv.gz", a, n1 + n2), 0);
    CHECK(d.n == 2 && d.len[1] == 2 && d.label[1] == 1 && memcmp(d.text[1], "yz", 3) == 0,
          "two gzip members: %d rows", d.n);
    imdb_free(&d);
    /* trailing bytes that do not start a member */
    memcpy(a + n1, "xy", 2);
    char rest[160];
    snprintf(rest, sizeof rest, ": expected another gzip member or the end of the file at byte "
             "%ld, found 78 79", n1);
    expect_err(write_raw("trail.tsv.gz", a, n1 + 2), 0, ST_FORMAT, rest);
    free(a);
    free(b);
}

/* test_gzip_errors: the reader's messages on files that are not (whole, sound) gzip. */
static void test_gzip_errors(void) {
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.tsv.gz", tmpdir);
    expect_err(missing, 0, ST_IO, ": cannot open: No such file or directory");
    expect_err(write_raw("plain.tsv", "label\ttext\n0\tx\n", -1), 0, ST_FORMAT,
               ": expected a gzip file (magic bytes 1f 8b), found 6c 61");
    expect_err(write_raw("empty.gz", "", 0), 0, ST_FORMAT,
               ": expected a gzip file (magic bytes 1f 8b), found an empty file");
    expect_err(write_raw("one.gz", "\x1f", 1), 0, ST_FORMAT,
               ": expected a gzip file (magic bytes 1f 8b), found the single byte 1f");

    long n = 0;
    unsigned char *g = slurp(write_gz("whole.gz", GOOD, -1), &n);
    const long cuts[5] = {2, 10, n / 2, n - 8, n - 1}; /* header, data, CRC, ISIZE */
    for (int k = 0; k < 5; k++) {
        char name[32], rest[128];
        snprintf(name, sizeof name, "cut%d.tsv.gz", k);
        snprintf(rest, sizeof rest, ": truncated gzip stream (the file ends after %ld bytes, *",
                 cuts[k]);
        expect_err(write_raw(name, g, cuts[k]), 0, ST_FORMAT, rest);
    }
    unsigned char *c = malloc((size_t)n);
    memcpy(c, g, (size_t)n);
    c[10] = 0xff; /* first block header: BTYPE 11 */
    expect_err(write_raw("bad_block.gz", c, n), 0, ST_FORMAT,
               ": corrupt gzip data near compressed byte *");
    memcpy(c, g, (size_t)n);
    c[n - 8] ^= 1; /* CRC-32 */
    expect_err(write_raw("bad_crc.gz", c, n), 0, ST_FORMAT, NULL);
    {
        ImdbData d;
        Err e = {0};
        imdb_load(&d, fixture_path("bad_crc.gz"), 0, &e);
        CHECK(strstr(e.msg, "corrupt gzip data") && strstr(e.msg, "(zlib: incorrect data check)"),
              "crc: %s", e.msg);
    }
    memcpy(c, g, (size_t)n);
    c[n - 4] ^= 1; /* ISIZE */
    expect_err(write_raw("bad_len.gz", c, n), 0, ST_FORMAT, NULL);
    {
        ImdbData d;
        Err e = {0};
        imdb_load(&d, fixture_path("bad_len.gz"), 0, &e);
        CHECK(strstr(e.msg, "(zlib: incorrect length check)"), "isize: %s", e.msg);
    }
    /* gz_read_all itself: exact bytes, NUL terminated, NULs inside kept */
    char *out = NULL;
    size_t len = 0;
    Err e = {0};
    Status st = gz_read_all(write_gz("nul.gz", "a\0b\n", 4), &out, &len, &e);
    CHECK(st == ST_OK && len == 4 && memcmp(out, "a\0b\n", 5) == 0, "gz_read_all: %s", e.msg);
    free(out);
    free(c);
    free(g);
}

/* test_row_errors: malformed rows, each naming file:line with expected vs found. */
static void test_row_errors(void) {
    struct {
        const char *bytes, *rest;
    } cases[] = {
        {"sentence\tlabel\n0\tx\n",
         ":1: header: expected 'label\\ttext', found 'sentence\\tlabel'"},
        {"", ":1: header: expected 'label\\ttext', found ''"},
        {"label\ttext\n0\tok\n2\tbad\n", ":3: label: expected 0 or 1, found '2'"},
        {"label\ttext\n01\tx\n", ":2: label: expected 0 or 1, found '01'"},
        {"label\ttext\n\tx\n", ":2: label: expected 0 or 1, found ''"},
        {"label\ttext\n0 no tab here\n", ":2: expected 2 tab-separated columns (label, text), "
                                         "found 1"},
        {"label\ttext\n1\ta\tb\n", ":2: expected 2 tab-separated columns (label, text), found 3"},
        {"label\ttext\n0\tx\n\n", ":3: expected 2 tab-separated columns (label, text), found 1"},
        {"label\ttext\n0\tx\n1\t\n", ":3: text: expected a non-empty review, found ''"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "row%zu.tsv.gz", k);
        expect_err(write_gz(name, cases[k].bytes, -1), 0, ST_FORMAT, cases[k].rest);
    }
    /* a caller's limit: 10 bytes per line allowed, 11 is an error naming the line */
    const char *p = write_gz("limit.tsv.gz", "label\ttext\n0\t12345678\n1\t123456789\n", -1);
    expect_err(p, 10, ST_FORMAT, ":3: expected a line of at most 10 bytes, found 11 bytes");
    ImdbData d = expect_ok(p, 11);
    CHECK(d.n == 2, "limit 11: %d rows", d.n);
    imdb_free(&d);
    /* the default hard limit (1 MiB): a line of exactly 1 MiB loads, one byte more fails */
    size_t big = (size_t)IMDB_LINE_MAX + 1;
    char *b = malloc(11 + big + 1);
    memcpy(b, "label\ttext\n1\t", 13);
    memset(b + 13, 'a', big - 2);
    b[11 + big] = '\n';
    expect_err(write_gz("huge.tsv.gz", b, (long)(12 + big)), 0, ST_FORMAT,
               ":2: expected a line of at most 1048576 bytes, found 1048577 bytes");
    b[11 + big - 1] = '\n';
    d = expect_ok(write_gz("max.tsv.gz", b, (long)(11 + big)), 0);
    CHECK(d.n == 1 && d.len[0] == IMDB_LINE_MAX - 2, "1 MiB line: len %d", d.n ? d.len[0] : -1);
    imdb_free(&d);
    free(b);
}

static void test_join(void) {
    const char *p = write_gz("join.tsv.gz",
                             "label\ttext\n0\taaaa\n1\tbbb\n0\tcc\n1\tdddddd\n0\te\n", -1);
    ImdbData d = expect_ok(p, 0), j;
    Err e = {0};
    struct {
        int same, max_rows, n;
        const char *text[2];
        int label[2], src[2];
    } cases[] = {
        {0, 0, 2, {"aaaa b", "cc ddd"}, {0, 0}, {0, 2}},
        {1, 0, 2, {"aaaa c", "bbb dd"}, {0, 1}, {0, 1}},
        {0, 1, 1, {"aaaa b", NULL}, {0, 0}, {0, 0}},
    };
    for (int k = 0; k < 3; k++) {
        Status st = imdb_join(&j, &d, 6, cases[k].same, cases[k].max_rows, &e);
        CHECK(st == ST_OK && j.n == cases[k].n, "join %d: %d rows (%s)", k, j.n, e.msg);
        for (int r = 0; r < j.n && r < cases[k].n; r++)
            CHECK(j.len[r] == 6 && strcmp(j.text[r], cases[k].text[r]) == 0 &&
                  j.label[r] == cases[k].label[r] && j.src[r] == cases[k].src[r],
                  "join %d row %d: '%s' label %d src %d", k, r, j.text[r], j.label[r], j.src[r]);
        imdb_free(&j);
    }
    CHECK(imdb_join(&j, &d, 0, 0, 0, &e) == ST_INVALID, "target 0");
    imdb_free(&d);
    /* only the separator fits: the row ends with it and the next review waits */
    d = expect_ok(write_gz("join2.tsv.gz", "label\ttext\n0\tabcde\n0\txyz\n0\tuvwxyz\n", -1), 0);
    CHECK(imdb_join(&j, &d, 6, 1, 0, &e) == ST_OK && j.n == 2 &&
          strcmp(j.text[0], "abcde ") == 0 && strcmp(j.text[1], "xyz uv") == 0 && j.src[1] == 1,
          "separator-only join: %d rows", j.n);
    imdb_free(&j);
    imdb_free(&d);
}

/* test_sample: data/imdb-sample, the first 200 rows of each shared file. */
static void test_sample(const char *root) {
    const char *splits[2] = {"train", "test"};
    const int long_rows[2] = {4, 2};
    for (int s = 0; s < 2; s++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/data/imdb-sample/%s.tsv.gz", root, splits[s]);
        ImdbData d = expect_ok(path, 0);
        int pos = 0, order = 1, c1 = 0;
        for (int i = 0; i < d.n; i++) {
            pos += d.label[i];
            order &= d.label[i] == i % 2;
            const unsigned char *t = (const unsigned char *)d.text[i];
            for (int k = 0; k + 1 < d.len[i]; k++)
                if (t[k] == 0xC2 && t[k + 1] >= 0x80 && t[k + 1] <= 0x9F) {
                    c1++;
                    break;
                }
        }
        CHECK(d.n == 200 && pos == 100 && order, "%s: %d rows, %d pos", path, d.n, pos);
        CHECK(c1 >= 1, "%s: no text with C1 bytes", path);
        CHECK(imdb_rows_min_len(&d, 4096, NULL) == long_rows[s], "%s: rows >= 4096", path);
        ImdbData j;
        EncodedSet es;
        Err e = {0};
        CHECK(imdb_join(&j, &d, 4094, 1, 0, &e) == ST_OK && j.n >= 10, "join sample: %s", e.msg);
        CHECK(encoded_from_imdb(&es, &j, 4096, &e) == ST_OK && es.n_truncated == 0 &&
              es.n_tokens == (int64_t)4096 * j.n, "encode joined sample: %s", e.msg);
        printf("%s sample: %d rows, %d joined rows of 4094 bytes\n", splits[s], d.n, j.n);
        encoded_free(&es);
        imdb_free(&j);
        imdb_free(&d);
    }
}

static void test_full(const char *root) {
    const char *dir = getenv("DRRL_IMDB_DIR");
    char base[4200], path[4300];
    if (dir) snprintf(base, sizeof base, "%s", dir);
    else snprintf(base, sizeof base, "%s/data/imdb", root);
    const char *splits[2] = {"train", "test"};
    const int mins[2] = {52, 32}, maxs[2] = {13604, 12730}, ge4096[2] = {694, 631};
    const int64_t total[2] = {32623473, 31850295};
    const int joined[2] = {1878, 1834}; /* same-label rows of 16382 bytes */
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s.tsv.gz", base, splits[s]);
        if (access(path, R_OK) != 0) {
            printf("note: %s not found: full-file checks skipped (data/README.md)\n", path);
            continue;
        }
        double t0 = time_now();
        ImdbData d = expect_ok(path, 0);
        double t1 = time_now();
        int pos = 0, mn = 1 << 30, mx = 0;
        int64_t sum = 0;
        for (int i = 0; i < d.n; i++) {
            pos += d.label[i];
            mn = d.len[i] < mn ? d.len[i] : mn;
            mx = d.len[i] > mx ? d.len[i] : mx;
            sum += d.len[i];
        }
        CHECK(d.n == 25000 && pos == 12500, "%s: %d rows, %d pos", path, d.n, pos);
        CHECK(mn == mins[s] && mx == maxs[s] && sum == total[s], "%s: len min %d max %d sum %lld",
              path, mn, mx, (long long)sum);
        CHECK(imdb_rows_min_len(&d, 4096, NULL) == ge4096[s], "%s: rows >= 4096", path);
        EncodedSet es;
        Err e = {0};
        double t2 = time_now();
        Status st = encoded_from_imdb(&es, &d, 1024, &e);
        double t3 = time_now();
        CHECK(st == ST_OK && es.n_truncated == imdb_rows_min_len(&d, 1023, NULL),
              "encode %s: %s", path, e.msg);
        if (st == ST_OK) encoded_free(&es);
        ImdbData j;
        CHECK(imdb_join(&j, &d, 16382, 1, 0, &e) == ST_OK && j.n == joined[s], "join 16382: %d",
              j.n);
        printf("%s: %d rows (%d pos) loaded in %.3f s; encoded at 1024 in %.3f s; %d joined rows "
               "of 16382 bytes\n", path, d.n, pos, t1 - t0, t3 - t2, j.n);
        imdb_free(&j);
        if (s == 0) { /* the sample is the head of the full file */
            char sp[4200];
            snprintf(sp, sizeof sp, "%s/data/imdb-sample/train.tsv.gz", root);
            ImdbData h = expect_ok(sp, 0);
            int same = h.n == 200;
            for (int i = 0; same && i < h.n; i++)
                same = h.len[i] == d.len[i] && h.label[i] == d.label[i] &&
                       memcmp(h.text[i], d.text[i], (size_t)h.len[i]) == 0;
            CHECK(same, "sample train rows differ from the full file's first 200");
            imdb_free(&h);
        }
        imdb_free(&d);
    }
}

int main(void) {
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (!root)
        return check_skip("test_imdb", "DRRL_SOURCE_ROOT is not set (run through meson test)");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp %s failed", tmpdir);
        return check_exit("test_imdb");
    }
    test_good();
    test_gzip_errors();
    test_row_errors();
    test_join();
    test_sample(root);
    test_full(root);
    for (int i = 0; i < nfixtures; i++) unlink(fixtures[i]);
    rmdir(tmpdir);
    return check_exit("test_imdb");
}
