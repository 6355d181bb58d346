// Convolution (native/core/ops/conv.h): conv2d (its bias added by the biasAdd kernel),
// conv2dBackwardData, conv2dBackwardFilter, and conv2d's bias gradient conv2dBackwardBias
// (lib/ops.ts: the biasGrad op under the name the layers use); the fused passes of note
// [fused conv passes] (conv2dRelu, conv2dBackward, conv2dJvp).
//
// Tolerances (note [case tolerances]; u the unit roundoff of the dtype):
//  - conv2d, conv2dBackwardData, conv2dBackwardFilter: accum. Every output is a sum of
//    products in an order of the implementation's choosing (CPU: im2col + GEMM over chunks of
//    images, native/core/cpu/conv.cpp; CUDA: the deterministic cuDNN algorithm it times
//    fastest, FMA math), so |Δ| ≤ 4·√k·u·mag + 2u·|r|, mag = the same op on |inputs| and k the
//    number of products in one output:
//      conv2d           C·R·S, + 1 with a bias: y + b is one more rounded addition (|b| is in
//                       mag, the reference adds b as one more term);
//      backward data    K·⌈R/sh⌉·⌈S/sw⌉: the kernel rows r over one input row h satisfy
//                       r ≡ h + ph (mod sh), at most ⌈R/sh⌉ of them, likewise the columns;
//      backward filter  N·P·Q.
//    Products with the zero padding are exact zeros, which add no rounding error, so k counts
//    the products that can be nonzero. A wrong index, a missed padding row or a wrong stride
//    gives errors O(mag), far above the bound.
//  - conv2dBackwardBias: double {n = N·P·Q, absSum = the channel's Σ|dy|, rounded}: the
//    channel sums run in double on every backend (native/core/ops/channel.h) and are rounded
//    once to the dtype.
//  - conv2dRelu: relu of conv2d with a bias, accum with k = C·R·S (+ 1): relu is exact and
//    moves an output by no more than its pre-activation's error. Its output minus
//    relu(conv2d(x, w, b)) is exact (+0): the same roundings in the same order, on a backend
//    whose conv2d and conv2dRelu run the same convolution (CPU: the same chunks and GEMMs;
//    CUDA: the same cached cuDNN algorithm, the same float addition).
//  - conv2dBackward: dx, dw as conv2dBackwardData and conv2dBackwardFilter; db as
//    conv2dBackwardBias (double, another fixed order of the same exact terms).
//  - conv2dJvp: accum with k = 2·C·R·S (+ 1 with vb): one sum over the stacked products (CPU),
//    or two convolutions whose sum is rounded once more (CUDA, beta = 1); C·R·S without rx.
//  - the hand-computed examples: exact. Their values are small integers, so every partial sum
//    is an integer below 2²⁴, exact in any order in float32 and float64.
import { add, conv2d, conv2dBackward, conv2dBackwardBias, conv2dBackwardData, conv2dBackwardFilter, conv2dJvp, conv2dRelu, relu, reluBackward, sub, Tensor, type Conv2dOptions } from '../../lib';
import type { Check, Family, FloatDType, OpCase } from './case';
import { numel } from './data';
import * as ref from './reference';

type Pair = number | readonly [number, number];
type Shape4 = readonly [number, number, number, number];
type Pass = 'conv2d' | 'data' | 'filter';

/** One convolution: the shapes and attributes its cases share. */
interface Geometry {
  readonly title: string;
  /** (N, C, H, W) */
  readonly x: Shape4;
  /** (K, C, R, S) */
  readonly w: Shape4;
  readonly stride?: Pair;
  readonly padding?: Pair;
  /**
   * A layer of the paper's CNNs: conv2d runs with its bias only, as the layer calls it. Other
   * geometries run conv2d both with and without a bias.
   */
  readonly layer?: boolean;
  /** The passes that get a bench line: those that training cnn3 runs on this layer. */
  readonly bench?: readonly Pass[];
  /** Also a conv2dBackwardBias case on its output shape (N, K, P, Q). */
  readonly biasGrad?: boolean;
}

// The paper's CNNs (lib/nn/models.ts, Table 4): every conv has stride 1 and "same" padding;
// pools halve the image (28 → 14 → 7; CIFAR 32 → 16 → 8). Small batches keep runner (a)
// fast; scripts/bench/ops.ts may scale N up (the bench lines are per call).
const LAYERS: readonly Geometry[] = [
  // The first layer needs no input gradient (lib/nn/impl/conv2d.ts): no bench of backward data.
  { title: 'cnn3 conv1, MNIST', x: [8, 1, 28, 28], w: [32, 1, 5, 5], padding: 2, layer: true, bench: ['conv2d', 'filter'] },
  { title: 'cnn3 conv2, MNIST', x: [8, 32, 14, 14], w: [64, 32, 3, 3], padding: 1, layer: true, bench: ['conv2d', 'data', 'filter'], biasGrad: true },
  { title: 'cnn3 conv3, MNIST', x: [8, 64, 7, 7], w: [64, 64, 3, 3], padding: 1, layer: true, bench: ['conv2d', 'data', 'filter'] },
  { title: 'cnn3 conv1, CIFAR', x: [4, 3, 32, 32], w: [32, 3, 5, 5], padding: 2, layer: true },
  { title: 'cnn5 conv5, MNIST', x: [2, 64, 7, 7], w: [128, 64, 3, 3], padding: 1, layer: true },
  // batch 1: one im2col chunk, run outside the parallel region with its steps parallel inside
  // (native/core/cpu/conv.cpp, parallel_items)
  { title: 'cnn3 conv2 at batch 1', x: [1, 32, 14, 14], w: [64, 32, 3, 3], padding: 1, layer: true },
];

