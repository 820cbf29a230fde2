/* test_policy.c: the transformer policy (agent/policy.h) against an independent, naive
 * double-precision forward of the whole policy written out here (embedding, pre-LN blocks
 * with masked multi-head attention and an exact-GELU FFN, output LN, masked log-softmax
 * action heads on tokens head_token0 + k, value head), on the test policy of
 * policy_fixture.h:
 *   - the tensor table: names, shapes, contiguous offsets, decay flags, n_params;
 *   - forward: logp and value vs the double forward (|ours - ref| <= 1e-5 + 1e-5 |ref|), for
 *     M = 3 < max_batch and M = max_batch, with masked tokens (one observation whose head-1
 *     token is masked, one whose head-0 token is masked) and masked choices; masked choices
 *     get -INFINITY, the allowed ones' exp sums to 1, inactive heads get logp 0;
 *   - masked-off tokens' features changed (to other values, NaN, Inf): logp, value and the
 *     gradients bit-identical; an observation alone vs in the batch agrees to 1e-5;
 *   - every parameter's gradient vs central finite differences (tests/fd.h) of the double
 *     loss L = sum_{m, active k, allowed a} G[m,k,a] logp[m,k,a] + sum_m wv[m] value[m],
 *     the policy being given dL/dlogits = G_a - p_a sum_b G_b (allowed a, b) and dL/dvalue
 *     = wv; NaN at masked choices and inactive heads (the policy must ignore them);
 *   - backward accumulates, policy_zero_grad clears.
 * Initialisation and error paths: test_policy_init.c.
 *
 * Gradient tolerance: |ours - fd| <= GRAD_TOL * max(|fd|, 1e-2 scale), scale = the largest
 * |fd| of that tensor (for attn/b_k, whose exact gradient is 0 because q_i . b_k is constant
 * along the keys and cancels in the softmax, the scale of attn/w_k). The finite differences
 * are exact to ~1e-10 (double, h = 1e-5), so this measures our float32 error (a few float
 * ulps times sums of a few dozen terms); a wrong or missing term is O(scale). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"
#include "core/rng.h"
#include "tests/agent/policy_fixture.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/ref.h"

/* the policy's LayerNorm epsilon (torch.nn.LayerNorm's default), in double */
#define LN_EPS 1e-5

#define GRAD_TOL 1e-3
#define FWD_TOL 1e-5
#define MAXL 3

/* ---------------------------------------------------------------- double reference */

typedef struct {
    size_t emb_w, emb_b, ln_o_w, ln_o_b, pi_w, pi_b, v_w, v_b;
    size_t ln_a_w[MAXL], ln_a_b[MAXL], wq[MAXL], bq[MAXL], wk[MAXL], bk[MAXL], wv[MAXL],
        bv[MAXL], wo[MAXL], bo[MAXL], ln_f_w[MAXL], ln_f_b[MAXL], w1[MAXL], b1[MAXL],
        w2[MAXL], b2[MAXL];
} Offsets;

typedef struct {
    PolicyConfig c;
    Offsets o;
    int M;
    const double *obs;         /* (M, T, D) as given (masked tokens not zeroed) */
    const uint8_t *tm, *am;    /* (M, T), (M, nh, A) */
    const double *G, *wv;      /* loss weights (M, nh, A), (M) */
    double *theta;             /* (n_params) */
    double *h, *x, *q, *k, *v, *a, *t, *f, *s; /* work */
    double *logp, *value;      /* (M, nh, A), (M) outputs */
} Ref;

/* tensor offset by name, checking the shape (d1 = 0: 1-D) */
static size_t off_of(const Policy *P, const char *name, int64_t d0, int64_t d1) {
    for (int i = 0; i < policy_n_tensors(P); i++) {
        const PolicyTensor *t = policy_tensor(P, i);
        if (strcmp(t->name, name)) continue;
        CHECK(t->ndim == (d1 ? 2 : 1) && t->shape[0] == d0 && (!d1 || t->shape[1] == d1),
              "%s: expected shape [%lld, %lld], found ndim %d [%lld, %lld]", name,
              (long long)d0, (long long)d1, t->ndim, (long long)t->shape[0],
              (long long)t->shape[1]);
        return t->offset;
    }
    CHECK(0, "tensor %s missing", name);
    return 0;
}

