// symmetricEigen and lapackAvailable (lib/linalg.ts, native/core/lapack.h): known spectra,
// the eigenpairs of random symmetric matrices (A·v = λ·v, V orthonormal, trace and Frobenius
// norm preserved), ascending order, the vectors' layout and signs, the symmetric part of a
// slightly asymmetric input, and the errors.
//
// The build decides which half runs: with LAPACK (OpenBLAS provides it: libopenblas-dev) every
// numerical test runs and the refusal test is skipped; without it (e.g. an addon configured
// with -DNEWTON_USE_BLAS=OFF, loaded with NEWTON_CNN_ADDON) every call must throw the Error that
// says how to get LAPACK, the JS argument checks still come first, and the numerical tests are
// skipped with that reason in their titles.
import { info } from '../lib';
import { lapackAvailable, symmetricEigen } from '../lib/linalg';
import { expectThrow, isTypedArrayOf, prng } from './helpers';

const LAPACK = lapackAvailable();
const NO_LAPACK = 'skipped: this build has no LAPACK (lapackAvailable() is false)';
// One of the two halves is skipped by design (the reason is in each skipped title); the test
// below makes sure the numerical half cannot be skipped where the project installs LAPACK.
const withLapack = (title: string, fn: () => void) => (LAPACK ? test(title, fn) : test.skip(`${title} [${NO_LAPACK}]`, fn));
const withoutLapack = (title: string, fn: () => void) =>
  LAPACK ? test.skip(`${title} [skipped: this build has LAPACK, so the refusal cannot happen]`, fn) : test(title, fn);

test('a build linked with OpenBLAS has LAPACK (Debian\'s libopenblas-dev provides dsyevd_), so the numerical tests run', () => {
  // .ci/run installs libopenblas-dev: there the LAPACK half must run, never silently skip.
  if (info().blas === 'OpenBLAS') expect(lapackAvailable()).toBe(true);
  expect(info().lapack).toBe(LAPACK);
});

// A random symmetric n×n matrix, row-major, entries in [-1, 1).
function randomSymmetric(n: number, seed: number): Float64Array {
  const r = prng(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = 2 * r() - 1;
  }
  return a;
}

// max over j of ‖A·v_j − λ_j·v_j‖∞, v_j column j of the row-major V.
function residual(a: Float64Array, n: number, values: Float64Array, v: Float64Array): number {
  let worst = 0;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * v[k * n + j];
      worst = Math.max(worst, Math.abs(s - values[j] * v[i * n + j]));
    }
  }
  return worst;
}

