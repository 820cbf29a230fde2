/* test_bert_torch.c: the BERT classifier (model/bert.h) against a plain-PyTorch BERT with
 * HuggingFace's module names (scripts/bert_ref.py), through the converter:
 *     /usr/bin/python3 scripts/bert_ref.py DIR/state_dict.pt DIR/ref.h5
 *     /usr/bin/python3 scripts/convert_bert.py DIR/state_dict.pt DIR/model.h5 --n-heads 2
 * then bert_read_config + bert_init + bert_load of model.h5, a forward (eval) on ref.h5's
 * padded batch (B=3, N=9, type ids not all zero) and a backward, comparing logits, loss and
 * the gradient of every parameter with torch's float64 values. The state_dict is also
 * re-saved without the "bert." prefix (as HuggingFace's BertModel writes keys) and converted
 * again: the two model files must give bit-identical logits.
 * Skips (exit 77, printed reason) when DRRL_SOURCE_ROOT is unset or /usr/bin/python3, torch,
 * h5py or numpy is missing.
 *
 * Tolerance: |ours - torch| <= RTOL |torch| + ATOL * scale, scale = the largest |torch| of
 * that tensor (for the key bias, whose exact gradient is 0, the key weight's scale), RTOL 1e-4,
 * ATOL 1e-5: torch runs in float64 on the same float32 weights, so this measures our float32
 * error (measured <= 1e-6 of the scale); any wrong term would be O(scale). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/store.h"
#include "model/bert.h"
#include "model/bert_io.h"
#include "tests/check.h"
#include "tests/ref.h"
#include "tests/run.h"
#include "tests/torch_ref.h"

#define RTOL 1e-4
#define ATOL 1e-5
#define NAME "test_bert_torch"
#define PY "/usr/bin/python3"

/* compare under the stated tolerance (tests/ref.h); returns the worst err / tolerance */
static double compare(const float *ours, const double *ref, size_t n, double scale,
                      const char *what) {
    return ref_check_scaled(what, ours, ref, n, scale, RTOL, ATOL);
}

/* The files of one run, in a mkdtemp directory. */
typedef struct {
    char sd[512], sd2[512]; /* the state_dict, and the same without the "bert." prefix */
    char ref[512];          /* bert_ref.py's inputs and float64 outputs */
    char model[512], model2[512]; /* convert_bert.py's model files of sd and of sd2 */
} Files;

/* make_files: bert_ref.py writes sd and ref, convert_bert.py converts sd into model; sd is
   re-saved without the prefix as sd2 and converted into model2 (one CHECK per step run);
   returns 0 when every step succeeded */
static int make_files(Files *f, const char *root) {
    char ref_py[1024], conv_py[1024];
    snprintf(ref_py, sizeof ref_py, "%s/scripts/bert_ref.py", root);
    snprintf(conv_py, sizeof conv_py, "%s/scripts/convert_bert.py", root);
    char *sd = f->sd, *sd2 = f->sd2, *model = f->model, *model2 = f->model2;
    char *a1[] = {PY, ref_py, sd, f->ref, NULL};
    char *a2[] = {PY, conv_py, sd, model, "--n-heads", "2", NULL};
    char *a3[] = {PY, "-c",
                  "import sys, torch; sd = torch.load(sys.argv[1]); "
                  "torch.save({(k[5:] if k.startswith('bert.') else k): v "
                  "for k, v in sd.items()}, sys.argv[2])",
                  sd, sd2, NULL};
    char *a4[] = {PY, conv_py, sd2, model2, "--n-heads", "2", NULL};
    int rc = run(a1, 0);
    CHECK(rc == 0, "bert_ref.py exited with %d", rc);
    if (rc == 0) CHECK((rc = run(a2, 0)) == 0, "convert_bert.py exited with %d", rc);
    if (rc == 0) CHECK((rc = run(a3, 0)) == 0, "re-saving without the bert. prefix: %d", rc);
    if (rc == 0) CHECK((rc = run(a4, 0)) == 0, "convert_bert.py (no prefix) exited with %d", rc);
    return rc;
}

/* check_grads: every parameter's gradient in m against torch's (st's /grad/...) */
static void check_grads(const Bert *m, Store *st) {
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->n_tensors; i++) {
        const BertTensor *t = &m->tensor[i];
        char path[256];
        bert_tensor_path(path + 5, sizeof path - 5, t->name);
        memcpy(path, "/grad", 5);
        double *g = torch_ref_load(st, path, DT_F64, t->ndim, t->dims);
        if (!g) continue;
        double scale = ref_max_abs(g, t->count);
        if (strstr(t->name, "attention.self.key.bias")) {
            /* exact gradient 0 (q . bk is constant along keys): judge on the key weight */
            char pw[256];
            bert_tensor_path(pw + 5, sizeof pw - 5, m->tensor[i - 1].name);
            memcpy(pw, "/grad", 5);
            const BertTensor *tw = &m->tensor[i - 1];
            double *gw = torch_ref_load(st, pw, DT_F64, tw->ndim, tw->dims);
            if (gw) scale = fmax(scale, ref_max_abs(gw, tw->count));
            free(gw);
        }
        double r = compare(t->grad, g, t->count, scale, t->name);
        if (r > worst) worst = r, worst_name = t->name;
        free(g);
    }
    printf("gradients of %d tensors: worst err/tol %.3f (%s)\n", m->n_tensors, worst, worst_name);
}

