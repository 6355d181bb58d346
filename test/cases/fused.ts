// The fused passes of network blocks (native/core/ops/fused.h): Newton-ResNet's residual
// y = φ(a + b + α·p⊙q) and Newton-CGNet's CG block d = −(y + g1 + g2 + g3) + β·dprev,
// y1 = y + α·d, each with its gradient, its R-operator and the R-operator of its gradient.
//
// References: the formulas of native/core/fused_math.h composed element by element in
// float64, every operation rounded to the dtype in the kernels' documented order (note [fused
// rounding order]: Math.fround per operation for float32, the identity for float64; a float32
// +, − or × done in float64 and rounded once is the float32 result, 53 ≥ 2·24 + 2).
//
// Tolerances (note [case tolerances]):
//  - every element-wise output is exact: the same fixed sequence of roundings on both backends
//    and in the reference, no fused multiply-add (the CPU is built with -ffp-contract=off, the
//    GPU uses round-to-nearest intrinsics), absent q as the factor 1 and absent tangents as
//    zero operands in all three. Awkward inputs (±0, subnormals, ±3e38: overflow to ±∞, ∞ − ∞
//    = NaN) make a contraction, flush-to-zero or another order show.
//  - the scalar gradients (dalpha, dbeta and their R-operators) sum n per-element terms in
//    double: each term is formed identically everywhere ((double(a)·double(b))·double(c), then
//    the sums of fused_math.h, all in double, the same bits in JS), only the order of the n − 1
//    additions differs (blocks of 4096 with four interleaved accumulators on the CPU, a fixed
//    tree on the GPU, index order here), so `double` with that n, absSum = Σ|terms| as the
//    reference forms them (a term that is a sum of products counts each product), and
//    `rounded` (one rounding to the dtype; the references round their sums too, so that a sum
//    past the float32 range is ∞ on both sides). Awkward data can make a term ∞ or NaN (a float32
//    T = dd + α·dy1 that overflows, times 0): then every order gives the same ∞ or NaN and the
//    check is the bits.
//  - relu's derivative is 1[y > 0] from the output y: 0 at the tie y = 0 (s = 0 exactly) and
//    at NaN, as reluBackward's 1[x > 0] (y > 0 exactly where s > 0). The tie cases below make
//    s exactly 0 (from 0.25 − 0.25 and from −0 + α·(0·q)).
//
// Derivatives (runner (c), float64): newtonResidualBackward and newtonResidualJvp against
// finite differences of newtonResidual; newtonResidualVjpJvp against finite differences of
// newtonResidualBackward along (rdy, rp, rq, valpha) (y fixed: φ″ = 0 away from the kink);
// cgNetUpdateBackward and cgNetUpdateJvp against cgNetUpdate (its two outputs packed into one
// vector, so the cotangent r splits into dy1 and dd); cgNetUpdateVjpJvp against
// cgNetUpdateBackward. With and without q / dprev, relu and identity, and with some tangents
// null (those inputs are then not in `wrt`, i.e. held fixed).
import {
  cgNetUpdate,
  cgNetUpdateBackward,
  cgNetUpdateJvp,
  cgNetUpdateVjpJvp,
  getNumThreads,
  newtonResidual,
  newtonResidualBackward,
  newtonResidualJvp,
  newtonResidualVjpJvp,
  setNumThreads,
  Tensor,
} from '../../lib';
import type { Check, Expected, Family, FloatDType, InputSpec, OpCase, Outputs, Values } from './case';
import { numel } from './data';

const label = (s: readonly number[]) => (s.length === 0 ? 'scalar' : `(${s.join(', ')})`);
const rounder = (dtype: FloatDType) => (dtype === 'float32' ? Math.fround : (x: number) => x);

// (16, 64, 16, 16): a ResNet stage's activations at batch 16, the bench lines' shape (float32
// only: the other shapes cover float64, and the references of 262,144 elements are slow under
// jest). `npm run bench -- fused` times batch 128.
const BENCH = [16, 64, 16, 16];
// Shapes: a scalar, empty, odd sizes, one block of the CPU's 4096 plus a tail that is not a
// multiple of its four accumulators (4099), three blocks (8194), five blocks split between threads
// and a GPU grid of 10 blocks (20011); the bench shape runs the bench lines' cases only.
const SHAPES: readonly (readonly number[])[] = [[], [1], [13], [0], [3, 31], [2, 3, 5, 7], [4099], [2, 4097], [20011]];
const isBench = (s: readonly number[]) => s === BENCH;
const SCALAR = [1];

// --- the formulas of fused_math.h, rounded by fr ----------------------------------------------

type R = (x: number) => number;
// (s !== s: NaN, without a per-element lookup of Number.isNaN on jest's sandboxed globals)
const relu = (s: number) => (s > 0 || s !== s ? s : 0);
const abs = Math.abs;
// Σ|terms| of each scalar sum, for its tolerance (filled by the references when asked).
type AbsSums = Record<string, number>;
// φ′(y)·v
const dphi = (isRelu: boolean, y: number, v: number) => (isRelu ? (y > 0 ? v : 0) : v);
// x[i], or `fallback` for an absent input
const at = (x: Float64Array | undefined, i: number, fallback: number) => (x === undefined ? fallback : x[i]);
const term2 = (a: number, b: number) => a * b;
const term3 = (a: number, b: number, c: number) => a * b * c;

interface ResidualFlags {
  relu: boolean;
  q: boolean;
}

function refResidual(v: Values, fr: R, f: ResidualFlags): Float64Array {
  const al = v.alpha[0];
  const q = f.q ? v.q : undefined;
  return v.a.map((a, i) => {
    const s = fr(fr(a + v.b[i]) + fr(al * fr(v.p[i] * at(q, i, 1))));
    return f.relu ? relu(s) : s;
  });
}

function refResidualBackward(v: Values, fr: R, f: ResidualFlags, sums: AbsSums = {}): Expected {
  const al = v.alpha[0];
  const q = f.q ? v.q : undefined;
  const n = v.dy.length;
  const g = new Float64Array(n), dp = new Float64Array(n), dq = new Float64Array(n);
  let dalpha = 0, adalpha = 0;
  for (let i = 0; i < n; i++) {
    const qi = at(q, i, 1);
    g[i] = dphi(f.relu, v.y[i], v.dy[i]);
    dp[i] = fr(al * fr(g[i] * qi));
    dq[i] = fr(al * fr(g[i] * v.p[i]));
    const t = term3(g[i], v.p[i], qi);
    dalpha += t;
    adalpha += abs(t);
  }
  sums.dalpha = adalpha;
  return f.q ? { g, dp, dq, dalpha: Float64Array.of(fr(dalpha)) } : { g, dp, dalpha: Float64Array.of(fr(dalpha)) };
}

