// Per-channel ops on the CPU (ops/channel.h): t (N, C, S...) viewed as N·C planes of
// S... elements.
#include <algorithm>
#include <cmath>

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
                   with_cpu_isa([&] {
                     for (int64_t p = begin; p < end; ++p) {
                       const T v = bias[p % c];
                       T* row = o + p * plane;
                       const T* src = in + p * plane;
                       for (int64_t i = 0; i < plane; ++i) row[i] = src[i] + v;
                     }
                   });
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
      with_cpu_isa([&] {
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

// out = x·scale[c] (+ shift[c]); out may be x.
void channel_affine(Backend&, Tensor& out, const Tensor& x, const Tensor& scale, const Tensor* shift) {
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t plane = plane_size(x);
  dispatch_floating(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    const T* in = x.data<T>();
    const T* s = scale.data<T>();
    const T* t = shift ? shift->data<T>() : nullptr;
    parallel_for(n * c, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(plane, 1)), [&](int64_t begin, int64_t end) {
      with_cpu_isa([&] {
        for (int64_t p = begin; p < end; ++p) {
          const T sc = s[p % c];
          T* row = o + p * plane;
          const T* src = in + p * plane;
          if (t == nullptr) {
            for (int64_t i = 0; i < plane; ++i) row[i] = src[i] * sc;
          } else {
            const T sh = t[p % c];
            for (int64_t i = 0; i < plane; ++i) {
              const T prod = src[i] * sc;
              row[i] = prod + sh;
            }
          }
        }
      });
    });
  });
}

// out = (a·as[c] + b·bs[c]) (+ shift[c]), rounded after each operation.
void channel_combine(Backend&, Tensor& out, const Tensor& a, const Tensor& a_scale, const Tensor& b, const Tensor& b_scale,
                     const Tensor* shift) {
  const int64_t n = a.dim(0), c = a.dim(1);
  const int64_t plane = plane_size(a);
  dispatch_floating(a.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const T* sa = a_scale.data<T>();
    const T* sb = b_scale.data<T>();
    const T* t = shift ? shift->data<T>() : nullptr;
    parallel_for(n * c, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(plane, 1)), [&](int64_t begin, int64_t end) {
      with_cpu_isa([&] {
        for (int64_t p = begin; p < end; ++p) {
          const int64_t ch = p % c;
          const T u = sa[ch], v = sb[ch], sh = t ? t[ch] : T(0);
          T* row = o + p * plane;
          const T* ra = pa + p * plane;
          const T* rb = pb + p * plane;
          for (int64_t i = 0; i < plane; ++i) {
            const T x = ra[i] * u;
            const T y = rb[i] * v;
            const T sum = x + y;
            row[i] = t ? sum + sh : sum;
          }
        }
      });
    });
  });
}

// mean, variance (biased), invStd per channel of x (N, C, ...): two passes in double over
// each channel's m values, in a fixed order; the paths are chosen by C only, as channel_dot's.
void batch_norm_stats(Backend&, Tensor& mean, Tensor& variance, Tensor& inv_std, const Tensor& x, double eps) {
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t plane = plane_size(x);
  const double m = static_cast<double>(n * plane);
  dispatch_floating(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    T* mu = mean.data<T>();
    T* var = variance.data<T>();
    T* inv = inv_std.data<T>();
    auto finish = [&](int64_t ch, double sum, double squares) {
      const double v = squares / m;
      mu[ch] = static_cast<T>(sum / m);
      var[ch] = static_cast<T>(v);
      inv[ch] = static_cast<T>(1.0 / std::sqrt(v + eps));
    };
    if (c >= 8) {
      parallel_for(c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t ch = begin; ch < end; ++ch) {
          double sum = 0;
          for (int64_t s = 0; s < n; ++s) {
            const T* row = in + (s * c + ch) * plane;
            for (int64_t i = 0; i < plane; ++i) sum += static_cast<double>(row[i]);
          }
          const double mu_d = sum / m;
          double squares = 0;
          for (int64_t s = 0; s < n; ++s) {
            const T* row = in + (s * c + ch) * plane;
            for (int64_t i = 0; i < plane; ++i) {
              const double d = static_cast<double>(row[i]) - mu_d;
              squares += d * d;
            }
          }
          finish(ch, sum, squares);
        }
      });
      return;
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      auto at = [=](int64_t e) { return static_cast<double>(in[((e / plane) * c + ch) * plane + e % plane]); };
      const double sum = blocked_sum(n * plane, at);
      const double mu_d = sum / m;
      const double squares = blocked_sum(n * plane, [=](int64_t e) {
        const double d = at(e) - mu_d;
        return d * d;
      });
      finish(ch, sum, squares);
    }
  });
}

}  // namespace

void register_channel_kernels(KernelTable& table) {
  table.add<ops::BiasAdd>(kFloatingTypes, bias_add);
  table.add<ops::BiasGrad>(kFloatingTypes, bias_grad);
  table.add<ops::ChannelDot>(kFloatingTypes, channel_dot);
  table.add<ops::ChannelAffine>(kFloatingTypes, channel_affine);
  table.add<ops::ChannelCombine>(kFloatingTypes, channel_combine);
  table.add<ops::BatchNormStats>(kFloatingTypes, batch_norm_stats);
}

}  // namespace newton
