// Parameter initialisers. Every weight is drawn with its own seed mixSeed(seed, moduleIndex)
// (Network.init), so a network's initial θ depends only on (architecture, initializer, seed,
// scale), on every backend and thread count (the generator is counter-based).
//   he-normal:    W ~ N(0, 1)·√(2/n_in)                   (n_in = C·R·S for conv, in_features for linear)
//   xavier:       W ~ U(−a, a), a = √(6/(n_in + n_out))   (n_out = K·R·S for conv, out_features for linear)
//   xavier-small: xavier × scale (default 0.01)
//   orthogonal:   W reshaped to (n_rows, rest) = (O, I) for linear, (K, C·R·S) for conv, is a random
//                 (semi-)orthogonal matrix × gain (options.scale, default 1): rows orthonormal when
//                 O ≤ rest, columns when O > rest (Saxe et al. 2013; PyTorch's orthogonal_). A
//                 Gaussian matrix drawn by randomNormal in float64 on the CPU (Philox: the same
//                 numbers whatever the network's dtype and device) is orthonormalised on the host
//                 by Householder QR with the sign correction that makes it Haar distributed
//                 (lib/nn/orthogonal.ts), then copied to the network's dtype and device.
// Biases are 0 and batch-norm scales 1 for every initialiser (their ParameterSlot.init says so).
import { randomNormal, randomUniform } from '../ops';
import { Tensor } from '../tensor';
import type { ModuleInfo } from './module';
import { orthogonalFromGaussian } from './orthogonal';

/** The initialisers a network can use. */
export type Initializer = 'he-normal' | 'xavier' | 'xavier-small' | 'orthogonal';

/** Options of init(). */
export interface InitOptions {
  /** Seed (non-negative safe integer). */
  seed: number;
  /**
   * Scale of 'xavier-small' (default 0.01) and gain of 'orthogonal' (default 1); must be positive.
   * The other initialisers ignore it.
   */
  scale?: number;
}

const INITIALIZERS: readonly Initializer[] = ['he-normal', 'xavier', 'xavier-small', 'orthogonal'];

/** Validates an initializer name and its options; returns the scale (xavier-small's, default 0.01) or gain (orthogonal's, default 1). */
export function checkInit(fn: string, initializer: unknown, options: unknown): { initializer: Initializer; seed: number; scale: number } {
  if (typeof initializer !== 'string' || !INITIALIZERS.includes(initializer as Initializer)) {
    throw new RangeError(`${fn}: initializer must be one of ${INITIALIZERS.map((s) => `'${s}'`).join(', ')}, got ${JSON.stringify(initializer) ?? String(initializer)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${fn}: options must be an object with a seed, got ${options === null ? 'null' : typeof options}`);
  }
  const o = options as Partial<InitOptions>;
  if (typeof o.seed !== 'number' || !Number.isSafeInteger(o.seed) || o.seed < 0) {
    throw new RangeError(`${fn}: options.seed must be a non-negative safe integer, got ${String(o.seed)}`);
  }
  const scale = o.scale ?? (initializer === 'orthogonal' ? 1 : 0.01);
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new RangeError(`${fn}: options.scale must be a positive finite number, got ${String(o.scale)}`);
  }
  return { initializer: initializer as Initializer, seed: o.seed, scale };
}

/** A fresh tensor of `like`'s shape drawn by `initializer` for a parameter of `info` (its fan-in / fan-out), with `seed`. */
export function drawParameter(initializer: Initializer, info: ModuleInfo, seed: number, scale: number, like: Tensor): Tensor {
  const { fanIn, fanOut } = info;
  const opts = { seed, dtype: like.dtype, device: like.device };
  if (initializer === 'he-normal') {
    return randomNormal(like.shape, { ...opts, mean: 0, std: Math.sqrt(2 / fanIn) });
  }
  if (initializer === 'orthogonal') return drawOrthogonal(like, seed, scale);
  const a = Math.sqrt(6 / (fanIn + fanOut)) * (initializer === 'xavier-small' ? scale : 1);
  return randomUniform(like.shape, { ...opts, low: -a, high: a });
}

/**
 * A (semi-)orthogonal tensor of `like`'s shape (its dtype and device) × gain: the shape
 * (d₀, d₁, …) is taken as the matrix (d₀, d₁·…); a 1-D shape (n) as one row (1, n), a unit vector.
 */
function drawOrthogonal(like: Tensor, seed: number, gain: number): Tensor {
  const shape = like.shape;
  const size = shape.reduce((a, b) => a * b, 1);
  const rows = shape.length < 2 ? 1 : shape[0];
  const cols = size / rows;
  const g = randomNormal([rows, cols], { seed, dtype: 'float64', device: 'cpu', mean: 0, std: 1 });
  let values: Float64Array;
  try {
    values = orthogonalFromGaussian(Float64Array.from(g.toArray() as ArrayLike<number>), rows, cols, gain);
  } finally {
    g.dispose();
  }
  return Tensor.from(values, { shape, dtype: like.dtype, device: like.device });
}
