// `npm run bench -- vs-torch`: our cnn3 beside PyTorch's on the same machine, the same shapes
// (28×28×1, 32×32×3) and the same thread count, alternating samples in one run (issue 13):
//   SGD step at batch 128, inference at batch 1024, Gauss-Newton product Gv at |S| = 500 and
//   3,000, and one subsampled-Newton iteration of fixed work (Note [fixed Newton iteration] in
//   scripts/bench/vs-torch-ours.ts);
// with images/s of each and the ratio ours ÷ PyTorch (> 1: we are faster) against the issue's
// targets, and the SGD step's FLOP/s as a share of the SGEMM rate measured in the same run.
// PyTorch runs in scripts/bench/vs_torch.py (scripts/bench/torch-peer.ts starts and drives it),
// in both memory layouts, and the faster layout of each workload is the one compared.
import { getNumThreads, info, setNumThreads } from '../../lib';
import {
  BenchSuite,
  Column,
  UsageError,
  calibrateInner,
  fmt,
  formatTable,
  loadAverage,
  machineInfo,
  median,
  parseOptions,
  positiveInt,
  timeSample,
  writeJson,
} from './common';
import { LAYOUTS, TorchPeer, TORCH_PYTHON_ENV, type Layout, type TorchInfo, type TorchSetup } from './torch-peer';
import { cnn3StepFlops, sgemmGflops } from './train';
import { gvWorkload, inferenceWorkload, newtonWorkload, sgdWorkload, type InputShape, type NewtonWork, type Workload } from './vs-torch-ours';

/** The targets: ours ÷ PyTorch images/s, and the SGD step's share of the SGEMM rate. */
export const TARGETS = { sgd: 1.2, inference: 1.2, newton: 1.3, sgdFractionOfSgemm: 0.6 } as const;
export const WORKLOAD_KINDS = ['sgd', 'inference', 'gv', 'newton'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];
const SHAPES: readonly InputShape[] = [
  [1, 28, 28],
  [3, 32, 32],
];

/** Everything the options decide. */
export interface VsTorchSettings {
  quick: boolean;
  threads: number;
  repeats: number; // alternating samples of each side, SGD step, inference and Gv
  newtonRepeats: number; // the same for the Newton iteration
  sgdBatch: number;
  inferenceBatch: number;
  gvSamples: readonly number[];
  newton: NewtonWork;
  only: readonly WorkloadKind[];
  json: string | undefined;
}

export function vsTorchSettings(argv: readonly string[]): VsTorchSettings {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--threads', '--repeats', '--newton-repeats', '--train-size', '--only', '--json'] });
  const quick = opts.get('--quick') === true;
  const trainSize = positiveInt(opts, '--train-size', quick ? 1000 : 60000);
  const onlyOpt = opts.get('--only');
  let only: WorkloadKind[] = [...WORKLOAD_KINDS];
  if (typeof onlyOpt === 'string') {
    const names = onlyOpt.split(',').map((s) => s.trim());
    const bad = names.filter((n) => !(WORKLOAD_KINDS as readonly string[]).includes(n));
    if (bad.length > 0 || names.length === 0) {
      throw new UsageError(`--only must be a comma-separated list of ${WORKLOAD_KINDS.join(', ')}; got ${JSON.stringify(onlyOpt)}`);
    }
    only = WORKLOAD_KINDS.filter((k) => names.includes(k));
  }
  const json = opts.get('--json');
  return {
    quick,
    threads: positiveInt(opts, '--threads', 2),
    repeats: positiveInt(opts, '--repeats', quick ? 2 : 7),
    newtonRepeats: positiveInt(opts, '--newton-repeats', quick ? 1 : 3),
    sgdBatch: 128,
    inferenceBatch: 1024,
    gvSamples: quick ? [64, 256] : [500, 3000],
    // the paper's 5% sampling and mini-batches of 256 (lib/train/newton-trainer.ts)
    newton: { trainSize, samples: Math.ceil(0.05 * trainSize), batchSize: 256, cgSteps: 10, lineSearchPasses: 2 },
    only,
    json: typeof json === 'string' ? json : undefined,
  };
}

/** What vs_torch.py needs to build the same workload. */
type TorchWork = Omit<TorchSetup, 'shape' | 'layouts' | 'warmup' | 'minSampleMs'>;

/** One compared workload on one shape. */
interface Case {
  kind: WorkloadKind;
  label: string;
  images: number; // images per call: the images/s of both sides are images / time
  target: number | null;
  repeats: number;
  warmup: number;
  /** Builds our half, and says how PyTorch builds the same. */
  build: () => { ours: Workload; torch: TorchWork };
}

