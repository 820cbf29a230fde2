/* demo.c: drrl-demo, a short end-to-end demonstration of the numeric core.
 *
 * It trains the small transformer classifier of demo_model.h on a synthetic task that
 * needs attention (which of two tokens is in the majority, read from [CLS]), with
 * AdamW, warm-up and linear decay, gradient clipping and dropout; evaluates held-out
 * accuracy; writes the model and its resolved config to HDF5 atomically; reloads it and
 * checks that the reloaded model gives bit-identical logits.
 *
 *   drrl-demo [--config FILE.yaml] [key.path=value ...] [--print-config]
 * Without --config the embedded defaults (identical to configs/demo.yaml) are used. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/rng.h"
#include "core/store.h"
#include "core/timer.h"
#include "demo_model.h"
#include "nn/optim.h"

typedef struct {
    int seed;
    struct { int n_train, n_eval, vocab, min_len, max_len; } data;
    struct { int d_model, n_heads, d_ff, n_layers; double dropout; } model;
    struct { int steps, batch, warmup, log_every, eval_every; double lr, weight_decay, grad_clip; } train;
    struct { char dir[CONFIG_STR_MAX]; } run;
} DemoConfig;

#define F(path, type, member, def, lo, hi, help) \
    {path, type, offsetof(DemoConfig, member), 0, def, lo, hi, NULL, help}
static const ConfigField demo_fields[] = {
    F("seed", CF_INT, seed, "1", 0, 2147483647, "seed of every random stream"),
    F("data.n_train", CF_INT, data.n_train, "8192", 16, 1 << 24, "synthetic training sequences"),
    F("data.n_eval", CF_INT, data.n_eval, "2048", 16, 1 << 24, "held-out sequences"),
    F("data.vocab", CF_INT, data.vocab, "24", 5, 1 << 20, "vocabulary: [CLS]=0, [PAD]=1, A=2, B=3, others"),
    F("data.min_len", CF_INT, data.min_len, "6", 3, 4096, "shortest sequence (tokens)"),
    F("data.max_len", CF_INT, data.max_len, "24", 3, 4096, "longest sequence = model length N"),
    F("model.d_model", CF_INT, model.d_model, "64", 2, 4096, "width C"),
    F("model.n_heads", CF_INT, model.n_heads, "4", 1, 256, "attention heads (divide d_model)"),
    F("model.d_ff", CF_INT, model.d_ff, "128", 1, 16384, "feed-forward width"),
    F("model.n_layers", CF_INT, model.n_layers, "2", 1, DEMO_MAX_LAYERS, "transformer layers"),
    F("model.dropout", CF_FLOAT, model.dropout, "0.1", 0, 0.9, "dropout after attention and FFN"),
    F("train.steps", CF_INT, train.steps, "600", 1, 1 << 24, "optimizer steps"),
    F("train.batch", CF_INT, train.batch, "32", 1, 4096, "sequences per step"),
    F("train.warmup", CF_INT, train.warmup, "100", 0, 1 << 24, "linear warm-up steps"),
    F("train.log_every", CF_INT, train.log_every, "100", 1, 1 << 24, "progress line period"),
    F("train.eval_every", CF_INT, train.eval_every, "200", 1, 1 << 24, "held-out eval period"),
    F("train.lr", CF_FLOAT, train.lr, "0.002", 1e-8, 1, "peak learning rate"),
    F("train.weight_decay", CF_FLOAT, train.weight_decay, "0.01", 0, 1, "AdamW decay (matrices)"),
    F("train.grad_clip", CF_FLOAT, train.grad_clip, "1.0", 0, 1e6, "global grad-norm clip (0: off)"),
    F("run.dir", CF_STRING, run.dir, "\"runs/demo\"", 1, 0, "output directory"),
};
#undef F

static Status demo_validate(const void *p, const char *src, Err *e) {
    const DemoConfig *c = p;
    if (c->model.d_model % c->model.n_heads)
        return err_set(e, ST_CONFIG, "%s: model.n_heads: expected a divisor of model.d_model "
                       "(%d), found %d", src, c->model.d_model, c->model.n_heads);
    if (c->data.min_len > c->data.max_len)
        return err_set(e, ST_CONFIG, "%s: data.min_len: expected <= data.max_len (%d), found %d",
                       src, c->data.max_len, c->data.min_len);
    return ST_OK;
}

static const ConfigSchema demo_schema = {"drrl-demo config", demo_fields,
                                         (int)(sizeof demo_fields / sizeof demo_fields[0]),
                                         demo_validate};

/* ---- synthetic data: [CLS] t_1 ... t_{L-1} [PAD]...; label = 1 when token A (id 2)
   occurs more often than token B (id 3). Each t_i is A or B with probability 1/4 each,
   otherwise another token; ties are redrawn. The classifier reads only the [CLS] position,
   so it must gather the counts through attention. ---- */
