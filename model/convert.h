/* convert.h: converting other tools' checkpoints (Hugging Face config.json + .safetensors)
 * into drrl model files: what every architecture's converter shares, and the table of
 * architectures that drrl-convert's subcommands come from.
 *
 * An architecture's converter (model/convert_bert.c: `drrl-convert bert`) reads its
 * config.json with core/json.h, opens the weights as a ConvertSource with its own renaming
 * rule (the source's keys -> the canonical names its model's tensor table uses; buffers and
 * unused heads dropped with a reason), then for each tensor of its model checks (pass 1:
 * convert_check, no data read) and reads (pass 2: convert_take) it by canonical name with
 * the shape the config implies, and refuses leftover tensors (convert_unused). Errors name
 * the file, the tensor (the file's own key, and the canonical name when they differ), the
 * expected shape and what was found. Reading goes tensor by tensor (safetensors.h), straight
 * into the model's parameters; converted values must be finite (a model file with NaN or
 * infinity is refused at load anyway, so the converter names the first bad element).
 *
 * Adding an architecture: a file model/convert_ARCH.c defining
 *   Status convert_ARCH(const ConvertOpts *o, ConvertResult *r, Err *e);
 * (declared below), one row in the table of convert.c (name, one-line description,
 * function), the file in model/meson.build; drrl-convert then takes `drrl-convert ARCH ...`
 * with the common flags of ConvertOpts. A matrix stored (in, out) (GPT-2's Conv1D) is read
 * into a model's (out, in) with transpose = 1. */
#ifndef DRRL_MODEL_CONVERT_H
#define DRRL_MODEL_CONVERT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "model/bert.h"
#include "model/safetensors.h"

#define CONVERT_NAME_MAX 256   /* canonical names (longer source keys are an error) */
#define CONVERT_MAX_CLASSES (1 << 20)

/* ConvertOpts: drrl-convert's common flags, for every architecture */
typedef struct {
    const char *config;   /* --config: the Hugging Face config.json */
    const char *weights;  /* --weights: the .safetensors file */
    const char *out;      /* --out: the drrl model file to write (atomically) */
    int n_classes;        /* --n-classes: 0 when not given */
    uint64_t seed;        /* --seed: of any freshly initialised tensor (default 1) */
    FILE *note;           /* notes (what was ignored or initialised); NULL: none */
} ConvertOpts;

/* ConvertResult: what was written, for the program's closing line */
typedef struct {
    char summary[512];    /* "vocab 30522, d_model 768, ..., n_classes 2" */
    size_t n_params;      /* parameters written */
    int initialised;      /* tensors initialised rather than converted */
} ConvertResult;

typedef Status (*ConvertFn)(const ConvertOpts *o, ConvertResult *r, Err *e);

typedef struct {
    const char *name;     /* the subcommand: "bert" */
    const char *about;    /* one line for drrl-convert --help */
    const char *layouts;  /* the accepted checkpoints, for `drrl-convert NAME --help` */
    ConvertFn run;
} ConvertArch;

/* convert_archs: the table of architectures (*n entries); convert_arch_find: by name or NULL */
const ConvertArch *convert_archs(int *n);
const ConvertArch *convert_arch_find(const char *name);

/* the architectures */
Status convert_bert(const ConvertOpts *o, ConvertResult *r, Err *e);
Status convert_gpt2(const ConvertOpts *o, ConvertResult *r, Err *e);

/* ConvertRename: an architecture's rule for one key of the file: write its canonical name
 * into out (cap bytes) and return 1, or return 0 to drop the tensor with *why set to a short
 * reason ("position_ids buffers", "pre-training heads, cls.*"), counted in the notes. */
typedef int (*ConvertRename)(const char *key, char *out, size_t cap, const char **why);

#define CONVERT_MAX_WHY 8 /* distinct drop reasons counted */

typedef struct {
    Safet *st;
    size_t n;             /* tensors in the file */
    char (*canon)[CONVERT_NAME_MAX]; /* (n) canonical name per safet_tensor index, "" dropped */
    size_t *order;        /* (n_kept) indices sorted by canonical name */
    size_t n_kept;
    uint8_t *used;        /* (n) 1 once convert_check found it */
    const char *why[CONVERT_MAX_WHY];
    size_t why_count[CONVERT_MAX_WHY];
    int n_why;
} ConvertSource;

/* convert_source_open: open path (safet_open) and rename every key; two keys giving one
 * canonical name is an error naming both (ST_FORMAT). On failure nothing stays open. */
Status convert_source_open(ConvertSource *s, const char *path, ConvertRename rename, Err *e);
/* convert_source_close: release (safe on a zeroed or failed source). */
void convert_source_close(ConvertSource *s);

/* convert_find: the tensor of canonical name, or NULL. */
const SafetTensor *convert_find(const ConvertSource *s, const char *name);

/* convert_check: the tensor of canonical name exists with shape dims[0..ndim) (transpose,
 * ndim 2 only: stored as (dims[1], dims[0])) and a float dtype; marks it used. ST_MISSING or
 * ST_SHAPE naming the file, the tensor and expected vs found. */
Status convert_check(ConvertSource *s, const char *name, int ndim, const int64_t *dims,
                     int transpose, Err *e);

/* convert_take: convert_check, then read it as float32 into dst (count = product of dims),
 * transposed when asked, every value finite (ST_NUMERIC naming the first bad element). */
Status convert_take(ConvertSource *s, const char *name, int ndim, const int64_t *dims,
                    int transpose, float *dst, Err *e);

/* convert_unused: ST_FORMAT listing (up to 10 of) the kept tensors no convert_check asked
 * for: "PATH: expected only the tensors of WHAT, found N more: a, b, ..." */
Status convert_unused(const ConvertSource *s, const char *what, Err *e);

/* convert_save: write the converted model m to o->out (bert_save, atomic) with a /config note
   "# converted by drrl-convert ARCH from WEIGHTS with CONFIG" and no training metadata. */
Status convert_save(const Bert *m, const ConvertOpts *o, const char *arch, Err *e);

/* convert_notes: one line per drop reason to f (NULL: none):
   "PROG: note: PATH: ignoring N tensors (REASON)" */
void convert_notes(const ConvertSource *s, FILE *f, const char *prog);

#endif
