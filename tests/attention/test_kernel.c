/* test_kernel.c: every variant of the attention kernel (attention/kernel.h: the candidates of
 * the calibration and the default) against a double-precision reference written here
 * (softmax over the kept keys of scale q.k, times v, per head; a row without kept keys gives
 * 0), on the shapes that reach every path: N not a multiple of 32 nor of the key block, N
 * below one key block, several segments with different kq and kv, kv not a multiple of 16
 * (cblas values), kq above ATTN_KPACK (cblas scores), key masks with fully padded sequences;
 * counted FLOPs equal to the closed forms written out here (the flash variant's rescaling
 * per later key block included); padded keys irrelevant (bit-identical outputs when they
 * change); variant names round-trip; the tuning's lookup rule, its store round trip and a
 * small measurement (a valid choice per shape, deterministic given its timings: the chosen
 * one has the smallest median). Tolerance: max abs error 2e-5 on outputs of O(1) values. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/kernel.h"
#include "attention/tune.h"
#include "core/rng.h"
#include "tests/attention/util.h"
#include "tests/check.h"

#define NAME "test_kernel"

typedef struct {
    int rows, kq, kv, off; /* segment: query rows [off, off + rows) */
} Seg;

/* out (B, rows, H, kv) of one segment in double: the reference */
static void reference(double *out, const float *q, const float *k, const float *v,
                      const int32_t *mask, int B, int H, int N, int W, Seg sg, float scale) {
    double *p = malloc(sizeof(double) * N);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < sg.rows; i++) {
                const float *qi = q + ((size_t)b * N + sg.off + i) * H * W + (size_t)h * W;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < N; j++) {
                    const float *kj = k + ((size_t)b * N + j) * H * W + (size_t)h * W;
                    double s = 0;
                    for (int c = 0; c < sg.kq; c++) s += (double)qi[c] * kj[c];
                    p[j] = (double)scale * s;
                    if ((!mask || mask[b * N + j]) && p[j] > mx) mx = p[j];
                }
                for (int j = 0; j < N; j++) {
                    p[j] = (!mask || mask[b * N + j]) ? exp(p[j] - mx) : 0.0;
                    sum += p[j];
                }
                double *o = out + (((size_t)b * sg.rows + i) * H + h) * sg.kv;
                for (int c = 0; c < sg.kv; c++) {
                    double a = 0;
                    for (int j = 0; j < N; j++)
                        a += p[j] * v[((size_t)b * N + j) * H * W + (size_t)h * W + c];
                    o[c] = sum > 0 ? a / sum : 0.0;
                }
            }
    free(p);
}

/* the closed form of one segment: 2 m N kq + 2 m N kv + (3 + 24) m N + m kv, and for flash
   with key block kb, per row and each key block after the first, 1 + 1 + 24 + 2 + kv */
static AttnFlops closed(AttnVariant v, int64_t m, int64_t N, int64_t kq, int64_t kv) {
    AttnFlops f;
    attn_flops_zero(&f);
    f.scores = 2 * m * N * kq;
    f.values = 2 * m * N * kv;
    f.softmax = (1 + 1 + 24 + 1) * m * N + m * kv;
    if (v.kind == ATTN_VAR_FLASH) {
        int64_t blocks = 0;
        for (int64_t j = 0; j < N; j += v.block) blocks++;
        f.softmax += m * (blocks - 1) * (1 + 1 + 24 + 2 + kv);
    }
    return f;
}

