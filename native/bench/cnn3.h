// cnn3 of the Newton paper's Table 4 composed from the core's ops, for newton-cnn-bench
// (main.cpp). The library's networks are TypeScript (lib/nn/); this is the same function
// written against native/core directly, so a C++ program can run its passes without Node:
//   conv 5×5 32 → ReLU → pool → conv 3×3 64 → ReLU → pool → conv 3×3 64 → ReLU → pool → linear
// (convolutions keep the size: padding (k − 1)/2; pools 2×2 stride 2, odd sizes floor).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/ops.h"

namespace newton {
namespace bench {

// The parameters (or a tangent of them: same shapes), conv weights and biases then linear.
struct Cnn3Params {
  std::array<Tensor, 3> w, b;  // w[l]: (K, C, R, S), b[l]: (K)
  Tensor w4, b4;               // (classes, features), (classes)
  std::vector<Tensor*> all();
};

// What the forward pass keeps for the backward pass and the R-operator.
struct Cnn3Cache {
  std::array<Tensor, 3> in, pre, argmax;  // the conv's input, its pre-activation, the pool's argmax
  Tensor features;                        // (N, features): the last pool, flattened
  Tensor z;                               // (N, classes)
};

class Cnn3 {
 public:
  // Random parameters (normal, scaled by 1/sqrt(fan-in)) for images (C, H, W) and `classes`.
  Cnn3(int64_t channels, int64_t height, int64_t width, int64_t classes, Device device, uint64_t seed);

  Cnn3Params& params() { return params_; }
  // A tensor of zeros shaped like the parameters (velocity, tangent).
  Cnn3Params zeros_like() const;
  // A random tangent (for Gv).
  Cnn3Params random_like(uint64_t seed) const;

  // z = f(x; θ): x (N, C, H, W) -> (N, classes).
  Cnn3Cache forward(const Tensor& x) const;
  // The gradient of the mean loss for dz (N, classes) = ∂loss/∂z (already divided by N).
  Cnn3Params backward(const Cnn3Cache& c, const Tensor& dz) const;
  // R{z} = J v: the R-operator pass along parameter tangent v on the cached forward pass.
  Tensor jvp(const Cnn3Cache& c, const Cnn3Params& v) const;

 private:
  Cnn3Params params_;
  Conv2dParams conv_[3];
  Pool2dParams pool_;
};

}  // namespace bench
}  // namespace newton