interface JvpFlags extends ResidualFlags {
  ra: boolean;
  rb: boolean;
  rp: boolean;
  rq: boolean;
}

function refResidualJvp(v: Values, fr: R, f: JvpFlags): Float64Array {
  const al = v.alpha[0], val = v.valpha[0];
  const q = f.q ? v.q : undefined;
  return v.y.map((y, i) => {
    const qi = at(q, i, 1);
    const lin = fr(fr(at(f.ra ? v.ra : undefined, i, 0) + at(f.rb ? v.rb : undefined, i, 0)) + fr(val * fr(v.p[i] * qi)));
    const bil = fr(fr(at(f.rp ? v.rp : undefined, i, 0) * qi) + fr(v.p[i] * at(f.rq ? v.rq : undefined, i, 0)));
    return dphi(f.relu, y, fr(lin + fr(al * bil)));
  });
}

interface VjpJvpFlags extends ResidualFlags {
  rp: boolean;
  rq: boolean;
}

function refResidualVjpJvp(v: Values, fr: R, f: VjpJvpFlags, sums: AbsSums = {}): Expected {
  const al = v.alpha[0], val = v.valpha[0];
  const q = f.q ? v.q : undefined;
  const rp = f.rp ? v.rp : undefined;
  const rq = f.rq ? v.rq : undefined;
  const n = v.dy.length;
  const out = { g: new Float64Array(n), rg: new Float64Array(n), dp: new Float64Array(n), rdp: new Float64Array(n), dq: new Float64Array(n), rdq: new Float64Array(n) };
  let dalpha = 0, rdalpha = 0, adalpha = 0, ardalpha = 0;
  for (let i = 0; i < n; i++) {
    const qi = at(q, i, 1), p = v.p[i], rpi = at(rp, i, 0), rqi = at(rq, i, 0);
    const g = dphi(f.relu, v.y[i], v.dy[i]);
    const rg = dphi(f.relu, v.y[i], v.rdy[i]);
    const gq = fr(g * qi), gp = fr(g * p);
    out.g[i] = g;
    out.rg[i] = rg;
    out.dp[i] = fr(al * gq);
    out.dq[i] = fr(al * gp);
    out.rdp[i] = fr(fr(val * gq) + fr(al * fr(fr(rg * qi) + fr(g * rqi))));
    out.rdq[i] = fr(fr(val * gp) + fr(al * fr(fr(rg * p) + fr(g * rpi))));
    const t = term3(g, p, qi);
    const t1 = term3(rg, p, qi), t2 = term3(g, rpi, qi), t3 = term3(g, p, rqi);
    dalpha += t;
    rdalpha += t1 + t2 + t3;
    adalpha += abs(t);
    ardalpha += abs(t1) + abs(t2) + abs(t3);
  }
  sums.dalpha = adalpha;
  sums.rdalpha = ardalpha;
  const e: Expected = { g: out.g, rg: out.rg, dp: out.dp, rdp: out.rdp, dalpha: Float64Array.of(fr(dalpha)), rdalpha: Float64Array.of(fr(rdalpha)) };
  if (f.q) {
    e.dq = out.dq;
    e.rdq = out.rdq;
  }
  return e;
}

interface CgFlags {
  prev: boolean;
}

function refCg(v: Values, fr: R, f: CgFlags): Expected {
  const al = v.alpha[0], be = f.prev ? v.beta[0] : 0;
  const n = v.y.length;
  const y1 = new Float64Array(n), d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const sum = fr(fr(fr(v.y[i] + v.g1[i]) + v.g2[i]) + v.g3[i]);
    d[i] = f.prev ? fr(fr(be * v.dprev[i]) - sum) : -sum;
    y1[i] = fr(v.y[i] + fr(al * d[i]));
  }
  return { y1, d };
}

interface CgBackwardFlags extends CgFlags {
  dd: boolean;
}

function refCgBackward(v: Values, fr: R, f: CgBackwardFlags, sums: AbsSums = {}): Expected {
  const al = v.alpha[0], be = f.prev ? v.beta[0] : 0;
  const n = v.dy1.length;
  const dy = new Float64Array(n), dg = new Float64Array(n), ddprev = new Float64Array(n);
  let dalpha = 0, dbeta = 0, adalpha = 0, adbeta = 0;
  for (let i = 0; i < n; i++) {
    const t = fr(at(f.dd ? v.dd : undefined, i, 0) + fr(al * v.dy1[i]));
    dy[i] = fr(v.dy1[i] - t);
    dg[i] = -t;
    ddprev[i] = fr(be * t);
    const ta = term2(v.dy1[i], v.d[i]);
    dalpha += ta;
    adalpha += abs(ta);
    if (f.prev) {
      const tb = term2(t, v.dprev[i]);
      dbeta += tb;
      adbeta += abs(tb);
    }
  }
  Object.assign(sums, { dalpha: adalpha, dbeta: adbeta });
  return f.prev ? { dy, dg, ddprev, dalpha: Float64Array.of(fr(dalpha)), dbeta: Float64Array.of(fr(dbeta)) } : { dy, dg, dalpha: Float64Array.of(fr(dalpha)) };
}

interface CgJvpFlags extends CgFlags {
  ry: boolean;
  rg: boolean; // rg1, rg2 and rg3
  rdprev: boolean;
  vbeta: boolean;
}

function refCgJvp(v: Values, fr: R, f: CgJvpFlags): Expected {
  const al = v.alpha[0], be = f.prev ? v.beta[0] : 0, val = v.valpha[0], vbe = f.vbeta ? v.vbeta[0] : 0;
  const opt = (name: string, given: boolean, i: number) => (given ? v[name][i] : 0);
  const n = v.d.length;
  const ry1 = new Float64Array(n), rd = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const rsum = fr(fr(fr(opt('ry', f.ry, i) + opt('rg1', f.rg, i)) + opt('rg2', f.rg, i)) + opt('rg3', f.rg, i));
    rd[i] = f.prev ? fr(fr(fr(vbe * v.dprev[i]) + fr(be * opt('rdprev', f.rdprev, i))) - rsum) : -rsum;
    ry1[i] = fr(fr(opt('ry', f.ry, i) + fr(val * v.d[i])) + fr(al * rd[i]));
  }
  return { ry1, rd };
}

