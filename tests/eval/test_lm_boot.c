/* test_lm_boot.c: the bits-per-byte interval over documents (pipeline/base_lm.h,
 * base_lm_bootstrap, which drrl-base --eval and drrl-eval's perplexity table share):
 *   - a cluster is a run of rows with one document: splitting every row into two rows of the
 *     same document (halved sums, exact in binary) leaves the interval bit for bit the same,
 *     while the row bootstrap (doc NULL) of the split rows is narrower (what the change fixed);
 *   - the width against the delta method of the ratio R = sum a / sum t over K clusters,
 *     var R ~= sum_k (a_k - R t_k)^2 / (sum t)^2, within 10% (2,000 resamples, K = 400);
 *   - clusters of one ratio c give the point c / ln 2; no rows give NaN; a seed reproduces. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../check.h"
#include "core/rng.h"
#include "pipeline/base_lm.h"

enum { K = 400, RES = 2000 };

int main(void) {
    static double a[2 * K], t[2 * K], a2[8 * K]; /* a2: (2n, 2) interleaved split rows */
    static int32_t doc[2 * K], doc2[4 * K];
    Rng g;
    rng_init(&g, 7, 0);
    /* K documents of 1..3 rows; row sums: targets 2..512 bytes (even), nats ~ 1.4 per byte
       with a per-document level (correlated rows) */
    int n = 0;
    for (int k = 0; k < K && n < 2 * K - 3; k++) {
        const double level = 1.0 + rng_uniform(&g);
        const int rows = 1 + (int)rng_below(&g, 3);
        for (int j = 0; j < rows; j++, n++) {
            t[n] = 2.0 * (double)(1 + rng_below(&g, 256));
            a[n] = ldexp(floor(ldexp(level * t[n] * (0.9 + 0.2 * rng_uniform(&g)), 20)), -20);
            doc[n] = k;
        }
    }
    Err e;
    double lo, hi, lo2, hi2, lor, hir;
    int nk1 = -1;
    CHECK(!base_lm_bootstrap(&lo, &hi, &nk1, a, t, 1, doc, n, RES, 11, &e), "%s", e.msg);
    for (int i = 0; i < n; i++)
        for (int h = 0; h < 2; h++) {
            a2[2 * (2 * i + h)] = a[i] / 2, a2[2 * (2 * i + h) + 1] = t[i] / 2;
            doc2[2 * i + h] = doc[i];
        }
    CHECK(!base_lm_bootstrap(&lo2, &hi2, NULL, a2, a2 + 1, 2, doc2, 2 * n, RES, 11, &e), "%s",
          e.msg);
    CHECK(lo == lo2 && hi == hi2, "split rows of one document: %.12g..%.12g vs %.12g..%.12g",
          lo, hi, lo2, hi2);
    CHECK(!base_lm_bootstrap(&lor, &hir, NULL, a2, a2 + 1, 2, NULL, 2 * n, RES, 11, &e), "%s",
          e.msg);
    CHECK(hir - lor < 0.85 * (hi - lo), "row bootstrap of split rows %.6g not narrower than "
          "the document one %.6g", hir - lor, hi - lo);
    /* delta method over the K clusters */
    double sa[K] = {0}, st[K] = {0}, A = 0, T = 0;
    for (int i = 0; i < n; i++) sa[doc[i]] += a[i], st[doc[i]] += t[i], A += a[i], T += t[i];
    const int nk = doc[n - 1] + 1;
    CHECK(nk1 == nk, "clusters: %d, expected the %d documents", nk1, nk);
    const double R = A / T;
    double v = 0;
    for (int k = 0; k < nk; k++) v += (sa[k] - R * st[k]) * (sa[k] - R * st[k]);
    const double w = 2 * 1.959964 * sqrt(v) / T / M_LN2;
    CHECK_CLOSE(hi - lo, w, 0.10, 0.0, "interval width vs the delta method");
    CHECK(lo < R / M_LN2 && R / M_LN2 < hi, "the estimate %.6g inside %.6g..%.6g", R / M_LN2,
          lo, hi);
    /* one ratio: a point; reproducible; empty */
    for (int i = 0; i < n; i++) a2[i] = 1.5 * t[i];
    CHECK(!base_lm_bootstrap(&lo2, &hi2, NULL, a2, t, 1, doc, n, RES, 3, &e), "%s", e.msg);
    CHECK_CLOSE(lo2, 1.5 / M_LN2, 1e-12, 0.0, "one ratio: lo");
    CHECK_CLOSE(hi2, 1.5 / M_LN2, 1e-12, 0.0, "one ratio: hi");
    CHECK(!base_lm_bootstrap(&lo2, &hi2, NULL, a, t, 1, doc, n, RES, 11, &e) && lo2 == lo &&
              hi2 == hi,
          "same seed, same interval");
    CHECK(!base_lm_bootstrap(&lo2, &hi2, NULL, a, t, 1, doc, 0, RES, 11, &e) && isnan(lo2) &&
          isnan(hi2), "no rows: NaN");
    return check_exit("test_lm_boot");
}
