/* test_err_rng_mem.c: Err formatting, the RNG against an independent implementation
 * (reference outputs computed with arbitrary-precision Python integers from the published
 * xoshiro256** and splitmix64 definitions), save/restore bit-exactness, distribution
 * checks, memory plans and the monotonic timer. */
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/rng.h"
#include "core/timer.h"
#include "tests/check.h"

static void test_err(void) {
    Err e;
    err_clear(&e);
    CHECK(e.status == ST_OK && e.msg[0] == '\0', "cleared");
    Status s = err_set(&e, ST_SHAPE, "x.h5: /a: expected %d, found %d", 3, 4);
    CHECK(s == ST_SHAPE && e.status == ST_SHAPE, "status returned and stored");
    CHECK(strcmp(e.msg, "x.h5: /a: expected 3, found 4") == 0, "msg '%s'", e.msg);
    err_prefix(&e, "loading %s", "model");
    CHECK(strcmp(e.msg, "loading model: x.h5: /a: expected 3, found 4") == 0, "prefix '%s'",
          e.msg);
    CHECK(err_set(NULL, ST_IO, "ignored") == ST_IO, "NULL err allowed");
    CHECK(strcmp(status_name(ST_NUMERIC), "numeric") == 0, "status name");
}

static void test_rng_reference(void) {
    /* canonical xoshiro256** test: state {1,2,3,4} */
    Rng r;
    uint64_t st[RNG_STATE_WORDS] = {1, 2, 3, 4, 0, 0};
    rng_load(&r, st);
    const uint64_t want[4] = {11520ull, 0ull, 1509978240ull, 1215971899390074240ull};
    for (int i = 0; i < 4; i++) {
        uint64_t g = rng_u64(&r);
        CHECK(g == want[i], "xoshiro256** output %d: %llu vs %llu", i, (unsigned long long)g,
              (unsigned long long)want[i]);
    }
    /* our seeding (splitmix64 of stream, xor seed, 4 splitmix64 draws) */
    struct { uint64_t seed, stream, out[3]; } ref[3] = {
        {42, 0, {0x1ff785474f113b15ull, 0x4b7867ceff5d8325ull, 0x90ca7a95a9909966ull}},
        {42, 1, {0x584870a53e6ddcdfull, 0x24862b58ab088c44ull, 0xb77af7ea4c59709eull}},
        {0, 0, {0xfb5405f7bd79c540ull, 0x780c98e26cea5883ull, 0x2a146e0980febc66ull}},
    };
    for (int k = 0; k < 3; k++) {
        rng_init(&r, ref[k].seed, ref[k].stream);
        for (int i = 0; i < 3; i++) {
            uint64_t g = rng_u64(&r);
            CHECK(g == ref[k].out[i], "seed %llu stream %llu output %d",
                  (unsigned long long)ref[k].seed, (unsigned long long)ref[k].stream, i);
        }
    }
    rng_init(&r, 42, 0);
    for (int i = 0; i < 1000; i++) rng_u64(&r);
    CHECK(rng_u64(&r) == 0x4f8de02154291db0ull, "1001st output");
    /* Box-Muller pair from (7, 3), reference computed in double by Python's math */
    rng_init(&r, 7, 3);
    CHECK_CLOSE(rng_normal(&r), 0.35662929667560755, 1e-15, 0, "normal 1");
    CHECK_CLOSE(rng_normal(&r), 1.0759676118587809, 1e-15, 0, "normal 2 (cached)");
}

static void test_rng_save_restore(void) {
    Rng a, b;
    rng_init(&a, 123, 9);
    for (int i = 0; i < 17; i++) rng_u64(&a);
    (void)rng_normal(&a); /* leaves a cached spare deviate: must be saved too */
    uint64_t st[RNG_STATE_WORDS];
    rng_save(&a, st);
    rng_init(&b, 999, 999);
    rng_load(&b, st);
    int same = 1;
    for (int i = 0; i < 100; i++) {
        if (rng_normal(&a) != rng_normal(&b)) same = 0;
        if (rng_u64(&a) != rng_u64(&b)) same = 0;
        if (rng_below(&a, 1000003) != rng_below(&b, 1000003)) same = 0;
    }
    CHECK(same, "restored stream continues bit-exactly");
}

