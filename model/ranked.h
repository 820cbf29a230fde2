/* ranked.h: the frozen model's forward with each layer's self-attention computed by a chosen
 * kernel (exact, weight-level low-rank with plain or whitened factors and per-segment ranks,
 * activation-level, Nystrom, Performer), layer by layer, with every FLOP counted.
 *
 * The math is bert_forward's (model/bert.h, eval mode) with the attention sub-layer swapped:
 *     x0 = LN_e(tok[ids] + type[type_ids] + pos)                        ranked_begin
 *          (conv positions: LN_e(e + conv(mask * e)), e = tok[ids] + type[type_ids])
 *     per layer l:  a = ATTN_kind(x; mask)          (B, N, C)           ranked_layer
 *                   y = LN1(x + a);  x' = LN2(y + W2 gelu(W1 y + b1) + b2)
 *     pooled = tanh(Wp x_L[:, 0] + bp);  logits = Wc pooled + bc;  probs   ranked_end
 * so that a driver (the rank environment: one step = one layer, or one segment of T query
 * tokens of a layer) can choose each layer's kernel and ranks after looking at the layer's
 * input, and the rank-r output feeds the next layer. With every layer RANK_EXACT the logits
 * equal bert_forward's to float rounding (the attention core is attention/kernel.h's blocked
 * kernel instead of nn/attention.h's; everything else runs the same nn/ calls in the same
 * order).
 *
 * A pass:   ranked_begin(R, ids, type_ids, mask, B, N)
 *           for l in 0 .. L-1:
 *               ranked_input(R)            the layer's input x (B, N, C): state features
 *               ranked_teacher(R, e)       optional: exact attention on x (the teacher)
 *               ranked_bound(R, ...)       optional: perturbation bounds on x
 *               ranked_layer(R, &spec, e)  attention by spec's kernel, then the rest
 *               (or ranked_layer_each / ranked_teacher_each: each sequence alone at its own
 *                ranks, timed, for the rank environment)
 *               R->att, R->teacher         this layer's attention output and the teacher's:
 *               ranked_fidelity(...)       cosine / relative error per sequence (or segment)
 *           ranked_end(R)                  logits and probs (B, K)
 * ranked_forward does the whole pass with one RankSpec per layer.
 *
 * Weight-level kinds need factors: plain ones are computed by ranked_init (O(H d dh^2) per
 * layer), whitened ones by ranked_calibrate (model/ranked_calib.h), which may also replace the
 * plain ones by cached copies. Ranks of the weight-level kinds come from a grid fixed at init
 * (at most ATTN_MAX_RANKS, dh always included: rank dh is the full-rank factored path).
 *
 * FLOPs: attn_fl[l] holds what layer l's attention kernel executed in the last pass
 * (attention/flops.h, counted by the kernels), rest_fl[l] the rest of the layer from the
 * layers' own counts (linear_flops + linear_bias_flops of the feed-forward; elementwise work
 * uncounted, as bert_forward_flops), head_fl the pooler and classifier; ranked_model_flops
 * sums them. Teacher and bound work is counted apart (teacher_fl, bound_fl): it is the
 * environment's, not the model's.
 *
 * Memory: ranked_init plans every activation and kernel buffer once for up to max_B x max_N
 * tokens; one set of buffers serves all layers (one exact layer, one low-rank work area whose
 * packs are switched per layer, one activation-level, Nystrom and Performer layer); nothing
 * allocates in a pass. The frozen Bert is only read (its parameters): plan it with
 * bert_init(m, c, 1, 1, 0, e) to keep it small. A Ranked is about 300 KiB (embedded MemPlans):
 * keep it static, on the heap or on the main thread's stack. */
#ifndef DRRL_ENV_RANKED_H
#define DRRL_ENV_RANKED_H

#include <stddef.h>
#include <stdint.h>

