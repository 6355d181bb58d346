// SVHN .mat files streamed from disk (lib/data/svhn-records.ts): compressed (-v7) and uncompressed
// (-v6) files, one or several, open as record sets whose batches — through gatherBatch, through
// the loader with crop-flip, with the paper's preprocessing — equal readSvhn's on the same files
// bit for bit; a compressed X is inflated once into a cache file that is reused, and made again
// when the .mat file changes; every malformed file is a DataFileError naming it, and leaves no
// cache file behind.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import {
  DataFileError,
  DataLoader,
  defaultSvhnCacheDir,
  gatherBatch,
  loadDataset,
  openRecordDirectory,
  openSvhnRecords,
  paperPreprocess,
  paperPreprocessRecords,
  readSvhn,
  SVHN_CLASSES,
  type AnyDataset,
} from '../lib/data';
import { main } from '../lib/cli';
import { fakeIo } from './cli.helpers';
import { prng } from './helpers';
import { batchValues, makeTempDir, matElement, matFile, matHeader, matMatrix, re, removeDir, svhnMat, writeFile } from './data.fixtures';

let dir: string;
let caches = 0;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => removeDir(dir));

/** A fresh cache folder (not made yet) inside the test directory. */
function freshCache(): string {
  return path.join(dir, `cache-${caches++}`);
}

/** The files in a cache folder ([] when it was never made). */
function cacheFiles(cache: string): string[] {
  return fs.existsSync(cache) ? fs.readdirSync(cache).sort() : [];
}

const all = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

