// Pooling ops (native/core/ops/pool.h): maxPool2d (y and its int32 argmax), its gradient
// maxPool2dBackward, the fused ReLU → max-pool backward maxPool2dReluBackward, its R-operator
// maxPool2dJvp, avgPool2d and its gradient avgPool2dBackward. argmax is an output of maxPool2d
// and an input of the max-pool passes: run() makes it with maxPool2d, reference() with
// refMaxPool2d, from the case's x.
//
// Tolerances: every output is exact (note [case tolerances]), against the reference and
// between backends.
//  - maxPool2d is a selection: y copies one input, argmax is its index, chosen by the rules of
//    pool.h (first of equal maxima, the first NaN wins, padding never chosen). Nothing is
//    rounded. maxPool2dJvp is a gather: a copy.
//  - maxPool2dBackward, avgPool2d and avgPool2dBackward add up to kh·kw terms per element, but
//    not in an order of the implementation's choosing: the CPU visits windows row-major, one
//    (n, c) plane per task so that "its summation order [is] fixed" (cpu/pool.cpp), and CUDA adds
//    the same terms in the same order with one rounding per operation and no FMA, "so results
//    are bit-identical to the CPU's" (cuda/pool.cu). The CUDA parity test these cases replace
//    compared them bit for bit. So the reference (reference.ts, *InOrder) follows that order
//    and rounds every + and × to the dtype, as elementwise's axpy does; an accum bound
//    (4·√k·u·mag) would only hide a changed order, a dropped rounding or a flushed subnormal.
//  - maxPool2dReluBackward is reluBackward(maxPool2dBackward(…), reluInput) bit for bit by
//    its definition (pool.h): its cases also return that composition, and both must equal
//    the same reference.
// Inputs are 'awkward' (±0, subnormals, ±3e38 whose float32 sums overflow) in the shape and
// attribute cases, so a flush to zero, a contracted multiply-add or another order shows;
// generic where derivatives are taken and in the cnn3 (bench) cases, which model real
// activations; explicit values test ties, NaN and the infinities. No case is empty: pool.h refuses an
// empty x.
import { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward, maxPool2dJvp, maxPool2dReluBackward, mul, relu, reluBackward, reluMask } from '../../lib';
import type { Pool2dOptions, Tensor } from '../../lib';
import type { Check, Expected, Family, FloatDType, GradSpec, OpCase, Outputs } from './case';
import { numel } from './data';
import * as ref from './reference';

type Pair = number | readonly [number, number];

/** One pooling call: x (N, C, H, W) and the options run() passes. */
interface Geometry {
  readonly name: string;
  readonly x: readonly [number, number, number, number];
  readonly kernel: Pair;
  readonly stride?: Pair;
  readonly padding?: Pair;
  /** The stride and padding the reference uses when run() leaves them to their defaults. */
  readonly reference?: { readonly stride: Pair; readonly padding: Pair };
}

/** How the cases of a geometry are made. */
interface Variant {
  readonly data: 'awkward' | 'generic';
  /** Derivative checks (runner (c)) on the maxPool2d, maxPool2dReluBackward and avgPool2d cases. */
  readonly grad?: boolean;
  /** A bench line on every case (runner (d)). */
  readonly bench?: boolean;
}

const pairText = (v: Pair) => (typeof v === 'number' ? `${v}` : `[${v.join(', ')}]`);
const title = (g: Geometry) =>
  `${g.name}: x (${g.x.join(', ')}), kernel ${pairText(g.kernel)}` +
  (g.stride === undefined ? '' : `, stride ${pairText(g.stride)}`) +
  (g.padding === undefined ? '' : `, padding ${pairText(g.padding)}`);

const optionsOf = (g: Geometry): Pool2dOptions => {
  const o: { kernel: Pair; stride?: Pair; padding?: Pair } = { kernel: g.kernel };
  if (g.stride !== undefined) o.stride = g.stride;
  if (g.padding !== undefined) o.padding = g.padding;
  return o;
};
const geomOf = (g: Geometry): ref.PoolGeom =>
  ref.poolGeom(g.x, g.kernel, g.reference?.stride ?? g.stride, g.reference?.padding ?? g.padding);
const outShape = (p: ref.PoolGeom): readonly number[] => [p.N, p.C, p.P, p.Q];

// The value of one operation in the dtype: the exact result rounded once.
const rounder = (dtype: FloatDType) => (dtype === 'float32' ? Math.fround : (v: number) => v);
const exact = (...names: string[]) => (): Record<string, Check> => Object.fromEntries(names.map((n) => [n, { kind: 'exact' } as Check]));

