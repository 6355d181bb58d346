// Matrix products and the fully connected layer (native/core/ops/linalg.h): gemm (matmul is
// gemm without options, not an op of its own: its cases are gemm cases that call matmul),
// linear = gemm + biasAdd, and linearBackward, the vjp of linear with respect to x, w and b
// (two gemms and a biasGrad).
//
// The CPU has two GEMMs, the linked BLAS and the built-in blocked kernel
// (native/core/cpu/linalg.cpp, note [built-in GEMM]); every case runs under each of them
// (IMPLS: the BLAS only when the build links one), named by a prefix. run() switches the
// process-wide choice, checks that getGemmImplementation() and info().gemm report it, and
// restores the previous choice. The switch chooses the CPU's GEMM only, so in the parity
// runner each case compares the GPU's cuBLAS with one CPU GEMM: both CPU GEMMs are checked
// against the GPU.
//
// Tolerances (note [case tolerances]; u = 2⁻²⁴ in float32, 2⁻⁵³ in float64):
//  - every product is 'accum' with k = the products summed per element (K for gemm, I for
//    linear, O for dx and N for dw of linearBackward), plus 1 when an addend (beta·c, the
//    bias) is added, and mag = |alpha|·|op(a)|·|op(b)| + |beta|·|c| from the |inputs|, the
//    condition of the sum (the harness's magnitude() where alpha and beta are ≥ 0; gemmMag
//    below where they may be negative, which the reference on |inputs| would keep). The BLAS,
//    the blocked kernel (K in blocks of 256 accumulated into C), cuBLAS and the reference's
//    plain loop all sum in different orders, with or without FMA: each is within γₖ·mag of the
//    exact sum, ~√k·u·mag in practice; the scaling by alpha and the addition of beta·c are ≤ 2
//    more roundings of size ≤ u·mag, inside the margin 4√k ≥ 4. alpha and beta are chosen
//    exact in float32, so the dtype's rounding of them adds nothing. A wrong transpose, a
//    wrong leading dimension, a lost K block or a missed edge tile gives errors O(mag). This
//    is the bound of the old parity.cuda.test.ts for GEMM and linear, now also against the
//    float64 reference.
//  - db of linearBackward is biasGrad: Σₙ dy accumulated in double on every backend, then
//    rounded once: 'double' with n = N and absSum = Σₙ|dy| per column, rounded (tighter than
//    the 'accum' bound the old parity test used when db might have been a GEMM with ones).
//  - exact: products of small integers (every partial sum is an integer far below 2²⁴, so
//    every order and FMA give the same, exact result); alpha = 0 or K = 0, where C = beta·c
//    is one multiplication per element (and beta = 0 writes zeros) without reading a and b;
//    empty outputs.
//
// Besides the values, run() checks each output's shape, dtype and device (the reference runner
// compares values only) and the harness checks that the inputs (c included) are not written.
//
// Bench cases (flops = 2·multiply-adds, bytes = float32 read + written once) are the paper's
// cnn3 on 28×28×1 at a small batch, under each CPU GEMM: conv2 as one GEMM (im2col, batch 4),
// the linear layer 576 → 10 as gemm (forward and weight gradient), linear and linearBackward
// (batch 16).
import { add, blasAvailable, gemm, getGemmImplementation, info, linear, linearBackward, matmul, setGemmImplementation } from '../../lib';
import type { GemmImplementation, GemmOptions, Tensor } from '../../lib';
import type { BenchSpec, Check, Expected, Family, FloatDType, OpCase, Outputs, Values } from './case';
import * as ref from './reference';

const IMPLS: readonly GemmImplementation[] = blasAvailable() ? ['builtin', 'blas'] : ['builtin'];

// Runs f with the CPU GEMM `impl`, restoring the previous choice after.
function under<T>(impl: GemmImplementation, f: () => T): T {
  const saved = getGemmImplementation();
  setGemmImplementation(impl);
  try {
    const now = getGemmImplementation();
    const reported = info().gemm;
    if (now !== impl || reported !== impl) throw new Error(`setGemmImplementation('${impl}') is not observable: getGemmImplementation() ${now}, info().gemm ${reported}`);
    return f();
  } finally {
    setGemmImplementation(saved);
  }
}

