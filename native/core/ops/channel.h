// Per-channel ops (note [op declarations] in op.h) on tensors (N, C, ...): axis 1 is the
// channel, every other axis is summed over or broadcast along.
#pragma once

#include "../op.h"

namespace newton {
namespace ops {

#define NEWTON_CHANNEL_OPS(X) X(BiasAdd) X(BiasGrad) X(ChannelDot) X(ChannelAffine) X(ChannelCombine) X(BatchNormStats)

namespace detail {
// t: (N, C, ...), at least 2 dimensions.
inline void channels_first(const char* op, const char* arg, const Tensor& t) {
  check::floating(op, arg, t);
  if (t.ndim() < 2) fail<ShapeError>(op, ": ", arg, " must have at least 2 dimensions (N, C, ...), got shape ", fmt(t.shape()));
}
// v: (C) for the channels of `t`.
inline void per_channel(const char* op, const char* arg, const Tensor& v, const char* t_arg, const Tensor& t) {
  check::like(op, arg, v, t_arg, t);
  if (v.ndim() != 1 || v.dim(0) != t.dim(1)) {
    fail<ShapeError>(op, ": ", arg, " must have shape (", t.dim(1), ") to match the channels of ", t_arg, " ",
                     fmt(t.shape()), ", got shape ", fmt(v.shape()));
  }
}
}  // namespace detail

// out: (N, C, ...) = y + b[c] broadcast over every axis but 1; b: (C). out may be y itself
// (the composites conv2d and linear add their bias in place).
struct BiasAdd {
  static constexpr OpInfo info{"biasAdd", Pass::Forward, "", "", "y + b[c] broadcast over every axis but 1: y (N, C, ...), b (C)"};
  static constexpr std::array<const char*, 2> args{"y", "b"};
  using Kernel = void(Backend&, Tensor& out, const Tensor& y, const Tensor& b);
  static Tensor run(const Tensor& y, const Tensor& b) {
    const char* op = info.name;
    detail::channels_first(op, "y", y);
    detail::per_channel(op, "b", b, "y", y);
    backend_running<BiasAdd>(op, y);
    Tensor out = allocate_like(op, y, y.shape());
    if (y.numel() > 0) launch<BiasAdd>(y, out, y, b);
    return out;
  }
};

// db: (C) = Σ of dy: (N, C, ...) over every axis but 1, accumulated in double.
struct BiasGrad {
  static constexpr OpInfo info{"biasGrad", Pass::Vjp, "biasAdd", "b",
                               "The sum of dy over every axis but 1: dy (N, C, ...) -> (C); the gradient of biasAdd"};
  static constexpr std::array<const char*, 1> args{"dy"};
  using Kernel = void(Backend&, Tensor& db, const Tensor& dy);
  static Tensor run(const Tensor& dy) {
    const char* op = info.name;
    detail::channels_first(op, "dy", dy);
    backend_running<BiasGrad>(op, dy);
    Tensor db = allocate_like(op, dy, {dy.dim(1)});
    launch<BiasGrad>(dy, db, dy);
    return db;
  }
};

// out: (C) = Σ over every axis but 1 of a ⊙ b, a and b (N, C, ...), accumulated in double:
// the per-channel reduction of batch normalisation's gradients (Σ dy⊙x̂) and R-operator.
struct ChannelDot {
  static constexpr OpInfo info{"channelDot", Pass::Forward, "", "",
                               "Σ over every axis but 1 of a⊙b: a, b (N, C, ...) -> (C), accumulated in double"};
  static constexpr std::array<const char*, 2> args{"a", "b"};
  using Kernel = void(Backend&, Tensor& out, const Tensor& a, const Tensor& b);
  static Tensor run(const Tensor& a, const Tensor& b) {
    const char* op = info.name;
    detail::channels_first(op, "a", a);
    check::like(op, "b", b, "a", a);
    check::same_shape(op, "b", b, "a", a);
    backend_running<ChannelDot>(op, a);
    Tensor out = allocate_like(op, a, {a.dim(1)});
    launch<ChannelDot>(a, out, a, b);
    return out;
  }
};

// out: (N, C, ...) = x·scale[c] + shift[c] (without shift: x·scale[c]); scale, shift (C).
// One rounding per operation, the product first (no fused multiply-add). out may be x.
struct ChannelAffine {
  static constexpr OpInfo info{"channelAffine", Pass::Forward, "", "",
                               "x·scale[c] + shift[c] per channel: x (N, C, ...), scale and shift (C) (shift may be null)"};
  static constexpr std::array<const char*, 3> args{"x", "scale", "shift"};
  using Kernel = void(Backend&, Tensor& out, const Tensor& x, const Tensor& scale, const Tensor* shift);
  static Tensor run(const Tensor& x, const Tensor& scale, const Tensor* shift) {
    const char* op = info.name;
    detail::channels_first(op, "x", x);
    detail::per_channel(op, "scale", scale, "x", x);
    if (shift != nullptr) detail::per_channel(op, "shift", *shift, "x", x);
    backend_running<ChannelAffine>(op, x);
    Tensor out = allocate_like(op, x, x.shape());
    if (x.numel() > 0) launch<ChannelAffine>(x, out, x, scale, shift);
    return out;
  }
};

// out: (N, C, ...) = (a·aScale[c] + b·bScale[c]) + shift[c] (shift optional), rounded after
// each operation in that order: batch norm's backward and R-operator in one pass.
struct ChannelCombine {
  static constexpr OpInfo info{"channelCombine", Pass::Forward, "", "",
                               "a·aScale[c] + b·bScale[c] + shift[c] per channel: a, b (N, C, ...), the scales and shift (C) (shift may be null)"};
  static constexpr std::array<const char*, 5> args{"a", "aScale", "b", "bScale", "shift"};
  using Kernel = void(Backend&, Tensor& out, const Tensor& a, const Tensor& a_scale, const Tensor& b, const Tensor& b_scale,
                      const Tensor* shift);
  static Tensor run(const Tensor& a, const Tensor& a_scale, const Tensor& b, const Tensor& b_scale, const Tensor* shift) {
    const char* op = info.name;
    detail::channels_first(op, "a", a);
    check::like(op, "b", b, "a", a);
    check::same_shape(op, "b", b, "a", a);
    detail::per_channel(op, "aScale", a_scale, "a", a);
    detail::per_channel(op, "bScale", b_scale, "a", a);
    if (shift != nullptr) detail::per_channel(op, "shift", *shift, "a", a);
    backend_running<ChannelCombine>(op, a);
    Tensor out = allocate_like(op, a, a.shape());
    if (a.numel() > 0) launch<ChannelCombine>(a, out, a, a_scale, b, b_scale, shift);
    return out;
  }
};

// The statistics batch norm normalises with, per channel c over its m = N·(H·W·…) values:
// mean = Σx/m, variance = Σ(x − mean)²/m (biased, two passes, both in double) and
// invStd = 1/√(variance + eps) (from the double variance), each rounded once to the dtype.
struct BatchNormStatsResult {
  Tensor mean, variance, inv_std;
  static constexpr std::array<const char*, 3> names{"mean", "variance", "invStd"};
  auto fields() const { return std::tie(mean, variance, inv_std); }
};

struct BatchNormStats {
  static constexpr OpInfo info{"batchNormStats", Pass::Forward, "", "",
                               "Per-channel mean, biased variance and 1/√(variance + eps) of x (N, C, ...) over every axis but 1"};
  static constexpr std::array<const char*, 2> args{"x", "eps"};
  using Kernel = void(Backend&, Tensor& mean, Tensor& variance, Tensor& inv_std, const Tensor& x, double eps);
  static BatchNormStatsResult run(const Tensor& x, double eps) {
    const char* op = info.name;
    detail::channels_first(op, "x", x);
    check::nonempty(op, "x", x.shape());
    check::finite(op, "eps", eps);
    if (!(eps > 0)) fail<ValueError>(op, ": eps must be a finite number > 0, got ", eps);
    backend_running<BatchNormStats>(op, x);
    BatchNormStatsResult r;
    r.mean = allocate_like(op, x, {x.dim(1)});
    r.variance = allocate_like(op, x, {x.dim(1)});
    r.inv_std = allocate_like(op, x, {x.dim(1)});
    launch<BatchNormStats>(x, r.mean, r.variance, r.inv_std, x, eps);
    return r;
  }
};

}  // namespace ops
}  // namespace newton
