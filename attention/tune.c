/* tune.c: measuring which kernel variant is fastest per shape, installing a tuning and
 * picking from it (tune.h has the rules). */
#include "attention/tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/timer.h"

#define TUNE_RNG_STREAM 0x54554e45ull /* "TUNE" */

static AttnTune g_tune;
static int g_have, g_tried; /* a tuning installed; installed or the cache tried */

void attn_tune_use(const AttnTune *t) {
    g_tried = 1;
    g_have = t != NULL && t->n > 0;
    if (g_have) g_tune = *t;
}

const AttnTune *attn_tune_current(void) {
    if (!g_tried) {
        g_tried = 1;
        attn_tune_cache_apply(NULL);
    }
    return g_have ? &g_tune : NULL;
}

AttnVariant attn_tune_lookup(const AttnTune *t, int N, int kq) {
    if (!t || t->n < 1) return attn_variant_default();
    /* the nearest k in ratio (ties: the larger) */
    int kbest = -1;
    double dbest = INFINITY;
    for (int i = 0; i < t->n; i++) {
        const double dist = fabs(log((double)t->k[i] / (double)(kq > 0 ? kq : 1)));
        if (dist < dbest - 1e-12 || (fabs(dist - dbest) <= 1e-12 && t->k[i] > kbest))
            dbest = dist, kbest = t->k[i];
    }
    /* among its entries: the smallest N >= the call's N, else the largest */
    int above = -1, largest = -1;
    for (int i = 0; i < t->n; i++) {
        if (t->k[i] != kbest) continue;
        if (t->N[i] >= N && (above < 0 || t->N[i] < t->N[above])) above = i;
        if (largest < 0 || t->N[i] > t->N[largest]) largest = i;
    }
    return t->v[above >= 0 ? above : largest];
}

AttnVariant attn_tune_pick(int N, int kq) {
    return attn_tune_lookup(attn_tune_current(), N, kq);
}

void attn_tune_cpu(char *buf, size_t cap) {
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        size_t n = strcspn(v, "\r\n");
        if (n >= cap) n = cap - 1;
        memcpy(buf, v, n);
        buf[n] = '\0';
        break;
    }
    fclose(f);
}

void attn_tune_print(FILE *f, const AttnTune *t) {
    if (!t || t->n < 1) {
        fprintf(f, "kernels: default variant everywhere (not calibrated)\n");
        return;
    }
    fprintf(f, "kernels chosen on %s, %d threads, %s (H=%d, B=%d):\n", t->cpu, t->threads,
            t->date, t->H, t->B);
    for (int i = 0; i < t->n; i++) {
        char nm[64];
        fprintf(f, "  N=%-6d k=%-4d %-14s %10.3f ms (default %10.3f ms, %.2fx)\n", t->N[i],
                t->k[i], attn_variant_name(t->v[i], nm, sizeof nm), 1e3 * t->sec[i],
                1e3 * t->sec_default[i], t->sec_default[i] / t->sec[i]);
    }
}

/* Shape: the buffers of one timed shape: q, k, v (B, N, H k), out (B, N, H k), scratch */
typedef struct {
    float *q, *k, *v, *o, *scratch;
    size_t scratch_len;
} Shape;

static Status shape_init(Shape *s, int B, int N, int H, int k, Rng *r, Err *e) {
    const size_t n = (size_t)B * N * H * k;
    s->scratch_len = attn_kernel_scratch_size(N, attn_kernel_threads());
    s->q = malloc(sizeof(float) * n);
    s->k = malloc(sizeof(float) * n);
    s->v = malloc(sizeof(float) * n);
    s->o = malloc(sizeof(float) * n);
    s->scratch = malloc(sizeof(float) * s->scratch_len);
    if (!s->q || !s->k || !s->v || !s->o || !s->scratch)
        return err_set(e, ST_NOMEM, "attn_tune_measure: out of memory for N = %d, k = %d", N, k);
    for (size_t i = 0; i < n; i++) {
        s->q[i] = (float)rng_normal(r);
        s->k[i] = (float)rng_normal(r);
        s->v[i] = (float)rng_normal(r);
    }
    return ST_OK;
}

static void shape_free(Shape *s) {
    free(s->q), free(s->k), free(s->v), free(s->o), free(s->scratch);
    memset(s, 0, sizeof *s);
}

