/**
 * ImageNet-style image folders: one sub-folder per class of JPEG/PNG files (the class index from
 * the sorted folder names), or a flat folder with a label file (ILSVRC's validation images).
 * Only file names and labels live in memory; the native core reads, decodes (libjpeg-turbo,
 * libpng) and transforms the images of a batch on its thread pool when the batch is made
 * (native/core/image_batch.h), so a folder may hold far more images than fit in RAM.
 *
 * ```ts
 * const train = await openImageFolder('imagenet/train', { size: 224 });
 * const val = await openImageFolder('imagenet/val', { size: 224, classNames: train.classNames });
 * const stats = await imageFolderChannelStats(train);
 * const loader = new DataLoader(normalizeImageFolder(train, stats), { batchSize: 256, augment: 'random-resized-crop' });
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { native, type NativeImageBatchOptions, type NativeImageBatchResult } from '../native';
import { hostBatch } from './host-batch';
import type { Batch, GatherBatchOptions } from './batch';
import { checkAnyDataset, checkChannelStats, DataFileError, describe, imageSize, SkippedImages, type ImageFolder } from './dataset';
import { Rng } from './rng';

/** File names an image folder takes (case-insensitive), as torchvision's ImageFolder does for these formats. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

/** The ImageNet training images' per-channel mean and standard deviation, on 0..255 pixel values (RGB). */
export const IMAGENET_STATS: { readonly mean: readonly number[]; readonly std: readonly number[] } = Object.freeze({
  mean: Object.freeze([123.675, 116.28, 103.53]),
  std: Object.freeze([58.395, 57.12, 57.375]),
});

/** Options of {@link openImageFolder}. */
export interface ImageFolderOptions {
  /** Output size: H = W = size, or [H, W] (default 224). */
  size?: number | readonly [number, number];
  /** Output channels: 3 (RGB, default) or 1 (luminance). */
  channels?: 1 | 3;
  /** Evaluation transform: the shorter side before the central crop (default round(256/224 · the crop's shorter side), at least its longer side: 256 for 224). */
  resizeTo?: number;
  /**
   * A label file for a flat folder of images (ILSVRC's validation set): either a CSV with the
   * header `ImageId,PredictionString` (LOC_val_solution.csv: the first word of PredictionString
   * is the class folder name), or lines `FILE LABEL` where LABEL is a class name or an index.
   */
  labels?: string;
  /** The class names in index order (e.g. the training folder's classNames): required with a label file of class names, checked against the sub-folders otherwise. */
  classNames?: readonly string[];
  /** Name of the data set (default: the folder's name). */
  name?: string;
  /** Leave out images that cannot be read or decoded and count them (default false: such an image is an error naming the file). A SkippedImages to share the count with another folder. */
  skipCorrupt?: boolean | SkippedImages;
}

const FN = 'openImageFolder';

function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return !name.startsWith('.') && IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

/** Code-point order, like Python's sorted() (the class order of torchvision's ImageFolder). */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function entries(dir: string): Promise<fs.Dirent[]> {
  try {
    return await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DataFileError(`${FN}: ${dir}: ${err.code === 'ENOENT' ? 'no such directory' : err.code === 'ENOTDIR' ? 'not a directory' : `cannot read it (${err.message})`}`, dir);
  }
}

/** Whether a directory entry is (or links to) a directory / a file. */
async function kindOf(dir: string, e: fs.Dirent): Promise<'dir' | 'file' | 'other'> {
  if (e.isDirectory()) return 'dir';
  if (e.isFile()) return 'file';
  if (e.isSymbolicLink()) {
    try {
      const st = await fs.promises.stat(path.join(dir, e.name));
      return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    } catch {
      return 'other'; // a dangling link: not an image
    }
  }
  return 'other';
}

