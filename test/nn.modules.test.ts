// Every pass of every module and block, in float64 on the CPU, through small networks built
// with GraphBuilder: batch norm in training mode (statistics of the batch, so examples are not
// independent) and in inference mode, shortcuts (add of two and three inputs, the network
// input as a shortcut), products of branches (mul), a learnable scalar, tanh, identity, global
// average pooling, convolutions without bias, the basic and bottleneck blocks with identity and
// projection shortcuts, and a small CIFAR ResNet. For each network and mode:
//   ∇θ f and ∇x f        against central differences of f = Σ_i ξ(z_i, y_i)
//   Jv                   against central differences of z along v; ⟨u, Jv⟩ = ⟨Jᵀu, v⟩
//   Gv                   = (1/Cl + λ)v + Jᵀ B J v / N, symmetric, positive semi-definite;
//                        the stored mode equal to it (inference) or refused (training mode)
//   Hv                   against central differences of ∇f along v; symmetric
// Finite differences re-run forward in the same mode: in training mode the batch statistics
// move with θ and x, which is the function the exact passes differentiate.
//
// Tolerances: central differences in float64 with h = 1e-5 have truncation error O(h²) ≈ 1e-10
// and rounding O(ε·|f|/h) ≈ 1e-10; the data are generic (no ReLU kink within h). Identities that
// hold exactly in exact arithmetic (adjoint, symmetry) are checked to 1e-9 relative.
import { dot, memoryStats, Tensor } from '../lib';
import * as nn from '../lib/nn';
import { expectClose, expectThrow, f64, prng, randData } from './helpers';

type Mode = 'train' | 'inference';

