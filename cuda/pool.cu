// Max and average 2-D pooling on the GPU, NCHW, with the CPU backend's exact semantics
// (core/cpu/pool.cpp): the same window scan order, tie and NaN rules, argmax layout
// (h·W + w within the (n, c) plane), and the same float32 summation order, so results are
// bit-identical to the CPU's.
//
// Forward passes run one thread per output element. Backward passes are written as
// gathers, one thread per input element: it adds the contributions of the outputs whose
// window covers it, in increasing output index, which is the order in which the CPU's
// scatter adds them. No atomics, so the result is deterministic and equals the CPU's.
// The gather relies on every argmax lying inside its output's window, as maxPool2d
// guarantees; max_pool2d_backward checks that first and refuses other argmax tensors
// (the CPU refuses those outside the plane).
#include <climits>
#include <cstdint>
#include <vector>

#include "check.h"
#include "core/scalar_math.h"
#include "cuda_backend.h"
#include "launch.cuh"
#include "reduce.cuh"

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

// 0 when argmax[idx] is an element of output idx's window, else 1 (out of the plane: 1,
// out of the window: 2). See CudaBackend::max_pool2d_backward.
__host__ __device__ __forceinline__ int argmax_problem(const PoolGeometry& g, int64_t idx, int32_t a) {
  if (a < 0 || a >= g.h * g.w) return 1;
  const int64_t oq = idx % g.q, op = idx / g.q % g.p;
  const int64_t ih = a / g.w, iw = a % g.w;
  int64_t r0, r1, c0, c1;
  clip(op * g.sh - g.ph, g.kh, g.h, r0, r1);
  clip(oq * g.sw - g.pw, g.kw, g.w, c0, c1);
  return ih >= r0 && ih < r1 && iw >= c0 && iw < c1 ? 0 : 2;
}

void require_f32(const char* op, const char* arg, const Tensor& t) {
  if (t.dtype() != DType::F32) {
    fail<ArgumentTypeError>(op, ": ", arg, " must be float32 on cuda, got ", dtype_name(t.dtype()));
  }
}

// argmax holds h·W + w as int32.
void require_int32_plane(const char* op, const PoolGeometry& g) {
  if (g.h * g.w > INT32_MAX) {
    fail<ShapeError>(op, ": an input plane of ", g.h, "x", g.w, " elements does not fit the int32 argmax");
  }
}

}  // namespace

