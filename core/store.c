/* store.c: the HDF5 store for models, checkpoints and rollouts (see store.h).
 *
 * Design notes:
 * - HDF5's automatic error-stack printing is switched off at every public entry point
 *   (library code never prints); failures are turned into our own messages of the form
 *   "PATH: NAME: expected ..., found ..." so that a user can tell which file and which
 *   tensor is wrong without reading an HDF5 stack dump.
 * - Every hid_t is closed on every path: functions keep their identifiers in locals
 *   initialised to H5I_INVALID_HID and release them through hclose() in one cleanup
 *   block, so early error exits cannot leak.
 * - Strings (text datasets and string attributes) are written as variable-length UTF-8,
 *   which is what h5py writes and reads back as `str`; reading accepts both
 *   variable-length and fixed-length strings (h5py `np.bytes_`, Fortran space padding).
 * - Atomic writes: the data goes to "PATH.tmp.PID"; commit flushes, closes, fsyncs the
 *   file, renames it onto PATH and fsyncs the directory so that the rename itself is
 *   durable. Until the rename, PATH is never touched. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest dataset/group path we accept; paths are built from short keys. */
#define NAME_MAX_LEN 1024
/* Target bytes per chunk. 1 MiB equals HDF5's default chunk-cache size, so a chunk
 * is decompressed once and stays cached while it is read. */
#define CHUNK_TARGET_BYTES ((size_t)1 << 20)
#define DEFLATE_LEVEL 4

struct Store {
    hid_t file;
    char *path;  /* final path (what messages name) */
    char *tmp;   /* temporary path while writing, NULL when opened for reading */
    int version; /* format_version of the file */
};

/* ---------------------------------------------------------------- small helpers */

/* quiet: stop HDF5 from printing its error stack. Cheap; called at every entry point
 * because the setting is per-thread in thread-safe HDF5 builds. */
static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* hclose: close any kind of identifier we hold and mark it invalid. */
static void hclose(hid_t *id) {
    if (*id < 0) return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: H5Idec_ref(*id); break;
    }
    *id = H5I_INVALID_HID;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

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

/* Memory (native) type for reading and writing. */
static hid_t dtype_native(DType t) {
    switch (t) {
    case DT_F32: return H5T_NATIVE_FLOAT;
    case DT_F64: return H5T_NATIVE_DOUBLE;
    case DT_I32: return H5T_NATIVE_INT32;
    case DT_I64: return H5T_NATIVE_INT64;
    case DT_U64: return H5T_NATIVE_UINT64;
    case DT_U8: return H5T_NATIVE_UINT8;
    }
    return H5I_INVALID_HID;
}

