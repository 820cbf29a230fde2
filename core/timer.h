/* timer.h: wall-clock timing on the monotonic clock, medians of repeated timings, and the
 * UTC date stamp measurements carry. */
#ifndef DRRL_CORE_TIMER_H
#define DRRL_CORE_TIMER_H

#include <stddef.h>

/* time_now: seconds on CLOCK_MONOTONIC (arbitrary origin, never goes back). */
double time_now(void);
/* time_median: median of x[0..n) (sorts a copy on the stack for n <= 1024, else in
   place order is not preserved: x is sorted). n >= 1. */
double time_median(double *x, int n);
/* time_utc_iso: now in UTC as ISO 8601 ("2026-03-01T12:00:00Z", 21 bytes with the NUL) into
   buf (cap bytes), or "unknown". */
void time_utc_iso(char *buf, size_t cap);

#endif
