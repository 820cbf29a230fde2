/* train_ckpt.c: drrl-train checkpoints (see train_ckpt.h). */
#include "pipeline/train_ckpt.h"

#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/store.h"

/* layout text: one line per tensor, "name offset dim0 dim1" (dim1 = 1 for vectors) */
static char *layout_text(const Policy *P) {
    int n = policy_n_tensors(P);
    size_t cap = (size_t)n * 96 + 1, len = 0;
    char *t = malloc(cap);
    if (!t) return NULL;
    t[0] = 0;
    for (int i = 0; i < n; i++) {
        const PolicyTensor *x = policy_tensor(P, i);
        len += (size_t)snprintf(t + len, cap - len, "%s %zu %lld %lld\n", x->name, x->offset,
                                (long long)x->shape[0], (long long)(x->ndim > 1 ? x->shape[1] : 1));
    }
    return t;
}

Status train_ckpt_save(const char *path, const Agent *A, Env *env, const LatencyTable *lt,
                       const TrainCkptMeta *m, const TrainCkptParts *parts, Err *e) {
    char *layout = layout_text(A->pi);
    if (!layout) return err_set(e, ST_NOMEM, "%s: out of memory", path);
    Store *st;
    Status s = store_create(&st, path, TRAIN_CKPT_FORMAT, TRAIN_CKPT_VERSION, e);
    if (s) {
        free(layout);
        return s;
    }
    size_t n = policy_n_params(A->pi);
    int64_t dims[1] = {(int64_t)n};
    Policy *pi = A->pi;
    if ((s = store_write_text(st, "/config", m->config_yaml, e)) ||
        (s = store_write(st, "/policy/params", DT_F32, policy_params(pi), 1, dims, e)) ||
        (s = store_write_text(st, "/policy/layout", layout, e)) ||
        (s = optim_adam_save(st, "/adam", A->adam_m, A->adam_v, n, &A->step, e)) ||
        (s = train_ckpt_part_save(st, A, env, e)) ||
        (s = train_ckpt_parts_write(st, parts, e)) ||
        (s = store_write_rng(st, "/rng/mb", &A->rng_mb, e)) ||
        (lt && (s = latency_table_save(st, "/latency", lt, e))) ||
        (s = store_set_attr_i64(st, "/", "iteration", A->iteration, e)) ||
        (s = store_set_attr_i64(st, "/", "env_steps", A->env_steps, e)) ||
        (s = store_set_attr_i64(st, "/", "episodes", A->episodes, e)) ||
        (s = store_set_attr_f64(st, "/", "seconds", m->seconds, e)) ||
        (s = store_set_attr_str(st, "/", "env_type", m->env_type, e)) ||
        (s = store_set_attr_str(st, "/", "model_sha256", m->model_sha256, e)) ||
        (s = store_set_attr_str(st, "/", "run_id", m->run_id, e)) ||
        (s = store_set_attr_i64(st, "/", "nonfinite_total", A->nonfinite_total, e)) ||
        (s = store_set_attr_i64(st, "/", "nonfinite_run", A->nonfinite_run, e))) {
        store_abort(st);
        free(layout);
        return s;
    }
    free(layout);
    return store_commit(st, e);
}

/* read_run_id: the run_id of an open checkpoint ("" for version 1) */
static Status read_run_id(Store *st, char id[33], Err *e) {
    id[0] = 0;
    return store_version(st) < 2 ? ST_OK : store_get_attr_str(st, "/", "run_id", id, 33, e);
}

Status train_ckpt_peek(const char *path, char **config_yaml, TrainCkptMeta *m, Err *e) {
    Store *st;
    *config_yaml = NULL;
    Status s = store_open(&st, path, TRAIN_CKPT_FORMAT, 1, TRAIN_CKPT_VERSION, e);
    if (s) return s;
    if ((s = store_read_text(st, "/config", config_yaml, e)) ||
        (s = store_get_attr_str(st, "/", "env_type", m->env_type, sizeof m->env_type, e)) ||
        (s = store_get_attr_str(st, "/", "model_sha256", m->model_sha256, sizeof m->model_sha256, e)) ||
        (s = store_get_attr_f64(st, "/", "seconds", &m->seconds, e)) ||
        (s = read_run_id(st, m->run_id, e))) {
        free(*config_yaml);
        *config_yaml = NULL;
    }
    store_close(st);
    return s;
}