/* File type: fixed little-endian so files are identical across hosts. */
static hid_t dtype_file(DType t) {
    switch (t) {
    case DT_F32: return H5T_IEEE_F32LE;
    case DT_F64: return H5T_IEEE_F64LE;
    case DT_I32: return H5T_STD_I32LE;
    case DT_I64: return H5T_STD_I64LE;
    case DT_U64: return H5T_STD_U64LE;
    case DT_U8: return H5T_STD_U8LE;
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

/* type_desc: numpy-style name of a file type for messages ("float32", "int16",
 * "string", ...), so that a mismatch message says what is actually in the file. */
static void type_desc(hid_t t, char *buf, size_t cap) {
    size_t bits = H5Tget_size(t) * 8;
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
        snprintf(buf, cap, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
        return;
    case H5T_FLOAT: snprintf(buf, cap, "float%zu", bits); return;
    case H5T_STRING: snprintf(buf, cap, "string"); return;
    case H5T_COMPOUND: snprintf(buf, cap, "compound"); return;
    case H5T_ENUM: snprintf(buf, cap, "enum"); return;
    case H5T_ARRAY: snprintf(buf, cap, "array"); return;
    case H5T_VLEN: snprintf(buf, cap, "vlen"); return;
    case H5T_OPAQUE: snprintf(buf, cap, "opaque"); return;
    case H5T_BITFIELD: snprintf(buf, cap, "bitfield"); return;
    case H5T_REFERENCE: snprintf(buf, cap, "reference"); return;
    case H5T_TIME: snprintf(buf, cap, "time"); return;
    default: snprintf(buf, cap, "unknown type"); return;
    }
}

/* class_kind: the three attribute kinds the API knows, by type class. */
static const char *class_kind(H5T_class_t c) {
    switch (c) {
    case H5T_STRING: return "string";
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    default: return "other";
    }
}

/* dims_desc: "[256, 128]" ("[]" for a scalar). */
static void dims_desc(char *buf, size_t cap, int ndim, const int64_t *dims) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* space_dims: rank and dims of a dataspace; rank -1 for a null (empty) dataspace or
 * a rank above STORE_MAX_DIMS (which we cannot describe in an int64_t[8]). */
static int space_dims(hid_t space, int64_t *dims) {
    if (H5Sget_simple_extent_type(space) == H5S_NULL) return -1;
    int r = H5Sget_simple_extent_ndims(space);
    if (r < 0 || r > STORE_MAX_DIMS) return -1;
    hsize_t h[STORE_MAX_DIMS];
    if (r > 0 && H5Sget_simple_extent_dims(space, h, NULL) < 0) return -1;
    for (int i = 0; i < r; i++) dims[i] = (int64_t)h[i];
    return r;
}

static void space_desc(hid_t space, char *buf, size_t cap) {
    int64_t d[STORE_MAX_DIMS];
    int r = space_dims(space, d);
    if (r < 0) {
        if (H5Sget_simple_extent_type(space) == H5S_NULL)
            snprintf(buf, cap, "null dataspace");
        else
            snprintf(buf, cap, "rank %d", H5Sget_simple_extent_ndims(space));
        return;
    }
    dims_desc(buf, cap, r, d);
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

/* check_name: absolute path, no empty components, bounded length. allow_root permits
 * "/" itself (attributes on the root group). */
static Status check_name(const Store *st, const char *name, int allow_root, Err *e) {
    if (!name || name[0] != '/')
        return err_set(e, ST_INVALID, "%s: '%s': name must be an absolute path like /a/b",
                       st->path, name ? name : "(null)");
    size_t n = strlen(name);
    if (n >= NAME_MAX_LEN)
        return err_set(e, ST_INVALID, "%s: name longer than %d characters", st->path,
                       NAME_MAX_LEN - 1);
    if (n == 1) {
        if (allow_root) return ST_OK;
        return err_set(e, ST_INVALID, "%s: '/': the root group is not a dataset", st->path);
    }
    if (name[n - 1] == '/' || strstr(name, "//"))
        return err_set(e, ST_INVALID, "%s: '%s': empty path component", st->path, name);
    return ST_OK;
}

typedef enum { OBJ_MISSING, OBJ_GROUP, OBJ_DATASET, OBJ_OTHER } ObjKind;

/* open_kind: the kind of object an existing link leads to (a dangling soft link
 * counts as missing). */
static ObjKind open_kind(hid_t file, const char *name) {
    hid_t o = H5Oopen(file, name, H5P_DEFAULT);
    if (o < 0) return OBJ_MISSING;
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    return t == H5I_GROUP ? OBJ_GROUP : t == H5I_DATASET ? OBJ_DATASET : OBJ_OTHER;
}

/* obj_kind: what lives at absolute path name (already validated by check_name).
 * H5Lexists on "/a/b/c" fails (rather than answering 0) when "/a/b" is missing, so we
 * walk the levels one by one and stop at the first missing one. If an intermediate
 * level exists but is not a group, it is copied into blocker (when non-NULL) and the
 * result is OBJ_MISSING. */
static ObjKind obj_kind(hid_t file, const char *name, char *blocker) {
    char buf[NAME_MAX_LEN];
    if (blocker) blocker[0] = '\0';
    if (strcmp(name, "/") == 0) return OBJ_GROUP;
    snprintf(buf, sizeof buf, "%s", name);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) return OBJ_MISSING;
        ObjKind k = open_kind(file, buf);
        if (saved == '\0') return k;
        if (k != OBJ_GROUP) {
            if (blocker && k != OBJ_MISSING) memcpy(blocker, buf, strlen(buf) + 1);
            return OBJ_MISSING;
        }
        *p = saved;
    }
}

static Status need_writable(const Store *st, Err *e) {
    if (!st->tmp)
        return err_set(e, ST_INVALID, "%s: store is open for reading, not writing", st->path);
    return ST_OK;
}

/* open_dataset: open an existing dataset, with a "missing dataset" message otherwise. */
static Status open_dataset(Store *st, const char *name, hid_t *ds, Err *e) {
    Status s = check_name(st, name, 0, e);
    if (s) return s;
    char blocker[NAME_MAX_LEN];
    ObjKind k = obj_kind(st->file, name, blocker);
    if (k == OBJ_MISSING) {
        if (blocker[0])
            return err_set(e, ST_MISSING, "%s: %s: missing dataset (%s is not a group)",
                           st->path, name, blocker);
        return err_set(e, ST_MISSING, "%s: %s: missing dataset", st->path, name);
    }
    if (k != OBJ_DATASET)
        return err_set(e, ST_MISSING, "%s: %s: expected a dataset, found a %s", st->path, name,
                       k == OBJ_GROUP ? "group" : "named datatype");
    *ds = H5Dopen2(st->file, name, H5P_DEFAULT);
    if (*ds < 0) return err_set(e, ST_IO, "%s: %s: cannot open dataset", st->path, name);
    return ST_OK;
}

/* --------------------------------------------------------------- strings */

/* read_string: read a scalar (or one-element) string from a dataset or attribute whose
 * class the caller has checked is H5T_STRING. Handles variable-length strings (h5py's
 * default, and ours) and fixed-length ones (NUL-terminated, NUL-padded or space-padded).
 * *out is malloc'd. Returns ST_OK, ST_NOMEM, or ST_IO (HDF5 read failure). */
static Status read_string(hid_t obj, int is_attr, char **out) {
    hid_t ftype = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hid_t mtype = H5I_INVALID_HID;
    Status s = ST_IO;
    *out = NULL;
    if (ftype < 0 || space < 0) goto done;
    htri_t var = H5Tis_variable_str(ftype);
    if (var < 0) goto done;
    if (var) {
        /* Memory type: C variable-length string in the file's character set (HDF5 does
         * not convert between ASCII and UTF-8, it only refuses mismatches). */
        mtype = H5Tcopy(H5T_C_S1);
        if (mtype < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0)
            goto done;
        char *p = NULL;
        herr_t r = is_attr ? H5Aread(obj, mtype, &p) : H5Dread(obj, mtype, H5S_ALL, H5S_ALL,
                                                              H5P_DEFAULT, &p);
        if (r < 0) goto done;
        *out = dup_str(p ? p : "");
        /* The library allocated p; give it back through HDF5's own allocator. */
        H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &p);
        s = *out ? ST_OK : ST_NOMEM;
    } else {
        size_t sz = H5Tget_size(ftype);
        mtype = H5Tcopy(ftype); /* strings have no byte order: read bytes as stored */
        if (mtype < 0 || sz == 0) goto done;
        char *buf = malloc(sz + 1);
        if (!buf) {
            s = ST_NOMEM;
            goto done;
        }
        herr_t r = is_attr ? H5Aread(obj, mtype, buf)
                           : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        if (r < 0) {
            free(buf);
            goto done;
        }
        buf[sz] = '\0'; /* NULPAD with an exactly-fitting value has no terminator */
        if (H5Tget_strpad(ftype) == H5T_STR_SPACEPAD) {
            size_t n = strlen(buf);
            while (n > 0 && buf[n - 1] == ' ') buf[--n] = '\0';
        }
        *out = buf;
        s = ST_OK;
    }
done:
    hclose(&mtype);
    hclose(&space);
    hclose(&ftype);
    return s;
}

