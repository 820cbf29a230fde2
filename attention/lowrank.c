/* lowrank.c: weight-level low-rank MHSA forward with per-segment ranks (math, layout and
 * FLOP count in lowrank.h):
 *     K~ = X~ B_pack(r_max), U = X~ C_pack(r_max)             one GEMM each over B N rows
 *     Q~_s = X~_s A_pack(r_s)                                  per (sequence, segment)
 *     O_s,h = softmax_masked(Q~_s,h K~_h[:, :r_s]^T / sqrt(dh)) U_h[:, :r_s]   (kernel.h)
 *     Y_s = O_s D_pack(r_s) + bo
 * When every segment has the same rank the per-segment GEMMs merge into one over B N rows. */
#include "attention/lowrank.h"
#include "attention/lowrank_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

int attn_lowrank_grid_index(const AttnLowrank *L, int r) {
    for (int i = 0; i < L->n_ranks; i++)
        if (L->ranks[i] == r) return i;
    return -1;
}

Status attn_lowrank_init(AttnLowrank *L, const AttnFactors *f, const int *ranks, int n_ranks,
                         int max_B, int max_N, Err *e) {
    memset(L, 0, sizeof *L);
    if (n_ranks < 1 || n_ranks > ATTN_MAX_RANKS || max_B < 1 || max_N < 1)
        return err_set(e, ST_INVALID,
                       "attn_lowrank_init: expected 1..%d ranks, max_B >= 1, max_N >= 1, found "
                       "%d ranks, max_B=%d, max_N=%d",
                       ATTN_MAX_RANKS, n_ranks, max_B, max_N);
    L->d = f->d;
    L->H = f->H;
    L->dh = f->dh;
    L->max_B = max_B;
    L->max_N = max_N;
    /* the grid, sorted increasing (insertion sort), checked */
    for (int i = 0; i < n_ranks; i++) {
        int r = ranks[i];
        if (r < 1 || r > f->dh)
            return err_set(e, ST_INVALID, "attn_lowrank_init: rank %d: expected 1..%d", r, f->dh);
        for (int j = 0; j < i; j++)
            if (ranks[j] == r)
                return err_set(e, ST_INVALID, "attn_lowrank_init: rank %d listed twice", r);
        int j = i;
        while (j > 0 && L->ranks[j - 1] > r) {
            L->ranks[j] = L->ranks[j - 1];
            j--;
        }
        L->ranks[j] = r;
    }
    L->n_ranks = n_ranks;
    L->r_max = L->ranks[n_ranks - 1];
    const size_t D = (size_t)f->d + 1, d = (size_t)f->d, H = (size_t)f->H;
    mem_plan_init(&L->plan);
    for (int i = 0; i < n_ranks; i++) {
        const size_t hr = H * (size_t)L->ranks[i];
        L->pack[i].r = L->ranks[i];
        mem_plan_f32(&L->plan, &L->pack[i].a, D * hr, "attn_lowrank.pack.a");
        mem_plan_f32(&L->plan, &L->pack[i].b, D * hr, "attn_lowrank.pack.b");
        mem_plan_f32(&L->plan, &L->pack[i].c, D * hr, "attn_lowrank.pack.c");
        mem_plan_f32(&L->plan, &L->pack[i].dt, hr * d, "attn_lowrank.pack.dt");
    }
    const size_t act = (size_t)max_B * max_N * H * L->r_max;
    mem_plan_f32(&L->plan, &L->bo, d, "attn_lowrank.bo");
    mem_plan_f32(&L->plan, &L->q, act, "attn_lowrank.q");
    mem_plan_f32(&L->plan, &L->k, act, "attn_lowrank.k");
    mem_plan_f32(&L->plan, &L->u, act, "attn_lowrank.u");
    mem_plan_f32(&L->plan, &L->o, act, "attn_lowrank.o");
    L->threads = attn_kernel_threads();
    L->scratch_len = attn_kernel_scratch_size(max_N, L->threads);
    mem_plan_f32(&L->plan, &L->scratch, L->scratch_len, "attn_lowrank.scratch");
    mem_plan_u8(&L->plan, &L->seg_mem, sizeof(AttnSegment) * ATTN_MAX_SEGS, "attn_lowrank.segs");
    Status st = mem_plan_alloc(&L->plan, e);
    if (st) return st;
    return attn_lowrank_repack(L, f, e);
}

void attn_lowrank_free(AttnLowrank *L) {
    mem_plan_free(&L->plan);
    memset(L, 0, sizeof *L);
}

