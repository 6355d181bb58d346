// Max and average 2-D pooling on the CPU, NCHW. Every (n, c) plane is independent, so
// planes are the unit of parallel work; each backward task owns its dx plane, which keeps
// the scatter race-free and its summation order fixed.
//
// Only the paper's 2×2 max pooling has AVX2 / AVX-512 variants (max_row_2x2_*; note [run-time
// ISA] in isa.h). The other loops stay baseline code: compiled for AVX2 or AVX-512 through
// with_cpu_isa they measured 5–25% slower at cnn3's sizes (`npm run bench -- ops --isa all`:
// gathers for the argmax reads, vector set-up for windows of a few elements).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../error.h"
#include "../parallel.h"
#include "../scalar_math.h"
#include "../ops/pool.h"
#include "cpu_backend.h"
#include "dispatch.h"
#include "isa.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if NEWTON_CPU_ISA_DISPATCH
#include <immintrin.h>
#endif

namespace newton {

namespace {

struct PoolShape {
  int64_t planes;  // N·C
  int64_t h, w;    // input plane
  int64_t p, q;    // output plane
  Pool2dParams prm;

  int64_t hw() const { return h * w; }
  int64_t pq() const { return p * q; }
};

// x: (N, C, H, W), y: (N, C, P, Q)
PoolShape pool_shape(const Tensor& x, const Tensor& y, const Pool2dParams& prm) {
  return PoolShape{x.dim(0) * x.dim(1), x.dim(2), x.dim(3), y.dim(2), y.dim(3), prm};
}

// The part of a window [start, start + kernel) that lies inside [0, extent).
struct Span {
  int64_t lo, hi;
};
Span clip(int64_t start, int64_t kernel, int64_t extent) {
  return Span{std::max<int64_t>(start, 0), std::min(start + kernel, extent)};
}

// Enough planes per task that the hand-off is amortised over ~16k elements.
int64_t plane_grain(int64_t plane_elements) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, plane_elements));
}

// Scans one window in row-major order. `v > best` keeps the first of equal maxima; a NaN
// replaces a non-NaN best and is then never replaced, so the first NaN wins and
// propagates. Padding is never visited.
// Works on locals and stores once: writing through references into the output would make
// every comparison a load and a store (the compiler must assume they alias `plane`).
template <typename T>
void max_window(const T* plane, int64_t w, Span rows, Span cols, T* best_out, int32_t* index_out) {
  T best = plane[rows.lo * w + cols.lo];
  int32_t best_index = static_cast<int32_t>(rows.lo * w + cols.lo);
  for (int64_t ih = rows.lo; ih < rows.hi; ++ih) {
    for (int64_t iw = cols.lo; iw < cols.hi; ++iw) {
      // Selects instead of a branch: on real activations the comparison is a coin flip,
      // and mispredicted branches cost more than the whole window.
      const T v = plane[ih * w + iw];
      const bool take = (v > best) | ((v != v) & (best == best));
      best = take ? v : best;
      best_index = take ? static_cast<int32_t>(ih * w + iw) : best_index;
    }
  }
  *best_out = best;
  *index_out = best_index;
}

// One output row of the paper's pooling (2×2 window, stride 2, no padding), float32: rows
// r0 and r1 of the plane give q outputs. Same choices as max_window (first maximum, first
// NaN), four outputs at a time with SSE2: the scalar loop is bound by its dependent selects.
inline void pick_first_max(float v, int32_t index, float& best, int32_t& best_index) {
  const bool take = (v > best) | ((v != v) & (best == best));
  best = take ? v : best;
  best_index = take ? index : best_index;
}

#if defined(__SSE2__)
inline void pick_first_max4(__m128 v, __m128i index, __m128& best, __m128i& best_index) {
  const __m128 take = _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_and_ps(_mm_cmpunord_ps(v, v), _mm_cmpord_ps(best, best)));
  best = _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, best));
  const __m128i take_i = _mm_castps_si128(take);
  best_index = _mm_or_si128(_mm_and_si128(take_i, index), _mm_andnot_si128(take_i, best_index));
}
#endif

