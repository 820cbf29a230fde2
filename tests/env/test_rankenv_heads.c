/* test_rankenv_heads.c: per-head ranks (RankEnvConfig.per_head, ranked_layer_each_heads,
 * BoundOut.row_head) on rankenv_fixture.h's small model (H = 4, dh = 8, grid {1, 2, 4}):
 *   - ranked_layer_each_heads: each sequence's counted FLOPs equal attn_lowrank_flops_heads
 *     (1, n_b, C, H, T or n_b, its ranks) and the closed form written here; heads sharing
 *     each segment's rank reproduce ranked_layer_each bit for bit (attention and FLOPs);
 *   - per-head bounds: e_{i,h}(r) sums over heads to e_i(r) (to double rounding); each head's
 *     bound over a segment's rows is >= the change of its share of the output from rank dh to
 *     rank r computed here in double from the factors (share64), and >= the measured change
 *     of the layer output when only that head drops to rank r (the others at the full-rank
 *     factored path dh; float tolerance); summed over heads at a uniform rank it is >= the segment's bound and at
 *     most sqrt(H) times it (Minkowski / Cauchy-Schwarz on non-negative rows);
 *   - the environment: with guard none (no bounds), per-head actions copying a per-segment
 *     episode's actions give its rewards, info and KL bit for bit; with guard output and a
 *     guardrail that allows everything, the same except the bound terms, whose per-head
 *     combined rho_s is >= the segment's; random allowed per-head actions over many episodes
 *     give 0 violations, every allowed head rho <= epsilon / H and every segment's combined
 *     bound <= epsilon; the observation's counted feature FLOPs equal rankenv_feature_flops
 *     with G H for G; dims, tokens (head index feature 57) and refusals (per_head not 0 / 1,
 *     more head tokens than the policy's limit). */
#include "tests/env/rankenv_fixture.h"

enum { T5 = 5, S5 = (NMAX + T5 - 1) / T5, NA5 = S5 * H };

/* closed form of one sequence's per-head attention FLOPs (lowrank_heads.c's header) */
static int64_t closed_form(int n, int T, const int *hr) {
    const int ns = (n + T - 1) / T;
    int rm = 0;
    for (int k = 0; k < ns * H; k++) rm = hr[k] > rm ? hr[k] : rm;
    int64_t f = 2 * (2 * (int64_t)n * C * H * rm + (int64_t)n * H * rm) + (int64_t)n * C;
    for (int s = 0; s < ns; s++) {
        const int64_t ms = (s + 1) * T < n ? T : n - s * T;
        for (int h = 0; h < H; h++) {
            const int64_t r = hr[s * H + h];
            f += 2 * ms * C * r + ms * r + 4 * ms * n * r + 2 * ms * r * C;
            f += ms * ((int64_t)ATTN_SOFTMAX_FLOPS * n + (int64_t)ATTN_NORM_FLOPS * r);
        }
    }
    return f;
}

static void begin_rows(const int32_t *rows, int n, int32_t *ids, uint8_t *mk, int *N, Err *e) {
    *N = encoded_max_len(&set, rows, n);
    encoded_gather(&set, rows, n, *N, ids, mk, NULL);
    die_if(ranked_begin(&R, ids, NULL, mk, n, *N, e), e);
}

