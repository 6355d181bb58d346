/**
 * IDX files (the MNIST / Fashion-MNIST format): a big-endian header — magic 0x00000803 (unsigned
 * bytes, 3 dimensions: count, rows, columns) for images, 0x00000801 (unsigned bytes, 1 dimension)
 * for labels — followed by the data. Raw or gzip (detected by magic bytes). Pixels stay 0..255.
 *
 * @packageDocumentation
 */
import { createDataset, DataFileError, Dataset } from './dataset';
import { bytesToFloat32, readDataFile, readDataFileSync, runSteps, runStepsAsync, Steps } from './files';

/** Magic number of an IDX file of unsigned bytes with 3 dimensions (images). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of unsigned bytes with 1 dimension (labels). */
export const IDX_LABELS_MAGIC = 0x00000801;

/** Options of readIdx. */
export interface ReadIdxOptions {
  /** Data set name (default: the image file name). */
  name?: string;
  /** Number of classes; labels must be below it (default: largest label + 1). */
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

/** Parses an (already decompressed) IDX image buffer; `fn` and `file` go into error messages. */
export function parseIdxImages(fn: string, file: string, buf: Buffer): IdxImages {
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
  checkSize(fn, file, buf, 8, `${count} labels`, count);
  return buf.subarray(8);
}

/** Combines image and label file contents into a Dataset (checks counts and label range); see Note [stepwise parsing]. */
export function* idxDataset(
  fn: string,
  imagesPath: string,
  labelsPath: string,
  imagesBuf: Buffer,
  labelsBuf: Buffer,
  options: ReadIdxOptions = {},
): Steps<Dataset> {
  const images = parseIdxImages(fn, imagesPath, imagesBuf);
  const raw = parseIdxLabels(fn, labelsPath, labelsBuf);
  if (raw.length !== images.count) {
    throw new DataFileError(
      `${fn}: ${labelsPath}: image/label count mismatch: ${raw.length} labels but ${imagesPath} has ${images.count} images`,
      labelsPath,
    );
  }
  let max = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] > max) max = raw[i];
  const classes = options.classes ?? max + 1;
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`${fn}: options.classes must be a positive integer, got ${classes}`);
  }
  if (max >= classes) {
    const at = raw.findIndex((l) => l >= classes);
    throw new DataFileError(
      `${fn}: ${labelsPath}: label ${raw[at]} of item ${at} out of range [0, ${classes})`,
      labelsPath,
    );
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

function checkPaths(fn: string, imagesPath: unknown, labelsPath: unknown): void {
  if (typeof imagesPath !== 'string') throw new TypeError(`${fn}: imagesPath must be a string, got ${typeof imagesPath}`);
  if (typeof labelsPath !== 'string') throw new TypeError(`${fn}: labelsPath must be a string, got ${typeof labelsPath}`);
}

/**
 * Reads an IDX image file and its label file (each raw or gzip) synchronously into a Dataset of
 * shape [1, rows, cols] with pixel values 0..255.
 * @throws DataFileError naming the file: missing, wrong magic, truncated, corrupt gzip, count mismatch, label out of range.
 */
export function readIdx(imagesPath: string, labelsPath: string, options: ReadIdxOptions = {}): Dataset {
  const fn = 'readIdx';
  checkPaths(fn, imagesPath, labelsPath);
  return runSteps(
    idxDataset(fn, imagesPath, labelsPath, readDataFileSync(fn, imagesPath), readDataFileSync(fn, labelsPath), options),
  );
}

/** readIdx with fs.promises, asynchronous gunzip and stepwise conversion, for callers that must keep the event loop free. */
export async function readIdxAsync(imagesPath: string, labelsPath: string, options: ReadIdxOptions = {}): Promise<Dataset> {
  const fn = 'readIdx';
  checkPaths(fn, imagesPath, labelsPath);
  const [imagesBuf, labelsBuf] = await Promise.all([readDataFile(fn, imagesPath), readDataFile(fn, labelsPath)]);
  return runStepsAsync(idxDataset(fn, imagesPath, labelsPath, imagesBuf, labelsBuf, options));
}
