// Each layer's forward against hand-computed outputs, through a Sequential whose θ is set by
// hand (so the parameter layout is exercised too), and the layer-spec validation errors.
import { Tensor } from '../lib';
import { avgPool2d, conv2d, dropout, flatten, linear, maxPool2d, relu, Sequential, type LayerSpec } from '../lib/nn';
import { expectClose, f64 } from './helpers';

const exact = { rtol: 1e-14, atol: 1e-14 };

function run(inputShape: [number, number, number], layers: LayerSpec[], theta: number[], x: number[], n = 1): { z: Float64Array; shape: readonly number[] } {
  const m = new Sequential(inputShape, layers, { dtype: 'float64' });
  try {
    expect(m.numParameters).toBe(theta.length);
    if (theta.length > 0) m.setParameters(Float64Array.from(theta));
    const xt = Tensor.from(Float64Array.from(x), { shape: [n, ...inputShape] });
    const z = m.forward(xt);
    const out = { z: f64(z), shape: z.shape };
    z.dispose();
    xt.dispose();
    return out;
  } finally {
    m.dispose();
  }
}

const iota = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from);

describe('layer forward passes (hand-computed)', () => {
  test('conv2d 2x2 valid, with bias: weight then bias in θ', () => {
    // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,2],[3,4]], b = 0.5
    const { z, shape } = run([1, 3, 3], [conv2d(1, 2), flatten()], [1, 2, 3, 4, 0.5], iota(9));
    expect(shape).toEqual([1, 4]);
    expectClose(z, [37.5, 47.5, 67.5, 77.5], exact);
  });

  test('conv2d 3x3 stride 2 padding 1 without bias', () => {
    // all-ones 3×3 kernel: sums of the clipped 3×3 neighbourhoods of the corners
    const { z } = run([1, 3, 3], [conv2d(1, 3, { stride: 2, padding: 1, bias: false }), flatten()], Array(9).fill(1), iota(9));
    expectClose(z, [12, 16, 24, 28], exact);
  });

  test("conv2d padding 'same' keeps the size; two channels in, two filters out", () => {
    // 1×1 kernels: y_k = Σ_c w[k,c] x_c + b_k per pixel
    const x = [1, 2, 3, 4, /* channel 1 */ 10, 20, 30, 40];
    const theta = [1, 2, /* k=1 */ -1, 0.5, /* bias */ 0, 1];
    const { z } = run([2, 2, 2], [conv2d(2, 1, { padding: 'same' }), flatten()], theta, x);
    expectClose(z, [21, 42, 63, 84, 5, 9, 13, 17], exact);
  });

  test('linear: x·Wᵀ + b with W row-major (O, I)', () => {
    const { z } = run([1, 1, 3], [flatten(), linear(2)], [1, 2, 3, 4, 5, 6, 0.5, -1], [1, -1, 2]);
    expectClose(z, [5.5, 10], exact);
  });

  test('linear without bias on a batch of 2', () => {
    const { z, shape } = run([1, 1, 2], [flatten(), linear(1, { bias: false })], [2, -3], [1, 1, 2, 5], 2);
    expect(shape).toEqual([2, 1]);
    expectClose(z, [-1, -11], exact);
  });

  test('relu', () => {
    const { z } = run([1, 2, 2], [relu(), flatten()], [], [-1, 2, 0, -3]);
    expectClose(z, [0, 2, 0, 0], exact);
  });

  test('max pool 2x2 stride 2 floors an odd width (4x5 → 2x2)', () => {
    const x = [1, 5, 2, 0, 9, /**/ 3, 4, 8, 1, 9, /**/ -1, -2, -3, -4, 9, /**/ -5, -6, 7, -8, 9];
    const { z, shape } = run([1, 4, 5], [maxPool2d(2), flatten()], [], x);
    expect(shape).toEqual([1, 4]);
    expectClose(z, [5, 8, -1, 7], exact);
  });

  test('average pool 2x2', () => {
    const { z } = run([1, 2, 4], [avgPool2d(2), flatten()], [], [1, 2, 3, 4, 5, 6, 7, 8]);
    expectClose(z, [3.5, 5.5], exact);
  });

  test('flatten keeps NCHW order', () => {
    const { z, shape } = run([2, 2, 3], [flatten()], [], iota(24), 2);
    expect(shape).toEqual([2, 12]);
    expectClose(z, iota(24), exact);
  });

  test('dropout: identity in inference; in training m ∈ {0, 1/(1−p)} with about 1−p kept, and backward uses the same mask', () => {
    const p = 0.25;
    const m = new Sequential([1, 50, 40], [dropout(p), flatten()], { dtype: 'float64' });
    const n = 2 * 50 * 40;
    const x = Tensor.full([2, 1, 50, 40], 3, { dtype: 'float64' });
    const zi = m.forward(x);
    expectClose(f64(zi), new Float64Array(n).fill(3), exact);
    zi.dispose();
    const zt = m.forward(x, { training: true, noiseSeed: 7 });
    const y = f64(zt);
    let kept = 0;
    for (const v of y) {
      expect(v === 0 || Math.abs(v - 3 / (1 - p)) < 1e-12).toBe(true);
      if (v !== 0) kept++;
    }
    expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.03);
    const ones = Tensor.full(zt.shape, 1, { dtype: 'float64' });
    const dx = m.backward(ones, { inputGradient: true })!;
    expectClose(f64(dx), y.map((v) => v / 3), exact, 'dx = mask');
    // the same noise seed gives the same mask
    const zt2 = m.forward(x, { training: true, noiseSeed: 7 });
    expectClose(f64(zt2), y, exact);
    for (const t of [zt, zt2, ones, dx, x]) t.dispose();
    m.dispose();
  });

  test('dropout: a batch split in shards with their exampleOffset draws the whole batch\'s masks', () => {
    const m = new Sequential([2, 3, 3], [dropout(0.5), flatten()], { dtype: 'float64' });
    const x = Tensor.from(Float64Array.from({ length: 5 * 18 }, (_, i) => i + 1), { shape: [5, 2, 3, 3] });
    const zw = m.forward(x, { training: true, noiseSeed: 11 });
    const whole = f64(zw);
    zw.dispose();
    const parts: number[] = [];
    for (const [start, end] of [[0, 2], [2, 5]]) {
      const shard = x.view(start * 18, [end - start, 2, 3, 3]);
      const z = m.forward(shard, { training: true, noiseSeed: 11, exampleOffset: start });
      parts.push(...f64(z));
      z.dispose();
      shard.dispose();
    }
    expectClose(Float64Array.from(parts), whole, exact);
    expect(() => m.forward(x, { training: true, exampleOffset: -1 })).toThrow(/forward: options.exampleOffset must be a non-negative safe integer, got -1/);
    x.dispose();
    m.dispose();
  });
});

