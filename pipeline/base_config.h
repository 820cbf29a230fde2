/* base_config.h: the configuration of drrl-base (training and evaluating the frozen
 * model: SST-2 with WordPiece, byte-level IMDB, or the generated associative-recall task of
 * data/recall.h): its struct, its schema and its cross-field checks. */
#ifndef DRRL_CMD_BASE_CONFIG_H
#define DRRL_CMD_BASE_CONFIG_H

#include "core/config.h"
#include "data/recall.h"
#include "model/bert.h"

typedef struct {
    int seed;
    struct {
        char format[CONFIG_STR_MAX]; /* "sst2" (GLUE TSV + WordPiece), "imdb" (gzip TSV,
                                        byte tokens, data/imdb.h) or "recall" (generated in
                                        memory, data/recall.h; no file is read) */
        char train[CONFIG_STR_MAX], dev[CONFIG_STR_MAX], test[CONFIG_STR_MAX];
        int dev_rows;                /* imdb: > 0 carves the dev set out of data.train */
        char vocab[CONFIG_STR_MAX];
        int max_len;
        int train_limit;
        struct {                     /* recall: data.recall.* (data/recall.h) */
            int seed;                /* the data seed (the model's `seed` does not change it) */
            int train_rows, dev_rows, test_rows;
            int length, keys, values, fillers, min_pairs, max_pairs;
            char pair_dist[CONFIG_STR_MAX]; /* "uniform" or "zipf" (data/recall.h) */
        } recall;
    } data;
    struct {
        int d_model, n_heads, d_ff, n_layers, max_pos;
        char position[CONFIG_STR_MAX]; /* "learned" or "conv" */
        char arch[CONFIG_STR_MAX];     /* "encoder" or "decoder" (model/lm.h) */
        char act[CONFIG_STR_MAX];      /* "gelu" or "gelu_tanh" */
        int conv_kernel;
        int type_vocab;
        double dropout, attn_dropout;
    } model;
    struct {
        int epochs, batch, bucket, bucket_pool, log_every, checkpoint_every, eval_every;
        int max_steps, max_nonfinite;
        double lr, warmup, weight_decay, grad_clip;
    } train;
    struct { int batch; } eval;
    struct { char dir[CONFIG_STR_MAX]; } run;
} BaseConfig;

extern const ConfigSchema base_schema;

/* base_is_imdb: 1 when data.format is imdb. */
int base_is_imdb(const BaseConfig *c);
/* base_is_lm: 1 with model.arch: decoder (a byte-level language model on the IMDB text) */
int base_is_lm(const BaseConfig *c);
/* base_is_recall: 1 when data.format is recall. */
int base_is_recall(const BaseConfig *c);
/* base_recall_config: the generator settings of data.recall.* (data/recall.h). */
RecallConfig base_recall_config(const BaseConfig *c);
/* base_n_classes: the classifier's classes: 2 (sst2, imdb) or data.recall.values (recall). */
int base_n_classes(const BaseConfig *c);

/* base_bert_config: the model architecture of a BaseConfig (vocab from the tokenizer). */
BertConfig base_bert_config(const BaseConfig *c, int vocab);

#endif
