/**
 * CIFAR-10 / CIFAR-100 binary files. CIFAR-10 records are 1 label byte + 3072 pixel bytes;
 * CIFAR-100 records are 2 label bytes (coarse, fine) + 3072 pixel bytes. Pixels are already CHW
 * (1024 red, 1024 green, 1024 blue, each 32×32 row-major). Raw or gzip. Pixels stay 0..255.
 *
 * @packageDocumentation
 */
import { createDataset, DataFileError, Dataset, describe } from './dataset';
import { checkDatasetSize, readDataFile, readDataFileSync, runSteps, runStepsAsync, STEP_VALUES, Steps } from './files';

const PIXELS = 3 * 32 * 32;

/** Options of readCifar. */
export interface ReadCifarOptions {
  /** 10 (default) or 100. */
  variant?: 10 | 100;
  /** CIFAR-100 only: 'fine' (100 classes, default) or 'coarse' (20 superclasses). */
  labels?: 'fine' | 'coarse';
  /** Data set name (default: the first file name). */
  name?: string;
}

interface CifarLayout {
  labelBytes: number;
  labelOffset: number;
  classes: number;
}

function layout(fn: string, options: ReadCifarOptions): CifarLayout {
  const variant = options.variant ?? 10;
  if (variant !== 10 && variant !== 100) {
    throw new RangeError(`${fn}: options.variant must be 10 or 100, got ${String(variant)}`);
  }
  const which = options.labels ?? 'fine';
  if (which !== 'fine' && which !== 'coarse') {
    throw new RangeError(`${fn}: options.labels must be 'fine' or 'coarse', got ${String(which)}`);
  }
  if (variant === 10) {
    if (options.labels !== undefined) throw new RangeError(`${fn}: options.labels applies only to variant 100`);
    return { labelBytes: 1, labelOffset: 0, classes: 10 };
  }
  return which === 'coarse' ? { labelBytes: 2, labelOffset: 0, classes: 20 } : { labelBytes: 2, labelOffset: 1, classes: 100 };
}

function checkPaths(fn: string, paths: unknown): asserts paths is readonly string[] {
  if (!Array.isArray(paths)) throw new TypeError(`${fn}: paths must be an array of file paths, got ${describe(paths)}`);
  if (paths.length === 0) throw new RangeError(`${fn}: paths must name at least one file`);
  paths.forEach((p, i) => {
    if (typeof p !== 'string') throw new TypeError(`${fn}: paths[${i}] must be a string, got ${describe(p)}`);
  });
}

/** Builds a Dataset from the (decompressed) contents of CIFAR binary files; see Note [stepwise parsing] in files.ts. */
export function* cifarDataset(
  fn: string,
  paths: readonly string[],
  buffers: readonly Buffer[],
  options: ReadCifarOptions,
): Steps<Dataset> {
  const { labelBytes, labelOffset, classes } = layout(fn, options);
  const record = labelBytes + PIXELS;
  let total = 0;
  buffers.forEach((buf, f) => {
    if (buf.length === 0) throw new DataFileError(`${fn}: ${paths[f]}: file is empty`, paths[f]);
    if (buf.length % record !== 0) {
      throw new DataFileError(
        `${fn}: ${paths[f]}: size ${buf.length} is not a multiple of the ${record}-byte CIFAR-${options.variant ?? 10} record ` +
          `(${labelBytes} label byte${labelBytes > 1 ? 's' : ''} + ${PIXELS} pixels); truncated or wrong variant?`,
        paths[f],
      );
    }
    total += buf.length / record;
  });
  const files = paths.length === 1 ? paths[0] : `${paths.length} files`;
  checkDatasetSize(`${fn}: ${files}: ${total} records × ${PIXELS} pixels`, total * PIXELS);
  const images = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  const recordsPerStep = Math.max(1, Math.floor(STEP_VALUES / PIXELS));
  let n = 0;
  for (let f = 0; f < buffers.length; f++) {
    const buf = buffers[f];
    for (let r = 0; r < buf.length / record; r++, n++) {
      if (n > 0 && n % recordsPerStep === 0) yield;
      const base = r * record;
      const label = buf[base + labelOffset];
      if (label >= classes) {
        throw new DataFileError(`${fn}: ${paths[f]}: label ${label} of record ${r} out of range [0, ${classes})`, paths[f]);
      }
      labels[n] = label;
      images.set(buf.subarray(base + labelBytes, base + record), n * PIXELS); // uint8 → float32
    }
  }
  return createDataset({ name: options.name ?? paths[0], images, labels, shape: [3, 32, 32], classes });
}

/**
 * Reads one or more CIFAR binary files synchronously into one Dataset of shape [3, 32, 32]
 * (records in file order).
 * Gzip files are inflated no further than GZIP_MAX_RATIO × their compressed size (at least GZIP_MIN_BOUND; Note [bounded decompression]).
 * @throws DataFileError naming the file: missing, empty, size not a multiple of the record, label out of range, corrupt gzip
 * or a gzip bomb; RangeError for more records than a data set or the available memory can hold.
 */
export function readCifar(paths: readonly string[], options: ReadCifarOptions = {}): Dataset {
  const fn = 'readCifar';
  checkPaths(fn, paths);
  layout(fn, options);
  return runSteps(cifarDataset(fn, paths, paths.map((p) => readDataFileSync(fn, p)), options));
}

/** readCifar with fs.promises, asynchronous gunzip and stepwise conversion. */
export async function readCifarAsync(paths: readonly string[], options: ReadCifarOptions = {}): Promise<Dataset> {
  const fn = 'readCifar';
  checkPaths(fn, paths);
  layout(fn, options);
  const buffers = await Promise.all(paths.map((p) => readDataFile(fn, p)));
  return runStepsAsync(cifarDataset(fn, paths, buffers, options));
}
