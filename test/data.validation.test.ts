// Hardening of lib/data (issue 14): validation of hand-built data sets, the class count from the
// format or an explicit option (never from the largest label), IDX count messages on the right
// file, decompression bounded by what the header announces (gzip bombs), and shapes too large to
// allocate refused with a message naming the option.
import * as fs from 'node:fs';
import os = require('node:os');
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  createDataset,
  DataFileError,
  gatherBatch,
  loadDataset,
  MAX_DATASET_VALUES,
  readCifar,
  readCifarAsync,
  readIdx,
  readIdxAsync,
  readLibsvm,
  readLibsvmAsync,
  validateDataset,
  type Dataset,
} from '../lib/data';
import { cifarRecords, idxImages, idxLabels, makeTempDir, re, removeDir, writeFile } from './data.fixtures';

let dir: string;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => removeDir(dir));

/** The error `f` throws (fails when it returns). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

/** Asserts a DataFileError for `file` whose message starts `${fn}: ${file}: ` and matches `problem`. */
function expectFileError(err: unknown, fn: string, file: string, problem: RegExp): void {
  expect(err).toBeInstanceOf(DataFileError);
  const e = err as DataFileError;
  expect(e.path).toBe(file);
  expect(e.message).toMatch(new RegExp(`^${re(fn)}: ${re(file)}: `));
  expect(e.message).toMatch(problem);
}

/** The promise's rejection (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** A valid 5-image [1, 2, 3] data set with 4 classes, as plain (hand-built) fields. */
function handBuilt(over: Partial<Record<keyof Dataset, unknown>> = {}): Dataset {
  const base = {
    name: 'hand',
    images: Float32Array.from({ length: 30 }, (_, i) => i / 7),
    labels: Int32Array.from([0, 3, 1, 2, 3]),
    shape: [1, 2, 3],
    classes: 4,
    length: 5,
  };
  return { ...base, ...over } as unknown as Dataset;
}

