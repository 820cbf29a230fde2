/* store_util.c: helpers shared by the store files (declared in store_internal.h):
 * silencing and closing HDF5 identifiers, describing types and shapes in messages,
 * checking dataset/group names and finding what a path leads to. */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sto_quiet: stop HDF5 from printing its error stack. Cheap; called at every entry point
 * because the setting is per-thread in thread-safe HDF5 builds. The first call, before any
 * other HDF5 function, also turns off the library's exit handler: when a write fails for a
 * full disk, H5Fclose of that file fails too and leaves it registered, and HDF5 1.10's exit
 * handler then closes it again and crashes (SEGV in H5F__close_cb). Our stores close and
 * unlink their own files (store_abort), so the handler has nothing to do for us. */
void sto_quiet(void) {
    static int first = 1;
    if (first) {
        first = 0;
        H5dont_atexit();
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* sto_hclose: close any kind of identifier we hold and mark it invalid. */
void sto_hclose(hid_t *id) {
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

char *sto_dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* sto_type_desc: numpy-style name of a file type for messages ("float32", "int16",
 * "string", ...), so that a mismatch message says what is actually in the file. */
void sto_type_desc(hid_t t, char *buf, size_t cap) {
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

/* sto_dims_desc: "[256, 128]" ("[]" for a scalar). */
void sto_dims_desc(char *buf, size_t cap, int ndim, const int64_t *dims) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* sto_space_dims: rank and dims of a dataspace; rank -1 for a null (empty) dataspace or
 * a rank above STORE_MAX_DIMS (which we cannot describe in an int64_t[8]). */
int sto_space_dims(hid_t space, int64_t *dims) {
    if (H5Sget_simple_extent_type(space) == H5S_NULL) return -1;
    int r = H5Sget_simple_extent_ndims(space);
    if (r < 0 || r > STORE_MAX_DIMS) return -1;
    hsize_t h[STORE_MAX_DIMS];
    if (r > 0 && H5Sget_simple_extent_dims(space, h, NULL) < 0) return -1;
    for (int i = 0; i < r; i++) dims[i] = (int64_t)h[i];
    return r;
}

void sto_space_desc(hid_t space, char *buf, size_t cap) {
    int64_t d[STORE_MAX_DIMS];
    int r = sto_space_dims(space, d);
    if (r < 0) {
        if (H5Sget_simple_extent_type(space) == H5S_NULL)
            snprintf(buf, cap, "null dataspace");
        else
            snprintf(buf, cap, "rank %d", H5Sget_simple_extent_ndims(space));
        return;
    }
    sto_dims_desc(buf, cap, r, d);
}

/* sto_check_name: absolute path, no empty components, bounded length. allow_root permits
 * "/" itself (attributes on the root group). */
Status sto_check_name(const Store *st, const char *name, int allow_root, Err *e) {
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

/* open_kind: the kind of object an existing link leads to (a dangling soft link
 * counts as missing). */
static ObjKind open_kind(hid_t file, const char *name) {
    hid_t o = H5Oopen(file, name, H5P_DEFAULT);
    if (o < 0) return OBJ_MISSING;
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    return t == H5I_GROUP ? OBJ_GROUP : t == H5I_DATASET ? OBJ_DATASET : OBJ_OTHER;
}

/* sto_obj_kind: what lives at absolute path name (already validated by sto_check_name).
 * H5Lexists on "/a/b/c" fails (rather than answering 0) when "/a/b" is missing, so we
 * walk the levels one by one and stop at the first missing one. If an intermediate
 * level exists but is not a group, it is copied into blocker (when non-NULL) and the
 * result is OBJ_MISSING. */
ObjKind sto_obj_kind(hid_t file, const char *name, char *blocker) {
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

Status sto_need_writable(const Store *st, Err *e) {
    if (!st->tmp && !st->image)
        return err_set(e, ST_INVALID, "%s: store is open for reading, not writing", st->path);
    return ST_OK;
}

Status sto_check_new(const Store *st, const char *name, Err *e) {
    char blocker[NAME_MAX_LEN];
    if (sto_obj_kind(st->file, name, blocker) != OBJ_MISSING)
        return err_set(e, ST_INVALID, "%s: %s: already exists", st->path, name);
    if (blocker[0])
        return err_set(e, ST_INVALID, "%s: %s: cannot create, %s is a dataset, not a group",
                       st->path, name, blocker);
    return ST_OK;
}

hid_t sto_link_props(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0 && (H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
                      H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0))
        sto_hclose(&lcpl);
    return lcpl;
}

/* sto_open_dataset: open an existing dataset, with a "missing dataset" message otherwise. */
Status sto_open_dataset(Store *st, const char *name, hid_t *ds, Err *e) {
    Status s = sto_check_name(st, name, 0, e);
    if (s) return s;
    char blocker[NAME_MAX_LEN];
    ObjKind k = sto_obj_kind(st->file, name, blocker);
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

Status sto_open_dataset_typed(Store *st, const char *name, hid_t *ds, hid_t *space,
                              hid_t *ftype, Err *e) {
    Status s = sto_open_dataset(st, name, ds, e);
    if (s) return s;
    *space = H5Dget_space(*ds);
    *ftype = H5Dget_type(*ds);
    if (*space < 0 || *ftype < 0) {
        sto_close_dataset_typed(ds, space, ftype);
        return err_set(e, ST_IO, "%s: %s: cannot query dataset", st->path, name);
    }
    return ST_OK;
}

void sto_close_dataset_typed(hid_t *ds, hid_t *space, hid_t *ftype) {
    sto_hclose(ftype);
    sto_hclose(space);
    sto_hclose(ds);
}
