/**
 * IDX files (the MNIST / Fashion-MNIST format): a big-endian header — magic 0x00000803 (unsigned
 * bytes, 3 dimensions: count, rows, columns) for images, 0x00000801 (unsigned bytes, 1 dimension)
 * for labels — followed by the data. Raw or gzip (detected by magic bytes). Pixels stay 0..255.
 *
 * @packageDocumentation
 */
import { createDataset, DataFileError, Dataset, MAX_DATASET_VALUES } from './dataset';
import {
  bytesToFloat32,
  datasetSizeProblem,
  GunzipBound,
  readDataFile,
  readDataFileSync,
  runSteps,
  runStepsAsync,
  Steps,
} from './files';

/** Magic number of an IDX file of unsigned bytes with 3 dimensions (images). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of unsigned bytes with 1 dimension (labels). */
export const IDX_LABELS_MAGIC = 0x00000801;

/** Options of readIdx. */
export interface ReadIdxOptions {
  /** Data set name (default: the image file name). */
  name?: string;
  /**
   * Number of classes; a label ≥ classes is an error naming the file, the item and the value.
   * Default: inferred from the labels only when they are exactly 0..k−1 (every class has an item);
   * otherwise an error asks for it (one corrupt label byte must not add classes).
   */
  classes?: number;
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

function checkMagic(fn: string, file: string, buf: Buffer, expected: number, what: string): void {
  if (buf.length < 4) {
    throw new DataFileError(`${fn}: ${file}: truncated IDX header (${buf.length} bytes, no magic number)`, file);
  }
  const magic = buf.readUInt32BE(0);
  if (magic !== expected) {
    const other = magic === IDX_IMAGES_MAGIC ? ' (an image file)' : magic === IDX_LABELS_MAGIC ? ' (a label file)' : '';
    throw new DataFileError(
      `${fn}: ${file}: wrong magic number ${hex(magic)}${other}, expected ${hex(expected)} (IDX ${what})`,
      file,
    );
  }
}

function checkSize(fn: string, file: string, buf: Buffer, header: number, declared: string, bytes: number): void {
  const have = buf.length - header;
  if (have < bytes) {
    throw new DataFileError(
      `${fn}: ${file}: truncated data: header declares ${declared} = ${bytes} bytes but only ${have} follow`,
      file,
    );
  }
  if (have > bytes) {
    throw new DataFileError(
      `${fn}: ${file}: size mismatch: header declares ${declared} = ${bytes} bytes but ${have} follow (${have - bytes} extra)`,
      file,
    );
  }
}

/** Parsed IDX image file: `count` images of rows × cols unsigned bytes. */
export interface IdxImages {
  /** Number of images. */
  count: number;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** count·rows·cols bytes, row-major. */
  pixels: Uint8Array;
}

/** The dimensions an IDX image header declares, checked (no data needed): count ≥ 1, rows, cols ≥ 1, and a size a data set can hold. */
function idxImagesHeader(fn: string, file: string, buf: Buffer): { count: number; rows: number; cols: number } {
  checkMagic(fn, file, buf, IDX_IMAGES_MAGIC, 'images: unsigned bytes, 3 dimensions');
  if (buf.length < 16) {
    throw new DataFileError(`${fn}: ${file}: truncated IDX header (${buf.length} of 16 bytes)`, file);
  }
  const count = buf.readUInt32BE(4);
  const rows = buf.readUInt32BE(8);
  const cols = buf.readUInt32BE(12);
  if (rows === 0 || cols === 0) {
    throw new DataFileError(`${fn}: ${file}: image size ${rows}×${cols} must be positive`, file);
  }
  if (count === 0) throw new DataFileError(`${fn}: ${file}: contains 0 images (the header's image count is 0)`, file);
  const values = count * rows * cols;
  const problem = datasetSizeProblem(values);
  if (problem !== undefined) {
    const declared = `${fn}: ${file}: header declares ${count}×${rows}×${cols} = ${values} values`;
    if (values > MAX_DATASET_VALUES) throw new DataFileError(`${declared}${problem}`, file); // the file's fault
    throw new RangeError(`${declared}${problem}`); // the machine's
  }
  return { count, rows, cols };
}

/**
 * The decompression bound of a gzip IDX image file: the size its header announces (Note [bounded
 * decompression] in files.ts). Absurd dimensions are refused before anything else is inflated.
 */
function idxImagesBound(fn: string, file: string): GunzipBound {
  return {
    headerBytes: 16,
    limit(head) {
      if (head.length < 16 || head.readUInt32BE(0) !== IDX_IMAGES_MAGIC) return undefined; // the parser says what is wrong
      const { count, rows, cols } = idxImagesHeader(fn, file, head);
      const bytes = 16 + count * rows * cols;
      return { bytes, what: `the ${bytes} bytes its IDX header announces (16 + ${count}×${rows}×${cols})` };
    },
  };
}

/** The image/label count mismatch, reported on the label file. */
function countMismatch(fn: string, imagesPath: string, labelsPath: string, labels: number, images: number): DataFileError {
  return new DataFileError(
    `${fn}: ${labelsPath}: image/label count mismatch: ${labels} labels but ${imagesPath} has ${images} images`,
    labelsPath,
  );
}

/**
 * The decompression bound of a gzip IDX label file: one byte per image of its image file, whose
 * count must be the header's (a different count is refused before the data are inflated).
 */
function idxLabelsBound(fn: string, imagesPath: string, labelsPath: string, images: number): GunzipBound {
  return {
    headerBytes: 8,
    limit(head) {
      if (head.length < 8 || head.readUInt32BE(0) !== IDX_LABELS_MAGIC) return undefined;
      const count = head.readUInt32BE(4);
      if (count !== images && count !== 0) throw countMismatch(fn, imagesPath, labelsPath, count, images);
      return { bytes: 8 + count, what: `the ${8 + count} bytes its IDX header announces (8 + ${count})` };
    },
  };
}

/** Parses an (already decompressed) IDX image buffer; `fn` and `file` go into error messages. */
export function parseIdxImages(fn: string, file: string, buf: Buffer): IdxImages {
  const { count, rows, cols } = idxImagesHeader(fn, file, buf);
  checkSize(fn, file, buf, 16, `${count}×${rows}×${cols}`, count * rows * cols);
  return { count, rows, cols, pixels: buf.subarray(16) };
}

/** Parses an (already decompressed) IDX label buffer. */
export function parseIdxLabels(fn: string, file: string, buf: Buffer): Uint8Array {
  checkMagic(fn, file, buf, IDX_LABELS_MAGIC, 'labels: unsigned bytes, 1 dimension');
  if (buf.length < 8) {
    throw new DataFileError(`${fn}: ${file}: truncated IDX header (${buf.length} of 8 bytes)`, file);
  }
  const count = buf.readUInt32BE(4);
  if (count === 0) throw new DataFileError(`${fn}: ${file}: contains 0 labels (the header's label count is 0)`, file);
  checkSize(fn, file, buf, 8, `${count} labels`, count);
  return buf.subarray(8);
}

/** "class 5 has" / "classes 0, 2, 10..199 have": the absent labels as runs, for messages. */
function describeAbsent(absent: readonly number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < absent.length; ) {
    let j = i;
    while (j + 1 < absent.length && absent[j + 1] === absent[j] + 1) j++;
    runs.push(j - i >= 2 ? `${absent[i]}..${absent[j]}` : absent.slice(i, j + 1).join(', '));
    i = j + 1;
  }
  return absent.length === 1 ? `class ${runs[0]} has` : `classes ${runs.join(', ')} have`;
}

