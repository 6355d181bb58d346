/**
 * `newton-cnn spectrum`: the curvature (Hessian or Gauss-Newton matrix) of a network's mean loss
 * on the first --train-limit training images, at a checkpoint's θ or a model's initial point,
 * through lib/analysis: extreme eigenvalues (Lanczos, power iteration), the trace (Hutch++ or
 * Hutchinson), every eigenvalue of a small operator (dense matrix + LAPACK) and the spectral
 * density (stochastic Lanczos quadrature, plotted to SVG with lib/plot).
 *
 * Output: the header and each method's results as it finishes, then the products and time of
 * every method, on stdout (--quiet: no header; --json -: one JSON object instead); progress on
 * stderr. An aborted io.signal stops it before the next product (exit code 130). The methods run
 * synchronously, so the executable leaves Ctrl-C its default action, which ends the process at
 * once (lib/cli.ts run); files are written atomically, so none is left half-written.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as analysis from '../../analysis';
import type { CurvatureOperator, SymmetricOperator } from '../../analysis';
import { writeFileAtomic } from '../../atomic-file';
import { loadCheckpoint, type JsonValue } from '../../checkpoint';
import type { Dataset } from '../../data';
import { lapackAvailable } from '../../linalg';
import { lossByName, modelByName, type Network } from '../../nn';
import { densityPlotSvg, PLOTTING_MISSING, plottingAvailable } from '../../plot';
import type { ProgressStream } from '../../progress';
import { getNumThreads, info, setNumThreads } from '../../runtime';
import type { Tensor } from '../../tensor';
import { DATA_NAMES, defaultStem, FORMATS, isModelName, LOSSES, UsageError } from '../args';
import { checkDevice, loadTrainingImages, toJson, type DataOptions } from '../common';
import { EXIT, type CliIo } from '../io';
import type { SpectrumArgs } from '../spectrum-args';

/** Extreme eigenvalues from one Lanczos run. */
export interface LanczosReport {
  which: analysis.Which;
  k: number;
  /** The most extreme first. */
  values: number[];
  residuals: number[];
  iterations: number;
  converged: boolean;
  products: number;
  seconds: number;
}

/** Everything `newton-cnn spectrum` computed (the --json object's `results`). */
export interface SpectrumResults {
  top?: LanczosReport;
  bottom?: LanczosReport;
  magnitude?: LanczosReport;
  power?: { value: number; residual: number; iterations: number; converged: boolean; products: number; seconds: number };
  trace?: { estimator: 'hutch++' | 'hutchinson'; value: number; standardError: number; products: number; seconds: number };
  dense?: { values: number[]; asymmetry: number; statistics: analysis.SpectrumStatistics; products: number; seconds: number };
  density?: {
    file: string;
    vectors: number;
    steps: number;
    grid: number[];
    density: number[];
    nodes: number[][];
    weights: number[][];
    negativeFraction: number;
    bandwidth: number;
    products: number;
    seconds: number;
  };
}

/** The --json object. */
export interface SpectrumReport {
  command: 'spectrum';
  version: string;
  model: { name: string; inputShape: number[]; classes: number; dtype: string; numParameters: number; stem?: string; point: 'checkpoint' | 'initial'; checkpoint?: string };
  data: { name: string; examples: number; shape: number[]; classes: number; meanOver: number };
  operator: {
    matrix: string;
    loss: string;
    dimension: number;
    batchStatistics: boolean;
    batchSize: number;
    batches: number;
    layers: number[] | null;
    ranges: analysis.ParameterRange[];
  };
  options: { [key: string]: JsonValue };
  device: string;
  threads: number;
  results: SpectrumResults;
  /** Products of all methods together. */
  products: number;
  /** Wall time of all methods together. */
  seconds: number;
}

/** What runSpectrum returns (besides printing). */
export interface SpectrumOutcome {
  exitCode: number;
  /** Absent when interrupted. */
  report?: SpectrumReport;
}

/** Thrown from a product when io.signal fires. */
class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

