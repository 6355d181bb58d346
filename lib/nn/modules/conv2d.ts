// Convolution: y = W∗x + b over a batch (N, C, H, W) → (N, K, P, Q). Parameters 'weight'
// (K, C, R, S) and, optionally, 'bias' (K).
import { axpy, conv2d, conv2dBackward, conv2dBackwardData, conv2dJvp, conv2dRelu, copy } from '../../ops';
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

  /**
   * relu(W∗x + b) in one pass (conv2dRelu): the forward of this module and of the ReLU that
   * consumes its output, for the executor's conv → ReLU rewrite (note [fusion rewrites] in
   * lib/nn/executor.ts). Caches x as forward does; the pre-activation is never made.
   */
  forwardRelu(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = conv2dRelu(xs[0], this.param('weight'), this.bias, this.opts);
    this.input = xs[0];
    return y;
  }

  /** dW, db into the gradient views and dx from one conv2dBackward: dy is read once for all of them. */
  vjp(dy: Tensor, needInputs: readonly boolean[], grads: GradientTarget): (Tensor | null)[] {
    const x = this.cached();
    const w = this.param('weight');
    const out = this.gradientViews(grads);
    if (out === null) return [needInputs[0] ? conv2dBackwardData(dy, w, x.shape, this.opts) : null];
    const g = conv2dBackward(dy, x, w, { ...this.opts, inputGradient: needInputs[0], bias: this.bias !== null });
    copy(out.weight, g.dw);
    g.dw.dispose();
    if (g.db !== null) {
      copy(out.bias, g.db);
      g.db.dispose();
    }
    return [g.dx];
  }

  /** R{y} (N, K, P, Q) = W∗R{x} + V∗x + v_b, x (N, C, H, W) the cached input, R{x} like x or null (= 0): one conv2dJvp. */
  jvp(rxs: readonly (Tensor | null)[], v: ParameterViews | null): Tensor {
    const x = this.cached();
    const V = this.tangent('jvp', v, 'weight');
    const vb = this.bias !== null ? this.tangent('jvp', v, 'bias') : null;
    return conv2dJvp(x, this.param('weight'), rxs[0], V, vb, this.opts);
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
    const need = needInputs[0];
    // Two conv2dBackward calls share the filter W: with R{dy} and x they give R{dy}⋆x, Wᵀ∗R{dy}
    // and Σ R{dy}; with dy and R{x}, dy⋆R{x} and Wᵀ∗dy = dx. Each reads its cotangent once.
    let dx: Tensor | null = null;
    let rdx: Tensor | null = null;
    if (out !== null) {
      const a = conv2dBackward(rdy, x, W, { ...this.opts, inputGradient: need, bias: this.bias !== null });
      rdx = a.dx;
      if (rx !== null) {
        const b = conv2dBackward(dy, rx, W, { ...this.opts, inputGradient: need, bias: false });
        axpy(a.dw, 1, b.dw);
        b.dw.dispose();
        dx = b.dx;
      }
      copy(out.weight, a.dw);
      a.dw.dispose();
      if (a.db !== null) {
        copy(out.bias, a.db);
        a.db.dispose();
      }
    }
    if (!need) return { dx: [null], rdx: [null] };
    dx ??= conv2dBackwardData(dy, W, x.shape, this.opts);
    rdx ??= conv2dBackwardData(rdy, W, x.shape, this.opts);
    const fromTangent = conv2dBackwardData(dy, V, x.shape, this.opts);
    axpy(rdx, 1, fromTangent);
    fromTangent.dispose();
    return { dx: [dx], rdx: [rdx] };
  }

  /** One example's dW = dy⋆x and db = Σ dy: a row of the stored per-sample Jacobian. */
  sampleParameterGradient(xs: readonly Tensor[], dy: Tensor, out: ParameterViews): void {
    const g = conv2dBackward(dy, xs[0], this.param('weight'), { ...this.opts, inputGradient: false, bias: this.bias !== null });
    copy(out.weight, g.dw);
    g.dw.dispose();
    if (g.db !== null) {
      copy(out.bias, g.db);
      g.db.dispose();
    }
  }

  releaseCache(): void {
    this.input = null;
  }
}