// Awkward shapes and attributes: ones, primes, non-square everything, stride and padding
// corners, and the CPU's code paths (note [batched im2col] and note [same-size fast path] in
// native/core/cpu/conv.cpp: chunks of images whose unfolded input fits 2 MiB, widened to 1024
// GEMM columns, at least 8 chunks when the batch allows, evened out). Empty tensors are
// refused by conv2d (x and w must be nonempty: test/errors.test.ts), so there is no empty case.
const AWKWARD: readonly Geometry[] = [
  { title: '1×1 everything', x: [1, 1, 1, 1], w: [1, 1, 1, 1], biasGrad: true },
  { title: 'batch 1, 3 channels, 3×3', x: [1, 3, 7, 7], w: [4, 3, 3, 3], padding: 1 },
  { title: 'stride 2, odd image', x: [2, 3, 7, 5], w: [2, 3, 3, 3], stride: 2, padding: 1 },
  { title: 'non-square kernel 2×5, non-square image', x: [2, 1, 7, 13], w: [3, 1, 2, 5] },
  { title: 'non-square kernel, per-axis stride and padding', x: [1, 3, 13, 7], w: [2, 3, 5, 2], stride: [2, 1], padding: [2, 0] },
  { title: 'non-square kernel 3×2, stride [2, 1], padding [1, 0]', x: [3, 5, 13, 11], w: [7, 5, 3, 2], stride: [2, 1], padding: [1, 0] },
  { title: 'padding 2, more than half the kernel', x: [2, 2, 5, 5], w: [3, 2, 3, 3], padding: 2 },
  // rows 0 and 7 and columns 0 and 8 of the output read padding only: y = b there, dw gets nothing
  { title: 'padding 3 ≥ the kernel: border outputs see only padding', x: [1, 2, 4, 5], w: [2, 2, 3, 3], padding: 3 },
  { title: 'kernel = image (1×1 output)', x: [3, 2, 5, 4], w: [7, 2, 5, 4], biasGrad: true },
  // P = Q = 3 covers input rows and columns 0..6: the last ones get dx = 0 and add nothing to dw
  { title: 'stride 2 that skips the last row and column', x: [1, 1, 8, 8], w: [1, 1, 3, 3], stride: 2 },
  { title: 'stride 3 = kernel, padding [0, 2]', x: [1, 2, 11, 7], w: [2, 2, 3, 3], stride: 3, padding: [0, 2] },
  // every third input row and column is read by no tap
  { title: 'stride 3 > kernel 2: rows and columns never read', x: [2, 2, 10, 9], w: [3, 2, 2, 2], stride: 3 },
  { title: '1-pixel image with padding', x: [2, 1, 1, 1], w: [2, 1, 3, 3], padding: 1 },
  { title: '1×1 conv, prime channels', x: [2, 13, 3, 5], w: [7, 13, 1, 1], biasGrad: true },
  { title: 'prime channels 19 → 17, 3×3', x: [3, 19, 5, 5], w: [17, 19, 3, 3], padding: 1 },
  { title: 'prime image 13×31, stride [1, 2]', x: [2, 3, 13, 31], w: [2, 3, 3, 2], stride: [1, 2], padding: 1 },
  // 1×1, stride 1, no padding on a plane of ≥ 1024 pixels: no unfolding, one GEMM per image
  { title: '1×1 on a 32×33 plane (pointwise path)', x: [2, 5, 32, 33], w: [3, 5, 1, 1], biasGrad: true },
  // stride 1 and Q = W: each tap is one shifted copy with |s − pw| wrapped columns zeroed
  { title: 'same size with a 3×5 kernel (wrapped columns)', x: [2, 3, 6, 7], w: [4, 3, 3, 5], padding: [1, 2] },
  { title: 'Q = W but P < H (the band of valid rows)', x: [2, 2, 9, 6], w: [3, 2, 3, 3], padding: [0, 1] },
  // 1.1 MiB unfolded per image in float32 (2.2 MiB in float64): the budget holds one image, so
  // 9 chunks of one instead of the 8-chunk minimum's 2 + 2 + 2 + 2 + 1
  { title: 'one image per im2col chunk', x: [9, 11, 32, 32], w: [2, 11, 5, 5], padding: 2 },
  // 128 columns per image: chunks of 2 by the 8-chunk minimum, 2 + 2 + 2 + 2 + 1 images
  { title: 'uneven im2col chunks', x: [9, 32, 16, 16], w: [3, 32, 3, 3], stride: [1, 2], padding: 1 },
];

