// Network products (lib/nn/products.ts) in float64 on the CPU: layer jvp and network Jv against
// central finite differences, the adjoint identity, Gv against an explicit JᵀBJ, Gv symmetric
// and PSD, both Gv modes equal, Hv against finite differences of gradients and symmetric, the
// stored mode's memory refusal, and no leaked native memory.
//
// Tolerances: central differences in float64 with h = 1e-6 have truncation error O(h²·f''') and
// rounding O(ε/h) ≈ 1e-10 relative; ReLU/max-pool kinks are avoided by random generic data
// (a crossing would show as an O(1) error, not a tolerance issue). Exact identities (adjoint,
// symmetry, modes equal) hold to rounding: 1e-10 relative.
import { memoryStats, Tensor } from '../lib';
import * as nn from '../lib/nn';
import type { Loss, Network, ParameterViews, Sequential } from '../lib/nn';
import { dot, softmax } from '../lib';
import { expectClose, expectThrow, f64, prng, randData, settledBytesInUse } from './helpers';

const losses: [string, Loss][] = [
  ['squared', nn.squaredLoss],
  ['cross-entropy', nn.crossEntropyLoss],
];

function t64(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  return Tensor.from(Float64Array.from(data), { shape, dtype: 'float64' });
}

function randVec(n: number, seed: number, scale = 1): Tensor {
  return t64(randData(n, seed, scale), [n]);
}

function dotArr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function targets(n: number, k: number, seed: number): Tensor {
  const r = prng(seed);
  const y = new Float64Array(n * k);
  for (let i = 0; i < n; i++) y[i * k + Math.floor(r() * k)] = 1;
  return t64(y, [n, k]);
}

function withTheta<T>(model: Network, v: Tensor, h: number, fn: () => T): T {
  const theta = model.parameters.clone();
  try {
    if (h !== 0) {
      const p = model.parameters;
      const vv = f64(v);
      const tv = f64(theta);
      model.setParameters(Float64Array.from(tv, (x, i) => x + h * vv[i]));
      void p;
    }
    return fn();
  } finally {
    model.setParameters(theta);
    theta.dispose();
  }
}

/** Central difference of the network output along θ-tangent v (and input tangent rx). */
function fdJv(model: Network, x: Tensor, v: Tensor, h = 1e-6): Float64Array {
  const out = (s: number): Float64Array =>
    withTheta(model, v, s * h, () => {
      const z = model.predict(x);
      const a = f64(z);
      z.dispose();
      return a;
    });
  const p = out(1);
  const m = out(-1);
  return p.map((v2, i) => (v2 - m[i]) / (2 * h));
}

// A tiny network for explicit matrices: P = 2·1·3·3 + 2 + 3·8 + 3 = 47.
function tiny(loss: string): Sequential {
  const m = new nn.Sequential([1, 5, 4], [nn.conv2d(2, 3, { padding: 1 }), nn.relu(), nn.maxPool2d(2), nn.flatten(), nn.linear(3)], { dtype: 'float64', name: `tiny-${loss}` });
  m.init('he-normal', { seed: 11 });
  return m;
}

function input(shape: readonly number[], seed: number): Tensor {
  return t64(randData(shape.reduce((a, b) => a * b, 1), seed), shape);
}

