/* train_env.c: the environment of a drrl-train run (see train_env.h).
 *
 * rank: the frozen model file (env.model) is loaded with its stored config, which names the
 * data format (sst2, imdb or recall), the training data and the vocabulary (checked against
 * the vocabulary hash recorded in the model; recall's rows are generated again from the
 * stored data.recall.*, so the same seed gives the model's own splits); the splits are loaded
 * as drrl-base loads them (pipeline/base_eval.h: base_vocab_open, base_load_split), encoded to the config's data.max_len
 * (drrl-eval's data.max_len=N: any N for a conv-position model, at most max_pos otherwise);
 * the whitened factors are calibrated on the first env.calib_rows training sentences (encoded
 * at the stored data.max_len, so an evaluation at another length keeps the trained factors) or
 * loaded from their cache (model/ranked_calib.h, keyed by the model file's SHA-256); the
 * latency table is measured here (one attention layer of the model's width and heads, batch
 * 1 as the environment runs each sequence alone, every bucket and rank of the grid) unless a
 * checkpoint brings one; episodes draw batches from the first env.train_rows training rows.
 * For drrl-eval (train_env_init_eval) the same environment runs over the dev or test split
 * (optionally only the IMDB reviews of at least min_bytes bytes, or inputs of exactly `join`
 * bytes joined from same-label test reviews), with the checkpoint's
 * latency table or the one drrl-eval passes. toy: env/toy.h. */
#include "pipeline/train_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/base_config.h"
#include "pipeline/base_eval.h"
#include "core/dist.h"
#include "core/log.h"
#include "core/sha256.h"
#include "data/encode.h"
#include "data/imdb.h"
#include "model/bert_io.h"
#include "env/rankenv.h"
#include "model/ranked_calib.h"
#include "env/toy.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define PERFORMER_SEED 1

typedef struct {
    BertConfig bc;
    Bert m;
    BaseConfig base;
    BertFileInfo info;
    BaseVocab voc;          /* the model's data.format: WordPiece (sst2), bytes (imdb), recall */
    EncodedSet calib, set;  /* set: the training rows, or drrl-eval's dev or test split */
    char desc[CONFIG_STR_MAX + 128]; /* where set came from (base_load_split) */
    Ranked R;
    RankEnv E;
    int ranked_ok, env_ok;
} RankImpl;

static void copy_dims(EnvDims *d, int n_envs, int n_tokens, int token_dim, int n_heads,
                      int head_token0, int value_token, int n_actions, int max_steps, int n_info,
                      const char *const *names) {
    d->n_envs = n_envs, d->n_tokens = n_tokens, d->token_dim = token_dim, d->n_heads = n_heads;
    d->head_token0 = head_token0, d->value_token = value_token, d->n_actions = n_actions;
    d->max_steps = max_steps, d->n_info = n_info;
    for (int i = 0; i < n_info && i < ENV_MAX_INFO; i++) d->info_names[i] = names[i];
}

/* keep_rows: keep the rows i of s with keep[i] != 0, in place (order kept); returns their count */
static int keep_rows(EncodedSet *s, const uint8_t *keep) {
    int k = 0;
    for (int i = 0; i < s->n; i++) {
        if (!keep[i]) continue;
        if (k != i) {
            memmove(s->ids + (size_t)k * s->max_len, s->ids + (size_t)i * s->max_len,
                    sizeof(int32_t) * (size_t)s->max_len);
            s->len[k] = s->len[i], s->label[k] = s->label[i], s->index[k] = s->index[i];
        }
        k++;
    }
    s->n = k;
    s->n_tokens = 0;
    for (int i = 0; i < k; i++) s->n_tokens += s->len[i];
    return k;
}

/* load_joined: the set of ev->join: inputs of exactly ev->join bytes joined from same-label
   reviews of data.test, encoded at join + 2 tokens */
static Status load_joined(RankImpl *d, const TrainEvalOptions *ev, Err *e) {
    if (strcmp(ev->split, "test"))
        return err_set(e, ST_CONFIG, "--join: expected the test split (joined inputs are made "
                       "from data.test), found %s", ev->split);
    ImdbData raw, j;
    Status s = imdb_load(&raw, d->base.data.test, 0, e);
    if (s) return err_prefix(e, "data.test");
    s = imdb_join(&j, &raw, ev->join, 1, ev->join_rows, e);
    imdb_free(&raw);
    if (s) return s;
    if (j.n < 1) {
        imdb_free(&j);
        return err_set(e, ST_CONFIG, "--join %d: the reviews of %s do not join into one input of "
                       "%d bytes", ev->join, d->base.data.test, ev->join);
    }
    s = encoded_from_imdb(&d->set, &j, ev->join + 2, e);
    snprintf(d->desc, sizeof d->desc, "%d inputs of %d bytes joined from same-label reviews of %s",
             j.n, ev->join, d->base.data.test);
    imdb_free(&j);
    return s;
}

