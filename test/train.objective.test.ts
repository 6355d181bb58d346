// evaluateObjective: f(θ) = ‖θ‖²/(2·Cl) + (1/l)Σ ξ_i (Cl = C·l), its gradient θ/Cl + (1/l)Σ∇ξ_i,
// against a hand computation on a linear model, and its argument checks.
import { createDataset } from '../lib/data';
import { crossEntropyLoss, flatten, linear, Sequential, squaredLoss, cnn3 } from '../lib/nn';
import { evaluateAccuracy, evaluateObjective } from '../lib/train';
import { expectClose, f64 } from './helpers';

// 5 examples, 2 features, 2 classes; model z = W x + b with W = [[1, −1], [0.5, 2]], b = [0.1, −0.2]
const X = [1, 2, -1, 0.5, 0, 0, 2, -2, 0.25, 1];
const labels = [0, 1, 1, 0, 1];
const theta = [1, -1, 0.5, 2, 0.1, -0.2];
const data = createDataset({ name: 'hand', images: Float32Array.from(X), labels: Int32Array.from(labels), shape: [1, 1, 2], classes: 2 });

function model(): Sequential {
  const m = new Sequential([1, 1, 2], [flatten(), linear(2)], { dtype: 'float64' });
  m.setParameters(Float64Array.from(theta));
  return m;
}

function outputs(): number[][] {
  const z: number[][] = [];
  for (let i = 0; i < 5; i++) {
    const [a, b] = [X[2 * i], X[2 * i + 1]];
    z.push([theta[0] * a + theta[1] * b + theta[4], theta[2] * a + theta[3] * b + theta[5]]);
  }
  return z;
}

describe('evaluateObjective', () => {
  const C = 0.2;
  const l = 5;
  const norm2 = theta.reduce((s, t) => s + t * t, 0);

  test('squared loss: value, lossMean, accuracy and gradient by hand, in any batch size', () => {
    const z = outputs();
    let lossSum = 0;
    const g = new Array(6).fill(0);
    let correct = 0;
    z.forEach((zi, i) => {
      const y = [labels[i] === 0 ? 1 : 0, labels[i] === 1 ? 1 : 0];
      const dz = zi.map((v, k) => 2 * (v - y[k]));
      lossSum += zi.reduce((s, v, k) => s + (v - y[k]) ** 2, 0);
      const [a, b] = [X[2 * i], X[2 * i + 1]];
      g[0] += dz[0] * a; g[1] += dz[0] * b; g[2] += dz[1] * a; g[3] += dz[1] * b; g[4] += dz[0]; g[5] += dz[1];
      if ((zi[1] > zi[0] ? 1 : 0) === labels[i]) correct++;
    });
    const expectedGrad = g.map((gi, i) => gi / l + theta[i] / (C * l));
    for (const batchSize of [1, 2, 5, 256]) {
      const m = model();
      const r = evaluateObjective(m, data, { C, loss: squaredLoss, batchSize, gradient: true });
      expectClose(r.value, norm2 / (2 * C * l) + lossSum / l, { rtol: 1e-14, atol: 0 }, `value (batch ${batchSize})`);
      expectClose(r.lossMean, lossSum / l, { rtol: 1e-14, atol: 0 });
      expectClose(r.regularization, norm2 / (2 * C * l), { rtol: 1e-14, atol: 0 });
      expect(r.accuracy).toBe(correct / l);
      expectClose(f64(r.gradient!), expectedGrad, { rtol: 1e-13, atol: 1e-15 }, `gradient (batch ${batchSize})`);
      r.gradient!.dispose();
      expect(evaluateAccuracy(m, data, { batchSize })).toBe(correct / l);
      m.dispose();
    }
  });

  test('cross-entropy value; trainSize sets l in Cl only', () => {
    const z = outputs();
    let lossSum = 0;
    z.forEach((zi, i) => {
      const lse = Math.log(Math.exp(zi[0]) + Math.exp(zi[1]));
      lossSum += lse - zi[labels[i]];
    });
    const m = model();
    const r = evaluateObjective(m, data, { C, loss: crossEntropyLoss, trainSize: 1000 });
    expectClose(r.value, norm2 / (2 * C * 1000) + lossSum / l, { rtol: 1e-13, atol: 0 });
    expect(r.gradient).toBeUndefined();
    m.dispose();
  });

  test('bad arguments', () => {
    const m = model();
    expect(() => evaluateObjective(m, data, { C: -1, loss: squaredLoss })).toThrow(/evaluateObjective: options.C must be a positive finite number, got -1/);
    expect(() => evaluateObjective(m, data, { C: 1, loss: 'squared' as never })).toThrow(TypeError);
    expect(() => evaluateObjective(m, data, { C: 1, loss: squaredLoss, batchSize: 0 })).toThrow(/options.batchSize must be a positive integer, got 0/);
    const other = cnn3([1, 8, 8], 2, { dtype: 'float64' });
    expect(() => evaluateObjective(other, data, { C: 1, loss: squaredLoss })).toThrow(/evaluateObjective: data has images of shape \[1, 1, 2\] but the network expects \[1, 8, 8\]/);
    const three = createDataset({ name: 'k3', images: Float32Array.from(X), labels: Int32Array.from(labels), shape: [1, 1, 2], classes: 3 });
    expect(() => evaluateObjective(m, three, { C: 1, loss: squaredLoss })).toThrow(/data has 3 classes but the network has 2 outputs/);
    expect(() => evaluateObjective({} as Sequential, data, { C: 1, loss: squaredLoss })).toThrow(/model must be a Network/);
    other.dispose();
    m.dispose();
  });
});
