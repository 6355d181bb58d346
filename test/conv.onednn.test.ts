// The CPU convolutions through oneDNN (native/core/cpu/onednn_conv.h) against the built-in
// im2col + GEMM path, pass by pass, over many shapes; the selection API and its errors;
// float64 staying on the built-in path; thread counts. Without oneDNN the comparisons report
// as skipped with the reason (info().onednn.reason); the fallback's own behaviour is tested
// in a child process whose oneDNN cannot load.
//
// Tolerance: each implementation is within the conv cases' accum bound of the exact result
// (note [case tolerances] in test/cases/case.ts: |Δ| ≤ 4·√k·u·mag + 2u·|r|, k the products in
// one output, mag the same op on |inputs|), so two of them differ by at most twice that.
import { spawnSync } from 'child_process';
import * as path from 'path';

import * as nc from '../lib';
import type { ConvImplementation, Tensor } from '../lib';
import * as ref from './cases/reference';
import { expectOneDnnRefused, expectThrow, f64, randTensor, requiredInCi } from './helpers';

const ONEDNN = nc.info().onednn;
const U32 = 2 ** -24;

type Pair = number | readonly [number, number];
type Shape4 = readonly [number, number, number, number];
interface Shape {
  title: string;
  x: Shape4;
  w: Shape4;
  stride?: Pair;
  padding?: Pair;
}

// Strides 1 and 2, padding 0/1/2, 1×1, 3×3 and 5×5 kernels, non-square everything, batch 1,
// one channel, many filters, tiny outputs, and the cnn3 layers at a training batch.
const SHAPES: readonly Shape[] = [
  { title: 'cnn3 conv1 MNIST', x: [16, 1, 28, 28], w: [32, 1, 5, 5], padding: 2 },
  { title: 'cnn3 conv2 MNIST', x: [16, 32, 14, 14], w: [64, 32, 3, 3], padding: 1 },
  { title: 'cnn3 conv3 MNIST', x: [16, 64, 7, 7], w: [64, 64, 3, 3], padding: 1 },
  { title: 'cnn3 conv1 CIFAR', x: [8, 3, 32, 32], w: [32, 3, 5, 5], padding: 2 },
  { title: '1×1, stride 1', x: [3, 13, 9, 11], w: [7, 13, 1, 1] },
  { title: '1×1, stride 2', x: [2, 8, 9, 9], w: [16, 8, 1, 1], stride: 2 },
  { title: '3×3, stride 2, padding 1', x: [4, 16, 15, 15], w: [24, 16, 3, 3], stride: 2, padding: 1 },
  { title: '5×5, padding 0', x: [2, 5, 12, 12], w: [6, 5, 5, 5] },
  { title: '5×5, stride 2, padding 2', x: [3, 4, 17, 16], w: [8, 4, 5, 5], stride: 2, padding: 2 },
  { title: 'non-square kernel, stride and padding', x: [2, 3, 13, 7], w: [5, 3, 5, 2], stride: [2, 1], padding: [2, 0] },
  { title: 'non-square image, 3×3', x: [2, 6, 5, 19], w: [4, 6, 3, 3], padding: 1 },
  { title: 'batch 1', x: [1, 32, 14, 14], w: [64, 32, 3, 3], padding: 1 },
  { title: 'C = 1, batch 1', x: [1, 1, 9, 9], w: [3, 1, 3, 3], padding: 1 },
  { title: 'large K', x: [2, 16, 8, 8], w: [256, 16, 3, 3], padding: 1 },
  { title: 'P·Q = 1 (kernel = image)', x: [4, 8, 5, 5], w: [12, 8, 5, 5] },
  { title: 'P·Q small, stride 2 skipping rows', x: [2, 3, 8, 8], w: [5, 3, 3, 3], stride: 2 },
  { title: 'padding 2 on a 3×3 kernel', x: [2, 2, 5, 5], w: [3, 2, 3, 3], padding: 2 },
  { title: 'odd everything', x: [3, 19, 11, 13], w: [17, 19, 3, 3], stride: [1, 2], padding: [1, 2] },
];

