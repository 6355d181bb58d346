// Batches streamed from fixed-size records on disk (native/core/record_batch.h, note [record
// batches]): recordBatch / recordBatchAsync on small files written here, in the layouts of
//   - CIFAR-10 (records of 1 label byte + 3072 image bytes, two files),
//   - CIFAR-100 (2 label bytes + 3072),
//   - IDX images (a 16-byte header, then 28×28 one-channel records) split across files with
//     headers, one of them holding no record,
//   - a MATLAB column-major H×W×C array ('hwc-columns', SVHN's .mat), after a header, with
//     bytes between the records;
// against augmentBatch (native/core/augment.h, itself checked against a JS reference in
// data.loader.test.ts) on the same images held in memory as float32: the bits must be equal,
// with and without crop / flip / normalisation, for several seeds and epochs, with 1 and 2
// threads, sync and async. Every bad call is refused by name (the op, the field or the file)
// before anything is written, and no file descriptor is left open.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { getNumThreads, setNumThreads } from '../lib';
import { native, type NativeAugmentOptions, type NativeRecordSource } from '../lib/native';

let dir = '';
let seedState = 12345;
/** Deterministic bytes (an LCG's top bits). */
function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    seedState = (Math.imul(seedState, 1103515245) + 12345) >>> 0;
    b[i] = seedState >>> 24;
  }
  return b;
}
function write(name: string, bytes: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** A data set on disk and the same images in memory (CHW float32 0..255) with their labels. */
interface Fixture {
  source: NativeRecordSource;
  shape: [number, number, number];
  classes: number;
  images: Float32Array;
  labels: Int32Array;
}

/**
 * Writes `perFile[k]` records per file, each `before` bytes (the label bytes, label in the
 * last of them), the image, then `after` bytes, after a `header` of bytes; `hwc` stores each
 * image column-major H×W×C. Returns the source and the images as the readers would hold them.
 */
function makeFixture(name: string, shape: [number, number, number], classes: number, perFile: number[], o: { header?: number; before?: number; after?: number; hwc?: boolean } = {}): Fixture {
  const [C, H, W] = shape;
  const header = o.header ?? 0, before = o.before ?? 0, after = o.after ?? 0, size = C * H * W;
  const recordBytes = before + size + after;
  const total = perFile.reduce((a, b) => a + b, 0);
  const images = new Float32Array(total * size);
  const labels = new Int32Array(total);
  const files: string[] = [];
  let j = 0;
  perFile.forEach((count, k) => {
    const bytes = Buffer.concat([randomBytes(header), randomBytes(count * recordBytes)]);
    for (let r = 0; r < count; r++, j++) {
      const rec = header + r * recordBytes;
      labels[j] = (j * 7 + 3) % classes;
      if (before > 0) bytes[rec + before - 1] = labels[j];
      for (let c = 0; c < C; c++) {
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            // byte (y, x, c) at c·H·W + x·H + y in 'hwc-columns'
            const at = o.hwc ? c * H * W + x * H + y : (c * H + y) * W + x;
            images[j * size + (c * H + y) * W + x] = bytes[rec + before + at];
          }
        }
      }
    }
    files.push(write(`${name}-${k}.bin`, bytes));
  });
  return {
    source: { files, offsets: perFile.map(() => header), counts: perFile, recordBytes, imageOffset: before, layout: o.hwc ? 'hwc-columns' : 'chw' },
    shape, classes, images, labels,
  };
}

let cifar10: Fixture, cifar100: Fixture, idx: Fixture, hwc: Fixture;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-records-'));
  cifar10 = makeFixture('cifar10', [3, 32, 32], 10, [23, 17], { before: 1 });
  cifar100 = makeFixture('cifar100', [3, 32, 32], 100, [29], { before: 2 });
  idx = makeFixture('idx', [1, 28, 28], 10, [13, 0, 11], { header: 16 });
  hwc = makeFixture('hwc', [3, 5, 7], 4, [31], { header: 128, after: 3, hwc: true });
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** null when a and b hold the same bits, else the first element that differs (fast on large arrays). */
function difference(a: Float32Array | Int32Array, b: Float32Array | Int32Array): null | { length: [number, number] } | { index: number; got: number; want: number } {
  if (a.length !== b.length) return { length: [a.length, b.length] };
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) return null;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let i = 0;
  while (ua[i] === ub[i]) i++;
  return { index: i, got: a[i], want: b[i] };
}