/** A one-line progress display on stderr: redrawn on a terminal, a line per ~10% elsewhere. */
class StatusLine {
  private label = '';
  private total = 1;
  private done = 0;
  private detail = '';
  private drawn = false;
  private lastDraw = -Infinity;
  private lastTenth = -1;

  constructor(
    private readonly stream: ProgressStream,
    private readonly enabled: boolean,
  ) {}

  begin(label: string, total: number): void {
    this.label = label;
    this.total = Math.max(1, total);
    this.done = 0;
    this.detail = '';
    this.lastTenth = -1;
    this.lastDraw = -Infinity;
    if (this.enabled && this.stream.isTTY !== true) this.stream.write(`${label}: up to ${total} products\n`);
  }

  setDetail(detail: string): void {
    this.detail = detail;
  }

  tick(): void {
    this.done++;
    if (!this.enabled) return;
    const line = `${this.label}: product ${this.done}/${this.total}${this.detail ? `  ${this.detail}` : ''}`;
    if (this.stream.isTTY === true) {
      const t = performance.now();
      if (t - this.lastDraw < 100 && this.done < this.total) return;
      this.lastDraw = t;
      const cols = this.stream.columns;
      const fit = cols !== undefined && cols > 1 && line.length >= cols ? line.slice(0, cols - 1) : line;
      this.stream.write(`\r${fit}\x1b[K`);
      this.drawn = true;
      return;
    }
    const tenth = Math.floor((10 * this.done) / this.total);
    if (tenth > this.lastTenth && tenth >= 1) {
      this.lastTenth = tenth;
      this.stream.write(`${line}\n`);
    }
  }

  clear(): void {
    if (this.drawn) {
      this.stream.write('\r\x1b[K');
      this.drawn = false;
    }
  }
}

/** The operator seen by the methods: checks for Ctrl-C before each product and reports it. */
class WatchedOperator implements SymmetricOperator {
  constructor(
    private readonly inner: CurvatureOperator,
    private readonly signal: AbortSignal | undefined,
    private readonly onProduct: () => void,
  ) {}
  get dimension(): number {
    return this.inner.dimension;
  }
  get dtype(): 'float32' | 'float64' {
    return this.inner.dtype;
  }
  get device(): string {
    return this.inner.device;
  }
  get products(): number {
    return this.inner.products;
  }
  apply(v: Tensor): Tensor {
    if (this.signal?.aborted === true) throw new Interrupted();
    const r = this.inner.apply(v);
    this.onProduct();
    return r;
  }
  dispose(): void {
    this.inner.dispose();
  }
}

/** The network, its point and its data: what the operator is built from. */
interface Subject {
  network: Network;
  data: Dataset;
  /** The loss when --loss is not given. */
  defaultLoss: (typeof LOSSES)[number];
  model: SpectrumReport['model'];
  dataInfo: SpectrumReport['data'];
  /** The data's name as printed. */
  dataName: string;
}

function isLoss(v: unknown): v is (typeof LOSSES)[number] {
  return typeof v === 'string' && (LOSSES as readonly string[]).includes(v);
}

function dataExists(data: string): boolean {
  return (DATA_NAMES as readonly string[]).includes(data) || fs.existsSync(data);
}

