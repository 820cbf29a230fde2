/* test_bert_io.c: the BERT model file (model/bert_io.h):
 *   - round trip: save, bert_read_config, load into a fresh model (inference-only), logits
 *     bit-identical, metadata (config text, hashes, accuracy, steps) read back;
 *   - the layout: root attributes and one dataset per tensor at the HuggingFace path;
 *   - errors asserted by text: a different architecture (attribute named, expected vs found),
 *     a missing tensor, a tensor of the wrong shape, an out-of-range attribute, a wrong
 *     format name, and an atomic save that fails leaving the old file in place;
 *   - the position kind: a file without the `position` attribute (older files, converted
 *     BERT) reads as learned; a conv model round-trips (attributes position = "conv" and
 *     conv_kernel, /bert/embeddings/position_conv/{weight,bias}, logits bit-identical, loaded
 *     into a model planned past max_pos); loading it into a learned model, or a file with an
 *     unknown position kind or without conv_kernel, are errors naming the attribute. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/store.h"
#include "model/bert.h"
#include "model/bert_io.h"
#include "tests/check.h"

static const BertConfig tiny = {
    .vocab = 17, .max_pos = 12, .type_vocab = 2, .d_model = 8, .n_heads = 2, .d_ff = 16,
    .n_layers = 2, .n_classes = 2, .ln_eps = 1e-12f, .dropout = 0.1f, .attn_dropout = 0.1f};

enum { B = 2, N = 5 };
static const int32_t ids[B * N] = {1, 4, 9, 16, 2, 1, 3, 5, 0, 0};
static const int32_t tids[B * N] = {0, 0, 1, 1, 1, 0, 1, 1, 0, 0};
static const uint8_t mask[B * N] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};

static char dir[256];

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

/* write a model file by hand: every tensor of m except `skip` (-1: none), tensor `bad`
   (-1: none) written with its first dimension plus one; attribute position = `position`
   unless NULL (then absent, as in files written before it existed), and no conv_kernel */
static Status write_custom_pos(const Bert *m, const char *path, int skip, int bad,
                               const char *position, Err *e) {
    Store *st;
    Status s = store_create(&st, path, BERT_FILE_FORMAT, 1, e);
    if (s) return s;
    const BertConfig *c = &m->c;
    const char *names[8] = {"vocab", "max_pos", "type_vocab", "d_model",
                            "n_heads", "d_ff", "n_layers", "n_classes"};
    int v[8] = {c->vocab, c->max_pos, c->type_vocab, c->d_model,
                c->n_heads, c->d_ff, c->n_layers, c->n_classes};
    for (int i = 0; i < 8 && !s; i++) s = store_set_attr_i64(st, "/", names[i], v[i], e);
    if (!s) s = store_set_attr_f64(st, "/", "ln_eps", c->ln_eps, e);
    if (!s) s = store_set_attr_f64(st, "/", "dropout", c->dropout, e);
    if (!s) s = store_set_attr_f64(st, "/", "attn_dropout", c->attn_dropout, e);
    if (!s && position) s = store_set_attr_str(st, "/", "position", position, e);
    float *big = calloc(1 << 16, sizeof(float));
    char ds[128];
    for (int i = 0; i < m->n_tensors && !s; i++) {
        if (i == skip) continue;
        const BertTensor *t = &m->tensor[i];
        int64_t dims[2] = {t->dims[0] + (i == bad), t->dims[1]};
        bert_tensor_path(ds, sizeof ds, t->name);
        s = store_write(st, ds, DT_F32, i == bad ? big : t->param, t->ndim, dims, e);
    }
    free(big);
    if (s) {
        store_abort(st);
        return s;
    }
    return store_commit(st, e);
}

static Status write_custom(const Bert *m, const char *path, int skip, int bad, Err *e) {
    return write_custom_pos(m, path, skip, bad, NULL, e);
}

/* make_model: m planned for config c and the fixture batch (training if train), its weights
   drawn from an Rng seeded (seed, seed) and made distinctive (tensor i shifted by 0.01 i: not
   only the N(0, 0.02) draws and 0/1 constants); want (B, 2) = its logits on the batch */
static void make_model(Bert *m, const BertConfig *c, int train, uint64_t seed, float *want,
                       const char *what) {
    Err e;
    CHECK(bert_init(m, c, B, N, train, &e) == ST_OK, "%s: %s", what, e.msg);
    Rng r;
    rng_init(&r, seed, seed);
    bert_init_weights(m, &r);
    for (int i = 0; i < m->n_tensors; i++)
        for (size_t j = 0; j < m->tensor[i].count; j++) m->tensor[i].param[j] += 0.01f * (float)i;
    bert_forward(m, ids, tids, mask, NULL, B, N, 0, NULL);
    memcpy(want, bert_logits(m), sizeof(float) * B * 2);
}

