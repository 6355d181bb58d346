// The module contract: one node of a network graph (lib/nn/graph.ts) with its four passes
// side by side. The graph executor (lib/nn/executor.ts) is the only code that calls them.
//
// Note [module passes]
// ~~~~~~~~~~~~~~~~~~~~
// A module maps its inputs x₁…x_k (per example shapes `inputShapes`) and its parameters θ_m
// to one output y. Its four passes, on the batch of the last forward pass (whose cache it keeps):
//   forward   y = f(x, θ_m)                                    keeps what the others need
//   vjp       dx_i = (∂y/∂x_i)ᵀ dy, dθ_m = (∂y/∂θ_m)ᵀ dy        the gradient (backward)
//   jvp       R{y} = Σ_i (∂y/∂x_i) R{x_i} + (∂y/∂θ_m) v_m       the R-operator
//   vjpJvp    dx_i and R{dx_i}, R{dθ_m}: the R-operator of vjp   for exact Hessian products
// A module may have several outputs (ModuleInfo.outputShapes, the CG update of Newton-CGNet):
// then forward and jvp return one tensor per output, and vjp and vjpJvp take one cotangent per
// output (null: zero). Every other module has one output and sees plain tensors.
// Tangents and cotangents of inputs may be null, meaning zero (no parameter upstream). A
// module's parameters live in the network's one θ (lib/nn/network.ts): `bind` gives it views
// of θ, of the gradient at the same offsets, and of the buffers (state that is not a
// parameter: batch-norm running statistics). The caches borrow the module's inputs, which
// the executor keeps alive until the next forward pass or releaseCache().
import type { Tensor } from '../tensor';

/** Per-example shape of a value: [C, H, W] for images, [F] for features. */
export type ExampleShape = readonly number[];

/** Where one parameter (or buffer) of a module lives, and how it starts. */
export interface ParameterSlot {
  /** The parameter's name within its module ('weight', 'bias', 'alpha', ...). */
  readonly name: string;
  /** Element offset in θ (or in the buffer tensor for buffers). */
  readonly offset: number;
  /** Its shape. */
  readonly shape: readonly number[];
  /** Its element count. */
  readonly size: number;
  /**
   * How Network.init sets it: 'fan' draws it from the network's initialiser with the module's
   * fan-in / fan-out; 'zeros', 'ones' or a constant value otherwise.
   */
  readonly init: 'fan' | 'zeros' | 'ones' | { readonly constant: number };
}

/** Description of one module of a built network (Network.layers()). */
export interface ModuleInfo {
  /** Its node index in the graph (the layer index of a Sequential). */
  readonly index: number;
  /** 'conv2d', 'batchNorm2d', 'add', ... */
  readonly kind: string;
  /** Per-example shape of its first input (all inputs of element-wise modules share it). */
  readonly inputShape: ExampleShape;
  /** Per-example shapes of every input. */
  readonly inputShapes: readonly ExampleShape[];
  readonly outputShape: ExampleShape;
  /** Per-example shapes of every output (one for all modules but those with several outputs). */
  readonly outputShapes: readonly ExampleShape[];
  /** Its parameters, in the order they sit in θ. */
  readonly parameters: readonly ParameterSlot[];
  /** Its buffers (not in θ). */
  readonly buffers: readonly ParameterSlot[];
  /** Total number of parameters. */
  readonly parameterCount: number;
  /** The 'weight' parameter's slot, when it has one. */
  readonly weight?: ParameterSlot;
  /** The 'bias' parameter's slot, when it has one. */
  readonly bias?: ParameterSlot;
  /** Fan-in used by the initialisers (C·R·S for conv, in_features for linear); 0 without weights. */
  readonly fanIn: number;
  /** Fan-out used by Xavier (K·R·S for conv, out_features for linear); 0 without weights. */
  readonly fanOut: number;
}

/** Options of one forward pass. */
export interface ForwardContext {
  /** Training mode: dropout active. Inference (false): dropout is the identity. */
  readonly training: boolean;
  /**
   * Batch norm normalises with the batch's statistics (training mode) rather than its running
   * ones. The Newton method sets it without `training`: its f, ∇f and G see batch norm in
   * training mode and dropout as the identity.
   */
  readonly batchStatistics: boolean;
  /** Seed for the stochastic modules (dropout) of this pass; a non-negative safe integer. */
  readonly noiseSeed: number;
  /**
   * Batch norm on batch statistics updates its running statistics with momentum only when this
   * is true: on the passes a trainer says are steps (never during Gv, Hv or a line search).
   */
  readonly updateStatistics: boolean;
  /**
   * Batch statistics of a batch split among the processes of a data-parallel job (synchronised
   * batch norm), or null: each process's own batch. With it, batch norm in training mode
   * normalises over the whole batch, and its backward and R-operator passes of this forward
   * pass sum their per-channel reductions over the processes too.
   */
  readonly statisticsSync?: StatisticsSync | null;
  /**
   * The position of this batch's first example in the batch it is a share of (a data-parallel
   * rank's shard; default 0): dropout draws example i's mask as the whole batch's example
   * exampleOffset + i, so the shards' masks are the single process's.
   */
  readonly exampleOffset?: number;
}

