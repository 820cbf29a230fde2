/* embedding.c: embedding lookup (gather rows of a (V, C) table by int32 ids) and its
 * backward (scatter-add).
 *   forward:  out[i][c] = table[ids[i]][c]
 *   backward: dtable[v][c] += sum_{i : ids[i] = v} dout[i][c]
 * The scatter-add is serial: repeated ids would race in a parallel loop. */
#include "nn/embedding.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

void embedding_forward(float *out /* (N, C) */, const int32_t *ids /* (N) */,
                       const float *table /* (V, C) */, int N, int V, int C) {
    if (N <= 0 || C <= 0) return;
    for (int i = 0; i < N; i++) {
        assert(ids[i] >= 0 && ids[i] < V);
        memcpy(out + (size_t)i * C, table + (size_t)ids[i] * C, (size_t)C * sizeof(float));
    }
}

void embedding_backward(float *dtable /* (V, C) */, const float *dout /* (N, C) */,
                        const int32_t *ids /* (N) */, int N, int V, int C) {
    if (N <= 0 || C <= 0) return;
    for (int i = 0; i < N; i++) {
        assert(ids[i] >= 0 && ids[i] < V);
        float *dt = dtable + (size_t)ids[i] * C;
        const float *d = dout + (size_t)i * C;
        for (int c = 0; c < C; c++) dt[c] += d[c];
    }
}
