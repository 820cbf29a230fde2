/* test_wordpiece.c: the BERT uncased WordPiece tokenizer (data/wordpiece.h).
 *  1. hand-worked examples: the expected pieces were looked up in the vocabulary file
 *     (grep -n '^piece$' data/vocab/bert-base-uncased-vocab.txt; id = line - 1), and each
 *     case checks both the piece -> id lookup and the ids of the text;
 *  2. encode (truncation keeps [SEP], mask, padding) and tokenize's cap / total count;
 *  3. vocabulary loading errors (file:line for empty lines and duplicates, missing specials);
 *  4. a cross-check against scripts/wordpiece_ref.py (an independent Python implementation)
 *     run through /usr/bin/python3 on every sentence of SST-2 train, dev and test, and on a
 *     generated stress text (Latin-1, Latin Extended, Greek with sigmas, Cyrillic, combining
 *     marks, CJK, Hangul, punctuation blocks, spaces, control characters, invalid UTF-8, then
 *     every BMP code point and every 13th supplementary one).
 * Also prints how long the C tokenizer takes on the whole train set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "core/timer.h"
#include "data/tsv.h"
#include "data/unicode_tables.h"
#include "data/wordpiece.h"

#define PYTHON "/usr/bin/python3"
#define MAXIDS 4096

static char src_root[2048] = ".";

/* expect: text tokenizes to the pieces in `pieces` (space-separated) whose ids are ids[] */
static void expect(WordPiece *wp, const char *what, const char *text, const char *pieces,
                   const int32_t *ids, int n) {
    /* the pieces written in the test map to the ids written in the test */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", pieces);
    int k = 0;
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save), k++) {
        CHECK(k < n, "%s: more pieces than ids", what);
        if (k < n)
            CHECK(wordpiece_id(wp, t) == ids[k], "%s: vocab id of '%s' is %d, test says %d", what,
                  t, (int)wordpiece_id(wp, t), (int)ids[k]);
    }
    CHECK(k == n, "%s: %d pieces but %d ids", what, k, n);
    int32_t got[256];
    int m = wordpiece_tokenize(wp, text, got, 256);
    int same = m == n;
    for (int i = 0; same && i < n; i++) same = got[i] == ids[i];
    if (!same) {
        char g[2048] = "";
        for (int i = 0; i < m && i < 256; i++) {
            size_t l = strlen(g);
            snprintf(g + l, sizeof g - l, "%s%s", i ? " " : "", wordpiece_token(wp, got[i]));
        }
        CHECK(same, "%s: expected [%s], got [%s]", what, pieces, g);
    }
}

#define EXPECT(wp, what, text, pieces, ...)                                      \
    do {                                                                         \
        const int32_t ids_[] = {__VA_ARGS__};                                    \
        expect(wp, what, text, pieces, ids_, (int)(sizeof ids_ / sizeof ids_[0])); \
    } while (0)

