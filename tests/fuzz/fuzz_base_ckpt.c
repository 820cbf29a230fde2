/* fuzz_base_ckpt.c: libFuzzer target of the drrl-base checkpoint reader (pipeline/base_ckpt.c):
 * base_ckpt_config (the stored config, read before anything else on --resume) and
 * base_ckpt_load (flat parameters, AdamW moments and step, three RNG streams, the position in
 * the epoch, best dev accuracy, training time, data hashes).
 *
 * HDF5 files are made by structured mutation (h5edit.h has the input format): the seed is a
 * checkpoint written by base_ckpt_save in LLVMFuzzerInitialize for a tiny model (vocab 13,
 * max_pos 10, d 8, 2 heads, d_ff 12, 2 layers, 3 classes) with moments, step 5, epoch 1,
 * batch 2 and seeded streams. Each input edits a copy of it, then both readers run as
 * drrl-base --resume runs them, into a model of the seed's architecture. Failures must leave
 * a message and no config text; a success must give what the training loop relies on (it
 * indexes the epoch's batch plan with batch and counts epochs and steps from the stored
 * ones): step, epoch and batch >= 0, finite moments and parameters, hashes NUL-terminated,
 * RNG states that draw. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "h5edit.h"
#include "pipeline/base_ckpt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const BertConfig tiny = {
    .vocab = 13, .max_pos = 10, .type_vocab = 2, .d_model = 8, .n_heads = 2, .d_ff = 12,
    .n_layers = 2, .n_classes = 3, .ln_eps = 1e-12f, .dropout = 0.1f, .attn_dropout = 0.1f};
static Bert m;
static float *adam;
static size_t n;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    Err e;
    Rng r;
    rng_init(&r, 3, 0);
    if (bert_init(&m, &tiny, 1, 8, 0, &e)) abort();
    bert_init_weights(&m, &r);
    n = m.param_plan.bytes / sizeof(float);
    adam = calloc(2 * n, sizeof(float));
    if (!adam) abort();
    for (size_t i = 0; i < 2 * n; i++) adam[i] = 1e-3f * (float)(i % 11);
    OptimStep step = {5};
    BaseProgress p;
    memset(&p, 0, sizeof p);
    p.step = 5, p.epoch = 1, p.batch = 2, p.best_dev = 0.5, p.train_seconds = 12.5;
    rng_init(&p.order_epoch, 1, 2);
    rng_init(&p.order, 1, 2);
    rng_init(&p.dropout, 1, 3);
    snprintf(p.vocab_sha, sizeof p.vocab_sha, "%064d", 7);
    snprintf(p.data_sha, sizeof p.data_sha, "%064d", 9);
    const char *seed = fuzz_path(0, "seed.h5");
    if (base_ckpt_save(seed, &m, adam, adam + n, n, &step, &p, "seed: 1\n", &e)) {
        fprintf(stderr, "fuzz_base_ckpt: seed: %s\n", e.msg);
        abort();
    }
    h5edit_seed(seed);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path(1, "fuzz.h5");
    h5edit_file(path, data, size);
    char *cfg = (char *)1;
    Err e;
    err_clear(&e);
    Status s = base_ckpt_config(path, &cfg, &e);
    fuzz_check_err(s, &e);
    if (!s) free(cfg);
    OptimStep step;
    BaseProgress p;
    memset(&p, 0, sizeof p);
    err_clear(&e);
    s = base_ckpt_load(path, &m, adam, adam + n, n, &step, &p, &cfg, &e);
    fuzz_check_err(s, &e);
    if (s) {
        if (cfg) abort();
        return 0;
    }
    if (!cfg || step.t < 0 || p.step < 0 || p.epoch < 0 || p.batch < 0) abort();
    if (!memchr(p.vocab_sha, 0, sizeof p.vocab_sha) || !memchr(p.data_sha, 0, sizeof p.data_sha))
        abort();
    for (size_t i = 0; i < 2 * n; i++)
        if (!isfinite(adam[i])) abort();
    for (size_t i = 0; i < n; i++)
        if (!isfinite(((const float *)m.param_plan.base)[i])) abort();
    Rng *rs[3] = {&p.order, &p.dropout, &p.order_epoch};
    for (int i = 0; i < 3; i++)
        if (!isfinite(rng_normal(rs[i])) || rng_below(rs[i], 10) >= 10) abort();
    free(cfg);
    return 0;
}
