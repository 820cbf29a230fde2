/* base_run.c: the config of a drrl-base run (file or checkpoint, overrides, the resume contract)
 * and the evaluation of a saved model file on a split (see base_run.h). */
#include "pipeline/base_run.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/progress.h"
#include "core/store.h"
#include "data/encode.h"
#include "model/bert_io.h"
#include "pipeline/base_ckpt.h"
#include "pipeline/base_eval.h"
#include "pipeline/base_lm.h"
#include "pipeline/resume.h"

/* the keys a resume may change (pipeline/resume.h): how long, how often to log, evaluate and
   save, the evaluation batch, how many non-finite steps in a row to tolerate */
#define BASE_MAY_CHANGE "train.max_steps|train.log_every|train.checkpoint_every|" \
                        "train.eval_every|eval.batch|train.max_nonfinite"

Status base_run_config(const char *cfg_path, const char *resume, const char *const *over,
                       int n_over, BaseConfig *c, char **yaml, char *ckpt, size_t cap,
                       FILE *info, Err *e) {
    static const ResumeRule rule = {&base_schema, sizeof(BaseConfig),
                                    offsetof(BaseConfig, run.dir), BASE_MAY_CHANGE};
    char *stored = NULL, dir[4096];
    Status s = ST_OK;
    *yaml = NULL;
    if (ckpt) ckpt[0] = 0;
    if (resume) {
        /* --resume DIR is DIR/checkpoint.h5; the run continues in the checkpoint's folder */
        int is_dir = 0;
        s = resume_kind(resume, &is_dir, e);
        if (!s && is_dir) snprintf(dir, sizeof dir, "%s", resume);
        else if (!s) s = resume_parent(resume, dir, sizeof dir, e);
        int n = is_dir ? snprintf(ckpt, cap, "%s/checkpoint.h5", resume) : snprintf(ckpt, cap, "%s", resume);
        if (!s && (n < 0 || (size_t)n >= cap))
            s = err_set(e, ST_INVALID, "--resume %s: expected a path of at most %zu bytes", resume, cap - 16);
        if (!s) s = base_ckpt_config(ckpt, &stored, e);
        if (!s) s = resume_config(&rule, ckpt, stored, dir, cfg_path, over, n_over, c, info, e);
    } else {
        s = config_load(&base_schema, c, cfg_path, over, n_over, e);
    }
    if (!s) s = config_to_yaml(&base_schema, c, yaml, e);
    free(stored);
    if (s) {
        free(*yaml);
        *yaml = NULL;
    }
    return s;
}

/* length_check: a learned position table has max_pos rows; conv positions run at any N
   (checked before any data is read) */
static Status length_check(const char *model_path, const BertConfig *bc, const BaseConfig *c,
                           Err *e) {
    if (c->data.max_len > bert_max_len(bc))
        return err_set(e, ST_CONFIG, "data.max_len: expected at most %d (the max_pos of %s, "
                       "whose positions are learned: no position embedding exists past it; only "
                       "a model with model.position: conv evaluates longer), found %d",
                       bc->max_pos, model_path, c->data.max_len);
    return ST_OK;
}

/* vocab_check: the model's vocabulary (hash and size) against the config's */
static Status vocab_check(const char *model_path, const BertConfig *bc, const BertFileInfo *info,
                          const BaseConfig *c, const BaseVocab *voc, Err *e) {
    const char *vname = voc->imdb     ? "the byte vocabulary of data.format imdb"
                        : voc->recall ? "the recall vocabulary of data.recall.*"
                                      : c->data.vocab;
    if (info->vocab_sha256[0] && strcmp(voc->sha, info->vocab_sha256))
        return err_set(e, ST_FORMAT, "%s: vocab_sha256: expected %s (%s), found %s: "
                       "the model was trained with another vocabulary", model_path, voc->sha,
                       vname, info->vocab_sha256);
    if (voc->vocab != bc->vocab)
        return err_set(e, ST_FORMAT, "%s: vocab: expected %d (%s, data.format %s), found %d",
                       model_path, voc->vocab, vname, c->data.format, bc->vocab);
    return ST_OK;
}

