/* base_eval.h: evaluation of the frozen classifier on an encoded set at full rank:
 * accuracy, confusion matrix, examples per second. */
#ifndef DRRL_CMD_BASE_EVAL_H
#define DRRL_CMD_BASE_EVAL_H

#include <stdio.h>

#include "core/err.h"
#include "data/encode.h"
#include "env/bert.h"

typedef struct {
    int n;               /* sentences evaluated */
    int n_labeled;       /* of which labelled */
    int correct;         /* among the labelled */
    int confusion[2][2]; /* [true label][prediction] */
    double accuracy;     /* correct / n_labeled (0 if none) */
    double seconds;      /* wall time of the forwards (monotonic clock) */
    double examples_per_s;
    int64_t tokens;      /* real tokens; padded tokens in padded_tokens */
    int64_t padded_tokens;
} EvalResult;

/* base_evaluate: predictions (argmax of the logits) of every row of s, in batches of up to
   `batch` rows (at most the model's max_B) grouped by length so that little is padded; pred
   (s->n) receives the predicted class of each row when not NULL. */
Status base_evaluate(Bert *m, const EncodedSet *s, int batch, int32_t *pred, EvalResult *r,
                     Err *e);

/* predictions_write: GLUE's prediction file (header "index\tprediction", one row per
   sentence), written atomically (temporary file, then rename). */
Status predictions_write(const char *path, const int32_t *index /* (n) */,
                         const int32_t *pred /* (n) */, int n, Err *e);

/* eval_print: accuracy, confusion matrix and speed as a few human-readable lines. */
void eval_print(FILE *f, const char *what, const EvalResult *r);

#endif
