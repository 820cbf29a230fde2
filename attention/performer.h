/* performer.h: Performer FAVOR+ attention layer (Choromanski et al., ICLR 2021), a static
 * baseline behind the layer interface of nn/mhsa.h: Y = A Wo^T + bo with A from
 * Q, K, V = X W^T + b (baseline_layer.h), softmax attention replaced per (batch b, head h) by
 * its positive-random-feature estimate:
 *
 *   features   w_1..w_m in R^dh, drawn once from a seeded core/rng.h stream and kept fixed:
 *              blocks of dh rows, each the dh orthonormal rows of a Gaussian matrix
 *              (Gram-Schmidt in double; the last block cut to m mod dh rows), every row then
 *              scaled by the norm of an independent Gaussian vector of dh entries (chi(dh)),
 *              so each w_l is marginally N(0, I) while rows of a block are orthogonal (the
 *              paper's "orthogonal random features"). One matrix serves all heads. Block j
 *              draws its dh*dh Gaussians and then dh chi norms, so the first m' rows of a draw
 *              with m features are exactly the draw with m' features (same seed): a layer
 *              planned for max_m features runs m <= max_m as a prefix (like a rank slice).
 *   phi        x' = x / dh^{1/4}  (so that w^T q' w^T k' estimates q^T k / sqrt(dh))
 *              phi(x)_l = exp(w_l^T x' - ||x'||^2 / 2) / sqrt(m)                 (m)
 *              E[phi(q)^T phi(k)] = exp(q'^T k') = exp(q^T k / sqrt(dh)) (positive features).
 *   output     O = D^{-1} phi(Q) (phi(K)^T V),  D = diag(phi(Q) (phi(K)^T 1))     (N, dh)
 *              padded keys get phi = 0 (rows of phi(K)), so they drop out of both sums.
 *   stability  the exponents are shifted before exp: for queries by the per-row max over the
 *              features, c_i = max_l (w_l^T q_i' - ||q_i'||^2/2); for keys by one constant for
 *              the whole sequence, c = max over real keys j and features l. The constants
 *              cancel: row i of phi(Q) is scaled by e^{-c_i}, which scales row i of both the
 *              numerator phi(Q)(phi(K)^T V) and of D, so their ratio is unchanged; every key
 *              row is scaled by the same e^{-c}, which scales phi(K)^T V and phi(K)^T 1, hence
 *              numerator and D, alike. (A per-KEY shift would reweight the keys: not allowed.)
 *              The shift includes -||x'||^2/2 (the reference code shifts by the max of w^T x'
 *              only): the same cancellation, and the largest term is exactly e^0, so a row
 *              never underflows to all zeros. 1/sqrt(m) is folded into the shift as well.
 *              A row with D = 0 (no real key, or total underflow) gets output 0.
 *
 * FLOPs (flops.h conventions), per (b, h) with N tokens of which n_real are real, m features,
 * E = FASTEXP_FLOPS = 24 per exp (nn/fastexp.h):
 *   scores   2 N m dh + 2 N m dh                Q W^T, K W^T (all N rows)
 *   softmax  N (2 dh + 2 + (3 + E) m)           query phi: norm (2 dh + 1), shift (1 per
 *                                               row); per feature subtract, max, subtract, exp
 *            n_real (2 dh + 1 + (4 + E) m) + 1  key phi on real rows (the same, the max over
 *                                               the sequence, one shift) and phi(K)^T 1
 *            N (2 m + 2 + dh)                   D = phi(Q) (phi(K)^T 1), the D > 0 test, 1/D,
 *                                               scale rows
 *   values   2 N m dh + 2 N m dh                phi(K)^T V, phi(Q) (phi(K)^T V)
 * so about 8 N m d + (2 E + 9) N m H per sequence (n_real = N; the feature maps add 0.11 of
 * the products at dh = 64); n_real = 0: no core work (output 0). proj 3 (2 N C^2 + N C) and
 * out 2 N C^2 + N C per sequence.
 *
 * Causal (key_mask.causal, nn/attention.h): the unidirectional FAVOR+ of the paper (section
 * 2.6), prefix sums over the positions (performer_causal.c):
 *     out_i = phi(q_i)^T S_i / (phi(q_i)^T z_i),  S_i = sum_{kept j <= i} phi(k_j) v_j^T,
 *                                                   z_i = sum_{kept j <= i} phi(k_j)
 * with the key shift a running maximum over the keys seen so far (S and z rescaled when it
 * rises), so no output depends on a later token, bit for bit. The same O(N m dh) work as the
 * bidirectional core plus the rescalings; FLOPs in performer_flops_causal.
 *
 * Threads and memory as nystrom.h: (b, h) pairs over OpenMP threads with single-threaded
 * GEMMs inside; everything planned once by performer_init; forward allocates nothing. */