// --- helpers ------------------------------------------------------------------------------------

const dims = (s: readonly number[]) => `(${s.join(', ')})`;
const pairText = (p: Pair) => (typeof p === 'number' ? `${p}` : `[${p.join(', ')}]`);
const options = (g: Geometry): Conv2dOptions => ({ stride: g.stride, padding: g.padding });
const geomOf = (g: Geometry) => ref.convGeom(g.x, g.w, g.stride ?? 1, g.padding ?? 0);
const yShapeOf = (g: Geometry): Shape4 => {
  const { N, K, P, Q } = geomOf(g);
  return [N, K, P, Q];
};
const label = (g: Geometry) =>
  `${g.title}: x ${dims(g.x)}, w ${dims(g.w)}` +
  (g.stride !== undefined ? `, stride ${pairText(g.stride)}` : '') +
  (g.padding !== undefined ? `, padding ${pairText(g.padding)}` : '');

// Multiply-adds of one pass: the same N·K·P·Q·C·R·S for the forward and both gradients.
const macs = (g: Geometry) => {
  const { N, C, K, R, S, P, Q } = geomOf(g);
  return N * K * P * Q * C * R * S;
};

/** `t` if it has the shape, dtype and device the op promises; otherwise disposes it and throws. */
function expectTensor(t: Tensor, shape: readonly number[], dtype: FloatDType, device: string, what: string): Tensor {
  if (t.shape.join() !== shape.join() || t.dtype !== dtype || t.device !== device) {
    const got = `${t.dtype} ${dims(t.shape)} on ${t.device}`;
    t.dispose();
    throw new Error(`${what}: got ${got}, expected ${dtype} ${dims(shape)} on ${device}`);
  }
  return t;
}

const accum = (k: number, mag: Float64Array): Check => ({ kind: 'accum', k, mag });
const exact = (...names: string[]) => (): Record<string, Check> => Object.fromEntries(names.map((n) => [n, { kind: 'exact' } as Check]));

// --- the cases of one geometry -----------------------------------------------------------------

function conv2dCase(g: Geometry, bias: boolean): OpCase {
  const { C, K, R, S } = geomOf(g);
  const yShape = yShapeOf(g);
  const opts = options(g);
  const bench = g.bench?.includes('conv2d') && bias;
  return {
    op: 'conv2d',
    name: `${label(g)}${bias ? ', bias' : ''}`,
    inputs: bias ? { x: { shape: g.x }, w: { shape: g.w }, b: { shape: [K] } } : { x: { shape: g.x }, w: { shape: g.w } },
    run: (t, dtype, device) => ({ y: expectTensor(conv2d(t.x, t.w, bias ? t.b : null, opts), yShape, dtype, device, 'conv2d') }),
    reference: (v) => ({ y: ref.refConv2d(v.x, v.w, bias ? v.b : null, geomOf(g)) }),
    check: (ctx) => ({ y: accum(C * R * S + (bias ? 1 : 0), ctx.magnitude().y as Float64Array) }),
    bench: bench ? { flops: 2 * macs(g) + numel(yShape), bytes: 4 * (numel(g.x) + numel(g.w) + K + numel(yShape)) } : undefined,
  };
}

function backwardDataCase(g: Geometry): OpCase {
  const { K, R, S, sh, sw } = geomOf(g);
  const yShape = yShapeOf(g);
  const opts = options(g);
  return {
    op: 'conv2dBackwardData',
    name: label(g),
    inputs: { dy: { shape: yShape }, w: { shape: g.w } },
    run: (t, dtype, device) => ({ dx: expectTensor(conv2dBackwardData(t.dy, t.w, g.x, opts), g.x, dtype, device, 'conv2dBackwardData') }),
    reference: (v) => ({ dx: ref.refConv2dBackwardData(v.dy, v.w, geomOf(g)) }),
    check: (ctx) => ({ dx: accum(K * Math.ceil(R / sh) * Math.ceil(S / sw), ctx.magnitude().dx as Float64Array) }),
    bench: g.bench?.includes('data') ? { flops: 2 * macs(g), bytes: 4 * (numel(yShape) + numel(g.w) + numel(g.x)) } : undefined,
  };
}

function backwardFilterCase(g: Geometry): OpCase {
  const { N, P, Q } = geomOf(g);
  const yShape = yShapeOf(g);
  const opts = options(g);
  return {
    op: 'conv2dBackwardFilter',
    name: label(g),
    inputs: { dy: { shape: yShape }, x: { shape: g.x } },
    run: (t, dtype, device) => ({ dw: expectTensor(conv2dBackwardFilter(t.dy, t.x, g.w, opts), g.w, dtype, device, 'conv2dBackwardFilter') }),
    reference: (v) => ({ dw: ref.refConv2dBackwardFilter(v.dy, v.x, geomOf(g)) }),
    check: (ctx) => ({ dw: accum(N * P * Q, ctx.magnitude().dw as Float64Array) }),
    bench: g.bench?.includes('filter') ? { flops: 2 * macs(g), bytes: 4 * (numel(yShape) + numel(g.x) + numel(g.w)) } : undefined,
  };
}

