// scripts/repro-newton-methods-for-cnn: Tables 5 and 6 and Figure 3 of Wang, Tan & Lin, "Newton
// methods for convolutional neural networks" (ACM TIST 2020), through the shared harness
// (scripts/repro/harness.ts).
//
//   Table 5    test accuracy of subsampled Newton (5% sampling, C = 0.01l) and SG with momentum
//              (η0 cross-validated in the paper; ours: --sgd-lr-cnn3/--sgd-lr-cnn5), cnn3 and cnn5.
//   Table 6    sensitivity (cnn3): Newton's sampling rate 10/5/1% and SG's initial learning rate
//              0.1 … 0.0001, each for C = 0.01l, 0.1l, 1l.
//   Figure 3   test accuracy against training time, cnn3: subsampled Newton, SG with momentum and
//              SG without momentum ("the simple stochastic gradient method without using the
//              momentum and the learning-rate decay", §6.2), same initial weights, C = 0.01l.
//
// Figure 3's time is the training time alone: trainNewton/trainSgd run without their own
// evaluations (evaluateEvery 0 / 'never'); after every Newton iteration (onIteration) and every
// SG epoch (onEpoch) this script evaluates the test accuracy itself, timing the evaluation, and
// the point's time is the trainer's `elapsed` (taken before the callback) minus the evaluations
// made before it. The accuracy of the initial network is the point at 0 s.
//
// A run of the same network, method, settings and seed is made once and serves every table and
// the figure (Table 5's cnn3 runs are Table 6's C = 0.01l, 5% / η0 = 0.003 cells and Figure 3's
// Newton and SG-with-momentum curves).
//
// Data: none of the paper's data sets (MNIST, SVHN, CIFAR10, smallNORB) is bundled; the default is
// the bundled Fashion-MNIST subset, labelled a SUBSTITUTE in every output. --data takes any data set
// the readers support (--format, --shape for LIBSVM); the paper's preprocessing (min-max per image,
// zero-centring with the training mean), squared loss and He initialisation throughout.
import * as path from 'node:path';

import { loadDataset, paperPreprocess, subset, type Dataset } from '../lib/data';
import { modelByName, squaredLoss, type Network } from '../lib/nn';
import type { LinePlotOptions } from '../lib/plot';
import { DivergenceError, evaluateAccuracy, trainNewton, trainSgd } from '../lib/train';
import { evenlySpaced } from './repro/cifar-data';
import { ASSUMED_GPU_TFLOPS, fullRunEstimate, type RunWork } from './repro/full-estimate';
import {
  comparisonTable,
  durationText,
  extraInteger,
  extraNumber,
  fmt,
  machineLine,
  markdownTable,
  meanStd,
  parseReproOptions,
  progress,
  runScript,
  usage,
  UsageError,
  writeFigure,
  writeOutput,
  writeRunsJson,
  type ComparisonRow,
  type ExtraOption,
  type MeanStd,
  type ReproMode,
  type ReproOptions,
} from './repro/harness';

const SCRIPT = 'repro-newton-methods-for-cnn';
const PAPER = 'newton-methods-for-cnn';

// --- the paper's numbers -------------------------------------------------------------------------

const PAPER_DATASETS = ['MNIST', 'SVHN', 'CIFAR10', 'smallNORB'] as const;
type PaperDataset = (typeof PAPER_DATASETS)[number];
/** Table 3: image shape [C, H, W], training and test images, classes. */
const PAPER_DATA: Record<PaperDataset, { shape: [number, number, number]; train: number; test: number; classes: number }> = {
  MNIST: { shape: [1, 28, 28], train: 60000, test: 10000, classes: 10 },
  SVHN: { shape: [3, 32, 32], train: 73257, test: 26032, classes: 10 },
  CIFAR10: { shape: [3, 32, 32], train: 50000, test: 10000, classes: 10 },
  smallNORB: { shape: [2, 32, 32], train: 24300, test: 24300, classes: 5 },
};
/** Table 5: [Newton cnn3, SG cnn3 (η0), Newton cnn5, SG cnn5 (η0)]. */
const PAPER_TABLE5: Record<PaperDataset, [string, string, string, string]> = {
  MNIST: ['99.27%', '99.17% (0.003)', '99.43%', '99.42% (0.001)'],
  SVHN: ['92.75%', '93.06% (0.003)', '94.28%', '93.75% (0.003)'],
  CIFAR10: ['78.32%', '79.58% (0.003)', '80.19%', '79.63% (0.0003)'],
  smallNORB: ['95.05%', '95.06% (0.001)', '95.30%', '94.59% (0.001)'],
};
const RATES = [0.1, 0.05, 0.01] as const;
const LRS = [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001] as const;
const CS = [0.01, 0.1, 1] as const;
/** Table 6 (cnn3): per data set, per C, the 3 Newton rates then the 7 SG learning rates (%). */
const PAPER_TABLE6: Record<PaperDataset, number[][]> = {
  MNIST: [
    [99.28, 99.27, 99.18, 9.82, 9.96, 10.31, 99.17, 99.22, 99.05, 98.82],
    [99.22, 99.27, 99.06, 9.82, 9.96, 10.31, 99.12, 99.18, 98.91, 98.7],
    [99.05, 99.15, 99.02, 9.82, 9.96, 10.31, 98.9, 99.03, 98.87, 98.69],
  ],
  SVHN: [
    [92.79, 92.75, 92.21, 19.59, 19.59, 92.4, 93.06, 92.77, 92.35, 90.68],
    [92.11, 92.29, 91.89, 19.59, 19.59, 90.8, 91.17, 91.63, 91.74, 90.32],
    [91.2, 91.99, 91.81, 19.59, 19.59, 87.87, 89.81, 91.27, 91.57, 90.23],
  ],
  CIFAR10: [
    [78.27, 78.32, 75.46, 10.0, 10.0, 63.1, 79.58, 79.2, 76.94, 71.55],
    [74.19, 74.68, 73.24, 10.0, 10.0, 47.38, 71.29, 73.41, 73.99, 70.24],
    [72.75, 73.54, 72.61, 10.0, 10.0, 55.45, 67.17, 71.28, 73.03, 69.88],
  ],
  smallNORB: [
    [94.94, 95.05, 94.66, 20.0, 64.73, 95.03, 95.08, 95.06, 94.87, 94.38],
    [95.9, 95.41, 94.23, 20.0, 77.45, 95.78, 96.02, 95.64, 95.06, 94.23],
    [94.89, 94.83, 93.97, 20.0, 47.35, 94.78, 94.88, 94.79, 94.66, 94.07],
  ],
};

// --- modes and options ---------------------------------------------------------------------------

/** What the script can produce (--tables). */
export type Part = 'table5' | 'table6' | 'figure3';
const PARTS: readonly Part[] = ['table5', 'table6', 'figure3'];

/** What each mode runs. */
export interface Plan {
  /** Training images, evenly spaced over the set (undefined: all). */
  trainLimit: number | undefined;
  /** Test images, evenly spaced (undefined: all). */
  testLimit: number | undefined;
  newtonIterations: number;
  sgdEpochs: number;
  /** Runs (seeds) per cell of Tables 5 and 6. */
  tableRuns: number;
  /** Runs (seeds) per curve of Figure 3. */
  figureRuns: number;
  /** CG's maximum steps per Newton iteration (the paper's 250; quick 10). */
  cgMax: number;
  parts: Set<Part>;
  /** SG's η0 of Table 5 (and of Figure 3, cnn3) per model. */
  sgdLr: { cnn3: number; cnn5: number };
  /** Figure 3's target accuracies (fractions); undefined: 95% and 99% of the lower final accuracy of Newton and SG with momentum. */
  targets: number[] | undefined;
  format: 'idx' | 'cifar' | 'libsvm' | undefined;
  shape: [number, number, number] | undefined;
  /** Figure 3's time: 'wall' (the trainers' elapsed, the paper's running time) or 'cpu' (this process's CPU seconds). */
  clock: 'wall' | 'cpu';
}

