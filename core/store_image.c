/* store_image.c: stores held in memory as HDF5 file images (store.h): written with HDF5's core
 * driver and no backing file, taken out as the bytes a file would hold, and opened again
 * from such bytes (a copy: the caller's buffer is not kept). They carry one process's part
 * of a checkpoint to the process that writes it (core/dist.h), and back on resume. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include <H5Fpublic.h>

/* core_fapl: file access through the core driver, no backing store; with image, opened
   from a copy of those bytes */
static hid_t core_fapl(const void *image, size_t len) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    if (H5Pset_fapl_core(fapl, (size_t)1 << 16, 0) < 0 ||
        (image && H5Pset_file_image(fapl, (void *)(uintptr_t)image, len) < 0))
        sto_hclose(&fapl);
    return fapl;
}

Status store_create_image(Store **out, const char *name, const char *format, int version,
                          Err *e) {
    sto_quiet();
    *out = NULL;
    Store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = sto_dup_str(name))) {
        free(st);
        return err_set(e, ST_NOMEM, "%s: out of memory", name);
    }
    st->image = 1, st->version = version, st->deflate = STORE_DEFLATE_DEFAULT;
    hid_t fapl = core_fapl(NULL, 0);
    st->file = fapl >= 0 ? H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : H5I_INVALID_HID;
    sto_hclose(&fapl);
    Status s = st->file < 0 ? err_set(e, ST_IO, "%s: cannot create an in-memory HDF5 file", name)
                            : ST_OK;
    if (!s) s = store_set_attr_str(st, "/", "format", format, e);
    if (!s) s = store_set_attr_i64(st, "/", "format_version", version, e);
    if (s) {
        store_close(st);
        return s;
    }
    *out = st;
    return ST_OK;
}

Status store_image_bytes(Store *st, uint8_t **buf, size_t *len, Err *e) {
    sto_quiet();
    *buf = NULL, *len = 0;
    if (!st->image) return err_set(e, ST_INVALID, "%s: not an in-memory store", st->path);
    ssize_t n = H5Fflush(st->file, H5F_SCOPE_LOCAL) < 0 ? -1 : H5Fget_file_image(st->file, NULL, 0);
    if (n <= 0) return err_set(e, ST_IO, "%s: cannot take the in-memory file's image", st->path);
    *buf = malloc((size_t)n);
    if (!*buf) return err_set(e, ST_NOMEM, "%s: out of memory (%zd bytes)", st->path, n);
    if (H5Fget_file_image(st->file, *buf, (size_t)n) != n) {
        free(*buf), *buf = NULL;
        return err_set(e, ST_IO, "%s: cannot take the in-memory file's image", st->path);
    }
    *len = (size_t)n;
    return ST_OK;
}

Status store_open_image(Store **out, const char *name, const void *buf, size_t len,
                        const char *format, int min_version, int max_version, Err *e) {
    sto_quiet();
    *out = NULL;
    Store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = sto_dup_str(name))) {
        free(st);
        return err_set(e, ST_NOMEM, "%s: out of memory", name);
    }
    hid_t fapl = len ? core_fapl(buf, len) : H5I_INVALID_HID;
    st->file = fapl >= 0 ? H5Fopen(name, H5F_ACC_RDONLY, fapl) : H5I_INVALID_HID;
    sto_hclose(&fapl);
    char fmt[256];
    int64_t v = 0;
    Status s = st->file < 0 ? err_set(e, ST_FORMAT, "%s: not a readable HDF5 image (%zu bytes)",
                                      name, len)
                            : ST_OK;
    if (!s) s = store_get_attr_str(st, "/", "format", fmt, sizeof fmt, e);
    if (!s && strcmp(fmt, format))
        s = err_set(e, ST_FORMAT, "%s: format: expected '%s', found '%s'", name, format, fmt);
    if (!s) s = store_get_attr_i64(st, "/", "format_version", &v, e);
    if (!s && (v < min_version || v > max_version))
        s = err_set(e, ST_FORMAT, "%s: format_version: expected %d..%d, found %lld", name,
                    min_version, max_version, (long long)v);
    if (s) {
        store_close(st);
        if (s == ST_MISSING && e) e->status = ST_FORMAT; /* no root attribute: not ours */
        return s == ST_MISSING ? ST_FORMAT : s;
    }
    st->version = (int)v;
    *out = st;
    return ST_OK;
}
