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
import { hostBatch } from './host-batch';
import type { Batch } from './batch';
import { checkAnyDataset, imageSize, isImageFolder, isRecordFile, type AnyDataset, type ImageFolder } from './dataset';
import { imageBatchOptions, settleImageFailures } from './image-folder';
import { nativeSource, recordLabels, recordOrder } from './records';
import { Rng } from './rng';

/** Augmentation and normalisation of each training image, applied in this order. */
export interface AugmentOptions {
  /** Random crop of size×size (or [h, w]) from the image zero-padded by `padding` on each side (CIFAR: { size: 32, padding: 4 }). In-memory data sets. */
  crop?: { size: number | readonly [number, number]; padding: number };
  /**
   * Image folders: the ImageNet training transform, a random window of area scale·(image area)
   * and aspect ratio w/h in `ratio` resized to the folder's size (default scale [0.08, 1]; the
   * Newton-ResNet paper's ImageNet runs use [0.05, 1]; ratio [3/4, 4/3]).
   */
  randomResizedCrop?: { scale?: readonly [number, number]; ratio?: readonly [number, number] };
  /** Horizontal flip with probability 1/2. */
  flip?: boolean;
  /** Per-channel (x − mean[c]) / std[c], after the crop (padded pixels are 0 before it). In-memory data sets (an image folder normalises with normalizeImageFolder). */
  normalize?: { mean: ArrayLike<number>; std: ArrayLike<number> };
}

/**
 * Named augmentations: 'crop-flip' is the papers' "C10+" (pad 4, crop to the image size, flip);
 * 'random-resized-crop' is ImageNet's (scale 0.08–1, ratio 3/4–4/3, flip), for image folders.
 */
export type AugmentPreset = 'crop-flip' | 'random-resized-crop';

/** The augment presets, for option parsers. */
export const AUGMENT_PRESETS: readonly AugmentPreset[] = ['crop-flip', 'random-resized-crop'];

/** The default area range of {@link AugmentOptions.randomResizedCrop} (torchvision's). */
export const RANDOM_RESIZED_CROP_SCALE: readonly [number, number] = [0.08, 1];
/** The default aspect-ratio range of {@link AugmentOptions.randomResizedCrop}. */
export const RANDOM_RESIZED_CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];

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
  /** Augmentation (default none: the images as they are; an image folder's evaluation transform). */
  augment?: AugmentOptions | AugmentPreset;
  /** Element type of x and y (default 'float32'). */
  dtype?: 'float32' | 'float64';
  /** Device of x and y (default 'cpu'). */
  device?: string;
  /**
   * Data-parallel training: this process's share of every batch. Of a batch holding positions
   * [s, s + b) of the epoch, shard `index` of `count` takes [s + ⌊b·index/count⌋,
   * s + ⌊b·(index + 1)/count⌋) — each example in one shard, with the augmentation draws of its
   * position, so the shards together are the batch of one process. Every batch must hold at
   * least `count` examples.
   */
  shard?: { index: number; count: number };
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

