// Reductions to one number (note [op declarations] in op.h), accumulated in double with a
// fixed partition of the range, so the result does not depend on the thread count.
#pragma once

#include "../op.h"

namespace newton {
namespace ops {

#define NEWTON_REDUCE_OPS(X) X(Sum) X(Dot) X(SquaredNorm) X(CgUpdate)

// Σ x
struct Sum {
  static constexpr OpInfo info{"sum", Pass::Forward, "", "", "Σ x, accumulated in double precision (independent of the thread count)"};
  static constexpr std::array<const char*, 1> args{"x"};
  using Kernel = double(Backend&, const Tensor& x);
  static double run(const Tensor& x) {
    check::floating(info.name, "x", x);
    backend_running<Sum>(info.name, x);
    return x.numel() > 0 ? launch<Sum>(x, x) : 0.0;
  }
};

// Σ a ⊙ b
struct Dot {
  static constexpr OpInfo info{"dot", Pass::Forward, "", "", "Σ a⊙b over all elements, accumulated in double precision"};
  static constexpr std::array<const char*, 2> args{"a", "b"};
  using Kernel = double(Backend&, const Tensor& a, const Tensor& b);
  static double run(const Tensor& a, const Tensor& b) {
    const char* op = info.name;
    check::floating(op, "a", a);
    check::like(op, "b", b, "a", a);
    check::same_shape(op, "b", b, "a", a);
    backend_running<Dot>(op, a);
    return a.numel() > 0 ? launch<Dot>(a, a, b) : 0.0;
  }
};

// ‖x‖² = Σ x²
struct SquaredNorm {
  static constexpr OpInfo info{"squaredNorm", Pass::Forward, "", "", "‖x‖² = Σ x², accumulated in double precision"};
  static constexpr std::array<const char*, 1> args{"x"};
  using Kernel = double(Backend&, const Tensor& x);
  static double run(const Tensor& x) {
    check::floating(info.name, "x", x);
    backend_running<SquaredNorm>(info.name, x);
    return x.numel() > 0 ? launch<SquaredNorm>(x, x) : 0.0;
  }
};

// The conjugate-gradient solver's fused update, in place: x += αp, r −= αq in the tensors'
// dtype (α rounded to it, no FMA contraction: two axpy calls bit for bit); returns rᵀr of the
// new r, accumulated in double. x, r, p, q: one shape; x and r overlap nothing else.
struct CgUpdate {
  static constexpr OpInfo info{"cgUpdate", Pass::Utility, "", "",
                               "The CG solver's fused update, in place: x += αp, r −= αq; returns rᵀr of the new r"};
  static constexpr std::array<const char*, 5> args{"x", "r", "p", "q", "alpha"};
  using Kernel = double(Backend&, Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha);
  static double run(Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha) {
    const char* op = info.name;
    check::floating(op, "x", x);
    check::like(op, "r", r, "x", x);
    check::like(op, "p", p, "x", x);
    check::like(op, "q", q, "x", x);
    check::same_shape(op, "r", r, "x", x);
    check::same_shape(op, "p", p, "x", x);
    check::same_shape(op, "q", q, "x", x);
    check::finite(op, "alpha", alpha);
    if (x.overlaps(r) || x.overlaps(p) || x.overlaps(q) || r.overlaps(p) || r.overlaps(q)) {
      fail<ValueError>(op, ": x and r must not overlap each other, p or q");
    }
    backend_running<CgUpdate>(op, x);
    return x.numel() > 0 ? launch<CgUpdate>(x, x, r, p, q, alpha) : 0.0;
  }
};

}  // namespace ops
}  // namespace newton
