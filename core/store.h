/* store.h: the HDF5 store for models, checkpoints and rollouts.
 *
 * A store file holds named tensors (datasets) in groups ("/layers/3/attn/w_q"), typed
 * attributes on any group or dataset, and text datasets (resolved configs). The root
 * carries two attributes, "format" (a string such as "drrl-model") and "format_version"
 * (an integer); opening checks both. Every read checks rank, shape and element type
 * against what the caller expects and fails with a message naming file, dataset,
 * expected and found. Tensors of at least STORE_CHUNK_MIN elements are chunked and
 * gzip-compressed (zlib, level STORE_DEFLATE_DEFAULT unless store_set_deflate says
 * otherwise) with the shuffle filter.
 *
 * Writes are atomic: store_create writes to "PATH.tmp.PID", store_commit flushes, closes,
 * fsyncs, renames onto PATH and fsyncs the directory. A crash at any point before the
 * rename leaves the old PATH untouched; store_abort removes the temporary file. */
#ifndef DRRL_CORE_STORE_H
#define DRRL_CORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

#define STORE_MAX_DIMS 8
#define STORE_CHUNK_MIN 4096
#define STORE_DEFLATE_DEFAULT 4

typedef enum { DT_F32, DT_F64, DT_I32, DT_I64, DT_U64, DT_U8 } DType;

typedef struct Store Store; /* opaque */

/* dtype_name: "float32", "float64", "int32", "int64", "uint64", "uint8". */
const char *dtype_name(DType t);

/* store_create: start writing a new file that will replace path on commit. */
Status store_create(Store **out, const char *path, const char *format, int version, Err *e);
/* store_commit: flush, close, fsync, rename over the final path; frees st in all cases. */
Status store_commit(Store *st, Err *e);
/* store_abort: close and delete the temporary file; frees st. NULL is allowed. */
void store_abort(Store *st);

/* store_open: open for reading; the format attribute must equal format and the version
   must lie in [min_version, max_version]. */
Status store_open(Store **out, const char *path, const char *format, int min_version,
                  int max_version, Err *e);
int store_version(const Store *st);
const char *store_path(const Store *st);
/* store_close: close a store opened for reading. NULL is allowed. On a store being
   written (not yet committed) it acts as store_abort. */
void store_close(Store *st);

/* store_set_deflate: gzip level 0..9 for the chunked datasets written from now on (0: chunked
   but uncompressed; 1 is several times faster than 4 for data that compresses little, such
   as trained float weights). */
Status store_set_deflate(Store *st, int level, Err *e);

/* store_write: dataset name (absolute path; missing groups are created) of ndim dims. */
Status store_write(Store *st, const char *name, DType t, const void *data, int ndim,
                   const int64_t *dims, Err *e);
/* store_read: read into out, which holds exactly prod(dims) elements of type t; the
   dataset must have that rank, those dims and that element type. */
Status store_read(Store *st, const char *name, DType t, void *out, int ndim,
                  const int64_t *dims, Err *e);
/* store_read_finite: store_read of a DT_F32 or DT_F64 dataset whose every element must be
   finite (parameters, factors, optimiser moments): ST_FORMAT naming the dataset, the first
   bad flat index and its value otherwise. */
Status store_read_finite(Store *st, const char *name, DType t, void *out, int ndim,
                         const int64_t *dims, Err *e);
/* store_shape: rank, dims and element type of an existing dataset. */
Status store_shape(Store *st, const char *name, int *ndim, int64_t *dims, DType *t, Err *e);
/* store_exists: 1 if a dataset or group of that name exists, else 0. */
int store_exists(Store *st, const char *name);

/* text datasets (UTF-8, any length): resolved configs, vocabularies, notes. */
Status store_write_text(Store *st, const char *name, const char *text, Err *e);
/* store_read_text: *out is malloc'd and NUL-terminated; caller frees. */
Status store_read_text(Store *st, const char *name, char **out, Err *e);

/* attributes on object obj ("/" for the root, or a group/dataset path). Setting an
   existing attribute replaces it. Strings are written as variable-length UTF-8; reading
   accepts variable- and fixed-length strings (h5py writes either). Getters check that the
   attribute exists and is of the right kind (string, integer or float); an integer of any
   width is read into int64. */
Status store_set_attr_str(Store *st, const char *obj, const char *name, const char *v, Err *e);
Status store_set_attr_i64(Store *st, const char *obj, const char *name, int64_t v, Err *e);
Status store_set_attr_f64(Store *st, const char *obj, const char *name, double v, Err *e);
Status store_get_attr_str(Store *st, const char *obj, const char *name, char *buf, size_t cap,
                          Err *e);
Status store_get_attr_i64(Store *st, const char *obj, const char *name, int64_t *v, Err *e);
/* store_get_attr_int: an integer attribute within [lo, hi] into *v (ST_FORMAT naming the file,
   object, attribute and range otherwise). */
Status store_get_attr_int(Store *st, const char *obj, const char *name, int lo, int hi, int *v,
                          Err *e);
Status store_get_attr_f64(Store *st, const char *obj, const char *name, double *v, Err *e);

/* store_write_rng / store_read_rng: an Rng's full state as a (RNG_STATE_WORDS) uint64
   dataset (checkpoints restore every stream bit for bit). Reading refuses (ST_FORMAT) what
   no stream reaches: the all-zero state, a spare flag other than 0/1, a non-finite spare. */
Status store_write_rng(Store *st, const char *name, const Rng *r, Err *e);
Status store_read_rng(Store *st, const char *name, Rng *r, Err *e);

/* store_mkdirs: create directory path and its missing parents (mkdir -p); ST_IO naming the
   first directory that cannot be created. */
Status store_mkdirs(const char *path, Err *e);

/* In-memory stores (store_image.c): store_create_image makes one named name (what messages
   say) for writing, as store_create but in memory; store_image_bytes gives the bytes a file
   of it would hold (malloc'd; the store stays open: store_close it); store_open_image opens
   such bytes for reading (copied), checking format and version as store_open does. */
Status store_create_image(Store **out, const char *name, const char *format, int version,
                          Err *e);
Status store_image_bytes(Store *st, uint8_t **buf, size_t *len, Err *e);
Status store_open_image(Store **out, const char *name, const void *buf, size_t len,
                        const char *format, int min_version, int max_version, Err *e);

#endif
