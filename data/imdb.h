/* imdb.h: byte-level IMDB review classification (Long Range Arena "Text" setting;
 * docs/design.md section 6, issue 7): the gzip'd TSV files of data/imdb/ (docs/base.md), their
 * encoding as byte tokens for the frozen encoder, and longer inputs made by joining reviews.
 *
 * File format: gzip (data/gz.h) of UTF-8 text with LF line ends. Line 1 is the header
 * `label\ttext`; every other line is one review `L\tTEXT`, L the single byte 0 (neg) or
 * 1 (pos), exactly one TAB, TEXT non-empty. A missing final newline is tolerated; nothing
 * is stripped, CR is an ordinary byte and there is no byte-order mark. Bytes are bytes:
 * the text is not UTF-8 validated or normalised, so the stray C1 control characters of the
 * data (cp1252 mojibake such as C2 85 = U+0085 NEL, C2 96/C2 97 dashes) and the two C0
 * characters reach the model as their byte values; lines split on the byte 0x0A only.
 *
 * Lengths: a review of any length is kept whole in ImdbData (len is its full byte length,
 * for the "reviews of at least 4096 bytes" subset); encoding TRUNCATES it for the model,
 * keeping its first max_len - 2 bytes. Separately, a line (label, TAB and text, LF not
 * counted) longer than the loader's hard limit `line_max` is an ERROR naming the line: a
 * sanity check against a wrong file (default IMDB_LINE_MAX = 1 MiB; the longest IMDB line
 * is 13,606 bytes; a caller wanting strict lengths passes a smaller limit).
 *
 * Errors name the file and 1-based line with expected vs found (ST_FORMAT), e.g.
 *   train.tsv.gz:1: header: expected 'label\ttext', found 'sentence\tlabel'
 *   train.tsv.gz:7: expected 2 tab-separated columns (label, text), found 1
 *   train.tsv.gz:7: label: expected 0 or 1, found '2'
 *   train.tsv.gz:9: text: expected a non-empty review, found ''
 *   train.tsv.gz:4: expected a line of at most 1048576 bytes, found 1048600 bytes
 * plus the gzip errors of data/gz.h (cannot open, not gzip, truncated, corrupt).
 *
 * Tokens (vocabulary IMDB_VOCAB = 260, BERT-style special ids first):
 *   [PAD] 0, [UNK] 1 (never produced), [CLS] 2, [SEP] 3, byte b -> IMDB_BYTE0 + b = 4 + b.
 * A row is [CLS] bytes [SEP] [PAD]..., i.e. what encode.h's WordPiece rows look like, so the
 * model code consumes it unchanged (type ids all 0). */
#ifndef DRRL_DATA_IMDB_H
#define DRRL_DATA_IMDB_H

#include <stdint.h>

#include "core/err.h"
#include "data/encode.h"

enum { IMDB_PAD = 0, IMDB_UNK = 1, IMDB_CLS = 2, IMDB_SEP = 3, IMDB_N_SPECIAL = 4 };
#define IMDB_BYTE0 IMDB_N_SPECIAL           /* id of byte value 0 */
#define IMDB_VOCAB (256 + IMDB_N_SPECIAL)   /* 260 */
#define IMDB_LINE_MAX (1L << 20)            /* default hard limit on a line's bytes */

typedef struct {
    int n;           /* reviews (header excluded) */
    char **text;     /* (n) pointers into buf; text[i][len[i]] == 0 (a text may hold NULs) */
    int32_t *len;    /* (n) full byte length of text i, never truncated (>= 1) */
    int32_t *label;  /* (n) 0 neg, 1 pos */
    int32_t *src;    /* (n) 0-based data row in the file (its line is src + 2); for joined
                        rows, the row of the first review joined */
    char *buf;       /* the single text allocation */
} ImdbData;

/* imdb_load: read the gzip'd TSV at path. line_max <= 0 means IMDB_LINE_MAX. Texts stay in
 * the decompressed buffer (one allocation; text, len, label and src share another). On
 * failure d is left zeroed (safe to imdb_free) and nothing is leaked. */
Status imdb_load(ImdbData *d, const char *path, long line_max, Err *e);

/* imdb_free: release what imdb_load / imdb_join allocated and zero d (safe on a zeroed d). */
void imdb_free(ImdbData *d);

/* imdb_rows_min_len: the rows whose full text has at least min_bytes bytes, in order, into
 * rows (capacity d->n; may be NULL to count only); returns their count. */
int imdb_rows_min_len(const ImdbData *d, int min_bytes, int32_t *rows /* (d->n) or NULL */);

/* imdb_join: inputs of exactly target_bytes bytes made by joining consecutive reviews of in
 * with one space (0x20) between them, the last review joined cut at the target. Reviews are
 * taken in file order and each is used at most once; the label (and src) of a joined row are
 * those of its first review. same_label = 1 joins only reviews that share the first one's
 * label (the others wait for a later row), so every row's label is the label of all its
 * text; same_label = 0 joins neighbours whatever their labels. Rows start in file order of
 * their first review; a final group that cannot reach target_bytes is dropped. At most
 * max_rows rows (max_rows <= 0: as many as the data allows). Encode with max_len =
 * target_bytes + 2 to keep every byte. ST_INVALID if target_bytes < 1. */
Status imdb_join(ImdbData *out, const ImdbData *in, int target_bytes, int same_label,
                 int max_rows, Err *e);

/* imdb_stream: the reviews of in as one stream of text, in order, each followed by one LF
 * (0x0A, which no review contains) but the last, cut into consecutive rows of exactly
 * target_bytes bytes (a language model's rows: every byte of the stream is in one row but
 * for the final partial row, which is dropped). A row's label and src are those of the
 * review holding its first byte (a separator belongs to the review before it). Encode with
 * max_len = target_bytes + 2. ST_INVALID if target_bytes < 1. */
Status imdb_stream(ImdbData *out, const ImdbData *in, int target_bytes, Err *e);

/* encoded_from_imdb: byte tokens of every review of d into out (see encode.h; one
 * allocation): row i = [CLS] first min(len[i], max_len - 2) bytes [SEP], padded with [PAD]
 * to max_len; len = real tokens, label, index = src, n_truncated = reviews cut. A
 * (n, max_len) int32 table: 25,000 reviews at max_len 4096 take 410 MB. */
Status encoded_from_imdb(EncodedSet *out, const ImdbData *d, int max_len, Err *e);

#endif
