// Trace estimators on a SymmetricOperator (lib/analysis/operator.ts).
//
//   Hutchinson   tr(A) ≈ (1/s) Σ_i z_iᵀ A z_i, z_i Rademacher (±1): unbiased, variance
//                2(‖A‖_F² − Σ A_ii²)/s; reported with its standard error.
//   Hutch++      (Meyer, Musco, Musco & Woodruff, 2021) spends a third of its products on
//                Q = orth(A S) for Rademacher S, computes tr(QᵀAQ) exactly and Hutchinson only
//                on the rest, (I − QQᵀ)A(I − QQᵀ): far fewer products for matrices whose
//                spectrum decays, as Hessians' do.
// Every vector is seeded, so an estimate is deterministic for its seed.
import { axpy, dot, scale, squaredNorm } from '../ops';
import type { Tensor } from '../tensor';
import { rademacherVector } from './lanczos';
import type { SymmetricOperator } from './operator';

/** Options of hutchinson() and hutchPlusPlus(). */
export interface TraceOptions {
  /** Products to spend (default 99; Hutch++ uses a multiple of 3). */
  products?: number;
  /** Seed of the random vectors (default 0). */
  seed?: number;
}

/** A trace estimate. */
export interface TraceResult {
  /** The estimate of tr(A). */
  readonly value: number;
  /** Standard error of the stochastic part (Hutchinson's sample standard deviation / √s). */
  readonly standardError: number;
  readonly products: number;
  readonly seconds: number;
}

function budget(fn: string, v: unknown, min: number): number {
  const p = v ?? 99;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < min) throw new RangeError(`${fn}: options.products must be an integer ≥ ${min}, got ${String(v)}`);
  return p;
}

function seedOf(fn: string, v: unknown): number {
  const s = v ?? 0;
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) throw new RangeError(`${fn}: options.seed must be a non-negative safe integer, got ${String(v)}`);
  return s;
}

/** zᵀAz for each z of `zs`, with `project` applied to z first when given. */
function quadraticForms(op: SymmetricOperator, count: number, seed: number, project?: (z: Tensor) => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const z = rademacherVector(op, seed + i);
    try {
      project?.(z);
      const az = op.apply(z);
      out.push(dot(z, az));
      az.dispose();
    } finally {
      z.dispose();
    }
  }
  return out;
}

function meanAndError(xs: readonly number[]): { mean: number; error: number } {
  const s = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / s;
  if (s < 2) return { mean, error: Infinity };
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (s - 1);
  return { mean, error: Math.sqrt(variance / s) };
}

/** Hutchinson's estimate of tr(A) from options.products Rademacher vectors. */
export function hutchinson(op: SymmetricOperator, options?: TraceOptions): TraceResult {
  const fn = 'hutchinson';
  const s = budget(fn, options?.products, 1);
  const start = performance.now();
  const p0 = op.products;
  const { mean, error } = meanAndError(quadraticForms(op, s, seedOf(fn, options?.seed)));
  return { value: mean, standardError: error, products: op.products - p0, seconds: (performance.now() - start) / 1000 };
}

/** Hutch++'s estimate of tr(A) with options.products products (a multiple of 3 is used: ⌊p/3⌋ each for S, Q and the rest). */
export function hutchPlusPlus(op: SymmetricOperator, options?: TraceOptions): TraceResult {
  const fn = 'hutchPlusPlus';
  const third = Math.floor(budget(fn, options?.products, 3) / 3);
  const seed = seedOf(fn, options?.seed);
  const start = performance.now();
  const p0 = op.products;
  const q: Tensor[] = [];
  try {
    // Q: an orthonormal basis of A·S (Gram-Schmidt, twice; dependent columns dropped).
    for (let i = 0; i < third; i++) {
      const si = rademacherVector(op, seed + i);
      const y = op.apply(si);
      si.dispose();
      const before = Math.sqrt(squaredNorm(y));
      for (let pass = 0; pass < 2; pass++) for (const b of q) axpy(y, -dot(y, b), b);
      const norm = Math.sqrt(squaredNorm(y));
      if (norm > 1e-10 * before && norm > 0) q.push(scale(y, 1 / norm));
      y.dispose();
    }
    let exact = 0;
    for (const b of q) {
      const ab = op.apply(b);
      exact += dot(b, ab);
      ab.dispose();
    }
    const project = (z: Tensor): void => {
      for (let pass = 0; pass < 2; pass++) for (const b of q) axpy(z, -dot(z, b), b);
    };
    const rest = quadraticForms(op, third, seed + third, project);
    const { mean, error } = meanAndError(rest);
    return { value: exact + mean, standardError: error, products: op.products - p0, seconds: (performance.now() - start) / 1000 };
  } finally {
    for (const b of q) b.dispose();
  }
}
