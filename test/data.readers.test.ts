// IDX, CIFAR and LIBSVM readers on small files written in a temporary directory: contents,
// gzip detection by magic bytes, and every error path (class, file name and problem in the message).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  DataFileError,
  readCifar,
  readCifarAsync,
  readIdx,
  readIdxAsync,
  readLibsvm,
  readLibsvmAsync,
  loadDataset,
} from '../lib/data';
import { cifarRecords, idxImages, idxLabels, makeTempDir, re, removeDir, writeFile } from './data.fixtures';

let dir: string;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => removeDir(dir));

/** Asserts that `f` throws a DataFileError for `file` whose message starts `${fn}: ${file}:` and matches `problem`. */
function expectFileError(f: () => unknown, fn: string, file: string, problem: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DataFileError);
  expect(caught).toBeInstanceOf(Error);
  const err = caught as DataFileError;
  expect(err.path).toBe(file);
  expect(err.message).toMatch(new RegExp(`^${re(fn)}: ${re(file)}: `));
  expect(err.message).toMatch(problem);
}

describe('readIdx', () => {
  const labels = [3, 1, 4, 1, 5];

  test('reads raw files: shape [1, rows, cols], raw pixel values 0..255 as float32', () => {
    const img = writeFile(dir, 'raw-images', idxImages(5, 2, 3, (i, k) => (i === 4 && k === 5 ? 255 : i * 10 + k)));
    const lab = writeFile(dir, 'raw-labels', idxLabels(labels));
    const ds = readIdx(img, lab, { classes: 10, name: 'tiny' });
    expect(ds.name).toBe('tiny');
    expect(ds.shape).toEqual([1, 2, 3]);
    expect(ds.length).toBe(5);
    expect(ds.classes).toBe(10);
    expect(ds.images).toBeInstanceOf(Float32Array);
    expect(ds.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(ds.labels)).toEqual(labels);
    expect(Array.from(ds.images.subarray(6, 12))).toEqual([10, 11, 12, 13, 14, 15]);
    expect(ds.images[29]).toBe(255);
  });

  test('detects gzip by magic bytes, not by extension; classes from options (labels 0 and 2 absent)', async () => {
    const img = writeFile(dir, 'gz-images.raw', idxImages(5, 2, 3), true);
    const lab = writeFile(dir, 'plain-labels.gz', idxLabels(labels), false);
    const ds = readIdx(img, lab, { classes: 6 });
    expect(ds.classes).toBe(6);
    expect(ds.name).toBe(img);
    expect(Array.from(ds.images.subarray(0, 6))).toEqual([0, 1, 2, 3, 4, 5]);
    const viaAsync = await readIdxAsync(img, lab, { classes: 6 });
    expect(viaAsync.images).toEqual(ds.images);
    expect(viaAsync.labels).toEqual(ds.labels);
  });

  test('large files convert in steps (sync and async agree across step boundaries)', async () => {
    const n = 1100; // 1100·32·32 > 2^20 values: more than one conversion step
    const img = writeFile(dir, 'big-images', idxImages(n, 32, 32, (i, k) => (i * 13 + k * 7) % 256), true);
    const lab = writeFile(dir, 'big-labels', idxLabels(Array.from({ length: n }, (_, i) => i % 10)));
    const a = readIdx(img, lab);
    const b = await readIdxAsync(img, lab);
    expect(b.images.length).toBe(n * 1024);
    // byte comparison: toEqual walks a million elements slowly
    expect(Buffer.from(b.images.buffer).equals(Buffer.from(a.images.buffer))).toBe(true);
    const k = (1 << 20) + 5; // a value just past the first step
    expect(a.images[k]).toBe((Math.floor(k / 1024) * 13 + (k % 1024) * 7) % 256);
  });

  test('missing file', async () => {
    const lab = writeFile(dir, 'ok-labels', idxLabels(labels));
    const missing = `${dir}/no-such-images`;
    expectFileError(() => readIdx(missing, lab), 'readIdx', missing, /file not found/);
    await expect(readIdxAsync(missing, lab)).rejects.toThrow(/readIdx: .*no-such-images: file not found/);
  });

  test('wrong magic number (and a label file given as images)', () => {
    const lab = writeFile(dir, 'm-labels', idxLabels(labels));
    const bad = idxImages(5, 2, 3);
    bad.writeUInt32BE(0x804, 0);
    const img = writeFile(dir, 'm-images', bad);
    expectFileError(() => readIdx(img, lab), 'readIdx', img, /wrong magic number 0x00000804, expected 0x00000803/);
    expectFileError(() => readIdx(lab, lab), 'readIdx', lab, /wrong magic number 0x00000801 \(a label file\), expected 0x00000803/);
    const img2 = writeFile(dir, 'm-images2', idxImages(5, 2, 3));
    expectFileError(() => readIdx(img2, img2), 'readIdx', img2, /wrong magic number 0x00000803 \(an image file\), expected 0x00000801/);
  });

  test('truncated data: declared dimensions need more bytes than the file has', () => {
    const lab = writeFile(dir, 't-labels', idxLabels(labels));
    const img = writeFile(dir, 't-images.gz', idxImages(5, 2, 3).subarray(0, 16 + 28), true);
    expectFileError(() => readIdx(img, lab), 'readIdx', img, /truncated data: header declares 5×2×3 = 30 bytes but only 28 follow/);
    const header = writeFile(dir, 't-header', idxImages(5, 2, 3).subarray(0, 10));
    expectFileError(() => readIdx(header, lab), 'readIdx', header, /truncated IDX header \(10 of 16 bytes\)/);
    const tiny = writeFile(dir, 't-tiny', Buffer.from([0, 0]));
    expectFileError(() => readIdx(tiny, lab), 'readIdx', tiny, /truncated IDX header/);
    const shortLabels = writeFile(dir, 't-labels-short', idxLabels(labels).subarray(0, 11));
    const okImg = writeFile(dir, 't-ok-images', idxImages(5, 2, 3));
    expectFileError(() => readIdx(okImg, shortLabels), 'readIdx', shortLabels, /truncated data: header declares 5 labels = 5 bytes but only 3/);
  });

  test('extra bytes after the declared data', () => {
    const lab = writeFile(dir, 'x-labels', idxLabels(labels));
    const img = writeFile(dir, 'x-images', Buffer.concat([idxImages(5, 2, 3), Buffer.from([1, 2])]));
    expectFileError(() => readIdx(img, lab), 'readIdx', img, /size mismatch: .*30 bytes but 32 follow \(2 extra\)/);
  });

  test('image/label count mismatch', () => {
    const img = writeFile(dir, 'c-images', idxImages(5, 2, 3));
    const lab = writeFile(dir, 'c-labels', idxLabels([1, 2, 3]));
    expectFileError(() => readIdx(img, lab), 'readIdx', lab, /count mismatch: 3 labels but .*c-images has 5 images/);
  });

  test('label out of range', () => {
    const img = writeFile(dir, 'r-images', idxImages(5, 2, 3));
    const lab = writeFile(dir, 'r-labels', idxLabels([0, 1, 2, 9, 1]));
    expectFileError(() => readIdx(img, lab, { classes: 3 }), 'readIdx', lab, /label 9 of item 3 out of range \[0, 3\)/);
  });

  test('corrupt gzip', async () => {
    const gz = zlib.gzipSync(idxImages(50, 4, 4, (i, k) => (i * 31 + k * 17) % 251));
    const corrupt = Buffer.from(gz);
    for (let i = 12; i < corrupt.length - 8; i += 3) corrupt[i] ^= 0x5a;
    const lab = writeFile(dir, 'z-labels', idxLabels(new Array(50).fill(0)));
    const img = writeFile(dir, 'z-images', corrupt);
    expectFileError(() => readIdx(img, lab), 'readIdx', img, /corrupt gzip data/);
    await expect(readIdxAsync(img, lab)).rejects.toThrow(DataFileError);
    await expect(readIdxAsync(img, lab)).rejects.toThrow(/readIdx: .*z-images: corrupt gzip data/);
    const cut = writeFile(dir, 'z-cut-images', gz.subarray(0, gz.length >> 1));
    expectFileError(() => readIdx(cut, lab), 'readIdx', cut, /corrupt gzip data/);
  });

  test('argument types', () => {
    expect(() => readIdx(3 as unknown as string, 'x')).toThrow(TypeError);
    expect(() => readIdx(3 as unknown as string, 'x')).toThrow(/readIdx: imagesPath must be a string, got number/);
  });
});

