/* test_causal_layers.c: the attention layers under a causal mask (nn/attention.h's
 * AttnMask.causal: position i keeps key j only if j <= i):
 *  - exact (attention/exact.h) in the three kernel variants (tiled, sgemm, flash with 8 x 32
 *    tiles) and the weight-level low-rank layer (attention/lowrank.h), plain and whitened
 *    factors, one rank for all rows and per-segment ranks (segments of T = 16 rows at
 *    different ranks), with and without a key padding mask (one sequence with its first
 *    tokens padded, so its first rows keep no key at all);
 *  - against references in double written here: exact: the projections, the causal softmax
 *    per head and the output projection; low-rank: the same from the factors' first r
 *    columns of every head, r the rank of the row's segment; relative Frobenius error over
 *    all rows < 1e-5;
 *  - counted FLOPs equal the closed forms written out here (projections as the non-causal
 *    layer; the kernel item by item, causal_util.h) and the library's
 *    attn_exact_flops_causal / attn_lowrank_flops_causal, and below the non-causal counts;
 *  - causality bit for bit: the inputs at a position t and at the last position redrawn leave
 *    every output row at a position < t identical (memcmp) and change row t;
 *  - activation-level factors and Nystrom refuse a causal mask (ST_INVALID, "no causal
 *    variant"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/activation.h"
#include "attention/exact.h"
#include "attention/lowrank.h"
#include "attention/moment.h"
#include "attention/nystrom.h"
#include "tests/attention/causal_util.h"
#include "tests/attention/util.h"
#include "tests/check.h"

#define NAME "test_causal_layers"

static const AttnVariant variants[3] = {{ATTN_VAR_TILED, ATTN_SBLOCK, 0},
                                        {ATTN_VAR_SGEMM, ATTN_SBLOCK, 0},
                                        {ATTN_VAR_FLASH, 32, 8}};

/* the layer a test runs: exact (lr NULL) or low-rank with T rows per segment at seg ranks */
typedef struct {
    AttnExact *ex;
    AttnLowrank *lr;
    int T;
    const int *seg;
} Layer;

static Status forward(const Layer *ly, float *y, const TuCase *c, AttnMask am, AttnFlops *fl) {
    Err e;
    Status st = ly->lr ? attn_lowrank_forward(y, ly->lr, c->x, am, c->B, c->N, ly->T, ly->seg, fl, &e)
                       : attn_exact_forward(y, ly->ex, c->x, am, &c->p, c->B, c->N, fl, &e);
    if (st) fprintf(stderr, "%s\n", e.msg);
    return st;
}

/* y (B, N, d) in double: sum_h causal_softmax(qt_h kt_h^T / sqrt(dh)) u_h D_h^T + bo, where
   with x~ = [x, 1]: exact: qt = x~ F_q, kt = x~ F_k (dh columns), u = x~ F_v Wo_h^T (d
   columns, D = I); low-rank (f): the first r columns of A, B, C and D of head h, r the rank
   of the row's segment (the keys' columns: the same first r) */
