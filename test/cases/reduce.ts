// Reductions to one number (native/core/ops/reduce.h): sum, dot, squaredNorm and the CG
// solver's fused update cgUpdate.
//
// Tolerances (note [case tolerances]):
//  - sum, dot, squaredNorm and the rr of cgUpdate are accumulated in double whatever the dtype,
//    and returned as a double (never rounded to the dtype): `double` with n the number of
//    terms and absSum = Σ|terms| (the op on |inputs|; for squaredNorm and rr the result
//    itself). In float32 the terms are exact in double (a float32 value, the product of two),
//    so the CPU (fixed blocks of 4096, native/core/cpu/blocked_sum.h), the GPU (a fixed tree,
//    cuda/reduce.cuh) and the reference (in index order) differ only in the order of n − 1
//    double additions: |Δ| ≤ 2·γₙ₋₁·absSum < 2n·2⁻⁵³·absSum (Higham). In float64 the products
//    of dot and squaredNorm are rounded, the same way in the op and the reference unless one
//    of them fuses the multiply-add: at most u·absSum more, inside the bound's spare
//    2·2⁻⁵³·absSum (to first order). A float32 accumulator is off by ~2⁻²⁴·absSum, 10³ to 10⁸
//    times the bound for the sizes here; an element read twice or skipped by ~absSum/n.
//  - The x and r of cgUpdate are exact: x + (α·p) and r − (α·q) in the dtype, α rounded to it,
//    one rounding per product and per sum, no fused multiply-add (the op's contract: two axpy
//    calls bit for bit, which the CG solver's reproducibility across devices rests on); the
//    reference emulates it (refCgUpdate). Awkward x and p (±0, subnormals, ±3e38) show
//    flush-to-zero, contraction and overflow handling.
//  - Special values whose every partial sum is representable in double (powers of two, a few
//    multiples of 3e38): every summation order gives the same number, which the reference
//    gives too, so those cases are compared exactly (`tol` 0, the number is never rounded to
//    the dtype; an `exact` check would round the reference to float32).
import { cgUpdate, dot, squaredNorm, sum } from '../../lib';
import type { Check, Expected, Family, FloatDType, OpCase } from './case';
import { numel } from './data';
import * as ref from './reference';

const label = (s: readonly number[]) => (s.length === 0 ? 'scalar' : `(${s.join(', ')})`);

// The number an Expected holds under `key` (the reduction outputs are numbers).
function num(e: Expected, key: string): number {
  const v = e[key];
  if (typeof v !== 'number') throw new Error(`expected a number for ${key}`);
  return v;
}

// The op's result as run() returns it: a JS number (not a tensor or a bigint), as the API says.
function number(v: unknown): number {
  if (typeof v !== 'number') throw new Error(`expected a number, got ${typeof v}`);
  return v;
}

// The op called three times on the same inputs: the same bits every time (the partition of the
// sum is fixed on every backend, never atomics or a thread-count-dependent split).
function deterministic(f: () => number): number {
  const a = number(f());
  for (let k = 2; k <= 3; k++) {
    const b = f();
    if (!Object.is(a, b)) throw new Error(`call ${k} gave ${b}, call 1 gave ${a}`);
  }
  return a;
}

// An n-term sum accumulated in double and returned as a double.
const double = (n: number, absSum: number): Check => ({ kind: 'double', n, absSum, rounded: false });
// Every partial sum exact in double (see the top of the file).
const exactInDouble: Check = { kind: 'tol', rtol: 0, atol: 0 };
// The value of one operation in the dtype: the exact result rounded once.
const rounder = (dtype: FloatDType) => (dtype === 'float32' ? Math.fround : (v: number) => v);

// θ of cnn3 on 28×28×1 images, the vector the CG solver's dot, squaredNorm and cgUpdate run on:
// conv1 5·5·1·32 + 32 = 832, conv2 3·3·32·64 + 64 = 18496, conv3 3·3·64·64 + 64 = 36928,
// linear 576·10 + 10 = 5770.
const THETA_CNN3 = 62026;

// The shapes of sum, dot and squaredNorm. The CPU sums blocks of 4096 terms, the GPU gives each
// block of 256 threads 8 terms per thread (2048) and at most 1024 blocks.
const SHAPES: readonly { shape: readonly number[]; why: string }[] = [
  { shape: [0], why: 'empty (the sum is 0)' },
  { shape: [], why: '0-d' },
  { shape: [1], why: 'one element' },
  { shape: [7], why: 'prime 7' },
  { shape: [13], why: 'prime 13' },
  { shape: [31], why: 'prime 31' },
  { shape: [1, 1, 1, 1], why: 'one element, 4-D' },
  { shape: [3, 31], why: '2-D' },
  { shape: [2, 3, 5, 7], why: '4-D' },
  { shape: [7, 3, 5, 11], why: '4-D, 1155 terms' },
  { shape: [1031], why: 'prime 1031' },
  { shape: [2049], why: 'one past a GPU block (2048)' },
  { shape: [4097], why: 'one past a CPU block (4096)' },
  { shape: [3, 4096], why: 'three whole CPU blocks' },
  { shape: [257, 129], why: '33153 terms' },
  { shape: [THETA_CNN3], why: 'θ of cnn3 (28×28×1)' },
  { shape: [100000], why: '1e5 terms' },
];
const isBench = (s: readonly number[]) => numel(s) === THETA_CNN3;

