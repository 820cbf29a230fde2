/* train_log.c: drrl-train's progress line, metrics.csv and rollout files (see train_log.h). */
#include "pipeline/train_log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/file.h"
#include "core/store.h"

int info_col(const EnvDims *d, const char *name) {
    for (int i = 0; i < d->n_info; i++)
        if (!strcmp(d->info_names[i], name)) return i;
    return -1;
}

/* the environment columns of metrics.csv and the info column each one reads */
static const char *const env_cols[][2] = {
    {"fidelity_mean", "fidelity"}, {"rel_err_mean", "rel_err"}, {"latency_ratio", "latency_ratio"},
    {"flops_ratio", "flops_ratio"}, {"bound_mean", "bound"},     {"kl_mean", "kl"},
    {"r_fid", "r_fid"},             {"r_lat", "r_lat"},         {"r_bound", "r_bound"},
    {"r_kl", "r_kl"},               {"rank_mean", "rank"},      {"full_share", "full"},
    {"mask_rate", "masked"},        {"bound_violations", "violations"},
};
#define N_ENV_COLS ((int)(sizeof env_cols / sizeof env_cols[0]))

/* env_value: the metrics value of env column k: mean over the iteration's steps, except kl
   (per episode: it is paid once, at the last step) and violations (a count) */
static double env_value(const PpoStats *s, const Agent *A, int k) {
    int c = info_col(&A->dims, env_cols[k][1]);
    if (c < 0) return NAN;
    double v = s->info_mean[c];
    double steps = (double)A->ro.n_steps * A->ro.n_envs;
    if (!strcmp(env_cols[k][1], "kl")) return v * A->dims.max_steps;
    if (!strcmp(env_cols[k][1], "violations")) return v * steps;
    return v;
}

/* rank_at: mean of info "rank" at episode step t over the rollout (NAN if absent) */
static double rank_at(const Agent *A, int t) {
    int c = info_col(&A->dims, "rank");
    if (c < 0) return NAN;
    const Rollout *r = &A->ro;
    double sum = 0;
    long n = 0;
    for (int s = t; s < r->n_steps; s += A->dims.max_steps)
        for (int i = 0; i < r->n_envs; i++, n++)
            sum += r->info[((size_t)s * r->n_envs + i) * r->n_info + c];
    return n ? sum / n : NAN;
}

static const char *const ppo_cols =
    "approx_kl,clip_fraction,explained_variance,entropy,pg_loss,v_loss,grad_norm,lr,epochs_run,nonfinite";

/* write_header: the column names, one line */
static void write_header(FILE *f, int n_layers) {
    fprintf(f, "iteration,env_steps,episodes,fps,seconds,reward_mean,ep_return_mean");
    for (int k = 0; k < N_ENV_COLS; k++) fprintf(f, ",%s", env_cols[k][0]);
    fprintf(f, ",%s", ppo_cols);
    for (int l = 0; l < n_layers; l++) fprintf(f, ",rank_l%d", l);
    fprintf(f, "\n");
}

Status metrics_open(MetricsCsv *m, const char *dir, int n_layers, int64_t resume_iteration,
                    Err *e) {
    snprintf(m->path, sizeof m->path, "%s/metrics.csv", dir);
    m->n_layers = n_layers;
    m->f = NULL;
    char *header = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&header, &len);
    if (!mem) return err_set(e, ST_NOMEM, "%s: out of memory", m->path);
    write_header(mem, n_layers);
    if (fclose(mem)) {
        free(header);
        return err_set(e, ST_NOMEM, "%s: out of memory", m->path);
    }
    /* resumed: the header and the rows of iterations <= resume_iteration are kept */
    Status s = file_log_reopen(&m->f, m->path, header, (long long)resume_iteration, e);
    free(header);
    return s;
}

static void put(FILE *f, double v) {
    if (isnan(v)) fprintf(f, ",");
    else fprintf(f, ",%.9g", v);
}

Status metrics_write(MetricsCsv *m, const PpoStats *s, const Agent *A, double seconds, double fps,
                     Err *e) {
    FILE *f = m->f;
    fprintf(f, "%lld,%lld,%lld,%.1f,%.3f", (long long)s->iteration, (long long)s->env_steps,
            (long long)s->episodes, fps, seconds);
    put(f, s->reward_mean), put(f, s->ep_return_mean);
    for (int k = 0; k < N_ENV_COLS; k++) put(f, env_value(s, A, k));
    put(f, s->approx_kl), put(f, s->clip_fraction), put(f, s->explained_variance);
    put(f, s->entropy), put(f, s->pg_loss), put(f, s->v_loss), put(f, s->grad_norm), put(f, s->lr);
    fprintf(f, ",%d,%lld", s->epochs_run, (long long)s->skipped);
    for (int l = 0; l < m->n_layers; l++) put(f, rank_at(A, l));
    fprintf(f, "\n");
    if (fflush(f) || ferror(f)) return err_set(e, ST_IO, "%s: write failed: %s", m->path, strerror(errno));
    return ST_OK;
}

void metrics_close(MetricsCsv *m) {
    if (m->f) fclose(m->f);
    m->f = NULL;
}

