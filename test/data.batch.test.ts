// gatherBatch: tensor shapes, dtypes, contents and one-hot targets.
import { createDataset, gatherBatch } from '../lib/data';

// 5 images of shape [2, 1, 2] (4 values each: 10·i + k), 3 classes.
const ds = createDataset({
  name: 'batch',
  images: Float32Array.from({ length: 20 }, (_, j) => 10 * Math.floor(j / 4) + (j % 4)),
  labels: Int32Array.from([2, 0, 1, 2, 0]),
  shape: [2, 1, 2],
  classes: 3,
});
const order = Int32Array.from([4, 0, 2, 3, 1]);

test('float32 batch: (B, C, H, W) images and (B, classes) one-hot targets in order', () => {
  const { x, y, labels } = gatherBatch(ds, order, 1, 4);
  try {
    expect(x.shape).toEqual([3, 2, 1, 2]);
    expect(x.dtype).toBe('float32');
    expect(Array.from(x.toArray())).toEqual([0, 1, 2, 3, 20, 21, 22, 23, 30, 31, 32, 33]);
    expect(y.shape).toEqual([3, 3]);
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.toArray())).toEqual([0, 0, 1, 0, 1, 0, 0, 0, 1]); // images 0, 2, 3 have labels 2, 1, 2
    expect(labels).toEqual(Int32Array.from([2, 1, 2]));
  } finally {
    x.dispose();
    y.dispose();
  }
});

test('float64 batch, the whole order', () => {
  const { x, y, labels } = gatherBatch(ds, order, 0, 5, { dtype: 'float64' });
  try {
    expect(x.dtype).toBe('float64');
    expect(y.dtype).toBe('float64');
    expect(x.shape).toEqual([5, 2, 1, 2]);
    expect(x.toArray()).toBeInstanceOf(Float64Array);
    expect(Array.from(x.toArray()).slice(0, 4)).toEqual([40, 41, 42, 43]);
    expect(Array.from(labels)).toEqual([0, 2, 1, 2, 0]);
    const rows = Array.from(y.toArray());
    for (let i = 0; i < 5; i++) {
      expect(rows.slice(3 * i, 3 * i + 3)).toEqual([0, 1, 2].map((c) => (c === labels[i] ? 1 : 0)));
    }
  } finally {
    x.dispose();
    y.dispose();
  }
});

test('bad arguments: empty or out-of-range slices, bad order entries, wrong types', () => {
  expect(() => gatherBatch(ds, order, 2, 2)).toThrow(RangeError);
  expect(() => gatherBatch(ds, order, 2, 2)).toThrow(/gatherBatch: need integers 0 ≤ start < end ≤ order.length = 5, got start 2, end 2/);
  expect(() => gatherBatch(ds, order, 0, 6)).toThrow(RangeError);
  expect(() => gatherBatch(ds, order, -1, 2)).toThrow(RangeError);
  expect(() => gatherBatch(ds, Int32Array.from([0, 5]), 0, 2)).toThrow(/gatherBatch: order\[1\] = 5 is outside \[0, 5\)/);
  expect(() => gatherBatch(ds, [0, 1] as unknown as Int32Array, 0, 2)).toThrow(TypeError);
  expect(() => gatherBatch(ds, order, 0, 2, { dtype: 'int32' as 'float32' })).toThrow(
    /gatherBatch: options.dtype must be 'float32' or 'float64', got int32/,
  );
  expect(() => gatherBatch({} as typeof ds, order, 0, 1)).toThrow(/gatherBatch: ds must be a Dataset/);
});

test('gatherBatch puts the batch on the requested device, and refuses an unavailable one', () => {
  const order = Int32Array.from({ length: ds.length }, (_, i) => i);
  const b = gatherBatch(ds, order, 0, 2, { device: 'cpu' });
  expect(b.x.device).toBe('cpu');
  expect(b.y.device).toBe('cpu');
  b.x.dispose();
  b.y.dispose();
  expect(() => gatherBatch(ds, order, 0, 2, { device: 'cuda:7' })).toThrow(/cuda:7/);
});