static void test_flops(Err *e) {
    static const int32_t rows[B] = {0, 3, 5, 8, 13, 21};
    static int32_t ids[B * NMAX], rk[B * NMAX * H], rs[B * NMAX];
    static uint8_t mk[B * NMAX];
    static float att[B * NMAX * C];
    Rng r;
    rng_init(&r, 5, 3);
    const int Ts[2] = {0, T5};
    for (int ti = 0; ti < 2; ti++) {
        const int T = Ts[ti];
        int N;
        begin_rows(rows, B, ids, mk, &N, e);
        const int S = ranked_segments(N, T);
        for (int k = 0; k < B * S * H; k++) {
            const int u = (int)rng_below(&r, G + 1);
            rk[k] = u < G ? grid[u] : RANKED_FULL;
        }
        rk[0] = grid[0], rk[1] = grid[2]; /* sequence 0's first segment: heads differ */
        AttnFlops fl[B];
        die_if(ranked_layer_each_heads(&R, RANK_WHITENED, T, rk, fl, NULL, e), e);
        for (int b = 0; b < B; b++) {
            const int n = ranked_seq_len(&R, b), Tb = T > 0 ? T : n;
            const int ns = ranked_segments(n, T);
            int hr[NMAX * H], full = 1, same = 1;
            for (int k = 0; k < ns * H; k++) {
                const int v = rk[(size_t)b * S * H + k];
                hr[k] = v <= 0 ? DH : v, full &= v <= 0, same &= hr[k] == hr[k / H * H];
            }
            if (full || same) continue; /* the exact kernel / the per-segment layer */
            const AttnFlops cf = attn_lowrank_flops_heads(1, n, C, H, Tb, hr, 0,
                                                          attn_variant_default());
            CHECK(attn_flops_total(&fl[b]) == attn_flops_total(&cf) &&
                      attn_flops_total(&cf) == closed_form(n, Tb, hr),
                  "T %d seq %d: counted FLOPs %lld, attn_lowrank_flops_heads %lld, closed form "
                  "%lld", T, b, (long long)attn_flops_total(&fl[b]),
                  (long long)attn_flops_total(&cf), (long long)closed_form(n, Tb, hr));
        }
        /* heads sharing each segment's rank: ranked_layer_each's pass bit for bit */
        for (int k = 0; k < B * S; k++) {
            const int u = (int)rng_below(&r, G + 1);
            rs[k] = u < G ? grid[u] : RANKED_FULL;
            for (int h = 0; h < H; h++) rk[(size_t)k * H + h] = rs[k];
        }
        AttnFlops f1[B], f2[B];
        begin_rows(rows, B, ids, mk, &N, e);
        die_if(ranked_layer_each(&R, RANK_WHITENED, T, rs, f1, NULL, e), e);
        memcpy(att, R.att, sizeof(float) * (size_t)B * N * C);
        begin_rows(rows, B, ids, mk, &N, e);
        die_if(ranked_layer_each_heads(&R, RANK_WHITENED, T, rk, f2, NULL, e), e);
        CHECK(!memcmp(att, R.att, sizeof(float) * (size_t)B * N * C),
              "T %d: shared head ranks differ from ranked_layer_each", T);
        for (int b = 0; b < B; b++)
            CHECK(attn_flops_total(&f1[b]) == attn_flops_total(&f2[b]), "T %d seq %d: FLOPs", T,
                  b);
    }
}

/* head h's share of the layer output in double from the whitened factors of layer 0 at rank
   r (bound.h: s_ij = x~_i A_qk x~_j B_qk^T / sqrt(dh), u_j = x~_j A_vo B_vo^T, o_i = sum_j
   softmax_j(s_ij) u_j over kept keys j), for the n rows x (n, C) of one sequence: o (n, C) */
static void share64(const float *x, const uint8_t *mk, int n, int h, int r, double *o) {
    const AttnFactors *f = &R.white[0];
    const size_t hs = (size_t)(C + 1) * DH;
    const float *aq = f->a + h * hs, *bk = f->b + h * hs, *av = f->c + h * hs;
    const float *dm = f->dm + (size_t)h * C * DH;
    static double q[NMAX][DH], k[NMAX][DH], u[NMAX][C], p[NMAX];
    for (int i = 0; i < n; i++) {
        double z[DH] = {0};
        for (int t = 0; t < r; t++) {
            q[i][t] = aq[(size_t)C * DH + t], k[i][t] = bk[(size_t)C * DH + t];
            z[t] = av[(size_t)C * DH + t]; /* the bias row (x~ = [x, 1]) */
            for (int c = 0; c < C; c++) {
                const double xc = x[(size_t)i * C + c];
                q[i][t] += xc * aq[(size_t)c * DH + t], k[i][t] += xc * bk[(size_t)c * DH + t];
                z[t] += xc * av[(size_t)c * DH + t];
            }
        }
        for (int c = 0; c < C; c++) {
            u[i][c] = 0;
            for (int t = 0; t < r; t++) u[i][c] += z[t] * dm[(size_t)c * DH + t];
        }
    }
    for (int i = 0; i < n; i++) {
        double mx = -INFINITY, z = 0;
        for (int j = 0; j < n; j++) {
            p[j] = -INFINITY;
            if (!mk[j]) continue;
            double sc = 0;
            for (int t = 0; t < r; t++) sc += q[i][t] * k[j][t];
            p[j] = sc / sqrt((double)DH), mx = fmax(mx, p[j]);
        }
        for (int j = 0; j < n; j++) p[j] = mk[j] ? exp(p[j] - mx) : 0, z += p[j];
        for (int c = 0; c < C; c++) {
            double v = 0;
            for (int j = 0; j < n; j++) v += p[j] * u[j][c];
            o[(size_t)i * C + c] = v / z;
        }
    }
}