#ifndef DRRL_ATTENTION_PERFORMER_H
#define DRRL_ATTENTION_PERFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "attention/flops.h"
#include "core/err.h"
#include "core/mem.h"
#include "nn/attention.h"
#include "nn/mhsa.h"

/* rng stream id of the feature draw: rng_init(&r, seed, PERFORMER_RNG_STREAM) */
#define PERFORMER_RNG_STREAM 0x4641564f52ull /* "FAVOR" */

/* PerformerFeatures: the fixed random features. */
typedef struct {
    int m, dh;     /* features, head size */
    uint64_t seed; /* the draw's seed */
    float *w;      /* (m, dh) row l = w_l; allocated by performer_features_init */
} PerformerFeatures;

/* performer_features_init: draw m orthogonal random features of size dh from seed (above).
 * ST_INVALID if m < 1 or dh < 1, ST_NOMEM. */
Status performer_features_init(PerformerFeatures *f, int m, int dh, uint64_t seed, Err *e);
/* performer_features_free: release w (f may be zeroed or already freed). */
void performer_features_free(PerformerFeatures *f);

/* PerformerLayer: planned limits, the features and buffers. It registers pointers to its own
 * fields in its plan: do not move or copy it between performer_init and performer_free. */
typedef struct {
    int max_B, max_N, max_m; /* planned limits */
    int C, H, dh;            /* width, heads, head size dh = C / H */
    int slices;              /* per-thread work areas (attention_max_threads() at init) */
    size_t work_len;         /* floats per work area */
    PerformerFeatures feat;  /* (max_m, dh); forward with m features uses rows [0, m) */
    float *q, *k, *v;        /* (max_B, max_N, C) projections */
    float *a;                /* (max_B, max_N, C) attention output, input of Wo */
    int32_t *n_real;         /* (max_B) real tokens of each sequence */
    uint8_t *keep;           /* (max_B, max_N) 1 = real token, 0 = padding */
    float *work;             /* (slices, work_len) per-thread feature maps */
    MemPlan plan;
} PerformerLayer;

/* performer_work_size: floats of one work area: phi(Q), phi(K) (N, m); phi(K)^T V (m, dh);
 * phi(K)^T 1 (m); per-row norms (N). */
size_t performer_work_size(int N, int m, int dh);

/* performer_init: draw max_m features (seed) and plan/allocate for batches of up to max_B
 * sequences of up to max_N tokens, width C, H heads. ST_INVALID on bad sizes, ST_NOMEM. */
Status performer_init(PerformerLayer *L, int max_B, int max_N, int C, int H, int max_m,
                      uint64_t seed, Err *e);
/* performer_free: release everything (L may be zeroed or already freed). */
void performer_free(PerformerLayer *L);

/* performer_forward: out (B, N, C) = the layer on inp (B, N, C) with the first m features.
 * flops (may be NULL) is ADDED to. out must not alias inp. ST_INVALID if B, N, m exceed the
 * plan. Call outside parallel regions. */
Status performer_forward(float *out /* (B, N, C) */, PerformerLayer *L,
                         const float *inp /* (B, N, C) */, AttnMask key_mask /* (B, N) */,
                         const MhsaParams *p, int B, int N, int m, AttnFlops *flops, Err *e);

/* performer_flops: the closed form above for ONE sequence of N tokens, n_real of them real,
 * width C, H heads, m features; a batch is the sum over its sequences. */
AttnFlops performer_flops(int64_t N, int64_t n_real, int64_t C, int64_t H, int64_t m);
/* performer_flops_causal: the causal count (performer_causal.c) for ONE sequence of N tokens,
 * n_real of them real, with `rescales` increases of the running key shift summed over its H
 * heads (data-dependent, typically about ln n_real per head: each costs
 * 1 + FASTEXP_FLOPS + m (dh + 1)):
 *     scores  H 4 N m dh
 *     softmax H (N (2 dh + 2 + (3 + E) m) + n_real (2 dh + 3 + (4 + E) m) + N (2 m + 2 + dh))
 *             + rescales (1 + E + m (dh + 1))
 *     values  H (2 n_real m dh + 2 N m dh);  proj, out as above; n_real = 0: proj and out. */
AttnFlops performer_flops_causal(int64_t N, int64_t n_real, int64_t C, int64_t H, int64_t m,
                                 int64_t rescales);

#endif
