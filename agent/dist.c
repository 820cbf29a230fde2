/* dist.c: the masked categorical over a logp row (see dist.h). Masked choices carry
 * logp = -INFINITY and are skipped everywhere; sums are in double. */
#include "agent/dist.h"

#include <math.h>

/* allowed: a finite log-probability (masked choices are -INFINITY) */
static int allowed(float lp) { return isfinite(lp); }

int dist_sample_u(const float *logp, int n, double u) {
    /* total = sum_j p_j (1 up to rounding); target = u * total; the first j whose cumulative
       sum exceeds the target. Rounding can leave the target past the last cumulative sum:
       then the last allowed choice. */
    double total = 0.0;
    int last = -1;
    for (int j = 0; j < n; j++)
        if (allowed(logp[j])) {
            total += exp((double)logp[j]);
            last = j;
        }
    double target = u * total, cum = 0.0;
    for (int j = 0; j < n; j++) {
        if (!allowed(logp[j])) continue;
        cum += exp((double)logp[j]);
        if (cum > target) return j;
    }
    return last;
}

int dist_sample(const float *logp, int n, Rng *rng) {
    return dist_sample_u(logp, n, rng_uniform(rng));
}

int dist_argmax(const float *logp, int n) {
    int best = -1;
    for (int j = 0; j < n; j++)
        if (allowed(logp[j]) && (best < 0 || logp[j] > logp[best])) best = j;
    return best;
}

double dist_entropy(const float *logp, int n) {
    /* H = -sum_j p_j logp_j over allowed j */
    double h = 0.0;
    for (int j = 0; j < n; j++)
        if (allowed(logp[j])) h -= exp((double)logp[j]) * (double)logp[j];
    return h;
}

void dist_entropy_grad(float *dz, const float *logp, int n, double H, double scale) {
    /* H = -sum_j p_j logp_j with logp_j = z_j - logsumexp(z):
       dH/dz_k = -sum_j (dp_j/dz_k)(logp_j + 1) = -p_k (logp_k + H) */
    for (int k = 0; k < n; k++) {
        if (!allowed(logp[k])) continue;
        double p = exp((double)logp[k]);
        dz[k] += (float)(-scale * p * ((double)logp[k] + H));
    }
}
