// Modules of several inputs or of one element-wise function: add (any number of inputs of
// one shape), mul (the element-wise product of two), tanh, and a learnable scalar scale
// y = α·x (parameter 'alpha', shape (1)), written with the per-channel ops on x viewed as
// (N·size, 1) so that α never leaves the device.
import { add, axpy, channelAffine, channelCombine, channelDot, copy, mul, scale, tanh, tanhBackward } from '../../ops';
import type { Tensor } from '../../tensor';
import type { ConstantScaleSpec, ScaleSpec } from '../layers';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews, VjpJvpResult } from '../module';
import { fmtShape, prod } from '../shape-util';
import { BaseModule, disposeTensors, moduleInfo } from './base';

function sameShapes(owner: string, index: number, kind: string, inputShapes: readonly ExampleShape[], arity: number | 'many'): ExampleShape {
  const n = inputShapes.length;
  if (arity === 'many' ? n < 2 : n !== arity) {
    throw new RangeError(`${owner}: layer ${index} (${kind}) needs ${arity === 'many' ? 'at least 2' : arity} inputs, got ${n}`);
  }
  const first = inputShapes[0];
  for (let i = 1; i < n; i++) {
    if (inputShapes[i].join() !== first.join()) {
      throw new RangeError(`${owner}: layer ${index} (${kind}) has inputs of per-example shapes ${fmtShape(first)} and ${fmtShape(inputShapes[i])}; they must be equal`);
    }
  }
  return first;
}

/** Σ of the non-null tensors (a new tensor; an alias of the only one), or null when all are null. */
function sumOf(ts: readonly (Tensor | null)[]): Tensor | null {
  let acc: Tensor | null = null;
  for (const t of ts) {
    if (t === null) continue;
    if (acc === null) {
      acc = t.reshape(t.shape);
    } else {
      const next = add(acc, t);
      acc.dispose();
      acc = next;
    }
  }
  return acc;
}

/** y = x₁ + x₂ + … (k ≥ 2 inputs of one shape): the shortcut of residual blocks. */
export class AddModule extends BaseModule {
  private ran = false;

  constructor(owner: string, index: number, inputShapes: readonly ExampleShape[]) {
    super(moduleInfo({ kind: 'add', inputShapes, outputShape: sameShapes(owner, index, 'add', inputShapes, 'many') }, index, 0, 0));
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.ran = true;
    return sumOf(xs)!;
  }

  /** dx_i = dy for every input (views of dy). */
  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    if (!this.ran) this.noCache();
    return needInputs.map((need) => (need ? dy.reshape(dy.shape) : null));
  }

  /** R{y} = Σ R{x_i} over the inputs that have a tangent. */
  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    if (!this.ran) this.noCache();
    const r = sumOf(rxs);
    if (r === null) return this.requireTangent(rxs);
    return r;
  }

  releaseCache(): void {
    this.ran = false;
  }
}

/** y = a ⊙ b (two inputs of one shape): the product of Newton-residual branches. */
export class MulModule extends BaseModule {
  private inputs: readonly [Tensor, Tensor] | null = null;

  constructor(owner: string, index: number, inputShapes: readonly ExampleShape[]) {
    super(moduleInfo({ kind: 'mul', inputShapes, outputShape: sameShapes(owner, index, 'mul', inputShapes, 2) }, index, 0, 0));
  }

  private cached(): readonly [Tensor, Tensor] {
    return this.inputs ?? this.noCache();
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    this.inputs = [xs[0], xs[1]];
    return mul(xs[0], xs[1]);
  }

