// 2-D convolution, NCHW (note [op declarations] in op.h): x (N, C, H, W), w (K, C, R, S),
// y (N, K, P, Q), a cross-correlation with zero padding as in every CNN library.
#pragma once

#include "../op.h"
#include "channel.h"

namespace newton {
namespace ops {

#define NEWTON_CONV_OPS(X) X(Conv2d) X(Conv2dBackwardData) X(Conv2dBackwardFilter)

// The output shape (N, K, P, Q) for input and filter shapes; checks both and the params.
inline Shape conv2d_output_shape(const char* op, const Shape& x, const Shape& w, const Conv2dParams& p) {
  check::ndim(op, "x", x, 4, "(N, C, H, W)");
  check::nonempty(op, "x", x);
  check::ndim(op, "w", w, 4, "(K, C, R, S)");
  check::nonempty(op, "w", w);
  check::positive(op, "stride", p.stride_h);
  check::positive(op, "stride", p.stride_w);
  check::non_negative(op, "padding", p.pad_h);
  check::non_negative(op, "padding", p.pad_w);
  if (w[1] != x[1]) {
    fail<ShapeError>(op, ": w has ", w[1], " input channels (shape ", fmt(w), ") but x has ", x[1], " (shape ", fmt(x), ")");
  }
  const int64_t padded_h = x[2] + 2 * p.pad_h, padded_w = x[3] + 2 * p.pad_w;
  if (w[2] > padded_h || w[3] > padded_w) {
    fail<ShapeError>(op, ": kernel ", w[2], "x", w[3], " of w ", fmt(w), " is larger than the padded input ", padded_h,
                     "x", padded_w, " of x ", fmt(x));
  }
  return {x[0], w[0], (padded_h - w[2]) / p.stride_h + 1, (padded_w - w[3]) / p.stride_w + 1};
}

// y = W∗x (+ b): x (N, C, H, W), w (K, C, R, S), b (K) or absent -> y (N, K, P, Q).
struct Conv2d {
  static constexpr OpInfo info{"conv2d", Pass::Forward, "", "",
                               "2-D convolution (cross-correlation), NCHW: x (N, C, H, W), w (K, C, R, S), b (K) or null -> (N, K, P, Q)"};
  static constexpr std::array<const char*, 4> args{"x", "w", "b", "options"};
  // y: (N, K, P, Q) = x ⋆ w (+ b when b is not null): a backend adds the bias in its output
  // write where it can (oneDNN on the CPU, onednn_conv.h), else with its BiasAdd kernel.
  using Kernel = void(Backend&, Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p);
  // For the profiler (profile.h): 2·N·K·P·Q·C·R·S, as every pass of conv2d.
  static double flops(const Tensor& y, const Tensor&, const Tensor& w, const Tensor*, const Conv2dParams&) {
    return 2.0 * static_cast<double>(y.numel()) * static_cast<double>(w.numel() / w.dim(0));
  }
  static Tensor run(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p) {
    const char* op = info.name;
    check::floating(op, "x", x);
    check::like(op, "w", w, "x", x);
    const Shape y_shape = conv2d_output_shape(op, x.shape(), w.shape(), p);
    if (b != nullptr) {
      check::like(op, "b", *b, "x", x);
      if (b->ndim() != 1 || b->dim(0) != w.dim(0)) {
        fail<ShapeError>(op, ": b must have shape (", w.dim(0), ") to match the filters of w ", fmt(w.shape()),
                         ", got shape ", fmt(b->shape()));
      }
      backend_running<BiasAdd>(op, x);  // the kernels fall back to it
    }
    backend_running<Conv2d>(op, x);
    Tensor y = allocate_like(op, x, y_shape);
    launch<Conv2d>(x, y, x, w, b, p);
    return y;
  }
};

// dx (xShape) = Wᵀ∗dy: the gradient of conv2d with respect to x.
struct Conv2dBackwardData {
  static constexpr OpInfo info{"conv2dBackwardData", Pass::Vjp, "conv2d", "x",
                               "The gradient of conv2d with respect to its input: dy (N, K, P, Q), w (K, C, R, S) -> xShape"};
  static constexpr std::array<const char*, 4> args{"dy", "w", "xShape", "options"};
  using Kernel = void(Backend&, Tensor& dx, const Tensor& dy, const Tensor& w, const Conv2dParams& p);
  static double flops(const Tensor&, const Tensor& dy, const Tensor& w, const Conv2dParams&) {
    return 2.0 * static_cast<double>(dy.numel()) * static_cast<double>(w.numel() / w.dim(0));
  }
  static Tensor run(const Tensor& dy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p) {
    const char* op = info.name;
    check::floating(op, "dy", dy);
    check::like(op, "w", w, "dy", dy);
    const Shape y_shape = conv2d_output_shape(op, x_shape, w.shape(), p);
    check::shape_is(op, "dy", dy.shape(), y_shape, "the output for xShape and w");
    backend_running<Conv2dBackwardData>(op, dy);
    Tensor dx = allocate_like(op, dy, x_shape);
    launch<Conv2dBackwardData>(dy, dx, dy, w, p);
    return dx;
  }
};

// dw (wShape) = dy⋆x: the gradient of conv2d with respect to w.
struct Conv2dBackwardFilter {
  static constexpr OpInfo info{"conv2dBackwardFilter", Pass::Vjp, "conv2d", "w",
                               "The gradient of conv2d with respect to its filter: dy (N, K, P, Q), x (N, C, H, W) -> wShape"};
  static constexpr std::array<const char*, 4> args{"dy", "x", "wShape", "options"};
  using Kernel = void(Backend&, Tensor& dw, const Tensor& dy, const Tensor& x, const Conv2dParams& p);
  static double flops(const Tensor& dw, const Tensor& dy, const Tensor&, const Conv2dParams&) {
    return 2.0 * static_cast<double>(dy.numel()) * static_cast<double>(dw.numel() / dw.dim(0));
  }
  static Tensor run(const Tensor& dy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p) {
    const char* op = info.name;
    check::floating(op, "dy", dy);
    check::like(op, "x", x, "dy", dy);
    const Shape y_shape = conv2d_output_shape(op, x.shape(), w_shape, p);
    check::shape_is(op, "dy", dy.shape(), y_shape, "the output for x and wShape");
    backend_running<Conv2dBackwardFilter>(op, dy);
    Tensor dw = allocate_like(op, dy, w_shape);
    launch<Conv2dBackwardFilter>(dy, dw, dy, x, p);
    return dw;
  }
};

}  // namespace ops
}  // namespace newton
