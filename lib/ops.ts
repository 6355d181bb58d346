/**
 * The ops: element-wise arithmetic, reductions, GEMM, linear and convolution layers,
 * pooling, losses and random numbers. Each is declared once in C++ (native/core/ops/*.h),
 * which checks its arguments once for every backend; errors name the op and the argument,
 * e.g. `conv2d: w must have 4 dimensions (K, C, R, S), got shape (3, 3)` (RangeError). See
 * README.md, "Errors", for which mistake raises which class.
 *
 * Unless stated otherwise, tensors must share one dtype (float32 or float64) and one device,
 * and results are new tensors on that device.
 *
 * @packageDocumentation
 */
import { native, type NativeConv2dOptions, type NativeNormalOptions, type NativePool2dOptions, type NativeTensor, type NativeUniformOptions } from './native';
import type { NativeOps, OpName } from './native-ops';
import { handleOf, Tensor, wrapNative } from './tensor';
import type { DType, Shape } from './types';

// --- calling a native op --------------------------------------------------------------------

/** The public form of a native type: every NativeTensor becomes a Tensor (also inside options and results). */
type Public<T> = T extends NativeTensor
  ? Tensor
  : T extends readonly unknown[]
    ? T
    : T extends object
      ? { [K in keyof T]: Public<T[K]> }
      : T;
type PublicArgs<A extends readonly unknown[]> = { [K in keyof A]: Public<A[K]> };
type OpArgs<K extends OpName> = PublicArgs<Parameters<NativeOps[K]>>;
type OpResult<K extends OpName> = Public<ReturnType<NativeOps[K]>>;

// An object literal of any realm (the addon's results belong to Node's main realm, which is
// not the realm of a jest test): its prototype is null or a realm's Object.prototype.
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

// Tensors -> their native handles, at the top level and inside an options object. Anything
// else passes unchanged: the addon checks JS types and says what it got.
function toNative(v: unknown): unknown {
  if (v instanceof Tensor) return handleOf(v, '', '');
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = x instanceof Tensor ? handleOf(x, '', '') : x;
    return out;
  }
  return v;
}

// Native tensors -> Tensors, at the top level and inside a result object.
function fromNative(v: unknown): unknown {
  if (v instanceof native().NativeTensor) return wrapNative(v as NativeTensor);
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromNative(x);
    return out;
  }
  return v;
}

/** Runs the native op `op` on public arguments and returns its public result. @internal */
export function callOp<K extends OpName>(op: K, ...args: OpArgs<K>): OpResult<K> {
  const fn = native()[op] as unknown as (...a: unknown[]) => unknown;
  return fromNative(fn(...args.map(toNative))) as OpResult<K>;
}

// --- data movement ------------------------------------------------------------------------------

/**
 * Sets every element of `t` to `value` (finite; an integer for int32 tensors), in place.
 *
 * @example
 * const t = Tensor.zeros([2, 2]); fill(t, 1);
 */
export function fill(t: Tensor, value: number): void {
  callOp('fill', t, value);
}

/** Copies `src` into `dst` (same shape, dtype and device), in place. */
export function copy(dst: Tensor, src: Tensor): void {
  callOp('copy', dst, src);
}

/**
 * `x` converted to `dtype` (float32 <-> float64; int32 -> float32 or float64).
 *
 * @example
 * cast(Tensor.from([1, 2]), 'float64').dtype; // 'float64'
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  return callOp('cast', x, dtype);
}

/**
 * Writes `src` (N, Cs, ...) into channels [offset, offset + Cs) of `dst` (N, Cd, ...), in place:
 * the forward pass of a channel concatenation, one input at a time. `dst` and `src` have the
 * same batch and trailing dimensions, dtype (float32 or float64) and device, and must not
 * overlap; `offset` is an integer with offset + Cs ≤ Cd (RangeError otherwise).
 *
 * @example
 * const y = Tensor.zeros([2, 5, 4, 4]);
 * channelCopy(y, a, 0); // a (2, 2, 4, 4) into channels 0 and 1
 * channelCopy(y, b, 2); // b (2, 3, 4, 4) into channels 2, 3 and 4: y = [a, b]
 */
