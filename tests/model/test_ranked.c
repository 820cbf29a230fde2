/* test_ranked.c: the ranked forward (model/ranked.h) and its calibration (model/ranked_calib.h)
 * on a small random model (V=50, P=24, C=32, H=4 (dh=8), F=64, L=2, K=2) whose attention is
 * made non-trivial (query/key weights N(0, 0.3^2), value/output N(0, 0.15^2), biases
 * N(0, 0.1^2): peaked, biased attention that matters to the output); batches of B=6 sequences
 * of N=17 tokens with 3..17 real ones. Nothing is trained (the fast suite). Checks:
 *   - every layer exact reproduces bert_forward's logits (float tolerance 1e-5);
 *   - rank = dh equals exact, plain and whitened: logits and each layer's attention output
 *     against the teacher (relative error <= 1e-5);
 *   - per-segment ranks (T = 5: 4 segments) equal per-segment separate runs at each rank;
 *   - FLOPs per layer equal the kernels' closed forms (exact, low-rank with segments,
 *     activation-level, Nystrom, Performer) and the rest of the model equals
 *     bert_forward_flops minus its attention;
 *   - padded positions (ids and type ids) change no logit, for every kind;
 *   - the calibration cache: first run computes, second loads bit-identical factors, a model
 *     with other weights does not reuse it, a file of another format is an error;
 *   - the perturbation bound (tight and cheap, relative Frobenius) is never below the
 *     measured relative error of the layer's attention output on the model's own hidden
 *     states, at every grid rank, layer and sequence, plain and whitened;
 *   - both position kinds (learned, and convolutional with k = 5): ranked_begin's embeddings
 *     equal bert_forward's layer-0 input bit for bit; for conv also every layer exact and
 *     rank dh (plain) reproduce bert_forward's logits, padded positions change nothing,
 *     and a pass at N = 40 > max_pos (the batch padded further) gives the N = 17 logits. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "core/sha256.h"
#include "model/bert.h"
#include "model/bert_io.h"
#include "model/ranked.h"
#include "model/ranked_calib.h"
#include "tests/check.h"

enum { B = 6, N = 17, CALIB_ROWS = 48 };
static const BertConfig cfg = {.vocab = 50, .max_pos = 24, .type_vocab = 2, .d_model = 32,
                               .n_heads = 4, .d_ff = 64, .n_layers = 2, .n_classes = 2,
                               .ln_eps = 1e-12f, .dropout = 0.1f, .attn_dropout = 0.1f};
static const int grid[] = {1, 2, 4};
static char dir[256];
static int32_t ids[B * N], tids[B * N];
static uint8_t mask[B * N];

static void die_if(Status s, const Err *e) {
    if (s) {
        fprintf(stderr, "test_ranked: fatal: %s\n", e->msg);
        exit(1);
    }
}

/* a model with BERT's initialisation, then attention weights and biases made to matter */
static void make_model_c(Bert *m, const BertConfig *mc, uint64_t seed, Err *e) {
    die_if(bert_init(m, mc, B, N, 0, e), e);
    Rng r;
    rng_init(&r, seed, 1);
    bert_init_weights(m, &r);
    const int C = cfg.d_model;
    for (int l = 0; l < cfg.n_layers; l++) {
        MhsaParams *p = &m->p.layer[l].attn;
        float *w[4] = {p->wq, p->wk, p->wv, p->wo}, *b[4] = {p->bq, p->bk, p->bv, p->bo};
        const double sd[4] = {0.3, 0.3, 0.15, 0.15};
        for (int t = 0; t < 4; t++) {
            for (int i = 0; i < C * C; i++) w[t][i] = (float)(rng_normal(&r) * sd[t]);
            for (int i = 0; i < C; i++) b[t][i] = (float)(rng_normal(&r) * 0.1);
        }
    }
}

static void make_model(Bert *m, uint64_t seed, Err *e) { make_model_c(m, &cfg, seed, e); }

