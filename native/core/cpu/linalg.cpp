// GEMM for the CPU backend: the linked CBLAS when there is one (single-threaded, large
// GEMMs split over our pool: note [blocked BLAS]), else (or on request) a built-in blocked
// kernel in the GotoBLAS style.
//
// Note [built-in GEMM]
// ~~~~~~~~~~~~~~~~~~~~
// C is cut into column blocks of NC, K into blocks of KC and, inside those, A into row
// blocks of MC. Each (KC × NC) block of op(B) is packed into NR-wide column panels and each
// (MC × KC) block of op(A) into MR-tall row panels, both zero-padded to whole panels, so
// the micro-kernel reads two unit-stride streams whatever the transposes and leading
// dimensions are, and never needs an edge case. The micro-kernel keeps an MR × NR tile of
// C in registers; it is written as plain loops over a local array with compile-time
// bounds, which GCC/Clang -O3 unroll and vectorise (SSE2 at least) without intrinsics.
//
// Work is split between threads along N (or M when it has more panels); each task packs
// its own copy of the other operand. Every element of C sees the same sequence of
// floating-point operations whichever task computes it (the K blocking depends only on
// K), so results do not depend on the thread count.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>

#include "../error.h"
#include "../parallel.h"
#include "../ops/linalg.h"
#include "cpu_backend.h"

#if defined(NEWTON_HAVE_CBLAS)
#include <cblas.h>
#endif

#ifndef NEWTON_BLAS_NAME
#define NEWTON_BLAS_NAME "built-in"
#endif

namespace newton {

namespace {

#if defined(NEWTON_HAVE_CBLAS)
constexpr bool kHaveBlas = true;
#else
constexpr bool kHaveBlas = false;
#endif

// Which GEMM cpu_gemm uses: the one piece of global mutable state of the CPU backend,
// atomic because setGemmImplementation may race with a running op.
std::atomic<int> g_gemm_impl{static_cast<int>(kHaveBlas ? GemmImpl::Blas : GemmImpl::Builtin)};

// Register tile and cache blocks. The MR × NR accumulator tile must stay in the 16 vector
// registers of baseline x86-64 (SSE2) next to one row of B: 4 × 8 floats or 4 × 4 doubles
// (8 registers). These shapes are the ones GCC -O3 turns into clean broadcast-multiply-add
// code; taller tiles made it spill the accumulators (measured: 6 × 8 floats ran at a
// quarter of the speed of 4 × 8). An MC × KC block of A fills about half of a 256 KiB L2.
template <typename T>
struct Blocking;
template <>
struct Blocking<float> {
  static constexpr int64_t kMR = 4, kNR = 8, kKC = 256, kMC = 128, kNC = 2048;
};
template <>
struct Blocking<double> {
  static constexpr int64_t kMR = 4, kNR = 4, kKC = 256, kMC = 64, kNC = 1024;
};

// Reads op(A)(i, p) / op(B)(p, j) for any transpose and leading dimension.
template <typename T>
struct Matrix {
  const T* data;
  int64_t ld;
  bool trans;
  T at(int64_t row, int64_t col) const { return trans ? data[col * ld + row] : data[row * ld + col]; }
};

// Packs rows [i0, i0+mc) × cols [p0, p0+kc) of op(A) into MR-tall panels, p-major inside
// each panel (panel[p·MR + i]); rows past mc are zero.
template <typename T>
void pack_a(const Matrix<T>& a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* out) {
  constexpr int64_t MR = Blocking<T>::kMR;
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t mr = std::min(MR, mc - ir);
    T* panel = out + ir * kc;
    if (!a.trans) {
      // Row-major A: walk each source row contiguously.
      for (int64_t i = 0; i < mr; ++i) {
        const T* src = a.data + (i0 + ir + i) * a.ld + p0;
        for (int64_t p = 0; p < kc; ++p) panel[p * MR + i] = src[p];
      }
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        const T* src = a.data + (p0 + p) * a.ld + i0 + ir;
        for (int64_t i = 0; i < mr; ++i) panel[p * MR + i] = src[i];
      }
    }
    for (int64_t i = mr; i < MR; ++i) {
      for (int64_t p = 0; p < kc; ++p) panel[p * MR + i] = T(0);
    }
  }
}

