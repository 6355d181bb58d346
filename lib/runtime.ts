/**
 * Runtime information and settings: devices, the BLAS, threads, the GEMM and convolution
 * implementations, memory statistics.
 *
 * @packageDocumentation
 */
import * as fs from 'fs';
import * as path from 'path';

import { native, type CpuIsaName } from './native';
import type { DType } from './types';

/** One device kind the library knows, usable or not. */
export interface DeviceInfo {
  /** 'cpu', 'cuda:0', … or 'cuda' when CUDA is unavailable. */
  name: string;
  kind: 'cpu' | 'cuda';
  available: boolean;
  /** Libraries, threads, card name…; empty when unavailable. */
  description: string;
  /** Why the device is unavailable; empty when available. */
  reason: string;
}

/** Which GEMM the CPU backend uses: the linked BLAS or the built-in blocked kernel. */
export type GemmImplementation = 'blas' | 'builtin';
export type { CpuIsaName } from './native';

/**
 * Which implementation the CPU backend's float32 convolutions use: oneDNN (when it loaded; the
 * default then) or the built-in im2col + GEMM (always there; float64 always uses it).
 */
export type ConvImplementation = 'onednn' | 'builtin';

/** Whether oneDNN is there for the CPU convolutions, and which, or why not. */
export interface OneDnnInfo {
  available: boolean;
  /** '3.2.0' when available; else ''. */
  version: string;
  /** The library file loaded; else ''. */
  library: string;
  /**
   * Why oneDNN is unavailable (the build had no headers, or no libdnnl.so.3 could be loaded:
   * run scripts/install-onednn.sh, or set NEWTON_ONEDNN_LIBRARY); '' when available.
   */
  reason: string;
}

/** What {@link info} reports. */
export interface RuntimeInfo {
  /** The package version (package.json). */
  version: string;
  /** The BLAS the build linked: 'OpenBLAS', 'CBLAS' or 'built-in'. */
  blas: string;
  /** Whether the build linked a LAPACK, so that symmetricEigen works (lib/linalg.ts). */
  lapack: boolean;
  /** Threads of the CPU backend. */
  threads: number;
  /** The GEMM implementation in use. */
  gemm: GemmImplementation;
  /** The convolution implementation in use (float32 on the CPU). */
  conv: ConvImplementation;
  /** oneDNN's version, or why it is absent. */
  onednn: OneDnnInfo;
  /** The absolute path of the loaded native addon (.node). */
  addon: string;
  /** The vector ISA the CPU kernels run ({@link setCpuIsa}) and those the processor has. */
  cpuIsa: { active: CpuIsaName; supported: CpuIsaName[] };
}

/** Allocator statistics of one device. */
export interface MemoryStats {
  /** Bytes held by live tensors. */
  bytesInUse: number;
  /** The most bytes ever in use at once. */
  peakBytesInUse: number;
  /** Freed bytes the allocator keeps for reuse. */
  bytesCached: number;
  /** Allocations made so far. */
  allocations: number;
  /**
   * The most bytes the allocator keeps cached for reuse (Infinity where only a failed allocation
   * empties the cache, as on CUDA). CPU default: the work's own peak, peakBytesInUse (a
   * pass that repeats finds every block it freed, and the process never caches more than its
   * working set has needed); NEWTON_CPU_CACHE_BYTES fixes it instead.
   */
  cacheLimitBytes: number;
}

/**
 * Every device kind: always 'cpu' (its description names the BLAS and the threads), and
 * CUDA devices, or one unavailable 'cuda' entry saying why.
 *
 * @example
 * devices().filter((d) => d.available).map((d) => d.name); // ['cpu']
 */
export function devices(): DeviceInfo[] {
  return native().devices();
}

let packageVersion: string | undefined;

// The version of the newton-cnn package.json above this file (lib/ or dist/lib/).
function readVersion(): string {
  if (packageVersion !== undefined) return packageVersion;
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'newton-cnn' && typeof pkg.version === 'string') {
        packageVersion = pkg.version;
        return packageVersion;
      }
    } catch {
      // not here: look further up
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  packageVersion = 'unknown';
  return packageVersion;
}

/**
 * The package version, the BLAS, whether LAPACK is there, the thread count, the GEMM and the
 * convolution implementation in use, oneDNN's version (or why it is absent) and the addon's path.
 *
 * @example
 * info(); // { version: '0.1.0', blas: 'OpenBLAS', lapack: true, threads: 8, gemm: 'blas', conv: 'onednn', onednn: { available: true, version: '3.2.0', … }, addon: '/…/newton_cnn.node' }
 */
