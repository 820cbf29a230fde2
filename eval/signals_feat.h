/* signals_feat.h: the per-sequence measurements behind drrl-signals' candidate signals, each
 * with its counted FLOPs (multiply-add = 2; a tanh, exp, log or sqrt counts 1). x_b is one
 * sequence's layer input: its n real rows (C floats each, contiguous).
 *
 *   head      the frozen classifier head on a hidden state's first row (the pooler and the
 *             classifier, the model's own weights): z = Wc tanh(Wp x_0 + bp) + bc;
 *             margin = |z1 - z0| (K = 2) or top-1 minus top-2 logit (K > 2), entropy =
 *             -sum_k p_k log p_k of p = softmax(z) (nn/logits.h's log-softmax). FLOPs
 *             2 C C + C + C (tanh) + 2 C K + K + 4 K (softmax, entropy, margin)
 *   relerr    ||a - b||_F / ||b||_F over the real rows (0 when both vanish): the change of a
 *             layer's attention between two ranks, the deviation of a hidden state from the
 *             full pass's. FLOPs 5 n C + 2
 *   rownorm   mean and std over the real rows of ||x_i|| / sqrt(C). FLOPs 2 n C + 4 n + 4
 *   energy    the share of the whitened input energy outside the kept subspace at rank r, per
 *             side S of the whitened factors (attention/factors.h: A query side, B key side,
 *             C value side, (H, C+1, dh) each): with x~ = [x, 1] and P = x~ S_h (n, dh),
 *                 share = sum_{i, h} sum_{k >= r} P_ik^2 / sum_{i, h} sum_k P_ik^2
 *             exact (all dh columns). FLOPs per side: H n dh (2 C + 3)
 *   sketch    the same share summed over the three sides, with the outside part sketched:
 *             S~_h = [S_h[:, :r] | S_h[:, r:] G_h / sqrt(k)], G_h (dh - r, k) iid N(0, 1)
 *             drawn once per layer, side and head (E ||x~ S_h[:, r:] G_h||^2 / k =
 *             ||x~ S_h[:, r:]||^2), share~ = sum outside~ / (sum kept + sum outside~).
 *             FLOPs per side: H n (r + k) (2 C + 3): (r + k) / dh of the exact one. */
#ifndef DRRL_EVAL_SIGNALS_FEAT_H
#define DRRL_EVAL_SIGNALS_FEAT_H

#include <stdint.h>

#include "attention/factors.h"
#include "core/err.h"
#include "model/bert.h"

/* sig_head: margin and entropy of the head on row x0 (C); work (2 C + K) floats. */
void sig_head(const Bert *m, const float *x0 /* (C) */, float *work, double *margin,
              double *entropy);
int64_t sig_head_flops(int C, int K);

/* sig_relerr: ||a - b|| / ||b|| over n rows of C (0 when both vanish, inf when only b does). */
double sig_relerr(const float *a, const float *b, int n, int C);
int64_t sig_relerr_flops(int n, int C);

/* sig_rownorm: mean and std of ||x_i|| / sqrt(C) over n >= 1 rows. */
void sig_rownorm(const float *x, int n, int C, double *mean, double *std);
int64_t sig_rownorm_flops(int n, int C);

/* sig_energy: the exact outside share at rank r of the three sides of f (out[0] A, out[1] B,
   out[2] C) for n rows x (n, C); work (n dh) floats. */
void sig_energy(const AttnFactors *f, const float *x, int n, int r, float *work, double out[3]);
int64_t sig_energy_flops(int n, int C, int H, int dh); /* per side */

/* SigSketch: the sketched factors of L layers at rank r with k columns. */
typedef struct {
    int L, C, H, dh, r, k, w; /* w = r + k */
    float *s;                 /* (L, 3, H, C+1, w) */
} SigSketch;

/* sig_sketch_init: draw G and form S~ for every layer of white (L); 1 <= r < dh, k >= 1. */
Status sig_sketch_init(SigSketch *sk, const AttnFactors *white, int L, int r, int k,
                       uint64_t seed, Err *e);
void sig_sketch_free(SigSketch *sk);
/* sig_sketch: the sketched share of layer l on n rows x; work (n w) floats. */
double sig_sketch(const SigSketch *sk, int l, const float *x, int n, float *work);
int64_t sig_sketch_flops(const SigSketch *sk, int n); /* all three sides */

#endif