static void offsets_find(Offsets *o, const Policy *P) {
    const PolicyConfig *c = policy_config(P);
    const int W = c->width, F = c->ffn;
    char nm[64];
    o->emb_w = off_of(P, "embed/w", W, c->token_dim);
    o->emb_b = off_of(P, "embed/b", W, 0);
    for (int l = 0; l < c->layers; l++) {
#define L(field, suffix, d0, d1) \
    (snprintf(nm, sizeof nm, "blocks/%d/%s", l, suffix), o->field[l] = off_of(P, nm, d0, d1))
        L(ln_a_w, "ln_a/w", W, 0), L(ln_a_b, "ln_a/b", W, 0);
        L(wq, "attn/w_q", W, W), L(bq, "attn/b_q", W, 0), L(wk, "attn/w_k", W, W);
        L(bk, "attn/b_k", W, 0), L(wv, "attn/w_v", W, W), L(bv, "attn/b_v", W, 0);
        L(wo, "attn/w_o", W, W), L(bo, "attn/b_o", W, 0);
        L(ln_f_w, "ln_f/w", W, 0), L(ln_f_b, "ln_f/b", W, 0);
        L(w1, "ffn/w1", F, W), L(b1, "ffn/b1", F, 0), L(w2, "ffn/w2", W, F);
        L(b2, "ffn/b2", W, 0);
#undef L
    }
    o->ln_o_w = off_of(P, "ln_out/w", W, 0);
    o->ln_o_b = off_of(P, "ln_out/b", W, 0);
    o->pi_w = off_of(P, "pi/w", c->n_actions, W);
    o->pi_b = off_of(P, "pi/b", c->n_actions, 0);
    o->v_w = off_of(P, "v/w", 1, W);
    o->v_b = off_of(P, "v/b", 1, 0);
}

/* the whole policy in double: fills r->logp, r->value; returns the test loss */
static double ref_forward(Ref *r) {
    const PolicyConfig *c = &r->c;
    const Offsets *o = &r->o;
    const double *th = r->theta;
    const int M = r->M, T = c->n_tokens, W = c->width, F = c->ffn, H = c->attn_heads;
    const int nh = c->n_heads, A = c->n_actions, R = M * T;
    ref_linear(r->h, r->obs, th + o->emb_w, th + o->emb_b, R, c->token_dim, W);
    for (int l = 0; l < c->layers; l++) {
        ref_layernorm(r->x, r->h, th + o->ln_a_w[l], th + o->ln_a_b[l], R, W, LN_EPS);
        ref_linear(r->q, r->x, th + o->wq[l], th + o->bq[l], R, W, W);
        ref_linear(r->k, r->x, th + o->wk[l], th + o->bk[l], R, W, W);
        ref_linear(r->v, r->x, th + o->wv[l], th + o->bv[l], R, W, W);
        ref_attention(r->a, NULL, r->q, r->k, r->v, r->tm, NULL, r->s, M, T, H, W / H);
        ref_linear(r->t, r->a, th + o->wo[l], th + o->bo[l], R, W, W);
        for (int i = 0; i < R * W; i++) r->h[i] += r->t[i];
        ref_layernorm(r->x, r->h, th + o->ln_f_w[l], th + o->ln_f_b[l], R, W, LN_EPS);
        ref_linear(r->f, r->x, th + o->w1[l], th + o->b1[l], R, W, F);
        for (int i = 0; i < R * F; i++) r->f[i] = 0.5 * r->f[i] * (1.0 + erf(r->f[i] / sqrt(2.0)));
        ref_linear(r->t, r->f, th + o->w2[l], th + o->b2[l], R, F, W);
        for (int i = 0; i < R * W; i++) r->h[i] += r->t[i];
    }
    ref_layernorm(r->x, r->h, th + o->ln_o_w, th + o->ln_o_b, R, W, LN_EPS);
    double loss = 0;
    for (int m = 0; m < M; m++) {
        const double *zv = r->x + ((size_t)m * T + c->value_token) * W;
        ref_linear(&r->value[m], zv, th + o->v_w, th + o->v_b, 1, W, 1);
        loss += r->wv ? r->wv[m] * r->value[m] : 0;
        for (int k = 0; k < nh; k++) {
            const size_t mk = (size_t)m * nh + k;
            double *lp = r->logp + mk * A;
            const uint8_t *am = r->am + mk * A;
            if (!r->tm[m * T + c->head_token0 + k]) {
                for (int a = 0; a < A; a++) lp[a] = 0;
                continue;
            }
            ref_linear(lp, r->x + ((size_t)m * T + c->head_token0 + k) * W, th + o->pi_w,
                       th + o->pi_b, 1, W, A);
            double mx = -INFINITY, se = 0;
            for (int a = 0; a < A; a++)
                if (am[a]) mx = fmax(mx, lp[a]);
            for (int a = 0; a < A; a++)
                if (am[a]) se += exp(lp[a] - mx);
            for (int a = 0; a < A; a++) {
                lp[a] = am[a] ? lp[a] - mx - log(se) : -INFINITY;
                if (am[a] && r->G) loss += r->G[mk * A + a] * lp[a];
            }
        }
    }
    return loss;
}

