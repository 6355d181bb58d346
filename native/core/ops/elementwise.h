// Element-wise ops (note [op declarations] in op.h): every tensor of one shape, dtype and
// device, no broadcasting. Both backends evaluate the formulas of core/scalar_math.h with
// one rounding per operation, so their results are bit-identical.
#pragma once

#include "../op.h"

namespace newton {
namespace ops {

#define NEWTON_ELEMENTWISE_OPS(X) \
  X(Add) X(Sub) X(Mul) X(Scale) X(Axpy) X(Relu) X(ReluMask) X(ReluBackward) X(Tanh) X(TanhBackward) X(Rsqrt)

namespace detail {
// out = f(a, b) for two operands of one shape.
template <typename OpT>
Tensor binary(const Tensor& a, const Tensor& b) {
  const char* op = OpT::info.name;
  check::floating(op, "a", a);
  check::like(op, "b", b, "a", a);
  check::same_shape(op, "b", b, "a", a);
  backend_running<OpT>(op, a);
  Tensor out = allocate_like(op, a, a.shape());
  if (a.numel() > 0) launch<OpT>(a, out, a, b);
  return out;
}

// out = f(x) for one operand.
template <typename OpT>
Tensor unary(const Tensor& x) {
  const char* op = OpT::info.name;
  check::floating(op, "x", x);
  backend_running<OpT>(op, x);
  Tensor out = allocate_like(op, x, x.shape());
  if (x.numel() > 0) launch<OpT>(x, out, x);
  return out;
}
}  // namespace detail

// y = a + b
struct Add {
  static constexpr OpInfo info{"add", Pass::Forward, "", "", "a + b, element-wise (same shape and dtype; no broadcasting)"};
  static constexpr std::array<const char*, 2> args{"a", "b"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& a, const Tensor& b);
  static Tensor run(const Tensor& a, const Tensor& b) { return detail::binary<Add>(a, b); }
};

// y = a − b
struct Sub {
  static constexpr OpInfo info{"sub", Pass::Forward, "", "", "a − b, element-wise (same shape and dtype; no broadcasting)"};
  static constexpr std::array<const char*, 2> args{"a", "b"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& a, const Tensor& b);
  static Tensor run(const Tensor& a, const Tensor& b) { return detail::binary<Sub>(a, b); }
};

// y = a ⊙ b
struct Mul {
  static constexpr OpInfo info{"mul", Pass::Forward, "", "", "a ⊙ b, the element-wise product (same shape and dtype)"};
  static constexpr std::array<const char*, 2> args{"a", "b"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& a, const Tensor& b);
  static Tensor run(const Tensor& a, const Tensor& b) { return detail::binary<Mul>(a, b); }
};

// y = αx
struct Scale {
  static constexpr OpInfo info{"scale", Pass::Forward, "", "", "alpha·x (alpha finite)"};
  static constexpr std::array<const char*, 2> args{"x", "alpha"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& x, double alpha);
  static Tensor run(const Tensor& x, double alpha) {
    const char* op = info.name;
    check::floating(op, "x", x);
    check::finite(op, "alpha", alpha);
    backend_running<Scale>(op, x);
    Tensor y = allocate_like(op, x, x.shape());
    if (x.numel() > 0) launch<Scale>(x, y, x, alpha);
    return y;
  }
};

// y += αx, in place
struct Axpy {
  static constexpr OpInfo info{"axpy", Pass::Utility, "", "", "y += alpha·x, in place (same shape and dtype)"};
  static constexpr std::array<const char*, 3> args{"y", "alpha", "x"};
  using Kernel = void(Backend&, Tensor& y, double alpha, const Tensor& x);
  static void run(Tensor& y, double alpha, const Tensor& x) {
    const char* op = info.name;
    check::floating(op, "y", y);
    check::like(op, "x", x, "y", y);
    check::same_shape(op, "x", x, "y", y);
    check::finite(op, "alpha", alpha);
    if (y.raw() != x.raw()) check::disjoint(op, "y and x", y, x);
    backend_running<Axpy>(op, y);
    if (y.numel() > 0) launch<Axpy>(y, y, alpha, x);
  }
};

// y = max(x, 0); NaN stays NaN
struct Relu {
  static constexpr OpInfo info{"relu", Pass::Forward, "", "", "max(x, 0) element-wise; NaN stays NaN"};
  static constexpr std::array<const char*, 1> args{"x"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& x);
  static Tensor run(const Tensor& x) { return detail::unary<Relu>(x); }
};

// y = 1[x > 0]: the derivative of relu, as a tensor of x's dtype
struct ReluMask {
  static constexpr OpInfo info{"reluMask", Pass::Jvp, "relu", "x", "1 where x > 0, else 0 (the derivative of relu), in x's dtype"};
  static constexpr std::array<const char*, 1> args{"x"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& x);
  static Tensor run(const Tensor& x) { return detail::unary<ReluMask>(x); }
};

// dx = dy ⊙ 1[x > 0]
struct ReluBackward {
  static constexpr OpInfo info{"reluBackward", Pass::Vjp, "relu", "x", "dy ⊙ 1[x > 0]: the gradient of relu at x"};
  static constexpr std::array<const char*, 2> args{"dy", "x"};
  using Kernel = void(Backend&, Tensor& dx, const Tensor& dy, const Tensor& x);
  static Tensor run(const Tensor& dy, const Tensor& x) {
    const char* op = info.name;
    check::floating(op, "dy", dy);
    check::like(op, "x", x, "dy", dy);
    check::same_shape(op, "x", x, "dy", dy);
    backend_running<ReluBackward>(op, dy);
    Tensor dx = allocate_like(op, dy, dy.shape());
    if (dy.numel() > 0) launch<ReluBackward>(dy, dx, dy, x);
    return dx;
  }
};

// y = tanh(x), evaluated in double and rounded once to the dtype.
struct Tanh {
  static constexpr OpInfo info{"tanh", Pass::Forward, "", "", "tanh(x) element-wise"};
  static constexpr std::array<const char*, 1> args{"x"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& x);
  static Tensor run(const Tensor& x) { return detail::unary<Tanh>(x); }
};

// dx = dy ⊙ (1 − y²), y = tanh(x) of the forward pass (rounded after each operation).
struct TanhBackward {
  static constexpr OpInfo info{"tanhBackward", Pass::Vjp, "tanh", "x", "dy ⊙ (1 − y²): the gradient of tanh, from its output y"};
  static constexpr std::array<const char*, 2> args{"dy", "y"};
  using Kernel = void(Backend&, Tensor& dx, const Tensor& dy, const Tensor& y);
  static Tensor run(const Tensor& dy, const Tensor& y) {
    const char* op = info.name;
    check::floating(op, "dy", dy);
    check::like(op, "y", y, "dy", dy);
    check::same_shape(op, "y", y, "dy", dy);
    backend_running<TanhBackward>(op, dy);
    Tensor dx = allocate_like(op, dy, dy.shape());
    if (dy.numel() > 0) launch<TanhBackward>(dy, dx, dy, y);
    return dx;
  }
};

// y = 1/√(x + eps), evaluated in double and rounded once (batch norm's 1/σ of its running variance).
struct Rsqrt {
  static constexpr OpInfo info{"rsqrt", Pass::Forward, "", "", "1/√(x + eps) element-wise (NaN where x + eps < 0)"};
  static constexpr std::array<const char*, 2> args{"x", "eps"};
  using Kernel = void(Backend&, Tensor& y, const Tensor& x, double eps);
  static Tensor run(const Tensor& x, double eps) {
    const char* op = info.name;
    check::floating(op, "x", x);
    check::finite(op, "eps", eps);
    if (eps < 0) fail<ValueError>(op, ": eps must be a finite number ≥ 0, got ", eps);
    backend_running<Rsqrt>(op, x);
    Tensor y = allocate_like(op, x, x.shape());
    if (x.numel() > 0) launch<Rsqrt>(x, y, x, eps);
    return y;
  }
};

}  // namespace ops
}  // namespace newton
