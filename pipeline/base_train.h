/* base_train.h: the training loop of drrl-base (one function, called by cmd/base.c). */
#ifndef DRRL_CMD_BASE_TRAIN_H
#define DRRL_CMD_BASE_TRAIN_H

#include "pipeline/base_config.h"
#include "core/err.h"

/* base_train: train the classifier of config c (SST-2, IMDB or recall) (resolved YAML text config_yaml), from
   scratch or from the checkpoint resume (NULL: none); writes RUN_DIR/model.h5 (the best dev
   model), RUN_DIR/checkpoint.h5 and RUN_DIR/metrics.csv; prints progress to stdout.
   Returns ST_OK, or an error; *interrupted is the signal number when SIGINT or SIGTERM
   stopped it after a checkpoint (0 otherwise). */
Status base_train(const BaseConfig *c, const char *config_yaml, const char *resume, int force,
                  int *interrupted, Err *e);

#endif