// `t` itself after checking its shape, dtype and device (a transposed result has as many
// values as the right one).
function shaped(t: Tensor, shape: readonly number[], dtype: FloatDType, device: string, what: string): Tensor {
  if (t.shape.join() !== shape.join() || t.dtype !== dtype || t.device !== device) {
    const got = `${t.dtype} (${t.shape.join(', ')}) on ${t.device}`;
    t.dispose();
    throw new Error(`${what}: ${got}, expected ${dtype} (${shape.join(', ')}) on ${device}`);
  }
  return t;
}

const accum = (k: number, mag: Float64Array | number): Check => ({ kind: 'accum', k, mag });
const exact: Check = { kind: 'exact' };
const abs = (v: Float64Array) => v.map(Math.abs);

// --- gemm ----------------------------------------------------------------------------------------

interface GemmSpec {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
  readonly alpha?: number;
  /** Passed only with c (or alone where a case says so). */
  readonly beta?: number;
  /** Whether an addend c (M, N) is given. */
  readonly c?: boolean;
}

const aShape = (g: GemmSpec) => (g.transA ? [g.K, g.M] : [g.M, g.K]);
const bShape = (g: GemmSpec) => (g.transB ? [g.N, g.K] : [g.K, g.N]);
const pairOf = (s: readonly number[]): ref.Pair => [s[0], s[1]];

function describeGemm(g: GemmSpec): string {
  const product = `${g.transA ? 'aᵀ' : 'a'}·${g.transB ? 'bᵀ' : 'b'}`;
  const alpha = g.alpha === undefined ? '' : ` alpha ${g.alpha}`;
  const beta = g.beta === undefined ? '' : ` beta ${g.beta}`;
  return `(M, N, K) = (${g.M}, ${g.N}, ${g.K}), ${product}${alpha}${g.c ? ' + c' : ''}${beta}`;
}

// The options object with only the attributes the spec sets (c from the tensors).
function gemmOptions(g: GemmSpec, c?: Tensor): GemmOptions {
  const o: GemmOptions = {};
  if (g.transA) o.transA = true;
  if (g.transB) o.transB = true;
  if (g.alpha !== undefined) o.alpha = g.alpha;
  if (g.beta !== undefined) o.beta = g.beta;
  if (g.c) o.c = c;
  return o;
}

// alpha·op(a)·op(b) + beta·c in float64; beta defaults to 1 with c and is ignored without.
function gemmRef(v: Values, g: GemmSpec, absolute = false): Float64Array {
  const f = absolute ? abs : (x: Float64Array) => x;
  const sign = absolute ? Math.abs : (x: number) => x;
  return ref.refGemm(f(v.a), pairOf(aShape(g)), f(v.b), pairOf(bShape(g)), {
    transA: g.transA,
    transB: g.transB,
    alpha: sign(g.alpha ?? 1),
    beta: g.c ? sign(g.beta ?? 1) : 0,
    c: g.c ? f(v.c) : undefined,
  }).data;
}

// |alpha|·|op(a)|·|op(b)| + |beta|·|c|: the magnitude of every sum, whatever the signs of alpha
// and beta (the reference on |inputs| would keep them).
const gemmMag = (v: Values, g: GemmSpec) => gemmRef(v, g, true);

// One gemm call per impl: y, and mm = matmul(a, b) too when the spec has no options.
function gemmCases(g: GemmSpec, extra: { name?: string; bench?: boolean; viaMatmul?: boolean } = {}): OpCase[] {
  const plain = !g.transA && !g.transB && g.alpha === undefined && g.beta === undefined && !g.c;
  const inputs = { a: { shape: aShape(g) }, b: { shape: bShape(g) }, ...(g.c ? { c: { shape: [g.M, g.N] } } : {}) };
  const bench: BenchSpec | undefined = extra.bench
    ? { flops: 2 * g.M * g.N * g.K + (g.c ? 2 * g.M * g.N : 0), bytes: 4 * (g.M * g.K + g.K * g.N + g.M * g.N * (g.c ? 2 : 1)) }
    : undefined;
  return IMPLS.map((impl): OpCase => ({
    op: 'gemm',
    name: `${impl}: ${extra.name ? `${extra.name}, ` : ''}${extra.viaMatmul ? 'matmul ' : ''}${describeGemm(g)}`,
    inputs,
    run: (t, dtype, device) =>
      under(impl, (): Outputs => {
        const shape = [g.M, g.N];
        // a case that times matmul runs matmul alone (one call per run for the bench)
        if (extra.viaMatmul) return { y: shaped(matmul(t.a, t.b), shape, dtype, device, 'matmul') };
        const y = shaped(gemm(t.a, t.b, gemmOptions(g, t.c)), shape, dtype, device, 'gemm');
        if (!plain || extra.bench) return { y };
        return { y, mm: shaped(matmul(t.a, t.b), shape, dtype, device, 'matmul') };
      }),
    reference: (v): Expected => {
      const y = gemmRef(v, g);
      return plain && !extra.bench && !extra.viaMatmul ? { y, mm: y } : { y };
    },
    check: ({ values }) => {
      const c = accum(g.K + (g.c ? 1 : 0), gemmMag(values, g));
      return { y: c, mm: c };
    },
    bench,
  }));
}

