// scripts/repro-demystifying-resnet: Figures 5, 6, 7 and 8 of Li, Jiao, Han & Weissman,
// "Demystifying ResNet" (arXiv:1611.01186), through the shared harness (scripts/repro/harness.ts).
//
//   Figure 5   the Hessian's condition number max|λ| / |λ|_10% at the initial point against depth:
//              1-, 2-, 3-shortcut linear networks at zero init (Xavier × 0.01), the plain linear
//              network at Xavier and orthogonal init (lib/analysis/linear-depth.ts).
//   Figure 6   max|λ| and |λ|_10% of the Hessian at different losses during full-batch gradient
//              descent, depth 16: 2-shortcut vs Xavier, against lg(L − L_min) (L_min: eq. 15–16).
//   Figure 7   the same, 2-shortcut vs orthogonal, against lg(L) as the paper draws it.
//   Figure 8   left: the index (fraction of negative eigenvalues) at different losses; right: one
//              2-shortcut run's gradient norm and index against the epoch.
//
// Appendix B: the inputs are the 10 leading whitened principal components, the targets one-hot,
// the loss the Frobenius loss L = (1/2m)‖Y − WX‖² (eq. 6), full-batch gradient descent. Every
// statistic is of the Hessian of that L: the library's mean squared loss is 2L, so its Hessian's
// eigenvalues are halved here (ratios and the index do not change).
//
// Figures 6–8 are of linear networks by default. Appendix B's "we added ReLUs at the same
// positions in linear networks as in 2-shortcuts networks" belongs with the ReLU networks of §5.3
// (Figure 10): Figure 6's axis is L − L_min, which the paper only computes for linear networks
// ("it is hard to compute the minimum losses with ReLUs", Figure 10), and Figure 8's caption says
// "a 2-shortcut linear network". --relu runs Figures 6–8 with ReLUs at the mid positions of all
// three networks instead (lib/nn/linear-networks.ts), against lg(L) since L_min is then unknown.
//
// Per run the dense Hessian is formed (lib/analysis/dense.ts) at a schedule of epochs: every k
// epochs (--hessian-every) and, between those, whenever lg(L − L_min) has fallen by --lg-step
// since the last one, so that the losses the figures are drawn at are sampled evenly even when
// the loss falls fast. The statistics are then interpolated linearly at common losses (as the
// paper) and averaged over the runs that reach each loss.
//
// Data: MNIST is not bundled; the default is the bundled Fashion-MNIST subset, labelled as a
// substitute in every output. --data PATH takes a directory of MNIST IDX files.
import * as path from 'node:path';

import { conditionVersusDepth, whitenedRegressionData, type ConditionPoint } from '../lib/analysis';
import { denseSpectrum, spectrumStatistics } from '../lib/analysis/dense';
import { curvatureOperator } from '../lib/analysis/operator';
import { loadDataset, subset, type Dataset } from '../lib/data';
import { lapackAvailable, symmetricEigen } from '../lib/linalg';
import { linearNetwork, type LinearNetworkOptions } from '../lib/nn/linear-networks';
import { squaredLoss } from '../lib/nn/losses';
import type { Network } from '../lib/nn/network';
import { axpy } from '../lib/ops';
import type { LinePlotOptions, PlotSeries } from '../lib/plot';
import { Tensor } from '../lib/tensor';
import {
  comparisonTable,
  extraInteger,
  extraIntegers,
  extraNumber,
  fmt,
  fmtMeanStd,
  interpolateAlong,
  linspace,
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
  type ExtraOption,
  type ReproMode,
  type ReproOptions,
} from './repro/harness';

const SCRIPT = 'repro-demystifying-resnet';
const PAPER = 'demystifying-resnet';
const WIDTH = 10; // Appendix B: the 10 greatest principal components, 10 classes

/** What each mode runs. */
interface Plan {
  /** Figure 5: the depths, and runs per depth. */
  fig5Depths: number[];
  fig5Runs: number;
  /** Figures 6–8: the depth, epochs, runs per network. */
  depth: number;
  epochs: number;
  runs: number;
  /** Training examples (evenly spaced over the training set); undefined: all. */
  examples: number | undefined;
  /** A Hessian every k epochs … */
  hessianEvery: number;
  /** … and whenever lg(L − L_min) fell by this much since the last (0: only every k). */
  lgStep: number;
  /** A fixed learning rate for every network (undefined: each network's best of LR_GRID). */
  lr: number | undefined;
  relu: boolean;
}

// the learning rates the sweep tries, at log scale like the paper's §5.3 (10^-3 … 10^-0.5)
const LR_GRID = [1e-3, 10 ** -2.5, 1e-2, 10 ** -1.5, 0.1, 10 ** -0.5];

const PLANS: Record<ReproMode, Plan> = {
  quick: { fig5Depths: [2, 3, 4, 6], fig5Runs: 1, depth: 4, epochs: 40, runs: 1, examples: 200, hessianEvery: 10, lgStep: 0.3, lr: undefined, relu: false },
  reduced: { fig5Depths: [2, 3, 6, 12, 24], fig5Runs: 2, depth: 16, epochs: 1000, runs: 2, examples: 1000, hessianEvery: 100, lgStep: 0.2, lr: undefined, relu: false },
  full: { fig5Depths: [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96], fig5Runs: 10, depth: 16, epochs: 1000, runs: 10, examples: undefined, hessianEvery: 1, lgStep: 0, lr: undefined, relu: false },
};

const MODE_TEXT: Record<ReproMode, string> = {
  quick: 'Figure 5 at depths 2–6, Figures 6–8 at depth 4 for 40 epochs, 200 examples, 1 run (about 20 s)',
  reduced: 'Figure 5 at depths 2–24 (2 runs), Figures 6–8 at depth 16 for 1000 epochs (2 runs), 1000 examples, a Hessian every 100 epochs and every 0.2 fall of lg(L − L_min) (about 15 min)',
  full: "Figure 5 at depths 2–96 (10 runs), Figures 6–8 at depth 16 for 1000 epochs (10 runs), all training examples, a Hessian every epoch (CPU-months on 2 cores; results.md gives the estimate from measured costs)",
};

