// sum, dot, squaredNorm: accumulated in double whatever the dtype (spec), so the float32
// results are compared with the exact float64 sum of the float32 values at 1e-12 of Σ|terms|
// (that is what double accumulation of n ≤ 1e5 terms achieves: n·2⁻⁵³ ≈ 1e-11 worst case,
// much less in practice). A float32 accumulator would be off by ~1e-7·Σ|terms| and fail.
// On CUDA the reduction tree differs but is still double: same bound, times 10 for slack.
import * as nc from '../lib';
import * as ref from './reference';
import { describeEachBackend, expectClose, randTensor, tensor } from './helpers';

const shapes: number[][] = [[1], [7], [13], [31], [3, 31], [2, 3, 5, 7], [1, 1, 1, 1], [100000], [257, 129]];

describeEachBackend('reductions', (b) => {
  const slack = b.kind === 'cuda' ? 10 : 1;
  for (const dtype of b.dtypes) {
    describe(dtype, () => {
      test.each(shapes.map((s) => [s.join('x'), s]))('sum, dot, squaredNorm shape %s', (_n, shape) => {
        const X = randTensor(shape, 21, dtype, b.device);
        const Y = randTensor(shape, 22, dtype, b.device);
        const absTol = (s: number) => ({ rtol: 0, atol: 1e-12 * slack * Math.max(s, 1e-300) });
        const s = nc.sum(X.t);
        expect(typeof s).toBe('number');
        expectClose(s, ref.refSum(X.v), absTol(ref.refAbsSum(X.v)), 'sum');
        const prod = X.v.map((v, i) => Math.abs(v * Y.v[i]));
        expectClose(nc.dot(X.t, Y.t), ref.refDot(X.v, Y.v), absTol(ref.refSum(prod)), 'dot');
        expectClose(nc.squaredNorm(X.t), ref.refSquaredNorm(X.v), absTol(ref.refSquaredNorm(X.v)), 'squaredNorm');
        X.t.dispose();
        Y.t.dispose();
      });

      test('double accumulation: 1 + 2^-30 repeated does not lose the small terms', () => {
        // In float32, 1 + 2⁻³⁰ rounds to 1; a float32 accumulator would give exactly n.
        // The values themselves are exact in both dtypes when they are powers of two.
        const n = 4096;
        const vals = new Float64Array(n).fill(2 ** -30);
        vals[0] = 1;
        const t = tensor(vals, [n], dtype, b.device);
        expect(nc.sum(t)).toBe(1 + (n - 1) * 2 ** -30);
        const ones = tensor(new Float64Array(n).fill(1), [n], dtype, b.device);
        expect(nc.dot(t, ones)).toBe(1 + (n - 1) * 2 ** -30);
        // squaredNorm of [1, 2^-15 × (n-1)] = 1 + (n-1)·2^-30
        const v2 = new Float64Array(n).fill(2 ** -15);
        v2[0] = 1;
        expect(nc.squaredNorm(tensor(v2, [n], dtype, b.device))).toBe(1 + (n - 1) * 2 ** -30);
      });

      test('large float32 sum is not clamped to float32 range', () => {
        if (dtype !== 'float32') return expect(dtype).toBe('float64');
        // 3e38 + 3e38 overflows float32 but not double
        const t = tensor([3e38, 3e38], [2], dtype, b.device);
        const s = nc.sum(t);
        expect(Number.isFinite(s)).toBe(true);
        expectClose(s, 2 * Math.fround(3e38), { rtol: 1e-15, atol: 0 });
      });

      test('empty and 0-d tensors', () => {
        expect(nc.sum(tensor([], [0], dtype, b.device))).toBe(0);
        expect(nc.squaredNorm(tensor([], [0], dtype, b.device))).toBe(0);
        expect(nc.sum(tensor([2.5], [], dtype, b.device))).toBe(2.5);
        expect(nc.dot(tensor([2.5], [], dtype, b.device), tensor([-4], [], dtype, b.device))).toBe(-10);
      });
    });
  }
});
