// Network: a graph of modules (lib/nn/graph.ts builds one; Sequential is a chain) whose
// parameters live in ONE contiguous tensor θ.
//
// Note [parameter store]
// ~~~~~~~~~~~~~~~~~~~~~~
// θ holds every module's parameters, node by node, each module's in the order it declares
// them (weight, then bias, ...); `gradient` has the same layout, and `buffers` holds the state
// that is not a parameter (batch-norm running statistics) the same way. Each module gets views
// of the three, so writing θ changes the network, optimizers and CG update every parameter
// with single vector operations, and a checkpoint is θ plus the buffers.
import { describe } from '../errors';
import { copy, fill } from '../ops';
import { Tensor } from '../tensor';
import { Executor, type GraphNodes } from './executor';
import { checkInit, drawParameter, type Initializer, type InitOptions } from './init';
import type { GraphSpec } from './graph';
import type { ModuleSpec } from './layers';
import type { Module, ModuleInfo, ParameterSlot, ParameterViews, StatisticsSync } from './module';
import {
  disposeStoredJacobian,
  gaussNewtonProduct,
  hessianProduct,
  networkJvp,
  networkVjp,
  prepareStoredJacobian,
  type GaussNewtonOptions,
  type HessianOptions,
  type StoredJacobianInfo,
  type StoredJacobianOptions,
} from './products';
import { mixSeed } from './seed';
import { fmtShape, isFloatArray } from './shape-util';

/** Element types a network can compute in. */
export type FloatDType = 'float32' | 'float64';

/** Options of a network. */
export interface NetworkOptions {
  /** Element type of θ and of every activation (default 'float32'; 'float64' on CPU for derivative checks). */
  dtype?: FloatDType;
  /** Device of θ (default 'cpu'). */
  device?: string;
  /** A name for summaries and checkpoints (default: the class's, 'sequential' or 'network'). */
  name?: string;
}

/** Options of forward. */
export interface ForwardOptions {
  /** Training mode: dropout active, batch norm on batch statistics. Default false. */
  training?: boolean;
  /**
   * Batch norm on the batch's statistics (default: `training`). The Newton method passes it
   * without `training`: batch norm in training mode, dropout off.
   */
  batchStatistics?: boolean;
  /** Seed of the dropout masks of this pass (default: derived from a per-network pass counter). */
  noiseSeed?: number;
  /**
   * Update batch norm's running statistics from this pass's batch statistics (default false;
   * only with batch statistics). Trainers set it on the passes that are steps.
   */
  updateStatistics?: boolean;
  /**
   * Synchronised batch norm (with batch statistics): this batch is one process's share of a
   * batch split among the processes of a data-parallel job, and batch norm normalises over the
   * whole of it, in this forward pass and in the backward and R-operator passes that follow.
   * Default null: this batch alone.
   */
  statisticsSync?: StatisticsSync | null;
  /**
   * The position of this batch's first example in the batch it is a share of (a data-parallel
   * rank's shard; default 0): dropout's masks are then those of the whole batch's examples.
   */
  exampleOffset?: number;
}

/** Options of backward. */
export interface BackwardOptions {
  /** Also compute and return ∂L/∂x of the network input (default false). */
  inputGradient?: boolean;
  /**
   * Called during the pass each time a range of the gradient is final: `gradient[offset …
   * offset + size)`, one layer's parameters, in the order of the backward pass (the last layers'
   * first). Data-parallel training starts summing the gradient's buckets over the ranks from it.
   */
  onParameterGradient?: (offset: number, size: number) => void;
}

/** The last forward pass, for lib/nn/products.ts. @internal */
export interface ForwardState {
  readonly output: Tensor;
  readonly batchSize: number;
  readonly pass: number;
}

export function checkInputShape(fn: string, shape: unknown): readonly [number, number, number] {
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) {
    const got = Array.isArray(shape) ? `[${shape.map(String).join(', ')}]` : shape === null ? 'null' : typeof shape;
    throw new RangeError(`${fn}: inputShape must be [C, H, W] with positive integers, got ${got}`);
  }
  return Object.freeze([shape[0], shape[1], shape[2]]) as readonly [number, number, number];
}

export function checkNetworkOptions(fn: string, options: unknown): { dtype: FloatDType; device: string; name: string | undefined } {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  }
  const o = (options ?? {}) as NetworkOptions;
  const dtype = o.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new RangeError(`${fn}: options.dtype must be 'float32' or 'float64', got ${String(dtype)}`);
  return { dtype, device: o.device ?? 'cpu', name: o.name };
}

