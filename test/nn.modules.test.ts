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
// The checks and their tolerances are in test/nn-checks.ts.
import { memoryStats } from '../lib';
import * as nn from '../lib/nn';
import { expectClose, expectThrow, f64, randData, settledBytesInUse } from './helpers';
import { C, checkAll, oneHot, perturbConstants, randVec, size, t64, trainSize, type Mode } from './nn-checks';

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
    name: 'constantScale (a fixed negation) on a branch',
    inputShape: [2, 3, 3],
    modes: ['inference'],
    build: (g) => {
      const a = g.add(nn.conv2d(2, 3, { padding: 1 }), g.input);
      const b = g.chain(a, [nn.tanh(), nn.constantScale(-1)]);
      return head(g, g.add(nn.add(), [a, g.add(nn.constantScale(0.5), b)]));
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
    name: 'concat of three branches of 3, 2 and 1 channels (the network input one of them), batch norm after it',
    inputShape: [2, 2, 2],
    modes: ['train', 'inference'],
    build: (g) => {
      const a = g.add(nn.conv2d(1, 3, { padding: 1, bias: false }), g.input);
      const b = g.chain(a, [nn.tanh(), nn.conv2d(3, 1)]);
      return head(g, g.chain(g.add(nn.concat(), [b, g.input, a]), [nn.batchNorm2d(), nn.relu()]));
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
    const before = settledBytesInUse();
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

