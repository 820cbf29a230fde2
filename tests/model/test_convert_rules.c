/* test_convert_rules.c: the rules of drrl-convert bert (model/convert_bert.c) on checkpoints
 * this test writes itself (tests/model/safet_write.h) from a randomly initialised drrl BERT
 * (vocab 50, d_model 16, 2 heads, d_ff 24, 2 layers, 3 classes), no Python needed:
 *   layouts that convert, every tensor bit-identical to the source's after bert_load:
 *     BertForSequenceClassification keys; the same with --n-classes equal to the
 *     classifier's; 'module.' prefixes with LayerNorm gamma/beta; BertModel keys (no
 *     'bert.', no classifier) with a position_ids buffer and a cls.* head, ignored with one
 *     note each, and the classifier initialised from --seed: bias 0, weight exactly
 *     0.02 * core/rng's normal draws of (seed, stream 0) in row-major order (initializer_range
 *     of config.json), the note saying so; another seed gives another classifier;
 *   each error with its whole message and no output file: a missing tensor, a wrong shape, an
 *   unknown key, fewer and more layers in config.json than in the file, two keys standing for
 *   one tensor, NaN and a value beyond float32's range, an integer dtype, BertModel keys
 *   without --n-classes, classifier.bias without its weight, --n-classes or id2label not
 *   matching the classifier, and config.json's own errors (hidden_act, model_type,
 *   position_embedding_type, a missing key, heads not dividing hidden_size);
 *   the shared layer alone (model/convert.h, as a next architecture would use it): a matrix
 *   stored (in, out) read transposed into (out, in), the shape messages of both readings, the
 *   unknown-key list, dropped keys and their note. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "model/bert.h"
#include "model/bert_io.h"
#include "model/convert.h"
#include "tests/check.h"
#include "tests/model/safet_write.h"

#define NAME "test_convert_rules"

static char dir[] = "/tmp/drrl_convert_rules_XXXXXX";
static Bert src; /* the weights every checkpoint is written from */

static const char *at(const char *file) {
    static char buf[32][600]; /* a ring: up to 32 paths in use at once */
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, file);
    return buf[k];
}

/* Variant: how a checkpoint differs from the plain BertForSequenceClassification F32 one */
typedef struct {
    int bare;              /* BertModel keys: no "bert." prefix, no classifier.* */
    int module;            /* "module." before every key, LayerNorm gamma/beta */
    int buffers;           /* a position_ids buffer (I64) and a cls.* head */
    int no_cls_weight;     /* classifier.bias without classifier.weight */
    const char *drop;      /* a tensor left out */
    const char *extra;     /* an extra F32 tensor of shape [4] */
    const char *transpose; /* a matrix written transposed */
    const char *as_i32;    /* a tensor written as I32 */
    const char *bad;       /* a tensor whose element 5 is bad_value */
    double bad_value;      /* NaN, or a double beyond float's range (then written as F64) */
} Variant;

/* key_of: the file's key for a canonical name under the variant */
static void key_of(const Variant *v, const char *name, char *key, size_t cap) {
    const char *n = v->bare && !strncmp(name, "bert.", 5) ? name + 5 : name;
    snprintf(key, cap, "%s%s", v->module ? "module." : "", n);
    size_t m = strlen(key);
    if (v->module && m > 16 && !strcmp(key + m - 16, "LayerNorm.weight"))
        snprintf(key + m - 6, cap - (m - 6), "gamma");
    else if (v->module && m > 14 && !strcmp(key + m - 14, "LayerNorm.bias"))
        snprintf(key + m - 4, cap - (m - 4), "beta");
}