// conv2d's bias gradient, through its conv2d name; biasGrad's own cases are the channel family's.
function backwardBiasCase(g: Geometry): OpCase {
  const yShape = yShapeOf(g);
  const [N, K, P, Q] = yShape;
  return {
    op: 'biasGrad',
    name: `conv2dBackwardBias of ${label(g)}: dy ${dims(yShape)}`,
    inputs: { dy: { shape: yShape } },
    run: (t, dtype, device) => ({ db: expectTensor(conv2dBackwardBias(t.dy), [K], dtype, device, 'conv2dBackwardBias') }),
    reference: (v) => ({ db: ref.refBiasGrad(v.dy, yShape) }),
    check: (ctx) => ({ db: { kind: 'double', n: N * P * Q, absSum: ctx.magnitude().db as Float64Array, rounded: true } }),
  };
}

// --- the fused passes (note [fused conv passes] in native/core/ops/conv.h) ----------------------

const reluOf = (v: Float64Array) => v.map((e) => (e > 0 ? e : 0));

function conv2dReluCase(g: Geometry, bias: boolean): OpCase {
  const { C, K, R, S } = geomOf(g);
  const yShape = yShapeOf(g);
  const opts = options(g);
  return {
    op: 'conv2dRelu',
    name: `${label(g)}${bias ? ', bias' : ''}`,
    inputs: bias ? { x: { shape: g.x }, w: { shape: g.w }, b: { shape: [K] } } : { x: { shape: g.x }, w: { shape: g.w } },
    run: (t, dtype, device) => {
      const b = bias ? t.b : null;
      const y = expectTensor(conv2dRelu(t.x, t.w, b, opts), yShape, dtype, device, 'conv2dRelu');
      const pre = conv2d(t.x, t.w, b, opts);
      const composed = relu(pre);
      pre.dispose();
      const vsComposition = sub(y, composed);
      composed.dispose();
      return { y, vsComposition };
    },
    reference: (v) => ({ y: reluOf(ref.refConv2d(v.x, v.w, bias ? v.b : null, geomOf(g))), vsComposition: new Float64Array(numel(yShape)) }),
    // vsComposition: equal values, checked as a zero tolerance rather than bits because oneDNN's
    // ReLU post-op may write −0 where relu writes +0 (y − composed is then −0); NaN must match.
    check: (ctx) => ({ y: accum(C * R * S + (bias ? 1 : 0), ctx.magnitude().y as Float64Array), vsComposition: { kind: 'tol', rtol: 0, atol: 0 } }),
    bench: g.bench?.includes('conv2d') && bias ? { flops: 2 * macs(g) + 2 * numel(yShape), bytes: 4 * (numel(g.x) + numel(g.w) + K + numel(yShape)) } : undefined,
  };
}

/** Which gradients a conv2dBackward case asks for (both by default). */
interface BackwardVariant {
  readonly inputGradient: boolean;
  readonly bias: boolean;
}

function conv2dBackwardCase(g: Geometry, variant: BackwardVariant): OpCase {
  const { N, K, R, S, P, Q, sh, sw } = geomOf(g);
  const yShape = yShapeOf(g);
  const opts = { ...options(g), ...variant };
  const bench = g.bench?.includes('filter') && variant.bias && variant.inputGradient === g.bench.includes('data');
  return {
    op: 'conv2dBackward',
    name: `${label(g)}${variant.inputGradient ? '' : ', no dx'}${variant.bias ? '' : ', no db'}`,
    inputs: { dy: { shape: yShape }, x: { shape: g.x }, w: { shape: g.w } },
    run: (t, dtype, device) => {
      const r = conv2dBackward(t.dy, t.x, t.w, opts);
      const out: Record<string, Tensor | number> = {
        dw: expectTensor(r.dw, g.w, dtype, device, 'conv2dBackward dw'),
        // 1 when the output is absent as asked (null), else 0
        dxAbsent: r.dx === null ? 1 : 0,
        dbAbsent: r.db === null ? 1 : 0,
      };
      if (r.dx !== null) out.dx = expectTensor(r.dx, g.x, dtype, device, 'conv2dBackward dx');
      if (r.db !== null) out.db = expectTensor(r.db, [K], dtype, device, 'conv2dBackward db');
      return out;
    },
    reference: (v) => {
      const geom = geomOf(g);
      const out: Record<string, Float64Array | number> = {
        dw: ref.refConv2dBackwardFilter(v.dy, v.x, geom),
        dxAbsent: variant.inputGradient ? 0 : 1,
        dbAbsent: variant.bias ? 0 : 1,
      };
      if (variant.inputGradient) out.dx = ref.refConv2dBackwardData(v.dy, v.w, geom);
      if (variant.bias) out.db = ref.refBiasGrad(v.dy, yShape);
      return out;
    },
    check: (ctx) => {
      const mag = ctx.magnitude();
      const out: Record<string, Check> = { dw: accum(N * P * Q, mag.dw as Float64Array), dxAbsent: { kind: 'exact' }, dbAbsent: { kind: 'exact' } };
      if (variant.inputGradient) out.dx = accum(K * Math.ceil(R / sh) * Math.ceil(S / sw), mag.dx as Float64Array);
      if (variant.bias) out.db = { kind: 'double', n: N * P * Q, absSum: mag.db as Float64Array, rounded: true };
      return out;
    },
    bench: bench
      ? { flops: 2 * macs(g) * (variant.inputGradient ? 2 : 1) + numel(yShape), bytes: 4 * (numel(yShape) + numel(g.x) * (variant.inputGradient ? 2 : 1) + 2 * numel(g.w) + K) }
      : undefined,
  };
}

