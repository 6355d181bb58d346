// Inverted dropout: training y = x ⊙ m with m = 1[u ≥ p]/(1 − p), u ~ U[0, 1) (counter-based,
// seeded by the pass's noiseSeed and the module index, element i of example n drawn at counter
// (ctx.exampleOffset + n)·size + i: a data-parallel shard draws the whole batch's masks);
// inference: the identity.
import { mul, randomUniform, reluMask, scale } from '../../ops';
import type { Tensor } from '../../tensor';
import type { DropoutSpec } from '../layers';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews } from '../module';
import { mixSeed } from '../seed';
import { BaseModule, moduleInfo } from './base';

export class DropoutModule extends BaseModule {
  readonly p: number;
  /** The scaled mask m/(1 − p) (owned), null when the pass was the identity; undefined before a pass. */
  private mask: Tensor | null | undefined = undefined;

  constructor(spec: DropoutSpec, index: number, inputShapes: readonly ExampleShape[]) {
    super(moduleInfo({ kind: 'dropout', inputShapes, outputShape: inputShapes[0] }, index, 0, 0));
    this.p = spec.p;
  }

  private cachedMask(): Tensor | null {
    if (this.mask === undefined) this.noCache();
    return this.mask ?? null;
  }

  forward(xs: readonly Tensor[], ctx: ForwardContext): Tensor {
    this.releaseCache();
    const x = xs[0];
    if (!ctx.training || this.p === 0) {
      this.mask = null;
      return x.reshape(x.shape);
    }
    // u uniform in [−p, 1 − p): 1[u > 0] keeps an element with probability 1 − p.
    const u = randomUniform(x.shape, {
      seed: mixSeed(ctx.noiseSeed, this.info.index),
      offset: (ctx.exampleOffset ?? 0) * (x.size / x.shape[0]),
      low: -this.p,
      high: 1 - this.p,
      dtype: x.dtype,
      device: x.device,
    });
    const keep = reluMask(u);
    u.dispose();
    this.mask = scale(keep, 1 / (1 - this.p));
    keep.dispose();
    return mul(x, this.mask);
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    const mask = this.cachedMask();
    if (!needInputs[0]) return [null];
    return [mask === null ? dy.reshape(dy.shape) : mul(dy, mask)];
  }

  /** R{y} = R{x} ⊙ m/(1 − p) with the cached mask (the identity in inference mode). */
  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    const mask = this.cachedMask();
    const r = this.requireTangent(rxs);
    return mask === null ? r.reshape(r.shape) : mul(r, mask);
  }

  releaseCache(): void {
    this.mask?.dispose();
    this.mask = undefined;
  }
}