/* a batch: token 0 = 1 ("[CLS]"), lengths 3..N, padding id 0 */
static void make_batch(Rng *r) {
    for (int b = 0; b < B; b++) {
        int len = b == 0 ? N : 3 + (int)rng_below(r, N - 2);
        for (int n = 0; n < N; n++) {
            int real = n < len;
            ids[b * N + n] = !real ? 0 : n == 0 ? 1 : 2 + (int)rng_below(r, cfg.vocab - 2);
            tids[b * N + n] = real && n > len / 2;
            mask[b * N + n] = (uint8_t)real;
        }
    }
}

static EncodedSet make_set(uint64_t seed) {
    EncodedSet s;
    memset(&s, 0, sizeof s);
    s.n = CALIB_ROWS, s.max_len = N;
    s.ids = calloc((size_t)s.n * N, sizeof(int32_t));
    s.len = calloc((size_t)s.n, sizeof(int32_t));
    Rng r;
    rng_init(&r, seed, 2);
    for (int i = 0; i < s.n; i++) {
        s.len[i] = 3 + (int)rng_below(&r, N - 2);
        for (int n = 0; n < s.len[i]; n++)
            s.ids[(size_t)i * N + n] = n == 0 ? 1 : 2 + (int)rng_below(&r, cfg.vocab - 2);
        s.n_tokens += s.len[i];
    }
    return s;
}

static void specs(RankSpec *sp, RankKind k, int r) {
    for (int l = 0; l < cfg.n_layers; l++) sp[l] = rank_spec(k, r);
}

static double max_rel(const float *a, const float *b, size_t n, double floor_) {
    double mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (fabs((double)b[i]) + floor_);
        mx = d > mx ? d : mx;
    }
    return mx;
}

static int flops_equal(const AttnFlops *a, const AttnFlops *b) {
    return a->proj == b->proj && a->factor == b->factor && a->scores == b->scores &&
           a->softmax == b->softmax && a->values == b->values && a->out == b->out;
}

static void test_exact(Bert *m, Ranked *R, Err *e) {
    RankSpec sp[BERT_MAX_LAYERS];
    specs(sp, RANK_EXACT, 0);
    bert_forward(m, ids, tids, mask, NULL, B, N, 0, NULL);
    die_if(ranked_forward(R, ids, tids, mask, B, N, sp, e), e);
    double d = max_rel(R->logits, bert_logits(m), (size_t)B * cfg.n_classes, 1e-3);
    printf("all exact vs bert_forward: max relative logit difference %.3g\n", d);
    CHECK(d <= 1e-5, "logits differ by %g", d);
    /* FLOPs: every layer the closed form; the rest as bert_forward_flops without attention */
    AttnFlops ex = attn_exact_flops(B, N, cfg.d_model, cfg.n_heads);
    for (int l = 0; l < cfg.n_layers; l++)
        CHECK(flops_equal(&R->attn_fl[l], &ex), "layer %d exact FLOPs", l);
    int64_t rest = ranked_model_flops(R) - ranked_attn_flops(R);
    int64_t want = bert_forward_flops(&cfg, B, N) -
                   cfg.n_layers * mhsa_flops(B, N, cfg.d_model, cfg.n_heads);
    CHECK(rest == want, "rest of the model: %lld FLOPs, expected %lld", (long long)rest,
          (long long)want);
    /* attention seconds: every layer's kernel was timed, the total is their sum, and a new
       pass starts from zero */
    double tot = 0;
    for (int l = 0; l < cfg.n_layers; l++) {
        CHECK(R->attn_sec[l] > 0 && R->attn_sec[l] < 10, "layer %d attention seconds %g", l,
              R->attn_sec[l]);
        tot += R->attn_sec[l];
    }
    CHECK(ranked_attn_seconds(R) == tot, "ranked_attn_seconds %g, layers sum to %g",
          ranked_attn_seconds(R), tot);
    die_if(ranked_begin(R, ids, tids, mask, B, N, e), e);
    CHECK(ranked_attn_seconds(R) == 0, "ranked_begin left %g attention seconds",
          ranked_attn_seconds(R));
}

