// Fully-connected layer: y = x·Wᵀ + b, (N, I) → (N, O).
import { add, biasGrad, copy, gemm, linear, linearBackward } from '../../ops';
import type { Tensor } from '../../tensor';
import type { BackwardJvpResult, ExampleShape, ForwardContext, LayerInfo, ParameterTangent } from '../layer';
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

  backward(dy: Tensor, inputGradient: boolean, grads?: ParameterTangent): Tensor | null {
    const cache = this.cache ?? this.noCache();
    const g = linearBackward(dy, cache.input, this.boundWeight(), { bias: this.bias !== null });
    copy(grads ? grads.weight! : this.weightGrad!, g.dw);
    g.dw.dispose();
    if (g.db !== null) {
      copy(grads ? grads.bias! : this.biasGrad!, g.db);
      g.db.dispose();
    }
    if (inputGradient) return g.dx;
    g.dx.dispose();
    return null;
  }

  /** R{y} (N, O) = R{x}·Wᵀ + x·Vᵀ + v_b, with x (N, I) the cached input, R{x} (N, I) or null (= 0). */
  jvp(rx: Tensor | null, v: ParameterTangent | null): Tensor {
    const cache = this.cache ?? this.noCache();
    const V = this.weightTangent('jvp', v);
    const fromParams = linear(cache.input, V, this.bias !== null ? v!.bias : null); // (N, O)
    if (rx === null) return fromParams;
    const fromInput = linear(rx, this.boundWeight(), null); // (N, O)
    const ry = add(fromParams, fromInput);
    fromParams.dispose();
    fromInput.dispose();
    return ry;
  }

  /**
   * dy, R{dy} (N, O); x, R{x} (N, I): R{dW} = R{dy}ᵀx + dyᵀR{x} (O, I), R{db} = Σ_n R{dy} (O) into
   * `out`; dx = dy·W, R{dx} = R{dy}·W + dy·V (N, I).
   */
  override backwardJvp(
    dy: Tensor,
    rdy: Tensor,
    rx: Tensor | null,
    v: ParameterTangent | null,
    out: ParameterTangent | null,
    inputGradient: boolean,
  ): BackwardJvpResult | null {
    const cache = this.cache ?? this.noCache();
    const W = this.boundWeight();
    const V = this.weightTangent('backwardJvp', v);
    if (out !== null) {
      const dw1 = gemm(rdy, cache.input, { transA: true }); // (O, I)
      if (rx !== null) {
        const dw = gemm(dy, rx, { transA: true, c: dw1 });
        copy(out.weight!, dw);
        dw.dispose();
      } else {
        copy(out.weight!, dw1);
      }
      dw1.dispose();
      if (this.bias !== null) {
        const db = biasGrad(rdy);
        copy(out.bias!, db);
        db.dispose();
      }
    }
    if (!inputGradient) return null;
    const dx = gemm(dy, W); // (N, I)
    const rdx1 = gemm(rdy, W);
    const rdx = gemm(dy, V, { c: rdx1 });
    rdx1.dispose();
    return { dx, rdx };
  }

  releaseCache(): void {
    this.cache = null;
  }
}
