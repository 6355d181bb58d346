// Losses on the GPU (native/core/ops/loss.h), float32: squared loss and softmax
// cross-entropy, values, gradients and B·u, with the CPU backend's semantics
// (native/core/cpu/loss.cpp): per-row arithmetic in double, a stable log-sum-exp, NaN and
// ±inf logits handled the same way. The squared loss's B·u = 2u is a composite of Scale.
//
// Row kernels give each row of z: (N, K) to one warp: lanes stride over the K columns and
// combine their partial max / sums with a fixed butterfly (__shfl_xor_sync), so every lane
// holds the same, deterministic row value. That order differs from the CPU's left-to-right
// sum only by rounding in double (~1e-16 relative), invisible after rounding to float32
// except in rare ties; parity tests use a tolerance of a few float32 ulps.
#include <cmath>
#include <cstdint>

#include "core/ops/loss.h"
#include "core/scalar_math.h"
#include "cuda_backend.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace newton {
namespace cuda {

namespace {

constexpr int kWarpsPerBlock = kThreads / 32;

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// std::max(m, v) as the CPU calls it: v only if m < v, so NaN never wins.
__device__ __forceinline__ double max_keep_nan_out(double m, double v) { return m < v ? v : m; }

__device__ __forceinline__ double warp_max(double m) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) m = max_keep_nan_out(m, __shfl_xor_sync(0xffffffffu, m, offset));
  return m;
}

// The CPU's log_sum_exp for one row: p_j = exp(z_j − shift − lse).
struct RowStats {
  double shift, lse;
};

__device__ RowStats row_stats(const float* z, int64_t k, int lane) {
  double m = -INFINITY;
  bool has_nan = false;
  for (int64_t j = lane; j < k; j += 32) {
    const double v = static_cast<double>(z[j]);
    m = max_keep_nan_out(m, v);
    has_nan = has_nan || v != v;
  }
  m = warp_max(m);
  has_nan = __any_sync(0xffffffffu, has_nan);
  // m is never NaN (NaN logits are skipped); ±inf takes the CPU's fallback: no shift, then
  // NaN if any logit is NaN.
  const bool fallback = isinf(m);
  const double shift = fallback ? 0.0 : m;
  double s = 0.0;
  for (int64_t j = lane; j < k; j += 32) s += exp(static_cast<double>(z[j]) - shift);
  s = warp_sum(s);
  double lse = log(s);
  if (fallback && has_nan) lse = NAN;
  return RowStats{shift, lse};
}

__device__ __forceinline__ double prob(const float* z, int64_t j, const RowStats& st) {
  return exp(static_cast<double>(z[j]) - st.shift - st.lse);
}

// Runs body(row, lane) for every row with one warp per row; warp-uniform loop, so every
// lane takes part in the shuffles.
#define NEWTON_FOR_EACH_ROW(n)                                                                  \
  const int lane = threadIdx.x & 31;                                                            \
  const int64_t warp_stride = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;                 \
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); row < (n); \
       row += warp_stride)

__global__ void __launch_bounds__(kThreads) softmax_kernel(int64_t n, int64_t k, const float* z, float* p) {
  NEWTON_FOR_EACH_ROW(n) {
    const float* zr = z + row * k;
    const RowStats st = row_stats(zr, k, lane);
    for (int64_t j = lane; j < k; j += 32) p[row * k + j] = static_cast<float>(prob(zr, j, st));
  }
}

// dz = p − y
__global__ void __launch_bounds__(kThreads)
    sce_grad_kernel(int64_t n, int64_t k, const float* z, const float* y, float* dz) {
  NEWTON_FOR_EACH_ROW(n) {
    const float* zr = z + row * k;
    const RowStats st = row_stats(zr, k, lane);
    for (int64_t j = lane; j < k; j += 32) {
      dz[row * k + j] = static_cast<float>(prob(zr, j, st) - static_cast<double>(y[row * k + j]));
    }
  }
}

// out = p ⊙ u − p (pᵀu)
__global__ void __launch_bounds__(kThreads)
    sce_hvp_kernel(int64_t n, int64_t k, const float* z, const float* u, float* out) {
  NEWTON_FOR_EACH_ROW(n) {
    const float* zr = z + row * k;
    const RowStats st = row_stats(zr, k, lane);
    double pu = 0.0;
    for (int64_t j = lane; j < k; j += 32) pu += prob(zr, j, st) * static_cast<double>(u[row * k + j]);
    pu = warp_sum(pu);
    for (int64_t j = lane; j < k; j += 32) {
      out[row * k + j] = static_cast<float>(prob(zr, j, st) * (static_cast<double>(u[row * k + j]) - pu));
    }
  }
}

