/* test_baselines.c: the static baselines attention/nystrom.h and attention/performer.h: their
 * outputs, masks, FLOPs and errors.
 *   reference   both layers against scripts/baselines_ref.py (float64 torch, straight from the
 *               formulas) on B=3, N=13, C=16, H=2, m=4: sequence 0 full, 1 with 10 real tokens
 *               (padding inside and at the end: segments of 2 and 3), 2 with 3 (< m) real
 *               tokens (the test writes inputs, weights and the Performer's features with
 *               core/store.h). Tolerance |ours - ref| <= 1e-4 |ref| + 1e-5 * max|ref| (as
 *               tests/nn/test_torch_ref): float32 layer outputs of O(1) sums are good to ~1e-6
 *               of their scale; the worst element measured uses 2-3% of this tolerance.
 *               Skipped with a printed reason when python3, torch or h5py is missing.
 *   masks       changing the padded tokens' inputs changes nothing at real positions (bitwise:
 *               padded keys enter only as exact zeros); an int32 and a uint8 mask agree
 *               bitwise; a padded sequence equals the same tokens run unpadded (rel 1e-5).
 *   flops       counted FLOPs equal the closed forms (written out again here) field by field.
 *   errors      sizes beyond the plan give ST_INVALID with a message.
 * How well they approximate exact attention: test_baselines_approx.c.
 * `test_baselines --bench` (not run by meson) times both at N=4096, C=512, H=8, m=64/128. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attention/baseline_layer.h"
#include "attention/nystrom.h"
#include "attention/performer.h"
#include "core/rng.h"
#include "core/store.h"
#include "core/timer.h"
#include "nn/mhsa.h"
#include "tests/attention/baselines_util.h"
#include "tests/attention/util.h"
#include "tests/check.h"
#include "tests/run.h"

#define NAME "test_baselines"

/* ---- helpers -------------------------------------------------------------------------- */

/* number of rows where a and b differ bitwise, among rows with keep != 0 */
static int rows_differ(const float *a, const float *b, const int32_t *keep, int rows, int C) {
    int n = 0;
    for (int i = 0; i < rows; i++)
        if (keep[i] && memcmp(a + (size_t)i * C, b + (size_t)i * C, (size_t)C * 4) != 0) n++;
    return n;
}

typedef enum { K_NYSTROM, K_PERFORMER } Kind;
static const char *kind_name[2] = {"nystrom", "performer"};

/* a layer of either kind behind one call */
typedef struct {
    Kind kind;
    NystromLayer ny;
    PerformerLayer pf;
} AnyLayer;

static Status any_init(AnyLayer *L, Kind kind, int B, int N, int C, int H, int m,
                       uint64_t seed, Err *e) {
    L->kind = kind;
    return kind == K_NYSTROM ? nystrom_init(&L->ny, B, N, C, H, m, e)
                             : performer_init(&L->pf, B, N, C, H, m, seed, e);
}
static void any_free(AnyLayer *L) {
    if (L->kind == K_NYSTROM) nystrom_free(&L->ny);
    else performer_free(&L->pf);
}
static Status any_forward(float *out, AnyLayer *L, const float *x, AttnMask mask,
                          const MhsaParams *p, int B, int N, int m, AttnFlops *f, Err *e) {
    return L->kind == K_NYSTROM ? nystrom_forward(out, &L->ny, x, mask, p, B, N, m, f, e)
                                : performer_forward(out, &L->pf, x, mask, p, B, N, m, f, e);
}

/* ---- reference (python) ------------------------------------------------------------- */

/* write the inputs file for baselines_ref.py */
static Status write_inputs(const char *path, const float *x, const int32_t *mask,
                           const MhsaParams *p, const float *w, int B, int N, int C, int H,
                           int m, Err *e) {
    Store *st = NULL;
    Status s = store_create(&st, path, "drrl-baselines-in", 1, e);
    if (s != ST_OK) return s;
    const char *an[5] = {"B", "N", "C", "H", "m"};
    int av[5] = {B, N, C, H, m};
    for (int i = 0; i < 5 && s == ST_OK; i++) s = store_set_attr_i64(st, "/", an[i], av[i], e);
    int64_t d3[3] = {B, N, C}, d2[2] = {B, N}, dw[2] = {m, C / H}, dcc[2] = {C, C}, dc[1] = {C};
    if (s == ST_OK) s = store_write(st, "/x", DT_F32, x, 3, d3, e);
    if (s == ST_OK) s = store_write(st, "/mask", DT_I32, mask, 2, d2, e);
    if (s == ST_OK) s = store_write(st, "/performer_w", DT_F32, w, 2, dw, e);
    const float *t[MHSA_NPARAMS] = {p->wq, p->bq, p->wk, p->bk, p->wv, p->bv, p->wo, p->bo};
    for (int i = 0; i < MHSA_NPARAMS && s == ST_OK; i++) {
        char name[128];
        snprintf(name, sizeof name, "/%s", mhsa_param_names[i]);
        for (char *c = name; *c; c++)
            if (*c == '.') *c = '/';
        s = i % 2 == 0 ? store_write(st, name, DT_F32, t[i], 2, dcc, e)
                       : store_write(st, name, DT_F32, t[i], 1, dc, e);
    }
    if (s != ST_OK) {
        store_abort(st);
        return s;
    }
    return store_commit(st, e);
}

