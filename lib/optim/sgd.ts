// Mini-batch SGD with momentum: Algorithm 2 of "Newton methods for convolutional neural
// networks", on the network's flat parameter tensor θ (every update is a few vector ops over θ).
//
//   d = θ/Cl + w·m⊙θ + (1/|B|) Σ_{i∈B} ∇ξ_i   (Cl = C·l; w the optional extra weight decay; m = 1
//                                           on every parameter, or with weightDecayOn 'weights'
//                                           1 on conv2d/linear weights and 0 elsewhere)
//   v ← μv − η_t d
//   θ ← θ + v                  (classic momentum, the paper's)
//   θ ← θ + μv − η_t d         (Nesterov, in the "look-ahead" form of Sutskever et al. / Bengio)
//   η_t = s_t · min(1, (t + 1)/warmup)   (t = steps taken so far, from 0; the factor is 1 when warmup is 0)
//   s_t = η0 / (1 + tγ)                  (schedule 'inverse', the paper's)
//   s_t = η0 · factor^⌊t/every⌋          (schedule 'step'; γ is then ignored)
//   s_t = η0 · factor^|{m ∈ milestones : m ≤ t}|   (schedule 'multistep'; γ is then ignored)
//   s_t = ηmin + (η0 − ηmin)(1 + cos(π·min(t, T)/T))/2   (schedule 'cosine' over T steps; γ ignored)
import { axpy, mul, scale } from '../ops';
import { Tensor } from '../tensor';
import type { Network } from '../nn/network';
import { isFloatArray } from '../nn/shape-util';
import { checkLearningRate, checkRegularization } from '../train/divergence';

/**
 * Learning-rate schedules: the paper's η0/(1+tγ), a step decay every `every` steps, a decay by
 * `factor` at each of the `milestones` (step counts, strictly increasing positive integers), or a
 * cosine decay from η0 to `minimum` (default 0) over `steps` steps (SGDR without restarts; it stays
 * at `minimum` after them).
 */
export type SgdSchedule =
  | { kind: 'inverse' }
  | { kind: 'step'; every: number; factor: number }
  | { kind: 'multistep'; milestones: readonly number[]; factor: number }
  | { kind: 'cosine'; steps: number; minimum?: number };

/** Which parameters the extra weight decay w·θ applies to (see SgdOptions.weightDecayOn). */
export type WeightDecayTarget = 'all' | 'weights';

/** Options of Sgd; every field has the paper's default. */
export interface SgdOptions {
  /** Initial learning rate η0 > 0 (default 0.003). */
  learningRate?: number;
  /** Momentum μ in [0, 1) (default 0.9). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
  /** Decay γ ≥ 0 of the inverse schedule (default 1e-6). */
  decay?: number;
  /** Regularisation C > 0 of the objective (Cl = C·l; default 0.01). */
  C?: number;
  /** Extra L2 weight decay w ≥ 0 added to the gradient as w·θ, on the parameters weightDecayOn selects (default 0). */
  weightDecay?: number;
  /**
   * The parameters the extra weight decay w·θ applies to: 'all' (default) or 'weights', only the
   * 'weight' parameters of conv2d and linear modules (biases, batch-norm γ/β and scalar scales are
   * not decayed, the usual practice for ResNets). The θ/Cl term of the objective stays on every parameter.
   */
  weightDecayOn?: WeightDecayTarget;
  /** Learning-rate schedule (default { kind: 'inverse' }). */
  schedule?: SgdSchedule;
  /**
   * Linear warm-up over this many steps (integer ≥ 0, default 0: none): step t < warmup uses the
   * schedule's rate times (t + 1)/warmup.
   */
  warmup?: number;
}

/** SgdOptions with every default filled in. */
export interface ResolvedSgdOptions {
  /** η0. */
  readonly learningRate: number;
  /** μ. */
  readonly momentum: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  /** γ. */
  readonly decay: number;
  /** C. */
  readonly C: number;
  /** Extra weight decay. */
  readonly weightDecay: number;
  /** The parameters the extra weight decay applies to. */
  readonly weightDecayOn: WeightDecayTarget;
  /** Schedule. */
  readonly schedule: SgdSchedule;
  /** Warm-up steps (0: none). */
  readonly warmup: number;
}

