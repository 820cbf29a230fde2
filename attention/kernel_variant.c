/* kernel_variant.c: the variants of the attention kernel (kernel.h): the default, the
 * candidates the calibration times (attention/tune.h), their names, the query rows of an
 * item and the closed form of the FLOPs each counts. */
#include "attention/kernel_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[ATTN_VAR_KINDS] = {"tiled", "sgemm", "flash"};

AttnVariant attn_variant_default(void) {
    return (AttnVariant){ATTN_VAR_TILED, ATTN_SBLOCK, 0};
}

/* the candidates: the block tiled path with scores of 128 KB .. 2 MB per item (in L2, or
   larger blocks and fewer key re-packs); the sgemm path at two blocks; the flash path with
   score tiles of 32 KB (L1) to 128 KB (L2) */
int attn_variant_candidates(AttnVariant *out) {
    static const AttnVariant c[] = {
        {ATTN_VAR_TILED, ATTN_SBLOCK, 0},   {ATTN_VAR_TILED, 32768, 0},
        {ATTN_VAR_TILED, 524288, 0},        {ATTN_VAR_SGEMM, ATTN_SBLOCK, 0},
        {ATTN_VAR_SGEMM, ATTN_MAX_SBLOCK, 0}, {ATTN_VAR_FLASH, 256, 32},
        {ATTN_VAR_FLASH, 128, 64},          {ATTN_VAR_FLASH, 512, 64},
        {ATTN_VAR_FLASH, 256, 128},
    };
    const int n = (int)(sizeof c / sizeof c[0]);
    for (int i = 0; i < n; i++) out[i] = c[i];
    return n;
}

int attn_variant_valid(AttnVariant v) {
    switch (v.kind) {
    case ATTN_VAR_TILED:
    case ATTN_VAR_SGEMM: return v.block >= 8 && v.block <= ATTN_MAX_SBLOCK && v.rows == 0;
    case ATTN_VAR_FLASH:
        return v.block >= 32 && v.block <= ATTN_FLASH_MAX_KEYS && v.block % 32 == 0 &&
               v.rows >= 8 && v.rows <= ATTN_QBLOCK && v.rows % 8 == 0;
    default: return 0;
    }
}

int attn_variant_rows(AttnVariant v, int N) {
    if (v.kind == ATTN_VAR_FLASH) return v.rows;
    if (N < 1) N = 1;
    int r = (int)((size_t)v.block / (size_t)N) & ~7;
    if (r > ATTN_QBLOCK) r = ATTN_QBLOCK;
    if (r < 8) r = 8;
    return r;
}

int attn_variant_rows_causal(AttnVariant v, int N) {
    const int r = attn_variant_rows(v, N), cap = N / 8 / 8 * 8;
    return r < cap ? r : cap > 8 ? cap : 8;
}

const char *attn_variant_name(AttnVariant v, char *buf, size_t cap) {
    if (!attn_variant_valid(v)) snprintf(buf, cap, "invalid");
    else if (v.kind == ATTN_VAR_FLASH) snprintf(buf, cap, "flash:%dx%d", v.rows, v.block);
    else snprintf(buf, cap, "%s:%d", kind_names[v.kind], v.block);
    return buf;
}

int attn_variant_parse(const char *s, AttnVariant *v) {
    for (int k = 0; k < ATTN_VAR_KINDS; k++) {
        const size_t n = strlen(kind_names[k]);
        if (strncmp(s, kind_names[k], n) != 0 || s[n] != ':') continue;
        char *end = NULL;
        long a = strtol(s + n + 1, &end, 10), b = 0;
        if (end == s + n + 1) return -1;
        if (k == ATTN_VAR_FLASH) {
            if (*end != 'x') return -1;
            const char *p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p) return -1;
        }
        if (*end || a < 1 || a > ATTN_MAX_SBLOCK || b > ATTN_FLASH_MAX_KEYS) return -1;
        *v = k == ATTN_VAR_FLASH ? (AttnVariant){k, (int)b, (int)a} : (AttnVariant){k, (int)a, 0};
        return attn_variant_valid(*v) ? 0 : -1;
    }
    return -1;
}

void attn_variant_flops(AttnFlops *fl, AttnVariant v, int64_t rows, int64_t N, int64_t kq,
                        int64_t kv) {
    fl->scores += 2 * rows * N * kq;
    fl->softmax += (int64_t)ATTN_SOFTMAX_FLOPS * rows * N + (int64_t)ATTN_NORM_FLOPS * rows * kv;
    fl->values += 2 * rows * N * kv;
    if (v.kind == ATTN_VAR_FLASH) {
        const int64_t nb = (N + v.block - 1) / v.block; /* key blocks */
        fl->softmax += rows * (nb - 1) * ((int64_t)ATTN_FLASH_FLOPS + kv);
    }
}

/* the causal closed form (kernel.h): items of R rows from the segment's first row; per item
   of positions [P0, P1) the products over Nk = min(N, P1) keys, per row p the softmax over
   n_p = min(N, p + 1) keys and, for flash, a rescaling per later key block holding any of
   them. An item without any key (P1 <= 0: a negative q0) only has its outputs zeroed. */
void attn_variant_flops_causal(AttnFlops *fl, AttnVariant v, int64_t copies, int64_t q0,
                               int64_t rows, int64_t N, int64_t kq, int64_t kv) {
    const int64_t R =
        attn_variant_rows_causal(v, (int)(N < 1 ? 1 : N > INT32_MAX ? INT32_MAX : N));
    for (int64_t i0 = 0; i0 < rows; i0 += R) {
        const int64_t m = rows - i0 < R ? rows - i0 : R, P0 = q0 + i0, P1 = P0 + m;
        const int64_t Nk = P1 < N ? P1 : N;
        if (Nk <= 0) continue;
        int64_t kept = 0, later = 0; /* sum_p n_p, sum_p (key blocks of row p - 1) */
        for (int64_t p = P0; p < P1; p++) {
            const int64_t n = p + 1 < N ? (p + 1 > 0 ? p + 1 : 0) : N;
            kept += n;
            if (v.kind == ATTN_VAR_FLASH && n > 0) later += (n + v.block - 1) / v.block - 1;
        }
        fl->scores += copies * 2 * m * Nk * kq;
        fl->values += copies * 2 * m * Nk * kv;
        fl->softmax += copies * ((int64_t)ATTN_SOFTMAX_FLOPS * kept + (int64_t)ATTN_NORM_FLOPS * m * kv);
        fl->softmax += copies * later * ((int64_t)ATTN_FLASH_FLOPS + kv);
    }
}
