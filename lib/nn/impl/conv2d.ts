// Convolution layer: y = W∗x + b over a batch (N, C, H, W) → (N, K, H', W').
import { add, axpy, conv2d, conv2dBackwardBias, conv2dBackwardData, conv2dBackwardFilter, copy } from '../../ops';
import type { Tensor } from '../../tensor';
import type { BackwardJvpResult, ExampleShape, ForwardContext, LayerInfo, ParameterTangent } from '../layer';
import type { Conv2dSpec } from '../layers';
import { fmtShape, windowOutput } from '../shape-util';
import { BaseLayer } from './base';

/** Cache of a conv2d forward pass. */
export interface Conv2dCache {
  /** The input x (borrowed from the Sequential's activations). */
  readonly input: Tensor;
}

/** A built conv2d layer. */
export class Conv2dLayer extends BaseLayer {
  readonly spec: Conv2dSpec;
  /** What the last forward pass left for backward / jvp; null before the first pass. */
  cache: Conv2dCache | null = null;

  private constructor(info: LayerInfo, spec: Conv2dSpec) {
    super(info);
    this.spec = spec;
  }

  /** Builds the layer for per-example input shape `inputShape` with its parameters at θ[offset…]. */
  static create(spec: Conv2dSpec, index: number, inputShape: ExampleShape, offset: number): Conv2dLayer {
    if (inputShape.length !== 3) {
      throw new RangeError(`Sequential: layer ${index} (conv2d) needs an image input [C, H, W], got per-example shape ${fmtShape(inputShape)}`);
    }
    const [C, H, W] = inputShape;
    const [R, S] = spec.kernel;
    const P = windowOutput(H, R, spec.stride[0], spec.padding[0]);
    const Q = windowOutput(W, S, spec.stride[1], spec.padding[1]);
    if (P < 1 || Q < 1) {
      throw new RangeError(
        `Sequential: layer ${index} (conv2d) kernel ${R}x${S} is larger than its padded input ${H + 2 * spec.padding[0]}x${W + 2 * spec.padding[1]} (input shape ${fmtShape(inputShape)})`,
      );
    }
    const K = spec.outChannels;
    const wShape = [K, C, R, S];
    const wSize = K * C * R * S;
    const info: LayerInfo = Object.freeze({
      index,
      kind: 'conv2d' as const,
      inputShape: Object.freeze([...inputShape]),
      outputShape: Object.freeze([K, P, Q]),
      parameterCount: wSize + (spec.bias ? K : 0),
      weight: Object.freeze({ offset, shape: Object.freeze(wShape), size: wSize }),
      ...(spec.bias ? { bias: Object.freeze({ offset: offset + wSize, shape: Object.freeze([K]), size: K }) } : {}),
      fanIn: C * R * S,
      fanOut: K * R * S,
    });
    return new Conv2dLayer(info, spec);
  }

  private get opts(): { stride: readonly [number, number]; padding: readonly [number, number] } {
    return { stride: this.spec.stride, padding: this.spec.padding };
  }

  forward(x: Tensor, _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = conv2d(x, this.boundWeight(), this.bias, this.opts);
    this.cache = { input: x };
    return y;
  }

  backward(dy: Tensor, inputGradient: boolean, grads?: ParameterTangent): Tensor | null {
    const cache = this.cache ?? this.noCache();
    const w = this.boundWeight();
    const dw = conv2dBackwardFilter(dy, cache.input, w.shape, this.opts);
    copy(grads ? grads.weight! : this.weightGrad!, dw);
    dw.dispose();
    if (this.biasGrad !== null) {
      const db = conv2dBackwardBias(dy);
      copy(grads ? grads.bias! : this.biasGrad, db);
      db.dispose();
    }
    return inputGradient ? conv2dBackwardData(dy, w, cache.input.shape, this.opts) : null;
  }

  /** R{y} (N, K, P, Q) = W∗R{x} + V∗x + v_b, x (N, C, H, W) the cached input, R{x} like x or null (= 0). */
  jvp(rx: Tensor | null, v: ParameterTangent | null): Tensor {
    const cache = this.cache ?? this.noCache();
    const V = this.weightTangent('jvp', v);
    const fromParams = conv2d(cache.input, V, this.bias !== null ? v!.bias : null, this.opts);
    if (rx === null) return fromParams;
    const fromInput = conv2d(rx, this.boundWeight(), null, this.opts);
    const ry = add(fromParams, fromInput);
    fromParams.dispose();
    fromInput.dispose();
    return ry;
  }

  /**
   * dy, R{dy} (N, K, P, Q); x, R{x} (N, C, H, W): R{dW} = R{dy}⋆x + dy⋆R{x} (K, C, R, S) and
   * R{db} = Σ R{dy} (K) into `out`; dx = Wᵀ∗dy, R{dx} = Wᵀ∗R{dy} + Vᵀ∗dy (N, C, H, W).
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
      const dw = conv2dBackwardFilter(rdy, cache.input, W.shape, this.opts);
      if (rx !== null) {
        const dw2 = conv2dBackwardFilter(dy, rx, W.shape, this.opts);
        axpy(dw, 1, dw2);
        dw2.dispose();
      }
      copy(out.weight!, dw);
      dw.dispose();
      if (this.bias !== null) {
        const db = conv2dBackwardBias(rdy);
        copy(out.bias!, db);
        db.dispose();
      }
    }
    if (!inputGradient) return null;
    const xShape = cache.input.shape;
    const dx = conv2dBackwardData(dy, W, xShape, this.opts);
    const rdx1 = conv2dBackwardData(rdy, W, xShape, this.opts);
    const rdx2 = conv2dBackwardData(dy, V, xShape, this.opts);
    const rdx = add(rdx1, rdx2);
    rdx1.dispose();
    rdx2.dispose();
    return { dx, rdx };
  }

  releaseCache(): void {
    this.cache = null;
  }
}
