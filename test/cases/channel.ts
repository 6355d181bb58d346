// Per-channel ops (native/core/ops/channel.h) on tensors (N, C, ...): biasAdd and its gradient
// with respect to the bias, biasGrad (also reached as conv2dBackwardBias), channelDot, and
// batch normalisation's channelAffine, channelCombine and batchNormStats.
//
// Tolerances (note [case tolerances]):
//  - biasAdd is exact: one correctly rounded addition per element, y + b[c], on every backend
//    (the float64 reference holds the exact sum of two float32 values, rounded once to the
//    dtype by the harness). Awkward y and b (±0, subnormals, ±3e38) show flush-to-zero, a
//    wrong sign of zero, or overflow handled differently; a wrong channel index gives O(1).
//  - biasGrad sums the n = N·(H·W·…) values of each channel in double and stores the sum in
//    the dtype: `double` with that n, absSum = Σ|dy| of the channel (the op on |dy|) and
//    `rounded`. In float32 the terms are exact in double, so the CPU (four interleaved
//    accumulators per channel, native/core/cpu/channel.cpp), the GPU (one block of 256 threads
//    per channel, a fixed tree) and the reference (in index order) differ only in the order of
//    n − 1 double additions, |Δ| ≤ 2n·2⁻⁵³·absSum (Higham), then by the one rounding to the
//    dtype (u·|r|). A float32 accumulator is off by ~2⁻²⁴·absSum, a value of the wrong channel
//    or sample by O(1).
//  - channelDot sums n products a⊙b per channel in double, like biasGrad: in float32 each
//    product is exact in double, so `double` with that n, absSum = Σ|a⊙b| of the channel and
//    `rounded` holds rigorously; in float64 each product is rounded once more (≤ u·|a⊙b|),
//    which the same bound covers with n + 1 for n. Channel counts below and above 8 take the
//    CPU's two paths (blocked sums per channel, channels in parallel).
//  - channelAffine and channelCombine are exact: a fixed sequence of roundings per element
//    (x·s, then + t; a·s, b·u, their sum, then + t), no fused multiply-add on either backend,
//    emulated by the references below in the dtype.
//  - batchNormStats: the mean is a double sum of m values divided by m, so `double` with n = m
//    and absSum = Σ|x|/m, rounded. The variance sums (x − μ)² in double with μ itself rounded
//    in double (and in another order on each backend): each term is off by a few units of
//    2⁻⁵³·(|x| + |μ|)², so `double` with n = m + 3 and absSum = Σ(|x| + |μ|)²/m, rounded.
//    invStd = 1/√(var + ε) from the double variance: its relative error is half the variance's
//    plus the roundings, rtol = 2u + (m + 3)·2⁻⁵³·Σ(|x| + |μ|)²/(m·(var + ε)).
//  - Special values whose every partial sum is exact in double (integers below 2⁵³, small
//    multiples of 3e38) and whose sum the dtype holds exactly: any order gives the same
//    number, so those cases are exact.
import { batchNormStats, biasAdd, biasGrad, channelAffine, channelCombine, channelDot, conv2dBackwardBias, Tensor } from '../../lib';
import type { Check, Expected, Family, OpCase } from './case';
import { numel } from './data';
import * as ref from './reference';

const label = (s: readonly number[]) => `(${s.join(', ')})`;

// The Float64Array an Expected holds under `key`.
function arr(e: Expected, key: string): Float64Array {
  const v = e[key];
  if (!(v instanceof Float64Array)) throw new Error(`expected a Float64Array for ${key}`);
  return v;
}

// `t` after checking its shape (the reference's length alone would not catch a transposed shape).
function shaped(t: Tensor, shape: readonly number[]): Tensor {
  if (t.shape.join() !== shape.join()) {
    t.dispose();
    throw new Error(`output of shape (${t.shape.join(', ')}), expected (${shape.join(', ')})`);
  }
  return t;
}

// The values summed into each channel of a tensor (N, C, ...).
const perChannel = (shape: readonly number[]) => (shape[1] === 0 ? 0 : numel(shape) / shape[1]);
// The bias gradient's bound: a double sum of per-channel terms stored in the dtype.
const doubleRounded = (shape: readonly number[], absSum: Float64Array): Check => ({ kind: 'double', n: perChannel(shape), absSum, rounded: true });

