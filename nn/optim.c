/* optim.c: AdamW (decoupled weight decay, bias correction; torch.optim.AdamW semantics)
 * and global-norm gradient clipping. The math is in optim.h:
 *     p <- p (1 - lr wd)
 *     m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
 *     p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Bias corrections (1 - b^t) are computed once per call in double; the per-element work is
 * in float, in the same order of operations as PyTorch 1.13's single-tensor AdamW. */
#include "nn/optim.h"

#include <math.h>
#include <stdio.h>

/* elementwise loops above this size are split across OpenMP threads (results do not depend
   on the split: every element is independent). */
#define OPTIM_PAR_MIN 65536

AdamWGroup adamw_group(float lr, float weight_decay) {
    AdamWGroup g;
    g.lr = lr;
    g.beta1 = 0.9f;
    g.beta2 = 0.999f;
    g.eps = 1e-8f;
    g.weight_decay = weight_decay;
    return g;
}

void optim_step_begin(OptimStep *s) { s->t++; }

void adamw_update(float *param, float *m, float *v, const float *grad, const AdamWGroup *g,
                  const OptimStep *s, size_t n) {
    double t = (double)(s->t >= 1 ? s->t : 1);
    double b1 = (double)g->beta1, b2 = (double)g->beta2;
    double bc1 = 1.0 - pow(b1, t);
    double bc2 = 1.0 - pow(b2, t);
    float step_size = (float)((double)g->lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float decay = (float)(1.0 - (double)g->lr * (double)g->weight_decay);
    float beta1 = g->beta1, beta2 = g->beta2, eps = g->eps;
    float one_m_b1 = 1.0f - beta1, one_m_b2 = 1.0f - beta2;
    long long nn = (long long)n;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (nn >= OPTIM_PAR_MIN)
#endif
    for (long long i = 0; i < nn; i++) {
        float gi = grad[i];
        float p = param[i] * decay;
        float mi = m[i] * beta1 + one_m_b1 * gi;
        float vi = v[i] * beta2 + one_m_b2 * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - step_size * (mi / denom);
    }
}

double grad_norm(const float *const *bufs, const size_t *counts, int nbufs) {
    double ss = 0.0;
    for (int b = 0; b < nbufs; b++) {
        const float *x = bufs[b];
        size_t n = counts[b];
        for (size_t i = 0; i < n; i++) ss += (double)x[i] * (double)x[i];
    }
    return sqrt(ss);
}

double grad_clip_norm(float *const *bufs, const size_t *counts, int nbufs, double max_norm) {
    double norm = grad_norm((const float *const *)bufs, counts, nbufs);
    if (!(max_norm > 0.0) || !isfinite(norm) || !(norm > max_norm)) return norm;
    float scale = (float)(max_norm / (norm + 1e-6));
    for (int b = 0; b < nbufs; b++) {
        float *x = bufs[b];
        size_t n = counts[b];
        for (size_t i = 0; i < n; i++) x[i] *= scale;
    }
    return norm;
}

/* the datasets of optim_adam_save: the first and second moments */
static const char *const adam_leaf[2] = {"m", "v"};

Status optim_adam_save(Store *st, const char *group, const float *m, const float *v, size_t n,
                       const OptimStep *step, Err *e) {
    const int64_t dims[1] = {(int64_t)n};
    const float *buf[2] = {m, v};
    char nm[256];
    Status s = ST_OK;
    for (int i = 0; i < 2 && !s; i++) {
        snprintf(nm, sizeof nm, "%s/%s", group, adam_leaf[i]);
        s = store_write(st, nm, DT_F32, buf[i], 1, dims, e);
    }
    return s ? s : store_set_attr_i64(st, group, "t", step->t, e);
}

Status optim_adam_load(Store *st, const char *group, float *m, float *v, size_t n,
                       OptimStep *step, Err *e) {
    const int64_t dims[1] = {(int64_t)n};
    float *buf[2] = {m, v};
    char nm[256];
    Status s = ST_OK;
    for (int i = 0; i < 2 && !s; i++) {
        snprintf(nm, sizeof nm, "%s/%s", group, adam_leaf[i]);
        s = store_read_finite(st, nm, DT_F32, buf[i], 1, dims, e);
    }
    if (!s) s = store_get_attr_i64(st, group, "t", &step->t, e);
    if (!s && step->t < 0) /* the bias corrections take beta^t */
        s = err_set(e, ST_FORMAT, "%s: %s: attribute 't': expected a step count >= 0, found %lld",
                    store_path(st), group, (long long)step->t);
    return s;
}
