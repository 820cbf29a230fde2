/* test_rankenv_state.c: per-sequence ranks of the ranked forward (ranked_layer_each) and
 * the rank environment's determinism, saved state, live latency and errors, on
 * rankenv_fixture.h's small model. Checks:
 *   - ranked_layer_each with every sequence at rank r equals ranked_layer at r on the real
 *     rows to float rounding (not bitwise: other GEMM shapes), full equals RANK_EXACT, and
 *     mixed per-sequence, per-segment ranks equal each sequence run alone (B = 1) through
 *     ranked_layer (the attention bit for bit); per-sequence FLOPs equal the kernels'
 *     closed forms on each sequence's rows;
 *   - observations, masks and batches deterministic for a seed; save / load continues the
 *     same batch sequence across an epoch; a mismatched config is refused naming the field;
 *   - live latency ratios finite and positive; config and action errors. */
#include "tests/env/rankenv_fixture.h"

#include "core/store.h"

static double max_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static int flops_eq(const AttnFlops *a, const AttnFlops *b) {
    return !memcmp(a, b, sizeof *a);
}

/* a batch of B set rows cut to their longest: ids, mask; returns N */
static int batch(const int32_t *rows, int32_t *ids, uint8_t *mask) {
    int N = encoded_max_len(&set, rows, B);
    encoded_gather(&set, rows, B, N, ids, mask, NULL);
    return N;
}

/* one sequence alone (B = 1, its n real rows) through ranked_layer at segment ranks seg
   (<= 0: full) on layer 0; att and output rows into att1, x1 */
static void alone(RankKind kind, const int32_t *ids, int n, int T, const int *seg, float *att1,
                  float *x1, Err *e) {
    uint8_t ones[NMAX];
    memset(ones, 1, sizeof ones);
    int full = 1, s2[SMAX * 4];
    const int S = ranked_segments(n, T);
    for (int s = 0; s < S; s++)
        full &= seg[s] <= 0, s2[s] = seg[s] <= 0 ? DH : seg[s];
    RankSpec sp = full ? rank_spec(RANK_EXACT, 0) : (RankSpec){kind, 0, T > 0 ? T : n, s2, NULL};
    die_if(ranked_begin(&R, ids, NULL, ones, 1, n, e), e);
    die_if(ranked_layer(&R, &sp, e), e);
    memcpy(att1, R.att, sizeof(float) * n * C);
    memcpy(x1, R.x, sizeof(float) * n * C);
}