#if NEWTON_CPU_ISA_DISPATCH
// The same, 16 and 8 outputs at a time (note [run-time ISA] in isa.h: these functions, like
// the run_avx* instantiations, only run when cpu_isa() chose their ISA). Each row function
// returns how many of the q outputs it wrote; max_row_2x2 finishes the row.
NEWTON_TARGET_AVX512 inline void pick_first_max16_avx512(__m512 v, __m512i index, __m512& best, __m512i& best_index) {
  const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                         (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
  best = _mm512_mask_mov_ps(best, take, v);
  best_index = _mm512_mask_mov_epi32(best_index, take, index);
}

NEWTON_TARGET_AVX512 int64_t max_row_2x2_avx512(const float* r0, const float* r1, int64_t w, int32_t row0_index, int64_t q,
                                                float* y, int32_t* argmax) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i down = _mm512_set1_epi32(static_cast<int32_t>(w));
  int64_t j = 0;
  for (; j + 16 <= q; j += 16) {
    const __m512 a0 = _mm512_loadu_ps(r0 + 2 * j), a1 = _mm512_loadu_ps(r0 + 2 * j + 16);
    const __m512 b0 = _mm512_loadu_ps(r1 + 2 * j), b1 = _mm512_loadu_ps(r1 + 2 * j + 16);
    const __m512i first = _mm512_add_epi32(_mm512_set1_epi32(row0_index + static_cast<int32_t>(2 * j)), even);
    __m512 best = _mm512_permutex2var_ps(a0, even, a1);
    __m512i best_index = first;
    pick_first_max16_avx512(_mm512_permutex2var_ps(a0, odd, a1), _mm512_add_epi32(first, one), best, best_index);
    pick_first_max16_avx512(_mm512_permutex2var_ps(b0, even, b1), _mm512_add_epi32(first, down), best, best_index);
    pick_first_max16_avx512(_mm512_permutex2var_ps(b0, odd, b1), _mm512_add_epi32(_mm512_add_epi32(first, down), one), best,
                            best_index);
    _mm512_storeu_ps(y + j, best);
    _mm512_storeu_si512(argmax + j, best_index);
  }
  return j;
}

NEWTON_TARGET_AVX2 inline void pick_first_max8_avx2(__m256 v, __m256i index, __m256& best, __m256i& best_index) {
  const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                   _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
  best = _mm256_blendv_ps(best, v, take);
  best_index = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(best_index), _mm256_castsi256_ps(index), take));
}

// The even (odd = false) or odd elements of the 16 floats lo, hi, in order: a shuffle within
// the 128-bit halves, then the 64-bit blocks put back in order.
NEWTON_TARGET_AVX2 inline __m256 deinterleave_avx2(__m256 lo, __m256 hi, bool odd) {
  const __m256 s = odd ? _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)) : _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

NEWTON_TARGET_AVX2 int64_t max_row_2x2_avx2(const float* r0, const float* r1, int64_t w, int32_t row0_index, int64_t q, float* y,
                                            int32_t* argmax) {
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i down = _mm256_set1_epi32(static_cast<int32_t>(w));
  int64_t j = 0;
  for (; j + 8 <= q; j += 8) {
    const __m256 a0 = _mm256_loadu_ps(r0 + 2 * j), a1 = _mm256_loadu_ps(r0 + 2 * j + 8);
    const __m256 b0 = _mm256_loadu_ps(r1 + 2 * j), b1 = _mm256_loadu_ps(r1 + 2 * j + 8);
    const __m256i first = _mm256_add_epi32(_mm256_set1_epi32(row0_index + static_cast<int32_t>(2 * j)), even);
    __m256 best = deinterleave_avx2(a0, a1, false);
    __m256i best_index = first;
    pick_first_max8_avx2(deinterleave_avx2(a0, a1, true), _mm256_add_epi32(first, one), best, best_index);
    pick_first_max8_avx2(deinterleave_avx2(b0, b1, false), _mm256_add_epi32(first, down), best, best_index);
    pick_first_max8_avx2(deinterleave_avx2(b0, b1, true), _mm256_add_epi32(_mm256_add_epi32(first, down), one), best, best_index);
    _mm256_storeu_ps(y + j, best);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(argmax + j), best_index);
  }
  return j;
}
#endif

