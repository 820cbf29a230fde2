/* factors_io.h: caching weight-level factors in a model file (HDF5 through core/store.h).
 * One layer's factors live in a group (e.g. "/factors/layer/3/whitened") as
 *     a, b, c (H, d+1, dh) float32;  d (H, d, dh) float32;  bo (d) float32;
 *     s_qk, s_vo (H, dh) float64;
 * with attributes on the group: kind ("plain" | "whitened"), d_model, n_heads, ridge, and
 * calib_hash (hex SHA-256 of the calibration, "" for plain factors). Reading checks every
 * shape and type (store_read) and the attributes against the AttnFactors it fills. */
#ifndef DRRL_ATTENTION_FACTORS_IO_H
#define DRRL_ATTENTION_FACTORS_IO_H

#include "attention/factors.h"
#include "core/err.h"
#include "core/store.h"

/* attn_factors_write: write f under group (an absolute path; created as needed). */
Status attn_factors_write(Store *st, const char *group, const AttnFactors *f, Err *e);

/* attn_factors_read: fill f (initialised with the expected d and H) from group. ST_SHAPE if
   d_model / n_heads or any dataset shape differ; ST_FORMAT if kind is unknown, or if
   expect_hash is not NULL and differs from the stored calib_hash (stale factors). */
Status attn_factors_read(Store *st, const char *group, AttnFactors *f, const char *expect_hash,
                         Err *e);

#endif
