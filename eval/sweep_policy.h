/* sweep_policy.h: drrl-sweep's policy mode: the ranks a trained policy (a drrl-train
 * checkpoint) chooses for the sweep's inputs at one length.
 *
 * Per length L the evaluation environment of `drrl-eval --join L` is built (pipeline/train_env.h
 * train_env_init_eval: the checkpoint's model file, factors, rank grid, segment length T and
 * guardrail; batch 1; inputs of exactly L bytes joined from same-label test reviews, the very
 * rows drrl-sweep makes) and one greedy episode runs per input (eval/eval_run.h eval_decide):
 * every layer's rank of every segment of T query tokens, under the trained guardrail. The
 * timed passes run the deployed forward (pipeline/deploy.h: observation, guardrail and policy
 * network inside the pass, the same ranks); the measured pass replays the ranks
 * (ranked_layer_each) for the last layer's error against its teacher. */
#ifndef DRRL_CMD_SWEEP_POLICY_H
#define DRRL_CMD_SWEEP_POLICY_H

#include "agent/ppo.h"
#include "data/encode.h"
#include "eval/eval_policy.h"
#include "eval/eval_run.h"
#include "pipeline/train_env.h"

typedef struct {
    TrainEnv t;
    TrainEvalParts p;     /* p.R: the Ranked the policy's passes run on; p.set: the inputs */
    Agent A;
    EvalBatches bt;
    EvalModeOut o;        /* o.rank (n, layers, S): segment ranks, RANKED_FULL = full */
    Deploy D;             /* the deployed forward (pipeline/deploy.h) the timed passes run */
    int t_ok, a_ok, bt_ok, o_ok, d_ok;
    int S;                /* o.rank's segment stride (the environment's action heads) */
    double mean_rank;     /* per head over layers, segments and inputs (full = head size) */
} SweepPolicy;

/* sweep_policy_decide: the environment for length L (at most `rows` inputs; base_over: data.*
   overrides of the model's stored config), the policy restored from k, and its decisions.
   `want` (the sweep's own encoded inputs) must be the environment's rows (ST_INVALID if not).
   Prints nothing but errors. */
Status sweep_policy_decide(SweepPolicy *sp, const EvalCkpt *k, int L, int rows,
                           const char *const *base_over, int n_base_over, const EncodedSet *want,
                           Err *e);

/* sweep_policy_ranks: the (S) segment ranks of input i at layer l (ranked_layer_each's rank
   row for a batch of one). */
const int32_t *sweep_policy_ranks(const SweepPolicy *sp, int i, int l);

void sweep_policy_free(SweepPolicy *sp);

#endif
