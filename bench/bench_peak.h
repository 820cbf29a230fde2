/* bench_peak.h: the machine's own reference speeds, measured in the same run as the kernels
 * (issue 15: no constant of another machine):
 *   fma peak     every thread runs BENCH_FMA_CHAINS independent chains of 16-float vector
 *                multiply-adds (2 FLOPs per lane) on register-resident values, the widest
 *                vectors the compiler targets (-march=native); the best of several runs;
 *   sgemm        OpenBLAS cblas_sgemm of (n x n) by (n x n) with the threads in use, the best
 *                of several runs after one warm-up: what the machine's BLAS reaches on a large
 *                square product. */
#ifndef DRRL_BENCH_PEAK_H
#define DRRL_BENCH_PEAK_H

#define BENCH_FMA_CHAINS 16

typedef struct {
    double fma_gflops;   /* fp32 FMA peak of all threads, GFLOP/s */
    double sgemm_gflops; /* cblas_sgemm at n = sgemm_n, GFLOP/s */
    int sgemm_n;
    int threads;
} BenchPeak;

/* bench_peak_measure: both, with `threads` threads (>= 1). Returns 0, or -1 out of memory. */
int bench_peak_measure(BenchPeak *p, int threads);

#endif