interface CgVjpJvpFlags extends CgFlags {
  dd: boolean; // dd and rdd
  rdprev: boolean;
  vbeta: boolean;
}

function refCgVjpJvp(v: Values, fr: R, f: CgVjpJvpFlags, sums: AbsSums = {}): Expected {
  const al = v.alpha[0], be = f.prev ? v.beta[0] : 0, val = v.valpha[0], vbe = f.vbeta ? v.vbeta[0] : 0;
  const n = v.dy1.length;
  const o = { dy: new Float64Array(n), rdy: new Float64Array(n), dg: new Float64Array(n), rdg: new Float64Array(n), ddprev: new Float64Array(n), rddprev: new Float64Array(n) };
  let dalpha = 0, rdalpha = 0, dbeta = 0, rdbeta = 0;
  let adalpha = 0, ardalpha = 0, adbeta = 0, ardbeta = 0;
  for (let i = 0; i < n; i++) {
    const dy1 = v.dy1[i], rdy1 = v.rdy1[i];
    const dd = f.dd ? v.dd[i] : 0, rdd = f.dd ? v.rdd[i] : 0;
    const dprev = f.prev ? v.dprev[i] : 0, rdprev = f.rdprev ? v.rdprev[i] : 0;
    const t = fr(dd + fr(al * dy1));
    const rt = fr(fr(rdd + fr(val * dy1)) + fr(al * rdy1));
    o.dy[i] = fr(dy1 - t);
    o.rdy[i] = fr(rdy1 - rt);
    o.dg[i] = -t;
    o.rdg[i] = -rt;
    o.ddprev[i] = fr(be * t);
    o.rddprev[i] = fr(fr(vbe * t) + fr(be * rt));
    const ta = term2(dy1, v.d[i]), ta1 = term2(rdy1, v.d[i]), ta2 = term2(dy1, v.rd[i]);
    const tb = term2(t, dprev), tb1 = term2(rt, dprev), tb2 = term2(t, rdprev);
    dalpha += ta;
    rdalpha += ta1 + ta2;
    dbeta += tb;
    rdbeta += tb1 + tb2;
    adalpha += abs(ta);
    ardalpha += abs(ta1) + abs(ta2);
    adbeta += abs(tb);
    ardbeta += abs(tb1) + abs(tb2);
  }
  Object.assign(sums, { dalpha: adalpha, rdalpha: ardalpha, dbeta: adbeta, rdbeta: ardbeta });
  const e: Expected = { dy: o.dy, rdy: o.rdy, dg: o.dg, rdg: o.rdg, dalpha: Float64Array.of(fr(dalpha)), rdalpha: Float64Array.of(fr(rdalpha)) };
  if (f.prev) Object.assign(e, { ddprev: o.ddprev, rddprev: o.rddprev, dbeta: Float64Array.of(fr(dbeta)), rdbeta: Float64Array.of(fr(rdbeta)) });
  return e;
}

// --- checks --------------------------------------------------------------------------------------

const SUMS = new Set(['dalpha', 'rdalpha', 'dbeta', 'rdbeta']);
type Ref = (v: Values, dtype: FloatDType, sums?: AbsSums) => Expected;
// Every output exact but the double sums of n terms, whose absSum the reference reports (a
// NaN or ∞ from awkward data: no bound, the outputs' other checks still apply).
function checks(ref: Ref, n: number) {
  return (ctx: { dtype: FloatDType; values: Values }): Record<string, Check> => {
    const sums: AbsSums = {};
    const out: Record<string, Check> = {};
    for (const name of Object.keys(ref(ctx.values, ctx.dtype, sums))) {
      if (!SUMS.has(name)) {
        out[name] = { kind: 'exact' };
        continue;
      }
      const m = sums[name];
      if (m === undefined) throw new Error(`no absolute sum for ${name}`);
      out[name] = { kind: 'double', n: Math.max(n, 1), absSum: Number.isFinite(m) ? m : Infinity, rounded: true };
    }
    return out;
  };
}

// A tensor output after checking its shape.
function shaped(t: Tensor | null, shape: readonly number[], what: string): Tensor {
  if (t === null) throw new Error(`${what} is null`);
  if (t.shape.join() !== shape.join()) {
    t.dispose();
    throw new Error(`${what} has shape (${t.shape.join(', ')}), expected (${shape.join(', ')})`);
  }
  return t;
}

// The tensor outputs of a result object (null ones must be exactly `nulls`), shape-checked.
function outputs(result: Record<string, Tensor | null>, shape: readonly number[], nulls: readonly string[]): Outputs {
  const out: Outputs = {};
  const problems: string[] = [];
  for (const [k, t] of Object.entries(result)) {
    if (t === null) {
      if (!nulls.includes(k)) problems.push(`${k} is null`);
      continue;
    }
    if (nulls.includes(k)) problems.push(`${k} should be null`);
    const want = SUMS.has(k) ? SCALAR : shape;
    if (t.shape.join() !== want.join()) problems.push(`${k} has shape (${t.shape.join(', ')}), expected (${want.join(', ')})`);
    out[k] = t;
  }
  if (problems.length > 0) {
    for (const t of Object.values(out)) if (t instanceof Tensor) t.dispose();
    throw new Error(problems.join('; '));
  }
  return out;
}

const flagName = (f: Record<string, boolean>) =>
  Object.entries(f)
    .map(([k, v]) => (k === 'relu' ? (v ? 'relu' : 'identity') : v ? k : `no ${k}`))
    .join(', ');

// Inputs of one shape (awkward or generic) plus (1) scalars (generic: a special α would only
// turn every output into 0, ∞ or NaN).
function inputsOf(shape: readonly number[], tensors: readonly string[], scalars: readonly string[], kind: InputSpec['kind']): Record<string, InputSpec> {
  const out: Record<string, InputSpec> = {};
  for (const t of tensors) out[t] = { shape, kind };
  for (const s of scalars) out[s] = { shape: SCALAR };
  return out;
}

const cases: OpCase[] = [];

// --- A. Newton residual: every shape, relu and identity, with and without q ------------------------

