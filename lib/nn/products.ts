// Network-level products on the last forward pass of a Sequential (its cached batch S):
//   Jv (R-operator pass), Jᵀu (backward into a fresh θ-shaped tensor), the Gauss-Newton
//   product (G_S + λI)v = (1/Cl + λ)v + (1/|S|) Jᵀ B J v and the exact Hessian product
//   (∇²f_S)v = v/Cl + (1/|S|) R{∇θ Σ ξ} (forward-over-reverse). DESIGN.md, "Losses and the
//   Gauss-Newton product"; the Newton paper, section 3.
//
// J is the Jacobian of the network output z (N, K) with respect to θ (P), per sample: J_i is
// (K, P). None of the products touches model.gradient.
//
// Gauss-Newton modes:
//   'rop'    each product is one R-operator pass (u = Jv), B (q = Bu/|S|) and one backward pass
//            (Jᵀq): about 1.3× the arithmetic of a forward+backward on S.
//   'stored' the per-sample Jacobians of S are computed once per forward pass (K backward passes
//            with per-sample parameter gradients) and kept in memory, |S|·K·P elements; then each
//            product is two GEMMs per parameter layer (u = Jv, Jᵀq) plus B. The memory is
//            estimated first and refused above options.maxBytes (default 2 GiB).
//   Which is faster where is measured by `npm run bench -- newton` (see the README).
import { axpy, conv2dBackwardBias, conv2dBackwardData, conv2dBackwardFilter, copy, gemm, scale } from '../ops';
import { describe } from '../errors';
import { Tensor } from '../tensor';
import { Conv2dLayer } from './impl/conv2d';
import { LinearLayer } from './impl/linear';
import type { Layer, ParameterTangent } from './layer';
import { checkLoss, type Loss } from './losses';
import type { Sequential } from './sequential';
import { fmtShape } from './shape-util';

/** How the Gauss-Newton product computes J: the R-operator each time, or stored per-sample Jacobians. */
export type GaussNewtonMode = 'rop' | 'stored';

/** Options of Sequential.gaussNewtonProduct. */
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
}

/** Options of Sequential.hessianProduct. */
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

/** Options of Sequential.prepareStoredJacobian. */
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

interface ForwardState {
  readonly activations: readonly Tensor[];
  readonly output: Tensor;
  readonly batchSize: number;
  readonly firstParameterLayer: number;
  readonly pass: number;
}

function stateOf(model: Sequential, fn: string): ForwardState {
  if (model.disposed) throw new Error(`${fn}: the network is disposed`);
  const st = model.forwardState();
  if (st === null) throw new Error(`${fn}: no forward pass to differentiate (call forward on the batch S first)`);
  return st;
}

function checkTensor(model: Sequential, fn: string, arg: string, t: unknown, shape: readonly number[]): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${fn}: ${arg} must be a Tensor, got ${describe(t)}`);
  if (t.disposed) throw new Error(`${fn}: ${arg}: tensor is disposed`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${fn}: ${arg} has shape ${fmtShape(t.shape)} but must have shape ${fmtShape(shape)}`);
  }
  if (t.dtype !== model.dtype) throw new RangeError(`${fn}: ${arg} has dtype ${t.dtype} but the network has ${model.dtype}`);
  if (t.device !== model.device) throw new RangeError(`${fn}: ${arg} is on ${t.device} but the network is on ${model.device}`);
  return t;
}

