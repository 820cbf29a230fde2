/* recall.c: the associative-recall generator (see recall.h). Each row draws, in this order
 * from its split's stream: P (min + below(max - min + 1), or the Zipf draw of recall.h); the
 * P slots (the first P draws of a partial Fisher-Yates shuffle of 0..S-1); the P keys (the
 * same over 0..n_keys-1); for pair j = 0..P-1 its value below(n_values); the queried pair
 * below(P); then every body token left unfilled, left to right, a filler below(n_fillers). */
#include "data/recall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

Status recall_check(const RecallConfig *c, Err *e) {
    if (c->length < 5)
        return err_set(e, ST_CONFIG, "length: expected at least 5 tokens ([CLS], query, one "
                       "pair, [SEP]), found %d", c->length);
    if (c->n_keys < 1)
        return err_set(e, ST_CONFIG, "keys: expected at least 1, found %d", c->n_keys);
    if (c->n_values < 2)
        return err_set(e, ST_CONFIG, "values: expected at least 2 (the classes), found %d",
                       c->n_values);
    if (c->n_fillers < 1)
        return err_set(e, ST_CONFIG, "fillers: expected at least 1, found %d", c->n_fillers);
    if (c->pair_dist != RECALL_PAIRS_UNIFORM && c->pair_dist != RECALL_PAIRS_ZIPF)
        return err_set(e, ST_CONFIG, "pair_dist: expected %d (uniform) or %d (zipf), found %d",
                       RECALL_PAIRS_UNIFORM, RECALL_PAIRS_ZIPF, c->pair_dist);
    if (c->min_pairs < 1)
        return err_set(e, ST_CONFIG, "min_pairs: expected at least 1, found %d", c->min_pairs);
    const int slots = (c->length - 3) / 2;
    const int cap = slots < c->n_keys ? slots : c->n_keys;
    if (c->max_pairs < c->min_pairs || c->max_pairs > cap)
        return err_set(e, ST_CONFIG, "max_pairs: expected min_pairs (%d) .. %d (the smaller of "
                       "keys, %d, and the (length - 3) / 2 = %d slots of a row), found %d",
                       c->min_pairs, cap, c->n_keys, slots, c->max_pairs);
    return ST_OK;
}

/* partial Fisher-Yates: the first k entries of perm (n, holding any permutation of 0..n-1)
   become k distinct values drawn uniformly without replacement */
static void draw_distinct(Rng *r, int32_t *perm, int n, int k) {
    for (int i = 0; i < k; i++) {
        int j = i + (int)rng_below(r, (uint64_t)(n - i));
        int32_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

/* the pair count of a row: uniform, or Pr(p) = W_p / sum W, W_p = floor(2^30 / p) */
static int draw_pairs(Rng *r, const RecallConfig *c) {
    if (c->pair_dist == RECALL_PAIRS_UNIFORM)
        return c->min_pairs + (int)rng_below(r, (uint64_t)(c->max_pairs - c->min_pairs + 1));
    uint64_t total = 0;
    for (int p = c->min_pairs; p <= c->max_pairs; p++) total += (1ULL << 30) / (uint64_t)p;
    uint64_t u = rng_below(r, total), run = 0;
    int p = c->min_pairs;
    for (; p < c->max_pairs; p++)
        if ((run += (1ULL << 30) / (uint64_t)p) > u) break;
    return p;
}

/* one row of length N into row; returns its label; *P its pairs. slot (S) and key (n_keys)
   are scratch permutations */
static int gen_row(Rng *r, const RecallConfig *c, int32_t *row, int32_t *slot, int32_t *key,
                   int *P) {
    const int N = c->length, S = (N - 3) / 2, v0 = recall_value0(c), f0 = recall_filler0(c);
    const int p = draw_pairs(r, c);
    for (int i = 0; i < S; i++) slot[i] = i;
    for (int i = 0; i < c->n_keys; i++) key[i] = i;
    draw_distinct(r, slot, S, p);
    draw_distinct(r, key, c->n_keys, p);
    for (int j = 2; j < N - 1; j++) row[j] = -1; /* body: unfilled */
    for (int i = 0; i < p; i++) {
        const int v = (int)rng_below(r, (uint64_t)c->n_values);
        row[2 + 2 * slot[i]] = RECALL_KEY0 + key[i];
        row[3 + 2 * slot[i]] = v0 + v;
    }
    const int q = (int)rng_below(r, (uint64_t)p);
    row[0] = 2; /* [CLS] (IMDB_CLS) */
    row[1] = RECALL_KEY0 + key[q];
    const int label = row[3 + 2 * slot[q]] - v0;
    for (int j = 2; j < N - 1; j++)
        if (row[j] < 0) row[j] = f0 + (int)rng_below(r, (uint64_t)c->n_fillers);
    row[N - 1] = 3; /* [SEP] */
    *P = p;
    return label;
}

Status recall_generate(EncodedSet *out, int32_t *pairs, const RecallConfig *c, int split, int n,
                       int max_len, Err *e) {
    memset(out, 0, sizeof *out);
    Status s = recall_check(c, e);
    if (s) return s;
    if (split < RECALL_TRAIN || split > RECALL_TEST)
        return err_set(e, ST_INVALID, "recall_generate: split: expected 0 (train), 1 (dev) or 2 "
                       "(test), found %d", split);
    if (n < 0) return err_set(e, ST_INVALID, "recall_generate: rows: expected >= 0, found %d", n);
    if (max_len < c->length)
        return err_set(e, ST_CONFIG, "max_len: expected at least length (%d), found %d",
                       c->length, max_len);
    const int S = (c->length - 3) / 2;
    int32_t *scratch = malloc(sizeof(int32_t) * (size_t)(S + c->n_keys)); /* (S + n_keys) */
    if (!scratch) return err_set(e, ST_NOMEM, "recall_generate: out of memory");
    if ((s = encoded_alloc(out, n, max_len, e))) {
        free(scratch);
        return s;
    }
    Rng r;
    rng_init(&r, c->seed, RECALL_STREAM0 + (uint64_t)split);
    for (int i = 0; i < n; i++) {
        int32_t *row = out->ids + (size_t)i * max_len;
        int p;
        out->label[i] = gen_row(&r, c, row, scratch, scratch + S, &p);
        for (int j = c->length; j < max_len; j++) row[j] = 0; /* [PAD] */
        out->len[i] = c->length;
        out->index[i] = i;
        out->n_tokens += c->length;
        if (pairs) pairs[i] = p;
    }
    free(scratch);
    return ST_OK;
}

int recall_count_pairs(const RecallConfig *c, const int32_t *row, int len) {
    int k = 0;
    for (int j = 2; j < len - 1; j++) k += row[j] >= RECALL_KEY0 && row[j] < recall_value0(c);
    return k;
}

int recall_vocab_text(const RecallConfig *c, char *buf, int cap) {
    return snprintf(buf, (size_t)cap, "drrl recall vocabulary v1: [PAD]=0 [UNK]=1 [CLS]=2 "
                    "[SEP]=3, %d keys from %d, %d values from %d, %d fillers from %d\n",
                    c->n_keys, RECALL_KEY0, c->n_values, recall_value0(c), c->n_fillers,
                    recall_filler0(c));
}
