// ONNX export: onnxruntime-node runs the exported file with our outputs to float32 rounding, for
// cnn3, ResNet-20 (with batch-norm running statistics), a Newton-ResNet and a Newton-CGNet (the
// fused blocks as sub-graphs) and a custom graph with every other module kind; the metadata
// carries the preprocessing and class names; a kind without a mapping is refused by name.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cifarResNet, cnn3, GraphBuilder, newtonCgNet, newtonResnet, type Network } from '../lib/nn';
import * as L from '../lib/nn/layers';
import { Tensor } from '../lib/tensor';
import { Model, ONNX_EXPORTABLE_KINDS, ONNX_OPSET } from '../lib/model';
import { onnxMapping } from '../lib/model/onnx/export';
import { onnxType } from '../lib/model/onnx/schema';
import { MODULE_KINDS } from '../lib/nn/modules/build';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-onnx-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function inputs(n: number, shape: readonly number[]): Float32Array {
  return new Float32Array(n * shape[0] * shape[1] * shape[2]).map((_, i) => Math.sin(i * 0.37) + 0.3 * Math.cos(i * 1.9));
}

/** The output of `file` on x (n, C, H, W) under onnxruntime-node (test/fixtures/onnx-run.js). */
function runOnnx(file: string, x: Float32Array, shape: readonly number[]): { dims: number[]; data: number[] } {
  const input = `${file}.input`;
  fs.writeFileSync(input, Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const out = execFileSync(process.execPath, [path.join(__dirname, 'fixtures', 'onnx-run.js'), file, input, ...shape.map(String)], { encoding: 'utf8' });
  return JSON.parse(out) as { dims: number[]; data: number[] };
}

function withRunningStatistics(net: Network): Network {
  const [c, h, w] = net.inputShape;
  const x = Tensor.from(inputs(8, net.inputShape).map((v) => 2 * v + 0.5), { shape: [8, c, h, w] });
  for (let i = 0; i < 3; i++) net.forward(x, { training: true, updateStatistics: true }).dispose();
  net.releaseCache();
  x.dispose();
  return net;
}

function everyKind(): Network {
  // the kinds the builders below do not use: maxPool2d with padding, avgPool2d, mul, concat, scale,
  // constantScale, tanh, identity, dropout, batchNorm2d without affine, linear without bias
  const g = new GraphBuilder([3, 9, 9], 'every-kind');
  const a = g.chain(g.input, [L.conv2d(4, 3, { padding: 1, bias: false }), L.batchNorm2d({ affine: false }), L.maxPool2d(3, { stride: 2, padding: 1 })]);
  const b = g.chain(g.input, [L.conv2d(4, 3, { stride: 2, padding: 1 }), L.tanh(), L.identity()]);
  const m = g.add(L.mul(), [a, g.add(L.scale(0.7), b)]);
  const cat = g.add(L.concat(), [m, g.add(L.constantScale(-1.5), a)]);
  const out = g.chain(cat, [L.avgPool2d(3, { stride: 1, padding: 1 }), L.dropout(0.5), L.flatten(), L.linear(6, { bias: false })]);
  const net = g.build(out);
  net.init('he-normal', { seed: 11 });
  return withRunningStatistics(net);
}

const networks: [string, () => Network][] = [
  ['cnn3', () => cnn3([1, 28, 28], 10, { seed: 1 })],
  ['ResNet-20', () => withRunningStatistics(cifarResNet(20, [3, 32, 32], 10, { seed: 2 }))],
  ['Newton-ResNet (fused residuals, tanh second-order term)', () => withRunningStatistics(newtonResnet([3, 16, 16], 10, { seed: 3, blocks: [1, 1], width: 8, secondOrderActivation: 'tanh' }))],
  ['Newton-CGNet (fused CG blocks, two outputs)', () => withRunningStatistics(newtonCgNet([3, 16, 16], 10, { seed: 4, blocks: [1, 2, 1], width: 4 }))],
  ['every other module kind', everyKind],
];

describe('ONNX export, run by onnxruntime-node', () => {
  test.each(networks)('%s: the same outputs to float32 rounding', async (name, make) => {
    const net = make();
    const model = new Model(net, { ownsNetwork: true });
    const file = path.join(dir, `${name.split(' ')[0]}.onnx`);
    await model.exportOnnx(file);
    const [c, h, w] = net.inputShape;
    const n = 3;
    const x = inputs(n, net.inputShape);
    const ours = model.outputs(x, { preprocessed: true });
    const result = runOnnx(file, x, [n, c, h, w]);
    const theirs = result.data;
    expect(result.dims).toEqual([n, net.outputSize]);
    const scale = ours.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    for (let i = 0; i < ours.length; i++) expect(Math.abs(theirs[i] - ours[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
    model.dispose();
  });

  test('opset, producer and metadata (preprocessing, class names, loss)', async () => {
    const net = cnn3([1, 28, 28], 3, { seed: 1 });
    const mean = new Float32Array(784).map((_, i) => i / 784);
    const model = new Model(net, { ownsNetwork: true, classNames: ['cat', 'dog', 'bird'], preprocessing: { kind: 'paper', mean }, loss: 'cross-entropy' });
    const file = path.join(dir, 'meta.onnx');
    await model.exportOnnx(file);
    const decoded = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(fs.readFileSync(file)), { longs: Number }) as {
      opsetImport: { version: number }[];
      producerName: string;
      metadataProps: { key: string; value: string }[];
      graph: { input: { name: string }[]; output: { name: string }[] };
    };
    expect(decoded.opsetImport[0].version).toBe(ONNX_OPSET);
    expect(decoded.producerName).toBe('newton-cnn');
    const meta = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta['newton-cnn.classNames'])).toEqual(['cat', 'dog', 'bird']);
    const pre = JSON.parse(meta['newton-cnn.preprocessing']) as { kind: string; mean: number[] };
    expect(pre.kind).toBe('paper');
    expect(Float32Array.from(pre.mean)).toEqual(mean);
    expect(meta['newton-cnn.loss']).toBe('cross-entropy');
    expect(decoded.graph.input[0].name).toBe('input');
    expect(decoded.graph.output[0].name).toBe('output');
    model.dispose();
  });

  test('every module kind has a mapping; an unknown kind is refused by name', () => {
    expect([...ONNX_EXPORTABLE_KINDS].sort()).toEqual([...MODULE_KINDS].sort());
    expect(() => onnxMapping('attention', 7)).toThrow(/^exportOnnx: node 7 is a 'attention' module, which has no ONNX mapping \(exportable: conv2d, /);
  });

  test('an unwritable destination is refused and leaves nothing behind', async () => {
    const net = cnn3([1, 28, 28], 10, { seed: 1 });
    const model = new Model(net, { ownsNetwork: true });
    await expect(model.exportOnnx(dir)).rejects.toThrow(/^Model\.exportOnnx: .*: is a directory/);
    await expect(model.exportOnnx(path.join(dir, 'no', 'x.onnx'))).rejects.toThrow(/no such directory/);
    model.dispose();
  });
});
