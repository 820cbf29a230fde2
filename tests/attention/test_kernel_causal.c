/* test_kernel_causal.c: the attention kernel (attention/kernel.h) under a causal mask, every
 * variant (the calibration's candidates, the default and the smallest flash tiles), against a
 * double-precision reference written here: row r of a segment is at position p = q0 + r and
 * gets softmax over the keys j <= p that the key mask keeps, of scale q.k, times v (0 for a
 * row without such a key). Shapes reach every path: N not a multiple of 32 nor of a key
 * block, N below one key block, several segments with different kq and kv (cblas values at
 * kv % 16 != 0), kq above ATTN_KPACK (cblas scores), key masks with a fully padded sequence
 * and one whose first tokens are padding (rows with no kept key at all).
 * Checked: max abs error 2e-5 (as test_kernel); counted FLOPs equal to a closed form written
 * out here per item (its rows at [P0, P1) against min(N, P1) keys, the softmax over
 * min(N, p + 1) keys per row, the flash rescaling per later key block a row keeps keys of)
 * and to attn_variant_flops_causal, and below the non-causal count; causality bit for bit:
 * the queries, keys and values at a position t (and at the last position) redrawn at scale
 * 50 leave every output row at a position < t identical (memcmp) and change row t, with
 * and without a key mask. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/kernel.h"
#include "core/rng.h"
#include "tests/check.h"

#define NAME "test_kernel_causal"
#define MAXSEG 4

typedef struct {
    int rows, kq, kv, off; /* segment: query rows [off, off + rows), at positions off.. */
} Seg;

typedef struct {
    int B, H, N, W, nseg, masked;
    Seg sg[MAXSEG];
    float *q, *k, *v, *o, *o2; /* (B, N, H, W) */
    int32_t *mask;             /* (B, N) */
} Case;

/* out (B, rows, H, kv) of one segment in double: the causal reference */
static void reference(double *out, const Case *c, Seg sg, float scale) {
    const int N = c->N, H = c->H, W = c->W;
    double *p = malloc(sizeof(double) * N);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < sg.rows; i++) {
                const int pos = sg.off + i;
                const float *qi = c->q + ((size_t)b * N + pos) * H * W + (size_t)h * W;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= pos && j < N; j++) {
                    const float *kj = c->k + ((size_t)b * N + j) * H * W + (size_t)h * W;
                    double s = 0;
                    for (int t = 0; t < sg.kq; t++) s += (double)qi[t] * kj[t];
                    p[j] = (double)scale * s;
                    if ((!c->masked || c->mask[b * N + j]) && p[j] > mx) mx = p[j];
                }
                for (int j = 0; j <= pos && j < N; j++) {
                    p[j] = (!c->masked || c->mask[b * N + j]) ? exp(p[j] - mx) : 0.0;
                    sum += p[j];
                }
                double *o = out + (((size_t)b * sg.rows + i) * H + h) * sg.kv;
                for (int t = 0; t < sg.kv; t++) {
                    double a = 0;
                    for (int j = 0; j <= pos && j < N; j++)
                        a += p[j] * c->v[((size_t)b * N + j) * H * W + (size_t)h * W + t];
                    o[t] = sum > 0 ? a / sum : 0.0;
                }
            }
    free(p);
}

/* rows per item, written out: flash its rows; tiled and sgemm block / N down to a multiple
   of 8, within [8, 128]; causal: at most N / 8 down to a multiple of 8, at least 8 */
static int64_t item_rows(AttnVariant v, int64_t N) {
    int64_t r = v.kind == ATTN_VAR_FLASH ? v.rows : v.block / N / 8 * 8;
    if (v.kind != ATTN_VAR_FLASH) r = r < 8 ? 8 : r > 128 ? 128 : r;
    const int64_t cap = N / 8 / 8 * 8;
    return r < cap ? r : cap > 8 ? cap : 8;
}