export function channelCopy(dst: Tensor, src: Tensor, offset: number): void {
  callOp('channelCopy', dst, src, offset);
}

/**
 * Channels [offset, offset + count) of `src` (N, C, ...) as a new (N, count, ...) tensor: the
 * gradient of a channel concatenation for one of its inputs. `offset` and `count` are
 * non-negative integers with offset + count ≤ C (RangeError otherwise).
 *
 * @example
 * const b = channelSlice(y, 2, 3); // y (2, 5, 4, 4) -> channels 2, 3, 4: (2, 3, 4, 4)
 */
export function channelSlice(src: Tensor, offset: number, count: number): Tensor {
  return callOp('channelSlice', src, offset, count);
}

// --- element-wise ---------------------------------------------------------------------------------

/** a + b, element-wise (same shape and dtype; no broadcasting). */
export function add(a: Tensor, b: Tensor): Tensor {
  return callOp('add', a, b);
}

/** a − b, element-wise (same shape and dtype; no broadcasting). */
export function sub(a: Tensor, b: Tensor): Tensor {
  return callOp('sub', a, b);
}

/** a ⊙ b, the element-wise product (same shape and dtype; no broadcasting). */
export function mul(a: Tensor, b: Tensor): Tensor {
  return callOp('mul', a, b);
}

/** alpha·x (alpha finite). */
export function scale(x: Tensor, alpha: number): Tensor {
  return callOp('scale', x, alpha);
}

/**
 * y += alpha·x, in place (same shape and dtype).
 *
 * @example
 * axpy(theta, -learningRate, grad); // a gradient step
 */
export function axpy(y: Tensor, alpha: number, x: Tensor): void {
  callOp('axpy', y, alpha, x);
}

/** max(x, 0) element-wise; NaN stays NaN. */
export function relu(x: Tensor): Tensor {
  return callOp('relu', x);
}

/** 1 where x > 0, else 0 (the derivative of relu), in x's dtype. */
export function reluMask(x: Tensor): Tensor {
  return callOp('reluMask', x);
}

/** dy ⊙ 1[x > 0]: the gradient of relu at x (dy and x of one shape). */
export function reluBackward(dy: Tensor, x: Tensor): Tensor {
  return callOp('reluBackward', dy, x);
}

/** tanh(x) element-wise (evaluated in double, rounded once). */
export function tanh(x: Tensor): Tensor {
  return callOp('tanh', x);
}

/**
 * dy ⊙ (1 − y²): the gradient of tanh from its output y = tanh(x) (dy and y of one shape); also
 * its R-operator, R{y} = tanhBackward(R{x}, y).
 */
export function tanhBackward(dy: Tensor, y: Tensor): Tensor {
  return callOp('tanhBackward', dy, y);
}

/** 1/√(x + eps) element-wise (eps ≥ 0; NaN where x + eps < 0), e.g. 1/σ of a running variance. */
export function rsqrt(x: Tensor, eps: number): Tensor {
  return callOp('rsqrt', x, eps);
}

// --- reductions ------------------------------------------------------------------------------------

/** Σ x, accumulated in double precision (independent of the thread count). */
export function sum(x: Tensor): number {
  return callOp('sum', x);
}

/** Σ a⊙b over all elements, accumulated in double precision (same shape and dtype). */
export function dot(a: Tensor, b: Tensor): number {
  return callOp('dot', a, b);
}

/** ‖x‖² = Σ x², accumulated in double precision. */
export function squaredNorm(x: Tensor): number {
  return callOp('squaredNorm', x);
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
  return callOp('cgUpdate', x, r, p, q, alpha);
}

// --- per channel -------------------------------------------------------------------------------------

/** y + b[c] broadcast over every axis but 1: y (N, C, ...), b (C) -> (N, C, ...). */
export function biasAdd(y: Tensor, b: Tensor): Tensor {
  return callOp('biasAdd', y, b);
}

/** The sum of dy over every axis but 1: dy (N, C, ...) -> (C); the gradient of biasAdd. */
export function biasGrad(dy: Tensor): Tensor {
  return callOp('biasGrad', dy);
}

