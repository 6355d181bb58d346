// Losses (native/core/ops/loss.h): z (N, K) network outputs against y (N, K) targets.
//
// Tolerances (note [case tolerances]; u the dtype's unit roundoff, ε = 2⁻⁵³ that of double;
// w is the Hessian products' tangent, their argument `u`):
//  - squaredLossGradient 2(z − y), squaredLossHessianProduct 2w: exact. One rounded
//    subtraction and an exact doubling (fl(2x) = 2·fl(x): a difference that lands in the
//    subnormal range is exact), the same formula on every backend (core/scalar_math.h).
//  - squaredLoss: double {n = N·K, absSum = the loss}. The terms (z − y)² are formed in double
//    from the same values everywhere (exact for float32 inputs; the same two roundings for
//    float64, up to one ulp where the reference's `**` is not a correctly rounded square),
//    so only the order of the sum differs: ≤ 2·n·ε·Σ|terms|, and Σ|terms| is the loss.
//  - softmax and everything built on it is per-row double arithmetic (core/cpu/loss.cpp,
//    cuda/loss.cu), rounded once to the dtype; the reference (test/cases/reference.ts) uses
//    another formula, exp(z − m)/s instead of exp(z − m − log s). Each libm exp/log (glibc,
//    V8's fdlibm port, CUDA's double exp/log) is within 1 ulp (2ε relative). In a row of K
//    finite logits with range R (max − min, plus log K: R ≥ |log p| and ≥ |z − m|), the K
//    exps and their sum (in any order) give s to (1.4K + 1)ε; the reference's exp(z − m)/s
//    is then within (1.4K + 4 + R)ε of p (R: z − m rounded in float64), the backends'
//    exp(z − m − log s) within (1.4K + 3 + 2 log K + 2R)ε (log s to 2ε·log K absolutely,
//    two subtractions ε·|log p| and ε·|z − m|). The two differ by at most
//    ρ = (3K + 8 + 2 log K + 3R)·ε. Then:
//      softmax                p: |Δ| ≤ 2u·|r| + ρ·|r|                 (rtol 2u + ρ)
//      the gradient       p − y: |Δ| ≤ 2u·|r| + 2ε·|r| + ρ·p, p ≤ 1    (atol ρ)
//      the Hessian product p⊙(w − pᵀw): pᵀw in double to (ρ + (K + 1)ε)·Σp|w|, then one
//        subtraction and product: |Δ| ≤ 2u·|r| + (2ρ + (K + 4)ε)·2·max|w|.
//    2u·|r|, not u·|r|, for the rounding to the dtype: in parity mode both sides are rounded
//    from doubles ρ apart, and a rounding boundary between them gives one ulp (≤ 2u·|r|).
//    Results that underflow into the subnormal range (p = e⁻¹²⁰ in float32) are rounded
//    absolutely: plus one subnormal ulp (2⁻¹⁴⁹, resp. 2⁻¹⁰⁷⁴).
//    For float32 these are 2 ulp of the result plus ~1e-14 absolute: the old parity bounds
//    (rtol 2⁻²², atol 2⁻²²) allowed a float32 computation of p − y and p⊙w − p(pᵀw), which
//    neither backend does.
//  - softmaxCrossEntropy: the terms −y·log p are ≥ 0, so Σ|terms| is the loss L. Per row,
//    the log-sum-exp error above enters weighted by Σy = 1, each term's roundings are
//    ≤ (K + 2)ε·its size, the reference also rounds m + log s and z − lse (ε·|z| each, large
//    for logits of 1000), and the rows are summed in another order (≤ N·ε·L each):
//      |Δ| ≤ 2(N + K + 2)·ε·L + ε·Σ_rows (3K + 2 + 4 log K + 3·max|z_row|).
// Single-class rows (K = 1) are exact everywhere: p = exp(0) = 1, the loss, the gradient
// 1 − 1 and the Hessian product w − w are 0.
import {
  scale,
  softmax,
  softmaxCrossEntropy,
  softmaxCrossEntropyGradient,
  softmaxCrossEntropyHessianProduct,
  squaredLoss,
  squaredLossGradient,
  squaredLossHessianProduct,
} from '../../lib';
import type { Tensor } from '../../lib';
import type { BenchSpec, Check, CheckContext, Family, FloatDType, GradSpec, InputSpec, OpCase } from './case';
import { randData, randDistribution } from './data';
import * as ref from './reference';