static double ref_loss_fd(void *ctx) { return ref_forward(ctx); }

static void ref_init(Ref *r, const Policy *P, int M, const double *obs, const uint8_t *tm,
                     const uint8_t *am) {
    memset(r, 0, sizeof *r);
    r->c = *policy_config(P);
    offsets_find(&r->o, P);
    r->M = M, r->obs = obs, r->tm = tm, r->am = am;
    const size_t n = policy_n_params(P), R = (size_t)M * r->c.n_tokens;
    const size_t RW = R * r->c.width, RF = R * r->c.ffn;
    r->theta = malloc(sizeof(double) * n);
    const float *pf = policy_params((Policy *)P);
    for (size_t i = 0; i < n; i++) r->theta[i] = pf[i];
    r->h = malloc(sizeof(double) * RW), r->x = malloc(sizeof(double) * RW);
    r->q = malloc(sizeof(double) * RW), r->k = malloc(sizeof(double) * RW);
    r->v = malloc(sizeof(double) * RW), r->a = malloc(sizeof(double) * RW);
    r->t = malloc(sizeof(double) * RW), r->f = malloc(sizeof(double) * RF);
    r->s = malloc(sizeof(double) * (size_t)r->c.n_tokens);
    r->logp = malloc(sizeof(double) * (size_t)M * r->c.n_heads * r->c.n_actions);
    r->value = malloc(sizeof(double) * (size_t)M);
}

static void ref_free(Ref *r) {
    free(r->theta), free(r->h), free(r->x), free(r->q), free(r->k), free(r->v), free(r->a);
    free(r->t), free(r->f), free(r->s), free(r->logp), free(r->value);
}

/* ---------------------------------------------------------------- tests */

static void test_table(void) {
    Policy *P = make_policy(&tcfg);
    if (!P) return;
    const int nt = policy_n_tensors(P);
    CHECK(nt == 8 + 16 * tcfg.layers, "tensor count %d", nt);
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        const PolicyTensor *t = policy_tensor(P, i);
        CHECK(t->offset == off, "%s: offset %zu, expected %zu (contiguous)", t->name, t->offset,
              off);
        CHECK(t->decay == (t->ndim == 2), "%s: decay %d", t->name, t->decay);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(t->name, policy_tensor(P, j)->name), "duplicate name %s", t->name);
        off += tensor_count(t);
    }
    const int W = 8, F = 12;
    size_t expect = (size_t)W * 5 + W + 2 * (4 * W + 4 * W * W + 4 * W + 2 * W * F + F + W) +
                    2 * W + 4 * W + 4 + W + 1;
    CHECK(policy_n_params(P) == off && off == expect, "n_params %zu, sum %zu, expected %zu",
          policy_n_params(P), off, expect);
    CHECK(policy_tensor(P, -1) == NULL && policy_tensor(P, nt) == NULL, "out of range tensor");
    CHECK(policy_config(P)->max_batch == 4, "config copy");
    Offsets o;
    offsets_find(&o, P); /* every expected name with its shape */
    policy_free(P);
}

