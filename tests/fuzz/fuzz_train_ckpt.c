/* fuzz_train_ckpt.c: libFuzzer target of the drrl-train checkpoint readers
 * (pipeline/train_ckpt.c): train_ckpt_peek (stored config and meta, read first on --resume and
 * by drrl-eval), train_ckpt_latency (the stored latency table) and train_ckpt_load (policy
 * parameters against the stored layout, AdamW state, the agent's RNG streams, the
 * environment's state, the latency table, the counters).
 *
 * HDF5 files are made by structured mutation (h5edit.h has the input format) of two seeds
 * written by train_ckpt_save in LLVMFuzzerInitialize: a PPO agent with a small policy (width
 * 16, 1 block, 2 heads, ffn 32) on the toy environment (2 slots, 2 segments), one with a
 * latency table (4 buckets x 3 ranks, a kernel tuning of 2 entries) and one without. Each
 * input edits a copy of one; the three readers run as drrl-train --resume runs them, into an
 * agent and environment of the seed's configuration; byte 1 (when present) chooses whether
 * the model hash is compared (as for the rank environment) and whether a latency table is
 * asked for. Failures must leave a message and no config text; a success must give finite
 * parameters and moments, a counter state a run can continue from (iteration, Adam step >= 0)
 * and, when asked, a latency table of the stored shape. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/toy.h"
#include "fuzz_util.h"
#include "h5edit.h"
#include "pipeline/train_ckpt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ToyEnv toy;
static Env env;
static Agent agent;
static LatencyTable table;

static void make_agent(void) {
    Err e;
    ToyConfig tc = {.n_envs = 2, .n_segments = 2, .noise = 0.3f, .seed = 5};
    if (toy_init(&toy, &tc, &e)) abort();
    env = (Env){.self = &toy, .reset = toy_reset, .step = toy_step, .save = toy_save,
                .load = toy_load,
                .dims = {.n_envs = toy.n_envs, .n_tokens = toy.n_tokens,
                         .token_dim = toy.token_dim, .n_heads = toy.n_heads,
                         .head_token0 = toy.head_token0, .value_token = toy.value_token,
                         .n_actions = toy.n_actions, .max_steps = toy.max_steps,
                         .n_info = toy.n_info}};
    for (int j = 0; j < toy.n_info; j++) env.dims.info_names[j] = toy.info_names[j];
    PpoConfig pc;
    memset(&pc, 0, sizeof pc);
    pc.n_steps = 2 * TOY_LAYERS, pc.epochs = 1, pc.minibatch = 8, pc.gamma = 0.99f;
    pc.lam = 0.95f, pc.clip = 0.2f, pc.vf_coef = 0.5f, pc.max_grad_norm = 0.5f;
    pc.lr = 1e-3f, pc.lr_final = 1e-4f, pc.iterations = 10, pc.adam_eps = 1e-5f;
    PolicyConfig pol = {.width = 16, .layers = 1, .attn_heads = 2, .ffn = 32, .max_batch = 1};
    if (agent_init(&agent, &pc, &pol, &env.dims, 9, &e)) {
        fprintf(stderr, "fuzz_train_ckpt: agent_init: %s\n", e.msg);
        abort();
    }
    agent.iteration = 3, agent.env_steps = 48, agent.episodes = 6, agent.step.t = 3;
}

static void make_table(void) {
    memset(&table, 0, sizeof table);
    table.d = 16, table.H = 2, table.B = 1, table.warmup = 1, table.reps = 3;
    table.n_buckets = 4, table.n_ranks = 3;
    const int bk[4] = {16, 64, 128, 512}, rk[3] = {1, 2, 4};
    for (int i = 0; i < 4; i++) {
        table.buckets[i] = bk[i];
        table.full[i] = 1e-4 * bk[i];
        for (int j = 0; j < 3; j++) table.lat[i][j] = 1e-5 * bk[i] * rk[j];
    }
    memcpy(table.ranks, rk, sizeof rk);
    latency_table_hardware(&table);
    table.tune.n = 2, table.tune.H = 2, table.tune.B = 1, table.tune.threads = 1;
    for (int i = 0; i < 2; i++) {
        table.tune.N[i] = bk[i], table.tune.k[i] = 8, table.tune.v[i] = attn_variant_default();
        table.tune.sec[i] = 1e-4, table.tune.sec_default[i] = 1e-4;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    make_agent();
    make_table();
    TrainCkptMeta m = {.config_yaml = "env:\n  type: toy\n", .env_type = "toy",
                       .model_sha256 = "00ff", .seconds = 2.5};
    Err e;
    const char *seeds[2] = {fuzz_path(0, "with-latency.h5"), fuzz_path(0, "no-latency.h5")};
    for (int i = 0; i < 2; i++) {
        if (train_ckpt_save(seeds[i], &agent, &env, i ? NULL : &table, &m, NULL, &e)) {
            fprintf(stderr, "fuzz_train_ckpt: seed: %s\n", e.msg);
            abort();
        }
        h5edit_seed(seeds[i]);
    }
    return 0;
}

static void check_table(void) {
    if (table.n_buckets < 1 || table.n_buckets > LATENCY_MAX_BUCKETS || table.n_ranks < 1 ||
        table.n_ranks > LATENCY_MAX_RANKS)
        abort();
}

static void check_agent(void) {
    size_t n = policy_n_params(agent.pi);
    const float *p = policy_params(agent.pi);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]) || !isfinite(agent.adam_m[i]) || !isfinite(agent.adam_v[i])) abort();
    if (agent.iteration < 0 || agent.env_steps < 0 || agent.episodes < 0 || agent.step.t < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path(1, "fuzz.h5");
    h5edit_file(path, data, size);
    const int flags = size > 1 ? data[1] : 0;
    char *cfg = (char *)1;
    TrainCkptMeta m;
    memset(&m, 0, sizeof m);
    Err e;
    err_clear(&e);
    Status s = train_ckpt_peek(path, &cfg, &m, &e);
    fuzz_check_err(s, &e);
    if (s ? cfg != NULL : cfg == NULL || !memchr(m.env_type, 0, sizeof m.env_type)) abort();
    free(cfg);
    int found = -1;
    err_clear(&e);
    s = train_ckpt_latency(path, &table, &found, &e);
    fuzz_check_err(s, &e);
    if (found != 0 && found != 1) abort();
    if (found) check_table();
    memset(&m, 0, sizeof m);
    snprintf(m.env_type, sizeof m.env_type, "toy");
    if (flags & 1) snprintf(m.model_sha256, sizeof m.model_sha256, "00ff");
    m.policy_only = (flags & 4) != 0; /* drrl-eval's load: the policy alone */
    err_clear(&e);
    s = train_ckpt_load(path, &agent, &env, flags & 2 ? &table : NULL, &m, &e);
    fuzz_check_err(s, &e);
    if (!s) check_agent();
    if (!s && (flags & 2)) check_table();
    return 0;
}