describe('layer spec validation', () => {
  test.each([
    ['conv2d outChannels 0', () => conv2d(0, 3), RangeError, /conv2d: outChannels must be a positive integer, got 0/],
    ['conv2d kernel 2.5', () => conv2d(4, 2.5), RangeError, /conv2d: kernel must be a positive integer or a pair/],
    ['conv2d kernel string', () => conv2d(4, '3' as unknown as number), TypeError, /conv2d: kernel must be a number or \[number, number\], got string/],
    ['conv2d negative padding', () => conv2d(4, 3, { padding: -1 }), RangeError, /conv2d: options.padding must be a non-negative integer/],
    ["conv2d 'same' even kernel", () => conv2d(4, 2, { padding: 'same' }), RangeError, /'same' needs an odd kernel, got 2x2/],
    ['linear 0 outputs', () => linear(0), RangeError, /linear: outFeatures must be a positive integer, got 0/],
    ['linear bias not boolean', () => linear(3, { bias: 1 as unknown as boolean }), TypeError, /linear: options.bias must be a boolean, got number/],
    ['maxPool2d kernel 0', () => maxPool2d(0), RangeError, /maxPool2d: kernel must be a positive integer/],
    ['avgPool2d stride [1]', () => avgPool2d(2, { stride: [1] as unknown as number }), RangeError, /avgPool2d: options.stride must be a positive integer or a pair/],
    ['dropout p = 1', () => dropout(1), RangeError, /dropout: p must be a number in \[0, 1\), got 1/],
    ['dropout p NaN', () => dropout(NaN), RangeError, /dropout: p must be a number in \[0, 1\), got NaN/],
  ])('%s', (_name, fn, kind, re) => {
    expect(fn).toThrow(kind);
    expect(fn).toThrow(re);
  });
});
