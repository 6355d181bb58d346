// Data-parallel SGD (lib/distributed.ts, trainSgd's options.distributed) under `mpirun -np 2`:
// the ranks' shards of each batch, summed, take the steps one process takes on the whole batch —
// θ equal to float64 rounding (|Δ| ≤ 1e-10 relative to max |θ|) with and without augmentation;
// `newton-cnn train --distributed mpi` prints once and trains as one process does.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { distCli, ensureDist } from './fixtures/dist';
import { mpiEnv, mpirun, mpiUnavailable } from './mpi';

const why = mpiUnavailable();
// Without MPI in the build or mpirun on PATH the group is skipped, the reason in its title.
const withMpi = (title: string, fn: () => void): void => (why === null ? describe(title, fn) : describe.skip(`${title} [skipped: ${why}]`, fn));

const script = path.join(__dirname, 'fixtures', 'distributed-sgd.js');

interface Run {
  theta: number[];
  losses: number[];
  objective: number;
  size: number;
}

function parse(out: { status: number | null; stdout: string; stderr: string }): Run {
  if (out.status !== 0) throw new Error(`exit ${out.status}: ${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').filter((l) => l.startsWith('{'))[0]) as Run;
}

withMpi('data-parallel SGD over MPI', () => {
  let lib: string;
  beforeAll(() => {
    lib = ensureDist();
  });

  for (const augment of [false, true]) {
    test(`2 ranks take the steps of one process on the whole batch${augment ? ' (crop-flip augmentation)' : ''}`, () => {
      const single = parse(mpirun(1, [script, lib, 'single', augment ? '1' : '0'], 120000));
      const two = parse(mpirun(2, [script, lib, 'distributed', augment ? '1' : '0'], 120000));
      expect(two.size).toBe(2);
      expect(two.theta).toHaveLength(single.theta.length);
      const scale = Math.max(...single.theta.map(Math.abs));
      const worst = two.theta.reduce((m, v, i) => Math.max(m, Math.abs(v - single.theta[i])), 0);
      expect(worst).toBeLessThanOrEqual(1e-10 * scale);
      expect(two.objective).toBeCloseTo(single.objective, 10);
      // the training loss of an epoch is the job's, not a rank's
      two.losses.forEach((l, i) => expect(l).toBeCloseTo(single.losses[i], 10));
    }, 240000);
  }

  test('newton-cnn train --distributed mpi: rank 0 prints the run of one process', () => {
    const argv = ['train', '--optimizer', 'sgd', '--epochs', '1', '--train-limit', '512', '--test-limit', '128', '--batch-size', '64', '--quiet', '--json'];
    const one = spawnSync(process.execPath, [distCli, ...argv], { encoding: 'utf8', timeout: 180000 });
    const two = mpirun(2, [distCli, ...argv, '--distributed', 'mpi'], 180000);
    expect(two.status).toBe(0);
    const lines = two.stdout.trim().split('\n').filter((l) => l.startsWith('{'));
    expect(lines).toHaveLength(1); // rank 1 prints nothing
    const a = JSON.parse(one.stdout) as { objective: number; testAccuracy: number };
    const b = JSON.parse(lines[0]) as { objective: number; testAccuracy: number };
    expect(Math.abs(b.objective - a.objective)).toBeLessThanOrEqual(1e-4 * Math.abs(a.objective));
    expect(Math.abs(b.testAccuracy - a.testAccuracy)).toBeLessThanOrEqual(1 / 128);
    const usage = spawnSync(process.execPath, [distCli, 'train', '--distributed', 'mpi'], { encoding: 'utf8', env: mpiEnv() });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--distributed: data-parallel newton is not in this build yet; it trains --optimizer sgd/);
  }, 400000);
});