/** A network: modules in a graph over inputs (N, C, H, W), producing (N, outputSize). */
export class Network {
  /** 'Sequential' or 'Network': the name errors start with. */
  readonly kind: string;
  /** Per-example input shape [C, H, W]. */
  readonly inputShape: readonly [number, number, number];
  /** Width of the output z (number of classes for a classifier). */
  readonly outputSize: number;
  /** Number of parameters P (length of θ). */
  readonly numParameters: number;
  /** θ: all parameters, (P) (note [parameter store]). */
  readonly parameters: Tensor;
  /** ∂/∂θ of the last backward pass, same layout as θ. */
  readonly gradient: Tensor;
  /** The buffers (batch-norm running statistics), (B); B may be 0. */
  readonly buffers: Tensor;
  /** Element type of θ and the activations. */
  readonly dtype: FloatDType;
  /** Device of θ. */
  readonly device: string;
  /** The network's name. */
  readonly name: string;
  /** The built modules, in node order. */
  readonly built: readonly Module[];
  /** Each node's inputs (-1: the network input). */
  readonly nodeInputs: readonly (readonly number[])[];
  /** The output port of each node input (0 but for modules with several outputs). */
  readonly nodePorts: readonly (readonly number[])[];
  /** The spec each node was built from, in node order. */
  readonly nodeSpecs: readonly ModuleSpec[];

  private readonly executor: Executor;
  private batchSize = 0;
  private passes = 0;
  private isDisposed = false;

  /**
   * @internal Networks are made by GraphBuilder.build() and Sequential; `nodes` are in
   * topological order, every node feeds the last one, which is the output (note [graph executor]).
   */
  constructor(
    kind: string,
    inputShape: readonly [number, number, number],
    nodes: GraphNodes,
    specs: readonly ModuleSpec[],
    options: { dtype: FloatDType; device: string; name: string },
  ) {
    this.kind = kind;
    this.nodeSpecs = Object.freeze([...specs]);
    this.inputShape = inputShape;
    this.dtype = options.dtype;
    this.device = options.device;
    this.name = options.name;
    this.built = Object.freeze([...nodes.modules]);
    this.nodeInputs = Object.freeze(nodes.inputs.map((i) => Object.freeze([...i])));
    this.nodePorts = Object.freeze((nodes.ports ?? nodes.inputs.map((i) => i.map(() => 0))).map((p) => Object.freeze([...p])));
    const last = this.built[this.built.length - 1].info;
    if (last.outputShapes.length !== 1) throw new RangeError(`${kind}: the last layer (${last.kind}) has ${last.outputShapes.length} outputs; the network's output must be one value`);
    if (last.outputShape.length !== 1) {
      throw new RangeError(`${kind}: the last layer must produce a flat output (N, K), got per-example shape ${fmtShape(last.outputShape)}; add flatten() or a linear layer`);
    }
    this.outputSize = last.outputShape[0];
    const sizeOf = (slots: readonly ParameterSlot[]) => slots.reduce((a, s) => Math.max(a, s.offset + s.size), 0);
    this.numParameters = this.built.reduce((a, m) => Math.max(a, sizeOf(m.info.parameters)), 0);
    const bufferSize = this.built.reduce((a, m) => Math.max(a, sizeOf(m.info.buffers)), 0);
    this.parameters = Tensor.zeros([this.numParameters], { dtype: this.dtype, device: this.device });
    this.gradient = Tensor.zeros([this.numParameters], { dtype: this.dtype, device: this.device });
    this.buffers = Tensor.zeros([bufferSize], { dtype: this.dtype, device: this.device });
    for (const m of this.built) {
      m.bind(this.views(this.parameters, m.info.parameters), this.views(this.gradient, m.info.parameters), this.views(this.buffers, m.info.buffers));
    }
    this.resetBuffers();
    this.executor = new Executor({ modules: this.built, inputs: this.nodeInputs, ports: this.nodePorts });
  }

  /** Views of `t` at `slots`, by name. */
  private views(t: Tensor, slots: readonly ParameterSlot[]): ParameterViews {
    const out: Record<string, Tensor> = {};
    for (const s of slots) out[s.name] = t.view(s.offset, s.shape);
    return Object.freeze(out);
  }

