// Module specifications: plain, serialisable descriptions of modules (no tensors). A network
// (lib/nn/network.ts) turns them into built modules once it knows their input shapes:
//
//   const model = new Sequential([1, 28, 28], [conv2d(32, 5, { padding: 2 }), relu(), maxPool2d(2),
//                                               flatten(), linear(10)]);
//
// LayerSpec: the modules of one input (a Sequential is a chain of them); ModuleSpec adds those
// of several inputs (add, mul, concat), which only a graph (lib/nn/graph.ts) can connect.
import { checkPair, type Pair } from './shape-util';

/** A 2-D convolution: (N, C, H, W) → (N, outChannels, H', W'), weight (K, C, R, S), bias (K). */
export interface Conv2dSpec {
  /** Discriminator. */
  readonly kind: 'conv2d';
  /** Number of filters K. */
  readonly outChannels: number;
  /** Kernel [R, S]. */
  readonly kernel: Pair;
  /** Stride [sh, sw]. */
  readonly stride: Pair;
  /** Zero padding on each side [ph, pw]. */
  readonly padding: Pair;
  /** Whether the layer has a bias. */
  readonly bias: boolean;
}

/** A fully-connected layer: (N, I) → (N, outFeatures) = x·Wᵀ + b, weight (O, I), bias (O). */
export interface LinearSpec {
  /** Discriminator. */
  readonly kind: 'linear';
  /** Number of outputs O. */
  readonly outFeatures: number;
  /** Whether the layer has a bias. */
  readonly bias: boolean;
}

/** Pooling over windows of an image batch. */
export interface Pool2dSpec {
  /** Discriminator. */
  readonly kind: 'maxPool2d' | 'avgPool2d';
  /** Window [kh, kw]. */
  readonly kernel: Pair;
  /** Stride [sh, sw] (defaults to the kernel). */
  readonly stride: Pair;
  /** Padding [ph, pw] (default 0). */
  readonly padding: Pair;
}

/** Element-wise ReLU. */
export interface ReluSpec {
  /** Discriminator. */
  readonly kind: 'relu';
}

/** (N, C, H, W) → (N, C·H·W). */
export interface FlattenSpec {
  /** Discriminator. */
  readonly kind: 'flatten';
}

/** Inverted dropout: in training y = x ⊙ m / (1 − p) with m ~ Bernoulli(1 − p); identity in inference. */
export interface DropoutSpec {
  /** Discriminator. */
  readonly kind: 'dropout';
  /** Drop probability p in [0, 1). */
  readonly p: number;
}

/**
 * Batch normalisation over the channels of (N, C, H, W) (lib/nn/modules/batchnorm.ts): batch
 * statistics in training mode, running statistics in inference mode.
 */
export interface BatchNorm2dSpec {
  /** Discriminator. */
  readonly kind: 'batchNorm2d';
  /** ε added to the variance (default 1e-5). */
  readonly eps: number;
  /** Weight of the batch in the running statistics' update (default 0.1). */
  readonly momentum: number;
  /** Learnable γ (ones) and β (zeros) (default true). */
  readonly affine: boolean;
}

/** y = x₁ + x₂ + … (at least two inputs of one shape). */
export interface AddSpec {
  /** Discriminator. */
  readonly kind: 'add';
}

/** y = a ⊙ b (two inputs of one shape). */
export interface MulSpec {
  /** Discriminator. */
  readonly kind: 'mul';
}

/**
 * y = [x₁, x₂, …] along the channels: inputs [C_k, H, W] (or [C_k], or any rank) whose
 * dimensions after the channels are equal, output [ΣC_k, H, W]; at least two inputs.
 */
export interface ConcatSpec {
  /** Discriminator. */
  readonly kind: 'concat';
}

/** y = α·x with one learnable scalar α. */
export interface ScaleSpec {
  /** Discriminator. */
  readonly kind: 'scale';
  /** The initial α (default 1). */
  readonly init: number;
}

/** y = c·x with a fixed (not learnable) factor c: a negation, a constant step size. */
export interface ConstantScaleSpec {
  /** Discriminator. */
  readonly kind: 'constantScale';
  /** The factor c. */
  readonly factor: number;
}

/**
 * Newton-ResNet's residual in one kernel (lib/nn/modules/fused.ts): y = φ(a + b + α·p⊙q) on
 * inputs [a, b, p] (q ≡ 1) or [a, b, p, q], with a learnable α.
 */
export interface NewtonResidualSpec {
  /** Discriminator. */
  readonly kind: 'newtonResidual';
  /** φ = ReLU (true) or the identity (false). */
  readonly relu: boolean;
  /** The initial α. */
  readonly alpha: number;
}

/**
 * Newton-CGNet's CG-block update in one kernel (lib/nn/modules/fused.ts): on inputs [y, g1, g2,
 * g3(, dprev)], d = −(y + g1 + g2 + g3) + β·dprev and y1 = y + α·d; outputs [y1, d].
 */
