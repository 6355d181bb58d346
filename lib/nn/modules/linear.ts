// Fully connected: y = x·Wᵀ + b, (N, I) → (N, O). Parameters 'weight' (O, I) and, optionally,
// 'bias' (O).
import { add, biasGrad, copy, gemm, linear, linearBackward } from '../../ops';
import type { Tensor } from '../../tensor';
import type { LinearSpec } from '../layers';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews, VjpJvpResult } from '../module';
import { fmtShape } from '../shape-util';
import { BaseModule, moduleInfo } from './base';

export class LinearModule extends BaseModule {
  readonly spec: LinearSpec;
  /** The input x of the last forward pass (borrowed); null before it. */
  private input: Tensor | null = null;

  constructor(spec: LinearSpec, owner: string, index: number, inputShapes: readonly ExampleShape[], offset: number) {
    const inputShape = inputShapes[0];
    if (inputShape.length !== 1) {
      throw new RangeError(
        `${owner}: layer ${index} (linear) needs a flat input [features], got per-example shape ${fmtShape(inputShape)}; add flatten() before it`,
      );
    }
    const I = inputShape[0];
    const O = spec.outFeatures;
    super(
      moduleInfo(
        {
          kind: 'linear',
          inputShapes,
          outputShape: [O],
          parameters: [{ name: 'weight', shape: [O, I], init: 'fan' }, ...(spec.bias ? [{ name: 'bias', shape: [O], init: 'zeros' as const }] : [])],
          fanIn: I,
          fanOut: O,
        },
        index,
        offset,
        0,
      ),
    );
    this.spec = spec;
  }

  private cached(): Tensor {
    return this.input ?? this.noCache();
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = linear(xs[0], this.param('weight'), this.bias);
    this.input = xs[0];
    return y;
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], grads: GradientTarget): (Tensor | null)[] {
    const out = this.gradientViews(grads);
    // Only the input gradient: dx = dy·W, as linearBackward computes it.
    if (out === null) return [needInputs[0] ? gemm(dy, this.param('weight')) : null];
    const g = linearBackward(dy, this.cached(), this.param('weight'), { bias: this.bias !== null });
    copy(out.weight, g.dw);
    g.dw.dispose();
    if (g.db !== null) {
      copy(out.bias, g.db);
      g.db.dispose();
    }
    if (needInputs[0]) return [g.dx];
    g.dx.dispose();
    return [null];
  }

  /** R{y} (N, O) = R{x}·Wᵀ + x·Vᵀ + v_b, with x (N, I) the cached input, R{x} (N, I) or null (= 0). */
  jvp(rxs: readonly (Tensor | null)[], v: ParameterViews | null): Tensor {
    const V = this.tangent('jvp', v, 'weight');
    const fromParams = linear(this.cached(), V, this.bias !== null ? this.tangent('jvp', v, 'bias') : null);
    const rx = rxs[0];
    if (rx === null) return fromParams;
    const fromInput = linear(rx, this.param('weight'), null);
    const ry = add(fromParams, fromInput);
    fromParams.dispose();
    fromInput.dispose();
    return ry;
  }

  /**
   * dy, R{dy} (N, O); x, R{x} (N, I): R{dW} = R{dy}ᵀx + dyᵀR{x} (O, I), R{db} = Σ_n R{dy} (O) into
   * `out`; dx = dy·W, R{dx} = R{dy}·W + dy·V (N, I).
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
      const dw1 = gemm(rdy, x, { transA: true }); // (O, I)
      if (rx !== null) {
        const dw = gemm(dy, rx, { transA: true, c: dw1 });
        copy(out.weight, dw);
        dw.dispose();
      } else {
        copy(out.weight, dw1);
      }
      dw1.dispose();
      if (this.bias !== null) {
        const db = biasGrad(rdy);
        copy(out.bias, db);
        db.dispose();
      }
    }
    if (!needInputs[0]) return { dx: [null], rdx: [null] };
    const dx = gemm(dy, W); // (N, I)
    const rdx1 = gemm(rdy, W);
    const rdx = gemm(dy, V, { c: rdx1 });
    rdx1.dispose();
    return { dx: [dx], rdx: [rdx] };
  }

  /** One example's dW = dyᵀx (O, I) and db = dy: a row of the stored per-sample Jacobian. */
  sampleParameterGradient(xs: readonly Tensor[], dy: Tensor, out: ParameterViews): void {
    const dw = gemm(dy, xs[0], { transA: true });
    copy(out.weight, dw);
    dw.dispose();
    if (this.bias !== null) {
      const db = dy.reshape(out.bias.shape);
      copy(out.bias, db);
      db.dispose();
    }
  }

  releaseCache(): void {
    this.input = null;
  }
}