  /** Views of a θ-shaped tensor at each module's parameters (null for modules without any); dispose with disposeViews. @internal */
  parameterViews(t: Tensor): (ParameterViews | null)[] {
    return this.built.map((m) => (m.info.parameters.length === 0 ? null : this.views(t, m.info.parameters)));
  }

  /**
   * The graph as plain data (every node's spec and inputs): networkFromSpec(net.toSpec()) builds
   * a network with the same θ layout, buffers and passes.
   */
  toSpec(): GraphSpec {
    return {
      inputShape: this.inputShape,
      nodes: this.nodeSpecs.map((spec, i) => ({
        spec,
        inputs: [...this.nodeInputs[i]],
        ...(this.nodePorts[i].some((p) => p !== 0) ? { ports: [...this.nodePorts[i]] } : {}),
      })),
    };
  }

  /** Static description of every module: kind, shapes, parameter slots in θ. */
  layers(): readonly ModuleInfo[] {
    return this.built.map((m) => m.info);
  }

  /** Whether every example's output depends on that example alone in the last forward pass (no train-mode batch norm). */
  perSample(): boolean {
    return this.built.every((m) => m.perSample());
  }

  /**
   * Every running statistic decays as over `updates` skipped updates (default 1), r ← (1 −
   * momentum)^updates·r (buffers only; a no-op without batch norm or for 0 updates). The running statistics are a sum of each update's
   * contribution, so the processes of a data-parallel pass over the data keep exactly the
   * single-process result between them: each applies the updates of its own batches and decays
   * over the others', and the sum of their buffers (one process starting from the old values,
   * the others from zero) is the single process's sequence of updates (lib/train/objective.ts).
   */
  decayStatistics(updates = 1): void {
    if (!Number.isSafeInteger(updates) || updates < 0) throw new RangeError(`${this.kind}.decayStatistics: updates must be a non-negative integer, got ${String(updates)}`);
    if (updates === 0) return;
    for (const m of this.built) m.decayStatistics?.(updates);
  }

  /** Every buffer back to its initial value (running means 0, variances 1). */
  resetBuffers(): void {
    for (const m of this.built) {
      for (const b of m.info.buffers) {
        const view = this.buffers.view(b.offset, b.shape);
        fill(view, initialValue(b));
        view.dispose();
      }
    }
  }

  /**
   * Initialises θ in place: every 'fan' parameter (the weights) by `initializer` (He-normal
   * N(0,1)·√(2/n_in), Xavier U(±√(6/(n_in+n_out))), Xavier × options.scale, or a random
   * (semi-)orthogonal matrix × options.scale, the gain, default 1), the others to
   * their constants (biases 0, batch-norm γ 1); the buffers are reset too. Deterministic in
   * options.seed: module i draws with the seed mixSeed(seed, i).
   */
  init(initializer: Initializer, options: InitOptions): void {
    const fn = `${this.kind}.init`;
    this.checkAlive(fn);
    const o = checkInit(fn, initializer, options);
    for (const m of this.built) {
      let fanCount = 0;
      for (const p of m.info.parameters) {
        const view = this.parameters.view(p.offset, p.shape);
        try {
          if (p.init === 'fan') {
            const seed = fanCount === 0 ? mixSeed(o.seed, m.info.index) : mixSeed(mixSeed(o.seed, m.info.index), fanCount);
            fanCount++;
            const w = drawParameter(o.initializer, m.info, seed, o.scale, view);
            copy(view, w);
            w.dispose();
          } else {
            fill(view, initialValue(p));
          }
        } finally {
          view.dispose();
        }
      }
    }
    this.resetBuffers();
  }

