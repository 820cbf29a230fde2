/* base.c: drrl-base, the frozen model's command: train the BERT-style classifier (SST-2
 * with WordPiece, or byte-level IMDB: data.format), or evaluate a saved one at full rank.
 *
 *   drrl-base [--config FILE.yaml] [--resume CKPT] [key.path=value ...]   train
 *   drrl-base --eval MODEL.h5 [--split dev|test|train] [--out FILE] [key.path=value ...]
 *   drrl-base --print-config [--config FILE.yaml] [key.path=value ...]
 *
 * Training prints progress and dev accuracy, writes RUN_DIR/model.h5 (best dev model),
 * RUN_DIR/checkpoint.h5 and RUN_DIR/metrics.csv, then evaluates the best model. --eval reads
 * the config stored in the model file (data paths, vocabulary, max_len; overridable), checks
 * the vocabulary's hash against the model's, and prints accuracy, confusion matrix and
 * examples/s; --split test writes GLUE predictions (index<TAB>prediction) to --out.
 * data.max_len=N evaluates at another length than trained: any N for a model with
 * convolutional positions (model.position: conv), at most its max_pos for learned ones (an
 * error otherwise, before any data is read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/base_ckpt.h"
#include "pipeline/base_config.h"
#include "pipeline/base_eval.h"
#include "pipeline/base_train.h"
#include "core/sha256.h"
#include "data/encode.h"
#include "model/bert_io.h"

static void die(const Err *e) {
    fprintf(stderr, "drrl-base: error: %s\n", e->msg);
    exit(1);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: drrl-base [--config FILE.yaml] [--resume CKPT] [key.path=value ...]\n"
            "       drrl-base --eval MODEL.h5 [--split dev|test|train] [--out FILE] [key.path=value ...]\n"
            "       drrl-base --print-config [--config FILE.yaml] [key.path=value ...]\n"
            "Trains the frozen classifier (BERT-style encoder; SST-2 or byte-level IMDB) or\n"
            "evaluates a saved one (data.max_len=N evaluates a conv-position model at N).\n"
            "Without --config the embedded defaults (= configs/sst2-base.yaml) are used.\n");
}

/* first_diff: the first line where two texts differ, for a readable mismatch message */
static void first_diff(const char *a, const char *b, char *out, size_t cap) {
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++, b++;
    }
    int na = (int)strcspn(la, "\n"), nb = (int)strcspn(lb, "\n");
    snprintf(out, cap, "line %d: '%.*s' vs '%.*s'", line, na, la, nb, lb);
}

/* evaluate a model file on one split; pred_out (GLUE TSV) for unlabelled splits */
static Status run_eval(const char *model_path, const char *split, const char *out_path,
                       const char *const *over, int n_over, Err *e) {
    BertConfig bc;
    BertFileInfo info;
    memset(&info, 0, sizeof info);
    Bert m;
    memset(&m, 0, sizeof m);
    BaseConfig c;
    BaseVocab voc;
    EncodedSet set;
    memset(&voc, 0, sizeof voc);
    memset(&set, 0, sizeof set);
    int32_t *pred = NULL;
    char src[CONFIG_STR_MAX + 32], desc[CONFIG_STR_MAX + 64];
    Status s;
    if ((s = bert_read_config(model_path, &bc, e))) goto out;
    /* the stored config gives data paths and max_len; any key can be overridden */
    if ((s = bert_init(&m, &bc, 1, 1, 0, e))) goto out; /* sized below, once max_len is known */
    if ((s = bert_load(&m, model_path, &info, e))) goto out;
    bert_free(&m);
    snprintf(src, sizeof src, "%s:/config", model_path);
    if ((s = config_load_text(&base_schema, &c, info.config_yaml, src, over, n_over, e))) goto out;
    /* the length: a learned position table has max_pos rows; conv positions run at any N */
    if (c.data.max_len > bert_max_len(&bc)) {
        s = err_set(e, ST_CONFIG, "data.max_len: expected at most %d (the max_pos of %s, whose "
                    "positions are learned: no position embedding exists past it; only a model "
                    "with model.position: conv evaluates longer), found %d", bc.max_pos,
                    model_path, c.data.max_len);
        goto out;
    }
    if ((s = base_vocab_open(&voc, &c, e))) goto out;
    const char *vname = voc.imdb ? "the byte vocabulary of data.format imdb" : c.data.vocab;
    if (info.vocab_sha256[0] && strcmp(voc.sha, info.vocab_sha256)) {
        s = err_set(e, ST_FORMAT, "%s: vocab_sha256: expected %s (%s), found %s: "
                    "the model was trained with another vocabulary", model_path, voc.sha,
                    vname, info.vocab_sha256);
        goto out;
    }
    if (voc.vocab != bc.vocab) {
        s = err_set(e, ST_FORMAT, "%s: vocab: expected %d (%s, data.format %s), found %d",
                    model_path, voc.vocab, vname, c.data.format, bc.vocab);
        goto out;
    }
    if ((s = base_load_split(&set, &c, &voc, split, 0, 0, desc, sizeof desc, e))) goto out;
    if ((s = bert_init(&m, &bc, c.eval.batch, c.data.max_len, 0, e))) goto out;
    if ((s = bert_load(&m, model_path, NULL, e))) goto out;
    pred = malloc(sizeof(int32_t) * (size_t)set.n);
    if (!pred) {
        s = err_set(e, ST_NOMEM, "out of memory");
        goto out;
    }
    EvalResult r;
    if ((s = base_evaluate(&m, &set, c.eval.batch, pred, &r, e))) goto out;
    char what[2 * CONFIG_STR_MAX + 128];
    snprintf(what, sizeof what, "%s on %s (%s, max_len %d)", model_path, split, desc,
             c.data.max_len);
    eval_print(stdout, what, &r);
    if (out_path) {
        if ((s = predictions_write(out_path, set.index, pred, set.n, e))) goto out;
        printf("predictions written to %s\n", out_path);
    }
out:
    free(pred);
    encoded_free(&set);
    base_vocab_close(&voc);
    bert_free(&m);
    bert_file_info_free(&info);
    return s;
}

