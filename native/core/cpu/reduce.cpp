// Reductions with double accumulation, independent of the thread count (blocked_sum.h).
#include "blocked_sum.h"
#include "cpu_backend.h"
#include "dispatch.h"

namespace newton {

double CpuBackend::sum(const Tensor& x) {
  double result = 0;
  dispatch_floating(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* p = x.data<T>();
    result = blocked_sum(x.numel(), [p](int64_t i) { return static_cast<double>(p[i]); });
  });
  return result;
}

double CpuBackend::dot(const Tensor& a, const Tensor& b) {
  double result = 0;
  dispatch_floating(a.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = a.data<T>();
    const T* y = b.data<T>();
    result = blocked_sum(a.numel(), [x, y](int64_t i) { return static_cast<double>(x[i]) * static_cast<double>(y[i]); });
  });
  return result;
}

double CpuBackend::squared_norm(const Tensor& x) {
  double result = 0;
  dispatch_floating(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* p = x.data<T>();
    result = blocked_sum(x.numel(), [p](int64_t i) {
      const double v = static_cast<double>(p[i]);
      return v * v;
    });
  });
  return result;
}

}  // namespace newton