const cases: OpCase[] = [];

// Every transpose of awkward sizes (M, N, K): 1, primes, non-multiples of every register tile
// (4 × 8 floats, 4 × 4 doubles, cuBLAS's), and sizes crossing the built-in kernel's cache
// blocks (KC 256, MC 128/64, NC 2048/1024) so that edge blocks and K-block accumulation run.
const SIZES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [1, 7, 1],
  [7, 1, 13],
  [13, 7, 1],
  [7, 13, 31],
  [31, 31, 31],
  [2, 3, 5],
  [64, 33, 17],
  [1, 31, 130],
  [67, 5, 259],
  [130, 3, 7],
  [3, 1031, 5],
  [2, 2051, 3],
  [5, 9, 513],
];
for (const [M, N, K] of SIZES) {
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
    cases.push(...gemmCases({ M, N, K, transA, transB }));
  }
}

// alpha, beta and an addend c (never written: the harness checks the inputs), with c and, for
// the same attributes, alpha alone; beta 0 with c computes alpha·op(a)·op(b) only.
const SCALED: readonly GemmSpec[] = [
  { M: 7, N: 13, K: 5, transA: true, alpha: 2.5, beta: 0 },
  { M: 7, N: 13, K: 5, transA: true, alpha: -0.5, beta: 1 },
  { M: 13, N: 1, K: 31, transB: true, alpha: 1, beta: -2 },
  { M: 1, N: 1, K: 1, transA: true, alpha: 3, beta: 0.5 },
  { M: 31, N: 7, K: 13, transA: true, alpha: 0, beta: 1.5 },
  { M: 7, N: 13, K: 31, transA: true, transB: true, alpha: -0.5, beta: 2 },
  { M: 67, N: 5, K: 259, transA: true, alpha: 1, beta: 0 },
  { M: 2, N: 2051, K: 3, alpha: 1.5, beta: -1 },
  // a long sum (float32 error ~√K·u·mag), 98 K blocks of 256 accumulated into C
  { M: 3, N: 2, K: 25013, transB: true, alpha: 1, beta: 1 },
];
for (const g of SCALED) {
  cases.push(...gemmCases({ ...g, c: true }));
  if (g.alpha !== 1) cases.push(...gemmCases({ ...g, beta: undefined }));
}

// Shapes of the paper's cnn3 (28×28×1, 2×2 pools: 28 → 14 → 7 → 3) as the network runs them,
// and sizes spanning several tiles of every GEMM with ragged edges.
cases.push(
  ...gemmCases({ M: 64, N: 4 * 14 * 14, K: 32 * 3 * 3 }, { name: 'cnn3 conv2 as one GEMM, batch 4 (W · im2col)', bench: true }),
  ...gemmCases({ M: 16, N: 10, K: 576, transB: true }, { name: 'cnn3 linear forward, batch 16 (x·wᵀ)', bench: true }),
  ...gemmCases({ M: 10, N: 576, K: 16, transA: true }, { name: 'cnn3 linear weight gradient, batch 16 (dyᵀ·x)', bench: true }),
  ...gemmCases({ M: 4 * 7 * 7, N: 64, K: 64 * 3 * 3 }, { name: 'cnn3 conv3 as one GEMM, batch 4 (im2col · Wᵀ)', viaMatmul: true }),
  ...gemmCases({ M: 259, N: 131, K: 257 }, { name: 'several tiles, ragged edges' }),
  ...gemmCases({ M: 33, N: 17, K: 1 }, { name: 'outer product' }),
);

// Empty outputs, and K = 0, which the op allows too: op(a)·op(b) is then 0 and y = beta·c
// exactly (zeros without c).
const EMPTY: readonly GemmSpec[] = [
  { M: 0, N: 3, K: 2 },
  { M: 3, N: 0, K: 2, transA: true },
  { M: 0, N: 0, K: 0 },
  { M: 3, N: 2, K: 0, transB: true },
  { M: 3, N: 2, K: 0, alpha: 2, beta: 0.5, c: true },
];
for (const g of EMPTY) {
  for (const c of gemmCases(g, { name: g.M * g.N > 0 ? 'K = 0' : 'empty' })) cases.push({ ...c, check: () => ({ y: exact, mm: exact }) });
}

