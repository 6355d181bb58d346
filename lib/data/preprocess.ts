/**
 * Preprocessing. Every function returns a new Dataset and never writes into its input.
 *
 * The paper's procedure (section 6.1), in {@link paperPreprocess}:
 *   1. min-max normalisation of each image over all its pixels: x ← (x − min)/(max − min);
 *   2. zero-centring: subtract the per-pixel mean of the (normalised) TRAINING images from both the
 *      training and the test images.
 * Sums are accumulated in float64 and results stored as float32.
 *
 * @packageDocumentation
 */
import { checkDataset, createDataset, Dataset, imageSize, withImages } from './dataset';

/** Per-channel statistics for {@link normalizeChannels}. */
export interface ChannelStats {
  /** Mean of each channel over all images and positions (length C). */
  mean: Float32Array;
  /** Population standard deviation of each channel (length C). */
  std: Float32Array;
}

/**
 * Scales every image to [0, 1] by its own minimum and maximum over all C·H·W values:
 * (x − min)/(max − min); a constant image becomes all zeros.
 */
export function minMaxScale(ds: Dataset): Dataset {
  checkDataset('minMaxScale', 'ds', ds);
  const size = imageSize(ds.shape);
  const src = ds.images;
  const out = new Float32Array(src.length);
  for (let i = 0; i < ds.length; i++) {
    const base = i * size;
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < size; k++) {
      const v = src[base + k];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const range = max - min;
    if (range > 0) {
      for (let k = 0; k < size; k++) out[base + k] = (src[base + k] - min) / range;
    } // else: constant image → zeros (already)
  }
  return withImages(ds, out);
}

/**
 * The per-pixel mean image over the data set (length C·H·W).
 * @throws RangeError for an empty data set.
 */
export function pixelMean(ds: Dataset): Float32Array {
  checkDataset('pixelMean', 'ds', ds);
  if (ds.length === 0) throw new RangeError(`pixelMean: data set '${ds.name}' is empty`);
  const size = imageSize(ds.shape);
  const acc = new Float64Array(size);
  for (let i = 0; i < ds.length; i++) {
    const base = i * size;
    for (let k = 0; k < size; k++) acc[k] += ds.images[base + k];
  }
  const mean = new Float32Array(size);
  for (let k = 0; k < size; k++) mean[k] = acc[k] / ds.length;
  return mean;
}

/**
 * Subtracts `mean` (length C·H·W, e.g. the training set's {@link pixelMean}) from every image.
 * @throws RangeError when mean has the wrong length.
 */
export function subtractMean(ds: Dataset, mean: Float32Array): Dataset {
  checkDataset('subtractMean', 'ds', ds);
  const size = imageSize(ds.shape);
  if (!(mean instanceof Float32Array)) {
    throw new TypeError(`subtractMean: mean must be a Float32Array, got ${mean === null ? 'null' : typeof mean}`);
  }
  if (mean.length !== size) {
    throw new RangeError(`subtractMean: mean has length ${mean.length} but images are [${ds.shape.join(', ')}] = ${size} values`);
  }
  const out = new Float32Array(ds.images.length);
  for (let i = 0; i < ds.length; i++) {
    const base = i * size;
    for (let k = 0; k < size; k++) out[base + k] = ds.images[base + k] - mean[k];
  }
  return withImages(ds, out);
}

/**
 * The paper's preprocessing: min-max scale each image of both sets, then subtract the per-pixel
 * mean of the scaled TRAINING set from both. Returns that mean too (to preprocess later data alike).
 * @throws RangeError when the sets' image shapes differ or train is empty.
 */
export function paperPreprocess(train: Dataset, test: Dataset): { train: Dataset; test: Dataset; mean: Float32Array } {
  checkDataset('paperPreprocess', 'train', train);
  checkDataset('paperPreprocess', 'test', test);
  if (train.shape.some((d, i) => d !== test.shape[i])) {
    throw new RangeError(
      `paperPreprocess: train images have shape [${train.shape.join(', ')}] but test images have [${test.shape.join(', ')}]`,
    );
  }
  const scaledTrain = minMaxScale(train);
  const mean = pixelMean(scaledTrain);
  return { train: subtractMean(scaledTrain, mean), test: subtractMean(minMaxScale(test), mean), mean };
}

