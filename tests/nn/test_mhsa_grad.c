/* test_mhsa_grad.c: the multi-head self-attention layer (nn/mhsa.h) against independent
 * naive double-precision code (B=2, N=5, C=12, H=3, padded keys in the second sequence):
 *   - mhsa_check, the parameter sizes, BERT names and buffer plans (training and inference);
 *   - forward vs a naive double forward (ref_linear + ref_attention of tests/ref.h);
 *   - backward vs central finite differences of the double forward (h = 1e-5) for every
 *     element of x and of all eight parameters; the key bias gradient is 0 in exact math;
 *   - the dK/dV rows of padded tokens are exactly 0, the accumulate (+=) convention, NULL
 *     parameter gradients, and mhsa_flops.
 *
 * Tolerances (GRAD_TOL, FWD_RTOL, FWD_ATOL) and their derivation: attn_grad_util.h, shared
 * with the attention block's test, test_attention_grad.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "nn/attention.h"
#include "nn/mhsa.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/nn/attn_grad_util.h"
#include "tests/ref.h"

/* ---------------------------------------------------------------- mhsa layer */

enum { T_X, T_WQ, T_BQ, T_WK, T_BK, T_WV, T_BV, T_WO, T_BO, T_COUNT };

typedef struct {
    int B, N, C, H;
    const uint8_t *mask;
    double *s;                /* (N) scratch of ref_attention */
    double *theta;            /* x then the 8 parameters, in MhsaParams order */
    size_t off[T_COUNT + 1];  /* offsets of each tensor in theta */
    double *g;                /* (B, N, C) upstream gradient */
    double *q, *k, *v, *a, *y; /* work (B, N, C) each */
} MhsaRef;

static double mhsa_ref_loss(MhsaRef *m) {
    int M = m->B * m->N, C = m->C;
    const double *t = m->theta;
    const double *x = t + m->off[T_X];
    ref_linear(m->q, x, t + m->off[T_WQ], t + m->off[T_BQ], M, C, C);
    ref_linear(m->k, x, t + m->off[T_WK], t + m->off[T_BK], M, C, C);
    ref_linear(m->v, x, t + m->off[T_WV], t + m->off[T_BV], M, C, C);
    ref_attention(m->a, NULL, m->q, m->k, m->v, m->mask, NULL, m->s, m->B, m->N, m->H, C / m->H);
    ref_linear(m->y, m->a, t + m->off[T_WO], t + m->off[T_BO], M, C, C);
    return ref_dot(m->y, m->g, (size_t)M * C);
}

/* mhsa_ref_loss_fd: mhsa_ref_loss through the FdLossFn signature of tests/fd.h */
static double mhsa_ref_loss_fd(void *ctx) { return mhsa_ref_loss(ctx); }

/* mhsa_ref_init: the reference for x (B, N, C), the parameters pbuf (np, MhsaParams order) and
   the upstream gradient dy (B, N, C), in double; psz the parameter sizes. Free with
   mhsa_ref_free. */
static void mhsa_ref_init(MhsaRef *m, const float *x, const float *pbuf, const float *dy,
                          const size_t *psz, size_t np, const uint8_t *mask8, double *srow,
                          int B, int N, int C, int H) {
    const size_t n = (size_t)B * N * C;
    MhsaRef z = {0};
    *m = z;
    m->B = B, m->N = N, m->C = C, m->H = H, m->mask = mask8, m->s = srow;
    m->off[0] = 0;
    m->off[1] = n;
    for (int i = 0; i < MHSA_NPARAMS; i++) m->off[i + 2] = m->off[i + 1] + psz[i];
    size_t nt = m->off[T_COUNT];
    m->theta = malloc(sizeof(double) * nt);
    ref_to_double(m->theta, x, n);
    ref_to_double(m->theta + n, pbuf, np);
    m->g = malloc(sizeof(double) * n);
    ref_to_double(m->g, dy, n);
    m->q = malloc(sizeof(double) * n), m->k = malloc(sizeof(double) * n);
    m->v = malloc(sizeof(double) * n), m->a = malloc(sizeof(double) * n);
    m->y = malloc(sizeof(double) * n);
}

static void mhsa_ref_free(MhsaRef *m) {
    free(m->theta), free(m->g), free(m->q), free(m->k), free(m->v), free(m->a);
    free(m->y);
}


/* The layer under test: sizes, its buffers (planned in one MemPlan, as a model would) and
   parameter views. */
typedef struct {
    int B, N, C, H;
    size_t n, np;                      /* B N C; parameter count */
    const int32_t *mask;               /* (B, N) keys, 1 = present */
    float *x, *y, *dx, *dy;            /* (B, N, C) each */
    float *pbuf, *gbuf;                /* (np) parameters, their gradients */
    MhsaActs acts;
    MhsaGradActs gacts;
    MhsaParams p, gp;
    MemPlan plan;
} MhsaCase;