describe('readCifar', () => {
  test('CIFAR-10: records from several files in order, CHW pixels, 10 classes', async () => {
    const a = writeFile(dir, 'c10-a.bin', cifarRecords([6, 9]));
    const b = writeFile(dir, 'c10-b.bin', cifarRecords([0]), true);
    const ds = readCifar([a, b]);
    expect(ds.shape).toEqual([3, 32, 32]);
    expect(ds.classes).toBe(10);
    expect(ds.length).toBe(3);
    expect(Array.from(ds.labels)).toEqual([6, 9, 0]);
    // record 1 of file a, channel 1 (green), row 0, col 2: pixel byte k = 1024 + 2
    expect(ds.images[3072 + 1024 + 2]).toBe((11 + 1026) % 256);
    expect(ds.images[2 * 3072 + 3071]).toBe(3071 % 256);
    const viaAsync = await readCifarAsync([a, b], { variant: 10 });
    expect(viaAsync.images).toEqual(ds.images);
  });

  test('CIFAR-100: fine (100 classes, default) and coarse (20 classes) labels', () => {
    const f = writeFile(dir, 'c100.bin', cifarRecords([[19, 99], [3, 42]]));
    const fine = readCifar([f], { variant: 100 });
    expect(fine.classes).toBe(100);
    expect(Array.from(fine.labels)).toEqual([99, 42]);
    expect(fine.images[0]).toBe(0);
    expect(fine.images[3072 + 5]).toBe(16);
    const coarse = readCifar([f], { variant: 100, labels: 'coarse' });
    expect(coarse.classes).toBe(20);
    expect(Array.from(coarse.labels)).toEqual([19, 3]);
  });

  test('size not a multiple of the record size (truncated, or the wrong variant)', () => {
    const t = writeFile(dir, 'c10-trunc.bin', cifarRecords([1, 2]).subarray(0, 3073 + 100));
    expectFileError(() => readCifar([t]), 'readCifar', t, /size 3173 is not a multiple of the 3073-byte CIFAR-10 record/);
    const c100 = writeFile(dir, 'c100-as-10.bin', cifarRecords([[1, 2]]));
    expectFileError(() => readCifar([c100]), 'readCifar', c100, /size 3074 is not a multiple of the 3073-byte/);
    const c10 = writeFile(dir, 'c10-as-100.bin', cifarRecords([1, 2]));
    expectFileError(() => readCifar([c10], { variant: 100 }), 'readCifar', c10, /not a multiple of the 3074-byte CIFAR-100 record/);
  });

  test('labels out of range', () => {
    const f = writeFile(dir, 'c10-badlabel.bin', cifarRecords([1, 10]));
    expectFileError(() => readCifar([f]), 'readCifar', f, /label 10 of record 1 out of range \[0, 10\)/);
    const g = writeFile(dir, 'c100-badlabel.bin', cifarRecords([[20, 5]]));
    expectFileError(() => readCifar([g], { variant: 100, labels: 'coarse' }), 'readCifar', g, /label 20 of record 0 out of range \[0, 20\)/);
    const h = writeFile(dir, 'c100-badfine.bin', cifarRecords([[2, 100]]));
    expectFileError(() => readCifar([h], { variant: 100 }), 'readCifar', h, /label 100 of record 0 out of range \[0, 100\)/);
  });

  test('missing and empty files, corrupt gzip', () => {
    const missing = `${dir}/c10-missing.bin`;
    expectFileError(() => readCifar([missing]), 'readCifar', missing, /file not found/);
    const empty = writeFile(dir, 'c10-empty.bin', Buffer.alloc(0));
    expectFileError(() => readCifar([empty]), 'readCifar', empty, /file is empty/);
    const gz = zlib.gzipSync(cifarRecords([1]));
    const cut = writeFile(dir, 'c10-cut.bin.gz', gz.subarray(0, 40));
    expectFileError(() => readCifar([cut]), 'readCifar', cut, /corrupt gzip data/);
  });

  test('bad arguments', () => {
    expect(() => readCifar([])).toThrow(RangeError);
    expect(() => readCifar('x' as unknown as string[])).toThrow(/readCifar: paths must be an array/);
    expect(() => readCifar(['x'], { variant: 12 as 10 })).toThrow(/readCifar: options.variant must be 10 or 100, got 12/);
    expect(() => readCifar(['x'], { labels: 'coarse' })).toThrow(/labels applies only to variant 100/);
  });
});

