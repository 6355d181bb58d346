// Fill, copy and cast on the GPU (native/core/ops/data.h), for float32 and int32 (index
// tensors such as max pooling's argmax); the channel copies (channelCopy, channelSlice) for
// float32.
#include <cmath>
#include <cstdint>

#include "check.h"
#include "core/ops/data.h"
#include "cuda_backend.h"
#include "launch.cuh"

namespace newton {
namespace cuda {

namespace {

// t: float32 or int32 (the dtypes listed below).
void fill(Backend& backend, Tensor& t, double value) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::Fill::info.name;
  const int64_t n = t.numel();
  if (n == 0) return;
  cuda.set_device();
  if (t.dtype() == DType::I32) {
    const int32_t v = static_cast<int32_t>(value);
    int32_t* p = t.data<int32_t>();
    launch_for_each(op, cuda.stream(), n, [=] __device__(int64_t i) { p[i] = v; });
    return;
  }
  const float v = static_cast<float>(value);
  float* p = t.data<float>();
  if (v == 0.0f && !std::signbit(v)) {
    NEWTON_CUDA_CHECK(op, cudaMemsetAsync(p, 0, t.nbytes(), cuda.stream()));
    return;
  }
  launch_for_each(op, cuda.stream(), n, [=] __device__(int64_t i) { p[i] = v; });
}

// dst, src: one shape and dtype; the same tensor or disjoint.
void copy(Backend& backend, Tensor& dst, const Tensor& src) {
  if (dst.raw() == src.raw() || dst.nbytes() == 0) return;
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  NEWTON_CUDA_CHECK(ops::Copy::info.name,
                    cudaMemcpyAsync(dst.raw(), src.raw(), dst.nbytes(), cudaMemcpyDeviceToDevice, cuda.stream()));
}

// y: x's shape in y's dtype. The dispatcher passes float32 -> float32, int32 -> int32 and
// int32 -> float32 (it refuses casts to int32 from a float dtype).
void cast(Backend& backend, Tensor& y, const Tensor& x) {
  if (y.dtype() == x.dtype()) return copy(backend, y, x);
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::Cast::info.name;
  const int64_t n = y.numel();
  if (n == 0) return;
  cuda.set_device();
  if (y.dtype() == DType::F32) {
    float* o = y.data<float>();
    const int32_t* in = x.data<int32_t>();
    launch_for_each(op, cuda.stream(), n, [=] __device__(int64_t i) { o[i] = static_cast<float>(in[i]); });
  } else {
    int32_t* o = y.data<int32_t>();
    const float* in = x.data<float>();
    launch_for_each(op, cuda.stream(), n, [=] __device__(int64_t i) { o[i] = static_cast<int32_t>(in[i]); });
  }
}

// `rows` blocks of `block` elements: block r from in + r·in_stride to out + r·out_stride, one
// grid-stride loop over every element (coalesced reads and writes within a block).
template <typename T>
void copy_blocks(const char* op, CudaBackend& cuda, T* out, int64_t out_stride, const T* in, int64_t in_stride,
                 int64_t rows, int64_t block) {
  launch_for_each(op, cuda.stream(), rows * block, [=] __device__(int64_t i) {
    const int64_t r = i / block;
    const int64_t k = i - r * block;
    out[r * out_stride + k] = in[r * in_stride + k];
  });
}

// dst (N, Cd, ...) channels [offset, offset + Cs) = src (N, Cs, ...); float32, checked by the
// declaration, src not empty.
void channel_copy(Backend& backend, Tensor& dst, const Tensor& src, int64_t offset) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  const int64_t unit = ops::detail::channel_size(src);
  copy_blocks(ops::ChannelCopy::info.name, cuda, dst.data<float>() + offset * unit, dst.dim(1) * unit,
              src.data<float>(), src.dim(1) * unit, src.dim(0), src.dim(1) * unit);
}

// out (N, count, ...) = src (N, C, ...) channels [offset, offset + count); out not empty.
void channel_slice(Backend& backend, Tensor& out, const Tensor& src, int64_t offset) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  const int64_t unit = ops::detail::channel_size(src);
  copy_blocks(ops::ChannelSlice::info.name, cuda, out.data<float>(), out.dim(1) * unit,
              src.data<float>() + offset * unit, src.dim(1) * unit, src.dim(0), out.dim(1) * unit);
}

// What a CUDA tensor can hold: float32 data and int32 indices.
constexpr DTypeSet kCudaTypes{DType::F32, DType::I32};

}  // namespace

void register_data_kernels(KernelTable& table) {
  table.add<ops::Fill>(kCudaTypes, fill);
  table.add<ops::Copy>(kCudaTypes, copy);
  table.add<ops::Cast>(kCudaTypes, cast);  // by x's dtype; y's must have a Fill entry
  table.add<ops::ChannelCopy>(kFloat32Only, channel_copy);
  table.add<ops::ChannelSlice>(kFloat32Only, channel_slice);
}

}  // namespace cuda
}  // namespace newton