// run()'s outputs after checking their shapes and dtypes, which the reference runner does not
// compare (it compares values: an int32 argmax read as floats would pass).
function laidOut(out: Record<string, Tensor>, layout: Record<string, readonly [readonly number[], string]>): Outputs {
  for (const [name, [shape, dtype]] of Object.entries(layout)) {
    const t = out[name];
    if (t.dtype !== dtype || t.shape.join() !== shape.join()) {
      const why = `${name} is ${t.dtype} (${t.shape.join(', ')}), expected ${dtype} (${shape.join(', ')})`;
      for (const u of Object.values(out)) u.dispose();
      throw new Error(why);
    }
  }
  return out;
}

// maxPool2d's argmax for x (y disposed).
function argmaxOf(x: Tensor, o: Pool2dOptions): Tensor {
  const { y, argmax } = maxPool2d(x, o);
  y.dispose();
  return argmax;
}

// maxPool2d's argmax for relu(x): the pooling of a conv block, whose backward is the fused op.
function reluArgmaxOf(x: Tensor, o: Pool2dOptions): Tensor {
  const a = relu(x);
  try {
    return argmaxOf(a, o);
  } finally {
    a.dispose();
  }
}

// --- the six ops on one geometry ----------------------------------------------------------------

function maxPoolCase(geo: Geometry, v: Variant): OpCase {
  const g = geomOf(geo), ys = outShape(g), o = optionsOf(geo);
  const grad: GradSpec = {
    // With distinct (generic) values the maximum of each window is unique, so near x the pooling
    // is the linear selection y = x[argmax]: h·|v| ≤ 1e-6 cannot change the argmax.
    ops: ['maxPool2dBackward', 'maxPool2dJvp'],
    wrt: ['x'],
    forward: (t) => {
      const { y, argmax } = maxPool2d(t.x, o);
      argmax.dispose();
      return y;
    },
    vjp: (t, r) => {
      const argmax = argmaxOf(t.x, o);
      try {
        return { x: maxPool2dBackward(r, argmax, geo.x, o) };
      } finally {
        argmax.dispose();
      }
    },
    jvp: (t, tangent) => {
      const argmax = argmaxOf(t.x, o);
      try {
        return maxPool2dJvp(tangent.x, argmax, o);
      } finally {
        argmax.dispose();
      }
    },
  };
  return {
    op: 'maxPool2d',
    name: title(geo),
    inputs: { x: { shape: geo.x, kind: v.data } },
    run: (t, dtype) => {
      const { y, argmax } = maxPool2d(t.x, o);
      return laidOut({ y, argmax }, { y: [ys, dtype], argmax: [ys, 'int32'] });
    },
    reference: (x) => ref.refMaxPool2d(x.x, g),
    check: exact('y', 'argmax'),
    grad: v.grad ? grad : undefined,
    // a comparison per window element but the first; x read, y and argmax written
    bench: v.bench ? { flops: numel(ys) * (g.kh * g.kw - 1), bytes: 4 * (numel(geo.x) + 2 * numel(ys)) } : undefined,
  };
}

function maxPoolBackwardCase(geo: Geometry, v: Variant): OpCase {
  const g = geomOf(geo), ys = outShape(g), o = optionsOf(geo);
  return {
    op: 'maxPool2dBackward',
    name: title(geo),
    inputs: { x: { shape: geo.x, kind: v.data }, dy: { shape: ys, kind: v.data } },
    run: (t, dtype) => {
      const argmax = argmaxOf(t.x, o);
      const dx = maxPool2dBackward(t.dy, argmax, geo.x, o);
      argmax.dispose();
      return laidOut({ dx }, { dx: [geo.x, dtype] });
    },
    reference: (x, dtype) => ({ dx: ref.refMaxPool2dBackwardInOrder(x.dy, ref.refMaxPool2d(x.x, g).argmax, g, rounder(dtype)) }),
    check: exact('dx'),
    // an addition per output; dy and argmax read, dx written (zeros included)
    bench: v.bench ? { flops: numel(ys), bytes: 4 * (2 * numel(ys) + numel(geo.x)) } : undefined,
  };
}

