// GradientBuckets (lib/train/gradient-buckets.ts): which ranges of the gradient are summed when,
// checked with a stand-in communicator that records every started all-reduce.
import { cifarResNet, cnn3, nn, Tensor, type Distributed, type PendingCollective } from '../lib';
import { fill } from '../lib/ops';
import { GradientBuckets } from '../lib/train/gradient-buckets';

interface Started {
  /** Where the view starts in the gradient (found by its first element's marker value). */
  offset: number;
  size: number;
  waited: boolean;
}

function recorder(fail: (k: number) => boolean = () => false): { dist: Distributed; started: Started[] } {
  const started: Started[] = [];
  const dist = {
    backend: 'mpi',
    rank: 0,
    size: 2,
    localRank: 0,
    localSize: 2,
    library: 'stand-in',
    device: 'cpu',
    allReduceSumStart(t: Tensor): PendingCollective {
      const values = t.toArray();
      const s: Started = { offset: values[0], size: t.size, waited: false };
      const k = started.push(s) - 1;
      return {
        wait: () => {
          s.waited = true;
          if (fail(k)) throw new Error(`bucket ${k} failed`);
        },
      };
    },
    allReduceSum: () => undefined,
    allReduceScalars: () => undefined,
    broadcast: () => undefined,
    barrier: () => undefined,
  } satisfies Distributed;
  return { dist, started };
}

// gradient[i] = i, so a view's first element is its offset
const gradient = (n: number): Tensor => Tensor.from(Float32Array.from({ length: n }, (_, i) => i), { shape: [n] });

describe('GradientBuckets', () => {
  test('layers finished last to first: buckets from the end of θ, each started once it holds enough', () => {
    const { dist, started } = recorder();
    const g = gradient(100);
    const b = new GradientBuckets(dist, g, 30);
    // layers [0, 10) [10, 40) [40, 50) [50, 90) [90, 100), finished in reverse
    b.ready(90, 10);
    expect(started).toHaveLength(0);
    b.ready(50, 40);
    expect(started).toEqual([{ offset: 50, size: 50, waited: false }]);
    b.ready(40, 10);
    b.ready(10, 30);
    expect(started.map((s) => [s.offset, s.size])).toEqual([[50, 50], [10, 40]]);
    b.ready(0, 10);
    b.finish();
    expect(started.map((s) => [s.offset, s.size])).toEqual([[50, 50], [10, 40], [0, 10]]);
    expect(started.every((s) => s.waited)).toBe(true);
    g.dispose();
  });

  test('ranges finished out of order are started only once they reach the part not yet started', () => {
    const { dist, started } = recorder();
    const g = gradient(60);
    const b = new GradientBuckets(dist, g, 20);
    b.ready(20, 20); // not contiguous with the end yet
    expect(started).toHaveLength(0);
    b.ready(40, 20);
    expect(started.map((s) => [s.offset, s.size])).toEqual([[20, 40]]);
    b.ready(0, 20);
    expect(started.map((s) => [s.offset, s.size])).toEqual([[20, 40], [0, 20]]);
    b.finish(); // nothing left to start
    expect(started).toHaveLength(2);
    g.dispose();
  });

  test('finish waits for every bucket and throws the first error; abandon starts no more and drops the errors', () => {
    const a = recorder((k) => k >= 0);
    const g = gradient(40);
    const b = new GradientBuckets(a.dist, g, 10);
    b.ready(20, 20);
    b.ready(0, 20);
    expect(() => b.finish()).toThrow('bucket 0 failed');
    expect(a.started.every((s) => s.waited)).toBe(true);
    const c = recorder(() => true);
    const d = new GradientBuckets(c.dist, g, 10);
    d.ready(30, 10);
    d.abandon();
    expect(c.started.map((s) => [s.offset, s.size, s.waited])).toEqual([[30, 10, true]]);
    g.dispose();
  });
});

describe('Network.backward options.onParameterGradient', () => {
  for (const [name, make] of [
    ['cnn3', () => cnn3([3, 8, 8], 3, { seed: 1 })],
    ['CIFAR ResNet-8 (a graph with shortcuts)', () => cifarResNet(8, [3, 8, 8], 3, { seed: 1, width: 4 })],
  ] as const) {
    test(`${name}: every layer's range once, last layers first, after its gradient is written`, () => {
      const net = make();
      const x = Tensor.from(Float32Array.from({ length: 2 * 3 * 64 }, (_, i) => Math.sin(i)), { shape: [2, 3, 8, 8] });
      const z = net.forward(x, { training: true });
      const y = Tensor.from(Float32Array.from([1, 0, 0, 0, 1, 0]), { shape: [2, 3] });
      const dz = nn.crossEntropyLoss.gradient(z, y);
      net.backward(dz); // the reference gradient
      const reference = net.gradient.toArray();
      const ranges: Array<[number, number, boolean]> = [];
      fill(net.gradient, 12345); // so that a range read before its layer's pass would differ
      net.backward(dz, {
        onParameterGradient: (offset, size) => {
          // the range already holds its final values
          const now = net.gradient.toArray();
          let same = true;
          for (let i = offset; i < offset + size; i++) same &&= now[i] === reference[i];
          ranges.push([offset, size, same]);
        },
      });
      expect(ranges.every(([, , same]) => same)).toBe(true);
      const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
      let next = 0;
      for (const [offset, size] of sorted) {
        expect(offset).toBe(next);
        next = offset + size;
      }
      expect(next).toBe(net.numParameters);
      // the backward pass finishes the layers last to first: decreasing offsets
      expect(ranges.map((r) => r[0])).toEqual(sorted.map((r) => r[0]).reverse());
      expect(() => net.backward(dz, { onParameterGradient: 5 as unknown as () => void })).toThrow(/backward: options.onParameterGradient must be a function, got number/);
      [x, z, y, dz].forEach((t) => t.dispose());
      net.dispose();
    });
  }
});