/** Which tangents a conv2dJvp case has (both by default). */
interface JvpVariant {
  readonly rx: boolean;
  readonly vb: boolean;
}

function conv2dJvpCase(g: Geometry, variant: JvpVariant): OpCase {
  const { C, K, R, S } = geomOf(g);
  const yShape = yShapeOf(g);
  const opts = options(g);
  const inputs: Record<string, { shape: readonly number[] }> = { x: { shape: g.x }, w: { shape: g.w }, v: { shape: g.w } };
  if (variant.rx) inputs.rx = { shape: g.x };
  if (variant.vb) inputs.vb = { shape: [K] };
  return {
    op: 'conv2dJvp',
    name: `${label(g)}${variant.rx ? '' : ', rx null'}${variant.vb ? '' : ', vb null'}`,
    inputs,
    run: (t, dtype, device) => ({
      ry: expectTensor(conv2dJvp(t.x, t.w, variant.rx ? t.rx : null, t.v, variant.vb ? t.vb : null, opts), yShape, dtype, device, 'conv2dJvp'),
    }),
    reference: (v) => {
      const geom = geomOf(g);
      const ry = ref.refConv2d(v.x, v.v, variant.vb ? v.vb : null, geom);
      if (variant.rx) {
        const fromInput = ref.refConv2d(v.rx, v.w, null, geom);
        for (let i = 0; i < ry.length; i++) ry[i] += fromInput[i];
      }
      return { ry };
    },
    check: (ctx) => ({ ry: accum((variant.rx ? 2 : 1) * C * R * S + (variant.vb ? 1 : 0), ctx.magnitude().ry as Float64Array) }),
    bench:
      g.bench?.includes('conv2d') && variant.rx && variant.vb
        ? { flops: 4 * macs(g) + numel(yShape), bytes: 4 * (2 * numel(g.x) + 2 * numel(g.w) + K + numel(yShape)) }
        : undefined,
  };
}

function casesOf(g: Geometry): OpCase[] {
  const out = g.layer ? [conv2dCase(g, true)] : [conv2dCase(g, false), conv2dCase(g, true)];
  out.push(backwardDataCase(g), backwardFilterCase(g));
  if (g.biasGrad) out.push(backwardBiasCase(g));
  out.push(...(g.layer ? [conv2dReluCase(g, true)] : [conv2dReluCase(g, false), conv2dReluCase(g, true)]));
  // The first layer of a network needs no input gradient (lib/nn/executor.ts): its bench line
  // is the variant without dx.
  const firstLayer = g.bench !== undefined && !g.bench.includes('data');
  out.push(conv2dBackwardCase(g, { inputGradient: !firstLayer, bias: true }));
  out.push(conv2dJvpCase(g, { rx: true, vb: true }));
  return out;
}

const cases: OpCase[] = [...LAYERS, ...AWKWARD].flatMap(casesOf);

// --- determinism ----------------------------------------------------------------------------------
// Two calls on the same inputs give the same bits: the output second − first is exactly +0.
// The CPU's chunks and the order of its sums depend on the shapes only (note [batched im2col]);
// CUDA uses only the cuDNN algorithms reported deterministic (backward data and filter have
// others that add with atomics; cuda/conv.cu, note [cuDNN math and determinism]). No reference
// sum is needed, so these stay cheap; not bench cases (they run each op twice).
{
  const g = LAYERS[1];
  const yShape = yShapeOf(g);
  const opts = options(g);
  const twice = (call: () => Tensor): Tensor => {
    const first = call();
    const second = call();
    try {
      return sub(second, first);
    } finally {
      first.dispose();
      second.dispose();
    }
  };
  const zeros = (shape: readonly number[]) => () => ({ rerun: new Float64Array(numel(shape)) });
  const name = `${label(g)}: two calls give the same bits`;
  cases.push(
    {
      op: 'conv2d',
      name,
      inputs: { x: { shape: g.x }, w: { shape: g.w }, b: { shape: [g.w[0]] } },
      run: (t) => ({ rerun: twice(() => conv2d(t.x, t.w, t.b, opts)) }),
      reference: zeros(yShape),
      check: exact('rerun'),
    },
    {
      op: 'conv2dBackwardData',
      name,
      inputs: { dy: { shape: yShape }, w: { shape: g.w } },
      run: (t) => ({ rerun: twice(() => conv2dBackwardData(t.dy, t.w, g.x, opts)) }),
      reference: zeros(g.x),
      check: exact('rerun'),
    },
    {
      op: 'conv2dBackwardFilter',
      name,
      inputs: { dy: { shape: yShape }, x: { shape: g.x } },
      run: (t) => ({ rerun: twice(() => conv2dBackwardFilter(t.dy, t.x, g.w, opts)) }),
      reference: zeros(g.w),
      check: exact('rerun'),
    },
  );
}