const opts = (s: Shape): nc.Conv2dOptions => ({ stride: s.stride, padding: s.padding });
const geom = (s: Shape) => ref.convGeom(s.x, s.w, s.stride ?? 1, s.padding ?? 0);
const label = (s: Shape) =>
  `${s.title}: x (${s.x.join(', ')}), w (${s.w.join(', ')}), stride ${JSON.stringify(s.stride ?? 1)}, padding ${JSON.stringify(s.padding ?? 0)}`;

function withConv<R>(impl: ConvImplementation, f: () => R): R {
  const saved = nc.getConvImplementation();
  nc.setConvImplementation(impl);
  try {
    return f();
  } finally {
    nc.setConvImplementation(saved);
  }
}

function withThreads<R>(n: number, f: () => R): R {
  const saved = nc.getNumThreads();
  nc.setNumThreads(n);
  try {
    return f();
  } finally {
    nc.setNumThreads(saved);
  }
}

// Values of one pass, disposing the tensor.
function values(f: () => Tensor): Float64Array {
  const t = f();
  try {
    return f64(t);
  } finally {
    t.dispose();
  }
}

// |a − b| ≤ 2·(4·√k·u·mag + u·(|a| + |b|)) elementwise; see the tolerance at the top.
function expectWithinAccum(a: Float64Array, b: Float64Array, k: number, mag: Float64Array, what: string): void {
  expect(a.length).toBe(b.length);
  let bad = 0, worst = 0, worstAt = -1;
  for (let i = 0; i < a.length; i++) {
    const bound = 2 * (4 * Math.sqrt(k) * U32 * mag[i] + U32 * (Math.abs(a[i]) + Math.abs(b[i])));
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= bound)) {
      bad++;
      if (!(d / bound <= worst)) {
        worst = d / bound;
        worstAt = i;
      }
    }
  }
  if (bad > 0) throw new Error(`${what}: ${bad} of ${a.length} outputs differ beyond the accum bound (worst ${worst}× the bound at ${worstAt}: ${a[worstAt]} vs ${b[worstAt]})`);
}

// The three passes of one shape in float32 under `impl`, on the same inputs.
interface Passes {
  y: Float64Array;
  yBias: Float64Array;
  dx: Float64Array;
  dw: Float64Array;
}
interface Inputs {
  x: Tensor;
  w: Tensor;
  b: Tensor;
  dy: Tensor;
  xv: Float64Array;
  wv: Float64Array;
  bv: Float64Array;
  dyv: Float64Array;
}
function inputs(s: Shape, seed: number): Inputs {
  const g = geom(s);
  const x = randTensor(s.x, seed, 'float32');
  const w = randTensor(s.w, seed + 1, 'float32');
  const b = randTensor([g.K], seed + 2, 'float32');
  const dy = randTensor([g.N, g.K, g.P, g.Q], seed + 3, 'float32');
  return { x: x.t, w: w.t, b: b.t, dy: dy.t, xv: x.v, wv: w.v, bv: b.v, dyv: dy.v };
}
function disposeInputs(i: Inputs): void {
  for (const t of [i.x, i.w, i.b, i.dy]) t.dispose();
}
function passes(s: Shape, i: Inputs, impl: ConvImplementation): Passes {
  return withConv(impl, () => ({
    y: values(() => nc.conv2d(i.x, i.w, null, opts(s))),
    yBias: values(() => nc.conv2d(i.x, i.w, i.b, opts(s))),
    dx: values(() => nc.conv2dBackwardData(i.dy, i.w, s.x, opts(s))),
    dw: values(() => nc.conv2dBackwardFilter(i.dy, i.x, s.w, opts(s))),
  }));
}

const abs = (v: Float64Array) => v.map(Math.abs);

// Each pass of `a` within the accum bound of `b`'s.
function expectPassesClose(s: Shape, i: Inputs, a: Passes, b: Passes, what: string): void {
  const g = geom(s);
  const yMag = ref.refConv2d(abs(i.xv), abs(i.wv), null, g);
  const yBiasMag = ref.refConv2d(abs(i.xv), abs(i.wv), abs(i.bv), g);
  const dxMag = ref.refConv2dBackwardData(abs(i.dyv), abs(i.wv), g);
  const dwMag = ref.refConv2dBackwardFilter(abs(i.dyv), abs(i.xv), g);
  expectWithinAccum(a.y, b.y, g.C * g.R * g.S, yMag, `conv2d ${what}`);
  expectWithinAccum(a.yBias, b.yBias, g.C * g.R * g.S + 1, yBiasMag, `conv2d with bias ${what}`);
  expectWithinAccum(a.dx, b.dx, g.K * Math.ceil(g.R / g.sh) * Math.ceil(g.S / g.sw), dxMag, `conv2dBackwardData ${what}`);
  expectWithinAccum(a.dw, b.dw, g.N * g.P * g.Q, dwMag, `conv2dBackwardFilter ${what}`);
}

