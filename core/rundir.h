/* rundir.h: a run directory belongs to one run (issue 16). Two guarantees:
 *  - the lock: RUN_DIR/.lock is held with flock(LOCK_EX) for the life of the process that
 *    runs there (released by the kernel when it exits, killed or not); a second process gets
 *    an error naming the holder's PID and program, written into the file;
 *  - the claim: a new run (not a resume) does not start over another run's files: when any of
 *    the run's file names exists in RUN_DIR, that is an error naming them, unless forced, in
 *    which case they are moved (renamed) into RUN_DIR/replaced-YYYYMMDD-HHMMSS/ and the move
 *    is said on info. Nothing of a run is deleted.
 * Temporaries: an atomic write goes to NAME.tmp or NAME.tmp.PID and is renamed when complete;
 * a process killed during one (kill -9, power loss) leaves it behind. Whoever holds the lock
 * is the run's only writer, so on locking, the temporaries in RUN_DIR, RUN_DIR/checkpoints
 * and RUN_DIR/rollouts are a dead process's: they are removed, and said on info (other
 * folders, such as drrl-eval's outputs, are not the run's and are left alone). */
#ifndef DRRL_CORE_RUNDIR_H
#define DRRL_CORE_RUNDIR_H

#include <stdio.h>

#include "core/err.h"

typedef struct {
    int fd; /* the open .lock file (-1: none) */
} RunLock;

/* rundir_lock: RUN_DIR (created) locked for this process; prog names it in the file; stale
   temporaries removed (said on info, may be NULL). ST_IO naming RUN_DIR and the holder when
   another process holds it, or when the file cannot be made. */
Status rundir_lock(RunLock *l, const char *dir, const char *prog, FILE *info, Err *e);
/* rundir_unlock: release (also done by process exit). */
void rundir_unlock(RunLock *l);

/* rundir_new_id: a fresh run id: 32 hex digits of 128 random bits (getrandom; when that
   fails, a hash of the time, PID and address), NUL-terminated. Stored in every checkpoint of
   the run and kept across resumes, it tells one run's files from another's. */
void rundir_new_id(char id[33]);

/* rundir_claim: for a new run in dir, whose files are names[0..n) (files or folders):
   ST_INVALID unless none exists, or force (then they are moved, said on info); resume_hint
   completes the error ("continue it with --resume ..."). */
Status rundir_claim(const char *dir, const char *const *names, int n, int force,
                    const char *resume_hint, FILE *info, Err *e);

#endif
