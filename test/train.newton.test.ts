// The subsampled Newton trainer (lib/train/newton-trainer.ts) on small subsets of the bundled
// Fashion-MNIST data: the line search never lets the objective increase, a failed line search
// keeps θ and raises λ, λ follows ρ (eq. 37), the state resumes bit-for-bit (after whole
// iterations and after an abort in the middle of one), Newton checkpoints round-trip, bad options
// are refused with clear errors, and a short run reaches a measured test accuracy.
import { decodeCheckpoint, encodeCheckpoint } from '../lib/checkpoint';
import { loadDataset, paperPreprocess, subset, type Dataset } from '../lib/data';
import { cnn3, squaredLoss, crossEntropyLoss } from '../lib/nn';
import { evaluateAccuracy, evaluateObjective, trainNewton, type NewtonIteration, type TrainNewtonOptions } from '../lib/train';

let small: { train: Dataset; test: Dataset };
let medium: { train: Dataset; test: Dataset };

function firstN(ds: Dataset, n: number, stride = 1): Dataset {
  return subset(ds, Int32Array.from({ length: n }, (_, i) => i * stride));
}

beforeAll(async () => {
  const raw = await loadDataset('fashion-mnist-small');
  small = paperPreprocess(firstN(raw.train, 256, 39), firstN(raw.test, 200));
  medium = paperPreprocess(firstN(raw.train, 2000, 5), firstN(raw.test, 1000));
});

const fast: TrainNewtonOptions = { iterations: 3, loss: squaredLoss, newton: { samplingRate: 0.1, cgMaxIterations: 15 }, batchSize: 128, evaluateEvery: 0 };
const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('the objective never increases; each iteration starts where the last ended; λ follows ρ', async () => {
  for (const loss of [squaredLoss, crossEntropyLoss]) {
    const model = cnn3(small.train.shape, small.train.classes, { seed: 1 });
    const its: NewtonIteration[] = [];
    const r = await trainNewton(model, small.train, { ...fast, iterations: 4, loss, onIteration: (it) => its.push(it) });
    expect(r.iterations).toBe(4);
    expect(its.map((it) => it.iteration)).toEqual([1, 2, 3, 4]);
    for (let k = 0; k < its.length; k++) {
      const it = its[k];
      expect(it.objective).toBeLessThanOrEqual(it.initialObjective);
      expect(it.cgSteps).toBeGreaterThan(0);
      expect(it.cgSteps).toBeLessThanOrEqual(15);
      if (it.cgStop === 'tolerance') expect(it.cgRelativeResidual).toBeLessThanOrEqual(0.1);
      expect(it.subsampleSize).toBe(26);
      if (it.accepted) {
        // sufficient decrease with η = 1e-4 and a step from {1, 1/2, ...}
        expect(Math.log2(1 / it.stepSize) % 1).toBe(0);
        const want = it.rho > 0.75 ? it.lambda * (2 / 3) : it.rho < 0.25 ? it.lambda * 1.5 : it.lambda;
        expect(it.nextLambda).toBeCloseTo(want, 12);
      }
      if (k > 0) expect(it.lambda).toBe(its[k - 1].nextLambda);
      if (k > 0) expect(Math.abs(it.initialObjective - its[k - 1].objective)).toBeLessThan(1e-5 * it.initialObjective);
      for (const t of Object.values(it.times)) expect(t).toBeGreaterThanOrEqual(0);
    }
    expect(its[3].objective).toBeLessThan(its[0].initialObjective);
    // the reported objective is f at the final θ (float32 sums in another order: close, not equal)
    const f = evaluateObjective(model, small.train, { C: 0.01, loss }).value;
    expect(Math.abs(f - its[3].objective)).toBeLessThan(1e-5 * f);
    expect(r.state.newton?.lambda).toBe(its[3].nextLambda);
    model.dispose();
  }
}, 120_000);

test('no accepted step: θ is kept, λ is boosted, and the iteration says so', async () => {
  const model = cnn3(small.train.shape, small.train.classes, { seed: 2 });
  const theta = model.getParameters();
  // η close to 1 and no halvings: f(θ + d) − f(θ) ≤ 0.999·∇fᵀd fails for a step with curvature
  const r = await trainNewton(model, small.train, { ...fast, iterations: 1, newton: { ...fast.newton, eta: 0.999, maxHalvings: 0, lambda: 2 } });
  const it = r.history[0];
  expect(it.accepted).toBe(false);
  expect(it.stepSize).toBe(0);
  expect(it.rho).toBeNaN();
  expect(it.lineSearchSteps).toBe(1);
  expect(it.nextLambda).toBe(3);
  expect(it.objective).toBe(it.initialObjective);
  expect(bytes(model.getParameters()).equals(bytes(theta))).toBe(true);
  model.dispose();
}, 60_000);

