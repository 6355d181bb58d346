// The layer contract shared by every layer of a Sequential network.
//
// A layer works on batches: its input is (N, ...inputShape) and its output (N, ...outputShape),
// where inputShape / outputShape are per-example shapes ([C, H, W] for images, [F] for flat
// features). Parameters live in the network's ONE contiguous θ tensor: the Sequential binds
// each layer to views of θ (weight then bias) and to views of the gradient tensor at the same
// offsets, so optimizers and CG work on θ with single vector operations.
//
// Caches: forward keeps exactly what backward (and, in a later issue, the R-operator pass
// `jvp` and Hessian products) needs, in an explicit `cache` object per layer:
//   - `input`: the layer's input x (BORROWED: owned by the Sequential, which keeps every
//     activation of the last forward pass alive until the next pass or releaseCache());
//   - layer-owned tensors (max-pool argmax, dropout mask): disposed by the layer when the
//     cache is replaced or released.
import type { Tensor } from '../tensor';

/** The kind names of the layers a Sequential can hold. */
export type LayerKind = 'conv2d' | 'linear' | 'relu' | 'maxPool2d' | 'avgPool2d' | 'flatten' | 'dropout';

/** Per-example shape of a layer's input or output: [C, H, W] for images, [F] for features. */
export type ExampleShape = readonly number[];

/** Where one parameter tensor (weight or bias) of a layer lives inside θ. */
export interface ParameterSlot {
  /** Element offset of the parameter inside θ (and inside the gradient). */
  readonly offset: number;
  /** The parameter's shape: (K, C, R, S) for conv weights, (O, I) for linear weights, (K) for biases. */
  readonly shape: readonly number[];
  /** Number of elements (the product of `shape`). */
  readonly size: number;
}

/** Description of one layer of a built network (see Sequential.layers()). */
export interface LayerInfo {
  /** Position of the layer in the network (0-based). */
  readonly index: number;
  /** The layer's kind. */
  readonly kind: LayerKind;
  /** Per-example input shape. */
  readonly inputShape: ExampleShape;
  /** Per-example output shape. */
  readonly outputShape: ExampleShape;
  /** Total number of parameters of the layer (weight + bias). */
  readonly parameterCount: number;
  /** The weight's slot in θ, when the layer has one. */
  readonly weight?: ParameterSlot;
  /** The bias's slot in θ, when the layer has one. */
  readonly bias?: ParameterSlot;
  /** Fan-in used by the initialisers (C·R·S for conv, in_features for linear); 0 without weights. */
  readonly fanIn: number;
  /** Fan-out used by Xavier (K·R·S for conv, out_features for linear); 0 without weights. */
  readonly fanOut: number;
}

/** Options of one forward pass. */
export interface ForwardContext {
  /** Training mode: dropout active. Inference (false) makes dropout the identity. */
  readonly training: boolean;
  /** Seed for the stochastic layers (dropout) of this pass; a non-negative safe integer. */
  readonly noiseSeed: number;
}

/**
 * Tangents (or outputs) for one layer's parameters: views of a θ-shaped vector at the layer's
 * weight and bias slots (same shapes as the layer's weight and bias; null where it has none).
 * Used by the R-operator (`jvp`: the directional derivative along v = (V, v_b)), by `backward`
 * to redirect the parameter gradient, and by `backwardJvp` as the destination of R{dW}, R{db}.
 */
export interface ParameterTangent {
  /** V: the weight's tangent, shaped like the weight ((K, C, R, S) or (O, I)). */
  readonly weight: Tensor | null;
  /** v_b: the bias's tangent, shaped like the bias (K) / (O). */
  readonly bias: Tensor | null;
}

/** What `backwardJvp` returns: the input gradient and its R-operator. */
export interface BackwardJvpResult {
  /** dx = ∂L/∂x, (N, ...inputShape), owned by the caller. */
  readonly dx: Tensor;
  /** R{dx}, the directional derivative of dx, (N, ...inputShape), owned by the caller. */
  readonly rdx: Tensor;
}

/** A built layer of a Sequential network. */
export interface Layer {
  /** The layer's kind: 'conv2d', 'linear', 'relu', 'maxPool2d', 'avgPool2d', 'flatten' or 'dropout'. */
  readonly kind: LayerKind;
  /** Per-example input shape. */
  readonly inputShape: ExampleShape;
  /** Per-example output shape. */
  readonly outputShape: ExampleShape;
  /** Static description: shapes and parameter slots. */
  readonly info: LayerInfo;
  /** The weight view into θ (null for layers without weights). */
  readonly weight: Tensor | null;
  /** The bias view into θ (null without bias). */
  readonly bias: Tensor | null;
  /**
   * Attaches the layer to views of θ and of the gradient (called by Sequential).
   * The layer takes ownership of the views (it disposes them in dispose()).
   */
  bind(weight: Tensor | null, bias: Tensor | null, weightGrad: Tensor | null, biasGrad: Tensor | null): void;
  /** y = layer(x) for a batch; replaces the cache with what backward needs. The caller owns y. */
  forward(x: Tensor, ctx: ForwardContext): Tensor;
  /**
   * Given dy = ∂L/∂y of the last forward pass, writes ∂L/∂W and ∂L/∂b into the gradient views
   * (overwriting them) and returns dx = ∂L/∂x (owned by the caller), or null when
   * `inputGradient` is false (the first layer of a network needs no dx). With `grads` (views of
   * another θ-shaped tensor), ∂L/∂W and ∂L/∂b are written there and the gradient views are
   * left untouched.
   */
  backward(dy: Tensor, inputGradient: boolean, grads?: ParameterTangent): Tensor | null;
  /**
   * The R-operator of the last forward pass (reusing its cache): R{y} (N, ...outputShape) from
   * R{x} (N, ...inputShape; null means R{x} = 0, e.g. before the first parameter layer) and the
   * tangent v of this layer's parameters (null for layers without any). Owned by the caller.
   */
  jvp(rx: Tensor | null, v: ParameterTangent | null): Tensor;
  /**
   * The R-operator of the backward pass (forward-over-reverse, for exact Hessian products):
   * from dy, R{dy} (N, ...outputShape), R{x} (null = 0) and the tangent v of the last forward
   * pass's parameters, writes R{dW}, R{db} into `out` (views of a θ-shaped result; null for
   * layers without parameters) and returns { dx, R{dx} } when `inputGradient`, else null.
   * E.g. linear: R{dx} = R{dy}W + dy V, R{dW} = R{dy}ᵀx + dyᵀR{x}, R{db} = Σ R{dy}.
   */
  backwardJvp(
    dy: Tensor,
    rdy: Tensor,
    rx: Tensor | null,
    v: ParameterTangent | null,
    out: ParameterTangent | null,
    inputGradient: boolean,
  ): BackwardJvpResult | null;
  /** Drops the cache (disposes layer-owned cached tensors; borrowed ones are only forgotten). */
  releaseCache(): void;
  /** Releases the cache and the parameter views. */
  dispose(): void;
}
