/* test_gae_loss.c: GAE, the PPO loss and the masked categorical against independent forms.
 *  - GAE: a hand-written closed form on a 4 x 2 rollout with episode ends, and on a random
 *    rollout the explicit discounted sum adv_t = sum_k (gamma lam)^k delta_{t+k} up to the
 *    episode's end (no recursion).
 *  - PPO loss: every statistic against a double reference written differently (log-sum-exp,
 *    min form of the surrogate, one-pass variance), with and without advantage normalisation
 *    and value clipping; dlogits and dvalue against central finite differences of that
 *    reference in the logits and values (two heads, one inactive in some samples, masked
 *    choices, clipped and unclipped samples).
 *  - dist: entropy closed forms and its gradient by finite differences, argmax, inverse-CDF
 *    edges, and sampling frequencies over 1e5 draws (chi-square bound). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../check.h"
#include "agent/dist.h"
#include "agent/gae.h"
#include "agent/ppo_loss.h"
#include "core/rng.h"

/* ------------------------------------------------------------------ GAE */

static void test_gae_hand(void) {
    /* S = 4, E = 2. Slot 0: episodes [0, 1] and [2, 3]; slot 1: one episode [0..3]. */
    enum { S = 4, E = 2 };
    const double g = 0.9, l = 0.8, gl = g * l;
    float r[S * E] = {1.0f, 0.5f, -1.0f, 0.25f, 2.0f, 0.0f, 0.5f, 1.5f};
    float v[S * E] = {0.3f, 0.1f, 0.2f, -0.4f, 0.7f, 0.6f, -0.1f, 0.9f};
    uint8_t d[S * E] = {0, 0, 1, 0, 0, 0, 1, 1};
    float adv[S * E], ret[S * E];
    gae_compute(adv, ret, r, v, d, S, E, g, l);
#define R(t, i) ((double)r[(t) * E + (i)])
#define V(t, i) ((double)v[(t) * E + (i)])
    double want[S * E];
    /* slot 0, episode [0, 1] */
    double d01 = R(1, 0) - V(1, 0), d00 = R(0, 0) + g * V(1, 0) - V(0, 0);
    want[1 * E + 0] = d01;
    want[0 * E + 0] = d00 + gl * d01;
    /* slot 0, episode [2, 3] */
    double d30 = R(3, 0) - V(3, 0), d20 = R(2, 0) + g * V(3, 0) - V(2, 0);
    want[3 * E + 0] = d30;
    want[2 * E + 0] = d20 + gl * d30;
    /* slot 1, one episode */
    double e3 = R(3, 1) - V(3, 1), e2 = R(2, 1) + g * V(3, 1) - V(2, 1);
    double e1 = R(1, 1) + g * V(2, 1) - V(1, 1), e0 = R(0, 1) + g * V(1, 1) - V(0, 1);
    want[3 * E + 1] = e3;
    want[2 * E + 1] = e2 + gl * e3;
    want[1 * E + 1] = e1 + gl * e2 + gl * gl * e3;
    want[0 * E + 1] = e0 + gl * e1 + gl * gl * e2 + gl * gl * gl * e3;
    for (int k = 0; k < S * E; k++) {
        CHECK_CLOSE(adv[k], want[k], 1e-6, 1e-6, "gae hand adv");
        CHECK_CLOSE(ret[k], want[k] + (double)v[k], 1e-6, 1e-6, "gae hand ret");
    }
#undef R
#undef V
}