/** The paper's SGD settings: η0 0.003, μ 0.9, γ 1e-6, C 0.01, inverse schedule, no extra decay, no warm-up. */
export const DEFAULT_SGD_OPTIONS: ResolvedSgdOptions = Object.freeze({
  learningRate: 0.003,
  momentum: 0.9,
  nesterov: false,
  decay: 1e-6,
  C: 0.01,
  weightDecay: 0,
  weightDecayOn: 'all' as const,
  schedule: Object.freeze({ kind: 'inverse' as const }),
  warmup: 0,
});

/** Optimizer state for checkpoints: the step count and the velocity v (a copy). */
export interface SgdState {
  /** Steps taken so far (t). */
  iteration: number;
  /** The velocity v, length P, in the network's dtype. */
  velocity: Float32Array | Float64Array;
}

function finite(fn: string, name: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number, got ${v === null ? 'null' : typeof v}`);
  if (!Number.isFinite(v) || !ok(v)) throw new RangeError(`${fn}: ${name} must be ${what}, got ${v}`);
  return v;
}

/** Validates SGD options and fills in the defaults. @throws TypeError / RangeError naming the option. */
export function resolveSgdOptions(fn: string, options: SgdOptions | undefined, prefix = 'options'): ResolvedSgdOptions {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${fn}: ${prefix} must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const o = options ?? {};
  const d = DEFAULT_SGD_OPTIONS;
  const learningRate = finite(fn, `${prefix}.learningRate`, o.learningRate ?? d.learningRate, (x) => x > 0, 'a positive finite number');
  const momentum = finite(fn, `${prefix}.momentum`, o.momentum ?? d.momentum, (x) => x >= 0 && x < 1, 'in [0, 1)');
  const decay = finite(fn, `${prefix}.decay`, o.decay ?? d.decay, (x) => x >= 0, 'a non-negative finite number');
  const C = finite(fn, `${prefix}.C`, o.C ?? d.C, (x) => x > 0, 'a positive finite number');
  const weightDecay = finite(fn, `${prefix}.weightDecay`, o.weightDecay ?? d.weightDecay, (x) => x >= 0, 'a non-negative finite number');
  const nesterov = o.nesterov ?? false;
  if (typeof nesterov !== 'boolean') throw new TypeError(`${fn}: ${prefix}.nesterov must be a boolean, got ${typeof nesterov}`);
  const weightDecayOn = o.weightDecayOn ?? d.weightDecayOn;
  if (weightDecayOn !== 'all' && weightDecayOn !== 'weights') {
    throw new RangeError(`${fn}: ${prefix}.weightDecayOn must be 'all' or 'weights', got ${JSON.stringify(weightDecayOn) ?? String(weightDecayOn)}`);
  }
  const warmup = finite(fn, `${prefix}.warmup`, o.warmup ?? d.warmup, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer (steps)');
  const s = (o.schedule ?? d.schedule) as Partial<{ kind: string; every: number; factor: number; milestones: unknown }> | null;
  let schedule: SgdSchedule;
  if (s === null || typeof s !== 'object') {
    throw new TypeError(
      `${fn}: ${prefix}.schedule must be { kind: 'inverse' }, { kind: 'step', every, factor }, { kind: 'multistep', milestones, factor } or { kind: 'cosine', steps, minimum }, got ${s === null ? 'null' : typeof s}`,
    );
  } else if (s.kind === 'inverse') {
    schedule = { kind: 'inverse' };
  } else if (s.kind === 'step') {
    const every = finite(fn, `${prefix}.schedule.every`, s.every, (x) => Number.isInteger(x) && x >= 1, 'a positive integer (steps)');
    const factor = finite(fn, `${prefix}.schedule.factor`, s.factor, (x) => x > 0, 'a positive finite number');
    schedule = { kind: 'step', every, factor };
  } else if (s.kind === 'multistep') {
    const m = s.milestones;
    if (!Array.isArray(m)) {
      throw new TypeError(`${fn}: ${prefix}.schedule.milestones must be an array of step counts, got ${m === null ? 'null' : typeof m}`);
    }
    const milestones: number[] = [];
    m.forEach((x: unknown, i) => {
      const v = finite(fn, `${prefix}.schedule.milestones[${i}]`, x, (y) => Number.isInteger(y) && y >= 1, 'a positive integer (steps)');
      if (i > 0 && v <= milestones[i - 1]) {
        throw new RangeError(`${fn}: ${prefix}.schedule.milestones must be strictly increasing, got ${milestones[i - 1]} then ${v}`);
      }
      milestones.push(v);
    });
    const factor = finite(fn, `${prefix}.schedule.factor`, s.factor, (x) => x > 0, 'a positive finite number');
    schedule = { kind: 'multistep', milestones: Object.freeze(milestones), factor };
  } else if (s.kind === 'cosine') {
    const c = s as { steps?: unknown; minimum?: unknown };
    const steps = finite(fn, `${prefix}.schedule.steps`, c.steps, (x) => Number.isInteger(x) && x >= 1, 'a positive integer (steps)');
    const minimum = finite(fn, `${prefix}.schedule.minimum`, c.minimum ?? 0, (x) => x >= 0 && x < learningRate, `in [0, learningRate = ${learningRate})`);
    schedule = { kind: 'cosine', steps, minimum };
  } else {
    throw new RangeError(`${fn}: ${prefix}.schedule.kind must be 'inverse', 'step', 'multistep' or 'cosine', got ${JSON.stringify(s.kind) ?? String(s.kind)}`);
  }
  return Object.freeze({ learningRate, momentum, nesterov, decay, C, weightDecay, weightDecayOn, schedule: Object.freeze(schedule), warmup });
}

/** The learning rate η_t of step t (t = steps taken so far, from 0) under `o`'s schedule and warm-up. */
export function learningRateAt(o: ResolvedSgdOptions, t: number): number {
  const eta = scheduledRate(o, t);
  // warmup 0 (the default) multiplies by nothing, so the schedules' values stay bit for bit
  return t < o.warmup ? eta * ((t + 1) / o.warmup) : eta;
}

function scheduledRate(o: ResolvedSgdOptions, t: number): number {
  const s = o.schedule;
  if (s.kind === 'step') return o.learningRate * Math.pow(s.factor, Math.floor(t / s.every));
  if (s.kind === 'multistep') {
    let passed = 0;
    while (passed < s.milestones.length && s.milestones[passed] <= t) passed++;
    return o.learningRate * Math.pow(s.factor, passed);
  }
  if (s.kind === 'cosine') {
    const low = s.minimum ?? 0;
    return low + (o.learningRate - low) * 0.5 * (1 + Math.cos((Math.PI * Math.min(t, s.steps)) / s.steps));
  }
  return o.learningRate / (1 + t * o.decay);
}

/**
 * The 0/1 mask over θ of the parameters weightDecayOn 'weights' decays: the 'weight' parameters
 * of the conv2d and linear modules of `model` (length P, in its dtype and on its device).
 */
export function weightDecayMask(model: Network): Tensor {
  const host = model.dtype === 'float64' ? new Float64Array(model.numParameters) : new Float32Array(model.numParameters);
  for (const m of model.layers()) {
    if (m.kind !== 'conv2d' && m.kind !== 'linear') continue;
    for (const p of m.parameters) if (p.name === 'weight') host.fill(1, p.offset, p.offset + p.size);
  }
  return Tensor.from(host, { dtype: model.dtype, device: model.device });
}

/**
 * Checks an optimizer state (SgdState) for a network of `numParameters` parameters.
 * @throws TypeError / RangeError naming `fn` and the field.
 */
export function checkSgdState(fn: string, s: SgdState, numParameters: number): void {
  if (s === null || typeof s !== 'object') throw new TypeError(`${fn}: state must be an object, got ${s === null ? 'null' : typeof s}`);
  finite(fn, 'state.iteration', s.iteration, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
  if (!isFloatArray(s.velocity)) {
    throw new TypeError(`${fn}: state.velocity must be a Float32Array or Float64Array`);
  }
  if (s.velocity.length !== numParameters) {
    throw new RangeError(`${fn}: state.velocity has ${s.velocity.length} elements but the network has ${numParameters} parameters`);
  }
}

/**
 * What trainSgd needs of a mini-batch optimizer over θ: Sgd and ScaleAmendedSgd
 * (lib/optim/scale-amended-sgd.ts). The state is the step count and the velocity.
 */
export interface MinibatchOptimizer {
  /** The options; C is the regularisation of the objective the trainer reports, learningRate η0. */
  readonly options: { readonly C: number; readonly learningRate: number };
  /** Steps taken so far (t). */
  readonly iteration: number;
  /** The learning rate the next step will use, η_t. */
  readonly learningRate: number;
  /** One update from the summed loss gradient of a batch of `batchSize` examples in model.gradient. */
  step(batchSize: number): void;
  /** A copy of the state (for checkpoints). */
  state(): SgdState;
  /** Restores a state from state(). */
  loadState(s: SgdState): void;
  /** Frees the optimizer's tensors. */
  dispose(): void;
}

/** v ← target + factor·d for a preconditioner P: Sgd's adds η·d to every parameter, ScaleAmendedSgd scales each slot. */
export type AddScaled = (target: Tensor, factor: number, d: Tensor) => void;

/**
 * What Sgd and ScaleAmendedSgd share: the velocity v and the step count t (their state), the
 * regularised mean gradient d = ∇/|B| + θ/Cl + w·m⊙θ, and the momentum update with a
 * preconditioner P applied through `addScaled` (the identity for Sgd):
 *   v ← μv − η·P(d);  θ ← θ + v,  or  θ ← θ + μv − η·P(d)  (Nesterov).
 */
export class MomentumState {
  private velocity: Tensor;
  /** Steps taken so far. */
  t = 0;

  /** @param decayMask weightDecayOn 'weights': 1 on the decayed parameters (owned, disposed with the state), else null */
  constructor(
    private readonly model: Network,
    private readonly decayMask: Tensor | null,
  ) {
    this.velocity = Tensor.zeros([model.numParameters], { dtype: model.dtype, device: model.device });
  }

  /** Whether dispose() ran. */
  get disposed(): boolean {
    return this.velocity.disposed;
  }

  /** d = ∇/|B| + θ/Cl + w·m⊙θ from the summed gradient in model.gradient; the caller disposes it. */
  gradient(batchSize: number, Cl: number, weightDecay: number): Tensor {
    const theta = this.model.parameters;
    const d = scale(this.model.gradient, 1 / batchSize);
    try {
      if (this.decayMask === null) {
        axpy(d, 1 / Cl + weightDecay, theta);
      } else {
        axpy(d, 1 / Cl, theta);
        const decayed = mul(this.decayMask, theta);
        try {
          axpy(d, weightDecay, decayed);
        } finally {
          decayed.dispose();
        }
      }
    } catch (e) {
      d.dispose();
      throw e;
    }
    return d;
  }

  /** The momentum update of θ from d with step η (see the class comment); counts the step. */
  update(d: Tensor, eta: number, momentum: number, nesterov: boolean, addScaled: AddScaled): void {
    const theta = this.model.parameters;
    const v = scale(this.velocity, momentum);
    try {
      addScaled(v, -eta, d);
    } catch (e) {
      v.dispose();
      throw e;
    }
    this.velocity.dispose();
    this.velocity = v;
    if (nesterov) {
      axpy(theta, momentum, v);
      addScaled(theta, -eta, d);
    } else {
      axpy(theta, 1, v);
    }
    this.t++;
  }

  /** A copy of the state (for checkpoints). */
  state(): SgdState {
    return { iteration: this.t, velocity: this.velocity.toArray() as Float32Array | Float64Array };
  }

  /** Restores a state from state(). @throws RangeError when the velocity length differs from P. */
  loadState(fn: string, s: SgdState): void {
    checkSgdState(fn, s, this.model.numParameters);
    const v = Tensor.from(s.velocity, { dtype: this.model.dtype, device: this.model.device });
    this.velocity.dispose();
    this.velocity = v;
    this.t = s.iteration;
  }

  /** Frees the velocity and the weight-decay mask. */
  dispose(): void {
    this.velocity.dispose();
    this.decayMask?.dispose();
  }
}

/** Sgd's preconditioner: the identity. */
const plainStep: AddScaled = (target, factor, d) => axpy(target, factor, d);

/** SGD with momentum over a network's θ, using the mean loss gradient of each mini-batch. */
export class Sgd implements MinibatchOptimizer {
  /** The resolved options. */
  readonly options: ResolvedSgdOptions;
  /** l, the number of training examples (Cl = C·l). */
  readonly trainSize: number;
  /** C·l. */
  readonly Cl: number;
  private readonly momentum: MomentumState;

  /**
   * @param model the network whose θ is updated and whose `gradient` holds the batch's summed loss gradient
   * @param options learning rate, momentum, decay, C, … (defaults: the paper's)
   * @param trainSize l, the number of training examples
   */
  constructor(model: Network, options: SgdOptions | undefined, trainSize: number) {
    const fn = 'Sgd';
    if (model === null || typeof model !== 'object' || !(model.parameters instanceof Tensor)) {
      throw new TypeError(`${fn}: model must be a Network, got ${model === null ? 'null' : typeof model}`);
    }
    this.options = resolveSgdOptions(fn, options);
    finite(fn, 'trainSize', trainSize, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
    // C·l neither overflowing nor drowning the loss in rounding; η0 below the regulariser's own stability limit
    checkRegularization(fn, 'options.C', this.options.C, trainSize);
    checkLearningRate(fn, 'options', this.options, trainSize);
    this.trainSize = trainSize;
    this.Cl = this.options.C * trainSize;
    // weightDecayOn 'weights' with w > 0: 1 on the decayed parameters, 0 elsewhere; null otherwise
    const mask = this.options.weightDecay > 0 && this.options.weightDecayOn === 'weights' ? weightDecayMask(model) : null;
    this.momentum = new MomentumState(model, mask);
  }

  /** Steps taken so far (t). */
  get iteration(): number {
    return this.momentum.t;
  }

  /** The learning rate the next step will use, η_t. */
  get learningRate(): number {
    return learningRateAt(this.options, this.momentum.t);
  }

  /**
   * One update with the summed loss gradient of a batch of `batchSize` examples in model.gradient
   * (as left by model.backward): v ← μv − η(θ/Cl + w·m⊙θ + ∇/|B|); θ ← θ + v (or the Nesterov form),
   * m the weight-decay mask (all ones unless weightDecayOn is 'weights').
   */
  step(batchSize: number): void {
    const fn = 'Sgd.step';
    finite(fn, 'batchSize', batchSize, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
    if (this.momentum.disposed) throw new Error(`${fn}: the optimizer is disposed`);
    const { momentum, nesterov, weightDecay } = this.options;
    const eta = this.learningRate;
    const d = this.momentum.gradient(batchSize, this.Cl, weightDecay);
    try {
      this.momentum.update(d, eta, momentum, nesterov, plainStep);
    } finally {
      d.dispose();
    }
  }

  /** A copy of the optimizer state (for checkpoints). */
  state(): SgdState {
    return this.momentum.state();
  }

  /** Restores a state from state(). @throws RangeError when the velocity length differs from P. */
  loadState(s: SgdState): void {
    this.momentum.loadState('Sgd.loadState', s);
  }

  /** Frees the velocity (and the weight-decay mask). */
  dispose(): void {
    this.momentum.dispose();
  }
}
