/* test_store.c: tests for core/store.c, the HDF5 store: what goes in comes out.
 *
 * Covers round trips of every DType (nested groups, scalars, empty tensors), chunked +
 * compressed large tensors (checked through HDF5 directly), text datasets, attributes of
 * all kinds, and the exact error messages for every mismatch (on the files the round trips
 * wrote), with no HDF5 identifier leaked and nothing printed. Atomicity of writes and files
 * written by h5py: test_store_files.c. Shared helpers: store_util.h. */
#include "tests/core/store_util.h"

#include <errno.h>

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

/* the arrays of the round trip: where, as which type, from which data, with which shape */
static const struct {
    const char *path, *name;
    DType t;
    const void *data;
    size_t bytes;
    int nd;
    int64_t dims[3];
} arrays[] = {
    {"/layers/3/attn/w_q", "f32", DT_F32, f32a, sizeof f32a, 3, {2, 3, 4}},
    {"/layers/3/attn/w_k", "f64", DT_F64, f64a, sizeof f64a, 2, {3, 5}},
    {"/layers/0/mlp/idx", "i32", DT_I32, i32a, sizeof i32a, 3, {4, 2, 2}},
    {"/i64", "i64", DT_I64, i64a, sizeof i64a, 1, {7}},
    {"/a/b/c/d/e/u64", "u64", DT_U64, u64a, sizeof u64a, 2, {2, 2}},
    {"/layers/3/u8", "u8", DT_U8, u8a, sizeof u8a, 3, {3, 3, 3}},
};
enum { N_ARRAYS = sizeof arrays / sizeof arrays[0] };

/* ------------------------------------------------------------ round trip */

static void write_roundtrip(const char *p) {
    Err e = {0};
    Store *st = NULL;
    CHECK(store_create(&st, p, "drrl-test", 2, &e) == ST_OK, "create: %s", e.msg);
    if (!st) return;
    const int64_t d_f32[] = {2, 3, 4}, d_empty[] = {0, 4};
    for (int i = 0; i < N_ARRAYS; i++)
        CHECK(store_write(st, arrays[i].path, arrays[i].t, arrays[i].data, arrays[i].nd,
                          arrays[i].dims, &e) == ST_OK,
              "%s", e.msg);
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

/* read_arrays: every array and scalar written by write_roundtrip reads back bit for bit */
static void read_arrays(Store *st) {
    Err e = {0};
    double back[16]; /* room for the largest array (f64a, 120 bytes), aligned for any type */
    for (int i = 0; i < N_ARRAYS; i++) {
        memset(back, 0xa5, sizeof back);
        CHECK(store_read(st, arrays[i].path, arrays[i].t, back, arrays[i].nd, arrays[i].dims,
                         &e) == ST_OK,
              "%s", e.msg);
        CHECK(memcmp(arrays[i].data, back, arrays[i].bytes) == 0, "%s differs", arrays[i].name);
    }
    const int64_t d_empty[] = {0, 4};
    CHECK(store_read(st, "/empty", DT_F32, NULL, 2, d_empty, &e) == ST_OK, "%s", e.msg);
    double sc = 0;
    int64_t step = 0;
    CHECK(store_read(st, "/scalar", DT_F64, &sc, 0, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(sc == 2.718281828459045, "scalar %g", sc);
    CHECK(store_read(st, "/meta/step", DT_I64, &step, 0, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(step == 123456789012LL, "step %lld", (long long)step);
}

/* check_shapes: store_shape of a 3-d, a 2-d, a scalar and an empty dataset */
static void check_shapes(Store *st) {
    Err e = {0};
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
}

/* check_exists: existence, including nested missing paths and paths below a dataset */
static void check_exists(Store *st) {
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
}

/* check_text_attrs: the text datasets and the attributes of every kind */
static void check_text_attrs(Store *st) {
    Err e = {0};
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
    check_format(st, "drrl-test", 2);
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
    read_arrays(st);
    check_shapes(st);
    check_exists(st);
    check_text_attrs(st);
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

/* read_errors: reading datasets with the wrong shape, type or kind, or that are missing */
static void read_errors(Store *st, const char *p) {
    static const struct {
        const char *path;
        DType t;
        int nd;
        int64_t dims[3];
        Status st;
        const char *msg; /* after "FILE: " */
    } bad[] = {
        {"/layers/3/attn/w_q", DT_F32, 3, {2, 4, 3}, ST_SHAPE,
         "/layers/3/attn/w_q: expected shape [2, 4, 3] float32, found [2, 3, 4] float32"},
        {"/layers/3/attn/w_q", DT_F32, 1, {24}, ST_SHAPE,
         "/layers/3/attn/w_q: expected shape [24] float32, found [2, 3, 4] float32"},
        {"/layers/3/attn/w_q", DT_I32, 3, {2, 3, 4}, ST_SHAPE,
         "/layers/3/attn/w_q: expected int32, found float32"},
        {"/i64", DT_F64, 1, {7}, ST_SHAPE, "/i64: expected float64, found int64"},
        {"/i64", DT_U64, 1, {7}, ST_SHAPE, "/i64: expected uint64, found int64"},
        {"/meta/step", DT_I64, 1, {3}, ST_SHAPE,
         "/meta/step: expected shape [3] int64, found [] int64"},
        {"/layers/9/w_q", DT_F32, 3, {2, 3, 4}, ST_MISSING, "/layers/9/w_q: missing dataset"},
        {"/layers/3/attn", DT_F32, 3, {2, 3, 4}, ST_MISSING,
         "/layers/3/attn: expected a dataset, found a group"},
    };
    Err e = {0};
    float buf[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_MSG(store_read(st, bad[i].path, bad[i].t, buf, bad[i].nd, bad[i].dims, &e),
                   bad[i].st, W("%s: %s", p, bad[i].msg));
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
}

/* attr_errors: missing attributes and attributes of the wrong kind or size; a store opened for
   reading refuses writes */
static void attr_errors(Store *st, const char *p) {
    Err e = {0};
    float buf[64];
    const int64_t d_3[] = {3};
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
}

/* open_errors: wrong format or version, missing, non-HDF5, truncated and foreign files, and
   creating in a missing directory */
static void open_errors(const char *p) {
    Err e = {0};
    Store *st = NULL;
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
}

static void test_errors(void) {
    IdMark idm = id_mark();
    const char *p = tpath("rt.h5"); /* written by test_roundtrip */
    Err e = {0};
    Store *st = NULL;
    CHECK(store_open(&st, p, "drrl-test", 1, 2, &e) == ST_OK, "%s", e.msg);
    if (!st) return;
    read_errors(st, p);
    attr_errors(st, p);
    store_close(st);
    open_errors(p);
    CHECK(id_leaks(idm) == 0, "%lld HDF5 identifiers leaked", id_leaks(idm));
}

/* -------------------------------------------------------------------- main */

int main(void) {
    static void (*const tests[])(void) = {fill_data, test_roundtrip, test_chunked, test_errors};
    return store_test_run("test_store", tests, (int)(sizeof tests / sizeof tests[0]));
}