const cases: OpCase[] = [];

for (const { shape, why } of SHAPES) {
  const n = numel(shape);
  const name = `${label(shape)} ${why}`;
  cases.push({
    op: 'sum',
    name,
    inputs: { x: { shape } },
    run: (t) => ({ s: number(sum(t.x)) }),
    reference: (v) => ({ s: ref.refSum(v.x) }),
    check: (ctx) => ({ s: double(n, num(ctx.magnitude(), 's')) }),
    bench: isBench(shape) ? { flops: n, bytes: 4 * n } : undefined,
  });
  cases.push({
    op: 'dot',
    name,
    inputs: { a: { shape }, b: { shape } },
    run: (t) => ({ s: number(dot(t.a, t.b)) }),
    reference: (v) => ({ s: ref.refDot(v.a, v.b) }),
    check: (ctx) => ({ s: double(n, num(ctx.magnitude(), 's')) }),
    bench: isBench(shape) ? { flops: 2 * n, bytes: 8 * n } : undefined,
  });
  cases.push({
    op: 'squaredNorm',
    name,
    inputs: { x: { shape } },
    run: (t) => ({ s: number(squaredNorm(t.x)) }),
    reference: (v) => ({ s: ref.refSquaredNorm(v.x) }),
    check: (ctx) => ({ s: double(n, num(ctx.magnitude(), 's')) }),
    bench: isBench(shape) ? { flops: 2 * n, bytes: 4 * n } : undefined,
  });
}

// The GPU's block count stops at 1024: past 1024·2048 terms each thread loops further (and the
// partial sums must still fit the 1024 slots). One reduction is enough (sum, dot, squaredNorm
// and cgUpdate share the kernel), in float32, the GPU's dtype. Its values are like the generic
// ones (±[0.1, 1], never zero) but cheap, the fractional parts of i·φ⁻¹ and i·√2: the seeded
// PRNG of generic inputs costs ~0.3 µs a value under jest, and the bound holds for any data.
const LONG = 1024 * 2048 + 1;
const longData = new Float64Array(LONG);
for (let i = 0, sqrt2 = Math.SQRT2; i < LONG; i++) {
  const m = 0.1 + 0.9 * ((i * 0.6180339887498949) % 1);
  longData[i] = (i * sqrt2) % 1 < 0.5 ? -m : m;
}
cases.push({
  op: 'sum',
  name: `(${LONG}) one past 1024 full GPU blocks`,
  inputs: { x: { shape: [LONG], values: longData } },
  dtypes: ['float32'],
  run: (t) => ({ s: number(sum(t.x)) }),
  reference: (v) => ({ s: ref.refSum(v.x) }),
  check: (ctx) => ({ s: double(LONG, num(ctx.magnitude(), 's')) }),
});

// --- double accumulation, IEEE special values, 0-d ------------------------------------------
// Powers of two, held exactly by both dtypes.
const N_SMALL = 4096;
// [1, 2⁻³⁰, 2⁻³⁰, …]: every partial sum 1 + k·2⁻³⁰ has 31 significant bits, exact in double, so
// the sum is 1 + 4095·2⁻³⁰ in any order; in a float32 accumulator 1 + 2⁻³⁰ rounds to 1 (the
// result would be exactly 1 + 0 when the 1 comes first).
const ONE_AND_SMALL = Array.from({ length: N_SMALL }, (_, i) => (i === 0 ? 1 : 2 ** -30));
// Their square roots, for squaredNorm: 1² + 4095·(2⁻¹⁵)².
const ONE_AND_SQRT_SMALL = Array.from({ length: N_SMALL }, (_, i) => (i === 0 ? 1 : 2 ** -15));
const ONES = new Array<number>(N_SMALL).fill(1);
// 3e38 (rounded to float32 in both dtypes: 24 significant bits) is near the top of the float32
// range (3.4e38): 2·3e38 and (3e38)² overflow float32, not double; partial sums k·3e38 with
// |k| ≤ 8 and the squares are exact in double.
const BIG = Math.fround(3e38);
// Σ = 0, but a float32 accumulator overflows in index order (3e38 + 3e38), and so does the GPU's
// tree, which adds element i + 4 to element i before element i + 2.
const CANCELLING = [1, 1, -1, -1, 1, -1, 1, -1].map((k) => k * BIG);

