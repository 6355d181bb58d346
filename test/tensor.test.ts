// The Tensor class and the runtime functions.
import * as fs from 'fs';
import * as path from 'path';
import * as nc from '../lib';
import { Tensor } from '../lib';
import { native } from '../lib/native';
import { expectEqualArrays, expectThrow, isTypedArrayOf, settledBytesInUse } from './helpers';

// jest runs each test file in a vm context whose Symbol lacks Node 20's Symbol.dispose, so
// `using` (TS's __addDisposableResource helper) would throw "Symbol.dispose is not defined".
// The registered Symbol.for('Symbol.dispose') is the conventional polyfill (TypeScript's
// docs, core-js) and lib/tensor.ts's fallback in that case; in plain Node it is not needed.
const disposeSym: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('Symbol.dispose');
if (!(Symbol as { dispose?: symbol }).dispose) Object.defineProperty(Symbol, 'dispose', { value: disposeSym });

describe('Tensor.from', () => {
  test('Float32Array, Float64Array, Int32Array give their dtype and shape [length]', () => {
    const cases: [Float32Array | Float64Array | Int32Array, string, 'Float32Array' | 'Float64Array' | 'Int32Array'][] = [
      [Float32Array.of(1.5, -2, 3), 'float32', 'Float32Array'],
      [Float64Array.of(0.1, 1e300, -7, 4), 'float64', 'Float64Array'],
      [Int32Array.of(-5, 2147483647), 'int32', 'Int32Array'],
    ];
    for (const [data, dtype, kind] of cases) {
      const t = Tensor.from(data);
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([data.length]);
      expect(t.size).toBe(data.length);
      expect(t.ndim).toBe(1);
      expect(t.device).toBe('cpu');
      expect(t.disposed).toBe(false);
      const a = t.toArray();
      expect(isTypedArrayOf(a, kind)).toBe(true);
      expectEqualArrays(a, data);
    }
  });

  test('typed array with options.shape and options.dtype (converted)', () => {
    const t = Tensor.from(Float64Array.of(1, 2, 3, 4, 5, 6), { shape: [2, 3] });
    expect(t.shape).toEqual([2, 3]);
    expect(t.ndim).toBe(2);
    expect(t.toNested()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const c = Tensor.from(Float64Array.of(0.1, 2.5), { dtype: 'float32' });
    expect(c.dtype).toBe('float32');
    expect(isTypedArrayOf(c.toArray(), 'Float32Array')).toBe(true);
    expectEqualArrays(c.toArray(), [Math.fround(0.1), 2.5]);
    const i = Tensor.from(Int32Array.of(3, -4), { dtype: 'float64' });
    expect(i.dtype).toBe('float64');
    expectEqualArrays(i.toArray(), [3, -4]);
  });

  test('Tensor.from copies its input: later changes to the source are not seen', () => {
    const src = Float32Array.of(1, 2, 3);
    const t = Tensor.from(src);
    src[0] = 100;
    expectEqualArrays(t.toArray(), [1, 2, 3]);
  });

  test('nested arrays: shape inferred, default float32', () => {
    const t = Tensor.from([
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
    ]);
    expect(t.shape).toEqual([1, 3, 2]);
    expect(t.dtype).toBe('float32');
    expect(t.size).toBe(6);
    expect(t.ndim).toBe(3);
    expectEqualArrays(t.toArray(), [1, 2, 3, 4, 5, 6]);
    const d = Tensor.from([0.1, 0.2], { dtype: 'float64' });
    expect(d.dtype).toBe('float64');
    expectEqualArrays(d.toArray(), [0.1, 0.2]);
    const one = Tensor.from([[7]]);
    expect(one.shape).toEqual([1, 1]);
    expect(one.item()).toBe(7);
  });

  test('a plain number gives a 0-d tensor', () => {
    const t = Tensor.from(2.5);
    expect(t.shape).toEqual([]);
    expect(t.ndim).toBe(0);
    expect(t.size).toBe(1);
    expect(t.item()).toBe(2.5);
    expect(t.toNested()).toBe(2.5);
    const d = Tensor.from(0.1, { dtype: 'float64' });
    expect(d.item()).toBe(0.1);
    expect(Tensor.from(0.1).item()).toBe(Math.fround(0.1));
  });

  test('empty tensors', () => {
    const t = Tensor.from(new Float32Array(0));
    expect(t.shape).toEqual([0]);
    expect(t.size).toBe(0);
    expect(t.toArray().length).toBe(0);
    const z = Tensor.zeros([3, 0, 2]);
    expect(z.size).toBe(0);
    expect(z.toNested()).toEqual([[], [], []]);
  });
});

describe('Tensor properties and methods', () => {
  test('shape is frozen and a copy of the option', () => {
    const shape = [2, 3];
    const t = Tensor.zeros(shape);
    expect(Object.isFrozen(t.shape)).toBe(true);
    shape[0] = 5;
    expect(t.shape).toEqual([2, 3]);
    expect(() => {
      (t.shape as number[])[0] = 9;
    }).toThrow(TypeError); // strict mode: assigning to a frozen array throws
    expect(t.shape).toEqual([2, 3]);
  });

  test('toArray returns a fresh copy each time', () => {
    const t = Tensor.from(Float64Array.of(1, 2, 3));
    const a = t.toArray();
    const b = t.toArray();
    expect(a).not.toBe(b);
    a[0] = 42;
    expectEqualArrays(t.toArray(), [1, 2, 3]);
    expectEqualArrays(b, [1, 2, 3]);
    expect((a as Float64Array).buffer).not.toBe((b as Float64Array).buffer);
  });

  test('toNested for 0-d, 1-d, 2-d, 4-d', () => {
    expect(Tensor.from(Float64Array.of(1, 2)).toNested()).toEqual([1, 2]);
    expect(Tensor.from(Float64Array.of(1, 2, 3, 4, 5, 6), { shape: [3, 2] }).toNested()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const t = Tensor.from(Float32Array.from({ length: 24 }, (_, i) => i), { shape: [2, 1, 3, 4] });
    const n = t.toNested() as number[][][][];
    expect(n.length).toBe(2);
    expect(n[1][0][2][3]).toBe(23);
    expect(n[0][0][1][0]).toBe(4);
    expect(Tensor.from(n as nc.NestedArray).toArray()).toEqual(t.toArray());
  });

  test('item requires exactly one element', () => {
    expect(Tensor.from(Float64Array.of(3.25), { shape: [1, 1, 1] }).item()).toBe(3.25);
    expect(Tensor.from(Int32Array.of(-9)).item()).toBe(-9);
    expectThrow(() => Tensor.from(Float64Array.of(1, 2)).item(), 'RangeError');
    expectThrow(() => Tensor.zeros([0]).item(), 'RangeError');
  });

  test('reshape shares memory; clone does not', () => {
    const t = Tensor.from(Float64Array.of(1, 2, 3, 4, 5, 6), { shape: [2, 3] });
    const r = t.reshape([3, 2]);
    expect(r.shape).toEqual([3, 2]);
    expect(r.dtype).toBe('float64');
    const c = t.clone();
    expect(c.shape).toEqual([2, 3]);
    nc.fill(r, 7);
    expectEqualArrays(t.toArray(), [7, 7, 7, 7, 7, 7]);
    expectEqualArrays(c.toArray(), [1, 2, 3, 4, 5, 6]);
    nc.fill(c, -1);
    expectEqualArrays(t.toArray(), [7, 7, 7, 7, 7, 7]);
    // writing through the original is visible in the view
    nc.copy(t, Tensor.from(Float64Array.of(6, 5, 4, 3, 2, 1), { shape: [2, 3] }));
    expectEqualArrays(r.toArray(), [6, 5, 4, 3, 2, 1]);
    // reshape to the same size in other ways; a 1-element tensor to a scalar
    expect(t.reshape([6]).shape).toEqual([6]);
    expect(t.reshape([1, 6, 1]).shape).toEqual([1, 6, 1]);
    expect(Tensor.from(Float64Array.of(5)).reshape([]).item()).toBe(5);
    expectThrow(() => t.reshape([4]), 'RangeError');
    expectThrow(() => t.reshape([-2, -3]), 'RangeError');
  });

  test('a reshape view survives disposing the original (or is reported disposed, never garbage)', () => {
    const t = Tensor.from(Float64Array.of(1, 2, 3, 4));
    const r = t.reshape([2, 2]);
    t.dispose();
    let got: number[] | undefined;
    let err: Error | undefined;
    try {
      got = Array.from(r.toArray());
    } catch (e) {
      err = e as Error;
    }
    if (err) expect(err.message).toMatch(/tensor is disposed/);
    else expect(got).toEqual([1, 2, 3, 4]);
  });

  test('zeros and full', () => {
    for (const dtype of ['float32', 'float64', 'int32'] as const) {
      const z = Tensor.zeros([2, 3], { dtype });
      expect(z.dtype).toBe(dtype);
      expect(z.shape).toEqual([2, 3]);
      expectEqualArrays(z.toArray(), [0, 0, 0, 0, 0, 0]);
      const f = Tensor.full([3, 1], 4, { dtype });
      expect(f.dtype).toBe(dtype);
      expectEqualArrays(f.toArray(), [4, 4, 4]);
    }
    expect(Tensor.zeros([2]).dtype).toBe('float32');
    expect(Tensor.zeros([2]).device).toBe('cpu');
    expectEqualArrays(Tensor.full([2], 0.1).toArray(), [Math.fround(0.1), Math.fround(0.1)]);
    expect(Tensor.full([], -3, { dtype: 'float64' }).item()).toBe(-3);
  });

  test('cast: float round trips; int32 → float; float → int32 refused (int32 holds indices only)', () => {
    const v = [0.1, -2.5, 1e-3, 3];
    const t64 = Tensor.from(v, { dtype: 'float64' });
    const t32 = nc.cast(t64, 'float32');
    expectEqualArrays(t32.toArray(), v.map(Math.fround));
    const back = nc.cast(t32, 'float64');
    expectEqualArrays(back.toArray(), v.map(Math.fround));
    // float32 → float64 → float32 is the identity
    expectEqualArrays(nc.cast(back, 'float32').toArray(), t32.toArray());
    const ints = Tensor.from(Int32Array.of(-3, 0, 12345678));
    const fi = nc.cast(ints, 'float64');
    expect(fi.dtype).toBe('float64');
    expectEqualArrays(fi.toArray(), [-3, 0, 12345678]);
    expectEqualArrays(nc.cast(ints, 'float32').toArray(), [-3, 0, 12345678]);
    // native/core/dtype.h: int32 is for indices only, so data is never cast to it
    expectThrow(() => nc.cast(fi, 'int32'), 'RangeError', /^cast: .*int32/);
  });

  test('dispose frees, is idempotent, and Symbol.dispose works', () => {
    const t = Tensor.zeros([4]);
    expect(t.disposed).toBe(false);
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.dispose()).not.toThrow();
    expect(t.disposed).toBe(true);
    expectThrow(() => t.toArray(), 'Error', /tensor is disposed/);
    expectThrow(() => t.item(), 'Error', /tensor is disposed/);
    expectThrow(() => t.clone(), 'Error', /tensor is disposed/);

    const u = Tensor.zeros([4]);
    const m = (u as unknown as Record<symbol, () => void>)[disposeSym];
    expect(typeof m).toBe('function');
    m.call(u);
    expect(u.disposed).toBe(true);
    m.call(u);
    expect(u.disposed).toBe(true);
  });

  test('`using` disposes at the end of the block', () => {
    let escaped: Tensor | undefined;
    {
      using t = Tensor.zeros([8], { dtype: 'float64' });
      escaped = t;
      expect(t.disposed).toBe(false);
    }
    expect(escaped!.disposed).toBe(true);
  });
});

describe('runtime', () => {
  test('devices(): cpu available and naming the BLAS, cuda listed with a reason when unavailable', () => {
    const ds = nc.devices();
    expect(Array.isArray(ds)).toBe(true);
    const cpu = ds.find((d) => d.name === 'cpu');
    expect(cpu?.name).toBe('cpu');
    expect(cpu!.kind).toBe('cpu');
    expect(cpu!.available).toBe(true);
    expect(typeof cpu!.description).toBe('string');
    const blas = nc.info().blas;
    expect(blas.length).toBeGreaterThan(0);
    expect(cpu!.description.toLowerCase()).toContain(blas.toLowerCase());
    const cuda = ds.filter((d) => d.kind === 'cuda');
    expect(cuda.length).toBeGreaterThan(0);
    for (const d of cuda) {
      expect(d.name).toMatch(/^cuda(:\d+)?$/);
      expect(typeof d.available).toBe('boolean');
      if (!d.available) {
        expect(typeof d.reason).toBe('string');
        expect(d.reason.trim().length).toBeGreaterThan(0);
      }
    }
  });

  test('info()', () => {
    const i = nc.info();
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    expect(i.version).toBe(pkg.version);
    expect(typeof i.blas).toBe('string');
    expect(i.threads).toBe(nc.getNumThreads());
    expect(Number.isInteger(i.threads) && i.threads >= 1).toBe(true);
    expect(i.gemm).toBe(nc.getGemmImplementation());
    expect(['blas', 'builtin']).toContain(i.gemm);
    expect(path.isAbsolute(i.addon)).toBe(true);
    expect(i.addon.endsWith('.node')).toBe(true);
    expect(fs.existsSync(i.addon)).toBe(true);
  });

  test('setGemmImplementation / getGemmImplementation / blasAvailable (setNumThreads: ops.threads.test.ts)', () => {
    const g0 = nc.getGemmImplementation();
    try {
      nc.setGemmImplementation('builtin');
      expect(nc.getGemmImplementation()).toBe('builtin');
      expect(nc.info().gemm).toBe('builtin');
      if (nc.blasAvailable()) {
        nc.setGemmImplementation('blas');
        expect(nc.getGemmImplementation()).toBe('blas');
        expect(nc.info().gemm).toBe('blas');
      } else {
        expectThrow(() => nc.setGemmImplementation('blas'), 'Error', /./);
        expect(nc.getGemmImplementation()).toBe('builtin');
      }
    } finally {
      nc.setGemmImplementation(g0);
    }
    expect(typeof nc.blasAvailable()).toBe('boolean');
  });

  test('memoryStats().bytesInUse rises and falls', () => {
    // creating a tensor may sweep tensors collected earlier: start from a settled baseline
    settledBytesInUse();
    const s0 = nc.memoryStats();
    for (const k of ['bytesInUse', 'peakBytesInUse', 'bytesCached', 'allocations'] as const) expect(typeof s0[k]).toBe('number');
    const t = Tensor.zeros([1000, 250], { dtype: 'float64' }); // 2 MB
    const s1 = nc.memoryStats();
    expect(s1.bytesInUse - s0.bytesInUse).toBeGreaterThanOrEqual(2_000_000);
    expect(s1.peakBytesInUse).toBeGreaterThanOrEqual(s1.bytesInUse);
    expect(s1.allocations).toBeGreaterThan(s0.allocations);
    const r = t.reshape([250, 1000]); // a view: no new buffer
    expect(nc.memoryStats().bytesInUse).toBe(s1.bytesInUse);
    t.dispose();
    r.dispose();
    const s2 = nc.memoryStats();
    expect(s2.bytesInUse).toBe(s0.bytesInUse);
    expect(s2.peakBytesInUse).toBeGreaterThanOrEqual(s1.bytesInUse);
    expect(nc.memoryStats('cpu').bytesInUse).toBe(s2.bytesInUse);
  });
});

describe('Tensor.toArrayAsync', () => {
  test('resolves to the same values as toArray, for every dtype, even if the tensor is disposed meanwhile', async () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const t = nc.randomUniform([300, 301], { seed: 11, dtype });
      const sync = t.toArray();
      const pending = t.toArrayAsync();
      t.dispose();
      const values = await pending;
      expect(isTypedArrayOf(values, dtype === 'float32' ? 'Float32Array' : 'Float64Array')).toBe(true);
      expectEqualArrays(values, sync, dtype);
    }
    const ints = Tensor.from(Int32Array.of(-3, 0, 7));
    expectEqualArrays(await ints.toArrayAsync(), [-3, 0, 7], 'int32');
    expect((await Tensor.zeros([0]).toArrayAsync()).length).toBe(0);
  });

  test('a disposed tensor rejects at once, and bad native arguments throw', async () => {
    const t = Tensor.zeros([2]);
    t.dispose();
    await expect(t.toArrayAsync()).rejects.toThrow(/tensor is disposed/);
    // The native entry point checks its arguments itself (JS can call it directly).
    const addon = native() as unknown as { readIntoAsync(t: unknown, out: unknown): Promise<void> };
    expectThrow(() => addon.readIntoAsync(7, new Float32Array(4)), 'TypeError', /^Tensor\.toArrayAsync: tensor must be a Tensor/);
  });
});