const nOf = (shape: readonly number[]) => numel(shape);
for (const shape of [...SHAPES, BENCH]) {
  const n = nOf(shape);
  // at the bench shape, only the bench lines' cases
  const push = (c: OpCase) => {
    if (!isBench(shape)) cases.push(c);
    else if (c.bench !== undefined) cases.push({ ...c, dtypes: ['float32'] });
  };
  // awkward values for the exact outputs; generic ones (finite sums with a tight bound) from 20011 on
  const kind = n >= 20011 ? 'generic' : 'awkward';
  for (const isRelu of [true, false]) {
    for (const hasQ of [true, false]) {
      const f = { relu: isRelu, q: hasQ };
      const name = `${label(shape)} ${flagName(f)}`;
      const bench = isBench(shape) && isRelu && hasQ;
      const opts = { relu: isRelu };
      {
        const c: Ref = (v, dtype) => ({ y: refResidual(v, rounder(dtype), f) });
        push({
          op: 'newtonResidual',
          name,
          inputs: inputsOf(shape, hasQ ? ['a', 'b', 'p', 'q'] : ['a', 'b', 'p'], ['alpha'], kind),
          run: (t) => ({ y: shaped(newtonResidual(t.a, t.b, t.p, hasQ ? t.q : null, t.alpha, opts), shape, 'y') }),
          reference: c,
          check: checks(c, n),
          // reads a, b, p, q, writes y; p·q, α·, two adds, the max
          bench: bench ? { flops: 5 * n, bytes: 4 * 5 * n } : undefined,
        });
      }
      {
        const c: Ref = (v, dtype, sums) => refResidualBackward(v, rounder(dtype), f, sums);
        push({
          op: 'newtonResidualBackward',
          name,
          inputs: inputsOf(shape, hasQ ? ['dy', 'y', 'p', 'q'] : ['dy', 'y', 'p'], ['alpha'], kind),
          run: (t) => outputs(newtonResidualBackward(t.dy, t.y, t.p, hasQ ? t.q : null, t.alpha, opts), shape, hasQ ? [] : ['dq']),
          reference: c,
          check: checks(c, n),
          // reads dy, y, p, q, writes g, dp, dq; four products, the mask, the term (2) and its sum
          bench: bench ? { flops: 8 * n, bytes: 4 * (7 * n + 2) } : undefined,
        });
      }
      for (const tangents of hasQ ? [{ ra: true, rb: true, rp: true, rq: true }, { ra: false, rb: true, rp: false, rq: true }] : [{ ra: true, rb: true, rp: true, rq: false }, { ra: true, rb: false, rp: true, rq: false }]) {
        const g: JvpFlags = { ...f, ...tangents };
        const c: Ref = (v, dtype) => ({ ry: refResidualJvp(v, rounder(dtype), g) });
        const tensors = ['y', 'p', ...(hasQ ? ['q'] : []), ...(['ra', 'rb', 'rp', 'rq'] as const).filter((k) => g[k])];
        const full = tangents.ra && tangents.rb && tangents.rp;
        push({
          op: 'newtonResidualJvp',
          name: `${name}, ${flagName(tangents)}`,
          inputs: inputsOf(shape, tensors, ['alpha', 'valpha'], kind),
          run: (t) => ({
            ry: shaped(newtonResidualJvp(t.y, g.ra ? t.ra : null, g.rb ? t.rb : null, t.p, hasQ ? t.q : null, g.rp ? t.rp : null, g.rq ? t.rq : null, t.alpha, t.valpha, opts), shape, 'ry'),
          }),
          reference: c,
          check: checks(c, n),
          // reads y, ra, rb, p, q, rp, rq, writes ry
          bench: bench && full ? { flops: 10 * n, bytes: 4 * (8 * n + 2) } : undefined,
        });
      }
      for (const tangents of hasQ ? [{ rp: true, rq: true }, { rp: false, rq: true }] : [{ rp: true, rq: false }, { rp: false, rq: false }]) {
        const g: VjpJvpFlags = { ...f, ...tangents };
        const c: Ref = (v, dtype, sums) => refResidualVjpJvp(v, rounder(dtype), g, sums);
        const tensors = ['dy', 'rdy', 'y', 'p', ...(hasQ ? ['q'] : []), ...(['rp', 'rq'] as const).filter((k) => g[k])];
        push({
          op: 'newtonResidualVjpJvp',
          name: `${name}, ${flagName(tangents)}`,
          inputs: inputsOf(shape, tensors, ['alpha', 'valpha'], kind),
          run: (t) =>
            outputs(
              newtonResidualVjpJvp(t.dy, t.rdy, t.y, t.p, hasQ ? t.q : null, g.rp ? t.rp : null, g.rq ? t.rq : null, t.alpha, t.valpha, opts),
              shape,
              hasQ ? [] : ['dq', 'rdq'],
            ),
          reference: c,
          check: checks(c, n),
          // reads dy, rdy, y, p, q, rp, rq, writes g, rg, dp, rdp, dq, rdq
          bench: bench && g.rp ? { flops: 26 * n, bytes: 4 * (13 * n + 4) } : undefined,
        });
      }
    }
  }
}

// --- B. CG block: every shape, with and without dprev ----------------------------------------------