/* keep_min_tokens: drop the rows of s shorter than min tokens, in place (order kept) */
static Status keep_min_tokens(EncodedSet *s, int min, const char *desc, Err *e) {
    int longest = 0;
    uint8_t *keep = malloc((size_t)(s->n ? s->n : 1));
    if (!keep) return err_set(e, ST_NOMEM, "out of memory for %d rows", s->n);
    for (int i = 0; i < s->n; i++) {
        longest = s->len[i] > longest ? s->len[i] : longest;
        keep[i] = s->len[i] >= min;
    }
    int k = keep_rows(s, keep);
    free(keep);
    if (!k)
        return err_set(e, ST_CONFIG, "env.min_tokens: expected a length some training rows of "
                       "%s reach (longest %d tokens), found %d: the filter leaves no row",
                       desc, longest, min);
    return ST_OK;
}

/* keep_min_bytes: drrl-eval's --min-bytes (imdb only): keep the rows of split whose full
   review (before truncation to data.max_len) has at least min bytes (max_rows > 0: the
   first max_rows of them in set order). The rows' index is
   their row in the split's file (base_eval.h), whose full lengths are read here again. */
static Status keep_min_bytes(EncodedSet *s, const BaseConfig *b, const BaseVocab *v,
                             const char *split, int min, int max_rows, Err *e) {
    if (!v->imdb)
        return err_set(e, ST_CONFIG, "--min-bytes: expected a model with data.format: imdb, "
                       "found %s", b->data.format);
    const int test = !strcmp(split, "test");
    const char *key = test ? "data.test" : b->data.dev_rows > 0 ? "data.train" : "data.dev";
    const char *path = test ? b->data.test : b->data.dev_rows > 0 ? b->data.train : b->data.dev;
    ImdbData d;
    Status st = imdb_load(&d, path, 0, e);
    if (st) return err_prefix(e, "%s", key);
    uint8_t *keep = malloc((size_t)(s->n ? s->n : 1));
    if (!keep) {
        imdb_free(&d);
        return err_set(e, ST_NOMEM, "out of memory for %d rows", s->n);
    }
    int longest = 0, kept = 0;
    for (int i = 0; i < s->n; i++) {
        const int r = s->index[i];
        const int len = r >= 0 && r < d.n ? d.len[r] : 0;
        longest = len > longest ? len : longest;
        keep[i] = len >= min && (max_rows <= 0 || kept < max_rows);
        kept += keep[i];
    }
    imdb_free(&d);
    int k = keep_rows(s, keep);
    free(keep);
    if (!k)
        return err_set(e, ST_CONFIG, "--min-bytes: expected a length some %s reviews of %s "
                       "(%s) reach (longest %d bytes), found %d: the filter leaves no row", split,
                       path, key, longest, min);
    return ST_OK;
}

static void measure_progress(void *ctx, const LatencyTable *t, int i) {
    (void)ctx;
    fprintf(log_info(), "  latency N=%d: exact %.3f ms, rank %d %.3f ms .. rank %d %.3f ms\n", t->buckets[i],
           t->full[i] * 1e3, t->ranks[0], t->lat[i][0] * 1e3, t->ranks[t->n_ranks - 1],
           t->lat[i][t->n_ranks - 1] * 1e3);
    fflush(stdout);
}

/* the frozen model env.model, its hash and stored config (*calib_len: the stored data.max_len,
   the length the factors are calibrated at, whatever an evaluation overrides; ev's data.* and
   eval.* overrides applied after it), and its vocabulary */
