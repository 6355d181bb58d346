// Random fills (native/core/ops/random.h): no tensor inputs; element i of a fill is
// Philox4x32-10 at position offset + i of the stream `seed` (note [random numbers] in
// native/core/random.h), the reference the TypeScript Philox of test/cases/reference.ts.
//
// Tolerances (note [case tolerances]; u the dtype's unit roundoff, ε = 2⁻⁵³):
//  - randomUniform: exact. The 24- or 53-bit fractions are exact in double, and
//    low + (high − low)·u is the same two double roundings everywhere (no FMA contraction:
//    none on x86-64 without -mfma, mul_rn/add_rn on CUDA), then one rounding to the dtype.
//  - randomNormal: Box-Muller sqrt(−2 log u₁)·cos(2π u₂) in double. log and cos are each
//    within 2 ulp in every libm used (glibc, V8's fdlibm port, CUDA's double log 1 ulp and
//    cos 2 ulp), so two implementations differ by ≤ 4 ulp (8ε) in each; the sqrt halves the
//    log's and rounds (≤ 6ε with the flips of its own rounding), the product adds 2ε: z to
//    16ε relative. mean + std·z adds two roundings: |Δ| ≤ 18ε·|std·z| + 2ε·|r|, and
//    |std·z| ≤ |r| + |mean|. The rounding to the dtype adds 2u·|r| (one ulp: in parity mode
//    both sides are rounded, from doubles that may straddle a rounding boundary):
//      rtol 2u + 20ε, atol 18ε·|mean|.
//    In float32 that is one ulp of the result (what the old parity test allowed, there in at
//    most 1% of the elements); in float64 a few ulps instead of the old 1e-13.
import { randomNormal, randomUniform } from '../../lib';
import type { BenchSpec, Check, Family, FloatDType, OpCase } from './case';
import { numel } from './data';
import * as ref from './reference';

const EPS = 2 ** -53;
const UNIT: Record<FloatDType, number> = { float32: 2 ** -24, float64: 2 ** -53 };

type Dist = 'uniform' | 'normal';

/** One fill: its stream and its distribution's parameters (absent: the op's defaults). */
interface Draw {
  readonly shape: readonly number[];
  readonly seed: number;
  readonly offset?: number;
  /** low, high for the uniform; mean, std for the normal. */
  readonly params?: readonly [number, number];
}

function draw(dist: Dist, d: Draw, dtype: FloatDType, device: string) {
  const base = { seed: d.seed, dtype, device, ...(d.offset === undefined ? {} : { offset: d.offset }) };
  if (dist === 'uniform') return randomUniform(d.shape, d.params ? { ...base, low: d.params[0], high: d.params[1] } : base);
  return randomNormal(d.shape, d.params ? { ...base, mean: d.params[0], std: d.params[1] } : base);
}

// The documented stream mapped affinely, in double, as the backends do.
function expected(dist: Dist, d: Draw, dtype: FloatDType): Float64Array {
  const [a, b] = d.params ?? [0, 1];
  const offset = d.offset ?? 0;
  return Float64Array.from({ length: numel(d.shape) }, (_, i) =>
    dist === 'uniform' ? a + (b - a) * ref.refUniformUnit(dtype, d.seed, offset + i) : a + b * ref.refNormalUnit(dtype, d.seed, offset + i),
  );
}

function check(dist: Dist, d: Draw, dtype: FloatDType): Check {
  if (dist === 'uniform') return { kind: 'exact' };
  const mean = d.params?.[0] ?? 0;
  return { kind: 'tol', rtol: 2 * UNIT[dtype] + 20 * EPS, atol: 18 * EPS * Math.abs(mean) };
}

/** A case drawing several fills, one output each. */
function fills(dist: Dist, name: string, draws: Record<string, Draw>, bench?: BenchSpec): OpCase {
  const entries = Object.entries(draws);
  return {
    op: dist === 'uniform' ? 'randomUniform' : 'randomNormal',
    name,
    inputs: {},
    run: (_t, dtype, device) => Object.fromEntries(entries.map(([k, d]) => [k, draw(dist, d, dtype, device)])),
    reference: (_v, dtype) => Object.fromEntries(entries.map(([k, d]) => [k, expected(dist, d, dtype)])),
    check: ({ dtype }) => Object.fromEntries(entries.map(([k, d]) => [k, check(dist, d, dtype)])),
    bench,
  };
}

