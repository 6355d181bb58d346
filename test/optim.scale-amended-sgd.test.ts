// ScaleAmendedSgd (Zhang, Chen & Liu 2018, Algorithm 2) against hand-computed updates:
//   m = 1 at the output; for b = B…1: δ'W_b = δW_b/m/m_{b,W}, m ← m·m_{b,z}
//   ‖W‖²_{2,µ} = ‖W‖²_F/#row(W), m_{b,W} = 1/‖W‖²_{2,µ}, m_{b,z} = ‖Wᵀ‖²_{2,µ}/‖W‖²_{2,µ} = n_b/n_{b−1}
//   δW = ∇/|B| + θ/Cl + w·θ (the weight decay before the amendment); v ← μv − η δ'; θ ← θ + v
// on a tiny conv → BN → ReLU → linear network with explicit numbers; the backward factors of VGG13
// (m = classes/channels: the paper's 10/512 at the last conv) and of residual graphs (fanOut max
// and sum); the reduction to Sgd; state round trips; option errors.
import { copy, Tensor } from '../lib';
import * as nn from '../lib/nn';
import { vgg13bn } from '../lib/nn/vgg';
import {
  backwardFactors,
  DEFAULT_SCALE_AMENDED_SGD_OPTIONS,
  resolveScaleAmendedSgdOptions,
  ScaleAmendedSgd,
  Sgd,
  type ScaleAmendedSgdOptions,
} from '../lib/optim';
import { expectClose, expectThrow, f64 } from './helpers';

const tight = { rtol: 1e-13, atol: 1e-15 };

/**
 * [2, 1, 1] → conv2d 1×1, 3 filters, no bias (W1: 3×2) → batch norm (γ, β: 3) → ReLU → flatten →
 * linear 3 → 2 with bias (W2: 2×3, b2: 2). θ = W1 (0–5), γ (6–8), β (9–11), W2 (12–17), b2 (18–19).
 */
function tinyModel(): nn.Network {
  const m = new nn.Sequential([2, 1, 1], [nn.conv2d(3, 1, { bias: false }), nn.batchNorm2d(), nn.relu(), nn.flatten(), nn.linear(2)], { dtype: 'float64' });
  m.setParameters(Float64Array.from(THETA0));
  return m;
}

// prettier-ignore
const THETA0 = [
  1, 2, 0, -1, 2, 2,          // W1: ‖W1‖²_F = 14, 3 rows: ‖W1‖²_{2,µ} = 14/3
  1, 0.5, 2,                  // γ
  0, 0.1, -0.2,               // β
  1, 0, 2, 0, 1, 1,           // W2: ‖W2‖²_F = 7, 2 rows: ‖W2‖²_{2,µ} = 7/2
  0.5, -0.5,                  // b2
];
// prettier-ignore
const G1 = [2, -4, 6, 0, 2, 4,  1, -1, 2,  0, 3, -3,  4, 2, 0, -2, 6, 8,  1, -2]; // Σ over a batch of 2
// prettier-ignore
const G2 = [-1, 0.5, 2, 1, -3, 0.25,  0.2, 0.4, -0.6,  1, 0, 2,  -2, 1, 0.5, 3, -1, 0,  0.3, 0.1];

function setGradient(m: nn.Network, g: number[]): void {
  const t = Tensor.from(Float64Array.from(g));
  copy(m.gradient, t);
  t.dispose();
}

// η 0.1, μ 0.5, w 0.01, C·l = 1·100 (θ/Cl = 0.01θ): δ = g/2 + 0.02θ
const OPTIONS: ScaleAmendedSgdOptions = { learningRate: 0.1, momentum: 0.5, weightDecay: 0.01, C: 1 };
const L = 100;