test('resume is bit-for-bit: 3 iterations = 1 + resume 2 = aborted mid-iteration + resume; checkpoints round-trip', async () => {
  const run = async (options: Partial<TrainNewtonOptions>) => {
    const model = cnn3(small.train.shape, small.train.classes, { seed: 3 });
    const r = await trainNewton(model, small.train, { ...fast, ...options });
    model.dispose();
    return r;
  };
  for (const sampling of ['epoch', 'random'] as const) {
    const newton = { ...fast.newton, sampling, samplingRate: 0.4, cgMaxIterations: 5 }; // 3 subsamples per epoch: the resumed run crosses an epoch
    const straight = await run({ newton });
    const first = await run({ newton, iterations: 1 });
    // through a checkpoint file's bytes
    const ckpt = decodeCheckpoint(
      encodeCheckpoint({ model: { name: 'cnn3', inputShape: [1, 28, 28], classes: 10, dtype: 'float32', numParameters: first.state.parameters.length }, options: {}, state: first.state, optimizer: 'newton' }),
    );
    expect(ckpt.optimizer).toBe('newton');
    expect(ckpt.state.newton).toEqual(first.state.newton);
    expect(ckpt.state.optimizer.velocity.length).toBe(0);
    const resumed = await run({ newton, resume: ckpt.state });
    expect(resumed.state.optimizer.iteration).toBe(3);
    expect(bytes(resumed.state.parameters).equals(bytes(straight.state.parameters))).toBe(true);
    expect(resumed.state.newton).toEqual(straight.state.newton);
    expect([resumed.state.epoch, resumed.state.batch]).toEqual([straight.state.epoch, straight.state.batch]);
    expect(resumed.history.map((h) => h.objective)).toEqual(straight.history.slice(1).map((h) => h.objective));
    if (sampling === 'random') continue;

    // abort in the middle of iteration 2 (after its first mini-batch or CG step)
    const ac = new AbortController();
    let seen = 0;
    const model = cnn3(small.train.shape, small.train.classes, { seed: 3 });
    const cut = await trainNewton(model, small.train, {
      ...fast,
      newton,
      signal: ac.signal,
      yieldEveryMs: 0,
      onIteration: () => {
        seen++;
        setImmediate(() => ac.abort());
      },
    });
    model.dispose();
    expect(seen).toBe(1);
    expect(cut.aborted).toBe(true);
    expect(cut.state.optimizer.iteration).toBe(1);
    expect(bytes(cut.state.parameters).equals(bytes(first.state.parameters))).toBe(true);
    const after = await run({ newton, resume: cut.state });
    expect(bytes(after.state.parameters).equals(bytes(straight.state.parameters))).toBe(true);
  }
}, 120_000);

test('bad options are refused with clear errors', async () => {
  const model = cnn3(small.train.shape, small.train.classes, { seed: 4 });
  const cases: Array<[Partial<TrainNewtonOptions>, RegExp]> = [
    [{ newton: { C: -1 } }, /trainNewton: options\.newton\.C must be a positive number, got -1/],
    [{ newton: { C: 0 } }, /options\.newton\.C must be a positive number, got 0/],
    [{ newton: { samplingRate: 0 } }, /options\.newton\.samplingRate must be in \(0, 1\], got 0/],
    [{ newton: { samplingRate: 1.01 } }, /samplingRate must be in \(0, 1\], got 1\.01/],
    [{ newton: { cgMaxIterations: 0 } }, /options\.newton\.maxIterations \(CGmax\) must be a positive integer, got 0/],
    [{ newton: { cgTolerance: 0 } }, /options\.newton\.tolerance \(σ\) must be in \(0, 1\), got 0/],
    [{ newton: { lambda: 0 } }, /options\.newton\.lambda must be a positive number \(λ0\), got 0/],
    [{ newton: { lambda: -1 } }, /lambda must be a positive number/],
    [{ newton: { drop: 1 } }, /options\.newton\.drop must be in \(0, 1\), got 1/],
    [{ newton: { boost: 1 } }, /options\.newton\.boost must be greater than 1, got 1/],
    [{ newton: { rhoLower: 0.8, rhoUpper: 0.5 } }, /options\.newton\.rhoUpper must be in \[rhoLower = 0\.8, 1\], got 0\.5/],
    [{ newton: { eta: 1 } }, /options\.newton\.eta must be in \(0, 1\), got 1/],
    [{ newton: { maxHalvings: -1 } }, /maxHalvings must be an integer in \[0, 1000\], got -1/],
    [{ newton: { gvMode: 'dense' as 'rop' } }, /options\.newton\.gvMode must be 'rop' or 'stored', got "dense"/],
    [{ newton: { sampling: 'all' as 'epoch' } }, /options\.newton\.sampling must be 'epoch' or 'random'/],
    [{ iterations: 0 }, /options\.iterations must be a positive integer, got 0/],
    [{ batchSize: 1.5 }, /options\.batchSize must be a positive integer/],
    [{ evaluateEvery: -1 }, /options\.evaluateEvery must be a non-negative integer/],
    [{ loss: undefined }, /options\.loss must be a Loss/],
    [{ newton: { C: 'big' as unknown as number } }, /options\.newton\.C must be a number, got string/],
  ];
  for (const [o, re] of cases) await expect(trainNewton(model, small.train, { ...fast, ...o } as TrainNewtonOptions)).rejects.toThrow(re);
  const sgdLike = { ...(await trainNewton(model, small.train, { ...fast, iterations: 1 })).state, newton: undefined };
  await expect(trainNewton(model, small.train, { ...fast, resume: sgdLike })).rejects.toThrow(/options\.resume is not a Newton state/);
  const first = await trainNewton(model, small.train, { ...fast, iterations: 1 });
  await expect(trainNewton(model, small.train, { ...fast, newton: { samplingRate: 0.5 }, resume: first.state })).rejects.toThrow(
    /options\.resume was made with subsamples of 26 examples but the sampling rate gives 128/,
  );
  model.dispose();
}, 60_000);

