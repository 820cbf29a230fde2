/* train.c: drrl-train, PPO training of the rank policy (docs/design.md sections 4, 5 and 7).
 *
 *   drrl-train [--config FILE.yaml | --resume CKPT.h5|RUN_DIR] [--out DIR] [KEY=VALUE ...]
 *
 * Resolves the config (defaults: the default SST-2 run, configs/sst2-drrl.yaml), builds the
 * environment and the agent and runs PPO (pipeline/train_run.h): one progress line per
 * run.log_every iterations, one metrics.csv row per iteration, rollouts, checkpoints (also on
 * SIGINT / SIGTERM, after the iteration in progress). --resume continues a run in its own
 * directory bit for bit (table latency), by the contract of pipeline/resume.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/dist.h"
#include "core/log.h"
#include "core/timer.h"
#include "pipeline/train_run.h"

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) { g_stop = sig; }

static const CliOpt OPTS[] = {
    {"--resume", "CKPT", "continue a run in its directory: RUN_DIR (its newest checkpoint) or\n"
     "RUN_DIR/checkpoints/ckpt-N.h5; the config is the checkpoint's (or --config's), and only\n"
     "the run-control keys may differ from it (ppo.iterations, run.stop_at, run.log_every,\n"
     "run.checkpoint_every, run.keep, run.rollouts_every, ppo.max_nonfinite; docs/cli.md)"},
    {"--force", NULL, "start a new run in a run directory holding another run's files, moving\n"
     "them into RUN_DIR/replaced-DATE/ first (without it, that is an error)"},
};
static const ConfigSchema *const SCHEMAS[] = {&train_schema};
static const CliSpec SPEC = {
    .prog = "drrl-train",
    .synopsis = "drrl-train [--config FILE.yaml | --resume CKPT.h5|RUN_DIR] [--out DIR] "
                "[KEY=VALUE ...]",
    .about = "Trains the PPO rank policy on the frozen model's attention layers (or the toy\n"
             "environment: env.type=toy). Without --config the embedded defaults (the default\n"
             "SST-2 run, configs/sst2-drrl.yaml) are used. Writes RUN_DIR/config.yaml,\n"
             "latency.h5, metrics.csv, checkpoints/ckpt-*.h5 and rollouts/iter-*.h5.",
    .opts = OPTS, .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .common = CLI_CONFIG | CLI_OVERRIDES | CLI_PRINT_CONFIG | CLI_SEED | CLI_OUT,
    .seed_help = "seed of the policy, the environment and their streams (the config's seed)",
    .out_help = "the run directory (run.dir=DIR)",
    .schemas = SCHEMAS, .n_schemas = 1,
};

/* die: the error, once per job (errors are agreed between the processes, core/dist.h) */
static void die(const Err *e, int code) {
    if (dist_rank() == 0) fprintf(stderr, "drrl-train: error: %s\n", e->msg);
    dist_finalize();
    exit(code);
}

int main(int argc, char **argv) {
    static CliArgs a;
    static TrainRun r;
    Err e;
    err_clear(&e);
    if (dist_init(&argc, &argv, &e)) die(&e, 1);
    const int lead = dist_rank() == 0; /* process 0 speaks and writes the run's files */
    if (!lead) log_info_set(log_null());
    if (cli_parse(&SPEC, argc, argv, lead ? stdout : log_null(), &a, &e)) die(&e, 2);
    if (a.done) return dist_finalize(), 0;
    if (cli_push_common(&a, "seed", "run.dir", &e)) die(&e, 2);
    const char *resume = cli_get(&SPEC, &a, "--resume");
    FILE *info = lead ? cli_info(&a) : log_null();
    if (train_run_config(&r, a.config, resume, a.over, a.n_over, info, &e)) die(&e, 1);
    r.force = cli_get(&SPEC, &a, "--force") != NULL;
    const char *src = r.ckpt[0] ? r.ckpt : a.config ? a.config : "the embedded defaults";
    if (lead && (a.print_config || a.verbosity == CLI_VERBOSE))
        printf("# drrl-train config (%s)\n%s", src, r.yaml);
    if (a.print_config) {
        free(r.yaml);
        return dist_finalize(), 0;
    }
    char cwd[4096];
    fprintf(info, "config: %s%s, run directory %s (relative paths are from %s; --verbose "
            "prints the config resolved)\n", r.ckpt[0] ? "resumed from " : "", src, r.c.run.dir,
            getcwd(cwd, sizeof cwd) ? cwd : "?");
    if (train_run_init(&r, info, &e)) die(&e, 1);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t0 = time_now();
    if (train_run_loop(&r, &g_stop, &e)) die(&e, 1);
    int rc = g_stop ? 128 + (int)g_stop : 0;
    char hex[65];
    train_run_state_hash(&r, hex);
    if (lead) { /* process 0 reports for the job */
        if (g_stop)
            printf("signal %d: stopped after iteration %lld; checkpoint %s (resume with --resume "
                   "%s)\n", (int)g_stop, (long long)r.A.iteration, r.last, r.c.run.dir);
        else
            printf("done: %lld iterations, %lld env steps in %.1f s (this process); checkpoint "
                   "%s\n", (long long)r.A.iteration, (long long)r.A.env_steps, time_now() - t0,
                   r.last);
        printf("training state sha256 %s\n", hex);
        printf("wrote %s/: config.yaml, metrics.csv, checkpoints/ (last %s)%s%s\n", r.c.run.dir,
               r.last, r.t.has_lt ? ", latency.h5" : "",
               r.c.run.rollouts_every ? ", rollouts/" : "");
    }
    train_run_free(&r);
    dist_finalize();
    return rc;
}
