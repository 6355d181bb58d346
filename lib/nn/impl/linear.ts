// Fully-connected layer: y = x·Wᵀ + b, (N, I) → (N, O).
import { copy, linear, linearBackward } from '../../ops';
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, LayerInfo } from '../layer';
import type { LinearSpec } from '../layers';
import { fmtShape } from '../shape-util';
import { BaseLayer } from './base';

/** Cache of a linear forward pass. */
export interface LinearCache {
  /** The input x (borrowed from the Sequential's activations). */
  readonly input: Tensor;
}

/** A built linear layer. */
export class LinearLayer extends BaseLayer {
  readonly spec: LinearSpec;
  /** What the last forward pass left for backward / jvp; null before the first pass. */
  cache: LinearCache | null = null;

  private constructor(info: LayerInfo, spec: LinearSpec) {
    super(info);
    this.spec = spec;
  }

  /** Builds the layer for a flat per-example input [I] with its parameters at θ[offset…]. */
  static create(spec: LinearSpec, index: number, inputShape: ExampleShape, offset: number): LinearLayer {
    if (inputShape.length !== 1) {
      throw new RangeError(
        `Sequential: layer ${index} (linear) needs a flat input [features], got per-example shape ${fmtShape(inputShape)}; add flatten() before it`,
      );
    }
    const I = inputShape[0];
    const O = spec.outFeatures;
    const wSize = O * I;
    const info: LayerInfo = Object.freeze({
      index,
      kind: 'linear' as const,
      inputShape: Object.freeze([I]),
      outputShape: Object.freeze([O]),
      parameterCount: wSize + (spec.bias ? O : 0),
      weight: Object.freeze({ offset, shape: Object.freeze([O, I]), size: wSize }),
      ...(spec.bias ? { bias: Object.freeze({ offset: offset + wSize, shape: Object.freeze([O]), size: O }) } : {}),
      fanIn: I,
      fanOut: O,
    });
    return new LinearLayer(info, spec);
  }

  forward(x: Tensor, _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = linear(x, this.boundWeight(), this.bias);
    this.cache = { input: x };
    return y;
  }

  backward(dy: Tensor, inputGradient: boolean): Tensor | null {
    const cache = this.cache ?? this.noCache();
    const g = linearBackward(dy, cache.input, this.boundWeight(), { bias: this.bias !== null });
    copy(this.weightGrad!, g.dw);
    g.dw.dispose();
    if (g.db !== null) {
      copy(this.biasGrad!, g.db);
      g.db.dispose();
    }
    if (inputGradient) return g.dx;
    g.dx.dispose();
    return null;
  }

  releaseCache(): void {
    this.cache = null;
  }
}
