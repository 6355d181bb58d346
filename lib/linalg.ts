/**
 * Dense linear algebra on the host, through LAPACK: the symmetric eigensolver that the
 * curvature-analysis tools use on the dense Hessian of a small model.
 *
 * These are host routines on Float64Arrays, not tensor ops: they run on the CPU whatever
 * device the model lives on. LAPACK comes with OpenBLAS (the build links it when it finds
 * libopenblas-dev); {@link lapackAvailable} says whether this build has it.
 *
 * @packageDocumentation
 */
import { native } from './native';

/** Options of {@link symmetricEigen}. */
export interface SymmetricEigenOptions {
  /** Also compute the eigenvectors (default false: eigenvalues only, faster). */
  vectors?: boolean;
}

/** What {@link symmetricEigen} returns: new arrays, owned by the caller. */
export interface SymmetricEigenResult {
  /** The n eigenvalues, in ascending order. */
  values: Float64Array;
  /**
   * With `vectors: true`: the n×n matrix V of eigenvectors, row-major, **column j** the unit
   * eigenvector of `values[j]`: its i-th entry is `vectors[i * n + j]`. V is orthogonal and
   * A·V = V·diag(values) (the layout of numpy.linalg.eigh). Each eigenvector's sign is fixed:
   * its entry of largest magnitude (the first such one) is positive.
   */
  vectors?: Float64Array;
}

/**
 * Whether this build of the addon linked a LAPACK, so that {@link symmetricEigen} works. It
 * does when OpenBLAS (with its LAPACK, as Debian's and Ubuntu's libopenblas-dev) or another
 * LAPACK was found when the addon was built; `info().lapack` says the same.
 *
 * @example
 * if (!lapackAvailable()) console.warn('no LAPACK: install libopenblas-dev and rebuild');
 */
export function lapackAvailable(): boolean {
  return native().lapackAvailable();
}

// The addon's arrays belong to its realm; under jest (or in a vm context) the caller's realm
// has another Float64Array: give the caller a view of its own on the same memory.
function ownRealm(a: Float64Array): Float64Array {
  if (a instanceof Float64Array) return a;
  const foreign: ArrayBufferView & { length: number } = a;
  return new Float64Array(foreign.buffer, foreign.byteOffset, foreign.length);
}

/**
 * Every eigenvalue (ascending), and with `vectors: true` every eigenvector, of the symmetric
 * n×n matrix `a`, given row-major in a Float64Array of n·n numbers (a symmetric matrix reads
 * the same row- or column-major). LAPACK's divide-and-conquer solver, dsyevd, in float64.
 *
 * What is decomposed is the symmetric part (A + Aᵀ)/2: both triangles are read, so the
 * round-off asymmetry of a Hessian built from Hessian-vector products does not matter, and a
 * symmetric matrix is used exactly as given. `a` is only read.
 *
 * Synchronous, on the calling thread, O(n³): meant for n up to a few thousand (n = 2000: about
 * 0.6 s without and 1.2 s with eigenvectors, on one core). The solver runs with getNumThreads()
 * OpenBLAS threads for the length of the call; the results are the same from call to call, and
 * between thread counts they may differ by round-off.
 *
 * Errors: TypeError when `a` is not a Float64Array, `n` not a number or `options.vectors` not
 * a boolean; RangeError when n is not a non-negative integer, when `a.length` is not n·n,
 * when `a` holds a NaN or an infinity (the message names its row and column), or when n is
 * beyond LAPACK's 32-bit integers (n > 46340; with eigenvectors n > 32766); Error when the
 * build has no LAPACK (see {@link lapackAvailable}: install libopenblas-dev and rebuild the
 * addon with `npm run build:native -- --clean`) or when LAPACK fails to converge.
 *
 * @example
 * // [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, -1)/√2 and (1, 1)/√2
 * const { values, vectors } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2, { vectors: true });
 * values;                            // Float64Array [1, 3]
 * const n = 2, j = 1;
 * const v1 = [vectors[0 * n + j], vectors[1 * n + j]]; // ≈ [0.7071, 0.7071]: column j is the eigenvector of values[j]
 *
 * @example
 * // The spectrum of a dense Hessian h (n·n, row-major), eigenvalues only:
 * const { values } = symmetricEigen(h, n);
 * const [smallest, largest] = [values[0], values[n - 1]];
 */
export function symmetricEigen(a: Float64Array, n: number, options: SymmetricEigenOptions & { vectors: true }): SymmetricEigenResult & { vectors: Float64Array };
export function symmetricEigen(a: Float64Array, n: number, options?: SymmetricEigenOptions): SymmetricEigenResult;
export function symmetricEigen(a: Float64Array, n: number, options?: SymmetricEigenOptions): SymmetricEigenResult {
  const r = native().symmetricEigen(a, n, options);
  const result: SymmetricEigenResult = { values: ownRealm(r.values) };
  if (r.vectors !== undefined) result.vectors = ownRealm(r.vectors);
  return result;
}