#include "attention/activation.h"
#include "attention/bound.h"
#include "attention/exact.h"
#include "attention/factors.h"
#include "attention/flops.h"
#include "attention/lowrank.h"
#include "attention/nystrom.h"
#include "attention/performer.h"
#include "core/err.h"
#include "core/mem.h"
#include "model/bert.h"

typedef enum {
    RANK_EXACT = 0,      /* exact MHSA (attention/exact.h) */
    RANK_PLAIN = 1,      /* weight-level, plain SVD factors, grid rank r (per segment) */
    RANK_WHITENED = 2,   /* weight-level, whitened factors, grid rank r (per segment) */
    RANK_ACTIVATION = 3, /* activation-level logits of rank r, 1..dh (attention/activation.h) */
    RANK_NYSTROM = 4,    /* Nystromformer with m = rank landmarks, 1..max_m */
    RANK_PERFORMER = 5,  /* Performer FAVOR+ with m = rank features, 1..max_m */
} RankKind;
#define RANK_KINDS 6

/* rank_kind_name: "exact", "plain", "whitened", "activation", "nystrom", "performer". */
const char *rank_kind_name(RankKind k);

/* RankSpec: how one layer computes its attention. */
typedef struct {
    RankKind kind;
    int rank;            /* r (PLAIN, WHITENED: a grid rank; ACTIVATION: 1..dh) or m
                            (NYSTROM, PERFORMER); ignored by EXACT and when seg_rank is set */
    int T;               /* PLAIN / WHITENED only: segment length in query tokens, with
                            seg_rank; 0: one segment (the whole sequence) at `rank` */
    const int *seg_rank; /* ceil(N / T) grid ranks, segment s = query rows [s T, (s+1) T) */
    const int *head_rank; /* PLAIN / WHITENED only, with T >= 1 (instead of seg_rank): a grid
                             rank per segment and head, (ceil(N / T), H): head h of segment s at
                             head_rank[s H + h] (attention/lowrank.h attn_lowrank_forward_heads;
                             heads sharing each segment's rank give seg_rank's pass bit for
                             bit) */
} RankSpec;

/* rank_spec: {kind, rank, 0, NULL}, one rank for the whole layer. */
RankSpec rank_spec(RankKind kind, int rank);

/* RankedOptions: what ranked_init plans. */
typedef struct {
    int max_B, max_N;     /* largest batch and length (max_N <= bert_max_len: the model's
                             max_pos for learned positions, any length for conv) */
    const int *ranks;     /* weight-level rank grid (1..dh, distinct, any order); dh is added
                             when absent; NULL or n_ranks 0: {dh} only */
    int n_ranks;
    int max_m;            /* most Nystrom landmarks / Performer features; 0: neither planned */
    int activation;       /* 1: plan the activation-level kernel */
    int bounds;           /* 1: plan perturbation bounds (ranked_bound) for up to the grid */
    uint64_t performer_seed; /* the Performer features' draw */
} RankedOptions;

