// The symmetric eigensolver through LAPACK's dsyevd: note [symmetric eigen] in lapack.h.
#include "lapack.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <new>
#include <vector>

#include "error.h"
#include "parallel.h"

#if defined(NEWTON_HAVE_LAPACK)
// The Fortran interface (no LAPACKE header needed): every argument by pointer, 32-bit LAPACK
// integers, and the lengths of the two character arguments passed last, as gfortran expects
// (a LAPACK translated to C ignores them).
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info,
                        std::size_t jobz_len, std::size_t uplo_len);
#if defined(NEWTON_HAVE_OPENBLAS)
extern "C" void openblas_set_num_threads(int);
#endif
#endif

namespace newton {

namespace {

constexpr const char* kOp = "symmetricEigen";

#if defined(NEWTON_HAVE_LAPACK)

// A buffer of `count` doubles, or OutOfMemoryError naming what it was for.
std::vector<double> allocate_doubles(std::size_t count, const char* what) {
  try {
    return std::vector<double>(count);
  } catch (const std::bad_alloc&) {
    fail<OutOfMemoryError>(kOp, ": out of memory allocating ", count * sizeof(double), " bytes for ", what);
  } catch (const std::length_error&) {
    fail<OutOfMemoryError>(kOp, ": out of memory allocating ", count, " doubles for ", what);
  }
}

std::vector<int> allocate_ints(std::size_t count, const char* what) {
  try {
    return std::vector<int>(count);
  } catch (const std::bad_alloc&) {
    fail<OutOfMemoryError>(kOp, ": out of memory allocating ", count * sizeof(int), " bytes for ", what);
  } catch (const std::length_error&) {
    fail<OutOfMemoryError>(kOp, ": out of memory allocating ", count, " ints for ", what);
  }
}

// x where a[i][j] == a[j][i] (a symmetric input is used exactly), else their mean, written
// so that it cannot overflow.
inline double symmetric_part(double x, double y) { return x == y ? x : 0.5 * x + 0.5 * y; }

constexpr std::size_t kBlock = 64;

// w = (a + aᵀ)/2, n×n; w may be a. Blocked so that both a[i][j] and a[j][i] stay in cache.
void copy_symmetric_part(const double* a, std::size_t n, double* w) {
  for (std::size_t ib = 0; ib < n; ib += kBlock) {
    const std::size_t ie = std::min(n, ib + kBlock);
    for (std::size_t jb = ib; jb < n; jb += kBlock) {
      const std::size_t je = std::min(n, jb + kBlock);
      for (std::size_t i = ib; i < ie; ++i) {
        for (std::size_t j = std::max(jb, i); j < je; ++j) {
          const double s = symmetric_part(a[i * n + j], a[j * n + i]);
          w[i * n + j] = s;
          w[j * n + i] = s;
        }
      }
    }
  }
}

// In-place transpose of the n×n matrix m.
void transpose_in_place(double* m, std::size_t n) {
  for (std::size_t ib = 0; ib < n; ib += kBlock) {
    const std::size_t ie = std::min(n, ib + kBlock);
    for (std::size_t jb = ib; jb < n; jb += kBlock) {
      const std::size_t je = std::min(n, jb + kBlock);
      for (std::size_t i = ib; i < ie; ++i) {
        for (std::size_t j = std::max(jb, i + 1); j < je; ++j) std::swap(m[i * n + j], m[j * n + i]);
      }
    }
  }
}

// Column-major eigenvectors (vector j contiguous at v + j·n): each one's entry of largest
// magnitude (the first such) made positive.
void fix_signs(double* v, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    double* col = v + j * n;
    std::size_t at = 0;
    for (std::size_t i = 1; i < n; ++i) {
      if (std::fabs(col[i]) > std::fabs(col[at])) at = i;
    }
    if (col[at] < 0) {
      for (std::size_t i = 0; i < n; ++i) col[i] = -col[i];
    }
  }
}

#if defined(NEWTON_HAVE_OPENBLAS)
// OpenBLAS is kept single-threaded (note [single-threaded BLAS] in parallel.cpp), which suits
// the many small GEMMs of training; one large dsyevd is best left to OpenBLAS's own threads,
// for the length of the call.
class OpenBlasThreads {
 public:
  explicit OpenBlasThreads(int n) { openblas_set_num_threads(n); }
  ~OpenBlasThreads() { openblas_set_num_threads(1); }
  OpenBlasThreads(const OpenBlasThreads&) = delete;
  OpenBlasThreads& operator=(const OpenBlasThreads&) = delete;
};
#endif

#endif  // NEWTON_HAVE_LAPACK

}  // namespace

#if defined(NEWTON_HAVE_LAPACK)

bool lapack_available() { return true; }