for (const shape of [...SHAPES, BENCH]) {
  const n = nOf(shape);
  // at the bench shape, only the bench lines' cases
  const push = (c: OpCase) => {
    if (!isBench(shape)) cases.push(c);
    else if (c.bench !== undefined) cases.push({ ...c, dtypes: ['float32'] });
  };
  // awkward values for the exact outputs; generic ones (finite sums with a tight bound) from 20011 on
  const kind = n >= 20011 ? 'generic' : 'awkward';
  for (const prev of [true, false]) {
    const f = { prev };
    const name = `${label(shape)} ${prev ? 'with dprev (t > 0)' : 'no dprev (t = 0)'}`;
    const bench = isBench(shape) && prev;
    {
      const c: Ref = (v, dtype) => refCg(v, rounder(dtype), f);
      push({
        op: 'cgNetUpdate',
        name,
        inputs: inputsOf(shape, ['y', 'g1', 'g2', 'g3', ...(prev ? ['dprev'] : [])], prev ? ['alpha', 'beta'] : ['alpha'], kind),
        run: (t) => outputs(cgNetUpdate(t.y, t.g1, t.g2, t.g3, prev ? t.dprev : null, t.alpha, prev ? t.beta : null), shape, []),
        reference: c,
        check: checks(c, n),
        // reads y, g1, g2, g3, dprev, writes y1, d
        bench: bench ? { flops: 7 * n, bytes: 4 * (7 * n + 2) } : undefined,
      });
    }
    for (const dd of [true, false]) {
      const g: CgBackwardFlags = { prev, dd };
      const c: Ref = (v, dtype, sums) => refCgBackward(v, rounder(dtype), g, sums);
      push({
        op: 'cgNetUpdateBackward',
        name: `${name}, ${dd ? 'dd' : 'dd null'}`,
        inputs: inputsOf(shape, ['dy1', ...(dd ? ['dd'] : []), 'd', ...(prev ? ['dprev'] : [])], prev ? ['alpha', 'beta'] : ['alpha'], kind),
        run: (t) => outputs(cgNetUpdateBackward(t.dy1, dd ? t.dd : null, t.d, prev ? t.dprev : null, t.alpha, prev ? t.beta : null), shape, prev ? [] : ['ddprev', 'dbeta']),
        reference: c,
        check: checks(c, n),
        // reads dy1, dd, d, dprev, writes dy, dg, ddprev; two sums
        bench: bench && dd ? { flops: 9 * n, bytes: 4 * (7 * n + 4) } : undefined,
      });
    }
    for (const tangents of prev ? [{ ry: true, rg: true, rdprev: true, vbeta: true }, { ry: false, rg: true, rdprev: false, vbeta: true }, { ry: true, rg: false, rdprev: true, vbeta: false }] : [{ ry: true, rg: true, rdprev: false, vbeta: false }, { ry: false, rg: true, rdprev: false, vbeta: false }]) {
      const g: CgJvpFlags = { prev, ...tangents };
      const c: Ref = (v, dtype) => refCgJvp(v, rounder(dtype), g);
      const tensors = ['d', ...(prev ? ['dprev'] : []), ...(g.ry ? ['ry'] : []), ...(g.rg ? ['rg1', 'rg2', 'rg3'] : []), ...(g.rdprev ? ['rdprev'] : [])];
      const scalars = ['alpha', 'valpha', ...(prev ? ['beta'] : []), ...(g.vbeta ? ['vbeta'] : [])];
      push({
        op: 'cgNetUpdateJvp',
        name: `${name}, ${flagName(tangents)}`,
        inputs: inputsOf(shape, tensors, scalars, kind),
        run: (t) =>
          outputs(
            cgNetUpdateJvp(t.d, prev ? t.dprev : null, g.ry ? t.ry : null, g.rg ? t.rg1 : null, g.rg ? t.rg2 : null, g.rg ? t.rg3 : null, g.rdprev ? t.rdprev : null, t.alpha, prev ? t.beta : null, t.valpha, g.vbeta ? t.vbeta : null),
            shape,
            [],
          ),
        reference: c,
        check: checks(c, n),
        // reads d, dprev, ry, rg1, rg2, rg3, rdprev, writes ry1, rd
        bench: bench && g.ry && g.rg && g.rdprev ? { flops: 11 * n, bytes: 4 * (9 * n + 4) } : undefined,
      });
    }
    for (const tangents of prev ? [{ dd: true, rdprev: true, vbeta: true }, { dd: false, rdprev: false, vbeta: true }, { dd: true, rdprev: true, vbeta: false }] : [{ dd: true, rdprev: false, vbeta: false }, { dd: false, rdprev: false, vbeta: false }]) {
      const g: CgVjpJvpFlags = { prev, ...tangents };
      const c: Ref = (v, dtype, sums) => refCgVjpJvp(v, rounder(dtype), g, sums);
      const tensors = ['dy1', 'rdy1', 'd', 'rd', ...(g.dd ? ['dd', 'rdd'] : []), ...(prev ? ['dprev'] : []), ...(g.rdprev ? ['rdprev'] : [])];
      const scalars = ['alpha', 'valpha', ...(prev ? ['beta'] : []), ...(g.vbeta ? ['vbeta'] : [])];
      push({
        op: 'cgNetUpdateVjpJvp',
        name: `${name}, ${flagName(tangents)}`,
        inputs: inputsOf(shape, tensors, scalars, kind),
        run: (t) =>
          outputs(
            cgNetUpdateVjpJvp(t.dy1, g.dd ? t.dd : null, t.rdy1, g.dd ? t.rdd : null, t.d, t.rd, prev ? t.dprev : null, g.rdprev ? t.rdprev : null, t.alpha, prev ? t.beta : null, t.valpha, g.vbeta ? t.vbeta : null),
            shape,
            prev ? [] : ['ddprev', 'rddprev', 'dbeta', 'rdbeta'],
          ),
        reference: c,
        check: checks(c, n),
        // reads dy1, dd, rdy1, rdd, d, rd, dprev, rdprev, writes dy, rdy, dg, rdg, ddprev, rddprev; four sums
        bench: bench && g.dd && g.rdprev && g.vbeta ? { flops: 24 * n, bytes: 4 * (14 * n + 8) } : undefined,
      });
    }
  }
}

