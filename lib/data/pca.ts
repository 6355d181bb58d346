// Principal components of a data set's images, optionally whitened: the input representation
// of "Demystifying ResNet" (its Appendix B: the 10 greatest principal components of whitened
// MNIST). The covariance is a float64 GEMM on the CPU, decomposed by LAPACK (lib/linalg.ts).
import { symmetricEigen } from '../linalg';
import { gemm } from '../ops';
import { Tensor } from '../tensor';
import { checkDataset, type Dataset } from './dataset';

/** Options of principalComponents(). */
export interface PrincipalComponentsOptions {
  /** Scale each component to unit variance (default true). */
  whiten?: boolean;
}

/** The projection of every image on the leading principal components. */
export interface PrincipalComponents {
  /** (length × k), row-major, float64: image i's coordinates, centred (and whitened). */
  readonly features: Float64Array;
  /** k. */
  readonly components: number;
  /** The variance along each component, largest first. */
  readonly variances: Float64Array;
  /** The fraction of the total variance the k components hold. */
  readonly explained: number;
}

/** Image i's coordinates on the k leading principal components of `ds` (centred on the data mean). */
export function principalComponents(ds: Dataset, k: number, options?: PrincipalComponentsOptions): PrincipalComponents {
  const fn = 'principalComponents';
  checkDataset(fn, 'ds', ds);
  const d = ds.shape[0] * ds.shape[1] * ds.shape[2];
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > d) throw new RangeError(`${fn}: k must be an integer in [1, ${d}] (the pixels per image), got ${String(k)}`);
  const whiten = options?.whiten ?? true;
  const m = ds.length;
  if (m < 2) throw new RangeError(`${fn}: needs at least 2 images, got ${m}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) mean[j] += ds.images[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= m;
  // C = XcᵀXc/(m − 1) with a float64 GEMM on the CPU backend.
  const centred = new Float64Array(m * d);
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) centred[i * d + j] = ds.images[i * d + j] - mean[j];
  const xc = Tensor.from(centred, { shape: [m, d], dtype: 'float64' });
  let cov: Float64Array;
  try {
    const c = gemm(xc, xc, { transA: true, alpha: 1 / (m - 1) });
    cov = c.toArray() as Float64Array;
    c.dispose();
  } finally {
    xc.dispose();
  }
  const eig = symmetricEigen(cov, d, { vectors: true });
  const total = eig.values.reduce((s, v) => s + Math.max(v, 0), 0);
  const variances = new Float64Array(k);
  const basis: Float64Array[] = [];
  for (let c = 0; c < k; c++) {
    const col = d - 1 - c; // ascending order: the largest last
    variances[c] = eig.values[col];
    if (whiten && !(variances[c] > 0)) throw new RangeError(`${fn}: component ${c + 1} has variance ${variances[c]}; cannot whiten ${k} components of this data`);
    const scale = whiten ? 1 / Math.sqrt(variances[c]) : 1;
    basis.push(Float64Array.from({ length: d }, (_, j) => eig.vectors![j * d + col] * scale));
  }
  const features = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      const u = basis[c];
      for (let j = 0; j < d; j++) s += centred[i * d + j] * u[j];
      features[i * k + c] = s;
    }
  }
  return { features, components: k, variances, explained: total > 0 ? variances.reduce((s, v) => s + v, 0) / total : 0 };
}
