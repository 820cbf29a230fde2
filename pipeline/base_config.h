/* base_config.h: the configuration of drrl-base (training and evaluating the frozen
 * model: SST-2 with WordPiece, or byte-level IMDB): its struct, its schema and its
 * cross-field checks. */
#ifndef DRRL_CMD_BASE_CONFIG_H
#define DRRL_CMD_BASE_CONFIG_H

#include "core/config.h"
#include "model/bert.h"

typedef struct {
    int seed;
    struct {
        char format[CONFIG_STR_MAX]; /* "sst2" (GLUE TSV + WordPiece) or "imdb" (gzip TSV,
                                        byte tokens, data/imdb.h) */
        char train[CONFIG_STR_MAX], dev[CONFIG_STR_MAX], test[CONFIG_STR_MAX];
        int dev_rows;                /* imdb: > 0 carves the dev set out of data.train */
        char vocab[CONFIG_STR_MAX];
        int max_len;
        int train_limit;
    } data;
    struct {
        int d_model, n_heads, d_ff, n_layers, max_pos;
        char position[CONFIG_STR_MAX]; /* "learned" or "conv" */
        int conv_kernel;
        int type_vocab;
        double dropout, attn_dropout;
    } model;
    struct {
        int epochs, batch, bucket, bucket_pool, log_every, checkpoint_every, eval_every;
        int max_steps;
        double lr, warmup, weight_decay, grad_clip;
    } train;
    struct { int batch; } eval;
    struct { char dir[CONFIG_STR_MAX]; } run;
} BaseConfig;

extern const ConfigSchema base_schema;

/* base_is_imdb: 1 when data.format is imdb. */
int base_is_imdb(const BaseConfig *c);

/* base_bert_config: the model architecture of a BaseConfig (vocab from the tokenizer). */
BertConfig base_bert_config(const BaseConfig *c, int vocab);

#endif
