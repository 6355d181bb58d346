// Shared test utilities: seeded data, tolerant comparison with useful messages, a central
// finite-difference gradient checker, and the per-backend test registration.
import * as util from 'util';
import { Tensor, devices, getConvImplementation, getCpuIsa, info, memoryStats, setConvImplementation, setCpuIsa } from '../lib';
import type { CpuIsaName } from '../lib';
import type { DType } from '../lib';
import { CPU_ISAS, native } from '../lib/native';
import { randData, roundTo } from './cases/data';

export type FloatDType = 'float32' | 'float64';

// --- seeded data (shared with the op cases and the benchmarks) -------------------------------
export { prng, randData, randDistribution, roundTo } from './cases/data';

export function typed(dtype: DType, x: ArrayLike<number>): Float32Array | Float64Array | Int32Array {
  if (dtype === 'float32') return Float32Array.from(x);
  if (dtype === 'int32') return Int32Array.from(x);
  return Float64Array.from(x);
}

// A tensor holding `x` (rounded to dtype) with the given shape on `device`.
export function tensor(x: ArrayLike<number>, shape: readonly number[], dtype: DType = 'float64', device = 'cpu'): Tensor {
  return Tensor.from(typed(dtype, x), { shape, dtype, device });
}

// Random tensor plus the float64 values it holds.
export function randTensor(shape: readonly number[], seed: number, dtype: DType = 'float64', device = 'cpu', scale = 1): { t: Tensor; v: Float64Array } {
  const v = roundTo(dtype, randData(shape.reduce((a, b) => a * b, 1), seed, scale));
  return { t: tensor(v, shape, dtype, device), v };
}

export function f64(t: Tensor): Float64Array {
  return Float64Array.from(t.toArray() as ArrayLike<number>);
}

export function isTypedArrayOf(a: unknown, kind: 'Float32Array' | 'Float64Array' | 'Int32Array'): boolean {
  // Never `instanceof`: jest runs tests in another realm than the addon's typed arrays.
  if (!ArrayBuffer.isView(a)) return false;
  if (kind === 'Float32Array') return util.types.isFloat32Array(a);
  if (kind === 'Float64Array') return util.types.isFloat64Array(a);
  return util.types.isInt32Array(a);
}

// --- comparison -------------------------------------------------------------------------------
export interface Tol {
  rtol: number;
  atol: number;
}

// |a − e| ≤ atol + rtol·|e| element-wise; NaN must match NaN, ±Infinity must match exactly.
// The message names the first failing index, both values and the worst error overall.
export function expectClose(actual: ArrayLike<number> | number, expected: ArrayLike<number> | number, tol: Tol, what = ''): void {
  const a = typeof actual === 'number' ? [actual] : actual;
  const e = typeof expected === 'number' ? [expected] : expected;
  const label = what ? `${what}: ` : '';
  if (a.length !== e.length) throw new Error(`${label}length ${a.length} but expected ${e.length}`);
  let bad = 0, first = -1, worst = 0, worstIdx = -1;
  for (let i = 0; i < e.length; i++) {
    const ai = Number(a[i]), ei = Number(e[i]);
    let ok: boolean;
    if (Number.isNaN(ei) || Number.isNaN(ai)) ok = Number.isNaN(ei) && Number.isNaN(ai);
    else if (!Number.isFinite(ei) || !Number.isFinite(ai)) ok = ai === ei;
    else {
      const err = Math.abs(ai - ei);
      const lim = tol.atol + tol.rtol * Math.abs(ei);
      ok = err <= lim;
      if (err / lim > worst) {
        worst = err / lim;
        worstIdx = i;
      }
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) {
    const ai = Number(a[first]), ei = Number(e[first]);
    throw new Error(
      `${label}${bad} of ${e.length} elements differ (rtol ${tol.rtol}, atol ${tol.atol}); ` +
        `first at index ${first}: got ${ai}, expected ${ei} (|diff| ${Math.abs(ai - ei)}); ` +
        (worstIdx >= 0 ? `worst at index ${worstIdx}: got ${Number(a[worstIdx])}, expected ${Number(e[worstIdx])} (${worst.toFixed(1)}× the tolerance)` : ''),
    );
  }
}

export function expectEqualArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, what = ''): void {
  expectClose(actual, expected, { rtol: 0, atol: 0 }, what);
}

export function dotF64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