// The optional outputs and tangents of the fused passes, on a CPU path of each kind: chunks
// (cnn3 conv2), a lone chunk (batch 1) and the pointwise path.
for (const g of [LAYERS[1], LAYERS[5], AWKWARD[16]]) {
  cases.push(
    conv2dBackwardCase(g, { inputGradient: false, bias: true }),
    conv2dBackwardCase(g, { inputGradient: true, bias: false }),
    conv2dBackwardCase(g, { inputGradient: false, bias: false }),
    conv2dJvpCase(g, { rx: false, vb: true }),
    conv2dJvpCase(g, { rx: true, vb: false }),
    conv2dJvpCase(g, { rx: false, vb: false }),
  );
}

// The fused passes, twice on the same inputs: the same bits (as the determinism cases above).
{
  const g = LAYERS[1];
  const yShape = yShapeOf(g);
  const opts = options(g);
  const K = g.w[0];
  const diff = (first: Tensor | null, second: Tensor | null): Tensor => {
    try {
      return sub(second!, first!);
    } finally {
      first?.dispose();
      second?.dispose();
    }
  };
  const name = `${label(g)}: two calls give the same bits`;
  cases.push(
    {
      op: 'conv2dRelu',
      name,
      inputs: { x: { shape: g.x }, w: { shape: g.w }, b: { shape: [K] } },
      run: (t) => ({ rerun: diff(conv2dRelu(t.x, t.w, t.b, opts), conv2dRelu(t.x, t.w, t.b, opts)) }),
      reference: () => ({ rerun: new Float64Array(numel(yShape)) }),
      check: exact('rerun'),
    },
    {
      op: 'conv2dBackward',
      name,
      inputs: { dy: { shape: yShape }, x: { shape: g.x }, w: { shape: g.w } },
      run: (t) => {
        const a = conv2dBackward(t.dy, t.x, t.w, opts);
        const b = conv2dBackward(t.dy, t.x, t.w, opts);
        return { dx: diff(a.dx, b.dx), dw: diff(a.dw, b.dw), db: diff(a.db, b.db) };
      },
      reference: () => ({ dx: new Float64Array(numel(g.x)), dw: new Float64Array(numel(g.w)), db: new Float64Array(K) }),
      check: exact('dx', 'dw', 'db'),
    },
    {
      op: 'conv2dJvp',
      name,
      inputs: { x: { shape: g.x }, w: { shape: g.w }, rx: { shape: g.x }, v: { shape: g.w }, vb: { shape: [K] } },
      run: (t) => ({ rerun: diff(conv2dJvp(t.x, t.w, t.rx, t.v, t.vb, opts), conv2dJvp(t.x, t.w, t.rx, t.v, t.vb, opts)) }),
      reference: () => ({ rerun: new Float64Array(numel(yShape)) }),
      check: exact('rerun'),
    },
  );
}