/* vlen_utf8: a variable-length UTF-8 string type (caller closes). */
static hid_t vlen_utf8(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* single_element: scalar dataspace, or a simple one holding exactly one element (h5py
 * may write shape (1,) for a value wrapped in a list). */
static int single_element(hid_t space) {
    H5S_class_t c = H5Sget_simple_extent_type(space);
    if (c == H5S_SCALAR) return 1;
    return c == H5S_SIMPLE && H5Sget_simple_extent_npoints(space) == 1;
}

/* ------------------------------------------------------------- open / create */

Status store_create(Store **out, const char *path, const char *format, int version, Err *e) {
    quiet();
    if (!out || !path || !format)
        return err_set(e, ST_INVALID, "store_create: NULL argument");
    *out = NULL;
    Store *st = calloc(1, sizeof *st);
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    hid_t fapl = H5I_INVALID_HID;
    Status s;
    if (!st || !tmp || !(st->path = dup_str(path))) {
        free(st);
        free(tmp);
        return err_set(e, ST_NOMEM, "%s: out of memory", path);
    }
    st->file = H5I_INVALID_HID;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());

    /* Create the file ourselves first: HDF5 does not report errno, and "No such file or
     * directory" / "Permission denied" is what the user needs to see. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        s = err_set(e, ST_IO, "%s: cannot create temporary file %s: %s", path, tmp,
                    strerror(errno));
        free(tmp);
        free(st->path);
        free(st);
        return s;
    }
    close(fd);
    /* From here on store_abort cleans up (closes the file, unlinks tmp, frees). */
    st->tmp = tmp;
    st->version = version;

    /* SEMI close degree: H5Fclose fails rather than silently keeping the file open if
     * an object were still open, so store_commit never renames a half-flushed file. */
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI) >= 0)
        st->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    hclose(&fapl);
    if (st->file < 0) {
        s = err_set(e, ST_IO, "%s: cannot create HDF5 file %s", path, tmp);
        store_abort(st);
        return s;
    }
    /* root attributes: format (string), format_version (int64) */
    if ((s = store_set_attr_str(st, "/", "format", format, e)) ||
        (s = store_set_attr_i64(st, "/", "format_version", version, e))) {
        store_abort(st);
        return s;
    }
    *out = st;
    return ST_OK;
}

