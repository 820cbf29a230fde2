/* encode.h: a labelled text set turned into fixed-width token-id rows once, at load time:
 * [CLS] word pieces [SEP], truncated to max_len, padded with [PAD], with the real length
 * of every row so that batches can be cut to their longest member. */
#ifndef DRRL_DATA_ENCODE_H
#define DRRL_DATA_ENCODE_H

#include <stdint.h>

#include "core/err.h"
#include "data/tsv.h"
#include "data/wordpiece.h"

typedef struct {
    int n, max_len;
    int32_t *ids;    /* (n, max_len) token ids, [PAD] after the real tokens */
    int32_t *len;    /* (n) real tokens, [CLS] and [SEP] included (2 .. max_len) */
    int32_t *label;  /* (n) 0/1, or -1 (unlabelled) */
    int32_t *index;  /* (n) the TSV's index column (test split) or row number */
    int n_truncated; /* rows whose pieces did not fit in max_len */
    int64_t n_tokens; /* sum of len */
} EncodedSet;

/* encoded_alloc: s with room for n rows of max_len ids (>= 2; one allocation for all arrays,
   n_truncated and n_tokens zero), for a loader to fill. ST_INVALID, ST_NOMEM. */
Status encoded_alloc(EncodedSet *s, int n, int max_len, Err *e);

/* encoded_from_tsv: encode every row of t with wp (one allocation for all arrays). */
Status encoded_from_tsv(EncodedSet *s, const TsvData *t, WordPiece *wp, int max_len, Err *e);
void encoded_free(EncodedSet *s);

/* encoded_gather: rows idx[0..B) cut to width N (N >= their longest len) into ids (B, N),
   mask (B, N) (1 for real tokens) and labels (B) (labels may be NULL). */
void encoded_gather(const EncodedSet *s, const int32_t *idx /* (B) */, int B, int N,
                    int32_t *ids /* (B, N) */, uint8_t *mask /* (B, N) */,
                    int32_t *labels /* (B) or NULL */);

/* encoded_max_len: the longest len among rows idx[0..B). */
int encoded_max_len(const EncodedSet *s, const int32_t *idx /* (B) */, int B);

#endif
