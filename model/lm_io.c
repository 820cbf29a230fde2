/* lm_io.c: the decoder's tensors in the model file (model/bert_io.h, format version 2),
 * under GPT-2's names and layouts (Hugging Face GPT2Model's state_dict keys, '.' -> '/'), so
 * a GPT-2 checkpoint maps one to one:
 *   /wte/weight (V, C);  /wpe/weight (P, C) (learned) or /wpe/conv/weight (k, C),
 *   /wpe/conv/bias (C) (drrl's causal convolutional positions; GPT-2 has no such layer);
 *   per layer l, under /h/<l>/: ln_1/{weight,bias} (C); attn/c_attn/weight (C, 3C),
 *   attn/c_attn/bias (3C); attn/c_proj/weight (C, C), attn/c_proj/bias (C);
 *   ln_2/{weight,bias}; mlp/c_fc/weight (C, F), mlp/c_fc/bias (F); mlp/c_proj/weight (F, C),
 *   mlp/c_proj/bias (C);  /ln_f/{weight,bias} (C).
 * GPT-2's Conv1D computes y = x W + b with W stored (in, out), the transpose of the (out, in)
 * layout the model keeps (nn/linear.h): every matrix is transposed on the way. c_attn fuses
 * the three projections along its output axis: c_attn.weight[:, 0:C] = Wq^T,
 * [:, C:2C] = Wk^T, [:, 2C:3C] = Wv^T, and c_attn.bias = [bq; bk; bv]. Vectors and the
 * embedding tables are stored as they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bert_internal.h"

/* dst (cols, rows) = src (rows, cols)^T */
static void transpose(float *dst, const float *src, int rows, int cols) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(size_t)j * rows + i] = src[(size_t)i * cols + j];
}

/* one layer's matrices: its (out, in) parameter, the file's name suffix, out and in */
typedef struct {
    float *w;
    const char *name;
    int out, in;
} LmMat;

static void layer_mats(LmMat mats[3], const BertLayerParams *lp, const BertConfig *c) {
    const int C = c->d_model, F = c->d_ff;
    mats[0] = (LmMat){lp->attn.wo, "attn/c_proj", C, C};
    mats[1] = (LmMat){lp->w1, "mlp/c_fc", F, C};
    mats[2] = (LmMat){lp->w2, "mlp/c_proj", C, F};
}

/* vectors stored as they are: (pointer, name suffix, length) */
typedef struct {
    float *v;
    const char *name;
    int n;
} LmVec;

static int layer_vecs(LmVec v[7], const BertLayerParams *lp, const BertConfig *c) {
    const int C = c->d_model, F = c->d_ff;
    v[0] = (LmVec){lp->ln1_w, "ln_1/weight", C}, v[1] = (LmVec){lp->ln1_b, "ln_1/bias", C};
    v[2] = (LmVec){lp->attn.bo, "attn/c_proj/bias", C};
    v[3] = (LmVec){lp->ln2_w, "ln_2/weight", C}, v[4] = (LmVec){lp->ln2_b, "ln_2/bias", C};
    v[5] = (LmVec){lp->b1, "mlp/c_fc/bias", F}, v[6] = (LmVec){lp->b2, "mlp/c_proj/bias", C};
    return 7;
}

/* the tensors outside the layers: (pointer, file path, rows, cols (0: a vector)) */
typedef struct {
    float *p;
    const char *path;
    int64_t d0, d1;
} LmTop;

static int top_tensors(LmTop t[5], const Bert *m) {
    const BertConfig *c = &m->c;
    const int C = c->d_model;
    int n = 0;
    t[n++] = (LmTop){m->p.tok, "/wte/weight", c->vocab, C};
    if (c->position == BERT_POS_CONV) {
        t[n++] = (LmTop){m->p.conv_w, "/wpe/conv/weight", c->conv_kernel, C};
        t[n++] = (LmTop){m->p.conv_b, "/wpe/conv/bias", C, 0};
    } else {
        t[n++] = (LmTop){m->p.pos, "/wpe/weight", c->max_pos, C};
    }
    t[n++] = (LmTop){m->p.lnf_w, "/ln_f/weight", C, 0};
    t[n++] = (LmTop){m->p.lnf_b, "/ln_f/bias", C, 0};
    return n;
}

