// `npm run bench -- distributed`: data-parallel training over MPI (lib/distributed.ts) under mpirun:
//   1. all-reduce bandwidth: a 4 MiB float32 tensor summed over 2 ranks (median of the calls);
//   2. cnn3 SGD images/s on synthetic 28×28×1 data, global batch 128: 1 rank × 1 thread,
//      1 rank × 2 threads, 2 ranks × 1 thread each; scaling efficiency = (2 ranks) / (2 × 1 rank),
//      one core per rank. On a 2-core machine both runs share the same cores, so the figure is
//      bounded by them; on a machine with more cores (or GPUs, with NCCL) the same bench runs as is.
//      2 ranks sum the gradient in 16 KiB buckets while the backward pass goes on (lib/train/
//      gradient-buckets.ts), and once more in one all-reduce after it, for comparison;
//   3. one subsampled-Newton iteration of cnn3 on the same data (f and ∇f over all images, CG
//      limited to 10 steps on |S| = a quarter of them, the line search), seconds per iteration
//      (median), in the same three configurations.
// With NCCL and 2 GPUs (or --backend nccl) every rank trains on its GPU: the same figures, NCCL's.
// The parent runs each configuration as `mpirun -np R node dist/scripts/bench.js distributed
// --worker …`; rank 0 of a worker prints one JSON line.
import { spawnSync } from 'child_process';
import * as path from 'path';

import { devices, distributedInfo, initDistributed, setNumThreads, Tensor, type DistributedBackend } from '../../lib';
import { createDataset } from '../../lib/data';
import { cnn3, squaredLoss } from '../../lib/nn';
import { trainNewton, trainSgd } from '../../lib/train';
import { mpirunEnv } from '../mpi-env';
import { BenchSuite, fmt, loadAverage, machineInfo, median, parseOptions, positiveInt, writeJson } from './common';

interface WorkerResult {
  ranks: number;
  threads: number;
  allReduceMs?: number;
  imagesPerSecond: number;
  /** 2 ranks: SGD images/s with the gradient summed in one all-reduce after the backward pass (no buckets). */
  imagesPerSecondOneAllReduce?: number;
  /** Seconds per Newton iteration (median). */
  newtonSeconds: number;
  /** The Newton iterations' CG steps. */
  cgSteps: number[];
}

async function worker(backend: DistributedBackend, images: number, epochs: number, threads: number, iterations: number): Promise<number> {
  setNumThreads(threads);
  const dist = initDistributed(backend, { timeoutSeconds: 120 });
  const device = dist.device; // 'cpu', or this rank's GPU with NCCL
  let allReduceMs: number | undefined;
  if (dist.size > 1) {
    const t = Tensor.zeros([2 ** 20], { dtype: 'float32', device }); // 4 MiB
    const times: number[] = [];
    for (let i = 0; i < 60; i++) {
      dist.barrier();
      const t0 = performance.now();
      dist.allReduceSum(t);
      if (i >= 10) times.push(performance.now() - t0);
    }
    t.dispose();
    allReduceMs = median(times);
  }
  const x = new Float32Array(images * 784);
  let s = 3;
  for (let i = 0; i < x.length; i++) x[i] = ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24) / 255;
  const train = createDataset({ name: 'synthetic', images: x, labels: Int32Array.from({ length: images }, (_, i) => i % 10), shape: [1, 28, 28], classes: 10 });
  const model = cnn3([1, 28, 28], 10, { seed: 1, device });
  // 2 ranks: first without buckets (one all-reduce after the backward pass), then with them
  let imagesPerSecondOneAllReduce: number | undefined;
  if (dist.size > 1) {
    const plain = cnn3([1, 28, 28], 10, { seed: 1, device });
    imagesPerSecondOneAllReduce = (await trainSgd(plain, train, { epochs, batchSize: 128, loss: squaredLoss, evaluateEvery: 'never', distributed: dist, gradientBucketBytes: 0 })).imagesPerSecond;
    plain.dispose();
  }
  const r = await trainSgd(model, train, { epochs, batchSize: 128, loss: squaredLoss, evaluateEvery: 'never', distributed: dist, gradientBucketBytes: 16384 });
  model.dispose();
  // Newton: CG capped at 10 steps so that every configuration does the same work
  const newtonModel = cnn3([1, 28, 28], 10, { seed: 1, device });
  const n = await trainNewton(newtonModel, train, { iterations, batchSize: 256, loss: squaredLoss, newton: { samplingRate: 0.25, cgMaxIterations: 10 }, distributed: dist });
  newtonModel.dispose();
  const newtonSeconds = median(n.history.map((h) => h.times.gradient + h.times.cg + h.times.lineSearch));
  if (dist.rank === 0) {
    const out: WorkerResult = {
      ranks: dist.size,
      threads,
      imagesPerSecond: r.imagesPerSecond,
      ...(imagesPerSecondOneAllReduce !== undefined ? { imagesPerSecondOneAllReduce } : {}),
      newtonSeconds, cgSteps: n.history.map((h) => h.cgSteps), ...(allReduceMs !== undefined ? { allReduceMs } : {}) };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
  return 0;
}

