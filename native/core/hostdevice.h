// NEWTON_HD marks functions compiled for both the host and CUDA devices, so that one
// formula serves the CPU and CUDA backends and the CPU tests exercise the GPU's arithmetic.
#pragma once

#if defined(__CUDACC__)
#define NEWTON_HD __host__ __device__ __forceinline__
#else
#define NEWTON_HD inline
#endif
