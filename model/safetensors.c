/* safetensors.c: opening a .safetensors file (safetensors.h): the 8-byte header length, the
 * JSON header parsed strictly (core/json.h) into a table of tensors sorted by name, and every
 * check of the format before a tensor is read. Messages start with the file's path; those
 * about one tensor name it ("PATH: tensor 'NAME': ..."), those from the JSON parser or its
 * accessors point into the header ("header:LINE:COL: ..."). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/safetensors_internal.h"

static const struct { const char *name; size_t size; } DTYPES[SAFET_N_DTYPES] = {
    [SAFET_BOOL] = {"BOOL", 1}, [SAFET_U8] = {"U8", 1}, [SAFET_I8] = {"I8", 1},
    [SAFET_F8_E5M2] = {"F8_E5M2", 1}, [SAFET_F8_E4M3] = {"F8_E4M3", 1},
    [SAFET_I16] = {"I16", 2}, [SAFET_U16] = {"U16", 2}, [SAFET_F16] = {"F16", 2},
    [SAFET_BF16] = {"BF16", 2}, [SAFET_I32] = {"I32", 4}, [SAFET_U32] = {"U32", 4},
    [SAFET_F32] = {"F32", 4}, [SAFET_I64] = {"I64", 8}, [SAFET_U64] = {"U64", 8},
    [SAFET_F64] = {"F64", 8},
};

const char *safet_dtype_name(SafetDtype t) {
    return (unsigned)t < SAFET_N_DTYPES ? DTYPES[t].name : "?";
}
size_t safet_dtype_size(SafetDtype t) { return (unsigned)t < SAFET_N_DTYPES ? DTYPES[t].size : 0; }
const char *safet_path(const Safet *f) { return f->path; }
size_t safet_count(const Safet *f) { return f->n; }
const SafetTensor *safet_tensor(const Safet *f, size_t i) { return i < f->n ? &f->tensors[i] : NULL; }

void safet_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap) {
    size_t at = 0;
    at += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

const SafetTensor *safet_find(const Safet *f, const char *name) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (!c) return &f->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *safet_metadata(const Safet *f, const char *key) {
    const JsonValue *v = json_find(f->metadata, key);
    return v ? v->u.str.s : NULL;
}

void safet_close(Safet *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    json_free(f->header);
    free(f->tensors);
    free(f->path);
    free(f);
}

/* read_header: the 8-byte length and the header text (malloc'd into *text, *len bytes) */
static Status read_header(Safet *f, char **text, uint64_t *len, Err *e) {
    unsigned char b[8];
    if (f->size < 8)
        return err_set(e, ST_FORMAT, "%s: expected at least 8 bytes (the header's length), "
                       "found a file of %" PRIu64 " bytes", f->path, f->size);
    ssize_t r = pread(f->fd, b, 8, 0);
    if (r != 8) return err_set(e, ST_IO, "%s: reading the header's length: %s", f->path,
                               r < 0 ? strerror(errno) : "short read");
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    if (n > f->size - 8)
        return err_set(e, ST_FORMAT, "%s: header length: expected at most %" PRIu64 " (the "
                       "file's %" PRIu64 " bytes less 8), found %" PRIu64 " (not a safetensors "
                       "file, or truncated)", f->path, f->size - 8, f->size, n);
    if (n > SAFET_HEADER_MAX)
        return err_set(e, ST_FORMAT, "%s: header length: expected at most %u bytes, found %"
                       PRIu64, f->path, SAFET_HEADER_MAX, n);
    *text = malloc(n ? n : 1);
    if (!*text) return err_set(e, ST_NOMEM, "%s: out of memory (header of %" PRIu64 " bytes)",
                               f->path, n);
    for (uint64_t got = 0; got < n;) {
        r = pread(f->fd, *text + got, n - got, (off_t)(8 + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return err_set(e, ST_IO, "%s: reading the header: %s", f->path,
                                   r < 0 ? strerror(errno) : "unexpected end of file");
        got += (uint64_t)r;
    }
    *len = n;
    return ST_OK;
}

/* dtype_of: the dtype spelled s */
static Status dtype_of(const JsonDoc *d, const JsonValue *v, SafetDtype *t, Err *e) {
    const char *s;
    Status st = json_string(d, v, "dtype", &s, e);
    if (st) return st;
    for (int i = 0; i < SAFET_N_DTYPES; i++)
        if (!strcmp(s, DTYPES[i].name)) {
            *t = (SafetDtype)i;
            return ST_OK;
        }
    return err_set(e, ST_FORMAT, "%s:%d:%d: dtype: expected one of BOOL, U8, I8, F8_E5M2, "
                   "F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64, found '%.100s'",
                   json_name(d), v->line, v->col, s);
}

/* shape_of: the shape array into t (ndim, shape, count) */
static Status shape_of(const JsonDoc *d, const JsonValue *v, SafetTensor *t, Err *e) {
    Status st = json_expect(d, v, "shape", JSON_ARRAY, e);
    if (st) return st;
    if (v->u.arr.n > SAFET_MAX_DIMS)
        return err_set(e, ST_FORMAT, "%s:%d:%d: shape: expected at most %d dimensions, found "
                       "%zu", json_name(d), v->line, v->col, SAFET_MAX_DIMS, v->u.arr.n);
    t->ndim = (int)v->u.arr.n;
    t->count = 1;
    for (int i = 0; i < t->ndim; i++) {
        char what[32];
        snprintf(what, sizeof what, "shape[%d]", i);
        int64_t x;
        if ((st = json_int(d, &v->u.arr.items[i], what, 0, INT64_MAX, &x, e))) return st;
        t->shape[i] = x;
        /* the count times 8 bytes must not overflow (it is checked against the data later) */
        if (x && t->count > UINT64_MAX / 8 / (uint64_t)x)
            return err_set(e, ST_FORMAT, "%s:%d:%d: shape: expected fewer than 2^61 elements, "
                           "found more", json_name(d), v->line, v->col);
        t->count *= (uint64_t)x;
    }
    return ST_OK;
}

/* offsets_of: data_offsets [B, E] into t, 0 <= B <= E <= data area's size */
static Status offsets_of(const JsonDoc *d, const JsonValue *v, SafetTensor *t, uint64_t area,
                         Err *e) {
    Status st = json_expect(d, v, "data_offsets", JSON_ARRAY, e);
    if (st) return st;
    if (v->u.arr.n != 2)
        return err_set(e, ST_FORMAT, "%s:%d:%d: data_offsets: expected 2 integers [begin, end], "
                       "found %zu values", json_name(d), v->line, v->col, v->u.arr.n);
    int64_t b, en;
    if ((st = json_int(d, &v->u.arr.items[0], "data_offsets[0]", 0, INT64_MAX, &b, e)) ||
        (st = json_int(d, &v->u.arr.items[1], "data_offsets[1]", b, INT64_MAX, &en, e)))
        return st;
    if ((uint64_t)en > area)
        return err_set(e, ST_FORMAT, "%s:%d:%d: data_offsets: expected an end within the data "
                       "area of %" PRIu64 " bytes, found %" PRId64 " (the file is truncated or "
                       "the offsets are wrong)", json_name(d), v->line, v->col, area, en);
    t->begin = (uint64_t)b, t->end = (uint64_t)en;
    size_t sz = DTYPES[t->dtype].size;
    if (t->end - t->begin != t->count * sz) {
        char sh[256];
        safet_shape_str(t->shape, t->ndim, sh, sizeof sh);
        return err_set(e, ST_FORMAT, "%s:%d:%d: data_offsets: expected %" PRIu64 " bytes "
                       "(shape %s x %zu bytes of %s), found [%" PRIu64 ", %" PRIu64 "): %" PRIu64
                       " bytes", json_name(d), v->line, v->col, t->count * sz, sh, sz,
                       DTYPES[t->dtype].name, t->begin, t->end, t->end - t->begin);
    }
    return ST_OK;
}

/* entry: one tensor's object (exactly dtype, shape, data_offsets) into t */
static Status entry(const JsonDoc *d, const JsonValue *v, SafetTensor *t, uint64_t area,
                    Err *e) {
    Status st = json_expect(d, v, "the tensor's entry", JSON_OBJECT, e);
    for (size_t i = 0; i < v->u.obj.n && !st; i++) {
        const JsonMember *m = &v->u.obj.members[i];
        if (strcmp(m->key, "dtype") && strcmp(m->key, "shape") && strcmp(m->key, "data_offsets"))
            st = err_set(e, ST_FORMAT, "%s:%d:%d: '%.100s': expected only the keys dtype, shape "
                         "and data_offsets, found another", json_name(d), m->value.line,
                         m->value.col, m->key);
    }
    const JsonValue *dt = json_find(v, "dtype"), *sh = json_find(v, "shape"),
                    *off = json_find(v, "data_offsets");
    if (!st && (!dt || !sh || !off))
        st = err_set(e, ST_FORMAT, "%s:%d:%d: %s: expected a member of the object, found none",
                     json_name(d), v->line, v->col, !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (!st) st = dtype_of(d, dt, &t->dtype, e);
    if (!st) st = shape_of(d, sh, t, e);
    if (!st) st = offsets_of(d, off, t, area, e);
    return st;
}

/* metadata_of: "__metadata__" must be an object of strings */
static Status metadata_of(const JsonDoc *d, const JsonValue *v, Err *e) {
    Status st = json_expect(d, v, "__metadata__", JSON_OBJECT, e);
    for (size_t i = 0; i < v->u.obj.n && !st; i++) {
        const char *s;
        st = json_string(d, &v->u.obj.members[i].value, v->u.obj.members[i].key, &s, e);
    }
    return st ? err_prefix(e, "__metadata__") : ST_OK;
}

/* tensors_of: the table from the header's members (in document order; sorted later) */
static Status tensors_of(Safet *f, uint64_t area, Err *e) {
    const JsonDoc *d = f->header;
    const JsonValue *root = json_root(d);
    Status st = json_expect(d, root, "the header", JSON_OBJECT, e);
    if (st) return err_prefix(e, "%s", f->path);
    size_t n = root->u.obj.n;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) return err_set(e, ST_NOMEM, "%s: out of memory (%zu tensors)", f->path, n);
    for (size_t i = 0; i < n; i++) {
        const JsonMember *m = &root->u.obj.members[i];
        if (!strcmp(m->key, "__metadata__") && m->key_len == 12) {
            f->metadata = &m->value;
            if ((st = metadata_of(d, &m->value, e))) return err_prefix(e, "%s", f->path);
            continue;
        }
        if (strlen(m->key) != m->key_len)
            return err_set(e, ST_FORMAT, "%s: %s:%d:%d: tensor name '%s...': expected no NUL "
                           "character, found one", f->path, json_name(d), m->value.line,
                           m->value.col, m->key);
        SafetTensor *t = &f->tensors[f->n++];
        t->name = m->key;
        if ((st = entry(d, &m->value, t, area, e))) { /* a bad value is a bad file */
            err_prefix(e, "%s: tensor '%.200s'", f->path, m->key);
            st = st == ST_CONFIG ? ST_FORMAT : st;
            if (e) e->status = st;
            return st;
        }
    }
    return ST_OK;
}

static int by_offset(const void *a, const void *b) {
    const SafetTensor *x = *(const SafetTensor *const *)a, *y = *(const SafetTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const SafetTensor *)a)->name, ((const SafetTensor *)b)->name);
}

