/* rankenv.h: the rank environment (docs/design.md section 4): the frozen model's layers as the
 * steps of an episode, the attention rank of each sequence (and segment) as the action.
 *
 * Episodes. One episode slot = one sequence of a batch; n_envs = B slots run side by side
 * and synchronously, every episode lasts exactly L steps (the layers) and all end together.
 * reset draws the next batch of B rows from an epoch order of the encoded set (data/bucket.h
 * BatchPlan, length-bucketed or shuffled, with the environment's own Rng stream; batches
 * smaller than B (the epoch's remainder) are skipped, so every reset fills all B slots; a
 * new epoch is drawn when the order is exhausted), runs the EXACT model once to keep
 * p_full(y|x) of every sequence (for the terminal KL), then begins the ranked pass and
 * returns the observation of layer 0. rankenv_reset_rows runs given rows instead (n <= B,
 * for evaluation); slots b >= n are IDLE: their observation has only the CLS token, every
 * head inactive with only "full" allowed, reward and info 0, and they end with the others.
 *
 * Steps and actions. Step l decides layer l's attention for every sequence. Action head k
 * reads segment token k and picks an index into the rank grid: a < n_ranks is grid rank
 * ranks[a] (per head of the layer), a == n_ranks ("full", always the LAST action) is exact
 * attention. With T > 0 a sequence of n_b real rows has ceil(n_b / T) segments of T query
 * rows (the last shorter); heads of segments past its end are inactive (their tokens are
 * masked off; their actions are ignored). With T = 0 there is one segment (the whole
 * sequence) and one head. One step per layer with one head per segment token (rather than
 * one step per segment) lets every segment's reward be measured when the layer runs, once:
 * the segments of a layer share one segmented attention pass, and a segment's output depends
 * only on its own rank (attention/lowrank.h), so choosing all segments from the same
 * observation is equivalent to sequential per-segment choices made from that observation.
 *
 * Transition: each sequence's attention runs alone at its chosen ranks
 * (ranked_layer_each), the rank-r output feeds the next layer (errors compound honestly).
 *
 * Reward of sequence b at layer l, with its real segments s weighted by their real rows w_s
 * (W = sum_s w_s), T_s the exact attention output of segment s on the same input (the
 * teacher, ranked_teacher_each) and A_s the chosen one:
 *     fidelity   = sum_s w_s cos(A_s, T_s) / W                  (cosine over the rows)
 *     rel_err    = sum_s w_s ||A_s - T_s||_F / ||T_s||_F / W
 *     latency    TABLE: sum_s w_s lat(n_b bucket, r_s) / lat(n_b bucket, full) / W
 *                (attention/latency.h lookup; a segmented layer is charged the row-weighted
 *                mean of its segments' single-rank ratios; deterministic)
 *                LIVE: seconds of the sequence's attention call / seconds of its exact
 *                (teacher) call on the same input, both measured this step
 *     bound_term = sum_s w_s min(1, rho_s(r_s)) / W,  rho_s(r) = the bound (config
 *                bound: tight or cheap) on ||A_s - T_s||_F / D_s at rank r (attention/
 *                bound.h, e_i summed in squares over the segment's rows, over the guard's
 *                denominator D_s: ||T_s||_F, or ||X~_s||_F with guard INPUT), 0 for full:
 *                the proven worst case of the relative error the choice risked, capped at
 *                1 so that a loose bound cannot dominate the reward
 *     reward = alpha fidelity - beta latency - gamma bound_term
 *              (- lambda KL(p_full(y|x) || p_r(y|x)) in nats at the last layer; a causal
 *              decoder's KL is the mean over its positions with a real next token of the
 *              next-token distributions' KL: rankenv_kl)
 * The four weighted terms are reported as info r_fid, r_lat, r_bound, r_kl; the reward is
 * their float sum in that order, exactly. Guardrail: rank a of segment s is masked when
 * rho_s(ranks[a]) > epsilon (bound_mask's rule); full is always allowed; choosing a masked
 * action is an error. Violations: segments at a low rank whose measured error in the
 * guard's units, ||A_s - T_s||_F / D_s, exceeds rho_s * (1 + 1e-5) + 1e-6 (the bound is
 * exact-arithmetic; the tolerance covers float rounding); must stay 0.
 *
 * Info columns (per slot and step; RANKENV_INFO_NAMES order): fidelity, rel_err,
 * latency_ratio, flops_ratio (the sequence's counted attention FLOPs at its ranks / its
 * counted exact attention FLOPs (the teacher's) on the same rows), bound (row-weighted mean
 * of rho_s of the chosen ranks, uncapped, 0 for full), kl (last layer only, else 0), r_fid,
 * r_lat, r_bound, r_kl, rank (mean chosen rank per head over the real segments, full = dh),
 * full (share of real segments at full), masked (share of the real segments' low-rank grid
 * entries masked by the guardrail), violations (count), layer (0-based index of the step).
 *
 * Observation (rankenv_obs.c documents every feature): RANKENV_TOKEN_DIM features per
 * token, zero-padded, a one-hot of the token's type first; token 0 CLS (the value token),
 * 1 layer, 2 previous ranks, 3 sequence, 4 + s segment s (head s), s < n_heads.
 *
 * Per-head ranks (config per_head; the paper's setting: a rank per head, layer and segment).
 * The action heads are the (segment s, head h) pairs, action head k = s H + h at token 4 + k
 * (n_heads = S H, at most RANKENV_MAX_TOKENS - 4; with T = 0 the H heads of the one segment);
 * the rank buffer is (B, Sr, H) and each sequence runs alone through ranked_layer_each_heads
 * (attention/lowrank_heads.c; full heads at rank dh; FLOPs attn_lowrank_flops_heads). The
 * bound: head h's term e_{i,h}(r) of e_i(r) (BoundOut.row_head) bounds its share of output
 * row i and depends on its rank alone, so with fro_{s,h}(r) = sqrt(sum_{i in s} e_{i,h}(r)^2)
 * and rho_{s,h} = fro_{s,h} / D_s, Minkowski over the segment's rows gives
 *     ||A_s - T_s||_F / D_s <= rho_s := sum_h rho_{s,h}(r_h)      (0 for full heads).
 * Guardrail: rank a of head h in segment s is masked when rho_{s,h}(ranks[a]) > epsilon / H;
 * then every mix of allowed actions has rho_s <= epsilon. The reward's bound term, info bound
 * and the violation check use the combined rho_s in place of the segment's rho_s(r_s).
 * Latency TABLE: segment s is charged the mean over its heads of latency_table_ratio(n_b,
 * r_h) (an ESTIMATE: the table measures one rank for all heads; heads that agree get their
 * common ratio exactly); LIVE measures the per-head call. Info rank and full are over the
 * real (segment, head) pairs, masked over their grid entries. When every head of each
 * segment takes the same action, the pass (attention, FLOPs), fidelity, latency, rank, full
 * and KL equal the per-segment environment's bit for bit (tests/env/test_rankenv_heads.c);
 * the bound, a sum over heads, is >= the segment's (and <= sqrt(H) times it at one rank).
 * Observation per head: each (segment, head) token carries its segment's features, with
 * 41 + g the head's own log10 rho_{s,h}(ranks[g]) and 57 its index h / H; the previous-ranks
 * token counts the (segment, head) pairs (rankenv_obs.c). The saved state's shape check sees
 * per_head through n_heads and n_tokens.
 *
 * Memory is planned once at init; reset and step allocate nothing. Threads: the kernels'. */