/* every head's bound over each segment against its share's change in double (share64), kept
   in chg (B, H, G, S5) */
static int bounds64(const uint8_t *mk, int N, const double *hrow, double *chg) {
    static double o0[NMAX * C], o1[NMAX * C];
    int checked = 0;
    for (int b = 0; b < B; b++) {
        const int n = ranked_seq_len(&R, b);
        const float *x = R.ain + (size_t)b * N * C;
        for (int h = 0; h < H; h++) {
            share64(x, mk + (size_t)b * N, n, h, DH, o0);
            for (int g = 0; g < G; g++) {
                share64(x, mk + (size_t)b * N, n, h, grid[g], o1);
                for (int s = 0; s < ranked_segments(n, T5); s++) {
                    double dd = 0, ee = 0;
                    for (int i = s * T5; i < (s + 1) * T5 && i < n; i++) {
                        if (!mk[(size_t)b * N + i]) continue;
                        const double e2 = hrow[(((size_t)b * H + h) * G + g) * N + i];
                        ee += e2 * e2;
                        for (int c = 0; c < C; c++) {
                            const double d = o1[(size_t)i * C + c] - o0[(size_t)i * C + c];
                            dd += d * d;
                        }
                    }
                    CHECK(sqrt(dd) <= sqrt(ee) * (1 + 1e-9) + 1e-12,
                          "seq %d segment %d head %d rank %d: the share's change in double "
                          "%.9g above its bound %.9g", b, s, h, grid[g], sqrt(dd), sqrt(ee));
                    chg[(((size_t)b * H + h) * G + g) * S5 + s] = sqrt(dd), checked++;
                }
            }
        }
    }
    return checked;
}