/* rank dh: logits and every layer's attention vs the teacher */
static void test_full_rank(Ranked *R, RankKind kind, const float *ref_logits, Err *e) {
    RankSpec sp = rank_spec(kind, cfg.d_model / cfg.n_heads);
    die_if(ranked_begin(R, ids, tids, mask, B, N, e), e);
    for (int l = 0; l < cfg.n_layers; l++) {
        die_if(ranked_teacher(R, e), e);
        die_if(ranked_layer(R, &sp, e), e);
        double rel[B];
        ranked_fidelity(R, 0, N, NULL, rel);
        for (int b = 0; b < B; b++)
            CHECK(rel[b] <= 1e-5, "%s rank dh layer %d seq %d: rel err %g",
                  rank_kind_name(kind), l, b, rel[b]);
    }
    die_if(ranked_end(R, e), e);
    double d = max_rel(R->logits, ref_logits, (size_t)B * cfg.n_classes, 1e-3);
    printf("%s rank dh vs exact: max relative logit difference %.3g\n", rank_kind_name(kind), d);
    CHECK(d <= 1e-5, "%s rank dh logits differ by %g", rank_kind_name(kind), d);
}

/* segments of T = 5 (4 segments, the last of 2 rows) vs each rank alone, on layer 0's input */
static void test_segments(Ranked *R, RankKind kind, Err *e) {
    const int T = 5, seg[4] = {2, 8, 4, 1}, C = cfg.d_model;
    const size_t MC = (size_t)B * N * C;
    float *got = malloc(sizeof(float) * MC);
    RankSpec sp = {kind, 0, T, seg, NULL};
    die_if(ranked_begin(R, ids, tids, mask, B, N, e), e);
    die_if(ranked_layer(R, &sp, e), e);
    memcpy(got, R->att, sizeof(float) * MC);
    AttnFlops want = attn_lowrank_flops(B, N, C, cfg.n_heads, T, seg);
    CHECK(flops_equal(&R->attn_fl[0], &want), "%s segment FLOPs", rank_kind_name(kind));
    double worst = 0;
    for (int s = 0; s < 4; s++) {
        RankSpec one = rank_spec(kind, seg[s]);
        die_if(ranked_begin(R, ids, tids, mask, B, N, e), e);
        die_if(ranked_layer(R, &one, e), e);
        for (int b = 0; b < B; b++)
            for (int i = s * T; i < N && i < (s + 1) * T; i++) {
                size_t o = ((size_t)b * N + i) * C;
                double d = max_rel(got + o, R->att + o, C, 1e-2);
                worst = d > worst ? d : worst;
            }
    }
    printf("%s segments vs separate runs: max relative difference %.3g\n", rank_kind_name(kind),
           worst);
    CHECK(worst <= 1e-5, "%s segments differ from separate runs by %g", rank_kind_name(kind),
          worst);
    free(got);
}