// max |VᵀV − I|.
function orthogonalityError(v: Float64Array, n: number): number {
  let worst = 0;
  for (let p = 0; p < n; p++) {
    for (let q = 0; q < n; q++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += v[k * n + p] * v[k * n + q];
      worst = Math.max(worst, Math.abs(s - (p === q ? 1 : 0)));
    }
  }
  return worst;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function expectAscending(values: ArrayLike<number>): void {
  for (let i = 1; i < values.length; i++) {
    if (!(values[i - 1] <= values[i])) throw new Error(`values[${i - 1}] = ${values[i - 1]} > values[${i}] = ${values[i]}`);
  }
}

describe('lapackAvailable', () => {
  test('is a boolean, and info().lapack says the same', () => {
    expect(typeof LAPACK).toBe('boolean');
    expect(info().lapack).toBe(LAPACK);
  });

  test('a build that links OpenBLAS on Linux has LAPACK (libopenblas-dev includes it)', () => {
    // Guards the build's detection, so that a regression does not just skip the tests below:
    // the CI installs libopenblas-dev, whose OpenBLAS has dsyevd_.
    if (info().blas === 'OpenBLAS' && process.platform === 'linux' && !LAPACK) {
      throw new Error(`the addon ${info().addon} links OpenBLAS but has no LAPACK: CMakeLists.txt (or binding.gyp) did not find ` +
        "dsyevd_ in it (see the build's 'newton-cnn: LAPACK' line); an OpenBLAS built with NO_LAPACK would explain it");
    }
  });
});

describe('symmetricEigen: known spectra', () => {
  withLapack('diagonal: the diagonal in ascending order, eigenvectors the unit vectors (positive)', () => {
    const d = [3, -1, 2, 0, 5, -7.5];
    const n = d.length;
    const a = new Float64Array(n * n);
    d.forEach((x, i) => (a[i * n + i] = x));
    const { values, vectors } = symmetricEigen(a, n, { vectors: true });
    expect(Array.from(values)).toEqual([...d].sort((x, y) => x - y));
    // column j is e_k where d[k] = values[j]
    for (let j = 0; j < n; j++) {
      const k = d.indexOf(values[j]);
      for (let i = 0; i < n; i++) expect(Math.abs(vectors[i * n + j] - (i === k ? 1 : 0))).toBeLessThan(1e-15);
    }
  });

  withLapack('2×2 by hand: [[2, 1], [1, 2]] -> 1, 3; [[4, -2], [-2, 1]] -> 0, 5', () => {
    const s = Math.SQRT1_2;
    let r = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2, { vectors: true });
    expect(maxAbsDiff(r.values, [1, 3])).toBeLessThan(1e-15);
    // column 0: (1, -1)/√2 (its largest entry, the first of two equal ones, made positive); column 1: (1, 1)/√2
    expect(maxAbsDiff(r.vectors, [s, s, -s, s])).toBeLessThan(1e-15);

    r = symmetricEigen(new Float64Array([4, -2, -2, 1]), 2, { vectors: true });
    expect(maxAbsDiff(r.values, [0, 5])).toBeLessThan(1e-14);
    const q = 1 / Math.sqrt(5);
    // λ = 0: (1, 2)/√5; λ = 5: (2, -1)/√5, row-major with the eigenvectors as columns
    expect(maxAbsDiff(r.vectors, [q, 2 * q, 2 * q, -q])).toBeLessThan(1e-15);
  });

  withLapack('1×1 and 0×0', () => {
    const one = symmetricEigen(new Float64Array([-4.25]), 1, { vectors: true });
    expect(Array.from(one.values)).toEqual([-4.25]);
    expect(Array.from(one.vectors)).toEqual([1]);
    const none = symmetricEigen(new Float64Array(0), 0, { vectors: true });
    expect(none.values.length).toBe(0);
    expect(none.vectors.length).toBe(0);
  });

  withLapack('the identity: every eigenvalue 1, V orthonormal (a repeated eigenvalue)', () => {
    const n = 7;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = 1;
    const { values, vectors } = symmetricEigen(a, n, { vectors: true });
    expect(maxAbsDiff(values, new Array(n).fill(1))).toBeLessThan(1e-15);
    expect(orthogonalityError(vectors, n)).toBeLessThan(1e-14);
  });
});

describe('symmetricEigen: a random symmetric 50×50', () => {
  const n = 50;
  const a = randomSymmetric(n, 2024);
  const copy = Float64Array.from(a);
  let values: Float64Array = new Float64Array(0);
  let vectors: Float64Array = new Float64Array(0);
  if (LAPACK) ({ values, vectors } = symmetricEigen(a, n, { vectors: true }));

  withLapack('results are Float64Arrays of this realm, of lengths n and n·n; a is unchanged', () => {
    expect(isTypedArrayOf(values, 'Float64Array')).toBe(true);
    expect(values instanceof Float64Array).toBe(true);
    expect(vectors instanceof Float64Array).toBe(true);
    expect(values.length).toBe(n);
    expect(vectors.length).toBe(n * n);
    expect(Array.from(a)).toEqual(Array.from(copy));
  });

  withLapack('ascending eigenvalues', () => expectAscending(values));

  withLapack('A·v = λ·v to 1e-10 for every eigenpair (v = column j of the row-major vectors)', () => {
    expect(residual(a, n, values, vectors)).toBeLessThan(1e-10);
  });

  withLapack('V orthonormal: |VᵀV − I| < 1e-12', () => {
    expect(orthogonalityError(vectors, n)).toBeLessThan(1e-12);
  });

  withLapack('V·diag(λ)·Vᵀ = A', () => {
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += vectors[i * n + k] * values[k] * vectors[j * n + k];
        worst = Math.max(worst, Math.abs(s - a[i * n + j]));
      }
    }
    expect(worst).toBeLessThan(1e-12);
  });

  withLapack('trace = Σλ and ‖A‖²_F = Σλ²', () => {
    let trace = 0, frob = 0, sum = 0, sumSq = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i];
    for (const x of a) frob += x * x;
    for (const l of values) (sum += l), (sumSq += l * l);
    expect(Math.abs(sum - trace)).toBeLessThan(1e-12 * Math.max(1, Math.abs(trace)));
    expect(Math.abs(sumSq - frob)).toBeLessThan(1e-12 * frob);
  });

  withLapack('each eigenvector\'s entry of largest magnitude is positive', () => {
    for (let j = 0; j < n; j++) {
      let at = 0;
      for (let i = 1; i < n; i++) if (Math.abs(vectors[i * n + j]) > Math.abs(vectors[at * n + j])) at = i;
      expect(vectors[at * n + j]).toBeGreaterThan(0);
    }
  });

  withLapack('vectors are optional: left out by default and with vectors: false; the same eigenvalues', () => {
    for (const r of [symmetricEigen(a, n), symmetricEigen(a, n, {}), symmetricEigen(a, n, { vectors: false }), symmetricEigen(a, n, undefined)]) {
      expect('vectors' in r).toBe(false);
      expect(r.values.length).toBe(n);
      expectAscending(r.values);
      // dsyevd computes values alone another way (dsterf): the same to round-off
      expect(maxAbsDiff(r.values, values)).toBeLessThan(1e-12);
    }
  });

  withLapack('the same input gives the same bits, call after call', () => {
    const again = symmetricEigen(a, n, { vectors: true });
    expect(Array.from(again.values)).toEqual(Array.from(values));
    expect(Array.from(again.vectors)).toEqual(Array.from(vectors));
  });
});

