/* test_toy_ppo.c: PPO (agent/ppo.h) on the toy environment (env/toy.h), whose best action per
 * (layer, difficulty) is known in closed form.
 *  - Learning: for three seeds, train with the PPO settings of docs/design.md section 5 (GAE 0.99 /
 *    0.95, clip 0.2, vf 0.5, entropy 0.01, Adam eps 1e-5, gradient norm 0.5, minibatch advantage
 *    normalisation; 32 episode slots, 8 steps (2 episodes) per slot per iteration, 4 epochs of
 *    minibatches of 64, lr 1e-3 -> 1e-4 linearly over 60 iterations) until the greedy policy takes
 *    the best allowed action at every step of EVAL_ENVS fresh evaluation episodes (every (layer,
 *    difficulty) state, with fresh noise features and previous actions), within MAX_IT = 100
 *    iterations. Over seeds 1..60 this took 9-43 iterations (median 18).
 *  - Two segments: a second, randomly absent segment (inactive heads); the per-step reward is
 *    shared by the two heads, so credit assignment is noisier: the bound is a greedy share of
 *    best actions >= 0.95 within MAX_IT (seeds 1..20: 9-37 iterations; 100% took from 33 to
 *    over 100).
 *  - The toy itself: its best actions are the documented table with a margin >= 0.06 over the
 *    next allowed action, masked and out-of-range actions are refused, and toy_save /
 *    toy_load restore the stream (the next episodes are bit-identical).
 *  - Determinism: two agents with the same seed on two environments with the same seed give
 *    bit-identical parameters, Adam moments, step counts, RNG states and statistics (with the
 *    clipped value loss and a target KL that stops some updates).
 * Threads: the learning runs use one OpenMP thread (so OpenBLAS too): at this size (minibatch
 * 64 of 4-5 tokens, width 64) every parallel region of the policy costs more than it saves,
 * and on 2 busy cores the spinning made the test 7x slower (49 s instead of 7 s, release
 * build); the determinism check runs with the threads the environment sets (OMP_NUM_THREADS=2
 * under meson).
 * Agent state is all reachable from Agent fields (params through A->pi, adam_m, adam_v, step,
 * rng_act, rng_mb, iteration, env_steps, episodes): the determinism check compares exactly
 * those.
 * Usage: test_toy_ppo [SEED...] replaces the three learning seeds (for exploring). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../check.h"
#include "agent/ppo.h"
#include "core/timer.h"
#include "env/toy.h"
#include "toy_fixture.h"

#define N_ENVS 32
#define EVAL_ENVS 64
#define MAX_IT 100     /* the test's bound on iterations to the optimal greedy policy */
#define SCHEDULE_IT 60 /* the lr schedule's length: 1e-3 at iteration 0 to 1e-4 at 59 */

static PpoConfig ppo_cfg(void) {
    PpoConfig c;
    memset(&c, 0, sizeof c);
    c.n_steps = 2 * TOY_LAYERS;
    c.epochs = 4;
    c.minibatch = 64;
    c.gamma = 0.99f;
    c.lam = 0.95f;
    c.clip = 0.2f;
    c.clip_vloss = 0.0f;
    c.vf_coef = 0.5f;
    c.ent_coef = 0.01f;
    c.max_grad_norm = 0.5f;
    c.target_kl = 0.0f;
    c.lr = 1e-3f;
    c.lr_final = 1e-4f;
    c.iterations = SCHEDULE_IT;
    c.adam_eps = 1e-5f;
    c.norm_adv = 1;
    return c;
}

static PolicyConfig policy_cfg(void) {
    PolicyConfig p;
    memset(&p, 0, sizeof p);
    p.width = 64;
    p.layers = 2;
    p.attn_heads = 4;
    p.ffn = 256;
    p.max_batch = 1;
    return p;
}

/* eval_greedy: share of (episode, present segment, layer) decisions of EVAL_ENVS fresh
   episodes where the greedy action is the best allowed one; -1 on error */
