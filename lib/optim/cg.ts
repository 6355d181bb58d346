// Conjugate gradient for A x = b with A symmetric positive definite, given only as a product
// v ↦ A v: the inner solver of the subsampled Newton method (Algorithm 1 of the Newton paper,
// A = G_S + λI, b = −∇f). It follows the reference code (simpleNN CG.m):
//   x = 0, r = b, p = r
//   repeat up to maxIterations times:
//     q = A p;  α = rᵀr / pᵀq;  x += α p;  r −= α q
//     stop when ‖r‖ ≤ σ‖b‖        (the relative rule, eq. 90 of the paper, with b = −∇f)
//     β = r_newᵀr_new / rᵀr;  p = r + β p
// Vectors are in the dtype of b (float32 for a float32 network); every dot product and norm
// accumulates in double (ops.dot / ops.squaredNorm / ops.cgUpdate, the fused x/r update). r is the recursively updated residual, as in
// the reference: the Newton trainer uses it for dᵀG_S d = dᵀ(b − r) − λ‖d‖².
import { axpy, cgUpdate, dot, scale, squaredNorm } from '../ops';
import { Tensor } from '../tensor';

/**
 * A symmetric positive (semi-)definite linear operator given by its product: returns A v as a NEW
 * tensor of v's shape, dtype and device (the caller disposes it); v must not be modified.
 */
export type LinearOperator = (v: Tensor) => Tensor;

/** Options of conjugateGradient. */
export interface CgOptions {
  /** σ of the relative stopping rule ‖b − A x‖ ≤ σ‖b‖; in (0, 1) (default 0.1). */
  tolerance?: number;
  /** CGmax: the most products A p (default 250). */
  maxIterations?: number;
}

/** Why conjugateGradient stopped. */
export type CgStop = 'tolerance' | 'max-iterations' | 'zero-rhs' | 'non-positive-curvature';

/** What conjugateGradient returns. */
export interface CgResult {
  /** The approximate solution x (owned by the caller). */
  x: Tensor;
  /** The final residual r = b − A x as updated by the recursion (owned by the caller). */
  residual: Tensor;
  /** Products A p computed (CG steps). */
  steps: number;
  /** ‖r‖ / ‖b‖ at the end (0 when b = 0). */
  relativeResidual: number;
  /** ‖b‖, accumulated in double. */
  rhsNorm: number;
  /** Why it stopped: tolerance reached, CGmax reached, b = 0, or pᵀAp ≤ 0 (A not positive definite; x is the last iterate). */
  stop: CgStop;
}

/** CgOptions with the defaults filled in. */
export interface ResolvedCgOptions {
  /** σ. */
  readonly tolerance: number;
  /** CGmax. */
  readonly maxIterations: number;
}

/**
 * Validates CG options and fills in the defaults (σ 0.1, CGmax 250).
 * @throws TypeError for a non-number; RangeError for σ outside (0, 1) or CGmax not a positive integer.
 */
export function resolveCgOptions(fn: string, options: CgOptions | undefined, prefix = 'options'): ResolvedCgOptions {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${fn}: ${prefix} must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const tolerance = options?.tolerance ?? 0.1;
  if (typeof tolerance !== 'number') throw new TypeError(`${fn}: ${prefix}.tolerance must be a number, got ${typeof tolerance}`);
  if (!(tolerance > 0 && tolerance < 1)) throw new RangeError(`${fn}: ${prefix}.tolerance (σ) must be in (0, 1), got ${tolerance}`);
  const maxIterations = options?.maxIterations ?? 250;
  if (typeof maxIterations !== 'number') throw new TypeError(`${fn}: ${prefix}.maxIterations must be a number, got ${typeof maxIterations}`);
  if (!Number.isSafeInteger(maxIterations) || maxIterations < 1) {
    throw new RangeError(`${fn}: ${prefix}.maxIterations (CGmax) must be a positive integer, got ${maxIterations}`);
  }
  return { tolerance, maxIterations };
}


