/* test_safetensors.c: the .safetensors reader (model/safetensors.h) on files this test writes
 * byte by byte (8-byte little-endian header length, JSON header, little-endian data):
 *   a valid file holding F32, F16, BF16, F64, I64 and U8 tensors, a scalar, an empty tensor,
 *   "__metadata__" and a space-padded header: the table sorted by name, lookup, metadata,
 *   and every float dtype read into float32 with exact expected values (F16: normals, the
 *   largest finite, subnormals, -0, infinities, NaN; BF16; F64 rounded and beyond float's
 *   range), raw bytes, the refusals of an integer dtype and of a wrong count;
 *   tensors larger than the read chunk (SAFET_CHUNK) in F32 and F16, every element checked;
 *   malformed files, each with its whole message: too short, header length beyond the file,
 *   header longer than SAFET_HEADER_MAX (a sparse file), truncated data, overlapping
 *   offsets, a gap, trailing bytes, unknown dtype, byte count not matching the shape, begin
 *   after end, bad JSON, a non-object header, an extra key, a missing key, too many
 *   dimensions, a negative dimension, duplicate names, a NUL in a name, non-string metadata,
 *   a missing file and a directory. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "tests/check.h"

#define NAME "test_safetensors"

static char dir[] = "/tmp/drrl_safet_XXXXXX";

/* put: a file of the 8-byte length hlen, hn bytes of header and n bytes of data */
static void put(const char *path, uint64_t hlen, const char *header, size_t hn,
                const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(hlen >> (8 * i));
    CHECK(f && fwrite(len, 1, 8, f) == 8 && fwrite(header, 1, hn, f) == hn &&
              (n == 0 || fwrite(data, 1, n, f) == n) && fclose(f) == 0,
          "writing %s", path);
}

/* put_json: header text as given (its own length), then n bytes of data */
static void put_json(const char *path, const char *header, const void *data, size_t n) {
    put(path, strlen(header), header, strlen(header), data, n);
}

static void le16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void le32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }
static void le64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i); }
static uint32_t fbits(float x) { uint32_t b; memcpy(&b, &x, 4); return b; }
static uint64_t dbits(double x) { uint64_t b; memcpy(&b, &x, 8); return b; }

static const uint16_t F16[] = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x03FF, 0x8000,
                               0x7C00, 0xFC00, 0x7E00, 0x3555};
static const float F16_WANT[] = {1.0f, -2.0f, 0.5f, 65504.0f, 0x1p-24f, 1023 * 0x1p-24f, -0.0f,
                                 INFINITY, -INFINITY, NAN, 0.333251953125f};
static const uint16_t BF16[] = {0x3F80, 0xC049, 0x0001};
static const float BF16_WANT[] = {1.0f, -3.140625f, 0x1p-133f};
static const double F64[] = {1.0 / 3, -2.5, 1e300, 1e-50};
static const float F32[] = {1.5f, -2.25f, 3.0e-20f, 7.0f, -0.0f, 123456.789f};

/* same: bit-identical floats, NaN matching any NaN */
static int same(float a, float b) { return (isnan(a) && isnan(b)) || fbits(a) == fbits(b); }

/* the valid file: data laid out in the order a (F32 2x3), h (F16 11), b (BF16 3), d (F64 4),
   pos (I64 1x4), s (F32 scalar), u (U8 3), empty (F32 [0, 5]) */
