// Hardening of training (issue 14): a diverging run stops every optimizer with a DivergenceError
// naming where, and never hands a non-finite θ to onCheckpoint; C and the learning rate are
// refused when the regulariser alone makes the run diverge or drowns the loss in rounding; the
// checkpoint writer refuses non-finite θ, removes the temporaries of dead writers and refuses a
// path that is a directory; malformed layer specs are refused with the layer, field and value.
import { spawnSync } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { checkCheckpointPath, saveCheckpoint } from '../lib/checkpoint';
import { cnn3, GraphBuilder, Sequential, squaredLoss, type Loss } from '../lib/nn';
import { ScaleAmendedSgd, Sgd } from '../lib/optim';
import { DivergenceError, trainNewton, trainSgd, type TrainState } from '../lib/train';
import { bars } from './data.fixtures';

const train = bars(240, 1);
const allFinite = (a: ArrayLike<number>): boolean => Array.prototype.every.call(a, Number.isFinite) as boolean;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-hardening-train-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('divergence stops every optimizer', () => {
  test.each(['sgd', 'scale-amended-sgd'] as const)('%s with a huge learning rate: DivergenceError naming the epoch and batch; no non-finite state is checkpointed', async (optimizer) => {
    const m = cnn3([1, 8, 8], 3, { seed: 3 });
    const states: TrainState[] = [];
    let caught: unknown;
    try {
      await trainSgd(m, train, {
        epochs: 3,
        batchSize: 16,
        seed: 1,
        loss: squaredLoss,
        optimizer,
        // C = 10: C·l = 2400, far from the regulariser's own stability limit; the loss term diverges
        sgd: { learningRate: 1000, momentum: 0.9, C: 10 },
        evaluateEvery: 'never',
        checkpointEvery: 1,
        onCheckpoint: (s) => void states.push(s),
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DivergenceError);
    const e = caught as DivergenceError;
    expect(e.name).toBe('DivergenceError');
    expect(e.optimizer).toBe(optimizer);
    expect(e.epoch).toBe(0);
    expect(e.batch).toBeGreaterThanOrEqual(1);
    expect(e.message).toMatch(/trainSgd: diverged/);
    expect(e.message).toMatch(/epoch 1, batch \d+\/15/);
    expect(e.message).toMatch(/learning rate/);
    for (const s of states) {
      expect(allFinite(s.parameters)).toBe(true);
      expect(allFinite(s.optimizer.velocity)).toBe(true);
    }
    m.dispose();
  });

  test('trainNewton: a non-finite objective is a DivergenceError naming the iteration', async () => {
    const m = cnn3([1, 8, 8], 3, { seed: 3 });
    let calls = 0;
    // a loss that overflows from its 20th evaluation on (the second iteration's gradient pass)
    const bad: Loss = { ...squaredLoss, value: (z, y) => (++calls >= 20 ? Infinity : squaredLoss.value(z, y)) };
    const states: TrainState[] = [];
    await expect(
      trainNewton(m, train, { iterations: 3, loss: bad, batchSize: 16, newton: { cgMaxIterations: 3, samplingRate: 0.1 }, onCheckpoint: (s) => void states.push(s) }),
    ).rejects.toThrow(DivergenceError);
    await expect(trainNewton(m, train, { iterations: 1, loss: { ...squaredLoss, value: () => NaN }, batchSize: 64 })).rejects.toThrow(
      /trainNewton: diverged: the objective f is NaN at iteration 1/,
    );
    for (const s of states) expect(allFinite(s.parameters)).toBe(true);
    m.dispose();
  });
});

describe('C and the learning rate are checked against the size of the data', () => {
  test('C·l below 2^-53 is refused by every optimizer (the loss would vanish below rounding)', async () => {
    const m = cnn3([1, 8, 8], 3, { seed: 3 });
    expect(() => new Sgd(m, { C: 1e-300 }, 240)).toThrow(/Sgd: options.C = 1e-300 with l = 240 training examples gives C·l = 2.4e-298/);
    expect(() => new ScaleAmendedSgd(m, { C: 1e-300 }, 240)).toThrow(RangeError);
    await expect(trainNewton(m, train, { iterations: 1, loss: squaredLoss, newton: { C: 1e-300 } })).rejects.toThrow(/trainNewton: options.newton.C = 1e-300 .* C·l = 2.4e-298/);
    await expect(trainSgd(m, train, { epochs: 1, loss: squaredLoss, sgd: { C: 1e-300 } })).rejects.toThrow(/C·l/);
    expect(() => new Sgd(m, { C: 1e300 }, 1e10)).toThrow(/C·l .* overflows/);
    m.dispose();
  });

  test('a learning rate at which the regulariser alone diverges is refused', () => {
    const m = cnn3([1, 8, 8], 3, { seed: 3 });
    // 1/(C·l) = 1/2.4; classic momentum is stable on it for η < 2(1 + μ)·C·l = 9.12
    expect(() => new Sgd(m, { learningRate: 10, momentum: 0.9, C: 0.01 }, 240)).toThrow(/Sgd: options.learningRate 10 .* 2\(1 \+ μ\)/);
    expect(() => new Sgd(m, { learningRate: 9, momentum: 0.9, C: 0.01 }, 240)).not.toThrow();
    // Nesterov: η < 2(1 + μ)/(1 + 2μ)·C·l = 3.2
    expect(() => new Sgd(m, { learningRate: 4, momentum: 0.9, nesterov: true, C: 0.01 }, 240)).toThrow(/Nesterov/);
    // the weight decay adds to the curvature
    expect(() => new Sgd(m, { learningRate: 1, momentum: 0, C: 1, weightDecay: 2 }, 240)).toThrow(/weightDecay/);
    m.dispose();
  });
});

describe('the checkpoint writer', () => {
  const model = { name: 'cnn3', inputShape: [1, 8, 8] as [number, number, number], classes: 3, dtype: 'float32' as const, numParameters: 4 };
  const state = (theta: number[]): TrainState => ({
    version: 1,
    epoch: 0,
    batch: 0,
    permutation: new Int32Array(0),
    rngState: [1, 2, 3, 4],
    optimizer: { iteration: 1, velocity: new Float32Array(4) },
    parameters: Float32Array.from(theta),
    seed: 0,
    batchSize: 16,
    trainSize: 240,
    elapsed: 1,
    epochLoss: { sum: 0, batches: 0 },
  });

  test('refuses non-finite θ and leaves the previous checkpoint byte for byte', async () => {
    const file = path.join(dir, 'finite.ckpt');
    await saveCheckpoint(file, { model, options: {}, state: state([1, 2, 3, 4]) });
    const before = fs.readFileSync(file);
    await expect(saveCheckpoint(file, { model, options: {}, state: state([1, NaN, 3, 4]) })).rejects.toThrow(/saveCheckpoint: .*finite\.ckpt: .*θ\[1\] = NaN/);
    const v = state([1, 2, 3, 4]);
    v.optimizer.velocity[2] = Infinity;
    await expect(saveCheckpoint(file, { model, options: {}, state: v })).rejects.toThrow(/velocity\[2\] = Infinity/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('removes the temporaries of dead writers of this checkpoint, never those of a live process or of another file', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'stale-'));
    const file = path.join(sub, 'run.ckpt');
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const stale = `.run.ckpt.${dead}.0badc0de.tmp`;
      const alive = `.run.ckpt.${live.pid}.12345678.tmp`;
      const other = `.other.ckpt.${dead}.0badc0de.tmp`;
      const unrelated = '.run.ckpt.notapid.tmp';
      for (const f of [stale, alive, other, unrelated]) fs.writeFileSync(path.join(sub, f), 'partial');
      await saveCheckpoint(file, { model, options: {}, state: state([1, 2, 3, 4]) });
      expect(fs.readdirSync(sub).sort()).toEqual([alive, other, unrelated, 'run.ckpt'].sort());
    } finally {
      live.kill();
    }
  });

  test('a path that is a directory, a missing parent or a parent that is a file are refused before anything is written', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'isdir-'));
    const inner = path.join(sub, 'inner');
    fs.mkdirSync(inner);
    await expect(checkCheckpointPath(inner)).rejects.toThrow(/inner.* is a directory/);
    await expect(saveCheckpoint(inner, { model, options: {}, state: state([1, 2, 3, 4]) })).rejects.toThrow(/is a directory/);
    expect(fs.readdirSync(sub)).toEqual(['inner']); // no temporary next to it
    await expect(checkCheckpointPath(path.join(sub, 'nope', 'x.ckpt'))).rejects.toThrow(/no such directory/);
    fs.writeFileSync(path.join(sub, 'file'), '');
    await expect(checkCheckpointPath(path.join(sub, 'file', 'x.ckpt'))).rejects.toThrow(/not a directory/);
    await expect(checkCheckpointPath(path.join(sub, 'ok.ckpt'))).resolves.toBe(path.join(sub, 'ok.ckpt'));
    expect(fs.readdirSync(sub).sort()).toEqual(['file', 'inner']); // the probe is gone
  });

  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  (root ? test.skip : test)('an unwritable directory is refused', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'ro-'));
    fs.chmodSync(sub, 0o555);
    try {
      await expect(checkCheckpointPath(path.join(sub, 'x.ckpt'))).rejects.toThrow(/cannot write/);
    } finally {
      fs.chmodSync(sub, 0o755);
    }
  });
});

