// Data-parallel training (lib/distributed.ts; trainSgd's and trainNewton's options.distributed)
// under `mpirun -np 2`: the ranks' shares of each batch (and of Newton's subsample S), summed,
// take the steps one process takes on the whole batch — θ and the batch-norm statistics equal to
// float64 rounding (|Δ| ≤ 1e-10 relative to max |θ|), Newton's CG steps and λ identical, with
// batch norm synchronised over the ranks; `newton-cnn train --distributed mpi` prints once and
// trains as one process does.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cnn3, data, trainNewton, nn, type Distributed } from '../lib';
import { evaluateObjective } from '../lib/train';
import { distCli, ensureDist } from './fixtures/dist';
import { requiredInCi } from './helpers';
import { mpiEnv, mpirun, mpiUnavailable } from './mpi';

const why = mpiUnavailable();
// Without MPI in the build or mpirun on PATH the group is skipped, the reason in its title.
const withMpi = (title: string, fn: () => void): void => (why === null ? describe(title, fn) : describe.skip(`${title} [skipped: ${why}]`, fn));
requiredInCi('the data-parallel training group', why);

const script = path.join(__dirname, 'fixtures', 'distributed-train.js');

interface Run {
  theta: number[];
  buffers: number[];
  rank: number;
  size: number;
  losses?: number[];
  objective?: number;
  objectives?: number[];
  cgSteps?: number[];
  lambdas?: number[];
  testAccuracy: number;
  testLoss?: number;
}