export interface CgNetUpdateSpec {
  /** Discriminator. */
  readonly kind: 'cgNetUpdate';
  /** The first CG block of a Newton-CG block: no dprev, no β. */
  readonly first: boolean;
  /** The initial α. */
  readonly alpha: number;
  /** The initial β (unused when first). */
  readonly beta: number;
}

/** y = tanh(x). */
export interface TanhSpec {
  /** Discriminator. */
  readonly kind: 'tanh';
}

/** y = x (a named pass-through, e.g. the identity shortcut of a block drawn explicitly). */
export interface IdentitySpec {
  /** Discriminator. */
  readonly kind: 'identity';
}

/** (N, C, H, W) → (N, C): the mean of each plane. */
export interface GlobalAvgPool2dSpec {
  /** Discriminator. */
  readonly kind: 'globalAvgPool2d';
}

/** The specification of a module of one input: what a Sequential chains. */
export type LayerSpec =
  | Conv2dSpec
  | LinearSpec
  | Pool2dSpec
  | ReluSpec
  | FlattenSpec
  | DropoutSpec
  | BatchNorm2dSpec
  | ScaleSpec
  | ConstantScaleSpec
  | TanhSpec
  | IdentitySpec
  | GlobalAvgPool2dSpec;

/** The specification of any module, several inputs included. */
export type ModuleSpec = LayerSpec | AddSpec | MulSpec | NewtonResidualSpec | CgNetUpdateSpec | ConcatSpec;

function positiveInteger(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`${fn}: ${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

function booleanOption(fn: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${fn}: options.${name} must be a boolean, got ${typeof v}`);
  return v;
}

function checkOptionsObject(fn: string, options: unknown): void {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${fn}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
}

/** Options of conv2d(). */
export interface Conv2dLayerOptions {
  /** Stride (default 1). */
  stride?: number | readonly [number, number];
  /** Zero padding on each side (default 0; 'same' gives (kernel − 1)/2 for odd kernels). */
  padding?: number | readonly [number, number] | 'same';
  /** Add a bias (default true). */
  bias?: boolean;
}

/** A convolution layer with `outChannels` filters of size `kernel`. */
export function conv2d(outChannels: number, kernel: number | readonly [number, number], options?: Conv2dLayerOptions): Conv2dSpec {
  const fn = 'conv2d';
  checkOptionsObject(fn, options);
  positiveInteger(fn, 'outChannels', outChannels);
  const k = checkPair(fn, 'kernel', kernel, 1);
  const stride = options?.stride === undefined ? ([1, 1] as const) : checkPair(fn, 'options.stride', options.stride, 1);
  let padding: Pair;
  if (options?.padding === 'same') {
    if (k[0] % 2 === 0 || k[1] % 2 === 0) {
      throw new RangeError(`${fn}: options.padding 'same' needs an odd kernel, got ${k[0]}x${k[1]}`);
    }
    padding = [(k[0] - 1) / 2, (k[1] - 1) / 2];
  } else {
    padding = options?.padding === undefined ? [0, 0] : checkPair(fn, 'options.padding', options.padding, 0);
  }
  return { kind: 'conv2d', outChannels, kernel: k, stride, padding, bias: booleanOption(fn, 'bias', options?.bias, true) };
}

/** A fully-connected layer with `outFeatures` outputs (its input must be flat: use flatten() after images). */
export function linear(outFeatures: number, options?: { bias?: boolean }): LinearSpec {
  const fn = 'linear';
  checkOptionsObject(fn, options);
  positiveInteger(fn, 'outFeatures', outFeatures);
  return { kind: 'linear', outFeatures, bias: booleanOption(fn, 'bias', options?.bias, true) };
}

/** Element-wise ReLU activation. */
export function relu(): ReluSpec {
  return { kind: 'relu' };
}

/** Options of the pooling layers. */
export interface Pool2dLayerOptions {
  /** Stride (default: the kernel). */
  stride?: number | readonly [number, number];
  /** Padding (default 0). */
  padding?: number | readonly [number, number];
}

function pool(kind: 'maxPool2d' | 'avgPool2d', kernel: number | readonly [number, number], options?: Pool2dLayerOptions): Pool2dSpec {
  checkOptionsObject(kind, options);
  const k = checkPair(kind, 'kernel', kernel, 1);
  const stride = options?.stride === undefined ? k : checkPair(kind, 'options.stride', options.stride, 1);
  const padding = options?.padding === undefined ? ([0, 0] as const) : checkPair(kind, 'options.padding', options.padding, 0);
  if (padding[0] * 2 > k[0] || padding[1] * 2 > k[1]) {
    throw new RangeError(`${kind}: options.padding must be at most half the kernel, got padding ${padding[0]}x${padding[1]} for kernel ${k[0]}x${k[1]}`);
  }
  return { kind, kernel: k, stride, padding };
}

