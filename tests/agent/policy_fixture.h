/* policy_fixture.h: what the tests of the transformer policy (test_policy.c,
 * test_policy_init.c) share: the test configuration (T = 6 tokens of D = 5, action heads on
 * tokens 2 and 3, value on token 0, width 8, 2 layers of 2 attention heads, FFN 12, batches
 * of up to 4), the observations' token and choice masks, test weights that make every path
 * carry signal, and small helpers. Header-only (static), test code only. */
#ifndef DRRL_TESTS_AGENT_POLICY_FIXTURE_H
#define DRRL_TESTS_AGENT_POLICY_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "agent/policy.h"
#include "core/rng.h"
#include "tests/check.h"

/* the test policy: T = 6 tokens of D = 5, action heads on tokens 2 and 3, value on token 0 */
static const PolicyConfig tcfg = {.n_tokens = 6, .token_dim = 5, .n_heads = 2,
                                  .head_token0 = 2, .value_token = 0, .n_actions = 4,
                                  .width = 8, .layers = 2, .attn_heads = 2, .ffn = 12,
                                  .max_batch = 4};
enum { TM = 4, TT = 6, TNH = 2, TA = 4 };
/* obs 0: all present; obs 1: tokens 3 (head 1) and 5 masked; obs 2: tokens 1 and 2 (head 0)
   masked; obs 3 (M = max_batch only): token 4 masked */
static const uint8_t t_tok[TM * TT] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0,
                                       1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1};
static const uint8_t t_act[TM * TNH * TA] = {1, 1, 1, 1, 1, 0, 1, 1, /* obs 0 */
                                             0, 1, 1, 0, 1, 0, 1, 0, /* obs 1 (head 1 off) */
                                             0, 1, 0, 0, 0, 0, 1, 1, /* obs 2 (head 0 off) */
                                             1, 0, 0, 1, 0, 0, 0, 1};

/* make_policy: a policy of config c (one CHECK: it was made) */
static inline Policy *make_policy(const PolicyConfig *c) {
    Policy *P = NULL;
    Err e;
    err_clear(&e);
    Status st = policy_init(&P, c, &e);
    CHECK(st == ST_OK && P, "policy_init: %s", e.msg);
    return P;
}

/* test weights: matrices N(0, 1/cols), biases N(0, 0.2^2), layer norms 1 + N(0, 0.2^2):
   every path carries signal and attention is not uniform */
static inline void fill_test_weights(Policy *P, Rng *r) {
    float *x = policy_params(P);
    for (int i = 0; i < policy_n_tensors(P); i++) {
        const PolicyTensor *t = policy_tensor(P, i);
        int ln_w = strstr(t->name, "ln_") && strstr(t->name, "/w");
        double sd = t->ndim == 2 ? 1.0 / sqrt((double)t->shape[1]) : 0.2;
        size_t n = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
        for (size_t j = 0; j < n; j++)
            x[t->offset + j] = (float)((ln_w ? 1.0 : 0.0) + sd * rng_normal(r));
    }
}

/* tensor_count: the number of values of a tensor */
static inline size_t tensor_count(const PolicyTensor *t) {
    return (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
}

#endif
