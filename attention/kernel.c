/* kernel.c: blocked masked attention over strided views (the math and the variants are in
 * kernel.h):
 *     S = scale Q_blk K^T;  E = keep .* exp(S - rowmax_kept S);  O = diag(1 / rowsum E) E V
 * per item (b, h, segment, query block of attn_variant_rows rows), items spread over OpenMP
 * threads, each thread with its own scores slice; the variant comes from attention/tune.h.
 *
 * Two implementations of the two products, chosen per segment and variant:
 *  - the tiled one (GCC/Clang generic vectors, 16 floats = one AVX-512 register with
 *    -march=native, lowered to whatever the target has otherwise): K_h^T is packed once
 *    per (b, h) per thread into panels of 32 keys, S = (scale Q_blk) K^T is computed in
 *    8 x 32 register tiles (broadcast q, two vector FMAs), E V in register tiles of up to
 *    4 x 64 over chunks of ATTN_PV_CHUNK keys (the chunk of V stays in L1). The block
 *    of scores (rows x N) is sized to stay in L2 between the products. Used when
 *    kq <= ATTN_KPACK (scores) and kv is a multiple of 16 (values), except by the sgemm
 *    variant.
 *  - cblas_sgemm (single-threaded inside the parallel region: OpenMP OpenBLAS) otherwise.
 * The tiled products are in kernel_tiles.c, the flash item in kernel_flash.c; here the
 * scheduling, the masks and the two-pass softmax.
 * Both execute exactly the multiply-adds counted (no padded rows or keys). */

#include "attention/kernel_internal.h" /* first: kernel_tiles.h's code-generation pragmas */

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "attention/tune.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int attn_kernel_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int attn_kernel_rows(int N) {
    return attn_variant_rows(attn_variant_default(), N);
}

/* per-thread scratch layout (floats): scores (score_region), inverse sums and running maxima
   (ATTN_QBLOCK each), key flags (N, as int32_t), packed K^T (ATTN_KPACK, N rounded up to
   KP_W), scaled query block (ATTN_QBLOCK, ATTN_KPACK) */
static size_t packed_len(int N) {
    return (size_t)ATTN_KPACK * (size_t)((N + KP_W - 1) / KP_W * KP_W);
}

/* the scores of one item of any valid variant: (rows x attn_score_ld(N)) of the tiled and
   sgemm blocks (rows <= rows of ATTN_MAX_SBLOCK), (rows x flash_ld) of the flash blocks */
static size_t score_region(int N) {
    const AttnVariant big = {ATTN_VAR_TILED, ATTN_MAX_SBLOCK, 0};
    const size_t blocks = (size_t)attn_variant_rows(big, N) * attn_score_ld(N);
    const size_t flash = (size_t)ATTN_QBLOCK * attn_flash_ld(ATTN_FLASH_MAX_KEYS, N);
    return blocks > flash ? blocks : flash;
}

static size_t per_thread(int N) {
    return score_region(N) + 2 * ATTN_QBLOCK + (size_t)N + packed_len(N) +
           (size_t)ATTN_QBLOCK * ATTN_KPACK;
}

size_t attn_kernel_scratch_size(int N, int threads) {
    if (threads < 1) threads = 1;
    return (size_t)threads * per_thread(N);
}

/* keep (N): all 32 bits set (-1) for a kept key, 0 for padding, from row b of the mask;
   returns the number of kept keys. Bit masks as wide as a float: the softmax drops padded
   keys by ANDing them with the scores and exps (bit operations), so masked rows cost the
   same FLOPs as unmasked ones. */
static int key_flags(int32_t *keep, AttnMask m, int b, int N) {
    int n = 0;
    if (m.type == ATTN_MASK_I32) {
        const int32_t *r = (const int32_t *)m.data + (size_t)b * N;
        for (int j = 0; j < N; j++) n += (keep[j] = r[j] != 0 ? -1 : 0) != 0;
    } else {
        const uint8_t *r = (const uint8_t *)m.data + (size_t)b * N;
        for (int j = 0; j < N; j++) n += (keep[j] = r[j] != 0 ? -1 : 0) != 0;
    }
    return n;
}

