/* suggest.c: edit distance and the nearest name (see suggest.h for the recurrence). */
#include "core/suggest.h"

#include <string.h>

int suggest_distance(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na >= SUGGEST_MAX_LEN || nb >= SUGGEST_MAX_LEN) return SUGGEST_MAX_LEN;
    int prev[SUGGEST_MAX_LEN + 1], cur[SUGGEST_MAX_LEN + 1]; /* rows i-1 and i of d */
    for (size_t j = 0; j <= nb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int m = del < ins ? del : ins;
            cur[j] = m < sub ? m : sub;
        }
        memcpy(prev, cur, sizeof(int) * (nb + 1));
    }
    return prev[nb];
}

int suggest_near(const char *word, int d) {
    int limit = (int)strlen(word) / 3;
    return d <= (limit > 1 ? limit : 1);
}

int suggest_nearest(const char *word, const char *const *cands, int n) {
    int best = -1, best_d = SUGGEST_MAX_LEN + 1;
    for (int i = 0; i < n; i++) {
        int d = suggest_distance(word, cands[i]);
        if (d < best_d) best = i, best_d = d;
    }
    return best >= 0 && suggest_near(word, best_d) ? best : -1;
}
