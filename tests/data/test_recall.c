/* test_recall.c: the associative-recall generator (data/recall.h). Checks, against rules
 * re-implemented here from the header's description (not the generator's code):
 * - determinism: the same seed gives identical sets (ids, lengths, labels, pair counts); another
 *   seed gives a different set; the first n rows do not depend on how many are generated;
 * - split independence: train, dev and test are different streams (no row of one is a row of
 *   another among a few thousand) and each split is the same whether or not the others were
 *   generated;
 * - the row rule: length N, [CLS] at 0, [SEP] at N-1, [PAD] after, the body's keys on even
 *   offsets each followed by a value, distinct keys, fillers elsewhere, pairs in range and
 *   equal to the metadata and to recall_count_pairs, the label = the value after the query key
 *   found by a scan of the body;
 * - the draws are uniform enough: every pair count in [min, max], every value as a label and
 *   every key as a query occur, and the mean pair count is within 4 standard errors of
 *   (min + max) / 2;
 * - pair_dist zipf: the rows keep every rule, and the count of each P among 40,000 rows is
 *   within 5 standard errors of n / (p sum_q 1/q) (the closed form, computed here in doubles);
 * - every config error's exact text (field, expected vs found). */
#include "data/recall.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const RecallConfig BASE = {.seed = 7, .length = 64, .n_keys = 32, .n_values = 16,
                                  .n_fillers = 8, .min_pairs = 2, .max_pairs = 12};

/* the label of row (len N) found from its tokens alone: scan the body's slots for the query key;
   -1 when it is absent or present twice */
static int ref_label(const RecallConfig *c, const int32_t *row) {
    const int N = c->length, v0 = RECALL_KEY0 + c->n_keys;
    int found = -1, hits = 0;
    for (int j = 2; j + 1 < N - 1; j += 2)
        if (row[j] == row[1]) hits++, found = row[j + 1] - v0;
    return hits == 1 ? found : -1;
}

/* check_row: every rule of the header on one row; returns 1 when all hold */
static int check_row(const RecallConfig *c, const int32_t *row, int max_len, int len, int label,
                     int pairs) {
    const int N = c->length, k0 = RECALL_KEY0, v0 = k0 + c->n_keys, f0 = v0 + c->n_values;
    const int f1 = f0 + c->n_fillers;
    int ok = len == N && row[0] == 2 && row[N - 1] == 3;
    for (int j = N; j < max_len; j++) ok &= row[j] == 0;
    ok &= row[1] >= k0 && row[1] < v0; /* the query is a key */
    int seen[1024] = {0}, p = 0;
    for (int j = 2; j < N - 1; j++) {
        const int t = row[j], off = j - 2;
        if (t >= k0 && t < v0) { /* a key: on a slot start, followed by a value, not repeated */
            ok &= off % 2 == 0 && j + 1 < N - 1 && row[j + 1] >= v0 && row[j + 1] < f0;
            ok &= !seen[t - k0];
            seen[t - k0] = 1;
            p++;
        } else if (t >= v0 && t < f0) { /* a value: right after a key */
            ok &= off % 2 == 1 && row[j - 1] >= k0 && row[j - 1] < v0;
        } else {
            ok &= t >= f0 && t < f1;
        }
    }
    ok &= p == pairs && p >= c->min_pairs && p <= c->max_pairs;
    ok &= recall_count_pairs(c, row, len) == pairs;
    ok &= ref_label(c, row) == label && label >= 0 && label < c->n_values;
    return ok;
}

static int sets_equal(const EncodedSet *a, const EncodedSet *b, int rows) {
    if (a->max_len != b->max_len) return 0;
    return !memcmp(a->ids, b->ids, sizeof(int32_t) * (size_t)rows * a->max_len) &&
           !memcmp(a->label, b->label, sizeof(int32_t) * (size_t)rows) &&
           !memcmp(a->len, b->len, sizeof(int32_t) * (size_t)rows);
}

static EncodedSet gen(const RecallConfig *c, int split, int n, int max_len, int32_t *pairs) {
    EncodedSet s;
    Err e = {0};
    Status st = recall_generate(&s, pairs, c, split, n, max_len, &e);
    CHECK(st == ST_OK, "recall_generate: %s", e.msg);
    return s;
}

/* rows of a and b (n each) that are identical */
static int common_rows(const EncodedSet *a, const EncodedSet *b, int n) {
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            k += !memcmp(a->ids + (size_t)i * a->max_len, b->ids + (size_t)j * b->max_len,
                         sizeof(int32_t) * (size_t)a->max_len);
    return k;
}

