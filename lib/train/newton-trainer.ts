// trainNewton: the subsampled Gauss-Newton method with Levenberg-Marquardt damping, CG and a
// backtracking line search — Algorithm 1 of "Newton methods for convolutional neural networks"
// (Wang, Tan & Lin), with the rules of the reference code (simpleNN newton.m / CG.m) where the
// paper is silent. One iteration:
//
//   1. S = the next subsample: consecutive chunks of size |S| = ⌈rate·l⌉ of a fresh random
//      permutation each epoch (the last chunk wraps around to the start of the permutation, so every
//      S has |S| examples, as in the reference), or a fresh random subset (sampling 'random').
//   2. f(θ) and ∇f(θ) = θ/Cl + (1/l)Σ∇ξ_i over ALL data in mini-batches, S last, keeping S's forward
//      cache (section 3.5) — evaluateObjective with options.subsample/keepSubsample.
//   3. CG from d = 0, r = −∇f on (G_S + λI)d = −∇f, (G_S + λI)v = (1/Cl + λ)v + JᵀBJv/|S|, until
//      ‖r‖ ≤ σ‖∇f‖ (eq. 90) or CGmax products. Vectors float32 (the network dtype), dots in double.
//   4. gs = ∇fᵀd; dᵀG_S d = dᵀ(−∇f − r) − λ‖d‖² (the model without λ, from CG's final residual r).
//   5. Line search (eq. 35): α = 1, ½, ¼, … (at most maxHalvings = 20 halvings) until
//      f(θ + αd) ≤ f(θ) + η α gs, η = 1e-4; f evaluated over all data in the same order.
//   6. ρ = (f(θ + αd) − f(θ)) / (α gs + ½α² dᵀG_S d) for the accepted α; λ ← λ·drop when
//      ρ > ρ_upper, λ·boost when ρ < ρ_lower (eq. 37). No α accepted: θ is kept, λ ← λ·boost,
//      and the iteration reports accepted = false.
//
// Dropout is in inference mode (the identity) in f, ∇f and G: the Newton method optimises the
// deterministic objective. Determinism: subsamples come from a seeded lib/data Rng and everything
// else is deterministic native arithmetic, so a state taken between iterations resumes bit-for-bit.
// When aborted in the middle of an iteration, the iteration is discarded: θ, λ and the subsample
// position return to the iteration's start, and the resumed run repeats it exactly.
import { Rng, validateDataset, type AnyDataset } from '../data';
import { checkLoss, type Loss } from '../nn/losses';
import { DEFAULT_STORED_JACOBIAN_BYTES, type GaussNewtonMode } from '../nn/products';
import type { Network } from '../nn/network';
import { isFloatArray, isInt32Array } from '../nn/shape-util';
import { cgSteps, resolveCgOptions, type CgStop } from '../optim/cg';
import { profile, type ProfileScope } from '../profile';
import { axpy, copy, dot, scale, squaredNorm } from '../ops';
import type { Tensor } from '../tensor';
import type { LinearOperator } from '../optim/cg';
import { checkRegularization, DivergenceError, firstNonFinite, type DivergedQuantity } from './divergence';
import { checkModelData, evaluateObjectiveAsync, objectiveSteps, type KeptBatch, type ObjectiveResult } from './objective';
import { checkResumeBuffers, type TrainState } from './types';
import { checkDistributed, type Distributed } from '../distributed';

const FN = 'trainNewton';

/** How subsamples S are chosen. */
export type NewtonSampling = 'epoch' | 'random';

/** Settings of the Newton method; every field has the paper's default. */
export interface NewtonOptions {
  /** Regularisation C > 0 (Cl = C·l) (default 0.01). */
  C?: number;
  /** Sampling rate |S|/l in (0, 1] (default 0.05). */
  samplingRate?: number;
  /** 'epoch' (default): consecutive chunks of a fresh permutation each epoch; 'random': a fresh random subset per iteration. */
  sampling?: NewtonSampling;
  /** σ of the CG stopping rule ‖(G_S + λI)d + ∇f‖ ≤ σ‖∇f‖, in (0, 1) (default 0.1). */
  cgTolerance?: number;
  /** CGmax, the most CG steps per iteration (default 250). */
  cgMaxIterations?: number;
  /** Initial damping λ0 > 0 (default 1). */
  lambda?: number;
  /** λ factor when ρ > rhoUpper, in (0, 1) (default 2/3). */
  drop?: number;
  /** λ factor when ρ < rhoLower (and when no step is accepted), > 1 (default 3/2). */
  boost?: number;
  /** ρ_lower (default 0.25). */
  rhoLower?: number;
  /** ρ_upper ≥ ρ_lower (default 0.75). */
  rhoUpper?: number;
  /** η of the sufficient-decrease condition, in (0, 1) (default 1e-4). */
  eta?: number;
  /** The most halvings of α in the line search, a non-negative integer (default 20). */
  maxHalvings?: number;
  /** Gauss-Newton product mode (default 'rop'; 'stored' keeps the Jacobians of S, |S|·K·P elements, refused above 2 GiB). */
  gvMode?: GaussNewtonMode;
}

