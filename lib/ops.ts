/**
 * The ops: element-wise arithmetic, reductions, GEMM, linear and convolution layers,
 * pooling, losses and random numbers. Every function checks its argument types here and
 * its shapes, dtypes and devices natively; errors name the op and the argument, e.g.
 * `conv2d: w must have 4 dimensions (K, C, R, S), got shape (3, 3)` (RangeError).
 *
 * Unless stated otherwise, tensors must share one dtype (float32 or float64) and one device,
 * and results are new tensors on that device.
 *
 * @packageDocumentation
 */
import {
  checkDType,
  checkDevice,
  checkFinite,
  checkOptionalBoolean,
  checkOptionalFinite,
  checkOptions,
  checkPair,
  checkShape,
  checkUint,
} from './errors';
import { native, type NativeConv2dOptions, type NativePool2dOptions, type NativeRandomOptions } from './native';
import { handleOf, optionalHandleOf, Tensor, wrapNative } from './tensor';
import type { DType, Shape, TensorOptions } from './types';

// --- creation and data movement ------------------------------------------------------------

/**
 * Sets every element of `t` to `value` (finite; an integer for int32 tensors), in place.
 *
 * @example
 * const t = Tensor.zeros([2, 2]); fill(t, 1);
 */
export function fill(t: Tensor, value: number): void {
  const h = handleOf(t, 'fill', 't');
  checkFinite('fill', 'value', 'value', value);
  native().fill(h, value);
}

/** Copies `src` into `dst` (same shape, dtype and device), in place. */
export function copy(dst: Tensor, src: Tensor): void {
  native().copy(handleOf(dst, 'copy', 'dst'), handleOf(src, 'copy', 'src'));
}

/**
 * `x` converted to `dtype` (float32 <-> float64; to int32 needs integers).
 *
 * @example
 * cast(Tensor.from([1, 2]), 'float64').dtype; // 'float64'
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  const h = handleOf(x, 'cast', 'x');
  const d = checkDType('cast', 'dtype', 'dtype', dtype, false) as DType;
  return wrapNative(native().cast(h, d));
}

// --- element-wise ----------------------------------------------------------------------------

/** a + b, element-wise (same shape and dtype; no broadcasting). */
export function add(a: Tensor, b: Tensor): Tensor {
  return wrapNative(native().add(handleOf(a, 'add', 'a'), handleOf(b, 'add', 'b')));
}

/** a − b, element-wise (same shape and dtype; no broadcasting). */
export function sub(a: Tensor, b: Tensor): Tensor {
  return wrapNative(native().sub(handleOf(a, 'sub', 'a'), handleOf(b, 'sub', 'b')));
}

/** a ⊙ b, the element-wise product (same shape and dtype; no broadcasting). */
export function mul(a: Tensor, b: Tensor): Tensor {
  return wrapNative(native().mul(handleOf(a, 'mul', 'a'), handleOf(b, 'mul', 'b')));
}

/** alpha·x (alpha finite). */
export function scale(x: Tensor, alpha: number): Tensor {
  const h = handleOf(x, 'scale', 'x');
  checkFinite('scale', 'alpha', 'alpha', alpha);
  return wrapNative(native().scale(h, alpha));
}

/**
 * y += alpha·x, in place (same shape and dtype).
 *
 * @example
 * axpy(theta, -learningRate, grad); // a gradient step
 */
export function axpy(y: Tensor, alpha: number, x: Tensor): void {
  const hy = handleOf(y, 'axpy', 'y');
  checkFinite('axpy', 'alpha', 'alpha', alpha);
  native().axpy(hy, alpha, handleOf(x, 'axpy', 'x'));
}

/** max(x, 0) element-wise; NaN stays NaN. */
export function relu(x: Tensor): Tensor {
  return wrapNative(native().relu(handleOf(x, 'relu', 'x')));
}

/** 1 where x > 0, else 0 (the derivative of relu), in x's dtype. */
export function reluMask(x: Tensor): Tensor {
  return wrapNative(native().reluMask(handleOf(x, 'reluMask', 'x')));
}

/** dy ⊙ 1[x > 0]: the gradient of relu at x (dy and x of one shape). */
export function reluBackward(dy: Tensor, x: Tensor): Tensor {
  return wrapNative(native().reluBackward(handleOf(dy, 'reluBackward', 'dy'), handleOf(x, 'reluBackward', 'x')));
}

// --- reductions ---------------------------------------------------------------------------------

