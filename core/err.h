/* err.h: status codes and an error message buffer.
 * Library functions return a Status (0 = OK) and, on failure, fill an Err with a
 * human-readable message that names the file, line or key and the expected vs found
 * value. Only cmd/ prints errors and exits. */
#ifndef DRRL_CORE_ERR_H
#define DRRL_CORE_ERR_H

typedef enum {
    ST_OK = 0,
    ST_IO,       /* file cannot be opened, read, written or renamed */
    ST_FORMAT,   /* file contents malformed (bad YAML, wrong format attribute, ...) */
    ST_CONFIG,   /* configuration value invalid (unknown key, wrong type, out of range) */
    ST_SHAPE,    /* tensor shape or element type differs from what was expected */
    ST_MISSING,  /* a required key, dataset or attribute is absent */
    ST_NOMEM,    /* allocation failed */
    ST_INVALID,  /* invalid argument from the caller */
    ST_NUMERIC,  /* numerical failure (non-finite values, LAPACK info != 0) */
} Status;

#define ERR_MSG_MAX 1024

typedef struct {
    Status status;
    char msg[ERR_MSG_MAX];
} Err;

/* err_set: record status and a printf-style message; returns status so that
 * callers can write `return err_set(e, ST_IO, "...", ...);`. e may be NULL. */
Status err_set(Err *e, Status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err_prefix: prepend "prefix: " to the message already in e (for context). */
Status err_prefix(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* err_clear: reset to ST_OK with an empty message. */
void err_clear(Err *e);

/* status_name: short name of a status ("io", "format", ...). */
const char *status_name(Status s);

#endif
