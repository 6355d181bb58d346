// The two native ops of the second-order methods, on every backend:
//  - maxPool2dJvp(rx, argmax, options): the R-operator of max pooling, a gather (exact);
//  - cgUpdate(x, r, p, q, alpha): CG's fused x += αp, r −= αq returning rᵀr (double).
//
// Tolerances: the gather and the element-wise updates are exact (x, r equal two axpy calls bit
// for bit on every backend: no FMA contraction); rᵀr is a double sum of the rounded r², so it
// matches a float64 reference to ~1e-12 relative.
import * as nc from '../lib';
import * as ref from './reference';
import { describeEachBackend, disposeAll, expectClose, expectEqualArrays, expectThrow, f64, randTensor, tensor } from './helpers';

interface PoolCase {
  name: string;
  x: [number, number, number, number];
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
}

const poolCases: PoolCase[] = [
  { name: '2x2 on even image', x: [2, 3, 8, 6], kernel: 2 },
  { name: '2x2 on odd image (floors)', x: [1, 3, 7, 5], kernel: 2 },
  { name: '3x3 stride 1 (overlapping)', x: [1, 2, 7, 7], kernel: 3, stride: 1 },
  { name: '3x3 stride 2 pad 1', x: [2, 3, 7, 9], kernel: 3, stride: 2, padding: 1 },
  { name: 'non-square kernel [2,3] stride [1,2]', x: [1, 2, 7, 11], kernel: [2, 3], stride: [1, 2] },
  { name: '1x1 image', x: [1, 1, 1, 1], kernel: 1 },
];

describeEachBackend('maxPool2dJvp', (b) => {
  for (const dtype of b.dtypes) {
    describe(dtype, () => {
      test.each(poolCases.map((c) => [c.name, c]))('%s: R{x}[argmax], adjoint of maxPool2dBackward', (_n, c) => {
        const opts = { kernel: c.kernel, stride: c.stride, padding: c.padding };
        const g = ref.poolGeom(c.x, c.kernel, c.stride, c.padding);
        const yShape = [g.N, g.C, g.P, g.Q];
        const X = randTensor(c.x, 301, dtype, b.device);
        const RX = randTensor(c.x, 302, dtype, b.device);
        const U = randTensor(yShape, 303, dtype, b.device);
        const { y, argmax } = nc.maxPool2d(X.t, opts);
        const ry = nc.maxPool2dJvp(RX.t, argmax, opts);
        expect(ry.shape).toEqual(yShape);
        expect(ry.dtype).toBe(dtype);
        const am = argmax.toArray() as Int32Array;
        const plane = g.H * g.W;
        const expected = new Float64Array(am.length);
        for (let i = 0; i < am.length; i++) expected[i] = RX.v[Math.floor(i / (g.P * g.Q)) * plane + am[i]];
        expectEqualArrays(f64(ry), expected, 'maxPool2dJvp');
        // ⟨u, jvp(rx)⟩ = ⟨backward(u), rx⟩ (the backward is the adjoint of the gather).
        const dx = nc.maxPool2dBackward(U.t, argmax, c.x, opts);
        const lhs = nc.dot(U.t, ry);
        const rhs = nc.dot(dx, RX.t);
        expectClose(lhs, rhs, dtype === 'float32' ? { rtol: 1e-5, atol: 1e-5 } : { rtol: 1e-13, atol: 1e-13 }, 'adjoint');
        disposeAll(X.t, RX.t, U.t, y, argmax, ry, dx);
      });

      test('equals the finite difference of maxPool2d (a gather is linear near generic x)', () => {
        const opts = { kernel: 2 };
        const X = randTensor([1, 2, 4, 6], 311, dtype, b.device);
        const RX = randTensor([1, 2, 4, 6], 312, dtype, b.device);
        const h = dtype === 'float32' ? 1e-3 : 1e-6;
        const step = nc.scale(RX.t, h);
        const plus = nc.add(X.t, step);
        const minus = nc.sub(X.t, step);
        const { y: yp, argmax: ap } = nc.maxPool2d(plus, opts);
        const { y: ym, argmax: amm } = nc.maxPool2d(minus, opts);
        const { y, argmax } = nc.maxPool2d(X.t, opts);
        const ry = nc.maxPool2dJvp(RX.t, argmax, opts);
        const fp = f64(yp), fm = f64(ym);
        const fd = fp.map((v, i) => (v - fm[i]) / (2 * h));
        expectClose(f64(ry), fd, dtype === 'float32' ? { rtol: 1e-2, atol: 1e-2 } : { rtol: 1e-8, atol: 1e-8 }, 'finite difference');
        disposeAll(X.t, RX.t, step, plus, minus, yp, ap, ym, amm, y, argmax, ry);
      });
    });
  }

  test('refuses bad arguments with the op and argument named', () => {
    const dtype = b.dtypes[0];
    const X = randTensor([1, 1, 4, 4], 320, dtype, b.device);
    const { y, argmax } = nc.maxPool2d(X.t, { kernel: 2 });
    expectThrow(() => nc.maxPool2dJvp(X.t, y, { kernel: 2 }), 'RangeError', /maxPool2dJvp: argmax must be int32/);
    expectThrow(() => nc.maxPool2dJvp(X.t, argmax, { kernel: 1 }), 'RangeError', /maxPool2dJvp: argmax must have shape \(1, 1, 4, 4\)/);
    const bad = tensor([0, 1, 99, 2], [1, 1, 2, 2], 'int32', b.device);
    expectThrow(() => nc.maxPool2dJvp(X.t, bad, { kernel: 2 }), 'RangeError', /maxPool2dJvp: argmax holds 99 at element 2, outside the 4x4 input plane/);
    expectThrow(() => nc.maxPool2dJvp(X.t, argmax, undefined as unknown as { kernel: number }), 'TypeError', /maxPool2dJvp/);
    expectThrow(() => nc.maxPool2dJvp(null as unknown as nc.Tensor, argmax, { kernel: 2 }), 'TypeError', /maxPool2dJvp: rx/);
    disposeAll(X.t, y, argmax, bad);
  });
});

