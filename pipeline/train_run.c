/* train_run.c: one drrl-train run, from config to final checkpoint (see train_run.h). */
#include "pipeline/train_run.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dist.h"
#include "core/file.h"
#include "core/sha256.h"
#include "core/store.h"
#include "core/timer.h"
#include "pipeline/resume.h"
#include "pipeline/train_ckpt.h"

/* the keys a resume may change (pipeline/resume.h): how long, how often to log and save, how
   many non-finite updates in a row to tolerate */
#define TRAIN_MAY_CHANGE "ppo.iterations|run.stop_at|run.log_every|run.checkpoint_every|" \
                         "run.keep|run.rollouts_every|ppo.max_nonfinite"

/* locate: the checkpoint (r->ckpt) and the run directory of --resume arg (resume.h) */
static Status locate(TrainRun *r, const char *arg, char *dir, size_t cap, Err *e) {
    int is_dir;
    Status s = resume_kind(arg, &is_dir, e);
    if (s) return s;
    if (is_dir) {
        snprintf(dir, cap, "%s", arg);
        return train_ckpt_latest(r->ckpt, sizeof r->ckpt, arg, e);
    }
    char folder[4096], real[PATH_MAX];
    if ((s = resume_parent(arg, folder, sizeof folder, e))) return s;
    const char *name = realpath(folder, real) ? strrchr(real, '/') : NULL;
    if (!name || strcmp(name + 1, "checkpoints"))
        return err_set(e, ST_INVALID, "--resume %s: expected a run directory or a checkpoint in "
                       "one (RUN_DIR/checkpoints/ckpt-NNNNNNNN.h5), found a file in %s (the run "
                       "continues in its own directory: put the file into RUN_DIR/checkpoints/ "
                       "and resume from RUN_DIR)", arg, folder);
    if (!strcmp(folder, ".")) snprintf(dir, cap, "..");
    else if ((s = resume_parent(folder, dir, cap, e))) return s;
    snprintf(r->ckpt, sizeof r->ckpt, "%s", arg);
    return ST_OK;
}

Status train_run_config(TrainRun *r, const char *cfg_path, const char *resume,
                        const char *const *over, int n_over, FILE *info, Err *e) {
    static const ResumeRule rule = {&train_schema, sizeof(TrainConfig),
                                    offsetof(TrainConfig, run.dir), TRAIN_MAY_CHANGE};
    r->lock.fd = -1;
    r->ckpt[0] = 0;
    Status s;
    if (resume) {
        char dir[4096], *stored = NULL;
        TrainCkptMeta meta = {0};
        if ((s = locate(r, resume, dir, sizeof dir, e)) ||
            (s = train_ckpt_peek(r->ckpt, &stored, &meta, e)))
            return s;
        if (meta.run_id[0]) memcpy(r->run_id, meta.run_id, sizeof r->run_id);
        else rundir_new_id(r->run_id); /* a version 1 checkpoint had none */
        s = resume_config(&rule, r->ckpt, stored, dir, cfg_path, over, n_over, &r->c, info, e);
        free(stored);
    } else {
        rundir_new_id(r->run_id);
        s = config_load(&train_schema, &r->c, cfg_path, over, n_over, e);
    }
    return s ? s : config_to_yaml(&train_schema, &r->c, &r->yaml, e);
}

/* run_files: the run directory is created only now (a run that fails to start writes
   nothing): config.yaml and the latency table in use. config.yaml is written atomically
   (config.yaml.tmp, closed, renamed): a failed write leaves an earlier config.yaml whole and
   no .tmp behind. */
static Status run_files(TrainRun *r, Err *e) {
    static const char *const files[] = {"metrics.csv", "config.yaml", "latency.h5",
                                        "checkpoints", "rollouts"};
    char path[4096], hint[4200];
    snprintf(hint, sizeof hint, "continue it with --resume %s", r->c.run.dir);
    Status s = rundir_lock(&r->lock, r->c.run.dir, "drrl-train", stdout, e);
    if (!s && !r->ckpt[0]) s = rundir_claim(r->c.run.dir, files, 5, r->force, hint, stdout, e);
    if (s) return s;
    snprintf(path, sizeof path, "%s/config.yaml", r->c.run.dir);
    AtomicFile af;
    if ((s = file_atomic_open(&af, path, e))) return s;
    fputs(r->yaml, af.f); /* a failed write shows in file_atomic_commit's ferror */
    if ((s = file_atomic_commit(&af, e))) return s;
    if (!r->t.has_lt) return ST_OK;
    snprintf(path, sizeof path, "%s/latency.h5", r->c.run.dir);
    Store *st;
    if ((s = store_create(&st, path, LATENCY_FORMAT, LATENCY_VERSION, e))) return s;
    if ((s = latency_table_save(st, LATENCY_GROUP, &r->t.lt, e))) {
        store_abort(st);
        return s;
    }
    return store_commit(st, e);
}