static void reference(double *y, const TuCase *c, const AttnFactors *f, int T, const int *seg,
                      const int32_t *mask) {
    const int B = c->B, N = c->N, d = c->d, H = c->H, dh = d / H, D = d + 1;
    double *qt = malloc(sizeof(double) * N * dh), *kt = malloc(sizeof(double) * N * dh);
    double *u = malloc(sizeof(double) * N * d), *s = malloc(sizeof(double) * (N + dh));
    double *p = malloc(sizeof(double) * N), *o = malloc(sizeof(double) * d);
    for (size_t i = 0; i < (size_t)B * N * d; i++) y[i] = f ? f->bo[i % d] : c->p.bo[i % d];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *xb = c->x + (size_t)b * N * d;
            for (int i = 0; i < N; i++) { /* full-width coordinates; rank r reads r of them */
                for (int k = 0; k < dh; k++) {
                    double aq = 0, ak = 0, av = 0;
                    for (int t = 0; t < D; t++) {
                        const double xt = t < d ? xb[(size_t)i * d + t] : 1.0;
                        const int o2 = h * dh + k;
                        aq += xt * (f ? f->a[((size_t)h * D + t) * dh + k]
                                      : t < d ? c->p.wq[(size_t)o2 * d + t] : c->p.bq[o2]);
                        ak += xt * (f ? f->b[((size_t)h * D + t) * dh + k]
                                      : t < d ? c->p.wk[(size_t)o2 * d + t] : c->p.bk[o2]);
                        av += xt * (f ? f->c[((size_t)h * D + t) * dh + k]
                                      : t < d ? c->p.wv[(size_t)o2 * d + t] : c->p.bv[o2]);
                    }
                    qt[(size_t)i * dh + k] = aq, kt[(size_t)i * dh + k] = ak, s[k] = av;
                }
                for (int c2 = 0; c2 < d; c2++) u[(size_t)i * d + c2] = 0;
                for (int k = 0; k < dh; k++) { /* u keeps the dh value coordinates here */
                    u[(size_t)i * d + k] = s[k];
                }
            }
            for (int i = 0; i < N; i++) {
                const int r = f ? seg[i / T] : dh;
                for (int j = 0; j <= i; j++) {
                    double a = 0;
                    for (int k = 0; k < r; k++) a += qt[(size_t)i * dh + k] * kt[(size_t)j * dh + k];
                    s[j] = a / sqrt((double)dh);
                }
                if (!cu_softmax_row(p, s, mask ? mask + (size_t)b * N : NULL, i)) continue;
                for (int k = 0; k < r; k++) {
                    o[k] = 0;
                    for (int j = 0; j <= i; j++) o[k] += p[j] * u[(size_t)j * d + k];
                }
                double *yi = y + ((size_t)b * N + i) * d;
                for (int c2 = 0; c2 < d; c2++) {
                    double a = 0;
                    for (int k = 0; k < r; k++)
                        a += o[k] * (f ? f->dm[((size_t)h * d + c2) * dh + k]
                                       : c->p.wo[(size_t)c2 * d + h * dh + k]);
                    yi[c2] += a;
                }
            }
        }
    free(qt), free(kt), free(u), free(s), free(p), free(o);
}

static double rel_err(const float *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
    return sqrt(num / den);
}

/* the closed form of the layer's FLOPs under a causal mask with variant v */
static AttnFlops closed(const TuCase *c, const Layer *ly, AttnVariant v) {
    const int64_t B = c->B, N = c->N, d = c->d, H = c->H, dh = d / H, M = B * N;
    AttnFlops f;
    attn_flops_zero(&f);
    if (!ly->lr) {
        f.proj = 3 * (2 * M * d * d + M * d);
        f.out = 2 * M * d * d + M * d;
        cu_items_closed(&f, v, B * H, 0, N, N, dh, dh);
        return f;
    }
    const int64_t T = ly->T, nseg = (N + T - 1) / T;
    int64_t rm = 0;
    for (int64_t s = 0; s < nseg; s++) rm = ly->seg[s] > rm ? ly->seg[s] : rm;
    f.proj = 2 * (2 * M * d * H * rm + M * H * rm); /* keys and values at r_max */
    for (int64_t s = 0; s < nseg; s++) {
        const int64_t rows = (s + 1) * T < N ? T : N - s * T, r = ly->seg[s], Ms = B * rows;
        f.proj += 2 * Ms * d * H * r + Ms * H * r;
        f.out += 2 * Ms * H * r * d + Ms * d;
        cu_items_closed(&f, v, B * H, s * T, rows, N, r, r);
    }
    return f;
}

