// The CPU backend: always present, the default where no GPU is, and the reference the
// CUDA backend is tested against. float32 and float64 for every op. Each op family lives
// in its own file: elementwise.cpp, reduce.cpp, gemm.cpp, conv.cpp, pool.cpp, loss.cpp,
// random.cpp.
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

class CpuBackend final : public Backend {
 public:
  Device device() const override { return cpu_device(); }
  Allocator& allocator() override { return cpu_allocator(); }
  std::string description() const override;
  bool supports(Op op, DType dtype) const override;

  void copy_from_host(Tensor& dst, const void* src) override;
  void copy_to_host(void* dst, const Tensor& src) override;
  void fill(Tensor& t, double value) override;
  void copy(Tensor& dst, const Tensor& src) override;
  void cast(Tensor& dst, const Tensor& src) override;

  void binary(BinaryOp op, Tensor& out, const Tensor& a, const Tensor& b) override;
  void scale(Tensor& out, const Tensor& x, double alpha) override;
  void axpy(Tensor& y, double alpha, const Tensor& x) override;
  void relu(Tensor& out, const Tensor& x) override;
  void relu_mask(Tensor& out, const Tensor& x) override;
  void relu_backward(Tensor& dx, const Tensor& dy, const Tensor& x) override;

  double sum(const Tensor& x) override;
  double dot(const Tensor& a, const Tensor& b) override;
  double squared_norm(const Tensor& x) override;
  double cg_update(Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha) override;

  void gemm(Tensor& c, const Tensor& a, const Tensor& b, const GemmParams& p) override;
  void bias_add(Tensor& y, const Tensor& b) override;
  void bias_grad(Tensor& db, const Tensor& dy) override;

  void conv2d_forward(Tensor& y, const Tensor& x, const Tensor& w, const Conv2dParams& p) override;
  void conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, const Conv2dParams& p) override;
  void conv2d_backward_filter(Tensor& dw, const Tensor& dy, const Tensor& x, const Conv2dParams& p) override;

  void max_pool2d_forward(Tensor& y, Tensor& argmax, const Tensor& x, const Pool2dParams& p) override;
  void max_pool2d_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax, const Pool2dParams& p,
                           const Tensor* relu_input) override;
  void max_pool2d_jvp(Tensor& ry, const Tensor& rx, const Tensor& argmax, const Pool2dParams& p) override;
  void avg_pool2d_forward(Tensor& y, const Tensor& x, const Pool2dParams& p) override;
  void avg_pool2d_backward(Tensor& dx, const Tensor& dy, const Pool2dParams& p) override;

  double squared_loss(const Tensor& z, const Tensor& y) override;
  void squared_loss_grad(Tensor& dz, const Tensor& z, const Tensor& y) override;
  void softmax(Tensor& p, const Tensor& z) override;
  double softmax_cross_entropy(const Tensor& z, const Tensor& y) override;
  void softmax_cross_entropy_grad(Tensor& dz, const Tensor& z, const Tensor& y) override;
  void softmax_cross_entropy_hvp(Tensor& out, const Tensor& z, const Tensor& u) override;

  void random_uniform(Tensor& t, uint64_t seed, uint64_t offset, double low, double high) override;
  void random_normal(Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) override;
};

}  // namespace newton
