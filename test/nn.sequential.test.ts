// Sequential: the flat θ layout and its views, shapes of cnn3/cnn5, initialisers, errors, memory.
import { memoryStats, Tensor } from '../lib';
import { cnn3, cnn5, conv2d, flatten, linear, maxPool2d, relu, Sequential } from '../lib/nn';
import { expectClose, f64, settledBytesInUse } from './helpers';

function sampleStats(a: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < a.length; i++) {
    s += a[i];
    s2 += a[i] * a[i];
    min = Math.min(min, a[i]);
    max = Math.max(max, a[i]);
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean), min, max };
}

describe('Sequential parameter layout', () => {
  test('θ is one tensor; layers() gives each weight then bias in layer order', () => {
    const m = new Sequential([3, 8, 8], [conv2d(4, 3, { padding: 1 }), relu(), maxPool2d(2), flatten(), linear(5), relu(), linear(2, { bias: false })]);
    const info = m.layers();
    expect(info.map((l) => l.kind)).toEqual(['conv2d', 'relu', 'maxPool2d', 'flatten', 'linear', 'relu', 'linear']);
    expect(info[0].weight).toEqual({ name: 'weight', offset: 0, shape: [4, 3, 3, 3], size: 108, init: 'fan' });
    expect(info[0].bias).toEqual({ name: 'bias', offset: 108, shape: [4], size: 4, init: 'zeros' });
    expect(info[2].outputShape).toEqual([4, 4, 4]);
    expect(info[3].outputShape).toEqual([64]);
    expect(info[4].weight).toEqual({ name: 'weight', offset: 112, shape: [5, 64], size: 320, init: 'fan' });
    expect(info[4].bias).toEqual({ name: 'bias', offset: 432, shape: [5], size: 5, init: 'zeros' });
    expect(info[6].weight).toEqual({ name: 'weight', offset: 437, shape: [2, 5], size: 10, init: 'fan' });
    expect(info[0].parameters.map((p) => p.name)).toEqual(['weight', 'bias']);
    expect(info[6].bias).toBeUndefined();
    expect(m.numParameters).toBe(447);
    expect(m.parameters.shape).toEqual([447]);
    expect(m.gradient.shape).toEqual([447]);
    expect(m.outputSize).toBe(2);
    expect(m.summary()).toMatch(/447 parameters/);
    m.dispose();
  });

  test('the layer views alias θ: writing θ changes the forward pass, and backward writes the gradient views', () => {
    const m = new Sequential([1, 1, 2], [flatten(), linear(1)], { dtype: 'float64' });
    const x = Tensor.from(Float64Array.of(3, 4), { shape: [1, 1, 1, 2] });
    const z0 = m.forward(x);
    expect(f64(z0)).toEqual(Float64Array.of(0)); // zeros before init
    m.parameters.toArray(); // still alive
    // write θ directly through a tensor op (not setParameters): the layer sees it
    const t = Tensor.from(Float64Array.of(1, 2, 0.5));
    require('../lib').copy(m.parameters, t);
    const z1 = m.forward(x);
    expect(f64(z1)).toEqual(Float64Array.of(3 + 8 + 0.5));
    expect(m.built[1].params.weight.toArray()).toEqual(Float64Array.of(1, 2));
    const dz = Tensor.from(Float64Array.of(2), { shape: [1, 1] });
    m.backward(dz);
    expect(f64(m.gradient)).toEqual(Float64Array.of(6, 8, 2));
    for (const u of [x, z0, z1, t, dz]) u.dispose();
    m.dispose();
  });

  test('cnn3 / cnn5 follow Table 4 (padding (h−1)/2, 2x2 pools flooring odd sizes)', () => {
    const m3 = cnn3([1, 28, 28], 10);
    expect(m3.layers().map((l) => l.outputShape.join('x'))).toEqual([
      '32x28x28', '32x28x28', '32x14x14', '64x14x14', '64x14x14', '64x7x7', '64x7x7', '64x7x7', '64x3x3', '576', '10',
    ]);
    expect(m3.numParameters).toBe(5 * 5 * 32 + 32 + 3 * 3 * 32 * 64 + 64 + 3 * 3 * 64 * 64 + 64 + 576 * 10 + 10);
    m3.dispose();
    const m5 = cnn5([3, 32, 32], 5);
    expect(m5.layers().filter((l) => l.kind === 'conv2d').map((l) => l.weight!.shape.join('x'))).toEqual([
      '32x3x5x5', '32x32x3x3', '64x32x3x3', '64x64x3x3', '128x64x3x3',
    ]);
    expect(m5.layers().filter((l) => l.kind === 'maxPool2d').map((l) => l.outputShape.join('x'))).toEqual(['32x16x16', '64x8x8', '128x4x4']);
    expect(m5.outputSize).toBe(5);
    m5.dispose();
  });

  test('input too small for the pools: a clear error', () => {
    expect(() => cnn3([1, 4, 4], 10)).toThrow(RangeError);
    expect(() => cnn3([1, 4, 4], 10)).toThrow(/layer 8 \(maxPool2d\) window 2x2 is larger than its input 1x1/);
  });

  test('bad constructor arguments', () => {
    expect(() => new Sequential([1, 0, 3] as unknown as [number, number, number], [flatten()])).toThrow(/Sequential: inputShape must be \[C, H, W\] with positive integers, got \[1, 0, 3\]/);
    expect(() => new Sequential([1, 2, 3], [])).toThrow(/Sequential: layers must be a non-empty array/);
    expect(() => new Sequential([1, 2, 3], [linear(3)])).toThrow(/layer 0 \(linear\) needs a flat input.*\(1, 2, 3\); add flatten\(\)/);
    expect(() => new Sequential([1, 2, 3], [relu()])).toThrow(/the last layer must produce a flat output/);
    expect(() => new Sequential([1, 2, 3], [flatten()], { dtype: 'int32' as 'float32' })).toThrow(/options.dtype must be 'float32' or 'float64', got int32/);
    expect(() => cnn3([1, 8, 8], 0)).toThrow(/cnn3: classes must be a positive integer, got 0/);
    expect(() => new Sequential([1, 2, 3], [{ kind: 'conv3d' } as never])).toThrow(/layers\[0\] is not a layer spec/);
  });

  test('forward / backward argument errors', () => {
    const m = cnn3([1, 8, 8], 3, { dtype: 'float64' });
    const wrong = Tensor.zeros([2, 1, 8, 9], { dtype: 'float64' });
    expect(() => m.forward(wrong)).toThrow(RangeError);
    expect(() => m.forward(wrong)).toThrow(/Sequential.forward: x has shape \(2, 1, 8, 9\) but the network expects \(N, 1, 8, 8\)/);
    const f32 = Tensor.zeros([2, 1, 8, 8]);
    expect(() => m.forward(f32)).toThrow(/x has dtype float32 but the network has float64/);
    expect(() => m.forward([1, 2] as unknown as Tensor)).toThrow(TypeError);
    expect(() => m.backward(Tensor.zeros([2, 3], { dtype: 'float64' }))).toThrow(/no forward pass/);
    const x = Tensor.zeros([2, 1, 8, 8], { dtype: 'float64' });
    const z = m.forward(x);
    expect(() => m.backward(Tensor.zeros([3, 3], { dtype: 'float64' }))).toThrow(/dz has shape \(3, 3\) but the last forward output has shape \(2, 3\)/);
    for (const t of [wrong, f32, x, z]) t.dispose();
    m.dispose();
    expect(() => m.forward(x)).toThrow(/Sequential.forward: the network is disposed/);
  });
});

