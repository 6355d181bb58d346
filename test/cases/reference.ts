// Plain float64 reference implementations of every op, written as obvious loops over
// Float64Array so that they are easy to check by eye. Nothing here calls the library.
//
// Conventions (those of the op declarations, native/core/ops/*.h):
//   images are NCHW, filters KCRS, row-major;
//   conv2d is a cross-correlation with zero padding;
//   pooling: max pool never chooses padding, ties go to the first (lowest) index,
//   argmax is h·W + w within the (n, c) plane; avg pool divides by the full window area.

export type Pair = readonly [number, number];

export function pair(v: number | Pair | undefined, dflt: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  if (typeof v === 'number') return [v, v];
  return [v[0], v[1]];
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// --- element-wise ------------------------------------------------------------------------
export const refAdd = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]);
export const refSub = (a: Float64Array, b: Float64Array) => a.map((v, i) => v - b[i]);
export const refMul = (a: Float64Array, b: Float64Array) => a.map((v, i) => v * b[i]);
export const refScale = (x: Float64Array, alpha: number) => x.map((v) => alpha * v);
export const refAxpy = (y: Float64Array, alpha: number, x: Float64Array) => y.map((v, i) => v + alpha * x[i]);
// relu keeps NaN (NaN > 0 is false, so a naive max(x, 0) would turn NaN into 0).
export const refRelu = (x: Float64Array) => x.map((v) => (v > 0 || Number.isNaN(v) ? v : 0));
export const refReluMask = (x: Float64Array) => x.map((v) => (v > 0 ? 1 : 0));
export const refReluBackward = (dy: Float64Array, x: Float64Array) => dy.map((v, i) => (x[i] > 0 ? v : 0));

// --- reductions --------------------------------------------------------------------------
export function refSum(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v;
  return s;
}
export function refDot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
export const refSquaredNorm = (x: Float64Array) => refDot(x, x);
export function refAbsSum(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += Math.abs(v);
  return s;
}
// The CG solver's fused update: x + α·p, r − α·q and ‖r − α·q‖², evaluated as the op does in
// the tensors' dtype: `round` rounds one result to it (Math.fround for float32, the identity
// for float64), α is rounded first, then each product and each sum once (no fused
// multiply-add). The new r is then squared and summed in double.
export function refCgUpdate(
  x: Float64Array, r: Float64Array, p: Float64Array, q: Float64Array, alpha: number, round: (v: number) => number,
): { x: Float64Array; r: Float64Array; rr: number } {
  const a = round(alpha);
  const xNew = x.map((v, i) => round(v + round(a * p[i])));
  const rNew = r.map((v, i) => round(v - round(a * q[i])));
  return { x: xNew, r: rNew, rr: refSquaredNorm(rNew) };
}

// --- GEMM ----------------------------------------------------------------------------------
// a is stored (rowsA, colsA); op(a) = a or aᵀ. Returns alpha·op(a)·op(b) + beta·c, shape (M, N).
export function refGemm(
  a: Float64Array, aShape: Pair, b: Float64Array, bShape: Pair,
  opts: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number; c?: Float64Array } = {},
): { data: Float64Array; shape: [number, number] } {
  const tA = !!opts.transA, tB = !!opts.transB;
  const alpha = opts.alpha ?? 1, beta = opts.beta ?? 0;
  const M = tA ? aShape[1] : aShape[0];
  const K = tA ? aShape[0] : aShape[1];
  const Kb = tB ? bShape[1] : bShape[0];
  const N = tB ? bShape[0] : bShape[1];
  if (K !== Kb) throw new Error(`refGemm: inner dimensions ${K} != ${Kb}`);
  const A = (i: number, k: number) => (tA ? a[k * aShape[1] + i] : a[i * aShape[1] + k]);
  const B = (k: number, j: number) => (tB ? b[j * bShape[1] + k] : b[k * bShape[1] + j]);
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A(i, k) * B(k, j);
      out[i * N + j] = alpha * s + (opts.c ? beta * opts.c[i * N + j] : 0);
    }
  }
  return { data: out, shape: [M, N] };
}

