// Pooling: max pooling (caches the argmax) and average pooling (a fixed linear map; caches the
// input shape), and global average pooling (N, C, H, W) → (N, C).
import { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward, maxPool2dJvp, maxPool2dReluBackward } from '../../ops';
import type { Tensor } from '../../tensor';
import type { Pool2dSpec } from '../layers';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews } from '../module';
import { fmtShape, windowOutput } from '../shape-util';
import { BaseModule, batchShape, moduleInfo } from './base';

function imageInput(owner: string, index: number, kind: string, inputShape: ExampleShape): readonly [number, number, number] {
  if (inputShape.length !== 3) {
    throw new RangeError(`${owner}: layer ${index} (${kind}) needs an image input [C, H, W], got per-example shape ${fmtShape(inputShape)}`);
  }
  return [inputShape[0], inputShape[1], inputShape[2]];
}

function poolOutputShape(spec: Pool2dSpec, owner: string, index: number, inputShape: ExampleShape): number[] {
  const [C, H, W] = imageInput(owner, index, spec.kind, inputShape);
  const P = windowOutput(H, spec.kernel[0], spec.stride[0], spec.padding[0]);
  const Q = windowOutput(W, spec.kernel[1], spec.stride[1], spec.padding[1]);
  if (P < 1 || Q < 1) {
    throw new RangeError(
      `${owner}: layer ${index} (${spec.kind}) window ${spec.kernel[0]}x${spec.kernel[1]} is larger than its input ${H}x${W} (per-example shape ${fmtShape(inputShape)}); the input image is too small for this network`,
    );
  }
  return [C, P, Q];
}

type PoolOptions = { kernel: readonly [number, number]; stride: readonly [number, number]; padding: readonly [number, number] };

function poolOptions(spec: Pool2dSpec): PoolOptions {
  return { kernel: spec.kernel, stride: spec.stride, padding: spec.padding };
}

export class MaxPool2dModule extends BaseModule {
  readonly spec: Pool2dSpec;
  /** The last forward pass's input batch shape and argmax (owned, int32); null before it. */
  private cache: { readonly inputShape: readonly number[]; readonly argmax: Tensor } | null = null;

  constructor(spec: Pool2dSpec, owner: string, index: number, inputShapes: readonly ExampleShape[]) {
    super(moduleInfo({ kind: 'maxPool2d', inputShapes, outputShape: poolOutputShape(spec, owner, index, inputShapes[0]) }, index, 0, 0));
    this.spec = spec;
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const { y, argmax } = maxPool2d(xs[0], poolOptions(this.spec));
    this.cache = { inputShape: xs[0].shape, argmax };
    return y;
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    const cache = this.cache ?? this.noCache();
    return [needInputs[0] ? maxPool2dBackward(dy, cache.argmax, cache.inputShape, poolOptions(this.spec)) : null];
  }

  /**
   * The backward of a ReLU (whose input is reluInput) followed by this module, in one pass:
   * what the ReLU's vjp of this module's vjp gives, bit for bit; owned by the caller. The
   * executor's fusion rewrite (lib/nn/executor.ts) uses it.
   */
  vjpThroughRelu(dy: Tensor, reluInput: Tensor): Tensor {
    const cache = this.cache ?? this.noCache();
    return maxPool2dReluBackward(dy, cache.argmax, reluInput, poolOptions(this.spec));
  }

  /** R{y} (N, C, P, Q) = R{x}[argmax] with the cached argmax. */
  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    const cache = this.cache ?? this.noCache();
    return maxPool2dJvp(this.requireTangent(rxs), cache.argmax, poolOptions(this.spec));
  }

  releaseCache(): void {
    this.cache?.argmax.dispose();
    this.cache = null;
  }
}

export class AvgPool2dModule extends BaseModule {
  readonly spec: Pool2dSpec;
  /** The last forward pass's input batch shape; null before it. */
  private inputShape: readonly number[] | null = null;

  constructor(spec: Pool2dSpec, owner: string, index: number, inputShapes: readonly ExampleShape[]) {
    super(moduleInfo({ kind: 'avgPool2d', inputShapes, outputShape: poolOutputShape(spec, owner, index, inputShapes[0]) }, index, 0, 0));
    this.spec = spec;
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = avgPool2d(xs[0], poolOptions(this.spec));
    this.inputShape = xs[0].shape;
    return y;
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    const shape = this.inputShape ?? this.noCache();
    return [needInputs[0] ? avgPool2dBackward(dy, shape, poolOptions(this.spec)) : null];
  }

  /** R{y} = avgPool2d(R{x}) (N, C, P, Q): the same linear map. */
  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    if (this.inputShape === null) this.noCache();
    return avgPool2d(this.requireTangent(rxs), poolOptions(this.spec));
  }

  releaseCache(): void {
    this.inputShape = null;
  }
}

/** y (N, C) = the mean of x (N, C, H, W) over each plane: average pooling with the whole plane as window. */
export class GlobalAvgPool2dModule extends BaseModule {
  private readonly options: PoolOptions;
  /** The last forward pass's input batch shape; null before it. */
  private inputShape: readonly number[] | null = null;

  constructor(owner: string, index: number, inputShapes: readonly ExampleShape[]) {
    const [C, H, W] = imageInput(owner, index, 'globalAvgPool2d', inputShapes[0]);
    super(moduleInfo({ kind: 'globalAvgPool2d', inputShapes, outputShape: [C] }, index, 0, 0));
    this.options = { kernel: [H, W], stride: [H, W], padding: [0, 0] };
  }

  private pool(x: Tensor): Tensor {
    const y = avgPool2d(x, this.options); // (N, C, 1, 1)
    const flat = y.reshape(batchShape(x.shape[0], this.info.outputShape));
    y.dispose();
    return flat;
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    this.inputShape = xs[0].shape;
    return this.pool(xs[0]);
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    const shape = this.inputShape ?? this.noCache();
    if (!needInputs[0]) return [null];
    const dy4 = dy.reshape([shape[0], shape[1], 1, 1]);
    try {
      return [avgPool2dBackward(dy4, shape, this.options)];
    } finally {
      dy4.dispose();
    }
  }

  /** R{y} = the plane means of R{x}: the same linear map. */
  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    if (this.inputShape === null) this.noCache();
    return this.pool(this.requireTangent(rxs));
  }

  releaseCache(): void {
    this.inputShape = null;
  }
}
