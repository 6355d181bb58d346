// Results must not depend on the thread count. Reductions combine fixed-size blocks in a
// fixed order (native/core/parallel.h), so sum/dot/squaredNorm, the losses and element-wise
// ops must be bit-identical; GEMM-based ops (BLAS may split K differently per thread count)
// must agree to rounding (helpers.accumTol).
import * as nc from '../lib';
import { accumTol, expectClose, expectEqualArrays, f64, randTensor } from './helpers';

function withThreads<R>(n: number, f: () => R): R {
  const saved = nc.getNumThreads();
  nc.setNumThreads(n);
  try {
    expect(nc.getNumThreads()).toBe(n);
    expect(nc.info().threads).toBe(n);
    return f();
  } finally {
    nc.setNumThreads(saved);
  }
}

describe('setNumThreads / getNumThreads', () => {
  test('set, get and info().threads agree; 1 … n threads all compute', () => {
    const t0 = nc.getNumThreads();
    expect(Number.isInteger(t0) && t0 >= 1).toBe(true);
    try {
      for (const n of [3, 1, 2, 1, 4]) {
        nc.setNumThreads(n);
        expect(nc.getNumThreads()).toBe(n);
        expect(nc.info().threads).toBe(n);
        // run parallel work at each size (large enough to be split into chunks)
        const x = randTensor([200003], n);
        expect(nc.sum(x.t)).toBe(nc.sum(x.t));
        x.t.dispose();
      }
    } finally {
      nc.setNumThreads(t0);
    }
    expect(nc.getNumThreads()).toBe(t0);
  });
});

describe('random numbers are independent of the thread count', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    test(dtype, () => {
      const U = () => f64(nc.randomUniform([100003], { seed: 3, offset: 17, dtype }));
      const N = () => f64(nc.randomNormal([100003], { seed: 3, offset: 17, dtype }));
      const u1 = withThreads(1, U), n1 = withThreads(1, N);
      expectEqualArrays(withThreads(2, U), u1, 'uniform 1 vs 2 threads');
      expectEqualArrays(withThreads(2, N), n1, 'normal 1 vs 2 threads');
      expectEqualArrays(withThreads(4, U), u1, 'uniform 1 vs 4 threads');
    });
  }
});

