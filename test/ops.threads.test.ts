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
      test('gemm, conv2d and linear agree to rounding (both GEMM implementations)', () => {
        if (nc.blasAvailable()) impls.push('blas');
        const saved = nc.getGemmImplementation();
        try {
          for (const impl of impls) {
            nc.setGemmImplementation(impl);
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
            r1.forEach((a, i) => expectClose(r2[i], a, accumTol(dtype, terms[i]), `${impl} result ${i}`));
          }
        } finally {
          nc.setGemmImplementation(saved);
        }
      });
    });
  }
});