static void write_valid(const char *path) {
    unsigned char data[256];
    size_t at = 0;
    for (int i = 0; i < 6; i++, at += 4) le32(data + at, fbits(F32[i]));
    for (int i = 0; i < 11; i++, at += 2) le16(data + at, F16[i]);
    for (int i = 0; i < 3; i++, at += 2) le16(data + at, BF16[i]);
    for (int i = 0; i < 4; i++, at += 8) le64(data + at, dbits(F64[i]));
    for (int i = 0; i < 4; i++, at += 8) le64(data + at, (uint64_t)i);
    le32(data + at, fbits(42.0f)), at += 4;
    for (int i = 0; i < 3; i++) data[at++] = (unsigned char)(200 + i);
    CHECK(at == 24 + 22 + 6 + 32 + 32 + 4 + 3, "layout");
    char h[1024];
    int n = snprintf(h, sizeof h,
        "{\"__metadata__\": {\"format\": \"pt\"}, "
        "\"pos\": {\"dtype\": \"I64\", \"shape\": [1, 4], \"data_offsets\": [84, 116]}, "
        "\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, "
        "\"h\": {\"shape\": [11], \"dtype\": \"F16\", \"data_offsets\": [24, 46]}, "
        "\"b\": {\"dtype\": \"BF16\", \"shape\": [3], \"data_offsets\": [46, 52]}, "
        "\"empty\": {\"dtype\": \"F32\", \"shape\": [0, 5], \"data_offsets\": [52, 52]}, "
        "\"d\": {\"dtype\": \"F64\", \"shape\": [2, 2], \"data_offsets\": [52, 84]}, "
        "\"u\": {\"dtype\": \"U8\", \"shape\": [3], \"data_offsets\": [120, 123]}, "
        "\"s\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [116, 120]}}");
    while (n % 8) h[n++] = ' '; /* the writer's padding */
    put(path, (uint64_t)n, h, (size_t)n, data, at);
}

static void test_valid(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/valid.safetensors", dir);
    write_valid(path);
    Safet *f = NULL;
    Err e;
    err_clear(&e);
    CHECK(safet_open(&f, path, &e) == ST_OK, "open: %s", e.msg);
    if (!f) return;
    const char *order[] = {"a", "b", "d", "empty", "h", "pos", "s", "u"};
    CHECK(safet_count(f) == 8, "8 tensors, found %zu", safet_count(f));
    for (size_t i = 0; i < 8 && i < safet_count(f); i++)
        CHECK(!strcmp(safet_tensor(f, i)->name, order[i]), "sorted: %zu is %s", i,
              safet_tensor(f, i)->name);
    CHECK(!strcmp(safet_metadata(f, "format"), "pt") && !safet_metadata(f, "x"), "metadata");
    CHECK(!safet_find(f, "c") && !safet_find(f, "") && !safet_find(f, "zz"), "absent names");
    const SafetTensor *a = safet_find(f, "a"), *h = safet_find(f, "h"), *b = safet_find(f, "b"),
                      *d = safet_find(f, "d"), *p = safet_find(f, "pos"), *s = safet_find(f, "s"),
                      *em = safet_find(f, "empty"), *u = safet_find(f, "u");
    if (!a || !h || !b || !d || !p || !s || !em || !u) {
        CHECK(0, "a tensor is missing");
        safet_close(f);
        return;
    }
    char sh[64];
    safet_shape_str(a->shape, a->ndim, sh, sizeof sh);
    CHECK(!strcmp(sh, "[2, 3]") && a->count == 6 && a->dtype == SAFET_F32, "a: %s", sh);
    safet_shape_str(s->shape, s->ndim, sh, sizeof sh);
    CHECK(!strcmp(sh, "[]") && s->count == 1 && em->count == 0 && em->ndim == 2, "scalar, empty");
    float out[16];
    CHECK(safet_read_f32(f, a, out, 6, &e) == ST_OK, "read a: %s", e.msg);
    for (int i = 0; i < 6; i++) CHECK(same(out[i], F32[i]), "F32 %d: %g", i, (double)out[i]);
    CHECK(safet_read_f32(f, h, out, 11, &e) == ST_OK, "read h: %s", e.msg);
    for (int i = 0; i < 11; i++)
        CHECK(same(out[i], F16_WANT[i]), "F16 0x%04x: %g, want %g", F16[i], (double)out[i],
              (double)F16_WANT[i]);
    CHECK(safet_read_f32(f, b, out, 3, &e) == ST_OK, "read b: %s", e.msg);
    for (int i = 0; i < 3; i++) CHECK(same(out[i], BF16_WANT[i]), "BF16 %d: %g", i, (double)out[i]);
    CHECK(safet_read_f32(f, d, out, 4, &e) == ST_OK, "read d: %s", e.msg);
    for (int i = 0; i < 4; i++)
        CHECK(same(out[i], (float)F64[i]), "F64 %d: %g", i, (double)out[i]);
    CHECK(isinf(out[2]) && out[3] == 0, "F64 beyond float's range: inf; tiny: 0");
    CHECK(safet_read_f32(f, s, out, 1, &e) == ST_OK && out[0] == 42.0f, "scalar");
    CHECK(safet_read_f32(f, em, out, 0, &e) == ST_OK, "empty: %s", e.msg);
    unsigned char raw[32];
    CHECK(safet_read_raw(f, u, raw, 3, &e) == ST_OK && raw[0] == 200 && raw[2] == 202, "raw U8");
    CHECK(safet_read_raw(f, p, raw, 32, &e) == ST_OK && raw[8] == 1 && raw[24] == 3, "raw I64");
    char want[512];
    snprintf(want, sizeof want, "%s: tensor 'pos': expected a floating-point dtype (F32, F16, "
             "BF16 or F64), found I64", path);
    CHECK(safet_read_f32(f, p, out, 4, &e) == ST_SHAPE && !strcmp(e.msg, want), "I64: %s", e.msg);
    snprintf(want, sizeof want, "%s: tensor 'a': expected a buffer of 6 floats, found 5", path);
    CHECK(safet_read_f32(f, a, out, 5, &e) == ST_SHAPE && !strcmp(e.msg, want), "n: %s", e.msg);
    snprintf(want, sizeof want, "%s: tensor 'u': expected a buffer of 3 bytes, found 4", path);
    CHECK(safet_read_raw(f, u, raw, 4, &e) == ST_SHAPE && !strcmp(e.msg, want), "raw n: %s", e.msg);
    safet_close(f);
}