// The defaults of beta: 1 when c is given (y = op(a)·op(b) + c), ignored without c.
for (const impl of IMPLS) {
  const g: GemmSpec = { M: 5, N: 7, K: 3 };
  cases.push({
    op: 'gemm',
    name: `${impl}: c without beta adds c; beta without c is ignored, ${describeGemm(g)}`,
    inputs: { a: { shape: [5, 3] }, b: { shape: [3, 7] }, c: { shape: [5, 7] } },
    run: (t, dtype, device) =>
      under(impl, () => ({
        withC: shaped(gemm(t.a, t.b, { c: t.c }), [5, 7], dtype, device, 'gemm'),
        betaOnly: shaped(gemm(t.a, t.b, { beta: 3 }), [5, 7], dtype, device, 'gemm'),
      })),
    reference: (v) => ({ withC: gemmRef(v, { ...g, c: true }), betaOnly: gemmRef(v, g) }),
    check: ({ values }) => ({ withC: accum(4, gemmMag(values, { ...g, c: true })), betaOnly: accum(3, gemmMag(values, g)) }),
  });
}

// What the GEMMs do not read (BLAS's convention, kept by every backend): with alpha = 0 not a
// or b, so NaN and ±∞ there do not reach y = beta·c; with beta = 0 not c, so NaN and ±∞ there
// do not reach y = alpha·op(a)·op(b) (0·NaN would be NaN).
const NONFINITE = [NaN, Infinity, -Infinity, 1, -2, 0.5];
const withNonfinite = (n: number) => Array.from({ length: n }, (_, i) => NONFINITE[i % NONFINITE.length]);
for (const impl of IMPLS) {
  cases.push({
    op: 'gemm',
    name: `${impl}: alpha 0 reads neither a nor b (NaN, ±Infinity there), (M, N, K) = (4, 3, 5)`,
    inputs: { a: { shape: [4, 5], values: withNonfinite(20) }, b: { shape: [5, 3], values: withNonfinite(15) }, c: { shape: [4, 3] } },
    run: (t, dtype, device) =>
      under(impl, () => ({
        y: shaped(gemm(t.a, t.b, { alpha: 0, beta: 1.5, c: t.c }), [4, 3], dtype, device, 'gemm'),
        yBeta1: shaped(gemm(t.a, t.b, { alpha: 0, c: t.c }), [4, 3], dtype, device, 'gemm'),
        yNoC: shaped(gemm(t.a, t.b, { alpha: 0 }), [4, 3], dtype, device, 'gemm'),
      })),
    reference: (v) => ({ y: v.c.map((x) => 1.5 * x), yBeta1: v.c, yNoC: new Float64Array(12) }),
    check: () => ({ y: exact, yBeta1: exact, yNoC: exact }),
  });
  const g: GemmSpec = { M: 6, N: 5, K: 9, transB: true, alpha: -1.5 };
  cases.push({
    op: 'gemm',
    name: `${impl}: beta 0 does not read c (NaN, ±Infinity there), ${describeGemm(g)}`,
    inputs: { a: { shape: [6, 9] }, b: { shape: [5, 9] }, c: { shape: [6, 5], values: withNonfinite(30) } },
    run: (t, dtype, device) => under(impl, () => ({ y: shaped(gemm(t.a, t.b, { ...gemmOptions(g), beta: 0, c: t.c }), [6, 5], dtype, device, 'gemm') })),
    reference: (v) => ({ y: gemmRef(v, g) }),
    check: ({ values }) => ({ y: accum(9, gemmMag(values, g)) }),
  });
}