// Measured (seed 0, 2 threads, a busy machine): 2,000 training images (every 5th bundled one), cnn3,
// squared loss, the paper's settings (5% sampling → |S| = 100, σ 0.1, CGmax 250, λ0 1); test
// accuracy on the 2,000 bundled test images after iterations 1..6:
//   0.279  0.450  0.713  0.754  0.772  0.775      (36 s in all, 11-20 CG steps per iteration)
// The test asks for 0.72 on the first 1,000 test images after 6 iterations (a margin of ~0.05).
const ITERATIONS = 6;
const THRESHOLD = 0.72;
test(`cnn3 + subsampled Newton on 2,000 bundled images reaches test accuracy ≥ ${THRESHOLD} in ${ITERATIONS} iterations`, async () => {
  const model = cnn3(medium.train.shape, medium.train.classes, { seed: 0 });
  const r = await trainNewton(model, medium.train, { iterations: ITERATIONS, loss: squaredLoss, evaluateEvery: 0 });
  expect(r.iterations).toBe(ITERATIONS);
  expect(evaluateAccuracy(model, medium.test)).toBeGreaterThanOrEqual(THRESHOLD);
  model.dispose();
}, 300_000);

test('evaluateObjective with the subsample last: same f and ∇f, S kept for Gauss-Newton products, clear errors', () => {
  const model = cnn3(small.train.shape, small.train.classes, { seed: 5 });
  const S = Int32Array.from([7, 100, 3, 250]);
  const plain = evaluateObjective(model, small.train, { C: 0.01, loss: squaredLoss, gradient: true, batchSize: 64 });
  const last = evaluateObjective(model, small.train, { C: 0.01, loss: squaredLoss, gradient: true, batchSize: 64, subsample: S, keepSubsample: true });
  expect(Math.abs(last.value - plain.value)).toBeLessThan(1e-6 * plain.value);
  const a = plain.gradient!.toArray();
  const b = last.gradient!.toArray();
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    ref = Math.max(ref, Math.abs(a[i]));
  }
  expect(diff).toBeLessThan(1e-5 * ref);
  const kept = last.kept!;
  expect(kept.x.shape).toEqual([4, 1, 28, 28]);
  expect(Array.from(kept.labels)).toEqual(Array.from(S).map((i) => small.train.labels[i]));
  // the network's cache is that of S: a Gauss-Newton product works on it
  const v = model.parameters.clone();
  const gv = model.gaussNewtonProduct(v, { loss: squaredLoss, lambda: 0, C: 0.01, trainSize: small.train.length });
  expect(gv.shape).toEqual([model.numParameters]);
  for (const t of [v, gv, plain.gradient!, last.gradient!]) t.dispose();
  kept.release();
  kept.release();
  expect(kept.x.disposed).toBe(true);
  const o = { C: 0.01, loss: squaredLoss };
  expect(() => evaluateObjective(model, small.train, { ...o, subsample: Int32Array.from([1, 1]) })).toThrow(/options\.subsample holds 1 twice/);
  expect(() => evaluateObjective(model, small.train, { ...o, subsample: Int32Array.from([256]) })).toThrow(/options\.subsample\[0\] = 256 is outside \[0, 256\)/);
  expect(() => evaluateObjective(model, small.train, { ...o, subsample: [1] as unknown as Int32Array })).toThrow(/options\.subsample must be an Int32Array/);
  expect(() => evaluateObjective(model, small.train, { ...o, keepSubsample: true })).toThrow(/options\.keepSubsample needs options\.subsample/);
  model.dispose();
});
