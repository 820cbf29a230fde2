/* activation.h: elementwise activations on flat arrays of n elements: exact (erf) GELU
 * as in BERT / torch default, its tanh approximation (GPT-2), and tanh. */
#ifndef DRRL_NN_ACTIVATION_H
#define DRRL_NN_ACTIVATION_H

#include <stddef.h>

/* gelu_forward: out = 0.5 x (1 + erf(x / sqrt 2)) = x Phi(x). out may alias inp. */
void gelu_forward(float *out /* (n) */, const float *inp /* (n) */, size_t n);
/* gelu_backward: dinp += dout * (Phi(x) + x phi(x)); needs the forward INPUT. */
void gelu_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                   const float *inp /* (n) */, size_t n);

/* gelu_tanh_forward: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's
 * "gelu_new" (torch's gelu(approximate='tanh')). out may alias inp. */
void gelu_tanh_forward(float *out /* (n) */, const float *inp /* (n) */, size_t n);
/* gelu_tanh_backward: dinp += dout * d/dx of the above; needs the forward INPUT. */
void gelu_tanh_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                        const float *inp /* (n) */, size_t n);

/* tanh_forward: out = tanh(x). out may alias inp. */
void tanh_forward(float *out /* (n) */, const float *inp /* (n) */, size_t n);
/* tanh_backward: dinp += dout * (1 - y^2); needs the forward OUTPUT y. */
void tanh_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                   const float *out /* (n) */, size_t n);

#endif
