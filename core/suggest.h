/* suggest.h: "did you mean": the nearest of a list of names to a misspelt one.
 *
 * Distance is the Levenshtein edit distance (insertions, deletions, substitutions, each 1)
 * computed by the usual two-row dynamic programme: d[i][j] = min(d[i-1][j] + 1,
 * d[i][j-1] + 1, d[i-1][j-1] + [a_i != b_j]), O(|a| |b|) time, O(|b|) memory. A candidate is
 * suggested only when it is near: distance <= max(1, |word| / 3) (a third of the letters
 * wrong reads as a typo; more reads as another word). */
#ifndef DRRL_CORE_SUGGEST_H
#define DRRL_CORE_SUGGEST_H

#define SUGGEST_MAX_LEN 128 /* longer words are never near anything */

/* suggest_distance: the edit distance between a and b (both shorter than SUGGEST_MAX_LEN;
   longer: SUGGEST_MAX_LEN). */
int suggest_distance(const char *a, const char *b);

/* suggest_near: 1 when a candidate at distance d from word is near enough to suggest. */
int suggest_near(const char *word, int d);

/* suggest_nearest: index of the nearest candidate that is near enough (the first of equals),
   or -1. */
int suggest_nearest(const char *word, const char *const *cands, int n);

#endif
