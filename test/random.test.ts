// Properties of the random fills that are not a comparison with the Philox reference:
// determinism, stream continuation bit for bit, statistics, the default dtype and device.
// Each element against the reference (every seed, offset, shape, parameter and omitted
// option, both dtypes) is in the op cases (test/cases/random.ts); thread independence in
// ops.threads.test.ts.
import * as nc from '../lib';
import { describeEachBackend, expectEqualArrays, f64 } from './helpers';

function meanVar(x: Float64Array): { mean: number; variance: number } {
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let s = 0;
  for (const v of x) s += (v - m) ** 2;
  return { mean: m, variance: s / (x.length - 1) };
}

describeEachBackend('random', (b) => {
  for (const dtype of b.dtypes) {
    describe(dtype, () => {
      const U = (shape: number[], o: { seed?: number; offset?: number } & { low?: number; high?: number } = {}) =>
        nc.randomUniform(shape, { seed: 1, dtype, device: b.device, ...o });
      const N = (shape: number[], o: { seed?: number; offset?: number } & { mean?: number; std?: number } = {}) =>
        nc.randomNormal(shape, { seed: 1, dtype, device: b.device, ...o });

      test('same seed gives identical numbers; different seeds and offsets differ', () => {
        for (const gen of [U, N]) {
          const a = f64(gen([1000], { seed: 123 }));
          const a2 = f64(gen([1000], { seed: 123 }));
          expectEqualArrays(a2, a, 'same seed');
          const c = f64(gen([1000], { seed: 124 }));
          let same = 0;
          for (let i = 0; i < 1000; i++) if (a[i] === c[i]) same++;
          expect(same).toBeLessThan(5);
          // all values distinct-ish (not a constant fill)
          expect(new Set(a).size).toBeGreaterThan(990);
        }
      });

      test.each([1, 2, 3, 4, 5, 7, 500])('offset continues the stream (k = %i)', (k) => {
        const n = 1003;
        for (const gen of [U, N]) {
          const full = f64(gen([n], { seed: 5 }));
          const tail = f64(gen([n - k], { seed: 5, offset: k }));
          expectEqualArrays(tail, full.subarray(k), `offset ${k}`);
          // two consecutive draws with offset += numel reproduce one big draw
          const head = f64(gen([k], { seed: 5 }));
          expectEqualArrays(head, full.subarray(0, k), 'head');
        }
      });

      // independence of the thread count: see ops.threads.test.ts (all setNumThreads tests live
      // there, so that a crash in the thread pool cannot take other tests down with it)

      test('uniform statistics and range', () => {
        const n = 200000;
        const x = f64(U([n], { seed: 11 }));
        for (const v of x) if (!(v >= 0 && v < 1)) throw new Error(`uniform value ${v} outside [0, 1)`);
        const { mean, variance } = meanVar(x);
        // mean 1/2, variance 1/12; standard error of the mean sqrt(1/12/n) ≈ 6.5e-4: 6 sigma
        expect(Math.abs(mean - 0.5)).toBeLessThan(6 * Math.sqrt(1 / 12 / n));
        // the variance estimate of a uniform has sd ≈ sqrt((1/80 − 1/144)/n) ≈ 1.7e-4
        expect(Math.abs(variance - 1 / 12)).toBeLessThan(6 * Math.sqrt((1 / 80 - 1 / 144) / n));
        // both halves populated evenly (catches sign/bit mistakes)
        const below = x.filter((v) => v < 0.5).length;
        expect(Math.abs(below - n / 2)).toBeLessThan(6 * Math.sqrt(n / 4));

        const y = f64(U([n], { seed: 12, low: -3, high: 5 }));
        let lo = Infinity, hi = -Infinity;
        for (const v of y) {
          if (!(v >= -3 && v < 5)) throw new Error(`uniform value ${v} outside [-3, 5)`);
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        expect(lo).toBeLessThan(-2.99);
        expect(hi).toBeGreaterThan(4.99);
        const s = meanVar(y);
        expect(Math.abs(s.mean - 1)).toBeLessThan(6 * Math.sqrt(64 / 12 / n));
        expect(Math.abs(s.variance - 64 / 12)).toBeLessThan(6 * 64 * Math.sqrt((1 / 80 - 1 / 144) / n));
      });

      test('normal statistics, mean/std respected', () => {
        const n = 200000;
        for (const [mu, sd] of [
          [0, 1],
          [2.5, 0.5],
          [-1, 3],
        ]) {
          const x = f64(N([n], { seed: 13, mean: mu, std: sd }));
          for (const v of x) if (!Number.isFinite(v)) throw new Error(`non-finite normal value ${v}`);
          const { mean, variance } = meanVar(x);
          expect(Math.abs(mean - mu)).toBeLessThan(6 * sd / Math.sqrt(n));
          // Var of the sample variance of a normal: 2σ⁴/(n−1)
          expect(Math.abs(variance - sd * sd)).toBeLessThan(6 * sd * sd * Math.sqrt(2 / n));
          // symmetric, and about 68.3 % within one sd
          const within = x.filter((v) => Math.abs(v - mu) < sd).length / n;
          expect(Math.abs(within - 0.6827)).toBeLessThan(0.006);
          const above = x.filter((v) => v > mu).length;
          expect(Math.abs(above - n / 2)).toBeLessThan(6 * Math.sqrt(n / 4));
        }
      });

      test('default dtype is float32 and default device is cpu', () => {
        const t = nc.randomUniform([4], { seed: 1 });
        expect(t.dtype).toBe('float32');
        expect(t.device).toBe('cpu');
      });
    });
  }
});
