// Golden values of cnn3 and cnn5: z, ∇Σξ, Jv, Jᵀu, Gv (both modes), Hv, three SGD steps and
// two Newton iterations, bit for bit, as computed by the Sequential of commit a2d7c67 (before
// networks became graphs of modules). The network core may be rewritten; its results may not
// change. Each value is stored as the SHA-256 of its bytes (plus a few leading elements and the
// sum, to see what went wrong when a hash differs).
//
// The built-in GEMM is used: OpenBLAS picks its kernels by processor at run time, so its bits
// differ between machines, while the built-in kernel's are fixed by the compiled code. Likewise
// the built-in convolutions (im2col + that GEMM), not oneDNN's, whose JIT kernels and thread
// splits are chosen at run time (test/conv.onednn.test.ts holds oneDNN to the built-in path
// within rounding). A build
// with other floating-point code generation (e.g. -march with FMA contraction) changes them;
// regenerate with `GOLDEN_CAPTURE=1 npx jest test/golden.cnn` and say why in the commit.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { getConvImplementation, getGemmImplementation, randomNormal, setConvImplementation, setGemmImplementation, Tensor } from '../lib';
import { createDataset, type Dataset } from '../lib/data';
import { cnn3, cnn5, crossEntropyLoss, squaredLoss, type Loss, type Sequential } from '../lib/nn';
import { trainNewton, trainSgd } from '../lib/train';
import { prng } from './helpers';

const FILE = path.join(__dirname, 'golden', 'cnn-golden.json');
const CAPTURE = process.env.GOLDEN_CAPTURE === '1';

interface Value {
  sha256: string;
  head: number[];
  sum: number;
}
type Golden = Record<string, Value | number[]>;

function record(a: Float32Array | Float64Array): Value {
  const bytes = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  let sum = 0;
  for (const x of a) sum += x;
  return { sha256: createHash('sha256').update(bytes).digest('hex'), head: Array.from(a.subarray(0, 4)), sum };
}

function values(t: Tensor): Value {
  const r = record(t.toArray() as Float32Array | Float64Array);
  t.dispose();
  return r;
}

function oneHot(n: number, k: number, seed: number, dtype: 'float32' | 'float64'): Tensor {
  const r = prng(seed);
  const y = new Float64Array(n * k);
  for (let i = 0; i < n; i++) y[i * k + Math.floor(r() * k)] = 1;
  return Tensor.from(dtype === 'float32' ? Float32Array.from(y) : y, { shape: [n, k], dtype });
}

// The products of one network on one batch.
function products(name: string, model: Sequential, loss: Loss, out: Golden): void {
  const [c, h, w] = model.inputShape;
  const n = 5;
  const dtype = model.dtype;
  const x = randomNormal([n, c, h, w], { seed: 7, dtype });
  const y = oneHot(n, model.outputSize, 8, dtype);
  const v = randomNormal([model.numParameters], { seed: 9, dtype, std: 0.1 });
  const u = randomNormal([n, model.outputSize], { seed: 10, dtype });
  const z = model.forward(x);
  out[`${name}.z`] = record(z.toArray() as Float32Array | Float64Array);
  const dz = loss.gradient(z, y);
  model.backward(dz);
  out[`${name}.gradient`] = record(model.gradient.toArray() as Float32Array | Float64Array);
  out[`${name}.jv`] = values(model.jvp(v));
  out[`${name}.vjp`] = values(model.vjp(u));
  const gn = { loss, lambda: 0.5, C: 0.01, trainSize: 1000 };
  out[`${name}.gv.rop`] = values(model.gaussNewtonProduct(v, gn));
  out[`${name}.gv.stored`] = values(model.gaussNewtonProduct(v, { ...gn, mode: 'stored' }));
  out[`${name}.hv`] = values(model.hessianProduct(v, { loss, y, C: 0.01, trainSize: 1000 }));
  for (const t of [x, y, v, u, z, dz]) t.dispose();
  model.releaseCache();
}

function dataset(shape: readonly [number, number, number], n: number, classes: number, seed: number): Dataset {
  const size = shape[0] * shape[1] * shape[2];
  const r = prng(seed);
  const images = Float32Array.from({ length: n * size }, () => r() * 2 - 1);
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  return createDataset({ name: 'golden', images, labels, shape, classes });
}

async function training(name: string, make: () => Sequential, data: Dataset, loss: Loss, out: Golden): Promise<void> {
  const sgdModel = make();
  await trainSgd(sgdModel, data, { epochs: 1, batchSize: 16, seed: 3, loss, evaluateEvery: 'never', sgd: { learningRate: 0.01 } });
  out[`${name}.sgd.theta`] = record(sgdModel.getParameters());
  sgdModel.dispose();

  const model = make();
  const its: number[] = [];
  await trainNewton(model, data, {
    iterations: 2,
    loss,
    batchSize: 16,
    seed: 4,
    evaluateEvery: 0,
    newton: { samplingRate: 0.5, cgMaxIterations: 6 },
    onIteration: (it) => its.push(it.objective, it.cgSteps, it.stepSize, it.nextLambda),
  });
  out[`${name}.newton.theta`] = record(model.getParameters());
  out[`${name}.newton.iterations`] = its;
  model.dispose();
}

async function compute(): Promise<Golden> {
  const out: Golden = {};
  const shape3: [number, number, number] = [1, 12, 10];
  const shape5: [number, number, number] = [3, 9, 11];
  for (const dtype of ['float32', 'float64'] as const) {
    products(`cnn3.${dtype}.squared`, cnn3(shape3, 4, { seed: 1, dtype }), squaredLoss, out);
    products(`cnn3.${dtype}.cross-entropy`, cnn3(shape3, 4, { seed: 1, dtype }), crossEntropyLoss, out);
    products(`cnn5.${dtype}.squared`, cnn5(shape5, 3, { seed: 2, dtype }), squaredLoss, out);
  }
  await training('cnn3.float32', () => cnn3(shape3, 4, { seed: 5 }), dataset(shape3, 48, 4, 11), squaredLoss, out);
  await training('cnn5.float32', () => cnn5(shape5, 3, { seed: 6 }), dataset(shape5, 36, 3, 12), crossEntropyLoss, out);
  return out;
}

test('cnn3 / cnn5: z, gradient, Jv, Jᵀu, Gv, Hv, SGD and Newton iterates equal the golden values bit for bit', async () => {
  const before = getGemmImplementation();
  const beforeConv = getConvImplementation();
  setGemmImplementation('builtin');
  setConvImplementation('builtin');
  let got: Golden;
  try {
    got = await compute();
  } finally {
    setGemmImplementation(before);
    setConvImplementation(beforeConv);
  }
  if (CAPTURE) {
    fs.mkdirSync(path.dirname(FILE), { recursive: true });
    fs.writeFileSync(FILE, JSON.stringify(got, null, 1) + '\n');
  }
  const want = JSON.parse(fs.readFileSync(FILE, 'utf8')) as Golden;
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const key of Object.keys(want)) expect({ key, value: got[key] }).toEqual({ key, value: want[key] });
}, 120_000);