function t64(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  return Tensor.from(Float64Array.from(data), { shape, dtype: 'float64' });
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function randVec(n: number, seed: number, scale = 1): Tensor {
  return t64(randData(n, seed, scale), [n]);
}

function oneHot(n: number, k: number, seed: number): Tensor {
  const r = prng(seed);
  const y = new Float64Array(n * k);
  for (let i = 0; i < n; i++) y[i * k + Math.floor(r() * k)] = 1;
  return t64(y, [n, k]);
}

function dotArr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Non-trivial values for what init leaves constant: biases, batch-norm γ, β and running statistics. */
function perturbConstants(net: nn.Network, seed: number): void {
  const r = prng(seed);
  const theta = f64(net.parameters);
  for (const info of net.layers()) {
    for (const p of info.parameters) {
      if (p.init === 'fan') continue;
      for (let i = 0; i < p.size; i++) {
        theta[p.offset + i] = p.init === 'ones' ? 0.6 + 0.8 * r() : p.init === 'zeros' ? 0.6 * r() - 0.3 : theta[p.offset + i] * (0.8 + 0.4 * r());
      }
    }
  }
  net.setParameters(theta);
  const buffers = f64(net.buffers);
  for (const info of net.layers()) {
    for (const b of info.buffers) {
      for (let i = 0; i < b.size; i++) buffers[b.offset + i] = b.name === 'runningVar' ? 0.5 + 1.5 * r() : r() - 0.5;
    }
  }
  net.setBuffers(buffers);
}

function forwardOptions(mode: Mode): nn.ForwardOptions {
  return mode === 'train' ? { batchStatistics: true } : {};
}

/** θ ← θ + h·v while fn runs, restored after. */
function withTheta<T>(net: nn.Network, v: Float64Array, h: number, fn: () => T): T {
  const theta = f64(net.parameters);
  try {
    net.setParameters(theta.map((t, i) => t + h * v[i]));
    return fn();
  } finally {
    net.setParameters(theta);
  }
}

interface Problem {
  readonly net: nn.Network;
  readonly x: Tensor;
  readonly y: Tensor;
  readonly loss: nn.Loss;
  readonly mode: Mode;
}

/** f = Σ_i ξ(z_i, y_i) at input values `xv` (the problem's x by default). */
function objective(p: Problem, xv?: Float64Array): number {
  const x = xv === undefined ? p.x : t64(xv, p.x.shape);
  const z = p.net.forward(x, forwardOptions(p.mode));
  const f = p.loss.value(z, p.y);
  z.dispose();
  if (x !== p.x) x.dispose();
  p.net.releaseCache();
  return f;
}

function outputAt(p: Problem): Float64Array {
  const z = p.net.forward(p.x, forwardOptions(p.mode));
  const a = f64(z);
  z.dispose();
  p.net.releaseCache();
  return a;
}

const C = 0.01;
const trainSize = 500;
const Cl = C * trainSize;
const h = 1e-5;
const fdTol = { rtol: 1e-6, atol: 1e-8 };
const exactTol = { rtol: 1e-9, atol: 1e-11 };

/** ∇f/N + θ/Cl at the current θ: the gradient whose derivative Hv is. */
function regularisedGradient(p: Problem): Float64Array {
  const z = p.net.forward(p.x, forwardOptions(p.mode));
  const dz = p.loss.gradient(z, p.y);
  p.net.backward(dz);
  const g = f64(p.net.gradient);
  const theta = f64(p.net.parameters);
  z.dispose();
  dz.dispose();
  p.net.releaseCache();
  const N = p.x.shape[0];
  return g.map((gi, i) => gi / N + theta[i] / Cl);
}

/** Every derivative check of note above on one network and mode. */
function checkAll(p: Problem): void {
  const { net, x, y, loss, mode } = p;
  const N = x.shape[0];
  const P = net.numParameters;
  const K = net.outputSize;
  const opts = forwardOptions(mode);
  const buffersBefore = f64(net.buffers);

  // The exact passes, all on one forward pass.
  const z = net.forward(x, opts);
  expect(net.perSample()).toBe(mode === 'inference' || !net.layers().some((m) => m.kind === 'batchNorm2d'));
  const dz = loss.gradient(z, y);
  const dx = net.backward(dz, { inputGradient: true })!;
  const grad = f64(net.gradient);
  const gradX = f64(dx);
  const v = randVec(P, 101, 0.5);
  const w = randVec(P, 102, 0.5);
  const u = randVec(N * K, 103).reshape([N, K]);
  const jv = net.jvp(v);
  const jtu = net.vjp(u);
  expectClose(dot(u, jv), dot(jtu, v), exactTol, 'adjoint ⟨u, Jv⟩ = ⟨Jᵀu, v⟩');
  const gnOpts = { loss, lambda: 0.3, C, trainSize };
  const gv = net.gaussNewtonProduct(v, gnOpts);
  const gw = net.gaussNewtonProduct(w, gnOpts);
  expectClose(dot(w, gv), dot(v, gw), exactTol, 'Gv symmetric');
  // Gv from its parts: (1/Cl + λ)v + Jᵀ(B·Jv)/N.
  const bjv = loss.hessianProduct(z, jv);
  const jtbjv = net.vjp(bjv);
  const vv = f64(v);
  const parts = f64(jtbjv).map((a, i) => a / N + (1 / Cl + 0.3) * vv[i]);
  expectClose(f64(gv), parts, exactTol, 'Gv = (1/Cl + λ)v + JᵀBJv/N');
  for (let s = 0; s < 3; s++) {
    const r = randVec(P, 110 + s);
    const g0 = net.gaussNewtonProduct(r, { loss, lambda: 0, C: 1e300, trainSize });
    expect(dot(r, g0)).toBeGreaterThanOrEqual(-1e-12 * dot(r, r));
    r.dispose();
    g0.dispose();
  }
  if (net.perSample()) {
    const gs = net.gaussNewtonProduct(v, { ...gnOpts, mode: 'stored' });
    expectClose(f64(gs), f64(gv), exactTol, 'stored Gv = rop Gv');
    gs.dispose();
  } else {
    expectThrow(() => net.gaussNewtonProduct(v, { ...gnOpts, mode: 'stored' }), 'RangeError', /stored-Jacobian mode cannot run.*batch norm in training mode/);
  }
  const hv = net.hessianProduct(v, { loss, y, C, trainSize });
  const hw = net.hessianProduct(w, { loss, y, C, trainSize });
  expectClose(dot(w, hv), dot(v, hw), exactTol, 'Hv symmetric');
  const jvArr = f64(jv);
  const hvArr = f64(hv);
  // No product touched the running statistics or θ's gradient.
  expect(f64(net.buffers)).toEqual(buffersBefore);
  expect(f64(net.gradient)).toEqual(grad);
  for (const t of [z, dz, dx, w, u, jv, jtu, gv, gw, bjv, jtbjv, hv, hw]) t.dispose();

  // Finite differences.
  const f = (s: number, dir: Float64Array) => withTheta(net, dir, s * h, () => objective(p));
  if (P <= 160) {
    const fdGrad = new Float64Array(P);
    for (let j = 0; j < P; j++) {
      const e = new Float64Array(P);
      e[j] = 1;
      fdGrad[j] = (f(1, e) - f(-1, e)) / (2 * h);
    }
    expectClose(grad, fdGrad, fdTol, '∇θ f vs central differences');
  }
  for (let s = 0; s < 2; s++) {
    const dir = randData(P, 120 + s);
    expectClose(dotArr(grad, dir), (f(1, dir) - f(-1, dir)) / (2 * h), fdTol, '⟨∇θ f, v⟩ vs central difference');
  }
  const xv = f64(x);
  for (let s = 0; s < 2; s++) {
    const rx = randData(xv.length, 130 + s);
    const fp = objective(p, xv.map((a, i) => a + h * rx[i]));
    const fm = objective(p, xv.map((a, i) => a - h * rx[i]));
    expectClose(dotArr(gradX, rx), (fp - fm) / (2 * h), fdTol, '⟨∇x f, r⟩ vs central difference');
  }
  const zp = withTheta(net, vv, h, () => outputAt(p));
  const zm = withTheta(net, vv, -h, () => outputAt(p));
  expectClose(jvArr, zp.map((a, i) => (a - zm[i]) / (2 * h)), fdTol, 'Jv vs central differences');
  const gp = withTheta(net, vv, h, () => regularisedGradient(p));
  const gm = withTheta(net, vv, -h, () => regularisedGradient(p));
  expectClose(hvArr, gp.map((a, i) => (a - gm[i]) / (2 * h)), { rtol: 1e-5, atol: 1e-7 }, 'Hv vs central differences of ∇f');
  expect(f64(net.buffers)).toEqual(buffersBefore);
  v.dispose();
}

interface Case {
  readonly name: string;
  readonly inputShape: readonly [number, number, number];
  readonly modes: readonly Mode[];
  readonly loss?: nn.Loss;
  readonly N?: number;
  /** Adds the modules on g.input and returns the (flat) output. */
  build(g: nn.GraphBuilder): nn.Value;
}

const head = (g: nn.GraphBuilder, v: nn.Value, k = 3): nn.Value => g.chain(v, v.shape.length === 3 ? [nn.flatten(), nn.linear(k)] : [nn.linear(k)]);

const cases: readonly Case[] = [
  {
    name: 'batchNorm2d after a conv without bias',
    inputShape: [2, 4, 3],
    modes: ['train', 'inference'],
    build: (g) => head(g, g.chain(g.input, [nn.conv2d(3, 3, { padding: 1, bias: false }), nn.batchNorm2d(), nn.relu()])),
  },
  {
    name: 'batchNorm2d without affine parameters',
    inputShape: [2, 3, 3],
    modes: ['train', 'inference'],
    loss: nn.squaredLoss,
    build: (g) => head(g, g.chain(g.input, [nn.conv2d(2, 2, { padding: 1 }), nn.batchNorm2d({ affine: false }), nn.tanh()])),
  },
  {
    name: 'batchNorm2d on the network input (no tangent reaches it)',
    inputShape: [2, 3, 3],
    modes: ['train', 'inference'],
    build: (g) => head(g, g.chain(g.input, [nn.batchNorm2d(), nn.conv2d(2, 3, { padding: 1 }), nn.relu()])),
  },
  {
    name: 'batchNorm2d (no affine) on the input, then batchNorm2d with eps 0.1',
    inputShape: [2, 3, 2],
    modes: ['train', 'inference'],
    build: (g) => head(g, g.chain(g.input, [nn.batchNorm2d({ affine: false }), nn.conv2d(3, 1), nn.batchNorm2d({ eps: 0.1 })])),
  },
  {
    name: 'add with the network input as the shortcut',
    inputShape: [2, 3, 3],
    modes: ['inference'],
    build: (g) => {
      const h1 = g.chain(g.input, [nn.conv2d(2, 3, { padding: 1 }), nn.tanh()]);
      return head(g, g.add(nn.relu(), g.add(nn.add(), [g.input, h1])));
    },
  },
  {
    name: 'add of three branches, one used twice (fan-out)',
    inputShape: [1, 4, 4],
    modes: ['train'],
    build: (g) => {
      const a = g.add(nn.conv2d(2, 3, { padding: 1, bias: false }), g.input);
      const b = g.chain(a, [nn.batchNorm2d(), nn.relu()]);
      const c = g.add(nn.conv2d(2, 1), a);
      return head(g, g.add(nn.add(), [a, b, c]));
    },
  },
  {
    name: 'mul of two branches (a gate), scale, tanh',
    inputShape: [2, 3, 3],
    modes: ['inference'],
    loss: nn.squaredLoss,
    build: (g) => {
      const a = g.chain(g.input, [nn.conv2d(2, 3, { padding: 1 }), nn.tanh()]);
      const b = g.chain(g.input, [nn.conv2d(2, 1), nn.scale(0.7)]);
      return head(g, g.add(nn.mul(), [a, b]));
    },
  },
  {
    name: 'mul of a value with itself, scale on the input',
    inputShape: [1, 3, 3],
    modes: ['inference'],
    build: (g) => {
      const s = g.add(nn.scale(1.3), g.input);
      const a = g.add(nn.conv2d(2, 2), s);
      return head(g, g.add(nn.mul(), [a, a]));
    },
  },
  {
    name: 'identity, globalAvgPool2d, linear without bias',
    inputShape: [2, 4, 3],
    modes: ['train', 'inference'],
    build: (g) =>
      g.chain(g.input, [nn.conv2d(3, 3, { padding: 1 }), nn.batchNorm2d(), nn.identity(), nn.relu(), nn.globalAvgPool2d(), nn.linear(3, { bias: false })]),
  },
  {
    name: 'basic block, identity shortcut',
    inputShape: [2, 4, 4],
    modes: ['train', 'inference'],
    N: 3,
    build: (g) => head(g, nn.basicBlock(g, g.input, 2, { shortcut: 'identity' })),
  },
  {
    name: 'basic block, projection shortcut with stride 2',
    inputShape: [2, 4, 4],
    modes: ['train', 'inference'],
    N: 3,
    build: (g) => head(g, nn.basicBlock(g, g.input, 3, { stride: 2 })),
  },
  {
    name: 'bottleneck block, projection shortcut',
    inputShape: [3, 3, 3],
    modes: ['train', 'inference'],
    N: 3,
    build: (g) => head(g, nn.bottleneckBlock(g, g.input, 1)),
  },
  {
    name: 'bottleneck block, identity shortcut, stride 1',
    inputShape: [4, 3, 3],
    modes: ['train'],
    N: 3,
    build: (g) => head(g, nn.bottleneckBlock(g, g.input, 1, { shortcut: 'identity' })),
  },
];

describe.each(cases)('$name', (c) => {
  test.each(c.modes.map((m) => [m]))('%s mode: ∇, Jv, Jᵀu, Gv, Hv against finite differences and identities', (mode) => {
    const g = new nn.GraphBuilder(c.inputShape);
    const net = g.build(c.build(g), { dtype: 'float64' });
    net.init('he-normal', { seed: 7 });
    perturbConstants(net, 8);
    const N = c.N ?? 4;
    const x = t64(randData(N * size(c.inputShape), 9), [N, ...c.inputShape]);
    const y = oneHot(N, net.outputSize, 10);
    try {
      checkAll({ net, x, y, loss: c.loss ?? nn.crossEntropyLoss, mode: mode as Mode });
    } finally {
      x.dispose();
      y.dispose();
      net.dispose();
    }
  });
});

test('a CIFAR ResNet (depth 8, width 2) in both modes', () => {
  for (const mode of ['train', 'inference'] as const) {
    const net = nn.cifarResNet(8, [3, 6, 6], 3, { dtype: 'float64', width: 2, seed: 4 });
    perturbConstants(net, 5);
    const x = t64(randData(3 * 3 * 36, 6), [3, 3, 6, 6]);
    const y = oneHot(3, 3, 7);
    try {
      checkAll({ net, x, y, loss: nn.crossEntropyLoss, mode });
    } finally {
      x.dispose();
      y.dispose();
      net.dispose();
    }
  }
});

describe('batch norm semantics', () => {
  function bnNet(options?: nn.BatchNorm2dOptions): nn.Network {
    const g = new nn.GraphBuilder([2, 3, 2]);
    const net = g.build(g.chain(g.input, [nn.batchNorm2d(options), nn.flatten()]), { dtype: 'float64' });
    perturbConstants(net, 21);
    return net;
  }

  test('inference mode is the affine map γ(x − μ_r)/√(σ²_r + ε) + β of the running statistics', () => {
    const net = bnNet({ eps: 0.01 });
    const x = t64(randData(3 * 12, 22), [3, 2, 3, 2]);
    const z = net.forward(x);
    const [g0, g1, b0, b1] = f64(net.parameters);
    const [m0, m1, v0, v1] = f64(net.buffers);
    const xv = f64(x);
    const expected = xv.map((a, i) => {
      const c = Math.floor(i / 6) % 2;
      return c === 0 ? (g0 * (a - m0)) / Math.sqrt(v0 + 0.01) + b0 : (g1 * (a - m1)) / Math.sqrt(v1 + 0.01) + b1;
    });
    expectClose(f64(z), expected, { rtol: 1e-14, atol: 1e-14 }, 'inference batch norm');
    expect(net.perSample()).toBe(true);
    z.dispose();
    x.dispose();
    net.dispose();
  });

  test('training mode normalises with the batch statistics; running statistics move only when told, by the momentum rule', () => {
    const net = bnNet({ momentum: 0.25, eps: 1e-5 });
    const N = 4;
    const x = t64(randData(N * 12, 23, 2), [N, 2, 3, 2]);
    const xv = f64(x);
    const before = f64(net.buffers);
    const [g0, g1, b0, b1] = f64(net.parameters);
    const z = net.forward(x, { training: true });
    expect(f64(net.buffers)).toEqual(before); // updateStatistics defaults to false
    expect(net.perSample()).toBe(false);
    const zv = f64(z);
    for (let c = 0; c < 2; c++) {
      const vals: number[] = [];
      const outs: number[] = [];
      for (let n = 0; n < N; n++) for (let k = 0; k < 6; k++) {
        vals.push(xv[(n * 2 + c) * 6 + k]);
        outs.push(zv[(n * 2 + c) * 6 + k]);
      }
      const m = vals.length;
      const mean = vals.reduce((a, b) => a + b, 0) / m;
      const variance = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / m;
      const [g, b] = c === 0 ? [g0, b0] : [g1, b1];
      expectClose(outs, vals.map((a) => (g * (a - mean)) / Math.sqrt(variance + 1e-5) + b), { rtol: 1e-12, atol: 1e-12 }, `channel ${c}`);
      // The update: r ← (1 − momentum)·r + momentum·batch, the variance unbiased.
      const zz = net.forward(x, { training: true, updateStatistics: true });
      zz.dispose();
      const after = f64(net.buffers);
      expectClose(after[c], 0.75 * before[c] + 0.25 * mean, { rtol: 1e-14, atol: 1e-15 }, 'running mean');
      expectClose(after[2 + c], 0.75 * before[2 + c] + (0.25 * variance * m) / (m - 1), { rtol: 1e-14, atol: 1e-15 }, 'running variance');
      net.setBuffers(before);
    }
    // updateStatistics without batch statistics changes nothing.
    const zi = net.forward(x, { updateStatistics: true });
    expect(f64(net.buffers)).toEqual(before);
    for (const t of [z, zi, x]) t.dispose();
    net.dispose();
  });

  test('batch statistics without training mode keep dropout off (the Newton objective)', () => {
    const g = new nn.GraphBuilder([1, 2, 2]);
    const net = g.build(g.chain(g.input, [nn.batchNorm2d(), nn.dropout(0.5), nn.flatten()]), { dtype: 'float64' });
    const x = t64(randData(3 * 4, 24), [3, 1, 2, 2]);
    const a = net.forward(x, { batchStatistics: true });
    const b = net.forward(x, { training: true, noiseSeed: 1 });
    const av = f64(a);
    const bv = f64(b);
    // Dropout zeroes some of b and doubles the rest; a is b without it.
    expect(bv.some((t) => t === 0)).toBe(true);
    bv.forEach((t, i) => {
      if (t !== 0) expectClose(t, 2 * av[i], { rtol: 1e-14, atol: 1e-14 }, 'kept value');
    });
    for (const t of [a, b, x]) t.dispose();
    net.dispose();
  });

  test('products on a train-mode batch-norm network free every temporary', () => {
    const net = nn.cifarResNet(8, [3, 4, 4], 2, { dtype: 'float64', width: 2 });
    const x = t64(randData(2 * 48, 25), [2, 3, 4, 4]);
    const y = oneHot(2, 2, 26);
    const v = randVec(net.numParameters, 27);
    const opts = { loss: nn.crossEntropyLoss, lambda: 1, C, trainSize };
    const z = net.forward(x, { batchStatistics: true });
    for (const t of [net.jvp(v), net.gaussNewtonProduct(v, opts), net.hessianProduct(v, { ...opts, y })]) t.dispose();
    const before = memoryStats().bytesInUse;
    for (let i = 0; i < 2; i++) {
      const a = net.jvp(v);
      const b = net.vjp(a);
      const c = net.gaussNewtonProduct(v, opts);
      const d = net.hessianProduct(v, { ...opts, y });
      for (const t of [a, b, c, d]) t.dispose();
    }
    expect(memoryStats().bytesInUse).toBe(before);
    for (const t of [z, x, y, v]) t.dispose();
    net.dispose();
  });
});

describe('GraphBuilder', () => {
  test('a graph spec round-trips through networkFromSpec to the same function', () => {
    const g = new nn.GraphBuilder([2, 4, 4]);
    const out = g.chain(nn.basicBlock(g, g.input, 3, { stride: 2 }), [nn.globalAvgPool2d(), nn.linear(2)]);
    const a = g.build(out, { dtype: 'float64' });
    a.init('xavier', { seed: 3 });
    const b = nn.networkFromSpec(JSON.parse(JSON.stringify(g.toSpec())) as nn.GraphSpec, { dtype: 'float64' });
    b.setParameters(a.getParameters());
    const x = t64(randData(2 * 32, 31), [2, 2, 4, 4]);
    const za = a.forward(x, { batchStatistics: true });
    const zb = b.forward(x, { batchStatistics: true });
    expect(f64(zb)).toEqual(f64(za));
    for (const t of [x, za, zb]) t.dispose();
    a.dispose();
    b.dispose();
  });

  test('summary() prints each node with its inputs', () => {
    const g = new nn.GraphBuilder([2, 4, 4]);
    const net = g.build(g.chain(nn.basicBlock(g, g.input, 2), [nn.globalAvgPool2d(), nn.linear(2)]), { name: 'block' });
    const s = net.summary();
    expect(s).toMatch(/inputs/);
    expect(s).toMatch(/add\s+4, input/); // the residual sum of the block's last batch norm (node 4) and the identity shortcut
    expect(s).toMatch(/batchNorm2d 2/);
    expect(s).toMatch(new RegExp(`block: ${net.numParameters} parameters`));
    net.dispose();
  });

  test('errors name the node and the shapes', () => {
    const g = new nn.GraphBuilder([2, 4, 4]);
    const a = g.add(nn.conv2d(3, 3), g.input);
    expectThrow(() => g.add(nn.add(), [g.input, a]), 'RangeError', /add/);
    expectThrow(() => g.add(nn.add(), [a]), 'RangeError', /add/);
    expectThrow(() => g.add(nn.mul(), [a, a, a]), 'RangeError', /mul/);
    expectThrow(() => g.add(nn.relu(), [a, a]), 'RangeError', /takes one input/);
    const other = new nn.GraphBuilder([2, 4, 4]);
    expectThrow(() => g.add(nn.relu(), other.add(nn.relu(), other.input)), 'TypeError', /value of this builder/);
    const b = g.add(nn.relu(), a);
    expectThrow(() => g.build(a), 'RangeError', /must be the last value added/);
    const c = g.add(nn.flatten(), a);
    expectThrow(() => g.build(c), 'RangeError', /layer 1 \(relu.*does not feed the output/);
    void b;
    expectThrow(() => new nn.Sequential([2, 4, 4], [nn.add() as unknown as nn.LayerSpec]), 'RangeError', /GraphBuilder/);
    expectThrow(() => nn.basicBlock(g, a, 4, { stride: 2, shortcut: 'identity' }), 'RangeError', /identity shortcut needs stride 1/);
    expectThrow(() => nn.basicBlock(g, a, 4, { stride: 0 }), 'RangeError', /stride/);
    expectThrow(() => g.add(nn.batchNorm2d(), g.add(nn.flatten(), a)), 'RangeError', /batchNorm2d.*\[C, H, W\]/);
  });
});
