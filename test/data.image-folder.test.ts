// Image folders (lib/data/image-folder.ts) on folders of JPEG and PNG files the test writes with
// sharp: the listing (sorted class folders, nested files, extensions, hidden files), label
// files (ILSVRC's CSV, 'FILE CLASS', 'FILE INDEX'), every error naming its folder or file;
// gatherBatch and the DataLoader streaming the folder (every image once per epoch, deterministic
// for a seed across thread counts and prefetch depths, the evaluation transform equal to the
// native center crop); skipping corrupt images; the channel statistics; subset and split;
// trainSgd and trainNewton on a folder; `newton-cnn train --data DIR` end to end.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { getNumThreads, setNumThreads } from '../lib';
import { main } from '../lib/cli';
import {
  DataFileError,
  DataLoader,
  gatherBatch,
  imageFolderChannelStats,
  normalizeImageFolder,
  openImageFolder,
  SkippedImages,
  stratifiedSplit,
  subset,
  type ImageFolder,
} from '../lib/data';
import { imageBatchOptions } from '../lib/data/image-folder';
import { readImageFile } from '../lib/data/image-files';
import { loadModel } from '../lib/model';
import { native } from '../lib/native';
import { cnn3, crossEntropyLoss } from '../lib/nn';
import { evaluateObjective, trainNewton, trainSgd } from '../lib/train';
import { fakeIo } from './cli.helpers';
import { requiredInCi } from './helpers';
import { loadSharp } from './sharp';

const sharp = loadSharp();
const codecs = native().imageCodecs();
const ready = sharp !== null && codecs.jpeg.library !== null && codecs.png.library !== null;
const why = sharp === null ? 'sharp (an optional dependency) is not installed, so no test images can be written' : `this build lacks a decoder (${JSON.stringify(codecs)})`;
// Without sharp or a decoder every group below is skipped, the reason in its title.
// Without sharp or a decoder the groups are skipped, the reason in their titles; in CI they must run.
const withImages = (title: string, fn: () => void): void => (ready ? describe(title, fn) : describe.skip(`${title} [skipped: ${why}]`, fn));
requiredInCi('the image-folder groups', ready ? null : why);

let seed = 1;
const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;

// An h×w RGB image whose colour says its class: class 0 reddish, class 1 bluish, with noise.
async function writeImage(file: string, cls: number, w: number, h: number): Promise<void> {
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const noise = Math.floor(rand() * 60);
    px[3 * i] = cls === 0 ? 180 + noise : 20 + noise;
    px[3 * i + 1] = 60 + noise;
    px[3 * i + 2] = cls === 1 ? 180 + noise : 20 + noise;
  }
  const img = sharp!(px, { raw: { width: w, height: h, channels: 3 } });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await (file.endsWith('.png') ? img.png() : img.jpeg({ quality: 95 })).toFile(file);
}

// root/{train,val}/{blue,red}/…: n images per class, JPEG and PNG, sizes around 40×36.
async function writeDataset(root: string, perClass: { train: number; val: number }): Promise<void> {
  for (const part of ['train', 'val'] as const) {
    for (const [cls, name] of [[1, 'blue'], [0, 'red']] as const) {
      for (let i = 0; i < perClass[part]; i++) {
        const ext = i % 3 === 0 ? 'png' : i % 3 === 1 ? 'jpg' : 'JPEG';
        await writeImage(path.join(root, part, name, `${name}${String(i).padStart(3, '0')}.${ext}`), cls, 36 + (i % 4) * 2, 34 + (i % 3) * 3);
      }
    }
  }
}

let dir: string;
let data: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-image-folder-'));
  data = path.join(dir, 'colours');
  if (ready) await writeDataset(data, { train: 24, val: 8 });
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function open(options: Parameters<typeof openImageFolder>[1] = {}): Promise<ImageFolder> {
  return openImageFolder(path.join(data, 'train'), { size: 32, ...options });
}

