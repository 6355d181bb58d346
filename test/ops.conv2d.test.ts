// conv2d forward, backward-data, backward-filter and bias against the loop reference.
//
// Tolerance (helpers.accumTol): every output of the forward is a sum of C·R·S products,
// backward-data of K·R·S (at most), backward-filter of N·P·Q; float32 rtol 2e-5 and
// atol 2e-5·sqrt(terms+1) (im2col+GEMM, Winograd-free direct loops and blocked BLAS all sum
// in different orders); float64 1e-11. A wrong index or a missed padding row gives O(1) errors.
import * as nc from '../lib';
import * as ref from './reference';
import { accumTol, describeEachBackend, expectClose, expectEqualArrays, f64, randTensor, tensor } from './helpers';

interface Case {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
  bias?: boolean;
}

const cases: Case[] = [
  { name: '1x1 everything', x: [1, 1, 1, 1], w: [1, 1, 1, 1] },
  { name: 'batch 1, 3 channels, 3x3, pad 1', x: [1, 3, 7, 7], w: [4, 3, 3, 3], padding: 1, bias: true },
  { name: 'stride 2, pad 1, odd image', x: [2, 3, 7, 5], w: [2, 3, 3, 3], stride: 2, padding: 1, bias: true },
  { name: 'non-square kernel 2x5, non-square image', x: [2, 1, 7, 13], w: [3, 1, 2, 5] },
  { name: 'non-square kernel with per-axis stride/pad', x: [1, 3, 13, 7], w: [2, 3, 5, 2], stride: [2, 1], padding: [2, 0], bias: true },
  { name: 'pad 2 larger than half the kernel', x: [2, 2, 5, 5], w: [3, 2, 3, 3], padding: 2 },
  { name: 'kernel = image (1x1 output)', x: [3, 2, 5, 4], w: [7, 2, 5, 4], bias: true },
  { name: 'stride 2 that skips the last column', x: [1, 1, 8, 8], w: [1, 1, 3, 3], stride: 2 },
  { name: '1x1 conv, prime channels', x: [2, 13, 3, 5], w: [7, 13, 1, 1], bias: true },
  { name: 'stride 3, pad [0, 2]', x: [1, 2, 11, 7], w: [2, 2, 3, 3], stride: 3, padding: [0, 2] },
  { name: '1-pixel image with padding', x: [2, 1, 1, 1], w: [2, 1, 3, 3], padding: 1 },
  // several im2col chunks (native/core/cpu/conv.cpp note [batched im2col]: the batch is cut
  // into chunks of a 4 MiB unfolded input, at least 1024 GEMM columns): one image per chunk,
  // and 9 images in chunks of 7 + 2 (float64)
  { name: 'one image per im2col chunk', x: [3, 64, 32, 32], w: [2, 64, 3, 3], padding: 1, bias: true },
  { name: 'uneven im2col chunks', x: [9, 32, 16, 16], w: [3, 32, 3, 3], padding: 1, stride: [1, 2] },
  { name: 'prime spatial, stride [1,2]', x: [2, 3, 13, 31], w: [2, 3, 3, 2], stride: [1, 2], padding: [1, 1], bias: true },
];

