// The CPU backend: always present, the default where no GPU is, and the reference the
// CUDA backend is tested against. float32 and float64 for every op. Each op family's
// kernels live in the file of the family's name (data.cpp, elementwise.cpp, reduce.cpp,
// channel.cpp, linalg.cpp, conv.cpp, pool.cpp, loss.cpp, random.cpp), which lists them in
// the kernel table with its register_<family>_kernels function (note [kernel tables] in
// backend.h).
#pragma once

#include <string>

#include "../backend.h"

namespace newton {

// Which GEMM the CPU backend uses: the linked CBLAS (when the build found one) or the
// built-in blocked kernel. Tests run both against the reference.
enum class GemmImpl : int { Blas = 0, Builtin = 1 };
bool blas_available();
const char* blas_name();  // "OpenBLAS", "CBLAS" or "built-in"
GemmImpl gemm_impl();
void set_gemm_impl(GemmImpl impl);  // throws ValueError when Blas is not available

// The GEMM entry points the CPU kernels share (row-major, leading dimensions explicit):
// C[M×N] = alpha·op(A)·op(B) + beta·C with op(A) M×K and op(B) K×N.
void cpu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void cpu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
              const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// Each family's file lists its kernels.
void register_data_kernels(KernelTable& table);
void register_elementwise_kernels(KernelTable& table);
void register_reduce_kernels(KernelTable& table);
void register_channel_kernels(KernelTable& table);
void register_linalg_kernels(KernelTable& table);
void register_conv_kernels(KernelTable& table);
void register_pool_kernels(KernelTable& table);
void register_loss_kernels(KernelTable& table);
void register_random_kernels(KernelTable& table);
void register_fused_kernels(KernelTable& table);

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  Device device() const override { return cpu_device(); }
  Allocator& allocator() override { return cpu_allocator(); }
  std::string description() const override;
  void copy_from_host(Tensor& dst, const void* src) override;
  void copy_to_host(void* dst, const Tensor& src) override;
};

}  // namespace newton