/**
 * Σ over every axis but 1 of a⊙b: a, b (N, C, ...) -> (C), accumulated in double (a channel's
 * share of dot(a, b)).
 *
 * @example
 * channelDot(dy, xhat); // batch norm's dγ = Σ dy⊙x̂ per channel
 */
export function channelDot(a: Tensor, b: Tensor): Tensor {
  return callOp('channelDot', a, b);
}

/**
 * x·scale[c] + shift[c] per channel: x (N, C, ...), scale and shift (C); without `shift`,
 * x·scale[c]. The product and the sum are rounded separately (no fused multiply-add).
 *
 * @example
 * channelAffine(xhat, gamma, beta); // batch norm's y = γx̂ + β
 */
export function channelAffine(x: Tensor, scale: Tensor, shift?: Tensor | null): Tensor {
  return callOp('channelAffine', x, scale, shift);
}

/**
 * a·aScale[c] + b·bScale[c] + shift[c] per channel, in one pass: a, b (N, C, ...), the scales
 * and shift (C); shift may be null. Rounded after each operation, in that order.
 *
 * @example
 * channelCombine(dy, a, xhat, b, c); // batch norm's dx = a·dy + b·x̂ + c
 */
export function channelCombine(a: Tensor, aScale: Tensor, b: Tensor, bScale: Tensor, shift?: Tensor | null): Tensor {
  return callOp('channelCombine', a, aScale, b, bScale, shift);
}

/**
 * Batch norm's statistics of x (N, C, ...) per channel over every other axis: the mean, the
 * biased variance (two passes, in double) and invStd = 1/√(variance + eps), each (C).
 *
 * @example
 * const { mean, variance, invStd } = batchNormStats(x, 1e-5);
 */
export function batchNormStats(x: Tensor, eps: number): { mean: Tensor; variance: Tensor; invStd: Tensor } {
  return callOp('batchNormStats', x, eps);
}

// --- linear algebra ----------------------------------------------------------------------------------

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
  return callOp('gemm', a, b, options);
}

/** a·b for 2-D tensors (M, K)·(K, N) -> (M, N): {@link gemm} without options (errors name gemm). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return callOp('gemm', a, b);
}

/**
 * A fully connected layer: x (N, I), w (O, I), b (O) -> x·wᵀ + b: (N, O). `b` may be
 * null or omitted.
 */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  return callOp('linear', x, w, b);
}

/**
 * The gradients of {@link linear} for dy (N, O): dx = dy·w (N, I), dw = dyᵀ·x (O, I), and
 * db = Σₙ dy (O), or null when `options.bias` is false (default true).
 */
export function linearBackward(dy: Tensor, x: Tensor, w: Tensor, options?: { bias?: boolean }): { dx: Tensor; dw: Tensor; db: Tensor | null } {
  return callOp('linearBackward', dy, x, w, options);
}

// --- convolution ----------------------------------------------------------------------------------------

/** Stride and zero padding of a 2-D convolution: a number for both axes or [h, w]. */
export type Conv2dOptions = NativeConv2dOptions;

/**
 * 2-D convolution (cross-correlation), NCHW: x (N, C, H, W), w (K, C, R, S), b (K) or
 * null -> (N, K, P, Q) with P = ⌊(H + 2·padH − R) / strideH⌋ + 1 (Q likewise). Stride and
 * padding: positive and non-negative integers (default 1 and 0).
 *
 * @example
 * conv2d(x, w, b, { stride: 1, padding: 2 });
 */
export function conv2d(x: Tensor, w: Tensor, b?: Tensor | null, options?: Conv2dOptions): Tensor {
  return callOp('conv2d', x, w, b, options);
}

/** The gradient of conv2d with respect to its input: dy (N, K, P, Q), w (K, C, R, S) -> xShape. */
export function conv2dBackwardData(dy: Tensor, w: Tensor, xShape: Shape, options?: Conv2dOptions): Tensor {
  return callOp('conv2dBackwardData', dy, w, xShape, options);
}

/** The gradient of conv2d with respect to its filter: dy (N, K, P, Q), x (N, C, H, W) -> wShape. */
export function conv2dBackwardFilter(dy: Tensor, x: Tensor, wShape: Shape, options?: Conv2dOptions): Tensor {
  return callOp('conv2dBackwardFilter', dy, x, wShape, options);
}

