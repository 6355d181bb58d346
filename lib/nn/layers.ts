// Layer specifications: plain, serialisable descriptions of layers (no tensors). A Sequential
// turns a list of specs into built layers once it knows the input shape.
//
//   const model = new Sequential([1, 28, 28], [conv2d(32, 5, { padding: 2 }), relu(), maxPool2d(2),
//                                               flatten(), linear(10)]);
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

/** Any layer specification. */
export type LayerSpec = Conv2dSpec | LinearSpec | Pool2dSpec | ReluSpec | FlattenSpec | DropoutSpec;

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