function maxPoolReluBackwardCase(geo: Geometry, v: Variant): OpCase {
  const g = geomOf(geo), ys = outShape(g), o = optionsOf(geo);
  // The composition is returned too, except where the case is timed.
  const composed = !v.bench;
  const grad: GradSpec = {
    // relu → maxPool2d: generic x is never 0 (no ReLU kink); a window whose inputs are all
    // negative pools zeros (a tie), but its output and derivative are 0 on either side.
    ops: ['maxPool2dReluBackward', 'maxPool2dJvp'],
    wrt: ['x'],
    forward: (t) => {
      const a = relu(t.x);
      const { y, argmax } = maxPool2d(a, o);
      a.dispose();
      argmax.dispose();
      return y;
    },
    vjp: (t, r) => {
      const argmax = reluArgmaxOf(t.x, o);
      try {
        return { x: maxPool2dReluBackward(r, argmax, t.x, o) };
      } finally {
        argmax.dispose();
      }
    },
    // R{y} = (R{x} ⊙ reluMask(x))[argmax]: the adjoint of the fused backward
    jvp: (t, tangent) => {
      const argmax = reluArgmaxOf(t.x, o);
      const mask = reluMask(t.x);
      const masked = mul(tangent.x, mask);
      try {
        return maxPool2dJvp(masked, argmax, o);
      } finally {
        for (const u of [argmax, mask, masked]) u.dispose();
      }
    },
  };
  return {
    op: 'maxPool2dReluBackward',
    name: title(geo) + (composed ? ', equals reluBackward ∘ maxPool2dBackward' : ''),
    // x: the ReLU's input, about half of it negative; the pooling runs on relu(x)
    inputs: { x: { shape: geo.x, kind: v.data }, dy: { shape: ys, kind: v.data } },
    run: (t, dtype) => {
      const argmax = reluArgmaxOf(t.x, o);
      const out: Record<string, Tensor> = { dx: maxPool2dReluBackward(t.dy, argmax, t.x, o) };
      if (composed) {
        const pooled = maxPool2dBackward(t.dy, argmax, geo.x, o);
        out.composed = reluBackward(pooled, t.x);
        pooled.dispose();
      }
      argmax.dispose();
      return laidOut(out, composed ? { dx: [geo.x, dtype], composed: [geo.x, dtype] } : { dx: [geo.x, dtype] });
    },
    reference: (x, dtype): Expected => {
      const argmax = ref.refMaxPool2d(ref.refRelu(x.x), g).argmax;
      const dx = ref.refReluBackward(ref.refMaxPool2dBackwardInOrder(x.dy, argmax, g, rounder(dtype)), x.x);
      return composed ? { dx, composed: dx } : { dx };
    },
    check: composed ? exact('dx', 'composed') : exact('dx'),
    grad: v.grad ? grad : undefined,
    // an addition and a sign test per output; dy, argmax and the ReLU input at argmax read, dx written
    bench: v.bench ? { flops: 2 * numel(ys), bytes: 4 * (3 * numel(ys) + numel(geo.x)) } : undefined,
  };
}

function maxPoolJvpCase(geo: Geometry, v: Variant): OpCase {
  const g = geomOf(geo), ys = outShape(g), o = optionsOf(geo);
  return {
    op: 'maxPool2dJvp',
    name: title(geo),
    inputs: { x: { shape: geo.x, kind: v.data }, rx: { shape: geo.x, kind: v.data } },
    run: (t, dtype) => {
      const argmax = argmaxOf(t.x, o);
      const ry = maxPool2dJvp(t.rx, argmax, o);
      argmax.dispose();
      return laidOut({ ry }, { ry: [ys, dtype] });
    },
    reference: (x) => ({ ry: ref.refMaxPool2dJvp(x.rx, ref.refMaxPool2d(x.x, g).argmax, g) }),
    check: exact('ry'),
    // a gather: argmax and the chosen elements of rx read, ry written
    bench: v.bench ? { flops: 0, bytes: 4 * 3 * numel(ys) } : undefined,
  };
}

function avgPoolCase(geo: Geometry, v: Variant): OpCase {
  const g = geomOf(geo), ys = outShape(g), o = optionsOf(geo);
  const grad: GradSpec = {
    // avgPool2d is linear: its own R-operator, and avgPool2dBackward its adjoint
    ops: ['avgPool2dBackward'],
    wrt: ['x'],
    forward: (t) => avgPool2d(t.x, o),
    vjp: (_t, r) => ({ x: avgPool2dBackward(r, geo.x, o) }),
    jvp: (_t, tangent) => avgPool2d(tangent.x, o),
  };
  return {
    op: 'avgPool2d',
    name: title(geo),
    inputs: { x: { shape: geo.x, kind: v.data } },
    run: (t, dtype) => laidOut({ y: avgPool2d(t.x, o) }, { y: [ys, dtype] }),
    reference: (x, dtype) => ({ y: ref.refAvgPool2dInOrder(x.x, g, rounder(dtype)) }),
    check: exact('y'),
    grad: v.grad ? grad : undefined,
    // kh·kw additions and a multiplication per output; x read, y written
    bench: v.bench ? { flops: numel(ys) * (g.kh * g.kw + 1), bytes: 4 * (numel(geo.x) + numel(ys)) } : undefined,
  };
}

