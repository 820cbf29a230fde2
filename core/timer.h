/* timer.h: wall-clock timing on the monotonic clock, and medians of repeated timings. */
#ifndef DRRL_CORE_TIMER_H
#define DRRL_CORE_TIMER_H

/* time_now: seconds on CLOCK_MONOTONIC (arbitrary origin, never goes back). */
double time_now(void);
/* time_median: median of x[0..n) (sorts a copy on the stack for n <= 1024, else in
   place order is not preserved: x is sorted). n >= 1. */
double time_median(double *x, int n);

#endif