describe('the update on a tiny network, by hand', () => {
  test('backward factors: m = 1 at the output, m ← m·n_b/n_{b−1} below each conv/linear layer', () => {
    const m = tinyModel();
    const f = backwardFactors(m);
    expect(f.map((x) => x.kind)).toEqual(['conv2d', 'batchNorm2d', 'relu', 'flatten', 'linear']);
    expect(f.map((x) => x.m)).toEqual([2 / 3, 2 / 3, 2 / 3, 2 / 3, 1]); // m_{linear,z} = 2/3 (2 rows, 3 columns)
    expect(f.map((x) => x.mZ)).toEqual([3 / 2, 1, 1, 1, 2 / 3]); //    m_{conv,z} = 3/2 (3 filters of 2 channels)
    m.dispose();
  });

  test('step 1: δ\' = δ/m/m_{b,W}: ×7 on W1, ×3/2 on γ and β, ×7/2 on W2, ×1 on b2', () => {
    const m = tinyModel();
    const opt = new ScaleAmendedSgd(m, OPTIONS, L);
    // W1: m = 2/3, m_{b,W} = 3/14 → 1/(m·m_{b,W}) = 7;  W2: m = 1, m_{b,W} = 2/7 → 7/2
    const a = opt.amendments();
    expect(a.map((x) => [x.kind, x.name, x.offset, x.size])).toEqual([
      ['conv2d', 'weight', 0, 6], ['batchNorm2d', 'weight', 6, 3], ['batchNorm2d', 'bias', 9, 3], ['linear', 'weight', 12, 6], ['linear', 'bias', 18, 2],
    ]);
    expectClose(a.map((x) => x.m), [2 / 3, 2 / 3, 2 / 3, 1, 1], tight);
    expectClose(a.map((x) => x.mW), [3 / 14, 1, 1, 2 / 7, 1], tight);
    expectClose(a.map((x) => x.scale), [7, 1.5, 1.5, 3.5, 1], tight);

    setGradient(m, G1);
    opt.step(2);
    // δ = g/2 + 0.02θ; v = −η·s·δ; θ ← θ + v
    //   W1: δ = [1.02, −1.96, 3, −0.02, 1.04, 2.04], ×(−0.1·7)
    //   γ:  δ = [0.52, −0.49, 1.04],  β: δ = [0, 1.502, −1.504], ×(−0.1·1.5)
    //   W2: δ = [2.02, 1, 0.04, −1, 3.02, 4.02], ×(−0.1·3.5);  b2: δ = [0.51, −1.01], ×(−0.1)
    // prettier-ignore
    const v1 = [
      -0.714, 1.372, -2.1, 0.014, -0.728, -1.428,
      -0.078, 0.0735, -0.156,
      0, -0.2253, 0.2256,
      -0.707, -0.35, -0.014, 0.35, -1.057, -1.407,
      -0.051, 0.101,
    ];
    expectClose(f64(m.parameters), THETA0.map((t, i) => t + v1[i]), tight);
    expectClose(opt.state().velocity, v1, tight);
    expect(opt.iteration).toBe(1);

    // step 2: the norms of the new θ, momentum
    const theta1 = f64(m.parameters);
    const w1 = theta1.slice(0, 6).reduce((s, x) => s + x * x, 0) / 3;
    const w2 = theta1.slice(12, 18).reduce((s, x) => s + x * x, 0) / 2;
    const s = theta1.map((_, i) => (i < 6 ? w1 / (2 / 3) : i < 12 ? 1.5 : i < 18 ? w2 : 1));
    expectClose(opt.amendments().map((x) => x.scale), [s[0], 1.5, 1.5, s[12], 1], tight);
    setGradient(m, G2);
    opt.step(2);
    const v2 = theta1.map((t, i) => 0.5 * v1[i] - 0.1 * s[i] * (G2[i] / 2 + 0.02 * t));
    expectClose(f64(m.parameters), theta1.map((t, i) => t + v2[i]), tight);
    opt.dispose();
    m.dispose();
  });

  test('Nesterov, weights-only decay and a learning-rate schedule', () => {
    const m = tinyModel();
    const opt = new ScaleAmendedSgd(m, { ...OPTIONS, nesterov: true, weightDecayOn: 'weights', weightDecay: 0.1, schedule: { kind: 'step', every: 1, factor: 0.5 } }, L);
    const s = [7, 7, 7, 7, 7, 7, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 1, 1];
    const decays = THETA0.map((_, i) => (i < 6 || (i >= 12 && i < 18) ? 0.1 : 0)); // conv/linear weights only
    setGradient(m, G1);
    opt.step(2);
    const d = THETA0.map((t, i) => G1[i] / 2 + 0.01 * t + decays[i] * t);
    const v = d.map((di, i) => -0.1 * s[i] * di);
    expectClose(f64(m.parameters), THETA0.map((t, i) => t + 0.5 * v[i] - 0.1 * s[i] * d[i]), tight);
    expect(opt.learningRate).toBe(0.05);
    opt.dispose();
    m.dispose();
  });

  test('with every m and ‖W‖²_{2,µ} equal to 1 it is Sgd, bit for bit', () => {
    const make = (): nn.Network => {
      const net = new nn.Sequential([1, 1, 3], [nn.flatten(), nn.linear(3)], { dtype: 'float32' });
      net.setParameters(Float32Array.from([1, 0, 0, 0, 0, 1, 0, -1, 0, 0.5, -0.25, 1])); // W: rows ±unit vectors, 3×3
      return net;
    };
    const a = make();
    const b = make();
    const o = { learningRate: 0.05, momentum: 0.9, decay: 0.01, C: 0.5, weightDecay: 0.002 };
    const sa = new ScaleAmendedSgd(a, o, 40);
    const sgd = new Sgd(b, o, 40);
    expect(sa.amendments().map((x) => x.scale)).toEqual([1, 1]);
    const state = { iteration: 3, velocity: Float32Array.from([1, 0.5, -2, 0, 0.1, 3, -0.5, 0.25, 2, -1, 0, 1]) };
    sa.loadState(state);
    sgd.loadState(state);
    const t = Tensor.from(Float32Array.from([0.3, -1.2, 0.7, 2, 0, 1, -1, 0.5, 0.25, 1, 2, 3]));
    copy(a.gradient, t);
    copy(b.gradient, t);
    t.dispose();
    sa.step(4); // one step: after it ‖W‖²_{2,µ} is no longer 1
    sgd.step(4);
    expect(a.getParameters()).toEqual(b.getParameters());
    expect(sa.state().velocity).toEqual(sgd.state().velocity);
    for (const x of [sa, sgd, a, b]) x.dispose();
  });

  test('a zero weight matrix stays zero (m_{b,W} = ∞)', () => {
    const m = tinyModel();
    const theta = Float64Array.from(THETA0);
    theta.fill(0, 12, 18);
    m.setParameters(theta);
    const opt = new ScaleAmendedSgd(m, OPTIONS, L);
    expect(opt.amendments()[3]).toMatchObject({ name: 'weight', kind: 'linear', mW: Infinity, scale: 0 });
    setGradient(m, G1);
    opt.step(2);
    expect(Array.from(f64(m.parameters).slice(12, 18))).toEqual([0, 0, 0, 0, 0, 0]);
    opt.dispose();
    m.dispose();
  });
});