static void test_rules_and_draws(void) {
    const int n = 6000, W = 70; /* encoded wider than N: [PAD] after the row */
    int32_t *pairs = malloc(sizeof(int32_t) * n);
    EncodedSet s = gen(&BASE, RECALL_TRAIN, n, W, pairs);
    int bad = 0, count[64] = {0}, lab[64] = {0}, qry[64] = {0};
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
        const int32_t *row = s.ids + (size_t)i * W;
        bad += !check_row(&BASE, row, W, s.len[i], s.label[i], pairs[i]);
        bad += row[BASE.length - 2] < RECALL_KEY0 + BASE.n_keys + BASE.n_values; /* odd body */
        CHECK(s.index[i] == i, "index %d: %d", i, s.index[i]);
        count[pairs[i]]++, lab[s.label[i]]++, qry[row[1] - RECALL_KEY0]++;
        sum += pairs[i], sq += (double)pairs[i] * pairs[i];
    }
    CHECK(bad == 0, "%d of %d rows break the row rule", bad, n);
    CHECK(s.n_tokens == (int64_t)n * BASE.length, "n_tokens %lld", (long long)s.n_tokens);
    for (int p = BASE.min_pairs; p <= BASE.max_pairs; p++) CHECK(count[p] > 0, "no row of %d pairs", p);
    for (int v = 0; v < BASE.n_values; v++) CHECK(lab[v] > 0, "label %d never drawn", v);
    for (int k = 0; k < BASE.n_keys; k++) CHECK(qry[k] > 0, "key %d never queried", k);
    const double mean = sum / n, sd = sqrt(sq / n - mean * mean);
    CHECK(fabs(mean - 0.5 * (BASE.min_pairs + BASE.max_pairs)) < 4 * sd / sqrt(n),
          "mean pairs %.3f, expected %.1f", mean, 0.5 * (BASE.min_pairs + BASE.max_pairs));
    encoded_free(&s);
    free(pairs);
    /* N = 64: N - 3 = 61 body tokens, 30 slots and a filler at N - 2 (checked above); N = 65:
       an even body of 31 slots, the last one ending at N - 2 */
    RecallConfig even = BASE;
    even.length = 65;
    int32_t pr[500];
    EncodedSet o = gen(&even, RECALL_DEV, 500, 65, pr);
    int last = 0;
    bad = 0;
    for (int i = 0; i < 500; i++) {
        bad += !check_row(&even, o.ids + (size_t)i * 65, 65, o.len[i], o.label[i], pr[i]);
        last += o.ids[(size_t)i * 65 + 62] < RECALL_KEY0 + even.n_keys; /* a key in slot 30 */
    }
    CHECK(bad == 0, "even body: %d rule breaks", bad);
    CHECK(last > 0, "even body: the last slot never holds a pair");
    encoded_free(&o);
}

static void test_zipf(void) {
    RecallConfig c = BASE;
    c.length = 96, c.n_keys = 64, c.min_pairs = 2, c.max_pairs = 44, c.pair_dist = RECALL_PAIRS_ZIPF;
    const int n = 40000;
    int32_t *pairs = malloc(sizeof(int32_t) * n);
    EncodedSet s = gen(&c, RECALL_DEV, n, c.length, pairs);
    int bad = 0, count[64] = {0};
    for (int i = 0; i < n; i++) {
        bad += !check_row(&c, s.ids + (size_t)i * c.length, c.length, s.len[i], s.label[i], pairs[i]);
        count[pairs[i]]++;
    }
    CHECK(bad == 0, "zipf: %d of %d rows break the row rule", bad, n);
    double h = 0;
    for (int p = c.min_pairs; p <= c.max_pairs; p++) h += 1.0 / p;
    int off = 0;
    for (int p = c.min_pairs; p <= c.max_pairs; p++) {
        const double pr = 1.0 / (p * h), mu = n * pr, sd = sqrt(n * pr * (1 - pr));
        off += fabs(count[p] - mu) > 5 * sd;
        if (fabs(count[p] - mu) > 5 * sd) fprintf(stderr, "P=%d: %d rows, expected %.1f\n", p, count[p], mu);
    }
    CHECK(off == 0, "zipf: %d pair counts off 1/p by more than 5 standard errors", off);
    CHECK(count[2] > 4 * count[10] && count[2] < 6 * count[10], "zipf: P=2 %d vs P=10 %d rows",
          count[2], count[10]);
    encoded_free(&s);
    free(pairs);
}

static void test_determinism(void) {
    const int n = 2000;
    EncodedSet a = gen(&BASE, RECALL_TRAIN, n, BASE.length, NULL);
    EncodedSet b = gen(&BASE, RECALL_TRAIN, n, BASE.length, NULL);
    CHECK(sets_equal(&a, &b, n), "same seed: sets differ");
    EncodedSet pre = gen(&BASE, RECALL_TRAIN, 300, BASE.length, NULL);
    CHECK(sets_equal(&a, &pre, 300), "the first 300 rows depend on how many are generated");
    RecallConfig other = BASE;
    other.seed = 8;
    EncodedSet c = gen(&other, RECALL_TRAIN, n, BASE.length, NULL);
    CHECK(common_rows(&a, &c, 500) == 0, "seeds 7 and 8 share rows");
    /* splits: different streams, no shared rows, each independent of the others */
    EncodedSet dev = gen(&BASE, RECALL_DEV, n, BASE.length, NULL);
    EncodedSet test = gen(&BASE, RECALL_TEST, n, BASE.length, NULL);
    CHECK(common_rows(&a, &dev, 500) == 0, "train and dev share rows");
    CHECK(common_rows(&a, &test, 500) == 0, "train and test share rows");
    CHECK(common_rows(&dev, &test, 500) == 0, "dev and test share rows");
    EncodedSet test2 = gen(&BASE, RECALL_TEST, n, BASE.length, NULL); /* after other splits */
    CHECK(sets_equal(&test, &test2, n), "the test split depends on what was generated before");
    EncodedSet *all[] = {&a, &b, &pre, &c, &dev, &test, &test2};
    for (int i = 0; i < 7; i++) encoded_free(all[i]);
}