// cnn3 at batch 16 (28×28×1 images; 'same' convolutions, 2×2 max pools): conv1 5×5 1 → 32 on
// 28×28, conv2 3×3 32 → 64 on 14×14, conv3 3×3 64 → 64 on 7×7, linear 576 → 10.
const CONV1_OUT = [16, 32, 28, 28];
const CONV2_OUT = [16, 64, 14, 14];
const CONV3_OUT = [16, 64, 7, 7];
const LINEAR_OUT = [16, 10];

// (N, C, ...) shapes of both ops. Planes (the product of the axes after C) of 1, 6, 12, 31, 35,
// 49, 196, 784 and 1031 leave every remainder modulo the CPU's four accumulators; planes and
// channel sums N·plane below and above the GPU's 256 threads per channel.
const SHAPES: readonly { shape: readonly number[]; why: string }[] = [
  { shape: CONV1_OUT, why: 'cnn3 conv1 output, batch 16' },
  { shape: CONV2_OUT, why: 'cnn3 conv2 output, batch 16' },
  { shape: CONV3_OUT, why: 'cnn3 conv3 output, batch 16' },
  { shape: LINEAR_OUT, why: 'cnn3 linear output, batch 16' },
  { shape: [1, 1], why: 'N = C = 1' },
  { shape: [7, 3], why: '2-D (N, C)' },
  { shape: [3, 1031], why: 'C = 1031, prime' },
  { shape: [5, 7, 1], why: 'plane of 1' },
  { shape: [3, 2, 31], why: '3-D, prime plane' },
  { shape: [3, 2, 1031], why: '3-D, prime plane of 1031' },
  { shape: [2, 3, 5, 7], why: '4-D, odd plane' },
  { shape: [4, 5, 3, 2], why: '4-D, plane of 6' },
  { shape: [1, 13, 1, 1], why: 'N = 1, C = 13, 1×1 planes' },
  { shape: [2, 3, 2, 2, 3], why: '5-D' },
  { shape: [0, 3], why: 'N = 0' },
  { shape: [2, 0, 5], why: 'C = 0' },
  { shape: [2, 3, 0], why: 'empty planes' },
];
const isBench = (s: readonly number[]) => s === CONV1_OUT;

const cases: OpCase[] = [];

for (const { shape, why } of SHAPES) {
  const n = numel(shape);
  const C = shape[1];
  const name = `${label(shape)} ${why}`;
  cases.push({
    op: 'biasAdd',
    name,
    inputs: { y: { shape, kind: 'awkward' }, b: { shape: [C], kind: 'awkward' } },
    run: (t) => ({ y: shaped(biasAdd(t.y, t.b), shape) }),
    reference: (v) => ({ y: ref.refBiasAdd(v.y, shape, v.b) }),
    check: () => ({ y: { kind: 'exact' } }),
    // reads y and b, writes the output
    bench: isBench(shape) ? { flops: n, bytes: 4 * (2 * n + C) } : undefined,
  });
  cases.push({
    op: 'biasGrad',
    name,
    inputs: { dy: { shape } },
    run: (t) => ({ db: shaped(biasGrad(t.dy), [C]) }),
    reference: (v) => ({ db: ref.refBiasGrad(v.dy, shape) }),
    check: (ctx) => ({ db: doubleRounded(shape, arr(ctx.magnitude(), 'db')) }),
    bench: isBench(shape) ? { flops: n, bytes: 4 * (n + C) } : undefined,
  });
}

// conv2dBackwardBias is biasGrad under conv2d's name: the same op on (N, K, P, Q).
for (const { shape, why } of [
  { shape: CONV3_OUT, why: 'cnn3 conv3 output, batch 16' },
  { shape: [1, 13, 1, 1], why: 'N = 1, K = 13, 1×1' },
  { shape: [2, 3, 5, 7], why: 'odd plane' },
]) {
  cases.push({
    op: 'biasGrad',
    name: `as conv2dBackwardBias, ${label(shape)} ${why}`,
    inputs: { dy: { shape } },
    run: (t) => ({ db: shaped(conv2dBackwardBias(t.dy), [shape[1]]) }),
    reference: (v) => ({ db: ref.refBiasGrad(v.dy, shape) }),
    check: (ctx) => ({ db: doubleRounded(shape, arr(ctx.magnitude(), 'db')) }),
  });
}

