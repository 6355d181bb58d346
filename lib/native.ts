/**
 * The native addon (build/Release/newton_cnn.node): its typed surface and its loader.
 *
 * Everything the TypeScript layer calls in C++ is declared in {@link NativeAddon}. The
 * addon checks every argument again (a JS caller can bypass the TypeScript checks), so
 * each native function throws the same errors as the public API: TypeError for a value of
 * the wrong kind, RangeError for shapes and values, Error otherwise.
 *
 * @packageDocumentation
 */
import * as path from 'path';

import type { DType } from './types';

/** A tensor owned by the addon. Only the addon creates them; metadata stays readable after dispose(). */
export interface NativeTensor {
  /** The extents, a fresh array on each read. */
  readonly shape: number[];
  readonly dtype: DType;
  /** 'cpu' or 'cuda:N'. */
  readonly device: string;
  /** The element count. */
  readonly size: number;
  readonly disposed: boolean;
  /** Frees the tensor now; idempotent. */
  dispose(): void;
}

/** The typed array the addon produces or accepts for tensor data. */
export type NativeTypedArray = Float32Array | Float64Array | Int32Array;

/** Plain options forwarded to the addon, which validates them again. */
export interface NativeConv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
}
/** Pooling window options forwarded to the addon. */
export interface NativePool2dOptions extends NativeConv2dOptions {
  kernel: number | readonly [number, number];
}
/** GEMM options forwarded to the addon (c: a native tensor). */
export interface NativeGemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
  c?: NativeTensor | null;
}
/** Random-number options forwarded to the addon. */
export interface NativeRandomOptions {
  seed: number;
  offset?: number;
  dtype?: DType;
  device?: string;
  low?: number;
  high?: number;
  mean?: number;
  std?: number;
}
/** One entry of devices(). */
export interface NativeDeviceInfo {
  name: string;
  kind: 'cpu' | 'cuda';
  available: boolean;
  description: string;
  reason: string;
}
/** Allocator statistics of one device, in bytes and calls. */
export interface NativeMemoryStats {
  bytesInUse: number;
  peakBytesInUse: number;
  bytesCached: number;
  allocations: number;
}

/** The whole native surface of newton_cnn.node. */
export interface NativeAddon {
  /** The class of native tensors (not constructible from JS). */
  readonly NativeTensor: abstract new () => NativeTensor;

  // --- creation and data movement ---
  /** A tensor holding a copy of `data` (converted to `dtype`); shape defaults to [data.length]. */
  fromTypedArray(data: NativeTypedArray, shape?: readonly number[] | null, dtype?: DType, device?: string): NativeTensor;
  /** Uninitialised memory. */
  empty(shape: readonly number[], dtype?: DType, device?: string): NativeTensor;
  zeros(shape: readonly number[], dtype?: DType, device?: string): NativeTensor;
  full(shape: readonly number[], value: number, dtype?: DType, device?: string): NativeTensor;
  /** A fresh typed array (created in the addon's realm) holding a copy of t. */
  toTypedArray(t: NativeTensor): NativeTypedArray;
  /** Copies t into `out` (same dtype, t.size elements). */
  readInto(t: NativeTensor, out: NativeTypedArray): void;
  /** The only element of a size-1 tensor. */
  item(t: NativeTensor): number;
  /** The same memory under another shape. */
  reshape(t: NativeTensor, shape: readonly number[]): NativeTensor;
  /** Elements [offset, offset + numel(shape)) of t's memory under `shape`, shared. */
  view(t: NativeTensor, offset: number, shape: readonly number[]): NativeTensor;
  clone(t: NativeTensor): NativeTensor;
  fill(t: NativeTensor, value: number): void;
  copy(dst: NativeTensor, src: NativeTensor): void;
  cast(x: NativeTensor, dtype: DType): NativeTensor;

  // --- element-wise and reductions ---
  add(a: NativeTensor, b: NativeTensor): NativeTensor;
  sub(a: NativeTensor, b: NativeTensor): NativeTensor;
  mul(a: NativeTensor, b: NativeTensor): NativeTensor;
  scale(x: NativeTensor, alpha: number): NativeTensor;
  axpy(y: NativeTensor, alpha: number, x: NativeTensor): void;
  relu(x: NativeTensor): NativeTensor;
  reluMask(x: NativeTensor): NativeTensor;
  reluBackward(dy: NativeTensor, x: NativeTensor): NativeTensor;
  sum(x: NativeTensor): number;
  dot(a: NativeTensor, b: NativeTensor): number;
  squaredNorm(x: NativeTensor): number;
  /** In place x += αp, r −= αq; returns rᵀr of the new r (double accumulation). */
  cgUpdate(x: NativeTensor, r: NativeTensor, p: NativeTensor, q: NativeTensor, alpha: number): number;

