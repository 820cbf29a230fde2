/* bert_io.h: the model file of the frozen BERT classifier (HDF5 through core/store.h).
 *
 * Format "drrl-model", version 1 (an encoder with the erf GELU) or 2 (adds the string
 * attributes arch = "encoder" | "decoder" and act = "gelu" | "gelu_tanh"; absent in version 1:
 * encoder, gelu). A decoder (model/lm.h) stores GPT-2's tensors instead of BERT's, at GPT-2's
 * names ('.' -> '/'), Conv1D matrices (in, out) and q, k, v fused in c_attn (model/lm_io.c
 * lists them). An encoder's:
 *   root attributes  format = "drrl-model", format_version = 1 (int64)
 *                    vocab, max_pos, type_vocab, d_model, n_heads, d_ff, n_layers,
 *                    n_classes (int64); ln_eps, dropout, attn_dropout (float64)
 *                    position (string "learned" or "conv"; absent = learned, as in files
 *                    written before it existed and converted BERT weights), conv_kernel
 *                    (int64, conv only)
 *                    vocab_sha256, data_sha256 (strings; "" when unknown),
 *                    dev_accuracy (float64; NaN when unknown), train_steps (int64)
 *   /config          text dataset: the resolved YAML config the model was trained with
 *   one float32 dataset per tensor of the table in bert.h, at the HuggingFace name with '.'
 *   replaced by '/' and a leading '/':  bert.encoder.layer.3.attention.self.query.weight
 *   -> /bert/encoder/layer/3/attention/self/query/weight, shape (out, in) or (n), so that a
 *   HuggingFace BertForSequenceClassification state_dict maps one to one (a conv model
 *   stores /bert/embeddings/position_conv/{weight (k, C), bias (C)} in place of
 *   /bert/embeddings/position_embeddings/weight; HuggingFace has no such layer)
 *   (scripts/convert_bert.py writes such files from a torch state_dict).
 * Writes are atomic (store_create / store_commit). Readers check the format, the version,
 * every architecture attribute and every tensor's shape and element type. */
#ifndef DRRL_ENV_BERT_IO_H
#define DRRL_ENV_BERT_IO_H

#include <stdint.h>

#include "core/err.h"
#include "model/bert.h"

#define BERT_FILE_FORMAT "drrl-model"
#define BERT_FILE_VERSION 2 /* the newest version read; written: 1 when it suffices */
#define BERT_SHA_MAX 72 /* 64 hex digits + NUL, with room */

/* BertFileMeta: what bert_save records besides the tensors; NULL strings are stored as "". */
typedef struct {
    const char *config_yaml;  /* resolved config text (stored as /config) */
    const char *vocab_sha256; /* hash of the vocabulary file */
    const char *data_sha256;  /* hash of the training data */
    double dev_accuracy;      /* NaN if not measured (a decoder: always) */
    int64_t train_steps;
    double dev_bits_per_byte; /* a decoder's dev bits per byte (attribute dev_bits_per_byte,
                                 decoders only); 0 is read as "not measured" (NaN) */
} BertFileMeta;

/* BertFileInfo: the same, as read back (owned); free config_yaml with bert_file_info_free.
 * Files without the metadata (e.g. converted from elsewhere) give "", NaN and 0. */
typedef struct {
    char *config_yaml; /* malloc'd, NUL-terminated, never NULL after a successful load */
    char vocab_sha256[BERT_SHA_MAX];
    char data_sha256[BERT_SHA_MAX];
    double dev_accuracy;
    int64_t train_steps;
    double dev_bits_per_byte; /* NaN when absent */
} BertFileInfo;

/* bert_tensor_path: the dataset path of a tensor name ('.' -> '/', leading '/'). */
void bert_tensor_path(char *out, size_t cap, const char *name);

/* bert_save: write m's configuration, metadata (meta may be NULL) and every tensor to path,
 * atomically: a failure at any point leaves an existing file at path untouched. */
Status bert_save(const Bert *m, const char *path, const BertFileMeta *meta, Err *e);

/* bert_read_config: the architecture attributes of a model file, validated with
 * bert_config_check (messages name the file and the attribute, expected vs found). */
Status bert_read_config(const char *path, BertConfig *c, Err *e);

/* bert_load: read every tensor of the file into m, which was bert_init'ed with the same
 * architecture (typically from bert_read_config of this file): each architecture attribute
 * must equal m->c's (ST_SHAPE naming the attribute, expected vs found), and every tensor
 * must exist with m's shape as float32 (the store's messages). The dropout rates of m are
 * kept (the file's are informational). info may be NULL; it is cleared on entry and on
 * success owns config_yaml (bert_file_info_free is safe after any return). On failure m's
 * parameters may be partly overwritten. */
Status bert_load(Bert *m, const char *path, BertFileInfo *info, Err *e);

/* bert_file_info_free: free the owned strings (safe on a zeroed info). */
void bert_file_info_free(BertFileInfo *info);

#endif
