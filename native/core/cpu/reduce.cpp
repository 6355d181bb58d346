// Reductions (ops/reduce.h) with double accumulation, independent of the thread count (blocked_sum.h).
#include "../ops/reduce.h"
#include "blocked_sum.h"
#include "cpu_backend.h"
#include "dispatch.h"

namespace newton {
namespace {

double sum(Backend&, const Tensor& x) {
  double result = 0;
  dispatch_floating(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* p = x.data<T>();
    result = blocked_sum(x.numel(), [p](int64_t i) { return static_cast<double>(p[i]); });
  });
  return result;
}

double dot(Backend&, const Tensor& a, const Tensor& b) {
  double result = 0;
  dispatch_floating(a.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* x = a.data<T>();
    const T* y = b.data<T>();
    result = blocked_sum(a.numel(), [x, y](int64_t i) { return static_cast<double>(x[i]) * static_cast<double>(y[i]); });
  });
  return result;
}

double squared_norm(Backend&, const Tensor& x) {
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

// x += αp, r −= αq and Σ r² of the new r in one pass. Every index is visited exactly once,
// by one task, in blocked_sum's fixed blocks, so the result is independent of the thread
// count and x, r equal two axpy calls bit for bit (same rounding, no contraction).
double cg_update(Backend&, Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha) {
  double result = 0;
  dispatch_floating(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* xs = x.data<T>();
    T* rs = r.data<T>();
    const T* ps = p.data<T>();
    const T* qs = q.data<T>();
    const T a = static_cast<T>(alpha);
    result = blocked_sum(x.numel(), [=](int64_t i) {
      xs[i] += a * ps[i];
      const T ri = rs[i] - a * qs[i];
      rs[i] = ri;
      const double v = static_cast<double>(ri);
      return v * v;
    });
  });
  return result;
}

}  // namespace

void register_reduce_kernels(KernelTable& table) {
  table.add<ops::Sum>(kFloatingTypes, sum);
  table.add<ops::Dot>(kFloatingTypes, dot);
  table.add<ops::SquaredNorm>(kFloatingTypes, squared_norm);
  table.add<ops::CgUpdate>(kFloatingTypes, cg_update);
}

}  // namespace newton
