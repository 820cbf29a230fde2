/* lm_cache.h: incremental decoding of a causal decoder (model/lm.h) with a key/value cache,
 * full or low-rank per layer (issue 18, item 5).
 *
 * Step t (the token at position t, t = 0, 1, ...) runs the decoder on that one token against
 * the cache of positions 0 .. t - 1 and appends its own keys and values, so the logits of
 * step t are those of position t of lm_forward (full) or of the ranked forward at the same
 * ranks (model/ranked.h, one segment per layer), to float rounding. Per layer, u = LN1(x):
 *   full (rank 0):  q = Wq u + bq,  k = Wk u + bk,  v = Wv u + bv            (H dh each)
 *                   cache k, v: 2 H dh floats per token per layer
 *                   o_h = softmax(q_h K_h^T / sqrt(dh)) V_h,  a = Wo o + bo
 *   rank r:         with layer l's factors at rank r (attention/lowrank.h's pack: u~ = [u, 1],
 *                   M_QK = A B^T, M_VO = C D^T, attention/factors.h)
 *                   q~ = u~ A_r,  k~ = u~ B_r,  v~ = u~ C_r                   (H r each)
 *                   cache k~, v~: 2 H r floats per token per layer (the factor space)
 *                   o_h = softmax(q~_h K~_h^T / sqrt(dh)) V~_h (r),  a = [o_h] D_r + bo
 * then x += a; x += W2 act(W1 LN2(x) + b1) + b2; after the last layer logits = LN_f(x) wte^T.
 * Positions: learned (wpe[t], t < max_pos) or the causal convolution, which needs only the
 * last k token ids (kept in a ring). The softmax runs in double (max subtracted).
 *
 * Cache bytes per token: sum over layers of 2 H w 4 bytes (w = dh full, r low-rank); at rank
 * 16 of a head size of 64, 0.25 of the full cache. Memory is planned once for max_ctx
 * positions; nothing allocates in a step. */
#ifndef DRRL_MODEL_LM_CACHE_H
#define DRRL_MODEL_LM_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "model/ranked.h"

typedef struct {
    const Bert *m;                          /* the decoder (not owned) */
    int L, C, H, dh, F, V;
    int max_ctx;                            /* positions planned */
    int t;                                  /* positions cached so far */
    int rank[BERT_MAX_LAYERS];              /* 0: full cache; else the factor rank r */
    const AttnRankPack *pack[BERT_MAX_LAYERS]; /* rank-r packs (NULL for full layers) */
    const float *bo[BERT_MAX_LAYERS];       /* output bias of each layer */
    float *kc[BERT_MAX_LAYERS];             /* (max_ctx, H w) cached keys, w = dh or r */
    float *vc[BERT_MAX_LAYERS];             /* (max_ctx, H w) cached values */
    int32_t *ring;                          /* (k) the last k ids (conv positions) */
    float *x, *u, *a, *f;                   /* (C) residual, LN output, branch outputs */
    float *q, *o;                           /* (H dh) query, head outputs */
    float *h;                               /* (F) MLP hidden */
    float *p;                               /* (max_ctx) one head's scores / probabilities */
    float *logits;                          /* (V) of the last step */
    MemPlan plan;
} LmCache;

/* lm_cache_init: a cache for decoder m (c.arch decoder) of max_ctx positions (learned
 * positions: at most max_pos). rank (L) or NULL (every layer full): 0 full, else a rank of
 * R's grid of kind (RANK_PLAIN or RANK_WHITENED: R's factors, which must outlive the cache;
 * R may be NULL when every layer is full). ST_INVALID naming the layer on a bad rank. */
Status lm_cache_init(LmCache *c, const Bert *m, const Ranked *R, RankKind kind,
                     const int *rank /* (L) or NULL */, int max_ctx, Err *e);
void lm_cache_free(LmCache *c);

/* lm_cache_reset: forget every cached position (t = 0). */
void lm_cache_reset(LmCache *c);

/* lm_cache_step: run token id at position t, append its keys and values, t++; c->logits (V)
 * then holds the next token's logits. ST_INVALID when id is out of range or the cache is
 * full (naming max_ctx). */
Status lm_cache_step(LmCache *c, int32_t id, Err *e);

/* lm_cache_bytes_per_token: bytes the cache holds per position, summed over the layers. */
size_t lm_cache_bytes_per_token(const LmCache *c);

#endif
