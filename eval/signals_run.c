/* signals_run.c: a drrl-signals run (signals_run.h): the signal registry, the buffers, the
 * batch loop over the length-sorted inputs, and the layer aggregates. */
#include "eval/signals_run.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "core/rng.h"
#include "eval/signals_time.h"

/* add a signal named by fmt; returns its index */
__attribute__((format(printf, 5, 6))) static int def_add(SigResult *r, const char *family,
                                                         const char *needs, int deployable,
                                                         const char *fmt, ...) {
    SigDef *d = &r->def[r->S];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->name, sizeof d->name, fmt, ap);
    va_end(ap);
    d->family = family, d->deployable = deployable;
    snprintf(d->needs, sizeof d->needs, "%s", needs);
    return r->S++;
}

/* what a signal needs: "cheap pass" with k layers run: "embeddings" (k = 0) or "cheap layers
   0..k-1"; anything else as is */
static void needs_layers(char *out, size_t cap, const char *needs, int k) {
    if (strcmp(needs, "cheap pass")) snprintf(out, cap, "%s", needs);
    else if (k == 0) snprintf(out, cap, "embeddings");
    else snprintf(out, cap, "cheap layers 0..%d", k - 1);
}

/* a family of per-layer signals prefix<l>, l = first .. first + count - 1; returns the first
   index. needs: "cheap pass" gets the layers it needs appended: l + after of them (after = 1:
   measured after layer l; 0: on layer l's input) */
static int def_layers(SigResult *r, const char *family, const char *needs, int deployable,
                      const char *prefix, int first, int count, int after) {
    const int i0 = r->S;
    for (int l = first; l < first + count; l++) {
        char nd[40];
        needs_layers(nd, sizeof nd, needs, l + after);
        def_add(r, family, nd, deployable, "%s%d", prefix, l);
    }
    return i0;
}

static void defs_make(SigCtx *x) {
    SigResult *r = x->res;
    const int L = r->L;
    x->length = def_add(r, "length", "-", 1, "length");
    x->head_m = def_layers(r, "head", "cheap pass", 1, "head_margin_l", 0, L, 1);
    x->head_e = def_layers(r, "head", "cheap pass", 1, "head_entropy_l", 0, L, 1);
    x->full_m = def_layers(r, "head-full", "full pass", 0, "full_margin_l", 0, L, 0);
    x->full_e = def_layers(r, "head-full", "full pass", 0, "full_entropy_l", 0, L, 0);
    x->change = def_layers(r, "change", "cheap pass", 1, "change_l", 0, L, 0);
    x->change_all = def_add(r, "change", "cheap pass all layers", 1, "change_all");
    x->energy = r->S;
    for (int l = 0; l < L; l++) {
        char nd[40];
        needs_layers(nd, sizeof nd, "cheap pass", l);
        def_add(r, "energy", nd, 1, "energy_q_l%d", l);
        def_add(r, "energy", nd, 1, "energy_k_l%d", l);
        def_add(r, "energy", nd, 1, "energy_v_l%d", l);
    }
    x->energy_all = def_add(r, "energy", "cheap pass all layers", 1, "energy_all");
    x->sketch = def_layers(r, "sketch", "cheap pass", 1, "sketch_l", 0, L, 0);
    x->sketch_all = def_add(r, "sketch", "cheap pass all layers", 1, "sketch_all");
    x->rho_in = def_layers(r, "bound", "cheap pass", 1, "rho_in_l", 0, L, 0);
    x->rho_in_r = r->S;
    for (int k = 0; k < r->nr; k++)
        def_add(r, "bound", "cheap pass all layers", 1, "rho_in_r%d", r->ranks[k]);
    x->rho_out = def_layers(r, "bound-exact", "cheap pass + exact attention", 0, "rho_out_l",
                            0, L, 0);
    x->rho_out_r = r->S;
    for (int k = 0; k < r->nr; k++)
        def_add(r, "bound-exact", "cheap pass + exact attention", 0, "rho_out_r%d", r->ranks[k]);
    x->rn_mean = def_layers(r, "rownorm", "cheap pass", 1, "rownorm_mean_l", 0, L, 0);
    x->rn_std = def_layers(r, "rownorm", "cheap pass", 1, "rownorm_std_l", 0, L, 0);
    x->dev = def_layers(r, "deviation", "cheap + full pass", 0, "dev_l", 1, L, 0);
    x->kl_cheap = def_add(r, "hindsight", "cheap + full pass", 0, "kl_cheap");
    x->full_pq = def_add(r, "hindsight", "full pass", 0, "full_pq");
    x->random = def_add(r, "random", "-", 1, "random");
}