Status train_ckpt_latency(const char *path, LatencyTable *lt, int *found, Err *e) {
    Store *st;
    *found = 0;
    Status s = store_open(&st, path, TRAIN_CKPT_FORMAT, 1, TRAIN_CKPT_VERSION, e);
    if (s) return s;
    if (store_exists(st, "/latency")) {
        s = latency_table_load(st, "/latency", lt, e);
        *found = !s;
    }
    store_close(st);
    return s;
}

Status train_ckpt_load(const char *path, Agent *A, Env *env, LatencyTable *lt, TrainCkptMeta *m,
                       Err *e) {
    Store *st;
    Status s = store_open(&st, path, TRAIN_CKPT_FORMAT, 1, TRAIN_CKPT_VERSION, e);
    if (s) return s;
    char sha[65] = "", type[16] = "", *layout = NULL, *want = layout_text(A->pi);
    size_t n = policy_n_params(A->pi);
    int64_t dims[1] = {(int64_t)n};
    if (!want) {
        s = err_set(e, ST_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((s = store_get_attr_str(st, "/", "env_type", type, sizeof type, e)) ||
        (s = store_get_attr_str(st, "/", "model_sha256", sha, sizeof sha, e)))
        goto done;
    if (strcmp(type, m->env_type)) {
        s = err_set(e, ST_FORMAT, "%s: env_type: expected %s, found %s", path, m->env_type, type);
        goto done;
    }
    if (m->model_sha256[0] && strcmp(sha, m->model_sha256)) {
        s = err_set(e, ST_FORMAT,
                    "%s: model_sha256: expected %s (the frozen model in use), found %s (the "
                    "checkpoint was trained on another base model)", path, m->model_sha256, sha);
        goto done;
    }
    if ((s = store_read_text(st, "/policy/layout", &layout, e))) goto done;
    if (strcmp(layout, want)) {
        /* name the first line that differs */
        const char *a = want, *b = layout;
        while (*a && *a == *b) {
            const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');
            if (!na || !nb || na - a != nb - b || strncmp(a, b, (size_t)(na - a))) break;
            a = na + 1, b = nb + 1;
        }
        int la = (int)(strchr(a, '\n') ? strchr(a, '\n') - a : (long)strlen(a));
        int lb = (int)(strchr(b, '\n') ? strchr(b, '\n') - b : (long)strlen(b));
        s = err_set(e, ST_SHAPE, "%s: /policy/layout: expected tensor '%.*s', found '%.*s' (the "
                    "policy's architecture differs)", path, la, a, lb, b);
        goto done;
    }
    if ((s = store_read_finite(st, "/policy/params", DT_F32, policy_params(A->pi), 1, dims, e)) ||
        (s = optim_adam_load(st, "/adam", A->adam_m, A->adam_v, n, &A->step, e)) ||
        (s = store_read_rng(st, "/rng/mb", &A->rng_mb, e)) ||
        (!m->policy_only && (s = train_ckpt_part_load(st, path, A, env, e))) ||
        (lt && (s = latency_table_load(st, "/latency", lt, e))) ||
        (s = store_get_attr_i64(st, "/", "iteration", &A->iteration, e)) ||
        (s = store_get_attr_i64(st, "/", "env_steps", &A->env_steps, e)) ||
        (s = store_get_attr_i64(st, "/", "episodes", &A->episodes, e)) ||
        (s = store_get_attr_f64(st, "/", "seconds", &m->seconds, e)) ||
        (s = read_run_id(st, m->run_id, e)))
        goto done;
    /* counters a run continues from (the iteration names the next checkpoint files) */
    if (A->iteration < 0 || A->env_steps < 0 || A->episodes < 0) {
        s = err_set(e, ST_FORMAT, "%s: iteration, env_steps, episodes: expected counts >= 0, "
                    "found %lld, %lld, %lld", path, (long long)A->iteration,
                    (long long)A->env_steps, (long long)A->episodes);
        goto done;
    }
    A->nonfinite_total = A->nonfinite_run = 0;
    if (store_version(st) >= 2 &&
        ((s = store_get_attr_i64(st, "/", "nonfinite_total", &A->nonfinite_total, e)) ||
         (s = store_get_attr_i64(st, "/", "nonfinite_run", &A->nonfinite_run, e))))
        goto done;
    if (A->nonfinite_total < 0 || A->nonfinite_run < 0 || A->nonfinite_run > A->nonfinite_total)
        s = err_set(e, ST_FORMAT, "%s: nonfinite_total, nonfinite_run: expected 0 <= run <= "
                    "total, found %lld and %lld", path, (long long)A->nonfinite_total,
                    (long long)A->nonfinite_run);
done:
    free(layout);
    free(want);
    store_close(st);
    return s;
}

void train_ckpt_path(char *out, size_t cap, const char *dir, int64_t iteration) {
    snprintf(out, cap, "%s/checkpoints/ckpt-%08lld.h5", dir, (long long)iteration);
}

/* the checkpoint names under DIR/checkpoints, sorted (zero-padded: lexical = numeric) */
static int is_ckpt(const char *n) {
    size_t l = strlen(n);
    return l == 16 && !strncmp(n, "ckpt-", 5) && !strcmp(n + 13, ".h5");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static Status list_ckpts(char ***names, int *n, const char *dir, Err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoints", dir);
    *names = NULL, *n = 0;
    DIR *d = opendir(path);
    if (!d) return err_set(e, ST_MISSING, "%s: cannot open: %s", path, strerror(errno));
    int cap = 0;
    struct dirent *de;
    Status s = ST_OK;
    while ((de = readdir(d))) {
        if (!is_ckpt(de->d_name)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **t = realloc(*names, sizeof(char *) * (size_t)cap);
            if (!t) { s = err_set(e, ST_NOMEM, "out of memory"); break; }
            *names = t;
        }
        if (!((*names)[(*n)++] = strdup(de->d_name))) { s = err_set(e, ST_NOMEM, "out of memory"); break; }
    }
    closedir(d);
    if (!s) qsort(*names, (size_t)*n, sizeof(char *), cmp_str);
    return s;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* file_run_id: the run_id of DIR/checkpoints/name ("" for version 1) */
static Status file_run_id(const char *dir, const char *name, char id[33], Err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/checkpoints/%s", dir, name);
    Store *st;
    Status s = store_open(&st, path, TRAIN_CKPT_FORMAT, 1, TRAIN_CKPT_VERSION, e);
    if (s) return s;
    s = read_run_id(st, id, e);
    store_close(st);
    return s;
}

Status train_ckpt_latest(char *out, size_t cap, const char *dir, Err *e) {
    char **names;
    int n;
    Status s = list_ckpts(&names, &n, dir, e);
    if (!s && !n) s = err_set(e, ST_MISSING, "%s/checkpoints: no checkpoint (ckpt-NNNNNNNN.h5) found", dir);
    char last[33] = "", id[33];
    for (int i = n - 1; !s && i >= 0; i--) { /* one run's files only */
        if (file_run_id(dir, names[i], id, e)) continue; /* unreadable: the loader says why */
        if (!last[0]) snprintf(last, sizeof last, "%s", id);
        else if (id[0] && strcmp(id, last))
            s = err_set(e, ST_FORMAT, "%s/checkpoints: expected the checkpoints of one run, found "
                        "two: %s (run %s) and the newest, %s (run %s); resume from a checkpoint "
                        "file, not the directory", dir, names[i], id, names[n - 1], last);
    }
    if (!s) snprintf(out, cap, "%s/checkpoints/%s", dir, names[n - 1]);
    free_names(names, n);
    return s;
}

/* remove_stale_tmp: temporary files "ckpt-*.h5.tmp.PID" (core/store.h's atomic writes) left by
   a writer that was killed: PID is gone */
static void remove_stale_tmp(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoints", dir);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *t = strstr(de->d_name, ".h5.tmp.");
        if (strncmp(de->d_name, "ckpt-", 5) || !t) continue;
        long pid = strtol(t + 8, NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || !(kill((pid_t)pid, 0) && errno == ESRCH)) continue;
        char f[4400];
        snprintf(f, sizeof f, "%s/%s", path, de->d_name);
        unlink(f);
    }
    closedir(d);
}

Status train_ckpt_prune(const char *dir, int keep, const char *run_id, Err *e) {
    char **names, id[33];
    int n, ours = 0;
    remove_stale_tmp(dir);
    Status s = list_ckpts(&names, &n, dir, e);
    for (int i = n - 1; !s && i >= 0; i--) { /* newest first: the run's first keep stay */
        Err ignored;
        /* another run's file is never removed (a version 1 file, without id, counts as ours) */
        if (file_run_id(dir, names[i], id, &ignored) || (id[0] && strcmp(id, run_id))) continue;
        if (++ours <= keep) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/checkpoints/%s", dir, names[i]);
        if (unlink(path) && errno != ENOENT)
            s = err_set(e, ST_IO, "%s: cannot remove: %s", path, strerror(errno));
    }
    free_names(names, n);
    return s;
}
