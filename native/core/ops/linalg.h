// Matrix products and the fully connected layer (note [op declarations] in op.h).
#pragma once

#include <optional>

#include "../op.h"
#include "channel.h"
#include "data.h"

namespace newton {
namespace ops {

#define NEWTON_LINALG_OPS(X) X(Gemm) X(Linear) X(LinearBackward)

// Options of gemm: the GemmParams plus an optional addend c; beta defaults to 1 when c is
// given (alpha·op(a)·op(b) + c), else 0.
struct GemmOptions {
  bool trans_a = false;
  bool trans_b = false;
  double alpha = 1.0;
  std::optional<double> beta;
  std::optional<Tensor> c;
};

// y: (M, N) = alpha·op(a)·op(b) + beta·c, op(a): (M, K), op(b): (K, N); c (M, N) is not modified.
struct Gemm {
  static constexpr OpInfo info{"gemm", Pass::Forward, "", "",
                               "alpha·op(a)·op(b) + beta·c for 2-D tensors, op(a): (M, K), op(b): (K, N) -> (M, N)"};
  static constexpr std::array<const char*, 3> args{"a", "b", "options"};
  // c: (M, N) = alpha·op(a)·op(b) + beta·c, row-major; c holds the addend when beta ≠ 0.
  using Kernel = void(Backend&, Tensor& c, const Tensor& a, const Tensor& b, const GemmParams& p);
  // For the profiler (profile.h): 2·M·N·K multiply-adds of the kernel's arguments.
  static double flops(const Tensor& c, const Tensor& a, const Tensor&, const GemmParams& p) {
    return 2.0 * static_cast<double>(c.numel()) * static_cast<double>(p.trans_a ? a.dim(0) : a.dim(1));
  }
  static Tensor run(const Tensor& a, const Tensor& b, const GemmOptions& o) {
    const char* op = info.name;
    check::floating(op, "a", a);
    check::ndim(op, "a", a.shape(), 2, "(rows, columns)");
    check::like(op, "b", b, "a", a);
    check::ndim(op, "b", b.shape(), 2, "(rows, columns)");
    check::finite(op, "alpha", o.alpha);
    if (o.beta) check::finite(op, "beta", *o.beta);
    const int64_t m = o.trans_a ? a.dim(1) : a.dim(0);
    const int64_t k = o.trans_a ? a.dim(0) : a.dim(1);
    const int64_t kb = o.trans_b ? b.dim(1) : b.dim(0);
    const int64_t n = o.trans_b ? b.dim(0) : b.dim(1);
    if (k != kb) {
      fail<ShapeError>(op, ": inner dimensions differ: op(a) is (", m, ", ", k, ") from a of shape ", fmt(a.shape()),
                       ", op(b) is (", kb, ", ", n, ") from b of shape ", fmt(b.shape()));
    }
    if (o.c) {
      check::like(op, "c", *o.c, "a", a);
      check::shape_is(op, "c", o.c->shape(), {m, n}, "rows of op(a), columns of op(b)");
    }
    backend_running<Gemm>(op, a);
    Tensor y = allocate_like(op, a, {m, n});
    GemmParams p;
    p.trans_a = o.trans_a;
    p.trans_b = o.trans_b;
    p.alpha = o.alpha;
    p.beta = o.c ? o.beta.value_or(1.0) : 0.0;
    if (o.c) launch<Copy>(a, y, *o.c);
    launch<Gemm>(a, y, a, b, p);
    return y;
  }
};

namespace detail {
// x: (N, in_features), w: (out_features, in_features).
inline void check_linear(const char* op, const Tensor& x, const Tensor& w) {
  check::floating(op, "x", x);
  check::ndim(op, "x", x.shape(), 2, "(N, in_features)");
  check::nonempty(op, "x", x.shape());
  check::like(op, "w", w, "x", x);
  check::ndim(op, "w", w.shape(), 2, "(out_features, in_features)");
  check::nonempty(op, "w", w.shape());
  if (w.dim(1) != x.dim(1)) {
    fail<ShapeError>(op, ": w has ", w.dim(1), " input features (shape ", fmt(w.shape()), ") but x has ", x.dim(1),
                     " (shape ", fmt(x.shape()), ")");
  }
}
}  // namespace detail

// y: (N, O) = x (N, I) · wᵀ (I, O) + b (O); b may be absent.
struct Linear {
  static constexpr OpInfo info{"linear", Pass::Forward, "", "", "A fully connected layer: x (N, I), w (O, I), b (O) or null -> x·wᵀ + b: (N, O)"};
  static constexpr std::array<const char*, 3> args{"x", "w", "b"};
  using Uses = OpList<Gemm, BiasAdd>;
  static Tensor run(const Tensor& x, const Tensor& w, const Tensor* b) {
    const char* op = info.name;
    detail::check_linear(op, x, w);
    if (b != nullptr) {
      check::like(op, "b", *b, "x", x);
      if (b->ndim() != 1 || b->dim(0) != w.dim(0)) {
        fail<ShapeError>(op, ": b must have shape (", w.dim(0), ") to match w ", fmt(w.shape()), ", got shape ",
                         fmt(b->shape()));
      }
    }
    backend_running<Linear>(op, x);
    Tensor y = allocate_like(op, x, {x.dim(0), w.dim(0)});
    GemmParams p;
    p.trans_b = true;
    launch<Gemm>(x, y, x, w, p);
    if (b != nullptr) launch<BiasAdd>(y, y, y, *b);
    return y;
  }
};

// Options of linearBackward: whether the layer has a bias (then db is computed).
struct LinearBackwardOptions {
  bool bias = true;
};

// The gradients of linear for dy (N, O): dx = dy·w (N, I), dw = dyᵀ·x (O, I), db = Σₙ dy (O).
struct LinearGrads {
  Tensor dx, dw;
  std::optional<Tensor> db;  // without a bias: none
  static constexpr std::array<const char*, 3> names{"dx", "dw", "db"};
  auto fields() const { return std::tie(dx, dw, db); }
};

struct LinearBackward {
  static constexpr OpInfo info{"linearBackward", Pass::Vjp, "linear", "all",
                               "The gradients of linear: dx = dy·w (N, I), dw = dyᵀ·x (O, I), db = Σₙ dy (O) or null"};
  static constexpr std::array<const char*, 4> args{"dy", "x", "w", "options"};
  using Uses = OpList<Gemm, BiasGrad>;
  static LinearGrads run(const Tensor& dy, const Tensor& x, const Tensor& w, const LinearBackwardOptions& o) {
    const char* op = info.name;
    detail::check_linear(op, x, w);
    check::like(op, "dy", dy, "x", x);
    check::shape_is(op, "dy", dy.shape(), {x.dim(0), w.dim(0)}, "(N, out_features) for x and w");
    backend_running<LinearBackward>(op, x);
    LinearGrads g;
    g.dx = allocate_like(op, x, x.shape());
    launch<Gemm>(x, g.dx, dy, w, GemmParams{});  // (N, O)·(O, I)
    g.dw = allocate_like(op, w, w.shape());
    GemmParams p;
    p.trans_a = true;
    launch<Gemm>(x, g.dw, dy, x, p);  // (N, O)ᵀ·(N, I)
    if (o.bias) {
      g.db = allocate_like(op, dy, {w.dim(0)});
      launch<BiasGrad>(dy, *g.db, dy);
    }
    return g;
  }
};

}  // namespace ops
}  // namespace newton
