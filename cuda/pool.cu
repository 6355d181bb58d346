// Max and average 2-D pooling on the GPU (native/core/ops/pool.h), float32, NCHW, with the
// CPU backend's exact semantics (native/core/cpu/pool.cpp): the same window scan order, tie
// and NaN rules, argmax layout (h·W + w within the (n, c) plane), and the same float32
// summation order, so results are bit-identical to the CPU's.
//
// Forward passes run one thread per output element. Backward passes are written as
// gathers, one thread per input element: it adds the contributions of the outputs whose
// window covers it, in increasing output index, which is the order in which the CPU's
// scatter adds them. No atomics, so the result is deterministic and equals the CPU's.
//
// The argmax passed to the backward and the R-operator is not checked here (that would cost
// a reduction and a host synchronisation per call, on the CG loop's hot path); the
// dispatcher checks it only with debug checks on (detail::debug_check_argmax in
// native/core/ops/pool.h). Both kernels stay memory-safe for any argmax: the backward
// gather only compares indices (an entry outside its output's window routes no gradient),
// and the R-operator writes NaN for an entry outside the plane, as the CPU does.
// MaxPool2dReluBackward (a composite) runs the backward kernel with its ReLU input.
#include <cmath>
#include <cstdint>
#include <limits>

#include "check.h"
#include "core/ops/pool.h"
#include "core/scalar_math.h"
#include "cuda_backend.h"
#include "launch.cuh"

namespace newton {
namespace cuda {

namespace {

struct PoolGeometry {
  int64_t planes;  // N·C
  int64_t h, w;    // input plane
  int64_t p, q;    // output plane
  int64_t kh, kw, sh, sw, ph, pw;
};

PoolGeometry geometry(const Tensor& x, const Tensor& y, const Pool2dParams& prm) {
  return PoolGeometry{x.dim(0) * x.dim(1), x.dim(2),      x.dim(3),      y.dim(2),   y.dim(3),  prm.kernel_h,
                      prm.kernel_w,        prm.stride_h, prm.stride_w, prm.pad_h, prm.pad_w};
}

// The part [lo, hi) of a window that starts at `start` and lies inside [0, extent).
__host__ __device__ __forceinline__ void clip(int64_t start, int64_t kernel, int64_t extent, int64_t& lo, int64_t& hi) {
  lo = start > 0 ? start : 0;
  hi = start + kernel < extent ? start + kernel : extent;
}

// The outputs o in [lo, hi] whose window o·stride − pad + [0, kernel) covers input i
// (an empty range when lo > hi).
__device__ __forceinline__ void covering(int64_t i, int64_t kernel, int64_t stride, int64_t pad, int64_t out_len,
                                         int64_t& lo, int64_t& hi) {
  // o·stride ≤ i + pad  and  o·stride > i + pad − kernel
  const int64_t a = i + pad - kernel + 1;  // smallest o·stride allowed
  lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  hi = (i + pad) / stride;
  if (hi > out_len - 1) hi = out_len - 1;
}

// y, argmax: (N, C, P, Q), x: (N, C, H, W). The scan of pool.cpp's max_window: row-major,
// `v > best` keeps the first of equal maxima, the first NaN wins and stays.
__global__ void max_forward_kernel(PoolGeometry g, const float* x, float* y, int32_t* argmax) {
  const int64_t total = g.planes * g.p * g.q;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const int64_t oq = idx % g.q, op = idx / g.q % g.p, plane = idx / (g.p * g.q);
    const float* xp = x + plane * g.h * g.w;
    int64_t r0, r1, c0, c1;
    clip(op * g.sh - g.ph, g.kh, g.h, r0, r1);
    clip(oq * g.sw - g.pw, g.kw, g.w, c0, c1);
    float best = -INFINITY;
    int32_t best_index = -1;
    for (int64_t ih = r0; ih < r1; ++ih) {
      for (int64_t iw = c0; iw < c1; ++iw) {
        const float v = xp[ih * g.w + iw];
        if (best_index < 0 || v > best || (v != v && best == best)) {
          best = v;
          best_index = static_cast<int32_t>(ih * g.w + iw);
        }
      }
    }
    y[idx] = best;
    argmax[idx] = best_index;
  }
}

// dx: (N, C, H, W) = Σ dy over the outputs whose argmax is this element; dy, argmax: (N, C, P, Q)
// With relu_input, the ReLU before the pooling is fused in (as on the CPU: the same bits as
// reluBackward of the pooling gradient).
__global__ void max_backward_kernel(PoolGeometry g, const float* dy, const int32_t* argmax, const float* relu_input,
                                    float* dx) {
  const int64_t total = g.planes * g.h * g.w;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const int64_t iw = idx % g.w, ih = idx / g.w % g.h, plane = idx / (g.h * g.w);
    const int32_t self = static_cast<int32_t>(ih * g.w + iw);
    const float* dyp = dy + plane * g.p * g.q;
    const int32_t* ap = argmax + plane * g.p * g.q;
    int64_t p0, p1, q0, q1;
    covering(ih, g.kh, g.sh, g.ph, g.p, p0, p1);
    covering(iw, g.kw, g.sw, g.pw, g.q, q0, q1);
    float acc = 0.0f;
    for (int64_t op = p0; op <= p1; ++op) {
      for (int64_t oq = q0; oq <= q1; ++oq) {
        const int64_t o = op * g.q + oq;
        if (ap[o] == self) acc += dyp[o];
      }
    }
    dx[idx] = relu_input ? math::relu_backward(acc, relu_input[idx]) : acc;
  }
}

// y: (N, C, P, Q) = window sums of x / (kh·kw), padding counted in the area.
__global__ void avg_forward_kernel(PoolGeometry g, float inv_area, const float* x, float* y) {
  const int64_t total = g.planes * g.p * g.q;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const int64_t oq = idx % g.q, op = idx / g.q % g.p, plane = idx / (g.p * g.q);
    const float* xp = x + plane * g.h * g.w;
    int64_t r0, r1, c0, c1;
    clip(op * g.sh - g.ph, g.kh, g.h, r0, r1);
    clip(oq * g.sw - g.pw, g.kw, g.w, c0, c1);
    float sum = 0.0f;
    for (int64_t ih = r0; ih < r1; ++ih) {
      for (int64_t iw = c0; iw < c1; ++iw) sum += xp[ih * g.w + iw];
    }
    y[idx] = mul_rn(sum, inv_area);
  }
}