Status train_run_init(TrainRun *r, FILE *info, Err *e) {
    static LatencyTable lt0;
    int have_lt = 0;
    Status s;
    if (r->ckpt[0] && (s = train_ckpt_latency(r->ckpt, &lt0, &have_lt, e))) return s;
    if ((s = train_env_init(&r->t, &r->c, have_lt ? &lt0 : NULL, e))) return s;
    PolicyConfig pc = train_policy_config(&r->c);
    r->pp = train_ppo_config(&r->c, r->t.env.dims.max_steps);
    r->pp.part = dist_rank(), r->pp.parts = dist_size(); /* data-parallel PPO (agent/ppo.h) */
    s = agent_init(&r->A, &r->pp, &pc, &r->t.env.dims, (uint64_t)r->c.seed, e);
    if (!s && r->ckpt[0]) {
        TrainCkptMeta want = {0};
        snprintf(want.env_type, sizeof want.env_type, "%s", r->t.type);
        snprintf(want.model_sha256, sizeof want.model_sha256, "%s", r->t.model_sha256);
        s = train_ckpt_load(r->ckpt, &r->A, &r->t.env, r->t.has_lt ? &r->t.lt : NULL, &want, e);
        r->seconds0 = want.seconds;
    }
    if ((s = dist_agree(s, e))) return s; /* e.g. one process's part of the checkpoint */
    if (r->ckpt[0])
        fprintf(info, "resumed from %s: iteration %lld, %lld env steps, %.0f s of training\n",
                r->ckpt, (long long)r->A.iteration, (long long)r->A.env_steps, r->seconds0);
    /* process 0 holds the run directory and writes its files */
    if (dist_rank() == 0) {
        s = run_files(r, e);
        if (!s) s = metrics_open(&r->mc, r->c.run.dir, r->t.env.dims.max_steps,
                                 r->ckpt[0] ? r->A.iteration : -1, e);
    }
    if ((s = dist_agree(s, e))) return s;
    fprintf(info, "policy: %zu parameters; %d episodes x %d steps x %d slots per iteration%s; "
            "metrics: %s; run id %s\n", policy_n_params(r->A.pi), r->c.ppo.episodes,
            r->t.env.dims.max_steps, r->t.env.dims.n_envs * dist_size(),
            dist_size() > 1 ? " (split over the processes)" : "", r->mc.path, r->run_id);
    if (dist_size() > 1)
        fprintf(info, "processes: %d, each with %d episode slots; the gradient of every "
                "minibatch summed over them (agent/ppo.h)\n", dist_size(), r->t.env.dims.n_envs);
    fflush(info);
    r->it0 = r->A.iteration;
    return ST_OK;
}

/* part_image: this process's part of a checkpoint as the bytes of an in-memory store */
static Status part_image(TrainRun *r, uint8_t **buf, size_t *len, Err *e) {
    Store *st;
    Status s = store_create_image(&st, "process part", TRAIN_CKPT_FORMAT, TRAIN_CKPT_VERSION, e);
    if (s) return s;
    s = train_ckpt_part_save(st, &r->A, &r->t.env, e);
    if (!s) s = store_image_bytes(st, buf, len, e);
    store_close(st);
    return s;
}

/* gather_parts: every process p > 0's part, laid end to end in *all (malloc'd) with their
   lengths in lens (dist_size(); lens[0] = 0), on every process */
static Status gather_parts(TrainRun *r, uint8_t **all, int64_t *lens, Err *e) {
    const int P = dist_size(), me = dist_rank();
    uint8_t *mine = NULL;
    size_t n = 0;
    *all = NULL;
    Status s = dist_agree(me ? part_image(r, &mine, &n, e) : ST_OK, e);
    memset(lens, 0, sizeof(int64_t) * (size_t)P);
    lens[me] = (int64_t)n;
    if (!s) s = dist_sum_i64(lens, (size_t)P, e);
    int64_t total = 0, at = 0;
    for (int p = 0; p < P; p++) at += p < me ? lens[p] : 0, total += lens[p];
    if (!s && !(*all = calloc((size_t)total + 1, 1))) s = err_set(e, ST_NOMEM, "out of memory");
    if ((s = dist_agree(s, e))) {
        free(mine), free(*all), *all = NULL;
        return s;
    }
    if (n) memcpy(*all + at, mine, n);
    free(mine);
    return dist_or(*all, (size_t)total, e); /* each part from its process: exact */
}

/* checkpoint: checkpoints/ckpt-ITER.h5 (atomic; written by process 0 with every process's
   part), then prune to run.keep; a failure anywhere is every process's */
