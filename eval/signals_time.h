/* signals_time.h: the measured time of every mode of a drrl-signals run, per input, for the
 * cascade's latency (eval/router_cascade.h). After a batch's signal passes (which filled each
 * input's counted FLOPs), every mode's plain pass runs reps times, the modes interleaved
 * within a repetition: each uniform rank of the list and full (attention per sequence, as
 * the signal passes), and the CHEAP pass: the smallest rank with its deployable features
 * (the head after every layer, the row norms of every layer input: SigResult.feat). A mode's
 * batch time is the median of its reps; input b of the batch gets the share
 *     ms_b(m) = median_m * w_b(m) / sum_b' w_b'(m),
 *     w_b(m) = flops_b(m) + rest_b (+ feat_b for the cheap pass)
 * of it: its model FLOPs' share (the batch is length-sorted, so the shares are close to
 * equal). Internal to eval/signals_*.c. */
#ifndef DRRL_EVAL_SIGNALS_TIME_H
#define DRRL_EVAL_SIGNALS_TIME_H

#include "eval/signals_pass.h"

/* sig_time_batch: the batch's times into res->ms (rows of the batch); res->reps >= 1. */
Status sig_time_batch(SigCtx *x, const int32_t *ids, const uint8_t *mask, int B, int N, Err *e);

#endif
