/**
 * The native addon (build/Release/newton_cnn.node): its typed surface and its loader.
 *
 * The ops are declared once in C++ (native/core/ops/*.h); their TypeScript declarations,
 * {@link NativeOps}, are generated from those declarations into lib/native-ops.ts. The rest of
 * the surface (tensor creation, runtime functions) is declared here. The addon checks the JS
 * type of every argument (TypeError), the core checks shapes, dtypes, devices and values
 * (RangeError), and everything else is an Error (README.md, "Errors").
 *
 * @packageDocumentation
 */
import * as path from 'path';

import { OutOfMemoryError } from './errors';
import type { NativeOps } from './native-ops';
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
/** Options of the random fills: the stream (seed, offset) and where the tensor goes. */
export interface NativeRandomOptions {
  seed: number;
  offset?: number;
  dtype?: DType;
  device?: string;
}
/** Options of randomUniform. */
export interface NativeUniformOptions extends NativeRandomOptions {
  low?: number;
  high?: number;
}
/** Options of randomNormal. */
export interface NativeNormalOptions extends NativeRandomOptions {
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
  cacheLimitBytes: number;
  allocations: number;
}

/** Options of symmetricEigen. */
export interface NativeSymmetricEigenOptions {
  /** Also compute the eigenvectors (default false). */
  vectors?: boolean;
}
/** What symmetricEigen returns (new arrays, of the addon's realm). */
export interface NativeSymmetricEigenResult {
  /** The n eigenvalues, ascending. */
  values: Float64Array;
  /** With options.vectors: n·n, row-major, column j the unit eigenvector of values[j]. */
  vectors?: Float64Array;
}

/** One argument of an op, as its declaration describes it. */
export interface NativeOpArgument {
  name: string;
  /** Its TypeScript type in lib/native-ops.ts. */
  type: string;
  /** Whether it may be left out (null or undefined). */
  optional: boolean;
}
/** What opSchemas() says of one op (native/core/op.h, note [op declarations]). */
export interface NativeOpSchema {
  name: string;
  /** 'forward', 'vjp', 'jvp', 'fused' or 'utility'. */
  pass: 'forward' | 'vjp' | 'jvp' | 'fused' | 'utility';
  /** For a vjp, jvp or fused pass: the op it belongs to ('' otherwise). */
  of: string;
  /** For a vjp or jvp: the input of `of` it differentiates ('all' for every input; '' otherwise). */
  wrt: string;
  doc: string;
  /** True when the op is built from other ops' kernels (it has none of its own). */
  composite: boolean;
  args: NativeOpArgument[];
  /** Its TypeScript result type. */
  returns: string;
}

/** The whole native surface of newton_cnn.node: every op, plus tensors and the runtime. */
export interface NativeAddon extends NativeOps {
  /** The class of native tensors (not constructible from JS). */
  readonly NativeTensor: abstract new () => NativeTensor;

  // --- tensors ---
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

  // --- the op declarations ---
  /** Every op's declaration: name, pass, arguments and result. */
  opSchemas(): NativeOpSchema[];
  /** {op name: the dtypes `device` (default 'cpu') runs it in}, from its backend's kernel table. */
  supportedOps(device?: string): Record<string, DType[]>;