describe('initialisers', () => {
  test('he-normal: N(0, 2/n_in) weights (n_in = C·R·S for conv, in_features for linear), zero biases', () => {
    const m = new Sequential([16, 12, 12], [conv2d(64, 3, { padding: 1 }), flatten(), linear(40)]);
    m.init('he-normal', { seed: 3 });
    const theta = m.getParameters();
    for (const l of m.layers()) {
      if (!l.weight) continue;
      const w = theta.subarray(l.weight.offset, l.weight.offset + l.weight.size);
      const s = sampleStats(w);
      const expected = Math.sqrt(2 / l.fanIn);
      expect(Math.abs(s.mean)).toBeLessThan((4 * expected) / Math.sqrt(w.length));
      expect(Math.abs(s.std / expected - 1)).toBeLessThan(0.03);
      const b = theta.subarray(l.bias!.offset, l.bias!.offset + l.bias!.size);
      expect(Array.from(b).every((v) => v === 0)).toBe(true);
    }
    expect(m.layers()[0].fanIn).toBe(16 * 9);
    expect(m.layers()[2].fanIn).toBe(64 * 144);
    m.dispose();
  });

  test('xavier: U(±√(6/(n_in+n_out))); xavier-small scales it; deterministic in the seed, different per layer', () => {
    const m = new Sequential([8, 10, 10], [conv2d(32, 3), flatten(), linear(20)]);
    m.init('xavier', { seed: 1 });
    const a = m.getParameters();
    const l0 = m.layers()[0];
    const bound = Math.sqrt(6 / (l0.fanIn + l0.fanOut));
    expect(l0.fanOut).toBe(32 * 9);
    const w0 = a.subarray(0, l0.weight!.size);
    const s = sampleStats(w0);
    expect(s.max).toBeLessThanOrEqual(bound);
    expect(s.min).toBeGreaterThanOrEqual(-bound);
    expect(Math.abs(s.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.03);
    m.init('xavier-small', { seed: 1, scale: 0.5 });
    expectClose(m.getParameters(), a.map((v) => v * 0.5), { rtol: 1e-6, atol: 1e-12 });
    m.init('xavier', { seed: 1 });
    expect(m.getParameters()).toEqual(a);
    m.init('xavier', { seed: 2 });
    expect(m.getParameters()).not.toEqual(a);
    expect(() => m.init('glorot' as 'xavier', { seed: 1 })).toThrow(/Sequential.init: initializer must be one of 'he-normal', 'xavier', 'xavier-small', 'orthogonal', got "glorot"/);
    expect(() => m.init('xavier', { seed: -1 })).toThrow(/options.seed must be a non-negative safe integer, got -1/);
    expect(() => m.init('xavier-small', { seed: 1, scale: 0 })).toThrow(/options.scale must be a positive finite number, got 0/);
    m.dispose();
  });

  test('cnn3 initialises deterministically from options.seed', () => {
    const a = cnn3([1, 8, 8], 4, { seed: 5 });
    const b = cnn3([1, 8, 8], 4, { seed: 5 });
    expect(a.getParameters()).toEqual(b.getParameters());
    a.dispose();
    b.dispose();
  });
});

describe('memory', () => {
  test('repeated forward/backward leaks nothing; dispose frees θ and the caches', () => {
    const before = settledBytesInUse();
    const m = cnn3([1, 8, 8], 3, { dtype: 'float64' });
    const x = Tensor.full([4, 1, 8, 8], 0.5, { dtype: 'float64' });
    const step = (): void => {
      const z = m.forward(x);
      const dz = Tensor.full(z.shape, 1, { dtype: 'float64' });
      m.backward(dz);
      z.dispose();
      dz.dispose();
    };
    step();
    const during = memoryStats().bytesInUse;
    for (let i = 0; i < 5; i++) step();
    expect(memoryStats().bytesInUse).toBe(during);
    m.releaseCache();
    x.dispose();
    m.dispose();
    expect(memoryStats().bytesInUse).toBe(before);
  });
});