interface Outputs {
  x: Float32Array;
  y: Float32Array;
  l: Int32Array;
}
function outputs(f: Fixture, count: number, o: NativeAugmentOptions, fill = 0): Outputs {
  const [C, H, W] = f.shape;
  const [h, w] = o.crop?.size ?? [H, W];
  return { x: new Float32Array(count * C * h * w).fill(fill), y: new Float32Array(count * f.classes).fill(fill), l: new Int32Array(count).fill(fill) };
}
function options(f: Fixture, start: number, extra: Partial<NativeAugmentOptions> = {}): NativeAugmentOptions {
  return { shape: [...f.shape], classes: f.classes, start, seed: 0, epoch: 0, ...extra };
}
/** A permutation of the data set's indices (a repeat included), as a loader's epoch order. */
function orderOf(f: Fixture, count: number, step: number): Int32Array {
  const n = f.labels.length;
  const o = Int32Array.from({ length: count }, (_, i) => (i * step + 5) % n);
  o[count - 1] = o[0];
  return o;
}
function fromMemory(f: Fixture, order: Int32Array, o: NativeAugmentOptions): Outputs {
  const out = outputs(f, order.length, o);
  native().augmentBatch(f.images, f.labels, order, o, out.x, out.y, out.l);
  return out;
}
function fromRecords(f: Fixture, order: Int32Array, o: NativeAugmentOptions): Outputs {
  const out = outputs(f, order.length, o);
  native().recordBatch(f.source, f.labels, order, o, out.x, out.y, out.l);
  return out;
}
function expectSame(a: Outputs, b: Outputs, what = ''): void {
  expect([what, difference(a.x, b.x), difference(a.y, b.y), difference(a.l, b.l)]).toEqual([what, null, null, null]);
}

const fixtureNames: [string, () => Fixture][] = [['CIFAR-10 (2 files)', () => cifar10], ['CIFAR-100', () => cifar100], ['IDX (3 files, one empty)', () => idx], ['hwc-columns', () => hwc]];
const augmentations = (f: Fixture): [string, Partial<NativeAugmentOptions>][] => {
  const [C, H, W] = f.shape;
  const mean = Float32Array.from({ length: C }, (_, c) => 120.5 + 3 * c), std = Float32Array.from({ length: C }, (_, c) => 60 + 0.3 * c);
  return [
    ['plain', {}],
    ['crop + flip + normalise', { crop: { size: [H, W], padding: 4 }, flip: true, mean, std }],
    ['smaller crop, no padding', { crop: { size: [H - 2, W - 3], padding: 0 } }],
    ['flip only', { flip: true }],
    ['normalise only', { mean, std }],
  ];
};

