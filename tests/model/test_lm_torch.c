/* test_lm_torch.c: the causal decoder (model/lm.h) against a plain-PyTorch GPT-2
 * (scripts/gpt2_ref.py, Hugging Face's GPT2LMHeadModel written out with GPT-2's tensor names
 * and Conv1D (in, out) layouts), for GPT-2's learned positions with the tanh GELU and for
 * drrl's causal convolutional positions with the erf GELU:
 *     /usr/bin/python3 scripts/gpt2_ref.py DIR {learned|conv}
 * writes the weights as a drrl model file (so reading it checks the file layout of
 * model/lm_io.c: c_attn fused and transposed, every Conv1D transposed), the autograd and the
 * finite-difference gradients of the loss in the same format, and the float64 logits and loss
 * of a padded batch (B = 3, N = 9, rows of 9, 6, 3 tokens). Checked here:
 *   - bert_read_config gives the architecture (decoder, the activation, the positions);
 *   - lm_forward's logits and loss vs torch's; an inference-only model's logits equal the
 *     training model's bit for bit;
 *   - lm_backward's gradient of every tensor vs torch's autograd AND vs the central finite
 *     differences of torch's float64 loss (every weight element: an independent check);
 *   - no logit depends on a later token: every id after position n changed, the logits of
 *     positions <= n bit-identical, for every n;
 *   - bert_save writes GPT-2's names (/h/0/attn/c_attn/weight (C, 3C) ...) and reloading gives
 *     bit-identical logits;
 *   - learned positions: the same weights as a Hugging Face GPT2LMHeadModel checkpoint
 *     (config.json, model.safetensors with 'transformer.' keys, the tied lm_head.weight and the
 *     causal-mask buffers) converted by convert_gpt2 (drrl-convert gpt2) give logits
 *     bit-identical to model.h5's, so within the tolerance of torch's.
 * Skips (exit 77) when DRRL_SOURCE_ROOT is unset or python3, torch, h5py or numpy is missing.
 * Tolerance: |ours - ref| <= RTOL |ref| + ATOL scale (scale: the largest |ref| of the tensor;
 * for the key bias, whose exact gradient is 0, the key weight's), RTOL 1e-4, ATOL 1e-5, as
 * test_bert_torch.c: the references are float64 on the same float32 weights. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/store.h"
#include "model/bert.h"
#include "model/bert_io.h"
#include "model/convert.h"
#include "model/lm.h"
#include "tests/check.h"
#include "tests/ref.h"
#include "tests/run.h"
#include "tests/torch_ref.h"

#define RTOL 1e-4
#define ATOL 1e-5
#define NAME "test_lm_torch"
#define PY "/usr/bin/python3"

/* compare under the stated tolerance (tests/ref.h); returns the worst err / tolerance */
static double compare(const float *ours, const double *ref, size_t n, double scale,
                      const char *what) {
    return ref_check_scaled(what, ours, ref, n, scale, RTOL, ATOL);
}

/* every gradient of m against the parameters of the reference file path (a model file
   holding gradients), tensor by tensor */
static void check_grads(const Bert *m, const char *path, const char *what) {
    Bert r;
    Err e;
    err_clear(&e);
    CHECK(bert_init(&r, &m->c, 1, 1, 0, &e) == ST_OK, "init %s: %s", what, e.msg);
    CHECK(bert_load(&r, path, NULL, &e) == ST_OK, "load %s: %s", what, e.msg);
    double worst = 0;
    const char *wn = "";
    for (int i = 0; i < m->n_tensors; i++) {
        const BertTensor *t = &m->tensor[i], *rt = &r.tensor[i];
        double *ref = malloc(t->count * sizeof(double));
        for (size_t j = 0; j < t->count; j++) ref[j] = rt->param[j];
        double scale = ref_max_abs(ref, t->count);
        if (strstr(t->name, "attn.k.bias")) { /* exact gradient 0: the key weight's scale */
            const BertTensor *kw = &r.tensor[i - 1];
            for (size_t j = 0; j < kw->count; j++) scale = fmax(scale, fabs(kw->param[j]));
        }
        char nm[160];
        snprintf(nm, sizeof nm, "%s %s", what, t->name);
        double w = compare(t->grad, ref, t->count, scale, nm);
        if (w > worst) worst = w, wn = t->name;
        free(ref);
    }
    printf("  gradients vs %-10s %d tensors, worst err/tol %.3f (%s)\n", what, m->n_tensors,
           worst, wn);
    bert_free(&r);
}

/* causality of mi's logits (ids after each position changed) and the save / reload round
   trip with GPT-2's names */