describe('malformed layer specs name the layer, the field and the value', () => {
  const build = (spec: unknown): (() => void) => () => new Sequential([1, 8, 8], [spec as never, { kind: 'flatten' }, { kind: 'linear', outFeatures: 3, bias: true }]).dispose();
  test.each([
    [null, TypeError, /Sequential: layers\[0\] is null, not a layer spec; use conv2d\(\)/],
    [{ type: 'conv2d' }, TypeError, /Sequential: layers\[0\] has no 'kind' .*'type': "conv2d"/],
    [{ kind: 'conv3d' }, TypeError, /layers\[0\] is not a layer spec \(kind "conv3d"\)/],
    [{ kind: 'conv2d' }, TypeError, /Sequential: layers\[0\] \(conv2d\): outChannels is missing/],
    [{ kind: 'conv2d', outChannels: -1, kernel: [3, 3], stride: [1, 1], padding: [0, 0], bias: true }, RangeError, /layers\[0\] \(conv2d\): outChannels must be a positive integer, got -1/],
    [{ kind: 'conv2d', outChannels: 4, kernel: 3, stride: [1, 1], padding: [0, 0], bias: true }, TypeError, /layers\[0\] \(conv2d\): kernel must be a pair \[a, b\] .*got 3/],
    [{ kind: 'conv2d', outChannels: 4, kernel: [3, 3], stride: [1, 1], padding: [0, 0], bias: 'yes' }, TypeError, /\(conv2d\): bias must be a boolean, got "yes"/],
    [{ kind: 'maxPool2d', kernel: [2, 2] }, TypeError, /layers\[0\] \(maxPool2d\): stride is missing/],
    [{ kind: 'dropout', p: 2 }, RangeError, /layers\[0\] \(dropout\): p must be a number in \[0, 1\), got 2/],
    [{ kind: 'batchNorm2d' }, TypeError, /layers\[0\] \(batchNorm2d\): eps is missing/],
    [{ kind: 'scale' }, TypeError, /\(scale\): init is missing/],
    [{ kind: 'constantScale', factor: 'x' }, TypeError, /\(constantScale\): factor must be a finite number, got "x"/],
  ])('%j', (spec, cls, msg) => {
    expect(build(spec)).toThrow(cls as ErrorConstructor);
    expect(build(spec)).toThrow(msg as RegExp);
  });

  test('GraphBuilder names the node', () => {
    const g = new GraphBuilder([1, 8, 8]);
    expect(() => g.add({ kind: 'linear', outFeatures: '10', bias: true } as never, g.input)).toThrow(/layers\[0\] \(linear\): outFeatures must be a positive integer, got "10"/);
  });
});
