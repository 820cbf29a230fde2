/* train_ckpt_part.c: each process's part of a drrl-train checkpoint (train_ckpt.h): its
 * environment's state and its episode slots' action streams. Process 0's part lies in the
 * checkpoint itself (/env, /rng/act/G); with several processes (core/dist.h) every other
 * process p sends its part as the bytes of an in-memory store (core/store.h), which process 0
 * writes as the uint8 dataset /proc/p, and the root attribute `processes` says how many took
 * part. On resume, process p > 0 opens /proc/p from those bytes. */
#include "pipeline/train_ckpt.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/store.h"

Status train_ckpt_part_save(Store *st, const Agent *A, Env *env, Err *e) {
    Status s = env->save(env->self, st, "/env", e);
    for (int i = 0; i < A->dims.n_envs && !s; i++) { /* each slot's stream by global index */
        char nm[64];
        snprintf(nm, sizeof nm, "/rng/act/%d", A->cfg.part * A->dims.n_envs + i);
        s = store_write_rng(st, nm, &A->rng_act[i], e);
    }
    return s;
}

/* act_streams: the action streams of a version 3 part; a version 1 or 2 file holds one stream
   for every slot (/rng/act), which no per-slot stream continues: the slots keep the streams
   agent_init seeded, and the resume is not bit-exact (said) */
static Status act_streams(Store *st, const char *path, Agent *A, Err *e) {
    if (store_version(st) < 3) {
        fprintf(stderr, "drrl-train: note: %s is a version %d checkpoint (one action stream for "
                "every slot): the slots' action streams start afresh, so this resume is not "
                "bit-exact\n", path, store_version(st));
        return ST_OK;
    }
    Status s = ST_OK;
    for (int i = 0; i < A->dims.n_envs && !s; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "/rng/act/%d", A->cfg.part * A->dims.n_envs + i);
        s = store_read_rng(st, nm, &A->rng_act[i], e);
    }
    return s;
}

Status train_ckpt_parts_write(Store *st, const TrainCkptParts *parts, Err *e) {
    const int n = parts ? parts->n : 1;
    Status s = store_set_attr_i64(st, "/", "processes", n, e);
    int64_t off = 0;
    for (int p = 1; p < n && !s; p++) {
        char nm[32];
        int64_t len = parts->len[p], dims[1] = {len};
        off += parts->len[p - 1];
        snprintf(nm, sizeof nm, "/proc/%d", p);
        s = store_write(st, nm, DT_U8, parts->buf + off, 1, dims, e);
    }
    return s;
}

Status train_ckpt_part_load(Store *st, const char *path, Agent *A, Env *env, Err *e) {
    int64_t n = 1;
    Status s = store_version(st) >= 3 ? store_get_attr_i64(st, "/", "processes", &n, e) : ST_OK;
    if (s) return s;
    if (n != A->cfg.parts)
        return err_set(e, ST_CONFIG, "%s: processes: expected %d (this job's), found %lld: a run "
                       "resumes with as many processes as wrote its checkpoint (mpirun -np %lld; "
                       "each holds its episode slots' streams and environment)", path,
                       A->cfg.parts, (long long)n, (long long)n);
    if (A->cfg.part == 0) {
        if ((s = env->load(env->self, st, "/env", e))) return s;
        return act_streams(st, path, A, e);
    }
    char nm[32], what[4200];
    int ndim;
    int64_t dims[STORE_MAX_DIMS];
    DType t;
    snprintf(nm, sizeof nm, "/proc/%d", A->cfg.part);
    if ((s = store_shape(st, nm, &ndim, dims, &t, e))) return s;
    if (ndim != 1 || t != DT_U8 || dims[0] < 1)
        return err_set(e, ST_FORMAT, "%s: %s: expected a uint8 vector (an in-memory file), found "
                       "another shape or type", path, nm);
    uint8_t *buf = malloc((size_t)dims[0]);
    if (!buf) return err_set(e, ST_NOMEM, "%s: %s: out of memory", path, nm);
    Store *img = NULL;
    snprintf(what, sizeof what, "%s:%s", path, nm);
    s = store_read(st, nm, DT_U8, buf, 1, dims, e);
    if (!s) s = store_open_image(&img, what, buf, (size_t)dims[0], TRAIN_CKPT_FORMAT, 3,
                                 TRAIN_CKPT_VERSION, e);
    free(buf);
    if (!s) s = env->load(env->self, img, "/env", e);
    if (!s) s = act_streams(img, what, A, e);
    store_close(img);
    return s;
}