// --- special values ------------------------------------------------------------------------------
// biasAdd on ±0, ±Infinity, NaN: IEEE addition per element. y (1, 3, 4) holds [0, −0, ∞, NaN]
// in every channel, b = [−0, −∞, 1]: +0 + −0 = +0, −0 + −0 = −0, ∞ + −∞ = NaN.
const IEEE_Y = [0, -0, Infinity, NaN];
cases.push({
  op: 'biasAdd',
  name: '±0, ±Infinity, NaN: −0 + −0 = −0, ∞ − ∞ = NaN',
  inputs: { y: { shape: [1, 3, 4], values: [...IEEE_Y, ...IEEE_Y, ...IEEE_Y] }, b: { shape: [3], values: [-0, -Infinity, 1] } },
  run: (t) => ({ y: biasAdd(t.y, t.b) }),
  reference: (v) => ({ y: ref.refBiasAdd(v.y, [1, 3, 4], v.b) }),
  check: () => ({ y: { kind: 'exact' } }),
});

// Double accumulation in biasGrad. dy (2, 2, 2048): channel 0 holds 2²⁴ − 1 then ones (over
// both samples), channel 1 the same negated; the sums ±(2²⁴ + 4094) are exact in double in any
// order and even, so float32 holds them. A float32 accumulator reaches 2²⁴ and stays there
// (2²⁴ + 1 rounds to 2²⁴): off by 4094.
const P_ACC = 2048;
const ACC_DY = Array.from({ length: 2 * 2 * P_ACC }, (_, i) => {
  const s = Math.floor(i / (2 * P_ACC)); // sample
  const c = Math.floor(i / P_ACC) % 2; // channel
  const j = i % P_ACC; // position in the plane
  return (c === 0 ? 1 : -1) * (s === 0 && j === 0 ? 2 ** 24 - 1 : 1);
});
// Partial sums past the float32 range: dy (1, 2, 8), channel 0 holds v·[1, 1, −1, −1, 1, −1,
// 1, −1] with v = 3e38 rounded to float32, channel 1 the same negated. Every partial sum is a
// multiple k·v, |k| ≤ 8, exact in double (v has 24 significant bits), and both sums are +0. A
// float32 accumulator overflows to ∞ or NaN in index order, in the CPU's interleaved order
// (elements 0 and 4 share an accumulator) and in the GPU's tree (element 4 is added to
// element 0 first).
const BIG = Math.fround(3e38);
const PATTERN = [1, 1, -1, -1, 1, -1, 1, -1];
const BIG_DY = [...PATTERN.map((k) => k * BIG), ...PATTERN.map((k) => -k * BIG)];
// A NaN or an infinity stays in its channel: dy (2, 3, 2), channel 0 exact halves and
// quarters, channel 1 a NaN, channel 2 +∞.
const NAN_DY = [0.5, 0.25, 1, NaN, 2, Infinity, -0.75, 0.5, 3, 4, 5, 6];

for (const { name, shape, values } of [
  { name: 'double accumulation: 2²⁴ − 1 plus 4095 ones in each channel', shape: [2, 2, P_ACC], values: ACC_DY },
  { name: '±3e38 eight times = 0 per channel: partial sums past the float32 range', shape: [1, 2, 8], values: BIG_DY },
  { name: 'a NaN and an Infinity stay in their channels', shape: [2, 3, 2], values: NAN_DY },
]) {
  cases.push({
    op: 'biasGrad',
    name,
    inputs: { dy: { shape, values } },
    run: (t) => ({ db: biasGrad(t.dy) }),
    reference: (v) => ({ db: ref.refBiasGrad(v.dy, shape) }),
    check: () => ({ db: { kind: 'exact' } }),
  });
}

