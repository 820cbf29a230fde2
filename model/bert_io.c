/* bert_io.c: save and load the model file (format in bert_io.h; a decoder's tensors under
 * GPT-2's names: lm_io.c):
 * architecture attributes on the root (the position kind as the string attribute `position`,
 * absent = learned, and `conv_kernel` for conv), metadata attributes and the /config text,
 * and one float32 dataset per tensor at the HuggingFace name with '.' -> '/'. */
#include "model/bert_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"
#include "model/bert_internal.h"

void bert_tensor_path(char *out, size_t cap, const char *name) {
    if (cap == 0) return;
    size_t j = 0;
    if (j + 1 < cap) out[j++] = '/';
    for (const char *c = name; *c && j + 1 < cap; c++) out[j++] = *c == '.' ? '/' : *c;
    out[j] = '\0';
}

/* the integer architecture attributes, in BertConfig order */
#define N_INT_ATTRS 8
static const char *const int_attr[N_INT_ATTRS] = {"vocab",  "max_pos",  "type_vocab",
                                                  "d_model", "n_heads", "d_ff",
                                                  "n_layers", "n_classes"};
static void int_fields(const BertConfig *c, int v[N_INT_ATTRS]) {
    v[0] = c->vocab, v[1] = c->max_pos, v[2] = c->type_vocab, v[3] = c->d_model;
    v[4] = c->n_heads, v[5] = c->d_ff, v[6] = c->n_layers, v[7] = c->n_classes;
}

Status bert_save(const Bert *m, const char *path, const BertFileMeta *meta, Err *e) {
    Store *st = NULL;
    const BertConfig *c = &m->c;
    /* version 1 where it suffices (an encoder with the erf GELU), so older readers keep
       reading such files */
    const int v2 = c->arch != BERT_ARCH_ENCODER || c->act != BERT_ACT_GELU;
    Status s = store_create(&st, path, BERT_FILE_FORMAT, v2 ? 2 : 1, e);
    if (s) return s;
    int v[N_INT_ATTRS];
    int_fields(c, v);
    for (int i = 0; i < N_INT_ATTRS && !s; i++) s = store_set_attr_i64(st, "/", int_attr[i], v[i], e);
    if (!s) s = store_set_attr_f64(st, "/", "ln_eps", (double)c->ln_eps, e);
    if (!s) s = store_set_attr_f64(st, "/", "dropout", (double)c->dropout, e);
    if (!s) s = store_set_attr_f64(st, "/", "attn_dropout", (double)c->attn_dropout, e);
    if (!s) s = store_set_attr_str(st, "/", "position", bert_position_name(c->position), e);
    if (!s && c->position == BERT_POS_CONV)
        s = store_set_attr_i64(st, "/", "conv_kernel", c->conv_kernel, e);
    if (!s && v2) s = store_set_attr_str(st, "/", "arch", bert_arch_name(c->arch), e);
    if (!s && v2) s = store_set_attr_str(st, "/", "act", bert_act_name(c->act), e);
    const char *cfg = meta && meta->config_yaml ? meta->config_yaml : "";
    const char *vs = meta && meta->vocab_sha256 ? meta->vocab_sha256 : "";
    const char *ds = meta && meta->data_sha256 ? meta->data_sha256 : "";
    if (!s) s = store_set_attr_str(st, "/", "vocab_sha256", vs, e);
    if (!s) s = store_set_attr_str(st, "/", "data_sha256", ds, e);
    if (!s) s = store_set_attr_f64(st, "/", "dev_accuracy", meta ? meta->dev_accuracy : NAN, e);
    if (!s) s = store_set_attr_i64(st, "/", "train_steps", meta ? meta->train_steps : 0, e);
    if (!s && c->arch == BERT_ARCH_DECODER)
        s = store_set_attr_f64(st, "/", "dev_bits_per_byte",
                               meta && meta->dev_bits_per_byte > 0 ? meta->dev_bits_per_byte
                                                                   : NAN, e);
    if (!s) s = store_write_text(st, "/config", cfg, e);
    char dsname[BERT_NAME_MAX + 8];
    if (!s && c->arch == BERT_ARCH_DECODER) s = lm_io_xfer(st, (Bert *)m, 1, e); /* only read */
    for (int i = 0; i < m->n_tensors && !s && c->arch == BERT_ARCH_ENCODER; i++) {
        const BertTensor *t = &m->tensor[i];
        bert_tensor_path(dsname, sizeof dsname, t->name);
        s = store_write(st, dsname, DT_F32, t->param, t->ndim, t->dims, e);
    }
    if (s) {
        store_abort(st);
        return s;
    }
    return store_commit(st, e);
}

