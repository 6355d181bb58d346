// Matrix products on the GPU (native/core/ops/linalg.h): GEMM through cuBLAS, row-major,
// exact float32 unless TF32 is asked for. Linear and LinearBackward are composites of Gemm
// and the channel ops (no kernels of their own).
//
// cuBLAS is column-major. A row-major M×N matrix with leading dimension N is, read
// column-major, its N×M transpose. So the row-major C = op(A)·op(B) is computed as the
// column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS gets B's data first, the dimensions (n, m, k)
// and the same transpose flags.
//
// Math mode (set once on the handle, cuda_backend.cu): CUBLAS_DEFAULT_MATH, i.e. plain
// float32 FMA arithmetic; with NEWTON_CUDA_TF32=1, CUBLAS_TF32_TENSOR_OP_MATH (10-bit
// mantissa inputs, ~1e-3 relative error: not for derivative checks).
#include <mutex>

#include "check.h"
#include "core/ops/linalg.h"
#include "cuda_backend.h"
#include "launch.cuh"

namespace newton {
namespace cuda {

namespace {

// c: (M, N) = alpha·op(a)·op(b) + beta·c; a: (M, K) or (K, M) when trans_a, b: (K, N) or
// (N, K) when trans_b.
void gemm(Backend& backend, Tensor& c, const Tensor& a, const Tensor& b, const GemmParams& p) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::Gemm::info.name;
  const int64_t m = c.dim(0), n = c.dim(1);
  const int64_t k = p.trans_a ? a.dim(0) : a.dim(1);
  if (m <= 0 || n <= 0) return;
  cuda.set_device();
  const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
  float* out = c.data<float>();
  if (k <= 0 || alpha == 0.0f) {
    // As the CPU backend: C = beta·C without reading A or B (beta = 0 writes zeros, so an
    // uninitialised C never leaks NaN).
    const int64_t count = m * n;
    if (beta == 0.0f) {
      NEWTON_CUDA_CHECK(op, cudaMemsetAsync(out, 0, c.nbytes(), cuda.stream()));
    } else if (beta != 1.0f) {
      launch_for_each(op, cuda.stream(), count, [=] __device__(int64_t i) { out[i] = out[i] * beta; });
    }
    return;
  }
  // Leading dimensions are the stored row lengths; every dimension is ≥ 1 here, so they
  // meet cuBLAS's lda ≥ max(1, rows of the column-major operand).
  const int64_t lda = a.dim(1), ldb = b.dim(1), ldc = n;
  const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  std::lock_guard<std::mutex> lock(cuda.library_mutex());
  NEWTON_CUBLAS_CHECK(op, cublasSgemm_64(cuda.cublas(), op_b, op_a, n, m, k, &alpha, b.data<float>(), ldb,
                                         a.data<float>(), lda, &beta, out, ldc));
}

}  // namespace

void register_linalg_kernels(KernelTable& table) { table.add<ops::Gemm>(kFloat32Only, gemm); }

}  // namespace cuda
}  // namespace newton