// --- bias ------------------------------------------------------------------------------------
// y (N, C, ...rest) + b[c]
export function refBiasAdd(y: Float64Array, shape: readonly number[], b: Float64Array): Float64Array {
  const C = shape[1];
  const inner = numel(shape.slice(2));
  return y.map((v, i) => v + b[Math.floor(i / inner) % C]);
}
export function refBiasGrad(dy: Float64Array, shape: readonly number[]): Float64Array {
  const C = shape[1];
  const inner = numel(shape.slice(2));
  const out = new Float64Array(C);
  for (let i = 0; i < dy.length; i++) out[Math.floor(i / inner) % C] += dy[i];
  return out;
}

// --- linear: x (N, I), w (O, I), b (O) -> x·wᵀ + b ------------------------------------------
export function refLinear(x: Float64Array, N: number, I: number, w: Float64Array, O: number, b?: Float64Array | null) {
  const y = refGemm(x, [N, I], w, [O, I], { transB: true }).data;
  if (b) for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) y[n * O + o] += b[o];
  return y;
}
export function refLinearBackward(dy: Float64Array, x: Float64Array, w: Float64Array, N: number, I: number, O: number) {
  const dx = refGemm(dy, [N, O], w, [O, I]).data; // (N, I)
  const dw = refGemm(dy, [N, O], x, [N, I], { transA: true }).data; // (O, I)
  const db = refBiasGrad(dy, [N, O]);
  return { dx, dw, db };
}

// --- convolution --------------------------------------------------------------------------------
export interface ConvGeom {
  N: number; C: number; H: number; W: number;
  K: number; R: number; S: number;
  sh: number; sw: number; ph: number; pw: number;
  P: number; Q: number;
}

export function convGeom(xShape: readonly number[], wShape: readonly number[], stride: number | Pair = 1, padding: number | Pair = 0): ConvGeom {
  const [N, C, H, W] = xShape;
  const [K, , R, S] = wShape;
  const [sh, sw] = pair(stride, 1);
  const [ph, pw] = pair(padding, 0);
  const P = Math.floor((H + 2 * ph - R) / sh) + 1;
  const Q = Math.floor((W + 2 * pw - S) / sw) + 1;
  return { N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q };
}

// Calls visit(yi, xi, wi) for every tap of the convolution g — y[n,k,p,q] gets
// x[n,c,p·sh−ph+r, q·sw−pw+s] · w[k,c,r,s] — in the order n, k, p, q, c, r, s. The three
// references below are this one loop with three accumulations.
function forEachConvTap(g: ConvGeom, visit: (yi: number, xi: number, wi: number) => void): void {
  const { N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q } = g;
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      for (let p = 0; p < P; p++)
        for (let q = 0; q < Q; q++) {
          const yi = ((n * K + k) * P + p) * Q + q;
          for (let c = 0; c < C; c++)
            for (let r = 0; r < R; r++) {
              const h = p * sh - ph + r;
              if (h < 0 || h >= H) continue;
              for (let t = 0; t < S; t++) {
                const ww = q * sw - pw + t;
                if (ww < 0 || ww >= W) continue;
                visit(yi, ((n * C + c) * H + h) * W + ww, ((k * C + c) * R + r) * S + t);
              }
            }
        }
}

// y[n,k,p,q] = Σ_{c,r,s} x[n,c,p·sh−ph+r, q·sw−pw+s] · w[k,c,r,s] (+ b[k])
export function refConv2d(x: Float64Array, w: Float64Array, b: Float64Array | null, g: ConvGeom): Float64Array {
  const { N, K, P, Q } = g;
  const y = new Float64Array(N * K * P * Q);
  if (b) for (let i = 0; i < y.length; i++) y[i] = b[Math.floor(i / (P * Q)) % K];
  forEachConvTap(g, (yi, xi, wi) => {
    y[yi] += x[xi] * w[wi];
  });
  return y;
}

