/* test_rankenv.c: the rank environment (env/rankenv.h) on rankenv_fixture.h's small model
 * (whitened and plain factors, T = 0 and T = 5). Checks:
 *   - every info column recomputed independently from B = 1 ranked passes of each sequence
 *     at the chosen ranks and an exact one (fidelity, rel err, relative tight bound, KL in
 *     double, FLOPs ratio from attn_lowrank_flops / attn_exact_flops, table latency, mean
 *     rank, shares at full and masked), the observation's sequence, previous-rank and
 *     log10-bound features, the reward equals the float sum of its terms exactly, and the
 *     action mask allows exactly the ranks whose independent relative bound is <= epsilon;
 *   - no bound violation over many random episodes;
 *   - segments: one head per segment, inactive heads (masked tokens, only full allowed)
 *     for short sequences; idle slots of rankenv_reset_rows;
 *   - full everywhere: fidelity 1, rel err 0 and KL 0 exactly, FLOPs and latency ratios 1. */
#include "tests/env/rankenv_fixture.h"

static double kl2(const float *p, const float *q) {
    double lp = log(exp(p[0]) + exp(p[1])), lq = log(exp(q[0]) + exp(q[1])), k = 0;
    for (int i = 0; i < 2; i++)
        k += exp(p[i] - lp) * ((p[i] - lp) - (q[i] - lq));
    return k;
}

