// The data loader (lib/data/loader.ts) and the native batch augmentation under it
// (native/core/augment.h): the native crop / flip / normalisation against a plain JS reference
// (Philox draws included), exactly in float32; determinism across thread counts and prefetch
// depths; every example once per epoch; drop-last; shuffling; trainSgd with options.augment
// (learns, resumes bit-for-bit); bad options named.
import { createDataset, DataLoader, type Dataset } from '../lib/data';
import { getNumThreads, setNumThreads } from '../lib';
import { native } from '../lib/native';
import { cnn3, squaredLoss } from '../lib/nn';
import { evaluateObjective, trainSgd, type TrainSgdOptions } from '../lib/train';
import { bars } from './data.fixtures';
import { philox } from './philox';

// --- reference: Philox4x32-10 with a 64-bit key (native/core/random.h) and the draws of note
// [batch augmentation] (key = seed ^ 0x9E3779B97F4A7C15, block = epoch·2^32 + position)
function refDraw(seed: number, epoch: number, position: number, range: [number, number], flip: boolean): [number, number, number] {
  const key = BigInt(seed) ^ 0x9e3779b97f4a7c15n;
  const w = philox(key, position >>> 0, epoch >>> 0);
  const below = (x: number, r: number) => Math.floor((x * r) / 4294967296);
  return [below(w[0], range[0]), below(w[1], range[1]), flip && w[2] >>> 31 === 1 ? 1 : 0];
}

interface RefOptions {
  seed: number;
  epoch: number;
  crop?: { size: number; padding: number };
  flip?: boolean;
  mean?: readonly number[];
  std?: readonly number[];
}
/** The batch of positions [start, start + order.length) computed element by element in JS (float32 rounding by Math.fround). */
function refBatch(ds: Dataset, order: Int32Array, start: number, o: RefOptions): Float32Array {
  const [C, H, W] = ds.shape;
  const size = o.crop?.size ?? H, pad = o.crop?.padding ?? 0;
  const out = new Float32Array(order.length * C * size * size);
  for (let i = 0; i < order.length; i++) {
    const cropping = o.crop !== undefined;
    const [dy, dx, f] = cropping || o.flip ? refDraw(o.seed, o.epoch, start + i, [H + 2 * pad - size + 1, W + 2 * pad - size + 1], o.flip === true) : [0, 0, 0];
    const [oy0, ox0] = cropping ? [dy, dx] : [0, 0];
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const cx = f ? size - 1 - x : x; // flip the crop
          const sy = y + oy0 - pad, sx = cx + ox0 - pad;
          let v = sy >= 0 && sy < H && sx >= 0 && sx < W ? ds.images[((order[i] * C + c) * H + sy) * W + sx] : 0;
          if (o.mean) v = Math.fround(Math.fround(v - Math.fround(o.mean[c])) / Math.fround(o.std![c]));
          out[((i * C + c) * size + y) * size + x] = v;
        }
      }
    }
  }
  return out;
}

/** n random images of shape [3, 7, 6] (odd, non-square), classes 4. */
function colour(n: number, seed = 1): Dataset {
  let s = seed;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const images = Float32Array.from({ length: n * 3 * 7 * 6 }, () => r() * 255 - 20);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % 4);
  return createDataset({ name: 'colour', images, labels, shape: [3, 7, 6], classes: 4 });
}

const shapeOf = (ds: Dataset) => [...ds.shape];

