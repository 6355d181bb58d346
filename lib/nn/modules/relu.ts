// ReLU: y = max(x, 0); dx = dy ⊙ 1[x > 0]; R{y} = R{x} ⊙ 1[x > 0].
import { relu, reluBackward } from '../../ops';
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews } from '../module';
import { BaseModule, moduleInfo } from './base';

export class ReluModule extends BaseModule {
  /** The pre-activation x of the last forward pass (borrowed); null before it. */
  private input: Tensor | null = null;

  constructor(index: number, inputShapes: readonly ExampleShape[]) {
    super(moduleInfo({ kind: 'relu', inputShapes, outputShape: inputShapes[0] }, index, 0, 0));
  }

  /**
   * What the ReLU's derivatives are masked with, 1[· > 0]: the cached pre-activation, or its
   * output after a fused forward (forwardFused); the executor's fused ReLU → max-pool backward
   * reads it. Null without a pass.
   */
  get cachedInput(): Tensor | null {
    return this.input;
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = relu(xs[0]);
    this.input = xs[0];
    return y;
  }

  /**
   * Takes y = relu(x), computed by the producer of x in the same pass (conv2dRelu: the
   * executor's conv → ReLU rewrite), as this pass's result: y (borrowed) becomes the mask
   * source, since y > 0 exactly where x > 0 (NaN included), so every pass gives the bits it
   * gives with x cached.
   */
  forwardFused(y: Tensor): void {
    this.releaseCache();
    this.input = y;
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    const x = this.input ?? this.noCache();
    return [needInputs[0] ? reluBackward(dy, x) : null];
  }

  /** R{y} = R{x} ⊙ 1[x > 0] (N, ...shape), x the cached input. */
  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    const x = this.input ?? this.noCache();
    return reluBackward(this.requireTangent(rxs), x);
  }

  releaseCache(): void {
    this.input = null;
  }
}
