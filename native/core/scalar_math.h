// Element-wise formulas shared by the CPU and CUDA backends (see hostdevice.h).
#pragma once

#include "hostdevice.h"

namespace newton {
namespace math {

// NaN propagates (a NaN input must never turn into a silent 0).
template <typename T>
NEWTON_HD T relu(T x) { return (x > T(0) || x != x) ? x : T(0); }

template <typename T>
NEWTON_HD T relu_mask(T x) { return x > T(0) ? T(1) : T(0); }

template <typename T>
NEWTON_HD T relu_backward(T dy, T x) { return x > T(0) ? dy : T(0); }

template <typename T>
NEWTON_HD T squared_loss_grad(T z, T y) { return T(2) * (z - y); }

// dy·(1 − y·y), the gradient of tanh from its output. CUDA device code spells the three
// operations with round-to-nearest intrinsics instead (nvcc would contract 1 − y·y into an
// FMA), as every formula here with a product next to a sum.
template <typename T>
NEWTON_HD T tanh_backward(T dy, T y) {
  const T yy = y * y;
  const T d = T(1) - yy;
  return dy * d;
}

}  // namespace math
}  // namespace newton
