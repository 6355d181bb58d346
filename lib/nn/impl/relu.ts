// ReLU layer: y = max(x, 0); dx = dy ⊙ 1[x > 0].
import { relu, reluBackward } from '../../ops';
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, ParameterTangent } from '../layer';
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

  /** R{y} = R{x} ⊙ 1[x > 0] (N, ...shape), x the cached input. */
  jvp(rx: Tensor | null, _v: ParameterTangent | null): Tensor {
    const cache = this.cache ?? this.noCache();
    return reluBackward(this.requireTangent(rx), cache.input);
  }

  releaseCache(): void {
    this.cache = null;
  }
}