/** The image files under `dir`, recursively, sorted by path. */
async function imageFilesUnder(dir: string, out: string[]): Promise<void> {
  const list = (await entries(dir)).filter((e) => !e.name.startsWith('.')).sort((a, b) => byCodePoint(a.name, b.name));
  for (const e of list) {
    const k = await kindOf(dir, e);
    if (k === 'dir') await imageFilesUnder(path.join(dir, e.name), out);
    else if (k === 'file' && isImageFile(e.name)) out.push(path.join(dir, e.name));
  }
}

function checkOptions(options: unknown): { size: [number, number]; channels: 1 | 3; resizeTo: number; o: ImageFolderOptions } {
  if (options === null || typeof options !== 'object') throw new TypeError(`${FN}: options must be an object, got ${describe(options)}`);
  const o = options as ImageFolderOptions;
  const dim = (name: string, v: unknown): number => {
    if (typeof v !== 'number') throw new TypeError(`${FN}: options.${name} must be a number, got ${describe(v)}`);
    if (!Number.isInteger(v) || v < 1 || v > 32768) throw new RangeError(`${FN}: options.${name} must be an integer in [1, 32768], got ${v}`);
    return v;
  };
  const s = o.size ?? 224;
  const size: [number, number] = Array.isArray(s) ? [dim('size[0]', s[0]), dim('size[1]', s[1])] : [dim('size', s), dim('size', s)];
  if (Array.isArray(s) && s.length !== 2) throw new RangeError(`${FN}: options.size must be a number or [H, W], got an array of ${s.length}`);
  const channels = o.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new RangeError(`${FN}: options.channels must be 1 (luminance) or 3 (RGB), got ${String(channels)}`);
  // the resized image's shorter side must hold the crop's longer one
  const longer = Math.max(size[0], size[1]);
  const resizeTo = o.resizeTo === undefined ? Math.max(longer, Math.round((Math.min(size[0], size[1]) * 256) / 224)) : dim('resizeTo', o.resizeTo);
  if (resizeTo < longer) throw new RangeError(`${FN}: options.resizeTo ${resizeTo} is smaller than the crop's longer side ${longer}`);
  if (o.labels !== undefined && typeof o.labels !== 'string') throw new TypeError(`${FN}: options.labels must be a file path, got ${describe(o.labels)}`);
  if (o.classNames !== undefined) {
    if (!Array.isArray(o.classNames) || !o.classNames.every((c) => typeof c === 'string' && c !== '')) throw new TypeError(`${FN}: options.classNames must be an array of non-empty strings`);
    if (new Set(o.classNames).size !== o.classNames.length) throw new RangeError(`${FN}: options.classNames has repeated names`);
  }
  if (o.name !== undefined && typeof o.name !== 'string') throw new TypeError(`${FN}: options.name must be a string, got ${describe(o.name)}`);
  if (o.skipCorrupt !== undefined && typeof o.skipCorrupt !== 'boolean' && !(o.skipCorrupt instanceof SkippedImages)) {
    throw new TypeError(`${FN}: options.skipCorrupt must be a boolean or a SkippedImages, got ${describe(o.skipCorrupt)}`);
  }
  return { size, channels, resizeTo, o };
}

/**
 * The labels of a flat folder's files from a label file (see {@link ImageFolderOptions.labels}).
 * @returns for each file name (without directories) its class index.
 * @throws DataFileError naming the label file and line for an unknown class, a bad index or a malformed line.
 */
