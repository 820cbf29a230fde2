/* lowrank_heads.c: the weight-level low-rank layer with a rank per segment AND head (the
 * paper's setting: rank per head, layer and segment; lowrank.h has the math). With r_{s,h}
 * the rank of head h in segment s and r_max the largest:
 *     K~ = X~ B_pack(r_max), U = X~ C_pack(r_max)            one GEMM each, as lowrank.c
 *     Q~_{s,h} = X~_s A_h[:, :r_{s,h}]                         per (sequence, segment, head):
 *                the first r_{s,h} columns of head h's block of the r_max pack (a head's
 *                columns are ordered by singular value, so they are its rank-r_{s,h} factor)
 *     O_{s,h} = softmax_masked(Q~_{s,h} K~_h[:, :r]^T / sqrt(dh)) U_h[:, :r]   (kernel.h, one
 *                call per head with that head's segments)
 *     Y_s = bo + sum_h O_{s,h} D_h[:, :r_{s,h}]^T              per (sequence, segment, head)
 * When every segment's heads share one rank this is attn_lowrank_forward at those segment
 * ranks, which it then calls (bit for bit). Counted FLOPs (attn_lowrank_flops_heads), M = B N,
 * M_s = B T_s, r = r_{s,h}:
 *     proj    (2 M d H r_max + M H r_max) * 2 + sum_{s,h} (2 M_s d r + M_s r)
 *     scores  sum_{s,h} 2 M_s N r,   values  sum_{s,h} 2 M_s N r
 *     softmax sum_{s,h} M_s (ATTN_SOFTMAX_FLOPS N + ATTN_NORM_FLOPS r)
 *     out     sum_{s,h} 2 M_s r d + M d                        (the kernel's per item, as
 *                                                               kernel.h counts; causal: the
 *                                                               keys each item reads) */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "attention/lowrank.h"
#include "attention/lowrank_internal.h"

/* the rows of (sequence b, segment s): m rows from row b N + s T */
static int seg_m(int s, int T, int N) { return (s + 1) * T < N ? T : N - s * T; }

AttnFlops attn_lowrank_flops_heads(int64_t B, int64_t N, int64_t d, int64_t H, int64_t T,
                                   const int *rank, int causal, AttnVariant v) {
    AttnFlops f;
    attn_flops_zero(&f);
    const int64_t nseg = (N + T - 1) / T;
    int64_t rm = 0;
    for (int64_t i = 0; i < nseg * H; i++) rm = rank[i] > rm ? rank[i] : rm;
    f.proj = 2 * (2 * B * N * d * H * rm + B * N * H * rm);
    f.out = B * N * d;
    for (int64_t s = 0; s < nseg; s++)
        for (int64_t h = 0; h < H; h++) {
            const int64_t m = seg_m((int)s, (int)T, (int)N), Ms = B * m, r = rank[s * H + h];
            f.proj += 2 * Ms * d * r + Ms * r;
            f.out += 2 * Ms * r * d;
            if (causal) {
                attn_variant_flops_causal(&f, v, B, s * T, m, N, r, r);
                continue;
            }
            f.scores += 2 * Ms * N * r, f.values += 2 * Ms * N * r;
            f.softmax += Ms * ((int64_t)ATTN_SOFTMAX_FLOPS * N + (int64_t)ATTN_NORM_FLOPS * r);
        }
    return f;
}

/* the query projections of every (sequence, segment, head) at its rank, into L->q (row stride
   H r_max, head h's coordinates from h r_max); returns their FLOPs */
static int64_t queries(AttnLowrank *L, const AttnRankPack *pm, const float *x, int B, int N,
                       int T, int nseg, const int *rank, int rm) {
    const int d = L->d, H = L->H, hm = H * rm;
    int64_t fl = 0;
    for (int b = 0; b < B; b++)
        for (int s = 0; s < nseg; s++) {
            const int m = seg_m(s, T, N);
            const size_t row = (size_t)b * N + (size_t)s * T;
            for (int h = 0; h < H; h++) {
                const int r = rank[s * H + h];
                float *q = L->q + row * hm + (size_t)h * rm; /* (m, r), row stride hm */
                const float *bias = pm->a + (size_t)d * hm + (size_t)h * rm;
                for (int i = 0; i < m; i++) memcpy(q + (size_t)i * hm, bias, sizeof(float) * r);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, r, d, 1.0f,
                            x + row * d, d, pm->a + (size_t)h * rm, hm, 1.0f, q, hm);
                fl += 2 * (int64_t)m * d * r + (int64_t)m * r;
            }
        }
    return fl;
}

