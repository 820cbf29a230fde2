/* file.h: a whole file in one buffer (config files, TSV files, vocabularies). */
#ifndef DRRL_CORE_FILE_H
#define DRRL_CORE_FILE_H

#include <stddef.h>

#include "core/err.h"

/* file_read_all: the whole file at path in one fresh allocation *out of *len bytes plus a
 * terminating NUL (the caller frees it). Files of 2 GiB or more are refused (ST_FORMAT);
 * ST_IO: cannot open or read (the message names path); ST_NOMEM. */
Status file_read_all(const char *path, char **out, size_t *len, Err *e);

#endif
