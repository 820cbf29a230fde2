/* kernel_tiles.c: the register-tiled products of the attention kernel (see kernel_tiles.h and
 * kernel.c): K^T packed into panels of KP_W = 32 keys, S = (scale Q_blk) K^T in 8 x 32 register
 * tiles (broadcast q, two vector FMAs), E V in register tiles of up to 4 x 64 over chunks of
 * ATTN_PV_CHUNK keys (the chunk of V stays in L1). Every multiply-add counted is executed, no
 * padded rows or keys. */
#include "attention/kernel_tiles.h"

#include <string.h>

#if ATTN_TILED
/* kp (N / KP_W panels, each (kqp, KP_W)): panel p, row c, lane l = K[p KP_W + l, c] for the
   full panels; the last N % KP_W keys are not packed (handled from K directly) */
void attn_tile_pack_keys(float *kp, const float *kh, int ld, int N, int kqp) {
    const int np = N / KP_W;
    for (int p = 0; p < np; p++) {
        float *dst = kp + (size_t)p * kqp * KP_W;
        const float *src = kh + (size_t)p * KP_W * ld;
        for (int l = 0; l < KP_W; l++)
            for (int c = 0; c < kqp; c++) dst[(size_t)c * KP_W + l] = src[(size_t)l * ld + c];
    }
}

/* S[i, 0:32) for MR rows of qs (element (i, c) at qs[c cs + i]) against one packed panel */
ATTN_INLINE void qk_tile(const int MR, const float *qs, int cs, int kq, const float *panel,
                         float *S, size_t lds) {
    v16 a0[8], a1[8];
    for (int i = 0; i < MR; i++) a0[i] = a1[i] = (v16){0};
    for (int c = 0; c < kq; c++) {
        v16 b0, b1;
        memcpy(&b0, panel + (size_t)c * KP_W, sizeof b0);
        memcpy(&b1, panel + (size_t)c * KP_W + 16, sizeof b1);
        for (int i = 0; i < MR; i++) {
            const float a = qs[(size_t)c * cs + i];
            a0[i] += a * b0;
            a1[i] += a * b1;
        }
    }
    for (int i = 0; i < MR; i++) {
        memcpy(S + (size_t)i * lds, &a0[i], sizeof a0[i]);
        memcpy(S + (size_t)i * lds + 16, &a1[i], sizeof a1[i]);
    }
}

typedef float v8 __attribute__((vector_size(32)));

/* S[i0 + 0:8, j] for the 8 rows of one full query group (qs8: element (i, c) at qs8[c 8 + i])
   against TK keys j0.. (row stride ld): per key one 8-lane accumulator over c, the same sums
   in the same order as one row at a time */
ATTN_INLINE void tail_tile(const int TK, const float *qs8, int kq, const float *kh, int ld,
                           int j0, float *S, size_t lds) {
    v8 acc[4];
    for (int t = 0; t < TK; t++) acc[t] = (v8){0};
    for (int c = 0; c < kq; c++) {
        v8 a;
        memcpy(&a, qs8 + (size_t)c * 8, sizeof a);
        for (int t = 0; t < TK; t++) acc[t] += a * kh[(size_t)(j0 + t) * ld + c];
    }
    for (int t = 0; t < TK; t++)
        for (int i = 0; i < 8; i++) S[(size_t)i * lds + j0 + t] = acc[t][i];
}

/* S[:, j] for the keys j in [j1, N) that fill no packed panel (N % KP_W of them; all of them
   when N < KP_W, as for short sentences): full groups of 8 query rows 8 lanes wide, 4 keys at
   a time; the last m % 8 rows one at a time */
static void tail_scores(float *S, const float *qs, int m, int kq, const float *kh, int ld,
                        int j1, int N, size_t lds) {
    int i = 0;
    for (; i + 8 <= m; i += 8) {
        const float *q8 = qs + (size_t)i * kq;
        float *Si = S + (size_t)i * lds;
        int j = j1;
        for (; j + 4 <= N; j += 4) tail_tile(4, q8, kq, kh, ld, j, Si, lds);
        for (; j < N; j++) tail_tile(1, q8, kq, kh, ld, j, Si, lds);
    }
    const int g = m - i;
    for (int j = j1; j < N; j++) {
        const float *kj = kh + (size_t)j * ld;
        for (int r = 0; r < g; r++) {
            const float *qr = qs + (size_t)i * kq + r;
            float s = 0.0f;
            for (int c = 0; c < kq; c++) s += qr[(size_t)c * g] * kj[c];
            S[(size_t)(i + r) * lds + j] = s;
        }
    }
}

/* qs: rows [0, m) of the query block times scale, in groups of 8 rows (the last group:
   the m % 8 remaining rows), each group c-major: row i of a group of g rows, coordinate c
   at group + c g (the tile reads its 8 broadcasts from one address register) */