  // --- runtime ---
  devices(): NativeDeviceInfo[];
  /** 'OpenBLAS', 'CBLAS' or 'built-in'. */
  blasName(): string;
  blasAvailable(): boolean;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  getGemmImplementation(): 'blas' | 'builtin';
  setGemmImplementation(impl: 'blas' | 'builtin'): void;
  getConvImplementation(): 'onednn' | 'builtin';
  /** RangeError naming why when 'onednn' is unavailable. */
  setConvImplementation(impl: 'onednn' | 'builtin'): void;
  /** Whether oneDNN loaded (native/core/cpu/onednn_library.cpp), its version and file, or why not. */
  oneDnnInfo(): { available: boolean; version: string; library: string; reason: string };
  /** The vector ISA of the CPU kernels (note [run-time ISA] in native/core/cpu/isa.h). */
  getCpuIsa(): CpuIsaName;
  setCpuIsa(isa: CpuIsaName): void;
  /** The ISAs this processor runs, 'baseline' first. */
  supportedCpuIsas(): CpuIsaName[];
  /** Copies a tensor into `out` on a worker thread; resolves when done. */
  readIntoAsync(tensor: NativeTensor, out: Float32Array | Float64Array | Int32Array): Promise<void>;
  /** Allocator statistics; device defaults to 'cpu'. */
  memoryStats(device?: string): NativeMemoryStats;
  /** Frees the allocator's cached blocks; returns the bytes released. */
  emptyCache(device?: string): number;
  /** Turns the checks of data the library produced itself (max-pool argmax) on or off. */
  setDebugChecks(on: boolean): void;
  getDebugChecks(): boolean;
  /** The profiler (native/core/profile.h; the public API is lib/profile.ts). */
  profileStart(): void;
  profileStop(): void;
  profileEnabled(): boolean;
  profileScopePush(name: string): void;
  profileScopePop(): void;
  profileReport(withRates: boolean): import('./profile').ProfileReport;
  profileWriteTrace(path: string): void;
  /** The absolute path of the loaded .node file. */
  addonPath(): string;
  /** The JS classes native errors become (set once by the loader). */
  setErrorClasses(classes: { OutOfMemoryError: new (message: string) => Error }): void;
  /**
   * This thread's tensors that still hold memory, and the bytes they reported to V8 as
   * external memory (given back exactly once: dispose, sweep or finalizer).
   */
  trackedTensors(): { live: number; reportedBytes: number };
  /** Frees the memory of tensors V8 has already collected (without waiting for their finalizers); returns how many. */
  sweepTensors(): number;

  // --- host linear algebra (native/core/lapack.h) ---
  /** Whether the build linked a LAPACK (so that symmetricEigen works). */
  lapackAvailable(): boolean;
  /**
   * The eigenvalues (ascending) and optionally eigenvectors of the symmetric n×n matrix `a`
   * (row-major), through LAPACK's dsyevd, synchronously; Error when the build has no LAPACK.
   */
  symmetricEigen(a: Float64Array, n: number, options?: NativeSymmetricEigenOptions): NativeSymmetricEigenResult;

  // --- host batch assembly (native/core/augment.h; lib/data/loader.ts) ---
  /** Writes the augmented batch of positions [start, start + order.length) into x, y (one-hot) and labelsOut. */
  augmentBatch(images: Float32Array, labels: Int32Array, order: Int32Array, options: NativeAugmentOptions, x: Float32Array, y: Float32Array, labelsOut: Int32Array): void;
  /** The same on a worker thread; resolves when the arrays are written. */
  augmentBatchAsync(images: Float32Array, labels: Int32Array, order: Int32Array, options: NativeAugmentOptions, x: Float32Array, y: Float32Array, labelsOut: Int32Array): Promise<void>;
  /** The draws [dy, dx, flip] of positions [start, start + count) (for tests). */
  augmentDraws(options: Omit<NativeAugmentOptions, 'classes' | 'start'>, start: number, count: number): Int32Array;

  // --- image files (native/core/image_codec.h, image_transform.h, image_batch.h; lib/data/image-folder.ts) ---
  /** The JPEG and PNG decoders this build linked (libjpeg-turbo's TurboJPEG, libpng), or why not. */
  imageCodecs(): NativeImageCodecs;
  /**
   * Decodes one JPEG or PNG held in `bytes` to interleaved (HWC) 8-bit pixels with `channels`
   * channels (1: luminance, 3: RGB; alpha dropped, palettes and 16-bit samples reduced to 8 bits).
   * @throws Error "decodeImage: <what is wrong>" for a corrupt, truncated or unsupported image.
   */
  decodeImage(bytes: Uint8Array, channels: 1 | 3): NativeDecodedImage;
  /**
   * Reads, decodes and transforms the images files[order[i]] of positions [start, start +
   * order.length) into the rows of x (CHW float32, pixel values 0..255 before normalisation), y
   * (one-hot) and labelsOut, on the core's thread pool. An image that cannot be read or decoded
   * does not stop the batch: it is left out, the rows after it move up, and it is reported in
   * `failed`; `count` is the number of rows written (the rows after them are 0 in x and y, −1 in
   * labelsOut). A bad call (options, labels, order, sizes) throws before anything is written.
   */
  imageBatch(files: string[], labels: Int32Array, order: Int32Array, options: NativeImageBatchOptions, x: Float32Array, y: Float32Array, labelsOut: Int32Array): NativeImageBatchResult;
  /** The same on a worker thread; a bad call rejects the promise (with the same TypeError / RangeError), never throws. */
  imageBatchAsync(files: string[], labels: Int32Array, order: Int32Array, options: NativeImageBatchOptions, x: Float32Array, y: Float32Array, labelsOut: Int32Array): Promise<NativeImageBatchResult>;
  /**
   * The crop windows of positions [start, start + count) for a source image of width × height:
   * Int32Array [top, left, height, width, flip] × count (for the tests' reference). The window is
   * in source pixels, except for 'center-crop', which cuts after resizing: its window is in the
   * resized image (shorter side resizeTo).
   */
  imageCropDraws(options: NativeImageBatchOptions, width: number, height: number, start: number, count: number): Int32Array;

