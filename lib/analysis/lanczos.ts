// Lanczos with full reorthogonalisation and power iteration on a SymmetricOperator
// (lib/analysis/operator.ts).
//
// Lanczos builds an orthonormal basis q_0 … q_{m−1} of the Krylov space of the start vector and
// the tridiagonal T = Qᵀ A Q (α on the diagonal, β beside it); T's eigenvalues (Ritz values)
// approximate A's extreme eigenvalues first. Each step is one product; every new vector is
// orthogonalised against all earlier ones twice ("twice is enough"), so the basis stays
// orthonormal to rounding and no spurious copies of converged eigenvalues appear, at the price of
// keeping the m vectors (m·n elements on the operator's device). One start vector sees one copy
// of each distinct eigenvalue (its Krylov space holds one direction per eigenspace), so
// multiplicities are not resolved: use the dense path for those. A Ritz pair (θ, Qs) has residual
// ‖A Qs − θ Qs‖ = β_m |s_m|, so convergence is read off T without extra products. The basis
// vectors live on the device in the operator's dtype; every dot product accumulates in double.
import { axpy, dot, randomNormal, randomUniform, reluMask, scale, squaredNorm } from '../ops';
import { Tensor } from '../tensor';
import { symmetricEigenSmall } from './jacobi';
import type { SymmetricOperator } from './operator';

/** Which eigenvalues: the largest (algebraic), the smallest (algebraic), or the largest in magnitude. */
export type Which = 'largest' | 'smallest' | 'magnitude';

/** Options of lanczos(). */
export interface LanczosOptions {
  /** How many eigenvalues (default 5). */
  k?: number;
  /** Which end of the spectrum (default 'largest'). */
  which?: Which;
  /** Most Lanczos steps = products (default min(n, max(4k + 40, 80))). */
  maxIterations?: number;
  /** Stop when every wanted Ritz value has residual ≤ tolerance·max|θ| (default 1e-8 in float64, 1e-4 in float32). */
  tolerance?: number;
  /** Seed of the start vector (default 0). */
  seed?: number;
  /** Also return the eigenvectors (default false). */
  eigenvectors?: boolean;
  /** Called after each step with the step count and the current estimates of the wanted eigenvalues. */
  onStep?: (step: number, estimates: readonly number[]) => void;
}

/** What lanczos() found. */
export interface LanczosResult {
  /** The wanted eigenvalues, the most extreme first (largest first for 'largest' and 'magnitude', smallest first for 'smallest'). */
  readonly values: number[];
  /** Residual norms ‖Av − λv‖ of each (v of unit norm). */
  readonly residuals: number[];
  /** Their eigenvectors (unit norm, the operator's dtype and device), when asked for; the caller disposes them. */
  readonly vectors?: Tensor[];
  /** Lanczos steps taken (= products). */
  readonly iterations: number;
  /** Whether every wanted value met the tolerance (or the Krylov space became invariant). */
  readonly converged: boolean;
  /** Products of the operator used. */
  readonly products: number;
  /** Wall time. */
  readonly seconds: number;
}

/** A Lanczos run: α, β and the basis (owned by the run until disposed). */
export interface LanczosBasis {
  readonly alpha: number[];
  /** β_j couples q_j and q_{j+1}; β has one entry per step (the last one is the residual norm). */
  readonly beta: number[];
  readonly basis: Tensor[];
  /** The Krylov space became invariant (β ≈ 0): T's eigenvalues are exact eigenvalues of A. */
  readonly invariant: boolean;
}

function positiveInteger(fn: string, name: string, v: unknown, dflt: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) throw new RangeError(`${fn}: options.${name} must be a positive integer, got ${String(v)}`);
  return x;
}

function seedOf(fn: string, v: unknown): number {
  const s = v ?? 0;
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) throw new RangeError(`${fn}: options.seed must be a non-negative safe integer, got ${String(v)}`);
  return s;
}

function checkOperator(fn: string, op: SymmetricOperator): void {
  if (op === null || typeof op !== 'object' || typeof op.apply !== 'function' || !Number.isInteger(op.dimension) || op.dimension < 1) {
    throw new TypeError(`${fn}: op must be a SymmetricOperator (curvatureOperator(…) or matrixOperator(…))`);
  }
}