describe('validateDataset', () => {
  test('accepts a valid data set (hand-built or from createDataset, empty too)', () => {
    expect(() => validateDataset(handBuilt(), 'trainSgd: train')).not.toThrow();
    const ds = createDataset({ name: 'c', images: new Float32Array(12), labels: Int32Array.from([1, 0]), shape: [1, 2, 3], classes: 2 });
    expect(() => validateDataset(ds, 'x')).not.toThrow();
    expect(() => validateDataset(handBuilt({ images: new Float32Array(0), labels: new Int32Array(0), length: 0 }), 'x')).not.toThrow();
  });

  test('a label outside [0, classes): the first offending index and value', () => {
    const err = thrown(() => validateDataset(handBuilt({ labels: Int32Array.from([0, 1, 2, 200, 7]) }), 'trainSgd: train'));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe("trainSgd: train: data set 'hand': labels[3] = 200 is outside [0, 4) (classes = 4)");
    const neg = thrown(() => validateDataset(handBuilt({ labels: Int32Array.from([0, -1, 2, 3, 1]) }), 'w'));
    expect(neg.message).toMatch(/^w: data set 'hand': labels\[1\] = -1 is outside \[0, 4\)/);
  });

  test('images shorter or longer than length·C·H·W', () => {
    const short = thrown(() => validateDataset(handBuilt({ images: new Float32Array(29) }), 'evaluate: data'));
    expect(short).toBeInstanceOf(RangeError);
    expect(short.message).toBe("evaluate: data: data set 'hand': images has 29 values but length 5 × shape [1, 2, 3] needs 30");
    expect(thrown(() => validateDataset(handBuilt({ images: new Float32Array(36) }), 'w')).message).toMatch(/images has 36 values but .* needs 30/);
  });

  test('length different from labels.length', () => {
    const err = thrown(() => validateDataset(handBuilt({ length: 7, images: new Float32Array(42) }), 'w'));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe("w: data set 'hand': length is 7 but labels has 5 entries");
    expect(thrown(() => validateDataset(handBuilt({ length: 2.5 }), 'w')).message).toMatch(/length must be a non-negative integer, got 2.5/);
  });

  test('non-positive or non-integer classes and shape', () => {
    for (const classes of [0, -3, 2.5, NaN, Infinity]) {
      const err = thrown(() => validateDataset(handBuilt({ classes }), 'w'));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.message).toBe(`w: data set 'hand': classes must be a positive integer, got ${classes}`);
    }
    const zero = thrown(() => validateDataset(handBuilt({ shape: [1, 0, 3] }), 'w'));
    expect(zero).toBeInstanceOf(RangeError);
    expect(zero.message).toMatch(/^w: data set 'hand': shape must be \[C, H, W\] \(three positive integers\), got \[1, 0, 3\]/);
    const two = thrown(() => validateDataset(handBuilt({ shape: [2, 3] }), 'w'));
    expect(two).toBeInstanceOf(TypeError);
    // classes below a stored labelValues mapping
    expect(thrown(() => validateDataset(handBuilt({ labelValues: [1, 2, 3, 4, 5] }), 'w')).message).toMatch(
      /labelValues has 5 entries but classes is 4/,
    );
  });

  test('non-finite pixel values: the first index', () => {
    const images = Float32Array.from({ length: 30 }, () => 1);
    images[17] = NaN;
    images[20] = Infinity;
    const err = thrown(() => validateDataset(handBuilt({ images }), 'w'));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe("w: data set 'hand': images[17] = NaN is not finite (image 2)");
    images[17] = 0;
    expect(thrown(() => validateDataset(handBuilt({ images }), 'w')).message).toMatch(/images\[20\] = Infinity is not finite \(image 3\)/);
  });

  test('wrong types: not a data set, labels or images of the wrong array type (NaN labels)', () => {
    const err = thrown(() => validateDataset(handBuilt({ labels: Float64Array.from([0, NaN, 1, 2, 3]) }), 'w'));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/^w: data set 'hand': labels must be an Int32Array, got Float64Array/);
    expect(thrown(() => validateDataset(handBuilt({ images: [1, 2, 3] }), 'w'))).toBeInstanceOf(TypeError);
    expect(thrown(() => validateDataset(null as unknown as Dataset, 'w')).message).toMatch(/^w must be a Dataset, got null/);
    expect(thrown(() => validateDataset(handBuilt({ name: 3 }), 'w')).message).toMatch(/name must be a string, got number/);
  });

  test('one pass: 60,000 images of 28×28 in well under two seconds', () => {
    const n = 60000;
    const ds = handBuilt({
      images: new Float32Array(n * 784).fill(0.5),
      labels: Int32Array.from({ length: n }, (_, i) => i % 10),
      length: n,
      shape: [1, 28, 28],
      classes: 10,
    });
    validateDataset(ds, 'warm-up');
    const t = process.hrtime.bigint();
    validateDataset(ds, 'timed');
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    expect(ms).toBeLessThan(2000); // about 0.1 s; generous for busy machines
  });

  test('gatherBatch refuses what would corrupt a batch (label outside [0, classes), short images)', () => {
    const bad = handBuilt({ labels: Int32Array.from([0, 1, 9, 2, 3]) });
    const order = Int32Array.from([0, 1, 2, 3, 4]);
    const err = thrown(() => gatherBatch(bad, order, 0, 5));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toMatch(/^gatherBatch: ds: data set 'hand': labels\[2\] = 9 is outside \[0, 4\)/);
    const short = handBuilt({ images: new Float32Array(20) });
    expect(thrown(() => gatherBatch(short, order, 0, 2)).message).toMatch(/gatherBatch: ds: data set 'hand': images has 20 values/);
  });
});