// --- finite differences -----------------------------------------------------------------------
// Checks a backward against central differences of the forward, in float64:
//   L(x) = ⟨forward(x), r⟩ for a fixed random r, v a random direction,
//   ⟨backward(r), v⟩ ≈ (L(x + h v) − L(x − h v)) / 2h.
// `forward` maps the input values to output values (it may call the library); `backward`
// maps the output cotangent r to dL/dx. Truncation error is O(h²), rounding O(ε/h): with
// h = 1e-6 and O(1) data the error is ~1e-9 relative, hence the default rtol 1e-6.
export function checkGradient(
  forward: (x: Float64Array) => Float64Array | number,
  backward: (r: Float64Array) => Float64Array,
  x: Float64Array,
  opts: { seed?: number; h?: number; rtol?: number; atol?: number; what?: string } = {},
): void {
  const seed = opts.seed ?? 12345, h = opts.h ?? 1e-6;
  const y0 = forward(x);
  const outLen = typeof y0 === 'number' ? 1 : y0.length;
  const r = typeof y0 === 'number' ? Float64Array.of(1) : randData(outLen, seed + 1);
  const v = randData(x.length, seed + 2);
  const L = (xx: Float64Array) => {
    const y = forward(xx);
    return typeof y === 'number' ? y * r[0] : dotF64(y, r);
  };
  const xp = x.map((xi, i) => xi + h * v[i]);
  const xm = x.map((xi, i) => xi - h * v[i]);
  const fd = (L(xp) - L(xm)) / (2 * h);
  const g = backward(r);
  if (g.length !== x.length) throw new Error(`${opts.what ?? 'gradient'}: backward gave ${g.length} values for ${x.length} inputs`);
  const an = dotF64(g, v);
  const scale = Math.max(1, Math.abs(fd), Math.abs(an));
  const lim = (opts.atol ?? 0) + (opts.rtol ?? 1e-6) * scale;
  if (!(Math.abs(an - fd) <= lim)) {
    throw new Error(`${opts.what ?? 'gradient'}: ⟨backward(r), v⟩ = ${an} but finite differences give ${fd} (|diff| ${Math.abs(an - fd)} > ${lim})`);
  }
}

// --- backends ----------------------------------------------------------------------------------
// Tolerances per dtype for one backend. `exact` ops (add/sub/mul/relu) are correctly rounded
// by IEEE arithmetic on every backend; the others depend on the op (see each test file).
export interface BackendInfo {
  device: string;
  kind: 'cpu' | 'cuda';
  // dtypes to run: CPU both, CUDA float32 only (the GPU path is a float32 path; float64 on a
  // GPU is both slow and not what training uses).
  dtypes: FloatDType[];
  // Multiplier for the float32 tolerance of accumulating ops (GEMM, conv, pooling sums).
  // CPU: 1. CUDA: 20, because cuBLAS/cuDNN may reorder sums arbitrarily (split-K, Winograd/
  // FFT conv algorithms) and may use TF32 tensor cores, whose 10-bit mantissa gives ~1e-3
  // relative error.
  f32AccumFactor: number;
  // Multiplier for transcendental ops (softmax, exp/log in the cross-entropy): CUDA's fast
  // expf/logf are accurate to a few ulps rather than < 1 ulp.
  f32TransFactor: number;
}

export function backends(): BackendInfo[] {
  return devices()
    .filter((d) => d.available)
    .map((d) =>
      d.kind === 'cpu'
        ? { device: d.name, kind: 'cpu' as const, dtypes: ['float32', 'float64'] as FloatDType[], f32AccumFactor: 1, f32TransFactor: 1 }
        : { device: d.name, kind: 'cuda' as const, dtypes: ['float32'] as FloatDType[], f32AccumFactor: 20, f32TransFactor: 8 },
    );
}

// Registers `fn` once per device in devices(): a describe block per available device, and an
// explicitly skipped test naming the reason for every unavailable one.
export function describeEachBackend(name: string, fn: (b: BackendInfo) => void): void {
  const available = new Set(backends().map((b) => b.device));
  for (const b of backends()) describe(`${name} [${b.device}]`, () => fn(b));
  for (const d of devices()) {
    if (d.available || available.has(d.name)) continue;
    // Skipped on purpose, reason in the title: this device does not exist on this machine, and
    // the reason is the library's own (devices()[i].reason), so the report says why it did not run.
    test.skip(`${name} [${d.name}] skipped: ${d.reason}`, () => undefined);
  }
}

