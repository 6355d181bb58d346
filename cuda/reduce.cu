// Sums, dot products and squared norms in double, deterministic (note [deterministic
// reduction] in reduce.cuh).
#include "reduce.cuh"

namespace newton {
namespace cuda {

__global__ void __launch_bounds__(kReduceThreads) reduce_final_kernel(const double* partial, int count, double* out) {
  double acc = 0.0;
  for (int i = threadIdx.x; i < count; i += kReduceThreads) acc += partial[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = acc;
}

namespace {
void require_f32(const char* op, const char* arg, const Tensor& t) {
  if (t.dtype() != DType::F32) {
    fail<ArgumentTypeError>(op, ": ", arg, " must be float32 on cuda, got ", dtype_name(t.dtype()));
  }
}
}  // namespace

double CudaBackend::sum(const Tensor& x) {
  require_f32("sum", "x", x);
  const float* p = x.data<float>();
  return reduce_sum(*this, "sum", x.numel(), [=] __device__(int64_t i) { return static_cast<double>(p[i]); });
}

double CudaBackend::dot(const Tensor& a, const Tensor& b) {
  require_f32("dot", "a", a);
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  return reduce_sum(*this, "dot", a.numel(),
                    [=] __device__(int64_t i) { return static_cast<double>(x[i]) * static_cast<double>(y[i]); });
}

double CudaBackend::squared_norm(const Tensor& x) {
  require_f32("squaredNorm", "x", x);
  const float* p = x.data<float>();
  return reduce_sum(*this, "squaredNorm", x.numel(), [=] __device__(int64_t i) {
    const double v = static_cast<double>(p[i]);
    return v * v;
  });
}

}  // namespace cuda
}  // namespace newton
