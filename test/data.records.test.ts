// Binary data sets streamed from disk (lib/data/records.ts): CIFAR-10/100 batches and
// uncompressed IDX files opened as record sets give the same batches as the same files read into
// memory — through gatherBatch, through the loader with crop-flip (bit for bit, every example once
// per epoch), through subsets — and trainSgd on them gives the same parameters as on the data in
// memory; every malformed file is a DataFileError naming it; `newton-cnn train --stream` end to end.
import * as path from 'node:path';

import { main } from '../lib/cli';
import {
  DataFileError,
  DataLoader,
  gatherBatch,
  normalizeRecords,
  openCifarRecords,
  paperPreprocess,
  paperPreprocessRecords,
  openIdxRecords,
  openRecordDirectory,
  readCifar,
  readIdx,
  recordChannelStats,
  subset,
  type AnyDataset,
  type Dataset,
} from '../lib/data';
import { cnn3, crossEntropyLoss } from '../lib/nn';
import { evaluateObjective, evaluateObjectiveAsync, objectiveSteps, trainSgd } from '../lib/train';
import { settledBytesInUse } from './helpers';
import { fakeIo } from './cli.helpers';
import { batchValues, cifarRecords, idxImages, idxLabels, makeTempDir, removeDir, writeFile } from './data.fixtures';

