/* moment.c: calibration second moment M = E[x~^T x~] of a layer's inputs (real tokens
 * only, x~ = [x, 1]) accumulated in double by rank-k updates of gathered chunks, and the
 * ridge-regularised Cholesky whitener M + lambda tr(M)/(d+1) I = L L^T (see moment.h). */
#include "attention/moment.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "core/sha256.h"

Status attn_moment_init(AttnMoment *m, int d, Err *e) {
    memset(m, 0, sizeof *m);
    if (d < 1) return err_set(e, ST_INVALID, "attn_moment_init: expected d >= 1, found %d", d);
    m->d = d;
    const size_t D = (size_t)d + 1;
    mem_plan_init(&m->plan);
    mem_plan_f64(&m->plan, &m->sum, D * D, "attn_moment.sum");
    mem_plan_f64(&m->plan, &m->chunk, (size_t)ATTN_MOMENT_CHUNK * D, "attn_moment.chunk");
    return mem_plan_alloc(&m->plan, e);
}

void attn_moment_free(AttnMoment *m) {
    mem_plan_free(&m->plan);
    memset(m, 0, sizeof *m);
}

void attn_moment_reset(AttnMoment *m) {
    const size_t D = (size_t)m->d + 1;
    memset(m->sum, 0, D * D * sizeof(double));
    m->count = 0;
}

/* sum += chunk^T chunk for the first n gathered rows (lower triangle; mirrored on get) */
static void flush(AttnMoment *m, int n) {
    if (n == 0) return;
    const int D = m->d + 1;
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, D, n, 1.0, m->chunk, D, 1.0, m->sum, D);
    m->count += n;
}

void attn_moment_add(AttnMoment *m, const float *x, AttnMask key_mask, int B, int N) {
    const int d = m->d, D = d + 1;
    int n = 0;
    for (size_t t = 0; t < (size_t)B * N; t++) {
        int keep = 1;
        if (key_mask.type == ATTN_MASK_I32) keep = ((const int32_t *)key_mask.data)[t] != 0;
        if (key_mask.type == ATTN_MASK_U8) keep = ((const uint8_t *)key_mask.data)[t] != 0;
        if (!keep) continue;
        double *row = m->chunk + (size_t)n * D;
        for (int i = 0; i < d; i++) row[i] = x[t * d + i];
        row[d] = 1.0;
        if (++n == ATTN_MOMENT_CHUNK) {
            flush(m, n);
            n = 0;
        }
    }
    flush(m, n);
}

Status attn_moment_get(double *M, const AttnMoment *m, Err *e) {
    if (m->count <= 0)
        return err_set(e, ST_INVALID, "attn_moment_get: no tokens accumulated");
    const int D = m->d + 1;
    const double s = 1.0 / m->count;
    for (int i = 0; i < D; i++)
        for (int j = 0; j <= i; j++)
            M[(size_t)i * D + j] = M[(size_t)j * D + i] = m->sum[(size_t)i * D + j] * s;
    return ST_OK;
}

Status attn_whitener(double *L, const double *M, int d, double ridge, Err *e) {
    const int D = d + 1;
    double tr = 0;
    for (int i = 0; i < D; i++) tr += M[(size_t)i * D + i];
    if (!(tr > 0) || !isfinite(tr) || !(ridge >= 0))
        return err_set(e, ST_NUMERIC,
                       "attn_whitener: expected a finite positive trace and ridge >= 0, found "
                       "trace %g, ridge %g",
                       tr, ridge);
    const double add = ridge * tr / D;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            L[(size_t)i * D + j] = j <= i ? M[(size_t)i * D + j] + (i == j ? add : 0.0) : 0.0;
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', D, L, D);
    if (info != 0)
        return err_set(e, ST_NUMERIC,
                       "attn_whitener: Cholesky of the moment matrix (ridge %g) failed: LAPACK "
                       "info %d (%s)",
                       ridge, (int)info,
                       info > 0 ? "not positive definite; use a ridge > 0" : "bad argument");
    return ST_OK;
}

void attn_moment_hash(char hex[65], const double *M, int d, double ridge) {
    Sha256 s;
    sha256_init(&s);
    const size_t D = (size_t)d + 1;
    sha256_update(&s, M, D * D * sizeof(double));
    sha256_update(&s, &ridge, sizeof ridge);
    uint8_t dig[32];
    sha256_final(&s, dig);
    sha256_hex(dig, hex);
}
