/* test_convert_bert.c: drrl-convert bert end to end against PyTorch.
 *     /usr/bin/python3 scripts/bert_safetensors_ref.py DIR
 * writes a Hugging Face BERT checkpoint by hand (config.json; model.safetensors: F32 in
 * BertForSequenceClassification's names with the position_ids buffer; mixed.safetensors: the
 * same weights with the word embeddings in BF16, layer 0 in F16, the pooler in F64, written in
 * reverse order, plus cls.* pre-training heads) and float64 reference logits of both on a
 * padded batch (scripts/bert_ref.py's model, weights and batch). Then:
 *   1. the library (convert_bert) converts model.safetensors, its note (1 position_ids
 *      tensor ignored) going to a file; bert_read_config + bert_init + bert_load of the
 *      result, an eval forward, logits against torch's;
 *   2. the program (argv[1], drrl-convert) converts mixed.safetensors: exit 0, its closing
 *      line, the note about the 4 cls.* tensors; logits against torch's of the rounded
 *      weights, and away from those of the F32 weights by more than the tolerance (so the
 *      comparison does see F16/BF16 rounding);
 *   3. the program's command-line errors: no architecture, an unknown one, a missing --out,
 *      a flag given twice (exit 2, one message each) and a missing config file (exit 1).
 * Tolerance: |ours - torch| <= RTOL |torch| + ATOL max|torch| (RTOL 1e-4, ATOL 1e-5), as
 * tests/model/test_bert_torch.c: torch runs in float64 on the values we load, so this
 * measures our float32 error. Skips (77) without DRRL_SOURCE_ROOT, /usr/bin/python3, torch,
 * numpy or h5py. */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/file.h"
#include "core/store.h"
#include "model/bert.h"
#include "model/bert_io.h"
#include "model/convert.h"
#include "tests/check.h"
#include "tests/ref.h"
#include "tests/run.h"
#include "tests/torch_ref.h"

#define NAME "test_convert_bert"
#define PY "/usr/bin/python3"
#define RTOL 1e-4
#define ATOL 1e-5

static char dir[] = "/tmp/drrl_convert_bert_XXXXXX";

static const char *at(const char *file) {
    static char buf[32][600]; /* a ring: up to 32 paths in use at once */
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, file);
    return buf[k];
}

/* run_capture: argv with stdout and stderr into files; the exit status (-1: no exit) */
static int run_capture(char *const argv[], const char *out, const char *err) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr)) _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* slurp: a whole text file ("" when unreadable; the caller frees) */
static char *slurp(const char *path) {
    char *t = NULL;
    size_t n;
    Err e;
    if (file_read_all(path, &t, &n, &e)) t = calloc(1, 1);
    return t;
}

/* within: the tolerance above, counting failures (reported) */
static int within(const float *ours, const double *ref, size_t n, const char *what) {
    double scale = ref_max_abs(ref, n), worst = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)ours[i] - ref[i]), lim = RTOL * fabs(ref[i]) + ATOL * scale;
        worst = fmax(worst, err / lim);
        if (err > lim) bad++;
    }
    printf("  %-28s worst err/tol %.3f\n", what, worst);
    return bad;
}

typedef struct {
    int B, N;
    int32_t *ids, *tids;
    uint8_t *mask;
    double *logits, *logits_mixed; /* (B, 3) */
} Ref;

/* logits_of: the model file's logits on the reference batch into out (B * K) */
static int logits_of(const char *model, const Ref *r, float *out) {
    Err e;
    err_clear(&e);
    BertConfig c;
    Bert *m = calloc(1, sizeof *m);
    int ok = m && bert_read_config(model, &c, &e) == ST_OK && c.n_classes == 3 &&
             bert_init(m, &c, r->B, r->N, 0, &e) == ST_OK && bert_load(m, model, NULL, &e) == ST_OK;
    CHECK(ok, "loading %s: %s", model, e.msg);
    if (ok) {
        CHECK(c.vocab == 50 && c.d_model == 16 && c.n_heads == 2 && c.d_ff == 24 &&
                  c.n_layers == 2 && c.max_pos == 16 && c.type_vocab == 2 && c.ln_eps == 1e-12f &&
                  c.dropout == 0.1f && c.attn_dropout == 0.1f && c.position == BERT_POS_LEARNED,
              "%s: the architecture of config.json", model);
        bert_forward(m, r->ids, r->tids, r->mask, NULL, r->B, r->N, 0, NULL);
        memcpy(out, bert_logits(m), sizeof(float) * (size_t)r->B * 3);
    }
    if (m) bert_free(m);
    free(m);
    return ok;
}