// dx: (N, C, H, W) = the adjoint of avg_forward applied to dy: (N, C, P, Q).
__global__ void avg_backward_kernel(PoolGeometry g, float inv_area, const float* dy, float* dx) {
  const int64_t total = g.planes * g.h * g.w;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const int64_t iw = idx % g.w, ih = idx / g.w % g.h, plane = idx / (g.h * g.w);
    const float* dyp = dy + plane * g.p * g.q;
    int64_t p0, p1, q0, q1;
    covering(ih, g.kh, g.sh, g.ph, g.p, p0, p1);
    covering(iw, g.kw, g.sw, g.pw, g.q, q0, q1);
    float acc = 0.0f;
    for (int64_t op = p0; op <= p1; ++op) {
      for (int64_t oq = q0; oq <= q1; ++oq) acc = add_rn(acc, mul_rn(dyp[op * g.q + oq], inv_area));  // g = dy/area, as pool.cpp
    }
    dx[idx] = acc;
  }
}

// ry: (N, C, P, Q) = rx: (N, C, H, W) gathered at argmax; NaN where an argmax entry lies
// outside its plane (as native/core/cpu/pool.cpp).
__global__ void max_jvp_kernel(PoolGeometry g, float nan, const float* rx, const int32_t* argmax, float* ry) {
  const int64_t total = g.planes * g.p * g.q;
  const int64_t hw = g.h * g.w, pq = g.p * g.q;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const int32_t a = argmax[idx];
    ry[idx] = a >= 0 && a < hw ? rx[(idx / pq) * hw + a] : nan;
  }
}