int main(void) {
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (!root) return check_skip(NAME, "DRRL_SOURCE_ROOT is not set (run through meson test)");
    if (access(PY, X_OK) != 0) return check_skip(NAME, PY " not found");
    char *probe[] = {PY, "-c", "import torch, h5py, numpy", NULL};
    if (run(probe, 1) != 0)
        return check_skip(NAME, "PyTorch, h5py or numpy not importable by " PY
                                " (scripts/install-deps.sh --test)");
    char dir[] = "/tmp/drrl_bert_torch_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    Files f;
    snprintf(f.sd, sizeof f.sd, "%s/state_dict.pt", dir);
    snprintf(f.sd2, sizeof f.sd2, "%s/state_dict_noprefix.pt", dir);
    snprintf(f.ref, sizeof f.ref, "%s/ref.h5", dir);
    snprintf(f.model, sizeof f.model, "%s/model.h5", dir);
    snprintf(f.model2, sizeof f.model2, "%s/model2.h5", dir);
    if (make_files(&f, root) != 0) return check_exit(NAME);

    Err e;
    err_clear(&e);
    Store *st = NULL;
    CHECK(store_open(&st, f.ref, "drrl-bert-ref", 1, 1, &e) == ST_OK, "open ref: %s", e.msg);
    if (!st) return check_exit(NAME);
    int64_t Bv = 0, Nv = 0;
    store_get_attr_i64(st, "/", "B", &Bv, &e);
    store_get_attr_i64(st, "/", "N", &Nv, &e);
    const int B = (int)Bv, N = (int)Nv;
    BertConfig c;
    CHECK(bert_read_config(f.model, &c, &e) == ST_OK, "read_config: %s", e.msg);
    int64_t v = 0;
    store_get_attr_i64(st, "/", "n_classes", &v, &e);
    CHECK(c.vocab == 50 && c.d_model == 16 && c.n_heads == 2 && c.d_ff == 24 && c.n_layers == 2 &&
              c.n_classes == (int)v && c.max_pos == 16 && c.type_vocab == 2 && c.ln_eps == 1e-12f,
          "architecture inferred by the converter");
    Bert m, m2;
    CHECK(bert_init(&m, &c, B, N, 1, &e) == ST_OK, "init: %s", e.msg);
    CHECK(bert_load(&m, f.model, NULL, &e) == ST_OK, "load: %s", e.msg);
    const int K = c.n_classes;
    int64_t dBN[2] = {B, N}, dB[1] = {B}, dBK[2] = {B, K}, d1[1] = {1};
    int32_t *ids = torch_ref_load(st, "/ids", DT_I32, 2, dBN);
    int32_t *tids = torch_ref_load(st, "/type_ids", DT_I32, 2, dBN);
    uint8_t *mask = torch_ref_load(st, "/mask", DT_U8, 2, dBN);
    int32_t *labels = torch_ref_load(st, "/labels", DT_I32, 1, dB);
    double *logits = torch_ref_load(st, "/logits", DT_F64, 2, dBK);
    double *loss = torch_ref_load(st, "/loss", DT_F64, 1, d1);
    if (!ids || !tids || !mask || !labels || !logits || !loss) return check_exit(NAME);

    float l = bert_forward(&m, ids, tids, mask, labels, B, N, 0, NULL);
    printf("loss: ours %.9f, torch %.9f\n", (double)l, loss[0]);
    CHECK(fabs(l - loss[0]) <= RTOL * fabs(loss[0]) + ATOL, "loss: ours %.9g, torch %.9g",
          (double)l, loss[0]);
    double w = compare(bert_logits(&m), logits, (size_t)B * K,
                       ref_max_abs(logits, (size_t)B * K), "logits");
    printf("  %-60s worst err/tol %.3f\n", "logits", w);
    bert_backward(&m, ids, tids, labels, B, N);
    check_grads(&m, st);

    /* the same weights saved without the bert. prefix convert to the same model */
    CHECK(bert_init(&m2, &c, B, N, 0, &e) == ST_OK, "init 2: %s", e.msg);
    CHECK(bert_load(&m2, f.model2, NULL, &e) == ST_OK, "load no-prefix model: %s", e.msg);
    bert_forward(&m2, ids, tids, mask, NULL, B, N, 0, NULL);
    CHECK(memcmp(bert_logits(&m), bert_logits(&m2), sizeof(float) * (size_t)B * K) == 0,
          "no-prefix state_dict: bit-identical logits");

    bert_free(&m);
    bert_free(&m2);
    store_close(st);
    free(ids), free(tids), free(mask), free(labels), free(logits), free(loss);
    int ret = check_exit(NAME);
    if (ret == 0) {
        unlink(f.sd), unlink(f.sd2), unlink(f.ref), unlink(f.model), unlink(f.model2);
        rmdir(dir);
    }
    return ret;
}