#ifndef DRRL_ENV_RANKENV_H
#define DRRL_ENV_RANKENV_H

#include <stdint.h>

#include "attention/latency.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/rng.h"
#include "core/store.h"
#include "data/bucket.h"
#include "data/encode.h"
#include "model/ranked.h"

#define RANKENV_MAX_GRID (ATTN_MAX_RANKS - 1) /* low ranks; + full = the actions */
#define RANKENV_TOKEN_DIM 64
#define RANKENV_HEAD_TOKEN0 4
#define RANKENV_N_INFO 15
#define RANKENV_CONV 16 /* convolution channels of the segment features */
#define RANKENV_CONV_SEED 0x52414e4b454e5631ull /* fixed: features agree across runs/seeds */
#define RANKENV_STATE_VERSION 1
#define RANKENV_MAX_TOKENS 4096 /* most observation tokens (the policy's n_tokens limit) */
/* the info columns, in order */
#define RANKENV_INFO_NAMES                                                                   \
    "fidelity", "rel_err", "latency_ratio", "flops_ratio", "bound", "kl", "r_fid", "r_lat",  \
        "r_bound", "r_kl", "rank", "full", "masked", "violations", "layer"
enum {
    RANKENV_I_FID, RANKENV_I_REL, RANKENV_I_LAT, RANKENV_I_FLOPS, RANKENV_I_BOUND, RANKENV_I_KL,
    RANKENV_I_RFID, RANKENV_I_RLAT, RANKENV_I_RBOUND, RANKENV_I_RKL, RANKENV_I_RANK,
    RANKENV_I_FULL, RANKENV_I_MASKED, RANKENV_I_VIOL, RANKENV_I_LAYER
};

