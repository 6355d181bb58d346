// 2-D convolution on the CPU: im2col + GEMM, the path of float64 and of float32 when oneDNN
// is not in use (onednn_conv.h; the kernels at the end of this file choose), and the
// reference the oneDNN path is tested against (test/conv.onednn.test.ts).
//
// Note [batched im2col]
// ~~~~~~~~~~~~~~~~~~~~~
// One image's GEMM is small (conv3 of the MNIST net: 64 × 49 outputs), far from the speed
// of a large GEMM. So a chunk of images is unfolded at once into
// col (C·R·S, chunk·P·Q): row (c, r, s), column (n, p, q), and a single GEMM with
// W (K, C·R·S) covers the chunk; its (K, chunk·P·Q) result is then scattered to NCHW.
// The chunk is sized so that col stays in cache between im2col and the GEMM
// (kColBudgetBytes): larger buys nothing once the GEMM is wide, and costs a trip through
// main memory (measured on the MNIST/CIFAR layers: 2 MiB chunks ran 15–25% faster than
// 16 MiB ones, 64 MiB ones up to 2× slower).
//
// Chunks are the unit of parallel work: the pool's tasks claim whole chunks one at a time
// (parallel_claim: a task slowed down by another process just takes fewer), and each task
// runs im2col → one single-threaded GEMM → scatter for its chunks in turn, in a workspace
// of its own (allocated once per task). The former design, chunks one after another with
// each step parallel inside, ran at about one core's speed on two: a chunk's GEMM
// (N ≈ 1–2k) is too small to thread well, and the BLAS threads spun against the pool
// during the im2col/scatter steps. So BLAS is single-threaded (note [single-threaded BLAS]
// in parallel.cpp), and there are at least kMinChunks chunks when the batch allows, for
// load balance, evened out to equal sizes. A lone chunk (a batch of one) runs outside any
// parallel region instead, its steps parallel inside (parallel_items).
// Backward filter sums over the chunks: each chunk writes its partial dW into a slot of
// its own (consecutive chunks share one when the partials of a large layer would take too
// much memory), and the partials are added in chunk order afterwards.
// Chunks depend only on the shapes, and every sum runs in a fixed order, so results do not
// depend on the thread count.
//
// The passes (and the fused ones of note [fused conv passes] in ops/conv.h, below):
//   forward          Y_chunk = W · col(X_chunk)
//   backward data    col = Wᵀ · dY_chunk, then col2im (adds overlapping taps into dX)
//   backward filter  dW = Σ_chunks dY_chunk · col(X_chunk)ᵀ
// A 1×1, stride-1, unpadded convolution needs no unfolding: X_n is already (C, H·W);
// on large planes it multiplies image by image, images in parallel (see
// ConvShape::is_pointwise).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "../error.h"
#include "../parallel.h"
#include "../ops/conv.h"
#include "../scalar_math.h"
#include "cpu_backend.h"
#include "dispatch.h"
#include "onednn_conv.h"

namespace newton {

namespace {

// Per-chunk budget for the unfolded input; see note [batched im2col].
constexpr int64_t kColBudgetBytes = int64_t{2} << 20;
// The GEMM's N (chunk·P·Q) below which a chunk is widened past the budget anyway.
constexpr int64_t kMinGemmColumns = 1024;

struct ConvShape {
  int64_t n, c, h, w;  // input
  int64_t k, r, s;     // filter
  int64_t p, q;        // output
  int64_t stride_h, stride_w, pad_h, pad_w;

