// Data movement ops: fill, copy, cast (note [op declarations] in op.h). They run on every
// dtype a device can hold, int32 index tensors included.
#pragma once

#include <cmath>

#include "../op.h"

namespace newton {
namespace ops {

#define NEWTON_DATA_OPS(X) X(Fill) X(Copy) X(Cast)

// A value an element of `dtype` can hold: finite, and an int32 integer for int32 tensors.
inline void check_fill_value(const char* op, double value, DType dtype) {
  check::finite(op, "value", value);
  if (dtype == DType::I32 && (value != std::floor(value) || value < -2147483648.0 || value > 2147483647.0)) {
    fail<ValueError>(op, ": value must be an int32 integer for an int32 tensor, got ", value);
  }
}

// t = value everywhere, in place.
struct Fill {
  static constexpr OpInfo info{"fill", Pass::Utility, "", "", "Sets every element of t to value, in place"};
  static constexpr std::array<const char*, 2> args{"t", "value"};
  using Kernel = void(Backend&, Tensor& t, double value);
  static void run(Tensor& t, double value) {
    const char* op = info.name;
    check::defined(op, "t", t);
    check_fill_value(op, value, t.dtype());
    backend_running<Fill>(op, t);
    if (t.numel() > 0) launch<Fill>(t, t, value);
  }
};

// dst = src, in place (same shape, dtype and device; no partial overlap).
struct Copy {
  static constexpr OpInfo info{"copy", Pass::Utility, "", "", "Copies src into dst (same shape, dtype and device), in place"};
  static constexpr std::array<const char*, 2> args{"dst", "src"};
  using Kernel = void(Backend&, Tensor& dst, const Tensor& src);
  static void run(Tensor& dst, const Tensor& src) {
    const char* op = info.name;
    check::defined(op, "dst", dst);
    check::defined(op, "src", src);
    check::same_dtype(op, "src", src, "dst", dst);
    check::same_device(op, "src", src, "dst", dst);
    check::same_shape(op, "src", src, "dst", dst);
    if (dst.raw() != src.raw()) check::disjoint(op, "dst and src", dst, src);
    backend_running<Copy>(op, dst);
    if (dst.numel() > 0) launch<Copy>(dst, dst, src);
  }
};

// A copy of x converted to dtype (float32 <-> float64; int32 -> float; nothing -> int32).
struct Cast {
  static constexpr OpInfo info{"cast", Pass::Utility, "", "", "x converted to dtype (float32 <-> float64, int32 -> float)"};
  static constexpr std::array<const char*, 2> args{"x", "dtype"};
  // y: x's shape in the target dtype
  using Kernel = void(Backend&, Tensor& y, const Tensor& x);
  static Tensor run(const Tensor& x, DType dtype) {
    const char* op = info.name;
    check::defined(op, "x", x);
    if (dtype == DType::I32 && x.dtype() != DType::I32) {
      fail<ShapeError>(op, ": cannot cast ", dtype_name(x.dtype()), " to int32 (int32 tensors hold indices only)");
    }
    Backend& b = backend_for(x.device());
    if (!supported<Cast>(b, x.dtype()) || !supported<Fill>(b, dtype)) {
      fail<ShapeError>(op, ": ", dtype_name(x.dtype()), " to ", dtype_name(dtype), " is not supported on ",
                       x.device().name());
    }
    Tensor y = allocate(op, x.shape(), dtype, x.device());
    if (x.numel() > 0) launch<Cast>(x, y, x);
    return y;
  }
};

}  // namespace ops
}  // namespace newton