void CudaBackend::max_pool2d_forward(Tensor& y, Tensor& argmax, const Tensor& x, const Pool2dParams& p) {
  const char* op = "maxPool2d";
  require_f32(op, "x", x);
  const PoolGeometry g = geometry(x, y, p);
  require_int32_plane(op, g);
  const int64_t total = g.planes * g.p * g.q;
  if (total == 0) return;
  set_device();
  max_forward_kernel<<<grid_for(total), kThreads, 0, stream_>>>(g, x.data<float>(), y.data<float>(),
                                                                argmax.data<int32_t>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

void CudaBackend::max_pool2d_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax, const Pool2dParams& p,
                                      const Tensor* relu_input) {
  const char* op = op_name(relu_input ? Op::MaxPool2dReluBackward : Op::MaxPool2dBackward);
  require_f32(op, "dy", dy);
  if (relu_input) require_f32(op, "reluInput", *relu_input);
  const PoolGeometry g = geometry(dx, dy, p);
  require_int32_plane(op, g);
  const int64_t total = g.planes * g.h * g.w;
  if (total == 0) return;
  set_device();
  // Like the CPU backend, refuse an argmax that maxPool2d cannot have produced rather than
  // drop gradients silently. The gather below also needs every index inside its output's
  // window, which maxPool2d guarantees, so that is checked too. This costs one small
  // deterministic reduction and a host synchronisation per call.
  const int32_t* am = argmax.data<int32_t>();
  const double bad = reduce_sum(*this, op, argmax.numel(), [=] __device__(int64_t idx) {
    return argmax_problem(g, idx, am[idx]) != 0 ? 1.0 : 0.0;
  });
  if (bad > 0) {
    std::vector<int32_t> host(static_cast<std::size_t>(argmax.numel()));
    copy_to_host(host.data(), argmax);
    for (int64_t i = 0; i < argmax.numel(); ++i) {
      const int32_t a = host[static_cast<std::size_t>(i)];
      const int problem = argmax_problem(g, i, a);
      if (problem == 1) {
        fail<ValueError>(op, ": argmax holds ", a, " at element ", i, ", outside the ", g.h, "x", g.w,
                         " input plane");
      }
      if (problem == 2) {
        fail<ValueError>(op, ": argmax holds ", a, " at element ", i,
                         ", outside the pooling window of that output (argmax must come from maxPool2d)");
      }
    }
  }
  max_backward_kernel<<<grid_for(total), kThreads, 0, stream_>>>(
      g, dy.data<float>(), argmax.data<int32_t>(), relu_input ? relu_input->data<float>() : nullptr, dx.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

// ry: (N, C, P, Q) = rx: (N, C, H, W) gathered at argmax (the R-operator of max pooling).
// The gather and the range check are one pass: a deterministic reduction counts the argmax
// entries outside their plane (those outputs are left unwritten) and the host refuses them
// afterwards with the CPU backend's message. One host synchronisation per call, as for
// max_pool2d_backward.
void CudaBackend::max_pool2d_jvp(Tensor& ry, const Tensor& rx, const Tensor& argmax, const Pool2dParams& p) {
  const char* op = "maxPool2dJvp";
  require_f32(op, "rx", rx);
  const PoolGeometry g = geometry(rx, ry, p);
  require_int32_plane(op, g);
  const int64_t total = g.planes * g.p * g.q;
  if (total == 0) return;
  set_device();
  const int32_t* am = argmax.data<int32_t>();
  const float* in = rx.data<float>();
  float* out = ry.data<float>();
  const int64_t hw = g.h * g.w, pq = g.p * g.q;
  const double bad = reduce_sum(*this, op, total, [=] __device__(int64_t idx) {
    const int32_t a = am[idx];
    if (a < 0 || a >= hw) return 1.0;
    out[idx] = in[(idx / pq) * hw + a];
    return 0.0;
  });
  if (bad > 0) {
    std::vector<int32_t> host(static_cast<std::size_t>(argmax.numel()));
    copy_to_host(host.data(), argmax);
    for (int64_t i = 0; i < argmax.numel(); ++i) {
      const int32_t a = host[static_cast<std::size_t>(i)];
      if (a < 0 || a >= hw) {
        fail<ValueError>(op, ": argmax holds ", a, " at element ", i, ", outside the ", g.h, "x", g.w,
                         " input plane");
      }
    }
  }
}

void CudaBackend::avg_pool2d_forward(Tensor& y, const Tensor& x, const Pool2dParams& p) {
  const char* op = "avgPool2d";
  require_f32(op, "x", x);
  const PoolGeometry g = geometry(x, y, p);
  const int64_t total = g.planes * g.p * g.q;
  if (total == 0) return;
  set_device();
  const float inv_area = 1.0f / static_cast<float>(p.kernel_h * p.kernel_w);  // as pool.cpp
  avg_forward_kernel<<<grid_for(total), kThreads, 0, stream_>>>(g, inv_area, x.data<float>(), y.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

void CudaBackend::avg_pool2d_backward(Tensor& dx, const Tensor& dy, const Pool2dParams& p) {
  const char* op = "avgPool2dBackward";
  require_f32(op, "dy", dy);
  const PoolGeometry g = geometry(dx, dy, p);
  const int64_t total = g.planes * g.h * g.w;
  if (total == 0) return;
  set_device();
  const float inv_area = 1.0f / static_cast<float>(p.kernel_h * p.kernel_w);
  avg_backward_kernel<<<grid_for(total), kThreads, 0, stream_>>>(g, inv_area, dy.data<float>(), dx.data<float>());
  NEWTON_CUDA_CHECK_LAUNCH(op);
}

}  // namespace cuda
}  // namespace newton
