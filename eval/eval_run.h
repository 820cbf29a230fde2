/* eval_run.h: running drrl-eval's attention modes (eval/eval_modes.h) over a split.
 *
 * Batches: the split's sentences sorted by (length, row) and cut into batches of B, as the
 * policy saw length-bucketed batches in training (its observation includes the batch's
 * padded length).
 *
 * Decisions (eval_decide), weight-level modes only: each batch runs as episodes of the rank
 * environment (env/rankenv.h: rankenv_reset_rows, then one rankenv_step per layer), the
 * actions chosen by the policy (greedy, agent_act_greedy) or fixed by the mode (full: the
 * last action; static:r: r's grid index; random: its pre-drawn ranks). So every mode runs
 * the same per-sequence path (each sequence's attention alone at its own length and ranks,
 * ranked_layer_each), and the environment reports per (sentence, layer) the chosen ranks,
 * fidelity, bounds, guardrail mask share, full share and violations. The policy runs in an
 * environment with the trained guardrail, the fixed modes in unguarded ones (so a fixed rank
 * is never masked).
 *
 * full needs no decision: its ranks are RANKED_FULL everywhere and it runs no environment
 * pass (fidelity 1, error and bound 0 by definition).
 *
 * A causal decoder (model/lm.h) is evaluated the same way; its first timed round reduces each
 * row's per-position logits at once against the full mode's (eval/eval_lm.h), which runs
 * first in every batch.
 *
 * Timing (eval_time): the model's forward as a user runs it: per batch and mode,
 * ranked_begin, ranked_layer_each at the recorded ranks per layer, ranked_end; the policy
 * mode runs the deployed forward instead (pipeline/deploy.h: observation, guardrail and
 * policy network inside the timed pass, their time and FLOPs reported as the decision;
 * its ranks and logits are checked against the environment pass) (Nystrom / Performer: ranked_forward of each sequence alone,
 * B = 1 at its own length, so no padding either), on the monotonic clock; within it, the
 * attention kernels' own time (model/ranked.h attn_sec: every sequence's attention call of
 * every layer) is the mode's attention latency. In each of `reps`
 * rounds every batch runs every mode in turn (a noisy host slows all alike); a batch's time
 * is the median of its rounds. The first round's logits are the mode's outputs; its counted
 * FLOPs the mode's FLOPs:
 *     attention FLOPs  sum over layers and sequences of what the kernels executed (real rows)
 *     model FLOPs      attention + feed-forward on the real tokens + pooler and classifier:
 *                      the feed-forward count of a padded batch (B N tokens) is scaled to its
 *                      real tokens (it is linear in tokens), so that batched and per-sequence
 *                      modes compare. */
#ifndef DRRL_CMD_EVAL_RUN_H
#define DRRL_CMD_EVAL_RUN_H

#include <stdint.h>

#include "agent/ppo.h"
#include "core/progress.h"
#include "data/encode.h"
#include "env/rankenv.h"
#include "eval/eval_modes.h"
#include "pipeline/deploy.h"

typedef struct {
    int n, n_batches;
    int32_t *order;  /* (n) set rows, sorted by (length, row) */
    int32_t *start;  /* (n_batches + 1) batch k = order[start[k] .. start[k+1]) */
} EvalBatches;

typedef struct {
    Ranked *R;
    const EncodedSet *set;
    RankEnv *guarded;  /* the trained guardrail (policy) */
    RankEnv *white;    /* whitened, unguarded (full, static, random) */
    RankEnv *plain;    /* plain, unguarded (static-plain); NULL if unused */
    Agent *A;          /* the policy; NULL if unused */
    Deploy *deploy;    /* the policy's deployed forward over `guarded` (timed policy mode) */
    double epsilon;    /* the trained guardrail tolerance (over_eps) */
    int reps;          /* timed rounds */
    Progress *progress; /* counts sentences passed (each decision pass, each timed round and
                           mode); NULL: no progress lines */
    int part, parts;   /* this process runs the batches k with k % parts == part (core/dist.h:
                          its rank and the job's size; 0 and 1 alone) */
    float *lm_full;    /* a decoder: the full mode's logits (B, N, V) of the batch being timed
                          (eval_time; the full mode runs first in every batch) */
} EvalCtx;

/* eval_mine: batch k is this process's */
static inline int eval_mine(const EvalCtx *x, int k) { return k % x->parts == x->part; }

/* per-batch sums of the environment's info (eval_decide), added up in batch order by
   eval_decide_finish: fidelity, rel_err, bound, masked, full, lat, over_eps, then the rank of
   each layer */
#define EVAL_ACC (7 + BERT_MAX_LAYERS)

