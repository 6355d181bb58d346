// Bad input for every exported function: the error class of each kind of mistake (note [error
// classes] in native/core/error.h, README.md "Errors") and the message convention of note
// [error messages] in native/core/op.h, inputs unchanged afterwards, no memory leaked on the
// error paths, and NaN propagation. Every declared op (the addon's opSchemas()) is in the
// tables below: the coverage test at the end fails for a new op that is not.
//
// Error classes are checked by name (helpers.expectThrow), not instanceof: see the note there.
import * as nc from '../lib';
import { Tensor } from '../lib';
import { native } from '../lib/native';
import { ErrorKind, expectEqualArrays, expectThrow, f64, randTensor, settledBytesInUse } from './helpers';

/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyFn = (...args: any[]) => unknown;

const t = (shape: number[], dtype: 'float32' | 'float64' | 'int32' = 'float32', seed = 1): Tensor =>
  dtype === 'int32' ? Tensor.from(Int32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i % 3), { shape }) : randTensor(shape, seed, dtype).t;

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const shapeStr = (s: readonly number[]) => `(${s.join(', ')})`;

// Every op taking tensors: a valid call and the positions/names of its tensor arguments.
interface OpSpec {
  op: string;
  fn: AnyFn;
  // fresh valid arguments (float32 by default)
  args: (dtype?: 'float32' | 'float64') => unknown[];
  // [position, name, optional (null/undefined allowed), float data (not argmax)]
  tensors: [number, string, boolean?, boolean?][];
  // accepts int32 data (cast/fill/copy move data of any dtype)
  anyDtype?: boolean;
  // the spec defines this op as another one ("matmul: gemm without options",
  // "conv2dBackwardBias = biasGrad"), so its messages may carry either name
  alias?: string;
}

const opPat = (s: OpSpec) => (s.alias ? `(?:${esc(s.op)}|${esc(s.alias)})` : esc(s.op));

