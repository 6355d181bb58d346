// The SVHN .mat reader (lib/data/svhn.ts over the MAT-5 parser lib/data/mat.ts) on MAT files the
// tests write (test/data.fixtures.ts): exact pixels and labels from uncompressed (-v6) and
// compressed (-v7) files, every error path, loadDataset on an SVHN directory, and `train --format svhn`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DataFileError, loadDataset, parseMat, readSvhn, readSvhnAsync, SVHN_CLASSES } from '../lib/data';
import { main } from '../lib/cli';
import { fakeIo } from './cli.helpers';
import { makeTempDir, matFile, matHeader, matMatrix, re, removeDir, svhnMat, svhnPixel, writeFile } from './data.fixtures';

let dir: string;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => removeDir(dir));

/** Asserts that `f` throws (or rejects with) a DataFileError for `file` whose message starts `readSvhn: ${file}:` and matches `problem`. */
async function expectFileError(f: () => unknown, file: string, problem: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await f();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DataFileError);
  const err = caught as DataFileError;
  expect(err.path).toBe(file);
  expect(err.message).toMatch(new RegExp(`^readSvhn: ${re(file)}: `));
  expect(err.message).toMatch(problem);
}

/** Both readers on one file must fail the same way. */
async function expectBothFail(file: string, problem: RegExp): Promise<void> {
  await expectFileError(() => readSvhn([file]), file, problem);
  await expectFileError(() => readSvhnAsync([file]), file, problem);
}

/** Expected NCHW pixels of svhnMat image i of size s. */
function expectedImage(i: number, s: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < 3; c++) for (let h = 0; h < s; h++) for (let w = 0; w < s; w++) out.push(svhnPixel(i, c, h, w));
  return out;
}

const LABELS = [1, 10, 5, 3, 10, 9, 2];

