/* test_kl_paths.c: the KL(p_full || p_mode) of the environment's reward, drrl-eval,
 * drrl-factors and drrl-sweep agree bit for bit on the same logits (they are all nn/logits.h's
 * logits_kl; this test keeps a private copy from coming back). On rankenv_fixture.h's small
 * model and set:
 *   - the environment (env/rankenv_step.c): after episodes of the rank environment (random
 *     and lowest allowed ranks), every sequence's info kl is (float) logits_kl(full logits,
 *     ranked logits) of the pass just ended and r_kl is (float) (-lambda logits_kl);
 *     drrl-sweep (cmd/sweep.c) calls logits_kl on its full and mode logits the same way;
 *   - drrl-eval's eval_compare (eval/eval_stats.h) on those same logits: one sentence at a
 *     time its kl_mean is logits_kl bit for bit (and so the environment's float), over the
 *     batch the sum in index order / n;
 *   - drrl-factors' factors_eval (eval/factors_eval.h) at whitened rank 1 over the set: its
 *     kl, agreement, accuracy and dmargin are eval_compare's on the full run's logits and
 *     the rank-1 run's (both taken from its ref-less runs), the kl equal to
 *     (1/n) sum_i logits_kl in set order; the full run against itself: KL 0, agreement 1. */
#include "tests/env/rankenv_fixture.h"

#include "eval/eval_stats.h"
#include "eval/factors_eval.h"
#include "nn/logits.h"

static void env_and_eval(Err *e) {
    static RankEnv E;
    static Episode ep;
    RankEnvConfig c;
    config(&c, RANK_WHITENED, 0, EPS);
    die_if(rankenv_init(&E, &R, &set, &lt, &c, e), e);
    Rng r;
    rng_init(&r, 9, 0);
    const int32_t unlabelled[B] = {-1, -1, -1, -1, -1, -1};
    int positive = 0, seen = 0;
    for (int it = 0; it < 6; it++) {
        run(&E, it % 2 ? 2 : 0, NULL, 0, &r, &ep, NULL, e);
        const float *zf = E.full_logits, *zr = R.logits; /* (B, K) the pass just ended */
        double sum = 0;
        for (int b = 0; b < ep.n; b++) {
            const float *in = ep.info[L - 1] + b * NI;
            const double kl = logits_kl(zf + b * K, zr + b * K, K);
            CHECK(in[RANKENV_I_KL] == (float)kl, "env kl %.9g vs logits_kl %.9g",
                  in[RANKENV_I_KL], kl);
            CHECK(in[RANKENV_I_RKL] == (float)(-c.lambda * kl), "env r_kl %.9g vs %.9g",
                  in[RANKENV_I_RKL], -c.lambda * kl);
            EvalCompare one;
            eval_compare(zf + b * K, zr + b * K, unlabelled, 1, K, NULL, &one);
            CHECK(one.kl_mean == kl && (float)one.kl_mean == in[RANKENV_I_KL],
                  "eval_compare kl %.17g vs logits_kl %.17g", one.kl_mean, kl);
            positive += kl > 0, seen++;
            sum += kl;
        }
        EvalCompare all;
        eval_compare(zf, zr, unlabelled, ep.n, K, NULL, &all);
        CHECK(all.kl_mean == sum / ep.n, "eval_compare mean %.17g vs %.17g", all.kl_mean,
              sum / ep.n);
    }
    printf("environment: %d of %d sequences with KL > 0\n", positive, seen);
    CHECK(positive > seen / 2, "the low ranks left KL 0 almost everywhere: a weak test");
    rankenv_free(&E);
}

static void factors(Err *e) {
    const int n = set.n;
    FullRef full = {malloc(sizeof(float) * (size_t)n * K)};  /* (n, K) the full run's logits */
    FullRef mode = {malloc(sizeof(float) * (size_t)n * K)};  /* (n, K) the rank-1 run's */
    EvalRow rf, rm, row;
    const RankSpec ex = rank_spec(RANK_EXACT, 0), sp = rank_spec(RANK_WHITENED, 1);
    die_if(factors_eval(&R, &set, &ex, 0, NULL, &full, &rf, e), e);
    die_if(factors_eval(&R, &set, &sp, 0, NULL, &mode, &rm, e), e);
    die_if(factors_eval(&R, &set, &sp, 0, &full, NULL, &row, e), e);
    CHECK(rf.kl == 0 && rf.agreement == 1 && rf.dmargin == 0 && rm.kl == 0,
          "a run against itself: kl %g agreement %g dmargin %g", rf.kl, rf.agreement, rf.dmargin);
    double sum = 0;
    int correct = 0, labelled = 0;
    for (int i = 0; i < n; i++) {
        sum += logits_kl(full.logits + (size_t)i * K, mode.logits + (size_t)i * K, K);
        const int y = set.label[i];
        labelled += y >= 0, correct += y >= 0 && logits_argmax(mode.logits + (size_t)i * K, K) == y;
    }
    CHECK(row.kl == sum / n && row.kl > 0, "factors_eval kl %.17g vs mean logits_kl %.17g",
          row.kl, sum / n);
    EvalCompare c;
    eval_compare(full.logits, mode.logits, set.label, n, K, NULL, &c);
    CHECK(row.kl == c.kl_mean && row.dmargin == c.dmargin && row.agree == c.agree &&
              row.agreement == c.agreement && row.accuracy == c.accuracy,
          "factors_eval vs eval_compare: kl %.17g / %.17g, dmargin %g / %g, agree %d / %d",
          row.kl, c.kl_mean, row.dmargin, c.dmargin, row.agree, c.agree);
    CHECK(row.correct == correct && row.n_labeled == labelled && rm.correct == correct,
          "correct %d / %d of %d labelled", row.correct, correct, labelled);
    printf("factors_eval whitened rank 1: KL %.6g, agreement %.4f over %d sentences\n", row.kl,
           row.agreement, n);
    free(full.logits), free(mode.logits);
}

int main(void) {
    Err e;
    err_clear(&e);
    setup(&e);
    set.label = malloc(sizeof(int32_t) * ROWS); /* (ROWS) 0/1, every third unlabelled */
    for (int i = 0; i < ROWS; i++) set.label[i] = i % 3 == 2 ? -1 : i % 2;
    env_and_eval(&e);
    factors(&e);
    ranked_free(&R);
    bert_free(&m);
    free(set.ids), free(set.len), free(set.label);
    return check_exit("test_kl_paths");
}