  int64_t crs() const { return c * r * s; }
  int64_t pq() const { return p * q; }
  int64_t hw() const { return h * w; }
  // 1×1, stride 1, no padding, on planes large enough that one GEMM per image is wide:
  // each image then multiplies in place, with no unfolding and no scatter.
  bool is_pointwise() const {
    return r == 1 && s == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0 &&
           h * w >= kMinGemmColumns;
  }
};

// x: (N, C, H, W), w: (K, C, R, S), y: (N, K, P, Q)
ConvShape conv_shape(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& prm) {
  return ConvShape{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0),     w.dim(2),     w.dim(3),
                   y.dim(2), y.dim(3), prm.stride_h, prm.stride_w, prm.pad_h, prm.pad_w};
}

// Chunks of images; see note [batched im2col].
constexpr int64_t kMinChunks = 8;
struct Chunking {
  int64_t size, count;  // images per chunk (the last may have fewer), number of chunks
};

// `preferred` images per chunk, lowered so that there are at least kMinChunks chunks when
// the batch allows, then evened out: the same number of chunks, as equal as possible.
Chunking even_chunks(int64_t n, int64_t preferred) {
  const int64_t cap = (n + kMinChunks - 1) / kMinChunks;
  const int64_t size = std::clamp<int64_t>(std::min(preferred, cap), 1, std::max<int64_t>(1, n));
  const int64_t count = (n + size - 1) / size;
  const int64_t even = (n + count - 1) / std::max<int64_t>(1, count);
  return Chunking{even, (n + even - 1) / std::max<int64_t>(1, even)};
}

// Images per chunk for im2col: as many as fit the budget, at least enough for a wide GEMM.
template <typename T>
Chunking im2col_chunks(const ConvShape& sh) {
  const int64_t col_bytes = std::max<int64_t>(1, sh.crs() * sh.pq() * int64_t(sizeof(T)));
  const int64_t by_budget = kColBudgetBytes / col_bytes;
  const int64_t by_width = (kMinGemmColumns + sh.pq() - 1) / std::max<int64_t>(1, sh.pq());
  return even_chunks(sh.n, std::max(by_budget, by_width));
}

// The output positions q in [q_lo, q_hi) whose input column q·stride − pad + s lies in
// [0, W); likewise for rows. Outside that range the tap reads padding.
struct TapRange {
  int64_t lo, hi;
};
TapRange valid_range(int64_t out_len, int64_t in_len, int64_t stride, int64_t pad, int64_t tap) {
  // smallest o with o·stride ≥ pad − tap, and smallest o with o·stride ≥ in_len + pad − tap
  auto ceil_div = [](int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; };
  const int64_t lo = std::min(out_len, ceil_div(pad - tap, stride));
  const int64_t hi = std::min(out_len, ceil_div(in_len + pad - tap, stride));
  return TapRange{lo, std::max(lo, hi)};
}

// The valid ranges of every tap, computed once per call: the divisions in valid_range
// cost more than copying a 7×7 plane's tap, so they are kept out of the inner loops.
struct TapRanges {
  std::vector<TapRange> rows;  // per r: output rows p that read an input row
  std::vector<TapRange> cols;  // per s: output columns q that read an input column
};
TapRanges tap_ranges(const ConvShape& sh) {
  TapRanges t;
  for (int64_t r = 0; r < sh.r; ++r) t.rows.push_back(valid_range(sh.p, sh.h, sh.stride_h, sh.pad_h, r));
  for (int64_t s = 0; s < sh.s; ++s) t.cols.push_back(valid_range(sh.q, sh.w, sh.stride_w, sh.pad_w, s));
  return t;
}

// Note [same-size fast path]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~
// With stride 1 and Q == W (the usual "same" padding), one tap (r, s) of one image is the
// input plane shifted by d = (r − pad_h)·W + (s − pad_w): col[i] = x[i + d] over the band
// of valid output rows, except the |s − pad_w| columns at the row ends, which wrap into
// the neighbouring input row and must read padding instead. So a tap is one contiguous
// copy plus a few fixes, instead of one short copy per output row: for the small planes
// of a CNN (7×7) the per-row overhead would otherwise cost as much as the GEMM.
bool is_same_size(const ConvShape& sh) { return sh.stride_h == 1 && sh.stride_w == 1 && sh.q == sh.w; }

// Zeroes columns [0, qs.lo) and [qs.hi, Q) of rows [ps.lo, ps.hi) of a P × Q tap. Column
// by column so that the compiler keeps these 0–2-element runs inline, not memset calls.
template <typename T>
void zero_wrapped_columns(const ConvShape& sh, TapRange ps, TapRange qs, T* tap) {
  for (int64_t q = 0; q < qs.lo; ++q) {
    for (int64_t p = ps.lo; p < ps.hi; ++p) tap[p * sh.q + q] = T(0);
  }
  for (int64_t q = qs.hi; q < sh.q; ++q) {
    for (int64_t p = ps.lo; p < ps.hi; ++p) tap[p * sh.q + q] = T(0);
  }
}

// One tap row of col for one image: out[p·Q + q] = x(p·stride_h + r − pad_h,
// q·stride_w + s − pad_w), or 0 in the padding. ps, qs: the tap's valid ranges.
template <typename T>
void im2col_tap(const ConvShape& sh, const T* plane, int64_t r, int64_t s, TapRange ps, TapRange qs, T* out) {
  std::fill(out, out + ps.lo * sh.q, T(0));
  std::fill(out + ps.hi * sh.q, out + sh.pq(), T(0));
  if (ps.lo >= ps.hi) return;
  if (is_same_size(sh) && qs.lo < qs.hi) {
    // See note [same-size fast path]: copy from the band's first valid element to its
    // last, so the source never leaves the plane, then blank the wrapped columns.
    const int64_t d = (r - sh.pad_h) * sh.w + (s - sh.pad_w);
    const int64_t first = ps.lo * sh.q + qs.lo, last = (ps.hi - 1) * sh.q + qs.hi;
    std::memcpy(out + first, plane + first + d, sizeof(T) * (last - first));
    zero_wrapped_columns(sh, ps, qs, out);
    return;
  }
  for (int64_t p = ps.lo; p < ps.hi; ++p) {
    T* row = out + p * sh.q;
    const T* src = plane + (p * sh.stride_h - sh.pad_h + r) * sh.w - sh.pad_w + s;
    std::fill(row, row + qs.lo, T(0));
    if (sh.stride_w == 1) {
      std::copy(src + qs.lo, src + qs.hi, row + qs.lo);
    } else {
      for (int64_t q = qs.lo; q < qs.hi; ++q) row[q] = src[q * sh.stride_w];
    }
    std::fill(row + qs.hi, row + sh.q, T(0));
  }
}

// col: (C·R·S, nb·P·Q) from images [n0, n0+nb) of x: (N, C, H, W). Rows are independent,
// so they are the unit of parallel work when a lone chunk runs outside a parallel region
// (see parallel_items); inside a chunk task the loop runs serially.
template <typename T>
void im2col(const ConvShape& sh, const TapRanges& taps, const T* x, int64_t n0, int64_t nb, T* col) {
  const int64_t cols = nb * sh.pq();
  parallel_for(sh.crs(), 1, [&](int64_t row_begin, int64_t row_end) {
    for (int64_t row = row_begin; row < row_end; ++row) {
      const int64_t c = row / (sh.r * sh.s), r = row / sh.s % sh.r, s = row % sh.s;
      const T* plane = x + (n0 * sh.c + c) * sh.hw();
      T* out = col + row * cols;
      for (int64_t n = 0; n < nb; ++n, plane += sh.c * sh.hw(), out += sh.pq()) {
        im2col_tap(sh, plane, r, s, taps.rows[r], taps.cols[s], out);
      }
    }
  });
}

// Adds one tap row of col for one image into its dx plane: the adjoint of im2col_tap.
// `src` is workspace and may be modified.
template <typename T>
void col2im_tap(const ConvShape& sh, T* src, int64_t r, int64_t s, TapRange ps, TapRange qs, T* plane) {
  if (ps.lo >= ps.hi || qs.lo >= qs.hi) return;
  if (is_same_size(sh)) {
    // See note [same-size fast path]. Zeroing the wrapped entries first lets one
    // contiguous loop do the whole band: they then add 0 to a neighbouring element.
    zero_wrapped_columns(sh, ps, qs, src);
    const int64_t d = (r - sh.pad_h) * sh.w + (s - sh.pad_w);
    const int64_t first = ps.lo * sh.q + qs.lo, last = (ps.hi - 1) * sh.q + qs.hi;
    T* dst = plane + d;
    for (int64_t i = first; i < last; ++i) dst[i] += src[i];
    return;
  }
  for (int64_t p = ps.lo; p < ps.hi; ++p) {
    T* dst = plane + (p * sh.stride_h - sh.pad_h + r) * sh.w - sh.pad_w + s;
    const T* src_row = src + p * sh.q;
    if (sh.stride_w == 1) {
      for (int64_t q = qs.lo; q < qs.hi; ++q) dst[q] += src_row[q];
    } else {
      for (int64_t q = qs.lo; q < qs.hi; ++q) dst[q * sh.stride_w] += src_row[q];
    }
  }
}

// Images [n0, n0+nb) of dx: (N, C, H, W) = col2im(col: (C·R·S, nb·P·Q)). Each (n, c) plane
// is owned by one task and its taps are added in a fixed order: no races, no dependence
// on the thread count.
template <typename T>
void col2im(const ConvShape& sh, const TapRanges& taps, T* col, int64_t n0, int64_t nb, T* dx) {
  const int64_t cols = nb * sh.pq();
  parallel_for(nb * sh.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane_index = begin; plane_index < end; ++plane_index) {
      const int64_t n = plane_index / sh.c, c = plane_index % sh.c;
      T* plane = dx + ((n0 + n) * sh.c + c) * sh.hw();
      std::fill(plane, plane + sh.hw(), T(0));
      for (int64_t r = 0; r < sh.r; ++r) {
        for (int64_t s = 0; s < sh.s; ++s) {
          T* src = col + ((c * sh.r + r) * sh.s + s) * cols + n * sh.pq();
          col2im_tap(sh, src, r, s, taps.rows[r], taps.cols[s], plane);
        }
      }
    }
  });
}