typedef struct {
    int n, N;
    int32_t *ids;    /* (n, N) */
    uint8_t *mask;   /* (n, N) */
    int32_t *label;  /* (n) */
} Dataset;

static int dataset_make(Dataset *ds, int n, const DemoConfig *c, Rng *r) {
    int N = c->data.max_len, V = c->data.vocab;
    ds->n = n;
    ds->N = N;
    ds->ids = calloc((size_t)n * N, sizeof(int32_t));
    ds->mask = calloc((size_t)n * N, 1);
    ds->label = calloc((size_t)n, sizeof(int32_t));
    if (!ds->ids || !ds->mask || !ds->label) return -1;
    for (int i = 0; i < n; i++) {
        int32_t *t = ds->ids + (size_t)i * N;
        uint8_t *m = ds->mask + (size_t)i * N;
        int L = c->data.min_len + (int)rng_below(r, (uint64_t)(c->data.max_len - c->data.min_len + 1));
        int na, nb;
        do {
            na = nb = 0;
            for (int j = 0; j < N; j++) t[j] = 1; /* [PAD] */
            t[0] = 0;                             /* [CLS] */
            for (int j = 1; j < L; j++) {
                uint64_t u = rng_below(r, 4);
                t[j] = u == 0 ? 2 : u == 1 ? 3 : 4 + (int32_t)rng_below(r, (uint64_t)(V - 4));
                na += t[j] == 2;
                nb += t[j] == 3;
            }
        } while (na == nb);
        ds->label[i] = na > nb;
        for (int j = 0; j < N; j++) m[j] = j < L;
    }
    return 0;
}

static void dataset_free(Dataset *ds) {
    free(ds->ids);
    free(ds->mask);
    free(ds->label);
}

/* evaluate: accuracy over ds in batches of the model's planned size; logits_out (n, K)
   receives every logit when not NULL */
static double evaluate(DemoModel *m, const Dataset *ds, float *logits_out) {
    int correct = 0, B = m->d.B, N = ds->N, K = m->d.K;
    for (int s = 0; s < ds->n; s += B) {
        int Bp = ds->n - s < B ? ds->n - s : B;
        demo_model_forward(m, ds->ids + (size_t)s * N, ds->mask + (size_t)s * N, NULL, Bp, 0,
                           NULL);
        for (int b = 0; b < Bp; b++) {
            const float *lg = m->a.logits + (size_t)b * K;
            int arg = 0;
            for (int k = 1; k < K; k++) if (lg[k] > lg[arg]) arg = k;
            correct += arg == ds->label[s + b];
            if (logits_out) memcpy(logits_out + (size_t)(s + b) * K, lg, (size_t)K * sizeof(float));
        }
    }
    return (double)correct / ds->n;
}

/* mkdir_p: create dir and its parents (like mkdir -p) */
static int mkdir_p(const char *dir) {
    char buf[CONFIG_STR_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(buf, 0777) && errno != EEXIST) ? -1 : 0;
}

static Status model_save(const DemoModel *m, const char *path, const char *config_yaml,
                         double acc, int steps, Err *e) {
    Store *st;
    Status s = store_create(&st, path, "drrl-demo-model", 1, e);
    if (s) return s;
    if ((s = store_write_text(st, "/config", config_yaml, e))) goto fail;
    if ((s = store_set_attr_f64(st, "/", "eval_accuracy", acc, e))) goto fail;
    if ((s = store_set_attr_i64(st, "/", "steps", steps, e))) goto fail;
    for (int i = 0; i < m->tensors.n; i++) {
        const DemoTensor *t = &m->tensors.t[i];
        char name[96];
        snprintf(name, sizeof name, "/params/%s", t->name);
        if ((s = store_write(st, name, DT_F32, *t->ptr, t->ndim, t->dims, e))) goto fail;
    }
    return store_commit(st, e);
fail:
    store_abort(st);
    return s;
}

static Status model_load(DemoModel *m, const char *path, Err *e) {
    Store *st;
    Status s = store_open(&st, path, "drrl-demo-model", 1, 1, e);
    if (s) return s;
    for (int i = 0; i < m->tensors.n && !s; i++) {
        const DemoTensor *t = &m->tensors.t[i];
        char name[96];
        snprintf(name, sizeof name, "/params/%s", t->name);
        s = store_read(st, name, DT_F32, *t->ptr, t->ndim, t->dims, e);
    }
    store_close(st);
    return s;
}

