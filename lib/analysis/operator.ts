// The curvature of a network's mean loss on a data set as a symmetric linear operator: the
// exact Hessian (forward-over-reverse) or the Gauss-Newton matrix (R-operator), optionally
// restricted to some of the parameters with the others fixed. Everything in lib/analysis works
// on a SymmetricOperator, so the same Lanczos, trace and density code serves every network and
// every restriction (and a plain matrix in the tests).
//
//   A = (1/l) Σ_i ∇²_θS ξ(z_i(θ); y_i)       'hessian'        (θ_S the selected parameters)
//   A = (1/l) Σ_i J_iᵀ B_i J_i (rows of S)   'gauss-newton'
//
// The data are split into batches of `batchSize` in index order. With batch norm on batch
// statistics (the default, the Newton method's function) each batch normalises with its own
// statistics and the operator is the curvature of that fixed-partition function, differentiated
// through the statistics (README.md, "Batch norm"); with running statistics the examples are
// independent. When the data fit one batch its forward pass is kept across products; otherwise
// every product runs a forward pass per batch.
import { gatherBatch, validateDataset, type Dataset } from '../data';
import { describe } from '../errors';
import { checkLoss, type Loss } from '../nn/losses';
import type { ModuleInfo, ParameterSlot } from '../nn/module';
import { Network } from '../nn/network';
import { lossCurvatureProduct, type CurvatureKind } from '../nn/products';
import { axpy, copy, matmul } from '../ops';
import { Tensor } from '../tensor';

/** A symmetric linear map of vectors of length `dimension`: what every analysis routine takes. */
export interface SymmetricOperator {
  /** n, the length of the vectors. */
  readonly dimension: number;
  /** Element type of the vectors. */
  readonly dtype: 'float32' | 'float64';
  /** Device of the vectors. */
  readonly device: string;
  /** A·v for v (n): a new tensor the caller owns. */
  apply(v: Tensor): Tensor;
  /** How many products apply() has computed so far. */
  readonly products: number;
  /** Frees what the operator holds. */
  dispose(): void;
}

/** A contiguous piece of θ the operator acts on. */
export interface ParameterRange {
  /** The module's node index. */
  readonly module: number;
  /** The module's kind ('conv2d', 'batchNorm2d', …). */
  readonly kind: string;
  /** The parameter's name ('weight', 'bias', 'alpha', …). */
  readonly name: string;
  /** Its offset in θ. */
  readonly offset: number;
  /** Its element count. */
  readonly size: number;
}

/** Which parameters the operator acts on: node indices, or a predicate on each parameter. */
export type ParameterSelection = readonly number[] | ((module: ModuleInfo, parameter: ParameterSlot) => boolean);

/** Examples as tensors: inputs (N, C, H, W) and targets (N, K) in the network's dtype and device. */
export interface ExampleBatch {
  readonly x: Tensor;
  readonly y: Tensor;
}

/** Options of curvatureOperator(). */
export interface CurvatureOptions {
  /** 'hessian' (default) or 'gauss-newton'. */
  matrix?: CurvatureKind;
  /** The loss ξ. */
  loss: Loss;
  /** The examples: a Dataset (one-hot targets from its labels) or tensors x, y. */
  data: Dataset | ExampleBatch;
  /** Examples per batch (default: all of them in one batch, up to 1024; else 256). */
  batchSize?: number;
  /**
   * Batch norm on each batch's statistics (default true: the function the Newton method
   * minimises), or on its running statistics (false).
   */
  batchStatistics?: boolean;
  /** Restrict to these parameters (default: all of θ). */
  parameters?: ParameterSelection;
}

interface Chunk {
  readonly x: Tensor;
  readonly y: Tensor;
  readonly owned: boolean;
}

const FN = 'curvatureOperator';

/** The curvature operator of `network` on `options.data` (see the file header). Dispose it when done. */
export function curvatureOperator(network: Network, options: CurvatureOptions): CurvatureOperator {
  return new CurvatureOperator(network, options);
}

