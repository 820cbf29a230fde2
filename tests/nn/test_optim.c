/* test_optim.c: AdamW (nn/optim.h) against a closed-form step computed independently in
 * double, for three steps and two parameter groups sharing one step counter (one with
 * weight decay, one without, different betas/eps), including the bias corrections at
 * t = 1, 2, 3; against values printed by torch.optim.AdamW (float64) for the same case;
 * and grad_clip_norm against hand-computed norms (clip, no clip, measure only, NaN). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/optim.h"
#include "tests/check.h"

#define N1 5
#define N2 3

static double grad1(int i, int t) { return sin(i + 0.7 * t); }
static double grad2(int i, int t) { return cos(0.3 * i - t) * (i == 1 ? 0.1 : 1.0); }

/* closed-form reference in double, written from the definition:
 *   p <- p - lr wd p; m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2;
 *   mhat = m / (1 - b1^t); vhat = v / (1 - b2^t); p <- p - lr mhat / (sqrt(vhat) + eps)
 * (PyTorch writes the denominator as sqrt(v)/sqrt(1-b2^t) + eps, which is the same). */
static void ref_step(double *p, double *m, double *v, const double *g, int n, double lr,
                     double b1, double b2, double eps, double wd, int t) {
    for (int i = 0; i < n; i++) {
        p[i] -= lr * wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        double mhat = m[i] / (1 - pow(b1, t));
        double vhat = v[i] / (1 - pow(b2, t));
        p[i] -= lr * mhat / (sqrt(vhat) + eps);
    }
}

/* torch.optim.AdamW, float64, same groups and gradients (printed by /usr/bin/python3 with
 * torch 1.13): rows are t = 1, 2, 3. */
static const double torch_p1[3][N1] = {
    {0.48950000015522704, -1.2587499998991596, 1.9880000002339839, 0.0099999998112624035,
     3.0069999998999921},
    {0.47911588936288252, -1.2672189050759524, 1.984082008593407, 0.019750640629004126,
     3.0138456176371311},
    {0.46869108815023131, -1.2736881056588771, 1.9867812691711673, 0.029616984426859262,
     3.0192819721414499}};
static const double torch_p2[3][N2] = {
    {0.98000003701624583, -0.51999973851156689, 0.230000021714065},
    {0.97962895819556095, -0.52980870159594728, 0.21475061508930177},
    {0.99114080552828399, -0.52364433567065571, 0.21489298188237932}};

static void test_adamw(void) {
    float p1[N1] = {0.5f, -1.25f, 2.0f, 0.0f, 3.0f}, m1[N1] = {0}, v1[N1] = {0}, g1[N1];
    float p2[N2] = {1.0f, -0.5f, 0.25f}, m2[N2] = {0}, v2[N2] = {0}, g2[N2];
    double rp1[N1], rm1[N1] = {0}, rv1[N1] = {0}, rg1[N1];
    double rp2[N2], rm2[N2] = {0}, rv2[N2] = {0}, rg2[N2];
    for (int i = 0; i < N1; i++) rp1[i] = p1[i];
    for (int i = 0; i < N2; i++) rp2[i] = p2[i];

    AdamWGroup decay = adamw_group(1e-2f, 0.1f);
    CHECK(decay.beta1 == 0.9f && decay.beta2 == 0.999f && decay.eps == 1e-8f,
          "adamw_group defaults");
    AdamWGroup nodecay = {2e-2f, 0.8f, 0.99f, 1e-6f, 0.0f};
    OptimStep step = {0};

    for (int t = 1; t <= 3; t++) {
        /* the reference sees the same (float-rounded) gradients */
        for (int i = 0; i < N1; i++) rg1[i] = g1[i] = (float)grad1(i, t);
        for (int i = 0; i < N2; i++) rg2[i] = g2[i] = (float)grad2(i, t);
        double before1[N1];
        memcpy(before1, rp1, sizeof before1);

        optim_step_begin(&step);
        CHECK(step.t == t, "step counter %lld at step %d", (long long)step.t, t);
        adamw_update(p1, m1, v1, g1, &decay, &step, N1);
        adamw_update(p2, m2, v2, g2, &nodecay, &step, N2);
        /* the reference uses the float hyper-parameters widened to double */
        ref_step(rp1, rm1, rv1, rg1, N1, decay.lr, decay.beta1, decay.beta2, decay.eps,
                 decay.weight_decay, t);
        ref_step(rp2, rm2, rv2, rg2, N2, nodecay.lr, nodecay.beta1, nodecay.beta2, nodecay.eps,
                 nodecay.weight_decay, t);

        char what[64];
        /* float32 arithmetic on O(1) parameters with O(lr) updates: a few ulps of 1, so
           1e-6 absolute (+1e-6 relative) is ~10 ulps and far below one update (~1e-2). */
        for (int i = 0; i < N1; i++) {
            snprintf(what, sizeof what, "decay group p[%d] t=%d", i, t);
            CHECK_CLOSE(p1[i], rp1[i], 1e-6, 1e-6, what);
            CHECK_CLOSE(p1[i], torch_p1[t - 1][i], 1e-6, 1e-6, what);
            CHECK_CLOSE(m1[i], rm1[i], 1e-6, 1e-7, "m");
            CHECK_CLOSE(v1[i], rv1[i], 1e-6, 1e-9, "v");
        }
        for (int i = 0; i < N2; i++) {
            snprintf(what, sizeof what, "no-decay group p[%d] t=%d", i, t);
            CHECK_CLOSE(p2[i], rp2[i], 1e-6, 1e-6, what);
            CHECK_CLOSE(p2[i], torch_p2[t - 1][i], 1e-6, 1e-6, what);
        }
        if (t == 1) {
            /* bias correction at t = 1: mhat = g, vhat = g^2, so the Adam part of the step
               is lr * g / (|g| + eps) ~= lr * sign(g): the parameter moves by lr (after the
               decay), not by (1 - b1) lr as it would without correction. */
            for (int i = 0; i < N1; i++) {
                double decayed = before1[i] * (1.0 - (double)decay.lr * decay.weight_decay);
                double moved = decayed - p1[i];
                double expect = (double)decay.lr * rg1[i] / (fabs(rg1[i]) + decay.eps);
                CHECK_CLOSE(moved, expect, 1e-4, 1e-7, "t=1 step is lr*sign(g)");
            }
        }
    }
    /* the step counter starting at 0 is treated as t = 1 (no division by 1 - b^0 = 0) */
    {
        float p = 1.0f, m = 0.0f, v = 0.0f, g = 0.5f;
        OptimStep s0 = {0};
        AdamWGroup gr = adamw_group(0.1f, 0.0f);
        adamw_update(&p, &m, &v, &g, &gr, &s0, 1);
        CHECK(isfinite(p) && fabs(p - 0.9) < 1e-6, "t=0 treated as t=1: p=%g", (double)p);
    }
}