static void test_round_trip(void) {
    Bert m, m2;
    Err e;
    char path[512];
    path_of(path, sizeof path, "model.h5");
    float want[B * 2];
    make_model(&m, &tiny, 1, 3, want, "init");

    BertFileMeta meta = {"model:\n  d_model: 8\n", "ab12", "cd34", 0.875, 1234, 0.0};
    CHECK(bert_save(&m, path, &meta, &e) == ST_OK, "save: %s", e.msg);
    BertConfig c;
    CHECK(bert_read_config(path, &c, &e) == ST_OK, "read_config: %s", e.msg);
    CHECK(memcmp(&c, &tiny, sizeof c) == 0, "config round trip");
    CHECK(bert_init(&m2, &c, B, 8, 0, &e) == ST_OK, "init 2: %s", e.msg);
    BertFileInfo info;
    CHECK(bert_load(&m2, path, &info, &e) == ST_OK, "load: %s", e.msg);
    bert_forward(&m2, ids, tids, mask, NULL, B, N, 0, NULL);
    CHECK(memcmp(want, bert_logits(&m2), sizeof want) == 0, "reloaded logits bit-identical");
    CHECK(info.config_yaml && strcmp(info.config_yaml, meta.config_yaml) == 0, "config text");
    CHECK(strcmp(info.vocab_sha256, "ab12") == 0 && strcmp(info.data_sha256, "cd34") == 0,
          "hashes");
    CHECK(info.dev_accuracy == 0.875 && info.train_steps == 1234, "accuracy and steps");
    bert_file_info_free(&info);
    bert_free(&m2);

    /* the layout, as another reader sees it */
    Store *st;
    CHECK(store_open(&st, path, "drrl-model", 1, 1, &e) == ST_OK, "open: %s", e.msg);
    int nd;
    int64_t dims[8];
    DType t;
    CHECK(store_shape(st, "/bert/encoder/layer/1/attention/self/query/weight", &nd, dims, &t,
                      &e) == ST_OK && nd == 2 && dims[0] == 8 && dims[1] == 8 && t == DT_F32,
          "query weight dataset: %s", e.msg);
    CHECK(store_shape(st, "/bert/encoder/layer/0/intermediate/dense/weight", &nd, dims, &t, &e) ==
                  ST_OK && nd == 2 && dims[0] == 16 && dims[1] == 8,
          "intermediate weight (F, C)");
    CHECK(store_exists(st, "/classifier/bias") && store_exists(st, "/bert/pooler/dense/weight") &&
              store_exists(st, "/bert/embeddings/LayerNorm/weight") && store_exists(st, "/config"),
          "HF paths present");
    int64_t v = 0;
    CHECK(store_get_attr_i64(st, "/", "d_ff", &v, &e) == ST_OK && v == 16, "d_ff attribute");
    store_close(st);

    /* a model file without metadata (as a converter might write): "", NaN, 0 */
    char p2[512];
    path_of(p2, sizeof p2, "bare.h5");
    CHECK(write_custom(&m, p2, -1, -1, &e) == ST_OK, "write bare: %s", e.msg);
    CHECK(bert_init(&m2, &tiny, B, N, 0, &e) == ST_OK, "init 3");
    CHECK(bert_load(&m2, p2, &info, &e) == ST_OK, "load bare: %s", e.msg);
    CHECK(info.config_yaml && info.config_yaml[0] == 0 && info.vocab_sha256[0] == 0 &&
              isnan(info.dev_accuracy) && info.train_steps == 0,
          "missing metadata reads as empty");
    bert_file_info_free(&info);
    bert_forward(&m2, ids, tids, mask, NULL, B, N, 0, NULL);
    CHECK(memcmp(want, bert_logits(&m2), sizeof want) == 0, "bare file logits bit-identical");
    bert_free(&m2);
    bert_free(&m);
}

