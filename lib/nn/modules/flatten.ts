// Flatten (N, C, H, W) → (N, C·H·W) and identity: reshapes that share memory; their passes
// reshape back.
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews } from '../module';
import { prod } from '../shape-util';
import { BaseModule, batchShape, moduleInfo } from './base';

export class FlattenModule extends BaseModule {
  constructor(index: number, inputShapes: readonly ExampleShape[], kind: 'flatten' | 'identity' = 'flatten') {
    const outputShape = kind === 'flatten' ? [prod(inputShapes[0])] : inputShapes[0];
    super(moduleInfo({ kind, inputShapes, outputShape }, index, 0, 0));
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    return xs[0].reshape(batchShape(xs[0].shape[0], this.info.outputShape));
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    return [needInputs[0] ? dy.reshape(batchShape(dy.shape[0], this.info.inputShape)) : null];
  }

  /** R{y} = R{x} reshaped; shares R{x}'s memory (dispose it as any tensor). */
  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    const r = this.requireTangent(rxs);
    return r.reshape(batchShape(r.shape[0], this.info.outputShape));
  }

  releaseCache(): void {
    // nothing cached
  }
}
