/* kernel_tiles.h: internal to attention/kernel.c and attention/kernel_tiles.c: the register-
 * tiled products of the attention kernel (S = (scale Q) K^T over packed key panels, O = E V
 * over chunks of keys; the math and the choice between them and cblas_sgemm are in kernel.c)
 * and what both files share: the code-generation pragmas, the vector type, the panel width.
 * Include it first: its pragmas apply to everything after it. */
#ifndef DRRL_ATTENTION_KERNEL_TILES_H
#define DRRL_ATTENTION_KERNEL_TILES_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
/* GCC 12 tunes -march=native on Zen 4 as znver3 (128-bit auto-vectorisation) and -std=c11
   turns FMA contraction off: the softmax and the tiles want 512-bit vectors and FMAs. */
#pragma GCC target("prefer-vector-width=512")
#pragma GCC optimize("fp-contract=fast")
#endif

#include <stddef.h>

/* -DATTN_NO_VECTOR: the portable cblas_sgemm path only (for testing it) */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(ATTN_NO_VECTOR)
#define ATTN_TILED 1
#define ATTN_INLINE static inline __attribute__((always_inline))
typedef float v16 __attribute__((vector_size(64)));
#if defined(__x86_64__) && defined(__AVX512F__)
/* keep a loaded vector in a register: GCC otherwise re-reads it as the memory operand of
   every FMA, which makes the values tile load-bound (Zen 4: one 512-bit load per cycle) */
#define ATTN_IN_REG(x) __asm__("" : "+v"(x))
#else
#define ATTN_IN_REG(x) (void)0
#endif
#else
#define ATTN_TILED 0
#endif

/* keys per packed panel of K^T (two vectors of 16) */
#define KP_W 32
/* keys per chunk of the values product (chunk of V: ATTN_PV_CHUNK x kv floats in L1) */
#ifndef ATTN_PV_CHUNK
#define ATTN_PV_CHUNK 64
#endif

#if ATTN_TILED
/* kp (N / KP_W panels, each (kqp, KP_W)): the full panels of K (N, >= kqp; row stride ld) */
void attn_tile_pack_keys(float *kp, const float *kh, int ld, int N, int kqp);
/* qs (m, kq): rows [0, m) of q (row stride ld) times scale, in groups of 8 rows, c-major */
void attn_tile_pack_queries(float *qs, const float *q, int ld, int m, int kq, float scale);
/* S (m, N; row stride lds) = qs K^T: packed panels kp of K (N, kq; row stride ld) */
void attn_tile_scores(float *S, const float *qs, int m, int kq, const float *kp, int kqp,
                      const float *kh, int ld, int N, size_t lds);
/* O (m, kv; row stride ldo) = P (m, N; row stride ldp) V (N, kv; row stride ldv), or O +=
   that when acc; kv % 16 == 0 */
void attn_tile_values(float *o, int ldo, const float *P, size_t ldp, int m, int N,
                      const float *vh, int ldv, int kv, int acc);
#endif

#endif
