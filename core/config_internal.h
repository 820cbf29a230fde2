/* config_internal.h: private to core/config*.c. Schema walking helpers (config.c) and
 * number formatting (config_emit.c) used by both the loader and the emitter. */
#ifndef DRRL_CORE_CONFIG_INTERNAL_H
#define DRRL_CORE_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config.h"

#define PATH_MAX_LEN 512   /* dotted key paths in messages ("model.ranks[12]") */

/* cfg_child_len: length of the first component of the field's path below prefix (plen
   bytes, "" or ending with '.'), or 0 if the field is not below prefix. */
size_t cfg_child_len(const ConfigField *f, const char *prefix, size_t plen);
/* cfg_child_seen: a field before i has the same child name below prefix. */
int cfg_child_seen(const ConfigSchema *s, int i, const char *prefix, size_t plen);
/* cfg_fmt_double: the shortest %g text that reads back (strtod) to exactly x; integral
   values below 1e15 print without exponent ("10", not "1e+01"). */
void cfg_fmt_double(double x, char *buf, size_t n);

#endif
