/* bench_layers.c: planning, running and freeing the attention layers of drrl-bench at one
 * sequence length (bench_layers.h). */
#include "bench/bench_layers.h"

#include <string.h>

static int max_of(const int *v, int n) {
    int m = 0;
    for (int i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

Status bench_layers_init(BenchLayers *L, const BenchArgs *a, const BenchModel *m, int N, Err *e) {
    memset(L, 0, sizeof *L);
    L->B = a->B, L->N = N, L->m = m;
    for (int k = 0; k < K_COUNT; k++) L->has[k] = a->kernel[k];
    L->has[K_EXACT] = 1;
    const int B = a->B, d = a->d, H = a->H;
    Status s = attn_exact_init(&L->ex, B, N, d, H, e);
    if (!s && L->has[K_LOWRANK]) s = attn_lowrank_init(&L->lr[0], &m->plain, a->ranks, a->nr, B, N, e);
    if (!s && L->has[K_WHITENED])
        s = attn_lowrank_init(&L->lr[1], &m->whitened, a->ranks, a->nr, B, N, e);
    if (!s && L->has[K_ACTIVATION]) s = attn_activation_init(&L->act, B, N, d, H, e);
    if (!s && L->has[K_NYSTROM])
        s = nystrom_init(&L->ny, B, N, d, H, max_of(a->landmarks, a->nl), e);
    if (!s && L->has[K_PERFORMER])
        s = performer_init(&L->pf, B, N, d, H, max_of(a->features, a->nf), a->seed, e);
    if (s) err_prefix(e, "planning the layers for N = %d", N);
    return s;
}

void bench_layers_free(BenchLayers *L) {
    attn_exact_free(&L->ex);
    if (L->has[K_LOWRANK]) attn_lowrank_free(&L->lr[0]);
    if (L->has[K_WHITENED]) attn_lowrank_free(&L->lr[1]);
    if (L->has[K_ACTIVATION]) attn_activation_free(&L->act);
    if (L->has[K_NYSTROM]) nystrom_free(&L->ny);
    if (L->has[K_PERFORMER]) performer_free(&L->pf);
    memset(L, 0, sizeof *L);
}

Status bench_layers_run(BenchLayers *L, BenchKernel k, int rank, float *y, const float *x,
                        AttnFlops *fl, Err *e) {
    const AttnMask none = attn_mask_none();
    const MhsaParams *p = &L->m->p;
    const int B = L->B, N = L->N;
    attn_flops_zero(fl);
    switch (k) {
    case K_EXACT: return attn_exact_forward(y, &L->ex, x, none, p, B, N, fl, e);
    case K_LOWRANK: return attn_lowrank_forward_rank(y, &L->lr[0], x, none, B, N, rank, fl, e);
    case K_WHITENED: return attn_lowrank_forward_rank(y, &L->lr[1], x, none, B, N, rank, fl, e);
    case K_ACTIVATION: return attn_activation_forward(y, &L->act, x, none, p, B, N, rank, fl, e);
    case K_NYSTROM: return nystrom_forward(y, &L->ny, x, none, p, B, N, rank, fl, e);
    case K_PERFORMER: return performer_forward(y, &L->pf, x, none, p, B, N, rank, fl, e);
    default: return err_set(e, ST_INVALID, "bench: unknown kernel %d", (int)k);
    }
}
