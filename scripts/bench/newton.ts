// `npm run bench -- newton`: the subsampled Newton method's costs for cnn3 on 28×28×1.
//
// Part 1 (products): the time of one Gauss-Newton product (G_S + λI)v divided by the time of one
// forward+backward on the same subsample S (|S| = 3000 = 5% of 60,000 by default; target ≤ 1.4,
// the FLOP ratio is about 1.3: 45.9 vs 35.1 MFLOP per image), in both Gv modes:
//   rop     R-operator pass + B + backward each product;
//   stored  per-sample Jacobians of S stored once (|S|·10·P floats; refused above the limit,
//           --max-stored-gib), then two GEMMs per parameter layer per product. Its one-off
//           preparation time is reported, and the break-even number of CG steps.
// The stored mode is measured at a small |S| (--stored-samples, default 100) beside rop at the
// same |S|, and at the main |S| when it fits the limit.
//
// Part 2 (scripts/bench/newton-iteration.ts): the time split of whole Newton iterations (f and ∇f
// over all l images with S last / CG / line search) for l = 60,000 synthetic images and 5% sampling.
import { Tensor, getNumThreads, info, randomUniform } from '../../lib';
import { cnn3 as cnn3Model, squaredLoss, type Sequential } from '../../lib/nn';
import { iterationRows, printIterationRows, type IterationRow } from './newton-iteration';
import { BenchSuite, Column, UsageError, fmt, formatTable, loadAverage, machineInfo, measure, parseOptions, positiveInt, writeJson } from './common';

export const TARGET_GV_RATIO = 1.4;
const CLASSES = 10;
const INPUT: [number, number, number] = [1, 28, 28];
const TRAIN_SIZE = 60000;

/** One row of part 1. */
export interface GvRow {
  samples: number;
  mode: 'rop' | 'stored';
  forwardBackwardMs: number;
  gvMs: number;
  ratio: number;
  prepareMs: number | null;
  storedGiB: number | null;
  note: string;
}

/** n synthetic images of `input` = [C, H, W] in [−0.5, 0.5) and one-hot targets. */
export function syntheticBatch(n: number, seed: number, input: readonly [number, number, number] = INPUT): { x: Tensor; y: Tensor } {
  const x = randomUniform([n, ...input], { seed, low: -0.5, high: 0.5 });
  const oneHot = new Float32Array(n * CLASSES);
  for (let i = 0; i < n; i++) oneHot[i * CLASSES + ((i * 7) % CLASSES)] = 1;
  return { x, y: Tensor.from(oneHot, { shape: [n, CLASSES] }) };
}

/** forward + loss gradient + backward on (x, y): the per-subsample work of a gradient evaluation. */
function forwardBackward(model: Sequential, x: Tensor, y: Tensor): void {
  const z = model.forward(x);
  const dz = squaredLoss.gradient(z, y);
  model.backward(dz);
  dz.dispose();
  z.dispose();
}

