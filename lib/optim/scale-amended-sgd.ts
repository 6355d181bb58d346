// Scale-amended SGD: Algorithm 2 of Zhang, Chen & Liu, "On the Local Hessian in
// Back-propagation" (NeurIPS 2018), with momentum, over a network's flat θ.
//
// The paper (section 4) approximates the Hessian of each block's local back-matching loss by two
// scalars, m_{b,W} for its parameters W_b and m_{b,z} for its input z_{b-1}, and amends the
// gradient of every block by them, from the output down:
//
//   m = 1                                   (the backward factor at the network's output)
//   for b = B, …, 1:
//     δ'W_b = δW_b / m / m_{b,W}                                                   (22)
//     m ← m · m_{b,z}                                                              (23)
//
// For a layer W_b followed by batch norm (section 4.1; rows of W homogeneous):
//   ‖W‖²_{2,µ} = (1/#row(W)) Σ_i w(i)ᵀw(i)          the mean squared row norm
//   m_{b,W}   = 1/‖W_b‖²_{2,µ}
//   m_{b,z}   = ‖W_bᵀ‖²_{2,µ} / ‖W_b‖²_{2,µ} = #row(W_b)/#row(W_bᵀ) = n_b/n_{b−1}
// and the weight decay is applied before the amendment (footnote 5). Here, per step t:
//
//   d   = ∇/|B| + θ/Cl + w·mask⊙θ         (as Sgd: the objective's θ/Cl and the weight decay w)
//   d'  = s ⊙ d,   s = ‖W‖²_{2,µ}/m on the weight of a conv2d/linear module,
//                  s = 1/m on every other parameter (biases, batch-norm γ and β, scales)
//   v ← μv − η_t d';  θ ← θ + v            (or Nesterov θ ← θ + μv − η_t d'; η_t: Sgd's schedules)
//
// with ‖W‖²_{2,µ} of the current θ (each step) and m the backward factor of the module's output.
//
// Where the paper is silent (its network is a chain of conv → BN → ReLU blocks and a classifier):
// - Conv weights (K, C, R, S): W is the (K, C·R·S) matrix of filters, so ‖W‖²_{2,µ} is the mean
//   squared filter norm, and Wᵀ's rows are the C input channels: m_{b,z} = K/C, the ratio the
//   conv has as a linear map of its input (stride 1, 'same' padding; every VGG conv). Rows of
//   C·R·S columns would give K/(C·R·S), shrinking m by R·S = 9 per 3×3 layer (9⁹ over VGG13), which
//   contradicts the paper's account that the backward factor is set by the classifier's 10/512.
// - Modules other than conv2d and linear (batch norm, ReLU, pools, flatten, add) leave m as it is
//   (m_{b,z} = 1), as Algorithm 2 has factors only for blocks with parameters; their parameters
//   (batch-norm γ/β, biases, scales) are amended by 1/m alone (m_{b,W} = 1, the local Hessian of
//   y = γx̂ + β in γ and β when x̂ is normalised).
// - Graphs: m of a module's output combines the factors m·m_{c,z} of the modules c that use it:
//   fanOut 'max' (default) takes the largest, i.e. m is the largest product of m_{b,z} along the
//   paths to the output (a residual block whose branch keeps the width then leaves m as it is,
//   the identity dominating its local Hessian, Remark 1); 'sum' adds them, the scalar of the
//   summed local Hessians of the consumers (for y = x + φ(x): 1 + m_φ per residual block, which
//   compounds with depth). On a chain both are Algorithm 2.
// - A zero weight matrix has m_{b,W} = ∞: its update is 0 (it stays 0).
// - The paper's schedule (halve on a validation plateau) is not one of Sgd's; the default here is a
//   constant learning rate.
import { axpy, squaredNorm } from '../ops';
import { Tensor } from '../tensor';
import type { Network } from '../nn/network';
import { checkRegularization } from '../train/divergence';
import { learningRateAt, MomentumState, resolveSgdOptions, weightDecayMask, type MinibatchOptimizer, type ResolvedSgdOptions, type SgdOptions, type SgdState } from './sgd';

/** How the backward factors of a value used by several modules combine (ScaleAmendedSgdOptions.fanOut). */
export type BackwardFactorFanOut = 'max' | 'sum';