typedef enum { RANKENV_LAT_TABLE = 0, RANKENV_LAT_LIVE = 1 } RankEnvLatency;

/* RankEnvGuard: the denominator of the guardrail's relative bound rho_s(r) = fro_s(r) / D_s,
   fro_s(r) >= ||A_s(r) - T_s||_F the proven bound over segment s's real rows:
     OUTPUT  D_s = ||T_s||_F, the exact attention output (the teacher): rho bounds the
             relative error rel_err reports, but deciding needs exact attention first
     INPUT   D_s = ||X~_s||_F = sqrt(sum_i (||x_i||^2 + 1)), the bias-folded layer input of
             the same rows: known before any attention runs, so a deployed model can guard
             without a teacher; rho bounds ||A_s - T_s||_F / ||X~_s||_F (the error in units
             of the residual stream it is added to), proven because numerator and
             denominator are the same as the measured quantity's
     NONE    no guardrail: no bounds are computed, every rank is allowed, the observation's
             rho features are log10(0) clipped (-6) and the reward's bound term is 0 (the
             tight bound costs 3/4 of exact attention's projection work, a large share of a
             short input's forward; the cheap one does not tell ranks apart) */
typedef enum {
    RANKENV_GUARD_OUTPUT = 0,
    RANKENV_GUARD_INPUT = 1,
    RANKENV_GUARD_NONE = 2
} RankEnvGuard;

/* RankEnvCost: the decision work of the passes since the last reset (or deploy begin): the
   teacher (only when the guard needs it, or in training for the reward), the bounds, the
   observation features (convolution GEMM, segment statistics, guard denominators); seconds
   on the monotonic clock, FLOPs as counted (features: rankenv_feature_flops). */
typedef struct {
    double teacher_sec, bound_sec, feature_sec;
    int64_t teacher_fl, bound_fl, feature_fl;
} RankEnvCost;

typedef struct {
    RankKind kind;         /* RANK_WHITENED (default) or RANK_PLAIN */
    int n_ranks;           /* low ranks in the grid, 1..RANKENV_MAX_GRID */
    int ranks[RANKENV_MAX_GRID]; /* per head, strictly increasing, each < dh and in R's grid;
                                    action n_ranks = full (exact attention) */
    int T;                 /* segment length in tokens; 0: one segment per sequence */
    int max_segments;      /* heads; 0: ceil(set max_len / T) (1 when T = 0); else at least
                                that (fixes the observation size across sets) */
    int batch;             /* B = n_envs, <= R->max_B, <= set rows */
    double alpha, beta, gamma, lambda; /* reward weights, finite, >= 0 */
    double epsilon;        /* guardrail tolerance on the relative tight bound, >= 0 */
    RankEnvLatency latency; /* TABLE (needs a table for the model's d_model, n_heads) or LIVE */
    RankEnvGuard guard;    /* the relative bound's denominator (OUTPUT: the default) */
    BoundKind bound;       /* BOUND_TIGHT (default) or BOUND_CHEAP: the bound the guardrail,
                              the observation and the reward's bound term use */
    int per_head;          /* 1: a rank per (segment, head): action heads (segment s, head h)
                              at token 4 + s H + h (n_heads = S H; "Per-head ranks" above) */
    int head_features;     /* 1: the sequence token carries the frozen head on the running
                              hidden state (rankenv_obs.c features 9..11) */
    int probe_features;    /* 1: each segment token carries the measured change of the
                              layer's attention between grid ranks ranks[0] and ranks[1]
                              (rankenv_obs.c feature 56; two low-rank attentions per layer,
                              counted as feature work) */
    int probe_layers;      /* probe only layers 0 .. probe_layers-1 (0: every layer); the
                              feature is log10(0) clipped (-6) in the others */
    int bucket;            /* 1: length-bucketed batches, 0: shuffled */
    int bucket_pool;       /* batches sorted together when bucketing (>= 1) */
    uint64_t seed;         /* the batch order's Rng stream */
    int part, parts;       /* data-parallel (core/dist.h): the order is of batches of
                              batch x parts rows, the same on every process, and process part
                              takes rows part x batch .. of each (0, 1 alone; parts 0 is 1) */
} RankEnvConfig;

