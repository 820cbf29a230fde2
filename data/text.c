/* text.c: the quoting of a found value in a data loader's error message (see text.h). */
#include "data/text.h"

#include <stdio.h>
#include <string.h>

/* text_show: quote-ready rendering of s[0..n): TAB as \t, other control bytes as \xNN, at most
 * TEXT_SHOW_MAX bytes (cut at a UTF-8 character boundary) followed by "..." if longer. */
void text_show(char *out, size_t cap, const char *s, size_t n) {
    size_t lim = n;
    int cut = 0;
    if (lim > TEXT_SHOW_MAX) {
        lim = TEXT_SHOW_MAX;
        while (lim > 0 && ((unsigned char)s[lim] & 0xC0) == 0x80) lim--;
        cut = 1;
    }
    size_t at = 0;
    for (size_t i = 0; i < lim && at + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t') {
            out[at++] = '\\';
            out[at++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            at += (size_t)snprintf(out + at, cap - at, "\\x%02x", c);
        } else {
            out[at++] = (char)c;
        }
    }
    if (cut && at + 4 < cap) {
        memcpy(out + at, "...", 3);
        at += 3;
    }
    out[at] = '\0';
}