static Status checkpoint(TrainRun *r, double seconds, Err *e) {
    const int P = dist_size();
    uint8_t *parts = NULL;
    int64_t lens[64];
    if (P > 64) return err_set(e, ST_INVALID, "checkpoint: expected at most 64 processes, found %d", P);
    Status s = P > 1 ? gather_parts(r, &parts, lens, e) : ST_OK;
    train_ckpt_path(r->last, sizeof r->last, r->c.run.dir, r->A.iteration);
    if (!s && dist_rank() == 0) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/checkpoints", r->c.run.dir);
        TrainCkptMeta m = {.config_yaml = r->yaml, .seconds = seconds};
        memcpy(m.run_id, r->run_id, sizeof m.run_id);
        snprintf(m.env_type, sizeof m.env_type, "%s", r->t.type);
        snprintf(m.model_sha256, sizeof m.model_sha256, "%s", r->t.model_sha256);
        TrainCkptParts tp = {P, parts, lens};
        s = store_mkdirs(dir, e);
        if (!s) s = train_ckpt_save(r->last, &r->A, &r->t.env, r->t.has_lt ? &r->t.lt : NULL,
                                    &m, P > 1 ? &tp : NULL, e);
        if (!s) s = train_ckpt_prune(r->c.run.dir, r->c.run.keep, r->run_id, e);
    }
    free(parts);
    return dist_agree(s, e);
}

Status train_run_loop(TrainRun *r, volatile sig_atomic_t *stop, Err *e) {
    const TrainConfig *c = &r->c;
    Agent *A = &r->A;
    double t0 = time_now();
    int64_t last_ckpt = A->iteration;
    int64_t end = c->run.stop_at > 0 && c->run.stop_at < c->ppo.iterations ? c->run.stop_at
                                                                             : c->ppo.iterations;
    Status s;
    int stopped = 0;
    while (A->iteration < end && !stopped) {
        PpoStats st;
        double ti = time_now();
        if ((s = agent_iterate(A, &r->t.env, &st, e))) return s;
        if (st.skipped && dist_rank() == 0)
            fprintf(stderr, "drrl-train: iteration %lld: %lld updates skipped for non-finite "
                    "numbers (the last for %s); %lld in a row, of at most %d (ppo.max_nonfinite)\n",
                    (long long)A->iteration, (long long)st.skipped, st.skip_reason,
                    (long long)A->nonfinite_run, c->ppo.max_nonfinite);
        double now = time_now(), dt = now - ti;
        const double steps = (double)r->pp.n_steps * r->t.env.dims.n_envs * dist_size();
        double fps = dt > 0 ? steps / dt : 0; /* every process's environment steps */
        double per_it = (now - t0) / (double)(A->iteration - r->it0);
        double eta = per_it * (double)(end - A->iteration);
        s = dist_rank() ? ST_OK : metrics_write(&r->mc, &st, A, r->seconds0 + now - t0, fps, e);
        if (!s && !dist_rank() &&
            (A->iteration % c->run.log_every == 0 || A->iteration == c->ppo.iterations))
            train_progress(&st, A, c->ppo.iterations, fps, eta);
        if (!s && c->run.rollouts_every && A->iteration % c->run.rollouts_every == 0)
            s = rollout_write(c->run.dir, A, e); /* each process its own slots' */
        /* every process goes on, or none: a failure, or a signal that reached one of them */
        if ((s = dist_agree(s, e))) return s;
        double flag = *stop; /* the signal's number, the same on every process from here */
        if ((s = dist_max_f64(&flag, 1, e))) return s;
        if ((stopped = flag > 0)) *stop = (sig_atomic_t)flag;
        if (A->iteration % c->run.checkpoint_every == 0) {
            if ((s = checkpoint(r, r->seconds0 + time_now() - t0, e))) return s;
            last_ckpt = A->iteration;
        }
    }
    if (A->iteration != last_ckpt || (A->iteration == r->it0 && !r->ckpt[0]))
        return checkpoint(r, r->seconds0 + time_now() - t0, e);
    train_ckpt_path(r->last, sizeof r->last, c->run.dir, A->iteration);
    return ST_OK;
}

void train_run_state_hash(const TrainRun *r, char hex[65]) {
    const Agent *A = &r->A;
    Sha256 h;
    uint8_t d[32];
    uint64_t w[RNG_STATE_WORDS];
    size_t n = policy_n_params(A->pi);
    sha256_init(&h);
    sha256_update(&h, policy_params(A->pi), n * sizeof(float));
    sha256_update(&h, A->adam_m, n * sizeof(float));
    sha256_update(&h, A->adam_v, n * sizeof(float));
    sha256_update(&h, &A->step.t, sizeof A->step.t);
    for (int i = 0; i < A->dims.n_envs; i++) {
        rng_save(&A->rng_act[i], w);
        sha256_update(&h, w, sizeof w);
    }
    rng_save(&A->rng_mb, w);
    sha256_update(&h, w, sizeof w);
    int64_t cnt[3] = {A->iteration, A->env_steps, A->episodes};
    sha256_update(&h, cnt, sizeof cnt);
    sha256_final(&h, d);
    sha256_hex(d, hex);
}

void train_run_free(TrainRun *r) {
    rundir_unlock(&r->lock);
    metrics_close(&r->mc);
    agent_free(&r->A);
    train_env_free(&r->t);
    free(r->yaml);
    r->yaml = NULL;
}