static void test_examples(WordPiece *wp) {
    CHECK(wordpiece_vocab_size(wp) == 30522, "vocab size %d", wordpiece_vocab_size(wp));
    CHECK(wordpiece_pad(wp) == 0 && wordpiece_unk(wp) == 100 && wordpiece_cls(wp) == 101 &&
              wordpiece_sep(wp) == 102,
          "specials %d %d %d %d", (int)wordpiece_pad(wp), (int)wordpiece_unk(wp),
          (int)wordpiece_cls(wp), (int)wordpiece_sep(wp));
    CHECK(wordpiece_id(wp, "the") == 1996 && wordpiece_id(wp, "##s") == 2015, "the / ##s");
    CHECK(wordpiece_id(wp, "nosuchtokenxyz") == -1, "absent token");
    CHECK(wordpiece_token(wp, 1996) && strcmp(wordpiece_token(wp, 1996), "the") == 0, "token 1996");
    CHECK(wordpiece_token(wp, -1) == NULL && wordpiece_token(wp, 30522) == NULL, "out of range");

    /* accents: lower-case, NFD, drop Mn */
    EXPECT(wp, "amelie", "Amélie", "amelie", 25285);
    EXPECT(wp, "naive cafe", "naïve café", "naive cafe", 15743, 7668);
    EXPECT(wp, "decomposed accents", "cafe\xcc\x81 A\xcc\x8a", "cafe a", 7668, 1037);
    EXPECT(wp, "angstrom sign", "\xe2\x84\xab", "a", 1037); /* U+212B lowers to U+00E5 */
    EXPECT(wp, "dotted I", "\xc4\xb0stanbul", "istanbul", 9960); /* U+0130 -> i U+0307 */
    EXPECT(wp, "sharp s", "Stra\xc3\x9f" "e", "st ##raße", 2358, 27807);
    /* punctuation: every character its own token */
    EXPECT(wp, "wow!!!", "wow!!!", "wow ! ! !", 10166, 999, 999, 999);
    EXPECT(wp, "dashes", "--", "- -", 1011, 1011);
    EXPECT(wp, "dots", "...", ". . .", 1012, 1012, 1012);
    EXPECT(wp, "it's", "it's", "it ' s", 2009, 1005, 1055);
    EXPECT(wp, "don't", "don't", "don ' t", 2123, 1005, 1056);
    EXPECT(wp, "ascii symbols", "a$b", "a $ b", 1037, 1002, 1038);
    EXPECT(wp, "unicode punct", "\xe2\x80\xa6\xc2\xabquoted\xc2\xbb", "… « quoted »", 1529,
           1077, 9339, 1090);
    /* unknown words */
    char w101[102], w100[101];
    memset(w101, 'a', 101);
    w101[101] = '\0';
    memset(w100, 'a', 100);
    w100[100] = '\0';
    EXPECT(wp, "101 chars", w101, "[UNK]", 100);
    int32_t tmp[64];
    int n100 = wordpiece_tokenize(wp, w100, tmp, 64);
    CHECK(n100 > 1 && tmp[0] != 100, "100 chars is split, not [UNK] (%d pieces)", n100);
    /* 101 code points, 202 bytes: the limit counts characters, not bytes */
    char e101[2 * 101 + 1] = "";
    for (int i = 0; i < 101; i++) strcat(e101, "\xc3\xa9");
    EXPECT(wp, "101 e-acute", e101, "[UNK]", 100);
    EXPECT(wp, "emoji", "\xf0\x9f\x98\x80", "[UNK]", 100);
    EXPECT(wp, "emoji in word", "ab\xf0\x9f\x98\x80" "cd ok", "[UNK] ok", 100, 7929);
    EXPECT(wp, "snowman", "\xe2\x98\x83", "[UNK]", 100);
    /* CJK: every ideograph its own word */
    EXPECT(wp, "chinese", "中文", "中 文", 1746, 1861);
    EXPECT(wp, "chinese in word", "ab中cd", "ab 中 cd", 11113, 1746, 3729);
    /* case */
    EXPECT(wp, "hello", "HeLLo", "hello", 7592);
    EXPECT(wp, "final sigma", "ΟΔΟΣ ΣΑΣ.", "ο ##δ ##ος σ ##α ##ς .", 1169, 29722, 15297, 1173,
           14608, 19579, 1012);
    EXPECT(wp, "sigma alone", "Σ ΑΣ ΑΣΑ", "σ α ##ς α ##σ ##α", 1173, 1155, 19579, 1155, 29733,
           14608);
    /* whitespace variety: tab, LF, CR, NBSP (Zs), ideographic space, line separator */
    EXPECT(wp, "whitespace", " \ta\nb\r\nc\xc2\xa0the\xe3\x80\x80tab\xe2\x80\xa8s  ",
           "a b c the tab s", 1037, 1038, 1039, 1996, 21628, 1055);
    /* control / format characters vanish (without splitting the word) */
    EXPECT(wp, "controls", "x\x01y ba\xe2\x80\x8bz\xc2\x85qux", "x ##y ba ##z ##qu ##x", 1060,
           2100, 8670, 2480, 28940, 2595);
    EXPECT(wp, "invalid utf-8", "abc\xff" "def\xed\xa0\x80g\xc3", "abc ##de ##f ##g", 5925,
           3207, 2546, 2290);
    /* ## continuation pieces (BERT's README shows un ##aff ##able with another vocabulary;
       this vocabulary has no ##aff, and greedy longest match takes "una") */
    EXPECT(wp, "unaffable", "unaffable", "una ##ffa ##ble", 14477, 20961, 3468);
    EXPECT(wp, "embeddings", "embeddings tokenization", "em ##bed ##ding ##s token ##ization",
           7861, 8270, 4667, 2015, 19204, 3989);
    /* nothing at all */
    CHECK(wordpiece_tokenize(wp, "", tmp, 64) == 0, "empty text");
    CHECK(wordpiece_tokenize(wp, " \t\xcc\x81\x01 ", tmp, 64) == 0, "only spaces/marks/controls");
}

