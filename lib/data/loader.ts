/**
 * A prefetching mini-batch loader: batches assembled (and augmented: random crop with zero
 * padding, horizontal flip, per-channel normalisation) by native code off the JS thread, a
 * configurable number of batches ahead of the consumer, deterministically for a seed.
 *
 * Determinism: epoch e's order is a seeded permutation (`new Rng(mixSeed(seed, e))`, or an order
 * the caller passes, as trainSgd does with its own); the augmentation draws of the example at
 * position p of epoch e come from Philox keyed by (seed, e, p) (note [batch augmentation] in
 * native/core/augment.h). A batch is therefore a pure function of (seed, epoch, its positions):
 * the same whatever the prefetch depth, the thread count or where a resumed run starts.
 *
 * @packageDocumentation
 */
import { native, type NativeAugmentOptions } from '../native';
import { mixSeed } from '../nn/seed';
import { Tensor } from '../tensor';
import type { Batch } from './batch';
import { checkDataset, imageSize, type Dataset } from './dataset';
import { Rng } from './rng';

/** Augmentation and normalisation of each training image, applied in this order. */
export interface AugmentOptions {
  /** Random crop of size×size (or [h, w]) from the image zero-padded by `padding` on each side (CIFAR: { size: 32, padding: 4 }). */
  crop?: { size: number | readonly [number, number]; padding: number };
  /** Horizontal flip with probability 1/2. */
  flip?: boolean;
  /** Per-channel (x − mean[c]) / std[c], after the crop (padded pixels are 0 before it). */
  normalize?: { mean: ArrayLike<number>; std: ArrayLike<number> };
}

/** Named augmentations: 'crop-flip' is the papers' "C10+" (pad 4, crop to the image size, flip). */
export type AugmentPreset = 'crop-flip';

/** The augment presets, for option parsers. */
export const AUGMENT_PRESETS: readonly AugmentPreset[] = ['crop-flip'];

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions {
  /** Mini-batch size. */
  batchSize: number;
  /** Seed of the epoch permutations and the augmentation draws (default 0). */
  seed?: number;
  /** Shuffle each epoch (default true); false: the data set's order. */
  shuffle?: boolean;
  /** Drop the last, partial batch of an epoch (default false). */
  dropLast?: boolean;
  /** Batches assembled ahead of the consumer (default 2; 0: each on demand, still off the JS thread). */
  prefetch?: number;
  /** Augmentation (default none: the images as they are). */
  augment?: AugmentOptions | AugmentPreset;
  /** Element type of x and y (default 'float32'). */
  dtype?: 'float32' | 'float64';
  /** Device of x and y (default 'cpu'). */
  device?: string;
}

/** A loader batch: the Batch of gatherBatch plus where it lies in its epoch. */
export interface LoaderBatch extends Batch {
  /** Epoch and the index of the batch in it. */
  epoch: number;
  index: number;
  /** Positions [start, end) of the epoch's order that the batch holds. */
  start: number;
  end: number;
}