export class CurvatureOperator implements SymmetricOperator {
  readonly dimension: number;
  readonly dtype: 'float32' | 'float64';
  readonly device: string;
  /** 'hessian' or 'gauss-newton'. */
  readonly matrix: CurvatureKind;
  /** The pieces of θ the operator acts on, in θ order (the operator's coordinates, concatenated). */
  readonly ranges: readonly ParameterRange[];
  /** The number of examples l. */
  readonly examples: number;
  private readonly network: Network;
  private readonly loss: Loss;
  private readonly batchStatistics: boolean;
  private readonly chunks: Chunk[];
  private count = 0;
  private isDisposed = false;
  /** Which chunk's forward pass the network holds (-1: none of ours). */
  private cachedChunk = -1;
  private cachedPass = -1;

  constructor(network: Network, options: CurvatureOptions) {
    if (!(network instanceof Network)) throw new TypeError(`${FN}: network must be a Network, got ${describe(network)}`);
    if (network.disposed) throw new Error(`${FN}: the network is disposed`);
    if (options === null || typeof options !== 'object') throw new TypeError(`${FN}: options must be an object with loss and data, got ${describe(options)}`);
    const matrix = options.matrix ?? 'hessian';
    if (matrix !== 'hessian' && matrix !== 'gauss-newton') {
      throw new RangeError(`${FN}: options.matrix must be 'hessian' or 'gauss-newton', got ${JSON.stringify(matrix) ?? String(matrix)}`);
    }
    const batchStatistics = options.batchStatistics ?? true;
    if (typeof batchStatistics !== 'boolean') throw new TypeError(`${FN}: options.batchStatistics must be a boolean, got ${describe(batchStatistics)}`);
    this.network = network;
    this.loss = checkLoss(FN, options.loss);
    this.matrix = matrix;
    this.batchStatistics = batchStatistics;
    this.dtype = network.dtype;
    this.device = network.device;
    this.ranges = selectRanges(network, options.parameters);
    this.dimension = this.ranges.reduce((a, r) => a + r.size, 0);
    if (this.dimension === 0) throw new RangeError(`${FN}: options.parameters selects no parameters`);
    this.chunks = makeChunks(network, options.data, options.batchSize);
    this.examples = this.chunks.reduce((a, c) => a + c.x.shape[0], 0);
  }

  /** Products computed so far. */
  get products(): number {
    return this.count;
  }

  /** Whether the operator acts on all of θ. */
  get full(): boolean {
    return this.dimension === this.network.numParameters;
  }

  /** A·v for v (dimension): the mean over all examples of each batch's curvature times v. */
  apply(v: Tensor): Tensor {
    const fn = 'CurvatureOperator.apply';
    if (this.isDisposed) throw new Error(`${fn}: the operator is disposed`);
    if (!(v instanceof Tensor)) throw new TypeError(`${fn}: v must be a Tensor, got ${describe(v)}`);
    if (v.disposed) throw new Error(`${fn}: v: tensor is disposed`);
    if (v.ndim !== 1 || v.shape[0] !== this.dimension) throw new RangeError(`${fn}: v has shape (${v.shape.join(', ')}) but the operator has dimension ${this.dimension}`);
    if (v.dtype !== this.dtype || v.device !== this.device) {
      throw new RangeError(`${fn}: v is ${v.dtype} on ${v.device} but the operator works in ${this.dtype} on ${this.device}`);
    }
    const net = this.network;
    const full = this.full ? v : this.embed(v);
    let acc: Tensor | null = null;
    try {
      for (let c = 0; c < this.chunks.length; c++) {
        const chunk = this.chunks[c];
        this.forwardChunk(c);
        const part = lossCurvatureProduct(net, this.matrix, this.loss, chunk.y, full);
        if (acc === null && this.chunks.length === 1) {
          acc = part;
        } else {
          acc ??= Tensor.zeros([net.numParameters], { dtype: this.dtype, device: this.device });
          axpy(acc, chunk.x.shape[0] / this.examples, part);
          part.dispose();
        }
      }
      this.count++;
      const result = this.full ? acc! : this.extract(acc!);
      if (result !== acc) acc!.dispose();
      acc = null;
      return result;
    } finally {
      acc?.dispose();
      if (full !== v) full.dispose();
      if (this.chunks.length > 1) this.release();
    }
  }