/* rankenv_config_default: whitened, ranks {4, 8, 16, 32}, T 0, max_segments 0, batch 32,
   alpha 1, beta 0.05, gamma 0.1, lambda 1, epsilon 1, TABLE, guard OUTPUT, bound TIGHT,
   bucket 1, pool 50, seed 1. */
void rankenv_config_default(RankEnvConfig *c);

/* the dims an Env (agent/env_api.h) is filled from, as plain ints */
typedef struct {
    int n_envs;      /* B */
    int n_tokens;    /* 4 + n_heads */
    int token_dim;   /* RANKENV_TOKEN_DIM */
    int n_heads;     /* max segments S, or S H per head (config per_head) */
    int head_token0; /* 4 */
    int value_token; /* 0 (CLS) */
    int n_actions;   /* n_ranks + 1 (last = full) */
    int max_steps;   /* L */
    int n_info;      /* RANKENV_N_INFO */
    const char *info_names[RANKENV_N_INFO];
} RankEnvDims;

typedef struct {
    RankEnvConfig c;
    RankEnvDims dims;
    Ranked *R;               /* not owned */
    const EncodedSet *set;   /* not owned */
    const LatencyTable *lt;  /* not owned; NULL in LIVE mode */
    int L, C, H, dh, K, G, B, S, max_pos;
    int P;                   /* heads per segment token group: H with per_head, else 1 */
    int NA;                  /* action heads S P (= dims.n_heads); head k = s P + h */
    /* batch order and counters (saved) */
    Rng rng;
    uint64_t rng_epoch[RNG_STATE_WORDS]; /* rng before the current epoch's batch_plan_make */
    BatchPlan plan;
    int64_t epoch, next_batch, episodes, steps, violations;
    /* the episode */
    int n_active;            /* sequences of the pass (B, or n of reset_rows) */
    int N;                   /* padded length of the pass */
    int Sr;                  /* ranked_segments(N, T): row stride of rank */
    int layer;               /* the layer the next step decides; -1: no episode */
    AttnFlops *tfl, *afl;    /* (B) teacher / chosen attention FLOPs per sequence */
    /* planned buffers */
    int32_t *rows;           /* (B) set rows of the pass */
    int32_t *ids;            /* (B, max_len) token ids */
    uint8_t *mask;           /* (B, max_len) real tokens */
    int32_t *len;            /* (B) n_b = ranked_seq_len */
    int32_t *nseg;           /* (B) real segments ranked_segments(n_b, T) */
    int32_t *seg_rows;       /* (B, S) real rows of each segment (w_s) */
    float *full_logits;      /* (B, K) logits of the exact pass */
    int32_t *rank;           /* (B, Sr P) ranks for ranked_layer_each(_heads) (RANKED_FULL =
                                full): (b, s, h) at b Sr P + s P + h */
    int32_t *act;            /* (B, NA) actions of this step */
    int32_t *prev;           /* (B, NA) actions of the previous layer (-1: none) */
    double *brow;            /* (B, P, G, max_len) tight bound e_i per row and rank (per head:
                                head h's term e_{i,h}, BoundOut.row_head) */
    double *bfro;            /* (B, NA, G) sqrt(sum of e_i^2 (e_{i,h}^2) over the segment's
                                rows) */
    double *yseg;            /* (B, S) ||T_s||_F of the teacher (0 when none ran) */
    double *den;             /* (B, S) the guard's denominator D_s (yseg or ||X~_s||_F) */
    double *rho;             /* (B, NA, G) relative bound bfro / den */
    uint8_t *allow;          /* (B, NA, G) guardrail (1 = allowed) */
    double *masked;          /* (B) share of the real segments' grid entries masked */
    double *cosv, *relv;     /* (Sr, B) fidelity of each segment */
    double *tsec, *asec;     /* (B) seconds of the teacher / chosen attention calls */
    float *layer_tok;        /* (L, TOKEN_DIM) the layer tokens (fixed per layer) */
    float *conv_w;           /* (C, 3 CONV) tap k of channel o at column k CONV + o */
    float *conv_p;           /* (B max_len, 3 CONV) X conv_w */
    float *hd_in, *hd_pre, *hd_z; /* (B, C), (B, C), (B, K): the head on x_l[:, 0] */
    double *hd_stat;         /* (3, B) margin, entropy, top probability of the head */
    float *pa, *pb;          /* (B, max_len, C) probe attention at ranks[0], ranks[1] */
    double *pchg;            /* (B, S) relative change of each segment between them */
    AttnFlops *pfl;          /* (B) FLOPs of one probe call per sequence */
    int deploy;              /* 1 between rankenv_deploy_begin and the pass's end: no exact
                                pass, no teacher unless the guard needs it, no reward */
    RankEnvCost cost;        /* decision work since the last reset / deploy begin */
    MemPlan mem;
} RankEnv;

