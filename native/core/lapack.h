// Dense host linear algebra through LAPACK: the symmetric eigensolver the curvature-analysis
// tools need (all eigenvalues, and optionally eigenvectors, of a dense float64 Hessian of a
// small model). A host routine on plain double arrays, not an op of the op table: it runs on
// the host whatever device the model lives on.
//
// LAPACK comes from the BLAS library when it provides it (OpenBLAS does), else from a separate
// LAPACK library; the build defines NEWTON_HAVE_LAPACK when it found one (CMakeLists.txt,
// binding.gyp). Without it the functions still exist: lapack_available() is false and
// symmetric_eigen throws newton::Error saying how to get a build that has it.
#pragma once

#include <cstddef>

namespace newton {

// Whether this build linked a LAPACK (so that symmetric_eigen works).
bool lapack_available();

// Note [symmetric eigen]
// ~~~~~~~~~~~~~~~~~~~~~~
// Every eigenvalue, and optionally every eigenvector, of the symmetric n×n matrix `a`
// (n·n doubles, row-major; a symmetric matrix is its own transpose, so row- and column-major
// read the same). LAPACK's dsyevd (divide and conquer): a workspace query (lwork = -1), then
// the call.
//
//   values       n doubles: the eigenvalues in ascending order.
//   vectors_out  when `vectors`: n·n doubles, row-major, column j (vectors_out[i·n + j],
//                i = 0 … n-1) the unit eigenvector of values[j]; V is orthogonal and
//                A·V = V·diag(values). Each eigenvector's sign is fixed so that its entry of
//                largest magnitude (the first such one) is positive. May be `a` itself.
//                Ignored (may be null) when !vectors.
//
// What is decomposed is the symmetric part (A + Aᵀ)/2: both triangles are read, so the
// round-off asymmetry of a numerically built Hessian does not matter, and a symmetric input
// is used exactly as given. Errors, in this order (the first three before anything is written):
//   Error        no LAPACK in this build (lapack_available() is false): says how to get one
//   ValueError   n·n above INT_MAX (LAPACK's integers are 32-bit here: n ≤ 46340), or with
//                vectors a workspace of 1 + 6n + 2n² doubles above INT_MAX (n ≤ 32766)
//   ValueError   a non-finite entry: "symmetricEigen: a has a non-finite entry NaN at row 3,
//                column 7 (index 31); the matrix must be finite"
//   OutOfMemoryError  the copy or the workspace cannot be allocated
//   Error        dsyevd failed (info > 0: it did not converge; info < 0: a bad argument, a bug)
// Synchronous, on the calling thread; O(n³) (n = 2000: about 0.6 s without and 1.2 s with
// eigenvectors on one core). Threads: dsyevd runs with num_threads() OpenBLAS threads when
// LAPACK comes from OpenBLAS (otherwise kept single-threaded: note [single-threaded BLAS] in
// parallel.cpp), and set back to one after it. The results are the same from call to call at
// one thread count; between thread counts they may differ by round-off (~1e-14 relative).
void symmetric_eigen(const double* a, std::size_t n, bool vectors, double* values, double* vectors_out);

// The checks of symmetric_eigen that do not read the matrix (the first two above): callers
// that allocate the outputs run them first, so that a refused call allocates nothing.
void check_symmetric_eigen(std::size_t n, bool vectors);

}  // namespace newton
