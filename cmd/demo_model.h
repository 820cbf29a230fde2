/* demo_model.h: the small post-LN transformer classifier that drrl-demo trains to show the
 * numeric core working end to end (embeddings, layer norm, multi-head self-attention,
 * GELU feed-forward, dropout, tanh pooler, cross-entropy, AdamW). The real frozen model
 * of the project lives in env/; this one exists only for the demonstration.
 *
 *   x0 = LN_e(tok[ids] + pos[n])                                      (B, N, C)
 *   per layer l:  r1 = x + drop(MHSA(x));  y = LN1(r1)
 *                 r2 = y + drop(W2 gelu(W1 y + b1) + b2);  x' = LN2(r2)
 *   pooled = tanh(Wp x_L[:, 0] + bp);  logits = Wc pooled + bc          (B, K) */
#ifndef DRRL_CMD_DEMO_MODEL_H
#define DRRL_CMD_DEMO_MODEL_H

#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/rng.h"
#include "nn/mhsa.h"

#define DEMO_MAX_LAYERS 8
#define DEMO_MAX_TENSORS (4 + 8 * DEMO_MAX_LAYERS + 4 + 4 + 4 * DEMO_MAX_LAYERS)

typedef struct {
    int V, N, C, H, F, L, K; /* vocab, max length, width, heads, FFN width, layers, classes */
    int B;                   /* batch rows the activations are planned for */
    float dropout;
    float ln_eps;
} DemoDims;

typedef struct {
    MhsaParams attn;
    float *ln1_w, *ln1_b; /* (C) */
    float *w1, *b1;       /* (F, C), (F) */
    float *w2, *b2;       /* (C, F), (C) */
    float *ln2_w, *ln2_b; /* (C) */
} DemoLayer;

typedef struct {
    float *tok, *pos;         /* (V, C), (N, C) */
    float *ln_e_w, *ln_e_b;   /* (C) */
    DemoLayer layer[DEMO_MAX_LAYERS];
    float *pool_w, *pool_b;   /* (C, C), (C) */
    float *cls_w, *cls_b;     /* (K, C), (K) */
} DemoParams;

/* one named tensor of the parameter set (for saving, loading and optimizer groups) */
typedef struct {
    char name[64];
    float **ptr;  /* into a DemoParams */
    int ndim;
    int64_t dims[2];
    int decay;    /* 1: weight decay applies (matrices); 0: biases, norms */
} DemoTensor;

typedef struct {
    DemoTensor t[DEMO_MAX_TENSORS];
    int n;
} DemoTensorList;

/* per-layer activations kept for the backward */
typedef struct {
    MhsaActs mh;
    float *attn_out, *r1, *y, *h, *g, *f, *r2, *out; /* (B,N,C) except h, g: (B,N,F) */
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd; /* (B*N) */
    uint8_t *drop1, *drop2;                            /* (B*N*C) dropout masks */
} DemoLayerActs;

typedef struct {
    int32_t *pos_ids;              /* (B*N) position of every token */
    float *emb, *x0;               /* (B,N,C) */
    float *lne_mean, *lne_rstd;    /* (B*N) */
    DemoLayerActs layer[DEMO_MAX_LAYERS];
    float *cls_in, *pre, *pooled;  /* (B,C) */
    float *logits, *probs, *losses; /* (B,K), (B,K), (B) */
    /* backward scratch */
    MhsaGradActs mg;
    float *dA, *dB, *dC;           /* (B,N,C) */
    float *dF1, *dF2;              /* (B,N,F) */
    float *dpooled, *dpre, *dcls, *dlogits; /* (B,C) x3, (B,K) */
} DemoActs;

typedef struct {
    DemoDims d;
    MemPlan param_plan, grad_plan, act_plan;
    DemoParams p, g;
    DemoActs a;
    DemoTensorList tensors;       /* names and pointers into p */
    DemoTensorList grad_tensors;  /* same layout, pointers into g */
} DemoModel;

/* demo_model_init: plan and allocate parameters, gradients and activations (three
 * allocations in all); parameters are initialised N(0, 0.02) for matrices and embeddings,
 * ones for layer-norm gains, zeros for biases, from rng. */
Status demo_model_init(DemoModel *m, DemoDims d, Rng *rng, Err *e);
void demo_model_free(DemoModel *m);

/* demo_model_forward: logits (a.logits) and, if targets != NULL, the mean cross-entropy
 * (returned) for B' <= d.B sequences of ids (B', N) with key mask (B', N). training
 * enables dropout (consuming rng). */
float demo_model_forward(DemoModel *m, const int32_t *ids, const uint8_t *mask,
                         const int32_t *targets, int Bp, int training, Rng *rng);

/* demo_model_backward: after a training forward with targets, zero and fill m->g. */
void demo_model_backward(DemoModel *m, const int32_t *ids, const int32_t *targets, int Bp);

/* demo_model_flops: forward FLOPs per batch of Bp sequences at length N (counted from the
 * layers' own formulas). */
int64_t demo_model_flops(const DemoDims *d, int Bp);

#endif