/* y = bo + sum_h O_{s,h} D_h[:, :r]^T for every (sequence, segment); returns the FLOPs */
static int64_t outputs(float *y, AttnLowrank *L, const AttnRankPack *pm, int B, int N, int T,
                       int nseg, const int *rank, int rm) {
    const int d = L->d, H = L->H, hm = H * rm;
    int64_t fl = (int64_t)B * N * d;
    for (size_t i = 0; i < (size_t)B * N; i++) memcpy(y + i * d, L->bo, sizeof(float) * d);
    for (int b = 0; b < B; b++)
        for (int s = 0; s < nseg; s++) {
            const int m = seg_m(s, T, N);
            const size_t row = (size_t)b * N + (size_t)s * T;
            for (int h = 0; h < H; h++) {
                const int r = rank[s * H + h];
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, r, 1.0f,
                            L->o + row * hm + (size_t)h * rm, hm, pm->dt + (size_t)h * rm * d, d,
                            1.0f, y + row * d, d);
                fl += 2 * (int64_t)m * r * d;
            }
        }
    return fl;
}

Status attn_lowrank_forward_heads(float *y, AttnLowrank *L, const float *x, AttnMask key_mask,
                                  int B, int N, int T, const int *rank, AttnFlops *fl, Err *e) {
    if (B < 1 || N < 1 || B > L->max_B || N > L->max_N || T < 1)
        return err_set(e, ST_INVALID, "attn_lowrank_forward_heads: expected 1 <= B <= %d, 1 <= "
                       "N <= %d, T >= 1, found B=%d N=%d T=%d", L->max_B, L->max_N, B, N, T);
    const int nseg = (N + T - 1) / T, H = L->H;
    if (nseg > ATTN_MAX_SEGS)
        return err_set(e, ST_INVALID, "attn_lowrank_forward_heads: %d segments, at most %d",
                       nseg, ATTN_MAX_SEGS);
    int rm = 0, per_segment = 1, seg_rank[ATTN_MAX_SEGS];
    for (int s = 0; s < nseg; s++)
        for (int h = 0; h < H; h++) {
            const int r = rank[s * H + h];
            if (attn_lowrank_grid_index(L, r) < 0)
                return err_set(e, ST_INVALID, "attn_lowrank_forward_heads: segment %d head %d: "
                               "rank %d is not in the rank grid", s, h, r);
            rm = r > rm ? r : rm;
            per_segment &= r == rank[s * H];
        }
    if (per_segment) { /* one rank per segment: the per-segment layer, bit for bit */
        for (int s = 0; s < nseg; s++) seg_rank[s] = rank[s * H];
        return attn_lowrank_forward(y, L, x, key_mask, B, N, T, seg_rank, fl, e);
    }
    const int d = L->d, M = B * N, hm = H * rm;
    const AttnRankPack *pm = &L->pack[attn_lowrank_grid_index(L, rm)];
    AttnFlops f;
    attn_flops_zero(&f);
    f.proj += attn_lowrank_gemm_bias(L->k, hm, x, d, pm->b, pm->b + (size_t)d * hm, M, d, hm);
    f.proj += attn_lowrank_gemm_bias(L->u, hm, x, d, pm->c, pm->c + (size_t)d * hm, M, d, hm);
    f.proj += queries(L, pm, x, B, N, T, nseg, rank, rm);
    /* attention: head h's segments in one kernel call (H = 1 views of the r_max layout) */
    AttnSegment *seg = (AttnSegment *)(void *)L->seg_mem;
    const size_t bs = (size_t)N * hm;
    for (int h = 0; h < H; h++) {
        for (int s = 0; s < nseg; s++) {
            const int r = rank[s * H + h], i0 = s * T;
            const size_t off = (size_t)i0 * hm + (size_t)h * rm;
            AttnSegment g = {{L->q + off, bs, hm, 0}, {L->o + off, bs, hm, 0}, seg_m(s, T, N), r,
                             r, i0};
            seg[s] = g;
        }
        AttnView kv = {L->k + (size_t)h * rm, bs, hm, 0}, uv = {L->u + (size_t)h * rm, bs, hm, 0};
        attn_kernel_forward(seg, nseg, kv, uv, key_mask, B, 1, N, 1.0f / sqrtf((float)L->dh),
                            L->scratch, L->scratch_len, &f);
    }
    f.out += outputs(y, L, pm, B, N, T, nseg, rank, rm);
    if (fl) attn_flops_add(fl, &f);
    return ST_OK;
}
