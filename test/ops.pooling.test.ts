// maxPool2d / avgPool2d forward and backward against the reference.
//
// Tolerances: max pooling is a selection, so y and argmax must be exact and its backward only
// adds dy values (exact unless windows overlap; then a sum of ≤ kh·kw terms: tight rtol).
// Average pooling sums kh·kw terms and divides: float32 rtol 1e-6·sqrt(kh·kw) (a few ulps),
// float64 1e-14.
import * as nc from '../lib';
import * as ref from './reference';
import { describeEachBackend, expectClose, expectEqualArrays, f64, randTensor, tensor, Tol } from './helpers';

interface Case {
  name: string;
  x: [number, number, number, number];
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
}

const cases: Case[] = [
  { name: '2x2 on even image', x: [2, 3, 8, 6], kernel: 2 },
  { name: '2x2 on odd image (floors)', x: [1, 3, 7, 5], kernel: 2 },
  { name: '2x2 on 13x31 (floors)', x: [2, 1, 13, 31], kernel: 2 },
  { name: '3x3 stride 1 (overlapping)', x: [1, 2, 7, 7], kernel: 3, stride: 1 },
  { name: '3x3 stride 2 pad 1', x: [2, 3, 7, 9], kernel: 3, stride: 2, padding: 1 },
  { name: 'non-square kernel [2,3] stride [1,2]', x: [1, 2, 7, 11], kernel: [2, 3], stride: [1, 2] },
  { name: 'padding = kernel − 1', x: [1, 1, 5, 5], kernel: 3, stride: 1, padding: 2 },
  { name: 'pad [1, 0], kernel 2, stride 1', x: [2, 1, 4, 5], kernel: 2, stride: 1, padding: [1, 0] },
  { name: '1x1 kernel', x: [1, 3, 5, 7], kernel: 1 },
  { name: 'kernel = image', x: [3, 2, 5, 4], kernel: [5, 4] },
  { name: '1x1 image', x: [1, 1, 1, 1], kernel: 1 },
  { name: 'batch 1, channel 1, 2x2 on 3x3 pad 1', x: [1, 1, 3, 3], kernel: 2, padding: 1 },
];