/* read_choice: an optional string attribute naming one of two choices: *out = 0 (absent or
   a) or 1 (b); anything else is ST_FORMAT naming the file, the attribute and both */
static Status read_choice(Store *st, const char *path, const char *name, const char *a,
                          const char *b, int *out, Err *e) {
    char v[32];
    Err tmp;
    err_clear(&tmp);
    Status s = store_get_attr_str(st, "/", name, v, sizeof v, &tmp);
    if (s == ST_MISSING) return ST_OK;
    if (s) {
        if (e) *e = tmp;
        return s;
    }
    if (strcmp(v, a) && strcmp(v, b))
        return err_set(e, ST_FORMAT, "%s: %s: expected '%s' or '%s', found '%s'", path, name, a,
                       b, v);
    *out = strcmp(v, a) != 0;
    return ST_OK;
}

/* read_config_open: the architecture attributes of an open store, validated */
static Status read_config_open(Store *st, const char *path, BertConfig *c, Err *e) {
    int64_t v[N_INT_ATTRS];
    Status s = ST_OK;
    for (int i = 0; i < N_INT_ATTRS && !s; i++) {
        s = store_get_attr_i64(st, "/", int_attr[i], &v[i], e);
        if (!s && (v[i] < -2147483647LL || v[i] > 2147483647LL))
            s = err_set(e, ST_CONFIG, "%s: %s: expected a 32-bit integer, found %lld", path,
                        int_attr[i], (long long)v[i]);
    }
    double f[3] = {0, 0, 0};
    static const char *const fname[3] = {"ln_eps", "dropout", "attn_dropout"};
    for (int i = 0; i < 3 && !s; i++) s = store_get_attr_f64(st, "/", fname[i], &f[i], e);
    if (s) return s;
    /* the position kind: absent (files from before it existed, converted BERT) = learned */
    char pos[32];
    int position = BERT_POS_LEARNED;
    int64_t kernel = 0;
    Err tmp;
    err_clear(&tmp);
    s = store_get_attr_str(st, "/", "position", pos, sizeof pos, &tmp);
    if (s == ST_MISSING) {
        s = ST_OK;
    } else if (s) {
        if (e) *e = tmp;
        return s;
    } else if (!strcmp(pos, "conv")) {
        position = BERT_POS_CONV;
        if ((s = store_get_attr_i64(st, "/", "conv_kernel", &kernel, e))) return s;
        if (kernel < 0 || kernel > 2147483647LL)
            return err_set(e, ST_CONFIG, "%s: conv_kernel: expected a 32-bit integer, found %lld",
                           path, (long long)kernel);
    } else if (strcmp(pos, "learned")) {
        return err_set(e, ST_FORMAT, "%s: position: expected 'learned' or 'conv', found '%s'",
                       path, pos);
    }
    int arch = BERT_ARCH_ENCODER, act = BERT_ACT_GELU; /* absent (version 1): BERT's */
    if ((s = read_choice(st, path, "arch", "encoder", "decoder", &arch, e)) ||
        (s = read_choice(st, path, "act", "gelu", "gelu_tanh", &act, e)))
        return s;
    memset(c, 0, sizeof *c);
    c->arch = arch, c->act = act;
    c->position = position, c->conv_kernel = (int)kernel;
    c->vocab = (int)v[0], c->max_pos = (int)v[1], c->type_vocab = (int)v[2];
    c->d_model = (int)v[3], c->n_heads = (int)v[4], c->d_ff = (int)v[5];
    c->n_layers = (int)v[6], c->n_classes = (int)v[7];
    c->ln_eps = (float)f[0], c->dropout = (float)f[1], c->attn_dropout = (float)f[2];
    s = bert_config_check(c, e);
    if (s) err_prefix(e, "%s", path);
    return s;
}

Status bert_read_config(const char *path, BertConfig *c, Err *e) {
    Store *st = NULL;
    Status s = store_open(&st, path, BERT_FILE_FORMAT, 1, BERT_FILE_VERSION, e);
    if (s) return s;
    s = read_config_open(st, path, c, e);
    store_close(st);
    return s;
}

void bert_file_info_free(BertFileInfo *info) {
    if (!info) return;
    free(info->config_yaml);
    info->config_yaml = NULL;
}