export async function readImageLabelFile(file: string, classNames: readonly string[] | undefined): Promise<Map<string, number>> {
  const fn = 'readImageLabelFile';
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DataFileError(`${fn}: ${file}: ${err.code === 'ENOENT' ? 'no such file' : `cannot read it (${err.message})`}`, file);
  }
  const index = new Map(classNames?.map((c, i) => [c, i]));
  const lines = text.split(/\r?\n/);
  const csv = /^ImageId,PredictionString\s*$/.test(lines[0] ?? '');
  const out = new Map<string, number>();
  const bad = (line: number, what: string): DataFileError => new DataFileError(`${fn}: ${file}: line ${line}: ${what}`, file);
  for (let i = csv ? 1 : 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    let name: string;
    let label: string;
    if (csv) {
      const comma = line.indexOf(',');
      if (comma <= 0) throw bad(i + 1, `expected 'ImageId,PredictionString', got '${line}'`);
      name = line.slice(0, comma);
      label = line.slice(comma + 1).trim().split(/\s+/)[0] ?? '';
      if (!/\.[a-z]+$/i.test(name)) name = `${name}.JPEG`; // ILSVRC's ImageIds leave out the extension
    } else {
      const words = line.split(/\s+/);
      if (words.length !== 2) throw bad(i + 1, `expected 'FILE LABEL', got '${line}'`);
      [name, label] = words;
    }
    let k: number | undefined = index.get(label);
    if (k === undefined) {
      if (!/^\d+$/.test(label)) {
        throw bad(i + 1, classNames === undefined ? `label '${label}' is a class name, which needs options.classNames (the training folder's classes)` : `unknown class '${label}' (not one of the ${classNames.length} class names)`);
      }
      k = Number(label);
      if (classNames !== undefined && k >= classNames.length) throw bad(i + 1, `class index ${k} is outside [0, ${classNames.length})`);
    }
    if (out.has(name)) throw bad(i + 1, `'${name}' is labelled twice`);
    out.set(name, k);
  }
  if (out.size === 0) throw new DataFileError(`${fn}: ${file}: no labels in it`, file);
  return out;
}

/**
 * Opens an image folder: `dir`/CLASS/…/*.{jpg,jpeg,png} with the class index from the sorted
 * class folder names, or, with options.labels, the images directly in `dir` labelled by the file.
 * Nothing but the directory listing is read.
 * @throws DataFileError naming the folder: missing, no class folders, a class folder without
 *   images, images without a label; TypeError / RangeError for bad options.
 */
export async function openImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`${FN}: dir must be a directory path, got ${typeof dir === 'string' ? "''" : describe(dir)}`);
  const { size, channels, resizeTo, o } = checkOptions(options);
  const root = path.resolve(dir);
  const files: string[] = [];
  const labels: number[] = [];
  let classNames: readonly string[];
  if (o.labels !== undefined) {
    const byName = await readImageLabelFile(o.labels, o.classNames);
    const names = (await entries(root)).filter((e) => isImageFile(e.name)).map((e) => e.name).sort(byCodePoint);
    for (const n of names) {
      const k = byName.get(n);
      if (k === undefined) throw new DataFileError(`${FN}: ${path.join(root, n)}: the label file ${o.labels} has no label for it`, path.join(root, n));
      files.push(path.join(root, n));
      labels.push(k);
    }
    if (files.length === 0) throw new DataFileError(`${FN}: ${root}: no JPEG/PNG files directly in it (a folder with a label file holds its images directly)`, root);
    classNames = o.classNames ?? Array.from({ length: Math.max(...labels) + 1 }, (_, k) => String(k));
  } else {
    const dirs: string[] = [];
    for (const e of await entries(root)) if (!e.name.startsWith('.') && (await kindOf(root, e)) === 'dir') dirs.push(e.name);
    dirs.sort(byCodePoint);
    if (dirs.length === 0) {
      const loose = (await entries(root)).filter((e) => isImageFile(e.name)).length;
      throw new DataFileError(
        `${FN}: ${root}: no class folders in it${loose > 0 ? ` (it holds ${loose} images directly: give their labels with options.labels / --val-labels FILE)` : ''}; an image folder holds one folder of JPEG/PNG files per class`,
        root,
      );
    }
    if (o.classNames !== undefined && (o.classNames.length !== dirs.length || o.classNames.some((c, i) => c !== dirs[i]))) {
      const missing = o.classNames.filter((c) => !dirs.includes(c));
      const extra = dirs.filter((c) => !o.classNames!.includes(c));
      throw new DataFileError(
        `${FN}: ${root}: its class folders differ from options.classNames (${missing.length} missing${missing.length > 0 ? `, e.g. '${missing[0]}'` : ''}; ${extra.length} not in it${extra.length > 0 ? `, e.g. '${extra[0]}'` : ''})`,
        root,
      );
    }
    for (let k = 0; k < dirs.length; k++) {
      const before = files.length;
      await imageFilesUnder(path.join(root, dirs[k]), files);
      if (files.length === before) throw new DataFileError(`${FN}: ${path.join(root, dirs[k])}: class folder '${dirs[k]}' holds no JPEG/PNG files (${IMAGE_EXTENSIONS.join(', ')})`, path.join(root, dirs[k]));
      for (let i = before; i < files.length; i++) labels.push(k);
    }
    classNames = dirs;
  }
  if (files.length > 2 ** 31 - 1) throw new DataFileError(`${FN}: ${root}: ${files.length} images are more than 2^31 − 1`, root);
  const skipped = o.skipCorrupt instanceof SkippedImages ? o.skipCorrupt : o.skipCorrupt === true ? new SkippedImages() : undefined;
  const folder: ImageFolder = {
    kind: 'image-folder',
    name: o.name ?? path.basename(root),
    root,
    files: Object.freeze(files),
    labels: Int32Array.from(labels),
    shape: Object.freeze([channels, size[0], size[1]]) as readonly [number, number, number],
    classes: classNames.length,
    length: files.length,
    classNames: Object.freeze([...classNames]),
    resizeTo,
    ...(skipped !== undefined ? { skipped } : {}),
  };
  return Object.freeze(folder);
}