/* forward checks on M observations; returns the policy's logp/value in the given buffers */
static void check_forward(Policy *P, const float *obs, int M, float *logp, float *value,
                          const char *tag) {
    const int T = TT, D = tcfg.token_dim, nh = TNH, A = TA;
    Err e;
    err_clear(&e);
    Status st = policy_forward(P, logp, value, obs, t_tok, t_act, M, &e);
    CHECK(st == ST_OK, "%s: policy_forward: %s", tag, e.msg);
    double *od = malloc(sizeof(double) * (size_t)M * T * D);
    for (size_t i = 0; i < (size_t)M * T * D; i++) od[i] = obs[i];
    Ref r;
    ref_init(&r, P, M, od, t_tok, t_act);
    ref_forward(&r);
    int bad = 0, badinf = 0, badsum = 0, badoff = 0;
    double worst = 0;
    for (int m = 0; m < M; m++) {
        double d = fabs(value[m] - r.value[m]);
        worst = fmax(worst, d);
        if (d > FWD_TOL + FWD_TOL * fabs(r.value[m]) && bad++ < 3)
            CHECK(0, "%s: value[%d] %.9g, expected %.9g", tag, m, (double)value[m], r.value[m]);
        for (int k = 0; k < nh; k++) {
            const size_t mk = (size_t)m * nh + k;
            const int active = t_tok[m * T + tcfg.head_token0 + k];
            double s = 0;
            for (int a = 0; a < A; a++) {
                const float got = logp[mk * A + a];
                if (!active) {
                    badoff += got != 0.0f;
                    continue;
                }
                if (!t_act[mk * A + a]) {
                    badinf += !(isinf(got) && got < 0);
                    continue;
                }
                s += exp((double)got);
                double dd = fabs(got - r.logp[mk * A + a]);
                worst = fmax(worst, dd);
                if (dd > FWD_TOL + FWD_TOL * fabs(r.logp[mk * A + a]) && bad++ < 3)
                    CHECK(0, "%s: logp[%d,%d,%d] %.9g, expected %.9g", tag, m, k, a,
                          (double)got, r.logp[mk * A + a]);
            }
            if (active) badsum += fabs(s - 1.0) > 1e-6;
        }
    }
    CHECK(bad == 0, "%s: %d outputs off the double reference", tag, bad);
    CHECK(badinf == 0, "%s: %d masked choices not -inf", tag, badinf);
    CHECK(badsum == 0, "%s: %d active heads whose allowed exp(logp) do not sum to 1", tag,
          badsum);
    CHECK(badoff == 0, "%s: %d logp of inactive heads not 0", tag, badoff);
    printf("%s: forward M=%d worst |ours - double| %.2e\n", tag, M, worst);
    ref_free(&r);
    free(od);
}

/* make_dlogits: the policy's upstream gradients for the test loss of r (after ref_forward):
   dL/dlogits = G_a - p_a sum_b G_b over allowed a, b of active heads, NaN elsewhere (to be
   ignored); dL/dvalue = wv */
static void make_dlogits(float *dlogits, float *dvalue, const Ref *r, const double *G,
                         const double *wv, int M) {
    const int T = TT, nh = TNH, A = TA;
    for (int m = 0; m < M; m++) {
        dvalue[m] = (float)wv[m];
        for (int k = 0; k < nh; k++) {
            const size_t mk = (size_t)m * nh + k;
            const int active = t_tok[m * T + tcfg.head_token0 + k];
            double sg = 0;
            for (int a = 0; a < A; a++) sg += t_act[mk * A + a] ? G[mk * A + a] : 0;
            for (int a = 0; a < A; a++)
                dlogits[mk * A + a] = active && t_act[mk * A + a]
                                          ? (float)(G[mk * A + a] - exp(r->logp[mk * A + a]) * sg)
                                          : NAN; /* ignored entries */
        }
    }
}

/* check_fd_grads: every parameter's gradient g1 (n_params) against central finite
   differences of r's double loss */
