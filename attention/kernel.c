/* kernel.c: blocked masked attention over strided views (the math is in kernel.h):
 *     S = scale Q_blk K^T;  E = keep .* exp(S - rowmax_kept S);  O = diag(1 / rowsum E) E V
 * per item (segment, b, h, query block of <= ATTN_QBLOCK rows), items spread over OpenMP
 * threads, each thread with its own scores slice. */
#include "attention/kernel.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn/fastexp.h"

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

/* floats of scratch per thread: scores (QB, N), inverse sums (QB), key flags (N) */
static size_t per_thread(int N) {
    return (size_t)ATTN_QBLOCK * (size_t)N + ATTN_QBLOCK + (size_t)N;
}

size_t attn_kernel_scratch_size(int N, int threads) {
    if (threads < 1) threads = 1;
    return (size_t)threads * per_thread(N);
}

/* keep (N): 1.0f for a kept key, 0.0f for padding, from row b of the mask; returns the
   number of kept keys */
static int key_flags(float *keep, AttnMask m, int b, int N) {
    int n = 0;
    if (m.type == ATTN_MASK_I32) {
        const int32_t *r = (const int32_t *)m.data + (size_t)b * N;
        for (int j = 0; j < N; j++) n += (keep[j] = r[j] != 0 ? 1.0f : 0.0f) != 0.0f;
    } else {
        const uint8_t *r = (const uint8_t *)m.data + (size_t)b * N;
        for (int j = 0; j < N; j++) n += (keep[j] = r[j] != 0 ? 1.0f : 0.0f) != 0.0f;
    }
    return n;
}

/* row i of E in place over S (m, N) and inv[i] = 1 / l_i (0 for a row without kept keys);
   keep NULL: every key kept. 16 partial maxima / sums keep the loops vectorisable. */
static void softmax_block(float *S /* (m, N) */, float *inv /* (m) */,
                          const float *keep /* (N) or NULL */, int m, int N) {
    for (int i = 0; i < m; i++) {
        float *row = S + (size_t)i * N;
        float acc[16];
        for (int l = 0; l < 16; l++) acc[l] = -INFINITY;
        int j = 0;
        if (keep) {
            for (; j + 16 <= N; j += 16)
                for (int l = 0; l < 16; l++) {
                    float s = keep[j + l] != 0.0f ? row[j + l] : -INFINITY;
                    acc[l] = s > acc[l] ? s : acc[l];
                }
        } else {
            for (; j + 16 <= N; j += 16)
                for (int l = 0; l < 16; l++) acc[l] = row[j + l] > acc[l] ? row[j + l] : acc[l];
        }
        float mx = -INFINITY;
        for (; j < N; j++) {
            float s = (!keep || keep[j] != 0.0f) ? row[j] : -INFINITY;
            mx = s > mx ? s : mx;
        }
        for (int l = 0; l < 16; l++) mx = acc[l] > mx ? acc[l] : mx;
        if (mx == -INFINITY) { /* no kept key: E = 0, O = 0 */
            memset(row, 0, (size_t)N * sizeof(float));
            inv[i] = 0.0f;
            continue;
        }
        float sum[16] = {0};
        j = 0;
        if (keep) {
            for (; j + 16 <= N; j += 16)
                for (int l = 0; l < 16; l++) {
                    float e = fastexp_neg(row[j + l] - mx) * keep[j + l];
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
            float e = fastexp_neg(row[j] - mx) * (keep ? keep[j] : 1.0f);
            row[j] = e;
            s += e;
        }
        for (int l = 0; l < 16; l++) s += sum[l];
        inv[i] = 1.0f / s; /* s >= 1: the max element contributes e^0 = 1 */
    }
}

/* one item: rows [i0, i0 + m) of segment sg, batch b, head h */
static void run_item(const AttnSegment *sg, AttnView k, AttnView v, int b, int h, int i0, int m,
                     int N, float scale, float *S, float *inv, const float *keep,
                     AttnFlops *fl) {
    const float *q = sg->q.p + (size_t)b * sg->q.bstride + (size_t)i0 * sg->q.ld +
                     (size_t)h * sg->q.hstride;
    const float *kh = k.p + (size_t)b * k.bstride + (size_t)h * k.hstride;
    const float *vh = v.p + (size_t)b * v.bstride + (size_t)h * v.hstride;
    float *o = sg->out.p + (size_t)b * sg->out.bstride + (size_t)i0 * sg->out.ld +
               (size_t)h * sg->out.hstride;
    const int kq = sg->kq, kv = sg->kv;
    /* S = scale Q_blk K^T: (m, kq) x (N, kq)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, N, kq, scale, q, sg->q.ld, kh, k.ld,
                0.0f, S, N);
    softmax_block(S, inv, keep, m, N);
    /* O = E V: (m, N) x (N, kv), then row i times 1 / l_i */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, kv, N, 1.0f, S, N, vh, v.ld, 0.0f,
                o, sg->out.ld);
    for (int i = 0; i < m; i++) {
        float *oi = o + (size_t)i * sg->out.ld;
        for (int c = 0; c < kv; c++) oi[c] *= inv[i];
    }
    fl->scores += 2 * (int64_t)m * N * kq;
    fl->softmax += (int64_t)ATTN_SOFTMAX_FLOPS * m * N + (int64_t)ATTN_NORM_FLOPS * m * kv;
    fl->values += 2 * (int64_t)m * N * kv;
}