/* closed forms of the other kernels, over the batch's real lengths */
static void test_flops(Ranked *R, Err *e) {
    const int C = cfg.d_model, H = cfg.n_heads, dh = C / H;
    int n_real[B];
    for (int b = 0; b < B; b++) {
        n_real[b] = 0;
        for (int n = 0; n < N; n++) n_real[b] += mask[b * N + n];
    }
    RankSpec sp[BERT_MAX_LAYERS];
    const int m = 4;
    AttnFlops ny, pf, t;
    attn_flops_zero(&ny), attn_flops_zero(&pf);
    for (int b = 0; b < B; b++) {
        t = nystrom_flops(N, n_real[b], C, H, m);
        attn_flops_add(&ny, &t);
        t = performer_flops(N, n_real[b], C, H, m);
        attn_flops_add(&pf, &t);
    }
    specs(sp, RANK_NYSTROM, m);
    die_if(ranked_forward(R, ids, tids, mask, B, N, sp, e), e);
    for (int l = 0; l < cfg.n_layers; l++)
        CHECK(flops_equal(&R->attn_fl[l], &ny), "nystrom layer %d FLOPs", l);
    specs(sp, RANK_PERFORMER, m);
    die_if(ranked_forward(R, ids, tids, mask, B, N, sp, e), e);
    for (int l = 0; l < cfg.n_layers; l++)
        CHECK(flops_equal(&R->attn_fl[l], &pf), "performer layer %d FLOPs", l);
    const int r = 2;
    AttnFlops lr = attn_lowrank_flops(B, N, C, H, N, &r);
    specs(sp, RANK_WHITENED, r);
    die_if(ranked_forward(R, ids, tids, mask, B, N, sp, e), e);
    for (int l = 0; l < cfg.n_layers; l++)
        CHECK(flops_equal(&R->attn_fl[l], &lr), "whitened layer %d FLOPs", l);
    /* activation-level (activation.h): exact projections, output and values; rank-r scores */
    const int64_t M = (int64_t)B * N;
    specs(sp, RANK_ACTIVATION, r);
    die_if(ranked_forward(R, ids, tids, mask, B, N, sp, e), e);
    for (int l = 0; l < cfg.n_layers; l++) {
        const AttnFlops *f = &R->attn_fl[l];
        CHECK(f->proj == 3 * (2 * M * C * C + M * C) && f->out == 2 * M * C * C + M * C &&
                  f->scores == 2 * (int64_t)B * H * N * N * r &&
                  f->values == 2 * (int64_t)B * H * N * N * dh && f->factor > 0,
              "activation layer %d FLOPs", l);
    }
}

/* padded ids and type ids changed: every kind gives the same logits */
static void test_padding(Ranked *R, Err *e) {
    int32_t ids2[B * N], tids2[B * N];
    float first[B * 2];
    Rng r;
    rng_init(&r, 99, 3);
    for (int i = 0; i < B * N; i++) {
        ids2[i] = mask[i] ? ids[i] : (int32_t)rng_below(&r, cfg.vocab);
        tids2[i] = mask[i] ? tids[i] : (int32_t)rng_below(&r, 2);
    }
    const int seg[4] = {4, 2, 8, 1};
    RankSpec kinds[] = {rank_spec(RANK_EXACT, 0),     rank_spec(RANK_PLAIN, 2),
                        {RANK_WHITENED, 0, 5, seg, NULL},rank_spec(RANK_ACTIVATION, 3),
                        rank_spec(RANK_NYSTROM, 4),   rank_spec(RANK_PERFORMER, 8)};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        RankSpec sp[BERT_MAX_LAYERS];
        for (int l = 0; l < cfg.n_layers; l++) sp[l] = kinds[k];
        die_if(ranked_forward(R, ids, tids, mask, B, N, sp, e), e);
        memcpy(first, R->logits, sizeof first);
        die_if(ranked_forward(R, ids2, tids2, mask, B, N, sp, e), e);
        double d = max_rel(R->logits, first, B * 2, 1e-3);
        CHECK(d == 0, "%s: padded positions changed the logits by %g",
              rank_kind_name(kinds[k].kind), d);
    }
}

