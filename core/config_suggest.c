/* config_suggest.c: "did you mean" over a config schema's keys (see config.h
 * config_nearest_key; the distance is core/suggest.h's). */
#include <string.h>

#include "core/config.h"
#include "core/suggest.h"

const char *config_nearest_key(const ConfigSchema *s, const char *path, const char *prefixes,
                               int *dist) {
    const char *best = NULL, *pl = strrchr(path, '.');
    int best_d = SUGGEST_MAX_LEN + 1;
    pl = pl ? pl + 1 : path;
    for (int i = 0; i < s->n_fields; i++) {
        const char *f = s->fields[i].path, *fl = strrchr(f, '.');
        if (prefixes && !config_has_prefix(f, prefixes)) continue;
        if (!strcmp(path, f)) { /* the key itself beats any key whose last component matches */
            *dist = 0;
            return f;
        }
        int d = suggest_distance(path, f), dl = suggest_distance(pl, fl ? fl + 1 : f);
        if (dl < d) d = dl;
        if (d < best_d) best = f, best_d = d;
    }
    *dist = best_d;
    return best;
}

int config_has_prefix(const char *path, const char *prefixes) {
    for (const char *c = prefixes; *c;) {
        size_t k = strcspn(c, "|");
        if (!strncmp(path, c, k)) return 1;
        c += k + (c[k] == '|');
    }
    return 0;
}
