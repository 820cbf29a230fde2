/* gz.c: whole-file gzip reading through zlib's inflate (see gz.h). The compressed bytes
 * stream through one fixed input buffer; the output is one buffer sized from the gzip
 * length trailer (ISIZE) when that is plausible, doubled when it fills up. */
#include "data/gz.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define GZ_IN_CHUNK ((size_t)1 << 18) /* compressed bytes read at a time */
#define GZ_HINT_RATIO 64              /* an ISIZE above 64x the file size is not trusted */

/* refill: move the unread input to the front of in and read more after it; *base is the
 * file offset of in[0]. A read error is ST_IO; end of file leaves avail_in as it was. */
static Status refill(FILE *f, unsigned char *in, z_stream *z, size_t *base, const char *path,
                     Err *e) {
    size_t keep = z->avail_in;
    *base += (size_t)(z->next_in - in);
    memmove(in, z->next_in, keep);
    size_t got = fread(in + keep, 1, GZ_IN_CHUNK - keep, f);
    if (got == 0 && ferror(f))
        return err_set(e, ST_IO, "%s: read error: %s", path, strerror(errno));
    z->next_in = in;
    z->avail_in = (uInt)(keep + got);
    return ST_OK;
}

/* size_hint: the ISIZE trailer of a regular file when plausible, else 0; the file position
 * is back at 0 afterwards. *csize = the file size (0 if unknown). */
static size_t size_hint(FILE *f, size_t *csize) {
    struct stat sb;
    *csize = 0;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 18) return 0;
    *csize = (size_t)sb.st_size;
    unsigned char t[4];
    size_t hint = 0;
    if (fseeko(f, -4, SEEK_END) == 0 && fread(t, 1, 4, f) == 4)
        hint = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
    clearerr(f);
    if (fseeko(f, 0, SEEK_SET) != 0) return 0;
    if (hint > GZ_MAX_BYTES || hint / GZ_HINT_RATIO > *csize) hint = 0;
    return hint;
}

/* grow: double the output buffer (up to GZ_MAX_BYTES + 1 bytes). */
static Status grow(char **buf, size_t *cap, const char *path, Err *e) {
    if (*cap - 1 >= GZ_MAX_BYTES)
        return err_set(e, ST_FORMAT, "%s: expected at most %zu decompressed bytes, found more",
                       path, GZ_MAX_BYTES);
    size_t nc = *cap > (GZ_MAX_BYTES + 1) / 2 ? GZ_MAX_BYTES + 1 : *cap * 2;
    char *nb = realloc(*buf, nc);
    if (!nb) return err_set(e, ST_NOMEM, "%s: cannot allocate %zu bytes", path, nc);
    *buf = nb;
    *cap = nc;
    return ST_OK;
}

Status gz_read_all(const char *path, char **out, size_t *len, Err *e) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, ST_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t csize, hint = size_hint(f, &csize);
    size_t cap = hint ? hint + 1 : (csize ? 4 * csize : (size_t)1 << 20) + 1;
    if (cap > GZ_MAX_BYTES + 1) cap = GZ_MAX_BYTES + 1;
    unsigned char *in = malloc(GZ_IN_CHUNK);
    char *buf = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    int zinit = 0;
    size_t n = 0, base = 0;
    Status st = ST_OK;
    if (!in || !buf) {
        st = err_set(e, ST_NOMEM, "%s: cannot allocate %zu bytes", path, cap + GZ_IN_CHUNK);
        goto out;
    }
    z.next_in = in;
    if ((st = refill(f, in, &z, &base, path, e))) goto out;
    if (z.avail_in < 2 || in[0] != 0x1f || in[1] != 0x8b) {
        if (z.avail_in == 0)
            st = err_set(e, ST_FORMAT, "%s: expected a gzip file (magic bytes 1f 8b), found an "
                         "empty file", path);
        else if (z.avail_in == 1)
            st = err_set(e, ST_FORMAT, "%s: expected a gzip file (magic bytes 1f 8b), found the "
                         "single byte %02x", path, in[0]);
        else
            st = err_set(e, ST_FORMAT, "%s: expected a gzip file (magic bytes 1f 8b), found "
                         "%02x %02x", path, in[0], in[1]);
        goto out;
    }
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) { /* 16: gzip wrapper only */
        st = err_set(e, ST_NOMEM, "%s: cannot initialise zlib", path);
        goto out;
    }
    zinit = 1;
    for (;;) {
        if (z.avail_in == 0) {
            if ((st = refill(f, in, &z, &base, path, e))) goto out;
            if (z.avail_in == 0) {
                st = err_set(e, ST_FORMAT, "%s: truncated gzip stream (the file ends after %zu "
                             "bytes, %zu bytes decompressed, before the end of the compressed "
                             "data)", path, base + (size_t)(z.next_in - in), n);
                goto out;
            }
        }
        size_t room = cap - 1 - n; /* one byte kept for the final NUL */
        z.next_out = (Bytef *)buf + n;
        z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = z.avail_out;
        int r = inflate(&z, Z_NO_FLUSH);
        n += before - z.avail_out;
        if (r == Z_STREAM_END) { /* end of a member: the file ends, or another member starts */
            if (z.avail_in < 2 && (st = refill(f, in, &z, &base, path, e))) goto out;
            if (z.avail_in == 0) break;
            if (z.avail_in < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b) {
                size_t at = base + (size_t)(z.next_in - in);
                if (z.avail_in == 1)
                    st = err_set(e, ST_FORMAT, "%s: expected another gzip member or the end of "
                                 "the file at byte %zu, found the single byte %02x", path, at,
                                 z.next_in[0]);
                else
                    st = err_set(e, ST_FORMAT, "%s: expected another gzip member or the end of "
                                 "the file at byte %zu, found %02x %02x", path, at,
                                 z.next_in[0], z.next_in[1]);
                goto out;
            }
            inflateReset(&z);
        } else if (r == Z_BUF_ERROR && z.avail_in > 0 && z.avail_out == 0) { /* output full */
            if ((st = grow(&buf, &cap, path, e))) goto out;
        } else if (r == Z_MEM_ERROR) {
            st = err_set(e, ST_NOMEM, "%s: zlib ran out of memory", path);
            goto out;
        } else if (r != Z_OK && !(r == Z_BUF_ERROR && z.avail_in == 0)) {
            st = err_set(e, ST_FORMAT, "%s: corrupt gzip data near compressed byte %zu (zlib: %s)",
                         path, base + (size_t)(z.next_in - in), z.msg ? z.msg : "error");
            goto out;
        }
    }
    if (cap - n > (n >> 3) + ((size_t)1 << 16)) { /* give back a much too large guess */
        char *nb = realloc(buf, n + 1);
        if (nb) buf = nb;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
out:
    if (zinit) inflateEnd(&z);
    free(in);
    free(buf);
    fclose(f);
    return st;
}