const convOpts = { stride: 1, padding: 1 };
const poolOpts = { kernel: 2 };
const specs: OpSpec[] = [
  { op: 'fill', fn: nc.fill, args: (d) => [t([2, 3], d), 1.5], tensors: [[0, 't']], anyDtype: true },
  { op: 'copy', fn: nc.copy, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'dst'], [1, 'src']], anyDtype: true },
  { op: 'channelCopy', fn: nc.channelCopy, args: (d) => [t([2, 5, 2, 2], d), t([2, 2, 2, 2], d, 2), 1], tensors: [[0, 'dst'], [1, 'src']] },
  { op: 'channelSlice', fn: nc.channelSlice, args: (d) => [t([2, 5, 2, 2], d), 1, 2], tensors: [[0, 'src']] },
  { op: 'cast', fn: nc.cast, args: (d) => [t([2, 3], d), 'float64'], tensors: [[0, 'x']], anyDtype: true },
  { op: 'add', fn: nc.add, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'a'], [1, 'b']] },
  { op: 'sub', fn: nc.sub, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'a'], [1, 'b']] },
  { op: 'mul', fn: nc.mul, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'a'], [1, 'b']] },
  { op: 'scale', fn: nc.scale, args: (d) => [t([2, 3], d), 2], tensors: [[0, 'x']] },
  { op: 'axpy', fn: nc.axpy, args: (d) => [t([2, 3], d), 0.5, t([2, 3], d, 2)], tensors: [[0, 'y'], [2, 'x']] },
  { op: 'relu', fn: nc.relu, args: (d) => [t([2, 3], d)], tensors: [[0, 'x']] },
  { op: 'tanh', fn: nc.tanh, args: (d) => [t([2, 3], d)], tensors: [[0, 'x']] },
  { op: 'tanhBackward', fn: nc.tanhBackward, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'dy'], [1, 'y']] },
  { op: 'rsqrt', fn: nc.rsqrt, args: (d) => [t([2, 3], d), 1e-5], tensors: [[0, 'x']] },
  { op: 'reluMask', fn: nc.reluMask, args: (d) => [t([2, 3], d)], tensors: [[0, 'x']] },
  { op: 'reluBackward', fn: nc.reluBackward, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'dy'], [1, 'x']] },
  { op: 'sum', fn: nc.sum, args: (d) => [t([2, 3], d)], tensors: [[0, 'x']] },
  { op: 'dot', fn: nc.dot, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'a'], [1, 'b']] },
  { op: 'squaredNorm', fn: nc.squaredNorm, args: (d) => [t([2, 3], d)], tensors: [[0, 'x']] },
  {
    op: 'cgUpdate',
    fn: nc.cgUpdate,
    args: (d) => [t([6], d), t([6], d, 2), t([6], d, 3), t([6], d, 4), 0.5],
    tensors: [[0, 'x'], [1, 'r'], [2, 'p'], [3, 'q']],
  },
  { op: 'gemm', fn: nc.gemm, args: (d) => [t([2, 3], d), t([3, 4], d, 2), { alpha: 1 }], tensors: [[0, 'a'], [1, 'b']] },
  { op: 'matmul', fn: nc.matmul, args: (d) => [t([2, 3], d), t([3, 4], d, 2)], tensors: [[0, 'a'], [1, 'b']], alias: 'gemm' },
  { op: 'biasAdd', fn: nc.biasAdd, args: (d) => [t([2, 3, 2, 2], d), t([3], d, 2)], tensors: [[0, 'y'], [1, 'b']] },
  { op: 'biasGrad', fn: nc.biasGrad, args: (d) => [t([2, 3, 2, 2], d)], tensors: [[0, 'dy']] },
  { op: 'channelDot', fn: nc.channelDot, args: (d) => [t([2, 3, 2, 2], d), t([2, 3, 2, 2], d, 2)], tensors: [[0, 'a'], [1, 'b']] },
  {
    op: 'channelAffine',
    fn: nc.channelAffine,
    args: (d) => [t([2, 3, 2, 2], d), t([3], d, 2), t([3], d, 3)],
    tensors: [[0, 'x'], [1, 'scale'], [2, 'shift', true]],
  },
  {
    op: 'channelCombine',
    fn: nc.channelCombine,
    args: (d) => [t([2, 3, 2, 2], d), t([3], d, 2), t([2, 3, 2, 2], d, 3), t([3], d, 4), t([3], d, 5)],
    tensors: [[0, 'a'], [1, 'aScale'], [2, 'b'], [3, 'bScale'], [4, 'shift', true]],
  },
  { op: 'batchNormStats', fn: nc.batchNormStats, args: (d) => [t([2, 3, 2, 2], d), 1e-5], tensors: [[0, 'x']] },
  { op: 'linear', fn: nc.linear, args: (d) => [t([2, 3], d), t([4, 3], d, 2), t([4], d, 3)], tensors: [[0, 'x'], [1, 'w'], [2, 'b', true]] },
  { op: 'linearBackward', fn: nc.linearBackward, args: (d) => [t([2, 4], d), t([2, 3], d, 2), t([4, 3], d, 3), { bias: true }], tensors: [[0, 'dy'], [1, 'x'], [2, 'w']] },
  { op: 'conv2d', fn: nc.conv2d, args: (d) => [t([2, 3, 5, 5], d), t([4, 3, 3, 3], d, 2), t([4], d, 3), convOpts], tensors: [[0, 'x'], [1, 'w'], [2, 'b', true]] },
  { op: 'conv2dBackwardData', fn: nc.conv2dBackwardData, args: (d) => [t([2, 4, 5, 5], d), t([4, 3, 3, 3], d, 2), [2, 3, 5, 5], convOpts], tensors: [[0, 'dy'], [1, 'w']] },
  { op: 'conv2dBackwardFilter', fn: nc.conv2dBackwardFilter, args: (d) => [t([2, 4, 5, 5], d), t([2, 3, 5, 5], d, 2), [4, 3, 3, 3], convOpts], tensors: [[0, 'dy'], [1, 'x']] },
  { op: 'conv2dBackwardBias', fn: nc.conv2dBackwardBias, args: (d) => [t([2, 4, 5, 5], d)], tensors: [[0, 'dy']], alias: 'biasGrad' },
  { op: 'conv2dRelu', fn: nc.conv2dRelu, args: (d) => [t([2, 3, 5, 5], d), t([4, 3, 3, 3], d, 2), t([4], d, 3), convOpts], tensors: [[0, 'x'], [1, 'w'], [2, 'b', true]] },
  { op: 'conv2dBackward', fn: nc.conv2dBackward, args: (d) => [t([2, 4, 5, 5], d), t([2, 3, 5, 5], d, 2), t([4, 3, 3, 3], d, 3), convOpts], tensors: [[0, 'dy'], [1, 'x'], [2, 'w']] },
  {
    op: 'conv2dJvp',
    fn: nc.conv2dJvp,
    args: (d) => [t([2, 3, 5, 5], d), t([4, 3, 3, 3], d, 2), t([2, 3, 5, 5], d, 3), t([4, 3, 3, 3], d, 4), t([4], d, 5), convOpts],
    tensors: [[0, 'x'], [1, 'w'], [2, 'rx', true], [3, 'v'], [4, 'vb', true]],
  },
  { op: 'maxPool2d', fn: nc.maxPool2d, args: (d) => [t([2, 3, 4, 4], d), poolOpts], tensors: [[0, 'x']] },
  {
    op: 'maxPool2dBackward',
    fn: nc.maxPool2dBackward,
    args: (d) => [t([2, 3, 2, 2], d), nc.maxPool2d(t([2, 3, 4, 4], d), poolOpts).argmax, [2, 3, 4, 4], poolOpts],
    tensors: [[0, 'dy'], [1, 'argmax', false, false]],
  },
  {
    op: 'maxPool2dReluBackward',
    fn: nc.maxPool2dReluBackward,
    args: (d) => [t([2, 3, 2, 2], d), nc.maxPool2d(t([2, 3, 4, 4], d), poolOpts).argmax, t([2, 3, 4, 4], d, 2), poolOpts],
    tensors: [[0, 'dy'], [1, 'argmax', false, false], [2, 'reluInput']],
  },
  {
    op: 'maxPool2dJvp',
    fn: nc.maxPool2dJvp,
    args: (d) => [t([2, 3, 4, 4], d), nc.maxPool2d(t([2, 3, 4, 4], d), poolOpts).argmax, poolOpts],
    tensors: [[0, 'rx'], [1, 'argmax', false, false]],
  },
  { op: 'avgPool2d', fn: nc.avgPool2d, args: (d) => [t([2, 3, 4, 4], d), poolOpts], tensors: [[0, 'x']] },
  { op: 'avgPool2dBackward', fn: nc.avgPool2dBackward, args: (d) => [t([2, 3, 2, 2], d), [2, 3, 4, 4], poolOpts], tensors: [[0, 'dy']] },
  { op: 'squaredLoss', fn: nc.squaredLoss, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'z'], [1, 'y']] },
  { op: 'squaredLossGradient', fn: nc.squaredLossGradient, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'z'], [1, 'y']] },
  { op: 'squaredLossHessianProduct', fn: nc.squaredLossHessianProduct, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'z'], [1, 'u']] },
  { op: 'softmax', fn: nc.softmax, args: (d) => [t([2, 3], d)], tensors: [[0, 'z']] },
  { op: 'softmaxCrossEntropy', fn: nc.softmaxCrossEntropy, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'z'], [1, 'y']] },
  { op: 'softmaxCrossEntropyGradient', fn: nc.softmaxCrossEntropyGradient, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'z'], [1, 'y']] },
  { op: 'softmaxCrossEntropyHessianProduct', fn: nc.softmaxCrossEntropyHessianProduct, args: (d) => [t([2, 3], d), t([2, 3], d, 2)], tensors: [[0, 'z'], [1, 'u']] },
  {
    op: 'newtonResidual',
    fn: nc.newtonResidual,
    args: (d) => [t([2, 3], d), t([2, 3], d, 2), t([2, 3], d, 3), t([2, 3], d, 4), t([1], d, 5), { relu: true }],
    tensors: [[0, 'a'], [1, 'b'], [2, 'p'], [3, 'q', true], [4, 'alpha']],
  },
  {
    op: 'newtonResidualBackward',
    fn: nc.newtonResidualBackward,
    args: (d) => [t([2, 3], d), t([2, 3], d, 2), t([2, 3], d, 3), t([2, 3], d, 4), t([1], d, 5), { relu: false }],
    tensors: [[0, 'dy'], [1, 'y'], [2, 'p'], [3, 'q', true], [4, 'alpha']],
  },
  {
    op: 'newtonResidualJvp',
    fn: nc.newtonResidualJvp,
    args: (d) => [t([2, 3], d), t([2, 3], d, 2), t([2, 3], d, 3), t([2, 3], d, 4), t([2, 3], d, 5), t([2, 3], d, 6), t([2, 3], d, 7), t([1], d, 8), t([1], d, 9), { relu: true }],
    tensors: [[0, 'y'], [1, 'ra', true], [2, 'rb', true], [3, 'p'], [4, 'q', true], [5, 'rp', true], [6, 'rq', true], [7, 'alpha'], [8, 'valpha']],
  },
  {
    op: 'newtonResidualVjpJvp',
    fn: nc.newtonResidualVjpJvp,
    args: (d) => [t([2, 3], d), t([2, 3], d, 2), t([2, 3], d, 3), t([2, 3], d, 4), t([2, 3], d, 5), t([2, 3], d, 6), t([2, 3], d, 7), t([1], d, 8), t([1], d, 9), { relu: true }],
    tensors: [[0, 'dy'], [1, 'rdy'], [2, 'y'], [3, 'p'], [4, 'q', true], [5, 'rp', true], [6, 'rq', true], [7, 'alpha'], [8, 'valpha']],
  },
  {
    op: 'cgNetUpdate',
    fn: nc.cgNetUpdate,
    args: (d) => [t([2, 3], d), t([2, 3], d, 2), t([2, 3], d, 3), t([2, 3], d, 4), t([2, 3], d, 5), t([1], d, 6), t([1], d, 7)],
    tensors: [[0, 'y'], [1, 'g1'], [2, 'g2'], [3, 'g3'], [4, 'dprev', true], [5, 'alpha'], [6, 'beta', true]],
  },
  {
    op: 'cgNetUpdateBackward',
    fn: nc.cgNetUpdateBackward,
    args: (d) => [t([2, 3], d), t([2, 3], d, 2), t([2, 3], d, 3), t([2, 3], d, 4), t([1], d, 5), t([1], d, 6)],
    tensors: [[0, 'dy1'], [1, 'dd', true], [2, 'd'], [3, 'dprev', true], [4, 'alpha'], [5, 'beta', true]],
  },
  {
    op: 'cgNetUpdateJvp',
    fn: nc.cgNetUpdateJvp,
    args: (d) => [t([2, 3], d), t([2, 3], d, 2), t([2, 3], d, 3), t([2, 3], d, 4), t([2, 3], d, 5), t([2, 3], d, 6), t([2, 3], d, 7), t([1], d, 8), t([1], d, 9), t([1], d, 10), t([1], d, 11)],
    tensors: [[0, 'd'], [1, 'dprev', true], [2, 'ry', true], [3, 'rg1', true], [4, 'rg2', true], [5, 'rg3', true], [6, 'rdprev', true], [7, 'alpha'], [8, 'beta', true], [9, 'valpha'], [10, 'vbeta', true]],
  },
  {
    op: 'cgNetUpdateVjpJvp',
    fn: nc.cgNetUpdateVjpJvp,
    args: (d) => [t([2, 3], d), t([2, 3], d, 2), t([2, 3], d, 3), t([2, 3], d, 4), t([2, 3], d, 5), t([2, 3], d, 6), t([2, 3], d, 7), t([2, 3], d, 8), t([1], d, 9), t([1], d, 10), t([1], d, 11), t([1], d, 12)],
    tensors: [[0, 'dy1'], [1, 'dd', true], [2, 'rdy1'], [3, 'rdd', true], [4, 'd'], [5, 'rd'], [6, 'dprev', true], [7, 'rdprev', true], [8, 'alpha'], [9, 'beta', true], [10, 'valpha'], [11, 'vbeta', true]],
  },
];

