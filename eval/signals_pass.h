/* signals_pass.h: the passes of one batch of a drrl-signals run (signals_run.h), on a shared
 * context: the full pass (keeps x_l(full) and the full head signals), the cheap pass at r_a
 * with every measured signal, and a plain pass at another rank. Each fills its inputs' KL and
 * per-input attention FLOPs in the result (row i = the set's input order[at + b]). Internal
 * to eval/signals_*.c. */
#ifndef DRRL_EVAL_SIGNALS_PASS_H
#define DRRL_EVAL_SIGNALS_PASS_H

#include "eval/signals_run.h"

typedef struct {
    Ranked *R;
    SigResult *res;
    SigSketch sk;
    /* first signal index of each family (per layer: + l; energy: + 3 l + side; dev: + l - 1;
       rho at each rank: + k) */
    int head_m, head_e, full_m, full_e, change, energy, sketch, dev, rho_in, rho_out, rn_mean,
        rn_std, length, kl_cheap, full_pq, random, change_all, energy_all, sketch_all, rho_in_r,
        rho_out_r;
    /* buffers, for up to max_B x max_N tokens */
    float *xfull;       /* (L + 1, max_B, max_N, C) layer inputs of the full pass, x_L last */
    float *side;        /* (max_B, max_N, C) the rank-r_b attention */
    float *work;        /* (max_N * max(dh, sketch w) + 2 C + K) */
    float *zfull;       /* (max_B, K) the full pass's logits */
    double *fro, *yn;   /* (max_B, nr) bounds; (max_B) exact output norms */
    int *rk;            /* (max_B) ranks of ranked_layer_each */
    AttnFlops *fl, *fl_side; /* (max_B) each: the pass's layer, the side computation */
    double *sec, *sec_side;  /* (max_B) each */
    const int32_t *order; /* (n) set index of each position of the length-sorted order */
    int at;             /* the batch's first position */
} SigCtx;

/* sig_pass_full, sig_pass_cheap, sig_pass_rank: after ranked_begin-ready ids and mask of B
   sequences of N tokens; k: the rank's index in the list (k >= 1 for sig_pass_rank). */
Status sig_pass_full(SigCtx *x, const int32_t *ids, const uint8_t *mask, int B, int N, Err *e);
Status sig_pass_cheap(SigCtx *x, const int32_t *ids, const uint8_t *mask, int B, int N, Err *e);
Status sig_pass_rank(SigCtx *x, const int32_t *ids, const uint8_t *mask, int B, int N, int k,
                     Err *e);

#endif
