// Pooling layers: max pooling (caches the argmax) and average pooling (caches the input shape).
import { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward, maxPool2dJvp, maxPool2dReluBackward } from '../../ops';
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, ParameterTangent } from '../layer';
import type { Pool2dSpec } from '../layers';
import { fmtShape, windowOutput } from '../shape-util';
import { BaseLayer, plainInfo } from './base';

/** Cache of a max-pool forward pass. */
export interface MaxPoolCache {
  /** Batch shape of the input (N, C, H, W). */
  readonly inputShape: readonly number[];
  /** Index h·W + w of the maximum within its (n, c) plane, per output element (owned, int32). */
  readonly argmax: Tensor;
}

/** Cache of an average-pool forward pass. */
export interface AvgPoolCache {
  /** Batch shape of the input (N, C, H, W). */
  readonly inputShape: readonly number[];
}

function poolOutputShape(spec: Pool2dSpec, index: number, inputShape: ExampleShape): number[] {
  if (inputShape.length !== 3) {
    throw new RangeError(`Sequential: layer ${index} (${spec.kind}) needs an image input [C, H, W], got per-example shape ${fmtShape(inputShape)}`);
  }
  const [C, H, W] = inputShape;
  const P = windowOutput(H, spec.kernel[0], spec.stride[0], spec.padding[0]);
  const Q = windowOutput(W, spec.kernel[1], spec.stride[1], spec.padding[1]);
  if (P < 1 || Q < 1) {
    throw new RangeError(
      `Sequential: layer ${index} (${spec.kind}) window ${spec.kernel[0]}x${spec.kernel[1]} is larger than its input ${H}x${W} (per-example shape ${fmtShape(inputShape)}); the input image is too small for this network`,
    );
  }
  return [C, P, Q];
}

function poolOptions(spec: Pool2dSpec): { kernel: readonly [number, number]; stride: readonly [number, number]; padding: readonly [number, number] } {
  return { kernel: spec.kernel, stride: spec.stride, padding: spec.padding };
}

/** A built max-pooling layer. */
export class MaxPoolLayer extends BaseLayer {
  readonly spec: Pool2dSpec;
  /** What the last forward pass left for backward / jvp; null before the first pass. */
  cache: MaxPoolCache | null = null;

  private constructor(spec: Pool2dSpec, index: number, inputShape: ExampleShape) {
    super(plainInfo(index, 'maxPool2d', inputShape, poolOutputShape(spec, index, inputShape)));
    this.spec = spec;
  }

  /** Builds the layer for per-example input shape `inputShape`. */
  static create(spec: Pool2dSpec, index: number, inputShape: ExampleShape): MaxPoolLayer {
    return new MaxPoolLayer(spec, index, inputShape);
  }

  forward(x: Tensor, _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const { y, argmax } = maxPool2d(x, poolOptions(this.spec));
    this.cache = { inputShape: x.shape, argmax };
    return y;
  }

  backward(dy: Tensor, inputGradient: boolean): Tensor | null {
    const cache = this.cache ?? this.noCache();
    return inputGradient ? maxPool2dBackward(dy, cache.argmax, cache.inputShape, poolOptions(this.spec)) : null;
  }

  /**
   * The backward of a ReLU (whose input is reluInput) followed by this layer, in one pass:
   * what the ReLU's backward of this layer's backward gives, bit for bit, owned by the caller.
   */
  backwardThroughRelu(dy: Tensor, reluInput: Tensor): Tensor {
    const cache = this.cache ?? this.noCache();
    return maxPool2dReluBackward(dy, cache.argmax, reluInput, poolOptions(this.spec));
  }

  /** R{y} (N, C, P, Q) = R{x}[argmax] with the cached argmax. */
  jvp(rx: Tensor | null, _v: ParameterTangent | null): Tensor {
    const cache = this.cache ?? this.noCache();
    return maxPool2dJvp(this.requireTangent(rx), cache.argmax, poolOptions(this.spec));
  }

  releaseCache(): void {
    this.cache?.argmax.dispose();
    this.cache = null;
  }
}

/** A built average-pooling layer. */
export class AvgPoolLayer extends BaseLayer {
  readonly spec: Pool2dSpec;
  /** What the last forward pass left for backward / jvp; null before the first pass. */
  cache: AvgPoolCache | null = null;

  private constructor(spec: Pool2dSpec, index: number, inputShape: ExampleShape) {
    super(plainInfo(index, 'avgPool2d', inputShape, poolOutputShape(spec, index, inputShape)));
    this.spec = spec;
  }

  /** Builds the layer for per-example input shape `inputShape`. */
  static create(spec: Pool2dSpec, index: number, inputShape: ExampleShape): AvgPoolLayer {
    return new AvgPoolLayer(spec, index, inputShape);
  }

  forward(x: Tensor, _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = avgPool2d(x, poolOptions(this.spec));
    this.cache = { inputShape: x.shape };
    return y;
  }

  backward(dy: Tensor, inputGradient: boolean): Tensor | null {
    const cache = this.cache ?? this.noCache();
    return inputGradient ? avgPool2dBackward(dy, cache.inputShape, poolOptions(this.spec)) : null;
  }

  /** R{y} = avgPool2d(R{x}) (N, C, P, Q): the same linear map. */
  jvp(rx: Tensor | null, _v: ParameterTangent | null): Tensor {
    if (this.cache === null) this.noCache();
    return avgPool2d(this.requireTangent(rx), poolOptions(this.spec));
  }

  releaseCache(): void {
    this.cache = null;
  }
}
