// Per-channel ops on the GPU (native/core/ops/channel.h), float32: t (N, C, S...) viewed as
// N·C planes of S... elements. The bias add is the CPU's one float32 addition per element;
// the bias gradient sums in double in a fixed order (reduce.cuh's block_sum).
#include <climits>
#include <cstdint>

#include "check.h"
#include "core/ops/channel.h"
#include "cuda_backend.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace newton {
namespace cuda {

namespace {

// db[ch] = Σ over n and s of dy[(n·C + ch)·plane + s], one block per channel, in double,
// in a fixed order (reduce.cuh's block_sum).
__global__ void __launch_bounds__(kReduceThreads)
    bias_grad_kernel(const float* dy, int64_t n, int64_t channels, int64_t plane, float* db) {
  const int64_t ch = blockIdx.x;
  const int64_t count = n * plane;
  double acc = 0.0;
  for (int64_t e = threadIdx.x; e < count; e += kReduceThreads) {
    const int64_t s = e / plane, i = e - s * plane;  // s: sample, i: position in the plane
    acc += static_cast<double>(dy[(s * channels + ch) * plane + i]);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) db[ch] = static_cast<float>(acc);
}

// out[ch] = Σ over n and s of a⊙b at (n·C + ch)·plane + s, one block per channel, in double,
// in a fixed order (as bias_grad_kernel).
__global__ void __launch_bounds__(kReduceThreads)
    channel_dot_kernel(const float* a, const float* b, int64_t n, int64_t channels, int64_t plane, float* out) {
  const int64_t ch = blockIdx.x;
  const int64_t count = n * plane;
  double acc = 0.0;
  for (int64_t e = threadIdx.x; e < count; e += kReduceThreads) {
    const int64_t s = e / plane, i = e - s * plane;
    const int64_t k = (s * channels + ch) * plane + i;
    acc += static_cast<double>(a[k]) * static_cast<double>(b[k]);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[ch] = static_cast<float>(acc);
}

// out: (N, C, S...) = y + b[c]; b: (C). Element-wise, so out may be y itself.
void bias_add(Backend& backend, Tensor& out, const Tensor& y, const Tensor& b) {
  CudaBackend& cuda = as_cuda(backend);
  const int64_t n = y.dim(0), c = y.dim(1);
  if (n * c == 0) return;
  const int64_t plane = y.numel() / (n * c);
  if (plane == 0) return;
  cuda.set_device();
  float* o = out.data<float>();
  const float* in = y.data<float>();
  const float* bias = b.data<float>();
  launch_for_each(ops::BiasAdd::info.name, cuda.stream(), y.numel(),
                  [=] __device__(int64_t i) { o[i] = in[i] + bias[(i / plane) % c]; });
}

// db: (C) = Σ over every axis but 1 of dy: (N, C, S...)
void bias_grad(Backend& backend, Tensor& db, const Tensor& dy) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::BiasGrad::info.name;
  const int64_t n = dy.dim(0), c = dy.dim(1);
  if (c == 0) return;
  const int64_t plane = n == 0 ? 0 : dy.numel() / (n * c);
  cuda.set_device();
  if (n == 0 || plane == 0) {
    NEWTON_CUDA_CHECK(op, cudaMemsetAsync(db.raw(), 0, db.nbytes(), cuda.stream()));
    return;
  }
  // One block per channel: a limit of the grid (2^31 − 1 blocks), not of the op.
  if (c > INT32_MAX) fail<ShapeError>(op, ": too many channels for one CUDA grid: ", c);
  bias_grad_kernel<<<static_cast<unsigned>(c), kReduceThreads, 0, cuda.stream()>>>(dy.data<float>(), n, c, plane,
                                                                                    db.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

// out: (C) = Σ over every axis but 1 of a⊙b: a, b (N, C, S...)
void channel_dot(Backend& backend, Tensor& out, const Tensor& a, const Tensor& b) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::ChannelDot::info.name;
  const int64_t n = a.dim(0), c = a.dim(1);
  if (c == 0) return;
  const int64_t plane = n == 0 ? 0 : a.numel() / (n * c);
  cuda.set_device();
  if (n == 0 || plane == 0) {
    NEWTON_CUDA_CHECK(op, cudaMemsetAsync(out.raw(), 0, out.nbytes(), cuda.stream()));
    return;
  }
  // One block per channel: a limit of the grid (2^31 − 1 blocks), not of the op.
  if (c > INT32_MAX) fail<ShapeError>(op, ": too many channels for one CUDA grid: ", c);
  channel_dot_kernel<<<static_cast<unsigned>(c), kReduceThreads, 0, cuda.stream()>>>(a.data<float>(), b.data<float>(), n, c,
                                                                                      plane, out.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

}  // namespace

void register_channel_kernels(KernelTable& table) {
  table.add<ops::BiasAdd>(kFloat32Only, bias_add);
  table.add<ops::BiasGrad>(kFloat32Only, bias_grad);
  table.add<ops::ChannelDot>(kFloat32Only, channel_dot);
}

}  // namespace cuda
}  // namespace newton
