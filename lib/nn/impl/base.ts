// Common plumbing of the built layers: parameter/gradient views, cache bookkeeping, dispose.
import type { Tensor } from '../../tensor';
import type { BackwardJvpResult, ExampleShape, ForwardContext, Layer, LayerInfo, LayerKind, ParameterTangent } from '../layer';

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
  abstract backward(dy: Tensor, inputGradient: boolean, grads?: ParameterTangent): Tensor | null;
  abstract jvp(rx: Tensor | null, v: ParameterTangent | null): Tensor;
  abstract releaseCache(): void;

  /**
   * The R-operator of backward for a layer without parameters whose backward is, for the
   * cached forward pass, a fixed linear map of dy (relu's mask, pooling, flatten, dropout's
   * mask): R{dx} = backward(R{dy}). Parameter layers override it.
   */
  backwardJvp(
    dy: Tensor,
    rdy: Tensor,
    _rx: Tensor | null,
    _v: ParameterTangent | null,
    _out: ParameterTangent | null,
    inputGradient: boolean,
  ): BackwardJvpResult | null {
    if (!inputGradient) return null;
    const dx = this.backward(dy, true)!;
    try {
      return { dx, rdx: this.backward(rdy, true)! };
    } catch (e) {
      dx.dispose();
      throw e;
    }
  }

  /** rx for a layer without parameters: R{y} is a linear map of R{x}, which must be given. */
  protected requireTangent(rx: Tensor | null): Tensor {
    if (rx === null) {
      throw new TypeError(`${this.kind}.jvp: rx must be a Tensor for a layer without parameters (layer ${this.info.index}); start the R-operator pass at the first parameter layer`);
    }
    return rx;
  }

  /** The weight tangent of a parameter layer's jvp / backwardJvp (a programming error when missing). */
  protected weightTangent(fn: string, v: ParameterTangent | null): Tensor {
    if (v === null || v.weight === null) throw new TypeError(`${this.kind}.${fn}: v.weight must be a Tensor for layer ${this.info.index}`);
    return v.weight;
  }

  /** The weight view, or an Error when the layer is not bound (a programming error). */
  protected boundWeight(): Tensor {
    if (this.weight === null) throw new Error(`${this.kind}: layer ${this.info.index} has no parameters bound`);
    return this.weight;
  }

  /** Throws when backward (or jvp) is called without a cached forward pass. */
  protected noCache(): never {
    throw new Error(`${this.kind}: backward or jvp called without a forward pass (layer ${this.info.index})`);
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