const EXTRAS: readonly ExtraOption[] = [
  { name: 'examples', value: 'N', help: 'training examples, evenly spaced (default: quick 200, reduced 1000, full all)' },
  { name: 'depths', value: 'L,L,…', help: 'Figure 5 depths (default: the mode’s)' },
  { name: 'depth', value: 'L', help: 'Figures 6–8 network depth (default 16; quick 4)' },
  { name: 'epochs', value: 'N', help: 'gradient-descent epochs of Figures 6–8 (default 1000; quick 40)' },
  { name: 'hessian-every', value: 'K', help: 'a dense Hessian every K epochs (default: quick 10, reduced 100, full 1)' },
  { name: 'lg-step', value: 'X', help: 'also a Hessian whenever lg(L − L_min) fell by X since the last (default: quick 0.3, reduced 0.2, full none)' },
  { name: 'lr', value: 'X', help: 'one learning rate for every network (default: each network’s best of 10^-3 … 10^-0.5 by final loss)' },
  { name: 'relu', value: '', help: 'Figures 6–8 with ReLUs at the mid positions (Appendix B’s ReLU variant; default linear)', flag: true },
];

const DESCRIPTION = [
  'Reproduces Figures 5–8 of "Demystifying ResNet" (Li et al.): the Hessian condition number at the',
  'initial point against depth, and max/10th-percentile |eigenvalue| and the index at different losses',
  'during gradient descent. Writes figure5.svg … figure8.svg, results.md and runs.json to --out.',
  '',
  '--data: fashion-mnist-small (default: the bundled subset, a SUBSTITUTE for MNIST, labelled so),',
  "fashion-mnist (Debian's, also a substitute) or a directory of MNIST IDX files (the paper's data).",
].join('\n');

const USAGE = usage(SCRIPT, DESCRIPTION, EXTRAS, MODE_TEXT);

function planFor(o: ReproOptions): Plan {
  const p = { ...PLANS[o.mode] };
  if (o.runs !== undefined) {
    p.runs = o.runs;
    p.fig5Runs = o.runs;
  }
  p.examples = extraInteger(o, 'examples') ?? p.examples;
  p.fig5Depths = extraIntegers(o, 'depths') ?? p.fig5Depths;
  p.depth = extraInteger(o, 'depth') ?? p.depth;
  p.epochs = extraInteger(o, 'epochs') ?? p.epochs;
  p.hessianEvery = extraInteger(o, 'hessian-every') ?? p.hessianEvery;
  p.lgStep = extraNumber(o, 'lg-step') ?? p.lgStep;
  p.lr = extraNumber(o, 'lr') ?? p.lr;
  p.relu = o.extra.get('relu') === true;
  if (p.depth % 2 !== 0) throw new UsageError(`--depth must be even (the 2-shortcut network has 2 layers per residual unit), got ${p.depth}`);
  if (p.depth * WIDTH * WIDTH > 16384) throw new UsageError(`--depth ${p.depth}: ${p.depth * WIDTH * WIDTH} parameters is too many for a dense Hessian every few epochs (at most depth 163)`);
  if (Math.max(...p.fig5Depths) > 160) throw new UsageError(`--depths: at most 160 (a dense Hessian of 100·depth parameters)`);
  return p;
}

// --- data ----------------------------------------------------------------------------------------

interface Problem {
  /** (m × 10) whitened principal components, (m × 10) one-hot. */
  x: Float64Array;
  y: Float64Array;
  m: number;
  /** The data label that goes with every number ("substitute: …" unless MNIST was given). */
  label: string;
  explained: number;
  /** eq. 16: the least-squares minimum of the paper's L over all linear maps W. */
  lmin: number;
  /** cond(Σ_XX − Σ_YX) (singular values): Theorem 1's depth-free condition number of the 2-shortcut network at zero. */
  theorem1: number;
}

function dataLabel(spec: string): string {
  if (spec === 'fashion-mnist-small') return 'substitute: Fashion-MNIST (bundled subset)';
  if (spec === 'fashion-mnist') return 'substitute: Fashion-MNIST (Debian package)';
  return `data: ${path.basename(path.resolve(spec))} (given by --data; MNIST if these are MNIST's IDX files)`;
}

/** Σ_AB = (1/m) Σ_μ a_μ b_μᵀ for row-major (m × d) a and b. */
function correlation(a: Float64Array, b: Float64Array, m: number, d: number): Float64Array {
  const s = new Float64Array(d * d);
  for (let mu = 0; mu < m; mu++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) s[i * d + j] += a[mu * d + i] * b[mu * d + j];
  return s.map((v) => v / m);
}

/** eq. 15–16: W = Σ_YX Σ_XX⁻¹ (through the eigendecomposition of Σ_XX, a pseudo-inverse), L_min = (1/2m)‖Y − WX‖². */
function leastSquaresMinimum(x: Float64Array, y: Float64Array, m: number, d: number): number {
  const sxx = correlation(x, x, m, d);
  const syx = correlation(y, x, m, d);
  const { values, vectors } = symmetricEigen(sxx, d, { vectors: true });
  const cut = 1e-12 * Math.max(...values);
  const inv = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    if (values[k] <= cut) continue;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) inv[i * d + j] += (vectors[i * d + k] * vectors[j * d + k]) / values[k];
  }
  const w = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) w[i * d + j] += syx[i * d + k] * inv[k * d + j];
  let sum = 0;
  for (let mu = 0; mu < m; mu++) {
    for (let i = 0; i < d; i++) {
      let z = 0;
      for (let j = 0; j < d; j++) z += w[i * d + j] * x[mu * d + j];
      sum += (y[mu * d + i] - z) ** 2;
    }
  }
  return sum / (2 * m);
}