describe('layer jvp vs central finite differences (float64)', () => {
  const cases: [string, readonly [number, number, number], nn.LayerSpec[], boolean][] = [
    ['conv2d stride 2 pad 1', [2, 6, 5], [nn.conv2d(3, 3, { stride: 2, padding: 1 }), nn.flatten()], true],
    ['conv2d without bias', [2, 5, 5], [nn.conv2d(2, [2, 3], { bias: false }), nn.flatten()], true],
    ['linear', [1, 2, 3], [nn.flatten(), nn.linear(4)], true],
    ['relu', [2, 3, 3], [nn.relu(), nn.flatten()], false],
    ['maxPool2d 3x3 stride 2 pad 1', [2, 5, 6], [nn.maxPool2d(3, { stride: 2, padding: 1 }), nn.flatten()], false],
    ['avgPool2d 2x2', [2, 4, 6], [nn.avgPool2d(2), nn.flatten()], false],
    ['flatten', [2, 2, 3], [nn.flatten()], false],
    ['dropout (cached mask)', [1, 3, 4], [nn.dropout(0.4), nn.flatten()], false],
  ];
  test.each(cases)('%s', (_name, shape, specs, hasParams) => {
    const m = new nn.Sequential(shape, specs, { dtype: 'float64' });
    m.init('he-normal', { seed: 5 });
    const N = 3;
    const x = input([N, ...shape], 21);
    const rx = input([N, ...shape], 22);
    const v = randVec(m.numParameters, 23);
    const li = specs[0].kind === 'flatten' && specs.length > 1 ? 1 : 0;
    const layer = m.built[li];
    const training = specs[0].kind === 'dropout';
    const seed = 99;
    const z = m.forward(x, { training, noiseSeed: seed });
    // The layer's own input: x for layer 0; flatten(x) for the linear case.
    const lin = li === 0 ? x : x.reshape([N, m.built[0].info.outputShape[0]]);
    const rlin = li === 0 ? rx : rx.reshape([N, m.built[0].info.outputShape[0]]);
    const tangent: ParameterViews | null = hasParams
      ? Object.fromEntries(layer.info.parameters.map((p) => [p.name, v.view(p.offset, p.shape)]))
      : null;
    const ry = layer.jvp([rlin], tangent) as Tensor; // a single-output module
    const h = 1e-6;
    const at = (s: number): Float64Array =>
      withTheta(m, v, hasParams ? s * h : 0, () => {
        const xs = t64(f64(x).map((xv, i) => xv + s * h * f64(rx)[i]), x.shape);
        const zz = m.forward(xs, { training, noiseSeed: seed });
        const a = f64(zz);
        zz.dispose();
        xs.dispose();
        return a;
      });
    const fp = at(1);
    const fm = at(-1);
    const fd = fp.map((a, i) => (a - fm[i]) / (2 * h));
    expectClose(f64(ry), fd, { rtol: 1e-6, atol: 1e-7 }, `${layer.info.kind}.jvp`);
    ry.dispose();
    for (const t of Object.values(tangent ?? {})) t.dispose();
    if (lin !== x) lin.dispose();
    if (rlin !== rx) rlin.dispose();
    z.dispose();
    x.dispose();
    rx.dispose();
    v.dispose();
    m.dispose();
  });
});