const tensorsIn = (args: unknown[]): Tensor[] => {
  const out: Tensor[] = [];
  for (const a of args) {
    if (a instanceof Tensor) out.push(a);
    else if (a && typeof a === 'object' && !Array.isArray(a)) for (const v of Object.values(a)) if (v instanceof Tensor) out.push(v);
  }
  return out;
};

// Runs a call that must fail; checks class and message, then that every (live) input tensor
// still holds its data and that the library still works.
function expectFails(fn: () => unknown, kind: ErrorKind, re: RegExp, inputs: Tensor[] = []): void {
  const before = inputs.map((x) => (x.disposed ? null : Array.from(x.toArray() as ArrayLike<number>)));
  expectThrow(fn, kind, re);
  inputs.forEach((x, i) => {
    if (before[i] === null) return;
    expect(x.disposed).toBe(false);
    expectEqualArrays(x.toArray(), before[i]!, `input ${i} after the error`);
  });
}

describe('valid base calls (sanity for the tables below)', () => {
  test.each(specs.map((s) => [s.op, s]))('%s', (_n, s) => {
    for (const d of ['float32', 'float64'] as const) expect(() => s.fn(...s.args(d))).not.toThrow();
  });
});

describe('non-tensor arguments → TypeError "<op>: <arg> must be a Tensor, got <what>"', () => {
  const bad: [unknown, string][] = [
    [3, 'number'],
    [null, 'null'],
    [undefined, 'undefined'],
    [{}, 'object'],
    [[1, 2], 'array'],
    ['x', 'string'],
    [Float32Array.of(1, 2), 'object'],
  ];
  const rows: [string, string, number, OpSpec][] = [];
  for (const s of specs) for (const [pos, name] of s.tensors) rows.push([s.op, name, pos, s]);
  test.each(rows)('%s(%s)', (_op, name, pos, s) => {
    const opt = s.tensors.find((x) => x[0] === pos)![2];
    for (const [value, what] of bad) {
      if (opt && (value === null || value === undefined)) continue; // optional bias
      const args = s.args();
      const inputs = tensorsIn(args);
      args[pos] = value;
      expectFails(() => s.fn(...args), 'TypeError', new RegExp(`^${opPat(s)}: ${esc(name)} must be a Tensor, got ${what}$`), inputs);
    }
  });

  test('gemm(options.c) not a tensor', () => {
    const a = t([2, 3]), b = t([3, 4]);
    expectFails(() => nc.gemm(a, b, { c: 3 as any, beta: 1 }), 'TypeError', /^gemm: (options\.)?c must be a Tensor, got number$/, [a, b]);
    expectFails(() => nc.gemm(a, b, { c: {} as any, beta: 1 }), 'TypeError', /^gemm: (options\.)?c must be a Tensor, got object$/, [a, b]);
  });
});

describe('disposed tensors → Error "<op>: <arg>: tensor is disposed"', () => {
  const rows: [string, string, number, OpSpec][] = [];
  for (const s of specs) for (const [pos, name] of s.tensors) rows.push([s.op, name, pos, s]);
  test.each(rows)('%s(%s)', (_op, name, pos, s) => {
    const args = s.args();
    (args[pos] as Tensor).dispose();
    expectFails(() => s.fn(...args), 'Error', new RegExp(`^${opPat(s)}: ${esc(name)}: tensor is disposed$`), tensorsIn(args));
  });

  test('gemm(options.c) disposed; Tensor methods on a disposed tensor', () => {
    const a = t([2, 3]), b = t([3, 4]), c = t([2, 4]);
    c.dispose();
    expectFails(() => nc.gemm(a, b, { c, beta: 1 }), 'Error', /^gemm: (options\.)?c: tensor is disposed$/, [a, b]);
    const x = t([2, 2]);
    x.dispose();
    for (const f of [() => x.toArray(), () => x.toNested(), () => x.item(), () => x.reshape([4]), () => x.clone()]) expectThrow(f, 'Error', /tensor is disposed/);
    // metadata stays readable
    expect(x.shape).toEqual([2, 2]);
    expect(x.dtype).toBe('float32');
    expect(x.disposed).toBe(true);
  });
});

describe('dtypes', () => {
  const rows: [string, string, number, OpSpec][] = [];
  for (const s of specs) if (!s.anyDtype) for (const [pos, name, , isFloat] of s.tensors) if (isFloat !== false) rows.push([s.op, name, pos, s]);

  test.each(rows)('%s(%s) int32 → RangeError "must be float32 or float64, got int32"', (_op, name, pos, s) => {
    const args = s.args();
    const inputs = tensorsIn(args);
    args[pos] = t([...(args[pos] as Tensor).shape], 'int32');
    expectFails(() => s.fn(...args), 'RangeError', new RegExp(`^${opPat(s)}: ${esc(name)} must be float32 or float64, got int32$`), inputs);
  });

  const mixed = specs.filter((s) => !s.anyDtype && s.tensors.filter((x) => x[3] !== false).length >= 2);
  test.each(mixed.map((s) => [s.op, s]))('%s with float32 and float64 mixed → RangeError naming both dtypes', (_op, s) => {
    const floatPos = s.tensors.filter((x) => x[3] !== false);
    for (const [pos] of floatPos.slice(1)) {
      const args = s.args('float32');
      const inputs = tensorsIn(args);
      args[pos] = t([...(args[pos] as Tensor).shape], 'float64');
      expectFails(() => s.fn(...args), 'RangeError', new RegExp(`^${opPat(s)}: \\w+ has dtype float(32|64) but \\w+ has float(32|64)`), inputs);
    }
  });

  test('maxPool2dBackward argmax must be int32; gemm c dtype must match', () => {
    const dy = t([1, 1, 2, 2]);
    expectFails(() => nc.maxPool2dBackward(dy, t([1, 1, 2, 2]), [1, 1, 4, 4], poolOpts), 'RangeError', /^maxPool2dBackward: argmax .*int32/, [dy]);
    const a = t([2, 3]), b = t([3, 4]);
    expectFails(() => nc.gemm(a, b, { c: t([2, 4], 'float64'), beta: 1 }), 'RangeError', /^gemm: .*float64.*float32|^gemm: .*float32.*float64/, [a, b]);
  });
});