/* check_mhsa_grads: every element of dx and of the eight parameter gradients against finite
   differences of the reference m; the key bias gradient is 0 in exact math */
static void check_mhsa_grads(MhsaRef *m, const MhsaCase *t) {
    const size_t n = t->n, nt = m->off[T_COUNT];
    double *fd = malloc(sizeof(double) * nt);
    fd_grad(fd, m->theta, nt, mhsa_ref_loss_fd, m);
    static const char *names[T_COUNT] = {"dx", "dwq", "dbq", "dwk", "dbk",
                                          "dwv", "dbv", "dwo", "dbo"};
    printf("mhsa B=%d N=%d C=%d H=%d worst scaled grad error:", t->B, t->N, t->C, t->H);
    for (int k = 0; k < T_COUNT; k++) {
        const float *got = k == T_X ? t->dx : t->gbuf + (m->off[k] - n);
        /* the key bias has a zero gradient: q_i . bk is the same for every key j and cancels
           in the softmax. Ours is a sum of dS rows (which sum to 0) in float, so compare it
           on the scale of the key weight gradient (same terms times x). */
        double floor =
            k == T_BK ? ref_max_abs(fd + m->off[T_WK], m->off[T_WK + 1] - m->off[T_WK]) : 0;
        double w = check_grad_floor(got, fd + m->off[k], m->off[k + 1] - m->off[k], floor,
                                    names[k]);
        printf(" %s %.1e", names[k], w);
    }
    printf("\n");
    CHECK(ref_max_abs(fd + m->off[T_BK], (size_t)t->C) < 1e-8,
          "key bias gradient is 0 in exact math");
    free(fd);
}

/* check_mhsa_accumulate: after one backward into zeroed gradients, a second doubles every
   gradient; with NULL parameter gradients the parameters are untouched and the input
   gradient is still computed */
static void check_mhsa_accumulate(MhsaCase *t) {
    const size_t n = t->n, np = t->np;
    const int B = t->B, N = t->N, C = t->C, H = t->H;
    float *dx = t->dx, *gbuf = t->gbuf;
    float *g1 = malloc(sizeof(float) * np), *dx1 = malloc(sizeof(float) * n);
    memcpy(g1, gbuf, sizeof(float) * np);
    memcpy(dx1, dx, sizeof(float) * n);
    mhsa_backward(dx, &t->gp, &t->gacts, t->dy, t->x, &t->acts, &t->p, B, N, C, H);
    int bad = count_not_doubled(dx, dx1, n) + count_not_doubled(gbuf, g1, np);
    CHECK(bad == 0, "mhsa backward accumulates: %d entries off", bad);
    memcpy(gbuf, g1, sizeof(float) * np);
    memset(dx, 0, sizeof(float) * n);
    mhsa_backward(dx, NULL, &t->gacts, t->dy, t->x, &t->acts, &t->p, B, N, C, H);
    CHECK(memcmp(gbuf, g1, sizeof(float) * np) == 0, "grads NULL: parameters untouched");
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += fabs(dx[i] - dx1[i]) > 1e-6 * fabs(dx1[i]) + 1e-12;
    CHECK(bad == 0, "grads NULL: input gradient still computed (%d off)", bad);
    free(g1), free(dx1);
}

/* check_mhsa_inference: an inference plan keeps no probabilities, and its forward gives the
   reference output y (B, N, C) */
static void check_mhsa_inference(const MhsaCase *t, const double *y) {
    const int B = t->B, N = t->N, C = t->C, H = t->H;
    Err e;
    MemPlan ip;
    mem_plan_init(&ip);
    MhsaActs ia;
    float *y2;
    mem_plan_f32(&ip, &y2, t->n, "y2");
    mhsa_plan(&ip, &ia, NULL, "mhsa-infer", B, N, C, H, attention_max_threads(), 0);
    CHECK(mem_plan_alloc(&ip, &e) == ST_OK, "inference plan alloc");
    if (ip.base) {
        CHECK(ia.att == NULL, "inference plan keeps no probabilities");
        mhsa_forward(y2, &ia, t->x, attn_mask_i32(t->mask), &t->p, B, N, C, H);
        check_fwd(y2, y, t->n, "mhsa out (inference)");
        mem_plan_free(&ip);
    }
}

/* mhsa_case_plan: the layer's buffers through a MemPlan (checked: sizes, assignment, the
   parameter views and their BERT names); 0 when the allocation failed */
