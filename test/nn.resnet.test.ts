// The ResNet builders (lib/nn/resnet.ts): parameter counts against the reference
// implementations (torchvision for ResNet-18…101; He et al. 2016, Table 6, for the CIFAR
// family, plus the 2,752 parameters of our two projection shortcuts), the shapes of the stems
// and stages, the linear ResNets (options.linear), modelByName, the README's custom network, and
// the errors.
import { Tensor } from '../lib';
import * as nn from '../lib/nn';
import { expectThrow, randData } from './helpers';

describe('parameter counts', () => {
  test.each([
    [18, 11_689_512],
    [34, 21_797_672],
    [50, 25_557_032],
    [101, 44_549_160],
    [152, 60_192_808],
  ])('ResNet-%i for 1,000 classes has %i parameters (torchvision)', (depth, count) => {
    const net = nn.resnet(depth, [3, 224, 224], 1000);
    expect(net.numParameters).toBe(count);
    expect(net.outputSize).toBe(1000);
    net.dispose();
  });

  test.each([
    [20, 272_474, 0.27],
    [32, 466_906, 0.46],
    [44, 661_338, 0.66],
    [56, 855_770, 0.85],
    [110, 1_730_714, 1.73],
  ])('CIFAR ResNet-%i has %i parameters (≈%fM)', (depth, count, millions) => {
    const net = nn.cifarResNet(depth, [3, 32, 32], 10);
    expect(net.numParameters).toBe(count);
    expect(Math.abs(net.numParameters / 1e6 - millions)).toBeLessThan(0.01 + 0.005 * millions);
    // The projection shortcuts: 16·32 + 2·32 and 32·64 + 2·64 parameters.
    const projections = net.layers().filter((m) => m.kind === 'conv2d' && m.weight !== undefined && m.weight.shape[2] === 1);
    expect(projections.map((m) => m.parameterCount)).toEqual([512, 2048]);
    net.dispose();
  });
});

describe('shapes and structure', () => {
  test('ResNet-18 on 3×64×64: the ImageNet stem halves twice, each later stage halves again', () => {
    const net = nn.resnet(18, [3, 64, 64], 7);
    const shapes = net.layers().map((m) => `${m.kind} ${m.outputShape.join('x')}`);
    expect(shapes[0]).toBe('conv2d 64x32x32');
    expect(shapes[3]).toBe('maxPool2d 64x16x16');
    const adds = net.layers().filter((m) => m.kind === 'add').map((m) => m.outputShape.join('x'));
    expect(adds).toEqual(['64x16x16', '64x16x16', '128x8x8', '128x8x8', '256x4x4', '256x4x4', '512x2x2', '512x2x2']);
    expect(net.layers().filter((m) => m.kind === 'batchNorm2d')).toHaveLength(20); // 1 + 2·8 + 3 projections
    const x = Tensor.from(Float32Array.from(randData(2 * 3 * 64 * 64, 1)), { shape: [2, 3, 64, 64] });
    const z = net.forward(x, { training: true });
    expect(z.shape).toEqual([2, 7]);
    for (const t of [x, z]) t.dispose();
    net.dispose();
  });

  test('ResNet-50 blocks widen 4×; the CIFAR stem keeps the image size', () => {
    const net = nn.resnet(50, [3, 32, 32], 10, { stem: 'cifar', width: 8 });
    const adds = net.layers().filter((m) => m.kind === 'add').map((m) => m.outputShape.join('x'));
    expect(adds[0]).toBe('32x32x32');
    expect(adds[adds.length - 1]).toBe('256x4x4');
    expect(adds).toHaveLength(16);
    net.dispose();
  });

  test('modelByName knows every ResNet; the summary lists each node with its inputs', () => {
    const net = nn.modelByName('resnet20', [1, 28, 28], 10);
    expect(net.name).toBe('resnet20');
    expect(net.numParameters).toBe(272_474 - 2 * 9 * 16);
    const s = net.summary();
    expect(s.split('\n').filter((l) => / add /.test(l))).toHaveLength(9);
    expect(s).toMatch(/globalAvgPool2d/);
    expect(s).toMatch(/resnet20: 272186 parameters \(float32, cpu\)/);
    net.dispose();
    const r18 = nn.modelByName('resnet18', [3, 32, 32], 10, { stem: 'cifar' });
    expect(r18.layers()[1].kind).toBe('batchNorm2d');
    expect(r18.layers()[0].outputShape).toEqual([64, 32, 32]);
    r18.dispose();
    expect(nn.MODEL_NAMES).toEqual(expect.arrayContaining(['cnn3', 'resnet18', 'resnet50', 'resnet20', 'resnet110']));
  });
});