// Packs rows [p0, p0+kc) × cols [j0, j0+nc) of op(B) into NR-wide panels
// (panel[p·NR + j]); columns past nc are zero.
template <typename T>
void pack_b(const Matrix<T>& b, int64_t p0, int64_t kc, int64_t j0, int64_t nc, T* out) {
  constexpr int64_t NR = Blocking<T>::kNR;
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = std::min(NR, nc - jr);
    T* panel = out + jr * kc;
    if (!b.trans) {
      for (int64_t p = 0; p < kc; ++p) {
        const T* src = b.data + (p0 + p) * b.ld + j0 + jr;
        T* dst = panel + p * NR;
        for (int64_t j = 0; j < nr; ++j) dst[j] = src[j];
        for (int64_t j = nr; j < NR; ++j) dst[j] = T(0);
      }
    } else {
      for (int64_t j = 0; j < nr; ++j) {
        const T* src = b.data + (j0 + jr + j) * b.ld + p0;
        for (int64_t p = 0; p < kc; ++p) panel[p * NR + j] = src[p];
      }
      for (int64_t j = nr; j < NR; ++j) {
        for (int64_t p = 0; p < kc; ++p) panel[p * NR + j] = T(0);
      }
    }
  }
}

// C tile (mr × nr valid of MR × NR) = alpha·Apanel·Bpanel + (accumulate ? C : beta·C).
// Compile-time MR/NR keep `acc` in vector registers.
template <typename T>
void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, T alpha, T beta,
                  bool accumulate, T* __restrict c, int64_t ldc, int64_t mr, int64_t nr) {
  constexpr int64_t MR = Blocking<T>::kMR, NR = Blocking<T>::kNR;
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const T* ap = a + p * MR;
    const T* bp = b + p * NR;
    for (int64_t i = 0; i < MR; ++i) {
      for (int64_t j = 0; j < NR; ++j) acc[i][j] += ap[i] * bp[j];
    }
  }
  for (int64_t i = 0; i < mr; ++i) {
    T* ci = c + i * ldc;
    if (accumulate) {
      for (int64_t j = 0; j < nr; ++j) ci[j] += alpha * acc[i][j];
    } else if (beta == T(0)) {
      // beta == 0 means "overwrite": C may hold NaN or garbage that must not leak in.
      for (int64_t j = 0; j < nr; ++j) ci[j] = alpha * acc[i][j];
    } else {
      for (int64_t j = 0; j < nr; ++j) ci[j] = alpha * acc[i][j] + beta * ci[j];
    }
  }
}

// Computes the sub-problem C[i0:i1, j0:j1] with private packing buffers.
template <typename T>
void gemm_block(const Matrix<T>& a, const Matrix<T>& b, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                int64_t k, T alpha, T beta, T* c, int64_t ldc) {
  constexpr int64_t MR = Blocking<T>::kMR, NR = Blocking<T>::kNR;
  constexpr int64_t KC = Blocking<T>::kKC, MC = Blocking<T>::kMC, NC = Blocking<T>::kNC;
  const int64_t kc_max = std::min(KC, k);
  const int64_t mc_max = std::min(MC, (i1 - i0 + MR - 1) / MR * MR);
  const int64_t nc_max = std::min(NC, (j1 - j0 + NR - 1) / NR * NR);
  std::unique_ptr<T[]> a_pack(new T[mc_max * kc_max]);
  std::unique_ptr<T[]> b_pack(new T[nc_max * kc_max]);

  for (int64_t jc = j0; jc < j1; jc += NC) {
    const int64_t nc = std::min(NC, j1 - jc);
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = std::min(KC, k - pc);
      const bool accumulate = pc > 0;
      pack_b(b, pc, kc, jc, nc, b_pack.get());
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = std::min(MC, i1 - ic);
        pack_a(a, ic, mc, pc, kc, a_pack.get());
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min(NR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min(MR, mc - ir);
            micro_kernel<T>(kc, a_pack.get() + ir * kc, b_pack.get() + jr * kc, alpha, beta, accumulate,
                            c + (ic + ir) * ldc + jc + jr, ldc, mr, nr);
          }
        }
      }
    }
  }
}

