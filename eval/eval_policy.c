/* eval_policy.c: opening a trained rank policy for evaluation (see eval_policy.h). */
#include "eval/eval_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/sha256.h"
#include "core/store.h"
#include "pipeline/train_ckpt.h"

Status eval_ckpt_open(EvalCkpt *k, const EvalCkptArgs *a, Err *e) {
    memset(k, 0, sizeof *k);
    struct stat sb;
    Status s;
    if (!stat(a->arg, &sb) && S_ISDIR(sb.st_mode)) {
        if ((s = train_ckpt_latest(k->path, sizeof k->path, a->arg, e))) return s;
    } else snprintf(k->path, sizeof k->path, "%s", a->arg);
    char *stored = NULL, src[4200];
    TrainCkptMeta meta = {0};
    if ((s = train_ckpt_peek(k->path, &stored, &meta, e))) return s;
    if (strcmp(meta.env_type, "rank")) {
        free(stored);
        return err_set(e, ST_FORMAT, "%s: env_type: expected rank (a policy over the frozen "
                       "model), found %s", k->path, meta.env_type);
    }
    snprintf(src, sizeof src, "%s:/config", k->path);
    s = a->cfg_path ? config_load(&train_schema, &k->c, a->cfg_path, a->over, a->n_over, e)
                    : config_load_text(&train_schema, &k->c, stored, src, a->over, a->n_over, e);
    free(stored);
    if (s) return s;
    /* the frozen model must be the one the policy was trained on (checked again on load) */
    char sha[65];
    if ((s = sha256_file(k->c.env.model, sha, e))) return err_prefix(e, "env.model");
    if (strcmp(sha, meta.model_sha256))
        return err_set(e, ST_FORMAT, "%s: model_sha256: expected %s (the frozen model %s), found "
                       "%s (the checkpoint was trained on another base model)", k->path, sha,
                       k->c.env.model, meta.model_sha256);
    k->has_lt = !strcmp(k->c.env.latency, "table");
    if (!k->has_lt) return ST_OK;
    /* latency.file=X: that table (e.g. measured with larger buckets for a longer evaluation)
       replaces the checkpoint's */
    const char *lf = a->latency_file && a->latency_file[0] ? a->latency_file : NULL;
    Store *st;
    s = lf ? store_open(&st, lf, LATENCY_FORMAT, 1, LATENCY_VERSION, e)
           : store_open(&st, k->path, TRAIN_CKPT_FORMAT, 1, TRAIN_CKPT_VERSION, e);
    if (!s) {
        s = latency_table_load(st, lf ? LATENCY_GROUP : "/latency", &k->lt, e);
        store_close(st);
    }
    if (s) return err_prefix(e, lf ? "latency.file: %s" : "%s", lf ? lf : k->path);
    if (lf)
        fprintf(log_info(), "latency table: %s (measured %s on %s) instead of the checkpoint's\n",
                lf, k->lt.date, k->lt.cpu);
    /* its kernel variants when measured on this CPU (the environment computes as in
       training); a table of another CPU is said to be one */
    latency_table_apply(&k->lt, log_info());
    return ST_OK;
}

Status eval_policy_load(Agent *A, const EvalCkpt *k, TrainEnv *t, double *seconds, Err *e) {
    PpoConfig pp = train_ppo_config(&k->c, t->env.dims.max_steps);
    PolicyConfig pc = train_policy_config(&k->c);
    Status s = agent_init(A, &pp, &pc, &t->env.dims, (uint64_t)k->c.seed, e);
    if (s) return s;
    /* the policy alone: the checkpoint's environment state (the training batch order) and
       action streams mean nothing here */
    TrainCkptMeta want = {.policy_only = 1};
    snprintf(want.env_type, sizeof want.env_type, "rank");
    snprintf(want.model_sha256, sizeof want.model_sha256, "%s", t->model_sha256);
    if ((s = train_ckpt_load(k->path, A, &t->env, NULL, &want, e))) {
        agent_free(A);
        return s;
    }
    *seconds = want.seconds;
    return ST_OK;
}