/* the closed form of one segment for `copies` (b, h) pairs: per item of m rows at positions
   [P0, P1): scores 2 m Nk kq, values 2 m Nk kv with Nk = min(N, P1); softmax (3 + 24) per kept
   score, n_p = min(N, p + 1) per row, plus m kv; flash: per row, each key block after the
   first that holds one of its n_p keys, 1 + 1 + 24 + 2 + kv */
static void closed(AttnFlops *f, AttnVariant v, int64_t copies, Seg sg, int64_t N) {
    const int64_t R = item_rows(v, N);
    for (int64_t i0 = 0; i0 < sg.rows; i0 += R) {
        const int64_t m = sg.rows - i0 < R ? sg.rows - i0 : R;
        const int64_t P0 = sg.off + i0, P1 = P0 + m, Nk = P1 < N ? P1 : N;
        f->scores += copies * 2 * m * Nk * sg.kq;
        f->values += copies * 2 * m * Nk * sg.kv;
        f->softmax += copies * m * sg.kv;
        for (int64_t p = P0; p < P1; p++) {
            const int64_t n = p + 1 < N ? p + 1 : N;
            f->softmax += copies * (1 + 1 + 24 + 1) * n;
            if (v.kind != ATTN_VAR_FLASH) continue;
            int64_t blocks = 0;
            for (int64_t j0 = 0; j0 < n; j0 += v.block) blocks++;
            f->softmax += copies * (blocks - 1) * (1 + 1 + 24 + 2 + sg.kv);
        }
    }
}

static void run(const Case *c, AttnVariant var, float *o, float *scratch, size_t len,
                AttnFlops *fl) {
    const size_t bs = (size_t)c->N * c->H * c->W;
    const int ld = c->H * c->W;
    AttnSegment seg[MAXSEG];
    for (int s = 0; s < c->nseg; s++) {
        const Seg g = c->sg[s];
        seg[s] = (AttnSegment){{c->q + (size_t)g.off * ld, bs, ld, c->W},
                               {o + (size_t)g.off * ld, bs, ld, c->W}, g.rows, g.kq, g.kv, g.off};
    }
    AttnView kv = {c->k, bs, ld, c->W}, vv = {c->v, bs, ld, c->W};
    AttnMask am = attn_mask_causal(c->masked ? attn_mask_i32(c->mask) : attn_mask_none());
    attn_kernel_forward_with(var, seg, c->nseg, kv, vv, am, c->B, c->H, c->N, 0.3f, scratch, len,
                             fl);
}

/* causality at position t: q, k, v rows at t and at N - 1 redrawn; rows < t unchanged bit for
   bit, row t changed (when some key <= t is kept in sequence 0) */
static void causality(Case *c, AttnVariant var, const char *nm, int t, float *scratch,
                      size_t len, Rng *r) {
    const size_t n = (size_t)c->B * c->N * c->H * c->W, row = (size_t)c->H * c->W;
    memset(c->o, 0, sizeof(float) * n);
    run(c, var, c->o, scratch, len, NULL);
    float *save = malloc(sizeof(float) * 3 * row * c->B * 2);
    int pos[2] = {t, c->N - 1}, w = 0;
    for (int b = 0; b < c->B; b++)
        for (int u = 0; u < 2; u++) {
            float *arr[3] = {c->q, c->k, c->v};
            for (int a = 0; a < 3; a++) {
                float *x = arr[a] + ((size_t)b * c->N + pos[u]) * row;
                memcpy(save + (size_t)w++ * row, x, sizeof(float) * row);
                for (size_t i = 0; i < row; i++) x[i] = (float)(50 * rng_normal(r));
            }
        }
    memset(c->o2, 0, sizeof(float) * n);
    run(c, var, c->o2, scratch, len, NULL);
    int same_before = 1, changed_t = 0;
    for (int b = 0; b < c->B; b++) {
        const size_t base = (size_t)b * c->N * row;
        same_before &= memcmp(c->o + base, c->o2 + base, sizeof(float) * row * t) == 0;
        if (b == 0)
            changed_t = memcmp(c->o + base + t * row, c->o2 + base + t * row,
                               sizeof(float) * row) != 0;
    }
    int covered = 0; /* row t is in a segment */
    for (int s = 0; s < c->nseg; s++) covered |= t >= c->sg[s].off && t < c->sg[s].off + c->sg[s].rows;
    int kept0 = covered && !c->masked;
    for (int j = 0; j <= t && c->masked && covered; j++) kept0 |= c->mask[j] != 0;
    CHECK(same_before, "%s N=%d mask=%d: a later token (t=%d) changed an earlier row", nm, c->N,
          c->masked, t);
    CHECK(changed_t || !kept0, "%s N=%d: redrawing token %d did not change its own row", nm, c->N,
          t);
    w = 0; /* restore */
    for (int b = 0; b < c->B; b++)
        for (int u = 0; u < 2; u++) {
            float *arr[3] = {c->q, c->k, c->v};
            for (int a = 0; a < 3; a++)
                memcpy(arr[a] + ((size_t)b * c->N + pos[u]) * row, save + (size_t)w++ * row,
                       sizeof(float) * row);
        }
    free(save);
}

