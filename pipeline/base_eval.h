/* base_eval.h: the data drrl-base trains and evaluates on (both data formats, one function
 * per split, shared by training and --eval), and evaluation of the frozen classifier on an
 * encoded set at full rank: accuracy, confusion matrix, examples per second.
 *
 * Data formats (data.format):
 *   sst2  GLUE TSV files (data/tsv.h) tokenized by BERT WordPiece (data.vocab); train
 *         data.train, dev data.dev, test data.test (unlabelled).
 *   imdb  gzip TSV files `label\ttext` (data/imdb.h) as byte tokens ([CLS] bytes [SEP],
 *         vocabulary IMDB_VOCAB = 260, no vocabulary file); test data.test (labelled).
 *         dev: with data.dev_rows = D > 0, D rows held out of data.train: the last D of a
 *         permutation of its rows drawn with a fixed seed (BASE_IMDB_SPLIT_SEED, not the
 *         config's seed, so every model and seed sees the same dev set); train is then the
 *         other rows in file order. With D = 0, dev is data.dev (e.g. another file) and
 *         train all of data.train. The test file is never used to choose anything.
 *   recall generated in memory (data/recall.h), nothing read: split train, dev, test is
 *         data.recall.train_rows / dev_rows / test_rows rows of the generator's stream of
 *         that split under data.recall.seed; rows of data.recall.length tokens padded to
 *         data.max_len; vocabulary recall_vocab (4 specials, keys, values, fillers), labels
 *         0 .. data.recall.values - 1 (the model's classes).
 * Rows longer than data.max_len tokens are cut (their start kept). */
#ifndef DRRL_CMD_BASE_EVAL_H
#define DRRL_CMD_BASE_EVAL_H

#include <stdio.h>

#include "pipeline/base_config.h"
#include "core/err.h"
#include "core/progress.h"
#include "data/encode.h"
#include "data/wordpiece.h"
#include "model/bert.h"

#define BASE_IMDB_SPLIT_SEED 0x696d6462ULL /* "imdb": the dev/train permutation's seed */
/* the byte vocabulary's identity: its vocab_sha256 is the SHA-256 of this text */
#define BASE_IMDB_VOCAB_TEXT "drrl byte vocabulary v1: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3, byte b = 4 + b\n"

/* BaseVocab: how text becomes token ids under data.format. */
typedef struct {
    int imdb;          /* 1: byte tokens; 0: WordPiece or recall */
    int recall;        /* 1: generated recall rows (data/recall.h) */
    WordPiece *wp;     /* sst2: the vocabulary (owned); NULL for imdb and recall */
    int vocab;         /* every id is < vocab (WordPiece size, IMDB_VOCAB, recall_vocab) */
    char sha[65];      /* SHA-256 of data.vocab (sst2), of BASE_IMDB_VOCAB_TEXT (imdb) or of
                          recall_vocab_text (recall) */
} BaseVocab;

/* base_vocab_open: load the vocabulary of c's data.format (messages prefixed data.vocab). */
Status base_vocab_open(BaseVocab *v, const BaseConfig *c, Err *e);
/* base_vocab_close: free it (safe on a zeroed or failed BaseVocab). */
void base_vocab_close(BaseVocab *v);

/* base_load_split: split "train", "dev" or "test" of c's data encoded to c->data.max_len
 * tokens per row into out (encoded_free it). limit > 0 keeps only the first limit rows.
 * labelled = 1 makes an unlabelled file an error. desc (cap bytes, may be NULL) receives
 * where the rows came from, e.g. "data/sst2/dev.tsv", "1000 rows held out of
 * data/imdb/train.tsv.gz" or "2000 recall rows generated (data seed 1, dev stream)". Errors
 * name the config key of the file (data.train, ...). */
Status base_load_split(EncodedSet *out, const BaseConfig *c, const BaseVocab *v,
                       const char *split, int limit, int labelled, char *desc, size_t cap,
                       Err *e);

typedef struct {
    int n;               /* sentences evaluated */
    int n_classes;       /* the model's classes */
    int n_labeled;       /* of which labelled (label in 0 .. n_classes - 1) */
    int correct;         /* among the labelled */
    int confusion[2][2]; /* [true label][prediction] (two classes only) */
    double accuracy;     /* correct / n_labeled (0 if none) */
    double seconds;      /* wall time of the forwards (monotonic clock) */
    double examples_per_s;
    int64_t tokens;      /* real tokens; padded tokens in padded_tokens */
    int64_t padded_tokens;
} EvalResult;

/* base_evaluate: predictions (argmax of the logits) of every row of s, in batches of up to
   `batch` rows (at most the model's max_B) grouped by length so that little is padded; pred
   (s->n) receives the predicted class of each row when not NULL. progress (NULL: none)
   counts the rows' real tokens. */
Status base_evaluate(Bert *m, const EncodedSet *s, int batch, int32_t *pred, EvalResult *r,
                     Progress *progress, Err *e);

/* predictions_write: GLUE's prediction file (header "index\tprediction", one row per
   sentence), written atomically (temporary file, then rename). */
Status predictions_write(const char *path, const int32_t *index /* (n) */,
                         const int32_t *pred /* (n) */, int n, Err *e);

/* eval_print: accuracy, confusion matrix (two classes) and speed as a few human-readable
   lines. */
void eval_print(FILE *f, const char *what, const EvalResult *r);

/* recall_print_by_pairs: accuracy of pred (s->n) by the rows' pair counts (read from their
   tokens, recall_count_pairs), one line per count: "pairs  n  correct  accuracy". */
void recall_print_by_pairs(FILE *f, const RecallConfig *rc, const EncodedSet *s,
                           const int32_t *pred);

#endif
