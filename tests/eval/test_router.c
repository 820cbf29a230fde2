/* test_router.c: drrl-router's pieces against hand computations:
 *   - the ridge fit of one feature x = (1, 2, 3, 4), y = log(KL + 1e-12) = (0, 1, 1, 3):
 *     mean 2.5, std sqrt(1.25), b = mean y = 1.25, w = (sum z y / n) / (1 + lambda) (z'z/n = 1)
 *     at lambda 0.5; the saved file read back equal; prediction b + w z;
 *   - the cascade's costs of two inputs, ranks 2, 4 and full: attention FLOPs (10, 20, 100),
 *     (30, 50, 300); rest 100, 300; features 4, 8; ms (1, 1.5, 3; cheap 1.2), (2, 3, 5; cheap
 *     2.5); KL (0.1, 0.01, 0), (0.2, 0.05, 0); predictions (1, 1, 1), (0, 1, 1); labels 1, 1.
 *     Choices (0, 1): attention (10/200 + 80/200) / 2 = 0.225, model ((10+100+4)/400 +
 *     (30+300+8+50+300)/400) / 2 = 1.0025, latency (1.2/4 + 5.5/4) / 2 = 0.8375, KL 0.075,
 *     accuracy 1, agreement 1, escalated 0.5. Choices (2, 0): 0.35, 0.815, 0.8375, KL 0.1,
 *     accuracy 0.5, agreement 0.5;
 *   - the route: predictions (-1, -3), (-2, -5): log tau -1.5 gives (1, 0), -4 gives (2, 1);
 *   - the rule's points: order by decreasing -s, first point = nobody escalated;
 *   - the hull's value with its mixing weight. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/router_cascade.h"
#include "eval/router_fit.h"
#include "tests/check.h"

static void test_fit(void) {
    static RouterData d;
    static Router rt, back;
    char nm[1][ROUTER_NAME] = {"f"};
    double col[4] = {1, 2, 3, 4}, kl[8], yv[4] = {0, 1, 1, 3};
    for (int i = 0; i < 4; i++) kl[2 * i] = exp(yv[i]) - ROUTER_KL_EPS, kl[2 * i + 1] = 0;
    d.n = 4, d.ncol = 1, d.name = nm, d.col = col, d.nr = 1, d.M = 2, d.ranks[0] = 8, d.kl = kl;
    rt.P = 1, rt.nl = 1, rt.lambdas[0] = 0.5, rt.folds = 2;
    snprintf(rt.feat[0], ROUTER_NAME, "f");
    Err e;
    CHECK(router_fit(&rt, &d, &e) == ST_OK, "fit: %s", e.msg);
    const double sd = sqrt(1.25);
    double zy = 0;
    for (int i = 0; i < 4; i++) zy += (col[i] - 2.5) / sd * yv[i] / 4;
    CHECK_CLOSE(rt.mean[0], 2.5, 1e-12, 0, "mean");
    CHECK_CLOSE(rt.std[0], sd, 1e-12, 0, "std");
    CHECK_CLOSE(rt.b[0], 1.25, 1e-9, 0, "intercept");
    CHECK_CLOSE(rt.w[0][0], zy / 1.5, 1e-9, 0, "weight");
    CHECK(rt.lambda[0] == 0.5, "lambda %g", rt.lambda[0]);
    const char *path = "test_router.txt";
    CHECK(router_save(&rt, path, &e) == ST_OK, "save: %s", e.msg);
    CHECK(router_load(&back, path, &e) == ST_OK, "load: %s", e.msg);
    remove(path);
    CHECK(back.P == 1 && back.nr == 1 && back.ranks[0] == 8 && back.w[0][0] == rt.w[0][0] &&
              back.b[0] == rt.b[0] && back.mean[0] == rt.mean[0] && back.std[0] == rt.std[0] &&
              !strcmp(back.feat[0], "f"), "file read back differs");
    double yhat[4];
    CHECK(router_predict(&back, &d, yhat, &e) == ST_OK, "predict: %s", e.msg);
    CHECK_CLOSE(yhat[3], 1.25 + zy / 1.5 * 1.5 / sd, 1e-9, 0, "prediction");
}

static void test_cascade(void) {
    static RouterData d;
    double attn[6] = {10, 20, 100, 30, 50, 300}, kl[6] = {0.1, 0.01, 0, 0.2, 0.05, 0};
    double pred[6] = {1, 1, 1, 0, 1, 1}, rest[2] = {100, 300}, feat[2] = {4, 8}, label[2] = {1, 1};
    double ms[8] = {1, 1.5, 3, 1.2, 2, 3, 5, 2.5};
    d.n = 2, d.nr = 2, d.M = 3, d.ranks[0] = 2, d.ranks[1] = 4;
    d.kl = kl, d.attn = attn, d.pred = pred, d.rest = rest, d.feat = feat, d.label = label, d.ms = ms;
    CascadeCosts cc;
    memset(&cc, 0, sizeof cc);
    Err e;
    CHECK(cascade_costs(&cc, &d, &e) == ST_OK, "costs: %s", e.msg);
    const int c1[2] = {0, 1}, c2[2] = {2, 0};
    CascadePoint p = cascade_point(&cc, &d, c1), q = cascade_point(&cc, &d, c2);
    const double want[2][8] = {{0.225, 1.0025, 0.8375, 0.075, 1, 1, 0.5},
                               {0.35, 0.815, 0.8375, 0.1, 0.5, 0.5, 0.5}};
    const CascadePoint *pp[2] = {&p, &q};
    for (int k = 0; k < 2; k++) {
        const CascadePoint *x = pp[k];
        const double got[7] = {x->cost[0], x->cost[1], x->cost[2], x->kl, x->acc, x->agree, x->esc};
        for (int j = 0; j < 7; j++)
            CHECK_CLOSE(got[j], want[k][j], 1e-12, 1e-15, "cascade point value");
    }
    const double yhat[4] = {-1, -3, -2, -5};
    int ch[2];
    cascade_route(yhat, 2, 3, -1.5, ch);
    CHECK(ch[0] == 1 && ch[1] == 0, "route -1.5: (%d, %d), expected (1, 0)", ch[0], ch[1]);
    cascade_route(yhat, 2, 3, -4, ch);
    CHECK(ch[0] == 2 && ch[1] == 1, "route -4: (%d, %d), expected (2, 1)", ch[0], ch[1]);
    CascadePoint rp[6];
    const double s[2] = {5, 1}; /* sign -1: input 1 (lower s) escalates first */
    CHECK(cascade_rule_points(&cc, &d, s, -1, rp, &e) == ST_OK, "rule: %s", e.msg);
    CHECK_CLOSE(rp[0].cost[0], (0.05 + 0.15) / 2, 1e-12, 0, "rule: nobody escalated");
    CHECK_CLOSE(rp[1].cost[0], (0.05 + 0.4) / 2, 1e-12, 0, "rule: input 1 to rank 4");
    CHECK_CLOSE(rp[1].kl, (0.1 + 0.05) / 2, 1e-12, 0, "rule: its KL");
    CHECK_CLOSE(rp[5].cost[0], (0.55 + 1.65) / 2, 1e-12, 0, "rule: both to full");
    cascade_costs_free(&cc);
}

static void test_frontier(void) {
    const double x[5] = {0, 1, 0.5, 2, 1}, y[5] = {1, 0.2, 0.8, 0.1, 0.5};
    int idx[5], a, b;
    double t;
    const int nh = frontier_hull(x, y, 5, idx);
    CHECK(nh == 3 && idx[0] == 0 && idx[1] == 1 && idx[2] == 3, "hull: %d points", nh);
    CHECK(frontier_at(x, y, idx, nh, 0.25, &a, &b, &t) == 0 && a == 0 && b == 1 &&
              fabs(t - 0.25) < 1e-12, "at 0.25: %d %d %g", a, b, t);
    CHECK(frontier_at(x, y, idx, nh, -1, &a, &b, &t) == -1, "left of the hull");
    CHECK(frontier_at(x, y, idx, nh, 5, &a, &b, &t) == 0 && a == 3 && b == 3, "right: last vertex");
}

int main(void) {
    test_fit();
    test_cascade();
    test_frontier();
    return check_exit("test_router");
}