const onednnTest = ONEDNN.available ? test : test.skip;
const onednnTitle = (title: string) => (ONEDNN.available ? title : `${title} skipped: ${ONEDNN.reason}`);

describe('oneDNN against the built-in convolutions (float32)', () => {
  if (!ONEDNN.available) {
    // No oneDNN to compare: check instead that the built-in path is in use and oneDNN refused.
    test(`without oneDNN (${ONEDNN.reason}): the built-in convolutions run and 'onednn' is refused`, expectOneDnnRefused);
    return;
  }
  SHAPES.forEach((s, n) => {
    test(label(s), () => {
      const i = inputs(s, 100 + 10 * n);
      try {
        expectPassesClose(s, i, passes(s, i, 'onednn'), passes(s, i, 'builtin'), label(s));
      } finally {
        disposeInputs(i);
      }
    });
  });

  test('the oneDNN path really runs: a long sum rounds differently from im2col + GEMM', () => {
    // conv3 of cnn3 sums 576 products per output in an order of each library's choosing; equal
    // bits everywhere would mean both calls took the same (built-in) path.
    const s = SHAPES[2];
    const i = inputs(s, 7);
    try {
      const a = passes(s, i, 'onednn'), b = passes(s, i, 'builtin');
      expect(a.y.some((v, j) => v !== b.y[j])).toBe(true);
    } finally {
      disposeInputs(i);
    }
  });
});

describe('shapes beyond oneDNN\'s limits', () => {
  onednnTest(onednnTitle('a stride of 2⁴⁰ (one output; oneDNN refuses it) runs the built-in path, every pass'), () => {
    const s: Shape = { title: 'huge stride', x: [2, 3, 4, 5], w: [4, 3, 3, 3], stride: 2 ** 40 };
    const i = inputs(s, 5);
    try {
      const a = passes(s, i, 'onednn'), b = passes(s, i, 'builtin');
      for (const k of ['y', 'yBias', 'dx', 'dw'] as const) {
        expect(Buffer.from(a[k].buffer).equals(Buffer.from(b[k].buffer))).toBe(true);
      }
    } finally {
      disposeInputs(i);
    }
  });
});

describe('thread counts', () => {
  onednnTest(onednnTitle('oneDNN results for 1, 2 and 3 threads agree within the accum bound'), () => {
    // oneDNN splits its reductions (the filter gradient over the batch) by thread: rounding
    // only (note [oneDNN threads] in native/core/cpu/onednn_library.cpp).
    for (const s of [SHAPES[1], SHAPES[3], SHAPES[6]]) {
      const i = inputs(s, 31);
      try {
        const one = withThreads(1, () => passes(s, i, 'onednn'));
        for (const n of [2, 3]) {
          expectPassesClose(s, i, withThreads(n, () => passes(s, i, 'onednn')), one, `${label(s)}, ${n} vs 1 threads`);
        }
      } finally {
        disposeInputs(i);
      }
    }
  });
});

describe('float64 stays on the built-in path', () => {
  test('conv2d, backward data and backward filter give the same bits under either setting', () => {
    const s = SHAPES[1];
    const x = randTensor(s.x, 1), w = randTensor(s.w, 2), b = randTensor([s.w[0]], 3);
    const g = geom(s);
    const dy = randTensor([g.N, g.K, g.P, g.Q], 4);
    const run = () => ({
      y: values(() => nc.conv2d(x.t, w.t, b.t, opts(s))),
      dx: values(() => nc.conv2dBackwardData(dy.t, w.t, s.x, opts(s))),
      dw: values(() => nc.conv2dBackwardFilter(dy.t, x.t, s.w, opts(s))),
    });
    try {
      const builtin = withConv('builtin', run);
      const other = withConv(ONEDNN.available ? 'onednn' : 'builtin', run);
      expect(Buffer.from(other.y.buffer).equals(Buffer.from(builtin.y.buffer))).toBe(true);
      expect(Buffer.from(other.dx.buffer).equals(Buffer.from(builtin.dx.buffer))).toBe(true);
      expect(Buffer.from(other.dw.buffer).equals(Buffer.from(builtin.dw.buffer))).toBe(true);
    } finally {
      for (const t of [x.t, w.t, b.t, dy.t]) t.dispose();
    }
  });
});