describe('ranks and shapes → RangeError naming op, argument and shapes', () => {
  const rank: [string, () => unknown, RegExp][] = [
    ['conv2d x 3-D', () => nc.conv2d(t([3, 5, 5]), t([4, 3, 3, 3])), /^conv2d: x must have .*\(3, 5, 5\)/],
    ['conv2d w 2-D', () => nc.conv2d(t([1, 3, 5, 5]), t([3, 3])), /^conv2d: w must have .*\(3, 3\)/],
    ['conv2d b 2-D', () => nc.conv2d(t([1, 3, 5, 5]), t([4, 3, 3, 3]), t([4, 1])), /^conv2d: b must have .*\(4, 1\)/],
    ['conv2dBackwardData dy 2-D', () => nc.conv2dBackwardData(t([4, 9]), t([4, 3, 3, 3]), [1, 3, 5, 5]), /^conv2dBackwardData: dy must have .*\(4, 9\)/],
    ['conv2dBackwardData w 3-D', () => nc.conv2dBackwardData(t([1, 4, 3, 3]), t([4, 3, 9]), [1, 3, 5, 5]), /^conv2dBackwardData: w must have .*\(4, 3, 9\)/],
    ['conv2dBackwardData xShape 3-D', () => nc.conv2dBackwardData(t([1, 4, 3, 3]), t([4, 3, 3, 3]), [3, 5, 5]), /^conv2dBackwardData: .*(xShape|x).*\(3, 5, 5\)/],
    ['conv2dBackwardFilter x 5-D', () => nc.conv2dBackwardFilter(t([1, 4, 3, 3]), t([1, 1, 3, 5, 5]), [4, 3, 3, 3]), /^conv2dBackwardFilter: x must have .*\(1, 1, 3, 5, 5\)/],
    ['conv2dBackwardFilter wShape 2-D', () => nc.conv2dBackwardFilter(t([1, 4, 3, 3]), t([1, 3, 5, 5]), [4, 27]), /^conv2dBackwardFilter: .*(wShape|w).*\(4, 27\)/],
    ['maxPool2d x 3-D', () => nc.maxPool2d(t([3, 4, 4]), poolOpts), /^maxPool2d: x must have .*\(3, 4, 4\)/],
    ['avgPool2d x 2-D', () => nc.avgPool2d(t([4, 4]), poolOpts), /^avgPool2d: x must have .*\(4, 4\)/],
    ['avgPool2dBackward dy 3-D', () => nc.avgPool2dBackward(t([3, 2, 2]), [1, 3, 4, 4], poolOpts), /^avgPool2dBackward: dy must have .*\(3, 2, 2\)/],
    ['linear x 3-D', () => nc.linear(t([2, 3, 1]), t([4, 3])), /^linear: x must have .*\(2, 3, 1\)/],
    ['linear w 1-D', () => nc.linear(t([2, 3]), t([3])), /^linear: w must have .*\(3\)/],
    ['linear b 2-D', () => nc.linear(t([2, 3]), t([4, 3]), t([4, 1])), /^linear: b must have .*\(4, 1\)/],
    ['linearBackward dy 1-D', () => nc.linearBackward(t([4]), t([2, 3]), t([4, 3])), /^linearBackward: dy must have .*\(4\)/],
    ['gemm a 3-D', () => nc.gemm(t([1, 2, 3]), t([3, 4])), /^gemm: a must have .*\(1, 2, 3\)/],
    ['gemm b 1-D', () => nc.gemm(t([2, 3]), t([3])), /^gemm: b must have .*\(3\)/],
    ['matmul a 1-D', () => nc.matmul(t([3]), t([3, 4])), /^(matmul|gemm): a must have .*\(3\)/],
    ['softmax z 1-D', () => nc.softmax(t([3])), /^softmax: z must have .*\(3\)/],
    ['softmax z 3-D', () => nc.softmax(t([2, 3, 1])), /^softmax: z must have .*\(2, 3, 1\)/],
    ['softmaxCrossEntropy z 1-D', () => nc.softmaxCrossEntropy(t([3]), t([3])), /^softmaxCrossEntropy: z must have .*\(3\)/],
    ['squaredLoss z 3-D', () => nc.squaredLoss(t([2, 3, 1]), t([2, 3, 1])), /^squaredLoss: z must have .*\(2, 3, 1\)/],
    ['biasAdd b 2-D', () => nc.biasAdd(t([2, 3]), t([3, 1])), /^biasAdd: b must have .*\(3, 1\)/],
    ['biasAdd y 1-D', () => nc.biasAdd(t([3]), t([3])), /^biasAdd: y must have .*\(3\)/],
    ['biasGrad dy 1-D', () => nc.biasGrad(t([3])), /^biasGrad: dy must have .*\(3\)/],
    ['channelAffine scale 2-D', () => nc.channelAffine(t([2, 3, 4]), t([3, 1])), /^channelAffine: scale must have shape \(3\) .*\(3, 1\)/],
    ['channelCombine shift of the wrong channels', () => nc.channelCombine(t([2, 3]), t([3]), t([2, 3]), t([3]), t([4])), /^channelCombine: shift must have shape \(3\) .*\(4\)/],
    ['batchNormStats x 1-D', () => nc.batchNormStats(t([3]), 1e-5), /^batchNormStats: x must have .*\(3\)/],
  ];
  test.each(rank)('%s', (_n, fn, re) => expectFails(fn, 'RangeError', re));

  const both = (op: string, s1: number[], s2: number[]) =>
    new RegExp(`^${esc(op)}: .*(${esc(shapeStr(s1))}.*${esc(shapeStr(s2))}|${esc(shapeStr(s2))}.*${esc(shapeStr(s1))})`);
  const mismatch: [string, () => unknown, RegExp][] = [
    ['add', () => nc.add(t([2, 3]), t([3, 2])), both('add', [2, 3], [3, 2])],
    ['sub', () => nc.sub(t([2, 3]), t([6])), both('sub', [2, 3], [6])],
    ['mul', () => nc.mul(t([1, 3]), t([3, 1])), both('mul', [1, 3], [3, 1])],
    ['copy', () => nc.copy(t([2, 3]), t([3, 2])), both('copy', [2, 3], [3, 2])],
    ['axpy', () => nc.axpy(t([2, 3]), 1, t([2, 2])), both('axpy', [2, 3], [2, 2])],
    ['dot', () => nc.dot(t([5]), t([6])), both('dot', [5], [6])],
    ['reluBackward', () => nc.reluBackward(t([2, 3]), t([2, 4])), both('reluBackward', [2, 3], [2, 4])],
    ['gemm inner', () => nc.gemm(t([2, 3]), t([2, 3])), both('gemm', [2, 3], [2, 3])],
    ['gemm inner with transA', () => nc.gemm(t([2, 3]), t([3, 4]), { transA: true }), both('gemm', [2, 3], [3, 4])],
    ['gemm c shape', () => nc.gemm(t([2, 3]), t([3, 4]), { c: t([4, 2]), beta: 1 }), /^gemm: .*\(4, 2\)/],
    ['matmul inner', () => nc.matmul(t([2, 3]), t([4, 2])), new RegExp(both('matmul', [2, 3], [4, 2]).source.replace('^matmul', '^(matmul|gemm)'))],
    ['biasAdd channels', () => nc.biasAdd(t([2, 3, 2, 2]), t([4])), /^biasAdd: .*\(4\)/],
    ['linear inner', () => nc.linear(t([2, 3]), t([4, 5])), both('linear', [2, 3], [4, 5])],
    ['linear bias', () => nc.linear(t([2, 3]), t([4, 3]), t([3])), /^linear: b .*\(3\)/],
    ['linearBackward dy', () => nc.linearBackward(t([2, 5]), t([2, 3]), t([4, 3])), /^linearBackward: .*\(2, 5\)/],
    ['linearBackward x', () => nc.linearBackward(t([2, 4]), t([2, 5]), t([4, 3])), /^linearBackward: .*\(2, 5\)/],
    ['conv2d channels', () => nc.conv2d(t([1, 3, 5, 5]), t([4, 2, 3, 3])), both('conv2d', [1, 3, 5, 5], [4, 2, 3, 3])],
    ['conv2d bias', () => nc.conv2d(t([1, 3, 5, 5]), t([4, 3, 3, 3]), t([3])), /^conv2d: b .*\(3\)/],
    ['conv2dBackwardData dy', () => nc.conv2dBackwardData(t([1, 4, 2, 2]), t([4, 3, 3, 3]), [1, 3, 5, 5]), /^conv2dBackwardData: .*\(1, 4, 2, 2\)/],
    ['conv2dBackwardData w channels vs xShape', () => nc.conv2dBackwardData(t([1, 4, 3, 3]), t([4, 2, 3, 3]), [1, 3, 5, 5]), /^conv2dBackwardData: .*\(4, 2, 3, 3\)/],
    ['conv2dBackwardFilter dy', () => nc.conv2dBackwardFilter(t([1, 4, 2, 2]), t([1, 3, 5, 5]), [4, 3, 3, 3]), /^conv2dBackwardFilter: .*\(1, 4, 2, 2\)/],
    ['conv2dBackwardFilter batch', () => nc.conv2dBackwardFilter(t([2, 4, 3, 3]), t([1, 3, 5, 5]), [4, 3, 3, 3]), /^conv2dBackwardFilter: .*(\(2, 4, 3, 3\)|\(1, 3, 5, 5\))/],
    ['conv2dRelu channels', () => nc.conv2dRelu(t([1, 3, 5, 5]), t([4, 2, 3, 3])), both('conv2dRelu', [1, 3, 5, 5], [4, 2, 3, 3])],
    ['conv2dRelu bias', () => nc.conv2dRelu(t([1, 3, 5, 5]), t([4, 3, 3, 3]), t([3])), /^conv2dRelu: b .*\(3\)/],
    ['conv2dBackward dy', () => nc.conv2dBackward(t([1, 4, 2, 2]), t([1, 3, 5, 5]), t([4, 3, 3, 3])), /^conv2dBackward: dy .*\(1, 4, 2, 2\)/],
    ['conv2dBackward w channels vs x', () => nc.conv2dBackward(t([1, 4, 3, 3]), t([1, 3, 5, 5]), t([4, 2, 3, 3])), both('conv2dBackward', [1, 3, 5, 5], [4, 2, 3, 3])],
    ['conv2dJvp rx', () => nc.conv2dJvp(t([1, 3, 5, 5]), t([4, 3, 3, 3]), t([2, 3, 5, 5]), t([4, 3, 3, 3])), both('conv2dJvp', [2, 3, 5, 5], [1, 3, 5, 5])],
    ['conv2dJvp v', () => nc.conv2dJvp(t([1, 3, 5, 5]), t([4, 3, 3, 3]), null, t([4, 3, 1, 1])), both('conv2dJvp', [4, 3, 1, 1], [4, 3, 3, 3])],
    ['conv2dJvp vb', () => nc.conv2dJvp(t([1, 3, 5, 5]), t([4, 3, 3, 3]), null, t([4, 3, 3, 3]), t([5])), /^conv2dJvp: vb .*\(5\)/],
    ['maxPool2dBackward dy', () => nc.maxPool2dBackward(t([1, 1, 3, 3]), t([1, 1, 3, 3], 'int32'), [1, 1, 4, 4], poolOpts), /^maxPool2dBackward: .*\(1, 1, 3, 3\)/],
    ['maxPool2dBackward argmax', () => nc.maxPool2dBackward(t([1, 1, 2, 2]), t([1, 1, 2, 3], 'int32'), [1, 1, 4, 4], poolOpts), /^maxPool2dBackward: .*\(1, 1, 2, 3\)/],
    ['avgPool2dBackward dy', () => nc.avgPool2dBackward(t([1, 2, 2, 2]), [1, 1, 4, 4], poolOpts), /^avgPool2dBackward: .*\(1, 2, 2, 2\)/],
    ['squaredLoss', () => nc.squaredLoss(t([2, 3]), t([3, 2])), both('squaredLoss', [2, 3], [3, 2])],
    ['squaredLossGradient', () => nc.squaredLossGradient(t([2, 3]), t([2, 4])), both('squaredLossGradient', [2, 3], [2, 4])],
    ['squaredLossHessianProduct', () => nc.squaredLossHessianProduct(t([2, 3]), t([1, 3])), both('squaredLossHessianProduct', [2, 3], [1, 3])],
    ['softmaxCrossEntropy', () => nc.softmaxCrossEntropy(t([2, 3]), t([2, 4])), both('softmaxCrossEntropy', [2, 3], [2, 4])],
    ['softmaxCrossEntropyGradient', () => nc.softmaxCrossEntropyGradient(t([2, 3]), t([3, 3])), both('softmaxCrossEntropyGradient', [2, 3], [3, 3])],
    ['softmaxCrossEntropyHessianProduct', () => nc.softmaxCrossEntropyHessianProduct(t([2, 3]), t([2, 2])), both('softmaxCrossEntropyHessianProduct', [2, 3], [2, 2])],
  ];
  test.each(mismatch)('mismatch: %s', (_n, fn, re) => expectFails(fn, 'RangeError', re));
});