/** Builds the network at its point and loads the data (one case per SpectrumSource kind). */
async function buildSubject(args: SpectrumArgs): Promise<Subject> {
  const source = args.source;
  if (source.kind === 'model') {
    const dataOptions: DataOptions = { data: args.data ?? 'fashion-mnist-small', ...pick(args) };
    const { train, meanOver } = await loadTrainingImages(dataOptions, args.trainLimit, args.trainLimit);
    const network = modelByName(source.model, train.shape, train.classes, {
      seed: args.seed,
      device: args.device,
      ...(args.dtype !== undefined ? { dtype: args.dtype } : {}),
      ...(source.stem !== undefined ? { stem: source.stem } : {}),
    });
    const stem = source.stem ?? defaultStem(source.model);
    return {
      network,
      data: train,
      defaultLoss: 'cross-entropy',
      model: { name: source.model, inputShape: [...train.shape], classes: train.classes, dtype: network.dtype, numParameters: network.numParameters, ...(stem !== undefined ? { stem } : {}), point: 'initial' },
      dataInfo: { name: dataOptions.data, examples: train.length, shape: [...train.shape], classes: train.classes, meanOver },
      dataName: dataOptions.data,
    };
  }
  // A checkpoint: its model, θ and buffers; its data and loss unless told otherwise.
  const file = source.checkpoint;
  const ckpt = await loadCheckpoint(file);
  const m = ckpt.model;
  const saved = ckpt.options;
  const savedData = typeof saved.data === 'string' ? saved.data : undefined;
  const sameData = args.data === undefined || args.data === savedData;
  const data = args.data ?? savedData ?? 'fashion-mnist-small';
  if (!dataExists(data)) {
    throw new UsageError(`${file}: the checkpoint's data '${data}' is not there (moved?); give --data NAME|PATH`);
  }
  const inherited: Partial<DataOptions> = {};
  if (sameData && args.data === undefined) {
    if (typeof saved.format === 'string' && (FORMATS as readonly string[]).includes(saved.format)) inherited.format = saved.format as DataOptions['format'];
    if (Array.isArray(saved.shape) && saved.shape.length === 3 && saved.shape.every((d) => typeof d === 'number')) inherited.shape = saved.shape as unknown as [number, number, number];
    if (typeof saved.test === 'string') inherited.test = saved.test;
  }
  const dataOptions: DataOptions = { data, ...inherited, ...pick(args) };
  // The pixel mean of the run's own training images, when the data are the run's.
  const runImages = sameData ? (typeof saved.trainLimit === 'number' ? saved.trainLimit : undefined) : args.trainLimit;
  const { train, meanOver } = await loadTrainingImages(dataOptions, args.trainLimit, runImages);
  if (train.shape.join() !== m.inputShape.join() || train.classes !== m.classes) {
    throw new UsageError(
      `${file}: the checkpoint's ${m.name} takes ${m.inputShape.join('×')} images and ${m.classes} classes, but the data '${data}' have ${train.shape.join('×')} images and ${train.classes} classes`,
    );
  }
  if (!isModelName(m.name)) throw new Error(`${file}: the checkpoint holds a '${m.name}', which newton-cnn spectrum cannot build`);
  const network = modelByName(m.name, m.inputShape, m.classes, {
    seed: args.seed,
    device: args.device,
    dtype: args.dtype ?? m.dtype,
    ...(m.stem === 'imagenet' || m.stem === 'cifar' ? { stem: m.stem } : {}),
  });
  try {
    const p = ckpt.state.parameters;
    if (network.numParameters !== m.numParameters || p.length !== network.numParameters) {
      throw new Error(`${file}: the checkpoint's ${m.name} has ${p.length} parameters but the network built from its description has ${network.numParameters}`);
    }
    network.setParameters(p);
    const b = ckpt.state.buffers;
    if (b !== undefined && b.length > 0) {
      if (b.length !== network.buffers.size) throw new Error(`${file}: the checkpoint has ${b.length} buffer values but its ${m.name} has ${network.buffers.size}`);
      network.setBuffers(b);
    }
  } catch (e) {
    network.dispose();
    throw e;
  }
  return {
    network,
    data: train,
    defaultLoss: isLoss(saved.loss) ? saved.loss : 'cross-entropy',
    model: {
      name: m.name,
      inputShape: [...m.inputShape],
      classes: m.classes,
      dtype: network.dtype,
      numParameters: network.numParameters,
      ...(m.stem !== undefined ? { stem: m.stem } : {}),
      point: 'checkpoint',
      checkpoint: file,
    },
    dataInfo: { name: data, examples: train.length, shape: [...train.shape], classes: train.classes, meanOver },
    dataName: data,
  };
}

