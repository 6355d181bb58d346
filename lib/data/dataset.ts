/**
 * The in-memory data set every reader returns and every trainer consumes, plus the error class
 * for unreadable data files and the helpers that build and slice data sets.
 *
 * @packageDocumentation
 */

/**
 * A labelled image data set held in memory.
 *
 * Images are NCHW float32 (raw values: IDX/CIFAR pixels stay 0..255 until preprocessing);
 * labels are int32 in [0, classes). Data sets are treated as immutable: every function in
 * lib/data returns a new one and never writes into its input.
 */
export interface Dataset {
  /** A human-readable name ('fashion-mnist-small/train', a file name, ...). */
  readonly name: string;
  /** Pixel values, NCHW: length = length·C·H·W. */
  readonly images: Float32Array;
  /** Class indices in [0, classes): length = length. */
  readonly labels: Int32Array;
  /** Per-image shape [C, H, W]. */
  readonly shape: readonly [number, number, number];
  /** Number of classes (the width of one-hot targets). */
  readonly classes: number;
  /** Number of images. */
  readonly length: number;
  /**
   * For data sets whose file labels were arbitrary integers (LIBSVM): labelValues[k] is the original
   * label that class index k stands for (sorted ascending). Absent when labels were already 0..k-1.
   */
  readonly labelValues?: readonly number[];
}

/**
 * A labelled data set of PNG/JPEG files on disk, one folder per class (lib/data/image-folder.ts
 * openImageFolder): only the file names and labels are held in memory; images are read, decoded
 * and transformed by native code when a batch needs them, so the set may be far larger than RAM.
 *
 * `shape` is what batches hold: [C, H, W] after the evaluation transform (shorter side resized to
 * `resizeTo`, central H×W window) or, in a DataLoader with augmentation, the training transform.
 */
export interface ImageFolder {
  readonly kind: 'image-folder';
  /** See {@link Dataset.name}. */
  readonly name: string;
  /** The folder the files came from. */
  readonly root: string;
  /** Absolute paths of the images, in the data set's order. */
  readonly files: readonly string[];
  /** Class indices in [0, classes), one per file. */
  readonly labels: Int32Array;
  /** Shape [C, H, W] of a batch's images (C = 1: luminance, 3: RGB). */
  readonly shape: readonly [number, number, number];
  /** Number of classes. */
  readonly classes: number;
  /** Number of images. */
  readonly length: number;
  /** One name per class: the sorted class folder names. */
  readonly classNames: readonly string[];
  /** The evaluation transform's shorter side before the central crop (ImageNet: 256 for 224). */
  readonly resizeTo: number;
  /** Per-channel (x − mean[c]) / std[c] on 0..255 pixel values, applied when batches are made. */
  readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] };
  /**
   * Where images that cannot be read or decoded go: undefined: such an image is an error naming
   * the file; a SkippedImages: it is left out of its batch and recorded there.
   */
  readonly skipped?: SkippedImages;
}

/**
 * A labelled data set of fixed-size binary records on disk (CIFAR batches, uncompressed IDX;
 * lib/data/records.ts openCifarRecords / openIdxRecords): the labels are in memory, each batch's
 * images are read from the files by native code when the batch is made.
 */
export interface RecordFile {
  readonly kind: 'records';
  /** See {@link Dataset.name}. */
  readonly name: string;
  /** Where the records lie (lib/native.ts NativeRecordSource). */
  readonly source: {
    readonly files: readonly string[];
    readonly offsets: readonly number[];
    readonly counts: readonly number[];
    readonly recordBytes: number;
    readonly imageOffset: number;
    readonly layout: 'chw' | 'hwc-columns';
  };
  /** Class indices in [0, classes), one per example of the set. */
  readonly labels: Int32Array;
  /** Per-image shape [C, H, W]; pixel values 0..255. */
  readonly shape: readonly [number, number, number];
  /** Number of classes. */
  readonly classes: number;
  /** Number of examples. */
  readonly length: number;
  /** Per-channel (x − mean[c]) / std[c] applied when batches are made. */
  readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] };
  /** The Newton paper's preprocessing applied when batches are made: each image min-max scaled to [0, 1], then this C·H·W pixel mean subtracted. */
  readonly paperMean?: Float32Array;
  /** A subset: example i is record indices[i] of the files (absent: example i is record i). */
  readonly indices?: Int32Array;
  /** A subset: the labels of every record of the files. */
  readonly recordLabels?: Int32Array;
}

/** Every data set a trainer, an objective or a loader takes: in memory, an image folder or records on disk. */
export type AnyDataset = Dataset | ImageFolder | RecordFile;