describe('attributes and scalars', () => {
  const x = () => t([1, 3, 6, 6]);
  const w = () => t([2, 3, 3, 3]);
  const cases: [string, () => unknown, ErrorKind, RegExp][] = [
    ['conv2d stride 0', () => nc.conv2d(x(), w(), null, { stride: 0 }), 'RangeError', /^conv2d: (options\.)?stride must be a positive integer, got 0$/],
    ['conv2d stride -1', () => nc.conv2d(x(), w(), null, { stride: -1 }), 'RangeError', /^conv2d: (options\.)?stride must be a positive integer, got -1$/],
    ['conv2d stride 1.5', () => nc.conv2d(x(), w(), null, { stride: 1.5 }), 'RangeError', /^conv2d: (options\.)?stride must be a positive integer, got 1\.5$/],
    ['conv2d stride NaN', () => nc.conv2d(x(), w(), null, { stride: NaN }), 'RangeError', /^conv2d: (options\.)?stride must be a positive integer, got NaN$/],
    ['conv2d stride [1, 0]', () => nc.conv2d(x(), w(), null, { stride: [1, 0] }), 'RangeError', /^conv2d: (options\.)?stride.* got 0/],
    ['conv2d padding -1', () => nc.conv2d(x(), w(), null, { padding: -1 }), 'RangeError', /^conv2d: (options\.)?padding must be a non-negative integer, got -1$/],
    ['conv2d padding 0.5', () => nc.conv2d(x(), w(), null, { padding: 0.5 }), 'RangeError', /^conv2d: (options\.)?padding .*0\.5/],
    ['conv2d stride string', () => nc.conv2d(x(), w(), null, { stride: '2' as any }), 'TypeError', /^conv2d: options\.stride must be a number or \[number, number\], got string$/],
    ['conv2d padding 3-array', () => nc.conv2d(x(), w(), null, { padding: [1, 1, 1] as any }), 'TypeError', /^conv2d: options\.padding must be a number or \[number, number\]/],
    ['conv2d kernel larger than padded input', () => nc.conv2d(t([1, 1, 2, 2]), t([1, 1, 3, 3])), 'RangeError', /^conv2d: .*(\(1, 1, 2, 2\)|\(1, 1, 3, 3\)|kernel|larger|padded)/],
    ['conv2d kernel taller than the height padded by [0, 1]', () => nc.conv2d(t([1, 1, 2, 5]), t([1, 1, 3, 3]), null, { padding: [0, 1] }), 'RangeError', /^conv2d: /],
    ['conv2dBackwardData bad stride', () => nc.conv2dBackwardData(t([1, 2, 4, 4]), w(), [1, 3, 6, 6], { stride: 0 }), 'RangeError', /^conv2dBackwardData: (options\.)?stride must be a positive integer, got 0$/],
    ['conv2dBackwardData xShape not an array', () => nc.conv2dBackwardData(t([1, 2, 4, 4]), w(), 5 as any), 'TypeError', /^conv2dBackwardData: /],
    ['conv2dBackwardData xShape negative', () => nc.conv2dBackwardData(t([1, 2, 4, 4]), w(), [1, 3, -6, 6]), 'RangeError', /^conv2dBackwardData: /],
    ['conv2dBackward inputGradient not a boolean', () => nc.conv2dBackward(t([1, 2, 4, 4]), x(), w(), { inputGradient: 1 as any }), 'TypeError', /^conv2dBackward: options\.inputGradient /],
    ['conv2dBackward bias not a boolean', () => nc.conv2dBackward(t([1, 2, 4, 4]), x(), w(), { bias: 'yes' as any }), 'TypeError', /^conv2dBackward: options\.bias /],
    ['conv2dBackward bad padding', () => nc.conv2dBackward(t([1, 2, 4, 4]), x(), w(), { padding: -1 }), 'RangeError', /^conv2dBackward: (options\.)?padding must be a non-negative integer, got -1$/],
    ['conv2dRelu bad stride', () => nc.conv2dRelu(x(), w(), null, { stride: 0 }), 'RangeError', /^conv2dRelu: (options\.)?stride must be a positive integer, got 0$/],
    ['conv2dJvp options not an object', () => nc.conv2dJvp(x(), w(), null, w(), null, 3 as any), 'TypeError', /^conv2dJvp: options must be an object/],
    ['conv2dBackwardFilter wShape non-integer', () => nc.conv2dBackwardFilter(t([1, 2, 4, 4]), x(), [2, 3, 3, 2.5]), 'RangeError', /^conv2dBackwardFilter: /],
    ['maxPool2d kernel 0', () => nc.maxPool2d(x(), { kernel: 0 }), 'RangeError', /^maxPool2d: (options\.)?kernel must be a positive integer, got 0$/],
    ['maxPool2d stride 0', () => nc.maxPool2d(x(), { kernel: 2, stride: 0 }), 'RangeError', /^maxPool2d: (options\.)?stride must be a positive integer, got 0$/],
    ['maxPool2d padding = kernel', () => nc.maxPool2d(x(), { kernel: 2, padding: 2 }), 'RangeError', /^maxPool2d: .*padding/],
    ['maxPool2d padding > kernel (one axis)', () => nc.maxPool2d(x(), { kernel: [3, 2], padding: [1, 3] }), 'RangeError', /^maxPool2d: .*padding/],
    ['maxPool2d negative padding', () => nc.maxPool2d(x(), { kernel: 2, padding: -1 }), 'RangeError', /^maxPool2d: (options\.)?padding .*-1/],
    ['maxPool2d kernel larger than input', () => nc.maxPool2d(x(), { kernel: 7 }), 'RangeError', /^maxPool2d: /],
    ['maxPool2d missing kernel', () => nc.maxPool2d(x(), {} as any), 'TypeError', /^maxPool2d: options\.kernel must be a number or \[number, number\], got undefined$/],
    ['maxPool2d missing options', () => (nc.maxPool2d as AnyFn)(x()), 'TypeError', /^maxPool2d: options/],
    ['maxPool2d kernel string', () => nc.maxPool2d(x(), { kernel: '2' as any }), 'TypeError', /^maxPool2d: options\.kernel must be a number or \[number, number\], got string$/],
    ['avgPool2d padding = kernel', () => nc.avgPool2d(x(), { kernel: 3, padding: 3 }), 'RangeError', /^avgPool2d: .*padding/],
    ['avgPool2d kernel NaN', () => nc.avgPool2d(x(), { kernel: NaN }), 'RangeError', /^avgPool2d: (options\.)?kernel must be a positive integer, got NaN$/],
    ['avgPool2dBackward padding = kernel', () => nc.avgPool2dBackward(t([1, 3, 4, 4]), [1, 3, 6, 6], { kernel: 2, padding: 2 }), 'RangeError', /^avgPool2dBackward: .*padding/],
    ['maxPool2dBackward kernel 0', () => nc.maxPool2dBackward(t([1, 1, 2, 2]), t([1, 1, 2, 2], 'int32'), [1, 1, 4, 4], { kernel: 0 }), 'RangeError', /^maxPool2dBackward: (options\.)?kernel must be a positive integer, got 0$/],
    ['scale NaN', () => nc.scale(t([3]), NaN), 'RangeError', /^scale: alpha must be a finite number, got NaN$/],
    ['scale Infinity', () => nc.scale(t([3]), Infinity), 'RangeError', /^scale: alpha must be a finite number, got Infinity$/],
    ['scale -Infinity', () => nc.scale(t([3]), -Infinity), 'RangeError', /^scale: alpha must be a finite number, got -Infinity$/],
    ['scale string', () => nc.scale(t([3]), '2' as any), 'TypeError', /^scale: alpha must be a number, got string$/],
    ['axpy NaN', () => nc.axpy(t([3]), NaN, t([3])), 'RangeError', /^axpy: alpha must be a finite number, got NaN$/],
    ['gemm alpha NaN', () => nc.gemm(t([2, 3]), t([3, 2]), { alpha: NaN }), 'RangeError', /^gemm: (options\.)?alpha must be a finite number, got NaN$/],
    ['gemm beta Infinity', () => nc.gemm(t([2, 3]), t([3, 2]), { beta: Infinity, c: t([2, 2]) }), 'RangeError', /^gemm: (options\.)?beta must be a finite number, got Infinity$/],
    ['gemm transA not boolean', () => nc.gemm(t([2, 3]), t([3, 2]), { transA: 1 as any }), 'TypeError', /^gemm: options\.transA must be a boolean, got number$/],
    ['gemm options not an object', () => nc.gemm(t([2, 3]), t([3, 2]), 5 as any), 'TypeError', /^gemm: options must be an object, got number$/],
    ['fill value string', () => nc.fill(t([3]), 'a' as any), 'TypeError', /^fill: value must be a number, got string$/],
    ['cast to int8', () => nc.cast(t([3]), 'int8' as any), 'RangeError', /^cast: dtype /],
    ['cast to number', () => nc.cast(t([3]), 3 as any), 'TypeError', /^cast: dtype /],
    ['rsqrt eps negative', () => nc.rsqrt(t([3]), -1), 'RangeError', /^rsqrt: eps must be a finite number ≥ 0, got -1$/],
    ['rsqrt eps NaN', () => nc.rsqrt(t([3]), NaN), 'RangeError', /^rsqrt: eps must be a finite number, got NaN$/],
    ['batchNormStats eps 0', () => nc.batchNormStats(t([2, 3]), 0), 'RangeError', /^batchNormStats: eps must be a finite number > 0, got 0$/],
    ['batchNormStats eps string', () => nc.batchNormStats(t([2, 3]), '1' as any), 'TypeError', /^batchNormStats: eps must be a number, got string$/],
    ['batchNormStats empty batch', () => nc.batchNormStats(t([0, 3]), 1e-5), 'RangeError', /^batchNormStats: x must not be empty/],
    ['linearBackward bias not boolean', () => nc.linearBackward(t([2, 4]), t([2, 3]), t([4, 3]), { bias: 'yes' as any }), 'TypeError', /^linearBackward: options\.bias must be a boolean, got string$/],
  ];
  test.each(cases)('%s', (_n, fn, kind, re) => expectFails(fn, kind, re));
});