// Known products of small integers, exact in any summation order: the reference is written
// out by hand (independent of refGemm).
for (const impl of IMPLS) {
  cases.push({
    op: 'gemm',
    name: `${impl}: [[1, 2], [3, 4]] and [[5, 6], [7, 8]], every transpose, exact`,
    inputs: { a: { shape: [2, 2], values: [1, 2, 3, 4] }, b: { shape: [2, 2], values: [5, 6, 7, 8] } },
    run: (t, dtype, device) =>
      under(impl, (): Outputs => {
        const s = (y: Tensor) => shaped(y, [2, 2], dtype, device, 'gemm');
        return {
          ab: s(matmul(t.a, t.b)),
          atb: s(gemm(t.a, t.b, { transA: true })),
          abt: s(gemm(t.a, t.b, { transB: true })),
          atbt: s(gemm(t.a, t.b, { transA: true, transB: true })),
        };
      }),
    reference: () => ({
      ab: Float64Array.of(19, 22, 43, 50),
      atb: Float64Array.of(26, 30, 38, 44),
      abt: Float64Array.of(17, 23, 39, 53),
      atbt: Float64Array.of(23, 31, 34, 46),
    }),
    check: () => ({ ab: exact, atb: exact, abt: exact, atbt: exact }),
  });
  cases.push({
    op: 'gemm',
    name: `${impl}: (1, 3)·(3, 1) and (3, 1)·(1, 3), exact`,
    inputs: { r: { shape: [1, 3], values: [1, 2, 3] }, c: { shape: [3, 1], values: [4, 5, 6] } },
    run: (t, dtype, device) =>
      under(impl, () => ({
        inner: shaped(matmul(t.r, t.c), [1, 1], dtype, device, 'matmul'),
        outer: shaped(matmul(t.c, t.r), [3, 3], dtype, device, 'matmul'),
      })),
    reference: () => ({ inner: Float64Array.of(32), outer: Float64Array.of(4, 8, 12, 5, 10, 15, 6, 12, 18) }),
    check: () => ({ inner: exact, outer: exact }),
  });
}

// --- linear and linearBackward ------------------------------------------------------------------

type LinearSize = readonly [N: number, I: number, O: number];
const sizeLabel = ([N, I, O]: LinearSize) => `x (${N}, ${I}), w (${O}, ${I})`;

// linear: y = x·wᵀ + b; with `forms`, also without a bias as b = null and as b omitted.
interface LinearOptions {
  readonly name?: string;
  readonly forms?: boolean;
  readonly bench?: boolean;
}

function linearCase(impl: GemmImplementation, [N, I, O]: LinearSize, opts: LinearOptions = {}): OpCase {
  return {
    op: 'linear',
    name: `${impl}: ${opts.name ? `${opts.name}, ` : ''}${sizeLabel([N, I, O])}`,
    inputs: { x: { shape: [N, I] }, w: { shape: [O, I] }, b: { shape: [O] } },
    run: (t, dtype, device) =>
      under(impl, (): Outputs => {
        const s = (y: Tensor) => shaped(y, [N, O], dtype, device, 'linear');
        const y = s(linear(t.x, t.w, t.b));
        return opts.forms ? { y, yNull: s(linear(t.x, t.w, null)), yOmitted: s(linear(t.x, t.w)) } : { y };
      }),
    reference: (v): Expected => {
      const y = ref.refLinear(v.x, N, I, v.w, O, v.b);
      if (!opts.forms) return { y };
      const y0 = ref.refLinear(v.x, N, I, v.w, O, null);
      return { y, yNull: y0, yOmitted: y0 };
    },
    check: ({ magnitude, values }) => {
      const m = magnitude();
      const m0 = ref.refLinear(abs(values.x), N, I, abs(values.w), O, null);
      return { y: accum(I + 1, m.y as Float64Array), yNull: accum(I, m0), yOmitted: accum(I, m0) };
    },
    bench: opts.bench ? { flops: 2 * N * I * O + N * O, bytes: 4 * (N * I + O * I + O + N * O) } : undefined,
  };
}
const linearCases = (size: LinearSize, opts: LinearOptions = {}) => IMPLS.map((impl) => linearCase(impl, size, opts));