void check_symmetric_eigen(std::size_t n, bool vectors) {
  // LAPACK's integers are 32-bit: the matrix (lda·n) and the workspace must count below INT_MAX.
  const uint64_t n64 = n;
  if (n64 > 46340) {
    fail<ValueError>(kOp, ": n = ", n, " is too large: n·n exceeds ", INT_MAX,
                     ", the limit of LAPACK's 32-bit integers (n must be at most 46340)");
  }
  if (vectors && 1 + 6 * n64 + 2 * n64 * n64 > static_cast<uint64_t>(INT_MAX)) {
    fail<ValueError>(kOp, ": n = ", n, " is too large with eigenvectors: dsyevd's workspace of 1 + 6n + 2n² = ",
                     1 + 6 * n64 + 2 * n64 * n64, " doubles exceeds ", INT_MAX,
                     ", the limit of LAPACK's 32-bit integers (n must be at most 32766)");
  }
}

void symmetric_eigen(const double* a, std::size_t n, bool vectors, double* values, double* vectors_out) {
  check_symmetric_eigen(n, vectors);
  const std::size_t nn = n * n;
  const uint64_t lwork_min = vectors ? 1 + 6 * static_cast<uint64_t>(n) + 2 * static_cast<uint64_t>(nn)
                                     : 2 * static_cast<uint64_t>(n) + 1;
  for (std::size_t k = 0; k < nn; ++k) {
    if (!std::isfinite(a[k])) {
      fail<ValueError>(kOp, ": a has a non-finite entry ", a[k], " at row ", k / n, ", column ", k % n, " (index ", k,
                       "); the matrix must be finite");
    }
  }
  if (n == 0) return;

  // dsyevd overwrites its matrix with the eigenvectors: work in vectors_out when they are
  // wanted (then transposed in place), else in a copy.
  std::vector<double> scratch;
  double* w = vectors_out;
  if (!vectors) {
    scratch = allocate_doubles(nn, "a copy of the matrix");
    w = scratch.data();
  }
  // Symmetric, so the row-major copy is also the column-major matrix LAPACK reads.
  copy_symmetric_part(a, n, w);

  const char jobz = vectors ? 'V' : 'N';
  const char uplo = 'L';
  const int n_int = static_cast<int>(n);
  int info = 0;
  {
#if defined(NEWTON_HAVE_OPENBLAS)
    OpenBlasThreads threads(num_threads());
#endif
    // Workspace query.
    double work_query = 0;
    int iwork_query = 0;
    const int query = -1;
    dsyevd_(&jobz, &uplo, &n_int, w, &n_int, values, &work_query, &query, &iwork_query, &query, &info, 1, 1);
    if (info != 0) {
      fail<Error>(kOp, ": LAPACK dsyevd's workspace query failed (info = ", info, ", n = ", n, ")");
    }
    const double lwork_d = std::max(work_query, static_cast<double>(lwork_min));
    if (!(lwork_d <= static_cast<double>(INT_MAX)) || iwork_query < 0) {
      fail<ValueError>(kOp, ": n = ", n, " is too large: dsyevd asks for a workspace of ", lwork_d,
                       " doubles, above LAPACK's 32-bit integer limit");
    }
    const int lwork = static_cast<int>(lwork_d);
    const int liwork = std::max(iwork_query, vectors ? 3 + 5 * n_int : 1);
    std::vector<double> work = allocate_doubles(static_cast<std::size_t>(lwork), "dsyevd's workspace");
    std::vector<int> iwork = allocate_ints(static_cast<std::size_t>(liwork), "dsyevd's integer workspace");
    dsyevd_(&jobz, &uplo, &n_int, w, &n_int, values, work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
  }
  if (info > 0) {
    if (vectors) {
      fail<Error>(kOp, ": LAPACK dsyevd failed to converge (info = ", info,
                  ": no eigenvalue could be computed for the submatrix in rows and columns ", info / (n_int + 1), " to ",
                  info % (n_int + 1), ", counted from 1)");
    }
    fail<Error>(kOp, ": LAPACK dsyevd failed to converge (info = ", info, ": ", info,
                " off-diagonal elements of the intermediate tridiagonal form did not converge to zero)");
  }
  if (info < 0) {
    fail<Error>(kOp, ": LAPACK dsyevd rejected its argument ", -info, " (info = ", info,
                "): an internal error of newton-cnn, please report it");
  }
  if (vectors) {
    fix_signs(w, n);             // column-major: eigenvector j at w + j·n
    transpose_in_place(w, n);    // row-major: eigenvector j in column j
  }
}

#else  // no LAPACK in this build

bool lapack_available() { return false; }

void check_symmetric_eigen(std::size_t, bool) {
  fail<Error>(kOp,
              ": LAPACK is not available in this build (no OpenBLAS or other LAPACK was found when the addon was built, "
              "or it was configured with NEWTON_USE_BLAS=OFF or, for node-gyp, use_blas/use_lapack=false): on Debian/Ubuntu install libopenblas-dev (Fedora: "
              "openblas-devel, macOS: brew install openblas) and rebuild the addon with `npm run build:native -- "
              "--clean`; lapackAvailable() says whether a build has it");
}

void symmetric_eigen(const double*, std::size_t n, bool vectors, double*, double*) { check_symmetric_eigen(n, vectors); }

#endif

}  // namespace newton
