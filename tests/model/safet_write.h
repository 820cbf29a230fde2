/* safet_write.h: a .safetensors writer for tests (header-only, static): tensors are added
 * with their dtype name, shape and little-endian bytes, then written in the order added as
 * the format says (8-byte little-endian header length, JSON header padded with spaces to a
 * multiple of 8, the bytes back to back). The header is printed here, independently of the
 * reader under test (model/safetensors.h). */
#ifndef DRRL_TESTS_MODEL_SAFET_WRITE_H
#define DRRL_TESTS_MODEL_SAFET_WRITE_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SW_MAX 512

typedef struct {
    char name[256], dtype[8];
    int ndim;
    int64_t shape[4];
    unsigned char *bytes;
    size_t n;
} SwEntry;

typedef struct {
    SwEntry e[SW_MAX];
    int n;
} SafetW;

/* sw_add: one tensor (bytes copied); returns 0, or -1 when full or out of memory */
static inline int sw_add(SafetW *w, const char *name, const char *dtype, int ndim,
                         const int64_t *shape, const void *bytes, size_t n) {
    if (w->n >= SW_MAX) return -1;
    SwEntry *t = &w->e[w->n];
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->bytes = malloc(n ? n : 1);
    if (!t->bytes) return -1;
    if (n) memcpy(t->bytes, bytes, n);
    t->n = n;
    w->n++;
    return 0;
}

/* sw_add_f32: float32 values as F32 (little-endian byte by byte) */
static inline int sw_add_f32(SafetW *w, const char *name, int ndim, const int64_t *shape,
                             const float *x) {
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
    unsigned char *b = malloc(4 * count + 1);
    if (!b) return -1;
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        for (int k = 0; k < 4; k++) b[4 * i + (size_t)k] = (unsigned char)(u >> 8 * k);
    }
    int r = sw_add(w, name, "F32", ndim, shape, b, 4 * count);
    free(b);
    return r;
}

/* sw_write: the file at path; returns 0 or -1 */
static inline int sw_write(const SafetW *w, const char *path) {
    size_t cap = 64, at = 0, off = 0;
    for (int i = 0; i < w->n; i++) cap += strlen(w->e[i].name) + 160;
    char *h = malloc(cap);
    FILE *f = h ? fopen(path, "wb") : NULL;
    if (!f) {
        free(h);
        return -1;
    }
    at += (size_t)snprintf(h + at, cap - at, "{");
    for (int i = 0; i < w->n; i++) {
        const SwEntry *t = &w->e[i];
        at += (size_t)snprintf(h + at, cap - at, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                               i ? "," : "", t->name, t->dtype);
        for (int d = 0; d < t->ndim; d++)
            at += (size_t)snprintf(h + at, cap - at, "%s%" PRId64, d ? "," : "", t->shape[d]);
        at += (size_t)snprintf(h + at, cap - at, "],\"data_offsets\":[%zu,%zu]}", off, off + t->n);
        off += t->n;
    }
    at += (size_t)snprintf(h + at, cap - at, "}");
    while (at % 8) h[at++] = ' ';
    unsigned char len[8];
    for (int k = 0; k < 8; k++) len[k] = (unsigned char)((uint64_t)at >> 8 * k);
    int ok = fwrite(len, 1, 8, f) == 8 && fwrite(h, 1, at, f) == at;
    for (int i = 0; ok && i < w->n; i++) ok = fwrite(w->e[i].bytes, 1, w->e[i].n, f) == w->e[i].n;
    ok = fclose(f) == 0 && ok;
    free(h);
    return ok ? 0 : -1;
}

static inline void sw_free(SafetW *w) {
    for (int i = 0; i < w->n; i++) free(w->e[i].bytes);
    w->n = 0;
}

#endif