const EPS = 2 ** -53;
const UNIT: Record<FloatDType, number> = { float32: 2 ** -24, float64: 2 ** -53 };
// One ulp of the subnormal range: the absolute rounding error of a result that underflows.
const SUBNORMAL_ULP: Record<FloatDType, number> = { float32: 2 ** -149, float64: 2 ** -1074 };

interface Size {
  readonly N: number;
  readonly K: number;
  /** The logits' scale (z generic in ±[0.1, 1]·scale). */
  readonly scale: number;
  readonly what?: string;
  readonly bench?: boolean;
}

// Old tests' shapes (1, primes, single class, single row) and the parity file's: cnn3's
// output layer at batch 128, rows wider than a 32-lane warp (33) and than 32 × 32 (1031),
// logits ±60 whose exp(z − m) underflows in float32; batch 1024 is the bench size.
const SIZES: readonly Size[] = [
  { N: 1, K: 1, scale: 1 },
  { N: 1, K: 7, scale: 3 },
  { N: 7, K: 1, scale: 3 },
  { N: 13, K: 3, scale: 3 },
  { N: 3, K: 31, scale: 3 },
  { N: 5, K: 33, scale: 3, what: 'one more than a warp' },
  { N: 31, K: 10, scale: 3 },
  { N: 128, K: 10, scale: 3, what: 'cnn3 output layer at batch 128' },
  { N: 3, K: 1031, scale: 2, what: 'wide rows' },
  { N: 13, K: 10, scale: 60, what: 'logits ±60, exp(z − m) underflows in float32' },
  { N: 1024, K: 10, scale: 3, what: 'batch 1024, 10 classes', bench: true },
];

const label = (s: Size) => `${s.N}×${s.K}${s.what ? ` (${s.what})` : ''}`;
const exact = (name: string) => (): Record<string, Check> => ({ [name]: { kind: 'exact' } });

// --- tolerances (the header says why) --------------------------------------------------------------

interface RowStats {
  /** The largest finite range of a row's logits, plus log K: bounds |log p|. */
  readonly R: number;
  /** Σ over rows of the largest |z| of the row (finite entries). */
  readonly sumMaxAbs: number;
}

function rowStats(z: Float64Array, N: number, K: number): RowStats {
  let R = 0;
  let sumMaxAbs = 0;
  for (let n = 0; n < N; n++) {
    let lo = Infinity;
    let hi = -Infinity;
    let big = 0;
    for (let k = 0; k < K; k++) {
      const v = z[n * K + k];
      if (!Number.isFinite(v)) continue; // NaN rows are NaN, −∞ entries exactly 0: no error
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      big = Math.max(big, Math.abs(v));
    }
    if (hi >= lo) R = Math.max(R, hi - lo);
    sumMaxAbs += big;
  }
  return { R: R + Math.log(K), sumMaxAbs };
}

// How far two double evaluations of a row's softmax may be apart, relative to p.
const rho = (K: number, R: number) => (3 * K + 8 + 2 * Math.log(K) + 3 * R) * EPS;

function maxAbs(x: Float64Array): number {
  let m = 0;
  for (const v of x) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m;
}

const softmaxCheck = (N: number, K: number) => (ctx: CheckContext): Record<string, Check> => {
  if (K === 1) return { p: { kind: 'exact' } };
  const r = rho(K, rowStats(ctx.values.z, N, K).R);
  return { p: { kind: 'tol', rtol: 2 * UNIT[ctx.dtype] + r, atol: SUBNORMAL_ULP[ctx.dtype] } };
};

const gradientCheck = (N: number, K: number) => (ctx: CheckContext): Record<string, Check> => {
  if (K === 1) return { g: { kind: 'exact' } };
  const r = rho(K, rowStats(ctx.values.z, N, K).R);
  return { g: { kind: 'tol', rtol: 2 * UNIT[ctx.dtype] + 2 * EPS, atol: r + SUBNORMAL_ULP[ctx.dtype] } };
};

const hessianCheck = (N: number, K: number) => (ctx: CheckContext): Record<string, Check> => {
  if (K === 1) return { h: { kind: 'exact' } };
  const r = rho(K, rowStats(ctx.values.z, N, K).R);
  const atol = (2 * r + (K + 4) * EPS) * 2 * maxAbs(ctx.values.u) + SUBNORMAL_ULP[ctx.dtype];
  return { h: { kind: 'tol', rtol: 2 * UNIT[ctx.dtype], atol } };
};