/** A seeded permutation of 0..n−1. */
function shuffled(n: number, seed: number): Int32Array {
  const r = prng(seed);
  const a = all(n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Labels 1..10 for n images, starting at `from`. */
function svhnLabels(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => ((from + i * 7) % 10) + 1);
}

/** A miCOMPRESSED element (15) holding `data` deflated. */
function compressedElement(data: Buffer): Buffer {
  const z = zlib.deflateSync(data);
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(15, 0);
  tag.writeUInt32LE(z.length, 4);
  return Buffer.concat([tag, z]);
}

/** The y variable of svhnMat for `labels`, as a miMATRIX element. */
function yMatrix(labels: readonly number[]): Buffer {
  return matMatrix({ name: 'y', classId: 6, dims: [labels.length, 1], type: 9, values: labels });
}

/** X [32×32×3×n] of seeded random bytes (which deflate cannot shrink) as a miMATRIX element. */
function randomX(n: number, seed: number): Buffer {
  const r = prng(seed);
  const values = Uint8Array.from({ length: 32 * 32 * 3 * n }, () => Math.floor(r() * 256));
  return matMatrix({ name: 'X', classId: 9, dims: [32, 32, 3, n], type: 2, values });
}

/** Asserts that openSvhnRecords(files) rejects with a DataFileError for `file` whose message starts `openSvhnRecords: ${file}: ` and matches `problem`. */
async function expectOpenError(files: readonly string[], file: string, problem: RegExp, cacheDir = freshCache()): Promise<void> {
  const caught = await openSvhnRecords(files, { cacheDir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(caught).toBeInstanceOf(DataFileError);
  const err = caught as DataFileError;
  expect(err.path).toBe(file);
  expect(err.message).toMatch(new RegExp(`^openSvhnRecords: ${re(file)}: `));
  expect(err.message).toMatch(problem);
}

describe('openSvhnRecords gives the batches of readSvhn', () => {
  let packed: string; // compressed, 37 images
  let plain: string; // uncompressed, 29 images, other pixels
  beforeAll(() => {
    packed = writeFile(dir, 'packed.mat', svhnMat(svhnLabels(37), { compressed: true }));
    plain = writeFile(dir, 'plain.mat', svhnMat(svhnLabels(29, 3), { first: 37, yType: 2 }));
  });

  test.each([
    ['one compressed file', ['packed']],
    ['one uncompressed file', ['plain']],
    ['a compressed and an uncompressed file', ['packed', 'plain']],
    ['an uncompressed and a compressed file', ['plain', 'packed']],
  ])('%s: gatherBatch bit for bit, in any order, across files', async (_, which) => {
    const files = which.map((w) => (w === 'packed' ? packed : plain));
    const cache = freshCache();
    const rec = await openSvhnRecords(files, { cacheDir: cache });
    const mem = readSvhn(files);
    expect(rec.kind).toBe('records');
    expect(rec.name).toBe(files[0]);
    expect(rec.shape).toEqual([3, 32, 32]);
    expect(rec.classes).toBe(10);
    expect(rec.length).toBe(mem.length);
    expect(Array.from(rec.labels)).toEqual(Array.from(mem.labels));
    // one source entry per file: the .mat itself where X is stored plainly, its inflated copy where compressed
    expect(rec.source.layout).toBe('hwc-columns');
    expect(rec.source.recordBytes).toBe(3072);
    expect(rec.source.imageOffset).toBe(0);
    expect(rec.source.counts).toEqual(files.map((f) => (f === packed ? 37 : 29)));
    files.forEach((f, k) => {
      if (f === plain) {
        expect(rec.source.files[k]).toBe(path.resolve(plain));
        expect(rec.source.offsets[k]).toBeGreaterThan(128);
      } else {
        expect(path.dirname(rec.source.files[k])).toBe(cache);
        expect(rec.source.offsets[k]).toBe(0);
        expect(fs.statSync(rec.source.files[k]).size).toBe(37 * 3072);
      }
    });
    const k = rec.source.counts[0]; // the first image of the second file, if any
    for (const order of [all(rec.length), shuffled(rec.length, 3), Int32Array.from([rec.length - 1, 0, k - 1, Math.min(k, rec.length - 1), 5])]) {
      expect(batchValues(rec, order)).toEqual(batchValues(mem, order));
    }
  });

  test('a DataLoader epoch with crop-flip, and the paper preprocessing, equal the data in memory', async () => {
    const files = [packed, plain];
    const rec = await openSvhnRecords(files, { cacheDir: freshCache() });
    const mem = readSvhn(files);
    const streamed = new DataLoader(rec, { batchSize: 16, seed: 5, augment: 'crop-flip' });
    const held = new DataLoader(mem, { batchSize: 16, seed: 5, augment: { crop: { size: 32, padding: 4 }, flip: true } });
    for (const epoch of [0, 2]) {
      const a: number[] = [];
      const b: number[] = [];
      const la: number[] = [];
      const lb: number[] = [];
      for await (const batch of streamed.epoch(epoch)) {
        for (const v of batch.x.toArray()) a.push(v);
        la.push(...batch.labels);
        batch.x.dispose();
        batch.y.dispose();
      }
      for await (const batch of held.epoch(epoch)) {
        for (const v of batch.x.toArray()) b.push(v);
        lb.push(...batch.labels);
        batch.x.dispose();
        batch.y.dispose();
      }
      expect(a.length).toBe(66 * 3072);
      expect(a).toEqual(b);
      expect(la).toEqual(lb);
    }
    const testFile = writeFile(dir, 'paper-test.mat', svhnMat(svhnLabels(5), { first: 80 }));
    const p = await paperPreprocessRecords(rec, await openSvhnRecords([testFile]));
    const q = paperPreprocess(mem, readSvhn([testFile]));
    expect(Array.from(p.mean)).toEqual(Array.from(q.mean));
    expect(batchValues(p.train, shuffled(66, 9))).toEqual(batchValues(q.train, shuffled(66, 9)));
    expect(batchValues(p.test, all(5))).toEqual(batchValues(q.test, all(5)));
  }, 60_000);

  test('other image sizes, a single image saved as X [H×W×C], other variables skipped, the name option', async () => {
    const a = writeFile(dir, 'small-a.mat', svhnMat([2, 10, 4], { size: 4, compressed: true }));
    const b = writeFile(dir, 'small-b.mat', svhnMat([7], { size: 4, xDims: [4, 4, 3], first: 9 }));
    const note = matMatrix({ name: 'note', classId: 4, dims: [1, 2], type: 4, values: [104, 105] });
    const extra = matMatrix({ name: 'scale', classId: 6, dims: [1, 1], type: 9, values: [0.5] });
    const c = writeFile(dir, 'small-c.mat', Buffer.concat([svhnMat([5, 6], { size: 4, first: 20 }), note, compressedElement(extra)]));
    const rec = await openSvhnRecords([a, b, c], { name: 'small', cacheDir: freshCache() });
    const mem = readSvhn([a, b, c]);
    expect(rec.name).toBe('small');
    expect(rec.shape).toEqual([3, 4, 4]);
    expect(Array.from(rec.labels)).toEqual([2, 0, 4, 7, 5, 6]);
    expect(batchValues(rec, shuffled(6, 1))).toEqual(batchValues(mem, shuffled(6, 1)));
  });

  test('big-endian files', async () => {
    // A big-endian MAT file: the header's indicator "MI", every tag and number big-endian.
    const be = (type: number, data: Buffer): Buffer => {
      const el = Buffer.alloc(8 + data.length + ((8 - (data.length % 8)) % 8));
      el.writeUInt32BE(type, 0);
      el.writeUInt32BE(data.length, 4);
      data.copy(el, 8);
      return el;
    };
    const int32s = (v: number[]): Buffer => Buffer.concat(v.map((d) => Buffer.from(Uint8Array.of(d >>> 24, (d >>> 16) & 255, (d >>> 8) & 255, d & 255))));
    const matrix = (name: string, classId: number, dims: number[], type: number, data: Buffer): Buffer =>
      be(14, Buffer.concat([be(6, int32s([classId, 0])), be(5, int32s(dims)), be(1, Buffer.from(name, 'latin1')), be(type, data)]));
    const x = Buffer.alloc(2 * 2 * 3 * 2);
    for (let i = 0; i < x.length; i++) x[i] = (i * 37) % 256;
    const y = Buffer.alloc(16);
    y.writeDoubleBE(3, 0);
    y.writeDoubleBE(10, 8);
    const header = matHeader();
    header.writeUInt16BE(0x0100, 124);
    header.write('MI', 126, 'latin1');
    const xm = matrix('X', 9, [2, 2, 3, 2], 2, x);
    const ym = matrix('y', 6, [2, 1], 9, y);
    const packed = (m: Buffer): Buffer => {
      const z = zlib.deflateSync(m);
      return Buffer.concat([Buffer.from(int32s([15, z.length])), z]);
    };
    for (const compressed of [false, true]) {
      const file = writeFile(dir, `be-${compressed}.mat`, Buffer.concat([header, compressed ? packed(xm) : xm, compressed ? packed(ym) : ym]));
      const rec = await openSvhnRecords([file], { cacheDir: freshCache() });
      expect(Array.from(rec.labels)).toEqual([3, 0]);
      expect(batchValues(rec, all(2))).toEqual(batchValues(readSvhn([file]), all(2)));
    }
  });
});

describe('the cache of a compressed X', () => {
  test('is reused while the .mat file is unchanged, made again (and the old copy removed) when it changes', async () => {
    const file = writeFile(dir, 'cached.mat', svhnMat(svhnLabels(12), { compressed: true }));
    const cache = freshCache();
    const first = await openSvhnRecords([file], { cacheDir: cache });
    const cached = first.source.files[0];
    expect(cacheFiles(cache)).toEqual([path.basename(cached)]);
    expect(path.basename(cached)).toMatch(/^cached\.mat\.[0-9a-f]{16}\.\d+\.\d+\.X\.u8$/);
    const before = fs.statSync(cached);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await openSvhnRecords([file], { cacheDir: cache });
    expect(second.source.files[0]).toBe(cached);
    const after = fs.statSync(cached);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.ino).toBe(before.ino);
    expect(batchValues(second, all(12))).toEqual(batchValues(readSvhn([file]), all(12)));

    // Same size, other pixels and labels, a later modification time: inflated again.
    fs.writeFileSync(file, svhnMat(svhnLabels(12, 4), { compressed: true, first: 50 }));
    const later = new Date(Date.now() + 10_000);
    fs.utimesSync(file, later, later);
    const third = await openSvhnRecords([file], { cacheDir: cache });
    expect(third.source.files[0]).not.toBe(cached);
    expect(cacheFiles(cache)).toEqual([path.basename(third.source.files[0])]);
    expect(batchValues(third, all(12))).toEqual(batchValues(readSvhn([file]), all(12)));

    // A cache file of the wrong size (cut short) is made again.
    fs.truncateSync(third.source.files[0], 100);
    const fourth = await openSvhnRecords([file], { cacheDir: cache });
    expect(fs.statSync(fourth.source.files[0]).size).toBe(12 * 3072);
    expect(batchValues(fourth, all(12))).toEqual(batchValues(readSvhn([file]), all(12)));
  });

  test('two files of the same name in different folders have their own copies; the default folder is in the temporary folder', async () => {
    fs.mkdirSync(path.join(dir, 'one'));
    fs.mkdirSync(path.join(dir, 'two'));
    const a = writeFile(path.join(dir, 'one'), 'train_32x32.mat', svhnMat(svhnLabels(3), { compressed: true }));
    const b = writeFile(path.join(dir, 'two'), 'train_32x32.mat', svhnMat(svhnLabels(3), { compressed: true, first: 7 }));
    const cache = freshCache();
    const rec = await openSvhnRecords([a, b], { cacheDir: cache });
    expect(rec.source.files[0]).not.toBe(rec.source.files[1]);
    expect(cacheFiles(cache)).toHaveLength(2);
    expect(batchValues(rec, all(6))).toEqual(batchValues(readSvhn([a, b]), all(6)));

    expect(defaultSvhnCacheDir()).toBe(path.join(os.tmpdir(), 'newton-cnn-cache'));
    const made = !fs.existsSync(defaultSvhnCacheDir());
    const d = await openSvhnRecords([a]);
    try {
      expect(path.dirname(d.source.files[0])).toBe(defaultSvhnCacheDir());
      expect(batchValues(d, all(3))).toEqual(batchValues(readSvhn([a]), all(3)));
    } finally {
      fs.rmSync(d.source.files[0], { force: true });
      if (made && fs.readdirSync(defaultSvhnCacheDir()).length === 0) fs.rmdirSync(defaultSvhnCacheDir());
    }
  });
});

describe('openRecordDirectory on an SVHN directory', () => {
  let svhn: string;
  beforeAll(() => {
    svhn = path.join(dir, 'svhn');
    fs.mkdirSync(svhn);
    writeFile(svhn, 'train_32x32.mat', svhnMat(svhnLabels(20), { compressed: true }));
    writeFile(svhn, 'extra_32x32.mat', svhnMat([10, 10, 10], { compressed: true, first: 20 }));
    writeFile(svhn, 'test_32x32.mat', svhnMat([10, 1, 2, 3, 4], { first: 30 }));
  });

  test('train and test sets, extra_32x32.mat with svhnExtra, the digits as class names', async () => {
    const cache = freshCache();
    const d = await openRecordDirectory(svhn, { cacheDir: cache });
    expect(d.train.length).toBe(20);
    expect(d.test.length).toBe(5);
    expect(d.train.name).toBe('svhn/train');
    expect(d.classNames).toEqual(SVHN_CLASSES);
    expect(Array.from(d.test.labels)).toEqual([0, 1, 2, 3, 4]);
    const e = await openRecordDirectory(svhn, { cacheDir: cache, svhnExtra: true });
    const mem = await loadDataset(svhn, { svhnExtra: true });
    expect(e.train.length).toBe(23);
    expect(e.train.source.files).toHaveLength(2);
    expect(batchValues(e.train, shuffled(23, 2))).toEqual(batchValues(mem.train, shuffled(23, 2)));
    expect(batchValues(e.test, all(5))).toEqual(batchValues(mem.test, all(5)));
    expect(cacheFiles(cache)).toHaveLength(2); // train's copy reused, extra's made
  });

  test('newton-cnn train --stream --svhn-extra trains as the data read into memory do', async () => {
    const cacheDir = defaultSvhnCacheDir();
    const before = new Set(fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []);
    try {
      const run = async (extra: string[]): Promise<{ objective: number; testAccuracy: number; data: { train: number } }> => {
        const f = fakeIo(dir);
        const code = await main(['train', '--data', svhn, '--svhn-extra', '--optimizer', 'sgd', '--epochs', '1', '--batch-size', '8', '--augment', 'crop-flip', '--quiet', '--json', ...extra], f.io);
        expect(f.err.text).toBe('');
        expect(code).toBe(0);
        return JSON.parse(f.out.text);
      };
      const streamed = await run(['--stream']);
      const held = await run([]);
      expect(streamed.data.train).toBe(23);
      expect(streamed.objective).toBe(held.objective);
      expect(streamed.testAccuracy).toBe(held.testAccuracy);
    } finally {
      for (const f of fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []) if (!before.has(f)) fs.rmSync(path.join(cacheDir, f), { force: true });
    }
  }, 60000);

  test('errors: a missing file, options that do not apply', async () => {
    const partial = path.join(dir, 'svhn-partial');
    fs.mkdirSync(partial);
    writeFile(partial, 'train_32x32.mat', svhnMat([1]));
    await expect(openRecordDirectory(partial)).rejects.toThrow(/openRecordDirectory: .*svhn-partial: no test_32x32\.mat \(an SVHN directory holds/);
    await expect(openRecordDirectory(partial, { svhnExtra: true })).rejects.toThrow(/svhn-partial: no extra_32x32\.mat/);
    await expect(openRecordDirectory(svhn, { classes: 11 })).rejects.toThrow(/options.classes is 11 but SVHN has 10 classes/);
    await expect(openRecordDirectory(svhn, { cifarLabels: 'coarse' })).rejects.toThrow(/cifarLabels .* applies to CIFAR-100, and this is an SVHN directory/);
    await expect(openRecordDirectory(dir, { svhnExtra: true })).rejects.toThrow(/svhnExtra \(--svhn-extra\) applies to SVHN directories/);
    await expect(openRecordDirectory(dir)).rejects.toThrow(/streaming reads a CIFAR binary directory .*, an SVHN directory \(train_32x32\.mat, test_32x32\.mat\) or an IDX directory/);
  });
});

describe('malformed files are DataFileErrors naming them, and leave no cache file', () => {
  const LABELS = [1, 10, 5, 3, 10, 9, 2];

  test('a missing file, a directory, a gzipped file, a short or foreign header', async () => {
    const missing = path.join(dir, 'nope.mat');
    await expectOpenError([missing], missing, /file not found/);
    await expectOpenError([dir], dir, /is a directory, expected a file/);
    const gz = writeFile(dir, 'gz.mat', svhnMat(LABELS, { size: 2 }), true);
    await expectOpenError([gz], gz, /is gzip-compressed; streaming reads \.mat files as MATLAB saves them \(gunzip it, or read it into memory with readSvhn\)/);
    const short = writeFile(dir, 'short.mat', svhnMat(LABELS, { size: 2 }).subarray(0, 100));
    await expectOpenError([short], short, /100 bytes, shorter than the 128-byte MAT-file header/);
    const v73 = Buffer.from(svhnMat(LABELS, { size: 2 }));
    v73.write('MATLAB 7.3 MAT-file, Platform: GLNXA64', 0, 'latin1');
    const hdf5 = writeFile(dir, 'v73.mat', v73);
    await expectOpenError([hdf5], hdf5, /MATLAB 7\.3 MAT file \(HDF5\), which is not supported/);
  });

  test('missing X or y', async () => {
    const noY = writeFile(dir, 'noy.mat', matFile([{ name: 'X', classId: 9, dims: [2, 2, 3, 1], type: 2, values: new Uint8Array(12) }], true));
    await expectOpenError([noY], noY, /no numeric variable 'y' \(an SVHN file holds X and y; found 'X'\)/);
    const noX = writeFile(dir, 'nox.mat', Buffer.concat([matHeader(), yMatrix([1, 2])]));
    await expectOpenError([noX], noX, /no numeric variable 'X' \(an SVHN file holds X and y; found 'y'\)/);
    const charX = matMatrix({ name: 'X', classId: 4, dims: [1, 2], type: 4, values: [104, 105] });
    const charFile = writeFile(dir, 'charx.mat', Buffer.concat([matHeader(), compressedElement(charX), yMatrix([1])]));
    await expectOpenError([charFile], charFile, /no numeric variable 'X' \(an SVHN file holds X and y; found 'y'\)/);
  });

  test.each([false, true])('wrong dimensions, a non-uint8 X, a complex X, y of the wrong count (compressed: %p)', async (compressed) => {
    const name = (s: string): string => `${s}-${compressed}.mat`;
    const x2d = writeFile(dir, name('x2d'), svhnMat([1, 2], { size: 2, xDims: [4, 6], compressed }));
    await expectOpenError([x2d], x2d, /X has dimensions \[4×6\], not height×width×channels×images \(e\.g\. 32×32×3×N\)/);
    const empty = writeFile(dir, name('xempty'), matFile([{ name: 'X', classId: 9, dims: [2, 0, 3, 0], type: 2, values: [] }, { name: 'y', classId: 6, dims: [0, 1], type: 9, values: [] }], compressed));
    await expectOpenError([empty], empty, /X has an empty image dimension in \[2×0×3×0\]/);
    const xcount = writeFile(dir, name('xcount'), svhnMat([1, 2], { size: 2, xDims: [2, 2, 3, 3], compressed }));
    await expectOpenError([xcount], xcount, /variable 'X' has dimensions \[2×2×3×3\] = 36 values but its real part holds 24/);
    const double = writeFile(dir, name('xdouble'), matFile([{ name: 'X', classId: 6, dims: [2, 2, 3, 1], type: 9, values: new Float64Array(12) }, { name: 'y', classId: 6, dims: [1, 1], type: 9, values: [1] }], compressed));
    await expectOpenError([double], double, /X \(class double\) is stored as miDOUBLE, not miUINT8: streaming reads images stored as uint8/);
    const complex = writeFile(dir, name('xcomplex'), matFile([{ name: 'X', classId: 9 | 0x800, dims: [2, 2, 3, 1], type: 2, values: new Uint8Array(12) }, { name: 'y', classId: 6, dims: [1, 1], type: 9, values: [1] }], compressed));
    await expectOpenError([complex], complex, /variable 'X' is complex; only real arrays are supported/);
    const ymatrix = writeFile(dir, name('ymatrix'), svhnMat([1, 2, 3, 4], { size: 2, yDims: [2, 2], compressed }));
    await expectOpenError([ymatrix], ymatrix, /y has dimensions \[2×2\] but X holds 4 images \(y must be 4×1\)/);
    const x4 = matMatrix({ name: 'X', classId: 9, dims: [2, 2, 3, 4], type: 2, values: new Uint8Array(48) });
    const y3 = yMatrix([1, 2, 3]);
    const ycount = writeFile(dir, name('ycount'), Buffer.concat([matHeader(), compressed ? compressedElement(x4) : x4, compressed ? compressedElement(y3) : y3]));
    await expectOpenError([ycount], ycount, /y has dimensions \[3×1\] but X holds 4 images \(y must be 4×1\)/);
    const a = writeFile(dir, name('dims-a'), svhnMat([1], { size: 2, compressed }));
    const b = writeFile(dir, name('dims-b'), svhnMat([1], { size: 4, compressed }));
    await expectOpenError([a, b], b, /images are \[3, 4, 4\] \(C, H, W\) but those of .* are \[3, 2, 2\]/);
  });

  test.each([
    [0, 'label 0 of image 1 is not an integer in 1..10'],
    [11, 'label 11 of image 1 is not an integer in 1..10'],
    [2.5, 'label 2.5 of image 1 is not an integer in 1..10'],
  ])('label %p outside 1..10, in a compressed and an uncompressed file', async (bad, message) => {
    for (const compressed of [false, true]) {
      const cache = freshCache();
      const file = writeFile(dir, `label-${bad}-${compressed}.mat`, svhnMat([3, bad, 4], { size: 2, compressed }));
      await expectOpenError([file], file, new RegExp(`${re(message)} \\(10 stands for the digit 0\\)$`), cache);
      expect(cacheFiles(cache)).toEqual([]); // checked before anything is inflated
    }
  });

  test('truncated files: in an element, in a compressed element, compressed data shorter than announced', async () => {
    const plain = svhnMat(LABELS, { size: 4 });
    const cutX = writeFile(dir, 'trunc-x.mat', plain.subarray(0, 300));
    await expectOpenError([cutX], cutX, /truncated: the data element at byte 128 \(type 14\) announces 392 bytes but only 164 follow/);
    const cutY = writeFile(dir, 'trunc-y.mat', plain.subarray(0, plain.length - 20));
    await expectOpenError([cutY], cutY, /truncated: the data element at byte 528 \(type 14\) announces \d+ bytes but only \d+ follow/);
    const cutTag = writeFile(dir, 'trunc-tag.mat', plain.subarray(0, 128 + 5));
    await expectOpenError([cutTag], cutTag, /truncated: 5 bytes at byte 128, too few for a data element tag \(8\)/);
    const packed = svhnMat(LABELS, { size: 4, compressed: true });
    const cutPacked = writeFile(dir, 'trunc-packed.mat', packed.subarray(0, packed.length - 20));
    await expectOpenError([cutPacked], cutPacked, /truncated: the data element at byte \d+ \(type 15\)/);
    // A compressed element whose zlib stream is whole but holds fewer bytes than its tag announces:
    // found in the header (a small X) …
    const m = matMatrix({ name: 'X', classId: 9, dims: [2, 2, 3, 1], type: 2, values: new Uint8Array(12) });
    const shortSmall = writeFile(dir, 'short-small.mat', Buffer.concat([matHeader(), compressedElement(m.subarray(0, m.length - 16)), yMatrix([1])]));
    await expectOpenError([shortSmall], shortSmall, /truncated: compressed data inflates to \d+ bytes but its element tag announces \d+ \(in the compressed element at byte 128\)/);
    // … or while X is copied (a large one): no cache file is left.
    const big = randomX(40, 1);
    const shortBig = writeFile(dir, 'short-big.mat', Buffer.concat([matHeader(), compressedElement(big.subarray(0, big.length - 5000)), yMatrix(svhnLabels(40))]));
    const cache = freshCache();
    await expectOpenError([shortBig], shortBig, /truncated: compressed data inflates to \d+ bytes but its element tag announces \d+ \(in the compressed element at byte 128\)/, cache);
    expect(fs.existsSync(cache)).toBe(true);
    expect(cacheFiles(cache)).toEqual([]);
  });

  test('corrupt zlib data, at the start or further in; no cache file is left, only a temporary that is removed', async () => {
    const file = Buffer.concat([matHeader(), compressedElement(randomX(40, 2)), compressedElement(yMatrix(svhnLabels(40)))]);
    const zSize = file.readUInt32LE(132);
    const atStart = Buffer.from(file);
    atStart.fill(0xff, 136, 140);
    const startFile = writeFile(dir, 'corrupt-start.mat', atStart);
    await expectOpenError([startFile], startFile, /corrupt zlib data \(.+\) \(in the compressed element at byte 128\)/);
    const further = Buffer.from(file);
    further[136 + Math.floor(zSize * 0.9)] ^= 0x55; // in the pixels, past the header's inflated bytes
    const furtherFile = writeFile(dir, 'corrupt-further.mat', further);
    const cache = freshCache();
    const opens: string[] = [];
    const realOpen = fs.promises.open;
    const open = jest.spyOn(fs.promises, 'open').mockImplementation((...args: Parameters<typeof fs.promises.open>) => {
      opens.push(String(args[0]));
      return realOpen(...args);
    });
    try {
      await expectOpenError([furtherFile], furtherFile, /corrupt zlib data \(.+\) \(in the compressed element at byte 128\)/, cache);
    } finally {
      open.mockRestore();
    }
    const temporaries = opens.filter((f) => path.dirname(f) === cache);
    expect(temporaries).toHaveLength(1);
    expect(path.basename(temporaries[0])).toMatch(/^\..*\.X\.u8\.\d+\.[0-9a-f]{8}\.tmp$/);
    expect(fs.existsSync(temporaries[0])).toBe(false);
    expect(cacheFiles(cache)).toEqual([]);
    // A zlib stream cut short (its element's size adjusted).
    const cut = Buffer.concat([matHeader(), compressedElement(randomX(40, 3))]);
    const z = cut.subarray(136, 136 + Math.floor(cut.readUInt32LE(132) * 0.8));
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    const cutFile = writeFile(dir, 'cut-zlib.mat', Buffer.concat([matHeader(), tag, z, compressedElement(yMatrix(svhnLabels(40)))]));
    const cache2 = freshCache();
    await expectOpenError([cutFile], cutFile, /corrupt zlib data \(unexpected end of file\)/, cache2);
    expect(cacheFiles(cache2)).toEqual([]);
  });

  test('a zlib bomb stops at the size the element announces; an announced size deflate cannot produce', async () => {
    const x = svhnMat(svhnLabels(40), { compressed: false });
    const xm = x.subarray(128, 128 + 8 + x.readUInt32LE(132)); // X's miMATRIX element
    const bomb = compressedElement(Buffer.concat([xm, Buffer.alloc(64 * 2 ** 20)])); // 64 MiB more than announced
    const file = writeFile(dir, 'bomb.mat', Buffer.concat([matHeader(), bomb, yMatrix(svhnLabels(40))]));
    const cache = freshCache();
    const t0 = Date.now();
    await expectOpenError([file], file, /compressed data inflates to more than the \d+ bytes its element tag announces: corrupt or a zlib bomb \(in the compressed element at byte 128\)/, cache);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(cacheFiles(cache)).toEqual([]);
    // A tag announcing 2 GiB in a few compressed bytes.
    const lie = Buffer.alloc(16);
    lie.writeUInt32LE(14, 0);
    lie.writeUInt32LE(2 ** 31, 4);
    const liar = writeFile(dir, 'liar.mat', Buffer.concat([matHeader(), compressedElement(lie)]));
    await expectOpenError([liar], liar, /its inflated element announces \d+ bytes, more than deflate can produce from \d+ compressed bytes: corrupt/);
  });

  test('a compressed X with something after its pixels; a cache folder that cannot be made', async () => {
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(9, 0);
    const dims = Buffer.alloc(16);
    [2, 2, 3, 1].forEach((d, i) => dims.writeInt32LE(d, 4 * i));
    const body = Buffer.concat([matElement(6, flags), matElement(5, dims), matElement(1, Buffer.from('X')), matElement(2, Buffer.alloc(12)), matElement(2, Buffer.alloc(12))]);
    const tail = writeFile(dir, 'x-tail.mat', Buffer.concat([matHeader(), compressedElement(matElement(14, body, true)), yMatrix([1])]));
    await expectOpenError([tail], tail, /the miMATRIX element at byte 0: 24 bytes follow X's real part .* \(in the compressed element at byte 128\)/);
    const blocker = writeFile(dir, 'not-a-folder', 'x');
    const file = writeFile(dir, 'cache-blocked.mat', svhnMat([1, 2], { size: 2, compressed: true }));
    await expectOpenError([file], file, /cannot write the inflated copy of its X in .*not-a-folder/, blocker);
  });

  test('bad arguments are TypeErrors', async () => {
    await expect(openSvhnRecords([])).rejects.toThrow(TypeError);
    await expect(openSvhnRecords('x.mat' as unknown as string[])).rejects.toThrow(/openSvhnRecords: files must be a non-empty array of file paths/);
    await expect(openSvhnRecords(['x.mat'], { cacheDir: '' })).rejects.toThrow(/options.cacheDir must be a folder path/);
    await expect(openSvhnRecords(['x.mat'], { name: 3 as unknown as string })).rejects.toThrow(/options.name must be a string/);
  });
});