/* row i of E in place over S (m, N; row stride lds) and inv[i] = 1 / l_i (0 for a row without
   kept keys); keep NULL: every key kept. A row (16 KB at N = 4096) stays in L1 between the
   max pass and the exp pass. FLOPs per score, masked or not (ATTN_SOFTMAX_FLOPS): the max's
   compare, s - max, the exp (FASTEXP_FLOPS), the sum's add. p0 >= 0 (causal): row i is at
   position p0 + i and keeps only its first n_i = min(N, p0 + i + 1) keys: the softmax runs
   over those, the rest of the row is set to 0 (the triangle, dropped like padding); p0 < 0:
   every row keeps all N (the non-causal path, unchanged). */
static void softmax_block(float *S /* (m, N) */, float *inv /* (m) */,
                          const int32_t *keep /* (N) or NULL */, int m, int N, size_t lds,
                          int64_t p0) {
    for (int i = 0; i < m; i++) {
        float *row = S + (size_t)i * lds;
        const int n = p0 < 0 ? N : attn_causal_keys(p0 + i, N);
        const float mx = attn_row_max(row, keep, n);
        if (mx == -INFINITY) { /* no kept key: E = 0, O = 0 */
            memset(row, 0, (size_t)N * sizeof(float));
            inv[i] = 0.0f;
            continue;
        }
        inv[i] = 1.0f / attn_exp_row(row, keep, n, mx); /* sum >= 1: the max gives e^0 = 1 */
        if (n < N) memset(row + n, 0, (size_t)(N - n) * sizeof(float));
    }
}

void attn_kernel_pack(AttnSlot *w, const float *kh, int ld, int N, int kqp, int b, int h) {
#if ATTN_TILED
    if (w->pack_b == b && w->pack_h == h) return;
    attn_tile_pack_keys(w->kp, kh, ld, N, kqp);
    w->pack_b = b;
    w->pack_h = h;
#else
    (void)w, (void)kh, (void)ld, (void)N, (void)kqp, (void)b, (void)h;
#endif
}

/* one item: rows [i0, i0 + m) of segment sg, batch b, head h, by variant kind (kqp: the
   packed key width, 0 when the scores go through cblas_sgemm). causal: the rows are at
   positions P0 = sg->q0 + i0 .. and read only the keys [0, min(N, P0 + m)) (kernel.h). */
