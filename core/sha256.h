/* sha256.h: SHA-256 (FIPS 180-4), streaming and whole-file, for checking that data files
 * are the ones their READMEs pin. */
#ifndef DRRL_CORE_SHA256_H
#define DRRL_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct {
    uint32_t h[8];     /* chaining state H0..H7 */
    uint64_t nbytes;   /* message length so far, in bytes */
    uint8_t buf[64];   /* pending partial block */
    size_t nbuf;       /* bytes used in buf (0..63) */
} Sha256;

/* sha256_init: start a new digest. */
void sha256_init(Sha256 *s);
/* sha256_update: absorb n bytes (data may be NULL when n == 0). */
void sha256_update(Sha256 *s, const void *data, size_t n);
/* sha256_final: pad, write the 32-byte digest to out; s must be re-initialised to reuse. */
void sha256_final(Sha256 *s, uint8_t out[32]);
/* sha256_hex: 64 lower-case hex digits and a NUL. */
void sha256_hex(const uint8_t d[32], char hex[65]);
/* sha256_file: digest of a whole file (read in 64 KiB blocks) as lower-case hex.
 * Errors (ST_IO) name the file: "PATH: cannot open: <strerror>", "PATH: read error: ...". */
Status sha256_file(const char *path, char hex[65], Err *e);

#endif