  // --- fixed-size records streamed from files (native/core/record_batch.h; lib/data/records.ts) ---
  /**
   * augmentBatch for images read from disk: image order[i] of the source (its records counted
   * across source.files in order) is read with pread, its bytes converted to float (0..255),
   * then cropped, flipped and normalised exactly as augmentBatch does, into row i of x.
   * @throws Error "recordBatch: FILE: …" naming the file for a short read or an unreadable file.
   */
  recordBatch(source: NativeRecordSource, labels: Int32Array, order: Int32Array, options: NativeAugmentOptions, x: Float32Array, y: Float32Array, labelsOut: Int32Array): void;
  /** The same on a worker thread. */
  recordBatchAsync(source: NativeRecordSource, labels: Int32Array, order: Int32Array, options: NativeAugmentOptions, x: Float32Array, y: Float32Array, labelsOut: Int32Array): Promise<void>;

  // --- collectives between processes (native/core/comm.h; lib/distributed.ts) ---
  /** The MPI library this build linked (e.g. "Open MPI 4.1.4"), or null and why not. */
  mpiInfo(): { library: string } | { library: null; reason: string };
  /**
   * Joins the MPI job this process was started in (MPI_Init_thread; once per process: later
   * calls return the same). Outside mpirun it is a job of one. `timeoutSeconds`: a collective
   * that waits longer (a rank died or hangs) ends the whole job with a message naming the rank,
   * the collective and the wait (MPI_Abort).
   */
  mpiInit(timeoutSeconds: number): { rank: number; size: number; localRank: number; localSize: number; library: string };
  /**
   * The NCCL library of the CUDA backend (e.g. "NCCL 2.27.7"), or null and why it cannot be used:
   * no CUDA library, no NCCL in its build, or no GPU.
   */
  ncclInfo(): { library: string } | { library: null; reason: string };
  /**
   * Makes this process's NCCL communicator, on cuda:(localRank % GPUs), with every rank together
   * (once per process: later calls return the same and set the timeout); after mpiInit, which
   * carries NCCL's id. A collective waiting longer than `timeoutSeconds` aborts the communicator
   * and throws an Error naming the rank (the communicator cannot be used again).
   */
  ncclInit(timeoutSeconds: number): { rank: number; size: number; localRank: number; localSize: number; device: string; library: string };
  /** Sums a float32/float64 tensor over the ranks, in place (MPI_Allreduce; ncclAllReduce for a CUDA tensor after ncclInit). */
  commAllReduceSum(t: NativeTensor): void;
  /** Starts commAllReduceSum on the collective queue's thread; returns its ticket for commWait. */
  commAllReduceSumStart(t: NativeTensor): number;
  /** Waits for a started collective; throws its error. */
  commWait(ticket: number): void;
  /** Sums a Float64Array over the ranks, in place (for scalars: losses, counts). */
  commAllReduceSumArray(a: Float64Array): void;
  /** Copies root's tensor into every rank's (MPI_Bcast; ncclBroadcast for a CUDA tensor after ncclInit); shapes and dtypes must agree. */
  commBroadcast(t: NativeTensor, root: number): void;
  /** Waits for every rank (MPI_Barrier). */
  commBarrier(): void;
}

/**
 * Where the images of a record data set lie on disk: file k holds counts[k] records of
 * recordBytes bytes from byte offsets[k] on; a record's image is C·H·W bytes from imageOffset
 * within it, in `layout`: 'chw' (CIFAR, IDX: channel planes of rows) or 'hwc-columns' (MATLAB's
 * column-major H×W×C: byte (y, x, c) at c·H·W + x·H + y, SVHN's .mat).
 */