describe('readSvhn', () => {
  test.each([
    ['uncompressed (-v6), y as miDOUBLE', { compressed: false, yType: 9 as const }],
    ['compressed (-v7, miCOMPRESSED), y as miDOUBLE', { compressed: true, yType: 9 as const }],
    ['uncompressed, y of class double stored as miUINT8', { compressed: false, yType: 2 as const }],
    ['compressed, y stored as miUINT8', { compressed: true, yType: 2 as const }],
  ])('%s: NCHW pixels transposed from column-major exactly, labels 10 → 0', async (_, options) => {
    const file = writeFile(dir, `ok-${options.compressed}-${options.yType}.mat`, svhnMat(LABELS, options));
    for (const ds of [readSvhn([file]), await readSvhnAsync([file])]) {
      expect(ds.shape).toEqual([3, 32, 32]);
      expect(ds.classes).toBe(10);
      expect(ds.name).toBe(file);
      expect(Array.from(ds.labels)).toEqual([1, 0, 5, 3, 0, 9, 2]);
      for (let i = 0; i < LABELS.length; i++) {
        expect(Array.from(ds.images.subarray(i * 3072, (i + 1) * 3072))).toEqual(expectedImage(i, 32));
      }
    }
  });

  test('other image sizes, several files concatenated in order, gzipped files, the name option', () => {
    const a = writeFile(dir, 'small-a.mat', svhnMat([2, 10], { size: 4 }));
    const b = writeFile(dir, 'small-b.mat.gz', svhnMat([7], { size: 4, compressed: true }), true);
    const ds = readSvhn([a, b], { name: 'both' });
    expect(ds.name).toBe('both');
    expect(ds.shape).toEqual([3, 4, 4]);
    expect(Array.from(ds.labels)).toEqual([2, 0, 7]);
    expect(Array.from(ds.images.subarray(0, 48))).toEqual(expectedImage(0, 4));
    expect(Array.from(ds.images.subarray(96, 144))).toEqual(expectedImage(0, 4)); // image 0 of the second file
  });

  test('a single image saved as X [H×W×C] (MATLAB drops the trailing 1)', () => {
    const file = writeFile(dir, 'one.mat', svhnMat([4], { size: 2, xDims: [2, 2, 3] }));
    const ds = readSvhn([file]);
    expect(ds.length).toBe(1);
    expect(Array.from(ds.images)).toEqual(expectedImage(0, 2));
  });

  test('other variables (a char array) are skipped; parseMat gives names, classes and dims', () => {
    const extra = matMatrix({ name: 'note', classId: 4, dims: [1, 2], type: 4, values: [104, 105] });
    const buf = Buffer.concat([svhnMat([3], { size: 2 }), extra]);
    const file = writeFile(dir, 'with-char.mat', buf);
    const vars = parseMat('parseMat', file, buf);
    expect([...vars.keys()]).toEqual(['X', 'y']);
    expect(vars.get('X')!.className).toBe('uint8');
    expect(vars.get('y')!.className).toBe('double');
    expect(vars.get('y')!.dims).toEqual([1, 1]);
    expect(readSvhn([file]).length).toBe(1);
  });

  test('truncated files: in the header, in an element, in compressed data', async () => {
    const plain = svhnMat(LABELS, { size: 4 });
    await expectBothFail(writeFile(dir, 'trunc-header.mat', plain.subarray(0, 100)), /100 bytes, shorter than the 128-byte MAT-file header/);
    await expectBothFail(writeFile(dir, 'trunc-x.mat', plain.subarray(0, 300)), /truncated: the data element at byte 128 \(type 14\) announces 392 bytes but only 164 follow/);
    await expectBothFail(writeFile(dir, 'trunc-y.mat', plain.subarray(0, plain.length - 20)), /truncated: the data element at byte 528 \(type 14\) announces \d+ bytes but only \d+ follow/);
    const packed = svhnMat(LABELS, { size: 4, compressed: true });
    await expectBothFail(writeFile(dir, 'trunc-compressed.mat', packed.subarray(0, packed.length - 20)), /truncated: the data element at byte \d+ \(type 15\)/);
    // A compressed element whose zlib stream is complete but holds fewer bytes than its tag announces.
    const m = matMatrix({ name: 'X', classId: 9, dims: [2, 2, 3, 1], type: 2, values: new Uint8Array(12) });
    const z = zlib.deflateSync(m.subarray(0, m.length - 16));
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    await expectBothFail(
      writeFile(dir, 'short-inflate.mat', Buffer.concat([matHeader(), tag, z])),
      /truncated: compressed data inflates to \d+ bytes but its element tag announces \d+ \(in the compressed element at byte 128\)/,
    );
  });

  test('wrong headers: endian indicator, version, MATLAB 7.3 (HDF5), level 4', async () => {
    const good = svhnMat([1], { size: 2 });
    const endian = Buffer.from(good);
    endian.write('XY', 126, 'latin1');
    await expectBothFail(writeFile(dir, 'endian.mat', endian), /endian indicator at byte 126 is "XY", not "IM" or "MI"/);
    const version = Buffer.from(good);
    version.writeUInt16LE(0x0200, 124);
    await expectBothFail(writeFile(dir, 'version.mat', version), /MAT-file version 0x0200 is not 0x0100/);
    const v73 = Buffer.from(good);
    v73.write('MATLAB 7.3 MAT-file, Platform: GLNXA64', 0, 'latin1');
    await expectBothFail(writeFile(dir, 'v73.mat', v73), /MATLAB 7\.3 MAT file \(HDF5\), which is not supported/);
    const level4 = Buffer.alloc(200);
    await expectBothFail(writeFile(dir, 'level4.mat', level4), /not a level-5 MAT file/);
  });

  test('a compressed element that inflates beyond the size its tag announces', async () => {
    const m = matMatrix({ name: 'X', classId: 9, dims: [2, 2, 3, 1], type: 2, values: new Uint8Array(12) });
    const lying = Buffer.concat([m, Buffer.alloc(4096)]); // 4 KiB more than the tag announces
    const z = zlib.deflateSync(lying);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    await expectBothFail(
      writeFile(dir, 'bomb.mat', Buffer.concat([matHeader(), tag, z])),
      /compressed data inflates to more than the \d+ bytes its element tag announces: corrupt or a zlib bomb \(in the compressed element at byte 128\)/,
    );
    // A tag announcing far more than deflate can make of the compressed bytes is refused before inflating.
    const huge = Buffer.from(m);
    huge.writeUInt32LE(2 ** 31, 4);
    const zh = zlib.deflateSync(huge);
    tag.writeUInt32LE(zh.length, 4);
    await expectBothFail(writeFile(dir, 'huge.mat', Buffer.concat([matHeader(), tag, zh])), /announces 2147483656 bytes, more than deflate can produce from \d+ compressed bytes/);
    // Corrupt zlib data.
    const bad = Buffer.from(zlib.deflateSync(m));
    bad.fill(0xff, 2, 10);
    tag.writeUInt32LE(bad.length, 4);
    await expectBothFail(writeFile(dir, 'corrupt.mat', Buffer.concat([matHeader(), tag, bad])), /corrupt zlib data/);
  });

  test('wrong dimensions and missing variables', async () => {
    await expectBothFail(writeFile(dir, 'x2d.mat', svhnMat([1, 2], { size: 2, xDims: [4, 6] })), /X has dimensions \[4×6\], not height×width×channels×images/);
    await expectBothFail(writeFile(dir, 'xcount.mat', svhnMat([1, 2], { size: 2, xDims: [2, 2, 3, 3] })), /variable 'X' has dimensions \[2×2×3×3\] = 36 values but its real part holds 24/);
    await expectBothFail(writeFile(dir, 'ymatrix.mat', svhnMat([1, 2, 3, 4], { size: 2, yDims: [2, 2] })), /y has dimensions \[2×2\] but X holds 4 images \(y must be 4×1\)/);
    const noY = matFile([{ name: 'X', classId: 9, dims: [2, 2, 3, 1], type: 2, values: new Uint8Array(12) }], false);
    await expectBothFail(writeFile(dir, 'noy.mat', noY), /no numeric variable 'y' \(an SVHN file holds X and y; found 'X'\)/);
    const a = writeFile(dir, 'dims-a.mat', svhnMat([1], { size: 2 }));
    const b = writeFile(dir, 'dims-b.mat', svhnMat([1], { size: 4 }));
    await expectFileError(() => readSvhn([a, b]), b, /images are \[3, 4, 4\] \(C, H, W\) but those of .* are \[3, 2, 2\]/);
  });

  test.each([
    [0, 'label 0 of image 1 is not an integer in 1..10'],
    [11, 'label 11 of image 1 is not an integer in 1..10'],
    [2.5, 'label 2.5 of image 1 is not an integer in 1..10'],
  ])('label %p outside 1..10', async (bad, message) => {
    await expectBothFail(writeFile(dir, `label-${bad}.mat`, svhnMat([3, bad, 4], { size: 2, compressed: true })), new RegExp(re(message)));
  });

  test('a missing file and bad arguments', async () => {
    const missing = path.join(dir, 'nope.mat');
    await expectBothFail(missing, /file not found/);
    expect(() => readSvhn([])).toThrow(/readSvhn: paths must name at least one file/);
    expect(() => readSvhn('x' as unknown as string[])).toThrow(TypeError);
  });
});

