/* rankenv_step.c: one step of the rank environment (rankenv.h): the chosen ranks of every
 * sequence and segment, the layer run per sequence at them, and the reward and info:
 *     reward_b = alpha fid_b - beta lat_b - gamma bterm_b (- lambda KL_b at the last layer)
 * with the row-weighted segment means defined in rankenv.h, and
 *     KL_b = sum_k p_k (log p_k - log q_k),  log p = z - logsumexp(z)   (double, nats)
 * from the exact pass's logits z (p = p_full) and the ranked pass's (q = p_r), by
 * nn/logits.h's logits_kl (the same function drrl-eval, drrl-factors and drrl-sweep use). */
#include "env/rankenv.h"

#include <string.h>

#include "nn/logits.h"

Status rankenv_take_actions(RankEnv *E, const int32_t *action, Err *e) {
    const int NA = E->NA, G = E->G, P = E->P;
    for (int b = 0; b < E->n_active; b++)
        for (int k = 0; k < E->Sr * P; k++) { /* head k: segment k / P, head k % P */
            int32_t *rk = &E->rank[(size_t)b * E->Sr * P + k];
            if (k / P >= E->nseg[b]) { /* inactive head: ignored */
                *rk = RANKED_FULL;
                continue;
            }
            const int a = action[(size_t)b * NA + k];
            if (a < 0 || a > G)
                return err_set(e, ST_INVALID,
                               "rankenv_step: env %d head %d: action %d: expected 0..%d", b, k,
                               a, G);
            if (a < G && !E->allow[((size_t)b * NA + k) * G + a])
                return err_set(e, ST_INVALID,
                               "rankenv_step: env %d head %d: action %d (rank %d) is masked by "
                               "the guardrail at layer %d", b, k, a, E->c.ranks[a], E->layer);
            E->act[(size_t)b * NA + k] = a;
            *rk = a < G ? E->c.ranks[a] : RANKED_FULL;
        }
    return ST_OK;
}

Status rankenv_run_layer(RankEnv *E, Err *e) {
    if (E->c.per_head)
        return ranked_layer_each_heads(E->R, E->c.kind, E->c.T, E->rank, E->afl, E->asec, e);
    return ranked_layer_each(E->R, E->c.kind, E->c.T, E->rank, E->afl, E->asec, e);
}

/* guard none: no bound, no violation. Else: the bound of segment sg of sequence b at its
   chosen rank (relative rho) is below its measured relative error re (relative to the
   teacher) beyond float rounding: in the
   guard's units, re ||T_s|| / D_s > rho (1 + 1e-5) + 1e-6 (for guard OUTPUT, D_s = ||T_s||
   and this is re > rho (1 + 1e-5) + 1e-6) */
static int violated(const RankEnv *E, int b, int sg, double re, double rho) {
    if (E->c.guard == RANKENV_GUARD_NONE) return 0; /* nothing was bounded */
    if (E->c.guard == RANKENV_GUARD_OUTPUT) return re > rho * (1 + 1e-5) + 1e-6;
    const size_t k = (size_t)b * E->S + sg;
    const double m = E->den[k] > 0 ? re * E->yseg[k] / E->den[k] : 0.0;
    return m > rho * (1 + 1e-5) + 1e-6;
}

/* reward and info of sequence b (in[RANKENV_N_INFO], doubles) */
/* KL(p_full || p_r) of sequence b in nats: of the classifier's output, or for a decoder the
   mean over its positions i whose next token is real (mask[i + 1] = 1) of the next-token
   distributions' KL at position i (logits (B, N, K) of the pass's N) */
double rankenv_kl(const RankEnv *E, int b) {
    const int K = E->K;
    if (!E->R->dec)
        return logits_kl(E->full_logits + (size_t)b * K, E->R->logits + (size_t)b * K, K);
    const int N = E->N;
    const uint8_t *m = E->mask + (size_t)b * N;
    double s = 0.0;
    int n = 0;
    for (int i = 0; i + 1 < N; i++) {
        if (!m[i + 1]) continue;
        const size_t o = ((size_t)b * N + i) * K;
        s += logits_kl(E->full_logits + o, E->R->logits + o, K), n++;
    }
    return n ? s / n : 0.0;
}

/* segment sg of sequence b at its chosen actions: *rho = sum over its heads of rho (0 for
   full; per segment: the one head's), *lat = mean over its heads of the table's latency ratio
   (TABLE mode), *rk += their ranks (full = dh), *full += heads at full, *low = some head is
   below full */
static void seg_choice(const RankEnv *E, int b, int sg, double *rho, double *lat, double *rk,
                       int *full, int *low) {
    const int G = E->G, P = E->P;
    const size_t k0 = (size_t)b * E->NA + (size_t)sg * P;
    double r = 0.0, lt = 0.0, lt0 = 0.0;
    int same = 1;
    *low = 0;
    for (int h = 0; h < P; h++) {
        const int a = E->act[k0 + h];
        r += a < G ? E->rho[(k0 + h) * G + a] : 0.0;
        if (E->c.latency == RANKENV_LAT_TABLE) {
            const double v =
                latency_table_ratio(E->lt, E->len[b], a < G ? E->c.ranks[a] : LATENCY_FULL);
            lt += v, lt0 = h ? lt0 : v;
        }
        *rk += a < G ? E->c.ranks[a] : E->dh;
        *full += a == G, *low |= a < G, same &= a == E->act[k0];
    }
    /* heads that agree: their common ratio itself (the per-segment value, bit for bit) */
    *rho = r, *lat = same ? lt0 : lt / P;
}