/** The native options of one call (lib/native.ts, augmentBatch / imageBatch). */
interface ResolvedAugment {
  crop?: { size: [number, number]; padding: number };
  randomResizedCrop?: { scale: [number, number]; ratio: [number, number] };
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

function rangeOption(fn: string, name: string, v: unknown, fallback: readonly [number, number], max: number): [number, number] {
  if (v === undefined) return [fallback[0], fallback[1]];
  if (!Array.isArray(v) || v.length !== 2) throw new TypeError(`${fn}: ${name} must be [low, high], got ${kind(v)}`);
  const [lo, hi] = v as unknown[];
  if (typeof lo !== 'number' || typeof hi !== 'number' || !(lo > 0) || !(lo <= hi) || !(hi <= max) || !Number.isFinite(hi)) {
    throw new RangeError(`${fn}: ${name} must be [low, high] with 0 < low ≤ high ≤ ${max === Infinity ? '∞ (finite)' : max}, got [${String(lo)}, ${String(hi)}]`);
  }
  return [lo, hi];
}

/**
 * Checks an augment option (`name` as the caller calls it, e.g. 'options.augment') against the
 * image shape and resolves presets. Exported for trainSgd, which checks before training.
 * `folder`: whether the data set is an image folder (its options differ: see AugmentOptions).
 * @throws TypeError / RangeError naming `fn`, the option and what is wrong.
 */
export function resolveAugment(fn: string, name: string, augment: unknown, shape: readonly [number, number, number], folder = false): ResolvedAugment {
  const [c, h, w] = shape;
  let a: AugmentOptions;
  if (typeof augment === 'string') {
    if (!(AUGMENT_PRESETS as readonly string[]).includes(augment)) throw new RangeError(`${fn}: ${name} must be '${folder ? 'random-resized-crop' : 'crop-flip'}' or an object, got '${augment}'`);
    if (folder !== (augment === 'random-resized-crop')) {
      throw new RangeError(`${fn}: ${name} '${augment}' is for ${folder ? 'data sets held in memory; an image folder takes ' : 'image folders; a data set held in memory takes '}'${folder ? 'random-resized-crop' : 'crop-flip'}'`);
    }
    a = folder ? { randomResizedCrop: {}, flip: true } : { crop: { size: [h, w], padding: 4 }, flip: true };
  } else if (augment === null || typeof augment !== 'object' || Array.isArray(augment)) {
    throw new TypeError(`${fn}: ${name} must be an object { ${folder ? 'randomResizedCrop, flip' : 'crop, flip, normalize'} } or a preset (${AUGMENT_PRESETS.join(', ')}), got ${kind(augment)}`);
  } else {
    a = augment as AugmentOptions;
    const known = folder ? ['randomResizedCrop', 'flip'] : ['crop', 'flip', 'normalize'];
    const unknown = Object.keys(a).filter((k) => !known.includes(k));
    if (unknown.length > 0) {
      const why = folder ? ' for an image folder (it normalises through normalizeImageFolder and crops through randomResizedCrop)' : ' for a data set held in memory';
      throw new RangeError(`${fn}: ${name} has unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}${why} (known: ${known.join(', ')})`);
    }
  }
  const r: ResolvedAugment = { flip: false, outShape: [c, h, w] };
  if (a.randomResizedCrop !== undefined) {
    const rrc = a.randomResizedCrop as unknown;
    if (rrc === null || typeof rrc !== 'object' || Array.isArray(rrc)) throw new TypeError(`${fn}: ${name}.randomResizedCrop must be an object { scale, ratio }, got ${kind(rrc)}`);
    const { scale, ratio } = rrc as { scale?: unknown; ratio?: unknown };
    r.randomResizedCrop = {
      scale: rangeOption(fn, `${name}.randomResizedCrop.scale`, scale, RANDOM_RESIZED_CROP_SCALE, 1),
      ratio: rangeOption(fn, `${name}.randomResizedCrop.ratio`, ratio, RANDOM_RESIZED_CROP_RATIO, Infinity),
    };
  }
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
  /** Rows written: end − start, less the images an image folder skipped. */
  count: number;
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
 *
 * An image folder (lib/data/image-folder.ts) streams: each batch's files are read and decoded when
 * it is assembled, with the evaluation transform or, with augment 'random-resized-crop', the
 * ImageNet training transform. With the folder's skipCorrupt, a batch that met an unreadable
 * image is one row shorter per such image (they are counted in `dataset.skipped`).
 */
export class DataLoader {
  /** The data set. */
  readonly dataset: AnyDataset;
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly dtype: 'float32' | 'float64';
  readonly device: string | undefined;
  /** Shape [C, H, W] of the images the loader hands out (the crop size when cropping). */
  readonly outputShape: readonly [number, number, number];
  /** This process's share of every batch (options.shard; absent: the whole batch). */
  readonly shard: { readonly index: number; readonly count: number } | undefined;
  private readonly augment: ResolvedAugment;

  /** @throws TypeError / RangeError for a bad data set or option, naming the option. */
  constructor(dataset: AnyDataset, options: DataLoaderOptions) {
    checkAnyDataset(FN, 'dataset', dataset);
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
    this.augment = options.augment === undefined ? { flip: false, outShape: [...dataset.shape] } : resolveAugment(FN, 'options.augment', options.augment, dataset.shape, isImageFolder(dataset));
    this.outputShape = this.augment.outShape;
    if (isRecordFile(dataset) && dataset.normalize !== undefined && this.augment.mean !== undefined) {
      throw new RangeError(`${FN}: options.augment.normalize: record set '${dataset.name}' is normalised already (normalizeRecords)`);
    }
    if (this.dropLast && dataset.length < this.batchSize) {
      throw new RangeError(`${FN}: options.dropLast with batchSize ${this.batchSize} leaves no batch of the ${dataset.length} examples`);
    }
    if (options.shard !== undefined) {
      const sh = options.shard as unknown;
      if (sh === null || typeof sh !== 'object') throw new TypeError(`${FN}: options.shard must be { index, count }, got ${kind(sh)}`);
      const count = positive('shard.count', (sh as { count: unknown }).count, 1);
      const index = positive('shard.index', (sh as { index: unknown }).index, 0);
      if (index >= count) throw new RangeError(`${FN}: options.shard.index must be below shard.count ${count}, got ${index}`);
      const last = dataset.length % this.batchSize;
      const smallest = this.dropLast || last === 0 ? this.batchSize : Math.min(this.batchSize, last);
      if (smallest < count) {
        throw new RangeError(
          `${FN}: a batch of ${smallest} examples cannot be shared among ${count} processes (every process needs one): ` +
            `use a batch size of at least ${count}${last !== 0 && !this.dropLast ? ` whose last batch (${dataset.length} mod batchSize) is 0 or at least ${count}, or dropLast` : ''}`,
        );
      }
      this.shard = Object.freeze({ index, count });
    } else {
      this.shard = undefined;
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
  /** Positions [start, end) of batch `index` that this loader assembles (its shard of them). */
  private range(index: number): { start: number; end: number } {
    const first = index * this.batchSize;
    const last = Math.min(this.dataset.length, first + this.batchSize);
    if (this.shard === undefined) return { start: first, end: last };
    const b = last - first;
    const { index: i, count: c } = this.shard;
    return { start: first + Math.floor((b * i) / c), end: first + Math.floor((b * (i + 1)) / c) };
  }

  private assemble(epoch: number, order: Int32Array, index: number): Promise<HostBatch> {
    const ds = this.dataset;
    const { start, end } = this.range(index);
    const b = end - start;
    const h: HostBatch = { x: new Float32Array(b * imageSize(this.outputShape)), y: new Float32Array(b * ds.classes), labels: new Int32Array(b), start, end, count: b };
    if (isImageFolder(ds)) {
      return native()
        .imageBatchAsync(ds.files as string[], ds.labels, order.subarray(start, end), this.imageOptions(ds, epoch, start), h.x, h.y, h.labels)
        .then((r) => {
          settleImageFailures(FN, ds, r);
          h.count = r.count;
          return h;
        });
    }
    if (isRecordFile(ds)) {
      return native()
        .recordBatchAsync(nativeSource(ds), recordLabels(ds), recordOrder(ds, order.subarray(start, end)), this.nativeOptions(epoch, start), h.x, h.y, h.labels)
        .then(() => h);
    }
    return native()
      .augmentBatchAsync(ds.images, ds.labels, order.subarray(start, end), this.nativeOptions(epoch, start), h.x, h.y, h.labels)
      .then(() => h);
  }

  /** Assembles batch `index` of an order on the JS thread (tests, and callers without an event loop to spare). */
  batchSync(epoch: number, order: Int32Array, index: number): LoaderBatch {
    const ds = this.dataset;
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) throw new RangeError(`${FN}.batchSync: index must be a batch of the epoch, in [0, ${this.batchesPerEpoch}), got ${index}`);
    const { start, end } = this.range(index);
    const b = end - start;
    const h: HostBatch = { x: new Float32Array(b * imageSize(this.outputShape)), y: new Float32Array(b * ds.classes), labels: new Int32Array(b), start, end, count: b };
    if (isImageFolder(ds)) {
      const r = native().imageBatch(ds.files as string[], ds.labels, order.subarray(start, end), this.imageOptions(ds, epoch, start), h.x, h.y, h.labels);
      settleImageFailures(`${FN}.batchSync`, ds, r);
      h.count = r.count;
    } else if (isRecordFile(ds)) {
      native().recordBatch(nativeSource(ds), recordLabels(ds), recordOrder(ds, order.subarray(start, end)), this.nativeOptions(epoch, start), h.x, h.y, h.labels);
    } else {
      native().augmentBatch(ds.images, ds.labels, order.subarray(start, end), this.nativeOptions(epoch, start), h.x, h.y, h.labels);
    }
    return this.toBatch(h, epoch, index);
  }

  private nativeOptions(epoch: number, start: number): NativeAugmentOptions {
    const a = this.augment;
    const ds = this.dataset;
    // a record set's own normalisation (its evaluation batches have it too)
    const n = isRecordFile(ds) && ds.normalize !== undefined ? { mean: Float32Array.from(ds.normalize.mean), std: Float32Array.from(ds.normalize.std) } : { mean: a.mean, std: a.std };
    return { shape: [...ds.shape], classes: ds.classes, start, seed: this.seed, epoch, crop: a.crop, flip: a.flip, ...n };
  }

  private imageOptions(ds: ImageFolder, epoch: number, start: number): ReturnType<typeof imageBatchOptions> {
    const a = this.augment;
    const train = a.randomResizedCrop !== undefined ? { ...a.randomResizedCrop, flip: a.flip } : undefined;
    const o = imageBatchOptions(ds, { start, seed: this.seed, epoch }, train);
    // a flip without a random crop: the evaluation transform, flipped
    return train === undefined && a.flip ? { ...o, flip: true } : o;
  }

  private toBatch(h: HostBatch, epoch: number, index: number): LoaderBatch {
    const b = hostBatch(h.x, h.y, h.labels, h.count, this.outputShape, this.dataset.classes, { dtype: this.dtype, device: this.device });
    return { ...b, epoch, index, start: h.start, end: h.end };
  }
}
