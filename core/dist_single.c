/* dist_single.c: core/dist.h for a build without MPI: one process, whose collectives leave
 * their buffers as they are (the sum, maximum or merge over one process is itself). */
#include "core/dist.h"

#include <stdlib.h>

Status dist_init(int *argc, char ***argv, Err *e) {
    (void)argc, (void)argv, (void)e;
    return ST_OK;
}
void dist_finalize(void) {}
void dist_abort(int code) { exit(code); }
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
int dist_mpi(void) { return 0; }

Status dist_sum_i64(int64_t *v, size_t n, Err *e) { return (void)v, (void)n, (void)e, ST_OK; }
Status dist_sum_f64(double *v, size_t n, Err *e) { return (void)v, (void)n, (void)e, ST_OK; }
Status dist_sum_f32(float *v, size_t n, Err *e) { return (void)v, (void)n, (void)e, ST_OK; }
Status dist_max_f64(double *v, size_t n, Err *e) { return (void)v, (void)n, (void)e, ST_OK; }
Status dist_or(void *v, size_t bytes, Err *e) { return (void)v, (void)bytes, (void)e, ST_OK; }
Status dist_bcast(void *v, size_t bytes, int root, Err *e) {
    return (void)v, (void)bytes, (void)root, (void)e, ST_OK;
}
Status dist_barrier(Err *e) { return (void)e, ST_OK; }
Status dist_barrier_idle(Err *e) { return (void)e, ST_OK; }
Status dist_agree(Status s, Err *e) { return (void)e, s; }
