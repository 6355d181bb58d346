/**
 * Binary data sets streamed from disk: CIFAR-10/100 binary batches and uncompressed IDX files
 * opened as {@link RecordFile}s (SVHN's `.mat` files: lib/data/svhn-records.ts). Only the labels are read up front (a pass over the files in
 * 4 MiB chunks); each batch's images are read with pread by the native core's threads when the
 * batch is made (note [record batches] in native/core/record_batch.h), so a set of any size
 * needs no more memory than its labels and the prefetch queue.
 *
 * ```ts
 * const train = await openCifarRecords(['data_batch_1.bin', …, 'data_batch_5.bin']);
 * const loader = new DataLoader(normalizeRecords(train, CIFAR10_STATS), { batchSize: 128, augment: 'crop-flip' });
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { native, type NativeRecordSource } from '../native';
import { hostBatch } from './host-batch';
import type { Batch, GatherBatchOptions } from './batch';
import { checkAnyDataset, checkChannelStats, DataFileError, describe, imageSize, type RecordFile } from './dataset';
import { isGzip, readError } from './files';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx';
import { CIFAR10_TRAIN, exists, labelNameFile } from './load';
import { Rng } from './rng';
import { SVHN_CLASSES } from './svhn';
import { openSvhnRecords } from './svhn-records';

/** Labels read per chunk while opening (records are small: a chunk holds thousands). */
const CHUNK_BYTES = 4 * 2 ** 20;

async function openFile(fn: string, file: string): Promise<{ fd: fs.promises.FileHandle; size: number }> {
  try {
    const fd = await fs.promises.open(file, 'r');
    return { fd, size: (await fd.stat()).size };
  } catch (e) {
    throw readError(fn, file, e);
  }
}

/** The label bytes at `labelOffset` of each of `count` records of `recordBytes` from `offset` on. */
async function readRecordLabels(fn: string, file: string, fd: fs.promises.FileHandle, offset: number, count: number, recordBytes: number, labelOffset: number): Promise<Uint8Array> {
  const out = new Uint8Array(count);
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / recordBytes));
  const buf = Buffer.alloc(perChunk * recordBytes);
  for (let first = 0; first < count; first += perChunk) {
    const n = Math.min(perChunk, count - first);
    const { bytesRead } = await fd.read(buf, 0, n * recordBytes, offset + first * recordBytes);
    if (bytesRead !== n * recordBytes) throw new DataFileError(`${fn}: ${file}: short read at record ${first} (the file changed while it was read?)`, file);
    for (let i = 0; i < n; i++) out[first + i] = buf[i * recordBytes + labelOffset];
  }
  return out;
}

function freeze(r: RecordFile): RecordFile {
  return Object.freeze(r);
}

/** Options of {@link openCifarRecords}. */
export interface OpenCifarRecordsOptions {
  /** CIFAR-100 files: 'fine' (100 classes, default) or 'coarse' (20); absent for CIFAR-10. */
  labels?: 'fine' | 'coarse';
  /** 10 (CIFAR-10, records of 1 + 3072 bytes, the default) or 100 (CIFAR-100, 2 + 3072 bytes). */
  variant?: 10 | 100;
  /** Name of the data set (default: the first file's folder and name). */
  name?: string;
}

/**
 * CIFAR binary batch files (uncompressed) as one {@link RecordFile} of shape [3, 32, 32]: the
 * labels are read now, the images when batches need them.
 * @throws DataFileError naming a file that is missing, gzip-compressed, not a whole number of
 *   records, or holds a label outside the classes.
 */