describe('linear ResNets (options.linear: every ReLU removed, the Newton-ResNet paper\'s Tables 2, 5, 7)', () => {
  /** max |f((x1 + x2)/2) − (f(x1) + f(x2))/2| over the outputs, in inference mode (batch norm affine), float64. */
  function affineDefect(net: nn.Network, shape: readonly [number, number, number]): { defect: number; scale: number } {
    const n = 3;
    const size = n * shape[0] * shape[1] * shape[2];
    const a = randData(size, 11);
    const b = randData(size, 12);
    const mid = a.map((v, i) => (v + b[i]) / 2);
    const run = (v: ArrayLike<number>): Float64Array => {
      const x = Tensor.from(Float64Array.from(v), { shape: [n, ...shape], dtype: 'float64' });
      const z = net.predict(x);
      const out = z.toArray() as Float64Array;
      x.dispose();
      z.dispose();
      return out;
    };
    const [za, zb, zm] = [run(a), run(b), run(mid)];
    let defect = 0;
    let scale = 0;
    for (let i = 0; i < zm.length; i++) {
      defect = Math.max(defect, Math.abs(zm[i] - (za[i] + zb[i]) / 2));
      scale = Math.max(scale, Math.abs(za[i] - zb[i]));
    }
    return { defect, scale };
  }
  const relus = (net: nn.Network): number => net.layers().filter((m) => m.kind === 'relu').length;

  test('ResNet-18 (CIFAR stem): the same layers and parameters without the 17 ReLUs; affine in the input, the ReLU network not', () => {
    const shape = [3, 16, 16] as const;
    const o = { stem: 'cifar' as const, width: 4, dtype: 'float64' as const, seed: 3 };
    const plain = nn.resnet(18, shape, 5, o);
    const lin = nn.resnet(18, shape, 5, { ...o, linear: true });
    expect(relus(plain)).toBe(1 + 2 * 8);
    expect(relus(lin)).toBe(0);
    expect(lin.numParameters).toBe(plain.numParameters);
    expect(lin.layers().filter((m) => m.kind !== 'relu').map((m) => m.kind)).toEqual(plain.layers().filter((m) => m.kind !== 'relu').map((m) => m.kind));
    const l = affineDefect(lin, shape);
    const p = affineDefect(plain, shape);
    expect(l.defect).toBeLessThan(1e-12 * Math.max(1, l.scale));
    expect(p.defect).toBeGreaterThan(1e-3 * p.scale);
    plain.dispose();
    lin.dispose();
  });

  test('the full-width linear ResNet-18 has the 11.2M parameters of Table 2; bottleneck and CIFAR ResNets take the option too', () => {
    const r18 = nn.resnet(18, [3, 32, 32], 10, { stem: 'cifar', linear: true });
    expect(r18.numParameters).toBe(11_173_962);
    expect(relus(r18)).toBe(0);
    r18.dispose();
    // the ImageNet stem keeps its max pool (not an activation; Table 7 removes the "relu"s)
    const r50 = nn.resnet(50, [3, 32, 32], 7, { width: 2, linear: true });
    expect(relus(r50)).toBe(0);
    expect(r50.layers().slice(0, 3).map((m) => m.kind)).toEqual(['conv2d', 'batchNorm2d', 'maxPool2d']);
    r50.dispose();
    const b50 = nn.resnet(50, [3, 16, 16], 7, { width: 2, linear: true, stem: 'cifar', dtype: 'float64' });
    const d50 = affineDefect(b50, [3, 16, 16]);
    expect(d50.defect).toBeLessThan(1e-12 * Math.max(1, d50.scale)); // the outputs grow with the 16 unnormalised sums
    b50.dispose();
    const c20 = nn.cifarResNet(20, [1, 8, 8], 3, { width: 2, linear: true, dtype: 'float64' });
    expect(relus(c20)).toBe(0);
    const d20 = affineDefect(c20, [1, 8, 8]);
    expect(d20.defect).toBeLessThan(1e-12 * Math.max(1, d20.scale));
    c20.dispose();
    const g = new nn.GraphBuilder([4, 8, 8]);
    const y = nn.bottleneckBlock(g, nn.basicBlock(g, g.input, 4, { activation: 'identity' }), 1, { activation: 'relu' });
    expect(y.shape).toEqual([4, 8, 8]);
  });

  test('errors name the option', () => {
    expectThrow(() => nn.resnet(18, [3, 32, 32], 10, { linear: 'yes' as unknown as boolean }), 'RangeError', /resnet18: options.linear must be a boolean, got string/);
    expectThrow(() => nn.cifarResNet(20, [3, 32, 32], 10, { linear: 1 as unknown as boolean }), 'RangeError', /resnet20: options.linear must be a boolean/);
    const g = new nn.GraphBuilder([3, 8, 8]);
    expectThrow(() => nn.basicBlock(g, g.input, 4, { activation: 'tanh' as 'relu' }), 'RangeError', /basicBlock: options.activation must be 'relu' or 'identity', got "tanh"/);
    expectThrow(() => nn.bottleneckBlock(g, g.input, 4, { activation: null as unknown as 'relu' }), 'RangeError', /bottleneckBlock: options.activation/);
  });
});