static void die(const Err *e) {
    fprintf(stderr, "drrl-demo: error: %s\n", e->msg);
    exit(1);
}

static void usage(void) {
    printf("usage: drrl-demo [--config FILE.yaml] [--print-config] [key.path=value ...]\n"
           "Trains a small transformer classifier on a synthetic attention task, saves it to\n"
           "RUN_DIR/model.h5, reloads it and checks the reload is bit-exact.\n");
}

int main(int argc, char **argv) {
    const char *cfg_path = NULL;
    const char *over[64];
    int n_over = 0, print_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) cfg_path = argv[++i];
        else if (!strcmp(argv[i], "--print-config")) print_only = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(); return 0; }
        else if (strchr(argv[i], '=') && n_over < 64) over[n_over++] = argv[i];
        else { fprintf(stderr, "drrl-demo: error: unknown argument '%s'\n", argv[i]); usage(); return 2; }
    }
    Err e;
    err_clear(&e);
    DemoConfig c;
    memset(&c, 0, sizeof c);
    if (config_load(&demo_schema, &c, cfg_path, over, n_over, &e)) die(&e);
    char *yaml = NULL;
    if (config_to_yaml(&demo_schema, &c, &yaml, &e)) die(&e);
    printf("# resolved config (%s)\n%s\n", cfg_path ? cfg_path : "embedded defaults", yaml);
    if (print_only) { free(yaml); return 0; }

    Rng data_rng, init_rng, drop_rng, order_rng;
    rng_init(&data_rng, (uint64_t)c.seed, 1);
    rng_init(&init_rng, (uint64_t)c.seed, 2);
    rng_init(&drop_rng, (uint64_t)c.seed, 3);
    rng_init(&order_rng, (uint64_t)c.seed, 4);
    Dataset train, eval;
    if (dataset_make(&train, c.data.n_train, &c, &data_rng) ||
        dataset_make(&eval, c.data.n_eval, &c, &data_rng)) {
        fprintf(stderr, "drrl-demo: error: out of memory for the data\n");
        return 1;
    }
    DemoDims d = {c.data.vocab, c.data.max_len, c.model.d_model, c.model.n_heads,
                  c.model.d_ff, c.model.n_layers, 2, c.train.batch, (float)c.model.dropout,
                  1e-12f};
    DemoModel m;
    if (demo_model_init(&m, d, &init_rng, &e)) die(&e);
    /* optimizer state: one allocation for both moments, same layout as the parameters */
    size_t np = m.param_plan.bytes / sizeof(float);
    float *mom = calloc(2 * np, sizeof(float));
    int *order = malloc((size_t)train.n * sizeof(int));
    if (!mom || !order) { fprintf(stderr, "drrl-demo: error: out of memory\n"); return 1; }
    for (int i = 0; i < train.n; i++) order[i] = i;
    int32_t *bids = malloc((size_t)c.train.batch * d.N * sizeof(int32_t));
    uint8_t *bmask = malloc((size_t)c.train.batch * d.N);
    int32_t *blab = malloc((size_t)c.train.batch * sizeof(int32_t));
    if (!bids || !bmask || !blab) { fprintf(stderr, "drrl-demo: error: out of memory\n"); return 1; }

    if (mkdir_p(c.run.dir)) {
        fprintf(stderr, "drrl-demo: error: run.dir: cannot create '%s': %s\n", c.run.dir,
                strerror(errno));
        return 1;
    }
    char csv_path[CONFIG_STR_MAX + 32], model_path[CONFIG_STR_MAX + 32];
    snprintf(csv_path, sizeof csv_path, "%s/metrics.csv", c.run.dir);
    snprintf(model_path, sizeof model_path, "%s/model.h5", c.run.dir);
    FILE *csv = fopen(csv_path, "w");
    if (!csv) { fprintf(stderr, "drrl-demo: error: %s: %s\n", csv_path, strerror(errno)); return 1; }
    fprintf(csv, "step,loss,lr,grad_norm,examples_per_s,eval_accuracy,elapsed_s\n");

    int64_t fwd_flops = demo_model_flops(&d, c.train.batch);
    printf("model: %d layers, d=%d, %d heads, FFN %d, %zu parameters; forward %.1f MFLOP/batch\n",
           d.L, d.C, d.H, d.F, np, 1e-6 * (double)fwd_flops);
    OptimStep step = {0};
    int cursor = train.n;
    double t0 = time_now(), loss_acc = 0, acc = 0, gn = 0;
    int loss_n = 0;
    for (int it = 1; it <= c.train.steps; it++) {
        if (cursor + c.train.batch > train.n) { rng_shuffle(&order_rng, order, train.n); cursor = 0; }
        for (int b = 0; b < c.train.batch; b++) {
            int i = order[cursor++];
            memcpy(bids + (size_t)b * d.N, train.ids + (size_t)i * d.N, (size_t)d.N * sizeof(int32_t));
            memcpy(bmask + (size_t)b * d.N, train.mask + (size_t)i * d.N, (size_t)d.N);
            blab[b] = train.label[i];
        }
        /* warm-up then linear decay to zero */
        double lr = it <= c.train.warmup ? c.train.lr * it / (c.train.warmup + 1)
                                         : c.train.lr * (double)(c.train.steps - it + 1) /
                                               (c.train.steps - c.train.warmup + 1);
        float loss = demo_model_forward(&m, bids, bmask, blab, c.train.batch, 1, &drop_rng);
        demo_model_backward(&m, bids, blab, c.train.batch);
        float *gbuf = m.grad_plan.base;
        gn = grad_clip_norm(&gbuf, &np, 1, c.train.grad_clip);
        if (!isfinite(gn)) { fprintf(stderr, "drrl-demo: error: non-finite gradient at step %d\n", it); return 1; }
        optim_step_begin(&step);
        for (int i = 0; i < m.tensors.n; i++) {
            const DemoTensor *t = &m.tensors.t[i];
            size_t n = (size_t)(t->dims[0] * (t->ndim == 2 ? t->dims[1] : 1));
            size_t off = (size_t)(*t->ptr - (float *)m.param_plan.base);
            AdamWGroup grp = adamw_group((float)lr, t->decay ? (float)c.train.weight_decay : 0.0f);
            adamw_update(*t->ptr, mom + off, mom + np + off, *m.grad_tensors.t[i].ptr, &grp, &step, n);
        }
        loss_acc += loss;
        loss_n++;
        int do_eval = it % c.train.eval_every == 0 || it == c.train.steps;
        if (do_eval) acc = evaluate(&m, &eval, NULL);
        if (it % c.train.log_every == 0 || do_eval) {
            double el = time_now() - t0, eps = (double)it * c.train.batch / el;
            printf("step %5d/%d  loss %.4f  lr %.2e  |g| %.3f  %7.0f ex/s  elapsed %5.1fs  ETA %5.1fs",
                   it, c.train.steps, loss_acc / loss_n, lr, gn, eps, el,
                   el / it * (c.train.steps - it));
            if (do_eval) printf("  eval acc %.4f", acc);
            printf("\n");
            fprintf(csv, "%d,%.6f,%.6g,%.6f,%.1f,", it, loss_acc / loss_n, lr, gn, eps);
            if (do_eval) fprintf(csv, "%.6f", acc); /* empty field: not evaluated */
            fprintf(csv, ",%.3f\n", el);
            fflush(stdout);
            loss_acc = 0;
            loss_n = 0;
        }
    }
    fclose(csv);
    float *logits_a = malloc((size_t)eval.n * 2 * sizeof(float));
    float *logits_b = malloc((size_t)eval.n * 2 * sizeof(float));
    if (!logits_a || !logits_b) { fprintf(stderr, "drrl-demo: error: out of memory\n"); return 1; }
    acc = evaluate(&m, &eval, logits_a);
    if (model_save(&m, model_path, yaml, acc, c.train.steps, &e)) die(&e);
    /* reload into a freshly initialised model and compare every logit bit for bit */
    DemoModel m2;
    Rng other;
    rng_init(&other, (uint64_t)c.seed + 1000, 2);
    if (demo_model_init(&m2, d, &other, &e)) die(&e);
    if (model_load(&m2, model_path, &e)) die(&e);
    double acc2 = evaluate(&m2, &eval, logits_b);
    int same = memcmp(logits_a, logits_b, (size_t)eval.n * 2 * sizeof(float)) == 0;
    printf("held-out accuracy %.4f on %d sequences (chance 0.5); %.1f s\n", acc, eval.n,
           time_now() - t0);
    printf("model written to %s; reloaded: accuracy %.4f, logits %s\n", model_path, acc2,
           same ? "bit-identical" : "DIFFER");
    printf("metrics written to %s\n", csv_path);
    demo_model_free(&m);
    demo_model_free(&m2);
    dataset_free(&train);
    dataset_free(&eval);
    free(mom); free(order); free(bids); free(bmask); free(blab); free(logits_a); free(logits_b);
    free(yaml);
    return same ? 0 : 1;
}