// A tensor's bytes (a copy).
function bytes(t: Tensor): Buffer {
  const a = t.toArray();
  return Buffer.from(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}
// Three calls on the same dy give the same bits (a fixed order per channel on every backend,
// never atomics). Not a bench case: run() calls the op three times.
cases.push({
  op: 'biasGrad',
  name: `${label(CONV2_OUT)} three calls give the same bits`,
  inputs: { dy: { shape: CONV2_OUT } },
  run: (t) => {
    const db = biasGrad(t.dy);
    const first = bytes(db);
    for (let k = 2; k <= 3; k++) {
      const again = biasGrad(t.dy);
      const same = bytes(again).equals(first);
      again.dispose();
      if (!same) {
        db.dispose();
        throw new Error(`call ${k} gave other bits than call 1`);
      }
    }
    return { db };
  },
  reference: (v) => ({ db: ref.refBiasGrad(v.dy, CONV2_OUT) }),
  check: (ctx) => ({ db: doubleRounded(CONV2_OUT, arr(ctx.magnitude(), 'db')) }),
});

// --- derivatives -------------------------------------------------------------------------------
// biasAdd is linear in (y, b): its gradient is (r, biasGrad(r)) and it is its own R-operator,
// biasAdd(v_y, v_b). Float64 only: the (a) cases above already cover the forward in both dtypes.
for (const { shape, why } of [
  { shape: [2, 3, 4, 5], why: '4-D' },
  { shape: [5, 4], why: '2-D (N, C), a linear layer' },
  { shape: [3, 2, 31], why: '3-D, prime plane' },
]) {
  cases.push({
    op: 'biasAdd',
    name: `${label(shape)} ${why}, derivatives`,
    inputs: { y: { shape }, b: { shape: [shape[1]] } },
    dtypes: ['float64'],
    run: (t) => ({ y: biasAdd(t.y, t.b) }),
    reference: (v) => ({ y: ref.refBiasAdd(v.y, shape, v.b) }),
    check: () => ({ y: { kind: 'exact' } }),
    grad: {
      ops: ['biasGrad'],
      wrt: ['y', 'b'],
      forward: (t) => biasAdd(t.y, t.b),
      // ∂⟨y + b[c], r⟩/∂y = r (a copy: the runner disposes it and r separately)
      vjp: (_t, r) => ({ y: r.clone(), b: biasGrad(r) }),
      jvp: (_t, v) => biasAdd(v.y, v.b),
    },
  });
}

// --- channelDot ----------------------------------------------------------------------------------
// Σ over n and positions of a⊙b per channel of a, b (N, C, ...), plainly.
function refChannelDot(a: Float64Array, b: Float64Array, shape: readonly number[]): Float64Array {
  const C = shape[1];
  const inner = numel(shape.slice(2));
  const out = new Float64Array(C);
  for (let i = 0; i < a.length; i++) out[Math.floor(i / inner) % C] += a[i] * b[i];
  return out;
}

for (const { shape, why } of [
  { shape: CONV2_OUT, why: 'cnn3 conv2 output, batch 16: batch norm’s Σ dy⊙x̂' },
  { shape: [3, 5, 7, 11], why: 'odd 4-D, 5 channels (blocked sums)' },
  { shape: [2, 13, 31], why: '3-D, 13 channels (channels in parallel)' },
  { shape: [4099, 1], why: 'one channel: a scalar’s Σ over 4099 values (several blocks)' },
  { shape: [1, 1], why: 'one value' },
  { shape: [0, 3, 2, 2], why: 'empty batch: zeros' },
]) {
  cases.push({
    op: 'channelDot',
    name: `${label(shape)} ${why}`,
    inputs: { a: { shape }, b: { shape } },
    run: (t) => ({ out: shaped(channelDot(t.a, t.b), [shape[1]]) }),
    reference: (v) => ({ out: refChannelDot(v.a, v.b, shape) }),
    check: (ctx) => {
      const absSum = refChannelDot(ctx.values.a.map(Math.abs), ctx.values.b.map(Math.abs), shape);
      return { out: { kind: 'double', n: perChannel(shape) + 1, absSum, rounded: true } };
    },
    bench: shape === CONV2_OUT ? { flops: 2 * numel(shape), bytes: 4 * (2 * numel(shape) + shape[1]) } : undefined,
  });
}

// --- batch normalisation's per-channel ops --------------------------------------------------------

// The value of one operation in `dtype`: the exact result rounded once.
const rounder = (dtype: string) => (dtype === 'float32' ? Math.fround : (x: number) => x);
const channelOf = (shape: readonly number[]) => {
  const inner = numel(shape.slice(2));
  return (i: number) => Math.floor(i / inner) % shape[1];
};

function refChannelAffine(x: Float64Array, shape: readonly number[], s: Float64Array, t: Float64Array | null, dtype: string): Float64Array {
  const fr = rounder(dtype);
  const ch = channelOf(shape);
  return x.map((v, i) => {
    const p = fr(v * s[ch(i)]);
    return t === null ? p : fr(p + t[ch(i)]);
  });
}

function refChannelCombine(a: Float64Array, b: Float64Array, shape: readonly number[], sa: Float64Array, sb: Float64Array, t: Float64Array | null, dtype: string): Float64Array {
  const fr = rounder(dtype);
  const ch = channelOf(shape);
  return a.map((v, i) => {
    const sum = fr(fr(v * sa[ch(i)]) + fr(b[i] * sb[ch(i)]));
    return t === null ? sum : fr(sum + t[ch(i)]);
  });
}

const AFFINE_SHAPES: readonly { shape: readonly number[]; why: string }[] = [
  { shape: CONV2_OUT, why: 'cnn3 conv2 output, batch 16' },
  { shape: [3, 5, 7, 11], why: 'odd 4-D' },
  { shape: [2, 13, 31], why: '3-D, prime plane' },
  { shape: [4099, 1], why: 'one channel (a scalar times a tensor)' },
  { shape: [7, 3], why: '2-D (N, C)' },
  { shape: [0, 3, 2, 2], why: 'empty batch' },
];

for (const { shape, why } of AFFINE_SHAPES) {
  const C = [shape[1]];
  for (const withShift of [true, false]) {
    cases.push({
      op: 'channelAffine',
      name: `${label(shape)} ${why}${withShift ? '' : ', no shift'}`,
      inputs: { x: { shape, kind: 'awkward' }, scale: { shape: C }, shift: { shape: C, kind: 'awkward' } },
      run: (t) => ({ y: shaped(channelAffine(t.x, t.scale, withShift ? t.shift : null), shape) }),
      reference: (v, dtype) => ({ y: refChannelAffine(v.x, shape, v.scale, withShift ? v.shift : null, dtype) }),
      check: () => ({ y: { kind: 'exact' } }),
      bench: shape === CONV2_OUT && withShift ? { flops: 2 * numel(shape), bytes: 4 * (2 * numel(shape) + 2 * shape[1]) } : undefined,
    });
  }
  for (const withShift of [true, false]) {
    cases.push({
      op: 'channelCombine',
      name: `${label(shape)} ${why}${withShift ? '' : ', no shift'}`,
      inputs: { a: { shape, kind: 'awkward' }, aScale: { shape: C }, b: { shape }, bScale: { shape: C }, shift: { shape: C } },
      run: (t) => ({ y: shaped(channelCombine(t.a, t.aScale, t.b, t.bScale, withShift ? t.shift : null), shape) }),
      reference: (v, dtype) => ({ y: refChannelCombine(v.a, v.b, shape, v.aScale, v.bScale, withShift ? v.shift : null, dtype) }),
      check: () => ({ y: { kind: 'exact' } }),
      bench: shape === CONV2_OUT && withShift ? { flops: 4 * numel(shape), bytes: 4 * (3 * numel(shape) + 3 * shape[1]) } : undefined,
    });
  }
}

// Both are linear in each argument: their gradients are channelAffine (x), channelDot (scale)
// and biasGrad (shift), and each is its own R-operator, by the product rule.
for (const shape of [[2, 3, 4, 5], [5, 4]]) {
  const C = [shape[1]];
  cases.push({
    op: 'channelAffine',
    name: `${label(shape)}, derivatives`,
    inputs: { x: { shape }, scale: { shape: C }, shift: { shape: C } },
    dtypes: ['float64'],
    run: (t) => ({ y: channelAffine(t.x, t.scale, t.shift) }),
    reference: (v, dtype) => ({ y: refChannelAffine(v.x, shape, v.scale, v.shift, dtype) }),
    check: () => ({ y: { kind: 'exact' } }),
    grad: {
      ops: ['channelAffine', 'channelDot', 'biasGrad'],
      wrt: ['x', 'scale', 'shift'],
      forward: (t) => channelAffine(t.x, t.scale, t.shift),
      vjp: (t, r) => ({ x: channelAffine(r, t.scale), scale: channelDot(r, t.x), shift: biasGrad(r) }),
      jvp: (t, v) => {
        const a = channelCombine(v.x, t.scale, t.x, v.scale, v.shift);
        return a;
      },
    },
  });
  cases.push({
    op: 'channelCombine',
    name: `${label(shape)}, derivatives`,
    inputs: { a: { shape }, aScale: { shape: C }, b: { shape }, bScale: { shape: C }, shift: { shape: C } },
    dtypes: ['float64'],
    run: (t) => ({ y: channelCombine(t.a, t.aScale, t.b, t.bScale, t.shift) }),
    reference: (v, dtype) => ({ y: refChannelCombine(v.a, v.b, shape, v.aScale, v.bScale, v.shift, dtype) }),
    check: () => ({ y: { kind: 'exact' } }),
    grad: {
      ops: ['channelAffine', 'channelDot', 'biasGrad', 'channelCombine'],
      wrt: ['a', 'aScale', 'b', 'bScale', 'shift'],
      forward: (t) => channelCombine(t.a, t.aScale, t.b, t.bScale, t.shift),
      vjp: (t, r) => ({
        a: channelAffine(r, t.aScale),
        aScale: channelDot(r, t.a),
        b: channelAffine(r, t.bScale),
        bScale: channelDot(r, t.b),
        shift: biasGrad(r),
      }),
      jvp: (t, v) => {
        const first = channelCombine(v.a, t.aScale, t.a, v.aScale, v.shift);
        const second = channelCombine(v.b, t.bScale, t.b, v.bScale);
        const sum = channelCombine(first, ones(first), second, ones(second));
        first.dispose();
        second.dispose();
        return sum;
      },
    },
  });
}

/** A (C) tensor of ones for t (N, C, ...). */
function ones(t: Tensor): Tensor {
  return Tensor.full([t.shape[1]], 1, { dtype: t.dtype, device: t.device });
}

// Σx/m and Σ(x − μ)²/m per channel, in float64 (two passes, as the kernels).
function refStats(x: Float64Array, shape: readonly number[], eps: number): { mean: Float64Array; variance: Float64Array; invStd: Float64Array; mag: Float64Array; m: number } {
  const C = shape[1];
  const ch = channelOf(shape);
  const m = x.length / C;
  const sum = new Float64Array(C);
  x.forEach((v, i) => (sum[ch(i)] += v));
  const mean = sum.map((v) => v / m);
  const squares = new Float64Array(C);
  const mag = new Float64Array(C);
  x.forEach((v, i) => {
    const c = ch(i);
    squares[c] += (v - mean[c]) ** 2;
    mag[c] += (Math.abs(v) + Math.abs(mean[c])) ** 2 / m;
  });
  const variance = squares.map((v) => v / m);
  return { mean, variance, invStd: variance.map((v) => 1 / Math.sqrt(v + eps)), mag, m };
}

for (const { shape, why, eps } of [
  { shape: CONV2_OUT, why: 'cnn3 conv2 output, batch 16', eps: 1e-5 },
  { shape: [3, 5, 7, 11], why: 'odd 4-D, 5 channels (blocked sums)', eps: 1e-5 },
  { shape: [2, 13, 31], why: '3-D, 13 channels (channels in parallel)', eps: 1e-3 },
  { shape: [1, 4, 1, 1], why: 'one value per channel: variance 0, invStd 1/√ε', eps: 1e-5 },
  { shape: [4099, 2], why: '2-D (N, C): a linear layer’s features', eps: 1e-5 },
]) {
  cases.push({
    op: 'batchNormStats',
    name: `${label(shape)} ${why}, ε = ${eps}`,
    inputs: { x: { shape, scale: 3 } },
    run: (t) => {
      const r = batchNormStats(t.x, eps);
      return { mean: shaped(r.mean, [shape[1]]), variance: shaped(r.variance, [shape[1]]), invStd: shaped(r.invStd, [shape[1]]) };
    },
    reference: (v) => {
      const r = refStats(v.x, shape, eps);
      return { mean: r.mean, variance: r.variance, invStd: r.invStd };
    },
    check: (ctx) => {
      const r = refStats(ctx.values.x, shape, eps);
      const u = ctx.dtype === 'float32' ? 2 ** -24 : 2 ** -53;
      const absMean = refChannelDot(ctx.values.x.map(Math.abs), new Float64Array(ctx.values.x.length).fill(1 / r.m), shape);
      const condition = r.mag.map((g, c) => g / (r.variance[c] + eps));
      const rtol = Math.max(...condition) * (r.m + 3) * 2 ** -53 + 2 * u;
      return {
        mean: { kind: 'double', n: r.m, absSum: absMean, rounded: true },
        variance: { kind: 'double', n: r.m + 3, absSum: r.mag, rounded: true },
        invStd: { kind: 'tol', rtol, atol: 0 },
      };
    },
    bench: shape === CONV2_OUT ? { flops: 4 * numel(shape), bytes: 4 * (2 * numel(shape) + 3 * shape[1]) } : undefined,
  });
}

export const channel: Family = { name: 'channel', cases };
