/* store.c: the HDF5 store (see store.h): file lifecycle, i.e. create, atomic commit,
 * abort, open with format check, close. The other parts are store_data.c (numeric
 * datasets), store_attr.c (text datasets, attributes) and store_util.c (shared helpers).
 *
 * Design notes for all store*.c files:
 * - HDF5's automatic error-stack printing is switched off at every public entry point
 *   (library code never prints); failures are turned into our own messages of the form
 *   "PATH: NAME: expected ..., found ..." so that a user can tell which file and which
 *   tensor is wrong without reading an HDF5 stack dump.
 * - Every hid_t is closed on every path: functions keep their identifiers in locals
 *   initialised to H5I_INVALID_HID and release them through sto_hclose() in one cleanup
 *   block, so early error exits cannot leak.
 * - Strings (text datasets and string attributes) are written as variable-length UTF-8,
 *   which is what h5py writes and reads back as `str`; reading accepts both
 *   variable-length and fixed-length strings (h5py `np.bytes_`, Fortran space padding).
 * - Atomic writes: the data goes to "PATH.tmp.PID"; commit flushes, closes, fsyncs the
 *   file, renames it onto PATH and fsyncs the directory so that the rename itself is
 *   durable. Until the rename, PATH is never touched. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------- open / create */

Status store_create(Store **out, const char *path, const char *format, int version, Err *e) {
    sto_quiet();
    if (!out || !path || !format)
        return err_set(e, ST_INVALID, "store_create: NULL argument");
    *out = NULL;
    Store *st = calloc(1, sizeof *st);
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    hid_t fapl = H5I_INVALID_HID;
    Status s;
    if (!st || !tmp || !(st->path = sto_dup_str(path))) {
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
    st->deflate = STORE_DEFLATE_DEFAULT;

    /* SEMI close degree: H5Fclose fails rather than silently keeping the file open if
     * an object were still open, so store_commit never renames a half-flushed file. */
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI) >= 0)
        st->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    sto_hclose(&fapl);
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
    sto_quiet();
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
        sto_hclose(&st->file);
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
        char *dir = sto_dup_str(st->path);
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
    sto_quiet();
    sto_hclose(&st->file);
    if (st->tmp) {
        unlink(st->tmp);
        free(st->tmp);
    }
    free(st->path);
    free(st);
}

Status store_open(Store **out, const char *path, const char *format, int min_version,
                  int max_version, Err *e) {
    sto_quiet();
    if (!out || !path || !format) return err_set(e, ST_INVALID, "store_open: NULL argument");
    *out = NULL;
    /* open(2) first: a missing file or a permission problem gets its errno text rather
     * than the "not a readable HDF5 file" message reserved for bad contents. */
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_set(e, ST_IO, "%s: cannot open: %s", path, strerror(errno));
    close(fd);

    Store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = sto_dup_str(path))) {
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
    sto_quiet();
    sto_hclose(&st->file);
    free(st->path);
    free(st);
}
