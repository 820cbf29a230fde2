/* fuzz_util.c: the scratch folder, file writing and error contract check of fuzz_util.h. */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char paths[4][4200];

static void remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz_util: cannot remove %s\n", dir);
}

const char *fuzz_dir(void) {
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "/tmp/drrl-fuzz-%ld", (long)getpid());
    if (mkdir(dir, 0700) && access(dir, W_OK)) {
        perror(dir);
        abort();
    }
    atexit(remove_dir);
    return dir;
}

const char *fuzz_path(int slot, const char *name) {
    if (slot < 0 || slot > 3) abort();
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fuzz_dir(), name);
    return paths[slot];
}

void fuzz_write(const char *path, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) {
        perror(path);
        abort();
    }
}

void fuzz_check_err(Status s, const Err *e) {
    if (s == ST_OK) return;
    if (e->status != s || e->msg[0] == '\0' || !memchr(e->msg, '\0', sizeof e->msg)) {
        fprintf(stderr, "fuzz: status %d returned with Err {%d, '%.*s'}\n", (int)s,
                (int)e->status, (int)sizeof e->msg, e->msg);
        abort();
    }
}