// --- relu's kink: s = ±0 exactly, and NaN ------------------------------------------------------------
// a + b + α·p·q with a = 0.5, b = −0.25, p = −0.5, q = 0.5, α = 1: (0.25) + (−0.25) = +0; with
// a = b = −0 and p = 0: −0 + (1·(0·q)) = +0 (−0 + +0); a NaN in a; ±∞ − ∞ = NaN. y = relu(s) = 0 at
// the ties, so the backward's and R-operators' mask is 0 there, as reluBackward at x = 0.
{
  const A = [0.5, -0, 0.5, NaN, Infinity, 1, -1, 0.25];
  const B = [-0.25, -0, -0.25, 1, -1, 2, 3, -0.25];
  const P = [-0.5, 0, -0.5, 1, 1, -0.5, -2, 0];
  const Q = [0.5, 0.5, 0.5, 1, -Infinity, 2, -1, 1];
  const n = A.length;
  const f = { relu: true, q: true };
  const ones = Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (i + 1) / 4);
  const vals = (values: ArrayLike<number>): InputSpec => ({ shape: [n], values });
  {
    const c: Ref = (v, dtype) => ({ y: refResidual(v, rounder(dtype), f) });
    cases.push({
      op: 'newtonResidual',
      name: 'relu at s = ±0 exactly, NaN and ∞ − ∞',
      inputs: { a: vals(A), b: vals(B), p: vals(P), q: vals(Q), alpha: { shape: SCALAR, values: [1] } },
      run: (t) => ({ y: newtonResidual(t.a, t.b, t.p, t.q, t.alpha, { relu: true }) }),
      reference: c,
      check: checks(c, n),
    });
  }
  // y holds the forward's outputs on these inputs: +0 (twice), NaN, and the ties' neighbours.
  const Y = [0, 0, -0, NaN, NaN, 0, 1, 1e-45];
  const c1: Ref = (v, dtype, sums) => refResidualBackward(v, rounder(dtype), f, sums);
  cases.push({
    op: 'newtonResidualBackward',
    name: 'the relu mask at y = ±0, NaN and a subnormal',
    inputs: { dy: vals(ones), y: vals(Y), p: vals(P.map((x) => x + 1)), q: vals(Q.map((x) => (Number.isFinite(x) ? x : 3))), alpha: { shape: SCALAR, values: [0.75] } },
    run: (t) => outputs(newtonResidualBackward(t.dy, t.y, t.p, t.q, t.alpha, { relu: true }), [n], []),
    reference: c1,
    check: checks(c1, n),
  });
  const g: VjpJvpFlags = { ...f, rp: true, rq: true };
  const c2: Ref = (v, dtype, sums) => refResidualVjpJvp(v, rounder(dtype), g, sums);
  cases.push({
    op: 'newtonResidualVjpJvp',
    name: 'the relu mask at y = ±0, NaN and a subnormal',
    inputs: { dy: vals(ones), rdy: vals(ones.map((x) => -2 * x)), y: vals(Y), p: vals(P.map((x) => x + 1)), q: vals(Q.map((x) => (Number.isFinite(x) ? x : 3))), rp: vals(ones), rq: vals(ones.map((x) => x / 2)), alpha: { shape: SCALAR, values: [0.75] }, valpha: { shape: SCALAR, values: [-1.5] } },
    run: (t) => outputs(newtonResidualVjpJvp(t.dy, t.rdy, t.y, t.p, t.q, t.rp, t.rq, t.alpha, t.valpha, { relu: true }), [n], []),
    reference: c2,
    check: checks(c2, n),
  });
  const j: JvpFlags = { ...f, ra: true, rb: true, rp: true, rq: true };
  const c3: Ref = (v, dtype) => ({ ry: refResidualJvp(v, rounder(dtype), j) });
  cases.push({
    op: 'newtonResidualJvp',
    name: 'the relu mask at y = ±0, NaN and a subnormal',
    inputs: { y: vals(Y), ra: vals(ones), rb: vals(ones), p: vals(P.map((x) => x + 1)), q: vals(Q.map((x) => (Number.isFinite(x) ? x : 3))), rp: vals(ones), rq: vals(ones), alpha: { shape: SCALAR, values: [0.75] }, valpha: { shape: SCALAR, values: [-1.5] } },
    run: (t) => ({ ry: newtonResidualJvp(t.y, t.ra, t.rb, t.p, t.q, t.rp, t.rq, t.alpha, t.valpha, { relu: true }) }),
    reference: c3,
    check: checks(c3, n),
  });
}

// --- determinism: the sums are the same bits for 1, 2 and 3 CPU threads and on every call -------------

function bits(t: Tensor): string {
  const a = t.toArray();
  return Buffer.from(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)).toString('base64');
}
// Runs `call` with 1, 2 and 3 CPU threads (three calls on a GPU, where the count does not
// matter) and fails unless every output has the same bits each time; returns the last.
function sameBitsAcrossThreads(call: () => Record<string, Tensor | null>): Record<string, Tensor | null> {
  const saved = getNumThreads();
  let first: Record<string, string> | null = null;
  let last: Record<string, Tensor | null> = {};
  try {
    for (const threads of [1, 2, 3]) {
      setNumThreads(threads);
      for (const t of Object.values(last)) t?.dispose();
      last = call();
      const now = Object.fromEntries(Object.entries(last).map(([k, t]) => [k, t === null ? 'null' : bits(t)]));
      if (first === null) first = now;
      const differ = Object.keys(now).filter((k) => now[k] !== first![k]);
      if (differ.length > 0) {
        for (const t of Object.values(last)) t?.dispose();
        throw new Error(`${differ.join(', ')} differ with ${threads} threads from 1 thread`);
      }
    }
  } finally {
    setNumThreads(saved);
  }
  return last;
}

{
  const shape = [100003];
  const n = nOf(shape);
  const f: VjpJvpFlags = { relu: true, q: true, rp: true, rq: true };
  const c: Ref = (v, dtype, sums) => refResidualVjpJvp(v, rounder(dtype), f, sums);
  cases.push({
    op: 'newtonResidualVjpJvp',
    name: `${label(shape)} the same bits for 1, 2 and 3 threads`,
    inputs: inputsOf(shape, ['dy', 'rdy', 'y', 'p', 'q', 'rp', 'rq'], ['alpha', 'valpha'], 'generic'),
    run: (t) => outputs(sameBitsAcrossThreads(() => newtonResidualVjpJvp(t.dy, t.rdy, t.y, t.p, t.q, t.rp, t.rq, t.alpha, t.valpha, { relu: true })), shape, []),
    reference: c,
    check: checks(c, n),
  });
  const g: CgVjpJvpFlags = { prev: true, dd: true, rdprev: true, vbeta: true };
  const c2: Ref = (v, dtype, sums) => refCgVjpJvp(v, rounder(dtype), g, sums);
  cases.push({
    op: 'cgNetUpdateVjpJvp',
    name: `${label(shape)} the same bits for 1, 2 and 3 threads`,
    inputs: inputsOf(shape, ['dy1', 'dd', 'rdy1', 'rdd', 'd', 'rd', 'dprev', 'rdprev'], ['alpha', 'beta', 'valpha', 'vbeta'], 'generic'),
    run: (t) => outputs(sameBitsAcrossThreads(() => cgNetUpdateVjpJvp(t.dy1, t.dd, t.rdy1, t.rdd, t.d, t.rd, t.dprev, t.rdprev, t.alpha, t.beta, t.valpha, t.vbeta)), shape, []),
    reference: c2,
    check: checks(c2, n),
  });
}

// --- derivatives (float64) ----------------------------------------------------------------------------