describe('Tensor.from, zeros, full', () => {
  const cases: [string, () => unknown, ErrorKind, RegExp][] = [
    ['ragged nested array', () => Tensor.from([[1, 2], [3]]), 'RangeError', /^Tensor\.from: /],
    ['ragged depth', () => Tensor.from([[1, 2], 3] as any), 'RangeError', /^Tensor\.from: /],
    ['ragged deeper', () => Tensor.from([[[1], [2]], [[3], [4, 5]]]), 'RangeError', /^Tensor\.from: /],
    ['string element', () => Tensor.from([1, 'a'] as any), 'TypeError', /^Tensor\.from: /],
    ['null element', () => Tensor.from([[1, null]] as any), 'TypeError', /^Tensor\.from: /],
    ['object element', () => Tensor.from([{}] as any), 'TypeError', /^Tensor\.from: /],
    ['null data', () => Tensor.from(null as any), 'TypeError', /^Tensor\.from: /],
    ['string data', () => Tensor.from('abc' as any), 'TypeError', /^Tensor\.from: /],
    ['Uint8Array data', () => Tensor.from(Uint8Array.of(1, 2) as any), 'TypeError', /^Tensor\.from: /],
    ['shape/length mismatch', () => Tensor.from(new Float32Array(6), { shape: [4] }), 'RangeError', /^Tensor\.from: .*(\(4\)|6)/],
    ['shape/length mismatch 2-D', () => Tensor.from(new Float32Array(6), { shape: [2, 2] }), 'RangeError', /^Tensor\.from: /],
    ['negative dim in shape', () => Tensor.from(new Float32Array(6), { shape: [-2, -3] }), 'RangeError', /^Tensor\.from: /],
    ['non-integer dim in shape', () => Tensor.from(new Float32Array(3), { shape: [1.5, 2] }), 'RangeError', /^Tensor\.from: /],
    ['shape not an array', () => Tensor.from(new Float32Array(3), { shape: 3 as any }), 'TypeError', /^Tensor\.from: /],
    ['dtype int8', () => Tensor.from([1, 2], { dtype: 'int8' as any }), 'RangeError', /^Tensor\.from: /],
    ['int32 from non-integers', () => Tensor.from(Float64Array.of(1.5), { dtype: 'int32' }), 'RangeError', /^Tensor\.from: /],
    ['unknown device', () => Tensor.from([1], { device: 'tpu' }), 'RangeError', /^Tensor\.from: .*tpu/],
    ['zeros negative dim', () => Tensor.zeros([2, -1]), 'RangeError', /^Tensor\.zeros: /],
    ['zeros non-integer dim', () => Tensor.zeros([2.5]), 'RangeError', /^Tensor\.zeros: /],
    ['zeros NaN dim', () => Tensor.zeros([NaN]), 'RangeError', /^Tensor\.zeros: /],
    ['zeros shape not array', () => Tensor.zeros(4 as any), 'TypeError', /^Tensor\.zeros: /],
    ['full value string', () => Tensor.full([2], 'x' as any), 'TypeError', /^Tensor\.full: /],
    ['full negative dim', () => Tensor.full([-1], 0), 'RangeError', /^Tensor\.full: /],
    ['reshape wrong size', () => Tensor.zeros([2, 3]).reshape([5]), 'RangeError', /(\(2, 3\)|\(5\))/],
    ['item of many', () => Tensor.zeros([2, 3]).item(), 'RangeError', /./],
  ];
  test.each(cases)('%s', (_n, fn, kind, re) => expectFails(fn, kind, re));

  test('unavailable cuda device fails with the devices() reason or a clear message', () => {
    const cuda = nc.devices().find((d) => d.kind === 'cuda');
    if (cuda && !cuda.available) {
      const e = expectThrow(() => Tensor.zeros([2], { device: cuda.name }), 'Error', /./);
      expect(e.message).toMatch(/cuda/i);
    } else expect(cuda === undefined || cuda.available).toBe(true);
  });
});

