// Model files: save → load gives the same outputs bit for bit (a chain, a ResNet with batch-norm
// running statistics, a custom graph with every multi-input module), the preprocessing and class
// names travel with the model, foreign / truncated / corrupted / newer files are refused naming
// the file, a failed save leaves the previous file whole; evaluate's metrics against a hand
// computation; predict on generated PNG and JPEG files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createDataset, minMaxScale, paperPreprocess, pixelMean } from '../lib/data';
import { imageDecodingAvailable, readImageFile } from '../lib/data/image-files';
import { cifarResNet, cnn3, GraphBuilder, newtonCgNet, Sequential } from '../lib/nn';
import * as L from '../lib/nn/layers';
import { Tensor } from '../lib/tensor';
import { loadModel, Model, MODEL_MAGIC, modelFromBytes, type Preprocessing } from '../lib/model';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-model-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function images(n: number, shape: readonly [number, number, number], seed: number): Float32Array {
  const size = shape[0] * shape[1] * shape[2];
  return new Float32Array(n * size).map((_, i) => Math.floor(128 + 127 * Math.sin(i * 0.731 + seed)));
}

/** Moves batch-norm running statistics away from their initial values. */
function updateStatistics(model: Model, x: Float32Array): void {
  const [c, h, w] = model.inputShape;
  const t = Tensor.from(x, { shape: [x.length / (c * h * w), c, h, w] });
  for (let i = 0; i < 3; i++) {
    const z = model.network.forward(t, { training: true, updateStatistics: true });
    z.dispose();
  }
  model.network.releaseCache();
  t.dispose();
}

function customGraph(): Model {
  // every multi-input module and the scalar ones: add (3 inputs), mul, concat, scale, constantScale, tanh
  const g = new GraphBuilder([2, 6, 6], 'custom');
  const a = g.add(L.conv2d(4, 3, { padding: 1 }), g.input);
  const b = g.add(L.tanh(), g.add(L.conv2d(4, 1), g.input));
  const c = g.add(L.scale(0.5), a);
  const s = g.add(L.add(), [a, b, c]);
  const m = g.add(L.mul(), [s, g.add(L.constantScale(-2), b)]);
  const cat = g.add(L.concat(), [m, a]);
  const out = g.chain(cat, [L.avgPool2d(2), L.relu(), L.flatten(), L.dropout(0.3), L.linear(5)]);
  const net = g.build(out, { name: 'custom' });
  net.init('he-normal', { seed: 3 });
  return new Model(net, { ownsNetwork: true, classNames: ['a', 'b', 'c', 'd', 'e'], loss: 'cross-entropy' });
}

