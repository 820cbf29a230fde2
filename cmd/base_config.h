/* base_config.h: the configuration of drrl-base (training and evaluating the frozen
 * SST-2 model): its struct, its schema and its cross-field checks. */
#ifndef DRRL_CMD_BASE_CONFIG_H
#define DRRL_CMD_BASE_CONFIG_H

#include "core/config.h"
#include "env/bert.h"

typedef struct {
    int seed;
    struct {
        char train[CONFIG_STR_MAX], dev[CONFIG_STR_MAX], test[CONFIG_STR_MAX];
        char vocab[CONFIG_STR_MAX];
        int max_len;
        int train_limit;
    } data;
    struct {
        int d_model, n_heads, d_ff, n_layers, max_pos, type_vocab;
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

/* base_bert_config: the model architecture of a BaseConfig (vocab from the tokenizer). */
BertConfig base_bert_config(const BaseConfig *c, int vocab);

#endif
