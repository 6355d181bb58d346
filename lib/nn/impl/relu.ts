// ReLU layer: y = max(x, 0); dx = dy ⊙ 1[x > 0].
import { relu, reluBackward } from '../../ops';
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext } from '../layer';
import { BaseLayer, plainInfo } from './base';

/** Cache of a ReLU forward pass. */
export interface ReluCache {
  /** The pre-activation x (borrowed from the Sequential's activations). */
  readonly input: Tensor;
}

/** A built ReLU layer. */
export class ReluLayer extends BaseLayer {
  /** What the last forward pass left for backward / jvp; null before the first pass. */
  cache: ReluCache | null = null;

  private constructor(index: number, shape: ExampleShape) {
    super(plainInfo(index, 'relu', shape, shape));
  }

  /** Builds the layer for per-example input shape `inputShape`. */
  static create(index: number, inputShape: ExampleShape): ReluLayer {
    return new ReluLayer(index, inputShape);
  }

  forward(x: Tensor, _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = relu(x);
    this.cache = { input: x };
    return y;
  }

  backward(dy: Tensor, inputGradient: boolean): Tensor | null {
    const cache = this.cache ?? this.noCache();
    return inputGradient ? reluBackward(dy, cache.input) : null;
  }

  releaseCache(): void {
    this.cache = null;
  }
}