Status store_commit(Store *st, Err *e) {
    quiet();
    if (!st) return err_set(e, ST_INVALID, "store_commit: NULL store");
    if (!st->tmp) {
        Status s = err_set(e, ST_INVALID, "%s: store_commit on a store opened for reading",
                           st->path);
        store_close(st);
        return s;
    }
    Status s = ST_OK;
    int renamed = 0;
    if (H5Fflush(st->file, H5F_SCOPE_LOCAL) < 0) {
        s = err_set(e, ST_IO, "%s: cannot flush %s", st->path, st->tmp);
        hclose(&st->file);
        goto out;
    }
    herr_t rc = H5Fclose(st->file);
    st->file = H5I_INVALID_HID;
    if (rc < 0) {
        /* With H5F_CLOSE_SEMI this means an object was left open: a bug, but the data on
         * disk may be incomplete, so do not publish it. */
        s = err_set(e, ST_IO, "%s: cannot close %s (objects still open?)", st->path, st->tmp);
        goto out;
    }
    /* HDF5 writes with write(2); fsync makes the data durable before the rename makes
     * it visible, so a crash cannot leave PATH pointing at a file with missing blocks. */
    int fd = open(st->tmp, O_RDONLY);
    if (fd < 0) {
        s = err_set(e, ST_IO, "%s: cannot reopen %s for fsync: %s", st->path, st->tmp,
                    strerror(errno));
        goto out;
    }
    if (fsync(fd) < 0) {
        s = err_set(e, ST_IO, "%s: fsync of %s failed: %s", st->path, st->tmp, strerror(errno));
        close(fd);
        goto out;
    }
    close(fd);
    if (rename(st->tmp, st->path) < 0) {
        s = err_set(e, ST_IO, "%s: cannot rename %s onto it: %s", st->path, st->tmp,
                    strerror(errno));
        goto out;
    }
    renamed = 1;
    /* fsync the directory so that the new directory entry survives a crash. */
    {
        char *dir = dup_str(st->path);
        if (!dir) {
            s = err_set(e, ST_NOMEM, "%s: out of memory", st->path);
            goto out;
        }
        char *slash = strrchr(dir, '/');
        const char *d = dir;
        if (!slash)
            d = ".";
        else if (slash == dir)
            dir[1] = '\0'; /* "/x" -> "/" */
        else
            *slash = '\0';
        int dfd = open(d, O_RDONLY | O_DIRECTORY);
        if (dfd < 0 || fsync(dfd) < 0)
            s = err_set(e, ST_IO, "%s: renamed, but fsync of directory %s failed: %s", st->path,
                        d, strerror(errno));
        if (dfd >= 0) close(dfd);
        free(dir);
    }
out:
    if (!renamed) unlink(st->tmp);
    free(st->tmp);
    free(st->path);
    free(st);
    return s;
}

void store_abort(Store *st) {
    if (!st) return;
    quiet();
    hclose(&st->file);
    if (st->tmp) {
        unlink(st->tmp);
        free(st->tmp);
    }
    free(st->path);
    free(st);
}