test("the README's custom network with a shortcut builds, trains a step and summarises", () => {
  const g = new nn.GraphBuilder([3, 32, 32]);
  const x = g.chain(g.input, [nn.conv2d(16, 3, { padding: 1, bias: false }), nn.batchNorm2d(), nn.relu()]);
  const h = g.chain(x, [
    nn.conv2d(16, 3, { padding: 1, bias: false }), nn.batchNorm2d(), nn.relu(),
    nn.conv2d(16, 3, { padding: 1, bias: false }), nn.batchNorm2d(),
  ]);
  const y = g.add(nn.relu(), g.add(nn.add(), [x, h]));
  const gate = g.add(nn.mul(), [y, g.add(nn.tanh(), y)]);
  const out = g.chain(g.add(nn.scale(0.5), gate), [nn.globalAvgPool2d(), nn.linear(10)]);
  const net = g.build(out, { name: 'tiny-resnet' });
  net.init('he-normal', { seed: 0 });
  expect(net.summary()).toMatch(/tiny-resnet: \d+ parameters/);
  expect(net.numParameters).toBe(3 * 16 * 9 + 2 * 16 * 16 * 9 + 3 * 2 * 16 + 1 + 16 * 10 + 10);
  const xb = Tensor.from(Float32Array.from(randData(4 * 3 * 32 * 32, 2)), { shape: [4, 3, 32, 32] });
  const z = net.forward(xb, { training: true });
  const gz = net.backward(z);
  expect(gz).toBeNull();
  expect(Number.isFinite(net.gradient.toArray()[0])).toBe(true);
  for (const t of [xb, z]) t.dispose();
  net.dispose();
});

test('errors say what is wrong', () => {
  expectThrow(() => nn.resnet(19, [3, 32, 32], 10), 'RangeError', /depth must be one of 18, 34, 50, 101, 152/);
  expectThrow(() => nn.cifarResNet(21, [3, 32, 32], 10), 'RangeError', /6n \+ 2/);
  expectThrow(() => nn.cifarResNet(20, [3, 32, 32], 10, { stem: 'imagenet' }), 'RangeError', /CIFAR stem/);
  expectThrow(() => nn.resnet(18, [3, 32, 32], 0), 'RangeError', /classes must be a positive integer/);
  expectThrow(() => nn.resnet(18, [3, 32, 32], 10, { width: 2.5 }), 'RangeError', /options.width/);
  expectThrow(() => nn.resnet(18, [3, 32, 32], 10, { stem: 'big' as nn.ResNetStem }), 'RangeError', /options.stem/);
  expectThrow(() => nn.modelByName('resnet19', [3, 32, 32], 10), 'RangeError', /name must be one of/);
  expectThrow(() => nn.modelByName('cnn3', [3, 32, 32], 10, { stem: 'cifar' }), 'RangeError', /stem is for the ResNets/);
  const g = new nn.GraphBuilder([3, 8, 8]);
  expectThrow(() => nn.basicBlock(g, g.input, 3, { shortcut: 'identity', stride: 2 }), 'RangeError', /identity shortcut needs stride 1/);
  expectThrow(() => nn.bottleneckBlock(g, g.input, 0), 'RangeError', /width must be a positive integer/);
  expectThrow(() => nn.basicBlock(g, g.input, 4, { shortcut: 'none' as nn.ShortcutKind }), 'RangeError', /options.shortcut/);
});
