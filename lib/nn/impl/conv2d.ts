// Convolution layer: y = W∗x + b over a batch (N, C, H, W) → (N, K, H', W').
import { conv2d, conv2dBackwardBias, conv2dBackwardData, conv2dBackwardFilter, copy } from '../../ops';
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, LayerInfo } from '../layer';
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

  backward(dy: Tensor, inputGradient: boolean): Tensor | null {
    const cache = this.cache ?? this.noCache();
    const w = this.boundWeight();
    const dw = conv2dBackwardFilter(dy, cache.input, w.shape, this.opts);
    copy(this.weightGrad!, dw);
    dw.dispose();
    if (this.biasGrad !== null) {
      const db = conv2dBackwardBias(dy);
      copy(this.biasGrad, db);
      db.dispose();
    }
    return inputGradient ? conv2dBackwardData(dy, w, cache.input.shape, this.opts) : null;
  }

  releaseCache(): void {
    this.cache = null;
  }
}
