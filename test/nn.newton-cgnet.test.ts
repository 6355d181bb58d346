// The CG block, the Newton-CG block and the Newton-CGNets (lib/nn/newton-cgnet.ts; "Newton
// design", /work/shared/papers/newton-cgnet.txt, Algorithm 2 and §4.1):
//   - every pass of Newton-CG blocks of N = 1, 2, 3 CG blocks (and of a small network) in float64
//     against finite differences and the product identities (test/nn-checks.ts), batch norm in
//     training and inference mode, with and without the projection, dropout 0 and 0.3 (the
//     derivative passes run with dropout off: inference, or the Newton method's batch statistics);
//   - the function against a hand computation of Algorithm 2 in plain JavaScript, with αₜ, βₜ,
//     γ, β and the running statistics away from their initial values;
//   - the parameter counts against Tables 3–5 (exact counts; the paper's, to 0.02M) and the
//     structure (2N − 1 learnable scalars per block, starting at 1.0; He convs, Xavier classifier);
//   - a short training run of a small Newton-CGNet on the bundled Fashion-MNIST (SGD, Newton);
//   - the errors.
import { loadDataset, paperPreprocess, subset, type Dataset } from '../lib/data';
import * as nn from '../lib/nn';
import {
  cgBlock,
  cgGradient,
  NEWTON_CGNET34_PARAMETERS,
  NEWTON_CGNET_CONFIGS,
  NEWTON_CGNET_DEPTHS,
  NEWTON_CGNET_NAMES,
  newtonCgBlock,
  newtonCgNet,
  newtonCgNet34ImageNet,
  newtonCgNetByName,
  type CgTransition,
  type NewtonCgBlockOptions,
} from '../lib/nn/newton-cgnet';
import { evaluateAccuracy, evaluateObjective, trainSgd } from '../lib/train';
import { expectClose, expectThrow, f64, randData } from './helpers';
import { expectNewtonDescends } from './train-checks';
import { checkAll, forwardOptions, oneHot, perturbConstants, size, t64, type Mode } from './nn-checks';

const head = (g: nn.GraphBuilder, v: nn.Value, k = 3): nn.Value => g.chain(v, [nn.globalAvgPool2d(), nn.linear(k)]);

interface Case {
  readonly name: string;
  readonly inputShape: readonly [number, number, number];
  readonly modes: readonly Mode[];
  readonly channels: number;
  readonly options: NewtonCgBlockOptions;
}

const cases: readonly Case[] = [
  { name: 'N = 1, no projection, dropout 0', inputShape: [2, 4, 4], modes: ['train', 'inference'], channels: 2, options: { blocks: 1, dropout: 0 } },
  { name: 'N = 2, no projection, dropout 0', inputShape: [2, 4, 4], modes: ['train', 'inference'], channels: 2, options: { blocks: 2, dropout: 0 } },
  { name: 'N = 3, no projection, dropout 0.3', inputShape: [2, 3, 3], modes: ['train', 'inference'], channels: 2, options: { blocks: 3, dropout: 0.3 } },
  { name: 'N = 1, projection, stride 2 (strided), dropout 0', inputShape: [2, 4, 4], modes: ['train', 'inference'], channels: 3, options: { blocks: 1, stride: 2, dropout: 0 } },
  { name: 'N = 2, projection, stride 2 (strided), dropout 0.3', inputShape: [2, 4, 4], modes: ['train', 'inference'], channels: 3, options: { blocks: 2, stride: 2, dropout: 0.3 } },
  { name: 'N = 3, projection, stride 2 (strided), dropout 0', inputShape: [2, 4, 4], modes: ['train', 'inference'], channels: 3, options: { blocks: 3, stride: 2, dropout: 0 } },
  { name: 'N = 2, projection, stride 2 (projected), dropout 0.3', inputShape: [2, 4, 4], modes: ['train', 'inference'], channels: 3, options: { blocks: 2, stride: 2, dropout: 0.3, transition: 'projected' } },
  { name: 'N = 2, forced projection at stride 1, dropout 0', inputShape: [2, 3, 3], modes: ['train'], channels: 2, options: { blocks: 2, dropout: 0, shortcut: 'projection' } },
  {
    name: 'N = 2, concatenated branches (Newton-CGNet-34), projection, stride 2',
    inputShape: [2, 4, 4],
    modes: ['train', 'inference'],
    channels: 4,
    options: { blocks: 2, stride: 2, dropout: 0, branches: { outputs: [1, 1, 2], hidden: 3 } },
  },
];

