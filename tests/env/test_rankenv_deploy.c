/* test_rankenv_deploy.c: the rank environment's deployment pass (rankenv_deploy_begin/step)
 * against its training episodes, and the guard denominators:
 *   - for the three guards (output, input, none), both bounds (tight, cheap) and segments
 *     (T = 0, 6), head and probe features:
 *     the deployment pass on the same tokens observes exactly what the episode observed at
 *     every layer (observation, token and action masks bit for bit), runs the same ranks,
 *     and ends with the same logits bit for bit;
 *   - its counted decision FLOPs equal closed forms: bounds L bound_flops(...), features
 *     the sum of rankenv_feature_flops over the layers (counts of real rows and segments
 *     taken from the set, not from the environment), teacher 0 for guard input and the
 *     exact kernel's attn_exact_flops per sequence for guard output;
 *   - guard input: the relative bound rho = fro / ||X~||_F is never below the measured error
 *     in the same units, ||A - T||_F / ||X~||_F, with ||X~||_F recomputed here from the
 *     layer input (the last layer of random episodes; the environment's violation count
 *     stays 0 over all of them). */
#include "tests/env/rankenv_fixture.h"

#include "attention/exact.h"
#include "attention/lowrank.h"

static int count_segs(int n, int T) { return ranked_segments(n, T); }

/* one episode (random allowed actions) and the deployment pass over the same rows */
static void compare(RankKind kind, RankEnvGuard guard, BoundKind bk, int T, int head,
                    int probe, uint64_t seed, Err *e) {
    RankEnv E;
    RankEnvConfig c;
    config(&c, kind, T, EPS);
    c.guard = guard, c.bound = bk, c.head_features = head, c.probe_features = probe > 0;
    c.probe_layers = probe == 2 ? 1 : 0; /* 2: layer 0 only */
    c.max_segments = T ? SMAX : 0;
    die_if(rankenv_init(&E, &R, &set, &lt, &c, e), e);
    Rng r;
    rng_init(&r, seed, 3);
    static Episode ep;
    const int32_t rows[5] = {0, 7, 12, 3, 29}; /* row 0 has NMAX tokens */
    const int n = 5;
    run(&E, 0, rows, n, &r, &ep, NULL, e);
    float zenv[B * K];
    memcpy(zenv, R.logits, sizeof(float) * n * K);
    const RankEnvDims *d = &E.dims;
    const int NT = d->n_tokens, S = d->n_heads;
    static int32_t ids[B * NMAX];
    static uint8_t mask[B * NMAX];
    const int N = encoded_max_len(&set, rows, n);
    encoded_gather(&set, rows, n, N, ids, mask, NULL);
    static float obs[B * (4 + SMAX) * TD];
    uint8_t tm[B * (4 + SMAX)], am[B * SMAX * A];
    die_if(rankenv_deploy_begin(&E, ids, mask, n, N, obs, tm, am, e), e);
    const char *what = guard == RANKENV_GUARD_INPUT  ? "input"
                       : guard == RANKENV_GUARD_NONE ? "none"
                                                     : "output";
    for (int l = 0; l < L; l++) {
        CHECK(!memcmp(obs, ep.obs[l], sizeof(float) * B * NT * TD),
              "guard %s bound %d T %d layer %d: observation differs from the episode's", what,
              (int)bk, T, l);
        CHECK(!memcmp(tm, ep.tmask[l], (size_t)B * NT), "layer %d token mask", l);
        CHECK(!memcmp(am, ep.amask[l], (size_t)B * S * A), "layer %d action mask", l);
        int done = 0;
        die_if(rankenv_deploy_step(&E, ep.act[l], obs, tm, am, &done, e), e);
        CHECK(done == (l == L - 1), "done after layer %d", l);
    }
    CHECK(!memcmp(zenv, R.logits, sizeof(float) * n * K),
          "guard %s bound %d T %d: deployed logits differ from the episode's", what, (int)bk, T);
    /* counted decision FLOPs against closed forms (L observations: layers 0..L-1) */
    int64_t rows_real = 0, segs = 0;
    for (int b = 0; b < n; b++) {
        const int len = set.len[rows[b]];
        rows_real += len, segs += count_segs(len, T);
    }
    const int in = guard == RANKENV_GUARD_INPUT, teach = guard == RANKENV_GUARD_OUTPUT;
    const int none = guard == RANKENV_GUARD_NONE, Gb = none ? 0 : G;
    int64_t ff = L * rankenv_feature_flops(n, N, rows_real, segs, Gb, C, teach, in, head, K);
    const int probed = probe == 2 ? 1 : L; /* layers that ran the probe */
    for (int b = 0; b < n && probe; b++) { /* the two probes, each sequence alone */
        const int len = set.len[rows[b]];
        for (int g = 0; g < 2; g++) {
            const AttnFlops f = attn_lowrank_flops(1, len, C, H, len, &grid[g]);
            ff += probed * attn_flops_total(&f);
        }
        ff += probed * ((int64_t)len * 4 * C + 2 * count_segs(len, T));
    }
    CHECK(E.cost.feature_fl == ff, "guard %s: feature FLOPs %lld, closed form %lld", what,
          (long long)E.cost.feature_fl, (long long)ff);
    const int64_t bf = none ? 0 : L * bound_flops(bk, n, N, C, H, G);
    CHECK(E.cost.bound_fl == bf, "guard %s: bound FLOPs %lld vs %lld", what,
          (long long)E.cost.bound_fl, (long long)bf);
    int64_t tf = 0; /* guard output: each sequence's exact attention, alone, every layer */
    for (int b = 0; b < n && teach; b++) {
        const AttnFlops f = attn_exact_flops(1, set.len[rows[b]], C, H);
        tf += L * attn_flops_total(&f);
    }
    CHECK(E.cost.teacher_fl == tf, "teacher FLOPs %lld, closed form %lld",
          (long long)E.cost.teacher_fl, (long long)tf);
    CHECK(E.cost.teacher_sec >= 0 && (none || E.cost.bound_sec > 0) && E.cost.feature_sec > 0,
          "decision seconds measured");
    if (none) { /* nothing masked, no bound, no violation */
        for (int l = 0; l < L; l++)
            for (int h = 0; h < B * S; h++) { /* a head: all allowed, or inactive (full only) */
                int low = 0;
                for (int a = 0; a < G; a++) low += ep.amask[l][h * A + a];
                CHECK((low == G || low == 0) && ep.amask[l][h * A + G], "guard none: head %d "
                      "of layer %d has %d of %d low ranks allowed", h, l, low, G);
            }
        CHECK(E.violations == 0, "guard none: no violations");
    }
    rankenv_free(&E);
}

