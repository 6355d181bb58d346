// Orthonormalisation on the host in float64, for the 'orthogonal' initialiser (lib/nn/init.ts).
//
// Note [orthogonal initialisation]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// Saxe, McClelland & Ganguli (2013) initialise each weight matrix to a random orthogonal matrix,
// "produced by performing QR or SVD decompositions on random Gaussian matrices". For a Gaussian
// matrix G (rows × cols) this file computes, with Householder reflections:
//   rows ≤ cols:  Gᵀ = QR (Q cols × rows),  W = (Q·D)ᵀ    rows orthonormal:    W Wᵀ = I_rows
//   rows > cols:  G  = QR (Q rows × cols),  W = Q·D       columns orthonormal: Wᵀ W = I_cols
// with D = diag(sign(R_jj)) (sign(0) taken as +1). Q·D is the Q of the unique QR factorisation
// whose R has a positive diagonal, so it does not depend on the reflections' sign convention and,
// G being Gaussian, it is Haar distributed (Mezzadri 2007, "How to generate random matrices from
// the classical compact groups"); without D it would not be. This is PyTorch's
// torch.nn.init.orthogonal_ (which flattens a weight (O, I...) to (O, I·…)).
//
// Cost: about 4mn² − 4n³/3 flops for the tall m × n matrix (m = max(rows, cols), n = min),
// columns stored contiguously, on one thread: a 64 × 576 weight takes 10 ms, a 512 × 4608 conv
// weight about 3 s and a 1000 × 2048 classifier about 5 s, so initialising a ResNet-50 this way
// takes a minute or so. Every initialisation draws this once per weight; nothing else calls it.

/** x ← (I − 2vvᵀ)x for the v.length elements of `a` from `at` (v a unit vector or 0). */
function reflect(v: Float64Array, a: Float64Array, at: number): void {
  const len = v.length;
  let d = 0;
  for (let i = 0; i < len; i++) d += v[i] * a[at + i];
  if (d === 0) return;
  d *= 2;
  for (let i = 0; i < len; i++) a[at + i] -= d * v[i];
}

/** The thin QR factorisation of a tall matrix: Q with orthonormal columns and the diagonal of R. */
export interface ThinQR {
  /** Q, m × n, COLUMN-major (column j is q[j·m … j·m + m)); QᵀQ = I_n. */
  readonly q: Float64Array;
  /** R's diagonal R_00 … R_(n−1)(n−1) (the Householder convention: any sign). */
  readonly rDiag: Float64Array;
}

/**
 * Householder QR of the m × n matrix A (m ≥ n ≥ 1) given COLUMN-major in `a` (column j is
 * a[j·m … j·m + m)); `a` is not modified. Returns the thin Q (m × n, column-major) and R's
 * diagonal, with A = Q·R for an upper-triangular R (n × n). Works for rank-deficient A too
 * (a zero column gives a zero R_jj and some unit vector in Q).
 * @throws RangeError unless m ≥ n ≥ 1 and a.length = m·n.
 */
export function householderQR(a: Float64Array, m: number, n: number): ThinQR {
  if (!Number.isInteger(m) || !Number.isInteger(n) || n < 1 || m < n) {
    throw new RangeError(`householderQR: needs integers m ≥ n ≥ 1, got m = ${String(m)}, n = ${String(n)}`);
  }
  if (a.length !== m * n) throw new RangeError(`householderQR: a must have m·n = ${m * n} elements, got ${a.length}`);
  const r = Float64Array.from(a); // overwritten by R above the diagonal, the reflectors below
  const vs: Float64Array[] = []; // v_k (length m − k), unit norm; H_k = I − 2 v_k v_kᵀ on rows k…m−1
  const rDiag = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const col = k * m;
    let norm2 = 0;
    for (let i = k; i < m; i++) norm2 += r[col + i] * r[col + i];
    const norm = Math.sqrt(norm2);
    // alpha = −sign(x₀)‖x‖ avoids cancellation in v = x − alpha·e₀.
    const alpha = r[col + k] >= 0 ? -norm : norm;
    const v = new Float64Array(m - k);
    for (let i = k; i < m; i++) v[i - k] = r[col + i];
    v[0] -= alpha;
    let vnorm2 = 0;
    for (let i = 0; i < v.length; i++) vnorm2 += v[i] * v[i];
    if (vnorm2 > 0) {
      const s = 1 / Math.sqrt(vnorm2);
      for (let i = 0; i < v.length; i++) v[i] *= s;
      // Apply H_k to columns k…n−1.
      for (let j = k; j < n; j++) reflect(v, r, j * m + k);
    } else {
      v.fill(0); // x = 0: H_k = I
    }
    vs.push(v);
    rDiag[k] = vnorm2 > 0 ? r[col + k] : 0;
  }
  // Q = H_0 H_1 … H_(n−1) [I_n; 0], applied from the last reflector back.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * m + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k];
    for (let j = k; j < n; j++) reflect(v, q, j * m + k); // columns j < k of H_k…H_(n−1)[I; 0] are still e_j
  }
  return { q, rDiag };
}

/**
 * The (semi-)orthogonal rows × cols matrix of the Gaussian matrix `g` (rows × cols, ROW-major),
 * times `gain`, ROW-major (note [orthogonal initialisation]): rows orthonormal (W Wᵀ = gain²·I)
 * when rows ≤ cols, columns orthonormal (Wᵀ W = gain²·I) when rows > cols. Haar distributed for
 * Gaussian g. `g` is not modified.
 * @throws RangeError for non-positive sizes, a wrong length or a non-finite gain.
 */
export function orthogonalFromGaussian(g: Float64Array, rows: number, cols: number, gain = 1): Float64Array {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new RangeError(`orthogonalFromGaussian: rows and cols must be positive integers, got ${String(rows)} × ${String(cols)}`);
  }
  if (g.length !== rows * cols) throw new RangeError(`orthogonalFromGaussian: g must have rows·cols = ${rows * cols} elements, got ${g.length}`);
  if (typeof gain !== 'number' || !Number.isFinite(gain)) throw new RangeError(`orthogonalFromGaussian: gain must be a finite number, got ${String(gain)}`);
  const out = new Float64Array(rows * cols);
  if (rows <= cols) {
    // Gᵀ (cols × rows) column-major is G row-major; so is the result: Qᵀ row-major = Q column-major.
    const { q, rDiag } = householderQR(g, cols, rows);
    for (let j = 0; j < rows; j++) {
      const s = (rDiag[j] < 0 ? -1 : 1) * gain;
      for (let i = 0; i < cols; i++) out[j * cols + i] = s * q[j * cols + i];
    }
  } else {
    const a = new Float64Array(rows * cols); // G column-major
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) a[j * rows + i] = g[i * cols + j];
    const { q, rDiag } = householderQR(a, rows, cols);
    for (let j = 0; j < cols; j++) {
      const s = (rDiag[j] < 0 ? -1 : 1) * gain;
      for (let i = 0; i < rows; i++) out[i * cols + j] = s * q[j * rows + i];
    }
  }
  return out;
}