describe.each(cases)('Newton-CG block, $name', (c) => {
  test.each(c.modes.map((m) => [m]))('%s mode: ∇, Jv, Jᵀu, Gv, Hv against finite differences and identities', (mode) => {
    const g = new nn.GraphBuilder(c.inputShape);
    const net = g.build(head(g, newtonCgBlock(g, g.input, c.channels, c.options)), { dtype: 'float64' });
    net.init('he-normal', { seed: 7 });
    perturbConstants(net, 8);
    const N = 3;
    const x = t64(randData(N * size(c.inputShape), 9), [N, ...c.inputShape]);
    const y = oneHot(N, net.outputSize, 10);
    try {
      checkAll({ net, x, y, loss: nn.crossEntropyLoss, mode: mode as Mode });
    } finally {
      x.dispose();
      y.dispose();
      net.dispose();
    }
  });
});

test('a small Newton-CGNet (L-{1,1,1}, width 2) in both modes', () => {
  for (const mode of ['train', 'inference'] as const) {
    const net = newtonCgNet([3, 6, 6], 3, { blocks: [1, 1, 1], width: 2, dtype: 'float64', seed: 4 });
    perturbConstants(net, 5);
    const x = t64(randData(3 * 3 * 36, 6), [3, 3, 6, 6]);
    const y = oneHot(3, 3, 7);
    try {
      checkAll({ net, x, y, loss: nn.squaredLoss, mode });
    } finally {
      x.dispose();
      y.dispose();
      net.dispose();
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Algorithm 2 by hand: arrays (N, C, H, W) in float64.

interface Arr {
  readonly a: Float64Array;
  readonly shape: readonly [number, number, number, number];
}

function conv(x: Arr, w: Float64Array, K: number, R: number, stride: number, pad: number): Arr {
  const [N, C, H, W] = x.shape;
  const Ho = Math.floor((H + 2 * pad - R) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - R) / stride) + 1;
  const out = new Float64Array(N * K * Ho * Wo);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          let s = 0;
          for (let c = 0; c < C; c++) {
            for (let r = 0; r < R; r++) {
              for (let q = 0; q < R; q++) {
                const h = i * stride - pad + r;
                const v = j * stride - pad + q;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                s += w[((k * C + c) * R + r) * R + q] * x.a[((n * C + c) * H + h) * W + v];
              }
            }
          }
          out[((n * K + k) * Ho + i) * Wo + j] = s;
        }
      }
    }
  }
  return { a: out, shape: [N, K, Ho, Wo] };
}

interface BnParams {
  readonly gamma: Float64Array;
  readonly beta: Float64Array;
  readonly mean: Float64Array;
  readonly variance: Float64Array;
}

function bn(x: Arr, p: BnParams, mode: Mode): Arr {
  const [N, C, H, W] = x.shape;
  const out = new Float64Array(x.a.length);
  const m = N * H * W;
  for (let c = 0; c < C; c++) {
    let mu = p.mean[c];
    let v = p.variance[c];
    if (mode === 'train') {
      mu = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) mu += x.a[(n * C + c) * H * W + i];
      mu /= m;
      v = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) v += (x.a[(n * C + c) * H * W + i] - mu) ** 2;
      v /= m;
    }
    const s = 1 / Math.sqrt(v + 1e-5);
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < H * W; i++) {
        const k = (n * C + c) * H * W + i;
        out[k] = p.gamma[c] * (x.a[k] - mu) * s + p.beta[c];
      }
    }
  }
  return { a: out, shape: x.shape };
}

const lin = (terms: readonly [number, Arr][]): Arr => ({
  a: terms[0][1].a.map((_, i) => terms.reduce((s, [c, t]) => s + c * t.a[i], 0)),
  shape: terms[0][1].shape,
});
const reluArr = (x: Arr): Arr => ({ a: x.a.map((v) => Math.max(v, 0)), shape: x.shape });