static void test_each(RankKind kind, Err *e) {
    const int32_t rows[B] = {0, 3, 7, 11, 19, 23};
    int32_t ids[B * NMAX];
    uint8_t mask[B * NMAX];
    const int N = batch(rows, ids, mask);
    static float att[B * NMAX * C], x[B * NMAX * C], a1[NMAX * C], x1[NMAX * C];
    const size_t MC = (size_t)B * N * C;
    /* the same rank everywhere vs ranked_layer (T = 0); 0 = full vs exact */
    const int rr[4] = {1, 2, 4, RANKED_FULL};
    double worst_a = 0, worst_x = 0;
    for (int k = 0; k < 4; k++) {
        int rk[B];
        for (int b = 0; b < B; b++)
            rk[b] = rr[k];
        RankSpec sp = rr[k] ? rank_spec(kind, rr[k]) : rank_spec(RANK_EXACT, 0);
        die_if(ranked_begin(&R, ids, NULL, mask, B, N, e), e);
        die_if(ranked_layer(&R, &sp, e), e);
        memcpy(att, R.att, sizeof(float) * MC), memcpy(x, R.x, sizeof(float) * MC);
        die_if(ranked_begin(&R, ids, NULL, mask, B, N, e), e);
        die_if(ranked_layer_each(&R, kind, 0, rk, NULL, NULL, e), e);
        for (int b = 0; b < B; b++) {
            const size_t o = (size_t)b * N * C, nr = (size_t)set.len[rows[b]] * C;
            worst_a = fmax(worst_a, max_diff(R.att + o, att + o, nr));
            worst_x = fmax(worst_x, max_diff(R.x + o, x + o, nr));
        }
    }
    printf("%s: each at one rank vs ranked_layer: max |d att| %.3g, max |d out| %.3g (real "
           "rows)\n",
           rank_kind_name(kind), worst_a, worst_x);
    /* not bitwise (the GEMMs and the key loop see other shapes): float rounding only */
    CHECK(worst_a <= 4e-6 && worst_x <= 4e-6, "each vs batched: %g %g", worst_a, worst_x);
    /* mixed ranks, T = 5, vs each sequence alone; FLOPs per sequence */
    const int T = 5, S = ranked_segments(N, T);
    int rk[B * SMAX];
    Rng r;
    rng_init(&r, 5, 9);
    for (int i = 0; i < B * S; i++)
        rk[i] = (int)rng_below(&r, 5) == 4 ? RANKED_FULL : grid[rng_below(&r, G)];
    for (int s = 0; s < S; s++)
        rk[2 * S + s] = RANKED_FULL; /* one sequence all full */
    AttnFlops fl[B];
    double sec[B];
    die_if(ranked_begin(&R, ids, NULL, mask, B, N, e), e);
    die_if(ranked_layer_each(&R, kind, T, rk, fl, sec, e), e);
    memcpy(att, R.att, sizeof(float) * MC), memcpy(x, R.x, sizeof(float) * MC);
    worst_a = worst_x = 0;
    int fl_ok = 1, bitwise = 1;
    for (int b = 0; b < B; b++) {
        const int n = set.len[rows[b]], Sb = ranked_segments(n, T);
        alone(kind, ids + b * N, n, T, rk + b * S, a1, x1, e);
        const size_t o = (size_t)b * N * C;
        worst_a = fmax(worst_a, max_diff(att + o, a1, (size_t)n * C));
        worst_x = fmax(worst_x, max_diff(x + o, x1, (size_t)n * C));
        bitwise &= !memcmp(att + o, a1, sizeof(float) * n * C);
        int s2[SMAX], full = 1;
        for (int s = 0; s < Sb; s++)
            full &= rk[b * S + s] <= 0, s2[s] = rk[b * S + s] <= 0 ? DH : rk[b * S + s];
        AttnFlops want =
            full ? attn_exact_flops(1, n, C, H) : attn_lowrank_flops(1, n, C, H, T, s2);
        fl_ok &= flops_eq(&fl[b], &want) && sec[b] > 0;
    }
    printf("%s: each with mixed segment ranks vs each sequence alone: max |d att| %.3g "
           "(bitwise %s), max |d out| %.3g\n",
           rank_kind_name(kind), worst_a, bitwise ? "yes" : "no", worst_x);
    /* the attention call is the same call (B = 1, n rows): bitwise; the rest of the layer
       runs batched: float rounding */
    CHECK(bitwise && worst_x <= 2e-6, "each vs alone: %g %g", worst_a, worst_x);
    CHECK(fl_ok, "per-sequence FLOPs equal the closed forms, times > 0");
}

/* observations deterministic for a seed; save / load continues the same batch sequence */
static void test_state(const char *dir, Err *e) {
    static RankEnv E1, E2;
    static Episode ep1, ep2;
    static float o1[B * 5 * TD], o2[B * 5 * TD];
    RankEnvConfig c;
    config(&c, RANK_WHITENED, 0, EPS);
    die_if(rankenv_init(&E1, &R, &set, &lt, &c, e), e);
    die_if(rankenv_init(&E2, &R, &set, &lt, &c, e), e);
    Rng r1, r2;
    rng_init(&r1, 8, 0), rng_init(&r2, 8, 0);
    int same = 1;
    for (int it = 0; it < 3; it++) {
        run(&E1, 0, NULL, 0, &r1, &ep1, o1, e);
        run(&E2, 0, NULL, 0, &r2, &ep2, o2, e);
        same &= !memcmp(o1, o2, sizeof o1) && !memcmp(ep1.rows, ep2.rows, sizeof ep1.rows) &&
                !memcmp(ep1.amask, ep2.amask, sizeof ep1.amask) &&
                !memcmp(ep1.act, ep2.act, sizeof ep1.act);
    }
    CHECK(same, "two environments of one seed: identical observations, masks and batches");
    char path[512];
    snprintf(path, sizeof path, "%s/env.h5", dir);
    Store *st;
    die_if(store_create(&st, path, "drrl-test", 1, e), e);
    die_if(rankenv_save(&E1, st, "/env", e), e);
    die_if(store_commit(st, e), e);
    int32_t rows[9][B];
    for (int it = 0; it < 9; it++) { /* crosses an epoch: 6 full batches of 40 rows */
        run(&E1, 0, NULL, 0, &r1, &ep1, o1, e);
        memcpy(rows[it], ep1.rows, sizeof ep1.rows);
    }
    rankenv_free(&E2);
    die_if(rankenv_init(&E2, &R, &set, &lt, &c, e), e);
    die_if(store_open(&st, path, "drrl-test", 1, 1, e), e);
    die_if(rankenv_load(&E2, st, "/env", e), e);
    int ok = 1;
    for (int it = 0; it < 9; it++) {
        run(&E2, 0, NULL, 0, &r2, &ep2, o2, e);
        ok &= !memcmp(rows[it], ep2.rows, sizeof ep2.rows);
    }
    CHECK(ok && E1.epoch == E2.epoch && E1.episodes == E2.episodes,
          "after load: the same batches (epochs %lld, %lld)", (long long)E1.epoch,
          (long long)E2.epoch);
    rankenv_free(&E2);
    c.batch = 5; /* another config: refused, naming the field */
    die_if(rankenv_init(&E2, &R, &set, &lt, &c, e), e);
    Status s = rankenv_load(&E2, st, "/env", e);
    CHECK(s == ST_SHAPE && strstr(e->msg, "n_envs") && strstr(e->msg, "has 6"), "mismatch: %s",
          e->msg);
    store_close(st);
    rankenv_free(&E2);
    rankenv_free(&E1);
    remove(path);
}

