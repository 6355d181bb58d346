// The dense path for small problems: the matrix of a SymmetricOperator built column by column
// (n products), all its eigenvalues from LAPACK's symmetric eigensolver (lib/linalg.ts), and the
// statistics the papers plot: condition numbers, the 10th percentile of |λ|, the fraction of
// negative eigenvalues.
import { symmetricEigen } from '../linalg';
import { fill } from '../ops';
import { Tensor } from '../tensor';
import type { SymmetricOperator } from './operator';

/** Options of denseMatrix() and denseSpectrum(). */
export interface DenseOptions {
  /** Refuse operators larger than this (default 4096: a 128 MiB matrix and 4096 products). */
  maxDimension?: number;
  /** Called after each column. */
  onColumn?: (done: number, total: number) => void;
}

/** A dense matrix of an operator. */
export interface DenseMatrix {
  /** n×n, row-major, float64, symmetrised ((A + Aᵀ)/2). */
  readonly matrix: Float64Array;
  readonly n: number;
  /** ‖A − Aᵀ‖_F / ‖A‖_F before symmetrising: rounding in the products (or a bug) shows here. */
  readonly asymmetry: number;
  readonly products: number;
  readonly seconds: number;
}

/** The operator's matrix, column j = A e_j. */
export function denseMatrix(op: SymmetricOperator, options?: DenseOptions): DenseMatrix {
  const fn = 'denseMatrix';
  const n = op.dimension;
  const max = options?.maxDimension ?? 4096;
  if (typeof max !== 'number' || !(max >= 1)) throw new RangeError(`${fn}: options.maxDimension must be a number ≥ 1, got ${String(max)}`);
  if (n > max) {
    throw new RangeError(`${fn}: the operator has dimension ${n} > options.maxDimension = ${max} (the dense matrix needs ${n} products and ${((n * n * 8) / 2 ** 20).toFixed(1)} MiB); use lanczos() or restrict the parameters`);
  }
  const start = performance.now();
  const p0 = op.products;
  const a = new Float64Array(n * n);
  const e = Tensor.zeros([n], { dtype: op.dtype, device: op.device });
  try {
    for (let j = 0; j < n; j++) {
      const one = e.view(j, [1]);
      fill(one, 1);
      const col = op.apply(e);
      fill(one, 0);
      one.dispose();
      const c = col.toArray();
      col.dispose();
      for (let i = 0; i < n; i++) a[i * n + j] = c[i];
      options?.onColumn?.(j + 1, n);
    }
  } finally {
    e.dispose();
  }
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const x = a[i * n + j];
      norm += x * x;
      if (j > i) {
        const y = a[j * n + i];
        diff += 2 * (x - y) * (x - y);
        a[i * n + j] = a[j * n + i] = 0.5 * (x + y);
      }
    }
  }
  return { matrix: a, n, asymmetry: norm > 0 ? Math.sqrt(diff / norm) : 0, products: op.products - p0, seconds: (performance.now() - start) / 1000 };
}

/** Every eigenvalue (ascending) of a small operator, through its dense matrix and LAPACK. */
export interface DenseSpectrum {
  readonly values: Float64Array;
  /** Row-major n×n, column j the eigenvector of values[j] (when asked for). */
  readonly vectors?: Float64Array;
  readonly asymmetry: number;
  readonly products: number;
  readonly seconds: number;
}

/** All eigenvalues of `op` (and eigenvectors with options.vectors) via denseMatrix and LAPACK's dsyevd. */
export function denseSpectrum(op: SymmetricOperator, options?: DenseOptions & { vectors?: boolean }): DenseSpectrum {
  const start = performance.now();
  const d = denseMatrix(op, options);
  const eig = symmetricEigen(d.matrix, d.n, { vectors: options?.vectors === true });
  return {
    values: eig.values,
    ...(eig.vectors !== undefined ? { vectors: eig.vectors } : {}),
    asymmetry: d.asymmetry,
    products: d.products,
    seconds: (performance.now() - start) / 1000,
  };
}

/** What the papers read off a spectrum. */
export interface SpectrumStatistics {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  /** max|λ|. */
  readonly maxAbs: number;
  /** min|λ|. */
  readonly minAbs: number;
  /** max|λ| / min|λ| (Infinity for a singular matrix). */
  readonly conditionNumber: number;
  /** The 10th percentile of |λ| (linear interpolation between order statistics). */
  readonly absPercentile10: number;
  /** max|λ| / (10th percentile of |λ|): the condition number of "Demystifying ResNet", robust to the near-zero tail. */
  readonly conditionNumber10: number;
  /** The fraction of eigenvalues below −zeroTolerance. */
  readonly negativeFraction: number;
  /** The fraction with |λ| ≤ zeroTolerance (zero up to the rounding of the products). */
  readonly zeroFraction: number;
  /** The tolerance used. */
  readonly zeroTolerance: number;
}

/** Options of spectrumStatistics(). */
export interface SpectrumStatisticsOptions {
  /**
   * Eigenvalues with |λ| at most this count as zero, not negative (default 1e-10·max|λ|, the
   * rounding of float64 products; about 1e-5·max|λ| suits float32 networks).
   */
  zeroTolerance?: number;
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending values, interpolating linearly. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

/** Condition numbers, the 10th percentile of |λ| and the negative and zero fractions of a list of eigenvalues. */
export function spectrumStatistics(values: ArrayLike<number>, options?: SpectrumStatisticsOptions): SpectrumStatistics {
  const n = values.length;
  if (n === 0) throw new RangeError('spectrumStatistics: values is empty');
  const abs = Float64Array.from(values, Math.abs).sort();
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) throw new RangeError(`spectrumStatistics: values[${i}] is ${v}`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const maxAbs = abs[n - 1];
  const zeroTolerance = options?.zeroTolerance ?? 1e-10 * maxAbs;
  if (typeof zeroTolerance !== 'number' || !(zeroTolerance >= 0)) throw new RangeError(`spectrumStatistics: options.zeroTolerance must be a number ≥ 0, got ${String(options?.zeroTolerance)}`);
  let negative = 0;
  let zero = 0;
  for (let i = 0; i < n; i++) {
    if (Math.abs(values[i]) <= zeroTolerance) zero++;
    else if (values[i] < 0) negative++;
  }
  const minAbs = abs[0];
  const p10 = quantile(abs, 0.1);
  return {
    count: n,
    min,
    max,
    maxAbs,
    minAbs,
    conditionNumber: minAbs > 0 ? maxAbs / minAbs : Infinity,
    absPercentile10: p10,
    conditionNumber10: p10 > 0 ? maxAbs / p10 : Infinity,
    negativeFraction: negative / n,
    zeroFraction: zero / n,
    zeroTolerance,
  };
}
