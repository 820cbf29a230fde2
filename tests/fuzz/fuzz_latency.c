/* fuzz_latency.c: libFuzzer target of the latency table reader (attention/latency_io.c,
 * latency_table_load) and the kernel tuning reader it calls (attention/tune_io.c,
 * attn_tune_load), with what the programs do with a loaded table (lookups, the shape check,
 * installing its kernel variants and picking from them).
 *
 * HDF5 files are made by structured mutation (h5edit.h has the input format): the seed is a
 * latency file as drrl-bench --calibrate writes it (format drrl-latency, the table in
 * /latency with 4 buckets x 3 ranks of a d = 16, H = 2 layer and a kernel tuning of 3
 * entries in /latency/kernels), made in LLVMFuzzerInitialize by latency_table_save from a
 * table filled by hand (nothing is timed). Each input edits a copy of it; the file is opened
 * as drrl-train and drrl-eval open a latency.file (store_open, then latency_table_load of
 * /latency); the kernels group is read once more alone with attn_tune_load. Failures must
 * leave a message; a loaded table must hold its invariants (increasing buckets and ranks,
 * finite positive latencies, valid variants), and lookups at lengths and ranks around and
 * beyond its grid must return one of its entries. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/latency.h"
#include "fuzz_util.h"
#include "h5edit.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static void make_seed(const char *path) {
    static LatencyTable t;
    memset(&t, 0, sizeof t);
    t.d = 16, t.H = 2, t.B = 1, t.warmup = 1, t.reps = 3;
    t.n_buckets = 4, t.n_ranks = 3;
    const int bk[4] = {16, 64, 128, 512}, rk[3] = {1, 2, 4};
    for (int i = 0; i < 4; i++) {
        t.buckets[i] = bk[i];
        t.full[i] = 1e-4 * bk[i];
        for (int j = 0; j < 3; j++) t.lat[i][j] = 1e-5 * bk[i] * rk[j];
    }
    memcpy(t.ranks, rk, sizeof rk);
    latency_table_hardware(&t);
    AttnVariant cand[64];
    int nc = attn_variant_candidates(cand);
    t.tune.n = 3, t.tune.H = 2, t.tune.B = 1, t.tune.threads = t.threads;
    for (int i = 0; i < 3; i++) {
        t.tune.N[i] = bk[i], t.tune.k[i] = 8, t.tune.v[i] = cand[i % nc];
        t.tune.sec[i] = 1e-4, t.tune.sec_default[i] = 2e-4;
    }
    memcpy(t.tune.cpu, t.cpu, sizeof t.cpu);
    memcpy(t.tune.date, t.date, sizeof t.date);
    Store *st;
    Err e;
    if (store_create(&st, path, LATENCY_FORMAT, LATENCY_VERSION, &e) ||
        latency_table_save(st, LATENCY_GROUP, &t, &e) || store_commit(st, &e)) {
        fprintf(stderr, "fuzz_latency: seed: %s\n", e.msg);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    devnull = fopen("/dev/null", "w");
    if (!devnull) abort();
    const char *seed = fuzz_path(0, "seed.h5");
    make_seed(seed);
    h5edit_seed(seed);
    return 0;
}

static int in_table(const LatencyTable *t, double v) {
    for (int i = 0; i < t->n_buckets; i++) {
        if (v == t->full[i]) return 1;
        for (int j = 0; j < t->n_ranks; j++)
            if (v == t->lat[i][j]) return 1;
    }
    return 0;
}

static void check_table(const LatencyTable *t) {
    if (t->n_buckets < 1 || t->n_buckets > LATENCY_MAX_BUCKETS || t->n_ranks < 1 ||
        t->n_ranks > LATENCY_MAX_RANKS || t->d < 1 || t->H < 1 || t->d % t->H)
        abort();
    const int N[5] = {1, t->buckets[0], t->buckets[t->n_buckets - 1],
                      t->buckets[t->n_buckets - 1] + 1, 1 << 30};
    const int R[5] = {LATENCY_FULL, 1, t->ranks[0], t->ranks[t->n_ranks - 1] + 1, t->d};
    for (int a = 0; a < 5; a++) {
        int b = latency_table_bucket(t, N[a]);
        if (b < 0 || b >= t->n_buckets) abort();
        for (int r = 0; r < 5; r++) {
            double v = latency_table_lookup(t, N[a], R[r]);
            if (!in_table(t, v) || !(v > 0) || !(latency_table_ratio(t, N[a], R[r]) > 0))
                abort();
        }
    }
    Err e;
    err_clear(&e);
    fuzz_check_err(latency_table_check(t, 16, 2, &e), &e);
    for (int i = 0; i < t->tune.n; i++)
        if (!attn_variant_valid(t->tune.v[i])) abort();
    latency_table_apply(t, devnull);
    for (int n = 1; n < 1 << 12; n *= 7)
        for (int k = 0; k < 300; k += 37)
            if (!attn_variant_valid(attn_tune_pick(n, k))) abort();
    attn_tune_print(devnull, &t->tune);
    attn_tune_use(NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path(1, "fuzz.h5");
    h5edit_file(path, data, size);
    static LatencyTable t;
    static AttnTune tune;
    Store *st = NULL;
    Err e;
    err_clear(&e);
    Status s = store_open(&st, path, LATENCY_FORMAT, 1, LATENCY_VERSION, &e);
    fuzz_check_err(s, &e);
    if (s) return 0;
    err_clear(&e);
    s = latency_table_load(st, LATENCY_GROUP, &t, &e);
    fuzz_check_err(s, &e);
    if (!s) check_table(&t);
    err_clear(&e);
    s = attn_tune_load(st, LATENCY_GROUP "/kernels", &tune, &e);
    fuzz_check_err(s, &e);
    if (!s && attn_tune_lookup(&tune, 100, 8).kind < 0) abort();
    store_close(st);
    return 0;
}