function checkParameterVector(model: Sequential, fn: string, v: unknown): Tensor {
  return checkTensor(model, fn, 'v', v, [model.numParameters]);
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

// --- tangent views --------------------------------------------------------------------------------

/** Views of the θ-shaped `t` at each layer's parameter slots (null for layers without parameters). */
function slotViews(model: Sequential, t: Tensor): (ParameterTangent | null)[] {
  return model.built.map((layer) => {
    const { weight, bias } = layer.info;
    if (weight === undefined && bias === undefined) return null;
    return {
      weight: weight ? t.view(weight.offset, weight.shape) : null,
      bias: bias ? t.view(bias.offset, bias.shape) : null,
    };
  });
}

function disposeViews(views: readonly (ParameterTangent | null)[]): void {
  for (const v of views) {
    v?.weight?.dispose();
    v?.bias?.dispose();
  }
}

// --- Jv and Jᵀu ---------------------------------------------------------------------------------

/**
 * The R-operator pass from the first parameter layer: R{x_i} for every layer i ≥ first (index i
 * of the result is layer i's input tangent; earlier entries null) and R{z} last. With `keep`
 * false only R{z} survives. Owned by the caller.
 */
function rPass(model: Sequential, st: ForwardState, views: readonly (ParameterTangent | null)[], keep: boolean): { inputs: (Tensor | null)[]; rz: Tensor } {
  const layers = model.built;
  const inputs: (Tensor | null)[] = layers.map(() => null);
  let r: Tensor | null = null;
  try {
    for (let i = Math.max(st.firstParameterLayer, 0); i < layers.length; i++) {
      if (keep) inputs[i] = r;
      const next = layers[i].jvp(r, views[i]);
      if (!keep) r?.dispose();
      r = next;
    }
  } catch (e) {
    if (!keep) r?.dispose();
    for (const t of inputs) t?.dispose();
    if (keep && r !== null && !inputs.includes(r)) r.dispose();
    throw e;
  }
  return { inputs, rz: r ?? Tensor.zeros([st.batchSize, model.outputSize], { dtype: model.dtype, device: model.device }) };
}

/** Jv (N, outputSize) for v (P) on the last forward pass's batch. See Sequential.jvp. */
export function networkJvp(model: Sequential, v: Tensor): Tensor {
  const fn = 'Sequential.jvp';
  const st = stateOf(model, fn);
  checkParameterVector(model, fn, v);
  const views = slotViews(model, v);
  try {
    return rPass(model, st, views, false).rz;
  } finally {
    disposeViews(views);
  }
}

/** Jᵀu into `out` (P, overwritten) for u (N, outputSize); no check. */
function vjpInto(model: Sequential, st: ForwardState, u: Tensor, out: Tensor): void {
  const first = st.firstParameterLayer;
  if (first < 0) return;
  const views = slotViews(model, out);
  let dy = u;
  try {
    for (let i = model.built.length - 1; i >= first; i--) {
      const dx = model.built[i].backward(dy, i > first, views[i] ?? undefined);
      if (dy !== u) dy.dispose();
      if (dx === null) break;
      dy = dx;
    }
  } catch (e) {
    if (dy !== u) dy.dispose();
    throw e;
  } finally {
    disposeViews(views);
  }
}

/** Jᵀu (P) for u (N, outputSize) on the last forward pass's batch. See Sequential.vjp. */
export function networkVjp(model: Sequential, u: Tensor): Tensor {
  const fn = 'Sequential.vjp';
  const st = stateOf(model, fn);
  checkTensor(model, fn, 'u', u, [st.batchSize, model.outputSize]);
  const out = Tensor.zeros([model.numParameters], { dtype: model.dtype, device: model.device });
  try {
    vjpInto(model, st, u, out);
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}

// --- Gauss-Newton product ------------------------------------------------------------------------

/** (G_S + λI)v; see Sequential.gaussNewtonProduct. */
export function gaussNewtonProduct(model: Sequential, v: Tensor, options: GaussNewtonOptions): Tensor {
  const fn = 'Sequential.gaussNewtonProduct';
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
  const st = stateOf(model, fn);
  checkParameterVector(model, fn, v);
  const n = st.batchSize;

  let out: Tensor;
  if (mode === 'stored') {
    const stored = ensureStored(model, st, fn, maxBytes);
    out = storedProduct(model, stored, st, loss, v);
  } else {
    const views = slotViews(model, v);
    let u: Tensor;
    try {
      u = rPass(model, st, views, false).rz; // Jv (N, K)
    } finally {
      disposeViews(views);
    }
    const bu = loss.hessianProduct(st.output, u); // B·Jv (N, K)
    u.dispose();
    const q = scale(bu, 1 / n);
    bu.dispose();
    out = Tensor.zeros([model.numParameters], { dtype: model.dtype, device: model.device });
    try {
      vjpInto(model, st, q, out); // Jᵀ B J v / |S|
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      q.dispose();
    }
  }
  axpy(out, 1 / Cl + lambda, v);
  return out;
}

// --- stored per-sample Jacobians ---------------------------------------------------------------------

interface StoredBlock {
  /** The parameter layer. */
  readonly layer: Layer;
  /** Its position in the network. */
  readonly index: number;
  /** Offset of its parameters (weight then bias) in θ. */
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

const storedJacobians = new WeakMap<Sequential, Stored>();

/** Frees the stored Jacobian of `model`, if any. */
export function disposeStoredJacobian(model: Sequential): void {
  const s = storedJacobians.get(model);
  if (s === undefined) return;
  s.buffer.dispose();
  s.identity.dispose();
  storedJacobians.delete(model);
}

function dtypeSize(model: Sequential): number {
  return model.dtype === 'float64' ? 8 : 4;
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function ensureStored(model: Sequential, st: ForwardState, fn: string, maxBytes: number): Stored {
  const existing = storedJacobians.get(model);
  if (existing !== undefined && existing.pass === st.pass) return existing;
  disposeStoredJacobian(model);
  const n = st.batchSize;
  const K = model.outputSize;
  const P = model.numParameters;
  const bytes = n * K * P * dtypeSize(model);
  if (bytes > maxBytes) {
    throw new RangeError(
      `${fn}: the stored Jacobian of |S| = ${n} samples × ${K} outputs × ${P} parameters (${model.dtype}) needs ${bytes} bytes (${gib(bytes)}), above the limit options.maxBytes = ${maxBytes} (${gib(maxBytes)}); use mode 'rop' or a smaller subsample`,
    );
  }
  const blocks: StoredBlock[] = [];
  let jOffset = 0;
  model.built.forEach((layer, index) => {
    const size = layer.info.parameterCount;
    if (size === 0) return;
    const offset = layer.info.weight?.offset ?? layer.info.bias!.offset;
    blocks.push({ layer, index, offset, size, jOffset });
    jOffset += n * K * size;
  });
  const buffer = Tensor.zeros([Math.max(jOffset, 1)], { dtype: model.dtype, device: model.device });
  const eye = new Float64Array(K * K);
  for (let k = 0; k < K; k++) eye[k * K + k] = 1;
  const identity = Tensor.from(model.dtype === 'float64' ? eye : Float32Array.from(eye), { shape: [K, K], dtype: model.dtype, device: model.device });
  const stored: Stored = { pass: st.pass, n, k: K, buffer, blocks, identity };
  try {
    fillJacobian(model, st, stored);
  } catch (e) {
    buffer.dispose();
    identity.dispose();
    throw e;
  }
  storedJacobians.set(model, stored);
  return stored;
}

/** prepareStoredJacobian; see Sequential.prepareStoredJacobian. */
export function prepareStoredJacobian(model: Sequential, options?: StoredJacobianOptions): StoredJacobianInfo {
  const fn = 'Sequential.prepareStoredJacobian';
  const o = options === undefined ? {} : checkOptionsObject(fn, options);
  const maxBytes = checkMaxBytes(fn, o.maxBytes);
  const st = stateOf(model, fn);
  const s = ensureStored(model, st, fn, maxBytes);
  return Object.freeze({ samples: s.n, outputs: s.k, parameters: model.numParameters, bytes: s.n * s.k * model.numParameters * dtypeSize(model) });
}

/**
 * Fills J: for each class k, one backward pass of dz = e_k (every sample) through the cached
 * network; at each parameter layer, the per-sample parameter gradients of that pass are the
 * rows ∂z_ik/∂θ_m (i = 0…N−1) of the block J_m.
 */
function fillJacobian(model: Sequential, st: ForwardState, s: Stored): void {
  const { n, k: K } = s;
  const first = st.firstParameterLayer;
  if (first < 0) return;
  const blockOf = new Map(s.blocks.map((b) => [b.index, b]));
  for (let k = 0; k < K; k++) {
    const host = new Float64Array(n * K);
    for (let i = 0; i < n; i++) host[i * K + k] = 1;
    const dz = Tensor.from(model.dtype === 'float64' ? host : Float32Array.from(host), { shape: [n, K], dtype: model.dtype, device: model.device });
    let dy: Tensor | null = dz;
    try {
      for (let li = model.built.length - 1; li >= first && dy !== null; li--) {
        const layer = model.built[li];
        const block = blockOf.get(li);
        let dx: Tensor | null;
        if (block !== undefined) {
          perSampleGradients(st.activations[li], dy, layer, block, k, s);
          dx = li > first ? parameterLayerInputGradient(layer, dy, st.activations[li]) : null;
        } else {
          dx = layer.backward(dy, true);
        }
        dy.dispose();
        dy = dx;
      }
    } finally {
      dy?.dispose();
    }
  }
}

/** dx of a conv2d / linear layer for dy (without the parameter gradients). */
function parameterLayerInputGradient(layer: Layer, dy: Tensor, x: Tensor): Tensor {
  const w = layer.weight!;
  if (layer instanceof Conv2dLayer) return conv2dBackwardData(dy, w, x.shape, { stride: layer.spec.stride, padding: layer.spec.padding });
  if (layer instanceof LinearLayer) return gemm(dy, w);
  throw new Error(`gaussNewtonProduct: the stored mode does not support layer kind ${layer.kind}`);
}

/** Writes the per-sample gradients of one backward pass (class k) of a parameter layer into J. */
function perSampleGradients(x: Tensor, dy: Tensor, layer: Layer, block: StoredBlock, k: number, s: Stored): void {
  const n = s.n;
  const wShape = layer.info.weight!.shape;
  const wSize = layer.info.weight!.size;
  const xPer = x.size / n;
  const dyPer = dy.size / n;
  const conv = layer instanceof Conv2dLayer ? { stride: layer.spec.stride, padding: layer.spec.padding } : null;
  for (let i = 0; i < n; i++) {
    const row = block.jOffset + (k * n + i) * block.size;
    const xi = x.view(i * xPer, [1, ...x.shape.slice(1)]);
    const dyi = dy.view(i * dyPer, [1, ...dy.shape.slice(1)]);
    const dst = s.buffer.view(row, wShape);
    try {
      const dw = conv !== null ? conv2dBackwardFilter(dyi, xi, wShape, conv) : gemm(dyi, xi, { transA: true });
      copy(dst, dw);
      dw.dispose();
      if (layer.info.bias !== undefined) {
        const bdst = s.buffer.view(row + wSize, layer.info.bias.shape);
        const db = conv !== null ? conv2dBackwardBias(dyi) : dyi.reshape(layer.info.bias.shape);
        copy(bdst, db);
        db.dispose();
        bdst.dispose();
      }
    } finally {
      xi.dispose();
      dyi.dispose();
      dst.dispose();
    }
  }
}

/** (1/|S|) Jᵀ B J v with the stored J: two GEMMs per parameter layer. */
function storedProduct(model: Sequential, s: Stored, st: ForwardState, loss: Loss, v: Tensor): Tensor {
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
  const out = Tensor.zeros([model.numParameters], { dtype: model.dtype, device: model.device });
  if (acc === null) return out;
  const uKN = acc.reshape([K, n]);
  acc.dispose();
  const u = gemm(uKN, s.identity, { transA: true }); // (N, K)
  uKN.dispose();
  const bu = loss.hessianProduct(st.output, u);
  u.dispose();
  const qKN = gemm(s.identity, bu, { transB: true, alpha: 1 / n }); // (K, N) = Bᵀu/|S| transposed
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

/** (∇²f_S)v; see Sequential.hessianProduct. */
export function hessianProduct(model: Sequential, v: Tensor, options: HessianOptions): Tensor {
  const fn = 'Sequential.hessianProduct';
  const o = checkOptionsObject(fn, options);
  const loss = checkLoss(fn, o.loss);
  const Cl = checkCl(fn, o);
  const st = stateOf(model, fn);
  checkParameterVector(model, fn, v);
  const y = checkTensor(model, fn, 'options.y', o.y, [st.batchSize, model.outputSize]);
  const n = st.batchSize;
  const out = Tensor.zeros([model.numParameters], { dtype: model.dtype, device: model.device });
  const first = st.firstParameterLayer;
  if (first >= 0) {
    const views = slotViews(model, v);
    const outViews = slotViews(model, out);
    let inputs: (Tensor | null)[] = [];
    let dy: Tensor | null = null;
    let rdy: Tensor | null = null;
    try {
      const r = rPass(model, st, views, true);
      inputs = r.inputs;
      dy = loss.gradient(st.output, y); // ∂Σξ/∂z (N, K)
      rdy = loss.hessianProduct(st.output, r.rz); // R{dz} = B·Jv
      r.rz.dispose();
      for (let i = model.built.length - 1; i >= first; i--) {
        const res = model.built[i].backwardJvp(dy, rdy, inputs[i], views[i], outViews[i], i > first);
        dy.dispose();
        rdy.dispose();
        dy = rdy = null;
        if (res === null) break;
        dy = res.dx;
        rdy = res.rdx;
      }
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      dy?.dispose();
      rdy?.dispose();
      for (const t of inputs) t?.dispose();
      disposeViews(views);
      disposeViews(outViews);
    }
  }
  const result = scale(out, 1 / n); // (1/|S|) R{∇θ Σξ}
  out.dispose();
  axpy(result, 1 / Cl, v);
  return result;
}