static void test_rng_distributions(void) {
    Rng r;
    rng_init(&r, 5, 0);
    const int n = 200000;
    double s = 0, s2 = 0;
    int bins[10] = {0};
    float umin = 1, umax = 0;
    for (int i = 0; i < n; i++) {
        double z = rng_normal(&r);
        s += z;
        s2 += z * z;
        bins[rng_below(&r, 10)]++;
        float u = rng_uniformf(&r);
        if (u < umin) umin = u;
        if (u > umax) umax = u;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    /* standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032; allow 5 */
    CHECK(fabs(mean) < 5 * 0.0023, "normal mean %g", mean);
    CHECK(fabs(var - 1) < 5 * 0.0032, "normal variance %g", var);
    /* chi-square with 9 degrees of freedom: p = 1e-4 quantile is 33.7 */
    double chi = 0, expct = n / 10.0;
    for (int k = 0; k < 10; k++) chi += (bins[k] - expct) * (bins[k] - expct) / expct;
    CHECK(chi < 33.7, "rng_below uniformity chi2 %g", chi);
    CHECK(umin >= 0.0f && umax < 1.0f, "uniformf in [0,1): %g %g", umin, umax);
    int perm[50], seen[50] = {0};
    for (int i = 0; i < 50; i++) perm[i] = i;
    rng_shuffle(&r, perm, 50);
    int moved = 0;
    for (int i = 0; i < 50; i++) {
        seen[perm[i]]++;
        moved += perm[i] != i;
    }
    int ok = 1;
    for (int i = 0; i < 50; i++) ok &= seen[i] == 1;
    CHECK(ok && moved > 10, "shuffle is a permutation (%d moved)", moved);
}

static void test_mem_plan(void) {
    MemPlan p;
    mem_plan_init(&p);
    float *a = NULL, *b = NULL;
    int32_t *c = NULL;
    double *d = NULL;
    mem_plan_f32(&p, &a, 10, "a");
    mem_plan_i32(&p, &c, 3, "c");
    mem_plan_f32(&p, &b, 1000, "b");
    mem_plan_f64(&p, &d, 5, "d");
    Err e;
    CHECK(mem_plan_alloc(&p, &e) == ST_OK, "alloc");
    CHECK(a && b && c && d, "all pointers assigned");
    CHECK(((uintptr_t)a % 64) == 0 && ((uintptr_t)b % 64) == 0 && ((uintptr_t)c % 64) == 0 &&
              ((uintptr_t)d % 64) == 0,
          "64-byte aligned");
    CHECK((char *)c >= (char *)(a + 10) && (char *)b >= (char *)(c + 3) &&
              (char *)d >= (char *)(b + 1000),
          "no overlap");
    CHECK(p.bytes == 64 + 64 + 4032 + 64, "planned bytes %zu", p.bytes);
    int zero = 1;
    for (int i = 0; i < 1000; i++) zero &= b[i] == 0.0f;
    CHECK(zero, "zeroed");
    for (int i = 0; i < 1000; i++) b[i] = (float)i; /* ASan catches overruns here */
    mem_plan_free(&p);
    CHECK(a == NULL && b == NULL && c == NULL && d == NULL, "pointers cleared on free");

    MemPlan q;
    mem_plan_init(&q);
    float *many = NULL;
    for (int i = 0; i < MEM_PLAN_MAX + 1; i++) mem_plan_f32(&q, &many, 1, "x");
    CHECK(mem_plan_alloc(&q, &e) == ST_INVALID, "overflow reported");
    CHECK(strstr(e.msg, "MEM_PLAN_MAX") != NULL, "overflow message '%s'", e.msg);
}

static void test_timer(void) {
    double t0 = time_now(), t1 = time_now();
    CHECK(t1 >= t0, "monotonic");
    double x[5] = {5, 1, 4, 2, 3};
    CHECK(time_median(x, 5) == 3, "odd median");
    CHECK(x[0] == 5, "input untouched");
    double y[4] = {4, 1, 3, 2};
    CHECK(time_median(y, 4) == 2.5, "even median");
}

int main(void) {
    test_err();
    test_rng_reference();
    test_rng_save_restore();
    test_rng_distributions();
    test_mem_plan();
    test_timer();
    return check_exit("test_err_rng_mem");
}
