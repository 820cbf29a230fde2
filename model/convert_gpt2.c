/* convert_gpt2.c: `drrl-convert gpt2`: a Hugging Face GPT-2 checkpoint (config.json and
 * model.safetensors) into a drrl decoder model file (model/lm.h, model/bert_io.h):
 *   keys: GPT2Model's (wte.weight, wpe.weight, h.<i>.{ln_1, attn.c_attn, attn.c_proj, ln_2,
 *     mlp.c_fc, mlp.c_proj}.{weight,bias}, ln_f.*) or GPT2LMHeadModel's (the same under
 *     'transformer.', plus lm_head.weight, which GPT-2 ties to wte: ignored with a note); the
 *     causal-mask buffers h.<i>.attn.bias and h.<i>.attn.masked_bias of older checkpoints are
 *     ignored with a note; any other key, a missing tensor or a shape the config does not
 *     imply is an error naming it. Conv1D weights are stored (in, out) and read transposed;
 *     c_attn's (C, 3C) is split into the q, k, v projections (columns [0, C), [C, 2C),
 *     [2C, 3C)), its bias likewise.
 *   config.json: vocab_size, n_embd, n_head, n_layer, n_positions (required); n_inner (null:
 *     4 n_embd), layer_norm_epsilon (1e-5), resid_pdrop and attn_pdrop (0.1) with Hugging
 *     Face's defaults; activation_function "gelu_new" or "gelu_pytorch_tanh" (the tanh GELU)
 *     or "gelu" (erf), others refused; model_type "gpt2" when present; scale_attn_weights
 *     true, scale_attn_by_inverse_layer_idx false and add_cross_attention false when present
 *     (the attention drrl computes).
 * --n-classes has no meaning for a language model (the head is the vocabulary) and is
 * refused. Every name and shape is checked before any weight is read. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "model/bert.h"
#include "model/bert_io.h"
#include "model/convert.h"

#define PROG "drrl-convert"

/* gpt2_rename: the ConvertRename of GPT-2 checkpoints (see the opening comment) */
static int gpt2_rename(const char *key, char *out, size_t cap, const char **why) {
    const char *k = strncmp(key, "transformer.", 12) ? key : key + 12;
    const size_t n = strlen(k);
    if (!strcmp(k, "lm_head.weight")) {
        *why = "lm_head.weight, tied to wte";
        return 0;
    }
    if (!strncmp(k, "h.", 2) && ((n >= 10 && !strcmp(k + n - 10, ".attn.bias")) ||
                                 (n >= 17 && !strcmp(k + n - 17, ".attn.masked_bias")))) {
        *why = "causal-mask buffers, h.<i>.attn.bias and masked_bias";
        return 0;
    }
    snprintf(out, cap, "%s", k);
    return 1;
}

/* want_bool: key, when present, must be the boolean want */
static Status want_bool(const JsonDoc *d, const JsonValue *r, const char *key, int want,
                        Err *e) {
    const JsonValue *v = json_find(r, key);
    if (!v || v->type == JSON_NULL) return ST_OK;
    int b = want;
    Status st = json_bool(d, v, key, &b, e);
    if (st || b == want) return st;
    return err_set(e, ST_CONFIG, "%s:%d:%d: %s: expected %s (the attention drrl computes), "
                   "found %s", json_name(d), v->line, v->col, key, want ? "true" : "false",
                   b ? "true" : "false");
}