Status attn_lowrank_repack(AttnLowrank *L, const AttnFactors *f, Err *e) {
    if (f->d != L->d || f->H != L->H)
        return err_set(e, ST_SHAPE,
                       "attn_lowrank_repack: expected factors of d=%d H=%d, found d=%d H=%d",
                       L->d, L->H, f->d, f->H);
    const int d = L->d, D = d + 1, H = L->H, dh = L->dh;
    for (int g = 0; g < L->n_ranks; g++) {
        AttnRankPack *pk = &L->pack[g];
        const int r = pk->r, hr = H * r;
        for (int h = 0; h < H; h++) {
            const size_t off = (size_t)h * D * dh;
            for (int i = 0; i < D; i++)
                for (int j = 0; j < r; j++) {
                    pk->a[(size_t)i * hr + h * r + j] = f->a[off + (size_t)i * dh + j];
                    pk->b[(size_t)i * hr + h * r + j] = f->b[off + (size_t)i * dh + j];
                    pk->c[(size_t)i * hr + h * r + j] = f->c[off + (size_t)i * dh + j];
                }
            const float *Dh = f->dm + (size_t)h * d * dh; /* (d, dh) */
            for (int j = 0; j < r; j++)
                for (int o = 0; o < d; o++)
                    pk->dt[(size_t)(h * r + j) * d + o] = Dh[(size_t)o * dh + j];
        }
    }
    memcpy(L->bo, f->bo, sizeof(float) * d);
    return ST_OK;
}

/* out (m, n) with row stride ldo = x (m, kx) W (kx, n) + bias (n) on every row (written
   first, then the GEMM accumulates); returns the FLOPs, 2 m kx n + m n */
int64_t attn_lowrank_gemm_bias(float *out, int ldo, const float *x, int ldx, const float *W,
                               const float *bias, int m, int kx, int n) {
    for (int i = 0; i < m; i++) memcpy(out + (size_t)i * ldo, bias, sizeof(float) * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, kx, 1.0f, x, ldx, W, n, 1.0f,
                out, ldo);
    return 2 * (int64_t)m * kx * n + (int64_t)m * n;
}

AttnFlops attn_lowrank_flops(int64_t B, int64_t N, int64_t d, int64_t H, int64_t T,
                             const int *seg_rank) {
    AttnFlops f;
    attn_flops_zero(&f);
    const int64_t nseg = (N + T - 1) / T;
    int64_t rm = 0;
    for (int64_t s = 0; s < nseg; s++) rm = seg_rank[s] > rm ? seg_rank[s] : rm;
    f.proj = 2 * (2 * B * N * d * H * rm + B * N * H * rm);
    for (int64_t s = 0; s < nseg; s++) {
        const int64_t Ms = B * ((s + 1) * T < N ? T : N - s * T), r = seg_rank[s];
        f.proj += 2 * Ms * d * H * r + Ms * H * r;
        f.scores += 2 * Ms * N * H * r;
        f.values += 2 * Ms * N * H * r;
        f.softmax += H * Ms * ((int64_t)ATTN_SOFTMAX_FLOPS * N + (int64_t)ATTN_NORM_FLOPS * r);
        f.out += 2 * Ms * H * r * d + Ms * d;
    }
    return f;
}

AttnFlops attn_lowrank_flops_causal(int64_t B, int64_t N, int64_t d, int64_t H, int64_t T,
                                    const int *seg_rank, AttnVariant v) {
    AttnFlops f = attn_lowrank_flops(B, N, d, H, T, seg_rank);
    f.scores = f.softmax = f.values = 0;
    const int64_t nseg = (N + T - 1) / T;
    for (int64_t s = 0; s < nseg; s++) {
        const int64_t rows = (s + 1) * T < N ? T : N - s * T, r = seg_rank[s];
        attn_variant_flops_causal(&f, v, B * H, s * T, rows, N, r, r);
    }
    return f;
}

/* segment s (T query rows from s T) of sequence b at rank seg_rank[s]: its rank pack, its
   width H r_s, its rows m (the last segment may be shorter) and its first row b N + s T */
typedef struct {
    const AttnRankPack *p;
    int hr, m;
    size_t row;
} SegRows;

static SegRows seg_rows(const AttnLowrank *L, const int *seg_rank, int s, int b, int T, int N) {
    SegRows g;
    const int i0 = s * T;
    g.p = &L->pack[attn_lowrank_grid_index(L, seg_rank[s])];
    g.hr = L->H * g.p->r;
    g.m = i0 + T < N ? T : N - i0;
    g.row = (size_t)b * N + i0;
    return g;
}