/** Σ x, accumulated in double precision (independent of the thread count). */
export function sum(x: Tensor): number {
  return native().sum(handleOf(x, 'sum', 'x'));
}

/** Σ a⊙b over all elements, accumulated in double precision (same shape and dtype). */
export function dot(a: Tensor, b: Tensor): number {
  return native().dot(handleOf(a, 'dot', 'a'), handleOf(b, 'dot', 'b'));
}

/** ‖x‖² = Σ x², accumulated in double precision. */
export function squaredNorm(x: Tensor): number {
  return native().squaredNorm(handleOf(x, 'squaredNorm', 'x'));
}

/**
 * The conjugate-gradient solver's fused vector update, in place and in one pass:
 * x += alpha·p, r −= alpha·q (x, r, p, q of one shape and dtype, e.g. θ-shaped (P); x and r
 * must not overlap each other, p or q). Returns rᵀr of the updated r, accumulated in double.
 * x and r equal two {@link axpy} calls bit for bit (alpha is rounded to the dtype).
 *
 * @example
 * const rr = cgUpdate(d, r, p, q, rTr / dot(p, q)); // d += αp, r −= αq, rr = ‖r‖²
 */
export function cgUpdate(x: Tensor, r: Tensor, p: Tensor, q: Tensor, alpha: number): number {
  const op = 'cgUpdate';
  const hx = handleOf(x, op, 'x');
  const hr = handleOf(r, op, 'r');
  const hp = handleOf(p, op, 'p');
  const hq = handleOf(q, op, 'q');
  checkFinite(op, 'alpha', 'alpha', alpha);
  return native().cgUpdate(hx, hr, hp, hq, alpha);
}

// --- linear algebra ------------------------------------------------------------------------------

/** Options of {@link gemm}. */
export interface GemmOptions {
  /** Use aᵀ (default false). */
  transA?: boolean;
  /** Use bᵀ (default false). */
  transB?: boolean;
  /** Scale of the product (default 1). */
  alpha?: number;
  /** Scale of `c` (default 1 when `c` is given, else 0). */
  beta?: number;
  /** Added to the product (scaled by beta); not modified. Shape (M, N). */
  c?: Tensor | null;
}

/**
 * alpha·op(a)·op(b) + beta·c for 2-D tensors, op(a): (M, K), op(b): (K, N) -> (M, N).
 *
 * @example
 * gemm(a, b, { transB: true });              // a·bᵀ
 * gemm(a, b, { alpha: 2, beta: 1, c: bias }); // 2·a·b + bias
 */
export function gemm(a: Tensor, b: Tensor, options?: GemmOptions): Tensor {
  const op = 'gemm';
  const ha = handleOf(a, op, 'a');
  const hb = handleOf(b, op, 'b');
  const o = checkOptions(op, options);
  const transA = checkOptionalBoolean(op, 'options.transA', o.transA);
  const transB = checkOptionalBoolean(op, 'options.transB', o.transB);
  const alpha = checkOptionalFinite(op, 'options.alpha', 'alpha', o.alpha);
  const c = optionalHandleOf(o.c, op, 'options.c');
  const beta = checkOptionalFinite(op, 'options.beta', 'beta', o.beta);
  return wrapNative(native().gemm(ha, hb, { transA, transB, alpha, beta, c }));
}

/** a·b for 2-D tensors (M, K)·(K, N) -> (M, N); gemm without options. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return wrapNative(native().matmul(handleOf(a, 'matmul', 'a'), handleOf(b, 'matmul', 'b')));
}

/** y + b[c] broadcast over every axis but 1: y (N, C, ...), b (C) -> (N, C, ...). */
export function biasAdd(y: Tensor, b: Tensor): Tensor {
  return wrapNative(native().biasAdd(handleOf(y, 'biasAdd', 'y'), handleOf(b, 'biasAdd', 'b')));
}

/** The sum of dy over every axis but 1: dy (N, C, ...) -> (C); the gradient of biasAdd. */
export function biasGrad(dy: Tensor): Tensor {
  return wrapNative(native().biasGrad(handleOf(dy, 'biasGrad', 'dy')));
}

// --- linear layer -----------------------------------------------------------------------------------

/**
 * A fully connected layer: x (N, I), w (O, I), b (O) -> x·wᵀ + b: (N, O). `b` may be
 * null or omitted.
 */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  const op = 'linear';
  return wrapNative(native().linear(handleOf(x, op, 'x'), handleOf(w, op, 'w'), optionalHandleOf(b, op, 'b')));
}

