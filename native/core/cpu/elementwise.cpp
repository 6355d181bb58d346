// Fill, copy, cast, element-wise arithmetic, ReLU and bias on the CPU.
#include <cmath>
#include <cstring>

#include "../parallel.h"
#include "../scalar_math.h"
#include "cpu_backend.h"
#include "dispatch.h"

namespace newton {
namespace {

// Runs f(i) for every i in [0, n) on the pool.
template <typename F>
void for_each_index(int64_t n, F f) {
  parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) f(i);
  });
}

template <typename To, typename From>
void convert(To* out, const From* in, int64_t n) {
  for_each_index(n, [&](int64_t i) { out[i] = static_cast<To>(in[i]); });
}

template <typename To>
void convert_from(To* out, const Tensor& src) {
  const int64_t n = src.numel();
  switch (src.dtype()) {
    case DType::F32: convert(out, src.data<float>(), n); break;
    case DType::F64: convert(out, src.data<double>(), n); break;
    case DType::I32: convert(out, src.data<int32_t>(), n); break;
  }
}

}  // namespace

void CpuBackend::fill(Tensor& t, double value) {
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::F32: {
      float* p = t.data<float>();
      const float v = static_cast<float>(value);
      for_each_index(n, [&](int64_t i) { p[i] = v; });
      break;
    }
    case DType::F64: {
      double* p = t.data<double>();
      for_each_index(n, [&](int64_t i) { p[i] = value; });
      break;
    }
    case DType::I32: {
      int32_t* p = t.data<int32_t>();
      const int32_t v = static_cast<int32_t>(value);
      for_each_index(n, [&](int64_t i) { p[i] = v; });
      break;
    }
  }
}

void CpuBackend::copy(Tensor& dst, const Tensor& src) {
  if (dst.raw() == src.raw()) return;
  char* out = static_cast<char*>(dst.raw());
  const char* in = static_cast<const char*>(src.raw());
  const int64_t bytes = static_cast<int64_t>(dst.nbytes());
  parallel_for(bytes, int64_t{1} << 20, [&](int64_t begin, int64_t end) {
    std::memcpy(out + begin, in + begin, static_cast<std::size_t>(end - begin));
  });
}

void CpuBackend::cast(Tensor& dst, const Tensor& src) {
  if (dst.dtype() == src.dtype()) {
    copy(dst, src);
    return;
  }
  switch (dst.dtype()) {
    case DType::F32: convert_from(dst.data<float>(), src); break;
    case DType::F64: convert_from(dst.data<double>(), src); break;
    case DType::I32: convert_from(dst.data<int32_t>(), src); break;
  }
}

void CpuBackend::binary(BinaryOp op, Tensor& out, const Tensor& a, const Tensor& b) {
  dispatch_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    const T* x = a.data<T>();
    const T* y = b.data<T>();
    switch (op) {
      case BinaryOp::Add: for_each_index(out.numel(), [&](int64_t i) { o[i] = x[i] + y[i]; }); break;
      case BinaryOp::Sub: for_each_index(out.numel(), [&](int64_t i) { o[i] = x[i] - y[i]; }); break;
      case BinaryOp::Mul: for_each_index(out.numel(), [&](int64_t i) { o[i] = x[i] * y[i]; }); break;
    }
  });
}

void CpuBackend::scale(Tensor& out, const Tensor& x, double alpha) {
  dispatch_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    const T* in = x.data<T>();
    const T a = static_cast<T>(alpha);
    for_each_index(out.numel(), [&](int64_t i) { o[i] = a * in[i]; });
  });
}

void CpuBackend::axpy(Tensor& y, double alpha, const Tensor& x) {
  dispatch_floating(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = y.data<T>();
    const T* in = x.data<T>();
    const T a = static_cast<T>(alpha);
    for_each_index(y.numel(), [&](int64_t i) { out[i] += a * in[i]; });
  });
}

void CpuBackend::relu(Tensor& out, const Tensor& x) {
  dispatch_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    const T* in = x.data<T>();
    for_each_index(out.numel(), [&](int64_t i) { o[i] = math::relu(in[i]); });
  });
}

void CpuBackend::relu_mask(Tensor& out, const Tensor& x) {
  dispatch_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    const T* in = x.data<T>();
    for_each_index(out.numel(), [&](int64_t i) { o[i] = math::relu_mask(in[i]); });
  });
}

void CpuBackend::relu_backward(Tensor& dx, const Tensor& dy, const Tensor& x) {
  dispatch_floating(dx.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = dx.data<T>();
    const T* g = dy.data<T>();
    const T* in = x.data<T>();
    for_each_index(dx.numel(), [&](int64_t i) { o[i] = math::relu_backward(g[i], in[i]); });
  });
}

// y: (N, C, S...) viewed as N·C planes of `plane` elements; b: (C)
void CpuBackend::bias_add(Tensor& y, const Tensor& b) {
  const int64_t n = y.dim(0), c = y.dim(1);
  const int64_t plane = n * c == 0 ? 0 : y.numel() / (n * c);
  dispatch_floating(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = y.data<T>();
    const T* bias = b.data<T>();
    parallel_for(n * c, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(plane, 1)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t p = begin; p < end; ++p) {
                     const T v = bias[p % c];
                     T* row = out + p * plane;
                     for (int64_t i = 0; i < plane; ++i) row[i] += v;
                   }
                 });
  });
}

// db: (C) = Σ over n and positions of dy: (N, C, S...), in double, in a fixed order.
void CpuBackend::bias_grad(Tensor& db, const Tensor& dy) {
  const int64_t n = dy.dim(0), c = dy.dim(1);
  const int64_t plane = n * c == 0 ? 0 : dy.numel() / (n * c);
  dispatch_floating(dy.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = db.data<T>();
    const T* g = dy.data<T>();
    parallel_for(c, 1, [&](int64_t begin, int64_t end) {
      for (int64_t ch = begin; ch < end; ++ch) {
        // Four interleaved accumulators, combined in a fixed order: one chain of dependent
        // double adds would be latency-bound (this sums every activation of a conv layer).
        double acc[4] = {0, 0, 0, 0};
        for (int64_t s = 0; s < n; ++s) {
          const T* row = g + (s * c + ch) * plane;
          int64_t i = 0;
          for (; i + 4 <= plane; i += 4) {
            for (int k = 0; k < 4; ++k) acc[k] += static_cast<double>(row[i + k]);
          }
          for (; i < plane; ++i) acc[i & 3] += static_cast<double>(row[i]);
        }
        out[ch] = static_cast<T>((acc[0] + acc[1]) + (acc[2] + acc[3]));
      }
    });
  });
}

}  // namespace newton
