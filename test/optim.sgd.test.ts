// Sgd (Algorithm 2 of the Newton paper) against hand-computed updates on a tiny model:
//   d = θ/Cl + w·θ + g/|B|; v ← μv − η_t d; θ ← θ + v (Nesterov: θ ← θ + μv − η_t d)
//   η_t = η0/(1 + tγ), or η0·factor^⌊t/every⌋.
import { copy, Tensor } from '../lib';
import { flatten, linear, Sequential, squaredLoss } from '../lib/nn';
import { DEFAULT_SGD_OPTIONS, Sgd, learningRateAt, resolveSgdOptions, type SgdOptions } from '../lib/optim';
import { expectClose, f64 } from './helpers';

const tight = { rtol: 1e-13, atol: 1e-15 };

function tinyModel(theta: number[]): Sequential {
  const m = new Sequential([1, 1, 2], [flatten(), linear(1)], { dtype: 'float64' });
  m.setParameters(Float64Array.from(theta));
  return m;
}

function setGradient(m: Sequential, g: number[]): void {
  const t = Tensor.from(Float64Array.from(g));
  copy(m.gradient, t);
  t.dispose();
}

/** The reference: Algorithm 2 written out with plain numbers. */
function reference(theta0: number[], grads: number[][], batch: number, o: Required<Omit<SgdOptions, 'schedule'>> & { schedule?: SgdOptions['schedule'] }, l: number): number[][] {
  const theta = [...theta0];
  let v = theta.map(() => 0);
  const out: number[][] = [];
  grads.forEach((g, t) => {
    const eta = o.schedule?.kind === 'step' ? o.learningRate * Math.pow(o.schedule.factor, Math.floor(t / o.schedule.every)) : o.learningRate / (1 + t * o.decay);
    const d = theta.map((th, i) => th / (o.C * l) + o.weightDecay * th + g[i] / batch);
    v = v.map((vi, i) => o.momentum * vi - eta * d[i]);
    for (let i = 0; i < theta.length; i++) theta[i] += o.nesterov ? o.momentum * v[i] - eta * d[i] : v[i];
    out.push([...theta]);
  });
  return out;
}

const grads = [
  [0.3, -1.2, 0.7],
  [-0.5, 0.25, 2.0],
  [1.5, 0.1, -0.4],
  [0.05, -0.3, 0.9],
];

describe('Sgd step', () => {
  const base = { learningRate: 0.1, momentum: 0.9, nesterov: false, decay: 0.05, C: 0.01, weightDecay: 0 };
  test.each([
    ['momentum + inverse decay (the paper)', base],
    ['no momentum', { ...base, momentum: 0 }],
    ['Nesterov', { ...base, nesterov: true }],
    ['extra weight decay', { ...base, weightDecay: 0.3 }],
    ['step schedule', { ...base, schedule: { kind: 'step' as const, every: 2, factor: 0.5 } }],
  ])('%s', (_name, o) => {
    const theta0 = [0.5, -0.25, 1];
    const l = 50;
    const batch = 4;
    const m = tinyModel(theta0);
    const sgd = new Sgd(m, o, l);
    expect(sgd.Cl).toBe(o.C * l);
    const expected = reference(theta0, grads, batch, o, l);
    grads.forEach((g, t) => {
      expect(sgd.iteration).toBe(t);
      expect(sgd.learningRate).toBeCloseTo(learningRateAt(sgd.options, t), 15);
      setGradient(m, g);
      sgd.step(batch);
      expectClose(f64(m.parameters), expected[t], tight, `θ after step ${t + 1}`);
    });
    sgd.dispose();
    m.dispose();
  });

  test('with the gradient from backward: linear regression, squared loss, batch mean', () => {
    const m = tinyModel([1, 2, 0]);
    const x = Tensor.from(Float64Array.of(1, 0, 2, 1), { shape: [2, 1, 1, 2] });
    const y = Tensor.from(Float64Array.of(0, 1), { shape: [2, 1] });
    const z = m.forward(x); // [1, 4]
    const dz = squaredLoss.gradient(z, y); // 2(z − y) = [2, 6]
    m.backward(dz);
    expectClose(f64(m.gradient), [2 * 1 + 6 * 2, 2 * 0 + 6 * 1, 2 + 6], tight, 'summed loss gradient');
    const sgd = new Sgd(m, { learningRate: 0.01, momentum: 0.9, decay: 0, C: 1 }, 10);
    sgd.step(2);
    // d = θ/10 + g/2 = [0.1 + 7, 0.2 + 3, 0 + 4]; v = −0.01 d; θ + v
    expectClose(f64(m.parameters), [1 - 0.071, 2 - 0.032, -0.04], tight);
    for (const t of [x, y, z, dz]) t.dispose();
    sgd.dispose();
    m.dispose();
  });

  test('state() / loadState() continue identically', () => {
    const o = { learningRate: 0.1, momentum: 0.8, decay: 0.01, C: 0.1 };
    const a = tinyModel([0.5, -0.25, 1]);
    const sa = new Sgd(a, o, 20);
    setGradient(a, grads[0]);
    sa.step(3);
    const state = sa.state();
    const theta = a.getParameters();
    expect(state.iteration).toBe(1);
    setGradient(a, grads[1]);
    sa.step(3);
    const b = tinyModel(Array.from(theta));
    const sb = new Sgd(b, o, 20);
    sb.loadState(state);
    setGradient(b, grads[1]);
    sb.step(3);
    expect(f64(b.parameters)).toEqual(f64(a.parameters));
    expect(() => sb.loadState({ iteration: 0, velocity: new Float64Array(2) })).toThrow(/Sgd.loadState: state.velocity has 2 elements but the network has 3 parameters/);
    for (const x of [sa, sb, a, b]) x.dispose();
  });
});