/** The gradient of conv2d with respect to its bias: dy (N, K, P, Q) -> (K); {@link biasGrad} (errors name it). */
export function conv2dBackwardBias(dy: Tensor): Tensor {
  return callOp('biasGrad', dy);
}

/**
 * relu(conv2d(x, w, b)) in one pass: the bias and the ReLU are applied as the convolution
 * writes its output, with the same roundings as conv2d followed by relu. x (N, C, H, W),
 * w (K, C, R, S), b (K) or null -> (N, K, P, Q).
 */
export function conv2dRelu(x: Tensor, w: Tensor, b?: Tensor | null, options?: Conv2dOptions): Tensor {
  return callOp('conv2dRelu', x, w, b, options);
}

/** Options of {@link conv2dBackward}: conv2d's stride and padding, and whether to compute dx and db (default true). */
export type Conv2dBackwardOptions = Conv2dOptions & { inputGradient?: boolean; bias?: boolean };

/**
 * The gradients of conv2d for dy (N, K, P, Q), with dy read once for all of them:
 * dx = Wᵀ∗dy (N, C, H, W) or null when `options.inputGradient` is false, dw = dy⋆x
 * (K, C, R, S), and db = Σ dy over n, p, q (K, summed in double) or null when
 * `options.bias` is false.
 */
export function conv2dBackward(dy: Tensor, x: Tensor, w: Tensor, options?: Conv2dBackwardOptions): { dx: Tensor | null; dw: Tensor; db: Tensor | null } {
  return callOp('conv2dBackward', dy, x, w, options);
}

/**
 * The R-operator of conv2d: R{y} = W∗R{x} + V∗x + v_b (N, K, P, Q), for x and R{x}
 * (N, C, H, W) (R{x} null: zero), w and its tangent v (K, C, R, S), and the bias tangent
 * vb (K) or null.
 */
export function conv2dJvp(x: Tensor, w: Tensor, rx: Tensor | null, v: Tensor, vb?: Tensor | null, options?: Conv2dOptions): Tensor {
  return callOp('conv2dJvp', x, w, rx, v, vb, options);
}

// --- pooling ------------------------------------------------------------------------------------------------

/**
 * A pooling window: `kernel` (required), `stride` (default: the kernel) and `padding`
 * (default 0), each a number for both axes or [h, w].
 */
export type Pool2dOptions = NativePool2dOptions;

/**
 * Max pooling, NCHW: x (N, C, H, W) -> y (N, C, P, Q) and argmax (int32, same shape), the
 * index h·W + w within its (n, c) plane of the element each output took. Padding is never
 * chosen; the first of equal maxima wins.
 *
 * @example
 * const { y, argmax } = maxPool2d(x, { kernel: 2 });
 */
export function maxPool2d(x: Tensor, options: Pool2dOptions): { y: Tensor; argmax: Tensor } {
  return callOp('maxPool2d', x, options);
}

/**
 * The gradient of maxPool2d: routes dy (N, C, P, Q) to the argmax positions of a tensor of
 * xShape. `argmax` must come from maxPool2d on an input of xShape with the same options;
 * setDebugChecks(true) verifies that (a pass over argmax, a host copy on a GPU).
 */
export function maxPool2dBackward(dy: Tensor, argmax: Tensor, xShape: Shape, options: Pool2dOptions): Tensor {
  return callOp('maxPool2dBackward', dy, argmax, xShape, options);
}

/**
 * The backward of ReLU followed by max pooling, in one pass:
 * reluBackward(maxPool2dBackward(dy, argmax, reluInput.shape, options), reluInput), bit for bit.
 * reluInput is the ReLU's input (N, C, H, W); dy and argmax are (N, C, P, Q). Networks use it
 * for every conv → ReLU → max-pool block, where it saves a full pass over the activations.
 *
 * @example
 * const { y, argmax } = maxPool2d(relu(pre), { kernel: 2 });
 * const dpre = maxPool2dReluBackward(dy, argmax, pre, { kernel: 2 });
 */