static int load_ref(Ref *r) {
    Err e;
    Store *st = NULL;
    CHECK(store_open(&st, at("ref.h5"), "drrl-bert-safetensors-ref", 1, 1, &e) == ST_OK,
          "ref: %s", e.msg);
    if (!st) return 0;
    int64_t B = 0, N = 0;
    store_get_attr_i64(st, "/", "B", &B, &e);
    store_get_attr_i64(st, "/", "N", &N, &e);
    r->B = (int)B, r->N = (int)N;
    int64_t dBN[2] = {B, N}, dBK[2] = {B, 3};
    r->ids = torch_ref_load(st, "/ids", DT_I32, 2, dBN);
    r->tids = torch_ref_load(st, "/type_ids", DT_I32, 2, dBN);
    r->mask = torch_ref_load(st, "/mask", DT_U8, 2, dBN);
    r->logits = torch_ref_load(st, "/logits", DT_F64, 2, dBK);
    r->logits_mixed = torch_ref_load(st, "/logits_mixed", DT_F64, 2, dBK);
    store_close(st);
    return r->ids && r->tids && r->mask && r->logits && r->logits_mixed;
}

/* test_library: model.safetensors through convert_bert */
static void test_library(const Ref *r) {
    FILE *notes = fopen(at("notes.txt"), "w");
    ConvertOpts o = {.config = at("config.json"), .weights = at("model.safetensors"),
                     .out = at("model.h5"), .seed = 1, .note = notes};
    ConvertResult res;
    Err e;
    err_clear(&e);
    CHECK(convert_bert(&o, &res, &e) == ST_OK, "convert_bert: %s", e.msg);
    if (notes) fclose(notes);
    char want[1024];
    snprintf(want, sizeof want, "drrl-convert: note: %s: ignoring 1 tensor (position_ids "
             "buffers)\n", at("model.safetensors"));
    char *got = slurp(at("notes.txt"));
    CHECK(!strcmp(got, want), "notes:\n  got:  %s  want: %s", got, want);
    free(got);
    CHECK(res.n_params == 5363 && res.initialised == 0, "5363 parameters converted, found %zu",
          res.n_params);
    float lg[64];
    if (logits_of(at("model.h5"), r, lg))
        CHECK(within(lg, r->logits, (size_t)r->B * 3, "logits (F32 file)") == 0,
              "logits of model.safetensors outside the tolerance");
}

/* test_program: mixed.safetensors through drrl-convert */
static void test_program(const char *prog, const Ref *r) {
    char *argv[] = {(char *)prog, "bert", "--config", (char *)at("config.json"),
                    "--weights", (char *)at("mixed.safetensors"), "--out", (char *)at("mixed.h5"),
                    "--seed=3", NULL};
    int rc = run_capture(argv, at("out.txt"), at("err.txt"));
    char *out = slurp(at("out.txt")), *err = slurp(at("err.txt")), want[1024];
    CHECK(rc == 0, "drrl-convert bert (mixed): exit %d, stderr %s", rc, err);
    snprintf(want, sizeof want, "drrl-convert: wrote %s: BERT vocab 50, max_pos 16, type_vocab 2, "
             "d_model 16, n_heads 2, d_ff 24, n_layers 2, n_classes 3, ln_eps 1e-12; 5363 "
             "parameters\n", at("mixed.h5"));
    CHECK(!strcmp(out, want), "stdout:\n  got:  %s  want: %s", out, want);
    snprintf(want, sizeof want, "drrl-convert: note: %s: ignoring 4 tensors (pre-training heads, "
             "cls.*)\n", at("mixed.safetensors"));
    CHECK(!strcmp(err, want), "stderr:\n  got:  %s  want: %s", err, want);
    free(out), free(err);
    float lg[64];
    if (!logits_of(at("mixed.h5"), r, lg)) return;
    size_t n = (size_t)r->B * 3;
    CHECK(within(lg, r->logits_mixed, n, "logits (BF16/F16/F64 file)") == 0,
          "logits of mixed.safetensors outside the tolerance");
    CHECK(within(lg, r->logits, n, "  the same against F32's") > 0,
          "the F16/BF16 rounding must be visible at this tolerance");
}

