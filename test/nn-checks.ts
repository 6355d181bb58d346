// Derivative checks of a network in float64 on the CPU, shared by the module, block and network
// tests: checkAll(problem) compares every pass of a network against central finite differences
// and the identities the products must satisfy (note in test/nn.modules.test.ts).
//
// Tolerances: central differences in float64 with h = 1e-5 have truncation error O(h²) ≈ 1e-10
// and rounding O(ε·|f|/h) ≈ 1e-10; the data are generic (no ReLU kink within h). Identities that
// hold exactly in exact arithmetic (adjoint, symmetry) are checked to 1e-9 relative.
import { dot, Tensor } from '../lib';
import * as nn from '../lib/nn';
import { expectClose, expectThrow, f64, prng, randData } from './helpers';

export type Mode = 'train' | 'inference';

export function t64(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  return Tensor.from(Float64Array.from(data), { shape, dtype: 'float64' });
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function randVec(n: number, seed: number, scale = 1): Tensor {
  return t64(randData(n, seed, scale), [n]);
}

export function oneHot(n: number, k: number, seed: number): Tensor {
  const r = prng(seed);
  const y = new Float64Array(n * k);
  for (let i = 0; i < n; i++) y[i * k + Math.floor(r() * k)] = 1;
  return t64(y, [n, k]);
}

export function dotArr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Non-trivial values for what init leaves constant: biases, batch-norm γ, β and running statistics. */
export function perturbConstants(net: nn.Network, seed: number): void {
  const r = prng(seed);
  const theta = f64(net.parameters);
  for (const info of net.layers()) {
    for (const p of info.parameters) {
      if (p.init === 'fan') continue;
      for (let i = 0; i < p.size; i++) {
        theta[p.offset + i] = p.init === 'ones' ? 0.6 + 0.8 * r() : p.init === 'zeros' ? 0.6 * r() - 0.3 : theta[p.offset + i] * (0.8 + 0.4 * r());
      }
    }
  }
  net.setParameters(theta);
  const buffers = f64(net.buffers);
  for (const info of net.layers()) {
    for (const b of info.buffers) {
      for (let i = 0; i < b.size; i++) buffers[b.offset + i] = b.name === 'runningVar' ? 0.5 + 1.5 * r() : r() - 0.5;
    }
  }
  net.setBuffers(buffers);
}

export function forwardOptions(mode: Mode): nn.ForwardOptions {
  return mode === 'train' ? { batchStatistics: true } : {};
}

/** θ ← θ + h·v while fn runs, restored after. */
function withTheta<T>(net: nn.Network, v: Float64Array, h: number, fn: () => T): T {
  const theta = f64(net.parameters);
  try {
    net.setParameters(theta.map((t, i) => t + h * v[i]));
    return fn();
  } finally {
    net.setParameters(theta);
  }
}

export interface Problem {
  readonly net: nn.Network;
  readonly x: Tensor;
  readonly y: Tensor;
  readonly loss: nn.Loss;
  readonly mode: Mode;
}

/** f = Σ_i ξ(z_i, y_i) at input values `xv` (the problem's x by default). */
function objective(p: Problem, xv?: Float64Array): number {
  const x = xv === undefined ? p.x : t64(xv, p.x.shape);
  const z = p.net.forward(x, forwardOptions(p.mode));
  const f = p.loss.value(z, p.y);
  z.dispose();
  if (x !== p.x) x.dispose();
  p.net.releaseCache();
  return f;
}

function outputAt(p: Problem): Float64Array {
  const z = p.net.forward(p.x, forwardOptions(p.mode));
  const a = f64(z);
  z.dispose();
  p.net.releaseCache();
  return a;
}

export const C = 0.01;
export const trainSize = 500;
const Cl = C * trainSize;
const h = 1e-5;
const fdTol = { rtol: 1e-6, atol: 1e-8 };
const exactTol = { rtol: 1e-9, atol: 1e-11 };

/** ∇f/N + θ/Cl at the current θ: the gradient whose derivative Hv is. */
function regularisedGradient(p: Problem): Float64Array {
  const z = p.net.forward(p.x, forwardOptions(p.mode));
  const dz = p.loss.gradient(z, p.y);
  p.net.backward(dz);
  const g = f64(p.net.gradient);
  const theta = f64(p.net.parameters);
  z.dispose();
  dz.dispose();
  p.net.releaseCache();
  const N = p.x.shape[0];
  return g.map((gi, i) => gi / N + theta[i] / Cl);
}

/** Every check of the header on one network and mode: the exact passes first, then finite differences. */
export function checkAll(p: Problem): void {
  const { net, x, y, loss, mode } = p;
  const N = x.shape[0];
  const P = net.numParameters;
  const K = net.outputSize;
  const opts = forwardOptions(mode);
  const buffersBefore = f64(net.buffers);

  // The exact passes, all on one forward pass.
  const z = net.forward(x, opts);
  expect(net.perSample()).toBe(mode === 'inference' || !net.layers().some((m) => m.kind === 'batchNorm2d'));
  const dz = loss.gradient(z, y);
  const dx = net.backward(dz, { inputGradient: true })!;
  const grad = f64(net.gradient);
  const gradX = f64(dx);
  const v = randVec(P, 101, 0.5);
  const w = randVec(P, 102, 0.5);
  const u = randVec(N * K, 103).reshape([N, K]);
  const jv = net.jvp(v);
  const jtu = net.vjp(u);
  expectClose(dot(u, jv), dot(jtu, v), exactTol, 'adjoint ⟨u, Jv⟩ = ⟨Jᵀu, v⟩');
  const gnOpts = { loss, lambda: 0.3, C, trainSize };
  const gv = net.gaussNewtonProduct(v, gnOpts);
  const gw = net.gaussNewtonProduct(w, gnOpts);
  expectClose(dot(w, gv), dot(v, gw), exactTol, 'Gv symmetric');
  // Gv from its parts: (1/Cl + λ)v + Jᵀ(B·Jv)/N.
  const bjv = loss.hessianProduct(z, jv);
  const jtbjv = net.vjp(bjv);
  const vv = f64(v);
  const parts = f64(jtbjv).map((a, i) => a / N + (1 / Cl + 0.3) * vv[i]);
  expectClose(f64(gv), parts, exactTol, 'Gv = (1/Cl + λ)v + JᵀBJv/N');
  for (let s = 0; s < 3; s++) {
    const r = randVec(P, 110 + s);
    const g0 = net.gaussNewtonProduct(r, { loss, lambda: 0, C: 1e300, trainSize });
    expect(dot(r, g0)).toBeGreaterThanOrEqual(-1e-12 * dot(r, r));
    r.dispose();
    g0.dispose();
  }
  if (net.perSample()) {
    const gs = net.gaussNewtonProduct(v, { ...gnOpts, mode: 'stored' });
    expectClose(f64(gs), f64(gv), exactTol, 'stored Gv = rop Gv');
    gs.dispose();
  } else {
    expectThrow(() => net.gaussNewtonProduct(v, { ...gnOpts, mode: 'stored' }), 'RangeError', /stored-Jacobian mode cannot run.*batch norm in training mode/);
  }
  const hv = net.hessianProduct(v, { loss, y, C, trainSize });
  const hw = net.hessianProduct(w, { loss, y, C, trainSize });
  expectClose(dot(w, hv), dot(v, hw), exactTol, 'Hv symmetric');
  const jvArr = f64(jv);
  const hvArr = f64(hv);
  // No product touched the running statistics or θ's gradient.
  expect(f64(net.buffers)).toEqual(buffersBefore);
  expect(f64(net.gradient)).toEqual(grad);
  for (const t of [z, dz, dx, w, u, jv, jtu, gv, gw, bjv, jtbjv, hv, hw]) t.dispose();

  // Finite differences.
  const f = (s: number, dir: Float64Array) => withTheta(net, dir, s * h, () => objective(p));
  if (P <= 160) {
    const fdGrad = new Float64Array(P);
    for (let j = 0; j < P; j++) {
      const e = new Float64Array(P);
      e[j] = 1;
      fdGrad[j] = (f(1, e) - f(-1, e)) / (2 * h);
    }
    expectClose(grad, fdGrad, fdTol, '∇θ f vs central differences');
  }
  for (let s = 0; s < 2; s++) {
    const dir = randData(P, 120 + s);
    expectClose(dotArr(grad, dir), (f(1, dir) - f(-1, dir)) / (2 * h), fdTol, '⟨∇θ f, v⟩ vs central difference');
  }
  const xv = f64(x);
  for (let s = 0; s < 2; s++) {
    const rx = randData(xv.length, 130 + s);
    const fp = objective(p, xv.map((a, i) => a + h * rx[i]));
    const fm = objective(p, xv.map((a, i) => a - h * rx[i]));
    expectClose(dotArr(gradX, rx), (fp - fm) / (2 * h), fdTol, '⟨∇x f, r⟩ vs central difference');
  }
  const zp = withTheta(net, vv, h, () => outputAt(p));
  const zm = withTheta(net, vv, -h, () => outputAt(p));
  expectClose(jvArr, zp.map((a, i) => (a - zm[i]) / (2 * h)), fdTol, 'Jv vs central differences');
  const gp = withTheta(net, vv, h, () => regularisedGradient(p));
  const gm = withTheta(net, vv, -h, () => regularisedGradient(p));
  expectClose(hvArr, gp.map((a, i) => (a - gm[i]) / (2 * h)), { rtol: 1e-5, atol: 1e-7 }, 'Hv vs central differences of ∇f');
  expect(f64(net.buffers)).toEqual(buffersBefore);
  v.dispose();
}

/** Every pass of a network at one point, as float64 arrays (for comparing two builds of one function). */
export interface Passes {
  z: Float64Array;
  grad: Float64Array;
  dx: Float64Array;
  jv: Float64Array;
  jtu: Float64Array;
  gv: Float64Array;
  hv: Float64Array;
}

/** z, ∇θ, ∇x, Jv, Jᵀu, Gv and Hv of `net` at x, y (cross-entropy), all from one forward pass in `mode`. */
export function passes(net: nn.Network, x: Tensor, y: Tensor, mode: Mode = 'inference'): Passes {
  const P = net.numParameters;
  const v = Tensor.from(Float64Array.from(randData(P, 31, 0.5)), { dtype: net.dtype });
  const u = Tensor.from(Float64Array.from(randData(x.shape[0] * net.outputSize, 32)), { shape: [x.shape[0], net.outputSize], dtype: net.dtype });
  const z = net.forward(x, forwardOptions(mode));
  const dz = nn.crossEntropyLoss.gradient(z, y);
  const dx = net.backward(dz, { inputGradient: true })!;
  const opts = { loss: nn.crossEntropyLoss, C: 0.01, trainSize: 100 };
  const jv = net.jvp(v);
  const jtu = net.vjp(u);
  const gv = net.gaussNewtonProduct(v, { ...opts, lambda: 0.1 });
  const hv = net.hessianProduct(v, { ...opts, y });
  const out = { z: f64(z), grad: f64(net.gradient), dx: f64(dx), jv: f64(jv), jtu: f64(jtu), gv: f64(gv), hv: f64(hv) };
  for (const t of [v, u, z, dz, dx, jv, jtu, gv, hv]) t.dispose();
  net.releaseCache();
  return out;
}
