// trainSgd: convergence on a small separable problem, progress / epoch / checkpoint callbacks,
// cancellation, bit-for-bit resumption and option errors; the same with scale-amended SGD
// (options.optimizer 'scale-amended-sgd') on a network with batch norm.
import { createDataset, gatherBatch, Rng, type Dataset } from '../lib/data';
import { batchNorm2d, cnn3, conv2d, crossEntropyLoss, flatten, linear, maxPool2d, relu, Sequential, squaredLoss } from '../lib/nn';
import { ScaleAmendedSgd } from '../lib/optim';
import { evaluateObjective, trainSgd, type SgdProgress, type TrainSgdOptions, type TrainState } from '../lib/train';
import { bars } from './data.fixtures';

const train = bars(240, 1);
const testSet = bars(90, 2);

function options(extra: Partial<TrainSgdOptions> = {}): TrainSgdOptions {
  return { epochs: 2, batchSize: 16, seed: 7, loss: squaredLoss, sgd: { learningRate: 0.01, momentum: 0.9 }, evaluateEvery: 'never', ...extra };
}

describe('trainSgd', () => {
  test.each([
    ['squared', squaredLoss],
    ['cross-entropy', crossEntropyLoss],
  ] as const)('learns a separable problem (%s loss): objective falls, test accuracy ≥ 0.9', async (_n, loss) => {
    const m = cnn3([1, 8, 8], 3, { seed: 3 });
    // C = 1: with only l = 240 examples the paper's C = 0.01 (Cl = 2.4) regularises too hard to fit
    const before = evaluateObjective(m, train, { C: 1, loss });
    const epochs: number[] = [];
    const r = await trainSgd(m, train, options({ epochs: 6, loss, test: testSet, evaluateEvery: 'epoch', sgd: { learningRate: 0.01, C: 1 }, onEpoch: (s) => epochs.push(s.objective!) }));
    expect(r.aborted).toBe(false);
    expect(r.history).toHaveLength(6);
    expect(r.iterations).toBe(6 * 15);
    expect(r.final!.objective!).toBeLessThan(0.5 * before.value);
    expect(epochs[5]).toBeLessThan(epochs[0]);
    expect(r.final!.testAccuracy!).toBeGreaterThanOrEqual(0.9);
    expect(r.final!.trainAccuracy!).toBeGreaterThanOrEqual(0.9);
    expect(r.imagesPerSecond).toBeGreaterThan(0);
    m.dispose();
  });

  test('progress after every batch, epoch statistics, checkpoints at epoch ends and every N steps', async () => {
    const m = cnn3([1, 8, 8], 3, { seed: 3 });
    const progress: SgdProgress[] = [];
    const checkpoints: TrainState[] = [];
    const r = await trainSgd(
      m,
      bars(40, 5),
      options({
        batchSize: 16,
        epochs: 2,
        sgd: { learningRate: 0.02, decay: 0.1 },
        onProgress: (p) => progress.push(p),
        onCheckpoint: async (s) => {
          await new Promise((res) => setTimeout(res, 1));
          checkpoints.push(s);
        },
        checkpointEvery: 2,
      }),
    );
    expect(progress).toHaveLength(6); // 3 batches (16, 16, 8) × 2 epochs
    expect(progress.map((p) => [p.epoch, p.batch, p.batches, p.iteration])).toEqual([
      [0, 1, 3, 1], [0, 2, 3, 2], [0, 3, 3, 3], [1, 1, 3, 4], [1, 2, 3, 5], [1, 3, 3, 6],
    ]);
    progress.forEach((p, t) => {
      expect(p.learningRate).toBeCloseTo(0.02 / (1 + 0.1 * t), 14);
      expect(Number.isFinite(p.loss) && p.loss > 0).toBe(true);
      expect(p.imagesPerSecond).toBeGreaterThan(0);
      expect(p.elapsed).toBeGreaterThan(0);
      expect(p.epochs).toBe(2);
    });
    // every 2 steps within an epoch (steps 2 and 4), plus both epoch ends
    expect(checkpoints.map((s) => [s.epoch, s.batch, s.optimizer.iteration])).toEqual([
      [0, 2, 2], [1, 0, 3], [1, 1, 4], [2, 0, 6],
    ]);
    expect(r.history.map((h) => h.epoch)).toEqual([0, 1]);
    expect(r.history[0].objective).toBeUndefined(); // evaluateEvery 'never'
    expect(r.state.epoch).toBe(2);
    m.dispose();
  });

  test('resume is bit-for-bit: 2 epochs straight = 1 epoch + resume, and = an abort mid-epoch + resume', async () => {
    const straight = cnn3([1, 8, 8], 3, { seed: 9 });
    const r0 = await trainSgd(straight, train, options({ epochs: 2 }));
    const expected = straight.getParameters();

    const a = cnn3([1, 8, 8], 3, { seed: 9 });
    const r1 = await trainSgd(a, train, options({ epochs: 1 }));
    expect(r1.state.epoch).toBe(1);
    expect(r1.state.batch).toBe(0);
    const a2 = cnn3([1, 8, 8], 3, { seed: 12345 }); // θ comes from the state
    const r2 = await trainSgd(a2, train, options({ epochs: 2, resume: r1.state }));
    expect(r2.iterations).toBe(15);
    expect(a2.getParameters()).toEqual(expected);
    expect(r2.state.optimizer.velocity).toEqual(r0.state.optimizer.velocity);

    const ac = new AbortController();
    const b = cnn3([1, 8, 8], 3, { seed: 9 });
    const rb = await trainSgd(b, train, options({ signal: ac.signal, onProgress: (p) => p.epoch === 1 && p.batch === 4 && ac.abort() }));
    expect(rb.aborted).toBe(true);
    expect([rb.state.epoch, rb.state.batch, rb.state.optimizer.iteration]).toEqual([1, 4, 19]);
    expect(rb.state.permutation).toHaveLength(240);
    const rc = await trainSgd(b, train, options({ resume: rb.state }));
    expect(rc.aborted).toBe(false);
    expect(b.getParameters()).toEqual(expected);
    for (const m of [straight, a, a2, b]) m.dispose();
  });

  test('an abort from a timer is seen because the loop yields; an already-aborted signal runs nothing', async () => {
    const m = cnn3([1, 8, 8], 3, { seed: 1 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 0);
    const r = await trainSgd(m, train, options({ epochs: 50, signal: ac.signal, yieldEveryMs: 0 }));
    expect(r.aborted).toBe(true);
    expect(r.iterations).toBeGreaterThan(0);
    expect(r.iterations).toBeLessThan(50 * 15);
    const before = m.getParameters();
    const r2 = await trainSgd(m, train, options({ signal: ac.signal }));
    expect(r2.aborted).toBe(true);
    expect(r2.iterations).toBe(0);
    expect(m.getParameters()).toEqual(before);
    m.dispose();
  });

  describe("optimizer 'scale-amended-sgd'", () => {
    // conv 3×3 (no bias) → BN → ReLU → max pool → conv 3×3 (no bias) → BN → ReLU → max pool → linear
    const bnNet = (seed: number): Sequential => {
      const m = new Sequential([1, 8, 8], [
        conv2d(8, 3, { padding: 1, bias: false }), batchNorm2d(), relu(), maxPool2d(2),
        conv2d(8, 3, { padding: 1, bias: false }), batchNorm2d({ affine: false }), relu(), maxPool2d(2),
        flatten(), linear(3),
      ]);
      m.init('he-normal', { seed });
      return m;
    };
    const sa = (extra: Partial<TrainSgdOptions> = {}): TrainSgdOptions =>
      options({ optimizer: 'scale-amended-sgd', loss: crossEntropyLoss, sgd: { learningRate: 0.02, C: 1 }, ...extra });

    test('learns the separable problem', async () => {
      const m = bnNet(3);
      const r = await trainSgd(m, train, sa({ epochs: 4, test: testSet, evaluateEvery: 'epoch' }));
      expect(r.final!.testAccuracy!).toBeGreaterThanOrEqual(0.9);
      expect(r.history[3].objective!).toBeLessThan(r.history[0].objective!);
      m.dispose();
    });

    test('each step is ScaleAmendedSgd.step on the batch gradient', async () => {
      const a = bnNet(4);
      const b = bnNet(4);
      const o = sa({ epochs: 1, batchSize: 80, sgd: { learningRate: 0.05, fanOut: 'sum', weightDecay: 0.01, C: 1 } });
      await trainSgd(a, train, o);
      // by hand: the epoch's permutation, forward in training mode, backward, step
      const opt = new ScaleAmendedSgd(b, o.sgd, train.length);
      const order = new Rng(7).permutation(train.length);
      for (let from = 0; from < train.length; from += 80) {
        const batch = gatherBatch(train, order, from, from + 80, { dtype: b.dtype, device: b.device });
        const z = b.forward(batch.x, { training: true, updateStatistics: true, noiseSeed: 0 });
        const dz = crossEntropyLoss.gradient(z, batch.y);
        b.backward(dz);
        opt.step(80);
        for (const t of [z, dz, batch.x, batch.y]) t.dispose();
        b.releaseCache();
      }
      expect(a.getParameters()).toEqual(b.getParameters());
      expect(a.getBuffers()).toEqual(b.getBuffers());
      opt.dispose();
      for (const m of [a, b]) m.dispose();
    });

    test('resume is bit-for-bit: 2 epochs = 1 epoch + resume = an abort mid-epoch + resume', async () => {
      const straight = bnNet(9);
      const r0 = await trainSgd(straight, train, sa({ epochs: 2 }));
      const a = bnNet(9);
      const r1 = await trainSgd(a, train, sa({ epochs: 1 }));
      const a2 = bnNet(1);
      await trainSgd(a2, train, sa({ epochs: 2, resume: r1.state }));
      expect(a2.getParameters()).toEqual(straight.getParameters());
      expect(a2.getBuffers()).toEqual(straight.getBuffers());
      const ac = new AbortController();
      const b = bnNet(9);
      const rb = await trainSgd(b, train, sa({ epochs: 2, signal: ac.signal, onProgress: (p) => p.epoch === 1 && p.batch === 5 && ac.abort() }));
      expect([rb.aborted, rb.state.epoch, rb.state.batch]).toEqual([true, 1, 5]);
      const rc = await trainSgd(b, train, sa({ epochs: 2, resume: rb.state }));
      expect(b.getParameters()).toEqual(straight.getParameters());
      expect(rc.state.optimizer.velocity).toEqual(r0.state.optimizer.velocity);
      for (const m of [straight, a, a2, b]) m.dispose();
    });

    test('bad options', async () => {
      const m = bnNet(1);
      await expect(trainSgd(m, train, options({ optimizer: 'adam' as 'sgd' }))).rejects.toThrow(/trainSgd: options.optimizer must be 'sgd' or 'scale-amended-sgd', got "adam"/);
      await expect(trainSgd(m, train, options({ sgd: { fanOut: 'max' } as TrainSgdOptions['sgd'] }))).rejects.toThrow(/trainSgd: options.sgd.fanOut is an option of scale-amended SGD/);
      await expect(trainSgd(m, train, sa({ sgd: { fanOut: 'all' as 'max' } }))).rejects.toThrow(/ScaleAmendedSgd: options.fanOut must be 'max' or 'sum', got "all"/);
      m.dispose();
    });
  });

  describe('bad options', () => {
    let m: Sequential;
    beforeAll(() => {
      m = cnn3([1, 8, 8], 3);
    });
    afterAll(() => m.dispose());
    test.each([
      ['epochs 1.5', { epochs: 1.5 }, RangeError, /trainSgd: options.epochs must be a positive integer, got 1.5/],
      ['epochs 0', { epochs: 0 }, RangeError, /options.epochs must be a positive integer, got 0/],
      ['batchSize 0', { batchSize: 0 }, RangeError, /options.batchSize must be a positive integer, got 0/],
      ['negative C', { sgd: { C: -1 } }, RangeError, /options.C must be a positive finite number, got -1/],
      ['learning rate 0', { sgd: { learningRate: 0 } }, RangeError, /options.learningRate must be a positive finite number, got 0/],
      ['momentum 1', { sgd: { momentum: 1 } }, RangeError, /options.momentum must be in \[0, 1\), got 1/],
      ['seed -1', { seed: -1 }, RangeError, /options.seed must be a non-negative safe integer, got -1/],
      ['no loss', { loss: undefined }, TypeError, /trainSgd: options.loss must be a Loss/],
      ['test of another shape', { test: bars(3, 1) && createDataset({ name: 't', images: new Float32Array(3 * 49), labels: new Int32Array(3), shape: [1, 7, 7], classes: 3 }) }, RangeError, /trainSgd: options.test has images of shape \[1, 7, 7\] but the network expects \[1, 8, 8\]/],
      ['evaluateEvery', { evaluateEvery: 'batch' }, RangeError, /options.evaluateEvery must be 'epoch' or 'never', got "batch"/],
      ['onProgress not a function', { onProgress: 3 }, TypeError, /options.onProgress must be a function, got number/],
    ])('%s', async (_n, extra, kind, re) => {
      const p = trainSgd(m, train, options(extra as Partial<TrainSgdOptions>));
      await expect(p).rejects.toThrow(kind);
      await expect(trainSgd(m, train, options(extra as Partial<TrainSgdOptions>))).rejects.toThrow(re);
    });

    test('training data of another shape or class count', async () => {
      const wrong = createDataset({ name: 'w', images: new Float32Array(4 * 3 * 64), labels: new Int32Array(4), shape: [3, 8, 8], classes: 3 });
      await expect(trainSgd(m, wrong, options())).rejects.toThrow(/trainSgd: train has images of shape \[3, 8, 8\] but the network expects \[1, 8, 8\]/);
      const k5 = createDataset({ name: 'k', images: new Float32Array(4 * 64), labels: new Int32Array(4), shape: [1, 8, 8], classes: 5 });
      await expect(trainSgd(m, k5, options())).rejects.toThrow(/trainSgd: train has 5 classes but the network has 3 outputs/);
    });

    test('an incompatible resume state', async () => {
      const r = await trainSgd(m, train, options({ epochs: 1 }));
      await expect(trainSgd(m, train, options({ batchSize: 32, resume: r.state }))).rejects.toThrow(/options.resume was made with batch size 16 but options.batchSize is 32/);
      await expect(trainSgd(m, bars(30, 3), options({ resume: r.state }))).rejects.toThrow(/options.resume was made with 240 training examples but train has 30/);
      await expect(trainSgd(m, train, options({ resume: { ...r.state, parameters: new Float32Array(3) } }))).rejects.toThrow(/options.resume has 3 parameters but the network has/);
    });
  });
});
