/* wordpiece.h: BERT uncased WordPiece tokenizer, behaving exactly like Google BERT's
 * tokenization.py FullTokenizer with do_lower_case=True:
 *   BasicTokenizer: drop U+0000, U+FFFD and Cc/Cf characters (except \t \n \r, which are
 *   whitespace); put spaces around CJK ideographs; split on whitespace; per word lower-case
 *   (Python str.lower, final sigma included), NFD-normalise and drop Mn marks; split off every
 *   punctuation character as its own token.
 *   WordpieceTokenizer: a token longer than 100 code points is [UNK]; otherwise greedy
 *   longest-match-first pieces, continuation pieces prefixed "##"; a token with a position
 *   that no piece matches is [UNK] as a whole.
 * Invalid UTF-8 bytes in the text count as U+FFFD (which the tokenizer drops).
 * The Unicode data comes from data/unicode_tables.h (UNI_VERSION). scripts/wordpiece_ref.py is
 * an independent Python implementation used by tests/data/test_wordpiece.c.
 * Tokenizing allocates nothing; a WordPiece is not thread-safe (it holds scratch), use one
 * per thread. */
#ifndef DRRL_DATA_WORDPIECE_H
#define DRRL_DATA_WORDPIECE_H

#include <stdint.h>

#include "core/err.h"

/* longest token (in code points, after lower-casing and accent stripping) that WordPiece
 * splits; longer ones become [UNK] (BERT's max_input_chars_per_word) */
#define WORDPIECE_MAX_CHARS 100

typedef struct WordPiece WordPiece; /* opaque: vocabulary hash table, scratch */

/* wordpiece_load: read a vocabulary with one token per line (LF or CRLF; the id of a token is
 * its 0-based line index). Errors name the file and line: empty lines, duplicate tokens,
 * NUL bytes or invalid UTF-8 (ST_FORMAT); missing [PAD] [UNK] [CLS] [SEP] (ST_MISSING);
 * unreadable file (ST_IO). */
Status wordpiece_load(WordPiece **out, const char *vocab_path, Err *e);
void wordpiece_free(WordPiece *wp);

int wordpiece_vocab_size(const WordPiece *wp);
int32_t wordpiece_id(const WordPiece *wp, const char *token); /* -1 if absent */
const char *wordpiece_token(const WordPiece *wp, int32_t id); /* NULL if out of range */
int32_t wordpiece_pad(const WordPiece *wp);
int32_t wordpiece_unk(const WordPiece *wp);
int32_t wordpiece_cls(const WordPiece *wp);
int32_t wordpiece_sep(const WordPiece *wp);

/* wordpiece_tokenize: the word-piece ids of the NUL-terminated UTF-8 text (no special
 * tokens); writes up to cap ids (ids may be NULL when cap is 0) and returns the total count,
 * which may exceed cap: the caller can detect truncation. */
int wordpiece_tokenize(WordPiece *wp, const char *text, int32_t *ids, int cap);

/* wordpiece_encode: [CLS] pieces [SEP], the pieces cut so that [SEP] always fits in max_len,
 * then padded with [PAD] up to max_len; mask[i] = 1 for real tokens and 0 for padding.
 * Returns the unpadded length (2..max_len), or -1 (writing nothing) if max_len < 2. */
int wordpiece_encode(WordPiece *wp, const char *text, int32_t *ids /* (max_len) */,
                     uint8_t *mask /* (max_len) */, int max_len);

#endif
