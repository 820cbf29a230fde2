/* factors_eval.h: one evaluation of drrl-factors: every sentence of an encoded set through
 * the ranked forward with all layers at one kernel and rank, compared with the full model's
 * output (agreement, KL(p_full || p_r), change of logit margin: eval/eval_stats.h's
 * eval_compare, on nn/logits.h's numerics), with counted FLOPs and, for
 * weight-level kinds, the perturbation bound of every layer against the measured relative
 * error of its attention output on the hidden states of that same pass. */
#ifndef DRRL_EVAL_FACTORS_EVAL_H
#define DRRL_EVAL_FACTORS_EVAL_H

#include <stdint.h>

#include "core/err.h"
#include "data/encode.h"
#include "model/ranked.h"

typedef struct {
    int n, n_labeled, correct, agree; /* sentences, labelled, correct, same prediction as full */
    double accuracy, agreement;       /* correct / n_labeled, agree / n */
    double kl;                        /* mean KL(p_full || p_r) in nats */
    double dmargin;                   /* mean |margin_r - margin_full|, margin = z[c*] - max
                                         of the other logits, c* the full model's prediction */
    int64_t attn_flops, model_flops;  /* counted over the whole set */
    long n_bound, violations;         /* (sequence, layer) pairs checked; measured > bound */
    double tight_median, rel_median;  /* median bound / measured, median measured rel. error */
    double seconds;                   /* wall time (bounds and teacher included) */
} EvalRow;

/* FullRef: the full model's outputs on the set. */
typedef struct {
    float *logits; /* (n, K) row i = sentence i */
} FullRef;

/* factors_eval: run spec (all layers) over s in batches of up to R->max_B length-sorted
   sentences, then compare its logits with ref's by eval_compare (eval/eval_stats.h; sums in
   set order). ref NULL: this is the full run, which fills out_ref (n, K) instead (agreement
   then 1, KL 0). with_bound: RANK_PLAIN / RANK_WHITENED only, tight bound per layer. */
Status factors_eval(Ranked *R, const EncodedSet *s, const RankSpec *spec, int with_bound,
                    const FullRef *ref, FullRef *out_ref, EvalRow *row, Err *e);

#endif