// row_loss[r] = −Σ_j y_rj·log p_rj over the j with y_rj ≠ 0 (or NaN), as loss.cpp.
__global__ void __launch_bounds__(kThreads)
    sce_loss_kernel(int64_t n, int64_t k, const float* z, const float* y, double* row_loss) {
  NEWTON_FOR_EACH_ROW(n) {
    const float* zr = z + row * k;
    const RowStats st = row_stats(zr, k, lane);
    double loss = 0.0;
    for (int64_t j = lane; j < k; j += 32) {
      const double t = static_cast<double>(y[row * k + j]);
      if (t != 0.0 || t != t) loss -= t * (static_cast<double>(zr[j]) - st.shift - st.lse);
    }
    loss = warp_sum(loss);
    if (lane == 0) row_loss[row] = loss;
  }
}

#undef NEWTON_FOR_EACH_ROW

unsigned row_grid(int64_t n) { return grid_for(n, kWarpsPerBlock); }

// Σ (z − y)² in double
double squared_loss(Backend& backend, const Tensor& z, const Tensor& y) {
  const float* zs = z.data<float>();
  const float* ys = y.data<float>();
  return reduce_sum(as_cuda(backend), ops::SquaredLoss::info.name, z.numel(), [=] __device__(int64_t i) {
    const double d = static_cast<double>(zs[i]) - static_cast<double>(ys[i]);
    return d * d;
  });
}

// dz = 2(z − y)
void squared_loss_grad(Backend& backend, Tensor& dz, const Tensor& z, const Tensor& y) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* out = dz.data<float>();
  const float* zs = z.data<float>();
  const float* ys = y.data<float>();
  launch_for_each(ops::SquaredLossGradient::info.name, cuda.stream(), z.numel(),
                  [=] __device__(int64_t i) { out[i] = math::squared_loss_grad(zs[i], ys[i]); });
}

// p: (N, K) = softmax(z) row-wise
void softmax(Backend& backend, Tensor& p, const Tensor& z) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::Softmax::info.name;
  const int64_t n = z.dim(0), k = z.dim(1);
  if (n == 0 || k == 0) return;
  cuda.set_device();
  softmax_kernel<<<row_grid(n), kThreads, 0, cuda.stream()>>>(n, k, z.data<float>(), p.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

// −Σ y ⊙ log softmax(z) over z, y: (N, K)
double softmax_cross_entropy(Backend& backend, const Tensor& z, const Tensor& y) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::SoftmaxCrossEntropy::info.name;
  const int64_t n = z.dim(0), k = z.dim(1);
  if (n == 0 || k == 0) return 0.0;
  cuda.set_device();
  // Per-row losses, then their deterministic sum (the CPU adds rows in order).
  Tensor rows = Tensor::empty({n}, DType::F64, cuda.caching_allocator());
  double* row_loss = rows.data<double>();
  sce_loss_kernel<<<row_grid(n), kThreads, 0, cuda.stream()>>>(n, k, z.data<float>(), y.data<float>(), row_loss);
  NEWTON_CUDA_CHECK_LAUNCH(op);
  return reduce_sum(cuda, op, n, [=] __device__(int64_t i) { return row_loss[i]; });
}

// dz = softmax(z) − y
void softmax_cross_entropy_grad(Backend& backend, Tensor& dz, const Tensor& z, const Tensor& y) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::SoftmaxCrossEntropyGradient::info.name;
  const int64_t n = z.dim(0), k = z.dim(1);
  if (n == 0 || k == 0) return;
  cuda.set_device();
  sce_grad_kernel<<<row_grid(n), kThreads, 0, cuda.stream()>>>(n, k, z.data<float>(), y.data<float>(),
                                                               dz.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

// out = p ⊙ u − p (pᵀu) per row, p = softmax(z)
void softmax_cross_entropy_hvp(Backend& backend, Tensor& out, const Tensor& z, const Tensor& u) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::SoftmaxCrossEntropyHessianProduct::info.name;
  const int64_t n = z.dim(0), k = z.dim(1);
  if (n == 0 || k == 0) return;
  cuda.set_device();
  sce_hvp_kernel<<<row_grid(n), kThreads, 0, cuda.stream()>>>(n, k, z.data<float>(), u.data<float>(),
                                                              out.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

}  // namespace

void register_loss_kernels(KernelTable& table) {
  table.add<ops::SquaredLoss>(kFloat32Only, squared_loss);
  table.add<ops::SquaredLossGradient>(kFloat32Only, squared_loss_grad);
  table.add<ops::Softmax>(kFloat32Only, softmax);
  table.add<ops::SoftmaxCrossEntropy>(kFloat32Only, softmax_cross_entropy);
  table.add<ops::SoftmaxCrossEntropyGradient>(kFloat32Only, softmax_cross_entropy_grad);
  table.add<ops::SoftmaxCrossEntropyHessianProduct>(kFloat32Only, softmax_cross_entropy_hvp);
}

}  // namespace cuda
}  // namespace newton