  /** da = dy ⊙ b, db = dy ⊙ a. */
  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    const [a, b] = this.cached();
    return [needInputs[0] ? mul(dy, b) : null, needInputs[1] ? mul(dy, a) : null];
  }

  /** R{y} = R{a} ⊙ b + a ⊙ R{b}. */
  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    const [a, b] = this.cached();
    const terms = [rxs[0] === null ? null : mul(rxs[0], b), rxs[1] === null ? null : mul(a, rxs[1])];
    try {
      const r = sumOf(terms);
      return r ?? this.requireTangent(rxs);
    } finally {
      disposeTensors(terms);
    }
  }

  /** da = dy⊙b, R{da} = R{dy}⊙b + dy⊙R{b}; db = dy⊙a, R{db} = R{dy}⊙a + dy⊙R{a}. */
  override vjpJvp(
    dy: Tensor,
    rdy: Tensor,
    rxs: readonly (Tensor | null)[],
    _v: ParameterViews | null,
    _out: ParameterViews | null,
    needInputs: readonly boolean[],
  ): VjpJvpResult {
    const [a, b] = this.cached();
    const dx: (Tensor | null)[] = [null, null];
    const rdx: (Tensor | null)[] = [null, null];
    const pairs: [Tensor, Tensor | null][] = [
      [b, rxs[1]],
      [a, rxs[0]],
    ];
    try {
      for (let i = 0; i < 2; i++) {
        if (!needInputs[i]) continue;
        const [other, rother] = pairs[i];
        dx[i] = mul(dy, other);
        const first = mul(rdy, other);
        if (rother === null) {
          rdx[i] = first;
        } else {
          const second = mul(dy, rother);
          rdx[i] = add(first, second);
          first.dispose();
          second.dispose();
        }
      }
    } catch (e) {
      disposeTensors([...dx, ...rdx]);
      throw e;
    }
    return { dx, rdx };
  }

  releaseCache(): void {
    this.inputs = null;
  }
}

/** y = tanh(x); dx = dy ⊙ (1 − y²); R{y} = R{x} ⊙ (1 − y²). */
export class TanhModule extends BaseModule {
  /** An alias of the output y of the last forward pass (owned handle); null before it. */
  private y: Tensor | null = null;

  constructor(index: number, inputShapes: readonly ExampleShape[]) {
    super(moduleInfo({ kind: 'tanh', inputShapes, outputShape: inputShapes[0] }, index, 0, 0));
  }

  private cached(): Tensor {
    return this.y ?? this.noCache();
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    const y = tanh(xs[0]);
    this.y = y.reshape(y.shape);
    return y;
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    const y = this.cached();
    return [needInputs[0] ? tanhBackward(dy, y) : null];
  }

  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    return tanhBackward(this.requireTangent(rxs), this.cached());
  }

  /** R{dx} = R{dy} ⊙ (1 − y²) − 2·dy ⊙ y ⊙ R{y}, R{y} = R{x} ⊙ (1 − y²). */
  override vjpJvp(
    dy: Tensor,
    rdy: Tensor,
    rxs: readonly (Tensor | null)[],
    _v: ParameterViews | null,
    _out: ParameterViews | null,
    needInputs: readonly boolean[],
  ): VjpJvpResult {
    const y = this.cached();
    if (!needInputs[0]) return { dx: [null], rdx: [null] };
    const dx = tanhBackward(dy, y);
    const rdx = tanhBackward(rdy, y);
    const rx = rxs[0];
    if (rx !== null) {
      const ry = tanhBackward(rx, y);
      const yry = mul(y, ry);
      const term = mul(dy, yry);
      axpy(rdx, -2, term);
      disposeTensors([ry, yry, term]);
    }
    return { dx: [dx], rdx: [rdx] };
  }

  releaseCache(): void {
    this.y?.dispose();
    this.y = null;
  }
}

/** y = c·x with a fixed factor c: a fixed linear map, so vjpJvp is BaseModule's vjp of R{dy}. */
export class ConstantScaleModule extends BaseModule {
  readonly factor: number;
  private seen = false;

  constructor(spec: ConstantScaleSpec, index: number, inputShapes: readonly ExampleShape[]) {
    super(moduleInfo({ kind: 'constantScale', inputShapes, outputShape: inputShapes[0] }, index, 0, 0));
    this.factor = spec.factor;
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.seen = true;
    return scale(xs[0], this.factor);
  }

  vjp(dy: Tensor, needInputs: readonly boolean[], _grads: GradientTarget): (Tensor | null)[] {
    if (!this.seen) this.noCache();
    return [needInputs[0] ? scale(dy, this.factor) : null];
  }

  jvp(rxs: readonly (Tensor | null)[], _v: ParameterViews | null): Tensor {
    return scale(this.requireTangent(rxs), this.factor);
  }

  releaseCache(): void {
    this.seen = false;
  }
}

/** y = α·x with a learnable scalar α ('alpha', shape (1), starting at spec.init). */
export class ScaleModule extends BaseModule {
  private readonly size: number;
  /** The input x of the last forward pass (borrowed); null before it. */
  private input: Tensor | null = null;