/* compare ours with the float64 reference: |d| <= 1e-4 |ref| + 1e-5 max|ref| */
static void compare_ref(const float *ours, const double *ref, size_t n, const char *what) {
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)ours[i] - ref[i]), lim = 1e-4 * fabs(ref[i]) + 1e-5 * scale;
        worst = fmax(worst, err / lim);
        if (err > lim && bad++ < 5)
            CHECK(0, "%s[%zu]: ours %.9g, reference %.9g", what, i, (double)ours[i], ref[i]);
    }
    CHECK(bad == 0, "%s: %d of %zu elements outside tolerance", what, bad, n);
    printf("  %-10s vs reference: n=%zu scale %.3g worst err/tol %.3f\n", what, n, scale, worst);
}

static int test_reference(void) {
    printf("reference (scripts/baselines_ref.py):\n");
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (!root || !*root) {
        printf("  SKIPPED: DRRL_SOURCE_ROOT is not set (run via meson test)\n");
        return 0;
    }
    char *py = "/usr/bin/python3";
    if (access(py, X_OK) != 0) {
        printf("  SKIPPED: /usr/bin/python3 is not installed\n");
        return 0;
    }
    char *probe[] = {py, "-c", "import torch, h5py, numpy", NULL};
    if (run(probe, 1) != 0) {
        printf("  SKIPPED: /usr/bin/python3 cannot import torch, h5py and numpy (Debian: "
               "python3-torch python3-h5py python3-numpy)\n");
        return 0;
    }
    enum { B = 3, N = 13, C = 16, H = 2, M = 4 };
    Rng r;
    rng_init(&r, 404, 1);
    float x[B * N * C], y[B * N * C];
    int32_t mask[B * N];
    fill_normal(x, (size_t)B * N * C, 1.0, &r);
    for (int i = 0; i < B * N; i++) mask[i] = 1;
    mask[N + 3] = mask[N + 11] = mask[N + 12] = 0; /* sequence 1: 10 real tokens */
    for (int j = 3; j < N; j++) mask[2 * N + j] = 0; /* sequence 2: 3 real tokens, < m */
    Weights w;
    weights_init(&w, C, 0.3, 0.1, &r);
    AnyLayer ny, pf;
    Err e;
    err_clear(&e);
    CHECK(any_init(&ny, K_NYSTROM, B, N, C, H, M, 0, &e) == ST_OK, "%s", e.msg);
    CHECK(any_init(&pf, K_PERFORMER, B, N, C, H, M, 7, &e) == ST_OK, "%s", e.msg);

    char dir[] = "/tmp/drrl-baselines-XXXXXX", in[4200], out[4200], script[4096];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return 1;
    }
    snprintf(in, sizeof in, "%s/in.h5", dir);
    snprintf(out, sizeof out, "%s/ref.h5", dir);
    snprintf(script, sizeof script, "%s/scripts/baselines_ref.py", root);
    CHECK(write_inputs(in, x, mask, &w.p, pf.pf.feat.w, B, N, C, H, M, &e) == ST_OK, "%s",
          e.msg);
    char *cmd[] = {py, script, in, out, NULL};
    int rc = run(cmd, 0);
    CHECK(rc == 0, "%s %s %s %s exited with %d", py, script, in, out, rc);
    Store *st = NULL;
    if (rc == 0 && store_open(&st, out, "drrl-baselines-ref", 1, 1, &e) == ST_OK) {
        int64_t d3[3] = {B, N, C};
        double *ref = calloc((size_t)B * N * C, sizeof(double));
        AnyLayer *L[2] = {&ny, &pf};
        for (int k = 0; k < 2; k++) {
            err_clear(&e);
            char dn[32];
            snprintf(dn, sizeof dn, "/%s", kind_name[k]);
            Status s = store_read(st, dn, DT_F64, ref, 3, d3, &e);
            CHECK(s == ST_OK, "reading %s: %s", kind_name[k], e.msg);
            CHECK(any_forward(y, L[k], x, attn_mask_i32(mask), &w.p, B, N, M, NULL, &e) == ST_OK,
                  "%s", e.msg);
            if (s == ST_OK) compare_ref(y, ref, (size_t)B * N * C, kind_name[k]);
        }
        free(ref);
        store_close(st);
    } else {
        CHECK(rc != 0, "store_open %s: %s", out, e.msg);
    }
    if (check_failures) {
        printf("  files kept: %s, %s\n", in, out);
    } else {
        unlink(in), unlink(out), rmdir(dir);
    }
    any_free(&ny), any_free(&pf);
    free(w.buf);
    return 0;
}