const BASE = { cgMax: 250, parts: new Set(PARTS), sgdLr: { cnn3: 0.003, cnn5: 0.001 }, targets: undefined, format: undefined, shape: undefined, clock: 'wall' as const };
export const PLANS: Record<ReproMode, Plan> = {
  quick: { ...BASE, trainLimit: 256, testLimit: 128, newtonIterations: 2, sgdEpochs: 1, tableRuns: 1, figureRuns: 2, cgMax: 10 },
  reduced: { ...BASE, trainLimit: 2000, testLimit: undefined, newtonIterations: 15, sgdEpochs: 10, tableRuns: 1, figureRuns: 2 },
  full: { ...BASE, trainLimit: undefined, testLimit: undefined, newtonIterations: 100, sgdEpochs: 1000, tableRuns: 5, figureRuns: 5 },
};

const MODE_TEXT: Record<ReproMode, string> = {
  quick: '256 training / 128 test images, 2 Newton iterations (CGmax 10), 1 SG epoch, 1 run per table cell, 2 per Figure 3 curve (about 30 s)',
  reduced: '2,000 training images, 15 Newton iterations, 10 SG epochs, 1 run per table cell, 2 per Figure 3 curve (about 17 CPU-minutes at --threads 1)',
  full: "the whole data set given by --data, 100 Newton iterations, 1,000 SG epochs, 5 runs (results.md gives the GPU-time estimate; CPU-weeks)",
};

export const EXTRAS: readonly ExtraOption[] = [
  { name: 'format', value: 'FMT', help: 'idx | cifar | libsvm (default: guessed from the files)' },
  { name: 'shape', value: 'C,H,W', help: 'image shape (LIBSVM)' },
  { name: 'train-limit', value: 'N', help: 'training images, evenly spaced (default: quick 256, reduced 2000, full all)' },
  { name: 'test-limit', value: 'N', help: 'test images, evenly spaced (default: quick 128, else all)' },
  { name: 'newton-iterations', value: 'N', help: "Newton iterations per run (default: quick 2, reduced 15, full 100, the paper's)" },
  { name: 'sgd-epochs', value: 'N', help: "SG epochs per run (default: quick 1, reduced 10, full 1000, the paper's)" },
  { name: 'tables', value: 'LIST', help: 'which of 5, 6, figure3 (comma-separated; default all)' },
  { name: 'sgd-lr-cnn3', value: 'X', help: "SG's η0 for cnn3 in Table 5 and Figure 3 (default 0.003, the paper's on MNIST, SVHN, CIFAR10)" },
  { name: 'sgd-lr-cnn5', value: 'X', help: "SG's η0 for cnn5 in Table 5 (default 0.001, the paper's on MNIST, smallNORB)" },
  { name: 'clock', value: 'wall|cpu', help: "Figure 3's time: wall (default: the trainers' elapsed time, the paper's) or cpu (this process's CPU seconds: steadier on a shared machine, = wall at --threads 1 on an idle one)" },
  { name: 'target', value: 'P,P', help: "Figure 3's target test accuracies in % (default: 95% and 99% of the lower final accuracy of Newton and SG with momentum)" },
];

const DESCRIPTION = [
  'Reproduces Tables 5 and 6 (test accuracy of subsampled Newton vs SG with momentum; sensitivity to',
  "the sampling rate and to SG's learning rate, per C) and Figure 3 (test accuracy against training time,",
  'cnn3: Newton, SG with and without momentum) of "Newton methods for convolutional neural networks"',
  '(Wang, Tan & Lin). Writes results.md, figure3.svg and runs.json to --out.',
  '',
  "--data: fashion-mnist-small (default: the bundled subset, a SUBSTITUTE for the paper's MNIST, SVHN,",
  "CIFAR10 and smallNORB, labelled so), fashion-mnist (Debian's, also a substitute), or a directory or",
  'file of the readers (IDX, CIFAR binary, SVHN .mat, LIBSVM with --shape). One data set per run: the',
  "paper's Tables 5, 6 and Figure 3 have one row/panel per data set.",
].join('\n');

const USAGE = usage(SCRIPT, DESCRIPTION, EXTRAS, MODE_TEXT);

/** The plan of the mode with the options applied. */
export function planFor(o: ReproOptions): Plan {
  const p: Plan = { ...PLANS[o.mode], parts: new Set(PLANS[o.mode].parts), sgdLr: { ...PLANS[o.mode].sgdLr } };
  if (o.runs !== undefined) {
    p.tableRuns = o.runs;
    p.figureRuns = o.runs;
  }
  p.trainLimit = extraInteger(o, 'train-limit') ?? p.trainLimit;
  p.testLimit = extraInteger(o, 'test-limit') ?? p.testLimit;
  p.newtonIterations = extraInteger(o, 'newton-iterations') ?? p.newtonIterations;
  p.sgdEpochs = extraInteger(o, 'sgd-epochs') ?? p.sgdEpochs;
  p.sgdLr.cnn3 = extraNumber(o, 'sgd-lr-cnn3') ?? p.sgdLr.cnn3;
  p.sgdLr.cnn5 = extraNumber(o, 'sgd-lr-cnn5') ?? p.sgdLr.cnn5;
  const format = o.extra.get('format');
  if (format !== undefined) {
    if (format !== 'idx' && format !== 'cifar' && format !== 'libsvm') throw new UsageError(`--format must be idx, cifar or libsvm, got '${format === true ? '' : format}'`);
    p.format = format;
  }
  const shape = o.extra.get('shape');
  if (shape !== undefined) {
    const d = shape === true ? [] : shape.split(/[,x×]/).map((s) => Number(s.trim()));
    if (d.length !== 3 || !d.every((v) => Number.isSafeInteger(v) && v >= 1)) throw new UsageError(`--shape must be C,H,W (positive integers), got '${shape === true ? '' : shape}'`);
    p.shape = [d[0], d[1], d[2]];
  }
  const tables = o.extra.get('tables');
  if (tables !== undefined) {
    const parts = new Set<Part>();
    for (const t of (tables === true ? '' : tables).split(',').map((s) => s.trim().toLowerCase())) {
      if (t === '5') parts.add('table5');
      else if (t === '6') parts.add('table6');
      else if (t === 'figure3' || t === 'fig3') parts.add('figure3');
      else throw new UsageError(`--tables takes 5, 6 and figure3 (comma-separated), got '${tables === true ? '' : tables}'`);
    }
    p.parts = parts;
  }
  const clock = o.extra.get('clock');
  if (clock !== undefined) {
    if (clock !== 'wall' && clock !== 'cpu') throw new UsageError(`--clock must be wall or cpu, got '${clock === true ? '' : clock}'`);
    p.clock = clock;
  }
  const target = o.extra.get('target');
  if (target !== undefined) {
    const ts = (target === true ? '' : target).split(',').map((s) => Number(s.trim()));
    if (ts.length === 0 || !ts.every((t) => Number.isFinite(t) && t > 0 && t <= 100)) throw new UsageError(`--target takes test accuracies in % in (0, 100], comma-separated, got '${target === true ? '' : target}'`);
    p.targets = ts.map((t) => t / 100);
  }
  return p;
}

// --- runs ----------------------------------------------------------------------------------------

type Model = 'cnn3' | 'cnn5';
/** 'sgd': SG with momentum 0.9 and decay γ = 1e-6 (Algorithm 2); 'sgd-plain': no momentum, no decay (Figure 3). */
type Method = 'newton' | 'sgd' | 'sgd-plain';

/** One cell's training: the network, the method and its settings. */
export interface RunSpec {
  readonly model: Model;
  readonly method: Method;
  /** C in units of l (the paper's C = 0.01l is 0.01). */
  readonly C: number;
  /** Newton's sampling rate. */
  readonly samplingRate?: number;
  /** SG's η0. */
  readonly lr?: number;
}