/* one layer on case c in every variant: reference, FLOPs, causality */
static void check_layer(TuCase *c, const Layer *ly, const AttnFactors *f, int masked,
                        const char *what, Rng *r) {
    const int B = c->B, N = c->N, d = c->d;
    const size_t n = (size_t)B * N * d;
    const int32_t *mk = masked ? c->mask : NULL;
    const AttnMask am = attn_mask_causal(masked ? attn_mask_i32(c->mask) : attn_mask_none());
    double *ref = malloc(sizeof(double) * n);
    reference(ref, c, f, ly->T, ly->seg, mk);
    float *x0 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
    memcpy(x0, c->x, sizeof(float) * n);
    for (int vi = 0; vi < 3; vi++) {
        const AttnVariant v = variants[vi];
        char nm[64];
        attn_variant_name(v, nm, sizeof nm);
        cu_use_variant(v);
        AttnFlops fl;
        attn_flops_zero(&fl);
        CHECK(forward(ly, c->y, c, am, &fl) == ST_OK, "%s forward", what);
        const double err = rel_err(c->y, ref, n);
        const AttnFlops want = closed(c, ly, v);
        const AttnFlops lib = ly->lr ? attn_lowrank_flops_causal(B, N, d, c->H, ly->T, ly->seg, v)
                                     : attn_exact_flops_causal(B, N, d, c->H, v);
        const AttnFlops full = ly->lr ? attn_lowrank_flops(B, N, d, c->H, ly->T, ly->seg)
                                      : attn_exact_flops(B, N, d, c->H);
        printf("%-22s %-14s B=%d N=%-3d mask=%d: rel err %.3g, flops %.3f of non-causal\n", what,
               nm, B, N, masked, err, (double)attn_flops_total(&fl) / attn_flops_total(&full));
        CHECK(err < 1e-5, "%s %s mask=%d: rel err %g", what, nm, masked, err);
        CHECK(cu_flops_eq(&fl, &want), "%s %s: flops %lld (scores %lld softmax %lld) vs closed "
              "form %lld (%lld %lld)", what, nm, (long long)attn_flops_total(&fl),
              (long long)fl.scores, (long long)fl.softmax, (long long)attn_flops_total(&want),
              (long long)want.scores, (long long)want.softmax);
        CHECK(cu_flops_eq(&lib, &want), "%s %s: library closed form differs", what, nm);
        CHECK(fl.scores < full.scores && fl.values < full.values, "%s %s: no work saved", what, nm);
        for (int t = N / 3; t < N - 1; t += N / 3) {
            cu_perturb(c->x, B, N, d, t, r);
            CHECK(forward(ly, y2, c, am, NULL) == ST_OK, "%s forward", what);
            int changed = 0;
            CHECK(cu_prefix_same(c->y, y2, B, N, d, t, &changed), "%s %s mask=%d: the input at "
                  "position %d changed an earlier output row", what, nm, masked, t);
            CHECK(changed, "%s %s: the input at position %d did not change its own row", what, nm,
                  t);
            memcpy(c->x, x0, sizeof(float) * n);
        }
    }
    cu_use_variant((AttnVariant){-1, 0, 0});
    free(ref), free(x0), free(y2);
}

/* the case: B sequences of N tokens, width d, H heads; sequence 0 has its first 3 tokens
   padded, sequence 1 a real length of N - 9 */
static void case_init(TuCase *c, Rng *r, int B, int N, int d, int H, uint64_t seed) {
    int len[4] = {N, N - 9, N, N};
    tu_case_init(c, r, B, N, d, H, seed, len);
    for (int j = 0; j < 3; j++) c->mask[j] = 0;
}

static void exact_layer(void) {
    TuCase c;
    Rng r;
    case_init(&c, &r, 2, 45, 32, 2, 11);
    AttnExact ex;
    Err e;
    CHECK(attn_exact_init(&ex, c.B, c.N, c.d, c.H, &e) == ST_OK, "%s", e.msg);
    Layer ly = {&ex, NULL, 0, NULL};
    for (int masked = 0; masked < 2; masked++) check_layer(&c, &ly, NULL, masked, "exact", &r);
    attn_exact_free(&ex);
    tu_case_free(&c);
}

