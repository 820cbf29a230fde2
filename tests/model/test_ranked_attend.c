/* test_ranked_attend.c: ranked_attend_each (model/ranked.h), the side computation of a
 * layer's attention at another rank, on a small random model (V=50, C=32, H=4 (dh=8), F=64,
 * L=2, K=2; attention weights N(0, 0.3^2) so that attention matters) with whitened factors
 * calibrated on 40 random sequences; a batch of B=5 sequences of N=13 tokens with 3..13 real
 * ones. Checks, at every layer of a pass:
 *   - at each grid rank and RANKED_FULL, the side output equals (bit for bit) what
 *     ranked_layer_each then writes to R->att at the same rank, and the per-sequence FLOPs are
 *     the same counts;
 *   - the pass is untouched: the layer index, the layer input and attn_fl are unchanged after
 *     the call (the following ranked_layer_each sees the same input);
 *   - padded rows of the output are 0 (the buffer is filled with NaN first);
 *   - at rank dh (the full-rank factored path) the output equals the exact one to float
 *     rounding (relative Frobenius 1e-5), an independent path;
 *   - errors: out = R->x, a kind that is not weight-level, and no layer left;
 *   - sequence lanes (ranked.h): a Ranked planned with 2 threads runs its sequences
 *     concurrently; one planned with 1 thread runs them serially; a whole pass with mixed
 *     per-sequence ranks (full and low-rank) and the teacher gives bit-identical outputs,
 *     logits and FLOPs on both. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/bert.h"
#include "model/ranked.h"
#include "model/ranked_calib.h"
#include "tests/check.h"

#ifdef _OPENMP
#include <omp.h>
#endif

enum { B = 5, N = 13, CALIB_ROWS = 40 };
static const BertConfig cfg = {.vocab = 50, .max_pos = 16, .type_vocab = 2, .d_model = 32,
                               .n_heads = 4, .d_ff = 64, .n_layers = 2, .n_classes = 2,
                               .ln_eps = 1e-12f, .dropout = 0.1f, .attn_dropout = 0.1f};
static const int grid[] = {1, 2, 4};
static int32_t ids[B * N];
static uint8_t mask[B * N];
static float side[B * N * 32], full[B * N * 32], x0[B * N * 32];

static void die_if(Status s, const Err *e) {
    if (s) {
        fprintf(stderr, "test_ranked_attend: fatal: %s\n", e->msg);
        exit(1);
    }
}

static void make_model(Bert *m, Err *e) {
    die_if(bert_init(m, &cfg, 1, 1, 0, e), e);
    Rng r;
    rng_init(&r, 21, 1);
    bert_init_weights(m, &r);
    for (int l = 0; l < cfg.n_layers; l++) {
        MhsaParams *p = &m->p.layer[l].attn;
        float *w[2] = {p->wq, p->wk};
        for (int t = 0; t < 2; t++)
            for (int i = 0; i < cfg.d_model * cfg.d_model; i++)
                w[t][i] = (float)(rng_normal(&r) * 0.3);
    }
}

static EncodedSet make_set(Err *e) {
    EncodedSet s;
    die_if(encoded_alloc(&s, CALIB_ROWS, N, e), e);
    memset(s.ids, 0, sizeof(int32_t) * (size_t)CALIB_ROWS * N);
    Rng r;
    rng_init(&r, 4, 2);
    for (int i = 0; i < s.n; i++) {
        s.len[i] = 3 + (int)rng_below(&r, N - 2);
        for (int n = 0; n < s.len[i]; n++)
            s.ids[(size_t)i * N + n] = n == 0 ? 1 : 2 + (int)rng_below(&r, cfg.vocab - 2);
        s.n_tokens += s.len[i];
    }
    return s;
}

static void make_batch(void) {
    Rng r;
    rng_init(&r, 9, 3);
    for (int b = 0; b < B; b++) {
        const int len = b == 0 ? N : 3 + (int)rng_below(&r, N - 2);
        for (int n = 0; n < N; n++) {
            ids[b * N + n] = n >= len ? 0 : n == 0 ? 1 : 2 + (int)rng_below(&r, cfg.vocab - 2);
            mask[b * N + n] = n < len;
        }
    }
}

static int flops_equal(const AttnFlops *a, const AttnFlops *b) {
    return attn_flops_total(a) == attn_flops_total(b) && a->proj == b->proj &&
           a->scores == b->scores && a->values == b->values && a->out == b->out;
}

/* relative Frobenius distance of a from b */
static double rel_fro(const float *a, const float *b, size_t n) {
    double d = 0, t = 0;
    for (size_t i = 0; i < n; i++) {
        const double q = (double)a[i] - b[i];
        d += q * q, t += (double)b[i] * b[i];
    }
    return sqrt(d / t);
}