/** σ_max/σ_min of Σ_XX − Σ_YX (eq. 1 of the paper: the 2-shortcut network's condition number at zero). */
function theorem1Condition(x: Float64Array, y: Float64Array, m: number, d: number): number {
  const sxx = correlation(x, x, m, d);
  const syx = correlation(y, x, m, d);
  const a = sxx.map((v, i) => v - syx[i]);
  const ata = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) ata[i * d + j] += a[k * d + i] * a[k * d + j];
  const { values } = symmetricEigen(ata, d);
  return Math.sqrt(Math.max(...values) / Math.max(Math.min(...values), 0));
}

async function loadProblem(spec: string, examples: number | undefined): Promise<Problem> {
  const raw = await loadDataset(spec);
  const all = raw.train;
  if (all.classes !== WIDTH) throw new UsageError(`--data ${spec}: the targets are one-hot and the width is ${WIDTH} (Appendix B), so the data need 10 classes, got ${all.classes}`);
  const m = examples === undefined ? all.length : Math.min(examples, all.length);
  const train: Dataset = m === all.length ? all : subset(all, Int32Array.from({ length: m }, (_, i) => Math.floor((i * all.length) / m)));
  const { x, y, explained } = whitenedRegressionData(train, WIDTH);
  return {
    x,
    y,
    m,
    label: `${dataLabel(spec)}, ${m} training images${m < all.length ? ` evenly spaced of ${all.length}` : ''} → 10 whitened principal components (${(100 * explained).toFixed(1)}% of the variance), one-hot targets`,
    explained,
    lmin: leastSquaresMinimum(x, y, m, WIDTH),
    theorem1: theorem1Condition(x, y, m, WIDTH),
  };
}

// --- Figure 5 ------------------------------------------------------------------------------------

interface Fig5Curve {
  name: string;
  points: ConditionPoint[];
}

const FIG5_CURVES: readonly { name: string; shortcut: number; init: 'zero' | 'xavier' | 'orthogonal' }[] = [
  { name: '1-shortcut (zero init)', shortcut: 1, init: 'zero' },
  { name: '2-shortcut (zero init)', shortcut: 2, init: 'zero' },
  { name: '3-shortcut (zero init)', shortcut: 3, init: 'zero' },
  { name: 'Xavier (no shortcut)', shortcut: 0, init: 'xavier' },
  { name: 'orthogonal (no shortcut)', shortcut: 0, init: 'orthogonal' },
];

async function figure5Curve(problem: Problem, plan: Plan, seed: number, curve: number, log: (m: string) => void): Promise<Fig5Curve> {
  const c = FIG5_CURVES[curve];
  const data = { x: problem.x, y: problem.y, examples: problem.m };
  const maxParameters = Math.max(...plan.fig5Depths) * WIDTH * WIDTH;
  const points: ConditionPoint[] = [];
  // one depth at a time, the event loop turning in between (Note [event-loop turns])
  for (const depth of plan.fig5Depths) {
    const at = conditionVersusDepth(data, {
      depths: [depth],
      width: WIDTH,
      runs: plan.fig5Runs,
      seed,
      maxParameters,
      shortcuts: [c.shortcut],
      initialization: c.init,
      onRun: (_n, d, run) => log(`figure 5: ${c.name}, depth ${d}: run ${run + 1}/${plan.fig5Runs}`),
    });
    points.push(...at);
    await turn();
  }
  return { name: c.name, points };
}

// --- Figures 6–8: training with Hessians ---------------------------------------------------------

type NetKind = '2-shortcut' | 'Xavier' | 'orthogonal';
const KINDS: readonly NetKind[] = ['2-shortcut', 'Xavier', 'orthogonal'];

function networkOptions(kind: NetKind, depth: number, relu: boolean, seed: number): LinearNetworkOptions {
  const base = { width: WIDTH, depth, dtype: 'float64' as const, seed, relu };
  if (kind === '2-shortcut') return { ...base, shortcut: 2, initialization: 'zero' };
  return { ...base, shortcut: 0, initialization: kind === 'Xavier' ? 'xavier' : 'orthogonal' };
}

/** One gradient-descent run with its Hessians. */
interface TrainRun {
  kind: NetKind;
  seed: number;
  lr: number;
  /** The paper's L at every epoch 0 … E (before that epoch's step), and ‖∇L‖. */
  loss: number[];
  gradientNorm: number[];
  /** At each Hessian: its epoch, L there, max|λ|, |λ|_10%, the index, the seconds it took. */
  hessianEpochs: number[];
  hessianLoss: number[];
  maxAbs: number[];
  p10: number[];
  index: number[];
  hessianSeconds: number[];
  epochSeconds: number;
  diverged: boolean;
}

interface Tensors {
  x: Tensor;
  y: Tensor;
}