/* one forward of variant v on the shape; its seconds */
static double run(const Shape *s, AttnVariant v, int B, int N, int H, int k) {
    const size_t bs = (size_t)N * H * k;
    const int ld = H * k;
    AttnSegment seg = {{s->q, bs, ld, k}, {s->o, bs, ld, k}, N, k, k, 0};
    AttnView kv = {s->k, bs, ld, k}, vv = {s->v, bs, ld, k};
    const double t0 = time_now();
    attn_kernel_forward_with(v, &seg, 1, kv, vv, attn_mask_none(), B, H, N,
                             1.0f / sqrtf((float)k), s->scratch, s->scratch_len, NULL);
    return time_now() - t0;
}

/* measure_shape: entry i of t at (N, k): every candidate warmed up, the slow ones pruned,
   then reps alternating rounds; times (ATTN_MAX_VARIANTS * reps) */
static void measure_shape(AttnTune *t, int i, const Shape *s, int N, int k, int warmup, int reps,
                          double *times) {
    AttnVariant c[ATTN_MAX_VARIANTS];
    const int nc = attn_variant_candidates(c);
    double first[ATTN_MAX_VARIANTS], best_first = INFINITY;
    for (int j = 0; j < nc; j++) {
        first[j] = INFINITY;
        for (int w = 0; w < warmup; w++) {
            const double x = run(s, c[j], t->B, N, t->H, k);
            first[j] = x < first[j] ? x : first[j];
        }
        best_first = first[j] < best_first ? first[j] : best_first;
    }
    int live[ATTN_MAX_VARIANTS];
    for (int j = 0; j < nc; j++)
        live[j] = j == 0 || warmup == 0 || first[j] <= TUNE_PRUNE * best_first;
    for (int rep = 0; rep < reps; rep++)
        for (int j = 0; j < nc; j++)
            if (live[j]) times[(size_t)j * reps + rep] = run(s, c[j], t->B, N, t->H, k);
    int best = 0;
    double med[ATTN_MAX_VARIANTS];
    for (int j = 0; j < ATTN_MAX_VARIANTS; j++)
        med[j] = j < nc && live[j] ? time_median(times + (size_t)j * reps, reps) : INFINITY;
    for (int j = 1; j < nc; j++)
        if (med[j] < med[best]) best = j;
    t->N[i] = N;
    t->k[i] = k;
    t->v[i] = c[best];
    t->sec[i] = med[best];
    t->sec_default[i] = med[0]; /* candidate 0 is the default variant */
}

Status attn_tune_measure(AttnTune *t, const int *Ns, int nN, const int *ks, int nk, int H,
                         int B, int warmup, int reps, uint64_t seed, TuneProgress progress,
                         void *ctx, Err *e) {
    memset(t, 0, sizeof *t);
    if (nN < 1 || nk < 1 || nN * nk > TUNE_MAX || H < 1 || B < 1 || warmup < 0 || reps < 1)
        return err_set(e, ST_INVALID, "attn_tune_measure: expected 1 <= shapes <= %d, H, B, reps "
                       ">= 1 and warmup >= 0, found %d x %d shapes, H=%d B=%d warmup=%d reps=%d",
                       TUNE_MAX, nN, nk, H, B, warmup, reps);
    for (int i = 0; i < nN; i++)
        if (Ns[i] < 1) return err_set(e, ST_INVALID, "attn_tune_measure: expected N >= 1, found %d", Ns[i]);
    for (int j = 0; j < nk; j++)
        if (ks[j] < 1 || ks[j] > 4 * ATTN_KPACK)
            return err_set(e, ST_INVALID, "attn_tune_measure: expected 1 <= k <= %d, found %d",
                           4 * ATTN_KPACK, ks[j]);
    t->H = H, t->B = B;
    attn_tune_cpu(t->cpu, sizeof t->cpu);
    t->threads = attn_kernel_threads();
    time_utc_iso(t->date, sizeof t->date);
    double *times = malloc(sizeof(double) * ATTN_MAX_VARIANTS * (size_t)reps);
    if (!times) return err_set(e, ST_NOMEM, "attn_tune_measure: out of memory");
    Rng r;
    rng_init(&r, seed, TUNE_RNG_STREAM);
    Status s = ST_OK;
    for (int i = 0; i < nN && !s; i++)
        for (int j = 0; j < nk && !s; j++) {
            Shape sh;
            memset(&sh, 0, sizeof sh);
            s = shape_init(&sh, B, Ns[i], H, ks[j], &r, e);
            if (!s) {
                measure_shape(t, t->n, &sh, Ns[i], ks[j], warmup, reps, times);
                t->n++;
                if (progress) progress(ctx, t, t->n - 1);
            }
            shape_free(&sh);
        }
    free(times);
    return s;
}