function avgPoolBackwardCase(geo: Geometry, v: Variant): OpCase {
  const g = geomOf(geo), ys = outShape(g), o = optionsOf(geo);
  return {
    op: 'avgPool2dBackward',
    name: title(geo),
    inputs: { dy: { shape: ys, kind: v.data } },
    run: (t, dtype) => laidOut({ dx: avgPool2dBackward(t.dy, geo.x, o) }, { dx: [geo.x, dtype] }),
    reference: (x, dtype) => ({ dx: ref.refAvgPool2dBackwardInOrder(x.dy, g, rounder(dtype)) }),
    check: exact('dx'),
    // a multiplication and kh·kw additions per output; dy read, dx written
    bench: v.bench ? { flops: numel(ys) * (g.kh * g.kw + 1), bytes: 4 * (numel(ys) + numel(geo.x)) } : undefined,
  };
}

const allOps = (geo: Geometry, v: Variant): OpCase[] =>
  [maxPoolCase, maxPoolBackwardCase, maxPoolReluBackwardCase, maxPoolJvpCase, avgPoolCase, avgPoolBackwardCase].map((make) => make(geo, v));

// --- geometries -----------------------------------------------------------------------------------

// Awkward shapes and attributes. The float32 CPU kernel has a SIMD path for 2×2 windows of
// stride 2 without padding (the paper's pooling), 16 (AVX-512), 8 (AVX2) and 4 (SSE2) outputs
// at a time plus a tail.
const AWKWARD: readonly Geometry[] = [
  { name: '2x2 on an even image', x: [2, 3, 8, 6], kernel: 2 },
  { name: '2x2 on an odd image (floors)', x: [1, 3, 7, 5], kernel: 2 },
  { name: '2x2 on 13x31 (floors; 15 outputs a row: SIMD blocks and a tail)', x: [2, 1, 13, 31], kernel: 2 },
  { name: '2x2 on 6x16 (8 outputs a row: SIMD blocks only)', x: [3, 5, 6, 16], kernel: 2 },
  { name: '2x2 on 4x78 (39 outputs a row: 16-, 8- and 4-wide blocks and a tail)', x: [2, 3, 4, 78], kernel: 2 },
  { name: '3x3 stride 1 (overlapping windows)', x: [1, 2, 7, 7], kernel: 3, stride: 1 },
  { name: '3x3 stride 1 on 9x7 (overlapping windows)', x: [2, 3, 9, 7], kernel: 3, stride: 1 },
  { name: '3x3 stride 1, a larger batch (overlapping windows)', x: [8, 16, 15, 15], kernel: 3, stride: 1 },
  { name: '3x3 stride 2 pad 1', x: [2, 3, 7, 9], kernel: 3, stride: 2, padding: 1 },
  { name: '3x3 stride 2 pad 1 on primes', x: [3, 7, 13, 11], kernel: 3, stride: 2, padding: 1 },
  { name: 'non-square kernel and stride', x: [1, 2, 7, 11], kernel: [2, 3], stride: [1, 2] },
  { name: 'padding = kernel − 1', x: [1, 1, 5, 5], kernel: 3, stride: 1, padding: 2 },
  { name: 'padding on one axis only', x: [2, 1, 4, 5], kernel: 2, stride: 1, padding: [1, 0] },
  { name: 'stride > kernel (gaps between windows)', x: [2, 2, 8, 11], kernel: 2, stride: 3 },
  { name: '1x1 kernel', x: [1, 3, 5, 7], kernel: 1 },
  { name: 'kernel = image', x: [3, 2, 5, 4], kernel: [5, 4] },
  { name: 'kernel = padded image', x: [2, 3, 3, 4], kernel: [5, 6], padding: 1 },
  { name: '1x1 image', x: [1, 1, 1, 1], kernel: 1 },
  { name: '2x2 pad 1 on 3x3, stride defaults to the kernel', x: [1, 1, 3, 3], kernel: 2, padding: 1 },
  // The options' defaults: run() passes the kernel only, the reference spells out stride 3
  // and padding 0 (a wrong default changes the output shape or the values).
  { name: 'stride defaults to the kernel, padding to 0', x: [1, 2, 9, 7], kernel: 3, reference: { stride: 3, padding: 0 } },
];