/** The paper's L = (1/2m)‖Y − WX‖² at the network's θ; leaves ∇(Σ‖z − y‖²) in net.gradient. */
function lossAndGradient(net: Network, t: Tensors, m: number): number {
  const z = net.forward(t.x);
  try {
    const g = squaredLoss.gradient(z, t.y);
    try {
      net.backward(g);
    } finally {
      g.dispose();
    }
    return squaredLoss.value(z, t.y) / (2 * m);
  } finally {
    z.dispose();
  }
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/**
 * Full-batch gradient descent on the paper's L for `epochs` epochs, with the dense Hessian (of L:
 * the library's, halved) at the schedule of the file header when `hessians` is true.
 */
async function train(kind: NetKind, seed: number, lr: number, plan: Plan, t: Tensors, problem: Problem, hessians: boolean, log?: (m: string) => void): Promise<TrainRun> {
  const net = linearNetwork(networkOptions(kind, plan.depth, plan.relu, seed));
  const run: TrainRun = { kind, seed, lr, loss: [], gradientNorm: [], hessianEpochs: [], hessianLoss: [], maxAbs: [], p10: [], index: [], hessianSeconds: [], epochSeconds: 0, diverged: false };
  const ref = plan.relu ? 0 : problem.lmin;
  let lastLg = Infinity;
  let epochTime = 0;
  try {
    for (let e = 0; e <= plan.epochs; e++) {
      const t0 = performance.now();
      const loss = lossAndGradient(net, t, problem.m);
      // ∇L of the paper's L: the library's gradient is of Σ‖z − y‖² = 2m·L
      const gnorm = norm(net.gradient.toArray()) / (2 * problem.m);
      epochTime += performance.now() - t0;
      run.loss.push(loss);
      run.gradientNorm.push(gnorm);
      if (!Number.isFinite(loss) || !Number.isFinite(gnorm)) {
        run.diverged = true;
        break;
      }
      const lg = Math.log10(Math.max(loss - ref, 1e-300));
      if (hessians && (e % plan.hessianEvery === 0 || e === plan.epochs || (plan.lgStep > 0 && lg <= lastLg - plan.lgStep))) {
        const h0 = performance.now();
        const op = curvatureOperator(net, { loss: squaredLoss, data: t });
        let values: Float64Array;
        try {
          values = denseSpectrum(op, { maxDimension: net.numParameters }).values.map((v) => v / 2);
        } finally {
          op.dispose();
        }
        const s = spectrumStatistics(values);
        run.hessianEpochs.push(e);
        run.hessianLoss.push(loss);
        run.maxAbs.push(s.maxAbs);
        run.p10.push(s.absPercentile10);
        run.index.push(s.negativeFraction);
        run.hessianSeconds.push((performance.now() - h0) / 1000);
        lastLg = lg;
        if (log !== undefined && run.hessianEpochs.length % 10 === 1) log(`${kind} seed ${seed}: epoch ${e}, L ${fmt(loss, 4)}, ${run.hessianEpochs.length} Hessians (${fmt(run.hessianSeconds[run.hessianSeconds.length - 1], 2)} s each)`);
        // the Hessian's passes replaced the gradient: take it again
        lossAndGradient(net, t, problem.m);
        await turn();
      } else if (e % 50 === 0) {
        await turn();
      }
      if (e < plan.epochs) axpy(net.parameters, -lr / (2 * problem.m), net.gradient);
    }
  } finally {
    net.dispose();
  }
  run.epochSeconds = epochTime / 1000 / Math.max(run.loss.length, 1);
  return run;
}

/** The learning rate of LR_GRID with the lowest final loss (a run without Hessians, the first seed). */
async function sweep(kind: NetKind, plan: Plan, t: Tensors, problem: Problem, seed: number): Promise<{ lr: number; finals: number[] }> {
  const finals: number[] = [];
  for (const lr of LR_GRID) {
    const r = await train(kind, seed, lr, plan, t, problem, false);
    finals.push(r.diverged ? NaN : r.loss[r.loss.length - 1]);
  }
  let best = -1;
  finals.forEach((f, i) => {
    if (Number.isFinite(f) && (best < 0 || f < finals[best])) best = i;
  });
  if (best < 0) throw new Error(`${kind}: every learning rate of ${LR_GRID.map((x) => fmt(x, 2)).join(', ')} diverged`);
  return { lr: LR_GRID[best], finals };
}

/** A statistic of each run interpolated at common x (lg loss), then mean ± std over the runs reaching each. */
function atCommonLosses(runs: readonly TrainRun[], xOf: (r: TrainRun) => number[], yOf: (r: TrainRun) => number[], grid: readonly number[]): { mean: number[]; std: number[]; n: number[] } {
  const per = runs.map((r) => interpolateAlong(xOf(r), yOf(r), grid));
  const stats = grid.map((_, g) => meanStd(per.map((p) => p[g])));
  // only where every run got there, as the paper's per-run interpolation implies
  return { mean: stats.map((s) => (s.n === runs.length ? s.mean : NaN)), std: stats.map((s) => (s.n === runs.length ? s.std : NaN)), n: stats.map((s) => s.n) };
}

// --- the report ----------------------------------------------------------------------------------

interface Curve {
  mean: number[];
  std: number[];
}

function lgLossOf(ref: number): (r: TrainRun) => number[] {
  return (r) => r.hessianLoss.map((l) => Math.log10(Math.max(l - ref, 1e-300)));
}

/** The grid of lg-losses the runs of `kinds` reach, 40 points. */
function lossGrid(runs: readonly TrainRun[], xOf: (r: TrainRun) => number[]): number[] {
  const xs = runs.flatMap(xOf).filter(Number.isFinite);
  return linspace(Math.min(...xs), Math.max(...xs), 40);
}

/** At the x's where both curves are defined: the fraction where a < b, and the first and last such x. */
function compare(grid: readonly number[], a: readonly number[], b: readonly number[]): { fraction: number; count: number; lo: number; hi: number } {
  const both = grid.map((_, i) => i).filter((i) => Number.isFinite(a[i]) && Number.isFinite(b[i]));
  if (both.length === 0) return { fraction: NaN, count: 0, lo: NaN, hi: NaN };
  return { fraction: both.filter((i) => a[i] < b[i]).length / both.length, count: both.length, lo: both[0], hi: both[both.length - 1] };
}

// Note [event-loop turns]: a training run with its Hessians creates millions of tensors, and Node
// frees each tensor's small wrapper object (about 370 bytes; its buffer is freed at once) only
// when the event loop turns (N-API finalizers; native/napi/tensor_wrap.cpp, note [freeing
// forgotten tensors]). Without turns a reduced run's 400,000 products came to 24 GB; so the loops
// below give the event loop a turn after every Hessian (and every 50 epochs), and Figure 5 after
// every depth.
const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  const o = parseReproOptions(process.argv.slice(2), PAPER, EXTRAS);
  if (o === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const plan = planFor(o);
  if (!lapackAvailable()) throw new Error('the dense Hessians need LAPACK, and this build has none (install libopenblas-dev and rebuild: npm run build:native -- --clean)');
  const log = progress(SCRIPT);
  const start = performance.now();
  const spec = o.data ?? 'fashion-mnist-small';
  const problem = await loadProblem(spec, plan.examples);
  const modeLabel = `${o.mode}; ${spec === 'fashion-mnist-small' || spec === 'fashion-mnist' ? dataLabel(spec) : 'data given by --data'}`;
  log(`mode ${o.mode}: ${problem.label}; L_min ${fmt(problem.lmin, 5)}; out ${o.out}`);

  // Figure 5
  const f5Start = performance.now();
  const fig5: Fig5Curve[] = [];
  for (let i = 0; i < FIG5_CURVES.length; i++) fig5.push(await figure5Curve(problem, plan, o.seed, i, log));
  const fig5Seconds = (performance.now() - f5Start) / 1000;

  // Figures 6–8
  const runs: TrainRun[] = [];
  const sweeps: Partial<Record<NetKind, number[]>> = {};
  const lrs: Partial<Record<NetKind, number>> = {};
  const f6Start = performance.now();
  const t: Tensors = {
    x: Tensor.from(problem.x, { shape: [problem.m, WIDTH, 1, 1], dtype: 'float64' }),
    y: Tensor.from(problem.y, { shape: [problem.m, WIDTH], dtype: 'float64' }),
  };
  try {
    for (const kind of KINDS) {
      if (plan.lr === undefined) {
        const s = await sweep(kind, plan, t, problem, o.seed);
        sweeps[kind] = s.finals;
        lrs[kind] = s.lr;
        log(`learning rate of ${kind}: ${fmt(s.lr, 3)} (final L over the grid: ${s.finals.map((f) => fmt(f, 4)).join(', ')})`);
      } else {
        lrs[kind] = plan.lr;
      }
    }
    for (let r = 0; r < plan.runs; r++) {
      for (const kind of KINDS) {
        const run = await train(kind, o.seed + r, lrs[kind]!, plan, t, problem, true, log);
        runs.push(run);
        const hs = run.hessianSeconds.reduce((a, b) => a + b, 0);
        log(`${kind} run ${r + 1}/${plan.runs}: final L ${fmt(run.loss[run.loss.length - 1], 5)}${run.diverged ? ' (diverged)' : ''}, ${run.hessianEpochs.length} Hessians in ${hs.toFixed(0)} s`);
        if (r === 0 && kind === KINDS[0]) {
          const perRun = hs + run.epochSeconds * run.loss.length;
          log(`figures 6–8: about ${((perRun * plan.runs * KINDS.length) / 60).toFixed(0)} min for ${plan.runs * KINDS.length} runs at this run's cost`);
        }
      }
    }
  } finally {
    t.x.dispose();
    t.y.dispose();
  }
  const f6Seconds = (performance.now() - f6Start) / 1000;

  // --- plots and tables ----------------------------------------------------------------------------
  const of = (kind: NetKind) => runs.filter((r) => r.kind === kind && !r.diverged);
  const ref = plan.relu ? 0 : problem.lmin;
  const xLg = lgLossOf(ref);
  const xLgLoss = lgLossOf(0);
  const lg = (f: (r: TrainRun) => number[]) => (r: TrainRun) => f(r).map((v) => Math.log10(v));
  const fig6x = plan.relu ? 'lg(loss)' : 'lg(loss − L_min)';
  const curve = (kind: NetKind, xOf: (r: TrainRun) => number[], yOf: (r: TrainRun) => number[], grid: number[]): Curve => atCommonLosses(of(kind), xOf, yOf, grid);
  const eigenFigure = (other: NetKind, xOf: (r: TrainRun) => number[], xLabel: string, figNo: number) => {
    const grid = lossGrid([...of('2-shortcut'), ...of(other)], xOf);
    const c: Record<string, Curve> = {
      [`2-shortcut max`]: curve('2-shortcut', xOf, lg((r) => r.maxAbs), grid),
      [`${other} max`]: curve(other, xOf, lg((r) => r.maxAbs), grid),
      [`2-shortcut 10th pct`]: curve('2-shortcut', xOf, lg((r) => r.p10), grid),
      [`${other} 10th pct`]: curve(other, xOf, lg((r) => r.p10), grid),
    };
    const cond = (kind: NetKind) => curve(kind, xOf, (r) => r.maxAbs.map((m, i) => Math.log10(m / r.p10[i])), grid);
    const plot: LinePlotOptions = {
      title: `Figure ${figNo}: max and 10th percentile of |λ(H)| at different losses, depth ${plan.depth}${plan.relu ? ', ReLU' : ''} — ${o.mode}, ${spec === 'fashion-mnist-small' ? 'substitute: Fashion-MNIST (bundled subset)' : path.basename(spec)}`,
      x: { label: xLabel, values: grid },
      yLabel: 'lg |λ|',
      series: Object.entries(c).map(([name, v]): PlotSeries => ({ name, values: v.mean, errors: v.std })),
    };
    return { grid, plot, cond: { a: cond('2-shortcut'), b: cond(other) }, curves: c };
  };
  const f6 = eigenFigure('Xavier', xLg, fig6x, 6);
  const f7 = eigenFigure('orthogonal', xLgLoss, 'lg(loss)', 7);

  // Figure 8
  const gridIdx = lossGrid(runs.filter((r) => !r.diverged), xLg);
  const idx = Object.fromEntries(KINDS.map((k) => [k, curve(k, xLg, (r) => r.index, gridIdx)])) as Record<NetKind, Curve>;
  const one = of('2-shortcut')[0];
  const peak = one === undefined ? 0 : one.gradientNorm.indexOf(Math.max(...one.gradientNorm));
  const shown = one === undefined ? 0 : Math.min(one.loss.length - 1, Math.max(50, 5 * peak));
  const epochs = linspace(0, shown, shown + 1);
  const indexAt = one === undefined ? [] : epochs.map((e) => (one.hessianEpochs.includes(e) ? one.index[one.hessianEpochs.indexOf(e)] : NaN));
  const fig8 = {
    title: `Figure 8 — ${o.mode}, depth ${plan.depth}${plan.relu ? ', ReLU' : ''}, ${spec === 'fashion-mnist-small' ? 'substitute: Fashion-MNIST (bundled subset)' : path.basename(spec)}`,
    panels: [
      { title: 'index at different losses', x: { label: fig6x, values: gridIdx }, yLabel: 'ratio of negative eigenvalues', series: KINDS.map((k) => ({ name: k, values: idx[k].mean, errors: idx[k].std })), width: 360, height: 300 },
      { title: `one 2-shortcut run: gradient norm (epochs 0–${shown})`, x: { label: 'epoch', values: epochs }, yLabel: '‖∇L‖', series: [{ name: 'gradient norm', values: one?.gradientNorm.slice(0, shown + 1) ?? epochs.map(() => NaN) }], width: 300, height: 300 },
      { title: `the same run: index (epochs 0–${shown})`, x: { label: 'epoch', values: epochs }, yLabel: 'ratio of negative eigenvalues', series: [{ name: 'index', values: indexAt }], width: 300, height: 300 },
    ],
  };

  // Figure 5 plot: lg(condition number) against lg(depth), as the paper
  const depths = [...new Set(fig5.flatMap((c) => c.points.map((p) => p.depth)))].sort((a, b) => a - b);
  const fig5Plot: LinePlotOptions = {
    title: `Figure 5: Hessian condition number at the initial point — ${o.mode}, ${spec === 'fashion-mnist-small' ? 'substitute: Fashion-MNIST (bundled subset)' : path.basename(spec)}`,
    x: { label: 'lg(depth)', values: depths.map(Math.log10) },
    yLabel: 'lg(max|λ| / 10th percentile |λ|)',
    series: fig5.map((c) => {
      const s = depths.map((d) => {
        const p = c.points.find((q) => q.depth === d);
        return p === undefined ? { mean: NaN, std: NaN, n: 0 } : meanStd(p.conditionNumbers10.map(Math.log10));
      });
      return { name: c.name, values: s.map((v) => v.mean), errors: s.map((v) => v.std) };
    }),
  };

  const written = [
    await writeFigure(o.out, 'figure5.svg', fig5Plot),
    await writeFigure(o.out, 'figure6.svg', f6.plot),
    await writeFigure(o.out, 'figure7.svg', f7.plot),
    await writeFigure(o.out, 'figure8.svg', fig8),
  ];

  // --- results.md ----------------------------------------------------------------------------------
  const totalSeconds = (performance.now() - start) / 1000;
  const lines: string[] = [];
  // the mode column of every table: short, but never without the substitute's name
  const label = `${o.mode}${o.mode !== 'full' ? ' (see Settings)' : ''}; ${spec.startsWith('fashion-mnist') ? dataLabel(spec) : path.basename(spec)}`;
  lines.push(`# "Demystifying ResNet" (Li, Jiao, Han & Weissman), Figures 5–8 — ${o.mode} mode`, '');
  lines.push(`**${problem.label}.** ${spec.startsWith('fashion-mnist') ? 'The paper uses whitened MNIST; every number here is on the substitute, never MNIST.' : ''}`, '');
  lines.push('## Settings', '');
  lines.push(
    markdownTable(
      ['', 'paper (Appendix B, §5)', `ours (${o.mode})`],
      [
        ['data', 'MNIST, 10 leading whitened principal components, one-hot targets', problem.label],
        ['loss, optimiser', 'L = (1/2m)‖Y − WX‖², full-batch gradient descent', `the same; L_min (eq. 16) = ${fmt(problem.lmin, 5)}`],
        ['Figure 5 depths, runs', 'lg(depth) up to 2 (depth ~100), 10 runs', `${plan.fig5Depths.join(', ')} (multiples of n per n-shortcut), ${plan.fig5Runs} run${plan.fig5Runs > 1 ? 's' : ''}`],
        ['Figures 6–8 networks', 'depth 16: 2-shortcut (zero init), Xavier, orthogonal', `depth ${plan.depth}: the same${plan.relu ? ', ReLUs at the mid positions (--relu)' : ', linear'}`],
        ['epochs, runs', '1000 epochs (§5.3), several runs (not stated for Figs 6–8; 10 for Fig. 5)', `${plan.epochs} epochs, ${plan.runs} run${plan.runs > 1 ? 's' : ''} per network`],
        ['Hessian', 'every epoch (Bishop 1992, exact)', `dense exact Hessian (forward-over-reverse products) every ${plan.hessianEvery} epoch${plan.hessianEvery > 1 ? 's' : ''}${plan.lgStep > 0 ? ` and whenever lg(L − L_min) fell by ${plan.lgStep}` : ''}`],
        ['learning rate', 'not stated for Figs 6–8 (optimal at log scale for Fig. 9)', KINDS.map((k) => `${k} ${fmt(lrs[k]!, 3)}`).join(', ') + (plan.lr === undefined ? ` (each network's lowest final loss over ${LR_GRID.map((x) => fmt(x, 2)).join(', ')})` : ' (--lr)')],
        ['statistics at common losses', 'linear interpolation per run, then mean', `the same, on 40 lg-loss points; a point is drawn where every run reached it; error bars ±1 std over runs`],
      ],
    ),
  );
  lines.push('', `Machine: ${machineLine()}. Time: Figure 5 ${(fig5Seconds / 60).toFixed(1)} min, Figures 6–8 ${(f6Seconds / 60).toFixed(1)} min, total ${(totalSeconds / 60).toFixed(1)} min.`);

  // Figure 5 table
  const f5rows = fig5.map((c) => [c.name, ...depths.map((d) => {
    const p = c.points.find((q) => q.depth === d);
    return p === undefined ? '' : fmtMeanStd(meanStd(p.conditionNumbers10));
  })]);
  const byName = (prefix: string) => fig5.find((c) => c.name.startsWith(prefix))!;
  const growth = (c: Fig5Curve) => {
    const ps = c.points;
    return ps.length < 2 ? NaN : ps[ps.length - 1].mean / ps[0].mean;
  };
  const two = byName('2-shortcut');
  const twoMeans = two.points.map((p) => p.mean);
  const spread = Math.max(...twoMeans) / Math.min(...twoMeans);
  const gx = growth(byName('Xavier'));
  const go = growth(byName('orthogonal'));
  const f5depths = (c: Fig5Curve) => `depth ${c.points[0]?.depth} → ${c.points[c.points.length - 1]?.depth}`;
  lines.push('', '## Figure 5: condition number of the Hessian at the initial point against depth', '', `![Figure 5](figure5.svg)`, '');
  lines.push(markdownTable(['network', ...depths.map((d) => `depth ${d}`)], f5rows), '');
  lines.push(
    comparisonTable(
      [
        { what: '2-shortcut (zero init)', paper: 'constant in depth (Theorem 1: cond = cond(Σ_XX − Σ_YX), free of depth)', ours: `max/min over depths ${fmt(spread, 3)}× (${twoMeans.map((v) => fmt(v, 3)).join(', ')}); cond(Σ_XX − Σ_YX) on these data ${fmt(problem.theorem1, 3)} (max/min, not max/10%)`, agrees: spread < 1.5 ? 'yes' : `no: varies ${fmt(spread, 2)}×` },
        { what: 'Xavier (no shortcut)', paper: 'grows without bound with depth', ours: `${f5depths(byName('Xavier'))}: ×${fmt(gx, 3)}`, agrees: gx > 2 ? 'yes' : 'no' },
        { what: 'orthogonal (no shortcut)', paper: 'grows with depth, slower than Xavier', ours: `${f5depths(byName('orthogonal'))}: ×${fmt(go, 3)}`, agrees: go > 1 && go < gx ? 'yes' : go > 1 ? 'partly: grows, but not slower than Xavier' : 'no' },
        { what: '1- and 3-shortcut', paper: 'plotted (1-shortcut ≈ orthogonal, §4.2; 3-shortcut: a flat, high-order saddle at zero)', ours: `1-shortcut ×${fmt(growth(byName('1-shortcut')), 3)}, 3-shortcut ×${fmt(growth(byName('3-shortcut')), 3)} over the depths`, agrees: 'see the plot' },
      ],
      label,
    ),
  );

  // Figures 6 and 7
  const eigenTable = (f: typeof f6, other: NetKind, figNo: number, xLabel: string) => {
    const cmp = compare(f.grid, f.cond.a.mean, f.cond.b.mean);
    const at = (c: Curve, i: number) => (Number.isFinite(c.mean[i]) ? `10^${fmt(c.mean[i], 3)}` : '—');
    const rows = [
      { what: `lg(max|λ|/|λ|10%): 2-shortcut < ${other}`, paper: `"the condition numbers of 2-shortcut networks at different losses are always smaller, especially when the loss is large"`, ours: `at ${fmt(100 * cmp.fraction, 3)}% of the ${cmp.count} common losses`, agrees: cmp.count === 0 ? 'no common losses' : cmp.fraction === 1 ? 'yes' : cmp.fraction > 0.5 ? 'mostly' : 'no' },
      { what: `at the largest common loss (${xLabel} = ${fmt(f.grid[cmp.hi] ?? NaN, 3)})`, paper: 'gap largest at large loss', ours: `2-shortcut ${at(f.cond.a, cmp.hi)}, ${other} ${at(f.cond.b, cmp.hi)}`, agrees: '' },
      { what: `at the smallest common loss (${xLabel} = ${fmt(f.grid[cmp.lo] ?? NaN, 3)})`, paper: figNo === 7 ? '"roughly evolved to the same value for both orthogonal and 2-shortcut"' : 'smaller gap', ours: `2-shortcut ${at(f.cond.a, cmp.lo)}, ${other} ${at(f.cond.b, cmp.lo)}`, agrees: '' },
    ];
    return comparisonTable(rows, label);
  };
  lines.push('', `## Figure 6: max and 10th percentile of |λ| at different losses, depth ${plan.depth}, 2-shortcut vs Xavier`, '', '![Figure 6](figure6.svg)', '');
  lines.push(eigenTable(f6, 'Xavier', 6, fig6x));
  lines.push('', `## Figure 7: the same, 2-shortcut vs orthogonal, against lg(loss)`, '', '![Figure 7](figure7.svg)', '');
  lines.push(eigenTable(f7, 'orthogonal', 7, 'lg(loss)'));

  // Figure 8
  const idxCmp = (other: NetKind) => compare(gridIdx, idx['2-shortcut'].mean, idx[other].mean);
  const dropEpoch = one === undefined ? NaN : (() => {
    let best = -Infinity;
    let at = NaN;
    for (let i = 1; i < one.index.length; i++) {
      const rate = (one.index[i - 1] - one.index[i]) / (one.hessianEpochs[i] - one.hessianEpochs[i - 1]);
      if (rate > best) {
        best = rate;
        at = one.hessianEpochs[i];
      }
    }
    return at;
  })();
  // how far the 2-shortcut run's index falls in the first quarter of its epochs, against its whole range
  const early = ((): { drop: number; range: number; share: number } | undefined => {
    if (one === undefined || one.index.length === 0) return undefined;
    const cut = 0.25 * one.hessianEpochs[one.hessianEpochs.length - 1];
    const first = one.index.filter((_, i) => one.hessianEpochs[i] <= cut);
    const drop = one.index[0] - Math.min(...first);
    const range = Math.max(...one.index) - Math.min(...one.index);
    return { drop, range, share: range > 0 ? drop / range : 0 };
  })();
  lines.push('', '## Figure 8: index (ratio of negative eigenvalues); one 2-shortcut run', '', '![Figure 8](figure8.svg)', '');
  lines.push(
    comparisonTable(
      [
        ...(['Xavier', 'orthogonal'] as const).map((k) => {
          const c = idxCmp(k);
          return { what: `index: 2-shortcut < ${k}`, paper: '"the index of a 2-shortcut network is always smaller"', ours: `at ${fmt(100 * c.fraction, 3)}% of the ${c.count} common losses`, agrees: c.count === 0 ? 'no common losses' : c.fraction === 1 ? 'yes' : c.fraction > 0.5 ? 'mostly' : 'no' };
        }),
        {
          what: 'index of the 2-shortcut run',
          paper: '"drops dramatically at the beginning" (its Figure 8 spans about 0.46–0.54)',
          ours:
            one === undefined || early === undefined
              ? '—'
              : `${fmt(one.index[0], 3)} at epoch 0 → ${fmt(one.index[0] - early.drop, 3)} within the first quarter of the run: ${fmt(100 * early.share, 3)}% of the index's whole range over the run (${fmt(early.range, 3)}); ${fmt(one.index[one.index.length - 1], 3)} at epoch ${one.hessianEpochs[one.hessianEpochs.length - 1]}`,
          // "dramatic" relative to the run's own range, as the paper's axis shows it: most of the change happens early
          agrees: early !== undefined && early.drop > 0 && early.share >= 0.5 ? 'yes' : 'no',
        },
        { what: 'gradient peak vs index drop', paper: '"the gradient reaches its maximum while the index drops dramatically"', ours: one === undefined ? '—' : `‖∇L‖ peaks at epoch ${peak} (${fmt(one.gradientNorm[peak], 3)}); steepest index drop per epoch ends at epoch ${dropEpoch}`, agrees: one !== undefined && Math.abs(peak - dropEpoch) <= Math.max(2, 0.5 * peak) ? 'yes' : 'no' },
      ],
      label,
    ),
  );

  // costs and the full mode's estimate
  const hs = runs.flatMap((r) => r.hessianSeconds);
  const perHessian = meanStd(hs).mean;
  const perEpoch = meanStd(runs.map((r) => r.epochSeconds)).mean;
  const full = PLANS.full;
  const mFull = 60000; // MNIST's training set, the paper's
  const scaleM = mFull / problem.m;
  const hessiansFull = full.runs * KINDS.length * (full.epochs + 1);
  const f68Full = hessiansFull * perHessian * scaleM * (full.depth / plan.depth) ** 2 + full.runs * KINDS.length * (full.epochs + 1) * perEpoch * scaleM;
  // Figure 5: products scale with parameters × depth (∝ L²), measured at our largest depth
  const deepest = fig5.flatMap((c) => c.points).reduce((a, p) => (p.depth > a.depth ? p : a));
  const perRunDeepest = deepest.seconds / plan.fig5Runs;
  const f5Full = full.fig5Depths.reduce((a, d) => a + [1, 2, 3, 0, 0].filter((n) => n === 0 || d % n === 0).length * full.fig5Runs * perRunDeepest * (d / deepest.depth) ** 2 * scaleM, 0);
  lines.push('', '## Cost (measured here) and the full mode', '');
  lines.push(
    markdownTable(
      ['', 'measured', 'full mode (paper: MNIST 60,000 images, 10 runs, a Hessian every epoch)'],
      [
        [`dense Hessian, depth ${plan.depth} (${plan.depth * 100} parameters), ${problem.m} examples`, `${fmt(perHessian, 3)} s (${hs.length} Hessians)`, `${hessiansFull} Hessians at depth 16: about ${fmt(f68Full / 3600, 3)} h (× 60,000/${problem.m} examples${plan.depth !== 16 ? `, × (16/${plan.depth})²` : ''})`],
        [`gradient-descent epoch, ${problem.m} examples`, `${fmt(1000 * perEpoch, 3)} ms`, 'included above'],
        [`Figure 5, one run at depth ${deepest.depth}`, `${fmt(perRunDeepest, 3)} s`, `depths to 96: about ${fmt(f5Full / 3600, 3)} h (products ∝ depth²; the O(depth³) eigensolver makes depth 96 slower still)`],
      ],
    ),
  );
  lines.push('', `The full mode as the paper ran it (a dense Hessian every epoch on all of MNIST) is a CPU-months job on 2 cores, meant for a GPU machine; \`--full --examples 1000 --hessian-every 10\` keeps the paper's depths, epochs and runs at about a 600th of the Hessian cost.`);
  lines.push('', `Files: ${written.map((f) => path.basename(f)).join(', ')}, runs.json (every run: losses and gradient norms per epoch, the Hessian statistics at each Hessian epoch; Figure 5's per-run condition numbers).`);
  writeOutput(o.out, 'results.md', lines.join('\n'));
  writeRunsJson(o.out, {
    paper: 'Demystifying ResNet (Li, Jiao, Han & Weissman, arXiv:1611.01186)',
    mode: o.mode,
    modeLabel,
    data: { spec, label: problem.label, examples: problem.m, explainedVariance: problem.explained, lmin: problem.lmin, theorem1Condition: problem.theorem1 },
    plan,
    seed: o.seed,
    machine: machineLine(),
    seconds: { figure5: fig5Seconds, figures6to8: f6Seconds, total: totalSeconds },
    figure5: fig5,
    learningRates: { grid: LR_GRID, finalLoss: sweeps, chosen: lrs },
    runs,
  });
  log(`wrote ${o.out}/{figure5,figure6,figure7,figure8}.svg, results.md, runs.json in ${(totalSeconds / 60).toFixed(1)} min`);
}

/** The bin shim's entry point. */
export function runMain(): void {
  runScript(SCRIPT, USAGE, main);
}

if (require.main === module) runMain();
