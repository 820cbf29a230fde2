/* rng.c: xoshiro256** (Blackman & Vigna 2018) seeded by splitmix64; see rng.h. */
#include "rng.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_init(Rng *r, uint64_t seed, uint64_t stream) {
    /* mix the stream id through one splitmix64 step so that (seed, stream) pairs that
       differ in either give unrelated starting points */
    uint64_t x = stream;
    uint64_t x0 = seed ^ splitmix64(&x);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x0);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1; /* all-zero is a fixed point */
    r->has_spare = 0;
    r->spare = 0.0;
}

uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

float rng_uniformf(Rng *r) { return (float)(rng_u64(r) >> 40) * 0x1.0p-24f; }

uint64_t rng_below(Rng *r, uint64_t n) {
    /* Lemire: multiply a 64-bit draw by n, keep the high word; reject the small biased
       band of low words below 2^64 mod n. */
    uint64_t x = rng_u64(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t thresh = (0 - n) % n;
        while (lo < thresh) {
            x = rng_u64(r);
            m = (__uint128_t)x * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double rng_normal(Rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* Box-Muller: u1 in (0, 1] so that log(u1) is finite */
    double u1 = 1.0 - rng_uniform(r);
    double u2 = rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586476925 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

void rng_shuffle(Rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

void rng_save(const Rng *r, uint64_t out[RNG_STATE_WORDS]) {
    for (int i = 0; i < 4; i++) out[i] = r->s[i];
    out[4] = r->has_spare;
    memcpy(&out[5], &r->spare, sizeof(double));
}

void rng_load(Rng *r, const uint64_t in[RNG_STATE_WORDS]) {
    for (int i = 0; i < 4; i++) r->s[i] = in[i];
    r->has_spare = in[4];
    memcpy(&r->spare, &in[5], sizeof(double));
}