// C = beta·C for the degenerate cases (K == 0 or alpha == 0), where BLAS skips A·B.
template <typename T>
void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (beta == T(0)) {
      std::fill(ci, ci + n, T(0));
    } else if (beta != T(1)) {
      for (int64_t j = 0; j < n; ++j) ci[j] *= beta;
    }
  }
}

template <typename T>
void builtin_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                  int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  constexpr int64_t MR = Blocking<T>::kMR, NR = Blocking<T>::kNR;
  const Matrix<T> ma{a, lda, trans_a};
  const Matrix<T> mb{b, ldb, trans_b};
  const int64_t m_panels = (m + MR - 1) / MR;
  const int64_t n_panels = (n + NR - 1) / NR;
  // Below ~64k multiply-adds per task, thread hand-off costs more than it saves.
  const auto grain_for = [&](int64_t panel_flops) {
    return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, panel_flops));
  };
  if (n_panels >= m_panels) {
    parallel_for(n_panels, grain_for(NR * m * k), [&](int64_t begin, int64_t end) {
      gemm_block(ma, mb, 0, m, begin * NR, std::min(n, end * NR), k, alpha, beta, c, ldc);
    });
  } else {
    parallel_for(m_panels, grain_for(MR * n * k), [&](int64_t begin, int64_t end) {
      gemm_block(ma, mb, begin * MR, std::min(m, end * MR), 0, n, k, alpha, beta, c, ldc);
    });
  }
}

#if defined(NEWTON_HAVE_CBLAS)
// CBLAS takes int sizes; larger problems fall back to the built-in kernel.
bool fits_blas_int(std::initializer_list<int64_t> values) {
  for (int64_t v : values) {
    if (v > INT_MAX) return false;
  }
  return true;
}

void blas_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
               int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
              lda, b, ldb, beta, c, ldc);
}
void blas_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
               int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
              lda, b, ldb, beta, c, ldc);
}

// One single-threaded BLAS call. BLAS rejects a leading dimension below the stored row
// length even for a matrix of one row, whose ld is never used as a stride; cpu_gemm accepts
// any ld there.
template <typename T>
void blas_call(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
  blas_gemm(trans_a, trans_b, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
            static_cast<int>(std::max(lda, a_cols)), b, static_cast<int>(std::max(ldb, b_cols)), beta, c,
            static_cast<int>(std::max(ldc, n)));
}

// Note [blocked BLAS]
// ~~~~~~~~~~~~~~~~~~~
// BLAS runs single-threaded (note [single-threaded BLAS] in parallel.cpp), so a large GEMM
// called outside a parallel region is cut into blocks of C that the pool's tasks claim one
// by one (parallel_claim), each block one plain BLAS call on offset pointers. Column blocks need all of op(A)
// and row blocks all of op(B), and each call packs what it needs again, so the split runs
// along the longer side of C: the operand packed again per block is then the smaller one.
// Block widths are multiples of 64 (BLAS kernels' register tiles divide 64) chosen from
// the shapes alone: kBlasBlocks blocks when that keeps them between kBlasMinBlock and
// kBlasMaxBlock wide. Every element of C is therefore computed by the same call sequence
// whatever the thread count. Inside a parallel region (a convolution chunk, say) the pool
// is already busy, so the GEMM is one plain call.
constexpr int64_t kBlasSplitMinWork = int64_t{1} << 21;  // m·n·k below this: one call
constexpr int64_t kBlasBlocks = 16;
constexpr int64_t kBlasMinBlock = 256, kBlasMaxBlock = 1024;