// The derivative checks (generic data), from the old finite-difference tests.
const DERIVATIVES: readonly Geometry[] = [
  { name: 'derivatives, 2x2 on an odd image', x: [2, 2, 5, 7], kernel: 2 },
  { name: 'derivatives, 2x2 on an even image', x: [1, 2, 4, 6], kernel: 2 },
  { name: 'derivatives, 3x3 stride 1 (overlapping windows)', x: [1, 2, 5, 5], kernel: 3, stride: 1 },
  { name: 'derivatives, 3x3 stride 2 pad 1', x: [1, 3, 7, 6], kernel: 3, stride: 2, padding: 1 },
  { name: 'derivatives, non-square kernel, stride and padding', x: [2, 1, 5, 6], kernel: [2, 3], stride: [2, 1], padding: [1, 2] },
];

// The paper's pooling layers: cnn3's three 2×2 max pools (28×28×32 → 14×14, 14×14×64 → 7×7,
// 7×7×64 → 3×3) at batch 8 (generic data: realistic activations, a ReLU input about half negative).
const CNN3: readonly Geometry[] = [
  { name: 'cnn3 pool1, batch 8', x: [8, 32, 28, 28], kernel: 2 },
  { name: 'cnn3 pool2, batch 8', x: [8, 64, 14, 14], kernel: 2 },
  { name: 'cnn3 pool3, batch 8 (floors)', x: [8, 64, 7, 7], kernel: 2 },
];

const cases: OpCase[] = [
  ...AWKWARD.flatMap((geo) => allOps(geo, { data: 'awkward' })),
  ...DERIVATIVES.flatMap((geo) => allOps(geo, { data: 'generic', grad: true })),
  ...CNN3.flatMap((geo) => allOps(geo, { data: 'generic', bench: true })),
];

// --- explicit values: ties, padding, NaN and the infinities ---------------------------------------

// A case of maxPool2d with explicit x and the expected y and argmax written out.
function maxPoolValues(name: string, x: readonly number[], values: readonly number[], o: Pool2dOptions, y: readonly number[], argmax: readonly number[]): OpCase {
  return {
    op: 'maxPool2d',
    name,
    inputs: { x: { shape: x, values } },
    run: (t) => {
      const r = maxPool2d(t.x, o);
      return { y: r.y, argmax: r.argmax };
    },
    reference: () => ({ y: Float64Array.from(y), argmax: Int32Array.from(argmax) }),
    check: exact('y', 'argmax'),
  };
}

// Every window equal: each picks its first valid position (row-major).
const HALVES = new Array<number>(16).fill(0.5);
cases.push(
  maxPoolValues('ties choose the first index: all equal, 2x2', [1, 1, 4, 4], HALVES, { kernel: 2 }, [0.5, 0.5, 0.5, 0.5], [0, 2, 8, 10]),
  maxPoolValues('ties choose the first index: all equal, 3x3 stride 1', [1, 1, 4, 4], HALVES, { kernel: 3, stride: 1 }, [0.5, 0.5, 0.5, 0.5], [0, 1, 4, 5]),
  // four windows in a row: the float32 SIMD path of 2×2 stride 2
  maxPoolValues('ties choose the first index: all equal, 2x2 on 2x8', [1, 1, 2, 8], HALVES, { kernel: 2 }, [0.5, 0.5, 0.5, 0.5], [0, 2, 4, 6]),
  // windows rows {−1, 0} × cols {−1, 0} → (0, 0); {−1, 0} × {1, 2} → (0, 1); …: the padding
  // (which would be 0) never wins over −1
  maxPoolValues('padding is never chosen, all values negative', [1, 1, 3, 3], new Array<number>(9).fill(-1), { kernel: 2, stride: 2, padding: 1 }, [-1, -1, -1, -1], [0, 1, 3, 4]),
);

