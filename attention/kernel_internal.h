/* kernel_internal.h: internal to attention/kernel*.c: what the schedules of the attention
 * kernel share (kernel.h has the math and the variants): the per-thread scratch slot, the
 * key flags and the softmax row pieces (masked row maximum, the exp-and-sum pass), and the
 * flash item of kernel_flash.c. Include it first: it includes kernel_tiles.h, whose pragmas
 * apply to everything after it. */
#ifndef DRRL_ATTENTION_KERNEL_INTERNAL_H
#define DRRL_ATTENTION_KERNEL_INTERNAL_H

#include "attention/kernel_tiles.h" /* first: its code-generation pragmas */

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention/kernel.h"
#include "nn/fastexp.h"

/* ATTN_FLASH_MAX_KEYS: the widest key block of a flash variant */
#define ATTN_FLASH_MAX_KEYS 4096

/* row stride of the scores of a (rows x N) block: N rounded up to 16, plus 16, so that
   consecutive rows do not map to the same L1 set (a stride of 16 KB at N = 4096 would) */
static inline size_t attn_score_ld(int N) {
    return (size_t)((N + 15) / 16 * 16 + 16);
}

/* row stride of a flash item's scores: its key block (at most N rounded up to 32), plus 16 */
static inline size_t attn_flash_ld(int kb, int N) {
    const int n32 = (N + 31) / 32 * 32;
    return (size_t)(kb < n32 ? kb : n32) + 16;
}

/* per-thread state: scratch slices and what they currently hold */
typedef struct {
    float *S;            /* scores of one item: (rows, lds) */
    float *inv, *mx;     /* (ATTN_QBLOCK) inverse row sums (flash: running sums), running maxima */
    float *kp, *qs;      /* packed K^T panels of (pack_b, pack_h); the scaled query block */
    int32_t *keep;       /* key flags of batch flag_b (-1 kept, 0 padded) */
    int flag_b;          /* batch whose key flags `keep` holds (-1: none) */
    int pack_b, pack_h;  /* (b, h) whose keys `kp` holds (-1: none) */
} AttnSlot;

/* x where flag is -1 (all bits), +0.0f where it is 0: a bit AND, no FLOP */
static inline float attn_keep_bits(float x, int32_t flag) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u &= (uint32_t)flag;
    memcpy(&x, &u, sizeof x);
    return x;
}

#if ATTN_TILED
typedef int32_t v16i __attribute__((vector_size(64)));
/* lane-wise max (m: lanes where b wins) */
ATTN_INLINE v16 attn_vmax16(v16 a, v16 b) {
    const v16i m = b > a;
    return (v16)(((v16i)a & ~m) | ((v16i)b & m));
}
#endif

/* maximum over the kept keys of row (N); -INFINITY if none (keep NULL: all kept). One float
   compare per score either way: padded scores are replaced by -INFINITY by bit operations. */
static inline float attn_row_max(const float *row, const int32_t *keep, int N) {
    float mx = -INFINITY;
    int j = 0;
#if ATTN_TILED
    const v16 ninf = (v16){0} - INFINITY;
    v16 acc = ninf;
    if (keep) {
        for (; j + 16 <= N; j += 16) {
            v16 s;
            v16i k;
            memcpy(&s, row + j, sizeof s);
            memcpy(&k, keep + j, sizeof k);
            s = (v16)(((v16i)s & k) | ((v16i)ninf & ~k)); /* k: all ones where kept */
            acc = attn_vmax16(acc, s);
        }
    } else {
        v16 acc1 = ninf, acc2 = ninf, acc3 = ninf; /* four chains hide the latency */
        for (; j + 64 <= N; j += 64) {
            v16 s0, s1, s2, s3;
            memcpy(&s0, row + j, sizeof s0);
            memcpy(&s1, row + j + 16, sizeof s1);
            memcpy(&s2, row + j + 32, sizeof s2);
            memcpy(&s3, row + j + 48, sizeof s3);
            acc = attn_vmax16(acc, s0);
            acc1 = attn_vmax16(acc1, s1);
            acc2 = attn_vmax16(acc2, s2);
            acc3 = attn_vmax16(acc3, s3);
        }
        acc = attn_vmax16(attn_vmax16(acc, acc1), attn_vmax16(acc2, acc3));
        for (; j + 16 <= N; j += 16) {
            v16 s;
            memcpy(&s, row + j, sizeof s);
            acc = attn_vmax16(acc, s);
        }
    }
    for (int l = 0; l < 16; l++) mx = acc[l] > mx ? acc[l] : mx;
#endif
    for (; j < N; j++) {
        float s = (!keep || keep[j]) ? row[j] : -INFINITY;
        mx = s > mx ? s : mx;
    }
    return mx;
}

/* row (N) <- keep .* exp(row - mx) in place; returns the sum of the new row (16 partial sums
   so that the loop vectorises). Per score: subtract, exp (FASTEXP_FLOPS), add; a padded key's
   e is zeroed by ANDing it with its flag, not by a multiply. */
static inline float attn_exp_row(float *row, const int32_t *keep, int N, float mx) {
    float sum[16] = {0};
    int j = 0;
    if (keep) {
        for (; j + 16 <= N; j += 16)
            for (int l = 0; l < 16; l++) {
                const float e = attn_keep_bits(fastexp_neg(row[j + l] - mx), keep[j + l]);
                row[j + l] = e;
                sum[l] += e;
            }
    } else {
        for (; j + 16 <= N; j += 16)
            for (int l = 0; l < 16; l++) {
                float e = fastexp_neg(row[j + l] - mx);
                row[j + l] = e;
                sum[l] += e;
            }
    }
    float s = 0.0f;
    for (; j < N; j++) {
        const float x = fastexp_neg(row[j] - mx);
        const float e = keep ? attn_keep_bits(x, keep[j]) : x;
        row[j] = e;
        s += e;
    }
    for (int l = 0; l < 16; l++) s += sum[l];
    return s;
}

/* attn_causal_keys: the keys a causal query at position p keeps, min(N, p + 1) (0 for p < 0) */
static inline int attn_causal_keys(int64_t p, int N) {
    return p < 0 ? 0 : p + 1 < N ? (int)(p + 1) : N;
}

/* attn_kernel_pack: the packed K^T panels of (b, h) in w (kept while (b, h) does not change) */
void attn_kernel_pack(AttnSlot *w, const float *kh, int ld, int N, int kqp, int b, int h);

/* attn_flash_item: O (m, kv; row stride ldo) = softmax_masked(scale Q K^T) V for m query rows
   q (row stride ldq) against N keys kh / values vh, online over key blocks of kb keys (kernel.h,
   ATTN_VAR_FLASH). kqp > 0: the keys are packed in w->kp (tiled scores); kv % 16 == 0: tiled
   values; cblas_sgemm otherwise. p0 >= 0 (causal): row i is at position p0 + i and keeps
   only its first min(N, p0 + i + 1) keys (key blocks past them are skipped for that row);
   p0 < 0: all N. The caller counts the FLOPs (kernel.h's closed forms). */
void attn_flash_item(float *o, int ldo, const float *q, int ldq, const float *kh, int ldk,
                     const float *vh, int ldv, int m, int N, int kq, int kv, float scale, int kb,
                     int kqp, AttnSlot *w, const int32_t *keep, int64_t p0);

#endif