// Registers fn once per vector ISA of the CPU kernels (native/core/cpu/isa.h), with that ISA
// active for its tests; an ISA this processor lacks is reported as skipped, with the reason.
export function describeEachCpuIsa(name: string, fn: (isa: CpuIsaName) => void): void {
  const supported = getCpuIsaInfo().supported;
  for (const isa of CPU_ISAS) {
    if (!supported.includes(isa)) {
      // Nothing runs under an ISA the processor lacks; what can be checked is that it is refused.
      test(`${name} [${isa}]: refused, this processor runs only ${supported.join(', ')}`, () => expectCpuIsaRefused(isa, supported));
      continue;
    }
    describe(`${name} [${isa}]`, () => {
      let saved: CpuIsaName = 'baseline';
      beforeAll(() => {
        saved = getCpuIsa();
        setCpuIsa(isa);
      });
      afterAll(() => setCpuIsa(saved));
      fn(isa);
    });
  }
}

// Runs f with `isa` active, then restores the previous one.
export function withCpuIsa<R>(isa: CpuIsaName, f: () => R): R {
  const saved = getCpuIsa();
  setCpuIsa(isa);
  try {
    return f();
  } finally {
    setCpuIsa(saved);
  }
}

function getCpuIsaInfo(): { active: CpuIsaName; supported: CpuIsaName[] } {
  return info().cpuIsa;
}

// Tolerance for a sum of `k` products of O(1) float32 values. Rounding errors of a sum of k
// terms grow like sqrt(k)·ε (random walk) and its magnitude like sqrt(k), so an absolute
// tolerance of c·sqrt(k)·ε·|terms| with generous c, plus a relative part, is tight enough to
// catch a wrong index (errors O(1)) and loose enough for any summation order.
export function accumTol(dtype: FloatDType, k: number, b?: BackendInfo): Tol {
  if (dtype === 'float64') return { rtol: 1e-11, atol: 1e-11 * Math.sqrt(k + 1) };
  const f = b ? b.f32AccumFactor : 1;
  return { rtol: 2e-5 * f, atol: 2e-5 * f * Math.sqrt(k + 1) };
}

export function pairs<T, U>(xs: readonly T[], ys: readonly U[]): [T, U][] {
  const out: [T, U][] = [];
  for (const x of xs) for (const y of ys) out.push([x, y]);
  return out;
}

// Disposes every tensor passed (used in afterEach-free tests to keep memory flat).
export function disposeAll(...ts: (Tensor | null | undefined | { [k: string]: unknown })[]): void {
  for (const t of ts) {
    if (!t) continue;
    if (typeof (t as Tensor).dispose === 'function') (t as Tensor).dispose();
  }
}

// --- errors ----------------------------------------------------------------------------------------
// Checks the class of a thrown error by its name, not with `instanceof`: errors created by the
// native addon belong to Node's main realm while jest runs tests in a vm context, so
// `instanceof RangeError` (and jest's toThrow(RangeError)) can be false for a genuine
// RangeError. `name` is what the spec's class means, in any realm.
export type ErrorKind = 'TypeError' | 'RangeError' | 'Error';
export function expectThrow(fn: () => unknown, kind: ErrorKind, re?: RegExp): Error {
  let thrown: unknown = undefined;
  let threw = false;
  try {
    fn();
  } catch (e) {
    threw = true;
    thrown = e;
  }
  if (!threw) throw new Error(`expected a ${kind}${re ? ` matching ${re}` : ''}, but nothing was thrown`);
  const e = thrown as Error;
  const name = e && typeof e === 'object' ? e.name : typeof e;
  const message = e && typeof e === 'object' ? String(e.message) : String(e);
  if (name !== kind) throw new Error(`expected a ${kind}${re ? ` matching ${re}` : ''}, got ${name}: ${message}`);
  if (re && !re.test(message)) throw new Error(`expected a ${kind} matching ${re}, got ${name}: ${message}`);
  return e;
}

// --- CUDA tests ---------------------------------------------------------------------------------
// NEWTON_PARITY_DEVICE=cpu: a self-test of the CUDA harness without a GPU (the cases run cpu
// against cpu; cuda-only device tests stay skipped). Never set by test:gpu.
export const PARITY_SELFTEST = process.env.NEWTON_PARITY_DEVICE === 'cpu';
const cudaEntry = devices().find((d) => d.kind === 'cuda' && d.available);
/** The device CUDA tests run on ('cpu' in the self-test), or null without one. */
export const CUDA_DEVICE: string | null = PARITY_SELFTEST ? 'cpu' : cudaEntry ? cudaEntry.name : null;
const CUDA_REASON = CUDA_DEVICE ? '' : devices().find((d) => d.kind === 'cuda')?.reason || 'devices() lists no cuda entry';
const REQUIRE_CUDA = process.env.NEWTON_REQUIRE_CUDA === '1';
/** Whether the CUDA backend runs TF32 tensor-core math (NEWTON_CUDA_TF32=1): wider GEMM/conv bounds. */
export const TF32 = /^(1|true|on|yes)$/i.test(process.env.NEWTON_CUDA_TF32 ?? '');