/** Options of ScaleAmendedSgd: Sgd's (with the local-Hessian paper's defaults) and fanOut. */
export interface ScaleAmendedSgdOptions extends SgdOptions {
  /**
   * The backward factor m of a value used by several modules (a shortcut): 'max' (default) the
   * largest of their m·m_{b,z}, 'sum' their sum. A chain has no such value.
   */
  fanOut?: BackwardFactorFanOut;
}

/** ScaleAmendedSgdOptions with every default filled in. */
export interface ResolvedScaleAmendedSgdOptions extends ResolvedSgdOptions {
  /** How backward factors combine where a value fans out. */
  readonly fanOut: BackwardFactorFanOut;
}

/**
 * The paper's settings (section 4.1): η0 0.1 (it uses 0.005 for CIFAR-10), momentum 0.9, weight
 * decay 0.005 on every parameter; a constant learning rate (schedule 'inverse' with γ = 0); C 0.01
 * (the θ/Cl term of this library's objective, as Sgd); no Nesterov, no warm-up; fanOut 'max'.
 */
export const DEFAULT_SCALE_AMENDED_SGD_OPTIONS: ResolvedScaleAmendedSgdOptions = Object.freeze({
  learningRate: 0.1,
  momentum: 0.9,
  nesterov: false,
  decay: 0,
  C: 0.01,
  weightDecay: 0.005,
  weightDecayOn: 'all' as const,
  schedule: Object.freeze({ kind: 'inverse' as const }),
  warmup: 0,
  fanOut: 'max' as const,
});

/**
 * Validates scale-amended SGD options and fills in the defaults (DEFAULT_SCALE_AMENDED_SGD_OPTIONS).
 * @throws TypeError / RangeError naming the option.
 */
export function resolveScaleAmendedSgdOptions(fn: string, options: ScaleAmendedSgdOptions | undefined, prefix = 'options'): ResolvedScaleAmendedSgdOptions {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${fn}: ${prefix} must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const o = options ?? {};
  const d = DEFAULT_SCALE_AMENDED_SGD_OPTIONS;
  const base = resolveSgdOptions(
    fn,
    { ...o, learningRate: o.learningRate ?? d.learningRate, momentum: o.momentum ?? d.momentum, decay: o.decay ?? d.decay, C: o.C ?? d.C, weightDecay: o.weightDecay ?? d.weightDecay },
    prefix,
  );
  const fanOut = o.fanOut ?? d.fanOut;
  if (fanOut !== 'max' && fanOut !== 'sum') throw new RangeError(`${fn}: ${prefix}.fanOut must be 'max' or 'sum', got ${JSON.stringify(fanOut) ?? String(fanOut)}`);
  return Object.freeze({ ...base, fanOut });
}

/** The backward factor of one module (ScaleAmendedSgd.backwardFactors()). */
export interface BackwardFactor {
  /** Node index. */
  readonly index: number;
  /** Module kind. */
  readonly kind: string;
  /** m: the backward factor on the module's output (1 on the network's output). */
  readonly m: number;
  /** m_{b,z} = n_b/n_{b−1} (out/in channels or features) of a conv2d or linear module; 1 for the others. */
  readonly mZ: number;
}

/** How one parameter is amended at the current θ (ScaleAmendedSgd.amendments()). */
export interface Amendment {
  /** Node index of its module. */
  readonly index: number;
  /** Module kind. */
  readonly kind: string;
  /** Parameter name ('weight', 'bias', …). */
  readonly name: string;
  /** Offset in θ. */
  readonly offset: number;
  /** Element count. */
  readonly size: number;
  /** m of the module's output. */
  readonly m: number;
  /** m_{b,W} = 1/‖W‖²_{2,µ} for the weight of a conv2d/linear module; 1 for the other parameters. */
  readonly mW: number;
  /** The factor of its update: 1/(m·m_{b,W}). */
  readonly scale: number;
}

interface Slot {
  index: number;
  kind: string;
  name: string;
  offset: number;
  size: number;
  m: number;
  /** θ view of a conv2d/linear weight (its ‖W‖²_{2,µ} changes every step), else null. */
  weight: Tensor | null;
  /** #row(W): output channels or features. */
  rows: number;
}

