/* policy_internal.h: the Policy struct of agent/policy.h, shared by policy.c (layout, init,
 * forward) and policy_backward.c. Not for callers: they see Policy as opaque.
 * Shapes: Mx = max_batch, T = n_tokens, D = token_dim, W = width, F = ffn, A = n_actions,
 * nh = n_heads (action heads), R = Mx * T rows (every token of every observation). */
#ifndef DRRL_AGENT_POLICY_INTERNAL_H
#define DRRL_AGENT_POLICY_INTERNAL_H

#include "agent/policy.h"
#include "nn/mhsa.h"

/* tensors: embed (2) + 16 per block + ln_out (2) + pi (2) + v (2) <= POLICY_MAX_TENSORS */
#define POLICY_MAX_LAYERS ((POLICY_MAX_TENSORS - 8) / 16)
#define POLICY_LN_EPS 1e-5f /* torch.nn.LayerNorm's default */

typedef struct {
    float *ln_a_w, *ln_a_b; /* (W), (W) pre-attention layer norm */
    MhsaParams attn;        /* 4 x (W, W) + 4 x (W): w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o */
    float *ln_f_w, *ln_f_b; /* (W), (W) pre-FFN layer norm */
    float *w1, *b1;         /* (F, W), (F) */
    float *w2, *b2;         /* (W, F), (W) */
} PolicyBlock;

/* PolicyWeights: pointers into the flat parameter (or gradient) buffer */
typedef struct {
    float *emb_w, *emb_b; /* (W, D), (W) */
    PolicyBlock blk[POLICY_MAX_LAYERS];
    float *ln_o_w, *ln_o_b; /* (W), (W) */
    float *pi_w, *pi_b;     /* (A, W), (A) */
    float *v_w, *v_b;       /* (1, W), (1) */
} PolicyWeights;

typedef struct {
    float *xa, *mean_a, *rstd_a; /* (R, W), (R), (R): LN_a(h) and its statistics */
    MhsaActs mh;                 /* q, k, v, a (R, W); att (Mx, heads, T, T); scratch */
    float *r1;                   /* (R, W) h + MHSA(LN_a(h)) */
    float *xf, *mean_f, *rstd_f; /* (R, W), (R), (R): LN_f(r1) */
    float *f1;                   /* (R, F) W1 xf + b1 (GELU input) */
    float *g;                    /* (R, F) gelu(f1) */
    float *out;                  /* (R, W) block output r1 + W2 g + b2 */
} PolicyBlockActs;

enum { POLICY_INIT_ZERO, POLICY_INIT_ONE, POLICY_INIT_ORTHO };

struct Policy {
    PolicyConfig c;
    PolicyTensor tensor[POLICY_MAX_TENSORS];
    int n_tensors;
    size_t n_params;
    int init_kind[POLICY_MAX_TENSORS];    /* POLICY_INIT_* per tensor */
    double init_gain[POLICY_MAX_TENSORS]; /* orthogonal gain */
    float **pfield[POLICY_MAX_TENSORS], **gfield[POLICY_MAX_TENSORS]; /* fields of p, g */
    float *params, *grads; /* (n_params) each, tensor-table order, no padding */
    PolicyWeights p, g;    /* pointers into params, grads */

    /* forward activations for up to Mx observations */
    uint8_t *tok_mask; /* (Mx, T) the last forward's token mask, 0/1 */
    uint8_t *act_mask; /* (Mx, nh, A) the last forward's choice mask, 0/1 */
    float *x0;         /* (R, D) obs with masked-off tokens zeroed */
    float *h0;         /* (R, W) token embedding */
    PolicyBlockActs blk[POLICY_MAX_LAYERS];
    float *tmp;                  /* (R, W) branch output (attention, FFN) before the add */
    float *z, *mean_o, *rstd_o;  /* (R, W), (R), (R): LN_out(h_L) */
    float *pi_in;                /* (Mx * nh, W) z rows of the head tokens */
    float *logits;               /* (Mx * nh, A) */
    float *v_in;                 /* (Mx, W) z rows of the value token */

    /* backward work */
    float *dlg;    /* (Mx * nh, A) dlogits with ignored entries zeroed */
    float *dpi_in; /* (Mx * nh, W) */
    float *dv_in;  /* (Mx, W) */
    float *dz;     /* (R, W) d loss / d z */
    float *dh;     /* (R, W) d loss / d residual stream */
    float *dx;     /* (R, W) d loss / d a layer norm's output */
    float *dg;     /* (R, F) d loss / d gelu output */
    float *df;     /* (R, F) d loss / d gelu input */
    MhsaGradActs mg; /* dq, dk, dv, da (R, W), shared by the blocks */

    double *init_work; /* (largest weight matrix) orthogonal init scratch */
    int M;             /* observations of the last successful forward; 0: none */
    MemPlan plan;      /* everything above in one allocation */
};

#endif