// linearBackward: dx = dy·w, dw = dyᵀ·x, db = Σₙ dy with the default options; with `forms`
// also with { bias: true } and with { bias: false } (db null).
function linearBackwardCases([N, I, O]: LinearSize, opts: LinearOptions = {}): OpCase[] {
  return IMPLS.map((impl): OpCase => ({
    op: 'linearBackward',
    name: `${impl}: ${opts.name ? `${opts.name}, ` : ''}${sizeLabel([N, I, O])}`,
    inputs: { dy: { shape: [N, O] }, x: { shape: [N, I] }, w: { shape: [O, I] } },
    run: (t, dtype, device) =>
      under(impl, (): Outputs => {
        const grads = (options?: { bias?: boolean }) => {
          const g = linearBackward(t.dy, t.x, t.w, options);
          const dx = shaped(g.dx, [N, I], dtype, device, 'dx');
          const dw = shaped(g.dw, [O, I], dtype, device, 'dw');
          const db = g.db === null ? null : shaped(g.db, [O], dtype, device, 'db');
          return { dx, dw, db };
        };
        const g = grads();
        if (g.db === null) throw new Error('linearBackward: db is null with the default options (bias: true)');
        if (!opts.forms) return { dx: g.dx, dw: g.dw, db: g.db };
        const gb = grads({ bias: true });
        if (gb.db === null) throw new Error('linearBackward: db is null with { bias: true }');
        const g0 = grads({ bias: false });
        if (g0.db !== null) {
          g0.db.dispose();
          throw new Error('linearBackward: db is not null with { bias: false }');
        }
        return { dx: g.dx, dw: g.dw, db: g.db, dxBias: gb.dx, dwBias: gb.dw, dbBias: gb.db, dxNoBias: g0.dx, dwNoBias: g0.dw };
      }),
    reference: (v): Expected => {
      const e = ref.refLinearBackward(v.dy, v.x, v.w, N, I, O);
      return opts.forms ? { ...e, dxBias: e.dx, dwBias: e.dw, dbBias: e.db, dxNoBias: e.dx, dwNoBias: e.dw } : e;
    },
    check: ({ magnitude }) => {
      const m = magnitude();
      const dx = accum(O, m.dx as Float64Array);
      const dw = accum(N, m.dw as Float64Array);
      const db: Check = { kind: 'double', n: N, absSum: m.db as Float64Array, rounded: true };
      return { dx, dw, db, dxBias: dx, dwBias: dw, dbBias: db, dxNoBias: dx, dwNoBias: dw };
    },
    bench: opts.bench ? { flops: 4 * N * I * O + N * O, bytes: 4 * (N * O + 2 * N * I + 2 * O * I + O) } : undefined,
  }));
}

// 1, primes, sizes off every register tile (I = 130 > 128), each with every call form.
const LINEAR_SIZES: readonly LinearSize[] = [
  [1, 1, 1],
  [1, 7, 3],
  [7, 1, 13],
  [13, 31, 7],
  [31, 3, 1],
  [2, 130, 17],
  [13, 7, 31],
];
for (const size of LINEAR_SIZES) {
  cases.push(...linearCases(size, { forms: true }), ...linearBackwardCases(size, { forms: true }));
}
// The paper's heads: cnn3 on 28×28×1 (64·3·3 = 576 → 10) and on 32×32×3 (64·4·4 = 1024 → 10).
cases.push(
  ...linearCases([16, 576, 10], { name: 'cnn3 head on 28×28×1, batch 16', bench: true }),
  ...linearBackwardCases([16, 576, 10], { name: 'cnn3 head on 28×28×1, batch 16', bench: true }),
  ...linearCases([8, 1024, 10], { name: 'cnn3 head on 32×32×3, batch 8' }),
  ...linearBackwardCases([8, 1024, 10], { name: 'cnn3 head on 32×32×3, batch 8' }),
);

// The derivatives of linear (float64 finite differences, test/cases/harness.ts): its vjp
// linearBackward for x, w and b, and its R-operator, which linear gives itself since it is
// bilinear in (x, w) and affine in b: J·(vx, vw, vb) = vx·wᵀ + vb + x·vwᵀ. The harness also
// checks the adjoint identity between the two.
for (const size of [[1, 1, 1], [3, 7, 5], [5, 13, 2]] as const) {
  for (const impl of IMPLS) {
    const c = linearCase(impl, size);
    cases.push({
      ...c,
      name: `${c.name}, derivatives`,
      dtypes: ['float64'],
      grad: {
        ops: ['linearBackward'],
        wrt: ['x', 'w', 'b'],
        forward: (t) => under(impl, () => linear(t.x, t.w, t.b)),
        vjp: (t, r) =>
          under(impl, () => {
            const g = linearBackward(r, t.x, t.w, { bias: true });
            if (g.db === null) throw new Error('linearBackward: db is null with { bias: true }');
            return { x: g.dx, w: g.dw, b: g.db };
          }),
        jvp: (t, v) =>
          under(impl, () => {
            const first = linear(v.x, t.w, v.b);
            const second = linear(t.x, v.w);
            const out = add(first, second);
            first.dispose();
            second.dispose();
            return out;
          }),
      },
    });
  }
}

export const linalg: Family = { name: 'linalg', cases };