const crossEntropyCheck = (N: number, K: number) => (ctx: CheckContext): Record<string, Check> => {
  if (K === 1) return { l: { kind: 'exact' } };
  const { sumMaxAbs } = rowStats(ctx.values.z, N, K);
  const rows = N * (3 * K + 2 + 4 * Math.log(K)) + 3 * sumMaxAbs;
  return { l: { kind: 'tol', rtol: 2 * (N + K + 2) * EPS, atol: rows * EPS } };
};

const squaredLossCheck = (ctx: CheckContext): Record<string, Check> => ({
  l: { kind: 'double', n: ctx.values.z.length, absSum: ref.refSquaredLoss(ctx.values.z, ctx.values.y), rounded: false },
});

// --- the ops: how a case calls each, its reference and its check ---------------------------------------

type LossOp =
  | 'squaredLoss'
  | 'squaredLossGradient'
  | 'squaredLossHessianProduct'
  | 'softmax'
  | 'softmaxCrossEntropy'
  | 'softmaxCrossEntropyGradient'
  | 'softmaxCrossEntropyHessianProduct';

// The case fields of one op on (N, K) rows.
type Call = Pick<OpCase, 'run' | 'reference' | 'check'>;

const CALLS: Record<LossOp, (N: number, K: number) => Call> = {
  squaredLoss: () => ({
    run: (t) => ({ l: squaredLoss(t.z, t.y) }),
    reference: (v) => ({ l: ref.refSquaredLoss(v.z, v.y) }),
    check: squaredLossCheck,
  }),
  squaredLossGradient: () => ({
    run: (t) => ({ g: squaredLossGradient(t.z, t.y) }),
    reference: (v) => ({ g: ref.refSquaredLossGradient(v.z, v.y) }),
    check: exact('g'),
  }),
  squaredLossHessianProduct: () => ({
    run: (t) => ({ h: squaredLossHessianProduct(t.z, t.u) }),
    reference: (v) => ({ h: ref.refSquaredLossHessianProduct(v.u) }),
    check: exact('h'),
  }),
  softmax: (N, K) => ({
    run: (t) => ({ p: softmax(t.z) }),
    reference: (v) => ({ p: ref.refSoftmax(v.z, N, K) }),
    check: softmaxCheck(N, K),
  }),
  softmaxCrossEntropy: (N, K) => ({
    run: (t) => ({ l: softmaxCrossEntropy(t.z, t.y) }),
    reference: (v) => ({ l: ref.refSoftmaxCrossEntropy(v.z, v.y, N, K) }),
    check: crossEntropyCheck(N, K),
  }),
  softmaxCrossEntropyGradient: (N, K) => ({
    run: (t) => ({ g: softmaxCrossEntropyGradient(t.z, t.y) }),
    reference: (v) => ({ g: ref.refSoftmaxCrossEntropyGradient(v.z, v.y, N, K) }),
    check: gradientCheck(N, K),
  }),
  softmaxCrossEntropyHessianProduct: (N, K) => ({
    run: (t) => ({ h: softmaxCrossEntropyHessianProduct(t.z, t.u) }),
    reference: (v) => ({ h: ref.refSoftmaxCrossEntropyHessianProduct(v.z, v.u, N, K) }),
    check: hessianCheck(N, K),
  }),
};

// Bench lines, float32, each input read and each output written once. Flops per element:
// the squared loss sub, mul, add; its gradient sub, mul; B·u one mul. Softmax: max, z − m,
// exp, add, then two subtractions and an exp (an exp counted as one flop): 7. The
// cross-entropy: the 4 of log-sum-exp, then z − m − lse, × y, add: 8; its gradient the 7 of
// softmax and − y; its B·u the 7, pᵀu (2) and p·(u − pᵀu) (2). The tensors read or written:
const BENCH: Record<LossOp, readonly [number, number]> = {
  squaredLoss: [3, 2],
  squaredLossGradient: [2, 3],
  squaredLossHessianProduct: [1, 2], // z is only checked, not read
  softmax: [7, 2],
  softmaxCrossEntropy: [8, 2],
  softmaxCrossEntropyGradient: [8, 3],
  softmaxCrossEntropyHessianProduct: [11, 3],
};

function bench(op: LossOp, N: number, K: number): BenchSpec {
  const [flops, tensors] = BENCH[op];
  return { flops: flops * N * K, bytes: 4 * tensors * N * K };
}