/** Runs the fixture on `ranks` processes; every rank's result, by rank. */
function run(lib: string, ranks: number, kind: string): Run[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-dp-'));
  try {
    const out = mpirun(ranks, [script, lib, ranks === 1 ? 'single' : 'distributed', kind, dir], 180000);
    if (out.status !== 0) throw new Error(`exit ${out.status}: ${out.stderr}`);
    return Array.from({ length: ranks }, (_, r) => JSON.parse(fs.readFileSync(path.join(dir, `rank-${r}.json`), 'utf8')) as Run);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const maxDiff = (a: readonly number[], b: readonly number[]): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const maxAbs = (a: readonly number[]): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function expectSameRun(two: Run, single: Run): void {
  expect(two.size).toBe(2);
  expect(two.theta).toHaveLength(single.theta.length);
  expect(maxDiff(two.theta, single.theta)).toBeLessThanOrEqual(1e-10 * maxAbs(single.theta));
  expect(two.buffers).toHaveLength(single.buffers.length);
  if (single.buffers.length > 0) expect(maxDiff(two.buffers, single.buffers)).toBeLessThanOrEqual(1e-10 * maxAbs(single.buffers));
  expect(two.testAccuracy).toBe(single.testAccuracy);
}

withMpi('data-parallel training over MPI', () => {
  let lib: string;
  beforeAll(() => {
    lib = ensureDist();
  });

  for (const [kind, what] of [
    ['sgd', 'SGD, cnn3'],
    ['sgd-augment', 'SGD, cnn3, crop-flip augmentation'],
    ['sgd-bn', 'SGD, CIFAR ResNet-8 with synchronised batch norm'],
    ['sgd-buckets', 'SGD, cnn3, the gradient summed in 1 KiB buckets during the backward pass'],
    ['sgd-dropout', 'SGD, a conv net with dropout (each rank draws its shard of the batch\'s masks)'],
    ['sgd-bn-buckets', 'SGD, CIFAR ResNet-8, synchronised batch norm, 2 KiB gradient buckets'],
  ] as const) {
    test(`${what}: 2 ranks take the steps of one process on the whole batch`, () => {
      const [single] = run(lib, 1, kind);
      const [two] = run(lib, 2, kind);
      expectSameRun(two, single);
      expect(two.objective).toBeCloseTo(single.objective!, 10);
      // the training loss of an epoch is the job's, not a rank's
      two.losses!.forEach((l, i) => expect(l).toBeCloseTo(single.losses![i], 10));
    }, 240000);
  }

  for (const [kind, what] of [
    ['newton', 'subsampled Newton, cnn3'],
    ['newton-bn', 'subsampled Newton, CIFAR ResNet-8 (S split among the ranks, batch norm synchronised)'],
  ] as const) {
    test(`${what}: 2 ranks take the iterations of one process`, () => {
      const [single] = run(lib, 1, kind);
      const ranks = run(lib, 2, kind);
      const two = ranks[0];
      expectSameRun(two, single);
      // CG and the damping in lockstep: the same steps and λ as one process
      expect(two.cgSteps).toEqual(single.cgSteps);
      expect(two.lambdas).toEqual(single.lambdas);
      two.objectives!.forEach((f, i) => expect(Math.abs(f - single.objectives![i])).toBeLessThanOrEqual(1e-10 * Math.abs(single.objectives![i])));
      expect(two.testLoss).toBeCloseTo(single.testLoss!, 10);
      // every rank holds the same θ and statistics, bit for bit
      expect(ranks.map((r) => r.rank)).toEqual([0, 1]);
      expect(ranks[1].theta).toEqual(ranks[0].theta);
      expect(ranks[1].buffers).toEqual(ranks[0].buffers);
    }, 240000);
  }

  test('a resumed 2-rank Newton run goes on from rank 0\'s state, bit for bit as without the stop', () => {
    const straight = run(lib, 2, 'newton-bn');
    const resumed = run(lib, 2, 'newton-bn-resume');
    for (const r of [0, 1]) {
      expect(resumed[r].theta).toEqual(straight[0].theta);
      expect(resumed[r].buffers).toEqual(straight[0].buffers);
    }
  }, 240000);

  test('SGD with syncBatchNorm false: each rank normalises its own shard, the ranks keep the same θ and statistics', () => {
    const [single] = run(lib, 1, 'sgd-bn-local');
    const ranks = run(lib, 2, 'sgd-bn-local');
    expect(ranks.map((r) => r.rank)).toEqual([0, 1]);
    expect(ranks[1].theta).toEqual(ranks[0].theta);
    expect(ranks[1].buffers).toEqual(ranks[0].buffers);
    expect(ranks[0].theta.every(Number.isFinite)).toBe(true);
    // not the single process's steps: its batch statistics were the whole batch's
    expect(maxDiff(ranks[0].theta, single.theta)).toBeGreaterThan(1e-6);
  }, 240000);

  for (const optimizer of ['sgd', 'newton'] as const) {
    test(`newton-cnn train --optimizer ${optimizer} --distributed mpi: rank 0 prints the run of one process`, () => {
      // (float32: one Newton iteration, since a later one's CG may stop a step earlier or later
      // on another rounding of the same sums; the float64 cases above follow several)
      const argv = ['train', '--optimizer', optimizer, ...(optimizer === 'sgd' ? ['--epochs', '1'] : ['--iterations', '1', '--sampling-rate', '0.2', '--C', '1']), '--train-limit', '512', '--test-limit', '128', '--batch-size', '64', '--quiet', '--json'];
      const one = spawnSync(process.execPath, [distCli, ...argv], { encoding: 'utf8', timeout: 180000 });
      const two = mpirun(2, [distCli, ...argv, '--distributed', 'mpi'], 180000);
      expect(two.status).toBe(0);
      const lines = two.stdout.trim().split('\n').filter((l) => l.startsWith('{'));
      expect(lines).toHaveLength(1); // rank 1 prints nothing
      const a = JSON.parse(one.stdout) as { objective: number; testAccuracy: number };
      const b = JSON.parse(lines[0]) as { objective: number; testAccuracy: number };
      expect(Math.abs(b.objective - a.objective)).toBeLessThanOrEqual(1e-4 * Math.abs(a.objective));
      expect(Math.abs(b.testAccuracy - a.testAccuracy)).toBeLessThanOrEqual(1 / 128);
    }, 400000);
  }

  test('newton-cnn train --distributed mpi refuses scale-amended SGD', () => {
    const usage = spawnSync(process.execPath, [distCli, 'train', '--optimizer', 'scale-amended-sgd', '--distributed', 'mpi'], { encoding: 'utf8', env: mpiEnv() });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--distributed: scale-amended SGD draws its per-layer scales from the whole batch and is not data-parallel yet/);
  });
});

// Checks that need no second process: a stand-in communicator of 4 ranks that only counts.
describe('data-parallel options (no MPI needed)', () => {
  const fake = (size: number): Distributed => ({
    backend: 'mpi',
    rank: 0,
    size,
    localRank: 0,
    localSize: size,
    library: 'stand-in',
    device: 'cpu',
    allReduceSum: () => undefined,
    allReduceSumStart: () => ({ wait: () => undefined }),
    allReduceScalars: () => undefined,
    broadcast: () => undefined,
    barrier: () => undefined,
  });
  const set = (): data.Dataset => data.createDataset({ name: 't', images: new Float32Array(10 * 64).fill(0.5), labels: Int32Array.from({ length: 10 }, (_, i) => i % 2), shape: [1, 8, 8], classes: 2 });

  test('a subsample smaller than the ranks is refused, naming both', async () => {
    const model = cnn3([1, 8, 8], 2, { seed: 1 });
    try {
      expect(() => evaluateObjective(model, set(), { C: 1, loss: nn.crossEntropyLoss, subsample: Int32Array.of(1, 2), distributed: fake(4) })).toThrow(
        /evaluateObjective: options.subsample has 2 examples, fewer than the 4 processes of options.distributed/,
      );
      await expect(trainNewton(model, set(), { loss: nn.crossEntropyLoss, newton: { samplingRate: 0.2 }, distributed: fake(4) })).rejects.toThrow(
        /trainNewton: options.distributed: \|S\| = 2 is smaller than the 4 ranks/,
      );
    } finally {
      model.dispose();
    }
  });

  test('options.distributed must be a Distributed', () => {
    const model = cnn3([1, 8, 8], 2, { seed: 1 });
    try {
      expect(() => evaluateObjective(model, set(), { C: 1, loss: nn.crossEntropyLoss, distributed: {} as unknown as Distributed })).toThrow(
        /evaluateObjective: options.distributed must be the Distributed of initDistributed\(\), got object/,
      );
    } finally {
      model.dispose();
    }
  });
});