let dir: string;
let cifarDir: string;
const labels10 = Array.from({ length: 60 }, (_, i) => (i * 7) % 10);
beforeAll(() => {
  dir = makeTempDir();
  cifarDir = path.join(dir, 'cifar10');
  require('node:fs').mkdirSync(cifarDir);
  // five training batches of 10 records and a test batch of 10, as CIFAR-10 lays them out
  for (let b = 0; b < 5; b++) writeFile(cifarDir, `data_batch_${b + 1}.bin`, cifarRecords(labels10.slice(b * 10, b * 10 + 10)));
  writeFile(cifarDir, 'test_batch.bin', cifarRecords(labels10.slice(50)));
  writeFile(cifarDir, 'batches.meta.txt', 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
});
afterAll(() => removeDir(dir));

const all = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

function inMemoryCifar(): Dataset {
  return readCifar([1, 2, 3, 4, 5].map((b) => path.join(cifarDir, `data_batch_${b}.bin`)), { variant: 10 });
}

test('CIFAR-10 records: labels and images equal the files read into memory (gatherBatch, subsets)', async () => {
  const rec = await openCifarRecords([1, 2, 3, 4, 5].map((b) => path.join(cifarDir, `data_batch_${b}.bin`)));
  const mem = inMemoryCifar();
  expect(rec.kind).toBe('records');
  expect(rec.length).toBe(50);
  expect(rec.shape).toEqual([3, 32, 32]);
  expect(Array.from(rec.labels)).toEqual(Array.from(mem.labels));
  const order = Int32Array.from([49, 0, 13, 27, 10]);
  expect(batchValues(rec, order)).toEqual(batchValues(mem, order));
  const sub = subset(rec, [3, 40, 11]);
  const memSub = subset(mem, [3, 40, 11]);
  expect(batchValues(sub, all(3))).toEqual(batchValues(memSub, all(3)));
  const subsub = subset(sub, [2, 0]);
  expect(batchValues(subsub, all(2))).toEqual(batchValues(subset(memSub, [2, 0]), all(2)));
});

test('the loader streams records with crop-flip and normalisation exactly as it assembles the data in memory', async () => {
  const rec = await openCifarRecords([1, 2, 3, 4, 5].map((b) => path.join(cifarDir, `data_batch_${b}.bin`)));
  const mem = inMemoryCifar();
  const stats = await recordChannelStats(rec, { count: 50 });
  const norm = normalizeRecords(rec, stats);
  const streamed = new DataLoader(norm, { batchSize: 16, seed: 5, augment: 'crop-flip' });
  const held = new DataLoader(mem, { batchSize: 16, seed: 5, augment: { crop: { size: 32, padding: 4 }, flip: true, normalize: stats } });
  for (const epoch of [0, 3]) {
    const a: number[] = [];
    const b: number[] = [];
    const seen: number[] = [];
    for await (const batch of streamed.epoch(epoch)) {
      for (const v of batch.x.toArray()) a.push(v);
      seen.push(...batch.labels);
      batch.x.dispose();
      batch.y.dispose();
    }
    for await (const batch of held.epoch(epoch)) {
      for (const v of batch.x.toArray()) b.push(v);
      batch.x.dispose();
      batch.y.dispose();
    }
    expect(a).toEqual(b);
    expect(seen.sort()).toEqual(Array.from(mem.labels).sort());
  }
  expect(() => new DataLoader(norm, { batchSize: 4, augment: { normalize: stats } })).toThrow(/record set .* is normalised already/);
});

test('trainSgd on the streamed records reaches the same parameters as on the data in memory', async () => {
  const rec = await openCifarRecords([1, 2, 3, 4, 5].map((b) => path.join(cifarDir, `data_batch_${b}.bin`)));
  const mem = inMemoryCifar();
  const stats = { mean: [120, 125, 130], std: [70, 72, 74] };
  const run = async (train: AnyDataset, augment: Parameters<typeof trainSgd>[2]['augment']): Promise<Float32Array | Float64Array> => {
    const m = cnn3([3, 32, 32], 10, { seed: 4 });
    try {
      await trainSgd(m, train, { epochs: 2, batchSize: 16, loss: crossEntropyLoss, seed: 3, augment, sgd: { learningRate: 0.001 }, evaluateEvery: 'never' });
      return m.getParameters();
    } finally {
      m.dispose();
    }
  };
  const a = await run(normalizeRecords(rec, stats), 'crop-flip');
  const b = await run(mem, { crop: { size: 32, padding: 4 }, flip: true, normalize: stats });
  expect(Array.from(a)).toEqual(Array.from(b));
}, 60000);

test('CIFAR-100 records: fine and coarse labels', async () => {
  const file = writeFile(dir, 'train100.bin', cifarRecords([[3, 77], [19, 5], [0, 99]]));
  expect(Array.from((await openCifarRecords([file], { labels: 'fine' })).labels)).toEqual([77, 5, 99]);
  const coarse = await openCifarRecords([file], { labels: 'coarse' });
  expect(Array.from(coarse.labels)).toEqual([3, 19, 0]);
  expect(coarse.classes).toBe(20);
  const mem = readCifar([file], { variant: 100, labels: 'coarse' });
  expect(batchValues(coarse, all(3))).toEqual(batchValues(mem, all(3)));
});

test('IDX records equal readIdx; a directory opens as train and test sets', async () => {
  const idxDir = path.join(dir, 'idx');
  require('node:fs').mkdirSync(idxDir);
  const trainLabels = [0, 1, 2, 1, 0, 2, 2];
  writeFile(idxDir, 'train-images-idx3-ubyte', idxImages(7, 5, 4));
  writeFile(idxDir, 'train-labels-idx1-ubyte', idxLabels(trainLabels));
  writeFile(idxDir, 't10k-images-idx3-ubyte', idxImages(3, 5, 4));
  writeFile(idxDir, 't10k-labels-idx1-ubyte', idxLabels([2, 0, 1]));
  const { train, test } = await openRecordDirectory(idxDir);
  expect(train.shape).toEqual([1, 5, 4]);
  expect(train.classes).toBe(3);
  expect(test.length).toBe(3);
  const mem = readIdx(path.join(idxDir, 'train-images-idx3-ubyte'), path.join(idxDir, 'train-labels-idx1-ubyte'));
  expect(batchValues(train, Int32Array.from([6, 0, 3]))).toEqual(batchValues(mem, Int32Array.from([6, 0, 3])));
  const c10 = await openRecordDirectory(cifarDir);
  expect(c10.train.length).toBe(50);
  expect(c10.test.length).toBe(10);
  expect(c10.classNames?.[9]).toBe('truck');
});

test('malformed files are DataFileErrors naming them', async () => {
  const gz = writeFile(dir, 'gz.bin', cifarRecords([1, 2]), true);
  await expect(openCifarRecords([gz])).rejects.toThrow(/gz.bin: is gzip-compressed; streaming reads uncompressed CIFAR batches/);
  const short = writeFile(dir, 'short.bin', cifarRecords([1, 2]).subarray(0, 5000));
  await expect(openCifarRecords([short])).rejects.toThrow(/short.bin: 5000 bytes is not a whole number of CIFAR-10 records of 3073 bytes/);
  const badLabel = writeFile(dir, 'label.bin', cifarRecords([1, 12]));
  const e = await openCifarRecords([badLabel]).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(DataFileError);
  expect((e as DataFileError).message).toMatch(/label.bin: record 1 has label 12, outside \[0, 10\)/);
  await expect(openCifarRecords([path.join(dir, 'missing.bin')])).rejects.toThrow(/missing.bin: file not found/);
  const images = writeFile(dir, 'i-idx3', idxImages(4, 3, 3));
  const cut = writeFile(dir, 'cut-idx3', idxImages(4, 3, 3).subarray(0, 30));
  const lab = writeFile(dir, 'l-idx1', idxLabels([0, 1, 0, 1]));
  const lab3 = writeFile(dir, 'l3-idx1', idxLabels([0, 1, 0]));
  await expect(openIdxRecords(cut, lab)).rejects.toThrow(/cut-idx3: 30 bytes, but its header \(4 images of 3×3\) needs 52/);
  await expect(openIdxRecords(images, lab3)).rejects.toThrow(/l3-idx1: 3 labels for the 4 images/);
  await expect(openIdxRecords(images, lab, { classes: 1 })).rejects.toThrow(/label 1 is outside \[0, 1\)/);
  await expect(openIdxRecords(lab, lab)).rejects.toThrow(/wrong magic number 0x00000801, expected 0x00000803/);
  await expect(openRecordDirectory(dir)).rejects.toThrow(/streaming reads a CIFAR binary directory .* or an IDX directory of uncompressed files/);
});

test('newton-cnn train --stream trains on a CIFAR directory read batch by batch, with the same result as the data in memory', async () => {
  const run = async (extra: string[]): Promise<{ testAccuracy: number; objective: number; options: { stream?: boolean; preprocess: string }; data: { train: number; test: number } }> => {
    const f = fakeIo(dir);
    const code = await main(['train', '--data', cifarDir, ...extra, '--quiet', '--json'], f.io);
    expect(f.err.text).toBe('');
    expect(code).toBe(0);
    return JSON.parse(f.out.text);
  };
  for (const optimizer of [['--optimizer', 'sgd', '--epochs', '2', '--batch-size', '16', '--augment', 'crop-flip'], ['--iterations', '2', '--sampling-rate', '0.2', '--cg-max', '5']]) {
    const streamed = await run([...optimizer, '--stream']);
    const held = await run(optimizer);
    expect(streamed.options).toMatchObject({ stream: true, preprocess: 'paper' });
    expect(streamed.data).toMatchObject({ train: 50, test: 10 });
    expect(streamed.objective).toBe(held.objective);
    expect(streamed.testAccuracy).toBe(held.testAccuracy);
  }
}, 120000);

test('--stream where it cannot apply is a usage error; paperPreprocessRecords equals paperPreprocess', async () => {
  const rec = await openCifarRecords([1, 2, 3, 4, 5].map((b) => path.join(cifarDir, `data_batch_${b}.bin`)));
  const test = await openCifarRecords([path.join(cifarDir, 'test_batch.bin')]);
  const p = await paperPreprocessRecords(rec, test);
  const mem = paperPreprocess(inMemoryCifar(), readCifar([path.join(cifarDir, 'test_batch.bin')], { variant: 10 }));
  expect(Array.from(p.mean)).toEqual(Array.from(mem.mean));
  expect(batchValues(p.train, Int32Array.from([3, 44, 0]))).toEqual(batchValues(mem.train, Int32Array.from([3, 44, 0])));
  expect(batchValues(p.test, all(10))).toEqual(batchValues(mem.test, all(10)));
  await expect(paperPreprocessRecords(p.train, p.test)).rejects.toThrow(/preprocessed already/);
  expect(() => normalizeRecords(p.train, { mean: [0, 0, 0], std: [1, 1, 1] })).toThrow(/has the paper's preprocessing already/);
  const g = fakeIo(dir);
  expect(await main(['train', '--stream'], g.io)).toBe(2);
  expect(g.err.text).toMatch(/--stream: .*streaming reads a CIFAR binary directory/);
  const h = fakeIo(dir);
  expect(await main(['train', '--data', cifarDir, '--stream', '--format', 'libsvm'], h.io)).toBe(2);
  expect(h.err.text).toMatch(/--stream reads CIFAR binary, SVHN .mat and uncompressed IDX directories, not --format libsvm/);
}, 60000);

test('a pass over streamed data reads each mini-batch during the previous one, with the same result; an abandoned pass frees the batch read ahead', async () => {
  const rec = await openCifarRecords([1, 2, 3, 4, 5].map((b) => path.join(cifarDir, `data_batch_${b}.bin`)));
  const mem = inMemoryCifar();
  const model = cnn3([3, 32, 32], 10, { seed: 2 });
  try {
    const o = { C: 0.01, loss: crossEntropyLoss, batchSize: 16, gradient: true };
    const streamed = await evaluateObjectiveAsync(model, rec, o);
    const held = evaluateObjective(model, mem, o);
    expect(streamed.value).toBe(held.value);
    expect(Array.from(streamed.gradient!.toArray())).toEqual(Array.from(held.gradient!.toArray()));
    streamed.gradient!.dispose();
    held.gradient!.dispose();
    // the generator yields the read of each batch (4 of them) before it needs it
    const steps = objectiveSteps(model, rec, { ...o, gradient: false, prefetch: true });
    let reads = 0;
    for (;;) {
      const r = steps.next();
      if (r.done) break;
      if (r.value instanceof Promise) {
        reads++;
        await r.value;
      }
    }
    expect(reads).toBeGreaterThanOrEqual(1);
    expect(reads).toBeLessThanOrEqual(4);
    // without awaiting, a prefetching pass says what it needs
    expect(() => {
      const g = objectiveSteps(model, rec, { ...o, prefetch: true });
      g.next();
      g.next();
    }).toThrow(/options.prefetch needs a driver that awaits the Promises the steps yield/);
    // abandoned after one batch, with the next one being read: its tensors are freed when it lands
    const before = settledBytesInUse();
    const g = objectiveSteps(model, rec, { ...o, gradient: false, prefetch: true });
    const first = g.next();
    if (first.value instanceof Promise) await first.value;
    g.next(); // computes batch 0, starts reading batch 1
    g.return(undefined as never);
    await new Promise((r) => setTimeout(r, 200));
    model.releaseCache();
    expect(settledBytesInUse()).toBe(before);
  } finally {
    model.dispose();
  }
});
