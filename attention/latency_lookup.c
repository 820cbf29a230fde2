/* latency_lookup.c: reading the latency table (latency.h): the bucket of a length, the
 * latency of a (length, rank), its ratio to exact attention, and the layer-shape check. */
#include "attention/latency.h"

int latency_table_bucket(const LatencyTable *t, int N) {
    for (int i = 0; i < t->n_buckets; i++)
        if (t->buckets[i] >= N) return i;
    return t->n_buckets - 1;
}

double latency_table_lookup(const LatencyTable *t, int N, int rank) {
    const int i = latency_table_bucket(t, N);
    if (rank == LATENCY_FULL) return t->full[i];
    for (int j = 0; j < t->n_ranks; j++)
        if (t->ranks[j] >= rank) return t->lat[i][j];
    return t->full[i];
}

double latency_table_ratio(const LatencyTable *t, int N, int rank) {
    return latency_table_lookup(t, N, rank) / latency_table_lookup(t, N, LATENCY_FULL);
}

Status latency_table_check(const LatencyTable *t, int d, int H, Err *e) {
    if (t->d != d || t->H != H)
        return err_set(e, ST_SHAPE,
                       "latency table: expected a table for d_model %d, n_heads %d, found "
                       "d_model %d, n_heads %d",
                       d, H, t->d, t->H);
    return ST_OK;
}