/**
 * The class count of IDX labels with no explicit option: k when the labels are exactly 0..k−1
 * (every class has an item). A gap means a corrupt label (one byte of 200 among 0..9 would make
 * 201 classes) or a subset of a larger label set, and only the caller knows which.
 * @throws DataFileError naming the label file, the largest label and its item, and the empty classes.
 */
function inferIdxClasses(fn: string, file: string, raw: Uint8Array): number {
  const counts = new Int32Array(256);
  for (let i = 0; i < raw.length; i++) counts[raw[i]]++;
  let max = 255;
  while (counts[max] === 0) max--;
  const absent: number[] = [];
  for (let c = 0; c < max; c++) if (counts[c] === 0) absent.push(c);
  if (absent.length > 0) {
    throw new DataFileError(
      `${fn}: ${file}: cannot infer the number of classes: label ${max} of item ${raw.indexOf(max)} would make ${max + 1} classes ` +
        `but ${describeAbsent(absent)} no item (a corrupt label?); give the number of classes (options.classes, --classes)`,
      file,
    );
  }
  return max + 1;
}

/** Combines parsed image and label files into a Dataset (checks counts and label range); see Note [stepwise parsing]. */
export function* idxDataset(
  fn: string,
  imagesPath: string,
  labelsPath: string,
  images: IdxImages,
  raw: Uint8Array,
  options: ReadIdxOptions = {},
): Steps<Dataset> {
  if (raw.length !== images.count) throw countMismatch(fn, imagesPath, labelsPath, raw.length, images.count);
  const classes = options.classes ?? inferIdxClasses(fn, labelsPath, raw);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] >= classes) {
      throw new DataFileError(`${fn}: ${labelsPath}: label ${raw[i]} of item ${i} out of range [0, ${classes})`, labelsPath);
    }
  }
  const labels = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) labels[i] = raw[i];
  return createDataset({
    name: options.name ?? imagesPath,
    images: yield* bytesToFloat32(images.pixels),
    labels,
    shape: [1, images.rows, images.cols],
    classes,
  });
}