/* one layer: the side computation at rank, then ranked_layer_each at the same rank */
static void check_layer(Ranked *R, int rank, Err *e) {
    const size_t BNC = (size_t)B * N * R->C;
    const int l = R->layer;
    AttnFlops fs[B], fl[B];
    for (size_t i = 0; i < BNC; i++) side[i] = NAN;
    memcpy(x0, R->x, sizeof(float) * BNC);
    const int64_t before = attn_flops_total(&R->attn_fl[l]);
    die_if(ranked_attend_each(R, RANK_WHITENED, rank, side, fs, NULL, e), e);
    CHECK(R->layer == l && memcmp(x0, R->x, sizeof(float) * BNC) == 0 &&
              attn_flops_total(&R->attn_fl[l]) == before,
          "layer %d rank %d: the pass changed", l, rank);
    for (int b = 0; b < B; b++) {
        const int n = ranked_seq_len(R, b);
        int zero = 1;
        for (size_t i = ((size_t)b * N + n) * R->C; i < (size_t)(b + 1) * N * R->C; i++)
            zero &= side[i] == 0.0f;
        CHECK(zero, "layer %d rank %d sequence %d: padded rows not 0", l, rank, b);
    }
    int rk[B];
    for (int b = 0; b < B; b++) rk[b] = rank;
    die_if(ranked_layer_each(R, RANK_WHITENED, 0, rk, fl, NULL, e), e);
    CHECK(memcmp(side, R->att, sizeof(float) * BNC) == 0,
          "layer %d rank %d: side output differs from ranked_layer_each's", l, rank);
    for (int b = 0; b < B; b++)
        CHECK(flops_equal(&fs[b], &fl[b]), "layer %d rank %d sequence %d: FLOPs %lld vs %lld", l,
              rank, b, (long long)attn_flops_total(&fs[b]), (long long)attn_flops_total(&fl[b]));
}

