/**
 * The data of `newton-cnn train` that streams from disk: an ImageNet-style folder
 * (DIR/train/CLASS/*.{jpg,png} and DIR/val or DIR/test with the same class folders, or flat with
 * `--val-labels FILE`), decoded by the native core, and with `--stream` a CIFAR or uncompressed
 * IDX directory read record by record. The per-channel statistics that normalise them come from
 * a seeded sample of the training images.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { imageFolderChannelStats, normalizeImageFolder, openImageFolder, openRecordDirectory, paperPreprocessRecords, Rng, SkippedImages, subset, type ImageFolder, type RecordFile } from '../data';
import { IMAGE_EXTENSIONS } from '../data/image-folder';
import { native } from '../native';
import type { TrainArgs } from './args';
import { UsageError } from './args';

/** Training images the normalisation statistics are taken over. */
export const STATS_SAMPLE = 1000;

/** The image-folder data of a training run. */
export interface ImageFolderData {
  train: ImageFolder;
  test: ImageFolder;
  /** Per-channel mean and standard deviation (0..255 values) both folders are normalised with. */
  stats: { mean: number[]; std: number[] };
  classNames: readonly string[];
  /** The unreadable images left out with --skip-corrupt (shared by both folders). */
  skipped?: SkippedImages;
}