describe('recordBatch against augmentBatch on the same images in memory', () => {
  test('the in-memory copies hold what the files hold (spot checks of the layouts)', () => {
    const raw = fs.readFileSync(cifar10.source.files[1]);
    // record 23 of the data set is record 0 of the second file: label byte, then the red plane
    expect([raw[0], raw[1], raw[2 + 32]]).toEqual([cifar10.labels[23], cifar10.images[23 * 3072], cifar10.images[23 * 3072 + 33]]);
    const m = fs.readFileSync(hwc.source.files[0]);
    // image 2, pixel (y 1, x 3, channel 2) of a 5×7×3 column-major array at 2·35 + 3·5 + 1
    expect(m[128 + 2 * (105 + 3) + 2 * 35 + 3 * 5 + 1]).toBe(hwc.images[2 * 105 + (2 * 5 + 1) * 7 + 3]);
  });

  test.each(fixtureNames)('%s: bit-identical for every augmentation, several seeds and epochs', (_name, fixture) => {
    const f = fixture();
    for (const [what, extra] of augmentations(f)) {
      for (const [seed, epoch] of [[0, 0], [7, 3], [2 ** 40 + 11, 2 ** 32 - 1]]) {
        const order = orderOf(f, Math.min(f.labels.length, 19), 7);
        const o = options(f, 3 + epoch % 5, { ...extra, seed, epoch });
        const r = fromRecords(f, order, o);
        expectSame(r, fromMemory(f, order, o), `${what}, seed ${seed}, epoch ${epoch}`);
        for (let i = 0; i < order.length; i++) {
          expect(r.l[i]).toBe(f.labels[order[i]]);
          expect(r.y[i * f.classes + f.labels[order[i]]]).toBe(1);
        }
      }
    }
  });

  test('without augmentation a row is the record’s bytes as floats', () => {
    const order = Int32Array.of(39, 0, 23, 22);
    const r = fromRecords(cifar10, order, options(cifar10, 0));
    for (let i = 0; i < order.length; i++) {
      expect(difference(r.x.subarray(i * 3072, (i + 1) * 3072), cifar10.images.subarray(order[i] * 3072, (order[i] + 1) * 3072))).toBeNull();
    }
    // record 39 is the last of the second file: its last byte is the file's last byte
    const raw = fs.readFileSync(cifar10.source.files[1]);
    expect(r.x[3071]).toBe(raw[raw.length - 1]);
  });

  test('the same bits for 1 and 2 threads; async equals sync; a whole epoch in batches', async () => {
    const threads = getNumThreads();
    try {
      for (const f of [cifar10, idx, hwc]) {
        const [, H, W] = f.shape;
        const o = options(f, 0, { seed: 99, epoch: 4, crop: { size: [H, W], padding: 2 }, flip: true });
        const order = orderOf(f, f.labels.length, 5);
        setNumThreads(1);
        const one = fromRecords(f, order, o);
        setNumThreads(2);
        const two = fromRecords(f, order, o);
        expectSame(two, one);
        const a = outputs(f, order.length, o);
        await expect(native().recordBatchAsync(f.source, f.labels, order, o, a.x, a.y, a.l)).resolves.toBeUndefined();
        expectSame(a, one);
        // the epoch in batches of 8 (positions start, start + 8, ...) gives the same rows
        const rows = f.shape[0] * H * W;
        for (let start = 0; start < order.length; start += 8) {
          const part = order.subarray(start, start + 8);
          const b = outputs(f, part.length, o);
          await native().recordBatchAsync(f.source, f.labels, part, { ...o, start }, b.x, b.y, b.l);
          expect(difference(b.x, one.x.subarray(start * rows, (start + part.length) * rows))).toBeNull();
        }
        expectSame(one, fromMemory(f, order, o));
      }
    } finally {
      setNumThreads(threads);
    }
  });

  test('an empty batch writes nothing and succeeds', async () => {
    const o = options(idx, 0);
    native().recordBatch(idx.source, idx.labels, new Int32Array(0), o, new Float32Array(0), new Float32Array(0), new Int32Array(0));
    await expect(native().recordBatchAsync(idx.source, idx.labels, new Int32Array(0), o, new Float32Array(0), new Float32Array(0), new Int32Array(0))).resolves.toBeUndefined();
  });
});

