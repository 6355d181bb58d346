// loadDataset: the bundled fashion-mnist-small, the Debian fashion-mnist, and paths in each format.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundledDataDir, DataFileError, FASHION_MNIST_DIR, loadDataset, packageRoot } from '../lib/data';
import { cifarRecords, idxImages, idxLabels, makeTempDir, removeDir, writeFile } from './data.fixtures';

let dir: string;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => removeDir(dir));

const classCounts = (labels: Int32Array, classes: number): number[] => {
  const c = new Array<number>(classes).fill(0);
  labels.forEach((l) => c[l]++);
  return c;
};

describe('named data sets', () => {
  test('the package root and the bundled directory are found from lib/data', () => {
    expect(fs.existsSync(path.join(packageRoot(), 'package.json'))).toBe(true);
    expect(bundledDataDir()).toBe(path.join(packageRoot(), 'lib', 'data', 'bundled', 'fashion-mnist-small'));
  });

  test("'fashion-mnist-small' (the default): 10,000 / 2,000 images [1, 28, 28], 10 balanced classes, raw pixels", async () => {
    // The loading is asynchronous (fs.promises + zlib.gunzip): the event loop runs while it reads.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const { train, test } = await loadDataset();
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(train.name).toBe('fashion-mnist-small/train');
    expect(test.name).toBe('fashion-mnist-small/test');
    expect(train.length).toBe(10000);
    expect(test.length).toBe(2000);
    expect(train.shape).toEqual([1, 28, 28]);
    expect(test.shape).toEqual([1, 28, 28]);
    expect(train.classes).toBe(10);
    expect(test.classes).toBe(10);
    expect(classCounts(train.labels, 10)).toEqual(new Array(10).fill(1000));
    expect(classCounts(test.labels, 10)).toEqual([200, 203, 214, 190, 219, 195, 197, 200, 194, 188]);
    let min = Infinity;
    let max = -Infinity;
    for (const v of train.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 255]);
    const same = await loadDataset('fashion-mnist-small', { shape: [1, 28, 28] });
    expect(same.test.labels).toEqual(test.labels);
  });

  const installed = fs.existsSync(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
  (installed ? test : test.skip)("'fashion-mnist': the Debian package's 60,000 / 10,000 images", async () => {
    const { train, test } = await loadDataset('fashion-mnist');
    expect([train.length, test.length]).toEqual([60000, 10000]);
    expect(train.shape).toEqual([1, 28, 28]);
    expect(train.classes).toBe(10);
  });
  if (!installed) {
    test("'fashion-mnist' when not installed says how to install it", async () => {
      await expect(loadDataset('fashion-mnist')).rejects.toThrow(/apt-get install dataset-fashion-mnist/);
    });
  }
});

