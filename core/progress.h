/* progress.h: progress lines with an ETA for long loops.
 *
 * A Progress counts units of work (sentences, inputs, steps) towards a known total and prints
 *   WHAT  done/total (pct%)  elapsed 12.3s  ETA 45.6s
 * at most once per period seconds (and always at the last unit). The ETA assumes the remaining
 * units cost what the finished ones cost on average: ETA = elapsed * (total - done) / done.
 * A run made of several passes (drrl-eval's modes) counts all their units in one total. The
 * stream is the caller's (cmd/ passes stdout); a NULL stream prints nothing. */
#ifndef DRRL_CORE_PROGRESS_H
#define DRRL_CORE_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *f;          /* where lines go; NULL: nowhere */
    char what[96];    /* the label at the start of each line */
    int64_t total;    /* units in the whole run (>= 1) */
    int64_t done;     /* units finished so far */
    double t0;        /* time_now() at init */
    double last;      /* time of the last line printed */
    double period;    /* seconds between lines */
} Progress;

/* progress_init: start counting total units (total < 1 is taken as 1). */
void progress_init(Progress *p, FILE *f, const char *what, int64_t total, double period);

/* progress_label: change the label (e.g. the mode now running); prints nothing. */
void progress_label(Progress *p, const char *what);

/* progress_add: n more units are done; prints a line when period has passed since the last
   one or the total is reached. p may be NULL. */
void progress_add(Progress *p, int64_t n);

/* progress_elapsed: seconds since progress_init. */
double progress_elapsed(const Progress *p);

#endif