static Status rank_model(TrainEnv *t, RankImpl *d, const TrainConfig *c,
                         const TrainEvalOptions *ev, int *calib_len, Err *e) {
    const char *model = c->env.model;
    char src[CONFIG_STR_MAX + 32];
    Status s;
    if ((s = sha256_file(model, t->model_sha256, e)) || (s = bert_read_config(model, &d->bc, e)) ||
        (s = bert_init(&d->m, &d->bc, 1, 1, 0, e)) || (s = bert_load(&d->m, model, &d->info, e)))
        return err_prefix(e, "env.model");
    snprintf(src, sizeof src, "%s:/config", model);
    /* the stored config alone first: its data.max_len is the length the factors are
       calibrated at, whatever an evaluation overrides */
    if ((s = config_load_text(&base_schema, &d->base, d->info.config_yaml, src, NULL, 0, e)))
        return s;
    *calib_len = d->base.data.max_len;
    if ((s = config_load_text(&base_schema, &d->base, d->info.config_yaml, src,
                              ev ? ev->base_over : NULL, ev ? ev->n_base_over : 0, e)))
        return s;
    if (ev && (ev->min_bytes > 0 || ev->join > 0) && !base_is_imdb(&d->base))
        return err_set(e, ST_CONFIG, "%s: expected a model with data.format: imdb, found %s",
                       ev->join > 0 ? "--join" : "--min-bytes", d->base.data.format);
    if (ev && ev->join > 0) d->base.data.max_len = ev->join + 2;
    /* a learned position table has max_pos rows; conv positions run at any length */
    if (d->base.data.max_len > bert_max_len(&d->bc))
        return err_set(e, ST_CONFIG, "data.max_len: expected at most %d (the max_pos of %s, whose "
                       "positions are learned; only a model with model.position: conv runs "
                       "longer), found %d", d->bc.max_pos, model, d->base.data.max_len);
    if ((s = base_vocab_open(&d->voc, &d->base, e))) return s;
    if (d->info.vocab_sha256[0] && strcmp(d->voc.sha, d->info.vocab_sha256))
        return err_set(e, ST_FORMAT, "%s: vocab_sha256: expected %s (the vocabulary of data.format "
                       "%s), found %s", model, d->voc.sha, d->base.data.format,
                       d->info.vocab_sha256);
    return ST_OK;
}

/* the calibration rows (the first env.calib_rows training rows at calib_len) and the episode
   set: training rows, or drrl-eval's split (whole, its long reviews, or joined inputs) */
static Status rank_data(RankImpl *d, const TrainConfig *c, const TrainEvalOptions *ev,
                        int calib_len, Err *e) {
    const int eval_len = d->base.data.max_len;
    d->base.data.max_len = calib_len;
    Status s = base_load_split(&d->calib, &d->base, &d->voc, "train", c->env.calib_rows, 1, NULL,
                               0, e);
    d->base.data.max_len = eval_len;
    if (s) return s;
    if (ev && ev->join > 0) return load_joined(d, ev, e);
    if (ev) {
        if ((s = base_load_split(&d->set, &d->base, &d->voc, ev->split, 0, 0, d->desc,
                                 sizeof d->desc, e)))
            return s;
        if (ev->min_bytes > 0)
            return keep_min_bytes(&d->set, &d->base, &d->voc, ev->split, ev->min_bytes,
                                  ev->join_rows, e);
        if (ev->join_rows > 0 && ev->join_rows < d->set.n) d->set.n = ev->join_rows; /* first K */
        return ST_OK;
    }
    if ((s = base_load_split(&d->set, &d->base, &d->voc, "train", c->env.train_rows, 1, d->desc,
                             sizeof d->desc, e)))
        return s;
    if (c->env.min_tokens > 0) return keep_min_tokens(&d->set, c->env.min_tokens, d->desc, e);
    return ST_OK;
}

/* the ranked forward of the grid env.ranks (each below the head size) for batches of `batch`,
   and its whitened factors, calibrated or loaded from their cache (printed when say) */