describe('class count from the format or an explicit option', () => {
  const n = 60;
  const goodLabels = Array.from({ length: n }, (_, i) => i % 10);
  const corrupt = goodLabels.map((l, i) => (i === 37 ? 200 : l));

  test('IDX: one corrupt label byte (200) no longer makes 201 classes', async () => {
    const img = writeFile(dir, 'cc-images', idxImages(n, 2, 2));
    const lab = writeFile(dir, 'cc-labels', idxLabels(corrupt));
    const err = thrown(() => readIdx(img, lab));
    expectFileError(err, 'readIdx', lab, /label 200 of item 37/);
    expect(err.message).toMatch(/classes 10\.\.199 have no item/);
    expect(err.message).toMatch(/options\.classes/);
    expectFileError(await rejection(readIdxAsync(img, lab)), 'readIdx', lab, /label 200 of item 37/);
    // with the class count given, the label is out of range: file, item and value
    expectFileError(thrown(() => readIdx(img, lab, { classes: 10 })), 'readIdx', lab, /label 200 of item 37 out of range \[0, 10\)/);
  });

  test('IDX: inferred only when the labels are exactly 0..k−1 (every class present)', () => {
    const img = writeFile(dir, 'cc2-images', idxImages(5, 2, 2));
    const lab = writeFile(dir, 'cc2-labels', idxLabels([2, 0, 1, 2, 0]));
    expect(readIdx(img, lab).classes).toBe(3);
    const gap = writeFile(dir, 'cc2-gap-labels', idxLabels([3, 1, 4, 1, 5]));
    expectFileError(thrown(() => readIdx(img, gap)), 'readIdx', gap, /classes 0, 2 have no item/);
    expect(readIdx(img, gap, { classes: 6 }).classes).toBe(6);
  });

  test('loadDataset: options.classes for an IDX directory, checked for named and CIFAR data sets', async () => {
    const d = path.join(dir, 'cc-idx');
    fs.mkdirSync(d);
    writeFile(d, 'train-images-idx3-ubyte', idxImages(n, 2, 2));
    const trainLabels = writeFile(d, 'train-labels-idx1-ubyte', idxLabels(corrupt));
    writeFile(d, 't10k-images-idx3-ubyte', idxImages(3, 2, 2));
    writeFile(d, 't10k-labels-idx1-ubyte', idxLabels([1, 2, 0]));
    expectFileError(await rejection(loadDataset(d)), 'readIdx', trainLabels, /label 200 of item 37/);
    expectFileError(await rejection(loadDataset(d, { classes: 10 })), 'readIdx', trainLabels, /label 200 of item 37 out of range \[0, 10\)/);
    writeFile(d, 'train-labels-idx1-ubyte', idxLabels(goodLabels.map((l) => l % 3)));
    const wide = await loadDataset(d, { classes: 12 });
    expect([wide.train.classes, wide.test.classes]).toEqual([12, 12]);

    await expect(loadDataset('fashion-mnist-small', { classes: 5 })).rejects.toThrow(
      /loadDataset: options.classes is 5 but fashion-mnist-small has 10 classes/,
    );
    const c10 = path.join(dir, 'cc-cifar');
    fs.mkdirSync(c10);
    for (let i = 1; i <= 5; i++) writeFile(c10, `data_batch_${i}.bin`, cifarRecords([i]));
    writeFile(c10, 'test_batch.bin', cifarRecords([3]));
    await expect(loadDataset(c10, { classes: 7 })).rejects.toThrow(/loadDataset: options.classes is 7 but CIFAR-10 has 10 classes/);
    expect((await loadDataset(c10, { classes: 10 })).train.classes).toBe(10);
    await expect(loadDataset(c10, { classes: 0 })).rejects.toThrow(/options.classes must be a positive integer, got 0/);
  });

  test('LIBSVM: the label mapping stays; regression-like labels are refused unless classes is given', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => `${1990 + i} 1:${i}`).join('\n');
    const f = writeFile(dir, 'years.libsvm', lines);
    expectFileError(thrown(() => readLibsvm(f, { shape: [1, 1, 1] })), 'readLibsvm', f, /40 distinct labels in 40 lines.*options\.classes/);
    expect(readLibsvm(f, { shape: [1, 1, 1], classes: 40 }).classes).toBe(40);
    const t = writeFile(dir, 'years.libsvm.t', '1990 1:1\n');
    const loaded = await loadDataset(f, { shape: [1, 1, 1], classes: 50 });
    expect([loaded.train.classes, loaded.test.classes]).toEqual([50, 50]);
    expect(t).toBe(`${f}.t`);
  });
});