/** NewtonOptions with every default filled in. */
export interface ResolvedNewtonOptions {
  /** C. */
  readonly C: number;
  /** |S|/l. */
  readonly samplingRate: number;
  /** Subsample choice. */
  readonly sampling: NewtonSampling;
  /** σ. */
  readonly cgTolerance: number;
  /** CGmax. */
  readonly cgMaxIterations: number;
  /** λ0. */
  readonly lambda: number;
  /** drop. */
  readonly drop: number;
  /** boost. */
  readonly boost: number;
  /** ρ_lower. */
  readonly rhoLower: number;
  /** ρ_upper. */
  readonly rhoUpper: number;
  /** η. */
  readonly eta: number;
  /** Most halvings. */
  readonly maxHalvings: number;
  /** Gv mode. */
  readonly gvMode: GaussNewtonMode;
}

/** The paper's settings: C 0.01, 5% sampling, σ 0.1, CGmax 250, λ0 1, drop 2/3, boost 3/2, ρ 0.25/0.75, η 1e-4, 20 halvings. */
export const DEFAULT_NEWTON_OPTIONS: ResolvedNewtonOptions = Object.freeze({
  C: 0.01,
  samplingRate: 0.05,
  sampling: 'epoch' as const,
  cgTolerance: 0.1,
  cgMaxIterations: 250,
  lambda: 1,
  drop: 2 / 3,
  boost: 3 / 2,
  rhoLower: 0.25,
  rhoUpper: 0.75,
  eta: 1e-4,
  maxHalvings: 20,
  gvMode: 'rop' as const,
});

/** The default number of Newton iterations (the paper's). */
export const DEFAULT_NEWTON_ITERATIONS = 100;

/** Seconds spent in each part of one iteration. */
export interface NewtonTimes {
  /** f and ∇f over all data (with S's forward cache). */
  gradient: number;
  /** CG (all Gauss-Newton products and vector updates). */
  cg: number;
  /** The line search's function evaluations. */
  lineSearch: number;
  /** Test-set evaluation (0 when not asked). */
  evaluation: number;
}

/** What one Newton iteration reports. */
export interface NewtonIteration {
  /** Iterations done, this one included (over the whole training, resumes included). */
  iteration: number;
  /** Total iterations of the run. */
  iterations: number;
  /** f(θ) at the start of the iteration. */
  initialObjective: number;
  /** f at the end: f(θ + αd) when a step was accepted, else f(θ). */
  objective: number;
  /** ‖∇f(θ)‖ at the start of the iteration. */
  gradientNorm: number;
  /** Training accuracy at the start of the iteration (computed in the gradient pass). */
  trainAccuracy: number;
  /** |S|. */
  subsampleSize: number;
  /** CG steps (Gauss-Newton products). */
  cgSteps: number;
  /** ‖r‖/‖∇f‖ at the end of CG. */
  cgRelativeResidual: number;
  /** Why CG stopped. */
  cgStop: CgStop;
  /** The damping λ this iteration used. */
  lambda: number;
  /** λ for the next iteration. */
  nextLambda: number;
  /** ρ = actual / predicted reduction (NaN when no step was accepted). */
  rho: number;
  /** The accepted step size α (0 when none was accepted). */
  stepSize: number;
  /** Function evaluations of the line search. */
  lineSearchSteps: number;
  /** False when no α passed the line search: θ was kept and λ boosted. */
  accepted: boolean;
  /** Time split of the iteration, seconds. */
  times: NewtonTimes;
  /** Test accuracy after the iteration (when a test set is given and evaluated this iteration). */
  testAccuracy?: number;
  /** Mean test loss after the iteration (with testAccuracy). */
  testLoss?: number;
  /** Seconds of training so far (resumes included). */
  elapsed: number;
}

/** The part of a Newton iteration in progress (see NewtonProgress). */
export type NewtonPhase = 'gradient' | 'cg' | 'line-search' | 'evaluation';

/**
 * Reported during a Newton iteration (after every mini-batch of a pass over the data and every CG
 * step), so that a display can show where the 8–30 s of an iteration go. The counterpart of
 * trainSgd's SgdProgress; `optimizer` tells the two apart (TrainProgress).
 */