// What the forward does to each output as it is written (note [fused conv passes] in
// ops/conv.h): + bias[k] when there is a bias, then relu when asked; one rounding for the
// addition, as biasAdd, and relu's max, as the relu op.
template <typename T>
struct Epilogue {
  const T* bias = nullptr;  // (K) or null
  bool relu = false;
  bool none() const { return bias == nullptr && !relu; }
};

// dst[i] = epilogue(src[i] + b) for one (n, k) run of `len` outputs; dst may be src.
template <typename T>
void apply_epilogue(const T* src, int64_t len, T b, bool add_bias, bool relu, T* dst) {
  if (add_bias && relu) {
    for (int64_t i = 0; i < len; ++i) dst[i] = math::relu(src[i] + b);
  } else if (add_bias) {
    for (int64_t i = 0; i < len; ++i) dst[i] = src[i] + b;
  } else if (relu) {
    for (int64_t i = 0; i < len; ++i) dst[i] = math::relu(src[i]);
  } else if (dst != src) {
    std::memcpy(dst, src, sizeof(T) * len);
  }
}

// Moves between the GEMM layout (K, nb·P·Q) and images [n0, n0+nb) of NCHW (N, K, P, Q):
// both hold contiguous P·Q runs, one per (n, k). The forward's epilogue is applied on the way.
template <typename T>
void gemm_to_nchw(const ConvShape& sh, const T* g, int64_t n0, int64_t nb, T* y, Epilogue<T> e = {}) {
  const int64_t pq = sh.pq(), cols = nb * pq;
  parallel_for(nb * sh.k, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t n = i / sh.k, k = i % sh.k;
      T* dst = y + ((n0 + n) * sh.k + k) * pq;
      const T* src = g + k * cols + n * pq;
      if (e.none()) {
        std::memcpy(dst, src, sizeof(T) * pq);
      } else {
        apply_epilogue(src, pq, e.bias != nullptr ? e.bias[k] : T(0), e.bias != nullptr, e.relu, dst);
      }
    }
  });
}
template <typename T>
void nchw_to_gemm(const ConvShape& sh, const T* y, int64_t n0, int64_t nb, T* g) {
  const int64_t pq = sh.pq(), cols = nb * pq;
  parallel_for(nb * sh.k, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t n = i / sh.k, k = i % sh.k;
      std::memcpy(g + k * cols + n * pq, y + ((n0 + n) * sh.k + k) * pq, sizeof(T) * pq);
    }
  });
}

