/**
 * Named data sets and data directories: resolves the `--data` argument of `newton-cnn train` to a
 * training and a test Dataset. Reading uses fs.promises and asynchronous gunzip so the event loop
 * stays responsive while files load.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCifarAsync } from './cifar';
import { checkShape, Dataset } from './dataset';
import { readIdxAsync } from './idx';
import { readLibsvmAsync } from './libsvm';
import { readSvhnAsync, SVHN_CLASSES } from './svhn';

/** The data set used when none is named: 10,000/2,000 Fashion-MNIST images shipped in the package. */
export const DEFAULT_DATASET = 'fashion-mnist-small';

/** Where the Debian package dataset-fashion-mnist installs its files (`dpkg -L dataset-fashion-mnist`). */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** File formats loadDataset understands. */
export type DataFormat = 'idx' | 'cifar' | 'libsvm' | 'svhn';

/** Options of loadDataset. */
export interface LoadDatasetOptions {
  /** Format of a path (default: guessed: IDX, SVHN or CIFAR directory by its file names, else a LIBSVM file). */
  format?: DataFormat;
  /** Per-image shape [C, H, W]: required for LIBSVM; checked against the data for the other formats. */
  shape?: readonly [number, number, number];
  /** LIBSVM test file (default: `${path}.t` when it exists, the LIBSVM site's naming). */
  testPath?: string;
  /**
   * Number of classes (`--classes`). Named data sets and CIFAR know theirs (10; CIFAR-100: 100)
   * and only check it; for an IDX directory it is the class count (default: inferred from the
   * training labels only when they are exactly 0..k−1), for LIBSVM at least the number of
   * distinct labels. A label ≥ classes is a DataFileError naming the file, the item and the value.
   */
  classes?: number;
  /** SVHN: also train on extra_32x32.mat (531,131 more images; default false). */
  svhnExtra?: boolean;
  /** CIFAR-100: 'fine' (100 classes, default) or 'coarse' (the 20 superclasses). */
  cifarLabels?: 'fine' | 'coarse';
}

/** A training and a test set. */
export interface LoadedData {
  /** The training set. */
  train: Dataset;
  /** The test set (same shape and classes). */
  test: Dataset;
  /**
   * One name per class where the data set says: Fashion-MNIST's, CIFAR's (from its
   * batches.meta.txt / fine_label_names.txt when present), a LIBSVM file's label values.
   */
  classNames?: readonly string[];
}

/** Fashion-MNIST's classes, in label order. */
export const FASHION_MNIST_CLASSES = Object.freeze(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);

/** The non-empty lines of a CIFAR label-name file, when it exists and names `count` classes. */
export async function labelNameFile(file: string, count: number): Promise<readonly string[] | undefined> {
  const text = await fs.promises.readFile(file, 'utf8').catch(() => undefined);
  const names = text?.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
  return names !== undefined && names.length === count ? names : undefined;
}

const FN = 'loadDataset';

/**
 * The package root: the nearest directory above this file holding newton-cnn's package.json.
 * Works from lib/data (ts-jest) and from dist/lib/data (compiled).
 */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'newton-cnn') return dir;
      } catch {
        // an unreadable package.json is not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`${FN}: cannot find newton-cnn's package.json above ${__dirname}`);
    dir = parent;
  }
}

/** Directory of the bundled fashion-mnist-small files. */
export function bundledDataDir(): string {
  return path.join(packageRoot(), 'lib', 'data', 'bundled', DEFAULT_DATASET);
}

/** Whether `p` exists (any kind of file). */
export async function exists(p: string): Promise<boolean> {
  try {
    await fs.promises.access(p);
    return true;
  } catch {
    return false;
  }
}

async function findFirst(dir: string, names: readonly string[]): Promise<string | undefined> {
  for (const n of names) {
    const p = path.join(dir, n);
    if (await exists(p)) return p;
  }
  return undefined;
}

/** Candidate names of an IDX file (MNIST sites use both '-' and '.' before 'idx'). */
function idxNames(prefix: string, kind: 'images-idx3' | 'labels-idx1'): string[] {
  const [what, idx] = kind.split('-');
  return [`${prefix}-${what}-${idx}-ubyte`, `${prefix}-${what}.${idx}-ubyte`].flatMap((n) => [n, `${n}.gz`]);
}

