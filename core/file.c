/* file.c: a whole file in one buffer (see file.h): sized by fstat for a regular file, grown
 * by doubling otherwise (a pipe, or a file that grows while read); and atomic text files. */
#include "core/file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

Status file_read_all(const char *path, char **out, size_t *len, Err *e) {
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

Status file_atomic_open(AtomicFile *a, const char *path, Err *e) {
    a->f = NULL;
    a->tmp[0] = 0;
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path)
        return err_set(e, ST_INVALID, "%.64s...: expected a path of at most %zu bytes, found %zu",
                       path, sizeof a->path - 1, strlen(path));
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp", a->path);
    if (!(a->f = fopen(a->tmp, "w"))) {
        Status s = err_set(e, ST_IO, "%s: cannot open: %s", a->tmp, strerror(errno));
        a->tmp[0] = 0;
        return s;
    }
    return ST_OK;
}

Status file_atomic_commit(AtomicFile *a, Err *e) {
    int bad = ferror(a->f), err = errno;
    if (fclose(a->f) && !bad) bad = 1, err = errno;
    a->f = NULL;
    if (!bad && rename(a->tmp, a->path)) bad = 1, err = errno;
    if (bad) {
        remove(a->tmp);
        a->tmp[0] = 0;
        return err_set(e, ST_IO, "%s: cannot write: %s", a->path, strerror(err));
    }
    a->tmp[0] = 0;
    return ST_OK;
}

void file_atomic_abort(AtomicFile *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) remove(a->tmp);
    a->tmp[0] = 0;
}

Status file_log_reopen(FILE **f, const char *path, const char *header, long long keep, Err *e) {
    *f = NULL;
    char *old = NULL;
    size_t len = 0;
    Status s = ST_OK;
    if (keep >= 0 && (s = file_read_all(path, &old, &len, e))) {
        if (s != ST_IO) return s; /* a missing log starts anew */
        s = ST_OK;
        old = NULL;
    }
    AtomicFile a;
    if ((s = file_atomic_open(&a, path, e))) {
        free(old);
        return s;
    }
    const char *p = old, *end = old ? old + len : NULL;
    if (!p || p == end) fputs(header, a.f);
    for (int first = 1; p && p < end; first = 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        /* the header, and the rows up to keep; a row cut by a kill (no newline) is dropped */
        if (nl && (first || strtoll(p, NULL, 10) <= keep)) fwrite(p, 1, n, a.f);
        p += n;
    }
    free(old);
    if ((s = file_atomic_commit(&a, e))) return s;
    *f = fopen(path, "a");
    if (!*f) return err_set(e, ST_IO, "%s: cannot append: %s", path, strerror(errno));
    return ST_OK;
}