// r0, r1: input rows 2·op and 2·op + 1 (row0_index = 2·op·W); y, argmax: q outputs.
void max_row_2x2(CpuIsa isa, const float* r0, const float* r1, int64_t w, int32_t row0_index, int64_t q, float* y,
                 int32_t* argmax) {
  int64_t j = 0;
#if NEWTON_CPU_ISA_DISPATCH
  if (isa == CpuIsa::Avx512 && q >= 16) j = max_row_2x2_avx512(r0, r1, w, row0_index, q, y, argmax);
  if (isa == CpuIsa::Avx2 && q >= 8) j = max_row_2x2_avx2(r0, r1, w, row0_index, q, y, argmax);
#else
  (void)isa;
#endif
#if defined(__SSE2__)
  const __m128i even = _mm_set_epi32(6, 4, 2, 0);
  const int32_t w32 = static_cast<int32_t>(w);
  for (; j + 4 <= q; j += 4) {
    const __m128 a0 = _mm_loadu_ps(r0 + 2 * j), a1 = _mm_loadu_ps(r0 + 2 * j + 4);
    const __m128 b0 = _mm_loadu_ps(r1 + 2 * j), b1 = _mm_loadu_ps(r1 + 2 * j + 4);
    const __m128 top_left = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
    const __m128 top_right = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
    const __m128 bottom_left = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0));
    const __m128 bottom_right = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
    const __m128i first = _mm_add_epi32(_mm_set1_epi32(row0_index + static_cast<int32_t>(2 * j)), even);
    __m128 best = top_left;
    __m128i best_index = first;
    pick_first_max4(top_right, _mm_add_epi32(first, _mm_set1_epi32(1)), best, best_index);
    pick_first_max4(bottom_left, _mm_add_epi32(first, _mm_set1_epi32(w32)), best, best_index);
    pick_first_max4(bottom_right, _mm_add_epi32(first, _mm_set1_epi32(w32 + 1)), best, best_index);
    _mm_storeu_ps(y + j, best);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(argmax + j), best_index);
  }
#endif
  for (; j < q; ++j) {
    const int32_t first = row0_index + static_cast<int32_t>(2 * j);
    float best = r0[2 * j];
    int32_t best_index = first;
    pick_first_max(r0[2 * j + 1], first + 1, best, best_index);
    pick_first_max(r1[2 * j], first + static_cast<int32_t>(w), best, best_index);
    pick_first_max(r1[2 * j + 1], first + static_cast<int32_t>(w) + 1, best, best_index);
    y[j] = best;
    argmax[j] = best_index;
  }
}

bool is_paper_pooling(const Pool2dParams& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 && p.pad_w == 0;
}

// y, argmax: (N, C, P, Q), x: (N, C, H, W)
template <typename T>
void max_forward(const PoolShape& sh, const T* x, T* y, int32_t* argmax) {
  const Pool2dParams& prm = sh.prm;
  const CpuIsa isa = cpu_isa();
  parallel_for(sh.planes, plane_grain(sh.hw()), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* xp = x + plane * sh.hw();
      T* yp = y + plane * sh.pq();
      int32_t* ap = argmax + plane * sh.pq();
      if constexpr (std::is_same_v<T, float>) {
        if (is_paper_pooling(prm)) {
          for (int64_t op = 0; op < sh.p; ++op) {
            max_row_2x2(isa, xp + 2 * op * sh.w, xp + (2 * op + 1) * sh.w, sh.w, static_cast<int32_t>(2 * op * sh.w), sh.q,
                        yp + op * sh.q, ap + op * sh.q);
          }
          continue;
        }
      }
      for (int64_t op = 0; op < sh.p; ++op) {
        const Span rows = clip(op * prm.stride_h - prm.pad_h, prm.kernel_h, sh.h);
        for (int64_t oq = 0; oq < sh.q; ++oq) {
          const Span cols = clip(oq * prm.stride_w - prm.pad_w, prm.kernel_w, sh.w);
          max_window(xp, sh.w, rows, cols, yp + op * sh.q + oq, ap + op * sh.q + oq);
        }
      }
    }
  });
}