static double eval_greedy(Agent *A, ToyEnv *ev, int *states_seen) {
    static float obs[EVAL_ENVS * (3 + TOY_MAX_SEGMENTS) * TOY_TOKEN_DIM];
    static uint8_t tm[EVAL_ENVS * (3 + TOY_MAX_SEGMENTS)];
    static uint8_t am[EVAL_ENVS * TOY_MAX_SEGMENTS * TOY_ACTIONS];
    int32_t act[EVAL_ENVS * TOY_MAX_SEGMENTS];
    float rew[EVAL_ENVS], info[EVAL_ENVS * TOY_N_INFO];
    uint8_t done[EVAL_ENVS];
    Err e;
    int seen[TOY_LAYERS][2] = {{0}};
    const int NS = ev->cfg.n_segments;
    long good = 0, total = 0;
    if (toy_reset(ev, obs, tm, am, &e)) return -1;
    for (int l = 0; l < TOY_LAYERS; l++) {
        if (agent_act_greedy(A, act, obs, tm, am, EVAL_ENVS, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return -1;
        }
        for (int i = 0; i < EVAL_ENVS; i++)
            for (int s = 0; s < NS; s++) {
                if (!ev->present[i * NS + s]) continue;
                int c = ev->diff[i * NS + s];
                seen[l][c] = 1;
                good += act[i * NS + s] == toy_optimal(l, c);
                total++;
            }
        if (toy_step(ev, act, obs, tm, am, rew, done, info, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return -1;
        }
    }
    int n = 0;
    for (int l = 0; l < TOY_LAYERS; l++) n += seen[l][0] + seen[l][1];
    *states_seen = n;
    return (double)good / (double)total;
}

/* learn: iterations until the greedy policy's share of best actions over the evaluation
   episodes reaches target (1: optimal everywhere); MAX_IT + 1 if never */
static int learn(uint64_t seed, int n_segments, double target, double *seconds) {
    ToyEnv t, ev;
    ToyConfig tc = {.n_envs = N_ENVS, .n_segments = n_segments, .noise = 0.3f, .seed = seed};
    ToyConfig ec = {.n_envs = EVAL_ENVS, .n_segments = n_segments, .noise = 0.3f,
                    .seed = seed + 1000};
    Err e;
    Agent A;
    double t0 = time_now();
    if (toy_init(&t, &tc, &e) || toy_init(&ev, &ec, &e)) {
        CHECK(0, "toy_init: %s", e.msg);
        return MAX_IT + 1;
    }
    Env env = toy_env(&t);
    PpoConfig pc = ppo_cfg();
    PolicyConfig pol = policy_cfg();
    Status st = agent_init(&A, &pc, &pol, &env.dims, seed, &e);
    CHECK(st == ST_OK, "agent_init: %s", e.msg);
    int found = MAX_IT + 1;
    PpoStats s;
    for (int it = 1; !st && it <= MAX_IT; it++) {
        st = agent_iterate(&A, &env, &s, &e);
        CHECK(st == ST_OK, "agent_iterate: %s", e.msg);
        if (st) break;
        int seen = 0;
        double acc = eval_greedy(&A, &ev, &seen);
        CHECK(acc >= 0, "eval failed");
        if (it % 5 == 0 || acc >= target)
            printf("  seed %llu seg %d it %3d: return %.3f optimal(sampled) %.3f greedy %.3f "
                   "entropy %.3f kl %.4f clip %.3f ev %.3f |g| %.3f\n",
                   (unsigned long long)seed, n_segments, it, s.ep_return_mean,
                   s.info_mean[0], acc, s.entropy, s.approx_kl, s.clip_fraction,
                   s.explained_variance, s.grad_norm);
        if (acc >= target) {
            CHECK(seen == 2 * TOY_LAYERS, "evaluation saw %d of %d states", seen,
                  2 * TOY_LAYERS);
            found = it;
            break;
        }
    }
    agent_free(&A);
    toy_free(&t);
    toy_free(&ev);
    *seconds = time_now() - t0;
    return found;
}

/* episode: one episode of the best actions; obs of every step and rewards appended */
static Status episode(ToyEnv *t, float *obs_log, float *rew_log, Err *e) {
    enum { E = 4, NT = 3 + 2, NS = 2 };
    float obs[E * NT * TOY_TOKEN_DIM], rew[E], info[E * TOY_N_INFO];
    uint8_t tm[E * NT], am[E * NS * TOY_ACTIONS], done[E];
    int32_t act[E * NS];
    Status s = toy_reset(t, obs, tm, am, e);
    for (int l = 0; !s && l < TOY_LAYERS; l++) {
        memcpy(obs_log + (size_t)l * sizeof obs / sizeof *obs, obs, sizeof obs);
        for (int i = 0; i < E * NS; i++) act[i] = (int32_t)toy_optimal(l, t->diff[i]);
        s = toy_step(t, act, obs, tm, am, rew, done, info, e);
        memcpy(rew_log + l * E, rew, sizeof rew);
        for (int i = 0; !s && i < E; i++)
            CHECK(info[i * TOY_N_INFO] == 1.0f && done[i] == (l == TOY_LAYERS - 1),
                  "optimal info %g, done %d", (double)info[i * TOY_N_INFO], done[i]);
    }
    return s;
}

static void test_toy(void) {
    /* the table documented in toy.h, unique with a margin */
    const int best[2][TOY_LAYERS] = {{0, 1, 2, 1}, {2, 3, 4, 2}};
    for (int c = 0; c < 2; c++)
        for (int l = 0; l < TOY_LAYERS; l++) {
            int a = toy_optimal(l, c);
            CHECK(a == best[c][l], "toy_optimal(%d, %d) = %d, expected %d", l, c, a,
                  best[c][l]);
            for (int b = 0; b < TOY_ACTIONS; b++)
                if (b != a && toy_allowed(l, c, b))
                    CHECK(toy_reward(l, c, a) - toy_reward(l, c, b) >= 0.06,
                          "margin at (%d, %d): %d vs %d", l, c, a, b);
        }
    CHECK(!toy_allowed(3, 0, 0) && toy_reward(3, 0, 0) > toy_reward(3, 0, 1),
          "(3, 0): the unconstrained best is the masked action 0");
    /* refused actions */
    ToyEnv t, u;
    Err e;
    ToyConfig tc = {.n_envs = 4, .n_segments = 2, .noise = 0.3f, .seed = 5};
    CHECK(toy_init(&t, &tc, &e) == ST_OK, "toy_init: %s", e.msg);
    float obs[4 * 5 * TOY_TOKEN_DIM], rew[4], info[4 * TOY_N_INFO];
    uint8_t tm[4 * 5], am[4 * 2 * TOY_ACTIONS], done[4];
    int32_t act[4 * 2] = {0};
    CHECK(toy_step(&t, act, obs, tm, am, rew, done, info, &e) == ST_INVALID,
          "step before reset");
    CHECK(toy_reset(&t, obs, tm, am, &e) == ST_OK, "reset");
    for (int i = 0; i < 8; i++) act[i] = 1;
    act[0] = TOY_ACTIONS;
    CHECK(toy_step(&t, act, obs, tm, am, rew, done, info, &e) == ST_INVALID,
          "out-of-range action");
    act[0] = 0;
    t.diff[0] = 1; /* c = 1: action 0 unsafe */
    CHECK(toy_step(&t, act, obs, tm, am, rew, done, info, &e) == ST_INVALID &&
              strstr(e.msg, "allowed"), "masked action: %s", e.msg);
    /* save, two episodes; load into another stream, the same two episodes */
    char dir[] = "/tmp/drrl_toy_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/toy.h5", dir);
    static float o1[2 * TOY_LAYERS * 4 * 5 * TOY_TOKEN_DIM], o2[sizeof o1 / sizeof *o1];
    float r1[2 * TOY_LAYERS * 4], r2[2 * TOY_LAYERS * 4];
    CHECK(episode(&t, o1, r1, &e) == ST_OK, "episode: %s", e.msg);
    Store *st;
    CHECK(store_create(&st, path, "drrl-test", 1, &e) == ST_OK, "store_create: %s", e.msg);
    CHECK(toy_save(&t, st, "/env", &e) == ST_OK, "toy_save: %s", e.msg);
    CHECK(store_commit(st, &e) == ST_OK, "store_commit: %s", e.msg);
    const size_t half = sizeof o1 / sizeof *o1 / 2;
    CHECK(episode(&t, o1, r1, &e) == ST_OK && episode(&t, o1 + half, r1 + 16, &e) == ST_OK,
          "episodes");
    tc.seed = 6;
    CHECK(toy_init(&u, &tc, &e) == ST_OK, "toy_init");
    CHECK(store_open(&st, path, "drrl-test", 1, 1, &e) == ST_OK, "store_open: %s", e.msg);
    CHECK(toy_load(&u, st, "/env", &e) == ST_OK, "toy_load: %s", e.msg);
    CHECK(u.episodes == t.episodes - 8, "episodes %lld", (long long)u.episodes);
    CHECK(episode(&u, o2, r2, &e) == ST_OK && episode(&u, o2 + half, r2 + 16, &e) == ST_OK,
          "episodes after load");
    CHECK(!memcmp(o1, o2, sizeof o1) && !memcmp(r1, r2, sizeof r1),
          "episodes after toy_load differ");
    ToyEnv w;
    tc.n_envs = 3;
    CHECK(toy_init(&w, &tc, &e) == ST_OK, "toy_init");
    CHECK(toy_load(&w, st, "/env", &e) == ST_SHAPE && strstr(e.msg, "n_envs 3"),
          "load into another shape: %s", e.msg);
    store_close(st);
    unlink(path);
    rmdir(dir);
    toy_free(&t);
    toy_free(&u);
    toy_free(&w);
}

/* determinism: two identical runs of n_it iterations agree bit for bit */
static void determinism(uint64_t seed, int n_it) {
    ToyEnv t[2];
    Agent A[2];
    PpoStats s[2];
    Err e;
    PpoConfig pc = ppo_cfg();
    pc.clip_vloss = 0.2f; /* exercise the clipped value loss and the KL stop too */
    pc.target_kl = 0.02f;
    PolicyConfig pol = policy_cfg();
    for (int r = 0; r < 2; r++) {
        ToyConfig tc = {.n_envs = N_ENVS, .n_segments = 2, .noise = 0.3f, .seed = seed};
        CHECK(toy_init(&t[r], &tc, &e) == ST_OK, "toy_init");
        Env env = toy_env(&t[r]);
        CHECK(agent_init(&A[r], &pc, &pol, &env.dims, seed, &e) == ST_OK, "agent_init: %s",
              e.msg);
        for (int it = 0; it < n_it; it++) {
            Status st = agent_iterate(&A[r], &env, &s[r], &e);
            CHECK(st == ST_OK, "agent_iterate: %s", e.msg);
            if (st) return;
        }
    }
    size_t n = policy_n_params(A[0].pi);
    CHECK(n == policy_n_params(A[1].pi), "n_params");
    CHECK(!memcmp(policy_params(A[0].pi), policy_params(A[1].pi), n * sizeof(float)),
          "parameters differ");
    CHECK(!memcmp(A[0].adam_m, A[1].adam_m, n * sizeof(float)), "adam_m differs");
    CHECK(!memcmp(A[0].adam_v, A[1].adam_v, n * sizeof(float)), "adam_v differs");
    CHECK(A[0].step.t == A[1].step.t && A[0].step.t > 0, "steps %lld %lld",
          (long long)A[0].step.t, (long long)A[1].step.t);
    CHECK(!memcmp(A[0].rng_act, A[1].rng_act, sizeof(Rng) * (size_t)A[0].dims.n_envs),
          "rng_act differs");
    CHECK(!memcmp(&A[0].rng_mb, &A[1].rng_mb, sizeof(Rng)), "rng_mb differs");
    CHECK(A[0].iteration == n_it && A[1].iteration == n_it, "iteration");
    CHECK(A[0].env_steps == A[1].env_steps && A[0].episodes == A[1].episodes, "counters");
    CHECK(A[0].env_steps == (int64_t)n_it * pc.n_steps * N_ENVS, "env_steps %lld",
          (long long)A[0].env_steps);
    CHECK(A[0].episodes == (int64_t)n_it * pc.n_steps / TOY_LAYERS * N_ENVS, "episodes %lld",
          (long long)A[0].episodes);
    /* every statistic but the timings, bit for bit (NaN compares equal to itself here) */
#define SAME(f) CHECK(!memcmp(&s[0].f, &s[1].f, sizeof s[0].f), "statistic " #f " differs")
    SAME(iteration); SAME(env_steps); SAME(episodes); SAME(lr); SAME(ep_return_mean);
    SAME(reward_mean); SAME(info_mean); SAME(pg_loss); SAME(v_loss); SAME(entropy);
    SAME(approx_kl); SAME(clip_fraction); SAME(explained_variance); SAME(grad_norm);
    SAME(epochs_run); SAME(rollout_episodes); SAME(updates); SAME(kl_stop);
#undef SAME
    printf("determinism: %d iterations, %lld optimizer steps, last epochs_run %d kl_stop %d: "
           "bit-identical\n", n_it, (long long)A[0].step.t, s[0].epochs_run, s[0].kl_stop);
    for (int r = 0; r < 2; r++) {
        agent_free(&A[r]);
        toy_free(&t[r]);
    }
}

int main(int argc, char **argv) {
    uint64_t seeds[64] = {1, 2, 3};
    int n_seeds = 3;
    if (argc > 1) {
        n_seeds = argc - 1 < 64 ? argc - 1 : 64;
        for (int k = 0; k < n_seeds; k++) seeds[k] = strtoull(argv[k + 1], NULL, 10);
    }
    double total = 0.0;
    test_toy();
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    for (int k = 0; k < n_seeds; k++) {
        double sec;
        int it = learn(seeds[k], 1, 1.0, &sec);
        total += sec;
        printf("seed %llu: greedy policy optimal after %d iterations (%.1f s)\n",
               (unsigned long long)seeds[k], it, sec);
        CHECK(it <= MAX_IT, "seed %llu: not optimal within %d iterations",
              (unsigned long long)seeds[k], MAX_IT);
    }
    double sec;
    int it = learn(4, 2, 0.95, &sec);
    total += sec;
    printf("two segments, seed 4: greedy policy best in >= 95%% of decisions after %d "
           "iterations (%.1f s)\n", it, sec);
    CHECK(it <= MAX_IT, "two segments: not 95%% optimal within %d iterations", MAX_IT);
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    double t0 = time_now();
    determinism(9, 3);
    printf("determinism: %.1f s; total %.1f s\n", time_now() - t0, total + time_now() - t0);
    return check_exit("test_toy_ppo");
}