  constructor(spec: ScaleSpec, index: number, inputShapes: readonly ExampleShape[], offset: number) {
    super(
      moduleInfo(
        { kind: 'scale', inputShapes, outputShape: inputShapes[0], parameters: [{ name: 'alpha', shape: [1], init: { constant: spec.init } }] },
        index,
        offset,
        0,
      ),
    );
    this.size = prod(inputShapes[0]);
  }

  private cached(): Tensor {
    return this.input ?? this.noCache();
  }

  /** t viewed as (N·size, 1): one "channel", so the per-channel ops apply α. */
  private column(t: Tensor): Tensor {
    return t.reshape([t.shape[0] * this.size, 1]);
  }

  private scaled(t: Tensor, alpha: Tensor): Tensor {
    const c = this.column(t);
    try {
      const out = channelAffine(c, alpha);
      const shaped = out.reshape(t.shape);
      out.dispose();
      return shaped;
    } finally {
      c.dispose();
    }
  }

  /** Σ a ⊙ b as a (1) tensor on the device. */
  private dot(a: Tensor, b: Tensor): Tensor {
    const ca = this.column(a);
    const cb = this.column(b);
    try {
      return channelDot(ca, cb);
    } finally {
      ca.dispose();
      cb.dispose();
    }
  }

  forward(xs: readonly Tensor[], _ctx: ForwardContext): Tensor {
    this.releaseCache();
    this.input = xs[0];
    return this.scaled(xs[0], this.param('alpha'));
  }

  /** dx = α·dy, dα = Σ dy ⊙ x. */
  vjp(dy: Tensor, needInputs: readonly boolean[], grads: GradientTarget): (Tensor | null)[] {
    const x = this.cached();
    const out = this.gradientViews(grads);
    if (out !== null) {
      const da = this.dot(dy, x);
      copy(out.alpha, da);
      da.dispose();
    }
    return [needInputs[0] ? this.scaled(dy, this.param('alpha')) : null];
  }

  /** R{y} = α·R{x} + v_α·x. */
  jvp(rxs: readonly (Tensor | null)[], v: ParameterViews | null): Tensor {
    const x = this.cached();
    const va = this.tangent('jvp', v, 'alpha');
    const rx = rxs[0];
    if (rx === null) return this.scaled(x, va);
    const cr = this.column(rx);
    const cx = this.column(x);
    try {
      const out = channelCombine(cr, this.param('alpha'), cx, va);
      const shaped = out.reshape(x.shape);
      out.dispose();
      return shaped;
    } finally {
      cr.dispose();
      cx.dispose();
    }
  }

  /** dx = α·dy, R{dx} = α·R{dy} + v_α·dy; R{dα} = Σ (R{dy} ⊙ x + dy ⊙ R{x}). */
  override vjpJvp(
    dy: Tensor,
    rdy: Tensor,
    rxs: readonly (Tensor | null)[],
    v: ParameterViews | null,
    out: ParameterViews | null,
    needInputs: readonly boolean[],
  ): VjpJvpResult {
    const x = this.cached();
    const alpha = this.param('alpha');
    const va = this.tangent('vjpJvp', v, 'alpha');
    const rx = rxs[0];
    if (out !== null) {
      const r1 = this.dot(rdy, x);
      if (rx !== null) {
        const r2 = this.dot(dy, rx);
        axpy(r1, 1, r2);
        r2.dispose();
      }
      copy(out.alpha, r1);
      r1.dispose();
    }
    if (!needInputs[0]) return { dx: [null], rdx: [null] };
    const dx = this.scaled(dy, alpha);
    const crdy = this.column(rdy);
    const cdy = this.column(dy);
    try {
      const r = channelCombine(crdy, alpha, cdy, va);
      const rdx = r.reshape(dy.shape);
      r.dispose();
      return { dx: [dx], rdx: [rdx] };
    } finally {
      crdy.dispose();
      cdy.dispose();
    }
  }

  /** One example's dα = Σ dy ⊙ x. */
  sampleParameterGradient(xs: readonly Tensor[], dy: Tensor, out: ParameterViews): void {
    const da = this.dot(dy, xs[0]);
    copy(out.alpha, da);
    da.dispose();
  }

  releaseCache(): void {
    this.input = null;
  }
}