static void test_encode(WordPiece *wp) {
    /* "it's a wow!!!" = it ' s a wow ! ! ! (8 pieces) */
    const char *text = "it's a wow!!!";
    int32_t ids[16];
    uint8_t mask[16];
    int32_t all[8] = {2009, 1005, 1055, 1037, 10166, 999, 999, 999};
    CHECK(wordpiece_tokenize(wp, text, NULL, 0) == 8, "count only");
    int32_t cut[3];
    CHECK(wordpiece_tokenize(wp, text, cut, 3) == 8 && cut[2] == 1055, "cap 3: total 8");

    int len = wordpiece_encode(wp, text, ids, mask, 12);
    CHECK(len == 10, "unpadded length %d", len);
    CHECK(ids[0] == 101 && ids[9] == 102, "cls/sep");
    for (int i = 0; i < 8; i++) CHECK(ids[1 + i] == all[i], "piece %d", i);
    for (int i = 0; i < 12; i++) CHECK(mask[i] == (i < 10), "mask %d", i);
    CHECK(ids[10] == 0 && ids[11] == 0, "padding");

    len = wordpiece_encode(wp, text, ids, mask, 5); /* [CLS] it ' s [SEP] */
    CHECK(len == 5 && ids[0] == 101 && ids[1] == 2009 && ids[2] == 1005 && ids[3] == 1055 &&
              ids[4] == 102,
          "truncated to 5 (len %d)", len);
    for (int i = 0; i < 5; i++) CHECK(mask[i] == 1, "truncated mask %d", i);

    len = wordpiece_encode(wp, text, ids, mask, 2);
    CHECK(len == 2 && ids[0] == 101 && ids[1] == 102 && mask[0] && mask[1], "max_len 2");
    len = wordpiece_encode(wp, text, ids, mask, 10); /* exactly fits */
    CHECK(len == 10 && ids[9] == 102 && ids[8] == 999, "exact fit");
    len = wordpiece_encode(wp, "", ids, mask, 4);
    CHECK(len == 2 && ids[1] == 102 && ids[2] == 0 && ids[3] == 0 && !mask[2], "empty text");
    CHECK(wordpiece_encode(wp, text, ids, mask, 1) == -1, "max_len 1 rejected");
}

static void write_file(const char *path, const char *content) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(content, f);
    fclose(f);
}

static void load_error(const char *dir, const char *name, const char *content, Status want,
                       const char *want_msg) {
    char path[1024], msg[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, content);
    WordPiece *wp = NULL;
    Err e;
    err_clear(&e);
    Status st = wordpiece_load(&wp, path, &e);
    snprintf(msg, sizeof msg, "%s/%s", dir, want_msg);
    CHECK(st == want && wp == NULL, "%s: status %s", name, status_name(st));
    CHECK(strcmp(e.msg, msg) == 0, "%s: message '%s', expected '%s'", name, e.msg, msg);
    unlink(path);
}

