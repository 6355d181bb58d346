// Every backward against central finite differences of the library's own forward (float64),
// the Hessian products against finite differences of the gradients, and the adjoint
// identities ⟨dy, f(x)⟩ = ⟨f*(dy), x⟩ of the linear maps.
//
// FD tolerance: h = 1e-6 on O(1) data, truncation O(h²)·|f'''| ~ 1e-12, rounding
// ~ε·|L|/h ~ 1e-10·|L|: rtol 1e-6 of max(1, |values|) leaves a wide margin while any wrong
// index, missing term or wrong scale gives O(1) relative errors.
// Adjoint identities are exact in real arithmetic: float64 rtol 1e-12, float32 1e-5·sqrt(n)
// relative to Σ|terms|.
import * as nc from '../lib';
import { Tensor } from '../lib';
import * as ref from './reference';
import { checkGradient, describeEachBackend, dotF64, expectClose, f64, randData, randDistribution, randTensor, tensor } from './helpers';

type Pair = number | [number, number];

const convCases: { name: string; x: number[]; w: number[]; stride?: Pair; padding?: Pair }[] = [
  { name: '3x3 pad 1', x: [2, 3, 5, 5], w: [2, 3, 3, 3], padding: 1 },
  { name: 'stride 2 non-square', x: [1, 2, 7, 6], w: [3, 2, 2, 3], stride: 2, padding: [1, 0] },
  { name: '1x1 kernel', x: [2, 3, 3, 2], w: [4, 3, 1, 1] },
  { name: 'pad 2 stride [1,2]', x: [1, 1, 4, 5], w: [2, 1, 3, 3], stride: [1, 2], padding: 2 },
];

const poolCases: { name: string; x: number[]; kernel: Pair; stride?: Pair; padding?: Pair }[] = [
  { name: '2x2 odd image', x: [2, 2, 5, 7], kernel: 2 },
  { name: '3x3 stride 1 overlapping', x: [1, 2, 5, 5], kernel: 3, stride: 1 },
  { name: '3x3 stride 2 pad 1', x: [1, 3, 7, 6], kernel: 3, stride: 2, padding: 1 },
  { name: 'non-square [2,3] pad [1,2]', x: [2, 1, 5, 6], kernel: [2, 3], stride: [2, 1], padding: [1, 2] },
];

