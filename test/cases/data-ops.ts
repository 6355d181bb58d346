// Data movement ops (native/core/ops/data.h): fill, copy, cast, for float32, float64 and the
// int32 index tensors. All exact (note [case tolerances]): a copy, one rounding of the fill
// value or of a cast to float32.
import { cast, copy, fill } from '../../lib';
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

export const data: Family = { name: 'data', cases };
