/* sweep_run.c: drrl-sweep's measurements per length and mode (see sweep_run.h). */
#include "eval/sweep_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/sha256.h"
#include "core/timer.h"
#include "data/encode.h"
#include "model/ranked_calib.h"
#include "nn/logits.h"
#include "eval/eval_lm.h"

#define MAX_LIST 32 /* distinct static ranks */

/* the ranked forward's kind of a fixed mode */
static RankKind mode_kind(const EvalMode *m) {
    switch (m->kind) {
    case EVAL_STATIC: return RANK_WHITENED;
    case EVAL_PLAIN: return RANK_PLAIN;
    case EVAL_NYSTROM: return RANK_NYSTROM;
    case EVAL_PERFORMER: return RANK_PERFORMER;
    default: return RANK_EXACT;
    }
}

/* the --modes list against ranks 1..dh (a policy's grid with --checkpoint) */
Status sweep_modes(const char *list, const int *grid, int G, int has_ckpt, EvalMode *modes,
                          int *n, Err *e) {
    Status s = eval_modes_parse(list, grid, G, 1 << 20, modes, n, e);
    if (s) return s;
    for (int i = 0; i < *n; i++) {
        if (modes[i].kind == EVAL_RANDOM || modes[i].kind == EVAL_MARGIN ||
            modes[i].kind == EVAL_PROBE ||
            (modes[i].kind == EVAL_PLAIN && !modes[i].r))
            return err_set(e, ST_CONFIG, "--modes: '%s': expected one of full, static:r, "
                           "static-plain:r, nystrom:m, performer:m, policy (random, auto, margin "
                           "and probe belong to drrl-eval)", modes[i].name);
        if (modes[i].n_head)
            return err_set(e, ST_CONFIG, "--modes: '%s': expected one rank per layer (ranks "
                           "per head belong to drrl-eval)", modes[i].name);
        if (modes[i].n_part > 1 && !has_ckpt)
            return err_set(e, ST_CONFIG, "--modes: '%s': position parts ('+') need "
                           "--checkpoint (its segment length)", modes[i].name);
        if (modes[i].kind == EVAL_POLICY && !has_ckpt)
            return err_set(e, ST_CONFIG, "--modes: policy: expected --checkpoint (the trained "
                           "policy to run)");
    }
    /* full first: every ratio of the report is against modes[0] */
    for (int i = 1; i < *n; i++)
        if (modes[i].kind == EVAL_FULL) {
            const EvalMode f = modes[i];
            memmove(modes + 1, modes, sizeof(EvalMode) * (size_t)i);
            modes[0] = f;
        }
    return ST_OK;
}

/* layer l of a static mode on R: one rank (static:r), one per layer (static:r0/r1, full as
   exact attention), or by position (static:A+B: segment sg of the row's nseg segments of T
   tokens at part floor(sg n_part / nseg), through ranked_layer_each like the policy's ranks;
   rk (nseg) its ranks) */
static Status static_layer(Ranked *R, const EvalMode *md, int l, int N, int T, int32_t *rk,
                           Err *e) {
    if (md->n_part > 1) {
        const int nseg = ranked_segments(N, T);
        for (int sg = 0; sg < nseg; sg++) rk[sg] = eval_mode_rank(md, l, sg, nseg, 0);
        return ranked_layer_each(R, mode_kind(md), T, rk, NULL, NULL, e);
    }
    const int r = md->n_layer ? eval_mode_rank(md, l, 0, 1, 0) : md->r;
    const RankSpec sp = md->n_layer && r == 0 ? rank_spec(RANK_EXACT, 0)
                                              : rank_spec(mode_kind(md), r);
    return ranked_layer(R, &sp, e);
}

/* a per-layer static mode's rank per head averaged over layers and a row's nseg segments
   (full = dh) */
static double listed_rank(const EvalMode *m, int nseg, int dh) {
    const int ns = m->n_part > 1 ? nseg : 1;
    double sum = 0;
    for (int l = 0; l < m->n_layer; l++)
        for (int sg = 0; sg < ns; sg++) {
            const int r = eval_mode_rank(m, l, sg, ns, 0);
            sum += r ? r : dh;
        }
    return sum / ((double)m->n_layer * ns);
}

/* one timed pass of row i in mode md on R: the pass's attention seconds (att_s) and its whole
   forward (fwd_s); with `measure` also the last layer's relative error (the teacher, outside
   the timed time). The policy's ranks come from pol (row i), the other modes' from md (T, rk:
   static_layer's). */