describe('loadDataset on an SVHN directory', () => {
  let svhn: string;
  beforeAll(() => {
    svhn = path.join(dir, 'svhn');
    fs.mkdirSync(svhn);
    writeFile(svhn, 'train_32x32.mat', svhnMat([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { compressed: true }));
    writeFile(svhn, 'extra_32x32.mat', svhnMat([10, 10, 10], { compressed: true }));
    writeFile(svhn, 'test_32x32.mat', svhnMat([10, 1, 2, 3, 4], { compressed: false }));
  });

  test('guessed from train_32x32.mat or given as format svhn; extra only with svhnExtra', async () => {
    for (const options of [{}, { format: 'svhn' as const }]) {
      const { train, test, classNames } = await loadDataset(svhn, options);
      expect(train.length).toBe(20);
      expect(test.length).toBe(5);
      expect(train.name).toBe('svhn/train');
      expect(Array.from(test.labels)).toEqual([0, 1, 2, 3, 4]);
      expect(classNames).toEqual(SVHN_CLASSES);
    }
    const withExtra = await loadDataset(svhn, { svhnExtra: true });
    expect(withExtra.train.length).toBe(23);
    expect(Array.from(withExtra.train.labels.subarray(20))).toEqual([0, 0, 0]);
  });

  test('errors: a missing file, options that do not apply, wrong classes', async () => {
    const partial = path.join(dir, 'svhn-partial');
    fs.mkdirSync(partial);
    writeFile(partial, 'train_32x32.mat', svhnMat([1]));
    await expect(loadDataset(partial)).rejects.toThrow(/loadDataset: .*svhn-partial: no test_32x32\.mat/);
    await expect(loadDataset(svhn, { format: 'svhn', classes: 11 })).rejects.toThrow(/options.classes is 11 but SVHN has 10 classes/);
    await expect(loadDataset(svhn, { cifarLabels: 'coarse' })).rejects.toThrow(/cifarLabels .* applies to CIFAR-100 only, not svhn/);
    await expect(loadDataset('fashion-mnist-small', { svhnExtra: 'yes' as unknown as boolean })).rejects.toThrow(/options.svhnExtra must be a boolean/);
  });

  test('newton-cnn train --data DIR --format svhn --optimizer sgd --epochs 1 --train-limit 64 runs', async () => {
    const f = fakeIo(dir);
    const code = await main(['train', '--data', svhn, '--format', 'svhn', '--optimizer', 'sgd', '--epochs', '1', '--train-limit', '64', '--batch-size', '8', '--quiet'], f.io);
    expect(f.err.text).toBe('');
    expect(code).toBe(0);
    expect(f.out.text).toMatch(/test accuracy: \d\.\d{4}/);
  }, 60_000);
});