/* the aggregates: means over layers (and sides) of per-layer values; costs summed. The
   rho_*_r values were accumulated by the passes; their costs are every layer's bound. */
static void aggregates(SigCtx *x) {
    SigResult *r = x->res;
    const int n = r->n, L = r->L;
    struct { int to, from, count; } ag[3] = {
        {x->change_all, x->change, L}, {x->energy_all, x->energy, 3 * L},
        {x->sketch_all, x->sketch, L}};
    for (int a = 0; a < 3; a++) {
        double *v = r->val + (size_t)ag[a].to * n;
        for (int j = 0; j < ag[a].count; j++) {
            const double *w = r->val + (size_t)(ag[a].from + j) * n;
            for (int i = 0; i < n; i++) v[i] += w[i] / ag[a].count;
            r->def[ag[a].to].flops += r->def[ag[a].from + j].flops;
            r->def[ag[a].to].sec += r->def[ag[a].from + j].sec;
        }
    }
    for (int k = 0; k < r->nr; k++)
        for (int l = 0; l < L; l++) {
            SigDef *di = &r->def[x->rho_in_r + k], *dout = &r->def[x->rho_out_r + k];
            di->flops += r->def[x->rho_in + l].flops, di->sec += r->def[x->rho_in + l].sec;
            dout->flops += r->def[x->rho_out + l].flops, dout->sec += r->def[x->rho_out + l].sec;
        }
}

static int cmp_key(const void *a, const void *b) {
    const uint64_t p = *(const uint64_t *)a, q = *(const uint64_t *)b;
    return (p > q) - (p < q);
}

static Status ctx_alloc(SigCtx *x, const Ranked *R, int n, Err *e) {
    const size_t BNC = (size_t)R->max_B * R->max_N * R->C;
    const int w = x->sk.w > R->dh ? x->sk.w : R->dh;
    x->xfull = malloc(sizeof(float) * BNC * (R->L + 1));
    x->side = malloc(sizeof(float) * BNC);
    x->work = malloc(sizeof(float) * ((size_t)R->max_N * w + 2 * R->C + R->K));
    x->zfull = malloc(sizeof(float) * (size_t)R->max_B * R->K);
    x->fro = malloc(sizeof(double) * (size_t)R->max_B * x->res->nr);
    x->yn = malloc(sizeof(double) * (size_t)R->max_B);
    x->rk = malloc(sizeof(int) * (size_t)R->max_B);
    x->fl = malloc(sizeof(AttnFlops) * (size_t)R->max_B);
    x->fl_side = malloc(sizeof(AttnFlops) * (size_t)R->max_B);
    x->sec = malloc(sizeof(double) * (size_t)R->max_B);
    x->sec_side = malloc(sizeof(double) * (size_t)R->max_B);
    if (!x->xfull || !x->side || !x->work || !x->zfull || !x->fro || !x->yn || !x->rk || !x->fl ||
        !x->fl_side || !x->sec || !x->sec_side)
        return err_set(e, ST_NOMEM, "signals_run: out of memory for %d inputs", n);
    return ST_OK;
}