/**
 * The processes holding one batch between them (Network.forward's options.statisticsSync): every
 * process runs the same passes on its share, and calls sum() in the same order.
 */
export interface StatisticsSync {
  /** The whole batch: the examples of every process together. */
  readonly batchSize: number;
  /** Sums a per-channel tensor over the processes, in place (Distributed.allReduceSum). */
  sum(t: Tensor): void;
}

/** Views of a θ-shaped vector at one module's parameters, by name. */
export type ParameterViews = Readonly<Record<string, Tensor>>;

/**
 * Where vjp writes the parameter gradient: views of a θ-shaped tensor, null for the network's
 * gradient, or false for nowhere (a pass that wants only the input gradients).
 */
export type GradientTarget = ParameterViews | null | false;

/** What vjpJvp returns per input: dx and R{dx} (null where not asked for). */
export interface VjpJvpResult {
  readonly dx: readonly (Tensor | null)[];
  readonly rdx: readonly (Tensor | null)[];
}

/** A built module of a network. */
export interface Module {
  readonly info: ModuleInfo;
  /** Parameter views into θ by name (empty before bind). */
  readonly params: ParameterViews;
  /**
   * Whether example i of the output depends on example i of the inputs alone in the mode of
   * the last forward pass (batch norm in training mode does not: its statistics mix the batch).
   * The stored-Jacobian Gauss-Newton mode needs it.
   */
  perSample(): boolean;
  /** Attaches views of θ, of the gradient and of the buffers; the module owns (and disposes) them. */
  bind(params: ParameterViews, grads: ParameterViews, buffers: ParameterViews): void;
  /** y for the batch inputs xs (N, ...inputShapes); replaces the cache. The caller owns y (one per output). */
  forward(xs: readonly Tensor[], ctx: ForwardContext): Tensor | Tensor[];
  /**
   * From dy (N, ...outputShape) of the last forward pass: writes dθ_m into `grads` (see
   * GradientTarget), overwriting, and returns dx_i for the inputs with needInputs[i] (null for
   * the others), owned by the caller.
   */
  vjp(dy: Tensor | readonly (Tensor | null)[], needInputs: readonly boolean[], grads: GradientTarget): (Tensor | null)[];
  /** R{y} from the input tangents (null = 0) and the parameter tangents v (null = 0). Owned by the caller (one per output). */
  jvp(rxs: readonly (Tensor | null)[], v: ParameterViews | null): Tensor | (Tensor | null)[];
  /**
   * The R-operator of vjp along the tangents of the last R-operator pass (rxs, v): from dy and
   * R{dy}, writes R{dθ_m} into `out` (when not null) and returns dx_i, R{dx_i} for the inputs
   * with needInputs[i].
   */
  vjpJvp(
    dy: Tensor | readonly (Tensor | null)[],
    rdy: Tensor | readonly (Tensor | null)[],
    rxs: readonly (Tensor | null)[],
    v: ParameterViews | null,
    out: ParameterViews | null,
    needInputs: readonly boolean[],
  ): VjpJvpResult;
  /**
   * The parameter gradient of one example, from its inputs xs (1, ...) and dy (1, ...), into
   * `out`: the stored-Jacobian mode's per-sample Jacobian rows. Only for perSample() modules
   * with parameters; absent where not implemented (the stored mode then refuses the network).
   */
  sampleParameterGradient?(xs: readonly Tensor[], dy: Tensor | readonly (Tensor | null)[], out: ParameterViews): void;
  /**
   * Running statistics (buffers) ← their decay over `updates` skipped updates: r ← (1 −
   * momentum)^updates·r, as if batches contributing zero had been seen. A data-parallel pass uses
   * it for the batches other processes update from (Network.decayStatistics). Absent on modules
   * without buffers.
   */
  decayStatistics?(updates: number): void;
  /** Drops the cache (disposes owned cached tensors; borrowed ones are only forgotten). */
  releaseCache(): void;
  /** Releases the cache and the views. */
  dispose(): void;
}