static void check_fd_grads(const Policy *P, Ref *r, const float *g1) {
    const size_t n = policy_n_params(P);
    double *fd = malloc(sizeof(double) * n);
    fd_grad(fd, r->theta, n, ref_loss_fd, r);
    double worst = 0, worst_abs = 0;
    const char *worst_name = "";
    int nbad = 0;
    for (int i = 0; i < policy_n_tensors(P); i++) {
        const PolicyTensor *t = policy_tensor(P, i);
        const size_t cnt = tensor_count(t);
        const double *want = fd + t->offset;
        const float *got = g1 + t->offset;
        double scale = ref_max_abs(want, cnt);
        if (strstr(t->name, "attn/b_k")) { /* exact gradient 0: see the top */
            const PolicyTensor *wk = policy_tensor(P, i - 1);
            scale = fmax(scale, ref_max_abs(fd + wk->offset, tensor_count(wk)));
        }
        CHECK(scale > 0, "%s: zero gradient scale", t->name);
        int bad = 0;
        for (size_t j = 0; j < cnt; j++) {
            double den = fmax(fabs(want[j]), 1e-2 * scale);
            double err = fabs((double)got[j] - want[j]) / den;
            if (isnan(err)) err = INFINITY; /* NaN counts as the worst */
            worst_abs = fmax(worst_abs, fabs((double)got[j] - want[j]) / scale);
            if (err > worst) worst = err, worst_name = t->name;
            if (!(err <= GRAD_TOL) && bad++ < 3)
                CHECK(0, "%s[%zu]: got %.9g, finite differences %.9g (scale %.3g)", t->name, j,
                      (double)got[j], want[j], scale);
        }
        nbad += bad;
    }
    CHECK(nbad == 0, "%d gradient entries off", nbad);
    printf("gradients of all %zu parameters vs finite differences: worst |ours - fd| / "
           "max(|fd|, 1e-2 scale) = %.2e (%s), worst |ours - fd| / scale = %.2e\n", n, worst,
           worst_name, worst_abs);
    free(fd);
}

/* check_accumulate: a second backward adds the same again (g1: the first); zero_grad clears */
static void check_accumulate(Policy *P, const float *dlogits, const float *dvalue,
                             const float *g1) {
    const size_t n = policy_n_params(P);
    policy_backward(P, dlogits, dvalue);
    const float *g = policy_grads(P);
    int notdoubled = 0;
    double gs = 0;
    for (size_t i = 0; i < n; i++) gs = fmax(gs, fabs(g1[i]));
    for (size_t i = 0; i < n; i++) notdoubled += fabs(g[i] - 2.0 * g1[i]) > 1e-6 * gs;
    CHECK(notdoubled == 0, "backward accumulates: %d entries not twice the first", notdoubled);
    policy_zero_grad(P);
    int nz = 0;
    for (size_t i = 0; i < n; i++) nz += g[i] != 0.0f;
    CHECK(nz == 0, "policy_zero_grad: %d nonzero", nz);
}

/* check_masked_tokens: masked-off tokens' features changed (NaN, Inf, large values): outputs
   (M = max_batch, into logp, value) and the gradients of the first M obs (g1) bit-identical */
static void check_masked_tokens(Policy *P, const float *obs, Rng *rng, const float *dlogits,
                                const float *dvalue, const float *g1, int M, float *logp,
                                float *value) {
    const int T = TT, D = tcfg.token_dim;
    const size_t n = policy_n_params(P), nobs = (size_t)TM * T * D, nlp = (size_t)TM * TNH * TA;
    float *obs2 = malloc(sizeof(float) * nobs), logp2[TM * TNH * TA], value2[TM];
    const float *g = policy_grads(P);
    Err e;
    err_clear(&e);
    memcpy(obs2, obs, sizeof(float) * nobs);
    int changed = 0;
    for (int m = 0; m < TM; m++)
        for (int t = 0; t < T; t++)
            if (!t_tok[m * T + t])
                for (int d = 0; d < D; d++, changed++)
                    obs2[((size_t)m * T + t) * D + d] =
                        d == 0 ? NAN : d == 1 ? INFINITY : (float)(100.0 * rng_normal(rng));
    CHECK(changed > 0, "no masked token");
    CHECK(policy_forward(P, logp, value, obs, t_tok, t_act, TM, &e) == ST_OK, "%s", e.msg);
    CHECK(policy_forward(P, logp2, value2, obs2, t_tok, t_act, TM, &e) == ST_OK, "%s", e.msg);
    CHECK(memcmp(logp, logp2, sizeof(float) * nlp) == 0 &&
              memcmp(value, value2, sizeof value2) == 0,
          "masked tokens changed the outputs (M=%d)", TM);
    CHECK(policy_forward(P, logp2, value2, obs2, t_tok, t_act, M, &e) == ST_OK, "%s", e.msg);
    policy_backward(P, dlogits, dvalue);
    CHECK(memcmp(g, g1, sizeof(float) * n) == 0, "masked tokens changed the gradients");
    policy_zero_grad(P);
    free(obs2);
}