describe('Algorithm 2 by hand', () => {
  test.each([
    ['train', 3, 2, 0, 'strided', true],
    ['inference', 3, 2, 0.3, 'strided', true],
    ['train', 3, 2, 0, 'strided', false],
    ['train', 2, 2, 0, 'projected', true],
    ['train', 2, 1, 0.3, 'strided', false],
    ['inference', 1, 1, 0, 'strided', true],
  ] as const)('%s mode, N = %i CG blocks, stride %i, dropout %f, %s, fused %s', (mode, blocks, stride, p, transition, fused) => {
    const inShape = [2, 5, 5] as const;
    const K = stride === 2 ? 3 : 2;
    const g = new nn.GraphBuilder(inShape);
    const net = g.build(g.chain(newtonCgBlock(g, g.input, K, { blocks, stride, dropout: p, transition, fused }), [nn.flatten()]), { dtype: 'float64' });
    net.init('he-normal', { seed: 3 });
    perturbConstants(net, 4);
    // αₜ, βₜ away from 1 (and one negative): in θ they come as α₀, β₀, α₁, β₁, α₂ (the scale
    // nodes unfused; the cgNetUpdate modules' [alpha] then [beta, alpha] fused).
    const theta = f64(net.parameters);
    const scalars = net.layers().filter((m) => m.kind === 'scale' || m.kind === 'cgNetUpdate').flatMap((m) => m.parameters);
    expect(scalars).toHaveLength(2 * blocks - 1);
    expect(net.layers().filter((m) => m.kind === 'cgNetUpdate')).toHaveLength(fused ? blocks : 0);
    const values = [0.7, 1.3, -0.4, 0.6, 1.1];
    scalars.forEach((slot, i) => (theta[slot.offset] = values[i]));
    net.setParameters(theta);
    const buffers = f64(net.buffers);

    const convs = net.layers().filter((m) => m.kind === 'conv2d').map((m) => theta.slice(m.weight!.offset, m.weight!.offset + m.weight!.size));
    const bns = net.layers().filter((m) => m.kind === 'batchNorm2d').map((m) => {
      const at = (t: Float64Array, s: nn.ParameterSlot) => t.slice(s.offset, s.offset + s.size);
      return { gamma: at(theta, m.parameters[0]), beta: at(theta, m.parameters[1]), mean: at(buffers, m.buffers[0]), variance: at(buffers, m.buffers[1]) };
    });
    const alpha = (t: number) => values[2 * t];
    const beta = (t: number) => values[2 * t + 1];

    const N = 3;
    const xa = Float64Array.from(randData(N * size(inShape), 5));
    const x: Arr = { a: xa, shape: [N, ...inShape] };
    let ci = 0;
    let bi = 0;
    const convBn = (v: Arr, k: number, r: number, s: number, pad: number) => bn(conv(v, convs[ci++], k, r, s, pad), bns[bi++], mode);
    const project = stride === 2;
    const x0 = project ? convBn(x, K, 1, 2, 0) : x; // P(x) = BN(conv1×1/2(x))
    let y = x0;
    let d: Arr | null = null;
    for (let t = 0; t < blocks; t++) {
      const strided = t === 0 && transition === 'strided';
      const input = strided ? x : y; // 'strided': CG block 0's convolutions read x with the stride
      const s = strided ? stride : 1;
      const g1 = convBn(input, K, 3, s, 1); // Dropout(BN(W₁ ∗ y)): dropout is the identity here
      const g2 = convBn(input, K, 3, s, 1); // BN(W₂ ∗ Dropout(y))
      const h = reluArr(convBn(input, K, 3, s, 1)); // ReLU(BN(W₃ ∗ y))
      const g3 = convBn(h, K, 3, 1, 1); // BN(W₄ ∗ Dropout(h))
      const gt = lin([[1, y], [1, g1], [1, g2], [1, g3]]);
      d = d === null ? lin([[-1, gt]]) : lin([[-1, gt], [beta(t - 1), d]]);
      y = lin([[1, y], [alpha(t), d]]);
    }
    const expected = reluArr(lin([[1, x0], [1, y]]));
    expect(ci).toBe(convs.length);
    expect(bi).toBe(bns.length);

    const xt = t64(xa, [N, ...inShape]);
    const z = net.forward(xt, forwardOptions(mode));
    expectClose(f64(z), expected.a, { rtol: 1e-12, atol: 1e-12 }, 'network vs Algorithm 2');
    for (const t of [xt, z]) t.dispose();
    net.dispose();
  });

  test('cgBlock and cgGradient compose to newtonCgBlock; the d-path carries −g exactly (no parameter)', () => {
    const build = (manual: boolean): nn.Network => {
      const g = new nn.GraphBuilder([2, 4, 4]);
      let out: nn.Value;
      if (manual) {
        let state = cgBlock(g, { y: g.input, d: null }, 2, { dropout: 0, fused: false });
        state = cgBlock(g, state, 2, { dropout: 0, fused: false });
        out = g.add(nn.relu(), g.add(nn.add(), [g.input, state.y]));
      } else {
        out = newtonCgBlock(g, g.input, 2, { blocks: 2, dropout: 0, fused: false });
      }
      const net = g.build(g.chain(out, [nn.flatten()]), { dtype: 'float64' });
      net.init('he-normal', { seed: 1 });
      return net;
    };
    const a = build(false);
    const b = build(true);
    expect(b.layers().map((m) => m.kind)).toEqual(a.layers().map((m) => m.kind));
    expect(f64(b.parameters)).toEqual(f64(a.parameters));
    const negations = a.layers().filter((m) => m.kind === 'constantScale');
    expect(negations).toHaveLength(2);
    expect(negations.every((m) => m.parameterCount === 0)).toBe(true);
    const g = new nn.GraphBuilder([2, 4, 4]);
    const gt = cgGradient(g, g.input, 2, { dropout: 0.2 });
    expect(gt.shape).toEqual([2, 4, 4]);
    for (const n of [a, b]) n.dispose();
  });
});