describe('recordBatch refuses a bad call by name, before writing anything', () => {
  /** [constructor name, message] of what the call throws, or ['', ''] when it does not. */
  const thrown = (call: () => unknown): [string, string] => {
    try {
      call();
    } catch (e) {
      return [(e as Error).constructor.name, (e as Error).message];
    }
    return ['', ''];
  };
  const rejection = async (call: () => Promise<unknown>): Promise<[string, string]> => {
    try {
      await call();
    } catch (e) {
      return [(e as Error).constructor.name, (e as Error).message];
    }
    return ['', ''];
  };
  const order = Int32Array.of(0, 30, 24, 3);

  test('missing, unreadable and too short files, naming the file and the sizes', async () => {
    const f = cifar10;
    const o = options(f, 0, { flip: true });
    const out = outputs(f, order.length, o, 5);
    const untouched = () => out.x.every((v) => v === 5) && out.y.every((v) => v === 5) && out.l.every((v) => v === 5);
    const missing = path.join(dir, 'nope.bin');
    const call = (source: NativeRecordSource) => () => native().recordBatch(source, f.labels, order, o, out.x, out.y, out.l);
    expect(thrown(call({ ...f.source, files: [f.source.files[0], missing] }))).toEqual(['Error', `recordBatch: ${missing}: cannot open (No such file or directory)`]);
    expect(thrown(call({ ...f.source, files: [dir, f.source.files[1]] }))).toEqual(['Error', `recordBatch: ${dir}: is a directory, not a file of records`]);
    // the second file lost its last byte: 17 records of 3073 bytes need 52241
    const short = write('cifar10-short.bin', fs.readFileSync(f.source.files[1]).subarray(0, 17 * 3073 - 1));
    expect(thrown(call({ ...f.source, files: [f.source.files[0], short] }))).toEqual([
      'RangeError', `recordBatch: ${short}: the file has 52240 bytes but needs 52241 (source.offsets[1] + source.counts[1]·source.recordBytes = 0 + 17·3073)`,
    ]);
    // an offset past the headers that are there
    expect(thrown(call({ ...f.source, offsets: [0, 100] }))).toEqual([
      'RangeError', `recordBatch: ${f.source.files[1]}: the file has 52241 bytes but needs 52341 (source.offsets[1] + source.counts[1]·source.recordBytes = 100 + 17·3073)`,
    ]);
    // a file too short is refused even when the batch reads none of its records
    expect(thrown(() => native().recordBatch({ ...f.source, files: [f.source.files[0], short] }, f.labels, Int32Array.of(0), o, out.x.subarray(0, 3072), out.y.subarray(0, 10), out.l.subarray(0, 1)))[1]).toMatch(/the file has 52240 bytes but needs 52241/);
    expect(untouched()).toBe(true);
    expect(await rejection(() => native().recordBatchAsync({ ...f.source, files: [missing, f.source.files[1]] }, f.labels, order, o, out.x, out.y, out.l))).toEqual([
      'Error', `recordBatchAsync: ${missing}: cannot open (No such file or directory)`,
    ]);
    expect(await rejection(() => native().recordBatchAsync({ ...f.source, files: [f.source.files[0], short] }, f.labels, order, o, out.x, out.y, out.l))).toEqual([
      'RangeError', `recordBatchAsync: ${short}: the file has 52240 bytes but needs 52241 (source.offsets[1] + source.counts[1]·source.recordBytes = 0 + 17·3073)`,
    ]);
    expect(untouched()).toBe(true);
  });

  test('bad source fields, order and labels: TypeError / RangeError naming the field', async () => {
    const f = cifar10;
    const o = options(f, 0);
    const out = outputs(f, order.length, o, 5);
    const s = f.source;
    const cases: [string, unknown, Int32Array, Int32Array, string, string][] = [
      ['source null', null, f.labels, order, 'TypeError', 'recordBatch: source must be an object { files, offsets, counts, recordBytes, imageOffset, layout }, got null'],
      ['files a string', { ...s, files: s.files[0] }, f.labels, order, 'TypeError', 'recordBatch: source.files must be an array of strings, got string'],
      ['files[1] a number', { ...s, files: [s.files[0], 3] }, f.labels, order, 'TypeError', 'recordBatch: source.files[1] must be a string, got number'],
      ['offsets missing', { ...s, offsets: undefined }, f.labels, order, 'TypeError', 'recordBatch: source.offsets must be an array of non-negative integers, got undefined'],
      ['offsets[0] = 1.5', { ...s, offsets: [1.5, 0] }, f.labels, order, 'RangeError', 'recordBatch: source.offsets[0] must be a non-negative safe integer, got 1.5'],
      ['counts[1] = -1', { ...s, counts: [23, -1] }, f.labels, order, 'RangeError', 'recordBatch: source.counts[1] must be a non-negative safe integer, got -1'],
      ['counts[0] a string', { ...s, counts: ['23', 17] }, f.labels, order, 'TypeError', 'recordBatch: source.counts[0] must be a number, got string'],
      ['lengths differ', { ...s, offsets: [0] }, f.labels, order, 'RangeError', 'recordBatch: source.files, source.offsets and source.counts must have one entry per file (at least one), got 2, 1 and 2'],
      ['no file', { ...s, files: [], offsets: [], counts: [] }, f.labels, order, 'RangeError', 'recordBatch: source.files, source.offsets and source.counts must have one entry per file (at least one), got 0, 0 and 0'],
      ['recordBytes too small', { ...s, recordBytes: 3072 }, f.labels, order, 'RangeError', 'recordBatch: source.recordBytes must be at least source.imageOffset + C·H·W = 1 + 3072 = 3073 (and below 2^53), got 3072'],
      ['imageOffset too large', { ...s, imageOffset: 2 }, f.labels, order, 'RangeError', 'recordBatch: source.recordBytes must be at least source.imageOffset + C·H·W = 2 + 3072 = 3074 (and below 2^53), got 3073'],
      ['recordBytes missing', { ...s, recordBytes: undefined }, f.labels, order, 'TypeError', 'recordBatch: source.recordBytes must be a number, got undefined'],
      ['layout hwc', { ...s, layout: 'hwc' }, f.labels, order, 'RangeError', "recordBatch: source.layout must be 'chw' or 'hwc-columns', got 'hwc'"],
      ['layout a number', { ...s, layout: 1 }, f.labels, order, 'TypeError', "recordBatch: source.layout must be 'chw' or 'hwc-columns', got number"],
      ['counts past 2^53 bytes', { ...s, counts: [23, 2 ** 52] }, f.labels, order, 'RangeError', 'recordBatch: source.counts[1] = 4503599627370496 records of 3073 bytes from byte 0 would end past 2^53 bytes'],
      ['counts ≠ labels', { ...s, counts: [23, 16] }, f.labels, order, 'RangeError', 'recordBatch: source.counts add up to 39 records but labels has 40 values'],
      ['labels ≠ counts', s, f.labels.subarray(0, 39), order, 'RangeError', 'recordBatch: source.counts add up to 40 records but labels has 39 values'],
      ['order out of range', s, f.labels, Int32Array.of(0, 40, 1, 2), 'RangeError', 'recordBatch: order[1] = 40 is outside [0, 40)'],
      ['order negative', s, f.labels, Int32Array.of(0, 1, 2, -1), 'RangeError', 'recordBatch: order[3] = -1 is outside [0, 40)'],
      ['label out of range', s, Int32Array.from(f.labels, (v, i) => (i === 30 ? 10 : v)), order, 'RangeError', 'recordBatch: label 10 of example 30 is outside [0, 10)'],
      ['label negative', s, Int32Array.from(f.labels, (v, i) => (i === 3 ? -2 : v)), order, 'RangeError', 'recordBatch: label -2 of example 3 is outside [0, 10)'],
      ['labels a Float32Array', s, new Float32Array(40) as unknown as Int32Array, order, 'TypeError', 'recordBatch: labels must be a Int32Array, got float32 data'],
    ];
    for (const [what, source, labels, ord, type, message] of cases) {
      expect([what, ...thrown(() => native().recordBatch(source as NativeRecordSource, labels, ord, o, out.x, out.y, out.l))]).toEqual([what, type, message]);
    }
    // the options and outputs are read as augmentBatch reads them
    const call = (opt: NativeAugmentOptions, x = out.x) => () => native().recordBatch(s, f.labels, order, opt, x, out.y, out.l);
    expect(thrown(call(o, out.x.subarray(1)))).toEqual(['RangeError', 'recordBatch: x has 12287 values but 4 images of 3×32×32 need 12288']);
    expect(thrown(call({ ...o, shape: [3, 32, 31] }))).toEqual(['RangeError', 'recordBatch: x has 12288 values but 4 images of 3×32×31 need 11904']);
    expect(thrown(call({ ...o, crop: { size: [40, 40], padding: 2 } }))[1]).toMatch(/^recordBatch: crop.size 40×40 is larger than the padded image 36×36/);
    expect(thrown(call({ ...o, mean: Float32Array.of(0, 0, 0), std: Float32Array.of(1, 0, 1) }))[1]).toMatch(/^recordBatch: normalize.std\[1\] must be positive and finite, got 0/);
    expect(thrown(call({ ...o, epoch: 2 ** 32 }))).toEqual(['RangeError', 'recordBatch: epoch must be below 2^32, got 4294967296']);
    expect(out.x.every((v) => v === 5) && out.y.every((v) => v === 5) && out.l.every((v) => v === 5)).toBe(true);

    // the async variant rejects (never throws) with the same errors, naming itself
    for (const [what, source, labels, ord, type, message] of cases) {
      const asyncMessage = message.replace(/^recordBatch:/, 'recordBatchAsync:');
      expect([what, ...(await rejection(() => native().recordBatchAsync(source as NativeRecordSource, labels, ord, o, out.x, out.y, out.l)))]).toEqual([what, type, asyncMessage]);
    }
    expect(out.x.every((v) => v === 5) && out.y.every((v) => v === 5) && out.l.every((v) => v === 5)).toBe(true);
  });

  test('no file descriptor is left open, after batches that worked or failed', async () => {
    if (!fs.existsSync('/proc/self/fd')) return; // Linux only
    const open = () => fs.readdirSync('/proc/self/fd').length;
    const f = cifar10, o = options(f, 0);
    fromRecords(f, order, o); // warm up whatever the first call opens once
    const before = open();
    const out = outputs(f, order.length, o);
    for (let i = 0; i < 50; i++) {
      native().recordBatch(f.source, f.labels, order, o, out.x, out.y, out.l);
      await native().recordBatchAsync(f.source, f.labels, order, o, out.x, out.y, out.l);
      expect(() => native().recordBatch({ ...f.source, files: [f.source.files[0], path.join(dir, 'nope.bin')] }, f.labels, order, o, out.x, out.y, out.l)).toThrow(/cannot open/);
      expect(() => native().recordBatch({ ...f.source, offsets: [0, 1] }, f.labels, order, o, out.x, out.y, out.l)).toThrow(/needs 52242/);
    }
    expect(open()).toBe(before);
  });
});
