// Network-level products on the last forward pass of a network (its cached batch S), written
// against modules alone through the graph executor (lib/nn/executor.ts): Jv (the R-operator
// pass), Jᵀu (a backward pass into a fresh θ-shaped tensor), the Gauss-Newton product
// (G_S + λI)v = (1/Cl + λ)v + (1/|S|) Jᵀ B J v and the exact Hessian product
// (∇²f_S)v = v/Cl + (1/|S|) R{∇θ Σ ξ} (forward-over-reverse): the Newton paper, section 3, and
// README.md, "Networks: modules in a graph".
//
// J is the Jacobian of the network output z (N, K) with respect to θ (P). None of the products
// touches network.gradient. With batch norm in training mode the batch statistics are
// functions of θ on the fixed batch S, and every pass differentiates through them, so G_S is
// one fixed symmetric positive semi-definite operator and H_S the exact Hessian of f on S.
//
// Gauss-Newton modes:
//   'rop'    each product is one R-operator pass (u = Jv), B (q = Bu/|S|) and one backward pass
//            (Jᵀq): about 1.3× the arithmetic of a forward+backward on S.
//   'stored' the per-sample Jacobians of S are computed once per forward pass (K backward passes
//            with per-sample parameter gradients) and kept in memory, |S|·K·P elements; then each
//            product is two GEMMs per module with parameters (u = Jv, Jᵀq) plus B. It needs
//            examples that are independent (refused with batch norm in training mode) and
//            modules that give per-sample gradients. The memory is estimated first and refused
//            above options.maxBytes (default 2 GiB).
//   Which is faster where is measured by `npm run bench -- newton` (see the README).
import { axpy, copy, gemm, scale } from '../ops';
import { describe } from '../errors';
import { Tensor } from '../tensor';
import { disposeTangents, type Tangents } from './executor';
import { checkLoss, type Loss } from './losses';
import type { ParameterViews } from './module';
import { disposeViews, type ForwardState, type Network } from './network';
import { fmtShape } from './shape-util';

/** How the Gauss-Newton product computes J: the R-operator each time, or stored per-sample Jacobians. */
export type GaussNewtonMode = 'rop' | 'stored';

/** Options of Network.gaussNewtonProduct. */
export interface GaussNewtonOptions {
  /** The loss ξ whose Hessian B (per sample, w.r.t. z) is the middle factor. */
  loss: Loss;
  /** The damping λ ≥ 0 (Levenberg-Marquardt). */
  lambda: number;
  /** The regularisation constant C > 0 (the paper's C, f has ‖θ‖²/(2·C·l)). */
  C: number;
  /** l, the number of training examples (Cl = C·l). */
  trainSize: number;
  /** 'rop' (default) or 'stored'. */
  mode?: GaussNewtonMode;
  /** For mode 'stored': the memory limit of the stored Jacobian in bytes (default 2 GiB). */
  maxBytes?: number;
  /**
   * |S|, what JᵀBJv is divided by (default: the batch of the last forward pass). A data-parallel
   * job passes the whole subsample's size: each process holds its share of S.
   */
  subsampleSize?: number;
  /**
   * Sums the data term JᵀBJv/|S| over the processes of a data-parallel job, in place, before
   * the damping (1/Cl + λ)v is added (Distributed.allReduceSum); default: this process only.
   */
  reduce?: (t: Tensor) => void;
}

/** Options of Network.hessianProduct. */
export interface HessianOptions {
  /** The loss ξ. */
  loss: Loss;
  /** Targets of the last forward pass's batch, (N, outputSize), the network's dtype and device. */
  y: Tensor;
  /** The regularisation constant C > 0. */
  C: number;
  /** l, the number of training examples (Cl = C·l). */
  trainSize: number;
}

/** Options of Network.prepareStoredJacobian. */
export interface StoredJacobianOptions {
  /** Refuse (RangeError) when the Jacobian would need more bytes than this (default 2 GiB). */
  maxBytes?: number;
}

/** What prepareStoredJacobian stored. */
export interface StoredJacobianInfo {
  /** |S|, the batch size of the forward pass it belongs to. */
  readonly samples: number;
  /** K, the network's output size. */
  readonly outputs: number;
  /** P, the number of parameters. */
  readonly parameters: number;
  /** |S|·K·P·(4 or 8): bytes of the stored Jacobian. */
  readonly bytes: number;
}

/** The default memory limit of the stored Jacobian: 2 GiB. */
export const DEFAULT_STORED_JACOBIAN_BYTES = 2 * 1024 ** 3;