  // --- linear algebra and layers ---
  gemm(a: NativeTensor, b: NativeTensor, options?: NativeGemmOptions): NativeTensor;
  matmul(a: NativeTensor, b: NativeTensor): NativeTensor;
  biasAdd(y: NativeTensor, b: NativeTensor): NativeTensor;
  biasGrad(dy: NativeTensor): NativeTensor;
  linear(x: NativeTensor, w: NativeTensor, b?: NativeTensor | null): NativeTensor;
  linearBackward(
    dy: NativeTensor,
    x: NativeTensor,
    w: NativeTensor,
    options?: { bias?: boolean },
  ): { dx: NativeTensor; dw: NativeTensor; db: NativeTensor | null };
  conv2d(x: NativeTensor, w: NativeTensor, b?: NativeTensor | null, options?: NativeConv2dOptions): NativeTensor;
  conv2dBackwardData(dy: NativeTensor, w: NativeTensor, xShape: readonly number[], options?: NativeConv2dOptions): NativeTensor;
  conv2dBackwardFilter(dy: NativeTensor, x: NativeTensor, wShape: readonly number[], options?: NativeConv2dOptions): NativeTensor;
  conv2dBackwardBias(dy: NativeTensor): NativeTensor;
  maxPool2d(x: NativeTensor, options: NativePool2dOptions): { y: NativeTensor; argmax: NativeTensor };
  maxPool2dBackward(dy: NativeTensor, argmax: NativeTensor, xShape: readonly number[], options: NativePool2dOptions): NativeTensor;
  maxPool2dReluBackward(dy: NativeTensor, argmax: NativeTensor, reluInput: NativeTensor, options: NativePool2dOptions): NativeTensor;
  /** R{y} = rx[argmax]: rx (N, C, H, W), argmax (N, C, P, Q) -> (N, C, P, Q). */
  maxPool2dJvp(rx: NativeTensor, argmax: NativeTensor, options: NativePool2dOptions): NativeTensor;
  avgPool2d(x: NativeTensor, options: NativePool2dOptions): NativeTensor;
  avgPool2dBackward(dy: NativeTensor, xShape: readonly number[], options: NativePool2dOptions): NativeTensor;

  // --- losses ---
  squaredLoss(z: NativeTensor, y: NativeTensor): number;
  squaredLossGradient(z: NativeTensor, y: NativeTensor): NativeTensor;
  squaredLossHessianProduct(z: NativeTensor, u: NativeTensor): NativeTensor;
  softmax(z: NativeTensor): NativeTensor;
  softmaxCrossEntropy(z: NativeTensor, y: NativeTensor): number;
  softmaxCrossEntropyGradient(z: NativeTensor, y: NativeTensor): NativeTensor;
  softmaxCrossEntropyHessianProduct(z: NativeTensor, u: NativeTensor): NativeTensor;

  // --- random numbers ---
  randomUniform(shape: readonly number[], options: NativeRandomOptions): NativeTensor;
  randomNormal(shape: readonly number[], options: NativeRandomOptions): NativeTensor;

  // --- runtime ---
  devices(): NativeDeviceInfo[];
  /** 'OpenBLAS', 'CBLAS' or 'built-in'. */
  blasName(): string;
  blasAvailable(): boolean;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  getGemmImplementation(): 'blas' | 'builtin';
  setGemmImplementation(impl: 'blas' | 'builtin'): void;
  /** Copies a tensor into `out` on a worker thread; resolves when done. */
  readIntoAsync(tensor: NativeTensor, out: Float32Array | Float64Array | Int32Array): Promise<void>;
  /** Allocator statistics; device defaults to 'cpu'. */
  memoryStats(device?: string): NativeMemoryStats;
  /** Frees the allocator's cached blocks; returns the bytes released. */
  emptyCache(device?: string): number;
  /** The absolute path of the loaded .node file. */
  addonPath(): string;
}

let cached: NativeAddon | undefined;

function loadAddon(): NativeAddon {
  const override = process.env.NEWTON_CNN_ADDON;
  const where = override ? `NEWTON_CNN_ADDON=${override}` : "require('bindings')('newton_cnn')";
  try {
    if (override) {
      if (!path.isAbsolute(override)) {
        throw new Error(`NEWTON_CNN_ADDON must be an absolute path to newton_cnn.node, got '${override}'`);
      }
      return require(override) as NativeAddon;
    }
    const bindings = require('bindings') as (name: string) => unknown;
    return bindings('newton_cnn') as NativeAddon;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `newton-cnn: cannot load the native addon (${where}): ${message}\n` +
        'Build it with `npm run build:native` (needs CMake >= 3.18 and a C++17 compiler), ' +
        'or set NEWTON_CNN_ADDON to the absolute path of a built newton_cnn.node.',
      { cause: err },
    );
  }
}

/**
 * The loaded addon. It is loaded on first use, so that importing newton-cnn never fails;
 * a missing or broken build throws an Error saying how to build it.
 *
 * @example
 * native().blasName(); // 'OpenBLAS'
 */
export function native(): NativeAddon {
  if (!cached) cached = loadAddon();
  return cached;
}