export function maxPool2dReluBackward(dy: Tensor, argmax: Tensor, reluInput: Tensor, options: Pool2dOptions): Tensor {
  return callOp('maxPool2dReluBackward', dy, argmax, reluInput, options);
}

/**
 * The R-operator (forward-mode derivative) of maxPool2d: R{y} = R{x}[argmax], a gather of
 * rx (N, C, H, W) at the argmax (N, C, P, Q, int32, from maxPool2d on an input of rx's
 * shape with the same options) -> (N, C, P, Q). The forward counterpart of maxPool2dBackward.
 */
export function maxPool2dJvp(rx: Tensor, argmax: Tensor, options: Pool2dOptions): Tensor {
  return callOp('maxPool2dJvp', rx, argmax, options);
}

/** Average pooling, NCHW: x (N, C, H, W) -> (N, C, P, Q); divides by the kernel area, padding included. */
export function avgPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  return callOp('avgPool2d', x, options);
}

/** The gradient (exact adjoint) of avgPool2d: dy (N, C, P, Q) -> xShape. */
export function avgPool2dBackward(dy: Tensor, xShape: Shape, options: Pool2dOptions): Tensor {
  return callOp('avgPool2dBackward', dy, xShape, options);
}

// --- losses: z (N, K) network outputs; values are sums over the batch -------------------------------------

/** Σᵢ ‖zᵢ − yᵢ‖², summed over the batch: z, y (N, K). */
export function squaredLoss(z: Tensor, y: Tensor): number {
  return callOp('squaredLoss', z, y);
}

/** 2(z − y): the gradient of the squared loss with respect to z (N, K). */
export function squaredLossGradient(z: Tensor, y: Tensor): Tensor {
  return callOp('squaredLossGradient', z, y);
}

/** 2u: the squared loss's Hessian (with respect to z) times u (N, K). */
export function squaredLossHessianProduct(z: Tensor, u: Tensor): Tensor {
  return callOp('squaredLossHessianProduct', z, u);
}

/** Row-wise softmax of z (N, K) -> (N, K). */
export function softmax(z: Tensor): Tensor {
  return callOp('softmax', z);
}

/** −Σᵢ Σₖ yᵢₖ log softmax(zᵢ)ₖ, summed over the batch: z, y (N, K), rows of y are distributions. */
export function softmaxCrossEntropy(z: Tensor, y: Tensor): number {
  return callOp('softmaxCrossEntropy', z, y);
}

/** p − y with p = softmax(z): the gradient of the cross-entropy with respect to z (N, K). */
export function softmaxCrossEntropyGradient(z: Tensor, y: Tensor): Tensor {
  return callOp('softmaxCrossEntropyGradient', z, y);
}

/** p⊙u − p(pᵀu) per row, p = softmax(z): the cross-entropy's Hessian (w.r.t. z) times u (N, K). */
export function softmaxCrossEntropyHessianProduct(z: Tensor, u: Tensor): Tensor {
  return callOp('softmaxCrossEntropyHessianProduct', z, u);
}

// --- random numbers -------------------------------------------------------------------------------------------

/**
 * Options of {@link randomUniform}: `seed` (a non-negative safe integer, required), `offset`
 * (default 0: element i is a pure function of (seed, offset + i), Philox, so results do not
 * depend on the device or the thread count; advance it by the element count to continue a
 * stream), `dtype` (default float32), `device` (default cpu), `low` and `high` (default 0, 1).
 */
export type UniformOptions = NativeUniformOptions;
/** Options of {@link randomNormal}: like {@link UniformOptions} with `mean` and `std` (default 0, 1). */
export type NormalOptions = NativeNormalOptions;

/**
 * A tensor of `shape` with numbers uniform in [low, high) (default [0, 1)).
 *
 * @example
 * randomUniform([2, 3], { seed: 42, low: -1, high: 1 });
 */
export function randomUniform(shape: Shape, options: UniformOptions): Tensor {
  return callOp('randomUniform', shape, options);
}

/**
 * A tensor of `shape` with normal numbers of the given mean (default 0) and standard
 * deviation `std` (default 1).
 *
 * @example
 * randomNormal([64, 32], { seed: 1, std: Math.sqrt(2 / 32) }); // He initialisation
 */
