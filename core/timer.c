/* timer.c: monotonic clock and median (see timer.h). */
#define _POSIX_C_SOURCE 200809L
#include "timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double time_median(double *x, int n) {
    double buf[1024];
    double *v = x;
    if (n <= 1024) {
        memcpy(buf, x, (size_t)n * sizeof(double));
        v = buf;
    }
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return (n % 2) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void time_utc_iso(char *buf, size_t cap) {
    time_t now = time(NULL);
    struct tm tmv;
    if (!gmtime_r(&now, &tmv) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tmv))
        snprintf(buf, cap, "unknown");
}