describe('Model files', () => {
  const cases: [string, () => Model, readonly [number, number, number]][] = [
    ['cnn3 with the paper preprocessing', () => {
      const net = cnn3([1, 28, 28], 10, { seed: 1 });
      const mean = pixelMean(minMaxScale(createDataset({ name: 'm', images: images(8, [1, 28, 28], 9), labels: new Int32Array(8), shape: [1, 28, 28], classes: 10 })));
      return new Model(net, { ownsNetwork: true, preprocessing: { kind: 'paper', mean } });
    }, [1, 28, 28]],
    ['a CIFAR ResNet with running statistics, per-channel preprocessing', () => {
      const net = cifarResNet(8, [3, 12, 12], 4, { seed: 2, width: 4 });
      const pre: Preprocessing = { kind: 'channels', mean: Float32Array.of(120, 110, 100), std: Float32Array.of(60, 50, 40) };
      const model = new Model(net, { ownsNetwork: true, preprocessing: pre, classNames: ['w', 'x', 'y', 'z'] });
      updateStatistics(model, images(6, [3, 12, 12], 4));
      return model;
    }, [3, 12, 12]],
    ['a custom graph', customGraph, [2, 6, 6]],
    ['a Newton-CGNet (fused two-output modules), float64', () => {
      const net = newtonCgNet([3, 8, 8], 3, { seed: 5, blocks: [1, 2, 1], width: 4, dtype: 'float64' });
      return new Model(net, { ownsNetwork: true });
    }, [3, 8, 8]],
  ];

  test.each(cases)('%s: save → load gives the same outputs, bit for bit', async (_name, make, shape) => {
    const model = make();
    const file = path.join(dir, 'm.ncnn');
    await model.save(file);
    const x = images(5, shape, 1);
    const before = model.outputs(x);
    const loaded = await loadModel(file);
    try {
      expect(Buffer.from(loaded.outputs(x).buffer).equals(Buffer.from(before.buffer))).toBe(true);
      expect(loaded.network.dtype).toBe(model.network.dtype);
      expect(loaded.network.name).toBe(model.network.name);
      expect(Buffer.from(loaded.network.getParameters().buffer).equals(Buffer.from(model.network.getParameters().buffer))).toBe(true);
      expect(Buffer.from(loaded.network.getBuffers().buffer).equals(Buffer.from(model.network.getBuffers().buffer))).toBe(true);
      expect(loaded.classNames).toEqual(model.classNames);
      expect(loaded.loss).toBe(model.loss);
      expect(loaded.preprocessing).toEqual(model.preprocessing);
      expect(loaded.network.toSpec()).toEqual(model.network.toSpec());
      expect(loaded.provenance.library).toMatch(/^\d+\.\d+\.\d+/);
      expect(Date.parse(loaded.provenance.createdAt ?? '')).toBeGreaterThan(0);
    } finally {
      loaded.dispose();
      model.dispose();
    }
  });

  test('a chain loads as a Sequential; provenance (training options, metrics) round-trips', async () => {
    const net = new Sequential([1, 4, 4], [L.flatten(), L.linear(3)], { name: 'tiny' });
    net.init('he-normal', { seed: 1 });
    const model = new Model(net, { provenance: { training: { optimizer: 'newton', C: 0.01 }, metrics: { testAccuracy: 0.5 } } });
    const file = path.join(dir, 'tiny.ncnn');
    await model.save(file);
    const loaded = await loadModel(file);
    expect(loaded.network).toBeInstanceOf(Sequential);
    expect(loaded.provenance.training).toEqual({ optimizer: 'newton', C: 0.01 });
    expect(loaded.provenance.metrics).toEqual({ testAccuracy: 0.5 });
    loaded.dispose();
    net.dispose();
  });

  describe('bad files are refused, naming the file and the problem', () => {
    let good: Buffer;
    let file: string;
    beforeEach(async () => {
      const model = customGraph();
      file = path.join(dir, 'good.ncnn');
      await model.save(file);
      model.dispose();
      good = fs.readFileSync(file);
    });

    const refuse = async (bytes: Buffer, re: RegExp): Promise<void> => {
      const bad = path.join(dir, 'bad.ncnn');
      fs.writeFileSync(bad, bytes);
      await expect(loadModel(bad)).rejects.toThrow(new RegExp(`^loadModel: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${re.source}`));
    };

    test('missing, a directory', async () => {
      await expect(loadModel(path.join(dir, 'nope.ncnn'))).rejects.toThrow(/nope\.ncnn: no such file/);
      await expect(loadModel(dir)).rejects.toThrow(/is a directory/);
    });
    test('a foreign file (a checkpoint, a PNG, text)', async () => {
      await refuse(Buffer.concat([Buffer.from('NCNNCKPT'), good.subarray(8)]), /not a newton-cnn model file \(magic "NCNNCKPT", expected "NCNNMODL"\)/);
      await refuse(Buffer.from('\x89PNG\r\n\x1a\n' + 'x'.repeat(100), 'latin1'), /not a newton-cnn model file/);
      await refuse(Buffer.from('hello'), /truncated: 5 bytes/);
    });
    test('truncated, extended', async () => {
      await refuse(good.subarray(0, good.length - 9), /truncated: \d+ bytes but the model file says \d+/);
      await refuse(Buffer.concat([good, Buffer.alloc(8)]), /trailing data/);
    });
    test('one flipped bit anywhere after the preamble', async () => {
      for (const at of [70, Math.floor(good.length / 2), good.length - 1]) {
        const bad = Buffer.from(good);
        bad[at] ^= 0x10;
        await refuse(bad, /checksum mismatch/);
      }
    });
    test('a newer format version', async () => {
      const bad = Buffer.from(good);
      bad.writeUInt32LE(7, 8);
      await refuse(bad, /unsupported model file version 7 \(this newton-cnn reads version 1; a newer version needs a newer newton-cnn\)/);
    });
    test('bytes read from elsewhere name their source', () => {
      expect(() => modelFromBytes(Buffer.from(MODEL_MAGIC), 'upload')).toThrow(/^loadModel: upload: truncated/);
    });
  });

  test('a failed save leaves the previous file whole and no temporary file', async () => {
    const model = customGraph();
    const file = path.join(dir, 'keep.ncnn');
    await model.save(file);
    const before = fs.readFileSync(file);
    await expect(model.save(dir)).rejects.toThrow(/^Model\.save: .*: is a directory/);
    await expect(model.save(path.join(dir, 'missing', 'x.ncnn'))).rejects.toThrow(/no such directory/);
    model.dispose();
    await expect(model.save(file)).rejects.toThrow(/disposed/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['keep.ncnn']);
  });

  test('bad options are refused by name', () => {
    const net = new Sequential([1, 2, 2], [L.flatten(), L.linear(3)]);
    expect(() => new Model(net, { classNames: ['a', 'b'] })).toThrow(/Model: classNames must be 3 non-empty strings/);
    expect(() => new Model(net, { preprocessing: { kind: 'paper', mean: new Float32Array(3) } })).toThrow(/Model: preprocessing.mean has length 3, expected 4/);
    expect(() => new Model(net, { preprocessing: { kind: 'channels', mean: Float32Array.of(0), std: Float32Array.of(-1) } })).toThrow(/std\[0\] is -1/);
    expect(() => new Model(net, { preprocessing: { kind: 'zca' } as unknown as Preprocessing })).toThrow(/preprocessing.kind must be one of none, paper, channels, got "zca"/);
    const model = new Model(net);
    expect(() => model.predict(new Float32Array(5))).toThrow(/Model.predict: images must hold whole images of shape \[1, 2, 2\] \(4 values each\), got 5 values/);
    expect(() => model.predict(new Float32Array(4), { topK: 0 })).toThrow(/options.topK must be a positive integer/);
    net.dispose();
  });
});