static void test_errors(void) {
    Bert m, other;
    Err e;
    char path[512], p[512];
    path_of(path, sizeof path, "model.h5");
    CHECK(bert_init(&m, &tiny, B, N, 0, &e) == ST_OK, "init");
    Rng r;
    rng_init(&r, 4, 4);
    bert_init_weights(&m, &r);

    /* different architecture: d_ff 16 in the file, 32 in the model */
    BertConfig c = tiny;
    c.d_ff = 32;
    CHECK(bert_init(&other, &c, B, N, 0, &e) == ST_OK, "init other");
    Status s = bert_load(&other, path, NULL, &e);
    CHECK(s == ST_SHAPE && strstr(e.msg, "model.h5: d_ff: expected 32") && strstr(e.msg, "found 16"),
          "wrong architecture: %s", e.msg);
    printf("wrong architecture: %s\n", e.msg);
    bert_free(&other);
    c = tiny;
    c.ln_eps = 1e-5f;
    CHECK(bert_init(&other, &c, B, N, 0, &e) == ST_OK, "init other");
    s = bert_load(&other, path, NULL, &e);
    CHECK(s == ST_SHAPE && strstr(e.msg, "ln_eps: expected 1e-05") && strstr(e.msg, "found 1e-12"),
          "wrong ln_eps: %s", e.msg);
    bert_free(&other);

    /* missing tensor */
    path_of(p, sizeof p, "missing.h5");
    int ki = 5 + 16 + 10; /* layer 1 intermediate.dense.weight */
    CHECK(strcmp(m.tensor[ki].name, "bert.encoder.layer.1.intermediate.dense.weight") == 0,
          "table index");
    CHECK(write_custom(&m, p, ki, -1, &e) == ST_OK, "write: %s", e.msg);
    s = bert_load(&m, p, NULL, &e);
    CHECK(s == ST_MISSING && strstr(e.msg, "/bert/encoder/layer/1/intermediate/dense/weight: missing"),
          "missing tensor: %s", e.msg);
    printf("missing tensor: %s\n", e.msg);

    /* wrong shape */
    path_of(p, sizeof p, "shape.h5");
    int wi = 5 + 6; /* layer 0 attention.output.dense.weight */
    CHECK(write_custom(&m, p, -1, wi, &e) == ST_OK, "write: %s", e.msg);
    s = bert_load(&m, p, NULL, &e);
    CHECK(s == ST_SHAPE &&
              strstr(e.msg, "/bert/encoder/layer/0/attention/output/dense/weight: expected shape "
                            "[8, 8] float32, found [9, 8] float32"),
          "wrong shape: %s", e.msg);
    printf("wrong shape: %s\n", e.msg);

    /* out-of-range attribute: n_heads not dividing d_model */
    path_of(p, sizeof p, "heads.h5");
    Store *st;
    CHECK(store_create(&st, p, BERT_FILE_FORMAT, 1, &e) == ST_OK, "create");
    const char *names[8] = {"vocab", "max_pos", "type_vocab", "d_model",
                            "n_heads", "d_ff", "n_layers", "n_classes"};
    int v[8] = {17, 12, 2, 8, 3, 16, 2, 2};
    for (int i = 0; i < 8; i++) store_set_attr_i64(st, "/", names[i], v[i], &e);
    store_set_attr_f64(st, "/", "ln_eps", 1e-12, &e);
    store_set_attr_f64(st, "/", "dropout", 0.1, &e);
    CHECK(store_commit(st, &e) == ST_OK, "commit");
    BertConfig rc;
    s = bert_read_config(p, &rc, &e);
    CHECK(s == ST_MISSING && strstr(e.msg, "missing attribute 'attn_dropout'"),
          "missing attribute: %s", e.msg);
    CHECK(store_create(&st, p, BERT_FILE_FORMAT, 1, &e) == ST_OK, "create");
    for (int i = 0; i < 8; i++) store_set_attr_i64(st, "/", names[i], v[i], &e);
    store_set_attr_f64(st, "/", "ln_eps", 1e-12, &e);
    store_set_attr_f64(st, "/", "dropout", 0.1, &e);
    store_set_attr_f64(st, "/", "attn_dropout", 0.1, &e);
    CHECK(store_commit(st, &e) == ST_OK, "commit");
    s = bert_read_config(p, &rc, &e);
    CHECK(s == ST_CONFIG && strstr(e.msg, "heads.h5: n_heads: expected a divisor of d_model (8), found 3"),
          "bad n_heads: %s", e.msg);
    printf("bad attribute: %s\n", e.msg);

    /* wrong format */
    path_of(p, sizeof p, "other.h5");
    CHECK(store_create(&st, p, "drrl-checkpoint", 1, &e) == ST_OK, "create");
    CHECK(store_commit(st, &e) == ST_OK, "commit");
    s = bert_read_config(p, &rc, &e);
    CHECK(s == ST_FORMAT && strstr(e.msg, "format: expected 'drrl-model', found 'drrl-checkpoint'"),
          "wrong format: %s", e.msg);

    /* a save into a missing directory fails cleanly; the good file is untouched */
    path_of(p, sizeof p, "no/such/dir/model.h5");
    CHECK(bert_save(&m, p, NULL, &e) == ST_IO, "save into a missing directory: %s", e.msg);
    CHECK(bert_read_config(path, &rc, &e) == ST_OK, "old file still readable");
    bert_free(&m);
}