/**
 * A copy of `ds` whose batches are normalised per channel: (x − mean[c]) / std[c] on 0..255
 * values (e.g. {@link IMAGENET_STATS} or {@link imageFolderChannelStats}).
 * @throws RangeError unless mean and std hold one finite value per channel, std > 0.
 */
export function normalizeImageFolder(ds: ImageFolder, stats: { mean: ArrayLike<number>; std: ArrayLike<number> }): ImageFolder {
  const fn = 'normalizeImageFolder';
  checkAnyDataset(fn, 'ds', ds);
  const c = ds.shape[0];
  const normalize = checkChannelStats(fn, stats, c);
  return Object.freeze({ ...ds, normalize });
}

/** The native options of the batches of `ds` (lib/native.ts NativeImageBatchOptions). */
export function imageBatchOptions(
  ds: ImageFolder,
  draw: { start: number; seed: number; epoch: number },
  train?: { scale: [number, number]; ratio: [number, number]; flip: boolean },
): NativeImageBatchOptions {
  return {
    channels: ds.shape[0],
    size: [ds.shape[1], ds.shape[2]],
    classes: ds.classes,
    start: draw.start,
    seed: draw.seed,
    epoch: draw.epoch,
    ...(train !== undefined ? { transform: 'random-resized-crop', scale: train.scale, ratio: train.ratio, flip: train.flip } : { transform: 'center-crop', resizeTo: ds.resizeTo }),
    ...(ds.normalize !== undefined ? { mean: Float32Array.from(ds.normalize.mean), std: Float32Array.from(ds.normalize.std) } : {}),
  };
}

/**
 * Settles the failures of one native batch: with ds.skipped they are recorded there (and the
 * batch keeps its other rows); without, the first is a DataFileError naming the file.
 * @throws DataFileError as above, or when every image of the batch failed.
 */
export function settleImageFailures(fn: string, ds: ImageFolder, r: NativeImageBatchResult): void {
  if (r.failed.length === 0) return;
  const first = r.failed[0];
  if (ds.skipped === undefined) {
    const more = r.failed.length > 1 ? ` (and ${r.failed.length - 1} more in this batch)` : '';
    throw new DataFileError(`${fn}: ${first.file}: ${first.message}${more}; skip such images with skipCorrupt (--skip-corrupt)`, first.file);
  }
  for (const f of r.failed) ds.skipped.record(f.file, f.message);
  if (r.count === 0) throw new DataFileError(`${fn}: every image of the batch failed, e.g. ${first.file}: ${first.message}`, first.file);
}

