/* deploy.c: the policy-driven forward with its whole cost (see deploy.h). */
#include "pipeline/deploy.h"

#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

Status deploy_init(Deploy *D, RankEnv *E, Agent *A, Err *e) {
    memset(D, 0, sizeof *D);
    const RankEnvDims *d = &E->dims;
    const size_t B = (size_t)d->n_envs, nt = B * d->n_tokens;
    D->E = E, D->A = A;
    D->Smax = ranked_segments(E->set->max_len, E->c.T) * E->P; /* (segment, head) entries */
    D->obs = malloc(sizeof(float) * nt * d->token_dim);
    D->tok = malloc(nt);
    D->am = malloc(B * d->n_heads * d->n_actions);
    D->act = calloc(B * d->n_heads, sizeof(int32_t));
    D->rank = malloc(sizeof(int32_t) * (size_t)E->L * B * (size_t)D->Smax);
    if (!D->obs || !D->tok || !D->am || !D->act || !D->rank) {
        deploy_free(D);
        return err_set(e, ST_NOMEM, "deploy_init: out of memory");
    }
    return ST_OK;
}

void deploy_free(Deploy *D) {
    free(D->obs), free(D->tok), free(D->am), free(D->act), free(D->rank);
    memset(D, 0, sizeof *D);
}

Status deploy_forward(Deploy *D, const int32_t *ids, const uint8_t *mask, int n, int N,
                      DeployCost *c, Err *e) {
    RankEnv *E = D->E;
    memset(c, 0, sizeof *c);
    const double t0 = time_now();
    Status s = rankenv_deploy_begin(E, ids, mask, n, N, D->obs, D->tok, D->am, e);
    int done = 0;
    for (int l = 0; l < E->L && !s && !done; l++) {
        const double p0 = time_now();
        s = agent_act_greedy(D->A, D->act, D->obs, D->tok, D->am, n, e);
        c->policy_sec += time_now() - p0;
        if (!s) s = rankenv_deploy_step(E, D->act, D->obs, D->tok, D->am, &done, e);
        const int sr = E->Sr * E->P; /* this pass's entries per sequence (<= Smax) */
        for (int b = 0; b < n && !s; b++)
            memcpy(D->rank + ((size_t)l * E->B + b) * D->Smax, E->rank + (size_t)b * sr,
                   sizeof(int32_t) * (size_t)sr);
    }
    c->total_sec = time_now() - t0;
    if (s) return err_prefix(e, "deploy_forward");
    const Ranked *R = E->R;
    c->attn_sec = ranked_attn_seconds(R);
    c->attn_fl = ranked_attn_flops(R), c->model_fl = ranked_model_flops(R);
    c->policy_fl = (int64_t)E->L * policy_forward_flops(policy_config(D->A->pi), n);
    c->teacher_sec = E->cost.teacher_sec, c->bound_sec = E->cost.bound_sec;
    c->feature_sec = E->cost.feature_sec;
    c->teacher_fl = E->cost.teacher_fl, c->bound_fl = E->cost.bound_fl;
    c->feature_fl = E->cost.feature_fl;
    return ST_OK;
}

double deploy_decision_sec(const DeployCost *c) {
    return c->teacher_sec + c->bound_sec + c->feature_sec + c->policy_sec;
}

int64_t deploy_decision_fl(const DeployCost *c) {
    return c->teacher_fl + c->bound_fl + c->feature_fl + c->policy_fl;
}
