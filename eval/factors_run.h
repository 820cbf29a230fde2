/* factors_run.h: a drrl-factors run around factors_eval (eval/factors_eval.h).
 *
 *   factors_load     the model, its stored config with the overrides (pipeline/base_run.h
 *                    base_run_model_config), the vocabulary (its SHA-256 checked against the
 *                    model's), the first calib_rows training sentences (the calibration set)
 *                    and the evaluated split, encoded; the model file's SHA-256
 *   factors_check    every rank within the model's head size
 *   factors_prepare  the ranked forward of the model (the rank grid, max m, bounds on, the
 *                    Performer seed) and its plain and whitened factors, calibrated on the
 *                    calibration set or loaded from the cache file (keyed by the model's
 *                    SHA-256, model/ranked_calib.h)
 *   factors_plan     the passes: exact; plain and whitened at each rank (the bound checked
 *                    below the head size); Nystrom and Performer at each m
 *   factors_run      the passes in order, the exact pass first as the reference of the
 *                    others, one progress unit per pass
 * The data paths, vocabulary and max_len come from the model's config (SST-2 layout). */
#ifndef DRRL_EVAL_FACTORS_RUN_H
#define DRRL_EVAL_FACTORS_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "data/encode.h"
#include "data/tsv.h"
#include "data/wordpiece.h"
#include "eval/factors_eval.h"
#include "model/bert_io.h"
#include "model/ranked.h"
#include "model/ranked_calib.h"
#include "pipeline/base_config.h"

#define FACTORS_MAX_LIST 16
#define FACTORS_MAX_PASSES (1 + 4 * FACTORS_MAX_LIST)

typedef struct {
    const char *model;       /* MODEL.h5 */
    const char *split;       /* "dev", "test" or "train" */
    const char *cache;       /* the factor cache file */
    int calib_rows;          /* calibration sentences (the first of the training set) */
    int batch;               /* sentences per forward; 0: the config's eval.batch */
    const int *ranks;        /* (nr) ranks of plain and whitened, 1..head size */
    int nr;
    const int *ms;           /* (nm) Nystrom landmarks and Performer features */
    int nm;
    uint64_t performer_seed; /* the Performer features' draw */
    const char *const *over; /* (n_over) KEY=VALUE overrides of the stored config */
    int n_over;
} FactorsOptions;

typedef struct {
    BertConfig bc;
    Bert m;
    BaseConfig c;           /* the stored config with the overrides */
    BertFileInfo info;
    char sha256[65];        /* of the model file */
    WordPiece *wp;
    TsvData train, eval;
    EncodedSet calib, set;  /* the calibration sentences, the evaluated split */
} FactorsData;

typedef struct {
    RankKind kind; /* RANK_EXACT, _PLAIN, _WHITENED, _NYSTROM or _PERFORMER */
    int rank;      /* rank per head, or m; exact: the head size */
    int bound;     /* 1: the tight bound is checked against the measured error */
    EvalRow row;   /* filled by factors_run */
} FactorsPass;

/* factors_load: d zeroed by the caller; factors_data_free after any return. */
Status factors_load(FactorsData *d, const FactorsOptions *o, Err *e);
void factors_data_free(FactorsData *d);

/* factors_check: ST_INVALID when a rank of o exceeds the head size of d's model. */
Status factors_check(const FactorsData *d, const FactorsOptions *o, Err *e);

/* factors_prepare: R (zeroed by the caller; ranked_free after success) for d's model; the
   caller checks o with factors_check first (ranked_init rejects a rank over the head size
   too, without naming the flag); ci: how the factors were obtained. */
Status factors_prepare(Ranked *R, FactorsData *d, const FactorsOptions *o, RankedCalibInfo *ci,
                       Err *e);

/* factors_plan: the passes of o into p (FACTORS_MAX_PASSES); returns their count. */
int factors_plan(FactorsPass *p, const FactorsOptions *o, int head);

/* factors_run: every pass over set (p[0] the exact one); progress lines to progress (NULL:
   none). */
Status factors_run(Ranked *R, const EncodedSet *set, FactorsPass *p, int n, FILE *progress,
                   Err *e);

/* factors_kind_name: "exact", "plain", "whitened", "nystrom", "performer". */
const char *factors_kind_name(RankKind k);

#endif