/* head features: the frozen head on each layer's CLS row, recomputed here in double from the
   model's weights at layer 0 (its input is the embedding LayerNorm, taken from the Ranked) */
static void head_features(Err *e) {
    RankEnv E;
    RankEnvConfig c;
    config(&c, RANK_WHITENED, 0, EPS);
    c.head_features = 1;
    die_if(rankenv_init(&E, &R, &set, &lt, &c, e), e);
    static float obs[B * (4 + SMAX) * TD];
    uint8_t tm[B * (4 + SMAX)], am[B * SMAX * A];
    const int32_t rows[3] = {0, 5, 9};
    die_if(rankenv_reset_rows(&E, rows, 3, obs, tm, am, e), e);
    const int NT = E.dims.n_tokens, N = E.N;
    const float *x = ranked_input(&R);
    const BertParams *p = &m.p;
    for (int b = 0; b < 3; b++) {
        double pre[C], z[K];
        for (int o = 0; o < C; o++) { /* weights (out, in) */
            double a = p->pool_b[o];
            for (int i = 0; i < C; i++)
                a += (double)p->pool_w[o * C + i] * x[(size_t)b * N * C + i];
            pre[o] = tanh(a);
        }
        for (int k = 0; k < K; k++) {
            double a = p->cls_b[k];
            for (int i = 0; i < C; i++) a += (double)p->cls_w[k * C + i] * pre[i];
            z[k] = a;
        }
        const double hi = fmax(z[0], z[1]), lo = fmin(z[0], z[1]);
        const double q = 1 / (1 + exp(lo - hi)), ent = -(q * log(q) + (1 - q) * log(1 - q));
        const float *ts = obs + ((size_t)b * NT + 3) * TD;
        CHECK_CLOSE(ts[9], log1p(hi - lo), 1e-4, 1e-5, "margin feature");
        CHECK_CLOSE(ts[10], ent / log(2.0), 1e-4, 1e-5, "entropy feature");
        CHECK_CLOSE(ts[11], 1 - q, 1e-4, 1e-5, "1 - top probability");
    }
    rankenv_free(&E);
}