// --- the table ----------------------------------------------------------------------------------------

const cases: OpCase[] = [];

function add(op: LossOp, name: string, N: number, K: number, inputs: Record<string, InputSpec>, extra: Partial<OpCase> = {}): void {
  cases.push({ op, name, inputs, ...CALLS[op](N, K), ...extra });
}

for (const s of SIZES) {
  const { N, K } = s;
  const shape = [N, K];
  const name = label(s);
  const z: InputSpec = { shape, scale: s.scale };
  const y: InputSpec = { shape, kind: 'distribution' };
  const generic: InputSpec = { shape };
  // the exact ops get ±0, subnormals and ±3e38 (2·3e38 overflows float32 to ±∞ on both sides)
  const awkward: InputSpec = { shape, kind: 'awkward' };
  const inputs: Record<LossOp, Record<string, InputSpec>> = {
    squaredLoss: { z: generic, y: generic },
    squaredLossGradient: { z: awkward, y: awkward },
    squaredLossHessianProduct: { z: generic, u: awkward },
    softmax: { z },
    softmaxCrossEntropy: { z, y },
    softmaxCrossEntropyGradient: { z, y },
    softmaxCrossEntropyHessianProduct: { z, u: generic },
  };
  for (const op of Object.keys(inputs) as LossOp[]) add(op, name, N, K, inputs[op], s.bench ? { bench: bench(op, N, K) } : {});
}

// The squared loss of awkward values: ±0, subnormals and ±3e38, whose squares overflow
// float32 but not the double accumulator.
add('squaredLoss', '4×9 awkward values (squares beyond float32)', 4, 9, { z: { shape: [4, 9], kind: 'awkward' }, y: { shape: [4, 9], kind: 'awkward' } });

// --- special logits ---------------------------------------------------------------------------------

const SOFTMAX_OPS: readonly LossOp[] = ['softmax', 'softmaxCrossEntropy', 'softmaxCrossEntropyGradient', 'softmaxCrossEntropyHessianProduct'];

// The softmax ops on explicit logits z and targets y (u generic).
function explicit(name: string, N: number, K: number, zv: readonly number[], yv: readonly number[], ops = SOFTMAX_OPS): void {
  const shape = [N, K];
  const z: InputSpec = { shape, values: zv };
  for (const op of ops) add(op, name, N, K, op === 'softmax' ? { z } : op === 'softmaxCrossEntropyHessianProduct' ? { z, u: { shape } } : { z, y: { shape, values: yv } });
}

// Shift invariance: logits ±1000 neither overflow nor lose their differences (the max is
// subtracted first); with one-hot targets the loss is −log p_target, finite.
explicit('logits ±1000, one-hot targets', 2, 3, [1000, 1001, 1002, -1000, -1001, -1002], [0, 0, 1, 1, 0, 0]);
// Equal logits: p = 1/K.
explicit('equal logits: p = 1/4', 1, 4, [0.5, 0.5, 0.5, 0.5], [0.25, 0.25, 0.25, 0.25]);
// A NaN logit makes its whole row NaN (never a silent number) and leaves the other rows be;
// a −∞ logit is a masked class: p = 0 there, the rest of its row as without it.
const MASKED_Z = [0.3, -0.7, 0.9, 0.2, -0.4, 0.5, NaN, -0.2, 0.8, 0.1, -0.6, 0.4, -Infinity, 0.7, -0.3];
const MASKED_Y = [0.1, 0.2, 0.3, 0.25, 0.15, 0.2, 0.2, 0.2, 0.2, 0.2, 0.25, 0.25, 0, 0.25, 0.25];
explicit('a NaN logit (row 1) and a −∞ logit (row 2)', 3, 5, MASKED_Z, MASKED_Y);
// A −∞ logit with a positive target: the loss is +∞.
explicit('a −∞ logit with a positive target: +∞ loss', 2, 3, [0.5, -Infinity, 0.25, 0.1, 0.2, 0.3], [0.5, 0.25, 0.25, 0.2, 0.3, 0.5], ['softmaxCrossEntropy']);