export async function openCifarRecords(files: readonly string[], options: OpenCifarRecordsOptions = {}): Promise<RecordFile> {
  const fn = 'openCifarRecords';
  if (!Array.isArray(files) || files.length === 0 || !files.every((f) => typeof f === 'string' && f !== '')) {
    throw new TypeError(`${fn}: files must be a non-empty array of file paths, got ${describe(files)}`);
  }
  const variant = options.variant ?? (options.labels !== undefined ? 100 : 10);
  if (variant !== 10 && variant !== 100) throw new RangeError(`${fn}: options.variant must be 10 or 100, got ${String(variant)}`);
  if (variant === 10 && options.labels !== undefined) throw new RangeError(`${fn}: options.labels is for CIFAR-100 files (variant 100)`);
  const which = options.labels ?? 'fine';
  if (which !== 'fine' && which !== 'coarse') throw new RangeError(`${fn}: options.labels must be 'fine' or 'coarse', got ${String(which)}`);
  const labelBytes = variant === 10 ? 1 : 2;
  const labelOffset = variant === 10 ? 0 : which === 'coarse' ? 0 : 1;
  const classes = variant === 10 ? 10 : which === 'coarse' ? 20 : 100;
  const recordBytes = labelBytes + 3072;
  const counts: number[] = [];
  const parts: Uint8Array[] = [];
  for (const file of files) {
    const { fd, size } = await openFile(fn, file);
    try {
      const head = Buffer.alloc(2);
      await fd.read(head, 0, 2, 0);
      if (isGzip(head)) throw new DataFileError(`${fn}: ${file}: is gzip-compressed; streaming reads uncompressed CIFAR batches (gunzip it, or read it into memory with readCifar)`, file);
      if (size === 0 || size % recordBytes !== 0) {
        throw new DataFileError(`${fn}: ${file}: ${size} bytes is not a whole number of CIFAR-${variant} records of ${recordBytes} bytes`, file);
      }
      const count = size / recordBytes;
      const labels = await readRecordLabels(fn, file, fd, 0, count, recordBytes, labelOffset);
      const bad = labels.findIndex((l) => l >= classes);
      if (bad >= 0) throw new DataFileError(`${fn}: ${file}: record ${bad} has label ${labels[bad]}, outside [0, ${classes})`, file);
      counts.push(count);
      parts.push(labels);
    } finally {
      await fd.close();
    }
  }
  const labels = new Int32Array(counts.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const p of parts) {
    labels.set(p, at);
    at += p.length;
  }
  const source: NativeRecordSource = {
    files: files.map((f) => path.resolve(f)),
    offsets: files.map(() => 0),
    counts,
    recordBytes,
    imageOffset: labelBytes,
    layout: 'chw',
  };
  return freeze({
    kind: 'records',
    name: options.name ?? path.join(path.basename(path.dirname(path.resolve(files[0]))), path.basename(files[0])),
    source: Object.freeze(source),
    labels,
    shape: Object.freeze([3, 32, 32]) as readonly [number, number, number],
    classes,
    length: labels.length,
  });
}

/**
 * An uncompressed IDX image file and its label file as a {@link RecordFile} of shape [1, H, W].
 * @throws DataFileError naming the file: missing, gzip-compressed, a wrong magic number, a size
 *   that disagrees with the header, counts that differ, a label ≥ classes.
 */