/**
 * The gradients of {@link linear} for dy (N, O): dx = dy·w (N, I), dw = dyᵀ·x (O, I), and
 * db = Σₙ dy (O), or null when `options.bias` is false (default true).
 */
export function linearBackward(
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  options?: { bias?: boolean },
): { dx: Tensor; dw: Tensor; db: Tensor | null } {
  const op = 'linearBackward';
  const hdy = handleOf(dy, op, 'dy');
  const hx = handleOf(x, op, 'x');
  const hw = handleOf(w, op, 'w');
  const o = checkOptions(op, options);
  const bias = checkOptionalBoolean(op, 'options.bias', o.bias);
  const r = native().linearBackward(hdy, hx, hw, { bias });
  return { dx: wrapNative(r.dx), dw: wrapNative(r.dw), db: r.db ? wrapNative(r.db) : null };
}

// --- convolution ------------------------------------------------------------------------------------

/** Stride and zero padding of a 2-D convolution: a number for both axes or [h, w]. */
export interface Conv2dOptions {
  /** Positive integers (default 1). */
  stride?: number | readonly [number, number];
  /** Non-negative integers (default 0). */
  padding?: number | readonly [number, number];
}

function conv2dOptions(op: string, options: unknown): NativeConv2dOptions {
  const o = checkOptions(op, options);
  return { stride: checkPair(op, 'stride', o.stride, 1), padding: checkPair(op, 'padding', o.padding, 0) };
}

/**
 * 2-D convolution (cross-correlation), NCHW: x (N, C, H, W), w (K, C, R, S), b (K) or
 * null -> (N, K, P, Q) with P = ⌊(H + 2·padH − R) / strideH⌋ + 1 (Q likewise).
 *
 * @example
 * conv2d(x, w, b, { stride: 1, padding: 2 });
 */
export function conv2d(x: Tensor, w: Tensor, b?: Tensor | null, options?: Conv2dOptions): Tensor {
  const op = 'conv2d';
  const hx = handleOf(x, op, 'x');
  const hw = handleOf(w, op, 'w');
  const hb = optionalHandleOf(b, op, 'b');
  return wrapNative(native().conv2d(hx, hw, hb, conv2dOptions(op, options)));
}

/** The gradient of conv2d with respect to its input: dy (N, K, P, Q), w (K, C, R, S) -> xShape. */
export function conv2dBackwardData(dy: Tensor, w: Tensor, xShape: Shape, options?: Conv2dOptions): Tensor {
  const op = 'conv2dBackwardData';
  const hdy = handleOf(dy, op, 'dy');
  const hw = handleOf(w, op, 'w');
  const s = checkShape(op, 'xShape', xShape);
  return wrapNative(native().conv2dBackwardData(hdy, hw, s, conv2dOptions(op, options)));
}

/** The gradient of conv2d with respect to its filter: dy (N, K, P, Q), x (N, C, H, W) -> wShape. */
export function conv2dBackwardFilter(dy: Tensor, x: Tensor, wShape: Shape, options?: Conv2dOptions): Tensor {
  const op = 'conv2dBackwardFilter';
  const hdy = handleOf(dy, op, 'dy');
  const hx = handleOf(x, op, 'x');
  const s = checkShape(op, 'wShape', wShape);
  return wrapNative(native().conv2dBackwardFilter(hdy, hx, s, conv2dOptions(op, options)));
}

/** The gradient of conv2d with respect to its bias: dy (N, K, P, Q) -> (K); same as biasGrad. */
export function conv2dBackwardBias(dy: Tensor): Tensor {
  return wrapNative(native().conv2dBackwardBias(handleOf(dy, 'conv2dBackwardBias', 'dy')));
}

// --- pooling ------------------------------------------------------------------------------------------

/** A pooling window: a number for both axes or [h, w]. */
export interface Pool2dOptions {
  /** Window extents, positive integers (required). */
  kernel: number | readonly [number, number];
  /** Positive integers (default: the kernel). */
  stride?: number | readonly [number, number];
  /** Non-negative integers (default 0). */
  padding?: number | readonly [number, number];
}

function pool2dOptions(op: string, options: unknown): NativePool2dOptions {
  const o = checkOptions(op, options, true);
  const kernel = checkPair(op, 'kernel', o.kernel, 1);
  if (kernel === undefined) {
    throw new TypeError(`${op}: options.kernel must be a number or [number, number], got undefined`);
  }
  return { kernel, stride: checkPair(op, 'stride', o.stride, 1), padding: checkPair(op, 'padding', o.padding, 0) };
}