describe('random: seeds and parameters', () => {
  const cases: [string, () => unknown, ErrorKind, RegExp][] = [
    ['negative seed', () => nc.randomUniform([3], { seed: -1 }), 'RangeError', /^randomUniform: seed must be a non-negative safe integer, got -1$/],
    ['fractional seed', () => nc.randomUniform([3], { seed: 1.5 }), 'RangeError', /^randomUniform: seed .*1\.5/],
    ['NaN seed', () => nc.randomNormal([3], { seed: NaN }), 'RangeError', /^randomNormal: seed .*NaN/],
    ['unsafe seed 2^53', () => nc.randomUniform([3], { seed: 2 ** 53 }), 'RangeError', /^randomUniform: seed /],
    ['string seed', () => nc.randomUniform([3], { seed: '1' as any }), 'TypeError', /^randomUniform: options\.seed must be a number, got string$/],
    ['missing seed', () => nc.randomUniform([3], {} as any), 'TypeError', /^randomUniform: options\.seed must be a number, got undefined$/],
    ['missing options', () => (nc.randomNormal as AnyFn)([3]), 'TypeError', /^randomNormal: options/],
    ['negative offset', () => nc.randomUniform([3], { seed: 1, offset: -1 }), 'RangeError', /^randomUniform: offset .*-1/],
    ['fractional offset', () => nc.randomNormal([3], { seed: 1, offset: 0.5 }), 'RangeError', /^randomNormal: offset /],
    ['negative dim', () => nc.randomUniform([-3], { seed: 1 }), 'RangeError', /^randomUniform: /],
    ['int32 dtype', () => nc.randomUniform([3], { seed: 1, dtype: 'int32' }), 'RangeError', /^randomUniform: .*int32/],
    ['low NaN', () => nc.randomUniform([3], { seed: 1, low: NaN }), 'RangeError', /^randomUniform: low must be a finite number, got NaN$/],
    ['high Infinity', () => nc.randomUniform([3], { seed: 1, high: Infinity }), 'RangeError', /^randomUniform: high must be a finite number, got Infinity$/],
    ['low > high', () => nc.randomUniform([3], { seed: 1, low: 2, high: 1 }), 'RangeError', /^randomUniform: /],
    ['mean NaN', () => nc.randomNormal([3], { seed: 1, mean: NaN }), 'RangeError', /^randomNormal: mean must be a finite number, got NaN$/],
    ['std negative', () => nc.randomNormal([3], { seed: 1, std: -1 }), 'RangeError', /^randomNormal: std /],
    ['std Infinity', () => nc.randomNormal([3], { seed: 1, std: Infinity }), 'RangeError', /^randomNormal: std /],
  ];
  test.each(cases)('%s', (_n, fn, kind, re) => expectFails(fn, kind, re));
});

describe('runtime functions', () => {
  const cases: [string, () => unknown, ErrorKind, RegExp][] = [
    ['setNumThreads(0)', () => nc.setNumThreads(0), 'RangeError', /^setNumThreads: .*0/],
    ['setNumThreads(-2)', () => nc.setNumThreads(-2), 'RangeError', /^setNumThreads: .*-2/],
    ['setNumThreads(1.5)', () => nc.setNumThreads(1.5), 'RangeError', /^setNumThreads: .*1\.5/],
    ['setNumThreads(NaN)', () => nc.setNumThreads(NaN), 'RangeError', /^setNumThreads: /],
    ['setNumThreads("2")', () => nc.setNumThreads('2' as any), 'TypeError', /^setNumThreads: /],
    ["setGemmImplementation('foo')", () => nc.setGemmImplementation('foo' as any), 'RangeError', /^setGemmImplementation: .*foo/],
    ['setGemmImplementation(1)', () => nc.setGemmImplementation(1 as any), 'TypeError', /^setGemmImplementation: /],
    ["memoryStats('tpu')", () => nc.memoryStats('tpu'), 'RangeError', /^memoryStats: .*tpu/],
  ];
  test.each(cases)('%s', (_n, fn, kind, re) => {
    const threads = nc.getNumThreads(), gemm = nc.getGemmImplementation();
    expectFails(fn, kind, re);
    // a failed setter changes nothing
    expect(nc.getNumThreads()).toBe(threads);
    expect(nc.getGemmImplementation()).toBe(gemm);
  });
});

describe('after errors', () => {
  test('no memory is leaked on error paths and the library keeps working', () => {
    const a = t([2, 3]), b = t([3, 2]), x = t([1, 3, 6, 6]), w = t([2, 3, 3, 3]), i32 = t([2, 3], 'int32');
    const start = settledBytesInUse();
    for (let k = 0; k < 50; k++) {
      for (const f of [
        () => nc.add(a, b),
        () => nc.gemm(a, a),
        () => nc.conv2d(x, w, null, { stride: 0 }),
        () => nc.conv2d(x, b),
        () => nc.maxPool2d(x, { kernel: 2, padding: 2 }),
        () => nc.relu(i32),
        () => nc.linear(a, w),
        () => nc.softmaxCrossEntropy(a, b),
        () => nc.conv2dBackwardData(x, w, [1, 3, 6, 6]),
      ]) {
        expect(f).toThrow();
      }
    }
    expect(nc.memoryStats().bytesInUse).toBe(start);
    // still works and inputs intact
    const s = nc.add(a, a);
    expectEqualArrays(f64(s), f64(a).map((v) => 2 * v));
  });
});