// Registers one CUDA test: run when a device exists; otherwise skipped with the reason in its
// title, or failed when NEWTON_REQUIRE_CUDA=1 (what scripts/gpu-check.sh sets on a GPU machine).
export function cudaTest(title: string, fn: (device: string) => void | Promise<void>, cudaOnly = false): void {
  if (PARITY_SELFTEST && cudaOnly) {
    // Skipped on purpose, reason in the title: this case tests the CUDA device itself (its
    // allocator, float64 refusal, …), which the cpu-against-cpu self-test of the harness has not.
    test.skip(`${title} [cuda] skipped: NEWTON_PARITY_DEVICE=cpu self-test`, () => undefined);
  } else if (CUDA_DEVICE) {
    const device = CUDA_DEVICE;
    test(`${title} [${device}]`, async () => {
      await fn(device);
    });
  } else if (REQUIRE_CUDA) {
    test(`${title} [cuda] REQUIRED (NEWTON_REQUIRE_CUDA=1) but unavailable: ${CUDA_REASON}`, () => {
      throw new Error(`NEWTON_REQUIRE_CUDA=1 but no CUDA device is available: ${CUDA_REASON}`);
    });
  } else {
    // Skipped on purpose, reason in the title: no CUDA device on this machine (devices()' own
    // reason), so the report counts every CUDA case that did not run and says why.
    test.skip(`${title} [cuda] skipped: ${CUDA_REASON}`, () => undefined);
  }
}

// --- memory baselines ------------------------------------------------------------------------

/**
 * memoryStats(device).bytesInUse after a full GC (npm test runs node with --expose-gc) and a sweep
 * of the tensors it collected: a baseline for "every byte comes back" checks that a later sweep of
 * tensors forgotten by earlier tests (note [freeing forgotten tensors] in
 * native/napi/tensor_wrap.cpp) cannot lower.
 */
export function settledBytesInUse(device?: string): number {
  (global as { gc?: () => void }).gc?.();
  native().sweepTensors();
  return memoryStats(device).bytesInUse;
}

/**
 * CI (.ci/run) installs every optional prerequisite (sharp, the image decoders, MPI, mpirun), so
 * there a group that would skip for want of one is a failure: this test asserts that the group's
 * skip reason `why` is null. Outside CI (or when testing the prebuilt addon, NEWTON_CNN_ADDON) the
 * prerequisites are optional and the test is skipped, its title saying so.
 */
export function requiredInCi(group: string, why: string | null): void {
  const inCi = process.env.CI !== undefined && process.env.NEWTON_CNN_ADDON === undefined;
  const title = `CI runs ${group}${inCi ? '' : ' [skipped: outside CI its prerequisites are optional]'}`;
  (inCi ? test : test.skip)(title, () => {
    expect(why).toBeNull();
  });
}

/** setCpuIsa(isa) for an ISA the processor lacks: a RangeError naming it and what the processor runs, the ISA unchanged. */
export function expectCpuIsaRefused(isa: CpuIsaName, supported: readonly CpuIsaName[]): void {
  const before = getCpuIsa();
  const message = `setCpuIsa: this processor does not run '${isa}' (it runs: ${supported.join(', ')})`;
  expect(expectThrow(() => setCpuIsa(isa), 'RangeError').message).toBe(message);
  expect(getCpuIsa()).toBe(before);
}

/**
 * Where oneDNN did not load: the built-in convolutions are in use and choosing oneDNN is a
 * RangeError carrying the library's reason (what the oneDNN runs check instead of running).
 */
export function expectOneDnnRefused(): void {
  const { onednn } = info();
  expect(onednn.available).toBe(false);
  expect(onednn.reason.length).toBeGreaterThan(0);
  expect(getConvImplementation()).toBe('builtin');
  const e = expectThrow(() => setConvImplementation('onednn'), 'RangeError', /^setConvImplementation: impl 'onednn' is not available: /);
  expect(e.message).toContain(onednn.reason);
  expect(getConvImplementation()).toBe('builtin');
}