static void expect_err(RecallConfig c, int split, int n, int max_len, Status st, const char *msg) {
    EncodedSet s;
    Err e = {0};
    Status got = recall_generate(&s, NULL, &c, split, n, max_len, &e);
    CHECK(got == st && !strcmp(e.msg, msg), "status %s, message\n  '%s', expected\n  '%s'",
          status_name(got), e.msg, msg);
    CHECK(s.ids == NULL && s.n == 0, "failed set not zeroed");
}

static void test_errors(void) {
    RecallConfig c = BASE;
    c.length = 4;
    expect_err(c, 0, 1, 64, ST_CONFIG,
               "length: expected at least 5 tokens ([CLS], query, one pair, [SEP]), found 4");
    c = BASE, c.n_keys = 0;
    expect_err(c, 0, 1, 64, ST_CONFIG, "keys: expected at least 1, found 0");
    c = BASE, c.n_values = 1;
    expect_err(c, 0, 1, 64, ST_CONFIG, "values: expected at least 2 (the classes), found 1");
    c = BASE, c.n_fillers = 0;
    expect_err(c, 0, 1, 64, ST_CONFIG, "fillers: expected at least 1, found 0");
    c = BASE, c.pair_dist = 2;
    expect_err(c, 0, 1, 64, ST_CONFIG, "pair_dist: expected 0 (uniform) or 1 (zipf), found 2");
    c = BASE, c.min_pairs = 0;
    expect_err(c, 0, 1, 64, ST_CONFIG, "min_pairs: expected at least 1, found 0");
    c = BASE, c.max_pairs = 31; /* (64 - 3) / 2 = 30 slots */
    expect_err(c, 0, 1, 64, ST_CONFIG, "max_pairs: expected min_pairs (2) .. 30 (the smaller of "
               "keys, 32, and the (length - 3) / 2 = 30 slots of a row), found 31");
    c = BASE, c.n_keys = 8, c.max_pairs = 9;
    expect_err(c, 0, 1, 64, ST_CONFIG, "max_pairs: expected min_pairs (2) .. 8 (the smaller of "
               "keys, 8, and the (length - 3) / 2 = 30 slots of a row), found 9");
    c = BASE, c.max_pairs = 1;
    expect_err(c, 0, 1, 64, ST_CONFIG, "max_pairs: expected min_pairs (2) .. 30 (the smaller of "
               "keys, 32, and the (length - 3) / 2 = 30 slots of a row), found 1");
    expect_err(BASE, 3, 1, 64, ST_INVALID,
               "recall_generate: split: expected 0 (train), 1 (dev) or 2 (test), found 3");
    expect_err(BASE, 0, -1, 64, ST_INVALID, "recall_generate: rows: expected >= 0, found -1");
    expect_err(BASE, 0, 1, 63, ST_CONFIG, "max_len: expected at least length (64), found 63");
    /* the extremes: one pair per row, every slot a pair */
    c = BASE, c.min_pairs = c.max_pairs = 1;
    int32_t pr[50];
    EncodedSet s = gen(&c, RECALL_TEST, 50, 64, pr);
    int bad = 0;
    for (int i = 0; i < 50; i++) bad += !check_row(&c, s.ids + (size_t)i * 64, 64, s.len[i], s.label[i], pr[i]);
    encoded_free(&s);
    c = BASE, c.min_pairs = c.max_pairs = 30, c.length = 63; /* 30 slots, all pairs */
    s = gen(&c, RECALL_TEST, 50, 63, pr);
    for (int i = 0; i < 50; i++) bad += !check_row(&c, s.ids + (size_t)i * 63, 63, s.len[i], s.label[i], pr[i]);
    encoded_free(&s);
    CHECK(bad == 0, "extreme pair counts: %d rule breaks", bad);
    char text[256];
    recall_vocab_text(&BASE, text, sizeof text);
    CHECK(!strcmp(text, "drrl recall vocabulary v1: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3, 32 keys from "
                        "4, 16 values from 36, 8 fillers from 52\n"), "vocab text '%s'", text);
    CHECK(recall_vocab(&BASE) == 60, "vocab %d", recall_vocab(&BASE));
}

int main(void) {
    test_rules_and_draws();
    test_zipf();
    test_determinism();
    test_errors();
    return check_exit("test_recall");
}