describe('Sgd options', () => {
  test('defaults are the paper’s', () => {
    expect(resolveSgdOptions('t', undefined)).toEqual(DEFAULT_SGD_OPTIONS);
    expect(DEFAULT_SGD_OPTIONS).toMatchObject({ learningRate: 0.003, momentum: 0.9, decay: 1e-6, C: 0.01 });
  });

  test.each([
    [{ learningRate: 0 }, RangeError, /Sgd: options.learningRate must be a positive finite number, got 0/],
    [{ learningRate: -0.1 }, RangeError, /options.learningRate must be a positive finite number, got -0.1/],
    [{ learningRate: '0.1' }, TypeError, /options.learningRate must be a number, got string/],
    [{ momentum: 1 }, RangeError, /options.momentum must be in \[0, 1\), got 1/],
    [{ momentum: -0.1 }, RangeError, /options.momentum must be in \[0, 1\), got -0.1/],
    [{ C: -1 }, RangeError, /options.C must be a positive finite number, got -1/],
    [{ C: 0 }, RangeError, /options.C must be a positive finite number, got 0/],
    [{ decay: NaN }, RangeError, /options.decay must be a non-negative finite number, got NaN/],
    [{ weightDecay: -1 }, RangeError, /options.weightDecay must be a non-negative finite number/],
    [{ nesterov: 1 }, TypeError, /options.nesterov must be a boolean/],
    [{ schedule: { kind: 'cosine' } }, RangeError, /options.schedule.kind must be 'inverse' or 'step', got "cosine"/],
    [{ schedule: { kind: 'step', every: 0, factor: 0.1 } }, RangeError, /options.schedule.every must be a positive integer/],
  ])('%j', (o, kind, re) => {
    const m = tinyModel([0, 0, 0]);
    const make = (): Sgd => new Sgd(m, o as SgdOptions, 10);
    expect(make).toThrow(kind);
    expect(make).toThrow(re);
    m.dispose();
  });

  test('bad trainSize and batch size', () => {
    const m = tinyModel([0, 0, 0]);
    expect(() => new Sgd(m, {}, 0)).toThrow(/Sgd: trainSize must be a positive integer, got 0/);
    const s = new Sgd(m, {}, 10);
    expect(() => s.step(0)).toThrow(/Sgd.step: batchSize must be a positive integer, got 0/);
    s.dispose();
    m.dispose();
  });
});