static Status rank_factors(TrainEnv *t, RankImpl *d, const TrainConfig *c,
                           const TrainEvalOptions *ev, int batch, int calib_len, int say,
                           Err *e) {
    const int dh = d->bc.d_model / d->bc.n_heads;
    Status s;
    for (int i = 0; i < c->env.ranks.n; i++)
        if (c->env.ranks.v[i] >= dh)
            return err_set(e, ST_CONFIG, "env.ranks[%d]: expected a rank below the head size %d "
                           "(exact attention is always the last action), found %d", i, dh,
                           c->env.ranks.v[i]);
    /* planned for the set and the calibration rows (calibrated at their own length) */
    const int max_N = d->base.data.max_len > calib_len ? d->base.data.max_len : calib_len;
    RankedOptions o = {.max_B = batch, .max_N = max_N,
                       .ranks = c->env.ranks.v, .n_ranks = c->env.ranks.n,
                       .max_m = ev ? ev->max_m : 0,
                       .activation = 0, .bounds = 1, .performer_seed = PERFORMER_SEED};
    if ((s = ranked_init(&d->R, &d->m, &o, e))) return s;
    d->ranked_ok = 1;
    char cache[CONFIG_STR_MAX + 16];
    if (c->env.factors[0]) snprintf(cache, sizeof cache, "%s", c->env.factors);
    else ranked_calib_cache_path(cache, sizeof cache, c->env.model);
    RankedCalib rc = {.rows = c->env.calib_rows, .batch = 0, .ridge = ATTN_RIDGE_DEFAULT,
                      .cache = cache, .model_sha256 = t->model_sha256};
    RankedCalibInfo ci;
    if ((s = ranked_calibrate(&d->R, &d->calib, &rc, &ci, e))) return s;
    if (say)
        fprintf(log_info(), "model %s: %d layers, d=%d, %d heads of %d; sha256 %s\nfactors: %s %s (%.2f s)\n",
               c->env.model, d->bc.n_layers, d->bc.d_model, d->bc.n_heads, dh, t->model_sha256,
               ci.loaded ? "loaded from" : "calibrated and cached in", cache, ci.seconds);
    return ST_OK;
}

/* measure_table: the kernel variants and the latency table of d's layer shape, measured */
static Status measure_table(TrainEnv *t, const RankImpl *d, const TrainConfig *c, Err *e) {
    fprintf(log_info(), "measuring the kernel variants and the latency table (batch 1, %d "
            "buckets x %d ranks, median of %d; measured anew on every run, so the same seed "
            "gives another run unless latency.file= names a table, e.g. a run's "
            "latency.h5)...\n", c->latency.buckets.n, c->env.ranks.n, c->latency.reps);
    /* a causal decoder's table is measured under the causal mask (attention/latency.h) */
    Status (*measure)(LatencyTable *, const MhsaParams *, int, int, int, const int *, int,
                      const int *, int, int, int, uint64_t, LatencyProgress, void *, Err *) =
        d->bc.arch == BERT_ARCH_DECODER ? latency_table_measure_causal : latency_table_measure;
    Status s = measure(&t->lt, NULL, d->bc.d_model, d->bc.n_heads, 1, c->latency.buckets.v,
                       c->latency.buckets.n, c->env.ranks.v, c->env.ranks.n, c->latency.warmup,
                       c->latency.reps, (uint64_t)c->seed, measure_progress, NULL, e);
    /* the variants chosen join this machine's kernel cache (attention/tune.h); a cache that
       cannot be written is a note, not an error */
    Err ce;
    if (!s && attn_tune_cache_save(&t->lt.tune, &ce))
        fprintf(log_info(), "note: kernel cache not written: %s\n", ce.msg);
    return s;
}

/* the latency table of table latency mode: drrl-eval's, the checkpoint's (given), the one of
   latency.file, or measured here; nothing in live mode */
static Status rank_latency(TrainEnv *t, const RankImpl *d, const TrainConfig *c,
                           const LatencyTable *given, const TrainEvalOptions *ev, Err *e) {
    Status s;
    t->has_lt = !strcmp(c->env.latency, "table");
    if (!t->has_lt) return ST_OK;
    if (ev) {
        if (!ev->lt)
            return err_set(e, ST_MISSING, "latency table: required in table latency mode (env.latency)");
        if ((s = latency_table_check(ev->lt, d->bc.d_model, d->bc.n_heads, e)))
            return err_prefix(e, "latency table");
        t->lt = *ev->lt;
    } else if (given) {
        if ((s = latency_table_check(given, d->bc.d_model, d->bc.n_heads, e))) return s;
        t->lt = *given;
    } else if (c->latency.file[0]) {
        Store *st;
        if ((s = store_open(&st, c->latency.file, LATENCY_FORMAT, 1, LATENCY_VERSION, e)))
            return err_prefix(e, "latency.file");
        s = latency_table_load(st, LATENCY_GROUP, &t->lt, e);
        store_close(st);
        if (s || (s = latency_table_check(&t->lt, d->bc.d_model, d->bc.n_heads, e)))
            return err_prefix(e, "latency.file: %s", c->latency.file);
        fprintf(log_info(), "latency table: loaded from %s (measured %s on %s)\n", c->latency.file, t->lt.date,
               t->lt.cpu);
    } else if (!ev && dist_size() > 1) {
        /* one table for the job: process 0 measures it while the others sleep (a process
           spinning beside it would slow what it times), then every process takes it */
        s = dist_rank() == 0 ? measure_table(t, d, c, e) : ST_OK;
        Status s2 = dist_barrier_idle(e);
        if ((s = dist_agree(s ? s : s2, e))) return s;
        return dist_bcast(&t->lt, sizeof t->lt, 0, e);
    } else {
        return measure_table(t, d, c, e);
    }
    /* a loaded table: its kernels when it is this machine's (bit-exact resume), else a note */
    latency_table_apply(&t->lt, log_info());
    return ST_OK;
}