export async function openIdxRecords(imagesFile: string, labelsFile: string, options: { classes?: number; name?: string } = {}): Promise<RecordFile> {
  const fn = 'openIdxRecords';
  const images = await openFile(fn, imagesFile);
  let count: number;
  let h: number;
  let w: number;
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await images.fd.read(head, 0, 16, 0);
    if (isGzip(head)) throw new DataFileError(`${fn}: ${imagesFile}: is gzip-compressed; streaming reads uncompressed IDX files (gunzip it, or read it into memory with readIdx)`, imagesFile);
    if (bytesRead >= 4 && head.readUInt32BE(0) !== IDX_IMAGES_MAGIC) throw new DataFileError(`${fn}: ${imagesFile}: wrong magic number 0x${head.readUInt32BE(0).toString(16).padStart(8, '0')}, expected 0x00000803 (IDX images)`, imagesFile);
    if (bytesRead < 16) throw new DataFileError(`${fn}: ${imagesFile}: truncated IDX header (${bytesRead} bytes)`, imagesFile);
    count = head.readUInt32BE(4);
    h = head.readUInt32BE(8);
    w = head.readUInt32BE(12);
    if (h < 1 || w < 1 || count < 1) throw new DataFileError(`${fn}: ${imagesFile}: header says ${count} images of ${h}×${w}`, imagesFile);
    const need = 16 + count * h * w;
    if (images.size !== need) throw new DataFileError(`${fn}: ${imagesFile}: ${images.size} bytes, but its header (${count} images of ${h}×${w}) needs ${need}`, imagesFile);
  } finally {
    await images.fd.close();
  }
  const lab = await openFile(fn, labelsFile);
  let labels: Uint8Array;
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await lab.fd.read(head, 0, 8, 0);
    if (isGzip(head)) throw new DataFileError(`${fn}: ${labelsFile}: is gzip-compressed; streaming reads uncompressed IDX files (gunzip it)`, labelsFile);
    if (bytesRead < 8 || head.readUInt32BE(0) !== IDX_LABELS_MAGIC) throw new DataFileError(`${fn}: ${labelsFile}: not an IDX label file (magic 0x00000801)`, labelsFile);
    const n = head.readUInt32BE(4);
    if (n !== count) throw new DataFileError(`${fn}: ${labelsFile}: ${n} labels for the ${count} images of ${imagesFile}`, labelsFile);
    if (lab.size !== 8 + n) throw new DataFileError(`${fn}: ${labelsFile}: ${lab.size} bytes, but its header (${n} labels) needs ${8 + n}`, labelsFile);
    labels = await readRecordLabels(fn, labelsFile, lab.fd, 8, n, 1, 0);
  } finally {
    await lab.fd.close();
  }
  const max = labels.reduce((a, b) => Math.max(a, b), 0);
  const classes = options.classes ?? max + 1;
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`${fn}: options.classes must be a positive integer, got ${String(options.classes)}`);
  if (max >= classes) throw new DataFileError(`${fn}: ${labelsFile}: label ${max} is outside [0, ${classes}) (options.classes)`, labelsFile);
  const source: NativeRecordSource = { files: [path.resolve(imagesFile)], offsets: [16], counts: [count], recordBytes: h * w, imageOffset: 0, layout: 'chw' };
  return freeze({
    kind: 'records',
    name: options.name ?? path.basename(imagesFile),
    source: Object.freeze(source),
    labels: Int32Array.from(labels),
    shape: Object.freeze([1, h, w]) as readonly [number, number, number],
    classes,
    length: count,
  });
}

/**
 * A copy of `ds` whose batches are normalised per channel, (x − mean[c]) / std[c] on 0..255 values.
 * @throws RangeError unless mean and std hold one finite value per channel, std > 0.
 */
export function normalizeRecords(ds: RecordFile, stats: { mean: ArrayLike<number>; std: ArrayLike<number> }): RecordFile {
  const fn = 'normalizeRecords';
  checkAnyDataset(fn, 'ds', ds);
  if (ds.paperMean !== undefined) throw new RangeError(`${fn}: '${ds.name}' has the paper's preprocessing already`);
  const c = ds.shape[0];
  return freeze({ ...ds, normalize: checkChannelStats(fn, stats, c) });
}

/** The native description of `ds`'s records, with its paper preprocessing. */
export function nativeSource(ds: RecordFile): NativeRecordSource {
  const s = ds.source;
  return {
    files: [...s.files],
    offsets: [...s.offsets],
    counts: [...s.counts],
    recordBytes: s.recordBytes,
    imageOffset: s.imageOffset,
    layout: s.layout,
    ...(ds.paperMean !== undefined ? { paperMean: ds.paperMean } : {}),
  };
}

/**
 * The Newton paper's preprocessing (paperPreprocess) of record sets: the training images' pixel
 * mean after per-image min-max scaling, computed in one streaming pass in the order
 * paperPreprocess sums (so equal to it on the same data in memory), and both sets with the
 * preprocessing applied when their batches are made.
 * @throws RangeError when the shapes differ or normalisation is already set.
 */