describe('backward factors of whole networks', () => {
  test("VGG13-BN: m = classes/channels at each conv's output, so 10/512 at the last one (the paper's 'around 10/512')", () => {
    for (const classes of [10, 100]) {
      const net = vgg13bn([3, 32, 32], classes, { width: 8 }); // channels 8 … 64: the same ratios as 64 … 512
      const f = backwardFactors(net);
      const convs = f.filter((x) => x.kind === 'conv2d');
      const channels = net.layers().filter((x) => x.kind === 'conv2d').map((x) => x.outputShape[0]);
      expectClose(convs.map((x) => x.m), channels.map((c) => classes / c), tight);
      expect(f[f.length - 1]).toMatchObject({ kind: 'linear', m: 1, mZ: classes / 64 });
      // batch norm has no parameters in the paper's network: only the 11 weights are amended
      const opt = new ScaleAmendedSgd(net, undefined, 100);
      expect(opt.amendments().map((x) => `${x.kind}.${x.name}`)).toEqual([...Array(10).fill('conv2d.weight'), 'linear.weight']);
      opt.dispose();
      net.dispose();
    }
  });

  // stem conv(4) → BN → ReLU → identity block (4) → projection block (8, stride 2) → pool → linear(2)
  function residual(): nn.Network {
    const g = new nn.GraphBuilder([2, 4, 4]);
    let x = g.chain(g.input, [nn.conv2d(4, 3, { padding: 1, bias: false }), nn.batchNorm2d(), nn.relu()]);
    x = nn.basicBlock(g, x, 4);
    x = nn.basicBlock(g, x, 8, { stride: 2 });
    return g.build(g.chain(x, [nn.globalAvgPool2d(), nn.linear(2)]), { dtype: 'float64' });
  }

  test.each([
    // below the linear layer m = 2/8; the projection block's two 4 → 8 convs give 2·(1/4) on its input;
    // max keeps 1/2 through the identity block, sum adds its two paths (1/2 + 1/2)
    ['max', 0.5, 0.5],
    ['sum', 1, 2],
  ] as const)('a residual graph, fanOut %s', (fanOut, inputOfBlock2, stem) => {
    const net = residual();
    const f = backwardFactors(net, fanOut);
    const layers = net.layers();
    const at = (kind: string, k: number): number => f.filter((x) => x.kind === kind)[k].m;
    expect(layers.filter((x) => x.kind === 'add')).toHaveLength(2);
    expect(at('add', 1)).toBe(0.25);
    // block 2: the shortcut conv (1×1/2, 4 → 8) and both branch convs see m = 1/4 at their outputs
    expect([at('conv2d', 3), at('conv2d', 4), at('conv2d', 5)]).toEqual([0.25, 0.25, 0.25]);
    expect(at('relu', 2)).toBe(inputOfBlock2); // the output of block 1
    expect(at('add', 0)).toBe(inputOfBlock2);
    expect(at('conv2d', 0)).toBe(stem);
    expect(f.find((x) => x.index === 0)!.mZ).toBe(2); // the stem conv: 4 filters of 2 channels
    const opt = new ScaleAmendedSgd(net, { fanOut }, 10);
    expect(opt.options.fanOut).toBe(fanOut);
    expect(opt.backwardFactors()).toEqual(f);
    opt.dispose();
    net.dispose();
  });
});

