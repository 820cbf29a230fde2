/* rng.h: a seeded pseudo-random stream (xoshiro256**) whose whole state can be saved
 * and restored bit-exactly. Each consumer (data shuffling, dropout, policy sampling, ...)
 * owns one Rng; streams derived from one seed are decorrelated by a stream id that goes
 * through splitmix64 with the seed. Normal deviates use the Box-Muller transform and
 * cache the second deviate; the cache is part of the saved state. */
#ifndef DRRL_CORE_RNG_H
#define DRRL_CORE_RNG_H

#include <stdint.h>

#define RNG_STATE_WORDS 6 /* s[0..3], has_spare, bits of spare */

typedef struct {
    uint64_t s[4];
    uint64_t has_spare; /* 1 if spare holds an unused normal deviate */
    double spare;
} Rng;

/* rng_init: seed the stream (seed, stream) via splitmix64; any values allowed. */
void rng_init(Rng *r, uint64_t seed, uint64_t stream);
/* rng_u64: next 64 random bits. */
uint64_t rng_u64(Rng *r);
/* rng_uniform: double in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* rng_uniformf: float in [0, 1) with 24 random bits. */
float rng_uniformf(Rng *r);
/* rng_below: integer uniform in [0, n), unbiased (Lemire's method); n >= 1. */
uint64_t rng_below(Rng *r, uint64_t n);
/* rng_normal: standard normal deviate (Box-Muller, one cached). */
double rng_normal(Rng *r);
/* rng_shuffle: Fisher-Yates permutation of a[0..n). */
void rng_shuffle(Rng *r, int *a, int n);
/* rng_save / rng_load: the full state as RNG_STATE_WORDS words (for checkpoints). */
void rng_save(const Rng *r, uint64_t out[RNG_STATE_WORDS]);
void rng_load(Rng *r, const uint64_t in[RNG_STATE_WORDS]);

#endif
