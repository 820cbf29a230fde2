/* store_extra.c: small helpers every writer of drrl files needs (declared in store.h):
 * an Rng's state as a dataset (checkpoints), and creating a run's directories. */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

Status store_write_rng(Store *st, const char *name, const Rng *r, Err *e) {
    uint64_t w[RNG_STATE_WORDS];
    rng_save(r, w);
    int64_t dims[1] = {RNG_STATE_WORDS};
    return store_write(st, name, DT_U64, w, 1, dims, e);
}

Status store_read_rng(Store *st, const char *name, Rng *r, Err *e) {
    uint64_t w[RNG_STATE_WORDS];
    int64_t dims[1] = {RNG_STATE_WORDS};
    Status s = store_read(st, name, DT_U64, w, 1, dims, e);
    if (s) return s;
    Rng x;
    rng_load(&x, w);
    /* what no stream can reach: the all-zero xoshiro state (it stays zero), a cached normal
       deviate flag other than 0/1, a cached deviate that is not finite */
    const char *bad = !(w[0] | w[1] | w[2] | w[3]) ? "the all-zero state"
                      : w[4] > 1                    ? "a spare flag other than 0 and 1"
                      : w[4] && !isfinite(x.spare)  ? "a non-finite spare deviate"
                                                    : NULL;
    if (bad)
        return err_set(e, ST_FORMAT, "%s: %s: expected the state of a random stream, found %s",
                       store_path(st), name, bad);
    *r = x;
    return ST_OK;
}

Status store_mkdirs(const char *path, Err *e) {
    char buf[4096];
    if (!path[0]) return err_set(e, ST_INVALID, "directory: expected a path, found ''");
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return err_set(e, ST_INVALID, "%.64s...: path too long (at most %zu bytes)", path,
                       sizeof buf - 1);
    for (char *p = buf + 1;; p++) {
        const char c = *p;
        if (c == '/' || c == 0) {
            *p = 0;
            if (buf[0] && mkdir(buf, 0777) && errno != EEXIST)
                return err_set(e, ST_IO, "%s: cannot create directory: %s", buf, strerror(errno));
            *p = c;
        }
        if (!c) break;
    }
    return ST_OK;
}