/* the bound vs the measured relative error on the model's own hidden states */
static void test_bound(Ranked *R, Err *e) {
    const int dh = cfg.d_model / cfg.n_heads;
    long checks = 0, viol = 0;
    double ratio_sum = 0;
    for (int kind = RANK_PLAIN; kind <= RANK_WHITENED; kind++)
        for (int g = 0; g < R->n_ranks; g++) {
            const int r = R->ranks[g];
            if (r == dh) continue;
            RankSpec sp = rank_spec((RankKind)kind, r);
            die_if(ranked_begin(R, ids, tids, mask, B, N, e), e);
            for (int l = 0; l < cfg.n_layers; l++) {
                double fro[2][B], yn[B], rel[B];
                for (int bk = 0; bk < 2; bk++) {
                    BoundOut bo = {NULL, fro[bk], NULL, NULL, NULL};
                    die_if(ranked_bound(R, (RankKind)kind, (BoundKind)bk, &r, 1, &bo, e), e);
                }
                die_if(ranked_teacher(R, e), e);
                die_if(ranked_layer(R, &sp, e), e);
                ranked_fidelity(R, 0, N, NULL, rel);
                bound_ynorm(yn, R->teacher, attn_mask_u8(mask), B, N, cfg.d_model);
                for (int b = 0; b < B; b++)
                    for (int bk = 0; bk < 2; bk++) {
                        double bound = fro[bk][b] / yn[b];
                        checks++;
                        if (rel[b] > bound * (1 + 1e-5) + 1e-6) {
                            viol++;
                            fprintf(stderr, "violation: %s rank %d layer %d seq %d %s: measured "
                                    "%g > bound %g\n", rank_kind_name((RankKind)kind), r, l, b,
                                    bk ? "tight" : "cheap", rel[b], bound);
                        }
                        if (bk == BOUND_TIGHT) ratio_sum += log(bound / rel[b]);
                    }
            }
        }
    printf("bound vs measured: %ld checks, %ld violations, geometric mean tightness (tight) "
           "%.2f\n", checks, viol, exp(ratio_sum / (double)(checks / 2)));
    CHECK(viol == 0, "%ld bound violations", viol);
}

/* ranked_begin's layer-0 input vs bert_forward's (x0 of a training model in eval mode: the
   LN_e output, kept for the backward), bit for bit */
static void check_same_embeddings(const Bert *m, Ranked *R, const char *kind, Err *e) {
    static Bert t;
    die_if(bert_init(&t, &m->c, B, N, 1, e), e);
    memcpy(t.param_plan.base, m->param_plan.base, m->param_plan.bytes);
    bert_forward(&t, ids, tids, mask, NULL, B, N, 0, NULL);
    die_if(ranked_begin(R, ids, tids, mask, B, N, e), e);
    CHECK(memcmp(ranked_input(R), t.a.x0, sizeof(float) * B * N * cfg.d_model) == 0,
          "%s positions: ranked_begin's embeddings differ from bert_forward's", kind);
    bert_free(&t);
}