export interface NativeRecordSource {
  files: string[];
  offsets: number[];
  counts: number[];
  recordBytes: number;
  imageOffset: number;
  layout: 'chw' | 'hwc-columns';
  /**
   * The Newton paper's preprocessing before augmentation (lib/data/preprocess.ts
   * paperPreprocess): each image min-max scaled to [0, 1], then this C·H·W pixel mean subtracted.
   */
  paperMean?: Float32Array;
}

/** The decoders of the build: for each, the library and version, or null and why not. */
export interface NativeImageCodecs {
  jpeg: { library: string } | { library: null; reason: string };
  png: { library: string } | { library: null; reason: string };
}

/** One decoded image: HWC bytes. */
export interface NativeDecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * How imageBatch turns a file into a C×H×W input (note [image transforms] in
 * native/core/image_transform.h):
 *  - 'random-resized-crop': a window of area scale·(source area), scale uniform in `scale`, aspect
 *    ratio log-uniform in `ratio` (10 tries, then the central window of the clamped ratio),
 *    resized to size (the ImageNet training transform);
 *  - 'center-crop': the shorter side resized to `resizeTo`, then the central size window (the
 *    ImageNet evaluation transform: resizeTo 256, size 224);
 *  - 'stretch': the whole image resized to exactly size (nothing happens when it already is).
 * Resizing is bilinear, antialiased when shrinking (the triangle filter widened by the factor).
 */
export interface NativeImageBatchOptions {
  /** Channels of the output: 1 (luminance) or 3 (RGB). */
  channels: number;
  /** Output [height, width]. */
  size: [number, number];
  classes: number;
  /** Position in the epoch of order[0]. */
  start: number;
  seed: number;
  epoch: number;
  transform: 'random-resized-crop' | 'center-crop' | 'stretch';
  /** 'random-resized-crop': the area fraction range (default [0.08, 1]). */
  scale?: [number, number];
  /** 'random-resized-crop': the aspect ratio (w/h) range (default [3/4, 4/3]). */
  ratio?: [number, number];
  /** 'center-crop': the length of the shorter side before the crop. */
  resizeTo?: number;
  /** Horizontal flip with probability 1/2. */
  flip?: boolean;
  mean?: Float32Array;
  std?: Float32Array;
}

/** What imageBatch wrote, and the images it left out. */
export interface NativeImageBatchResult {
  count: number;
  failed: { position: number; file: string; message: string }[];
}

/** The options of augmentBatch: note [batch augmentation] in native/core/augment.h. */
export interface NativeAugmentOptions {
  shape: number[];
  classes: number;
  /** Position in the epoch of order[0]. */
  start: number;
  seed: number;
  epoch: number;
  crop?: { size: [number, number]; padding: number };
  flip?: boolean;
  mean?: Float32Array;
  std?: Float32Array;
}

let cached: NativeAddon | undefined;

/**
 * The environment variables read as whole numbers, with their domains. A value outside is an
 * Error when the addon loads (like a relative NEWTON_CNN_ADDON), naming the variable, the value
 * and what it must be: silently ignoring it would run with a setting the user did not ask for.
 * Unset or empty means the default.
 */
const INTEGER_VARIABLES: readonly { name: string; min: number; max: number; what: string; unset: string }[] = [
  { name: 'NEWTON_NUM_THREADS', min: 1, max: 256, what: 'an integer from 1 to 256', unset: 'to use every core' },
  { name: 'NEWTON_CPU_CACHE_BYTES', min: 0, max: Number.MAX_SAFE_INTEGER, what: 'a whole number of bytes', unset: 'for the default (the peak of the memory in use)' },
  { name: 'NEWTON_POOL_SPIN_US', min: 0, max: 1_000_000, what: 'a whole number of microseconds from 0 to 1000000', unset: 'for the default (50; 0 = the pool never spins)' },
  { name: 'NEWTON_MEMORY_LIMIT_BYTES', min: 1, max: Number.MAX_SAFE_INTEGER, what: 'a positive whole number of bytes', unset: 'for no limit beyond the memory available' },
];

