// The n-shortcut linear networks of "Demystifying ResNet" (lib/nn/linear-networks.ts) and the
// orthogonal initialiser (lib/nn/init.ts, lib/nn/orthogonal.ts):
//   structure     node count, where the adds are and what they add, parameter counts (the
//                 paper's sizes too), the function y = Π_r (W_{r,n}⋯W_{r,1} + I) x of eq. (5)
//   init          orthogonal: W Wᵀ = I or Wᵀ W = I to 1e-12 in float64 (linear and conv
//                 weights, gain), Haar (the sign correction), deterministic in the seed, the same
//                 numbers in float32; zero: the paper's Xavier × 0.01, exactly 0 with perturbation 0
//   derivatives   checkAll (test/nn-checks.ts) in float64 with the squared loss, n = 0, 1, 2, 3
//   Theorem 1     at the zero point: n = 3 a zero Hessian, n = 2 the eigenvalues ±2σ_i(Σ_XX − Σ_YX)
//                 (the library's mean squared loss is twice the paper's Frobenius loss), n = 1
//                 the block Toeplitz structure of eq. (13)
//   errors        every option named
import { Sequential, Tensor } from '../lib';
import * as nn from '../lib/nn';
import { linearNetwork, type LinearNetworkOptions } from '../lib/nn/linear-networks';
import { householderQR, orthogonalFromGaussian } from '../lib/nn/orthogonal';
import { expectClose, expectThrow, f64, prng, randData } from './helpers';
import { checkAll, oneHot, t64 } from './nn-checks';

/** The weight matrices of a network, row-major (out × in), with their shapes. */
function weights(net: nn.Network): { w: Float64Array; rows: number; cols: number }[] {
  const theta = f64(net.parameters);
  return net
    .layers()
    .filter((m) => m.weight !== undefined)
    .map((m) => {
      const s = m.weight!;
      return { w: theta.slice(s.offset, s.offset + s.size), rows: s.shape[0], cols: s.size / s.shape[0] };
    });
}

/** A·Bᵀ for A (r × k) and B (s × k), row-major. */
function mulT(a: Float64Array, b: Float64Array, r: number, s: number, k: number): Float64Array {
  const out = new Float64Array(r * s);
  for (let i = 0; i < r; i++) for (let j = 0; j < s; j++) {
    let d = 0;
    for (let t = 0; t < k; t++) d += a[i * k + t] * b[j * k + t];
    out[i * s + j] = d;
  }
  return out;
}

function transpose(a: Float64Array, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
  return out;
}

function eye(n: number, s = 1): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = s;
  return out;
}

/** Expects W Wᵀ = gain²·I (rows ≤ cols) or Wᵀ W = gain²·I (rows > cols) to 1e-12. */
function expectOrthogonal(w: Float64Array, rows: number, cols: number, gain = 1, what = ''): void {
  if (rows <= cols) expectClose(mulT(w, w, rows, rows, cols), eye(rows, gain * gain), { rtol: 0, atol: 1e-12 }, `${what} W Wᵀ = I`);
  else {
    const wt = transpose(w, rows, cols);
    expectClose(mulT(wt, wt, cols, cols, rows), eye(cols, gain * gain), { rtol: 0, atol: 1e-12 }, `${what} Wᵀ W = I`);
  }
}

/** Eigenvalues of the symmetric n × n matrix a (row-major), ascending: cyclic Jacobi. */
function symmetricEigenvalues(a0: Float64Array, n: number): number[] {
  const a = Float64Array.from(a0);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => a[i * n + i]).sort((x, y) => x - y);
}

/** The dense Hessian of the mean squared loss at the network's θ on (x, y), P × P (no regularisation). */
function denseHessian(net: nn.Network, x: Tensor, y: Tensor): Float64Array {
  const P = net.numParameters;
  const z = net.forward(x);
  z.dispose();
  const H = new Float64Array(P * P);
  for (let j = 0; j < P; j++) {
    const e = new Float64Array(P);
    e[j] = 1;
    const v = t64(e, [P]);
    const hv = net.hessianProduct(v, { loss: nn.squaredLoss, y, C: 1e300, trainSize: 1 }); // 1/Cl = 1e-300
    H.set(f64(hv), j * P);
    v.dispose();
    hv.dispose();
  }
  net.releaseCache();
  return H;
}