describe('symmetricEigen: more matrices', () => {
  withLapack('random 1…40 × seeds: ascending, residual and orthogonality', () => {
    for (const n of [2, 3, 5, 8, 13, 33, 40]) {
      for (const seed of [1, 2]) {
        const a = randomSymmetric(n, 100 * n + seed);
        const { values, vectors } = symmetricEigen(a, n, { vectors: true });
        expectAscending(values);
        expect(residual(a, n, values, vectors)).toBeLessThan(1e-12);
        expect(orthogonalityError(vectors, n)).toBeLessThan(1e-13);
      }
    }
  });

  withLapack('a slightly asymmetric input is decomposed as its symmetric part (A + Aᵀ)/2', () => {
    const n = 20;
    const a = randomSymmetric(n, 7);
    const b = Float64Array.from(a);
    const r = prng(8);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) b[i * n + j] += 1e-9 * (2 * r() - 1);
    const sym = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const x = b[i * n + j], y = b[j * n + i];
        sym[i * n + j] = x === y ? x : 0.5 * x + 0.5 * y;
      }
    }
    const rb = symmetricEigen(b, n, { vectors: true });
    const rs = symmetricEigen(sym, n, { vectors: true });
    expect(Array.from(rb.values)).toEqual(Array.from(rs.values));
    expect(Array.from(rb.vectors)).toEqual(Array.from(rs.vectors));
    // and the upper triangle of b is not ignored: its values differ from those of a
    expect(maxAbsDiff(rb.values, symmetricEigen(a, n).values)).toBeGreaterThan(0);
  });

  withLapack('scale: 1e150·A and 1e-150·A have the eigenvalues of A scaled', () => {
    const n = 12;
    const a = randomSymmetric(n, 31);
    const base = symmetricEigen(a, n).values;
    for (const s of [1e150, 1e-150]) {
      const scaled = symmetricEigen(a.map((x) => x * s), n).values;
      for (let i = 0; i < n; i++) expect(Math.abs(scaled[i] / s - base[i])).toBeLessThan(1e-12);
    }
  });

  withLapack('a positive semi-definite Gram matrix (a Gauss-Newton-like curvature): eigenvalues ≥ −1e-12, rank 3', () => {
    const n = 10, k = 3;
    const r = prng(5);
    const j = Array.from({ length: k * n }, () => 2 * r() - 1);
    const g = new Float64Array(n * n);
    for (let p = 0; p < n; p++) for (let q = 0; q < n; q++) for (let m = 0; m < k; m++) g[p * n + q] += j[m * n + p] * j[m * n + q];
    const { values } = symmetricEigen(g, n);
    for (let i = 0; i < n; i++) expect(values[i]).toBeGreaterThan(-1e-12);
    expect(values.filter((x) => Math.abs(x) < 1e-12).length).toBe(n - k);
  });
});