describe('paths', () => {
  test('an IDX directory (raw and gz files, - or . before idx)', async () => {
    const d = path.join(dir, 'idx');
    fs.mkdirSync(d);
    writeFile(d, 'train-images-idx3-ubyte.gz', idxImages(6, 3, 4), true);
    writeFile(d, 'train-labels-idx1-ubyte', idxLabels([0, 1, 2, 0, 1, 2]));
    writeFile(d, 't10k-images.idx3-ubyte', idxImages(2, 3, 4));
    writeFile(d, 't10k-labels.idx1-ubyte.gz', idxLabels([2, 1]), true);
    const { train, test } = await loadDataset(d);
    expect(train.name).toBe('idx/train');
    expect([train.length, test.length]).toEqual([6, 2]);
    expect(train.shape).toEqual([1, 3, 4]);
    expect(train.classes).toBe(3);
    expect(test.classes).toBe(3);
    expect(Array.from(test.labels)).toEqual([2, 1]);
    await expect(loadDataset(d, { shape: [1, 4, 3] })).rejects.toThrow(
      /loadDataset: .*idx has images of shape \[1, 3, 4\] but options.shape is \[1, 4, 3\]/,
    );
  });

  test('an IDX directory whose test labels exceed the training classes', async () => {
    const d = path.join(dir, 'idx-bad');
    fs.mkdirSync(d);
    writeFile(d, 'train-images-idx3-ubyte', idxImages(2, 2, 2));
    writeFile(d, 'train-labels-idx1-ubyte', idxLabels([0, 1]));
    writeFile(d, 't10k-images-idx3-ubyte', idxImages(1, 2, 2));
    writeFile(d, 't10k-labels-idx1-ubyte', idxLabels([4]));
    await expect(loadDataset(d)).rejects.toThrow(DataFileError);
    await expect(loadDataset(d)).rejects.toThrow(/readIdx: .*t10k-labels-idx1-ubyte: label 4 of item 0 out of range \[0, 2\)/);
  });

  test('a CIFAR-10 binary directory and a CIFAR-100 one', async () => {
    const c10 = path.join(dir, 'cifar-10-batches-bin');
    fs.mkdirSync(c10);
    for (let i = 1; i <= 5; i++) writeFile(c10, `data_batch_${i}.bin`, cifarRecords([i, 9 - i]));
    writeFile(c10, 'test_batch.bin', cifarRecords([3]));
    const a = await loadDataset(c10);
    expect([a.train.length, a.test.length]).toEqual([10, 1]);
    expect(a.train.shape).toEqual([3, 32, 32]);
    expect(Array.from(a.train.labels)).toEqual([1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
    expect(a.train.classes).toBe(10);

    const c100 = path.join(dir, 'cifar-100-binary');
    fs.mkdirSync(c100);
    writeFile(c100, 'train.bin', cifarRecords([[1, 77], [2, 5]]));
    writeFile(c100, 'test.bin', cifarRecords([[3, 99]]));
    const b = await loadDataset(c100, { format: 'cifar' });
    expect(b.train.classes).toBe(100);
    expect(Array.from(b.test.labels)).toEqual([99]);

    const empty = path.join(dir, 'empty-dir');
    fs.mkdirSync(empty);
    await expect(loadDataset(empty)).rejects.toThrow(/loadDataset: .*empty-dir: not a CIFAR binary directory/);
    await expect(loadDataset(empty, { format: 'idx' })).rejects.toThrow(/loadDataset: .*empty-dir: no IDX file train-images-idx3-ubyte/);
  });

  test('a LIBSVM file: shape required, test file from testPath or `${path}.t`, one label mapping', async () => {
    const f = writeFile(dir, 'digits', '1 1:1\n3 2:1\n5 3:1 4:2\n');
    writeFile(dir, 'digits.t', '5 1:3\n3 4:1\n');
    const a = await loadDataset(f, { shape: [1, 2, 2] });
    expect(a.train.labelValues).toEqual([1, 3, 5]);
    expect(Array.from(a.test.labels)).toEqual([2, 1]); // mapped with the training set's labels
    expect(a.test.classes).toBe(3);
    expect(Array.from(a.test.images)).toEqual([3, 0, 0, 0, 0, 0, 0, 1]);
    const other = writeFile(dir, 'other-test', '1 1:1\n');
    const b = await loadDataset(f, { format: 'libsvm', shape: [1, 2, 2], testPath: other });
    expect(Array.from(b.test.labels)).toEqual([0]);
    await expect(loadDataset(f)).rejects.toThrow(/loadDataset: .*digits: a LIBSVM file needs options.shape/);
    const lone = writeFile(dir, 'lone', '1 1:1\n');
    await expect(loadDataset(lone, { shape: [1, 2, 2] })).rejects.toThrow(/lone: a LIBSVM training file needs options.testPath.*lone.t does not exist/);
    const unknown = writeFile(dir, 'unknown-test', '4 1:1\n');
    await expect(loadDataset(f, { shape: [1, 2, 2], testPath: unknown })).rejects.toThrow(
      /readLibsvm: .*unknown-test: line 1: label 4 is not one of the known labels \[1, 3, 5\]/,
    );
  });

  test('unknown names, wrong kinds of path, bad options', async () => {
    await expect(loadDataset('no-such-data')).rejects.toThrow(
      /loadDataset: 'no-such-data' is neither a known data set \(fashion-mnist-small, fashion-mnist\) nor an existing file or directory/,
    );
    await expect(loadDataset(dir, { format: 'libsvm', shape: [1, 1, 1] })).rejects.toThrow(/is a directory, but a LIBSVM data set is a file/);
    const f = writeFile(dir, 'plain', '1 1:1\n');
    await expect(loadDataset(f, { format: 'idx' })).rejects.toThrow(/plain: is a file, but idx data sets are directories/);
    await expect(loadDataset('', {})).rejects.toThrow(TypeError);
    await expect(loadDataset(f, { format: 'csv' as 'idx' })).rejects.toThrow(/options.format must be 'idx', 'cifar', 'libsvm' or 'svhn', got csv/);
    await expect(loadDataset(f, { shape: [0, 1, 1] })).rejects.toThrow(RangeError);
  });
});
