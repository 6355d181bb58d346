// Deterministic sums in double on the GPU (note [cuda execution model] in cuda_backend.h).
//
// Note [deterministic reduction]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// Pass 1: reduce_blocks(n) blocks of kReduceThreads threads; thread t of block b adds
// term(i) for i = b·T + t, b·T + t + G·T, ... (G blocks, T threads) in that order, in
// double; the block's threads are then combined by a fixed shuffle tree and a fixed
// sum over warps. Pass 2: one block adds the G block sums the same way. G depends only on
// n, never on the GPU model or its SM count, so the result is the same bits on every run
// and every device. It differs from the CPU's (native/core/cpu/blocked_sum.h, another
// order) by rounding in double only, ~1e-16 relative, far below float32 resolution.
#pragma once

#include <mutex>

#include "cuda_backend.h"
#include "launch.cuh"

namespace newton {
namespace cuda {

inline constexpr int kReduceThreads = 256;
inline constexpr int kReduceMaxBlocks = 1024;
// Elements per thread before another block is added (so small sums use few blocks).
inline constexpr int64_t kReducePerThread = 8;

inline int reduce_blocks(int64_t n) {
  const int64_t per_block = kReduceThreads * kReducePerThread;
  return static_cast<int>(std::clamp<int64_t>((n + per_block - 1) / per_block, 1, kReduceMaxBlocks));
}

// The sum of v over the block, valid in thread 0. Every thread of the block must call it,
// once per kernel (it uses one static shared array). blockDim.x must be kReduceThreads.
__device__ __forceinline__ double block_sum(double v) {
  __shared__ double warp_sums[kReduceThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kReduceThreads / 32 ? warp_sums[lane] : 0.0;
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  }
  return v;
}

// partial[blockIdx.x] = Σ term(i) over this block's share of [0, n).
template <typename Term>
__global__ void __launch_bounds__(kReduceThreads) reduce_partial_kernel(int64_t n, Term term, double* partial) {
  double acc = 0.0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kReduceThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kReduceThreads + threadIdx.x; i < n; i += stride) {
    acc += term(i);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// *out = Σ partial[0, count), one block.
__global__ void __launch_bounds__(kReduceThreads) reduce_final_kernel(const double* partial, int count, double* out);

// Σ term(i) for i in [0, n), in double, deterministic; waits for the stream (the value is
// needed on the host). term runs on the device and may also write (note [fused CG update]
// in reduce.cu).
template <typename Term>
double reduce_sum(CudaBackend& backend, const char* op, int64_t n, Term term) {
  if (n <= 0) return 0.0;
  backend.set_device();
  std::lock_guard<std::mutex> lock(backend.reduce_mutex());
  double* partial = backend.reduce_scratch();
  const int blocks = reduce_blocks(n);
  reduce_partial_kernel<<<blocks, kReduceThreads, 0, backend.stream()>>>(n, term, partial);
  NEWTON_CUDA_CHECK_LAUNCH(op);
  reduce_final_kernel<<<1, kReduceThreads, 0, backend.stream()>>>(partial, blocks, partial + kReduceMaxBlocks);
  NEWTON_CUDA_CHECK_LAUNCH(op);
  return backend.read_scalar(op, partial + kReduceMaxBlocks);
}

}  // namespace cuda
}  // namespace newton