template <typename T>
std::unique_ptr<T[]> workspace(int64_t elements) {
  // Default-initialised: every pass overwrites its workspace fully before reading it.
  return std::unique_ptr<T[]>(new T[static_cast<std::size_t>(std::max<int64_t>(1, elements))]);
}

// body(i, state) for i in [0, count): items claimed one by one by the pool's tasks, each
// task with its own state = make_state() (its workspace), allocated once and reused by all
// of the task's items. Nested parallel_for calls inside body run serially. A single item,
// though, runs on the calling thread outside any parallel region, so that its own steps
// (im2col, the GEMM's blocks, the scatter) use the pool instead: a batch of one image
// still runs on every core. Which of the two happens depends on the shapes only.
template <typename MakeState, typename Body>
void parallel_items(int64_t count, const MakeState& make_state, const Body& body) {
  if (count == 1) {
    auto state = make_state();
    body(int64_t{0}, state);
  } else {
    parallel_claim(count, make_state, body);
  }
}
constexpr auto kNoState = [] { return 0; };

// Workspace of a task: the unfolded chunk and the chunk in GEMM layout.
template <typename T>
struct ChunkBuffers {
  std::unique_ptr<T[]> col, g;
};
template <typename T>
auto chunk_buffers(const ConvShape& sh, Chunking ch) {
  return [&sh, ch] {
    return ChunkBuffers<T>{workspace<T>(sh.crs() * ch.size * sh.pq()), workspace<T>(sh.k * ch.size * sh.pq())};
  };
}

// Backward filter sums over the chunks (or images), in groups of consecutive chunks, each
// group into a partial dW of its own: one group per chunk unless the partials would exceed
// kPartialBudgetBytes (large layers), but at least kMinChunks groups. Shapes only.
constexpr int64_t kPartialBudgetBytes = int64_t{64} << 20;
template <typename T>
Chunking partial_groups(int64_t chunks, int64_t dw_size) {
  const int64_t fit = kPartialBudgetBytes / std::max<int64_t>(1, dw_size * int64_t(sizeof(T)));
  const int64_t groups = std::clamp<int64_t>(fit, std::min<int64_t>(chunks, kMinChunks), chunks);
  const int64_t per_group = (chunks + groups - 1) / groups;
  return Chunking{per_group, (chunks + per_group - 1) / per_group};
}

// dw = Σ_i partial_i over `count` partials of `size` elements, in index order, elements in
// parallel: the same sum whatever the thread count.
template <typename T>
void sum_partials(const T* partial, int64_t count, int64_t size, T* dw) {
  parallel_for(size, 4096, [&](int64_t begin, int64_t end) {
    std::copy(partial + begin, partial + end, dw + begin);
    for (int64_t i = 1; i < count; ++i) {
      const T* p = partial + i * size;
      for (int64_t e = begin; e < end; ++e) dw[e] += p[e];
    }
  });
}

// The epilogue on one image's outputs yn: (K, P, Q), in place.
template <typename T>
void epilogue_in_place(const ConvShape& sh, Epilogue<T> e, T* yn) {
  for (int64_t k = 0; k < sh.k; ++k) {
    T* run = yn + k * sh.pq();
    apply_epilogue(run, sh.pq(), e.bias != nullptr ? e.bias[k] : T(0), e.bias != nullptr, e.relu, run);
  }
}