/* rankenv_init: an environment over R (initialised with ranks covering c->ranks and bounds
   planned; for RANK_WHITENED already calibrated: the layer tokens read its factors once),
   the encoded set (max_len <= R->max_N) and, in TABLE mode, the latency table (checked
   against the model's d_model and n_heads). None is owned; all must outlive E. ST_INVALID
   (naming the field) on a bad config. On failure nothing stays allocated. */
Status rankenv_init(RankEnv *E, Ranked *R, const EncodedSet *set, const LatencyTable *lt,
                    const RankEnvConfig *c, Err *e);
void rankenv_free(RankEnv *E);

/* agent/env_api.h's functions (self is a RankEnv *); buffers sized by E->dims. */
Status rankenv_reset(void *self, float *obs /* (B, n_tokens, token_dim) */,
                     uint8_t *tok_mask /* (B, n_tokens) */,
                     uint8_t *act_mask /* (B, n_heads, n_actions) */, Err *e);
Status rankenv_step(void *self, const int32_t *action /* (B, n_heads) */, float *obs,
                    uint8_t *tok_mask, uint8_t *act_mask, float *reward /* (B) */,
                    uint8_t *done /* (B) */, float *info /* (B, n_info) */, Err *e);
/* save / load: the batch order's Rng (now and at the epoch's start), the epoch, its next
   batch, and the episode / step / violation counters, under `group`; load checks the
   shape-defining config (dims, kind, T, grid, set rows, bucketing, seed) and names what
   differs. The state is the one between episodes: after load, call reset. */
Status rankenv_save(void *self, Store *st, const char *group, Err *e);
Status rankenv_load(void *self, Store *st, const char *group, Err *e);

/* rankenv_reset_rows: begin episodes on set rows rows[0..n) (1 <= n <= B) in slots 0..n-1;
   slots n..B-1 are idle (see above). The batch order is not touched. */
/* rankenv_kl: sequence b's KL(p_full || p_r) in nats after the last layer: the classifier's
   output distribution, or for a decoder (model/lm.h) the mean over the positions whose next
   token is real of the next-token distributions' KL (the reward's KL term and info kl). */
double rankenv_kl(const RankEnv *E, int b);

Status rankenv_reset_rows(RankEnv *E, const int32_t *rows /* (n) */, int n, float *obs,
                          uint8_t *tok_mask, uint8_t *act_mask, Err *e);

/* ---- deployment (rankenv_deploy.c): the same observations and transitions without the
   exact pass, the teacher (guard INPUT) and the reward: what a deployed model computes ---- */

/* rankenv_deploy_begin: begin a pass over n (1..B) given sequences ids, mask (n, N) (N <=
   the set's max_len; mask 1 = real token), and observe layer 0 (as rankenv_reset_rows would
   for the same tokens, bit for bit). E->cost restarts. */
Status rankenv_deploy_begin(RankEnv *E, const int32_t *ids /* (n, N) */,
                            const uint8_t *mask /* (n, N) */, int n, int N, float *obs,
                            uint8_t *tok_mask, uint8_t *act_mask, Err *e);
/* rankenv_deploy_step: the current layer at the chosen actions (B, n_heads), as rankenv_step
   runs it (ranked_layer_each), then the next layer's observation, or after the last layer
   the head: E->R->logits (n, K). *done = 1 after the last layer. E->rank holds the ranks
   the layer ran at (n, Sr) (per head (n, Sr, H)) until the next step. */
Status rankenv_deploy_step(RankEnv *E, const int32_t *action, float *obs, uint8_t *tok_mask,
                           uint8_t *act_mask, int *done, Err *e);

