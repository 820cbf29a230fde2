/* kernel_flash.c: the flash item of the attention kernel (kernel.h, ATTN_VAR_FLASH): for m
 * query rows, the keys in blocks of kb; per block j (keys K_j, values V_j):
 *     S_j = scale Q K_j^T                                  (m x kb, stays in L1/L2)
 *     m'_i = max(m_i, max_{l kept} S_j[i, l])              (running maximum)
 *     c_i = e^(m_i - m'_i),  E_j = keep .* e^(S_j - m'_i)
 *     l_i <- l_i c_i + sum_l E_j[i, l],   O_i <- O_i c_i + E_j[i, :] V_j
 * and at the end O_i <- O_i / l_i (0 for a row without any kept key). The first block starts
 * from m = max of its row, l = its sum, O = E_0 V_0 (no correction: nothing to rescale).
 * Equal to the two-pass softmax in exact arithmetic: O_i = sum_l e^(S_il - m_i) V_l / l_i for
 * the final m_i; in floats the order of the sums differs (tests/attention/test_kernel).
 * FLOPs: those of every variant plus, per row and key block after the first, the max update
 * (1 compare), the correction's subtract and exp (1 + FASTEXP_FLOPS), l's multiply and add
 * (2) and O's kv multiplies: ATTN_FLASH_FLOPS + kv. A row without a kept key so far keeps
 * m = -inf and skips its correction (its work is charged all the same, as the two-pass
 * softmax charges a fully padded row).
 * Causal (p0 >= 0): row i at position p = p0 + i keeps the first n_i = min(N, p + 1) keys; in
 * key block [j0, j0 + nk) it keeps the first min(nk, n_i - j0) of them (the rest of its row of
 * E_j is zeroed, bit-exact zeros) and a block with none of them is skipped for that row
 * altogether (no max, exp or rescaling: O, l and m stay as they are, so they are what the
 * earlier blocks made them; its E_j row is all zeros). The first block always holds key 0,
 * which every row at p >= 0 keeps. The caller passes N = min(N, P1), the keys of the item. */
#include "attention/kernel_internal.h"

#include <cblas.h>

void attn_flash_item(float *o, int ldo, const float *q, int ldq, const float *kh, int ldk,
                     const float *vh, int ldv, int m, int N, int kq, int kv, float scale, int kb,
                     int kqp, AttnSlot *w, const int32_t *keep, int64_t p0) {
    float *S = w->S, *l = w->inv, *mx = w->mx;
    const size_t lds = attn_flash_ld(kb, N);
    int tiled_v = 0;
#if ATTN_TILED
    tiled_v = kv % 16 == 0;
    if (kqp > 0) attn_tile_pack_queries(w->qs, q, ldq, m, kq, scale);
#endif
    for (int j0 = 0; j0 < N; j0 += kb) {
        const int nk = N - j0 < kb ? N - j0 : kb, first = j0 == 0;
        const int32_t *kp = keep ? keep + j0 : NULL;
        if (kqp > 0) {
#if ATTN_TILED
            /* j0 is a multiple of kb, itself of KP_W: the block's panels are whole panels */
            attn_tile_scores(S, w->qs, m, kq, w->kp + (size_t)(j0 / KP_W) * kqp * KP_W, kqp,
                             kh + (size_t)j0 * ldk, ldk, nk, lds);
#endif
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nk, kq, scale, q, ldq,
                        kh + (size_t)j0 * ldk, ldk, 0.0f, S, (int)lds);
        }
        for (int i = 0; i < m; i++) {
            float *row = S + (size_t)i * lds;
            /* the keys of this block row i keeps: all nk, or (causal) its first n */
            int n = nk;
            if (p0 >= 0) {
                const int64_t lim = p0 + i + 1 - j0;
                n = lim < nk ? (lim > 0 ? (int)lim : 0) : nk;
            }
            if (n < nk) memset(row + n, 0, (size_t)(nk - n) * sizeof(float));
            if (n == 0) { /* causal: no key of this block (the first only for a row at p < 0) */
                if (first) mx[i] = -INFINITY, l[i] = 0.0f;
                continue;
            }
            const float bm = attn_row_max(row, kp, n);
            float *oi = o + (size_t)i * ldo;
            if (first) {
                mx[i] = bm;
                if (bm == -INFINITY) {
                    memset(row, 0, (size_t)n * sizeof(float));
                    l[i] = 0.0f;
                } else {
                    l[i] = attn_exp_row(row, kp, n, bm);
                }
                continue;
            }
            const float mn = bm > mx[i] ? bm : mx[i];
            if (mn == -INFINITY) { /* no kept key yet: E_j = 0, O and l stay 0 */
                memset(row, 0, (size_t)n * sizeof(float));
                continue;
            }
            const float c = fastexp_neg(mx[i] - mn); /* mx[i] = -inf: clamped, c ~ 1e-38 */
            l[i] = l[i] * c + attn_exp_row(row, kp, n, mn);
            for (int t = 0; t < kv; t++) oi[t] *= c;
            mx[i] = mn;
        }
        /* O (+)= E_j V_j */
        if (tiled_v) {
#if ATTN_TILED
            attn_tile_values(o, ldo, S, lds, m, nk, vh + (size_t)j0 * ldv, ldv, kv, !first);
#endif
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, kv, nk, 1.0f, S, (int)lds,
                        vh + (size_t)j0 * ldv, ldv, first ? 0.0f : 1.0f, o, ldo);
        }
    }
    for (int i = 0; i < m; i++) {
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        float *oi = o + (size_t)i * ldo;
        for (int t = 0; t < kv; t++) oi[t] *= inv;
    }
}