/**
 * Max pooling, NCHW: x (N, C, H, W) -> y (N, C, P, Q) and argmax (int32, same shape), the
 * index h·W + w within its (n, c) plane of the element each output took. Padding is never
 * chosen.
 *
 * @example
 * const { y, argmax } = maxPool2d(x, { kernel: 2 });
 */
export function maxPool2d(x: Tensor, options: Pool2dOptions): { y: Tensor; argmax: Tensor } {
  const op = 'maxPool2d';
  const hx = handleOf(x, op, 'x');
  const r = native().maxPool2d(hx, pool2dOptions(op, options));
  return { y: wrapNative(r.y), argmax: wrapNative(r.argmax) };
}

/** The gradient of maxPool2d: routes dy (N, C, P, Q) to the argmax positions of a tensor of xShape. */
export function maxPool2dBackward(dy: Tensor, argmax: Tensor, xShape: Shape, options: Pool2dOptions): Tensor {
  const op = 'maxPool2dBackward';
  const hdy = handleOf(dy, op, 'dy');
  const ha = handleOf(argmax, op, 'argmax');
  const s = checkShape(op, 'xShape', xShape);
  return wrapNative(native().maxPool2dBackward(hdy, ha, s, pool2dOptions(op, options)));
}

/**
 * The backward of ReLU followed by max pooling, in one pass:
 * reluBackward(maxPool2dBackward(dy, argmax, reluInput.shape, options), reluInput), bit for bit.
 * reluInput is the ReLU's input (N, C, H, W); dy and argmax are (N, C, P, Q). Sequential uses it
 * for every conv → ReLU → max-pool block, where it saves a full pass over the activations.
 *
 * @example
 * const { y, argmax } = maxPool2d(relu(pre), { kernel: 2 });
 * const dpre = maxPool2dReluBackward(dy, argmax, pre, { kernel: 2 });
 */
export function maxPool2dReluBackward(dy: Tensor, argmax: Tensor, reluInput: Tensor, options: Pool2dOptions): Tensor {
  const op = 'maxPool2dReluBackward';
  const hdy = handleOf(dy, op, 'dy');
  const ha = handleOf(argmax, op, 'argmax');
  const hr = handleOf(reluInput, op, 'reluInput');
  return wrapNative(native().maxPool2dReluBackward(hdy, ha, hr, pool2dOptions(op, options)));
}

/**
 * The R-operator (forward-mode derivative) of maxPool2d: R{y} = R{x}[argmax], a gather of
 * rx (N, C, H, W) at the argmax (N, C, P, Q, int32, from maxPool2d on an input of rx's
 * shape with the same options) -> (N, C, P, Q). The forward counterpart of maxPool2dBackward.
 */
export function maxPool2dJvp(rx: Tensor, argmax: Tensor, options: Pool2dOptions): Tensor {
  const op = 'maxPool2dJvp';
  const hrx = handleOf(rx, op, 'rx');
  const ha = handleOf(argmax, op, 'argmax');
  return wrapNative(native().maxPool2dJvp(hrx, ha, pool2dOptions(op, options)));
}

/** Average pooling, NCHW: x (N, C, H, W) -> (N, C, P, Q); divides by the kernel area, padding included. */
export function avgPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const op = 'avgPool2d';
  const hx = handleOf(x, op, 'x');
  return wrapNative(native().avgPool2d(hx, pool2dOptions(op, options)));
}

/** The gradient (exact adjoint) of avgPool2d: dy (N, C, P, Q) -> xShape. */
export function avgPool2dBackward(dy: Tensor, xShape: Shape, options: Pool2dOptions): Tensor {
  const op = 'avgPool2dBackward';
  const hdy = handleOf(dy, op, 'dy');
  const s = checkShape(op, 'xShape', xShape);
  return wrapNative(native().avgPool2dBackward(hdy, s, pool2dOptions(op, options)));
}

// --- losses: z (N, K) network outputs; values are sums over the batch --------------------------------

/** Σᵢ ‖zᵢ − yᵢ‖², summed over the batch: z, y (N, K). */
export function squaredLoss(z: Tensor, y: Tensor): number {
  return native().squaredLoss(handleOf(z, 'squaredLoss', 'z'), handleOf(y, 'squaredLoss', 'y'));
}