function launch(backend: DistributedBackend, ranks: number, threads: number, images: number, epochs: number, iterations: number): WorkerResult {
  const script = path.join(__dirname, '..', 'bench.js');
  const args = ['distributed', '--worker', '--backend', backend, '--images', String(images), '--epochs', String(epochs), '--iterations', String(iterations), '--threads', String(threads)];
  const r = spawnSync('mpirun', ['-np', String(ranks), process.execPath, script, ...args], {
    encoding: 'utf8',
    env: mpirunEnv({ NEWTON_NUM_THREADS: String(threads) }),
    timeout: 600_000,
  });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || line === undefined) throw new Error(`mpirun -np ${ranks} failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(line) as WorkerResult;
}

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick', '--worker'], values: ['--json', '--images', '--epochs', '--iterations', '--threads', '--backend'] });
  const quick = opts.get('--quick') === true;
  const images = positiveInt(opts, '--images', quick ? 1024 : 8192);
  const epochs = positiveInt(opts, '--epochs', quick ? 1 : 2);
  const iterations = positiveInt(opts, '--iterations', quick ? 1 : 3);
  const info = distributedInfo();
  // NCCL where it can run 2 ranks (a GPU each), else MPI on the CPU; --backend chooses
  const gpus = devices().filter((d) => d.kind === 'cuda' && d.available).length;
  const chosen = opts.get('--backend') ?? (info.nccl.library !== null && gpus >= 2 ? 'nccl' : 'mpi');
  if (chosen !== 'mpi' && chosen !== 'nccl') throw new RangeError(`distributed: --backend must be mpi or nccl, got ${String(chosen)}`);
  const backend: DistributedBackend = chosen;
  if (opts.get('--worker') === true) return worker(backend, images, epochs, positiveInt(opts, '--threads', 1), iterations);
  const mpi = info.mpi;
  if (mpi.library === null) {
    console.log(`distributed: skipped (${mpi.reason})`);
    return 0;
  }
  if (spawnSync('mpirun', ['--version']).status !== 0) {
    console.log('distributed: skipped (mpirun is not on PATH: apt-get install openmpi-bin)');
    return 0;
  }
  if (backend === 'nccl' && info.nccl.library === null) {
    console.log(`distributed: skipped (--backend nccl: ${info.nccl.reason})`);
    return 0;
  }
  const over = backend === 'nccl' ? `${info.nccl.library ?? ''} over ${mpi.library} (a GPU per rank)` : mpi.library;
  console.log(
    `newton-cnn data-parallel training over ${over}: cnn3, 28×28×1, ${images} images; SGD: global batch 128, ${epochs} epoch(s); ` +
      `Newton: ${iterations} iteration(s), |S| = ${Math.ceil(images / 4)}, CG ≤ 10 steps; load average ${fmt(loadAverage(), 2)}`,
  );
  const one = launch(backend, 1, 1, images, epochs, iterations);
  const oneTwo = launch(backend, 1, 2, images, epochs, iterations);
  const two = launch(backend, 2, 1, images, epochs, iterations);
  const gbs = two.allReduceMs !== undefined ? (4 * 2 ** 20) / (two.allReduceMs / 1000) / 1e9 : NaN;
  console.log(`all-reduce of 4 MiB float32 over 2 ranks: ${fmt(two.allReduceMs, 3)} ms (median), ${fmt(gbs, 2)} GB/s`);
  console.log(
    `SGD images/s: 1 rank × 1 thread ${fmt(one.imagesPerSecond, 0)}; 1 rank × 2 threads ${fmt(oneTwo.imagesPerSecond, 0)}; 2 ranks × 1 thread ${fmt(two.imagesPerSecond, 0)} ` +
      `(gradient in 16 KiB buckets during the backward pass; in one all-reduce after it: ${fmt(two.imagesPerSecondOneAllReduce, 0)})`,
  );
  const efficiency = two.imagesPerSecond / (2 * one.imagesPerSecond);
  console.log(`SGD scaling efficiency, 2 ranks vs 1 (one core each): ${fmt(100 * efficiency, 1)}%; 2 ranks vs 1 rank on the same 2 cores: ${fmt(two.imagesPerSecond / oneTwo.imagesPerSecond, 2)}×`);
  console.log(
    `Newton seconds per iteration: 1 rank × 1 thread ${fmt(one.newtonSeconds, 2)}; 1 rank × 2 threads ${fmt(oneTwo.newtonSeconds, 2)}; 2 ranks × 1 thread ${fmt(two.newtonSeconds, 2)} ` +
      `(CG steps ${one.cgSteps.join(',')} / ${oneTwo.cgSteps.join(',')} / ${two.cgSteps.join(',')})`,
  );
  const newtonEfficiency = one.newtonSeconds / (2 * two.newtonSeconds);
  console.log(`Newton scaling efficiency, 2 ranks vs 1 (one core each): ${fmt(100 * newtonEfficiency, 1)}%; 2 ranks vs 1 rank on the same 2 cores: ${fmt(oneTwo.newtonSeconds / two.newtonSeconds, 2)}×`);
  const json = opts.get('--json');
  if (typeof json === 'string') {
    writeJson(json, { machine: machineInfo(), library: mpi.library, images, epochs, iterations, oneRankOneThread: one, oneRankTwoThreads: oneTwo, twoRanks: two, allReduceGBs: gbs, efficiency, newtonEfficiency });
  }
  return 0;
}

export const suite: BenchSuite = {
  name: 'distributed',
  description: 'Data-parallel training over MPI: all-reduce GB/s of 4 MiB over 2 ranks, cnn3 SGD images/s and Newton seconds per iteration with 1 and 2 ranks, scaling efficiency (needs MPI and mpirun)',
  usage: [
    '  --images N       synthetic training images (default 8192; --quick: 1024)',
    '  --epochs N       SGD epochs per run (default 2; --quick: 1)',
    '  --iterations N   Newton iterations per run (default 3; --quick: 1)',     '  --backend B      mpi (CPU tensors) or nccl (a GPU per rank; the default where NCCL and 2 GPUs are)',
    '  --quick          a short smoke run',
    '  --json FILE      write the figures as JSON',
  ].join('\n'),
  run,
};
