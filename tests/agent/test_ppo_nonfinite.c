/* test_ppo_nonfinite.c: PPO's non-finite policy (agent/ppo.h, agent_update) on the toy
 * environment (env/toy.h) wrapped so that chosen iterations report a NaN or infinite reward.
 *  - A non-finite reward skips the whole update: parameters, Adam moments and step are
 *    bit-identical to before, the iteration and its counters still advance, the skip is
 *    counted (s.skipped, A.nonfinite_total, A.nonfinite_run) and its reason names the reward.
 *  - The next finite iteration updates and resets the run (nonfinite_run 0, total kept).
 *  - More than max_nonfinite skips in a row is ST_NUMERIC naming the count and the limit; the
 *    parameters are still those before the skips; max_nonfinite 0 stops at the first.
 *  - A NaN value estimate in one sample (injected into the rollout): only the minibatches it
 *    reaches skip their step (GAE carries it to the earlier steps of its episode slot, and the
 *    per-minibatch advantage normalisation to the whole minibatch), the others step, and
 *    updates + skipped equals the minibatches run; the parameters stay finite. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "agent/ppo.h"
#include "env/toy.h"
#include "toy_fixture.h"

#define N_ENVS 16

typedef struct {
    ToyEnv t;
    int bad_from, bad_to; /* iterations (0-based) whose rewards are poisoned: [from, to) */
    float bad;            /* the poison: NaN or +inf */
    int steps;            /* env steps so far */
    int per_iter;         /* env steps per iteration */
} BadEnv;

static Status bad_step(void *self, const int32_t *action, float *obs, uint8_t *tm, uint8_t *am,
                       float *reward, uint8_t *done, float *info, Err *e) {
    BadEnv *b = self;
    Status s = toy_step(&b->t, action, obs, tm, am, reward, done, info, e);
    int it = b->steps++ / b->per_iter;
    if (!s && it >= b->bad_from && it < b->bad_to) reward[3] = b->bad; /* one slot, one step */
    return s;
}

static Status bad_reset(void *self, float *obs, uint8_t *tm, uint8_t *am, Err *e) {
    return toy_reset(&((BadEnv *)self)->t, obs, tm, am, e);
}

static Env bad_env(BadEnv *b) {
    Env env = toy_env(&b->t);
    env.self = b, env.reset = bad_reset, env.step = bad_step, env.save = NULL, env.load = NULL;
    return env;
}

static PpoConfig ppo_cfg(int max_nonfinite) {
    PpoConfig c = {.n_steps = 2 * TOY_LAYERS, .epochs = 2, .minibatch = 16, .gamma = 0.99f,
                   .lam = 0.95f, .clip = 0.2f, .vf_coef = 0.5f, .ent_coef = 0.01f,
                   .max_grad_norm = 0.5f, .lr = 1e-3f, .lr_final = 1e-3f, .iterations = 100,
                   .adam_eps = 1e-5f, .norm_adv = 1, .max_nonfinite = max_nonfinite};
    return c;
}

/* snapshot: a copy of what an update changes (parameters, moments), and the Adam step */
typedef struct { float p[200000], m[200000], v[200000]; int64_t t; size_t n; } Snap;
static Snap s0, s1;

static void snap(const Agent *A, Snap *s) {
    s->n = policy_n_params(A->pi);
    memcpy(s->p, policy_params(A->pi), s->n * sizeof(float));
    memcpy(s->m, A->adam_m, s->n * sizeof(float));
    memcpy(s->v, A->adam_v, s->n * sizeof(float));
    s->t = A->step.t;
}

static int same(const Snap *a, const Snap *b) {
    return a->n == b->n && a->t == b->t && !memcmp(a->p, b->p, a->n * sizeof(float)) &&
           !memcmp(a->m, b->m, a->n * sizeof(float)) && !memcmp(a->v, b->v, a->n * sizeof(float));
}

/* setup: agent and poisoned toy, iterations [from, to) poisoned with bad */
static int setup(Agent *A, BadEnv *b, Env *env, int max_nonfinite, int from, int to, float bad) {
    Err e;
    memset(b, 0, sizeof *b);
    ToyConfig tc = {.n_envs = N_ENVS, .n_segments = 1, .noise = 0.3f, .seed = 7};
    if (toy_init(&b->t, &tc, &e)) {
        CHECK(0, "toy_init: %s", e.msg);
        return 0;
    }
    b->bad_from = from, b->bad_to = to, b->bad = bad, b->per_iter = 2 * TOY_LAYERS;
    *env = bad_env(b);
    PpoConfig pc = ppo_cfg(max_nonfinite);
    PolicyConfig pol = {.width = 32, .layers = 1, .attn_heads = 2, .ffn = 64, .max_batch = 1};
    Status s = agent_init(A, &pc, &pol, &env->dims, 11, &e);
    CHECK(s == ST_OK, "agent_init: %s", e.msg);
    CHECK(policy_n_params(A->pi) <= 200000, "snapshot too small for %zu", policy_n_params(A->pi));
    return !s;
}

