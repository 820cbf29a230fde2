/* log.c: the informational stream (see log.h). One per process: set once by cmd/ at start. */
#include "core/log.h"

static FILE *g_info; /* NULL: stdout */

FILE *log_info(void) { return g_info ? g_info : stdout; }

void log_info_set(FILE *f) { g_info = f; }

FILE *log_null(void) {
    static FILE *sink;
    if (!sink) sink = fopen("/dev/null", "w");
    return sink;
}