/* live latency; config errors */
static void test_live_and_errors(Err *e) {
    static RankEnv E;
    static Episode ep;
    RankEnvConfig c;
    config(&c, RANK_PLAIN, 5, EPS);
    c.latency = RANKENV_LAT_LIVE;
    die_if(rankenv_init(&E, &R, &set, NULL, &c, e), e);
    Rng r;
    rng_init(&r, 1, 1);
    run(&E, 0, NULL, 0, &r, &ep, NULL, e);
    int ok = 1;
    for (int l = 0; l < L; l++)
        for (int b = 0; b < B; b++) {
            const double v = ep.info[l][b * NI + RANKENV_I_LAT];
            ok &= isfinite(v) && v > 0;
        }
    CHECK(ok, "live latency ratios finite and positive");
    rankenv_free(&E);
    c.latency = RANKENV_LAT_TABLE;
    CHECK(rankenv_init(&E, &R, &set, NULL, &c, e) == ST_INVALID && strstr(e->msg, "table"),
          "table mode without a table: %s", e->msg);
    c.ranks[2] = DH;
    CHECK(rankenv_init(&E, &R, &set, &lt, &c, e) == ST_INVALID && strstr(e->msg, "ranks[2]"),
          "rank dh in the grid: %s", e->msg);
    config(&c, RANK_PLAIN, 5, EPS);
    c.max_segments = 3;
    CHECK(rankenv_init(&E, &R, &set, &lt, &c, e) == ST_INVALID && strstr(e->msg, "max_segments"),
          "too few segments: %s", e->msg);
    uint8_t tm[B * 8], am[B * 8 * A];
    static float obs[B * 8 * TD];
    config(&c, RANK_PLAIN, 0, EPS);
    die_if(rankenv_init(&E, &R, &set, &lt, &c, e), e);
    int32_t act[B] = {0}, rows[1] = {0};
    float rew[B], info[B * NI];
    uint8_t done[B];
    CHECK(rankenv_step(&E, act, obs, tm, am, rew, done, info, e) == ST_INVALID,
          "step before reset");
    die_if(rankenv_reset_rows(&E, rows, 1, obs, tm, am, e), e);
    act[0] = A;
    CHECK(rankenv_step(&E, act, obs, tm, am, rew, done, info, e) == ST_INVALID &&
              strstr(e->msg, "action"),
          "action out of range: %s", e->msg);
    rankenv_free(&E);
}

int main(void) {
    Err e;
    err_clear(&e);
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/test_rankenv_state.XXXXXX");
    if (!mkdtemp(dir))
        return check_skip("test_rankenv_state", "cannot create a temporary directory");
    setup(&e);
    test_each(RANK_PLAIN, &e);
    test_each(RANK_WHITENED, &e);
    test_state(dir, &e);
    test_live_and_errors(&e);
    ranked_free(&R);
    bert_free(&m);
    free(set.ids), free(set.len);
    rmdir(dir);
    return check_exit("test_rankenv_state");
}