export interface NewtonProgress {
  /** Always 'newton'. */
  optimizer: 'newton';
  /** The iteration in progress, 1-based (over the whole training, resumes included). */
  iteration: number;
  /** Total iterations of the run. */
  iterations: number;
  /** What the iteration is doing: the f/∇f pass, CG, the line search's f passes, or the test evaluation. */
  phase: NewtonPhase;
  /** Work done in this phase: mini-batches of the pass (gradient, line-search), CG steps (cg); 0 for evaluation. */
  step: number;
  /** The phase's size: mini-batches per pass, CGmax for cg (CG may stop earlier), 0 for evaluation. */
  steps: number;
  /** Line search: the trial step size α being evaluated (1, ½, ¼, …); absent in the other phases. */
  stepSize?: number;
  /** f(θ) at the start of the iteration (known after the gradient phase). */
  objective?: number;
  /** The damping λ this iteration uses. */
  lambda: number;
  /** Seconds spent in this iteration so far. */
  iterationElapsed: number;
  /** Mean seconds per completed iteration of this run (NaN before the first completes). */
  secondsPerIteration: number;
  /** Seconds of training so far (resumes included). */
  elapsed: number;
}

/** Options of trainNewton. */
export interface TrainNewtonOptions {
  /**
   * Newton iterations of the whole run (a resumed run continues up to this many) (default 100, the
   * paper's; note that `newton-cnn train` defaults to 20).
   */
  iterations?: number;
  /** The loss ξ. */
  loss: Loss;
  /** The method's settings (defaults: the paper's, see DEFAULT_NEWTON_OPTIONS). */
  newton?: NewtonOptions;
  /**
   * Mini-batch size of the f/∇f evaluations over all data (default 256; `newton-cnn train` uses its
   * `--batch-size`, default 128: with batch norm the objective depends on it, so pass 128 to get the
   * CLI's objectives); S is always one batch.
   */
  batchSize?: number;
  /** Seed of the subsample choice (default 0). */
  seed?: number;
  /** Test set: its accuracy is reported every `evaluateEvery` iterations. */
  test?: AnyDataset;
  /** Evaluate the test set every this many iterations (default 1; 0 = never). */
  evaluateEvery?: number;
  /** Stop when aborted (at the next mini-batch or CG step; the unfinished iteration is discarded). */
  signal?: AbortSignal;
  /** Continue from this state (from a previous result or a checkpoint of trainNewton). */
  resume?: TrainState;
  /** Called after every iteration. */
  onIteration?: (it: NewtonIteration) => void;
  /**
   * Called during each iteration: after every mini-batch of the f/∇f and line-search passes, after
   * every CG step and before the test evaluation (NewtonProgress). Keep it cheap (a display
   * throttles itself); lib/progress's Progress draws it.
   */
  onProgress?: (p: NewtonProgress) => void;
  /** Called with a state every `checkpointEvery` iterations and at the end (awaited). */
  onCheckpoint?: (s: TrainState) => Promise<void> | void;
  /** Checkpoint every this many iterations (default 1). */
  checkpointEvery?: number;
  /** Give the event loop a turn at least this often, in milliseconds (default 50). */
  yieldEveryMs?: number;
  /**
   * A data-parallel job (initDistributed, under `mpirun`), every rank calling trainNewton with
   * the same arguments: the passes over the data share their mini-batches among the ranks, S is
   * split into one share per rank (batch norm synchronised over the shares), and f, ∇f and every
   * Gauss-Newton product are summed over the ranks, so CG, the line search and λ run in lockstep
   * with identical scalars: every rank takes the single process's steps, to rounding. θ and the
   * buffers start from rank 0's (a resumed run too). The signal stops the job after the
   * iteration in progress (every rank's request is summed at the end of each iteration). Needs
   * |S| ≥ the number of ranks.
   */
  distributed?: Distributed;
}

/** What trainNewton returns. */
export interface NewtonTrainResult {
  /** The state after the last completed iteration (resumable). */
  state: TrainState;
  /** True when stopped by the signal before the last iteration. */
  aborted: boolean;
  /** The iterations of this run. */
  history: NewtonIteration[];
  /** The last iteration (undefined when none completed in this run). */
  final?: NewtonIteration;
  /** Iterations completed in this run. */
  iterations: number;
  /** Seconds this run took. */
  seconds: number;
}

function num(name: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number') throw new TypeError(`${FN}: ${name} must be a number, got ${v === null ? 'null' : typeof v}`);
  if (!Number.isFinite(v) || !ok(v)) throw new RangeError(`${FN}: ${name} must be ${what}, got ${v}`);
  return v;
}

const isInt = (x: number): boolean => Number.isSafeInteger(x);

/**
 * Validates Newton options and fills in the defaults.
 * @throws TypeError / RangeError naming the option (negative C, sampling rate outside (0, 1],
 *   CGmax 0, λ0 ≤ 0, drop outside (0, 1), boost ≤ 1, ρ bounds out of order, …).
 */
