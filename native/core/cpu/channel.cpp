// Per-channel ops on the CPU (ops/channel.h): t (N, C, S...) viewed as N·C planes of
// S... elements.
#include <algorithm>

#include "../ops/channel.h"
#include "blocked_sum.h"
#include "cpu_backend.h"
#include "dispatch.h"

namespace newton {
namespace {

// Elements per (n, c) plane of t: (N, C, S...).
int64_t plane_size(const Tensor& t) {
  const int64_t nc = t.dim(0) * t.dim(1);
  return nc == 0 ? 0 : t.numel() / nc;
}

// out = y + b[c]; out may be y.
void bias_add(Backend&, Tensor& out, const Tensor& y, const Tensor& b) {
  const int64_t n = y.dim(0), c = y.dim(1);
  const int64_t plane = plane_size(y);
  dispatch_floating(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    const T* in = y.data<T>();
    const T* bias = b.data<T>();
    parallel_for(n * c, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(plane, 1)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t p = begin; p < end; ++p) {
                     const T v = bias[p % c];
                     T* row = o + p * plane;
                     const T* src = in + p * plane;
                     for (int64_t i = 0; i < plane; ++i) row[i] = src[i] + v;
                   }
                 });
  });
}

// db: (C) = Σ over n and positions of dy, in double, in a fixed order.
void bias_grad(Backend&, Tensor& db, const Tensor& dy) {
  const int64_t n = dy.dim(0), c = dy.dim(1);
  const int64_t plane = plane_size(dy);
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

// out: (C) = Σ over n and positions of a⊙b, in double. Many channels run in parallel, each
// summed in a fixed order; a few channels (a scalar viewed as one channel, say) are each split
// into blocked_sum's fixed blocks. The path depends on the shape only, so the result does not
// depend on the thread count.
void channel_dot(Backend&, Tensor& out, const Tensor& a, const Tensor& b) {
  const int64_t n = a.dim(0), c = a.dim(1);
  const int64_t plane = plane_size(a);
  dispatch_floating(a.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    const T* x = a.data<T>();
    const T* y = b.data<T>();
    if (c >= 8) {
      parallel_for(c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t ch = begin; ch < end; ++ch) {
          double acc = 0;
          for (int64_t s = 0; s < n; ++s) {
            const int64_t base = (s * c + ch) * plane;
            for (int64_t i = 0; i < plane; ++i) acc += static_cast<double>(x[base + i]) * static_cast<double>(y[base + i]);
          }
          o[ch] = static_cast<T>(acc);
        }
      });
      return;
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      const double sum = blocked_sum(n * plane, [=](int64_t e) {
        const int64_t i = ((e / plane) * c + ch) * plane + e % plane;
        return static_cast<double>(x[i]) * static_cast<double>(y[i]);
      });
      o[ch] = static_cast<T>(sum);
    }
  });
}

}  // namespace

void register_channel_kernels(KernelTable& table) {
  table.add<ops::BiasAdd>(kFloatingTypes, bias_add);
  table.add<ops::BiasGrad>(kFloatingTypes, bias_grad);
  table.add<ops::ChannelDot>(kFloatingTypes, channel_dot);
}

}  // namespace newton