/* the convolutional position encoding in the file */
static void test_conv(void) {
    BertConfig cc = tiny;
    cc.position = BERT_POS_CONV, cc.conv_kernel = 3;
    Bert m, m2;
    Err e;
    char path[512], p2[512];
    path_of(path, sizeof path, "conv.h5");
    float want[B * 2];
    make_model(&m, &cc, 0, 4, want, "init conv");
    CHECK(bert_save(&m, path, NULL, &e) == ST_OK, "save conv: %s", e.msg);
    BertConfig c;
    CHECK(bert_read_config(path, &c, &e) == ST_OK, "read_config conv: %s", e.msg);
    CHECK(memcmp(&c, &cc, sizeof c) == 0 && c.position == BERT_POS_CONV && c.conv_kernel == 3,
          "conv config round trip");
    /* planned for 2 max_pos + 1 tokens: conv positions have no table to run out of */
    CHECK(bert_init(&m2, &c, B, 2 * cc.max_pos + 1, 0, &e) == ST_OK, "init 2 conv: %s", e.msg);
    CHECK(bert_load(&m2, path, NULL, &e) == ST_OK, "load conv: %s", e.msg);
    bert_forward(&m2, ids, tids, mask, NULL, B, N, 0, NULL);
    CHECK(memcmp(want, bert_logits(&m2), sizeof want) == 0, "conv: reloaded logits bit-identical");
    bert_free(&m2);
    Store *st;
    CHECK(store_open(&st, path, "drrl-model", 1, 1, &e) == ST_OK, "open: %s", e.msg);
    char pos[32] = "";
    int64_t k = 0, nd_dims[8];
    int nd = 0;
    DType t;
    CHECK(store_get_attr_str(st, "/", "position", pos, sizeof pos, &e) == ST_OK &&
              !strcmp(pos, "conv") && store_get_attr_i64(st, "/", "conv_kernel", &k, &e) == ST_OK &&
              k == 3,
          "position attributes: '%s', %lld", pos, (long long)k);
    CHECK(store_shape(st, "/bert/embeddings/position_conv/weight", &nd, nd_dims, &t, &e) ==
                  ST_OK && nd == 2 && nd_dims[0] == 3 && nd_dims[1] == 8 &&
              store_exists(st, "/bert/embeddings/position_conv/bias") &&
              !store_exists(st, "/bert/embeddings/position_embeddings/weight"),
          "conv datasets");
    store_close(st);
    /* into a learned model: the position attribute is named */
    CHECK(bert_init(&m2, &tiny, B, N, 0, &e) == ST_OK, "init learned");
    CHECK(bert_load(&m2, path, NULL, &e) == ST_SHAPE &&
              strstr(e.msg, "position: expected learned (conv_kernel 0) (the architecture of the "
                            "model being loaded), found conv (conv_kernel 3)"),
          "conv file into a learned model: %s", e.msg);
    bert_free(&m2);
    /* a learned model's file says so; an unknown kind and a conv file without its kernel */
    CHECK(bert_init(&m2, &tiny, B, N, 0, &e) == ST_OK, "init learned 2");
    path_of(p2, sizeof p2, "learned.h5");
    CHECK(bert_save(&m2, p2, NULL, &e) == ST_OK, "save learned");
    CHECK(store_open(&st, p2, "drrl-model", 1, 1, &e) == ST_OK, "open learned");
    CHECK(store_get_attr_str(st, "/", "position", pos, sizeof pos, &e) == ST_OK &&
              !strcmp(pos, "learned") && !store_exists(st, "/bert/embeddings/position_conv/weight"),
          "learned file: position '%s'", pos);
    store_close(st);
    path_of(p2, sizeof p2, "rotary.h5");
    CHECK(write_custom_pos(&m2, p2, -1, -1, "rotary", &e) == ST_OK, "write rotary: %s", e.msg);
    CHECK(bert_read_config(p2, &c, &e) == ST_FORMAT &&
              strstr(e.msg, "position: expected 'learned' or 'conv', found 'rotary'"),
          "unknown position kind: %s", e.msg);
    path_of(p2, sizeof p2, "nokernel.h5");
    CHECK(write_custom_pos(&m, p2, -1, -1, "conv", &e) == ST_OK, "write no kernel: %s", e.msg);
    CHECK(bert_read_config(p2, &c, &e) != ST_OK && strstr(e.msg, "conv_kernel"),
          "conv without conv_kernel: %s", e.msg);
    bert_free(&m2);
    bert_free(&m);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", "/tmp/drrl_bert_io_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_errors();
    test_conv();
    int rc = check_exit("test_bert_io");
    if (rc == 0) {
        const char *files[] = {"model.h5", "bare.h5", "missing.h5", "shape.h5", "heads.h5",
                               "other.h5", "conv.h5", "learned.h5", "rotary.h5",
                               "nokernel.h5"};
        char p[512];
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            path_of(p, sizeof p, files[i]);
            unlink(p);
        }
        rmdir(dir);
    }
    return rc;
}