/* the rank environment over d's set in batches of `batch`, and t->env's view of it */
static Status rank_env(TrainEnv *t, RankImpl *d, const TrainConfig *c, int batch, int part,
                       int parts, Err *e) {
    RankEnvConfig ec;
    rankenv_config_default(&ec);
    ec.kind = !strcmp(c->env.kind, "plain") ? RANK_PLAIN : RANK_WHITENED;
    ec.n_ranks = c->env.ranks.n;
    memcpy(ec.ranks, c->env.ranks.v, sizeof(int) * (size_t)c->env.ranks.n);
    ec.T = c->env.segment;
    ec.batch = batch;
    ec.alpha = c->env.alpha, ec.beta = c->env.beta, ec.gamma = c->env.gamma;
    ec.lambda = c->env.lambda, ec.epsilon = c->env.epsilon;
    ec.latency = t->has_lt ? RANKENV_LAT_TABLE : RANKENV_LAT_LIVE;
    ec.guard = !strcmp(c->env.guard, "input")  ? RANKENV_GUARD_INPUT
               : !strcmp(c->env.guard, "none") ? RANKENV_GUARD_NONE
                                               : RANKENV_GUARD_OUTPUT;
    ec.bound = !strcmp(c->env.bound, "cheap") ? BOUND_CHEAP : BOUND_TIGHT;
    ec.bucket = c->env.bucket;
    ec.per_head = c->env.per_head;
    ec.head_features = c->env.head_features;
    ec.probe_features = c->env.probe_features;
    ec.probe_layers = c->env.probe_layers;
    ec.seed = (uint64_t)c->seed;
    ec.part = part, ec.parts = parts;
    Status s = rankenv_init(&d->E, &d->R, &d->set, t->has_lt ? &t->lt : NULL, &ec, e);
    if (s) return s;
    d->env_ok = 1;
    const RankEnvDims *x = &d->E.dims;
    copy_dims(&t->env.dims, x->n_envs, x->n_tokens, x->token_dim, x->n_heads, x->head_token0,
              x->value_token, x->n_actions, x->max_steps, x->n_info, x->info_names);
    t->env.self = &d->E;
    t->env.reset = rankenv_reset, t->env.step = rankenv_step;
    t->env.save = rankenv_save, t->env.load = rankenv_load;
    return ST_OK;
}

/* ev: NULL for training (episodes over the training rows), else drrl-eval's split */
static Status rank_init(TrainEnv *t, const TrainConfig *c, const LatencyTable *given, const TrainEvalOptions *ev,
                        Err *e) {
    RankImpl *d = calloc(1, sizeof *d);
    if (!d) return err_set(e, ST_NOMEM, "out of memory");
    t->impl = d;
    int calib_len;
    Status s;
    if ((s = rank_model(t, d, c, ev, &calib_len, e)) || (s = rank_data(d, c, ev, calib_len, e)))
        return s;
    /* training: env.batch is every process's slots together (core/dist.h) */
    const int parts = ev ? 1 : dist_size(), part = ev ? 0 : dist_rank();
    if (!ev && c->env.batch % parts)
        return err_set(e, ST_CONFIG, "env.batch: expected a multiple of the %d processes (each "
                       "runs env.batch / %d episode slots), found %d", parts, parts,
                       c->env.batch);
    int batch = !ev ? c->env.batch / parts : ev->batch > 0 ? ev->batch : d->base.eval.batch;
    if (ev && batch > d->set.n) batch = d->set.n;
    const int say = !ev || !ev->quiet;
    if ((s = rank_factors(t, d, c, ev, batch, calib_len, say, e)) ||
        (s = rank_latency(t, d, c, given, ev, e)) ||
        (s = rank_env(t, d, c, batch, part, parts, e)))
        return s;
    if (!say) return ST_OK;
    fprintf(log_info(), "data: %s (%s, max_len %d, %d rows cut)\n", d->desc, d->base.data.format,
           d->base.data.max_len, d->set.n_truncated);
    fprintf(log_info(), "environment: %d sequences per batch from %d %s sentences, %d layers, grid [",
           batch * parts, d->set.n, ev ? ev->split : "training", d->bc.n_layers);
    for (int i = 0; i < c->env.ranks.n; i++) fprintf(log_info(), "%d ", c->env.ranks.v[i]);
    fprintf(log_info(), "full], %s factors, segment %d", c->env.kind, c->env.segment);
    if (c->env.per_head) /* the action heads are (segment, head) pairs */
        fprintf(log_info(), " per head (%d action heads)", d->E.dims.n_heads);
    fprintf(log_info(), ", latency %s\n", c->env.latency);
    return ST_OK;
}