/** The measured figures of one case. */
export interface VsTorchRow {
  work: string;
  kind: WorkloadKind;
  input: string;
  images: number;
  parameters: number;
  oursMs: number;
  oursImagesPerSecond: number;
  torchMs: number | null; // the faster layout's median
  torchLayout: Layout | null;
  torchMsByLayout: Partial<Record<Layout, number>>;
  torchImagesPerSecond: number | null;
  ratio: number | null; // ours ÷ PyTorch images/s
  target: number | null;
}

function shapeText(s: InputShape): string {
  return `${s[1]}x${s[2]}x${s[0]}`;
}

function cases(s: VsTorchSettings, shape: InputShape): Case[] {
  const all: Case[] = [
    {
      kind: 'sgd', label: `SGD step, batch ${s.sgdBatch}`, images: s.sgdBatch, target: TARGETS.sgd, repeats: s.repeats, warmup: 2,
      build: () => ({ ours: sgdWorkload(shape, s.sgdBatch), torch: { workload: 'sgd', batch: s.sgdBatch } }),
    },
    {
      kind: 'inference', label: `inference, batch ${s.inferenceBatch}`, images: s.inferenceBatch, target: TARGETS.inference, repeats: s.repeats, warmup: 2,
      build: () => ({ ours: inferenceWorkload(shape, s.inferenceBatch), torch: { workload: 'inference', batch: s.inferenceBatch } }),
    },
    ...s.gvSamples.map((n): Case => ({
      kind: 'gv', label: `Gv, |S| = ${n}`, images: n, target: null, repeats: s.repeats, warmup: 1,
      build: () => ({ ours: gvWorkload(shape, n), torch: { workload: 'gv', samples: n } }),
    })),
    {
      kind: 'newton',
      label: 'Newton iteration',
      images: s.newton.trainSize, target: TARGETS.newton, repeats: s.newtonRepeats, warmup: 1,
      build: () => {
        const ours = newtonWorkload(shape, s.newton);
        return { ours, torch: { workload: 'newton', ...s.newton, imagesFile: ours.imagesFile } };
      },
    },
  ];
  return all.filter((c) => s.only.includes(c.kind));
}

// Note [PyTorch layout]
// PyTorch runs each workload in both memory layouts (NCHW contiguous and channels_last), one
// sample of each per turn, and the faster layout's median is compared. The Newton iteration is
// the exception: a turn of it lasts minutes, so it runs in the layout that won the SGD step on
// the same shape (its gradient pass is mostly the same forward+backward), both when there is no
// SGD row.

/** Runs one case: both sides built and warmed up, then alternating samples (ours first on even repeats). */
async function runCase(c: Case, shape: InputShape, peer: TorchPeer | undefined, layouts: readonly Layout[]): Promise<VsTorchRow> {
  const { ours, torch } = c.build();
  try {
    if (peer !== undefined) {
      const torchParameters = await peer.setup({ ...torch, shape, layouts, warmup: c.warmup, minSampleMs: 0 });
      if (torchParameters !== ours.parameters) {
        throw new Error(`cnn3 on ${shapeText(shape)} has ${ours.parameters} parameters here but ${torchParameters} in PyTorch: not the same network`);
      }
    }
    const inner = calibrateInner(ours.run, c.warmup, 0);
    const oursMs: number[] = [];
    const torchMs = new Map<Layout, number[]>();
    for (let r = 0; r < c.repeats; r++) {
      const torchSample = async (): Promise<void> => {
        if (peer === undefined) return;
        for (const [layout, ms] of await peer.time()) torchMs.set(layout, [...(torchMs.get(layout) ?? []), ms]);
      };
      if (r % 2 === 1) await torchSample();
      oursMs.push(timeSample(ours.run, inner));
      if (r % 2 === 0) await torchSample();
    }
    if (peer !== undefined) await peer.release();
    const byLayout: Partial<Record<Layout, number>> = {};
    for (const [layout, ms] of torchMs) byLayout[layout] = median(ms);
    const best = (Object.entries(byLayout) as [Layout, number][]).sort((a, b) => a[1] - b[1])[0];
    const ours1 = median(oursMs);
    return {
      work: c.label,
      kind: c.kind,
      input: shapeText(shape),
      images: c.images,
      parameters: ours.parameters,
      oursMs: ours1,
      oursImagesPerSecond: c.images / (ours1 / 1000),
      torchMs: best ? best[1] : null,
      torchLayout: best ? best[0] : null,
      torchMsByLayout: byLayout,
      torchImagesPerSecond: best ? c.images / (best[1] / 1000) : null,
      ratio: best ? best[1] / ours1 : null,
      target: c.target,
    };
  } finally {
    ours.dispose();
  }
}