describeEachBackend('cgUpdate', (b) => {
  for (const dtype of b.dtypes) {
    test.each([
      ['small', [7]],
      ['θ-sized, several blocks', [3 * 4096 + 17]],
      ['2-D', [5, 9]],
    ] as [string, number[]][])(`${dtype} %s: x += αp, r −= αq, returns rᵀr; equals two axpy calls bit for bit`, (_n, shape) => {
      const X = randTensor(shape, 401, dtype, b.device);
      const R = randTensor(shape, 402, dtype, b.device);
      const P = randTensor(shape, 403, dtype, b.device);
      const Q = randTensor(shape, 404, dtype, b.device);
      const alpha = 0.3712345678;
      const x2 = X.t.clone();
      const r2 = R.t.clone();
      const rr = nc.cgUpdate(X.t, R.t, P.t, Q.t, alpha);
      nc.axpy(x2, alpha, P.t);
      nc.axpy(r2, -alpha, Q.t);
      expectEqualArrays(f64(X.t), f64(x2), 'x');
      expectEqualArrays(f64(R.t), f64(r2), 'r');
      const rv = f64(r2);
      let s = 0;
      for (const v of rv) s += v * v;
      expectClose(rr, s, { rtol: 1e-12, atol: 0 }, 'rᵀr');
      expectClose(rr, nc.squaredNorm(r2), { rtol: 1e-12, atol: 0 }, 'rᵀr vs squaredNorm');
      // The float64 reference of the update itself.
      const a = dtype === 'float32' ? Math.fround(alpha) : alpha;
      const round = dtype === 'float32' ? Math.fround : (v: number): number => v;
      const xe = X.v.map((v, i) => round(v + round(a * P.v[i])));
      expectEqualArrays(f64(X.t), xe, 'x reference');
      disposeAll(X.t, R.t, P.t, Q.t, x2, r2);
    });
  }

  test('refuses mismatched shapes, dtypes, overlapping x/r and non-finite alpha', () => {
    const dtype = b.dtypes[0];
    const x = randTensor([6], 410, dtype, b.device).t;
    const r = randTensor([6], 411, dtype, b.device).t;
    const p = randTensor([6], 412, dtype, b.device).t;
    const q5 = randTensor([5], 413, dtype, b.device).t;
    expectThrow(() => nc.cgUpdate(x, r, p, q5, 1), 'RangeError', /cgUpdate: q has shape \(5\) but x has shape \(6\)/);
    expectThrow(() => nc.cgUpdate(x, x, p, p, 1), 'RangeError', /cgUpdate: x and r must not overlap/);
    expectThrow(() => nc.cgUpdate(x, r, p, p, Number.NaN), 'RangeError', /cgUpdate: alpha must be a finite number/);
    expectThrow(() => nc.cgUpdate(x, r, null as unknown as nc.Tensor, p, 1), 'TypeError', /cgUpdate: p/);
    if (b.dtypes.includes('float64') && b.dtypes.includes('float32')) {
      const other = dtype === 'float32' ? 'float64' : 'float32';
      const q = randTensor([6], 414, other, b.device).t;
      expectThrow(() => nc.cgUpdate(x, r, p, q, 1), 'RangeError', /cgUpdate: q has dtype/);
      q.dispose();
    }
    disposeAll(x, r, p, q5);
  });
});
