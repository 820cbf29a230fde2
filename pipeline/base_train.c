/* base_train.c: training the frozen classifier (drrl-base): SST-2 with WordPiece, byte-level
 * IMDB or generated associative recall (data.format, base_eval.h), with learned or
 * convolutional positions. The training data's hash (data_sha256 of the model and checkpoint)
 * is the SHA-256 of the data.train file, or for recall of the generated training rows (ids
 * then labels, int32 little-endian as in memory).
 *
 * One step: gather a length-bucketed batch, forward with dropout, backward, clip the global
 * gradient norm, AdamW (decoupled weight decay on matrices and embeddings only) with the
 * learning rate warmed up linearly for warmup * total steps, then decayed linearly to zero
 * at the last step. Dev accuracy is measured every epoch (and every eval_every steps); the
 * best model is written to RUN_DIR/model.h5. A checkpoint (RUN_DIR/checkpoint.h5) is written
 * every checkpoint_every steps, at every epoch end and on SIGINT/SIGTERM; resuming from it
 * continues bit-exactly (same batches, same dropout masks, same weights). */
#include "pipeline/base_train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/base_ckpt.h"
#include "pipeline/base_eval.h"
#include "pipeline/base_lm.h"
#include "core/file.h"
#include "core/log.h"
#include "core/rundir.h"
#include "core/sha256.h"
#include "core/store.h"
#include "core/timer.h"
#include "data/bucket.h"
#include "data/encode.h"
#include "model/bert_io.h"
#include "model/lm.h"
#include "nn/optim.h"

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) { g_stop = sig; }

/* the learning rate of step s (1-based) of total, with W warm-up steps */
static double lr_at(double peak, int64_t s, int64_t total, int64_t W) {
    if (s <= W) return peak * (double)s / (double)W;
    return peak * (double)(total - s) / (double)(total - W > 0 ? total - W : 1);
}

typedef struct {
    BaseVocab vocab;
    EncodedSet train, dev;
    Bert m;
    BatchPlan plan;
    size_t n;          /* parameter count */
    float *adam;       /* (2, n) moments m then v */
    int32_t *ids;      /* (batch, max_len) */
    uint8_t *mask;     /* (batch, max_len) */
    int32_t *labels;   /* (batch) */
    int32_t *targets;  /* (batch, max_len) a language model's next-byte targets */
    int lm;            /* 1: model.arch decoder (base_lm.h): loss and dev in bits per byte */
    int32_t *pred;     /* (dev rows) dev predictions */
    FILE *csv;
    BaseProgress p;    /* where training stands (what a checkpoint stores) */
    OptimStep step;    /* the AdamW step counter */
    char ckpt_path[CONFIG_STR_MAX + 24];
    int64_t total, warm, stop_at; /* steps in all, warm-up steps, the step this run stops at */
    double t0;         /* time_now() when this process started training */
    /* the progress line's window: loss sum and count, examples, and steps of this process */
    double loss_sum, tok;
    int loss_n;
    int64_t steps_here;
    int64_t skipped;   /* steps skipped for non-finite numbers in the window */
    int force;         /* --force: a new run may move another run's files aside */
    RunLock lock;      /* RUN_DIR/.lock, held while training */
} Trainer;

static void trainer_free(Trainer *t) {
    base_vocab_close(&t->vocab);
    encoded_free(&t->train);
    encoded_free(&t->dev);
    bert_free(&t->m);
    batch_plan_free(&t->plan);
    free(t->adam);
    free(t->ids);
    free(t->mask);
    free(t->labels);
    free(t->targets);
    free(t->pred);
    if (t->csv) fclose(t->csv);
    rundir_unlock(&t->lock);
}

/* set_sha: SHA-256 (hex) of a generated set's ids (n, max_len) then labels (n) */
static void set_sha(const EncodedSet *s, char hex[65]) {
    Sha256 h;
    uint8_t d[32];
    sha256_init(&h);
    sha256_update(&h, s->ids, sizeof(int32_t) * (size_t)s->n * (size_t)s->max_len);
    sha256_update(&h, s->label, sizeof(int32_t) * (size_t)s->n);
    sha256_final(&h, d);
    sha256_hex(d, hex);
}

