// Divergence: what every trainer throws when the objective, a batch loss, the gradient, the
// search direction or θ stops being finite, and the checks on C·l and on the learning rate that
// refuse, before any training, the settings for which the regulariser alone guarantees it.
//
// The checks cost nothing on the hot path: trainSgd tests the batch loss (a number it already
// has) every batch, and θ, the velocity and the buffers only on the host copies a checkpoint
// makes anyway, at epoch ends (one reduction) and when a loss is not finite; trainNewton tests
// f, ‖∇f‖ and ‖d‖², which it computes anyway.
import { squaredNorm } from '../ops';
import type { Tensor } from '../tensor';

/** What stopped being finite. */
export type DivergedQuantity = 'loss' | 'objective' | 'gradient' | 'direction' | 'parameters' | 'velocity' | 'buffers';

/** Where and how a run diverged (the fields of a DivergenceError). */
export interface DivergenceDetails {
  /** 'sgd', 'scale-amended-sgd' or 'newton'. */
  optimizer: string;
  /** What stopped being finite. */
  quantity: DivergedQuantity;
  /** Its value (NaN, ±Infinity), or for an array its first non-finite element. */
  value: number;
  /** Optimizer steps (Newton iterations) completed before it was seen. */
  iteration: number;
  /** SGD: the epoch (0-based) in which it was seen. */
  epoch?: number;
  /** SGD: the batch of that epoch (1-based) in which it was seen; 0 at an epoch's end. */
  batch?: number;
}

/**
 * Training diverged: the objective, a batch loss, the gradient, the search direction or the
 * parameters became NaN or infinite. The trainer stops at once, without calling onCheckpoint
 * with the non-finite state: the last state handed to onCheckpoint is the last good one (and the
 * CLI's checkpoint file keeps it). The model's θ is left as it was when the divergence was seen.
 */
export class DivergenceError extends Error implements DivergenceDetails {
  readonly optimizer: string;
  readonly quantity: DivergedQuantity;
  readonly value: number;
  readonly iteration: number;
  readonly epoch?: number;
  readonly batch?: number;

  /** @param message the whole message (naming where, what and what to do) */
  constructor(message: string, details: DivergenceDetails) {
    super(message);
    this.name = 'DivergenceError';
    this.optimizer = details.optimizer;
    this.quantity = details.quantity;
    this.value = details.value;
    this.iteration = details.iteration;
    if (details.epoch !== undefined) this.epoch = details.epoch;
    if (details.batch !== undefined) this.batch = details.batch;
  }
}

/** x with 3 significant digits, without trailing zeros (2.4e-298, 0.417). */
export function short(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}

/** The index of the first element of `a` that is NaN or infinite, or −1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    // x − x is 0 for finite x, NaN for NaN and ±∞: one subtraction per element
    if (x - x !== 0) return i;
  }
  return -1;
}

/**
 * Whether every element of the tensor is finite: one reduction (‖t‖², accumulated in double), and
 * only when that is not finite a host copy to tell an overflow of the sum from a non-finite element.
 * Returns the index and value of the first non-finite element, or null.
 */
export function nonFiniteElement(t: Tensor): { index: number; value: number } | null {
  if (Number.isFinite(squaredNorm(t))) return null;
  const host = t.toArray() as Float32Array | Float64Array;
  const i = firstNonFinite(host);
  return i < 0 ? null : { index: i, value: host[i] };
}

/**
 * The smallest C·l accepted: 2^-53. The objective is f = ‖θ‖²/(2Cl) + mean loss; for C·l below
 * 2^-53 ≈ 1.1e-16, the rounding error of the regulariser (in double, ≈ 2^-53·‖θ‖²/(2Cl)) exceeds
 * the whole loss term (≈ 1) as soon as ‖θ‖² ≥ 2: f, its gradient θ/Cl + ∇loss and every step are
 * the regulariser's alone (and 1/(C·l) overflows float32 soon after, making θ/Cl infinite).
 */