describe('loadDataset: CIFAR-100 coarse labels (cifarLabels, --cifar-labels)', () => {
  test('coarse: 20 classes from the first label byte, names from coarse_label_names.txt; fine stays the default', async () => {
    const d = path.join(dir, 'cifar-100-coarse');
    fs.mkdirSync(d);
    writeFile(d, 'train.bin', cifarRecords([[19, 77], [3, 5], [0, 99]]));
    writeFile(d, 'test.bin', cifarRecords([[7, 1]]));
    const names = Array.from({ length: 20 }, (_, i) => `super${i}`);
    writeFile(d, 'coarse_label_names.txt', `${names.join('\n')}\n\n`);
    const coarse = await loadDataset(d, { cifarLabels: 'coarse' });
    expect(coarse.train.classes).toBe(20);
    expect(Array.from(coarse.train.labels)).toEqual([19, 3, 0]);
    expect(Array.from(coarse.test.labels)).toEqual([7]);
    expect(coarse.classNames).toEqual(names);
    expect(Array.from(coarse.train.images.subarray(0, 4))).toEqual([0, 1, 2, 3]); // pixels after the 2 label bytes
    const fine = await loadDataset(d, { cifarLabels: 'fine' });
    expect(fine.train.classes).toBe(100);
    expect(Array.from(fine.train.labels)).toEqual([77, 5, 99]);
    expect(fine.classNames).toBeUndefined();
    await expect(loadDataset(d, { cifarLabels: 'coarse', classes: 100 })).rejects.toThrow(/options.classes is 100 but CIFAR-100 \(coarse labels\) has 20 classes/);
    await expect(loadDataset(d, { cifarLabels: 'middle' as 'fine' })).rejects.toThrow(/options.cifarLabels must be 'fine' or 'coarse', got middle/);
  });

  test('a coarse label ≥ 20 names the file; coarse labels on CIFAR-10 or another format are refused', async () => {
    const d = path.join(dir, 'cifar-100-bad-coarse');
    fs.mkdirSync(d);
    const train = writeFile(d, 'train.bin', cifarRecords([[2, 1], [20, 1]]));
    writeFile(d, 'test.bin', cifarRecords([[1, 1]]));
    await expect(loadDataset(d, { cifarLabels: 'coarse' })).rejects.toThrow(new RegExp(`readCifar: ${re(train)}: label 20 of record 1 out of range \\[0, 20\\)`));
    const c10 = path.join(dir, 'cifar-10-coarse');
    fs.mkdirSync(c10);
    for (let i = 1; i <= 5; i++) writeFile(c10, `data_batch_${i}.bin`, cifarRecords([1]));
    writeFile(c10, 'test_batch.bin', cifarRecords([1]));
    await expect(loadDataset(c10, { cifarLabels: 'coarse' })).rejects.toThrow(/cifarLabels \(--cifar-labels\) applies to CIFAR-100 only, and this is a CIFAR-10 directory/);
    await expect(loadDataset('fashion-mnist-small', { cifarLabels: 'coarse' })).rejects.toThrow(/loadDataset: options.cifarLabels \(--cifar-labels\) does not apply to fashion-mnist-small/);
  });
});