export async function paperPreprocessRecords(train: RecordFile, test: RecordFile): Promise<{ train: RecordFile; test: RecordFile; mean: Float32Array }> {
  const fn = 'paperPreprocessRecords';
  checkAnyDataset(fn, 'train', train);
  checkAnyDataset(fn, 'test', test);
  if (train.shape.some((d, i) => d !== test.shape[i])) throw new RangeError(`${fn}: train images have shape [${train.shape.join(', ')}] but test images have [${test.shape.join(', ')}]`);
  for (const [name, ds] of [['train', train], ['test', test]] as const) {
    if (ds.normalize !== undefined || ds.paperMean !== undefined) throw new RangeError(`${fn}: ${name} '${ds.name}' is preprocessed already`);
  }
  if (train.length === 0) throw new RangeError(`${fn}: train is empty`);
  const size = imageSize(train.shape);
  const acc = new Float64Array(size);
  const batch = 512;
  const x = new Float32Array(batch * size);
  const y = new Float32Array(batch * train.classes);
  const labels = new Int32Array(batch);
  const source = nativeSource(train);
  for (let s = 0; s < train.length; s += batch) {
    const e = Math.min(train.length, s + batch);
    const order = recordOrder(train, Int32Array.from({ length: e - s }, (_, i) => s + i));
    await native().recordBatchAsync(source, recordLabels(train), order, plainOptions(train, s), x.subarray(0, (e - s) * size), y.subarray(0, (e - s) * train.classes), labels.subarray(0, e - s));
    // per-image min-max scaling exactly as minMaxScale (lib/data/preprocess.ts), then the sums of pixelMean
    for (let i = 0; i < e - s; i++) {
      const img = x.subarray(i * size, (i + 1) * size);
      let min = Infinity;
      let max = -Infinity;
      for (let k = 0; k < size; k++) {
        const v = img[k];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const range = max - min;
      if (range > 0) for (let k = 0; k < size; k++) acc[k] += Math.fround((img[k] - min) / range);
    }
  }
  const mean = new Float32Array(size);
  for (let k = 0; k < size; k++) mean[k] = acc[k] / train.length;
  return { train: freeze({ ...train, paperMean: mean }), test: freeze({ ...test, paperMean: mean }), mean };
}

/** The record indices of data set positions `order` (through ds.indices when the set is a subset). */
export function recordOrder(ds: RecordFile, order: Int32Array): Int32Array {
  const idx = ds.indices;
  return idx === undefined ? order : Int32Array.from(order, (i) => idx[i]);
}

/** The labels of every record of the files (ds.labels is per data set position; a subset's differ). */
export function recordLabels(ds: RecordFile): Int32Array {
  return ds.recordLabels ?? ds.labels;
}

/** The native options of a batch of `ds` with no augmentation but the set's normalisation. */
function plainOptions(ds: RecordFile, start: number): Parameters<ReturnType<typeof native>['recordBatch']>[3] {
  return {
    shape: [...ds.shape],
    classes: ds.classes,
    start,
    seed: 0,
    epoch: 0,
    ...(ds.normalize !== undefined ? { mean: Float32Array.from(ds.normalize.mean), std: Float32Array.from(ds.normalize.std) } : {}),
  };
}

/** gatherBatch of a record set: the images of order[start..end) read now, on the core's threads. */
export function gatherRecords(ds: RecordFile, order: Int32Array, start: number, end: number, options: GatherBatchOptions = {}): Batch {
  const b = end - start;
  const x = new Float32Array(b * imageSize(ds.shape));
  const y = new Float32Array(b * ds.classes);
  const labels = new Int32Array(b);
  native().recordBatch(nativeSource(ds), recordLabels(ds), recordOrder(ds, order.subarray(start, end)), plainOptions(ds, start), x, y, labels);
  return hostBatch(x, y, labels, b, ds.shape, ds.classes, options);
}

/** {@link gatherRecords} with the records read on a worker thread while this one goes on. */
export async function gatherRecordsAsync(ds: RecordFile, order: Int32Array, start: number, end: number, options: GatherBatchOptions = {}): Promise<Batch> {
  const b = end - start;
  const x = new Float32Array(b * imageSize(ds.shape));
  const y = new Float32Array(b * ds.classes);
  const labels = new Int32Array(b);
  await native().recordBatchAsync(nativeSource(ds), recordLabels(ds), recordOrder(ds, order.subarray(start, end)), plainOptions(ds, start), x, y, labels);
  return hostBatch(x, y, labels, b, ds.shape, ds.classes, options);
}

/**
 * Per-channel mean and standard deviation of a seeded sample of `count` images (default 5,000)
 * of `ds`, on 0..255 values, for {@link normalizeRecords}.
 */
export async function recordChannelStats(ds: RecordFile, options: { count?: number; seed?: number } = {}): Promise<{ mean: number[]; std: number[] }> {
  const fn = 'recordChannelStats';
  checkAnyDataset(fn, 'ds', ds);
  const count = Math.min(options.count ?? 5000, ds.length);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`${fn}: options.count must be a positive integer, got ${String(options.count)}`);
  const order = new Rng(options.seed ?? 0).permutation(ds.length).subarray(0, count);
  const [c, h, w] = ds.shape;
  const plane = h * w;
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  const plain: RecordFile = { ...ds, normalize: undefined, paperMean: undefined };
  const batch = 256;
  for (let s = 0; s < count; s += batch) {
    const e = Math.min(count, s + batch);
    const x = new Float32Array((e - s) * c * plane);
    await native().recordBatchAsync(nativeSource(ds), recordLabels(ds), recordOrder(ds, order.subarray(s, e)), plainOptions(plain, s), x, new Float32Array((e - s) * ds.classes), new Int32Array(e - s));
    for (let i = 0; i < e - s; i++) {
      for (let k = 0; k < c; k++) {
        const p = x.subarray((i * c + k) * plane, (i * c + k + 1) * plane);
        for (let j = 0; j < plane; j++) {
          sum[k] += p[j];
          sumSq[k] += p[j] * p[j];
        }
      }
    }
  }
  const n = count * plane;
  const mean = Array.from(sum, (v) => v / n);
  return { mean, std: Array.from(sumSq, (v, k) => Math.sqrt(Math.max(v / n - mean[k] * mean[k], 0)) || 1) };
}

