// Element-wise ops against the float64 reference.
//
// Tolerances: add/sub/mul/relu/reluMask/reluBackward/fill/copy/cast are exact (one IEEE
// operation per element, correctly rounded in float32 and float64 alike, and the float64
// reference rounded to float32 equals the float32 result because double has more than
// 2·24+2 bits). scale and axpy may multiply by alpha held in double or rounded to float32,
// so float32 gets rtol 3e-7 (≈ 2.5 ulp) and float64 1e-15.
import * as nc from '../lib';
import { Tensor } from '../lib';
import * as ref from './reference';
import { describeEachBackend, expectClose, expectEqualArrays, expectThrow, f64, randTensor, roundTo, tensor, Tol } from './helpers';

const shapes: number[][] = [[1], [7], [13], [0], [], [3, 31], [2, 3, 5, 7], [1, 1, 1, 1], [31, 13]];

const scaleTol = (dtype: string): Tol => (dtype === 'float32' ? { rtol: 3e-7, atol: 1e-30 } : { rtol: 1e-15, atol: 1e-300 });
const rounded = (dtype: string, x: Float64Array) => roundTo(dtype as 'float32', x);

describeEachBackend('element-wise', (b) => {
  for (const dtype of b.dtypes) {
    describe(dtype, () => {
      test.each(shapes.map((s) => [s.join('x') || 'scalar', s]))('add/sub/mul exact, shape %s', (_n, shape) => {
        const A = randTensor(shape, 1, dtype, b.device);
        const B = randTensor(shape, 2, dtype, b.device);
        for (const [op, r] of [
          [nc.add, ref.refAdd],
          [nc.sub, ref.refSub],
          [nc.mul, ref.refMul],
        ] as const) {
          const out = op(A.t, B.t);
          expect(out.shape).toEqual(shape);
          expect(out.dtype).toBe(dtype);
          expect(out.device).toBe(b.device);
          expectEqualArrays(f64(out), rounded(dtype, r(A.v, B.v)), op.name);
          out.dispose();
        }
        // inputs untouched
        expectEqualArrays(f64(A.t), A.v);
        expectEqualArrays(f64(B.t), B.v);
        A.t.dispose();
        B.t.dispose();
      });

      test.each([
        [[7], 2.5],
        [[13, 3], -0.3],
        [[1], 0],
        [[2, 3, 5], 1e-3],
        [[31], -7],
      ])('scale shape %j alpha %p', (shape, alpha) => {
        const X = randTensor(shape as number[], 3, dtype, b.device);
        const out = nc.scale(X.t, alpha as number);
        expect(out.shape).toEqual(shape);
        expectClose(f64(out), rounded(dtype, ref.refScale(X.v, alpha as number)), scaleTol(dtype));
        expectEqualArrays(f64(X.t), X.v);
      });

      test.each([
        [[7], 0.5],
        [[13, 31], -1.25],
        [[1], 3],
        [[2, 3, 1, 5], 0],
      ])('axpy in place shape %j alpha %p', (shape, alpha) => {
        const Y = randTensor(shape as number[], 4, dtype, b.device);
        const X = randTensor(shape as number[], 5, dtype, b.device);
        const ret = nc.axpy(Y.t, alpha as number, X.t);
        expect(ret).toBeUndefined();
        expectClose(f64(Y.t), rounded(dtype, ref.refAxpy(Y.v, alpha as number, X.v)), { rtol: dtype === 'float32' ? 3e-7 : 1e-15, atol: dtype === 'float32' ? 2e-7 : 1e-15 });
        expectEqualArrays(f64(X.t), X.v, 'x unchanged');
      });

      test.each(shapes.map((s) => [s.join('x') || 'scalar', s]))('relu, reluMask, reluBackward exact, shape %s', (_n, shape) => {
        const X = randTensor(shape, 6, dtype, b.device);
        const D = randTensor(shape, 7, dtype, b.device);
        expectEqualArrays(f64(nc.relu(X.t)), ref.refRelu(X.v), 'relu');
        const mask = nc.reluMask(X.t);
        expect(mask.dtype).toBe(dtype);
        expect(mask.shape).toEqual(shape);
        expectEqualArrays(f64(mask), ref.refReluMask(X.v), 'reluMask');
        expectEqualArrays(f64(nc.reluBackward(D.t, X.t)), ref.refReluBackward(D.v, X.v), 'reluBackward');
      });

      test('relu at exactly zero and negative zero gives 0, mask 0, backward 0', () => {
        const x = tensor([0, -0, 1, -1], [4], dtype, b.device);
        const dy = tensor([5, 6, 7, 8], [4], dtype, b.device);
        expectEqualArrays(f64(nc.relu(x)), [0, 0, 1, 0]);
        expectEqualArrays(f64(nc.reluMask(x)), [0, 0, 1, 0]);
        expectEqualArrays(f64(nc.reluBackward(dy, x)), [0, 0, 7, 0]);
      });

      test('fill and copy', () => {
        const t = randTensor([3, 7], 8, dtype, b.device).t;
        expect(nc.fill(t, -2.5)).toBeUndefined();
        expectEqualArrays(f64(t), new Float64Array(21).fill(-2.5));
        const src = randTensor([3, 7], 9, dtype, b.device);
        expect(nc.copy(t, src.t)).toBeUndefined();
        expectEqualArrays(f64(t), src.v);
        // copy is a copy: changing the destination afterwards leaves the source alone
        nc.fill(t, 1);
        expectEqualArrays(f64(src.t), src.v);
        // fill rounds to the dtype
        nc.fill(t, 0.1);
        expectEqualArrays(f64(t), rounded(dtype, new Float64Array(21).fill(0.1)));
      });

      test('cast between float32 and float64, and from int32', () => {
        const X = randTensor([13, 3], 10, dtype, b.device);
        for (const to of ['float32', 'float64'] as const) {
          const y = nc.cast(X.t, to);
          expect(y.dtype).toBe(to);
          expect(y.shape).toEqual([13, 3]);
          expectEqualArrays(f64(y), roundTo(to, X.v), `cast ${dtype}->${to}`);
          y.dispose();
        }
        // int32 (argmax indices) casts to float data; float data never casts to int32
        // (native/core/dtype.h: int32 holds indices only)
        const idx = Tensor.from(Int32Array.of(-3, 0, 7, 2147483647, -2147483648));
        const back = nc.cast(idx, dtype);
        expect(back.dtype).toBe(dtype);
        expectEqualArrays(f64(back), roundTo(dtype, Float64Array.of(-3, 0, 7, 2147483647, -2147483648)));
        expectThrow(() => nc.cast(X.t, 'int32'), 'RangeError', /^cast: .*int32/);
        // casting to the same dtype returns a new tensor, not an alias
        const same = nc.cast(X.t, dtype);
        nc.fill(same, 0);
        expectEqualArrays(f64(X.t), X.v, 'cast to the same dtype must copy');
      });

      test.each([
        [[1, 1], 'N=1 C=1'],
        [[7, 3], '2-D'],
        [[2, 3, 5, 7], '4-D'],
        [[1, 13, 1, 1], 'C=13, 1x1'],
        [[3, 2, 31], '3-D'],
      ])('biasAdd and biasGrad shape %j (%s)', (shape) => {
        const Y = randTensor(shape, 11, dtype, b.device);
        const Bv = randTensor([shape[1]], 12, dtype, b.device);
        const out = nc.biasAdd(Y.t, Bv.t);
        expect(out.shape).toEqual(shape);
        expectEqualArrays(f64(out), rounded(dtype, ref.refBiasAdd(Y.v, shape, Bv.v)), 'biasAdd');
        const g = nc.biasGrad(Y.t);
        expect(g.shape).toEqual([shape[1]]);
        const n = Y.v.length / shape[1];
        const tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 * Math.sqrt(n) } : { rtol: 2e-6 * b.f32AccumFactor, atol: 2e-6 * b.f32AccumFactor * Math.sqrt(n) };
        expectClose(f64(g), ref.refBiasGrad(Y.v, shape), tol, 'biasGrad');
        expectClose(f64(nc.conv2dBackwardBias(Y.t)), ref.refBiasGrad(Y.v, shape), tol, 'conv2dBackwardBias');
      });
    });
  }

  test('mixing float32 data into a float64 computation is not silently allowed', () => {
    // (guard that the dtypes above really were different tensors)
    const a = Tensor.zeros([2], { dtype: 'float32', device: b.device });
    const c = Tensor.zeros([2], { dtype: 'float64', device: b.device });
    expectThrow(() => nc.add(a, c), 'RangeError', /add: .*float64.*float32|add: .*float32.*float64/);
  });
});