static Status timed_pass(Ranked *R, const SweepPolicy *pol, int i, const int32_t *ids,
                         const uint8_t *mask, int N, const EvalMode *md, int T, int32_t *rk,
                         int measure, double *att_s, double *fwd_s, double *rel, Err *e) {
    const int policy = md->kind == EVAL_POLICY;
    double teach = 0, t0 = time_now();
    Status s = ranked_begin(R, ids, NULL, mask, 1, N, e);
    for (int l = 0; !s && l < R->L; l++) {
        const int last = measure && l == R->L - 1;
        if (last) {
            const double t1 = time_now();
            s = ranked_teacher_each(R, NULL, NULL, e);
            teach = time_now() - t1;
            if (s) break;
        }
        if (policy && pol->p.env->c.per_head) /* (segment, head) ranks of the one row */
            s = ranked_layer_each_heads(R, pol->p.env->c.kind, pol->p.env->c.T,
                                        sweep_policy_ranks(pol, i, l), NULL, NULL, e);
        else if (policy)
            s = ranked_layer_each(R, pol->p.env->c.kind, pol->p.env->c.T,
                                  sweep_policy_ranks(pol, i, l), NULL, NULL, e);
        else
            s = static_layer(R, md, l, N, T, rk, e);
        if (!s && last) ranked_fidelity(R, 0, N, NULL, rel);
    }
    if (!s) s = ranked_end(R, e);
    if (s) return err_prefix(e, "%s", md->name);
    *fwd_s = time_now() - t0 - teach;
    *att_s = ranked_attn_seconds(R);
    return ST_OK;
}