describe('native batch augmentation against the JS reference', () => {
  const ds = colour(50);
  const order = Int32Array.from({ length: 50 }, (_, i) => (i * 17) % 50);
  test.each([
    ['crop + flip + normalise', { seed: 5, epoch: 3, crop: { size: 5, padding: 2 }, flip: true, mean: [100, 90.5, 80.25], std: [60, 55.5, 0.3] }],
    ['crop only, padding 0', { seed: 0, epoch: 0, crop: { size: 4, padding: 0 } }],
    ['flip only', { seed: 2 ** 40 + 3, epoch: 7, flip: true }],
    ['normalise only', { seed: 1, epoch: 1, mean: [1, 2, 3], std: [3, 7, 11] }],
    ['crop larger than the image (padding 3)', { seed: 9, epoch: 2, crop: { size: 9, padding: 3 }, flip: true }],
  ] as [string, RefOptions][])('%s: equal in float32, one-hot targets and labels', (_name, o: RefOptions) => {
    const start = 13, count = 21;
    const sub = order.subarray(start, start + count);
    const size = o.crop?.size ?? 7;
    const wide = o.crop?.size ?? 6;
    const x = new Float32Array(count * 3 * size * (o.crop ? size : wide));
    const y = new Float32Array(count * 4);
    const labels = new Int32Array(count);
    const opts = { shape: shapeOf(ds), classes: 4, start, seed: o.seed, epoch: o.epoch, flip: o.flip, ...(o.crop ? { crop: { size: [o.crop.size, o.crop.size] as [number, number], padding: o.crop.padding } } : {}), ...(o.mean ? { mean: Float32Array.from(o.mean), std: Float32Array.from(o.std!) } : {}) };
    native().augmentBatch(ds.images, ds.labels, sub, opts, x, y, labels);
    if (o.crop) expect(x).toEqual(refBatch(ds, sub, start, o));
    else {
      // no crop: the reference's square loop does not apply to 7×6; compare flip / normalise directly
      const ref = new Float32Array(x.length);
      for (let i = 0; i < count; i++) {
        const [, , f] = o.flip ? refDraw(o.seed, o.epoch, start + i, [1, 1], true) : [0, 0, 0];
        for (let c = 0; c < 3; c++) for (let h = 0; h < 7; h++) for (let w = 0; w < 6; w++) {
          let v = ds.images[((sub[i] * 3 + c) * 7 + h) * 6 + (f ? 5 - w : w)];
          if (o.mean) v = Math.fround(Math.fround(v - Math.fround(o.mean[c])) / Math.fround(o.std![c]));
          ref[((i * 3 + c) * 7 + h) * 6 + w] = v;
        }
      }
      expect(x).toEqual(ref);
    }
    for (let i = 0; i < count; i++) {
      expect(labels[i]).toBe(ds.labels[sub[i]]);
      expect(Array.from(y.subarray(i * 4, i * 4 + 4))).toEqual([0, 1, 2, 3].map((k) => (k === labels[i] ? 1 : 0)));
    }
  });

  test('the draws cover every offset and both flips, and match the reference', () => {
    const draws = native().augmentDraws({ shape: [3, 32, 32], seed: 11, epoch: 4, crop: { size: [32, 32], padding: 4 }, flip: true }, 1000, 2000);
    const seen = new Set<number>();
    let flips = 0;
    for (let i = 0; i < 2000; i++) {
      expect([draws[3 * i], draws[3 * i + 1], draws[3 * i + 2]]).toEqual(refDraw(11, 4, 1000 + i, [9, 9], true));
      seen.add(draws[3 * i] * 9 + draws[3 * i + 1]);
      flips += draws[3 * i + 2];
    }
    expect(seen.size).toBe(81);
    expect(flips).toBeGreaterThan(900);
    expect(flips).toBeLessThan(1100);
  });

  test('bad indices, labels and sizes are refused before anything is written', () => {
    const x = new Float32Array(2 * 3 * 7 * 6).fill(7);
    const y = new Float32Array(8), l = new Int32Array(2);
    const base = { shape: shapeOf(ds), classes: 4, start: 0, seed: 0, epoch: 0 };
    expect(() => native().augmentBatch(ds.images, ds.labels, Int32Array.of(0, 50), base, x, y, l)).toThrow(/augmentBatch: order\[1\] = 50 is outside \[0, 50\)/);
    expect(x.every((v) => v === 7)).toBe(true);
    expect(() => native().augmentBatch(ds.images, ds.labels, Int32Array.of(0, 1), { ...base, classes: 2 }, x, y.subarray(0, 4), l)).toThrow(/augmentBatch: label 3 of example 1 is outside \[0, 2\)/);
    expect(() => native().augmentBatch(ds.images, ds.labels, Int32Array.of(0, 1), base, x.subarray(1), y, l)).toThrow(/augmentBatch: x has 251 values but 2 images of 3×7×6 need 252/);
    expect(() => native().augmentBatch(ds.images, ds.labels, Int32Array.of(0, 1), { ...base, std: Float32Array.of(1, 0, 1), mean: Float32Array.of(0, 0, 0) }, x, y, l)).toThrow(/normalize.std\[1\] must be positive/);
    expect(() => native().augmentBatch(ds.images as unknown as Float32Array, ds.labels, [0, 1] as unknown as Int32Array, base, x, y, l)).toThrow(/augmentBatch: order must be a Float32Array, Float64Array or Int32Array, got array/);
  });

  test('the async version rejects with the same message', async () => {
    const x = new Float32Array(3 * 7 * 6), y = new Float32Array(4), l = new Int32Array(1);
    await expect(native().augmentBatchAsync(ds.images, ds.labels, Int32Array.of(-1), { shape: shapeOf(ds), classes: 4, start: 0, seed: 0, epoch: 0 }, x, y, l)).rejects.toThrow(
      /augmentBatchAsync: order\[0\] = -1 is outside/,
    );
  });
});