// --- attributes left out ----------------------------------------------------------------------
// No bias argument, undefined, null, empty options and explicit [1, 1] / [0, 0] pairs all mean
// no bias, stride 1 and padding 0: each call form is an output compared with the same reference.
{
  const x: Shape4 = [1, 2, 5, 5];
  const w: Shape4 = [3, 2, 3, 3];
  const dyShape = [1, 3, 3, 3];
  const explicit = { stride: [1, 1], padding: [0, 0] } as const;
  const g = ref.convGeom(x, w);
  const forms = ['noBias', 'undefinedBias', 'nullBiasEmptyOptions', 'explicitPairs'] as const;
  cases.push({
    op: 'conv2d',
    name: 'bias omitted, undefined or null; options omitted, {} or stride [1, 1] padding [0, 0]',
    inputs: { x: { shape: x }, w: { shape: w } },
    run: (t) => ({
      noBias: conv2d(t.x, t.w),
      undefinedBias: conv2d(t.x, t.w, undefined),
      nullBiasEmptyOptions: conv2d(t.x, t.w, null, {}),
      explicitPairs: conv2d(t.x, t.w, null, explicit),
    }),
    reference: (v) => {
      const y = ref.refConv2d(v.x, v.w, null, g);
      return Object.fromEntries(forms.map((f) => [f, y]));
    },
    check: (ctx) => {
      const mag = ctx.magnitude().noBias as Float64Array;
      return Object.fromEntries(forms.map((f) => [f, accum(g.C * g.R * g.S, mag)]));
    },
  });
  cases.push({
    op: 'conv2dBackwardData',
    name: 'options omitted, {} or stride [1, 1] padding [0, 0]',
    inputs: { dy: { shape: dyShape }, w: { shape: w } },
    run: (t) => ({
      omitted: conv2dBackwardData(t.dy, t.w, x),
      empty: conv2dBackwardData(t.dy, t.w, x, {}),
      explicitPairs: conv2dBackwardData(t.dy, t.w, x, explicit),
    }),
    reference: (v) => {
      const dx = ref.refConv2dBackwardData(v.dy, v.w, g);
      return { omitted: dx, empty: dx, explicitPairs: dx };
    },
    check: (ctx) => {
      const c = accum(g.K * g.R * g.S, ctx.magnitude().omitted as Float64Array);
      return { omitted: c, empty: c, explicitPairs: c };
    },
  });
  cases.push({
    op: 'conv2dBackwardFilter',
    name: 'options omitted, {} or stride [1, 1] padding [0, 0]',
    inputs: { dy: { shape: dyShape }, x: { shape: x } },
    run: (t) => ({
      omitted: conv2dBackwardFilter(t.dy, t.x, w),
      empty: conv2dBackwardFilter(t.dy, t.x, w, {}),
      explicitPairs: conv2dBackwardFilter(t.dy, t.x, w, explicit),
    }),
    reference: (v) => {
      const dw = ref.refConv2dBackwardFilter(v.dy, v.x, g);
      return { omitted: dw, empty: dw, explicitPairs: dw };
    },
    check: (ctx) => {
      const c = accum(g.N * g.P * g.Q, ctx.magnitude().omitted as Float64Array);
      return { omitted: c, empty: c, explicitPairs: c };
    },
  });
}

// --- hand-computed examples ------------------------------------------------------------------
// Values worked out by hand, not by reference.ts: they pin the conventions the reference and
// every backend share (a cross-correlation, zero padding, where strided outputs sit).
{
  const image = [1, 2, 3, 4, 5, 6, 7, 8, 9]; // a 3×3 image
  const ones = new Array<number>(9).fill(1);
  const plane: Shape4 = [1, 1, 3, 3];
  cases.push({
    op: 'conv2d',
    name: 'hand-computed: 3×3 image 1..9, padding 1',
    inputs: { x: { shape: plane, values: image }, ones: { shape: plane, values: ones }, corner: { shape: plane, values: [1, 0, 0, 0, 0, 0, 0, 0, 0] } },
    run: (t) => ({
      // an all-ones kernel: each output is the sum of its 3×3 neighbourhood
      sums: conv2d(t.x, t.ones, null, { padding: 1 }),
      // cross-correlation, not convolution: a single 1 at (0, 0) shifts the image down-right,
      // y[p, q] = x[p − 1, q − 1]
      shifted: conv2d(t.x, t.corner, null, { padding: 1 }),
      // stride 2: the sums at (0, 0), (0, 2), (2, 0), (2, 2)
      strided: conv2d(t.x, t.ones, null, { padding: 1, stride: 2 }),
    }),
    reference: () => ({
      sums: Float64Array.of(12, 21, 16, 27, 45, 33, 24, 39, 28),
      shifted: Float64Array.of(0, 0, 0, 0, 1, 2, 0, 4, 5),
      strided: Float64Array.of(12, 16, 24, 28),
    }),
    check: exact('sums', 'shifted', 'strided'),
  });
  cases.push({
    op: 'conv2dBackwardData',
    name: 'hand-computed: all-ones dy and kernel count the windows over each pixel',
    inputs: { dy: { shape: plane, values: ones }, dy2: { shape: [1, 1, 2, 2], values: [1, 1, 1, 1] }, w: { shape: plane, values: ones } },
    run: (t) => ({
      // padding 1: corners are in 4 windows, edges in 6, the centre in 9
      counts: conv2dBackwardData(t.dy, t.w, plane, { padding: 1 }),
      // stride 2: the 4 windows centred on the corners
      strided: conv2dBackwardData(t.dy2, t.w, plane, { padding: 1, stride: 2 }),
    }),
    reference: () => ({ counts: Float64Array.of(4, 6, 4, 6, 9, 6, 4, 6, 4), strided: Float64Array.of(1, 2, 1, 2, 4, 2, 1, 2, 1) }),
    check: exact('counts', 'strided'),
  });
  cases.push({
    op: 'conv2dBackwardFilter',
    name: 'hand-computed: all-ones dy on the 3×3 image 1..9',
    inputs: { dy: { shape: plane, values: ones }, x: { shape: plane, values: image } },
    // dw[r, s] = Σ_{p,q} x[p + r − 1, q + s − 1]: the image summed over a shifted window,
    // by symmetry the same numbers as the forward's neighbourhood sums
    run: (t) => ({ dw: conv2dBackwardFilter(t.dy, t.x, plane, { padding: 1 }) }),
    reference: () => ({ dw: Float64Array.of(12, 21, 16, 27, 45, 33, 24, 39, 28) }),
    check: exact('dw'),
  });
}