describe('selection API', () => {
  test('the default is oneDNN exactly when it loaded; info() and the description say which', () => {
    const i = nc.info();
    expect(typeof i.onednn.available).toBe('boolean');
    const description = nc.devices().find((d) => d.name === 'cpu')?.description ?? '';
    if (i.onednn.available) {
      expect(i.onednn.version).toMatch(/^3\.\d+\.\d+$/);
      expect(i.onednn.library).not.toBe('');
      expect(i.onednn.reason).toBe('');
      expect(i.conv).toBe('onednn');
      expect(description).toContain(`convolutions: oneDNN ${i.onednn.version}`);
    } else {
      expect(i.onednn.version).toBe('');
      expect(i.onednn.reason).not.toBe('');
      expect(i.conv).toBe('builtin');
      expect(description).toContain('convolutions: im2col + GEMM (no oneDNN)');
    }
    expect(nc.oneDnnAvailable()).toBe(i.onednn.available);
    expect(nc.getConvImplementation()).toBe(i.conv);
  });

  test('set and get round-trip; builtin is always there', () => {
    withConv('builtin', () => {
      expect(nc.getConvImplementation()).toBe('builtin');
      expect(nc.info().conv).toBe('builtin');
      expect(nc.devices().find((d) => d.name === 'cpu')?.description).toContain('convolutions: im2col + GEMM');
    });
  });

  test('bad values are refused naming the argument', () => {
    expectThrow(() => nc.setConvImplementation('cudnn' as ConvImplementation), 'RangeError', /^setConvImplementation: impl must be 'onednn' or 'builtin', got 'cudnn'/);
    expectThrow(() => nc.setConvImplementation(1 as unknown as ConvImplementation), 'TypeError', /^setConvImplementation: impl must be 'onednn' or 'builtin', got /);
    expectThrow(() => nc.setConvImplementation(undefined as unknown as ConvImplementation), 'TypeError', /^setConvImplementation: /);
  });

  test('without a loadable oneDNN: the reason is given, onednn is refused naming it, convolutions still run', () => {
    // NEWTON_ONEDNN_LIBRARY names a library that is not oneDNN (libz): the loader takes the first
    // candidate that opens (note [oneDNN at run time]), finds no dnnl_version and gives up.
    const script = `
      const nc = require(${JSON.stringify(path.resolve(__dirname, '..', 'dist', 'lib'))});
      const i = nc.info();
      let error = null;
      try { nc.setConvImplementation('onednn'); } catch (e) { error = e.name + ': ' + e.message; }
      const one = nc.Tensor.full([1, 1, 3, 3], 1, { dtype: 'float32' });
      const y = nc.conv2d(one, one, null, { padding: 1 }).toArray();
      console.log(JSON.stringify({ onednn: i.onednn, conv: i.conv, error, y: Array.from(y) }));`;
    const r = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      env: { ...process.env, NEWTON_ONEDNN_LIBRARY: 'libz.so.1' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { onednn: nc.OneDnnInfo; conv: string; error: string | null; y: number[] };
    expect(out.onednn.available).toBe(false);
    expect(out.conv).toBe('builtin');
    expect(out.onednn.reason).toMatch(ONEDNN.available ? /^libz\.so\.1, loaded as oneDNN, has no dnnl_version/ : /./);
    expect(out.error).toMatch(/^RangeError: setConvImplementation: impl 'onednn' is not available: /);
    expect(out.error).toContain(out.onednn.reason);
    expect(out.y).toEqual([4, 6, 4, 6, 9, 6, 4, 6, 4]);
  });
});

// CI installs oneDNN (scripts/install-onednn.sh in .ci/run): there its absence is a failure.
requiredInCi('the oneDNN convolutions', ONEDNN.available ? null : ONEDNN.reason);