const hasWeightMatrix = (kind: string): boolean => kind === 'conv2d' || kind === 'linear';

function finite(fn: string, name: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number, got ${v === null ? 'null' : typeof v}`);
  if (!Number.isFinite(v) || !ok(v)) throw new RangeError(`${fn}: ${name} must be ${what}, got ${v}`);
  return v;
}

/**
 * The backward factors of every module of `model` (Algorithm 2's m, on a graph: see the header):
 * they depend only on the architecture (m_{b,z} = n_b/n_{b−1}).
 */
export function backwardFactors(model: Network, fanOut: BackwardFactorFanOut = 'max'): BackwardFactor[] {
  const layers = model.layers();
  const n = layers.length;
  const mZ = layers.map((info) => (hasWeightMatrix(info.kind) && info.weight !== undefined ? info.weight.shape[0] / info.weight.shape[1] : 1));
  const consumers: number[][] = layers.map(() => []);
  model.nodeInputs.forEach((ins, c) => {
    for (const i of ins) if (i >= 0) consumers[i].push(c);
  });
  const m = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    if (i === n - 1) {
      m[i] = 1;
      continue;
    }
    const from = consumers[i].map((c) => m[c] * mZ[c]);
    // every node feeds the output (GraphBuilder.build checks it), so `from` is not empty
    m[i] = fanOut === 'max' ? Math.max(...from) : from.reduce((a, b) => a + b, 0);
  }
  return layers.map((info, i) => Object.freeze({ index: info.index, kind: info.kind, m: m[i], mZ: mZ[i] }));
}

/**
 * Scale-amended SGD with momentum (Zhang, Chen & Liu 2018, Algorithm 2) over a network's θ: SGD
 * whose step on each layer's weight W is multiplied by ‖W‖²_{2,µ}/m, m the backward factor of the
 * layer's output (the product of n_b/n_{b−1} of the layers above it), and on every other parameter
 * by 1/m. Made for networks with batch norm after each conv/linear layer, whose weights are then
 * scale-invariant; it runs on any network.
 */
export class ScaleAmendedSgd implements MinibatchOptimizer {
  /** The resolved options. */
  readonly options: ResolvedScaleAmendedSgdOptions;
  /** l, the number of training examples (Cl = C·l). */
  readonly trainSize: number;
  /** C·l. */
  readonly Cl: number;
  private readonly slots: Slot[];
  private readonly factors: readonly BackwardFactor[];
  private readonly momentum: MomentumState;

  /**
   * @param model the network whose θ is updated and whose `gradient` holds the batch's summed loss gradient
   * @param options learning rate, momentum, weight decay, fanOut, … (defaults: the local-Hessian paper's)
   * @param trainSize l, the number of training examples
   */
  constructor(model: Network, options: ScaleAmendedSgdOptions | undefined, trainSize: number) {
    const fn = 'ScaleAmendedSgd';
    if (model === null || typeof model !== 'object' || !(model.parameters instanceof Tensor) || typeof model.layers !== 'function') {
      throw new TypeError(`${fn}: model must be a Network, got ${model === null ? 'null' : typeof model}`);
    }
    this.options = resolveScaleAmendedSgdOptions(fn, options);
    finite(fn, 'trainSize', trainSize, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
    // C·l neither overflowing nor drowning the loss in rounding (the learning-rate rule of Sgd does
    // not apply: the amendment rescales each layer's step by a factor that depends on θ)
    checkRegularization(fn, 'options.C', this.options.C, trainSize);
    model.checkAlive(fn);
    this.trainSize = trainSize;
    this.Cl = this.options.C * trainSize;
    this.factors = Object.freeze(backwardFactors(model, this.options.fanOut));
    this.slots = [];
    const layers = model.layers();
    for (const info of layers) {
      const m = this.factors[info.index].m;
      for (const p of info.parameters) {
        const isWeight = hasWeightMatrix(info.kind) && p.name === 'weight';
        this.slots.push({
          index: info.index,
          kind: info.kind,
          name: p.name,
          offset: p.offset,
          size: p.size,
          m,
          weight: isWeight ? model.parameters.view(p.offset, [p.size]) : null,
          rows: isWeight ? p.shape[0] : 1,
        });
      }
    }
    try {
      const mask = this.options.weightDecay > 0 && this.options.weightDecayOn === 'weights' ? weightDecayMask(model) : null;
      this.momentum = new MomentumState(model, mask);
    } catch (e) {
      for (const slot of this.slots) slot.weight?.dispose();
      throw e;
    }
  }

  /** Steps taken so far (t). */
  get iteration(): number {
    return this.momentum.t;
  }

  /** The learning rate the next step will use, η_t. */
  get learningRate(): number {
    return learningRateAt(this.options, this.momentum.t);
  }

  /** The backward factor m and m_{b,z} of every module, in node order (fixed by the architecture). */
  backwardFactors(): readonly BackwardFactor[] {
    return this.factors;
  }

  /** How each parameter is amended at the current θ: m, m_{b,W} and the factor 1/(m·m_{b,W}), in θ order. */
  amendments(): Amendment[] {
    if (this.momentum.disposed) throw new Error('ScaleAmendedSgd.amendments: the optimizer is disposed');
    const norms = this.rowNorms();
    return this.slots.map((s, k) =>
      Object.freeze({ index: s.index, kind: s.kind, name: s.name, offset: s.offset, size: s.size, m: s.m, mW: s.weight === null ? 1 : 1 / norms[k], scale: norms[k] / s.m }),
    );
  }

  // ‖W‖²_{2,µ} = ‖W‖²_F/#row(W) of each weight slot at the current θ (1 for the other slots, m_{b,W} = 1).
  private rowNorms(): Float64Array {
    const out = new Float64Array(this.slots.length);
    this.slots.forEach((s, k) => {
      out[k] = s.weight === null ? 1 : squaredNorm(s.weight) / s.rows;
    });
    return out;
  }

  // The factor s = 1/(m·m_{b,W}) of each slot at the current θ: ‖W‖²_{2,µ}/m for weights, 1/m otherwise.
  private scales(): Float64Array {
    const out = this.rowNorms();
    this.slots.forEach((s, k) => {
      out[k] /= s.m;
    });
    return out;
  }

  /**
   * One update with the summed loss gradient of a batch of `batchSize` examples in model.gradient
   * (as left by model.backward): d = θ/Cl + w·mask⊙θ + ∇/|B| (the weight decay first), then
   * v ← μv − η·s⊙d, θ ← θ + v (or the Nesterov form), s the amendment of each parameter at the
   * current θ (see amendments()).
   */
  step(batchSize: number): void {
    const fn = 'ScaleAmendedSgd.step';
    finite(fn, 'batchSize', batchSize, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
    if (this.momentum.disposed) throw new Error(`${fn}: the optimizer is disposed`);
    const { momentum, nesterov, weightDecay } = this.options;
    const eta = this.learningRate;
    const s = this.scales(); // from θ before the update
    const d = this.momentum.gradient(batchSize, this.Cl, weightDecay);
    try {
      // the amendment: each slot's step scaled by its factor s[k]
      this.momentum.update(d, eta, momentum, nesterov, (target, factor, dd) => this.eachSlot(target, dd, (tv, dv, k) => axpy(tv, factor * s[k], dv)));
    } finally {
      d.dispose();
    }
  }

  // Calls f on views of a and b at each slot.
  private eachSlot(a: Tensor, b: Tensor, f: (av: Tensor, bv: Tensor, k: number) => void): void {
    this.slots.forEach((slot, k) => {
      const av = a.view(slot.offset, [slot.size]);
      const bv = b.view(slot.offset, [slot.size]);
      try {
        f(av, bv, k);
      } finally {
        av.dispose();
        bv.dispose();
      }
    });
  }

  /** A copy of the optimizer state (for checkpoints): the step count and the velocity. */
  state(): SgdState {
    return this.momentum.state();
  }

  /** Restores a state from state() (or Sgd's: the same layout). @throws RangeError when the velocity length differs from P. */
  loadState(s: SgdState): void {
    this.momentum.loadState('ScaleAmendedSgd.loadState', s);
  }

  /** Frees the velocity, the weight-decay mask and the views of θ. */
  dispose(): void {
    this.momentum.dispose();
    for (const s of this.slots) s.weight?.dispose();
  }
}
