/* log.h: where libraries write informational lines (what data, model, factors and latency
 * table a run uses; what was loaded or written). stdout unless a program's --quiet replaced it
 * (core/cli.h); progress lines, results and errors do not go through it. */
#ifndef DRRL_CORE_LOG_H
#define DRRL_CORE_LOG_H

#include <stdio.h>

/* log_info: the informational stream (stdout by default). */
FILE *log_info(void);

/* log_info_set: f receives informational lines from now on (NULL: stdout again). */
void log_info_set(FILE *f);

/* log_null: the process's one discarding stream (/dev/null, opened once), for --quiet and
   for callers that silence informational lines for a while; NULL if it cannot be opened. */
FILE *log_null(void);

#endif