// ---------------------------------------------------------------------------------------------

describe('parameter counts', () => {
  // [L, N's, ours ('strided'), 'projected', the paper's (Tables 3, 4)]
  test.each([
    [10, 277_151, 346_271, 0.29],
    [16, 471_589, 540_709, 0.48],
    [22, 666_027, 735_147, 0.68],
    [28, 860_465, 929_585, 0.87],
    [56, 1_684_685, 1_753_805, 1.7],
    [82, 2_610_407, 2_679_527, 2.62],
    [110, 3_434_627, 3_503_747, 3.45],
  ])('Newton-CGNet-%i (CIFAR-10) has %i parameters (projected: %i; the paper: %fM)', (depth, count, projected, millions) => {
    const blocks = NEWTON_CGNET_CONFIGS[depth];
    expect(2 * (blocks[0] + blocks[1] + blocks[2]) + 2).toBe(depth);
    const net = newtonCgNet([3, 32, 32], 10, { blocks });
    expect(net.name).toBe(`newton-cgnet${depth}`);
    expect(net.numParameters).toBe(count);
    // The closest of the conventions to the paper, to 0.02M (its own rounding is 0.005M; see lib/nn/newton-cgnet.ts).
    expect(Math.abs(count / 1e6 - millions)).toBeLessThan(0.02);
    // Analytically: stem, 4 convs + 4 BNs per CG block at 16/32/64 channels, CG block 0 of the
    // downsampling blocks reading C/2 channels, 2N − 1 scalars per block, two projections, the head.
    let expected = 27 * 16 + 32 + 64 * 10 + 10;
    blocks.forEach((n, s) => {
      const c = 16 << s;
      expected += n * (36 * c * c + 8 * c) + 2 * n - 1;
      if (s > 0) expected += -3 * 9 * (c / 2) * c + (c / 2) * c + 2 * c;
    });
    expect(expected).toBe(count);
    const scalars = net.layers().filter((m) => m.kind === 'cgNetUpdate').flatMap((m) => m.parameters);
    expect(scalars).toHaveLength(2 * (blocks[0] + blocks[1] + blocks[2]) - 3);
    expect(scalars.every((slot) => f64(net.parameters)[slot.offset] === 1)).toBe(true);
    net.dispose();
    const p = newtonCgNet([3, 32, 32], 10, { blocks, transition: 'projected' });
    expect(p.numParameters).toBe(projected);
    p.dispose();
  });

  test('Newton-CGNet-34 (ImageNet): 21,650,227 parameters (21.7M, Table 5), its CG-block branches concatenated', () => {
    // ResNet-34's third stage: basic block 1 (128 → 256, stride 2, projection) and 5 more.
    const stage3 = 9 * 128 * 256 + 9 * 256 * 256 + 4 * 256 + 128 * 256 + 2 * 256 + 5 * (2 * 9 * 256 * 256 + 4 * 256);
    // The Newton-CG block: projection; CG block 0 reads x (128 channels, stride 2); 6 × BN; 6 α, 5 β.
    const cg = (cin: number) => 9 * cin * (64 + 64 + 256) + 9 * 256 * 128;
    const newtonCg = 128 * 256 + 2 * 256 + cg(128) + 5 * cg(256) + 6 * 2 * (64 + 64 + 256 + 128) + 11;
    expect(21_797_672 - stage3 + newtonCg).toBe(NEWTON_CGNET34_PARAMETERS);
    expect(Math.round(NEWTON_CGNET34_PARAMETERS / 1e5) / 10).toBe(21.7);
    const net = newtonCgNet34ImageNet([3, 224, 224], 1000);
    expect(net.numParameters).toBe(NEWTON_CGNET34_PARAMETERS);
    expect(net.layers().filter((m) => m.kind === 'concat')).toHaveLength(6);
    expect(net.summary()).toMatch(/concat 64\+64\+128/);
    net.dispose();
    const byName = newtonCgNetByName('newton-cgnet34', [3, 64, 64], 10)!;
    expect(byName.name).toBe('newton-cgnet34');
    byName.dispose();
  });
});