/* per-head bounds against the summed bound and the measured per-head change of layer 0 */
static void test_bounds(Err *e) {
    static const int32_t rows[B] = {0, 1, 2, 3, 4, 5};
    static int32_t ids[B * NMAX], rk[B * NMAX * H];
    static uint8_t mk[B * NMAX];
    static double row[B * G * NMAX], hrow[B * H * G * NMAX];
    static float a0[B * NMAX * C];
    int N;
    begin_rows(rows, B, ids, mk, &N, e);
    BoundOut bo = {row, NULL, NULL, NULL, hrow};
    die_if(ranked_bound(&R, RANK_WHITENED, BOUND_TIGHT, grid, G, &bo, e), e);
    double worst = 0; /* largest sum_h e_ih / e_i - 1 */
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++)
            for (int i = 0; i < N; i++) {
                double s = 0;
                for (int h = 0; h < H; h++) s += hrow[(((size_t)b * H + h) * G + g) * N + i];
                const double v = row[((size_t)b * G + g) * N + i];
                worst = fmax(worst, fabs(s - v) / fmax(v, 1e-300));
            }
    CHECK(worst < 1e-12, "per-head bounds: sum over heads differs from e_i by %.3g", worst);
    static double chg[B * H * G * S5];
    const int n64 = bounds64(mk, N, hrow, chg);
    const int S = ranked_segments(N, T5);
    for (int k = 0; k < B * S * H; k++) rk[k] = DH; /* every head at the factored full path */
    die_if(ranked_layer_each_heads(&R, RANK_WHITENED, T5, rk, NULL, NULL, e), e);
    memcpy(a0, R.att, sizeof(float) * (size_t)B * N * C);
    int checked = 0;
    double tight = 0; /* largest measured / bound */
    for (int h = 0; h < H; h++)
        for (int g = 0; g < G; g++) {
            for (int k = 0; k < B * S * H; k++) rk[k] = k % H == h ? grid[g] : DH;
            begin_rows(rows, B, ids, mk, &N, e);
            die_if(ranked_layer_each_heads(&R, RANK_WHITENED, T5, rk, NULL, NULL, e), e);
            for (int b = 0; b < B; b++)
                for (int s = 0; s < ranked_segments(ranked_seq_len(&R, b), T5); s++) {
                    double dd = 0, ee = 0, yy = 0;
                    for (int i = s * T5; i < (s + 1) * T5 && i < N; i++) {
                        const size_t t = (size_t)b * N + i;
                        if (!mk[t]) continue;
                        const double e2 = hrow[(((size_t)b * H + h) * G + g) * N + i];
                        ee += e2 * e2;
                        for (int c = 0; c < C; c++) {
                            const double d = (double)R.att[t * C + c] - a0[t * C + c];
                            dd += d * d, yy += (double)a0[t * C + c] * a0[t * C + c];
                        }
                    }
                    const double ms = sqrt(dd), bnd = sqrt(ee);
                    CHECK(ms <= bnd * (1 + 1e-5) + 1e-5 * sqrt(yy) + 1e-6,
                          "seq %d segment %d head %d rank %d: measured change %.6g above its "
                          "bound %.6g", b, s, h, grid[g], ms, bnd);
                    tight = fmax(tight, bnd > 0 ? ms / bnd : 0), checked++;
                    /* the kernel's change and the double reference agree (float rounding) */
                    const double r64 = chg[(((size_t)b * H + h) * G + g) * S5 + s];
                    CHECK(fabs(ms - r64) <= 1e-4 * sqrt(yy) + 1e-6,
                          "seq %d segment %d head %d rank %d: kernel change %.6g, double %.6g", b,
                          s, h, grid[g], ms, r64);
                }
            begin_rows(rows, B, ids, mk, &N, e); /* back to layer 0 for the next */
        }
    CHECK(checked > 0 && tight > 1e-3, "per-head bounds: %d checked, tightest ratio %.3g",
          checked, tight);
    printf("per-head bounds: %d (sequence, segment, head, rank) checks against the double "
           "reference, %d against the kernel's passes, measured / bound up to %.3f\n", n64,
           checked, tight);
}

/* actions of the per-segment env (B, S) copied to every head of each segment (B, S H) */
static void copy_to_heads(const int32_t *seg, int32_t *hd) {
    for (int k = 0; k < B * S5; k++)
        for (int h = 0; h < H; h++) hd[(size_t)k * H + h] = seg[k];
}