/* ---- masks and FLOPs ---------------------------------------------------------------- */

/* independent closed forms (nystrom.h, performer.h) summed over sequences; E: one exp
   (nn/fastexp.h's count of fastexp_neg), S: one Nystrom probability (max, subtract, exp, sum,
   normalise) */
static void closed_form(AttnFlops *f, Kind kind, const int32_t *mask, int B, int N, int C,
                        int H, int m) {
    attn_flops_zero(f);
    const int64_t dh = C / H, E = FASTEXP_FLOPS, S = 1 + 1 + E + 1 + 1;
    for (int b = 0; b < B; b++) {
        int64_t n = 0;
        for (int j = 0; j < N; j++) n += mask[(size_t)b * N + j] != 0;
        f->proj += 6 * (int64_t)N * C * C + 3 * (int64_t)N * C;
        f->out += 2 * (int64_t)N * C * C + (int64_t)N * C;
        if (n == 0) continue;
        if (kind == K_NYSTROM) {
            const int64_t q = m < n ? m : n, q2 = q * q;
            f->factor += H * (2 * (n + q) * dh + 2 * q2 * dh + S * q2 + 3 * q2 + 48 * q2 * q +
                              18 * q2);
            f->scores += H * 4 * N * q * dh;
            f->softmax += H * 2 * S * N * q;
            f->values += H * (4 * N * q * dh + 2 * q2 * dh);
        } else {
            f->scores += H * 4 * (int64_t)N * m * dh;
            /* queries per row: norm 2 dh + 1, shift 1, per feature subtract, max, subtract,
               exp; D: dot 2 m, D > 0, 1 / D, dh scalings. Real keys per row: norm 2 dh + 1,
               per feature subtract, max, subtract, exp, sum; one shift per sequence */
            f->softmax += H * ((int64_t)N * (3 * dh + (5 + E) * m + 4) +
                               n * (2 * dh + 1 + (4 + E) * m) + 1);
            f->values += H * 4 * (int64_t)N * m * dh;
        }
    }
}

static void check_flops(const AttnFlops *got, const AttnFlops *want, const char *what) {
    const int64_t g[6] = {got->proj, got->factor, got->scores, got->softmax, got->values, got->out};
    const int64_t w[6] = {want->proj, want->factor, want->scores, want->softmax, want->values,
                          want->out};
    const char *nm[6] = {"proj", "factor", "scores", "softmax", "values", "out"};
    for (int i = 0; i < 6; i++)
        CHECK(g[i] == w[i], "%s flops.%s: counted %lld, closed form %lld", what, nm[i],
              (long long)g[i], (long long)w[i]);
}