export const MIN_CL = 2 ** -53;

/**
 * Above this 1/(C·l) (2^24 ≈ 1.7e7, 1/ε of float32) the regulariser's gradient θ/Cl outweighs a
 * loss gradient of the same order as θ by more than float32 resolves: the loss barely moves θ,
 * which the regulariser drives towards 0. Accepted; the CLI warns.
 */
export const WARN_INVERSE_CL = 2 ** 24;

/**
 * Refuses a regularisation C whose C·l is not finite or below MIN_CL (2^-53), naming `fn`, the
 * option and the rule. l is the number of training examples.
 * @throws RangeError
 */
export function checkRegularization(fn: string, name: string, C: number, l: number): void {
  const Cl = C * l;
  if (!Number.isFinite(Cl)) {
    throw new RangeError(`${fn}: ${name} = ${C} with l = ${l} training examples gives C·l = ${Cl}, which overflows; give a C below ${short(Number.MAX_VALUE / l)}`);
  }
  if (!(Cl >= MIN_CL)) {
    throw new RangeError(
      `${fn}: ${name} = ${C} with l = ${l} training examples gives C·l = ${short(Cl)}, below 2^-53 ≈ 1.1e-16: in f = ‖θ‖²/(2Cl) + mean loss ` +
        `the rounding error of the regulariser would exceed the whole loss term, and the run would diverge or learn nothing; give C ≥ ${short(MIN_CL / l)} ` +
        `(C·l ≥ 2^-53; the paper uses C = 0.01 to 1)`,
    );
  }
}

/** The SGD settings the stability rule looks at. */
export interface StepRuleOptions {
  learningRate: number;
  momentum: number;
  nesterov: boolean;
  C: number;
  weightDecay: number;
}

/**
 * The largest stable learning rate on the regulariser alone: on q(θ) = h‖θ‖²/2 with h = 1/(C·l) + w
 * (w the extra weight decay), SGD with momentum μ multiplies θ by a factor of modulus ≥ 1 each
 * step unless η·h < 2(1 + μ) (classic momentum), or η·h < 2(1 + μ)/(1 + 2μ) (Nesterov).
 */
export function maxStableLearningRate(o: StepRuleOptions, l: number): number {
  const h = 1 / (o.C * l) + o.weightDecay;
  const bound = o.nesterov ? (2 * (1 + o.momentum)) / (1 + 2 * o.momentum) : 2 * (1 + o.momentum);
  return bound / h;
}

/**
 * Refuses an initial learning rate at which the regulariser alone diverges (see
 * maxStableLearningRate): every direction of θ has curvature at least 1/(C·l) + w in it, so such a
 * run cannot converge whatever the data. `prefix` names the options ('options' for Sgd).
 * @throws RangeError naming the rule and the bound
 */
export function checkLearningRate(fn: string, prefix: string, o: StepRuleOptions, l: number): void {
  const max = maxStableLearningRate(o, l);
  if (o.learningRate < max) return;
  const h = 1 / (o.C * l) + o.weightDecay;
  const bound = max * h;
  const rule = o.nesterov ? '2(1 + μ)/(1 + 2μ) (Nesterov)' : '2(1 + μ)';
  throw new RangeError(
    `${fn}: ${prefix}.learningRate ${o.learningRate} is too large for the regulariser: η·(1/(C·l)${o.weightDecay > 0 ? ' + weightDecay' : ''}) = ` +
      `${o.learningRate} × ${short(h)} = ${short(o.learningRate * h)} ≥ ${rule} = ${short(bound)} ` +
      `(C ${o.C}, l ${l}, μ ${o.momentum}${o.weightDecay > 0 ? `, weightDecay ${o.weightDecay}` : ''}): the term ‖θ‖²/(2Cl) alone makes every step grow θ; ` +
      `give a learning rate below ${short(max)} or a larger C`,
  );
}