static void ctx_free(SigCtx *x) {
    free(x->xfull), free(x->side), free(x->work), free(x->zfull), free(x->fro), free(x->yn);
    free(x->rk), free(x->fl), free(x->fl_side), free(x->sec), free(x->sec_side);
    sig_sketch_free(&x->sk);
}

/* keep_min_tokens: the rows of s with at least min tokens, moved to the front in order;
   ST_INVALID when none is left */
static Status keep_min_tokens(EncodedSet *s, int min, Err *e) {
    int k = 0, longest = 0;
    s->n_tokens = 0;
    for (int i = 0; i < s->n; i++) {
        longest = s->len[i] > longest ? s->len[i] : longest;
        if (s->len[i] < min) continue;
        if (k != i) {
            memmove(s->ids + (size_t)k * s->max_len, s->ids + (size_t)i * s->max_len,
                    sizeof(int32_t) * (size_t)s->max_len);
            s->len[k] = s->len[i], s->label[k] = s->label[i];
            if (s->index) s->index[k] = s->index[i];
        }
        s->n_tokens += s->len[k++];
    }
    if (!k)
        return err_set(e, ST_INVALID, "--min-tokens: expected a length some rows of the split "
                       "reach (longest %d tokens), found %d", longest, min);
    s->n = k;
    return ST_OK;
}

static Status res_alloc(SigResult *r, const EncodedSet *set, const SignalsOptions *o, int L,
                        Err *e) {
    const int n = o->rows >= 0 && o->rows < set->n ? o->rows : set->n;
    r->n = n, r->L = L, r->nr = o->fo.nr, r->M = o->fo.nr + 1;
    memcpy(r->ranks, o->fo.ranks, sizeof(int) * (size_t)r->nr);
    r->row = malloc(sizeof(int32_t) * (size_t)n * 3);
    r->kl = calloc((size_t)n * r->M, sizeof(double));
    r->flops = calloc((size_t)n * r->M, sizeof(int64_t));
    r->val = calloc((size_t)n * SIG_MAX, sizeof(double));
    r->pred = calloc((size_t)n * r->M, sizeof(int32_t));
    r->rest = calloc((size_t)n * 2, sizeof(int64_t));
    r->ms = malloc(sizeof(double) * (size_t)n * (r->M + 1));
    if (!r->row || !r->kl || !r->flops || !r->val || !r->pred || !r->rest || !r->ms)
        return err_set(e, ST_NOMEM, "signals_run: out of memory for %d inputs", n);
    r->len = r->row + n, r->label = r->row + 2 * n, r->feat = r->rest + n;
    r->reps = o->reps;
    for (size_t i = 0; i < (size_t)n * (r->M + 1); i++) r->ms[i] = NAN;
    for (int i = 0; i < n; i++)
        r->row[i] = set->index ? set->index[i] : i, r->len[i] = set->len[i],
        r->label[i] = set->label ? set->label[i] : -1;
    return ST_OK;
}

/* the batches, one progress unit per input */
static Status run_batches(SigCtx *x, const EncodedSet *set, FILE *progress, Err *e) {
    Ranked *R = x->R;
    SigResult *r = x->res;
    const int n = r->n, batch = R->max_B, W = set->max_len;
    uint64_t *key = malloc(sizeof(uint64_t) * (size_t)n);
    int32_t *order = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)batch * W);
    uint8_t *mask = malloc((size_t)batch * W);
    Status s = !key || !order || !ids || !mask
                   ? err_set(e, ST_NOMEM, "signals_run: out of memory for %d inputs", n) : ST_OK;
    for (int i = 0; i < n && !s; i++)
        key[i] = ((uint64_t)(uint32_t)set->len[i] << 32) | (uint32_t)i;
    if (!s) qsort(key, (size_t)n, sizeof(uint64_t), cmp_key);
    for (int i = 0; i < n && !s; i++) order[i] = (int32_t)(key[i] & 0xffffffffu);
    x->order = order;
    Progress pr;
    progress_init(&pr, progress, "drrl-signals: inputs", n, 0.0);
    for (int at = 0; at < n && !s; at += batch) {
        const int B = n - at < batch ? n - at : batch, N = encoded_max_len(set, order + at, B);
        encoded_gather(set, order + at, B, N, ids, mask, NULL);
        x->at = at;
        s = sig_pass_full(x, ids, mask, B, N, e);
        if (!s) s = sig_pass_cheap(x, ids, mask, B, N, e);
        for (int k = 1; k < r->nr && !s; k++) s = sig_pass_rank(x, ids, mask, B, N, k, e);
        if (!s && r->reps > 0) s = sig_time_batch(x, ids, mask, B, N, e);
        if (!s) progress_add(&pr, B);
    }
    free(key), free(order), free(ids), free(mask);
    return s;
}