int main(int argc, char **argv) {
    const char *cfg_path = NULL, *resume = NULL, *eval_model = NULL, *split = "dev", *out = NULL;
    const char *over[128];
    int n_over = 0, print_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--config") && more) cfg_path = argv[++i];
        else if (!strcmp(a, "--resume") && more) resume = argv[++i];
        else if (!strcmp(a, "--eval") && more) eval_model = argv[++i];
        else if (!strcmp(a, "--split") && more) split = argv[++i];
        else if (!strcmp(a, "--out") && more) out = argv[++i];
        else if (!strcmp(a, "--print-config")) print_only = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (a[0] != '-' && strchr(a, '=') && n_over < 128) over[n_over++] = a;
        else {
            fprintf(stderr, "drrl-base: error: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    Err e;
    err_clear(&e);
    if (strcmp(split, "dev") && strcmp(split, "test") && strcmp(split, "train")) {
        fprintf(stderr, "drrl-base: error: --split: expected dev, test or train, found '%s'\n", split);
        return 2;
    }
    if (eval_model) {
        if (run_eval(eval_model, split, out, over, n_over, &e)) die(&e);
        return 0;
    }
    BaseConfig c;
    char *stored = NULL;
    if (resume && base_ckpt_config(resume, &stored, &e)) die(&e);
    if (resume && !cfg_path) {
        /* the checkpoint's own config, with the command line's overrides */
        char src[CONFIG_STR_MAX + 32];
        snprintf(src, sizeof src, "%s:/config", resume);
        if (config_load_text(&base_schema, &c, stored, src, over, n_over, &e)) die(&e);
    } else if (config_load(&base_schema, &c, cfg_path, over, n_over, &e)) {
        die(&e);
    }
    char *yaml = NULL;
    if (config_to_yaml(&base_schema, &c, &yaml, &e)) die(&e);
    if (resume) {
        /* the run-control keys may change on resume (how long, how often to log, checkpoint
           and evaluate); everything that shapes the training itself must match */
        BaseConfig sc;
        char *norm = NULL;
        if (config_load_text(&base_schema, &sc, stored, resume, NULL, 0, &e)) die(&e);
        sc.train.max_steps = c.train.max_steps;
        sc.train.log_every = c.train.log_every;
        sc.train.checkpoint_every = c.train.checkpoint_every;
        sc.train.eval_every = c.train.eval_every;
        sc.eval.batch = c.eval.batch;
        memcpy(sc.run.dir, c.run.dir, sizeof sc.run.dir);
        if (config_to_yaml(&base_schema, &sc, &norm, &e)) die(&e);
        free(stored);
        stored = norm;
    }
    if (resume && strcmp(yaml, stored)) {
        char d[512];
        first_diff(yaml, stored, d, sizeof d);
        fprintf(stderr, "drrl-base: error: %s: config: expected the checkpoint's config, found a "
                "different one (%s); resume without --config to use the checkpoint's\n", resume, d);
        return 1;
    }
    free(stored);
    printf("# resolved config (%s)\n%s\n", cfg_path ? cfg_path : resume ? resume : "embedded defaults",
           yaml);
    if (print_only) {
        free(yaml);
        return 0;
    }
    fflush(stdout);
    int interrupted = 0;
    if (base_train(&c, yaml, resume, &interrupted, &e)) die(&e);
    free(yaml);
    if (interrupted) return 130;
    char model[CONFIG_STR_MAX + 16];
    snprintf(model, sizeof model, "%s/model.h5", c.run.dir);
    printf("\nevaluating the best model:\n");
    if (run_eval(model, "dev", NULL, NULL, 0, &e)) die(&e);
    return 0;
}
