// Reductions to one number on the GPU (native/core/ops/reduce.h), float32 data summed in
// double, deterministic (note [deterministic reduction] in reduce.cuh): sum, dot,
// squaredNorm and the CG solver's fused update.
//
// Note [fused CG update]
// ~~~~~~~~~~~~~~~~~~~~~~
// One step of the Newton method's conjugate-gradient solver needs, after q = (G + λI)p and
// α = rᵀr / pᵀq:
//     x ← x + α·p,   r ← r − α·q,   ρ = rᵀr (of the new r, for β and the stopping test).
// On the GPU these are one kernel: each element of x and r is read and written once and its
// r² is added to the deterministic double reduction in the same pass. The returned ρ is the
// only host synchronisation of the update (α comes from the host: the caller computes it
// from two dot products). Arithmetic per element, in float32 without FMA contraction so that
// it equals two CPU axpy calls bit for bit: a = (float)α; x = x + a·p; r = r − a·q;
// ρ += (double)r².
#include <cstdint>

#include "core/ops/reduce.h"
#include "cuda_backend.h"
#include "launch.cuh"
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

// Σ x
double sum(Backend& backend, const Tensor& x) {
  const float* p = x.data<float>();
  return reduce_sum(as_cuda(backend), ops::Sum::info.name, x.numel(),
                    [=] __device__(int64_t i) { return static_cast<double>(p[i]); });
}

// Σ a ⊙ b
double dot(Backend& backend, const Tensor& a, const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  return reduce_sum(as_cuda(backend), ops::Dot::info.name, a.numel(),
                    [=] __device__(int64_t i) { return static_cast<double>(x[i]) * static_cast<double>(y[i]); });
}

// Σ x²
double squared_norm(Backend& backend, const Tensor& x) {
  const float* p = x.data<float>();
  return reduce_sum(as_cuda(backend), ops::SquaredNorm::info.name, x.numel(), [=] __device__(int64_t i) {
    const double v = static_cast<double>(p[i]);
    return v * v;
  });
}

// x += αp, r −= αq, returns rᵀr of the new r (note [fused CG update]). x, r, p, q: one
// shape; x and r overlap nothing else.
double cg_update(Backend& backend, Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha) {
  float* xs = x.data<float>();
  float* rs = r.data<float>();
  const float* ps = p.data<float>();
  const float* qs = q.data<float>();
  const float a = static_cast<float>(alpha);
  return reduce_sum(as_cuda(backend), ops::CgUpdate::info.name, x.numel(), [=] __device__(int64_t i) {
    xs[i] = add_rn(xs[i], mul_rn(a, ps[i]));
    const float ri = add_rn(rs[i], -mul_rn(a, qs[i]));
    rs[i] = ri;
    const double rd = static_cast<double>(ri);
    return rd * rd;
  });
}

}  // namespace

void register_reduce_kernels(KernelTable& table) {
  table.add<ops::Sum>(kFloat32Only, sum);
  table.add<ops::Dot>(kFloat32Only, dot);
  table.add<ops::SquaredNorm>(kFloat32Only, squared_norm);
  table.add<ops::CgUpdate>(kFloat32Only, cg_update);
}

}  // namespace cuda
}  // namespace newton