/* move one tensor between the model and the file: write (wr 1) or read (wr 0, finite) */
static Status xfer(Store *st, int wr, const char *path, float *p, int64_t d0, int64_t d1,
                   Err *e) {
    const int64_t dims[2] = {d0, d1};
    const int nd = d1 ? 2 : 1;
    return wr ? store_write(st, path, DT_F32, p, nd, dims, e)
              : store_read_finite(st, path, DT_F32, p, nd, dims, e);
}

/* c_attn of layer l: the fused (C, 3C) weight and (3C) bias through buf (3 C^2 floats) */
static Status xfer_c_attn(Store *st, int wr, const char *pre, BertLayerParams *lp, int C,
                          float *buf, Err *e) {
    float *w[3] = {lp->attn.wq, lp->attn.wk, lp->attn.wv};
    float *b[3] = {lp->attn.bq, lp->attn.bk, lp->attn.bv};
    char path[96];
    const size_t C3 = (size_t)3 * C;
    Status s;
    if (wr)
        for (int t = 0; t < 3; t++) /* buf[i, t C + o] = W_t[o, i] */
            for (int o = 0; o < C; o++)
                for (int i = 0; i < C; i++) buf[i * C3 + t * C + o] = w[t][(size_t)o * C + i];
    snprintf(path, sizeof path, "%sattn/c_attn/weight", pre);
    if ((s = xfer(st, wr, path, buf, C, (int64_t)C3, e))) return s;
    if (!wr)
        for (int t = 0; t < 3; t++)
            for (int o = 0; o < C; o++)
                for (int i = 0; i < C; i++) w[t][(size_t)o * C + i] = buf[i * C3 + t * C + o];
    if (wr)
        for (int t = 0; t < 3; t++) memcpy(buf + (size_t)t * C, b[t], (size_t)C * sizeof(float));
    snprintf(path, sizeof path, "%sattn/c_attn/bias", pre);
    if ((s = xfer(st, wr, path, buf, (int64_t)C3, 0, e))) return s;
    if (!wr)
        for (int t = 0; t < 3; t++) memcpy(b[t], buf + (size_t)t * C, (size_t)C * sizeof(float));
    return ST_OK;
}

static Status xfer_layer(Store *st, int wr, Bert *m, int l, float *buf, Err *e) {
    const BertConfig *c = &m->c;
    BertLayerParams *lp = &m->p.layer[l];
    char pre[32], path[96];
    snprintf(pre, sizeof pre, "/h/%d/", l);
    Status s = xfer_c_attn(st, wr, pre, lp, c->d_model, buf, e);
    LmMat mats[3];
    layer_mats(mats, lp, c);
    for (int i = 0; i < 3 && !s; i++) {
        snprintf(path, sizeof path, "%s%s/weight", pre, mats[i].name);
        if (wr) transpose(buf, mats[i].w, mats[i].out, mats[i].in);
        s = xfer(st, wr, path, buf, mats[i].in, mats[i].out, e);
        if (!s && !wr) transpose(mats[i].w, buf, mats[i].in, mats[i].out);
    }
    LmVec v[7];
    const int nv = layer_vecs(v, lp, c);
    for (int i = 0; i < nv && !s; i++) {
        snprintf(path, sizeof path, "%s%s", pre, v[i].name);
        s = xfer(st, wr, path, v[i].v, v[i].n, 0, e);
    }
    return s;
}

Status lm_io_xfer(Store *st, Bert *m, int wr, Err *e) {
    const BertConfig *c = &m->c;
    const size_t C = (size_t)c->d_model, F = (size_t)c->d_ff;
    float *buf = malloc((3 * C * C > C * F ? 3 * C * C : C * F) * sizeof(float));
    if (!buf) return err_set(e, ST_NOMEM, "model file: out of memory for a %zu x %zu buffer", C,
                             3 * C > F ? 3 * C : F);
    LmTop t[5];
    const int nt = top_tensors(t, m);
    Status s = ST_OK;
    for (int i = 0; i < nt && !s; i++) s = xfer(st, wr, t[i].path, t[i].p, t[i].d0, t[i].d1, e);
    for (int l = 0; l < c->n_layers && !s; l++) s = xfer_layer(st, wr, m, l, buf, e);
    free(buf);
    return s;
}
