// Fill, copy and cast on the CPU (ops/data.h), for every dtype; the channel copies
// (channelCopy, channelSlice) for float32 and float64.
#include <algorithm>
#include <cstring>

#include "../ops/data.h"
#include "cpu_backend.h"
#include "dispatch.h"

namespace newton {
namespace {

template <typename To, typename From>
void convert(To* out, const From* in, int64_t n) {
  for_each_index(n, [&](int64_t i) { out[i] = static_cast<To>(in[i]); });
}

template <typename To>
void convert_from(To* out, const Tensor& src) {
  const int64_t n = src.numel();
  switch (src.dtype()) {
    case DType::F32: convert(out, src.data<float>(), n); break;
    case DType::F64: convert(out, src.data<double>(), n); break;
    case DType::I32: convert(out, src.data<int32_t>(), n); break;
  }
}

void fill(Backend&, Tensor& t, double value) {
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::F32: {
      float* p = t.data<float>();
      const float v = static_cast<float>(value);
      for_each_index(n, [&](int64_t i) { p[i] = v; });
      break;
    }
    case DType::F64: {
      double* p = t.data<double>();
      for_each_index(n, [&](int64_t i) { p[i] = value; });
      break;
    }
    case DType::I32: {
      int32_t* p = t.data<int32_t>();
      const int32_t v = static_cast<int32_t>(value);
      for_each_index(n, [&](int64_t i) { p[i] = v; });
      break;
    }
  }
}

void copy(Backend&, Tensor& dst, const Tensor& src) {
  if (dst.raw() == src.raw()) return;
  char* out = static_cast<char*>(dst.raw());
  const char* in = static_cast<const char*>(src.raw());
  const int64_t bytes = static_cast<int64_t>(dst.nbytes());
  parallel_for(bytes, int64_t{1} << 20, [&](int64_t begin, int64_t end) {
    std::memcpy(out + begin, in + begin, static_cast<std::size_t>(end - begin));
  });
}

// y: x's shape in y's dtype
void cast(Backend& b, Tensor& y, const Tensor& x) {
  if (y.dtype() == x.dtype()) return copy(b, y, x);
  switch (y.dtype()) {
    case DType::F32: convert_from(y.data<float>(), x); break;
    case DType::F64: convert_from(y.data<double>(), x); break;
    case DType::I32: convert_from(y.data<int32_t>(), x); break;
  }
}

// `rows` blocks of `block` bytes: block r from in + r·in_stride to out + r·out_stride (byte
// strides). Split over the threads by bytes, not by rows, so that a few large blocks (a small
// batch of big images) and many small ones (a large batch of few channels) both spread.
void copy_blocks(char* out, int64_t out_stride, const char* in, int64_t in_stride, int64_t rows, int64_t block) {
  parallel_for(rows * block, int64_t{1} << 20, [&](int64_t begin, int64_t end) {
    int64_t r = begin / block;
    int64_t at = begin - r * block;
    while (begin < end) {
      const int64_t len = std::min(block - at, end - begin);
      std::memcpy(out + r * out_stride + at, in + r * in_stride + at, static_cast<std::size_t>(len));
      begin += len;
      ++r;
      at = 0;
    }
  });
}

// dst (N, Cd, ...) channels [offset, offset + Cs) = src (N, Cs, ...); checked by the declaration.
void channel_copy(Backend&, Tensor& dst, const Tensor& src, int64_t offset) {
  const int64_t unit = ops::detail::channel_size(src) * static_cast<int64_t>(dtype_size(src.dtype()));
  copy_blocks(static_cast<char*>(dst.raw()) + offset * unit, dst.dim(1) * unit, static_cast<const char*>(src.raw()),
              src.dim(1) * unit, src.dim(0), src.dim(1) * unit);
}

// out (N, count, ...) = src (N, C, ...) channels [offset, offset + count).
void channel_slice(Backend&, Tensor& out, const Tensor& src, int64_t offset) {
  const int64_t unit = ops::detail::channel_size(src) * static_cast<int64_t>(dtype_size(src.dtype()));
  copy_blocks(static_cast<char*>(out.raw()), out.dim(1) * unit, static_cast<const char*>(src.raw()) + offset * unit,
              src.dim(1) * unit, src.dim(0), out.dim(1) * unit);
}

constexpr DTypeSet kAllTypes{DType::F32, DType::F64, DType::I32};

}  // namespace

void register_data_kernels(KernelTable& table) {
  table.add<ops::Fill>(kAllTypes, fill);
  table.add<ops::Copy>(kAllTypes, copy);
  table.add<ops::Cast>(kAllTypes, cast);
  table.add<ops::ChannelCopy>(kFloatingTypes, channel_copy);
  table.add<ops::ChannelSlice>(kFloatingTypes, channel_slice);
}

}  // namespace newton