static void test_load_errors(void) {
    char dir[] = "/tmp/drrl_wp_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    const char *sp = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n";
    char buf[256];
    snprintf(buf, sizeof buf, "%sa\n\nb\n", sp);
    load_error(dir, "empty.txt", buf, ST_FORMAT,
               "empty.txt:6: expected a token, found an empty line");
    snprintf(buf, sizeof buf, "%sa\nb\nc\na\n", sp);
    load_error(dir, "dup.txt", buf, ST_FORMAT, "dup.txt:8: duplicate token 'a' (first on line 5)");
    load_error(dir, "nocls.txt", "[PAD]\n[UNK]\n[SEP]\nx\n", ST_MISSING,
               "nocls.txt: expected the special token [CLS], found none in 4 tokens");
    load_error(dir, "nothing.txt", "", ST_MISSING,
               "nothing.txt: expected the special token [PAD], found none in 0 tokens");
    snprintf(buf, sizeof buf, "%sa\xff\n", sp);
    load_error(dir, "bad.txt", buf, ST_FORMAT, "bad.txt:5: expected UTF-8 text, found invalid bytes");

    /* CRLF and a missing final newline are fine */
    char path[1024];
    snprintf(path, sizeof path, "%s/ok.txt", dir);
    write_file(path, "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s");
    WordPiece *wp = NULL;
    Err e;
    err_clear(&e);
    CHECK(wordpiece_load(&wp, path, &e) == ST_OK, "ok.txt: %s", e.msg);
    if (wp) {
        int32_t ids[8];
        int n = wordpiece_tokenize(wp, "Hellos world", ids, 8);
        CHECK(n == 3 && ids[0] == 4 && ids[1] == 5 && ids[2] == 1, "tiny vocab: n %d", n);
        CHECK(wordpiece_vocab_size(wp) == 6, "tiny size");
        wordpiece_free(wp);
    }
    unlink(path);
    snprintf(path, sizeof path, "%s/missing.txt", dir);
    wp = NULL;
    CHECK(wordpiece_load(&wp, path, &e) == ST_IO && wp == NULL, "missing file");
    CHECK(strstr(e.msg, "missing.txt: cannot open") != NULL, "missing message '%s'", e.msg);
    rmdir(dir);
}

/* ---- cross-check against the Python reference ---- */

typedef struct {
    char **text;
    int n, cap;
} Lines;

static void lines_add(Lines *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->text = realloc(l->text, (size_t)l->cap * sizeof *l->text);
    }
    l->text[l->n++] = strdup(s);
}

static void lines_free(Lines *l) {
    for (int i = 0; i < l->n; i++) free(l->text[i]);
    free(l->text);
    l->text = NULL;
    l->n = l->cap = 0;
}

/* compare: run the reference on the lines and compare ids; returns mismatches, -1 on failure */
static int compare_with_ref(WordPiece *wp, const char *vocab, const Lines *l, const char *what) {
    char in[] = "/tmp/drrl_wp_in_XXXXXX", out[] = "/tmp/drrl_wp_out_XXXXXX";
    int fi = mkstemp(in), fo = mkstemp(out);
    if (fi < 0 || fo < 0) {
        CHECK(0, "%s: mkstemp failed", what);
        return -1;
    }
    close(fo);
    FILE *f = fdopen(fi, "wb");
    for (int i = 0; i < l->n; i++) fprintf(f, "%s\n", l->text[i]);
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s '%s/scripts/wordpiece_ref.py' '%s' < '%s' > '%s'", PYTHON,
             src_root, vocab, in, out);
    int rc = system(cmd);
    CHECK(rc == 0, "%s: reference failed (%d): %s", what, rc, cmd);
    int bad = -1;
    FILE *g = fopen(out, "rb");
    if (rc == 0 && g) {
        bad = 0;
        static char line[1 << 16];
        static int32_t ids[MAXIDS];
        int i = 0;
        for (; fgets(line, sizeof line, g); i++) {
            if (i >= l->n) break;
            int n = wordpiece_tokenize(wp, l->text[i], ids, MAXIDS);
            int k = 0, same = 1;
            char *p = line, *end;
            for (;;) {
                long v = strtol(p, &end, 10);
                if (end == p) break;
                if (k >= n || ids[k] != v) same = 0;
                k++;
                p = end;
            }
            if (k != n || n > MAXIDS) same = 0;
            if (!same) {
                if (bad < 5)
                    fprintf(stderr, "%s line %d: C gives %d ids, reference %d: '%s'\n  ref: %s",
                            what, i + 1, n, k, l->text[i], line);
                bad++;
            }
        }
        CHECK(i == l->n, "%s: reference gave %d lines for %d", what, i, l->n);
    }
    if (g) fclose(g);
    unlink(in);
    unlink(out);
    CHECK(bad == 0, "%s: %d of %d sentences differ from the reference", what, bad, l->n);
    if (bad >= 0) printf("%s: %d sentences compared with the reference, %d mismatches\n", what,
                         l->n, bad);
    return bad;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)((rng_state >> 11) % n);
}

