// Conjugate gradient (lib/optim/cg.ts) on explicit symmetric positive definite systems: it solves
// to tolerance, stops by the relative rule ‖b − Ax‖ ≤ σ‖b‖ at the first step that meets it,
// respects CGmax, handles b = 0 and non-positive curvature, keeps the vectors' dtype, frees its
// temporaries, and rejects bad arguments with clear errors.
import { memoryStats, matmul, scale, Tensor } from '../lib';
import { conjugateGradient, type LinearOperator } from '../lib/optim';
import { randData, settledBytesInUse } from './helpers';

type Dt = 'float32' | 'float64';

// A = MᵀM/n + shift·I (n × n), SPD with eigenvalues ≥ shift; returned as its product and dense rows.
function spd(n: number, seed: number, shift: number, dtype: Dt = 'float64'): { apply: LinearOperator; A: Float64Array; calls: () => number } {
  const M = randData(n * n, seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += M[k * n + i] * M[k * n + j];
      A[i * n + j] = s / n + (i === j ? shift : 0);
    }
  }
  const At = Tensor.from(A, { shape: [n, n], dtype });
  let count = 0;
  const apply: LinearOperator = (v) => {
    count++;
    const col = v.reshape([n, 1]);
    const out = matmul(At, col);
    const flat = out.reshape([n]);
    out.dispose();
    col.dispose();
    return flat;
  };
  return { apply, A, calls: () => count };
}

function residualNorm(A: Float64Array, x: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = b.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    let ax = 0;
    for (let j = 0; j < n; j++) ax += A[i * n + j] * x[j];
    s += (b[i] - ax) ** 2;
  }
  return Math.sqrt(s);
}

const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

test('solves an SPD system to a tight tolerance (float64), the true residual agreeing', () => {
  const n = 40;
  const { apply, A } = spd(n, 1, 0.05);
  const b = Tensor.from(randData(n, 2), { dtype: 'float64' });
  const r = conjugateGradient(apply, b, { tolerance: 1e-10, maxIterations: 200 });
  expect(r.stop).toBe('tolerance');
  expect(r.relativeResidual).toBeLessThanOrEqual(1e-10);
  const x = r.x.toArray() as Float64Array;
  expect(residualNorm(A, x, b.toArray() as Float64Array) / norm(b.toArray() as Float64Array)).toBeLessThan(1e-8);
  expect(r.steps).toBeLessThanOrEqual(3 * n);
  for (const t of [r.x, r.residual, b]) t.dispose();
});

test('stops by the relative rule at the first step with ‖r‖ ≤ σ‖b‖', () => {
  const n = 60;
  const { apply, A } = spd(n, 3, 0.01);
  const b = Tensor.from(randData(n, 4), { dtype: 'float64' });
  const bn = norm(b.toArray() as Float64Array);
  const r = conjugateGradient(apply, b, { tolerance: 0.1 });
  expect(r.stop).toBe('tolerance');
  expect(r.steps).toBeGreaterThan(1);
  expect(r.relativeResidual).toBeLessThanOrEqual(0.1);
  expect(residualNorm(A, r.x.toArray() as Float64Array, b.toArray() as Float64Array) / bn).toBeCloseTo(r.relativeResidual, 8);
  // one step fewer does not meet the rule
  const before = conjugateGradient(apply, b, { tolerance: 0.1, maxIterations: r.steps - 1 });
  expect(before.stop).toBe('max-iterations');
  expect(before.relativeResidual).toBeGreaterThan(0.1);
  for (const t of [r.x, r.residual, before.x, before.residual, b]) t.dispose();
});

test('respects CGmax', () => {
  const n = 50;
  const { apply, calls } = spd(n, 5, 1e-4);
  const b = Tensor.from(randData(n, 6), { dtype: 'float64' });
  const r = conjugateGradient(apply, b, { tolerance: 1e-12, maxIterations: 4 });
  expect(r.steps).toBe(4);
  expect(calls()).toBe(4);
  expect(r.stop).toBe('max-iterations');
  expect(r.relativeResidual).toBeGreaterThan(1e-12);
  for (const t of [r.x, r.residual, b]) t.dispose();
});

