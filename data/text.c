/* text.c: the helpers the data loaders share (see text.h): reading a whole file into one
 * buffer, and quoting a found value in an error message. */
#include "data/text.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* text_read_all: see text.h */
Status text_read_all(const char *path, char **out, size_t *len, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, ST_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    size_t cap = 1 << 16;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0) {
        if ((unsigned long long)sb.st_size >= (unsigned long long)INT_MAX) {
            fclose(f);
            return err_set(e, ST_FORMAT, "%s: expected a file under 2 GiB, found %lld bytes",
                           path, (long long)sb.st_size);
        }
        cap = (size_t)sb.st_size + 1;
    }
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return err_set(e, ST_NOMEM, "%s: cannot allocate %zu bytes", path, cap);
    }
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap) { /* grow (the file is not regular or grew while reading) */
            if (cap >= (size_t)INT_MAX) {
                free(buf);
                fclose(f);
                return err_set(e, ST_FORMAT, "%s: expected a file under 2 GiB, found more",
                               path);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return err_set(e, ST_NOMEM, "%s: cannot allocate %zu bytes", path, cap * 2);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(e, ST_IO, "%s: read error: %s", path, strerror(saved));
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return ST_OK;
}