describe('network products (float64)', () => {
  test.each([
    ['cnn3 on 8x8x1', 'cnn3', [1, 8, 8] as const],
    ['cnn5 on 8x8x2', 'cnn5', [2, 8, 8] as const],
  ])('%s: Jv vs central differences, ⟨u, Jv⟩ = ⟨Jᵀu, v⟩', (_n, name, shape) => {
    const m = nn.modelByName(name, shape, 4, { dtype: 'float64', seed: 3 });
    const N = 2;
    const x = input([N, ...shape], 31);
    const v = randVec(m.numParameters, 32, 0.1);
    const u = input([N, 4], 33);
    const z = m.forward(x);
    const jv = m.jvp(v);
    expect(jv.shape).toEqual([N, 4]);
    const jtu = m.vjp(u);
    expect(jtu.shape).toEqual([m.numParameters]);
    const lhs = dot(u, jv);
    const rhs = dot(jtu, v);
    expectClose(lhs, rhs, { rtol: 1e-10, atol: 1e-12 }, 'adjoint');
    // The finite difference re-runs forward: check it after the products (they use the cache).
    const jvArr = f64(jv);
    const fd = fdJv(m, x, v);
    expectClose(jvArr, fd, { rtol: 1e-5, atol: 1e-7 }, 'Jv');
    for (const t of [z, jv, jtu, x, v, u]) t.dispose();
    m.dispose();
  });

  test('vjp leaves model.gradient untouched', () => {
    const m = tiny('x');
    const x = input([2, 1, 5, 4], 41);
    const z = m.forward(x);
    m.backward(z);
    const g = f64(m.gradient);
    const u = input([2, 3], 42);
    const jtu = m.vjp(u);
    expect(f64(m.gradient)).toEqual(g);
    for (const t of [z, x, u, jtu]) t.dispose();
    m.dispose();
  });

  describe.each(losses)('%s loss', (lossName, loss) => {
    const C = 0.01;
    const l = 1000;
    const Cl = C * l;
    const lambda = 0.25;

    test('Gv equals an explicit JᵀBJ built column by column; symmetric, PSD; both modes equal', () => {
      const m = tiny(lossName);
      const N = 3;
      const K = 3;
      const P = m.numParameters;
      const x = input([N, 1, 5, 4], 51);
      const z = m.forward(x);
      // J (N·K × P) column by column: Jeⱼ.
      const J = new Float64Array(N * K * P);
      for (let j = 0; j < P; j++) {
        const e = new Float64Array(P);
        e[j] = 1;
        const ej = t64(e, [P]);
        const col = f64(m.jvp(ej));
        ej.dispose();
        for (let r = 0; r < N * K; r++) J[r * P + j] = col[r];
      }
      // B per sample.
      const zz = f64(z);
      const B = new Float64Array(N * K * K);
      const pT = softmax(z);
      const p = f64(pT);
      pT.dispose();
      for (let i = 0; i < N; i++) {
        for (let a = 0; a < K; a++) {
          for (let b = 0; b < K; b++) {
            B[i * K * K + a * K + b] = loss.name === 'squared' ? (a === b ? 2 : 0) : (a === b ? p[i * K + a] : 0) - p[i * K + a] * p[i * K + b];
          }
        }
      }
      void zz;
      // G = (1/Cl + λ)I + (1/N) Σ_i J_iᵀ B_i J_i
      const G = new Float64Array(P * P);
      for (let i = 0; i < N; i++) {
        for (let a = 0; a < K; a++) {
          for (let b = 0; b < K; b++) {
            const bab = B[i * K * K + a * K + b] / N;
            if (bab === 0) continue;
            const ra = (i * K + a) * P;
            const rb = (i * K + b) * P;
            for (let c = 0; c < P; c++) {
              const s = J[ra + c] * bab;
              if (s === 0) continue;
              for (let d = 0; d < P; d++) G[c * P + d] += s * J[rb + d];
            }
          }
        }
      }
      for (let c = 0; c < P; c++) G[c * P + c] += 1 / Cl + lambda;
      const opts = { loss, lambda, C, trainSize: l };
      const v = randVec(P, 52);
      const w = randVec(P, 53);
      const gv = m.gaussNewtonProduct(v, opts);
      const vv = f64(v);
      const expected = new Float64Array(P);
      for (let c = 0; c < P; c++) {
        let s = 0;
        for (let d = 0; d < P; d++) s += G[c * P + d] * vv[d];
        expected[c] = s;
      }
      expectClose(f64(gv), expected, { rtol: 1e-10, atol: 1e-12 }, 'Gv vs explicit');
      // Stored mode.
      const info = m.prepareStoredJacobian();
      expect(info).toEqual({ samples: N, outputs: K, parameters: P, bytes: N * K * P * 8 });
      const gvs = m.gaussNewtonProduct(v, { ...opts, mode: 'stored' });
      expectClose(f64(gvs), f64(gv), { rtol: 1e-10, atol: 1e-12 }, 'stored vs rop');
      // Symmetric and PSD (without λ: G − (1/Cl + λ)I is PSD).
      const gw = m.gaussNewtonProduct(w, opts);
      expectClose(dot(w, gv), dot(v, gw), { rtol: 1e-10, atol: 1e-12 }, 'symmetry');
      for (let s = 0; s < 5; s++) {
        const r = randVec(P, 60 + s);
        const g0 = m.gaussNewtonProduct(r, { ...opts, lambda: 0, C: 1e12 });
        expect(dot(r, g0)).toBeGreaterThanOrEqual(-1e-12);
        r.dispose();
        g0.dispose();
      }
      for (const t of [z, x, v, w, gv, gvs, gw]) t.dispose();
      m.dispose();
    });

    test('Hv vs finite differences of gradients, symmetric', () => {
      const m = tiny(lossName);
      const N = 3;
      const P = m.numParameters;
      const x = input([N, 1, 5, 4], 71);
      const y = lossName === 'squared' ? input([N, 3], 72) : targets(N, 3, 72);
      const grad = (): Float64Array => {
        const z = m.forward(x);
        const dz = loss.gradient(z, y);
        m.backward(dz);
        const g = f64(m.gradient);
        const th = f64(m.parameters);
        z.dispose();
        dz.dispose();
        return g.map((gi, i) => gi / N + th[i] / Cl);
      };
      const v = randVec(P, 73);
      const w = randVec(P, 74);
      const z = m.forward(x);
      const hv = m.hessianProduct(v, { loss, y, C, trainSize: l });
      const hw = m.hessianProduct(w, { loss, y, C, trainSize: l });
      expectClose(dot(w, hv), dot(v, hw), { rtol: 1e-9, atol: 1e-11 }, 'Hv symmetry');
      const hvArr = f64(hv);
      z.dispose();
      const h = 1e-6;
      const gp = withTheta(m, v, h, grad);
      const gm = withTheta(m, v, -h, grad);
      const fd = gp.map((a, i) => (a - gm[i]) / (2 * h));
      expectClose(hvArr, fd, { rtol: 1e-5, atol: 1e-7 }, 'Hv vs FD of gradients');
      for (const t of [x, y, v, w, hv, hw]) t.dispose();
      m.dispose();
    });
  });
});