typedef struct {
    const Bert *m;        /* the frozen model (not owned) */
    int L, C, H, dh, F, K;
    int max_B, max_N, max_m, has_act, has_bounds;
    int n_ranks;
    int ranks[ATTN_MAX_RANKS]; /* the weight-level grid, increasing, last = dh */
    AttnFactors *plain;   /* (L) plain factors (ranked_init) */
    AttnFactors *white;   /* (L) whitened factors (ranked_calibrate; zero until then) */
    int whitened;         /* 1 once white[] holds factors */
    AttnLowrank *lr;      /* (2 L) packs of plain (l) and whitened (L + l) factors, planned for
                             1 x 1 tokens: they hold packs only */
    AttnLowrank lr_work;  /* the buffers every layer's low-rank forward uses */
    AttnLowrank lr_view;  /* lr_work's buffers with one layer's packs (see ranked.c) */
    BoundLayer *bl;       /* (2 L) bound norms of plain (l) and whitened (L + l) factors */
    BoundWork bw;
    AttnExact exact;
    /* sequence lanes: with nt >= 2 threads and max_B >= 2, the per-sequence passes
       (ranked_layer_each, ranked_teacher_each, ranked_attend_each) run their sequences
       concurrently, one thread each (dynamic schedule), lane t with its own exact layer and
       low-rank buffers planned for one sequence of max_N tokens; nt = 0: no lanes (serial) */
    int nt;
    AttnExact *lane_ex;   /* (nt) */
    AttnLowrank *lane_lr; /* (nt) buffers, as lr_work */
    AttnLowrank *lane_lv; /* (nt) views of lane_lr with one layer's packs, as lr_view */
    AttnActivation act;
    NystromLayer nys;
    PerformerLayer perf;
    /* activations (plan: one allocation) */
    int dec;              /* 1: the model is a causal decoder (model/lm.h): pre-LN layers, causal
                             masks in every kernel, logits per position */
    float *x;             /* (B, N, C) the current layer's input; its output after the layer
                             (decoder: the residual stream) */
    float *u;             /* (B, N, C) decoder: LN1(x), the current layer's attention input */
    float *ain;           /* the current layer's attention input: x (encoder) or u (decoder) */
    float *att;           /* (B, N, C) attention output of the last ranked_layer */
    float *teacher;       /* (B, N, C) exact attention on the input of layer teacher_layer */
    float *r;             /* (B, N, C) residual sums x + a, y + f */
    float *y;             /* (B, N, C) LN1 output */
    float *h;             /* (B, N, F) W1 y + b1, then gelu in place */
    float *f;             /* (B, N, C) W2 g + b2 */
    float *cls_in, *pre, *pooled; /* (B, C) */
    float *logits, *probs;        /* (B, K) of the last ranked_end; decoder: logits (B, N, V)
                                     per position, probs NULL (not computed) */
    uint8_t *mask;        /* (B, N) copy of the pass's key mask */
    int32_t *hrank;       /* (nt + 1, max_N H) one sequence's (segment, head) grid ranks per
                             lane, the last for the serial pass (ranked_layer_each_heads) */
    MemPlan plan;
    /* the pass */
    int B, N;
    int layer;            /* next layer ranked_layer runs (L after the last) */
    int teacher_layer;    /* layer whose input the teacher was computed on (-1: none) */
    AttnFlops attn_fl[BERT_MAX_LAYERS]; /* attention FLOPs of each layer of the pass */
    double attn_sec[BERT_MAX_LAYERS];   /* monotonic-clock seconds of each layer's attention
                                           kernel calls in the pass (ranked_layer,
                                           ranked_layer_each) */
    int64_t rest_fl[BERT_MAX_LAYERS];   /* feed-forward FLOPs of each layer */
    int64_t head_fl;      /* pooler + classifier */
    AttnFlops teacher_fl; /* teacher work of the pass (not part of the model's FLOPs) */
    int64_t bound_fl;     /* bound work of the pass (not part of the model's FLOPs) */
} Ranked;

/* ranked_init: plan everything for model m (not owned; must outlive R) with the options, and
   compute the plain factors of every layer. ST_INVALID on bad options. On failure nothing
   stays allocated (ranked_free is still safe). */
Status ranked_init(Ranked *R, const Bert *m, const RankedOptions *o, Err *e);
void ranked_free(Ranked *R);

/* ranked_set_factors: after the factors in R->plain / R->white changed (calibration, cache),
   re-pack the low-rank layers and re-prepare the bounds; whitened = 1 marks R->white valid. */
Status ranked_set_factors(Ranked *R, int whitened, Err *e);

/* ranked_begin: start a pass over B <= max_B sequences of N <= max_N tokens: embeddings and
   LN_e into R->x (layer 0's input). type_ids may be NULL (all 0); mask (B, N): 1 = real token
   (copied). Resets the FLOP counters. */