/** Max pooling (output sizes floor: a 2×2 stride-2 pool maps 7×7 to 3×3). */
export function maxPool2d(kernel: number | readonly [number, number], options?: Pool2dLayerOptions): Pool2dSpec {
  return pool('maxPool2d', kernel, options);
}

/** Average pooling (divides by the kernel area, padding included). */
export function avgPool2d(kernel: number | readonly [number, number], options?: Pool2dLayerOptions): Pool2dSpec {
  return pool('avgPool2d', kernel, options);
}

/** Flattens (N, C, H, W) to (N, C·H·W). */
export function flatten(): FlattenSpec {
  return { kind: 'flatten' };
}

/** Inverted dropout with drop probability p in [0, 1). */
export function dropout(p: number): DropoutSpec {
  if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p >= 1) {
    throw new RangeError(`dropout: p must be a number in [0, 1), got ${String(p)}`);
  }
  return { kind: 'dropout', p };
}

/** Options of batchNorm2d(). */
export interface BatchNorm2dOptions {
  /** ε added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the batch in the running statistics' update, in [0, 1] (default 0.1). */
  momentum?: number;
  /** Learnable γ and β (default true). */
  affine?: boolean;
}

/** Batch normalisation over the channels of images (N, C, H, W). */
export function batchNorm2d(options?: BatchNorm2dOptions): BatchNorm2dSpec {
  const fn = 'batchNorm2d';
  checkOptionsObject(fn, options);
  const eps = options?.eps ?? 1e-5;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) throw new RangeError(`${fn}: options.eps must be a finite number > 0, got ${String(eps)}`);
  const momentum = options?.momentum ?? 0.1;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new RangeError(`${fn}: options.momentum must be a number in [0, 1], got ${String(momentum)}`);
  }
  return { kind: 'batchNorm2d', eps, momentum, affine: booleanOption(fn, 'affine', options?.affine, true) };
}

/** The sum of its inputs (at least two, of one shape): a residual shortcut. */
export function add(): AddSpec {
  return { kind: 'add' };
}

/** The element-wise product of its two inputs. */
export function mul(): MulSpec {
  return { kind: 'mul' };
}

/**
 * The concatenation of its inputs along the channels (at least two, with equal dimensions after
 * the channels): [C₁, H, W], [C₂, H, W], … → [C₁ + C₂ + …, H, W], in input order. No parameters.
 *
 * @example
 * const y = g.add(nn.concat(), [a, b, c]); // [64, H, W], [64, H, W], [128, H, W] -> [256, H, W]
 */
export function concat(): ConcatSpec {
  return { kind: 'concat' };
}

/** y = α·x with a learnable scalar α starting at `init` (default 1). */
export function scale(init = 1): ScaleSpec {
  if (typeof init !== 'number' || !Number.isFinite(init)) throw new RangeError(`scale: init must be a finite number, got ${String(init)}`);
  return { kind: 'scale', init };
}

/** y = c·x with the fixed factor c (no parameter): e.g. constantScale(-1), a negation. */
export function constantScale(factor: number): ConstantScaleSpec {
  if (typeof factor !== 'number' || !Number.isFinite(factor)) throw new RangeError(`constantScale: factor must be a finite number, got ${String(factor)}`);
  return { kind: 'constantScale', factor };
}

/** Element-wise tanh. */
export function tanh(): TanhSpec {
  return { kind: 'tanh' };
}

/** The identity. */
export function identity(): IdentitySpec {
  return { kind: 'identity' };
}

/** Global average pooling: (N, C, H, W) → (N, C). */
export function globalAvgPool2d(): GlobalAvgPool2dSpec {
  return { kind: 'globalAvgPool2d' };
}

/** Newton-ResNet's fused residual y = φ(a + b + α·p⊙q) (inputs [a, b, p] or [a, b, p, q]); the Newton blocks add it. */
export function newtonResidual(options?: { relu?: boolean; alpha?: number }): NewtonResidualSpec {
  const fn = 'newtonResidual';
  checkOptionsObject(fn, options);
  const alpha = options?.alpha ?? 1;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new RangeError(`${fn}: options.alpha must be a finite number, got ${String(alpha)}`);
  return { kind: 'newtonResidual', relu: booleanOption(fn, 'relu', options?.relu, true), alpha };
}

/** Newton-CGNet's fused CG-block update (outputs [y1, d]: add it with GraphBuilder.addOutputs); the Newton-CG blocks add it. */
export function cgNetUpdate(options?: { first?: boolean; alpha?: number; beta?: number }): CgNetUpdateSpec {
  const fn = 'cgNetUpdate';
  checkOptionsObject(fn, options);
  const alpha = options?.alpha ?? 1;
  const beta = options?.beta ?? 1;
  for (const [name, v] of [['alpha', alpha], ['beta', beta]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${fn}: options.${name} must be a finite number, got ${String(v)}`);
  }
  return { kind: 'cgNetUpdate', first: booleanOption(fn, 'first', options?.first, false), alpha, beta };
}