// The values of the non-null tensors, one after another, as a float64 vector (the outputs of a
// multi-output pass as one function value). Disposes them.
function pack(...parts: (Tensor | null)[]): Tensor {
  const arrays = parts.filter((t): t is Tensor => t !== null).map((t) => {
    const v = Float64Array.from(t.toArray() as ArrayLike<number>);
    t.dispose();
    return v;
  });
  const out = new Float64Array(arrays.reduce((s, a) => s + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return Tensor.from(out, { shape: [out.length] });
}
// r (2n) split into its two halves, each of `shape`.
function split(r: Tensor, shape: readonly number[]): [Tensor, Tensor] {
  const v = Float64Array.from(r.toArray() as ArrayLike<number>);
  const n = v.length / 2;
  return [Tensor.from(v.slice(0, n), { shape }), Tensor.from(v.slice(n), { shape })];
}
const maybe = (on: boolean, t: Tensor | undefined) => (on && t !== undefined ? t : null);

const GRAD_SHAPES: readonly (readonly number[])[] = [[2, 3, 4, 5], [37]];

for (const shape of GRAD_SHAPES) {
  // A. newtonResidual: its gradient and R-operator, every input or a subset.
  for (const isRelu of [true, false]) {
    for (const hasQ of [true, false]) {
      for (const wrt of hasQ ? [['a', 'b', 'p', 'q', 'alpha'], ['b', 'q']] : [['a', 'b', 'p', 'alpha'], ['a', 'p']]) {
        const f = { relu: isRelu, q: hasQ };
        const opts = { relu: isRelu };
        const w = new Set(wrt);
        const c: Ref = (v, dtype) => ({ y: refResidual(v, rounder(dtype), f) });
        cases.push({
          op: 'newtonResidual',
          name: `${label(shape)} ${flagName(f)}, derivatives in ${wrt.join(', ')}`,
          inputs: inputsOf(shape, hasQ ? ['a', 'b', 'p', 'q'] : ['a', 'b', 'p'], ['alpha'], 'generic'),
          dtypes: ['float64'],
          run: (t) => ({ y: newtonResidual(t.a, t.b, t.p, hasQ ? t.q : null, t.alpha, opts) }),
          reference: c,
          check: checks(c, nOf(shape)),
          grad: {
            ops: ['newtonResidualBackward', 'newtonResidualJvp'],
            wrt,
            forward: (t) => newtonResidual(t.a, t.b, t.p, hasQ ? t.q : null, t.alpha, opts),
            vjp: (t, r) => {
              const y = newtonResidual(t.a, t.b, t.p, hasQ ? t.q : null, t.alpha, opts);
              const gr = newtonResidualBackward(r, y, t.p, hasQ ? t.q : null, t.alpha, opts);
              y.dispose();
              const out: Record<string, Tensor> = { a: gr.g.clone(), b: gr.g, p: gr.dp, alpha: gr.dalpha };
              if (gr.dq) out.q = gr.dq;
              return out;
            },
            jvp: (t, v) => {
              const y = newtonResidual(t.a, t.b, t.p, hasQ ? t.q : null, t.alpha, opts);
              const valpha = w.has('alpha') ? v.alpha : Tensor.zeros([1], { dtype: 'float64' });
              const ry = newtonResidualJvp(y, maybe(w.has('a'), v.a), maybe(w.has('b'), v.b), t.p, hasQ ? t.q : null, maybe(w.has('p'), v.p), maybe(w.has('q'), v.q), t.alpha, valpha, opts);
              y.dispose();
              if (!w.has('alpha')) valpha.dispose();
              return ry;
            },
          },
        });
      }
      // newtonResidualVjpJvp: the R-operator of newtonResidualBackward (packed g, dp, dq, dα)
      // along (rdy, rp, rq, vα), y held fixed.
      for (const wrt of hasQ ? [['dy', 'p', 'q', 'alpha'], ['dy', 'q']] : [['dy', 'p', 'alpha'], ['p', 'alpha']]) {
        const f = { relu: isRelu, q: hasQ };
        const opts = { relu: isRelu };
        const w = new Set(wrt);
        const c: Ref = (v, dtype, sums) => refResidualBackward(v, rounder(dtype), f, sums);
        cases.push({
          op: 'newtonResidualBackward',
          name: `${label(shape)} ${flagName(f)}, R-operator in ${wrt.join(', ')}`,
          inputs: inputsOf(shape, hasQ ? ['dy', 'y', 'p', 'q'] : ['dy', 'y', 'p'], ['alpha'], 'generic'),
          dtypes: ['float64'],
          run: (t) => outputs(newtonResidualBackward(t.dy, t.y, t.p, hasQ ? t.q : null, t.alpha, opts), shape, hasQ ? [] : ['dq']),
          reference: c,
          check: checks(c, nOf(shape)),
          grad: {
            ops: ['newtonResidualVjpJvp'],
            wrt,
            forward: (t) => {
              const r = newtonResidualBackward(t.dy, t.y, t.p, hasQ ? t.q : null, t.alpha, opts);
              return pack(r.g, r.dp, r.dq, r.dalpha);
            },
            jvp: (t, v) => {
              const zero = Tensor.zeros(t.dy.shape, { dtype: 'float64' });
              const zalpha = Tensor.zeros([1], { dtype: 'float64' });
              const r = newtonResidualVjpJvp(t.dy, w.has('dy') ? v.dy : zero, t.y, t.p, hasQ ? t.q : null, maybe(w.has('p'), v.p), maybe(w.has('q'), v.q), t.alpha, w.has('alpha') ? v.alpha : zalpha, opts);
              zero.dispose();
              zalpha.dispose();
              for (const k of ['g', 'dp', 'dq', 'dalpha'] as const) r[k]?.dispose();
              return pack(r.rg, r.rdp, r.rdq, r.rdalpha);
            },
          },
        });
      }
    }
  }

  // B. cgNetUpdate: (y1, d) packed; its gradient for r = (dy1, dd) and its R-operator.
  for (const prev of [true, false]) {
    for (const wrt of prev ? [['y', 'g1', 'g2', 'g3', 'dprev', 'alpha', 'beta'], ['g2', 'dprev', 'alpha']] : [['y', 'g1', 'g2', 'g3', 'alpha'], ['y', 'g3']]) {
      const w = new Set(wrt);
      const f = { prev };
      const c: Ref = (v, dtype) => refCg(v, rounder(dtype), f);
      const fwd = (t: Record<string, Tensor>) => cgNetUpdate(t.y, t.g1, t.g2, t.g3, prev ? t.dprev : null, t.alpha, prev ? t.beta : null);
      cases.push({
        op: 'cgNetUpdate',
        name: `${label(shape)} ${prev ? 'with dprev' : 'no dprev'}, derivatives in ${wrt.join(', ')}`,
        inputs: inputsOf(shape, ['y', 'g1', 'g2', 'g3', ...(prev ? ['dprev'] : [])], prev ? ['alpha', 'beta'] : ['alpha'], 'generic'),
        dtypes: ['float64'],
        run: (t) => outputs(fwd(t), shape, []),
        reference: c,
        check: checks(c, nOf(shape)),
        grad: {
          ops: ['cgNetUpdateBackward', 'cgNetUpdateJvp'],
          wrt,
          forward: (t) => {
            const r = fwd(t);
            return pack(r.y1, r.d);
          },
          vjp: (t, r) => {
            const [dy1, dd] = split(r, shape);
            const fw = fwd(t);
            const g = cgNetUpdateBackward(dy1, dd, fw.d, prev ? t.dprev : null, t.alpha, prev ? t.beta : null);
            for (const x of [dy1, dd, fw.y1, fw.d]) x.dispose();
            const out: Record<string, Tensor> = { y: g.dy, g1: g.dg.clone(), g2: g.dg.clone(), g3: g.dg, alpha: g.dalpha };
            if (g.ddprev) out.dprev = g.ddprev;
            if (g.dbeta) out.beta = g.dbeta;
            return out;
          },
          jvp: (t, v) => {
            const fw = fwd(t);
            const valpha = w.has('alpha') ? v.alpha : Tensor.zeros([1], { dtype: 'float64' });
            const r = cgNetUpdateJvp(fw.d, prev ? t.dprev : null, maybe(w.has('y'), v.y), maybe(w.has('g1'), v.g1), maybe(w.has('g2'), v.g2), maybe(w.has('g3'), v.g3), maybe(w.has('dprev'), v.dprev), t.alpha, prev ? t.beta : null, valpha, maybe(w.has('beta'), v.beta));
            fw.y1.dispose();
            fw.d.dispose();
            if (!w.has('alpha')) valpha.dispose();
            return pack(r.ry1, r.rd);
          },
        },
      });
    }
    // dd null: the gradient of y1 alone.
    {
      const f = { prev };
      const c: Ref = (v, dtype) => refCg(v, rounder(dtype), f);
      const fwd = (t: Record<string, Tensor>) => cgNetUpdate(t.y, t.g1, t.g2, t.g3, prev ? t.dprev : null, t.alpha, prev ? t.beta : null);
      const wrt = prev ? ['y', 'g1', 'dprev', 'alpha', 'beta'] : ['y', 'g3', 'alpha'];
      cases.push({
        op: 'cgNetUpdate',
        name: `${label(shape)} ${prev ? 'with dprev' : 'no dprev'}, the gradient of y1 alone (dd null)`,
        inputs: inputsOf(shape, ['y', 'g1', 'g2', 'g3', ...(prev ? ['dprev'] : [])], prev ? ['alpha', 'beta'] : ['alpha'], 'generic'),
        dtypes: ['float64'],
        run: (t) => outputs(fwd(t), shape, []),
        reference: c,
        check: checks(c, nOf(shape)),
        grad: {
          ops: ['cgNetUpdateBackward'],
          wrt,
          forward: (t) => {
            const r = fwd(t);
            r.d.dispose();
            return r.y1;
          },
          vjp: (t, r) => {
            const fw = fwd(t);
            const g = cgNetUpdateBackward(r, null, fw.d, prev ? t.dprev : null, t.alpha, prev ? t.beta : null);
            fw.y1.dispose();
            fw.d.dispose();
            const out: Record<string, Tensor> = { y: g.dy, g1: g.dg.clone(), g2: g.dg.clone(), g3: g.dg, alpha: g.dalpha };
            if (g.ddprev) out.dprev = g.ddprev;
            if (g.dbeta) out.beta = g.dbeta;
            return out;
          },
        },
      });
    }
    // cgNetUpdateVjpJvp: the R-operator of cgNetUpdateBackward (packed dy, dg, ddprev, dα, dβ).
    for (const wrt of prev ? [['dy1', 'dd', 'd', 'dprev', 'alpha', 'beta'], ['dy1', 'd', 'beta']] : [['dy1', 'dd', 'd', 'alpha'], ['dy1', 'alpha']]) {
      const w = new Set(wrt);
      const g: CgBackwardFlags = { prev, dd: true };
      const c: Ref = (v, dtype, sums) => refCgBackward(v, rounder(dtype), g, sums);
      cases.push({
        op: 'cgNetUpdateBackward',
        name: `${label(shape)} ${prev ? 'with dprev' : 'no dprev'}, R-operator in ${wrt.join(', ')}`,
        inputs: inputsOf(shape, ['dy1', 'dd', 'd', ...(prev ? ['dprev'] : [])], prev ? ['alpha', 'beta'] : ['alpha'], 'generic'),
        dtypes: ['float64'],
        run: (t) => outputs(cgNetUpdateBackward(t.dy1, t.dd, t.d, prev ? t.dprev : null, t.alpha, prev ? t.beta : null), shape, prev ? [] : ['ddprev', 'dbeta']),
        reference: c,
        check: checks(c, nOf(shape)),
        grad: {
          ops: ['cgNetUpdateVjpJvp'],
          wrt,
          forward: (t) => {
            const r = cgNetUpdateBackward(t.dy1, t.dd, t.d, prev ? t.dprev : null, t.alpha, prev ? t.beta : null);
            return pack(r.dy, r.dg, r.ddprev, r.dalpha, r.dbeta);
          },
          jvp: (t, v) => {
            const zero = Tensor.zeros(t.dy1.shape, { dtype: 'float64' });
            const zalpha = Tensor.zeros([1], { dtype: 'float64' });
            const r = cgNetUpdateVjpJvp(t.dy1, t.dd, w.has('dy1') ? v.dy1 : zero, maybe(w.has('dd'), v.dd), t.d, w.has('d') ? v.d : zero, prev ? t.dprev : null, maybe(w.has('dprev'), v.dprev), t.alpha, prev ? t.beta : null, w.has('alpha') ? v.alpha : zalpha, maybe(w.has('beta'), v.beta));
            zero.dispose();
            zalpha.dispose();
            for (const k of ['dy', 'dg', 'ddprev', 'dalpha', 'dbeta'] as const) r[k]?.dispose();
            return pack(r.rdy, r.rdg, r.rddprev, r.rdalpha, r.rdbeta);
          },
        },
      });
    }
  }
}

export const fused: Family = { name: 'fused', cases };