/** A training and a test record set, with class names where the directory has them. */
export interface RecordData {
  train: RecordFile;
  test: RecordFile;
  classNames?: readonly string[];
}

/** Options of {@link openRecordDirectory}. */
export interface OpenRecordDirectoryOptions {
  /** CIFAR-100: 'fine' (100 classes, default) or 'coarse' (20). */
  cifarLabels?: 'fine' | 'coarse';
  /** IDX: the number of classes (default: the largest training label + 1); others: must be their number. */
  classes?: number;
  /** SVHN: also train on extra_32x32.mat (531,131 more images; default false). */
  svhnExtra?: boolean;
  /** SVHN: where inflated copies of compressed files are kept (openSvhnRecords). */
  cacheDir?: string;
}

/** The file names of SVHN's cropped-digits distribution. */
const SVHN_TRAIN = 'train_32x32.mat';
const SVHN_EXTRA = 'extra_32x32.mat';
const SVHN_TEST = 'test_32x32.mat';

/**
 * A CIFAR-10 / CIFAR-100 binary directory, an SVHN directory of `.mat` files (train_32x32.mat,
 * test_32x32.mat, and extra_32x32.mat with options.svhnExtra; openSvhnRecords) or an IDX directory
 * of uncompressed files, opened to stream: the counterpart of loadDataset for data that need not
 * fit in memory.
 * @throws Error naming the directory when it is none of these or lacks a file, or for an option
 *   that does not apply to it; DataFileError from the files.
 */