static void check_causal_and_save(Bert *mi, const BertConfig *cp, const int32_t *ids,
                                  const uint8_t *mask, const char *dir, const char *kind) {
    enum { B = 3, N = 9 };
    const BertConfig c = *cp;
    const int V = c.vocab;
    const size_t nl = (size_t)B * N * V;
    char path[600];
    Err e;
    err_clear(&e);
    Bert m2;
    /* causality: ids after position n changed, logits at positions <= n unchanged */
    float *base = malloc(nl * sizeof(float));
    memcpy(base, lm_logits(mi), nl * sizeof(float));
    for (int n = 0; n + 1 < N; n++) {
        int32_t id2[B * N];
        memcpy(id2, ids, sizeof id2);
        for (int b = 0; b < B; b++)
            for (int j = n + 1; j < N; j++) id2[b * N + j] = (id2[b * N + j] + 1 + j) % V;
        lm_forward(mi, id2, mask, NULL, B, N, 0, NULL);
        int bad = 0;
        for (int b = 0; b < B; b++)
            bad += memcmp(lm_logits(mi) + (size_t)b * N * V, base + (size_t)b * N * V,
                          (size_t)(n + 1) * V * sizeof(float)) != 0;
        CHECK(bad == 0, "%s: %d rows' logits at positions <= %d changed with later ids",
              kind, bad, n);
    }
    /* save: GPT-2's names; reload: bit-identical logits */
    snprintf(path, sizeof path, "%s/saved.h5", dir);
    CHECK(bert_save(mi, path, NULL, &e) == ST_OK, "save: %s", e.msg);
    Store *sv = NULL;
    CHECK(store_open(&sv, path, "drrl-model", 2, 2, &e) == ST_OK, "open saved: %s", e.msg);
    if (sv) {
        int nd = 0;
        int64_t dims[4] = {0};
        DType t;
        CHECK(store_shape(sv, "/h/1/attn/c_attn/weight", &nd, dims, &t, &e) == ST_OK &&
                  nd == 2 && dims[0] == c.d_model && dims[1] == 3 * c.d_model,
              "saved file: /h/1/attn/c_attn/weight (C, 3C)");
        CHECK(store_exists(sv, "/ln_f/bias") && store_exists(sv, "/wte/weight") &&
                  !store_exists(sv, "/h/0/attn/q"),
              "saved file: GPT-2's names only");
        store_close(sv);
    }
    CHECK(bert_init(&m2, &c, B, N, 0, &e) == ST_OK, "init 2: %s", e.msg);
    CHECK(bert_load(&m2, path, NULL, &e) == ST_OK, "reload: %s", e.msg);
    lm_forward(&m2, ids, mask, NULL, B, N, 0, NULL);
    CHECK(memcmp(lm_logits(&m2), base, nl * sizeof(float)) == 0,
          "%s: reloaded model's logits differ", kind);
    bert_free(&m2);
    free(base);
}

/* the Hugging Face checkpoint of the same weights through convert_gpt2: logits bit-identical
   to the model's (base: mi's logits of ids) */
static void check_convert(const char *dir, const BertConfig *c, const int32_t *ids,
                          const uint8_t *mask, const float *base) {
    enum { B = 3, N = 9 };
    char cfg[600], w[600], out[600];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(w, sizeof w, "%s/model.safetensors", dir);
    snprintf(out, sizeof out, "%s/converted.h5", dir);
    ConvertOpts o = {.config = cfg, .weights = w, .out = out, .seed = 1, .note = stdout};
    ConvertResult r;
    Err e;
    err_clear(&e);
    Status s = convert_gpt2(&o, &r, &e);
    CHECK(s == ST_OK, "convert_gpt2: %s", e.msg);
    if (s) return;
    printf("  converted: %s, %zu parameters\n", r.summary, r.n_params);
    BertConfig cc;
    Bert m;
    CHECK(bert_read_config(out, &cc, &e) == ST_OK, "read converted: %s", e.msg);
    CHECK(cc.arch == BERT_ARCH_DECODER && cc.act == BERT_ACT_GELU_TANH && cc.d_ff == c->d_ff &&
              cc.vocab == c->vocab && cc.max_pos == c->max_pos && cc.ln_eps == c->ln_eps,
          "converted architecture");
    CHECK(bert_init(&m, &cc, B, N, 0, &e) == ST_OK && bert_load(&m, out, NULL, &e) == ST_OK,
          "load converted: %s", e.msg);
    lm_forward(&m, ids, mask, NULL, B, N, 0, NULL);
    CHECK(memcmp(lm_logits(&m), base, sizeof(float) * B * N * c->vocab) == 0,
          "the converted checkpoint's logits differ from model.h5's");
    o.n_classes = 2;
    CHECK(convert_gpt2(&o, &r, &e) == ST_CONFIG && strstr(e.msg, "--n-classes"),
          "--n-classes refused: %s", e.msg);
    bert_free(&m);
    unlink(out);
}