export function randomNormal(shape: Shape, options: NormalOptions): Tensor {
  return callOp('randomNormal', shape, options);
}

// --- fused passes of network blocks ------------------------------------------------------------------------
// One pass over the tensors each (native/core/ops/fused.h), with per-element formulas shared by
// the CPU and CUDA kernels (native/core/fused_math.h: a fixed order of roundings, no fused
// multiply-add, so both backends give the same bits). The scalars alpha, beta and their
// tangents are (1) tensors on the tensors' device, never read back to the host (no GPU sync);
// scalar gradients come back as (1) tensors, sums in double in a fixed order (the same bits for
// any thread count and on every run). Optional tensors are `null`.

/** The activation φ of the Newton residual ops: relu (true) or the identity (false). Required. */
export interface ResidualOptions {
  relu: boolean;
}

/**
 * Newton-ResNet's residual (the element-wise part of its eq. 3) in one pass:
 * y = φ(a + b + alpha·p⊙q), φ = relu or the identity. a, b, p, q of one shape; q null means
 * q ≡ 1; alpha (1). Rounded as ((a + b) + alpha·(p·q)).
 *
 * @example
 * const y = newtonResidual(x, fx, gx, hx, alpha, { relu: true }); // φ(x + F(x) + α·G(x)⊙H(x))
 */
export function newtonResidual(a: Tensor, b: Tensor, p: Tensor, q: Tensor | null, alpha: Tensor, options: ResidualOptions): Tensor {
  return callOp('newtonResidual', a, b, p, q, alpha, options);
}

/**
 * The gradient of {@link newtonResidual} for the output's cotangent dy, from its output y, in one
 * pass: g = φ′⊙dy (φ′ = 1[y > 0] for relu, 0 at the tie, as {@link reluBackward}), which is the
 * gradient of both a and b; dp = alpha·g⊙q; dq = alpha·g⊙p (null without q); dalpha = Σ g⊙p⊙q, a
 * (1) tensor.
 */
export function newtonResidualBackward(
  dy: Tensor, y: Tensor, p: Tensor, q: Tensor | null, alpha: Tensor, options: ResidualOptions,
): { g: Tensor; dp: Tensor; dq: Tensor | null; dalpha: Tensor } {
  return callOp('newtonResidualBackward', dy, y, p, q, alpha, options);
}

/**
 * The R-operator (Jacobian-vector product) of {@link newtonResidual} from its output y, along the
 * tangents ra, rb, rp, rq (null: zero; rq needs q) and valpha (1):
 * ry = φ′⊙(ra + rb + valpha·p⊙q + alpha·(rp⊙q + p⊙rq)).
 */
export function newtonResidualJvp(
  y: Tensor, ra: Tensor | null, rb: Tensor | null, p: Tensor, q: Tensor | null, rp: Tensor | null, rq: Tensor | null,
  alpha: Tensor, valpha: Tensor, options: ResidualOptions,
): Tensor {
  return callOp('newtonResidualJvp', y, ra, rb, p, q, rp, rq, alpha, valpha, options);
}

/**
 * {@link newtonResidualBackward} and its R-operator in one pass, along rdy (the tangent of dy),
 * rp, rq (null: zero) and valpha (φ″ = 0 almost everywhere):
 * rg = φ′⊙rdy; rdp = valpha·g⊙q + alpha·(rg⊙q + g⊙rq); rdq = valpha·g⊙p + alpha·(rg⊙p + g⊙rp);
 * rdalpha = Σ(rg⊙p⊙q + g⊙rp⊙q + g⊙p⊙rq). dq and rdq are null without q.
 */
export function newtonResidualVjpJvp(
  dy: Tensor, rdy: Tensor, y: Tensor, p: Tensor, q: Tensor | null, rp: Tensor | null, rq: Tensor | null,
  alpha: Tensor, valpha: Tensor, options: ResidualOptions,
): { g: Tensor; rg: Tensor; dp: Tensor; rdp: Tensor; dq: Tensor | null; rdq: Tensor | null; dalpha: Tensor; rdalpha: Tensor } {
  return callOp('newtonResidualVjpJvp', dy, rdy, y, p, q, rp, rq, alpha, valpha, options);
}