async function collect(loader: DataLoader, epoch: number, order?: Int32Array): Promise<{ x: number[][]; labels: number[][]; starts: number[] }> {
  const xs: number[][] = [], labels: number[][] = [], starts: number[] = [];
  for await (const b of loader.epoch(epoch, order ? { order } : {})) {
    xs.push(Array.from(b.x.toArray() as Float32Array));
    labels.push(Array.from(b.labels));
    starts.push(b.start);
    b.x.dispose();
    b.y.dispose();
  }
  return { x: xs, labels, starts };
}

describe('DataLoader', () => {
  const ds = colour(203, 3);
  const cropFlip = { crop: { size: 7, padding: 2 }, flip: true, normalize: { mean: [100, 100, 100], std: [50, 60, 70] } };

  test('deterministic across thread counts and prefetch depths; equal to the sync path', async () => {
    const threads = getNumThreads();
    try {
      setNumThreads(1);
      const a = await collect(new DataLoader(ds, { batchSize: 16, seed: 4, augment: { ...cropFlip, crop: { size: 6, padding: 2 } }, prefetch: 0 }), 2);
      setNumThreads(2);
      const b = await collect(new DataLoader(ds, { batchSize: 16, seed: 4, augment: { ...cropFlip, crop: { size: 6, padding: 2 } }, prefetch: 5 }), 2);
      const c = await collect(new DataLoader(ds, { batchSize: 16, seed: 4, augment: { ...cropFlip, crop: { size: 6, padding: 2 } } }), 2);
      expect(b).toEqual(a);
      expect(c).toEqual(a);
      const sync = new DataLoader(ds, { batchSize: 16, seed: 4, augment: { ...cropFlip, crop: { size: 6, padding: 2 } } });
      const s = sync.batchSync(2, sync.order(2), 3);
      expect(Array.from(s.x.toArray() as Float32Array)).toEqual(a.x[3]);
      s.x.dispose();
      s.y.dispose();
    } finally {
      setNumThreads(threads);
    }
  });

  test('an example is augmented the same whatever the batch size (draws keyed by position)', async () => {
    const order = new DataLoader(ds, { batchSize: 1 }).order(0);
    const a = await collect(new DataLoader(ds, { batchSize: 10, augment: 'crop-flip' }), 0, order);
    const b = await collect(new DataLoader(ds, { batchSize: 64, augment: 'crop-flip' }), 0, order);
    expect(a.x.flat()).toEqual(b.x.flat());
  });

  test('every example exactly once per epoch (drop-last off), a new order each epoch', async () => {
    const loader = new DataLoader(ds, { batchSize: 16, seed: 1 });
    expect(loader.batchesPerEpoch).toBe(13);
    const orders: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const r = await collect(loader, e);
      expect(r.starts).toEqual(Array.from({ length: 13 }, (_, i) => 16 * i));
      expect(r.labels.map((l) => l.length)).toEqual([...Array(12).fill(16), 11]);
      // the images identify the examples: without augmentation each is a row of the data set
      const size = 3 * 7 * 6;
      const ids = r.x.flatMap((x) => Array.from({ length: x.length / size }, (_, i) => ds.images.indexOf(x[i * size]) / size));
      expect([...ids].sort((p, q) => p - q)).toEqual(Array.from({ length: 203 }, (_, i) => i));
      orders.push(ids);
    }
    expect(orders[1]).not.toEqual(orders[0]);
    expect(orders[2]).not.toEqual(orders[1]);
    expect(loader.order(1)).toEqual(new DataLoader(ds, { batchSize: 7, seed: 1 }).order(1)); // the order depends on seed and epoch only
    expect(new DataLoader(ds, { batchSize: 7, seed: 1, shuffle: false }).order(1)).toEqual(Int32Array.from({ length: 203 }, (_, i) => i));
  });

  test('shards of a data-parallel job: each batch split among the processes, together the batch of one process', async () => {
    // 203 examples in batches of 16: the last holds 11, shared by 3 processes as 3 + 4 + 4
    const whole = await collect(new DataLoader(ds, { batchSize: 16, seed: 6, augment: cropFlip }), 1);
    const parts = await Promise.all([0, 1, 2].map((index) => collect(new DataLoader(ds, { batchSize: 16, seed: 6, augment: cropFlip, shard: { index, count: 3 } }), 1)));
    whole.x.forEach((x, b) => {
      expect(parts.flatMap((p) => p.x[b])).toEqual(x);
      expect(parts.flatMap((p) => p.labels[b])).toEqual(whole.labels[b]);
    });
    expect(parts.map((p) => p.labels[12].length)).toEqual([3, 4, 4]);
    expect(parts[1].starts[12]).toBe(192 + 3);
    expect(() => new DataLoader(ds, { batchSize: 2, dropLast: true, shard: { index: 0, count: 3 } })).toThrow(/a batch of 2 examples cannot be shared among 3 processes \(every process needs one\): use a batch size of at least 3$/);
    expect(() => new DataLoader(ds, { batchSize: 100, shard: { index: 0, count: 4 } })).toThrow(/a batch of 3 examples cannot be shared among 4 processes .*whose last batch \(203 mod batchSize\) is 0 or at least 4, or dropLast/);
    expect(() => new DataLoader(ds, { batchSize: 16, shard: { index: 3, count: 3 } })).toThrow(/options.shard.index must be below shard.count 3, got 3/);
  });

  test('drop-last leaves out the partial batch', async () => {
    const loader = new DataLoader(ds, { batchSize: 16, dropLast: true });
    expect(loader.batchesPerEpoch).toBe(12);
    const r = await collect(loader, 0);
    expect(r.labels.map((l) => l.length)).toEqual(Array(12).fill(16));
  });

  test('tensors on the requested dtype; leaving early stops; errors are JS errors', async () => {
    const loader = new DataLoader(ds, { batchSize: 50, dtype: 'float64', augment: 'crop-flip' });
    for await (const b of loader.epoch(0)) {
      expect([b.x.dtype, b.x.shape, b.y.shape]).toEqual(['float64', [50, 3, 7, 6], [50, 4]]);
      b.x.dispose();
      b.y.dispose();
      break;
    }
    const bad = createDataset({ name: 'bad', images: new Float32Array(2 * 4), labels: Int32Array.of(0, 1), shape: [1, 2, 2], classes: 2 });
    (bad.labels as Int32Array)[1] = 5; // corrupted after validation
    await expect(collect(new DataLoader(bad, { batchSize: 2 }), 0)).rejects.toThrow(/augmentBatchAsync: label 5 of example 1 is outside \[0, 2\)/);
  });

  test('bad options are refused, naming the option', () => {
    const make = (o: object) => () => new DataLoader(ds, { batchSize: 8, ...o });
    expect(make({ batchSize: 0 })).toThrow(/DataLoader: options.batchSize must be an integer ≥ 1, got 0/);
    expect(make({ prefetch: -1 })).toThrow(/options.prefetch/);
    expect(make({ augment: 'mirror' })).toThrow(/DataLoader: options.augment must be 'crop-flip' or an object, got 'mirror'/);
    expect(make({ augment: { crop: { size: 12, padding: 2 } } })).toThrow(/options.augment.crop.size 12×12 is larger than the padded image 11×10/);
    expect(make({ augment: { crop: { size: 5, padding: -1 } } })).toThrow(/options.augment.crop.padding must be an integer/);
    expect(make({ augment: { flip: 'yes' } })).toThrow(/options.augment.flip must be a boolean/);
    expect(make({ augment: { normalize: { mean: [0, 0], std: [1, 1] } } })).toThrow(/options.augment.normalize.mean must have one value per channel \(3\), got 2/);
    expect(make({ augment: { normalize: { mean: [0, 0, 0], std: [1, 0, 1] } } })).toThrow(/options.augment.normalize.std\[1\] must be a positive finite number, got 0/);
    expect(make({ augment: { rotate: 5 } })).toThrow(/options.augment has unknown option rotate/);
    expect(make({ dtype: 'int32' })).toThrow(/options.dtype/);
    expect(make({ batchSize: 300, dropLast: true })).toThrow(/options.dropLast/);
    expect(() => new DataLoader(ds, { batchSize: 8 }).epoch(0, { order: new Int32Array(5) })).toThrow(/options.order must be an Int32Array of length 203/);
  });
});

