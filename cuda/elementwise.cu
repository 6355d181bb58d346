// Element-wise arithmetic and ReLU on the GPU (native/core/ops/elementwise.h), float32. The
// formulas are those of the CPU backend (native/core/scalar_math.h), with no FMA
// contraction where the CPU has none (launch.cuh), so results are bit-identical to the
// CPU's.
#include <cstdint>

#include "core/ops/elementwise.h"
#include "core/scalar_math.h"
#include "cuda_backend.h"
#include "launch.cuh"

namespace newton {
namespace cuda {

namespace {

// y = a + b
void add(Backend& backend, Tensor& y, const Tensor& a, const Tensor& b) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = y.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  launch_for_each(ops::Add::info.name, cuda.stream(), y.numel(), [=] __device__(int64_t i) { o[i] = pa[i] + pb[i]; });
}

// y = a − b
void sub(Backend& backend, Tensor& y, const Tensor& a, const Tensor& b) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = y.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  launch_for_each(ops::Sub::info.name, cuda.stream(), y.numel(), [=] __device__(int64_t i) { o[i] = pa[i] - pb[i]; });
}

// y = a ⊙ b
void mul(Backend& backend, Tensor& y, const Tensor& a, const Tensor& b) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = y.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  launch_for_each(ops::Mul::info.name, cuda.stream(), y.numel(), [=] __device__(int64_t i) { o[i] = pa[i] * pb[i]; });
}

// y = αx
void scale(Backend& backend, Tensor& y, const Tensor& x, double alpha) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = y.data<float>();
  const float* in = x.data<float>();
  const float a = static_cast<float>(alpha);
  launch_for_each(ops::Scale::info.name, cuda.stream(), y.numel(), [=] __device__(int64_t i) { o[i] = a * in[i]; });
}

// y += αx, in place
void axpy(Backend& backend, Tensor& y, double alpha, const Tensor& x) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* out = y.data<float>();
  const float* in = x.data<float>();
  const float a = static_cast<float>(alpha);
  launch_for_each(ops::Axpy::info.name, cuda.stream(), y.numel(),
                  [=] __device__(int64_t i) { out[i] = add_rn(out[i], mul_rn(a, in[i])); });
}

// y = max(x, 0); NaN stays NaN
void relu(Backend& backend, Tensor& y, const Tensor& x) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = y.data<float>();
  const float* in = x.data<float>();
  launch_for_each(ops::Relu::info.name, cuda.stream(), y.numel(),
                  [=] __device__(int64_t i) { o[i] = math::relu(in[i]); });
}

// y = 1[x > 0]
void relu_mask(Backend& backend, Tensor& y, const Tensor& x) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = y.data<float>();
  const float* in = x.data<float>();
  launch_for_each(ops::ReluMask::info.name, cuda.stream(), y.numel(),
                  [=] __device__(int64_t i) { o[i] = math::relu_mask(in[i]); });
}

// dx = dy ⊙ 1[x > 0]
void relu_backward(Backend& backend, Tensor& dx, const Tensor& dy, const Tensor& x) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = dx.data<float>();
  const float* g = dy.data<float>();
  const float* in = x.data<float>();
  launch_for_each(ops::ReluBackward::info.name, cuda.stream(), dx.numel(),
                  [=] __device__(int64_t i) { o[i] = math::relu_backward(g[i], in[i]); });
}

// y = tanh(x), in double and rounded once, as the CPU computes it (the two libraries' double
// tanh may differ in the last bit of the double, which the float32 rounding almost always hides)
void tanh_forward(Backend& backend, Tensor& y, const Tensor& x) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = y.data<float>();
  const float* in = x.data<float>();
  launch_for_each(ops::Tanh::info.name, cuda.stream(), y.numel(),
                  [=] __device__(int64_t i) { o[i] = static_cast<float>(tanh(static_cast<double>(in[i]))); });
}

// dx = dy·(1 − y·y), each operation rounded as math::tanh_backward (no FMA)
void tanh_backward(Backend& backend, Tensor& dx, const Tensor& dy, const Tensor& y) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = dx.data<float>();
  const float* g = dy.data<float>();
  const float* out = y.data<float>();
  launch_for_each(ops::TanhBackward::info.name, cuda.stream(), dx.numel(), [=] __device__(int64_t i) {
    const float yy = mul_rn(out[i], out[i]);
    o[i] = mul_rn(g[i], __fsub_rn(1.0f, yy));
  });
}

// y = 1/√(x + eps): IEEE double sqrt and division, rounded once, so the CPU's bits
void rsqrt(Backend& backend, Tensor& y, const Tensor& x, double eps) {
  CudaBackend& cuda = as_cuda(backend);
  cuda.set_device();
  float* o = y.data<float>();
  const float* in = x.data<float>();
  launch_for_each(ops::Rsqrt::info.name, cuda.stream(), y.numel(), [=] __device__(int64_t i) {
    o[i] = static_cast<float>(__ddiv_rn(1.0, __dsqrt_rn(__dadd_rn(static_cast<double>(in[i]), eps))));
  });
}

}  // namespace

void register_elementwise_kernels(KernelTable& table) {
  table.add<ops::Add>(kFloat32Only, add);
  table.add<ops::Sub>(kFloat32Only, sub);
  table.add<ops::Mul>(kFloat32Only, mul);
  table.add<ops::Scale>(kFloat32Only, scale);
  table.add<ops::Axpy>(kFloat32Only, axpy);
  table.add<ops::Relu>(kFloat32Only, relu);
  table.add<ops::ReluMask>(kFloat32Only, relu_mask);
  table.add<ops::ReluBackward>(kFloat32Only, relu_backward);
  table.add<ops::Tanh>(kFloat32Only, tanh_forward);
  table.add<ops::TanhBackward>(kFloat32Only, tanh_backward);
  table.add<ops::Rsqrt>(kFloat32Only, rsqrt);
}

}  // namespace cuda
}  // namespace newton
