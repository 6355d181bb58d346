// Parameter initialisers. Every weight is drawn with its own seed mixSeed(seed, moduleIndex)
// (Network.init), so a network's initial θ depends only on (architecture, initializer, seed,
// scale), on every backend and thread count (the generator is counter-based).
//   he-normal:    W ~ N(0, 1)·√(2/n_in)                   (n_in = C·R·S for conv, in_features for linear)
//   xavier:       W ~ U(−a, a), a = √(6/(n_in + n_out))   (n_out = K·R·S for conv, out_features for linear)
//   xavier-small: xavier × scale (default 0.01)
// Biases are 0 and batch-norm scales 1 for every initialiser (their ParameterSlot.init says so).
import { randomNormal, randomUniform } from '../ops';
import type { Tensor } from '../tensor';
import type { ModuleInfo } from './module';

/** The initialisers a network can use. */
export type Initializer = 'he-normal' | 'xavier' | 'xavier-small';

/** Options of init(). */
export interface InitOptions {
  /** Seed (non-negative safe integer). */
  seed: number;
  /** Scale of 'xavier-small' (default 0.01); must be positive. */
  scale?: number;
}

const INITIALIZERS: readonly Initializer[] = ['he-normal', 'xavier', 'xavier-small'];

/** Validates an initializer name and its options; returns the xavier-small scale. */
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
  const scale = o.scale ?? 0.01;
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
  const a = Math.sqrt(6 / (fanIn + fanOut)) * (initializer === 'xavier-small' ? scale : 1);
  return randomUniform(like.shape, { ...opts, low: -a, high: a });
}