/* add_tensor: one table tensor under the variant's modifications */
static void add_tensor(SafetW *w, const Variant *v, const BertTensor *t) {
    char key[300];
    key_of(v, t->name, key, sizeof key);
    int64_t sh[2] = {t->dims[0], t->ndim == 2 ? t->dims[1] : 0};
    if (v->transpose && !strcmp(t->name, v->transpose)) sh[0] = t->dims[1], sh[1] = t->dims[0];
    if (v->as_i32 && !strcmp(t->name, v->as_i32)) {
        int32_t *q = calloc(t->count, 4);
        CHECK(q && !sw_add(w, key, "I32", t->ndim, sh, q, 4 * t->count), "I32 tensor");
        free(q);
    } else if (v->bad && !strcmp(t->name, v->bad)) {
        unsigned char *d = malloc(8 * t->count); /* F64, little-endian */
        for (size_t i = 0; d && i < t->count; i++) {
            double x = i == 5 ? v->bad_value : (double)t->param[i];
            uint64_t u;
            memcpy(&u, &x, 8);
            for (int k = 0; k < 8; k++) d[8 * i + (size_t)k] = (unsigned char)(u >> 8 * k);
        }
        CHECK(d && !sw_add(w, key, "F64", t->ndim, sh, d, 8 * t->count), "F64 tensor");
        free(d);
    } else {
        CHECK(!sw_add_f32(w, key, t->ndim, sh, t->param), "F32 tensor");
    }
}

static void write_ckpt(const char *path, const Variant *v) {
    SafetW *w = calloc(1, sizeof *w);
    if (!w) {
        CHECK(0, "out of memory");
        return;
    }
    for (int i = 0; i < src.n_tensors; i++) {
        const BertTensor *t = &src.tensor[i];
        if ((v->bare && !strncmp(t->name, "classifier.", 11)) ||
            (v->drop && !strcmp(t->name, v->drop)) ||
            (v->no_cls_weight && !strcmp(t->name, "classifier.weight")))
            continue;
        add_tensor(w, v, t);
    }
    int64_t pos[2] = {1, 16}, vocab[1] = {50}, four[1] = {4};
    int64_t ids[16];
    float zeros[64] = {0};
    for (int i = 0; i < 16; i++) ids[i] = i;
    if (v->buffers) {
        CHECK(!sw_add(w, v->bare ? "embeddings.position_ids" : "bert.embeddings.position_ids",
                      "I64", 2, pos, ids, sizeof ids), "position_ids");
        CHECK(!sw_add_f32(w, "cls.predictions.bias", 1, vocab, zeros), "cls head");
    }
    if (v->extra) CHECK(!sw_add_f32(w, v->extra, 1, four, zeros), "extra");
    CHECK(sw_write(w, path) == 0, "writing %s", path);
    sw_free(w);
    free(w);
}

typedef struct {
    const char *model_type, *act, *pos, *extra;
    int heads, layers;
} Cfg;

static const Cfg CFG0 = {"bert", "gelu", "absolute", "", 2, 2};

/* write_config: one line of JSON with Hugging Face's keys */
static void write_config(const char *path, const Cfg *c) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "writing %s", path);
    if (!f) return;
    fprintf(f, "{\"model_type\": \"%s\", \"vocab_size\": 50, \"hidden_size\": 16, "
            "\"num_attention_heads\": %d, \"intermediate_size\": 24, \"num_hidden_layers\": %d, "
            "\"max_position_embeddings\": 16, \"type_vocab_size\": 2, \"hidden_act\": \"%s\", "
            "\"layer_norm_eps\": 1e-12, \"hidden_dropout_prob\": 0.1, "
            "\"attention_probs_dropout_prob\": 0.1, \"position_embedding_type\": \"%s\", "
            "\"initializer_range\": 0.02, \"classifier_dropout\": null%s}\n",
            c->model_type, c->heads, c->layers, c->act, c->pos, c->extra);
    fclose(f);
}

/* conv: convert_bert with notes into notes.txt */
static Status conv(const char *cfg, const char *w, const char *out, int k, uint64_t seed,
                   Err *e) {
    FILE *notes = fopen(at("notes.txt"), "w");
    ConvertOpts o = {.config = cfg, .weights = w, .out = out, .n_classes = k, .seed = seed,
                     .note = notes};
    ConvertResult r;
    err_clear(e);
    Status s = convert_bert(&o, &r, e);
    if (notes) fclose(notes);
    return s;
}