/** Whether `ds` is an {@link ImageFolder}. */
export function isImageFolder(ds: AnyDataset): ds is ImageFolder {
  return (ds as { kind?: unknown }).kind === 'image-folder';
}

/** Whether `ds` is a {@link RecordFile}. */
export function isRecordFile(ds: AnyDataset): ds is RecordFile {
  return (ds as { kind?: unknown }).kind === 'records';
}

/** Whether `ds` streams from disk (an image folder or records), rather than being held in memory. */
export function isStreamed(ds: AnyDataset): ds is ImageFolder | RecordFile {
  return isImageFolder(ds) || isRecordFile(ds);
}

/**
 * The images of an {@link ImageFolder} left out of batches because they could not be read or
 * decoded: each file once, with the first message, in the order they were met. Shared by the
 * copies of a folder (subsets, normalised versions), so that one count covers a whole run.
 */
export class SkippedImages {
  private readonly byFile = new Map<string, string>();
  private readonly listeners: ((file: string, message: string) => void)[] = [];

  /** Number of distinct files skipped so far. */
  get count(): number {
    return this.byFile.size;
  }

  /** The skipped files and why, in the order they were first met. */
  entries(): { file: string; message: string }[] {
    return [...this.byFile].map(([file, message]) => ({ file, message }));
  }

  /** Records a skipped file (once); listeners hear of each new file. */
  record(file: string, message: string): void {
    if (this.byFile.has(file)) return;
    this.byFile.set(file, message);
    for (const l of this.listeners) l(file, message);
  }

  /** Calls `listener` for each file skipped from now on. */
  onSkip(listener: (file: string, message: string) => void): void {
    this.listeners.push(listener);
  }
}

/** The fields needed to build a Dataset (length is derived from labels). */
export interface DatasetFields {
  /** See {@link Dataset.name}. */
  name: string;
  /** See {@link Dataset.images}. */
  images: Float32Array;
  /** See {@link Dataset.labels}. */
  labels: Int32Array;
  /** See {@link Dataset.shape}. */
  shape: readonly [number, number, number];
  /** See {@link Dataset.classes}. */
  classes: number;
  /** See {@link Dataset.labelValues}. */
  labelValues?: readonly number[];
}

/**
 * A data file that is missing, unreadable or malformed. The message starts with the reading
 * function's name and the file path, then says what is wrong; `path` holds the file.
 */
export class DataFileError extends Error {
  /** The file the problem is in. */
  readonly path: string;

  /** @param message the full message; @param path the offending file. */
  constructor(message: string, path: string) {
    super(message);
    this.name = 'DataFileError';
    this.path = path;
  }
}

function isPositiveInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Product C·H·W of a per-image shape. */
export function imageSize(shape: readonly [number, number, number]): number {
  return shape[0] * shape[1] * shape[2];
}

/**
 * Checks that `shape` is [C, H, W] with positive integers, for the function `fn`.
 * @throws TypeError when not an array of three numbers; RangeError when not positive integers.
 */
export function checkShape(fn: string, name: string, shape: unknown): readonly [number, number, number] {
  if (!Array.isArray(shape) || shape.length !== 3) {
    throw new TypeError(`${fn}: ${name} must be [C, H, W] (three positive integers), got ${describe(shape)}`);
  }
  if (!shape.every(isPositiveInteger)) {
    throw new RangeError(`${fn}: ${name} must be [C, H, W] (three positive integers), got [${shape.join(', ')}]`);
  }
  return [shape[0], shape[1], shape[2]] as const;
}

