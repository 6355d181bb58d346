/**
 * Mini-batch assembly: copies the images and one-hot targets of a slice of an index order into
 * tensors for the network.
 *
 * @packageDocumentation
 */
import { Tensor } from '../tensor';
import { checkAnyDataset, imageSize, isImageFolder, isRecordFile, labelRangeError, type AnyDataset } from './dataset';
import { hostBatch } from './host-batch';
import { gatherImageFolder, gatherImageFolderAsync } from './image-folder';
import { gatherRecords, gatherRecordsAsync } from './records';

/** Options of gatherBatch. */
export interface GatherBatchOptions {
  /** Element type of x and y (default 'float32'). */
  dtype?: 'float32' | 'float64';
  /** Device of x and y, e.g. the network's ('cpu' default, 'cuda', 'cuda:N'). */
  device?: string;
}

/** A mini-batch: inputs, one-hot targets and the class indices. The caller disposes x and y. */
export interface Batch {
  /** Images, (B, C, H, W). */
  x: Tensor;
  /** One-hot targets, (B, classes), same dtype as x. */
  y: Tensor;
  /** Class indices of the B images. */
  labels: Int32Array;
}

/** The checks of gatherBatch and gatherBatchAsync; returns the dtype. */
function checkGather(fn: string, ds: AnyDataset, order: Int32Array, start: number, end: number, options: GatherBatchOptions): 'float32' | 'float64' {
  checkAnyDataset(fn, 'ds', ds);
  if (!(order instanceof Int32Array)) {
    throw new TypeError(`${fn}: order must be an Int32Array, got ${order === null ? 'null' : typeof order}`);
  }
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > order.length || start >= end) {
    throw new RangeError(
      `${fn}: need integers 0 ≤ start < end ≤ order.length = ${order.length}, got start ${start}, end ${end} (empty batch?)`,
    );
  }
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new RangeError(`${fn}: options.dtype must be 'float32' or 'float64', got ${String(dtype)}`);
  }
  for (let i = start; i < end; i++) {
    const j = order[i];
    if (j < 0 || j >= ds.length) throw new RangeError(`${fn}: order[${i}] = ${j} is outside [0, ${ds.length})`);
  }
  return dtype;
}

/**
 * The batch of images ds[order[start]], ..., ds[order[end − 1]]. For an image folder or a record
 * set the images are read (and decoded, with the folder's evaluation transform) now, on the
 * core's threads while this one waits; with a folder's skipCorrupt option, images that fail are
 * left out and the batch is smaller.
 * @throws TypeError when order is not an Int32Array; RangeError unless 0 ≤ start < end ≤ order.length
 * and every order[i] is in [0, ds.length), for an unknown dtype, for a data set whose sizes disagree
 * (see checkDataset) or a gathered label outside [0, classes); DataFileError for an unreadable file.
 */
export function gatherBatch(
  ds: AnyDataset,
  order: Int32Array,
  start: number,
  end: number,
  options: GatherBatchOptions = {},
): Batch {
  const fn = 'gatherBatch';
  const dtype = checkGather(fn, ds, order, start, end, options);
  const o = { dtype, device: options.device };
  if (isImageFolder(ds)) return gatherImageFolder(ds, order, start, end, o);
  if (isRecordFile(ds)) return gatherRecords(ds, order, start, end, o);
  const b = end - start;
  const size = imageSize(ds.shape);
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const x = new Ctor(b * size);
  const y = new Ctor(b * ds.classes);
  const labels = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const j = order[start + i];
    const label = ds.labels[j];
    if (label < 0 || label >= ds.classes) throw labelRangeError(`${fn}: ds`, ds, j); // would put its 1 in another row of y
    x.set(ds.images.subarray(j * size, (j + 1) * size), i * size); // float32 → float64 converts exactly
    labels[i] = label;
    y[i * ds.classes + labels[i]] = 1;
  }
  return hostBatch(x, y, labels, b, ds.shape, ds.classes, o);
}

/**
 * gatherBatch whose files (an image folder's, a record set's) are read on a worker thread while
 * the caller goes on: what lets a pass over streamed data read the next batch during the step on
 * this one. Data in memory resolves at once with gatherBatch's batch.
 * @throws (rejects) as gatherBatch.
 */
export async function gatherBatchAsync(ds: AnyDataset, order: Int32Array, start: number, end: number, options: GatherBatchOptions = {}): Promise<Batch> {
  const dtype = checkGather('gatherBatch', ds, order, start, end, options);
  const o = { dtype, device: options.device };
  if (isImageFolder(ds)) return gatherImageFolderAsync(ds, order, start, end, o);
  if (isRecordFile(ds)) return gatherRecordsAsync(ds, order, start, end, o);
  return gatherBatch(ds, order, start, end, o);
}