static void test_clip(void) {
    float a[2] = {3.0f, 4.0f}, b[1] = {12.0f};
    float *bufs[2] = {a, b};
    size_t counts[2] = {2, 1};
    /* no clip: norm sqrt(9 + 16 + 144) = 13 <= 20 */
    double n = grad_clip_norm(bufs, counts, 2, 20.0);
    CHECK_CLOSE(n, 13.0, 1e-12, 0, "norm (no clip)");
    CHECK(a[0] == 3.0f && a[1] == 4.0f && b[0] == 12.0f, "unchanged when below max_norm");
    /* measure only */
    n = grad_clip_norm(bufs, counts, 2, 0.0);
    CHECK_CLOSE(n, 13.0, 1e-12, 0, "norm (max_norm 0)");
    CHECK(a[0] == 3.0f && b[0] == 12.0f, "unchanged when max_norm <= 0");
    const float *cbufs[2] = {a, b};
    CHECK_CLOSE(grad_norm(cbufs, counts, 2), 13.0, 1e-12, 0, "grad_norm");
    /* clip to 6.5: scale 6.5 / (13 + 1e-6) ~= 0.5 */
    n = grad_clip_norm(bufs, counts, 2, 6.5);
    CHECK_CLOSE(n, 13.0, 1e-12, 0, "pre-clip norm returned");
    double s = 6.5 / (13.0 + 1e-6);
    CHECK_CLOSE(a[0], 3.0 * s, 1e-6, 0, "clipped a0");
    CHECK_CLOSE(a[1], 4.0 * s, 1e-6, 0, "clipped a1");
    CHECK_CLOSE(b[0], 12.0 * s, 1e-6, 0, "clipped b0");
    CHECK_CLOSE(grad_norm(cbufs, counts, 2), 6.5, 1e-6, 0, "norm after clip");
    /* a norm that overflows float but not double: 3e20 and 4e20 -> 5e20 */
    float big[2] = {3e20f, 4e20f};
    float *bb[1] = {big};
    size_t bc[1] = {2};
    n = grad_clip_norm(bb, bc, 1, 1.0);
    CHECK_CLOSE(n, 5e20, 1e-6, 0, "norm accumulated in double");
    CHECK_CLOSE(big[0], 0.6, 1e-6, 0, "huge gradient clipped");
    /* non-finite: returned, buffers untouched */
    float bad[2] = {1.0f, NAN};
    float *bd[1] = {bad};
    n = grad_clip_norm(bd, bc, 1, 1.0);
    CHECK(isnan(n), "NaN norm returned");
    CHECK(bad[0] == 1.0f, "NaN norm: no scaling");
    /* empty */
    CHECK(grad_clip_norm(bufs, counts, 0, 1.0) == 0.0, "no buffers: norm 0");
}

int main(void) {
    test_adamw();
    test_clip();
    return check_exit("test_optim");
}
