/**
 * Runtime information and settings: devices, the BLAS, threads, the GEMM implementation,
 * memory statistics.
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
   * empties the cache, as on CUDA). CPU default: a quarter of the memory, at most 8 GiB;
   * NEWTON_CPU_CACHE_BYTES sets it.
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
 * The package version, the BLAS, whether LAPACK is there, the thread count, the GEMM in use and
 * the addon's path.
 *
 * @example
 * info(); // { version: '0.1.0', blas: 'OpenBLAS', lapack: true, threads: 8, gemm: 'blas', addon: '/…/newton_cnn.node' }
 */
export function info(): RuntimeInfo {
  const n = native();
  return {
    version: readVersion(),
    blas: n.blasName(),
    lapack: n.lapackAvailable(),
    threads: n.getNumThreads(),
    gemm: n.getGemmImplementation(),
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