describe('IDX counts are reported on the right file', () => {
  test('a training-image file with 0 images', async () => {
    const img = writeFile(dir, 'zero-images', idxImages(0, 28, 28));
    const lab = writeFile(dir, 'zero-labels', idxLabels([]));
    expectFileError(thrown(() => readIdx(img, lab)), 'readIdx', img, /contains 0 images/);
    const d = path.join(dir, 'zero-idx');
    fs.mkdirSync(d);
    const trainImages = writeFile(d, 'train-images-idx3-ubyte', idxImages(0, 2, 2));
    writeFile(d, 'train-labels-idx1-ubyte', idxLabels([]));
    writeFile(d, 't10k-images-idx3-ubyte', idxImages(2, 2, 2));
    writeFile(d, 't10k-labels-idx1-ubyte', idxLabels([3, 1]));
    expectFileError(await rejection(loadDataset(d)), 'readIdx', trainImages, /contains 0 images/);
  });

  test('a label file with 0 labels, and count mismatches on the label file naming both', () => {
    const img = writeFile(dir, 'cnt-images', idxImages(5, 2, 2));
    const none = writeFile(dir, 'cnt-none-labels', idxLabels([]));
    expectFileError(thrown(() => readIdx(img, none)), 'readIdx', none, /contains 0 labels/);
    const three = writeFile(dir, 'cnt-labels.gz', idxLabels([0, 1, 0]), true);
    expectFileError(thrown(() => readIdx(img, three)), 'readIdx', three, /count mismatch: 3 labels but .*cnt-images has 5 images/);
  });
});

describe('gzip bombs: decompression bounded by what the header announces', () => {
  // 300 gzip members of 1 MiB of zeros each: 315 KB that gunzip to 300 MiB.
  let zeros: Buffer;
  beforeAll(() => {
    zeros = Buffer.concat(new Array(300).fill(zlib.gzipSync(Buffer.alloc(1 << 20))));
  });
  const within = async (ms: number, f: () => Promise<void>): Promise<void> => {
    const t = Date.now();
    await f();
    expect(Date.now() - t).toBeLessThan(ms);
  };

  test('IDX images: 46 bytes announced, 300 MiB inside', async () => {
    const bomb = Buffer.concat([zlib.gzipSync(idxImages(5, 2, 3)), zeros]);
    const img = writeFile(dir, 'bomb-images', bomb);
    const lab = writeFile(dir, 'bomb-ok-labels', idxLabels([0, 1, 0, 1, 0]));
    await within(2000, async () => {
      expectFileError(thrown(() => readIdx(img, lab)), 'readIdx', img, /decompresses to more than the 46 bytes its IDX header announces \(16 \+ 5×2×3\)/);
      expectFileError(await rejection(readIdxAsync(img, lab)), 'readIdx', img, /decompresses to more than the 46 bytes/);
    });
  });

  test('IDX labels: bounded by the image count', async () => {
    const img = writeFile(dir, 'bomb2-images', idxImages(5, 2, 3));
    const lab = writeFile(dir, 'bomb2-labels', Buffer.concat([zlib.gzipSync(idxLabels([0, 1, 0, 1, 0])), zeros]));
    await within(2000, async () => {
      expectFileError(thrown(() => readIdx(img, lab)), 'readIdx', lab, /decompresses to more than the 13 bytes its IDX header announces \(8 \+ 5\)/);
      expectFileError(await rejection(readIdxAsync(img, lab)), 'readIdx', lab, /decompresses to more than the 13 bytes/);
    });
    // a label header announcing more labels than there are images: refused before decompressing
    const many = Buffer.alloc(8);
    many.writeUInt32BE(0x801, 0);
    many.writeUInt32BE(4_000_000_000, 4);
    const lab2 = writeFile(dir, 'bomb3-labels', Buffer.concat([zlib.gzipSync(many), zeros]));
    expectFileError(thrown(() => readIdx(img, lab2)), 'readIdx', lab2, /count mismatch: 4000000000 labels but .*bomb2-images has 5 images/);
  });

  test('IDX: absurd dimensions in the header are refused before decompressing', async () => {
    const header = Buffer.alloc(16);
    header.writeUInt32BE(0x803, 0);
    header.writeUInt32BE(4_000_000_000, 4);
    header.writeUInt32BE(28, 8);
    header.writeUInt32BE(28, 12);
    const img = writeFile(dir, 'huge-images.gz', Buffer.concat([zlib.gzipSync(header), zeros]));
    const lab = writeFile(dir, 'huge-labels', idxLabels([0]));
    const err = thrown(() => readIdx(img, lab));
    expectFileError(err, 'readIdx', img, /header declares 4000000000×28×28 = 3136000000000 values, more than the 2147483647 a data set can hold/);
    expectFileError(await rejection(readIdxAsync(img, lab)), 'readIdx', img, /more than the 2147483647 a data set can hold/);
  });

  test('CIFAR and LIBSVM (no header): bounded by a ratio to the compressed size', async () => {
    const c = writeFile(dir, 'bomb.bin', zeros);
    const text = Buffer.concat(new Array(300).fill(zlib.gzipSync('1 1:1\n'.repeat(1 << 17))));
    const l = writeFile(dir, 'bomb.libsvm', text);
    await within(10000, async () => {
      expectFileError(thrown(() => readCifar([c])), 'readCifar', c, /decompresses to more than \d+ bytes \(.*compressed size.*\): corrupt or a gzip bomb/);
      expectFileError(await rejection(readCifarAsync([c])), 'readCifar', c, /decompresses to more than \d+ bytes/);
      expectFileError(thrown(() => readLibsvm(l, { shape: [1, 1, 1] })), 'readLibsvm', l, /decompresses to more than \d+ bytes/);
      expectFileError(await rejection(readLibsvmAsync(l, { shape: [1, 1, 1] })), 'readLibsvm', l, /decompresses to more than/);
    });
    // honest gzip files still read
    expect(readCifar([writeFile(dir, 'ok.bin.gz', cifarRecords([1, 2, 3]), true)]).length).toBe(3);
  });
});