static void test_reward(float bad) {
    Agent A;
    BadEnv b;
    Env env;
    Err e;
    PpoStats s;
    if (!setup(&A, &b, &env, 2, 1, 2, bad)) return;
    CHECK(agent_iterate(&A, &env, &s, &e) == ST_OK && s.skipped == 0 && s.updates > 0,
          "iteration 1: %s", e.msg);
    snap(&A, &s0);
    Status st = agent_iterate(&A, &env, &s, &e); /* poisoned */
    snap(&A, &s1);
    CHECK(st == ST_OK, "a poisoned iteration stopped the run: %s", e.msg);
    CHECK(same(&s0, &s1), "a skipped update changed the parameters or moments");
    CHECK(s.skipped == 1 && s.updates == 0 && A.nonfinite_total == 1 && A.nonfinite_run == 1,
          "counts: skipped %lld updates %lld total %lld run %lld", (long long)s.skipped,
          (long long)s.updates, (long long)A.nonfinite_total, (long long)A.nonfinite_run);
    CHECK(A.iteration == 2 && s.iteration == 2, "the iteration did not advance: %lld",
          (long long)A.iteration);
    char want[64];
    snprintf(want, sizeof want, "a reward of %g (step ", (double)bad);
    CHECK(strstr(s.skip_reason, want) && strstr(s.skip_reason, "slot 3)"), "reason '%s'",
          s.skip_reason);
    CHECK(isnan(s.pg_loss) && isnan(s.grad_norm), "a skipped update reported losses");
    st = agent_iterate(&A, &env, &s, &e);
    snap(&A, &s1);
    CHECK(st == ST_OK && s.skipped == 0 && s.updates > 0 && !same(&s0, &s1),
          "the next finite iteration did not update");
    CHECK(A.nonfinite_run == 0 && A.nonfinite_total == 1, "run %lld total %lld after recovery",
          (long long)A.nonfinite_run, (long long)A.nonfinite_total);
    agent_free(&A);
    toy_free(&b.t);
}

static void test_limit(int max_nonfinite) {
    Agent A;
    BadEnv b;
    Env env;
    Err e;
    PpoStats s;
    if (!setup(&A, &b, &env, max_nonfinite, 1, 100, NAN)) return;
    CHECK(agent_iterate(&A, &env, &s, &e) == ST_OK, "iteration 1: %s", e.msg);
    snap(&A, &s0);
    Status st = ST_OK;
    int k = 0;
    while (!st && k < 10) st = agent_iterate(&A, &env, &s, &e), k++;
    snap(&A, &s1);
    char want[160];
    snprintf(want, sizeof want, "%d updates in a row skipped for non-finite numbers, the last for "
             "a reward of nan", max_nonfinite + 1);
    CHECK(st == ST_NUMERIC && k == max_nonfinite + 1, "max %d: stopped after %d (status %d)",
          max_nonfinite, k, (int)st);
    CHECK(st && strstr(e.msg, want), "message '%s'", e.msg);
    snprintf(want, sizeof want, "expected at most ppo.max_nonfinite = %d in a row", max_nonfinite);
    CHECK(st && strstr(e.msg, want), "message '%s'", e.msg);
    CHECK(same(&s0, &s1), "the parameters changed during the skipped updates");
    agent_free(&A);
    toy_free(&b.t);
}

static void test_minibatch(void) {
    Agent A;
    BadEnv b;
    Env env;
    Err e;
    PpoStats s;
    if (!setup(&A, &b, &env, 1000, -1, -1, 0)) return;
    memset(&s, 0, sizeof s);
    Status st = agent_collect(&A, &env, &e);
    CHECK(st == ST_OK, "collect: %s", e.msg);
    CHECK(agent_rollout_stats(&A, &s, &e) == ST_OK, "rollout stats: %s", e.msg);
    A.ro.value[(size_t)(TOY_LAYERS - 1) * N_ENVS + 5] = NAN; /* slot 5, last step of episode 1 */
    st = agent_update(&A, &s, &e);
    const int N = A.ro.n_steps * A.ro.n_envs, mbs = 2 * ((N + 15) / 16);
    CHECK(st == ST_OK, "update: %s", e.msg);
    CHECK(s.skipped >= 1 && s.updates >= 1 && s.updates + s.skipped == mbs,
          "skipped %lld + updates %lld vs %d minibatches", (long long)s.skipped,
          (long long)s.updates, mbs);
    CHECK(strstr(s.skip_reason, "a loss of nan"), "reason '%s'", s.skip_reason);
    int finite = 1;
    for (size_t i = 0; i < policy_n_params(A.pi); i++) finite &= isfinite(policy_params(A.pi)[i]);
    CHECK(finite && isfinite(s.pg_loss) && isfinite(s.grad_norm), "non-finite after the update");
    agent_free(&A);
    toy_free(&b.t);
}

int main(void) {
    test_reward(NAN);
    test_reward(INFINITY);
    test_limit(2);
    test_limit(0);
    test_minibatch();
    return check_exit("test_ppo_nonfinite");
}
