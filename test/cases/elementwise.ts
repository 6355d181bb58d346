// Element-wise ops (native/core/ops/elementwise.h). Every output is exact (note [case
// tolerances]): one correctly rounded operation per element (two for axpy, emulated in the
// dtype by the reference below), the same formulas on every backend (core/scalar_math.h),
// and awkward inputs (±0, subnormals, huge values) so that flush-to-zero or a fused
// multiply-add shows.
import { add, axpy, mul, relu, reluBackward, reluMask, rsqrt, scale, sub, tanh, tanhBackward } from '../../lib';
import type { Check, Family, FloatDType, OpCase } from './case';
import { numel } from './data';
import * as ref from './reference';

const SHAPES: readonly (readonly number[])[] = [[1], [13], [0], [], [3, 31], [2, 3, 5, 7], [1, 1, 1, 1], [32, 32, 14, 14], [300000]];
const label = (s: readonly number[]) => (s.length === 0 ? 'scalar' : s.join('x'));
const exact = (...names: string[]) => (): Record<string, Check> => Object.fromEntries(names.map((n) => [n, { kind: 'exact' } as Check]));
// One element-wise pass over `reads` inputs and one output, float32.
const streamed = (shape: readonly number[], reads: number, flops = 1) => ({ flops: flops * numel(shape), bytes: 4 * (reads + 1) * numel(shape) });
const isBench = (s: readonly number[]) => numel(s) === 32 * 32 * 14 * 14;

// The value of one float32 (or float64) operation: the exact result rounded once.
const rounder = (dtype: FloatDType) => (dtype === 'float32' ? Math.fround : (x: number) => x);

const cases: OpCase[] = [];

for (const shape of SHAPES) {
  const ab = { a: { shape, kind: 'awkward' as const }, b: { shape, kind: 'awkward' as const } };
  const bench = isBench(shape) ? streamed(shape, 2) : undefined;
  for (const [op, fn, r] of [
    ['add', add, ref.refAdd],
    ['sub', sub, ref.refSub],
    ['mul', mul, ref.refMul],
  ] as const) {
    cases.push({
      op,
      name: label(shape),
      inputs: ab,
      run: (t) => ({ y: fn(t.a, t.b) }),
      reference: (v) => ({ y: r(v.a, v.b) }),
      check: exact('y'),
      bench,
    });
  }

  for (const alpha of [-0.3, 1 / 3]) {
    cases.push({
      op: 'scale',
      name: `${label(shape)} alpha ${alpha.toPrecision(3)}`,
      inputs: { x: { shape, kind: 'awkward' } },
      run: (t) => ({ y: scale(t.x, alpha) }),
      // alpha is rounded to the dtype, then one multiplication
      reference: (v, dtype) => ({ y: ref.refScale(v.x, rounder(dtype)(alpha)) }),
      check: exact('y'),
      bench: isBench(shape) && alpha < 0 ? streamed(shape, 1) : undefined,
    });
  }

  cases.push({
    op: 'axpy',
    name: label(shape),
    inputs: { y: { shape, kind: 'awkward' }, x: { shape, kind: 'awkward' } },
    run: (t) => {
      const y = t.y.clone();
      axpy(y, 0.7, t.x);
      axpy(y, -1 / 3, t.x);
      return { y };
    },
    // y + α·x with α rounded, the product rounded, the sum rounded: no fused multiply-add
    reference: (v, dtype) => {
      const fr = rounder(dtype);
      const step = (y: Float64Array, a: number) => y.map((yi, i) => fr(yi + fr(fr(a) * v.x[i])));
      return { y: step(step(v.y, 0.7), -1 / 3) };
    },
    check: exact('y'),
    bench: isBench(shape) ? { flops: 4 * numel(shape), bytes: 2 * 12 * numel(shape) } : undefined,
  });

  const xdy = { x: { shape, kind: 'awkward' as const }, dy: { shape, kind: 'awkward' as const } };
  cases.push({
    op: 'relu',
    name: label(shape),
    inputs: { x: xdy.x },
    run: (t) => ({ y: relu(t.x) }),
    reference: (v) => ({ y: ref.refRelu(v.x) }),
    check: exact('y'),
    bench: isBench(shape) ? streamed(shape, 1) : undefined,
  });
  cases.push({
    op: 'reluMask',
    name: label(shape),
    inputs: { x: xdy.x },
    run: (t) => ({ y: reluMask(t.x) }),
    reference: (v) => ({ y: ref.refReluMask(v.x) }),
    check: exact('y'),
    bench: isBench(shape) ? streamed(shape, 1) : undefined,
  });
  cases.push({
    op: 'reluBackward',
    name: label(shape),
    inputs: xdy,
    run: (t) => ({ dx: reluBackward(t.dy, t.x) }),
    reference: (v) => ({ dx: ref.refReluBackward(v.dy, v.x) }),
    check: exact('dx'),
    bench: isBench(shape) ? streamed(shape, 2) : undefined,
  });
}

// The kinks and the special values: relu(±0) = 0, NaN stays NaN (a NaN never turns into a
// silent 0), reluMask and reluBackward are 0 at 0 and at NaN.
const SPECIAL = [0, -0, 1, -1, NaN, Infinity, -Infinity, 1e-45, -1e-45];
for (const op of ['relu', 'reluMask', 'reluBackward'] as const) {
  cases.push({
    op,
    name: '±0, NaN, ±Infinity, ±subnormal',
    inputs: { x: { shape: [SPECIAL.length], values: SPECIAL }, dy: { shape: [SPECIAL.length], values: SPECIAL.map((_, i) => i + 1) } },
    run: (t) => ({ y: op === 'relu' ? relu(t.x) : op === 'reluMask' ? reluMask(t.x) : reluBackward(t.dy, t.x) }),
    reference: (v) => ({ y: op === 'relu' ? ref.refRelu(v.x) : op === 'reluMask' ? ref.refReluMask(v.x) : ref.refReluBackward(v.dy, v.x) }),
    check: exact('y'),
  });
}