static void test_gae_sum(void) {
    /* random rollout of S = 12 steps, E = 3 slots, episodes of 3 steps (as the agent uses it)
       and a slot with irregular ends (the recursion does not assume a length) */
    enum { S = 12, E = 3 };
    const double g = 0.99, l = 0.95;
    float r[S * E], v[S * E], adv[S * E], ret[S * E];
    uint8_t d[S * E];
    Rng rng;
    rng_init(&rng, 5, 0);
    for (int t = 0; t < S; t++)
        for (int i = 0; i < E; i++) {
            r[t * E + i] = (float)rng_normal(&rng);
            v[t * E + i] = (float)rng_normal(&rng);
            d[t * E + i] = (uint8_t)(i < 2 ? (t % 3 == 2) : (t == 4 || t == 5 || t == S - 1));
        }
    gae_compute(adv, ret, r, v, d, S, E, g, l);
    for (int i = 0; i < E; i++)
        for (int t = 0; t < S; t++) {
            /* adv_t = sum_{k=t}^{end} (gl)^{k-t} delta_k, delta_k = r_k + g V_{k+1} [k < end]
               - V_k, end = first step >= t that ends an episode */
            double sum = 0.0, w = 1.0;
            for (int k = t; k < S; k++) {
                int last = d[k * E + i] || k == S - 1;
                double next = last ? 0.0 : (double)v[(k + 1) * E + i];
                sum += w * ((double)r[k * E + i] + g * next - (double)v[k * E + i]);
                w *= g * l;
                if (last) break;
            }
            CHECK_CLOSE(adv[t * E + i], sum, 1e-6, 1e-6, "gae explicit sum");
            CHECK_CLOSE(ret[t * E + i], sum + (double)v[t * E + i], 1e-6, 1e-6, "gae ret");
        }
}

/* ------------------------------------------------------------------ PPO loss reference */

enum { M = 8, H = 2, A = 5 };

typedef struct {
    uint8_t am[M * H * A];  /* allowed choices */
    uint8_t active[M * H];
    int32_t action[M * H];
    double old_logp[M], adv[M], ret[M], old_v[M];
    double clip, cv, vf, ent;
    int norm;
} Case;

typedef struct {
    double loss, pg, vl, ent, kl, cf;
} RefStats;

/* ref_loss: the PPO loss at logits z (M, H, A) and values v (M), written independently */
static double ref_loss(const Case *c, const double *z, const double *v, RefStats *o) {
    double A_[M];
    double s1 = 0.0, s2 = 0.0;
    for (int m = 0; m < M; m++) {
        s1 += c->adv[m];
        s2 += c->adv[m] * c->adv[m];
    }
    double mean = s1 / M, var = (s2 - M * mean * mean) / (M - 1);
    for (int m = 0; m < M; m++)
        A_[m] = c->norm ? (c->adv[m] - mean) / (sqrt(var) + 1e-8) : c->adv[m];
    double pg = 0.0, vl = 0.0, ent = 0.0, kl = 0.0, cf = 0.0;
    for (int m = 0; m < M; m++) {
        double lp = 0.0, hsum = 0.0;
        for (int k = 0; k < H; k++) {
            if (!c->active[m * H + k]) continue;
            const double *zz = z + (m * H + k) * A;
            const uint8_t *al = c->am + (m * H + k) * A;
            double mx = -INFINITY, se = 0.0;
            for (int j = 0; j < A; j++)
                if (al[j] && zz[j] > mx) mx = zz[j];
            for (int j = 0; j < A; j++)
                if (al[j]) se += exp(zz[j] - mx);
            double lse = mx + log(se);
            lp += zz[c->action[m * H + k]] - lse;
            for (int j = 0; j < A; j++)
                if (al[j]) hsum -= exp(zz[j] - lse) * (zz[j] - lse);
        }
        double ratio = exp(lp - c->old_logp[m]);
        double rc = fmin(fmax(ratio, 1.0 - c->clip), 1.0 + c->clip);
        pg -= fmin(ratio * A_[m], rc * A_[m]);
        kl += ratio - 1.0 - log(ratio);
        cf += fabs(ratio - 1.0) > c->clip;
        ent += hsum;
        double e1 = (v[m] - c->ret[m]) * (v[m] - c->ret[m]);
        if (c->cv > 0) {
            double vc = c->old_v[m] + fmin(fmax(v[m] - c->old_v[m], -c->cv), c->cv);
            e1 = fmax(e1, (vc - c->ret[m]) * (vc - c->ret[m]));
        }
        vl += 0.5 * e1;
    }
    o->pg = pg / M;
    o->vl = vl / M;
    o->ent = ent / M;
    o->kl = kl / M;
    o->cf = cf / M;
    o->loss = o->pg + c->vf * o->vl - c->ent * o->ent;
    return o->loss;
}

