/* performer_features.c: FAVOR+'s fixed orthogonal random features (see performer.h).
 * Block j (rows [j dh, (j+1) dh)): G (dh, dh) with N(0, 1) entries, rows orthonormalised by
 * modified Gram-Schmidt run twice (double precision), then row r scaled by ||g_r|| for an
 * independent g_r ~ N(0, I_dh): the norm of a Gaussian vector is chi(dh), so w_l has the
 * length distribution of an N(0, I) sample while rows within a block are orthogonal. */
#include "attention/performer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* orthonormalise the rows of G (d, d) in place: modified Gram-Schmidt, two passes */
static void gram_schmidt(double *G /* (d, d) */, int d) {
    for (int r = 0; r < d; r++) {
        double *g = G + (size_t)r * d;
        for (int pass = 0; pass < 2; pass++)
            for (int p = 0; p < r; p++) {
                const double *u = G + (size_t)p * d;
                double dot = 0.0;
                for (int c = 0; c < d; c++) dot += g[c] * u[c];
                for (int c = 0; c < d; c++) g[c] -= dot * u[c];
            }
        double nrm = 0.0;
        for (int c = 0; c < d; c++) nrm += g[c] * g[c];
        nrm = sqrt(nrm);
        for (int c = 0; c < d; c++) g[c] /= nrm; /* nrm > 0 with probability 1 */
    }
}

Status performer_features_init(PerformerFeatures *f, int m, int dh, uint64_t seed, Err *e) {
    memset(f, 0, sizeof *f);
    if (m < 1 || dh < 1)
        return err_set(e, ST_INVALID, "performer_features_init: expected m >= 1 and dh >= 1, "
                       "found m=%d dh=%d", m, dh);
    const size_t d = (size_t)dh;
    f->w = malloc((size_t)m * d * sizeof(float));
    double *G = malloc(d * d * sizeof(double));
    if (!f->w || !G) {
        free(f->w), free(G);
        f->w = NULL;
        return err_set(e, ST_NOMEM, "performer_features_init: cannot allocate %d x %d features",
                       m, dh);
    }
    f->m = m, f->dh = dh, f->seed = seed;
    Rng r;
    rng_init(&r, seed, PERFORMER_RNG_STREAM);
    for (int row0 = 0; row0 < m; row0 += dh) {
        for (size_t i = 0; i < d * d; i++) G[i] = rng_normal(&r);
        gram_schmidt(G, dh);
        /* chi(dh) row norms, always dh of them so that prefixes of a draw are draws */
        for (int rr = 0; rr < dh; rr++) {
            double s = 0.0;
            for (int c = 0; c < dh; c++) {
                double z = rng_normal(&r);
                s += z * z;
            }
            if (row0 + rr >= m) continue;
            const double nrm = sqrt(s);
            float *w = f->w + (size_t)(row0 + rr) * d;
            for (int c = 0; c < dh; c++) w[c] = (float)(G[(size_t)rr * d + c] * nrm);
        }
    }
    free(G);
    return ST_OK;
}

void performer_features_free(PerformerFeatures *f) {
    free(f->w);
    f->w = NULL;
}
