/* factors.h: weight-level factors of one MHSA layer, per head, with the biases folded in
 * (docs/design.md section 2). With x~ = [x, 1] (d+1) and head h's slices (W stored (out, in)):
 *     F_q = [Wq_h^T ; bq_h],  F_k = [Wk_h^T ; bk_h],  F_v = [Wv_h^T ; bv_h]     ((d+1) x dh)
 *     G   = Wo_h^T  (the dh x d block of Wo^T for head h)
 *     M_QK = F_q F_k^T   ((d+1) x (d+1), rank <= dh): s_ij = x~_i M_QK x~_j^T / sqrt(dh)
 *     M_VO = F_v G       ((d+1) x d,     rank <= dh): head output o_i = sum_j p_ij x~_j M_VO
 * (the layer output is sum_h o_i^h + bo). Factors, columns by decreasing singular value:
 *     M_QK = A B^T,  A = U sqrt(S), B = V sqrt(S)    ((d+1) x dh each)
 *     M_VO = C D^T,  C ((d+1) x dh),  D (d x dh)
 * so rank r keeps the first r columns of each (a slice, never a new decomposition).
 *
 * Whitened factors (the default kind) truncate in the norm of the data: with the ridged
 * calibration moment M = L L^T (attention/moment.h) and independent x, y of second moment M,
 *     E (x dM y^T)^2 = ||L^T dM L||_F^2,     E ||x dM||^2 = ||L^T dM||_F^2,
 * so the best rank-r approximations in those norms come from the SVDs
 *     L^T M_QK L = U~ S V~^T  ->  A = L^{-T} U~ sqrt(S),  B = L^{-T} V~ sqrt(S)
 *     L^T M_VO   = U~ S V~^T  ->  C = L^{-T} U~ sqrt(S),  D = V~ sqrt(S)
 * (A B^T = L^{-T} (L^T M_QK L) L^{-1} = M_QK at full rank). Plain factors are L = I.
 *
 * Cheap SVD through the tall factors (double precision, LAPACKE): thin QRs
 * L^T F_q = Q_a R_a, L^T F_k = Q_b R_b give L^T M_QK L = Q_a (R_a R_b^T) Q_b^T; the SVD of the
 * dh x dh core R_a R_b^T = U_c S V_c^T gives U~ = Q_a U_c, V~ = Q_b V_c. Likewise
 * L^T F_v = Q_v R_v, G^T = Q_g R_g, core R_v R_g^T. Cost per head O(d dh^2) (+ O(d^2 dh) for
 * the triangular products when whitened) instead of O(d^3) for an SVD of the full matrix.
 * Heads (QK and VO separately) are spread over OpenMP threads.
 *
 * Singular values are those of the (whitened) matrices; energy retained at rank r is
 * sum_{i<r} s_i^2 / sum_i s_i^2. */
#ifndef DRRL_ATTENTION_FACTORS_H
#define DRRL_ATTENTION_FACTORS_H

#include <stddef.h>

#include "core/err.h"
#include "core/mem.h"
#include "nn/mhsa.h"

typedef enum { ATTN_FACTORS_PLAIN = 0, ATTN_FACTORS_WHITENED = 1 } AttnFactorKind;
typedef enum { ATTN_QK = 0, ATTN_VO = 1 } AttnForm;

typedef struct {
    int d, H, dh;
    AttnFactorKind kind;
    double ridge;        /* ridge lambda of the whitener (0 for plain factors) */
    char calib_hash[65]; /* hex SHA-256 fingerprint of the calibration ("" if none) */
    float *a;     /* (H, d+1, dh) score factor, query side */
    float *b;     /* (H, d+1, dh) score factor, key side */
    float *c;     /* (H, d+1, dh) value factor */
    float *dm;    /* (H, d, dh)   output factor D */
    float *bo;    /* (d)          output bias (copied from the layer) */
    double *s_qk; /* (H, dh) singular values of (L^T) M_QK (L), decreasing */
    double *s_vo; /* (H, dh) singular values of (L^T) M_VO, decreasing */
    MemPlan plan;
} AttnFactors;

/* attn_factors_init: plan and allocate for width d and H heads (H divides d, dh <= d). */
Status attn_factors_init(AttnFactors *f, int d, int H, Err *e);
void attn_factors_free(AttnFactors *f);

/* attn_factors_compute: the factors of layer p. L (d+1, d+1): the lower-triangular whitener
   of attention/moment.h (attn_whitener), giving whitened factors, or NULL for plain ones.
   ridge and calib_hash are recorded as given (calib_hash may be NULL). ST_NUMERIC if LAPACK
   fails. */
Status attn_factors_compute(AttnFactors *f, const MhsaParams *p, const double *L, double ridge,
                            const char *calib_hash, Err *e);

/* attn_factors_energy: energy retained at rank r (0..dh) of form `which`, for head h, or
   summed over all heads when h < 0: sum_h sum_{i<r} s_hi^2 / sum_h sum_i s_hi^2. */
double attn_factors_energy(const AttnFactors *f, AttnForm which, int h, int r);

#endif
