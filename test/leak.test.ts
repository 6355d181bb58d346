// Native memory is returned: creating and disposing many tensors, and running ops in a loop,
// brings memoryStats().bytesInUse back to where it started and keeps the process RSS bounded.
import * as nc from '../lib';
import { Tensor } from '../lib';
import { settledBytesInUse } from './helpers';

const gc: (() => void) | undefined = (global as { gc?: () => void }).gc;
const MiB = 1024 * 1024;

describe('memory', () => {
  // Node 20 runs N-API finalizers (which delete the small C++ wrapper of each tensor) on
  // the event loop after a GC, not during it: a synchronous loop holds every wrapper until
  // it yields. So the test lets the loop turn, like any real training loop does, and
  // checks that a second round of 100k tensors does not grow the process further.
  test('100k small tensors created and disposed, twice: RSS stays bounded', async () => {
    const turn = async (): Promise<void> => {
      await new Promise((resolve) => setImmediate(resolve));
      gc?.();
      await new Promise((resolve) => setImmediate(resolve));
    };
    await turn(); // tensors forgotten by earlier test files in this worker are freed first
    const start = settledBytesInUse();
    const small = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const round = (): void => {
      for (let i = 0; i < 100_000; i++) {
        const a = Tensor.from(small, { shape: [2, 4] });
        const b = i % 2 ? Tensor.zeros([3, 5], { dtype: 'float64' }) : Tensor.full([16], 1);
        if (i % 1000 === 0) expect(nc.memoryStats().bytesInUse).toBeGreaterThan(start);
        a.dispose();
        b.dispose();
      }
    };
    round();
    await turn();
    expect(nc.memoryStats().bytesInUse).toBe(start);
    const rss0 = process.memoryUsage().rss;
    round();
    await turn();
    expect(nc.memoryStats().bytesInUse).toBe(start);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(16 * MiB);
  });

  test('ops in a loop (results disposed) return to the starting bytesInUse', () => {
    const x = nc.randomNormal([4, 3, 12, 12], { seed: 1 });
    const w = nc.randomNormal([8, 3, 3, 3], { seed: 2 });
    const bias = nc.randomNormal([8], { seed: 3 });
    const lw = nc.randomNormal([10, 8 * 6 * 6], { seed: 4 });
    const u = nc.randomUniform([4, 10], { seed: 5 });
    const y = nc.softmax(u); // targets: rows summing to one
    u.dispose();
    gc?.();
    const start = settledBytesInUse();
    const rss0 = process.memoryUsage().rss;
    let peakDuring = 0;
    for (let i = 0; i < 300; i++) {
      const c = nc.conv2d(x, w, bias, { padding: 1 });
      const r = nc.relu(c);
      const { y: p, argmax } = nc.maxPool2d(r, { kernel: 2 });
      const flat = p.reshape([4, 8 * 6 * 6]);
      const z = nc.linear(flat, lw);
      const loss = nc.softmaxCrossEntropy(z, y);
      expect(Number.isFinite(loss)).toBe(true);
      const dz = nc.softmaxCrossEntropyGradient(z, y);
      const g = nc.linearBackward(dz, flat, lw, { bias: false });
      const dp = g.dx.reshape([4, 8, 6, 6]);
      const dr = nc.maxPool2dBackward(dp, argmax, r.shape, { kernel: 2 });
      const dc = nc.reluBackward(dr, c);
      const dw = nc.conv2dBackwardFilter(dc, x, w.shape, { padding: 1 });
      const dx = nc.conv2dBackwardData(dc, w, x.shape, { padding: 1 });
      peakDuring = Math.max(peakDuring, nc.memoryStats().bytesInUse);
      for (const t of [c, r, p, argmax, flat, z, dz, g.dx, g.dw, dp, dr, dc, dw, dx]) t.dispose();
    }
    gc?.();
    expect(peakDuring).toBeGreaterThan(start);
    expect(nc.memoryStats().bytesInUse).toBe(start);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(64 * MiB);
    for (const t of [x, w, bias, lw, y]) t.dispose();
  });

  test('peakBytesInUse is monotone and ≥ bytesInUse', () => {
    settledBytesInUse();
    const s0 = nc.memoryStats();
    const big = Tensor.zeros([1 << 20]); // 4 MiB
    const s1 = nc.memoryStats();
    big.dispose();
    const s2 = nc.memoryStats();
    expect(s1.peakBytesInUse).toBeGreaterThanOrEqual(s0.peakBytesInUse);
    expect(s1.peakBytesInUse).toBeGreaterThanOrEqual(s1.bytesInUse);
    expect(s2.peakBytesInUse).toBe(s1.peakBytesInUse);
    expect(s2.bytesInUse).toBe(s0.bytesInUse);
  });

  test('freed large blocks are cached for reuse, and emptyCache returns them', () => {
    nc.emptyCache();
    expect(nc.memoryStats().bytesCached).toBe(0);
    const before = nc.memoryStats().allocations;
    const big = Tensor.zeros([1 << 20]); // 4 MiB: above the cache's minimum block size
    big.dispose();
    const cached = nc.memoryStats().bytesCached;
    expect(cached).toBeGreaterThanOrEqual(4 * MiB);
    // The same size again is served from the cache: bytesCached drops while it lives.
    const again = Tensor.full([1 << 20], 2);
    expect(nc.memoryStats().bytesCached).toBe(cached - 4 * MiB);
    expect(nc.memoryStats().allocations).toBe(before + 2);
    again.dispose();
    expect(nc.emptyCache()).toBe(cached);
    expect(nc.memoryStats().bytesCached).toBe(0);
    expect(nc.emptyCache()).toBe(0);
    expect(() => nc.emptyCache('cuda:7')).toThrow(/emptyCache/);
  });

  test('the CPU cache limit is the peak of the bytes in use (the working set), unless NEWTON_CPU_CACHE_BYTES fixes it', () => {
    const env = process.env.NEWTON_CPU_CACHE_BYTES;
    if (env !== undefined) {
      expect(nc.memoryStats().cacheLimitBytes).toBe(Number.parseInt(env, 10));
      return;
    }
    expect(nc.memoryStats().cacheLimitBytes).toBe(nc.memoryStats().peakBytesInUse);
    // A working set above the former peak raises the limit with it, and all of it is then kept:
    // the same tensors again come from the cache (the cached bytes drop by exactly their size).
    nc.emptyCache();
    const peak = nc.memoryStats().peakBytesInUse;
    const elements = 1024 * Math.ceil((peak / 4 + 4 * MiB) / 4096); // 4 blocks > the peak; whole pages
    const blocks = Array.from({ length: 4 }, () => Tensor.full([elements], 1));
    const grown = nc.memoryStats();
    expect(grown.peakBytesInUse).toBeGreaterThan(peak);
    expect(grown.cacheLimitBytes).toBe(grown.peakBytesInUse);
    for (const b of blocks) b.dispose();
    const cached = nc.memoryStats().bytesCached;
    expect(cached).toBeGreaterThanOrEqual(4 * elements * 4);
    const again = Array.from({ length: 4 }, () => Tensor.full([elements], 2));
    expect(nc.memoryStats().bytesCached).toBe(cached - 4 * elements * 4);
    expect(nc.memoryStats().peakBytesInUse).toBe(grown.peakBytesInUse);
    for (const b of again) b.dispose();
    nc.emptyCache();
  });
});
