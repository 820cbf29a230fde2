/* activation.h: activation-level low-rank attention (the paper's variant, done right):
 * for each input and each (b, h), the optimal rank-r approximation of the logits Q_h K_h^T
 * (Eckart-Young, in the Frobenius and spectral norms) computed without forming the N x N
 * product:
 *     Q_h = Q_q R_q,  K_h = Q_k R_k               thin QRs (N x dh), sgeqrf + sorgqr
 *     R_q R_k^T = U S V^T                          SVD of the dh x dh core (double, dgesdd)
 *     Q_h K_h^T = Q_q U S V^T Q_k^T  ->  rank r:  (Q_q U_r S_r) (Q_k V_r)^T
 * so the scores cost 2 N^2 r per head instead of 2 N^2 dh, after O(N dh^2) for the QRs
 * (about 8 N dh^2 per head) and 2 N dh r for each set of coordinates. Values stay exact:
 *     A_h = softmax_masked((Q_q U_r S_r)(Q_k V_r)^T / sqrt(dh)) V_h,   Y = A Wo^T + bo.
 * Padded rows (mask 0) of Q and K are zeroed before the QRs, so the approximation is the
 * optimal one of the real block and padded positions cannot influence real outputs.
 *
 * Where it pays: it saves 2 N^2 (dh - r) per head in the scores only (the projections and
 * P V stay exact) and adds about 8 N dh^2 + 4 N dh r, so it can pay in FLOPs only when
 * N > (4 dh^2 + 2 dh r) / (dh - r), e.g. N > 640 for dh = 64, r = 32, and in time only well
 * beyond that (Householder QR runs far below GEMM speed): N >> dh. At short N the
 * weight-level factors (attention/lowrank.h), which also shrink the projections and P V,
 * are the better choice.
 *
 * FLOPs: proj 3 (2 M d d + M d); factor per (b, h), with k = min(N, dh), the standard LAPACK
 * operation counts 2 (2 N dh^2 - 2 dh^3 / 3) for each QR and its Q, 2 k^2 dh for the core,
 * 22 k^3 for its SVD (Golub and Van Loan's count with both vector sets), 2 (2 N k r) for the
 * coordinates; scores 2 N^2 r, softmax as attention/kernel.h, values 2 N^2 dh, out as exact.
 * (The factor counts are estimates of LAPACK's work, not executed-instruction counts.)
 *
 * No causal variant (a causal key_mask is refused, ST_INVALID): the QRs and the SVD are of the
 * whole sequence's Q_h and K_h, so every coordinate q~_i, k~_j depends on every token, later
 * ones included; masking the scores afterwards would still let later tokens change earlier
 * outputs. A factorisation that is causal row by row would have to be fitted to each row's
 * prefix alone, and the optimal rank-r approximation of one row of logits is that row itself
 * (rank 1): exact attention, with factorisations on top. Causal models use the weight-level
 * factors (lowrank.h), fixed weights that never see the input. */
#ifndef DRRL_ATTENTION_ACTIVATION_H
#define DRRL_ATTENTION_ACTIVATION_H

#include <stddef.h>

#include "attention/flops.h"
#include "core/err.h"
#include "core/mem.h"
#include "nn/attention.h"
#include "nn/mhsa.h"

typedef struct {
    int max_B, max_N, d, H, dh, threads;
    float *q, *k, *v, *a; /* (max_B, max_N, d) exact projections and attention output */
    float *qr, *kr;       /* (max_B, max_N, H*dh) rank-r coordinates of the last forward:
                             row stride H*r, head h at columns [h r, h r + r) */
    float *fwork;         /* (threads, fwork_len) per-thread float work: Q and K copies
                             (column-major N x dh each), taus, sgeqrf/sorgqr work, W (dh, dh) x 2 */
    double *dwork;        /* (threads, dwork_len) per-thread double work: R_q, R_k, core, U, VT,
                             S, dgesdd work */
    int32_t *iwork;       /* (threads, 8 dh) dgesdd integer work */
    size_t fwork_len, dwork_len;
    int lwork_s, lwork_d; /* LAPACK workspace sizes (floats / doubles) */
    float *scratch;       /* attention kernel scratch */
    size_t scratch_len;
    MemPlan plan;
} AttnActivation;

Status attn_activation_init(AttnActivation *A, int max_B, int max_N, int d, int H, Err *e);
void attn_activation_free(AttnActivation *A);

/* attn_activation_forward: y (B, N, d) with the rank-r activation-level logits of every
   (b, h); 1 <= r <= dh (r = dh: exact attention up to rounding). ST_NUMERIC if LAPACK fails.
   A->qr and A->kr hold the coordinates afterwards (row stride H*r). */
Status attn_activation_forward(float *y /* (B, N, d) */, AttnActivation *A,
                               const float *x /* (B, N, d) */, AttnMask key_mask,
                               const MhsaParams *p, int B, int N, int r, AttnFlops *fl, Err *e);

#endif
