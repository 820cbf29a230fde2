/* convert_bert.c: `drrl-convert bert`: a Hugging Face BERT checkpoint (config.json and
 * model.safetensors) into a drrl model file (model/bert_io.h), with the rules of
 * scripts/convert_bert.py (which converts a torch state_dict instead):
 *   keys: BertForSequenceClassification's (bert.embeddings.*, bert.encoder.layer.<i>.*,
 *     bert.pooler.dense.*, classifier.*) or BertModel's (the same without 'bert.', no
 *     classifier); a 'module.' prefix is dropped, LayerNorm.gamma/beta read as weight/bias;
 *     position_ids buffers and pre-training heads (cls.*) are ignored with a note; any other
 *     key, a missing tensor or a shape the config does not imply is an error naming it.
 *   config.json: vocab_size, hidden_size, num_attention_heads, intermediate_size,
 *     num_hidden_layers, max_position_embeddings, type_vocab_size (required);
 *     layer_norm_eps (1e-12), hidden_dropout_prob (0.1), attention_probs_dropout_prob (0.1),
 *     initializer_range (0.02) with Hugging Face's defaults when absent; hidden_act "gelu" (the
 *     exact erf form) or "gelu_new" / "gelu_pytorch_tanh" (its tanh form), others refused,
 *     position_embedding_type "absolute", model_type "bert" when present; the class count
 *     from num_labels or id2label (which must agree) when present.
 *   classes: K = classifier.weight's rows when the checkpoint has a classifier (--n-classes
 *     and config.json must agree with it); without one (BertModel) --n-classes K is required
 *     (config.json's labels, if any, belong to no head and are not compared) and the
 *     classifier is initialised as BERT does: weight N(0, initializer_range^2) from --seed
 *     (core/rng.h, stream 0, row-major draws), bias 0, said in a note.
 * Every name and shape is checked before any weight is read; weights are read tensor by
 * tensor into the model's parameters and written with bert_save (atomic). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/rng.h"
#include "model/bert.h"
#include "model/bert_io.h"
#include "model/convert.h"

#define PROG "drrl-convert"

typedef struct {
    BertConfig c;
    int k_config;     /* classes named by config.json (num_labels, id2label); 0: none */
    double init_std;  /* initializer_range */
} HfBert;

/* bert_rename: the ConvertRename of BERT checkpoints (see the opening comment) */
static int bert_rename(const char *key, char *out, size_t cap, const char **why) {
    const char *k = strncmp(key, "module.", 7) ? key : key + 7;
    size_t n = strlen(k);
    if (n >= 12 && !strcmp(k + n - 12, "position_ids")) {
        *why = "position_ids buffers";
        return 0;
    }
    if (!strncmp(k, "cls.", 4)) {
        *why = "pre-training heads, cls.*";
        return 0;
    }
    int bare = !strncmp(k, "embeddings.", 11) || !strncmp(k, "encoder.", 8) ||
               !strncmp(k, "pooler.", 7);
    snprintf(out, cap, "%s%s", bare ? "bert." : "", k);
    size_t m = strlen(out);
    if (m >= 15 && !strcmp(out + m - 15, "LayerNorm.gamma")) snprintf(out + m - 5, cap - (m - 5), "weight");
    else if (m >= 14 && !strcmp(out + m - 14, "LayerNorm.beta")) snprintf(out + m - 4, cap - (m - 4), "bias");
    return 1;
}

/* want_string: key, when present, must be the string want (def when absent) */
static Status want_string(const JsonDoc *d, const JsonValue *r, const char *key,
                          const char *want, const char *why, Err *e) {
    const char *s = want;
    Status st = json_opt_string(d, r, key, &s, e);
    if (st || !strcmp(s, want)) return st;
    const JsonValue *v = json_find(r, key);
    return err_set(e, ST_CONFIG, "%s:%d:%d: %s: expected '%s'%s, found '%.100s'", json_name(d),
                   v->line, v->col, key, want, why, s);
}