export function resolveNewtonOptions(options: NewtonOptions | undefined, prefix = 'options.newton'): ResolvedNewtonOptions {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${FN}: ${prefix} must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const d = DEFAULT_NEWTON_OPTIONS;
  const o = options ?? {};
  const C = num(`${prefix}.C`, o.C ?? d.C, (x) => x > 0, 'a positive number');
  const samplingRate = num(`${prefix}.samplingRate`, o.samplingRate ?? d.samplingRate, (x) => x > 0 && x <= 1, 'in (0, 1]');
  const sampling = o.sampling ?? d.sampling;
  if (sampling !== 'epoch' && sampling !== 'random') throw new RangeError(`${FN}: ${prefix}.sampling must be 'epoch' or 'random', got ${JSON.stringify(sampling) ?? String(sampling)}`);
  const cg = resolveCgOptions(FN, { tolerance: o.cgTolerance ?? d.cgTolerance, maxIterations: o.cgMaxIterations ?? d.cgMaxIterations }, prefix);
  const lambda = num(`${prefix}.lambda`, o.lambda ?? d.lambda, (x) => x > 0, 'a positive number (λ0)');
  const drop = num(`${prefix}.drop`, o.drop ?? d.drop, (x) => x > 0 && x < 1, 'in (0, 1)');
  const boost = num(`${prefix}.boost`, o.boost ?? d.boost, (x) => x > 1, 'greater than 1');
  const rhoLower = num(`${prefix}.rhoLower`, o.rhoLower ?? d.rhoLower, (x) => x >= 0 && x < 1, 'in [0, 1)');
  const rhoUpper = num(`${prefix}.rhoUpper`, o.rhoUpper ?? d.rhoUpper, (x) => x >= rhoLower && x <= 1, `in [rhoLower = ${rhoLower}, 1]`);
  const eta = num(`${prefix}.eta`, o.eta ?? d.eta, (x) => x > 0 && x < 1, 'in (0, 1)');
  const maxHalvings = num(`${prefix}.maxHalvings`, o.maxHalvings ?? d.maxHalvings, (x) => isInt(x) && x >= 0 && x <= 1000, 'an integer in [0, 1000]');
  const gvMode = o.gvMode ?? d.gvMode;
  if (gvMode !== 'rop' && gvMode !== 'stored') throw new RangeError(`${FN}: ${prefix}.gvMode must be 'rop' or 'stored', got ${JSON.stringify(gvMode) ?? String(gvMode)}`);
  return {
    C,
    samplingRate,
    sampling,
    cgTolerance: cg.tolerance,
    cgMaxIterations: cg.maxIterations,
    lambda,
    drop,
    boost,
    rhoLower,
    rhoUpper,
    eta,
    maxHalvings,
    gvMode,
  };
}

/** |S| = ⌈rate·l⌉ (at least 1, at most l) — the reference code's GNsize. */
export function subsampleSize(samplingRate: number, l: number): number {
  return Math.min(l, Math.max(1, Math.ceil(samplingRate * l - 1e-9)));
}

interface Resolved {
  iterations: number;
  loss: Loss;
  newton: ResolvedNewtonOptions;
  batchSize: number;
  seed: number;
  evaluateEvery: number;
  checkpointEvery: number;
  yieldEveryMs: number;
  /** A data-parallel job of more than one process (absent: this process alone). */
  distributed?: Distributed;
}

function resolveOptions(model: Network, train: AnyDataset, options: TrainNewtonOptions): Resolved {
  checkModelData(FN, 'train', model, train);
  validateDataset(train, `${FN}: train`);
  if (options === null || typeof options !== 'object') throw new TypeError(`${FN}: options must be an object with loss, got ${options === null ? 'null' : typeof options}`);
  const iterations = num('options.iterations', options.iterations ?? DEFAULT_NEWTON_ITERATIONS, (x) => isInt(x) && x >= 1, 'a positive integer');
  const loss = checkLoss(FN, options.loss);
  const newton = resolveNewtonOptions(options.newton);
  checkRegularization(FN, 'options.newton.C', newton.C, train.length);
  const batchSize = num('options.batchSize', options.batchSize ?? 256, (x) => isInt(x) && x >= 1, 'a positive integer');
  const seed = num('options.seed', options.seed ?? 0, (x) => isInt(x) && x >= 0, 'a non-negative safe integer');
  if (options.test !== undefined) {
    checkModelData(FN, 'options.test', model, options.test);
    validateDataset(options.test, `${FN}: options.test`);
  }
  const evaluateEvery = num('options.evaluateEvery', options.evaluateEvery ?? 1, (x) => isInt(x) && x >= 0, 'a non-negative integer');
  const checkpointEvery = num('options.checkpointEvery', options.checkpointEvery ?? 1, (x) => isInt(x) && x >= 1, 'a positive integer');
  const yieldEveryMs = num('options.yieldEveryMs', options.yieldEveryMs ?? 50, (x) => x >= 0, 'a non-negative number');
  if (options.signal !== undefined && (options.signal === null || typeof options.signal !== 'object' || typeof options.signal.aborted !== 'boolean')) {
    throw new TypeError(`${FN}: options.signal must be an AbortSignal`);
  }
  for (const k of ['onIteration', 'onCheckpoint', 'onProgress'] as const) {
    const f: unknown = options[k];
    if (f !== undefined && typeof f !== 'function') throw new TypeError(`${FN}: options.${k} must be a function, got ${f === null ? 'null' : typeof f}`);
  }
  const dist = options.distributed === undefined ? undefined : checkDistributed(FN, 'options.distributed', options.distributed, model.device);
  if (dist !== undefined && dist.size > 1) {
    const s = subsampleSize(newton.samplingRate, train.length);
    if (s < dist.size) throw new RangeError(`${FN}: options.distributed: |S| = ${s} is smaller than the ${dist.size} ranks (each takes a share of S); raise the sampling rate`);
  }
  return { iterations, loss, newton, batchSize, seed, evaluateEvery, checkpointEvery, yieldEveryMs, ...(dist !== undefined && dist.size > 1 ? { distributed: dist } : {}) };
}

