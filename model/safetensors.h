/* safetensors.h: reading Hugging Face .safetensors files in C (no Python, no torch).
 *
 * The format (https://huggingface.co/docs/safetensors, "Format"):
 *   bytes [0, 8)          N, the header's length, an unsigned 64-bit little-endian integer
 *   bytes [8, 8 + N)      the header: a JSON object (UTF-8, possibly padded with trailing
 *                         spaces) mapping each tensor's name to
 *                           {"dtype": "F32", "shape": [768, 3072], "data_offsets": [B, E]}
 *                         plus an optional "__metadata__": an object of string values
 *                         ({"format": "pt"})
 *   bytes [8 + N, size)   the data area: tensor NAME is bytes [B, E) of it (offsets relative
 *                         to the data area's start), row-major (C order), little-endian
 * safet_open checks everything before any tensor is read, each error naming the file and the
 * tensor: the header length within the file (8 + N <= size) and at most SAFET_HEADER_MAX; the
 * header a strict JSON object (core/json.h: messages "header:LINE:COL: ..."); each entry an
 * object holding exactly dtype, shape and data_offsets; a known dtype; a shape of at most
 * SAFET_MAX_DIMS non-negative integers (no dimensions: a scalar, one element); 0 <= B <= E <=
 * the data area's size; E - B == product(shape) * the dtype's size; names without NUL
 * characters, distinct (the JSON parser refuses duplicate keys). As the format's reference
 * implementation does, the tensors must cover the data area exactly: sorted by offset, each
 * begins where the previous one ends, from 0 to the end of the file, so two tensors never
 * overlap and no byte belongs to none (an empty tensor, B == E, covers nothing and may sit
 * anywhere in [0, size of the data area]).
 * Only the header is read at open; a tensor is read with pread of its own byte range, in
 * chunks of SAFET_CHUNK bytes, when asked for: files of many GB are never loaded whole. */
#ifndef DRRL_MODEL_SAFETENSORS_H
#define DRRL_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SAFET_MAX_DIMS 8
#define SAFET_HEADER_MAX (100u * 1000u * 1000u) /* the reference implementation's limit */
#define SAFET_CHUNK (1u << 20)                  /* bytes per pread when converting */

/* the dtypes of the format with their byte sizes (BOOL, U8, I8, F8_E5M2, F8_E4M3: 1;
   I16, U16, F16, BF16: 2; I32, U32, F32: 4; I64, U64, F64: 8) */
typedef enum {
    SAFET_BOOL, SAFET_U8, SAFET_I8, SAFET_F8_E5M2, SAFET_F8_E4M3,
    SAFET_I16, SAFET_U16, SAFET_F16, SAFET_BF16,
    SAFET_I32, SAFET_U32, SAFET_F32,
    SAFET_I64, SAFET_U64, SAFET_F64,
    SAFET_N_DTYPES
} SafetDtype;

typedef struct {
    const char *name;             /* the header's key */
    SafetDtype dtype;
    int ndim;                     /* 0 .. SAFET_MAX_DIMS */
    int64_t shape[SAFET_MAX_DIMS];
    uint64_t count;               /* elements: the product of shape (1 for a scalar) */
    uint64_t begin, end;          /* byte range in the data area */
} SafetTensor;

typedef struct Safet Safet; /* an open file: its descriptor, header and tensor table */

/* safet_open: open and validate path (see above); *f NULL on failure. ST_IO (cannot open or
 * read), ST_FORMAT (any violation of the format, naming the file and tensor), ST_NOMEM. */
Status safet_open(Safet **f, const char *path, Err *e);

/* safet_close: close the file and free everything (NULL is allowed). */
void safet_close(Safet *f);

/* safet_path: the path it was opened with. */
const char *safet_path(const Safet *f);

/* safet_count, safet_tensor: the tensors, in increasing order of their names (strcmp). */
size_t safet_count(const Safet *f);
const SafetTensor *safet_tensor(const Safet *f, size_t i);

/* safet_find: the tensor called name, or NULL (binary search). */
const SafetTensor *safet_find(const Safet *f, const char *name);

/* safet_metadata: the "__metadata__" value of key, or NULL when absent. */
const char *safet_metadata(const Safet *f, const char *key);

/* safet_dtype_name ("F32", "BF16", ...), safet_dtype_size (bytes per element). */
const char *safet_dtype_name(SafetDtype t);
size_t safet_dtype_size(SafetDtype t);

/* safet_shape_str: "[768, 3072]" ("[]" for a scalar) into buf (cap bytes, truncated). */
void safet_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap);

/* safet_read_f32: tensor t of f as n == t->count floats into out, converting from F32, F16
 * (IEEE binary16: subnormals, infinities and NaN kept), BF16 (the upper half of a float32's
 * bits) or F64 (rounded to nearest; beyond float's range: infinity). ST_SHAPE naming the
 * file and tensor for another dtype or n != t->count; ST_IO for a failed read. Values are
 * converted as stored: infinities and NaN pass through (the caller decides). */
Status safet_read_f32(const Safet *f, const SafetTensor *t, float *out, size_t n, Err *e);

/* safet_read_raw: tensor t's bytes as stored (little-endian) into out (bytes == t->end -
 * t->begin, else ST_SHAPE). */
Status safet_read_raw(const Safet *f, const SafetTensor *t, void *out, size_t bytes, Err *e);

#endif
