// Network gradients against central finite differences in float64: the directional derivative
// ⟨∇_θ L, v⟩ along random directions v, with L = Σ_i ξ(z_i; y_i) from model.backward, and the
// full objective gradient ∇f = θ/Cl + (1/l)Σ∇ξ from evaluateObjective.
//
// Tolerance: h = 1e-6 with O(1) values: truncation O(h²) ≈ 1e-12, rounding ≈ 1e-16·|L|/h ≈ 1e-10;
// ReLU kinks and max-pool ties are not crossed by a 1e-6 step on random data (a crossing would
// show as an O(1) error, not a small one). rtol 1e-6 of max(1, |derivative|).
import { Tensor } from '../lib';
import { createDataset } from '../lib/data';
import {
  avgPool2d,
  cnn3,
  cnn5,
  conv2d,
  crossEntropyLoss,
  dropout,
  flatten,
  linear,
  maxPool2d,
  relu,
  Sequential,
  squaredLoss,
  type Loss,
} from '../lib/nn';
import { evaluateObjective } from '../lib/train';
import { dotF64, f64, prng, randData } from './helpers';

const H = 1e-6;
const RTOL = 1e-6;

function oneHot(labels: number[], k: number): Float64Array {
  const y = new Float64Array(labels.length * k);
  labels.forEach((c, i) => (y[i * k + c] = 1));
  return y;
}

function lossAt(model: Sequential, theta: Float64Array, x: Tensor, y: Tensor, loss: Loss, noiseSeed?: number): number {
  model.setParameters(theta);
  const z = model.forward(x, noiseSeed === undefined ? {} : { training: true, noiseSeed });
  const v = loss.value(z, y);
  z.dispose();
  model.releaseCache();
  return v;
}

function expectDirectional(what: string, analytic: number, fd: number): void {
  const lim = RTOL * Math.max(1, Math.abs(fd), Math.abs(analytic));
  if (!(Math.abs(analytic - fd) <= lim)) {
    throw new Error(`${what}: ⟨∇, v⟩ = ${analytic} but central differences give ${fd} (|diff| ${Math.abs(analytic - fd)} > ${lim})`);
  }
}

function checkNetwork(model: Sequential, batch: number, loss: Loss, seed: number, noiseSeed?: number): void {
  const [C, Hh, W] = model.inputShape;
  const K = model.outputSize;
  const x = Tensor.from(randData(batch * C * Hh * W, seed), { shape: [batch, C, Hh, W] });
  const r = prng(seed + 1);
  const y = Tensor.from(oneHot(Array.from({ length: batch }, () => Math.floor(r() * K)), K), { shape: [batch, K] });
  const theta = Float64Array.from(model.getParameters());
  // gradient at θ
  model.setParameters(theta);
  const z = model.forward(x, noiseSeed === undefined ? {} : { training: true, noiseSeed });
  const dz = loss.gradient(z, y);
  const dx = model.backward(dz, { inputGradient: true })!;
  const g = f64(model.gradient);
  const gx = f64(dx);
  for (const t of [z, dz, dx]) t.dispose();
  // θ directions: one over all of θ, one per parameterised layer (so a wrong layer cannot hide)
  const dirs: { name: string; v: Float64Array }[] = [{ name: 'all of θ', v: randData(theta.length, seed + 2) }];
  for (const l of model.layers()) {
    for (const slot of [l.weight, l.bias]) {
      if (!slot) continue;
      const v = new Float64Array(theta.length);
      v.set(randData(slot.size, seed + 10 + slot.offset), slot.offset);
      dirs.push({ name: `layer ${l.index} (${l.kind}) ${slot === l.weight ? 'weight' : 'bias'}`, v });
    }
  }
  for (const { name, v } of dirs) {
    const fd = (lossAt(model, theta.map((t, i) => t + H * v[i]), x, y, loss, noiseSeed) - lossAt(model, theta.map((t, i) => t - H * v[i]), x, y, loss, noiseSeed)) / (2 * H);
    expectDirectional(name, dotF64(g, v), fd);
  }
  // input direction
  model.setParameters(theta);
  const xv = randData(x.size, seed + 3);
  const xs = f64(x);
  const at = (sign: number): number => {
    const xt = Tensor.from(xs.map((e, i) => e + sign * H * xv[i]), { shape: x.shape });
    const v = lossAt(model, theta, xt, y, loss, noiseSeed);
    xt.dispose();
    return v;
  };
  expectDirectional('input x', dotF64(gx, xv), (at(1) - at(-1)) / (2 * H));
  x.dispose();
  y.dispose();
}

describe('network gradient vs finite differences (float64)', () => {
  test.each([
    ['squared', squaredLoss],
    ['cross-entropy', crossEntropyLoss],
  ] as const)('cnn3 on 1x8x8, batch 3, %s loss', (_n, loss) => {
    const m = cnn3([1, 8, 8], 4, { dtype: 'float64', seed: 11 });
    checkNetwork(m, 3, loss, 100);
    m.dispose();
  });

  test.each([
    ['squared', squaredLoss],
    ['cross-entropy', crossEntropyLoss],
  ] as const)('cnn5 on 3x8x8, batch 2, %s loss', (_n, loss) => {
    const m = cnn5([3, 8, 8], 3, { dtype: 'float64', seed: 12 });
    checkNetwork(m, 2, loss, 200);
    m.dispose();
  });

  test('cnn3 on an odd-sized 2x11x9 input, batch 2', () => {
    const m = cnn3([2, 11, 9], 5, { dtype: 'float64', seed: 13 });
    checkNetwork(m, 2, squaredLoss, 300);
    m.dispose();
  });

  test('every layer kind: strided conv without bias, avg pool, dropout (training, fixed mask), linear without bias', () => {
    const m = new Sequential(
      [2, 9, 9],
      [conv2d(3, 3, { padding: 1 }), relu(), maxPool2d(2), conv2d(4, 2, { stride: 2, bias: false }), avgPool2d(2), flatten(), dropout(0.3), linear(6), relu(), linear(3, { bias: false })],
      { dtype: 'float64' },
    );
    m.init('xavier', { seed: 4 });
    checkNetwork(m, 3, crossEntropyLoss, 400, 99);
    m.dispose();
  });
});

describe('objective gradient vs finite differences (float64)', () => {
  test('∇f = θ/Cl + (1/l)Σ∇ξ over several mini-batches (l = 7, batch 3)', () => {
    const l = 7;
    const r = prng(5);
    const images = Float32Array.from(randData(l * 64, 500));
    const data = createDataset({ name: 'fd', images, labels: Int32Array.from({ length: l }, () => Math.floor(r() * 3)), shape: [1, 8, 8], classes: 3 });
    const m = cnn3([1, 8, 8], 3, { dtype: 'float64', seed: 21 });
    const opts = { C: 0.5, loss: squaredLoss, batchSize: 3 };
    const theta = Float64Array.from(m.getParameters());
    const res = evaluateObjective(m, data, { ...opts, gradient: true });
    const g = f64(res.gradient!);
    res.gradient!.dispose();
    const v = randData(theta.length, 501);
    const f = (t: Float64Array): number => {
      m.setParameters(t);
      return evaluateObjective(m, data, opts).value;
    };
    const fd = (f(theta.map((t, i) => t + H * v[i])) - f(theta.map((t, i) => t - H * v[i]))) / (2 * H);
    expectDirectional('objective', dotF64(g, v), fd);
    m.dispose();
  });
});