  /**
   * z = network(x) for x (N, C, H, W) → z (N, outputSize), owned by the caller. Keeps the
   * activations for backward and the products (replacing those of the previous pass).
   */
  forward(x: Tensor, options?: ForwardOptions): Tensor {
    const fn = `${this.kind}.forward`;
    this.checkAlive(fn);
    this.checkInput(fn, x);
    const training = options?.training ?? false;
    if (typeof training !== 'boolean') throw new TypeError(`${fn}: options.training must be a boolean, got ${describe(training)}`);
    const batchStatistics = options?.batchStatistics ?? training;
    if (typeof batchStatistics !== 'boolean') throw new TypeError(`${fn}: options.batchStatistics must be a boolean, got ${describe(batchStatistics)}`);
    const updateStatistics = options?.updateStatistics ?? false;
    if (typeof updateStatistics !== 'boolean') throw new TypeError(`${fn}: options.updateStatistics must be a boolean, got ${describe(updateStatistics)}`);
    const noiseSeed = options?.noiseSeed ?? mixSeed(0x5eed, this.passes);
    if (!Number.isSafeInteger(noiseSeed) || noiseSeed < 0) {
      throw new RangeError(`${fn}: options.noiseSeed must be a non-negative safe integer, got ${String(noiseSeed)}`);
    }
    const statisticsSync = options?.statisticsSync ?? null;
    if (statisticsSync !== null) {
      if (typeof statisticsSync !== 'object' || typeof statisticsSync.sum !== 'function') {
        throw new TypeError(`${fn}: options.statisticsSync must be { batchSize, sum(t) } or null, got ${describe(statisticsSync)}`);
      }
      if (!Number.isSafeInteger(statisticsSync.batchSize) || statisticsSync.batchSize < x.shape[0]) {
        throw new RangeError(`${fn}: options.statisticsSync.batchSize must be an integer ≥ this batch's ${x.shape[0]} examples, got ${String(statisticsSync.batchSize)}`);
      }
    }
    const exampleOffset = options?.exampleOffset ?? 0;
    if (!Number.isSafeInteger(exampleOffset) || exampleOffset < 0) {
      throw new RangeError(`${fn}: options.exampleOffset must be a non-negative safe integer, got ${String(options?.exampleOffset)}`);
    }
    this.passes++;
    disposeStoredJacobian(this);
    const z = this.executor.forward(x, { training, batchStatistics, noiseSeed, updateStatistics: batchStatistics && updateStatistics, statisticsSync: batchStatistics ? statisticsSync : null, exampleOffset });
    this.batchSize = x.shape[0];
    return z;
  }

  /** forward in inference mode without keeping any cache: for evaluation. */
  predict(x: Tensor): Tensor {
    const z = this.forward(x);
    this.releaseCache();
    return z;
  }

  /**
   * Backward pass of the last forward: dz = ∂L/∂z (N, outputSize) with L = Σ_i loss_i.
   * OVERWRITES this.gradient with ∂L/∂θ (no regularisation term, no 1/N). Returns ∂L/∂x when
   * options.inputGradient is true (owned by the caller), else null. The cache is kept (a later
   * R-operator pass reuses it).
   */
  backward(dz: Tensor, options?: BackwardOptions): Tensor | null {
    const fn = `${this.kind}.backward`;
    this.checkAlive(fn);
    if (!this.executor.cached) throw new Error(`${fn}: no forward pass to differentiate (call forward first)`);
    this.checkOutputLike(fn, 'dz', dz);
    const inputGradient = options?.inputGradient ?? false;
    const hook = options?.onParameterGradient;
    if (hook !== undefined && typeof hook !== 'function') throw new TypeError(`${fn}: options.onParameterGradient must be a function, got ${describe(hook)}`);
    const parametersDone =
      hook === undefined
        ? undefined
        : (node: number): void => {
            const p = this.built[node].info.parameters;
            hook(p[0].offset, this.built[node].info.parameterCount);
          };
    return this.executor.vjp(dz, { params: () => null, inputGradient, ...(parametersDone !== undefined ? { parametersDone } : {}) });
  }

  /** Frees the activations and module caches of the last forward pass (and a stored Jacobian). */
  releaseCache(): void {
    disposeStoredJacobian(this);
    this.executor.release();
  }

  /** Jv for a θ-shaped tangent v (P) on the last forward pass's batch: (N, outputSize), owned by the caller. */
  jvp(v: Tensor): Tensor {
    return networkJvp(this, v);
  }

  /** Jᵀu for u (N, outputSize) on the last forward pass's batch: a θ-shaped (P) tensor; this.gradient is untouched. */
  vjp(u: Tensor): Tensor {
    return networkVjp(this, u);
  }

  /**
   * (G_S + λI)v = (1/Cl + λ)v + (1/|S|) Jᵀ B J v on the last forward pass's batch S (Cl = C·l),
   * for v (P); a new (P) tensor. mode 'rop' (default) uses the R-operator, 'stored' the
   * per-sample Jacobians of S (refused for networks whose examples are not independent).
   */
  gaussNewtonProduct(v: Tensor, options: GaussNewtonOptions): Tensor {
    return gaussNewtonProduct(this, v, options);
  }