// dx: (N, C, H, W) = Σ dy routed to argmax; dy, argmax: (N, C, P, Q). With relu_input
// (N, C, H, W) the ReLU before the pooling is fused in: an element whose ReLU input is not
// positive keeps 0. Applying the mask at every accumulation gives exactly the bits of
// reluBackward(maxPool2dBackward(...)), and reads relu_input only at the argmax positions.
// An argmax entry outside its plane (only possible when argmax does not come from maxPool2d,
// which the dispatcher's debug checks refuse) is skipped, so no write leaves the plane.
template <typename T>
void max_backward(const PoolShape& sh, const T* dy, const int32_t* argmax, const T* relu_input, T* dx) {
  const uint32_t hw = static_cast<uint32_t>(sh.hw());  // < 2^31 (ops/pool.h)
  parallel_for(sh.planes, plane_grain(sh.hw()), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      T* dxp = dx + plane * sh.hw();
      const T* dyp = dy + plane * sh.pq();
      const int32_t* ap = argmax + plane * sh.pq();
      std::fill(dxp, dxp + sh.hw(), T(0));
      if (relu_input == nullptr) {
        for (int64_t i = 0; i < sh.pq(); ++i) {
          const uint32_t a = static_cast<uint32_t>(ap[i]);
          if (a < hw) dxp[a] += dyp[i];
        }
      } else {
        const T* pre = relu_input + plane * sh.hw();
        for (int64_t i = 0; i < sh.pq(); ++i) {
          const uint32_t a = static_cast<uint32_t>(ap[i]);
          if (a < hw) dxp[a] = math::relu_backward(dxp[a] + dyp[i], pre[a]);
        }
      }
    }
  });
}

// y: (N, C, P, Q) = window sums of x: (N, C, H, W) / (kernel_h·kernel_w)
template <typename T>
void avg_forward(const PoolShape& sh, const T* x, T* y) {
  const Pool2dParams& prm = sh.prm;
  const T inv_area = T(1) / static_cast<T>(prm.kernel_h * prm.kernel_w);
  parallel_for(sh.planes, plane_grain(sh.hw()), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* xp = x + plane * sh.hw();
      T* yp = y + plane * sh.pq();
      for (int64_t op = 0; op < sh.p; ++op) {
        const Span rows = clip(op * prm.stride_h - prm.pad_h, prm.kernel_h, sh.h);
        for (int64_t oq = 0; oq < sh.q; ++oq) {
          const Span cols = clip(oq * prm.stride_w - prm.pad_w, prm.kernel_w, sh.w);
          T sum = T(0);
          for (int64_t ih = rows.lo; ih < rows.hi; ++ih) {
            for (int64_t iw = cols.lo; iw < cols.hi; ++iw) sum += xp[ih * sh.w + iw];
          }
          yp[op * sh.q + oq] = sum * inv_area;
        }
      }
    }
  });
}

// dx: (N, C, H, W) = adjoint of avg_forward applied to dy: (N, C, P, Q)
template <typename T>
void avg_backward(const PoolShape& sh, const T* dy, T* dx) {
  const Pool2dParams& prm = sh.prm;
  const T inv_area = T(1) / static_cast<T>(prm.kernel_h * prm.kernel_w);
  parallel_for(sh.planes, plane_grain(sh.hw()), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      T* dxp = dx + plane * sh.hw();
      const T* dyp = dy + plane * sh.pq();
      std::fill(dxp, dxp + sh.hw(), T(0));
      for (int64_t op = 0; op < sh.p; ++op) {
        const Span rows = clip(op * prm.stride_h - prm.pad_h, prm.kernel_h, sh.h);
        for (int64_t oq = 0; oq < sh.q; ++oq) {
          const Span cols = clip(oq * prm.stride_w - prm.pad_w, prm.kernel_w, sh.w);
          const T g = dyp[op * sh.q + oq] * inv_area;
          for (int64_t ih = rows.lo; ih < rows.hi; ++ih) {
            for (int64_t iw = cols.lo; iw < cols.hi; ++iw) dxp[ih * sh.w + iw] += g;
          }
        }
      }
    }
  });
}