  /** The forward pass of chunk c, unless the network still holds it from an earlier product. */
  private forwardChunk(c: number): void {
    const net = this.network;
    const state = net.forwardState();
    if (this.cachedChunk === c && state !== null && state.pass === this.cachedPass) return;
    const z = net.forward(this.chunks[c].x, { batchStatistics: this.batchStatistics });
    z.dispose();
    this.cachedChunk = c;
    this.cachedPass = net.forwardState()!.pass;
  }

  private release(): void {
    if (this.cachedChunk >= 0) this.network.releaseCache();
    this.cachedChunk = -1;
  }

  /** θ-shaped zeros with v's pieces at the selected ranges. */
  private embed(v: Tensor): Tensor {
    const full = Tensor.zeros([this.network.numParameters], { dtype: this.dtype, device: this.device });
    let at = 0;
    for (const r of this.ranges) {
      const dst = full.view(r.offset, [r.size]);
      const src = v.view(at, [r.size]);
      copy(dst, src);
      dst.dispose();
      src.dispose();
      at += r.size;
    }
    return full;
  }

  /** The selected ranges of a θ-shaped tensor, concatenated. */
  private extract(t: Tensor): Tensor {
    const out = Tensor.zeros([this.dimension], { dtype: this.dtype, device: this.device });
    let at = 0;
    for (const r of this.ranges) {
      const dst = out.view(at, [r.size]);
      const src = t.view(r.offset, [r.size]);
      copy(dst, src);
      dst.dispose();
      src.dispose();
      at += r.size;
    }
    return out;
  }

  /** A vector of the operator's space with the values of θ-shaped `t` at the selected ranges. */
  restrict(t: Tensor): Tensor {
    if (t.ndim !== 1 || t.shape[0] !== this.network.numParameters) {
      throw new RangeError(`CurvatureOperator.restrict: t has shape (${t.shape.join(', ')}) but θ has ${this.network.numParameters} elements`);
    }
    return this.extract(t);
  }

  /** True after dispose(). */
  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Frees the batches it gathered and the network's forward cache of them. */
  dispose(): void {
    if (this.isDisposed) return;
    this.release();
    for (const c of this.chunks) {
      if (!c.owned) continue;
      c.x.dispose();
      c.y.dispose();
    }
    this.isDisposed = true;
  }
}

/** The parameter ranges a selection picks, in θ order. */
export function selectRanges(network: Network, selection: ParameterSelection | undefined): ParameterRange[] {
  const modules = network.layers();
  let pick: (m: ModuleInfo, p: ParameterSlot) => boolean;
  if (selection === undefined) {
    pick = () => true;
  } else if (typeof selection === 'function') {
    pick = selection;
  } else if (Array.isArray(selection)) {
    const wanted = new Set<number>();
    for (const i of selection) {
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= modules.length) {
        throw new RangeError(`${FN}: options.parameters must hold node indices in [0, ${modules.length}), got ${String(i)}`);
      }
      if (modules[i].parameterCount === 0) throw new RangeError(`${FN}: options.parameters: node ${i} (${modules[i].kind}) has no parameters`);
      wanted.add(i);
    }
    pick = (m) => wanted.has(m.index);
  } else {
    throw new TypeError(`${FN}: options.parameters must be an array of node indices or a function (module, parameter) => boolean, got ${describe(selection)}`);
  }
  const ranges: ParameterRange[] = [];
  for (const m of modules) {
    for (const p of m.parameters) {
      if (pick(m, p)) ranges.push({ module: m.index, kind: m.kind, name: p.name, offset: p.offset, size: p.size });
    }
  }
  return ranges.sort((a, b) => a.offset - b.offset);
}