describe('Model.evaluate and Model.predict', () => {
  // z = W·x with x the 2 pixels of each image, W picks a hand-made output per example.
  function handModel(loss: 'squared' | 'cross-entropy'): Model {
    const net = new Sequential([1, 1, 2], [L.flatten(), L.linear(3, { bias: false })], { dtype: 'float64' });
    net.setParameters(Float64Array.of(1, 0, 0, 1, 0.5, 0.5)); // z = (x0, x1, (x0 + x1)/2)
    return new Model(net, { loss, classNames: ['zero', 'one', 'two'] });
  }
  const x = Float32Array.of(2, 0, 0, 3, 1, 1, 4, 0, 1, 2); // z rows: (2,0,1) (0,3,1.5) (1,1,1) (4,0,2) (1,2,1.5)
  const labels = Int32Array.of(0, 1, 2, 2, 1);

  test('accuracy, top-k, per-class accuracy, confusion, loss by hand', () => {
    for (const loss of ['squared', 'cross-entropy'] as const) {
      const model = handModel(loss);
      const e = model.evaluate(createDataset({ name: 'hand', images: x, labels, shape: [1, 1, 2], classes: 3 }));
      // predictions: 0, 1, 0 (ties → first), 0, 1
      expect(e.count).toBe(5);
      expect(e.accuracy).toBeCloseTo(3 / 5, 15);
      expect(e.topK).toBe(3);
      expect(e.topKAccuracy).toBe(1);
      expect(e.confusion).toEqual([[1, 0, 0], [0, 2, 0], [2, 0, 0]]);
      expect(e.support).toEqual([1, 2, 2]);
      expect(e.perClassAccuracy).toEqual([1, 1, 0]);
      const z = [[2, 0, 1], [0, 3, 1.5], [1, 1, 1], [4, 0, 2], [1, 2, 1.5]];
      const expected = z.map((row, i) => {
        if (loss === 'squared') return row.reduce((a, v, j) => a + (v - (j === labels[i] ? 1 : 0)) ** 2, 0);
        return Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) - row[labels[i]];
      });
      expect(e.loss).toBeCloseTo(expected.reduce((a, b) => a + b) / 5, 12);
      model.network.dispose();
    }
  });

  test('labels outside the classes are refused', () => {
    const model = handModel('squared');
    const ds = createDataset({ name: 'wide', images: x, labels: Int32Array.of(0, 1, 2, 3, 1), shape: [1, 1, 2], classes: 4 });
    expect(() => model.evaluate(ds)).toThrow(/Model.evaluate: 'wide' label 3 is 3 but the model has 3 classes/);
    model.network.dispose();
  });

  test('top-k with softmax probabilities, most likely first', () => {
    const model = handModel('cross-entropy');
    const [p] = model.predict(x.subarray(0, 2), { topK: 2 });
    const e = [Math.exp(2), Math.exp(0), Math.exp(1)];
    const sum = e[0] + e[1] + e[2];
    expect(p.index).toBe(0);
    expect(p.name).toBe('zero');
    expect(p.top.map((t) => t.name)).toEqual(['zero', 'two']);
    expect(p.top[0].probability).toBeCloseTo(e[0] / sum, 15);
    expect(p.top[1].probability).toBeCloseTo(e[2] / sum, 15);
    expect(p.top[1].score).toBe(1);
    model.network.dispose();
  });

  test('the paper preprocessing is applied to raw images before the network', () => {
    const raw = createDataset({ name: 'raw', images: images(6, [1, 28, 28], 2), labels: new Int32Array(6), shape: [1, 28, 28], classes: 10 });
    const { train, mean } = paperPreprocess(raw, raw);
    const net = cnn3([1, 28, 28], 10, { seed: 4 });
    const model = new Model(net, { preprocessing: { kind: 'paper', mean } });
    expect(model.outputs(raw)).toEqual(model.outputs(train, { preprocessed: true }));
    net.dispose();
  });
});