Status ranked_begin(Ranked *R, const int32_t *ids /* (B, N) */,
                    const int32_t *type_ids /* (B, N) or NULL */, const uint8_t *mask /* (B, N) */,
                    int B, int N, Err *e);

/* ranked_input: the current layer's input (B, N, C) (valid until the next ranked_layer). */
const float *ranked_input(const Ranked *R);

/* ranked_teacher: R->teacher = exact attention of the current layer on its input; counted in
   teacher_fl. */
Status ranked_teacher(Ranked *R, Err *e);

/* ranked_layer: the current layer with attention computed as spec says, into R->att, then
   the residual, LN1, feed-forward and LN2; its output becomes R->x; R->layer advances.
   ST_INVALID if no layer is left, the kind was not planned, whitened factors are missing, or
   a rank is out of range (the kernels' messages, prefixed with the layer). */
Status ranked_layer(Ranked *R, const RankSpec *spec, Err *e);

/* RANKED_FULL: in ranked_layer_each's rank grid, exact attention (any value <= 0). */
#define RANKED_FULL 0

/* ranked_segments: segments of a sequence of n rows with segment length T: ceil(n / T) for
   T > 0, 1 for T = 0 (one segment), 0 when n < 1. */
int ranked_segments(int n, int T);
/* ranked_seq_len: n_b = 1 + the last real (mask 1) position of sequence b of the pass (0 if
   none): the rows the per-sequence calls below run on. */
int ranked_seq_len(const Ranked *R, int b);

/* ranked_layer_each: the current layer with per-sequence ranks. rank (B, S), S =
   ranked_segments(N, T) of the pass's padded N: sequence b's segment s (query rows
   [s T, (s+1) T), T = 0: one segment) at grid rank rank[b S + s] of `kind` (RANK_PLAIN or
   RANK_WHITENED), RANKED_FULL (<= 0) meaning exact attention; entries of segments at or past
   ranked_segments(n_b, T) are ignored. Each sequence's attention runs ALONE (B = 1 on its
   first n_b rows, so its work and time are its own): the exact kernel when all its segments
   are full, else one segmented low-rank pass (attn_lowrank_forward) with full segments at
   rank dh (the factored full-rank path, exact to float rounding). Rows [n_b, N) of R->att
   are set to 0. Then the rest of the layer runs batched, as in ranked_layer. fl_seq (B) (may
   be NULL) receives each sequence's counted attention FLOPs (their sum is added to
   attn_fl[layer]); sec_seq (B) (may be NULL) the monotonic-clock seconds of each sequence's
   attention call. On real rows the result equals ranked_layer at the same rank to float
   rounding, not bit for bit (the GEMMs and the key loop see other shapes: at most 8.3e-7
   absolute on tests/env/test_rankenv_state.c's model); each sequence's attention is bit for
   bit that of a B = 1 ranked_layer pass of the sequence alone (same call). ST_INVALID as
   ranked_layer. */
Status ranked_layer_each(Ranked *R, RankKind kind, int T, const int *rank /* (B, S) */,
                         AttnFlops *fl_seq /* (B) or NULL */, double *sec_seq /* (B) or NULL */,
                         Err *e);

/* ranked_layer_each_heads: ranked_layer_each with a rank per segment AND head: rank
   (B, S, H), S = ranked_segments(N, T), head h of sequence b's segment s at rank
   rank[(b S + s) H + h] (a grid rank of kind, or RANKED_FULL). A sequence whose every head of
   every real segment is full runs the exact kernel; otherwise one attn_lowrank_forward_heads
   call (B = 1 on its first n_b rows, segments of T rows, T = 0: one segment of n_b rows) with
   full heads at rank dh. Its counted FLOPs are attn_lowrank_flops_heads(1, n_b, C, H, T or
   n_b, ranks, causal, variant) (or, when every segment's heads share a rank, the per-segment
   closed form of attn_lowrank_forward, which it then calls): when each segment's heads share
   one rank, sequence b's attention is ranked_layer_each's at those segment ranks, bit for
   bit. fl_seq, sec_seq, errors as ranked_layer_each. */
