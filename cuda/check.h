// Error checks for CUDA runtime, cuBLAS and cuDNN calls. A failure throws newton::Error
// carrying the op, the failing call, the library's message and file:line, e.g.
//   "conv2d: cuDNN error CUDNN_STATUS_BAD_PARAM in cudnnConvolutionForward(...) (cuda/conv.cu:210)"
// Never exit() or abort(): the host is a Node process and must survive.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "core/error.h"

namespace newton {
namespace cuda {

[[noreturn]] void throw_cuda_error(const char* op, cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(const char* op, cublasStatus_t status, const char* call, const char* file,
                                     int line);
[[noreturn]] void throw_cudnn_error(const char* op, cudnnStatus_t status, const char* call, const char* file,
                                    int line);

inline void check_cuda(cudaError_t status, const char* op, const char* call, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(op, status, call, file, line);
}
inline void check_cublas(cublasStatus_t status, const char* op, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(op, status, call, file, line);
}
inline void check_cudnn(cudnnStatus_t status, const char* op, const char* call, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) throw_cudnn_error(op, status, call, file, line);
}

// "<op>: <call>: <name>: <message>" from a CUDA status, without throwing (entry.cu uses it
// to explain why no backend could be created).
std::string cuda_error_text(cudaError_t status);

}  // namespace cuda
}  // namespace newton

// `op` is the JS name of the op being run ("conv2d"), used as the message's first word.
#define NEWTON_CUDA_CHECK(op, call) ::newton::cuda::check_cuda((call), (op), #call, __FILE__, __LINE__)
#define NEWTON_CUBLAS_CHECK(op, call) ::newton::cuda::check_cublas((call), (op), #call, __FILE__, __LINE__)
#define NEWTON_CUDNN_CHECK(op, call) ::newton::cuda::check_cudnn((call), (op), #call, __FILE__, __LINE__)
// After a kernel launch: reports a bad launch configuration at once. Faults inside the
// kernel surface at the next synchronising call (a read or synchronize()).
#define NEWTON_CUDA_CHECK_LAUNCH(op) \
  ::newton::cuda::check_cuda(cudaGetLastError(), (op), "kernel launch", __FILE__, __LINE__)
