/* gz.h: read a whole gzip file into memory through zlib (the IMDB TSV files,
 * docs/design.md section 6).
 *
 * The file must be gzip: one member, or several concatenated members (as `cat a.gz b.gz`
 * makes), whose contents are joined. A file that is not gzip at all, plain text included,
 * is an error: the data files are always shipped compressed, and silently reading a plain
 * file would hide a wrong path (gzip it first: `gzip -k FILE`). Bytes after the last member
 * that do not start another member are an error too (gzip itself only warns).
 *
 * Errors name the file by the path as given, e.g.
 *   x.tsv.gz: cannot open: No such file or directory                          (ST_IO)
 *   x.tsv.gz: read error: Input/output error                                  (ST_IO)
 *   x.tsv: expected a gzip file (magic bytes 1f 8b), found 6c 61              (ST_FORMAT)
 *   x.tsv.gz: expected a gzip file (magic bytes 1f 8b), found an empty file   (ST_FORMAT)
 *   x.tsv.gz: truncated gzip stream (the file ends after 4096 bytes, 10519 bytes
 *     decompressed, before the end of the compressed data)                    (ST_FORMAT)
 *   x.tsv.gz: corrupt gzip data near compressed byte 812 (zlib: invalid block type)
 *                                                                             (ST_FORMAT)
 *   x.tsv.gz: expected another gzip member or the end of the file at byte 9120,
 *     found 00 00                                                             (ST_FORMAT)
 *   x.tsv.gz: expected at most 2147483646 decompressed bytes, found more      (ST_FORMAT)
 * A corrupt CRC-32 or length trailer is reported as corrupt data ("incorrect data check",
 * "incorrect length check"). */
#ifndef DRRL_DATA_GZ_H
#define DRRL_DATA_GZ_H

#include <stddef.h>

#include "core/err.h"

/* the largest decompressed size accepted (rows are counted in int downstream) */
#define GZ_MAX_BYTES ((size_t)2147483646)

/* gz_read_all: the decompressed contents of the gzip file at path in one fresh allocation
 * *out of *len bytes plus a terminating NUL (out[len] == 0; the contents may hold NUL bytes
 * of their own). The buffer is sized from the gzip length trailer, so a single-member file
 * is read with one allocation of the exact size; otherwise it doubles as needed. The caller
 * frees *out. On failure *out is NULL, *len 0 and nothing is leaked. */
Status gz_read_all(const char *path, char **out, size_t *len, Err *e);

#endif
