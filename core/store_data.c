/* store_data.c: numeric datasets of the HDF5 store (see store.h): element types,
 * chunked and compressed writes, shape- and type-checked reads, shape queries. */
#include "store_internal.h"

#include <math.h>

#include <string.h>

/* Target bytes per chunk. 1 MiB equals HDF5's default chunk-cache size, so a chunk
 * is decompressed once and stays cached while it is read. */
#define CHUNK_TARGET_BYTES ((size_t)1 << 20)

const char *dtype_name(DType t) {
    switch (t) {
    case DT_F32: return "float32";
    case DT_F64: return "float64";
    case DT_I32: return "int32";
    case DT_I64: return "int64";
    case DT_U64: return "uint64";
    case DT_U8: return "uint8";
    }
    return "unknown";
}

static int dtype_valid(DType t) { return t >= DT_F32 && t <= DT_U8; }

/* Element size in bytes of a DType. */
static size_t dtype_size(DType t) {
    switch (t) {
    case DT_F32: case DT_I32: return 4;
    case DT_F64: case DT_I64: case DT_U64: return 8;
    case DT_U8: return 1;
    }
    return 0;
}

/* dtype_hid: the HDF5 type of t in memory (native, for reading and writing) or, in_file, in
 * the file (fixed little-endian, so that files are identical across hosts). */
static hid_t dtype_hid(DType t, int in_file) {
    switch (t) {
    case DT_F32: return in_file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT;
    case DT_F64: return in_file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE;
    case DT_I32: return in_file ? H5T_STD_I32LE : H5T_NATIVE_INT32;
    case DT_I64: return in_file ? H5T_STD_I64LE : H5T_NATIVE_INT64;
    case DT_U64: return in_file ? H5T_STD_U64LE : H5T_NATIVE_UINT64;
    case DT_U8: return in_file ? H5T_STD_U8LE : H5T_NATIVE_UINT8;
    }
    return H5I_INVALID_HID;
}

/* dtype_of: the DType a file type corresponds to (class, size and sign must all
 * match, e.g. int16 or float16 have none), or -1. */
static int dtype_of(hid_t ftype) {
    H5T_class_t c = H5Tget_class(ftype);
    size_t sz = H5Tget_size(ftype);
    if (c == H5T_FLOAT) {
        if (sz == 4) return DT_F32;
        if (sz == 8) return DT_F64;
    } else if (c == H5T_INTEGER) {
        int sgn = H5Tget_sign(ftype) != H5T_SGN_NONE;
        if (sgn && sz == 4) return DT_I32;
        if (sgn && sz == 8) return DT_I64;
        if (!sgn && sz == 8) return DT_U64;
        if (!sgn && sz == 1) return DT_U8;
    }
    return -1;
}

/* count_elems: product of dims, with argument checks; -1 on a bad shape. */
static int64_t count_elems(int ndim, const int64_t *dims) {
    if (ndim < 0 || ndim > STORE_MAX_DIMS || (ndim > 0 && !dims)) return -1;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] > 0 && n > INT64_MAX / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

/* ---------------------------------------------------------------- datasets */

/* choose_chunk: whole trailing dims while they fit in CHUNK_TARGET_BYTES, then as many
 * rows of the next dim as fit (at least one), and 1 for the dims before it. Reading a
 * whole tensor then touches each chunk once, and a row-range read of a [N, D] rollout
 * touches few chunks. */
static void choose_chunk(int ndim, const int64_t *dims, size_t esize, hsize_t *chunk) {
    size_t target = CHUNK_TARGET_BYTES / esize;
    size_t inner = 1;
    int i = ndim - 1;
    for (; i >= 0; i--) {
        size_t d = dims[i] > 0 ? (size_t)dims[i] : 1;
        if (inner * d > target) break;
        chunk[i] = d;
        inner *= d;
    }
    if (i >= 0) {
        size_t rows = target / inner;
        chunk[i] = rows >= 1 ? rows : 1;
        for (int j = i - 1; j >= 0; j--) chunk[j] = 1;
    }
}