describeEachBackend('conv2d', (b) => {
  for (const dtype of b.dtypes) {
    describe(dtype, () => {
      test.each(cases.map((c) => [c.name, c]))('%s', (_n, c) => {
        const opts = { stride: c.stride, padding: c.padding };
        const g = ref.convGeom(c.x, c.w, c.stride ?? 1, c.padding ?? 0);
        const yShape = [g.N, g.K, g.P, g.Q];
        const X = randTensor(c.x, 101, dtype, b.device);
        const W = randTensor(c.w, 102, dtype, b.device);
        const B = c.bias ? randTensor([g.K], 103, dtype, b.device) : null;
        const DY = randTensor(yShape, 104, dtype, b.device);

        const y = nc.conv2d(X.t, W.t, B ? B.t : null, opts);
        expect(y.shape).toEqual(yShape);
        expect(y.dtype).toBe(dtype);
        expect(y.device).toBe(b.device);
        expectClose(f64(y), ref.refConv2d(X.v, W.v, B ? B.v : null, g), accumTol(dtype, g.C * g.R * g.S + 1, b), 'conv2d');

        const dx = nc.conv2dBackwardData(DY.t, W.t, c.x, opts);
        expect(dx.shape).toEqual(c.x);
        expectClose(f64(dx), ref.refConv2dBackwardData(DY.v, W.v, g), accumTol(dtype, g.K * g.R * g.S, b), 'conv2dBackwardData');

        const dw = nc.conv2dBackwardFilter(DY.t, X.t, c.w, opts);
        expect(dw.shape).toEqual(c.w);
        expectClose(f64(dw), ref.refConv2dBackwardFilter(DY.v, X.v, g), accumTol(dtype, g.N * g.P * g.Q, b), 'conv2dBackwardFilter');

        const db = nc.conv2dBackwardBias(DY.t);
        expect(db.shape).toEqual([g.K]);
        expectClose(f64(db), ref.refBiasGrad(DY.v, yShape), accumTol(dtype, g.N * g.P * g.Q, b), 'conv2dBackwardBias');

        // inputs are not modified
        expectEqualArrays(f64(X.t), X.v, 'x unchanged');
        expectEqualArrays(f64(W.t), W.v, 'w unchanged');
        expectEqualArrays(f64(DY.t), DY.v, 'dy unchanged');
        for (const t of [y, dx, dw, db, X.t, W.t, DY.t]) t.dispose();
        B?.t.dispose();
      });

      test('bias omitted, undefined or null all mean no bias; options default to stride 1 pad 0', () => {
        const X = randTensor([1, 2, 5, 5], 5, dtype, b.device);
        const W = randTensor([3, 2, 3, 3], 6, dtype, b.device);
        const g = ref.convGeom([1, 2, 5, 5], [3, 2, 3, 3]);
        const e = ref.refConv2d(X.v, W.v, null, g);
        const tol = accumTol(dtype, 18, b);
        expectClose(f64(nc.conv2d(X.t, W.t)), e, tol, 'no bias arg');
        expectClose(f64(nc.conv2d(X.t, W.t, undefined)), e, tol, 'undefined bias');
        expectClose(f64(nc.conv2d(X.t, W.t, null, {})), e, tol, 'null bias, {}');
        expectClose(f64(nc.conv2d(X.t, W.t, null, { stride: [1, 1], padding: [0, 0] })), e, tol, 'explicit pairs');
      });

      test('hand-computed 3x3 example with padding 1', () => {
        // x = 1..9 in a 3x3 image, w = all ones 3x3: each output is the sum of its 3x3
        // neighbourhood with zero padding.
        const x = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3], dtype, b.device);
        const w = tensor(new Array(9).fill(1), [1, 1, 3, 3], dtype, b.device);
        const y = nc.conv2d(x, w, null, { padding: 1 });
        expectEqualArrays(f64(y), [12, 21, 16, 27, 45, 33, 24, 39, 28]);
        // cross-correlation, not convolution: a kernel with a single 1 at (0, 0) shifts the
        // image down-right by one (y[p,q] = x[p-1,q-1])
        const e = tensor([1, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 3, 3], dtype, b.device);
        expectEqualArrays(f64(nc.conv2d(x, e, null, { padding: 1 })), [0, 0, 0, 0, 1, 2, 0, 4, 5]);
        // stride 2 with padding 1: outputs at (0,0), (0,2), (2,0), (2,2) of the padded sum
        expectEqualArrays(f64(nc.conv2d(x, w, null, { padding: 1, stride: 2 })), [12, 16, 24, 28]);
      });
    });
  }
});