/** The class count of each named data set. */
const NAMED_CLASSES = 10;

/** Refuses an options.classes that differs from what the format or data set defines. */
function checkKnownClasses(what: string, known: number, classes: number | undefined): void {
  if (classes !== undefined && classes !== known) {
    throw new RangeError(`${FN}: options.classes is ${classes} but ${what} has ${known} classes`);
  }
}

async function loadIdxDir(dir: string, name: string, classes?: number): Promise<LoadedData> {
  const files: string[] = [];
  for (const [prefix, kind] of [
    ['train', 'images-idx3'],
    ['train', 'labels-idx1'],
    ['t10k', 'images-idx3'],
    ['t10k', 'labels-idx1'],
  ] as const) {
    const names = idxNames(prefix, kind);
    const found = await findFirst(dir, names);
    if (found === undefined) {
      throw new Error(`${FN}: ${dir}: no IDX file ${names[0]}[.gz] (an IDX directory holds train-* and t10k-* images and labels)`);
    }
    files.push(found);
  }
  const train = await readIdxAsync(files[0], files[1], { name: `${name}/train`, ...(classes !== undefined ? { classes } : {}) });
  const test = await readIdxAsync(files[2], files[3], { name: `${name}/test`, classes: train.classes });
  return { train, test };
}

export const CIFAR10_TRAIN = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);

async function loadCifarDir(dir: string, name: string, classes: number | undefined, labels?: 'fine' | 'coarse'): Promise<LoadedData> {
  if (await exists(path.join(dir, CIFAR10_TRAIN[0]))) {
    if (labels !== undefined) throw new Error(`${FN}: ${dir}: options.cifarLabels (--cifar-labels) applies to CIFAR-100 only, and this is a CIFAR-10 directory`);
    checkKnownClasses('CIFAR-10', 10, classes);
    const train = await readCifarAsync(
      CIFAR10_TRAIN.map((f) => path.join(dir, f)),
      { variant: 10, name: `${name}/train` },
    );
    const test = await readCifarAsync([path.join(dir, 'test_batch.bin')], { variant: 10, name: `${name}/test` });
    const classNames = await labelNameFile(path.join(dir, 'batches.meta.txt'), 10);
    return { train, test, ...(classNames !== undefined ? { classNames } : {}) };
  }
  if (await exists(path.join(dir, 'train.bin')) && labels === 'coarse') {
    checkKnownClasses('CIFAR-100 (coarse labels)', 20, classes);
    const train = await readCifarAsync([path.join(dir, 'train.bin')], { variant: 100, labels, name: `${name}/train` });
    const test = await readCifarAsync([path.join(dir, 'test.bin')], { variant: 100, labels, name: `${name}/test` });
    const classNames = await labelNameFile(path.join(dir, 'coarse_label_names.txt'), 20);
    return { train, test, ...(classNames !== undefined ? { classNames } : {}) };
  }
  if (await exists(path.join(dir, 'train.bin'))) {
    checkKnownClasses('CIFAR-100 (fine labels)', 100, classes);
    const train = await readCifarAsync([path.join(dir, 'train.bin')], { variant: 100, name: `${name}/train` });
    const test = await readCifarAsync([path.join(dir, 'test.bin')], { variant: 100, name: `${name}/test` });
    const classNames = await labelNameFile(path.join(dir, 'fine_label_names.txt'), 100);
    return { train, test, ...(classNames !== undefined ? { classNames } : {}) };
  }
  throw new Error(
    `${FN}: ${dir}: not a CIFAR binary directory (expected data_batch_1..5.bin and test_batch.bin for CIFAR-10, ` +
      'or train.bin and test.bin for CIFAR-100)',
  );
}

/** The file names of SVHN's cropped-digits distribution. */
const SVHN_TRAIN = 'train_32x32.mat';
const SVHN_EXTRA = 'extra_32x32.mat';
const SVHN_TEST = 'test_32x32.mat';

