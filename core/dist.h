/* dist.h: the processes of one job (issue 17): a thin layer over MPI (Open MPI, core/dist_mpi.c)
 * or, in a build without it (-Dmpi=disabled) or a plain invocation (not under mpirun), one
 * process (core/dist_single.c, where every collective is the identity). Programs call
 * dist_init first and dist_finalize last; library code asks dist_rank / dist_size and calls
 * the collectives below, which every process of the job must call in the same order.
 *
 * Exactness: dist_or merges buffers whose parts are written by one process each (the others
 * hold zero bytes there): a bitwise OR, so the merged bytes are exactly the owner's, whatever
 * the reduction order. dist_sum_i64 is exact. dist_sum_f64 / dist_sum_f32 add in the MPI
 * library's order (not bit-reproducible across process counts); code that must equal the
 * one-process result bit for bit gathers partial sums per work item with dist_or and adds
 * them in item order itself.
 *
 * Errors: a collective that fails returns ST_IO naming it. dist_agree turns one process's
 * failure into every process's: called by all with their status, it returns the lowest
 * failing rank's status and message on all of them (prefixed "process R: " when the job has
 * several), so that the job stops everywhere with one message instead of hanging in the next
 * collective. A process that dies (a crash, kill -9) makes mpirun end the job. */
#ifndef DRRL_CORE_DIST_H
#define DRRL_CORE_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* dist_init: join the job (MPI_Init when launched by mpirun, else a job of one). */
Status dist_init(int *argc, char ***argv, Err *e);
/* dist_finalize: leave the job (MPI_Finalize when joined). */
void dist_finalize(void);
/* dist_abort: end every process of the job with exit code code (exit(code) for one). */
void dist_abort(int code);

int dist_rank(void); /* this process, 0 .. dist_size() - 1 */
int dist_size(void); /* processes in the job (1 without MPI) */
/* dist_mpi: 1 when the build has MPI (-Dmpi), whether or not this run joined a job. */
int dist_mpi(void);

/* in place, over every process of the job */
Status dist_sum_i64(int64_t *v, size_t n, Err *e);
Status dist_sum_f64(double *v, size_t n, Err *e);
Status dist_sum_f32(float *v, size_t n, Err *e);
Status dist_max_f64(double *v, size_t n, Err *e);
Status dist_or(void *v, size_t bytes, Err *e);
/* dist_bcast: root's bytes to every process. */
Status dist_bcast(void *v, size_t bytes, int root, Err *e);
Status dist_barrier(Err *e);
/* dist_barrier_idle: a barrier whose waiting processes sleep (1 ms polls) instead of spinning
   on a core: for the others while one process measures latencies alone. */
Status dist_barrier_idle(Err *e);

/* dist_agree: every process's status s (e filled where s != ST_OK) -> the lowest failing
   rank's status and message on every process (ST_OK when none failed). */
Status dist_agree(Status s, Err *e);

#endif
