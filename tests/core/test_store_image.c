/* test_store_image.c: in-memory stores (core/store.h, store_image.c): what is written to an
 * image reads back bit for bit from its bytes (a float dataset with NaN and -0.0, a text, an
 * attribute, an RNG state), the bytes are a whole HDF5 file (written to disk, store_open reads
 * them), and bad bytes (truncated, zeroed, another format or version) are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "core/store.h"

int main(void) {
    Err e;
    Store *st;
    float x[5] = {1.5f, -0.0f, NAN, 1e-40f, 3.0f}, y[5];
    int64_t dims[1] = {5};
    Rng r, r2;
    rng_init(&r, 7, 3);
    rng_normal(&r); /* a cached spare */
    CHECK(store_create_image(&st, "part", "drrl-test", 2, &e) == ST_OK, "create: %s", e.msg);
    CHECK(store_write(st, "/g/x", DT_F32, x, 1, dims, &e) == ST_OK &&
          store_write_text(st, "/t", "text", &e) == ST_OK &&
          store_set_attr_i64(st, "/", "n", 42, &e) == ST_OK &&
          store_write_rng(st, "/rng", &r, &e) == ST_OK, "write: %s", e.msg);
    uint8_t *buf;
    size_t len;
    CHECK(store_image_bytes(st, &buf, &len, &e) == ST_OK && len > 0, "bytes: %s", e.msg);
    store_close(st);
    if (!buf) return check_exit("test_store_image");

    char *t = NULL;
    int64_t n = 0;
    CHECK(store_open_image(&st, "part", buf, len, "drrl-test", 1, 2, &e) == ST_OK, "open: %s", e.msg);
    CHECK(store_read(st, "/g/x", DT_F32, y, 1, dims, &e) == ST_OK && !memcmp(x, y, sizeof x),
          "dataset: %s", e.msg);
    CHECK(store_read_text(st, "/t", &t, &e) == ST_OK && t && !strcmp(t, "text"), "text");
    CHECK(store_get_attr_i64(st, "/", "n", &n, &e) == ST_OK && n == 42, "attribute");
    CHECK(store_read_rng(st, "/rng", &r2, &e) == ST_OK && rng_normal(&r2) == rng_normal(&r),
          "rng: %s", e.msg);
    free(t);
    store_close(st);

    /* the bytes are a file */
    char path[] = "/tmp/test_store_image_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len, "temp file");
    if (fd >= 0) close(fd);
    CHECK(store_open(&st, path, "drrl-test", 2, 2, &e) == ST_OK, "as a file: %s", e.msg);
    if (st) store_close(st);
    unlink(path);

    CHECK(store_open_image(&st, "part", buf, len, "drrl-other", 1, 2, &e) == ST_FORMAT &&
          strstr(e.msg, "part: format: expected 'drrl-other', found 'drrl-test'"), "format: %s", e.msg);
    CHECK(store_open_image(&st, "part", buf, len, "drrl-test", 3, 3, &e) == ST_FORMAT &&
          strstr(e.msg, "format_version: expected 3..3, found 2"), "version: %s", e.msg);
    CHECK(store_open_image(&st, "part", buf, len / 3, "drrl-test", 1, 2, &e) == ST_FORMAT,
          "truncated accepted");
    memset(buf, 0, len);
    CHECK(store_open_image(&st, "part", buf, len, "drrl-test", 1, 2, &e) == ST_FORMAT &&
          strstr(e.msg, "part: not a readable HDF5 image"), "zeroed: %s", e.msg);
    free(buf);
    return check_exit("test_store_image");
}
