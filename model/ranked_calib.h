/* ranked_calib.h: calibration of the whitened factors of a ranked forward (model/ranked.h),
 * with an HDF5 cache.
 *
 * ranked_calibrate runs the exact model over the first K rows of an encoded set (K from the
 * caller; 2048 sentences is the suggested default), accumulates each layer's input second
 * moment over real tokens (attention/moment.h), factors it with the ridge (default
 * ATTN_RIDGE_DEFAULT), and computes every layer's whitened factors, recording the moment's
 * hash (attn_moment_hash) in them. Plain factors are the ones ranked_init computed.
 *
 * Cache file, format "drrl-factors" version 1 (core/store.h, written atomically):
 *   root attributes  model_sha256  the key: hash of the model file (from the caller)
 *                    data_sha256   hash of the calibration token ids (rows, lengths, ids)
 *                    calib_rows (int64), ridge (float64), n_layers, d_model, n_heads (int64)
 *                    calib_tokens (int64; informational: real tokens per layer moment)
 *   /factors/layer/<l>/plain, /factors/layer/<l>/whitened   attention/factors_io.h groups
 * A cache is reused only when every root attribute but calib_tokens matches (same model file, same
 * calibration sentences, same ridge, same architecture); otherwise the factors are computed
 * and the file is replaced. A file that is not a drrl-factors file is an error (never
 * overwritten). */
#ifndef DRRL_ENV_RANKED_CALIB_H
#define DRRL_ENV_RANKED_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "attention/moment.h"
#include "core/err.h"
#include "data/encode.h"
#include "model/ranked.h"

#define RANKED_CACHE_FORMAT "drrl-factors"
#define RANKED_CACHE_VERSION 1
#define RANKED_CALIB_DEFAULT_ROWS 2048

typedef struct {
    int rows;                 /* K: the first K rows of the set (all of them if fewer) */
    int batch;                /* sentences per forward (<= R->max_B; 0: R->max_B) */
    double ridge;             /* relative ridge of the whitener, >= 0 (ATTN_RIDGE_DEFAULT) */
    const char *cache;        /* HDF5 cache file, or NULL: no cache */
    const char *model_sha256; /* the model file's hash, the cache key (required with cache) */
} RankedCalib;

typedef struct {
    int loaded;              /* 1: the factors came from the cache */
    int rows;                /* calibration sentences */
    int64_t tokens;          /* real tokens per layer moment (the cache's when loaded) */
    char data_sha256[65];    /* hash of the calibration token ids */
    double seconds;          /* wall time of the calibration (or of the load) */
} RankedCalibInfo;

/* ranked_calibrate: fill R->white (and R->plain from a cache) as above, then
   ranked_set_factors(R, 1). set rows must fit R (max_len <= max_N). info may be NULL. */
Status ranked_calibrate(Ranked *R, const EncodedSet *set, const RankedCalib *c,
                        RankedCalibInfo *info, Err *e);

/* ranked_calib_cache_path: the default cache file of a model file, MODEL.factors.h5 (a
   trailing ".h5" of model replaced). */
void ranked_calib_cache_path(char *out, size_t cap, const char *model);

/* ranked_calib_data_hash: the data_sha256 of the first `rows` rows of set. */
void ranked_calib_data_hash(char hex[65], const EncodedSet *set, int rows);

#endif
