// Rng: xoshiro128** reference values, determinism by seed, state round trip, permutations.
import { Rng } from '../lib/data';

const draw = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.nextUint32());

describe('Rng', () => {
  test('is xoshiro128**: reference outputs from state [1, 2, 3, 4]', () => {
    // Worked by hand from the reference C code (Blackman & Vigna): rotl(s1·5, 7)·9, then the xorshift update.
    expect(draw(Rng.fromState([1, 2, 3, 4]), 3)).toEqual([11520, 0, 5927040]);
  });

  test('same seed → same sequence; different seeds → different sequences', () => {
    expect(draw(new Rng(42), 1000)).toEqual(draw(new Rng(42), 1000));
    expect(draw(new Rng(42), 10)).not.toEqual(draw(new Rng(43), 10));
    expect(draw(new Rng(1), 10)).not.toEqual(draw(new Rng(2 ** 32 + 1), 10));
    expect(draw(new Rng(-1), 10)).not.toEqual(draw(new Rng(1), 10));
    const a = new Rng(7);
    const b = new Rng(7);
    expect(Array.from({ length: 100 }, () => a.nextFloat())).toEqual(Array.from({ length: 100 }, () => b.nextFloat()));
  });

  test('outputs are uint32 and floats in [0, 1) with a plausible mean', () => {
    const rng = new Rng(123);
    for (const v of draw(rng, 1000)) {
      expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
    }
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const f = rng.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      sum += f;
    }
    expect(Math.abs(sum / 10000 - 0.5)).toBeLessThan(0.02);
  });

  test('getState / fromState continue the sequence exactly, also through JSON', () => {
    const rng = new Rng(99);
    draw(rng, 17);
    const state = rng.getState();
    expect(state).toHaveLength(4);
    const copy = Rng.fromState(JSON.parse(JSON.stringify(state)) as number[]);
    expect(draw(copy, 200)).toEqual(draw(rng, 200));
    expect(copy.permutation(50)).toEqual(rng.permutation(50));
    expect(copy.getState()).toEqual(rng.getState());
  });

  test('permutation(n) is a permutation of 0..n-1, deterministic by seed', () => {
    for (const n of [0, 1, 2, 3, 97, 1000]) {
      const p = new Rng(n).permutation(n);
      expect(p).toBeInstanceOf(Int32Array);
      expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    expect(new Rng(5).permutation(100)).toEqual(new Rng(5).permutation(100));
    expect(new Rng(5).permutation(100)).not.toEqual(new Rng(6).permutation(100));
  });

  test('permutations of 3 are roughly uniform (Fisher-Yates without modulo bias)', () => {
    const rng = new Rng(2024);
    const counts = new Map<string, number>();
    const trials = 6000;
    for (let t = 0; t < trials; t++) {
      const key = Array.from(rng.permutation(3)).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const c of counts.values()) expect(Math.abs(c - trials / 6)).toBeLessThan(150); // ≈ 5 standard deviations
  });

  test('nextInt stays in range, shuffle keeps the elements', () => {
    const rng = new Rng(3);
    for (const bound of [1, 2, 7, 1000, 2 ** 32]) {
      for (let i = 0; i < 100; i++) {
        const v = rng.nextInt(bound);
        expect(Number.isInteger(v) && v >= 0 && v < bound).toBe(true);
      }
    }
    const a = Float64Array.from([5, 6, 7, 8]);
    expect(Array.from(rng.shuffle(a)).sort()).toEqual([5, 6, 7, 8]);
  });

  test('bad arguments', () => {
    expect(() => new Rng('1' as unknown as number)).toThrow(TypeError);
    expect(() => new Rng(1.5)).toThrow(/Rng: seed must be a safe integer, got 1.5/);
    expect(() => new Rng(NaN)).toThrow(RangeError);
    expect(() => new Rng(0).permutation(-1)).toThrow(/Rng.permutation: n must be a non-negative integer/);
    expect(() => new Rng(0).nextInt(0)).toThrow(RangeError);
    expect(() => Rng.fromState([1, 2, 3])).toThrow(/Rng.fromState: state must be 4 integers/);
    expect(() => Rng.fromState([1, 2, 3, 2 ** 32])).toThrow(RangeError);
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(/all zeros/);
    expect(() => Rng.fromState(null as unknown as number[])).toThrow(TypeError);
  });
});
