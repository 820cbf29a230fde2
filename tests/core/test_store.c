/* test_store.c: tests for core/store.c, the HDF5 store.
 *
 * Covers round trips of every DType (nested groups, scalars, empty tensors), chunked +
 * compressed large tensors (checked through HDF5 directly), text datasets, attributes of
 * all kinds, the exact error messages for every mismatch, crash/abort/replace atomicity
 * of writes (a forked child is SIGKILLed mid-write), files written by h5py, and that the
 * library neither prints anything nor leaks HDF5 identifiers. All files live in a mkdtemp
 * directory that is removed at the end. */
#include "core/store.h"
#include "tests/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

/* tpath: path of a file in the temp dir (rotating static buffers). */
static const char *tpath(const char *name) {
    static char bufs[8][512];
    static int k = 0;
    char *b = bufs[k++ % 8];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

static long long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* count_tmp_files: files in the temp dir whose name contains ".tmp." */
static int count_tmp_files(void) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void remove_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) unlink(tpath(de->d_name));
    if (d) closedir(d);
    rmdir(tmpdir);
}

static int copy_file(const char *from, const char *to) {
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

static hid_t probe_id(int k) {
    hid_t id = k == 0 ? H5Screate(H5S_SCALAR)
             : k == 1 ? H5Tcopy(H5T_NATIVE_INT)
                      : H5Pcreate(H5P_DATASET_XFER);
    if (k == 0) H5Sclose(id);
    else if (k == 1) H5Tclose(id);
    else H5Pclose(id);
    return id;
}

static IdMark id_mark(void) {
    IdMark m;
    for (int k = 0; k < NPROBE; k++) m.lo[k] = probe_id(k);
    return m;
}

/* id_leaks: identifiers opened since m and still open, plus open file objects. */
static long long id_leaks(IdMark m) {
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

/* ----------------------------------------------------------------- data */

static float f32a[2][3][4];
static double f64a[3][5];
static int32_t i32a[4][2][2];
static int64_t i64a[7];
static uint64_t u64a[2][2];
static uint8_t u8a[3][3][3];
static char big_text[6000];

static void fill_data(void) {
    for (int i = 0; i < 24; i++) (&f32a[0][0][0])[i] = (float)i * 0.5f - 3.25f;
    for (int i = 0; i < 15; i++) (&f64a[0][0])[i] = 1.0 / (i + 1) - 1e300 * (i == 7);
    for (int i = 0; i < 16; i++) (&i32a[0][0][0])[i] = i * 1000003 - INT32_MAX / 2;
    for (int i = 0; i < 7; i++) i64a[i] = (int64_t)i * 3000000000000LL - INT64_MAX / 3;
    u64a[0][0] = UINT64_MAX;
    u64a[0][1] = 0;
    u64a[1][0] = (uint64_t)1 << 63;
    u64a[1][1] = 12345;
    for (int i = 0; i < 27; i++) (&u8a[0][0][0])[i] = (uint8_t)(i * 9);
    /* multi-KB text with newlines and multi-byte UTF-8 */
    size_t n = 0;
    for (int line = 0; n + 100 < sizeof big_text; line++)
        n += (size_t)snprintf(big_text + n, sizeof big_text - n,
                              "line %d: héllo wörld → ✓ 日本語 tab\there\n", line);
}

/* ------------------------------------------------------------ round trip */

static void write_roundtrip(const char *p) {
    Err e = {0};
    Store *st = NULL;
    CHECK(store_create(&st, p, "drrl-test", 2, &e) == ST_OK, "create: %s", e.msg);
    if (!st) return;
    const int64_t d_f32[] = {2, 3, 4}, d_f64[] = {3, 5}, d_i32[] = {4, 2, 2}, d_i64[] = {7},
                  d_u64[] = {2, 2}, d_u8[] = {3, 3, 3}, d_empty[] = {0, 4};
    CHECK(store_write(st, "/layers/3/attn/w_q", DT_F32, f32a, 3, d_f32, &e) == ST_OK, "%s",
          e.msg);
    CHECK(store_write(st, "/layers/3/attn/w_k", DT_F64, f64a, 2, d_f64, &e) == ST_OK, "%s",
          e.msg);
    CHECK(store_write(st, "/layers/0/mlp/idx", DT_I32, i32a, 3, d_i32, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/i64", DT_I64, i64a, 1, d_i64, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/a/b/c/d/e/u64", DT_U64, u64a, 2, d_u64, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/layers/3/u8", DT_U8, u8a, 3, d_u8, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/empty", DT_F32, NULL, 2, d_empty, &e) == ST_OK, "%s", e.msg);
    double sc = 2.718281828459045;
    int64_t step = 123456789012LL;
    CHECK(store_write(st, "/scalar", DT_F64, &sc, 0, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/meta/step", DT_I64, &step, 0, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write_text(st, "/config/resolved", big_text, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write_text(st, "/config/empty", "", &e) == ST_OK, "%s", e.msg);
    /* attributes of every kind on root, group and dataset */
    CHECK(store_set_attr_str(st, "/", "model", "gpt2-small ✓", &e) == ST_OK, "%s", e.msg);
    CHECK(store_set_attr_i64(st, "/", "seed", -42, &e) == ST_OK, "%s", e.msg);
    CHECK(store_set_attr_f64(st, "/", "lr", 3e-4, &e) == ST_OK, "%s", e.msg);
    CHECK(store_set_attr_str(st, "/layers/3", "kind", "attn", &e) == ST_OK, "%s", e.msg);
    CHECK(store_set_attr_i64(st, "/layers/3", "heads", 12, &e) == ST_OK, "%s", e.msg);
    CHECK(store_set_attr_f64(st, "/layers/3", "scale", 0.125, &e) == ST_OK, "%s", e.msg);
    CHECK(store_set_attr_str(st, "/layers/3/attn/w_q", "layout", "row-major", &e) == ST_OK, "%s",
          e.msg);
    CHECK(store_set_attr_i64(st, "/layers/3/attn/w_q", "rank", INT64_MIN, &e) == ST_OK, "%s",
          e.msg);
    CHECK(store_set_attr_f64(st, "/layers/3/attn/w_q", "norm", -1.5e-300, &e) == ST_OK, "%s",
          e.msg);
    /* setting an attribute again replaces it */
    CHECK(store_set_attr_i64(st, "/", "seed", 7, &e) == ST_OK, "%s", e.msg);

    /* write-side errors */
    EXPECT_MSG(store_write(st, "/layers/3/attn/w_q", DT_F32, f32a, 3, d_f32, &e), ST_INVALID,
               W("%s: /layers/3/attn/w_q: already exists", p));
    EXPECT_MSG(store_write_text(st, "/layers/3", "x", &e), ST_INVALID,
               W("%s: /layers/3: already exists", p));
    EXPECT_MSG(store_write(st, "/layers/3/attn/w_q/sub", DT_F32, f32a, 3, d_f32, &e), ST_INVALID,
               W("%s: /layers/3/attn/w_q/sub: cannot create, /layers/3/attn/w_q is a "
                         "dataset, not a group",
                         p));
    EXPECT_MSG(store_write(st, "relative/x", DT_F32, f32a, 3, d_f32, &e), ST_INVALID,
               W("%s: 'relative/x': name must be an absolute path like /a/b", p));
    EXPECT_MSG(store_set_attr_i64(st, "/nope", "x", 1, &e), ST_MISSING,
               W("%s: /nope: missing group or dataset", p));
    /* reading back from a store being written works too */
    float back[2][3][4];
    CHECK(store_read(st, "/layers/3/attn/w_q", DT_F32, back, 3, d_f32, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(back, f32a, sizeof back) == 0, "read-while-writing differs");

    CHECK(store_commit(st, &e) == ST_OK, "commit: %s", e.msg);
    CHECK(count_tmp_files() == 0, "temp file left after commit");
}

static void test_roundtrip(void) {
    IdMark idm = id_mark();
    const char *p = tpath("rt.h5");
    write_roundtrip(p);
    Err e = {0};
    Store *st = NULL;
    CHECK(store_open(&st, p, "drrl-test", 1, 2, &e) == ST_OK, "open: %s", e.msg);
    if (!st) return;
    CHECK(store_version(st) == 2, "version %d", store_version(st));
    CHECK(strcmp(store_path(st), p) == 0, "path %s", store_path(st));

    float f32b[2][3][4];
    double f64b[3][5];
    int32_t i32b[4][2][2];
    int64_t i64b[7];
    uint64_t u64b[2][2];
    uint8_t u8b[3][3][3];
    const int64_t d_f32[] = {2, 3, 4}, d_f64[] = {3, 5}, d_i32[] = {4, 2, 2}, d_i64[] = {7},
                  d_u64[] = {2, 2}, d_u8[] = {3, 3, 3}, d_empty[] = {0, 4};
    CHECK(store_read(st, "/layers/3/attn/w_q", DT_F32, f32b, 3, d_f32, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(f32a, f32b, sizeof f32a) == 0, "f32 differs");
    CHECK(store_read(st, "/layers/3/attn/w_k", DT_F64, f64b, 2, d_f64, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(f64a, f64b, sizeof f64a) == 0, "f64 differs");
    CHECK(store_read(st, "/layers/0/mlp/idx", DT_I32, i32b, 3, d_i32, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(i32a, i32b, sizeof i32a) == 0, "i32 differs");
    CHECK(store_read(st, "/i64", DT_I64, i64b, 1, d_i64, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(i64a, i64b, sizeof i64a) == 0, "i64 differs");
    CHECK(store_read(st, "/a/b/c/d/e/u64", DT_U64, u64b, 2, d_u64, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(u64a, u64b, sizeof u64a) == 0, "u64 differs");
    CHECK(store_read(st, "/layers/3/u8", DT_U8, u8b, 3, d_u8, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(u8a, u8b, sizeof u8a) == 0, "u8 differs");
    CHECK(store_read(st, "/empty", DT_F32, NULL, 2, d_empty, &e) == ST_OK, "%s", e.msg);
    double sc = 0;
    int64_t step = 0;
    CHECK(store_read(st, "/scalar", DT_F64, &sc, 0, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(sc == 2.718281828459045, "scalar %g", sc);
    CHECK(store_read(st, "/meta/step", DT_I64, &step, 0, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(step == 123456789012LL, "step %lld", (long long)step);

    /* shapes */
    int nd = -1;
    int64_t dims[STORE_MAX_DIMS];
    DType t = DT_U8;
    CHECK(store_shape(st, "/layers/3/attn/w_q", &nd, dims, &t, &e) == ST_OK, "%s", e.msg);
    CHECK(nd == 3 && dims[0] == 2 && dims[1] == 3 && dims[2] == 4 && t == DT_F32, "shape w_q");
    CHECK(store_shape(st, "/a/b/c/d/e/u64", &nd, dims, &t, &e) == ST_OK, "%s", e.msg);
    CHECK(nd == 2 && dims[0] == 2 && dims[1] == 2 && t == DT_U64, "shape u64");
    CHECK(store_shape(st, "/meta/step", &nd, dims, &t, &e) == ST_OK, "%s", e.msg);
    CHECK(nd == 0 && t == DT_I64, "shape scalar: nd %d", nd);
    CHECK(store_shape(st, "/empty", &nd, dims, &t, &e) == ST_OK, "%s", e.msg);
    CHECK(nd == 2 && dims[0] == 0 && dims[1] == 4, "shape empty");

    /* existence, including nested missing paths and paths below a dataset */
    CHECK(store_exists(st, "/"), "root");
    CHECK(store_exists(st, "/layers"), "/layers");
    CHECK(store_exists(st, "/layers/3/attn"), "group");
    CHECK(store_exists(st, "/layers/3/attn/w_q"), "dataset");
    CHECK(!store_exists(st, "/layers/4"), "missing");
    CHECK(!store_exists(st, "/no/such/deep/path"), "deep missing");
    CHECK(!store_exists(st, "/layers/3/attn/w_q/below"), "below dataset");
    CHECK(!store_exists(st, "relative"), "relative");
    CHECK(!store_exists(st, "/layers/"), "trailing slash");
    CHECK(!store_exists(st, NULL), "NULL");

    /* text */
    char *txt = NULL;
    CHECK(store_read_text(st, "/config/resolved", &txt, &e) == ST_OK, "%s", e.msg);
    CHECK(txt && strcmp(txt, big_text) == 0, "text differs (len %zu vs %zu)",
          txt ? strlen(txt) : 0, strlen(big_text));
    free(txt);
    txt = NULL;
    CHECK(store_read_text(st, "/config/empty", &txt, &e) == ST_OK, "%s", e.msg);
    CHECK(txt && txt[0] == '\0', "empty text");
    free(txt);

    /* attributes */
    char buf[64];
    int64_t iv = 0;
    double dv = 0;
    CHECK(store_get_attr_str(st, "/", "format", buf, sizeof buf, &e) == ST_OK, "%s", e.msg);
    CHECK(strcmp(buf, "drrl-test") == 0, "format %s", buf);
    CHECK(store_get_attr_i64(st, "/", "format_version", &iv, &e) == ST_OK && iv == 2, "%s",
          e.msg);
    CHECK(store_get_attr_str(st, "/", "model", buf, sizeof buf, &e) == ST_OK, "%s", e.msg);
    CHECK(strcmp(buf, "gpt2-small ✓") == 0, "model %s", buf);
    CHECK(store_get_attr_i64(st, "/", "seed", &iv, &e) == ST_OK && iv == 7, "seed %lld %s",
          (long long)iv, e.msg);
    CHECK(store_get_attr_f64(st, "/", "lr", &dv, &e) == ST_OK && dv == 3e-4, "lr %g", dv);
    CHECK(store_get_attr_str(st, "/layers/3", "kind", buf, sizeof buf, &e) == ST_OK, "%s", e.msg);
    CHECK(strcmp(buf, "attn") == 0, "kind %s", buf);
    CHECK(store_get_attr_i64(st, "/layers/3", "heads", &iv, &e) == ST_OK && iv == 12, "heads");
    CHECK(store_get_attr_f64(st, "/layers/3", "scale", &dv, &e) == ST_OK && dv == 0.125, "scale");
    CHECK(store_get_attr_str(st, "/layers/3/attn/w_q", "layout", buf, sizeof buf, &e) == ST_OK,
          "%s", e.msg);
    CHECK(strcmp(buf, "row-major") == 0, "layout %s", buf);
    CHECK(store_get_attr_i64(st, "/layers/3/attn/w_q", "rank", &iv, &e) == ST_OK &&
              iv == INT64_MIN,
          "rank");
    CHECK(store_get_attr_f64(st, "/layers/3/attn/w_q", "norm", &dv, &e) == ST_OK &&
              dv == -1.5e-300,
          "norm");
    store_close(st);
    CHECK(id_leaks(idm) == 0, "%lld HDF5 identifiers leaked", id_leaks(idm));
}

/* ------------------------------------------------------- chunked tensors */

/* check_layout: contiguous or chunked with these chunk dims; chunked ones have the shuffle
   filter and, when level > 0, deflate at that level */
static void check_layout(hid_t f, const char *name, int chunked, int ndim, const hsize_t *cdims,
                         unsigned level) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t pl = d >= 0 ? H5Dget_create_plist(d) : -1;
    CHECK(pl >= 0, "%s: cannot get creation plist", name);
    if (pl >= 0) {
        H5D_layout_t lay = H5Pget_layout(pl);
        CHECK(lay == (chunked ? H5D_CHUNKED : H5D_CONTIGUOUS), "%s: layout %d", name, (int)lay);
        int nf = H5Pget_nfilters(pl);
        int has_shuffle = 0, has_deflate = 0;
        for (int i = 0; i < nf; i++) {
            unsigned flags = 0, cd[8] = {0};
            size_t ncd = 8;
            char fname[64];
            unsigned conf = 0;
            H5Z_filter_t id = H5Pget_filter2(pl, (unsigned)i, &flags, &ncd, cd, sizeof fname,
                                             fname, &conf);
            if (id == H5Z_FILTER_SHUFFLE) has_shuffle = 1;
            if (id == H5Z_FILTER_DEFLATE) {
                has_deflate = 1;
                CHECK(ncd >= 1 && cd[0] == level, "%s: deflate level %u, expected %u", name, cd[0], level);
            }
        }
        CHECK(has_shuffle == chunked && has_deflate == (chunked && level > 0),
              "%s: filters shuffle=%d deflate=%d, expected %d", name, has_shuffle, has_deflate,
              chunked);
        if (chunked) {
            hsize_t c[STORE_MAX_DIMS] = {0};
            int r = H5Pget_chunk(pl, STORE_MAX_DIMS, c);
            CHECK(r == ndim, "%s: chunk rank %d", name, r);
            for (int i = 0; i < ndim && r == ndim; i++)
                CHECK(c[i] == cdims[i], "%s: chunk dim %d = %llu, expected %llu", name, i,
                      (unsigned long long)c[i], (unsigned long long)cdims[i]);
        }
        H5Pclose(pl);
    }
    if (d >= 0) H5Dclose(d);
}

static void test_chunked(void) {
    IdMark idm = id_mark();
    const char *p = tpath("big.h5");
    enum { R = 512, C = 1024 };
    float *big = malloc(sizeof(float) * R * C);
    float *back = malloc(sizeof(float) * R * C);
    double *rnd = malloc(sizeof(double) * 100 * 100);
    double *rnd2 = malloc(sizeof(double) * 100 * 100);
    float small[STORE_CHUNK_MIN], atmin[STORE_CHUNK_MIN];
    if (!big || !back || !rnd || !rnd2) {
        CHECK(0, "out of memory");
        goto out;
    }
    /* compressible: few distinct values, like quantised weights */
    for (size_t i = 0; i < (size_t)R * C; i++) big[i] = (float)(i % 37) * 0.25f - 2.0f;
    uint64_t x = 88172645463325252ULL; /* xorshift: incompressible doubles */
    for (int i = 0; i < 100 * 100; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        rnd[i] = (double)(x >> 11) * 0x1p-53;
    }
    for (int i = 0; i < STORE_CHUNK_MIN; i++) small[i] = atmin[i] = (float)i;

    Err e = {0};
    Store *st = NULL;
    CHECK(store_create(&st, p, "drrl-test", 1, &e) == ST_OK, "%s", e.msg);
    if (!st) goto out;
    const int64_t d_big[] = {R, C}, d_rnd[] = {100, 100}, d_small[] = {STORE_CHUNK_MIN - 1},
                  d_min[] = {16, STORE_CHUNK_MIN / 16};
    CHECK(store_write(st, "/rollout/obs", DT_F32, big, 2, d_big, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/rnd", DT_F64, rnd, 2, d_rnd, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/edge/below", DT_F32, small, 1, d_small, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/edge/at", DT_F32, atmin, 2, d_min, &e) == ST_OK, "%s", e.msg);
    /* the level applies to datasets written after it is set */
    CHECK(store_set_deflate(st, 10, &e) == ST_INVALID &&
              !strcmp(e.msg, "store_set_deflate: level: expected 0..9, found 10"), "%s", e.msg);
    CHECK(store_set_deflate(st, 1, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/level1", DT_F64, rnd, 2, d_rnd, &e) == ST_OK, "%s", e.msg);
    CHECK(store_set_deflate(st, 0, &e) == ST_OK, "%s", e.msg);
    CHECK(store_write(st, "/level0", DT_F64, rnd, 2, d_rnd, &e) == ST_OK, "%s", e.msg);
    CHECK(store_commit(st, &e) == ST_OK, "%s", e.msg);

    /* the big tensor compresses > 10x; /rnd, /level1 and /level0 (random doubles) do not */
    long long raw = (long long)sizeof(float) * R * C, sz = file_size(p);
    long long rest = 3 * (long long)sizeof(double) * 100 * 100;
    CHECK(sz > rest && sz < raw / 10 + rest, "file %lld bytes, raw tensor %lld bytes (+%lld "
          "incompressible): not compressed", sz, raw, rest);

    /* the layout as HDF5 itself reports it */
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0, "H5Fopen %s", p);
    if (f >= 0) {
        const hsize_t c_big[] = {256, 1024}, c_rnd[] = {100, 100},
                      c_min[] = {16, STORE_CHUNK_MIN / 16};
        check_layout(f, "/rollout/obs", 1, 2, c_big, STORE_DEFLATE_DEFAULT);
        check_layout(f, "/rnd", 1, 2, c_rnd, STORE_DEFLATE_DEFAULT);
        check_layout(f, "/edge/at", 1, 2, c_min, STORE_DEFLATE_DEFAULT);
        check_layout(f, "/edge/below", 0, 1, NULL, 0);
        check_layout(f, "/level1", 1, 2, c_rnd, 1);
        check_layout(f, "/level0", 1, 2, c_rnd, 0);
        H5Fclose(f);
    }

    CHECK(store_open(&st, p, "drrl-test", 1, 1, &e) == ST_OK, "%s", e.msg);
    if (!st) goto out;
    CHECK(store_read(st, "/rollout/obs", DT_F32, back, 2, d_big, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(back, big, sizeof(float) * R * C) == 0, "big tensor differs");
    CHECK(store_read(st, "/rnd", DT_F64, rnd2, 2, d_rnd, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(rnd, rnd2, sizeof(double) * 100 * 100) == 0, "random tensor differs");
    for (int k = 0; k < 2; k++) {
        memset(rnd2, 0, sizeof(double) * 100 * 100);
        CHECK(store_read(st, k ? "/level1" : "/level0", DT_F64, rnd2, 2, d_rnd, &e) == ST_OK,
              "%s", e.msg);
        CHECK(memcmp(rnd, rnd2, sizeof(double) * 100 * 100) == 0, "level %d tensor differs", k);
    }
    memset(small, 0, sizeof small);
    CHECK(store_read(st, "/edge/at", DT_F32, small, 2, d_min, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(small, atmin, sizeof small) == 0, "edge tensor differs");
    store_close(st);
out:
    free(big);
    free(back);
    free(rnd);
    free(rnd2);
    CHECK(id_leaks(idm) == 0, "%lld HDF5 identifiers leaked", id_leaks(idm));
}

/* ------------------------------------------------------------------ errors */

static void test_errors(void) {
    IdMark idm = id_mark();
    const char *p = tpath("rt.h5"); /* written by test_roundtrip */
    Err e = {0};
    Store *st = NULL;
    CHECK(store_open(&st, p, "drrl-test", 1, 2, &e) == ST_OK, "%s", e.msg);
    if (!st) return;
    float buf[64];
    const int64_t d_wrong[] = {2, 4, 3}, d_rank[] = {24}, d_ok[] = {2, 3, 4}, d_i64[] = {7},
                  d_3[] = {3};
    EXPECT_MSG(store_read(st, "/layers/3/attn/w_q", DT_F32, buf, 3, d_wrong, &e), ST_SHAPE,
               W("%s: /layers/3/attn/w_q: expected shape [2, 4, 3] float32, found [2, 3, 4] "
                 "float32",
                 p));
    EXPECT_MSG(store_read(st, "/layers/3/attn/w_q", DT_F32, buf, 1, d_rank, &e), ST_SHAPE,
               W("%s: /layers/3/attn/w_q: expected shape [24] float32, found [2, 3, 4] float32",
                 p));
    EXPECT_MSG(store_read(st, "/layers/3/attn/w_q", DT_I32, buf, 3, d_ok, &e), ST_SHAPE,
               W("%s: /layers/3/attn/w_q: expected int32, found float32", p));
    EXPECT_MSG(store_read(st, "/i64", DT_F64, buf, 1, d_i64, &e), ST_SHAPE,
               W("%s: /i64: expected float64, found int64", p));
    EXPECT_MSG(store_read(st, "/i64", DT_U64, buf, 1, d_i64, &e), ST_SHAPE,
               W("%s: /i64: expected uint64, found int64", p));
    EXPECT_MSG(store_read(st, "/meta/step", DT_I64, buf, 1, d_3, &e), ST_SHAPE,
               W("%s: /meta/step: expected shape [3] int64, found [] int64", p));
    EXPECT_MSG(store_read(st, "/layers/9/w_q", DT_F32, buf, 3, d_ok, &e), ST_MISSING,
               W("%s: /layers/9/w_q: missing dataset", p));
    EXPECT_MSG(store_read(st, "/layers/3/attn", DT_F32, buf, 3, d_ok, &e), ST_MISSING,
               W("%s: /layers/3/attn: expected a dataset, found a group", p));
    int nd;
    int64_t dims[STORE_MAX_DIMS];
    DType t;
    EXPECT_MSG(store_shape(st, "/nope", &nd, dims, &t, &e), ST_MISSING,
               W("%s: /nope: missing dataset", p));
    EXPECT_MSG(store_shape(st, "/config/resolved", &nd, dims, &t, &e), ST_SHAPE,
               W("%s: /config/resolved: expected float32, float64, int32, int64, uint64 or "
                 "uint8, found string",
                 p));
    char *txt = NULL;
    EXPECT_MSG(store_read_text(st, "/layers/3/attn/w_q", &txt, &e), ST_SHAPE,
               W("%s: /layers/3/attn/w_q: expected text (a scalar string), found [2, 3, 4] "
                 "float32",
                 p));
    CHECK(txt == NULL, "text output set on failure");
    EXPECT_MSG(store_read_text(st, "/config/missing", &txt, &e), ST_MISSING,
               W("%s: /config/missing: missing dataset", p));

    char s[64];
    int64_t iv;
    double dv;
    EXPECT_MSG(store_get_attr_str(st, "/", "nope", s, sizeof s, &e), ST_MISSING,
               W("%s: /: missing attribute 'nope'", p));
    EXPECT_MSG(store_get_attr_i64(st, "/layers/3/attn/w_q", "nope", &iv, &e), ST_MISSING,
               W("%s: /layers/3/attn/w_q: missing attribute 'nope'", p));
    EXPECT_MSG(store_get_attr_f64(st, "/layers/8", "scale", &dv, &e), ST_MISSING,
               W("%s: /layers/8: missing group or dataset", p));
    EXPECT_MSG(store_get_attr_i64(st, "/", "model", &iv, &e), ST_SHAPE,
               W("%s: /: attribute 'model': expected integer, found string", p));
    EXPECT_MSG(store_get_attr_f64(st, "/layers/3", "heads", &dv, &e), ST_SHAPE,
               W("%s: /layers/3: attribute 'heads': expected float, found integer", p));
    EXPECT_MSG(store_get_attr_str(st, "/", "lr", s, sizeof s, &e), ST_SHAPE,
               W("%s: /: attribute 'lr': expected string, found float", p));
    EXPECT_MSG(store_get_attr_str(st, "/", "model", s, 4, &e), ST_INVALID,
               W("%s: /: attribute 'model': value of 14 bytes does not fit in a buffer of 4", p));

    /* a store opened for reading refuses writes */
    EXPECT_MSG(store_write(st, "/x", DT_F32, buf, 1, d_3, &e), ST_INVALID,
               W("%s: store is open for reading, not writing", p));
    EXPECT_MSG(store_set_attr_i64(st, "/", "x", 1, &e), ST_INVALID,
               W("%s: store is open for reading, not writing", p));
    store_close(st);
    st = NULL;

    /* open-time errors */
    EXPECT_MSG(store_open(&st, p, "drrl-ckpt", 1, 2, &e), ST_FORMAT,
               W("%s: format: expected 'drrl-ckpt', found 'drrl-test'", p));
    EXPECT_MSG(store_open(&st, p, "drrl-test", 3, 4, &e), ST_FORMAT,
               W("%s: format_version: expected 3..4, found 2", p));
    EXPECT_MSG(store_open(&st, p, "drrl-test", 1, 1, &e), ST_FORMAT,
               W("%s: format_version: expected 1..1, found 2", p));
    CHECK(st == NULL, "store set on failure");
    const char *missing = tpath("does-not-exist.h5");
    EXPECT_MSG(store_open(&st, missing, "drrl-test", 1, 2, &e), ST_IO,
               W("%s: cannot open: No such file or directory", missing));
    const char *txtf = tpath("notes.h5");
    FILE *fp = fopen(txtf, "w");
    if (fp) {
        fputs("this is not an HDF5 file\n", fp);
        fclose(fp);
    }
    EXPECT_MSG(store_open(&st, txtf, "drrl-test", 1, 2, &e), ST_FORMAT,
               W("%s: not a readable HDF5 file (truncated or corrupt?)", txtf));
    /* truncated copies of a big and a small good file */
    const char *srcs[] = {"big.h5", "rt.h5"};
    for (int i = 0; i < 2; i++) {
        const char *tr = tpath(i ? "trunc-small.h5" : "trunc-big.h5");
        CHECK(copy_file(tpath(srcs[i]), tr), "copy %s", srcs[i]);
        long long sz = file_size(tr);
        CHECK(sz > 0 && truncate(tr, sz / 2) == 0, "truncate %s: %s", tr, strerror(errno));
        EXPECT_MSG(store_open(&st, tr, "drrl-test", 1, 2, &e), ST_FORMAT,
                   W("%s: not a readable HDF5 file (truncated or corrupt?)", tr));
    }
    /* an HDF5 file that is not ours (no format attribute) */
    const char *foreign = tpath("foreign.h5");
    hid_t f = H5Fcreate(foreign, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0, "H5Fcreate");
    if (f >= 0) H5Fclose(f);
    EXPECT_MSG(store_open(&st, foreign, "drrl-test", 1, 2, &e), ST_FORMAT,
               W("%s: /: missing attribute 'format'", foreign));
    /* creating in a missing directory */
    const char *nodir = tpath("no-dir/x.h5");
    EXPECT_MSG(store_create(&st, nodir, "drrl-test", 1, &e), ST_IO,
               W("%s: cannot create temporary file %s.tmp.%ld: No such file or directory", nodir,
                 nodir, (long)getpid()));
    CHECK(id_leaks(idm) == 0, "%lld HDF5 identifiers leaked", id_leaks(idm));
}

/* --------------------------------------------------------------- atomicity */

static void write_version(const char *p, float base, const char *tag) {
    Err e = {0};
    Store *st = NULL;
    float w[4][4];
    for (int i = 0; i < 16; i++) (&w[0][0])[i] = base + (float)i;
    const int64_t d[] = {4, 4};
    CHECK(store_create(&st, p, "drrl-test", 1, &e) == ST_OK, "%s", e.msg);
    if (!st) return;
    CHECK(store_write(st, "/w", DT_F32, w, 2, d, &e) == ST_OK, "%s", e.msg);
    CHECK(store_set_attr_str(st, "/", "tag", tag, &e) == ST_OK, "%s", e.msg);
    CHECK(store_commit(st, &e) == ST_OK, "%s", e.msg);
}

/* check_version: PATH opens and holds exactly what write_version(base, tag) wrote. */
static void check_version(const char *p, float base, const char *tag, const char *when) {
    Err e = {0};
    Store *st = NULL;
    CHECK(store_open(&st, p, "drrl-test", 1, 1, &e) == ST_OK, "%s: %s", when, e.msg);
    if (!st) return;
    float w[4][4];
    const int64_t d[] = {4, 4};
    CHECK(store_read(st, "/w", DT_F32, w, 2, d, &e) == ST_OK, "%s: %s", when, e.msg);
    int ok = 1;
    for (int i = 0; i < 16; i++) ok &= (&w[0][0])[i] == base + (float)i;
    CHECK(ok, "%s: /w does not hold version %s", when, tag);
    char s[16];
    CHECK(store_get_attr_str(st, "/", "tag", s, sizeof s, &e) == ST_OK && strcmp(s, tag) == 0,
          "%s: tag '%s', expected '%s'", when, s, tag);
    CHECK(!store_exists(st, "/partial"), "%s: data of the killed writer visible", when);
    store_close(st);
}

static void test_atomic(void) {
    IdMark idm = id_mark();
    const char *p = tpath("atom.h5");
    write_version(p, 100.0f, "v1"); /* (1) */
    check_version(p, 100.0f, "v1", "after commit of v1");

    /* (2) a writer killed before commit leaves PATH alone */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        Err e = {0};
        Store *st = NULL;
        static float junk[100000];
        const int64_t d[] = {100000}, d4[] = {4, 4};
        if (store_create(&st, p, "drrl-test", 1, &e)) _exit(3);
        if (store_write(st, "/partial", DT_F32, junk, 1, d, &e)) _exit(4);
        if (store_write(st, "/w", DT_F32, junk, 2, d4, &e)) _exit(5);
        if (store_set_attr_str(st, "/", "tag", "v-killed", &e)) _exit(6);
        raise(SIGKILL);
        _exit(7);
    }
    CHECK(pid > 0, "fork: %s", strerror(errno));
    if (pid > 0) {
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "child did not die by SIGKILL (status 0x%x)", status);
        char child_tmp[600];
        snprintf(child_tmp, sizeof child_tmp, "%s.tmp.%ld", p, (long)pid);
        CHECK(file_exists(child_tmp), "the killed child's temp file %s is missing", child_tmp);
        check_version(p, 100.0f, "v1", "after killed writer");
        unlink(child_tmp); /* a crashed writer's leftover; cleanup is the caller's job */
    }

    /* (3) abort leaves no temp file and keeps v1; so does closing an uncommitted store */
    {
        Err e = {0};
        Store *st = NULL;
        float w[16] = {0};
        const int64_t d[] = {16};
        char own_tmp[600];
        snprintf(own_tmp, sizeof own_tmp, "%s.tmp.%ld", p, (long)getpid());
        CHECK(store_create(&st, p, "drrl-test", 1, &e) == ST_OK, "%s", e.msg);
        CHECK(file_exists(own_tmp), "temp file %s not created", own_tmp);
        CHECK(store_write(st, "/partial", DT_F32, w, 1, d, &e) == ST_OK, "%s", e.msg);
        store_abort(st);
        CHECK(!file_exists(own_tmp), "temp file left after store_abort");
        CHECK(count_tmp_files() == 0, "temp files left");
        check_version(p, 100.0f, "v1", "after abort");
        st = NULL;
        CHECK(store_create(&st, p, "drrl-test", 1, &e) == ST_OK, "%s", e.msg);
        store_close(st);
        CHECK(!file_exists(own_tmp), "temp file left after store_close of a writer");
        store_abort(NULL);
        store_close(NULL);
    }

    /* (4) commit of v2 replaces v1 */
    write_version(p, -50.0f, "v2");
    check_version(p, -50.0f, "v2", "after commit of v2");
    CHECK(count_tmp_files() == 0, "temp files left");
    CHECK(id_leaks(idm) == 0, "%lld HDF5 identifiers leaked", id_leaks(idm));
}

/* ------------------------------------------------------------ h5py files */

static const char *h5py_script =
    "import sys, h5py, numpy as np\n"
    "with h5py.File(sys.argv[1], 'w') as f:\n"
    "    f.attrs['format'] = 'drrl-torch-ref'\n"
    "    f.attrs['format_version'] = 1\n"
    "    f.attrs['lr'] = 0.001\n"
    "    f.attrs['fixed'] = np.bytes_(b'fixed-len')\n"
    "    f.attrs['small'] = np.int32(-7)\n"
    "    f.attrs['big'] = np.uint64(2**63)\n"
    "    f['layers/0/w_q'] = np.arange(12, dtype=np.float32).reshape(3, 4)\n"
    "    f['layers/0'].attrs['note'] = 'grp \\u2713'\n"
    "    f['ids'] = np.arange(5, dtype=np.int64)\n"
    "    f['config'] = 'model: gpt2\\nname: h\\u00e9llo \\u2713\\n'\n"
    "    f['fixed_text'] = np.bytes_(b'abc\\ndef')\n"
    "    f['half'] = np.zeros(3, dtype=np.float16)\n";

static void test_h5py(void) {
    IdMark idm = id_mark();
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") != 0) {
        printf("test_store: note: /usr/bin/python3 with h5py not available; skipping the "
               "h5py-written file checks\n");
        return;
    }
    const char *script = tpath("mk.py"), *p = tpath("ref.h5");
    FILE *fp = fopen(script, "w");
    CHECK(fp != NULL, "cannot write %s", script);
    if (!fp) return;
    fputs(h5py_script, fp);
    fclose(fp);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, p);
    int rc = system(cmd);
    CHECK(rc == 0, "python script failed (%d)", rc);
    if (rc != 0) return;

    Err e = {0};
    Store *st = NULL;
    CHECK(store_open(&st, p, "drrl-torch-ref", 1, 1, &e) == ST_OK, "%s", e.msg);
    if (!st) return;
    CHECK(store_version(st) == 1, "version %d", store_version(st));
    char s[64];
    int64_t iv = 0;
    double dv = 0;
    CHECK(store_get_attr_str(st, "/", "format", s, sizeof s, &e) == ST_OK, "%s", e.msg);
    CHECK(strcmp(s, "drrl-torch-ref") == 0, "format '%s'", s);
    CHECK(store_get_attr_i64(st, "/", "format_version", &iv, &e) == ST_OK && iv == 1, "%s",
          e.msg);
    CHECK(store_get_attr_f64(st, "/", "lr", &dv, &e) == ST_OK && dv == 0.001, "lr %g", dv);
    CHECK(store_get_attr_str(st, "/", "fixed", s, sizeof s, &e) == ST_OK, "%s", e.msg);
    CHECK(strcmp(s, "fixed-len") == 0, "fixed '%s'", s);
    CHECK(store_get_attr_i64(st, "/", "small", &iv, &e) == ST_OK && iv == -7, "small %lld",
          (long long)iv);
    EXPECT_MSG(store_get_attr_i64(st, "/", "big", &iv, &e), ST_SHAPE,
               W("%s: /: attribute 'big': value 9223372036854775808 does not fit in int64",
                         p));
    CHECK(store_get_attr_str(st, "/layers/0", "note", s, sizeof s, &e) == ST_OK, "%s", e.msg);
    CHECK(strcmp(s, "grp ✓") == 0, "note '%s'", s);

    float w[3][4];
    const int64_t dw[] = {3, 4}, di[] = {5}, dh[] = {3};
    CHECK(store_read(st, "/layers/0/w_q", DT_F32, w, 2, dw, &e) == ST_OK, "%s", e.msg);
    CHECK(w[2][3] == 11.0f && w[1][0] == 4.0f, "w_q values");
    int64_t ids[5];
    CHECK(store_read(st, "/ids", DT_I64, ids, 1, di, &e) == ST_OK && ids[4] == 4, "%s", e.msg);
    char *txt = NULL;
    CHECK(store_read_text(st, "/config", &txt, &e) == ST_OK, "%s", e.msg);
    CHECK(txt && strcmp(txt, "model: gpt2\nname: héllo ✓\n") == 0, "config '%s'",
          txt ? txt : "(null)");
    free(txt);
    txt = NULL;
    CHECK(store_read_text(st, "/fixed_text", &txt, &e) == ST_OK, "%s", e.msg);
    CHECK(txt && strcmp(txt, "abc\ndef") == 0, "fixed_text '%s'", txt ? txt : "(null)");
    free(txt);
    float h[3];
    EXPECT_MSG(store_read(st, "/half", DT_F32, h, 1, dh, &e), ST_SHAPE,
               W("%s: /half: expected float32, found float16", p));
    store_close(st);
    /* the torch-ref file is not a model file */
    EXPECT_MSG(store_open(&st, p, "drrl-model", 1, 2, &e), ST_FORMAT,
               W("%s: format: expected 'drrl-model', found 'drrl-torch-ref'", p));
    CHECK(id_leaks(idm) == 0, "%lld HDF5 identifiers leaked", id_leaks(idm));
}

/* -------------------------------------------------------------------- main */

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/test_store.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) return check_skip("test_store", "mkdtemp failed");
    /* The library must never print: send stderr to a file while it runs and require the
     * file to hold nothing but our own CHECK failures (which also fail the test). */
    fflush(stderr);
    int saved_err = dup(2);
    char errlog[600];
    snprintf(errlog, sizeof errlog, "%s", tpath("stderr.log"));
    int logfd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved_err >= 0 && logfd >= 0) dup2(logfd, 2);

    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the test's own direct HDF5 probes */
    fill_data();
    test_roundtrip();
    test_chunked();
    test_errors();
    test_atomic();
    test_h5py();

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
        printf("test_store: files kept in %s\n", tmpdir);
    else
        remove_tmpdir();
    return check_exit("test_store");
}
