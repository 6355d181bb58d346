// 2-D convolution, NCHW (note [op declarations] in op.h): x (N, C, H, W), w (K, C, R, S),
// y (N, K, P, Q), a cross-correlation with zero padding as in every CNN library.
#pragma once

#include <optional>
#include <tuple>

#include "../op.h"
#include "channel.h"

namespace newton {
namespace ops {

#define NEWTON_CONV_OPS(X) \
  X(Conv2d) X(Conv2dBackwardData) X(Conv2dBackwardFilter) X(Conv2dRelu) X(Conv2dBackward) X(Conv2dJvp)

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

namespace detail {
// b: (K) for the filters of w, or absent.
inline void check_conv_bias(const char* op, const char* arg, const Tensor* b, const Tensor& w, const char* like_arg,
                            const Tensor& like) {
  if (b == nullptr) return;
  check::like(op, arg, *b, like_arg, like);
  if (b->ndim() != 1 || b->dim(0) != w.dim(0)) {
    fail<ShapeError>(op, ": ", arg, " must have shape (", w.dim(0), ") to match the filters of w ", fmt(w.shape()),
                     ", got shape ", fmt(b->shape()));
  }
}
}  // namespace detail

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
    detail::check_conv_bias(op, "b", b, w, "x", x);
    if (b != nullptr) backend_running<BiasAdd>(op, x);  // the kernels fall back to it
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

// Note [fused conv passes]
// ~~~~~~~~~~~~~~~~~~~~~~~~
// Three ops save whole passes over a convolution's activations (issue 13, "fewer passes"):
// - conv2dRelu: relu(x ⋆ w + b) with the bias and the ReLU applied while the GEMM's result is
//   scattered to NCHW. The same roundings in the same order as conv2d + relu (the GEMM's sum,
//   then + b, then max), so bit for bit the composition on a backend whose conv2d kernel is
//   the same GEMM. relu(s) > 0 exactly where s > 0 (NaN included), so the output serves as
//   the ReLU's mask (reluBackward, maxPool2dReluBackward) in place of the pre-activation:
//   the graph executor's conv → ReLU rewrite relies on that (lib/nn/executor.ts).
// - conv2dBackward: dx, dw and db from one gather of dy into the GEMM layout per chunk of
//   images (the CPU's backward-data and backward-filter kernels each gathered it), the bias
//   sums taken during that gather: in double, per image in a fixed order, then over the
//   images in order, so independent of the thread count (the order differs from biasGrad's;
//   both are exact sums of float terms in double, rounded once).
// - conv2dJvp: R{y} = W ⋆ R{x} + V ⋆ x + v_b as one GEMM of [W V] (K, 2·C·R·S) with the stacked
//   unfolding of R{x} and x: one accumulation, rounded once, instead of two convolutions and
//   an add.

// y = relu(W∗x + b): conv2d and relu in one pass (note [fused conv passes]).
struct Conv2dRelu {
  static constexpr OpInfo info{"conv2dRelu", Pass::Fused, "conv2d", "",
                               "relu(conv2d(x, w, b)) in one pass: x (N, C, H, W), w (K, C, R, S), b (K) or null -> (N, K, P, Q)"};
  static constexpr std::array<const char*, 4> args{"x", "w", "b", "options"};
  // y: (N, K, P, Q) = relu(x ⋆ w + b), b (K) or null.
  using Kernel = void(Backend&, Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p);
  static double flops(const Tensor& y, const Tensor&, const Tensor& w, const Tensor*, const Conv2dParams&) {
    return 2.0 * static_cast<double>(y.numel()) * static_cast<double>(w.numel() / w.dim(0));
  }
  static Tensor run(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p) {
    const char* op = info.name;
    check::floating(op, "x", x);
    check::like(op, "w", w, "x", x);
    const Shape y_shape = conv2d_output_shape(op, x.shape(), w.shape(), p);
    detail::check_conv_bias(op, "b", b, w, "x", x);
    backend_running<Conv2dRelu>(op, x);
    Tensor y = allocate_like(op, x, y_shape);
    launch<Conv2dRelu>(x, y, x, w, b, p);
    return y;
  }
};

// Options of conv2dBackward: stride and padding, and which of dx and db to compute.
struct Conv2dBackwardOptions {
  Conv2dParams conv;
  bool input_gradient = true;  // dx
  bool bias = true;            // db
};

// The gradients of conv2d for dy (N, K, P, Q): dx = Wᵀ∗dy (N, C, H, W) or none, dw = dy⋆x
// (K, C, R, S) and db = Σ dy over n, p, q (K) or none.
struct Conv2dGrads {
  std::optional<Tensor> dx;
  Tensor dw;
  std::optional<Tensor> db;
  static constexpr std::array<const char*, 3> names{"dx", "dw", "db"};
  auto fields() const { return std::tie(dx, dw, db); }
};

struct Conv2dBackward {
  static constexpr OpInfo info{"conv2dBackward", Pass::Vjp, "conv2d", "all",
                               "The gradients of conv2d with dy gathered once: dx (N, C, H, W) or null, dw (K, C, R, S), db (K) or null"};
  static constexpr std::array<const char*, 4> args{"dy", "x", "w", "options"};
  // dx: (N, C, H, W) or null, dw: (K, C, R, S), db: (K) or null; dy: (N, K, P, Q).
  using Kernel = void(Backend&, Tensor* dx, Tensor& dw, Tensor* db, const Tensor& dy, const Tensor& x, const Tensor& w,
                      const Conv2dParams& p);
  static double flops(const Tensor* dx, const Tensor& dw, const Tensor*, const Tensor& dy, const Tensor&, const Tensor&,
                      const Conv2dParams&) {
    const double one = 2.0 * static_cast<double>(dy.numel()) * static_cast<double>(dw.numel() / dw.dim(0));
    return dx != nullptr ? 2 * one : one;
  }
  static Conv2dGrads run(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dBackwardOptions& o) {
    const char* op = info.name;
    check::floating(op, "dy", dy);
    check::like(op, "x", x, "dy", dy);
    check::like(op, "w", w, "dy", dy);
    const Shape y_shape = conv2d_output_shape(op, x.shape(), w.shape(), o.conv);
    check::shape_is(op, "dy", dy.shape(), y_shape, "the output for x and w");
    backend_running<Conv2dBackward>(op, dy);
    Conv2dGrads g;
    if (o.input_gradient) g.dx = allocate_like(op, dy, x.shape());
    g.dw = allocate_like(op, dy, w.shape());
    if (o.bias) g.db = allocate_like(op, dy, {w.dim(0)});
    launch<Conv2dBackward>(dy, g.dx ? &*g.dx : nullptr, g.dw, g.db ? &*g.db : nullptr, dy, x, w, o.conv);
    return g;
  }
};

// R{y} = W∗R{x} + V∗x + v_b: the R-operator of conv2d (note [fused conv passes]).
struct Conv2dJvp {
  static constexpr OpInfo info{"conv2dJvp", Pass::Jvp, "conv2d", "all",
                               "The R-operator of conv2d: W∗rx + V∗x + vb, x and rx (N, C, H, W) (rx may be null), w and v (K, C, R, S), vb (K) or null -> (N, K, P, Q)"};
  static constexpr std::array<const char*, 6> args{"x", "w", "rx", "v", "vb", "options"};
  // ry: (N, K, P, Q); x, rx (N, C, H, W) (rx null: 0); w, v (K, C, R, S); vb (K) or null.
  using Kernel = void(Backend&, Tensor& ry, const Tensor& x, const Tensor& w, const Tensor* rx, const Tensor& v,
                      const Tensor* vb, const Conv2dParams& p);
  static double flops(const Tensor& ry, const Tensor&, const Tensor& w, const Tensor* rx, const Tensor&, const Tensor*,
                      const Conv2dParams&) {
    const double one = 2.0 * static_cast<double>(ry.numel()) * static_cast<double>(w.numel() / w.dim(0));
    return rx != nullptr ? 2 * one : one;
  }
  static Tensor run(const Tensor& x, const Tensor& w, const Tensor* rx, const Tensor& v, const Tensor* vb,
                    const Conv2dParams& p) {
    const char* op = info.name;
    check::floating(op, "x", x);
    check::like(op, "w", w, "x", x);
    const Shape y_shape = conv2d_output_shape(op, x.shape(), w.shape(), p);
    check::like(op, "v", v, "x", x);
    check::same_shape(op, "v", v, "w", w);
    if (rx != nullptr) {
      check::like(op, "rx", *rx, "x", x);
      check::same_shape(op, "rx", *rx, "x", x);
    }
    detail::check_conv_bias(op, "vb", vb, w, "x", x);
    backend_running<Conv2dJvp>(op, x);
    Tensor ry = allocate_like(op, x, y_shape);
    launch<Conv2dJvp>(x, ry, x, w, rx, v, vb, p);
    return ry;
  }
};

}  // namespace ops
}  // namespace newton
