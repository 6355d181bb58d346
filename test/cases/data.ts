// Seeded test data for the case tables (and the other tests, through test/helpers.ts).
// No jest in here: the benchmarks (scripts/bench/ops.ts) use the same cases.

// Math.imul held locally: looked up on the global Math of jest's sandbox on every call, it made
// generating a million test values take half a second.
const imul = Math.imul;

// mulberry32: a tiny 32-bit PRNG, good enough for test data and fully deterministic.
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Uniform in [-1, -0.1] ∪ [0.1, 1]: never zero or tiny, so relu kinks, sign-dependent code
// and relative comparisons behave, and values are "generic" (no accidental ties).
export function randData(n: number, seed: number, scale = 1): Float64Array {
  const r = prng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const m = 0.1 + 0.9 * r();
    out[i] = (r() < 0.5 ? -m : m) * scale;
  }
  return out;
}

// Like randData with awkward values sprinkled in every third element: ±0, subnormals, huge
// and tiny normals, so flush-to-zero or a different rounding path shows in the exact ops.
const SPECIAL = [0, -0, 1e-40, -1e-45, 1.1754944e-38, 3e38, -3e38, 1e-30, 65504, 0.1];
export function awkwardData(n: number, seed: number): Float64Array {
  const out = randData(n, seed);
  for (let i = 0; i < n; i += 3) out[i] = SPECIAL[(i / 3 + seed) % SPECIAL.length];
  return out;
}

// Positive rows of K that sum to one (targets for the cross-entropy), N·K values.
export function randDistribution(N: number, K: number, seed: number): Float64Array {
  const r = prng(seed);
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += out[n * K + k] = 0.05 + r();
    for (let k = 0; k < K; k++) out[n * K + k] /= s;
  }
  return out;
}

// The values a tensor of `dtype` actually holds (float32 rounds), as float64.
export function roundTo(dtype: 'float32' | 'float64' | 'int32', x: ArrayLike<number>): Float64Array {
  if (dtype === 'float32') return Float64Array.from(Float32Array.from(x));
  return Float64Array.from(x);
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
