// Data movement ops (native/core/ops/data.h): fill, copy, cast, for float32, float64 and the
// int32 index tensors; the channel copies of a concatenation, channelCopy and channelSlice, for
// float32 and float64. All exact (note [case tolerances]): a copy, one rounding of the fill
// value or of a cast to float32. Copies have no derivative to check (Pass::Utility).
import { cast, channelCopy, channelSlice, copy, fill } from '../../lib';
import type { Check, Family, OpCase } from './case';
import { numel, roundTo } from './data';

const SHAPES: readonly (readonly number[])[] = [[1], [13], [0], [], [3, 31], [2, 3, 5, 7], [32, 32, 14, 14], [300000]];
const label = (s: readonly number[]) => (s.length === 0 ? 'scalar' : s.join('x'));
const exact = (name: string) => (): Record<string, Check> => ({ [name]: { kind: 'exact' } });
const isBench = (s: readonly number[]) => numel(s) === 32 * 32 * 14 * 14;

const cases: OpCase[] = [];

for (const shape of SHAPES) {
  const n = numel(shape);
  cases.push({
    op: 'fill',
    name: `${label(shape)} with 0.1 (rounded to the dtype)`,
    inputs: { t: { shape } },
    run: (t) => {
      const out = t.t.clone();
      fill(out, 0.1);
      return { t: out };
    },
    reference: () => ({ t: new Float64Array(n).fill(0.1) }),
    check: exact('t'),
    bench: isBench(shape) ? { flops: 0, bytes: 4 * n } : undefined,
  });
  cases.push({
    op: 'copy',
    name: label(shape),
    inputs: { src: { shape, kind: 'awkward' }, dst: { shape } },
    run: (t) => {
      const out = t.dst.clone();
      copy(out, t.src);
      return { dst: out };
    },
    reference: (v) => ({ dst: v.src }),
    check: exact('dst'),
    bench: isBench(shape) ? { flops: 0, bytes: 8 * n } : undefined,
  });
  for (const to of ['float32', 'float64'] as const) {
    cases.push({
      op: 'cast',
      name: `${label(shape)} to ${to}`,
      inputs: { x: { shape, kind: 'awkward' } },
      // float64 on a GPU is refused (a float32 path): the cast to float64 runs on the CPU only
      dtypes: to === 'float64' ? ['float64'] : undefined,
      run: (t) => ({ y: cast(t.x, to) }),
      reference: (v) => ({ y: roundTo(to, v.x) }),
      check: exact('y'),
      bench: isBench(shape) && to === 'float32' ? { flops: 0, bytes: 8 * n } : undefined,
    });
  }
}

// int32 index tensors (max-pool argmax): created, filled, copied and cast to floats on every
// device. Values up to ±2³¹ − 1, which float32 cannot hold exactly (one rounding).
for (const shape of [[7, 13], [0], [1031]]) {
  const n = numel(shape);
  const ints = Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1) * (2147483647 - i * 9973));
  cases.push({
    op: 'fill',
    name: `int32 ${label(shape)} with −123456`,
    inputs: { t: { shape, values: ints, int32: true } },
    dtypes: ['float32'],
    run: (t) => {
      const out = t.t.clone();
      fill(out, -123456);
      return { t: out };
    },
    reference: () => ({ t: new Int32Array(n).fill(-123456) }),
    check: exact('t'),
  });
  cases.push({
    op: 'copy',
    name: `int32 ${label(shape)}`,
    inputs: { src: { shape, values: ints, int32: true }, dst: { shape, values: new Array<number>(n).fill(5), int32: true } },
    dtypes: ['float32'],
    run: (t) => {
      const out = t.dst.clone();
      copy(out, t.src);
      return { dst: out };
    },
    reference: (v) => ({ dst: Int32Array.from(v.src) }),
    check: exact('dst'),
  });
  for (const to of ['float32', 'float64'] as const) {
    cases.push({
      op: 'cast',
      name: `int32 ${label(shape)} to ${to}`,
      inputs: { x: { shape, values: ints, int32: true } },
      dtypes: [to],
      run: (t) => ({ y: cast(t.x, to) }),
      reference: (v) => ({ y: roundTo(to, v.x) }),
      check: exact('y'),
    });
  }
}

// Channel copies: dst (N, Cd, ...) and src (N, Cs, ...) with the channels at every position
// (first, middle, last, all of them), 2 to 4 dimensions, one element per channel (blocks of one
// element), an empty batch and no channels. The CPU splits a copy over its threads in chunks of
// at least 1 MiB: in float64 with two threads or more, the two large ones split in the middle of
// a block, one of many small blocks (50001 of 48 bytes) and one of a few large ones (3 of 960 KiB).
// [dst shape, src channels, offset]
const CHANNEL_CASES: readonly (readonly [readonly number[], number, number])[] = [
  [[2, 7, 3, 5], 3, 2],
  [[2, 7, 3, 5], 3, 0],
  [[2, 7, 3, 5], 3, 4],
  [[3, 4, 2, 2], 4, 0],
  [[1, 9, 4, 4], 1, 5],
  [[7, 3], 1, 2],
  [[5, 9], 4, 5],
  [[4, 6, 11], 2, 3],
  [[0, 5, 3, 3], 2, 1],
  [[2, 5, 3, 3], 0, 5],
  [[50001, 4, 3], 2, 1],
  [[3, 48, 64, 64], 30, 17],
  [[32, 96, 14, 14], 32, 32],
];
const isChannelBench = (s: readonly number[]) => s.join() === '32,96,14,14';

for (const [dstShape, count, offset] of CHANNEL_CASES) {
  const [N, Cd] = dstShape;
  const inner = numel(dstShape.slice(2));
  const srcShape = [N, count, ...dstShape.slice(2)];
  const title = `${label(srcShape)} at channel ${offset} of ${label(dstShape)}`;
  // dst with src's channels written at `offset` (place); channels [offset, offset + count) of src (slice)
  const place = (dst: Float64Array, src: Float64Array) => {
    const out = Float64Array.from(dst);
    for (let n = 0; n < N; n++) out.set(src.subarray(n * count * inner, (n + 1) * count * inner), (n * Cd + offset) * inner);
    return out;
  };
  const slice = (src: Float64Array) => {
    const out = new Float64Array(N * count * inner);
    for (let n = 0; n < N; n++) out.set(src.subarray((n * Cd + offset) * inner, (n * Cd + offset + count) * inner), n * count * inner);
    return out;
  };
  const bench = isChannelBench(dstShape) ? { flops: 0, bytes: 8 * N * count * inner } : undefined;
  cases.push({
    op: 'channelCopy',
    name: title,
    inputs: { src: { shape: srcShape, kind: 'awkward' }, dst: { shape: dstShape } },
    run: (t) => {
      const out = t.dst.clone();
      channelCopy(out, t.src, offset);
      return { dst: out };
    },
    reference: (v) => ({ dst: place(v.dst, v.src) }),
    check: exact('dst'),
    bench,
  });
  cases.push({
    op: 'channelSlice',
    name: `channels [${offset}, ${offset + count}) of ${label(dstShape)}`,
    inputs: { src: { shape: dstShape, kind: 'awkward' } },
    run: (t) => ({ y: channelSlice(t.src, offset, count) }),
    reference: (v) => ({ y: slice(v.src) }),
    check: exact('y'),
    bench,
  });
}

export const data: Family = { name: 'data', cases };