describe('thread-count independence (cpu)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    describe(dtype, () => {
      test('reductions and losses are bit-identical for 1, 2 and 3 threads', () => {
        const X = randTensor([300007], 1, dtype);
        const Y = randTensor([300007], 2, dtype);
        const Z = randTensor([257, 10], 3, dtype);
        const T = randTensor([257, 10], 4, dtype);
        const compute = () => [
          nc.sum(X.t),
          nc.dot(X.t, Y.t),
          nc.squaredNorm(X.t),
          nc.squaredLoss(Z.t, T.t),
          nc.softmaxCrossEntropy(Z.t, nc.softmax(T.t)),
        ];
        const r1 = withThreads(1, compute);
        expect(withThreads(2, compute)).toEqual(r1);
        expect(withThreads(3, compute)).toEqual(r1);
      });

      test('element-wise ops, softmax, pooling and biasGrad are bit-identical', () => {
        const X = randTensor([4, 3, 33, 31], 5, dtype);
        const Y = randTensor([4, 3, 33, 31], 6, dtype);
        const compute = () => [
          f64(nc.add(X.t, Y.t)),
          f64(nc.relu(X.t)),
          f64(nc.scale(X.t, 0.3)),
          f64(nc.softmax(X.t.reshape([4 * 3 * 33, 31]))),
          f64(nc.maxPool2d(X.t, { kernel: 3, stride: 2, padding: 1 }).y),
          f64(nc.avgPool2d(X.t, { kernel: 2 })),
          f64(nc.biasGrad(X.t)),
        ];
        const r1 = withThreads(1, compute);
        const r2 = withThreads(2, compute);
        r1.forEach((a, i) => expectEqualArrays(r2[i], a, `result ${i}`));
      });

      const impls: ('builtin' | 'blas')[] = ['builtin'];
      test('gemm, conv2d and linear agree to rounding (both GEMM implementations, every conv implementation)', () => {
        if (nc.blasAvailable()) impls.push('blas');
        const convs: nc.ConvImplementation[] = nc.oneDnnAvailable() ? ['builtin', 'onednn'] : ['builtin'];
        const saved = nc.getGemmImplementation();
        const savedConv = nc.getConvImplementation();
        try {
          for (const [impl, conv] of impls.flatMap((i) => convs.map((c) => [i, c] as const))) {
            nc.setGemmImplementation(impl);
            nc.setConvImplementation(conv);
            const A = randTensor([67, 129], 7, dtype);
            const B = randTensor([129, 45], 8, dtype);
            const X = randTensor([3, 3, 17, 15], 9, dtype);
            const W = randTensor([8, 3, 3, 3], 10, dtype);
            const DY = randTensor([3, 8, 9, 8], 11, dtype);
            const compute = () => [
              f64(nc.matmul(A.t, B.t)),
              f64(nc.conv2d(X.t, W.t, null, { stride: 2, padding: 1 })),
              f64(nc.conv2dBackwardData(DY.t, W.t, [3, 3, 17, 15], { stride: 2, padding: 1 })),
              f64(nc.conv2dBackwardFilter(DY.t, X.t, [8, 3, 3, 3], { stride: 2, padding: 1 })),
            ];
            const r1 = withThreads(1, compute);
            const r2 = withThreads(2, compute);
            const terms = [129, 27, 72, 216];
            r1.forEach((a, i) => expectClose(r2[i], a, accumTol(dtype, terms[i]), `${impl} GEMM, ${conv} conv, result ${i}`));
          }
        } finally {
          nc.setGemmImplementation(saved);
          nc.setConvImplementation(savedConv);
        }
      });

      // Large GEMMs are split into blocks over the pool and convolutions into chunks of
      // images, both partitioned by shape only, so these must be bit-identical. The built-in
      // convolutions, that is: oneDNN's split its reductions by thread, which the test of
      // oneDNN holds to rounding instead (test/conv.onednn.test.ts).
      test('blocked gemm and chunked conv2d (and its fused passes) are bit-identical for 1, 2 and 3 threads', () => {
        const impls2: ('builtin' | 'blas')[] = nc.blasAvailable() ? ['builtin', 'blas'] : ['builtin'];
        const saved = nc.getGemmImplementation();
        const savedConv = nc.getConvImplementation();
        nc.setConvImplementation('builtin');
        try {
          for (const impl of impls2) {
            nc.setGemmImplementation(impl);
            const A = randTensor([200, 300], 12, dtype); // op(A) 300×200 when transA
            const B = randTensor([200, 700], 13, dtype);
            const BT = randTensor([700, 200], 14, dtype);
            const C = randTensor([700, 200], 15, dtype);
            const D = randTensor([200, 100], 16, dtype);
            const X = randTensor([20, 8, 14, 14], 17, dtype);
            const W = randTensor([16, 8, 3, 3], 18, dtype);
            const DY = randTensor([20, 16, 14, 14], 19, dtype);
            const X1 = randTensor([10, 4, 32, 32], 20, dtype);
            const W1 = randTensor([6, 4, 1, 1], 21, dtype);
            const DY1 = randTensor([10, 6, 32, 32], 22, dtype);
            const XS = randTensor([1, 8, 14, 14], 23, dtype);
            const DYS = randTensor([1, 16, 14, 14], 24, dtype);
            // the fused passes (native/core/ops/conv.h, note [fused conv passes]): their bias
            // sums run in double per image, then over the images in order
            const BIAS = randTensor([16], 25, dtype);
            const RX = randTensor([20, 8, 14, 14], 26, dtype);
            const V = randTensor([16, 8, 3, 3], 27, dtype);
            const RX1 = randTensor([10, 4, 32, 32], 28, dtype);
            const V1 = randTensor([6, 4, 1, 1], 29, dtype);
            const RXS = randTensor([1, 8, 14, 14], 30, dtype);
            const opts = { padding: 1 };
            const grads = (g: { dx: nc.Tensor | null; dw: nc.Tensor; db: nc.Tensor | null }) => [f64(g.dx!), f64(g.dw), f64(g.db!)];
            const compute = () => [
              f64(nc.gemm(A.t, B.t, { transA: true })), // column blocks
              f64(nc.gemm(A.t, BT.t, { transA: true, transB: true })),
              f64(nc.gemm(C.t, D.t)), // row blocks
              f64(nc.conv2d(X.t, W.t, null, opts)),
              f64(nc.conv2dBackwardData(DY.t, W.t, [20, 8, 14, 14], opts)),
              f64(nc.conv2dBackwardFilter(DY.t, X.t, [16, 8, 3, 3], opts)),
              f64(nc.conv2d(XS.t, W.t, null, opts)), // a lone chunk
              f64(nc.conv2dBackwardData(DYS.t, W.t, [1, 8, 14, 14], opts)),
              f64(nc.conv2dBackwardFilter(DYS.t, XS.t, [16, 8, 3, 3], opts)),
              f64(nc.conv2d(X1.t, W1.t, null)), // pointwise
              f64(nc.conv2dBackwardData(DY1.t, W1.t, [10, 4, 32, 32])),
              f64(nc.conv2dBackwardFilter(DY1.t, X1.t, [6, 4, 1, 1])),
              f64(nc.conv2dRelu(X.t, W.t, BIAS.t, opts)),
              f64(nc.conv2dRelu(XS.t, W.t, BIAS.t, opts)),
              ...grads(nc.conv2dBackward(DY.t, X.t, W.t, opts)),
              ...grads(nc.conv2dBackward(DYS.t, XS.t, W.t, opts)),
              ...grads(nc.conv2dBackward(DY1.t, X1.t, W1.t)),
              f64(nc.conv2dJvp(X.t, W.t, RX.t, V.t, BIAS.t, opts)),
              f64(nc.conv2dJvp(XS.t, W.t, RXS.t, V.t, BIAS.t, opts)),
              f64(nc.conv2dJvp(X1.t, W1.t, RX1.t, V1.t, null)),
            ];
            const r1 = withThreads(1, compute);
            for (const n of [2, 3]) {
              const rn = withThreads(n, compute);
              r1.forEach((a, i) => expectEqualArrays(rn[i], a, `${impl} result ${i}, ${n} threads`));
            }
          }
        } finally {
          nc.setGemmImplementation(saved);
          nc.setConvImplementation(savedConv);
        }
      });
    });
  }
});
