/* file.h: a whole file in one buffer (config files, TSV files, vocabularies), a text file
 * written atomically: into PATH.tmp, renamed over PATH only once complete, so a failure leaves
 * an earlier PATH whole and no .tmp behind; and a CSV log reopened where a run resumes. */
#ifndef DRRL_CORE_FILE_H
#define DRRL_CORE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

/* file_read_all: the whole file at path in one fresh allocation *out of *len bytes plus a
 * terminating NUL (the caller frees it). Files of 2 GiB or more are refused (ST_FORMAT);
 * ST_IO: cannot open or read (the message names path); ST_NOMEM. */
Status file_read_all(const char *path, char **out, size_t *len, Err *e);

typedef struct {
    FILE *f;         /* write here between open and commit */
    char path[4096]; /* the final name */
    char tmp[4104];  /* path + ".tmp" */
} AtomicFile;

/* file_atomic_open: PATH.tmp opened for writing (ST_IO naming it; ST_INVALID for a path too
   long). */
Status file_atomic_open(AtomicFile *a, const char *path, Err *e);

/* file_atomic_commit: close (checked) and rename PATH.tmp to PATH; on failure the .tmp is
   removed and the message names PATH. */
Status file_atomic_commit(AtomicFile *a, Err *e);

/* file_atomic_abort: close and remove PATH.tmp (safe after a failed open or a commit). */
void file_atomic_abort(AtomicFile *a);

/* file_log_reopen: a CSV log at path opened for appending (*f): with keep < 0 a new file
   holding header; else the existing file's header line and its complete rows whose first
   field (an integer: step, iteration) is <= keep, rewritten atomically, so the rows a run
   wrote after the checkpoint it resumes from are not repeated (a missing or empty file gets
   header). */
Status file_log_reopen(FILE **f, const char *path, const char *header, long long keep, Err *e);

#endif