/* the model, its config, the test file and (static modes) the whitened factors */
Status sweep_load(Sweep *d, const SweepOptions *o, FILE *info, Err *e) {
    const char *model = o->model, *factors = o->factors;
    const int *lengths = o->lengths, nl = o->n_lengths, nm = o->n_modes, calib_rows = o->calib_rows;
    const EvalMode *modes = o->modes;
    char src[CONFIG_STR_MAX + 32], *sha = d->sha;
    Status s;
    if ((s = sha256_file(model, sha, e)) || (s = bert_read_config(model, &d->bc, e)) ||
        (s = bert_init(&d->m, &d->bc, 1, 1, 0, e)) || (s = bert_load(&d->m, model, &d->info, e)))
        return err_prefix(e, "--model");
    snprintf(src, sizeof src, "%s:/config", model);
    if ((s = config_load_text(&base_schema, &d->base, d->info.config_yaml, src, o->over, o->n_over, e)))
        return s;
    if (!base_is_imdb(&d->base))
        return err_set(e, ST_CONFIG, "%s: expected a byte-level IMDB model (data.format: imdb), found "
                       "data.format: %s; drrl-sweep makes its long inputs by joining IMDB reviews",
                       model, d->base.data.format);
    int maxL = 0, dh = d->bc.d_model / d->bc.n_heads, max_m = 0, white = 0;
    for (int i = 0; i < nl; i++) maxL = lengths[i] > maxL ? lengths[i] : maxL;
    if (maxL + 2 > bert_max_len(&d->bc))
        return err_set(e, ST_CONFIG, "--lengths: %d bytes need %d tokens ([CLS] and [SEP] added), more "
                       "than the max_pos %d of %s, whose positions are learned; only a model with "
                       "model.position: conv runs longer", maxL, maxL + 2, d->bc.max_pos, model);
    int grid[MAX_LIST], ng = 0;
    for (int i = 0; i < nm; i++) {
        const EvalMode *m = &modes[i];
        const RankKind k = mode_kind(m);
        if (m->n_layer && m->n_layer != d->bc.n_layers)
            return err_set(e, ST_CONFIG, "--modes: '%s': expected one rank per layer of the "
                           "model (%d), found %d", m->name, d->bc.n_layers, m->n_layer);
        /* the static ranks the factors are built for: r, or every rank a per-layer list names */
        const int nr = m->n_layer ? m->n_part * m->n_layer : 1;
        for (int j = 0; j < nr && (k == RANK_PLAIN || k == RANK_WHITENED); j++) {
            const int r = m->n_layer ? m->layer_r[j / m->n_layer][j % m->n_layer] : m->r;
            if (r > dh)
                return err_set(e, ST_CONFIG, "--modes: %s: expected ranks of at most the head "
                               "size %d, found %d", m->name, dh, r);
            int seen = r == 0; /* full: exact attention */
            for (int g = 0; g < ng; g++) seen |= grid[g] == r;
            if (!seen && ng == MAX_LIST)
                return err_set(e, ST_CONFIG, "--modes: at most %d distinct static ranks", MAX_LIST);
            if (!seen) grid[ng++] = r;
        }
        if (k == RANK_NYSTROM || k == RANK_PERFORMER)
            max_m = modes[i].r > max_m ? modes[i].r : max_m;
        white |= k == RANK_WHITENED;
    }
    if (ng > ATTN_MAX_RANKS - 1)
        return err_set(e, ST_CONFIG, "--modes: at most %d distinct static ranks", ATTN_MAX_RANKS - 1);
    if ((s = imdb_load(&d->test, d->base.data.test, 0, e))) return err_prefix(e, "data.test");
    const int maxN = maxL + 2 > d->base.data.max_len ? maxL + 2 : d->base.data.max_len;
    RankedOptions ro = {.max_B = 1, .max_N = maxN, .ranks = grid, .n_ranks = ng, .max_m = max_m,
                        .activation = 0, .bounds = 0, .performer_seed = o->performer_seed};
    if ((s = ranked_init(&d->R, &d->m, &ro, e))) return s;
    d->ranked_ok = 1;
    fprintf(info, "# drrl-sweep: %s\n\n- model: %d layers, d=%d, %d heads of %d, %s positions; sha256 %s\n",
           model, d->bc.n_layers, d->bc.d_model, d->bc.n_heads, dh, d->base.model.position, sha);
    if (d->k)
        fprintf(info, "- policy: %s (grid of %d ranks + full, segments of %d tokens, guardrail epsilon "
               "%g)\n", d->k->path, d->k->c.env.ranks.n, d->k->c.env.segment, d->k->c.env.epsilon);
    if (!white) return ST_OK;
    /* whitened factors: the first calib_rows training rows at data.max_len, cached next to the
       model as drrl-train and drrl-factors do (the same cache when the rows agree) */
    if ((s = base_vocab_open(&d->voc, &d->base, e))) return s;
    if ((s = base_load_split(&d->calib, &d->base, &d->voc, "train", calib_rows, 1, NULL, 0, e)))
        return s;
    char cache[CONFIG_STR_MAX + 16];
    if (factors && factors[0]) snprintf(cache, sizeof cache, "%s", factors);
    else ranked_calib_cache_path(cache, sizeof cache, model);
    RankedCalib rc = {.rows = calib_rows, .batch = 0, .ridge = ATTN_RIDGE_DEFAULT, .cache = cache,
                      .model_sha256 = sha};
    RankedCalibInfo ci;
    if ((s = ranked_calibrate(&d->R, &d->calib, &rc, &ci, e))) return s;
    fprintf(info, "- whitened factors: %s %s (%.2f s, %d calibration rows)\n",
           ci.loaded ? "loaded from" : "calibrated and cached in", cache, ci.seconds, ci.rows);
    return ST_OK;
}

void sweep_free(Sweep *d) {
    sweep_policy_free(&d->pol);
    if (d->ranked_ok) ranked_free(&d->R);
    encoded_free(&d->calib);
    imdb_free(&d->test);
    base_vocab_close(&d->voc);
    bert_free(&d->m);
    bert_file_info_free(&d->info);
}

/* every mode at one length: cells[nm]; modes[0] is full */
/* the buffers of one length: times (modes, rows, reps), FLOPs, KL and error (modes, rows) */
typedef struct {
    double *att, *fwd, *dec, *pnet; /* attention, forward, decision, policy network seconds */
    int64_t *fl;
    double *kl, *rel;
    double *lm;    /* (modes, rows, EVAL_LM_STATS) a decoder's sums (NULL: a classifier) */
    float *zfull;  /* (C) the full pass's logits of the row */
    uint8_t *mask; /* (N) all ones */
    int32_t *rk;   /* (segments of N) a position rule's ranks of one layer */
    int T;         /* the checkpoint's segment length (0: none) */
} SweepBufs;

