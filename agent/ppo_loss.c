/* ppo_loss.c: the clipped-surrogate PPO loss of one minibatch, its statistics and its gradient
 * with respect to the logits and the value (the math is in ppo_loss.h). Everything is
 * accumulated in double; the gradients are stored as float. */
#include "agent/ppo_loss.h"

#include <math.h>
#include <string.h>

#include "agent/dist.h"

/* adv_moments: mean and unbiased standard deviation of adv[0..M) (std 0 when M < 2) */
static void adv_moments(const float *adv, int M, double *mean, double *std) {
    double s = 0.0;
    for (int m = 0; m < M; m++) s += (double)adv[m];
    double mu = s / (double)M, ss = 0.0;
    for (int m = 0; m < M; m++) ss += ((double)adv[m] - mu) * ((double)adv[m] - mu);
    *mean = mu;
    *std = M > 1 ? sqrt(ss / (double)(M - 1)) : 0.0;
}

/* value_term: 0.5 (V - R)^2 or cleanrl's clipped form; *dv = d term / d V */
static double value_term(double V, double R, double Vold, double cv, double *dv) {
    double du = V - R, lu = du * du;
    if (!(cv > 0.0)) {
        *dv = du;
        return 0.5 * lu;
    }
    double diff = V - Vold;
    double clipped = diff < -cv ? -cv : (diff > cv ? cv : diff);
    double dc = Vold + clipped - R, lc = dc * dc;
    double gu = du;                                        /* d (0.5 lu) / dV */
    double gc = (diff >= -cv && diff <= cv) ? dc : 0.0;    /* d (0.5 lc) / dV */
    *dv = lu > lc ? gu : (lc > lu ? gc : 0.5 * (gu + gc)); /* max: ties split */
    return 0.5 * (lu > lc ? lu : lc);
}

void ppo_loss(const PpoBatch *b, const PpoConfig *cfg, float *dlogits, float *dvalue,
              PpoLossStats *st) {
    const int M = b->M, H = b->n_heads, A = b->n_actions, Mt = b->M_total ? b->M_total : M;
    const double c = (double)cfg->clip, invM = 1.0 / (double)Mt;
    double mean = 0.0, std = 1.0, eps = 0.0;
    if (cfg->norm_adv && Mt > 1) {
        if (b->moments_given) mean = b->adv_mean, std = b->adv_std;
        else adv_moments(b->adv, M, &mean, &std);
        eps = 1e-8;
    }
    double pg = 0.0, vl = 0.0, ent = 0.0, kl = 0.0, clipped = 0.0;
    memset(dlogits, 0, (size_t)M * (size_t)H * (size_t)A * sizeof *dlogits);
    for (int m = 0; m < M; m++) {
        const float *lp = b->logp + (size_t)m * H * A;
        float *dz = dlogits + (size_t)m * H * A;
        /* joint new log-probability and entropy over the active heads */
        double newlogp = 0.0, Hm = 0.0;
        for (int k = 0; k < H; k++) {
            if (!b->active[(size_t)m * H + k]) continue;
            newlogp += (double)lp[(size_t)k * A + b->action[(size_t)m * H + k]];
            Hm += dist_entropy(lp + (size_t)k * A, A);
        }
        double logratio = newlogp - (double)b->old_logp[m];
        double ratio = exp(logratio);
        double adv = ((double)b->adv[m] - mean) / (std + eps);
        double rc = ratio < 1.0 - c ? 1.0 - c : (ratio > 1.0 + c ? 1.0 + c : ratio);
        double pg1 = -adv * ratio, pg2 = -adv * rc;
        pg += pg1 >= pg2 ? pg1 : pg2;
        /* d pg / d newlogp: through the unclipped term when it is the max (ties: the clipped
           term then has ratio inside the interval and the same derivative) */
        double g = (pg1 >= pg2 ? -adv * ratio : 0.0) * invM;
        kl += (ratio - 1.0) - logratio;
        clipped += fabs(ratio - 1.0) > c ? 1.0 : 0.0;
        ent += Hm;
        double dv;
        vl += value_term((double)b->value[m], (double)b->ret[m], (double)b->old_value[m],
                         (double)cfg->clip_vloss, &dv);
        dvalue[m] = (float)((double)cfg->vf_coef * dv * invM);
        /* dlogits: g ([j = a_k] - p_kj) - (ent_coef / M) dH_k/dz_kj
                  = g ([j = a_k] - p_kj) + (ent_coef / M) p_kj (logp_kj + H_k) */
        const double ec = (double)cfg->ent_coef * invM;
        for (int k = 0; k < H; k++) {
            if (!b->active[(size_t)m * H + k]) continue;
            const float *row = lp + (size_t)k * A;
            float *drow = dz + (size_t)k * A;
            int a = b->action[(size_t)m * H + k];
            double Hk = dist_entropy(row, A);
            for (int j = 0; j < A; j++) {
                if (!isfinite(row[j])) continue;
                double p = exp((double)row[j]);
                double lpj = (double)row[j];
                drow[j] = (float)(g * ((j == a ? 1.0 : 0.0) - p) + ec * p * (lpj + Hk));
            }
        }
    }
    st->pg_loss = pg * invM;
    st->v_loss = vl * invM;
    st->entropy = ent * invM;
    st->approx_kl = kl * invM;
    st->clip_fraction = clipped * invM;
    st->loss = st->pg_loss + (double)cfg->vf_coef * st->v_loss -
               (double)cfg->ent_coef * st->entropy;
}
