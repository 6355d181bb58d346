// Per-channel ops (note [op declarations] in op.h) on tensors (N, C, ...): axis 1 is the
// channel, every other axis is summed over or broadcast along.
#pragma once

#include "../op.h"

namespace newton {
namespace ops {

#define NEWTON_CHANNEL_OPS(X) X(BiasAdd) X(BiasGrad) X(ChannelDot)

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

}  // namespace ops
}  // namespace newton