/** A random unit vector of the operator's space (Gaussian, seeded). */
export function randomUnitVector(op: SymmetricOperator, seed: number): Tensor {
  const v = randomNormal([op.dimension], { seed, dtype: op.dtype, device: op.device });
  const norm = Math.sqrt(squaredNorm(v));
  const u = scale(v, 1 / norm);
  v.dispose();
  return u;
}

/** A Rademacher vector (±1 entries, seeded) of the operator's space. */
export function rademacherVector(op: SymmetricOperator, seed: number): Tensor {
  const u = randomUniform([op.dimension], { seed, low: -1, high: 1, dtype: op.dtype, device: op.device });
  const mask = reluMask(u); // 1[u > 0]
  u.dispose();
  const z = Tensor.full([op.dimension], -1, { dtype: op.dtype, device: op.device });
  axpy(z, 2, mask);
  mask.dispose();
  return z;
}

/** w ← w − Σ_i ⟨w, q_i⟩ q_i, twice. */
function reorthogonalise(w: Tensor, basis: readonly Tensor[]): void {
  for (let pass = 0; pass < 2; pass++) for (const q of basis) axpy(w, -dot(w, q), q);
}

/**
 * Runs up to `steps` Lanczos steps from the unit vector `start` (kept as q_0; owned by the
 * basis afterwards), stopping early when the space becomes invariant or `done(alpha, beta)` says so.
 */
export function lanczosBasis(op: SymmetricOperator, start: Tensor, steps: number, done?: (alpha: number[], beta: number[]) => boolean): LanczosBasis {
  const alpha: number[] = [];
  const beta: number[] = [];
  const basis: Tensor[] = [start];
  let invariant = false;
  try {
    for (let j = 0; j < steps; j++) {
      const q = basis[j];
      const w = op.apply(q);
      try {
        const a = dot(w, q);
        alpha.push(a);
        axpy(w, -a, q);
        if (j > 0) axpy(w, -beta[j - 1], basis[j - 1]);
        reorthogonalise(w, basis);
        const b = Math.sqrt(squaredNorm(w));
        beta.push(b);
        const scaleOfT = Math.max(...alpha.map(Math.abs), ...beta.slice(0, -1));
        if (!(b > 1e-12 * Math.max(scaleOfT, Number.MIN_VALUE)) || j + 1 === op.dimension) {
          invariant = true;
          break;
        }
        if (done?.(alpha, beta) === true || j + 1 === steps) break;
        basis.push(scale(w, 1 / b));
      } finally {
        w.dispose();
      }
    }
  } catch (e) {
    for (const t of basis) t.dispose();
    throw e;
  }
  return { alpha, beta, basis, invariant };
}

/** T (m×m, row-major) from α and β. */
export function tridiagonal(alpha: readonly number[], beta: readonly number[]): Float64Array {
  const m = alpha.length;
  const t = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    t[i * m + i] = alpha[i];
    if (i + 1 < m) t[i * m + i + 1] = t[(i + 1) * m + i] = beta[i];
  }
  return t;
}

/** Indices of the k wanted Ritz values of an ascending list, the most extreme first. */
function wanted(values: Float64Array, k: number, which: Which): number[] {
  const idx = Array.from(values, (_, i) => i);
  if (which === 'largest') idx.reverse();
  else if (which === 'magnitude') idx.sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]));
  return idx.slice(0, Math.min(k, idx.length));
}

/**
 * The k eigenvalues of `op` at the `which` end of its spectrum by Lanczos with full
 * reorthogonalisation (see the file header), with their residuals and, on request, eigenvectors.
 * Deterministic for a given seed.
 */