/* config_classes: num_labels and id2label (their count), which must agree */
static Status config_classes(const JsonDoc *d, const JsonValue *r, int *k, Err *e) {
    int64_t nl = 0;
    Status st = json_opt_int(d, r, "num_labels", 1, CONVERT_MAX_CLASSES, &nl, e);
    const JsonValue *map = json_find(r, "id2label");
    if (!st && map && map->type != JSON_NULL) {
        st = json_expect(d, map, "id2label", JSON_OBJECT, e);
        if (!st && (map->u.obj.n < 1 || (nl && (int64_t)map->u.obj.n != nl)))
            st = err_set(e, ST_CONFIG, "%s:%d:%d: id2label: expected %s labels, found %zu",
                         json_name(d), map->line, map->col, nl ? "num_labels'" : "at least 1",
                         map->u.obj.n);
        if (!st) nl = (int64_t)map->u.obj.n;
    }
    *k = (int)nl;
    return st;
}

/* read_config: config.json into h (everything but n_classes, which the weights decide) */
static Status read_config(const JsonDoc *d, HfBert *h, Err *e) {
    static const char *const keys[7] = {"vocab_size", "max_position_embeddings",
                                        "type_vocab_size", "hidden_size", "num_attention_heads",
                                        "intermediate_size", "num_hidden_layers"};
    const JsonValue *r = json_root(d);
    int64_t v[7];
    double eps = 1e-12, hd = 0.1, ad = 0.1;
    h->init_std = 0.02;
    Status st = json_expect(d, r, "the config", JSON_OBJECT, e);
    if (!st) st = want_string(d, r, "model_type", "bert", "", e);
    for (int i = 0; i < 7 && !st; i++)
        st = json_get_int(d, r, keys[i], 1, i == 6 ? BERT_MAX_LAYERS : INT32_MAX, &v[i], e);
    if (!st) st = json_opt_double(d, r, "layer_norm_eps", 1e-30, 0.5, &eps, e);
    if (!st) st = json_opt_double(d, r, "hidden_dropout_prob", 0, 0.999, &hd, e);
    if (!st) st = json_opt_double(d, r, "attention_probs_dropout_prob", 0, 0.999, &ad, e);
    if (!st) st = json_opt_double(d, r, "initializer_range", 1e-30, 10, &h->init_std, e);
    const char *act = "gelu";
    if (!st) st = json_opt_string(d, r, "hidden_act", &act, e);
    const int tanh_act = !st && (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh"));
    if (!st && !tanh_act && strcmp(act, "gelu")) {
        const JsonValue *ha = json_find(r, "hidden_act");
        st = err_set(e, ST_CONFIG, "%s:%d:%d: hidden_act: expected 'gelu', 'gelu_new' or "
                     "'gelu_pytorch_tanh' (the GELUs drrl computes), found '%.100s'",
                     json_name(d), ha->line, ha->col, act);
    }
    if (!st) st = want_string(d, r, "position_embedding_type", "absolute", " (learned absolute "
                              "positions)", e);
    if (!st) st = config_classes(d, r, &h->k_config, e);
    if (!st && v[3] % v[4])
        st = err_set(e, ST_CONFIG, "%s: num_attention_heads: expected a divisor of hidden_size "
                     "(%" PRId64 "), found %" PRId64, json_name(d), v[3], v[4]);
    if (st) return st;
    BertConfig *c = &h->c;
    memset(c, 0, sizeof *c);
    c->vocab = (int)v[0], c->max_pos = (int)v[1], c->type_vocab = (int)v[2];
    c->d_model = (int)v[3], c->n_heads = (int)v[4], c->d_ff = (int)v[5], c->n_layers = (int)v[6];
    c->ln_eps = (float)eps, c->dropout = (float)hd, c->attn_dropout = (float)ad;
    c->position = BERT_POS_LEARNED;
    c->act = tanh_act ? BERT_ACT_GELU_TANH : BERT_ACT_GELU;
    return ST_OK;
}

/* classes: K from the classifier, --n-classes and the config, which must agree; *init = 1
   when the checkpoint has no classifier (BertModel) */
static Status classes(const ConvertSource *s, const HfBert *h, const ConvertOpts *o, int *k,
                      int *init, Err *e) {
    const SafetTensor *w = convert_find(s, "classifier.weight");
    const char *path = safet_path(s->st);
    *init = !w && !convert_find(s, "classifier.bias");
    if (w && (w->ndim != 2 || w->shape[0] < 1 || w->shape[0] > CONVERT_MAX_CLASSES))
        return err_set(e, ST_SHAPE, "%s: tensor '%s': expected a (n_classes, hidden_size) matrix "
                       "with 1 to %d rows, found %d dimensions, %" PRId64 " rows", path, w->name,
                       CONVERT_MAX_CLASSES, w->ndim, w->ndim ? w->shape[0] : 0);
    if (!w && !*init)
        return err_set(e, ST_MISSING, "%s: tensor 'classifier.weight': expected one beside "
                       "classifier.bias, found none in the file", path);
    if (*init && !o->n_classes)
        return err_set(e, ST_MISSING, "%s: classifier.weight: expected a classifier "
                       "(BertForSequenceClassification) or --n-classes K to initialise one "
                       "(BertModel), found neither", path);
    *k = w ? (int)w->shape[0] : o->n_classes;
    if (o->n_classes && o->n_classes != *k)
        return err_set(e, ST_CONFIG, "--n-classes: expected the classifier's %d classes (%s), "
                       "found %d", *k, path, o->n_classes);
    if (w && h->k_config && h->k_config != *k) /* (a new classifier has no labels yet) */
        return err_set(e, ST_CONFIG, "%s: num_labels/id2label: expected %d classes (%s), found "
                       "%d", o->config, *k, path, h->k_config);
    return ST_OK;
}

/* transfer: every tensor of m (but an initialised classifier) checked, then read */
static Status transfer(ConvertSource *s, Bert *m, int init, Err *e) {
    Status st = ST_OK;
    for (int pass = 0; pass < 2 && !st; pass++) {
        for (int i = 0; i < m->n_tensors && !st; i++) {
            const BertTensor *t = &m->tensor[i];
            if (init && !strncmp(t->name, "classifier.", 11)) continue;
            st = pass ? convert_take(s, t->name, t->ndim, t->dims, 0, t->param, e)
                      : convert_check(s, t->name, t->ndim, t->dims, 0, e);
        }
        if (!st && !pass) {
            char what[96];
            snprintf(what, sizeof what, "a BERT classifier of %d layers (the config's "
                     "num_hidden_layers)", m->c.n_layers);
            st = convert_unused(s, what, e);
        }
    }
    return st;
}

/* init_classifier: BERT's initialisation of a new classifier */
static void init_classifier(Bert *m, double std, uint64_t seed) {
    Rng rng;
    rng_init(&rng, seed, 0);
    size_t n = (size_t)m->c.n_classes * (size_t)m->c.d_model;
    for (size_t i = 0; i < n; i++) m->p.cls_w[i] = (float)(std * rng_normal(&rng));
    memset(m->p.cls_b, 0, sizeof(float) * (size_t)m->c.n_classes);
}

Status convert_bert(const ConvertOpts *o, ConvertResult *r, Err *e) {
    memset(r, 0, sizeof *r);
    HfBert h;
    JsonDoc *d = NULL;
    ConvertSource src;
    memset(&src, 0, sizeof src);
    Bert *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ST_NOMEM, "out of memory");
    int k = 0, init = 0;
    Status st = json_parse_file(&d, o->config, e);
    if (!st) st = read_config(d, &h, e);
    json_free(d);
    if (!st) st = convert_source_open(&src, o->weights, bert_rename, e);
    if (!st) st = classes(&src, &h, o, &k, &init, e);
    h.c.n_classes = k;
    if (!st && (st = bert_init(m, &h.c, 1, 1, 0, e))) err_prefix(e, "%s", o->config);
    if (!st) st = transfer(&src, m, init, e);
    if (!st) convert_notes(&src, o->note, PROG);
    if (!st && init) {
        init_classifier(m, h.init_std, o->seed);
        if (o->note)
            fprintf(o->note, "%s: note: %s has no classifier (a BertModel checkpoint): "
                    "classifier.weight (%d, %d) initialised N(0, %g^2) from seed %" PRIu64
                    ", classifier.bias 0, as BERT initialises it; train it before use\n", PROG,
                    o->weights, k, h.c.d_model, h.init_std, o->seed);
    }
    if (!st) st = convert_save(m, o, "bert", e);
    if (!st) {
        const BertConfig *c = &m->c;
        snprintf(r->summary, sizeof r->summary, "BERT vocab %d, max_pos %d, type_vocab %d, "
                 "d_model %d, n_heads %d, d_ff %d, n_layers %d, n_classes %d, ln_eps %g",
                 c->vocab, c->max_pos, c->type_vocab, c->d_model, c->n_heads, c->d_ff,
                 c->n_layers, c->n_classes, (double)c->ln_eps);
        r->n_params = m->n_params, r->initialised = init ? 2 : 0;
    }
    convert_source_close(&src);
    bert_free(m);
    free(m);
    return st;
}