/** 2(z − y): the gradient of the squared loss with respect to z (N, K). */
export function squaredLossGradient(z: Tensor, y: Tensor): Tensor {
  const op = 'squaredLossGradient';
  return wrapNative(native().squaredLossGradient(handleOf(z, op, 'z'), handleOf(y, op, 'y')));
}

/** 2u: the squared loss's Hessian (with respect to z) times u (N, K). */
export function squaredLossHessianProduct(z: Tensor, u: Tensor): Tensor {
  const op = 'squaredLossHessianProduct';
  return wrapNative(native().squaredLossHessianProduct(handleOf(z, op, 'z'), handleOf(u, op, 'u')));
}

/** Row-wise softmax of z (N, K) -> (N, K). */
export function softmax(z: Tensor): Tensor {
  return wrapNative(native().softmax(handleOf(z, 'softmax', 'z')));
}

/** −Σᵢ Σₖ yᵢₖ log softmax(zᵢ)ₖ, summed over the batch: z, y (N, K), rows of y are distributions. */
export function softmaxCrossEntropy(z: Tensor, y: Tensor): number {
  const op = 'softmaxCrossEntropy';
  return native().softmaxCrossEntropy(handleOf(z, op, 'z'), handleOf(y, op, 'y'));
}

/** p − y with p = softmax(z): the gradient of the cross-entropy with respect to z (N, K). */
export function softmaxCrossEntropyGradient(z: Tensor, y: Tensor): Tensor {
  const op = 'softmaxCrossEntropyGradient';
  return wrapNative(native().softmaxCrossEntropyGradient(handleOf(z, op, 'z'), handleOf(y, op, 'y')));
}

/** p⊙u − p(pᵀu) per row, p = softmax(z): the cross-entropy's Hessian (w.r.t. z) times u (N, K). */
export function softmaxCrossEntropyHessianProduct(z: Tensor, u: Tensor): Tensor {
  const op = 'softmaxCrossEntropyHessianProduct';
  return wrapNative(native().softmaxCrossEntropyHessianProduct(handleOf(z, op, 'z'), handleOf(u, op, 'u')));
}

// --- random numbers --------------------------------------------------------------------------------------

/**
 * Options of the random fills. Element i is a pure function of (seed, offset + i) (Philox),
 * so results do not depend on the device or the thread count; advance `offset` by the
 * element count to continue a stream.
 */
export interface RandomOptions extends TensorOptions {
  /** A non-negative safe integer (required). */
  seed: number;
  /** A non-negative safe integer (default 0): the stream position of element 0. */
  offset?: number;
}

function randomOptions(op: string, options: unknown): NativeRandomOptions {
  const o = checkOptions(op, options, true);
  const seed = checkUint(op, 'options.seed', 'seed', o.seed) as number;
  const offset = checkUint(op, 'options.offset', 'offset', o.offset, true);
  const dtype = checkDType(op, 'options.dtype', 'dtype', o.dtype);
  const device = checkDevice(op, 'options.device', o.device);
  return { seed, offset, dtype, device };
}

/**
 * A tensor of `shape` with numbers uniform in [low, high) (default [0, 1)); dtype default
 * float32.
 *
 * @example
 * randomUniform([2, 3], { seed: 42, low: -1, high: 1 });
 */
export function randomUniform(shape: Shape, options: RandomOptions & { low?: number; high?: number }): Tensor {
  const op = 'randomUniform';
  const s = checkShape(op, 'shape', shape);
  const r = randomOptions(op, options);
  const low = checkOptionalFinite(op, 'options.low', 'low', options.low);
  const high = checkOptionalFinite(op, 'options.high', 'high', options.high);
  return wrapNative(native().randomUniform(s, { ...r, low, high }));
}

/**
 * A tensor of `shape` with normal numbers of the given mean (default 0) and standard
 * deviation `std` (default 1); dtype default float32.
 *
 * @example
 * randomNormal([64, 32], { seed: 1, std: Math.sqrt(2 / 32) }); // He initialisation
 */
export function randomNormal(shape: Shape, options: RandomOptions & { mean?: number; std?: number }): Tensor {
  const op = 'randomNormal';
  const s = checkShape(op, 'shape', shape);
  const r = randomOptions(op, options);
  const mean = checkOptionalFinite(op, 'options.mean', 'mean', options.mean);
  const std = checkOptionalFinite(op, 'options.std', 'std', options.std);
  return wrapNative(native().randomNormal(s, { ...r, mean, std }));
}