/* test_large: tensors longer than one read chunk, every element checked */
static void test_large(void) {
    const size_t n32 = SAFET_CHUNK / 4 + 1000, n16 = SAFET_CHUNK + 7; /* F32 and F16 counts */
    unsigned char *data = malloc(4 * n32 + 2 * n16);
    float *out = malloc(sizeof(float) * (n16 > n32 ? n16 : n32));
    if (!data || !out) {
        CHECK(0, "out of memory");
        free(data);
        free(out);
        return;
    }
    for (size_t i = 0; i < n32; i++) le32(data + 4 * i, fbits((float)i * 0.5f - 7.0f));
    for (size_t i = 0; i < n16; i++) le16(data + 4 * n32 + 2 * i, (uint16_t)(i % 0x7C00));
    char h[256], path[256];
    snprintf(h, sizeof h, "{\"big32\": {\"dtype\": \"F32\", \"shape\": [%zu], \"data_offsets\": "
             "[0, %zu]}, \"big16\": {\"dtype\": \"F16\", \"shape\": [%zu], \"data_offsets\": "
             "[%zu, %zu]}}", n32, 4 * n32, n16, 4 * n32, 4 * n32 + 2 * n16);
    snprintf(path, sizeof path, "%s/large.safetensors", dir);
    put_json(path, h, data, 4 * n32 + 2 * n16);
    Safet *f = NULL;
    Err e;
    CHECK(safet_open(&f, path, &e) == ST_OK, "open large: %s", e.msg);
    if (f) {
        CHECK(safet_read_f32(f, safet_find(f, "big32"), out, n32, &e) == ST_OK, "%s", e.msg);
        size_t bad = 0;
        for (size_t i = 0; i < n32; i++) bad += out[i] != (float)i * 0.5f - 7.0f;
        CHECK(bad == 0, "big32: %zu elements differ", bad);
        CHECK(safet_read_f32(f, safet_find(f, "big16"), out, n16, &e) == ST_OK, "%s", e.msg);
        bad = 0;
        for (size_t i = 0; i < n16; i++) {
            uint32_t k = (uint32_t)(i % 0x7C00), x = k >> 10, m = k & 0x3FF;
            float want = x ? ldexpf(1.0f + (float)m / 1024, (int)x - 15) : ldexpf((float)m, -24);
            bad += out[i] != want;
        }
        CHECK(bad == 0, "big16: %zu elements differ", bad);
    }
    safet_close(f);
    free(data);
    free(out);
}

