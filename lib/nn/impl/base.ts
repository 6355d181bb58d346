// Common plumbing of the built layers: parameter/gradient views, cache bookkeeping, dispose.
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, Layer, LayerInfo, LayerKind } from '../layer';

/** Base of every built layer: holds the info, the θ/gradient views and the dispose logic. */
export abstract class BaseLayer implements Layer {
  readonly kind: LayerKind;
  readonly inputShape: ExampleShape;
  readonly outputShape: ExampleShape;
  readonly info: LayerInfo;
  weight: Tensor | null = null;
  bias: Tensor | null = null;
  /** Gradient view of the weight (same offset in the gradient tensor as the weight in θ). */
  protected weightGrad: Tensor | null = null;
  /** Gradient view of the bias. */
  protected biasGrad: Tensor | null = null;

  protected constructor(info: LayerInfo) {
    this.kind = info.kind;
    this.inputShape = info.inputShape;
    this.outputShape = info.outputShape;
    this.info = info;
  }

  bind(weight: Tensor | null, bias: Tensor | null, weightGrad: Tensor | null, biasGrad: Tensor | null): void {
    this.disposeViews();
    this.weight = weight;
    this.bias = bias;
    this.weightGrad = weightGrad;
    this.biasGrad = biasGrad;
  }

  abstract forward(x: Tensor, ctx: ForwardContext): Tensor;
  abstract backward(dy: Tensor, inputGradient: boolean): Tensor | null;
  abstract releaseCache(): void;

  /** The weight view, or an Error when the layer is not bound (a programming error). */
  protected boundWeight(): Tensor {
    if (this.weight === null) throw new Error(`${this.kind}: layer ${this.info.index} has no parameters bound`);
    return this.weight;
  }

  /** Throws when backward is called without a cached forward pass. */
  protected noCache(): never {
    throw new Error(`${this.kind}: backward called without a forward pass (layer ${this.info.index})`);
  }

  private disposeViews(): void {
    for (const t of [this.weight, this.bias, this.weightGrad, this.biasGrad]) t?.dispose();
    this.weight = this.bias = this.weightGrad = this.biasGrad = null;
  }

  dispose(): void {
    this.releaseCache();
    this.disposeViews();
  }
}

/** Builds a LayerInfo without parameters. */
export function plainInfo(index: number, kind: LayerKind, inputShape: ExampleShape, outputShape: ExampleShape): LayerInfo {
  return Object.freeze({
    index,
    kind,
    inputShape: Object.freeze([...inputShape]),
    outputShape: Object.freeze([...outputShape]),
    parameterCount: 0,
    fanIn: 0,
    fanOut: 0,
  });
}

/** The batch shape (N, ...exampleShape). */
export function batchShape(n: number, example: ExampleShape): number[] {
  return [n, ...example];
}