static void test_env_copy(RankEnvGuard guard, Err *e) {
    static RankEnv Es, Eh;
    static float obs_s[B * (4 + S5) * TD], obs_h[B * (4 + NA5) * TD];
    static uint8_t tm_s[B * (4 + S5)], tm_h[B * (4 + NA5)], am_s[B * S5 * A], am_h[B * NA5 * A];
    static int32_t act_s[L][B * S5], act_h[B * NA5];
    static float rw_s[L][B], in_s[L][B * NI];
    RankEnvConfig c;
    config(&c, RANK_WHITENED, T5, guard == RANKENV_GUARD_NONE ? EPS : 1e30);
    c.guard = guard;
    die_if(rankenv_init(&Es, &R, &set, &lt, &c, e), e);
    c.per_head = 1;
    die_if(rankenv_init(&Eh, &R, &set, &lt, &c, e), e);
    CHECK(Eh.dims.n_heads == NA5 && Eh.dims.n_tokens == 4 + NA5 && Es.dims.n_heads == S5,
          "dims: per head %d heads %d tokens, per segment %d heads", Eh.dims.n_heads,
          Eh.dims.n_tokens, Es.dims.n_heads);
    Rng r;
    rng_init(&r, 9, guard);
    int diff = 0, bound_lt = 0, steps = 0;
    double ratio = 0; /* largest combined per-head bound / segment bound */
    uint8_t dn[B];
    for (int ep = 0; ep < 4; ep++) { /* the two share R: the per-segment episode first */
        die_if(rankenv_reset(&Es, obs_s, tm_s, am_s, e), e);
        for (int l = 0; l < L; l++) {
            for (int k = 0; k < B * S5; k++) {
                int a;
                do a = (int)rng_below(&r, A);
                while (!am_s[(size_t)k * A + a]);
                act_s[l][k] = a;
            }
            die_if(rankenv_step(&Es, act_s[l], obs_s, tm_s, am_s, rw_s[l], dn, in_s[l], e), e);
        }
        die_if(rankenv_reset(&Eh, obs_h, tm_h, am_h, e), e);
        CHECK(!memcmp(Es.rows, Eh.rows, sizeof(int32_t) * B), "episode %d: other rows", ep);
        for (int l = 0; l < L; l++) {
            copy_to_heads(act_s[l], act_h);
            float rw_h[B], in_h[B * NI];
            die_if(rankenv_step(&Eh, act_h, obs_h, tm_h, am_h, rw_h, dn, in_h, e), e);
            for (int b = 0; b < B; b++) {
                const float *x = in_s[l] + b * NI, *y = in_h + b * NI;
                for (int i = 0; i < NI; i++) {
                    const int bterm = i == RANKENV_I_BOUND || i == RANKENV_I_RBOUND ||
                                      i == RANKENV_I_MASKED;
                    if (guard != RANKENV_GUARD_NONE && bterm) continue;
                    diff += memcmp(&x[i], &y[i], sizeof(float)) != 0;
                }
                if (guard == RANKENV_GUARD_NONE) diff += memcmp(&rw_s[l][b], &rw_h[b], 4) != 0;
                /* the combined per-head bound of each segment >= its segment bound and
                   <= sqrt(H) times it (non-negative rows: Cauchy-Schwarz), so the row-
                   weighted means too */
                bound_lt += y[RANKENV_I_BOUND] < x[RANKENV_I_BOUND] * (1 - 1e-6f) ||
                            y[RANKENV_I_BOUND] > x[RANKENV_I_BOUND] * sqrtf(H) * (1 + 1e-6f);
                if (x[RANKENV_I_BOUND] > 0)
                    ratio = fmax(ratio, y[RANKENV_I_BOUND] / x[RANKENV_I_BOUND]);
                steps++;
            }
        }
    }
    CHECK(diff == 0, "guard %d: per-head copies of per-segment actions: %d values differ",
          guard, diff);
    CHECK(bound_lt == 0, "guard %d: %d steps with a combined per-head bound outside [1, sqrt(H)] "
          "times the segment's", guard, bound_lt);
    printf("guard %d: %d (episode, layer, sequence) steps equal to the per-segment env; "
           "combined per-head bound / segment bound up to %.3f\n", guard, steps, ratio);
    rankenv_free(&Es), rankenv_free(&Eh);
}