/* load vocabulary and data (base_eval.h: every format), encode, hash */
static Status trainer_data(Trainer *t, const BaseConfig *c, BaseProgress *p, Err *e) {
    Status s;
    char dtrain[CONFIG_STR_MAX + 128], ddev[CONFIG_STR_MAX + 128];
    if ((s = base_vocab_open(&t->vocab, c, e))) return s;
    if ((s = base_load_split(&t->train, c, &t->vocab, "train", c->data.train_limit, 1, dtrain,
                             sizeof dtrain, e)))
        return s;
    if ((s = base_load_split(&t->dev, c, &t->vocab, "dev", 0, 1, ddev, sizeof ddev, e)))
        return s;
    memcpy(p->vocab_sha, t->vocab.sha, sizeof p->vocab_sha);
    if (t->vocab.recall) set_sha(&t->train, p->data_sha);
    else if ((s = sha256_file(c->data.train, p->data_sha, e))) return s;
    if (t->vocab.recall)
        fprintf(log_info(), "data: %d train rows (%s; %d tokens each, %d..%d pairs of %d keys, "
                "%d values), %d dev (%s); vocabulary %d ids\n", t->train.n, dtrain,
                c->data.recall.length, c->data.recall.min_pairs, c->data.recall.max_pairs,
                c->data.recall.keys, c->data.recall.values, t->dev.n, ddev, t->vocab.vocab);
    else if (t->lm)
        fprintf(log_info(), "data: %d train rows (%s; %lld byte tokens), %d dev rows (%s); byte "
                "vocabulary (%d ids)\n", t->train.n, dtrain, (long long)t->train.n_tokens,
                t->dev.n, ddev, t->vocab.vocab);
    else if (t->vocab.imdb)
        fprintf(log_info(), "data: %d train reviews (%s; %lld byte tokens, %d cut to %d), %d dev (%s); byte "
               "vocabulary (%d ids)\n", t->train.n, dtrain, (long long)t->train.n_tokens,
               t->train.n_truncated, c->data.max_len, t->dev.n, ddev, t->vocab.vocab);
    else
        fprintf(log_info(), "data: %d train sentences (%lld tokens, %d cut to %d), %d dev; vocab %d pieces\n",
               t->train.n, (long long)t->train.n_tokens, t->train.n_truncated, c->data.max_len,
               t->dev.n, t->vocab.vocab);
    return ST_OK;
}

/* one AdamW step over every tensor at learning rate lr */
static void trainer_adamw(Trainer *t, const BaseConfig *c, const OptimStep *step, double lr) {
    size_t n = t->m.param_plan.bytes / sizeof(float);
    const float *base = t->m.param_plan.base;
    for (int i = 0; i < t->m.n_tensors; i++) {
        const BertTensor *bt = &t->m.tensor[i];
        size_t off = (size_t)(bt->param - base);
        AdamWGroup g = adamw_group((float)lr, bt->decay ? (float)c->train.weight_decay : 0.0f);
        adamw_update(bt->param, t->adam + off, t->adam + n + off, bt->grad, &g, step, bt->count);
    }
}

/* save_best: the model file, and the dev predictions of the model as it is in memory
   (RUN_DIR/dev_predictions.tsv, index<TAB>prediction), so that a reload can be compared */