/* rankenv_feature_flops: the FLOPs rankenv_observe counts in E->cost.feature_fl for one
   layer's observation of n active sequences padded to N, with `rows` real rows in all and
   `segs` real segments, G grid ranks (0 with guard NONE: no bound is summed), model width C;
   teacher: the teacher ran (training, or guard OUTPUT); input: guard INPUT:
     2 n N C 3 RANKENV_CONV                the convolution taps (one sgemm over n N rows)
   + rows (5 RANKENV_CONV + 2 C + 5 + 2 G)  per real row: taps summed, relu, mean, max; the
                                            row norm; the bound's sum of squares per rank
   + rows (2 C teacher + (2 C + 1) input)   ||T_i||^2, ||x~_i||^2 = ||x_i||^2 + 1
   + segs (RANKENV_CONV + 4 + 3 G + teacher + input)  means and std; per rank the sqrt,
                                            epsilon D_s and rho; the sqrt of each norm
   + 8 n                                    the sequence and previous-rank tokens
   + n (2 C C + C + 2 C K + K + 3 K + 4)    head features only: pooler and classifier on
                                            each sequence's CLS row (as ranked_end counts
                                            them), softmax, entropy and margin
   (log10, clip and comparisons are not counted, as elsewhere). Per head (config per_head)
   G stands for G H: the sums of squares, roots, epsilon D_s and rho are per (head, rank).
   With probe features the
   two probe attentions' counted FLOPs (each sequence alone at ranks[0] and ranks[1],
   attn_lowrank_flops) and 4 C per real row + 2 per segment (the change) come on top. */
int64_t rankenv_feature_flops(int64_t n, int64_t N, int64_t rows, int64_t segs, int G, int C,
                              int teacher, int input, int head, int K);

/* rankenv_probe: the attention of each active sequence at ranks ra and rb on the current
   layer input (ranked_attend_each into pa, pb (B, max_len, C), per-sequence FLOPs of one call
   in pfl (B)) and its relative change ||A_rb - A_ra||_F / ||A_rb||_F over real rows: per
   segment into chg (B, S) (per_seq 0) or over the whole sequence into chg (B) (per_seq 1);
   adds to *fl the FLOPs (both calls', 4 C per real row, 2 per ratio). The observation's
   probe feature (ranks[0], ranks[1]) and drrl-eval's probe rule both use it. */
Status rankenv_probe(RankEnv *E, int ra, int rb, int per_seq, float *pa, float *pb,
                     AttnFlops *pfl, double *chg, int64_t *fl, Err *e);
/* rankenv_head: the frozen model's pooler and classifier on the CLS row of the current
   layer's input, for each active sequence of the pass (what the model would answer if it
   stopped here): margin z_1 - z_2 of the two largest logits, the softmax's entropy (nats) and
   top probability, each (n_active) and may be NULL. Returns the FLOPs it executed: per
   sequence 2 C C + C + 2 C K + K (pooler and classifier, as ranked_end counts them) + 3 K + 4
   (softmax, entropy, margin). Valid between a reset / deploy begin and the pass's last step. */
int64_t rankenv_head(RankEnv *E, double *margin /* (n) */, double *entropy /* (n) */,
                     double *ptop /* (n) */);

/* internal, shared by rankenv*.c */
/* rankenv_start_pass: with E->ids, E->mask (n, N) filled: begin the ranked pass, the
   lengths and segments, and observe layer 0. */
Status rankenv_start_pass(RankEnv *E, int n, int N, float *obs, uint8_t *tok_mask,
                          uint8_t *act_mask, Err *e);
/* rankenv_take_actions: the actions of the active heads -> E->act and E->rank; ST_INVALID on
   an out-of-range or masked one. */
Status rankenv_take_actions(RankEnv *E, const int32_t *action, Err *e);
/* rankenv_run_layer: the current layer at E->rank, each sequence alone (ranked_layer_each, or
   ranked_layer_each_heads per head), FLOPs into E->afl and seconds into E->asec. */
Status rankenv_run_layer(RankEnv *E, Err *e);
/* rankenv_obs_prepare: at init: the convolution weights and the layer tokens. */
Status rankenv_obs_prepare(RankEnv *E, Err *e);
/* rankenv_observe: at the current layer of the pass: the teacher (timed), the tight bounds,
   the segments' rho, guardrail and masked share; writes obs, tok_mask, act_mask. */
Status rankenv_observe(RankEnv *E, float *obs, uint8_t *tok_mask, uint8_t *act_mask, Err *e);

#endif