export async function openRecordDirectory(dir: string, options: OpenRecordDirectoryOptions = {}): Promise<RecordData> {
  const fn = 'openRecordDirectory';
  const name = path.basename(path.resolve(dir));
  const at = (f: string): string => path.join(dir, f);
  if (options.svhnExtra !== undefined && typeof options.svhnExtra !== 'boolean') {
    throw new TypeError(`${fn}: options.svhnExtra must be a boolean, got ${typeof options.svhnExtra}`);
  }
  if (await exists(at(SVHN_TRAIN))) {
    if (options.cifarLabels !== undefined) throw new Error(`${fn}: ${dir}: cifarLabels (--cifar-labels) applies to CIFAR-100, and this is an SVHN directory`);
    if (options.classes !== undefined && options.classes !== 10) throw new RangeError(`${fn}: options.classes is ${options.classes} but SVHN has 10 classes`);
    const wanted = [SVHN_TRAIN, ...(options.svhnExtra === true ? [SVHN_EXTRA] : []), SVHN_TEST];
    for (const f of wanted) {
      if (!(await exists(at(f)))) throw new Error(`${fn}: ${dir}: no ${f} (an SVHN directory holds ${SVHN_TRAIN}, ${SVHN_TEST} and, for --svhn-extra, ${SVHN_EXTRA})`);
    }
    const cache = options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {};
    const train = await openSvhnRecords(wanted.slice(0, -1).map(at), { name: `${name}/train`, ...cache });
    const test = await openSvhnRecords([at(SVHN_TEST)], { name: `${name}/test`, ...cache });
    return { train, test, classNames: SVHN_CLASSES };
  }
  if (options.svhnExtra === true) throw new Error(`${fn}: ${dir}: svhnExtra (--svhn-extra) applies to SVHN directories (train_32x32.mat, …), and this is not one`);
  if (await exists(at(CIFAR10_TRAIN[0]))) {
    if (options.cifarLabels !== undefined) throw new Error(`${fn}: ${dir}: cifarLabels (--cifar-labels) applies to CIFAR-100, and this is a CIFAR-10 directory`);
    const train = await openCifarRecords(CIFAR10_TRAIN.map(at), { variant: 10, name: `${name}/train` });
    const test = await openCifarRecords([at('test_batch.bin')], { variant: 10, name: `${name}/test` });
    const classNames = await labelNameFile(at('batches.meta.txt'), 10);
    return { train, test, ...(classNames !== undefined ? { classNames } : {}) };
  }
  if (await exists(at('train.bin'))) {
    const labels = options.cifarLabels ?? 'fine';
    const train = await openCifarRecords([at('train.bin')], { variant: 100, labels, name: `${name}/train` });
    const test = await openCifarRecords([at('test.bin')], { variant: 100, labels, name: `${name}/test` });
    const classNames = await labelNameFile(at(labels === 'coarse' ? 'coarse_label_names.txt' : 'fine_label_names.txt'), labels === 'coarse' ? 20 : 100);
    return { train, test, ...(classNames !== undefined ? { classNames } : {}) };
  }
  if (await exists(at('train-images-idx3-ubyte'))) {
    const train = await openIdxRecords(at('train-images-idx3-ubyte'), at('train-labels-idx1-ubyte'), { name: `${name}/train`, ...(options.classes !== undefined ? { classes: options.classes } : {}) });
    const test = await openIdxRecords(at('t10k-images-idx3-ubyte'), at('t10k-labels-idx1-ubyte'), { name: `${name}/test`, classes: train.classes });
    return { train, test };
  }
  const gz = await exists(at('train-images-idx3-ubyte.gz'));
  throw new Error(
    `${fn}: ${dir}: streaming reads a CIFAR binary directory (data_batch_1.bin…, or train.bin), an SVHN directory (train_32x32.mat, test_32x32.mat) or an IDX directory of uncompressed files (train-images-idx3-ubyte…)` +
      (gz ? '; its IDX files are gzip-compressed: gunzip them to stream, or read them into memory (without --stream)' : ''),
  );
}