function checkArguments(fn: string, imagesPath: unknown, labelsPath: unknown, options: ReadIdxOptions): void {
  if (typeof imagesPath !== 'string') throw new TypeError(`${fn}: imagesPath must be a string, got ${typeof imagesPath}`);
  if (typeof labelsPath !== 'string') throw new TypeError(`${fn}: labelsPath must be a string, got ${typeof labelsPath}`);
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${fn}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const classes = options.classes;
  if (classes !== undefined && (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 1)) {
    throw new RangeError(`${fn}: options.classes must be a positive integer, got ${String(classes)}`);
  }
}

/**
 * Reads an IDX image file and its label file (each raw or gzip) synchronously into a Dataset of
 * shape [1, rows, cols] with pixel values 0..255. The image file is read first: gzip data are
 * inflated no further than its header announces, and the label file no further than one byte per image.
 * @throws DataFileError naming the file: missing, wrong magic, truncated, 0 images, corrupt gzip or
 * more data than announced, count mismatch, label out of range, class count not inferable (give options.classes);
 * RangeError for a bad options.classes or a data set larger than the available memory.
 */
export function readIdx(imagesPath: string, labelsPath: string, options: ReadIdxOptions = {}): Dataset {
  const fn = 'readIdx';
  checkArguments(fn, imagesPath, labelsPath, options);
  const images = parseIdxImages(fn, imagesPath, readDataFileSync(fn, imagesPath, idxImagesBound(fn, imagesPath)));
  const labelsBuf = readDataFileSync(fn, labelsPath, idxLabelsBound(fn, imagesPath, labelsPath, images.count));
  return runSteps(idxDataset(fn, imagesPath, labelsPath, images, parseIdxLabels(fn, labelsPath, labelsBuf), options));
}

/** readIdx with fs.promises, asynchronous gunzip and stepwise conversion, for callers that must keep the event loop free. */
export async function readIdxAsync(imagesPath: string, labelsPath: string, options: ReadIdxOptions = {}): Promise<Dataset> {
  const fn = 'readIdx';
  checkArguments(fn, imagesPath, labelsPath, options);
  const images = parseIdxImages(fn, imagesPath, await readDataFile(fn, imagesPath, idxImagesBound(fn, imagesPath)));
  const labelsBuf = await readDataFile(fn, labelsPath, idxLabelsBound(fn, imagesPath, labelsPath, images.count));
  return runStepsAsync(idxDataset(fn, imagesPath, labelsPath, images, parseIdxLabels(fn, labelsPath, labelsBuf), options));
}
