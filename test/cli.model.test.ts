// The model commands end to end: `train --save` (SGD and Newton) writes a model that `evaluate`
// scores exactly as train did, `predict` classifies data records and PNG files with it, and
// `export` writes an ONNX file; bad usage is refused by name.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { main } from '../lib/cli';
import { parseConditionArgs } from '../lib/cli/condition-args';
import { parseEvaluateArgs, parsePredictArgs } from '../lib/cli/model-args';
import { parseSpectrumArgs } from '../lib/cli/spectrum-args';
import { loadDataset } from '../lib/data';
import { imageDecodingAvailable } from '../lib/data/image-files';
import { loadModel } from '../lib/model';
import { fakeIo, NEWTON_TINY, TINY } from './cli.helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cli-model-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const { io, out, err } = fakeIo(dir);
  const code = await main(argv, io);
  return { code, out: out.text, err: err.text };
}

describe('train --save, then evaluate / predict / export', () => {
  let trainAccuracy: number;
  beforeAll(async () => {
    const r = await run(['train', ...TINY, '--epochs', '1', '--save', 'sgd.ncnn']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`model: ${path.join(dir, 'sgd.ncnn').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    trainAccuracy = Number(/test accuracy: ([\d.]+)/.exec(r.out)?.[1]);
  });

  test('the model file carries the paper preprocessing, Fashion-MNIST class names and the run', async () => {
    const m = await loadModel(path.join(dir, 'sgd.ncnn'));
    expect(m.preprocessing.kind).toBe('paper');
    expect(m.classNames[0]).toBe('T-shirt/top');
    expect(m.classNames[9]).toBe('Ankle boot');
    expect(m.provenance.training?.optimizer).toBe('sgd');
    expect(m.provenance.metrics?.testAccuracy).toBeCloseTo(trainAccuracy, 4);
    m.dispose();
  });

  test('evaluate on the same test images gives train\'s test accuracy', async () => {
    const r = await run(['evaluate', '--model', 'sgd.ncnn', '--data', 'fashion-mnist-small', '--limit', '128', '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.out) as { count: number; accuracy: number; confusion: number[][]; perClassAccuracy: number[]; topKAccuracy: number };
    expect(e.count).toBe(128);
    expect(e.accuracy).toBeCloseTo(trainAccuracy, 4);
    expect(e.confusion.flat().reduce((a, b) => a + b, 0)).toBe(128);
    expect(e.topKAccuracy).toBeGreaterThanOrEqual(e.accuracy);
    const text = await run(['evaluate', '--model', 'sgd.ncnn', '--data', 'fashion-mnist-small', '--limit', '128']);
    expect(text.out).toMatch(/accuracy: [\d.]+%/);
    expect(text.out).toMatch(/confusion matrix/);
    expect(text.out).toMatch(/Ankle boot/);
  });

  test('predict on data records: the top classes, best first', async () => {
    const r = await run(['predict', '--model', 'sgd.ncnn', '--data', 'fashion-mnist-small', '--limit', '4', '--top', '3', '--json']);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.out) as { source: string; top: { index: number; name: string; score: number }[] }[];
    expect(p).toHaveLength(4);
    expect(p[0].source).toBe('fashion-mnist-small/test#0');
    for (const row of p) {
      expect(row.top).toHaveLength(3);
      expect(row.top[0].score).toBeGreaterThanOrEqual(row.top[1].score);
    }
  });

  // sharp writes the PNG files, the native decoders read them
  const canWrite = ((): boolean => {
    try {
      require.resolve('sharp');
      return imageDecodingAvailable();
    } catch {
      return false;
    }
  })();
  (canWrite ? test : test.skip)('predict on PNG files equals predict on the same records', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sharp = require('sharp') as (b: Buffer, o: { raw: { width: number; height: number; channels: number } }) => { png(): { toFile(f: string): Promise<unknown> } };
    const { test: images } = await loadDataset('fashion-mnist-small');
    for (let i = 0; i < 2; i++) {
      const px = Buffer.from(images.images.subarray(i * 784, (i + 1) * 784));
      await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(path.join(dir, `img${i}.png`));
    }
    const fromFiles = await run(['predict', '--model', 'sgd.ncnn', 'img0.png', 'img1.png', '--json']);
    const fromData = await run(['predict', '--model', 'sgd.ncnn', '--data', 'fashion-mnist-small', '--limit', '2', '--json']);
    expect(fromFiles.code).toBe(0);
    const a = JSON.parse(fromFiles.out) as { source: string; top: unknown[] }[];
    const b = JSON.parse(fromData.out) as { source: string; top: unknown[] }[];
    expect(a.map((x) => x.top)).toEqual(b.map((x) => x.top));
    expect(a[0].source).toBe(path.join(dir, 'img0.png'));
  });

  test('export writes an ONNX file', async () => {
    const r = await run(['export', '--model', 'sgd.ncnn', '--onnx', 'sgd.onnx']);
    expect(r.code).toBe(0);
    expect(fs.statSync(path.join(dir, 'sgd.onnx')).size).toBeGreaterThan(240000);
    expect(r.out).toMatch(/opset 17/);
  });

  test('with --checkpoint run.ckpt and no --save the model goes next to it, run.ncnn', async () => {
    const r = await run(['train', ...TINY, '--epochs', '1', '--checkpoint', 'run.ckpt']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^model: .*run\.ncnn$/m);
    const m = await loadModel(path.join(dir, 'run.ncnn'));
    expect(m.network.name).toBe('cnn3');
    m.dispose();
  });

  test('a Newton run saves its model too', async () => {
    const r = await run(['train', ...NEWTON_TINY, '--iterations', '1', '--save', 'newton.ncnn', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { modelFile: string; testAccuracy: number };
    expect(out.modelFile).toBe(path.join(dir, 'newton.ncnn'));
    const e = await run(['evaluate', '--model', 'newton.ncnn', '--data', 'fashion-mnist-small', '--limit', '128', '--json']);
    expect((JSON.parse(e.out) as { accuracy: number }).accuracy).toBeCloseTo(out.testAccuracy, 4);
  });
});

describe('bad usage of the model commands', () => {
  test.each([
    [['predict'], /--model is required/],
    [['predict', '--model', 'nope.ncnn', 'x.png'], /--model: nope\.ncnn: no such file/],
    [['evaluate', '--model', '.'], /--model: \. is a directory/],
    [['export', '--model', 'nope.ncnn', '--onnx', 'x.onnx'], /no such file/],
    [['train', '--save', 'missing-dir/m.ncnn', ...TINY, '--epochs', '1'], /--save/],
    [['train', '--save', 'a.ncnn', '--save', 'b.ncnn'], /--save is given twice/],
  ])('%j', async (argv, re) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(re);
  });

  test('a file that is not a model: an error naming it, exit 1', async () => {
    fs.writeFileSync(path.join(dir, 'fake.ncnn'), 'not a model');
    const r = await run(['evaluate', '--model', 'fake.ncnn', '--data', 'fashion-mnist-small']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/loadModel: .*fake\.ncnn: truncated/);
  });

  test('evaluate without --data, predict with nothing to predict', async () => {
    fs.writeFileSync(path.join(dir, 'any.ncnn'), 'x');
    expect((await run(['evaluate', '--model', 'any.ncnn'])).err).toMatch(/--data is required/);
    expect((await run(['predict', '--model', 'any.ncnn'])).err).toMatch(/give image files \(PNG\/JPEG\) to predict on, or --data/);
  });
});

describe('the data options of SVHN and CIFAR-100 reach every command that reads data', () => {
  test('predict, evaluate, spectrum and condition pass --svhn-extra / --cifar-labels to the loader', () => {
    fs.writeFileSync(path.join(dir, 'm.ncnn'), 'x');
    const e = parseEvaluateArgs(['--model', 'm.ncnn', '--data', dir, '--format', 'svhn', '--svhn-extra'], dir);
    expect(e?.data).toMatchObject({ format: 'svhn', svhnExtra: true });
    const p = parsePredictArgs(['--model', 'm.ncnn', '--data', dir, '--cifar-labels', 'coarse'], dir);
    expect(p?.data).toMatchObject({ cifarLabels: 'coarse' });
    fs.writeFileSync(path.join(dir, 'x.png'), '');
    expect(() => parsePredictArgs(['--model', 'm.ncnn', 'x.png', '--svhn-extra'], dir)).toThrow(/--svhn-extra describes --data, which is not given/);
    expect(() => parseEvaluateArgs(['--model', 'm.ncnn', '--data', dir, '--cifar-labels', 'medium'], dir)).toThrow(/--cifar-labels/);
    expect(parseSpectrumArgs(['--model', 'cnn3', '--top', '1', '--data', dir, '--svhn-extra', '--cifar-labels', 'coarse'], dir)).toMatchObject({ svhnExtra: true, cifarLabels: 'coarse' });
    expect(parseConditionArgs(['--data', dir, '--cifar-labels', 'coarse'], dir)).toMatchObject({ cifarLabels: 'coarse' });
  });
});