// y: (N, K, P, Q) = conv(x: (N, C, H, W), w: (K, C, R, S))
// With an epilogue (conv2dRelu, conv2dJvp's bias) it is applied as the result is written.
template <typename T>
void forward(const ConvShape& sh, const T* x, const T* w, T* y, Epilogue<T> e = {}) {
  if (sh.n == 0 || sh.k == 0 || sh.pq() == 0) return;
  if (sh.is_pointwise()) {
    parallel_items(sh.n, kNoState, [&](int64_t n, int) {
      T* yn = y + n * sh.k * sh.pq();
      cpu_gemm(false, false, sh.k, sh.pq(), sh.c, T(1), w, sh.c, x + n * sh.c * sh.hw(), sh.hw(), T(0), yn, sh.pq());
      // in place while the image's outputs are still in cache
      if (!e.none()) epilogue_in_place(sh, e, yn);
    });
    return;
  }
  const Chunking ch = im2col_chunks<T>(sh);
  const TapRanges taps = tap_ranges(sh);
  parallel_items(ch.count, chunk_buffers<T>(sh, ch), [&](int64_t i, ChunkBuffers<T>& buf) {
    const int64_t n0 = i * ch.size, nb = std::min(ch.size, sh.n - n0), cols = nb * sh.pq();
    im2col(sh, taps, x, n0, nb, buf.col.get());
    cpu_gemm(false, false, sh.k, cols, sh.crs(), T(1), w, sh.crs(), buf.col.get(), cols, T(0), buf.g.get(), cols);
    gemm_to_nchw(sh, buf.g.get(), n0, nb, y, e);
  });
}

// dx: (N, C, H, W) = convᵀ(dy: (N, K, P, Q), w: (K, C, R, S))
template <typename T>
void backward_data(const ConvShape& sh, const T* dy, const T* w, T* dx) {
  if (sh.n * sh.c * sh.hw() == 0) return;
  if (sh.is_pointwise()) {
    parallel_items(sh.n, kNoState, [&](int64_t n, int) {
      cpu_gemm(true, false, sh.c, sh.hw(), sh.k, T(1), w, sh.c, dy + n * sh.k * sh.pq(), sh.pq(), T(0),
               dx + n * sh.c * sh.hw(), sh.hw());
    });
    return;
  }
  const Chunking ch = im2col_chunks<T>(sh);
  const TapRanges taps = tap_ranges(sh);
  parallel_items(ch.count, chunk_buffers<T>(sh, ch), [&](int64_t i, ChunkBuffers<T>& buf) {
    const int64_t n0 = i * ch.size, nb = std::min(ch.size, sh.n - n0), cols = nb * sh.pq();
    nchw_to_gemm(sh, dy, n0, nb, buf.g.get());
    // K == 0 leaves a zero col (cpu_gemm scales by beta = 0), hence a zero dx.
    cpu_gemm(true, false, sh.crs(), cols, sh.k, T(1), w, sh.crs(), buf.g.get(), cols, T(0), buf.col.get(), cols);
    col2im(sh, taps, buf.col.get(), n0, nb, dx);
  });
}

// --- the fused passes (note [fused conv passes] in ops/conv.h) -------------------------------

// Σ row[0..len) in double: four interleaved accumulators combined in a fixed order, as
// biasGrad (cpu/channel.cpp) sums a plane, for the same reason (latency of dependent adds).
template <typename T>
double row_sum(const T* row, int64_t len) {
  double acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= len; i += 4) {
    for (int j = 0; j < 4; ++j) acc[j] += static_cast<double>(row[i + j]);
  }
  for (; i < len; ++i) acc[i & 3] += static_cast<double>(row[i]);
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// nchw_to_gemm that also sums each (n, k) run of dy in double into sums[(n0 + n)·K + k]
// (sums may be null): the bias gradient taken while dy passes through the cache anyway.
template <typename T>
void nchw_to_gemm_summing(const ConvShape& sh, const T* dy, int64_t n0, int64_t nb, T* g, double* sums) {
  const int64_t pq = sh.pq(), cols = nb * pq;
  parallel_for(nb * sh.k, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t n = i / sh.k, k = i % sh.k;
      const T* src = dy + ((n0 + n) * sh.k + k) * pq;
      std::memcpy(g + k * cols + n * pq, src, sizeof(T) * pq);
      if (sums != nullptr) sums[(n0 + n) * sh.k + k] = row_sum(src, pq);
    }
  });
}

// db[k] = Σ_n sums[n·K + k], images in order, rounded once: the same for every thread count.
template <typename T>
void bias_from_sums(const ConvShape& sh, const std::vector<double>& sums, T* db) {
  for (int64_t k = 0; k < sh.k; ++k) {
    double total = 0;
    for (int64_t n = 0; n < sh.n; ++n) total += sums[static_cast<std::size_t>(n * sh.k + k)];
    db[k] = static_cast<T>(total);
  }
}

