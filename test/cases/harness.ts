// The runners' shared machinery (test/cases/case.ts): inputs, comparisons by Check, and the
// finite-difference checks. No jest in here: scripts/bench/ops.ts uses it too.
import { Tensor } from '../../lib';
import type { Check, Expected, FloatDType, InputSpec, OpCase, Outputs, Values } from './case';
import { awkwardData, numel, randData, randDistribution, roundTo } from './data';

// --- inputs ---------------------------------------------------------------------------------

/** A seed per (case, input): stable when cases are added elsewhere. */
function seedOf(c: OpCase, input: string): number {
  let h = 2166136261;
  for (const ch of `${c.op}/${c.name}/${input}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h % 1000003;
}

function valuesOf(spec: InputSpec, seed: number, plain: boolean): ArrayLike<number> {
  const n = numel(spec.shape);
  if (spec.values !== undefined) {
    if (spec.values.length !== n) throw new Error(`case input of shape [${spec.shape.join(', ')}] has ${spec.values.length} values`);
    return spec.values;
  }
  switch (spec.kind ?? 'generic') {
    case 'awkward':
      return plain ? randData(n, seed) : awkwardData(n, seed);
    case 'distribution': {
      const k = spec.shape[spec.shape.length - 1];
      return randDistribution(n / k, k, seed);
    }
    default:
      return randData(n, seed, spec.scale ?? 1);
  }
}

/**
 * The case's input values in `dtype` (int32 inputs as integers), as float64. `plain` gives
 * generic data instead of awkward (the benchmarks: subnormals take a slow path on most CPUs).
 */
export function inputValues(c: OpCase, dtype: FloatDType, plain = false): Values {
  const out: Values = {};
  for (const [name, spec] of Object.entries(c.inputs)) out[name] = roundTo(spec.int32 ? 'int32' : dtype, valuesOf(spec, seedOf(c, name), plain));
  return out;
}

/** Tensors holding `values` on `device`. */
export function upload(c: OpCase, values: Values, dtype: FloatDType, device: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, spec] of Object.entries(c.inputs)) {
    const v = values[name];
    const data = spec.int32 ? Int32Array.from(v) : dtype === 'float32' ? Float32Array.from(v) : v;
    out[name] = Tensor.from(data, { shape: spec.shape, device });
  }
  return out;
}

/** The absolute values of `values`. */
export function absolute(values: Values): Values {
  const out: Values = {};
  for (const [k, v] of Object.entries(values)) out[k] = v.map(Math.abs);
  return out;
}

export function disposeAll(...groups: (Record<string, unknown> | null | undefined)[]): void {
  for (const g of groups) {
    if (!g) continue;
    for (const v of Object.values(g)) if (v instanceof Tensor) v.dispose();
  }
}

// --- comparisons ----------------------------------------------------------------------------

const UNIT_ROUNDOFF: Record<FloatDType, number> = { float32: 2 ** -24, float64: 2 ** -53 };

function read(v: Tensor | number | Float64Array | Int32Array): Float64Array {
  if (typeof v === 'number') return Float64Array.of(v);
  if (v instanceof Tensor) return Float64Array.from(v.toArray() as ArrayLike<number>);
  return Float64Array.from(v);
}

function at(m: Float64Array | number, i: number): number {
  return typeof m === 'number' ? m : m[i];
}

// The same bits as the dtype holds them (−0 ≠ +0; every NaN equal).
function sameBits(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Object.is(a, b);
}

/**
 * Why `actual` does not satisfy `check` against `expected` (the reference, or the CPU's
 * result in parity mode), or null when it does. `reference` says whether `expected` is the
 * float64 reference (rounded to the dtype for an exact check) or another backend's result.
 */
export function mismatch(
  actual: Tensor | number,
  expected: Tensor | number | Float64Array | Int32Array,
  check: Check,
  dtype: FloatDType,
  reference: boolean,
  tf32 = false,
): string | null {
  const a = read(actual);
  let e = read(expected);
  if (a.length !== e.length) return `${a.length} elements, expected ${e.length}`;
  if (check.kind === 'exact' && reference && !(expected instanceof Int32Array)) e = roundTo(dtype, e);
  const u = UNIT_ROUNDOFF[dtype];
  let bad = 0;
  let first = -1;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < e.length; i++) {
    let ok: boolean;
    let ratio = 0;
    if (check.kind === 'exact') {
      ok = sameBits(a[i], e[i]);
    } else if (!Number.isFinite(e[i]) || !Number.isFinite(a[i])) {
      ok = sameBits(a[i], e[i]);
    } else {
      let bound: number;
      if (check.kind === 'accum') {
        bound = 4 * Math.sqrt(check.k) * u * at(check.mag, i) + 2 * u * Math.abs(e[i]) + (tf32 ? 2 ** -10 * at(check.mag, i) : 0);
      } else if (check.kind === 'double') {
        bound = 2 * check.n * 2 ** -53 * at(check.absSum, i) + (check.rounded ? 2 * u * Math.abs(e[i]) : 0);
      } else {
        bound = check.atol + check.rtol * Math.abs(e[i]);
      }
      const err = Math.abs(a[i] - e[i]);
      ok = err <= bound;
      ratio = bound > 0 ? err / bound : err > 0 ? Infinity : 0;
    }
    if (ratio > worst) {
      worst = ratio;
      worstAt = i;
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad === 0) return null;
  return (
    `${bad} of ${e.length} elements differ (${check.kind}); first at index ${first}: got ${a[first]}, expected ${e[first]}` +
    (worstAt >= 0 && check.kind !== 'exact' ? `; worst at index ${worstAt}: ${worst.toFixed(2)}× the bound` : '')
  );
}

/** Runs the case on `device` in `dtype` and checks every output against the reference. */
export function checkAgainstReference(c: OpCase, dtype: FloatDType, device: string): void {
  const values = inputValues(c, dtype);
  const t = upload(c, values, dtype, device);
  let out: Outputs | null = null;
  try {
    out = c.run(t, dtype, device);
    const expected = c.reference(values, dtype);
    const checks = c.check({ dtype, values, magnitude: () => c.reference(absolute(values), dtype) });
    compareOutputs(c, out, expected, checks, dtype, true, false);
    // the inputs are left as they were
    for (const [name, tensor] of Object.entries(t)) {
      const why = mismatch(tensor, values[name], { kind: 'exact' }, dtype, false);
      if (why) throw new Error(`${c.op} (${c.name}): input ${name} changed: ${why}`);
    }
  } finally {
    disposeAll(t, out);
  }
}

/** Runs the case on the CPU and on `device` from the same float32 inputs and compares. */
export function checkParity(c: OpCase, device: string, tf32: boolean): void {
  const dtype: FloatDType = 'float32';
  const values = inputValues(c, dtype);
  const tc = upload(c, values, dtype, 'cpu');
  const tg = upload(c, values, dtype, device);
  let oc: Outputs | null = null;
  let og: Outputs | null = null;
  try {
    oc = c.run(tc, dtype, 'cpu');
    og = c.run(tg, dtype, device);
    for (const v of Object.values(og)) {
      if (v instanceof Tensor && v.device !== device) throw new Error(`${c.op} (${c.name}): an output is on ${v.device}, not ${device}`);
    }
    const checks = c.check({ dtype, values, magnitude: () => c.reference(absolute(values), dtype) });
    compareOutputs(c, og, oc, checks, dtype, false, tf32);
  } finally {
    disposeAll(tc, tg, oc, og);
  }
}

function compareOutputs(
  c: OpCase,
  actual: Outputs,
  expected: Outputs | Expected,
  checks: Record<string, Check>,
  dtype: FloatDType,
  reference: boolean,
  tf32: boolean,
): void {
  const names = Object.keys(expected).sort();
  const got = Object.keys(actual).sort();
  if (names.join() !== got.join()) throw new Error(`${c.op} (${c.name}): outputs ${got.join(', ')}, expected ${names.join(', ')}`);
  for (const name of names) {
    const a = actual[name];
    const e = expected[name];
    const check = checks[name];
    if (check === undefined) throw new Error(`${c.op} (${c.name}): no check for output ${name}`);
    if (a instanceof Tensor && e instanceof Tensor && (a.dtype !== e.dtype || a.shape.join() !== e.shape.join())) {
      throw new Error(`${c.op} (${c.name}) ${name}: ${a.dtype} ${a.shape.join('x')}, expected ${e.dtype} ${e.shape.join('x')}`);
    }
    const why = mismatch(a, e, check, dtype, reference, tf32);
    if (why) throw new Error(`${c.op} (${c.name}) ${name}: ${why}`);
  }
}

// --- finite differences -------------------------------------------------------------------------

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function tensor64(values: ArrayLike<number>, shape: readonly number[]): Tensor {
  return Tensor.from(Float64Array.from(values), { shape });
}

function valueOf(out: Tensor | number): Float64Array {
  const v = read(out);
  if (out instanceof Tensor) out.dispose();
  return v;
}

/**
 * The derivative checks of a case, in float64 on the CPU:
 *  - vjp: ⟨vjp(r)_w, v⟩ against the central difference (L(x + hv) − L(x − hv))/2h of
 *    L = ⟨forward, r⟩, for every input w of `wrt`, r and v random;
 *  - jvp: against the central difference of forward along random tangents of `wrt`;
 *  - both: the adjoint identity ⟨r, jvp(v)⟩ = Σ_w ⟨vjp(r)_w, v_w⟩.
 * h = 1e-6 on O(1) data: truncation O(h²·f''') ~ 1e-12, rounding ~ε/h ~ 1e-10 relative, so
 * rtol 1e-6 of max(1, |values|) leaves a wide margin while a wrong index, a missing term or a
 * wrong scale gives O(1) errors. Generic data (test/cases/data.ts) keeps kinks and ties away.
 */
export function checkDerivatives(c: OpCase): void {
  const g = c.grad;
  if (!g) return;
  const values = inputValues(c, 'float64');
  const shapeOf = (name: string) => c.inputs[name].shape;
  const make = (override: Record<string, Float64Array> = {}): Record<string, Tensor> => {
    const t: Record<string, Tensor> = {};
    for (const [name, spec] of Object.entries(c.inputs)) {
      const v = override[name] ?? values[name];
      t[name] = spec.int32 ? Tensor.from(Int32Array.from(v), { shape: spec.shape }) : tensor64(v, spec.shape);
    }
    return t;
  };
  const evaluate = (override: Record<string, Float64Array> = {}): Float64Array => {
    const t = make(override);
    try {
      return valueOf(g.forward(t));
    } finally {
      disposeAll(t);
    }
  };
  const h = 1e-6;
  const y0 = evaluate();
  const r = randData(y0.length, 4242);
  const tangents: Record<string, Float64Array> = {};
  g.wrt.forEach((w, i) => (tangents[w] = randData(values[w].length, 777 + i)));
  const shifted = (s: number, only?: string): Record<string, Float64Array> => {
    const o: Record<string, Float64Array> = {};
    for (const w of only ? [only] : g.wrt) o[w] = values[w].map((x, i) => x + s * h * tangents[w][i]);
    return o;
  };
  const close = (an: number, fd: number, what: string): void => {
    const lim = 1e-6 * Math.max(1, Math.abs(fd), Math.abs(an));
    if (!(Math.abs(an - fd) <= lim)) throw new Error(`${c.op} (${c.name}) ${what}: analytic ${an} but finite differences give ${fd} (|diff| ${Math.abs(an - fd)} > ${lim})`);
  };

  let vjpDot = 0;
  if (g.vjp) {
    const t = make();
    const rt = tensor64(r, outputShape(g, t, y0.length));
    let grads: Record<string, Tensor> | null = null;
    try {
      grads = g.vjp(t, rt);
      for (const w of g.wrt) {
        const gw = grads[w];
        if (!gw) throw new Error(`${c.op} (${c.name}): vjp gave no gradient for ${w}`);
        if (gw.shape.join() !== shapeOf(w).join()) throw new Error(`${c.op} (${c.name}): the gradient of ${w} has shape ${gw.shape.join('x')}, expected ${shapeOf(w).join('x')}`);
        const an = dot(read(gw), tangents[w]);
        vjpDot += an;
        const fd = (dot(evaluate(shifted(1, w)), r) - dot(evaluate(shifted(-1, w)), r)) / (2 * h);
        close(an, fd, `gradient with respect to ${w}`);
      }
    } finally {
      disposeAll(t, grads);
      rt.dispose();
    }
  }
  if (g.jvp) {
    const t = make();
    const tt: Record<string, Tensor> = {};
    for (const w of g.wrt) tt[w] = tensor64(tangents[w], shapeOf(w));
    try {
      const jv = valueOf(g.jvp(t, tt));
      const plus = evaluate(shifted(1));
      const minus = evaluate(shifted(-1));
      const fd = plus.map((p, i) => (p - minus[i]) / (2 * h));
      if (jv.length !== fd.length) throw new Error(`${c.op} (${c.name}): jvp gave ${jv.length} values, expected ${fd.length}`);
      // ⟨r, ·⟩ compresses the check; each element is checked too (a wrong position cancels in no sum)
      close(dot(jv, r), dot(fd, r), 'R-operator ⟨r, Jv⟩');
      for (let i = 0; i < fd.length; i++) close(jv[i], fd[i], `R-operator element ${i}`);
      if (g.vjp) {
        const lim = 1e-10 * Math.max(1, Math.abs(vjpDot));
        const jr = dot(jv, r);
        if (!(Math.abs(jr - vjpDot) <= lim)) throw new Error(`${c.op} (${c.name}): ⟨r, Jv⟩ = ${jr} but ⟨Jᵀr, v⟩ = ${vjpDot}`);
      }
    } finally {
      disposeAll(t, tt);
    }
  }
}

// The forward output's shape (for r): from a tensor result, else a scalar.
function outputShape(g: NonNullable<OpCase['grad']>, t: Record<string, Tensor>, n: number): readonly number[] {
  const out = g.forward(t);
  if (out instanceof Tensor) {
    const s = out.shape;
    out.dispose();
    return s;
  }
  return n === 1 ? [] : [n];
}