// dx = adjoint of x ↦ conv(x, w) applied to dy.
export function refConv2dBackwardData(dy: Float64Array, w: Float64Array, g: ConvGeom): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  forEachConvTap(g, (yi, xi, wi) => {
    dx[xi] += dy[yi] * w[wi];
  });
  return dx;
}

// dw = adjoint of w ↦ conv(x, w) applied to dy.
export function refConv2dBackwardFilter(dy: Float64Array, x: Float64Array, g: ConvGeom): Float64Array {
  const dw = new Float64Array(g.K * g.C * g.R * g.S);
  forEachConvTap(g, (yi, xi, wi) => {
    dw[wi] += dy[yi] * x[xi];
  });
  return dw;
}

// --- pooling ----------------------------------------------------------------------------------------
export interface PoolGeom {
  N: number; C: number; H: number; W: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number;
  P: number; Q: number;
}

export function poolGeom(xShape: readonly number[], kernel: number | Pair, stride?: number | Pair, padding?: number | Pair): PoolGeom {
  const [N, C, H, W] = xShape;
  const [kh, kw] = pair(kernel, 0);
  const [sh, sw] = stride === undefined ? [kh, kw] : pair(stride, 1);
  const [ph, pw] = pair(padding, 0);
  const P = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const Q = Math.floor((W + 2 * pw - kw) / sw) + 1;
  return { N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q };
}

// Max over the valid positions of each window (padding is never chosen); the first maximum
// in row-major window order wins ties; NaN wins over everything (propagates).
export function refMaxPool2d(x: Float64Array, g: PoolGeom): { y: Float64Array; argmax: Int32Array } {
  const { N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q } = g;
  const y = new Float64Array(N * C * P * Q);
  const argmax = new Int32Array(N * C * P * Q);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const base = (n * C + c) * H * W;
      for (let p = 0; p < P; p++)
        for (let q = 0; q < Q; q++) {
          let best = -Infinity, bestIdx = -1;
          for (let r = 0; r < kh; r++) {
            const h = p * sh - ph + r;
            if (h < 0 || h >= H) continue;
            for (let t = 0; t < kw; t++) {
              const w = q * sw - pw + t;
              if (w < 0 || w >= W) continue;
              const v = x[base + h * W + w];
              if (bestIdx < 0 || v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
                best = v;
                bestIdx = h * W + w;
              }
            }
          }
          const o = ((n * C + c) * P + p) * Q + q;
          y[o] = best;
          argmax[o] = bestIdx;
        }
    }
  return { y, argmax };
}

export function refMaxPool2dBackward(dy: Float64Array, argmax: Int32Array, g: PoolGeom): Float64Array {
  const { N, C, H, W, P, Q } = g;
  const dx = new Float64Array(N * C * H * W);
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < P * Q; i++) dx[nc * H * W + argmax[nc * P * Q + i]] += dy[nc * P * Q + i];
  return dx;
}

export function refAvgPool2d(x: Float64Array, g: PoolGeom): Float64Array {
  const { N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q } = g;
  const y = new Float64Array(N * C * P * Q);
  for (let nc = 0; nc < N * C; nc++)
    for (let p = 0; p < P; p++)
      for (let q = 0; q < Q; q++) {
        let s = 0;
        for (let r = 0; r < kh; r++) {
          const h = p * sh - ph + r;
          if (h < 0 || h >= H) continue;
          for (let t = 0; t < kw; t++) {
            const w = q * sw - pw + t;
            if (w < 0 || w >= W) continue;
            s += x[nc * H * W + h * W + w];
          }
        }
        y[(nc * P + p) * Q + q] = s / (kh * kw);
      }
  return y;
}