static void run_case(const char *root, const char *kind) {
    char dir[] = "/tmp/drrl_lm_torch_XXXXXX", py[1024], path[600];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    snprintf(py, sizeof py, "%s/scripts/gpt2_ref.py", root);
    char *argv[] = {PY, py, dir, (char *)kind, NULL};
    int rc = run(argv, 0);
    CHECK(rc == 0, "gpt2_ref.py %s exited with %d", kind, rc);
    if (rc) return;
    printf("%s positions:\n", kind);
    Err e;
    err_clear(&e);
    BertConfig c;
    snprintf(path, sizeof path, "%s/model.h5", dir);
    CHECK(bert_read_config(path, &c, &e) == ST_OK, "read_config: %s", e.msg);
    const int conv = !strcmp(kind, "conv");
    CHECK(c.arch == BERT_ARCH_DECODER && c.act == (conv ? BERT_ACT_GELU : BERT_ACT_GELU_TANH) &&
              c.position == (conv ? BERT_POS_CONV : BERT_POS_LEARNED) && c.vocab == 11 &&
              c.n_classes == 11 && c.type_vocab == 1,
          "%s: architecture read back", kind);
    enum { B = 3, N = 9 };
    const int V = c.vocab;
    Bert m, mi;
    CHECK(bert_init(&m, &c, B, N, 1, &e) == ST_OK, "init: %s", e.msg);
    CHECK(bert_init(&mi, &c, B, N, 0, &e) == ST_OK, "init inference: %s", e.msg);
    CHECK(bert_load(&m, path, NULL, &e) == ST_OK, "load: %s", e.msg);
    CHECK(bert_load(&mi, path, NULL, &e) == ST_OK, "load: %s", e.msg);

    Store *st = NULL;
    snprintf(path, sizeof path, "%s/ref.h5", dir);
    CHECK(store_open(&st, path, "drrl-lm-ref", 1, 1, &e) == ST_OK, "open ref: %s", e.msg);
    int64_t dBN[2] = {B, N}, dBNV[3] = {B, N, V}, d1[1] = {1};
    int32_t *ids = st ? torch_ref_load(st, "/ids", DT_I32, 2, dBN) : NULL;
    uint8_t *mask = st ? torch_ref_load(st, "/mask", DT_U8, 2, dBN) : NULL;
    int32_t *tg = st ? torch_ref_load(st, "/targets", DT_I32, 2, dBN) : NULL;
    double *logits = st ? torch_ref_load(st, "/logits", DT_F64, 3, dBNV) : NULL;
    double *loss = st ? torch_ref_load(st, "/loss", DT_F64, 1, d1) : NULL;
    if (ids && mask && tg && logits && loss) {
        int32_t tg2[B * N];
        lm_targets(tg2, ids, mask, B, N);
        CHECK(memcmp(tg, tg2, sizeof tg2) == 0, "lm_targets differs from the reference's");
        float l = lm_forward(&m, ids, mask, tg, B, N, 0, NULL);
        CHECK(fabs(l - loss[0]) <= RTOL * fabs(loss[0]) + ATOL, "loss: ours %.9g, torch %.9g",
              (double)l, loss[0]);
        const size_t nl = (size_t)B * N * V;
        double w = compare(lm_logits(&m), logits, nl, ref_max_abs(logits, nl), "logits");
        printf("  loss ours %.9f torch %.9f; logits worst err/tol %.3f\n", (double)l, loss[0], w);
        lm_forward(&mi, ids, mask, NULL, B, N, 0, NULL);
        CHECK(memcmp(lm_logits(&mi), lm_logits(&m), nl * sizeof(float)) == 0,
              "%s: inference-only logits differ from the training model's", kind);
        lm_backward(&m, ids, tg, B, N);
        snprintf(path, sizeof path, "%s/grad.h5", dir);
        check_grads(&m, path, "autograd");
        snprintf(path, sizeof path, "%s/fd.h5", dir);
        check_grads(&m, path, "fd");
        if (!conv) {
            lm_forward(&mi, ids, mask, NULL, B, N, 0, NULL);
            check_convert(dir, &c, ids, mask, lm_logits(&mi));
        }
        check_causal_and_save(&mi, &c, ids, mask, dir, kind);
    }
    if (st) store_close(st);
    free(ids), free(mask), free(tg), free(logits), free(loss);
    bert_free(&m);
    bert_free(&mi);
    if (check_failures == 0) {
        const char *f[] = {"model.h5", "grad.h5", "fd.h5", "ref.h5", "saved.h5", "config.json",
                           "model.safetensors"};
        for (int i = 0; i < 7; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, f[i]);
            unlink(path);
        }
        rmdir(dir);
    }
}

int main(void) {
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (!root) return check_skip(NAME, "DRRL_SOURCE_ROOT is not set (run through meson test)");
    if (access(PY, X_OK) != 0) return check_skip(NAME, PY " not found");
    char *probe[] = {PY, "-c", "import torch, h5py, numpy", NULL};
    if (run(probe, 1) != 0)
        return check_skip(NAME, "PyTorch, h5py or numpy not importable by " PY);
    run_case(root, "learned");
    run_case(root, "conv");
    return check_exit(NAME);
}