Status signals_run(const SignalsOptions *o, SigResult *res, FILE *info, FILE *progress, Err *e) {
    static FactorsData d;
    static Ranked R;
    memset(&d, 0, sizeof d);
    SigCtx x;
    memset(&x, 0, sizeof x);
    x.R = &R, x.res = res;
    RankedCalibInfo ci;
    Status s = factors_load(&d, &o->fo, e);
    if (!s) s = factors_check(&d, &o->fo, e);
    if (!s && (o->fo.nr < 2 || o->fo.nr > SIG_MAX_RANKS))
        s = err_set(e, ST_INVALID, "--ranks: expected 2 to %d ranks, found %d", SIG_MAX_RANKS,
                    o->fo.nr);
    for (int k = 1; k < o->fo.nr && !s; k++)
        if (o->fo.ranks[k] <= o->fo.ranks[k - 1])
            s = err_set(e, ST_INVALID, "--ranks: expected increasing ranks, found %d after %d",
                        o->fo.ranks[k], o->fo.ranks[k - 1]);
    const int dh = s ? 0 : d.bc.d_model / d.bc.n_heads; /* bc is read only when s is 0 */
    if (!s && o->fo.ranks[o->fo.nr - 1] >= dh)
        s = err_set(e, ST_INVALID, "--ranks: expected ranks below the head size %d (full rank is "
                    "the exact mode), found %d", dh, o->fo.ranks[o->fo.nr - 1]);
    if (!s && o->min_tokens > 0) s = keep_min_tokens(&d.set, o->min_tokens, e);
    if (!s) s = factors_prepare(&R, &d, &o->fo, &ci, e);
    if (!s && info)
        fprintf(info, "drrl-signals: %s, %d layers, d=%d, %d heads of %d; factors %s %s\n",
                o->fo.model, R.L, R.C, R.H, R.dh, ci.loaded ? "loaded from" : "computed into",
                o->fo.cache);
    if (!s) s = res_alloc(res, &d.set, o, R.L, e);
    if (!s) defs_make(&x);
    if (!s) s = sig_sketch_init(&x.sk, R.white, R.L, o->fo.ranks[0], o->sketch_k, o->seed, e);
    if (!s) s = ctx_alloc(&x, &R, res->n, e);
    if (!s) {
        Rng rng;
        rng_init(&rng, o->seed, 23);
        for (int i = 0; i < res->n; i++) {
            res->val[(size_t)x.random * res->n + i] = rng_uniform(&rng);
            res->val[(size_t)x.length * res->n + i] = res->len[i];
        }
        EncodedSet head = d.set;
        head.n = res->n;
        s = run_batches(&x, &head, progress, e);
    }
    if (!s) aggregates(&x);
    ctx_free(&x);
    ranked_free(&R);
    factors_data_free(&d);
    return s;
}

void signals_result_free(SigResult *res) {
    free(res->row), free(res->kl), free(res->flops), free(res->val), free(res->pred);
    free(res->rest), free(res->ms);
    memset(res, 0, sizeof *res);
}

int signals_find(const SigResult *res, const char *name) {
    for (int i = 0; i < res->S; i++)
        if (!strcmp(res->def[i].name, name)) return i;
    return -1;
}
