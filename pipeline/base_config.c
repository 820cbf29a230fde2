/* base_config.c: schema of the drrl-base config (see base_config.h); the defaults are the
 * default SST-2 model (configs/sst2-base.yaml holds the same values; the keys added later,
 * data.format, data.dev_rows, model.position and model.conv_kernel, default to what that
 * model is: sst2, 0, learned; data.recall.* are read only with data.format: recall, their
 * defaults are configs/recall-base.yaml's task).
 *
 * Position encodings and lengths: with model.position learned the model has a table of
 * model.max_pos rows, so data.max_len (the training length, and any evaluation length given
 * as an override) must not exceed it. With conv (a depthwise convolution of width
 * model.conv_kernel along the sequence, model/bert.h) there is no table: data.max_len may be
 * anything, model.max_pos only records the length trained at. */
#include "pipeline/base_config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define F(path, type, member, def, lo, hi, help) \
    {path, type, offsetof(BaseConfig, member), 0, def, lo, hi, NULL, help}
#define E(path, member, def, choices, help) \
    {path, CF_ENUM, offsetof(BaseConfig, member), 0, def, 1, 0, choices, help}
static const ConfigField base_fields[] = {
    F("seed", CF_INT, seed, "1", 0, 2147483647, "seed of every random stream"),
    E("data.format", data.format, "sst2", "sst2|imdb|recall", "sst2: GLUE TSV + WordPiece; imdb: gzip TSV label<TAB>text, byte tokens (no vocabulary file); recall: associative recall generated from data.recall.* (no file read)"),
    F("data.train", CF_STRING, data.train, "\"data/sst2/train.tsv\"", 1, 0, "GLUE TSV, sentence<TAB>label (imdb: .tsv.gz)"),
    F("data.dev", CF_STRING, data.dev, "\"data/sst2/dev.tsv\"", 1, 0, "evaluated every epoch (not read when data.dev_rows > 0)"),
    F("data.dev_rows", CF_INT, data.dev_rows, "0", 0, 1 << 24, "imdb: > 0 holds this many rows of data.train out as the dev set (a fixed seeded shuffle); 0: data.dev"),
    F("data.test", CF_STRING, data.test, "\"data/sst2/test.tsv\"", 1, 0, "index<TAB>sentence, for --split test"),
    F("data.vocab", CF_STRING, data.vocab, "\"data/vocab/bert-base-uncased-vocab.txt\"", 1, 0, "WordPiece vocabulary"),
    F("data.train_limit", CF_INT, data.train_limit, "0", 0, 1 << 30, "use only the first N training rows (0: all)"),
    F("data.max_len", CF_INT, data.max_len, "64", 3, 65536, "tokens per sentence incl. [CLS] [SEP] (longer ones are cut); at most model.max_pos with learned positions"),
    F("data.recall.seed", CF_INT, data.recall.seed, "1", 0, 2147483647, "recall: the data seed (each split its own stream; the model's seed does not change the data)"),
    F("data.recall.train_rows", CF_INT, data.recall.train_rows, "96000", 1, 1 << 24, "recall: training rows"),
    F("data.recall.dev_rows", CF_INT, data.recall.dev_rows, "2000", 1, 1 << 24, "recall: dev rows"),
    F("data.recall.test_rows", CF_INT, data.recall.test_rows, "2000", 1, 1 << 24, "recall: test rows"),
    F("data.recall.length", CF_INT, data.recall.length, "64", 5, 65536, "recall: tokens per row incl. [CLS], query, [SEP] (at most data.max_len)"),
    F("data.recall.keys", CF_INT, data.recall.keys, "32", 1, 1 << 20, "recall: key symbols"),
    F("data.recall.values", CF_INT, data.recall.values, "16", 2, 1 << 16, "recall: value symbols = the model's classes"),
    F("data.recall.fillers", CF_INT, data.recall.fillers, "16", 1, 1 << 20, "recall: filler (noise) symbols in the unused positions"),
    F("data.recall.min_pairs", CF_INT, data.recall.min_pairs, "2", 1, 1 << 20, "recall: fewest key-value pairs of a row"),
    F("data.recall.max_pairs", CF_INT, data.recall.max_pairs, "12", 1, 1 << 20, "recall: most pairs (<= keys and (length - 3) / 2); a row's count is drawn in [min_pairs, max_pairs] by data.recall.pair_dist"),
    E("data.recall.pair_dist", data.recall.pair_dist, "uniform", "uniform|zipf", "recall: a row's pair count P: uniform in [min_pairs, max_pairs], or zipf: Pr(P = p) proportional to 1/p (few-pair rows common, each octave of P about equally often)"),
    F("model.d_model", CF_INT, model.d_model, "256", 2, 4096, "hidden width"),
    F("model.n_heads", CF_INT, model.n_heads, "4", 1, 256, "attention heads (divide d_model)"),
    F("model.d_ff", CF_INT, model.d_ff, "1024", 1, 65536, "feed-forward width"),
    F("model.n_layers", CF_INT, model.n_layers, "4", 1, BERT_MAX_LAYERS, "encoder layers"),
    F("model.max_pos", CF_INT, model.max_pos, "128", 3, 65536, "position embeddings (>= data.max_len); conv: only the length trained at"),
    E("model.position", model.position, "learned", "learned|conv", "learned: absolute position table; conv: x = e + DWConv(e), relative, runs at any length"),
    F("model.conv_kernel", CF_INT, model.conv_kernel, "9", 1, BERT_CONV_MAX_KERNEL, "conv: kernel width (odd; a decoder's causal convolution: any), in tokens"),
    E("model.arch", model.arch, "encoder", "encoder|decoder", "encoder: the post-LN BERT classifier; decoder: the pre-LN GPT-2 causal language model (model/lm.h) trained to predict the next byte of data.format: imdb's review text (rows of data.max_len - 2 bytes joined from consecutive reviews)"),
    E("model.act", model.act, "gelu", "gelu|gelu_tanh", "feed-forward activation: exact erf GELU (BERT) or its tanh approximation (GPT-2's gelu_new)"),
    F("model.type_vocab", CF_INT, model.type_vocab, "2", 1, 16, "token-type embeddings"),
    F("model.dropout", CF_FLOAT, model.dropout, "0.2", 0, 0.9, "hidden dropout (0.2 beat 0.1 on dev: 81.5/82.3 vs 81.0/81.3 over two seeds)"),
    F("model.attn_dropout", CF_FLOAT, model.attn_dropout, "0.1", 0, 0.9, "dropout on attention probabilities"),
    F("train.epochs", CF_INT, train.epochs, "1", 1, 1000, "passes over the training set"),
    F("train.batch", CF_INT, train.batch, "64", 1, 4096, "sentences per step"),
    F("train.bucket", CF_BOOL, train.bucket, "true", 0, 0, "length-bucketed batches"),
    F("train.bucket_pool", CF_INT, train.bucket_pool, "50", 1, 100000, "batches sorted together when bucketing"),
    F("train.lr", CF_FLOAT, train.lr, "0.0003", 1e-8, 1, "peak learning rate"),
    F("train.warmup", CF_FLOAT, train.warmup, "0.1", 0, 1, "warm-up fraction of all steps, then linear decay to 0"),
    F("train.weight_decay", CF_FLOAT, train.weight_decay, "0.01", 0, 1, "AdamW decoupled decay (not biases, LayerNorm)"),
    F("train.grad_clip", CF_FLOAT, train.grad_clip, "1.0", 0, 1e6, "global gradient-norm clip (0: off)"),
    F("train.max_nonfinite", CF_INT, train.max_nonfinite, "8", 0, 1 << 20, "steps in a row that may be skipped for a non-finite loss or gradient before the run stops (0: stop at the first)"),
    F("train.log_every", CF_INT, train.log_every, "50", 1, 1 << 24, "progress line period (steps)"),
    F("train.checkpoint_every", CF_INT, train.checkpoint_every, "200", 0, 1 << 24, "checkpoint period (steps; 0: epoch ends only)"),
    F("train.eval_every", CF_INT, train.eval_every, "0", 0, 1 << 24, "dev evaluation period (steps; 0: epoch ends only)"),
    F("train.max_steps", CF_INT, train.max_steps, "0", 0, 1 << 30, "stop after this many steps (0: all epochs); the schedule still spans all epochs"),
    F("eval.batch", CF_INT, eval.batch, "64", 1, 4096, "sentences per evaluation batch"),
    F("run.dir", CF_STRING, run.dir, "\"runs/sst2-base\"", 1, 0, "output directory (model.h5, checkpoint.h5, metrics.csv)"),
};
#undef F
#undef E

