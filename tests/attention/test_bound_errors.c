/* test_bound_errors: the error paths of attention/bound.h: a non-finite factor is refused at
 * bound_layer_prepare with the head named, ranks outside 0..dh and batches beyond the
 * workspace are refused by bound_compute, and the batch guardrail mask (allow_all is the AND
 * over sequences, full rank never masked, a negative epsilon refused). Checked for factors in
 * both layouts bound.h accepts, (H, rows, dh) and (rows, H*dh), of random finite values (the
 * error paths do not depend on the factors being a truncated SVD; that the bounds hold is
 * test_bound.c's). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attention/bound.h"
#include "core/mem.h"
#include "core/rng.h"
#include "tests/attention/bound_ref.h"
#include "tests/attention/util.h"
#include "tests/check.h"

/* check_errors: argument errors, non-finite factors, the batch mask, for the factors good of
   a layer of width d with H heads of size dh; nan_at: an element of good->a_qk in head H-1 */
static void check_errors(const BoundFactors *good, size_t nan_at, int d, int H, int dh) {
    int D = d + 1;
    Err e;
    MemPlan plan;
    BoundLayer bl;
    BoundWork w;
    bound_plan_alloc(&plan, &bl, &w, d, H, dh, 2, 4, 2);
    float *bad = malloc(sizeof(float) * H * D * dh);
    memcpy(bad, good->a_qk, sizeof(float) * H * D * dh);
    bad[nan_at] = NAN;
    BoundFactors f = *good;
    f.a_qk = bad;
    CHECK(bound_layer_prepare(&bl, &f, &e) == ST_NUMERIC && strstr(e.msg, "head"), "%s", e.msg);
    f.a_qk = good->a_qk;
    CHECK(bound_layer_prepare(&bl, &f, &e) == ST_OK, "%s", e.msg);
    float x[2 * 4 * 64] = {0};
    int ranks[2] = {1, dh + 1};
    double fro[4];
    BoundOut out = {NULL, fro, NULL, NULL, NULL};
    CHECK(bound_compute(&out, &w, NULL, x, attn_mask_none(), &bl, BOUND_TIGHT, ranks, 2, 2, 4,
                        &e) == ST_INVALID && strstr(e.msg, "ranks[1]"), "%s", e.msg);
    ranks[1] = dh;
    CHECK(bound_compute(&out, &w, NULL, x, attn_mask_none(), &bl, BOUND_TIGHT, ranks, 2, 3, 4,
                        &e) == ST_INVALID, "B beyond the workspace accepted");
    CHECK(bound_compute(&out, &w, NULL, x, attn_mask_none(), &bl, BOUND_TIGHT, ranks, 2, 2, 4,
                        &e) == ST_OK, "%s", e.msg);
    /* batch mask: allow_all is the AND over sequences; full rank is never masked */
    double fr[4] = {0.01, 5, 0.2, 7}, yn[2] = {1, 1};
    uint8_t allow[4], all[2];
    int nm = 0;
    CHECK(bound_mask(allow, all, &nm, fr, yn, ranks, 2, 2, dh, 0.1, &e) == ST_OK, "%s", e.msg);
    CHECK(allow[0] == 1 && allow[1] == 1 && allow[2] == 0 && allow[3] == 1 && all[0] == 0 &&
              all[1] == 1 && nm == 1, "mask %d %d %d %d all %d %d nm %d", allow[0], allow[1],
          allow[2], allow[3], all[0], all[1], nm);
    CHECK(bound_mask(allow, all, &nm, fr, yn, ranks, 2, 2, dh, -1, &e) == ST_INVALID,
          "negative epsilon accepted");
    free(bad);
    mem_plan_free(&plan);
}

int main(void) {
    const int d = 16, H = 2, dh = d / H, D = d + 1;
    Rng r;
    rng_init(&r, 20240531, 5);
    /* a_qk, b_qk, a_vo ((d+1) H dh each) and b_vo (d H dh), N(0, 1) */
    float *fac = malloc(sizeof(float) * (3 * D + d) * H * dh);
    tu_normal(fac, (size_t)(3 * D + d) * H * dh, 1.0f, &r);
    float *fa = fac, *fb = fa + D * H * dh, *fc = fb + D * H * dh, *fd = fc + D * H * dh;
    /* layout (H, rows, dh): head H-1 starts at (H-1) (d+1) dh; layout (rows, H*dh): head H-1
       is columns (H-1) dh.. of every row (here row 3) */
    BoundFactors heads = {fa, fb, fc, fd, dh, (size_t)D * dh, (size_t)d * dh};
    BoundFactors wide = {fa, fb, fc, fd, H * dh, (size_t)dh, (size_t)dh};
    check_errors(&heads, (size_t)(H - 1) * D * dh + 3, d, H, dh);
    check_errors(&wide, (size_t)3 * H * dh + (size_t)(H - 1) * dh, d, H, dh);
    free(fac);
    return check_exit("test_bound_errors");
}
