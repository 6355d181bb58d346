// The ops, declared once. Each function checks its arguments (dtype, device, shapes,
// attributes) with messages that name the op, the argument and the shapes, allocates its
// outputs on the inputs' device and calls that device's backend. Composite ops (linear,
// the squared loss's Hessian product) are written here once on top of backend kernels.
//
// Note [error messages]
// ~~~~~~~~~~~~~~~~~~~~~
// Every message starts with the JS name of the op, then names the argument as the JS API
// does: "conv2d: w must have 4 dimensions (K, C, R, S), got shape (3, 3)". The N-API layer
// passes them through unchanged, so tests can match them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"
#include "op_params.h"
#include "tensor.h"

namespace newton {
namespace ops {

// --- creation and data movement -------------------------------------------------
Tensor empty(const Shape& shape, DType dtype, Device device);
Tensor from_host(const void* data, const Shape& shape, DType dtype, Device device);
void to_host(const Tensor& t, void* dst);  // t.nbytes() bytes
void fill(Tensor& t, double value);
void copy(Tensor& dst, const Tensor& src);
Tensor cast(const Tensor& x, DType dtype);
Tensor clone(const Tensor& x);

// --- element-wise ------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, double alpha);
void axpy(Tensor& y, double alpha, const Tensor& x);  // y += αx, in place
Tensor relu(const Tensor& x);
Tensor relu_mask(const Tensor& x);
Tensor relu_backward(const Tensor& dy, const Tensor& x);

// --- reductions (double accumulation) ---------------------------------------------
double sum(const Tensor& x);
double dot(const Tensor& a, const Tensor& b);
double squared_norm(const Tensor& x);
// The CG solver's fused update, in place: x += αp, r −= αq; returns rᵀr (double) of the new r.
double cg_update(Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha);

// --- linear algebra ------------------------------------------------------------------
// Returns alpha·op(a)·op(b) (+ beta·c when `c` is given; c is not modified).
Tensor gemm(const Tensor& a, const Tensor& b, const GemmParams& p, const Tensor* c = nullptr);
Tensor bias_add(const Tensor& y, const Tensor& b);
Tensor bias_grad(const Tensor& dy);

// --- linear layer: x (N, I), w (O, I), b (O), y (N, O) = x·wᵀ + b ----------------------
Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor* b);
struct LinearGrads {
  Tensor dx, dw, db;  // db is undefined when the layer has no bias
};
LinearGrads linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, bool has_bias);

// --- convolution ------------------------------------------------------------------------
Shape conv2d_output_shape(const char* op, const Shape& x, const Shape& w, const Conv2dParams& p);
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p);
Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p);
Tensor conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p);

// --- pooling -------------------------------------------------------------------------------
Shape pool2d_output_shape(const char* op, const Shape& x, const Pool2dParams& p);
struct MaxPoolResult {
  Tensor y, argmax;
};
MaxPoolResult max_pool2d_forward(const Tensor& x, const Pool2dParams& p);
Tensor max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Shape& x_shape, const Pool2dParams& p);
// reluBackward(maxPool2dBackward(dy, argmax, relu_input's shape), relu_input) in one pass: the
// backward of ReLU → max pooling, the pattern of every conv block of the paper's CNNs.
Tensor max_pool2d_relu_backward(const Tensor& dy, const Tensor& argmax, const Tensor& relu_input, const Pool2dParams& p);
// R{y} = R{x}[argmax]: rx (N, C, H, W), argmax (N, C, P, Q) int32 from maxPool2d -> (N, C, P, Q).
Tensor max_pool2d_jvp(const Tensor& rx, const Tensor& argmax, const Pool2dParams& p);
Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d_backward(const Tensor& dy, const Shape& x_shape, const Pool2dParams& p);

// --- losses: z (N, K), y (N, K); values are sums over the batch, gradients per sample ----
double squared_loss(const Tensor& z, const Tensor& y);
Tensor squared_loss_grad(const Tensor& z, const Tensor& y);
Tensor squared_loss_hvp(const Tensor& z, const Tensor& u);  // B·u = 2u
Tensor softmax(const Tensor& z);
double softmax_cross_entropy(const Tensor& z, const Tensor& y);
Tensor softmax_cross_entropy_grad(const Tensor& z, const Tensor& y);
Tensor softmax_cross_entropy_hvp(const Tensor& z, const Tensor& u);

// --- random numbers (note [random numbers] in random.h) -------------------------------------
void random_uniform(Tensor& t, uint64_t seed, uint64_t offset, double low, double high);
void random_normal(Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev);

}  // namespace ops
}  // namespace newton
