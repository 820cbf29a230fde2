/* test_index_layers_grad.c: forward and backward checks for the nn/ layers driven by integer
 * data alongside the floats: embedding (ids), dropout (keep masks) and cross-entropy (targets).
 *
 * Method, per layer: an independent naive double-precision reference forward (the float
 * forward must match it, or be an exact gather), every backward against central finite
 * differences on the double reference (L = sum(g .* y) with a fixed random non-uniform
 * upstream gradient g, step h = 1e-5), and the accumulate convention (a second backward call
 * doubles every gradient buffer). Plus: embedding scatter-add with repeated and unused ids,
 * dropout statistics, determinism and identity modes, ignored cross-entropy targets and huge
 * logits. The dense layers: test_layers_grad.c. Tolerances and their derivation:
 * layers_grad_util.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/rng.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/loss.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/nn/layers_grad_util.h"
#include "tests/ref.h"

/* ---------------------------------------------------------------- embedding */

typedef struct {
    double table[NV * NC], g[NE * NC], y[NE * NC];
    const int32_t *ids;
} EmbCtx;

static void ref_embedding(double *y, const int32_t *ids, const double *table) {
    for (int i = 0; i < NE; i++)
        for (int c = 0; c < NC; c++) y[i * NC + c] = table[ids[i] * NC + c];
}

static double emb_loss(void *p) {
    EmbCtx *c = p;
    ref_embedding(c->y, c->ids, c->table);
    return ref_dot(c->g, c->y, NE * NC);
}

static void test_embedding(Rng *r) {
    /* id 2 three times, id 0 twice, id 5 never */
    static const int32_t ids[NE] = {2, 0, 3, 2, 1, 0, 4, 2, 3};
    float table[NV * NC], g[NE * NC], y[NE * NC];
    static EmbCtx c;
    c.ids = ids;
    fill_xg(r, table, c.table, NV * NC, g, c.g, NE * NC);

    embedding_forward(y, ids, table, NE, NV, NC);
    ref_embedding(c.y, ids, c.table);
    int exact = 1;
    for (int i = 0; i < NE * NC; i++) exact &= (double)y[i] == c.y[i];
    CHECK(exact, "embedding forward is not an exact gather");

    float dt[NV * NC] = {0};
    embedding_backward(dt, g, ids, NE, NV, NC);
    double ft[NV * NC];
    fd_grad(ft, c.table, NV * NC, emb_loss, &c);
    check_grad("embedding dtable", dt, ft, NV * NC);
    for (int k = 0; k < NC; k++) {
        CHECK(dt[5 * NC + k] == 0.0f, "unused id 5 got gradient %g", dt[5 * NC + k]);
        /* id 2 at positions 0, 3, 7: sum in the same order as the scatter */
        float s = 0.0f;
        s += g[0 * NC + k];
        s += g[3 * NC + k];
        s += g[7 * NC + k];
        CHECK(dt[2 * NC + k] == s, "repeated id 2 scatter-add %g vs %g", dt[2 * NC + k], s);
    }

    float dt1[NV * NC];
    memcpy(dt1, dt, sizeof dt);
    embedding_backward(dt, g, ids, NE, NV, NC);
    check_accum("embedding dtable accum", dt, dt1, NV * NC);
}

/* ---------------------------------------------------------------- dropout */

#define DN 100000
#define DP 0.3f

typedef struct {
    double x[NACT], g[NACT], y[NACT];
    const uint8_t *mask;
    double scale;
} DropCtx;

static double drop_loss(void *p) {
    DropCtx *c = p;
    for (int i = 0; i < NACT; i++) c->y[i] = c->mask[i] ? c->x[i] * c->scale : 0.0;
    return ref_dot(c->g, c->y, NACT);
}