/* expect_exit: the program with args exits with code and its stderr is want */
static void expect_exit(const char *prog, char **args, int code, const char *want) {
    char *argv[16] = {(char *)prog};
    int n = 1;
    while (args[n - 1] && n < 15) argv[n] = args[n - 1], n++;
    argv[n] = NULL;
    int rc = run_capture(argv, at("out.txt"), at("err.txt"));
    char *err = slurp(at("err.txt"));
    CHECK(rc == code && !strcmp(err, want), "%s ...: exit %d (want %d), stderr\n  got:  %s  "
          "want: %s", args[0] ? args[0] : "(none)", rc, code, err, want);
    free(err);
}

static void test_cli(const char *prog) {
    expect_exit(prog, (char *[]){NULL}, 2, "drrl-convert: error: expected an architecture "
                "(bert|gpt2) first, found nothing (drrl-convert --help lists them)\n");
    expect_exit(prog, (char *[]){"bertt", NULL}, 2, "drrl-convert: error: 'bertt': expected an "
                "architecture (bert|gpt2) first, found an unknown one; did you mean bert?\n");
    expect_exit(prog, (char *[]){"bert", "--config", "c.json", "--weights", "w", NULL}, 2,
                "drrl-convert: error: --out: expected the model file to write, found nothing "
                "(the flag is required)\n");
    expect_exit(prog, (char *[]){"bert", "--out", "a", "--out", "b", NULL}, 2,
                "drrl-convert: error: --out: expected once, found it again ('b' after 'a')\n");
    expect_exit(prog, (char *[]){"bert", "--config", "c.json", "--weights", "w", "--out", "o",
                "--n-classes", "0", NULL}, 2, "drrl-convert: error: --n-classes: expected an "
                "integer in [1, 1048576], found '0'\n");
    char *missing[] = {"bert", "--config", (char *)at("none.json"), "--weights",
                       (char *)at("model.safetensors"), "--out", (char *)at("x.h5"), NULL};
    char *argv[16] = {(char *)prog};
    for (int i = 0; missing[i]; i++) argv[i + 1] = missing[i], argv[i + 2] = NULL;
    int rc = run_capture(argv, at("out.txt"), at("err.txt"));
    char *err = slurp(at("err.txt"));
    CHECK(rc == 1 && strstr(err, at("none.json")) && access(at("x.h5"), F_OK) != 0,
          "a missing config: exit %d (want 1), stderr %s, no output file", rc, err);
    free(err);
}

int main(int argc, char **argv) {
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (argc != 2) {
        fprintf(stderr, "usage: %s DRRL_CONVERT\n", argv[0]);
        return 1;
    }
    if (!root) return check_skip(NAME, "DRRL_SOURCE_ROOT is not set (run through meson test)");
    if (access(PY, X_OK) != 0) return check_skip(NAME, PY " not found");
    char *probe[] = {PY, "-c", "import torch, h5py, numpy", NULL};
    if (run(probe, 1) != 0)
        return check_skip(NAME, "PyTorch, h5py or numpy not importable by " PY);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char script[1024];
    snprintf(script, sizeof script, "%s/scripts/bert_safetensors_ref.py", root);
    char *gen[] = {PY, script, dir, NULL};
    int rc = run(gen, 0);
    CHECK(rc == 0, "bert_safetensors_ref.py exited with %d", rc);
    Ref r = {0};
    if (rc == 0 && load_ref(&r)) {
        test_library(&r);
        test_program(argv[1], &r);
        test_cli(argv[1]);
    }
    free(r.ids), free(r.tids), free(r.mask), free(r.logits), free(r.logits_mixed);
    int ret = check_exit(NAME);
    if (ret == 0) {
        const char *files[] = {"config.json", "model.safetensors", "mixed.safetensors", "ref.h5",
                               "model.h5", "mixed.h5", "notes.txt", "out.txt", "err.txt"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(at(files[i]));
        rmdir(dir);
    } else {
        fprintf(stderr, "%s: files kept in %s\n", NAME, dir);
    }
    return ret;
}
