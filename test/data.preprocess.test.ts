// Preprocessing (hand-computed values), subset and stratified split.
import {
  channelStats,
  createDataset,
  Dataset,
  minMaxScale,
  normalizeChannels,
  padImages,
  paperPreprocess,
  pixelMean,
  stratifiedSplit,
  subset,
  subtractMean,
} from '../lib/data';

function dataset(images: number[], labels: number[], shape: [number, number, number], classes: number): Dataset {
  return createDataset({ name: 'test', images: Float32Array.from(images), labels: Int32Array.from(labels), shape, classes });
}

const close = (a: ArrayLike<number>, b: number[]): void => {
  expect(a.length).toBe(b.length);
  b.forEach((v, i) => expect(a[i]).toBeCloseTo(v, 6));
};

describe('preprocessing', () => {
  // Two 1×1×3 training images and one test image.
  const train = dataset([2, 4, 6, 5, 5, 5], [0, 1], [1, 1, 3], 2);
  const testSet = dataset([10, 0, 5], [1], [1, 1, 3], 2);

  test('minMaxScale: per image (x − min)/(max − min), constant image → 0', () => {
    const s = minMaxScale(train);
    close(s.images, [0, 0.5, 1, 0, 0, 0]);
    expect(s.labels).toEqual(train.labels);
    expect(s.shape).toEqual([1, 1, 3]);
    close(minMaxScale(testSet).images, [1, 0, 0.5]);
  });

  test('padImages: centred in the canvas, the extra row/column at the bottom/right, channels kept', () => {
    // Two images of 2 channels, 1×2 each, into 2×5 (left 1, right 2; top 0, bottom 1).
    const ds = dataset([1, 2, 3, 4, 5, 6, 7, 8], [0, 1], [2, 1, 2], 2);
    const p = padImages(ds, 2, 5, -1);
    expect(p.shape).toEqual([2, 2, 5]);
    expect(p.labels).toEqual(ds.labels);
    expect(Array.from(p.images)).toEqual([
      -1, 1, 2, -1, -1, /**/ -1, -1, -1, -1, -1, // image 0, channel 0
      -1, 3, 4, -1, -1, /**/ -1, -1, -1, -1, -1, // image 0, channel 1
      -1, 5, 6, -1, -1, /**/ -1, -1, -1, -1, -1,
      -1, 7, 8, -1, -1, /**/ -1, -1, -1, -1, -1,
    ]);
    const fm = dataset(Array.from({ length: 28 * 28 }, (_, i) => i + 1), [0], [1, 28, 28], 1);
    const q = padImages(fm, 32, 32);
    expect(q.images[2 * 32 + 2]).toBe(1);
    expect(q.images[29 * 32 + 29]).toBe(28 * 28);
    expect(q.images[0]).toBe(0);
    expect(q.images.reduce((a, b) => a + b, 0)).toBe((28 * 28 * (28 * 28 + 1)) / 2);
    expect(() => padImages(ds, 0, 5)).toThrow(/padImages: height must be an integer ≥ the images' 1 \(shape \[2, 1, 2\]\), got 0/);
    expect(() => padImages(ds, 1, 1.5)).toThrow(RangeError);
    expect(() => padImages(ds, 1, 2, NaN)).toThrow(/value must be finite/);
    expect(ds.images[0]).toBe(1); // the input is untouched
  });

  test('minMaxScale uses the min and max over all channels of an image', () => {
    const two = dataset([0, 10, 20, 40], [0], [2, 1, 2], 1);
    close(minMaxScale(two).images, [0, 0.25, 0.5, 1]);
  });

  test('pixelMean and subtractMean', () => {
    close(pixelMean(train), [3.5, 4.5, 5.5]);
    close(subtractMean(train, Float32Array.from([1, 2, 3])).images, [1, 2, 3, 4, 3, 2]);
    expect(() => subtractMean(train, new Float32Array(2))).toThrow(/subtractMean: mean has length 2 but images are \[1, 1, 3\] = 3 values/);
    expect(() => pixelMean(subset(train, []))).toThrow(/pixelMean: data set 'test' is empty/);
  });

  test('paperPreprocess: min-max each image, subtract the TRAIN per-pixel mean from both', () => {
    const p = paperPreprocess(train, testSet);
    // scaled train [0, .5, 1] and [0, 0, 0] → mean [0, .25, .5]
    close(p.mean, [0, 0.25, 0.5]);
    close(p.train.images, [0, 0.25, 0.5, 0, -0.25, -0.5]);
    // scaled test [1, 0, .5] − train mean
    close(p.test.images, [1, -0.25, 0]);
    expect(p.test.labels).toEqual(testSet.labels);
  });

  test('never mutates its input', () => {
    const before = Array.from(train.images);
    minMaxScale(train);
    subtractMean(train, Float32Array.from([1, 1, 1]));
    paperPreprocess(train, testSet);
    normalizeChannels(train, channelStats(train));
    expect(Array.from(train.images)).toEqual(before);
    expect(Array.from(testSet.images)).toEqual([10, 0, 5]);
  });

  test('paperPreprocess rejects different image shapes', () => {
    const other = dataset([1, 2, 3], [0], [3, 1, 1], 2);
    expect(() => paperPreprocess(train, other)).toThrow(RangeError);
    expect(() => paperPreprocess(train, other)).toThrow(/paperPreprocess: train images have shape \[1, 1, 3\] but test images have \[3, 1, 1\]/);
  });

  test('channelStats and normalizeChannels', () => {
    // channel 0 takes 1, 3, 5, 7 (mean 4, population std √5); channel 1 takes 10, 10, 20, 20 (mean 15, std 5)
    const ds = dataset([1, 3, 10, 10, 5, 7, 20, 20], [0, 0], [2, 1, 2], 1);
    const stats = channelStats(ds);
    close(stats.mean, [4, 15]);
    close(stats.std, [Math.sqrt(5), 5]);
    const s5 = Math.sqrt(5);
    close(normalizeChannels(ds, stats).images, [-3 / s5, -1 / s5, -1, -1, 1 / s5, 3 / s5, 1, 1]);
    const flat = dataset([2, 2, 2, 2], [0], [1, 2, 2], 1);
    close(normalizeChannels(flat, channelStats(flat)).images, [0, 0, 0, 0]); // std 0: centred only
    expect(() => normalizeChannels(ds, { mean: new Float32Array(1), std: new Float32Array(1) })).toThrow(
      /normalizeChannels: stats have 1 means and 1 stds but images have 2 channels/,
    );
  });
});

describe('createDataset and subset', () => {
  test('createDataset checks lengths and labels', () => {
    expect(() => dataset([1, 2], [0], [1, 1, 3], 2)).toThrow(/createDataset: images has 2 values but 1 labels × \[1, 1, 3\] needs 3/);
    expect(() => dataset([1, 2, 3], [2], [1, 1, 3], 2)).toThrow(/createDataset: label 2 of image 0 is outside \[0, 2\)/);
  });

  test('subset copies the chosen images in order', () => {
    const ds = dataset([0, 1, 10, 11, 20, 21], [0, 1, 2], [1, 1, 2], 3);
    const s = subset(ds, [2, 0, 2]);
    expect(Array.from(s.images)).toEqual([20, 21, 0, 1, 20, 21]);
    expect(Array.from(s.labels)).toEqual([2, 0, 2]);
    expect(s.images.buffer).not.toBe(ds.images.buffer);
    expect(() => subset(ds, [3])).toThrow(/subset: indices\[0\] = 3 is not an integer in \[0, 3\)/);
    expect(() => subset(ds, [0.5])).toThrow(RangeError);
  });
});

describe('stratifiedSplit', () => {
  // 100 images: 50 of class 0, 30 of class 1, 20 of class 2, interleaved; pixel value = original index.
  const labels = Array.from({ length: 100 }, (_, i) => (i % 10 < 5 ? 0 : i % 10 < 8 ? 1 : 2));
  const ds = dataset(Array.from({ length: 100 }, (_, i) => i), labels, [1, 1, 1], 3);
  const countClasses = (d: Dataset): number[] => {
    const c = new Array<number>(d.classes).fill(0);
    d.labels.forEach((l) => c[l]++);
    return c;
  };

  test('keeps class proportions exactly when they divide evenly', () => {
    const { train, validation } = stratifiedSplit(ds, 0.2, 1);
    expect(validation.length).toBe(20);
    expect(train.length).toBe(80);
    expect(countClasses(validation)).toEqual([10, 6, 4]);
    expect(countClasses(train)).toEqual([40, 24, 16]);
  });

  test('is a partition in original order, deterministic by seed', () => {
    const a = stratifiedSplit(ds, 0.2, 1);
    const ids = (d: Dataset): number[] => Array.from(d.images);
    const all = [...ids(a.train), ...ids(a.validation)].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(ids(a.train)).toEqual([...ids(a.train)].sort((x, y) => x - y));
    expect(ids(a.validation)).toEqual([...ids(a.validation)].sort((x, y) => x - y));
    // labels travel with their images
    a.validation.images.forEach((v, i) => expect(a.validation.labels[i]).toBe(labels[v]));
    const b = stratifiedSplit(ds, 0.2, 1);
    expect(ids(b.validation)).toEqual(ids(a.validation));
    expect(ids(stratifiedSplit(ds, 0.2, 2).validation)).not.toEqual(ids(a.validation));
  });

  test('uneven classes: total is round(fraction·length), each class within one of its share', () => {
    // classes of 7, 5 and 3 images, half to validation: shares 3.5, 2.5, 1.5 → 4, 3, 1 (largest remainder, ties to lower class)
    const lab = [...new Array(7).fill(0), ...new Array(5).fill(1), ...new Array(3).fill(2)];
    const small = dataset(lab.map((_, i) => i), lab, [1, 1, 1], 3);
    const { train, validation } = stratifiedSplit(small, 0.5, 9);
    expect(validation.length).toBe(8);
    expect(countClasses(validation)).toEqual([4, 3, 1]);
    expect(countClasses(train)).toEqual([3, 2, 2]);
  });

  test('fraction 0 and 1, bad arguments', () => {
    expect(stratifiedSplit(ds, 0, 0).validation.length).toBe(0);
    expect(stratifiedSplit(ds, 1, 0).train.length).toBe(0);
    expect(() => stratifiedSplit(ds, 1.5, 0)).toThrow(/stratifiedSplit: validationFraction must be a number in \[0, 1\], got 1.5/);
    expect(() => stratifiedSplit(ds, NaN, 0)).toThrow(RangeError);
    expect(() => stratifiedSplit(ds, 0.1, 0.5)).toThrow(/seed must be a safe integer/);
  });
});
