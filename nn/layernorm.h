/* layernorm.h: layer normalisation over the last dimension C,
 * out = (x - mean) * rstd * w + b, rstd = 1 / sqrt(var + eps) (biased variance). */
#ifndef DRRL_NN_LAYERNORM_H
#define DRRL_NN_LAYERNORM_H

/* layernorm_forward: per row m; writes mean[m] and rstd[m] for backward (either may be
 * NULL when no backward follows). eps: 1e-12 for BERT, 1e-5 for torch default.
 * out may alias inp only if no backward follows (backward needs inp). */
void layernorm_forward(float *out /* (M, C) */, float *mean /* (M) or NULL */,
                       float *rstd /* (M) or NULL */, const float *inp /* (M, C) */,
                       const float *w /* (C) */, const float *b /* (C) */,
                       int M, int C, float eps);

/* layernorm_backward: ACCUMULATES into dinp (M, C), dw (C), db (C); dw/db may be NULL
 * (frozen parameters), dinp may be NULL. mean/rstd are the forward's caches. */
void layernorm_backward(float *dinp /* (M, C) or NULL */, float *dw /* (C) or NULL */,
                        float *db /* (C) or NULL */, const float *dout /* (M, C) */,
                        const float *inp /* (M, C) */, const float *w /* (C) */,
                        const float *mean /* (M) */, const float *rstd /* (M) */,
                        int M, int C);

#endif