Status attn_lowrank_forward(float *y, AttnLowrank *L, const float *x, AttnMask key_mask, int B,
                            int N, int T, const int *seg_rank, AttnFlops *fl, Err *e) {
    if (B < 1 || N < 1 || B > L->max_B || N > L->max_N || T < 1)
        return err_set(e, ST_INVALID,
                       "attn_lowrank_forward: expected 1 <= B <= %d, 1 <= N <= %d, T >= 1, "
                       "found B=%d N=%d T=%d",
                       L->max_B, L->max_N, B, N, T);
    const int nseg = (N + T - 1) / T;
    if (nseg > ATTN_MAX_SEGS)
        return err_set(e, ST_INVALID, "attn_lowrank_forward: %d segments, at most %d", nseg,
                       ATTN_MAX_SEGS);
    int rm = 0, uniform = 1;
    for (int s = 0; s < nseg; s++) {
        if (attn_lowrank_grid_index(L, seg_rank[s]) < 0)
            return err_set(e, ST_INVALID,
                           "attn_lowrank_forward: segment %d: rank %d is not in the rank grid",
                           s, seg_rank[s]);
        rm = seg_rank[s] > rm ? seg_rank[s] : rm;
        uniform &= seg_rank[s] == seg_rank[0];
    }
    const int d = L->d, D = d + 1, H = L->H, M = B * N, hm = H * rm;
    (void)D;
    const AttnRankPack *pm = &L->pack[attn_lowrank_grid_index(L, rm)];
    AttnFlops f;
    attn_flops_zero(&f);
    /* keys and values at r_max: (M, d) x (d, H r_max) + bias row */
    f.proj += attn_lowrank_gemm_bias(L->k, hm, x, d, pm->b, pm->b + (size_t)d * hm, M, d, hm);
    f.proj += attn_lowrank_gemm_bias(L->u, hm, x, d, pm->c, pm->c + (size_t)d * hm, M, d, hm);
    /* queries: segment (b, s) rows at (b N + s T), compact with row stride H r_s */
    if (uniform) {
        f.proj +=
            attn_lowrank_gemm_bias(L->q, hm, x, d, pm->a, pm->a + (size_t)d * hm, M, d, hm);
    } else {
        for (int b = 0; b < B; b++)
            for (int s = 0; s < nseg; s++) {
                const SegRows g = seg_rows(L, seg_rank, s, b, T, N);
                f.proj += attn_lowrank_gemm_bias(L->q + g.row * hm, g.hr, x + g.row * d, d,
                                                 g.p->a, g.p->a + (size_t)d * g.hr, g.m, d,
                                                 g.hr);
            }
    }
    /* attention per segment, heads of width r_s in the compact q/o blocks, keys/values with
       row stride H r_max and head stride r_max */
    AttnSegment *seg = (AttnSegment *)(void *)L->seg_mem;
    const size_t bs = (size_t)N * hm;
    for (int s = 0; s < nseg; s++) {
        const int r = seg_rank[s], i0 = s * T;
        const size_t off = (size_t)i0 * hm;
        AttnSegment g = {{L->q + off, bs, H * r, r}, {L->o + off, bs, H * r, r},
                         i0 + T < N ? T : N - i0, r, r, i0}; /* its rows are at i0 .. */
        seg[s] = g;
    }
    AttnView kv = {L->k, bs, hm, rm}, uv = {L->u, bs, hm, rm};
    attn_kernel_forward(seg, nseg, kv, uv, key_mask, B, H, N, 1.0f / sqrtf((float)L->dh),
                        L->scratch, L->scratch_len, &f);
    /* output: Y_s = O_s (m, H r_s) D_pack(r_s) (H r_s, d) + bo */
    if (uniform) {
        f.out += attn_lowrank_gemm_bias(y, d, L->o, hm, pm->dt, L->bo, M, hm, d);
    } else {
        for (int b = 0; b < B; b++)
            for (int s = 0; s < nseg; s++) {
                const SegRows g = seg_rows(L, seg_rank, s, b, T, N);
                f.out += attn_lowrank_gemm_bias(y + g.row * d, d, L->o + g.row * hm, g.hr,
                                                g.p->dt, L->bo, g.m, g.hr, d);
            }
    }
    if (fl) attn_flops_add(fl, &f);
    return ST_OK;
}

Status attn_lowrank_forward_rank(float *y, AttnLowrank *L, const float *x, AttnMask key_mask,
                                 int B, int N, int r, AttnFlops *fl, Err *e) {
    return attn_lowrank_forward(y, L, x, key_mask, B, N, N, &r, fl, e);
}