/* R (planned with the test's threads) against a Ranked planned on 1 thread (no lanes) */
static void lanes_vs_serial(Ranked *R, const EncodedSet *set, const RankedOptions *o,
                            const Bert *m, Err *e) {
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
    if (threads < 2) {
        printf("lanes: 1 thread, nothing to compare\n");
        return;
    }
    omp_set_num_threads(1);
    static Ranked S;
    die_if(ranked_init(&S, m, o, e), e);
    omp_set_num_threads(threads);
    RankedCalib cal = {.rows = CALIB_ROWS, .batch = 8, .ridge = ATTN_RIDGE_DEFAULT};
    RankedCalibInfo info;
    die_if(ranked_calibrate(&S, set, &cal, &info, e), e);
    CHECK(R->nt >= 2 && S.nt == 0, "lanes: %d and %d", R->nt, S.nt);
    int rk[B]; /* per sequence: full, 1, 4, full, 2 */
    const int pick[B] = {RANKED_FULL, 1, 4, RANKED_FULL, 2};
    for (int b = 0; b < B; b++) rk[b] = pick[b];
    Ranked *P[2] = {R, &S};
    static float att[2][B * N * 32], teach[2][B * N * 32];
    AttnFlops fl[2][B];
    for (int i = 0; i < 2; i++) {
        die_if(ranked_begin(P[i], ids, NULL, mask, B, N, e), e);
        for (int l = 0; l < cfg.n_layers; l++) {
            die_if(ranked_teacher_each(P[i], NULL, NULL, e), e);
            memcpy(teach[i], P[i]->teacher, sizeof teach[i]);
            die_if(ranked_layer_each(P[i], RANK_WHITENED, 0, rk, fl[i], NULL, e), e);
            memcpy(att[i], P[i]->att, sizeof att[i]);
        }
        die_if(ranked_end(P[i], e), e);
    }
    CHECK(memcmp(att[0], att[1], sizeof att[0]) == 0, "lanes: attention outputs differ");
    CHECK(memcmp(teach[0], teach[1], sizeof teach[0]) == 0, "lanes: teacher outputs differ");
    CHECK(memcmp(R->logits, S.logits, sizeof(float) * B * cfg.n_classes) == 0,
          "lanes: logits differ");
    for (int b = 0; b < B; b++) CHECK(flops_equal(&fl[0][b], &fl[1][b]), "lanes: flops of %d", b);
    CHECK(flops_equal(&R->teacher_fl, &S.teacher_fl), "lanes: teacher flops");
    ranked_free(&S);
#else
    (void)R, (void)set, (void)o, (void)m, (void)e;
#endif
}

int main(void) {
    Err e;
    err_clear(&e);
    static Bert m;
    make_model(&m, &e);
    make_batch();
    static Ranked R;
    RankedOptions o = {.max_B = B, .max_N = N, .ranks = grid, .n_ranks = 3};
    die_if(ranked_init(&R, &m, &o, &e), &e);
    EncodedSet set = make_set(&e);
    RankedCalib cal = {.rows = CALIB_ROWS, .batch = 8, .ridge = ATTN_RIDGE_DEFAULT};
    RankedCalibInfo info;
    die_if(ranked_calibrate(&R, &set, &cal, &info, &e), &e);
    const int ranks[] = {1, 2, 4, 8, RANKED_FULL};
    for (int k = 0; k < 5; k++) {
        die_if(ranked_begin(&R, ids, NULL, mask, B, N, &e), &e);
        for (int l = 0; l < cfg.n_layers; l++) {
            if (ranks[k] == 8) { /* rank dh against the exact kernel on the same input */
                die_if(ranked_attend_each(&R, RANK_WHITENED, RANKED_FULL, full, NULL, NULL, &e),
                       &e);
                die_if(ranked_attend_each(&R, RANK_WHITENED, 8, side, NULL, NULL, &e), &e);
                const double d = rel_fro(side, full, (size_t)B * N * R.C);
                CHECK(d < 1e-5, "layer %d: rank dh vs exact: relative error %g", l, d);
            }
            check_layer(&R, ranks[k], &e);
        }
    }
    CHECK(ranked_attend_each(&R, RANK_WHITENED, 2, side, NULL, NULL, &e) == ST_INVALID &&
              strstr(e.msg, "already ran"), "no layer left: %s", e.msg);
    die_if(ranked_begin(&R, ids, NULL, mask, B, N, &e), &e);
    CHECK(ranked_attend_each(&R, RANK_WHITENED, 2, R.x, NULL, NULL, &e) == ST_INVALID &&
              strstr(e.msg, "must not be"), "out = x: %s", e.msg);
    CHECK(ranked_attend_each(&R, RANK_EXACT, 2, side, NULL, NULL, &e) == ST_INVALID &&
              strstr(e.msg, "expected plain or whitened"), "exact kind: %s", e.msg);
    lanes_vs_serial(&R, &set, &o, &m, &e);
    encoded_free(&set);
    ranked_free(&R);
    bert_free(&m);
    return check_exit("test_ranked_attend");
}