// A −∞ logit with target 0 adds nothing (not 0·∞ = NaN): the loss is that of the rows
// without the masked class.
{
  const [N, K] = [3, 5];
  const zv = MASKED_Z.map((v) => (Number.isNaN(v) ? 0.6 : v));
  add('softmaxCrossEntropy', 'a −∞ logit with target 0 (a masked class) adds nothing', N, K, { z: { shape: [N, K], values: zv }, y: { shape: [N, K], values: MASKED_Y } }, {
    reference: (v) => {
      let l = 0;
      for (let n = 0; n < N; n++) {
        const kept = [...Array(K).keys()].filter((k) => v.z[n * K + k] !== -Infinity);
        const row = (x: Float64Array) => Float64Array.from(kept, (k) => x[n * K + k]);
        l += ref.refSoftmaxCrossEntropy(row(v.z), row(v.y), 1, kept.length);
      }
      return { l };
    },
  });
}

// B·1 = p − p(pᵀ1) = 0 in each row: constant directions are in the kernel of the softmax
// Hessian. The bound makes that ≤ ~1e-14 absolute in both dtypes.
add('softmaxCrossEntropyHessianProduct', '5×7 along ones: B·1 = 0', 5, 7, { z: { shape: [5, 7], scale: 2 }, u: { shape: [5, 7], values: new Array<number>(35).fill(1) } });

// --- derivatives (runner (c), float64) ---------------------------------------------------------------
// The old finite-difference shapes, generic data. squaredLossGradient and
// softmaxCrossEntropyGradient are the vjps of their losses (r a scalar); the Hessian products
// are the jvps of the gradients and, B being symmetric, their vjps too, so the adjoint
// identity is the symmetry ⟨r, Bv⟩ = ⟨Br, v⟩. softmax's Jacobian is the same B.

// g·r, disposing g.
function times(g: Tensor, r: number): Tensor {
  const out = scale(g, r);
  g.dispose();
  return out;
}

const hessian = (product: (z: Tensor, u: Tensor) => Tensor): Pick<GradSpec, 'jvp' | 'vjp'> => ({
  jvp: (t, v) => product(t.z, v.z),
  vjp: (t, r) => ({ z: product(t.z, r) }),
});

for (const [N, K] of [[1, 1], [1, 5], [4, 7], [13, 3]] as const) {
  const shape = [N, K];
  const name = `${N}×${K}, derivatives`;
  const only64 = { dtypes: ['float64'] as const };
  const zy = { z: { shape, scale: 2 }, y: { shape } };
  add('squaredLoss', name, N, K, zy, {
    ...only64,
    grad: { ops: ['squaredLossGradient'], wrt: ['z'], forward: (t) => squaredLoss(t.z, t.y), vjp: (t, r) => ({ z: times(squaredLossGradient(t.z, t.y), r.item()) }) },
  });
  add('squaredLossGradient', name, N, K, zy, {
    ...only64,
    grad: { ops: ['squaredLossHessianProduct'], wrt: ['z'], forward: (t) => squaredLossGradient(t.z, t.y), ...hessian(squaredLossHessianProduct) },
  });
  const z: InputSpec = { shape, scale: 2 };
  add('softmax', name, N, K, { z }, {
    ...only64,
    grad: { ops: ['softmaxCrossEntropyHessianProduct'], wrt: ['z'], forward: (t) => softmax(t.z), ...hessian(softmaxCrossEntropyHessianProduct) },
  });
  add('softmaxCrossEntropy', name, N, K, { z, y: { shape, kind: 'distribution' } }, {
    ...only64,
    grad: { ops: ['softmaxCrossEntropyGradient'], wrt: ['z'], forward: (t) => softmaxCrossEntropy(t.z, t.y), vjp: (t, r) => ({ z: times(softmaxCrossEntropyGradient(t.z, t.y), r.item()) }) },
  });
  // B does not depend on the targets (it is the Hessian of log-sum-exp): the same z with two
  // target distributions, each gradient differentiated against the one B·v.
  const zv = randData(N * K, 9100 + 31 * N + K, 2);
  for (const seed of [1, 2]) {
    add('softmaxCrossEntropyGradient', `${N}×${K}, targets ${seed}, derivatives`, N, K, { z: { shape, values: zv }, y: { shape, values: randDistribution(N, K, 9200 + seed) } }, {
      ...only64,
      grad: { ops: ['softmaxCrossEntropyHessianProduct'], wrt: ['z'], forward: (t) => softmaxCrossEntropyGradient(t.z, t.y), ...hessian(softmaxCrossEntropyHessianProduct) },
    });
  }
}

export const loss: Family = { name: 'loss', cases };