type Special = { op: 'sum' | 'dot' | 'squaredNorm'; name: string; a: readonly number[]; b?: readonly number[] };
const SPECIALS: readonly Special[] = [
  { op: 'sum', name: 'double accumulation: 1 + 4095 × 2⁻³⁰ keeps the small terms', a: ONE_AND_SMALL },
  { op: 'dot', name: 'double accumulation: ⟨[1, 2⁻³⁰ × 4095], ones⟩', a: ONE_AND_SMALL, b: ONES },
  { op: 'squaredNorm', name: 'double accumulation: ‖[1, 2⁻¹⁵ × 4095]‖² = 1 + 4095 × 2⁻³⁰', a: ONE_AND_SQRT_SMALL },
  { op: 'sum', name: '3e38 + 3e38: not clamped to the float32 range', a: [BIG, BIG] },
  { op: 'sum', name: '±3e38 eight times = 0: partial sums past the float32 range', a: CANCELLING },
  { op: 'dot', name: '⟨[3e38, 3e38], [3e38, −3e38]⟩ = 0: products past the float32 range', a: [BIG, BIG], b: [BIG, -BIG] },
  { op: 'squaredNorm', name: '‖[3e38, −3e38]‖² = 1.8e77, past the float32 range', a: [BIG, -BIG] },
  { op: 'sum', name: 'a NaN is never dropped', a: [1, NaN, -2, 0.5] },
  { op: 'sum', name: '+Infinity and −Infinity give NaN', a: [Infinity, 1, -Infinity] },
  { op: 'dot', name: 'Infinity × 0 gives NaN', a: [Infinity, 1], b: [0, 1] },
  { op: 'squaredNorm', name: '−Infinity squared is +Infinity', a: [0.5, -Infinity] },
  // the values of the old scalar tests: one term, exact
  { op: 'sum', name: '0-d: 2.5', a: [2.5] },
  { op: 'dot', name: '0-d: 2.5 × −4 = −10', a: [2.5], b: [-4] },
  { op: 'squaredNorm', name: '0-d: (−1.5)² = 2.25', a: [-1.5] },
];

for (const s of SPECIALS) {
  const shape = s.a.length === 1 ? [] : [s.a.length];
  cases.push({
    op: s.op,
    name: s.name,
    inputs: s.b ? { a: { shape, values: s.a }, b: { shape, values: s.b } } : { a: { shape, values: s.a } },
    run: (t) => ({ s: number(s.op === 'sum' ? sum(t.a) : s.op === 'dot' ? dot(t.a, t.b) : squaredNorm(t.a)) }),
    reference: (v) => ({ s: s.op === 'sum' ? ref.refSum(v.a) : s.op === 'dot' ? ref.refDot(v.a, v.b) : ref.refSquaredNorm(v.a) }),
    check: () => ({ s: exactInDouble }),
  });
}

// --- cgUpdate --------------------------------------------------------------------------------
// x += α·p, r −= α·q in place, rr = ‖r‖² of the new r. The case updates clones of x and r and
// returns them: the op's outputs are the new x and r.
// x and p are awkward, r and q generic (awkward too with `awkwardR`).
function cgCase(o: { n: readonly number[]; why: string; alpha: number; awkwardR?: boolean; bench?: boolean }): OpCase {
  const shape = o.n;
  const n = numel(shape);
  const rq = o.awkwardR ? ('awkward' as const) : ('generic' as const);
  return {
    op: 'cgUpdate',
    name: `${label(shape)} ${o.why}, α = ${o.alpha.toPrecision(3)}`,
    inputs: { x: { shape, kind: 'awkward' }, r: { shape, kind: rq }, p: { shape, kind: 'awkward' }, q: { shape, kind: rq } },
    run: (t) => {
      const x = t.x.clone();
      const r = t.r.clone();
      const rr = number(cgUpdate(x, r, t.p, t.q, o.alpha));
      return { x, r, rr };
    },
    reference: (v, dtype) => ref.refCgUpdate(v.x, v.r, v.p, v.q, o.alpha, rounder(dtype)),
    // rr's terms are its own squares: absSum = rr (of the new r, not of |inputs|)
    check: (ctx) => {
      const v = ctx.values;
      const rr = ref.refCgUpdate(v.x, v.r, v.p, v.q, o.alpha, rounder(ctx.dtype)).rr;
      return { x: { kind: 'exact' }, r: { kind: 'exact' }, rr: double(n, rr) };
    },
    // reads x, r, p, q, writes x, r; α·p, +, α·q, −, r², + per element
    bench: o.bench ? { flops: 6 * n, bytes: 6 * 4 * n } : undefined,
  };
}