static void test_masks_flops(Kind kind) {
    printf("%s: masks and FLOPs\n", kind_name[kind]);
    enum { B = 3, N = 40, C = 32, H = 4, M = 8 };
    Rng r;
    rng_init(&r, 77, (uint64_t)kind);
    const size_t n = (size_t)B * N * C;
    float *x = malloc(n * 4), *x2 = malloc(n * 4), *y = malloc(n * 4), *y2 = malloc(n * 4);
    int32_t mask[B * N];
    uint8_t mask8[B * N];
    fill_normal(x, n, 1.0, &r);
    /* sequence 0 full, 1: 27 real with a hole at 5 and padding from 28, 2: 3 real (< m) */
    for (int j = 0; j < N; j++) {
        mask[j] = 1;
        mask[N + j] = j < 28 && j != 5;
        mask[2 * N + j] = j < 3;
    }
    for (int i = 0; i < B * N; i++) mask8[i] = (uint8_t)mask[i];
    Weights w;
    weights_init(&w, C, 0.25, 0.1, &r);
    AnyLayer L;
    Err e;
    err_clear(&e);
    CHECK(any_init(&L, kind, B, N, C, H, M, 11, &e) == ST_OK, "%s", e.msg);

    AttnFlops f, want, lib, one;
    attn_flops_zero(&f);
    CHECK(any_forward(y, &L, x, attn_mask_i32(mask), &w.p, B, N, M, &f, &e) == ST_OK, "%s",
          e.msg);
    closed_form(&want, kind, mask, B, N, C, H, M);
    check_flops(&f, &want, kind_name[kind]);
    attn_flops_zero(&lib);
    for (int b = 0; b < B; b++) {
        int nr = 0;
        for (int j = 0; j < N; j++) nr += mask[b * N + j];
        one = kind == K_NYSTROM ? nystrom_flops(N, nr, C, H, M)
                                : performer_flops(N, nr, C, H, M);
        attn_flops_add(&lib, &one);
    }
    check_flops(&lib, &want, "library closed form");
    /* counters accumulate */
    CHECK(any_forward(y2, &L, x, attn_mask_i32(mask), &w.p, B, N, M, &f, &e) == ST_OK, "%s",
          e.msg);
    CHECK(attn_flops_total(&f) == 2 * attn_flops_total(&want), "flops accumulate: %lld vs %lld",
          (long long)attn_flops_total(&f), (long long)(2 * attn_flops_total(&want)));
    CHECK(memcmp(y, y2, n * 4) == 0, "two runs differ");
    printf("  counted FLOPs %lld (core %lld) = closed form\n", (long long)attn_flops_total(&want),
           (long long)(want.factor + want.scores + want.softmax + want.values));

    /* padded tokens' inputs changed (also to large values): real rows unchanged bitwise */
    memcpy(x2, x, n * 4);
    for (int i = 0; i < B * N; i++)
        if (!mask[i])
            for (int c = 0; c < C; c++) x2[(size_t)i * C + c] = (float)(30.0 * rng_normal(&r));
    CHECK(any_forward(y2, &L, x2, attn_mask_i32(mask), &w.p, B, N, M, NULL, &e) == ST_OK, "%s",
          e.msg);
    int d = rows_differ(y, y2, mask, B * N, C);
    CHECK(d == 0, "%d real rows changed when only padded inputs changed", d);
    /* uint8 mask == int32 mask */
    CHECK(any_forward(y2, &L, x, attn_mask_u8(mask8), &w.p, B, N, M, NULL, &e) == ST_OK, "%s",
          e.msg);
    CHECK(memcmp(y, y2, n * 4) == 0, "uint8 and int32 masks differ");
    /* no mask == all-ones mask (sequence 0 is full) */
    CHECK(any_forward(y2, &L, x, attn_mask_none(), &w.p, 1, N, M, NULL, &e) == ST_OK, "%s",
          e.msg);
    CHECK(memcmp(y, y2, (size_t)N * C * 4) == 0, "no mask and a full mask differ");

    /* sequence 1 padded == its real tokens alone, unpadded */
    int nr = 0;
    for (int j = 0; j < N; j++)
        if (mask[N + j]) memcpy(x2 + (size_t)nr++ * C, x + ((size_t)N + j) * C, (size_t)C * 4);
    CHECK(any_forward(y2, &L, x2, attn_mask_none(), &w.p, 1, nr, M, NULL, &e) == ST_OK, "%s",
          e.msg);
    float *yr = malloc((size_t)nr * C * 4);
    nr = 0;
    for (int j = 0; j < N; j++)
        if (mask[N + j]) memcpy(yr + (size_t)nr++ * C, y + ((size_t)N + j) * C, (size_t)C * 4);
    double re = tu_rel_err(yr, y2, (size_t)nr, C, NULL);
    CHECK(re <= 1e-5, "padded vs unpadded sequence: rel err %.3g > 1e-5", re);
    printf("  padded inputs changed: %d real rows differ; padded vs unpadded rel err %.2g\n", d,
           re);
    free(yr);
    any_free(&L);
    free(w.buf), free(x), free(x2), free(y), free(y2);
}

/* ---- errors -------------------------------------------------------------------------- */

