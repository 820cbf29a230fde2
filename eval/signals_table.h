/* signals_table.h: drrl-signals' accounting and outputs from a run's per-input result
 * (signals_run.h), with eval/signals_stats.h:
 *
 *   cost      c_i(m) = attention FLOPs of input i in mode m / mean_j FLOPs of input j at full,
 *             so that the mean over the inputs is the mode's attention FLOPs ratio
 *   static    the lower hull of the modes' (mean cost, mean KL), full (KL 0) included
 *   oracle    the per-input oracle's frontier over the same modes (per-input costs)
 *   targets   between two adjacent modes (lo, hi): mean cost (C_lo + C_hi) / 2 ("lo-hi"); at
 *             each interior rank's own cost C_m with its neighbours (m-1, m+1) ("@r")
 *   rule      by a signal s: inputs ordered by decreasing sign * s, sign = the sign of s's
 *             Spearman with the KL at the cheapest rank (+1 when undefined), moved from lo to
 *             hi until the mean cost is the target (signals_stats.h)
 *   share     (KL_static - KL_rule) / (KL_static - KL_oracle) at the target (NaN when the
 *             oracle gains nothing there)
 *
 * Files in DIR: signals.tsv (one row per input: row, length, label, kl:<r>, flops:<r>,
 * flops:full, pred:<r>, pred:full (predicted class), rest_flops, feat_flops, ms:<r>, ms:full,
 * ms:cheap (signals_run.h's rest, feat, ms), every signal; values %.17g), table.csv (per signal: family, needs, deployable,
 * flops_ratio = own FLOPs / the full model's forward FLOPs, ms, sign, rho:<r>, share:<lo>-<hi>,
 * share@<r>, kl:<lo>-<hi>, kl@<r>; then an "oracle" row), targets.csv (per target: lo, hi,
 * cost, kl_static, kl_oracle), modes.csv (mode, cost, kl) and table.md (the same, Markdown). */
#ifndef DRRL_EVAL_SIGNALS_TABLE_H
#define DRRL_EVAL_SIGNALS_TABLE_H

#include "eval/signals_run.h"

typedef struct {
    const char *model, *split, *cmdline;
    int sketch_k;
} SigTableInfo;

/* signals_write: the accounting and every file into dir (created if missing); the Markdown
   table also to md (may be NULL). */
Status signals_write(const SigResult *res, const char *dir, const SigTableInfo *ti, FILE *md,
                     Err *e);

#endif