describe('shapes too large to allocate', () => {
  test('LIBSVM with --shape 1000,1000,1000: a RangeError naming options.shape', async () => {
    const f = writeFile(dir, 'five.libsvm', '1 1:1\n2 2:1\n1 3:1\n2 1:1\n1 1:2\n');
    const err = thrown(() => readLibsvm(f, { shape: [1000, 1000, 1000] }));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe(
      `readLibsvm: ${f}: options.shape [1000, 1000, 1000] × 5 images = 5000000000 values, more than the ${MAX_DATASET_VALUES} a data set can hold`,
    );
    writeFile(dir, 'five.libsvm.t', '1 1:1\n');
    await expect(loadDataset(f, { shape: [1000, 1000, 1000] })).rejects.toThrow(/options.shape \[1000, 1000, 1000\] × 5 images/);
    // one image already too large: refused before the file is read
    const one = thrown(() => readLibsvm(path.join(dir, 'not-read'), { shape: [100000, 100000, 1] }));
    expect(one).toBeInstanceOf(RangeError);
    expect(one.message).toMatch(/^readLibsvm: options.shape \[100000, 100000, 1\] = 10000000000 values per image, more than the 2147483647/);
  });

  test('a data set larger than the available memory', () => {
    const f = writeFile(dir, 'mem.libsvm', Array.from({ length: 100 }, (_, i) => `${i % 2} 1:1`).join('\n'));
    const spy = jest.spyOn(os, 'freemem').mockReturnValue(100_000);
    try {
      const err = thrown(() => readLibsvm(f, { shape: [1, 28, 28] }));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.message).toMatch(
        /^readLibsvm: .*mem.libsvm: options.shape \[1, 28, 28\] × 100 images = 78400 values needs 313600 bytes but only 100000 bytes of memory are available/,
      );
    } finally {
      spy.mockRestore();
    }
    expect(readLibsvm(f, { shape: [1, 28, 28] }).length).toBe(100);
  });
});