describe('symmetricEigen: errors', () => {
  const ok = new Float64Array([2, 1, 1, 2]);
  const argCases: [string, () => unknown, 'TypeError' | 'RangeError', RegExp][] = [
    ['a an array', () => symmetricEigen([1, 0, 0, 1] as unknown as Float64Array, 2), 'TypeError', /^symmetricEigen: a must be a Float64Array, got array$/],
    ['a a Float32Array', () => symmetricEigen(new Float32Array(4) as unknown as Float64Array, 2), 'TypeError', /^symmetricEigen: a must be a Float64Array, got Float32Array$/],
    ['a undefined', () => symmetricEigen(undefined as unknown as Float64Array, 2), 'TypeError', /^symmetricEigen: a must be a Float64Array, got undefined$/],
    ['n a string', () => symmetricEigen(ok, '2' as unknown as number), 'TypeError', /^symmetricEigen: n must be a number, got string$/],
    ['n missing', () => (symmetricEigen as (a: Float64Array) => unknown)(ok), 'TypeError', /^symmetricEigen: n must be a number, got undefined$/],
    ['options a number', () => symmetricEigen(ok, 2, 3 as unknown as object), 'TypeError', /^symmetricEigen: options must be an object, got number$/],
    ['options.vectors a number', () => symmetricEigen(ok, 2, { vectors: 1 as unknown as boolean }), 'TypeError', /^symmetricEigen: options\.vectors must be a boolean, got number$/],
    ['n 1.5', () => symmetricEigen(ok, 1.5), 'RangeError', /^symmetricEigen: n must be a non-negative safe integer, got 1\.5$/],
    ['n -2', () => symmetricEigen(ok, -2), 'RangeError', /^symmetricEigen: n must be a non-negative safe integer, got -2$/],
    ['n NaN', () => symmetricEigen(ok, NaN), 'RangeError', /^symmetricEigen: n must be a non-negative safe integer, got NaN$/],
    ['a.length 10, not a square (n = 3)', () => symmetricEigen(new Float64Array(10), 3), 'RangeError', /^symmetricEigen: a has 10 elements but an n×n matrix with n = 3 has 9 /],
    ['a.length 4 but n = 3', () => symmetricEigen(ok, 3), 'RangeError', /^symmetricEigen: a has 4 elements but an n×n matrix with n = 3 has 9 /],
    ['a.length 4 but n = 0', () => symmetricEigen(ok, 0), 'RangeError', /^symmetricEigen: a has 4 elements but an n×n matrix with n = 0 has 0 /],
    ['n = 2^32 (n·n past 2^64)', () => symmetricEigen(ok, 2 ** 32), 'RangeError', /^symmetricEigen: a has 4 elements but an n×n matrix with n = 4294967296 has at least 2\^64 /],
  ];
  // The argument checks come first, with or without LAPACK.
  test.each(argCases)('%s', (_t, fn, kind, re) => {
    expectThrow(fn, kind, re);
  });

  withLapack('a NaN or an infinity in a: RangeError naming its row and column; a unchanged', () => {
    const a = new Float64Array([1, 2, 3, 2, 5, 6, 3, 6, NaN]);
    expectThrow(() => symmetricEigen(a, 3), 'RangeError', /^symmetricEigen: a has a non-finite entry NaN at row 2, column 2 \(index 8\); the matrix must be finite$/);
    expect(Number.isNaN(a[8])).toBe(true);
    a[8] = 9;
    a[5] = -Infinity;
    expectThrow(() => symmetricEigen(a, 3, { vectors: true }), 'RangeError', /^symmetricEigen: a has a non-finite entry -Infinity at row 1, column 2 \(index 5\)/);
    a[5] = 6;
    a[1] = Infinity; // only one triangle: still refused
    expectThrow(() => symmetricEigen(a, 3), 'RangeError', /^symmetricEigen: a has a non-finite entry Infinity at row 0, column 1 /);
  });

  withoutLapack('without LAPACK: an Error saying how to get it, for every valid call', () => {
    expect(info().lapack).toBe(false);
    for (const call of [() => symmetricEigen(ok, 2), () => symmetricEigen(ok, 2, { vectors: true }), () => symmetricEigen(new Float64Array(0), 0)]) {
      expectThrow(call, 'Error', /^symmetricEigen: LAPACK is not available in this build .*libopenblas-dev.*npm run build:native -- --clean/);
    }
  });
});