static int put_utf8(char *s, uint32_t cp) {
    if (cp < 0x80) { s[0] = (char)cp; return 1; }
    if (cp < 0x800) { s[0] = (char)(0xC0 | cp >> 6); s[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        s[0] = (char)(0xE0 | cp >> 12); s[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    s[0] = (char)(0xF0 | cp >> 18); s[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    s[2] = (char)(0x80 | (cp >> 6 & 0x3F)); s[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* one random item of the stress text, appended at s; returns bytes written (<= 16) */
static int stress_item(char *s) {
    static const uint32_t blocks[][2] = {
        {0x20, 0x7E},     {0x41, 0x5A},     {0x61, 0x7A},     {0xA0, 0xFF},
        {0x100, 0x24F},   {0x250, 0x2FF},   {0x300, 0x36F},   {0x370, 0x3FF},
        {0x3A3, 0x3A3},   {0x391, 0x3A9},   {0x400, 0x4FF},   {0x590, 0x6FF},
        {0x1E00, 0x1FFF}, {0x2000, 0x206F}, {0x2100, 0x218F}, {0x2190, 0x27FF},
        {0x3000, 0x303F}, {0x3040, 0x30FF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
        {0xF900, 0xFAFF}, {0xFB00, 0xFB4F}, {0xFE00, 0xFE6F}, {0xFF00, 0xFFEF},
        {0xFFF0, 0xFFFF}, {0x1, 0x1F},      {0x7F, 0x9F},     {0x200B, 0x200F},
        {0xFEFF, 0xFEFF}, {0x1100, 0x11FF}, {0xE000, 0xE0FF}, {0x0E00, 0x0E7F},
        {0x0900, 0x097F}, {0x302E, 0x302F}, {0x1F600, 0x1F64F}, {0x20000, 0x20100},
        {0x1D165, 0x1D172}, {0x10000, 0x1FFFF}, {0x1AB0, 0x1AFF}, {0x20D0, 0x20FF},
    };
    static const char *invalid[] = {"\x80", "\xc0\xaf", "\xc3", "\xe2\x82", "\xed\xa0\x80",
                                    "\xf4\x90\x80\x80", "\xff", "\xf0\x9f\x98", "\xe0\x80\x80",
                                    "\xfe"};
    static const char *words[] = {"the ", "ΟΔΟΣ ", "Amélie ", "NAÏVE ", "ǅemal ", "İstanbul ",
                                  "straße ", "Ὀδυσσεύς ", "МОСКВА ", "ﬁne ", "Å ", "ǈ ", " ",
                                  "\t", "\xc2\xa0", "\xe2\x80\xa8"};
    uint32_t r = rnd(100);
    if (r < 4) {
        const char *w = invalid[rnd(sizeof invalid / sizeof invalid[0])];
        size_t l = strlen(w);
        memcpy(s, w, l);
        return (int)l;
    }
    if (r < 14) {
        const char *w = words[rnd(sizeof words / sizeof words[0])];
        size_t l = strlen(w);
        memcpy(s, w, l);
        return (int)l;
    }
    if (r < 20) { s[0] = ' '; return 1; }
    int b = (int)rnd(sizeof blocks / sizeof blocks[0]);
    uint32_t cp = blocks[b][0] + rnd(blocks[b][1] - blocks[b][0] + 1);
    if (cp == '\n' || (cp >= 0xD800 && cp <= 0xDFFF)) cp = ' ';
    return put_utf8(s, cp);
}

static void stress_lines(Lines *l) {
    char line[4096];
    for (int i = 0; i < 400; i++) {
        int len = 0, items = 1 + (int)rnd(60);
        for (int k = 0; k < items; k++) len += stress_item(line + len);
        if (i % 50 == 0) /* a word of > 100 characters */
            for (int k = 0; k < 120; k++) len += put_utf8(line + len, 0xE0 + rnd(0x1F));
        line[len] = '\0';
        lines_add(l, line);
    }
    /* every code point of the BMP outside the surrogates, 64 per line, some as one word,
       some separated by spaces */
    for (uint32_t base = 1; base < 0x10000; base += 64) {
        int len = 0;
        for (uint32_t cp = base; cp < base + 64 && cp < 0x10000; cp++) {
            if (cp == '\n' || (cp >= 0xD800 && cp <= 0xDFFF)) continue;
            len += put_utf8(line + len, cp);
            if ((base / 64) % 2) line[len++] = ' ';
        }
        line[len] = '\0';
        lines_add(l, line);
    }
    /* every 13th code point of the supplementary planes, 64 per line */
    for (uint32_t base = 0x10000; base <= 0x10FFFF; base += 13 * 64) {
        int len = 0;
        for (uint32_t cp = base; cp < base + 13 * 64 && cp <= 0x10FFFF; cp += 13)
            len += put_utf8(line + len, cp);
        line[len] = '\0';
        lines_add(l, line);
    }
}

static int test_cross_check(WordPiece *wp, const char *vocab) {
    if (access(PYTHON, X_OK) != 0) {
        printf("test_wordpiece: cross-check SKIPPED: %s not found\n", PYTHON);
        return 0;
    }
    const char *splits[3] = {"train", "dev", "test"};
    for (int s = 0; s < 3; s++) {
        char path[2300];
        snprintf(path, sizeof path, "%s/data/sst2/%s.tsv", src_root, splits[s]);
        TsvData d;
        Err e;
        err_clear(&e);
        if (tsv_load(&d, path, &e) != ST_OK) {
            CHECK(0, "%s", e.msg);
            continue;
        }
        Lines l = {0};
        for (int i = 0; i < d.n; i++) lines_add(&l, d.text[i]);
        char what[64];
        snprintf(what, sizeof what, "sst2 %s", splits[s]);
        compare_with_ref(wp, vocab, &l, what);
        lines_free(&l);
        tsv_free(&d);
    }
    Lines l = {0};
    stress_lines(&l);
    compare_with_ref(wp, vocab, &l, "stress text");
    lines_free(&l);
    return 1;
}

int main(void) {
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (root) snprintf(src_root, sizeof src_root, "%s", root);
    char vocab[2300];
    snprintf(vocab, sizeof vocab, "%s/data/vocab/bert-base-uncased-vocab.txt", src_root);
    printf("test_wordpiece: Unicode %s tables (%d property ranges, %d mapped code points)\n",
           UNI_VERSION, UNI_PROP_COUNT, UNI_MAP_COUNT);
    WordPiece *wp = NULL;
    Err e;
    err_clear(&e);
    if (wordpiece_load(&wp, vocab, &e) != ST_OK) {
        CHECK(0, "%s", e.msg);
        return check_exit("test_wordpiece");
    }
    test_examples(wp);
    test_encode(wp);
    test_load_errors();
    test_cross_check(wp, vocab);
    wordpiece_free(wp);
    return check_exit("test_wordpiece");
}
