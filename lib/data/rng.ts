/**
 * A small, fast, seeded pseudo-random generator for data order (shuffles, splits): xoshiro128**
 * (Blackman & Vigna), its 128-bit state seeded by splitmix32 from the seed. The state is four
 * uint32 words, so it round-trips through JSON (checkpoints) with getState / fromState.
 *
 * @packageDocumentation
 */

const TWO_POW_32 = 4294967296;

/** One splitmix32 step: advances `s` (returned as next) and outputs a well-mixed uint32. */
function splitmix32(s: number): { next: number; out: number } {
  const next = (s + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return { next, out: z >>> 0 };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Seeded xoshiro128** generator with serialisable state. */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /**
   * @param seed a safe integer (negative allowed); equal seeds give equal sequences.
   * @throws TypeError when seed is not a number; RangeError when not a safe integer.
   */
  constructor(seed: number) {
    if (typeof seed !== 'number') throw new TypeError(`Rng: seed must be a number, got ${typeof seed}`);
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng: seed must be a safe integer, got ${seed}`);
    // Both 32-bit halves of the seed feed splitmix32, so seeds 1 and 2^32 + 1 differ.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    let s = lo ^ Math.imul(hi, 0x27d4eb2f);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = splitmix32(s);
      s = r.next;
      words.push(r.out);
    }
    this.setWords(words);
  }

  private setWords(w: readonly number[]): void {
    [this.s0, this.s1, this.s2, this.s3] = [w[0] >>> 0, w[1] >>> 0, w[2] >>> 0, w[3] >>> 0];
    // xoshiro must never be all zeros (it would stay zero); splitmix32 makes this astronomically unlikely.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits (two draws). */
  nextFloat(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * A uniform integer in [0, bound), without modulo bias (rejection sampling).
   * @throws RangeError unless bound is an integer in [1, 2^32].
   */
  nextInt(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1 || bound > TWO_POW_32) {
      throw new RangeError(`Rng.nextInt: bound must be an integer in [1, 2^32], got ${bound}`);
    }
    // Accept draws below the largest multiple of bound that fits in 2^32.
    const limit = TWO_POW_32 - (TWO_POW_32 % bound);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % bound;
    }
  }

  /**
   * A uniformly random permutation of 0..n-1 (Fisher-Yates, drawing n-1 integers).
   * @throws RangeError unless n is a non-negative integer below 2^31.
   */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
      throw new RangeError(`Rng.permutation: n must be a non-negative integer below 2^31, got ${n}`);
    }
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: number }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }

  /** The generator state: four uint32 words (JSON-safe). `Rng.fromState(getState())` continues identically. */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /**
   * A generator continuing from a state returned by getState().
   * @throws TypeError when state is not an array; RangeError unless it holds four uint32 words, not all zero.
   */
  static fromState(state: readonly number[]): Rng {
    if (!Array.isArray(state)) {
      throw new TypeError(`Rng.fromState: state must be an array of 4 uint32 numbers, got ${state === null ? 'null' : typeof state}`);
    }
    if (state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)) {
      throw new RangeError(`Rng.fromState: state must be 4 integers in [0, 2^32), got [${state.join(', ')}]`);
    }
    if (state.every((w) => w === 0)) throw new RangeError('Rng.fromState: state must not be all zeros');
    const rng = new Rng(0);
    rng.setWords(state);
    return rng;
  }
}
