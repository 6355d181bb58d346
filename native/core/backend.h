// The interface every backend implements: one virtual per kernel of the op table (op.h).
//
// The dispatcher (ops.cpp) has already checked shapes, dtypes and devices and allocated
// every output with the right shape before a backend method runs, so implementations only
// compute. Shapes are documented at each method: x (N, C, H, W) etc.
//
// A backend may live in a shared library loaded at run time (the CUDA backend): it then
// exports `newton_backend_create` (see registry.h) and is compiled against these headers.
#pragma once

#include <cstdint>
#include <string>

#include "allocator.h"
#include "dtype.h"
#include "op.h"
#include "op_params.h"
#include "tensor.h"

namespace newton {

// Bumped whenever this interface changes, so that a stale backend library is refused.
inline constexpr int kBackendAbiVersion = 3;

enum class BinaryOp : int { Add, Sub, Mul };

class Backend {
 public:
  virtual ~Backend() = default;

  virtual Device device() const = 0;
  virtual Allocator& allocator() = 0;
  // One line for devices(): library versions, threads, card name...
  virtual std::string description() const = 0;
  virtual bool supports(Op op, DType dtype) const = 0;
  // Waits for queued work (a no-op on the CPU).
  virtual void synchronize() {}

  // --- data movement ------------------------------------------------------------
  // dst.nbytes() bytes from host memory into dst / from src into host memory.
  virtual void copy_from_host(Tensor& dst, const void* src) = 0;
  virtual void copy_to_host(void* dst, const Tensor& src) = 0;
  virtual void fill(Tensor& t, double value) = 0;
  virtual void copy(Tensor& dst, const Tensor& src) = 0;  // same shape and dtype
  virtual void cast(Tensor& dst, const Tensor& src) = 0;  // same shape, any dtypes

  // --- element-wise (all tensors of one shape) ---------------------------------
  virtual void binary(BinaryOp op, Tensor& out, const Tensor& a, const Tensor& b) = 0;
  virtual void scale(Tensor& out, const Tensor& x, double alpha) = 0;      // out = αx
  virtual void axpy(Tensor& y, double alpha, const Tensor& x) = 0;         // y += αx
  virtual void relu(Tensor& out, const Tensor& x) = 0;                     // max(x, 0)
  virtual void relu_mask(Tensor& out, const Tensor& x) = 0;                // 1[x > 0]
  virtual void relu_backward(Tensor& dx, const Tensor& dy, const Tensor& x) = 0;  // dy⊙1[x>0]

  // --- reductions, accumulated in double, independent of the thread count --------
  virtual double sum(const Tensor& x) = 0;
  virtual double dot(const Tensor& a, const Tensor& b) = 0;
  virtual double squared_norm(const Tensor& x) = 0;
  // The conjugate-gradient solver's fused vector update (x, r, p, q of one shape; x and r
  // do not overlap each other, p or q): x += αp, r −= αq in the tensors' dtype (α rounded
  // to it, no FMA contraction), returns rᵀr of the updated r accumulated in double.
  virtual double cg_update(Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha) = 0;

  // --- linear algebra -------------------------------------------------------------
  // c: (M, N) = alpha·op(a)·op(b) + beta·c, op(a): (M, K), op(b): (K, N); 2-D, row-major.
  virtual void gemm(Tensor& c, const Tensor& a, const Tensor& b, const GemmParams& p) = 0;
  // y: (N, C, ...) += b[c] for every position; b: (C).
  virtual void bias_add(Tensor& y, const Tensor& b) = 0;
  // db: (C) = Σ over every axis but 1 of dy: (N, C, ...).
  virtual void bias_grad(Tensor& db, const Tensor& dy) = 0;

  // --- convolution: x (N, C, H, W), w (K, C, R, S), y (N, K, P, Q) ------------------
  virtual void conv2d_forward(Tensor& y, const Tensor& x, const Tensor& w, const Conv2dParams& p) = 0;
  virtual void conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w,
                                    const Conv2dParams& p) = 0;
  virtual void conv2d_backward_filter(Tensor& dw, const Tensor& dy, const Tensor& x,
                                      const Conv2dParams& p) = 0;

  // --- pooling: x (N, C, H, W), y (N, C, P, Q); argmax (N, C, P, Q) int32 holds the
  // index h·W + w, within its (n, c) plane of x, of the element each output took.
  virtual void max_pool2d_forward(Tensor& y, Tensor& argmax, const Tensor& x, const Pool2dParams& p) = 0;
  // With relu_input (the input of a ReLU that precedes the pooling, shape of dx), the ReLU's
  // backward is fused in: dx = 1[relu_input > 0] ⊙ (the pooling gradient), in one pass.
  virtual void max_pool2d_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax, const Pool2dParams& p,
                                   const Tensor* relu_input) = 0;
  // The R-operator of max pooling: ry (N, C, P, Q) = rx (N, C, H, W) gathered at argmax
  // (N, C, P, Q), the forward counterpart of max_pool2d_backward.
  virtual void max_pool2d_jvp(Tensor& ry, const Tensor& rx, const Tensor& argmax, const Pool2dParams& p) = 0;
  virtual void avg_pool2d_forward(Tensor& y, const Tensor& x, const Pool2dParams& p) = 0;
  virtual void avg_pool2d_backward(Tensor& dx, const Tensor& dy, const Pool2dParams& p) = 0;

  // --- losses: z (N, K) network outputs, y (N, K) targets; values are sums over N ----
  virtual double squared_loss(const Tensor& z, const Tensor& y) = 0;            // Σ‖z−y‖²
  virtual void squared_loss_grad(Tensor& dz, const Tensor& z, const Tensor& y) = 0;  // 2(z−y)
  virtual void softmax(Tensor& p, const Tensor& z) = 0;                          // row-wise
  virtual double softmax_cross_entropy(const Tensor& z, const Tensor& y) = 0;   // −Σ y·log p
  virtual void softmax_cross_entropy_grad(Tensor& dz, const Tensor& z, const Tensor& y) = 0;  // p − y
  // out = B·u per row, B = diag(p) − ppᵀ: out = p⊙u − p(pᵀu).
  virtual void softmax_cross_entropy_hvp(Tensor& out, const Tensor& z, const Tensor& u) = 0;

  // --- counter-based random numbers (see note [random numbers] in random.h) ---------
  virtual void random_uniform(Tensor& t, uint64_t seed, uint64_t offset, double low, double high) = 0;
  virtual void random_normal(Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) = 0;
};

}  // namespace newton
