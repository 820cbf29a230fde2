/* deploy.h: the policy-driven forward as a user runs it: no teacher, no reward; for each
 * layer the observation (features, bounds, guardrail: env/rankenv.h deployment), the policy
 * network's greedy choice (agent_act_greedy), and the layer at the chosen ranks; then the
 * head. Everything the decision costs is inside the timed forward and its FLOPs are counted
 * beside the model's:
 *     total   = the whole pass (embedding to logits), monotonic clock
 *     attn    = the attention kernels at the chosen ranks (model/ranked.h attn_sec)
 *     decision = teacher (guard output only) + bounds + features + policy network
 * The pass equals the rank environment's episode on the same tokens bit for bit (the same
 * observations, hence the same greedy actions, the same ranked_layer_each calls):
 * tests/pipeline/test_deploy.c checks it. A policy trained with env.guard: output needs the
 * exact attention of each layer before deciding; deploy_forward runs it and charges it to
 * the decision (train with env.guard: input for a decision that needs no exact attention). */
#ifndef DRRL_PIPELINE_DEPLOY_H
#define DRRL_PIPELINE_DEPLOY_H

#include <stdint.h>

#include "agent/ppo.h"
#include "env/rankenv.h"

typedef struct {
    double total_sec, attn_sec, policy_sec, teacher_sec, bound_sec, feature_sec;
    int64_t attn_fl, model_fl;  /* the model's counted FLOPs at the chosen ranks
                                   (ranked_attn_flops, ranked_model_flops of the pass) */
    int64_t policy_fl, teacher_fl, bound_fl, feature_fl; /* the decision's */
} DeployCost;

typedef struct {
    RankEnv *E;              /* not owned: its R runs the pass */
    Agent *A;                /* not owned: the policy, greedy */
    float *obs;              /* (B, n_tokens, token_dim) */
    uint8_t *tok, *am;       /* (B, n_tokens), (B, n_heads, n_actions) */
    int32_t *act;            /* (B, n_heads) */
    int32_t *rank;           /* (L, B, Smax) ranks of the last pass per layer, sequence and
                                segment (per head: (segment, head) at s H + h; RANKED_FULL:
                                full); row stride Smax, the pass's Sr (x H) entries first */
    int Smax;                /* ranked_segments(set max_len, T) (x H with env per_head) */
} Deploy;

/* deploy_init: buffers for E's dimensions (E and A must outlive D). */
Status deploy_init(Deploy *D, RankEnv *E, Agent *A, Err *e);
void deploy_free(Deploy *D);

/* deploy_forward: the pass over n (1..B) sequences ids, mask (n, N): logits in
   D->E->R->logits (n, K), ranks in D->rank, the costs in *c (overwritten). */
Status deploy_forward(Deploy *D, const int32_t *ids /* (n, N) */,
                      const uint8_t *mask /* (n, N) */, int n, int N, DeployCost *c, Err *e);

/* deploy_decision_sec / _fl: the decision's share of a pass: teacher + bounds + features +
   policy. */
double deploy_decision_sec(const DeployCost *c);
int64_t deploy_decision_fl(const DeployCost *c);

#endif
