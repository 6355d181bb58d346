/**
 * LIBSVM text files, the format of the paper's data sets on the LIBSVM site: one image per line,
 * `label index:value index:value ...` with 1-based feature indices in increasing order; absent
 * features are 0. Feature k (1-based) is element k−1 of the image flattened in C·H·W order, so the
 * per-image shape must be given. Labels may be any integers (1-based, −1/+1, ...): the sorted
 * distinct labels map to class indices 0..k−1 and the mapping is kept as `labelValues`.
 * Raw or gzip (detected by magic bytes).
 *
 * @packageDocumentation
 */
import { constants as bufferConstants } from 'node:buffer';
import { checkShape, createDataset, DataFileError, Dataset, imageSize, MAX_DATASET_VALUES } from './dataset';
import { checkDatasetSize, readDataFile, readDataFileSync, runSteps, runStepsAsync, STEP_VALUES, Steps } from './files';

/** Options of readLibsvm. */
export interface ReadLibsvmOptions {
  /** Per-image shape [C, H, W]; features beyond C·H·W are an error. Required. */
  shape: readonly [number, number, number];
  /**
   * Number of classes (default: the number of distinct labels, or labelValues.length). Without it
   * (and without labelValues), a file of 20 or more lines in which more than half the lines have
   * distinct labels is refused: those look like regression targets, not classes.
   */
  classes?: number;
  /**
   * An existing label mapping (e.g. the training set's labelValues when reading its test file):
   * class k stands for labelValues[k]; labels not in it are an error. Default: built from this file.
   */
  labelValues?: readonly number[];
  /** Data set name (default: the file path). */
  name?: string;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;
const INDEX = /^\d+$/;

function fail(fn: string, file: string, line: number, what: string): DataFileError {
  return new DataFileError(`${fn}: ${file}: line ${line}: ${what}`, file);
}

function parseValue(fn: string, file: string, line: number, token: string, what: string, where = ''): number {
  if (NON_FINITE.test(token)) throw fail(fn, file, line, `non-finite ${what} '${token}'${where}`);
  if (!NUMBER.test(token)) throw fail(fn, file, line, `malformed ${what} '${token}'${where}`);
  const v = Number(token);
  if (!Number.isFinite(v)) throw fail(fn, file, line, `non-finite ${what} '${token}'${where}`);
  return v;
}

function checkOptions(fn: string, options: ReadLibsvmOptions | undefined): ReadLibsvmOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${fn}: options must be an object with shape [C, H, W], got ${options === null ? 'null' : typeof options}`);
  }
  const shape = checkShape(fn, 'options.shape', options.shape);
  const perImage = imageSize(shape);
  if (perImage > MAX_DATASET_VALUES) {
    throw new RangeError(
      `${fn}: options.shape [${shape.join(', ')}] = ${perImage} values per image, more than the ${MAX_DATASET_VALUES} a data set can hold`,
    );
  }
  if (options.classes !== undefined && (!Number.isInteger(options.classes) || options.classes < 1)) {
    throw new RangeError(`${fn}: options.classes must be a positive integer, got ${options.classes}`);
  }
  if (options.labelValues !== undefined) {
    const lv = options.labelValues;
    if (!Array.isArray(lv) || lv.length === 0 || !lv.every(Number.isFinite)) {
      throw new RangeError(`${fn}: options.labelValues must be a non-empty array of finite numbers`);
    }
  }
  return options;
}

/** Parses LIBSVM text (already decompressed) into a Dataset; see Note [stepwise parsing] in files.ts. */
export function* libsvmDataset(fn: string, file: string, text: string, options: ReadLibsvmOptions): Steps<Dataset> {
  const shape = checkShape(fn, 'options.shape', options.shape);
  const size = imageSize(shape);
  const lines = text.split('\n');
  let count = 0;
  for (const l of lines) if (l.trim() !== '') count++;
  if (count === 0) throw new DataFileError(`${fn}: ${file}: no data lines (empty LIBSVM file)`, file);
  checkDatasetSize(`${fn}: ${file}: options.shape [${shape.join(', ')}] × ${count} images`, count * size);
  const images = new Float32Array(count * size);
  const rawLabels = new Float64Array(count);
  // Yield about every STEP_VALUES characters of text (parsing costs per character, not per pixel).
  let sinceYield = 0;
  let n = 0;
  for (let li = 0; li < lines.length; li++) {
    sinceYield += lines[li].length;
    if (sinceYield > STEP_VALUES) {
      sinceYield = 0;
      yield;
    }
    const line = li + 1;
    const tokens = lines[li].trim().split(/\s+/);
    if (tokens[0] === '') continue; // blank line
    const label = parseValue(fn, file, line, tokens[0], 'label');
    if (!Number.isInteger(label)) throw fail(fn, file, line, `label '${tokens[0]}' is not an integer`);
    rawLabels[n] = label;
    const base = n * size;
    let last = 0;
    for (let t = 1; t < tokens.length; t++) {
      const token = tokens[t];
      const colon = token.indexOf(':');
      if (colon < 0) throw fail(fn, file, line, `malformed feature '${token}' (expected index:value)`);
      const indexText = token.slice(0, colon);
      if (!INDEX.test(indexText)) throw fail(fn, file, line, `malformed feature index '${indexText}' in '${token}'`);
      const index = Number(indexText);
      if (index < 1) throw fail(fn, file, line, `feature index 0 in '${token}' (indices are 1-based)`);
      if (index > size) {
        throw fail(fn, file, line, `feature index ${index} beyond C·H·W = ${shape.join('·')} = ${size}`);
      }
      if (index <= last) {
        throw fail(fn, file, line, `feature index ${index} after ${last} (indices must increase)`);
      }
      last = index;
      images[base + index - 1] = parseValue(fn, file, line, token.slice(colon + 1), 'value', ` in '${token}'`);
    }
    n++;
  }
  // Label mapping: sorted distinct labels → 0..k−1, or the caller's mapping.
  const labelValues = options.labelValues ?? [...new Set(rawLabels)].sort((a, b) => a - b);
  const classOf = new Map<number, number>();
  labelValues.forEach((v, k) => classOf.set(v, k));
  const classes = options.classes ?? Math.max(labelValues.length, 1);
  if (options.classes === undefined && options.labelValues === undefined && count >= 20 && labelValues.length > count / 2) {
    throw new DataFileError(
      `${fn}: ${file}: ${labelValues.length} distinct labels in ${count} lines: regression targets rather than classes? ` +
        'Give the number of classes (options.classes, --classes) to use them as classes',
      file,
    );
  }
  if (labelValues.length > classes) {
    throw new DataFileError(
      `${fn}: ${file}: ${labelValues.length} distinct labels [${labelValues.join(', ')}] but options.classes is ${classes}`,
      file,
    );
  }
  const labels = new Int32Array(count);
  for (let i = 0, li = 0; i < count; li++) {
    if (lines[li].trim() === '') continue;
    const k = classOf.get(rawLabels[i]);
    if (k === undefined) {
      throw fail(fn, file, li + 1, `label ${rawLabels[i]} is not one of the known labels [${labelValues.join(', ')}]`);
    }
    labels[i++] = k;
  }
  return createDataset({ name: options.name ?? file, images, labels, shape, classes, labelValues });
}

/** The text of a LIBSVM file's (decompressed) bytes. @throws DataFileError when longer than a JavaScript string can be. */
function text(fn: string, file: string, buf: Buffer): string {
  if (buf.length > bufferConstants.MAX_STRING_LENGTH) {
    throw new DataFileError(
      `${fn}: ${file}: ${buf.length} bytes of text, more than the ${bufferConstants.MAX_STRING_LENGTH} characters a JavaScript string can hold`,
      file,
    );
  }
  return buf.toString('utf8');
}

/**
 * Reads a LIBSVM file synchronously into a Dataset of the given shape.
 * @throws DataFileError naming the file and line: malformed token, index 0 or beyond C·H·W, decreasing
 * indices, non-finite value, non-integer or unknown label, labels that look like regression targets (give
 * options.classes); missing file; corrupt gzip or a gzip bomb (inflated no further than GZIP_MAX_RATIO × the
 * compressed size, at least GZIP_MIN_BOUND); RangeError naming options.shape when the images need more values
 * than a data set or the available memory can hold.
 */
export function readLibsvm(path: string, options: ReadLibsvmOptions): Dataset {
  const fn = 'readLibsvm';
  if (typeof path !== 'string') throw new TypeError(`${fn}: path must be a string, got ${typeof path}`);
  checkOptions(fn, options);
  return runSteps(libsvmDataset(fn, path, text(fn, path, readDataFileSync(fn, path)), options));
}

/** readLibsvm with fs.promises, asynchronous gunzip and stepwise parsing. */
export async function readLibsvmAsync(path: string, options: ReadLibsvmOptions): Promise<Dataset> {
  const fn = 'readLibsvm';
  if (typeof path !== 'string') throw new TypeError(`${fn}: path must be a string, got ${typeof path}`);
  checkOptions(fn, options);
  return runStepsAsync(libsvmDataset(fn, path, text(fn, path, await readDataFile(fn, path)), options));
}