function gaussianMatrix(n: number, seed: number): Float64Array {
  const r = prng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

describe('structure', () => {
  test.each([
    [0, 7],
    [1, 13],
    [2, 10],
    [3, 9],
  ])('shortcut %i, depth 6, width 4: %i nodes, 96 parameters, adds over every unit', (n, nodes) => {
    const net = linearNetwork({ width: 4, depth: 6, shortcut: n });
    expect(net.built.length).toBe(nodes);
    expect(net.numParameters).toBe(6 * 16);
    expect(net.inputShape).toEqual([4, 1, 1]);
    expect(net.outputSize).toBe(4);
    expect(net.name).toBe(`linear-n${n}-L6-d4`);
    const kinds = net.layers().map((m) => m.kind);
    expect(kinds[0]).toBe('flatten');
    expect(kinds.filter((k) => k === 'linear').length).toBe(6);
    for (const m of net.layers()) if (m.kind === 'linear') {
      expect(m.bias).toBeUndefined();
      expect(m.weight!.shape).toEqual([4, 4]);
    }
    // The adds: one per unit of n layers, adding the unit's last layer and the unit's input.
    const adds = net.layers().filter((m) => m.kind === 'add').map((m) => m.index);
    expect(adds).toEqual(n === 0 ? [] : Array.from({ length: 6 / n }, (_, r) => (r + 1) * (n + 1)));
    adds.forEach((a, r) => expect(net.nodeInputs[a]).toEqual([a - 1, r === 0 ? 0 : adds[r - 1]]));
    net.dispose();
  });

  test('the node inputs of a 2-shortcut network of depth 4: flatten, [lin, lin, add(2, 0)] × 2', () => {
    const net = linearNetwork({ width: 3, depth: 4, shortcut: 2 });
    expect(net.layers().map((m) => m.kind)).toEqual(['flatten', 'linear', 'linear', 'add', 'linear', 'linear', 'add']);
    expect(net.nodeInputs).toEqual([[-1], [0], [1], [2, 0], [3], [4], [5, 3]]);
    expect(net.summary()).toMatch(/linear-n2-L4-d3: 36 parameters \(float32, cpu\)/);
    net.dispose();
  });

  test.each([0, 1, 2, 3])('shortcut %i: the output is y = Π_r (W_{r,n}⋯W_{r,1} + I) x (eq. 5) in float64', (n) => {
    const d = 3;
    const depth = 6;
    const net = linearNetwork({ width: d, depth, shortcut: n, initialization: 'xavier', seed: 7, dtype: 'float64' });
    const ws = weights(net);
    // The end-to-end matrix.
    let W = eye(d);
    const units = n === 0 ? [ws] : Array.from({ length: depth / n }, (_, r) => ws.slice(r * n, r * n + n));
    for (const unit of units) {
      let U = eye(d);
      for (const l of unit) U = mulT(l.w, transpose(U, d, d), d, d, d); // W_l · U
      if (n > 0) U = U.map((u, i) => u + (i % (d + 1) === 0 ? 1 : 0));
      W = mulT(U, transpose(W, d, d), d, d, d);
    }
    const N = 4;
    const xv = randData(N * d, 5);
    const x = t64(xv, [N, d, 1, 1]);
    const z = net.forward(x);
    expectClose(f64(z), mulT(xv, W, N, d, d), { rtol: 1e-12, atol: 1e-14 }, 'z = x Wᵀ');
    x.dispose();
    z.dispose();
    net.dispose();
  });

  test('a plain network may change the width: inputFeatures → width → … → outputs; inputShape is flattened', () => {
    const net = linearNetwork({ width: 3, depth: 3, shortcut: 0, inputFeatures: 5, outputs: 2 });
    expect(weights(net).map((l) => [l.rows, l.cols])).toEqual([[3, 5], [3, 3], [2, 3]]);
    expect(net.numParameters).toBe(15 + 9 + 6);
    net.dispose();
    const one = linearNetwork({ width: 3, depth: 1, shortcut: 0, inputShape: [1, 2, 3], outputs: 2 });
    expect(one.inputShape).toEqual([1, 2, 3]);
    expect(weights(one).map((l) => [l.rows, l.cols])).toEqual([[2, 6]]);
    one.dispose();
    const sq = linearNetwork({ width: 4, depth: 2, shortcut: 2, inputShape: [1, 2, 2] });
    expect(sq.numParameters).toBe(32);
    sq.dispose();
  });

  test.each([
    [1, 100],
    [2, 200],
    [16, 1600],
    [64, 6400],
    [96, 9600],
  ])('the paper\'s width 10 (10 principal components in, 10 one-hot outputs), depth %i: %i parameters', (depth, count) => {
    for (const n of [0, 1, 2, 3]) {
      if (n > 0 && depth % n !== 0) continue;
      const net = linearNetwork({ width: 10, depth, shortcut: n });
      expect(net.numParameters).toBe(count);
      net.dispose();
    }
  });
});

describe('ReLUs at the mid positions (option relu)', () => {
  test('where they go: between the layers of every unit; plain networks after layers 1, 3, …, never after the last', () => {
    const two = linearNetwork({ width: 3, depth: 4, shortcut: 2, relu: true });
    expect(two.layers().map((m) => m.kind)).toEqual(['flatten', 'linear', 'relu', 'linear', 'add', 'linear', 'relu', 'linear', 'add']);
    expect(two.nodeInputs).toEqual([[-1], [0], [1], [2], [3, 0], [4], [5], [6], [7, 4]]);
    expect(two.name).toBe('linear-n2-L4-d3-relu');
    two.dispose();
    const three = linearNetwork({ width: 3, depth: 3, shortcut: 3, relu: true });
    expect(three.layers().map((m) => m.kind)).toEqual(['flatten', 'linear', 'relu', 'linear', 'relu', 'linear', 'add']);
    three.dispose();
    // the same number of ReLUs as the 2-shortcut network of the depth, at the same places (Appendix B)
    const plain = linearNetwork({ width: 3, depth: 4, shortcut: 0, relu: true });
    expect(plain.layers().map((m) => m.kind)).toEqual(['flatten', 'linear', 'relu', 'linear', 'linear', 'relu', 'linear']);
    plain.dispose();
    const odd = linearNetwork({ width: 3, depth: 3, shortcut: 0, relu: true });
    expect(odd.layers().map((m) => m.kind)).toEqual(['flatten', 'linear', 'relu', 'linear', 'linear']);
    odd.dispose();
    const linearOnly = linearNetwork({ width: 3, depth: 4, shortcut: 2, relu: false });
    expect(linearOnly.layers().some((m) => m.kind === 'relu')).toBe(false);
    linearOnly.dispose();
  });

  test('the function: 2-shortcut y = Π_r (W_{r,2} relu(W_{r,1} ·) + I) x; plain y = W_4 relu(W_3 W_2 relu(W_1 x))', () => {
    const d = 3;
    const N = 4;
    const xv = randData(N * d, 9);
    const relu = (v: Float64Array): Float64Array => v.map((u) => Math.max(u, 0));
    // rows of x times Wᵀ
    const apply = (w: Float64Array, v: Float64Array): Float64Array => mulT(v, w, N, d, d);
    for (const shortcut of [2, 0]) {
      const net = linearNetwork({ width: d, depth: 4, shortcut, initialization: 'xavier', seed: 3, relu: true, dtype: 'float64' });
      const ws = weights(net).map((l) => l.w);
      let h: Float64Array = Float64Array.from(xv);
      if (shortcut === 2) {
        for (let r = 0; r < 2; r++) {
          const u = apply(ws[2 * r + 1], relu(apply(ws[2 * r], h)));
          h = u.map((v, i) => v + h[i]);
        }
      } else {
        // ReLUs after layers 1 and 3 (of 4): W4 relu(W3 W2 relu(W1 x))
        h = apply(ws[3], relu(apply(ws[2], apply(ws[1], relu(apply(ws[0], xv))))));
      }
      const x = t64(xv, [N, d, 1, 1]);
      const z = net.forward(x);
      expectClose(f64(z), h, { rtol: 1e-12, atol: 1e-14 }, `shortcut ${shortcut}: z`);
      x.dispose();
      z.dispose();
      net.dispose();
    }
  });

  test.each([0, 2])('shortcut %i with ReLUs: ∇θ, ∇x, Jv, adjoint, Gv, Hv (float64)', (n) => {
    const d = 3;
    const net = linearNetwork({ width: d, depth: 4, shortcut: n, initialization: 'xavier', seed: 5, relu: true, dtype: 'float64' });
    const N = 5;
    const x = t64(randData(N * d, 31), [N, d, 1, 1]);
    const y = oneHot(N, d, 32);
    checkAll({ net, x, y, loss: nn.squaredLoss, mode: 'inference' });
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });

  test('errors: relu must be a boolean; a 1-shortcut network has no mid position', () => {
    expectThrow(() => linearNetwork({ width: 3, depth: 4, shortcut: 2, relu: 1 as unknown as boolean }), 'TypeError', /linearNetwork: options.relu must be a boolean, got 1/);
    expectThrow(() => linearNetwork({ width: 3, depth: 4, shortcut: 1, relu: true }), 'RangeError', /options.relu needs a mid position, which a 1-shortcut network has not/);
  });
});

describe('orthogonal initialiser', () => {
  test('householderQR: QᵀQ = I, QᵀA upper triangular with diagonal rDiag, also for a rank-deficient A', () => {
    for (const [m, n, zeroCol] of [[7, 4, -1], [5, 5, -1], [6, 3, 1], [4, 1, -1]] as const) {
      const a = gaussianMatrix(m * n, 11 + m); // column-major
      if (zeroCol >= 0) a.fill(0, zeroCol * m, zeroCol * m + m);
      const { q, rDiag } = householderQR(a, m, n);
      // Q and A column-major: (QᵀQ)_ij = q_i · q_j, (QᵀA)_ij = q_i · a_j.
      const qtq = mulT(q, q, n, n, m);
      expectClose(qtq, eye(n), { rtol: 0, atol: 1e-13 }, 'QᵀQ');
      const qta = mulT(q, a, n, n, m);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        if (i > j) expect(Math.abs(qta[i * n + j])).toBeLessThan(1e-12);
        if (i === j) expectClose(qta[i * n + j], rDiag[i], { rtol: 1e-12, atol: 1e-13 }, 'R_jj');
      }
      if (zeroCol >= 0) expect(Math.abs(rDiag[zeroCol])).toBeLessThan(1e-12);
    }
    expectThrow(() => householderQR(new Float64Array(6), 2, 3), 'RangeError', /needs integers m ≥ n ≥ 1, got m = 2, n = 3/);
    expectThrow(() => householderQR(new Float64Array(5), 3, 2), 'RangeError', /a must have m·n = 6 elements, got 5/);
  });

  test('orthogonalFromGaussian: the Q of QR with R_jj > 0 (sign corrected), so Haar: E[W_ij] = 0, E[W_ij²] = 1/d', () => {
    // Without the sign correction the Householder Q's first column would point against g's.
    const d = 3;
    const draws = 4000;
    const mean = new Float64Array(d * d);
    const sq = new Float64Array(d * d);
    for (let s = 0; s < draws; s++) {
      const w = orthogonalFromGaussian(gaussianMatrix(d * d, 1000 + s), d, d);
      for (let i = 0; i < d * d; i++) {
        mean[i] += w[i] / draws;
        sq[i] += (w[i] * w[i]) / draws;
      }
    }
    const se = Math.sqrt(1 / d / draws);
    for (let i = 0; i < d * d; i++) {
      expect(Math.abs(mean[i])).toBeLessThan(4 * se);
      expect(Math.abs(sq[i] - 1 / d)).toBeLessThan(0.03);
    }
    // Rows ≤ cols: W = Q·D (of Gᵀ) transposed, so G's first row has a positive projection on W's.
    for (let s = 0; s < 20; s++) {
      const g = gaussianMatrix(2 * 5, 50 + s);
      const w = orthogonalFromGaussian(g, 2, 5);
      let dot = 0;
      for (let j = 0; j < 5; j++) dot += g[j] * w[j];
      expect(dot).toBeGreaterThan(0);
      expectOrthogonal(w, 2, 5);
      const t = orthogonalFromGaussian(transpose(g, 2, 5), 5, 2, 3);
      expectOrthogonal(t, 5, 2, 3);
      expectClose(t, transpose(w, 2, 5).map((v) => 3 * v), { rtol: 0, atol: 1e-14 }, 'W(Gᵀ) = W(G)ᵀ');
    }
    expectThrow(() => orthogonalFromGaussian(new Float64Array(4), 2, 3), 'RangeError', /g must have rows·cols = 6 elements, got 4/);
  });

  test('Network.init("orthogonal"): every linear and conv weight (K, C, R, S) → (K, C·R·S) is (semi-)orthogonal to 1e-12 in float64', () => {
    const g = new nn.GraphBuilder([3, 4, 4]);
    const out = g.chain(g.input, [
      nn.conv2d(4, 3, { padding: 1 }), // 4 × 27: rows orthonormal
      nn.conv2d(32, 1, { bias: false }), // 32 × 4: columns orthonormal
      nn.relu(),
      nn.flatten(),
      nn.linear(7), // 7 × 512
      nn.linear(7, { bias: false }), // square
      nn.linear(20), // 20 × 7
    ]);
    const net = g.build(out, { dtype: 'float64' });
    net.init('orthogonal', { seed: 3 });
    const ws = weights(net);
    expect(ws.map((l) => [l.rows, l.cols])).toEqual([[4, 27], [32, 4], [7, 512], [7, 7], [20, 7]]);
    ws.forEach((l, i) => expectOrthogonal(l.w, l.rows, l.cols, 1, `weight ${i}`));
    // Biases stay 0.
    const theta = f64(net.parameters);
    for (const m of net.layers()) if (m.bias !== undefined) expect(Array.from(theta.subarray(m.bias.offset, m.bias.offset + m.bias.size)).every((v) => v === 0)).toBe(true);
    // options.scale is the gain.
    net.init('orthogonal', { seed: 3, scale: 0.5 });
    weights(net).forEach((l, i) => {
      expectOrthogonal(l.w, l.rows, l.cols, 0.5, `weight ${i} gain 0.5`);
      expectClose(l.w, ws[i].w.map((v) => 0.5 * v), { rtol: 0, atol: 1e-15 }, 'gain scales');
    });
    net.dispose();
  });

  test('deterministic in the seed, different per layer and per seed; float32 holds the float64 numbers rounded', () => {
    const make = (dtype: 'float32' | 'float64', seed: number) => {
      const m = new Sequential([2, 3, 3], [nn.conv2d(3, 2), nn.flatten(), nn.linear(5), nn.linear(5)], { dtype });
      m.init('orthogonal', { seed });
      const p = f64(m.parameters);
      m.dispose();
      return p;
    };
    const a = make('float64', 9);
    expect(make('float64', 9)).toEqual(a);
    expect(make('float64', 10)).not.toEqual(a);
    expect(make('float32', 9)).toEqual(a.map(Math.fround));
    // The two 5 × 5 layers differ.
    const m = new Sequential([5, 1, 1], [nn.flatten(), nn.linear(5, { bias: false }), nn.linear(5, { bias: false })], { dtype: 'float64' });
    m.init('orthogonal', { seed: 9 });
    const [w1, w2] = weights(m);
    expect(w1.w).not.toEqual(w2.w);
    expectThrow(() => m.init('orthogonal', { seed: 9, scale: 0 }), 'RangeError', /Sequential.init: options.scale must be a positive finite number, got 0/);
    m.dispose();
  });

  test('linearNetwork with initialization "orthogonal" (and a gain)', () => {
    const net = linearNetwork({ width: 5, depth: 4, shortcut: 2, initialization: 'orthogonal', gain: 2, seed: 1, dtype: 'float64' });
    for (const l of weights(net)) expectOrthogonal(l.w, 5, 5, 2);
    const again = linearNetwork({ width: 5, depth: 4, shortcut: 2, initialization: 'orthogonal', gain: 2, seed: 1, dtype: 'float64' });
    expect(f64(again.parameters)).toEqual(f64(net.parameters));
    net.dispose();
    again.dispose();
  });
});