describeEachBackend('pooling', (b) => {
  for (const dtype of b.dtypes) {
    const avgTol = (k: number): Tol =>
      dtype === 'float32' ? { rtol: 1e-6 * Math.sqrt(k) * b.f32AccumFactor, atol: 1e-7 * b.f32AccumFactor } : { rtol: 1e-14, atol: 1e-15 };
    describe(dtype, () => {
      test.each(cases.map((c) => [c.name, c]))('%s', (_n, c) => {
        const opts = { kernel: c.kernel, stride: c.stride, padding: c.padding };
        const g = ref.poolGeom(c.x, c.kernel, c.stride, c.padding);
        const yShape = [g.N, g.C, g.P, g.Q];
        const X = randTensor(c.x, 201, dtype, b.device);
        const DY = randTensor(yShape, 202, dtype, b.device);

        const e = ref.refMaxPool2d(X.v, g);
        const { y, argmax } = nc.maxPool2d(X.t, opts);
        expect(y.shape).toEqual(yShape);
        expect(argmax.shape).toEqual(yShape);
        expect(y.dtype).toBe(dtype);
        expect(argmax.dtype).toBe('int32');
        expectEqualArrays(f64(y), e.y, 'maxPool2d y');
        expectEqualArrays(argmax.toArray(), e.argmax, 'maxPool2d argmax');

        const dx = nc.maxPool2dBackward(DY.t, argmax, c.x, opts);
        expect(dx.shape).toEqual(c.x);
        expectClose(f64(dx), ref.refMaxPool2dBackward(DY.v, e.argmax, g), dtype === 'float32' ? { rtol: 3e-7, atol: 3e-7 } : { rtol: 1e-15, atol: 1e-15 }, 'maxPool2dBackward');

        const kk = g.kh * g.kw;
        const ya = nc.avgPool2d(X.t, opts);
        expect(ya.shape).toEqual(yShape);
        expectClose(f64(ya), ref.refAvgPool2d(X.v, g), avgTol(kk), 'avgPool2d');
        const dxa = nc.avgPool2dBackward(DY.t, c.x, opts);
        expect(dxa.shape).toEqual(c.x);
        expectClose(f64(dxa), ref.refAvgPool2dBackward(DY.v, g), avgTol(kk), 'avgPool2dBackward');

        expectEqualArrays(f64(X.t), X.v, 'x unchanged');
        for (const t of [y, argmax, dx, ya, dxa, X.t, DY.t]) t.dispose();
      });

      test('stride defaults to the kernel, padding to 0', () => {
        const X = randTensor([1, 2, 9, 7], 7, dtype, b.device);
        const a = nc.maxPool2d(X.t, { kernel: 3 });
        const bb = nc.maxPool2d(X.t, { kernel: [3, 3], stride: [3, 3], padding: [0, 0] });
        expect(a.y.shape).toEqual([1, 2, 3, 2]);
        expectEqualArrays(f64(a.y), f64(bb.y));
        expectEqualArrays(a.argmax.toArray(), bb.argmax.toArray());
        expectEqualArrays(f64(nc.avgPool2d(X.t, { kernel: 3 })), f64(nc.avgPool2d(X.t, { kernel: 3, stride: 3, padding: 0 })));
      });

      test('ties choose the first (lowest) index; padding is never chosen even when all values are negative', () => {
        // all equal: every window picks its top-left valid position
        const X = tensor(new Array(16).fill(0.5), [1, 1, 4, 4], dtype, b.device);
        const r = nc.maxPool2d(X, { kernel: 2 });
        expectEqualArrays(r.argmax.toArray(), [0, 2, 8, 10]);
        expectEqualArrays(f64(r.y), [0.5, 0.5, 0.5, 0.5]);
        // overlapping windows with stride 1
        const r1 = nc.maxPool2d(X, { kernel: 3, stride: 1 });
        expectEqualArrays(r1.argmax.toArray(), [0, 1, 4, 5]);
        // negative values with padding: the padded zeros must not win
        const N = tensor(new Array(9).fill(-1), [1, 1, 3, 3], dtype, b.device);
        const rn = nc.maxPool2d(N, { kernel: 2, stride: 2, padding: 1 });
        expectEqualArrays(f64(rn.y), [-1, -1, -1, -1]);
        // windows: rows {-1,0} cols {-1,0} → (0,0); rows {-1,0} cols {1,2} → (0,1); ...
        expectEqualArrays(rn.argmax.toArray(), [0, 1, 3, 4]);
        // backward routes to argmax and accumulates over overlapping windows
        const dy = tensor([1, 2, 3, 4], [1, 1, 2, 2], dtype, b.device);
        const dx = nc.maxPool2dBackward(dy, r1.argmax, [1, 1, 4, 4], { kernel: 3, stride: 1 });
        expectEqualArrays(f64(dx), [1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      });

      test('avgPool2d divides by the full kernel area including padding', () => {
        const X = tensor(new Array(4).fill(1), [1, 1, 2, 2], dtype, b.device);
        // kernel 2, stride 2, pad 1: each window holds exactly one real pixel
        expectEqualArrays(f64(nc.avgPool2d(X, { kernel: 2, padding: 1 })), [0.25, 0.25, 0.25, 0.25]);
        const dx = nc.avgPool2dBackward(tensor([4, 8, 12, 16], [1, 1, 2, 2], dtype, b.device), [1, 1, 2, 2], { kernel: 2, padding: 1 });
        expectEqualArrays(f64(dx), [1, 2, 3, 4]);
      });
    });
  }
});

// maxPool2dReluBackward is defined as reluBackward(maxPool2dBackward(dy, argmax, pre.shape), pre):
// the fused pass must give exactly those bits (the mask is applied at every accumulation), also
// with overlapping windows, padding, zeros and negative inputs in the ReLU's input.
describeEachBackend('maxPool2dReluBackward (fused ReLU → max pool backward)', (b) => {
  for (const dtype of b.dtypes) {
    test.each(cases.map((c) => [c.name, c]))(`${dtype}: %s equals reluBackward ∘ maxPool2dBackward`, (_n, c) => {
      const opts = { kernel: c.kernel, stride: c.stride, padding: c.padding };
      const pre = randTensor(c.x, 301, dtype, b.device).t; // about half of it negative
      const act = nc.relu(pre);
      const { y, argmax } = nc.maxPool2d(act, opts);
      const dy = randTensor(y.shape, 302, dtype, b.device).t;
      const fused = nc.maxPool2dReluBackward(dy, argmax, pre, opts);
      const pooled = nc.maxPool2dBackward(dy, argmax, pre.shape, opts);
      const composed = nc.reluBackward(pooled, pre);
      expect(fused.shape).toEqual([...c.x]);
      expect(fused.dtype).toBe(dtype);
      expectEqualArrays(f64(fused), f64(composed), 'fused vs composed');
      for (const t of [pre, act, y, argmax, dy, fused, pooled, composed]) t.dispose();
    });
  }

  test('bad arguments name the op and the argument', () => {
    const pre = randTensor([1, 2, 4, 4], 303, 'float32', b.device).t;
    const { y, argmax } = nc.maxPool2d(pre, { kernel: 2 });
    const wrongPre = randTensor([1, 2, 6, 6], 304, 'float32', b.device).t;
    expect(() => nc.maxPool2dReluBackward(y, argmax, wrongPre, { kernel: 2 })).toThrow(/^maxPool2dReluBackward: dy must have shape \(1, 2, 3, 3\)/);
    expect(() => nc.maxPool2dReluBackward(y, argmax, 3 as unknown as nc.Tensor, { kernel: 2 })).toThrow(/^maxPool2dReluBackward: reluInput must be a Tensor/);
    expect(() => nc.maxPool2dReluBackward(y, y, pre, { kernel: 2 })).toThrow(/^maxPool2dReluBackward: argmax must be int32/);
    for (const t of [pre, y, argmax, wrongPre]) t.dispose();
  });
});
