// The fused element-wise parts of the papers' blocks, each pass one native kernel (the "fused"
// op family, native/core/ops/fused.h) instead of a chain of element-wise modules:
//
//   newtonResidual   y = φ(a + b + α·p⊙q), φ = ReLU or the identity, q optional (≡ 1)
//                    Newton-ResNet eq. 3: a = x̃, b = f(x), p⊙q = N1(x̃)⊙f(x) or p = N2(·)
//   cgNetUpdate      d = −(y + g1 + g2 + g3) + β·dprev, y1 = y + α·d; two outputs (y1, d)
//                    Newton-CGNet Algorithm 2, lines 6–12 (dprev and β absent in the first block)
//
// The builders (lib/nn/newton-resnet.ts, newton-cgnet.ts) use them by default; with
// `fused: false` they build the same functions from add, mul, scale and constantScale, with the
// same parameters at the same offsets of θ, which is how the tests compare the two.
import { copy, newtonResidual, newtonResidualBackward, newtonResidualJvp, newtonResidualVjpJvp, cgNetUpdate, cgNetUpdateBackward, cgNetUpdateJvp, cgNetUpdateVjpJvp } from '../../ops';
import { Tensor } from '../../tensor';
import type { CgNetUpdateSpec, NewtonResidualSpec } from '../layers';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews, VjpJvpResult } from '../module';
import { fmtShape } from '../shape-util';
import { BaseModule, disposeTensors, moduleInfo } from './base';

function sameShapes(owner: string, index: number, kind: string, inputShapes: readonly ExampleShape[], count: readonly number[]): void {
  if (!count.includes(inputShapes.length)) {
    throw new RangeError(`${owner}: layer ${index} (${kind}) takes ${count.join(' or ')} inputs, got ${inputShapes.length}`);
  }
  const first = fmtShape(inputShapes[0]);
  if (inputShapes.some((s) => fmtShape(s) !== first)) {
    throw new RangeError(`${owner}: layer ${index} (${kind}) needs inputs of one shape, got ${inputShapes.map(fmtShape).join(', ')}`);
  }
}

/** An alias (a new handle on the same memory) for a second consumer of one gradient. */
function alias(t: Tensor): Tensor {
  return t.reshape(t.shape);
}

/** y = φ(a + b + α·p⊙q) with inputs [a, b, p] or [a, b, p, q] and the learnable α ('alpha', (1)). */
export class NewtonResidualModule extends BaseModule {
  readonly spec: NewtonResidualSpec;
  private y: Tensor | null = null;
  private p: Tensor | null = null;
  private q: Tensor | null = null;

  constructor(spec: NewtonResidualSpec, owner: string, index: number, inputShapes: readonly ExampleShape[], offset: number) {
    sameShapes(owner, index, 'newtonResidual', inputShapes, [3, 4]);
    super(
      moduleInfo(
        { kind: 'newtonResidual', inputShapes, outputShape: inputShapes[0], parameters: [{ name: 'alpha', shape: [1], init: { constant: spec.alpha } }] },
        index,
        offset,
        0,
      ),
    );
    this.spec = spec;
  }

  private get options(): { relu: boolean } {
    return { relu: this.spec.relu };
  }

  private cached(): { y: Tensor; p: Tensor; q: Tensor | null } {
    if (this.y === null || this.p === null) this.noCache();
    return { y: this.y, p: this.p, q: this.q };
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const q = xs[3] ?? null;
    const y = newtonResidual(xs[0], xs[1], xs[2], q, this.param('alpha'), this.options);
    this.y = alias(y);
    this.p = xs[2];
    this.q = q;
    return y;
  }

  /** da = db = g = φ′⊙dy, dp = α·g⊙q, dq = α·g⊙p, dα = Σ g⊙p⊙q. */
  vjp(dy: Tensor, needInputs: readonly boolean[], grads: GradientTarget): (Tensor | null)[] {
    const { y, p, q } = this.cached();
    const r = newtonResidualBackward(dy, y, p, q, this.param('alpha'), this.options);
    const out = this.gradientViews(grads);
    if (out !== null) copy(out.alpha, r.dalpha);
    const result = [needInputs[0] ? alias(r.g) : null, needInputs[1] ? alias(r.g) : null, needInputs[2] ? alias(r.dp) : null, ...(q !== null ? [needInputs[3] ? alias(r.dq!) : null] : [])];
    disposeTensors([r.g, r.dp, r.dq, r.dalpha]);
    return result;
  }

  jvp(rxs: readonly (Tensor | null)[], v: ParameterViews | null): Tensor {
    const { y, p, q } = this.cached();
    return newtonResidualJvp(y, rxs[0], rxs[1], p, q, rxs[2], q === null ? null : rxs[3], this.param('alpha'), this.tangent('jvp', v, 'alpha'), this.options);
  }