/* to_logp: float log-softmax of z over the allowed choices (as policy_forward gives it) */
static void to_logp(const Case *c, const double *z, float *logp) {
    for (int mk = 0; mk < M * H; mk++) {
        const double *zz = z + mk * A;
        const uint8_t *al = c->am + mk * A;
        if (!c->active[mk]) {
            for (int j = 0; j < A; j++) logp[mk * A + j] = 0.0f;
            continue;
        }
        double mx = -INFINITY, se = 0.0;
        for (int j = 0; j < A; j++)
            if (al[j] && zz[j] > mx) mx = zz[j];
        for (int j = 0; j < A; j++)
            if (al[j]) se += exp(zz[j] - mx);
        for (int j = 0; j < A; j++)
            logp[mk * A + j] = al[j] ? (float)(zz[j] - mx - log(se)) : -INFINITY;
    }
}

/* loss_case: a random case (seeded): logits z (M, H, A) with masked choices and, every third
   sample, an inactive second head; actions among the allowed choices; old logp = new logp -
   delta_m (ratios well inside and well outside the clip range), advantages of both signs,
   returns, old values and new values v (M) half within cv of the old ones; logp the float
   log-softmax of z */
static void loss_case(Case *c, double *z, double *v, float *logp, int norm, double cv,
                      uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->clip = 0.2;
    c->cv = cv;
    c->vf = 0.5;
    c->ent = 0.01;
    c->norm = norm;
    Rng rng;
    rng_init(&rng, seed, 1);
    for (int i = 0; i < M * H * A; i++) z[i] = rng_normal(&rng);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < H; k++) {
            c->active[m * H + k] = (uint8_t)(k == 0 || m % 3 != 0);
            uint8_t *al = c->am + (m * H + k) * A;
            for (int j = 0; j < A; j++) al[j] = (uint8_t)((m + j + k) % 4 != 0);
            int a;
            do a = (int)rng_below(&rng, A);
            while (!al[a]);
            c->action[m * H + k] = a;
        }
    /* old logp = new logp - delta_m: ratios exp(delta) well inside or well outside
       [0.8, 1.2]; advantages of both signs so that some outside ones are clipped */
    const double delta[M] = {0.5, -0.5, 0.05, -0.05, 0.4, -0.45, 0.0, 0.1};
    const double advs[M] = {1.3, -0.7, 0.4, -1.1, -0.9, 0.8, 2.0, -0.3};
    to_logp(c, z, logp);
    for (int m = 0; m < M; m++) {
        double lp = 0.0;
        for (int k = 0; k < H; k++)
            if (c->active[m * H + k]) lp += logp[(m * H + k) * A + c->action[m * H + k]];
        c->old_logp[m] = (double)(float)(lp - delta[m]);
        c->adv[m] = advs[m];
        c->ret[m] = rng_normal(&rng);
        c->old_v[m] = (double)(float)rng_normal(&rng);
        /* new values: half within cv of the old one, half beyond */
        v[m] = (double)(float)(c->old_v[m] + (m % 2 ? 0.05 : 0.6) * (m % 4 < 2 ? 1 : -1));
    }
}

/* check_loss_grads: dlogits (M, H, A) and dvalue (M) against central differences of the
   reference loss of c at z, v; masked choices and inactive heads get exactly 0; some samples
   (not all) clipped */
static void check_loss_grads(const Case *c, const double *z, const double *v,
                             const float *dlogits, const float *dvalue, int norm, double cv) {
    char what[96];
    const double h = 1e-5;
    int n_zero_pg = 0; /* samples whose policy-gradient part is 0 (clipped) */
    for (int m = 0; m < M; m++) {
        double zp[M * H * A];
        double gsum = 0.0;
        for (int k = 0; k < H; k++)
            for (int j = 0; j < A; j++) {
                int i = (m * H + k) * A + j;
                if (!c->active[m * H + k] || !c->am[i]) {
                    CHECK(dlogits[i] == 0.0f, "dlogits[%d,%d,%d] = %g at a masked choice or "
                          "inactive head", m, k, j, (double)dlogits[i]);
                    continue;
                }
                RefStats o;
                memcpy(zp, z, sizeof zp);
                zp[i] = z[i] + h;
                double lp = ref_loss(c, zp, v, &o);
                zp[i] = z[i] - h;
                double lm = ref_loss(c, zp, v, &o);
                double fd = (lp - lm) / (2 * h);
                snprintf(what, sizeof what, "dlogits[%d,%d,%d] (norm %d, cv %g)", m, k, j,
                         norm, cv);
                CHECK_CLOSE(dlogits[i], fd, 1e-4, 1e-7, what);
                if (k == 0) gsum += fabs(fd);
            }
        /* gsum small: only the (tiny) entropy term moves the loss */
        if (gsum < 0.01 * 0.5) n_zero_pg++;
        double vp[M];
        memcpy(vp, v, sizeof vp);
        RefStats o;
        vp[m] = v[m] + h;
        double lp = ref_loss(c, z, vp, &o);
        vp[m] = v[m] - h;
        double lm = ref_loss(c, z, vp, &o);
        snprintf(what, sizeof what, "dvalue[%d] (norm %d, cv %g)", m, norm, cv);
        CHECK_CLOSE(dvalue[m], (lp - lm) / (2 * h), 1e-4, 1e-7, what);
    }
    CHECK(n_zero_pg >= 1 && n_zero_pg <= M - 2, "clipped samples: %d of %d", n_zero_pg, M);
}