export function refAvgPool2dBackward(dy: Float64Array, g: PoolGeom): Float64Array {
  const { N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q } = g;
  const dx = new Float64Array(N * C * H * W);
  for (let nc = 0; nc < N * C; nc++)
    for (let p = 0; p < P; p++)
      for (let q = 0; q < Q; q++) {
        const d = dy[(nc * P + p) * Q + q] / (kh * kw);
        for (let r = 0; r < kh; r++) {
          const h = p * sh - ph + r;
          if (h < 0 || h >= H) continue;
          for (let t = 0; t < kw; t++) {
            const w = q * sw - pw + t;
            if (w < 0 || w >= W) continue;
            dx[nc * H * W + h * W + w] += d;
          }
        }
      }
  return dx;
}

// The kernels' own order of operations, every operation rounded by `round` (Math.fround for
// float32, the identity for float64). native/core/cpu/pool.cpp and cuda/pool.cu share this
// order (cuda/pool.cu: "the same float32 summation order, so results are bit-identical"), so
// these give the kernels' exact bits. Rounding float32 operations computed in float64 once
// more to float32 is exact (53 ≥ 2·24 + 2: double rounding is innocuous for + and ×).

// The window sum in row-major order starting from 0, times 1/(kh·kw) rounded.
export function refAvgPool2dInOrder(x: Float64Array, g: PoolGeom, round: (v: number) => number): Float64Array {
  const { N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q } = g;
  const inv = round(1 / (kh * kw));
  const y = new Float64Array(N * C * P * Q);
  for (let nc = 0; nc < N * C; nc++)
    for (let p = 0; p < P; p++)
      for (let q = 0; q < Q; q++) {
        let s = 0;
        for (let r = 0; r < kh; r++) {
          const h = p * sh - ph + r;
          if (h < 0 || h >= H) continue;
          for (let t = 0; t < kw; t++) {
            const w = q * sw - pw + t;
            if (w < 0 || w >= W) continue;
            s = round(s + x[nc * H * W + h * W + w]);
          }
        }
        y[(nc * P + p) * Q + q] = round(s * inv);
      }
  return y;
}

// For each output in increasing index: dy·(1/(kh·kw)) rounded, added to its window's elements.
export function refAvgPool2dBackwardInOrder(dy: Float64Array, g: PoolGeom, round: (v: number) => number): Float64Array {
  const { N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q } = g;
  const inv = round(1 / (kh * kw));
  const dx = new Float64Array(N * C * H * W);
  for (let nc = 0; nc < N * C; nc++)
    for (let p = 0; p < P; p++)
      for (let q = 0; q < Q; q++) {
        const d = round(dy[(nc * P + p) * Q + q] * inv);
        for (let r = 0; r < kh; r++) {
          const h = p * sh - ph + r;
          if (h < 0 || h >= H) continue;
          for (let t = 0; t < kw; t++) {
            const w = q * sw - pw + t;
            if (w < 0 || w >= W) continue;
            const i = nc * H * W + h * W + w;
            dx[i] = round(dx[i] + d);
          }
        }
      }
  return dx;
}

// dy added to dx at the argmax positions in increasing output index, starting from 0.
export function refMaxPool2dBackwardInOrder(dy: Float64Array, argmax: Int32Array, g: PoolGeom, round: (v: number) => number): Float64Array {
  const { N, C, H, W, P, Q } = g;
  const dx = new Float64Array(N * C * H * W);
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < P * Q; i++) {
      const j = nc * H * W + argmax[nc * P * Q + i];
      dx[j] = round(dx[j] + dy[nc * P * Q + i]);
    }
  return dx;
}

// The R-operator of max pooling: R{y} = R{x} gathered at argmax (within each (n, c) plane).
export function refMaxPool2dJvp(rx: Float64Array, argmax: Int32Array, g: PoolGeom): Float64Array {
  const { H, W, P, Q } = g;
  return Float64Array.from(argmax, (a, i) => rx[Math.floor(i / (P * Q)) * H * W + a]);
}

// --- losses: z, y (N, K) ------------------------------------------------------------------------------
export function refSquaredLoss(z: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) s += (z[i] - y[i]) ** 2;
  return s;
}
export const refSquaredLossGradient = (z: Float64Array, y: Float64Array) => z.map((v, i) => 2 * (v - y[i]));
export const refSquaredLossHessianProduct = (u: Float64Array) => u.map((v) => 2 * v);

