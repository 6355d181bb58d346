/**
 * The preprocessing a trained model expects of its raw images, kept in the model file so that
 * predicting and evaluating prepare new images exactly as training did.
 *
 * @packageDocumentation
 */
import { minMaxScale, normalizeChannels, subtractMean, type Dataset } from '../data';
import { describe } from '../errors';

/**
 * How raw images (pixel values as read from the files, e.g. 0..255) become network inputs:
 * - `none`: used as they are;
 * - `paper`: the Newton paper's procedure (lib/data/preprocess.ts paperPreprocess): each image
 *   min-max scaled to [0, 1] over its C·H·W values, then the training images' per-pixel mean
 *   `mean` (length C·H·W) subtracted — what `newton-cnn train` does;
 * - `channels`: (x − mean[c]) / std[c] per channel (lib/data/preprocess.ts normalizeChannels),
 *   `mean` and `std` of length C.
 */
export type Preprocessing =
  | { readonly kind: 'none' }
  | { readonly kind: 'paper'; readonly mean: Float32Array }
  | { readonly kind: 'channels'; readonly mean: Float32Array; readonly std: Float32Array };

/** The preprocessing kinds, for messages. */
export const PREPROCESSING_KINDS = ['none', 'paper', 'channels'] as const;

function checkArray(fn: string, what: string, v: unknown, length: number): Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${fn}: ${what} must be a Float32Array, got ${describe(v)}`);
  if (v.length !== length) throw new RangeError(`${fn}: ${what} has length ${v.length}, expected ${length}`);
  const bad = v.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new RangeError(`${fn}: ${what}[${bad}] is ${v[bad]}; preprocessing statistics must be finite`);
  return v;
}

/**
 * Checks `p` against images of per-example shape [C, H, W].
 * @throws TypeError/RangeError naming `fn`, the field and the expected length.
 */
export function checkPreprocessing(fn: string, p: unknown, shape: readonly [number, number, number]): Preprocessing {
  const what = 'preprocessing';
  if (p === null || typeof p !== 'object') throw new TypeError(`${fn}: ${what} must be an object with a kind (${PREPROCESSING_KINDS.join(', ')}), got ${describe(p)}`);
  const o = p as { kind?: unknown; mean?: unknown; std?: unknown };
  const [c, h, w] = shape;
  switch (o.kind) {
    case 'none':
      return { kind: 'none' };
    case 'paper':
      return { kind: 'paper', mean: checkArray(fn, `${what}.mean`, o.mean, c * h * w) };
    case 'channels': {
      const mean = checkArray(fn, `${what}.mean`, o.mean, c);
      const std = checkArray(fn, `${what}.std`, o.std, c);
      const bad = std.findIndex((s) => s < 0);
      if (bad >= 0) throw new RangeError(`${fn}: ${what}.std[${bad}] is ${std[bad]}; a standard deviation cannot be negative`);
      return { kind: 'channels', mean, std };
    }
    default:
      throw new RangeError(`${fn}: ${what}.kind must be one of ${PREPROCESSING_KINDS.join(', ')}, got ${JSON.stringify(o.kind) ?? String(o.kind)}`);
  }
}

/** `ds` (raw images) prepared as `p` says; a new Dataset (ds itself for 'none'). */
export function applyPreprocessing(p: Preprocessing, ds: Dataset): Dataset {
  switch (p.kind) {
    case 'none':
      return ds;
    case 'paper':
      return subtractMean(minMaxScale(ds), p.mean);
    case 'channels':
      return normalizeChannels(ds, { mean: p.mean, std: p.std });
  }
}

/** A one-line description ('paper (per-image min-max, minus the training mean)'). */
export function describePreprocessing(p: Preprocessing): string {
  switch (p.kind) {
    case 'none':
      return 'none (raw pixel values)';
    case 'paper':
      return 'paper (per-image min-max scaling, minus the training images\' pixel mean)';
    case 'channels':
      return `per-channel (x − mean) / std, mean [${[...p.mean].map((x) => x.toPrecision(4)).join(', ')}], std [${[...p.std].map((x) => x.toPrecision(4)).join(', ')}]`;
  }
}
