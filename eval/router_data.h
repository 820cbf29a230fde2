/* router_data.h: a drrl-signals per-input file (signals.tsv, eval/signals_table.h) read back
 * for the router (eval/router_fit.h) and the cascade (eval/router_cascade.h): every column as
 * doubles (an empty field or "nan": NaN), and the columns the cascade needs by name:
 *   kl:<r>, flops:<r>, flops:full, pred:<r>, pred:full, rest_flops, feat_flops, ms:<r>,
 *   ms:full, ms:cheap, label
 * with the ranks of the list from the kl:<r> headers (in file order, increasing). Modes are
 * m = 0 .. nr - 1 (the ranks) and m = nr (full: KL 0). */
#ifndef DRRL_EVAL_ROUTER_DATA_H
#define DRRL_EVAL_ROUTER_DATA_H

#include "core/err.h"

#define ROUTER_MAX_RANKS 8
#define ROUTER_NAME 48

typedef struct {
    int n, ncol;
    char (*name)[ROUTER_NAME]; /* (ncol) */
    double *col;               /* (ncol, n) */
    int nr, M;                 /* ranks, modes = nr + 1 */
    int ranks[ROUTER_MAX_RANKS];
    /* (n, M) row-major copies: KL (full 0), attention FLOPs, predicted class */
    double *kl, *attn, *pred;
    const double *rest, *feat, *label; /* (n) columns */
    double *ms;                /* (n, M + 1) the modes' ms, then ms:cheap */
} RouterData;

/* router_data_load: d zeroed by the caller; router_data_free after any return. ST_IO,
   ST_FORMAT (ragged rows, unparsable numbers, no data rows), ST_MISSING (a needed column). */
Status router_data_load(RouterData *d, const char *path, Err *e);
void router_data_free(RouterData *d);

/* router_data_col: the column named name, NULL if none. */
const double *router_data_col(const RouterData *d, const char *name);

#endif