// --- argument checks --------------------------------------------------------------------------

function stateOf(net: Network, fn: string): ForwardState {
  if (net.disposed) throw new Error(`${fn}: the network is disposed`);
  const st = net.forwardState();
  if (st === null) throw new Error(`${fn}: no forward pass to differentiate (call forward on the batch S first)`);
  return st;
}

function checkTensor(net: Network, fn: string, arg: string, t: unknown, shape: readonly number[]): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${fn}: ${arg} must be a Tensor, got ${describe(t)}`);
  if (t.disposed) throw new Error(`${fn}: ${arg}: tensor is disposed`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${fn}: ${arg} has shape ${fmtShape(t.shape)} but must have shape ${fmtShape(shape)}`);
  }
  if (t.dtype !== net.dtype) throw new RangeError(`${fn}: ${arg} has dtype ${t.dtype} but the network has ${net.dtype}`);
  if (t.device !== net.device) throw new RangeError(`${fn}: ${arg} is on ${t.device} but the network is on ${net.device}`);
  return t;
}

function checkParameterVector(net: Network, fn: string, v: unknown): Tensor {
  return checkTensor(net, fn, 'v', v, [net.numParameters]);
}

function checkOptionsObject(fn: string, options: unknown): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  }
  return options as Record<string, unknown>;
}

function checkCl(fn: string, o: Record<string, unknown>): number {
  const C = o.C;
  if (typeof C !== 'number' || !Number.isFinite(C) || C <= 0) throw new RangeError(`${fn}: options.C must be a finite number > 0, got ${String(C)}`);
  const l = o.trainSize;
  if (typeof l !== 'number' || !Number.isInteger(l) || l < 1) {
    throw new RangeError(`${fn}: options.trainSize must be a positive integer (the number of training examples l), got ${String(l)}`);
  }
  return C * l;
}

function checkMaxBytes(fn: string, value: unknown): number {
  if (value === undefined) return DEFAULT_STORED_JACOBIAN_BYTES;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new RangeError(`${fn}: options.maxBytes must be a number > 0, got ${String(value)}`);
  }
  return value;
}

function zerosLike(net: Network, shape: readonly number[]): Tensor {
  return Tensor.zeros(shape, { dtype: net.dtype, device: net.device });
}

// --- Jv and Jᵀu ---------------------------------------------------------------------------------

/** Jv (N, K) for v (P) on the batch: the R-operator pass (zeros for a network without parameters). */
function rop(net: Network, st: ForwardState, v: Tensor): Tensor {
  const views = net.parameterViews(v);
  try {
    const { rz } = net.graph.jvp(views, false);
    return rz ?? zerosLike(net, [st.batchSize, net.outputSize]);
  } finally {
    disposeViews(views);
  }
}

/** Jv (N, outputSize) for v (P) on the last forward pass's batch. See Network.jvp. */
export function networkJvp(net: Network, v: Tensor): Tensor {
  const fn = `${net.kind}.jvp`;
  const st = stateOf(net, fn);
  checkParameterVector(net, fn, v);
  return rop(net, st, v);
}

/** Jᵀu into `out` (P, overwritten where there are parameters; zero it first) for u (N, K). */
function vjpInto(net: Network, u: Tensor, out: Tensor): void {
  const views = net.parameterViews(out);
  try {
    const dx = net.graph.vjp(u, { params: (i) => views[i], inputGradient: false });
    dx?.dispose();
  } finally {
    disposeViews(views);
  }
}