/** The vector ISAs of the CPU kernels, from the oldest processors' to the newest's. */
export type CpuIsaName = 'baseline' | 'avx2' | 'avx512';
export const CPU_ISAS: readonly CpuIsaName[] = ['baseline', 'avx2', 'avx512'];

/**
 * Throws an Error for a malformed variable of {@link INTEGER_VARIABLES} or a NEWTON_CPU_ISA
 * that names no ISA. @internal
 */
export function checkEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  const isa = env.NEWTON_CPU_ISA;
  if (isa !== undefined && isa !== '' && !(CPU_ISAS as readonly string[]).includes(isa)) {
    throw new Error(`newton-cnn: environment variable NEWTON_CPU_ISA must be one of ${CPU_ISAS.join(', ')}, got '${isa}' (unset it for the best the processor runs)`);
  }
  for (const v of INTEGER_VARIABLES) {
    const raw = env[v.name];
    if (raw === undefined || raw === '') continue;
    const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
    if (!(Number.isSafeInteger(n) && n >= v.min && n <= v.max)) {
      throw new Error(`newton-cnn: environment variable ${v.name} must be ${v.what}, got '${raw}' (unset it ${v.unset})`);
    }
  }
}

function loadAddon(): NativeAddon {
  checkEnvironment();
  const override = process.env.NEWTON_CNN_ADDON;
  const where = override ? `NEWTON_CNN_ADDON=${override}` : `require('bindings'): build/Release, then prebuilds/${process.platform}-${process.arch}`;
  try {
    if (override) {
      if (!path.isAbsolute(override)) {
        throw new Error(`NEWTON_CNN_ADDON must be an absolute path to newton_cnn.node, got '${override}'`);
      }
      return require(override) as NativeAddon;
    }
    // A local build (build/Release, from `npm run build:native` or an install that compiled)
    // first, then the prebuilt addon the npm package carries for this platform
    // (prebuilds/linux-x64/newton_cnn.node, made by scripts/prebuild.js; CPU backend only).
    const bindings = require('bindings') as (options: { bindings: string; try: string[][] }) => unknown;
    return bindings({
      bindings: 'newton_cnn',
      try: [
        ['module_root', 'build', 'Release', 'bindings'],
        ['module_root', 'build', 'Debug', 'bindings'],
        ['module_root', 'build', 'bindings'],
        ['module_root', 'prebuilds', `${process.platform}-${process.arch}`, 'bindings'],
      ],
    }) as NativeAddon;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `newton-cnn: cannot load the native addon (${where}): ${message}\n` +
        'Build it with `npm run build:native` (needs CMake >= 3.18 and a C++17 compiler; in a project ' +
        'that depends on newton-cnn: `NEWTON_BUILD_FROM_SOURCE=1 npm rebuild newton-cnn`), ' +
        'or set NEWTON_CNN_ADDON to the absolute path of a built newton_cnn.node.',
      { cause: err },
    );
  }
}

/**
 * NEWTON_CPU_ISA (checked for spelling by checkEnvironment) names an ISA the processor may not
 * run, which only the addon knows: an Error naming the variable then, rather than the core's
 * silent fallback to the best supported ISA.
 */
function applyCpuIsaVariable(addon: NativeAddon): void {
  const isa = process.env.NEWTON_CPU_ISA;
  if (isa === undefined || isa === '' || typeof addon.setCpuIsa !== 'function') return;
  if (!addon.supportedCpuIsas().includes(isa as CpuIsaName)) {
    throw new Error(
      `newton-cnn: environment variable NEWTON_CPU_ISA asks for '${isa}', which this processor does not run ` +
        `(it runs: ${addon.supportedCpuIsas().join(', ')}; unset it for the best of them)`,
    );
  }
  addon.setCpuIsa(isa as CpuIsaName);
}

/**
 * The loaded addon. It is loaded on first use, so that importing newton-cnn never fails;
 * a missing or broken build throws an Error saying how to build it.
 *
 * @example
 * native().blasName(); // 'OpenBLAS'
 */
export function native(): NativeAddon {
  if (!cached) {
    const addon = loadAddon();
    // An older build (NEWTON_CNN_ADDON) lacks it; its out-of-memory errors stay plain RangeErrors.
    if (typeof addon.setErrorClasses === 'function') addon.setErrorClasses({ OutOfMemoryError });
    applyCpuIsaVariable(addon);
    cached = addon;
  }
  return cached;
}
