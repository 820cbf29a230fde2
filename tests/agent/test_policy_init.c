/* test_policy_init.c: the transformer policy's (agent/policy.h) initialisation and error
 * paths, on the test policy of policy_fixture.h and a larger one (W=64, F=256, A=9):
 *   - orthogonal init: W W^T (or W^T W, the smaller side) = gain^2 I to 1e-5 gain^2 with
 *     gain sqrt 2 (trunk), 0.01 (pi/w), 1 (v/w); biases 0, layer norms (1, 0); seeded;
 *   - error paths: bad configs (ST_CONFIG), M out of range, an active head without allowed
 *     choice, a masked value token (ST_INVALID).
 * The forward and every gradient against a double reference: test_policy.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"
#include "core/rng.h"
#include "tests/agent/policy_fixture.h"
#include "tests/check.h"


/* Gram matrix of the smaller side vs gain^2 I; returns the worst error / gain^2 */
static double ortho_err(const float *w, int rows, int cols, double gain) {
    const int byrow = rows <= cols, nv = byrow ? rows : cols, len = byrow ? cols : rows;
    double worst = 0;
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nv; j++) {
            double d = 0;
            for (int k = 0; k < len; k++)
                d += byrow ? (double)w[(size_t)i * cols + k] * w[(size_t)j * cols + k]
                           : (double)w[(size_t)k * cols + i] * w[(size_t)k * cols + j];
            worst = fmax(worst, fabs(d - (i == j ? gain * gain : 0.0)) / (gain * gain));
        }
    return worst;
}

static void check_init(const PolicyConfig *c, uint64_t seed) {
    Policy *P = make_policy(c), *Q = make_policy(c);
    if (!P || !Q) return;
    Rng r1, r2;
    rng_init(&r1, seed, 3);
    rng_init(&r2, seed, 3);
    policy_init_params(P, &r1);
    policy_init_params(Q, &r2);
    const size_t n = policy_n_params(P);
    CHECK(memcmp(policy_params(P), policy_params(Q), sizeof(float) * n) == 0,
          "same seed, same init");
    rng_init(&r2, seed + 1, 3);
    policy_init_params(Q, &r2);
    CHECK(memcmp(policy_params(P), policy_params(Q), sizeof(float) * n) != 0,
          "another seed, another init");
    double worst = 0;
    for (int i = 0; i < policy_n_tensors(P); i++) {
        const PolicyTensor *t = policy_tensor(P, i);
        const float *x = policy_params(P) + t->offset;
        const size_t cnt = tensor_count(t);
        if (t->ndim == 2) {
            double gain = !strcmp(t->name, "pi/w") ? 0.01 : !strcmp(t->name, "v/w") ? 1.0
                                                                                     : sqrt(2.0);
            double err = ortho_err(x, (int)t->shape[0], (int)t->shape[1], gain);
            worst = fmax(worst, err);
            CHECK(err <= 1e-5, "%s: W W^T (smaller side) off gain^2 I by %.3g gain^2", t->name,
                  err);
        } else {
            float want = strstr(t->name, "ln_") && strstr(t->name, "/w") ? 1.0f : 0.0f;
            int bad = 0;
            for (size_t j = 0; j < cnt; j++) bad += x[j] != want;
            CHECK(bad == 0, "%s: %d entries not %g", t->name, bad, (double)want);
        }
    }
    printf("orthogonal init (W=%d, F=%d, A=%d): worst |Gram - gain^2 I| / gain^2 = %.2e\n",
           c->width, c->ffn, c->n_actions, worst);
    policy_free(P);
    policy_free(Q);
}

static void test_errors(void) {
    Err e;
    Policy *P = NULL;
    PolicyConfig c = tcfg;
    c.attn_heads = 3;
    err_clear(&e);
    CHECK(policy_init(&P, &c, &e) == ST_CONFIG && !P && strstr(e.msg, "attn_heads"), "%s",
          e.msg);
    c = tcfg, c.layers = 4;
    CHECK(policy_init(&P, &c, &e) == ST_CONFIG && strstr(e.msg, "layers"), "%s", e.msg);
    c = tcfg, c.head_token0 = 5;
    CHECK(policy_init(&P, &c, &e) == ST_CONFIG && strstr(e.msg, "head_token0"), "%s", e.msg);
    c = tcfg, c.value_token = 6;
    CHECK(policy_init(&P, &c, &e) == ST_CONFIG && strstr(e.msg, "value_token"), "%s", e.msg);
    c = tcfg, c.max_batch = 0;
    CHECK(policy_init(&P, &c, &e) == ST_CONFIG && strstr(e.msg, "max_batch"), "%s", e.msg);

    P = make_policy(&tcfg);
    if (!P) return;
    Rng rng;
    rng_init(&rng, 5, 0);
    policy_init_params(P, &rng);
    float obs[TM * TT * 5] = {0}, logp[TM * TNH * TA], value[TM];
    uint8_t tok[TM * TT], act[TM * TNH * TA];
    memcpy(tok, t_tok, sizeof tok);
    memcpy(act, t_act, sizeof act);
    CHECK(policy_forward(P, logp, value, obs, tok, act, 0, &e) == ST_INVALID, "M = 0");
    CHECK(policy_forward(P, logp, value, obs, tok, act, TM + 1, &e) == ST_INVALID &&
              strstr(e.msg, "max_batch"), "M > max_batch: %s", e.msg);
    /* obs 1, head 0 (active) without an allowed choice */
    memset(act + (1 * TNH + 0) * TA, 0, TA);
    CHECK(policy_forward(P, logp, value, obs, tok, act, TM, &e) == ST_INVALID &&
              strstr(e.msg, "observation 1, head 0"), "no allowed choice: %s", e.msg);
    /* obs 1, head 1 is inactive (token masked): no allowed choice is fine there */
    memcpy(act, t_act, sizeof act);
    memset(act + (1 * TNH + 1) * TA, 0, TA);
    err_clear(&e);
    CHECK(policy_forward(P, logp, value, obs, tok, act, TM, &e) == ST_OK, "%s", e.msg);
    tok[2 * TT + tcfg.value_token] = 0;
    CHECK(policy_forward(P, logp, value, obs, tok, act, TM, &e) == ST_INVALID &&
              strstr(e.msg, "value token"), "masked value token: %s", e.msg);
    policy_free(P);
}

int main(void) {
    check_init(&tcfg, 11);
    const PolicyConfig big = {.n_tokens = 10, .token_dim = 16, .n_heads = 4, .head_token0 = 1,
                              .value_token = 0, .n_actions = 9, .width = 64, .layers = 2,
                              .attn_heads = 4, .ffn = 256, .max_batch = 2};
    check_init(&big, 12);
    test_errors();
    return check_exit("test_policy_init");
}