/** The native options of one call (lib/native.ts, augmentBatch). */
interface ResolvedAugment {
  crop?: { size: [number, number]; padding: number };
  flip: boolean;
  mean?: Float32Array;
  std?: Float32Array;
  outShape: [number, number, number];
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function integerIn(fn: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number, got ${kind(v)}`);
  if (!Number.isInteger(v) || v < min || v > 1048576) throw new RangeError(`${fn}: ${name} must be an integer in [${min}, 2^20], got ${v}`);
  return v;
}

function channelValues(fn: string, name: string, v: unknown, channels: number, positive: boolean): Float32Array {
  if (v === null || typeof v !== 'object' || typeof (v as ArrayLike<number>).length !== 'number') {
    throw new TypeError(`${fn}: ${name} must be an array of ${channels} numbers (one per channel), got ${kind(v)}`);
  }
  const a = v as ArrayLike<unknown>;
  if (a.length !== channels) throw new RangeError(`${fn}: ${name} must have one value per channel (${channels}), got ${a.length}`);
  const out = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const x = a[c];
    if (typeof x !== 'number' || !Number.isFinite(x) || (positive && !(x > 0))) {
      throw new RangeError(`${fn}: ${name}[${c}] must be a ${positive ? 'positive ' : ''}finite number, got ${String(x)}`);
    }
    out[c] = x;
  }
  return out;
}

/**
 * Checks an augment option (`name` as the caller calls it, e.g. 'options.augment') against the
 * image shape and resolves presets. Exported for trainSgd, which checks before training.
 * @throws TypeError / RangeError naming `fn`, the option and what is wrong.
 */
export function resolveAugment(fn: string, name: string, augment: unknown, shape: readonly [number, number, number]): ResolvedAugment {
  const [c, h, w] = shape;
  let a: AugmentOptions;
  if (typeof augment === 'string') {
    if (augment !== 'crop-flip') throw new RangeError(`${fn}: ${name} must be ${AUGMENT_PRESETS.map((p) => `'${p}'`).join(' or ')} or an object, got '${augment}'`);
    a = { crop: { size: [h, w], padding: 4 }, flip: true };
  } else if (augment === null || typeof augment !== 'object' || Array.isArray(augment)) {
    throw new TypeError(`${fn}: ${name} must be an object { crop, flip, normalize } or 'crop-flip', got ${kind(augment)}`);
  } else {
    a = augment as AugmentOptions;
    const unknown = Object.keys(a).filter((k) => k !== 'crop' && k !== 'flip' && k !== 'normalize');
    if (unknown.length > 0) throw new RangeError(`${fn}: ${name} has unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: crop, flip, normalize)`);
  }
  const r: ResolvedAugment = { flip: false, outShape: [c, h, w] };
  if (a.crop !== undefined) {
    const crop = a.crop as unknown;
    if (crop === null || typeof crop !== 'object' || Array.isArray(crop)) throw new TypeError(`${fn}: ${name}.crop must be an object { size, padding }, got ${kind(crop)}`);
    const { size, padding } = crop as { size: unknown; padding: unknown };
    const pair = Array.isArray(size) ? size : [size, size];
    if (pair.length !== 2) throw new RangeError(`${fn}: ${name}.crop.size must be a number or [h, w], got an array of ${pair.length}`);
    const ch = integerIn(fn, `${name}.crop.size`, pair[0], 1);
    const cw = integerIn(fn, `${name}.crop.size`, pair[1], 1);
    const p = integerIn(fn, `${name}.crop.padding`, padding ?? 0, 0);
    if (ch > h + 2 * p || cw > w + 2 * p) {
      throw new RangeError(`${fn}: ${name}.crop.size ${ch}×${cw} is larger than the padded image ${h + 2 * p}×${w + 2 * p} (images ${h}×${w}, padding ${p})`);
    }
    r.crop = { size: [ch, cw], padding: p };
    r.outShape = [c, ch, cw];
  }
  if (a.flip !== undefined) {
    if (typeof a.flip !== 'boolean') throw new TypeError(`${fn}: ${name}.flip must be a boolean, got ${kind(a.flip)}`);
    r.flip = a.flip;
  }
  if (a.normalize !== undefined) {
    const n = a.normalize as unknown;
    if (n === null || typeof n !== 'object' || Array.isArray(n)) throw new TypeError(`${fn}: ${name}.normalize must be an object { mean, std }, got ${kind(n)}`);
    r.mean = channelValues(fn, `${name}.normalize.mean`, (n as { mean: unknown }).mean, c, false);
    r.std = channelValues(fn, `${name}.normalize.std`, (n as { std: unknown }).std, c, true);
  }
  return r;
}

/** Host arrays of one assembled batch, before they become tensors. */
interface HostBatch {
  x: Float32Array;
  y: Float32Array;
  labels: Int32Array;
  start: number;
  end: number;
}

const FN = 'DataLoader';

/**
 * Mini-batches of a data set for training, assembled off the JS thread and prefetched.
 *
 * ```ts
 * const loader = new DataLoader(train, { batchSize: 128, seed: 1, augment: 'crop-flip', device: 'cuda' });
 * for (let e = 0; e < epochs; e++) {
 *   for await (const b of loader.epoch(e)) { ...; b.x.dispose(); b.y.dispose(); }
 * }
 * ```
 * The consumer disposes each batch's x and y. Leaving a `for await` early stops the prefetching.
 */
export class DataLoader {
  /** The data set. */
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly dtype: 'float32' | 'float64';
  readonly device: string | undefined;
  /** Shape [C, H, W] of the images the loader hands out (the crop size when cropping). */
  readonly outputShape: readonly [number, number, number];
  private readonly augment: ResolvedAugment;

  /** @throws TypeError / RangeError for a bad data set or option, naming the option. */
  constructor(dataset: Dataset, options: DataLoaderOptions) {
    checkDataset(FN, 'dataset', dataset);
    if (options === null || typeof options !== 'object') throw new TypeError(`${FN}: options must be an object with batchSize, got ${kind(options)}`);
    const positive = (name: string, v: unknown, min: number): number => {
      if (typeof v !== 'number') throw new TypeError(`${FN}: options.${name} must be a number, got ${kind(v)}`);
      if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${FN}: options.${name} must be an integer ≥ ${min}, got ${v}`);
      return v;
    };
    const flag = (name: string, v: unknown, fallback: boolean): boolean => {
      if (v === undefined) return fallback;
      if (typeof v !== 'boolean') throw new TypeError(`${FN}: options.${name} must be a boolean, got ${kind(v)}`);
      return v;
    };
    this.dataset = dataset;
    this.batchSize = positive('batchSize', options.batchSize, 1);
    this.seed = positive('seed', options.seed ?? 0, 0);
    this.prefetch = positive('prefetch', options.prefetch ?? 2, 0);
    this.shuffle = flag('shuffle', options.shuffle, true);
    this.dropLast = flag('dropLast', options.dropLast, false);
    const dtype = options.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') throw new RangeError(`${FN}: options.dtype must be 'float32' or 'float64', got ${String(dtype)}`);
    this.dtype = dtype;
    this.device = options.device;
    this.augment = options.augment === undefined ? { flip: false, outShape: [...dataset.shape] } : resolveAugment(FN, 'options.augment', options.augment, dataset.shape);
    this.outputShape = this.augment.outShape;
    if (this.dropLast && dataset.length < this.batchSize) {
      throw new RangeError(`${FN}: options.dropLast with batchSize ${this.batchSize} leaves no batch of the ${dataset.length} examples`);
    }
  }

  /** Batches in an epoch. */
  get batchesPerEpoch(): number {
    const l = this.dataset.length;
    return this.dropLast ? Math.floor(l / this.batchSize) : Math.ceil(l / this.batchSize);
  }

  /** The order of epoch e: a permutation seeded by (seed, e), or 0…l−1 without shuffling. */
  order(epoch: number): Int32Array {
    const l = this.dataset.length;
    if (!this.shuffle) return Int32Array.from({ length: l }, (_, i) => i);
    return new Rng(mixSeed(this.seed, epoch)).permutation(l);
  }

  /**
   * The batches of epoch `epoch`, from batch `from` (default 0), in `order` (default
   * {@link order}(epoch); trainSgd passes its own). Prefetches `prefetch` batches ahead.
   * @throws RangeError for a bad epoch, order or from (when iterated); native errors reject the batch's next().
   */
  epoch(epoch: number, options: { order?: Int32Array; from?: number } = {}): AsyncIterableIterator<LoaderBatch> {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch >= 2 ** 32) throw new RangeError(`${FN}.epoch: epoch must be an integer in [0, 2^32), got ${epoch}`);
    const order = options.order ?? this.order(epoch);
    const l = this.dataset.length;
    if (!(order instanceof Int32Array) || order.length !== l) {
      throw new RangeError(`${FN}.epoch: options.order must be an Int32Array of length ${l} (the data set's), got ${order instanceof Int32Array ? `length ${order.length}` : kind(order)}`);
    }
    const batches = this.batchesPerEpoch;
    const from = options.from ?? 0;
    if (!Number.isInteger(from) || from < 0 || from > batches) throw new RangeError(`${FN}.epoch: options.from must be an integer in [0, ${batches}], got ${from}`);
    return this.iterate(epoch, order, from, batches);
  }

  private async *iterate(epoch: number, order: Int32Array, from: number, batches: number): AsyncGenerator<LoaderBatch> {
    const queue: Promise<HostBatch>[] = [];
    let next = from;
    const fill = (): void => {
      while (next < batches && queue.length < this.prefetch + 1) {
        const p = this.assemble(epoch, order, next++);
        p.catch(() => {}); // a batch abandoned by an early exit must not be an unhandled rejection
        queue.push(p);
      }
    };
    try {
      for (let index = from; index < batches; index++) {
        fill();
        const h = await queue.shift()!;
        fill(); // the next ones start before the consumer's step runs
        yield this.toBatch(h, epoch, index);
      }
    } finally {
      // on an early exit, the outstanding work finishes into arrays nobody reads
      queue.length = 0;
    }
  }

  /** Assembles batch `index` of an order on a native worker thread. */
  private assemble(epoch: number, order: Int32Array, index: number): Promise<HostBatch> {
    const ds = this.dataset;
    const start = index * this.batchSize;
    const end = Math.min(ds.length, start + this.batchSize);
    const b = end - start;
    const h: HostBatch = { x: new Float32Array(b * imageSize(this.outputShape)), y: new Float32Array(b * ds.classes), labels: new Int32Array(b), start, end };
    return native()
      .augmentBatchAsync(ds.images, ds.labels, order.subarray(start, end), this.nativeOptions(epoch, start), h.x, h.y, h.labels)
      .then(() => h);
  }

  /** Assembles batch `index` of an order on the JS thread (tests, and callers without an event loop to spare). */
  batchSync(epoch: number, order: Int32Array, index: number): LoaderBatch {
    const ds = this.dataset;
    const start = index * this.batchSize;
    const end = Math.min(ds.length, start + this.batchSize);
    if (!Number.isInteger(index) || index < 0 || start >= end) throw new RangeError(`${FN}.batchSync: index must be a batch of the epoch, in [0, ${this.batchesPerEpoch}), got ${index}`);
    const b = end - start;
    const h: HostBatch = { x: new Float32Array(b * imageSize(this.outputShape)), y: new Float32Array(b * ds.classes), labels: new Int32Array(b), start, end };
    native().augmentBatch(ds.images, ds.labels, order.subarray(start, end), this.nativeOptions(epoch, start), h.x, h.y, h.labels);
    return this.toBatch(h, epoch, index);
  }

  private nativeOptions(epoch: number, start: number): NativeAugmentOptions {
    const a = this.augment;
    return { shape: [...this.dataset.shape], classes: this.dataset.classes, start, seed: this.seed, epoch, crop: a.crop, flip: a.flip, mean: a.mean, std: a.std };
  }

  private toBatch(h: HostBatch, epoch: number, index: number): LoaderBatch {
    const b = h.end - h.start;
    const [c, hh, w] = this.outputShape;
    const x = Tensor.from(h.x, { shape: [b, c, hh, w], dtype: this.dtype, device: this.device });
    let y: Tensor;
    try {
      y = Tensor.from(h.y, { shape: [b, this.dataset.classes], dtype: this.dtype, device: this.device });
    } catch (err) {
      x.dispose();
      throw err;
    }
    return { x, y, labels: h.labels, epoch, index, start: h.start, end: h.end };
  }
}
