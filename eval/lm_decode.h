/* lm_decode.h: what drrl-generate does with a decoder's key/value cache (model/lm_cache.h):
 * greedy generation from a prompt, and the decode benchmark: per-token latency at several
 * context lengths.
 *
 * Benchmark: the cache is filled one real step at a time from a text (every step runs the
 * whole model, so the cache holds the keys and values of that text); for each context length
 * L of the list the steps at positions [L - window, L) are timed one by one (monotonic clock)
 * and their median is the per-token latency at context L (tokens/s its inverse). One fill
 * serves every L of the list (sorted increasing). */
#ifndef DRRL_EVAL_LM_DECODE_H
#define DRRL_EVAL_LM_DECODE_H

#include <stdint.h>

#include "core/err.h"
#include "model/lm_cache.h"

/* lm_generate_greedy: reset c, run the prompt (np >= 1 ids), then n_new tokens, each the
   argmax (ties: the lower id) of the previous step's logits, into out (n_new). */
Status lm_generate_greedy(LmCache *c, const int32_t *prompt, int np, int n_new,
                          int32_t *out /* (n_new) */, Err *e);

/* lm_decode_bench: reset c and fill it from text (n_text >= the largest context) as above;
   sec (n_ctx) receives the median seconds per step of each context ctx[i] (window <= ctx[i],
   ctx increasing, each <= c->max_ctx). */
Status lm_decode_bench(LmCache *c, const int32_t *text, int n_text, const int *ctx, int n_ctx,
                       int window, double *sec /* (n_ctx) */, Err *e);

#endif