void attn_tile_pack_queries(float *qs, const float *q, int ld, int m, int kq, float scale) {
    for (int i0 = 0; i0 < m; i0 += 8) {
        const int g = m - i0 < 8 ? m - i0 : 8;
        float *dst = qs + (size_t)i0 * kq;
        for (int i = 0; i < g; i++)
            for (int c = 0; c < kq; c++) dst[(size_t)c * g + i] = scale * q[(size_t)(i0 + i) * ld + c];
    }
}

/* S (m, N; row stride lds) = qs K^T (qs from attn_tile_pack_queries): panels of packed keys (stride
   kqp * KP_W), the last N % KP_W keys as dot products with K (row stride ld) */
void attn_tile_scores(float *S, const float *qs, int m, int kq, const float *kp, int kqp,
                      const float *kh, int ld, int N, size_t lds) {
    const int np = N / KP_W;
    /* rows outer: the 8 query rows stay in L1, S is written as 8 sequential streams */
    int i = 0;
    for (; i + 8 <= m; i += 8)
        for (int p = 0; p < np; p++)
            qk_tile(8, qs + (size_t)i * kq, 8, kq, kp + (size_t)p * kqp * KP_W,
                    S + (size_t)i * lds + p * KP_W, lds);
    const int g = m - i;
    for (int t = 0; t < g; t++)
        for (int p = 0; p < np; p++)
            qk_tile(1, qs + (size_t)i * kq + t, g, kq, kp + (size_t)p * kqp * KP_W,
                    S + (size_t)(i + t) * lds + p * KP_W, lds);
    tail_scores(S, qs, m, kq, kh, ld, np * KP_W, N, lds);
}

/* O[i, 0:16 NV) (+)= sum_{j in [j0, j1)} P[i, j] V[j, 0:16 NV) for MR rows; first: start
   from 0 instead of O */
ATTN_INLINE void pv_tile(const int MR, const int NV, const float *P, size_t ldp, const float *v,
                         int ldv, int j0, int j1, float *o, int ldo, int first) {
    v16 acc[8][4];
    for (int i = 0; i < MR; i++)
        for (int t = 0; t < NV; t++) {
            if (first) acc[i][t] = (v16){0};
            else memcpy(&acc[i][t], o + (size_t)i * ldo + 16 * t, sizeof acc[i][t]);
        }
    for (int j = j0; j < j1; j++) {
        v16 b[4];
        for (int t = 0; t < NV; t++) {
            memcpy(&b[t], v + (size_t)j * ldv + 16 * t, sizeof b[t]);
            ATTN_IN_REG(b[t]);
        }
        for (int i = 0; i < MR; i++) {
            const float a = P[(size_t)i * ldp + j];
            for (int t = 0; t < NV; t++) acc[i][t] += a * b[t];
        }
    }
    for (int i = 0; i < MR; i++)
        for (int t = 0; t < NV; t++)
            memcpy(o + (size_t)i * ldo + 16 * t, &acc[i][t], sizeof acc[i][t]);
}

/* rows [0, m) of oc for NV vectors of columns: register tiles of MR x NV (MR <= 8: one
   address register per row; MR NV <= 24),
   then single rows */
#define PV_ROWS(MRv, NVv)                                                                      \
    do {                                                                                       \
        int i_ = 0;                                                                            \
        for (; i_ + (MRv) <= m; i_ += (MRv))                                                   \
            pv_tile((MRv), (NVv), P + (size_t)i_ * ldp, ldp, v, ldv, j0, j1,               \
                    oc + (size_t)i_ * ldo, ldo, first);                                        \
        for (; i_ < m; i_++)                                                                   \
            pv_tile(1, (NVv), P + (size_t)i_ * ldp, ldp, v, ldv, j0, j1,                   \
                    oc + (size_t)i_ * ldo, ldo, first);                                        \
    } while (0)

/* O (m, kv; row stride ldo) (+)= P (m, N; row stride ldp) V (N, kv; row stride ldv);
   kv % 16 == 0 */
void attn_tile_values(float *o, int ldo, const float *P, size_t ldp, int m, int N,
                      const float *vh, int ldv, int kv, int acc) {
    for (int c0 = 0; c0 < kv; c0 += 64) {
        const int nv = (kv - c0) / 16 < 4 ? (kv - c0) / 16 : 4;
        const float *v = vh + c0;
        float *oc = o + c0;
        for (int j0 = 0; j0 < N; j0 += ATTN_PV_CHUNK) {
            const int j1 = j0 + ATTN_PV_CHUNK < N ? j0 + ATTN_PV_CHUNK : N, first = j0 == 0 && !acc;
            switch (nv) {
            case 4: PV_ROWS(4, 4); break;
            case 3: PV_ROWS(8, 3); break;
            case 2: PV_ROWS(8, 2); break;
            default: PV_ROWS(8, 1); break;
            }
        }
    }
}
#endif