/**
 * One CG block of Newton-CGNet (Algorithm 2) in one pass: d = −(y + g1 + g2 + g3) + beta·dprev and
 * y1 = y + alpha·d. dprev and beta are both null at t = 0 (no beta term). alpha, beta (1). Not the
 * CG solver's in-place update {@link cgUpdate}.
 *
 * @example
 * const { y1, d } = cgNetUpdate(y, g1, g2, g3, dPrev, alpha, beta);
 */
export function cgNetUpdate(
  y: Tensor, g1: Tensor, g2: Tensor, g3: Tensor, dprev: Tensor | null, alpha: Tensor, beta?: Tensor | null,
): { y1: Tensor; d: Tensor } {
  return callOp('cgNetUpdate', y, g1, g2, g3, dprev, alpha, beta);
}

/**
 * The gradient of {@link cgNetUpdate} for the cotangents dy1 (of y1) and dd (of d; null: zero), from
 * its output d, in one pass with two sums: T = dd + alpha·dy1; dy = dy1 − T; dg = −T (the gradient of
 * each of g1, g2, g3); ddprev = beta·T; dalpha = Σ dy1⊙d; dbeta = Σ T⊙dprev (ddprev and dbeta null
 * without dprev).
 */
export function cgNetUpdateBackward(
  dy1: Tensor, dd: Tensor | null, d: Tensor, dprev: Tensor | null, alpha: Tensor, beta?: Tensor | null,
): { dy: Tensor; dg: Tensor; ddprev: Tensor | null; dalpha: Tensor; dbeta: Tensor | null } {
  return callOp('cgNetUpdateBackward', dy1, dd, d, dprev, alpha, beta);
}

/**
 * The R-operator of {@link cgNetUpdate} from its output d, along ry, rg1, rg2, rg3, rdprev (null:
 * zero), valpha and vbeta (null: zero; rdprev and vbeta need dprev):
 * rd = −(ry + rg1 + rg2 + rg3) + vbeta·dprev + beta·rdprev, ry1 = ry + valpha·d + alpha·rd.
 */
export function cgNetUpdateJvp(
  d: Tensor, dprev: Tensor | null, ry: Tensor | null, rg1: Tensor | null, rg2: Tensor | null, rg3: Tensor | null,
  rdprev: Tensor | null, alpha: Tensor, beta: Tensor | null, valpha: Tensor, vbeta?: Tensor | null,
): { ry1: Tensor; rd: Tensor } {
  return callOp('cgNetUpdateJvp', d, dprev, ry, rg1, rg2, rg3, rdprev, alpha, beta, valpha, vbeta);
}

/**
 * {@link cgNetUpdateBackward} and its R-operator in one pass with four sums, along rdy1, rdd (the
 * tangents of the cotangents; rdd null: zero), rd (the tangent of d, from {@link cgNetUpdateJvp}),
 * rdprev (null: zero), valpha and vbeta (null: zero): RT = rdd + valpha·dy1 + alpha·rdy1;
 * rdy = rdy1 − RT; rdg = −RT; rddprev = vbeta·T + beta·RT; rdalpha = Σ(rdy1⊙d + dy1⊙rd);
 * rdbeta = Σ(RT⊙dprev + T⊙rdprev). The dprev outputs and the beta sums are null without dprev.
 */
export function cgNetUpdateVjpJvp(
  dy1: Tensor, dd: Tensor | null, rdy1: Tensor, rdd: Tensor | null, d: Tensor, rd: Tensor, dprev: Tensor | null,
  rdprev: Tensor | null, alpha: Tensor, beta: Tensor | null, valpha: Tensor, vbeta?: Tensor | null,
): {
  dy: Tensor; rdy: Tensor; dg: Tensor; rdg: Tensor; ddprev: Tensor | null; rddprev: Tensor | null;
  dalpha: Tensor; rdalpha: Tensor; dbeta: Tensor | null; rdbeta: Tensor | null;
} {
  return callOp('cgNetUpdateVjpJvp', dy1, dd, rdy1, rdd, d, rd, dprev, rdprev, alpha, beta, valpha, vbeta);
}
