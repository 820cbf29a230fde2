/* err.c: error message formatting (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

Status err_set(Err *e, Status status, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->status = status;
    }
    return status;
}

Status err_prefix(Err *e, const char *fmt, ...) {
    if (!e) return ST_OK;
    char head[ERR_MSG_MAX], old[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* head + ": " + old, truncated to the buffer (messages are bounded by design) */
    size_t hl = strnlen(head, sizeof e->msg - 1);
    memcpy(e->msg, head, hl);
    size_t at = hl;
    const char *parts[2] = {": ", old};
    for (int k = 0; k < 2; k++)
        for (const char *c = parts[k]; *c && at + 1 < sizeof e->msg; c++) e->msg[at++] = *c;
    e->msg[at] = '\0';
    return e->status;
}

void err_clear(Err *e) {
    if (!e) return;
    e->status = ST_OK;
    e->msg[0] = '\0';
}

const char *status_name(Status s) {
    switch (s) {
    case ST_OK: return "ok";
    case ST_IO: return "io";
    case ST_FORMAT: return "format";
    case ST_CONFIG: return "config";
    case ST_SHAPE: return "shape";
    case ST_MISSING: return "missing";
    case ST_NOMEM: return "nomem";
    case ST_INVALID: return "invalid";
    case ST_NUMERIC: return "numeric";
    }
    return "unknown";
}