template <typename T>
void blas_gemm_blocked(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                       int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const bool by_columns = n >= m;
  const int64_t len = by_columns ? n : m;
  const int64_t width = std::clamp<int64_t>((len / kBlasBlocks + 63) / 64 * 64, kBlasMinBlock, kBlasMaxBlock);
  const int64_t blocks = (len + width - 1) / width;
  if (blocks < 2 || in_parallel_region() || m * n * k < kBlasSplitMinWork) {
    blas_call(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  parallel_claim(blocks, [] { return 0; }, [&](int64_t blk, int) {
    const int64_t lo = blk * width, size = std::min(width, len - lo);
    if (by_columns) {
      // C[:, lo:lo+size] = op(A) · op(B)[:, lo:lo+size]; op(B) column j is B's row j when B
      // is stored transposed.
      const T* b_blk = trans_b ? b + lo * ldb : b + lo;
      blas_call(trans_a, trans_b, m, size, k, alpha, a, lda, b_blk, ldb, beta, c + lo, ldc);
    } else {
      // C[lo:lo+size, :] = op(A)[lo:lo+size, :] · op(B); op(A) row i is A's column i when A
      // is stored transposed.
      const T* a_blk = trans_a ? a + lo : a + lo * lda;
      blas_call(trans_a, trans_b, size, n, k, alpha, a_blk, lda, b, ldb, beta, c + lo * ldc, ldc);
    }
  });
}
#endif

template <typename T>
void gemm_dispatch(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                   int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == T(0)) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
#if defined(NEWTON_HAVE_CBLAS)
  if (gemm_impl() == GemmImpl::Blas && fits_blas_int({m, n, k, lda, ldb, ldc})) {
    // num_threads() creates the pool, which sets OpenBLAS to one thread, before the first
    // BLAS call.
    (void)num_threads();
    blas_gemm_blocked(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#endif
  builtin_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

bool blas_available() { return kHaveBlas; }

const char* blas_name() { return NEWTON_BLAS_NAME; }

GemmImpl gemm_impl() { return static_cast<GemmImpl>(g_gemm_impl.load(std::memory_order_relaxed)); }

void set_gemm_impl(GemmImpl impl) {
  if (impl == GemmImpl::Blas && !kHaveBlas) {
    throw ValueError("setGemmImplementation: no BLAS in this build (it uses the built-in GEMM)");
  }
  g_gemm_impl.store(static_cast<int>(impl), std::memory_order_relaxed);
}

void cpu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_dispatch(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void cpu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
              int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm_dispatch(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

namespace {

// c: (M, N), a: (M, K) or (K, M) when trans_a, b: (K, N) or (N, K) when trans_b.
void gemm(Backend&, Tensor& c, const Tensor& a, const Tensor& b, const GemmParams& p) {
  const int64_t m = c.dim(0), n = c.dim(1);
  const int64_t k = p.trans_a ? a.dim(0) : a.dim(1);
  const int64_t lda = a.dim(1), ldb = b.dim(1), ldc = n;
  if (c.dtype() == DType::F32) {
    cpu_gemm(p.trans_a, p.trans_b, m, n, k, static_cast<float>(p.alpha), a.data<float>(), lda, b.data<float>(),
             ldb, static_cast<float>(p.beta), c.data<float>(), ldc);
  } else {
    cpu_gemm(p.trans_a, p.trans_b, m, n, k, p.alpha, a.data<double>(), lda, b.data<double>(), ldb, p.beta,
             c.data<double>(), ldc);
  }
}

}  // namespace

void register_linalg_kernels(KernelTable& table) { table.add<ops::Gemm>(kFloatingTypes, gemm); }

}  // namespace newton