static void test_loss(int norm, double cv, uint64_t seed) {
    Case c;
    double z[M * H * A], v[M];
    float logp[M * H * A];
    loss_case(&c, z, v, logp, norm, cv, seed);
    float f_old[M], f_adv[M], f_ret[M], f_oldv[M], f_v[M];
    for (int m = 0; m < M; m++) {
        f_old[m] = (float)c.old_logp[m];
        f_adv[m] = (float)c.adv[m];
        f_ret[m] = (float)c.ret[m];
        f_oldv[m] = (float)c.old_v[m];
        f_v[m] = (float)v[m];
        c.adv[m] = f_adv[m];
        c.ret[m] = f_ret[m];
    }
    PpoBatch b = {.M = M, .n_heads = H, .n_actions = A, .logp = logp, .active = c.active,
                  .action = c.action, .old_logp = f_old, .adv = f_adv, .ret = f_ret,
                  .old_value = f_oldv, .value = f_v};
    PpoConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.clip = (float)c.clip;
    cfg.clip_vloss = (float)c.cv;
    cfg.vf_coef = (float)c.vf;
    cfg.ent_coef = (float)c.ent;
    cfg.norm_adv = norm;
    float dlogits[M * H * A], dvalue[M];
    PpoLossStats st;
    ppo_loss(&b, &cfg, dlogits, dvalue, &st);
    RefStats ref;
    ref_loss(&c, z, v, &ref);
    char what[96];
    snprintf(what, sizeof what, "loss (norm %d, cv %g)", norm, cv);
    CHECK_CLOSE(st.loss, ref.loss, 1e-5, 1e-6, what);
    CHECK_CLOSE(st.pg_loss, ref.pg, 1e-5, 1e-6, "pg_loss");
    CHECK_CLOSE(st.v_loss, ref.vl, 1e-5, 1e-6, "v_loss");
    CHECK_CLOSE(st.entropy, ref.ent, 1e-5, 1e-6, "entropy");
    CHECK_CLOSE(st.approx_kl, ref.kl, 1e-4, 1e-6, "approx_kl");
    CHECK_CLOSE(st.clip_fraction, ref.cf, 0, 0, "clip_fraction");
    CHECK(ref.cf > 0.3 && ref.cf < 0.9, "clip fraction %g: want clipped and unclipped", ref.cf);

    check_loss_grads(&c, z, v, dlogits, dvalue, norm, cv);
}

/* ------------------------------------------------------------------ dist */

