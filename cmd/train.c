/* train.c: drrl-train, PPO training of the rank policy (DESIGN.md sections 4, 5 and 7).
 *
 *   drrl-train [--config FILE.yaml] [--resume CKPT.h5|RUN_DIR] [--print-config] [key.path=value ...]
 *
 * Validates and prints the config (defaults: the default SST-2 run; configs/sst2-drrl.yaml),
 * builds the environment (pipeline/train_env.h) and the agent (agent/ppo.h), then runs PPO
 * iterations: one progress line per run.log_every iterations, one metrics.csv row per
 * iteration, a rollout file every run.rollouts_every iterations, a checkpoint every
 * run.checkpoint_every iterations, at the end and on SIGINT / SIGTERM (after the iteration in
 * progress; the last run.keep are kept). --resume continues from a checkpoint (or the newest
 * under RUN_DIR/checkpoints) with the config stored in it (plus overrides): weights, Adam
 * moments, RNG streams, counters, schedule position, environment state and latency table, so
 * the continued run equals an uninterrupted one bit for bit in table latency mode. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/ppo.h"
#include "core/sha256.h"
#include "core/store.h"
#include "core/timer.h"
#include "pipeline/train_ckpt.h"
#include "pipeline/train_config.h"
#include "pipeline/train_env.h"
#include "pipeline/train_log.h"

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) { g_stop = sig; }

static void die(const Err *e) {
    fprintf(stderr, "drrl-train: error: %s\n", e->msg);
    exit(1);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: drrl-train [--config FILE.yaml] [--resume CKPT.h5|RUN_DIR] [--print-config]\n"
            "                  [key.path=value ...]\n"
            "Trains the PPO rank policy on the frozen model's attention layers (or the toy\n"
            "environment: env.type=toy). Without --config the embedded defaults (the default SST-2\n"
            "run, configs/sst2-drrl.yaml) are used. --resume continues a run from a checkpoint file\n"
            "or the newest one under RUN_DIR/checkpoints, with the config stored in it.\n"
            "Writes RUN_DIR/config.yaml, metrics.csv, checkpoints/ckpt-*.h5, rollouts/iter-*.h5.\n");
}

/* state_hash: SHA-256 of the training state: parameters, Adam moments and step, the agent's
   RNG streams and counters (equal for a straight and a resumed run) */
static void state_hash(char hex[65], const Agent *A) {
    Sha256 h;
    uint8_t d[32];
    uint64_t w[RNG_STATE_WORDS];
    size_t n = policy_n_params(A->pi);
    sha256_init(&h);
    sha256_update(&h, policy_params(A->pi), n * sizeof(float));
    sha256_update(&h, A->adam_m, n * sizeof(float));
    sha256_update(&h, A->adam_v, n * sizeof(float));
    sha256_update(&h, &A->step.t, sizeof A->step.t);
    rng_save(&A->rng_act, w);
    sha256_update(&h, w, sizeof w);
    rng_save(&A->rng_mb, w);
    sha256_update(&h, w, sizeof w);
    int64_t cnt[3] = {A->iteration, A->env_steps, A->episodes};
    sha256_update(&h, cnt, sizeof cnt);
    sha256_final(&h, d);
    sha256_hex(d, hex);
}

static Status checkpoint(const TrainConfig *c, const Agent *A, TrainEnv *t, const char *yaml,
                         double seconds, char *path, size_t cap, Err *e) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/checkpoints", c->run.dir);
    Status s = store_mkdirs(dir, e);
    if (s) return s;
    TrainCkptMeta m = {.config_yaml = yaml, .seconds = seconds};
    snprintf(m.env_type, sizeof m.env_type, "%s", t->type);
    snprintf(m.model_sha256, sizeof m.model_sha256, "%s", t->model_sha256);
    train_ckpt_path(path, cap, c->run.dir, A->iteration);
    if ((s = train_ckpt_save(path, A, &t->env, t->has_lt ? &t->lt : NULL, &m, e))) return s;
    return train_ckpt_prune(c->run.dir, c->run.keep, e);
}

