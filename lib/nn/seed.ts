// Deterministic seed derivation: one user seed → independent seeds per layer / pass.

/**
 * A new seed in [0, 2³²) from a seed and a stream index (a splitmix-style 32-bit hash of both).
 * Equal inputs give equal outputs on every platform; different indices give unrelated seeds.
 */
export function mixSeed(seed: number, index: number): number {
  let h = (Math.floor(seed / 4294967296) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  h = (h ^ Math.imul((index >>> 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}