/* sweep_row: input k of K in every mode, reps timed passes each, into b */
static Status sweep_row(Sweep *d, const EvalMode *modes, int nm, const EncodedSet *enc, int k,
                        int K, int reps, int64_t units, SweepBufs *b, Progress *progress,
                        Err *e) {
    const int N = enc->max_len, C = d->R.K;
    const int32_t *ids = enc->ids + (size_t)k * N;
    RankSpec full[BERT_MAX_LAYERS];
    for (int l = 0; l < d->R.L; l++) full[l] = rank_spec(RANK_EXACT, 0);
    Status s = ranked_forward(&d->R, ids, NULL, b->mask, 1, N, full, e);
    if (s) return s;
    const int per = d->R.dec ? N : 1; /* a decoder's logits per position */
    memcpy(b->zfull, d->R.logits, sizeof(float) * (size_t)per * C);
    for (int i = 0; i < nm; i++) {
        Ranked *R = modes[i].kind == EVAL_POLICY ? d->pol.p.R : &d->R;
        for (int r = 0; r < reps; r++) {
            double a = 0, f = 0, rel = 0;
            const size_t at = ((size_t)i * K + k) * reps + r;
            if (modes[i].kind == EVAL_POLICY) { /* the deployed forward, then (first rep) the
                                                   replay that measures the error */
                DeployCost dc;
                if ((s = deploy_forward(&d->pol.D, ids, b->mask, 1, N, &dc, e))) return s;
                b->dec[at] = deploy_decision_sec(&dc), b->pnet[at] = dc.policy_sec;
                double a2, f2;
                if (!r && (s = timed_pass(R, &d->pol, k, ids, b->mask, N, &modes[i], b->T,
                                          b->rk, 1, &a2, &f2, &rel, e)))
                    return s;
                a = dc.attn_sec, f = dc.total_sec;
            } else if ((s = timed_pass(R, &d->pol, k, ids, b->mask, N, &modes[i], b->T, b->rk,
                                       r == 0, &a, &f, &rel, e))) {
                return s;
            }
            b->att[at] = a, b->fwd[at] = f;
            progress_add(progress, units);
            if (r) continue;
            b->fl[(size_t)i * K + k] = ranked_attn_flops(R);
            /* KL (double): a decoder's per next byte, as drrl-eval's */
            double *lm = b->lm ? b->lm + ((size_t)i * K + k) * EVAL_LM_STATS : NULL, bits;
            if (lm) {
                eval_lm_row(lm, ids, N, R->logits, b->zfull, C);
                eval_lm_per_row(b->kl + (size_t)i * K + k, &bits, lm, 1);
            } else {
                b->kl[(size_t)i * K + k] = logits_kl(b->zfull, R->logits, C);
            }
            b->rel[(size_t)i * K + k] = rel;
        }
    }
    return ST_OK;
}