/** An SVHN directory: train_32x32.mat (+ extra_32x32.mat with options.svhnExtra) and test_32x32.mat. */
async function loadSvhnDir(dir: string, name: string, options: LoadDatasetOptions): Promise<LoadedData> {
  checkKnownClasses('SVHN', 10, options.classes);
  const wanted = [SVHN_TRAIN, ...(options.svhnExtra === true ? [SVHN_EXTRA] : []), SVHN_TEST];
  for (const f of wanted) {
    if (!(await exists(path.join(dir, f)))) {
      throw new Error(`${FN}: ${dir}: no ${f} (an SVHN directory holds ${SVHN_TRAIN}, ${SVHN_TEST} and, for --svhn-extra, ${SVHN_EXTRA})`);
    }
  }
  const train = await readSvhnAsync(wanted.slice(0, -1).map((f) => path.join(dir, f)), { name: `${name}/train` });
  const test = await readSvhnAsync([path.join(dir, SVHN_TEST)], { name: `${name}/test` });
  return { train, test, classNames: SVHN_CLASSES };
}

async function loadLibsvm(file: string, options: LoadDatasetOptions): Promise<LoadedData> {
  if (options.shape === undefined) {
    throw new Error(`${FN}: ${file}: a LIBSVM file needs options.shape [C, H, W] (--shape C,H,W)`);
  }
  let testPath = options.testPath;
  if (testPath === undefined) {
    if (!(await exists(`${file}.t`))) {
      throw new Error(`${FN}: ${file}: a LIBSVM training file needs options.testPath (--test PATH); ${file}.t does not exist`);
    }
    testPath = `${file}.t`;
  }
  const train = await readLibsvmAsync(file, {
    shape: options.shape,
    name: path.basename(file),
    ...(options.classes !== undefined ? { classes: options.classes } : {}),
  });
  const test = await readLibsvmAsync(testPath, {
    shape: options.shape,
    name: path.basename(testPath),
    classes: train.classes,
    ...(train.labelValues !== undefined ? { labelValues: train.labelValues } : {}),
  });
  const classNames = train.labelValues?.length === train.classes ? train.labelValues.map(String) : undefined;
  return { train, test, ...(classNames !== undefined ? { classNames } : {}) };
}

function checkOptions(options: unknown): LoadDatasetOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${FN}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const o = options as LoadDatasetOptions;
  if (o.format !== undefined && !['idx', 'cifar', 'libsvm', 'svhn'].includes(o.format)) {
    throw new RangeError(`${FN}: options.format must be 'idx', 'cifar', 'libsvm' or 'svhn', got ${String(o.format)}`);
  }
  if (o.svhnExtra !== undefined && typeof o.svhnExtra !== 'boolean') {
    throw new TypeError(`${FN}: options.svhnExtra must be a boolean, got ${typeof o.svhnExtra}`);
  }
  if (o.cifarLabels !== undefined && o.cifarLabels !== 'fine' && o.cifarLabels !== 'coarse') {
    throw new RangeError(`${FN}: options.cifarLabels must be 'fine' or 'coarse', got ${String(o.cifarLabels)}`);
  }
  if (o.shape !== undefined) checkShape(FN, 'options.shape', o.shape);
  if (o.testPath !== undefined && typeof o.testPath !== 'string') {
    throw new TypeError(`${FN}: options.testPath must be a string, got ${typeof o.testPath}`);
  }
  if (o.classes !== undefined && (typeof o.classes !== 'number' || !Number.isInteger(o.classes) || o.classes < 1)) {
    throw new RangeError(`${FN}: options.classes must be a positive integer, got ${String(o.classes)}`);
  }
  return o;
}

function checkLoaded(data: LoadedData, options: LoadDatasetOptions, spec: string): LoadedData {
  const want = options.shape;
  if (want !== undefined && data.train.shape.some((d, i) => d !== want[i])) {
    throw new RangeError(
      `${FN}: ${spec} has images of shape [${data.train.shape.join(', ')}] but options.shape is [${want.join(', ')}]`,
    );
  }
  if (data.test.shape.some((d, i) => d !== data.train.shape[i])) {
    throw new RangeError(
      `${FN}: ${spec}: test images have shape [${data.test.shape.join(', ')}] but training images [${data.train.shape.join(', ')}]`,
    );
  }
  return data;
}

