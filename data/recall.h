/* recall.h: a synthetic associative-recall classification task whose inputs of one fixed
 * length hold different numbers of key-value pairs (issue 14, item 4), generated in memory
 * from a seed: the workload where the attention rank an input needs should depend on the input.
 *
 * Deviation from Zoology's multi-query associative recall (MQAR, Arora et al. 2023, "Zoology:
 * measuring and improving recall in efficient language models"): there, every query position
 * of a sequence is answered by a language model. The frozen models here are sequence
 * classifiers ([CLS] -> pooler -> classifier, model/bert.h), so each input asks ONE query and
 * its label is the answer; what varies per input at a fixed length is the number P of distinct
 * key-value pairs that the query must be matched against. Per-position answers (true MQAR) wait
 * for a language model (issue 18).
 *
 * Tokens (vocabulary RECALL_VOCAB(c) = 4 + n_keys + n_values + n_fillers): the special ids of
 * data/imdb.h ([PAD] 0, [UNK] 1 (never produced), [CLS] 2, [SEP] 3), then
 *   key k    (0 <= k < n_keys)    -> RECALL_KEY0 + k                          = 4 + k
 *   value v  (0 <= v < n_values)  -> recall_value0(c) + v                     = 4 + n_keys + v
 *   filler f (0 <= f < n_fillers) -> recall_filler0(c) + f  = 4 + n_keys + n_values + f
 * Fillers are noise symbols that are neither keys nor values.
 *
 * A row of length N = c->length (every row has exactly N real tokens, [PAD] after them up to
 * the encoding width max_len >= N):
 *   position 0         [CLS]
 *   position 1         the query key q
 *   positions 2..N-2   the body: S = (N - 3) / 2 slots of two tokens (slot s at 2 + 2s), and
 *                      when N - 3 is odd one more filler at N - 2
 *   position N-1       [SEP]
 * P pairs (P drawn in [min_pairs, max_pairs] by pair_dist, below) sit in P slots drawn
 * uniformly without replacement among the S, each slot holding `key value`; the P keys are
 * distinct (drawn uniformly without replacement among n_keys), each value uniform among
 * n_values (values may repeat); every other body token is a uniform filler. The query q is
 * one of the P keys (uniform) and the label is the value bound to it: label = (value token) -
 * recall_value0(c), in [0, n_values): the model has n_values classes.
 *
 * The pair count P: with RECALL_PAIRS_UNIFORM uniform in [min_pairs, max_pairs] (one
 * rng_below(max - min + 1)); with RECALL_PAIRS_ZIPF Pr(P = p) = W_p / sum_q W_q over
 * p in [min_pairs, max_pairs], W_p = floor(2^30 / p) (1/p to within 1e-9 relative; one
 * rng_below(sum W), P the first p whose running sum of W exceeds it): few-pair rows common, so
 * a model learns the matching on them, and every count of a wide range still present (each
 * octave of P, [p, 2p), about equally often).
 *
 * Determinism: split s (RECALL_TRAIN, RECALL_DEV, RECALL_TEST) is drawn from its own stream
 * rng_init(seed, RECALL_STREAM0 + s) (core/rng.h), row after row, so the same seed gives the
 * same rows, the first n rows do not depend on how many are asked for, and the splits do not
 * depend on one another. index[i] = i (the row's number in its split).
 *
 * Errors for bad values are ST_CONFIG and name the field (as config keys without the
 * "data.recall." prefix, which the caller adds) with expected vs found. */
#ifndef DRRL_DATA_RECALL_H
#define DRRL_DATA_RECALL_H

#include <stdint.h>

#include "core/err.h"
#include "data/encode.h"

enum { RECALL_TRAIN = 0, RECALL_DEV = 1, RECALL_TEST = 2 };
#define RECALL_KEY0 4                /* id of key 0 (after the four special ids) */
#define RECALL_STREAM0 0x7265636cULL /* "recl": stream id of split 0 */
enum { RECALL_PAIRS_UNIFORM = 0, RECALL_PAIRS_ZIPF = 1 }; /* RecallConfig.pair_dist */

typedef struct {
    uint64_t seed;             /* the data seed (not the model's training seed) */
    int length;                /* N: tokens per row, [CLS] and [SEP] included (>= 5) */
    int n_keys, n_values, n_fillers;
    int min_pairs, max_pairs;  /* 1 <= min <= max <= min(n_keys, (N - 3) / 2) */
    int pair_dist;             /* RECALL_PAIRS_UNIFORM (0, the zero default) or _ZIPF */
} RecallConfig;

static inline int recall_value0(const RecallConfig *c) { return RECALL_KEY0 + c->n_keys; }
static inline int recall_filler0(const RecallConfig *c) { return recall_value0(c) + c->n_values; }
static inline int recall_vocab(const RecallConfig *c) { return recall_filler0(c) + c->n_fillers; }

/* recall_check: c's values against the rules above (ST_CONFIG naming the field). */
Status recall_check(const RecallConfig *c, Err *e);

/* recall_generate: the first n rows of split (RECALL_TRAIN, RECALL_DEV or RECALL_TEST) into out
 * (encoded_alloc'd with max_len >= c->length; encoded_free it), and when pairs is not NULL the
 * number of pairs of each row into pairs (n). ST_CONFIG for a bad c or max_len, ST_INVALID for
 * a bad split or n < 0, ST_NOMEM. */
Status recall_generate(EncodedSet *out, int32_t *pairs /* (n) or NULL */, const RecallConfig *c,
                       int split, int n, int max_len, Err *e);

/* recall_count_pairs: the pairs of a generated row, read from its tokens alone (the key tokens
 * of the body), so that a set's rows carry their own metadata. */
int recall_count_pairs(const RecallConfig *c, const int32_t *row, int len);

/* recall_vocab_text: the text that identifies c's vocabulary (its SHA-256 is the model file's
 * vocab_sha256), e.g. "drrl recall vocabulary v1: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3, 64 keys from
 * 4, 16 values from 68, 16 fillers from 84\n". Returns the length written (snprintf's). */
int recall_vocab_text(const RecallConfig *c, char *buf, int cap);

#endif