int base_is_imdb(const BaseConfig *c) { return strcmp(c->data.format, "imdb") == 0; }
int base_is_lm(const BaseConfig *c) { return strcmp(c->model.arch, "decoder") == 0; }
int base_is_recall(const BaseConfig *c) { return strcmp(c->data.format, "recall") == 0; }

RecallConfig base_recall_config(const BaseConfig *c) {
    RecallConfig r = {.seed = (uint64_t)c->data.recall.seed, .length = c->data.recall.length,
                      .n_keys = c->data.recall.keys, .n_values = c->data.recall.values,
                      .n_fillers = c->data.recall.fillers, .min_pairs = c->data.recall.min_pairs,
                      .max_pairs = c->data.recall.max_pairs,
                      .pair_dist = strcmp(c->data.recall.pair_dist, "zipf") == 0
                                       ? RECALL_PAIRS_ZIPF : RECALL_PAIRS_UNIFORM};
    return r;
}

int base_n_classes(const BaseConfig *c) { return base_is_recall(c) ? c->data.recall.values : 2; }

/* the recall settings (only with data.format: recall) */
static Status recall_validate(const BaseConfig *c, const char *src, Err *e) {
    RecallConfig r = base_recall_config(c);
    Err inner = {0};
    if (recall_check(&r, &inner)) /* "SRC: data.recall.max_pairs: expected ..." */
        return err_set(e, ST_CONFIG, "%s: data.recall.%s", src, inner.msg);
    if (c->data.max_len < r.length)
        return err_set(e, ST_CONFIG, "%s: data.max_len: expected at least data.recall.length "
                       "(%d), found %d", src, r.length, c->data.max_len);
    return ST_OK;
}