function isImage(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `dir` is laid out as an image folder data set: DIR/train/CLASS/ holding images. */
export function isImageFolderLayout(dir: string): boolean {
  const train = path.join(dir, 'train');
  if (!isDir(train)) return false;
  try {
    for (const c of fs.readdirSync(train, { withFileTypes: true })) {
      if (!c.isDirectory() && !(c.isSymbolicLink() && isDir(path.join(train, c.name)))) continue;
      if (fs.readdirSync(path.join(train, c.name)).some(isImage)) return true;
    }
  } catch {
    return false;
  }
  return false;
}

/** The options that only image folders take, for the check that they are not given to other data. */
export const IMAGE_FOLDER_OPTIONS: readonly [keyof TrainArgs, string][] = [
  ['imageSize', '--image-size'],
  ['cropScale', '--crop-scale'],
  ['valLabels', '--val-labels'],
  ['skipCorrupt', '--skip-corrupt'],
];

/** A seeded random `n` of the folder's images (all when n is undefined or at least its length), kept in folder order. */
function sample(ds: ImageFolder, n: number | undefined, seed: number): ImageFolder {
  if (n === undefined || n >= ds.length) return ds;
  const idx = Array.from(new Rng(seed).permutation(ds.length).subarray(0, n)).sort((a, b) => a - b);
  return subset(ds, idx);
}

/**
 * Opens DIR/train and DIR/val (or DIR/test) as the training and test sets of `args`.
 * @throws UsageError for a missing part, a decoder missing from the build or options that do not
 *   apply; DataFileError from the folders.
 */
export async function loadImageFolderData(args: TrainArgs, warn: (line: string) => void): Promise<ImageFolderData> {
  const codecs = native().imageCodecs();
  if (codecs.jpeg.library === null && codecs.png.library === null) {
    throw new UsageError(`--data ${args.data}: this build has no image decoder (${codecs.jpeg.reason}; ${codecs.png.reason})`);
  }
  if (args.augment === 'crop-flip') throw new UsageError("--augment crop-flip is for data held in memory (CIFAR, SVHN); image folders take --augment random-resized-crop");
  for (const [key, flag] of [['shape', '--shape'], ['test', '--test'], ['classes', '--classes'], ['svhnExtra', '--svhn-extra'], ['cifarLabels', '--cifar-labels']] as const) {
    if (args[key] !== undefined && args[key] !== false) throw new UsageError(`${flag} does not apply to an image folder (its classes are its folders; the size is --image-size)`);
  }
  const trainDir = path.join(args.data, 'train');
  if (!isDir(trainDir)) throw new UsageError(`--data ${args.data}: an image folder data set holds train/ (one folder of JPEG/PNG files per class) and val/ or test/`);
  const testDir = ['val', 'test'].map((d) => path.join(args.data, d)).find(isDir);
  if (testDir === undefined) throw new UsageError(`--data ${args.data}: no val/ or test/ folder beside train/ (the images the run is tested on)`);
  const size = args.imageSize ?? 224;
  const skipped = args.skipCorrupt === true ? new SkippedImages() : undefined;
  if (skipped !== undefined) {
    const shown = 5;
    skipped.onSkip((file, message) => {
      if (skipped.count <= shown) warn(`skipped ${file}: ${message}${skipped.count === shown ? ' (further skipped images are only counted)' : ''}`);
    });
  }
  const common = { size, ...(skipped !== undefined ? { skipCorrupt: skipped } : {}) };
  const train = await openImageFolder(trainDir, { ...common, name: `${path.basename(args.data)}/train` });
  const test = await openImageFolder(testDir, {
    ...common,
    name: `${path.basename(args.data)}/${path.basename(testDir)}`,
    classNames: train.classNames,
    ...(args.valLabels !== undefined ? { labels: args.valLabels } : {}),
  });
  const trainPart = sample(train, args.trainLimit, args.seed);
  const testPart = sample(test, args.testLimit, args.seed);
  const stats = await imageFolderChannelStats(trainPart, { count: STATS_SAMPLE, seed: args.seed });
  return {
    train: normalizeImageFolder(trainPart, stats),
    test: normalizeImageFolder(testPart, stats),
    stats,
    classNames: train.classNames,
    ...(skipped !== undefined ? { skipped } : {}),
  };
}

/** The streamed record data of a training run (`--stream`). */
export interface RecordRunData {
  train: RecordFile;
  test: RecordFile;
  /** The paper preprocessing's pixel mean of the training images (after min-max scaling). */
  mean: Float32Array;
  classNames?: readonly string[];
}

/** The first n examples of a record set (all when n is undefined or at least its length). */
function firstRecords(ds: RecordFile, n: number | undefined): RecordFile {
  return n === undefined || n >= ds.length ? ds : subset(ds, Int32Array.from({ length: n }, (_, i) => i));
}

/**
 * `--stream`: the CIFAR or uncompressed IDX directory of `args.data` opened to stream, the first
 * --train-limit / --test-limit examples, with the paper's preprocessing (its pixel mean from one
 * streaming pass): the same inputs as the data read into memory.
 * @throws UsageError for a format that cannot stream; DataFileError from the files.
 */
export async function loadRecordData(args: TrainArgs): Promise<RecordRunData> {
  if (args.format !== undefined && args.format !== 'cifar' && args.format !== 'idx' && args.format !== 'svhn') {
    throw new UsageError(`--stream reads CIFAR binary, SVHN .mat and uncompressed IDX directories, not --format ${args.format}`);
  }
  for (const [key, flag] of [['shape', '--shape'], ['test', '--test']] as const) {
    if (args[key] !== undefined) throw new UsageError(`${flag} does not apply to --stream`);
  }
  let d: Awaited<ReturnType<typeof openRecordDirectory>>;
  try {
    d = await openRecordDirectory(args.data, {
      ...(args.cifarLabels !== undefined ? { cifarLabels: args.cifarLabels } : {}),
      ...(args.classes !== undefined ? { classes: args.classes } : {}),
      ...(args.svhnExtra === true ? { svhnExtra: true } : {}),
    });
  } catch (e) {
    if ((e as Error).name === 'DataFileError') throw e;
    throw new UsageError(`--stream: ${(e as Error).message.replace(/^openRecordDirectory: /, '')}`);
  }
  const train = firstRecords(d.train, args.trainLimit);
  const test = firstRecords(d.test, args.testLimit);
  const p = await paperPreprocessRecords(train, test);
  return { train: p.train, test: p.test, mean: p.mean, ...(d.classNames !== undefined ? { classNames: d.classNames } : {}) };
}