cases.push(
  cgCase({ n: [THETA_CNN3], why: 'θ of cnn3 (28×28×1)', alpha: 0.37, bench: true }),
  cgCase({ n: [0], why: 'empty: rr = 0', alpha: 0.37 }),
  cgCase({ n: [1], why: 'one element', alpha: -1 / 3 }),
  cgCase({ n: [], why: '0-d', alpha: 2.5 }),
  cgCase({ n: [1031], why: 'prime 1031', alpha: 1 / 3 }),
  // r and q awkward too: r − α·q overflows float32 (rr = +Infinity there), ±0 and subnormals in r
  cgCase({ n: [1031], why: 'prime 1031, every input awkward', alpha: 0.37, awkwardR: true }),
  cgCase({ n: [4097], why: 'one past a CPU block', alpha: -1e-3 }),
  cgCase({ n: [2, 3, 5, 7], why: '4-D', alpha: 7 }),
);

// α = 0: x + 0·p and r − 0·q (x and r but for −0, which becomes +0 where the product is +0);
// rr = ‖r‖² accumulated in double: r = [1, 2⁻¹⁵ × 4095] gives 1 + 4095·2⁻³⁰ exactly, which a
// float32 accumulator rounds to 1.
cases.push({
  op: 'cgUpdate',
  name: 'α = 0: x + 0·p, r − 0·q; rr = ‖[1, 2⁻¹⁵ × 4095]‖² accumulated in double',
  inputs: {
    x: { shape: [N_SMALL], kind: 'awkward' },
    r: { shape: [N_SMALL], values: ONE_AND_SQRT_SMALL },
    p: { shape: [N_SMALL] },
    q: { shape: [N_SMALL] },
  },
  run: (t) => {
    const x = t.x.clone();
    const r = t.r.clone();
    const rr = number(cgUpdate(x, r, t.p, t.q, 0));
    return { x, r, rr };
  },
  reference: (v, dtype) => ref.refCgUpdate(v.x, v.r, v.p, v.q, 0, rounder(dtype)),
  check: () => ({ x: { kind: 'exact' }, r: { kind: 'exact' }, rr: exactInDouble }),
});

// --- determinism -------------------------------------------------------------------------------
// Three calls on the same inputs give the same bits (what the CG solver's reproducibility rests
// on); the first result is checked as usual. Not bench cases: run() calls the op three times.
const DET_SHAPE = [100000];
cases.push(
  {
    op: 'sum',
    name: `${label(DET_SHAPE)} three calls give the same bits`,
    inputs: { x: { shape: DET_SHAPE } },
    run: (t) => ({ s: deterministic(() => sum(t.x)) }),
    reference: (v) => ({ s: ref.refSum(v.x) }),
    check: (ctx) => ({ s: double(numel(DET_SHAPE), num(ctx.magnitude(), 's')) }),
  },
  {
    op: 'dot',
    name: `${label(DET_SHAPE)} three calls give the same bits`,
    inputs: { a: { shape: DET_SHAPE }, b: { shape: DET_SHAPE } },
    run: (t) => ({ s: deterministic(() => dot(t.a, t.b)) }),
    reference: (v) => ({ s: ref.refDot(v.a, v.b) }),
    check: (ctx) => ({ s: double(numel(DET_SHAPE), num(ctx.magnitude(), 's')) }),
  },
  {
    op: 'squaredNorm',
    name: `${label(DET_SHAPE)} three calls give the same bits`,
    inputs: { x: { shape: DET_SHAPE } },
    run: (t) => ({ s: deterministic(() => squaredNorm(t.x)) }),
    reference: (v) => ({ s: ref.refSquaredNorm(v.x) }),
    check: (ctx) => ({ s: double(numel(DET_SHAPE), num(ctx.magnitude(), 's')) }),
  },
  {
    op: 'cgUpdate',
    name: `${label(DET_SHAPE)} three calls on fresh copies give the same bits, α = 0.370`,
    inputs: { x: { shape: DET_SHAPE }, r: { shape: DET_SHAPE }, p: { shape: DET_SHAPE }, q: { shape: DET_SHAPE } },
    run: (t) => {
      let x = t.x.clone();
      let r = t.r.clone();
      const rr = deterministic(() => {
        x.dispose();
        r.dispose();
        x = t.x.clone();
        r = t.r.clone();
        return cgUpdate(x, r, t.p, t.q, 0.37);
      });
      return { x, r, rr };
    },
    reference: (v, dtype) => ref.refCgUpdate(v.x, v.r, v.p, v.q, 0.37, rounder(dtype)),
    check: (ctx) => {
      const v = ctx.values;
      const rr = ref.refCgUpdate(v.x, v.r, v.p, v.q, 0.37, rounder(ctx.dtype)).rr;
      return { x: { kind: 'exact' }, r: { kind: 'exact' }, rr: double(numel(DET_SHAPE), rr) };
    },
  },
);

export const reduce: Family = { name: 'reduce', cases };