Status store_open(Store **out, const char *path, const char *format, int min_version,
                  int max_version, Err *e) {
    quiet();
    if (!out || !path || !format) return err_set(e, ST_INVALID, "store_open: NULL argument");
    *out = NULL;
    /* open(2) first: a missing file or a permission problem gets its errno text rather
     * than the "not a readable HDF5 file" message reserved for bad contents. */
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_set(e, ST_IO, "%s: cannot open: %s", path, strerror(errno));
    close(fd);

    Store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = dup_str(path))) {
        free(st);
        return err_set(e, ST_NOMEM, "%s: out of memory", path);
    }
    st->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (st->file < 0) {
        store_close(st);
        return err_set(e, ST_FORMAT, "%s: not a readable HDF5 file (truncated or corrupt?)",
                       path);
    }
    char fmt[256];
    int64_t v = 0;
    Status s = store_get_attr_str(st, "/", "format", fmt, sizeof fmt, e);
    if (s) goto fail;
    if (strcmp(fmt, format) != 0) {
        s = err_set(e, ST_FORMAT, "%s: format: expected '%s', found '%s'", path, format, fmt);
        goto fail;
    }
    s = store_get_attr_i64(st, "/", "format_version", &v, e);
    if (s) goto fail;
    if (v < min_version || v > max_version) {
        s = err_set(e, ST_FORMAT, "%s: format_version: expected %d..%d, found %lld", path,
                    min_version, max_version, (long long)v);
        goto fail;
    }
    st->version = (int)v;
    *out = st;
    return ST_OK;
fail:
    /* A missing root attribute means this is not one of our files: a format error. */
    if (s == ST_MISSING) {
        s = ST_FORMAT;
        if (e) e->status = s;
    }
    store_close(st);
    return s;
}

int store_version(const Store *st) { return st ? st->version : 0; }
const char *store_path(const Store *st) { return st ? st->path : NULL; }