  /**
   * The exact Hessian-vector product (∇²f_S)v = v/Cl + (1/|S|) R{∇θ Σ ξ} on the last forward
   * pass's batch with targets options.y (N, outputSize) (forward-over-reverse); a new (P) tensor.
   */
  hessianProduct(v: Tensor, options: HessianOptions): Tensor {
    return hessianProduct(this, v, options);
  }

  /** Computes and stores the per-sample Jacobians of the last forward pass's batch for the 'stored' mode. */
  prepareStoredJacobian(options?: StoredJacobianOptions): StoredJacobianInfo {
    return prepareStoredJacobian(this, options);
  }

  /** Frees the stored Jacobian (also done by the next forward pass, releaseCache and dispose). */
  disposeStored(): void {
    disposeStoredJacobian(this);
  }

  /** @internal The executor, for lib/nn/products.ts. */
  get graph(): Executor {
    return this.executor;
  }

  /** @internal The last forward pass (z's alias, batch size, pass number), or null. */
  forwardState(): ForwardState | null {
    const output = this.executor.output;
    if (this.isDisposed || output === null) return null;
    return { output, batchSize: this.batchSize, pass: this.passes };
  }

  /** Copies `values` (length P, any float typed array or Tensor) into θ. */
  setParameters(values: Float32Array | Float64Array | Tensor): void {
    this.setFlat(`${this.kind}.setParameters`, this.parameters, 'parameters', values);
  }

  /** A copy of θ as a typed array of the network's dtype. */
  getParameters(): Float32Array | Float64Array {
    this.checkAlive(`${this.kind}.getParameters`);
    return this.parameters.toArray() as Float32Array | Float64Array;
  }

  /** Copies `values` (length B) into the buffers (batch-norm running statistics). */
  setBuffers(values: Float32Array | Float64Array | Tensor): void {
    this.setFlat(`${this.kind}.setBuffers`, this.buffers, 'buffer values', values);
  }

  /** A copy of the buffers as a typed array of the network's dtype. */
  getBuffers(): Float32Array | Float64Array {
    this.checkAlive(`${this.kind}.getBuffers`);
    return this.buffers.toArray() as Float32Array | Float64Array;
  }

  private setFlat(fn: string, target: Tensor, what: string, values: Float32Array | Float64Array | Tensor): void {
    this.checkAlive(fn);
    if (values instanceof Tensor) {
      if (values.size !== target.size) throw new RangeError(`${fn}: values has ${values.size} elements but the network has ${target.size} ${what}`);
      const flat = values.reshape([target.size]);
      try {
        copy(target, flat);
      } finally {
        flat.dispose();
      }
      return;
    }
    if (!isFloatArray(values)) throw new TypeError(`${fn}: values must be a Float32Array, Float64Array or Tensor, got ${describe(values)}`);
    if (values.length !== target.size) throw new RangeError(`${fn}: values has ${values.length} elements but the network has ${target.size} ${what}`);
    const t = Tensor.from(values, { dtype: this.dtype, device: this.device });
    copy(target, t);
    t.dispose();
  }