describe('zero and xavier initialisation', () => {
  test('zero: the paper\'s Xavier × 0.01 (= "xavier-small"), small; perturbation scales it; 0 is exactly zero', () => {
    const net = linearNetwork({ width: 10, depth: 4, shortcut: 2, seed: 5, dtype: 'float64' });
    const theta = f64(net.parameters);
    const bound = 0.01 * Math.sqrt(6 / 20);
    expect(Math.max(...theta.map(Math.abs))).toBeLessThanOrEqual(bound);
    const std = Math.sqrt(theta.reduce((s, v) => s + v * v, 0) / theta.length);
    expect(Math.abs(std / (0.01 * Math.sqrt(2 / 20)) - 1)).toBeLessThan(0.1);
    net.init('xavier-small', { seed: 5 });
    expect(f64(net.parameters)).toEqual(theta);
    const p = linearNetwork({ width: 10, depth: 4, shortcut: 2, seed: 5, dtype: 'float64', initialization: 'zero', perturbation: 0.1 });
    expectClose(f64(p.parameters), theta.map((v) => 10 * v), { rtol: 1e-12, atol: 0 }, 'perturbation 0.1');
    const z = linearNetwork({ width: 10, depth: 4, shortcut: 2, perturbation: 0 });
    expect(f64(z.parameters).every((v) => v === 0)).toBe(true);
    const other = linearNetwork({ width: 10, depth: 4, shortcut: 2, seed: 6, dtype: 'float64' });
    expect(f64(other.parameters)).not.toEqual(theta);
    for (const t of [net, p, z, other]) t.dispose();
  });

  test('defaults: zero with shortcuts, xavier without', () => {
    const a = linearNetwork({ width: 4, depth: 2, shortcut: 0, seed: 2 });
    const b = linearNetwork({ width: 4, depth: 2, shortcut: 0, seed: 2, initialization: 'xavier' });
    expect(f64(a.parameters)).toEqual(f64(b.parameters));
    const c = linearNetwork({ width: 4, depth: 2, shortcut: 1, seed: 2 });
    const e = linearNetwork({ width: 4, depth: 2, shortcut: 1, seed: 2, initialization: 'xavier' });
    expectClose(f64(c.parameters), f64(e.parameters).map((v) => v * 0.01), { rtol: 1e-6, atol: 0 }, 'zero = xavier × 0.01');
    for (const t of [a, b, c, e]) t.dispose();
  });
});

