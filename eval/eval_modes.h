/* eval_modes.h: the attention modes drrl-eval compares, and their --modes syntax.
 *
 *   full             exact attention in every layer (the reference of every comparison)
 *   static:r         every layer at whitened grid rank r (r must be in the policy's grid)
 *   static:r0/r1/..  one rank per layer (grid ranks or full, as many as the model has
 *                    layers), e.g. static:32/8: a static per-layer allocation; static-plain too
 *   static:A+B+..    per-layer lists joined by '+' (at most EVAL_MAX_PARTS): a static
 *                    allocation by layer and position; a row of n segments runs segment s at
 *                    part floor(s k / n) of the k parts (static:16/8+8/8: the first half of
 *                    each row's segments at 16/8, the rest at 8/8); static-plain too
 *   static:a.b.c/..  one rank per head in a layer's entry (heads joined by '.', as many as
 *                    the model has; a layer without '.' runs every head at its rank), e.g.
 *                    static:16.8.16.16/8/16/16: needs a per-head checkpoint (env.per_head),
 *                    whose environment runs a rank per (segment, head); not with '+'
 *   static-plain:r   the same with plain (unwhitened) factors; r = auto: the grid rank
 *                    nearest the policy's mean rank (needs policy in the list)
 *   random           seeded random ranks at the policy's budget: each layer's chosen ranks of
 *                    the policy reassigned at random among the sentences (and segments of
 *                    sentences with as many segments), so the rank histogram and mean rank of
 *                    every layer are the policy's; without policy in the list, uniform draws
 *                    over the grid and full
 *   nystrom:m        Nystromformer with m landmarks in every layer
 *   performer:m      Performer (FAVOR+) with m random features in every layer
 *   policy           the trained agent, greedy, under the trained config's guardrail
 *   margin:LO/HI@L<T a hand rule on the frozen head (issue 14): layers before L at grid rank
 *                    LO; from layer L on, each sequence whose head margin z_1 - z_2 (the
 *                    model's pooler and classifier on the layer input's CLS row: what the
 *                    model would answer if it stopped there) is below T runs the layer at
 *                    grid rank HI, the others at LO (e.g. margin:4/16@1<2.5); the head's
 *                    cost (2 C^2 + 2 C K FLOPs per sequence and layer) is not timed
 *   probe:P/LO/HI<T  a hand rule on a measured probe (issue 14): in every layer, each
 *                    sequence's attention runs at grid ranks P < LO on the layer input
 *                    (ranked_attend_each); if ||A_LO - A_P||_F / ||A_LO||_F over its real
 *                    rows exceeds T the layer runs at grid rank HI > LO, else at LO (e.g.
 *                    probe:2/4/16<0.3). probe:P/LO/HI<T@U probes layers 0..U only; later
 *                    layers keep each sequence's choice at layer U. The probes' counted
 *                    FLOPs are the mode's decision FLOPs (not timed; a deployed version would
 *                    reuse A_LO)
 * The default list: full, static:r for every grid rank, static-plain:auto, random,
 * nystrom:8,16,32, performer:8,16,32, policy. full is added first when not listed. */
#ifndef DRRL_CMD_EVAL_MODES_H
#define DRRL_CMD_EVAL_MODES_H

#include "core/err.h"
#include "model/bert.h"

#define EVAL_MAX_MODES 64
#define EVAL_MAX_PARTS 8 /* position parts of a static mode */
#define EVAL_NAME 64     /* a mode's name, NUL included */
#define EVAL_MAX_HEADS 16 /* heads of a per-head static list */

typedef enum {
    EVAL_FULL,
    EVAL_STATIC,
    EVAL_PLAIN,
    EVAL_RANDOM,
    EVAL_NYSTROM,
    EVAL_PERFORMER,
    EVAL_POLICY,
    EVAL_MARGIN,
    EVAL_PROBE
} EvalModeKind;

typedef struct {
    EvalModeKind kind;
    int r;          /* static / static-plain grid rank (0: auto, until resolved; -1: one rank
                       per layer, in layer_r); nystrom / performer m; else 0 */
    int n_layer;    /* per-layer static modes: the ranks listed (the model's L, checked by
                       eval_modes_check_layers); else 0 */
    int n_part;     /* per-layer static modes: position parts ('+'), 1 without */
    int layer_r[EVAL_MAX_PARTS][BERT_MAX_LAYERS]; /* (n_part, n_layer) ranks (0: full) */
    int n_head;     /* per-head static modes ('.'): heads listed per layer (the model's H,
                       checked by eval_modes_check_layers); else 0 */
    int head_r[BERT_MAX_LAYERS][EVAL_MAX_HEADS]; /* (n_layer, n_head) ranks (0: full) */
    int hi, from;   /* margin: HI and L; probe: HI and P (r holds LO in both) */
    int until;      /* probe: last probed layer (-1: every layer) */
    double thr;     /* margin, probe: T */
    char name[EVAL_NAME]; /* "static:8", "static-plain:auto" until resolved, ... */
} EvalMode;

/* eval_modes_parse: the comma-separated list (NULL: the default list) against the rank grid
   (G increasing ranks, each below the head size; G = 0: any positive rank, for callers that
   check ranks against the model themselves). Unknown modes, ranks outside the grid,
   m outside 1..max_m, duplicates and static-plain:auto without policy are ST_CONFIG errors
   naming the entry. full is prepended when absent. */
Status eval_modes_parse(const char *list, const int *grid, int G, int max_m, EvalMode *out,
                        int *n, Err *e);

/* eval_modes_check_layers: every per-layer static mode lists exactly L ranks, and every
   per-head one H heads per layer on an environment with a rank per (segment, head)
   (per_head 1) (ST_CONFIG naming the mode otherwise). */
Status eval_modes_check_layers(const EvalMode *modes, int n, int L, int H, int per_head, Err *e);

/* eval_mode_rank: the rank of a static / static-plain mode in layer l (0: full) for head h of
   segment sg of a row of nseg segments (position part floor(sg n_part / nseg)). */
int eval_mode_rank(const EvalMode *m, int l, int sg, int nseg, int h);

/* eval_mode_env: 1 if the mode runs through the rank environment (weight-level kinds). */
int eval_mode_env(const EvalMode *m);

/* eval_modes_resolve_auto: static-plain:auto -> static-plain:r with r the grid rank nearest
   mean_rank (ties: the lower rank). */
void eval_modes_resolve_auto(EvalMode *modes, int n, double mean_rank, const int *grid, int G);

/* eval_modes_max_m: the largest Nystrom / Performer m listed (0: none). */
int eval_modes_max_m(const EvalMode *modes, int n);

#endif