test('a multiple of the identity is solved in one step; b = 0 gives x = 0 without products', () => {
  const n = 7;
  const apply: LinearOperator = (v) => scale(v, 2.5);
  const b = Tensor.from(randData(n, 7), { dtype: 'float64' });
  const r = conjugateGradient(apply, b);
  expect(r.steps).toBe(1);
  expect(r.relativeResidual).toBeLessThan(1e-14);
  const x = r.x.toArray() as Float64Array;
  const bb = b.toArray() as Float64Array;
  for (let i = 0; i < n; i++) expect(x[i]).toBeCloseTo(bb[i] / 2.5, 12);
  let products = 0;
  const zero = Tensor.zeros([n], { dtype: 'float64' });
  const z = conjugateGradient((v) => (products++, v.clone()), zero);
  expect([z.steps, z.stop, products, z.relativeResidual]).toEqual([0, 'zero-rhs', 0, 0]);
  expect(Array.from(z.x.toArray())).toEqual(new Array(n).fill(0));
  for (const t of [r.x, r.residual, b, zero, z.x, z.residual]) t.dispose();
});

test('float32 vectors stay float32 and converge to the float32 tolerance', () => {
  const n = 30;
  const { apply, A } = spd(n, 8, 0.1, 'float32');
  const b = Tensor.from(randData(n, 9), { dtype: 'float32' });
  const r = conjugateGradient(apply, b, { tolerance: 1e-4 });
  expect(r.x.dtype).toBe('float32');
  expect(r.residual.dtype).toBe('float32');
  expect(r.stop).toBe('tolerance');
  const bb = Array.from(b.toArray());
  expect(residualNorm(A, Array.from(r.x.toArray()), bb) / norm(bb)).toBeLessThan(1e-3);
  for (const t of [r.x, r.residual, b]) t.dispose();
});

test('negative curvature stops CG (A not positive definite)', () => {
  const b = Tensor.from([1, 2, 3], { dtype: 'float64' });
  const r = conjugateGradient((v) => scale(v, -1), b);
  expect(r.stop).toBe('non-positive-curvature');
  expect(r.steps).toBe(1);
  expect(Array.from(r.x.toArray())).toEqual([0, 0, 0]);
  for (const t of [r.x, r.residual, b]) t.dispose();
});

test('frees every temporary', () => {
  const n = 20;
  const { apply } = spd(n, 10, 0.1);
  const b = Tensor.from(randData(n, 11), { dtype: 'float64' });
  const warm = conjugateGradient(apply, b);
  warm.x.dispose();
  warm.residual.dispose();
  const before = settledBytesInUse();
  const r = conjugateGradient(apply, b, { tolerance: 1e-6 });
  r.x.dispose();
  r.residual.dispose();
  expect(memoryStats().bytesInUse).toBe(before);
  b.dispose();
});

test('bad arguments are rejected with clear errors', () => {
  const b = Tensor.from([1, 2], { dtype: 'float64' });
  const id: LinearOperator = (v) => v.clone();
  expect(() => conjugateGradient(id, b, { tolerance: 0 })).toThrow(/tolerance \(σ\) must be in \(0, 1\), got 0/);
  expect(() => conjugateGradient(id, b, { tolerance: 1 })).toThrow(RangeError);
  expect(() => conjugateGradient(id, b, { maxIterations: 0 })).toThrow(/maxIterations \(CGmax\) must be a positive integer, got 0/);
  expect(() => conjugateGradient(id, b, { maxIterations: 2.5 })).toThrow(RangeError);
  expect(() => conjugateGradient(null as unknown as LinearOperator, b)).toThrow(/apply must be a function/);
  expect(() => conjugateGradient(id, [1, 2] as unknown as Tensor)).toThrow(/b must be a Tensor/);
  expect(() => conjugateGradient(() => Tensor.zeros([3], { dtype: 'float64' }), b)).toThrow(/apply returned shape \(3\) float64 on cpu, expected \(2\)/);
  expect(() => conjugateGradient((v) => v, b)).toThrow(/apply must return a new tensor/);
  const nan = Tensor.from([NaN, 1], { dtype: 'float64' });
  expect(() => conjugateGradient(id, nan)).toThrow(/b has a non-finite norm/);
  const gone = Tensor.from([1], { dtype: 'float64' });
  gone.dispose();
  expect(() => conjugateGradient(id, gone)).toThrow(/b: tensor is disposed/);
  b.dispose();
  nan.dispose();
});
