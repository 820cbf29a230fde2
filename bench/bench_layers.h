/* bench_layers.h: the attention layers drrl-bench runs at one sequence length, behind one
 * call: plan the selected kernels for B x N tokens, run one configuration (kernel, rank),
 * free. The layers embed memory plans and register pointers to themselves: allocate a
 * BenchLayers on the heap and never copy it. */
#ifndef DRRL_BENCH_LAYERS_H
#define DRRL_BENCH_LAYERS_H

#include "attention/activation.h"
#include "attention/exact.h"
#include "attention/lowrank.h"
#include "attention/nystrom.h"
#include "attention/performer.h"
#include "bench/bench_args.h"
#include "bench/bench_model.h"

typedef struct {
    int has[K_COUNT];
    int B, N;
    AttnExact ex;
    AttnLowrank lr[2]; /* [0] plain factors, [1] whitened */
    AttnActivation act;
    NystromLayer ny;
    PerformerLayer pf;
    const BenchModel *m;
} BenchLayers;

/* bench_layers_init: plan every kernel selected in a (exact always) for B x N tokens. */
Status bench_layers_init(BenchLayers *L, const BenchArgs *a, const BenchModel *m, int N, Err *e);
void bench_layers_free(BenchLayers *L);

/* bench_layers_run: y (B, N, d) = kernel at rank on x, no padding; fl receives the FLOPs. */
Status bench_layers_run(BenchLayers *L, BenchKernel k, int rank, float *y, const float *x,
                        AttnFlops *fl, Err *e);

#endif