static void rank_free(RankImpl *d) {
    if (d->env_ok) rankenv_free(&d->E);
    if (d->ranked_ok) ranked_free(&d->R);
    encoded_free(&d->calib), encoded_free(&d->set);
    base_vocab_close(&d->voc);
    bert_free(&d->m);
    bert_file_info_free(&d->info);
    free(d);
}

static Status toy_setup(TrainEnv *t, const TrainConfig *c, Err *e) {
    ToyEnv *x = calloc(1, sizeof *x);
    if (!x) return err_set(e, ST_NOMEM, "out of memory");
    const int parts = dist_size(); /* toy.batch: every process's slots together */
    if (c->toy.batch % parts) {
        free(x);
        return err_set(e, ST_CONFIG, "toy.batch: expected a multiple of the %d processes (each "
                       "runs toy.batch / %d episode slots), found %d", parts, parts,
                       c->toy.batch);
    }
    ToyConfig tc = {.n_envs = c->toy.batch / parts, .n_segments = c->toy.segments,
                    .noise = (float)c->toy.noise, .seed = (uint64_t)c->seed,
                    .first_slot = dist_rank() * (c->toy.batch / parts)};
    Status s = toy_init(x, &tc, e);
    if (s) {
        free(x);
        return s;
    }
    t->impl = x;
    copy_dims(&t->env.dims, x->n_envs, x->n_tokens, x->token_dim, x->n_heads, x->head_token0,
              x->value_token, x->n_actions, x->max_steps, x->n_info, x->info_names);
    t->env.self = x;
    t->env.reset = toy_reset, t->env.step = toy_step;
    t->env.save = toy_save, t->env.load = toy_load;
    fprintf(log_info(), "environment: toy, %d slots x %d segments, %d steps, %d actions\n",
            c->toy.batch, c->toy.segments, x->max_steps, x->n_actions);
    return ST_OK;
}

Status train_env_init(TrainEnv *t, const TrainConfig *c, const LatencyTable *given, Err *e) {
    memset(t, 0, sizeof *t);
    snprintf(t->type, sizeof t->type, "%.15s", c->env.type);
#ifdef _OPENMP
    if (c->env.threads > 0) omp_set_num_threads(c->env.threads);
#endif
    Status s = !strcmp(c->env.type, "toy") ? toy_setup(t, c, e) : rank_init(t, c, given, NULL, e);
    if (s) train_env_free(t);
    return s;
}

void train_env_free(TrainEnv *t) {
    if (t->impl) {
        if (!strcmp(t->type, "toy")) {
            toy_free(t->impl);
            free(t->impl);
        } else rank_free(t->impl);
    }
    t->impl = NULL;
}

Status train_env_init_eval(TrainEnv *t, const TrainConfig *c, const TrainEvalOptions *o, Err *e) {
    memset(t, 0, sizeof *t);
    snprintf(t->type, sizeof t->type, "%.15s", c->env.type);
    if (strcmp(c->env.type, "rank"))
        return err_set(e, ST_INVALID, "env.type: expected rank (an evaluation runs the frozen "
                       "model), found %s", c->env.type);
    if (strcmp(o->split, "dev") && strcmp(o->split, "test"))
        return err_set(e, ST_INVALID, "split: expected dev or test, found %s", o->split);
#ifdef _OPENMP
    if (c->env.threads > 0) omp_set_num_threads(c->env.threads);
#endif
    Status s = rank_init(t, c, NULL, o, e);
    if (s) train_env_free(t);
    return s;
}

void train_env_eval_parts(TrainEnv *t, TrainEvalParts *p) {
    RankImpl *d = t->impl;
    p->env = &d->E, p->R = &d->R, p->set = &d->set, p->base = &d->base, p->desc = d->desc;
}
