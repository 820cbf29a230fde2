/* progress.c: progress lines with an ETA (see progress.h). */
#include "core/progress.h"

#include <string.h>

#include "core/timer.h"

void progress_init(Progress *p, FILE *f, const char *what, int64_t total, double period) {
    memset(p, 0, sizeof *p);
    p->f = f;
    snprintf(p->what, sizeof p->what, "%s", what);
    p->total = total < 1 ? 1 : total;
    p->t0 = p->last = time_now();
    p->period = period;
}

void progress_label(Progress *p, const char *what) {
    snprintf(p->what, sizeof p->what, "%s", what);
}

double progress_elapsed(const Progress *p) { return time_now() - p->t0; }

void progress_add(Progress *p, int64_t n) {
    if (!p) return;
    p->done += n;
    if (p->done > p->total) p->done = p->total;
    double now = time_now();
    if (!p->f || (now - p->last < p->period && p->done < p->total)) return;
    p->last = now;
    double el = now - p->t0;
    double eta = p->done > 0 ? el * (double)(p->total - p->done) / (double)p->done : 0.0;
    fprintf(p->f, "%s  %lld/%lld (%.0f%%)  elapsed %.1fs  ETA %.1fs\n", p->what,
            (long long)p->done, (long long)p->total, 100.0 * (double)p->done / (double)p->total,
            el, eta);
    fflush(p->f);
}