/**
 * Mean and population standard deviation of each channel over all images and positions.
 * @throws RangeError for an empty data set.
 */
export function channelStats(ds: Dataset): ChannelStats {
  checkDataset('channelStats', 'ds', ds);
  if (ds.length === 0) throw new RangeError(`channelStats: data set '${ds.name}' is empty`);
  const [c, h, w] = ds.shape;
  const plane = h * w;
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  for (let i = 0; i < ds.length; i++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * plane;
      let s = 0;
      let s2 = 0;
      for (let k = 0; k < plane; k++) {
        const v = ds.images[base + k];
        s += v;
        s2 += v * v;
      }
      sum[ch] += s;
      sumSq[ch] += s2;
    }
  }
  const n = ds.length * plane;
  const mean = new Float32Array(c);
  const std = new Float32Array(c);
  for (let ch = 0; ch < c; ch++) {
    const m = sum[ch] / n;
    mean[ch] = m;
    std[ch] = Math.sqrt(Math.max(0, sumSq[ch] / n - m * m));
  }
  return { mean, std };
}

/**
 * (x − mean[c]) / std[c] per channel c; a channel with std 0 is only centred (divided by 1).
 * @throws RangeError when stats do not have one entry per channel.
 */
export function normalizeChannels(ds: Dataset, stats: ChannelStats): Dataset {
  checkDataset('normalizeChannels', 'ds', ds);
  const [c, h, w] = ds.shape;
  if (stats === null || typeof stats !== 'object' || !(stats.mean instanceof Float32Array) || !(stats.std instanceof Float32Array)) {
    throw new TypeError('normalizeChannels: stats must be { mean: Float32Array; std: Float32Array }');
  }
  if (stats.mean.length !== c || stats.std.length !== c) {
    throw new RangeError(
      `normalizeChannels: stats have ${stats.mean.length} means and ${stats.std.length} stds but images have ${c} channels`,
    );
  }
  const plane = h * w;
  const out = new Float32Array(ds.images.length);
  for (let i = 0; i < ds.length; i++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * plane;
      const m = stats.mean[ch];
      const inv = stats.std[ch] > 0 ? 1 / stats.std[ch] : 1;
      for (let k = 0; k < plane; k++) out[base + k] = (ds.images[base + k] - m) * inv;
    }
  }
  return withImages(ds, out);
}

/**
 * Each image centred in a larger H×W canvas of `value` (default 0): what puts 28×28 Fashion-MNIST
 * into the 32×32 input of the CIFAR networks (2 pixels each side). An odd difference puts the
 * extra row/column at the bottom/right. The channels are kept.
 * @throws RangeError when the new size is smaller than the images or not a positive integer.
 */
export function padImages(ds: Dataset, height: number, width: number, value = 0): Dataset {
  const fn = 'padImages';
  checkDataset(fn, 'ds', ds);
  const [c, h, w] = ds.shape;
  for (const [name, v, least] of [['height', height, h], ['width', width, w]] as const) {
    if (!Number.isInteger(v) || v < least) throw new RangeError(`${fn}: ${name} must be an integer ≥ the images' ${least} (shape [${ds.shape.join(', ')}]), got ${v}`);
  }
  if (!Number.isFinite(value)) throw new RangeError(`${fn}: value must be finite, got ${value}`);
  const top = Math.floor((height - h) / 2);
  const left = Math.floor((width - w) / 2);
  const out = new Float32Array(ds.length * c * height * width);
  if (value !== 0) out.fill(value);
  for (let p = 0; p < ds.length * c; p++) {
    for (let y = 0; y < h; y++) {
      const src = (p * h + y) * w;
      out.set(ds.images.subarray(src, src + w), (p * height + top + y) * width + left);
    }
  }
  return createDataset({ name: `${ds.name} (padded to ${height}×${width})`, images: out, labels: ds.labels, shape: [c, height, width], classes: ds.classes, ...(ds.labelValues !== undefined ? { labelValues: ds.labelValues } : {}) });
}