/* the convolutional position encoding through the ranked forward */
static void test_conv(Err *e) {
    enum { NL = 40 }; /* > cfg.max_pos = 24: only conv positions run there */
    BertConfig cc = cfg;
    cc.position = BERT_POS_CONV, cc.conv_kernel = 5;
    static Bert mc;
    make_model_c(&mc, &cc, 21, e);
    Rng r;
    rng_init(&r, 22, 5);
    for (int i = 0; i < 5 * cc.d_model; i++) mc.p.conv_w[i] = (float)(0.5 * rng_normal(&r));
    for (int i = 0; i < cc.d_model; i++) mc.p.conv_b[i] = (float)(0.2 * rng_normal(&r));
    static Ranked Rc;
    RankedOptions o = {.max_B = B, .max_N = NL, .ranks = grid, .n_ranks = 3, .max_m = 8,
                       .activation = 1, .bounds = 0, .performer_seed = 5};
    die_if(ranked_init(&Rc, &mc, &o, e), e);
    check_same_embeddings(&mc, &Rc, "conv", e);
    test_exact(&mc, &Rc, e);
    float ref[B * 2], first[B * 2];
    memcpy(ref, Rc.logits, sizeof ref);
    test_full_rank(&Rc, RANK_PLAIN, ref, e);
    /* padded ids and type ids changed: same logits (exact and plain rank 2) */
    int32_t ids2[B * N], tids2[B * N];
    for (int i = 0; i < B * N; i++) {
        ids2[i] = mask[i] ? ids[i] : (int32_t)rng_below(&r, cfg.vocab);
        tids2[i] = mask[i] ? tids[i] : (int32_t)rng_below(&r, 2);
    }
    const RankSpec kinds[2] = {rank_spec(RANK_EXACT, 0), rank_spec(RANK_PLAIN, 2)};
    for (int k = 0; k < 2; k++) {
        RankSpec sp[BERT_MAX_LAYERS];
        for (int l = 0; l < cfg.n_layers; l++) sp[l] = kinds[k];
        die_if(ranked_forward(&Rc, ids, tids, mask, B, N, sp, e), e);
        memcpy(first, Rc.logits, sizeof first);
        die_if(ranked_forward(&Rc, ids2, tids2, mask, B, N, sp, e), e);
        CHECK(memcmp(first, Rc.logits, sizeof first) == 0,
              "conv, %s: padded positions changed the logits", rank_kind_name(kinds[k].kind));
    }
    /* the batch padded to NL > max_pos: the same logits up to float rounding */
    static int32_t idl[B * NL], tdl[B * NL];
    static uint8_t mkl[B * NL];
    memset(idl, 0, sizeof idl), memset(tdl, 0, sizeof tdl), memset(mkl, 0, sizeof mkl);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++)
            idl[b * NL + n] = ids[b * N + n], tdl[b * NL + n] = tids[b * N + n],
                     mkl[b * NL + n] = mask[b * N + n];
    RankSpec sp[BERT_MAX_LAYERS];
    specs(sp, RANK_EXACT, 0);
    die_if(ranked_forward(&Rc, idl, tdl, mkl, B, NL, sp, e), e);
    double d = max_rel(Rc.logits, ref, (size_t)B * cfg.n_classes, 1e-3);
    printf("conv positions, N = %d vs %d (max_pos %d): max relative logit difference %.3g\n",
           NL, N, cfg.max_pos, d);
    CHECK(d <= 1e-5, "conv: padded to %d tokens, logits differ by %g", NL, d);
    ranked_free(&Rc);
    bert_free(&mc);
    /* a learned model refuses a plan past max_pos */
    static Ranked Rl;
    static Bert ml;
    make_model(&ml, 23, e);
    CHECK(ranked_init(&Rl, &ml, &o, e) == ST_INVALID && strstr(e->msg, "(max_pos)"),
          "learned positions, max_N %d > max_pos: %s", NL, e->msg);
    ranked_free(&Rl);
    bert_free(&ml);
    err_clear(e);
}

static int factors_identical(const AttnFactors *a, const AttnFactors *b) {
    const size_t t = (size_t)a->H * (a->d + 1) * a->dh, o = (size_t)a->H * a->d * a->dh,
                 s = (size_t)a->H * a->dh;
    return !memcmp(a->a, b->a, t * 4) && !memcmp(a->b, b->b, t * 4) &&
           !memcmp(a->c, b->c, t * 4) && !memcmp(a->dm, b->dm, o * 4) &&
           !memcmp(a->s_qk, b->s_qk, s * 8) && !memcmp(a->s_vo, b->s_vo, s * 8) &&
           !strcmp(a->calib_hash, b->calib_hash) && a->kind == b->kind;
}

static void model_hash(const Bert *m, const char *name, char hex[65], Err *e) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    die_if(bert_save(m, path, NULL, e), e);
    die_if(sha256_file(path, hex, e), e);
    remove(path);
}