int main(int argc, char **argv) {
    const char *cfg_path = NULL, *resume = NULL;
    const char *over[128];
    int n_over = 0, print_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--config") && more) cfg_path = argv[++i];
        else if (!strcmp(a, "--resume") && more) resume = argv[++i];
        else if (!strcmp(a, "--print-config")) print_only = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (a[0] != '-' && strchr(a, '=') && n_over < 128) over[n_over++] = a;
        else {
            fprintf(stderr, "drrl-train: error: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    Err e;
    err_clear(&e);
    static TrainConfig c;
    char ckpt[4096] = "";
    TrainCkptMeta meta = {0};
    if (resume) {
        struct stat sb;
        if (!stat(resume, &sb) && S_ISDIR(sb.st_mode)) {
            if (train_ckpt_latest(ckpt, sizeof ckpt, resume, &e)) die(&e);
        } else snprintf(ckpt, sizeof ckpt, "%s", resume);
        char *stored = NULL, src[4200];
        if (train_ckpt_peek(ckpt, &stored, &meta, &e)) die(&e);
        if (cfg_path)
            fprintf(stderr, "drrl-train: note: --config %s is ignored: a resumed run uses the config "
                    "stored in %s (change keys with key.path=value)\n", cfg_path, ckpt);
        snprintf(src, sizeof src, "%s:/config", ckpt);
        Status s = config_load_text(&train_schema, &c, stored, src, over, n_over, &e);
        free(stored);
        if (s) die(&e);
    } else if (config_load(&train_schema, &c, cfg_path, over, n_over, &e)) die(&e);

    char *yaml = NULL;
    if (config_to_yaml(&train_schema, &c, &yaml, &e)) die(&e);
    printf("# drrl-train config (%s%s)\n%s", resume ? "resumed from " : cfg_path ? cfg_path : "embedded defaults",
           resume ? ckpt : "", yaml);
    if (print_only) {
        free(yaml);
        return 0;
    }
    static TrainEnv t;
    static LatencyTable lt0;
    int have_lt = 0;
    if (resume && train_ckpt_latency(ckpt, &lt0, &have_lt, &e)) die(&e);
    if (train_env_init(&t, &c, have_lt ? &lt0 : NULL, &e)) die(&e);
    static Agent A;
    PolicyConfig pc = train_policy_config(&c);
    PpoConfig pp = train_ppo_config(&c, t.env.dims.max_steps);
    if (agent_init(&A, &pp, &pc, &t.env.dims, (uint64_t)c.seed, &e)) die(&e);
    double seconds0 = 0;
    if (resume) {
        TrainCkptMeta want = {0};
        snprintf(want.env_type, sizeof want.env_type, "%s", t.type);
        snprintf(want.model_sha256, sizeof want.model_sha256, "%s", t.model_sha256);
        if (train_ckpt_load(ckpt, &A, &t.env, t.has_lt ? &t.lt : NULL, &want, &e)) die(&e);
        seconds0 = want.seconds;
        printf("resumed from %s: iteration %lld, %lld env steps, %.0f s of training\n", ckpt,
               (long long)A.iteration, (long long)A.env_steps, seconds0);
    }
    /* the run directory is created only now: a run that fails to start writes nothing */
    if (store_mkdirs(c.run.dir, &e)) die(&e);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.yaml", c.run.dir);
    FILE *cf = fopen(path, "w");
    if (!cf || fputs(yaml, cf) < 0 || fclose(cf)) {
        fprintf(stderr, "drrl-train: error: %s: cannot write: %s\n", path, strerror(errno));
        return 1;
    }
    if (t.has_lt) { /* the table in use, reusable as latency.file */
        snprintf(path, sizeof path, "%s/latency.h5", c.run.dir);
        Store *st;
        if (store_create(&st, path, LATENCY_FORMAT, LATENCY_VERSION, &e) ||
            latency_table_save(st, LATENCY_GROUP, &t.lt, &e) || store_commit(st, &e))
            die(&e);
    }
    static MetricsCsv mc;
    if (metrics_open(&mc, c.run.dir, t.env.dims.max_steps, resume ? A.iteration : -1, &e)) die(&e);
    printf("policy: %zu parameters; %d episodes x %d steps x %d slots per iteration; metrics: %s\n",
           policy_n_params(A.pi), c.ppo.episodes, t.env.dims.max_steps, t.env.dims.n_envs, mc.path);
    fflush(stdout);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t0 = time_now(), last_ckpt_it = (double)A.iteration;
    int64_t it0 = A.iteration;
    int64_t stop = c.run.stop_at > 0 && c.run.stop_at < c.ppo.iterations ? c.run.stop_at : c.ppo.iterations;
    while (A.iteration < stop && !g_stop) {
        PpoStats st;
        double ti = time_now();
        if (agent_iterate(&A, &t.env, &st, &e)) die(&e);
        double now = time_now(), dt = now - ti;
        double fps = dt > 0 ? (double)pp.n_steps * t.env.dims.n_envs / dt : 0;
        double per_it = (now - t0) / (double)(A.iteration - it0);
        double eta = per_it * (double)(stop - A.iteration);
        if (metrics_write(&mc, &st, &A, seconds0 + now - t0, fps, &e)) die(&e);
        if (A.iteration % c.run.log_every == 0 || A.iteration == c.ppo.iterations)
            train_progress(&st, &A, c.ppo.iterations, fps, eta);
        if (c.run.rollouts_every && A.iteration % c.run.rollouts_every == 0 &&
            rollout_write(c.run.dir, &A, &e))
            die(&e);
        if (A.iteration % c.run.checkpoint_every == 0) {
            if (checkpoint(&c, &A, &t, yaml, seconds0 + time_now() - t0, path, sizeof path, &e)) die(&e);
            last_ckpt_it = (double)A.iteration;
        }
    }
    int rc = 0;
    if ((double)A.iteration != last_ckpt_it || (A.iteration == it0 && !resume)) {
        if (checkpoint(&c, &A, &t, yaml, seconds0 + time_now() - t0, path, sizeof path, &e)) die(&e);
    } else train_ckpt_path(path, sizeof path, c.run.dir, A.iteration);
    if (g_stop) {
        printf("signal %d: stopped after iteration %lld; checkpoint %s (resume with --resume %s)\n",
               (int)g_stop, (long long)A.iteration, path, c.run.dir);
        rc = 128 + (int)g_stop;
    } else
        printf("done: %lld iterations, %lld env steps in %.1f s (this process); checkpoint %s\n",
               (long long)A.iteration, (long long)A.env_steps, time_now() - t0, path);
    char hex[65];
    state_hash(hex, &A);
    printf("training state sha256 %s\n", hex);
    metrics_close(&mc);
    agent_free(&A);
    train_env_free(&t);
    free(yaml);
    return rc;
}
