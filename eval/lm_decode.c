/* lm_decode.c: greedy generation and the decode benchmark (lm_decode.h). */
#include "eval/lm_decode.h"

#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "nn/logits.h"

Status lm_generate_greedy(LmCache *c, const int32_t *prompt, int np, int n_new, int32_t *out,
                          Err *e) {
    if (np < 1) return err_set(e, ST_INVALID, "generate: expected a prompt of >= 1 token");
    if (np + n_new > c->max_ctx)
        return err_set(e, ST_INVALID, "generate: %d prompt + %d new tokens: expected at most "
                       "the cache's %d positions", np, n_new, c->max_ctx);
    lm_cache_reset(c);
    Status s = ST_OK;
    for (int i = 0; i < np && !s; i++) s = lm_cache_step(c, prompt[i], e);
    for (int i = 0; i < n_new && !s; i++) {
        out[i] = logits_argmax(c->logits, c->V);
        if (i + 1 < n_new) s = lm_cache_step(c, out[i], e);
    }
    return s;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Status lm_decode_bench(LmCache *c, const int32_t *text, int n_text, const int *ctx, int n_ctx,
                       int window, double *sec, Err *e) {
    const int last = n_ctx ? ctx[n_ctx - 1] : 0;
    for (int i = 0; i < n_ctx; i++)
        if (ctx[i] < window || ctx[i] > c->max_ctx || (i && ctx[i] <= ctx[i - 1]))
            return err_set(e, ST_INVALID, "decode bench: context %d: expected increasing "
                           "lengths in %d..%d", ctx[i], window, c->max_ctx);
    if (n_text < last)
        return err_set(e, ST_INVALID, "decode bench: expected a text of at least %d tokens, "
                       "found %d", last, n_text);
    double *w = malloc(sizeof(double) * (size_t)(window > 0 ? window : 1));
    if (!w) return err_set(e, ST_NOMEM, "decode bench: out of memory");
    lm_cache_reset(c);
    Status s = ST_OK;
    int k = 0; /* the context being timed */
    for (int t = 0; t < last && !s; t++) {
        const int timed = k < n_ctx && t >= ctx[k] - window;
        const double t0 = time_now();
        s = lm_cache_step(c, text[t], e);
        if (timed) w[t - (ctx[k] - window)] = time_now() - t0;
        if (timed && t == ctx[k] - 1) {
            qsort(w, (size_t)window, sizeof(double), cmp_dbl);
            sec[k++] = window % 2 ? w[window / 2] : 0.5 * (w[window / 2 - 1] + w[window / 2]);
        }
    }
    free(w);
    return s;
}