describe('derivative checks (float64, squared loss)', () => {
  test.each([
    [0, 'xavier'],
    [1, 'orthogonal'],
    [2, 'xavier'],
    [3, 'orthogonal'],
    [2, 'zero'],
  ] as const)('shortcut %i, %s: ∇θ, ∇x, Jv, adjoint, Gv, Hv', (n, initialization) => {
    const d = 3;
    const net = linearNetwork({ width: d, depth: 6, shortcut: n, initialization, ...(initialization === 'zero' ? { perturbation: 1 } : {}), seed: 4, dtype: 'float64' });
    const N = 5;
    const x = t64(randData(N * d, 21), [N, d, 1, 1]);
    const y = oneHot(N, d, 22);
    checkAll({ net, x, y, loss: nn.squaredLoss, mode: 'inference' });
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });

  test('a plain network from 4 features to 2 outputs', () => {
    const net = linearNetwork({ width: 3, depth: 3, shortcut: 0, inputFeatures: 4, outputs: 2, initialization: 'orthogonal', seed: 1, dtype: 'float64' });
    const x = t64(randData(5 * 4, 23), [5, 4, 1, 1]);
    const y = oneHot(5, 2, 24);
    checkAll({ net, x, y, loss: nn.squaredLoss, mode: 'inference' });
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });
});

