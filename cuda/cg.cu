// The fused CG vector update: see cg.h.
#include "cg.h"

#include "cuda_backend.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace newton {
namespace cuda {

double cg_update(CudaBackend& backend, Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha) {
  const char* op = "cgUpdate";
  const Tensor* args[] = {&x, &r, &p, &q};
  const char* names[] = {"x", "r", "p", "q"};
  for (int i = 0; i < 4; ++i) {
    const Tensor& t = *args[i];
    if (!t.defined()) fail<ArgumentTypeError>(op, ": ", names[i], " must be a Tensor, got an empty handle");
    if (t.dtype() != DType::F32) {
      fail<ArgumentTypeError>(op, ": ", names[i], " must be float32 on cuda, got ", dtype_name(t.dtype()));
    }
    if (t.device() != backend.device()) {
      fail<ShapeError>(op, ": ", names[i], " is on ", t.device().name(), ", expected ", backend.device().name());
    }
    if (t.shape() != x.shape()) {
      fail<ShapeError>(op, ": ", names[i], " has shape ", fmt(t.shape()), " but x has shape ", fmt(x.shape()));
    }
  }
  if (x.overlaps(r) || x.overlaps(p) || x.overlaps(q) || r.overlaps(p) || r.overlaps(q)) {
    fail<ValueError>(op, ": x and r must not overlap each other, p or q");
  }
  float* xs = x.data<float>();
  float* rs = r.data<float>();
  const float* ps = p.data<float>();
  const float* qs = q.data<float>();
  const float a = static_cast<float>(alpha);
  return reduce_sum(backend, op, x.numel(), [=] __device__(int64_t i) {
    xs[i] = add_rn(xs[i], mul_rn(a, ps[i]));
    const float ri = add_rn(rs[i], -mul_rn(a, qs[i]));
    rs[i] = ri;
    const double rd = static_cast<double>(ri);
    return rd * rd;
  });
}

double CudaBackend::cg_update(Tensor& x, Tensor& r, const Tensor& p, const Tensor& q, double alpha) {
  return cuda::cg_update(*this, x, r, p, q, alpha);
}

}  // namespace cuda
}  // namespace newton
