// Fill, copy, cast, element-wise arithmetic, ReLU and bias on the GPU. The formulas are
// those of the CPU backend (core/scalar_math.h), with no FMA contraction where the CPU
// has none (launch.cuh), so results are bit-identical to the CPU's.
#include <cmath>
#include <cstdint>

#include "core/scalar_math.h"
#include "cuda_backend.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace newton {
namespace cuda {

namespace {

[[noreturn]] void not_float32(const char* op, const char* arg, DType dtype) {
  fail<ArgumentTypeError>(op, ": ", arg, " must be float32 on cuda, got ", dtype_name(dtype));
}

void require_f32(const char* op, const char* arg, const Tensor& t) {
  if (t.dtype() != DType::F32) not_float32(op, arg, t.dtype());
}

// db[ch] = Σ over n and s of dy[(n·C + ch)·plane + s], one block per channel, in double,
// in a fixed order (reduce.cuh's block_sum).
__global__ void __launch_bounds__(kReduceThreads)
    bias_grad_kernel(const float* dy, int64_t n, int64_t channels, int64_t plane, float* db) {
  const int64_t ch = blockIdx.x;
  const int64_t count = n * plane;
  double acc = 0.0;
  for (int64_t e = threadIdx.x; e < count; e += kReduceThreads) {
    const int64_t s = e / plane, i = e - s * plane;  // s: sample, i: position in the plane
    acc += static_cast<double>(dy[(s * channels + ch) * plane + i]);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) db[ch] = static_cast<float>(acc);
}

}  // namespace

void CudaBackend::fill(Tensor& t, double value) {
  const char* op = "fill";
  const int64_t n = t.numel();
  if (n == 0) return;
  set_device();
  if (t.dtype() == DType::F32) {
    const float v = static_cast<float>(value);
    float* p = t.data<float>();
    if (v == 0.0f && !std::signbit(v)) {
      NEWTON_CUDA_CHECK(op, cudaMemsetAsync(p, 0, t.nbytes(), stream_));
      return;
    }
    launch_for_each(op, stream_, n, [=] __device__(int64_t i) { p[i] = v; });
  } else if (t.dtype() == DType::I32) {
    const int32_t v = static_cast<int32_t>(value);
    int32_t* p = t.data<int32_t>();
    launch_for_each(op, stream_, n, [=] __device__(int64_t i) { p[i] = v; });
  } else {
    not_float32(op, "t", t.dtype());
  }
}

void CudaBackend::copy(Tensor& dst, const Tensor& src) {
  if (dst.raw() == src.raw() || dst.nbytes() == 0) return;
  set_device();
  NEWTON_CUDA_CHECK("copy", cudaMemcpyAsync(dst.raw(), src.raw(), dst.nbytes(), cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackend::cast(Tensor& dst, const Tensor& src) {
  const char* op = "cast";
  if (dst.dtype() == src.dtype()) {
    if (dst.dtype() == DType::F64) not_float32(op, "x", src.dtype());
    copy(dst, src);
    return;
  }
  set_device();
  const int64_t n = dst.numel();
  if (dst.dtype() == DType::F32 && src.dtype() == DType::I32) {
    float* o = dst.data<float>();
    const int32_t* in = src.data<int32_t>();
    launch_for_each(op, stream_, n, [=] __device__(int64_t i) { o[i] = static_cast<float>(in[i]); });
  } else if (dst.dtype() == DType::I32 && src.dtype() == DType::F32) {
    // The dispatcher refuses this cast (int32 holds indices); kept for completeness.
    int32_t* o = dst.data<int32_t>();
    const float* in = src.data<float>();
    launch_for_each(op, stream_, n, [=] __device__(int64_t i) { o[i] = static_cast<int32_t>(in[i]); });
  } else {
    fail<ArgumentTypeError>(op, ": ", dtype_name(src.dtype()), " to ", dtype_name(dst.dtype()),
                            " is not supported on cuda (CUDA tensors are float32)");
  }
}

void CudaBackend::binary(BinaryOp kind, Tensor& out, const Tensor& a, const Tensor& b) {
  const char* op = kind == BinaryOp::Add ? "add" : kind == BinaryOp::Sub ? "sub" : "mul";
  require_f32(op, "a", a);
  set_device();
  float* o = out.data<float>();
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  const int64_t n = out.numel();
  switch (kind) {
    case BinaryOp::Add: launch_for_each(op, stream_, n, [=] __device__(int64_t i) { o[i] = x[i] + y[i]; }); break;
    case BinaryOp::Sub: launch_for_each(op, stream_, n, [=] __device__(int64_t i) { o[i] = x[i] - y[i]; }); break;
    case BinaryOp::Mul: launch_for_each(op, stream_, n, [=] __device__(int64_t i) { o[i] = x[i] * y[i]; }); break;
  }
}

void CudaBackend::scale(Tensor& out, const Tensor& x, double alpha) {
  require_f32("scale", "x", x);
  set_device();
  float* o = out.data<float>();
  const float* in = x.data<float>();
  const float a = static_cast<float>(alpha);
  launch_for_each("scale", stream_, out.numel(), [=] __device__(int64_t i) { o[i] = a * in[i]; });
}

void CudaBackend::axpy(Tensor& y, double alpha, const Tensor& x) {
  require_f32("axpy", "y", y);
  set_device();
  float* out = y.data<float>();
  const float* in = x.data<float>();
  const float a = static_cast<float>(alpha);
  launch_for_each("axpy", stream_, y.numel(),
                  [=] __device__(int64_t i) { out[i] = add_rn(out[i], mul_rn(a, in[i])); });
}

void CudaBackend::relu(Tensor& out, const Tensor& x) {
  require_f32("relu", "x", x);
  set_device();
  float* o = out.data<float>();
  const float* in = x.data<float>();
  launch_for_each("relu", stream_, out.numel(), [=] __device__(int64_t i) { o[i] = math::relu(in[i]); });
}

void CudaBackend::relu_mask(Tensor& out, const Tensor& x) {
  require_f32("reluMask", "x", x);
  set_device();
  float* o = out.data<float>();
  const float* in = x.data<float>();
  launch_for_each("reluMask", stream_, out.numel(), [=] __device__(int64_t i) { o[i] = math::relu_mask(in[i]); });
}

void CudaBackend::relu_backward(Tensor& dx, const Tensor& dy, const Tensor& x) {
  require_f32("reluBackward", "dy", dy);
  set_device();
  float* o = dx.data<float>();
  const float* g = dy.data<float>();
  const float* in = x.data<float>();
  launch_for_each("reluBackward", stream_, dx.numel(),
                  [=] __device__(int64_t i) { o[i] = math::relu_backward(g[i], in[i]); });
}

// y: (N, C, S...) += b[c]; b: (C)
void CudaBackend::bias_add(Tensor& y, const Tensor& b) {
  require_f32("biasAdd", "y", y);
  const int64_t n = y.dim(0), c = y.dim(1);
  if (n * c == 0) return;
  const int64_t plane = y.numel() / (n * c);
  if (plane == 0) return;
  set_device();
  float* out = y.data<float>();
  const float* bias = b.data<float>();
  launch_for_each("biasAdd", stream_, y.numel(),
                  [=] __device__(int64_t i) { out[i] += bias[(i / plane) % c]; });
}

// db: (C) = Σ over every axis but 1 of dy: (N, C, S...)
void CudaBackend::bias_grad(Tensor& db, const Tensor& dy) {
  const char* op = "biasGrad";
  require_f32(op, "dy", dy);
  const int64_t n = dy.dim(0), c = dy.dim(1);
  if (c == 0) return;
  const int64_t plane = n == 0 ? 0 : dy.numel() / (n * c);
  set_device();
  if (n == 0 || plane == 0) {
    NEWTON_CUDA_CHECK(op, cudaMemsetAsync(db.raw(), 0, db.nbytes(), stream_));
    return;
  }
  if (c > INT32_MAX) fail<ShapeError>(op, ": too many channels for one grid: ", c);
  bias_grad_kernel<<<static_cast<unsigned>(c), kReduceThreads, 0, stream_>>>(dy.data<float>(), n, c, plane,
                                                                              db.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

}  // namespace cuda
}  // namespace newton
