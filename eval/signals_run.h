/* signals_run.h: a drrl-signals run: every input of a split through the ranked forward at
 * every uniform whitened rank of a list (all layers at r, each sequence alone: per-input
 * counted attention FLOPs, eval/factors_run.h's loading and calibration) and at full rank,
 * its KL(p_full || p_r) per rank (nn/logits.h), and the candidate signals, each with its own
 * counted FLOPs and measured seconds summed over the run.
 *
 * Passes per batch (length-sorted, as drrl-factors): the full pass (exact attention per
 * sequence; keeps every layer input x_l(full)), the CHEAP pass at r_a = the smallest rank of
 * the list with the signals below measured on its own layer inputs, then the other ranks.
 * Signals (L layers; layer l's input x_l; "after l" = x_{l+1}):
 *   head_margin_l, head_entropy_l   the classifier head (signals_feat.h) on row 0 after layer
 *                                   l of the cheap pass (deployable; needs the cheap pass to l)
 *   full_margin_l, full_entropy_l   the same on the full pass (reference, not deployable)
 *   change_l                        ||a_ra - a_rb|| / ||a_rb|| of layer l's attention on the
 *                                   cheap pass's input, r_b the second rank of the list
 *                                   (measured; cost: the rank-r_b attention, per sequence)
 *   energy_{q,k,v}_l                exact outside share at r_a of the whitened query, key and
 *                                   value sides on x_l (signals_feat.h)
 *   sketch_l                        the sketched share (k columns), all sides
 *   dev_l (l = 1..L)                ||x_l(cheap) - x_l(full)|| / ||x_l(full)|| (hindsight:
 *                                   needs the full pass)
 *   rho_in_l, rho_out_l             log10 of the tight bound (attention/bound.h) at r_a over
 *                                   ||x_l||_F (deployable) and over the exact attention
 *                                   output's norm (needs the exact attention: not deployable)
 *   rownorm_mean_l, rownorm_std_l   of ||x_i|| / sqrt(C) (env/rankenv_obs.c's features 37, 38)
 *   length                          real tokens
 *   kl_cheap                        KL at r_a (hindsight: the cheap and the full pass)
 *   full_pq                         p (1 - p) of the full model's top class (full pass)
 *   random                          uniform, seeded (sanity: share ~0)
 * and the layer aggregates change_all, energy_all, sketch_all (means over layers and sides),
 * rho_in_r<r>, rho_out_r<r> (mean over layers of log10 rho at each rank r of the list), whose
 * cost is the sum of their layers'.
 *
 * Per input also: the predicted class of every mode, the FLOPs outside attention, the cheap
 * pass's feature FLOPs, and (reps > 0) the measured time of every mode (signals_time.h). */
#ifndef DRRL_EVAL_SIGNALS_RUN_H
#define DRRL_EVAL_SIGNALS_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "eval/factors_run.h"
#include "eval/signals_feat.h"

#define SIG_MAX 320
#define SIG_MAX_RANKS 8

typedef struct {
    FactorsOptions fo;  /* model, split, cache, calibration, batch, ranks (increasing), over */
    int rows;           /* the first rows of the split (< 0: all) */
    int sketch_k;       /* columns of the energy sketch */
    uint64_t seed;      /* the sketch's and the random signal's draws */
    int min_tokens;     /* keep only the split's rows of at least this many tokens (0: all),
                           before taking the first rows */
    int reps;           /* timing repetitions of every mode per batch (0: no timing) */
} SignalsOptions;

typedef struct {
    char name[40];
    const char *family; /* head, head-full, change, energy, sketch, deviation, bound,
                           bound-exact, rownorm, length, hindsight, random */
    char needs[40];     /* what must have run before: "cheap pass, 2 layers", "full pass" */
    int deployable;
    int64_t flops;      /* own counted FLOPs summed over the inputs */
    double sec;         /* own measured seconds summed over the run */
} SigDef;

typedef struct {
    int n, L, nr, M;         /* inputs, layers, ranks, modes = nr + 1 (the last: full) */
    int ranks[SIG_MAX_RANKS];
    int32_t *row, *len, *label; /* (n) split row, real tokens, label (-1: none) */
    double *kl;              /* (n, M) KL(p_full || p_mode); full: 0 */
    int64_t *flops;          /* (n, M) counted attention FLOPs of each mode */
    int32_t *pred;           /* (n, M) predicted class of each mode */
    int64_t *rest;           /* (n) the forward's FLOPs outside attention (feed-forward, the
                                pooler and the classifier on real rows): model FLOPs of mode
                                m = flops(m) + rest */
    int64_t *feat;           /* (n) the cheap pass's deployable features: the head after every
                                layer and the row norms of every layer input */
    double *ms;              /* (n, M + 1) measured ms of each mode's plain pass, then of the
                                cheap pass with its features (signals_time.h); NaN: untimed */
    int reps;                /* timing repetitions (0: none) */
    int64_t fwd_flops;       /* the full model's forward over all inputs (attention, rest,
                                head; real rows) */
    double full_sec;         /* measured seconds of the full passes */
    int S;
    SigDef def[SIG_MAX];
    double *val;             /* (S, n) */
} SigResult;

/* signals_run: load (factors_load), calibrate or load the factors (factors_prepare), run every
   pass and fill res (zeroed by the caller; signals_result_free after any return). progress
   lines go to progress (NULL: none); info lines (model, factors) to info. */
Status signals_run(const SignalsOptions *o, SigResult *res, FILE *info, FILE *progress, Err *e);
void signals_result_free(SigResult *res);

/* signals_find: index of the signal named name, -1 if none. */
int signals_find(const SigResult *res, const char *name);

#endif
