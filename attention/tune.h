/* tune.h: which variant of the attention kernel (kernel.h) runs at which shape, chosen by
 * measurement on the machine at hand (issue 15: no machine's tuning is built in).
 *
 * A tuning is a list of shapes (N keys, kq query/key coordinates per head) each with the
 * variant that measured fastest there. attn_tune_measure times every candidate
 * (attn_variant_candidates) on the actual shape: B sequences of N random tokens, H heads of
 * width k, no mask, all threads; `warmup` discarded runs per candidate, then `reps` rounds in
 * which the candidates alternate (a noisy host slows all alike); a candidate whose warm-up
 * took more than TUNE_PRUNE times the best warm-up is not timed further. The entry is the
 * candidate with the smallest median (ties: the earlier candidate), so the choice is a
 * deterministic function of the timings; its median and the default variant's are kept.
 *
 * Use (process-wide): attn_tune_use installs a tuning; until a program installs one, the
 * first attn_tune_pick installs this machine's cached tuning if there is one
 * (attn_tune_cache_apply, silently). attn_kernel_forward runs attn_tune_pick(N, kq): among the entries whose k is nearest kq (in ratio; ties: the larger
 * k), the smallest N >= the call's N, else the largest; the default variant when no tuning
 * is installed. Install once, before the threads that run kernels start (not thread-safe
 * against concurrent kernels). The choice changes the rounding of the outputs, never the
 * math: a run that must reproduce bit for bit (drrl-train --resume) installs the tuning its
 * latency table was measured with (latency.h stores it).
 *
 * Causal masks are not timed (the candidates run with no mask): a causal forward runs the
 * variant chosen for its (N, kq), the same products over fewer keys per item
 * (kernel.h); its rows per item may be smaller (attn_variant_rows_causal).
 *
 * Storage (attn_tune_save / _load, in a group through core/store.h): N (n) int32, k (n)
 * int32, variant (n) strings as attn_variant_name ("tiled:131072"), seconds (n) float64, the
 * default's seconds (n) float64; attributes cpu, threads, date. A cache file per machine
 * (attn_tune_cache_path) lets every program run the variants the last calibration chose. */
#ifndef DRRL_ATTENTION_TUNE_H
#define DRRL_ATTENTION_TUNE_H

#include <stdint.h>
#include <stdio.h>

#include "attention/kernel.h"
#include "core/err.h"
#include "core/store.h"

#define TUNE_MAX 576 /* LATENCY_MAX_BUCKETS x (LATENCY_MAX_RANKS + 2) */
#define TUNE_PRUNE 4.0
#define TUNE_FORMAT "drrl-kernels"
#define TUNE_VERSION 1
#define TUNE_GROUP "/kernels"

typedef struct {
    int n;                    /* entries */
    int N[TUNE_MAX], k[TUNE_MAX];
    AttnVariant v[TUNE_MAX];  /* the fastest variant at (N, k) */
    double sec[TUNE_MAX];     /* its median seconds per forward */
    double sec_default[TUNE_MAX]; /* the default variant's */
    int H, B;                 /* heads and batch timed */
    char cpu[128];            /* "model name" of /proc/cpuinfo */
    int threads;              /* kernel threads timed with */
    char date[32];            /* UTC, ISO 8601 */
} AttnTune;

/* TuneProgress: called after each shape is measured (entry i); may be NULL. */
typedef void (*TuneProgress)(void *ctx, const AttnTune *t, int i);

/* attn_tune_cpu: this machine's CPU model ("model name" of /proc/cpuinfo, "unknown"). */
void attn_tune_cpu(char *buf, size_t cap);

/* attn_tune_measure: t = the fastest variant at every (Ns[i], ks[j]) (1 <= nN * nk <=
   TUNE_MAX; N >= 1, 1 <= k <= ATTN_KPACK * 4), H >= 1 heads, B >= 1, warmup >= 0, reps >= 1,
   random inputs from seed. ST_INVALID on bad arguments, ST_NOMEM. */
Status attn_tune_measure(AttnTune *t, const int *Ns, int nN, const int *ks, int nk, int H,
                         int B, int warmup, int reps, uint64_t seed, TuneProgress progress,
                         void *ctx, Err *e);

/* attn_tune_use: install t (copied; NULL: back to the default variant everywhere). */
void attn_tune_use(const AttnTune *t);
/* attn_tune_current: the installed tuning, or NULL. */
const AttnTune *attn_tune_current(void);
/* attn_tune_pick: the variant for N keys and kq coordinates (rule above). */
AttnVariant attn_tune_pick(int N, int kq);
/* attn_tune_lookup: the same on t (NULL: the default). */
AttnVariant attn_tune_lookup(const AttnTune *t, int N, int kq);
/* attn_tune_print: one line per entry (shape, chosen variant, its time and the default's). */
void attn_tune_print(FILE *f, const AttnTune *t);

/* attn_tune_save: t under group; attn_tune_load: read it back (ST_MISSING if absent,
   ST_FORMAT on an unknown variant or a broken invariant, ST_SHAPE on wrong shapes). */
Status attn_tune_save(Store *st, const char *group, const AttnTune *t, Err *e);
Status attn_tune_load(Store *st, const char *group, AttnTune *t, Err *e);

/* attn_tune_cache_path: the cache file of this machine and thread count: $DRRL_KERNEL_CACHE
   (a folder; "off": no cache), else $XDG_CACHE_HOME/drrl, else $HOME/.cache/drrl; file
   kernels-<16 hex digits of the SHA-256 of cpu and threads>.h5. Returns 0, or -1 when the
   cache is off or no folder is known. */
int attn_tune_cache_path(char *buf, size_t cap, int threads);
/* attn_tune_cache_save: t merged into its machine's cache file (atomic): t's entries replace
   the cached ones of the same (N, k), the others are kept (up to TUNE_MAX). */
Status attn_tune_cache_save(const AttnTune *t, Err *e);
/* attn_tune_cache_apply: install the cached tuning of this machine and thread count if there
   is one (its CPU model must match; a mismatch or a broken file is a note on info, not an
   error: the default variant runs). Returns 1 if a tuning was installed. */
int attn_tune_cache_apply(FILE *info);

#endif
