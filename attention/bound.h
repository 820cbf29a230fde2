/* bound.h: perturbation bounds for weight-level low-rank attention, per query row and rank,
 * and the guardrail mask (docs/design.md section 3; the derivation is the comment atop
 * bound.c).
 *
 * Per head h (dh = d / H), with x~ = [x, 1] (d+1) the bias-folded layer input:
 *     s_ij = x~_i M_QK x~_j^T / sqrt(dh),   M_QK = A_qk B_qk^T    (d+1, d+1), rank <= dh
 *     u_j  = x~_j M_VO,                       M_VO = A_vo B_vo^T    (d+1, d)
 *     y_i  = sum_h sum_j p_hij u_hj + bo      (the MHSA output row; p = masked softmax of s)
 * Rank r keeps the first r columns of every A and B. Any factorisation with A B^T = M works:
 * plain SVD (A = U S^1/2, B = V S^1/2) or whitened (with M2 = L L^T the input second moment,
 * L^T M_QK L = U S V^T gives A = L^-T U S^1/2, B = L^-T V S^1/2; L^T M_VO = U S V^T gives
 * A = L^-T U S^1/2, B = V S^1/2). The bound never assumes orthonormal columns.
 *
 * What is bounded: e_i(r) >= || y_i(r) - y_i ||_2 for every query row i, where y(r) is the MHSA
 * output with every head at rank r and y the exact one, both in exact arithmetic (the float
 * rounding of the kernels themselves, ~1e-6 relative, is not part of it; count violations
 * with that tolerance). Summaries over the KEPT query rows of each sequence:
 *     fro  = sqrt(sum_i e_i^2)  >= ||Y_b(r) - Y_b||_F      (what the guardrail uses)
 *     max  = max_i e_i,   mean = mean_i e_i.
 * Guardrail (bound_mask): rank r is allowed for sequence b iff r == dh (exact, always allowed)
 * or fro[b, r] <= epsilon * ynorm[b], with ynorm[b] = ||Y_b||_F the exact layer output over
 * kept rows (bound_ynorm): a bound on the RELATIVE Frobenius error, the quantity the reward's
 * rel_err reports (and 1 - cosine <= 1 - sqrt(1 - rel^2) when rel < 1). ynorm is the norm
 * of whatever output the fidelity compares (the MHSA output, bo included). Per-segment ranks:
 * a query row's output depends only on its own segment's rank, so a segment's bound is the
 * root-sum-square (or max) of row[b, r, i] over its kept rows.
 *
 * Two versions (BoundKind), both valid upper bounds; cheap >= tight elementwise:
 *     BOUND_CHEAP: token norms only, O(B N d) plus O(B N H R).
 *     BOUND_TIGHT: projections of all tokens onto all dh columns of A_qk, B_qk, A_vo per head
 *                  (three (B N, d) x (d, dh) sgemms) and suffix sums: every rank at once.
 * Memory: per-layer norms are prepared once (bound_layer_plan + bound_layer_prepare, at model
 * load); the per-call workspace is planned once (bound_work_plan); nothing allocates later.
 * Threads: the projections are OpenBLAS sgemm/dgemm (its threads); the per-token loops are
 * OpenMP loops (same libgomp pool), the per-sequence reductions serial. */
#ifndef DRRL_ATTENTION_BOUND_H
#define DRRL_ATTENTION_BOUND_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "attention/factors.h"
#include "nn/attention.h"

typedef enum { BOUND_CHEAP = 0, BOUND_TIGHT = 1 } BoundKind;

/* BoundFactors: one layer's factors (not owned). Matrix X of head h starts at
 * X + h * hs (hs_out for b_vo) and has row stride ld: a_qk, b_qk, a_vo are (d+1, dh) (row d
 * is the bias row, multiplying the constant 1), b_vo is (d, dh). Layout (H, rows, dh):
 * ld = dh, hs = (d+1) dh, hs_out = d dh (AttnFactors: bound_factors_attn); layout
 * (rows, H*dh): ld = H dh, hs = hs_out = dh. */
typedef struct {
    const float *a_qk, *b_qk, *a_vo, *b_vo;
    int ld;
    size_t hs, hs_out;
} BoundFactors;

/* bound_factors_attn: the view of attention/factors.h's AttnFactors (a, b, c, dm). */
BoundFactors bound_factors_attn(const AttnFactors *f);

/* BoundLayer: the factors plus norms derived from them once (doubles, (H, dh+1), index r =
 * rank; entry r == dh is 0). All are UPPER bounds computed from Gram matrices (never from
 * power iteration, which under-estimates). */
typedef struct {
    BoundFactors f;
    int d, H, dh;
    double *fa_qk, *fb_qk, *fa_vo; /* ||X[:, r:]||_F of a_qk, b_qk, a_vo */
    double *oa_qk, *ob_qk, *ob_vo; /* >= ||X[:, r:]||_2 (Gershgorin and trace of the Gram) */
    double *op_qk, *op_vo; /* >= ||M - M_r||_2 (min of oa*ob and the Frobenius norm) */
    double *g_vo;          /* (H, dh, dh) Gram b_vo^T b_vo */
    double *g_lo;          /* (H, dh, dh) its strictly lower triangle */
    double *gtmp;          /* (2 dh dh + dh + 1) scratch for prepare */
} BoundLayer;

/* bound_layer_plan: register the BoundLayer arrays in plan (sizes from d, H, dh). */
void bound_layer_plan(MemPlan *plan, BoundLayer *bl, int d, int H, int dh);
/* bound_layer_prepare: after mem_plan_alloc: keep f and compute the norms: O(H d dh^2).
 * ST_INVALID on bad sizes, ST_NUMERIC on non-finite factors. */
