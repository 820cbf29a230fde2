/* store_attr.c: strings in the HDF5 store (see store.h): text datasets and typed
 * attributes (string, int64, float64) on groups and datasets. Strings are written as
 * variable-length UTF-8 and read back from variable- or fixed-length strings. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

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
        *out = sto_dup_str(p ? p : "");
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
    sto_hclose(&mtype);
    sto_hclose(&space);
    sto_hclose(&ftype);
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

/* ------------------------------------------------------------------- text */

Status store_write_text(Store *st, const char *name, const char *text, Err *e) {
    sto_quiet();
    if (!st) return err_set(e, ST_INVALID, "store_write_text: NULL store");
    Status s = sto_need_writable(st, e);
    if (s) return s;
    if ((s = sto_check_name(st, name, 0, e))) return s;
    if (!text) return err_set(e, ST_INVALID, "%s: %s: NULL text", st->path, name);
    if ((s = sto_check_new(st, name, e))) return s;

    /* A scalar variable-length UTF-8 string: h5py reads it as str (after .asstr()) and
     * it holds any length without choosing a fixed size. */
    hid_t space = H5Screate(H5S_SCALAR), type = vlen_utf8();
    hid_t lcpl = sto_link_props(), ds = H5I_INVALID_HID;
    s = ST_IO;
    if (space < 0 || type < 0 || lcpl < 0) goto fail;
    ds = H5Dcreate2(st->file, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0) goto fail;
    if (H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0) goto fail;
    s = ST_OK;
fail:
    if (s) err_set(e, s, "%s: %s: cannot write text dataset", st->path, name);
    sto_hclose(&ds);
    sto_hclose(&lcpl);
    sto_hclose(&type);
    sto_hclose(&space);
    return s;
}

Status store_read_text(Store *st, const char *name, char **out, Err *e) {
    sto_quiet();
    if (!st || !out) return err_set(e, ST_INVALID, "store_read_text: NULL argument");
    *out = NULL;
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    Status s = sto_open_dataset_typed(st, name, &ds, &space, &ftype, e);
    if (s) return s;
    if (H5Tget_class(ftype) != H5T_STRING || !single_element(space)) {
        char ftn[64], got[256];
        sto_type_desc(ftype, ftn, sizeof ftn);
        sto_space_desc(space, got, sizeof got);
        s = err_set(e, ST_SHAPE, "%s: %s: expected text (a scalar string), found %s %s",
                    st->path, name, got, ftn);
        goto done;
    }
    s = read_string(ds, 0, out);
    if (s == ST_NOMEM) err_set(e, s, "%s: %s: out of memory", st->path, name);
    else if (s) err_set(e, s, "%s: %s: cannot read text dataset", st->path, name);
done:
    sto_close_dataset_typed(&ds, &space, &ftype);
    return s;
}

/* ------------------------------------------------------------- attributes */

/* class_kind: the three attribute kinds the API knows, by type class. */
static const char *class_kind(H5T_class_t c) {
    switch (c) {
    case H5T_STRING: return "string";
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    default: return "other";
    }
}

/* open_obj: open the group or dataset obj ("/" for the root). */
static Status open_obj(Store *st, const char *obj, hid_t *o, Err *e) {
    Status s = sto_check_name(st, obj, 1, e);
    if (s) return s;
    ObjKind k = sto_obj_kind(st->file, obj, NULL);
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
    sto_quiet();
    if (!st || !name || !name[0]) return err_set(e, ST_INVALID, "store_set_attr: bad argument");
    Status s = sto_need_writable(st, e);
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
    sto_hclose(&a);
    sto_hclose(&space);
    sto_hclose(&o);
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
    sto_quiet();
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
            sto_type_desc(t, ftn, sizeof ftn);
        else
            snprintf(ftn, sizeof ftn, "%s", class_kind(c));
        s = err_set(e, ST_SHAPE, "%s: %s: attribute '%s': expected %s, found %s", st->path, obj,
                    name, class_kind(want), ftn);
        goto fail;
    }
    if (!single_element(sp)) {
        char got[256];
        sto_space_desc(sp, got, sizeof got);
        s = err_set(e, ST_SHAPE, "%s: %s: attribute '%s': expected a single value, found shape %s",
                    st->path, obj, name, got);
        goto fail;
    }
    sto_hclose(&sp);
    sto_hclose(&t);
    return ST_OK;
fail:
    sto_hclose(&sp);
    sto_hclose(&t);
    sto_hclose(a);
    sto_hclose(o);
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
    sto_hclose(&a);
    sto_hclose(&o);
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
    sto_hclose(&t);
    sto_hclose(&a);
    sto_hclose(&o);
    return s;
}

Status store_get_attr_f64(Store *st, const char *obj, const char *name, double *v, Err *e) {
    if (!v) return err_set(e, ST_INVALID, "store_get_attr_f64: NULL output");
    hid_t o = H5I_INVALID_HID, a = H5I_INVALID_HID;
    Status s = open_attr(st, obj, name, H5T_FLOAT, &o, &a, e);
    if (s) return s;
    if (H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0)
        s = err_set(e, ST_IO, "%s: %s: cannot read attribute '%s'", st->path, obj, name);
    sto_hclose(&a);
    sto_hclose(&o);
    return s;
}

Status store_get_attr_int(Store *st, const char *obj, const char *name, int lo, int hi, int *v,
                          Err *e) {
    int64_t x = 0;
    Status s = store_get_attr_i64(st, obj, name, &x, e);
    if (s) return s;
    if (x < lo || x > hi)
        return err_set(e, ST_FORMAT, "%s: %s: attribute '%s': expected a value in [%d, %d], found "
                       "%lld", st->path, obj, name, lo, hi, (long long)x);
    *v = (int)x;
    return ST_OK;
}