int main(void) {
    Err e;
    err_clear(&e);
    snprintf(dir, sizeof dir, "/tmp/test_ranked.XXXXXX");
    if (!mkdtemp(dir)) return check_skip("test_ranked", "cannot create a temporary directory");
    char cache[512];
    snprintf(cache, sizeof cache, "%s/factors.h5", dir);
    Rng r;
    rng_init(&r, 7, 0);
    make_batch(&r);
    static Bert m, m2;
    make_model(&m, 11, &e);
    static Ranked R, R2;
    RankedOptions o = {.max_B = B, .max_N = N, .ranks = grid, .n_ranks = 3, .max_m = 8,
                       .activation = 1, .bounds = 1, .performer_seed = 5};
    die_if(ranked_init(&R, &m, &o, &e), &e);
    CHECK(R.n_ranks == 4 && R.ranks[3] == 8, "grid: dh added (%d ranks)", R.n_ranks);
    RankSpec wsp = rank_spec(RANK_WHITENED, 2);
    CHECK(ranked_begin(&R, ids, tids, mask, B, N, &e) == ST_OK &&
              ranked_layer(&R, &wsp, &e) == ST_INVALID && strstr(e.msg, "ranked_calibrate"),
          "whitened before calibration: %s", e.msg);
    check_same_embeddings(&m, &R, "learned", &e);
    test_exact(&m, &R, &e);
    float ref[B * 2];
    memcpy(ref, R.logits, sizeof ref);

    /* calibration: computed, cached; a second Ranked loads identical factors */
    char h1[65], h2[65];
    model_hash(&m, "m1.h5", h1, &e);
    EncodedSet set = make_set(3);
    RankedCalib cal = {.rows = 40, .batch = 4, .ridge = ATTN_RIDGE_DEFAULT, .cache = cache,
                       .model_sha256 = h1};
    RankedCalibInfo info;
    die_if(ranked_calibrate(&R, &set, &cal, &info, &e), &e);
    CHECK(!info.loaded && info.rows == 40 && info.tokens > 0, "first calibration computes");
    for (int l = 0; l < cfg.n_layers; l++) {
        CHECK(fabs(attn_factors_energy(&R.white[l], ATTN_QK, -1, 8) - 1) < 1e-12,
              "whitened energy at dh");
        CHECK(R.white[l].kind == ATTN_FACTORS_WHITENED && strlen(R.white[l].calib_hash) == 64,
              "whitened factors carry the calibration hash");
    }
    die_if(ranked_init(&R2, &m, &o, &e), &e);
    die_if(ranked_calibrate(&R2, &set, &cal, &info, &e), &e);
    CHECK(info.loaded, "second calibration loads the cache");
    for (int l = 0; l < cfg.n_layers; l++)
        CHECK(factors_identical(&R.white[l], &R2.white[l]) &&
                  factors_identical(&R.plain[l], &R2.plain[l]),
              "layer %d: cached factors identical", l);
    ranked_free(&R2);
    /* another model (other weights): the cache is not reused */
    make_model(&m2, 12, &e);
    model_hash(&m2, "m2.h5", h2, &e);
    CHECK(strcmp(h1, h2) != 0, "different model files hash differently");
    die_if(ranked_init(&R2, &m2, &o, &e), &e);
    cal.model_sha256 = h2;
    die_if(ranked_calibrate(&R2, &set, &cal, &info, &e), &e);
    CHECK(!info.loaded, "another model does not reuse the cache");
    CHECK(!factors_identical(&R.white[0], &R2.white[0]), "another model's factors differ");
    ranked_free(&R2);
    /* other calibration rows: not reused either */
    cal.model_sha256 = h1;
    cal.rows = 39;
    die_if(ranked_init(&R2, &m, &o, &e), &e);
    die_if(ranked_calibrate(&R2, &set, &cal, &info, &e), &e);
    CHECK(!info.loaded, "other calibration rows do not reuse the cache");
    /* a file of another format is an error, never overwritten */
    char mpath[512];
    snprintf(mpath, sizeof mpath, "%s/model.h5", dir);
    die_if(bert_save(&m, mpath, NULL, &e), &e);
    cal.cache = mpath;
    Status st = ranked_calibrate(&R2, &set, &cal, &info, &e);
    CHECK(st == ST_FORMAT && strstr(e.msg, "drrl-factors"), "foreign cache file: %s", e.msg);
    ranked_free(&R2);

    test_full_rank(&R, RANK_PLAIN, ref, &e);
    test_full_rank(&R, RANK_WHITENED, ref, &e);
    test_segments(&R, RANK_PLAIN, &e);
    test_segments(&R, RANK_WHITENED, &e);
    test_flops(&R, &e);
    test_padding(&R, &e);
    test_bound(&R, &e);
    test_conv(&e);

    ranked_free(&R);
    bert_free(&m);
    bert_free(&m2);
    free(set.ids), free(set.len);
    remove(cache);
    remove(mpath);
    rmdir(dir);
    return check_exit("test_ranked");
}