describe('Theorem 1 at the zero point (perturbation 0)', () => {
  const d = 3;
  const N = 7;
  const xv = randData(N * d, 31);
  const yv = randData(N * d, 32);

  test('n = 2 and n = 3: zero gradient; n = 3: zero Hessian', () => {
    for (const n of [2, 3]) {
      const net = linearNetwork({ width: d, depth: 6, shortcut: n, perturbation: 0, dtype: 'float64' });
      const x = t64(xv, [N, d, 1, 1]);
      const y = t64(yv, [N, d]);
      const z = net.forward(x);
      const dz = nn.squaredLoss.gradient(z, y);
      net.backward(dz);
      expect(f64(net.gradient).every((v) => v === 0)).toBe(true);
      if (n === 3) {
        const H = denseHessian(net, x, y);
        expect(Math.max(...H.map(Math.abs))).toBeLessThan(1e-250);
      }
      for (const t of [x, y, z, dz]) t.dispose();
      net.dispose();
    }
  });

  test('n = 2: the eigenvalues are ±2σ_i(Σ_XX − Σ_YX), each d·R times (eq. 11, 18), whatever the depth', () => {
    // Σ_XX − Σ_YX = (1/m) Σ_μ (x_μ − y_μ) x_μᵀ.
    const M = new Float64Array(d * d);
    for (let mu = 0; mu < N; mu++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) M[i * d + j] += ((xv[mu * d + i] - yv[mu * d + i]) * xv[mu * d + j]) / N;
    const sigma = symmetricEigenvalues(mulT(transpose(M, d, d), transpose(M, d, d), d, d, d), d).map((e) => Math.sqrt(Math.max(e, 0)));
    for (const depth of [2, 4]) {
      const R = depth / 2;
      const net = linearNetwork({ width: d, depth, shortcut: 2, perturbation: 0, dtype: 'float64' });
      const x = t64(xv, [N, d, 1, 1]);
      const y = t64(yv, [N, d]);
      const H = denseHessian(net, x, y);
      const P = net.numParameters;
      const expected = sigma.flatMap((s) => [2 * s, -2 * s]).flatMap((e) => new Array<number>(d * R).fill(e)).sort((a, b) => a - b);
      expectClose(symmetricEigenvalues(H, P), expected, { rtol: 1e-9, atol: 1e-12 }, `eigenvalues, depth ${depth}`);
      for (const t of [x, y]) t.dispose();
      net.dispose();
    }
  });

  test('n = 1: block Toeplitz (eq. 13): equal diagonal blocks B, equal blocks A below the diagonal', () => {
    const R = 3;
    const net = linearNetwork({ width: d, depth: R, shortcut: 1, perturbation: 0, dtype: 'float64' });
    const x = t64(xv, [N, d, 1, 1]);
    const y = t64(yv, [N, d]);
    const H = denseHessian(net, x, y);
    const P = net.numParameters;
    const b = d * d;
    const block = (r: number, s: number) => {
      const out = new Float64Array(b * b);
      for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) out[i * b + j] = H[(r * b + i) * P + s * b + j];
      return out;
    };
    const tol = { rtol: 1e-12, atol: 1e-14 };
    expectClose(block(1, 1), block(0, 0), tol, 'B');
    expectClose(block(2, 2), block(0, 0), tol, 'B');
    expectClose(block(2, 1), block(1, 0), tol, 'A');
    expectClose(block(2, 0), block(1, 0), tol, 'A');
    expect(Math.max(...block(1, 0).map(Math.abs))).toBeGreaterThan(1e-3);
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });
});