/* one case: B sequences, H heads of width W, N keys, segments sg; every variant */
static void one_case(int B, int H, int N, int W, const Seg *sg, int nseg, int masked,
                     uint64_t seed) {
    Rng r;
    rng_init(&r, seed, 1);
    const size_t n = (size_t)B * N * H * W;
    float *q = malloc(sizeof(float) * n), *k = malloc(sizeof(float) * n);
    float *v = malloc(sizeof(float) * n), *o = malloc(sizeof(float) * n);
    float *o2 = malloc(sizeof(float) * n);
    int32_t *mask = malloc(sizeof(int32_t) * B * N);
    for (size_t i = 0; i < n; i++) {
        q[i] = (float)(1.5 * rng_normal(&r));
        k[i] = (float)rng_normal(&r);
        v[i] = (float)rng_normal(&r);
    }
    for (int b = 0; b < B; b++) {
        const int len = b == 1 ? 0 : N - (b * 29) % N; /* sequence 1: every key padded */
        for (int j = 0; j < N; j++) mask[b * N + j] = j < len;
    }
    const int32_t *mk = masked ? mask : NULL;
    double *ref[8];
    for (int s = 0; s < nseg; s++) {
        ref[s] = malloc(sizeof(double) * (size_t)B * sg[s].rows * H * sg[s].kv);
        reference(ref[s], q, k, v, mk, B, H, N, W, sg[s], 0.3f);
    }
    const size_t bs = (size_t)N * H * W;
    AttnSegment seg[8];
    for (int s = 0; s < nseg; s++)
        seg[s] = (AttnSegment){{q + (size_t)sg[s].off * H * W, bs, H * W, W},
                               {o + (size_t)sg[s].off * H * W, bs, H * W, W}, sg[s].rows,
                               sg[s].kq, sg[s].kv, 0};
    AttnView kv = {k, bs, H * W, W}, vv = {v, bs, H * W, W};
    const size_t len = attn_kernel_scratch_size(N, attn_kernel_threads());
    float *scratch = malloc(sizeof(float) * len);
    AttnMask am = masked ? attn_mask_i32(mask) : attn_mask_none();
    AttnVariant cand[ATTN_MAX_VARIANTS + 1];
    int nc = attn_variant_candidates(cand);
    cand[nc++] = (AttnVariant){ATTN_VAR_FLASH, 32, 8}; /* the smallest flash tiles */
    for (int c = 0; c < nc; c++) {
        char nm[64];
        attn_variant_name(cand[c], nm, sizeof nm);
        memset(o, 0, sizeof(float) * n);
        AttnFlops fl, want;
        attn_flops_zero(&fl);
        attn_flops_zero(&want);
        attn_kernel_forward_with(cand[c], seg, nseg, kv, vv, am, B, H, N, 0.3f, scratch, len, &fl);
        double worst = 0;
        for (int s = 0; s < nseg; s++) {
            for (int b = 0; b < B; b++)
                for (int i = 0; i < sg[s].rows; i++)
                    for (int h = 0; h < H; h++)
                        for (int t = 0; t < sg[s].kv; t++) {
                            const double got =
                                o[((size_t)b * N + sg[s].off + i) * H * W + (size_t)h * W + t];
                            const double want_v =
                                ref[s][(((size_t)b * sg[s].rows + i) * H + h) * sg[s].kv + t];
                            const double err = fabs(got - want_v);
                            worst = err > worst ? err : worst;
                        }
            AttnFlops one = closed(cand[c], (int64_t)B * H * sg[s].rows, N, sg[s].kq, sg[s].kv);
            attn_flops_add(&want, &one);
        }
        printf("%-16s B=%d H=%d N=%-4d W=%-3d segs=%d mask=%d: max abs err %.3g\n", nm, B, H, N, W,
               nseg, masked, worst);
        CHECK(worst < 2e-5, "%s N=%d: max abs err %g", nm, N, worst);
        CHECK(fl.scores == want.scores && fl.softmax == want.softmax && fl.values == want.values &&
                  fl.proj == 0 && fl.out == 0 && fl.factor == 0,
              "%s N=%d: flops scores %lld softmax %lld values %lld, closed form %lld %lld %lld", nm,
              N, (long long)fl.scores, (long long)fl.softmax, (long long)fl.values,
              (long long)want.scores, (long long)want.softmax, (long long)want.values);
        AttnFlops lib;
        attn_flops_zero(&lib);
        for (int s = 0; s < nseg; s++)
            attn_variant_flops(&lib, cand[c], (int64_t)B * H * sg[s].rows, N, sg[s].kq, sg[s].kv);
        CHECK(lib.softmax == want.softmax && lib.scores == want.scores, "%s: attn_variant_flops", nm);
        if (masked) { /* padded keys changed: real outputs bit-identical */
            memcpy(o2, o, sizeof(float) * n);
            for (int b = 0; b < B; b++)
                for (int j = 0; j < N; j++)
                    if (!mask[b * N + j])
                        for (int t = 0; t < H * W; t++) {
                            k[((size_t)b * N + j) * H * W + t] = (float)(50 * rng_normal(&r));
                            v[((size_t)b * N + j) * H * W + t] = (float)(50 * rng_normal(&r));
                        }
            attn_kernel_forward_with(cand[c], seg, nseg, kv, vv, am, B, H, N, 0.3f, scratch, len,
                                     NULL);
            CHECK(memcmp(o, o2, sizeof(float) * n) == 0, "%s: padded keys changed outputs", nm);
        }
    }
    for (int s = 0; s < nseg; s++) free(ref[s]);
    free(q), free(k), free(v), free(o), free(o2), free(mask), free(scratch);
}

