// `npm run bench -- data`: the data loader (lib/data/loader.ts) on CIFAR-sized images
// (3×32×32, crop-flip: pad 4, crop 32, flip, per-channel normalisation):
//   1. native batch assembly alone (augmentBatch on this thread, batches of 128): images/s on
//      the core's threads (target ≥ 50,000 on 2 threads);
//   2. the loader's async epochs (prefetch 2), tensors included: images/s;
//   3. trainSgd with options.augment on cnn3 (32×32×3, batch 128): the time each step waits for
//      its batch (≈ 0 when prefetching hides the loader behind the step).
// and on an ImageNet-like image folder (N generated JPEGs, default 1,000; --quick: 60):
//   4. one-core JPEG decode to RGB bytes of the same files held in memory: sharp (libvips,
//      concurrency 1) against libjpeg-turbo through the addon (decodeImage, on this thread);
//   5. the whole pipeline, read + decode + random-resized crop to 224 + flip + normalise
//      (imageBatch on the core's pool) with 1 and 2 threads: images/s per core (target ≥ 300);
//   6. the loader's async epochs over the folder (openImageFolder, augment 'random-resized-crop').
// The JPEGs are written with sharp into a cache directory (--jpeg-dir); without sharp, or
// without a JPEG decoder in the build, that half is skipped with the reason.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { getNumThreads, info, setNumThreads } from '../../lib';
import { createDataset, DataLoader, IMAGENET_STATS, normalizeImageFolder, openImageFolder, Rng } from '../../lib/data';
import { native, type NativeAddon, type NativeImageBatchOptions } from '../../lib/native';
import { cnn3, crossEntropyLoss } from '../../lib/nn';
import { trainSgd } from '../../lib/train';
import { BenchSuite, fmt, loadAverage, machineInfo, median, parseOptions, positiveInt, UsageError, writeJson } from './common';

export const TARGET_IMAGES_PER_SECOND = 50000;
const CIFAR_MEAN = [125.3, 123.0, 113.9];
const CIFAR_STD = [63.0, 62.1, 66.7];

function cifarLike(n: number): ReturnType<typeof createDataset> {
  const images = new Float32Array(n * 3 * 32 * 32);
  let s = 12345;
  for (let i = 0; i < images.length; i++) images[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24; // 0..255 like CIFAR's bytes
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  return createDataset({ name: 'cifar-like', images, labels, shape: [3, 32, 32], classes: 10 });
}

// --- the image-folder half ----------------------------------------------------------------------
export const TARGET_JPEG_IMAGES_PER_SECOND_PER_CORE = 300;
const JPEG_CLASSES = 10;
const JPEG_QUALITY = 90;
const CROP = 224;
// Bump when the generated content changes: a cached folder made by another version is made again.
const JPEG_GENERATOR_VERSION = 1;
const MANIFEST = 'manifest.json';

// The part of sharp (an optional dependency) used here.
interface SharpPipeline {
  raw(): SharpPipeline;
  jpeg(options: { quality: number; chromaSubsampling: '4:2:0' }): SharpPipeline;
  toBuffer(): Promise<Buffer>;
  toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}
interface SharpModule {
  (input: Uint8Array, options?: { raw: { width: number; height: number; channels: 3 } }): SharpPipeline;
  concurrency(threads?: number): number;
  cache(options: boolean): unknown;
  versions: Record<string, string | undefined>;
}

/** sharp, or why it cannot be loaded. */
function loadSharp(): SharpModule | { skip: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('sharp') as SharpModule;
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    return { skip: `sharp (an optional dependency, needed to write the JPEGs) cannot be loaded: ${first}` };
  }
}

/** The JPEG decoder of the build, or why there is none. */
function jpegDecoder(addon: NativeAddon): { library: string } | { skip: string } {
  if (typeof addon.imageCodecs !== 'function') return { skip: 'the addon has no image decoding (an older build: npm run build:native)' };
  const jpeg = addon.imageCodecs().jpeg;
  return jpeg.library === null ? { skip: `the build has no JPEG decoder: ${jpeg.reason}` } : { library: jpeg.library };
}

interface JpegEntry {
  file: string; // relative to the folder, class_NN/<n>.jpg
  label: number;
  bytes: number;
  width: number;
  height: number;
}
interface JpegManifest {
  generator: number;
  count: number;
  files: JpegEntry[];
}

