/* bench_report.c: drrl-bench's printed table and CSV (bench_report.h): derived ratios and
 * rates per row, blanks for what is not available. */
#include "bench/bench_report.h"

#include <math.h>
#include <string.h>

typedef struct {
    double flops_ratio, latency_ratio, gflops, mm_gflops, mm_eff, fma_eff, torch_ms, speedup;
    int torch_threads;
} Derived;

static Derived derive(const BenchRow *r, const BenchRow *exact, const BenchArgs *a,
                      const TorchTimes *torch) {
    Derived v = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0};
    if (exact->flops > 0) v.flops_ratio = (double)r->flops / (double)exact->flops;
    if (!r->skipped && !exact->skipped) v.latency_ratio = r->latency / exact->latency;
    if (!r->skipped) {
        v.gflops = 1e-9 * (double)r->flops / r->latency;
        v.mm_gflops = 1e-9 * (double)r->mm_flops / r->latency;
        v.mm_eff = v.mm_gflops / a->peak.sgemm_gflops;
        v.fma_eff = v.mm_gflops / a->peak.fma_gflops;
    }
    double ms = torch ? torch_best_ms(torch, r->n, &v.torch_threads) : -1;
    if (ms > 0) {
        v.torch_ms = ms;
        if (!r->skipped) v.speedup = ms / (1e3 * r->latency);
    }
    return v;
}

/* num: v with prec digits, 'f' (fixed) or 'e' (exponent) style, into buf; blank when NAN. */
static const char *num(char *buf, size_t cap, char style, int prec, double v) {
    if (isnan(v)) buf[0] = 0;
    else snprintf(buf, cap, style == 'e' ? "%.*e" : "%.*f", prec, v);
    return buf;
}

void bench_print_header(FILE *f, const BenchArgs *a, const char *hardware) {
    fprintf(f, "drrl-bench: d=%d heads=%d (head size %d) batch=%d, median of %d runs after %d "
            "warm-up; %s\n", a->d, a->H, a->d / a->H, a->B, a->reps, a->warmup, hardware);
    fprintf(f, "measured in this run: sgemm %.1f GFLOP/s (n=%d), fp32 FMA peak %.1f GFLOP/s "
            "(%d threads)\n", a->peak.sgemm_gflops, a->peak.sgemm_n, a->peak.fma_gflops,
            a->peak.threads);
    fprintf(f, "ratios vs exact at the same n in this run; fidelity vs exact's output; bound: "
            "tight relative Frobenius bound (weight-level only);\n"
            "mm_GF/s: matmul FLOPs (projection, score, value, output GEMMs) per second; sgemm_eff "
            "and fma_eff: that over the sgemm rate and the FMA peak above\n");
    fprintf(f, "%-10s %6s %4s %11s %9s %7s %7s %9s %9s %9s %7s %7s %9s %7s %9s %7s %s\n", "kernel",
            "n", "rank", "latency_ms", "GFLOP", "flops_r", "lat_r", "cosine", "rel_err", "bound",
            "GF/s", "mm_GF/s", "sgemm_eff", "fma_eff", "torch_ms", "speedup", "variant");
}

void bench_print_rows(FILE *f, const BenchRow *rows, int nrows, const BenchArgs *a,
                      const TorchTimes *torch) {
    char b[10][32];
    for (int i = 0; i < nrows; i++) {
        const BenchRow *r = &rows[i];
        if (r->skipped) {
            fprintf(f, "%-10s %6d %4d   skipped: %s\n", bench_kernel_names[r->kernel], r->n,
                    r->rank, r->note);
            continue;
        }
        Derived v = derive(r, &rows[0], a, torch);
        fprintf(f, "%-10s %6d %4d %11.3f %9.3f %7.3f %7.3f %9s %9s %9s %7.1f %7.1f %9.3f %7.3f %9s "
                "%7s %s\n",
                bench_kernel_names[r->kernel], r->n, r->rank, 1e3 * r->latency, 1e-9 * r->flops,
                v.flops_ratio, v.latency_ratio, num(b[0], 32, 'f', 6, r->cosine),
                num(b[1], 32, 'e', 3, r->rel_err), num(b[2], 32, 'e', 3, r->bound), v.gflops,
                v.mm_gflops, v.mm_eff, v.fma_eff, num(b[3], 32, 'f', 3, v.torch_ms),
                num(b[4], 32, 'f', 2, v.speedup), r->variant);
    }
    fflush(f);
}

int bench_csv_header(FILE *f) {
    int rc = fprintf(f, "kernel,n,rank,latency_ms,flops,flops_ratio,latency_ratio,cosine,rel_err,"
                     "bound,mm_flops,gflops,mm_gflops,sgemm_eff,fma_eff,torch_ms,torch_threads,"
                     "torch_speedup,d,heads,batch,threads,reps,sgemm_gflops,fma_gflops,variant\n");
    return rc < 0 || fflush(f) ? -1 : 0;
}

int bench_csv_rows(FILE *f, const BenchRow *rows, int nrows, const BenchArgs *a,
                   const TorchTimes *torch) {
    char b[12][40];
    for (int i = 0; i < nrows; i++) {
        const BenchRow *r = &rows[i];
        if (r->skipped) continue;
        Derived v = derive(r, &rows[0], a, torch);
        char th[16] = "";
        if (v.torch_threads > 0) snprintf(th, sizeof th, "%d", v.torch_threads);
        int rc = fprintf(f, "%s,%d,%d,%.6f,%lld,%s,%s,%s,%s,%s,%lld,%s,%s,%s,%s,%s,%s,%s,%d,%d,%d,"
                         "%d,%d,%.3f,%.3f,%s\n",
                         bench_kernel_names[r->kernel], r->n, r->rank, 1e3 * r->latency,
                         (long long)r->flops, num(b[0], 40, 'f', 6, v.flops_ratio),
                         num(b[1], 40, 'f', 6, v.latency_ratio), num(b[2], 40, 'f', 8, r->cosine),
                         num(b[3], 40, 'e', 6, r->rel_err), num(b[4], 40, 'e', 6, r->bound),
                         (long long)r->mm_flops, num(b[5], 40, 'f', 3, v.gflops),
                         num(b[6], 40, 'f', 3, v.mm_gflops), num(b[7], 40, 'f', 4, v.mm_eff),
                         num(b[10], 40, 'f', 4, v.fma_eff), num(b[8], 40, 'f', 3, v.torch_ms), th,
                         num(b[9], 40, 'f', 4, v.speedup), a->d, a->H, a->B, a->threads, a->reps,
                         a->peak.sgemm_gflops, a->peak.fma_gflops, r->variant);
        if (rc < 0) return -1;
    }
    return fflush(f) ? -1 : 0;
}