/* read_config: config.json into c */
static Status read_config(const JsonDoc *d, BertConfig *c, Err *e) {
    static const char *const keys[5] = {"vocab_size", "n_positions", "n_embd", "n_head",
                                        "n_layer"};
    const JsonValue *r = json_root(d);
    int64_t v[5], inner = 0;
    double eps = 1e-5, rd = 0.1, ad = 0.1;
    const char *mt = "gpt2", *act = "gelu_new";
    Status st = json_expect(d, r, "the config", JSON_OBJECT, e);
    for (int i = 0; i < 5 && !st; i++)
        st = json_get_int(d, r, keys[i], 1, i == 4 ? BERT_MAX_LAYERS : INT32_MAX, &v[i], e);
    if (!st) st = json_opt_int(d, r, "n_inner", 1, INT32_MAX, &inner, e);
    if (!st) st = json_opt_double(d, r, "layer_norm_epsilon", 1e-30, 0.5, &eps, e);
    if (!st) st = json_opt_double(d, r, "resid_pdrop", 0, 0.999, &rd, e);
    if (!st) st = json_opt_double(d, r, "attn_pdrop", 0, 0.999, &ad, e);
    if (!st) st = json_opt_string(d, r, "model_type", &mt, e);
    if (!st) st = json_opt_string(d, r, "activation_function", &act, e);
    if (!st) st = want_bool(d, r, "scale_attn_weights", 1, e);
    if (!st) st = want_bool(d, r, "scale_attn_by_inverse_layer_idx", 0, e);
    if (!st) st = want_bool(d, r, "add_cross_attention", 0, e);
    if (st) return st;
    if (strcmp(mt, "gpt2"))
        return err_set(e, ST_CONFIG, "%s: model_type: expected 'gpt2', found '%.100s'",
                       json_name(d), mt);
    const int tanh_act = !strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh");
    if (!tanh_act && strcmp(act, "gelu"))
        return err_set(e, ST_CONFIG, "%s: activation_function: expected 'gelu_new', "
                       "'gelu_pytorch_tanh' or 'gelu' (the GELUs drrl computes), found '%.100s'",
                       json_name(d), act);
    if (v[2] % v[3])
        return err_set(e, ST_CONFIG, "%s: n_head: expected a divisor of n_embd (%" PRId64
                       "), found %" PRId64, json_name(d), v[2], v[3]);
    memset(c, 0, sizeof *c);
    c->vocab = (int)v[0], c->max_pos = (int)v[1], c->d_model = (int)v[2];
    c->n_heads = (int)v[3], c->n_layers = (int)v[4];
    c->d_ff = inner ? (int)inner : 4 * c->d_model;
    c->type_vocab = 1, c->n_classes = c->vocab;
    c->ln_eps = (float)eps, c->dropout = (float)rd, c->attn_dropout = (float)ad;
    c->position = BERT_POS_LEARNED, c->arch = BERT_ARCH_DECODER;
    c->act = tanh_act ? BERT_ACT_GELU_TANH : BERT_ACT_GELU;
    return ST_OK;
}

/* one tensor of layer l (or the model when l < 0): check (pass 0) or read (pass 1) */
static Status one(ConvertSource *s, int pass, int l, const char *name, int64_t d0, int64_t d1,
                  int tr, float *dst, Err *e) {
    char nm[CONVERT_NAME_MAX];
    if (l >= 0) snprintf(nm, sizeof nm, "h.%d.%s", l, name);
    else snprintf(nm, sizeof nm, "%s", name);
    const int64_t dims[2] = {d0, d1};
    const int nd = d1 ? 2 : 1;
    return pass ? convert_take(s, nm, nd, dims, tr, dst, e) : convert_check(s, nm, nd, dims, tr, e);
}