/**
 * The batch of images ds[order[start]], …, ds[order[end − 1]] with the evaluation transform,
 * read and decoded on the core's thread pool while this thread waits (gatherBatch of an image
 * folder). With ds.skipped, images that fail are left out (the batch is then smaller).
 */
export function gatherImageFolder(ds: ImageFolder, order: Int32Array, start: number, end: number, options: GatherBatchOptions = {}): Batch {
  const a = folderArrays(ds, start, end);
  const r = native().imageBatch(ds.files as string[], ds.labels, order.subarray(start, end), imageBatchOptions(ds, { start, seed: 0, epoch: 0 }), a.x, a.y, a.labels);
  settleImageFailures('gatherBatch', ds, r);
  return hostBatch(a.x, a.y, a.labels, r.count, ds.shape, ds.classes, options);
}

/** {@link gatherImageFolder} with the files read and decoded on a worker thread while this one goes on. */
export async function gatherImageFolderAsync(ds: ImageFolder, order: Int32Array, start: number, end: number, options: GatherBatchOptions = {}): Promise<Batch> {
  const a = folderArrays(ds, start, end);
  const r = await native().imageBatchAsync(ds.files as string[], ds.labels, order.subarray(start, end), imageBatchOptions(ds, { start, seed: 0, epoch: 0 }), a.x, a.y, a.labels);
  settleImageFailures('gatherBatch', ds, r);
  return hostBatch(a.x, a.y, a.labels, r.count, ds.shape, ds.classes, options);
}

function folderArrays(ds: ImageFolder, start: number, end: number): { x: Float32Array; y: Float32Array; labels: Int32Array } {
  const b = end - start;
  return { x: new Float32Array(b * imageSize(ds.shape)), y: new Float32Array(b * ds.classes), labels: new Int32Array(b) };
}

/**
 * Per-channel mean and standard deviation of `ds`'s images after the evaluation transform, over
 * a seeded sample of `count` images (default 1,000), on 0..255 values — the statistics for
 * {@link normalizeImageFolder} when the folder is not ImageNet.
 */
export async function imageFolderChannelStats(ds: ImageFolder, options: { count?: number; seed?: number; batchSize?: number } = {}): Promise<{ mean: number[]; std: number[] }> {
  const fn = 'imageFolderChannelStats';
  checkAnyDataset(fn, 'ds', ds);
  const count = Math.min(options.count ?? 1000, ds.length);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`${fn}: options.count must be a positive integer, got ${String(options.count)}`);
  const order = new Rng(options.seed ?? 0).permutation(ds.length).subarray(0, count);
  const plain: ImageFolder = { ...ds, normalize: undefined };
  const [c, h, w] = ds.shape;
  const plane = h * w;
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  let n = 0;
  const batch = options.batchSize ?? 64;
  for (let s = 0; s < count; s += batch) {
    const e = Math.min(count, s + batch);
    const x = new Float32Array((e - s) * c * plane);
    const y = new Float32Array((e - s) * ds.classes);
    const r = await native().imageBatchAsync(ds.files as string[], ds.labels, order.subarray(s, e), imageBatchOptions(plain, { start: s, seed: 0, epoch: 0 }), x, y, new Int32Array(e - s));
    settleImageFailures(fn, ds, r);
    for (let i = 0; i < r.count; i++) {
      for (let k = 0; k < c; k++) {
        const p = x.subarray((i * c + k) * plane, (i * c + k + 1) * plane);
        let a = 0;
        let q = 0;
        for (let j = 0; j < plane; j++) {
          a += p[j];
          q += p[j] * p[j];
        }
        sum[k] += a;
        sumSq[k] += q;
      }
    }
    n += r.count * plane;
  }
  const mean = Array.from(sum, (v) => v / n);
  const std = Array.from(sumSq, (v, k) => Math.sqrt(Math.max(v / n - mean[k] * mean[k], 0)) || 1);
  return { mean, std };
}