// 2⁴⁰ + 3: the Philox block counter needs its high 32-bit word; 1000003 a large odd one.
const OFFSETS = [0, 1, 3, 5, 1000003, 2 ** 40 + 3];
// The seed is the 64-bit key: its high word (2³² + 7) and all 53 bits (MAX_SAFE_INTEGER).
const SEEDS = [0, 1, 42, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER];

const cases: OpCase[] = [];

for (const dist of ['uniform', 'normal'] as const) {
  const U = dist === 'uniform';
  // The affine parameters as the old tests and the parity file drew them; the dropout's
  // uniform in [−p, 1 − p) with p = 0.5.
  const P: readonly [number, number] = U ? [-0.3, 2] : [1.5, 0.25];
  const Q: readonly [number, number] = U ? [-3, 5] : [-1, 3];

  // Every offset of every seed: 11 (uniform) or 9 (normal) elements, not a multiple of the
  // 4 (float32 uniform) or 2 values a Philox block gives, so each starts and ends mid-block.
  const n = U ? 11 : 9;
  for (const seed of SEEDS) {
    cases.push(fills(dist, `seed ${seed}, ${n} elements at offsets ${OFFSETS.join(', ')}`, Object.fromEntries(OFFSETS.map((offset) => [`offset ${offset}`, { shape: [n], seed, offset }]))));
  }

  // Shapes, each drawn with the defaults and with parameters.
  const SHAPES: readonly { name: string; shape: readonly number[]; seed: number; offset: number }[] = [
    { name: 'cnn3 conv1 weights (32, 1, 5, 5)', shape: [32, 1, 5, 5], seed: 7, offset: 0 },
    { name: '1031 elements at offset 3 (not a multiple of 4)', shape: [1031], seed: 1, offset: 3 },
    { name: 'one element', shape: [1], seed: 9, offset: 0 },
    { name: 'a scalar', shape: [], seed: 9, offset: 5 },
    { name: 'empty', shape: [0], seed: 9, offset: 0 },
    { name: '(2, 3, 5) fills in row-major order', shape: [2, 3, 5], seed: 77, offset: 2 },
  ];
  for (const s of SHAPES) {
    cases.push(
      fills(dist, `${s.name}, ${U ? 'low, high' : 'mean, std'} default and ${P.join(', ')}`, {
        unit: { shape: s.shape, seed: s.seed, offset: s.offset },
        affine: { shape: s.shape, seed: s.seed, offset: s.offset, params: P },
      }),
    );
  }

  // Omitted options: offset 0, low 0 and high 1, mean 0 and std 1.
  cases.push(fills(dist, '37 elements, offset omitted (0)', { y: { shape: [37], seed: 9 } }));
  cases.push(fills(dist, `37 elements at offset 2, ${U ? 'low, high' : 'mean, std'} ${Q.join(', ')}`, { y: { shape: [37], seed: 9, offset: 2, params: Q } }));
  // A degenerate distribution: low = high, or std = 0, gives the constant exactly.
  cases.push({ ...fills(dist, U ? 'low = high = 0.7: all 0.7' : 'std 0: all the mean 0.7', { y: { shape: [13], seed: 3, params: U ? [0.7, 0.7] : [0.7, 0] } }), check: () => ({ y: { kind: 'exact' } }) });

  // Bench, at the ops' uses in cnn3: the dropout mask of its first activation (N, 32, 28, 28)
  // at batch 2, uniform in [−p, 1 − p) with p = 0.5; He initialisation of conv3's weights
  // (64, 64, 3, 3). Small because the reference Philox is slow under jest (~13 µs an element).
  // Several threads' chunks (4096 elements each at least), at an offset mid-block. Philox is
  // integer work: flops 0, bytes the float32 output.
  const shape = U ? [2, 32, 28, 28] : [64, 64, 3, 3];
  const what = U ? '(2, 32, 28, 28) at offset 12345, dropout p = 0.5: low −0.5, high 0.5' : 'cnn3 conv3 weights (64, 64, 3, 3) at offset 3, He: std √(2/576)';
  cases.push(fills(dist, what, { y: { shape, seed: 11, offset: U ? 12345 : 3, params: U ? [-0.5, 0.5] : [0, Math.sqrt(2 / 576)] } }, { flops: 0, bytes: 4 * numel(shape) }));
}

export const random: Family = { name: 'random', cases };
