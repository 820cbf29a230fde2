/* bench_args.h: the command line of drrl-bench: its flags (a core/cli.h spec, which also
 * gives --help, --version, --seed, --out, --quiet and --verbose), their defaults, and the
 * conversion of the parsed flags into BenchArgs with messages "FLAG: expected X, found Y". */
#ifndef DRRL_BENCH_ARGS_H
#define DRRL_BENCH_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "bench/bench_peak.h"
#include "core/cli.h"
#include "core/err.h"

#define BENCH_MAX_LIST 32

typedef enum {
    K_EXACT = 0,
    K_LOWRANK,    /* weight-level factors, plain SVD (attention/lowrank.h) */
    K_WHITENED,   /* weight-level factors, whitened by the calibration moment */
    K_ACTIVATION, /* activation-level factors (attention/activation.h) */
    K_NYSTROM,    /* Nystromformer, rank = landmarks */
    K_PERFORMER,  /* Performer FAVOR+, rank = features */
    K_COUNT
} BenchKernel;

extern const char *const bench_kernel_names[K_COUNT];

typedef struct {
    int n[BENCH_MAX_LIST], nn;                 /* sequence lengths */
    int kernel[K_COUNT];                       /* 1 = selected (exact is always run) */
    int ranks[BENCH_MAX_LIST], nr;             /* lowrank, whitened, activation */
    int landmarks[BENCH_MAX_LIST], nl;         /* nystrom */
    int features[BENCH_MAX_LIST], nf;          /* performer */
    int d, H, B;                               /* width, heads, batch */
    int reps, warmup;                          /* timed runs, discarded runs (>= 1) */
    int threads;                               /* 0: leave OpenMP/OpenBLAS as they are; the
                                                  command then stores the count in use */
    double max_seconds;                        /* skip a configuration predicted longer; 0: never */
    const char *kernel_variant;                /* --kernel: "auto", "default", "list", a name */
    BenchPeak peak;                            /* measured by the table run (bench_peak.h) */
    double wstd;                               /* std of the random weights and biases */
    uint64_t seed;                             /* --seed (default 1) */
    const char *out;                           /* --out DIR: NULL, or the folder of bench.csv */
    const char *torch;                         /* NULL, a CSV path, or "auto" */
    const char *calibrate;                     /* NULL, or the latency table file to write */
    int causal;                                /* --causal: the table under a causal mask */
} BenchArgs;

/* bench_cli: drrl-bench's flags, synopsis and about text, for cli_parse. */
extern const CliSpec bench_cli;

/* bench_args_from_cli: the defaults, then the flags c parsed by cli_parse(&bench_cli, ...),
   then the cross-flag checks; ST_INVALID with a message naming the flag. */
Status bench_args_from_cli(BenchArgs *a, const CliArgs *c, Err *e);

/* bench_args_print: a's every setting as one drrl-bench command line (--verbose). */
void bench_args_print(FILE *f, const BenchArgs *a);

#endif