// dx (or null): (N, C, H, W), dw: (K, C, R, S), db (or null): (K) for dy: (N, K, P, Q). Each
// chunk of dy is gathered once (its bias sums on the way), then serves the backward-filter
// GEMM into its group's partial dW and, with dx, the backward-data GEMM into the col buffer
// the filter GEMM has finished with. Chunks as in backward_data; the filter gradient sums over
// groups of consecutive chunks, each into a partial of its own (partial_groups), added in chunk
// order afterwards: the same results for every thread count. (backward_filter is this without
// dx and db.)
template <typename T>
void backward_all(const ConvShape& sh, const T* dy, const T* x, const T* w, T* dx, T* dw, T* db) {
  const int64_t crs = sh.crs(), dw_size = sh.k * crs;
  std::vector<double> sums(db != nullptr ? static_cast<std::size_t>(sh.n * sh.k) : 0);
  double* sums_out = db != nullptr ? sums.data() : nullptr;
  if (sh.is_pointwise()) {
    // dy_n is already (K, P·Q): no gather. Groups of images, each summing its images' products
    // into its partial in image order (beta = 1 after the first).
    const Chunking ch = even_chunks(sh.n, sh.n);
    const Chunking grp = partial_groups<T>(ch.count, dw_size);
    std::unique_ptr<T[]> partial = grp.count > 1 ? workspace<T>(grp.count * dw_size) : nullptr;
    parallel_items(grp.count, kNoState, [&](int64_t gi, int) {
      T* out = grp.count > 1 ? partial.get() + gi * dw_size : dw;
      const int64_t n0 = gi * grp.size * ch.size, n1 = std::min(sh.n, n0 + grp.size * ch.size);
      for (int64_t n = n0; n < n1; ++n) {
        const T* dyn = dy + n * sh.k * sh.pq();
        cpu_gemm(false, true, sh.k, sh.c, sh.pq(), T(1), dyn, sh.pq(), x + n * sh.c * sh.hw(), sh.hw(),
                 n == n0 ? T(0) : T(1), out, sh.c);
        if (dx != nullptr) {
          cpu_gemm(true, false, sh.c, sh.hw(), sh.k, T(1), w, sh.c, dyn, sh.pq(), T(0), dx + n * sh.c * sh.hw(), sh.hw());
        }
        if (sums_out != nullptr) {
          for (int64_t k = 0; k < sh.k; ++k) sums_out[n * sh.k + k] = row_sum(dyn + k * sh.pq(), sh.pq());
        }
      }
    });
    if (grp.count > 1) sum_partials(partial.get(), grp.count, dw_size, dw);
    if (db != nullptr) bias_from_sums(sh, sums, db);
    return;
  }
  const Chunking ch = im2col_chunks<T>(sh);
  const Chunking grp = partial_groups<T>(ch.count, dw_size);
  const TapRanges taps = tap_ranges(sh);
  std::unique_ptr<T[]> partial = grp.count > 1 ? workspace<T>(grp.count * dw_size) : nullptr;
  parallel_items(grp.count, chunk_buffers<T>(sh, ch), [&](int64_t gi, ChunkBuffers<T>& buf) {
    T* out = grp.count > 1 ? partial.get() + gi * dw_size : dw;
    const int64_t first = gi * grp.size, last = std::min(ch.count, first + grp.size);
    for (int64_t i = first; i < last; ++i) {
      const int64_t n0 = i * ch.size, nb = std::min(ch.size, sh.n - n0), cols = nb * sh.pq();
      nchw_to_gemm_summing(sh, dy, n0, nb, buf.g.get(), sums_out);
      im2col(sh, taps, x, n0, nb, buf.col.get());
      cpu_gemm(false, true, sh.k, crs, cols, T(1), buf.g.get(), cols, buf.col.get(), cols, i == first ? T(0) : T(1),
               out, crs);
      if (dx != nullptr) {
        cpu_gemm(true, false, crs, cols, sh.k, T(1), w, crs, buf.g.get(), cols, T(0), buf.col.get(), cols);
        col2im(sh, taps, buf.col.get(), n0, nb, dx);
      }
    }
  });
  if (grp.count > 1) sum_partials(partial.get(), grp.count, dw_size, dw);
  if (db != nullptr) bias_from_sums(sh, sums, db);
}

// dw: (K, C, R, S) = Σ_n dy_n: (K, P·Q) · col(x_n)ᵀ: backward_all without dx and db.
template <typename T>
void backward_filter(const ConvShape& sh, const T* dy, const T* x, T* dw) {
  backward_all(sh, dy, x, static_cast<const T*>(nullptr), static_cast<T*>(nullptr), dw, static_cast<T*>(nullptr));
}