static void run_item(const AttnSegment *sg, AttnView k, AttnView v, int b, int h, int i0, int m,
                     int N, float scale, AttnVariant var, AttnSlot *w, const int32_t *keep,
                     int kqp, int causal, AttnFlops *fl) {
    const float *q = sg->q.p + (size_t)b * sg->q.bstride + (size_t)i0 * sg->q.ld +
                     (size_t)h * sg->q.hstride;
    const float *kh = k.p + (size_t)b * k.bstride + (size_t)h * k.hstride;
    const float *vh = v.p + (size_t)b * v.bstride + (size_t)h * v.hstride;
    float *o = sg->out.p + (size_t)b * sg->out.bstride + (size_t)i0 * sg->out.ld +
               (size_t)h * sg->out.hstride;
    const int kq = sg->kq, kv = sg->kv;
    const int64_t p0 = causal ? (int64_t)sg->q0 + i0 : -1;
    const int Nk = causal ? attn_causal_keys(p0 + m - 1, N) : N; /* keys this item reads */
    if (Nk == 0) { /* causal rows before position 0: no key at all, O = 0 */
        for (int i = 0; i < m; i++) memset(o + (size_t)i * sg->out.ld, 0, (size_t)kv * sizeof(float));
        return;
    }
    int tiled_s = 0, tiled_v = 0;
#if ATTN_TILED
    tiled_s = var.kind != ATTN_VAR_SGEMM && kqp > 0 && kq <= kqp;
    tiled_v = var.kind != ATTN_VAR_SGEMM && kv % 16 == 0;
#endif
    if (tiled_s) attn_kernel_pack(w, kh, k.ld, N, kqp, b, h);
    if (var.kind == ATTN_VAR_FLASH) {
        attn_flash_item(o, sg->out.ld, q, sg->q.ld, kh, k.ld, vh, v.ld, m, Nk, kq, kv, scale,
                        var.block, tiled_s ? kqp : 0, w, keep, p0);
        if (causal) attn_variant_flops_causal(fl, var, 1, p0, m, N, kq, kv);
        else attn_variant_flops(fl, (AttnVariant){ATTN_VAR_FLASH, var.block, m}, m, N, kq, kv);
        return;
    }
    float *S = w->S, *inv = w->inv;
    const size_t lds = attn_score_ld(N);
    if (tiled_s) {
#if ATTN_TILED
        /* the scale goes on the query block (the GEMM's alpha) */
        attn_tile_pack_queries(w->qs, q, sg->q.ld, m, kq, scale);
        attn_tile_scores(S, w->qs, m, kq, w->kp, kqp, kh, k.ld, Nk, lds);
#endif
    } else {
        /* S = scale Q_blk K^T: (m, kq) x (Nk, kq)^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, Nk, kq, scale, q, sg->q.ld, kh,
                    k.ld, 0.0f, S, (int)lds);
    }
    softmax_block(S, inv, keep, m, Nk, lds, p0);
    /* O = E V: (m, Nk) x (Nk, kv), then row i times 1 / l_i */
    if (tiled_v) {
#if ATTN_TILED
        attn_tile_values(o, sg->out.ld, S, lds, m, Nk, vh, v.ld, kv, 0);
#endif
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, kv, Nk, 1.0f, S, (int)lds, vh,
                    v.ld, 0.0f, o, sg->out.ld);
    }
    for (int i = 0; i < m; i++) {
        float *oi = o + (size_t)i * sg->out.ld;
        for (int c = 0; c < kv; c++) oi[c] *= inv[i];
    }
    if (causal) attn_variant_flops_causal(fl, var, 1, p0, m, N, kq, kv);
    else attn_variant_flops(fl, var, m, N, kq, kv);
}

/* item index -> (segment, b, h, block); items are ordered b, h, segment, block so that
   consecutive items share the keys (and their packed panels) and values of one (b, h).
   first[s]: the first item of segment s within one (b, h); first[nseg]: items per (b, h). */
static void item_decode(const AttnSegment *seg, int nseg, const int64_t *first, int64_t it,
                        int H, int R, int *s, int *b, int *h, int *i0, int *m) {
    const int64_t per_bh = first[nseg];
    const int64_t bh = it / per_bh, local = it % per_bh;
    int lo = 0, hi = nseg - 1; /* the last segment with first[s] <= local */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (first[mid] <= local) lo = mid;
        else hi = mid - 1;
    }
    const int blk = (int)(local - first[lo]);
    *s = lo;
    *h = (int)(bh % H);
    *b = (int)(bh / H);
    *i0 = blk * R;
    int rem = seg[lo].rows - *i0;
    *m = rem < R ? rem : R;
}

static void run_one(const AttnSegment *seg, int nseg, const int64_t *first, AttnView k,
                    AttnView v, AttnMask key_mask, int H, int N, int R, int kqp, float scale,
                    AttnVariant var, AttnSlot *w, int64_t it, AttnFlops *fl) {
    int s, b, h, i0, m;
    item_decode(seg, nseg, first, it, H, R, &s, &b, &h, &i0, &m);
    if (m <= 0) return;
    const int32_t *keep = NULL;
    if (key_mask.type != ATTN_MASK_NONE) {
        if (w->flag_b != b) key_flags(w->keep, key_mask, b, N);
        w->flag_b = b;
        keep = w->keep;
    }
    run_item(&seg[s], k, v, b, h, i0, m, N, scale, var, w, keep, kqp, key_mask.causal != 0, fl);
}