void store_close(Store *st) {
    if (!st) return;
    if (st->tmp) { /* closing a store being written without commit discards it */
        store_abort(st);
        return;
    }
    quiet();
    hclose(&st->file);
    free(st->path);
    free(st);
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
    quiet();
    if (!st) return err_set(e, ST_INVALID, "store_write: NULL store");
    Status s = need_writable(st, e);
    if (s) return s;
    if ((s = check_name(st, name, 0, e))) return s;
    if (!dtype_valid(t))
        return err_set(e, ST_INVALID, "%s: %s: invalid element type %d", st->path, name, (int)t);
    int64_t count = count_elems(ndim, dims);
    if (count < 0)
        return err_set(e, ST_INVALID, "%s: %s: invalid shape (rank %d; at most %d dims, each >= 0)",
                       st->path, name, ndim, STORE_MAX_DIMS);
    if (count > 0 && !data) return err_set(e, ST_INVALID, "%s: %s: NULL data", st->path, name);

    char blocker[NAME_MAX_LEN];
    if (obj_kind(st->file, name, blocker) != OBJ_MISSING)
        return err_set(e, ST_INVALID, "%s: %s: already exists", st->path, name);
    if (blocker[0])
        return err_set(e, ST_INVALID, "%s: %s: cannot create, %s is a dataset, not a group",
                       st->path, name, blocker);

    hid_t space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hid_t ds = H5I_INVALID_HID;
    hsize_t h[STORE_MAX_DIMS];
    for (int i = 0; i < ndim; i++) h[i] = (hsize_t)dims[i];
    space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, h, NULL);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || lcpl < 0 || dcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
        H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0)
        goto hdf_fail;
    if (ndim > 0 && count >= STORE_CHUNK_MIN) {
        /* Chunked + shuffle + deflate: shuffle groups the bytes of equal significance,
         * which is what makes float weights compress at all. */
        hsize_t chunk[STORE_MAX_DIMS];
        choose_chunk(ndim, dims, dtype_size(t), chunk);
        if (H5Pset_chunk(dcpl, ndim, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 ||
            H5Pset_deflate(dcpl, DEFLATE_LEVEL) < 0)
            goto hdf_fail;
    }
    ds = H5Dcreate2(st->file, name, dtype_file(t), space, lcpl, dcpl, H5P_DEFAULT);
    if (ds < 0) goto hdf_fail;
    if (count > 0 && H5Dwrite(ds, dtype_native(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        s = err_set(e, ST_IO, "%s: %s: cannot write dataset", st->path, name);
        goto done;
    }
    s = ST_OK;
    goto done;
hdf_fail:
    s = err_set(e, ST_IO, "%s: %s: cannot create dataset", st->path, name);
done:
    hclose(&ds);
    hclose(&dcpl);
    hclose(&lcpl);
    hclose(&space);
    return s;
}

Status store_read(Store *st, const char *name, DType t, void *out, int ndim,
                  const int64_t *dims, Err *e) {
    quiet();
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
    Status s = open_dataset(st, name, &ds, e);
    if (s) return s;
    space = H5Dget_space(ds);
    ftype = H5Dget_type(ds);
    if (space < 0 || ftype < 0) {
        s = err_set(e, ST_IO, "%s: %s: cannot query dataset", st->path, name);
        goto done;
    }
    int64_t fd[STORE_MAX_DIMS];
    int r = space_dims(space, fd);
    int same = r == ndim;
    for (int i = 0; same && i < ndim; i++) same = fd[i] == dims[i];
    char want[256], got[256], ftn[64];
    type_desc(ftype, ftn, sizeof ftn);
    if (!same) {
        dims_desc(want, sizeof want, ndim, dims);
        space_desc(space, got, sizeof got);
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
    if (count > 0 && H5Dread(ds, dtype_native(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
        s = err_set(e, ST_IO, "%s: %s: cannot read dataset (corrupt data?)", st->path, name);
        goto done;
    }
    s = ST_OK;
done:
    hclose(&ftype);
    hclose(&space);
    hclose(&ds);
    return s;
}

Status store_shape(Store *st, const char *name, int *ndim, int64_t *dims, DType *t, Err *e) {
    quiet();
    if (!st || !ndim || !dims || !t) return err_set(e, ST_INVALID, "store_shape: NULL argument");
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    Status s = open_dataset(st, name, &ds, e);
    if (s) return s;
    space = H5Dget_space(ds);
    ftype = H5Dget_type(ds);
    if (space < 0 || ftype < 0) {
        s = err_set(e, ST_IO, "%s: %s: cannot query dataset", st->path, name);
        goto done;
    }
    char ftn[64], got[256];
    type_desc(ftype, ftn, sizeof ftn);
    int r = space_dims(space, dims);
    if (r < 0) {
        space_desc(space, got, sizeof got);
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
    hclose(&ftype);
    hclose(&space);
    hclose(&ds);
    return s;
}

int store_exists(Store *st, const char *name) {
    if (!st || check_name(st, name, 1, NULL) != ST_OK) return 0;
    quiet();
    return obj_kind(st->file, name, NULL) != OBJ_MISSING;
}

/* ------------------------------------------------------------------- text */

Status store_write_text(Store *st, const char *name, const char *text, Err *e) {
    quiet();
    if (!st) return err_set(e, ST_INVALID, "store_write_text: NULL store");
    Status s = need_writable(st, e);
    if (s) return s;
    if ((s = check_name(st, name, 0, e))) return s;
    if (!text) return err_set(e, ST_INVALID, "%s: %s: NULL text", st->path, name);
    char blocker[NAME_MAX_LEN];
    if (obj_kind(st->file, name, blocker) != OBJ_MISSING)
        return err_set(e, ST_INVALID, "%s: %s: already exists", st->path, name);
    if (blocker[0])
        return err_set(e, ST_INVALID, "%s: %s: cannot create, %s is a dataset, not a group",
                       st->path, name, blocker);

    /* A scalar variable-length UTF-8 string: h5py reads it as str (after .asstr()) and
     * it holds any length without choosing a fixed size. */
    hid_t space = H5Screate(H5S_SCALAR), type = vlen_utf8();
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), ds = H5I_INVALID_HID;
    s = ST_IO;
    if (space < 0 || type < 0 || lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
        H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0)
        goto fail;
    ds = H5Dcreate2(st->file, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0) goto fail;
    if (H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0) goto fail;
    s = ST_OK;
fail:
    if (s) err_set(e, s, "%s: %s: cannot write text dataset", st->path, name);
    hclose(&ds);
    hclose(&lcpl);
    hclose(&type);
    hclose(&space);
    return s;
}

Status store_read_text(Store *st, const char *name, char **out, Err *e) {
    quiet();
    if (!st || !out) return err_set(e, ST_INVALID, "store_read_text: NULL argument");
    *out = NULL;
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    Status s = open_dataset(st, name, &ds, e);
    if (s) return s;
    space = H5Dget_space(ds);
    ftype = H5Dget_type(ds);
    if (space < 0 || ftype < 0) {
        s = err_set(e, ST_IO, "%s: %s: cannot query dataset", st->path, name);
        goto done;
    }
    if (H5Tget_class(ftype) != H5T_STRING || !single_element(space)) {
        char ftn[64], got[256];
        type_desc(ftype, ftn, sizeof ftn);
        space_desc(space, got, sizeof got);
        s = err_set(e, ST_SHAPE, "%s: %s: expected text (a scalar string), found %s %s",
                    st->path, name, got, ftn);
        goto done;
    }
    s = read_string(ds, 0, out);
    if (s == ST_NOMEM) err_set(e, s, "%s: %s: out of memory", st->path, name);
    else if (s) err_set(e, s, "%s: %s: cannot read text dataset", st->path, name);
done:
    hclose(&ftype);
    hclose(&space);
    hclose(&ds);
    return s;
}

/* ------------------------------------------------------------- attributes */

/* open_obj: open the group or dataset obj ("/" for the root). */
static Status open_obj(Store *st, const char *obj, hid_t *o, Err *e) {
    Status s = check_name(st, obj, 1, e);
    if (s) return s;
    ObjKind k = obj_kind(st->file, obj, NULL);
    if (k == OBJ_MISSING)
        return err_set(e, ST_MISSING, "%s: %s: missing group or dataset", st->path, obj);
    *o = H5Oopen(st->file, obj, H5P_DEFAULT);
    if (*o < 0) return err_set(e, ST_IO, "%s: %s: cannot open object", st->path, obj);
    return ST_OK;
}

/* set_attr: (re)create a scalar attribute of file type ftype and write *v as mtype.
 * Attributes are metadata, so setting an existing one replaces it (unlike datasets). */
static Status set_attr(Store *st, const char *obj, const char *name, hid_t ftype, hid_t mtype,
                       const void *v, Err *e) {
    quiet();
    if (!st || !name || !name[0]) return err_set(e, ST_INVALID, "store_set_attr: bad argument");
    Status s = need_writable(st, e);
    if (s) return s;
    hid_t o = H5I_INVALID_HID, space = H5I_INVALID_HID, a = H5I_INVALID_HID;
    if ((s = open_obj(st, obj, &o, e))) return s;
    s = ST_IO;
    htri_t ex = H5Aexists(o, name);
    if (ex < 0 || (ex > 0 && H5Adelete(o, name) < 0)) goto done;
    space = H5Screate(H5S_SCALAR);
    if (space < 0) goto done;
    a = H5Acreate2(o, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, mtype, v) < 0) goto done;
    s = ST_OK;
done:
    if (s) err_set(e, s, "%s: %s: cannot write attribute '%s'", st->path, obj, name);
    hclose(&a);
    hclose(&space);
    hclose(&o);
    return s;
}

Status store_set_attr_str(Store *st, const char *obj, const char *name, const char *v, Err *e) {
    if (!v) return err_set(e, ST_INVALID, "store_set_attr_str: NULL value");
    hid_t t = vlen_utf8();
    if (t < 0) return err_set(e, ST_IO, "store_set_attr_str: cannot create string type");
    Status s = set_attr(st, obj, name, t, t, &v, e);
    H5Tclose(t);
    return s;
}

Status store_set_attr_i64(Store *st, const char *obj, const char *name, int64_t v, Err *e) {
    return set_attr(st, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v, e);
}

Status store_set_attr_f64(Store *st, const char *obj, const char *name, double v, Err *e) {
    return set_attr(st, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v, e);
}

/* open_attr: open attribute name on obj and check that it is a single value of type
 * class want; on success *o and *a are open (caller closes both). */
static Status open_attr(Store *st, const char *obj, const char *name, H5T_class_t want, hid_t *o,
                        hid_t *a, Err *e) {
    quiet();
    if (!st || !name) return err_set(e, ST_INVALID, "store_get_attr: NULL argument");
    Status s = open_obj(st, obj, o, e);
    if (s) return s;
    hid_t t = H5I_INVALID_HID, sp = H5I_INVALID_HID;
    htri_t ex = H5Aexists(*o, name);
    if (ex <= 0) {
        s = err_set(e, ST_MISSING, "%s: %s: missing attribute '%s'", st->path, obj, name);
        goto fail;
    }
    *a = H5Aopen(*o, name, H5P_DEFAULT);
    if (*a < 0 || (t = H5Aget_type(*a)) < 0 || (sp = H5Aget_space(*a)) < 0) {
        s = err_set(e, ST_IO, "%s: %s: cannot open attribute '%s'", st->path, obj, name);
        goto fail;
    }
    H5T_class_t c = H5Tget_class(t);
    if (c != want) {
        /* name the found kind as string/integer/float, or the HDF5 type if it is none */
        char ftn[64];
        if (strcmp(class_kind(c), "other") == 0)
            type_desc(t, ftn, sizeof ftn);
        else
            snprintf(ftn, sizeof ftn, "%s", class_kind(c));
        s = err_set(e, ST_SHAPE, "%s: %s: attribute '%s': expected %s, found %s", st->path, obj,
                    name, class_kind(want), ftn);
        goto fail;
    }
    if (!single_element(sp)) {
        char got[256];
        space_desc(sp, got, sizeof got);
        s = err_set(e, ST_SHAPE, "%s: %s: attribute '%s': expected a single value, found shape %s",
                    st->path, obj, name, got);
        goto fail;
    }
    hclose(&sp);
    hclose(&t);
    return ST_OK;
fail:
    hclose(&sp);
    hclose(&t);
    hclose(a);
    hclose(o);
    return s;
}

Status store_get_attr_str(Store *st, const char *obj, const char *name, char *buf, size_t cap,
                          Err *e) {
    if (!buf || cap == 0) return err_set(e, ST_INVALID, "store_get_attr_str: no buffer");
    buf[0] = '\0';
    hid_t o = H5I_INVALID_HID, a = H5I_INVALID_HID;
    Status s = open_attr(st, obj, name, H5T_STRING, &o, &a, e);
    if (s) return s;
    char *v = NULL;
    s = read_string(a, 1, &v);
    if (s == ST_NOMEM) {
        err_set(e, s, "%s: out of memory", st->path);
    } else if (s) {
        err_set(e, s, "%s: %s: cannot read attribute '%s'", st->path, obj, name);
    } else if (strlen(v) >= cap) {
        s = err_set(e, ST_INVALID, "%s: %s: attribute '%s': value of %zu bytes does not fit "
                    "in a buffer of %zu", st->path, obj, name, strlen(v), cap);
    } else {
        memcpy(buf, v, strlen(v) + 1);
    }
    free(v);
    hclose(&a);
    hclose(&o);
    return s;
}

Status store_get_attr_i64(Store *st, const char *obj, const char *name, int64_t *v, Err *e) {
    if (!v) return err_set(e, ST_INVALID, "store_get_attr_i64: NULL output");
    hid_t o = H5I_INVALID_HID, a = H5I_INVALID_HID, t = H5I_INVALID_HID;
    Status s = open_attr(st, obj, name, H5T_INTEGER, &o, &a, e);
    if (s) return s;
    t = H5Aget_type(a);
    /* Any integer width converts exactly to int64 except uint64 above INT64_MAX. */
    int u64 = t >= 0 && H5Tget_sign(t) == H5T_SGN_NONE && H5Tget_size(t) == 8;
    if (u64) {
        uint64_t u = 0;
        if (H5Aread(a, H5T_NATIVE_UINT64, &u) < 0)
            s = ST_IO;
        else if (u > (uint64_t)INT64_MAX)
            s = err_set(e, ST_SHAPE, "%s: %s: attribute '%s': value %llu does not fit in int64",
                        st->path, obj, name, (unsigned long long)u);
        else
            *v = (int64_t)u;
    } else if (H5Aread(a, H5T_NATIVE_INT64, v) < 0) {
        s = ST_IO;
    }
    if (s == ST_IO) err_set(e, s, "%s: %s: cannot read attribute '%s'", st->path, obj, name);
    hclose(&t);
    hclose(&a);
    hclose(&o);
    return s;
}

Status store_get_attr_f64(Store *st, const char *obj, const char *name, double *v, Err *e) {
    if (!v) return err_set(e, ST_INVALID, "store_get_attr_f64: NULL output");
    hid_t o = H5I_INVALID_HID, a = H5I_INVALID_HID;
    Status s = open_attr(st, obj, name, H5T_FLOAT, &o, &a, e);
    if (s) return s;
    if (H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0)
        s = err_set(e, ST_IO, "%s: %s: cannot read attribute '%s'", st->path, obj, name);
    hclose(&a);
    hclose(&o);
    return s;
}
