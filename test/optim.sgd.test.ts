// Sgd (Algorithm 2 of the Newton paper) against hand-computed updates on a tiny model:
//   d = θ/Cl + w·θ + g/|B|; v ← μv − η_t d; θ ← θ + v (Nesterov: θ ← θ + μv − η_t d)
//   η_t = η0/(1 + tγ), η0·factor^⌊t/every⌋ or η0·factor^#{milestones ≤ t}, times min(1, (t+1)/warmup);
// the extra weight decay on every parameter or (weightDecayOn 'weights') on conv/linear weights only.
import { copy, Tensor } from '../lib';
import { batchNorm2d, conv2d, flatten, GraphBuilder, linear, relu, scale, Sequential, squaredLoss, type Network } from '../lib/nn';
import { DEFAULT_SGD_OPTIONS, Sgd, learningRateAt, resolveSgdOptions, weightDecayMask, type SgdOptions } from '../lib/optim';
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
type RefOptions = Required<Omit<SgdOptions, 'schedule' | 'warmup' | 'weightDecayOn'>> & { schedule?: SgdOptions['schedule']; warmup?: number };
function reference(theta0: number[], grads: number[][], batch: number, o: RefOptions, l: number): number[][] {
  const theta = [...theta0];
  let v = theta.map(() => 0);
  const out: number[][] = [];
  grads.forEach((g, t) => {
    const s = o.schedule;
    let eta =
      s?.kind === 'step'
        ? o.learningRate * Math.pow(s.factor, Math.floor(t / s.every))
        : s?.kind === 'multistep'
          ? o.learningRate * Math.pow(s.factor, s.milestones.filter((m) => m <= t).length)
          : o.learningRate / (1 + t * o.decay);
    if (t < (o.warmup ?? 0)) eta *= (t + 1) / o.warmup!;
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
    ['multistep schedule', { ...base, schedule: { kind: 'multistep' as const, milestones: [1, 3], factor: 0.2 } }],
    ['warm-up on the inverse schedule', { ...base, warmup: 3 }],
    ['warm-up on a multistep schedule', { ...base, warmup: 2, schedule: { kind: 'multistep' as const, milestones: [1], factor: 0.5 } }],
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
    expect(DEFAULT_SGD_OPTIONS).toMatchObject({ learningRate: 0.003, momentum: 0.9, decay: 1e-6, C: 0.01, weightDecay: 0, weightDecayOn: 'all', warmup: 0 });
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
    [{ schedule: { kind: 'linear' } }, RangeError, /options.schedule.kind must be 'inverse', 'step', 'multistep' or 'cosine', got "linear"/],
    [{ schedule: { kind: 'cosine' } }, TypeError, /options.schedule.steps must be a number, got undefined/],
    [{ schedule: { kind: 'cosine', steps: 10, minimum: 1 } }, RangeError, /options.schedule.minimum must be in \[0, learningRate = 0.003\)/],
    [{ schedule: { kind: 'step', every: 0, factor: 0.1 } }, RangeError, /options.schedule.every must be a positive integer/],
    [{ schedule: { kind: 'multistep', factor: 0.1 } }, TypeError, /options.schedule.milestones must be an array of step counts, got undefined/],
    [{ schedule: { kind: 'multistep', milestones: [0, 5], factor: 0.1 } }, RangeError, /options.schedule.milestones\[0\] must be a positive integer \(steps\), got 0/],
    [{ schedule: { kind: 'multistep', milestones: [2, 7.5], factor: 0.1 } }, RangeError, /options.schedule.milestones\[1\] must be a positive integer \(steps\), got 7.5/],
    [{ schedule: { kind: 'multistep', milestones: [5, '9'], factor: 0.1 } }, TypeError, /options.schedule.milestones\[1\] must be a number, got string/],
    [{ schedule: { kind: 'multistep', milestones: [5, 5], factor: 0.1 } }, RangeError, /options.schedule.milestones must be strictly increasing, got 5 then 5/],
    [{ schedule: { kind: 'multistep', milestones: [5], factor: 0 } }, RangeError, /options.schedule.factor must be a positive finite number, got 0/],
    [{ warmup: -1 }, RangeError, /options.warmup must be a non-negative integer \(steps\), got -1/],
    [{ warmup: 2.5 }, RangeError, /options.warmup must be a non-negative integer \(steps\), got 2.5/],
    [{ warmup: '3' }, TypeError, /options.warmup must be a number, got string/],
    [{ weightDecayOn: 'biases' }, RangeError, /options.weightDecayOn must be 'all' or 'weights', got "biases"/],
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

describe('learning-rate schedules and warm-up', () => {
  const at = (o: SgdOptions, t: number): number => learningRateAt(resolveSgdOptions('t', o), t);

  test('multistep: η0·factor^(milestones ≤ t), at and around each milestone', () => {
    const o: SgdOptions = { learningRate: 0.8, schedule: { kind: 'multistep', milestones: [3, 5, 9], factor: 0.5 } };
    const want = [0.8, 0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1];
    want.forEach((w, t) => expect(at(o, t)).toBe(w)); // powers of 0.5: exact
    expect(at(o, 1e6)).toBe(0.1);
    expect(at({ learningRate: 0.1, schedule: { kind: 'multistep', milestones: [], factor: 0.1 } }, 500)).toBe(0.1); // no milestones: constant
    expect(at({ learningRate: 0.1, schedule: { kind: 'multistep', milestones: [2], factor: 0.1 } }, 2)).toBeCloseTo(0.01, 17);
  });

  test('cosine: η0 at t = 0, the mean halfway, the minimum from T on; warm-up on top', () => {
    const o: SgdOptions = { learningRate: 0.5, schedule: { kind: 'cosine', steps: 10, minimum: 0.1 } };
    expect(at(o, 0)).toBe(0.5);
    expect(at(o, 5)).toBeCloseTo(0.3, 15);
    expect(at(o, 10)).toBeCloseTo(0.1, 15);
    expect(at(o, 1000)).toBeCloseTo(0.1, 15);
    const ts = Array.from({ length: 11 }, (_, t) => at(o, t));
    ts.slice(1).forEach((v, i) => expect(v).toBeLessThan(ts[i])); // strictly decreasing over the T steps
    expect(at({ learningRate: 1, schedule: { kind: 'cosine', steps: 4 } }, 4)).toBeCloseTo(0, 15); // minimum 0 by default
    expect(at({ learningRate: 1, warmup: 2, schedule: { kind: 'cosine', steps: 4 } }, 0)).toBeCloseTo(0.5, 15);
    expect(resolveSgdOptions('t', { schedule: { kind: 'cosine', steps: 3 } }).schedule).toEqual({ kind: 'cosine', steps: 3, minimum: 0 });
  });

  test('resolved milestones are a frozen copy', () => {
    const milestones = [4, 8];
    const r = resolveSgdOptions('t', { schedule: { kind: 'multistep', milestones, factor: 0.1 } });
    milestones[0] = 100;
    expect(r.schedule).toEqual({ kind: 'multistep', milestones: [4, 8], factor: 0.1 });
    expect(Object.isFrozen(r.schedule.kind === 'multistep' ? r.schedule.milestones : null)).toBe(true);
  });

  test('warm-up multiplies the schedule by (t + 1)/warmup for t < warmup, 1 after', () => {
    const o: SgdOptions = { learningRate: 0.4, decay: 0, warmup: 4 };
    expect([0, 1, 2, 3, 4, 5, 100].map((t) => at(o, t))).toEqual([0.1, 0.2, 0.30000000000000004, 0.4, 0.4, 0.4, 0.4]);
    // on top of the schedule: a milestone inside the warm-up
    const m: SgdOptions = { learningRate: 1, warmup: 4, schedule: { kind: 'multistep', milestones: [2], factor: 0.1 } };
    expect(at(m, 1)).toBe(0.5);
    expect(at(m, 2)).toBeCloseTo(0.1 * 0.75, 16);
    expect(at(m, 4)).toBeCloseTo(0.1, 16);
    // warmup 1 is no warm-up; warmup 0 (the default) leaves the paper's schedule bit for bit
    expect(at({ learningRate: 0.3, warmup: 1 }, 0)).toBe(0.3);
    expect(at({ learningRate: 0.003, decay: 1e-6 }, 7)).toBe(0.003 / (1 + 7 * 1e-6));
  });

  test('Sgd.learningRate follows the warm-up step by step', () => {
    const m = tinyModel([0.5, -0.25, 1]);
    const sgd = new Sgd(m, { learningRate: 0.3, decay: 0, warmup: 3 }, 10);
    const seen: number[] = [];
    for (let t = 0; t < 5; t++) {
      seen.push(sgd.learningRate);
      setGradient(m, grads[t % grads.length]);
      sgd.step(2);
    }
    expect(seen).toEqual([0.3 * (1 / 3), 0.3 * (2 / 3), 0.3, 0.3, 0.3]);
    sgd.dispose();
    m.dispose();
  });
});

describe('weightDecayOn', () => {
  // conv (weight + bias) → BN (γ, β) → ReLU → scale (α) → flatten → linear (weight + bias)
  function net(): Network {
    const g = new GraphBuilder([2, 3, 3]);
    const out = g.chain(g.input, [conv2d(2, 3, { padding: 1 }), batchNorm2d(), relu(), scale(0.7), flatten(), linear(3)]);
    const n = g.build(out, { dtype: 'float64' });
    n.init('he-normal', { seed: 3 });
    // γ, β, biases and α away from their 1/0 starts, so that a decay on them would show
    const theta = n.getParameters();
    for (const m of n.layers()) for (const p of m.parameters) if (p.name !== 'weight' || m.kind === 'batchNorm2d') for (let i = 0; i < p.size; i++) theta[p.offset + i] += 0.25 + 0.1 * i;
    n.setParameters(theta);
    return n;
  }
  // the offsets of the conv/linear weights
  function weightOffsets(n: Network): Set<number> {
    const out = new Set<number>();
    for (const m of n.layers()) {
      if (m.kind !== 'conv2d' && m.kind !== 'linear') continue;
      for (const p of m.parameters) if (p.name === 'weight') for (let i = 0; i < p.size; i++) out.add(p.offset + i);
    }
    return out;
  }
  function stepOnce(o: SgdOptions): Float64Array {
    const n = net();
    const g = Float64Array.from({ length: n.numParameters }, (_, i) => Math.sin(i + 1));
    const t = Tensor.from(g);
    copy(n.gradient, t);
    t.dispose();
    const sgd = new Sgd(n, { learningRate: 0.1, momentum: 0.9, decay: 0, C: 0.01, ...o }, 100);
    sgd.step(4);
    const theta = n.getParameters() as Float64Array;
    sgd.dispose();
    n.dispose();
    return theta;
  }

  test('the mask is 1 exactly on conv2d and linear weights', () => {
    const n = net();
    const mask = weightDecayMask(n);
    const w = weightOffsets(n);
    const kinds = n.layers().filter((m) => m.parameters.length > 0).map((m) => m.kind);
    expect(kinds).toEqual(['conv2d', 'batchNorm2d', 'scale', 'linear']);
    const mv = f64(mask);
    expect(mv.length).toBe(n.numParameters);
    expect(w.size).toBe(2 * 2 * 9 + 3 * 18);
    mv.forEach((x, i) => expect([i, x]).toEqual([i, w.has(i) ? 1 : 0]));
    mask.dispose();
    n.dispose();
  });

  test("'weights': biases, batch-norm γ/β and the scale move as without decay; the weights get w·θ more", () => {
    const w = 0.5;
    const base = stepOnce({});
    const zero = stepOnce({ weightDecay: 0, weightDecayOn: 'weights' });
    const masked = stepOnce({ weightDecay: w, weightDecayOn: 'weights' });
    const all = stepOnce({ weightDecay: w });
    const n = net();
    const theta0 = n.getParameters();
    const weights = weightOffsets(n);
    n.dispose();
    expect(Array.from(zero)).toEqual(Array.from(base));
    let changed = 0;
    for (let i = 0; i < base.length; i++) {
      if (weights.has(i)) {
        // first step from v = 0: θ1 = θ0 − η(θ0/Cl + w·θ0 + g/B), so the decay adds −η·w·θ0
        expect(masked[i]).toBeCloseTo(base[i] - 0.1 * w * theta0[i], 12);
        expect(masked[i]).toBeCloseTo(all[i], 12);
        if (masked[i] !== base[i]) changed++;
      } else {
        expect([i, masked[i]]).toEqual([i, base[i]]); // bit for bit
        expect(all[i]).toBeCloseTo(base[i] - 0.1 * w * theta0[i], 12);
        expect(all[i]).not.toBe(base[i]);
      }
    }
    expect(changed).toBe(weights.size);
  });
});