describe('errors', () => {
  const ok: LinearNetworkOptions = { width: 3, depth: 4, shortcut: 2 };
  test.each([
    [{ ...ok, width: 0 }, /options.width must be a positive integer, got 0/],
    [{ ...ok, depth: 1.5 }, /options.depth must be a positive integer, got 1.5/],
    [{ ...ok, shortcut: -1 }, /options.shortcut must be 0 \(no shortcuts\) or a positive integer n.*got -1/],
    [{ ...ok, shortcut: 'two' as unknown as number }, /options.shortcut must be .* got "two"/],
    [{ ...ok, depth: 5 }, /options.depth must be a multiple of options.shortcut \(2 layers per residual unit\), got depth 5/],
    [{ ...ok, shortcut: 3 }, /options.depth must be a multiple of options.shortcut \(3 layers/],
    [{ ...ok, inputFeatures: 4 }, /with shortcuts the input must have the width \(3 features.*got 4 features/],
    [{ ...ok, inputShape: [1, 2, 2] as const }, /with shortcuts the input must have the width/],
    [{ ...ok, outputs: 2 }, /with shortcuts options.outputs must be the width \(3.*got 2/],
    [{ ...ok, inputShape: [3, 1, 1] as const, inputFeatures: 3 }, /give options.inputShape or options.inputFeatures, not both/],
    [{ ...ok, inputShape: [3, 1] as unknown as [number, number, number] }, /options.inputShape must be \[C, H, W\] with positive integers, got \[3, 1\]/],
    [{ ...ok, inputFeatures: 0 }, /options.inputFeatures must be a positive integer, got 0/],
    [{ ...ok, shortcut: 0, outputs: -2 }, /options.outputs must be a positive integer, got -2/],
    [{ ...ok, initialization: 'glorot' as 'xavier' }, /options.initialization must be one of 'zero', 'xavier', 'orthogonal', 'he-normal', got "glorot"/],
    [{ ...ok, initialization: 'xavier', perturbation: 0.1 }, /options.perturbation is for initialization 'zero' only, got initialization 'xavier'/],
    [{ ...ok, perturbation: -0.1 }, /options.perturbation must be a finite number ≥ 0, got -0.1/],
    [{ ...ok, perturbation: Infinity }, /options.perturbation must be a finite number ≥ 0, got Infinity/],
    [{ ...ok, gain: 2 }, /options.gain is for initialization 'orthogonal' only, got initialization 'zero'/],
    [{ ...ok, initialization: 'orthogonal', gain: 0 }, /options.gain must be a positive finite number, got 0/],
    [{ ...ok, seed: -1 }, /options.seed must be a non-negative safe integer, got -1/],
    [{ ...ok, shortcuts: 2 } as unknown as LinearNetworkOptions, /unknown option 'shortcuts' \(known: width, depth, shortcut/],
    [{ ...ok, dtype: 'float16' as 'float32' }, /options.dtype must be 'float32' or 'float64', got float16/],
  ] as [LinearNetworkOptions, RegExp][])('%o → RangeError %p', (options, re) => {
    expectThrow(() => linearNetwork(options), 'RangeError', re);
  });

  test('TypeErrors', () => {
    expectThrow(() => linearNetwork(undefined as unknown as LinearNetworkOptions), 'TypeError', /linearNetwork: options must be an object with width, depth and shortcut, got undefined/);
    expectThrow(() => linearNetwork(null as unknown as LinearNetworkOptions), 'TypeError', /got null/);
    expectThrow(() => linearNetwork({ ...ok, name: 3 as unknown as string }), 'TypeError', /options.name must be a string, got number/);
  });
});
