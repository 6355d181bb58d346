// Curvature analysis (lib/analysis): the small-matrix Jacobi solver, Lanczos, power iteration,
// Hutchinson, Hutch++ and stochastic Lanczos quadrature on matrices of known spectrum; the
// curvature operator of networks against dense eigendecompositions (LAPACK), against the
// closed-form Hessian of a quadratic model, against finite differences of gradients over a
// fixed partition with batch norm in training mode, and restricted to one module against the
// sub-matrix of the full Hessian; whitened principal components and the condition number
// against depth of the n-shortcut linear networks.
//
// Tolerances: float64 throughout. Lanczos on a matrix of dimension n run to n steps reproduces
// the spectrum to rounding (1e-10 relative); converged Ritz values of a network Hessian agree
// with LAPACK's to the requested tolerance scale (1e-8 relative to max|λ|). Stochastic traces are
// checked against their own standard errors (4σ) or, for Hutch++ on a matrix of low rank, exactly.
import { Tensor } from '../lib';
import * as analysis from '../lib/analysis';
import { createDataset, principalComponents } from '../lib/data';
import { lapackAvailable } from '../lib/linalg';
import * as nn from '../lib/nn';
import { expectClose, expectThrow, f64, prng, randData } from './helpers';
import { oneHot, perturbConstants, t64 } from './nn-checks';

/** Q diag(d) Qᵀ for a random orthogonal Q (Gram-Schmidt of a seeded Gaussian matrix). */
function withSpectrum(d: readonly number[], seed: number): Float64Array {
  const n = d.length;
  const r = prng(seed);
  const q: Float64Array[] = [];
  while (q.length < n) {
    const v = Float64Array.from({ length: n }, () => r() - 0.5);
    for (let pass = 0; pass < 2; pass++) {
      for (const b of q) {
        let s = 0;
        for (let i = 0; i < n; i++) s += v[i] * b[i];
        for (let i = 0; i < n; i++) v[i] -= s * b[i];
      }
    }
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    q.push(v.map((x) => x / norm));
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += q[k][i] * d[k] * q[k][j];
  return a;
}

function matVec(a: Float64Array, n: number, v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i] += a[i * n + j] * v[j];
  return out;
}