/** A short description of a value for error messages: typeof, "null" or "array". */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array of length ${v.length}`;
  return typeof v;
}

/**
 * Builds a frozen Dataset after checking that the arrays agree with shape and that every label is
 * in [0, classes).
 * @throws RangeError on inconsistent lengths, a bad shape/classes or a label out of range.
 */
export function createDataset(fields: DatasetFields): Dataset {
  const fn = 'createDataset';
  const shape = checkShape(fn, 'shape', fields.shape);
  if (!isPositiveInteger(fields.classes)) {
    throw new RangeError(`${fn}: classes must be a positive integer, got ${String(fields.classes)}`);
  }
  const length = fields.labels.length;
  const size = imageSize(shape);
  if (fields.images.length !== length * size) {
    throw new RangeError(
      `${fn}: images has ${fields.images.length} values but ${length} labels × [${shape.join(', ')}] needs ${length * size}`,
    );
  }
  for (let i = 0; i < length; i++) {
    const l = fields.labels[i];
    if (l < 0 || l >= fields.classes) {
      throw new RangeError(`${fn}: label ${l} of image ${i} is outside [0, ${fields.classes})`);
    }
  }
  if (fields.labelValues !== undefined && fields.labelValues.length > fields.classes) {
    throw new RangeError(`${fn}: labelValues has ${fields.labelValues.length} entries but classes is ${fields.classes}`);
  }
  const ds: Dataset = {
    name: fields.name,
    images: fields.images,
    labels: fields.labels,
    shape: Object.freeze(shape) as readonly [number, number, number],
    classes: fields.classes,
    length,
    ...(fields.labelValues !== undefined ? { labelValues: Object.freeze([...fields.labelValues]) } : {}),
  };
  return Object.freeze(ds);
}

/** A copy of `ds` with new images (same labels, shape, classes, labelValues). Internal to lib/data. */
export function withImages(ds: Dataset, images: Float32Array, name: string = ds.name): Dataset {
  return createDataset({
    name,
    images,
    labels: ds.labels,
    shape: ds.shape,
    classes: ds.classes,
    ...(ds.labelValues !== undefined ? { labelValues: ds.labelValues } : {}),
  });
}

/**
 * The most values (pixels) one data set may hold: 2^31 − 1 (8 GiB of float32), so that every pixel
 * index fits an int32 and every JavaScript engine can allocate the typed array. Readers refuse
 * files, headers and shapes that need more, with a message naming the option or file.
 */
export const MAX_DATASET_VALUES = 2 ** 31 - 1;

/** The constructor name of a typed array, else {@link describe}, for error messages. */
function arrayType(v: unknown): string {
  return ArrayBuffer.isView(v) ? v.constructor.name : describe(v);
}

/**
 * The O(1) checks of a Dataset's structure: field types, shape, classes, and that length,
 * labels.length and images.length agree. `where` starts every message ("trainSgd: train").
 * @throws TypeError for a field of the wrong type; RangeError for sizes that disagree.
 */
function checkStructure(where: string, ds: unknown): asserts ds is AnyDataset {
  if (ds === null || typeof ds !== 'object') throw new TypeError(`${where} must be a Dataset, got ${describe(ds)}`);
  const d = ds as Record<string, unknown>;
  if (d.kind === 'image-folder') {
    checkFolderStructure(where, d);
    return;
  }
  if (d.kind === 'records') {
    checkRecordStructure(where, d);
    return;
  }
  if (typeof d.name !== 'string') throw new TypeError(`${where} must be a Dataset (name must be a string, got ${describe(d.name)})`);
  const at = `${where}: data set '${d.name}'`;
  if (!(d.images instanceof Float32Array)) throw new TypeError(`${at}: images must be a Float32Array, got ${arrayType(d.images)}`);
  if (!(d.labels instanceof Int32Array)) throw new TypeError(`${at}: labels must be an Int32Array, got ${arrayType(d.labels)}`);
  const shape = checkShape(at, 'shape', d.shape);
  if (typeof d.classes !== 'number') throw new TypeError(`${at}: classes must be a positive integer, got ${describe(d.classes)}`);
  if (!isPositiveInteger(d.classes)) throw new RangeError(`${at}: classes must be a positive integer, got ${d.classes}`);
  if (typeof d.length !== 'number') throw new TypeError(`${at}: length must be a non-negative integer, got ${describe(d.length)}`);
  const length = d.length;
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`${at}: length must be a non-negative integer, got ${length}`);
  if (length !== d.labels.length) throw new RangeError(`${at}: length is ${length} but labels has ${d.labels.length} entries`);
  const need = length * imageSize(shape);
  if (d.images.length !== need) {
    throw new RangeError(`${at}: images has ${d.images.length} values but length ${length} × shape [${shape.join(', ')}] needs ${need}`);
  }
  const lv = d.labelValues;
  if (lv !== undefined) {
    if (!Array.isArray(lv)) throw new TypeError(`${at}: labelValues must be an array of numbers, got ${describe(lv)}`);
    if (lv.length > d.classes) throw new RangeError(`${at}: labelValues has ${lv.length} entries but classes is ${d.classes}`);
  }
}

/** checkStructure for an {@link ImageFolder}: its fields' types and that their sizes agree. */
function checkFolderStructure(where: string, d: Record<string, unknown>): void {
  if (typeof d.name !== 'string') throw new TypeError(`${where} must be an ImageFolder (name must be a string, got ${describe(d.name)})`);
  const at = `${where}: image folder '${d.name}'`;
  if (!Array.isArray(d.files) || !d.files.every((f) => typeof f === 'string')) throw new TypeError(`${at}: files must be an array of file paths, got ${describe(d.files)}`);
  if (!(d.labels instanceof Int32Array)) throw new TypeError(`${at}: labels must be an Int32Array, got ${arrayType(d.labels)}`);
  const shape = checkShape(at, 'shape', d.shape);
  if (shape[0] !== 1 && shape[0] !== 3) throw new RangeError(`${at}: shape[0] must be 1 (luminance) or 3 (RGB) channels, got ${shape[0]}`);
  if (typeof d.classes !== 'number' || !isPositiveInteger(d.classes)) throw new RangeError(`${at}: classes must be a positive integer, got ${String(d.classes)}`);
  if (d.length !== d.files.length || d.length !== d.labels.length) {
    throw new RangeError(`${at}: length is ${String(d.length)} but files has ${d.files.length} entries and labels ${d.labels.length}`);
  }
  if (typeof d.resizeTo !== 'number' || !Number.isInteger(d.resizeTo) || d.resizeTo < Math.max(shape[1], shape[2])) {
    throw new RangeError(`${at}: resizeTo must be an integer ≥ the crop's longer side ${Math.max(shape[1], shape[2])}, got ${String(d.resizeTo)}`);
  }
  if (d.skipped !== undefined && !(d.skipped instanceof SkippedImages)) throw new TypeError(`${at}: skipped must be a SkippedImages or undefined, got ${describe(d.skipped)}`);
}

