/* text.h: what the data loaders (tsv.c, imdb.c, wordpiece.c) share: the quoting of a found
 * value in an "expected ..., found '...'" message (whole files: core/file.h). */
#ifndef DRRL_DATA_TEXT_H
#define DRRL_DATA_TEXT_H

#include <stddef.h>

#include "core/err.h"

#define TEXT_SHOW_MAX 60                    /* bytes of a found value quoted before "..." */
#define TEXT_SHOW_CAP (4 * TEXT_SHOW_MAX + 8) /* a buffer text_show never overflows */

/* text_show: quote-ready rendering of s[0..n) into out (cap bytes, NUL-terminated): TAB as
 * \t, other control bytes as \xNN, at most TEXT_SHOW_MAX bytes (cut at a UTF-8 character
 * boundary) followed by "..." if longer. */
void text_show(char *out, size_t cap, const char *s, size_t n);

#endif
