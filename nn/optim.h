/* optim.h: AdamW with decoupled weight decay and bias correction (torch.optim.AdamW
 * semantics), a step counter shared by several parameter groups, and global-norm gradient
 * clipping (torch.nn.utils.clip_grad_norm_ semantics).
 *
 * One AdamW step at step count t (t = 1 on the first step), per element:
 *     p <- p - lr * wd * p                         (decoupled weight decay, on the old p)
 *     m <- b1 m + (1 - b1) g
 *     v <- b2 v + (1 - b2) g^2
 *     p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * which is p -= lr * mhat / (sqrt(vhat) + eps) with mhat = m / (1 - b1^t),
 * vhat = v / (1 - b2^t), written the way PyTorch 1.13 evaluates it.
 *
 * Usage per optimisation step:
 *     optim_step_begin(&step);                       // t += 1, once
 *     adamw_update(w, m_w, v_w, g_w, &decay_group, &step, n_w);
 *     adamw_update(b, m_b, v_b, g_b, &no_decay_group, &step, n_b);
 * so that every group sees the same t (the step count is saved in checkpoints). */
#ifndef DRRL_NN_OPTIM_H
#define DRRL_NN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/store.h"

/* OptimStep: steps taken so far; 0 before the first step. */
typedef struct {
    int64_t t;
} OptimStep;

/* AdamWGroup: hyper-parameters of one parameter group (the caller may change lr between
 * steps for a schedule). PyTorch defaults: beta1 0.9, beta2 0.999, eps 1e-8, wd 1e-2. */
typedef struct {
    float lr;
    float beta1;
    float beta2;
    float eps;
    float weight_decay; /* 0 for biases and layer norms */
} AdamWGroup;

/* adamw_group: a group with the given lr and weight decay and PyTorch's default betas
 * (0.9, 0.999) and eps 1e-8. */
AdamWGroup adamw_group(float lr, float weight_decay);

/* optim_step_begin: advance the shared step counter (t += 1); call once per step, before
 * the adamw_update calls of that step. */
void optim_step_begin(OptimStep *s);

/* adamw_update: one AdamW step of n parameters at step s->t (>= 1; t = 0 is treated as 1).
 * m and v are the first and second moment buffers (zero-initialised before step 1),
 * updated in place. Bias corrections are computed in double. */
void adamw_update(float *param /* (n) */, float *m /* (n) */, float *v /* (n) */,
                  const float *grad /* (n) */, const AdamWGroup *g, const OptimStep *s,
                  size_t n);

/* grad_clip_norm: global L2 norm (accumulated in double) over nbufs buffers
 * bufs[i] of counts[i] floats. If norm > max_norm, every buffer is scaled in place by
 * max_norm / (norm + 1e-6) (the coefficient torch.nn.utils.clip_grad_norm_ uses).
 * max_norm <= 0 only measures. A non-finite norm is returned without scaling (the caller
 * decides: skip the step). Returns the norm before clipping. */
double grad_clip_norm(float *const *bufs, const size_t *counts, int nbufs, double max_norm);

/* grad_norm: the same global L2 norm without clipping. */
double grad_norm(const float *const *bufs, const size_t *counts, int nbufs);

/* optim_adam_save: the AdamW state of n parameters in a checkpoint: datasets GROUP/m and
 * GROUP/v (n floats each) and the step count as attribute t of GROUP. */
Status optim_adam_save(Store *st, const char *group, const float *m /* (n) */,
                       const float *v /* (n) */, size_t n, const OptimStep *step, Err *e);
/* optim_adam_load: read what optim_adam_save wrote (the same n: ST_SHAPE otherwise; finite
   moments and a step count >= 0: ST_FORMAT otherwise). */
Status optim_adam_load(Store *st, const char *group, float *m /* (n) */, float *v /* (n) */,
                       size_t n, OptimStep *step, Err *e);

#endif
