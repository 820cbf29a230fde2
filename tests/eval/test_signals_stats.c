/* test_signals_stats.c: drrl-signals' accounting (eval/signals_stats.h) against closed forms:
 *   - average ranks with ties: x = (3, 1, 4, 1, 5) -> (3, 1.5, 4, 1.5, 5);
 *   - Spearman of a permutation without ties: 1 - 6 sum d^2 / (n (n^2 - 1)) (n = 5, ranks
 *     (2, 1, 4, 3, 5): 0.8; reversed: -1), invariance under a monotone map, with ties
 *     (x = (1, 2, 2, 3), y = (1, 2, 3, 4): 4.5 / sqrt(4.5 * 5)), constant input: NaN;
 *   - the lower hull of five points and its value (interpolated, below range NaN, right of
 *     range the last vertex);
 *   - the oracle frontier of two inputs with per-input costs: input 0 c = (1, 2), KL = (1, 0);
 *     input 1 c = (1, 3), KL = (4, 0): vertices (1, 2.5), (2, 0.5), (2.5, 0), so 1.5 at
 *     mean cost 1.5 (input 1 gains 2 per unit of cost, input 0 only 1);
 *   - the rule at mean cost 1.5: input 1 first (half of it moves): 1.5, the oracle; input 0
 *     first (all of it, then none of input 1): 2.0; the static hull there 2.5 - 2.5/3 = 1.667;
 *     outside [c(lo), c(hi)]: NaN;
 *   - sig_order: decreasing signal, ties by index, and the reversed sign. */
#include <math.h>
#include <stdlib.h>

#include "eval/signals_stats.h"
#include "tests/check.h"

static void test_spearman(void) {
    double r[5], w[10];
    int iw[5];
    const double x[5] = {3, 1, 4, 1, 5}, er[5] = {3, 1.5, 4, 1.5, 5};
    sig_avg_ranks(r, x, 5, iw);
    for (int i = 0; i < 5; i++) CHECK(r[i] == er[i], "rank %d: %g, expected %g", i, r[i], er[i]);
    const double a[5] = {10, 20, 30, 40, 50}, b[5] = {2, 1, 4, 3, 5}, c[5] = {5, 4, 3, 2, 1};
    CHECK_CLOSE(sig_spearman(a, b, 5, w, iw), 0.8, 0, 1e-12, "permutation");
    CHECK_CLOSE(sig_spearman(a, c, 5, w, iw), -1, 0, 1e-12, "reversed");
    double be[5];
    for (int i = 0; i < 5; i++) be[i] = exp(3 * b[i]);
    CHECK_CLOSE(sig_spearman(a, be, 5, w, iw), 0.8, 0, 1e-12, "monotone map");
    const double t[4] = {1, 2, 2, 3}, u[4] = {1, 2, 3, 4};
    CHECK_CLOSE(sig_spearman(t, u, 4, w, iw), 4.5 / sqrt(4.5 * 5), 0, 1e-12, "ties");
    const double k[4] = {7, 7, 7, 7};
    CHECK(isnan(sig_spearman(k, u, 4, w, iw)), "constant: NaN");
}

static void test_hull(void) {
    SigPoint p[5] = {{0, 1}, {1, 0.2}, {0.5, 0.8}, {2, 0.1}, {1, 0.5}};
    const int nh = sig_hull(p, 5);
    CHECK(nh == 3 && p[0].x == 0 && p[1].x == 1 && p[1].y == 0.2 && p[2].x == 2,
          "hull: %d vertices", nh);
    CHECK_CLOSE(sig_hull_at(p, nh, 0.5), 0.6, 0, 1e-12, "at 0.5");
    CHECK_CLOSE(sig_hull_at(p, nh, 1.5), 0.15, 0, 1e-12, "at 1.5");
    CHECK_CLOSE(sig_hull_at(p, nh, 3), 0.1, 0, 1e-12, "right of range");
    CHECK(isnan(sig_hull_at(p, nh, -1)), "below range: NaN");
}

static void test_oracle_rule(void) {
    const double kl[4] = {1, 0, 4, 0}, cost[4] = {1, 2, 1, 3};
    SigPoint *h = NULL;
    int nh = 0;
    Err e;
    CHECK(sig_oracle_hull(kl, cost, 2, 2, &h, &nh, &e) == ST_OK, "oracle");
    CHECK(nh == 3, "oracle: %d vertices, expected 3", nh);
    if (nh == 3) {
        CHECK_CLOSE(h[0].x, 1, 0, 1e-12, "v0 x");
        CHECK_CLOSE(h[0].y, 2.5, 0, 1e-12, "v0 y");
        CHECK_CLOSE(h[1].x, 2, 0, 1e-12, "v1 x");
        CHECK_CLOSE(h[1].y, 0.5, 0, 1e-12, "v1 y");
        CHECK_CLOSE(h[2].x, 2.5, 0, 1e-12, "v2 x");
        CHECK_CLOSE(h[2].y, 0, 0, 1e-12, "v2 y");
    }
    CHECK_CLOSE(sig_hull_at(h, nh, 1.5), 1.5, 0, 1e-12, "oracle at 1.5");
    free(h);
    const int o10[2] = {1, 0}, o01[2] = {0, 1};
    CHECK_CLOSE(sig_rule_kl(kl, cost, 2, 2, o10, 0, 1, 1.5), 1.5, 0, 1e-12, "rule 1 first");
    CHECK_CLOSE(sig_rule_kl(kl, cost, 2, 2, o01, 0, 1, 1.5), 2.0, 0, 1e-12, "rule 0 first");
    CHECK(isnan(sig_rule_kl(kl, cost, 2, 2, o01, 0, 1, 2.6)), "above c(hi): NaN");
    CHECK(isnan(sig_rule_kl(kl, cost, 2, 2, o01, 0, 1, 0.9)), "below c(lo): NaN");
    SigPoint st[2] = {{1, 2.5}, {2.5, 0}};
    CHECK_CLOSE(sig_hull_at(st, sig_hull(st, 2), 1.5), 2.5 - 2.5 / 3, 0, 1e-12, "static");
}

static void test_order(void) {
    const double s[5] = {0.3, 0.9, 0.3, -1, 0.9};
    int o[5];
    sig_order(o, s, 5, 1);
    const int up[5] = {1, 4, 0, 2, 3}, dn[5] = {3, 0, 2, 1, 4};
    for (int i = 0; i < 5; i++) CHECK(o[i] == up[i], "order %d: %d, expected %d", i, o[i], up[i]);
    sig_order(o, s, 5, -1);
    for (int i = 0; i < 5; i++)
        CHECK(o[i] == dn[i], "reversed %d: %d, expected %d", i, o[i], dn[i]);
}

int main(void) {
    test_spearman();
    test_hull();
    test_oracle_rule();
    test_order();
    return check_exit("test_signals_stats");
}
