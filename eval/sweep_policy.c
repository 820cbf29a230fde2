/* sweep_policy.c: a trained policy's ranks for drrl-sweep's inputs (see sweep_policy.h). */
#include "eval/sweep_policy.h"

#include <string.h>

Status sweep_policy_decide(SweepPolicy *sp, const EvalCkpt *k, int L, int rows,
                           const char *const *base_over, int n_base_over, const EncodedSet *want,
                           Err *e) {
    memset(sp, 0, sizeof *sp);
    TrainEvalOptions eo = {.split = "test", .batch = 1, .max_m = 0,
                           .lt = k->has_lt ? &k->lt : NULL, .base_over = base_over,
                           .n_base_over = n_base_over, .join = L, .join_rows = rows,
                           .quiet = 1};
    Status s = train_env_init_eval(&sp->t, &k->c, &eo, e);
    if (s) return s;
    sp->t_ok = 1;
    train_env_eval_parts(&sp->t, &sp->p);
    const EncodedSet *set = sp->p.set;
    if (set->n != want->n || set->max_len != want->max_len ||
        memcmp(set->ids, want->ids, sizeof(int32_t) * (size_t)set->n * set->max_len))
        return err_set(e, ST_INVALID, "length %d: the policy's environment holds %d inputs of %d "
                       "tokens, expected the sweep's %d of %d (both join data.test the same way)",
                       L, set->n, set->max_len, want->n, want->max_len);
    double trained_s;
    if ((s = eval_policy_load(&sp->A, k, &sp->t, &trained_s, e))) return s;
    sp->a_ok = 1;
    if ((s = eval_batches_make(&sp->bt, set, 1, e))) return s;
    sp->bt_ok = 1;
    const Ranked *R = sp->p.R;
    sp->S = sp->p.env->NA; /* action heads: segments, or (segment, head) pairs */
    if ((s = eval_out_init(&sp->o, set->n, R->K, R->L, sp->S, sp->bt.n_batches, e))) return s;
    sp->o_ok = 1;
    /* every process decides every row (each times only its own, eval/sweep_run.h) */
    EvalCtx x = {.R = sp->p.R, .set = set, .guarded = sp->p.env, .white = sp->p.env,
                 .A = &sp->A, .epsilon = k->c.env.epsilon, .reps = 1, .part = 0, .parts = 1};
    EvalMode m = {.kind = EVAL_POLICY, .r = 0, .name = "policy"};
    if ((s = eval_decide(&x, &sp->bt, &m, NULL, &sp->o, e))) return s;
    eval_decide_finish(&sp->o, &sp->bt, R->L);
    if ((s = deploy_init(&sp->D, sp->p.env, &sp->A, e))) return s;
    sp->d_ok = 1;
    sp->mean_rank = 0;
    for (int l = 0; l < R->L; l++) sp->mean_rank += sp->o.rank_layer[l] / R->L;
    return ST_OK;
}

const int32_t *sweep_policy_ranks(const SweepPolicy *sp, int i, int l) {
    return sp->o.rank + ((size_t)i * sp->p.R->L + l) * sp->S;
}

void sweep_policy_free(SweepPolicy *sp) {
    if (sp->d_ok) deploy_free(&sp->D);
    if (sp->o_ok) eval_out_free(&sp->o);
    if (sp->bt_ok) eval_batches_free(&sp->bt);
    if (sp->a_ok) agent_free(&sp->A);
    if (sp->t_ok) train_env_free(&sp->t);
    memset(sp, 0, sizeof *sp);
}