const specKey = (s: RunSpec): string => `${s.model}/${s.method}/C${s.C}/${s.method === 'newton' ? `rate${s.samplingRate}` : `lr${s.lr}`}`;

/** Figure 3's three curves (cnn3, C = 0.01l, the same initial weights per seed). */
export function figure3Specs(plan: Plan): RunSpec[] {
  return [
    { model: 'cnn3', method: 'newton', C: 0.01, samplingRate: 0.05 },
    { model: 'cnn3', method: 'sgd', C: 0.01, lr: plan.sgdLr.cnn3 },
    { model: 'cnn3', method: 'sgd-plain', C: 0.01, lr: plan.sgdLr.cnn3 },
  ];
}

function table5Specs(plan: Plan): RunSpec[] {
  return (['cnn3', 'cnn5'] as const).flatMap((model): RunSpec[] => [
    { model, method: 'newton', C: 0.01, samplingRate: 0.05 },
    { model, method: 'sgd', C: 0.01, lr: plan.sgdLr[model] },
  ]);
}

function table6Specs(): RunSpec[][] {
  return CS.map((C) => [
    ...RATES.map((samplingRate): RunSpec => ({ model: 'cnn3', method: 'newton', C, samplingRate })),
    ...LRS.map((lr): RunSpec => ({ model: 'cnn3', method: 'sgd', C, lr })),
  ]);
}

/** The distinct runs of `plan.parts` with the runs (seeds) each needs; Figure 3's first, with their curves. */
export function distinctRuns(plan: Plan): { spec: RunSpec; runs: number; curve: boolean }[] {
  const out = new Map<string, { spec: RunSpec; runs: number; curve: boolean }>();
  const add = (spec: RunSpec, runs: number, curve: boolean): void => {
    const k = specKey(spec);
    const have = out.get(k);
    if (have === undefined) out.set(k, { spec, runs, curve });
    else out.set(k, { spec, runs: Math.max(have.runs, runs), curve: have.curve || curve });
  };
  if (plan.parts.has('figure3')) for (const s of figure3Specs(plan)) add(s, plan.figureRuns, true);
  if (plan.parts.has('table5')) for (const s of table5Specs(plan)) add(s, plan.tableRuns, false);
  if (plan.parts.has('table6')) for (const row of table6Specs()) for (const s of row) add(s, plan.tableRuns, false);
  return [...out.values()];
}

/** A run's test-accuracy curve: after every Newton iteration or SG epoch (step 0: the initial network). */
export interface Curve {
  step: number[];
  /** Training seconds at the point (the trainer's elapsed minus this script's evaluations before it). */
  seconds: number[];
  /** The same in CPU seconds of this process (process.cpuUsage, user + system; the evaluations' taken off). */
  cpuSeconds: number[];
  accuracy: number[];
}

/** One training run. */
export interface RunRecord {
  key: string;
  spec: RunSpec;
  seed: number;
  /** Final test accuracy (NaN when the run diverged). */
  accuracy: number;
  diverged: boolean;
  /** The DivergenceError's message. */
  divergence?: string;
  /** Newton iterations or SG epochs completed. */
  steps: number;
  /** Training seconds (evaluations excluded), the same in CPU seconds, and seconds of this script's test evaluations. */
  trainSeconds: number;
  trainCpuSeconds: number;
  evalSeconds: number;
  /** Present for Figure 3's runs. */
  curve?: Curve;
  /** Newton: CG steps and line-search function evaluations of every iteration, and |S|. */
  newton?: { cgSteps: number[]; lineSearchSteps: number[]; subsampleSize: number };
}

interface Data {
  train: Dataset;
  test: Dataset;
  /** The full sizes of the set read (before --train-limit / --test-limit). */
  fullTrain: number;
  fullTest: number;
  substitute: boolean;
  name: string;
  label: string;
}

const SUBSTITUTES = ['fashion-mnist-small', 'fashion-mnist'];

async function loadData(spec: string, plan: Plan): Promise<Data> {
  let raw: { train: Dataset; test: Dataset };
  try {
    raw = await loadDataset(spec, { ...(plan.format !== undefined ? { format: plan.format } : {}), ...(plan.shape !== undefined ? { shape: plan.shape } : {}) });
  } catch (e) {
    throw new UsageError(`--data ${spec}: ${(e as Error).message}`);
  }
  const train0 = subset(raw.train, evenlySpaced(raw.train.length, plan.trainLimit));
  const test0 = subset(raw.test, evenlySpaced(raw.test.length, plan.testLimit));
  const { train, test } = paperPreprocess(train0, test0);
  const substitute = SUBSTITUTES.includes(spec);
  const count = (n: number, of: number): string => `${n.toLocaleString('en-US')}${n < of ? ` (evenly spaced, of ${of.toLocaleString('en-US')})` : ''}`;
  const counts = `${count(train.length, raw.train.length)} training / ${count(test.length, raw.test.length)} test images, ${train.shape.join('×')}, ${train.classes} classes`;
  const name = substitute ? spec : path.basename(path.resolve(spec));
  const label = substitute
    ? `SUBSTITUTE for MNIST/SVHN/CIFAR10/smallNORB: ${spec === 'fashion-mnist-small' ? 'the bundled Fashion-MNIST subset' : "Debian's Fashion-MNIST"}, ${counts} (not the paper's data sets)`
    : `${name} (given by --data), ${counts}`;
  return { train, test, fullTrain: raw.train.length, fullTest: raw.test.length, substitute, name, label };
}

// The trainers give the event loop a turn every 50 ms, which frees the wrappers of the tensors
// they made (scripts/repro-demystifying-resnet.ts, Note [event-loop turns]); between runs this
// script gives it one more.
const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** Trains one network once; with `curve`, the test accuracy after every iteration/epoch and the training time. */
async function runOne(spec: RunSpec, seed: number, curve: boolean, data: Data, plan: Plan): Promise<RunRecord> {
  const model: Network = modelByName(spec.model, data.train.shape, data.train.classes, { seed });
  const record: RunRecord = { key: specKey(spec), spec, seed, accuracy: NaN, diverged: false, steps: 0, trainSeconds: 0, trainCpuSeconds: 0, evalSeconds: 0 };
  // this script's test evaluations since the trainer's clock started (subtracted from its elapsed)
  let evalSeconds = 0;
  let evalCpuSeconds = 0;
  const cpuNow = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  let cpuStart = 0;
  const c: Curve | undefined = curve ? { step: [], seconds: [], cpuSeconds: [], accuracy: [] } : undefined;
  const evaluate = (): number => {
    const t0 = performance.now();
    const u0 = cpuNow();
    const a = evaluateAccuracy(model, data.test);
    evalCpuSeconds += cpuNow() - u0;
    evalSeconds += (performance.now() - t0) / 1000;
    return a;
  };
  // after step `step` (an iteration or epoch), `elapsed` seconds by the trainer's clock, which ran
  // through our evaluations after the earlier steps: those are taken off
  const point = (step: number, elapsed: number): void => {
    record.steps = step;
    record.trainSeconds = elapsed - evalSeconds;
    record.trainCpuSeconds = cpuNow() - cpuStart - evalCpuSeconds;
    if (c === undefined) return;
    c.step.push(step);
    c.seconds.push(record.trainSeconds);
    c.cpuSeconds.push(record.trainCpuSeconds);
    c.accuracy.push(evaluate());
  };
  let initialEvalSeconds = 0;
  if (c !== undefined) {
    // the initial network at 0 s, before the trainer's clock starts
    c.step.push(0);
    c.seconds.push(0);
    c.cpuSeconds.push(0);
    c.accuracy.push(evaluate());
    initialEvalSeconds = evalSeconds;
    evalSeconds = 0;
    evalCpuSeconds = 0;
  }
  cpuStart = cpuNow();
  const wallStart = performance.now();
  try {
    if (spec.method === 'newton') {
      // filled in as the iterations end (a diverged run keeps those it made)
      const stats = { cgSteps: [] as number[], lineSearchSteps: [] as number[], subsampleSize: 0 };
      record.newton = stats;
      await trainNewton(model, data.train, {
        iterations: plan.newtonIterations,
        loss: squaredLoss,
        seed,
        evaluateEvery: 0,
        newton: { C: spec.C, samplingRate: spec.samplingRate ?? 0.05, cgMaxIterations: plan.cgMax },
        onIteration: (it) => {
          stats.cgSteps.push(it.cgSteps);
          stats.lineSearchSteps.push(it.lineSearchSteps);
          stats.subsampleSize = it.subsampleSize;
          point(it.iteration, it.elapsed);
        },
      });
    } else {
      const plain = spec.method === 'sgd-plain';
      await trainSgd(model, data.train, {
        epochs: plan.sgdEpochs,
        batchSize: 128,
        seed,
        loss: squaredLoss,
        sgd: { learningRate: spec.lr ?? 0.003, momentum: plain ? 0 : 0.9, decay: plain ? 0 : 1e-6, C: spec.C },
        evaluateEvery: 'never',
        onEpoch: (s) => point(s.epoch + 1, s.elapsed),
      });
    }
    record.accuracy = c !== undefined ? c.accuracy[c.accuracy.length - 1] : evaluate();
  } catch (e) {
    if (!(e instanceof DivergenceError)) throw e;
    record.diverged = true;
    record.divergence = e.message;
    // the time until it stopped, by this script's clocks
    record.trainSeconds = (performance.now() - wallStart) / 1000 - evalSeconds;
    record.trainCpuSeconds = cpuNow() - cpuStart - evalCpuSeconds;
  } finally {
    model.dispose();
  }
  record.evalSeconds = evalSeconds + initialEvalSeconds;
  if (c !== undefined) record.curve = c;
  return record;
}