static void test_errors(void) {
    printf("errors\n");
    enum { B = 2, N = 8, C = 8, H = 2 };
    float x[B * N * C] = {0}, y[B * N * C];
    Rng r;
    rng_init(&r, 1, 1);
    Weights w;
    weights_init(&w, C, 0.3, 0.1, &r);
    for (int k = 0; k < 2; k++) {
        AnyLayer L;
        Err e;
        err_clear(&e);
        CHECK(any_init(&L, (Kind)k, B, N, C, H, 4, 1, &e) == ST_OK, "%s", e.msg);
        Status s = any_forward(y, &L, x, attn_mask_none(), &w.p, B + 1, N, 4, NULL, &e);
        CHECK(s == ST_INVALID && strstr(e.msg, "B=3"), "B beyond plan: %d '%s'", s, e.msg);
        s = any_forward(y, &L, x, attn_mask_none(), &w.p, B, N + 1, 4, NULL, &e);
        CHECK(s == ST_INVALID && strstr(e.msg, "N=9"), "N beyond plan: %d '%s'", s, e.msg);
        s = any_forward(y, &L, x, attn_mask_none(), &w.p, B, N, 5, NULL, &e);
        CHECK(s == ST_INVALID && strstr(e.msg, "m=5"), "m beyond plan: %d '%s'", s, e.msg);
        printf("  %s: %s\n", kind_name[k], e.msg);
        any_free(&L);
        AnyLayer bad;
        CHECK(any_init(&bad, (Kind)k, B, N, C, 3, 4, 1, &e) == ST_INVALID, "H=3 of C=8 accepted");
        any_free(&bad);
    }
    free(w.buf);
}

/* ---- bench (not a test) -------------------------------------------------------------- */

/* process CPU seconds (all threads): with OMP_NUM_THREADS=1 a load-independent work measure */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bench(void) {
    enum { B = 1, N = 4096, C = 512, H = 8, REPS = 5 };
    Rng r;
    rng_init(&r, 2, 2);
    const size_t n = (size_t)B * N * C;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    int32_t *mask = malloc((size_t)B * N * 4);
    for (int j = 0; j < B * N; j++) mask[j] = 1;
    fill_normal(x, n, 1.0, &r);
    Weights w;
    weights_init(&w, C, 1.0 / sqrt((double)C), 0.02, &r);
    printf("bench: B=%d N=%d C=%d H=%d, median of %d runs (threads %d)\n", B, N, C, H, REPS,
           attention_max_threads());
    {
        double t[REPS];
        for (int i = 0; i < REPS; i++) {
            double t0 = time_now();
            exact_layer(y, NULL, x, mask, &w.p, B, N, C, H);
            t[i] = time_now() - t0;
        }
        printf("  exact (nn/mhsa, incl. buffer alloc)    %8.1f ms  %6.2f GFLOP\n", 1e3 * time_median(t, REPS),
               (double)mhsa_flops(B, N, C, H) * 1e-9);
    }
    {
        /* the four C x C projections alone: the floor under every layer time */
        float *q = malloc(n * 4), *k = malloc(n * 4), *v = malloc(n * 4);
        double t[REPS], c[REPS];
        for (int i = 0; i < REPS; i++) {
            double t0 = time_now(), c0 = cpu_now();
            baseline_project(q, k, v, x, &w.p, B * N, C);
            baseline_output(y, q, &w.p, B * N, C);
            t[i] = time_now() - t0, c[i] = cpu_now() - c0;
        }
        printf("  projections only (Q, K, V, output)     %8.1f ms (cpu %8.1f ms)  %6.2f GFLOP\n",
               1e3 * time_median(t, REPS), 1e3 * time_median(c, REPS),
               8.0 * B * N * (double)C * C * 1e-9);
        free(q), free(k), free(v);
    }
    const int ms[2] = {64, 128};
    for (int k = 0; k < 2; k++)
        for (int mi = 0; mi < 2; mi++) {
            AnyLayer L;
            Err e;
            err_clear(&e);
            if (any_init(&L, (Kind)k, B, N, C, H, ms[mi], 1, &e) != ST_OK) {
                printf("  %s: %s\n", kind_name[k], e.msg);
                continue;
            }
            double t[REPS], c[REPS];
            AttnFlops f;
            for (int i = 0; i < REPS; i++) {
                attn_flops_zero(&f);
                double t0 = time_now(), c0 = cpu_now();
                any_forward(y, &L, x, attn_mask_i32(mask), &w.p, B, N, ms[mi], &f, &e);
                t[i] = time_now() - t0, c[i] = cpu_now() - c0;
            }
            int64_t core = f.factor + f.scores + f.softmax + f.values;
            printf("  %-9s m=%-4d layer            %8.1f ms (cpu %8.1f ms)  %6.2f GFLOP (core "
                   "%.3f)\n", kind_name[k], ms[mi], 1e3 * time_median(t, REPS),
                   1e3 * time_median(c, REPS), (double)attn_flops_total(&f) * 1e-9,
                   (double)core * 1e-9);
            any_free(&L);
        }
    free(w.buf), free(x), free(y), free(mask);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench();
        return 0;
    }
    test_reference();
    test_masks_flops(K_NYSTROM);
    test_masks_flops(K_PERFORMER);
    test_errors();
    return check_exit(NAME);
}