// ImageNet's sizes: mostly 500 on the long side (500×375, 375×500, 500×333), 1 in 10 larger.
function jpegSize(i: number, rng: Rng): [number, number] {
  if (i % 10 === 9) {
    const large: [number, number][] = [[800, 600], [600, 800], [1024, 768], [800, 533]];
    return large[rng.nextInt(large.length)];
  }
  const u = rng.nextInt(10);
  return u < 5 ? [500, 375] : u < 7 ? [375, 500] : [500, 333];
}

/**
 * Photo-like RGB pixels (HWC bytes), a function of (i, width, height): a four-colour gradient
 * with slow waves, 40–99 shapes (a few large, then clutter) with their own gradients and hard
 * edges, then texture (value noise on 8- and 3-pixel grids) and grain (per-pixel noise, in
 * luminance and in each channel). The amounts are set so that quality-90 4:2:0 files of 500×375
 * come out near ImageNet's ~110 KB (≈ 113 KB; smooth content alone gives a third of that).
 */
function photoLike(i: number, width: number, height: number): Uint8Array {
  const rng = new Rng(0x5eed0000 + i);
  const u = () => rng.nextUint32() / 4294967296;
  const n = width * height;
  const rgb = new Float32Array(3 * n); // HWC
  // background: bilinear blend of four corner colours, plus two slow waves; a wave
  // sin(kx·x + ky·y + φ) = sin(kx·x + φ)·cos(ky·y) + cos(kx·x + φ)·sin(ky·y), tabulated by column and row
  const corners = Array.from({ length: 4 }, () => [40 + 180 * u(), 40 + 180 * u(), 40 + 180 * u()]);
  const waves = Array.from({ length: 2 }, () => {
    const angle = 2 * Math.PI * u();
    const k = (2 * Math.PI) / (60 + 240 * u());
    const kx = k * Math.cos(angle), ky = k * Math.sin(angle), phase = 2 * Math.PI * u(), amp = 10 + 20 * u();
    return {
      sx: Float32Array.from({ length: width }, (_, x) => amp * Math.sin(kx * x + phase)),
      cx: Float32Array.from({ length: width }, (_, x) => amp * Math.cos(kx * x + phase)),
      sy: Float32Array.from({ length: height }, (_, y) => Math.sin(ky * y)),
      cy: Float32Array.from({ length: height }, (_, y) => Math.cos(ky * y)),
    };
  });
  const [w0, w1] = waves;
  for (let y = 0; y < height; y++) {
    const fy = y / (height - 1);
    const left = [0, 1, 2].map((c) => (1 - fy) * corners[0][c] + fy * corners[2][c]);
    const right = [0, 1, 2].map((c) => (1 - fy) * corners[1][c] + fy * corners[3][c]);
    const cy0 = w0.cy[y], sy0 = w0.sy[y], cy1 = w1.cy[y], sy1 = w1.sy[y];
    for (let x = 0; x < width; x++) {
      const fx = x / (width - 1);
      const wave = w0.sx[x] * cy0 + w0.cx[x] * sy0 + w1.sx[x] * cy1 + w1.cx[x] * sy1;
      const p = 3 * (y * width + x);
      rgb[p] = left[0] + fx * (right[0] - left[0]) + wave;
      rgb[p + 1] = left[1] + fx * (right[1] - left[1]) + wave;
      rgb[p + 2] = left[2] + fx * (right[2] - left[2]) + wave;
    }
  }
  // shapes: ellipses and rotated rectangles, each a colour with a linear gradient across it
  const shapes = 40 + rng.nextInt(60);
  for (let s = 0; s < shapes; s++) {
    const cx = width * u(), cy = height * u();
    const big = s < 4 ? 0.25 : 0.08; // a few large shapes, then clutter
    const ax = 6 + big * width * u(), ay = 6 + big * height * u();
    const angle = Math.PI * u(), cos = Math.cos(angle), sin = Math.sin(angle);
    const ellipse = u() < 0.5;
    const colour = [255 * u(), 255 * u(), 255 * u()];
    const gx = (u() - 0.5) * 1.5, gy = (u() - 0.5) * 1.5;
    const reach = Math.max(ax, ay);
    const x0 = Math.max(0, Math.floor(cx - reach)), x1 = Math.min(width - 1, Math.ceil(cx + reach));
    const y0 = Math.max(0, Math.floor(cy - reach)), y1 = Math.min(height - 1, Math.ceil(cy + reach));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x - cx, dy = y - cy;
        const px = (dx * cos + dy * sin) / ax, py = (dy * cos - dx * sin) / ay;
        if (ellipse ? px * px + py * py > 1 : Math.abs(px) > 1 || Math.abs(py) > 1) continue;
        const shade = gx * dx + gy * dy;
        const p = 3 * (y * width + x);
        rgb[p] = colour[0] + shade;
        rgb[p + 1] = colour[1] + shade;
        rgb[p + 2] = colour[2] + shade;
      }
    }
  }
  // texture: bilinear value noise on grids of 8 and 3 pixels (luminance); grain: per-pixel noise,
  // triangular in luminance and uniform in each channel, from a xorshift32 seeded by the image
  const grid = (cell: number) => {
    const gw = Math.ceil(width / cell) + 2;
    const values = new Float32Array(gw * (Math.ceil(height / cell) + 2));
    for (let k = 0; k < values.length; k++) values[k] = u() - 0.5;
    const ix = Int32Array.from({ length: width }, (_, x) => Math.floor(x / cell));
    const tx = Float32Array.from({ length: width }, (_, x) => x / cell - Math.floor(x / cell));
    return { cell, gw, values, ix, tx };
  };
  const coarse = grid(8), fine = grid(3);
  const TEXTURE_COARSE = 20, TEXTURE_FINE = 50, GRAIN = 50, CHROMA = 50;
  let state = rng.nextUint32() | 1;
  const out = new Uint8Array(3 * n);
  for (let y = 0; y < height; y++) {
    const cyf = y / coarse.cell, ciy = Math.floor(cyf), cty = cyf - ciy;
    const fyf = y / fine.cell, fiy = Math.floor(fyf), fty = fyf - fiy;
    for (let x = 0; x < width; x++) {
      const ck = ciy * coarse.gw + coarse.ix[x], ctx = coarse.tx[x], cv = coarse.values;
      const fk = fiy * fine.gw + fine.ix[x], ftx = fine.tx[x], fv = fine.values;
      const tc = (1 - cty) * ((1 - ctx) * cv[ck] + ctx * cv[ck + 1]) + cty * ((1 - ctx) * cv[ck + coarse.gw] + ctx * cv[ck + coarse.gw + 1]);
      const tf = (1 - fty) * ((1 - ftx) * fv[fk] + ftx * fv[fk + 1]) + fty * ((1 - ftx) * fv[fk + fine.gw] + ftx * fv[fk + fine.gw + 1]);
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const a = state >>> 0;
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const c = state >>> 0;
      const luma = TEXTURE_COARSE * tc + TEXTURE_FINE * tf + GRAIN * (((a & 0xffff) + (a >>> 16)) / 65536 - 1);
      const p = 3 * (y * width + x);
      out[p] = Math.max(0, Math.min(255, Math.round(rgb[p] + luma + CHROMA * ((c & 1023) / 1024 - 0.5))));
      out[p + 1] = Math.max(0, Math.min(255, Math.round(rgb[p + 1] + luma + CHROMA * (((c >>> 10) & 1023) / 1024 - 0.5))));
      out[p + 2] = Math.max(0, Math.min(255, Math.round(rgb[p + 2] + luma + CHROMA * (((c >>> 20) & 1023) / 1024 - 0.5))));
    }
  }
  return out;
}

