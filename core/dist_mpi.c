/* dist_mpi.c: core/dist.h over MPI (Open MPI). A program started by mpirun joins
 * MPI_COMM_WORLD; started plainly it runs as a job of one without initialising MPI, exactly as
 * a build without MPI (Open MPI's singleton start would spawn a runtime for nothing). Large
 * buffers go in chunks of at most 2^30 elements (MPI counts are int). */
#include "core/dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

static int g_joined = 0, g_rank = 0, g_size = 1;

/* launched: mpirun (Open MPI's ORTE or PMIx) set this process's rank in the environment */
static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

Status dist_init(int *argc, char ***argv, Err *e) {
    if (!launched()) return ST_OK;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return err_set(e, ST_IO, "MPI_Init failed");
    g_joined = 1;
    /* errors come back as codes, turned into our messages (the default aborts the job) */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    return ST_OK;
}

void dist_finalize(void) {
    if (g_joined) MPI_Finalize();
    g_joined = 0;
}

void dist_abort(int code) {
    if (g_joined && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }
int dist_mpi(void) { return 1; }

#define CHUNK ((size_t)1 << 30)

/* allreduce: n elements of type t, each elem bytes, in chunks */
static Status allreduce(void *v, size_t n, size_t elem, MPI_Datatype t, MPI_Op op,
                        const char *what, Err *e) {
    if (!g_joined || g_size == 1) return ST_OK;
    for (size_t at = 0; at < n; at += CHUNK) {
        int c = (int)(n - at < CHUNK ? n - at : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)v + at * elem, c, t, op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return err_set(e, ST_IO, "%s: MPI_Allreduce of %zu elements failed (code %d)", what,
                           n, rc);
    }
    return ST_OK;
}

Status dist_sum_i64(int64_t *v, size_t n, Err *e) {
    return allreduce(v, n, sizeof *v, MPI_INT64_T, MPI_SUM, "dist_sum_i64", e);
}
Status dist_sum_f64(double *v, size_t n, Err *e) {
    return allreduce(v, n, sizeof *v, MPI_DOUBLE, MPI_SUM, "dist_sum_f64", e);
}
Status dist_sum_f32(float *v, size_t n, Err *e) {
    return allreduce(v, n, sizeof *v, MPI_FLOAT, MPI_SUM, "dist_sum_f32", e);
}
Status dist_max_f64(double *v, size_t n, Err *e) {
    return allreduce(v, n, sizeof *v, MPI_DOUBLE, MPI_MAX, "dist_max_f64", e);
}
Status dist_or(void *v, size_t bytes, Err *e) {
    return allreduce(v, bytes, 1, MPI_BYTE, MPI_BOR, "dist_or", e);
}

Status dist_bcast(void *v, size_t bytes, int root, Err *e) {
    if (!g_joined || g_size == 1) return ST_OK;
    for (size_t at = 0; at < bytes; at += CHUNK) {
        int c = (int)(bytes - at < CHUNK ? bytes - at : CHUNK);
        int rc = MPI_Bcast((char *)v + at, c, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return err_set(e, ST_IO, "dist_bcast: MPI_Bcast of %zu bytes failed (code %d)",
                           bytes, rc);
    }
    return ST_OK;
}

Status dist_barrier(Err *e) {
    if (!g_joined || g_size == 1) return ST_OK;
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? ST_OK : err_set(e, ST_IO, "MPI_Barrier failed (code %d)", rc);
}

Status dist_barrier_idle(Err *e) {
    if (!g_joined || g_size == 1) return ST_OK;
    MPI_Request rq;
    int done = 0, rc = MPI_Ibarrier(MPI_COMM_WORLD, &rq);
    while (rc == MPI_SUCCESS && !(rc = MPI_Test(&rq, &done, MPI_STATUS_IGNORE)) && !done) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return rc == MPI_SUCCESS ? ST_OK : err_set(e, ST_IO, "MPI_Ibarrier failed (code %d)", rc);
}

Status dist_agree(Status s, Err *e) {
    if (!g_joined || g_size == 1) return s;
    int who = s ? g_rank : g_size, first = g_size;
    if (MPI_Allreduce(&who, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
        return err_set(e, ST_IO, "dist_agree: MPI_Allreduce failed");
    if (first == g_size) return ST_OK;
    int code = (int)s;
    char msg[sizeof e->msg];
    if (g_rank == first) /* the message, clipped to leave room for the prefix */
        snprintf(msg, sizeof msg, "process %d: %.*s", first, (int)sizeof msg - 24, e->msg);
    if (MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD) != MPI_SUCCESS ||
        MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD) != MPI_SUCCESS)
        return err_set(e, ST_IO, "dist_agree: MPI_Bcast failed");
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    return (Status)code;
}
