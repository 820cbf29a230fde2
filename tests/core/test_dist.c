/* test_dist.c: core/dist.h over the processes of the job it runs in: alone (a plain start, or
 * a build without MPI) and under `mpirun -np 2` (tests/core/meson.build). Every collective
 * against the value it must give, computed here from the ranks alone: sums of integers and
 * floats, maxima, the exact merge of disjoint parts (dist_or: NaN, -0.0 and denormals survive
 * bit for bit), a broadcast, and dist_agree: with no failure, with the last process failing
 * (every process gets its status and message, prefixed with its rank), with two failing (the
 * lowest one wins). Usage: test_dist EXPECTED_SIZE. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "core/dist.h"

int main(int argc, char **argv) {
    Err e;
    err_clear(&e);
    CHECK(dist_init(&argc, &argv, &e) == ST_OK, "dist_init: %s", e.msg);
    const int want = argc > 1 ? atoi(argv[1]) : 1, r = dist_rank(), P = dist_size();
    CHECK(P == want && r >= 0 && r < P, "rank %d of %d, expected %d processes", r, P, want);

    int64_t iv[3] = {r, 1, (int64_t)1 << 40};
    CHECK(dist_sum_i64(iv, 3, &e) == ST_OK, "sum_i64: %s", e.msg);
    CHECK(iv[0] == (int64_t)P * (P - 1) / 2 && iv[1] == P && iv[2] == (int64_t)P << 40,
          "sum_i64: %lld %lld %lld", (long long)iv[0], (long long)iv[1], (long long)iv[2]);
    double dv[2] = {0.5 * r, -r};
    CHECK(dist_sum_f64(dv, 2, &e) == ST_OK && dv[0] == 0.25 * P * (P - 1) && dv[1] == -0.5 * P * (P - 1),
          "sum_f64: %g %g", dv[0], dv[1]);
    float fv[1] = {1.0f};
    CHECK(dist_sum_f32(fv, 1, &e) == ST_OK && fv[0] == (float)P, "sum_f32: %g", (double)fv[0]);
    double mv[2] = {r, -r};
    CHECK(dist_max_f64(mv, 2, &e) == ST_OK && mv[0] == P - 1 && mv[1] == 0, "max: %g %g", mv[0], mv[1]);

    /* dist_or: element i written by process i % P; special values survive exactly */
    enum { N = 3000 };
    static float part[N], whole[N];
    for (int i = 0; i < N; i++) {
        float v = i % 7 == 0 ? NAN : i % 7 == 1 ? -0.0f : i % 7 == 2 ? 1e-40f : (float)i / 3.0f;
        whole[i] = v;
        part[i] = i % P == r ? v : 0.0f; /* +0.0f: all bits zero */
    }
    CHECK(dist_or(part, sizeof part, &e) == ST_OK, "or: %s", e.msg);
    CHECK(!memcmp(part, whole, sizeof part), "dist_or changed some bits");

    char text[32];
    snprintf(text, sizeof text, "from %d", r);
    CHECK(dist_bcast(text, sizeof text, P - 1, &e) == ST_OK, "bcast: %s", e.msg);
    char expect[32];
    snprintf(expect, sizeof expect, "from %d", P - 1);
    CHECK(!strcmp(text, expect), "bcast: '%s', expected '%s'", text, expect);

    CHECK(dist_agree(ST_OK, &e) == ST_OK, "agree without failure");
    Status s = ST_OK;
    if (r == P - 1) s = err_set(&e, ST_FORMAT, "bad file on the last process");
    Status got = dist_agree(s, &e);
    char msg[128];
    if (P > 1) snprintf(msg, sizeof msg, "process %d: bad file on the last process", P - 1);
    else snprintf(msg, sizeof msg, "bad file on the last process");
    CHECK(got == ST_FORMAT && !strcmp(e.msg, msg), "agree: status %d '%s', expected '%s'",
          (int)got, e.msg, msg);
    s = r >= 0 ? err_set(&e, r ? ST_IO : ST_CONFIG, "failure of %d", r) : ST_OK;
    got = dist_agree(s, &e);
    CHECK(got == ST_CONFIG && strstr(e.msg, "failure of 0"), "agree, all failing: %d '%s'",
          (int)got, e.msg);
    CHECK(dist_barrier(&e) == ST_OK, "barrier: %s", e.msg);
    int rc = check_exit(r ? "test_dist (process 1+)" : "test_dist");
    dist_finalize();
    return rc;
}