// y, argmax: (N, C, P, Q); x: (N, C, H, W)
void max_pool2d_forward(Backend& backend, Tensor& y, Tensor& argmax, const Tensor& x, const Pool2dParams& p) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::MaxPool2d::info.name;
  const PoolGeometry g = geometry(x, y, p);
  const int64_t total = g.planes * g.p * g.q;
  if (total == 0) return;
  cuda.set_device();
  max_forward_kernel<<<grid_for(total), kThreads, 0, cuda.stream()>>>(g, x.data<float>(), y.data<float>(),
                                                                      argmax.data<int32_t>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

// dx: (N, C, H, W); dy, argmax: (N, C, P, Q); relu_input: dx's shape or null (the fused
// MaxPool2dReluBackward).
void max_pool2d_backward(Backend& backend, Tensor& dx, const Tensor& dy, const Tensor& argmax, const Pool2dParams& p,
                         const Tensor* relu_input) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = relu_input ? ops::MaxPool2dReluBackward::info.name : ops::MaxPool2dBackward::info.name;
  const PoolGeometry g = geometry(dx, dy, p);
  const int64_t total = g.planes * g.h * g.w;
  if (total == 0) return;
  cuda.set_device();
  max_backward_kernel<<<grid_for(total), kThreads, 0, cuda.stream()>>>(
      g, dy.data<float>(), argmax.data<int32_t>(), relu_input ? relu_input->data<float>() : nullptr, dx.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

// ry: (N, C, P, Q) = rx: (N, C, H, W) gathered at argmax: (N, C, P, Q) (the R-operator of
// max pooling).
void max_pool2d_jvp(Backend& backend, Tensor& ry, const Tensor& rx, const Tensor& argmax, const Pool2dParams& p) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::MaxPool2dJvp::info.name;
  const PoolGeometry g = geometry(rx, ry, p);
  const int64_t total = g.planes * g.p * g.q;
  if (total == 0) return;
  cuda.set_device();
  max_jvp_kernel<<<grid_for(total), kThreads, 0, cuda.stream()>>>(g, std::numeric_limits<float>::quiet_NaN(),
                                                                  rx.data<float>(), argmax.data<int32_t>(),
                                                                  ry.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

// y: (N, C, P, Q), x: (N, C, H, W)
void avg_pool2d_forward(Backend& backend, Tensor& y, const Tensor& x, const Pool2dParams& p) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::AvgPool2d::info.name;
  const PoolGeometry g = geometry(x, y, p);
  const int64_t total = g.planes * g.p * g.q;
  if (total == 0) return;
  cuda.set_device();
  const float inv_area = 1.0f / static_cast<float>(p.kernel_h * p.kernel_w);  // as pool.cpp
  avg_forward_kernel<<<grid_for(total), kThreads, 0, cuda.stream()>>>(g, inv_area, x.data<float>(), y.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

// dx: (N, C, H, W), dy: (N, C, P, Q)
void avg_pool2d_backward(Backend& backend, Tensor& dx, const Tensor& dy, const Pool2dParams& p) {
  CudaBackend& cuda = as_cuda(backend);
  const char* op = ops::AvgPool2dBackward::info.name;
  const PoolGeometry g = geometry(dx, dy, p);
  const int64_t total = g.planes * g.h * g.w;
  if (total == 0) return;
  cuda.set_device();
  const float inv_area = 1.0f / static_cast<float>(p.kernel_h * p.kernel_w);
  avg_backward_kernel<<<grid_for(total), kThreads, 0, cuda.stream()>>>(g, inv_area, dy.data<float>(), dx.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

}  // namespace

// MaxPool2dReluBackward is a composite: it runs max_pool2d_backward with its ReLU input.
void register_pool_kernels(KernelTable& table) {
  table.add<ops::MaxPool2d>(kFloat32Only, max_pool2d_forward);
  table.add<ops::MaxPool2dBackward>(kFloat32Only, max_pool2d_backward);
  table.add<ops::MaxPool2dJvp>(kFloat32Only, max_pool2d_jvp);
  table.add<ops::AvgPool2d>(kFloat32Only, avg_pool2d_forward);
  table.add<ops::AvgPool2dBackward>(kFloat32Only, avg_pool2d_backward);
}

}  // namespace cuda
}  // namespace newton