/* write_preds: pred_dir/SST-2.tsv, pred_dir/IMDB.tsv or pred_dir/RECALL.tsv */
static Status write_preds(const char *pred_dir, const BaseConfig *c, const EncodedSet *set,
                          const int32_t *pred, char *written, size_t cap, Err *e) {
    char path[4096];
    const char *name = base_is_imdb(c) ? "IMDB.tsv" : base_is_recall(c) ? "RECALL.tsv" : "SST-2.tsv";
    int n = snprintf(path, sizeof path, "%s/%s", pred_dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return err_set(e, ST_INVALID, "--out: expected a folder name of at most %zu bytes, "
                       "found %zu", sizeof path - 2 - strlen(name), strlen(pred_dir));
    Status s = store_mkdirs(pred_dir, e);
    if (!s) s = predictions_write(path, set->index, pred, set->n, e);
    if (!s) snprintf(written, cap, "%s", path);
    return s;
}

Status base_run_model_config(const char *model, const char *const *over, int n_over,
                             BaseConfig *c, Err *e) {
    Store *st = NULL;
    char *yaml = NULL, src[CONFIG_STR_MAX + 32];
    Status s = store_open(&st, model, BERT_FILE_FORMAT, 1, BERT_FILE_VERSION, e);
    if (s) return s;
    if (store_exists(st, "/config")) s = store_read_text(st, "/config", &yaml, e);
    store_close(st);
    if (s) return s;
    snprintf(src, sizeof src, "%s:/config", model);
    s = config_load_text(&base_schema, c, yaml ? yaml : "", src, over, n_over, e);
    free(yaml);
    return s;
}

/* the held-out bits per byte of a language model (base_lm.h) on set */
static Status eval_lm(Bert *m, const EncodedSet *set, const BaseConfig *c, const char *model_path,
                      const char *split, const char *desc, FILE *f, Err *e) {
    LmEvalResult r;
    Progress prog;
    int64_t tokens = 0;
    for (int i = 0; i < set->n; i++) tokens += set->len[i];
    progress_init(&prog, f, "drrl-base --eval: tokens", tokens, 10.0);
    Status s = base_lm_evaluate(m, set, c->eval.batch, &r, NULL, NULL, &prog, e);
    if (s) return s;
    char what[2 * CONFIG_STR_MAX + 128];
    snprintf(what, sizeof what, "%s on %s (%s, max_len %d)", model_path, split, desc,
             c->data.max_len);
    base_lm_print(f, what, &r);
    return ST_OK;
}

Status base_run_eval(const char *model_path, const char *split, int limit, const char *pred_dir,
                     const char *const *over, int n_over, FILE *f, char *written, size_t cap,
                     Err *e) {
    BertConfig bc;
    BertFileInfo info;
    Bert m;
    BaseConfig c;
    BaseVocab voc;
    EncodedSet set;
    memset(&info, 0, sizeof info);
    memset(&m, 0, sizeof m);
    memset(&voc, 0, sizeof voc);
    memset(&set, 0, sizeof set);
    int32_t *pred = NULL;
    char desc[CONFIG_STR_MAX + 128];
    Status s;
    /* the output folder first: a file there, or a folder that cannot be made, fails now, not
       after the work */
    struct stat sb;
    if (pred_dir && stat(pred_dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        s = err_set(e, ST_INVALID, "--out: expected a folder for the predictions, found the file "
                    "%s%s", pred_dir, !strcmp(pred_dir, model_path) ? " (the model itself)" : "");
        goto out;
    }
    if (pred_dir && (s = store_mkdirs(pred_dir, e))) goto out;
    if ((s = bert_read_config(model_path, &bc, e))) goto out;
    /* the stored config gives data paths and max_len; any key can be overridden */
    if ((s = base_run_model_config(model_path, over, n_over, &c, e))) goto out;
    if ((s = length_check(model_path, &bc, &c, e))) goto out;
    if ((s = base_vocab_open(&voc, &c, e))) goto out;
    if ((s = bert_init(&m, &bc, c.eval.batch, c.data.max_len, 0, e))) goto out;
    if ((s = bert_load(&m, model_path, &info, e))) goto out;
    if ((s = vocab_check(model_path, &bc, &info, &c, &voc, e))) goto out;
    if ((s = base_load_split(&set, &c, &voc, split, limit, 0, desc, sizeof desc, e))) goto out;
    if (bc.arch == BERT_ARCH_DECODER) { /* a language model: bits per byte, no predictions */
        s = eval_lm(&m, &set, &c, model_path, split, desc, f, e);
        goto out;
    }
    int labelled = 0;
    for (int i = 0; i < set.n && !labelled; i++) labelled = set.label[i] >= 0;
    if (!labelled && !pred_dir) { /* the predictions would be the only result, and kept nowhere */
        s = err_set(e, ST_INVALID, "--split %s: expected --out DIR (%s is unlabelled: its "
                    "predictions are the only result), found none", split, desc);
        goto out;
    }

    pred = malloc(sizeof(int32_t) * (size_t)(set.n > 0 ? set.n : 1));
    if (!pred) {
        s = err_set(e, ST_NOMEM, "out of memory");
        goto out;
    }
    EvalResult r;
    Progress prog; /* units: real tokens (rows run shortest first) */
    int64_t tokens = 0;
    for (int i = 0; i < set.n; i++) tokens += set.len[i];
    progress_init(&prog, f, "drrl-base --eval: tokens", tokens, 10.0);
    if ((s = base_evaluate(&m, &set, c.eval.batch, pred, &r, &prog, e))) goto out;
    char what[2 * CONFIG_STR_MAX + 128];
    snprintf(what, sizeof what, "%s on %s (%s, max_len %d)", model_path, split, desc,
             c.data.max_len);
    eval_print(f, what, &r);
    if (voc.recall && r.n_labeled) {
        RecallConfig rc = base_recall_config(&c);
        recall_print_by_pairs(f, &rc, &set, pred);
    }
    if (pred_dir) s = write_preds(pred_dir, &c, &set, pred, written, cap, e);
out:
    free(pred);
    encoded_free(&set);
    base_vocab_close(&voc);
    bert_free(&m);
    bert_file_info_free(&info);
    return s;
}
