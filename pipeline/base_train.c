/* base_train.c: training the frozen classifier (drrl-base): SST-2 with WordPiece, or
 * byte-level IMDB (data.format, base_eval.h), with learned or convolutional positions.
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
#include "core/sha256.h"
#include "core/store.h"
#include "core/timer.h"
#include "data/bucket.h"
#include "data/encode.h"
#include "model/bert_io.h"
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
    float *adam;       /* (2, n) moments m then v */
    int32_t *ids;      /* (batch, max_len) */
    uint8_t *mask;     /* (batch, max_len) */
    int32_t *labels;   /* (batch) */
    int32_t *pred;     /* (dev rows) dev predictions */
    FILE *csv;
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
    free(t->pred);
    if (t->csv) fclose(t->csv);
}

/* load vocabulary and data (base_eval.h: both formats), encode, hash */
static Status trainer_data(Trainer *t, const BaseConfig *c, BaseProgress *p, Err *e) {
    Status s;
    char dtrain[CONFIG_STR_MAX + 64], ddev[CONFIG_STR_MAX + 64];
    if ((s = base_vocab_open(&t->vocab, c, e))) return s;
    if ((s = base_load_split(&t->train, c, &t->vocab, "train", c->data.train_limit, 1, dtrain,
                             sizeof dtrain, e)))
        return s;
    if ((s = base_load_split(&t->dev, c, &t->vocab, "dev", 0, 1, ddev, sizeof ddev, e)))
        return s;
    memcpy(p->vocab_sha, t->vocab.sha, sizeof p->vocab_sha);
    if ((s = sha256_file(c->data.train, p->data_sha, e))) return s;
    if (t->vocab.imdb)
        printf("data: %d train reviews (%s; %lld byte tokens, %d cut to %d), %d dev (%s); byte "
               "vocabulary (%d ids)\n", t->train.n, dtrain, (long long)t->train.n_tokens,
               t->train.n_truncated, c->data.max_len, t->dev.n, ddev, t->vocab.vocab);
    else
        printf("data: %d train sentences (%lld tokens, %d cut to %d), %d dev; vocab %d pieces\n",
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
    BertFileMeta meta = {yaml, p->vocab_sha, p->data_sha, acc, p->step};
    Status s = bert_save(&t->m, path, &meta, e);
    if (s) return s;
    printf("  new best dev accuracy %.4f: model written to %s\n", acc, path);
    snprintf(path, sizeof path, "%s/dev_predictions.tsv", c->run.dir);
    return predictions_write(path, t->dev.index, pred, t->dev.n, e);
}

static Status dev_eval(Trainer *t, const BaseConfig *c, const char *yaml, BaseProgress *p,
                       double elapsed, Err *e) {
    EvalResult r;
    Status s = base_evaluate(&t->m, &t->dev, c->eval.batch, t->pred, &r, e);
    if (s) return s;
    printf("epoch %d step %lld: dev accuracy %.4f (%d/%d), %.0f examples/s\n", p->epoch + 1,
           (long long)p->step, r.accuracy, r.correct, r.n_labeled, r.examples_per_s);
    fprintf(t->csv, "%lld,%d,,,,%.6f,%.3f\n", (long long)p->step, p->epoch + 1, r.accuracy, elapsed);
    fflush(t->csv);
    if (r.accuracy > p->best_dev) {
        p->best_dev = r.accuracy;
        return save_best(t, c, yaml, p, r.accuracy, t->pred, e);
    }
    return ST_OK;
}

Status base_train(const BaseConfig *c, const char *yaml, const char *resume, int *interrupted,
                  Err *e) {
    Trainer t;
    memset(&t, 0, sizeof t);
    *interrupted = 0;
    BaseProgress p;
    memset(&p, 0, sizeof p);
    p.best_dev = -1;
    Rng init_rng;
    rng_init(&init_rng, (uint64_t)c->seed, 1);
    rng_init(&p.order, (uint64_t)c->seed, 2);
    rng_init(&p.dropout, (uint64_t)c->seed, 3);
    p.order_epoch = p.order;
    OptimStep step = {0};
    Status s;
    char ckpt_path[CONFIG_STR_MAX + 24], csv_path[CONFIG_STR_MAX + 24];
    snprintf(ckpt_path, sizeof ckpt_path, "%s/checkpoint.h5", c->run.dir);
    snprintf(csv_path, sizeof csv_path, "%s/metrics.csv", c->run.dir);

    if ((s = trainer_data(&t, c, &p, e))) goto out;
    BertConfig bc = base_bert_config(c, t.vocab.vocab);
    if ((s = bert_init(&t.m, &bc, c->train.batch, c->data.max_len, 1, e))) goto out;
    bert_init_weights(&t.m, &init_rng);
    size_t n = t.m.param_plan.bytes / sizeof(float);
    t.adam = calloc(2 * n, sizeof(float));
    t.ids = malloc(sizeof(int32_t) * (size_t)c->train.batch * c->data.max_len);
    t.mask = malloc((size_t)c->train.batch * c->data.max_len);
    t.labels = malloc(sizeof(int32_t) * (size_t)c->train.batch);
    t.pred = malloc(sizeof(int32_t) * (size_t)t.dev.n);
    if (!t.adam || !t.ids || !t.mask || !t.labels || !t.pred) {
        s = err_set(e, ST_NOMEM, "out of memory for the optimizer state (%zu parameters)", n);
        goto out;
    }
    if ((s = batch_plan_init(&t.plan, t.train.n, c->train.batch, e))) goto out;
    if (resume) {
        BaseProgress q = p;
        char *stored = NULL;
        s = base_ckpt_load(resume, &t.m, t.adam, t.adam + n, n, &step, &q, &stored, e);
        free(stored); /* the caller compared it with the config already */
        if (s) goto out;
        if (strcmp(q.vocab_sha, p.vocab_sha) || strcmp(q.data_sha, p.data_sha)) {
            s = err_set(e, ST_FORMAT, "%s: vocab_sha256/data_sha256: expected the hashes of %s and %s (%.12s.../%.12s...), found %.12s.../%.12s...",
                        resume, c->data.vocab, c->data.train, p.vocab_sha, p.data_sha, q.vocab_sha, q.data_sha);
            goto out;
        }
        p = q;
        printf("resumed from %s: epoch %d, batch %d, step %lld\n", resume, p.epoch + 1, p.batch,
               (long long)p.step);
    }
    if ((s = store_mkdirs(c->run.dir, e))) {
        err_prefix(e, "run.dir");
        goto out;
    }
    t.csv = fopen(csv_path, resume ? "a" : "w");
    if (!t.csv) {
        s = err_set(e, ST_IO, "%s: cannot open: %s", csv_path, strerror(errno));
        goto out;
    }
    if (!resume) fprintf(t.csv, "step,epoch,loss,lr,grad_norm,dev_accuracy,elapsed_s\n");

    int64_t total = (int64_t)c->train.epochs * t.plan.n_batches;
    int64_t warm = (int64_t)llround(c->train.warmup * (double)total);
    int64_t stop_at = c->train.max_steps ? c->train.max_steps : total;
    char posd[48];
    if (bc.position == BERT_POS_CONV) snprintf(posd, sizeof posd, "conv positions k=%d", bc.conv_kernel);
    else snprintf(posd, sizeof posd, "learned positions P=%d", bc.max_pos);
    printf("model: %d layers, d=%d, %d heads, FFN %d, %s, %zu parameters; %lld steps of %d "
           "(%d epochs), warm-up %lld\n", bc.n_layers, bc.d_model, bc.n_heads, bc.d_ff, posd,
           t.m.n_params, (long long)total, c->train.batch, c->train.epochs, (long long)warm);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double t0 = time_now(), loss_sum = 0, tok = 0, gn = 0;
    int loss_n = 0;
    int64_t steps_here = 0;
    for (; p.epoch < c->train.epochs && p.step < stop_at; p.epoch++, p.batch = 0) {
        /* the epoch's plan comes from the order stream as it was at the epoch start */
        if (p.batch == 0) p.order_epoch = p.order;
        Rng r = p.order_epoch;
        batch_plan_make(&t.plan, t.train.len, c->train.bucket, c->train.bucket_pool, &r);
        if (p.batch == 0) {
            p.order = r;
            printf("epoch %d: %d batches, padding %.2fx\n", p.epoch + 1, t.plan.n_batches,
                   batch_plan_padding(&t.plan, t.train.len));
        }
        for (; p.batch < t.plan.n_batches && p.step < stop_at; p.batch++) {
            const int32_t *idx = t.plan.idx + t.plan.start[p.batch];
            int B = t.plan.start[p.batch + 1] - t.plan.start[p.batch];
            int N = encoded_max_len(&t.train, idx, B);
            encoded_gather(&t.train, idx, B, N, t.ids, t.mask, t.labels);
            double lr = lr_at(c->train.lr, p.step + 1, total, warm);
            float loss = bert_forward(&t.m, t.ids, NULL, t.mask, t.labels, B, N, 1, &p.dropout);
            bert_backward(&t.m, t.ids, NULL, t.labels, B, N);
            float *g = t.m.grad_plan.base;
            size_t gcount = t.m.grad_plan.bytes / sizeof(float);
            gn = grad_clip_norm(&g, &gcount, 1, c->train.grad_clip);
            if (!isfinite(gn) || !isfinite(loss)) {
                s = err_set(e, ST_NUMERIC, "step %lld: non-finite loss %g or gradient norm %g",
                            (long long)p.step + 1, (double)loss, gn);
                goto out;
            }
            optim_step_begin(&step);
            trainer_adamw(&t, c, &step, lr);
            p.step++;
            steps_here++;
            loss_sum += loss;
            loss_n++;
            tok += B;
            double el = time_now() - t0;
            if (p.step % c->train.log_every == 0 || p.step == stop_at) {
                double eta = el / (double)steps_here * (double)(stop_at - p.step);
                printf("epoch %d step %6lld/%lld  loss %.4f  lr %.2e  |g| %.2f  %6.0f ex/s  "
                       "elapsed %6.1fs  ETA %6.1fs\n", p.epoch + 1, (long long)p.step,
                       (long long)stop_at, loss_sum / loss_n, lr, gn, tok / el,
                       p.train_seconds + el, eta);
                fprintf(t.csv, "%lld,%d,%.6f,%.6g,%.4f,,%.3f\n", (long long)p.step, p.epoch + 1,
                        loss_sum / loss_n, lr, gn, p.train_seconds + el);
                fflush(t.csv);
                fflush(stdout);
                loss_sum = 0;
                loss_n = 0;
            }
            int last = p.batch + 1 == t.plan.n_batches || p.step == stop_at;
            if (c->train.eval_every && p.step % c->train.eval_every == 0 && !last &&
                (s = dev_eval(&t, c, yaml, &p, p.train_seconds + el, e)))
                goto out;
            if ((c->train.checkpoint_every && p.step % c->train.checkpoint_every == 0) || g_stop) {
                BaseProgress q = p;
                q.batch++;
                q.train_seconds += time_now() - t0;
                if ((s = base_ckpt_save(ckpt_path, &t.m, t.adam, t.adam + n, n, &step, &q, yaml, e)))
                    goto out;
                if (g_stop) {
                    printf("signal %d: checkpoint written to %s (resume with --resume %s)\n",
                           (int)g_stop, ckpt_path, ckpt_path);
                    *interrupted = 1;
                    goto out;
                }
            }
        }
        if ((s = dev_eval(&t, c, yaml, &p, p.train_seconds + time_now() - t0, e))) goto out;
        BaseProgress q = p;
        if (q.batch >= t.plan.n_batches) {
            q.epoch++;
            q.batch = 0;
        }
        q.train_seconds += time_now() - t0;
        if ((s = base_ckpt_save(ckpt_path, &t.m, t.adam, t.adam + n, n, &step, &q, yaml, e)))
            goto out;
    }
    /* a fingerprint of the whole training state, to compare runs (resume tests) */
    Sha256 h;
    uint8_t d[32];
    char hex[65];
    uint64_t w[RNG_STATE_WORDS];
    sha256_init(&h);
    sha256_update(&h, t.m.param_plan.base, n * sizeof(float));
    sha256_update(&h, t.adam, 2 * n * sizeof(float));
    sha256_update(&h, &step.t, sizeof step.t);
    rng_save(&p.dropout, w);
    sha256_update(&h, w, sizeof w);
    rng_save(&p.order, w);
    sha256_update(&h, w, sizeof w);
    sha256_final(&h, d);
    sha256_hex(d, hex);
    printf("training done: %lld steps, %.1f s of training in all; best dev accuracy %.4f\n"
           "training state sha256 %s\n", (long long)p.step, p.train_seconds + time_now() - t0,
           p.best_dev, hex);
out:
    trainer_free(&t);
    return s;
}