/* every info column of sequence b of ep recomputed from B = 1 ranked passes */
static void verify(const RankEnv *E, const Episode *ep, int b, long *n_mask, long *n_low, Err *e) {
    const RankEnvConfig *c = &E->c;
    const int row = ep->rows[b], n = set.len[row], T = c->T, S = E->S, Sb = ranked_segments(n, T);
    const int32_t *ids = set.ids + (size_t)row * NMAX;
    uint8_t ones[NMAX];
    memset(ones, 1, sizeof ones);
    RankSpec ex[L];
    for (int l = 0; l < L; l++)
        ex[l] = rank_spec(RANK_EXACT, 0);
    die_if(ranked_forward(&R, ids, NULL, ones, 1, n, ex, e), e);
    float zf[K];
    memcpy(zf, R.logits, sizeof zf);
    die_if(ranked_begin(&R, ids, NULL, ones, 1, n, e), e);
    for (int l = 0; l < L; l++) {
        double row_b[G * NMAX], cs[SMAX], re[SMAX], rho[SMAX][G], yn[SMAX];
        BoundOut bo = {row_b, NULL, NULL, NULL, NULL};
        die_if(ranked_bound(&R, c->kind, BOUND_TIGHT, c->ranks, G, &bo, e), e);
        die_if(ranked_teacher(&R, e), e);
        int s2[SMAX], full = 1;
        const int32_t *act = ep->act[l] + b * S;
        for (int s = 0; s < Sb; s++)
            full &= act[s] == G, s2[s] = act[s] < G ? grid[act[s]] : DH;
        RankSpec sp = full ? rank_spec(RANK_EXACT, 0) : (RankSpec){c->kind, 0, T > 0 ? T : n, s2, NULL};
        die_if(ranked_layer(&R, &sp, e), e);
        double W = 0, fid = 0, rel = 0, lat = 0, bt = 0, bnd = 0, rk = 0, nf = 0, nm = 0;
        /* observation: sequence token, previous ranks (shares over the segments) */
        const float *ob = ep->obs[l] + (size_t)b * (4 + S) * TD;
        CHECK(ob[3 * TD + 3] == 1 && fabs(ob[3 * TD + 5] - n / 24.0) < 1e-6 &&
                  fabs(ob[3 * TD + 6] - log1p(n) / log1p(24.0)) < 1e-6, "sequence token");
        for (int a = 0; a <= A; a++) {
            double share = l == 0 ? a == 0 : 0;
            for (int s = 0; s < Sb && l > 0; s++)
                share += (ep->act[l - 1][b * S + s] == a - 1) / (double)Sb;
            CHECK(fabs(ob[2 * TD + 5 + a] - share) < 1e-6, "previous-rank token slot %d", a);
        }
        for (int s = 0; s < Sb; s++) {
            const int i0 = T ? s * T : 0, i1 = T && (s + 1) * T < n ? (s + 1) * T : n;
            ranked_fidelity(&R, i0, i1, &cs[s], &re[s]);
            yn[s] = 0;
            for (int i = i0; i < i1; i++)
                for (int q = 0; q < C; q++)
                    yn[s] += (double)R.teacher[i * C + q] * R.teacher[i * C + q];
            for (int g = 0; g < G; g++) {
                double f = 0;
                for (int i = i0; i < i1; i++)
                    f += row_b[g * n + i] * row_b[g * n + i];
                rho[s][g] = sqrt(f) / sqrt(yn[s]);
                const int want = rho[s][g] <= c->epsilon, got = ep->amask[l][(b * S + s) * A + g];
                if (fabs(rho[s][g] / c->epsilon - 1) > 1e-3)
                    CHECK(want == got, "mask layer %d seq %d seg %d rank %d: rho %g", l, b, s,
                          grid[g], rho[s][g]);
                *n_mask += !got, nm += !got;
                /* segment token: log10 of the relative bound at each candidate rank */
                const double lr = fmin(fmax(log10(rho[s][g]), -6), 6);
                CHECK(fabs(ob[(4 + s) * TD + 41 + g] - lr) < 1e-4, "log10 rho feature");
            }
            CHECK(ep->amask[l][(b * S + s) * A + G] == 1, "full allowed");
            const double w = i1 - i0, rh = act[s] < G ? rho[s][act[s]] : 0;
            *n_low += act[s] < G;
            W += w, fid += w * cs[s], rel += w * re[s], bnd += w * rh, bt += w * fmin(rh, 1);
            lat += w * latency_table_ratio(&lt, n, act[s] < G ? grid[act[s]] : LATENCY_FULL);
            rk += act[s] < G ? grid[act[s]] : DH, nf += act[s] == G;
        }
        AttnFlops want =
            full ? attn_exact_flops(1, n, C, H) : attn_lowrank_flops(1, n, C, H, T ? T : n, s2);
        AttnFlops exf = attn_exact_flops(1, n, C, H);
        double kl = 0;
        if (l == L - 1) {
            die_if(ranked_end(&R, e), e);
            kl = kl2(zf, R.logits);
        }
        const float *in = ep->info[l] + b * NI;
        char what[64];
        snprintf(what, sizeof what, "seq %d layer %d", b, l);
        CHECK_CLOSE(in[RANKENV_I_FID], fid / W, 0, 2e-6, what);
        CHECK_CLOSE(in[RANKENV_I_REL], rel / W, 1e-3, 2e-6, what);
        CHECK_CLOSE(in[RANKENV_I_LAT], lat / W, 1e-6, 0, what);
        CHECK_CLOSE(in[RANKENV_I_FLOPS], (double)attn_flops_total(&want) / attn_flops_total(&exf),
                    1e-6, 0, what);
        CHECK_CLOSE(in[RANKENV_I_BOUND], bnd / W, 1e-4, 1e-7, what);
        CHECK_CLOSE(in[RANKENV_I_KL], kl, 1e-2, 1e-8, what);
        CHECK_CLOSE(in[RANKENV_I_RFID], c->alpha * fid / W, 0, 2e-6, what);
        CHECK_CLOSE(in[RANKENV_I_RLAT], -c->beta * lat / W, 1e-6, 0, what);
        CHECK_CLOSE(in[RANKENV_I_RBOUND], -c->gamma * bt / W, 1e-4, 1e-7, what);
        CHECK_CLOSE(in[RANKENV_I_RKL], -c->lambda * kl, 1e-2, 1e-8, what);
        CHECK_CLOSE(in[RANKENV_I_RANK], rk / Sb, 1e-6, 0, what);
        CHECK_CLOSE(in[RANKENV_I_FULL], nf / Sb, 1e-6, 0, what);
        CHECK_CLOSE(in[RANKENV_I_MASKED], nm / (Sb * G), 1e-6, 0, what);
        CHECK(in[RANKENV_I_VIOL] == 0 && in[RANKENV_I_LAYER] == l, "%s: violations, layer", what);
        const float sum =
            in[RANKENV_I_RFID] + in[RANKENV_I_RLAT] + in[RANKENV_I_RBOUND] + in[RANKENV_I_RKL];
        CHECK(ep->rew[l][b] == sum, "%s: reward %.9g != sum of terms %.9g", what, ep->rew[l][b],
              sum);
    }
}