  /** A table of the modules: index, kind, inputs, output shape and parameter count. */
  summary(): string {
    const rows: string[][] = [['#', 'layer', 'inputs', 'output', 'parameters']];
    rows.push(['', 'input', '', fmtShape(this.inputShape), '']);
    const chain = this.nodeInputs.every((ins, i) => ins.length === 1 && ins[0] === i - 1);
    for (const m of this.built) {
      const ports = this.nodePorts[m.info.index];
      const ins = this.nodeInputs[m.info.index].map((j, k) => (j < 0 ? 'input' : ports[k] > 0 ? `${j}:${ports[k]}` : String(j))).join(', ');
      rows.push([String(m.info.index), describeModule(m), chain ? '' : ins, m.info.outputShapes.map(fmtShape).join(' / '), String(m.info.parameterCount)]);
    }
    const cols = chain ? [0, 1, 3, 4] : [0, 1, 2, 3, 4];
    const table = rows.map((r) => cols.map((c) => r[c]));
    const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
    const last = table[0].length - 1;
    const lines = table.map((r) => r.map((cell, c) => (c === last ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
    lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
    lines.push(`${this.name}: ${this.numParameters} parameters (${this.dtype}, ${this.device})`);
    return lines.join('\n');
  }

  /** True after dispose(). */
  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Frees θ, the gradient, the buffers, the views and the caches. Idempotent. */
  dispose(): void {
    if (this.isDisposed) return;
    this.releaseCache();
    for (const m of this.built) m.dispose();
    this.parameters.dispose();
    this.gradient.dispose();
    this.buffers.dispose();
    this.isDisposed = true;
  }

  /** @internal Throws when disposed. */
  checkAlive(fn: string): void {
    if (this.isDisposed) throw new Error(`${fn}: the network is disposed`);
  }

  /** @internal dz-like: (batch, outputSize), the network's dtype and device. */
  checkOutputLike(fn: string, arg: string, t: unknown): asserts t is Tensor {
    if (!(t instanceof Tensor)) throw new TypeError(`${fn}: ${arg} must be a Tensor, got ${describe(t)}`);
    if (t.disposed) throw new Error(`${fn}: ${arg}: tensor is disposed`);
    if (t.ndim !== 2 || t.shape[0] !== this.batchSize || t.shape[1] !== this.outputSize) {
      throw new RangeError(`${fn}: ${arg} has shape ${fmtShape(t.shape)} but the last forward output has shape (${this.batchSize}, ${this.outputSize})`);
    }
    if (t.dtype !== this.dtype) throw new RangeError(`${fn}: ${arg} has dtype ${t.dtype} but the network has ${this.dtype}`);
  }

  private checkInput(fn: string, x: unknown): asserts x is Tensor {
    if (!(x instanceof Tensor)) throw new TypeError(`${fn}: x must be a Tensor, got ${describe(x)}`);
    if (x.disposed) throw new Error(`${fn}: x: tensor is disposed`);
    const [C, H, W] = this.inputShape;
    if (x.ndim !== 4 || x.shape[1] !== C || x.shape[2] !== H || x.shape[3] !== W || x.shape[0] < 1) {
      throw new RangeError(`${fn}: x has shape ${fmtShape(x.shape)} but the network expects (N, ${C}, ${H}, ${W}) with N ≥ 1`);
    }
    if (x.dtype !== this.dtype) throw new RangeError(`${fn}: x has dtype ${x.dtype} but the network has ${this.dtype}`);
    if (x.device !== this.device) throw new RangeError(`${fn}: x is on ${x.device} but the network is on ${this.device}`);
  }
}

/** The starting value of a constant parameter or buffer. */
function initialValue(slot: ParameterSlot): number {
  if (slot.init === 'ones') return 1;
  if (slot.init === 'zeros' || slot.init === 'fan') return 0;
  return slot.init.constant;
}

/** Disposes views made by Network.parameterViews. */
export function disposeViews(views: readonly (ParameterViews | null)[]): void {
  for (const v of views) if (v !== null) for (const t of Object.values(v)) t.dispose();
}

function describeModule(m: Module): string {
  const info = m.info;
  const spec = (m as { spec?: unknown }).spec as Record<string, unknown> | undefined;
  const pair = (p: unknown) => (Array.isArray(p) ? p.join('x') : String(p));
  switch (info.kind) {
    case 'conv2d':
      return `conv2d ${pair(spec?.kernel)}x${info.inputShape[0]}, ${String(spec?.outChannels)} filters, stride ${pair(spec?.stride)}, pad ${pair(spec?.padding)}${spec?.bias === false ? ', no bias' : ''}`;
    case 'linear':
      return `linear ${info.inputShape[0]} → ${String(spec?.outFeatures)}`;
    case 'maxPool2d':
    case 'avgPool2d':
      return `${info.kind} ${pair(spec?.kernel)}, stride ${pair(spec?.stride)}`;
    case 'dropout':
      return `dropout p=${String((m as { p?: unknown }).p)}`;
    case 'batchNorm2d':
      return `batchNorm2d ${info.inputShape[0]}${spec?.affine === false ? ', no affine' : ''}`;
    case 'newtonResidual':
      return `newtonResidual ${spec?.relu === false ? 'identity' : 'relu'}(a + b + α·p${info.inputShapes.length === 4 ? '⊙q' : ''})`;
    case 'cgNetUpdate':
      return `cgNetUpdate${spec?.first === true ? ' (first)' : ''}`;
    case 'constantScale':
      return `constantScale ×${String((m as { factor?: unknown }).factor)}`;
    case 'concat':
      return `concat ${info.inputShapes.map((s) => s[0]).join('+')}`;
    default:
      return info.kind;
  }
}