/** checkStructure for a {@link RecordFile}. */
function checkRecordStructure(where: string, d: Record<string, unknown>): void {
  if (typeof d.name !== 'string') throw new TypeError(`${where} must be a RecordFile (name must be a string, got ${describe(d.name)})`);
  const at = `${where}: record set '${d.name}'`;
  const s = d.source as Record<string, unknown> | null;
  if (s === null || typeof s !== 'object' || !Array.isArray(s.files) || !Array.isArray(s.counts) || !Array.isArray(s.offsets)) throw new TypeError(`${at}: source must be { files, offsets, counts, recordBytes, imageOffset, layout }`);
  if (!(d.labels instanceof Int32Array)) throw new TypeError(`${at}: labels must be an Int32Array, got ${arrayType(d.labels)}`);
  checkShape(at, 'shape', d.shape);
  if (typeof d.classes !== 'number' || !isPositiveInteger(d.classes)) throw new RangeError(`${at}: classes must be a positive integer, got ${String(d.classes)}`);
  if (d.length !== d.labels.length) throw new RangeError(`${at}: length is ${String(d.length)} but labels has ${d.labels.length} entries`);
  const records = (s.counts as number[]).reduce((a, b) => a + b, 0);
  if (d.indices !== undefined) {
    if (!(d.indices instanceof Int32Array) || d.indices.length !== d.length || !(d.recordLabels instanceof Int32Array) || d.recordLabels.length !== records) {
      throw new RangeError(`${at}: a subset needs indices (one per example) and recordLabels (one per record: ${records})`);
    }
  } else if (d.length !== records) {
    throw new RangeError(`${at}: length is ${String(d.length)} but the files hold ${records} records`);
  }
}

/** The RangeError for labels[i] outside [0, classes) (shared by validateDataset and gatherBatch). */
export function labelRangeError(where: string, ds: AnyDataset, i: number): RangeError {
  return new RangeError(
    `${where}: data set '${ds.name}': labels[${i}] = ${ds.labels[i]} is outside [0, ${ds.classes}) (classes = ${ds.classes})`,
  );
}

/**
 * Throws unless `ds` is a structurally sound Dataset (used at public entry points): the field
 * types, a positive-integer shape and classes, and length = labels.length, images.length =
 * length·C·H·W. O(1): labels and pixels are checked by {@link validateDataset}.
 * @throws TypeError / RangeError starting `${fn}: ${name}`.
 */
export function checkDataset(fn: string, name: string, ds: unknown): asserts ds is Dataset {
  checkStructure(`${fn}: ${name}`, ds);
  if (isStreamed(ds as AnyDataset)) throw new TypeError(`${fn}: ${name} must be a Dataset held in memory; '${(ds as ImageFolder).name}' streams from disk (its images are read when batches are made)`);
}

/** {@link checkDataset} for the functions that take image folders too. */
export function checkAnyDataset(fn: string, name: string, ds: unknown): asserts ds is AnyDataset {
  checkStructure(`${fn}: ${name}`, ds);
}