// A line on stderr as each row is measured: a full run lasts many minutes.
function progress(r: VsTorchRow): void {
  const torch = r.torchMs === null ? '' : `, PyTorch ${fmt(r.torchMs)} ms (${r.torchLayout}), ours ÷ PyTorch ${fmt(r.ratio, 2)}`;
  console.error(`vs-torch: ${r.input} ${r.work}: ours ${fmt(r.oursMs)} ms${torch}`);
}

function verdict(ratio: number | null, target: number | null): string {
  if (target === null) return '';
  if (ratio === null) return 'no PyTorch';
  return ratio >= target ? 'met' : 'missed';
}

function printRows(rows: readonly VsTorchRow[]): void {
  const columns: Column[] = [
    { title: 'work', align: 'left' },
    { title: 'input', align: 'left' },
    { title: 'ours ms', align: 'right' },
    { title: 'ours images/s', align: 'right' },
    { title: 'PyTorch ms', align: 'right' },
    { title: 'PyTorch images/s', align: 'right' },
    { title: 'PyTorch layout', align: 'left' },
    { title: 'ours ÷ PyTorch', align: 'right' },
    { title: 'target', align: 'right' },
    { title: '', align: 'left' },
  ];
  const sep = (r: VsTorchRow, i: number): boolean => i > 0 && rows[i - 1].input !== r.input;
  const out: string[][] = [];
  rows.forEach((r, i) => {
    if (sep(r, i)) out.push([]);
    out.push([
      r.work,
      r.input,
      fmt(r.oursMs),
      fmt(r.oursImagesPerSecond, 0),
      fmt(r.torchMs),
      fmt(r.torchImagesPerSecond, 0),
      r.torchLayout ?? '-',
      r.ratio === null ? '-' : `${fmt(r.ratio, 2)}×`,
      r.target === null ? '-' : `≥ ${r.target}×`,
      verdict(r.ratio, r.target),
    ]);
  });
  console.log(formatTable(columns, out));
}

/** The SGD step's GEMM-shaped FLOP/s (scripts/bench/train.ts) as a share of the SGEMM rate. */
export interface SgdFlopsRow {
  input: string;
  oursGflops: number;
  oursFraction: number;
  torchGflops: number | null;
  torchFraction: number | null;
}

function sgdFlops(rows: readonly VsTorchRow[], sgemm: number, batch: number): SgdFlopsRow[] {
  return rows
    .filter((r) => r.kind === 'sgd')
    .map((r) => {
      const [h, w, c] = r.input.split('x').map(Number);
      const flops = cnn3StepFlops(batch, h, w, c);
      const ours = flops / (r.oursMs * 1e6);
      const torch = r.torchMs === null ? null : flops / (r.torchMs * 1e6);
      return { input: r.input, oursGflops: ours, oursFraction: ours / sgemm, torchGflops: torch, torchFraction: torch === null ? null : torch / sgemm };
    });
}