  override vjpJvp(
    dy: Tensor,
    rdy: Tensor,
    rxs: readonly (Tensor | null)[],
    v: ParameterViews | null,
    out: ParameterViews | null,
    needInputs: readonly boolean[],
  ): VjpJvpResult {
    const { y, p, q } = this.cached();
    const r = newtonResidualVjpJvp(dy, rdy, y, p, q, rxs[2], q === null ? null : rxs[3], this.param('alpha'), this.tangent('vjpJvp', v, 'alpha'), this.options);
    try {
      if (out !== null) copy(out.alpha, r.rdalpha);
      const pick = (need: boolean, t: Tensor | null) => (need && t !== null ? alias(t) : null);
      return {
        dx: [pick(needInputs[0], r.g), pick(needInputs[1], r.g), pick(needInputs[2], r.dp), ...(q !== null ? [pick(needInputs[3], r.dq)] : [])],
        rdx: [pick(needInputs[0], r.rg), pick(needInputs[1], r.rg), pick(needInputs[2], r.rdp), ...(q !== null ? [pick(needInputs[3], r.rdq)] : [])],
      };
    } finally {
      disposeTensors([r.g, r.rg, r.dp, r.rdp, r.dq, r.rdq, r.dalpha, r.rdalpha]);
    }
  }

  /** One example's dα: the forward and backward kernels on its inputs. */
  sampleParameterGradient(xs: readonly Tensor[], dy: Tensor, out: ParameterViews): void {
    const q = xs[3] ?? null;
    const alpha = this.param('alpha');
    const y = newtonResidual(xs[0], xs[1], xs[2], q, alpha, this.options);
    const r = newtonResidualBackward(dy, y, xs[2], q, alpha, this.options);
    copy(out.alpha, r.dalpha);
    disposeTensors([y, r.g, r.dp, r.dq, r.dalpha]);
  }

  releaseCache(): void {
    this.y?.dispose();
    this.y = this.p = this.q = null;
  }
}

/**
 * One CG block's update: inputs [y, g1, g2, g3] (the first block) or [y, g1, g2, g3, dprev];
 * parameters 'beta' (not in the first block) then 'alpha', both (1); outputs [y1, d].
 */
export class CgNetUpdateModule extends BaseModule {
  readonly spec: CgNetUpdateSpec;
  private d: Tensor | null = null;
  private dprev: Tensor | null = null;

  constructor(spec: CgNetUpdateSpec, owner: string, index: number, inputShapes: readonly ExampleShape[], offset: number) {
    sameShapes(owner, index, 'cgNetUpdate', inputShapes, [spec.first ? 4 : 5]);
    const shape = inputShapes[0];
    super(
      moduleInfo(
        {
          kind: 'cgNetUpdate',
          inputShapes,
          outputShape: shape,
          outputShapes: [shape, shape],
          parameters: [
            ...(spec.first ? [] : [{ name: 'beta', shape: [1], init: { constant: spec.beta } } as const]),
            { name: 'alpha', shape: [1], init: { constant: spec.alpha } },
          ],
        },
        index,
        offset,
        0,
      ),
    );
    this.spec = spec;
  }

  private beta(): Tensor | null {
    return this.spec.first ? null : this.param('beta');
  }

