/* embedding.h: embedding lookup, out[i] = table[ids[i]] (rows of a (V, C) table);
 * backward scatter-adds into dtable (repeated ids accumulate). */
#ifndef DRRL_NN_EMBEDDING_H
#define DRRL_NN_EMBEDDING_H

#include <stdint.h>

/* embedding_forward: gather. ids must lie in [0, V): out-of-range ids are the caller's bug
 * (assert in debug builds). */
void embedding_forward(float *out /* (N, C) */, const int32_t *ids /* (N) */,
                       const float *table /* (V, C) */, int N, int V, int C);

/* embedding_backward: ACCUMULATES dtable[ids[i]] += dout[i] for every i (serial, so
 * repeated ids are summed without races). */
void embedding_backward(float *dtable /* (V, C) */, const float *dout /* (N, C) */,
                        const int32_t *ids /* (N) */, int N, int V, int C);

#endif