describe('small matrices of known spectrum', () => {
  const spectrum = [-3, -1.5, -0.25, 0.001, 0.5, 1, 2, 2.5, 4, 7, 7.5, 10];
  const n = spectrum.length;
  const a = withSpectrum(spectrum, 1);

  test('Jacobi: ascending eigenvalues, A v = λ v, orthonormal vectors', () => {
    const e = analysis.symmetricEigenSmall(a, n);
    expectClose(e.values, spectrum, { rtol: 1e-12, atol: 1e-12 }, 'eigenvalues');
    for (let j = 0; j < n; j++) {
      const v = Float64Array.from({ length: n }, (_, i) => e.vectors[i * n + j]);
      expectClose(matVec(a, n, v), v.map((x) => x * e.values[j]), { rtol: 1e-11, atol: 1e-11 }, `A v_${j}`);
      for (let k = 0; k < n; k++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += v[i] * e.vectors[i * n + k];
        expect(Math.abs(s - (j === k ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });

  test.each([
    ['largest', [10, 7.5, 7]],
    ['smallest', [-3, -1.5, -0.25]],
    ['magnitude', [10, 7.5, 7]],
  ] as const)('Lanczos %s: exact after n steps, eigenvectors satisfy A v = λ v', (which, expected) => {
    const op = analysis.matrixOperator(a, n);
    const r = analysis.lanczos(op, { k: 3, which, eigenvectors: true, maxIterations: n });
    expectClose(r.values, expected, { rtol: 1e-10, atol: 1e-10 }, which);
    expect(r.converged).toBe(true);
    expect(r.products).toBe(r.iterations);
    r.vectors!.forEach((v, j) => {
      const vv = f64(v);
      expectClose(matVec(a, n, vv), vv.map((x) => x * r.values[j]), { rtol: 1e-9, atol: 1e-9 }, `A v_${j}`);
      v.dispose();
    });
    op.dispose();
  });

  test('Lanczos stops early once the wanted values converge, deterministically in the seed', () => {
    const big = withSpectrum(Array.from({ length: 60 }, (_, i) => (i < 57 ? i / 57 : 5 + i)), 2);
    const op = analysis.matrixOperator(big, 60);
    const steps: number[] = [];
    const r1 = analysis.lanczos(op, { k: 3, seed: 4, onStep: (s) => steps.push(s) });
    const r2 = analysis.lanczos(op, { k: 3, seed: 4 });
    expectClose(r1.values, [64, 63, 62], { rtol: 1e-8, atol: 1e-8 }, 'top 3');
    expect(r1.iterations).toBeLessThan(60);
    expect(r1.values).toEqual(r2.values);
    expect(steps.length).toBeGreaterThan(0);
    for (const res of r1.residuals) expect(res).toBeLessThanOrEqual(1e-8 * 64);
    op.dispose();
  });

  test('power iteration finds the eigenvalue of largest magnitude with its sign', () => {
    const op = analysis.matrixOperator(withSpectrum([-9, 1, 2, 3], 3), 4);
    const r = analysis.powerIteration(op, { maxIterations: 500, tolerance: 1e-12 });
    expect(r.value).toBeCloseTo(-9, 8);
    expect(r.converged).toBe(true);
    op.dispose();
  });

  test('Hutchinson is within 4 standard errors; Hutch++ is exact on a matrix of low rank', () => {
    const op = analysis.matrixOperator(a, n);
    const trace = spectrum.reduce((x, y) => x + y, 0);
    const h = analysis.hutchinson(op, { products: 300, seed: 1 });
    expect(h.products).toBe(300);
    expect(Math.abs(h.value - trace)).toBeLessThan(4 * h.standardError);
    const lowRank = withSpectrum([5, -2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 5);
    const lr = analysis.matrixOperator(lowRank, n);
    const hpp = analysis.hutchPlusPlus(lr, { products: 12, seed: 2 });
    expectClose(hpp.value, 4, { rtol: 1e-10, atol: 1e-10 }, 'Hutch++ on rank 3');
    op.dispose();
    lr.dispose();
  });

  test('SLQ density integrates to 1 and sees the negative fraction', () => {
    const op = analysis.matrixOperator(a, n);
    const d = analysis.spectralDensity(op, { vectors: 20, steps: n, points: 2000, bandwidth: 0.05 });
    const dt = d.grid[1] - d.grid[0];
    expectClose(d.density.reduce((s, x) => s + x * dt, 0), 1, { rtol: 1e-3, atol: 1e-3 }, '∫ density');
    // 3 of 12 eigenvalues are negative; each vector's weights are a random draw of (vᵀu_i)².
    expect(Math.abs(d.negativeFraction - 0.25)).toBeLessThan(0.12);
    for (const ns of d.nodes) expectClose(ns.slice().sort((x, y) => x - y), spectrum, { rtol: 1e-9, atol: 1e-9 }, 'nodes = eigenvalues');
    op.dispose();
  });

  test('statistics: condition numbers, the 10th percentile of |λ|, the negative fraction', () => {
    const s = analysis.spectrumStatistics(spectrum);
    expect(s.maxAbs).toBe(10);
    expect(s.minAbs).toBe(0.001);
    expect(s.conditionNumber).toBeCloseTo(10000, 6);
    const abs = spectrum.map(Math.abs).sort((x, y) => x - y);
    const p10 = abs[1] + 0.1 * (abs[2] - abs[1]) ; // position 0.1·11 = 1.1
    expect(s.absPercentile10).toBeCloseTo(p10, 12);
    expect(s.conditionNumber10).toBeCloseTo(10 / p10, 9);
    expect(s.negativeFraction).toBe(3 / 12);
    expectThrow(() => analysis.spectrumStatistics([]), 'RangeError', /empty/);
  });
});

// A single linear layer without bias, inputs x_i = s_i·e_i, squared loss: the Hessian of the mean
// loss is (2/l) Σ_i I_K ⊗ x_i x_iᵀ, eigenvalues 2s_i²/l, each K times; the Gauss-Newton matrix
// equals it (the model is linear in θ).
function quadraticModel(): { net: nn.Network; data: analysis.ExampleBatch; eigenvalues: number[] } {
  const l = 5;
  const K = 2;
  const s = [0.5, 1, 1.5, 2, 3];
  const g = new nn.GraphBuilder([l, 1, 1]);
  const net = g.build(g.chain(g.input, [nn.flatten(), nn.linear(K, { bias: false })]), { dtype: 'float64' });
  net.init('xavier', { seed: 1 });
  const x = new Float64Array(l * l);
  for (let i = 0; i < l; i++) x[i * l + i] = s[i];
  const y = t64(randData(l * K, 3), [l, K]);
  const eigenvalues = s.flatMap((si) => Array<number>(K).fill((2 * si * si) / l)).sort((p, q) => p - q);
  return { net, data: { x: t64(x, [l, l, 1, 1]), y }, eigenvalues };
}

// The dense spectra these tests compare with need LAPACK; a build without it skips them with the
// reason in the title (test/linalg.test.ts checks that an OpenBLAS build, CI's, has LAPACK).
const lapack = lapackAvailable();
const NO_LAPACK = ' [skipped: this build has no LAPACK (lapackAvailable() is false)]';
const withLapack = Object.assign((title: string, fn: () => void) => (lapack ? test(title, fn) : test.skip(title + NO_LAPACK, fn)), {
  each: <T extends unknown[]>(table: readonly T[]) => (title: string, fn: (...args: T) => void) =>
    lapack ? test.each(table)(title, fn) : test.skip.each(table)(title + NO_LAPACK, fn),
});

describe('the curvature operator of networks', () => {
  withLapack('a quadratic model: Hessian and Gauss-Newton spectra are the closed form (dense and Lanczos)', () => {
    const { net, data, eigenvalues } = quadraticModel();
    for (const matrix of ['hessian', 'gauss-newton'] as const) {
      const op = analysis.curvatureOperator(net, { matrix, loss: nn.squaredLoss, data });
      const dense = analysis.denseSpectrum(op);
      expectClose(dense.values, eigenvalues, { rtol: 1e-12, atol: 1e-14 }, `${matrix} dense`);
      expect(dense.asymmetry).toBeLessThan(1e-14);
      // One start vector spans one copy of each distinct eigenvalue: the Krylov space is invariant after 5 steps.
      const top = analysis.lanczos(op, { k: 2, maxIterations: 10 });
      expectClose(top.values, [3.6, 1.6], { rtol: 1e-10, atol: 1e-12 }, `${matrix} Lanczos`);
      expect(top.iterations).toBe(5);
      expect(top.converged).toBe(true);
      op.dispose();
    }
    data.x.dispose();
    data.y.dispose();
    net.dispose();
  });

  const smallNetworks: [string, () => { net: nn.Network; data: analysis.ExampleBatch; loss: nn.Loss }][] = [
    ['a tiny CNN', () => {
      const net = new nn.Sequential([1, 4, 4], [nn.conv2d(2, 3, { padding: 1 }), nn.tanh(), nn.maxPool2d(2), nn.flatten(), nn.linear(3)], { dtype: 'float64' });
      net.init('he-normal', { seed: 2 });
      return { net, data: { x: t64(randData(6 * 16, 4), [6, 1, 4, 4]), y: oneHot(6, 3, 5) }, loss: nn.crossEntropyLoss };
    }],
    ['a 2-shortcut linear network', () => {
      const net = nn.linearNetwork({ width: 4, depth: 4, shortcut: 2, initialization: 'xavier', dtype: 'float64', seed: 3 });
      return { net, data: { x: t64(randData(20 * 4, 6), [20, 4, 1, 1]), y: t64(randData(20 * 4, 7), [20, 4]) }, loss: nn.squaredLoss };
    }],
  ];
  withLapack.each(smallNetworks)('%s: Lanczos extremes equal LAPACK’s; Hutchinson and Hutch++ converge to the dense trace', (_name, make) => {
    const { net, data, loss } = make();
    const op = analysis.curvatureOperator(net, { loss, data });
    const dense = analysis.denseSpectrum(op);
    expect(dense.products).toBe(net.numParameters);
    expect(dense.asymmetry).toBeLessThan(1e-10);
    const values = Array.from(dense.values);
    const scaleOfA = Math.max(...values.map(Math.abs));
    for (const which of ['largest', 'smallest'] as const) {
      const r = analysis.lanczos(op, { k: 3, which, maxIterations: net.numParameters });
      const want = which === 'largest' ? values.slice(-3).reverse() : values.slice(0, 3);
      expectClose(r.values, want, { rtol: 0, atol: 1e-8 * scaleOfA }, `Lanczos ${which}`);
    }
    const trace = values.reduce((a, b) => a + b, 0);
    const h = analysis.hutchinson(op, { products: 200, seed: 3 });
    expect(Math.abs(h.value - trace)).toBeLessThan(4 * h.standardError);
    const hpp = analysis.hutchPlusPlus(op, { products: 3 * net.numParameters, seed: 3 });
    expectClose(hpp.value, trace, { rtol: 1e-8, atol: 1e-10 }, 'Hutch++ with a full basis');
    const stats = analysis.spectrumStatistics(values);
    expect(stats.negativeFraction).toBeGreaterThan(0); // a Hessian at a random point of a deep network is indefinite
    op.dispose();
    data.x.dispose();
    data.y.dispose();
    net.dispose();
  });

  withLapack('restricted to one module, the operator is the sub-matrix of the full Hessian', () => {
    const g = new nn.GraphBuilder([2, 3, 3]);
    const net = g.build(g.chain(nn.basicBlock(g, g.input, 2), [nn.globalAvgPool2d(), nn.linear(2)]), { dtype: 'float64' });
    net.init('he-normal', { seed: 6 });
    perturbConstants(net, 7);
    const data = { x: t64(randData(4 * 18, 8), [4, 2, 3, 3]), y: oneHot(4, 2, 9) };
    const full = analysis.curvatureOperator(net, { loss: nn.crossEntropyLoss, data });
    const H = analysis.denseMatrix(full).matrix;
    const P = net.numParameters;
    const node = net.layers().findIndex((m) => m.kind === 'batchNorm2d');
    const part = analysis.curvatureOperator(net, { loss: nn.crossEntropyLoss, data, parameters: [node, node + 3] });
    expect(part.ranges.map((r) => `${r.module}.${r.name}`)).toEqual([`${node}.weight`, `${node}.bias`, `${node + 3}.weight`, `${node + 3}.bias`]);
    const idx = part.ranges.flatMap((r) => Array.from({ length: r.size }, (_, i) => r.offset + i));
    const sub = analysis.denseMatrix(part).matrix;
    const m = idx.length;
    const expected = new Float64Array(m * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) expected[i * m + j] = H[idx[i] * P + idx[j]];
    expectClose(sub, expected, { rtol: 1e-10, atol: 1e-12 }, 'H_SS');
    // A predicate selects the same thing.
    const byPredicate = analysis.curvatureOperator(net, { loss: nn.crossEntropyLoss, data, parameters: (mod) => mod.index === node || mod.index === node + 3 });
    expect(byPredicate.dimension).toBe(m);
    for (const o of [full, part, byPredicate]) o.dispose();
    data.x.dispose();
    data.y.dispose();
    net.dispose();
  });
});

test('batch norm in training mode over two batches: A·v is the derivative of the fixed-partition mean gradient', () => {
  const net = nn.cifarResNet(8, [2, 3, 3], 2, { dtype: 'float64', width: 2, seed: 3 });
  perturbConstants(net, 4);
  const l = 6;
  const x = t64(randData(l * 18, 15), [l, 2, 3, 3]);
  const y = oneHot(l, 2, 6);
  const op = analysis.curvatureOperator(net, { loss: nn.crossEntropyLoss, data: { x, y }, batchSize: 3 });
  const v = t64(randData(net.numParameters, 7, 0.5), [net.numParameters]);
  const av = f64(op.apply(v));
  // ∇ of (1/l) Σ_batches Σ_i ξ_i, each batch on its own statistics.
  const meanGradient = (): Float64Array => {
    const g = new Float64Array(net.numParameters);
    for (const start of [0, 3]) {
      const xb = x.view(start * 18, [3, 2, 3, 3]);
      const yb = y.view(start * 2, [3, 2]);
      const z = net.forward(xb, { batchStatistics: true });
      const dz = nn.crossEntropyLoss.gradient(z, yb);
      net.backward(dz);
      f64(net.gradient).forEach((gi, i) => (g[i] += gi / l));
      for (const t of [xb, yb, z, dz]) t.dispose();
    }
    net.releaseCache();
    return g;
  };
  const theta = f64(net.parameters);
  const vv = f64(v);
  const h = 1e-5;
  net.setParameters(theta.map((t, i) => t + h * vv[i]));
  const gp = meanGradient();
  net.setParameters(theta.map((t, i) => t - h * vv[i]));
  const gm = meanGradient();
  net.setParameters(theta);
  expectClose(av, gp.map((a, i) => (a - gm[i]) / (2 * h)), { rtol: 1e-5, atol: 1e-7 }, 'A v vs central differences');
  expect(op.products).toBe(1);
  for (const t of [x, y, v]) t.dispose();
  op.dispose();
  net.dispose();
});

describe('errors', () => {
  test('bad operators and options are refused with what is wrong', () => {
    const { net, data } = quadraticModel();
    expectThrow(() => analysis.curvatureOperator(net, { loss: nn.squaredLoss, data, matrix: 'fisher' as 'hessian' }), 'RangeError', /options.matrix must be 'hessian' or 'gauss-newton'/);
    expectThrow(() => analysis.curvatureOperator(net, { loss: nn.squaredLoss, data, parameters: [7] }), 'RangeError', /node indices in \[0, 2\)/);
    expectThrow(() => analysis.curvatureOperator(net, { loss: nn.squaredLoss, data, parameters: [0] }), 'RangeError', /node 0 \(flatten\) has no parameters/);
    expectThrow(() => analysis.curvatureOperator(net, { loss: nn.squaredLoss, data, parameters: () => false }), 'RangeError', /selects no parameters/);
    expectThrow(() => analysis.curvatureOperator(net, { loss: nn.squaredLoss, data: { x: data.x, y: data.x } }), 'RangeError', /options.data.y has shape/);
    const op = analysis.curvatureOperator(net, { loss: nn.squaredLoss, data });
    expectThrow(() => analysis.denseMatrix(op, { maxDimension: 4 }), 'RangeError', /dimension 10 > options.maxDimension = 4/);
    expectThrow(() => analysis.lanczos(op, { which: 'middle' as 'largest' }), 'RangeError', /options.which/);
    expectThrow(() => analysis.hutchPlusPlus(op, { products: 2 }), 'RangeError', /options.products must be an integer ≥ 3/);
    const wrong = Tensor.zeros([3], { dtype: 'float64' });
    expectThrow(() => op.apply(wrong), 'RangeError', /dimension 10/);
    op.dispose();
    expectThrow(() => op.apply(wrong), 'Error', /disposed/);
    wrong.dispose();
    data.x.dispose();
    data.y.dispose();
    net.dispose();
  });
});

describe('"Demystifying ResNet": whitened principal components and the condition number against depth', () => {
  withLapack('principalComponents: centred, whitened, uncorrelated; the leading directions first', () => {
    // 200 images of 6 pixels spanned by 3 latent directions of variances 9, 4, 1 (plus tiny noise).
    const r = prng(21);
    const m = 200;
    const dirs = [[1, 1, 0, 0, 0, 0], [0, 0, 1, -1, 0, 0], [0, 0, 0, 0, 1, 1]].map((d) => d.map((x) => x / Math.SQRT2));
    const images = new Float32Array(m * 6);
    for (let i = 0; i < m; i++) {
      const z = [3, 2, 1].map((s) => s * (r() - 0.5) * Math.sqrt(12));
      for (let j = 0; j < 6; j++) images[i * 6 + j] = 5 + z.reduce((a, zk, k) => a + zk * dirs[k][j], 0) + 1e-3 * (r() - 0.5);
    }
    const ds = createDataset({ name: 'latent', images, labels: new Int32Array(m), shape: [6, 1, 1], classes: 1 });
    const pc = principalComponents(ds, 3);
    expect(pc.explained).toBeGreaterThan(0.999);
    // the regression problem of Appendix B: these components and one-hot labels (width = classes)
    const three = createDataset({ name: 'latent', images, labels: Int32Array.from({ length: m }, (_, i) => i % 3), shape: [6, 1, 1], classes: 3 });
    const reg = analysis.whitenedRegressionData(three, 3);
    expect(reg.examples).toBe(m);
    expect(Array.from(reg.x)).toEqual(Array.from(principalComponents(three, 3).features));
    expect(Array.from(reg.y.slice(0, 9))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(reg.explained).toBeCloseTo(pc.explained, 12);
    expect(() => analysis.whitenedRegressionData(three, 2)).toThrow(/whitenedRegressionData: the targets are one-hot labels, so the width must be the number of classes of the data, 3; got width 2/);
    expect(pc.variances[0]).toBeGreaterThan(pc.variances[1]);
    expect(pc.variances[1]).toBeGreaterThan(pc.variances[2]);
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let s = 0;
        for (let i = 0; i < m; i++) s += pc.features[i * 3 + a] * pc.features[i * 3 + b];
        expect(s / (m - 1)).toBeCloseTo(a === b ? 1 : 0, 8);
      }
      let mean = 0;
      for (let i = 0; i < m; i++) mean += pc.features[i * 3 + a];
      expect(mean / m).toBeCloseTo(0, 10);
    }
    expectThrow(() => principalComponents(ds, 7), 'RangeError', /k must be an integer in \[1, 6\]/);
  });

  withLapack('conditionVersusDepth: one point per (n, multiple depth), equal to the dense spectrum of that network', () => {
    const m = 40;
    const width = 3;
    const x = Float64Array.from(randData(m * width, 31));
    const y = Float64Array.from(randData(m * width, 32));
    const points = analysis.conditionVersusDepth({ x, y, examples: m }, { shortcuts: [0, 1, 2], depths: [2, 3, 4], width, runs: 2 });
    expect(points.map((p) => `${p.shortcut}:${p.depth}`)).toEqual(['0:2', '0:3', '0:4', '1:2', '1:3', '1:4', '2:2', '2:4']);
    for (const p of points) {
      expect(p.parameters).toBe(p.depth * width * width);
      expect(p.conditionNumbers10).toHaveLength(2);
      expect(p.mean).toBeCloseTo((p.conditionNumbers10[0] + p.conditionNumbers10[1]) / 2, 12);
    }
    // The point (n = 2, L = 4), run 0, by hand.
    const net = nn.linearNetwork({ width, depth: 4, shortcut: 2, dtype: 'float64', seed: 0 });
    const xt = t64(x, [m, width, 1, 1]);
    const yt = t64(y, [m, width]);
    const op = analysis.curvatureOperator(net, { loss: nn.squaredLoss, data: { x: xt, y: yt } });
    const s = analysis.spectrumStatistics(analysis.denseSpectrum(op).values);
    expect(points[7].conditionNumbers10[0]).toBe(s.conditionNumber10);
    op.dispose();
    for (const t of [xt, yt]) t.dispose();
    net.dispose();
    expectThrow(() => analysis.conditionVersusDepth({ x, y, examples: m }, { shortcuts: [1], depths: [500], width }), 'RangeError', /4500 parameters > options.maxParameters = 4096/);
  });
});