/**
 * CG as a generator: yields after every product A p (so an async caller can give the event loop a
 * turn or stop; on early return the tensors are freed) and returns the result.
 * conjugateGradient drains it synchronously.
 */
export function* cgSteps(apply: LinearOperator, b: Tensor, options?: CgOptions): Generator<number, CgResult, void> {
  const fn = 'conjugateGradient';
  if (typeof apply !== 'function') throw new TypeError(`${fn}: apply must be a function v => A v, got ${apply === null ? 'null' : typeof apply}`);
  if (!(b instanceof Tensor)) throw new TypeError(`${fn}: b must be a Tensor, got ${b === null ? 'null' : typeof b}`);
  if (b.disposed) throw new Error(`${fn}: b: tensor is disposed`);
  const o = resolveCgOptions(fn, options);
  const bb = squaredNorm(b);
  if (!Number.isFinite(bb)) throw new RangeError(`${fn}: b has a non-finite norm (${bb}): NaN or infinite entries`);
  const rhsNorm = Math.sqrt(bb);
  const x = Tensor.zeros(b.shape, { dtype: b.dtype, device: b.device });
  const r = b.clone();
  if (rhsNorm === 0) return { x, residual: r, steps: 0, relativeResidual: 0, rhsNorm, stop: 'zero-rhs' };
  let p: Tensor | null = b.clone();
  let done = false;
  try {
    const target = o.tolerance * rhsNorm;
    let rr = bb;
    let steps = 0;
    let stop: CgStop = 'max-iterations';
    while (steps < o.maxIterations) {
      const q = apply(p);
      let rrNew: number;
      try {
        checkProduct(fn, q, p);
        const pq = dot(p, q);
        steps++;
        if (!(pq > 0)) {
          if (Number.isNaN(pq)) throw new RangeError(`${fn}: the product A p has NaN entries (step ${steps})`);
          stop = 'non-positive-curvature';
          break;
        }
        rrNew = cgUpdate(x, r, p, q, rr / pq); // x += αp, r −= αq, ‖r‖² in one fused pass
      } finally {
        q.dispose();
      }
      if (!Number.isFinite(rrNew)) throw new RangeError(`${fn}: the residual became non-finite at step ${steps}`);
      if (Math.sqrt(rrNew) <= target) {
        rr = rrNew;
        stop = 'tolerance';
        break;
      }
      if (steps < o.maxIterations) {
        const next = scale(p, rrNew / rr);
        axpy(next, 1, r);
        p.dispose();
        p = next;
      }
      rr = rrNew;
      yield steps;
    }
    done = true;
    return { x, residual: r, steps, relativeResidual: Math.sqrt(rr) / rhsNorm, rhsNorm, stop };
  } finally {
    p?.dispose();
    if (!done) {
      x.dispose();
      r.dispose();
    }
  }
}

function checkProduct(fn: string, q: unknown, p: Tensor): asserts q is Tensor {
  if (!(q instanceof Tensor)) throw new TypeError(`${fn}: apply must return a Tensor, got ${q === null ? 'null' : typeof q}`);
  if (q === p) throw new Error(`${fn}: apply must return a new tensor, not its argument`);
  if (q.size !== p.size || q.dtype !== p.dtype || q.device !== p.device) {
    throw new RangeError(`${fn}: apply returned shape (${q.shape.join(', ')}) ${q.dtype} on ${q.device}, expected (${p.shape.join(', ')}) ${p.dtype} on ${p.device}`);
  }
}

/**
 * Solves A x = b approximately by conjugate gradient from x = 0, stopping when ‖b − A x‖ ≤ σ‖b‖
 * (options.tolerance σ, default 0.1) or after options.maxIterations (CGmax, default 250) products.
 * Dots and norms accumulate in double; the vectors keep b's dtype.
 * @throws TypeError / RangeError for bad arguments, a product of the wrong shape, or NaN.
 */
export function conjugateGradient(apply: LinearOperator, b: Tensor, options?: CgOptions): CgResult {
  const steps = cgSteps(apply, b, options);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
  }
}