/* the largest abs error of segment s's rows in o against ref */
static double seg_err(const Case *c, int s, const double *ref) {
    const Seg g = c->sg[s];
    double worst = 0;
    for (int b = 0; b < c->B; b++)
        for (int i = 0; i < g.rows; i++)
            for (int h = 0; h < c->H; h++)
                for (int t = 0; t < g.kv; t++) {
                    const double got =
                        c->o[(((size_t)b * c->N + g.off + i) * c->H + h) * c->W + t];
                    const double want = ref[(((size_t)b * g.rows + i) * c->H + h) * g.kv + t];
                    worst = fabs(got - want) > worst ? fabs(got - want) : worst;
                }
    return worst;
}

static int flops_eq(const AttnFlops *a, const AttnFlops *b) {
    return a->scores == b->scores && a->softmax == b->softmax && a->values == b->values &&
           a->proj == b->proj && a->out == b->out && a->factor == b->factor;
}

/* every variant on one case */
static void variants(Case *c, Rng *r) {
    const size_t n = (size_t)c->B * c->N * c->H * c->W;
    double *ref[MAXSEG];
    for (int s = 0; s < c->nseg; s++) {
        ref[s] = malloc(sizeof(double) * (size_t)c->B * c->sg[s].rows * c->H * c->sg[s].kv);
        reference(ref[s], c, c->sg[s], 0.3f);
    }
    const size_t len = attn_kernel_scratch_size(c->N, attn_kernel_threads());
    float *scratch = malloc(sizeof(float) * len);
    AttnVariant cand[ATTN_MAX_VARIANTS + 1];
    int nc = attn_variant_candidates(cand);
    cand[nc++] = (AttnVariant){ATTN_VAR_FLASH, 32, 8};
    for (int ci = 0; ci < nc; ci++) {
        char nm[64];
        attn_variant_name(cand[ci], nm, sizeof nm);
        memset(c->o, 0, sizeof(float) * n);
        AttnFlops fl, want, lib, full;
        attn_flops_zero(&fl), attn_flops_zero(&want), attn_flops_zero(&lib), attn_flops_zero(&full);
        run(c, cand[ci], c->o, scratch, len, &fl);
        double worst = 0;
        for (int s = 0; s < c->nseg; s++) {
            const double e = seg_err(c, s, ref[s]);
            worst = e > worst ? e : worst;
            const Seg g = c->sg[s];
            closed(&want, cand[ci], (int64_t)c->B * c->H, g, c->N);
            attn_variant_flops_causal(&lib, cand[ci], (int64_t)c->B * c->H, g.off, g.rows, c->N,
                                      g.kq, g.kv);
            attn_variant_flops(&full, cand[ci], (int64_t)c->B * c->H * g.rows, c->N, g.kq, g.kv);
        }
        printf("%-16s B=%d H=%d N=%-4d segs=%d mask=%d: max abs err %.3g, flops %.3g of "
               "non-causal\n", nm, c->B, c->H, c->N, c->nseg, c->masked, worst,
               (double)attn_flops_total(&fl) / (double)attn_flops_total(&full));
        CHECK(worst < 2e-5, "%s N=%d mask=%d: max abs err %g", nm, c->N, c->masked, worst);
        CHECK(flops_eq(&fl, &want), "%s N=%d: flops scores %lld softmax %lld values %lld, closed "
              "form %lld %lld %lld", nm, c->N, (long long)fl.scores, (long long)fl.softmax,
              (long long)fl.values, (long long)want.scores, (long long)want.softmax,
              (long long)want.values);
        CHECK(flops_eq(&lib, &want), "%s: attn_variant_flops_causal differs from the closed form",
              nm);
        CHECK(attn_flops_total(&fl) < attn_flops_total(&full), "%s: causal not cheaper", nm);
        const int ts[3] = {c->N / 3, c->N / 2 + 1, c->N - 2};
        for (int i = 0; i < 3; i++)
            if (ts[i] > 0 && ts[i] < c->N) causality(c, cand[ci], nm, ts[i], scratch, len, r);
    }
    for (int s = 0; s < c->nseg; s++) free(ref[s]);
    free(scratch);
}