// The passes of relu: its gradient (reluBackward) and its R-operator R{y} = R{x} ⊙ reluMask(x).
for (const shape of [[3, 7], [2, 3, 4, 5]]) {
  cases.push({
    op: 'relu',
    name: `${label(shape)}, derivatives`,
    inputs: { x: { shape } },
    dtypes: ['float64'],
    run: (t) => ({ y: relu(t.x) }),
    reference: (v) => ({ y: ref.refRelu(v.x) }),
    check: exact('y'),
    grad: {
      ops: ['reluBackward', 'reluMask'],
      wrt: ['x'],
      forward: (t) => relu(t.x),
      vjp: (t, r) => ({ x: reluBackward(r, t.x) }),
      jvp: (t, v) => {
        const mask = reluMask(t.x);
        const out = mul(v.x, mask);
        mask.dispose();
        return out;
      },
    },
  });
}

// tanh is evaluated in double and rounded once on both backends, the reference in double
// too; the double tanh of two libraries may differ in the last bit, which the rounding to
// float32 turns into at most one ulp of the result: tol rtol 2⁻²³; in float64 the libraries'
// own errors show (glibc's and V8's tanh were seen 3.3 ulp apart): rtol 2⁻⁵⁰, 8 ulp.
// tanhBackward dy·(1 − y·y) and rsqrt 1/√(x + ε) (IEEE sqrt and division in double, rounded
// once) are exact.
const tanhTol = (dtype: FloatDType): Check => ({ kind: 'tol', rtol: dtype === 'float32' ? 2 ** -23 : 2 ** -50, atol: 0 });
const LARGE = [0, -0, 0.5, -3, 20, -20, 1e-45, 1e-30, NaN, Infinity, -Infinity, 3e38];
for (const shape of [[32, 32, 14, 14], [13], [3, 31], [0]]) {
  cases.push({
    op: 'tanh',
    name: label(shape),
    inputs: { x: { shape, scale: 3 } },
    run: (t) => ({ y: tanh(t.x) }),
    reference: (v) => ({ y: v.x.map(Math.tanh) }),
    check: (ctx) => ({ y: tanhTol(ctx.dtype) }),
    bench: isBench(shape) ? { flops: 20 * numel(shape), bytes: 8 * numel(shape) } : undefined,
  });
  cases.push({
    op: 'tanhBackward',
    name: label(shape),
    inputs: { dy: { shape, kind: 'awkward' }, y: { shape } },
    run: (t) => ({ dx: tanhBackward(t.dy, t.y) }),
    reference: (v, dtype) => {
      const fr = rounder(dtype);
      return { dx: v.dy.map((g, i) => fr(g * fr(1 - fr(v.y[i] * v.y[i])))) };
    },
    check: exact('dx'),
    bench: isBench(shape) ? streamed(shape, 2, 3) : undefined,
  });
  cases.push({
    op: 'rsqrt',
    name: `${label(shape)} (negative x + ε gives NaN)`,
    inputs: { x: { shape } },
    run: (t) => ({ y: rsqrt(t.x, 1e-3) }),
    reference: (v) => ({ y: v.x.map((x) => 1 / Math.sqrt(x + 1e-3)) }),
    check: exact('y'),
    bench: isBench(shape) ? streamed(shape, 1, 3) : undefined,
  });
}
cases.push({
  op: 'tanh',
  name: '±0, ±20, subnormal, NaN, ±Infinity, 3e38',
  inputs: { x: { shape: [LARGE.length], values: LARGE } },
  run: (t) => ({ y: tanh(t.x) }),
  reference: (v) => ({ y: v.x.map(Math.tanh) }),
  check: (ctx) => ({ y: tanhTol(ctx.dtype) }),
});
cases.push({
  op: 'rsqrt',
  name: 'ε = 0 at 0, 4 and 1e-40, ±Infinity, NaN',
  inputs: { x: { shape: [6], values: [0, 4, 1e-40, Infinity, -Infinity, NaN] } },
  run: (t) => ({ y: rsqrt(t.x, 0) }),
  reference: (v) => ({ y: v.x.map((x) => 1 / Math.sqrt(x)) }),
  check: exact('y'),
});
// The passes of tanh: its gradient and its R-operator R{y} = R{x} ⊙ (1 − y²), both tanhBackward.
for (const shape of [[3, 7], [2, 3, 4, 5]]) {
  cases.push({
    op: 'tanh',
    name: `${label(shape)}, derivatives`,
    inputs: { x: { shape } },
    dtypes: ['float64'],
    run: (t) => ({ y: tanh(t.x) }),
    reference: (v) => ({ y: v.x.map(Math.tanh) }),
    check: (ctx) => ({ y: tanhTol(ctx.dtype) }),
    grad: {
      ops: ['tanhBackward'],
      wrt: ['x'],
      forward: (t) => tanh(t.x),
      vjp: (t, r) => {
        const y = tanh(t.x);
        const dx = tanhBackward(r, y);
        y.dispose();
        return { x: dx };
      },
      jvp: (t, v) => {
        const y = tanh(t.x);
        const ry = tanhBackward(v.x, y);
        y.dispose();
        return ry;
      },
    },
  });
}

export const elementwise: Family = { name: 'element-wise', cases };
