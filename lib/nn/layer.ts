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
   * `inputGradient` is false (the first layer of a network needs no dx).
   */
  backward(dy: Tensor, inputGradient: boolean): Tensor | null;
  /** Drops the cache (disposes layer-owned cached tensors; borrowed ones are only forgotten). */
  releaseCache(): void;
  /** Releases the cache and the parameter views. */
  dispose(): void;
}