static void slot_init(AttnSlot *w, float *mine, int N) {
    w->S = mine;
    w->inv = w->S + score_region(N);
    w->mx = w->inv + ATTN_QBLOCK;
    /* the flags take the N floats' slot: allocated memory, only ever accessed as int32_t */
    w->keep = (int32_t *)(void *)(w->mx + ATTN_QBLOCK);
    w->kp = (float *)(void *)(w->keep + N);
    w->qs = w->kp + packed_len(N);
    w->flag_b = w->pack_b = w->pack_h = -1;
}

void attn_kernel_forward_with(AttnVariant var, const AttnSegment *seg, int nseg, AttnView k,
                              AttnView v, AttnMask key_mask, int B, int H, int N, float scale,
                              float *scratch, size_t scratch_len, AttnFlops *fl) {
    if (nseg <= 0 || B <= 0 || H <= 0 || N <= 0) return;
    if (nseg > ATTN_MAX_SEGS) return; /* caller error: more segments than supported */
    if (!attn_variant_valid(var)) var = attn_variant_default();
    const int R = key_mask.causal ? attn_variant_rows_causal(var, N) : attn_variant_rows(var, N);
    /* first item of each segment within one (b, h) (prefix sums of the block counts); the
       packed key width: the widest kq of the segments (0: too wide, cblas for scores) */
    int64_t first[ATTN_MAX_SEGS + 1];
    int64_t per_bh = 0;
    int kqp = 0;
    for (int s = 0; s < nseg; s++) {
        first[s] = per_bh;
        per_bh += (seg[s].rows + R - 1) / R;
        kqp = seg[s].kq > kqp ? seg[s].kq : kqp;
    }
    first[nseg] = per_bh;
    if (kqp > ATTN_KPACK) kqp = 0;
    const int64_t total = per_bh * B * H;
    if (total <= 0) return;
    const size_t pt = per_thread(N);
    int nt = attn_kernel_threads();
#ifdef _OPENMP
    if (omp_in_parallel()) nt = 1; /* called by one thread of a caller's region: run serially */
#endif
    if ((size_t)nt > scratch_len / pt) nt = (int)(scratch_len / pt);
    if (nt < 1) return; /* caller error: no scratch */
    if (total < nt) nt = 1;
    AttnFlops acc;
    attn_flops_zero(&acc);
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            AttnSlot w;
            slot_init(&w, scratch + (size_t)omp_get_thread_num() * pt, N);
            AttnFlops loc;
            attn_flops_zero(&loc);
#pragma omp for schedule(dynamic, 1)
            for (int64_t it = 0; it < total; it++)
                run_one(seg, nseg, first, k, v, key_mask, H, N, R, kqp, scale, var, &w, it, &loc);
#pragma omp critical(attn_kernel_flops)
            attn_flops_add(&acc, &loc);
        }
        if (fl) attn_flops_add(fl, &acc);
        return;
    }
#endif
    AttnSlot w;
    slot_init(&w, scratch, N);
    for (int64_t it = 0; it < total; it++)
        run_one(seg, nseg, first, k, v, key_mask, H, N, R, kqp, scale, var, &w, it, &acc);
    if (fl) attn_flops_add(fl, &acc);
}

void attn_kernel_forward(const AttnSegment *seg, int nseg, AttnView k, AttnView v,
                         AttnMask key_mask, int B, int H, int N, float scale, float *scratch,
                         size_t scratch_len, AttnFlops *fl) {
    int kq = 0;
    for (int s = 0; s < nseg; s++) kq = seg[s].kq > kq ? seg[s].kq : kq;
    attn_kernel_forward_with(attn_tune_pick(N, kq), seg, nseg, k, v, key_mask, B, H, N, scale,
                             scratch, scratch_len, fl);
}