static int mhsa_case_plan(MhsaCase *t, size_t *psz) {
    const int B = t->B, N = t->N, C = t->C, H = t->H;
    const size_t n = t->n;
    Err e;
    t->np = mhsa_param_sizes(psz, C);
    CHECK(t->np == 4 * (size_t)C * C + 4 * (size_t)C, "parameter count");
    /* (B, N, C) x, y, dx, dy; (np) parameters and their gradients; the layer's own */
    float **bufs[6] = {&t->x, &t->y, &t->dx, &t->dy, &t->pbuf, &t->gbuf};
    static const char *names[6] = {"x", "y", "dx", "dy", "params", "grads"};
    mem_plan_init(&t->plan);
    for (int i = 0; i < 6; i++) mem_plan_f32(&t->plan, bufs[i], i < 4 ? n : t->np, names[i]);
    mhsa_plan(&t->plan, &t->acts, &t->gacts, "mhsa", B, N, C, H, attention_max_threads(), 1);
    CHECK(mem_plan_alloc(&t->plan, &e) == ST_OK, "mem_plan_alloc: %s", e.msg);
    if (!t->plan.base) return 0;
    MhsaSizes sz = mhsa_buffer_sizes(B, N, C, H, attention_max_threads(), 1);
    CHECK(sz.att == (size_t)B * H * N * N && sz.q == n && sz.dq == n, "mhsa_buffer_sizes");
    CHECK(t->acts.att != NULL && t->gacts.dq != NULL && t->acts.scratch_len == sz.scratch,
          "mhsa_plan assigned the buffers");
    mhsa_params_point(&t->p, t->pbuf, C);
    mhsa_params_point(&t->gp, t->gbuf, C);
    CHECK(t->p.bo + C == t->pbuf + t->np, "mhsa_params_point covers the buffer");
    CHECK(strcmp(mhsa_param_names[0], "attention.self.query.weight") == 0 &&
              strcmp(mhsa_param_names[7], "attention.output.dense.bias") == 0,
          "BERT names");
    return 1;
}

static void test_mhsa(void) {
    const int B = 2, N = 5, C = 12, H = 3;
    Err e;
    CHECK(mhsa_check(B, N, C, H, &e) == ST_OK, "mhsa_check ok");
    CHECK(mhsa_check(B, N, 10, 3, &e) == ST_INVALID, "mhsa_check C %% H");
    CHECK(mhsa_check(0, N, C, H, &e) == ST_INVALID, "mhsa_check B = 0");

    int32_t mask[2 * 5] = {1, 1, 1, 1, 1, 1, 0, 1, 1, 0};
    uint8_t mask8[2 * 5];
    mask_to_u8(mask8, mask, (size_t)B * N);
    double srow[5]; /* (N) scratch of ref_attention */
    size_t psz[MHSA_NPARAMS];
    MhsaCase t = {.B = B, .N = N, .C = C, .H = H, .n = (size_t)B * N * C, .mask = mask};
    if (!mhsa_case_plan(&t, psz)) return;

    Rng r;
    rng_init(&r, 42, 3);
    fill_normal(&r, t.x, t.n, 1.0);
    fill_normal(&r, t.pbuf, t.np, 0.3); /* weights ~ 0.3: scores O(1), softmax not saturated */
    fill_normal(&r, t.dy, t.n, 1.0);

    mhsa_forward(t.y, &t.acts, t.x, attn_mask_i32(mask), &t.p, B, N, C, H);

    /* reference */
    MhsaRef m;
    mhsa_ref_init(&m, t.x, t.pbuf, t.dy, psz, t.np, mask8, srow, B, N, C, H);
    mhsa_ref_loss(&m);
    check_fwd(t.y, m.y, t.n, "mhsa out");

    /* backward (accumulating into zeroed gradients) vs finite differences */
    mhsa_backward(t.dx, &t.gp, &t.gacts, t.dy, t.x, &t.acts, &t.p, B, N, C, H);
    check_mhsa_grads(&m, &t);
    /* masked keys: the key/value projections' input gradient comes only through dK/dV,
       so dK and dV rows of padded tokens must be exactly 0 here too */
    int nz = count_masked_kv(t.gacts.dk, t.gacts.dv, mask, B, N, C);
    CHECK(nz == 0, "mhsa: %d nonzero dK/dV entries at padded tokens", nz);

    /* accumulate: a second backward doubles every gradient; NULL grads skip parameters */
    check_mhsa_accumulate(&t);
    /* inference plan: no att, forward gives the same output */
    check_mhsa_inference(&t, m.y);

    CHECK(mhsa_flops(B, N, C, H) == 4 * (2LL * B * N * C * C + (int64_t)B * N * C) +
                                       attention_flops(B, N, H, C / H),
          "mhsa_flops");

    mhsa_ref_free(&m);
    mem_plan_free(&t.plan);
}

int main(void) {
    test_mhsa();
    return check_exit("test_mhsa_grad");
}
