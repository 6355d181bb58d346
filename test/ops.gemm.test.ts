// gemm / matmul against the reference, for every transpose combination, alpha/beta/c, on
// awkward sizes, under both GEMM implementations (BLAS only when linked).
//
// Tolerance (helpers.accumTol): each output is a sum of K products of values in [-1, 1];
// float32 gets rtol 2e-5 and atol 2e-5·sqrt(K+1) (rounding of a K-term sum grows like
// sqrt(K)·ε·|partial sums|; blocked/vectorised kernels reorder terms freely), float64 1e-11.
import * as nc from '../lib';
import * as ref from './reference';
import { accumTol, describeEachBackend, expectClose, expectEqualArrays, f64, randTensor, tensor } from './helpers';

// [M, N, K]
const sizes: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 1],
  [7, 1, 13],
  [13, 7, 1],
  [7, 13, 31],
  [31, 31, 31],
  [2, 3, 5],
  [64, 33, 17],
  [1, 31, 130],
  [67, 5, 259],
  // crossing the built-in kernel's cache blocks (native/core/cpu/gemm.cpp: KC 256,
  // MC 64/128, NC 1024/2048) so that edge blocks and K-block accumulation are exercised
  [130, 3, 7],
  [3, 1031, 5],
  [2, 2051, 3],
  [5, 9, 513],
];
const transposes: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

function impls(): ('blas' | 'builtin')[] {
  return nc.blasAvailable() ? ['builtin', 'blas'] : ['builtin'];
}

describeEachBackend('gemm', (b) => {
  let saved: 'blas' | 'builtin';
  beforeAll(() => {
    saved = nc.getGemmImplementation();
  });
  afterAll(() => nc.setGemmImplementation(saved));

  for (const impl of b.kind === 'cpu' ? impls() : (['builtin'] as const)) {
    for (const dtype of b.dtypes) {
      describe(`${impl} ${dtype}`, () => {
        beforeEach(() => {
          if (b.kind === 'cpu') nc.setGemmImplementation(impl);
        });

        test('implementation switch is observable', () => {
          if (b.kind === 'cpu') {
            expect(nc.getGemmImplementation()).toBe(impl);
            expect(nc.info().gemm).toBe(impl);
          } else expect(b.kind).toBe('cuda');
        });

        test.each(sizes)('M=%i N=%i K=%i, all transposes', (M, N, K) => {
          for (const [tA, tB] of transposes) {
            const aShape: [number, number] = tA ? [K, M] : [M, K];
            const bShape: [number, number] = tB ? [N, K] : [K, N];
            const A = randTensor(aShape, M * 100 + K, dtype, b.device);
            const B = randTensor(bShape, N * 100 + K + 1, dtype, b.device);
            const out = nc.gemm(A.t, B.t, { transA: tA, transB: tB });
            expect(out.shape).toEqual([M, N]);
            expect(out.dtype).toBe(dtype);
            const e = ref.refGemm(A.v, aShape, B.v, bShape, { transA: tA, transB: tB });
            expectClose(f64(out), e.data, accumTol(dtype, K, b), `gemm transA=${tA} transB=${tB}`);
            if (!tA && !tB) expectClose(f64(nc.matmul(A.t, B.t)), e.data, accumTol(dtype, K, b), 'matmul');
            A.t.dispose();
            B.t.dispose();
            out.dispose();
          }
        });

        test.each([
          [7, 13, 5, 2.5, 0, true],
          [7, 13, 5, -0.5, 1, true],
          [13, 1, 31, 1, -2, false],
          [1, 1, 1, 3, 0.5, true],
          [31, 7, 13, 0, 1.5, true],
        ])('alpha/beta/c: M=%i N=%i K=%i alpha=%p beta=%p', (M, N, K, alpha, beta, withTrans) => {
          const tA = withTrans, tB = !withTrans;
          const aShape: [number, number] = tA ? [K, M] : [M, K];
          const bShape: [number, number] = tB ? [N, K] : [K, N];
          const A = randTensor(aShape, 31, dtype, b.device);
          const B = randTensor(bShape, 32, dtype, b.device);
          const C = randTensor([M, N], 33, dtype, b.device);
          const out = nc.gemm(A.t, B.t, { transA: tA, transB: tB, alpha, beta, c: C.t });
          const e = ref.refGemm(A.v, aShape, B.v, bShape, { transA: tA, transB: tB, alpha, beta, c: C.v });
          expectClose(f64(out), e.data, accumTol(dtype, K + 1, b), 'gemm with c');
          // c is an input, never written
          expectEqualArrays(f64(C.t), C.v, 'c unchanged');
          // alpha alone, no c
          const out2 = nc.gemm(A.t, B.t, { transA: tA, transB: tB, alpha });
          expectClose(f64(out2), ref.refGemm(A.v, aShape, B.v, bShape, { transA: tA, transB: tB, alpha }).data, accumTol(dtype, K, b), 'gemm alpha');
        });

        test('known small integer products are exact', () => {
          // [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]]
          const A = tensor([1, 2, 3, 4], [2, 2], dtype, b.device);
          const B = tensor([5, 6, 7, 8], [2, 2], dtype, b.device);
          expectEqualArrays(f64(nc.matmul(A, B)), [19, 22, 43, 50]);
          expectEqualArrays(f64(nc.gemm(A, B, { transA: true })), [26, 30, 38, 44]);
          expectEqualArrays(f64(nc.gemm(A, B, { transB: true })), [17, 23, 39, 53]);
          expectEqualArrays(f64(nc.gemm(A, B, { transA: true, transB: true })), [23, 31, 34, 46]);
          // (1×3)·(3×1) and (3×1)·(1×3)
          const r = tensor([1, 2, 3], [1, 3], dtype, b.device);
          const c = tensor([4, 5, 6], [3, 1], dtype, b.device);
          expectEqualArrays(f64(nc.matmul(r, c)), [32]);
          expectEqualArrays(f64(nc.matmul(c, r)), [4, 8, 12, 5, 10, 15, 6, 12, 18]);
        });
      });
    }
  }
});