static char *notes(void) {
    static char buf[4096];
    FILE *f = fopen(at("notes.txt"), "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
    return buf;
}

/* load_same: the model file's tensors equal src's bit for bit (classifier too unless init) */
static void load_same(const char *path, int init, Bert *m) {
    Err e;
    BertConfig c;
    int ok = bert_read_config(path, &c, &e) == ST_OK && bert_init(m, &c, 1, 1, 0, &e) == ST_OK &&
             bert_load(m, path, NULL, &e) == ST_OK;
    CHECK(ok, "loading %s: %s", path, e.msg);
    if (!ok) return;
    CHECK(m->n_tensors == src.n_tensors, "tensor count");
    for (int i = 0; i < m->n_tensors && i < src.n_tensors; i++) {
        const BertTensor *t = &m->tensor[i];
        if (init && !strncmp(t->name, "classifier.", 11)) continue;
        CHECK(!memcmp(t->param, src.tensor[i].param, 4 * t->count), "%s: %s differs", path,
              t->name);
    }
}

static void test_layouts(void) {
    Err e;
    Bert *m = calloc(1, sizeof *m);
    if (!m) return;
    write_config(at("config.json"), &CFG0);
    write_ckpt(at("plain.safetensors"), &(Variant){0});
    CHECK(conv(at("config.json"), at("plain.safetensors"), at("plain.h5"), 0, 1, &e) == ST_OK,
          "plain: %s", e.msg);
    CHECK(!strcmp(notes(), ""), "plain: no notes, found %s", notes());
    load_same(at("plain.h5"), 0, m);
    bert_free(m);
    CHECK(conv(at("config.json"), at("plain.safetensors"), at("plain.h5"), 3, 1, &e) == ST_OK,
          "--n-classes equal to the classifier's: %s", e.msg);
    write_ckpt(at("module.safetensors"), &(Variant){.module = 1});
    CHECK(conv(at("config.json"), at("module.safetensors"), at("module.h5"), 0, 1, &e) == ST_OK,
          "module./gamma/beta: %s", e.msg);
    load_same(at("module.h5"), 0, m);
    bert_free(m);
    /* BertModel: the classifier initialised from the seed */
    write_ckpt(at("bare.safetensors"), &(Variant){.bare = 1, .buffers = 1});
    CHECK(conv(at("config.json"), at("bare.safetensors"), at("bare.h5"), 3, 7, &e) == ST_OK,
          "BertModel: %s", e.msg);
    char want[2048];
    snprintf(want, sizeof want, "drrl-convert: note: %s: ignoring 1 tensor (pre-training heads, "
             "cls.*)\ndrrl-convert: note: %s: ignoring 1 tensor (position_ids buffers)\n"
             "drrl-convert: note: %s has no classifier (a BertModel checkpoint): "
             "classifier.weight (3, 16) initialised N(0, 0.02^2) from seed 7, classifier.bias "
             "0, as BERT initialises it; train it before use\n", at("bare.safetensors"),
             at("bare.safetensors"), at("bare.safetensors"));
    CHECK(!strcmp(notes(), want), "BertModel notes:\n  got:  %s  want: %s", notes(), want);
    load_same(at("bare.h5"), 1, m);
    Rng rng;
    rng_init(&rng, 7, 0);
    int wrong = 0;
    for (int i = 0; m->p.cls_w && i < 3 * 16; i++)
        wrong += m->p.cls_w[i] != (float)(0.02 * rng_normal(&rng));
    for (int i = 0; m->p.cls_b && i < 3; i++) wrong += m->p.cls_b[i] != 0;
    CHECK(m->p.cls_w && wrong == 0, "classifier: 0.02 x normal draws of seed 7, bias 0 (%d "
          "differ)", wrong);
    float w7 = m->p.cls_w ? m->p.cls_w[0] : 0;
    bert_free(m);
    CHECK(conv(at("config.json"), at("bare.safetensors"), at("bare8.h5"), 3, 8, &e) == ST_OK,
          "seed 8: %s", e.msg);
    load_same(at("bare8.h5"), 1, m);
    CHECK(m->p.cls_w && m->p.cls_w[0] != w7, "another seed, another classifier");
    bert_free(m);
    free(m);
}

/* fails: the conversion fails with status s and message want; no output file */
static void fails(const char *cfg, const char *w, int k, Status s, const char *want) {
    Err e;
    unlink(at("fail.h5"));
    Status got = conv(cfg, w, at("fail.h5"), k, 1, &e);
    CHECK(got == s && !strcmp(e.msg, want), "%s: status %d (want %d)\n  got:  %s\n  want: %s",
          w, (int)got, (int)s, e.msg, want);
    CHECK(access(at("fail.h5"), F_OK) != 0, "no output file after a failure");
}

/* ckpt_fails: a checkpoint of variant v with the default config; "{}" in msg stands for the
   checkpoint's path */
static void ckpt_fails(const Variant *v, int k, Status s, const char *msg) {
    char want[2048];
    const char *path = at("v.safetensors"), *hole = strstr(msg, "{}");
    write_ckpt(path, v);
    snprintf(want, sizeof want, "%.*s%s%s", hole ? (int)(hole - msg) : (int)strlen(msg), msg,
             hole ? path : "", hole ? hole + 2 : "");
    fails(at("config.json"), path, k, s, want);
}

static void test_weight_errors(void) {
    write_config(at("config.json"), &CFG0);
    ckpt_fails(&(Variant){.drop = "bert.pooler.dense.bias"}, 0, ST_MISSING,
               "{}: tensor 'bert.pooler.dense.bias': expected one of shape [16], found none in "
               "the file");
    ckpt_fails(&(Variant){.transpose = "bert.encoder.layer.1.intermediate.dense.weight"}, 0,
               ST_SHAPE, "{}: tensor 'bert.encoder.layer.1.intermediate.dense.weight': expected "
               "shape [24, 16], found [16, 24]");
    ckpt_fails(&(Variant){.extra = "bert.embeddings.extra.weight"}, 0, ST_FORMAT,
               "{}: expected only the tensors of a BERT classifier of 2 layers (the config's "
               "num_hidden_layers), found 1 more: 'bert.embeddings.extra.weight'");
    ckpt_fails(&(Variant){.module = 1, .extra = "embeddings.LayerNorm.gamma"}, 0, ST_FORMAT,
               "{}: tensors 'embeddings.LayerNorm.gamma' and 'module.bert.embeddings."
               "LayerNorm.gamma': expected one tensor per name, found both standing for "
               "'bert.embeddings.LayerNorm.weight'");
    ckpt_fails(&(Variant){.bad = "bert.encoder.layer.0.output.dense.bias", .bad_value = NAN}, 0,
               ST_NUMERIC, "{}: tensor 'bert.encoder.layer.0.output.dense.bias': element 5: "
               "expected a finite value (as float32), found nan");
    ckpt_fails(&(Variant){.module = 1, .bad = "bert.embeddings.LayerNorm.weight",
                          .bad_value = 1e300}, 0, ST_NUMERIC,
               "{}: tensor 'module.bert.embeddings.LayerNorm.gamma' (bert.embeddings."
               "LayerNorm.weight): element 5: expected a finite value (as float32), found inf");
    ckpt_fails(&(Variant){.as_i32 = "bert.pooler.dense.bias"}, 0, ST_SHAPE,
               "{}: tensor 'bert.pooler.dense.bias': expected a floating-point dtype (F32, F16, "
               "BF16 or F64), found I32");
    ckpt_fails(&(Variant){.bare = 1}, 0, ST_MISSING, "{}: classifier.weight: expected a "
               "classifier (BertForSequenceClassification) or --n-classes K to initialise one "
               "(BertModel), found neither");
    ckpt_fails(&(Variant){.no_cls_weight = 1}, 0, ST_MISSING, "{}: tensor 'classifier.weight': "
               "expected one beside classifier.bias, found none in the file");
    ckpt_fails(&(Variant){0}, 4, ST_CONFIG, "--n-classes: expected the classifier's 3 classes "
               "({}), found 4");
}

static void test_config_errors(void) {
    char want[2048], cfg[600];
    write_ckpt(at("plain.safetensors"), &(Variant){0});
    snprintf(cfg, sizeof cfg, "%s", at("c.json"));
    Cfg c = CFG0;
    c.layers = 1;
    write_config(cfg, &c);
    Err e;
    CHECK(conv(cfg, at("plain.safetensors"), at("fail.h5"), 0, 1, &e) == ST_FORMAT &&
              strstr(e.msg, "expected only the tensors of a BERT classifier of 1 layers (the "
                            "config's num_hidden_layers), found 16 more: "
                            "'bert.encoder.layer.1.attention.output.LayerNorm.bias', ") &&
              !strcmp(e.msg + strlen(e.msg) - 5, ", ..."),
          "fewer layers in config.json: %s", e.msg);
    c.layers = 3;
    write_config(cfg, &c);
    snprintf(want, sizeof want, "%s: tensor 'bert.encoder.layer.2.attention.self.query.weight': "
             "expected one of shape [16, 16], found none in the file", at("plain.safetensors"));
    fails(cfg, at("plain.safetensors"), 0, ST_MISSING, want);
    c = CFG0, c.extra = ", \"id2label\": {\"0\": \"no\", \"1\": \"yes\"}";
    write_config(cfg, &c);
    snprintf(want, sizeof want, "%s: num_labels/id2label: expected 3 classes (%s), found 2", cfg,
             at("plain.safetensors"));
    fails(cfg, at("plain.safetensors"), 0, ST_CONFIG, want);
    write_ckpt(at("bare.safetensors"), &(Variant){.bare = 1});
    CHECK(conv(cfg, at("bare.safetensors"), at("bare.h5"), 3, 1, &e) == ST_OK,
          "a new classifier is not compared with config.json's labels: %s", e.msg);
    struct { Cfg c; const char *key, *at; Status s; const char *msg; } bad[] = {
        {{"bert", "relu", "absolute", "", 2, 2}, "hidden_act", "\"relu", ST_CONFIG,
         "expected 'gelu', 'gelu_new' or 'gelu_pytorch_tanh' (the GELUs drrl computes), found "
         "'relu'"},
        {{"roberta", "gelu", "absolute", "", 2, 2}, "model_type", "\"roberta", ST_CONFIG,
         "expected 'bert', found 'roberta'"},
        {{"bert", "gelu", "relative_key", "", 2, 2}, "position_embedding_type", "\"relative_key",
         ST_CONFIG, "expected 'absolute' (learned absolute positions), found 'relative_key'"},
        {{"bert", "gelu", "absolute", ", \"num_labels\": 3.5", 2, 2}, "num_labels", "3.5",
         ST_FORMAT, "expected an integer in [1, 1048576], found 3.5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_config(cfg, &bad[i].c);
        char text[2048] = "";
        FILE *f = fopen(cfg, "r");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        text[n] = '\0';
        if (f) fclose(f);
        const char *p = strstr(text, bad[i].at);
        snprintf(want, sizeof want, "%s:1:%d: %s: %s", cfg, p ? (int)(p - text) + 1 : -1,
                 bad[i].key, bad[i].msg);
        fails(cfg, at("plain.safetensors"), 0, bad[i].s, want);
    }
    c = CFG0, c.heads = 3;
    write_config(cfg, &c);
    snprintf(want, sizeof want, "%s: num_attention_heads: expected a divisor of hidden_size "
             "(16), found 3", cfg);
    fails(cfg, at("plain.safetensors"), 0, ST_CONFIG, want);
    FILE *f = fopen(cfg, "w");
    if (f) fputs("{\"vocab_size\": 50}", f), fclose(f);
    snprintf(want, sizeof want, "%s:1:1: max_position_embeddings: expected a member of the "
             "object, found none", cfg);
    fails(cfg, at("plain.safetensors"), 0, ST_MISSING, want);
}

/* rename_test: the identity, dropping "buf.*" */
static int rename_test(const char *key, char *out, size_t cap, const char **why) {
    if (!strncmp(key, "buf.", 4)) {
        *why = "test buffers";
        return 0;
    }
    snprintf(out, cap, "%s", key);
    return 1;
}

/* test_source_layer: model/convert.h alone, as another architecture would use it: a matrix
   stored (in, out) read transposed, its shape message, the unknown-key list, the notes */
static void test_source_layer(void) {
    SafetW *w = calloc(1, sizeof *w);
    if (!w) return;
    float m[6] = {1, 2, 3, 4, 5, 6}, b[3] = {7, 8, 9}, z[1] = {0};
    int64_t in_out[2] = {2, 3}, three[1] = {3}, one[1] = {1};
    CHECK(!sw_add_f32(w, "w", 2, in_out, m) && !sw_add_f32(w, "b", 1, three, b) &&
              !sw_add_f32(w, "buf.x", 1, one, z) && !sw_add_f32(w, "buf.y", 1, one, z) &&
              !sw_add_f32(w, "left", 1, one, z) && sw_write(w, at("layer.safetensors")) == 0,
          "writing layer.safetensors");
    sw_free(w);
    free(w);
    ConvertSource s;
    Err e;
    CHECK(convert_source_open(&s, at("layer.safetensors"), rename_test, &e) == ST_OK, "%s", e.msg);
    int64_t out_in[2] = {3, 2};
    float t[6] = {0};
    CHECK(convert_take(&s, "w", 2, out_in, 1, t, &e) == ST_OK, "transposed take: %s", e.msg);
    CHECK(t[0] == 1 && t[1] == 4 && t[2] == 2 && t[3] == 5 && t[4] == 3 && t[5] == 6,
          "(out, in) from (in, out): %g %g %g %g %g %g", (double)t[0], (double)t[1],
          (double)t[2], (double)t[3], (double)t[4], (double)t[5]);
    char want[1024];
    snprintf(want, sizeof want, "%s: tensor 'w': expected shape [3, 2], found [2, 3]",
             at("layer.safetensors"));
    CHECK(convert_check(&s, "w", 2, out_in, 0, &e) == ST_SHAPE && !strcmp(e.msg, want),
          "untransposed check: %s", e.msg);
    snprintf(want, sizeof want, "%s: tensor 'w': expected shape [3, 2] (stored (in, out)), "
             "found [2, 3]", at("layer.safetensors"));
    CHECK(convert_check(&s, "w", 2, in_out, 1, &e) == ST_SHAPE && !strcmp(e.msg, want),
          "transposed check: %s", e.msg);
    CHECK(convert_take(&s, "b", 1, three, 1, t, &e) == ST_OK && t[2] == 9, "1-D, transpose "
          "ignored: %s", e.msg);
    snprintf(want, sizeof want, "%s: expected only the tensors of a test, found 1 more: 'left'",
             at("layer.safetensors"));
    CHECK(convert_unused(&s, "a test", &e) == ST_FORMAT && !strcmp(e.msg, want), "unused: %s",
          e.msg);
    CHECK(!convert_find(&s, "buf.x") && convert_find(&s, "left"), "dropped keys are not found");
    FILE *f = fopen(at("notes.txt"), "w");
    convert_notes(&s, f, "prog");
    if (f) fclose(f);
    snprintf(want, sizeof want, "prog: note: %s: ignoring 2 tensors (test buffers)\n",
             at("layer.safetensors"));
    CHECK(!strcmp(notes(), want), "notes: %s", notes());
    convert_source_close(&s);
    unlink(at("layer.safetensors"));
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    BertConfig c = {.vocab = 50, .max_pos = 16, .type_vocab = 2, .d_model = 16, .n_heads = 2,
                    .d_ff = 24, .n_layers = 2, .n_classes = 3, .ln_eps = 1e-12f,
                    .dropout = 0.1f, .attn_dropout = 0.1f};
    Err e;
    CHECK(bert_init(&src, &c, 1, 1, 0, &e) == ST_OK, "init: %s", e.msg);
    Rng rng;
    rng_init(&rng, 11, 0);
    bert_init_weights(&src, &rng);
    test_layouts();
    test_weight_errors();
    test_config_errors();
    test_source_layer();
    bert_free(&src);
    int ret = check_exit(NAME);
    if (ret == 0) {
        const char *files[] = {"config.json", "c.json", "plain.safetensors", "plain.h5",
                               "module.safetensors", "module.h5", "bare.safetensors", "bare.h5",
                               "bare8.h5", "v.safetensors", "notes.txt", "fail.h5"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(at(files[i]));
        rmdir(dir);
    }
    return ret;
}