function sharpInstalled(): boolean {
  try {
    require.resolve('sharp');
    return true;
  } catch {
    return false;
  }
}
// sharp writes the test images; the native decoders read them
const withSharp = sharpInstalled() && imageDecodingAvailable() ? describe : describe.skip;
withSharp('predict on PNG and JPEG files (written by sharp, read by the native decoders)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sharp = require('sharp') as (input: Buffer, options: { raw: { width: number; height: number; channels: number } }) => { png(): { toFile(f: string): Promise<unknown> }; jpeg(o: { quality: number }): { toFile(f: string): Promise<unknown> } };

  async function writeImage(file: string, chw: Float32Array, [c, h, w]: readonly [number, number, number], kind: 'png' | 'jpeg'): Promise<void> {
    const hwc = Buffer.alloc(c * h * w);
    for (let k = 0; k < h * w; k++) for (let ch = 0; ch < c; ch++) hwc[k * c + ch] = chw[ch * h * w + k];
    const img = sharp(hwc, { raw: { width: w, height: h, channels: c } });
    await (kind === 'png' ? img.png() : img.jpeg({ quality: 95 })).toFile(file);
  }

  test('a PNG decodes to its exact pixels, in CHW order, for 1 and 3 channels', async () => {
    for (const shape of [[1, 5, 7], [3, 4, 6]] as const) {
      const px = images(1, shape, 7);
      const file = path.join(dir, `img${shape[0]}.png`);
      await writeImage(file, px, shape, 'png');
      expect(await readImageFile(file, shape)).toEqual(px);
    }
  });

  test('predictions on PNG/JPEG files equal those on their pixels', async () => {
    const shape = [1, 28, 28] as const;
    const net = cnn3(shape, 10, { seed: 8 });
    const mean = new Float32Array(784).fill(0.5);
    const model = new Model(net, { preprocessing: { kind: 'paper', mean } });
    const px = images(1, shape, 3);
    const png = path.join(dir, 'x.png');
    const jpg = path.join(dir, 'x.jpg');
    await writeImage(png, px, shape, 'png');
    await writeImage(jpg, px, shape, 'jpeg');
    expect(model.predict(await readImageFile(png, shape))).toEqual(model.predict(px));
    const fromJpeg = await readImageFile(jpg, shape);
    const maxError = fromJpeg.reduce((a, v, i) => Math.max(a, Math.abs(v - px[i])), 0);
    expect(maxError).toBeLessThan(40); // lossy, but the same picture
    expect(model.predict(fromJpeg)[0].top).toHaveLength(5);
    net.dispose();
  });

  test('wrong size, truncated, foreign files: DataFileError naming the file', async () => {
    const shape = [3, 8, 8] as const;
    const png = path.join(dir, 'big.png');
    await writeImage(png, images(1, [3, 10, 12], 1), [3, 10, 12], 'png');
    await expect(readImageFile(png, shape)).rejects.toThrow(/big\.png: the image is 12×10 but the model takes 8×8/);
    expect((await readImageFile(png, shape, { resize: true })).length).toBe(3 * 8 * 8);
    const cut = path.join(dir, 'cut.png');
    fs.writeFileSync(cut, fs.readFileSync(png).subarray(0, 60));
    await expect(readImageFile(cut, shape)).rejects.toThrow(/^readImageFile: .*cut\.png: /);
    const text = path.join(dir, 'notes.png');
    fs.writeFileSync(text, 'not an image');
    await expect(readImageFile(text, shape)).rejects.toThrow(/notes\.png: /);
    await expect(readImageFile(path.join(dir, 'none.png'), shape)).rejects.toThrow(/none\.png: no such file/);
  });
});