// Special values in 2×2 windows (W = 14: seven windows, a SIMD block of four and a tail of
// three in float32): the first NaN wins and stays, −0 and +0 tie (the first is kept, sign
// and all), ±Infinity compare as numbers.
const SPECIAL_X = [
  [NaN, 1, 1, NaN, -0, 0, -Infinity, -Infinity, 2, 5, -Infinity, -Infinity, 0, -0],
  [2, NaN, 3, 4, -Infinity, -Infinity, -Infinity, Infinity, NaN, NaN, -Infinity, -Infinity, -0, -0],
].flat();
cases.push(
  maxPoolValues('NaN, ±Infinity, ±0 in 2x2 windows', [1, 1, 2, 14], SPECIAL_X, { kernel: 2 }, [NaN, NaN, -0, Infinity, NaN, -Infinity, 0], [0, 3, 4, 21, 22, 10, 12]),
);
// The same values through the other paths and ops, against the reference's rules: overlapping
// windows (the scalar path), the sums of avgPool2d (NaN, ∞ − ∞), a gather and routing of them.
{
  const special: Geometry = { name: 'NaN, ±Infinity, ±0, 2x2 stride 1', x: [1, 1, 2, 14], kernel: 2, stride: 1 };
  const g = geomOf(special), ys = outShape(g);
  const x = { shape: special.x, values: SPECIAL_X };
  const dyValues = [NaN, 1, Infinity, -Infinity, -0, 1e-45, 3e38, -3e38, 3e38, 0.1, -0, 0, Infinity].slice(0, numel(ys));
  const dy = { shape: ys, values: dyValues };
  const special2x2: Geometry = { name: 'NaN, ±Infinity, ±0, 2x2', x: [1, 1, 2, 14], kernel: 2 };
  cases.push(
    { ...maxPoolCase(special, { data: 'awkward' }), inputs: { x } },
    { ...maxPoolJvpCase(special, { data: 'awkward' }), inputs: { x, rx: { shape: x.shape, values: [...SPECIAL_X].reverse() } } },
    { ...maxPoolBackwardCase(special, { data: 'awkward' }), inputs: { x, dy } },
    // the ReLU input holds NaN: relu keeps it, the pooling picks it, reluBackward masks it to 0
    { ...maxPoolReluBackwardCase(special2x2, { data: 'awkward' }), inputs: { x, dy: { shape: [1, 1, 1, 7], values: dyValues.slice(0, 7) } } },
    { ...avgPoolCase(special, { data: 'awkward' }), inputs: { x } },
    { ...avgPoolCase(special2x2, { data: 'awkward' }), inputs: { x } },
    // overlapping windows add ∞ and −∞ (NaN); 1e-45/4 underflows; 3e38/4 + 3e38/4 stays finite
    { ...avgPoolBackwardCase(special, { data: 'awkward' }), inputs: { dy } },
  );
}

// avgPool2d divides by the full window area, padding included: with kernel 2, stride 2 and
// padding 1 on a 2×2 image each window holds exactly one real element.
cases.push(
  {
    op: 'avgPool2d',
    name: 'divides by the kernel area including padding',
    inputs: { x: { shape: [1, 1, 2, 2], values: [1, 1, 1, 1] } },
    run: (t) => ({ y: avgPool2d(t.x, { kernel: 2, padding: 1 }) }),
    reference: () => ({ y: Float64Array.of(0.25, 0.25, 0.25, 0.25) }),
    check: exact('y'),
  },
  {
    op: 'avgPool2dBackward',
    name: 'divides by the kernel area including padding',
    inputs: { dy: { shape: [1, 1, 2, 2], values: [4, 8, 12, 16] } },
    run: (t) => ({ dx: avgPool2dBackward(t.dy, [1, 1, 2, 2], { kernel: 2, padding: 1 }) }),
    reference: () => ({ dx: Float64Array.of(1, 2, 3, 4) }),
    check: exact('dx'),
  },
  // dy routed to the argmax of tied windows and summed where overlapping windows share it
  {
    op: 'maxPool2dBackward',
    name: 'routes to the first of tied maxima and sums overlapping windows',
    inputs: { x: { shape: [1, 1, 4, 4], values: HALVES }, dy: { shape: [1, 1, 2, 2], values: [1, 2, 3, 4] } },
    run: (t) => {
      const o = { kernel: 3, stride: 1 };
      const argmax = argmaxOf(t.x, o);
      const dx = maxPool2dBackward(t.dy, argmax, [1, 1, 4, 4], o);
      argmax.dispose();
      return { dx };
    },
    reference: () => ({ dx: Float64Array.of(1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }),
    check: exact('dx'),
  },
);

export const pool: Family = { name: 'pool', cases };