describe('trainSgd with options.augment', () => {
  const train = bars(240, 1);
  const options = (extra: Partial<TrainSgdOptions> = {}): TrainSgdOptions => ({
    epochs: 2, batchSize: 16, seed: 7, loss: squaredLoss, sgd: { learningRate: 0.01, momentum: 0.9, C: 1 }, evaluateEvery: 'never',
    augment: { crop: { size: 8, padding: 1 }, flip: true }, ...extra,
  });

  test('learns (the loss falls) and reports the time spent waiting for data', async () => {
    const m = cnn3([1, 8, 8], 3, { seed: 3 });
    const before = evaluateObjective(m, train, { C: 1, loss: squaredLoss });
    const r = await trainSgd(m, train, options({ epochs: 6 }));
    const after = evaluateObjective(m, train, { C: 1, loss: squaredLoss });
    expect(after.value).toBeLessThan(0.7 * before.value);
    expect(r.dataWaitSeconds).toBeGreaterThanOrEqual(0);
    expect(r.dataWaitSeconds!).toBeLessThan(r.seconds);
    m.dispose();
  });

  test('differs from the run without augmentation; resumes bit-for-bit after an abort mid-epoch', async () => {
    const straight = cnn3([1, 8, 8], 3, { seed: 9 });
    const r0 = await trainSgd(straight, train, options());
    const plain = cnn3([1, 8, 8], 3, { seed: 9 });
    await trainSgd(plain, train, options({ augment: undefined }));
    expect(plain.getParameters()).not.toEqual(straight.getParameters());

    const ac = new AbortController();
    const b = cnn3([1, 8, 8], 3, { seed: 9 });
    const rb = await trainSgd(b, train, options({ prefetch: 4, signal: ac.signal, onProgress: (p) => p.epoch === 1 && p.batch === 5 && ac.abort() }));
    expect([rb.aborted, rb.state.epoch, rb.state.batch]).toEqual([true, 1, 5]);
    const c = cnn3([1, 8, 8], 3, { seed: 1 });
    const rc = await trainSgd(c, train, options({ prefetch: 0, resume: rb.state }));
    expect(rc.aborted).toBe(false);
    expect(c.getParameters()).toEqual(straight.getParameters());
    expect(rc.state.optimizer.velocity).toEqual(r0.state.optimizer.velocity);
    for (const m of [straight, plain, b, c]) m.dispose();
  });

  test('bad augment options are refused, naming the option', async () => {
    const m = cnn3([1, 8, 8], 3, { seed: 3 });
    await expect(trainSgd(m, train, options({ augment: 'flip' as 'crop-flip' }))).rejects.toThrow(/trainSgd: options.augment must be 'crop-flip' or an object/);
    await expect(trainSgd(m, train, options({ augment: { crop: { size: 6, padding: 0 } } }))).rejects.toThrow(/trainSgd: options.augment.crop.size must be the images' size 8×8/);
    await expect(trainSgd(m, train, options({ prefetch: 1.5 }))).rejects.toThrow(/trainSgd: options.prefetch must be an integer/);
    m.dispose();
  });
});