describe('the README example ("Using a trained model")', () => {
  test('trains, saves, loads, predicts, evaluates and exports', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { cnn3: build, data, loadModel: load, Model: M, nn, trainSgd } = require('../lib') as typeof import('../lib');
    const raw = await data.loadDataset('fashion-mnist-small');
    const { train, mean } = data.paperPreprocess(data.subset(raw.train, Int32Array.from({ length: 256 }, (_, i) => i)), raw.test);
    const net = build(train.shape, train.classes, { seed: 0 });
    await trainSgd(net, train, { epochs: 1, loss: nn.squaredLoss, sgd: { learningRate: 0.003, C: 0.01 } });
    const model = new M(net, { preprocessing: { kind: 'paper', mean }, classNames: raw.classNames, loss: 'squared' });
    await model.save(path.join(dir, 'model.ncnn'));
    const again = await load(path.join(dir, 'model.ncnn'));
    const [first] = again.predict(raw.test.images.subarray(0, 784));
    expect(again.classNames).toContain(first.name);
    expect(first.top.map((t) => t.name)).toHaveLength(5);
    expect(again.evaluate(raw.test).accuracy).toBe(model.evaluate(raw.test).accuracy);
    await again.exportOnnx(path.join(dir, 'model.onnx'));
    expect(fs.existsSync(path.join(dir, 'model.onnx'))).toBe(true);
    again.dispose();
    net.dispose();
  });
});