// Numerically stable row-wise softmax.
export function refSoftmax(z: Float64Array, N: number, K: number): Float64Array {
  const p = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, z[n * K + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(z[n * K + k] - m);
    for (let k = 0; k < K; k++) p[n * K + k] = Math.exp(z[n * K + k] - m) / s;
  }
  return p;
}

// −Σ_n Σ_k y_nk log softmax(z_n)_k, with log softmax = z − m − log Σ exp(z − m).
export function refSoftmaxCrossEntropy(z: Float64Array, y: Float64Array, N: number, K: number): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, z[n * K + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(z[n * K + k] - m);
    const lse = m + Math.log(s);
    for (let k = 0; k < K; k++) loss -= y[n * K + k] * (z[n * K + k] - lse);
  }
  return loss;
}
export function refSoftmaxCrossEntropyGradient(z: Float64Array, y: Float64Array, N: number, K: number): Float64Array {
  const p = refSoftmax(z, N, K);
  return p.map((v, i) => v - y[i]);
}
// Per row: p⊙u − p·(pᵀu).
export function refSoftmaxCrossEntropyHessianProduct(z: Float64Array, u: Float64Array, N: number, K: number): Float64Array {
  const p = refSoftmax(z, N, K);
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    let pu = 0;
    for (let k = 0; k < K; k++) pu += p[n * K + k] * u[n * K + k];
    for (let k = 0; k < K; k++) out[n * K + k] = p[n * K + k] * u[n * K + k] - p[n * K + k] * pu;
  }
  return out;
}

// --- Philox4x32-10, exactly as native/core/random.h (the documented stream layout) ------------------
// Math.imul and Math.floor held locally: looked up on the global Math of jest's sandbox each
// call they cost ~100 ns, which made this reference the slowest part of the random cases.
const imul = Math.imul;
const floor = Math.floor;
// 32×32 → 64-bit multiply, split into 16-bit halves so that every intermediate is exact in a double.
function mulhilo(a: number, b: number): [number, number] {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const loLo = aLo * bLo, hiLo = aHi * bLo, loHi = aLo * bHi, hiHi = aHi * bHi;
  const mid = hiLo + loHi + floor(loLo / 65536);
  const hi = (hiHi + floor(mid / 65536)) >>> 0;
  const lo = imul(a, b) >>> 0;
  return [lo, hi];
}

export function philox(seed: number, block: number): [number, number, number, number] {
  let c0 = block % 4294967296 >>> 0, c1 = floor(block / 4294967296) >>> 0, c2 = 0, c3 = 0;
  let k0 = seed % 4294967296 >>> 0, k1 = floor(seed / 4294967296) >>> 0;
  for (let round = 0; round < 10; round++) {
    const [lo0, hi0] = mulhilo(0xd2511f53, c0);
    const [lo1, hi1] = mulhilo(0xcd9e8d57, c2);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

const unit24 = (w: number) => (w >>> 8) / 16777216;
const unit53 = (hi: number, lo: number) => (hi * 2097152 + (lo >>> 11)) / 9007199254740992;
const boxMuller = (u1: number, u2: number) => Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);

export function refUniformUnit(dtype: 'float32' | 'float64', seed: number, j: number): number {
  if (dtype === 'float32') return unit24(philox(seed, floor(j / 4))[j % 4]);
  const b = philox(seed, floor(j / 2));
  const k = (j % 2) * 2;
  return unit53(b[k], b[k + 1]);
}

export function refNormalUnit(dtype: 'float32' | 'float64', seed: number, j: number): number {
  if (dtype === 'float32') {
    const b = philox(seed, floor(j / 2));
    const k = (j % 2) * 2;
    return boxMuller(1 - unit24(b[k]), unit24(b[k + 1]));
  }
  const b = philox(seed, j);
  return boxMuller(1 - unit53(b[0], b[1]), unit53(b[2], b[3]));
}
