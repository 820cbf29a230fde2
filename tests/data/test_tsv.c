/* test_tsv.c: the GLUE TSV loader (data/tsv.h) on the shipped SST-2 files (row and label
 * counts, first/last/non-ASCII rows, duplicates kept, one text allocation) and on fixtures
 * in a temporary folder: every error message with its exact text, missing final newline,
 * CRLF, BOM, and the UTF-8 validator's edge cases. */
#include "data/tsv.h"
#include "tests/check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/drrl_tsv_XXXXXX";
static char fixtures[64][256]; /* paths written, for cleanup */
static int nfixtures = 0;

/* fixture: write len bytes (len < 0: strlen) to tmpdir/name; returns the full path. */
static const char *fixture(const char *name, const char *bytes, long len) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fwrite(bytes, 1, len < 0 ? strlen(bytes) : (size_t)len, f);
        fclose(f);
    }
    int seen = 0;
    for (int i = 0; i < nfixtures; i++) seen |= strcmp(fixtures[i], path) == 0;
    if (!seen && nfixtures < 64) memcpy(fixtures[nfixtures++], path, sizeof path);
    return path;
}

/* expect_err: loading fixture name with contents fails with status st and message
   "<path><rest>". */
static void expect_err(const char *name, const char *bytes, long len, Status st,
                       const char *rest) {
    const char *path = fixture(name, bytes, len);
    TsvData d;
    Err e = {0};
    Status got = tsv_load(&d, path, &e);
    char want[ERR_MSG_MAX];
    snprintf(want, sizeof want, "%s%s", path, rest);
    CHECK(got == st, "%s: status %s, expected %s (%s)", name, status_name(got), status_name(st),
          e.msg);
    CHECK(strcmp(e.msg, want) == 0, "%s:\n   got '%s'\n  want '%s'", name, e.msg, want);
    CHECK(d.n == 0 && !d.text && !d.label && !d.index && !d.line, "%s: d not cleared", name);
    tsv_free(&d);
}

/* expect_err_dev: expect_err for a labeled file: the header "sentence\tlabel\n", then rows;
   the load fails with ST_FORMAT. */
static void expect_err_dev(const char *name, const char *rows, const char *rest) {
    char buf[512];
    snprintf(buf, sizeof buf, "sentence\tlabel\n%s", rows);
    expect_err(name, buf, -1, ST_FORMAT, rest);
}