/* item index -> (segment, b, h, block); items are ordered segment, b, h, block so that
   consecutive items share the keys and values of one (b, h) */
static void item_decode(const AttnSegment *seg, int nseg, const int64_t *first, int64_t it,
                        int B, int H, int *s, int *b, int *h, int *i0, int *m) {
    int lo = 0, hi = nseg - 1; /* the last segment with first[s] <= it */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (first[mid] <= it) lo = mid;
        else hi = mid - 1;
    }
    int64_t local = it - first[lo];
    int nblk = (seg[lo].rows + ATTN_QBLOCK - 1) / ATTN_QBLOCK;
    int blk = (int)(local % nblk);
    int64_t bh = local / nblk;
    *s = lo;
    *h = (int)(bh % H);
    *b = (int)(bh / H);
    *i0 = blk * ATTN_QBLOCK;
    int rem = seg[lo].rows - *i0;
    *m = rem < ATTN_QBLOCK ? rem : ATTN_QBLOCK;
    (void)B;
}

/* item `it` on one thread's scratch slice mine; flag_b: the batch whose key flags the
   slice holds (-1: none yet) */
static void run_one(const AttnSegment *seg, int nseg, const int64_t *first, AttnView k,
                      AttnView v, AttnMask key_mask, int B, int H, int N, float scale,
                      float *mine, int64_t it, AttnFlops *fl, int *flag_b) {
    float *S = mine, *inv = mine + (size_t)ATTN_QBLOCK * N, *keep = inv + ATTN_QBLOCK;
    int s, b, h, i0, m;
    item_decode(seg, nseg, first, it, B, H, &s, &b, &h, &i0, &m);
    if (m <= 0) return;
    const float *kp = NULL;
    if (key_mask.type != ATTN_MASK_NONE) {
        if (*flag_b != b) key_flags(keep, key_mask, b, N);
        *flag_b = b;
        kp = keep;
    }
    run_item(&seg[s], k, v, b, h, i0, m, N, scale, S, inv, kp, fl);
}

void attn_kernel_forward(const AttnSegment *seg, int nseg, AttnView k, AttnView v,
                         AttnMask key_mask, int B, int H, int N, float scale, float *scratch,
                         size_t scratch_len, AttnFlops *fl) {
    if (nseg <= 0 || B <= 0 || H <= 0 || N <= 0) return;
    /* first item of each segment (prefix sums of the item counts) */
    int64_t first[ATTN_MAX_SEGS + 1];
    if (nseg > ATTN_MAX_SEGS) return; /* caller error: more segments than supported */
    int64_t total = 0;
    for (int s = 0; s < nseg; s++) {
        first[s] = total;
        int nblk = (seg[s].rows + ATTN_QBLOCK - 1) / ATTN_QBLOCK;
        total += (int64_t)nblk * B * H;
    }
    first[nseg] = total;
    const size_t pt = per_thread(N);
    int nt = attn_kernel_threads();
    if ((size_t)nt > scratch_len / pt) nt = (int)(scratch_len / pt);
    if (nt < 1) return; /* caller error: no scratch */
    if (total < nt) nt = 1;
    AttnFlops acc;
    attn_flops_zero(&acc);
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            float *mine = scratch + (size_t)omp_get_thread_num() * pt;
            AttnFlops loc;
            attn_flops_zero(&loc);
            int flag_b = -1;
#pragma omp for schedule(dynamic, 1)
            for (int64_t it = 0; it < total; it++)
                run_one(seg, nseg, first, k, v, key_mask, B, H, N, scale, mine, it, &loc,
                          &flag_b);
#pragma omp critical(attn_kernel_flops)
            attn_flops_add(&acc, &loc);
        }
        if (fl) attn_flops_add(fl, &acc);
        return;
    }
#endif
    int flag_b = -1;
    for (int64_t it = 0; it < total; it++)
        run_one(seg, nseg, first, k, v, key_mask, B, H, N, scale, scratch, it, &acc, &flag_b);
    if (fl) attn_flops_add(fl, &acc);
}
