// 2-D max and average pooling, NCHW (note [op declarations] in op.h): x (N, C, H, W),
// y (N, C, P, Q). Max pooling never chooses padding and keeps the first of equal maxima; its
// argmax (N, C, P, Q, int32) holds the index h·W + w, within its (n, c) plane of x, of the
// element each output took. Average pooling divides by the full window area, padding
// included, so it is one fixed linear map whose backward is its exact adjoint.
#pragma once

#include <vector>

#include "../op.h"

namespace newton {
namespace ops {

#define NEWTON_POOL_OPS(X) \
  X(MaxPool2d) X(MaxPool2dBackward) X(MaxPool2dReluBackward) X(MaxPool2dJvp) X(AvgPool2d) X(AvgPool2dBackward)

// The output shape (N, C, P, Q) of pooling x with p; checks both.
inline Shape pool2d_output_shape(const char* op, const Shape& x, const Pool2dParams& p) {
  check::ndim(op, "x", x, 4, "(N, C, H, W)");
  check::nonempty(op, "x", x);
  check::positive(op, "kernel", p.kernel_h);
  check::positive(op, "kernel", p.kernel_w);
  check::positive(op, "stride", p.stride_h);
  check::positive(op, "stride", p.stride_w);
  check::non_negative(op, "padding", p.pad_h);
  check::non_negative(op, "padding", p.pad_w);
  // Smaller padding guarantees every window holds at least one real element.
  if (p.pad_h >= p.kernel_h || p.pad_w >= p.kernel_w) {
    fail<ValueError>(op, ": padding (", p.pad_h, ", ", p.pad_w, ") must be smaller than the kernel (", p.kernel_h, ", ",
                     p.kernel_w, ")");
  }
  const int64_t padded_h = x[2] + 2 * p.pad_h, padded_w = x[3] + 2 * p.pad_w;
  if (p.kernel_h > padded_h || p.kernel_w > padded_w) {
    fail<ShapeError>(op, ": kernel ", p.kernel_h, "x", p.kernel_w, " is larger than the padded input ", padded_h, "x",
                     padded_w, " of x ", fmt(x));
  }
  if (x[2] * x[3] > int64_t{2147483647}) {
    fail<ShapeError>(op, ": an input plane of ", x[2], "x", x[3], " elements does not fit the int32 argmax");
  }
  return {x[0], x[1], (padded_h - p.kernel_h) / p.stride_h + 1, (padded_w - p.kernel_w) / p.stride_w + 1};
}

namespace detail {

// argmax: (N, C, P, Q) int32 on `like`'s device, for an input of x_shape pooled with p.
inline void check_argmax_tensor(const char* op, const Tensor& argmax, const char* like_arg, const Tensor& like,
                                const Shape& y_shape) {
  check::defined(op, "argmax", argmax);
  if (argmax.dtype() != DType::I32) {
    fail<ShapeError>(op, ": argmax must be int32 (from maxPool2d), got ", dtype_name(argmax.dtype()));
  }
  check::same_device(op, "argmax", argmax, like_arg, like);
  check::shape_is(op, "argmax", argmax.shape(), y_shape, "the output shape of the pooling");
}

// Note [debug checks] in op.h: every argmax entry lies in its output's window, as maxPool2d
// guarantees. Off by default (a host copy of argmax).
inline void debug_check_argmax(const char* op, const Tensor& argmax, const Shape& x_shape, const Pool2dParams& p) {
  if (!debug_checks() || argmax.numel() == 0) return;
  Backend& b = backend_for(argmax.device());
  std::vector<int32_t> host(static_cast<std::size_t>(argmax.numel()));
  b.copy_to_host(host.data(), argmax);
  const int64_t h = x_shape[2], w = x_shape[3], pp = argmax.dim(2), q = argmax.dim(3);
  for (int64_t i = 0; i < argmax.numel(); ++i) {
    const int32_t a = host[static_cast<std::size_t>(i)];
    if (a < 0 || a >= h * w) {
      fail<ValueError>(op, ": argmax holds ", a, " at element ", i, ", outside the ", h, "x", w, " input plane");
    }
    const int64_t oq = i % q, op_ = i / q % pp;
    const int64_t r0 = op_ * p.stride_h - p.pad_h, c0 = oq * p.stride_w - p.pad_w;
    const int64_t ih = a / w, iw = a % w;
    if (ih < r0 || ih >= r0 + p.kernel_h || iw < c0 || iw >= c0 + p.kernel_w) {
      fail<ValueError>(op, ": argmax holds ", a, " at element ", i,
                       ", outside the pooling window of that output (argmax must come from maxPool2d)");
    }
  }
}

}  // namespace detail

// y = the window maxima of x, argmax = where they are.
struct MaxPoolResult {
  Tensor y, argmax;
  static constexpr std::array<const char*, 2> names{"y", "argmax"};
  auto fields() const { return std::tie(y, argmax); }
};

struct MaxPool2d {
  static constexpr OpInfo info{"maxPool2d", Pass::Forward, "", "",
                               "Max pooling, NCHW: x (N, C, H, W) -> y (N, C, P, Q) and argmax (int32, same shape)"};
  static constexpr std::array<const char*, 2> args{"x", "options"};
  // y, argmax: (N, C, P, Q); x: (N, C, H, W). Scan row-major, `v > best` keeps the first of
  // equal maxima, the first NaN wins and stays.
  using Kernel = void(Backend&, Tensor& y, Tensor& argmax, const Tensor& x, const Pool2dParams& p);
  static MaxPoolResult run(const Tensor& x, const Pool2dParams& p) {
    const char* op = info.name;
    check::floating(op, "x", x);
    const Shape y_shape = pool2d_output_shape(op, x.shape(), p);
    backend_running<MaxPool2d>(op, x);
    MaxPoolResult r;
    r.y = allocate_like(op, x, y_shape);
    r.argmax = allocate(op, y_shape, DType::I32, x.device());
    launch<MaxPool2d>(x, r.y, r.argmax, x, p);
    return r;
  }
};

// dx (xShape) = dy routed to the argmax positions, summed where windows overlap.
struct MaxPool2dBackward {
  static constexpr OpInfo info{"maxPool2dBackward", Pass::Vjp, "maxPool2d", "x",
                               "The gradient of maxPool2d: routes dy (N, C, P, Q) to the argmax positions of a tensor of xShape"};
  static constexpr std::array<const char*, 4> args{"dy", "argmax", "xShape", "options"};
  // dx: (N, C, H, W); dy, argmax: (N, C, P, Q). With relu_input (the input of a ReLU before
  // the pooling, of dx's shape), dx = 1[relu_input > 0] ⊙ (the pooling gradient) in one pass.
  // Memory-safe for any argmax: entries outside the plane are skipped.
  using Kernel = void(Backend&, Tensor& dx, const Tensor& dy, const Tensor& argmax, const Pool2dParams& p,
                      const Tensor* relu_input);
  static Tensor run(const Tensor& dy, const Tensor& argmax, const Shape& x_shape, const Pool2dParams& p) {
    const char* op = info.name;
    check::floating(op, "dy", dy);
    const Shape y_shape = pool2d_output_shape(op, x_shape, p);
    check::shape_is(op, "dy", dy.shape(), y_shape, "the output for xShape and the pooling options");
    detail::check_argmax_tensor(op, argmax, "dy", dy, y_shape);
    detail::debug_check_argmax(op, argmax, x_shape, p);
    backend_running<MaxPool2dBackward>(op, dy);
    Tensor dx = allocate_like(op, dy, x_shape);
    launch<MaxPool2dBackward>(dy, dx, dy, argmax, p, nullptr);
    return dx;
  }
};

// reluBackward(maxPool2dBackward(dy, argmax, reluInput.shape), reluInput) in one pass, bit
// for bit: the backward of ReLU → max pooling, the pattern of every conv block of the
// paper's CNNs. It runs MaxPool2dBackward's kernel with the ReLU input.
struct MaxPool2dReluBackward {
  static constexpr OpInfo info{"maxPool2dReluBackward", Pass::Fused, "maxPool2dBackward", "",
                               "The backward of ReLU followed by max pooling, in one pass (reluBackward of maxPool2dBackward)"};
  static constexpr std::array<const char*, 4> args{"dy", "argmax", "reluInput", "options"};
  using Uses = OpList<MaxPool2dBackward>;
  static Tensor run(const Tensor& dy, const Tensor& argmax, const Tensor& relu_input, const Pool2dParams& p) {
    const char* op = info.name;
    check::floating(op, "reluInput", relu_input);
    check::like(op, "dy", dy, "reluInput", relu_input);
    const Shape y_shape = pool2d_output_shape(op, relu_input.shape(), p);
    check::shape_is(op, "dy", dy.shape(), y_shape, "the output for reluInput and the pooling options");
    detail::check_argmax_tensor(op, argmax, "dy", dy, y_shape);
    detail::debug_check_argmax(op, argmax, relu_input.shape(), p);
    backend_running<MaxPool2dReluBackward>(op, dy);
    Tensor dx = allocate_like(op, dy, relu_input.shape());
    launch<MaxPool2dBackward>(dy, dx, dy, argmax, p, &relu_input);
    return dx;
  }
};

// R{y} (N, C, P, Q) = R{x} (N, C, H, W) gathered at argmax: the R-operator of max pooling.
struct MaxPool2dJvp {
  static constexpr OpInfo info{"maxPool2dJvp", Pass::Jvp, "maxPool2d", "x",
                               "The R-operator of maxPool2d: R{y} = R{x}[argmax], rx (N, C, H, W) -> (N, C, P, Q)"};
  static constexpr std::array<const char*, 3> args{"rx", "argmax", "options"};
  // Memory-safe for any argmax: an entry outside the plane gives NaN.
  using Kernel = void(Backend&, Tensor& ry, const Tensor& rx, const Tensor& argmax, const Pool2dParams& p);
  static Tensor run(const Tensor& rx, const Tensor& argmax, const Pool2dParams& p) {
    const char* op = info.name;
    check::floating(op, "rx", rx);
    const Shape y_shape = pool2d_output_shape(op, rx.shape(), p);
    detail::check_argmax_tensor(op, argmax, "rx", rx, y_shape);
    detail::debug_check_argmax(op, argmax, rx.shape(), p);
    backend_running<MaxPool2dJvp>(op, rx);
    Tensor ry = allocate_like(op, rx, y_shape);
    launch<MaxPool2dJvp>(rx, ry, rx, argmax, p);
    return ry;
  }
};

// y (N, C, P, Q) = window sums of x / (kernel area).
struct AvgPool2d {
  static constexpr OpInfo info{"avgPool2d", Pass::Forward, "", "",
                               "Average pooling, NCHW: x (N, C, H, W) -> (N, C, P, Q); divides by the kernel area, padding included"};
  static constexpr std::array<const char*, 2> args{"x", "options"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& x, const Pool2dParams& p);
  static Tensor run(const Tensor& x, const Pool2dParams& p) {
    const char* op = info.name;
    check::floating(op, "x", x);
    const Shape y_shape = pool2d_output_shape(op, x.shape(), p);
    backend_running<AvgPool2d>(op, x);
    Tensor y = allocate_like(op, x, y_shape);
    launch<AvgPool2d>(x, y, x, p);
    return y;
  }
};

// dx (xShape) = the adjoint of avgPool2d applied to dy (N, C, P, Q).
struct AvgPool2dBackward {
  static constexpr OpInfo info{"avgPool2dBackward", Pass::Vjp, "avgPool2d", "x",
                               "The gradient (exact adjoint) of avgPool2d: dy (N, C, P, Q) -> xShape"};
  static constexpr std::array<const char*, 3> args{"dy", "xShape", "options"};
  using Kernel = void(Backend&, Tensor& dx, const Tensor& dy, const Pool2dParams& p);
  static Tensor run(const Tensor& dy, const Shape& x_shape, const Pool2dParams& p) {
    const char* op = info.name;
    check::floating(op, "dy", dy);
    const Shape y_shape = pool2d_output_shape(op, x_shape, p);
    check::shape_is(op, "dy", dy.shape(), y_shape, "the output for xShape and the pooling options");
    backend_running<AvgPool2dBackward>(op, dy);
    Tensor dx = allocate_like(op, dy, x_shape);
    launch<AvgPool2dBackward>(dy, dx, dy, p);
    return dx;
  }
};

}  // namespace ops
}  // namespace newton