static void test_episodes(RankKind kind, int T, Err *e) {
    static RankEnv E;
    static Episode ep;
    RankEnvConfig c;
    config(&c, kind, T, EPS);
    die_if(rankenv_init(&E, &R, &set, &lt, &c, e), e);
    const RankEnvDims *d = &E.dims;
    const int S = T ? SMAX : 1;
    CHECK(d->n_envs == B && d->n_heads == S && d->n_tokens == 4 + S && d->token_dim == TD &&
              d->n_actions == A && d->max_steps == L && d->n_info == NI && d->head_token0 == 4 &&
              d->value_token == 0 && !strcmp(d->info_names[3], "flops_ratio"),
          "dims");
    Rng r;
    rng_init(&r, 3, T);
    long n_mask = 0, n_low = 0, n_viol = 0;
    for (int it = 0; it < 6; it++) {
        run(&E, it % 3 == 2 ? 2 : 0, NULL, 0, &r, &ep, NULL, e);
        for (int b = 0; b < B; b++)
            verify(&E, &ep, b, &n_mask, &n_low, e);
    }
    for (int it = 0; it < 30; it++) {
        run(&E, 0, NULL, 0, &r, &ep, NULL, e);
        for (int l = 0; l < L; l++)
            for (int b = 0; b < B; b++)
                n_viol += ep.info[l][b * NI + RANKENV_I_VIOL] != 0;
    }
    printf("%s T=%d: 36 episodes; in the 6 verified: %ld grid entries masked, %ld segments at "
           "a low rank; %lld violations in all\n",
           rank_kind_name(kind), T, n_mask, n_low, (long long)E.violations);
    CHECK(n_viol == 0 && E.violations == 0, "bound violations: %lld", (long long)E.violations);
    CHECK(n_mask > 0 && n_low > 0, "the guardrail masked nothing or everything: a weak test");
    /* segments: heads of short sequences inactive; all full: fidelity 1, rel 0, KL 0 */
    run(&E, 1, NULL, 0, &r, &ep, NULL, e);
    for (int b = 0; b < B; b++) {
        const int Sb = ranked_segments(set.len[ep.rows[b]], T);
        for (int s = 0; s < S; s++) {
            CHECK(ep.tmask[0][b * (4 + S) + 4 + s] == (s < Sb), "seq %d head %d token", b, s);
            for (int a = 0; a < A && s >= Sb; a++)
                CHECK(ep.amask[0][(b * S + s) * A + a] == (a == G), "inactive head: only full");
        }
        for (int l = 0; l < L; l++) {
            const float *in = ep.info[l] + b * NI;
            CHECK(in[RANKENV_I_FID] == 1 && in[RANKENV_I_REL] == 0 && in[RANKENV_I_KL] == 0 &&
                      in[RANKENV_I_FLOPS] == 1 && in[RANKENV_I_LAT] == 1 &&
                      in[RANKENV_I_BOUND] == 0 && in[RANKENV_I_FULL] == 1 &&
                      in[RANKENV_I_RANK] == DH,
                  "all full: fid %.9g rel %g kl %g", in[RANKENV_I_FID], in[RANKENV_I_REL],
                  in[RANKENV_I_KL]);
        }
    }
    /* reset_rows with idle slots */
    const int32_t rows[2] = {0, 5};
    run(&E, 2, rows, 2, &r, &ep, NULL, e);
    CHECK(ep.n == 2 && ep.rows[1] == 5, "reset_rows");
    for (int b = 0; b < 2; b++)
        verify(&E, &ep, b, &n_mask, &n_low, e);
    for (int b = 2; b < B; b++)
        CHECK(ep.tmask[0][b * (4 + S)] == 1 && ep.tmask[0][b * (4 + S) + 1] == 0 &&
                  ep.rew[0][b] == 0 && ep.amask[1][b * S * A + G] == 1 &&
                  ep.amask[1][b * S * A] == 0,
              "idle slot %d", b);
    rankenv_free(&E);
}

int main(void) {
    Err e;
    err_clear(&e);
    setup(&e);
    test_episodes(RANK_WHITENED, 0, &e);
    test_episodes(RANK_WHITENED, 5, &e);
    test_episodes(RANK_PLAIN, 5, &e);
    ranked_free(&R);
    bert_free(&m);
    free(set.ids), free(set.len);
    return check_exit("test_rankenv");
}