withImages('listing a folder', () => {
  test('classes from the sorted folder names, files sorted, nested folders, extensions of any case, hidden files and other files left out', async () => {
    const root = path.join(dir, 'listing');
    await writeImage(path.join(root, 'b', 'x.png'), 0, 8, 8);
    await writeImage(path.join(root, 'b', 'deeper', 'y.JPG'), 0, 8, 8);
    await writeImage(path.join(root, 'a', 'z.jpeg'), 1, 8, 8);
    await writeImage(path.join(root, 'a', '.hidden.png'), 1, 8, 8);
    fs.writeFileSync(path.join(root, 'a', 'notes.txt'), 'not an image');
    fs.mkdirSync(path.join(root, '.cache', 'q'), { recursive: true });
    const f = await openImageFolder(root, { size: 8 });
    expect(f.kind).toBe('image-folder');
    expect(f.classNames).toEqual(['a', 'b']);
    expect(f.files.map((p) => path.relative(root, p))).toEqual(['a/z.jpeg', 'b/deeper/y.JPG', 'b/x.png']);
    expect(Array.from(f.labels)).toEqual([0, 1, 1]);
    expect(f.shape).toEqual([3, 8, 8]);
    expect(f.resizeTo).toBe(9); // round(8·256/224)
    expect(f.length).toBe(3);
    expect(f.name).toBe('listing');
  });

  test('the colours folder: 2 classes, 48 training images, shape from size and channels', async () => {
    const f = await open({ channels: 1, size: [32, 30] });
    expect(f.classNames).toEqual(['blue', 'red']);
    expect(f.length).toBe(48);
    expect(f.shape).toEqual([1, 32, 30]);
    expect(f.resizeTo).toBe(34);
    expect(Array.from(f.labels.slice(0, 24)).every((l) => l === 0)).toBe(true);
  });

  test('errors name the folder and what is wrong', async () => {
    await expect(openImageFolder(path.join(dir, 'nope'))).rejects.toThrow(/openImageFolder: .*nope: no such directory/);
    const flat = path.join(dir, 'flat');
    await writeImage(path.join(flat, 'a.png'), 0, 8, 8);
    await expect(openImageFolder(flat)).rejects.toThrow(/flat: no class folders in it \(it holds 1 images directly: give their labels with options.labels/);
    const empty = path.join(dir, 'emptyclass');
    await writeImage(path.join(empty, 'a', 'a.png'), 0, 8, 8);
    fs.mkdirSync(path.join(empty, 'b'));
    const e = await openImageFolder(empty).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DataFileError);
    expect((e as DataFileError).message).toMatch(/class folder 'b' holds no JPEG\/PNG files/);
    await expect(openImageFolder(path.join(data, 'val'), { classNames: ['blue', 'green'] })).rejects.toThrow(/its class folders differ from options.classNames \(1 missing, e.g. 'green'; 1 not in it, e.g. 'red'\)/);
    await expect(open({ size: 0 })).rejects.toThrow(RangeError);
    await expect(open({ channels: 2 as 3 })).rejects.toThrow(/options.channels must be 1 \(luminance\) or 3 \(RGB\), got 2/);
    await expect(open({ resizeTo: 16 })).rejects.toThrow(/options.resizeTo 16 is smaller than the crop's longer side 32/);
    expect((await open({ size: [16, 40] })).resizeTo).toBe(40);
  });

  test('a flat folder with a label file: ILSVRC CSV, FILE CLASS and FILE INDEX lines; unknown classes and unlabelled files are errors', async () => {
    const flat = path.join(dir, 'ilsvrc-val');
    await writeImage(path.join(flat, 'ILSVRC2012_val_00000001.JPEG'), 0, 10, 10);
    await writeImage(path.join(flat, 'ILSVRC2012_val_00000002.JPEG'), 1, 10, 10);
    const csv = path.join(dir, 'LOC_val_solution.csv');
    fs.writeFileSync(csv, 'ImageId,PredictionString\nILSVRC2012_val_00000002,n02 1 2 3 4 n02 5 6 7 8\nILSVRC2012_val_00000001,n01 1 1 5 5\n');
    const f = await openImageFolder(flat, { size: 8, labels: csv, classNames: ['n01', 'n02'] });
    expect(Array.from(f.labels)).toEqual([0, 1]);
    expect(f.classNames).toEqual(['n01', 'n02']);
    const lines = path.join(dir, 'val.txt');
    fs.writeFileSync(lines, 'ILSVRC2012_val_00000001.JPEG 1\nILSVRC2012_val_00000002.JPEG 0\n');
    expect(Array.from((await openImageFolder(flat, { size: 8, labels: lines })).labels)).toEqual([1, 0]);
    fs.writeFileSync(lines, 'ILSVRC2012_val_00000001.JPEG n01\nILSVRC2012_val_00000002.JPEG n09\n');
    await expect(openImageFolder(flat, { size: 8, labels: lines, classNames: ['n01', 'n02'] })).rejects.toThrow(/val.txt: line 2: unknown class 'n09'/);
    await expect(openImageFolder(flat, { size: 8, labels: lines })).rejects.toThrow(/line 1: label 'n01' is a class name, which needs options.classNames/);
    fs.writeFileSync(lines, 'ILSVRC2012_val_00000001.JPEG 0\n');
    await expect(openImageFolder(flat, { size: 8, labels: lines })).rejects.toThrow(/ILSVRC2012_val_00000002.JPEG: the label file .*val.txt has no label for it/);
    fs.writeFileSync(lines, 'one two three\n');
    await expect(openImageFolder(flat, { size: 8, labels: lines })).rejects.toThrow(/line 1: expected 'FILE LABEL', got 'one two three'/);
  });
});

withImages('batches of a folder', () => {
  test('gatherBatch reads the images with the evaluation transform (the native center crop), normalised per channel', async () => {
    const f = normalizeImageFolder(await open(), { mean: [100, 110, 120], std: [50, 60, 70] });
    const order = Int32Array.from([5, 30, 0, 47]);
    const b = gatherBatch(f, order, 1, 4);
    expect(b.x.shape).toEqual([3, 3, 32, 32]);
    expect(Array.from(b.labels)).toEqual([1, 0, 1]);
    expect(Array.from(b.y.toArray())).toEqual([0, 1, 1, 0, 0, 1]);
    const x = new Float32Array(3 * 3 * 32 * 32);
    const r = native().imageBatch(f.files as string[], f.labels, order.subarray(1, 4), imageBatchOptions(f, { start: 1, seed: 0, epoch: 0 }), x, new Float32Array(6), new Int32Array(3));
    expect(r).toEqual({ count: 3, failed: [] });
    expect(Array.from(b.x.toArray())).toEqual(Array.from(x));
    // normalised: the red images' red channel is well above the mean, their blue one below
    const red = b.x.toArray().subarray(0, 3 * 32 * 32);
    expect(red[0]).toBeGreaterThan(1);
    expect(red[2 * 32 * 32]).toBeLessThan(-1);
    b.x.dispose();
    b.y.dispose();
  });

  test('the loader: every image once per epoch, the same batches for a seed whatever the threads and prefetch, augmentation on top', async () => {
    const f = await open();
    const epochOf = async (loader: DataLoader, e: number): Promise<{ x: number[]; labels: number[]; starts: number[] }> => {
      const out = { x: [] as number[], labels: [] as number[], starts: [] as number[] };
      for await (const b of loader.epoch(e)) {
        for (const v of b.x.toArray()) out.x.push(v);
        out.labels.push(...b.labels);
        out.starts.push(b.start);
        b.x.dispose();
        b.y.dispose();
      }
      return out;
    };
    const threads = getNumThreads();
    try {
      setNumThreads(1);
      const a = await epochOf(new DataLoader(f, { batchSize: 10, seed: 3, augment: 'random-resized-crop', prefetch: 0 }), 1);
      setNumThreads(2);
      const b = await epochOf(new DataLoader(f, { batchSize: 10, seed: 3, augment: 'random-resized-crop', prefetch: 3 }), 1);
      expect(b.x).toEqual(a.x);
      expect(b.labels).toEqual(a.labels);
      expect(a.starts).toEqual([0, 10, 20, 30, 40]);
      // every image once: the labels of an epoch are the folder's, permuted
      expect([...a.labels].sort()).toEqual(Array.from(f.labels).sort());
      const order = new DataLoader(f, { batchSize: 10, seed: 3 }).order(1);
      expect(new Set(order).size).toBe(f.length);
      // another epoch draws other windows; no augmentation gives the evaluation transform
      const c = await epochOf(new DataLoader(f, { batchSize: 10, seed: 3, augment: 'random-resized-crop' }), 2);
      expect(c.x).not.toEqual(a.x);
      const plain = await epochOf(new DataLoader(f, { batchSize: 48, seed: 3, shuffle: false }), 0);
      const g = gatherBatch(f, Int32Array.from({ length: 48 }, (_, i) => i), 0, 48);
      expect(plain.x).toEqual(Array.from(g.x.toArray()));
      g.x.dispose();
      g.y.dispose();
    } finally {
      setNumThreads(threads);
    }
  });

  test('augment options of the wrong kind are refused, naming them', async () => {
    const f = await open();
    expect(() => new DataLoader(f, { batchSize: 4, augment: 'crop-flip' })).toThrow(/DataLoader: options.augment 'crop-flip' is for data sets held in memory; an image folder takes 'random-resized-crop'/);
    expect(() => new DataLoader(f, { batchSize: 4, augment: { normalize: { mean: [0, 0, 0], std: [1, 1, 1] } } })).toThrow(/unknown option normalize for an image folder/);
    expect(() => new DataLoader(f, { batchSize: 4, augment: { randomResizedCrop: { scale: [0.5, 2] } } })).toThrow(/randomResizedCrop.scale must be \[low, high\] with 0 < low ≤ high ≤ 1, got \[0.5, 2\]/);
    expect(() => new DataLoader(f, { batchSize: 4, augment: { randomResizedCrop: { ratio: [1, Infinity] } } })).toThrow(/randomResizedCrop.ratio/);
  });

  test('a corrupt image: an error naming the file, or with skipCorrupt left out of its batch and counted', async () => {
    const root = path.join(dir, 'corrupt');
    for (let i = 0; i < 6; i++) await writeImage(path.join(root, i % 2 === 0 ? 'a' : 'b', `${i}.png`), i % 2, 12, 12);
    const bad = path.join(root, 'a', '2.png');
    const bytes = fs.readFileSync(bad);
    fs.writeFileSync(bad, bytes.subarray(0, bytes.length >> 1)); // truncated
    const order = Int32Array.from({ length: 6 }, (_, i) => i);
    const strict = await openImageFolder(root, { size: 8 });
    const badIndex = strict.files.indexOf(bad);
    const e = (() => {
      try {
        gatherBatch(strict, order, 0, 6);
      } catch (x) {
        return x as DataFileError;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(DataFileError);
    expect(e!.path).toBe(bad);
    expect(e!.message).toMatch(/gatherBatch: .*corrupt\/a\/2.png: .*; skip such images with skipCorrupt \(--skip-corrupt\)/);
    const loose = await openImageFolder(root, { size: 8, skipCorrupt: true });
    const seen: string[] = [];
    loose.skipped!.onSkip((file) => seen.push(file));
    const b = gatherBatch(loose, order, 0, 6);
    expect(b.x.shape).toEqual([5, 3, 8, 8]);
    expect(Array.from(b.labels)).toEqual(Array.from(loose.labels).filter((_, i) => i !== badIndex));
    expect(loose.skipped!.count).toBe(1);
    expect(loose.skipped!.entries()[0].file).toBe(bad);
    expect(seen).toEqual([bad]);
    b.x.dispose();
    b.y.dispose();
    // the loader too: one batch a row short, the count unchanged (each file once)
    let rows = 0;
    for await (const lb of new DataLoader(loose, { batchSize: 4, seed: 1 }).epoch(0)) {
      rows += lb.labels.length;
      expect(lb.x.shape[0]).toBe(lb.labels.length);
      lb.x.dispose();
      lb.y.dispose();
    }
    expect(rows).toBe(5);
    expect(loose.skipped!.count).toBe(1);
    // a shared SkippedImages
    const shared = new SkippedImages();
    const other = await openImageFolder(root, { size: 8, skipCorrupt: shared });
    expect(other.skipped).toBe(shared);
  });

  test('channel statistics over a sample equal those of the gathered images; subset and stratified split keep files and labels together', async () => {
    const f = await open();
    const s = await imageFolderChannelStats(f, { count: 48 });
    const b = gatherBatch(f, Int32Array.from({ length: 48 }, (_, i) => i), 0, 48);
    const x = b.x.toArray();
    const plane = 32 * 32;
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < 48; i++) for (let j = 0; j < plane; j++) {
        const v = x[(i * 3 + c) * plane + j];
        sum += v;
        sq += v * v;
      }
      const mean = sum / (48 * plane);
      expect(s.mean[c]).toBeCloseTo(mean, 6);
      expect(s.std[c]).toBeCloseTo(Math.sqrt(sq / (48 * plane) - mean * mean), 4);
    }
    b.x.dispose();
    b.y.dispose();
    const sub = subset(f, [47, 0, 3]);
    expect(sub.files).toEqual([f.files[47], f.files[0], f.files[3]]);
    expect(Array.from(sub.labels)).toEqual([1, 0, 0]);
    const { train, validation } = stratifiedSplit(f, 0.25, 1);
    expect(validation.length).toBe(12);
    expect(train.length).toBe(36);
    expect(new Set([...train.files, ...validation.files]).size).toBe(48);
    expect(Array.from(validation.labels).filter((l) => l === 0).length).toBe(6);
    expect(() => normalizeImageFolder(f, { mean: [0, 0], std: [1, 1, 1] })).toThrow(/stats.mean must hold one number per channel \(3\)/);
    expect(() => normalizeImageFolder(f, { mean: [0, 0, 0], std: [1, 0, 1] })).toThrow(/stats.std\[1\] must be a positive finite number, got 0/);
  });
});

withImages('training on a folder', () => {
  test('trainSgd streams the folder through the loader (random-resized crops) and learns the colours; trainNewton runs on it', async () => {
    const stats = await imageFolderChannelStats(await open());
    const train = normalizeImageFolder(await open(), stats);
    const test = normalizeImageFolder(await openImageFolder(path.join(data, 'val'), { size: 32, classNames: train.classNames }), stats);
    const model = cnn3(train.shape, train.classes, { seed: 1 });
    const r = await trainSgd(model, train, { epochs: 4, batchSize: 8, loss: crossEntropyLoss, test, augment: 'random-resized-crop', sgd: { learningRate: 0.01 }, seed: 2 });
    expect(r.history).toHaveLength(4);
    expect(r.dataWaitSeconds).toBeGreaterThanOrEqual(0);
    expect(r.final!.testAccuracy).toBeGreaterThanOrEqual(0.9);
    const newton = cnn3(train.shape, train.classes, { seed: 1 });
    const n = await trainNewton(newton, train, { iterations: 2, loss: crossEntropyLoss, newton: { samplingRate: 0.25, cgMaxIterations: 5 }, test });
    expect(n.history).toHaveLength(2);
    const before = evaluateObjective(cnn3(train.shape, train.classes, { seed: 1 }), train, { C: 0.01, loss: crossEntropyLoss, trainSize: train.length });
    const after = evaluateObjective(newton, train, { C: 0.01, loss: crossEntropyLoss, trainSize: train.length });
    expect(after.value).toBeLessThan(before.value);
    model.dispose();
    newton.dispose();
  }, 120000);

  test('newton-cnn train --data DIR trains on the folder, saves a model that normalises per channel; wrong options are usage errors', async () => {
    const f = fakeIo(dir);
    const save = path.join(dir, 'colours.ncnn');
    const code = await main(['train', '--data', data, '--optimizer', 'sgd', '--epochs', '2', '--batch-size', '8', '--image-size', '32', '--augment', 'random-resized-crop', '--crop-scale', '0.3', '--lr', '0.01', '--loss', 'cross-entropy', '--save', save, '--quiet', '--json'], f.io);
    expect(f.err.text).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(f.out.text) as { testAccuracy: number; options: { format: string; preprocess: string; imageSize: number; cropScale: number } };
    expect(out.testAccuracy).toBeGreaterThanOrEqual(0.5);
    expect(out.options).toMatchObject({ format: 'imagefolder', preprocess: 'channels', imageSize: 32, cropScale: 0.3 });
    const m = await loadModel(save);
    expect(m.preprocessing.kind).toBe('channels');
    expect(m.classNames).toEqual(['blue', 'red']);
    expect(m.inputShape).toEqual([3, 32, 32]);
    expect(m.imageResize).toBe(37); // round(32·256/224): the folder's evaluation transform
    // an image file is read as the folder's batches are made: the center crop, whatever its size
    const folder = await openImageFolder(path.join(data, 'val'), { size: 32 });
    const g = gatherBatch(folder, Int32Array.from([3]), 0, 1);
    expect(Array.from(await readImageFile(folder.files[3], [3, 32, 32], { centerCrop: { resizeTo: 37 } }))).toEqual(Array.from(g.x.toArray()));
    g.x.dispose();
    g.y.dispose();
    await expect(readImageFile(folder.files[3], [3, 32, 32])).rejects.toThrow(/the image is \d+×\d+ but the model takes 32×32/);
    m.dispose();
    const p = fakeIo(dir);
    expect(await main(['predict', '--model', save, folder.files[3], '--json'], p.io)).toBe(0);
    expect(JSON.parse(p.out.text)[0].top[0].name).toMatch(/^(blue|red)$/);
    const usage = async (argv: string[], re: RegExp): Promise<void> => {
      const g = fakeIo(dir);
      expect(await main(['train', ...argv], g.io)).toBe(2);
      expect(g.err.text).toMatch(re);
    };
    await usage(['--data', data, '--optimizer', 'sgd', '--augment', 'crop-flip'], /--augment crop-flip is for data held in memory .*image folders take --augment random-resized-crop/);
    await usage(['--image-size', '32'], /--image-size applies to image folders/);
    await usage(['--optimizer', 'sgd', '--augment', 'random-resized-crop'], /--augment random-resized-crop is for image folders/);
    await usage(['--data', data, '--shape', '3,32,32'], /--shape does not apply to an image folder/);
    await usage(['--data', path.join(data, 'train')], /is a folder of .* PNG\/JPEG images, but not an image-folder data set/);
  }, 120000);

  test('--skip-corrupt: unreadable images are reported and counted, the run goes on', async () => {
    const root = path.join(dir, 'with-corrupt');
    fs.cpSync(data, root, { recursive: true });
    const bad = path.join(root, 'train', 'red', 'red001.jpg');
    fs.writeFileSync(bad, Buffer.from('this is not a JPEG file at all'));
    const strict = fakeIo(dir);
    expect(await main(['train', '--data', root, '--optimizer', 'sgd', '--epochs', '1', '--batch-size', '8', '--image-size', '32', '--quiet'], strict.io)).not.toBe(0);
    expect(strict.err.text).toMatch(/red001.jpg: .*--skip-corrupt/);
    const loose = fakeIo(dir);
    expect(await main(['train', '--data', root, '--optimizer', 'sgd', '--epochs', '1', '--batch-size', '8', '--image-size', '32', '--quiet', '--skip-corrupt', '--loss', 'cross-entropy', '--lr', '0.001'], loose.io)).toBe(0);
    expect(loose.err.text).toMatch(/warning: skipped .*red001.jpg: /);
    expect(loose.err.text).toMatch(/skipped 1 unreadable image \(--skip-corrupt\), e.g. .*red001.jpg/);
  }, 120000);
});