static Status save_best(Trainer *t, const BaseConfig *c, const char *yaml, const BaseProgress *p,
                        double acc, const int32_t *pred, Err *e) {
    char path[CONFIG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/model.h5", c->run.dir);
    BertFileMeta meta = {yaml, p->vocab_sha, p->data_sha, t->lm ? NAN : acc, p->step,
                         t->lm ? 1.0 / acc : 0.0};
    Status s = bert_save(&t->m, path, &meta, e);
    if (s) return s;
    if (t->lm) {
        fprintf(log_info(), "  new best dev bits per byte %.4f: model written to %s\n",
                1.0 / acc, path);
        return ST_OK;
    }
    fprintf(log_info(), "  new best dev accuracy %.4f: model written to %s\n", acc, path);
    snprintf(path, sizeof path, "%s/dev_predictions.tsv", c->run.dir);
    return predictions_write(path, t->dev.index, pred, t->dev.n, e);
}

/* a language model's dev evaluation: the score (best_dev, highest best) is 1 / bits per byte */
static Status dev_eval_lm(Trainer *t, const BaseConfig *c, const char *yaml, BaseProgress *p,
                          double elapsed, Err *e) {
    LmEvalResult r;
    Status s = base_lm_evaluate(&t->m, &t->dev, c->eval.batch, &r, NULL, NULL, NULL, e);
    if (s) return s;
    printf("epoch %d step %lld: dev %.4f bits per byte (95%% CI %.4f..%.4f), top-1 %.4f, "
           "%.0f bytes/s\n", p->epoch + 1, (long long)p->step, r.bits_per_byte, r.ci_lo,
           r.ci_hi, r.top1, r.bytes_per_s);
    fprintf(t->csv, "%lld,%d,,,,%.6f,%.3f,\n", (long long)p->step, p->epoch + 1,
            r.bits_per_byte, elapsed);
    fflush(t->csv);
    if (r.bits_per_byte > 0 && 1.0 / r.bits_per_byte > p->best_dev) {
        p->best_dev = 1.0 / r.bits_per_byte;
        return save_best(t, c, yaml, p, p->best_dev, NULL, e);
    }
    return ST_OK;
}

static Status dev_eval(Trainer *t, const BaseConfig *c, const char *yaml, BaseProgress *p,
                       double elapsed, Err *e) {
    if (t->lm) return dev_eval_lm(t, c, yaml, p, elapsed, e);
    EvalResult r;
    Status s = base_evaluate(&t->m, &t->dev, c->eval.batch, t->pred, &r, NULL, e);
    if (s) return s;
    printf("epoch %d step %lld: dev accuracy %.4f (%d/%d), %.0f examples/s\n", p->epoch + 1,
           (long long)p->step, r.accuracy, r.correct, r.n_labeled, r.examples_per_s);
    fprintf(t->csv, "%lld,%d,,,,%.6f,%.3f,\n", (long long)p->step, p->epoch + 1, r.accuracy, elapsed);
    fflush(t->csv);
    if (r.accuracy > p->best_dev) {
        p->best_dev = r.accuracy;
        return save_best(t, c, yaml, p, r.accuracy, t->pred, e);
    }
    return ST_OK;
}

/* the model (initialised from seed stream 1), optimizer state, batch buffers and batch plan */
static Status trainer_alloc(Trainer *t, const BaseConfig *c, const BertConfig *bc, Err *e) {
    Status s;
    Rng init_rng;
    rng_init(&init_rng, (uint64_t)c->seed, 1);
    if ((s = bert_init(&t->m, bc, c->train.batch, c->data.max_len, 1, e))) return s;
    bert_init_weights(&t->m, &init_rng);
    t->n = t->m.param_plan.bytes / sizeof(float);
    t->adam = calloc(2 * t->n, sizeof(float));
    t->ids = malloc(sizeof(int32_t) * (size_t)c->train.batch * c->data.max_len);
    t->mask = malloc((size_t)c->train.batch * c->data.max_len);
    t->labels = malloc(sizeof(int32_t) * (size_t)c->train.batch);
    t->targets = malloc(sizeof(int32_t) * (size_t)c->train.batch * c->data.max_len);
    t->pred = malloc(sizeof(int32_t) * (size_t)t->dev.n);
    if (!t->adam || !t->ids || !t->mask || !t->labels || !t->targets || !t->pred)
        return err_set(e, ST_NOMEM, "out of memory for the optimizer state (%zu parameters)",
                       t->n);
    return batch_plan_init(&t->plan, t->train.n, c->train.batch, e);
}

/* continue from the checkpoint resume (weights, moments, step, progress), which must have
   been trained on the same vocabulary and training data */
static Status trainer_resume(Trainer *t, const BaseConfig *c, const char *resume, Err *e) {
    BaseProgress q = t->p;
    char *stored = NULL;
    Status s = base_ckpt_load(resume, &t->m, t->adam, t->adam + t->n, t->n, &t->step, &q,
                              &stored, e);
    free(stored); /* the caller compared it with the config already */
    if (s) return s;
    if (strcmp(q.vocab_sha, t->p.vocab_sha) || strcmp(q.data_sha, t->p.data_sha))
        return err_set(e, ST_FORMAT, "%s: vocab_sha256/data_sha256: expected the hashes of %s and %s (%.12s.../%.12s...), found %.12s.../%.12s...",
                       resume, c->data.vocab, c->data.train, t->p.vocab_sha, t->p.data_sha,
                       q.vocab_sha, q.data_sha);
    /* the best model so far is the run's model.h5 (the final evaluation reads it) */
    char path[CONFIG_STR_MAX + 16];
    struct stat sb;
    snprintf(path, sizeof path, "%s/model.h5", c->run.dir);
    if (q.best_dev >= 0 && stat(path, &sb))
        return err_set(e, ST_MISSING, "%s: expected the run's best model so far (dev accuracy "
                       "%.4f, recorded in %s), found none: a run resumes in its own directory "
                       "(copy the whole directory to continue it elsewhere)", path, q.best_dev,
                       resume);
    if (!q.run_id[0]) memcpy(q.run_id, t->p.run_id, sizeof q.run_id); /* version 1: none */
    t->p = q;
    fprintf(log_info(), "resumed from %s: epoch %d, batch %d, step %lld\n", resume, t->p.epoch + 1,
           t->p.batch, (long long)t->p.step);
    return ST_OK;
}

/* RUN_DIR (locked for this process; a new run must not start over another's files:
   core/rundir.h) and RUN_DIR/metrics.csv (resumed: its rows up to the checkpoint's step, so
   none repeats; else a new file with its header) */
static Status trainer_open_log(Trainer *t, const BaseConfig *c, int resume, Err *e) {
    static const char *const files[] = {"metrics.csv", "checkpoint.h5", "model.h5",
                                        "dev_predictions.tsv"};
    char csv_path[CONFIG_STR_MAX + 24], hint[CONFIG_STR_MAX + 64];
    snprintf(csv_path, sizeof csv_path, "%s/metrics.csv", c->run.dir);
    snprintf(hint, sizeof hint, "continue it with --resume %s", c->run.dir);
    Status s = rundir_lock(&t->lock, c->run.dir, "drrl-base", log_info(), e);
    if (!s && !resume) s = rundir_claim(c->run.dir, files, 4, t->force, hint, log_info(), e);
    if (s) return s;
    fprintf(log_info(), "run id %s\n", t->p.run_id);
    return file_log_reopen(&t->csv, csv_path,
                           t->lm ? "step,epoch,loss,lr,grad_norm,dev_bits_per_byte,elapsed_s,"
                                   "nonfinite\n"
                                 : "step,epoch,loss,lr,grad_norm,dev_accuracy,elapsed_s,"
                                   "nonfinite\n",
                           resume ? (long long)t->p.step : -1, e);
}

/* the trainer up to the first step: seeds, data, model, optimizer, resumed state, log file */
static Status trainer_init(Trainer *t, const BaseConfig *c, const char *resume, BertConfig *bc,
                           Err *e) {
    Status s;
    t->p.best_dev = -1;
    t->lm = base_is_lm(c);
    rundir_new_id(t->p.run_id); /* a resume takes the checkpoint's */
    rng_init(&t->p.order, (uint64_t)c->seed, 2);
    rng_init(&t->p.dropout, (uint64_t)c->seed, 3);
    t->p.order_epoch = t->p.order;
    snprintf(t->ckpt_path, sizeof t->ckpt_path, "%s/checkpoint.h5", c->run.dir);
    if ((s = trainer_data(t, c, &t->p, e))) return s;
    *bc = base_bert_config(c, t->vocab.vocab);
    if ((s = trainer_alloc(t, c, bc, e))) return s;
    if (resume && (s = trainer_resume(t, c, resume, e))) return s;
    return trainer_open_log(t, c, resume != NULL, e);
}

/* the step counts (total, warm-up, where this run stops) and the model/schedule line */
static void trainer_schedule(Trainer *t, const BaseConfig *c, const BertConfig *bc) {
    t->total = (int64_t)c->train.epochs * t->plan.n_batches;
    t->warm = (int64_t)llround(c->train.warmup * (double)t->total);
    t->stop_at = c->train.max_steps ? c->train.max_steps : t->total;
    char posd[48];
    if (bc->position == BERT_POS_CONV)
        snprintf(posd, sizeof posd, "conv positions k=%d", bc->conv_kernel);
    else snprintf(posd, sizeof posd, "learned positions P=%d", bc->max_pos);
    fprintf(log_info(), "model: %d layers, d=%d, %d heads, FFN %d, %s, %zu parameters; %lld steps of %d "
           "(%d epochs), warm-up %lld\n", bc->n_layers, bc->d_model, bc->n_heads, bc->d_ff, posd,
           t->m.n_params, (long long)t->total, c->train.batch, c->train.epochs,
           (long long)t->warm);
    fflush(stdout);
}

/* one optimisation step on batch p.batch of the epoch's plan: forward with dropout, backward,
   clip, AdamW at learning rate *lr; *gn receives the gradient norm before clipping */
static Status trainer_step(Trainer *t, const BaseConfig *c, double *lr, double *gn, Err *e) {
    BaseProgress *p = &t->p;
    const int32_t *idx = t->plan.idx + t->plan.start[p->batch];
    int B = t->plan.start[p->batch + 1] - t->plan.start[p->batch];
    int N = encoded_max_len(&t->train, idx, B);
    encoded_gather(&t->train, idx, B, N, t->ids, t->mask, t->labels);
    *lr = lr_at(c->train.lr, p->step + 1, t->total, t->warm);
    float loss;
    if (t->lm) { /* next-byte cross-entropy (nats) */
        base_lm_targets(t->targets, t->ids, B, N);
        loss = lm_forward(&t->m, t->ids, t->mask, t->targets, B, N, 1, &p->dropout);
        lm_backward(&t->m, t->ids, t->targets, B, N);
    } else {
        loss = bert_forward(&t->m, t->ids, NULL, t->mask, t->labels, B, N, 1, &p->dropout);
        bert_backward(&t->m, t->ids, NULL, t->labels, B, N);
    }
    float *g = t->m.grad_plan.base;
    size_t gcount = t->m.grad_plan.bytes / sizeof(float);
    *gn = grad_clip_norm(&g, &gcount, 1, c->train.grad_clip);
    if (!isfinite(*gn) || !isfinite(loss)) {
        double l = isnan(loss) ? NAN : (double)loss, gv = isnan(*gn) ? NAN : *gn; /* no "-nan" */
        /* no update (parameters, moments, Adam step untouched); the batch is consumed and
           the schedule moves on, as the dropout stream already has */
        p->step++;
        t->steps_here++;
        t->skipped++;
        p->nonfinite_total++;
        if (++p->nonfinite_run > c->train.max_nonfinite)
            return err_set(e, ST_NUMERIC, "step %lld: %lld steps in a row skipped for non-finite "
                           "numbers, the last for a loss of %g and a gradient norm of %g: "
                           "expected at most train.max_nonfinite = %d in a row; stopping (the "
                           "last checkpoint is intact)", (long long)p->step,
                           (long long)p->nonfinite_run, l, gv, c->train.max_nonfinite);
        fprintf(stderr, "drrl-base: step %lld skipped: a loss of %g and a gradient norm of %g; "
                "%lld in a row, of at most %d (train.max_nonfinite)\n", (long long)p->step, l, gv,
                (long long)p->nonfinite_run, c->train.max_nonfinite);
        return ST_OK;
    }
    p->nonfinite_run = 0;
    optim_step_begin(&t->step);
    trainer_adamw(t, c, &t->step, *lr);
    p->step++;
    t->steps_here++;
    t->loss_sum += loss;
    t->loss_n++;
    t->tok += B;
    return ST_OK;
}

/* the progress line and metrics.csv row of the window since the last one (el: seconds of
   this process), then a new window */
static void trainer_log(Trainer *t, double lr, double gn, double el) {
    const BaseProgress *p = &t->p;
    double eta = el / (double)t->steps_here * (double)(t->stop_at - p->step);
    double loss = t->loss_n ? t->loss_sum / t->loss_n : NAN; /* NaN: every step skipped */
    printf("epoch %d step %6lld/%lld  loss %.4f  lr %.2e  |g| %.2f  %6.0f ex/s  "
           "elapsed %6.1fs  ETA %6.1fs", p->epoch + 1, (long long)p->step,
           (long long)t->stop_at, loss, lr, gn, t->tok / el, p->train_seconds + el, eta);
    if (t->skipped) printf("  skipped %lld (non-finite)", (long long)t->skipped);
    printf("\n");
    fprintf(t->csv, "%lld,%d,", (long long)p->step, p->epoch + 1);
    if (t->loss_n) fprintf(t->csv, "%.6f", loss);
    fprintf(t->csv, ",%.6g,", lr);
    if (isfinite(gn)) fprintf(t->csv, "%.4f", gn);
    fprintf(t->csv, ",,%.3f,%lld\n", p->train_seconds + el, (long long)t->skipped);
    fflush(t->csv);
    fflush(stdout);
    t->loss_sum = 0;
    t->loss_n = 0;
    t->skipped = 0;
}

/* write the checkpoint of progress q (its training time brought up to now) */
static Status trainer_save(Trainer *t, const char *yaml, BaseProgress q, Err *e) {
    q.train_seconds += time_now() - t->t0;
    return base_ckpt_save(t->ckpt_path, &t->m, t->adam, t->adam + t->n, t->n, &t->step, &q,
                          yaml, e);
}

/* the rest of epoch p.epoch from batch p.batch: steps, progress lines, dev evaluations every
   eval_every steps, checkpoints every checkpoint_every steps or on a signal (then
   *interrupted = 1 and it returns at once); at its end a dev evaluation and a checkpoint */
static Status trainer_epoch(Trainer *t, const BaseConfig *c, const char *yaml, int *interrupted,
                            Err *e) {
    BaseProgress *p = &t->p;
    Status s;
    /* the epoch's plan comes from the order stream as it was at the epoch start */
    if (p->batch == 0) p->order_epoch = p->order;
    Rng r = p->order_epoch;
    batch_plan_make(&t->plan, t->train.len, c->train.bucket, c->train.bucket_pool, &r);
    if (p->batch == 0) {
        p->order = r;
        fprintf(log_info(), "epoch %d: %d batches, padding %.2fx\n", p->epoch + 1, t->plan.n_batches,
               batch_plan_padding(&t->plan, t->train.len));
    }
    for (; p->batch < t->plan.n_batches && p->step < t->stop_at; p->batch++) {
        double lr, gn;
        if ((s = trainer_step(t, c, &lr, &gn, e))) return s;
        double el = time_now() - t->t0;
        if (p->step % c->train.log_every == 0 || p->step == t->stop_at) trainer_log(t, lr, gn, el);
        int last = p->batch + 1 == t->plan.n_batches || p->step == t->stop_at;
        if (c->train.eval_every && p->step % c->train.eval_every == 0 && !last &&
            (s = dev_eval(t, c, yaml, p, p->train_seconds + el, e)))
            return s;
        if ((c->train.checkpoint_every && p->step % c->train.checkpoint_every == 0) || g_stop) {
            BaseProgress q = *p;
            q.batch++;
            if ((s = trainer_save(t, yaml, q, e))) return s;
            if (g_stop) {
                printf("signal %d: checkpoint written to %s (resume with --resume %s)\n",
                       (int)g_stop, t->ckpt_path, t->ckpt_path);
                *interrupted = (int)g_stop; /* the signal number */
                return ST_OK;
            }
        }
    }
    if ((s = dev_eval(t, c, yaml, p, p->train_seconds + time_now() - t->t0, e))) return s;
    BaseProgress q = *p;
    if (q.batch >= t->plan.n_batches) {
        q.epoch++;
        q.batch = 0;
    }
    return trainer_save(t, yaml, q, e);
}

/* a fingerprint of the whole training state, to compare runs (resume tests): sha256 over the
   parameters, the AdamW moments and step, and the dropout and order streams */
static void trainer_fingerprint(const Trainer *t, char hex[65]) {
    Sha256 h;
    uint8_t d[32];
    uint64_t w[RNG_STATE_WORDS];
    sha256_init(&h);
    sha256_update(&h, t->m.param_plan.base, t->n * sizeof(float));
    sha256_update(&h, t->adam, 2 * t->n * sizeof(float));
    sha256_update(&h, &t->step.t, sizeof t->step.t);
    rng_save(&t->p.dropout, w);
    sha256_update(&h, w, sizeof w);
    rng_save(&t->p.order, w);
    sha256_update(&h, w, sizeof w);
    sha256_final(&h, d);
    sha256_hex(d, hex);
}

Status base_train(const BaseConfig *c, const char *yaml, const char *resume, int force,
                  int *interrupted, Err *e) {
    Trainer t;
    memset(&t, 0, sizeof t);
    t.force = force;
    t.lock.fd = -1;
    *interrupted = 0;
    BertConfig bc;
    Status s = trainer_init(&t, c, resume, &bc, e);
    if (s) goto out;
    trainer_schedule(&t, c, &bc);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    t.t0 = time_now();
    for (; t.p.epoch < c->train.epochs && t.p.step < t.stop_at; t.p.epoch++, t.p.batch = 0)
        if ((s = trainer_epoch(&t, c, yaml, interrupted, e)) || *interrupted) goto out;
    char hex[65];
    trainer_fingerprint(&t, hex);
    printf("training done: %lld steps, %.1f s of training in all; best dev %s %.4f\n"
           "training state sha256 %s\n", (long long)t.p.step, t.p.train_seconds + time_now() - t.t0,
           t.lm ? "bits per byte" : "accuracy", t.lm ? 1.0 / t.p.best_dev : t.p.best_dev, hex);
out:
    trainer_free(&t);
    return s;
}
