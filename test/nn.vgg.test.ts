// VGG13-BN (lib/nn/vgg.ts) as Zhang, Chen & Liu (2018) use it: structure, parameter counts
// against the usual CIFAR VGG13-BN, a float64 derivative check of a narrow version in both batch
// norm variants, and the errors.
//
// Parameter counts on 3×32×32 images (the 3×3 convolutions 3→64→64, 64→128→128, 128→256→256,
// 256→512→512, 512→512→512):
//   convolution weights  9·(3·64 + 64·64 + 64·128 + 128·128 + 128·256 + 256·256 + 256·512 + 3·512·512) = 9,402,048
//   classifier           512·10 = 5,120 (512·100 = 51,200 for CIFAR-100)
//   the paper's network  9,407,168 (10 classes) / 9,453,248 (100 classes)
//   + affine batch norm  + 2·2,944 = 5,888 (γ, β of the 2,944 channels): 9,413,056
// The usual CIFAR VGG13-BN (e.g. kuangliu/pytorch-cifar's VGG('VGG13'): convolutions with
// biases, affine batch norm, a linear 512 → 10 with a bias) has 9,416,010 = 9,413,056 + 2,944
// convolution biases + 10 classifier biases: the paper's modification removes 8,842 parameters
// (0.09%). torchvision's vgg13_bn (224×224 images, classifier 25088 → 4096 → 4096 → 1000) has
// 133,053,736; the two intermediate fully-connected layers are what the paper removes.
import { Tensor } from '../lib';
import * as nn from '../lib/nn';
import { vgg13bn, vgg13bnLayers, VGG13_CONFIG } from '../lib/nn/vgg';
import { expectThrow, f64, randData } from './helpers';
import { checkAll, oneHot, perturbConstants, t64 } from './nn-checks';

const CONV_WEIGHTS = 9 * (3 * 64 + 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 256 * 256 + 256 * 512 + 3 * 512 * 512);

describe('structure and parameter counts', () => {
  test("the paper's VGG13-BN on CIFAR-10: 10 convolutions without bias, batch norm without γ/β before each ReLU, one linear 512 → 10 without bias", () => {
    const net = vgg13bn([3, 32, 32], 10);
    expect(CONV_WEIGHTS).toBe(9_402_048);
    expect(net.numParameters).toBe(9_407_168);
    expect(net.name).toBe('vgg13bn');
    const layers = net.layers();
    const kinds = layers.map((m) => m.kind);
    expect(kinds.filter((k) => k === 'conv2d')).toHaveLength(10);
    expect(kinds.filter((k) => k === 'batchNorm2d')).toHaveLength(10);
    expect(kinds.filter((k) => k === 'relu')).toHaveLength(10);
    expect(kinds.filter((k) => k === 'maxPool2d')).toHaveLength(5);
    expect(kinds.slice(-2)).toEqual(['flatten', 'linear']);
    // every conv is followed by batch norm then ReLU; no layer has a bias, batch norm no parameters
    layers.forEach((m, i) => {
      if (m.kind === 'conv2d') {
        expect(kinds.slice(i + 1, i + 3)).toEqual(['batchNorm2d', 'relu']);
        expect(m.weight!.shape.slice(2)).toEqual([3, 3]);
        expect(m.outputShape.slice(1)).toEqual(m.inputShape.slice(1)); // stride 1, padding 1
      }
      expect(m.bias).toBeUndefined();
      if (m.kind === 'batchNorm2d') expect(m.parameterCount).toBe(0);
    });
    expect(layers.filter((m) => m.kind === 'conv2d').map((m) => m.outputShape[0])).toEqual(VGG13_CONFIG.filter((c) => c !== 'M'));
    expect(layers.filter((m) => m.kind === 'maxPool2d').map((m) => m.outputShape.slice(1).join('x'))).toEqual(['16x16', '8x8', '4x4', '2x2', '1x1']);
    const fc = layers[layers.length - 1];
    expect(fc.weight!.shape).toEqual([10, 512]);
    expect(layers.filter((m) => m.kind === 'conv2d').reduce((a, m) => a + m.parameterCount, 0)).toBe(CONV_WEIGHTS);
    net.dispose();
  });

  test('CIFAR-100, affine batch norm, a classifier bias: the counts of the header', () => {
    const n100 = vgg13bn([3, 32, 32], 100);
    expect(n100.numParameters).toBe(CONV_WEIGHTS + 51_200);
    n100.dispose();
    const affine = vgg13bn([3, 32, 32], 10, { affine: true });
    expect(affine.numParameters).toBe(9_413_056);
    const bn = affine.layers().filter((m) => m.kind === 'batchNorm2d');
    expect(bn.reduce((a, m) => a + m.parameterCount, 0)).toBe(2 * 2944);
    expect(bn[0].parameters.map((p) => [p.name, p.init])).toEqual([['weight', 'ones'], ['bias', 'zeros']]);
    affine.dispose();
    const usual = vgg13bn([3, 32, 32], 10, { affine: true, classifierBias: true });
    // the usual CIFAR VGG13-BN (9,416,010) less its 2,944 convolution biases, which batch norm cancels
    expect(usual.numParameters).toBe(9_416_010 - 2944);
    usual.dispose();
  });

  test('width scales every stage; larger images widen the classifier; He-normal initialisation', () => {
    const net = vgg13bn([1, 64, 48], 7, { width: 4, seed: 3 });
    const convs = net.layers().filter((m) => m.kind === 'conv2d');
    expect(convs.map((m) => m.outputShape[0])).toEqual([4, 4, 8, 8, 16, 16, 32, 32, 32, 32]);
    const fc = net.layers()[net.layers().length - 1];
    expect(fc.weight!.shape).toEqual([7, 32 * 2 * 1]); // 64×48 → 2×1 after five pools
    // He-normal: the first conv's weights have variance 2/fan-in = 2/9
    const big = vgg13bn([3, 32, 32], 10, { seed: 1 });
    const w = big.layers()[3 * 1 + 0]; // conv 2: 64·64·9 weights
    expect(w.kind).toBe('conv2d');
    const values = big.parameters.view(w.weight!.offset, [w.weight!.size]);
    const a = f64(values);
    const variance = a.reduce((s, x) => s + x * x, 0) / a.length;
    expect(Math.abs(variance / (2 / (64 * 9)) - 1)).toBeLessThan(0.03);
    values.dispose();
    big.dispose();
    // same seed, same θ; layer specs are plain data
    const again = vgg13bn([1, 64, 48], 7, { width: 4, seed: 3 });
    expect(again.getParameters()).toEqual(net.getParameters());
    expect(vgg13bnLayers(10, { width: 2 })).toHaveLength(10 * 3 + 5 + 2);
    for (const t of [net, again]) t.dispose();
  });

  test('forward and backward in training mode on a batch of CIFAR-sized images (width 8)', () => {
    const net = vgg13bn([3, 32, 32], 10, { width: 8 });
    const x = Tensor.from(Float32Array.from(randData(4 * 3 * 32 * 32, 2)), { shape: [4, 3, 32, 32] });
    const z = net.forward(x, { training: true, updateStatistics: true });
    expect(z.shape).toEqual([4, 10]);
    net.backward(z);
    expect(f64(net.gradient).every((g) => Number.isFinite(g))).toBe(true);
    expect(net.perSample()).toBe(false);
    for (const t of [x, z]) t.dispose();
    net.dispose();
  });
});

