// Squared loss and softmax cross-entropy: values, gradients, Hessian products.
//
// Tolerances: losses are sums over N·K terms accumulated (spec: double accumulation for
// scalar results), float32 rtol 1e-6 relative to Σ|terms| · transcendental factor; softmax and
// the gradients are a few float32 operations per element including exp: rtol 1e-6, atol 1e-7
// (expf is accurate to ~1 ulp; the row sum of K exps adds sqrt(K)·ε). float64 1e-12.
import * as nc from '../lib';
import * as ref from './reference';
import { describeEachBackend, expectClose, expectEqualArrays, f64, randDistribution, randTensor, tensor, Tol } from './helpers';

const sizes: [number, number][] = [
  [1, 1],
  [1, 7],
  [7, 1],
  [13, 3],
  [3, 31],
  [31, 10],
];

describeEachBackend('losses', (b) => {
  for (const dtype of b.dtypes) {
    const f = b.f32TransFactor;
    const elemTol = (K: number): Tol => (dtype === 'float32' ? { rtol: 1e-6 * f * Math.sqrt(K), atol: 1e-7 * f * Math.sqrt(K) } : { rtol: 1e-12, atol: 1e-14 });
    const scalarTol = (absSum: number): Tol => (dtype === 'float32' ? { rtol: 0, atol: 1e-6 * f * absSum + 1e-30 } : { rtol: 0, atol: 1e-12 * absSum + 1e-300 });
    describe(dtype, () => {
      test.each(sizes)('squared loss N=%i K=%i', (N, K) => {
        const Z = randTensor([N, K], 401, dtype, b.device);
        const Y = randTensor([N, K], 402, dtype, b.device);
        const U = randTensor([N, K], 403, dtype, b.device);
        const l = nc.squaredLoss(Z.t, Y.t);
        expect(typeof l).toBe('number');
        const e = ref.refSquaredLoss(Z.v, Y.v);
        expectClose(l, e, scalarTol(e), 'squaredLoss');
        const g = nc.squaredLossGradient(Z.t, Y.t);
        expect(g.shape).toEqual([N, K]);
        expect(g.dtype).toBe(dtype);
        // 2(z − y) is one subtraction and an exact doubling: correctly rounded
        const eg = ref.refSquaredLossGradient(Z.v, Y.v);
        expectClose(f64(g), dtype === 'float32' ? Float64Array.from(Float32Array.from(eg)) : eg, { rtol: 0, atol: 0 }, 'squaredLossGradient');
        const h = nc.squaredLossHessianProduct(Z.t, U.t);
        expect(h.shape).toEqual([N, K]);
        expectEqualArrays(f64(h), ref.refSquaredLossHessianProduct(U.v), 'squaredLossHessianProduct');
        expectEqualArrays(f64(Z.t), Z.v, 'z unchanged');
        expectEqualArrays(f64(U.t), U.v, 'u unchanged');
      });

      test.each(sizes)('softmax and cross-entropy N=%i K=%i', (N, K) => {
        const Z = randTensor([N, K], 411, dtype, b.device, 3);
        const yv = randDistribution(N, K, 412);
        const Y = { t: tensor(yv, [N, K], dtype, b.device), v: Float64Array.from(f64(tensor(yv, [N, K], dtype, b.device))) };
        const U = randTensor([N, K], 413, dtype, b.device);

        const p = nc.softmax(Z.t);
        expect(p.shape).toEqual([N, K]);
        expect(p.dtype).toBe(dtype);
        const ep = ref.refSoftmax(Z.v, N, K);
        expectClose(f64(p), ep, elemTol(K), 'softmax');
        // rows sum to 1
        const pv = f64(p);
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += pv[n * K + k];
          expectClose(s, 1, dtype === 'float32' ? { rtol: 0, atol: 2e-6 * f * Math.sqrt(K) } : { rtol: 0, atol: 1e-14 }, `softmax row ${n} sum`);
        }

        const l = nc.softmaxCrossEntropy(Z.t, Y.t);
        const el = ref.refSoftmaxCrossEntropy(Z.v, Y.v, N, K);
        // Σ|y·log p| bounds the size of the terms
        let absSum = 0;
        for (let i = 0; i < N * K; i++) absSum += Math.abs(Y.v[i] * Math.log(Math.max(ep[i], 1e-300)));
        expectClose(l, el, scalarTol(absSum + N), 'softmaxCrossEntropy');

        const g = nc.softmaxCrossEntropyGradient(Z.t, Y.t);
        expect(g.shape).toEqual([N, K]);
        expectClose(f64(g), ref.refSoftmaxCrossEntropyGradient(Z.v, Y.v, N, K), elemTol(K), 'softmaxCrossEntropyGradient');

        const h = nc.softmaxCrossEntropyHessianProduct(Z.t, U.t);
        expect(h.shape).toEqual([N, K]);
        expectClose(f64(h), ref.refSoftmaxCrossEntropyHessianProduct(Z.v, U.v, N, K), elemTol(K), 'softmaxCrossEntropyHessianProduct');
        expectEqualArrays(f64(Z.t), Z.v, 'z unchanged');
      });

      test('softmax is stable for large logits and exact for known inputs', () => {
        // shift invariance: huge logits must not overflow to NaN/Infinity
        const z = tensor([1000, 1001, 1002, -1000, -1001, -1002], [2, 3], dtype, b.device);
        const p = f64(nc.softmax(z));
        const e = ref.refSoftmax(Float64Array.of(0, 1, 2, 0, -1, -2), 2, 3);
        expectClose(p, e, elemTol(3), 'softmax large logits');
        // cross-entropy with a one-hot target = −log p_target, finite even for large logits
        const y = tensor([0, 0, 1, 1, 0, 0], [2, 3], dtype, b.device);
        const l = nc.softmaxCrossEntropy(z, y);
        expect(Number.isFinite(l)).toBe(true);
        expectClose(l, -Math.log(e[2]) - Math.log(e[3]), { rtol: dtype === 'float32' ? 1e-5 * f : 1e-12, atol: 0 }, 'cross-entropy large logits');
        // uniform logits: p = 1/K
        const u = f64(nc.softmax(tensor([0.5, 0.5, 0.5, 0.5], [1, 4], dtype, b.device)));
        expectClose(u, [0.25, 0.25, 0.25, 0.25], { rtol: dtype === 'float32' ? 3e-7 : 1e-15, atol: 0 }, 'uniform softmax');
        // a single class: p = 1, loss 0 for y = 1, gradient 0
        const z1 = tensor([3.7, -2], [2, 1], dtype, b.device);
        const y1 = tensor([1, 1], [2, 1], dtype, b.device);
        expectEqualArrays(f64(nc.softmax(z1)), [1, 1]);
        expectClose(nc.softmaxCrossEntropy(z1, y1), 0, { rtol: 0, atol: 0 }, 'single-class loss');
        expectEqualArrays(f64(nc.softmaxCrossEntropyGradient(z1, y1)), [0, 0]);
      });

      test('cross-entropy Hessian product annihilates constant directions (rows of ones)', () => {
        // H·1 = p − p(pᵀ1) = 0 for each row: a structural property of the softmax Hessian
        const Z = randTensor([5, 7], 420, dtype, b.device, 2);
        const ones = tensor(new Array(35).fill(1), [5, 7], dtype, b.device);
        expectClose(f64(nc.softmaxCrossEntropyHessianProduct(Z.t, ones)), new Float64Array(35), { rtol: 0, atol: dtype === 'float32' ? 1e-6 * f : 1e-15 }, 'H·1');
      });
    });
  }
});
