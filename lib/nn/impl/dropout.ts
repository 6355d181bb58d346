// Inverted dropout: training y = x ⊙ m with m = 1[u ≥ p]/(1 − p), u ~ U[0, 1) (counter-based,
// seeded by the pass's noiseSeed and the layer index); inference: the identity.
import { mul, randomUniform, reluMask, scale } from '../../ops';
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, ParameterTangent } from '../layer';
import type { DropoutSpec } from '../layers';
import { mixSeed } from '../seed';
import { BaseLayer, plainInfo } from './base';

/** Cache of a dropout forward pass. */
export interface DropoutCache {
  /** The scaled mask m/(1 − p) (owned), or null when the pass was the identity (inference or p = 0). */
  readonly mask: Tensor | null;
}

/** A built dropout layer. */
export class DropoutLayer extends BaseLayer {
  readonly p: number;
  /** What the last forward pass left for backward / jvp; null before the first pass. */
  cache: DropoutCache | null = null;

  private constructor(spec: DropoutSpec, index: number, inputShape: ExampleShape) {
    super(plainInfo(index, 'dropout', inputShape, inputShape));
    this.p = spec.p;
  }

  /** Builds the layer for per-example input shape `inputShape`. */
  static create(spec: DropoutSpec, index: number, inputShape: ExampleShape): DropoutLayer {
    return new DropoutLayer(spec, index, inputShape);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    this.releaseCache();
    if (!ctx.training || this.p === 0) {
      this.cache = { mask: null };
      return x.reshape(x.shape);
    }
    // u uniform in [−p, 1 − p): 1[u > 0] keeps an element with probability 1 − p.
    const u = randomUniform(x.shape, {
      seed: mixSeed(ctx.noiseSeed, this.info.index),
      low: -this.p,
      high: 1 - this.p,
      dtype: x.dtype,
      device: x.device,
    });
    const keep = reluMask(u);
    u.dispose();
    const mask = scale(keep, 1 / (1 - this.p));
    keep.dispose();
    this.cache = { mask };
    return mul(x, mask);
  }

  backward(dy: Tensor, inputGradient: boolean): Tensor | null {
    const cache = this.cache ?? this.noCache();
    if (!inputGradient) return null;
    return cache.mask === null ? dy.reshape(dy.shape) : mul(dy, cache.mask);
  }

  /** R{y} = R{x} ⊙ m/(1 − p) with the cached mask (the identity in inference mode). */
  jvp(rx: Tensor | null, _v: ParameterTangent | null): Tensor {
    const cache = this.cache ?? this.noCache();
    const r = this.requireTangent(rx);
    return cache.mask === null ? r.reshape(r.shape) : mul(r, cache.mask);
  }

  releaseCache(): void {
    this.cache?.mask?.dispose();
    this.cache = null;
  }
}