static void names(void) {
    AttnVariant c[ATTN_MAX_VARIANTS];
    const int nc = attn_variant_candidates(c);
    CHECK(nc >= 3 && nc <= ATTN_MAX_VARIANTS, "candidates %d", nc);
    AttnVariant d = attn_variant_default();
    CHECK(c[0].kind == d.kind && c[0].block == d.block, "candidate 0 is not the default");
    for (int i = 0; i < nc; i++) {
        char nm[64];
        AttnVariant back;
        CHECK(attn_variant_valid(c[i]), "candidate %d invalid", i);
        CHECK(attn_variant_parse(attn_variant_name(c[i], nm, sizeof nm), &back) == 0 &&
                  back.kind == c[i].kind && back.block == c[i].block && back.rows == c[i].rows,
              "%s does not round-trip", nm);
    }
    AttnVariant v;
    CHECK(attn_variant_parse("flash:64x100", &v) != 0, "flash key block not a multiple of 32");
    CHECK(attn_variant_parse("tiled:", &v) != 0, "empty block accepted");
    CHECK(attn_variant_parse("fast:1", &v) != 0, "unknown kind accepted");
    CHECK(attn_kernel_rows(4096) == 32 && attn_kernel_rows(64) == 128 && attn_kernel_rows(1 << 20) == 8,
          "default rows %d %d %d", attn_kernel_rows(4096), attn_kernel_rows(64),
          attn_kernel_rows(1 << 20));
}

static int same(AttnVariant a, AttnVariant b) {
    return a.kind == b.kind && a.block == b.block && a.rows == b.rows;
}