// A 32×32 VGG has thousands of ReLUs and max-pool windows: along checkAll's random directions
// (unit scale per parameter, step h = 1e-5) an arbitrary seed puts a kink within h about half the
// time, and that central difference is then off (it converges to the analytic value as h → 0:
// checked with h = 1e-6). The seeds below are ones without a kink within h.
describe('derivatives of a narrow VGG13-BN (width 1, float64) against finite differences', () => {
  test.each([
    ['no affine (the paper)', false],
    ['affine', true],
  ])('%s: ∇, Jv, Jᵀu, Gv, Hv in training mode', (_name, affine) => {
    const net = vgg13bn([3, 32, 32], 3, { width: 1, affine, dtype: 'float64', seed: 45 });
    perturbConstants(net, 46);
    const x = t64(randData(2 * 3 * 32 * 32, 47), [2, 3, 32, 32]);
    const y = oneHot(2, 3, 48);
    try {
      checkAll({ net, x, y, loss: nn.crossEntropyLoss, mode: 'train' });
    } finally {
      x.dispose();
      y.dispose();
      net.dispose();
    }
  });

  test('inference mode (running statistics)', () => {
    const net = vgg13bn([3, 32, 32], 3, { width: 2, dtype: 'float64', seed: 9 });
    perturbConstants(net, 10);
    const x = t64(randData(2 * 3 * 32 * 32, 11), [2, 3, 32, 32]);
    const y = oneHot(2, 3, 12);
    try {
      checkAll({ net, x, y, loss: nn.squaredLoss, mode: 'inference' });
    } finally {
      x.dispose();
      y.dispose();
      net.dispose();
    }
  });
});

test('errors say what is wrong', () => {
  expectThrow(() => vgg13bn([1, 28, 28], 10), 'RangeError', /vgg13bn: images must be at least 32×32 \(five 2×2 max pools\), got 28×28/);
  expectThrow(() => vgg13bn([3, 32, 32], 0), 'RangeError', /classes must be a positive integer, got 0/);
  expectThrow(() => vgg13bn([3, 32, 32], 10, { width: 0 }), 'RangeError', /options.width must be a positive integer, got 0/);
  expectThrow(() => vgg13bn([3, 32, 32], 10, { width: 1.5 }), 'RangeError', /options.width/);
  expectThrow(() => vgg13bn([3, 32, 32], 10, { affine: 'yes' as unknown as boolean }), 'TypeError', /options.affine must be a boolean/);
  expectThrow(() => vgg13bn([3, 32, 32], 10, { classifierBias: 1 as unknown as boolean }), 'TypeError', /options.classifierBias must be a boolean/);
  expectThrow(() => vgg13bn([3, 32, 32], 10, null as unknown as nn.ModelOptions), 'TypeError', /options must be an object/);
  expectThrow(() => vgg13bn([3, 32] as unknown as [number, number, number], 10), 'RangeError', /inputShape must be \[C, H, W\]/);
  expectThrow(() => vgg13bn([3, 32, 32], 10, { dtype: 'float16' as 'float32' }), 'RangeError', /dtype/);
  expectThrow(() => vgg13bn([3, 32, 32], 10, { initializer: 'zeros' as 'he-normal' }), 'RangeError', /initializer must be one of/);
});
