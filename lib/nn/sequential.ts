// Sequential: a chain of layers whose parameters live in ONE contiguous tensor θ.
//
// Layout of θ (and of `gradient`, identical): for each layer in order, its weight (row-major in
// its own shape) then its bias. Each layer holds views (tensor.view) of θ and of the gradient,
// so writing θ changes the network and optimizers update all parameters with single vector ops.
//
// Memory: forward keeps the activations (each layer's input) until the next forward pass,
// releaseCache() or dispose(); the input x given to forward is borrowed and must stay alive
// until backward has run. The output z of forward belongs to the caller.
import { copy } from '../ops';
import { describe } from '../errors';
import { Tensor } from '../tensor';
import { buildLayer } from './build';
import { MaxPoolLayer } from './impl/pool';
import { ReluLayer } from './impl/relu';
import { checkInit, initializeLayers, type Initializer, type InitOptions } from './init';
import type { ExampleShape, Layer, LayerInfo } from './layer';
import type { LayerSpec } from './layers';
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

/** Options of the Sequential constructor. */
export interface SequentialOptions {
  /** Element type of θ and of every activation (default 'float32'; 'float64' on CPU for derivative checks). */
  dtype?: FloatDType;
  /** Device of θ (default 'cpu'). */
  device?: string;
  /** A name for summaries and checkpoints (default 'sequential'). */
  name?: string;
}

/** Options of Sequential.forward. */
export interface ForwardOptions {
  /** Training mode (dropout active). Default false. */
  training?: boolean;
  /** Seed of the dropout masks of this pass (default: derived from a per-network pass counter). */
  noiseSeed?: number;
}

/** Options of Sequential.backward. */
export interface BackwardOptions {
  /** Also compute and return ∂L/∂x of the network input (default false). */
  inputGradient?: boolean;
}

function checkInputShape(fn: string, shape: unknown): readonly [number, number, number] {
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) {
    const got = Array.isArray(shape) ? `[${shape.map(String).join(', ')}]` : shape === null ? 'null' : typeof shape;
    throw new RangeError(`${fn}: inputShape must be [C, H, W] with positive integers, got ${got}`);
  }
  return Object.freeze([shape[0], shape[1], shape[2]]) as readonly [number, number, number];
}

/** A feed-forward network: layers applied in order to (N, C, H, W) inputs, producing (N, outputSize). */
export class Sequential {
  /** Per-example input shape [C, H, W]. */
  readonly inputShape: readonly [number, number, number];
  /** Width of the output z (number of classes for a classifier). */
  readonly outputSize: number;
  /** Number of parameters P (length of θ). */
  readonly numParameters: number;
  /** θ: all parameters, (P), each layer's weight then bias in layer order. */
  readonly parameters: Tensor;
  /** ∂/∂θ of the last backward pass, same layout as θ. */
  readonly gradient: Tensor;
  /** Element type of θ and the activations. */
  readonly dtype: FloatDType;
  /** Device of θ. */
  readonly device: string;
  /** The network's name. */
  readonly name: string;
  /** The layer specifications the network was built from. */
  readonly specs: readonly LayerSpec[];
  /** The built layers (their caches and parameter views are for the training code and later jvp). */
  readonly built: readonly Layer[];

  private activations: Tensor[] = [];
  /** An alias (shared memory) of the last forward output z, kept for the loss Hessian B(z). */
  private output: Tensor | null = null;
  private batchSize = 0;
  private passes = 0;
  private readonly firstParameterLayer: number;
  private isDisposed = false;