static void test_dist(void) {
    const float NINF = -INFINITY;
    /* uniform over 3 allowed of 5: H = ln 3 */
    float u3[5] = {logf(1.0f / 3), NINF, logf(1.0f / 3), NINF, logf(1.0f / 3)};
    CHECK_CLOSE(dist_entropy(u3, 5), log(3.0), 1e-6, 0, "entropy uniform 3");
    float one[4] = {NINF, 0.0f, NINF, NINF};
    CHECK_CLOSE(dist_entropy(one, 4), 0.0, 0, 1e-12, "entropy one choice");
    CHECK(dist_argmax(one, 4) == 1, "argmax of the only choice: %d", dist_argmax(one, 4));
    CHECK(dist_sample_u(one, 4, 0.999999) == 1, "sample of the only choice");
    float none[2] = {NINF, NINF};
    CHECK(dist_argmax(none, 2) == -1 && dist_sample_u(none, 2, 0.5) == -1, "all masked: -1");
    /* p = (0.5, -, 0.2, 0.3, -): argmax 0, inverse CDF edges */
    const double p[5] = {0.5, 0, 0.2, 0.3, 0};
    float lp[5] = {logf(0.5f), NINF, logf(0.2f), logf(0.3f), NINF};
    double Hc = -(0.5 * log(0.5) + 0.2 * log(0.2) + 0.3 * log(0.3));
    CHECK_CLOSE(dist_entropy(lp, 5), Hc, 1e-6, 0, "entropy (0.5, 0.2, 0.3)");
    CHECK(dist_argmax(lp, 5) == 0, "argmax");
    CHECK(dist_sample_u(lp, 5, 0.0) == 0, "u = 0 -> first allowed");
    CHECK(dist_sample_u(lp, 5, 0.49) == 0 && dist_sample_u(lp, 5, 0.51) == 2, "u near 0.5");
    CHECK(dist_sample_u(lp, 5, 0.69) == 2 && dist_sample_u(lp, 5, 0.71) == 3, "u near 0.7");
    CHECK(dist_sample_u(lp, 5, 1.0 - 1e-12) == 3, "u -> 1: last allowed");
    /* frequencies over 1e5 draws: chi-square with 2 degrees of freedom; P(X > 25) ~ 4e-6 */
    enum { ND = 100000 };
    int cnt[5] = {0};
    Rng rng;
    rng_init(&rng, 11, 3);
    for (int n = 0; n < ND; n++) {
        int a = dist_sample(lp, 5, &rng);
        if (a >= 0 && a < 5) cnt[a]++;
    }
    double chi2 = 0.0;
    for (int j = 0; j < 5; j++)
        if (p[j] > 0) chi2 += (cnt[j] - ND * p[j]) * (cnt[j] - ND * p[j]) / (ND * p[j]);
    CHECK(cnt[1] == 0 && cnt[4] == 0, "masked choices drawn: %d, %d", cnt[1], cnt[4]);
    CHECK(chi2 < 25.0, "chi-square %g over (%d, %d, %d)", chi2, cnt[0], cnt[2], cnt[3]);
    printf("dist: 1e5 draws of (0.5, -, 0.2, 0.3, -): %d %d %d, chi2 %.2f\n", cnt[0], cnt[2],
           cnt[3], chi2);
    /* entropy gradient by finite differences of H(log_softmax(z)) over the allowed */
    double z[5] = {0.3, 9.0, -1.2, 0.7, -4.0};
    const uint8_t al[5] = {1, 0, 1, 1, 0};
    float lz[5], dz[5] = {0};
    double mx = 0.7, se = 0.0;
    for (int j = 0; j < 5; j++)
        if (al[j]) se += exp(z[j] - mx);
    for (int j = 0; j < 5; j++) lz[j] = al[j] ? (float)(z[j] - mx - log(se)) : NINF;
    dist_entropy_grad(dz, lz, 5, dist_entropy(lz, 5), 1.0);
    for (int k = 0; k < 5; k++) {
        double fd = 0.0;
        if (al[k]) {
            double hs[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                double zz[5];
                memcpy(zz, z, sizeof zz);
                zz[k] += sgn ? -1e-5 : 1e-5;
                double s = 0.0;
                for (int j = 0; j < 5; j++)
                    if (al[j]) s += exp(zz[j]);
                double hh = 0.0;
                for (int j = 0; j < 5; j++)
                    if (al[j]) hh -= exp(zz[j]) / s * (zz[j] - log(s));
                hs[sgn] = hh;
            }
            fd = (hs[0] - hs[1]) / 2e-5;
        }
        CHECK_CLOSE(dz[k], fd, 1e-4, 1e-7, "entropy gradient");
    }
}

int main(void) {
    test_gae_hand();
    test_gae_sum();
    for (int norm = 0; norm < 2; norm++)
        for (int vc = 0; vc < 2; vc++) test_loss(norm, vc ? 0.2 : 0.0, 7 + 2 * norm + vc);
    test_dist();
    return check_exit("test_gae_loss");
}