/**
 * Checks everything a trainer relies on, in one pass over the labels and one over the pixels
 * (branch-free; about 0.1 s for 60,000 28×28 images on a busy 2-core machine): the structure
 * ({@link checkDataset}), every label in [0, classes) and every pixel finite. For data sets that
 * did not come from this library's readers (hand-built objects satisfying the Dataset interface),
 * at every entry to training.
 *
 * @param where the caller and argument, starting every message (e.g. 'trainSgd: train').
 * @throws TypeError for a field of the wrong type; RangeError naming `where`, the data set's name,
 * the field and the values: lengths that disagree (expected and actual), the first label outside
 * [0, classes) (index and value), the first non-finite pixel (index and image).
 * @example validateDataset(train, 'trainNewton: train');
 */
export function validateDataset(ds: AnyDataset, where: string): void {
  checkStructure(where, ds);
  const { labels, classes } = ds;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l < 0 || l >= classes) throw labelRangeError(where, ds, i);
  }
  // streamed pixels are bytes read when batches are made: finite by construction
  if (isStreamed(ds)) return;
  const images = ds.images;
  let bad = 0;
  for (let i = 0; i < images.length; i++) bad += images[i] * 0; // stays 0 unless a value is NaN or ±Infinity
  if (bad !== 0) {
    const i = images.findIndex((v) => v - v !== 0);
    const image = Math.floor(i / imageSize(ds.shape));
    throw new RangeError(`${where}: data set '${ds.name}': images[${i}] = ${images[i]} is not finite (image ${image})`);
  }
}

/**
 * The images at `indices` (in that order, repeats allowed) as a new data set with copied arrays.
 * @throws RangeError when an index is not an integer in [0, ds.length).
 */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset;
/** The same for an image folder: a folder of the files at `indices` (nothing is read). */
export function subset(ds: ImageFolder, indices: ArrayLike<number>): ImageFolder;
/** The same for records on disk: a set of the records at `indices` (nothing is read). */
export function subset(ds: RecordFile, indices: ArrayLike<number>): RecordFile;
export function subset(ds: AnyDataset, indices: ArrayLike<number>): AnyDataset;
export function subset(ds: AnyDataset, indices: ArrayLike<number>): AnyDataset {
  const fn = 'subset';
  checkAnyDataset(fn, 'ds', ds);
  if (indices === null || typeof indices !== 'object' || typeof indices.length !== 'number') {
    throw new TypeError(`${fn}: indices must be an array of integers, got ${describe(indices)}`);
  }
  const n = indices.length;
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    if (!Number.isInteger(j) || j < 0 || j >= ds.length) {
      throw new RangeError(`${fn}: indices[${i}] = ${j} is not an integer in [0, ${ds.length})`);
    }
  }
  const labels = Int32Array.from({ length: n }, (_, i) => ds.labels[indices[i]]);
  if (isImageFolder(ds)) {
    const files = Object.freeze(Array.from({ length: n }, (_, i) => ds.files[indices[i]]));
    return Object.freeze({ ...ds, files, labels, length: n });
  }
  if (isRecordFile(ds)) {
    const base = ds.indices;
    const records = Int32Array.from({ length: n }, (_, i) => (base === undefined ? indices[i] : base[indices[i]]));
    return Object.freeze({ ...ds, labels, length: n, indices: records, recordLabels: ds.recordLabels ?? ds.labels });
  }
  const size = imageSize(ds.shape);
  const images = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    images.set(ds.images.subarray(j * size, (j + 1) * size), i * size);
  }
  return createDataset({
    name: ds.name,
    images,
    labels,
    shape: ds.shape,
    classes: ds.classes,
    ...(ds.labelValues !== undefined ? { labelValues: ds.labelValues } : {}),
  });
}

/**
 * Per-channel statistics for the normalisation a streamed data set applies when its batches are
 * made: one finite mean and one positive finite std per channel, frozen.
 * @throws RangeError naming `fn`, the field and the value.
 */
export function checkChannelStats(fn: string, stats: { mean: ArrayLike<number>; std: ArrayLike<number> }, channels: number): { readonly mean: readonly number[]; readonly std: readonly number[] } {
  const values = (name: string, v: ArrayLike<number> | undefined, positive: boolean): readonly number[] => {
    if (v === null || typeof v !== 'object' || v.length !== channels) throw new RangeError(`${fn}: ${name} must hold one number per channel (${channels}), got ${describe(v)}`);
    const a = Array.from(v);
    a.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x) || (positive && !(x > 0))) throw new RangeError(`${fn}: ${name}[${i}] must be a ${positive ? 'positive ' : ''}finite number, got ${String(x)}`);
    });
    return Object.freeze(a);
  };
  return Object.freeze({ mean: values('stats.mean', stats.mean, false), std: values('stats.std', stats.std, true) });
}