  /**
   * Builds the network for per-example inputs of shape `inputShape`.
   * @throws RangeError when a layer does not fit its input (e.g. the image is too small for the
   *   pools), when the last layer's output is not flat, or on bad options.
   */
  constructor(inputShape: readonly [number, number, number], layers: readonly LayerSpec[], options?: SequentialOptions) {
    const fn = 'Sequential';
    this.inputShape = checkInputShape(fn, inputShape);
    if (!Array.isArray(layers) || layers.length === 0) {
      throw new RangeError(`${fn}: layers must be a non-empty array of layer specs, got ${Array.isArray(layers) ? 'an empty array' : describe(layers)}`);
    }
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
    }
    const dtype = options?.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') {
      throw new RangeError(`${fn}: options.dtype must be 'float32' or 'float64', got ${String(dtype)}`);
    }
    this.dtype = dtype;
    this.device = options?.device ?? 'cpu';
    this.name = options?.name ?? 'sequential';
    this.specs = Object.freeze([...layers]);

    const built: Layer[] = [];
    let shape: ExampleShape = this.inputShape;
    let offset = 0;
    for (let i = 0; i < layers.length; i++) {
      const layer = buildLayer(layers[i], i, shape, offset);
      built.push(layer);
      offset += layer.info.parameterCount;
      shape = layer.outputShape;
    }
    if (shape.length !== 1) {
      throw new RangeError(`${fn}: the last layer must produce a flat output (N, K), got per-example shape ${fmtShape(shape)}; add flatten() or a linear layer`);
    }
    this.outputSize = shape[0];
    this.numParameters = offset;
    this.built = Object.freeze(built);
    this.firstParameterLayer = built.findIndex((l) => l.info.parameterCount > 0);

    this.parameters = Tensor.zeros([offset], { dtype, device: this.device });
    this.gradient = Tensor.zeros([offset], { dtype, device: this.device });
    for (const layer of built) {
      const { weight, bias } = layer.info;
      layer.bind(
        weight ? this.parameters.view(weight.offset, weight.shape) : null,
        bias ? this.parameters.view(bias.offset, bias.shape) : null,
        weight ? this.gradient.view(weight.offset, weight.shape) : null,
        bias ? this.gradient.view(bias.offset, bias.shape) : null,
      );
    }
  }

  /** Static description of every layer: kind, shapes, parameter offsets/shapes in θ. */
  layers(): readonly LayerInfo[] {
    return this.built.map((l) => l.info);
  }

  /**
   * Initialises θ in place: weights by `initializer` (He-normal N(0,1)·√(2/n_in), Xavier
   * U(±√(6/(n_in+n_out))), or Xavier × options.scale), biases 0. Deterministic in options.seed.
   */
  init(initializer: Initializer, options: InitOptions): void {
    this.checkAlive('Sequential.init');
    const o = checkInit('Sequential.init', initializer, options);
    initializeLayers(this.built, o.initializer, o.seed, o.scale);
  }

  /**
   * z = network(x) for x (N, C, H, W) → z (N, outputSize), owned by the caller. Keeps the
   * activations for backward (replacing those of the previous pass). Dropout is active only
   * with options.training.
   */
  forward(x: Tensor, options?: ForwardOptions): Tensor {
    const fn = 'Sequential.forward';
    this.checkAlive(fn);
    this.checkInput(fn, x);
    const training = options?.training ?? false;
    if (typeof training !== 'boolean') throw new TypeError(`${fn}: options.training must be a boolean, got ${describe(training)}`);
    const noiseSeed = options?.noiseSeed ?? mixSeed(0x5eed, this.passes);
    if (!Number.isSafeInteger(noiseSeed) || noiseSeed < 0) {
      throw new RangeError(`${fn}: options.noiseSeed must be a non-negative safe integer, got ${String(noiseSeed)}`);
    }
    this.passes++;
    this.releaseCache();
    const ctx = { training, noiseSeed };
    const acts: Tensor[] = [x];
    let cur = x;
    try {
      for (const layer of this.built) {
        cur = layer.forward(cur, ctx);
        acts.push(cur);
      }
    } catch (e) {
      for (let i = 1; i < acts.length; i++) acts[i].dispose();
      for (const layer of this.built) layer.releaseCache();
      throw e;
    }
    acts.pop(); // z belongs to the caller
    this.activations = acts;
    this.output = cur.reshape(cur.shape);
    this.batchSize = x.shape[0];
    return cur;
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
    const fn = 'Sequential.backward';
    this.checkAlive(fn);
    if (this.activations.length === 0) throw new Error(`${fn}: no forward pass to differentiate (call forward first)`);
    if (!(dz instanceof Tensor)) throw new TypeError(`${fn}: dz must be a Tensor, got ${describe(dz)}`);
    if (dz.disposed) throw new Error(`${fn}: dz: tensor is disposed`);
    if (dz.ndim !== 2 || dz.shape[0] !== this.batchSize || dz.shape[1] !== this.outputSize) {
      throw new RangeError(`${fn}: dz has shape ${fmtShape(dz.shape)} but the last forward output has shape (${this.batchSize}, ${this.outputSize})`);
    }
    if (dz.dtype !== this.dtype) throw new RangeError(`${fn}: dz has dtype ${dz.dtype} but the network has ${this.dtype}`);
    const inputGradient = options?.inputGradient ?? false;
    const last = inputGradient ? 0 : Math.max(this.firstParameterLayer, 0);
    if (!inputGradient && this.firstParameterLayer < 0) return null;
    let dy = dz;
    try {
      for (let i = this.built.length - 1; i >= last; i--) {
        const layer = this.built[i];
        const below = i - 1 >= last ? this.built[i - 1] : undefined;
        let dx: Tensor | null;
        if (layer instanceof MaxPoolLayer && below instanceof ReluLayer && below.cache !== null && (i - 1 > last || inputGradient)) {
          // ReLU → max pooling (every conv block of cnn3/cnn5): one fused pass over the
          // activations instead of two; the ReLU has no parameters, so it is skipped.
          dx = layer.backwardThroughRelu(dy, below.cache.input);
          i--;
        } else {
          dx = layer.backward(dy, i > last || inputGradient);
        }
        if (dy !== dz) dy.dispose();
        if (dx === null) return null;
        dy = dx;
      }
    } catch (e) {
      if (dy !== dz) dy.dispose();
      throw e;
    }
    return dy;
  }

  /** Frees the activations and layer caches of the last forward pass (and a stored Jacobian). */
  releaseCache(): void {
    disposeStoredJacobian(this);
    for (let i = 1; i < this.activations.length; i++) this.activations[i].dispose();
    this.activations = [];
    this.output?.dispose();
    this.output = null;
    for (const layer of this.built) layer.releaseCache();
  }

  /**
   * Jv for a θ-shaped tangent v (P): the R-operator pass over the last forward pass's batch,
   * reusing its cache. Returns (N, outputSize), owned by the caller. See lib/nn/products.ts.
   */
  jvp(v: Tensor): Tensor {
    return networkJvp(this, v);
  }

  /**
   * Jᵀu for u (N, outputSize) on the last forward pass's batch: a θ-shaped (P) tensor owned by
   * the caller. Unlike backward, it leaves this.gradient untouched.
   */
  vjp(u: Tensor): Tensor {
    return networkVjp(this, u);
  }

  /**
   * (G_S + λI)v = (1/Cl + λ)v + (1/|S|) Jᵀ B J v on the last forward pass's batch S (Cl = C·l),
   * for v (P); a new (P) tensor. Leaves this.gradient untouched. mode 'rop' (default) uses the
   * R-operator, 'stored' the per-sample Jacobians of S (stored at the first such product).
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

  /**
   * Computes and stores the per-sample Jacobians J of the last forward pass's batch for the
   * 'stored' Gauss-Newton mode (|S|·outputSize·P elements; RangeError above options.maxBytes).
   */
  prepareStoredJacobian(options?: StoredJacobianOptions): StoredJacobianInfo {
    return prepareStoredJacobian(this, options);
  }

  /** Frees the stored Jacobian (also done by the next forward pass, releaseCache and dispose). */
  disposeStored(): void {
    disposeStoredJacobian(this);
  }

  /**
   * @internal The last forward pass's state for lib/nn/products.ts: its activations (each
   * layer's input, borrowed), z (an alias), the batch size and the first parameter layer;
   * null without a cached forward pass.
   */
  forwardState(): { readonly activations: readonly Tensor[]; readonly output: Tensor; readonly batchSize: number; readonly firstParameterLayer: number; readonly pass: number } | null {
    if (this.isDisposed || this.activations.length === 0 || this.output === null) return null;
    return { activations: this.activations, output: this.output, batchSize: this.batchSize, firstParameterLayer: this.firstParameterLayer, pass: this.passes };
  }

  /** Copies `values` (length P, any float typed array or Tensor) into θ. */
  setParameters(values: Float32Array | Float64Array | Tensor): void {
    const fn = 'Sequential.setParameters';
    this.checkAlive(fn);
    if (values instanceof Tensor) {
      if (values.size !== this.numParameters) throw new RangeError(`${fn}: values has ${values.size} elements but the network has ${this.numParameters} parameters`);
      copy(this.parameters, values.reshape([this.numParameters]));
      return;
    }
    if (!isFloatArray(values)) {
      throw new TypeError(`${fn}: values must be a Float32Array, Float64Array or Tensor, got ${describe(values)}`);
    }
    if (values.length !== this.numParameters) throw new RangeError(`${fn}: values has ${values.length} elements but the network has ${this.numParameters} parameters`);
    const t = Tensor.from(values, { dtype: this.dtype, device: this.device });
    copy(this.parameters, t);
    t.dispose();
  }

  /** A copy of θ as a typed array of the network's dtype. */
  getParameters(): Float32Array | Float64Array {
    this.checkAlive('Sequential.getParameters');
    return this.parameters.toArray() as Float32Array | Float64Array;
  }

  /** A table of the layers, their output shapes and parameter counts. */
  summary(): string {
    const rows: string[][] = [['#', 'layer', 'output', 'parameters']];
    rows.push(['', 'input', fmtShape(this.inputShape), '']);
    for (const l of this.built) {
      rows.push([String(l.info.index), describeLayer(l, this.specs[l.info.index]), fmtShape(l.outputShape), String(l.info.parameterCount)]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    const lines = rows.map((r) => r.map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
    lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
    lines.push(`${this.name}: ${this.numParameters} parameters (${this.dtype}, ${this.device})`);
    return lines.join('\n');
  }

  /** True after dispose(). */
  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Frees θ, the gradient, the views and the caches. Idempotent. */
  dispose(): void {
    if (this.isDisposed) return;
    this.releaseCache();
    for (const layer of this.built) layer.dispose();
    this.parameters.dispose();
    this.gradient.dispose();
    this.isDisposed = true;
  }

  private checkAlive(fn: string): void {
    if (this.isDisposed) throw new Error(`${fn}: the network is disposed`);
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

function describeLayer(layer: Layer, spec: LayerSpec): string {
  switch (spec.kind) {
    case 'conv2d':
      return `conv2d ${spec.kernel[0]}x${spec.kernel[1]}x${layer.inputShape[0]}, ${spec.outChannels} filters, stride ${spec.stride.join('x')}, pad ${spec.padding.join('x')}`;
    case 'linear':
      return `linear ${layer.inputShape[0]} → ${spec.outFeatures}`;
    case 'maxPool2d':
    case 'avgPool2d':
      return `${spec.kind} ${spec.kernel.join('x')}, stride ${spec.stride.join('x')}`;
    case 'dropout':
      return `dropout p=${spec.p}`;
    default:
      return spec.kind;
  }
}