// --- derivatives --------------------------------------------------------------------------------
// conv2d(x, w, b) is bilinear in (x, w) plus b: its gradients are conv2dBackwardData (x),
// conv2dBackwardFilter (w) and conv2dBackwardBias (b), and its R-operator is conv2d itself,
// R{y} = conv2d(vx, w, vb) + conv2d(x, vw), as the layer computes it (lib/nn/impl/conv2d.ts).
// The harness checks each against central differences and the adjoint identity
// ⟨r, Jv⟩ = ⟨Jᵀr, v⟩ between them. Float64 only: in float32 these small shapes would only
// repeat what the cases above check.
const DERIVATIVES: readonly Geometry[] = [
  { title: '3×3, padding 1', x: [2, 3, 5, 5], w: [2, 3, 3, 3], padding: 1 },
  { title: 'stride 2, non-square kernel', x: [1, 2, 7, 6], w: [3, 2, 2, 3], stride: 2, padding: [1, 0] },
  { title: '1×1 kernel', x: [2, 3, 3, 2], w: [4, 3, 1, 1] },
  { title: 'padding 2, stride [1, 2]', x: [1, 1, 4, 5], w: [2, 1, 3, 3], stride: [1, 2], padding: 2 },
  // outputs of padding only (their y is b alone) and input rows no tap reads (their dx is 0)
  { title: 'padding 3 ≥ the kernel', x: [1, 2, 4, 3], w: [2, 2, 3, 3], padding: 3 },
  { title: 'stride 3 > kernel 2', x: [2, 2, 7, 8], w: [3, 2, 2, 2], stride: 3 },
];
for (const g of DERIVATIVES) {
  const opts = options(g);
  const base = conv2dCase(g, true);
  cases.push({
    ...base,
    name: `${label(g)}, derivatives (R-operator: conv2d itself)`,
    dtypes: ['float64'],
    grad: {
      ops: ['conv2dBackwardData', 'conv2dBackwardFilter', 'biasGrad'],
      wrt: ['x', 'w', 'b'],
      forward: (t) => conv2d(t.x, t.w, t.b, opts),
      vjp: (t, r) => ({
        x: conv2dBackwardData(r, t.w, g.x, opts),
        w: conv2dBackwardFilter(r, t.x, g.w, opts),
        b: conv2dBackwardBias(r),
      }),
      jvp: (t, v) => {
        const fromInput = conv2d(v.x, t.w, v.b, opts);
        const fromFilter = conv2d(t.x, v.w, null, opts);
        try {
          return add(fromInput, fromFilter);
        } finally {
          fromInput.dispose();
          fromFilter.dispose();
        }
      },
    },
  });
  // The same derivatives by the fused passes: all gradients from one conv2dBackward, the
  // R-operator from one conv2dJvp.
  cases.push({
    ...base,
    name: `${label(g)}, derivatives by conv2dBackward and conv2dJvp`,
    dtypes: ['float64'],
    grad: {
      ops: ['conv2dBackward', 'conv2dJvp'],
      wrt: ['x', 'w', 'b'],
      forward: (t) => conv2d(t.x, t.w, t.b, opts),
      vjp: (t, r) => {
        const gr = conv2dBackward(r, t.x, t.w, opts);
        return { x: gr.dx!, w: gr.dw, b: gr.db! };
      },
      jvp: (t, v) => conv2dJvp(t.x, t.w, v.x, v.w, v.b, opts),
    },
  });
  // conv2dRelu: its gradients are those of conv2d at dy ⊙ 1[y > 0], its R-operator conv2d's
  // masked likewise (y > 0 exactly where the pre-activation is; generic data keeps every
  // pre-activation far from the kink at the finite-difference step).
  const fused = conv2dReluCase(g, true);
  cases.push({
    ...fused,
    name: `${label(g)}, derivatives (conv2dRelu through conv2dBackward and conv2dJvp)`,
    dtypes: ['float64'],
    grad: {
      ops: ['conv2dRelu', 'conv2dBackward', 'conv2dJvp'],
      wrt: ['x', 'w', 'b'],
      forward: (t) => conv2dRelu(t.x, t.w, t.b, opts),
      vjp: (t, r) => {
        const y = conv2dRelu(t.x, t.w, t.b, opts);
        const masked = reluBackward(r, y);
        y.dispose();
        try {
          const gr = conv2dBackward(masked, t.x, t.w, opts);
          return { x: gr.dx!, w: gr.dw, b: gr.db! };
        } finally {
          masked.dispose();
        }
      },
      jvp: (t, v) => {
        const y = conv2dRelu(t.x, t.w, t.b, opts);
        const ry = conv2dJvp(t.x, t.w, v.x, v.w, v.b, opts);
        try {
          return reluBackward(ry, y);
        } finally {
          y.dispose();
          ry.dispose();
        }
      },
    },
  });
}

export const conv: Family = { name: 'conv', cases };