// The data options given on the command line (besides --data).
function pick(args: SpectrumArgs): Partial<DataOptions> {
  return {
    ...(args.format !== undefined ? { format: args.format } : {}),
    ...(args.shape !== undefined ? { shape: args.shape } : {}),
    ...(args.test !== undefined ? { test: args.test } : {}),
    ...(args.classes !== undefined ? { classes: args.classes } : {}),
    ...(args.svhnExtra === true ? { svhnExtra: true } : {}),
    ...(args.cifarLabels !== undefined ? { cifarLabels: args.cifarLabels } : {}),
  };
}

/** "0 conv2d 832, 3 conv2d 18496, …": the nodes --layers can name. */
function parameterNodes(network: Network): string {
  return network
    .layers()
    .filter((l) => l.parameterCount > 0)
    .map((l) => `${l.index} ${l.kind} ${l.parameterCount}`)
    .join(', ');
}

function checkLayers(network: Network, layers: readonly number[]): void {
  const all = network.layers();
  for (const i of layers) {
    if (i >= all.length) throw new UsageError(`--layers: node ${i} is out of range: ${network.name} has nodes 0…${all.length - 1}; those with parameters: ${parameterNodes(network)}`);
    if (all[i].parameterCount === 0) throw new UsageError(`--layers: node ${i} (${all[i].kind}) has no parameters; nodes with parameters: ${parameterNodes(network)}`);
  }
}

/** A number for the table: 7 significant digits, exponent form outside [1e-3, 1e6). */
export function formatValue(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? x.toPrecision(7) : x.toExponential(6);
}

function formatSmall(x: number): string {
  return Number.isFinite(x) ? x.toExponential(1) : String(x);
}

function recordedOptions(args: SpectrumArgs, loss: string, dtype: string): { [key: string]: JsonValue } {
  const s = args.source;
  return {
    model: s.kind === 'model' ? s.model : null,
    stem: s.kind === 'model' ? (s.stem ?? null) : null,
    checkpoint: s.kind === 'checkpoint' ? s.checkpoint : null,
    data: args.data ?? null,
    format: args.format ?? null,
    test: args.test ?? null,
    shape: args.shape ?? null,
    trainLimit: args.trainLimit,
    seed: args.seed,
    dtype,
    device: args.device,
    matrix: args.matrix,
    loss,
    batchSize: args.batchSize ?? null,
    batchNorm: args.batchNorm,
    layers: args.layers ?? null,
    top: args.top ?? null,
    bottom: args.bottom ?? null,
    magnitude: args.magnitude ?? null,
    maxIterations: args.maxIterations ?? null,
    tolerance: args.tolerance ?? null,
    power: args.power,
    dense: args.dense,
    maxDimension: args.maxDimension,
    trace: args.trace,
    traceProducts: args.trace ? args.traceProducts : null,
    traceEstimator: args.trace ? (args.hutchinson ? 'hutchinson' : 'hutch++') : null,
    density: args.density ?? null,
    densityVectors: args.density !== undefined ? args.densityVectors : null,
    densitySteps: args.density !== undefined ? args.densitySteps : null,
  };
}

const WHICH_TITLE: Record<analysis.Which, string> = { largest: 'largest eigenvalues', smallest: 'smallest eigenvalues', magnitude: 'eigenvalues largest in magnitude' };
const WHICH_KEY: Record<analysis.Which, 'top' | 'bottom' | 'magnitude'> = { largest: 'top', smallest: 'bottom', magnitude: 'magnitude' };

/**
 * Runs `newton-cnn spectrum` with parsed arguments.
 * @throws UsageError for bad combinations found once the network is known (--layers out of
 *   range, --dense above --max-dimension, data that do not fit a checkpoint, an unavailable
 *   device); Error for unreadable data or checkpoints, a build without LAPACK (--dense) or
 *   without vega (--density).
 */