// --- statistics of the runs ----------------------------------------------------------------------

/** Mean ± std of the final accuracies, with the count of diverged runs. */
function cellStats(rs: readonly RunRecord[]): MeanStd & { diverged: number; runs: number } {
  return { ...meanStd(rs.map((r) => r.accuracy)), diverged: rs.filter((r) => r.diverged).length, runs: rs.length };
}

/** "77.95%", "77.95 ± 0.12% (3 runs)", "diverged", with "(k/n diverged)" where some did. */
export function pctCell(s: MeanStd & { diverged: number; runs: number }): string {
  if (s.n === 0) return s.runs === 0 ? '—' : 'diverged';
  const v = s.n === 1 ? `${(100 * s.mean).toFixed(2)}%` : `${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)}% (${s.n} runs)`;
  return s.diverged > 0 ? `${v} (${s.diverged}/${s.runs} diverged)` : v;
}

/** The first recorded point at which the accuracy is ≥ target: its training seconds (NaN when never). */
export function timeToReach(c: Curve, target: number): number {
  const i = c.accuracy.findIndex((a) => a >= target);
  return i < 0 ? NaN : c.seconds[i];
}

/** A method's curve over its runs: per step, mean training seconds and mean ± std test accuracy (the steps every run has). */
export function meanCurve(curves: readonly Curve[]): { step: number[]; seconds: number[]; accuracy: number[]; std: number[] } {
  if (curves.length === 0) return { step: [], seconds: [], accuracy: [], std: [] };
  const n = Math.min(...curves.map((c) => c.step.length));
  const out = { step: [] as number[], seconds: [] as number[], accuracy: [] as number[], std: [] as number[] };
  for (let i = 0; i < n; i++) {
    out.step.push(curves[0].step[i]);
    out.seconds.push(meanStd(curves.map((c) => c.seconds[i])).mean);
    const a = meanStd(curves.map((c) => c.accuracy[i]));
    out.accuracy.push(a.mean);
    out.std.push(a.std);
  }
  return out;
}