static void tuning(void) {
    AttnTune t;
    memset(&t, 0, sizeof t);
    const int Ns[3] = {256, 1024, 4096}, ks[2] = {16, 64};
    AttnVariant c[ATTN_MAX_VARIANTS];
    const int nc = attn_variant_candidates(c);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            t.N[t.n] = Ns[i], t.k[t.n] = ks[j], t.v[t.n] = c[(i * 2 + j) % nc];
            t.sec[t.n] = t.sec_default[t.n] = 1e-3;
            t.n++;
        }
    /* lookup: nearest k in ratio (32 vs 16 and 64: a tie, the larger wins), smallest N >= */
    CHECK(same(attn_tune_lookup(&t, 1000, 64), t.v[3]), "N=1000 k=64: entry (1024, 64)");
    CHECK(same(attn_tune_lookup(&t, 1024, 16), t.v[2]), "N=1024 k=16: entry (1024, 16)");
    CHECK(same(attn_tune_lookup(&t, 99999, 60), t.v[5]), "beyond the largest N: (4096, 64)");
    CHECK(same(attn_tune_lookup(&t, 10, 32), t.v[1]), "k tie -> larger k: (256, 64)");
    CHECK(same(attn_tune_lookup(NULL, 10, 32), attn_variant_default()), "no tuning");
    /* store round trip */
    char dir[] = "/tmp/test_kernel_XXXXXX", path[512];
    Store *st = NULL;
    Err e;
    tu_tmp_store(&st, dir, path, sizeof path, "k.h5", TUNE_FORMAT, TUNE_VERSION);
    snprintf(t.cpu, sizeof t.cpu, "test cpu");
    snprintf(t.date, sizeof t.date, "2026-01-01T00:00:00Z");
    t.threads = 2, t.H = 4, t.B = 1;
    CHECK(attn_tune_save(st, TUNE_GROUP, &t, &e) == ST_OK, "%s", e.msg);
    CHECK(store_commit(st, &e) == ST_OK, "%s", e.msg);
    AttnTune back;
    CHECK(store_open(&st, path, TUNE_FORMAT, TUNE_VERSION, TUNE_VERSION, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_tune_load(st, TUNE_GROUP, &back, &e) == ST_OK, "%s", e.msg);
    AttnTune none;
    CHECK(attn_tune_load(st, "/nothing", &none, &e) == ST_MISSING, "missing group");
    store_close(st);
    CHECK(back.n == t.n && strcmp(back.cpu, t.cpu) == 0 && back.threads == 2, "round trip");
    for (int i = 0; i < t.n && i < back.n; i++)
        CHECK(back.N[i] == t.N[i] && back.k[i] == t.k[i] && back.v[i].block == t.v[i].block &&
                  back.v[i].kind == t.v[i].kind && back.v[i].rows == t.v[i].rows,
              "entry %d", i);
    tu_tmp_remove(path, dir);
    /* a measurement: a valid choice per shape, no slower than the default it was timed with */
    const int mN[2] = {100, 300}, mk[1] = {32};
    CHECK(attn_tune_measure(&t, mN, 2, mk, 1, 2, 1, 1, 3, 7, NULL, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(t.n == 2, "entries %d", t.n);
    for (int i = 0; i < t.n; i++)
        CHECK(attn_variant_valid(t.v[i]) && t.sec[i] > 0 && t.sec[i] <= t.sec_default[i] &&
                  t.N[i] == mN[i] && t.k[i] == 32,
              "entry %d: %g s vs default %g s", i, t.sec[i], t.sec_default[i]);
    CHECK(attn_tune_measure(&none, mN, 0, mk, 1, 2, 1, 1, 3, 7, NULL, NULL, &e) == ST_INVALID,
          "no shapes accepted");
    /* installed: attn_tune_pick follows it; NULL restores the default */
    attn_tune_use(&t);
    CHECK(same(attn_tune_pick(300, 32), t.v[1]), "pick");
    attn_tune_use(NULL);
    CHECK(attn_tune_current() == NULL && same(attn_tune_pick(300, 32), attn_variant_default()),
          "reset");
}

/* the per-machine cache: a tuning saved, merged with a second one (its shapes replace the
   same shapes, others kept), installed by attn_tune_cache_apply; off means off */
static void cache(void) {
    char dir[] = "/tmp/test_kernel_cache_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    setenv("DRRL_KERNEL_CACHE", dir, 1);
    AttnTune a, b;
    memset(&a, 0, sizeof a);
    attn_tune_cpu(a.cpu, sizeof a.cpu);
    a.threads = attn_kernel_threads(), a.H = 2, a.B = 1;
    snprintf(a.date, sizeof a.date, "x");
    a.n = 2;
    a.N[0] = 64, a.k[0] = 16, a.v[0] = (AttnVariant){ATTN_VAR_SGEMM, 131072, 0};
    a.N[1] = 128, a.k[1] = 16, a.v[1] = (AttnVariant){ATTN_VAR_FLASH, 128, 64};
    for (int i = 0; i < 2; i++) a.sec[i] = a.sec_default[i] = 1e-3;
    b = a;
    b.n = 2;
    b.N[0] = 128, b.v[0] = (AttnVariant){ATTN_VAR_TILED, 32768, 0};
    b.N[1] = 256, b.v[1] = (AttnVariant){ATTN_VAR_FLASH, 256, 32};
    Err e;
    CHECK(attn_tune_cache_save(&a, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_tune_cache_save(&b, &e) == ST_OK, "%s", e.msg);
    attn_tune_use(NULL);
    CHECK(attn_tune_cache_apply(stdout) == 1, "cache not applied");
    const AttnTune *t = attn_tune_current();
    CHECK(t && t->n == 3, "merged entries %d, expected 3", t ? t->n : -1);
    if (t && t->n == 3) {
        CHECK(same(attn_tune_lookup(t, 64, 16), a.v[0]), "kept (64, 16)");
        CHECK(same(attn_tune_lookup(t, 128, 16), b.v[0]), "replaced (128, 16)");
        CHECK(same(attn_tune_lookup(t, 256, 16), b.v[1]), "added (256, 16)");
    }
    char path[4096];
    CHECK(attn_tune_cache_path(path, sizeof path, attn_kernel_threads()) == 0, "path");
    /* another CPU's cache is not used */
    snprintf(b.cpu, sizeof b.cpu, "some other cpu");
    b.n = 1;
    CHECK(attn_tune_cache_save(&b, &e) == ST_OK, "%s", e.msg); /* replaces: cpu differs */
    attn_tune_use(NULL);
    CHECK(attn_tune_cache_apply(stdout) == 0 && attn_tune_current() == NULL,
          "another cpu's cache applied");
    unlink(path);
    rmdir(dir);
    setenv("DRRL_KERNEL_CACHE", "off", 1);
    CHECK(attn_tune_cache_path(path, sizeof path, 2) == -1, "off is not off");
    attn_tune_use(NULL);
}

int main(void) {
    names();
    cache();
    const Seg one64[1] = {{77, 64, 64, 0}};
    one_case(3, 2, 77, 64, one64, 1, 1, 1);
    const Seg one[1] = {{300, 64, 64, 0}};
    one_case(2, 2, 300, 64, one, 1, 0, 2);
    one_case(3, 2, 300, 64, one, 1, 1, 3);
    /* per-segment ranks: kq 16 / kv 16, kq 8 / kv 8 (cblas values), kq 33 / kv 24 */
    const Seg three[3] = {{100, 16, 16, 0}, {150, 8, 8, 100}, {50, 33, 24, 250}};
    one_case(3, 3, 300, 64, three, 3, 1, 4);
    /* a long N (several flash key blocks of every candidate) and kq above ATTN_KPACK */
    const Seg wide[1] = {{40, 160, 160, 0}};
    one_case(1, 1, 1100, 160, wide, 1, 0, 5);
    const Seg lng[1] = {{64, 32, 32, 0}};
    one_case(3, 2, 1100, 32, lng, 1, 1, 6);
    tuning();
    return check_exit(NAME);
}
