// Channel concatenation (nn.concat()): y = [x₁, x₂, …] along the channels, inputs (N, C_k, ...)
// whose dimensions after the channels are equal — images (N, C_k, H, W) of one H and W — output
// (N, ΣC_k, ...), in input order. The CG blocks of Newton-CGNet-34 (eq. 18) concatenate three
// branches of 64, 64 and 128 channels. A fixed linear map without parameters:
//   forward   y = channelCopy of each x_k into a new tensor at its channel offset
//   vjp       dx_k = channelSlice(dy, offset_k, C_k)
//   jvp       R{y} = [R{x₁}, R{x₂}, …] (zeros for an input without a tangent)
//   vjpJvp    BaseModule's R{dx} = vjp(R{dy}): the map does not depend on x
import { native } from '../../native';
import { channelCopy, channelSlice } from '../../ops';
import { Tensor, wrapNative } from '../../tensor';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews } from '../module';
import { fmtShape } from '../shape-util';
import { BaseModule, disposeTensors, moduleInfo } from './base';

/** The output's per-example shape [ΣC_k, ...]; RangeError naming the node and the shapes otherwise. */
function concatShape(owner: string, index: number, inputShapes: readonly ExampleShape[]): ExampleShape {
  const n = inputShapes.length;
  if (n < 2) throw new RangeError(`${owner}: layer ${index} (concat) needs at least 2 inputs, got ${n}`);
  const first = inputShapes[0];
  const rest = (s: ExampleShape) => s.slice(1).join();
  if (inputShapes.some((s) => s.length < 1 || s.length !== first.length || rest(s) !== rest(first))) {
    throw new RangeError(
      `${owner}: layer ${index} (concat) has inputs of per-example shapes ${inputShapes.map(fmtShape).join(', ')}; ` +
        'they must have one rank and equal dimensions after the channels (axis 0 of [C, H, W])',
    );
  }
  return [inputShapes.reduce((c, s) => c + s[0], 0), ...first.slice(1)];
}

/** y = [x₁, x₂, …] along the channels (k ≥ 2 inputs). */
export class ConcatModule extends BaseModule {
  /** The first channel of each input in the output. */
  private readonly offsets: readonly number[];
  private ran = false;

  constructor(owner: string, index: number, inputShapes: readonly ExampleShape[]) {
    super(moduleInfo({ kind: 'concat', inputShapes, outputShape: concatShape(owner, index, inputShapes) }, index, 0, 0));
    let at = 0;
    this.offsets = inputShapes.map((s) => {
      const offset = at;
      at += s[0];
      return offset;
    });
  }

  /**
   * The concatenation of `xs` (null: zeros) for the batch, dtype and device of `like`. Without
   * nulls the output starts uninitialised: the copies write every element of it.
   */
  private concatenate(xs: readonly (Tensor | null)[], like: Tensor): Tensor {
    const shape = [like.shape[0], ...this.info.outputShape];
    const y = xs.some((x) => x === null)
      ? Tensor.zeros(shape, { dtype: like.dtype, device: like.device })
      : wrapNative(native().empty(shape, like.dtype, like.device));
    try {
      xs.forEach((x, i) => {
        if (x !== null) channelCopy(y, x, this.offsets[i]);
      });
    } catch (e) {
      y.dispose();
      throw e;
    }
    return y;
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.ran = true;
    return this.concatenate(xs, xs[0]);
  }

  /** dx_k = dy[:, offset_k : offset_k + C_k] for the inputs that need it. */
  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    if (!this.ran) this.noCache();
    const dx: (Tensor | null)[] = [];
    try {
      needInputs.forEach((need, i) => dx.push(need ? channelSlice(dy, this.offsets[i], this.info.inputShapes[i][0]) : null));
    } catch (e) {
      disposeTensors(dx);
      throw e;
    }
    return dx;
  }

  /** R{y} = [R{x₁}, R{x₂}, …], zeros for the inputs without a tangent (not all of them: no parameters). */
  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    if (!this.ran) this.noCache();
    const like = rxs.find((r) => r !== null);
    if (like === undefined || like === null) return this.requireTangent(rxs);
    return this.concatenate(rxs, like);
  }

  releaseCache(): void {
    this.ran = false;
  }
}