static void one_case(int B, int H, int N, int W, const Seg *sg, int nseg, int masked,
                     uint64_t seed) {
    Rng r;
    rng_init(&r, seed, 1);
    Case c = {B, H, N, W, nseg, masked, {{0}}, NULL, NULL, NULL, NULL, NULL, NULL};
    memcpy(c.sg, sg, sizeof(Seg) * nseg);
    const size_t n = (size_t)B * N * H * W;
    c.q = malloc(sizeof(float) * n), c.k = malloc(sizeof(float) * n);
    c.v = malloc(sizeof(float) * n), c.o = malloc(sizeof(float) * n);
    c.o2 = malloc(sizeof(float) * n), c.mask = malloc(sizeof(int32_t) * B * N);
    for (size_t i = 0; i < n; i++) {
        c.q[i] = (float)(1.5 * rng_normal(&r));
        c.k[i] = (float)rng_normal(&r);
        c.v[i] = (float)rng_normal(&r);
    }
    /* sequence 0: the first 5 tokens padded (rows 0..4 have no kept key), and a hole;
       sequence 1: all padded; others: a shorter real length */
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++)
            c.mask[b * N + j] = b == 0 ? (j >= 5 && j != N / 2) : b == 1 ? 0 : j < N - 7 * b;
    variants(&c, &r);
    free(c.q), free(c.k), free(c.v), free(c.o), free(c.o2), free(c.mask);
}

int main(void) {
    const Seg one77[1] = {{77, 64, 64, 0}};
    one_case(3, 2, 77, 64, one77, 1, 1, 1);
    one_case(2, 2, 77, 64, one77, 1, 0, 2);
    const Seg one[1] = {{300, 64, 64, 0}};
    one_case(3, 2, 300, 64, one, 1, 1, 3);
    /* per-segment ranks: kq 16 / kv 16, kq 8 / kv 8 (cblas values), kq 33 / kv 24 */
    const Seg three[3] = {{100, 16, 16, 0}, {150, 8, 8, 100}, {50, 33, 24, 250}};
    one_case(3, 3, 300, 64, three, 3, 1, 4);
    one_case(1, 2, 300, 64, three, 3, 0, 5);
    /* a long N (several flash key blocks of every candidate) and kq above ATTN_KPACK; a
       segment of the last rows only */
    const Seg wide[2] = {{40, 160, 160, 0}, {60, 160, 160, 1040}};
    one_case(1, 1, 1100, 160, wide, 2, 0, 6);
    const Seg lng[1] = {{1100, 32, 32, 0}};
    one_case(3, 2, 1100, 32, lng, 1, 1, 7);
    return check_exit(NAME);
}