function checkResume(model: Network, l: number, s: number, sampling: NewtonSampling, state: TrainState): void {
  const bad = (what: string): never => {
    throw new RangeError(`${FN}: options.resume ${what}`);
  };
  if (state === null || typeof state !== 'object') throw new TypeError(`${FN}: options.resume must be a TrainState, got ${state === null ? 'null' : typeof state}`);
  if (state.version !== 1) bad(`has version ${String(state.version)}, expected 1`);
  if (state.newton === undefined || typeof state.newton.lambda !== 'number' || !(state.newton.lambda > 0)) bad('is not a Newton state (no positive newton.lambda): resume SGD states with trainSgd');
  if (!isFloatArray(state.parameters) || state.parameters.length !== model.numParameters) bad(`has ${String(state.parameters?.length)} parameters but the network has ${model.numParameters}`);
  checkResumeBuffers(model, state, bad);
  if (state.trainSize !== l) bad(`was made with ${state.trainSize} training examples but train has ${l}`);
  if (state.batchSize !== s) bad(`was made with subsamples of ${state.batchSize} examples but the sampling rate gives ${s}`);
  const chunks = Math.ceil(l / s);
  if (!Number.isInteger(state.batch) || state.batch < 0 || state.batch >= chunks) bad(`is at subsample ${state.batch}, outside [0, ${chunks})`);
  if (sampling === 'epoch' && state.batch > 0 && (!isInt32Array(state.permutation) || state.permutation.length !== l)) bad(`permutation must be an Int32Array of length ${l}`);
  if (!Array.isArray(state.rngState)) bad('rngState must be an array');
  if (!Number.isInteger(state.optimizer?.iteration) || state.optimizer.iteration < 0) bad('has no valid iteration count');
}

const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** Thrown inside an iteration when the signal aborts it. */
class Aborted extends Error {}

/**
 * Trains `model` on `train` by the subsampled Gauss-Newton method (Algorithm 1 of the Newton paper,
 * see the file comment for the exact rules) for options.iterations iterations.
 * Defaults differ from `newton-cnn train`'s: here 100 iterations and f/∇f mini-batches of 256
 * (the paper's), there 20 iterations and `--batch-size` 128.
 * - onIteration after every iteration (objective, ‖∇f‖, CG steps and relative residual, λ, ρ, step
 *   size, time split, test accuracy when asked); onCheckpoint every options.checkpointEvery iterations;
 * - dropout layers are the identity (inference mode) in f, ∇f and G;
 * - when options.signal aborts, stops at the next mini-batch or CG step, discards the unfinished
 *   iteration and resolves with { aborted: true, state }; trainNewton(model, train, { ...options,
 *   resume: state }) then continues bit-for-bit.
 * θ is updated in place; the model must be initialised first.
 * @throws TypeError / RangeError for bad options (C·l below 2^-53 or overflowing), mismatched shapes or an incompatible resume state.
 * @throws DivergenceError when f, ∇f, the CG direction or θ is not finite (naming the iteration;
 *   θ is then the one after the previous iteration, and no non-finite state reaches onCheckpoint).
 */
export async function trainNewton(model: Network, train: AnyDataset, options: TrainNewtonOptions): Promise<NewtonTrainResult> {
  const r = resolveOptions(model, train, options);
  const l = train.length;
  const s = subsampleSize(r.newton.samplingRate, l);
  if (options.resume !== undefined) checkResume(model, l, s, r.newton.sampling, options.resume);
  if (r.newton.gvMode === 'stored') {
    const bytes = s * model.outputSize * model.numParameters * (model.dtype === 'float64' ? 8 : 4);
    if (bytes > DEFAULT_STORED_JACOBIAN_BYTES) {
      const gib = (x: number): string => (x / 1024 ** 3).toFixed(2);
      throw new RangeError(
        `${FN}: gvMode 'stored' would keep the Jacobians of S: |S| ${s} × ${model.outputSize} outputs × ${model.numParameters} parameters = ${gib(bytes)} GiB, ` +
          `above the ${gib(DEFAULT_STORED_JACOBIAN_BYTES)} GiB limit; use gvMode 'rop' or a lower sampling rate`,
      );
    }
  }
  return run(model, train, options, r, s);
}