/** Jᵀu (P) for u (N, outputSize) on the last forward pass's batch. See Network.vjp. */
export function networkVjp(net: Network, u: Tensor): Tensor {
  const fn = `${net.kind}.vjp`;
  const st = stateOf(net, fn);
  checkTensor(net, fn, 'u', u, [st.batchSize, net.outputSize]);
  const out = zerosLike(net, [net.numParameters]);
  try {
    vjpInto(net, u, out);
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}

// --- Gauss-Newton product ------------------------------------------------------------------------

/** (G_S + λI)v; see Network.gaussNewtonProduct. */
export function gaussNewtonProduct(net: Network, v: Tensor, options: GaussNewtonOptions): Tensor {
  const fn = `${net.kind}.gaussNewtonProduct`;
  const o = checkOptionsObject(fn, options);
  const loss = checkLoss(fn, o.loss);
  const lambda = o.lambda;
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0) {
    throw new RangeError(`${fn}: options.lambda must be a finite number ≥ 0, got ${String(lambda)}`);
  }
  const Cl = checkCl(fn, o);
  const mode = o.mode ?? 'rop';
  if (mode !== 'rop' && mode !== 'stored') throw new RangeError(`${fn}: options.mode must be 'rop' or 'stored', got ${String(mode)}`);
  const maxBytes = checkMaxBytes(fn, o.maxBytes);
  const st = stateOf(net, fn);
  checkParameterVector(net, fn, v);
  const n = o.subsampleSize ?? st.batchSize;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < st.batchSize) {
    throw new RangeError(`${fn}: options.subsampleSize must be an integer ≥ the batch of the last forward pass (${st.batchSize}), got ${describe(o.subsampleSize)}`);
  }
  const reduce = o.reduce;
  if (reduce !== undefined && typeof reduce !== 'function') throw new TypeError(`${fn}: options.reduce must be a function (t: Tensor) => void, got ${describe(reduce)}`);

  let out: Tensor;
  if (mode === 'stored') {
    const stored = ensureStored(net, st, fn, maxBytes);
    out = storedProduct(net, stored, st, loss, v, n);
  } else {
    out = gaussNewtonRop(net, st, loss, v, n);
  }
  try {
    (reduce as ((t: Tensor) => void) | undefined)?.(out);
  } catch (e) {
    out.dispose();
    throw e;
  }
  axpy(out, 1 / Cl + lambda, v);
  return out;
}

/** Jᵀ B J v / |S| by the R-operator (a new (P) tensor). */
function gaussNewtonRop(net: Network, st: ForwardState, loss: Loss, v: Tensor, n: number): Tensor {
  const u = rop(net, st, v); // Jv (N, K)
  const bu = loss.hessianProduct(st.output, u); // B·Jv (N, K)
  u.dispose();
  const q = scale(bu, 1 / n);
  bu.dispose();
  const out = zerosLike(net, [net.numParameters]);
  try {
    vjpInto(net, q, out); // Jᵀ B J v / |S|
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    q.dispose();
  }
  return out;
}

// --- stored per-sample Jacobians ---------------------------------------------------------------------

interface StoredBlock {
  /** The node. */
  readonly node: number;
  /** Offset of its parameters in θ (they are contiguous). */
  readonly offset: number;
  /** P_m, its parameter count. */
  readonly size: number;
  /** Offset of its block J_m ((K·N, P_m), row k·N + i = ∂z_ik/∂θ_m) in the stored buffer. */
  readonly jOffset: number;
}

interface Stored {
  readonly pass: number;
  readonly n: number;
  readonly k: number;
  readonly buffer: Tensor;
  readonly blocks: readonly StoredBlock[];
  /** I_K, to transpose (K, N) ↔ (N, K) with a GEMM. */
  readonly identity: Tensor;
}

const storedJacobians = new WeakMap<Network, Stored>();

/** Frees the stored Jacobian of `net`, if any. */
export function disposeStoredJacobian(net: Network): void {
  const s = storedJacobians.get(net);
  if (s === undefined) return;
  s.buffer.dispose();
  s.identity.dispose();
  storedJacobians.delete(net);
}