Status ranked_layer_each_heads(Ranked *R, RankKind kind, int T, const int *rank /* (B, S, H) */,
                               AttnFlops *fl_seq /* (B) or NULL */,
                               double *sec_seq /* (B) or NULL */, Err *e);

/* ranked_teacher_each: the teacher per sequence, as ranked_layer_each runs its full
   sequences (exact kernel, B = 1, first n_b rows; rows [n_b, N) of R->teacher set to 0), so
   an all-full ranked_layer_each reproduces it bit for bit; fl_seq, sec_seq (B) (may be NULL)
   as there (the live latency's denominator). Counted in teacher_fl. */
Status ranked_teacher_each(Ranked *R, AttnFlops *fl_seq /* (B) or NULL */,
                           double *sec_seq /* (B) or NULL */, Err *e);


/* ranked_end: pooler, classifier and softmax after the last layer: R->logits, R->probs
   (B, K). ST_INVALID if layers remain. */
Status ranked_end(Ranked *R, Err *e);

/* ranked_forward: a whole pass with spec[l] for layer l. */
Status ranked_forward(Ranked *R, const int32_t *ids, const int32_t *type_ids,
                      const uint8_t *mask, int B, int N, const RankSpec *spec /* (L) */, Err *e);

/* ranked_fidelity: per sequence b, over the real query rows i in [i0, i1) (a segment; 0, N
   for the whole sequence): cos[b] = <A_b, T_b> / (|A_b| |T_b|) and rel[b] = |A_b - T_b| /
   |T_b| (Frobenius) of R->att against R->teacher (1 and 0 when both vanish). Either output
   may be NULL. Valid after ranked_teacher and ranked_layer of the same layer. */
void ranked_fidelity(const Ranked *R, int i0, int i1, double *cos /* (B) */,
                     double *rel /* (B) */);

/* ranked_bound: perturbation bounds (attention/bound.h) of the current layer's input for the
   weight-level factors of `kind` (RANK_PLAIN or RANK_WHITENED) at ranks[0..n) (n <= grid
   size + 1), into out (as bound_compute); counted in bound_fl. Needs options.bounds. */
Status ranked_bound(Ranked *R, RankKind kind, BoundKind bk, const int *ranks, int n,
                    BoundOut *out, Err *e);

/* ranked_attn_flops: sum of attn_fl over the layers of the pass (total FLOPs). */
int64_t ranked_attn_flops(const Ranked *R);
/* ranked_attn_seconds: sum of attn_sec over the layers of the pass: the measured latency of
   the pass's attention alone. */
double ranked_attn_seconds(const Ranked *R);
/* ranked_model_flops: attention + rest of every layer + head of the pass. */
int64_t ranked_model_flops(const Ranked *R);

/* ranked_attend_each: a side computation on the current layer's input: the attention of each
   sequence alone, exactly as ranked_layer_each runs it with every segment at grid rank `rank`
   of `kind` (RANK_PLAIN or RANK_WHITENED; RANKED_FULL (<= 0): the exact kernel), into out
   (B, N, C) (rows [n_b, N) set to 0; out must not be R->x). Nothing of the pass changes: not
   the layer, R->x, R->att nor attn_fl / attn_sec (a signal's work, not the model's: drrl-
   signals' change of a layer's attention between two ranks). Sequence b's rows are bit for
   bit those R->att receives from ranked_layer_each at the same rank (same call). fl_seq,
   sec_seq (B) (may be NULL) as there. ST_INVALID as ranked_layer_each. */
Status ranked_attend_each(Ranked *R, RankKind kind, int rank, float *out /* (B, N, C) */,
                          AttnFlops *fl_seq /* (B) or NULL */, double *sec_seq /* (B) or NULL */,
                          Err *e);

#endif
