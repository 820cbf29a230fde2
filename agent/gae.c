/* gae.c: GAE(gamma, lambda) advantages and returns (the recursion is in gae.h). Each slot i
 * runs backwards from t = S - 1 with a double accumulator, so no scratch is needed. */
#include "agent/gae.h"

void gae_compute(float *adv, float *ret, const float *reward, const float *value,
                 const uint8_t *done, int S, int E, double gamma, double lam) {
    for (int i = 0; i < E; i++) {
        double a_next = 0.0; /* adv_{t+1}; adv_S = 0 */
        double v_next = 0.0; /* V_{t+1}; V_S = 0 */
        for (int t = S - 1; t >= 0; t--) {
            long k = (long)t * E + i;
            double nonterm = done[k] ? 0.0 : 1.0;
            double v = (double)value[k];
            double delta = (double)reward[k] + gamma * nonterm * v_next - v;
            double a = delta + gamma * lam * nonterm * a_next;
            adv[k] = (float)a;
            ret[k] = (float)(a + v);
            a_next = a;
            v_next = v;
        }
    }
}
