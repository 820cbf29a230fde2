/* test_ppo_dist.c: data-parallel PPO (agent/ppo.h) on the toy environment, run alone and under
 * `mpirun -np 2` (tests/agent/meson.build). Every process trains two agents for IT iterations
 * on the same 16 episode slots of one seed:
 *   - the reference: one process's agent over all 16 slots (cfg.parts 1, no collective);
 *   - the split one: cfg.parts = the job's size, this process holding 16 / parts slots
 *     (global slots part * 16 / parts ..; the toy and the action streams are per global slot).
 * Checks: the split agent's parameters, Adam moments and step are bit-identical on every
 * process after every iteration (process 0's broadcast, compared); its counters equal the
 * reference's; its parameters agree with the reference's to float rounding (the gradient's
 * sum runs in another order: max |difference| <= 1e-5 of the largest parameter), and so do
 * the logged statistics (reward_mean, approx_kl, entropy); alone, bit for bit. Usage:
 * test_ppo_dist EXPECTED_PROCESSES. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "agent/ppo.h"
#include "core/dist.h"
#include "env/toy.h"
#include "toy_fixture.h"

#define SLOTS 16
#define IT 3


static PpoConfig ppo_cfg(int part, int parts) {
    PpoConfig c = {.n_steps = 2 * TOY_LAYERS, .epochs = 2, .minibatch = 24, .gamma = 0.99f,
                   .lam = 0.95f, .clip = 0.2f, .vf_coef = 0.5f, .ent_coef = 0.01f,
                   .max_grad_norm = 0.5f, .target_kl = 0.0f, .lr = 1e-3f, .lr_final = 1e-4f,
                   .iterations = 10, .adam_eps = 1e-5f, .norm_adv = 1, .part = part,
                   .parts = parts};
    return c;
}

/* make: agent and toy for slots [first, first + n) of SLOTS */
static int make(Agent *A, ToyEnv *t, Env *env, int part, int parts) {
    Err e;
    const int n = SLOTS / parts;
    ToyConfig tc = {.n_envs = n, .n_segments = 2, .noise = 0.3f, .seed = 5, .first_slot = part * n};
    if (toy_init(t, &tc, &e)) {
        CHECK(0, "toy_init: %s", e.msg);
        return 0;
    }
    *env = toy_env(t);
    PpoConfig pc = ppo_cfg(part, parts);
    PolicyConfig pol = {.width = 32, .layers = 1, .attn_heads = 2, .ffn = 64, .max_batch = 1};
    Status s = agent_init(A, &pc, &pol, &env->dims, 9, &e);
    CHECK(s == ST_OK, "agent_init: %s", e.msg);
    return !s;
}

int main(int argc, char **argv) {
    Err e;
    err_clear(&e);
    CHECK(dist_init(&argc, &argv, &e) == ST_OK, "dist_init: %s", e.msg);
    const int P = dist_size(), r = dist_rank(), want = argc > 1 ? atoi(argv[1]) : 1;
    CHECK(P == want && SLOTS % P == 0, "%d processes, expected %d", P, want);
    Agent A1, A2;
    ToyEnv t1, t2;
    Env e1, e2;
    if (!make(&A1, &t1, &e1, 0, 1) || !make(&A2, &t2, &e2, r, P)) return check_exit("test_ppo_dist");
    const size_t n = policy_n_params(A1.pi);
    float *mine = malloc(3 * n * sizeof(float)), *lead = malloc(3 * n * sizeof(float));
    CHECK(mine && lead, "out of memory");
    for (int it = 0; it < IT && mine && lead; it++) {
        PpoStats s1, s2;
        Status st1 = agent_iterate(&A1, &e1, &s1, &e);
        CHECK(st1 == ST_OK, "reference iteration %d: %s", it, e.msg);
        Status st2 = agent_iterate(&A2, &e2, &s2, &e);
        CHECK(st2 == ST_OK, "split iteration %d: %s", it, e.msg);
        if (st1 || st2) break;
        /* the split agent's state is the same on every process: process 0's, broadcast */
        memcpy(mine, policy_params(A2.pi), n * sizeof(float));
        memcpy(mine + n, A2.adam_m, n * sizeof(float));
        memcpy(mine + 2 * n, A2.adam_v, n * sizeof(float));
        memcpy(lead, mine, 3 * n * sizeof(float));
        int64_t t = A2.step.t, t0 = t;
        CHECK(dist_bcast(lead, 3 * n * sizeof(float), 0, &e) == ST_OK &&
              dist_bcast(&t0, sizeof t0, 0, &e) == ST_OK, "bcast: %s", e.msg);
        CHECK(!memcmp(lead, mine, 3 * n * sizeof(float)) && t0 == t,
              "iteration %d: process %d's parameters or moments differ from process 0's", it, r);
        CHECK(A2.iteration == A1.iteration && A2.env_steps == A1.env_steps &&
              A2.episodes == A1.episodes && s2.updates == s1.updates,
              "iteration %d: counters %lld/%lld/%lld vs %lld/%lld/%lld", it,
              (long long)A2.iteration, (long long)A2.env_steps, (long long)A2.episodes,
              (long long)A1.iteration, (long long)A1.env_steps, (long long)A1.episodes);
        double dmax = 0, pmax = 0;
        const float *p1 = policy_params(A1.pi), *p2 = policy_params(A2.pi);
        for (size_t i = 0; i < n; i++) {
            dmax = fmax(dmax, fabs((double)p1[i] - (double)p2[i]));
            pmax = fmax(pmax, fabs((double)p1[i]));
        }
        if (P == 1) CHECK(dmax == 0, "alone: the split agent differs from the reference");
        CHECK(dmax <= 1e-5 * pmax, "iteration %d: max |split - reference| %.3g of %.3g", it,
              dmax, pmax);
        CHECK_CLOSE(s2.reward_mean, s1.reward_mean, 1e-6, 1e-9, "reward_mean");
        CHECK_CLOSE(s2.approx_kl, s1.approx_kl, 1e-3, 1e-9, "approx_kl");
        CHECK_CLOSE(s2.entropy, s1.entropy, 1e-5, 1e-9, "entropy");
        if (!r)
            printf("iteration %d: max |split - reference| %.3g (largest parameter %.3g), "
                   "reward %.6f vs %.6f\n", it, dmax, pmax, s2.reward_mean, s1.reward_mean);
    }
    free(mine), free(lead);
    agent_free(&A1), agent_free(&A2);
    toy_free(&t1), toy_free(&t2);
    int rc = check_exit(r ? "test_ppo_dist (process 1+)" : "test_ppo_dist");
    dist_finalize();
    return rc;
}
