/* fuzz_bert.c: libFuzzer target of the model file readers (model/bert_io.c): bert_read_config
 * (the architecture attributes) and bert_load (every tensor, the metadata and /config), the
 * way drrl-train, drrl-eval and drrl-base --resume open a model: read the config, plan a
 * model for it, load the file into it.
 *
 * HDF5 files are made by structured mutation (h5edit.h has the input format) of two seeds
 * that bert_save writes in LLVMFuzzerInitialize: a tiny model with learned positions (vocab
 * 13, max_pos 10, d 8, 2 heads, d_ff 12, 2 layers, 3 classes) and the same with the
 * convolutional position encoding (kernel 5), both with metadata (config text, hashes, dev
 * accuracy, steps). Each input edits a copy of one; then
 *   1. bert_load into a model of the seed's architecture (as a model is loaded into an
 *      architecture the caller already has): a mismatch must be an error;
 *   2. bert_read_config, and when it succeeds and the architecture is small enough to plan
 *      here (under 2^21 parameters), bert_init for it and bert_load; a loaded model then runs
 *      one forward pass on a fixed tiny batch (under ASan and UBSan).
 * Failures must leave a message; bert_file_info_free must be safe after every return. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "fuzz_util.h"
#include "h5edit.h"
#include "model/bert_io.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const BertConfig learned = {
    .vocab = 13, .max_pos = 10, .type_vocab = 2, .d_model = 8, .n_heads = 2, .d_ff = 12,
    .n_layers = 2, .n_classes = 3, .ln_eps = 1e-12f, .dropout = 0.1f, .attn_dropout = 0.1f};
static const BertConfig conv = {
    .vocab = 13, .max_pos = 10, .type_vocab = 2, .d_model = 8, .n_heads = 2, .d_ff = 12,
    .n_layers = 2, .n_classes = 3, .ln_eps = 1e-12f, .dropout = 0.1f, .attn_dropout = 0.1f,
    .position = BERT_POS_CONV, .conv_kernel = 5};
static Bert models[2]; /* the seeds' architectures */

static void make_seed(Bert *m, const BertConfig *c, const char *path) {
    Err e;
    Rng r;
    rng_init(&r, 7, 0);
    const BertFileMeta meta = {"seed: 1\nmodel:\n  d_model: 8\n", "ab12", "", 0.75, 42, 0.0};
    if (bert_init(m, c, 1, 8, 0, &e) || (bert_init_weights(m, &r), bert_save(m, path, &meta, &e))) {
        fprintf(stderr, "fuzz_bert: seed: %s\n", e.msg);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    make_seed(&models[0], &learned, fuzz_path(0, "learned.h5"));
    h5edit_seed(fuzz_path(0, "learned.h5"));
    make_seed(&models[1], &conv, fuzz_path(0, "conv.h5"));
    h5edit_seed(fuzz_path(0, "conv.h5"));
    return 0;
}

/* small: parameters of c (roughly), to keep what this target plans bounded */
static int small(const BertConfig *c) {
    const int64_t d = c->d_model, f = c->d_ff;
    int64_t n = ((int64_t)c->vocab + c->max_pos + c->type_vocab + c->n_classes + 8) * d +
                (int64_t)c->n_layers * (4 * d * d + 2 * d * f + 9 * d + f) + d * d +
                (int64_t)c->conv_kernel * d;
    return n < (1 << 21) && bert_max_len(c) >= 2;
}

static void load(Bert *m, const char *path) {
    BertFileInfo info;
    Err e;
    err_clear(&e);
    Status s = bert_load(m, path, &info, &e);
    fuzz_check_err(s, &e);
    if (!s && (!info.config_yaml || strlen(info.vocab_sha256) >= BERT_SHA_MAX)) abort();
    bert_file_info_free(&info);
    if (s) return;
    const int32_t ids[4] = {0, 1 % m->c.vocab, 2 % m->c.vocab, 0};
    const uint8_t mask[4] = {1, 1, 1, 0};
    const int N = bert_max_len(&m->c) < 4 ? 2 : 4;
    /* finite weights may still overflow (FLT_MAX entries): only memory and UB are checked */
    bert_forward(m, ids, NULL, mask, NULL, 1, N < m->max_N ? N : m->max_N, 0, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path(1, "fuzz.h5");
    h5edit_file(path, data, size);
    load(&models[size > 0 ? data[0] % 2 : 0], path);
    BertConfig c;
    Err e;
    err_clear(&e);
    Status s = bert_read_config(path, &c, &e);
    fuzz_check_err(s, &e);
    if (s || !small(&c)) return 0;
    Bert m;
    memset(&m, 0, sizeof m);
    const int max_n = bert_max_len(&c) < 8 ? bert_max_len(&c) : 8;
    s = bert_init(&m, &c, 1, max_n, 0, &e);
    fuzz_check_err(s, &e);
    if (!s) load(&m, path);
    bert_free(&m);
    return 0;
}