function makeChunks(network: Network, data: Dataset | ExampleBatch, batchSize: number | undefined): Chunk[] {
  if (data === null || typeof data !== 'object') throw new TypeError(`${FN}: options.data must be a Dataset or { x, y } tensors, got ${describe(data)}`);
  const isBatch = (data as Partial<ExampleBatch>).x instanceof Tensor;
  const l = isBatch ? (data as ExampleBatch).x.shape[0] : (data as Dataset).length;
  const b = batchSize ?? (l <= 1024 ? l : 256);
  if (typeof b !== 'number' || !Number.isInteger(b) || b < 1) throw new RangeError(`${FN}: options.batchSize must be a positive integer, got ${String(batchSize)}`);
  const chunks: Chunk[] = [];
  try {
    if (isBatch) {
      const { x, y } = data as ExampleBatch;
      checkBatch(network, x, y);
      const per = x.size / x.shape[0];
      for (let start = 0; start < l; start += b) {
        const n = Math.min(b, l - start);
        if (start === 0 && n === l) {
          chunks.push({ x, y, owned: false });
        } else {
          chunks.push({ x: x.view(start * per, [n, ...x.shape.slice(1)]), y: y.view(start * network.outputSize, [n, network.outputSize]), owned: true });
        }
      }
    } else {
      const ds = data as Dataset;
      validateDataset(ds, `${FN}: options.data`);
      if (ds.length < 1) throw new RangeError(`${FN}: options.data has no examples`);
      const [c, h, w] = ds.shape;
      const [mc, mh, mw] = network.inputShape;
      if (c !== mc || h !== mh || w !== mw) throw new RangeError(`${FN}: options.data has images ${c}×${h}×${w} but the network expects ${mc}×${mh}×${mw}`);
      if (ds.classes !== network.outputSize) throw new RangeError(`${FN}: options.data has ${ds.classes} classes but the network has ${network.outputSize} outputs`);
      const order = Int32Array.from({ length: l }, (_, i) => i);
      for (let start = 0; start < l; start += b) {
        const batch = gatherBatch(ds, order, start, Math.min(l, start + b), { dtype: network.dtype, device: network.device });
        chunks.push({ x: batch.x, y: batch.y, owned: true });
      }
    }
  } catch (e) {
    for (const c of chunks) {
      if (!c.owned) continue;
      c.x.dispose();
      c.y.dispose();
    }
    throw e;
  }
  return chunks;
}

function checkBatch(network: Network, x: Tensor, y: unknown): asserts y is Tensor {
  const [C, H, W] = network.inputShape;
  if (x.disposed) throw new Error(`${FN}: options.data.x: tensor is disposed`);
  if (x.ndim !== 4 || x.shape[1] !== C || x.shape[2] !== H || x.shape[3] !== W || x.shape[0] < 1) {
    throw new RangeError(`${FN}: options.data.x has shape (${x.shape.join(', ')}) but the network expects (N, ${C}, ${H}, ${W})`);
  }
  if (!(y instanceof Tensor)) throw new TypeError(`${FN}: options.data.y must be a Tensor, got ${describe(y)}`);
  if (y.ndim !== 2 || y.shape[0] !== x.shape[0] || y.shape[1] !== network.outputSize) {
    throw new RangeError(`${FN}: options.data.y has shape (${y.shape.join(', ')}) but must be (${x.shape[0]}, ${network.outputSize})`);
  }
  for (const [name, t] of [['x', x], ['y', y]] as const) {
    if (t.dtype !== network.dtype || t.device !== network.device) {
      throw new RangeError(`${FN}: options.data.${name} is ${t.dtype} on ${t.device} but the network is ${network.dtype} on ${network.device}`);
    }
  }
}

/** A dense symmetric matrix (n×n, row-major, float64) as an operator: for tests and small problems. */
export function matrixOperator(a: Float64Array, n: number, options?: { dtype?: 'float32' | 'float64'; device?: string }): SymmetricOperator {
  if (!(a instanceof Float64Array) || a.length !== n * n) throw new RangeError(`matrixOperator: a must be a Float64Array of n·n = ${n * n} elements`);
  const dtype = options?.dtype ?? 'float64';
  const device = options?.device ?? 'cpu';
  const m = Tensor.from(a, { shape: [n, n], dtype, device });
  let count = 0;
  return {
    dispose: () => m.dispose(),
    dimension: n,
    dtype,
    device,
    get products() {
      return count;
    },
    apply(v: Tensor): Tensor {
      const col = v.reshape([n, 1]);
      const r = matmul(m, col);
      col.dispose();
      const out = r.reshape([n]);
      r.dispose();
      count++;
      return out;
    },
  };
}