/* check_alone: each observation alone (B = 1) gives its logp and value in the batch (logp,
   value of M = max_batch) to 1e-5, -inf kept */
static void check_alone(Policy *P, const float *obs, const float *logp, const float *value) {
    const int T = TT, D = tcfg.token_dim, nh = TNH, A = TA;
    Err e;
    err_clear(&e);
    double bw = 0;
    for (int m = 0; m < TM; m++) {
        float lp1[TNH * TA], v1;
        /* the masks of observation m sit at offset m: pass shifted pointers */
        CHECK(policy_forward(P, lp1, &v1, obs + (size_t)m * T * D, t_tok + m * T,
                             t_act + m * nh * A, 1, &e) == ST_OK, "%s", e.msg);
        bw = fmax(bw, fabs(v1 - value[m]));
        for (int i = 0; i < nh * A; i++) {
            float b = logp[m * nh * A + i];
            if (isinf(b)) CHECK(isinf(lp1[i]), "alone: -inf kept");
            else bw = fmax(bw, fabs(lp1[i] - b));
        }
    }
    CHECK(bw <= 1e-5, "observation alone vs in the batch: %.3g", bw);
}

static void test_forward_backward(void) {
    Policy *P = make_policy(&tcfg);
    if (!P) return;
    const int T = TT, D = tcfg.token_dim, nh = TNH, A = TA, M = 3;
    const size_t n = policy_n_params(P), nobs = (size_t)TM * T * D;
    Rng rng;
    rng_init(&rng, 2024, 1);
    fill_test_weights(P, &rng);
    float *obs = malloc(sizeof(float) * nobs);
    for (size_t i = 0; i < nobs; i++) obs[i] = (float)rng_normal(&rng);
    float logp[TM * TNH * TA], value[TM];

    /* forward vs the double reference, M < max_batch and M = max_batch */
    check_forward(P, obs, TM, logp, value, "M=max_batch");
    check_forward(P, obs, M, logp, value, "M=3");

    /* loss weights and the analytic dL/dlogits (from the double reference) */
    double G[TM * TNH * TA], wv[TM];
    for (int i = 0; i < M * nh * A; i++) G[i] = rng_normal(&rng);
    for (int m = 0; m < M; m++) wv[m] = rng_normal(&rng);
    double *od = malloc(sizeof(double) * nobs);
    for (size_t i = 0; i < nobs; i++) od[i] = obs[i];
    Ref r;
    ref_init(&r, P, M, od, t_tok, t_act);
    r.G = G, r.wv = wv;
    ref_forward(&r);
    float dlogits[TM * TNH * TA], dvalue[TM];
    make_dlogits(dlogits, dvalue, &r, G, wv, M);

    policy_zero_grad(P);
    Err e;
    err_clear(&e);
    CHECK(policy_forward(P, logp, value, obs, t_tok, t_act, M, &e) == ST_OK, "%s", e.msg);
    policy_backward(P, dlogits, dvalue);
    float *g1 = malloc(sizeof(float) * n);
    memcpy(g1, policy_grads(P), sizeof(float) * n);

    check_fd_grads(P, &r, g1);
    check_accumulate(P, dlogits, dvalue, g1);
    check_masked_tokens(P, obs, &rng, dlogits, dvalue, g1, M, logp, value);
    check_alone(P, obs, logp, value);

    ref_free(&r);
    free(od), free(g1), free(obs);
    policy_free(P);
}

int main(void) {
    test_table();
    test_forward_backward();
    return check_exit("test_policy");
}