static void measure(RankEnv *E, int b, int last, double *in) {
    const int S = E->S;
    double W = 0, fid = 0, rel = 0, lat = 0, bt = 0, bnd = 0, rk = 0;
    int full = 0, viol = 0;
    for (int sg = 0; sg < E->nseg[b]; sg++) {
        const double w = E->seg_rows[(size_t)b * S + sg];
        const double cs = E->cosv[(size_t)sg * E->n_active + b];
        const double re = E->relv[(size_t)sg * E->n_active + b];
        double rho, sl;
        int low;
        seg_choice(E, b, sg, &rho, &sl, &rk, &full, &low);
        W += w, fid += w * cs, rel += w * re, bnd += w * rho, bt += w * (rho < 1 ? rho : 1);
        if (E->c.latency == RANKENV_LAT_TABLE) lat += w * sl;
        viol += low && violated(E, b, sg, re, rho);
    }
    const double iw = W > 0 ? 1.0 / W : 0.0,
                 ns = E->nseg[b] ? (double)E->nseg[b] * E->P : 1.0;
    if (E->c.latency == RANKENV_LAT_LIVE)
        lat = E->tsec[b] > 0 ? E->asec[b] / E->tsec[b] : 1.0;
    else
        lat *= iw;
    const double tf = (double)attn_flops_total(&E->tfl[b]);
    const double kl = last ? rankenv_kl(E, b) : 0.0;
    in[RANKENV_I_FID] = fid * iw, in[RANKENV_I_REL] = rel * iw, in[RANKENV_I_LAT] = lat;
    in[RANKENV_I_FLOPS] = tf > 0 ? (double)attn_flops_total(&E->afl[b]) / tf : 1.0;
    in[RANKENV_I_BOUND] = bnd * iw, in[RANKENV_I_KL] = kl;
    in[RANKENV_I_RFID] = E->c.alpha * fid * iw;
    in[RANKENV_I_RLAT] = -E->c.beta * lat;
    in[RANKENV_I_RBOUND] = -E->c.gamma * bt * iw;
    in[RANKENV_I_RKL] = -E->c.lambda * kl;
    in[RANKENV_I_RANK] = rk / ns, in[RANKENV_I_FULL] = full / ns;
    in[RANKENV_I_MASKED] = E->masked[b], in[RANKENV_I_VIOL] = viol;
    in[RANKENV_I_LAYER] = E->layer;
}

Status rankenv_step(void *self, const int32_t *action, float *obs, uint8_t *tok_mask,
                    uint8_t *act_mask, float *reward, uint8_t *done, float *info, Err *e) {
    RankEnv *E = self;
    if (E->layer < 0 || E->layer >= E->L)
        return err_set(e, ST_INVALID, "rankenv_step: no episode in progress (call reset)");
    if (E->deploy)
        return err_set(e, ST_INVALID, "rankenv_step: a deployment pass is in progress "
                       "(rankenv_deploy_step; a reset starts an episode)");
    Status s = rankenv_take_actions(E, action, e);
    if (!s) s = rankenv_run_layer(E, e);
    const int last = E->layer == E->L - 1;
    if (!s && last) s = ranked_end(E->R, e);
    if (s) {
        E->layer = -1; /* the pass is broken: a new reset is needed */
        return err_prefix(e, "rankenv_step");
    }
    /* fidelity of every segment: (Sr, B) */
    for (int sg = 0; sg < E->Sr; sg++) {
        const int i0 = E->c.T > 0 ? sg * E->c.T : 0, i1 = E->c.T > 0 ? i0 + E->c.T : E->N;
        ranked_fidelity(E->R, i0, i1, E->cosv + (size_t)sg * E->n_active,
                        E->relv + (size_t)sg * E->n_active);
    }
    const int NI = RANKENV_N_INFO;
    memset(info, 0, sizeof(float) * (size_t)E->B * NI);
    for (int b = 0; b < E->B; b++) {
        float *fi = info + (size_t)b * NI;
        done[b] = (uint8_t)last;
        fi[RANKENV_I_LAYER] = (float)E->layer;
        if (b >= E->n_active) { /* idle slot */
            reward[b] = 0;
            continue;
        }
        double in[RANKENV_N_INFO];
        measure(E, b, last, in);
        for (int i = 0; i < NI; i++) fi[i] = (float)in[i];
        /* the reward is the float sum of the reported terms, in this order */
        reward[b] = fi[RANKENV_I_RFID] + fi[RANKENV_I_RLAT] + fi[RANKENV_I_RBOUND] +
                    fi[RANKENV_I_RKL];
        E->violations += (int64_t)in[RANKENV_I_VIOL];
    }
    memcpy(E->prev, E->act, sizeof(int32_t) * (size_t)E->B * E->NA);
    E->steps++;
    E->layer++;
    if (last) {
        E->episodes++;
        E->layer = -1;
        return ST_OK;
    }
    s = rankenv_observe(E, obs, tok_mask, act_mask, e);
    if (s) E->layer = -1;
    return s;
}