export function lanczos(op: SymmetricOperator, options?: LanczosOptions): LanczosResult {
  const fn = 'lanczos';
  checkOperator(fn, op);
  const o = options ?? {};
  const n = op.dimension;
  const k = Math.min(positiveInteger(fn, 'k', o.k, 5), n);
  const which = o.which ?? 'largest';
  if (which !== 'largest' && which !== 'smallest' && which !== 'magnitude') {
    throw new RangeError(`${fn}: options.which must be 'largest', 'smallest' or 'magnitude', got ${JSON.stringify(which) ?? String(which)}`);
  }
  const maxIterations = Math.min(positiveInteger(fn, 'maxIterations', o.maxIterations, Math.max(4 * k + 40, 80)), n);
  const tolerance = o.tolerance ?? (op.dtype === 'float64' ? 1e-8 : 1e-4);
  if (typeof tolerance !== 'number' || !(tolerance > 0)) throw new RangeError(`${fn}: options.tolerance must be a number > 0, got ${String(o.tolerance)}`);
  const seed = seedOf(fn, o.seed);
  const start = performance.now();
  const products0 = op.products;
  // T's eigen-decomposition, the wanted Ritz values and their residuals β_m·|s_m|.
  const assess = (alpha: readonly number[], beta: readonly number[]) => {
    const m = alpha.length;
    const e = symmetricEigenSmall(tridiagonal(alpha, beta), m);
    const pick = wanted(e.values, k, which);
    const residuals = pick.map((i) => Math.abs(beta[m - 1] * e.vectors[(m - 1) * m + i]));
    const scaleOfA = Math.max(...Array.from(e.values, Math.abs));
    return { e, pick, residuals, ok: m >= k && residuals.every((r) => r <= tolerance * scaleOfA) };
  };
  const run = lanczosBasis(op, randomUnitVector(op, seed), maxIterations, (alpha, beta) => {
    const a = assess(alpha, beta);
    o.onStep?.(alpha.length, a.pick.map((i) => a.e.values[i]));
    return a.ok;
  });
  try {
    const m = run.alpha.length;
    const { e, pick, residuals: estimated, ok } = assess(run.alpha, run.beta);
    const residuals = run.invariant ? pick.map(() => 0) : estimated;
    let vectors: Tensor[] | undefined;
    if (o.eigenvectors === true) {
      vectors = pick.map((i) => {
        const v = Tensor.zeros([n], { dtype: op.dtype, device: op.device });
        for (let j = 0; j < m; j++) axpy(v, e.vectors[j * m + i], run.basis[j]);
        return v;
      });
    }
    return {
      values: pick.map((i) => e.values[i]),
      residuals,
      ...(vectors !== undefined ? { vectors } : {}),
      iterations: m,
      converged: ok || run.invariant,
      products: op.products - products0,
      seconds: (performance.now() - start) / 1000,
    };
  } finally {
    for (const t of run.basis) t.dispose();
  }
}

/** Options of powerIteration(). */
export interface PowerIterationOptions {
  /** Most products (default 100). */
  maxIterations?: number;
  /** Stop when the Rayleigh quotient changes by ≤ tolerance·|λ| (default 1e-6). */
  tolerance?: number;
  /** Seed of the start vector (default 0). */
  seed?: number;
}

/** What powerIteration() found. */
export interface PowerIterationResult {
  /** The eigenvalue of largest magnitude (with its sign), as the last Rayleigh quotient. */
  readonly value: number;
  /** ‖Av − λv‖ for the final unit vector v. */
  readonly residual: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly products: number;
  readonly seconds: number;
}

/** The eigenvalue of largest magnitude by power iteration (what PyHessian reports as the top eigenvalue). */
export function powerIteration(op: SymmetricOperator, options?: PowerIterationOptions): PowerIterationResult {
  const fn = 'powerIteration';
  checkOperator(fn, op);
  const maxIterations = positiveInteger(fn, 'maxIterations', options?.maxIterations, 100);
  const tolerance = options?.tolerance ?? 1e-6;
  if (typeof tolerance !== 'number' || !(tolerance > 0)) throw new RangeError(`${fn}: options.tolerance must be a number > 0, got ${String(tolerance)}`);
  const start = performance.now();
  const products0 = op.products;
  let v = randomUnitVector(op, seedOf(fn, options?.seed));
  let value = 0;
  let residual = Infinity;
  let converged = false;
  let it = 0;
  try {
    for (it = 1; it <= maxIterations; it++) {
      const w = op.apply(v);
      const next = dot(w, v);
      const r = w.clone();
      axpy(r, -next, v);
      residual = Math.sqrt(squaredNorm(r));
      r.dispose();
      const norm = Math.sqrt(squaredNorm(w));
      const done = it > 1 && Math.abs(next - value) <= tolerance * Math.abs(next);
      value = next;
      if (norm === 0) {
        w.dispose();
        converged = true;
        break;
      }
      v.dispose();
      v = scale(w, 1 / norm);
      w.dispose();
      if (done) {
        converged = true;
        break;
      }
    }
  } finally {
    v.dispose();
  }
  return { value, residual, iterations: Math.min(it, maxIterations), converged, products: op.products - products0, seconds: (performance.now() - start) / 1000 };
}