async function run(model: Network, train: AnyDataset, options: TrainNewtonOptions, r: Resolved, s: number): Promise<NewtonTrainResult> {
  const l = train.length;
  const o = r.newton;
  const chunks = Math.ceil(l / s);
  const resume = options.resume;
  let rng: Rng;
  let epoch = 0;
  let batch = 0;
  let permutation: Int32Array = new Int32Array(0);
  let iteration = 0;
  let lambda = o.lambda;
  let previousElapsed = 0;
  if (resume !== undefined) {
    model.setParameters(resume.parameters);
    if (resume.buffers !== undefined) model.setBuffers(resume.buffers);
    rng = Rng.fromState(resume.rngState);
    epoch = resume.epoch;
    batch = resume.batch;
    if (batch > 0) permutation = Int32Array.from(resume.permutation);
    iteration = resume.optimizer.iteration;
    lambda = resume.newton!.lambda;
    previousElapsed = resume.elapsed ?? 0;
  } else {
    rng = new Rng(r.seed);
  }
  const dist = r.distributed;
  if (dist !== undefined) {
    // every rank starts from rank 0's θ and batch-norm statistics (a resumed run too)
    dist.broadcast(model.parameters, 0);
    if (model.buffers.size > 0) dist.broadcast(model.buffers, 0);
  }
  const start = performance.now();
  let lastYield = start;
  const startIteration = iteration;
  const history: NewtonIteration[] = [];
  const elapsed = (): number => previousElapsed + (performance.now() - start) / 1000;
  // Divergence: a message naming the iteration, what, and what to do.
  const diverged = (quantity: DivergedQuantity, value: number, what: string, at: number): DivergenceError =>
    new DivergenceError(
      `${FN}: diverged: ${what} at iteration ${at}: the data hold NaN or infinite values, or the network's outputs overflow; ` +
        `raise C (C = ${o.C}, C·l = ${o.C * l}) or λ0 (${o.lambda}); θ and the last state handed to onCheckpoint are those after iteration ${at - 1}`,
      { optimizer: 'newton', quantity, value, iteration: at - 1 },
    );
  // θ and the buffers of a state must be finite (checked on the host copies a state makes anyway)
  const checkState = (st: TrainState): TrainState => {
    for (const [quantity, name, a] of [
      ['parameters', 'θ', st.parameters],
      ['buffers', 'the batch-norm statistics', st.buffers],
    ] as Array<[DivergedQuantity, string, Float32Array | Float64Array | undefined]>) {
      const i = a === undefined ? -1 : firstNonFinite(a);
      if (i >= 0) throw diverged(quantity, a![i], `${name} is not finite (element ${i} is ${a![i]})`, iteration + 1);
    }
    return st;
  };
  const snapshot = (): TrainState => checkState({
    version: 1,
    epoch,
    batch,
    permutation: batch > 0 ? Int32Array.from(permutation) : new Int32Array(0),
    rngState: rng.getState(),
    optimizer: { iteration, velocity: model.dtype === 'float64' ? new Float64Array(0) : new Float32Array(0) },
    parameters: model.getParameters(),
    buffers: model.getBuffers(),
    seed: r.seed,
    batchSize: s,
    trainSize: l,
    elapsed: elapsed(),
    epochLoss: { sum: 0, batches: 0 },
    newton: { lambda },
  });
  const result = (aborted: boolean, state: TrainState = snapshot()): NewtonTrainResult => ({
    state,
    aborted,
    history,
    ...(history.length > 0 ? { final: history[history.length - 1] } : {}),
    iterations: iteration - startIteration,
    seconds: (performance.now() - start) / 1000,
  });
  // In a data-parallel job the ranks stop together, after the same iteration: every rank's
  // request is summed at the start and after each iteration (syncAbort), between which the
  // ranks run the same collectives.
  let jobAborted = false;
  const syncAbort = (): void => {
    if (dist === undefined) return;
    const flag = Float64Array.of(options.signal?.aborted === true ? 1 : 0);
    dist.allReduceScalars(flag);
    jobAborted = flag[0] > 0;
  };
  const aborted = (): boolean => (dist !== undefined ? jobAborted : options.signal?.aborted === true);
  // Runs a generator to completion, giving the event loop a turn every yieldEveryMs and stopping
  // (the generator's finally blocks free its tensors) when aborted.
  const drain = async <T>(gen: Generator<unknown, T, void>, onStep?: (k: number) => void): Promise<T> => {
    for (let k = 1; ; k++) {
      if (aborted()) {
        gen.return(undefined as unknown as T);
        throw new Aborted();
      }
      const step = gen.next();
      if (step.done) return step.value;
      if (step.value instanceof Promise) {
        // a mini-batch of streamed data being read ahead (objectiveSteps' prefetch): not a step
        await step.value;
        k--;
        continue;
      }
      onStep?.(k);
      if (performance.now() - lastYield >= r.yieldEveryMs) {
        await turn();
        lastYield = performance.now();
      }
    }
  };
  const objective = (S: Int32Array, gradient: boolean): Generator<Promise<void> | void, ObjectiveResult, void> =>
    objectiveSteps(model, train, {
      C: o.C,
      loss: r.loss,
      batchSize: r.batchSize,
      trainSize: l,
      subsample: S,
      gradient,
      keepSubsample: gradient,
      // batch norm in training mode on a fixed partition (S last); running statistics from the gradient pass only
      batchStatistics: true,
      updateStatistics: gradient,
      prefetch: true,
      ...(dist !== undefined ? { distributed: dist } : {}),
    });

  // Progress: mini-batches of a pass over the data (objectiveSteps yields after each, S last as one batch).
  const passBatches = Math.ceil((l - s) / r.batchSize) + 1;
  let iterationStart = performance.now();
  const report = (phase: NewtonProgress['phase'], step: number, steps: number, extra: { objective?: number; stepSize?: number } = {}): void => {
    if (options.onProgress === undefined) return;
    const done = iteration - startIteration;
    options.onProgress({
      optimizer: 'newton',
      iteration: iteration + 1,
      iterations: r.iterations,
      phase,
      step,
      steps,
      ...extra,
      lambda,
      iterationElapsed: (performance.now() - iterationStart) / 1000,
      secondsPerIteration: done > 0 ? (iterationStart - start) / 1000 / done : NaN,
      elapsed: elapsed(),
    });
  };

  syncAbort();
  if (aborted()) return result(iteration < r.iterations);
  while (iteration < r.iterations) {
    iterationStart = performance.now();
    const before = snapshot();
    // 1. the subsample
    let S: Int32Array;
    if (o.sampling === 'random') {
      S = rng.permutation(l).slice(0, s);
    } else {
      if (batch === 0) permutation = rng.permutation(l);
      S = new Int32Array(s);
      for (let i = 0; i < s; i++) S[i] = permutation[(batch * s + i) % l];
      batch++;
      if (batch === chunks) {
        batch = 0;
        epoch++;
      }
    }
    let gradient: Tensor | undefined;
    let kept: KeptBatch | undefined;
    let d: Tensor | undefined;
    let residual: Tensor | undefined;
    let rhs: Tensor | undefined;
    let theta0: Tensor | undefined;
    let it: NewtonIteration;
    // The iteration's phase scopes, one after another inside 'newton iteration' (lib/profile.ts).
    const iterationScope = profile.scope('newton iteration');
    let phaseScope: ProfileScope = profile.scope('gradient');
    const cgStepScopes = profile.steps('cg step');
    try {
      // 2. f and ∇f, S last with its cache kept
      const t0 = performance.now();
      report('gradient', 0, passBatches);
      const fg = await drain(objective(S, true), (k) => report('gradient', k, passBatches));
      gradient = fg.gradient!;
      kept = fg.kept!;
      const f0 = fg.value;
      const gnorm = Math.sqrt(squaredNorm(gradient));
      if (!Number.isFinite(f0)) throw diverged('objective', f0, `the objective f is ${f0}`, iteration + 1);
      if (!Number.isFinite(gnorm)) throw diverged('gradient', gnorm, `the gradient is not finite (‖∇f‖ = ${gnorm}, f = ${f0})`, iteration + 1);
      const t1 = performance.now();
      phaseScope.close();
      phaseScope = profile.scope('cg');
      // 3. CG on (G_S + λI) d = −∇f
      rhs = scale(gradient, -1);
      // (G_S + λI)v on the forward cache of S (the last forward pass of the network)
      // in a data-parallel job each rank holds its share of S: JᵀBJv/|S| summed over the ranks
      const gv = {
        loss: r.loss,
        lambda,
        C: o.C,
        trainSize: l,
        mode: o.gvMode,
        ...(dist !== undefined ? { subsampleSize: s, reduce: (t: Tensor): void => profile.scope('all-reduce', () => dist.allReduceSum(t)) } : {}),
      };
      const apply: LinearOperator = (v) => {
        cgStepScopes.next();
        return profile.scope('Gv', () => model.gaussNewtonProduct(v, gv));
      };
      const cgMax = o.cgMaxIterations;
      report('cg', 0, cgMax, { objective: f0 });
      const cg = await drain(cgSteps(apply, rhs, { tolerance: o.cgTolerance, maxIterations: cgMax }), (k) => report('cg', k, cgMax, { objective: f0 }));
      cgStepScopes.end();
      d = cg.x;
      residual = cg.residual;
      kept.release();
      kept = undefined;
      // 4. gs = ∇fᵀd, dᵀG_S d = dᵀ(−∇f − r) − λ‖d‖²
      const gs = dot(gradient, d);
      const dd = squaredNorm(d);
      const dGd = dot(d, rhs) - dot(d, residual) - lambda * dd;
      if (!Number.isFinite(dd) || !Number.isFinite(gs)) {
        throw diverged('direction', Number.isFinite(dd) ? gs : dd, `the CG direction d is not finite (‖d‖² = ${dd}, ∇fᵀd = ${gs}: the Gauss-Newton products overflowed)`, iteration + 1);
      }
      const t2 = performance.now();
      phaseScope.close();
      phaseScope = profile.scope('line search');
      // 5. line search
      theta0 = model.parameters.clone();
      let alpha = 1;
      let accepted = false;
      let fNew = f0;
      let evaluations = 0;
      if (dd > 0 && gs < 0) {
        for (let h = 0; h <= o.maxHalvings; h++) {
          copy(model.parameters, theta0);
          axpy(model.parameters, alpha, d);
          const trial = { objective: f0, stepSize: alpha };
          const f = (await drain(objective(S, false), (k) => report('line-search', k, passBatches, trial))).value;
          evaluations++;
          if (f - f0 <= o.eta * alpha * gs) {
            accepted = true;
            fNew = f;
            break;
          }
          alpha /= 2;
        }
      }
      // 6. λ update
      phaseScope.close();
      phaseScope = profile.scope('update');
      let rho = NaN;
      const lambdaUsed = lambda;
      if (accepted) {
        const predicted = alpha * gs + 0.5 * alpha * alpha * dGd;
        rho = (fNew - f0) / predicted;
        if (rho > o.rhoUpper) lambda *= o.drop;
        else if (rho < o.rhoLower || Number.isNaN(rho)) lambda *= o.boost;
      } else {
        copy(model.parameters, theta0);
        lambda *= o.boost;
        alpha = 0;
      }
      const t3 = performance.now();
      iteration++;
      it = {
        iteration,
        iterations: r.iterations,
        initialObjective: f0,
        objective: fNew,
        gradientNorm: gnorm,
        trainAccuracy: fg.accuracy,
        subsampleSize: s,
        cgSteps: cg.steps,
        cgRelativeResidual: cg.relativeResidual,
        cgStop: cg.stop,
        lambda: lambdaUsed,
        nextLambda: lambda,
        rho,
        stepSize: alpha,
        lineSearchSteps: evaluations,
        accepted,
        times: { gradient: (t1 - t0) / 1000, cg: (t2 - t1) / 1000, lineSearch: (t3 - t2) / 1000, evaluation: 0 },
        elapsed: 0,
      };
    } catch (e) {
      if (!(e instanceof Aborted)) throw e;
      // discard the unfinished iteration: back to its start
      model.setParameters(before.parameters);
      if (before.buffers !== undefined) model.setBuffers(before.buffers);
      rng = Rng.fromState(before.rngState);
      epoch = before.epoch;
      batch = before.batch;
      permutation = before.permutation;
      return result(true, { ...before, elapsed: elapsed() });
    } finally {
      cgStepScopes.end();
      phaseScope.close();
      iterationScope.close();
      kept?.release();
      gradient?.dispose();
      d?.dispose();
      residual?.dispose();
      rhs?.dispose();
      theta0?.dispose();
    }
    // test accuracy when asked
    if (options.test !== undefined && r.evaluateEvery > 0 && (iteration % r.evaluateEvery === 0 || iteration === r.iterations)) {
      const te = performance.now();
      report('evaluation', 0, 0, { objective: it.objective });
      const t = await evaluateObjectiveAsync(model, options.test, { C: o.C, loss: r.loss, trainSize: l, batchSize: r.batchSize, ...(dist !== undefined ? { distributed: dist } : {}) });
      it.testAccuracy = t.accuracy;
      it.testLoss = t.lossMean;
      it.times.evaluation = (performance.now() - te) / 1000;
    }
    it.elapsed = elapsed();
    history.push(it);
    options.onIteration?.(it);
    if (options.onCheckpoint && (iteration % r.checkpointEvery === 0 || iteration === r.iterations)) await options.onCheckpoint(snapshot());
    lastYield = performance.now();
    await turn();
    syncAbort();
    if (aborted()) return result(iteration < r.iterations);
  }
  return result(false);
}