static void fmt_eta(char *out, size_t cap, double sec) {
    if (!(sec >= 0) || sec > 1e7) snprintf(out, cap, "?");
    else if (sec >= 3600) snprintf(out, cap, "%dh%02dm", (int)(sec / 3600), (int)(sec / 60) % 60);
    else snprintf(out, cap, "%dm%02ds", (int)(sec / 60), (int)sec % 60);
}

void train_progress(const PpoStats *s, const Agent *A, int64_t total, double fps, double eta) {
    char et[32];
    fmt_eta(et, sizeof et, eta);
    printf("it %lld/%lld | steps %lld | %.0f fps | R/ep %+.4f", (long long)s->iteration,
           (long long)total, (long long)s->env_steps, fps, s->ep_return_mean);
    int c;
    if ((c = info_col(&A->dims, "r_fid")) >= 0) {
        const char *terms[4][2] = {{"fid", "r_fid"}, {"lat", "r_lat"}, {"bnd", "r_bound"}, {"kl", "r_kl"}};
        printf(" (");
        for (int k = 0; k < 4; k++) {
            int j = info_col(&A->dims, terms[k][1]);
            if (j >= 0) printf("%s%s %+.4f", k ? " " : "", terms[k][0], s->info_mean[j] * A->dims.max_steps);
        }
        printf(")");
    }
    for (int k = 0; k < N_ENV_COLS; k++) {
        const char *nm = env_cols[k][0];
        if (strcmp(nm, "fidelity_mean") && strcmp(nm, "flops_ratio") && strcmp(nm, "kl_mean") &&
            strcmp(nm, "mask_rate") && strcmp(nm, "bound_violations") && strcmp(nm, "latency_ratio"))
            continue;
        double v = env_value(s, A, k);
        if (!isnan(v)) printf(" | %s %.4g", nm, v);
    }
    if (info_col(&A->dims, "rank") >= 0) {
        printf(" | rank [");
        for (int l = 0; l < A->dims.max_steps; l++) printf("%s%.1f", l ? " " : "", rank_at(A, l));
        printf("]");
    }
    if ((c = info_col(&A->dims, "optimal")) >= 0) printf(" | optimal %.3f", s->info_mean[c]);
    printf(" | akl %.4f clip %.3f ev %.3f ent %.3f | ETA %s\n", s->approx_kl, s->clip_fraction,
           s->explained_variance, s->entropy, et);
    fflush(stdout);
}

Status rollout_write(const char *dir, const Agent *A, Err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/rollouts", dir);
    Status s = store_mkdirs(path, e);
    if (s) return s;
    if (A->cfg.part == 0) /* process p > 0 of a job: its own slots, iter-N.pP.h5 */
        snprintf(path, sizeof path, "%s/rollouts/iter-%08lld.h5", dir, (long long)A->iteration);
    else
        snprintf(path, sizeof path, "%s/rollouts/iter-%08lld.p%d.h5", dir,
                 (long long)A->iteration, A->cfg.part);
    const Rollout *r = &A->ro;
    Store *st;
    if ((s = store_create(&st, path, "drrl-rollout", 1, e))) return s;
    if ((s = store_set_deflate(st, 4, e))) {
        store_abort(st);
        return s;
    }
    int64_t S = r->n_steps, E = r->n_envs;
    int64_t d_obs[4] = {S, E, r->n_tokens, r->token_dim}, d_tok[3] = {S, E, r->n_tokens};
    int64_t d_am[4] = {S, E, r->n_heads, r->n_actions}, d_act[3] = {S, E, r->n_heads};
    int64_t d_se[2] = {S, E}, d_info[3] = {S, E, r->n_info > 0 ? r->n_info : 0};
    char names[ENV_MAX_INFO * 64] = "";
    for (int i = 0; i < A->dims.n_info; i++) {
        strncat(names, A->dims.info_names[i], 60);
        strcat(names, "\n");
    }
    if ((s = store_write(st, "/obs", DT_F32, r->obs, 4, d_obs, e)) ||
        (s = store_write(st, "/tok_mask", DT_U8, r->tok_mask, 3, d_tok, e)) ||
        (s = store_write(st, "/act_mask", DT_U8, r->act_mask, 4, d_am, e)) ||
        (s = store_write(st, "/action", DT_I32, r->action, 3, d_act, e)) ||
        (s = store_write(st, "/logp", DT_F32, r->logp, 2, d_se, e)) ||
        (s = store_write(st, "/value", DT_F32, r->value, 2, d_se, e)) ||
        (s = store_write(st, "/reward", DT_F32, r->reward, 2, d_se, e)) ||
        (s = store_write(st, "/done", DT_U8, r->done, 2, d_se, e)) ||
        (s = store_write(st, "/adv", DT_F32, r->adv, 2, d_se, e)) ||
        (s = store_write(st, "/ret", DT_F32, r->ret, 2, d_se, e)) ||
        (r->n_info > 0 && (s = store_write(st, "/info", DT_F32, r->info, 3, d_info, e))) ||
        (s = store_write_text(st, "/info_names", names, e)) ||
        (s = store_set_attr_i64(st, "/", "iteration", A->iteration, e)) ||
        (s = store_set_attr_i64(st, "/", "n_steps", S, e)) ||
        (s = store_set_attr_i64(st, "/", "n_envs", E, e)) ||
        (s = store_set_attr_i64(st, "/", "first_slot", (int64_t)A->cfg.part * E, e))) {
        store_abort(st);
        return s;
    }
    return store_commit(st, e);
}
