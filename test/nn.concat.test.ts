// Channel concatenation: the ops channelCopy and channelSlice (their values against the
// reference are cases of test/cases/data-ops.ts) and the module nn.concat(): the forward pass
// is an exact copy, the backward pass exact slices, the R-operator the concatenation of the
// tangents (zeros where an input has none), the errors name the op or the node and the shapes,
// and summary() shows the channel counts. Its derivatives are checked through checkAll in
// test/nn.modules.test.ts.
import { channelCopy, channelSlice, memoryStats, Tensor } from '../lib';
import * as nn from '../lib/nn';
import { buildModule } from '../lib/nn/modules/build';
import { expectThrow, f64, randData, settledBytesInUse } from './helpers';
import { t64 } from './nn-checks';

const FWD: nn.ForwardContext = { training: false, batchStatistics: false, noiseSeed: 0, updateStatistics: false };

/** x (N, C, ...) values with channels [offset, offset + count): plain loops. */
function channelsOf(x: Float64Array, shape: readonly number[], offset: number, count: number): number[] {
  const [N, C] = shape;
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let n = 0; n < N; n++) out.push(...x.subarray((n * C + offset) * inner, (n * C + offset + count) * inner));
  return out;
}

/** The concatenation of (N, C_k, ...) values along axis 1: plain loops. */
function concatValues(xs: readonly Float64Array[], shapes: readonly (readonly number[])[]): number[] {
  const N = shapes[0][0];
  const inner = shapes[0].slice(2).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let n = 0; n < N; n++) xs.forEach((x, k) => out.push(...x.subarray(n * shapes[k][1] * inner, (n + 1) * shapes[k][1] * inner)));
  return out;
}

describe('channelCopy and channelSlice', () => {
  test('copy three pieces in and slice them back out, bit for bit (float32)', () => {
    const shapes = [[2, 2, 3, 2], [2, 3, 3, 2], [2, 1, 3, 2]];
    const values = shapes.map((s, k) => Float64Array.from(Float32Array.from(randData(s.reduce((a, b) => a * b, 1), 40 + k))));
    const xs = shapes.map((s, k) => Tensor.from(Float32Array.from(values[k]), { shape: s }));
    const y = Tensor.full([2, 6, 3, 2], 7);
    channelCopy(y, xs[0], 0);
    channelCopy(y, xs[1], 2);
    channelCopy(y, xs[2], 5);
    expect(Array.from(f64(y))).toEqual(concatValues(values, shapes));
    const back = [channelSlice(y, 0, 2), channelSlice(y, 2, 3), channelSlice(y, 5, 1)];
    back.forEach((b, k) => {
      expect(b.shape).toEqual(shapes[k]);
      expect(b.dtype).toBe('float32');
      expect(Array.from(f64(b))).toEqual(Array.from(values[k]));
    });
    // dst keeps the channels no copy wrote; a copy of dst into itself is a no-op
    const partial = Tensor.full([2, 6, 3, 2], 7, { dtype: 'float64' });
    const x64 = t64(values[1], shapes[1]);
    channelCopy(partial, x64, 1);
    const p = f64(partial);
    expect(channelsOf(p, [2, 6, 3, 2], 0, 1).every((v) => v === 7)).toBe(true);
    expect(channelsOf(p, [2, 6, 3, 2], 4, 2).every((v) => v === 7)).toBe(true);
    expect(channelsOf(p, [2, 6, 3, 2], 1, 3)).toEqual(Array.from(values[1]));
    channelCopy(partial, partial, 0);
    expect(f64(partial)).toEqual(p);
    for (const t of [...xs, y, ...back, partial, x64]) t.dispose();
  });

  test('errors name the op, the argument and the shapes', () => {
    const dst = Tensor.zeros([2, 5, 3, 3]);
    const src = Tensor.zeros([2, 2, 3, 3]);
    const other = (shape: number[], dtype: 'float32' | 'float64' = 'float32') => Tensor.zeros(shape, { dtype });
    expectThrow(
      () => channelCopy(dst, src, 4),
      'RangeError',
      /^channelCopy: offset \+ the channels of src must be at most the channels of dst, got 4 \+ 2 > 5 \(src \(2, 2, 3, 3\), dst \(2, 5, 3, 3\)\)$/,
    );
    expectThrow(
      () => channelCopy(dst, other([2, 2, 3, 4]), 0),
      'RangeError',
      /^channelCopy: src \(2, 2, 3, 4\) and dst \(2, 5, 3, 3\) must have the same shape but for the channels \(axis 1\)$/,
    );
    expectThrow(() => channelCopy(dst, other([3, 2, 3, 3]), 0), 'RangeError', /src \(3, 2, 3, 3\) and dst \(2, 5, 3, 3\)/);
    expectThrow(() => channelCopy(dst, other([2, 2, 9]), 0), 'RangeError', /src \(2, 2, 9\) and dst \(2, 5, 3, 3\)/);
    expectThrow(() => channelCopy(dst, other([2, 2, 3, 3], 'float64'), 0), 'RangeError', /^channelCopy: src has dtype float64 but dst has float32$/);
    expectThrow(() => channelCopy(other([5]), other([2]), 0), 'RangeError', /^channelCopy: dst must have at least 2 dimensions \(N, C, \.\.\.\), got shape \(5\)$/);
    expectThrow(() => channelCopy(dst, src, -1), 'RangeError', /^channelCopy: offset must be a non-negative integer, got -1$/);
    expectThrow(() => channelCopy(dst, src, 1.5), 'RangeError', /offset must be a non-negative integer, got 1\.5/);
    expectThrow(() => channelCopy(dst, src, NaN), 'RangeError', /offset must be a non-negative integer, got NaN/);
    expectThrow(() => channelCopy(dst, src, '1' as unknown as number), 'TypeError', /channelCopy: offset/);
    const view = dst.view(0, [2, 2, 3, 3]);
    expectThrow(() => channelCopy(dst, view, 1), 'RangeError', /^channelCopy: dst and src must not overlap in memory$/);
    const ints = Tensor.from(new Int32Array(2 * 5 * 9), { shape: [2, 5, 3, 3] });
    expectThrow(() => channelSlice(ints, 0, 1), 'RangeError', /^channelSlice: src must be float32 or float64, got int32$/);
    expectThrow(() => channelSlice(dst, 3, 3), 'RangeError', /^channelSlice: offset \+ count must be at most the channels of src \(2, 5, 3, 3\), got 3 \+ 3 > 5$/);
    expectThrow(() => channelSlice(dst, 0, -2), 'RangeError', /^channelSlice: count must be a non-negative integer, got -2$/);
    expectThrow(() => channelSlice(other([4]), 0, 1), 'RangeError', /^channelSlice: src must have at least 2 dimensions/);
    for (const t of [dst, src, view, ints]) t.dispose();
  });
});