export function info(): RuntimeInfo {
  const n = native();
  return {
    version: readVersion(),
    blas: n.blasName(),
    lapack: n.lapackAvailable(),
    threads: n.getNumThreads(),
    gemm: n.getGemmImplementation(),
    conv: n.getConvImplementation(),
    onednn: n.oneDnnInfo(),
    addon: n.addonPath(),
    cpuIsa: { active: n.getCpuIsa(), supported: n.supportedCpuIsas() },
  };
}

/**
 * Sets the CPU backend's thread count (an integer from 1 to 256; also OpenBLAS's). Results
 * do not depend on it.
 */
export function setNumThreads(n: number): void {
  native().setNumThreads(n);
}

/** The CPU backend's thread count. */
export function getNumThreads(): number {
  return native().getNumThreads();
}

/**
 * Chooses the vector instructions of the CPU kernels (element-wise, reductions, per-channel,
 * pooling, losses, fused ops): 'baseline' (SSE2, every x86-64), 'avx2' (AVX2 + FMA) or
 * 'avx512' (F, BW, VL, DQ). The default is the best the processor runs, or the environment
 * variable NEWTON_CPU_ISA. Results are the same bits for every ISA; a RangeError names the
 * ISA and what the processor runs when it lacks it.
 *
 * @example
 * setCpuIsa('avx2');
 */
export function setCpuIsa(isa: CpuIsaName): void {
  native().setCpuIsa(isa);
}

/** The vector ISA the CPU kernels use ({@link setCpuIsa}). */
export function getCpuIsa(): CpuIsaName {
  return native().getCpuIsa();
}

/**
 * Chooses the CPU GEMM: 'blas' (the linked BLAS; RangeError when the build has none) or
 * 'builtin' (the blocked kernel).
 */
export function setGemmImplementation(impl: GemmImplementation): void {
  native().setGemmImplementation(impl);
}

/** The CPU GEMM in use. */
export function getGemmImplementation(): GemmImplementation {
  return native().getGemmImplementation();
}

/**
 * Chooses the CPU backend's float32 convolutions: 'onednn' (RangeError naming why when oneDNN is
 * unavailable; see {@link oneDnnAvailable}) or 'builtin' (im2col + GEMM). Results agree to
 * rounding; float64 always runs the built-in path.
 */
export function setConvImplementation(impl: ConvImplementation): void {
  native().setConvImplementation(impl);
}

/** The CPU convolution implementation in use. */
export function getConvImplementation(): ConvImplementation {
  return native().getConvImplementation();
}

/** Whether oneDNN loaded, so that setConvImplementation('onednn') works ({@link info}`().onednn` says why not). */
export function oneDnnAvailable(): boolean {
  return native().oneDnnInfo().available;
}

/** Whether the build linked a BLAS (so that setGemmImplementation('blas') works). */
export function blasAvailable(): boolean {
  return native().blasAvailable();
}

/**
 * The allocator statistics of `device` ('cpu' default, 'cuda', 'cuda:N'); Error for a
 * device that is not available.
 */
export function memoryStats(device?: string): MemoryStats {
  return native().memoryStats(device);
}

/**
 * Returns the memory that `device`'s allocator keeps for reuse ('cpu' default) to the
 * system, and says how many bytes that was. Both allocators cache freed blocks, because
 * training allocates the same sizes every step; call this after a large job to shrink the
 * process. Tensors still alive are not affected.
 *
 * @example
 * const freed = emptyCache(); // bytes
 */
export function emptyCache(device?: string): number {
  return native().emptyCache(device);
}

/**
 * Turns the debug checks on or off: checks of data the library produced itself, which cost a
 * pass over the data (and on a GPU a host synchronisation), so they are off by default. Today
 * they verify that every max-pool argmax passed to maxPool2dBackward, maxPool2dReluBackward or
 * maxPool2dJvp lies inside its output's pooling window. NEWTON_DEBUG_CHECKS=1 turns them on at
 * start-up.
 *
 * @example
 * setDebugChecks(true); // while developing a custom layer
 */
export function setDebugChecks(on: boolean): void {
  native().setDebugChecks(on);
}

/** Whether the debug checks are on (see {@link setDebugChecks}). */
export function getDebugChecks(): boolean {
  return native().getDebugChecks();
}

/**
 * The ops `device` ('cpu' default) runs, each with the dtypes it runs them in, read from the
 * device's kernel table: e.g. `{ conv2d: ['float32', 'float64'], ... }` on the CPU and
 * `{ conv2d: ['float32'], ... }` on CUDA.
 */
export function supportedOps(device?: string): Record<string, DType[]> {
  return native().supportedOps(device);
}