typedef struct {
    float *logits;         /* (n, K) by set row, from the first timed round */
    int64_t attn_flops, model_flops;
    double *sec;           /* (n_batches) seconds of each batch's forward (median of rounds) */
    double *attn_sec;      /* (n_batches) seconds of its attention kernels alone (median of
                              rounds; Ranked attn_sec summed over layers and sequences) */
    double *policy_sec;    /* (n_batches) seconds of the policy's forwards (policy mode; the
                              environment pass, then the timed deployed forward's median) */
    double *decision_sec;  /* (n_batches) seconds of the whole decision in the timed forward
                              (teacher, bounds, features, policy: pipeline/deploy.h; median) */
    double dec_sec[4];     /* teacher, bound, feature, policy seconds summed over the batches
                              of the first timed round */
    int64_t dec_fl[4];     /* their counted FLOPs (first round) */
    int64_t rank_diff;     /* (segment, layer) entries where the deployed forward's ranks
                              differ from the environment pass's (must be 0) */
    int decided;           /* 1: eval_decide ran (env_logits valid) */
    int32_t *rank;         /* (n, L, S) by set row: chosen rank per segment (RANKED_FULL: full);
                              weight-level modes */
    int env;               /* 1: decided through the rank environment */
    /* means over (sentence, layer) of the environment's info */
    double rank_layer[BERT_MAX_LAYERS]; /* mean rank per head of each layer (full = dh) */
    double fidelity, rel_err, bound, masked, full_share, lat_est;
    double over_eps;       /* share of (sentence, layer) whose bound exceeds the trained epsilon */
    int64_t violations;
    float *env_logits;     /* (n, K) the environment's pass (checks the timed replay); a
                              decoder's logits and env_logits are each row's LAST real
                              position's */
    double *lm;            /* (n, EVAL_LM_STATS) a decoder's per-row sums of the first timed
                              round against full (eval/eval_lm.h) */
    double replay_diff;    /* max |timed logits - environment logits| */
    double *batch_acc;     /* (n_batches, EVAL_ACC) the environment's sums per batch */
} EvalModeOut;

/* eval_batches_make / _free: length-sorted batches of up to B rows of set. */
Status eval_batches_make(EvalBatches *b, const EncodedSet *set, int B, Err *e);
void eval_batches_free(EvalBatches *b);

/* eval_out_init / _free: buffers of one mode's output (L layers, S action heads: the
   environment's segments, or (segment, head) pairs with env per_head). */
Status eval_out_init(EvalModeOut *o, int n, int K, int L, int S, int n_batches, Err *e);
void eval_out_free(EvalModeOut *o);

/* eval_random_ranks: the random mode's ranks (n, L, S): per layer, the ranks of `policy`
   (NULL: uniform draws over grid and full) on the real segments of the sentences that have g
   segments, shuffled among those slots (seeded Rng), for each g. So each layer keeps the
   policy's rank histogram and its mean rank per sentence (the mean over a sentence's
   segments, averaged over sentences) while the assignment to inputs is random. Other entries
   RANKED_FULL. P: action heads per segment (the environment's P: H per head, else 1); a
   sentence's real entries are its segments x P. */
Status eval_random_ranks(const EvalModeOut *policy, const EncodedSet *set, int L, int S, int T,
                         int P, const int *grid, int G, uint64_t seed, int32_t *out, Err *e);

/* eval_full_ranks: full's output without an environment pass: every rank RANKED_FULL, mean
   rank dh, fidelity 1, error, bound, mask and violations 0, full share 1. */
void eval_full_ranks(EvalModeOut *o, int n, int L, int S, int dh);

/* eval_decide: run mode m (weight-level) through its environment on this process's batches;
   random reads `assigned` (n, L, S). Fills o's rank, env_logits, batch_acc, violations and
   (policy) policy_sec of those batches; eval_merge(EVAL_DECIDED) then eval_decide_finish
   complete it. */
Status eval_decide(EvalCtx *x, const EvalBatches *bt, const EvalMode *m,
                   const int32_t *assigned, EvalModeOut *o, Err *e);
/* eval_decide_finish: the environment's means (rank_layer, fidelity .. over_eps) from
   batch_acc, added in batch order (so one process and several give the same bits). */
void eval_decide_finish(EvalModeOut *o, const EvalBatches *bt, int L);

/* eval_merge (eval_merge.c): every process's part of o, after the phase that computed it,
   on every process (core/dist.h; nothing to do alone): per-row and per-batch results by the
   exact merge (each batch's entries come from the process that ran it), counts summed.
   EVAL_DECIDED: rank, env_logits, batch_acc, policy_sec, violations and (probe rules) the
   decision's FLOPs and seconds; EVAL_TIMED: logits, sec, attn_sec, decision_sec, policy_sec,
   attention and model FLOPs, rank_diff, replay_diff (maximum) and (policy) the decision's
   parts. */
enum { EVAL_DECIDED, EVAL_TIMED };
Status eval_merge(const EvalCtx *x, const EvalBatches *bt, const EvalMode *m, EvalModeOut *o,
                  int n, int K, int L, int S, int phase, Err *e);

/* eval_time: the timed rounds over all modes (decided ones first through eval_decide) on
   this process's batches: fills their logits, FLOPs, sec, attn_sec and replay_diff (then
   eval_merge(EVAL_TIMED)). */
Status eval_time(EvalCtx *x, const EvalBatches *bt, const EvalMode *modes, EvalModeOut *outs,
                 int n_modes, Err *e);

#endif