describe('nn.concat()', () => {
  test('forward is an exact copy of the inputs, in input order; vjp slices dy; jvp concatenates the tangents', () => {
    const shapes = [[2, 3, 2], [1, 3, 2], [3, 3, 2]];
    const m = buildModule(nn.concat(), 'Network', 4, shapes, 0, 0);
    expect(m.info.kind).toBe('concat');
    expect(m.info.outputShape).toEqual([6, 3, 2]);
    expect(m.info.parameterCount).toBe(0);
    const N = 2;
    const batch = shapes.map((s) => [N, ...s]);
    const values = batch.map((s, k) => randData(s.reduce((a, b) => a * b, 1), 50 + k));
    const xs = batch.map((s, k) => t64(values[k], s));
    expectThrow(() => m.vjp(xs[0], [true, true, true], false), 'Error', /concat: backward or jvp called without a forward pass \(module 4\)/);
    const y = m.forward(xs, FWD) as Tensor;
    expect(y.shape).toEqual([N, 6, 3, 2]);
    expect(Array.from(f64(y))).toEqual(concatValues(values, batch));

    const dyValues = randData(N * 36, 60);
    const dy = t64(dyValues, [N, 6, 3, 2]);
    const dx = m.vjp(dy, [true, false, true], false);
    expect(dx[1]).toBeNull();
    expect(Array.from(f64(dx[0]!))).toEqual(channelsOf(dyValues, [N, 6, 3, 2], 0, 2));
    expect(Array.from(f64(dx[2]!))).toEqual(channelsOf(dyValues, [N, 6, 3, 2], 3, 3));

    // jvp: the input without a tangent contributes zeros
    const rValues = [randData(N * 12, 61), randData(N * 18, 62)];
    const rxs = [t64(rValues[0], batch[0]), null, t64(rValues[1], batch[2])];
    const ry = m.jvp(rxs, null) as Tensor;
    expect(Array.from(f64(ry))).toEqual(concatValues([rValues[0], new Float64Array(N * 6), rValues[1]], batch));
    expectThrow(() => m.jvp([null, null, null], null), 'TypeError', /concat\.jvp: rx must be a Tensor for a module without parameters \(module 4\)/);

    // vjpJvp: a fixed linear map, R{dx} = vjp(R{dy})
    const rdyValues = randData(N * 36, 63);
    const rdy = t64(rdyValues, [N, 6, 3, 2]);
    const { dx: dx2, rdx } = m.vjpJvp(dy, rdy, rxs, null, null, [false, true, false]);
    expect([dx2[0], dx2[2], rdx[0], rdx[2]]).toEqual([null, null, null, null]);
    expect(Array.from(f64(dx2[1]!))).toEqual(channelsOf(dyValues, [N, 6, 3, 2], 2, 1));
    expect(Array.from(f64(rdx[1]!))).toEqual(channelsOf(rdyValues, [N, 6, 3, 2], 2, 1));
    for (const t of [...xs, y, dy, ...dx, ...rxs, ry, rdy, ...dx2, ...rdx]) t?.dispose();
    m.dispose();
  });

  test('in a network: forward (float32) is [x, −x, x] exactly; passes free their temporaries; the spec round-trips', () => {
    const g = new nn.GraphBuilder([2, 3, 3]);
    const neg = g.add(nn.constantScale(-1), g.input);
    const cat = g.add(nn.concat(), [g.input, neg, g.input]);
    expect(cat.shape).toEqual([6, 3, 3]);
    const net = g.build(g.add(nn.flatten(), cat));
    const N = 3;
    const xv = Float32Array.from(randData(N * 18, 70));
    const x = Tensor.from(xv, { shape: [N, 2, 3, 3] });
    const z = net.forward(x);
    const expected: number[] = [];
    for (let n = 0; n < N; n++) {
      const ex = Array.from(xv.subarray(n * 18, (n + 1) * 18));
      expected.push(...ex, ...ex.map((v) => -v), ...ex);
    }
    expect(Array.from(z.toArray())).toEqual(expected);
    z.dispose();
    net.releaseCache();
    // the input gradient: the three copies' cotangents summed (x, −x, x → 1 − 1 + 1 = 1)
    const dz = Tensor.full([N, 54], 1);
    const before = settledBytesInUse();
    for (let i = 0; i < 2; i++) {
      const z2 = net.forward(x);
      const dx = net.backward(dz, { inputGradient: true })!;
      expect(Array.from(dx.toArray()).every((v) => v === 1)).toBe(true);
      z2.dispose();
      dx.dispose();
      net.releaseCache();
    }
    expect(memoryStats().bytesInUse).toBe(before);
    const again = nn.networkFromSpec(JSON.parse(JSON.stringify(g.toSpec())) as nn.GraphSpec);
    const z3 = again.forward(x);
    expect(Array.from(z3.toArray())).toEqual(expected);
    for (const t of [x, dz, z3]) t.dispose();
    net.dispose();
    again.dispose();
  });

  test('errors name the node and the shapes', () => {
    const g = new nn.GraphBuilder([2, 4, 4]);
    const a = g.add(nn.conv2d(3, 3), g.input); // [3, 2, 2]
    expectThrow(
      () => g.add(nn.concat(), [g.input, a]),
      'RangeError',
      /^Network: layer 1 \(concat\) has inputs of per-example shapes \(2, 4, 4\), \(3, 2, 2\); they must have one rank and equal dimensions after the channels/,
    );
    const f = g.add(nn.flatten(), g.input);
    expectThrow(() => g.add(nn.concat(), [f, g.input]), 'RangeError', /layer \d+ \(concat\) has inputs of per-example shapes \(32\), \(2, 4, 4\)/);
    expectThrow(() => g.add(nn.concat(), [a]), 'RangeError', /layer \d+ \(concat\) needs at least 2 inputs, got 1/);
    expectThrow(() => new nn.Sequential([2, 4, 4], [nn.concat() as unknown as nn.LayerSpec]), 'RangeError', /GraphBuilder/);
    // features [C] concatenate too
    const h = g.add(nn.concat(), [f, f]);
    expect(h.shape).toEqual([64]);
  });

  test('summary() shows the channel count of each input', () => {
    const g = new nn.GraphBuilder([3, 4, 4]);
    const a = g.add(nn.conv2d(64, 3, { padding: 1 }), g.input);
    const b = g.add(nn.conv2d(64, 1), g.input);
    const c = g.add(nn.conv2d(128, 3, { padding: 1 }), a);
    const net = g.build(g.chain(g.add(nn.concat(), [a, b, c]), [nn.globalAvgPool2d(), nn.linear(2)]), { name: 'cat' });
    const s = net.summary();
    expect(s).toMatch(/concat 64\+64\+128\s+0, 1, 2\s+\(256, 4, 4\)\s+0$/m);
    expect(net.layers()[3]).toMatchObject({ kind: 'concat', outputShape: [256, 4, 4], parameterCount: 0 });
    net.dispose();
  });
});
