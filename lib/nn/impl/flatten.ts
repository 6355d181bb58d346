// Flatten layer: (N, C, H, W) → (N, C·H·W); a reshape (shares memory), backward reshapes back.
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, ParameterTangent } from '../layer';
import { prod } from '../shape-util';
import { BaseLayer, batchShape, plainInfo } from './base';

/** A built flatten layer. */
export class FlattenLayer extends BaseLayer {
  private constructor(index: number, inputShape: ExampleShape) {
    super(plainInfo(index, 'flatten', inputShape, [prod(inputShape)]));
  }

  /** Builds the layer for per-example input shape `inputShape`. */
  static create(index: number, inputShape: ExampleShape): FlattenLayer {
    return new FlattenLayer(index, inputShape);
  }

  forward(x: Tensor, _ctx: ForwardContext): Tensor {
    return x.reshape(batchShape(x.shape[0], this.outputShape));
  }

  backward(dy: Tensor, inputGradient: boolean): Tensor | null {
    return inputGradient ? dy.reshape(batchShape(dy.shape[0], this.inputShape)) : null;
  }

  /** R{y} = R{x} reshaped (N, C·H·W); shares R{x}'s memory (dispose it as any tensor). */
  jvp(rx: Tensor | null, _v: ParameterTangent | null): Tensor {
    const r = this.requireTangent(rx);
    return r.reshape(batchShape(r.shape[0], this.outputShape));
  }

  releaseCache(): void {
    // nothing cached
  }
}
