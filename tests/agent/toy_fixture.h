/* toy_fixture.h: the agent's view (agent/env_api.h Env) of a toy environment (env/toy.h), as
 * the PPO tests (test_toy_ppo.c, test_ppo_nonfinite.c, test_ppo_dist.c) build it: its sizes
 * and functions. Header-only (static), test code only. */
#ifndef DRRL_TESTS_AGENT_TOY_FIXTURE_H
#define DRRL_TESTS_AGENT_TOY_FIXTURE_H

#include "agent/env_api.h"
#include "env/toy.h"

/* toy_env: the Env of toy environment t (self t; the fixture's caller may replace self and
   the functions, as a wrapper does) */
static inline Env toy_env(ToyEnv *t) {
    Env env = {.self = t, .reset = toy_reset, .step = toy_step, .save = toy_save, .load = toy_load,
               .dims = {.n_envs = t->n_envs, .n_tokens = t->n_tokens, .token_dim = t->token_dim,
                        .n_heads = t->n_heads, .head_token0 = t->head_token0,
                        .value_token = t->value_token, .n_actions = t->n_actions,
                        .max_steps = t->max_steps, .n_info = t->n_info}};
    for (int j = 0; j < t->n_info; j++) env.dims.info_names[j] = t->info_names[j];
    return env;
}

#endif