Status bound_layer_prepare(BoundLayer *bl, const BoundFactors *f, Err *e);

/* BoundWork: per-call workspace for up to B sequences of N tokens and R ranks. */
typedef struct {
    int B, N, R, dh;
    float *z;      /* (B*N, dh) projections onto one factor's columns */
    double *zd;    /* (B*N, dh) value projections in double (then centred) */
    double *tt;    /* (B*N, dh) their products with the value Gram */
    double *suf;   /* (B*N, dh+1) per-token suffix sums */
    double *xn;    /* (B*N) ||x~_t|| */
    double *q0;    /* (B*N) ||u_t - c|| */
    double *xmax;  /* (B) max ||x~_j|| over kept tokens */
    double *xpre;  /* (B*N) causal: max ||x~_j|| over kept j <= i (prefix maxima) */
    double *aq;    /* (B*N, R) tight ||x~_i A_qk[:, r:]|| */
    double *tv;    /* (B*N, R) per-token key / value norms before the max */
    double *bmax;  /* (B, R) max over kept keys of ||x~_j B_qk[:, r:]||; causal: (B*N, R),
                      row i's max over kept j <= i */
    double *vmax;  /* (B, R) max over kept keys of ||x~_j (M_VO - M_VO,r)|| (causal: the
                      prefix maxima, (B*N, R), are kept in tv) */
    double *rc;    /* (B) max over kept keys of ||u_j - c|| (centred value rows) */
    double *zbar;  /* (B, dh) */
    double *acc;   /* (B, R, N) per-row layer bound */
} BoundWork;

/* bound_work_plan: register a workspace for up to B sequences, N tokens, R ranks, head size dh. */
void bound_work_plan(MemPlan *plan, BoundWork *w, int B, int N, int R, int dh);

/* BoundOut: any pointer may be NULL. */
typedef struct {
    double *row;  /* (B, R, N) e_i(r) for every query row (padded rows too) */
    double *fro;  /* (B, R) sqrt(sum of e_i^2 over kept rows) */
    double *max;  /* (B, R) max of e_i over kept rows */
    double *mean; /* (B, R) mean of e_i over kept rows (0 if none) */
    double *row_head; /* (B, H, R, N) head h's term e_{i,h}(r) of e_i(r) = sum_h e_{i,h}(r):
                         the bound on ||o'_hi - o_hi||, head h's share of the output row
                         (bound.c, step 3), every query row */
} BoundOut;

/* bound_compute: the bounds at every rank ranks[0..R) (each in [0, dh]) for the layer input
 * x (B, N, d) with key padding mask (also the set of rows the summaries use). With a causal
 * mask the bounds are those of the causal layers: row i takes its key and value maxima over
 * the kept keys j <= i only (prefix maxima, never above the non-causal bound; bound.c,
 * step 6); the FLOPs are the same. ADDS the FLOPs
 * executed to *flops (may be NULL); the total equals bound_flops(kind, B, N, d, H, R).
 * B, N, R must fit the workspace. ST_INVALID on bad arguments. */
Status bound_compute(BoundOut *out, BoundWork *w, int64_t *flops, const float *x /* (B,N,d) */,
                     AttnMask mask, const BoundLayer *bl, BoundKind kind,
                     const int *ranks /* (R) */, int R, int B, int N, Err *e);

/* bound_flops: closed form of the work bound_compute does and counts (multiply-add = 2; a
 * tanh, sqrt, min or max counts 1), with dh = d / H:
 *   B N 2 (d+1)            token norms ||x~|| and their max
 * + B N H R BOUND_ROW_FLOPS  per (row, head, rank): delta, tanh, accumulate
 * + B N R 4                summaries (fro, max, mean)
 * TIGHT adds, per head:
 *   B N (6 d dh + 4 dh^2 + 16 dh + 2)   three projections (2 d dh + dh each: the sgemm and
 *                                        the bias row), two suffix sums of squares (2 dh
 *                                        each), the value quadratic forms (two (dh, dh)
 *                                        dgemms, 2 dh^2 each, + 7 dh), mean and centring
 *                                        (2 dh), max (2)
 * + B N R 24               inflated, capped norms per (token, rank) for a, b and v
 * + B (dh + 6)             mean division and the centred cap per sequence.
 * The projections dominate: 6 B N d dh per head, 3/4 of the projection work of exact
 * attention for that head (8 N d dh), whatever the number of ranks. */
#define BOUND_ROW_FLOPS 8
int64_t bound_flops(BoundKind kind, int64_t B, int64_t N, int64_t d, int64_t H, int64_t R);

/* bound_ynorm: ynorm[b] = ||Y_b||_F over the kept rows of y (B, N, C) (the exact output). */
void bound_ynorm(double *ynorm /* (B) */, const float *y /* (B, N, C) */, AttnMask mask, int B,
                 int N, int C);

/* bound_mask: the guardrail. allow[b, r] = 1 iff ranks[r] >= dh or fro[b, r] <= epsilon *
 * ynorm[b]; allow_all (R, may be NULL) = AND over the B sequences (one rank for the batch).
 * Returns the number of masked (b, r) entries in *n_masked (may be NULL). ST_INVALID if
 * epsilon < 0 or is not finite. */
Status bound_mask(uint8_t *allow /* (B, R) */, uint8_t *allow_all /* (R) or NULL */,
                  int *n_masked, const double *fro /* (B, R) */, const double *ynorm /* (B) */,
                  const int *ranks /* (R) */, int R, int B, int dh, double epsilon, Err *e);

#endif