static void test_dropout(Rng *r) {
    static float x[DN], y[DN], y2[DN], dx[DN], g[DN];
    static uint8_t mask[DN], mask2[DN];
    ref_fill_randn(r, x, DN, 0.3, 2.0, 0.1);
    ref_fill_randn(r, g, DN, 0.2, 1.5, 0.1);

    Rng d1, d2;
    rng_init(&d1, 1234, 7);
    rng_init(&d2, 1234, 7);
    dropout_forward(y, mask, x, DP, 1, &d1, DN);
    dropout_forward(y2, mask2, x, DP, 1, &d2, DN);
    CHECK(memcmp(mask, mask2, DN) == 0 && memcmp(y, y2, sizeof y) == 0,
          "same seed gives a different mask");
    dropout_forward(y2, mask2, x, DP, 1, &d1, DN); /* the stream moved on */
    CHECK(memcmp(mask, mask2, DN) != 0, "the Rng was not consumed");

    /* keep fraction within 4 standard errors of 1 - p */
    size_t kept = 0;
    int vals_ok = 1, zero_ok = 1;
    double scale = 1.0 / (1.0 - (double)DP);
    for (size_t i = 0; i < DN; i++) {
        if (mask[i]) {
            kept++;
            vals_ok &= fabs((double)y[i] - x[i] * scale) <= 1e-6 * fabs(x[i] * scale);
        } else {
            zero_ok &= y[i] == 0.0f;
        }
        vals_ok &= mask[i] == DROPOUT_KEEP || mask[i] == DROPOUT_DROP;
    }
    double frac = (double)kept / DN, q = 1.0 - (double)DP;
    double se = sqrt(q * (1.0 - q) / DN);
    CHECK(fabs(frac - q) <= 4.0 * se, "keep fraction %g, expected %g +- %g", frac, q, 4 * se);
    CHECK(vals_ok, "kept values not scaled by 1/(1-p) (or mask not 0/1)");
    CHECK(zero_ok, "dropped values not zero");

    /* backward reuses the mask: dinp = dout * mask / (1 - p) */
    memset(dx, 0, sizeof dx);
    dropout_backward(dx, g, mask, DP, DN);
    int bw_ok = 1;
    for (size_t i = 0; i < DN; i++) {
        double want = mask[i] ? g[i] * scale : 0.0;
        bw_ok &= fabs((double)dx[i] - want) <= 1e-6 * fabs(want);
    }
    CHECK(bw_ok, "dropout backward does not follow the mask");

    /* FD on a small slice, with the mask fixed (dropout is then linear in x) */
    static DropCtx c;
    c.mask = mask;
    c.scale = scale;
    ref_to_double(c.x, x, NACT);
    ref_to_double(c.g, g, NACT);
    double fx[NACT];
    fd_grad(fx, c.x, NACT, drop_loss, &c);
    float dxs[NACT] = {0};
    dropout_backward(dxs, g, mask, DP, NACT);
    check_grad("dropout dinp", dxs, fx, NACT);
    float dxs1[NACT];
    memcpy(dxs1, dxs, sizeof dxs);
    dropout_backward(dxs, g, mask, DP, NACT);
    check_accum("dropout dinp accum", dxs, dxs1, NACT);

    /* eval mode and p = 0: identity, pass-through mask, Rng untouched */
    uint64_t s0[RNG_STATE_WORDS], s1[RNG_STATE_WORDS];
    rng_save(&d1, s0);
    dropout_forward(y2, mask2, x, DP, 0, &d1, DN);
    CHECK(memcmp(y2, x, sizeof y2) == 0, "eval-mode dropout is not the identity");
    memset(dx, 0, sizeof dx);
    dropout_backward(dx, g, mask2, DP, DN); /* eval mask + the training p: still identity */
    CHECK(memcmp(dx, g, sizeof dx) == 0, "eval-mode dropout backward is not the identity");
    dropout_forward(y2, mask2, x, 0.0f, 1, &d1, DN);
    CHECK(memcmp(y2, x, sizeof y2) == 0, "p=0 dropout is not the identity");
    int ones = 1;
    for (size_t i = 0; i < DN; i++) ones &= mask2[i] == DROPOUT_PASS;
    CHECK(ones, "identity dropout mask not all DROPOUT_PASS");
    rng_save(&d1, s1);
    CHECK(memcmp(s0, s1, sizeof s0) == 0, "identity dropout consumed random numbers");
    memset(dx, 0, sizeof dx);
    dropout_backward(dx, g, mask2, 0.0f, DN);
    CHECK(memcmp(dx, g, sizeof dx) == 0, "p=0 dropout backward is not the identity");
}