describe('structure', () => {
  test('shapes: 16/32/64 channels, the image halved twice; the names', () => {
    const net = newtonCgNetByName('newton-cgnet16', [3, 32, 32], 10)!;
    expect(net.name).toBe('newton-cgnet16');
    const updates = net.layers().filter((m) => m.kind === 'cgNetUpdate').map((m) => m.outputShapes.map((o) => o.join('x')).join('/'));
    expect(updates).toEqual(['16x32x32/16x32x32', '16x32x32/16x32x32', '32x16x16/32x16x16', '32x16x16/32x16x16', '64x8x8/64x8x8', '64x8x8/64x8x8', '64x8x8/64x8x8']);
    expect(net.layers().filter((m) => m.kind === 'dropout')).toHaveLength(3 * 7);
    expect(net.layers().filter((m) => m.kind === 'constantScale')).toHaveLength(0); // the negation is inside the fused update
    const unfused = newtonCgNet([3, 32, 32], 10, { blocks: [2, 2, 3], fused: false, name: 'newton-cgnet16' });
    expect(unfused.layers().filter((m) => m.kind === 'constantScale')).toHaveLength(7);
    expect(unfused.numParameters).toBe(net.numParameters);
    unfused.dispose();
    const projections = net.layers().filter((m) => m.kind === 'conv2d' && m.weight!.shape[2] === 1);
    expect(projections.map((m) => m.weight!.shape.join('x'))).toEqual(['32x16x1x1', '64x32x1x1']);
    // CG block 0 of the second Newton-CG block reads x (16 channels) with stride 2.
    const convs = net.layers().filter((m) => m.kind === 'conv2d');
    expect(convs.slice(10, 14).map((m) => `${m.inputShape.join('x')}→${m.outputShape.join('x')}`)).toEqual([
      '16x32x32→32x16x16',
      '16x32x32→32x16x16',
      '16x32x32→32x16x16',
      '32x16x16→32x16x16',
    ]);
    net.dispose();
    expect(newtonCgNetByName('newton-cgnet57', [3, 32, 32], 10)).toBeNull();
    expect(newtonCgNetByName('resnet56', [3, 32, 32], 10)).toBeNull();
    expect(NEWTON_CGNET_NAMES).toEqual([...NEWTON_CGNET_DEPTHS.map((d) => `newton-cgnet${d}`), 'newton-cgnet34']);
  });

  test('He-normal convolutions and a Xavier classifier; an explicit initializer applies to all', () => {
    const net = newtonCgNet([3, 16, 16], 10, { blocks: [1, 1, 1], seed: 3 });
    const theta = f64(net.parameters);
    const fc = net.layers()[net.layers().length - 1];
    expect(fc.kind).toBe('linear');
    const w = theta.slice(fc.weight!.offset, fc.weight!.offset + fc.weight!.size);
    const a = Math.sqrt(6 / (64 + 10));
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(a);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * a); // uniform on (−a, a), 640 draws
    const conv = net.layers().filter((m) => m.kind === 'conv2d')[5];
    const cw = theta.slice(conv.weight!.offset, conv.weight!.offset + conv.weight!.size);
    const std = Math.sqrt(cw.reduce((s, v) => s + v * v, 0) / cw.length);
    expect(std / Math.sqrt(2 / conv.fanIn)).toBeGreaterThan(0.9);
    expect(std / Math.sqrt(2 / conv.fanIn)).toBeLessThan(1.1);
    const he = newtonCgNet([3, 16, 16], 10, { blocks: [1, 1, 1], seed: 3, initializer: 'he-normal' });
    const theta2 = f64(he.parameters);
    expect(theta2.length).toBe(theta.length);
    expect(theta.every((v, i) => i >= fc.weight!.offset || v === theta2[i])).toBe(true); // the same but for the classifier
    const w2 = theta2.slice(fc.weight!.offset, fc.weight!.offset + fc.weight!.size);
    expect(Math.max(...w2.map(Math.abs))).toBeGreaterThan(a); // N(0, 2/64) reaches beyond √(6/74)
    for (const n of [net, he]) n.dispose();
  });
});