export async function runSpectrum(args: SpectrumArgs, io: CliIo): Promise<SpectrumOutcome> {
  if (args.threads !== undefined) setNumThreads(args.threads);
  checkDevice(args.device);
  // Refuse what cannot finish before spending any products.
  if (args.density !== undefined && !plottingAvailable()) throw new Error(`--density: ${PLOTTING_MISSING}`);
  if (args.dense && !lapackAvailable()) throw new Error('--dense needs LAPACK, which this build of the addon lacks: install libopenblas-dev and rebuild (npm run build:native -- --clean)');

  const jsonOnly = args.json === '-';
  const talk = !args.quiet && !jsonOnly;
  const status = new StatusLine(io.stderr, !args.quiet);
  const out = (line: string): void => {
    if (jsonOnly) return;
    status.clear();
    io.stdout.write(`${line}\n`);
  };

  const subject = await buildSubject(args);
  const net = subject.network;
  let op: CurvatureOperator | undefined;
  try {
    if (args.layers !== undefined) checkLayers(net, args.layers);
    const lossName = args.loss ?? subject.defaultLoss;
    op = analysis.curvatureOperator(net, {
      matrix: args.matrix,
      loss: lossByName(lossName),
      data: subject.data,
      ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
      batchStatistics: args.batchNorm === 'batch',
      ...(args.layers !== undefined ? { parameters: args.layers } : {}),
    });
    const n = op.dimension;
    if (args.dense && n > args.maxDimension) {
      throw new UsageError(
        `--dense: the operator has dimension ${n} > --max-dimension ${args.maxDimension} (the dense matrix takes ${n} products and ${((n * n * 8) / 2 ** 20).toFixed(0)} MiB); ` +
          `restrict it with --layers I,J,… (nodes with parameters: ${parameterNodes(net)}) or raise --max-dimension`,
      );
    }
    const l = subject.data.length;
    const batchSize = Math.min(args.batchSize ?? (l <= 1024 ? l : 256), l);
    const batches = Math.ceil(l / batchSize);
    const rt = info();
    const operatorInfo: SpectrumReport['operator'] = {
      matrix: args.matrix,
      loss: lossName,
      dimension: n,
      batchStatistics: args.batchNorm === 'batch',
      batchSize,
      batches,
      layers: args.layers ?? null,
      ranges: op.ranges.map((r) => ({ ...r })),
    };

    if (talk) {
      const m = subject.model;
      out(`newton-cnn ${rt.version}: spectrum of ${m.name} ${m.point === 'checkpoint' ? `(checkpoint ${m.checkpoint})` : `(initial point, seed ${args.seed})`}`);
      out(`model: ${net.summary().split('\n').pop() ?? m.name}; input ${m.inputShape.join('×')}, ${m.classes} classes`);
      out(`nodes with parameters: ${parameterNodes(net)}`);
      out(
        `data: ${path.basename(subject.dataName)}: the first ${l} training images (paper preprocessing, pixel mean of the first ${subject.dataInfo.meanOver})`,
      );
      const what = args.matrix === 'hessian' ? 'Hessian' : 'Gauss-Newton matrix';
      out(
        `operator: ${what} of the mean ${lossName} loss, batch norm on ${args.batchNorm === 'batch' ? 'batch' : 'running'} statistics, ` +
          `${batches} batch${batches === 1 ? '' : 'es'} of ${batchSize}; dimension ${n}` +
          (args.layers === undefined ? ' (all parameters)' : ` (nodes ${args.layers.join(', ')}: ${op.ranges.map((r) => `${r.module}.${r.name} ${r.size}`).join(', ')})`),
      );
      out(`device: ${args.device}, BLAS ${rt.blas}, threads ${getNumThreads()}`);
    }

    const watched = new WatchedOperator(op, io.signal, () => status.tick());
    const results: SpectrumResults = {};
    const timing: Array<[string, number, number]> = [];
    const t0 = performance.now();
    try {
      for (const [which, k] of [['largest', args.top], ['smallest', args.bottom], ['magnitude', args.magnitude]] as const) {
        if (k === undefined) continue;
        const kk = Math.min(k, n);
        const steps = Math.min(args.maxIterations ?? Math.max(4 * kk + 40, 80), n);
        status.begin(`lanczos (${which}, k ${kk})`, steps);
        const r = analysis.lanczos(watched, {
          k: kk,
          which,
          maxIterations: steps,
          seed: args.seed,
          ...(args.tolerance !== undefined ? { tolerance: args.tolerance } : {}),
          onStep: (_step, estimates) => status.setDetail(`λ ≈ ${estimates.slice(0, 3).map((x) => x.toPrecision(5)).join(', ')}${estimates.length > 3 ? ', …' : ''}`),
        });
        const rep: LanczosReport = { which, k: kk, values: r.values, residuals: r.residuals, iterations: r.iterations, converged: r.converged, products: r.products, seconds: r.seconds };
        results[WHICH_KEY[which]] = rep;
        timing.push([`lanczos (${which})`, r.products, r.seconds]);
        out('');
        out(`${WHICH_TITLE[which]} (Lanczos, ${r.iterations} steps, ${r.converged ? 'converged' : 'NOT converged: raise --max-iterations'})`);
        out(`  ${'#'.padStart(3)}  ${'eigenvalue'.padStart(15)}  ${'residual'.padStart(9)}`);
        r.values.forEach((v, i) => out(`  ${String(i + 1).padStart(3)}  ${formatValue(v).padStart(15)}  ${formatSmall(r.residuals[i]).padStart(9)}`));
      }
      if (args.power) {
        const maxIterations = args.maxIterations ?? 100;
        status.begin('power iteration', maxIterations);
        const r = analysis.powerIteration(watched, { maxIterations, seed: args.seed, ...(args.tolerance !== undefined ? { tolerance: args.tolerance } : {}) });
        results.power = { value: r.value, residual: r.residual, iterations: r.iterations, converged: r.converged, products: r.products, seconds: r.seconds };
        timing.push(['power iteration', r.products, r.seconds]);
        out('');
        out(`power iteration: λ = ${formatValue(r.value)} (largest in magnitude), residual ${formatSmall(r.residual)}, ${r.iterations} iterations, ${r.converged ? 'converged' : 'NOT converged'}`);
      }
      if (args.trace) {
        const estimator = args.hutchinson ? 'hutchinson' : 'hutch++';
        const products = args.hutchinson ? args.traceProducts : 3 * Math.floor(args.traceProducts / 3);
        status.begin(`trace (${estimator})`, products);
        const r = (args.hutchinson ? analysis.hutchinson : analysis.hutchPlusPlus)(watched, { products: args.traceProducts, seed: args.seed });
        results.trace = { estimator, value: r.value, standardError: r.standardError, products: r.products, seconds: r.seconds };
        timing.push([`trace (${estimator})`, r.products, r.seconds]);
        out('');
        out(`trace (${args.hutchinson ? 'Hutchinson' : 'Hutch++'}, ${r.products} products): ${formatValue(r.value)} ± ${formatSmall(r.standardError)} (standard error)`);
      }
      if (args.dense) {
        status.begin('dense matrix', n);
        const r = analysis.denseSpectrum(watched, { maxDimension: args.maxDimension });
        // zero up to the rounding of the products: float32 ones carry ~1e-7 relative error per product
        const s = analysis.spectrumStatistics(r.values, { zeroTolerance: (net.dtype === 'float32' ? 1e-5 : 1e-10) * Math.max(...Array.from(r.values, Math.abs)) });
        results.dense = { values: Array.from(r.values), asymmetry: r.asymmetry, statistics: s, products: r.products, seconds: r.seconds };
        timing.push(['dense (LAPACK)', r.products, r.seconds]);
        out('');
        out(`every eigenvalue (dense matrix + LAPACK, ${s.count} eigenvalues, asymmetry ‖A − Aᵀ‖/‖A‖ ${formatSmall(r.asymmetry)})`);
        const rows: Array<[string, string]> = [
          ['smallest λ', formatValue(s.min)],
          ['largest λ', formatValue(s.max)],
          ['max|λ|', formatValue(s.maxAbs)],
          ['min|λ|', formatValue(s.minAbs)],
          ['10th percentile of |λ|', formatValue(s.absPercentile10)],
          ['condition number max|λ|/min|λ|', formatValue(s.conditionNumber)],
          ['max|λ| / 10th percentile |λ|', formatValue(s.conditionNumber10)],
          ['negative fraction', `${s.negativeFraction.toFixed(4)} (below −${formatSmall(s.zeroTolerance)})`],
          ['zero fraction', `${s.zeroFraction.toFixed(4)} (|λ| ≤ ${formatSmall(s.zeroTolerance)})`],
        ];
        const w = Math.max(...rows.map(([a]) => a.length));
        for (const [a, b] of rows) out(`  ${a.padEnd(w)}  ${b}`);
      }
      if (args.density !== undefined) {
        const steps = Math.min(args.densitySteps, n);
        status.begin(`spectral density (${args.densityVectors} vectors × ${steps} steps)`, args.densityVectors * steps);
        const r = analysis.spectralDensity(watched, {
          vectors: args.densityVectors,
          steps,
          seed: args.seed,
          onVector: (done, total) => status.setDetail(`vector ${Math.min(done + 1, total)}/${total}`),
        });
        const markers = [...(results.top?.values ?? []), ...(results.bottom?.values ?? []), ...(results.magnitude?.values ?? [])];
        const svg = await densityPlotSvg({
          grid: r.grid,
          density: r.density,
          title: `${args.matrix === 'hessian' ? 'Hessian' : 'Gauss-Newton'} spectral density: ${subject.model.name}${args.layers !== undefined ? `, nodes ${args.layers.join(',')}` : ''} (${l} images, ${lossName})`,
          markers,
        });
        await writeFileAtomic(args.density, svg);
        results.density = {
          file: args.density,
          vectors: args.densityVectors,
          steps,
          grid: r.grid,
          density: r.density,
          nodes: r.nodes,
          weights: r.weights,
          negativeFraction: r.negativeFraction,
          bandwidth: r.bandwidth,
          products: r.products,
          seconds: r.seconds,
        };
        timing.push(['spectral density (SLQ)', r.products, r.seconds]);
        out('');
        out(
          `spectral density (stochastic Lanczos quadrature, ${args.densityVectors} vectors × ${steps} steps, bandwidth ${formatSmall(r.bandwidth)}): ` +
            `negative fraction ≈ ${r.negativeFraction.toFixed(4)}; plot: ${args.density}`,
        );
      }
    } catch (e) {
      if (!(e instanceof Interrupted)) throw e;
      status.clear();
      io.stderr.write('newton-cnn: spectrum interrupted\n');
      return { exitCode: EXIT.interrupted };
    } finally {
      status.clear();
    }

    const seconds = (performance.now() - t0) / 1000;
    const products = timing.reduce((a, [, p]) => a + p, 0);
    out('');
    const w = Math.max('total'.length, ...timing.map(([name]) => name.length));
    out(`${'method'.padEnd(w)}  ${'products'.padStart(8)}  ${'time'.padStart(8)}`);
    for (const [name, p, s] of timing) out(`${name.padEnd(w)}  ${String(p).padStart(8)}  ${`${s.toFixed(1)}s`.padStart(8)}`);
    out(`${'total'.padEnd(w)}  ${String(products).padStart(8)}  ${`${seconds.toFixed(1)}s`.padStart(8)}`);

    const report: SpectrumReport = {
      command: 'spectrum',
      version: rt.version,
      model: subject.model,
      data: subject.dataInfo,
      operator: operatorInfo,
      options: recordedOptions(args, lossName, net.dtype),
      device: args.device,
      threads: getNumThreads(),
      results,
      products,
      seconds,
    };
    if (args.json === '-') {
      io.stdout.write(`${toJson(report)}\n`);
    } else if (args.json !== undefined) {
      await writeFileAtomic(args.json, `${toJson(report)}\n`);
      out(`json: ${args.json}`);
    }
    return { exitCode: EXIT.ok, report };
  } finally {
    op?.dispose();
    net.dispose();
  }
}
