// Losses (note [op declarations] in op.h): z (N, K) network outputs against y (N, K)
// targets; values are sums over the batch, gradients and Hessian products per sample.
// (README.md, "The Newton method": the objective and the Gauss-Newton product.)
#pragma once

#include "../op.h"
#include "elementwise.h"

namespace newton {
namespace ops {

#define NEWTON_LOSS_OPS(X)                                                                     \
  X(SquaredLoss) X(SquaredLossGradient) X(SquaredLossHessianProduct) X(Softmax) X(SoftmaxCrossEntropy) \
      X(SoftmaxCrossEntropyGradient) X(SoftmaxCrossEntropyHessianProduct)

namespace detail {
// z (N, K), non-empty; `other` (targets y or a tangent u) of z's shape, dtype and device.
inline void check_loss(const char* op, const Tensor& z, const char* other_arg, const Tensor& other) {
  check::floating(op, "z", z);
  check::ndim(op, "z", z.shape(), 2, "(N, K)");
  check::nonempty(op, "z", z.shape());
  check::like(op, other_arg, other, "z", z);
  check::same_shape(op, other_arg, other, "z", z);
}

// out (N, K) = kernel(z, other).
template <typename OpT>
Tensor loss_map(const Tensor& z, const char* other_arg, const Tensor& other) {
  const char* op = OpT::info.name;
  check_loss(op, z, other_arg, other);
  backend_running<OpT>(op, z);
  Tensor out = allocate_like(op, z, z.shape());
  launch<OpT>(z, out, z, other);
  return out;
}
}  // namespace detail

// Σ ‖z − y‖²
struct SquaredLoss {
  static constexpr OpInfo info{"squaredLoss", Pass::Forward, "", "", "Σᵢ ‖zᵢ − yᵢ‖², summed over the batch: z, y (N, K)"};
  static constexpr std::array<const char*, 2> args{"z", "y"};
  using Kernel = double(Backend&, const Tensor& z, const Tensor& y);
  static double run(const Tensor& z, const Tensor& y) {
    detail::check_loss(info.name, z, "y", y);
    backend_running<SquaredLoss>(info.name, z);
    return launch<SquaredLoss>(z, z, y);
  }
};

// dz = 2(z − y)
struct SquaredLossGradient {
  static constexpr OpInfo info{"squaredLossGradient", Pass::Vjp, "squaredLoss", "z",
                               "2(z − y): the gradient of the squared loss with respect to z (N, K)"};
  static constexpr std::array<const char*, 2> args{"z", "y"};
  using Kernel = void(Backend&, Tensor& dz, const Tensor& z, const Tensor& y);
  static Tensor run(const Tensor& z, const Tensor& y) { return detail::loss_map<SquaredLossGradient>(z, "y", y); }
};

// B·u = 2u: B = 2I for ξ = ‖z − y‖², whatever z is; z is checked so that misuse is caught.
struct SquaredLossHessianProduct {
  static constexpr OpInfo info{"squaredLossHessianProduct", Pass::Jvp, "squaredLossGradient", "z",
                               "2u: the squared loss's Hessian (with respect to z) times u (N, K)"};
  static constexpr std::array<const char*, 2> args{"z", "u"};
  using Uses = OpList<Scale>;
  static Tensor run(const Tensor& z, const Tensor& u) {
    const char* op = info.name;
    detail::check_loss(op, z, "u", u);
    backend_running<SquaredLossHessianProduct>(op, u);
    Tensor out = allocate_like(op, u, u.shape());
    launch<Scale>(u, out, u, 2.0);
    return out;
  }
};

// p = softmax(z) row-wise
struct Softmax {
  static constexpr OpInfo info{"softmax", Pass::Forward, "", "", "Row-wise softmax of z (N, K) -> (N, K)"};
  static constexpr std::array<const char*, 1> args{"z"};
  using Kernel = void(Backend&, Tensor& p, const Tensor& z);
  static Tensor run(const Tensor& z) {
    const char* op = info.name;
    check::floating(op, "z", z);
    check::ndim(op, "z", z.shape(), 2, "(N, K)");
    check::nonempty(op, "z", z.shape());
    backend_running<Softmax>(op, z);
    Tensor p = allocate_like(op, z, z.shape());
    launch<Softmax>(z, p, z);
    return p;
  }
};

// −Σ y ⊙ log softmax(z)
struct SoftmaxCrossEntropy {
  static constexpr OpInfo info{"softmaxCrossEntropy", Pass::Forward, "", "",
                               "−Σᵢ Σₖ yᵢₖ log softmax(zᵢ)ₖ, summed over the batch: z, y (N, K)"};
  static constexpr std::array<const char*, 2> args{"z", "y"};
  using Kernel = double(Backend&, const Tensor& z, const Tensor& y);
  static double run(const Tensor& z, const Tensor& y) {
    detail::check_loss(info.name, z, "y", y);
    backend_running<SoftmaxCrossEntropy>(info.name, z);
    return launch<SoftmaxCrossEntropy>(z, z, y);
  }
};

// dz = softmax(z) − y
struct SoftmaxCrossEntropyGradient {
  static constexpr OpInfo info{"softmaxCrossEntropyGradient", Pass::Vjp, "softmaxCrossEntropy", "z",
                               "p − y with p = softmax(z): the gradient of the cross-entropy with respect to z (N, K)"};
  static constexpr std::array<const char*, 2> args{"z", "y"};
  using Kernel = void(Backend&, Tensor& dz, const Tensor& z, const Tensor& y);
  static Tensor run(const Tensor& z, const Tensor& y) { return detail::loss_map<SoftmaxCrossEntropyGradient>(z, "y", y); }
};

// B·u = p⊙u − p(pᵀu) per row, B = diag(p) − ppᵀ, p = softmax(z)
struct SoftmaxCrossEntropyHessianProduct {
  static constexpr OpInfo info{"softmaxCrossEntropyHessianProduct", Pass::Jvp, "softmaxCrossEntropyGradient", "z",
                               "p⊙u − p(pᵀu) per row, p = softmax(z): the cross-entropy's Hessian (w.r.t. z) times u (N, K)"};
  static constexpr std::array<const char*, 2> args{"z", "u"};
  using Kernel = void(Backend&, Tensor& out, const Tensor& z, const Tensor& u);
  static Tensor run(const Tensor& z, const Tensor& u) {
    return detail::loss_map<SoftmaxCrossEntropyHessianProduct>(z, "u", u);
  }
};

}  // namespace ops
}  // namespace newton
