/* test_sha256.c: SHA-256 (core/sha256.h) against the FIPS 180-4 example vectors, streaming
 * at every split point, the shipped data files' published checksums, and `sha256sum` on
 * messages of every length around the padding boundaries. */
#include "core/sha256.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"

static void digest_hex(const void *data, size_t n, char hex[65]) {
    Sha256 s;
    uint8_t d[32];
    sha256_init(&s);
    sha256_update(&s, data, n);
    sha256_final(&s, d);
    sha256_hex(d, hex);
}

/* sha256sum_of: run `sha256sum path`, return 1 and its hex digest, or 0 if unavailable. */
static int sha256sum_of(const char *path, char hex[65]) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[4400] = "";
    int ok = fgets(line, sizeof line, p) != NULL;
    int rc = pclose(p);
    if (!ok || rc != 0 || strlen(line) < 64) return 0;
    memcpy(hex, line, 64);
    hex[64] = '\0';
    return 1;
}

/* test_fips: the FIPS 180-4 example vectors, in one update and split into two at every
   point */
static void test_fips(void) {
    static const struct {
        const char *msg, *hex;
    } fips[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopq"
         "rlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    char hex[65], hex2[65];
    for (size_t i = 0; i < sizeof fips / sizeof fips[0]; i++) {
        size_t n = strlen(fips[i].msg);
        digest_hex(fips[i].msg, n, hex);
        CHECK(strcmp(hex, fips[i].hex) == 0, "FIPS vector %zu: got %s", i, hex);
        /* every split into two updates gives the same digest */
        for (size_t cut = 0; cut <= n; cut++) {
            Sha256 s;
            uint8_t d[32];
            sha256_init(&s);
            sha256_update(&s, fips[i].msg, cut);
            sha256_update(&s, fips[i].msg + cut, n - cut);
            sha256_final(&s, d);
            sha256_hex(d, hex2);
            CHECK(strcmp(hex2, fips[i].hex) == 0, "vector %zu split at %zu: got %s", i, cut, hex2);
        }
    }
}

/* test_million_a: one million 'a': in one update, and in uneven chunks crossing block
   boundaries */
static void test_million_a(void) {
    char hex[65], hex2[65];
    size_t n = 1000000;
    char *a = malloc(n);
    CHECK(a != NULL, "malloc");
    if (a) {
        memset(a, 'a', n);
        const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
        digest_hex(a, n, hex);
        CHECK(strcmp(hex, want) == 0, "million a: got %s", hex);
        Sha256 s;
        uint8_t d[32];
        sha256_init(&s);
        for (size_t at = 0, step = 1; at < n; at += step, step = step % 131 + 7)
            sha256_update(&s, a + at, at + step <= n ? step : n - at);
        sha256_final(&s, d);
        sha256_hex(d, hex2);
        CHECK(strcmp(hex2, want) == 0, "million a in chunks: got %s", hex2);
        free(a);
    }
}

/* test_hex: sha256_hex formatting */
static void test_hex(void) {
    char hex[65];
    uint8_t d[32];
    for (int i = 0; i < 32; i++) d[i] = (uint8_t)(i * 8 + 1);
    sha256_hex(d, hex);
    CHECK(strcmp(hex, "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9") ==
              0, "hex: %s", hex);
}

/* test_shipped_files: the shipped files (below root) against their READMEs' checksums */
static void test_shipped_files(const char *root) {
    char hex[65], path[4096];
    static const struct {
        const char *rel, *hex;
    } files[] = {
        {"data/sst2/train.tsv", "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1"},
        {"data/sst2/dev.tsv", "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"},
        {"data/sst2/test.tsv", "69a938605609b3e6663b4487918fe1565eb293734e6e520d0366d1d412fd2a13"},
        {"data/vocab/bert-base-uncased-vocab.txt",
         "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, files[i].rel);
        Err e = {0};
        Status st = sha256_file(path, hex, &e);
        CHECK(st == ST_OK, "%s: %s", path, e.msg);
        if (st == ST_OK) CHECK(strcmp(hex, files[i].hex) == 0, "%s: got %s", files[i].rel, hex);
    }
}

/* test_file_errors: errors name the file (a missing file, a directory) */
static void test_file_errors(const char *root) {
    char hex[65], path[4096];
    Err e = {0};
    snprintf(path, sizeof path, "%s/data/sst2/no-such-file.tsv", root);
    CHECK(sha256_file(path, hex, &e) == ST_IO, "missing file");
    char want[4200];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    CHECK(strcmp(e.msg, want) == 0, "got '%s'", e.msg);
    snprintf(path, sizeof path, "%s/data", root);
    CHECK(sha256_file(path, hex, &e) == ST_IO, "directory");
    CHECK(strncmp(e.msg, path, strlen(path)) == 0 && strstr(e.msg, "Is a directory"),
          "got '%s'", e.msg);
}

/* test_lengths: lengths 0..200 (every padding case: 55, 56, 63, 64, 119, 120, ...) against
   sha256sum, written to path; returns 0 when sha256sum is not available */
static int test_lengths(const char *path) {
    char hex[65], hex2[65];
    int have_tool = 1;
    uint8_t msg[200];
    for (int i = 0; i < 200; i++) msg[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= 200 && have_tool; n++) {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL, "write %s", path);
        if (!f) break;
        fwrite(msg, 1, n, f);
        fclose(f);
        if (!sha256sum_of(path, hex2)) {
            have_tool = 0;
            printf("test_sha256: sha256sum not available; comparison against it skipped\n");
            break;
        }
        digest_hex(msg, n, hex);
        CHECK(strcmp(hex, hex2) == 0, "length %zu: got %s, sha256sum %s", n, hex, hex2);
    }
    return have_tool;
}

/* test_big_file: a file (at path) larger than one 64 KiB read block through sha256_file, against
   the digest in memory and (have_tool) sha256sum */
static void test_big_file(const char *path, int have_tool) {
    char hex[65], hex2[65];
    size_t n = 3 * 65536 + 12345;
    uint8_t *big = malloc(n);
    CHECK(big != NULL, "malloc");
    if (big) {
        uint32_t x = 1;
        for (size_t i = 0; i < n; i++) {
            x = x * 1664525u + 1013904223u;
            big[i] = (uint8_t)(x >> 24);
        }
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(big, 1, n, f);
            fclose(f);
        }
        Err e = {0};
        CHECK(sha256_file(path, hex, &e) == ST_OK, "%s", e.msg);
        digest_hex(big, n, hex2);
        CHECK(strcmp(hex, hex2) == 0, "file vs memory: %s vs %s", hex, hex2);
        if (have_tool && sha256sum_of(path, hex2))
            CHECK(strcmp(hex, hex2) == 0, "big file: got %s, sha256sum %s", hex, hex2);
        free(big);
    }
}

int main(void) {
    test_fips();
    test_million_a();
    test_hex();
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (!root) root = ".";
    test_shipped_files(root);
    test_file_errors(root);
    char dir[] = "/tmp/drrl_sha256_XXXXXX", path[4096];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return check_exit("test_sha256");
    }
    snprintf(path, sizeof path, "%s/msg", dir);
    int have_tool = test_lengths(path);
    test_big_file(path, have_tool);
    unlink(path);
    rmdir(dir);
    return check_exit("test_sha256");
}