/* random allowed per-head actions: the guardrail's promise and the observation's features */
static void test_guard(Err *e) {
    static RankEnv E;
    static float obs[B * (4 + NA5) * TD];
    static uint8_t tm[B * (4 + NA5)], am[B * NA5 * A];
    static int32_t act[B * NA5];
    RankEnvConfig c;
    config(&c, RANK_WHITENED, T5, EPS); /* heads at EPS / H: some masked, some not */
    c.per_head = 1;
    die_if(rankenv_init(&E, &R, &set, &lt, &c, e), e);
    Rng r;
    rng_init(&r, 77, 1);
    int low = 0, masked = 0, feat = 0;
    double maxb = 0;
    for (int ep = 0; ep < 12; ep++) {
        die_if(rankenv_reset(&E, obs, tm, am, e), e);
        int64_t rows_real = 0, segs = 0; /* the feature FLOPs of layer 0's observation */
        for (int b = 0; b < B; b++) rows_real += set.len[E.rows[b]], segs += E.nseg[b];
        const int64_t ff = rankenv_feature_flops(B, E.N, rows_real, segs, G * H, C, 1, 0, 0, K);
        CHECK(E.cost.feature_fl == ff, "per head: feature FLOPs %lld, closed form (G H) %lld",
              (long long)E.cost.feature_fl, (long long)ff);
        for (int l = 0; l < L; l++) {
            for (int b = 0; b < B; b++)
                for (int k = 0; k < E.nseg[b] * H; k++) {
                    const float *t = obs + ((size_t)b * (4 + NA5) + 4 + k) * TD;
                    feat += t[57] != (float)(k % H) / H || tm[b * (4 + NA5) + 4 + k] != 1;
                    for (int g = 0; g < G; g++) {
                        const double rho = E.rho[((size_t)b * NA5 + k) * G + g];
                        const int ok = am[((size_t)b * NA5 + k) * A + g];
                        feat += ok != (rho <= c.epsilon / H * (1 + 1e-12));
                        masked += !ok;
                    }
                }
            for (int k = 0; k < B * NA5; k++) {
                int a;
                do a = (int)rng_below(&r, A);
                while (!am[(size_t)k * A + a]);
                act[k] = a, low += a < G;
            }
            float rw[B], in[B * NI];
            uint8_t dn[B];
            die_if(rankenv_step(&E, act, obs, tm, am, rw, dn, in, e), e);
            for (int b = 0; b < B; b++) maxb = fmax(maxb, in[b * NI + RANKENV_I_BOUND]);
        }
    }
    CHECK(E.violations == 0, "per head: %lld violations", (long long)E.violations);
    CHECK(feat == 0, "per head: %d head tokens or masks disagree with rho <= epsilon / H", feat);
    CHECK(maxb <= c.epsilon * (1 + 1e-6), "per head: a segment's combined bound %.6g > epsilon "
          "%.6g", maxb, c.epsilon);
    CHECK(low > 100 && masked > 0, "per head: %d low-rank choices, %d masked entries", low,
          masked);
    printf("per head: %d low-rank head choices, %d masked entries, 0 violations, max combined "
           "bound %.3f <= epsilon %.3f\n", low, masked, maxb, c.epsilon);
    rankenv_free(&E);
    /* refusals: a per_head other than 0 / 1, more head tokens than the policy takes */
    c.per_head = 2;
    Status st = rankenv_init(&E, &R, &set, &lt, &c, e);
    CHECK(st == ST_INVALID && strstr(e->msg, "per_head: expected 0 or 1, found 2"), "%s", e->msg);
    c.per_head = 1, c.T = 1, c.max_segments = 1100;
    st = rankenv_init(&E, &R, &set, &lt, &c, e);
    CHECK(st == ST_INVALID && strstr(e->msg, "1100 segments x 4 heads give 4404 observation "
                                     "tokens, expected at most 4096"), "%s", e->msg);
    c.per_head = 0; /* the same segments, one head each: accepted */
    st = rankenv_init(&E, &R, &set, &lt, &c, e);
    CHECK(st == ST_OK, "1100 segments per segment: %s", e->msg);
    if (!st) rankenv_free(&E);
}

int main(void) {
    Err e;
    err_clear(&e);
    setup(&e);
    (void)run; /* the fixture's episode runner: not used here */
    test_flops(&e);
    test_bounds(&e);
    test_env_copy(RANKENV_GUARD_NONE, &e);
    test_env_copy(RANKENV_GUARD_OUTPUT, &e);
    test_guard(&e);
    ranked_free(&R);
    bert_free(&m);
    free(set.ids), free(set.len);
    return check_exit("test_rankenv_heads");
}
