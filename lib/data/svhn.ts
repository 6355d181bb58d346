/**
 * SVHN (Street View House Numbers) in its cropped-digits `.mat` distribution: `train_32x32.mat`,
 * `test_32x32.mat`, `extra_32x32.mat`, MATLAB level-5 files (lib/data/mat.ts) holding
 * X, 32×32×3×N uint8 (height, width, channel, image; column-major), and y, N×1 double labels
 * 1..10 where 10 stands for the digit 0. The reader gives NCHW float32 images 0..255 and labels
 * 0..9 (10 → 0), so class k is the digit k.
 *
 * @packageDocumentation
 */
import { createDataset, DataFileError, Dataset, describe } from './dataset';
import { checkDatasetSize, readDataFile, readDataFileSync, runSteps, runStepsAsync, STEP_VALUES, Steps } from './files';
import { MatArray, parseMat, parseMatAsync } from './mat';

/** SVHN's classes: the digits, in label order. */
export const SVHN_CLASSES = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

/** Options of readSvhn. */
export interface ReadSvhnOptions {
  /** Data set name (default: the first file name). */
  name?: string;
}

/** The images and labels of one SVHN file, checked. */
interface SvhnFile {
  file: string;
  /** X's values, column-major [H, W, C, N]. */
  x: MatArray;
  /** y's values, N of them. */
  y: MatArray;
  /** [C, H, W] of one image. */
  shape: [number, number, number];
  count: number;
}

function checkPaths(fn: string, paths: unknown): asserts paths is readonly string[] {
  if (!Array.isArray(paths)) throw new TypeError(`${fn}: paths must be an array of file paths, got ${describe(paths)}`);
  if (paths.length === 0) throw new RangeError(`${fn}: paths must name at least one file`);
  paths.forEach((p, i) => {
    if (typeof p !== 'string') throw new TypeError(`${fn}: paths[${i}] must be a string, got ${describe(p)}`);
  });
}

/** The DataFileError of a file without X or y; `names` are the numeric variables it holds. */
export function svhnMissingVariable(fn: string, file: string, missing: 'X' | 'y', names: Iterable<string>): DataFileError {
  const found = [...names].map((n) => `'${n}'`).join(', ') || 'none';
  return new DataFileError(`${fn}: ${file}: no numeric variable '${missing}' (an SVHN file holds X and y; found ${found})`, file);
}

/**
 * The image shape [C, H, W] and the image count of X's dimensions [H, W, C, N] (or [H, W, C] for
 * one image).
 * @throws DataFileError naming the file for other dimensions or an empty image dimension.
 */
export function svhnImages(fn: string, file: string, dims: readonly number[]): { shape: [number, number, number]; count: number } {
  if (dims.length !== 3 && dims.length !== 4) {
    throw new DataFileError(`${fn}: ${file}: X has dimensions [${dims.join('×')}], not height×width×channels×images (e.g. 32×32×3×N)`, file);
  }
  const [h, w, c] = dims;
  if (h === 0 || w === 0 || c === 0) throw new DataFileError(`${fn}: ${file}: X has an empty image dimension in [${dims.join('×')}]`, file);
  return { shape: [c, h, w], count: dims.length === 4 ? dims[3] : 1 };
}

/**
 * Checks that y holds `count` values as an N×1 or 1×N array.
 * @throws DataFileError naming the file otherwise.
 */
export function checkSvhnLabels(fn: string, file: string, y: MatArray, count: number): void {
  const yVector = y.dims.length === 2 && (y.dims[1] === 1 || y.dims[0] === 1);
  if (!yVector || y.values.length !== count) {
    throw new DataFileError(`${fn}: ${file}: y has dimensions [${y.dims.join('×')}] but X holds ${count} images (y must be ${count}×1)`, file);
  }
}

/**
 * The class of SVHN label `label` of image `i`: 1..9 for the digits 1..9, 10 → 0.
 * @throws DataFileError naming the file for a value that is not an integer in 1..10.
 */
export function svhnClass(fn: string, file: string, label: number, i: number): number {
  if (!Number.isInteger(label) || label < 1 || label > 10) {
    throw new DataFileError(`${fn}: ${file}: label ${label} of image ${i} is not an integer in 1..10 (10 stands for the digit 0)`, file);
  }
  return label === 10 ? 0 : label;
}