/* check_cover: the non-empty tensors, by offset, tile [0, area) exactly */
static Status check_cover(Safet *f, uint64_t area, Err *e) {
    const SafetTensor **s = malloc((f->n ? f->n : 1) * sizeof *s);
    if (!s) return err_set(e, ST_NOMEM, "%s: out of memory", f->path);
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->tensors[i].end > f->tensors[i].begin) s[k++] = &f->tensors[i];
    qsort(s, k, sizeof *s, by_offset);
    uint64_t at = 0;
    Status st = ST_OK;
    for (size_t i = 0; i < k && !st; i++) {
        if (s[i]->begin < at)
            st = err_set(e, ST_FORMAT, "%s: tensor '%.200s': data_offsets [%" PRIu64 ", %" PRIu64
                         "): expected to begin at or after the end of tensor '%.200s' [%" PRIu64
                         ", %" PRIu64 "), found an overlap", f->path, s[i]->name, s[i]->begin,
                         s[i]->end, s[i - 1]->name, s[i - 1]->begin, s[i - 1]->end);
        else if (s[i]->begin > at)
            st = err_set(e, ST_FORMAT, "%s: data area bytes [%" PRIu64 ", %" PRIu64 "): expected "
                         "to belong to a tensor (the tensors cover the data area without gaps), "
                         "found none", f->path, at, s[i]->begin);
        at = s[i]->end;
    }
    if (!st && at < area)
        st = err_set(e, ST_FORMAT, "%s: data area bytes [%" PRIu64 ", %" PRIu64 "): expected to "
                     "belong to a tensor (the tensors cover the data area without gaps), found "
                     "none", f->path, at, area);
    free(s);
    return st;
}

