// Launch helpers shared by the kernel files: grid sizes, the element-wise kernel and
// round-to-nearest arithmetic that nvcc will not fuse into FMAs.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "check.h"

namespace newton {
namespace cuda {

inline constexpr int kThreads = 256;
// Grid-stride loops cover any size; more blocks than this only adds scheduling work.
inline constexpr int64_t kMaxBlocks = int64_t{1} << 20;

inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, kMaxBlocks));
}

// f(i) for every i in [0, n).
template <typename F>
__global__ void __launch_bounds__(kThreads) for_each_kernel(int64_t n, F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

template <typename F>
void launch_for_each(const char* op, cudaStream_t stream, int64_t n, F f) {
  if (n <= 0) return;
  for_each_kernel<<<grid_for(n), kThreads, 0, stream>>>(n, f);
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

// IEEE round-to-nearest operations that are never contracted into an FMA. The CPU backend
// is compiled without contraction (-std=c++17, no -ffp-contract=fast), so `y + a*x`
// written with these gives the CPU's bits.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

}  // namespace cuda
}  // namespace newton