describe('state, options and errors', () => {
  test('state() / loadState() continue bit for bit; the state is Sgd\'s', () => {
    const a = tinyModel();
    const oa = new ScaleAmendedSgd(a, OPTIONS, L);
    for (const g of [G1, G2, G1]) {
      setGradient(a, g);
      oa.step(2);
    }
    const b = tinyModel();
    const ob = new ScaleAmendedSgd(b, OPTIONS, L);
    for (const g of [G1, G2]) {
      setGradient(b, g);
      ob.step(2);
    }
    const saved = ob.state();
    const theta = b.getParameters();
    ob.dispose();
    const c = tinyModel();
    c.setParameters(theta);
    const oc = new ScaleAmendedSgd(c, OPTIONS, L);
    oc.loadState(saved);
    expect(oc.iteration).toBe(2);
    setGradient(c, G1);
    oc.step(2);
    expect(c.getParameters()).toEqual(a.getParameters());
    expect(oc.state().velocity).toEqual(oa.state().velocity);
    expect(() => oc.loadState({ iteration: 1, velocity: new Float64Array(3) })).toThrow(/ScaleAmendedSgd.loadState: state.velocity has 3 elements but the network has 20 parameters/);
    expect(() => oc.loadState({ iteration: -1, velocity: new Float64Array(20) })).toThrow(/state.iteration must be a non-negative integer/);
    for (const x of [oa, oc, a, b, c]) x.dispose();
  });

  test("defaults are the paper's: η 0.1, μ 0.9, weight decay 0.005 on everything, constant rate, fanOut max", () => {
    expect(DEFAULT_SCALE_AMENDED_SGD_OPTIONS).toMatchObject({ learningRate: 0.1, momentum: 0.9, weightDecay: 0.005, weightDecayOn: 'all', decay: 0, nesterov: false, warmup: 0, fanOut: 'max', C: 0.01 });
    const r = resolveScaleAmendedSgdOptions('f', undefined);
    expect(r).toEqual(DEFAULT_SCALE_AMENDED_SGD_OPTIONS);
    expect(resolveScaleAmendedSgdOptions('f', { learningRate: 0.005, fanOut: 'sum', weightDecay: 0 })).toMatchObject({ learningRate: 0.005, fanOut: 'sum', weightDecay: 0, momentum: 0.9 });
    const m = tinyModel();
    const opt = new ScaleAmendedSgd(m, undefined, 10);
    expect(opt.learningRate).toBe(0.1);
    expect(opt.Cl).toBeCloseTo(0.1, 15);
    opt.dispose();
    expectThrow(() => opt.step(1), 'Error', /ScaleAmendedSgd.step: the optimizer is disposed/);
    m.dispose();
  });

  test('bad options and arguments', () => {
    const m = tinyModel();
    expectThrow(() => new ScaleAmendedSgd(m, { fanOut: 'mean' as 'max' }, 10), 'RangeError', /ScaleAmendedSgd: options.fanOut must be 'max' or 'sum', got "mean"/);
    expectThrow(() => new ScaleAmendedSgd(m, { learningRate: 0 }, 10), 'RangeError', /ScaleAmendedSgd: options.learningRate must be a positive finite number, got 0/);
    expectThrow(() => new ScaleAmendedSgd(m, { weightDecay: -1 }, 10), 'RangeError', /options.weightDecay must be a non-negative finite number/);
    expectThrow(() => new ScaleAmendedSgd(m, 3 as unknown as ScaleAmendedSgdOptions, 10), 'TypeError', /ScaleAmendedSgd: options must be an object, got number/);
    expectThrow(() => new ScaleAmendedSgd(m, undefined, 0), 'RangeError', /trainSize must be a positive integer/);
    expectThrow(() => new ScaleAmendedSgd(null as unknown as nn.Network, undefined, 10), 'TypeError', /model must be a Network/);
    const opt = new ScaleAmendedSgd(m, undefined, 10);
    expectThrow(() => opt.step(0), 'RangeError', /ScaleAmendedSgd.step: batchSize must be a positive integer, got 0/);
    opt.dispose();
    m.dispose();
    expectThrow(() => new ScaleAmendedSgd(m, undefined, 10), 'Error', /the network is disposed/);
  });
});