/* col: the 1-based column of needle's first occurrence in the one-line text */
static int col(const char *text, const char *needle) {
    const char *p = strstr(text, needle);
    CHECK(p != NULL, "'%s' not in '%s'", needle, text);
    return p ? (int)(p - text) + 1 : 0;
}

/* bad: header (and data zero bytes) must fail to open with status s and message PATH: msg */
static void bad(const char *file, const char *header, size_t data, Status s, const char *msg) {
    static const unsigned char zeros[64];
    char path[256], want[1024];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, file);
    if (header) put_json(path, header, zeros, data);
    snprintf(want, sizeof want, "%s: %s", path, msg);
    Safet *f = (Safet *)1;
    Err e;
    err_clear(&e);
    Status got = safet_open(&f, path, &e);
    CHECK(got == s && !f && !strcmp(e.msg, want), "%s: status %d\n  got:  %s\n  want: %s", file,
          (int)got, e.msg, want);
    unlink(path);
}

#define T(d, s, o) "\"" d "\", \"shape\": " s ", \"data_offsets\": " o
static void test_malformed(void) {
    char m[1024], path[256];
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    put(path, 0x6f6c6c6568ULL, "", 0, NULL, 0); /* 8 bytes only; then cut to 5 */
    CHECK(truncate(path, 5) == 0, "truncate");
    bad("short", NULL, 0, ST_FORMAT, "expected at least 8 bytes (the header's length), found a "
        "file of 5 bytes");
    snprintf(path, sizeof path, "%s/beyond.safetensors", dir);
    put(path, 1000, "{}", 2, NULL, 0);
    bad("beyond", NULL, 0, ST_FORMAT, "header length: expected at most 2 (the file's 10 bytes "
        "less 8), found 1000 (not a safetensors file, or truncated)");
    snprintf(path, sizeof path, "%s/huge.safetensors", dir); /* sparse: no 100 MB written */
    put(path, SAFET_HEADER_MAX + 1ULL, "", 0, NULL, 0);
    CHECK(truncate(path, 8 + SAFET_HEADER_MAX + 16) == 0, "truncate up");
    bad("huge", NULL, 0, ST_FORMAT, "header length: expected at most 100000000 bytes, found "
        "100000001");
    const char *h = "{\"a\": {\"dtype\": " T("F32", "[6]", "[0, 24]") "}}";
    snprintf(m, sizeof m, "tensor 'a': header:1:%d: data_offsets: expected an end within the "
             "data area of 16 bytes, found 24 (the file is truncated or the offsets are wrong)",
             col(h, "[0, 24]"));
    bad("truncated", h, 16, ST_FORMAT, m);
    bad("overlap", "{\"a\": {\"dtype\": " T("F32", "[4]", "[0, 16]") "}, \"b\": {\"dtype\": "
        T("F32", "[4]", "[8, 24]") "}}", 24, ST_FORMAT, "tensor 'b': data_offsets [8, 24): "
        "expected to begin at or after the end of tensor 'a' [0, 16), found an overlap");
    bad("gap", "{\"b\": {\"dtype\": " T("F32", "[2]", "[16, 24]") "}, \"a\": {\"dtype\": "
        T("F32", "[2]", "[0, 8]") "}}", 24, ST_FORMAT, "data area bytes [8, 16): expected to "
        "belong to a tensor (the tensors cover the data area without gaps), found none");
    bad("trailing", "{\"a\": {\"dtype\": " T("F32", "[2]", "[0, 8]") "}}", 12, ST_FORMAT,
        "data area bytes [8, 12): expected to belong to a tensor (the tensors cover the data "
        "area without gaps), found none");
    h = "{\"a\": {\"dtype\": " T("F17", "[2]", "[0, 8]") "}}";
    snprintf(m, sizeof m, "tensor 'a': header:1:%d: dtype: expected one of BOOL, U8, I8, "
             "F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64, found 'F17'",
             col(h, "\"F17"));
    bad("dtype", h, 8, ST_FORMAT, m);
    h = "{\"a\": {\"dtype\": " T("F32", "[2, 3]", "[0, 20]") "}}";
    snprintf(m, sizeof m, "tensor 'a': header:1:%d: data_offsets: expected 24 bytes (shape "
             "[2, 3] x 4 bytes of F32), found [0, 20): 20 bytes", col(h, "[0, 20]"));
    bad("count", h, 20, ST_FORMAT, m);
    h = "{\"a\": {\"dtype\": " T("F32", "[2]", "[8, 0]") "}}";
    snprintf(m, sizeof m, "tensor 'a': header:1:%d: data_offsets[1]: expected an integer in "
             "[8, 9223372036854775807], found 0", col(h, "0]"));
    bad("order", h, 8, ST_FORMAT, m);
    bad("json", "{\"a\": ", 0, ST_FORMAT, "header:1:7: expected a value (object, array, string, "
        "number, true, false or null), found the end of the input");
    bad("array", "[]", 0, ST_FORMAT, "header:1:1: the header: expected an object, found an array");
    h = "{\"a\": {\"dtype\": " T("F32", "[1]", "[0, 4]") ", \"x\": 1}}";
    snprintf(m, sizeof m, "tensor 'a': header:1:%d: 'x': expected only the keys dtype, shape "
             "and data_offsets, found another", col(h, "1}}"));
    bad("extra", h, 4, ST_FORMAT, m);
    bad("missing", "{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, ST_FORMAT,
        "tensor 'a': header:1:7: shape: expected a member of the object, found none");
    h = "{\"a\": {\"dtype\": " T("F32", "[1, 1, 1, 1, 1, 1, 1, 1, 1]", "[0, 4]") "}}";
    snprintf(m, sizeof m, "tensor 'a': header:1:%d: shape: expected at most 8 dimensions, "
             "found 9", col(h, "[1, 1"));
    bad("dims", h, 4, ST_FORMAT, m);
    h = "{\"a\": {\"dtype\": " T("F32", "[-1]", "[0, 4]") "}}";
    snprintf(m, sizeof m, "tensor 'a': header:1:%d: shape[0]: expected an integer in [0, "
             "9223372036854775807], found -1", col(h, "-1"));
    bad("negative", h, 4, ST_FORMAT, m);
    h = "{\"a\": {\"dtype\": " T("F32", "[1]", "[0, 4]") "}, \"a\": {\"dtype\": "
        T("F32", "[1]", "[4, 8]") "}}";
    snprintf(m, sizeof m, "header:1:%d: expected distinct keys in an object, found 'a' again "
             "(first at 1:7)", col(h, "}, \"a\"") + 8);
    bad("duplicate", h, 8, ST_FORMAT, m);
    h = "{\"a\\u0000b\": {\"dtype\": " T("F32", "[1]", "[0, 4]") "}}";
    snprintf(m, sizeof m, "header:1:%d: tensor name 'a...': expected no NUL character, found "
             "one", col(h, "{\"dtype"));
    bad("nul", h, 4, ST_FORMAT, m);
    bad("metadata", "{\"__metadata__\": {\"format\": 1}}", 0, ST_FORMAT,
        "__metadata__: header:1:29: format: expected a string, found 1");
    bad("nonexistent", NULL, 0, ST_IO, "cannot open: No such file or directory");
    Safet *f = NULL;
    Err e;
    snprintf(m, sizeof m, "%s: expected a regular file, found another kind of file", dir);
    CHECK(safet_open(&f, dir, &e) == ST_IO && !f && !strcmp(e.msg, m), "directory: %s", e.msg);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid();
    test_large();
    test_malformed();
    char path[256];
    snprintf(path, sizeof path, "%s/valid.safetensors", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/large.safetensors", dir);
    unlink(path);
    rmdir(dir);
    return check_exit(NAME);
}
