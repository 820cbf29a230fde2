/* test_file.c: core/file.h: a whole file read back byte for byte (with the terminating NUL and
 * embedded NULs), errors naming the path; atomic text files: commit replaces the old file,
 * abort and a failed open leave the old file whole and no .tmp behind. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "tests/check.h"

static void write_raw(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(s, 1, n, f);
    fclose(f);
}

static void test_read(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/a.bin", dir);
    const char data[] = {'a', 0, 'b', '\n', 'c'};
    write_raw(path, data, sizeof data);
    char *buf = NULL;
    size_t n = 0;
    Err e;
    CHECK(file_read_all(path, &buf, &n, &e) == ST_OK && n == sizeof data &&
          !memcmp(buf, data, n) && buf[n] == 0, "read back %zu bytes", n);
    free(buf);
    snprintf(path, sizeof path, "%s/none.txt", dir);
    CHECK(file_read_all(path, &buf, &n, &e) == ST_IO && strstr(e.msg, path) &&
          strstr(e.msg, "cannot open"), "%s", e.msg);
}

static void test_atomic(const char *dir) {
    char path[512], tmp[600];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    AtomicFile af;
    Err e;
    CHECK(file_atomic_open(&af, path, &e) == ST_OK, "%s", e.msg);
    fputs("first\n", af.f);
    CHECK(access(path, F_OK) != 0, "nothing under the final name before commit");
    CHECK(file_atomic_commit(&af, &e) == ST_OK && access(tmp, F_OK) != 0, "commit");
    char *buf = NULL;
    size_t n = 0;
    CHECK(file_read_all(path, &buf, &n, &e) == ST_OK && !strcmp(buf, "first\n"), "content");
    free(buf);
    CHECK(file_atomic_open(&af, path, &e) == ST_OK, "%s", e.msg);
    fputs("second, never committed\n", af.f);
    file_atomic_abort(&af);
    CHECK(file_read_all(path, &buf, &n, &e) == ST_OK && !strcmp(buf, "first\n"),
          "abort keeps the old file");
    free(buf);
    CHECK(access(tmp, F_OK) != 0, "abort removes the .tmp");
    file_atomic_abort(&af); /* twice is safe */
    snprintf(path, sizeof path, "%s/no/such/dir/x.txt", dir);
    CHECK(file_atomic_open(&af, path, &e) == ST_IO && strstr(e.msg, "x.txt.tmp: cannot open"),
          "%s", e.msg);
    file_atomic_abort(&af); /* after a failed open: nothing to do */
}

int main(void) {
    char dir[] = "/tmp/drrl-test-file-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_read(dir);
    test_atomic(dir);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 1;
    return check_exit("test_file");
}