/* layer l's tensors; c_attn through buf (3 C^2 + 3 C floats), split into q, k, v */
static Status layer(ConvertSource *s, int pass, Bert *m, int l, float *buf, Err *e) {
    const int C = m->c.d_model, F = m->c.d_ff;
    BertLayerParams *p = &m->p.layer[l];
    const size_t CC = (size_t)C * C;
    float *bb = buf + 3 * CC;
    Status st = one(s, pass, l, "ln_1.weight", C, 0, 0, p->ln1_w, e);
    if (!st) st = one(s, pass, l, "ln_1.bias", C, 0, 0, p->ln1_b, e);
    if (!st) st = one(s, pass, l, "attn.c_attn.weight", 3 * C, C, 1, buf, e); /* (3C, C) */
    if (!st) st = one(s, pass, l, "attn.c_attn.bias", 3 * C, 0, 0, bb, e);
    if (!st && pass) {
        float *w[3] = {p->attn.wq, p->attn.wk, p->attn.wv};
        float *b[3] = {p->attn.bq, p->attn.bk, p->attn.bv};
        for (int t = 0; t < 3; t++) {
            memcpy(w[t], buf + t * CC, sizeof(float) * CC);
            memcpy(b[t], bb + (size_t)t * C, sizeof(float) * C);
        }
    }
    if (!st) st = one(s, pass, l, "attn.c_proj.weight", C, C, 1, p->attn.wo, e);
    if (!st) st = one(s, pass, l, "attn.c_proj.bias", C, 0, 0, p->attn.bo, e);
    if (!st) st = one(s, pass, l, "ln_2.weight", C, 0, 0, p->ln2_w, e);
    if (!st) st = one(s, pass, l, "ln_2.bias", C, 0, 0, p->ln2_b, e);
    if (!st) st = one(s, pass, l, "mlp.c_fc.weight", F, C, 1, p->w1, e);
    if (!st) st = one(s, pass, l, "mlp.c_fc.bias", F, 0, 0, p->b1, e);
    if (!st) st = one(s, pass, l, "mlp.c_proj.weight", C, F, 1, p->w2, e);
    if (!st) st = one(s, pass, l, "mlp.c_proj.bias", C, 0, 0, p->b2, e);
    return st;
}

/* every tensor checked (then the leftovers refused), then read */
static Status transfer(ConvertSource *s, Bert *m, Err *e) {
    const BertConfig *c = &m->c;
    const int C = c->d_model;
    float *buf = malloc(sizeof(float) * (3 * (size_t)C * C + 3 * (size_t)C));
    if (!buf) return err_set(e, ST_NOMEM, "out of memory for a (%d, %d) buffer", 3 * C, C);
    Status st = ST_OK;
    for (int pass = 0; pass < 2 && !st; pass++) {
        st = one(s, pass, -1, "wte.weight", c->vocab, C, 0, m->p.tok, e);
        if (!st) st = one(s, pass, -1, "wpe.weight", c->max_pos, C, 0, m->p.pos, e);
        for (int l = 0; l < c->n_layers && !st; l++) st = layer(s, pass, m, l, buf, e);
        if (!st) st = one(s, pass, -1, "ln_f.weight", C, 0, 0, m->p.lnf_w, e);
        if (!st) st = one(s, pass, -1, "ln_f.bias", C, 0, 0, m->p.lnf_b, e);
        if (!st && !pass) {
            char what[96];
            snprintf(what, sizeof what, "a GPT-2 of %d layers (the config's n_layer)",
                     c->n_layers);
            st = convert_unused(s, what, e);
        }
    }
    free(buf);
    return st;
}

Status convert_gpt2(const ConvertOpts *o, ConvertResult *r, Err *e) {
    memset(r, 0, sizeof *r);
    if (o->n_classes)
        return err_set(e, ST_CONFIG, "--n-classes: expected none for a GPT-2 (a language model: "
                       "its head is the vocabulary), found %d", o->n_classes);
    BertConfig c;
    JsonDoc *d = NULL;
    ConvertSource src;
    memset(&src, 0, sizeof src);
    Bert *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ST_NOMEM, "out of memory");
    Status st = json_parse_file(&d, o->config, e);
    if (!st) st = read_config(d, &c, e);
    json_free(d);
    if (!st) st = convert_source_open(&src, o->weights, gpt2_rename, e);
    if (!st && (st = bert_init(m, &c, 1, 1, 0, e))) err_prefix(e, "%s", o->config);
    if (!st) st = transfer(&src, m, e);
    if (!st) convert_notes(&src, o->note, PROG);
    if (!st) st = convert_save(m, o, "gpt2", e);
    if (!st) {
        snprintf(r->summary, sizeof r->summary, "GPT-2 vocab %d, n_positions %d, n_embd %d, "
                 "n_head %d, n_inner %d, n_layer %d, %s, ln_eps %g", c.vocab, c.max_pos,
                 c.d_model, c.n_heads, c.d_ff, c.n_layers, bert_act_name(c.act),
                 (double)c.ln_eps);
        r->n_params = m->n_params;
    }
    convert_source_close(&src);
    bert_free(m);
    free(m);
    return st;
}