/* ---------------------------------------------------------------- cross-entropy */

#define CB NM
#define CCL NC
#define CE_DLOSS 0.7

typedef struct {
    double z[CB * CCL], probs[CB * CCL], losses[CB];
    const int32_t *t;
} CeCtx;

/* returns the mean over non-ignored rows */
static double ref_ce(CeCtx *c) {
    double tot = 0.0;
    int valid = 0;
    for (int b = 0; b < CB; b++) {
        const double *z = c->z + b * CCL;
        double mx = z[0], s = 0.0;
        for (int k = 1; k < CCL; k++) mx = fmax(mx, z[k]);
        for (int k = 0; k < CCL; k++) s += exp(z[k] - mx);
        for (int k = 0; k < CCL; k++) c->probs[b * CCL + k] = exp(z[k] - mx) / s;
        if (c->t[b] < 0) {
            c->losses[b] = 0.0;
            continue;
        }
        c->losses[b] = mx + log(s) - z[c->t[b]];
        tot += c->losses[b];
        valid++;
    }
    return valid ? tot / valid : 0.0;
}

static double ce_loss(void *p) { return CE_DLOSS * ref_ce(p); }

static void test_crossentropy(Rng *r) {
    static const int32_t t[CB] = {3, CE_IGNORE, 0, 6, 3};
    float z[CB * CCL], probs[CB * CCL], losses[CB];
    ref_fill_randn(r, z, CB * CCL, 0.5, 3.0, 0.0);
    static CeCtx c;
    c.t = t;
    ref_to_double(c.z, z, CB * CCL);

    float mean = crossentropy_forward(losses, probs, z, t, CB, CCL);
    double rmean = ref_ce(&c);
    check_fwd("ce probs", probs, c.probs, CB * CCL);
    check_fwd("ce losses", losses, c.losses, CB);
    CHECK_CLOSE(mean, rmean, 1e-5, 0, "ce mean loss");
    CHECK(losses[1] == 0.0f, "ignored row loss %g", losses[1]);

    float dz[CB * CCL] = {0};
    crossentropy_backward(dz, probs, t, (float)CE_DLOSS, CB, CCL);
    double fz[CB * CCL];
    fd_grad(fz, c.z, CB * CCL, ce_loss, &c);
    check_grad("ce dlogits", dz, fz, CB * CCL);
    for (int k = 0; k < CCL; k++)
        CHECK(dz[1 * CCL + k] == 0.0f, "ignored row gradient %g", dz[1 * CCL + k]);

    float dz1[CB * CCL];
    memcpy(dz1, dz, sizeof dz);
    crossentropy_backward(dz, probs, t, (float)CE_DLOSS, CB, CCL);
    check_accum("ce dlogits accum", dz, dz1, CB * CCL);

    /* numerically stable for huge logits */
    float big[CCL], pb[CCL], lb;
    int32_t tb = 2;
    for (int k = 0; k < CCL; k++) big[k] = 5000.0f + (float)k;
    float mb = crossentropy_forward(&lb, pb, big, &tb, 1, CCL);
    double s = 0.0;
    for (int k = 0; k < CCL; k++) s += exp((double)k - 6.0);
    CHECK(isfinite(mb) && fabs(mb - (6.0 + log(s) - 2.0)) < 1e-4, "ce large logits: %g", mb);

    /* all ignored: zero loss, no gradient */
    static const int32_t tall[2] = {CE_IGNORE, CE_IGNORE};
    float l2[2], dz2[2 * CCL] = {0};
    CHECK(crossentropy_forward(l2, probs, z, tall, 2, CCL) == 0.0f, "all-ignored mean");
    crossentropy_backward(dz2, probs, tall, 1.0f, 2, CCL);
    for (int k = 0; k < 2 * CCL; k++) CHECK(dz2[k] == 0.0f, "all-ignored gradient");
}

int main(void) {
    Rng r;
    rng_init(&r, 20240601, 2); /* a stream of its own (test_layers_grad.c uses stream 1) */
    test_embedding(&r);
    test_dropout(&r);
    test_crossentropy(&r);
    return check_exit("test_index_layers_grad");
}