/**
 * Checks that the images of every file have the shape of the first file's.
 * @throws DataFileError naming the first file whose images differ.
 */
export function checkSvhnShapes(fn: string, files: readonly { file: string; shape: readonly [number, number, number] }[]): void {
  const shape = files[0].shape;
  for (const f of files) {
    if (f.shape.some((d, i) => d !== shape[i])) {
      throw new DataFileError(
        `${fn}: ${f.file}: images are [${f.shape.join(', ')}] (C, H, W) but those of ${files[0].file} are [${shape.join(', ')}]`,
        f.file,
      );
    }
  }
}

/**
 * Checks a file's variables: X numeric with dimensions [H, W, C, N] (or [H, W, C] for one
 * image), y numeric with N values as an N×1 or 1×N array.
 * @throws DataFileError naming the file and the variable for a missing one or wrong dimensions.
 */
function svhnFile(fn: string, file: string, vars: Map<string, MatArray>): SvhnFile {
  const x = vars.get('X');
  const y = vars.get('y');
  if (x === undefined || y === undefined) throw svhnMissingVariable(fn, file, x === undefined ? 'X' : 'y', vars.keys());
  const { shape, count } = svhnImages(fn, file, x.dims);
  checkSvhnLabels(fn, file, y, count);
  return { file, x, y, shape, count };
}

/** Builds a Dataset from the checked contents of SVHN files; see Note [stepwise parsing] in files.ts. */
function* svhnDataset(fn: string, files: readonly SvhnFile[], options: ReadSvhnOptions): Steps<Dataset> {
  checkSvhnShapes(fn, files);
  const shape = files[0].shape;
  const [c, h, w] = shape;
  const size = c * h * w;
  const total = files.reduce((a, f) => a + f.count, 0);
  const what = files.length === 1 ? files[0].file : `${files.length} files`;
  checkDatasetSize(`${fn}: ${what}: ${total} images × [${shape.join(', ')}]`, total * size);
  const images = new Float32Array(total * size);
  const labels = new Int32Array(total);
  const imagesPerStep = Math.max(1, Math.floor(STEP_VALUES / size));
  let n = 0;
  for (const f of files) {
    const x = f.x.values;
    const y = f.y.values;
    for (let i = 0; i < f.count; i++, n++) {
      if (n > 0 && n % imagesPerStep === 0) yield;
      labels[n] = svhnClass(fn, f.file, y[i], i);
      // Column-major X[hh, ww, cc, i] is at hh + h·(ww + w·(cc + c·i)); NCHW wants ((n·c + cc)·h + hh)·w + ww.
      const src = i * size;
      const dst = n * size;
      for (let cc = 0; cc < c; cc++) {
        for (let ww = 0; ww < w; ww++) {
          const from = src + h * (ww + w * cc);
          const to = dst + cc * h * w + ww;
          for (let hh = 0; hh < h; hh++) images[to + hh * w] = x[from + hh];
        }
      }
    }
  }
  return createDataset({ name: options.name ?? files[0].file, images, labels, shape, classes: 10 });
}

/**
 * Reads one or more SVHN `.mat` files (train_32x32.mat, …; compressed or not, or gzipped)
 * synchronously into one Dataset of shape [3, 32, 32] (images in file order), labels 0..9.
 * @throws DataFileError naming the file: missing, not a level-5 MAT file, truncated, corrupt or
 *   over-inflating compressed data, no X or y, wrong dimensions, a label outside 1..10;
 *   RangeError for more images than a data set or the available memory can hold.
 */
export function readSvhn(paths: readonly string[], options: ReadSvhnOptions = {}): Dataset {
  const fn = 'readSvhn';
  checkPaths(fn, paths);
  const files = paths.map((p) => svhnFile(fn, p, parseMat(fn, p, readDataFileSync(fn, p))));
  return runSteps(svhnDataset(fn, files, options));
}

/** readSvhn with fs.promises, inflation on the libuv thread pool and stepwise conversion. */
export async function readSvhnAsync(paths: readonly string[], options: ReadSvhnOptions = {}): Promise<Dataset> {
  const fn = 'readSvhn';
  checkPaths(fn, paths);
  const files: SvhnFile[] = [];
  for (const p of paths) files.push(svhnFile(fn, p, await parseMatAsync(fn, p, await readDataFile(fn, p))));
  return runStepsAsync(svhnDataset(fn, files, options));
}