// ---------------------------------------------------------------------------------------------

describe('training', () => {
  let data: { train: Dataset; test: Dataset };

  beforeAll(async () => {
    const raw = await loadDataset('fashion-mnist-small');
    const firstN = (ds: Dataset, n: number, stride: number): Dataset => subset(ds, Int32Array.from({ length: n }, (_, i) => i * stride));
    data = paperPreprocess(firstN(raw.train, 256, 7), firstN(raw.test, 500, 1));
  });

  const small = () => newtonCgNet(data.train.shape, data.train.classes, { blocks: [1, 1, 1], width: 4, seed: 1 });

  test('SGD trains a small Newton-CGNet (L-{1,1,1}, width 4, dropout 0.2): the loss falls, accuracy above chance', async () => {
    const model = small();
    const opts = { C: 1, loss: nn.crossEntropyLoss };
    const before = evaluateObjective(model, data.train, opts).lossMean;
    const beforeBatch = evaluateObjective(model, data.train, { ...opts, batchStatistics: true }).lossMean;
    const r = await trainSgd(model, data.train, { epochs: 2, batchSize: 16, loss: nn.crossEntropyLoss, sgd: { learningRate: 0.05, momentum: 0.9, C: 1 } });
    expect(r.aborted).toBe(false);
    // Here: running statistics 2.37 → 1.86, batch statistics 2.61 → 1.63; test accuracy 0.29.
    expect(evaluateObjective(model, data.train, opts).lossMean).toBeLessThan(0.9 * before);
    expect(evaluateObjective(model, data.train, { ...opts, batchStatistics: true }).lossMean).toBeLessThan(0.8 * beforeBatch);
    expect(evaluateAccuracy(model, data.test)).toBeGreaterThan(0.2);
    model.dispose();
  }, 60_000);

  test('subsampled Newton trains it with batch norm in training mode; f decreases every iteration', async () => {
    const model = small();
    await expectNewtonDescends(model, data.train, { iterations: 3, batchSize: 128, newton: { samplingRate: 0.5, cgMaxIterations: 20, C: 1 } }); // here 3.44 → 2.43
    // The function Newton optimises (batch statistics; three iterations barely move the running
    // ones, momentum 0.1): test accuracy 0.37 here.
    expect(evaluateObjective(model, data.test, { C: 1, loss: nn.crossEntropyLoss, batchStatistics: true }).accuracy).toBeGreaterThan(0.2);
    model.dispose();
  }, 60_000);
});

test('errors say what is wrong', () => {
  const g = new nn.GraphBuilder([2, 4, 4]);
  expectThrow(() => newtonCgBlock(g, g.input, 3, { shortcut: 'identity', stride: 2 }), 'RangeError', /without a projection the block needs stride 1/);
  expectThrow(() => newtonCgBlock(g, g.input, 2, { blocks: 0 }), 'RangeError', /options.blocks must be a positive integer/);
  expectThrow(() => newtonCgBlock(g, g.input, 2, { dropout: 1 }), 'RangeError', /options.dropout must be a number in \[0, 1\)/);
  expectThrow(() => newtonCgBlock(g, g.input, 2, { transition: 'inside' as CgTransition }), 'RangeError', /options.transition/);
  expectThrow(() => newtonCgBlock(g, g.input, 4, { branches: { outputs: [1, 1, 1], hidden: 2 } }), 'RangeError', /add up to 4/);
  expectThrow(() => cgGradient(g, g.input, 3), 'RangeError', /pass options.identity/);
  expectThrow(() => cgGradient(g, g.input, 2, { stride: 2 }), 'RangeError', /identity term has shape \[2, 4, 4\] but the branches give \[2, 2, 2\]/);
  expectThrow(() => newtonCgNet([3, 8, 8], 10, { blocks: [1, 1] }), 'RangeError', /options.blocks must be \[N1, N2, N3\]/);
  expectThrow(() => newtonCgNet([3, 8, 8], 0), 'RangeError', /classes must be a positive integer/);
  expectThrow(() => newtonCgNet([3, 8, 8], 10, { width: 1.5 }), 'RangeError', /options.width/);
});
