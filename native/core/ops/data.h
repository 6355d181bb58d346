// Data movement ops: fill, copy, cast (note [op declarations] in op.h), which run on every
// dtype a device can hold, int32 index tensors included; and the channel copies of a channel
// concatenation (channelCopy, channelSlice), on float tensors (N, C, ...).
#pragma once

#include <cmath>

#include "../op.h"
#include "channel.h"

namespace newton {
namespace ops {

#define NEWTON_DATA_OPS(X) X(Fill) X(Copy) X(Cast) X(ChannelCopy) X(ChannelSlice)

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

namespace detail {
// A channel offset or count: a non-negative integer (JS numbers arrive as doubles).
inline int64_t channel_number(const char* op, const char* name, double value) {
  if (!(value >= 0) || value != std::floor(value) || value > 9007199254740991.0) {
    fail<ValueError>(op, ": ", name, " must be a non-negative integer, got ", value);
  }
  return static_cast<int64_t>(value);
}
// t and `whole` (N, C, ...): the same rank, batch and trailing dimensions; any channel counts.
inline void same_but_channels(const char* op, const char* arg, const Tensor& t, const char* whole_arg, const Tensor& whole) {
  bool same = t.ndim() == whole.ndim() && t.dim(0) == whole.dim(0);
  for (std::size_t i = 2; same && i < t.ndim(); ++i) same = t.dim(i) == whole.dim(i);
  if (!same) {
    fail<ShapeError>(op, ": ", arg, " ", fmt(t.shape()), " and ", whole_arg, " ", fmt(whole.shape()),
                     " must have the same shape but for the channels (axis 1)");
  }
}
// The product of the dimensions after the channels: the elements of one channel of one example.
inline int64_t channel_size(const Tensor& t) {
  int64_t n = 1;
  for (std::size_t i = 2; i < t.ndim(); ++i) n *= t.dim(i);
  return n;
}
}  // namespace detail

// dst[:, offset : offset + Cs] = src, in place: src (N, Cs, ...) into the channels of dst
// (N, Cd, ...) (same trailing dimensions, dtype and device; disjoint). One piece of a channel
// concatenation's forward pass.
struct ChannelCopy {
  static constexpr OpInfo info{"channelCopy", Pass::Utility, "", "",
                               "Writes src (N, Cs, ...) into channels [offset, offset + Cs) of dst (N, Cd, ...), in place"};
  static constexpr std::array<const char*, 3> args{"dst", "src", "offset"};
  // offset: checked, offset + Cs <= Cd
  using Kernel = void(Backend&, Tensor& dst, const Tensor& src, int64_t offset);
  static void run(Tensor& dst, const Tensor& src, double offset) {
    const char* op = info.name;
    detail::channels_first(op, "dst", dst);
    check::like(op, "src", src, "dst", dst);
    detail::same_but_channels(op, "src", src, "dst", dst);
    const int64_t at = detail::channel_number(op, "offset", offset);
    if (at + src.dim(1) > dst.dim(1)) {
      fail<ShapeError>(op, ": offset + the channels of src must be at most the channels of dst, got ", at, " + ",
                       src.dim(1), " > ", dst.dim(1), " (src ", fmt(src.shape()), ", dst ", fmt(dst.shape()), ")");
    }
    const bool itself = dst.raw() == src.raw() && dst.shape() == src.shape();  // then at == 0: nothing to do
    if (!itself) check::disjoint(op, "dst and src", dst, src);
    backend_running<ChannelCopy>(op, dst);
    if (src.numel() > 0 && !itself) launch<ChannelCopy>(dst, dst, src, at);
  }
};

// src[:, offset : offset + count]: channels [offset, offset + count) of src (N, C, ...) as a
// new (N, count, ...) tensor. The gradient of a channel concatenation for one of its inputs.
struct ChannelSlice {
  static constexpr OpInfo info{"channelSlice", Pass::Utility, "", "",
                               "Channels [offset, offset + count) of src (N, C, ...) as a new (N, count, ...) tensor"};
  static constexpr std::array<const char*, 3> args{"src", "offset", "count"};
  // out: (N, count, ...); offset: checked, offset + count <= C
  using Kernel = void(Backend&, Tensor& out, const Tensor& src, int64_t offset);
  static Tensor run(const Tensor& src, double offset, double count) {
    const char* op = info.name;
    detail::channels_first(op, "src", src);
    const int64_t at = detail::channel_number(op, "offset", offset);
    const int64_t n = detail::channel_number(op, "count", count);
    if (at + n > src.dim(1)) {
      fail<ShapeError>(op, ": offset + count must be at most the channels of src ", fmt(src.shape()), ", got ", at,
                       " + ", n, " > ", src.dim(1));
    }
    backend_running<ChannelSlice>(op, src);
    Shape shape = src.shape();
    shape[1] = n;
    Tensor out = allocate_like(op, src, shape);
    if (out.numel() > 0) launch<ChannelSlice>(src, out, src, at);
    return out;
  }
};

}  // namespace ops
}  // namespace newton
