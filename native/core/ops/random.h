// Counter-based random numbers (note [random numbers] in random.h; note [op declarations]
// in op.h): element i is a pure function of (seed, offset + i), so results do not depend on
// the device or the thread count.
#pragma once

#include <cstdint>

#include "../op.h"

namespace newton {
namespace ops {

#define NEWTON_RANDOM_OPS(X) X(RandomUniform) X(RandomNormal)

// What a random fill makes: a new tensor of `dtype` on `device`, the stream (seed, offset),
// and the distribution's two parameters (low, high) or (mean, std).
struct RandomOptions {
  uint64_t seed = 0;
  uint64_t offset = 0;
  DType dtype = DType::F32;
  Device device;
  double a = 0.0;
  double b = 1.0;
};

// Options of randomUniform: {seed, offset?, dtype?, device?, low? = 0, high? = 1}.
struct UniformOptions : RandomOptions {};
// Options of randomNormal: {seed, offset?, dtype?, device?, mean? = 0, std? = 1}.
struct NormalOptions : RandomOptions {};

namespace detail {
template <typename OpT>
Tensor random_fill(const Shape& shape, const RandomOptions& o) {
  const char* op = OpT::info.name;
  Backend& b = backend_for(o.device, op);
  if (!is_floating(o.dtype) || !supported<OpT>(b, o.dtype)) {
    fail<ShapeError>(op, ": ", dtype_name(o.dtype), " is not supported on ", o.device.name());
  }
  // no backend_running here (the shape is not a tensor's): name the caller for the profiler
  if (profile::enabled()) profile::set_caller(op);
  Tensor t = allocate(op, shape, o.dtype, o.device);
  if (t.numel() > 0) launch<OpT>(t, t, o.seed, o.offset, o.a, o.b);
  return t;
}
}  // namespace detail

// t = uniform numbers in [low, high)
struct RandomUniform {
  static constexpr OpInfo info{"randomUniform", Pass::Utility, "", "", "A tensor of shape with numbers uniform in [low, high)"};
  static constexpr std::array<const char*, 2> args{"shape", "options"};
  using Kernel = void(Backend&, Tensor& t, uint64_t seed, uint64_t offset, double low, double high);
  static Tensor run(const Shape& shape, const UniformOptions& o) {
    const char* op = info.name;
    check::finite(op, "low", o.a);
    check::finite(op, "high", o.b);
    if (!(o.a <= o.b)) fail<ValueError>(op, ": low (", o.a, ") must not exceed high (", o.b, ")");
    return detail::random_fill<RandomUniform>(shape, o);
  }
};

// t = normal numbers of mean `mean` and standard deviation `std`
struct RandomNormal {
  static constexpr OpInfo info{"randomNormal", Pass::Utility, "", "", "A tensor of shape with normal numbers of the given mean and std"};
  static constexpr std::array<const char*, 2> args{"shape", "options"};
  using Kernel = void(Backend&, Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev);
  static Tensor run(const Shape& shape, const NormalOptions& o) {
    const char* op = info.name;
    check::finite(op, "mean", o.a);
    check::finite(op, "std", o.b);
    if (o.b < 0) fail<ValueError>(op, ": std must be non-negative, got ", o.b);
    return detail::random_fill<RandomNormal>(shape, o);
  }
};

}  // namespace ops
}  // namespace newton