Status safet_open(Safet **out, const char *path, Err *e) {
    *out = NULL;
    Safet *f = calloc(1, sizeof *f);
    char *text = NULL;
    if (f) f->fd = -1, f->path = strdup(path);
    if (!f || !f->path) {
        safet_close(f);
        return err_set(e, ST_NOMEM, "%s: out of memory", path);
    }
    Status st = ST_OK;
    struct stat sb;
    if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        st = err_set(e, ST_IO, "%s: cannot open: %s", path, strerror(errno));
    else if (fstat(f->fd, &sb) != 0)
        st = err_set(e, ST_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = err_set(e, ST_IO, "%s: expected a regular file, found another kind of file", path);
    uint64_t len = 0;
    if (!st) f->size = (uint64_t)sb.st_size, st = read_header(f, &text, &len, e);
    if (!st && (st = json_parse(&f->header, text, len, "header", e))) err_prefix(e, "%s", path);
    free(text);
    f->data_start = 8 + len;
    if (!st) st = tensors_of(f, f->size - f->data_start, e);
    if (!st) st = check_cover(f, f->size - f->data_start, e);
    if (st) {
        safet_close(f);
        return st;
    }
    qsort(f->tensors, f->n, sizeof *f->tensors, by_name);
    *out = f;
    return ST_OK;
}