Status store_write(Store *st, const char *name, DType t, const void *data, int ndim,
                   const int64_t *dims, Err *e) {
    sto_quiet();
    if (!st) return err_set(e, ST_INVALID, "store_write: NULL store");
    Status s = sto_need_writable(st, e);
    if (s) return s;
    if ((s = sto_check_name(st, name, 0, e))) return s;
    if (!dtype_valid(t))
        return err_set(e, ST_INVALID, "%s: %s: invalid element type %d", st->path, name, (int)t);
    int64_t count = count_elems(ndim, dims);
    if (count < 0)
        return err_set(e, ST_INVALID, "%s: %s: invalid shape (rank %d; at most %d dims, each >= 0)",
                       st->path, name, ndim, STORE_MAX_DIMS);
    if (count > 0 && !data) return err_set(e, ST_INVALID, "%s: %s: NULL data", st->path, name);

    if ((s = sto_check_new(st, name, e))) return s;

    hid_t space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hid_t ds = H5I_INVALID_HID;
    hsize_t h[STORE_MAX_DIMS];
    for (int i = 0; i < ndim; i++) h[i] = (hsize_t)dims[i];
    space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, h, NULL);
    lcpl = sto_link_props();
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || lcpl < 0 || dcpl < 0) goto hdf_fail;
    if (ndim > 0 && count >= STORE_CHUNK_MIN) {
        /* Chunked + shuffle + deflate: shuffle groups the bytes of equal significance,
         * which is what makes float weights compress at all. */
        hsize_t chunk[STORE_MAX_DIMS];
        choose_chunk(ndim, dims, dtype_size(t), chunk);
        if (H5Pset_chunk(dcpl, ndim, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 ||
            (st->deflate > 0 && H5Pset_deflate(dcpl, (unsigned)st->deflate) < 0))
            goto hdf_fail;
    }
    ds = H5Dcreate2(st->file, name, dtype_hid(t, 1), space, lcpl, dcpl, H5P_DEFAULT);
    if (ds < 0) goto hdf_fail;
    if (count > 0 && H5Dwrite(ds, dtype_hid(t, 0), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        s = err_set(e, ST_IO, "%s: %s: cannot write dataset", st->path, name);
        goto done;
    }
    s = ST_OK;
    goto done;
hdf_fail:
    s = err_set(e, ST_IO, "%s: %s: cannot create dataset", st->path, name);
done:
    sto_hclose(&ds);
    sto_hclose(&dcpl);
    sto_hclose(&lcpl);
    sto_hclose(&space);
    return s;
}

Status store_read(Store *st, const char *name, DType t, void *out, int ndim,
                  const int64_t *dims, Err *e) {
    sto_quiet();
    if (!st) return err_set(e, ST_INVALID, "store_read: NULL store");
    if (!dtype_valid(t))
        return err_set(e, ST_INVALID, "%s: %s: invalid element type %d", st->path,
                       name ? name : "(null)", (int)t);
    int64_t count = count_elems(ndim, dims);
    if (count < 0)
        return err_set(e, ST_INVALID, "%s: %s: invalid shape (rank %d; at most %d dims, each >= 0)",
                       st->path, name ? name : "(null)", ndim, STORE_MAX_DIMS);
    if (count > 0 && !out) return err_set(e, ST_INVALID, "%s: %s: NULL output", st->path, name);

    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    Status s = sto_open_dataset_typed(st, name, &ds, &space, &ftype, e);
    if (s) return s;
    int64_t fd[STORE_MAX_DIMS];
    int r = sto_space_dims(space, fd);
    int same = r == ndim;
    for (int i = 0; same && i < ndim; i++) same = fd[i] == dims[i];
    char want[256], got[256], ftn[64];
    sto_type_desc(ftype, ftn, sizeof ftn);
    if (!same) {
        sto_dims_desc(want, sizeof want, ndim, dims);
        sto_space_desc(space, got, sizeof got);
        s = err_set(e, ST_SHAPE, "%s: %s: expected shape %s %s, found %s %s", st->path, name,
                    want, dtype_name(t), got, ftn);
        goto done;
    }
    /* Class, size and sign must match exactly: HDF5 would happily convert int64 to
     * float32 on read, which would hide a writer/reader mismatch. */
    if (dtype_of(ftype) != (int)t) {
        s = err_set(e, ST_SHAPE, "%s: %s: expected %s, found %s", st->path, name,
                    dtype_name(t), ftn);
        goto done;
    }
    if (count > 0 && H5Dread(ds, dtype_hid(t, 0), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
        s = err_set(e, ST_IO, "%s: %s: cannot read dataset (corrupt data?)", st->path, name);
        goto done;
    }
    s = ST_OK;
done:
    sto_close_dataset_typed(&ds, &space, &ftype);
    return s;
}

Status store_shape(Store *st, const char *name, int *ndim, int64_t *dims, DType *t, Err *e) {
    sto_quiet();
    if (!st || !ndim || !dims || !t) return err_set(e, ST_INVALID, "store_shape: NULL argument");
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    Status s = sto_open_dataset_typed(st, name, &ds, &space, &ftype, e);
    if (s) return s;
    char ftn[64], got[256];
    sto_type_desc(ftype, ftn, sizeof ftn);
    int r = sto_space_dims(space, dims);
    if (r < 0) {
        sto_space_desc(space, got, sizeof got);
        s = err_set(e, ST_SHAPE, "%s: %s: expected at most %d dims, found %s", st->path, name,
                    STORE_MAX_DIMS, got);
        goto done;
    }
    int dt = dtype_of(ftype);
    if (dt < 0) {
        s = err_set(e, ST_SHAPE,
                    "%s: %s: expected float32, float64, int32, int64, uint64 or uint8, found %s",
                    st->path, name, ftn);
        goto done;
    }
    *ndim = r;
    *t = (DType)dt;
    s = ST_OK;
done:
    sto_close_dataset_typed(&ds, &space, &ftype);
    return s;
}

int store_exists(Store *st, const char *name) {
    if (!st || sto_check_name(st, name, 1, NULL) != ST_OK) return 0;
    sto_quiet();
    return sto_obj_kind(st->file, name, NULL) != OBJ_MISSING;
}

Status store_set_deflate(Store *st, int level, Err *e) {
    if (!st || level < 0 || level > 9)
        return err_set(e, ST_INVALID, "store_set_deflate: level: expected 0..9, found %d", level);
    st->deflate = level;
    return ST_OK;
}

Status store_read_finite(Store *st, const char *name, DType t, void *out, int ndim,
                         const int64_t *dims, Err *e) {
    if (t != DT_F32 && t != DT_F64)
        return err_set(e, ST_INVALID, "store_read_finite: %s: expected float32 or float64",
                       name ? name : "(null)");
    Status s = store_read(st, name, t, out, ndim, dims, e);
    if (s) return s;
    const int64_t count = count_elems(ndim, dims);
    for (int64_t i = 0; i < count; i++) {
        const double v = t == DT_F32 ? (double)((const float *)out)[i] : ((const double *)out)[i];
        if (!isfinite(v))
            return err_set(e, ST_FORMAT, "%s: %s: expected finite values, found %g at flat index "
                           "%lld", st->path, name, v, (long long)i);
    }
    return ST_OK;
}