describe('hostile indices and sizes never crash', () => {
  test('an argmax that maxPool2d cannot have made: memory-safe by default, refused with debug checks', () => {
    // Checking argmax costs a pass (and a host synchronisation on a GPU) on the CG hot path,
    // so it is a debug check (note [debug checks] in native/core/op.h). Off, the kernels stay
    // memory-safe: the backward skips entries outside the plane, the R-operator gives NaN.
    // Neighbouring memory is checked to be intact.
    const guard = Tensor.full([64], 7);
    const dy = Tensor.from(Float32Array.of(1, 2, 3, 4), { shape: [1, 1, 2, 2] });
    const rx = Tensor.full([1, 1, 4, 4], 5);
    const relu = Tensor.full([1, 1, 4, 4], 1);
    expect(nc.getDebugChecks()).toBe(false);
    for (const bad of [999999, -5, 16, 2 ** 31 - 1, -(2 ** 31)]) {
      const am = Tensor.from(Int32Array.of(0, bad, 2, 3), { shape: [1, 1, 2, 2] });
      const dx = f64(nc.maxPool2dBackward(dy, am, [1, 1, 4, 4], { kernel: 2 }));
      expect(dx.reduce((a, b) => a + b, 0)).toBe(1 + 3 + 4); // entry 1 routed nowhere
      expect(f64(nc.maxPool2dReluBackward(dy, am, relu, { kernel: 2 })).reduce((a, b) => a + b, 0)).toBe(8);
      const ry = f64(nc.maxPool2dJvp(rx, am, { kernel: 2 }));
      expect(Number.isNaN(ry[1])).toBe(true);
      expect([ry[0], ry[2], ry[3]]).toEqual([5, 5, 5]);
      expectEqualArrays(guard.toArray(), new Array(64).fill(7), 'guard tensor');
    }
    nc.setDebugChecks(true);
    try {
      for (const bad of [999999, -5, 16]) {
        const am = Tensor.from(Int32Array.of(0, bad, 2, 3), { shape: [1, 1, 2, 2] });
        const plane = new RegExp(`argmax holds ${bad} at element 1, outside the 4x4 input plane`);
        expectThrow(() => nc.maxPool2dBackward(dy, am, [1, 1, 4, 4], { kernel: 2 }), 'RangeError', new RegExp(`^maxPool2dBackward: ${plane.source}`));
        expectThrow(() => nc.maxPool2dReluBackward(dy, am, relu, { kernel: 2 }), 'RangeError', new RegExp(`^maxPool2dReluBackward: ${plane.source}`));
        expectThrow(() => nc.maxPool2dJvp(rx, am, { kernel: 2 }), 'RangeError', new RegExp(`^maxPool2dJvp: ${plane.source}`));
      }
      // inside the plane but outside the output's window: maxPool2d never gives it
      const outside = Tensor.from(Int32Array.of(0, 0, 8, 10), { shape: [1, 1, 2, 2] });
      expectThrow(() => nc.maxPool2dBackward(dy, outside, [1, 1, 4, 4], { kernel: 2 }), 'RangeError', /^maxPool2dBackward: argmax holds 0 at element 1, outside the pooling window of that output/);
      // a genuine argmax passes
      const { argmax } = nc.maxPool2d(rx, { kernel: 2 });
      expect(f64(nc.maxPool2dJvp(rx, argmax, { kernel: 2 }))).toEqual(Float64Array.of(5, 5, 5, 5));
    } finally {
      nc.setDebugChecks(false);
    }
    expectThrow(() => nc.setDebugChecks('yes' as any), 'TypeError', /^setDebugChecks: on must be a boolean, got string$/);
  });

  test('absurd sizes give RangeError, not a crash or a huge allocation', () => {
    expectThrow(() => Tensor.zeros([1e6, 1e6]), 'RangeError', /^Tensor\.zeros: /);
    expectThrow(() => Tensor.zeros([2 ** 40, 2 ** 40]), 'RangeError', /^Tensor\.zeros: /);
    expectThrow(() => nc.randomUniform([2 ** 31, 2 ** 31], { seed: 1 }), 'RangeError', /^randomUniform: /);
    expectThrow(() => nc.conv2d(Tensor.zeros([1, 1, 3, 3]), Tensor.zeros([1, 1, 3, 3]), null, { padding: 2 ** 31 }), 'RangeError', /^conv2d: /);
    // a stride far larger than the input is fine: one output
    expect(nc.conv2d(Tensor.zeros([1, 1, 3, 3]), Tensor.zeros([1, 1, 3, 3]), null, { stride: 2 ** 40 }).shape).toEqual([1, 1, 1, 1]);
  });
});

describe('NaN propagates, never silently swallowed', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    test(`${dtype}: relu, reductions, losses, pooling, conv, gemm`, () => {
      const v = Float64Array.of(1, -2, NaN, 3, -Infinity, 0.5);
      const x = Tensor.from(dtype === 'float32' ? Float32Array.from(v) : v, { shape: [2, 3] });
      const r = f64(nc.relu(x));
      expect(Number.isNaN(r[2])).toBe(true);
      expect(r[4]).toBe(0);
      expect(r[0]).toBe(1);
      expect(Number.isNaN(nc.sum(x))).toBe(true);
      expect(Number.isNaN(nc.dot(x, Tensor.full([2, 3], 1, { dtype })))).toBe(true);
      expect(Number.isNaN(nc.squaredNorm(x))).toBe(true);
      expect(Number.isNaN(nc.squaredLoss(x, Tensor.zeros([2, 3], { dtype })))).toBe(true);
      const ce = nc.softmaxCrossEntropy(nc.scale(nc.relu(x), 1), Tensor.full([2, 3], 1 / 3, { dtype }));
      expect(Number.isNaN(ce)).toBe(true);
      const p = f64(nc.softmax(x));
      // the NaN row becomes NaN
      expect(p.slice(0, 3).every(Number.isNaN)).toBe(true);

      // max pool: NaN first in the window, last in the window, and alone with -Infinity
      for (const pos of [0, 1, 2, 3]) {
        const img = new Float64Array(4).fill(-1);
        img[pos] = NaN;
        const xi = Tensor.from(dtype === 'float32' ? Float32Array.from(img) : img, { shape: [1, 1, 2, 2] });
        const m = nc.maxPool2d(xi, { kernel: 2 });
        expect(Number.isNaN(f64(m.y)[0])).toBe(true);
        expect(Number.isNaN(f64(nc.avgPool2d(xi, { kernel: 2 }))[0])).toBe(true);
      }
      // NaN in a larger value context: window [5, NaN, 7, 1] (NaN not first, bigger values after)
      const xi = Tensor.from(dtype === 'float32' ? Float32Array.of(5, NaN, 7, 1) : Float64Array.of(5, NaN, 7, 1), { shape: [1, 1, 2, 2] });
      expect(Number.isNaN(f64(nc.maxPool2d(xi, { kernel: 2 }).y)[0])).toBe(true);

      // conv: a NaN pixel poisons exactly the outputs whose window covers it
      const img = new Float64Array(9).fill(1);
      img[0] = NaN;
      const xc = Tensor.from(dtype === 'float32' ? Float32Array.from(img) : img, { shape: [1, 1, 3, 3] });
      const yc = f64(nc.conv2d(xc, Tensor.full([1, 1, 2, 2], 1, { dtype })));
      expect(Number.isNaN(yc[0])).toBe(true);
      expect(yc[3]).toBe(4);
      // gemm under each implementation
      const impls: ('builtin' | 'blas')[] = nc.blasAvailable() ? ['builtin', 'blas'] : ['builtin'];
      const saved = nc.getGemmImplementation();
      try {
        for (const impl of impls) {
          nc.setGemmImplementation(impl);
          const g = f64(nc.matmul(x, Tensor.full([3, 2], 1, { dtype })));
          expect(Number.isNaN(g[0]) && Number.isNaN(g[1])).toBe(true);
          // gemm with beta = 0 ignores c entirely, even NaN in c (BLAS convention)... but a NaN
          // in a or b must reach the output
          const l = f64(nc.linear(x, Tensor.full([4, 3], 1, { dtype })));
          expect(l.slice(0, 4).every(Number.isNaN)).toBe(true);
        }
      } finally {
        nc.setGemmImplementation(saved);
      }
    });
  }
});

describe('every declared op is in these tables', () => {
  test('each op of opSchemas() has a row above (ops without tensor arguments: the random section)', () => {
    const covered = new Set([...specs.map((s) => s.alias ?? s.op), ...specs.map((s) => s.op), 'randomUniform', 'randomNormal']);
    const declared = native().opSchemas().map((s) => s.name);
    expect(declared.length).toBeGreaterThan(30);
    expect(declared.filter((op) => !covered.has(op))).toEqual([]);
  });
});