/** Line plot options of Figure 3: each method's points at its own mean times, on the union of the x values. */
export function figure3Plot(title: string, methods: readonly { name: string; curve: ReturnType<typeof meanCurve> }[], errorBars: boolean, xLabel = 'training time (s)'): LinePlotOptions {
  const xs = [...new Set(methods.flatMap((m) => m.curve.seconds))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  return {
    title,
    x: { label: xLabel, values: xs },
    yLabel: 'test accuracy (%)',
    series: methods.map((m) => {
      const values = xs.map(() => NaN);
      const errors = xs.map(() => NaN);
      m.curve.seconds.forEach((x, i) => {
        values[at.get(x)!] = 100 * m.curve.accuracy[i];
        errors[at.get(x)!] = 100 * m.curve.std[i];
      });
      return { name: m.name, values, ...(errorBars ? { errors } : {}) };
    }),
  };
}

// --- the full mode's cost ------------------------------------------------------------------------

/** The work of the full mode's runs on one data set, per model. */
export function fullWork(
  train: number,
  test: number,
  perIteration: Record<Model, { cg: number; lineSearch: number }>,
): { model: Model; work: RunWork; runs: number }[] {
  const full: Plan = { ...PLANS.full, parts: new Set(PARTS) };
  const work: Record<Model, { -readonly [K in keyof RunWork]-?: number }> = {
    cnn3: { trainImages: 0, evalImages: 0, gradientImages: 0, gvImages: 0, forwardImages: 0 },
    cnn5: { trainImages: 0, evalImages: 0, gradientImages: 0, gvImages: 0, forwardImages: 0 },
  };
  const runs: Record<Model, number> = { cnn3: 0, cnn5: 0 };
  for (const { spec, runs: n, curve } of distinctRuns(full)) {
    const w = work[spec.model];
    runs[spec.model] += n;
    if (spec.method === 'newton') {
      const it = full.newtonIterations;
      const s = Math.ceil((spec.samplingRate ?? 0.05) * train);
      w.gradientImages += n * it * train;
      w.gvImages += n * it * perIteration[spec.model].cg * s;
      w.forwardImages += n * it * perIteration[spec.model].lineSearch * train;
      w.evalImages += n * (curve ? it + 1 : 1) * test;
    } else {
      w.trainImages += n * full.sgdEpochs * train;
      w.evalImages += n * (curve ? full.sgdEpochs + 1 : 1) * test;
    }
  }
  return (['cnn3', 'cnn5'] as const).map((model) => ({ model, work: work[model], runs: runs[model] }));
}

/** Mean CG steps and line-search evaluations per Newton iteration of the runs of each model (a fallback when a model has none). */
function measuredPerIteration(runs: readonly RunRecord[], cgMax: number): { per: Record<Model, { cg: number; lineSearch: number }>; text: string } {
  const of = (m: Model | undefined) => runs.filter((r) => r.newton !== undefined && (m === undefined || r.spec.model === m));
  const mean = (rs: RunRecord[], f: (r: RunRecord) => number[]) => meanStd(rs.flatMap(f)).mean;
  const any = of(undefined);
  const fallback = any.length > 0 ? { cg: mean(any, (r) => r.newton!.cgSteps), lineSearch: mean(any, (r) => r.newton!.lineSearchSteps) } : { cg: cgMax, lineSearch: 1 };
  const per = {} as Record<Model, { cg: number; lineSearch: number }>;
  const words: string[] = [];
  for (const m of ['cnn3', 'cnn5'] as const) {
    const rs = of(m);
    per[m] = rs.length > 0 ? { cg: mean(rs, (r) => r.newton!.cgSteps), lineSearch: mean(rs, (r) => r.newton!.lineSearchSteps) } : fallback;
    words.push(`${m} ${fmt(per[m].cg, 3)} CG steps and ${fmt(per[m].lineSearch, 3)} line-search evaluations per iteration${rs.length > 0 ? ' (measured here)' : any.length > 0 ? ' (cnn3’s, no cnn5 run here)' : ' (CGmax: no Newton run here)'}`);
  }
  return { per, text: words.join('; ') };
}

// --- main ----------------------------------------------------------------------------------------

/** How `plan` and the data differ from the paper's runs (empty: the paper's settings). */
function differencesFromPaper(plan: Plan, data: Data): string[] {
  const out: string[] = [];
  if (data.substitute) out.push('a substitute data set');
  if (data.train.length < data.fullTrain || data.test.length < data.fullTest) out.push(`${data.train.length.toLocaleString('en-US')} of ${data.fullTrain.toLocaleString('en-US')} training, ${data.test.length.toLocaleString('en-US')} of ${data.fullTest.toLocaleString('en-US')} test images`);
  if (plan.newtonIterations !== 100) out.push(`${plural(plan.newtonIterations, 'Newton iteration')} (paper: 100)`);
  if (plan.sgdEpochs !== 1000) out.push(`${plural(plan.sgdEpochs, 'SG epoch')} (paper: 1,000)`);
  if (plan.cgMax !== 250) out.push(`CGmax ${plan.cgMax} (paper: 250)`);
  if (plan.tableRuns !== 5 || plan.figureRuns !== 5) out.push(`${plural(plan.tableRuns, 'run')} per table cell, ${plan.figureRuns} per Figure 3 curve (paper: 5 per cell)`);
  return out;
}

const plural = (n: number, what: string): string => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;

const METHOD_NAMES: Record<Method, string> = { newton: 'subsampled Newton (5%)', sgd: 'SG with momentum', 'sgd-plain': 'SG without momentum' };

function describeSpec(s: RunSpec): string {
  return `${s.model} ${s.method === 'newton' ? `Newton rate ${s.samplingRate}` : `${s.method === 'sgd' ? 'SG' : 'SG (no momentum)'} η0 ${s.lr}`} C ${s.C}l`;
}

async function main(): Promise<void> {
  const o = parseReproOptions(process.argv.slice(2), PAPER, EXTRAS);
  if (o === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const plan = planFor(o);
  const log = progress(SCRIPT);
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const spec = o.data ?? 'fashion-mnist-small';
  const data = await loadData(spec, plan);
  const modeLabel = `${o.mode}${o.mode !== 'full' ? ' (see Settings)' : ''}; ${data.substitute ? 'SUBSTITUTE data (Fashion-MNIST)' : data.name}`;
  log(`mode ${o.mode}: ${data.label}; out ${o.out}`);

  const todo = distinctRuns(plan);
  if (o.mode === 'full') {
    // before CPU-weeks start, the GPU estimate (CG steps at CGmax: an upper bound)
    const est = estimateFor(data.train.shape, data.train.classes, data.fullTrain, data.fullTest, { cnn3: { cg: plan.cgMax, lineSearch: 1 }, cnn5: { cg: plan.cgMax, lineSearch: 1 } });
    log(`the full mode on ${data.name}: at most ${est.text} (CGmax every iteration)`);
  }
  const records: RunRecord[] = [];
  const total = todo.reduce((a, t) => a + t.runs, 0);
  for (const t of todo) {
    for (let r = 0; r < t.runs; r++) {
      const rec = await runOne(t.spec, o.seed + r, t.curve, data, plan);
      records.push(rec);
      log(
        `${records.length}/${total} ${describeSpec(t.spec)} seed ${rec.seed}: ${rec.diverged ? 'diverged' : `${(100 * rec.accuracy).toFixed(2)}%`}, ` +
          `${rec.trainSeconds.toFixed(1)} s training (${rec.trainCpuSeconds.toFixed(1)} s CPU)${rec.evalSeconds > 0 ? ` + ${rec.evalSeconds.toFixed(1)} s test evaluations` : ''}`,
      );
      await turn();
    }
  }
  const runsOf = (s: RunSpec, n: number): RunRecord[] => records.filter((r) => r.key === specKey(s) && r.seed < o.seed + n);
  const cellOf = (s: RunSpec): string => pctCell(cellStats(runsOf(s, plan.tableRuns)));

  // --- results.md ----------------------------------------------------------------------------------
  const lines: string[] = [];
  lines.push(`# "Newton methods for convolutional neural networks" (Wang, Tan & Lin), Tables 5, 6 and Figure 3 — ${o.mode} mode`, '');
  lines.push(`**Data: ${data.label}.**${data.substitute ? " The paper's rows are on MNIST, SVHN, CIFAR10 and smallNORB; every number of ours is on the substitute, so compare patterns, not values." : ''}`, '');
  lines.push('## Settings', '');
  const changes = differencesFromPaper(plan, data);
  lines.push(
    markdownTable(
      ['', 'paper (§6)', `ours (${o.mode})`],
      [
        ['data', 'MNIST, SVHN, CIFAR10, smallNORB (Table 3), whole sets', data.label],
        ['preprocessing, loss, initialisation', 'min-max per image, zero-centring; squared loss; He; biases 0', 'the same'],
        ['networks', 'cnn3, cnn5 (Table 4)', 'the same'],
        ['Newton', 'C = 0.01l, 5% sampling, CG σ 0.1, CGmax 250, λ0 1, (2/3, 3/2, 0.75, 0.25), 100 iterations', `the same but ${plan.cgMax !== 250 ? `CGmax ${plan.cgMax}, ` : ''}${plural(plan.newtonIterations, 'iteration')}; Gv by the R-operator`],
        ['SG (Algorithm 2)', 'batch 128, momentum 0.9, γ 1e-6, 1,000 epochs; η0 by 5-fold cross validation', `the same but ${plural(plan.sgdEpochs, 'epoch')}; η0 not cross-validated: cnn3 ${plan.sgdLr.cnn3}, cnn5 ${plan.sgdLr.cnn5} (the paper's choices on MNIST)`],
        ['SG without momentum (Figure 3)', 'no momentum, no learning-rate decay; η0 not stated', `momentum 0, γ 0, η0 ${plan.sgdLr.cnn3} (that of SG with momentum)`],
        ['runs', '5 seeds per cell, mean (Tables 5, 6); Figure 3: not stated', `${plan.tableRuns} per table cell, ${plan.figureRuns} per Figure 3 curve (seeds ${o.seed}…); mean ± sample std`],
        ['timing', 'MATLAB, 8 cores of an i7-6900K, Newton and SG on the same machine', `${machineLine()}; training time excludes the test evaluations`],
      ],
    ),
  );
  lines.push('', `Command: \`scripts/${SCRIPT} ${process.argv.slice(2).join(' ')}\``);
  lines.push(
    '',
    changes.length === 0
      ? "Mode: full, the paper's settings on the data set given, but SG's η0 is --sgd-lr-cnn3/--sgd-lr-cnn5's, not cross-validated (Table 5 gives the paper's choice per data set)."
      : `Mode: **${o.mode.toUpperCase()}** (${MODE_TEXT[o.mode]}). Not the paper's settings: ${changes.join('; ')}; SG's η0 not cross-validated.`,
  );

  // Figure 3
  let figureFile: string | undefined;
  if (plan.parts.has('figure3')) {
    const specs = figure3Specs(plan);
    const per = specs.map((s) => ({ spec: s, runs: runsOf(s, plan.figureRuns) }));
    // the curves on the chosen clock
    const onClock = (c: Curve): Curve => (plan.clock === 'cpu' ? { ...c, seconds: c.cpuSeconds } : c);
    const trainTime = (r: RunRecord): number => (plan.clock === 'cpu' ? r.trainCpuSeconds : r.trainSeconds);
    const methods = per.map((p) => {
      const ok = p.runs.filter((r) => !r.diverged && r.curve !== undefined);
      return { name: METHOD_NAMES[p.spec.method], spec: p.spec, runs: p.runs, ok, curve: meanCurve(ok.map((r) => onClock(r.curve!))) };
    });
    const clockWords = plan.clock === 'cpu' ? 'training time (CPU seconds of this process' : 'training time (seconds';
    const plot = figure3Plot(
      `Figure 3, cnn3 — ${o.mode}, ${data.substitute ? 'SUBSTITUTE: Fashion-MNIST' : data.name} (${data.train.length} images)${plan.figureRuns > 1 ? `, mean ± std of ${plan.figureRuns} runs` : ''}`,
      methods,
      plan.figureRuns > 1,
      `${clockWords}; test evaluations excluded)`,
    );
    figureFile = await writeFigure(o.out, 'figure3.svg', plot);
    const [newton, sgdM, sgdP] = methods;
    const finals = methods.map((m) => meanStd(m.ok.map((r) => r.accuracy)));
    const lower = Math.min(finals[0].mean, finals[1].mean);
    const targets = plan.targets ?? [0.95 * lower, 0.99 * lower];
    const targetWords = plan.targets !== undefined ? targets.map((t) => `${fmt(100 * t, 4)}%`) : targets.map((t, i) => `${fmt(100 * t, 4)}% (${i === 0 ? 95 : 99}% of the lower final accuracy of Newton and SG with momentum)`);
    const reach = (m: (typeof methods)[number], t: number): { s: MeanStd; reached: number; of: number } => {
      const ts = m.ok.map((r) => timeToReach(onClock(r.curve!), t));
      return { s: meanStd(ts), reached: ts.filter(Number.isFinite).length, of: m.ok.length };
    };
    const secs = (x: { s: MeanStd; reached: number; of: number }): string =>
      x.reached === 0 ? 'not reached' : `${fmt(x.s.mean, 3)}${x.s.n > 1 ? ` ± ${fmt(x.s.std, 2)}` : ''} s${x.reached < x.of ? ` (reached in ${x.reached}/${x.of} runs)` : ''}`;
    // the highest point of the mean curve, and when
    const bestOf = (m: (typeof methods)[number]): string => {
      const c = m.curve;
      if (c.accuracy.length === 0) return '—';
      const i = c.accuracy.reduce((b, a, k) => (a > c.accuracy[b] ? k : b), 0);
      return `${(100 * c.accuracy[i]).toFixed(2)}% (${c.step[i] === 0 ? 'initial' : `${m.spec.method === 'newton' ? 'iteration' : 'epoch'} ${c.step[i]}`}, ${fmt(c.seconds[i], 3)} s)`;
    };
    const paperFinal: Record<Method, string> = {
      newton: PAPER_DATASETS.map((d) => `${d} ${PAPER_TABLE5[d][0]}`).join(', '),
      sgd: PAPER_DATASETS.map((d) => `${d} ${PAPER_TABLE5[d][1].split(' ')[0]}`).join(', '),
      'sgd-plain': 'only plotted (no number in the text)',
    };
    lines.push('', '## Figure 3: test accuracy against training time (cnn3)', '', '![Figure 3](figure3.svg)', '');
    lines.push(
      "The paper's Figure 3 plots running time (seconds) against test accuracy for cnn3 (\"We consider the 3-layer CNN structure in Table 4\"), " +
        'for subsampled Newton, SG with momentum and SG without momentum and learning-rate decay; the first two are the runs of Table 5. ' +
        "Our copy of the paper has the figure's caption and text but not its image, so it does not name the panels; as the runs are Table 5's, " +
        `we take them to be its data sets (MNIST, SVHN, CIFAR10, smallNORB), one panel each, and draw one panel: the data set of this run. No time or accuracy can be read off the figure here, ` +
        `so the comparison is with the final accuracies of Table 5 and the text's claims. Points: after every Newton iteration and every SG epoch, at the mean training time over the runs${plan.figureRuns > 1 ? '; error bars ±1 sample std of the test accuracy' : ''}. ` +
        `Time: ${plan.clock === 'cpu' ? "this process's CPU seconds (user + system) during training" : "the trainers' elapsed wall-clock time"}, the test evaluations (made by this script after every iteration/epoch, timed, and taken off) excluded; ` +
        `runs.json has both clocks.`,
      '',
    );
    lines.push(
      markdownTable(
        ['method', "paper's final accuracy (Table 5, cnn3)", 'ours: final test accuracy', 'ours: best test accuracy (at)', 'ours: training time', ...targets.map((_, i) => `ours: time to ${fmt(100 * targets[i], 4)}%`), 'mode'],
        methods.map((m) => [
          `${m.name}${m.spec.method !== 'newton' ? ` (η0 ${m.spec.lr})` : ''}`,
          paperFinal[m.spec.method],
          pctCell(cellStats(m.runs)),
          bestOf(m),
          `${fmt(meanStd(m.ok.map(trainTime)).mean, 3)} s for ${m.spec.method === 'newton' ? plural(plan.newtonIterations, 'iteration') : plural(plan.sgdEpochs, 'epoch')}`,
          ...targets.map((t) => secs(reach(m, t))),
          modeLabel,
        ]),
      ),
      '',
    );
    lines.push(`Targets: ${targetWords.join('; ')}. The time to a target is the training time of the first point (iteration or epoch end) at or above it, per run, then mean ± std over the runs that reached it.`, '');
    // a is faster than b to target t: by more than the runs' spread, or within it
    const compareTimes = (a: (typeof methods)[number], b: (typeof methods)[number], t: number): { text: string; verdict: 'faster' | 'within' | 'slower' | 'a-never' } => {
      const ta = reach(a, t);
      const tb = reach(b, t);
      const text = `to ${fmt(100 * t, 4)}%: ${a.name} ${secs(ta)}, ${b.name} ${secs(tb)}`;
      if (ta.reached === 0) return { text, verdict: 'a-never' };
      if (tb.reached === 0) return { text, verdict: 'faster' };
      const gap = tb.s.mean - ta.s.mean;
      const spread = Math.hypot(ta.s.n > 1 ? ta.s.std : 0, tb.s.n > 1 ? tb.s.std : 0);
      return { text, verdict: gap <= 0 ? 'slower' : gap > spread ? 'faster' : 'within' };
    };
    const claim = (a: (typeof methods)[number], b: (typeof methods)[number]): { ours: string; agrees: string } => {
      const cs = targets.map((t) => compareTimes(a, b, t));
      const verdicts = new Set(cs.map((c) => c.verdict));
      const agrees =
        verdicts.size === 1 && verdicts.has('faster')
          ? 'yes'
          : cs.every((c) => c.verdict === 'faster' || c.verdict === 'within')
            ? 'yes, but at some target by less than ±1 std of the runs'
            : cs.some((c) => c.verdict === 'faster' || c.verdict === 'within')
              ? 'partly: not at every target'
              : 'no';
      return { ours: cs.map((c) => c.text).join('; '), agrees };
    };
    const firstN = newton.curve.step.length > 1 ? { t: newton.curve.seconds[1], a: newton.curve.accuracy[1] } : undefined;
    // SG with momentum's accuracy at the time of Newton's first iteration (linear between its points)
    const sgAt = (t: number): number => {
      const c = sgdM.curve;
      for (let i = 0; i + 1 < c.seconds.length; i++) if (c.seconds[i] <= t && t <= c.seconds[i + 1]) return c.accuracy[i] + ((t - c.seconds[i]) / (c.seconds[i + 1] - c.seconds[i])) * (c.accuracy[i + 1] - c.accuracy[i]);
      return c.accuracy.length > 0 && t > c.seconds[c.seconds.length - 1] ? c.accuracy[c.accuracy.length - 1] : NaN;
    };
    const rows: ComparisonRow[] = [
      {
        what: 'time to the target accuracies: SG with momentum vs Newton',
        paper: '"stochastic gradient methods, if under suitable settings (e.g., using the momentum) is faster than Newton to achieve the final test accuracy"',
        ...claim(sgdM, newton),
      },
      {
        what: 'time to the target accuracies: SG with momentum vs without',
        paper: '"if under suitable settings (e.g., using the momentum)": without momentum is the unsuitable setting, drawn slower',
        ...claim(sgdM, sgdP),
      },
      {
        what: "Newton's early iterations",
        paper: '"a higher-order method like the Newton method is more expensive per iteration and those early iterations do not give good accuracy yet"',
        ours:
          firstN === undefined
            ? '—'
            : `after its first iteration (${fmt(firstN.t, 3)} s): ${fmt(100 * firstN.a, 4)}%; SG with momentum at that time: ${fmt(100 * sgAt(firstN.t), 4)}%`,
        agrees: firstN === undefined || !Number.isFinite(sgAt(firstN.t)) ? '—' : firstN.a < sgAt(firstN.t) ? 'yes' : 'no',
      },
    ];
    lines.push(comparisonTable(rows, modeLabel));
  }

  // Table 5
  if (plan.parts.has('table5')) {
    lines.push('', '## Table 5: test accuracy, subsampled Newton (5% sampling) vs SG with momentum, C = 0.01l', '');
    const ours = table5Specs(plan).map((s) => `${cellOf(s)}${s.method === 'sgd' ? ` (${s.lr})` : ''}`);
    lines.push(
      markdownTable(
        ['data set', 'cnn3 Newton', 'cnn3 SG (η0)', 'cnn5 Newton', 'cnn5 SG (η0)', 'mode'],
        [...PAPER_DATASETS.map((d) => [`${d} (paper)`, ...PAPER_TABLE5[d], 'paper (full)']), [`**${data.substitute ? `${data.name} (ours; SUBSTITUTE)` : `${data.name} (ours)`}**`, ...ours, modeLabel]],
      ),
      '',
    );
    const gap = (m: Model): number => {
      const n = cellStats(runsOf({ model: m, method: 'newton', C: 0.01, samplingRate: 0.05 }, plan.tableRuns)).mean;
      const s = cellStats(runsOf({ model: m, method: 'sgd', C: 0.01, lr: plan.sgdLr[m] }, plan.tableRuns)).mean;
      return 100 * (n - s);
    };
    const paperGaps = (m: 0 | 2) => PAPER_DATASETS.map((d) => (parseFloat(PAPER_TABLE5[d][m]) - parseFloat(PAPER_TABLE5[d][m + 1])).toFixed(2)).join(', ');
    lines.push(
      comparisonTable(
        (['cnn3', 'cnn5'] as const).map((m, i) => ({
          what: `${m}: Newton − SG (percentage points)`,
          paper: `"comparable": ${paperGaps(i === 0 ? 0 : 2)} (${PAPER_DATASETS.join(', ')})`,
          ours: Number.isFinite(gap(m)) ? `${gap(m) >= 0 ? '+' : ''}${gap(m).toFixed(2)}` : '—',
          agrees: !Number.isFinite(gap(m)) ? '—' : Math.abs(gap(m)) <= 1.5 ? 'yes (within 1.5 points, the paper’s largest gap)' : `no: ${Math.abs(gap(m)).toFixed(1)} points`,
        })),
        modeLabel,
      ),
    );
  }

  // Table 6
  if (plan.parts.has('table6')) {
    lines.push('', "## Table 6: sensitivity (cnn3): Newton's sampling rate vs SG's initial learning rate, per C", '');
    const head = ['data set', 'C', ...RATES.map((r) => `Newton ${r * 100}%`), ...LRS.map((lr) => `SG ${lr}`), 'mode'];
    const rows: string[][] = [];
    for (const d of PAPER_DATASETS) PAPER_TABLE6[d].forEach((r, i) => rows.push([`${d} (paper)`, `${CS[i]}l`, ...r.map((x) => `${x.toFixed(2)}%`), 'paper (full)']));
    const grid = table6Specs();
    grid.forEach((row, i) => rows.push([`**${data.name} (ours${data.substitute ? '; SUBSTITUTE' : ''})**`, `${CS[i]}l`, ...row.map(cellOf), modeLabel]));
    lines.push(markdownTable(head, rows), '', '"diverged": a non-finite loss, objective or θ stopped the run (DivergenceError).', '');
    // the pattern: Newton's accuracy varies little over its sampling rates; SG's a lot over its learning rates
    const range = (xs: number[]): number => (xs.length === 0 ? NaN : Math.max(...xs) - Math.min(...xs));
    const oursRange = grid.map((row) => {
      const acc = row.map((s) => {
        const st = cellStats(runsOf(s, plan.tableRuns));
        return st.n === 0 ? (st.runs > 0 ? 0 : NaN) : 100 * st.mean; // a diverged cell counts as 0% (no model)
      });
      return { newton: range(acc.slice(0, 3).filter(Number.isFinite)), newton105: Math.abs(acc[0] - acc[1]), sgd: range(acc.slice(3).filter(Number.isFinite)) };
    });
    const paperRange = PAPER_DATASETS.map((d) => ({ d, newton105: Math.max(...PAPER_TABLE6[d].map((r) => Math.abs(r[0] - r[1]))), sgd: Math.min(...PAPER_TABLE6[d].map((r) => range(r.slice(3)))) }));
    lines.push(
      comparisonTable(
        [
          {
            what: "Newton: 10% vs 5% sampling, largest difference over C (points)",
            paper: paperRange.map((p) => `${p.d} ${p.newton105.toFixed(2)}`).join(', '),
            ours: Math.max(...oursRange.map((r) => r.newton105)).toFixed(2),
            agrees: Math.max(...oursRange.map((r) => r.newton105)) <= 1.5 ? 'yes' : 'no',
          },
          {
            what: 'Newton: range over 10/5/1% per C (points)',
            paper: '1% a little lower (up to 2.9 points, CIFAR10)',
            ours: oursRange.map((r, i) => `${CS[i]}l ${r.newton.toFixed(2)}`).join(', '),
            agrees: 'see the table',
          },
          {
            what: 'SG: range over η0 0.1 … 0.0001 per C (points; diverged = 0%)',
            paper: `large: smallest over C ${paperRange.map((p) => `${p.d} ${p.sgd.toFixed(1)}`).join(', ')}`,
            ours: oursRange.map((r, i) => `${CS[i]}l ${r.sgd.toFixed(2)}`).join(', '),
            agrees: oursRange.every((r) => r.sgd > 3 * Math.max(r.newton105, 0.5)) ? 'yes: SG far more sensitive than Newton' : 'partly',
          },
        ],
        modeLabel,
      ),
    );
  }

  // every run
  lines.push('', '## Runs', '');
  lines.push(
    markdownTable(
      ['run', 'seed', 'final test accuracy', 'training s (wall)', 'training s (CPU)', 'Newton CG steps / iteration', 'used by'],
      records.map((r) => {
        const used: string[] = [];
        if (plan.parts.has('figure3') && figure3Specs(plan).some((s) => specKey(s) === r.key) && r.seed < o.seed + plan.figureRuns) used.push('Fig. 3');
        if (plan.parts.has('table5') && table5Specs(plan).some((s) => specKey(s) === r.key) && r.seed < o.seed + plan.tableRuns) used.push('Table 5');
        if (plan.parts.has('table6') && table6Specs().some((row) => row.some((s) => specKey(s) === r.key)) && r.seed < o.seed + plan.tableRuns) used.push('Table 6');
        return [describeSpec(r.spec), String(r.seed), r.diverged ? 'diverged' : `${(100 * r.accuracy).toFixed(2)}%`, r.trainSeconds.toFixed(1), r.trainCpuSeconds.toFixed(1), r.newton === undefined ? '' : fmt(meanStd(r.newton.cgSteps).mean, 3), used.join(', ')];
      }),
    ),
  );

  // the full mode's cost
  const measured = measuredPerIteration(records, plan.cgMax);
  const estimateRows: string[][] = [];
  const targetsFull: { name: string; shape: [number, number, number]; classes: number; train: number; test: number }[] = PAPER_DATASETS.map((d) => ({ name: d, ...PAPER_DATA[d] }));
  if (!data.substitute || data.fullTrain !== 10000) targetsFull.push({ name: `${data.name} (this data set, whole)`, shape: [...data.train.shape] as [number, number, number], classes: data.train.classes, train: data.fullTrain, test: data.fullTest });
  for (const t of targetsFull) {
    const e = estimateFor(t.shape, t.classes, t.train, t.test, measured.per);
    const most = estimateFor(t.shape, t.classes, t.train, t.test, { cnn3: { cg: 250, lineSearch: measured.per.cnn3.lineSearch }, cnn5: { cg: 250, lineSearch: measured.per.cnn5.lineSearch } });
    estimateRows.push([t.name, `${t.train.toLocaleString('en-US')} / ${t.test.toLocaleString('en-US')}`, e.text, `≈ ${most.time}`]);
  }
  // the CPU time at this machine's measured rate, scaled by the number of training images
  const cpu = cpuEstimate(records, data.train.length, plan.clock);
  lines.push('', '## Cost of the full mode', '');
  lines.push(
    `The full mode (per data set: every distinct run of Tables 5, 6 and Figure 3, 5 runs each, 100 Newton iterations and 1,000 SG epochs, Figure 3's runs evaluated after every iteration/epoch) ` +
      `estimated with scripts/repro/full-estimate.ts from the conv/linear FLOPs of every pass; ${measured.text}.`,
    '',
  );
  lines.push(markdownTable(['data set', 'training / test images', 'one GPU, CG steps as measured', 'one GPU, CGmax 250 every iteration'], estimateRows), '');
  lines.push(
    `The measured CG steps are from ${plural(plan.newtonIterations, 'iteration')} of CGmax ${plan.cgMax}; CG takes more steps as λ falls over the paper's 100 iterations, so the first estimate is low and the second (every iteration at CGmax) is an upper bound.`,
    '',
  );
  if (cpu !== undefined) lines.push(`On this machine's CPU (${machineLine()}) the measured rates here (${plan.clock === 'cpu' ? 'CPU' : 'wall-clock'} seconds; ${cpu.rates}) give about ${cpu.text} for MNIST's 60,000 images (times ∝ training images).`, '');
  if (o.mode !== 'full') lines.push(`Run it per data set: \`scripts/${SCRIPT} --full --data DIR\` (add \`--format\`, \`--shape\` as needed, \`--tables\` to split the work).`, '');

  const totalSeconds = (performance.now() - start) / 1000;
  const cpuTotal = process.cpuUsage(cpu0);
  const totalCpuSeconds = (cpuTotal.user + cpuTotal.system) / 1e6;
  lines.push(`Total time: ${(totalSeconds / 60).toFixed(1)} min wall-clock, ${(totalCpuSeconds / 60).toFixed(1)} min CPU. Files: results.md, ${figureFile !== undefined ? 'figure3.svg, ' : ''}runs.json (every run: settings, seed, final accuracy, training and evaluation seconds, Figure 3's curves, Newton's CG steps per iteration).`);
  writeOutput(o.out, 'results.md', lines.join('\n'));
  writeRunsJson(o.out, {
    paper: 'Newton methods for convolutional neural networks (Wang, Tan & Lin, ACM TIST 2020)',
    mode: o.mode,
    modeLabel,
    data: { spec, label: data.label, train: data.train.length, test: data.test.length, substitute: data.substitute },
    plan: { ...plan, parts: [...plan.parts] },
    seed: o.seed,
    machine: machineLine(),
    seconds: totalSeconds,
    cpuSeconds: totalCpuSeconds,
    fullModeEstimate: { assumedTflops: ASSUMED_GPU_TFLOPS, perIteration: measured.per, rows: estimateRows },
    runs: records,
  });
  log(`wrote ${o.out}/results.md${figureFile !== undefined ? ', figure3.svg' : ''}, runs.json in ${(totalSeconds / 60).toFixed(1)} min (${(totalCpuSeconds / 60).toFixed(1)} min CPU)`);
}

/** The GPU estimate of the full mode on one data set: cnn3's and cnn5's work through fullRunEstimate. */
function estimateFor(shape: readonly [number, number, number], classes: number, train: number, test: number, per: Record<Model, { cg: number; lineSearch: number }>): { hours: number; time: string; text: string } {
  let hours = 0;
  let flops = 0;
  const parts: string[] = [];
  for (const w of fullWork(train, test, per)) {
    if (w.runs === 0) continue;
    const net = modelByName(w.model, [shape[0], shape[1], shape[2]], classes, { seed: 0 });
    try {
      const e = fullRunEstimate(net, w.work);
      hours += e.hours;
      flops += e.flops;
      parts.push(`${w.model} ${w.runs} runs ${durationText(e.hours)}`);
    } finally {
      net.dispose();
    }
  }
  const time = durationText(hours);
  return { hours, time, text: `≈ ${time} (${parts.join(', ')}; ${(flops / 1e15).toFixed(1)} PFLOP at an assumed ${ASSUMED_GPU_TFLOPS} TFLOP/s sustained — not measured: no GPU bench has run yet)` };
}

/**
 * The full mode's CPU time on MNIST at this machine's measured rates: training seconds per Newton
 * iteration and per SG epoch per training image, per model (a model without runs here at cnn3's).
 */
function cpuEstimate(records: readonly RunRecord[], trainImages: number, clock: 'wall' | 'cpu'): { text: string; rates: string } | undefined {
  const rate = (m: Model, newton: boolean): number => {
    const rs = records.filter((r) => !r.diverged && r.steps > 0 && r.spec.model === m && (r.spec.method === 'newton') === newton);
    return meanStd(rs.map((r) => (clock === 'cpu' ? r.trainCpuSeconds : r.trainSeconds) / r.steps)).mean / trainImages;
  };
  const newtonRate = { cnn3: rate('cnn3', true), cnn5: rate('cnn5', true) };
  const sgRate = { cnn3: rate('cnn3', false), cnn5: rate('cnn5', false) };
  if (!Number.isFinite(newtonRate.cnn3) || !Number.isFinite(sgRate.cnn3)) return undefined;
  const full: Plan = { ...PLANS.full, parts: new Set(PARTS) };
  const l = PAPER_DATA.MNIST.train;
  let seconds = 0;
  for (const { spec, runs } of distinctRuns(full)) {
    const nr = Number.isFinite(newtonRate[spec.model]) ? newtonRate[spec.model] : newtonRate.cnn3;
    const sr = Number.isFinite(sgRate[spec.model]) ? sgRate[spec.model] : sgRate.cnn3;
    seconds += runs * l * (spec.method === 'newton' ? full.newtonIterations * nr : full.sgdEpochs * sr);
  }
  const per = (m: Model): string =>
    Number.isFinite(newtonRate[m]) && Number.isFinite(sgRate[m]) ? `${m} ${fmt(newtonRate[m] * trainImages, 3)} s per Newton iteration, ${fmt(sgRate[m] * trainImages, 3)} s per SG epoch` : `${m} at cnn3's rates (no ${m} run here)`;
  const days = seconds / 86400;
  return { text: days < 2 ? `${fmt(seconds / 3600, 3)} h` : `${fmt(days, 3)} days`, rates: `${per('cnn3')}; ${per('cnn5')}, on ${trainImages.toLocaleString('en-US')} images` };
}

/** The bin shim's entry point. */
export function runMain(): void {
  runScript(SCRIPT, USAGE, main);
}

if (require.main === module) runMain();
