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

// Pass 1 of the batch statistics: mean_d[ch] = Σ x / m in double, one block per channel.
__global__ void __launch_bounds__(kReduceThreads)
    channel_mean_kernel(const float* x, int64_t n, int64_t channels, int64_t plane, double* mean_d) {
  const int64_t ch = blockIdx.x;
  const int64_t count = n * plane;
  double acc = 0.0;
  for (int64_t e = threadIdx.x; e < count; e += kReduceThreads) {
    const int64_t s = e / plane, i = e - s * plane;
    acc += static_cast<double>(x[(s * channels + ch) * plane + i]);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) mean_d[ch] = acc / static_cast<double>(count);
}

// Pass 2: variance = Σ (x − mean_d)² / m in double, then the three results rounded to float.
__global__ void __launch_bounds__(kReduceThreads)
    channel_variance_kernel(const float* x, int64_t n, int64_t channels, int64_t plane, double eps, const double* mean_d,
                            float* mean, float* variance, float* inv_std) {
  const int64_t ch = blockIdx.x;
  const int64_t count = n * plane;
  const double mu = mean_d[ch];
  double acc = 0.0;
  for (int64_t e = threadIdx.x; e < count; e += kReduceThreads) {
    const int64_t s = e / plane, i = e - s * plane;
    const double d = __dsub_rn(static_cast<double>(x[(s * channels + ch) * plane + i]), mu);
    acc = __dadd_rn(acc, __dmul_rn(d, d));
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) {
    const double v = acc / static_cast<double>(count);
    mean[ch] = static_cast<float>(mu);
    variance[ch] = static_cast<float>(v);
    inv_std[ch] = static_cast<float>(__ddiv_rn(1.0, __dsqrt_rn(__dadd_rn(v, eps))));
  }
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

// out = x·scale[c] (+ shift[c]), each operation rounded (no FMA), as the CPU; out may be x.
void channel_affine(Backend& backend, Tensor& out, const Tensor& x, const Tensor& scale, const Tensor* shift) {
  CudaBackend& cuda = as_cuda(backend);
  const int64_t n = x.dim(0), c = x.dim(1);
  if (n * c == 0) return;
  const int64_t plane = x.numel() / (n * c);
  cuda.set_device();
  float* o = out.data<float>();
  const float* in = x.data<float>();
  const float* s = scale.data<float>();
  const float* t = shift ? shift->data<float>() : nullptr;
  launch_for_each(ops::ChannelAffine::info.name, cuda.stream(), x.numel(), [=] __device__(int64_t i) {
    const int64_t ch = (i / plane) % c;
    const float p = mul_rn(in[i], s[ch]);
    o[i] = t ? add_rn(p, t[ch]) : p;
  });
}

// out = (a·as[c] + b·bs[c]) (+ shift[c]), each operation rounded in that order, as the CPU.
void channel_combine(Backend& backend, Tensor& out, const Tensor& a, const Tensor& a_scale, const Tensor& b,
                     const Tensor& b_scale, const Tensor* shift) {
  CudaBackend& cuda = as_cuda(backend);
  const int64_t n = a.dim(0), c = a.dim(1);
  if (n * c == 0) return;
  const int64_t plane = a.numel() / (n * c);
  cuda.set_device();
  float* o = out.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* sa = a_scale.data<float>();
  const float* sb = b_scale.data<float>();
  const float* t = shift ? shift->data<float>() : nullptr;
  launch_for_each(ops::ChannelCombine::info.name, cuda.stream(), a.numel(), [=] __device__(int64_t i) {
    const int64_t ch = (i / plane) % c;
    const float sum = add_rn(mul_rn(pa[i], sa[ch]), mul_rn(pb[i], sb[ch]));
    o[i] = t ? add_rn(sum, t[ch]) : sum;
  });
}

// mean, variance, invStd (C) of x (N, C, S...): two kernels of one block per channel, the mean
// in double passed between them through scratch memory from the caching allocator.
void batch_norm_stats(Backend& backend, Tensor& mean, Tensor& variance, Tensor& inv_std, const Tensor& x, double eps) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::BatchNormStats::info.name;
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t plane = x.numel() / (n * c);
  // One block per channel: a limit of the grid (2^31 − 1 blocks), not of the op.
  if (c > INT32_MAX) fail<ShapeError>(op, ": too many channels for one CUDA grid: ", c);
  cuda.set_device();
  Allocator& allocator = cuda.caching_allocator();
  const std::size_t bytes = static_cast<std::size_t>(c) * sizeof(double);
  double* mean_d = static_cast<double*>(allocator.allocate(bytes));
  try {
    channel_mean_kernel<<<static_cast<unsigned>(c), kReduceThreads, 0, cuda.stream()>>>(x.data<float>(), n, c, plane, mean_d);
    NEWTON_CUDA_CHECK_LAUNCH(op);
    channel_variance_kernel<<<static_cast<unsigned>(c), kReduceThreads, 0, cuda.stream()>>>(
        x.data<float>(), n, c, plane, eps, mean_d, mean.data<float>(), variance.data<float>(), inv_std.data<float>());
    NEWTON_CUDA_CHECK_LAUNCH(op);
  } catch (...) {
    allocator.deallocate(mean_d, bytes);
    throw;
  }
  // Reused only by work queued after these kernels on the same stream (note [caching allocator]).
  allocator.deallocate(mean_d, bytes);
}

}  // namespace

void register_channel_kernels(KernelTable& table) {
  table.add<ops::BiasAdd>(kFloat32Only, bias_add);
  table.add<ops::BiasGrad>(kFloat32Only, bias_grad);
  table.add<ops::ChannelDot>(kFloat32Only, channel_dot);
  table.add<ops::ChannelAffine>(kFloat32Only, channel_affine);
  table.add<ops::ChannelCombine>(kFloat32Only, channel_combine);
  table.add<ops::BatchNormStats>(kFloat32Only, batch_norm_stats);
}

}  // namespace cuda
}  // namespace newton
