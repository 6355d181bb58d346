// A plain reference of Philox4x32-10 (native/core/random.h) for the tests that redraw the
// native random choices (note [batch augmentation], note [image transforms]).

function mulhilo(a: number, b: number): [lo: number, hi: number] {
  const p = BigInt(a) * BigInt(b);
  return [Number(p & 0xffffffffn), Number(p >> 32n)];
}

/** The four words of Philox4x32-10 under the 64-bit `key` for the counter (c0, c1, c2, c3). */
export function philox(key: bigint, c0: number, c1: number, c2 = 0, c3 = 0): number[] {
  let k0 = Number(key & 0xffffffffn);
  let k1 = Number((key >> 32n) & 0xffffffffn);
  for (let round = 0; round < 10; round++) {
    const [lo0, hi0] = mulhilo(0xd2511f53, c0);
    const [lo1, hi1] = mulhilo(0xcd9e8d57, c2);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    [c0, c1, c2, c3] = [n0, lo1, n2, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}