// ry: (N, K, P, Q) = W ⋆ rx + V ⋆ x + vb; rx (or null): (N, C, H, W), vb (or null): (K).
// Each chunk unfolds rx and x into one stacked col (2·C·R·S, chunk·P·Q) and multiplies it by
// wv = [W V] (K, 2·C·R·S) in one GEMM; the chunks are sized for the stacked col.
template <typename T>
void jvp(const ConvShape& sh, const T* x, const T* w, const T* rx, const T* v, const T* vb, T* ry) {
  const Epilogue<T> bias{vb, false};
  if (rx == nullptr) return forward(sh, x, v, ry, bias);
  if (sh.is_pointwise()) {
    // No unfolding to stack: two GEMMs into the image's outputs, the second adding (beta 1).
    parallel_items(sh.n, kNoState, [&](int64_t n, int) {
      T* yn = ry + n * sh.k * sh.pq();
      cpu_gemm(false, false, sh.k, sh.pq(), sh.c, T(1), w, sh.c, rx + n * sh.c * sh.hw(), sh.hw(), T(0), yn, sh.pq());
      cpu_gemm(false, false, sh.k, sh.pq(), sh.c, T(1), v, sh.c, x + n * sh.c * sh.hw(), sh.hw(), T(1), yn, sh.pq());
      if (!bias.none()) epilogue_in_place(sh, bias, yn);
    });
    return;
  }
  const int64_t crs = sh.crs();
  std::unique_ptr<T[]> wv = workspace<T>(sh.k * 2 * crs);
  for (int64_t k = 0; k < sh.k; ++k) {
    std::copy(w + k * crs, w + (k + 1) * crs, wv.get() + k * 2 * crs);
    std::copy(v + k * crs, v + (k + 1) * crs, wv.get() + k * 2 * crs + crs);
  }
  ConvShape stacked = sh;  // the stacked col has the rows of 2·C channels
  stacked.c = 2 * sh.c;
  const Chunking ch = im2col_chunks<T>(stacked);
  const TapRanges taps = tap_ranges(sh);
  parallel_items(ch.count, chunk_buffers<T>(stacked, ch), [&](int64_t i, ChunkBuffers<T>& buf) {
    const int64_t n0 = i * ch.size, nb = std::min(ch.size, sh.n - n0), cols = nb * sh.pq();
    im2col(sh, taps, rx, n0, nb, buf.col.get());
    im2col(sh, taps, x, n0, nb, buf.col.get() + crs * cols);
    cpu_gemm(false, false, sh.k, cols, 2 * crs, T(1), wv.get(), 2 * crs, buf.col.get(), cols, T(0), buf.g.get(), cols);
    gemm_to_nchw(sh, buf.g.get(), n0, nb, ry, bias);
  });
}

OneDnnConvShape onednn_shape(const ConvShape& sh) {
  return OneDnnConvShape{sh.n, sh.c, sh.h, sh.w, sh.k, sh.r, sh.s, sh.p, sh.q, sh.stride_h, sh.stride_w, sh.pad_h, sh.pad_w};
}

// db (K) = Σ dy over images and positions: the sums of backward_all, for the oneDNN path.
template <typename T>
void bias_gradient(const ConvShape& sh, const T* dy, T* db) {
  std::vector<double> sums(static_cast<std::size_t>(sh.n * sh.k));
  parallel_for(sh.n * sh.k, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) sums[static_cast<std::size_t>(i)] = row_sum(dy + i * sh.pq(), sh.pq());
  });
  bias_from_sums(sh, sums, db);
}

// Note [fused conv passes through oneDNN]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// In float32 with oneDNN in use (onednn_conv.h) the fused passes keep their single pass over
// memory there: conv2dRelu is one oneDNN convolution with the bias and a ReLU post-op;
// conv2dBackward is oneDNN's backward weights then backward data (oneDNN reads dy in its own
// layout, so there is no gather to share), the bias gradient summed in double as backward_all
// does (oneDNN's diff_bias sums in float32, in an order of its choosing); conv2dJvp is V ⋆ x (+ vb)
// then W ⋆ rx added by a sum post-op, with no add pass. Elsewhere the im2col path above.

// y: (N, K, P, Q) = relu(x ⋆ w + b); b (K) or null.
void conv2d_relu(Backend&, Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p) {
  const ConvShape sh = conv_shape(x, w, y, p);
  if (x.dtype() == DType::F32 && onednn_conv_forward(onednn_shape(sh), x.data<float>(), w.data<float>(),
                                                     b != nullptr ? b->data<float>() : nullptr, true, false,
                                                     y.data<float>())) {
    return;
  }
  dispatch_floating(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    forward(sh, x.data<T>(), w.data<T>(), y.data<T>(), Epilogue<T>{b != nullptr ? b->data<T>() : nullptr, true});
  });
}

