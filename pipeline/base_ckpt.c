/* base_ckpt.c: drrl-base checkpoints (see base_ckpt.h). The parameter and moment buffers
 * are stored flat (the layout of the model's one parameter allocation, padding included),
 * so a checkpoint is only valid for the same config: the loader compares the stored config
 * text before anything else, and the flat sizes after. */
#include "pipeline/base_ckpt.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"

#define CKPT_FORMAT "drrl-base-ckpt"
#define CKPT_VERSION 2

Status base_ckpt_save(const char *path, const Bert *m, const float *adam_m, const float *adam_v,
                      size_t n, const OptimStep *step, const BaseProgress *p,
                      const char *config_yaml, Err *e) {
    Store *st;
    Status s = store_create(&st, path, CKPT_FORMAT, CKPT_VERSION, e);
    if (s) return s;
    int64_t dims[1] = {(int64_t)n};
    if ((s = store_write_text(st, "/config", config_yaml, e)) ||
        (s = store_write(st, "/params", DT_F32, m->param_plan.base, 1, dims, e)) ||
        (s = optim_adam_save(st, "/adam", adam_m, adam_v, n, step, e)) ||
        (s = store_write_rng(st, "/rng/order_epoch", &p->order_epoch, e)) ||
        (s = store_write_rng(st, "/rng/order", &p->order, e)) ||
        (s = store_write_rng(st, "/rng/dropout", &p->dropout, e)) ||
        (s = store_set_attr_i64(st, "/", "step", p->step, e)) ||
        (s = store_set_attr_i64(st, "/", "epoch", p->epoch, e)) ||
        (s = store_set_attr_i64(st, "/", "batch", p->batch, e)) ||
        (s = store_set_attr_f64(st, "/", "best_dev", p->best_dev, e)) ||
        (s = store_set_attr_f64(st, "/", "train_seconds", p->train_seconds, e)) ||
        (s = store_set_attr_str(st, "/", "vocab_sha256", p->vocab_sha, e)) ||
        (s = store_set_attr_str(st, "/", "data_sha256", p->data_sha, e)) ||
        (s = store_set_attr_str(st, "/", "run_id", p->run_id, e)) ||
        (s = store_set_attr_i64(st, "/", "nonfinite_total", p->nonfinite_total, e)) ||
        (s = store_set_attr_i64(st, "/", "nonfinite_run", p->nonfinite_run, e))) {
        store_abort(st);
        return s;
    }
    return store_commit(st, e);
}

Status base_ckpt_config(const char *path, char **config_yaml, Err *e) {
    Store *st;
    *config_yaml = NULL;
    Status s = store_open(&st, path, CKPT_FORMAT, 1, CKPT_VERSION, e);
    if (s) return s;
    s = store_read_text(st, "/config", config_yaml, e);
    store_close(st);
    return s;
}

Status base_ckpt_load(const char *path, Bert *m, float *adam_m, float *adam_v, size_t n,
                      OptimStep *step, BaseProgress *p, char **config_yaml, Err *e) {
    Store *st;
    *config_yaml = NULL; /* also when the file does not open */
    Status s = store_open(&st, path, CKPT_FORMAT, 1, CKPT_VERSION, e);
    if (s) return s;
    int64_t dims[1] = {(int64_t)n};
    if ((s = store_read_text(st, "/config", config_yaml, e)) ||
        (s = store_read_finite(st, "/params", DT_F32, m->param_plan.base, 1, dims, e)) ||
        (s = optim_adam_load(st, "/adam", adam_m, adam_v, n, step, e)) ||
        (s = store_read_rng(st, "/rng/order_epoch", &p->order_epoch, e)) ||
        (s = store_read_rng(st, "/rng/order", &p->order, e)) ||
        (s = store_read_rng(st, "/rng/dropout", &p->dropout, e)) ||
        (s = store_get_attr_i64(st, "/", "step", &p->step, e)))
        goto done;
    /* the training loop continues from these: batch indexes the epoch's batch plan */
    if (p->step < 0) {
        s = err_set(e, ST_FORMAT, "%s: step: expected an integer >= 0, found %lld", path,
                    (long long)p->step);
        goto done;
    }
    if ((s = store_get_attr_int(st, "/", "epoch", 0, INT_MAX, &p->epoch, e)) ||
        (s = store_get_attr_int(st, "/", "batch", 0, INT_MAX, &p->batch, e)))
        goto done;
    if ((s = store_get_attr_f64(st, "/", "best_dev", &p->best_dev, e)) ||
        (s = store_get_attr_f64(st, "/", "train_seconds", &p->train_seconds, e)) ||
        (s = store_get_attr_str(st, "/", "vocab_sha256", p->vocab_sha, sizeof p->vocab_sha, e)) ||
        (s = store_get_attr_str(st, "/", "data_sha256", p->data_sha, sizeof p->data_sha, e)))
        goto done;
    p->run_id[0] = 0;
    p->nonfinite_total = p->nonfinite_run = 0;
    if (store_version(st) >= 2 &&
        ((s = store_get_attr_str(st, "/", "run_id", p->run_id, sizeof p->run_id, e)) ||
         (s = store_get_attr_i64(st, "/", "nonfinite_total", &p->nonfinite_total, e)) ||
         (s = store_get_attr_i64(st, "/", "nonfinite_run", &p->nonfinite_run, e))))
        goto done;
    if (p->nonfinite_total < 0 || p->nonfinite_run < 0 || p->nonfinite_run > p->nonfinite_total)
        s = err_set(e, ST_FORMAT, "%s: nonfinite_total, nonfinite_run: expected 0 <= run <= "
                    "total, found %lld and %lld", path, (long long)p->nonfinite_total,
                    (long long)p->nonfinite_run);
done:
    store_close(st);
    if (s) {
        free(*config_yaml);
        *config_yaml = NULL;
    }
    return s;
}