/** Times part 1 at |S| = n in the given modes. */
export function gvRows(n: number, modes: readonly ('rop' | 'stored')[], repeats: number, maxStoredBytes: number): GvRow[] {
  const model = cnn3Model(INPUT, CLASSES, { seed: 0 });
  const { x, y } = syntheticBatch(n, 3);
  const v = randomUniform([model.numParameters], { seed: 4, low: -1, high: 1 });
  const rows: GvRow[] = [];
  try {
    const fb = measure(() => forwardBackward(model, x, y), { repeats, warmup: 1, minSampleMs: 0 });
    // The products run on the cache of one forward pass, as in CG.
    const z = model.forward(x);
    const opts = { loss: squaredLoss, lambda: 1, C: 0.01, trainSize: TRAIN_SIZE };
    for (const mode of modes) {
      let prepareMs: number | null = null;
      let storedGiB: number | null = null;
      let note = '';
      if (mode === 'stored') {
        const bytes = n * CLASSES * model.numParameters * 4;
        storedGiB = bytes / 1024 ** 3;
        if (bytes > maxStoredBytes) {
          rows.push({ samples: n, mode, forwardBackwardMs: fb.medianMs, gvMs: NaN, ratio: NaN, prepareMs: null, storedGiB, note: `refused: needs ${fmt(storedGiB, 2)} GiB > limit ${fmt(maxStoredBytes / 1024 ** 3, 2)} GiB` });
          continue;
        }
        const t0 = performance.now();
        model.prepareStoredJacobian({ maxBytes: maxStoredBytes });
        prepareMs = performance.now() - t0;
      }
      const gv = measure(() => model.gaussNewtonProduct(v, { ...opts, mode, maxBytes: maxStoredBytes }).dispose(), { repeats, warmup: 1, minSampleMs: 0 });
      if (mode === 'stored') model.disposeStored();
      rows.push({ samples: n, mode, forwardBackwardMs: fb.medianMs, gvMs: gv.medianMs, ratio: gv.medianMs / fb.medianMs, prepareMs, storedGiB, note });
    }
    z.dispose();
  } finally {
    model.releaseCache();
    for (const t of [x, y, v]) t.dispose();
    model.dispose();
  }
  // Break-even CG steps of the stored mode against rop at the same |S|.
  const rop = rows.find((r) => r.mode === 'rop');
  for (const r of rows) {
    if (r.mode === 'stored' && rop && r.prepareMs !== null && Number.isFinite(r.gvMs)) {
      const saved = rop.gvMs - r.gvMs;
      r.note = saved > 0 ? `pays off after ${Math.ceil(r.prepareMs / saved)} CG steps` : 'slower per product than rop';
    }
  }
  return rows;
}

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--json', '--samples', '--stored-samples', '--repeats', '--max-stored-gib', '--iterations', '--train-size', '--batch-size'] });
  const quick = opts.get('--quick') === true;
  const samples = positiveInt(opts, '--samples', quick ? 64 : 3000);
  const storedSamples = positiveInt(opts, '--stored-samples', quick ? 16 : 100);
  const repeats = positiveInt(opts, '--repeats', quick ? 2 : 3);
  const iterations = opts.has('--iterations') && opts.get('--iterations') === '0' ? 0 : positiveInt(opts, '--iterations', quick ? 1 : 2);
  const trainSize = positiveInt(opts, '--train-size', quick ? 1000 : TRAIN_SIZE);
  const evalBatch = positiveInt(opts, '--batch-size', 256);
  const gibOpt = opts.get('--max-stored-gib');
  const gib = typeof gibOpt === 'string' ? Number(gibOpt) : 2;
  if (!Number.isFinite(gib) || gib <= 0) throw new UsageError(`--max-stored-gib must be a number > 0, got ${String(gibOpt)}`);
  const maxStoredBytes = gib * 1024 ** 3;
  const runtime = info();
  console.log(`newton-cnn ${runtime.version}: Gauss-Newton product vs forward+backward, cnn3 on 28x28x1 (squared loss)`);
  console.log(`GEMM: ${runtime.gemm} (${runtime.blas}), ${getNumThreads()} threads, load average ${fmt(loadAverage(), 2)}\n`);
  const rows = [...gvRows(samples, ['rop', 'stored'], repeats, maxStoredBytes), ...(storedSamples !== samples ? gvRows(storedSamples, ['rop', 'stored'], repeats, maxStoredBytes) : [])];
  const columns: Column[] = [
    { title: '|S|', align: 'right' },
    { title: 'Gv mode', align: 'left' },
    { title: 'fwd+bwd ms', align: 'right' },
    { title: 'Gv ms', align: 'right' },
    { title: 'Gv / (fwd+bwd)', align: 'right' },
    { title: `target ≤ ${TARGET_GV_RATIO}`, align: 'left' },
    { title: 'J store ms', align: 'right' },
    { title: 'J GiB', align: 'right' },
    { title: 'note', align: 'left' },
  ];
  console.log(
    formatTable(
      columns,
      rows.map((r) => [
        String(r.samples),
        r.mode,
        fmt(r.forwardBackwardMs),
        Number.isFinite(r.gvMs) ? fmt(r.gvMs) : '-',
        Number.isFinite(r.ratio) ? fmt(r.ratio, 2) : '-',
        Number.isFinite(r.ratio) ? (r.ratio <= TARGET_GV_RATIO ? 'PASS' : 'ABOVE') : '-',
        r.prepareMs === null ? '-' : fmt(r.prepareMs),
        r.storedGiB === null ? '-' : fmt(r.storedGiB, 3),
        r.note,
      ]),
    ),
  );
  let split: IterationRow[] = [];
  if (iterations > 0) {
    split = await iterationRows(trainSize, 0.05, iterations, evalBatch);
    printIterationRows(split, trainSize, 0.05);
  }
  const json = opts.get('--json');
  if (typeof json === 'string') writeJson(json, { suite: 'newton', machine: machineInfo(), runtime, gv: rows, iterations: split });
  return 0;
}

export const suite: BenchSuite = {
  name: 'newton',
  description: 'Subsampled Newton for cnn3 on 28×28×1: Gv / forward+backward at |S| = 3000 (rop, stored); Newton iteration time split at l = 60,000, 5% sampling',
  usage: [
    '  --quick               |S| 64 and 16, 2 repeats (a smoke test)',
    '  --samples N           the subsample size |S| (default 3000 = 5% of 60,000)',
    '  --stored-samples N    the small |S| at which the stored mode is compared (default 100)',
    '  --max-stored-gib X    memory limit of the stored Jacobian (default 2)',
    '  --repeats N           timed repetitions (default 3)',
    '  --iterations N        part 2: Newton iterations timed (default 2; 0 skips part 2)',
    '  --train-size L        part 2: synthetic training images (default 60000; sampling 5%)',
    '  --batch-size N        part 2: mini-batch of the f/∇f passes (default 256)',
    '  --json FILE           also write the results as JSON',
  ].join('\n'),
  run,
};
