// Spectral density by stochastic Lanczos quadrature (SLQ; Lin, Saad & Yang 2016, as used for
// Hessians by Ghorbani, Krishnan & Xiao 2019 and PyHessian).
//
// For a unit start vector v, m Lanczos steps give T = QᵀAQ; with T = U Θ Uᵀ, the nodes θ_j and
// weights τ_j = U_{0j}² form a quadrature of the measure Σ_i (vᵀu_i)² δ(t − λ_i), whose expectation
// over random v (Rademacher/√n) is the spectral density (1/n) Σ_i δ(t − λ_i). The density is that
// quadrature averaged over the start vectors and smoothed with a Gaussian of width σ. The same
// weights give the fraction of negative eigenvalues, Σ τ_j over θ_j < −σ: nodes within the
// kernel's width of zero stand for the cluster of near-zero eigenvalues a Hessian has, which
// Lanczos places on both sides of zero, and are not counted.
import { scale } from '../ops';
import { symmetricEigenSmall } from './jacobi';
import { lanczosBasis, rademacherVector } from './lanczos';
import type { SymmetricOperator } from './operator';

/** Options of spectralDensity(). */
export interface DensityOptions {
  /** Random start vectors (default 8). */
  vectors?: number;
  /** Lanczos steps per vector (default min(n, 80)). */
  steps?: number;
  /** Seed (default 0): vector i uses seed + i. */
  seed?: number;
  /** Points of the grid (default 400). */
  points?: number;
  /** Width σ of the Gaussian kernel (default 1% of the nodes' range). */
  bandwidth?: number;
  /** Called after each start vector. */
  onVector?: (done: number, total: number) => void;
}

/** A smoothed spectral density and its quadrature. */
export interface DensityResult {
  /** Points t of the grid, ascending, over the nodes' range padded by 3σ. */
  readonly grid: number[];
  /** The density at each grid point (integrates to about 1). */
  readonly density: number[];
  /** Each start vector's quadrature nodes θ_j (Ritz values) and weights τ_j. */
  readonly nodes: number[][];
  readonly weights: number[][];
  /** The estimated fraction of eigenvalues below −σ. */
  readonly negativeFraction: number;
  /** σ used. */
  readonly bandwidth: number;
  readonly products: number;
  readonly seconds: number;
}

function positiveInteger(fn: string, name: string, v: unknown, dflt: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) throw new RangeError(`${fn}: options.${name} must be a positive integer, got ${String(v)}`);
  return x;
}

/** The spectral density of `op` by stochastic Lanczos quadrature (see the file header). */
export function spectralDensity(op: SymmetricOperator, options?: DensityOptions): DensityResult {
  const fn = 'spectralDensity';
  const o = options ?? {};
  const vectors = positiveInteger(fn, 'vectors', o.vectors, 8);
  const steps = Math.min(positiveInteger(fn, 'steps', o.steps, 80), op.dimension);
  const points = positiveInteger(fn, 'points', o.points, 400);
  const seed = o.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`${fn}: options.seed must be a non-negative safe integer, got ${String(o.seed)}`);
  const start = performance.now();
  const p0 = op.products;
  const nodes: number[][] = [];
  const weights: number[][] = [];
  for (let i = 0; i < vectors; i++) {
    const z = rademacherVector(op, seed + i);
    const v = scale(z, 1 / Math.sqrt(op.dimension));
    z.dispose();
    const run = lanczosBasis(op, v, steps);
    try {
      const m = run.alpha.length;
      const t = new Float64Array(m * m);
      for (let r = 0; r < m; r++) {
        t[r * m + r] = run.alpha[r];
        if (r + 1 < m) t[r * m + r + 1] = t[(r + 1) * m + r] = run.beta[r];
      }
      const e = symmetricEigenSmall(t, m);
      nodes.push(Array.from(e.values));
      weights.push(Array.from({ length: m }, (_, j) => e.vectors[j] * e.vectors[j]));
    } finally {
      for (const b of run.basis) b.dispose();
    }
    o.onVector?.(i + 1, vectors);
  }
  const all = nodes.flat();
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const sigma = o.bandwidth ?? Math.max((hi - lo) / 100, Math.abs(hi) * 1e-6, Number.MIN_VALUE);
  if (typeof sigma !== 'number' || !(sigma > 0)) throw new RangeError(`${fn}: options.bandwidth must be a number > 0, got ${String(o.bandwidth)}`);
  const from = lo - 3 * sigma;
  const to = hi + 3 * sigma;
  const grid = Array.from({ length: points }, (_, i) => (points === 1 ? (from + to) / 2 : from + ((to - from) * i) / (points - 1)));
  const norm = 1 / (vectors * sigma * Math.sqrt(2 * Math.PI));
  const density = grid.map((t) => {
    let s = 0;
    nodes.forEach((ns, v) => ns.forEach((theta, j) => (s += weights[v][j] * Math.exp(-((t - theta) ** 2) / (2 * sigma * sigma)))));
    return s * norm;
  });
  let negative = 0;
  nodes.forEach((ns, v) => ns.forEach((theta, j) => (negative += theta < -sigma ? weights[v][j] : 0)));
  return {
    grid,
    density,
    nodes,
    weights,
    negativeFraction: negative / vectors,
    bandwidth: sigma,
    products: op.products - p0,
    seconds: (performance.now() - start) / 1000,
  };
}