describeEachBackend('gradients', (b) => {
  const dev = b.device;
  const T = (v: ArrayLike<number>, shape: readonly number[], dtype: 'float32' | 'float64' = 'float64') => tensor(v, shape, dtype, dev);
  const hasF64 = b.dtypes.includes('float64');
  const fdTest = test;
  // Finite differences need float64; a backend that runs float32 only (CUDA, see
  // helpers.backends) is covered by the float32 adjoint identities below instead.
  const describeFD = hasF64 ? describe : (_name: string, _fn: () => void) => undefined;

  describeFD('finite differences (float64)', () => {
    fdTest('reluBackward', () => {
      const shape = [3, 7];
      const x = randData(21, 1);
      checkGradient(
        (xx) => f64(nc.relu(T(xx, shape))),
        (r) => f64(nc.reluBackward(T(r, shape), T(x, shape))),
        x,
        { what: 'relu' },
      );
    });

    fdTest('biasAdd / biasGrad', () => {
      const shape = [2, 3, 4, 5];
      const y = randData(120, 2);
      const bias = randData(3, 3);
      checkGradient(
        (bb) => f64(nc.biasAdd(T(y, shape), T(bb, [3]))),
        (r) => f64(nc.biasGrad(T(r, shape))),
        bias,
        { what: 'biasGrad' },
      );
    });

    fdTest.each([
      [1, 1, 1],
      [3, 7, 5],
      [5, 13, 2],
    ])('linearBackward N=%i I=%i O=%i (x, w, b)', (N, I, O) => {
      const x = randData(N * I, 4), w = randData(O * I, 5), bb = randData(O, 6);
      const fwd = (xx: Float64Array, ww: Float64Array, bv: Float64Array) => f64(nc.linear(T(xx, [N, I]), T(ww, [O, I]), T(bv, [O])));
      const grads = (r: Float64Array) => nc.linearBackward(T(r, [N, O]), T(x, [N, I]), T(w, [O, I]), { bias: true });
      checkGradient((xx) => fwd(xx, w, bb), (r) => f64(grads(r).dx), x, { what: 'linear dx' });
      checkGradient((ww) => fwd(x, ww, bb), (r) => f64(grads(r).dw), w, { what: 'linear dw' });
      checkGradient((bv) => fwd(x, w, bv), (r) => f64(grads(r).db!), bb, { what: 'linear db' });
    });

    fdTest.each(convCases.map((c) => [c.name, c]))('conv2d backward data/filter/bias: %s', (_n, c) => {
      const opts = { stride: c.stride, padding: c.padding };
      const g = ref.convGeom(c.x, c.w, c.stride ?? 1, c.padding ?? 0);
      const yShape = [g.N, g.K, g.P, g.Q];
      const x = randData(ref.numel(c.x), 7), w = randData(ref.numel(c.w), 8), bb = randData(g.K, 9);
      const fwd = (xx: Float64Array, ww: Float64Array, bv: Float64Array) => f64(nc.conv2d(T(xx, c.x), T(ww, c.w), T(bv, [g.K]), opts));
      checkGradient((xx) => fwd(xx, w, bb), (r) => f64(nc.conv2dBackwardData(T(r, yShape), T(w, c.w), c.x, opts)), x, { what: 'conv2dBackwardData' });
      checkGradient((ww) => fwd(x, ww, bb), (r) => f64(nc.conv2dBackwardFilter(T(r, yShape), T(x, c.x), c.w, opts)), w, { what: 'conv2dBackwardFilter' });
      checkGradient((bv) => fwd(x, w, bv), (r) => f64(nc.conv2dBackwardBias(T(r, yShape))), bb, { what: 'conv2dBackwardBias' });
    });

    fdTest.each(poolCases.map((c) => [c.name, c]))('max/avg pool backward: %s', (_n, c) => {
      const opts = { kernel: c.kernel, stride: c.stride, padding: c.padding };
      const g = ref.poolGeom(c.x, c.kernel, c.stride, c.padding);
      const yShape = [g.N, g.C, g.P, g.Q];
      // distinct values (random data): the max is unique, so the map is locally linear and
      // h·|v| = 1e-6 cannot change the argmax (gaps between values are ≫ 1e-6 here)
      const x = randData(ref.numel(c.x), 10);
      const argmax = nc.maxPool2d(T(x, c.x), opts).argmax;
      checkGradient(
        (xx) => f64(nc.maxPool2d(T(xx, c.x), opts).y),
        (r) => f64(nc.maxPool2dBackward(T(r, yShape), argmax, c.x, opts)),
        x,
        { what: 'maxPool2dBackward' },
      );
      checkGradient(
        (xx) => f64(nc.avgPool2d(T(xx, c.x), opts)),
        (r) => f64(nc.avgPool2dBackward(T(r, yShape), c.x, opts)),
        x,
        { what: 'avgPool2dBackward' },
      );
    });

    fdTest.each([
      [1, 1],
      [4, 7],
      [13, 3],
    ])('squaredLossGradient and squaredLossHessianProduct N=%i K=%i', (N, K) => {
      const z = randData(N * K, 11), y = randData(N * K, 12), u = randData(N * K, 13);
      checkGradient((zz) => nc.squaredLoss(T(zz, [N, K]), T(y, [N, K])), (r) => f64(nc.squaredLossGradient(T(z, [N, K]), T(y, [N, K]))).map((v) => v * r[0]), z, { what: 'squaredLossGradient' });
      // Hessian product: (∇L(z + h u) − ∇L(z − h u)) / 2h
      const h = 1e-6;
      const gp = f64(nc.squaredLossGradient(T(z.map((v, i) => v + h * u[i]), [N, K]), T(y, [N, K])));
      const gm = f64(nc.squaredLossGradient(T(z.map((v, i) => v - h * u[i]), [N, K]), T(y, [N, K])));
      expectClose(f64(nc.squaredLossHessianProduct(T(z, [N, K]), T(u, [N, K]))), gp.map((v, i) => (v - gm[i]) / (2 * h)), { rtol: 1e-6, atol: 1e-7 }, 'squared-loss H·u');
    });

    fdTest.each([
      [1, 1],
      [1, 5],
      [4, 7],
      [13, 3],
    ])('softmaxCrossEntropyGradient and HessianProduct N=%i K=%i', (N, K) => {
      const z = randData(N * K, 14, 2), u = randData(N * K, 15);
      const y = randDistribution(N, K, 16);
      checkGradient(
        (zz) => nc.softmaxCrossEntropy(T(zz, [N, K]), T(y, [N, K])),
        (r) => f64(nc.softmaxCrossEntropyGradient(T(z, [N, K]), T(y, [N, K]))).map((v) => v * r[0]),
        z,
        { what: 'softmaxCrossEntropyGradient' },
      );
      const h = 1e-6;
      const gp = f64(nc.softmaxCrossEntropyGradient(T(z.map((v, i) => v + h * u[i]), [N, K]), T(y, [N, K])));
      const gm = f64(nc.softmaxCrossEntropyGradient(T(z.map((v, i) => v - h * u[i]), [N, K]), T(y, [N, K])));
      expectClose(
        f64(nc.softmaxCrossEntropyHessianProduct(T(z, [N, K]), T(u, [N, K]))),
        gp.map((v, i) => (v - gm[i]) / (2 * h)),
        { rtol: 1e-6, atol: 1e-8 },
        'cross-entropy H·u',
      );
      // the Hessian product does not depend on the targets (it is the Hessian of log-sum-exp)
      const y2 = randDistribution(N, K, 17);
      const gp2 = f64(nc.softmaxCrossEntropyGradient(T(z.map((v, i) => v + h * u[i]), [N, K]), T(y2, [N, K])));
      const gm2 = f64(nc.softmaxCrossEntropyGradient(T(z.map((v, i) => v - h * u[i]), [N, K]), T(y2, [N, K])));
      expectClose(gp2.map((v, i) => (v - gm2[i]) / (2 * h)), gp.map((v, i) => (v - gm[i]) / (2 * h)), { rtol: 1e-6, atol: 1e-8 }, 'H independent of y');
    });

    fdTest('cross-entropy Hessian product is symmetric: ⟨u, H v⟩ = ⟨v, H u⟩', () => {
      const N = 3, K = 6;
      const z = randData(N * K, 18, 2), u = randData(N * K, 19), v = randData(N * K, 20);
      const Hu = f64(nc.softmaxCrossEntropyHessianProduct(T(z, [N, K]), T(u, [N, K])));
      const Hv = f64(nc.softmaxCrossEntropyHessianProduct(T(z, [N, K]), T(v, [N, K])));
      expectClose(dotF64(v, Hu), dotF64(u, Hv), { rtol: 1e-12, atol: 1e-14 }, 'symmetry');
      // and positive semi-definite: ⟨u, H u⟩ ≥ 0
      expect(dotF64(u, Hu)).toBeGreaterThanOrEqual(-1e-15);
    });
  });

  for (const dtype of b.dtypes) {
    describe(`adjoint identities (${dtype})`, () => {
      // |⟨a, b⟩ − ⟨c, d⟩| ≤ tol·(Σ|a b| + Σ|c d|)
      const adj = (a: Float64Array, fx: Float64Array, c: Float64Array, x: Float64Array, what: string, terms: number) => {
        const lhs = dotF64(a, fx), rhs = dotF64(c, x);
        const mag = dotF64(a.map(Math.abs), fx.map(Math.abs)) + dotF64(c.map(Math.abs), x.map(Math.abs));
        const rel = dtype === 'float64' ? 1e-12 : 1e-5 * Math.sqrt(terms) * b.f32AccumFactor;
        expectClose(lhs, rhs, { rtol: 0, atol: rel * mag }, what);
      };

      test.each(convCases.map((c) => [c.name, c]))('conv2d: %s', (_n, c) => {
        const opts = { stride: c.stride, padding: c.padding };
        const g = ref.convGeom(c.x, c.w, c.stride ?? 1, c.padding ?? 0);
        const yShape = [g.N, g.K, g.P, g.Q];
        const X = randTensor(c.x, 31, dtype, dev), W = randTensor(c.w, 32, dtype, dev), DY = randTensor(yShape, 33, dtype, dev);
        const y = f64(nc.conv2d(X.t, W.t, null, opts));
        adj(DY.v, y, f64(nc.conv2dBackwardData(DY.t, W.t, c.x, opts)), X.v, '⟨dy, conv(x)⟩ = ⟨convBackwardData(dy), x⟩', g.C * g.R * g.S);
        adj(DY.v, y, f64(nc.conv2dBackwardFilter(DY.t, X.t, c.w, opts)), W.v, '⟨dy, conv(w)⟩ = ⟨convBackwardFilter(dy), w⟩', g.C * g.R * g.S);
        // bias: ⟨dy, conv(0, 0, b)⟩ = ⟨biasGrad(dy), b⟩
        const Bv = randTensor([g.K], 34, dtype, dev);
        const zeroX = Tensor.zeros(c.x, { dtype, device: dev });
        adj(DY.v, f64(nc.conv2d(zeroX, W.t, Bv.t, opts)), f64(nc.conv2dBackwardBias(DY.t)), Bv.v, 'bias adjoint', g.N * g.P * g.Q);
      });

      test.each(poolCases.map((c) => [c.name, c]))('pooling: %s', (_n, c) => {
        const opts = { kernel: c.kernel, stride: c.stride, padding: c.padding };
        const g = ref.poolGeom(c.x, c.kernel, c.stride, c.padding);
        const yShape = [g.N, g.C, g.P, g.Q];
        const X = randTensor(c.x, 35, dtype, dev), DY = randTensor(yShape, 36, dtype, dev);
        adj(DY.v, f64(nc.avgPool2d(X.t, opts)), f64(nc.avgPool2dBackward(DY.t, c.x, opts)), X.v, 'avg pool adjoint', g.kh * g.kw);
        // max pool with the argmax fixed is the linear selection y = x[argmax]
        const m = nc.maxPool2d(X.t, opts);
        adj(DY.v, f64(m.y), f64(nc.maxPool2dBackward(DY.t, m.argmax, c.x, opts)), X.v, 'max pool adjoint', g.kh * g.kw);
      });

      test.each([
        [1, 1, 1],
        [7, 13, 3],
        [2, 31, 17],
      ])('linear N=%i I=%i O=%i', (N, I, O) => {
        const X = randTensor([N, I], 37, dtype, dev), W = randTensor([O, I], 38, dtype, dev), DY = randTensor([N, O], 39, dtype, dev);
        const y = f64(nc.linear(X.t, W.t));
        const gr = nc.linearBackward(DY.t, X.t, W.t, { bias: false });
        adj(DY.v, y, f64(gr.dx), X.v, 'linear dx adjoint', I);
        adj(DY.v, y, f64(gr.dw), W.v, 'linear dw adjoint', I);
      });

      test('relu backward is the adjoint of the mask', () => {
        const X = randTensor([5, 7], 40, dtype, dev), DY = randTensor([5, 7], 41, dtype, dev), V = randTensor([5, 7], 42, dtype, dev);
        const maskV = f64(nc.mul(nc.reluMask(X.t), V.t));
        adj(DY.v, maskV, f64(nc.reluBackward(DY.t, X.t)), V.v, 'relu adjoint', 1);
      });
    });
  }
});
