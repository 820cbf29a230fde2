/* store_util.h: what the tests of core/store.c share: a mkdtemp directory for their files
 * (tpath, removed at the end), file helpers, HDF5 identifier leak detection (id_mark/id_leaks),
 * EXPECT_MSG for exact error messages, and the harness (store_test_run) that sends stderr to a
 * file while the library runs and requires it to stay empty (the library never prints).
 * Header-only (static), test code only. */
#ifndef DRRL_TESTS_CORE_STORE_UTIL_H
#define DRRL_TESTS_CORE_STORE_UTIL_H

#include "core/store.h"
#include "tests/check.h"

#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static char tmpdir[256];

/* tpath: path of a file in the temp dir (rotating static buffers). */
static inline const char *tpath(const char *name) {
    static char bufs[8][512];
    static int k = 0;
    char *b = bufs[k++ % 8];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static inline int file_exists(const char *p) { return access(p, F_OK) == 0; }

static inline long long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* count_tmp_files: files in the temp dir whose name contains ".tmp." */
static inline int count_tmp_files(void) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static inline void remove_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) unlink(tpath(de->d_name));
    if (d) closedir(d);
    rmdir(tmpdir);
}

static inline int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b) fclose(b);
    return ok;
}

/* Identifier leak detection. H5Inmembers refuses the library's own id types, so:
 * - open file objects (files, groups, datasets, attributes) are counted with
 *   H5Fget_obj_count, which must be 0 whenever no store is open;
 * - dataspaces, datatypes and property lists are found by probing: HDF5 1.10 hands out
 *   the ids of each type from an increasing counter, so every id created between two
 *   probe ids lies between them numerically, and any of them still valid (H5Iis_valid)
 *   afterwards was never closed. */
enum { NPROBE = 3 };
typedef struct {
    hid_t lo[NPROBE];
} IdMark;

static inline hid_t probe_id(int k) {
    hid_t id = k == 0 ? H5Screate(H5S_SCALAR)
             : k == 1 ? H5Tcopy(H5T_NATIVE_INT)
                      : H5Pcreate(H5P_DATASET_XFER);
    if (k == 0) H5Sclose(id);
    else if (k == 1) H5Tclose(id);
    else H5Pclose(id);
    return id;
}

static inline IdMark id_mark(void) {
    IdMark m;
    for (int k = 0; k < NPROBE; k++) m.lo[k] = probe_id(k);
    return m;
}

/* id_leaks: identifiers opened since m and still open, plus open file objects. */
static inline long long id_leaks(IdMark m) {
    long long n = (long long)H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
    for (int k = 0; k < NPROBE; k++) {
        hid_t hi = probe_id(k);
        for (hid_t id = m.lo[k] + 1; id < hi; id++) n += H5Iis_valid(id) > 0;
    }
    return n;
}

/* W: format an expected message (into a static buffer). */
static char want_buf[ERR_MSG_MAX];
#define W(...) (snprintf(want_buf, sizeof want_buf, __VA_ARGS__), want_buf)

/* EXPECT_MSG: call (which reports into the Err e in scope) fails with status st_ and a
 * message equal to want. */
#define EXPECT_MSG(call, st_, want)                                                         \
    do {                                                                                    \
        Status s_ = (call);                                                                 \
        const char *w_ = (want);                                                            \
        CHECK(s_ == (st_), "%s: status %s, expected %s (msg: %s)", #call, status_name(s_),  \
              status_name(st_), e.msg);                                                     \
        CHECK(strcmp(e.msg, w_) == 0, "message\n  got:      %s\n  expected: %s", e.msg, w_); \
    } while (0)

/* check_format: the root attributes every store has, format (a string) and format_version */
static inline void check_format(Store *st, const char *format, int64_t version) {
    Err e = {0};
    char s[64] = "";
    int64_t iv = 0;
    CHECK(store_get_attr_str(st, "/", "format", s, sizeof s, &e) == ST_OK, "%s", e.msg);
    CHECK(strcmp(s, format) == 0, "format '%s', expected '%s'", s, format);
    CHECK(store_get_attr_i64(st, "/", "format_version", &iv, &e) == ST_OK && iv == version,
          "format_version %lld, expected %lld: %s", (long long)iv, (long long)version, e.msg);
}

/* The stderr capture of store_test_begin/store_test_end. */
static int saved_err = -1, logfd = -1;
static char errlog[600];

/* store_test_begin: make the temp dir NAME.XXXXXX under $TMPDIR (or /tmp) and send stderr to
 * a file in it; returns 0, or 77 (skip) if the directory cannot be made. */
static inline int store_test_begin(const char *name) {
    snprintf(tmpdir, sizeof tmpdir, "%s/%s.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             name);
    if (!mkdtemp(tmpdir)) return check_skip(name, "mkdtemp failed");
    /* The library must never print: send stderr to a file while it runs and require the
     * file to hold nothing but our own CHECK failures (which also fail the test). */
    fflush(stderr);
    saved_err = dup(2);
    snprintf(errlog, sizeof errlog, "%s", tpath("stderr.log"));
    logfd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved_err >= 0 && logfd >= 0) dup2(logfd, 2);

    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the test's own direct HDF5 probes */
    return 0;
}

/* store_test_end: restore stderr, replay what was written to it (one CHECK: nothing), remove
 * the temp dir (kept with DRRL_KEEP_TMP set) and return check_exit(name). */
static inline int store_test_end(const char *name) {
    fflush(stderr);
    if (saved_err >= 0 && logfd >= 0) {
        dup2(saved_err, 2);
        close(saved_err);
        close(logfd);
        FILE *lf = fopen(errlog, "r");
        char line[1024];
        int lines = 0;
        while (lf && fgets(line, sizeof line, lf)) {
            fputs(line, stderr);
            lines++;
        }
        if (lf) fclose(lf);
        CHECK(lines == 0, "%d lines were written to stderr (above)", lines);
    }
    if (getenv("DRRL_KEEP_TMP")) /* debugging: keep the files for inspection */
        printf("%s: files kept in %s\n", name, tmpdir);
    else
        remove_tmpdir();
    return check_exit(name);
}

/* store_test_run: store_test_begin, then each of tests[0..n) in order, then store_test_end. */
static inline int store_test_run(const char *name, void (*const *tests)(void), int n) {
    int rc = store_test_begin(name);
    if (rc) return rc;
    for (int i = 0; i < n; i++) tests[i]();
    return store_test_end(name);
}

#endif