static Status base_validate(const void *p, const char *src, Err *e) {
    const BaseConfig *c = p;
    if (c->model.d_model % c->model.n_heads)
        return err_set(e, ST_CONFIG, "%s: model.n_heads: expected a divisor of model.d_model (%d), found %d",
                       src, c->model.d_model, c->model.n_heads);
    const int conv = strcmp(c->model.position, "conv") == 0;
    if (!conv && c->model.max_pos < c->data.max_len)
        return err_set(e, ST_CONFIG, "%s: data.max_len: expected at most model.max_pos (%d) with "
                       "model.position: learned (its position table has no rows past that; "
                       "model.position: conv runs at any length), found %d", src,
                       c->model.max_pos, c->data.max_len);
    const int dec = base_is_lm(c);
    if (conv && !dec && c->model.conv_kernel % 2 == 0)
        return err_set(e, ST_CONFIG, "%s: model.conv_kernel: expected an odd width, found %d", src,
                       c->model.conv_kernel);
    if (dec && !base_is_imdb(c))
        return err_set(e, ST_CONFIG, "%s: data.format: expected imdb with model.arch: decoder "
                       "(the language model learns the review text's bytes), found %s", src,
                       c->data.format);
    if (!base_is_imdb(c) && c->data.dev_rows)
        return err_set(e, ST_CONFIG, "%s: data.dev_rows: expected 0 with data.format: %s (%s), "
                       "found %d", src, c->data.format, base_is_recall(c) ? "its dev rows are "
                       "data.recall.dev_rows" : "its dev set is data.dev", c->data.dev_rows);
    if (base_is_recall(c)) return recall_validate(c, src, e);
    return ST_OK;
}

const ConfigSchema base_schema = {"drrl-base config", base_fields,
                                  (int)(sizeof base_fields / sizeof base_fields[0]), base_validate};

BertConfig base_bert_config(const BaseConfig *c, int vocab) {
    BertConfig b = {0};
    b.vocab = vocab;
    b.max_pos = c->model.max_pos;
    b.type_vocab = c->model.type_vocab;
    b.d_model = c->model.d_model;
    b.n_heads = c->model.n_heads;
    b.d_ff = c->model.d_ff;
    b.n_layers = c->model.n_layers;
    b.n_classes = base_n_classes(c);
    b.ln_eps = 1e-12f;
    b.dropout = (float)c->model.dropout;
    b.attn_dropout = (float)c->model.attn_dropout;
    b.position = strcmp(c->model.position, "conv") == 0 ? BERT_POS_CONV : BERT_POS_LEARNED;
    b.conv_kernel = b.position == BERT_POS_CONV ? c->model.conv_kernel : 0;
    b.act = strcmp(c->model.act, "gelu_tanh") == 0 ? BERT_ACT_GELU_TANH : BERT_ACT_GELU;
    if (base_is_lm(c)) { /* no token types; the LM head predicts every id */
        b.arch = BERT_ARCH_DECODER;
        b.type_vocab = 1;
        b.n_classes = vocab;
        b.ln_eps = 1e-5f; /* GPT-2's */
    }
    return b;
}