/** The folder's manifest when the folder holds the complete set of `count` files of this generator, else null. */
function completeManifest(dir: string, count: number): JpegManifest | null {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as JpegManifest;
    if (m.generator !== JPEG_GENERATOR_VERSION || m.count !== count || !Array.isArray(m.files) || m.files.length !== count) return null;
    for (const f of m.files) if (fs.statSync(path.join(dir, f.file)).size !== f.bytes) return null;
    return m;
  } catch {
    return null;
  }
}

// Only a folder this bench wrote (class_NN/<n>.jpg and the manifest) or an empty one may be replaced.
function isOurFolder(dir: string): boolean {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile() && e.name === MANIFEST) continue;
    if (!e.isDirectory() || !/^class_\d\d$/.test(e.name)) return false;
    if (!fs.readdirSync(path.join(dir, e.name)).every((f) => /^\d+\.jpg$/.test(f))) return false;
  }
  return true;
}

/**
 * The folder of `count` ImageNet-sized JPEGs in `dir` (<dir>/class_00 … class_09/<n>.jpg), made
 * with sharp when missing or incomplete: written into a sibling temporary folder, the manifest
 * last, then renamed into place, so that an interrupted run leaves no half set behind.
 */
async function ensureJpegFolder(sharp: SharpModule, dir: string, count: number): Promise<{ manifest: JpegManifest; seconds: number | null }> {
  const found = completeManifest(dir, count);
  if (found) return { manifest: found, seconds: null };
  if (fs.existsSync(dir) && !isOurFolder(dir)) {
    throw new UsageError(`--jpeg-dir ${dir} holds files this bench did not write; name a new or empty directory`);
  }
  const t0 = performance.now();
  const tmp = `${dir}.partial-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    const digits = String(count - 1).length;
    const files: JpegEntry[] = [];
    for (let c = 0; c < Math.min(JPEG_CLASSES, count); c++) fs.mkdirSync(path.join(tmp, `class_${String(c).padStart(2, '0')}`), { recursive: true });
    const sizes = new Rng(0x512e5);
    let encoding: Promise<void> = Promise.resolve(); // the previous image's, while this one is drawn
    for (let i = 0; i < count; i++) {
      const [width, height] = jpegSize(i, sizes);
      const label = i % JPEG_CLASSES;
      const file = `class_${String(label).padStart(2, '0')}/${String(i).padStart(digits, '0')}.jpg`;
      const pixels = photoLike(i, width, height);
      await encoding;
      encoding = sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: JPEG_QUALITY, chromaSubsampling: '4:2:0' }).toBuffer().then((jpeg) => {
        fs.writeFileSync(path.join(tmp, file), jpeg);
        files.push({ file, label, bytes: jpeg.length, width, height });
      });
    }
    await encoding;
    const manifest: JpegManifest = { generator: JPEG_GENERATOR_VERSION, count, files };
    fs.writeFileSync(path.join(tmp, MANIFEST), JSON.stringify(manifest));
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // another run put a folder there meanwhile: use it when it is complete
      const theirs = completeManifest(dir, count);
      if (!theirs) throw err;
      fs.rmSync(tmp, { recursive: true, force: true });
      return { manifest: theirs, seconds: (performance.now() - t0) / 1000 };
    }
    return { manifest, seconds: (performance.now() - t0) / 1000 };
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Mean and largest |a − b| over two byte arrays of the same length. */
function byteDifference(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let k = 0; k < a.length; k++) {
    const d = Math.abs(a[k] - b[k]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

interface ImageFolderFigures {
  dir: string;
  images: number;
  meanBytes: number;
  meanPixels: number;
  generatedSeconds: number | null; // null: the cached folder was used
  decode: {
    sharp: { version: string; imagesPerSecond: number };
    turbojpeg: { library: string; imagesPerSecond: number };
    ratio: number; // turbojpeg / sharp
    difference: { mean: number; max: number }; // between the two decodes of the first file
  };
  pipeline: { threads: number; batch: number; imagesPerSecond: number; imagesPerSecondPerCore: number; met: boolean }[];
  loader: { threads: number; batch: number; imagesPerSecond: number; imagesPerSecondPerCore: number }; // async epochs, tensors made
  targetPerCore: number;
}

async function imageFolderBench(opts: Map<string, string | true>, quick: boolean, repeats: number, threads: number): Promise<ImageFolderFigures | { skipped: string }> {
  const count = positiveInt(opts, '--jpegs', quick ? 60 : 1000);
  const batch = positiveInt(opts, '--image-batch', 32);
  const dirOpt = opts.get('--jpeg-dir');
  const dir = path.resolve(typeof dirOpt === 'string' ? dirOpt : path.join(os.tmpdir(), `newton-cnn-bench-jpegs-${count}`));
  const sharp = loadSharp();
  if ('skip' in sharp) return { skipped: sharp.skip };
  const addon = native();
  const decoder = jpegDecoder(addon);
  if ('skip' in decoder) return { skipped: decoder.skip };

  console.log(`\nImageNet-sized JPEG folder (${count} images, ${JPEG_CLASSES} classes, quality ${JPEG_QUALITY} 4:2:0): decode, random-resized crop ${CROP}, flip, normalise`);

  const { manifest, seconds } = await ensureJpegFolder(sharp, dir, count);
  const files = manifest.files.map((f) => path.join(dir, f.file));
  const labels = Int32Array.from(manifest.files, (f) => f.label);
  const meanBytes = manifest.files.reduce((s, f) => s + f.bytes, 0) / count;
  const meanPixels = manifest.files.reduce((s, f) => s + f.width * f.height, 0) / count;
  const standard = manifest.files.filter((f) => f.width === 500 && f.height === 375);
  const standardKb = standard.length ? standard.reduce((s, f) => s + f.bytes, 0) / standard.length / 1024 : NaN;
  console.log(`${dir}: ${seconds === null ? 'cached' : `written in ${fmt(seconds, 1)} s`}; mean ${fmt(meanBytes / 1024, 1)} KB and ${fmt(meanPixels / 1000, 1)} kpixels per file (500×375: ${fmt(standardKb, 1)} KB)`);

  // 4. decode to RGB bytes on one core, the files already in memory
  const bytes = files.map((f) => fs.readFileSync(f));
  const previousConcurrency = sharp.concurrency();
  sharp.concurrency(1);
  sharp.cache(false); // no operation cache: each repeat decodes again
  const sharpDecode = async (buf: Buffer) => sharp(buf).raw().toBuffer({ resolveWithObject: true });
  const first = await sharpDecode(bytes[0]);
  const mine = addon.decodeImage(bytes[0], 3);
  if (first.info.channels !== 3 || mine.channels !== 3 || first.info.width !== mine.width || first.info.height !== mine.height) {
    throw new Error(`${files[0]}: sharp decodes ${first.info.width}×${first.info.height}×${first.info.channels}, decodeImage ${mine.width}×${mine.height}×${mine.channels}`);
  }
  const difference = byteDifference(first.data, mine.data);
  const warm = Math.min(count, 10);
  for (let i = 0; i < warm; i++) await sharpDecode(bytes[i]);
  const sharpRates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (const buf of bytes) await sharpDecode(buf);
    sharpRates.push(count / ((performance.now() - t0) / 1000));
  }
  sharp.concurrency(previousConcurrency);
  sharp.cache(true);
  for (let i = 0; i < warm; i++) addon.decodeImage(bytes[i], 3);
  const turboRates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (const buf of bytes) addon.decodeImage(buf, 3);
    turboRates.push(count / ((performance.now() - t0) / 1000));
  }
  const sharpRate = median(sharpRates);
  const turboRate = median(turboRates);

  // 5. read + decode + random-resized crop + flip + normalise on the core's pool
  const chw = 3 * CROP * CROP;
  const x = new Float32Array(batch * chw);
  const y = new Float32Array(batch * JPEG_CLASSES);
  const labelsOut = new Int32Array(batch);
  const options = (start: number, epoch: number): NativeImageBatchOptions => ({
    channels: 3, size: [CROP, CROP], classes: JPEG_CLASSES, start, seed: 1, epoch, transform: 'random-resized-crop', flip: true,
    mean: Float32Array.from(IMAGENET_STATS.mean), std: Float32Array.from(IMAGENET_STATS.std),
  });
  const epochOf = (order: Int32Array, epoch: number) => {
    for (let start = 0; start < order.length; start += batch) {
      const m = Math.min(batch, order.length - start);
      const res = addon.imageBatch(files, labels, order.subarray(start, start + m), options(start, epoch), x.subarray(0, m * chw), y.subarray(0, m * JPEG_CLASSES), labelsOut.subarray(0, m));
      if (res.failed.length > 0) throw new Error(`imageBatch left out ${res.failed.length} images, first ${res.failed[0].file}: ${res.failed[0].message}`);
    }
  };
  const pipeline: ImageFolderFigures['pipeline'] = [];
  const previousThreads = getNumThreads();
  for (const pool of [1, 2]) {
    setNumThreads(pool);
    epochOf(new Rng(99).permutation(count).subarray(0, Math.min(count, batch)), 0); // warm-up: the pool, x's pages
    const rates: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const order = new Rng(1000 + r).permutation(count);
      const t0 = performance.now();
      epochOf(order, r);
      rates.push(count / ((performance.now() - t0) / 1000));
    }
    const rate = median(rates);
    pipeline.push({ threads: pool, batch, imagesPerSecond: rate, imagesPerSecondPerCore: rate / pool, met: rate / pool >= TARGET_JPEG_IMAGES_PER_SECOND_PER_CORE });
  }

  // 6. the loader's async epochs over the folder (openImageFolder, ImageNet normalisation,
  // augment 'random-resized-crop', prefetch 2), tensors made, on --threads threads
  setNumThreads(threads);
  const folder = normalizeImageFolder(await openImageFolder(dir, { size: CROP }), IMAGENET_STATS);
  if (folder.length !== count) throw new Error(`openImageFolder(${dir}) found ${folder.length} images, the manifest ${count}`);
  const loader = new DataLoader(folder, { batchSize: batch, seed: 1, augment: 'random-resized-crop' });
  const loaderRates: number[] = [];
  for (let r = -1; r < repeats; r++) { // r = -1: a warm-up epoch, not timed
    const t0 = performance.now();
    let seen = 0;
    for await (const lb of loader.epoch(r + 1)) {
      seen += lb.x.shape[0];
      lb.x.dispose();
      lb.y.dispose();
    }
    if (seen !== count) throw new Error(`the loader's epoch gave ${seen} images of ${count}`);
    if (r >= 0) loaderRates.push(count / ((performance.now() - t0) / 1000));
  }
  const loaderRate = median(loaderRates);
  setNumThreads(previousThreads);

  const sharpVersion = `sharp ${sharp.versions.sharp ?? '?'}, libvips ${sharp.versions.vips ?? '?'}`;
  console.log(`decode to RGB bytes on one core (${count} files in memory, median of ${repeats}):`);
  console.log(`  ${sharpVersion} (concurrency 1): ${fmt(sharpRate, 0)} images/s`);
  console.log(`  ${decoder.library} (decodeImage on this thread): ${fmt(turboRate, 0)} images/s = ${fmt(turboRate / sharpRate, 2)}× sharp; same pixels: mean |Δ| ${fmt(difference.mean, 3)}, max ${difference.max}`);
  for (const p of pipeline) {
    console.log(`read + decode + random-resized crop ${CROP} + flip + normalise (imageBatch, batch ${p.batch}, ${p.threads} thread${p.threads > 1 ? 's' : ''}): ${fmt(p.imagesPerSecond, 0)} images/s, ${fmt(p.imagesPerSecondPerCore, 0)} per core (target ≥ ${TARGET_JPEG_IMAGES_PER_SECOND_PER_CORE} per core: ${p.met ? 'met' : 'NOT met'})`);
  }
  console.log(`loader epochs over the folder (async, prefetch 2, augment 'random-resized-crop', tensors made, ${threads} threads): ${fmt(loaderRate, 0)} images/s, ${fmt(loaderRate / threads, 0)} per core`);
  return {
    dir, images: count, meanBytes, meanPixels, generatedSeconds: seconds,
    decode: { sharp: { version: sharpVersion, imagesPerSecond: sharpRate }, turbojpeg: { library: decoder.library, imagesPerSecond: turboRate }, ratio: turboRate / sharpRate, difference },
    pipeline, loader: { threads, batch, imagesPerSecond: loaderRate, imagesPerSecondPerCore: loaderRate / threads }, targetPerCore: TARGET_JPEG_IMAGES_PER_SECOND_PER_CORE,
  };
}

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--json', '--threads', '--images', '--batch', '--repeats', '--jpegs', '--jpeg-dir', '--image-batch'] });
  const quick = opts.get('--quick') === true;
  const threads = positiveInt(opts, '--threads', 2);
  const n = positiveInt(opts, '--images', quick ? 2048 : 10000);
  const batch = positiveInt(opts, '--batch', 128);
  const repeats = positiveInt(opts, '--repeats', quick ? 2 : 5);
  const previousThreads = getNumThreads();
  setNumThreads(threads);
  const runtime = info();
  console.log(`newton-cnn ${runtime.version}: data loader, CIFAR-sized crop-flip batches (3×32×32, pad 4, flip, normalise), batch ${batch}`);
  console.log(`${getNumThreads()} threads, ${n} images, load average ${fmt(loadAverage(), 2)}`);
  const ds = cifarLike(n);
  const augment = { crop: { size: 32, padding: 4 }, flip: true, normalize: { mean: CIFAR_MEAN, std: CIFAR_STD } };
  const loader = new DataLoader(ds, { batchSize: batch, seed: 1, augment });

  // 1. native assembly on this thread: the rate the core's pool reaches
  const order = loader.order(0);
  const syncRates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let b = 0; b < loader.batchesPerEpoch; b++) {
      const lb = loader.batchSync(r, order, b);
      lb.x.dispose();
      lb.y.dispose();
    }
    syncRates.push(n / ((performance.now() - t0) / 1000));
  }
  const syncRate = median(syncRates);

  // 2. async epochs through the prefetching iterator
  const asyncRates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for await (const lb of loader.epoch(r)) {
      lb.x.dispose();
      lb.y.dispose();
    }
    asyncRates.push(n / ((performance.now() - t0) / 1000));
  }
  const asyncRate = median(asyncRates);

  // 3. a training run: the wait for data per step
  const trainImages = quick ? 1024 : 4096;
  const model = cnn3([3, 32, 32], 10, { seed: 0 });
  const trainSet = createDataset({ name: 'cifar-like', images: ds.images.subarray(0, trainImages * 3072), labels: ds.labels.subarray(0, trainImages), shape: [3, 32, 32], classes: 10 });
  const result = await trainSgd(model, trainSet, { epochs: 1, batchSize: batch, seed: 0, loss: crossEntropyLoss, evaluateEvery: 'never', augment, sgd: { learningRate: 0.001 } });
  model.dispose();
  const steps = result.iterations;
  const waitMs = (1000 * (result.dataWaitSeconds ?? 0)) / steps;
  const stepMs = (1000 * result.seconds) / steps;

  console.log(`\nnative assembly (augmentBatch, ${threads} threads): ${fmt(syncRate, 0)} images/s (median of ${repeats} epochs; target ≥ ${TARGET_IMAGES_PER_SECOND}: ${syncRate >= TARGET_IMAGES_PER_SECOND ? 'met' : 'NOT met'})`);
  console.log(`loader epochs (async, prefetch 2, tensors made): ${fmt(asyncRate, 0)} images/s`);
  console.log(`trainSgd cnn3 + crop-flip: ${steps} steps, ${fmt(stepMs, 2)} ms/step, waiting for data ${fmt(waitMs, 3)} ms/step (${fmt((100 * waitMs) / stepMs, 2)}% of the step)`);

  // 4, 5. the image folder
  const imageFolder = await imageFolderBench(opts, quick, repeats, threads);
  if ('skipped' in imageFolder) console.log(`\nImageNet-sized JPEG folder skipped: ${imageFolder.skipped}`);
  const json = opts.get('--json');
  if (typeof json === 'string') {
    writeJson(json, { suite: 'data', machine: machineInfo(), runtime, threads, images: n, batch, syncImagesPerSecond: syncRate, asyncImagesPerSecond: asyncRate, train: { steps, stepMs, waitMs }, imageFolder });
  }
  setNumThreads(previousThreads);
  return 0;
}

export const suite: BenchSuite = {
  name: 'data',
  description: 'Data loader: CIFAR crop-flip batches images/s on 2 threads (target ≥ 50,000), the wait for data per trainSgd step (≈ 0), and ImageNet-sized JPEGs: sharp vs libjpeg-turbo decode on one core, decode + random-resized crop images/s per core (target ≥ 300)',
  usage: [
    '  --threads N  core threads (default 2)',
    '  --images N   images in the synthetic CIFAR-sized set (default 10000; --quick: 2048)',
    '  --batch N    batch size (default 128)',
    '  --repeats N  epochs timed per measurement (default 5; --quick: 2)',
    '  --jpegs N    ImageNet-sized JPEGs in the image folder (default 1000; --quick: 60)',
    '  --jpeg-dir D where the JPEGs are cached (default <tmpdir>/newton-cnn-bench-jpegs-<N>; made when missing or incomplete)',
    '  --image-batch N  images per imageBatch call (default 32)',
    '  --quick      a short smoke run',
    '  --json FILE  write the figures as JSON',
  ].join('\n'),
  run,
};