async function run(argv: readonly string[]): Promise<number> {
  const s = vsTorchSettings(argv);
  setNumThreads(s.threads);
  const runtime = info();
  const loadBefore = loadAverage();
  console.log(`newton-cnn ${runtime.version} vs PyTorch: cnn3, float32, squared loss, ${getNumThreads()} threads on both sides${s.quick ? ' (--quick: small workloads, not the issue\'s figures)' : ''}`);
  console.log(`GEMM: ${runtime.gemm} (${runtime.blas}), load average ${fmt(loadBefore, 2)}`);
  // Ctrl-C: exit through process.exit so that the 'exit' handlers kill the PyTorch half and
  // remove the Newton workload's image file (Node's default SIGINT exit runs neither).
  const interrupted = (): never => process.exit(130);
  process.once('SIGINT', interrupted);
  const started = await TorchPeer.start(s.threads);
  let peer: TorchPeer | undefined;
  let torchInfo: TorchInfo | null = null;
  let torchNote: string;
  let failed = false;
  if (started instanceof TorchPeer) {
    peer = started;
    torchInfo = started.info;
    torchNote = `PyTorch ${torchInfo.torch} (Python ${torchInfo.python}, ${torchInfo.executable}): ${torchInfo.threads} threads, ${torchInfo.interopThreads} inter-op thread, oneDNN ${torchInfo.mkldnn ? 'on' : 'unavailable'}; both layouts measured, the faster one compared`;
  } else {
    torchNote = started.skip;
  }
  console.log(torchNote);
  const rows: VsTorchRow[] = [];
  let sgemm = NaN;
  try {
    sgemm = sgemmGflops(s.repeats);
    console.log(`SGEMM 1024³ (ours, this run): ${fmt(sgemm)} GFLOP/s\n`);
    for (const shape of SHAPES) {
      for (const c of cases(s, shape)) {
        const sgdLayout = rows.find((r) => r.kind === 'sgd' && r.input === shapeText(shape))?.torchLayout;
        const layouts = c.kind === 'newton' && sgdLayout ? [sgdLayout] : LAYOUTS;
        try {
          rows.push(await runCase(c, shape, peer, layouts));
        } catch (e) {
          if (peer === undefined) throw e;
          // PyTorch's half failed (crashed, or a different network): said once, ours goes on alone
          console.error(`vs-torch: ${e instanceof Error ? e.message : String(e)}\nvs-torch: continuing without PyTorch`);
          failed = true;
          await peer.close();
          peer = undefined;
          rows.push(await runCase(c, shape, undefined, layouts));
        }
        progress(rows[rows.length - 1]);
      }
    }
  } finally {
    await peer?.close();
    process.removeListener('SIGINT', interrupted);
  }
  const shapes = [...new Set(rows.map((r) => r.input))];
  for (const input of shapes) {
    const r = rows.find((x) => x.input === input);
    if (r !== undefined) console.log(`cnn3 on ${input}: ${r.parameters} parameters${torchInfo !== null && !failed ? ' on both sides' : ''}`);
  }
  if (s.only.includes('newton')) {
    const n = s.newton;
    console.log(`Newton iteration: f and ∇f over l = ${n.trainSize} images (batches of ${n.batchSize}, S last), ${n.cgSteps} CG steps on |S| = ${n.samples}, ${n.lineSearchPasses} line-search passes over the l images; images/s = l / time; PyTorch in the SGD step's faster layout`);
  }
  console.log('');
  printRows(rows);
  const flops = sgdFlops(rows, sgemm, s.sgdBatch);
  if (flops.length > 0) {
    console.log(`\nSGD step, GEMM-shaped FLOP/s (scripts/bench/train.ts) as a share of SGEMM ${fmt(sgemm)} GFLOP/s; target ≥ ${TARGETS.sgdFractionOfSgemm * 100}%:`);
    for (const f of flops) {
      const torch = f.torchGflops === null ? '' : `; PyTorch ${fmt(f.torchGflops)} GFLOP/s = ${fmt(100 * f.torchFraction!)}%`;
      console.log(`  ${f.input}: ours ${fmt(f.oursGflops)} GFLOP/s = ${fmt(100 * f.oursFraction)}% ${f.oursFraction >= TARGETS.sgdFractionOfSgemm ? 'met' : 'missed'}${torch}`);
    }
  }
  const loadAfter = loadAverage();
  console.log(`\nload average ${fmt(loadBefore, 2)} at the start, ${fmt(loadAfter, 2)} at the end`);
  if (s.json !== undefined) {
    writeJson(s.json, {
      suite: 'vs-torch',
      machine: machineInfo(),
      runtime,
      threads: s.threads,
      quick: s.quick,
      loadAverage: { start: loadBefore, end: loadAfter },
      torch: torchInfo,
      torchNote,
      targets: TARGETS,
      sgemm1024Gflops: sgemm,
      rows,
      sgdFlops: flops,
    });
  }
  return failed ? 1 : 0;
}

export const suite: BenchSuite = {
  name: 'vs-torch',
  description: 'cnn3 beside PyTorch (same shapes, threads, float32, squared loss; alternating runs): SGD step, inference, Gv, one Newton iteration; images/s ratios vs the issue-13 targets',
  usage: [
    '  --quick             small workloads and repeats (CI): Gv at |S| = 64, 256, Newton on l = 1000',
    '  --threads N         threads of both sides (default 2)',
    '  --repeats N         alternating samples per side of SGD, inference, Gv (default 7)',
    '  --newton-repeats N  the same for the Newton iteration (default 3)',
    '  --train-size L      images of the Newton iteration (default 60000; |S| = 5%)',
    '  --only LIST         comma-separated subset of sgd,inference,gv,newton',
    '  --json FILE         also write the figures as JSON',
    `  PyTorch: ${TORCH_PYTHON_ENV}=/path/to/python, else python3 on PATH (torch must import)`,
  ].join('\n'),
  run,
};