describe('stored mode and memory', () => {
  test('refuses a stored Jacobian above maxBytes with a RangeError naming the sizes', () => {
    const m = tiny('m');
    const x = input([4, 1, 5, 4], 81);
    const z = m.forward(x);
    const v = randVec(m.numParameters, 82);
    expectThrow(
      () => m.gaussNewtonProduct(v, { loss: nn.squaredLoss, lambda: 1, C: 0.01, trainSize: 10, mode: 'stored', maxBytes: 1000 }),
      'RangeError',
      /Sequential.gaussNewtonProduct: the stored Jacobian of \|S\| = 4 samples × 3 outputs × 47 parameters \(float64\) needs 4512 bytes .* above the limit options.maxBytes = 1000/,
    );
    expectThrow(() => m.prepareStoredJacobian({ maxBytes: 100 }), 'RangeError', /prepareStoredJacobian: the stored Jacobian/);
    expectThrow(() => m.gaussNewtonProduct(v, { loss: nn.squaredLoss, lambda: -1, C: 0.01, trainSize: 10 }), 'RangeError', /options.lambda must be/);
    expectThrow(() => m.gaussNewtonProduct(v, { loss: nn.squaredLoss, lambda: 1, C: 0, trainSize: 10 }), 'RangeError', /options.C must be/);
    expectThrow(() => m.gaussNewtonProduct(v, { loss: nn.squaredLoss, lambda: 1, C: 1, trainSize: 1.5 }), 'RangeError', /options.trainSize/);
    expectThrow(() => m.gaussNewtonProduct(v, { loss: nn.squaredLoss, lambda: 1, C: 1, trainSize: 1, mode: 'x' as 'rop' }), 'RangeError', /options.mode/);
    const bad = randVec(3, 1);
    expectThrow(() => m.jvp(bad), 'RangeError', /Sequential.jvp: v has shape \(3\) but must have shape \(47\)/);
    expectThrow(() => m.vjp(bad), 'RangeError', /Sequential.vjp: u has shape/);
    m.releaseCache();
    expectThrow(() => m.jvp(v), 'Error', /Sequential.jvp: no forward pass/);
    for (const t of [z, x, v, bad]) t.dispose();
    m.dispose();
  });

  test('products free every temporary; the stored Jacobian is freed by the next forward pass', () => {
    const m = tiny('mem');
    const x = input([3, 1, 5, 4], 91);
    const y = targets(3, 3, 92);
    const v = randVec(m.numParameters, 93);
    const opts = { loss: nn.crossEntropyLoss, lambda: 1, C: 0.01, trainSize: 100 };
    const z = m.forward(x);
    // Warm up the allocator cache, then measure.
    for (const t of [m.jvp(v), m.gaussNewtonProduct(v, opts), m.hessianProduct(v, { ...opts, y })]) t.dispose();
    const before = settledBytesInUse();
    for (let i = 0; i < 3; i++) {
      const a = m.jvp(v);
      const b = m.vjp(a);
      const c = m.gaussNewtonProduct(v, opts);
      const d = m.hessianProduct(v, { ...opts, y });
      for (const t of [a, b, c, d]) t.dispose();
    }
    expect(memoryStats().bytesInUse).toBe(before);
    m.prepareStoredJacobian();
    const withStored = memoryStats().bytesInUse;
    expect(withStored).toBeGreaterThanOrEqual(before + 3 * 3 * m.numParameters * 8);
    const s = m.gaussNewtonProduct(v, { ...opts, mode: 'stored' });
    s.dispose();
    expect(memoryStats().bytesInUse).toBe(withStored);
    z.dispose();
    const z2 = m.forward(x);
    expect(memoryStats().bytesInUse).toBeLessThan(withStored);
    z2.dispose();
    for (const t of [x, y, v]) t.dispose();
    m.dispose();
  });
});
