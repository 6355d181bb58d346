/**
 * Helpers the `newton-cnn` commands share: loading and preprocessing the data as `train` does,
 * and checking the device.
 *
 * @packageDocumentation
 */
import { loadDataset, minMaxScale, paperPreprocess, pixelMean, subset, subtractMean, type Dataset, type LoadedData } from '../data';
import { devices } from '../runtime';
import { UsageError } from './args';

/** Where the data come from and how much of them a command uses (the data options of `train`). */
export interface DataOptions {
  /** Data set name or absolute path. */
  data: string;
  /** Format of a data path. */
  format?: 'idx' | 'cifar' | 'libsvm' | 'svhn' | 'imagefolder';
  /** Per-image shape [C, H, W]. */
  shape?: readonly [number, number, number];
  /** Test file of a LIBSVM data path (absolute). */
  test?: string;
  /** Number of classes, for data whose format does not say (lib/data/load.ts). */
  classes?: number;
  /** SVHN: train on extra_32x32.mat too. */
  svhnExtra?: boolean;
  /** CIFAR-100: fine (100) or coarse (20) labels. */
  cifarLabels?: 'fine' | 'coarse';
  /** Use only the first N training images. */
  trainLimit?: number;
  /** Use only the first N test images. */
  testLimit?: number;
}

/** The first n examples of ds (all of them when n is undefined or at least its length). */
export function firstN(ds: Dataset, n: number | undefined): Dataset {
  if (n === undefined || n >= ds.length) return ds;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return subset(ds, idx);
}

/** Reads the data set the options name. */
export async function loadRawData(a: DataOptions): Promise<LoadedData> {
  if (a.format === 'imagefolder') {
    throw new UsageError('--format imagefolder: image folders stream from disk and are read by `newton-cnn train` only; this command reads data held in memory (IDX, CIFAR, SVHN, LIBSVM)');
  }
  return loadDataset(a.data, {
    ...(a.format !== undefined ? { format: a.format } : {}),
    ...(a.shape !== undefined ? { shape: [...a.shape] as [number, number, number] } : {}),
    ...(a.test !== undefined ? { testPath: a.test } : {}),
    ...(a.classes !== undefined ? { classes: a.classes } : {}),
    ...(a.svhnExtra === true ? { svhnExtra: true } : {}),
    ...(a.cifarLabels !== undefined ? { cifarLabels: a.cifarLabels } : {}),
  });
}

/**
 * The training and test sets of `newton-cnn train`: the first trainLimit / testLimit images, with
 * the paper's preprocessing (per-image min-max scaling, minus the training images' pixel mean),
 * that mean, and the class names where the data set has them.
 */
export async function loadPaperData(a: DataOptions): Promise<{ train: Dataset; test: Dataset; mean: Float32Array; classNames?: readonly string[] }> {
  const raw = await loadRawData(a);
  const { train, test, mean } = paperPreprocess(firstN(raw.train, a.trainLimit), firstN(raw.test, a.testLimit));
  return { train, test, mean, ...(raw.classNames !== undefined ? { classNames: raw.classNames } : {}) };
}

/**
 * The first `count` training images (all when undefined) with the paper's preprocessing, the
 * pixel mean taken over the first `meanOver` training images (all when undefined): the images as
 * a network trained by `newton-cnn train --train-limit meanOver` saw them. With meanOver = count
 * this is loadPaperData's training set.
 */
export async function loadTrainingImages(a: DataOptions, count: number | undefined, meanOver: number | undefined): Promise<{ train: Dataset; meanOver: number }> {
  const raw = await loadRawData(a);
  const l = raw.train.length;
  const n = Math.min(count ?? l, l);
  const m = Math.min(meanOver ?? l, l);
  if (m === n) return { train: paperPreprocess(firstN(raw.train, n), firstN(raw.test, 1)).train, meanOver: m };
  const scaled = minMaxScale(firstN(raw.train, Math.max(n, m)));
  const mean = pixelMean(firstN(scaled, m));
  return { train: subtractMean(firstN(scaled, n), mean), meanOver: m };
}

/**
 * Refuses a device that this build or machine does not have.
 * @throws UsageError naming the usable devices.
 */
export function checkDevice(device: string): void {
  const all = devices();
  const d = all.find((x) => x.name === device || (device === 'cuda' && x.kind === 'cuda' && x.available));
  if (d === undefined || !d.available) {
    const why = all.find((x) => x.kind === 'cuda' && !x.available)?.reason;
    const usable = all.filter((x) => x.available).map((x) => x.name).join(', ');
    throw new UsageError(`--device: '${device}' is not available${why && device.startsWith('cuda') ? ` (${why})` : ''}; available: ${usable}`);
  }
}

/** JSON with non-finite numbers as the strings "Infinity", "-Infinity", "NaN" (JSON has no such numbers). */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
}
