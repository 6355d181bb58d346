// Convolution: y = W∗x + b over a batch (N, C, H, W) → (N, K, P, Q). Parameters 'weight'
// (K, C, R, S) and, optionally, 'bias' (K).
import { add, axpy, conv2d, conv2dBackwardBias, conv2dBackwardData, conv2dBackwardFilter, copy } from '../../ops';
import type { Tensor } from '../../tensor';
import type { Conv2dSpec } from '../layers';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews, VjpJvpResult } from '../module';
import { fmtShape, windowOutput } from '../shape-util';
import { BaseModule, moduleInfo } from './base';

export class Conv2dModule extends BaseModule {
  readonly spec: Conv2dSpec;
  /** The input x of the last forward pass (borrowed); null before it. */
  private input: Tensor | null = null;

  constructor(spec: Conv2dSpec, owner: string, index: number, inputShapes: readonly ExampleShape[], offset: number) {
    const inputShape = inputShapes[0];
    if (inputShape.length !== 3) {
      throw new RangeError(`${owner}: layer ${index} (conv2d) needs an image input [C, H, W], got per-example shape ${fmtShape(inputShape)}`);
    }
    const [C, H, W] = inputShape;
    const [R, S] = spec.kernel;
    const P = windowOutput(H, R, spec.stride[0], spec.padding[0]);
    const Q = windowOutput(W, S, spec.stride[1], spec.padding[1]);
    if (P < 1 || Q < 1) {
      throw new RangeError(
        `${owner}: layer ${index} (conv2d) kernel ${R}x${S} is larger than its padded input ${H + 2 * spec.padding[0]}x${W + 2 * spec.padding[1]} (input shape ${fmtShape(inputShape)})`,
      );
    }
    const K = spec.outChannels;
    super(
      moduleInfo(
        {
          kind: 'conv2d',
          inputShapes,
          outputShape: [K, P, Q],
          parameters: [{ name: 'weight', shape: [K, C, R, S], init: 'fan' }, ...(spec.bias ? [{ name: 'bias', shape: [K], init: 'zeros' as const }] : [])],
          fanIn: C * R * S,
          fanOut: K * R * S,
        },
        index,
        offset,
        0,
      ),
    );
    this.spec = spec;
  }

  private get opts(): { stride: readonly [number, number]; padding: readonly [number, number] } {
    return { stride: this.spec.stride, padding: this.spec.padding };
  }

  private cached(): Tensor {
    return this.input ?? this.noCache();
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = conv2d(xs[0], this.param('weight'), this.bias, this.opts);
    this.input = xs[0];
    return y;
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], grads: GradientTarget): (Tensor | null)[] {
    const x = this.cached();
    const w = this.param('weight');
    const out = this.gradientViews(grads);
    if (out !== null) {
      const dw = conv2dBackwardFilter(dy, x, w.shape, this.opts);
      copy(out.weight, dw);
      dw.dispose();
      if (this.bias !== null) {
        const db = conv2dBackwardBias(dy);
        copy(out.bias, db);
        db.dispose();
      }
    }
    return [needInputs[0] ? conv2dBackwardData(dy, w, x.shape, this.opts) : null];
  }

  /** R{y} (N, K, P, Q) = W∗R{x} + V∗x + v_b, x (N, C, H, W) the cached input, R{x} like x or null (= 0). */
  jvp(rxs: readonly (Tensor | null)[], v: ParameterViews | null): Tensor {
    const x = this.cached();
    const V = this.tangent('jvp', v, 'weight');
    const fromParams = conv2d(x, V, this.bias !== null ? this.tangent('jvp', v, 'bias') : null, this.opts);
    const rx = rxs[0];
    if (rx === null) return fromParams;
    const fromInput = conv2d(rx, this.param('weight'), null, this.opts);
    const ry = add(fromParams, fromInput);
    fromParams.dispose();
    fromInput.dispose();
    return ry;
  }

  /**
   * dy, R{dy} (N, K, P, Q); x, R{x} (N, C, H, W): R{dW} = R{dy}⋆x + dy⋆R{x} (K, C, R, S) and
   * R{db} = Σ R{dy} (K) into `out`; dx = Wᵀ∗dy, R{dx} = Wᵀ∗R{dy} + Vᵀ∗dy (N, C, H, W).
   */
  override vjpJvp(
    dy: Tensor,
    rdy: Tensor,
    rxs: readonly (Tensor | null)[],
    v: ParameterViews | null,
    out: ParameterViews | null,
    needInputs: readonly boolean[],
  ): VjpJvpResult {
    const x = this.cached();
    const W = this.param('weight');
    const V = this.tangent('vjpJvp', v, 'weight');
    const rx = rxs[0];
    if (out !== null) {
      const dw = conv2dBackwardFilter(rdy, x, W.shape, this.opts);
      if (rx !== null) {
        const dw2 = conv2dBackwardFilter(dy, rx, W.shape, this.opts);
        axpy(dw, 1, dw2);
        dw2.dispose();
      }
      copy(out.weight, dw);
      dw.dispose();
      if (this.bias !== null) {
        const db = conv2dBackwardBias(rdy);
        copy(out.bias, db);
        db.dispose();
      }
    }
    if (!needInputs[0]) return { dx: [null], rdx: [null] };
    const dx = conv2dBackwardData(dy, W, x.shape, this.opts);
    const rdx1 = conv2dBackwardData(rdy, W, x.shape, this.opts);
    const rdx2 = conv2dBackwardData(dy, V, x.shape, this.opts);
    const rdx = add(rdx1, rdx2);
    rdx1.dispose();
    rdx2.dispose();
    return { dx: [dx], rdx: [rdx] };
  }

  /** One example's dW = dy⋆x and db = Σ dy: a row of the stored per-sample Jacobian. */
  sampleParameterGradient(xs: readonly Tensor[], dy: Tensor, out: ParameterViews): void {
    const dw = conv2dBackwardFilter(dy, xs[0], this.param('weight').shape, this.opts);
    copy(out.weight, dw);
    dw.dispose();
    if (this.bias !== null) {
      const db = conv2dBackwardBias(dy);
      copy(out.bias, db);
      db.dispose();
    }
  }

  releaseCache(): void {
    this.input = null;
  }
}