// y, argmax: (N, C, P, Q), x: (N, C, H, W)
void max_pool2d_forward(Backend&, Tensor& y, Tensor& argmax, const Tensor& x, const Pool2dParams& p) {
  const PoolShape sh = pool_shape(x, y, p);
  if (x.dtype() == DType::F32) return max_forward(sh, x.data<float>(), y.data<float>(), argmax.data<int32_t>());
  max_forward(sh, x.data<double>(), y.data<double>(), argmax.data<int32_t>());
}

// dx: (N, C, H, W), dy, argmax: (N, C, P, Q); relu_input: dx's shape or null.
void max_pool2d_backward(Backend&, Tensor& dx, const Tensor& dy, const Tensor& argmax, const Pool2dParams& p,
                         const Tensor* relu_input) {
  const PoolShape sh = pool_shape(dx, dy, p);
  if (dy.dtype() == DType::F32) {
    return max_backward(sh, dy.data<float>(), argmax.data<int32_t>(), relu_input ? relu_input->data<float>() : nullptr,
                        dx.data<float>());
  }
  max_backward(sh, dy.data<double>(), argmax.data<int32_t>(), relu_input ? relu_input->data<double>() : nullptr,
               dx.data<double>());
}

// ry: (N, C, P, Q) = rx: (N, C, H, W) gathered at argmax: (N, C, P, Q). An entry outside
// its plane (argmax not from maxPool2d) gives NaN instead of reading outside the plane.
void max_pool2d_jvp(Backend&, Tensor& ry, const Tensor& rx, const Tensor& argmax, const Pool2dParams& p) {
  const PoolShape sh = pool_shape(rx, ry, p);
  const int32_t* index = argmax.data<int32_t>();
  const uint32_t hw = static_cast<uint32_t>(sh.hw());
  dispatch_floating(rx.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* in = rx.data<T>();
    T* out = ry.data<T>();
    parallel_for(sh.planes, plane_grain(sh.hw()), [&](int64_t begin, int64_t end) {
      for (int64_t plane = begin; plane < end; ++plane) {
        const T* xp = in + plane * sh.hw();
        const int32_t* ap = index + plane * sh.pq();
        T* yp = out + plane * sh.pq();
        for (int64_t i = 0; i < sh.pq(); ++i) {
          const uint32_t a = static_cast<uint32_t>(ap[i]);
          yp[i] = a < hw ? xp[a] : std::numeric_limits<T>::quiet_NaN();
        }
      }
    });
  });
}

// y: (N, C, P, Q), x: (N, C, H, W)
void avg_pool2d_forward(Backend&, Tensor& y, const Tensor& x, const Pool2dParams& p) {
  const PoolShape sh = pool_shape(x, y, p);
  if (x.dtype() == DType::F32) return avg_forward(sh, x.data<float>(), y.data<float>());
  avg_forward(sh, x.data<double>(), y.data<double>());
}

// dx: (N, C, H, W), dy: (N, C, P, Q)
void avg_pool2d_backward(Backend&, Tensor& dx, const Tensor& dy, const Pool2dParams& p) {
  const PoolShape sh = pool_shape(dx, dy, p);
  if (dy.dtype() == DType::F32) return avg_backward(sh, dy.data<float>(), dx.data<float>());
  avg_backward(sh, dy.data<double>(), dx.data<double>());
}

}  // namespace

void register_pool_kernels(KernelTable& table) {
  table.add<ops::MaxPool2d>(kFloatingTypes, max_pool2d_forward);
  table.add<ops::MaxPool2dBackward>(kFloatingTypes, max_pool2d_backward);
  table.add<ops::MaxPool2dJvp>(kFloatingTypes, max_pool2d_jvp);
  table.add<ops::AvgPool2d>(kFloatingTypes, avg_pool2d_forward);
  table.add<ops::AvgPool2dBackward>(kFloatingTypes, avg_pool2d_backward);
}

}  // namespace newton
