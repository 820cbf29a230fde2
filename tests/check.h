/* check.h: minimal assertions for test binaries. A failed CHECK prints file:line and the
 * message and counts; check_exit() returns non-zero if anything failed (meson treats exit
 * code 77 as "skipped", so a test that cannot run calls check_skip). */
#ifndef DRRL_TESTS_CHECK_H
#define DRRL_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        check_count++;                                                     \
        if (!(cond)) {                                                     \
            check_failures++;                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

/* CHECK_CLOSE: |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, rtol, atol, what)                                         \
    do {                                                                            \
        double ca_ = (double)(a), cb_ = (double)(b);                                \
        CHECK(fabs(ca_ - cb_) <= (atol) + (rtol) * fabs(cb_),                       \
              "%s: got %.9g, expected %.9g (rtol %g, atol %g)", what, ca_, cb_,     \
              (double)(rtol), (double)(atol));                                      \
    } while (0)

static inline int check_exit(const char *name) {
    if (check_failures) {
        fprintf(stderr, "%s: %d of %d checks failed\n", name, check_failures, check_count);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, check_count);
    return 0;
}

static inline int check_skip(const char *name, const char *reason) {
    printf("%s: SKIPPED: %s\n", name, reason);
    return 77;
}

#endif
