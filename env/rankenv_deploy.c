/* rankenv_deploy.c: the rank environment as a deployed model runs it (rankenv.h,
 * "deployment"): the same observation of each layer (features, bounds, guardrail) and the
 * same transition (each sequence's attention alone at its chosen ranks, ranked_layer_each),
 * but no exact pass for p_full, no teacher unless the guard's denominator is the exact output
 * (guard OUTPUT), and no reward or fidelity. So a policy fed these observations chooses
 * what it would choose in the environment on the same tokens, and the pass's logits are the
 * environment's bit for bit; E->cost holds the decision work it took. */
#include "env/rankenv.h"

#include <string.h>

Status rankenv_deploy_begin(RankEnv *E, const int32_t *ids, const uint8_t *mask, int n, int N,
                            float *obs, uint8_t *tok_mask, uint8_t *act_mask, Err *e) {
    E->layer = -1;
    if (n < 1 || n > E->B || N < 1 || N > E->set->max_len)
        return err_set(e, ST_INVALID,
                       "rankenv_deploy_begin: expected 1 <= n <= %d sequences of 1 <= N <= %d "
                       "tokens, found n=%d N=%d", E->B, E->set->max_len, n, N);
    memcpy(E->ids, ids, sizeof(int32_t) * (size_t)n * N);
    memcpy(E->mask, mask, (size_t)n * N);
    for (int i = 0; i < n; i++) E->rows[i] = -1; /* not rows of the set */
    memset(&E->cost, 0, sizeof E->cost);
    E->deploy = 1;
    Status s = rankenv_start_pass(E, n, N, obs, tok_mask, act_mask, e);
    if (s) E->deploy = 0;
    return s ? err_prefix(e, "rankenv_deploy_begin") : ST_OK;
}

Status rankenv_deploy_step(RankEnv *E, const int32_t *action, float *obs, uint8_t *tok_mask,
                           uint8_t *act_mask, int *done, Err *e) {
    *done = 0;
    if (!E->deploy || E->layer < 0 || E->layer >= E->L)
        return err_set(e, ST_INVALID,
                       "rankenv_deploy_step: no deployment pass in progress "
                       "(rankenv_deploy_begin)");
    Status s = rankenv_take_actions(E, action, e);
    if (!s) s = rankenv_run_layer(E, e);
    const int last = E->layer == E->L - 1;
    if (!s && last) s = ranked_end(E->R, e);
    if (s) {
        E->layer = -1, E->deploy = 0;
        return err_prefix(e, "rankenv_deploy_step");
    }
    memcpy(E->prev, E->act, sizeof(int32_t) * (size_t)E->B * E->NA);
    E->layer++;
    if (last) {
        E->layer = -1, E->deploy = 0, *done = 1;
        return ST_OK;
    }
    s = rankenv_observe(E, obs, tok_mask, act_mask, e);
    if (s) E->layer = -1, E->deploy = 0;
    return s;
}

int64_t rankenv_feature_flops(int64_t n, int64_t N, int64_t rows, int64_t segs, int G, int C,
                              int teacher, int input, int head, int K) {
    const int64_t NC = RANKENV_CONV, c = C;
    return 2 * n * N * c * 3 * NC + rows * (5 * NC + 2 * c + 5 + 2 * G) +
           rows * (teacher ? 2 * c : 0) + rows * (input ? 2 * c + 1 : 0) +
           segs * (NC + 4 + 3 * G + (teacher != 0) + (input != 0)) + 8 * n +
           (head ? n * (2 * c * c + c + 2 * c * K + K + 3 * K + 4) : 0);
}