// dx (or null): (N, C, H, W), dw: (K, C, R, S), db (or null): (K); dy: (N, K, P, Q).
void conv2d_backward_all(Backend&, Tensor* dx, Tensor& dw, Tensor* db, const Tensor& dy, const Tensor& x,
                         const Tensor& w, const Conv2dParams& p) {
  const ConvShape sh = conv_shape(x, w, dy, p);
  if (dy.dtype() == DType::F32 &&
      onednn_conv_backward_filter(onednn_shape(sh), dy.data<float>(), x.data<float>(), dw.data<float>())) {
    if (dx != nullptr &&
        !onednn_conv_backward_data(onednn_shape(sh), dy.data<float>(), w.data<float>(), dx->data<float>())) {
      backward_data(sh, dy.data<float>(), w.data<float>(), dx->data<float>());
    }
    if (db != nullptr) bias_gradient(sh, dy.data<float>(), db->data<float>());
    return;
  }
  dispatch_floating(dy.dtype(), [&](auto zero) {
    using T = decltype(zero);
    backward_all(sh, dy.data<T>(), x.data<T>(), w.data<T>(), dx != nullptr ? dx->data<T>() : nullptr, dw.data<T>(),
                 db != nullptr ? db->data<T>() : nullptr);
  });
}

// ry: (N, K, P, Q); x, rx (or null): (N, C, H, W); w, v: (K, C, R, S); vb (or null): (K).
void conv2d_jvp(Backend&, Tensor& ry, const Tensor& x, const Tensor& w, const Tensor* rx, const Tensor& v,
                const Tensor* vb, const Conv2dParams& p) {
  const ConvShape sh = conv_shape(x, w, ry, p);
  if (x.dtype() == DType::F32 &&
      onednn_conv_forward(onednn_shape(sh), x.data<float>(), v.data<float>(), vb != nullptr ? vb->data<float>() : nullptr,
                          false, false, ry.data<float>()) &&
      (rx == nullptr || onednn_conv_forward(onednn_shape(sh), rx->data<float>(), w.data<float>(), nullptr, false, true,
                                            ry.data<float>()))) {
    return;
  }
  // Without oneDNN (or, in principle, with a second call it refused after the first: ry is
  // then recomputed whole).
  dispatch_floating(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    jvp(sh, x.data<T>(), w.data<T>(), rx != nullptr ? rx->data<T>() : nullptr, v.data<T>(),
        vb != nullptr ? vb->data<T>() : nullptr, ry.data<T>());
  });
}

// float32 runs through oneDNN when it is in use (onednn_conv.h), with the bias in its output
// write; otherwise, and for float64, the im2col path above and then the BiasAdd kernel.
// y: (N, K, P, Q), x: (N, C, H, W), w: (K, C, R, S), b: (K) or null
void conv2d_forward(Backend& backend, Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b,
                    const Conv2dParams& p) {
  const ConvShape sh = conv_shape(x, w, y, p);
  if (x.dtype() == DType::F32) {
    const float* bias = b != nullptr ? b->data<float>() : nullptr;
    if (onednn_conv_forward(onednn_shape(sh), x.data<float>(), w.data<float>(), bias, false, false, y.data<float>())) {
      return;
    }
    forward(sh, x.data<float>(), w.data<float>(), y.data<float>());
  } else {
    forward(sh, x.data<double>(), w.data<double>(), y.data<double>());
  }
  if (b != nullptr) backend.kernels().find<ops::BiasAdd>(y.dtype())(backend, y, y, *b);
}

// dx: (N, C, H, W), dy: (N, K, P, Q), w: (K, C, R, S)
void conv2d_backward_data(Backend&, Tensor& dx, const Tensor& dy, const Tensor& w, const Conv2dParams& p) {
  const ConvShape sh = conv_shape(dx, w, dy, p);
  if (dy.dtype() == DType::F32) {
    if (onednn_conv_backward_data(onednn_shape(sh), dy.data<float>(), w.data<float>(), dx.data<float>())) return;
    return backward_data(sh, dy.data<float>(), w.data<float>(), dx.data<float>());
  }
  backward_data(sh, dy.data<double>(), w.data<double>(), dx.data<double>());
}

// dw: (K, C, R, S), dy: (N, K, P, Q), x: (N, C, H, W)
void conv2d_backward_filter(Backend&, Tensor& dw, const Tensor& dy, const Tensor& x, const Conv2dParams& p) {
  const ConvShape sh = conv_shape(x, dw, dy, p);
  if (dy.dtype() == DType::F32) {
    if (onednn_conv_backward_filter(onednn_shape(sh), dy.data<float>(), x.data<float>(), dw.data<float>())) {
      return;
    }
    return backward_filter(sh, dy.data<float>(), x.data<float>(), dw.data<float>());
  }
  backward_filter(sh, dy.data<double>(), x.data<double>(), dw.data<double>());
}

}  // namespace

void register_conv_kernels(KernelTable& table) {
  table.add<ops::Conv2d>(kFloatingTypes, conv2d_forward);
  table.add<ops::Conv2dBackwardData>(kFloatingTypes, conv2d_backward_data);
  table.add<ops::Conv2dBackwardFilter>(kFloatingTypes, conv2d_backward_filter);
  table.add<ops::Conv2dRelu>(kFloatingTypes, conv2d_relu);
  table.add<ops::Conv2dBackward>(kFloatingTypes, conv2d_backward_all);
  table.add<ops::Conv2dJvp>(kFloatingTypes, conv2d_jvp);
}

}  // namespace newton
