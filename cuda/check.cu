// Turns CUDA, cuBLAS and cuDNN status codes into newton::Error (check.h).
#include "check.h"

#include <sstream>

namespace newton {
namespace cuda {

namespace {

std::string where(const char* call, const char* file, int line) {
  std::ostringstream out;
  // Only the file's last two path components: "cuda/conv.cu:210".
  std::string f = file ? file : "?";
  std::size_t cut = f.rfind('/');
  if (cut != std::string::npos && cut > 0) {
    const std::size_t prev = f.rfind('/', cut - 1);
    if (prev != std::string::npos) f = f.substr(prev + 1);
  }
  out << " in " << call << " (" << f << ":" << line << ")";
  return out.str();
}

}  // namespace

std::string cuda_error_text(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
}

void throw_cuda_error(const char* op, cudaError_t status, const char* call, const char* file, int line) {
  const std::string message = std::string(op) + ": CUDA error " + cuda_error_text(status) + where(call, file, line);
  // A memory error reported by a launch or a copy is an out-of-memory like the allocator's
  // (note [error classes] in native/core/error.h); it leaves no sticky error behind.
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw OutOfMemoryError(message);
  }
  throw Error(message);
}

void throw_cublas_error(const char* op, cublasStatus_t status, const char* call, const char* file, int line) {
  const std::string message = std::string(op) + ": cuBLAS error " + cublasGetStatusName(status) + where(call, file, line);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw OutOfMemoryError(message);
  throw Error(message);
}

void throw_cudnn_error(const char* op, cudnnStatus_t status, const char* call, const char* file, int line) {
  std::string message = std::string(op) + ": cuDNN error " + cudnnGetErrorString(status) + where(call, file, line);
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  if (detail[0]) message += ": " + std::string(detail);
  if (status == CUDNN_STATUS_ALLOC_FAILED) throw OutOfMemoryError(message);
  throw Error(message);
}

}  // namespace cuda
}  // namespace newton