/* optional string attribute: "" when absent */
static Status opt_str(Store *st, const char *name, char *buf, size_t cap, Err *e) {
    Err tmp;
    err_clear(&tmp);
    Status s = store_get_attr_str(st, "/", name, buf, cap, &tmp);
    if (s == ST_MISSING) {
        buf[0] = '\0';
        return ST_OK;
    }
    if (s && e) *e = tmp;
    return s;
}

static Status read_info(Store *st, BertFileInfo *info, Err *e) {
    memset(info, 0, sizeof *info);
    info->dev_accuracy = NAN;
    Status s = opt_str(st, "vocab_sha256", info->vocab_sha256, sizeof info->vocab_sha256, e);
    if (!s) s = opt_str(st, "data_sha256", info->data_sha256, sizeof info->data_sha256, e);
    Err tmp;
    err_clear(&tmp);
    if (!s) {
        s = store_get_attr_f64(st, "/", "dev_accuracy", &info->dev_accuracy, &tmp);
        if (s == ST_MISSING) s = ST_OK, info->dev_accuracy = NAN;
    }
    if (!s) {
        s = store_get_attr_i64(st, "/", "train_steps", &info->train_steps, &tmp);
        if (s == ST_MISSING) s = ST_OK, info->train_steps = 0;
    }
    info->dev_bits_per_byte = NAN;
    if (!s) {
        s = store_get_attr_f64(st, "/", "dev_bits_per_byte", &info->dev_bits_per_byte, &tmp);
        if (s == ST_MISSING) s = ST_OK, info->dev_bits_per_byte = NAN;
    }
    if (s && e && tmp.status) *e = tmp;
    if (s) return s;
    if (store_exists(st, "/config")) {
        s = store_read_text(st, "/config", &info->config_yaml, e);
    } else {
        info->config_yaml = malloc(1);
        if (!info->config_yaml) return err_set(e, ST_NOMEM, "out of memory");
        info->config_yaml[0] = '\0';
    }
    return s;
}

Status bert_load(Bert *m, const char *path, BertFileInfo *info, Err *e) {
    if (info) {
        memset(info, 0, sizeof *info);
        info->dev_accuracy = NAN;
    }
    Store *st = NULL;
    Status s = store_open(&st, path, BERT_FILE_FORMAT, 1, BERT_FILE_VERSION, e);
    if (s) return s;
    BertConfig fc;
    s = read_config_open(st, path, &fc, e);
    if (!s) {
        int want[N_INT_ATTRS], got[N_INT_ATTRS];
        int_fields(&m->c, want);
        int_fields(&fc, got);
        for (int i = 0; i < N_INT_ATTRS && !s; i++)
            if (want[i] != got[i])
                s = err_set(e, ST_SHAPE,
                            "%s: %s: expected %d (the architecture of the model being loaded), "
                            "found %d", path, int_attr[i], want[i], got[i]);
        if (!s && (fc.position != m->c.position || fc.conv_kernel != m->c.conv_kernel))
            s = err_set(e, ST_SHAPE,
                        "%s: position: expected %s (conv_kernel %d) (the architecture of the "
                        "model being loaded), found %s (conv_kernel %d)", path,
                        bert_position_name(m->c.position), m->c.conv_kernel,
                        bert_position_name(fc.position), fc.conv_kernel);
        if (!s && (fc.arch != m->c.arch || fc.act != m->c.act))
            s = err_set(e, ST_SHAPE,
                        "%s: arch, act: expected %s, %s (the architecture of the model being "
                        "loaded), found %s, %s", path, bert_arch_name(m->c.arch),
                        bert_act_name(m->c.act), bert_arch_name(fc.arch), bert_act_name(fc.act));
        if (!s && fc.ln_eps != m->c.ln_eps)
            s = err_set(e, ST_SHAPE,
                        "%s: ln_eps: expected %g (the architecture of the model being loaded), "
                        "found %g", path, (double)m->c.ln_eps, (double)fc.ln_eps);
    }
    char dsname[BERT_NAME_MAX + 8];
    if (!s && m->c.arch == BERT_ARCH_DECODER) s = lm_io_xfer(st, m, 0, e);
    for (int i = 0; i < m->n_tensors && !s && m->c.arch == BERT_ARCH_ENCODER; i++) {
        BertTensor *t = &m->tensor[i];
        bert_tensor_path(dsname, sizeof dsname, t->name);
        s = store_read_finite(st, dsname, DT_F32, t->param, t->ndim, t->dims, e);
    }
    if (!s && info) {
        s = read_info(st, info, e);
        if (s) bert_file_info_free(info);
    }
    store_close(st);
    return s;
}