  private cached(): { d: Tensor; dprev: Tensor | null } {
    if (this.d === null) this.noCache();
    return { d: this.d, dprev: this.dprev };
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor[] {
    this.releaseCache();
    const dprev = this.spec.first ? null : xs[4];
    const { y1, d } = cgNetUpdate(xs[0], xs[1], xs[2], xs[3], dprev, this.param('alpha'), this.beta());
    this.d = alias(d);
    this.dprev = dprev;
    return [y1, d];
  }

  /** From the cotangents (dy1, dd) of (y1, d): dy, dg (for g1, g2, g3), ddprev, dα, dβ. */
  vjp(dys: readonly (Tensor | null)[], needInputs: readonly boolean[], grads: GradientTarget): (Tensor | null)[] {
    const { d, dprev } = this.cached();
    const dy1 = dys[0] ?? null;
    const dd = dys[1] ?? null;
    if (dy1 === null) throw new Error(`cgNetUpdate: module ${this.info.index} got no cotangent for y1 (the CG state always feeds the block output)`);
    const r = cgNetUpdateBackward(dy1, dd, d, dprev, this.param('alpha'), this.beta());
    try {
      const out = this.gradientViews(grads);
      if (out !== null) {
        copy(out.alpha, r.dalpha);
        if (r.dbeta !== null) copy(out.beta, r.dbeta);
      }
      const pick = (need: boolean, t: Tensor | null) => (need && t !== null ? alias(t) : null);
      return [pick(needInputs[0], r.dy), pick(needInputs[1], r.dg), pick(needInputs[2], r.dg), pick(needInputs[3], r.dg), ...(this.spec.first ? [] : [pick(needInputs[4], r.ddprev)])];
    } finally {
      disposeTensors([r.dy, r.dg, r.ddprev, r.dalpha, r.dbeta]);
    }
  }

  jvp(rxs: readonly (Tensor | null)[], v: ParameterViews | null): Tensor[] {
    const { d, dprev } = this.cached();
    const vbeta = this.spec.first ? null : this.tangent('jvp', v, 'beta');
    const r = cgNetUpdateJvp(d, dprev, rxs[0], rxs[1], rxs[2], rxs[3], this.spec.first ? null : rxs[4], this.param('alpha'), this.beta(), this.tangent('jvp', v, 'alpha'), vbeta);
    return [r.ry1, r.rd];
  }

  override vjpJvp(
    dys: readonly (Tensor | null)[],
    rdys: readonly (Tensor | null)[],
    rxs: readonly (Tensor | null)[],
    v: ParameterViews | null,
    out: ParameterViews | null,
    needInputs: readonly boolean[],
  ): VjpJvpResult {
    const { d, dprev } = this.cached();
    const [dy1, dd] = [dys[0] ?? null, dys[1] ?? null];
    const [rdy1, rdd] = [rdys[0] ?? null, rdys[1] ?? null];
    if (dy1 === null || rdy1 === null) throw new Error(`cgNetUpdate: module ${this.info.index} got no cotangent for y1`);
    const vbeta = this.spec.first ? null : this.tangent('vjpJvp', v, 'beta');
    // R{d}, the tangent of this module's own d output: recomputed from the kept input tangents
    // (the module contract passes input tangents only), one more pass.
    const t = cgNetUpdateJvp(d, dprev, rxs[0], rxs[1], rxs[2], rxs[3], this.spec.first ? null : rxs[4], this.param('alpha'), this.beta(), this.tangent('vjpJvp', v, 'alpha'), vbeta);
    t.ry1.dispose();
    const r = cgNetUpdateVjpJvp(dy1, dd, rdy1, rdd, d, t.rd, dprev, this.spec.first ? null : rxs[4], this.param('alpha'), this.beta(), this.tangent('vjpJvp', v, 'alpha'), vbeta);
    t.rd.dispose();
    try {
      if (out !== null) {
        copy(out.alpha, r.rdalpha);
        if (r.rdbeta !== null) copy(out.beta, r.rdbeta);
      }
      const pick = (need: boolean, x: Tensor | null) => (need && x !== null ? alias(x) : null);
      const prev = (x: Tensor | null) => (this.spec.first ? [] : [pick(needInputs[4], x)]);
      return {
        dx: [pick(needInputs[0], r.dy), pick(needInputs[1], r.dg), pick(needInputs[2], r.dg), pick(needInputs[3], r.dg), ...prev(r.ddprev)],
        rdx: [pick(needInputs[0], r.rdy), pick(needInputs[1], r.rdg), pick(needInputs[2], r.rdg), pick(needInputs[3], r.rdg), ...prev(r.rddprev)],
      };
    } finally {
      disposeTensors([r.dy, r.rdy, r.dg, r.rdg, r.ddprev, r.rddprev, r.dalpha, r.rdalpha, r.dbeta, r.rdbeta]);
    }
  }

  /** One example's dα, dβ: the forward and backward kernels on its inputs and the cotangents of (y1, d). */
  sampleParameterGradient(xs: readonly Tensor[], dys: readonly (Tensor | null)[], out: ParameterViews): void {
    const dprev = this.spec.first ? null : xs[4];
    const alpha = this.param('alpha');
    const f = cgNetUpdate(xs[0], xs[1], xs[2], xs[3], dprev, alpha, this.beta());
    const dy1 = dys[0] ?? Tensor.zeros(f.y1.shape, { dtype: f.y1.dtype, device: f.y1.device });
    const r = cgNetUpdateBackward(dy1, dys[1] ?? null, f.d, dprev, alpha, this.beta());
    copy(out.alpha, r.dalpha);
    if (r.dbeta !== null) copy(out.beta, r.dbeta);
    disposeTensors([f.y1, f.d, r.dy, r.dg, r.ddprev, r.dalpha, r.dbeta, dys[0] === null ? dy1 : null]);
  }

  releaseCache(): void {
    this.d?.dispose();
    this.d = this.dprev = null;
  }
}