/* whitener from calibration inputs of the case's distribution */
static void whitener(double *Lw, int d, uint64_t seed, Rng *r) {
    AttnMoment m;
    Err e;
    CHECK(attn_moment_init(&m, d, &e) == ST_OK, "%s", e.msg);
    float *cal = malloc(sizeof(float) * 4 * 64 * d);
    tu_ln_inputs(cal, 4, 64, d, 8, seed, r);
    attn_moment_add(&m, cal, attn_mask_none(), 4, 64);
    double *M = malloc(sizeof(double) * (d + 1) * (d + 1));
    CHECK(attn_moment_get(M, &m, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_whitener(Lw, M, d, ATTN_RIDGE_DEFAULT, &e) == ST_OK, "%s", e.msg);
    free(M), free(cal);
    attn_moment_free(&m);
}

static void lowrank_layer(int whitened) {
    TuCase c;
    Rng r;
    case_init(&c, &r, 2, 70, 32, 2, 12 + (uint64_t)whitened);
    const int d = c.d, H = c.H, dh = d / H;
    double *Lw = malloc(sizeof(double) * (d + 1) * (d + 1));
    whitener(Lw, d, 12 + (uint64_t)whitened, &r);
    AttnFactors f;
    Err e;
    CHECK(attn_factors_init(&f, d, H, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_compute(&f, &c.p, whitened ? Lw : NULL, ATTN_RIDGE_DEFAULT, NULL, &e) ==
              ST_OK, "%s", e.msg);
    const int grid[4] = {2, 4, 8, dh};
    AttnLowrank L;
    CHECK(attn_lowrank_init(&L, &f, grid, 4, c.B, c.N, &e) == ST_OK, "%s", e.msg);
    const int segs[5] = {8, 2, dh, 4, 8}, one[1] = {4};
    Layer per = {NULL, &L, 16, segs}, all = {NULL, &L, c.N, one};
    const char *nm = whitened ? "lowrank whitened" : "lowrank plain";
    char what[64];
    for (int masked = 0; masked < 2; masked++) {
        snprintf(what, sizeof what, "%s T=16", nm);
        check_layer(&c, &per, &f, masked, what, &r);
        snprintf(what, sizeof what, "%s r=4", nm);
        check_layer(&c, &all, &f, masked, what, &r);
    }
    attn_lowrank_free(&L);
    attn_factors_free(&f);
    free(Lw);
    tu_case_free(&c);
}

/* activation-level factors and Nystrom: a causal mask is refused, a plain one is not */
static void refusals(void) {
    TuCase c;
    Rng r;
    case_init(&c, &r, 1, 20, 16, 2, 13);
    Err e;
    AttnActivation A;
    CHECK(attn_activation_init(&A, 1, 20, 16, 2, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_activation_forward(c.y, &A, c.x, attn_mask_causal(attn_mask_none()), &c.p, 1, 20, 4,
                                  NULL, &e) == ST_INVALID &&
              strstr(e.msg, "no causal variant") && strstr(e.msg, "later tokens"),
          "activation accepted a causal mask (%s)", e.msg);
    CHECK(attn_activation_forward(c.y, &A, c.x, attn_mask_none(), &c.p, 1, 20, 4, NULL, &e) ==
              ST_OK, "%s", e.msg);
    attn_activation_free(&A);
    NystromLayer ny;
    CHECK(nystrom_init(&ny, 1, 20, 16, 2, 4, &e) == ST_OK, "%s", e.msg);
    CHECK(nystrom_forward(c.y, &ny, c.x, attn_mask_causal(attn_mask_i32(c.mask)), &c.p, 1, 20, 4,
                          NULL, &e) == ST_INVALID &&
              strcmp(e.msg, "nystrom: no causal variant: its landmarks average queries and keys "
                            "over the whole sequence, so every output would depend on later "
                            "tokens; use performer or a weight-level kind") == 0,
          "nystrom: %s", e.msg);
    CHECK(nystrom_forward(c.y, &ny, c.x, attn_mask_i32(c.mask), &c.p, 1, 20, 4, NULL, &e) == ST_OK,
          "%s", e.msg);
    nystrom_free(&ny);
    tu_case_free(&c);
}

int main(void) {
    exact_layer();
    lowrank_layer(0);
    lowrank_layer(1);
    refusals();
    return check_exit(NAME);
}