/**
 * Loads a training and a test set.
 *
 * `spec` is 'fashion-mnist-small' (the default: bundled with the package), 'fashion-mnist' (the full
 * 60,000/10,000 set from the Debian package dataset-fashion-mnist), or a path: a directory of IDX files
 * (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...), a CIFAR-10/100 binary
 * directory (CIFAR-100 with options.cifarLabels 'coarse': 20 classes), an SVHN directory of `.mat`
 * files (train_32x32.mat, test_32x32.mat; extra_32x32.mat joins the training set with
 * options.svhnExtra), or a LIBSVM training file (with options.shape and options.testPath). Pixel values are raw;
 * apply {@link paperPreprocess} (or another preprocessing) afterwards.
 * @throws Error naming the data set or path when it is missing or unrecognised; DataFileError from the readers.
 */
export async function loadDataset(spec: string = DEFAULT_DATASET, options: LoadDatasetOptions = {}): Promise<LoadedData> {
  if (typeof spec !== 'string' || spec === '') {
    throw new TypeError(`${FN}: spec must be a data set name or a path, got ${typeof spec === 'string' ? "''" : typeof spec}`);
  }
  const o = checkOptions(options);
  if ((spec === DEFAULT_DATASET || spec === 'fashion-mnist') && (o.svhnExtra === true || o.cifarLabels !== undefined)) {
    throw new Error(`${FN}: options.${o.svhnExtra === true ? 'svhnExtra (--svhn-extra)' : 'cifarLabels (--cifar-labels)'} does not apply to ${spec}`);
  }
  if (spec === DEFAULT_DATASET) {
    checkKnownClasses(spec, NAMED_CLASSES, o.classes);
    return { ...checkLoaded(await loadIdxDir(bundledDataDir(), DEFAULT_DATASET, NAMED_CLASSES), o, spec), classNames: FASHION_MNIST_CLASSES };
  }
  if (spec === 'fashion-mnist') {
    checkKnownClasses(spec, NAMED_CLASSES, o.classes);
    if (!(await exists(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz')))) {
      throw new Error(
        `${FN}: the full Fashion-MNIST data set is not installed (no ${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz): ` +
          "run `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or use 'fashion-mnist-small' or a directory of IDX files",
      );
    }
    return { ...checkLoaded(await loadIdxDir(FASHION_MNIST_DIR, 'fashion-mnist', NAMED_CLASSES), o, spec), classNames: FASHION_MNIST_CLASSES };
  }
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(spec);
  } catch {
    throw new Error(
      `${FN}: '${spec}' is neither a known data set (fashion-mnist-small, fashion-mnist) nor an existing file or directory`,
    );
  }
  const name = path.basename(path.resolve(spec));
  let format = o.format;
  if (format === undefined) {
    if (stat.isDirectory()) {
      format =
        (await findFirst(spec, idxNames('train', 'images-idx3'))) !== undefined ? 'idx' : (await exists(path.join(spec, SVHN_TRAIN))) ? 'svhn' : 'cifar';
    } else {
      format = 'libsvm';
    }
  }
  if (o.svhnExtra === true && format !== 'svhn') throw new Error(`${FN}: ${spec}: options.svhnExtra (--svhn-extra) applies to SVHN data only, not ${format}`);
  if (o.cifarLabels !== undefined && format !== 'cifar') throw new Error(`${FN}: ${spec}: options.cifarLabels (--cifar-labels) applies to CIFAR-100 only, not ${format}`);
  if (format === 'libsvm') {
    if (stat.isDirectory()) throw new Error(`${FN}: ${spec}: is a directory, but a LIBSVM data set is a file`);
    return checkLoaded(await loadLibsvm(spec, o), o, spec);
  }
  if (!stat.isDirectory()) {
    throw new Error(`${FN}: ${spec}: is a file, but ${format} data sets are directories`);
  }
  if (format === 'svhn') return checkLoaded(await loadSvhnDir(spec, name, o), o, spec);
  return checkLoaded(format === 'idx' ? await loadIdxDir(spec, name, o.classes) : await loadCifarDir(spec, name, o.classes, o.cifarLabels), o, spec);
}