/* guard input: the bound in input units never below the measured error, recomputed here */
static void guard_input_holds(BoundKind bk, Err *e) {
    RankEnv E;
    RankEnvConfig c;
    config(&c, RANK_WHITENED, 0, 1e12); /* nothing masked: every rank gets tried */
    c.guard = RANKENV_GUARD_INPUT, c.bound = bk;
    die_if(rankenv_init(&E, &R, &set, &lt, &c, e), e);
    Rng r;
    rng_init(&r, 99, 5);
    static float obs[B * (4 + SMAX) * TD], info[B * NI], rew[B];
    uint8_t tm[B * (4 + SMAX)], am[B * SMAX * A], done[B];
    int32_t act[B * SMAX];
    int checked = 0, worst_ok = 1;
    double worst = 0;
    static float xin[B * NMAX * C];
    for (int episode = 0; episode < 40; episode++) {
        die_if(rankenv_reset(&E, obs, tm, am, e), e);
        for (int l = 0; l < L; l++) {
            for (int h = 0; h < B * E.dims.n_heads; h++)
                act[h] = (int)rng_below(&r, G); /* always a low rank */
            const int N = E.N;
            memcpy(xin, ranked_input(&R), sizeof(float) * B * N * C);
            die_if(rankenv_step(&E, act, obs, tm, am, rew, done, info, e), e);
            if (l != L - 1) continue; /* R.att / R.teacher: this layer's until the next step */
            for (int b = 0; b < B; b++) {
                double xx = 0, dd = 0;
                for (int i = 0; i < N; i++) {
                    if (!E.mask[b * N + i]) continue;
                    for (int k = 0; k < C; k++) {
                        const size_t t = ((size_t)b * N + i) * C + k;
                        xx += (double)xin[t] * xin[t];
                        const double df = (double)R.att[t] - R.teacher[t];
                        dd += df * df;
                    }
                    xx += 1; /* the appended constant of x~ */
                }
                const double measured = sqrt(dd) / sqrt(xx);
                const double bound = info[b * NI + RANKENV_I_BOUND];
                worst_ok &= measured <= bound * (1 + 1e-5) + 1e-6;
                worst = fmax(worst, measured / bound);
                checked++;
            }
        }
    }
    CHECK(worst_ok, "bound %d: measured error / bound up to %.4g (must be <= 1)", (int)bk, worst);
    CHECK(E.violations == 0, "bound %d: %lld violations", (int)bk, (long long)E.violations);
    CHECK(checked == 40 * B, "checked %d sequences", checked);
    printf("guard input, bound %s: %d sequences, measured / bound at most %.3g\n",
           bk == BOUND_TIGHT ? "tight" : "cheap", checked, worst);
    rankenv_free(&E);
}

int main(void) {
    Err e = {0};
    setup(&e);
    const RankEnvGuard gs[3] = {RANKENV_GUARD_OUTPUT, RANKENV_GUARD_INPUT, RANKENV_GUARD_NONE};
    const BoundKind bs[2] = {BOUND_TIGHT, BOUND_CHEAP};
    for (int g = 0; g < 3; g++)
        for (int k = 0; k < 2; k++)
            for (int T = 0; T <= 6; T += 6)
                compare(RANK_WHITENED, gs[g], bs[k], T, T > 0, k == 0,
                        7 + (uint64_t)(g * 4 + k * 2 + T), &e);
    compare(RANK_PLAIN, RANKENV_GUARD_INPUT, BOUND_TIGHT, 6, 1, 1, 77, &e);
    compare(RANK_WHITENED, RANKENV_GUARD_NONE, BOUND_TIGHT, 0, 1, 2, 78, &e);
    head_features(&e);
    guard_input_holds(BOUND_TIGHT, &e);
    guard_input_holds(BOUND_CHEAP, &e);
    /* deploy_step without a deployment pass, and rankenv_step during one, are errors */
    RankEnv E;
    RankEnvConfig c;
    config(&c, RANK_WHITENED, 0, EPS);
    die_if(rankenv_init(&E, &R, &set, &lt, &c, &e), &e);
    static float obs[B * (4 + SMAX) * TD], info[B * NI], rew[B];
    uint8_t tm[B * (4 + SMAX)], am[B * SMAX * A], done[B];
    int32_t act[B * SMAX] = {0}, ids[NMAX] = {1, 5, 6};
    uint8_t mask[NMAX] = {1, 1, 1};
    int dn;
    CHECK(rankenv_deploy_step(&E, act, obs, tm, am, &dn, &e) == ST_INVALID, "step before begin");
    CHECK(rankenv_deploy_begin(&E, ids, mask, 1, NMAX + 1, obs, tm, am, &e) == ST_INVALID,
          "N past the set's max_len: %s", e.msg);
    die_if(rankenv_deploy_begin(&E, ids, mask, 1, 3, obs, tm, am, &e), &e);
    for (int h = 0; h < B; h++) act[h] = G;
    CHECK(rankenv_step(&E, act, obs, tm, am, rew, done, info, &e) == ST_INVALID,
          "rankenv_step during a deployment pass");
    rankenv_free(&E);
    return check_exit("test_rankenv_deploy");
}