Status sweep_length(Sweep *d, const SweepOptions *o, int L, int rows, int reps,
                    SweepCell *cells, Progress *progress, Err *e) {
    const EvalMode *modes = o->modes;
    const int nm = o->n_modes;
    const int64_t units = ((int64_t)L * L + 65535) / 65536; /* per timed pass */
    ImdbData j;
    EncodedSet enc;
    memset(&enc, 0, sizeof enc);
    Status s = imdb_join(&j, &d->test, L, 1, rows, e);
    if (s) return err_prefix(e, "length %d", L);
    if (j.n < 1) {
        imdb_free(&j);
        return err_set(e, ST_CONFIG, "length %d: the reviews of %s do not join into one input of "
                       "%d bytes", L, d->base.data.test, L);
    }
    if ((s = encoded_from_imdb(&enc, &j, L + 2, e))) {
        imdb_free(&j);
        return s;
    }
    const int K = j.n, N = L + 2, C = d->R.K, dh = d->R.dh;
    /* the run's total counted `rows` inputs per length (this process's share of them: rows
       rank, rank + P, ..); fewer joined: count the rest as done */
    const int P = dist_size(), r0 = dist_rank();
    const int want = (rows - r0 + P - 1) / P, got = (K - r0 + P - 1) / P;
    if (got < want) progress_add(progress, (int64_t)(want - got) * nm * reps * units);
    imdb_free(&j);
    int has_pol = 0;
    for (int i = 0; i < nm; i++) has_pol |= modes[i].kind == EVAL_POLICY;
    sweep_policy_free(&d->pol);
    if (has_pol && (s = sweep_policy_decide(&d->pol, d->k, L, rows, o->over, o->n_over, &enc, e))) {
        encoded_free(&enc);
        return err_prefix(e, "policy at length %d", L);
    }
    /* (modes, rows, reps) times; (modes, rows) FLOPs, KL and error: rows k with
       k % processes == rank are this process's (core/dist.h), merged exactly below */
    SweepBufs b = {.att = calloc((size_t)nm * K * reps, sizeof(double)),
                   .fwd = calloc((size_t)nm * K * reps, sizeof(double)),
                   .dec = calloc((size_t)nm * K * reps, sizeof(double)),
                   .pnet = calloc((size_t)nm * K * reps, sizeof(double)),
                   .fl = calloc((size_t)nm * K, sizeof(int64_t)),
                   .kl = calloc((size_t)nm * K, sizeof(double)),
                   .rel = calloc((size_t)nm * K, sizeof(double)),
                   .lm = d->R.dec ? calloc((size_t)nm * K * EVAL_LM_STATS, sizeof(double)) : NULL,
                   .zfull = malloc(sizeof(float) * (size_t)C * (d->R.dec ? N : 1)),
                   .mask = malloc((size_t)N),
                   .T = d->k ? d->k->c.env.segment : 0};
    b.rk = malloc(sizeof(int32_t) * (size_t)ranked_segments(N, b.T));
    if (!b.att || !b.fwd || !b.dec || !b.pnet || !b.fl || !b.kl || !b.rel || !b.zfull || !b.mask ||
        !b.rk || (d->R.dec && !b.lm))
        s = err_set(e, ST_NOMEM, "out of memory for length %d", L);
    for (int i = 0; i < N && !s; i++) b.mask[i] = 1;
    memset(cells, 0, sizeof(SweepCell) * (size_t)nm);
    for (int k = 0; k < K && !s; k++)
        if (k % dist_size() == dist_rank())
            s = sweep_row(d, modes, nm, &enc, k, K, reps, units, &b, progress, e);
    if ((s = dist_agree(s, e))) goto done;
    const size_t nt = (size_t)nm * K * reps, nr = (size_t)nm * K;
    if ((s = dist_or(b.att, nt * sizeof(double), e)) ||
        (s = dist_or(b.fwd, nt * sizeof(double), e)) ||
        (s = dist_or(b.dec, nt * sizeof(double), e)) ||
        (s = dist_or(b.pnet, nt * sizeof(double), e)) ||
        (s = dist_or(b.fl, nr * sizeof(int64_t), e)) ||
        (s = dist_or(b.kl, nr * sizeof(double), e)) ||
        (s = dist_or(b.rel, nr * sizeof(double), e)) ||
        (b.lm && (s = dist_or(b.lm, nr * EVAL_LM_STATS * sizeof(double), e))))
        goto done;
    for (int i = 0; i < nm; i++) {
        SweepCell *c = &cells[i];
        const RankKind kind = mode_kind(&modes[i]);
        double nats = 0, targets = 0;
        for (int k = 0; k < K; k++) { /* in row order, however many processes ran them */
            c->attn_flops += b.fl[(size_t)i * K + k];
            c->kl += b.kl[(size_t)i * K + k], c->rel += b.rel[(size_t)i * K + k];
            if (!b.lm) continue;
            nats += b.lm[((size_t)i * K + k) * EVAL_LM_STATS + EVAL_LM_NATS];
            targets += b.lm[((size_t)i * K + k) * EVAL_LM_STATS + EVAL_LM_TARGETS];
        }
        c->bpb = b.lm && targets > 0 ? nats / (targets * log(2.0)) : NAN;
        c->rows = K;
        c->attn_flops /= K;
        c->kl /= K, c->rel /= K;
        if (modes[i].kind == EVAL_FULL) c->kl = 0, c->rel = 0; /* exact vs itself */
        c->lat_ms = 1e3 * time_median(b.att + (size_t)i * K * reps, K * reps);
        c->fwd_ms = 1e3 * time_median(b.fwd + (size_t)i * K * reps, K * reps);
        c->rank = modes[i].kind == EVAL_POLICY ? d->pol.mean_rank
                  : modes[i].kind == EVAL_FULL ? dh
                  : modes[i].n_layer ? listed_rank(&modes[i], ranked_segments(N, b.T), dh)
                  : kind == RANK_WHITENED || kind == RANK_PLAIN ? modes[i].r : NAN;
        c->policy_ms = NAN, c->dec_ms = 0;
        if (modes[i].kind == EVAL_POLICY) {
            c->policy_ms = 1e3 * time_median(b.pnet + (size_t)i * K * reps, K * reps);
            c->dec_ms = 1e3 * time_median(b.dec + (size_t)i * K * reps, K * reps);
        }
    }
done:
    free(b.att), free(b.fwd), free(b.dec), free(b.pnet), free(b.fl), free(b.kl), free(b.rel);
    free(b.lm), free(b.zfull), free(b.mask), free(b.rk);
    encoded_free(&enc);
    return s;
}