describe('readLibsvm', () => {
  const shape = [1, 2, 3] as const;

  test('sparse 1-based features in C·H·W order, sorted label mapping, blank lines and CRLF', async () => {
    const text = '3 1:0.5 6:255\r\n-1\n\n7 2:1e2 3:-4 4:.25\n3 5:+1.5\n';
    const f = writeFile(dir, 'a.libsvm', text);
    const ds = readLibsvm(f, { shape });
    expect(ds.length).toBe(4);
    expect(ds.shape).toEqual([1, 2, 3]);
    expect(ds.labelValues).toEqual([-1, 3, 7]);
    expect(ds.classes).toBe(3);
    expect(Array.from(ds.labels)).toEqual([1, 0, 2, 1]);
    expect(Array.from(ds.images)).toEqual([
      0.5, 0, 0, 0, 0, 255,
      0, 0, 0, 0, 0, 0,
      0, 100, -4, 0.25, 0, 0,
      0, 0, 0, 0, 1.5, 0,
    ]);
    const gz = writeFile(dir, 'a.libsvm.t', text, true);
    const viaAsync = await readLibsvmAsync(gz, { shape });
    expect(viaAsync.images).toEqual(ds.images);
  });

  test('large files parse in steps (sync and async agree)', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) =>
      `${i % 4} ${Array.from({ length: 6 }, (_, k) => `${k + 1}:${(i * 6 + k) % 97}.5`).join(' ')}`.padEnd(400, ' '),
    );
    const f = writeFile(dir, 'big.libsvm', lines.join('\n')); // 1.2M characters: more than one step
    const a = readLibsvm(f, { shape });
    const b = await readLibsvmAsync(f, { shape });
    expect(a.length).toBe(3000);
    expect(b.images).toEqual(a.images);
    expect(b.labels).toEqual(a.labels);
    expect(a.images[2999 * 6 + 5]).toBe(((2999 * 6 + 5) % 97) + 0.5);
  });

  test('an existing label mapping (the training set\'s) and a larger class count', () => {
    const f = writeFile(dir, 'b.libsvm', '7 1:1\n3 2:1\n');
    const ds = readLibsvm(f, { shape, labelValues: [-1, 3, 7], classes: 5 });
    expect(Array.from(ds.labels)).toEqual([2, 1]);
    expect(ds.classes).toBe(5);
    expect(ds.labelValues).toEqual([-1, 3, 7]);
  });

  const cases: [string, string, RegExp][] = [
    ['no colon', '1 1:1\n2 abc\n', /line 2: malformed feature 'abc' \(expected index:value\)/],
    ['bad index', '1 x:1\n', /line 1: malformed feature index 'x' in 'x:1'/],
    ['negative index', '1 -3:1\n', /line 1: malformed feature index '-3'/],
    ['bad value', '1 1:1\n1 2:\n', /line 2: malformed value '' in '2:'/],
    ['bad value text', '1 2:abc\n', /line 1: malformed value 'abc' in '2:abc'/],
    ['bad label', '\nfoo 1:1\n', /line 2: malformed label 'foo'/],
    ['non-integer label', '1.5 1:1\n', /line 1: label '1.5' is not an integer/],
    ['index 0', '1 0:1\n', /line 1: feature index 0 in '0:1' \(indices are 1-based\)/],
    ['index beyond C·H·W', '1 1:1\n2 3:1 7:2\n', /line 2: feature index 7 beyond C·H·W = 1·2·3 = 6/],
    ['decreasing indices', '1 3:1 2:1\n', /line 1: feature index 2 after 3 \(indices must increase\)/],
    ['NaN value', '1 1:1\n1 1:nan\n', /line 2: non-finite value 'nan' in '1:nan'/],
    ['infinite value', '1 1:1e999\n', /line 1: non-finite value '1e999' in '1:1e999'/],
    ['Infinity value', '1 1:-Infinity\n', /line 1: non-finite value/],
    ['NaN label', 'NaN 1:1\n', /line 1: non-finite label 'NaN'/],
    ['empty file', '\n  \n', /no data lines/],
  ];
  test.each(cases)('malformed input: %s', (name, text, problem) => {
    const f = writeFile(dir, `bad-${name.replace(/\W/g, '_')}.libsvm`, text);
    expectFileError(() => readLibsvm(f, { shape }), 'readLibsvm', f, problem);
  });

  test('labels outside a given mapping, more labels than classes', () => {
    const f = writeFile(dir, 'c.libsvm', '1 1:1\n2 1:1\n5 1:1\n');
    expectFileError(() => readLibsvm(f, { shape, labelValues: [1, 2] }), 'readLibsvm', f, /line 3: label 5 is not one of the known labels \[1, 2\]/);
    expectFileError(() => readLibsvm(f, { shape, classes: 2 }), 'readLibsvm', f, /3 distinct labels \[1, 2, 5\] but options.classes is 2/);
  });

  test('missing file, corrupt gzip', () => {
    const missing = `${dir}/missing.libsvm`;
    expectFileError(() => readLibsvm(missing, { shape }), 'readLibsvm', missing, /file not found/);
    const cut = writeFile(dir, 'cut.libsvm', zlib.gzipSync('1 1:1\n'.repeat(100)).subarray(0, 20));
    expectFileError(() => readLibsvm(cut, { shape }), 'readLibsvm', cut, /corrupt gzip data/);
  });

  test('shape is required and checked', () => {
    const f = writeFile(dir, 'd.libsvm', '1 1:1\n');
    expect(() => readLibsvm(f, undefined as unknown as { shape: [1, 1, 1] })).toThrow(TypeError);
    expect(() => readLibsvm(f, {} as { shape: [1, 1, 1] })).toThrow(/readLibsvm: options.shape must be \[C, H, W\]/);
    expect(() => readLibsvm(f, { shape: [1, 0, 3] })).toThrow(RangeError);
  });
});