function dtypeSize(net: Network): number {
  return net.dtype === 'float64' ? 8 : 4;
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Why the stored mode cannot run on `net`, or null. */
function storedRefusal(net: Network): string | null {
  for (const m of net.built) {
    if (!m.perSample()) {
      return `layer ${m.info.index} (${m.info.kind}) mixes the examples of a batch (batch norm in training mode), so there are no per-sample Jacobians; use mode 'rop'`;
    }
    if (m.info.parameterCount > 0 && m.sampleParameterGradient === undefined) {
      return `layer ${m.info.index} (${m.info.kind}) has no per-sample parameter gradient; use mode 'rop'`;
    }
  }
  return null;
}

function ensureStored(net: Network, st: ForwardState, fn: string, maxBytes: number): Stored {
  const existing = storedJacobians.get(net);
  if (existing !== undefined && existing.pass === st.pass) return existing;
  disposeStoredJacobian(net);
  const refusal = storedRefusal(net);
  if (refusal !== null) throw new RangeError(`${fn}: the stored-Jacobian mode cannot run on this network: ${refusal}`);
  const n = st.batchSize;
  const K = net.outputSize;
  const P = net.numParameters;
  const bytes = n * K * P * dtypeSize(net);
  if (bytes > maxBytes) {
    throw new RangeError(
      `${fn}: the stored Jacobian of |S| = ${n} samples × ${K} outputs × ${P} parameters (${net.dtype}) needs ${bytes} bytes (${gib(bytes)}), above the limit options.maxBytes = ${maxBytes} (${gib(maxBytes)}); use mode 'rop' or a smaller subsample`,
    );
  }
  const blocks: StoredBlock[] = [];
  let jOffset = 0;
  for (const m of net.built) {
    const size = m.info.parameterCount;
    if (size === 0) continue;
    blocks.push({ node: m.info.index, offset: m.info.parameters[0].offset, size, jOffset });
    jOffset += n * K * size;
  }
  const buffer = zerosLike(net, [Math.max(jOffset, 1)]);
  const eye = new Float64Array(K * K);
  for (let k = 0; k < K; k++) eye[k * K + k] = 1;
  const identity = Tensor.from(net.dtype === 'float64' ? eye : Float32Array.from(eye), { shape: [K, K], dtype: net.dtype, device: net.device });
  const stored: Stored = { pass: st.pass, n, k: K, buffer, blocks, identity };
  try {
    fillJacobian(net, stored);
  } catch (e) {
    buffer.dispose();
    identity.dispose();
    throw e;
  }
  storedJacobians.set(net, stored);
  return stored;
}

/** prepareStoredJacobian; see Network.prepareStoredJacobian. */
export function prepareStoredJacobian(net: Network, options?: StoredJacobianOptions): StoredJacobianInfo {
  const fn = `${net.kind}.prepareStoredJacobian`;
  const o = options === undefined ? {} : checkOptionsObject(fn, options);
  const maxBytes = checkMaxBytes(fn, o.maxBytes);
  const st = stateOf(net, fn);
  const s = ensureStored(net, st, fn, maxBytes);
  return Object.freeze({ samples: s.n, outputs: s.k, parameters: net.numParameters, bytes: s.n * s.k * net.numParameters * dtypeSize(net) });
}

/**
 * Fills J: for each class k, one backward pass of dz = e_k (every sample) through the cached
 * network; at each module with parameters, the per-sample parameter gradients of that pass are
 * the rows ∂z_ik/∂θ_m (i = 0…N−1) of the block J_m.
 */
function fillJacobian(net: Network, s: Stored): void {
  const { n, k: K } = s;
  const blockOf = new Map(s.blocks.map((b) => [b.node, b]));
  for (let k = 0; k < K; k++) {
    const host = new Float64Array(n * K);
    for (let i = 0; i < n; i++) host[i * K + k] = 1;
    const dz = Tensor.from(net.dtype === 'float64' ? host : Float32Array.from(host), { shape: [n, K], dtype: net.dtype, device: net.device });
    try {
      const dx = net.graph.vjp(dz, {
        params: () => false,
        visit: (node, xs, dys) => perSampleGradients(net, xs, dys, node, blockOf.get(node)!, k, s),
        inputGradient: false,
      });
      dx?.dispose();
    } finally {
      dz.dispose();
    }
  }
}

/** Writes the per-sample gradients of one backward pass (class k) of a module into J. */
function perSampleGradients(net: Network, xs: readonly Tensor[], dys: readonly (Tensor | null)[], node: number, block: StoredBlock, k: number, s: Stored): void {
  const n = s.n;
  const module = net.built[node];
  const slots = module.info.parameters;
  const example = (t: Tensor, i: number) => t.view(i * (t.size / n), [1, ...t.shape.slice(1)]);
  for (let i = 0; i < n; i++) {
    const row = block.jOffset + (k * n + i) * block.size;
    const xi = xs.map((x) => example(x, i));
    const dyi = dys.map((dy) => (dy === null ? null : example(dy, i)));
    const out: Record<string, Tensor> = {};
    for (const p of slots) out[p.name] = s.buffer.view(row + (p.offset - block.offset), p.shape);
    try {
      module.sampleParameterGradient!(xi, dys.length > 1 ? dyi : dyi[0]!, out as ParameterViews);
    } finally {
      for (const t of [...xi, ...dyi, ...Object.values(out)]) t?.dispose();
    }
  }
}

/** (1/|S|) Jᵀ B J v with the stored J: two GEMMs per module with parameters. */
function storedProduct(net: Network, s: Stored, st: ForwardState, loss: Loss, v: Tensor, subsampleSize: number): Tensor {
  const { n, k: K } = s;
  // u = Jv as (K·N, 1), row k·N + i.
  let acc: Tensor | null = null;
  for (const b of s.blocks) {
    const Jm = s.buffer.view(b.jOffset, [K * n, b.size]);
    const vm = v.view(b.offset, [b.size, 1]);
    const next: Tensor = gemm(Jm, vm, acc === null ? undefined : { c: acc });
    acc?.dispose();
    acc = next;
    Jm.dispose();
    vm.dispose();
  }
  const out = zerosLike(net, [net.numParameters]);
  if (acc === null) return out;
  const uKN = acc.reshape([K, n]);
  acc.dispose();
  const u = gemm(uKN, s.identity, { transA: true }); // (N, K)
  uKN.dispose();
  const bu = loss.hessianProduct(st.output, u);
  u.dispose();
  const qKN = gemm(s.identity, bu, { transB: true, alpha: 1 / subsampleSize }); // (K, N) = Bᵀu/|S| transposed
  bu.dispose();
  const q = qKN.reshape([K * n, 1]);
  qKN.dispose();
  try {
    for (const b of s.blocks) {
      const Jm = s.buffer.view(b.jOffset, [K * n, b.size]);
      const g = gemm(Jm, q, { transA: true }); // (P_m, 1)
      const dst = out.view(b.offset, [b.size, 1]);
      copy(dst, g);
      g.dispose();
      dst.dispose();
      Jm.dispose();
    }
  } finally {
    q.dispose();
  }
  return out;
}

// --- exact Hessian product -----------------------------------------------------------------------------

/** (∇²f_S)v; see Network.hessianProduct. */
export function hessianProduct(net: Network, v: Tensor, options: HessianOptions): Tensor {
  const fn = `${net.kind}.hessianProduct`;
  const o = checkOptionsObject(fn, options);
  const loss = checkLoss(fn, o.loss);
  const Cl = checkCl(fn, o);
  const st = stateOf(net, fn);
  checkParameterVector(net, fn, v);
  const y = checkTensor(net, fn, 'options.y', o.y, [st.batchSize, net.outputSize]);
  const result = lossHessianProduct(net, st, loss, y, v); // (1/|S|) R{∇θ Σξ}
  axpy(result, 1 / Cl, v);
  return result;
}

/** (1/|S|) R{∇θ Σξ}: the Hessian of the mean loss on S times v, forward-over-reverse (a new (P) tensor). */
function lossHessianProduct(net: Network, st: ForwardState, loss: Loss, y: Tensor, v: Tensor): Tensor {
  const n = st.batchSize;
  const out = zerosLike(net, [net.numParameters]);
  const views = net.parameterViews(v);
  const outViews = net.parameterViews(out);
  let tangents: Tangents = [];
  let dz: Tensor | null = null;
  let rdz: Tensor | null = null;
  try {
    const r = net.graph.jvp(views, true);
    tangents = r.tangents;
    if (r.rz !== null) {
      dz = loss.gradient(st.output, y); // ∂Σξ/∂z (N, K)
      rdz = loss.hessianProduct(st.output, r.rz); // R{dz} = B·Jv
      net.graph.vjpJvp(dz, rdz, tangents, views, outViews);
    }
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    dz?.dispose();
    rdz?.dispose();
    disposeTangents(tangents);
    disposeViews(views);
    disposeViews(outViews);
  }
  const result = scale(out, 1 / n);
  out.dispose();
  return result;
}

/** Which curvature lossCurvatureProduct computes. */
export type CurvatureKind = 'hessian' | 'gauss-newton';

/**
 * The curvature of the MEAN LOSS on the last forward pass's batch S, without regularisation:
 * (1/|S|) Σ_i ∇²ξ_i · v ('hessian', exact, forward-over-reverse) or (1/|S|) Σ_i J_iᵀ B_i J_i · v
 * ('gauss-newton', R-operator). y: the batch's targets (used by 'hessian'). A new (P) tensor.
 * What lib/analysis builds its operators from.
 */
export function lossCurvatureProduct(net: Network, kind: CurvatureKind, loss: Loss, y: Tensor, v: Tensor): Tensor {
  const fn = `${net.kind}.lossCurvatureProduct`;
  const st = stateOf(net, fn);
  checkParameterVector(net, fn, v);
  checkTensor(net, fn, 'y', y, [st.batchSize, net.outputSize]);
  return kind === 'hessian' ? lossHessianProduct(net, st, loss, y, v) : gaussNewtonRop(net, st, loss, v, st.batchSize);
}