/* expect_ok: loading fixture name succeeds; returns the data (caller frees). */
static TsvData expect_ok(const char *name, const char *bytes, long len) {
    const char *path = fixture(name, bytes, len);
    TsvData d;
    Err e = {0};
    Status st = tsv_load(&d, path, &e);
    CHECK(st == ST_OK, "%s: %s", name, e.msg);
    return d;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* check_common: invariants of any loaded file: one text buffer in row order, stripped,
   non-empty, line numbers consecutive from 2. */
static void check_common(const TsvData *d, const char *what) {
    int contiguous = 1, stripped = 1, lines = 1, labels = 1;
    for (int i = 0; i < d->n; i++) {
        size_t l = strlen(d->text[i]);
        if (i + 1 < d->n && d->text[i + 1] != d->text[i] + l + 1) contiguous = 0;
        if (l == 0 || d->text[i][0] == ' ' || d->text[i][l - 1] == ' ') stripped = 0;
        if (d->line[i] != i + 2) lines = 0;
        if (d->labeled ? (d->label[i] != 0 && d->label[i] != 1) || d->index[i] != i
                       : d->label[i] != -1)
            labels = 0;
    }
    CHECK(contiguous, "%s: texts are not one buffer in row order", what);
    CHECK(stripped, "%s: a text is empty or has a leading/trailing space", what);
    CHECK(lines, "%s: line numbers are not 2..n+1", what);
    CHECK(labels, "%s: labels/index out of range", what);
}

/* load_shipped: loads root/data/sst2/<name>.tsv into d (the caller frees it) and checks its
   row count n and kind; when the count matches, the common invariants and, for a labeled file,
   the label counts neg/pos (for a test file, the index 0..n-1). Returns whether n matched. */
static int load_shipped(TsvData *d, const char *root, const char *name, int n, int labeled,
                        int neg, int pos) {
    char path[4096];
    Err e = {0};
    snprintf(path, sizeof path, "%s/data/sst2/%s.tsv", root, name);
    CHECK(tsv_load(d, path, &e) == ST_OK, "%s", e.msg);
    CHECK(d->n == n && d->labeled == labeled, "%s: n %d labeled %d", name, d->n, d->labeled);
    if (d->n != n) return 0;
    check_common(d, name);
    if (labeled) {
        int nneg = 0, npos = 0;
        for (int i = 0; i < d->n; i++) {
            nneg += d->label[i] == 0;
            npos += d->label[i] == 1;
        }
        CHECK(nneg == neg && npos == pos, "%s labels %d/%d", name, nneg, npos);
    } else {
        int idx_ok = 1;
        for (int i = 0; i < d->n; i++) idx_ok &= d->index[i] == i;
        CHECK(idx_ok, "%s index is not 0..%d", name, n - 1);
    }
    return 1;
}

/* test_shipped_train: first, last and non-ASCII rows; duplicates kept */
static void test_shipped_train(const char *root) {
    TsvData d;
    if (load_shipped(&d, root, "train", 67349, 1, 29780, 37569)) {
        CHECK(strcmp(d.text[0], "hide new secretions from the parental units") == 0, "'%s'",
              d.text[0]);
        CHECK(d.label[0] == 0 && d.line[0] == 2, "first row");
        CHECK(strcmp(d.text[d.n - 1], "this new jangle of noise , mayhem and stupidity must be "
                                      "a serious contender for the title .") == 0,
              "'%s'", d.text[d.n - 1]);
        CHECK(d.label[d.n - 1] == 0 && d.line[d.n - 1] == 67350 && d.index[d.n - 1] == 67348,
              "last row");
        /* line 6: non-ASCII, kept intact */
        CHECK(strcmp(d.text[4], "on the worst revenge-of-the-nerds clich\xc3\xa9s the filmmakers "
                                "could dredge up") == 0, "'%s'", d.text[4]);
        /* duplicates kept: 66,978 distinct texts; 'laughably' appears with both labels */
        char **sorted = malloc((size_t)d.n * sizeof *sorted);
        CHECK(sorted != NULL, "malloc");
        if (sorted) {
            memcpy(sorted, d.text, (size_t)d.n * sizeof *sorted);
            qsort(sorted, (size_t)d.n, sizeof *sorted, cmp_str);
            int distinct = 1;
            for (int i = 1; i < d.n; i++) distinct += strcmp(sorted[i - 1], sorted[i]) != 0;
            CHECK(distinct == 66978, "train distinct texts %d", distinct);
            free(sorted);
        }
        int laughably = 0;
        for (int i = 0; i < d.n; i++)
            if (strcmp(d.text[i], "laughably") == 0) laughably |= 1 << d.label[i];
        CHECK(laughably == 3, "'laughably' labels mask %d", laughably);
    }
    tsv_free(&d);
    CHECK(d.n == 0 && d.text == NULL, "tsv_free zeroes");
}

/* test_shipped_dev_test: dev.tsv and test.tsv: first, last and non-ASCII rows */
static void test_shipped_dev_test(const char *root) {
    TsvData d;
    if (load_shipped(&d, root, "dev", 872, 1, 428, 444)) {
        CHECK(strcmp(d.text[0], "it 's a charming and often affecting journey .") == 0, "'%s'",
              d.text[0]);
        CHECK(d.label[0] == 1, "dev first label");
        CHECK(strcmp(d.text[871], "looking aristocratic , luminous yet careworn in jane "
                                  "hamilton 's exemplary costumes , rampling gives a "
                                  "performance that could not be improved upon . '") == 0,
              "'%s'", d.text[871]);
        CHECK(d.label[871] == 1 && d.line[871] == 873, "dev last row");
        /* line 19 and 353: non-ASCII letters */
        CHECK(strcmp(d.text[17], "audrey tatou has a knack for picking roles that magnify her "
                                 "outrageous charm , and in this literate french comedy , she "
                                 "'s as morning-glory exuberant as she was in am\xc3\xa9lie .") ==
                  0, "'%s'", d.text[17]);
        CHECK(d.line[17] == 19 && d.label[17] == 1, "dev row 17");
        CHECK(strcmp(d.text[351], "( n\xc3\xa6s ) directed the stage version of elling , and gets "
                                  "fine performances from his two leads who originated the "
                                  "characters on stage .") == 0, "'%s'", d.text[351]);
    }
    tsv_free(&d);

    if (load_shipped(&d, root, "test", 1821, 0, 0, 0)) {
        CHECK(strcmp(d.text[0], "uneasy mishmash of styles and genres .") == 0, "'%s'", d.text[0]);
        CHECK(strcmp(d.text[1820], "dazzling and sugar-sweet , a blast of shallow magnificence "
                                   "that only sex , scandal , and a chorus line of dangerous "
                                   "damsels can deliver .") == 0, "'%s'", d.text[1820]);
        CHECK(d.index[1820] == 1820 && d.line[1820] == 1822, "test last row");
        CHECK(strcmp(d.text[436], "so clich\xc3\xa9" "d that , at one point , they literally "
                                  "upset an apple cart .") == 0, "'%s'", d.text[436]);
        CHECK(d.line[436] == 438, "test row 436 line");
    }
    tsv_free(&d);
}

static void test_good_fixtures(void) {
    /* quotes are ordinary characters; no final newline */
    TsvData d = expect_ok("nofinal.tsv", "sentence\tlabel\n\"quoted\" it 's `` fine '' \t1\n"
                                         "last row , no newline \t0", -1);
    CHECK(d.n == 2, "nofinal n %d", d.n);
    if (d.n == 2) {
        CHECK(strcmp(d.text[0], "\"quoted\" it 's `` fine ''") == 0, "'%s'", d.text[0]);
        CHECK(strcmp(d.text[1], "last row , no newline") == 0, "'%s'", d.text[1]);
        CHECK(d.label[0] == 1 && d.label[1] == 0 && d.line[1] == 3, "nofinal labels");
    }
    tsv_free(&d);

    /* CRLF, both kinds; also a last CRLF line without final newline */
    d = expect_ok("crlf.tsv", "sentence\tlabel\r\n  a b \t1\r\nc\t0\r\nd \t1\r", -1);
    CHECK(d.n == 3 && d.labeled == 1, "crlf n %d", d.n);
    if (d.n == 3) {
        CHECK(strcmp(d.text[0], "a b") == 0 && strcmp(d.text[1], "c") == 0 &&
                  strcmp(d.text[2], "d") == 0, "crlf texts '%s' '%s' '%s'", d.text[0],
              d.text[1], d.text[2]);
        CHECK(d.label[0] == 1 && d.label[1] == 0 && d.label[2] == 1, "crlf labels");
    }
    tsv_free(&d);
    d = expect_ok("crlf_test.tsv", "index\tsentence\r\n7\t x \"y\" \r\n3\tz\r\n", -1);
    CHECK(d.n == 2 && d.labeled == 0, "crlf test n %d", d.n);
    if (d.n == 2) {
        CHECK(strcmp(d.text[0], "x \"y\"") == 0 && strcmp(d.text[1], "z") == 0, "crlf test texts");
        CHECK(d.index[0] == 7 && d.index[1] == 3 && d.label[0] == -1 && d.label[1] == -1,
              "crlf test index/label");
    }
    tsv_free(&d);

    /* header only: no rows */
    d = expect_ok("empty_rows.tsv", "index\tsentence\n", -1);
    CHECK(d.n == 0 && d.labeled == 0, "header only n %d", d.n);
    tsv_free(&d);
    d = expect_ok("empty_rows2.tsv", "sentence\tlabel", -1);
    CHECK(d.n == 0 && d.labeled == 1, "header only, no newline: n %d", d.n);
    tsv_free(&d);

    /* a UTF-8 byte-order mark before the header is tolerated */
    d = expect_ok("bom.tsv", "\xef\xbb\xbfsentence\tlabel\nx \t1\n", -1);
    CHECK(d.n == 1 && d.labeled == 1 && strcmp(d.text[0], "x") == 0, "bom");
    tsv_free(&d);

    /* valid UTF-8 at the edges of the ranges: U+0080, U+07FF, U+0800, U+D7FF, U+E000,
       U+FFFF, U+10000, U+10FFFF */
    static const char edges[] = "\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 "
                                "\xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf";
    char buf[256];
    snprintf(buf, sizeof buf, "index\tsentence\n0\t%s\n", edges);
    d = expect_ok("utf8_edges.tsv", buf, -1);
    CHECK(d.n == 1 && strcmp(d.text[0], edges) == 0, "utf8 edge code points");
    tsv_free(&d);
}

/* test_missing_file: a missing file: ST_IO, its name and the system's reason, d cleared */
static void test_missing_file(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/does-not-exist.tsv", tmpdir);
    TsvData d;
    Err e = {0};
    CHECK(tsv_load(&d, path, &e) == ST_IO, "missing file status");
    char want[ERR_MSG_MAX];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    CHECK(strcmp(e.msg, want) == 0, "got '%s'", e.msg);
    CHECK(d.n == 0 && d.text == NULL, "missing file: d cleared");
}

/* test_column_errors: rows without exactly 2 columns, and labels other than 0 or 1 */
static void test_column_errors(void) {
    /* columns */
    expect_err_dev("dev.tsv", "a \t1\nb \t0\nc \t1\nd\tx \t1\ne \t0\n",
                   ":5: expected 2 tab-separated columns, found 3");
    expect_err_dev("dev.tsv", "a \t1\nno tab here\n",
                   ":3: expected 2 tab-separated columns, found 1");
    expect_err_dev("blank.tsv", "a \t1\n\nb \t0\n",
                   ":3: expected 2 tab-separated columns, found 1");
    expect_err_dev("blank_end.tsv", "a \t1\n\n", ":3: expected 2 tab-separated columns, found 1");
    expect_err("test.tsv", "index\tsentence\n0\ta\tb\n", -1, ST_FORMAT,
               ":2: expected 2 tab-separated columns, found 3");

    /* labels */
    expect_err_dev("dev.tsv", "a \t1\nb \t0\nc \t1\nd \t0\ne \t1\nf \t2\n",
                   ":7: label: expected 0 or 1, found '2'");
    expect_err_dev("dev.tsv", "a \t\n", ":2: label: expected 0 or 1, found ''");
    expect_err_dev("dev.tsv", "a \t 1\n", ":2: label: expected 0 or 1, found ' 1'");
    expect_err_dev("dev.tsv", "a \t10\n", ":2: label: expected 0 or 1, found '10'");
    expect_err_dev("dev.tsv", "a \tpositive\n", ":2: label: expected 0 or 1, found 'positive'");
}

/* test_utf8_errors: invalid UTF-8 (overlong forms, surrogates, beyond U+10FFFF, stray and
   truncated sequences) and NUL bytes, by line and column */
static void test_utf8_errors(void) {
    /* UTF-8: byte 0xff at column 12 of line 9 */
    expect_err_dev("dev.tsv", "a \t1\nb \t0\nc \t1\nd \t0\ne \t1\nf \t0\ng \t1\nthe movies \xff"
                   "is \t1\n", ":9: expected valid UTF-8, found byte 0xff at column 12");
    static const struct {
        const char *bytes, *msg;
    } bad[] = {
        {"ab\xc0\xaf \t1\n", ":2: expected valid UTF-8, found byte 0xc0 at column 3"},  /* overlong '/' */
        {"ab\xc1\xbf \t1\n", ":2: expected valid UTF-8, found byte 0xc1 at column 3"},  /* overlong */
        {"ab\xe0\x80\xaf \t1\n", ":2: expected valid UTF-8, found byte 0xe0 at column 3"},  /* overlong 3 */
        {"ab\xe0\x9f\xbf \t1\n", ":2: expected valid UTF-8, found byte 0xe0 at column 3"},  /* U+07FF in 3 */
        {"ab\xf0\x80\x80\xaf \t1\n", ":2: expected valid UTF-8, found byte 0xf0 at column 3"},
        {"ab\xf0\x8f\xbf\xbf \t1\n", ":2: expected valid UTF-8, found byte 0xf0 at column 3"},
        {"ab\xed\xa0\x80 \t1\n", ":2: expected valid UTF-8, found byte 0xed at column 3"},  /* U+D800 */
        {"ab\xed\xbf\xbf \t1\n", ":2: expected valid UTF-8, found byte 0xed at column 3"},  /* U+DFFF */
        {"ab\xf4\x90\x80\x80 \t1\n", ":2: expected valid UTF-8, found byte 0xf4 at column 3"},  /* U+110000 */
        {"ab\xf5\x80\x80\x80 \t1\n", ":2: expected valid UTF-8, found byte 0xf5 at column 3"},
        {"ab\x80 \t1\n", ":2: expected valid UTF-8, found byte 0x80 at column 3"},  /* stray continuation */
        {"ab\xc3 \t1\n", ":2: expected valid UTF-8, found byte 0xc3 at column 3"},  /* truncated */
        {"ab\xe2\x82 \t1\n", ":2: expected valid UTF-8, found byte 0xe2 at column 3"},
        {"ab \t1\xc3", ":2: expected valid UTF-8, found byte 0xc3 at column 6"},  /* truncated at EOF */
        {"ab\xc3\xa9\xa9 \t1\n", ":2: expected valid UTF-8, found byte 0xa9 at column 5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_err_dev("utf8.tsv", bad[i].bytes, bad[i].msg);
    }
    {
        static const char nul[] = "sentence\tlabel\nab\0c \t1\n";
        expect_err("nul.tsv", nul, (long)sizeof nul - 1, ST_FORMAT,
                   ":2: expected text without NUL bytes, found byte 0x00 at column 3");
    }
}

/* test_header_errors: headers other than 'sentence\tlabel' or 'index\tsentence' (quoted,
   escaped, cut at 60 bytes on a character boundary) */
static void test_header_errors(void) {
    expect_err("x.tsv", "sentence,label\na,1\n", -1, ST_FORMAT,
               ":1: header: expected 'sentence\\tlabel' or 'index\\tsentence', "
               "found 'sentence,label'");
    expect_err("x.tsv", "label\tsentence\n1\ta\n", -1, ST_FORMAT,
               ":1: header: expected 'sentence\\tlabel' or 'index\\tsentence', "
               "found 'label\\tsentence'");
    expect_err("x.tsv", "sentence\tlabel \na \t1\n", -1, ST_FORMAT,
               ":1: header: expected 'sentence\\tlabel' or 'index\\tsentence', "
               "found 'sentence\\tlabel '");
    expect_err("x.tsv", "", 0, ST_FORMAT,
               ":1: header: expected 'sentence\\tlabel' or 'index\\tsentence', found ''");
    expect_err("x.tsv", "hide new secretions from the parental units \t0\nmore \t1\n", -1,
               ST_FORMAT,
               ":1: header: expected 'sentence\\tlabel' or 'index\\tsentence', "
               "found 'hide new secretions from the parental units \\t0'");
    expect_err("x.tsv", "01234567890123456789012345678901234567890123456789012345678\xc3\xa9xyz\n",
               -1, ST_FORMAT,
               ":1: header: expected 'sentence\\tlabel' or 'index\\tsentence', "
               "found '01234567890123456789012345678901234567890123456789012345678...'");
}

/* test_index_errors: indices that are not integers in 0..2147483647; the largest loads */
static void test_index_errors(void) {
    static const struct {
        const char *rows, *msg; /* the rows after the header "index\tsentence\n"; the message */
    } bad[] = {
        {"0\ta\n1\tb\nx\tc\n", ":4: index: expected an integer, found 'x'"},
        {"\ta\n", ":2: index: expected an integer, found ''"},
        {" 1\ta\n", ":2: index: expected an integer, found ' 1'"},
        {"1.5\ta\n", ":2: index: expected an integer, found '1.5'"},
        {"-3\ta\n", ":2: index: expected an integer from 0 to 2147483647, found '-3'"},
        {"2147483648\ta\n", ":2: index: expected an integer from 0 to 2147483647, found '2147483648'"},
    };
    char buf[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "index\tsentence\n%s", bad[i].rows);
        expect_err("test.tsv", buf, -1, ST_FORMAT, bad[i].msg);
    }
    {
        TsvData d = expect_ok("test_max.tsv", "index\tsentence\n2147483647\ta\n", -1);
        CHECK(d.n == 1 && d.index[0] == 2147483647, "max index");
        tsv_free(&d);
    }
}

/* test_empty_text_errors: empty or blank sentences */
static void test_empty_text_errors(void) {
    expect_err_dev("dev.tsv", "a \t1\n   \t0\n", ":3: expected a non-empty sentence, found '   '");
    expect_err_dev("dev.tsv", "\t0\n", ":2: expected a non-empty sentence, found ''");
    expect_err("test.tsv", "index\tsentence\n0\t\n", -1, ST_FORMAT,
               ":2: expected a non-empty sentence, found ''");
    expect_err("test.tsv", "index\tsentence\n0\ta\n1\t \r\n", -1, ST_FORMAT,
               ":3: expected a non-empty sentence, found ' '");
}

int main(void) {
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (!root) return check_skip("test_tsv", "DRRL_SOURCE_ROOT is not set (run through meson test)");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp %s failed", tmpdir);
        return check_exit("test_tsv");
    }
    test_shipped_train(root);
    test_shipped_dev_test(root);
    test_good_fixtures();
    test_missing_file();
    test_column_errors();
    test_utf8_errors();
    test_header_errors();
    test_index_errors();
    test_empty_text_errors();
    for (int i = 0; i < nfixtures; i++) unlink(fixtures[i]);
    rmdir(tmpdir);
    return check_exit("test_tsv");
}
