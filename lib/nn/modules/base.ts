// Plumbing shared by the modules (lib/nn/module.ts): the info, the views of θ, the gradient
// and the buffers, cache bookkeeping, dispose, and the passes of modules that are a fixed
// linear map of their inputs.
import type { Tensor } from '../../tensor';
import type { ExampleShape, ForwardContext, GradientTarget, Module, ModuleInfo, ParameterSlot, ParameterViews, VjpJvpResult } from '../module';

/** A parameter or buffer of a module before it has a place: name, shape, initialisation. */
export interface SlotSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: ParameterSlot['init'];
}

/** What a module declares when it is built. */
export interface ModuleShape {
  readonly kind: string;
  readonly inputShapes: readonly ExampleShape[];
  readonly outputShape: ExampleShape;
  /** Every output's shape, for modules with several (default [outputShape]). */
  readonly outputShapes?: readonly ExampleShape[];
  readonly parameters?: readonly SlotSpec[];
  readonly buffers?: readonly SlotSpec[];
  readonly fanIn?: number;
  readonly fanOut?: number;
}

const EMPTY: ParameterViews = Object.freeze({});

function place(specs: readonly SlotSpec[], offset: number): ParameterSlot[] {
  const slots: ParameterSlot[] = [];
  let at = offset;
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    slots.push(Object.freeze({ name: s.name, offset: at, shape: Object.freeze([...s.shape]), size, init: s.init }));
    at += size;
  }
  return slots;
}

/** The frozen ModuleInfo of node `index` whose parameters start at θ[offset] and buffers at `bufferOffset`. */
export function moduleInfo(shape: ModuleShape, index: number, offset: number, bufferOffset: number): ModuleInfo {
  const parameters = place(shape.parameters ?? [], offset);
  const buffers = place(shape.buffers ?? [], bufferOffset);
  const weight = parameters.find((p) => p.name === 'weight');
  const bias = parameters.find((p) => p.name === 'bias');
  return Object.freeze({
    index,
    kind: shape.kind,
    inputShape: Object.freeze([...shape.inputShapes[0]]),
    inputShapes: Object.freeze(shape.inputShapes.map((s) => Object.freeze([...s]))),
    outputShape: Object.freeze([...shape.outputShape]),
    outputShapes: Object.freeze((shape.outputShapes ?? [shape.outputShape]).map((o) => Object.freeze([...o]))),
    parameters: Object.freeze(parameters),
    buffers: Object.freeze(buffers),
    parameterCount: parameters.reduce((a, p) => a + p.size, 0),
    ...(weight ? { weight } : {}),
    ...(bias ? { bias } : {}),
    fanIn: shape.fanIn ?? 0,
    fanOut: shape.fanOut ?? 0,
  });
}

/** Base of every module: the info, the views, and the dispose logic. */
export abstract class BaseModule implements Module {
  readonly info: ModuleInfo;
  params: ParameterViews = EMPTY;
  /** Gradient views at the parameters' offsets. */
  protected grads: ParameterViews = EMPTY;
  /** Buffer views (batch-norm running statistics). */
  protected buffers: ParameterViews = EMPTY;

  protected constructor(info: ModuleInfo) {
    this.info = info;
  }

  /** The 'weight' view (null without one). */
  get weight(): Tensor | null {
    return this.params.weight ?? null;
  }

  /** The 'bias' view (null without one). */
  get bias(): Tensor | null {
    return this.params.bias ?? null;
  }

  perSample(): boolean {
    return true;
  }

  bind(params: ParameterViews, grads: ParameterViews, buffers: ParameterViews): void {
    this.disposeViews();
    this.params = params;
    this.grads = grads;
    this.buffers = buffers;
  }

  // Several outputs: arrays of tensors (module.ts); every module of one output narrows these to Tensor.
  abstract forward(xs: readonly Tensor[], ctx: ForwardContext): Tensor | Tensor[];
  abstract vjp(dy: Tensor | readonly (Tensor | null)[], needInputs: readonly boolean[], grads: GradientTarget): (Tensor | null)[];
  abstract jvp(rxs: readonly (Tensor | null)[], v: ParameterViews | null): Tensor | (Tensor | null)[];
  abstract releaseCache(): void;

  /**
   * The R-operator of vjp for a module without parameters whose vjp is, for the cached forward
   * pass, a fixed linear map of dy (ReLU's mask, pooling, flatten, dropout's mask, add, …):
   * R{dx} = vjp(R{dy}). Modules with parameters or curvature of their own override it.
   */
  vjpJvp(
    dy: Tensor | readonly (Tensor | null)[],
    rdy: Tensor | readonly (Tensor | null)[],
    _rxs: readonly (Tensor | null)[],
    _v: ParameterViews | null,
    _out: ParameterViews | null,
    needInputs: readonly boolean[],
  ): VjpJvpResult {
    const dx = this.vjp(dy, needInputs, false);
    try {
      return { dx, rdx: this.vjp(rdy, needInputs, false) };
    } catch (e) {
      for (const t of dx) t?.dispose();
      throw e;
    }
  }

  /** The views to write a parameter gradient into (see GradientTarget); null for none. */
  protected gradientViews(grads: GradientTarget): ParameterViews | null {
    if (grads === false) return null;
    return grads ?? this.grads;
  }

  /** A bound parameter (a programming error when missing). */
  protected param(name: string): Tensor {
    const t = this.params[name];
    if (t === undefined) throw new Error(`${this.info.kind}: module ${this.info.index} has no parameter '${name}' bound`);
    return t;
  }

  /** A parameter tangent (a programming error when missing). */
  protected tangent(fn: string, v: ParameterViews | null, name: string): Tensor {
    const t = v?.[name];
    if (t === undefined) throw new TypeError(`${this.info.kind}.${fn}: v.${name} must be a Tensor for module ${this.info.index}`);
    return t;
  }

  /** The first input tangent of a one-input module without parameters (the executor never passes null there). */
  protected requireTangent(rxs: readonly (Tensor | null)[]): Tensor {
    const r = rxs[0];
    if (r === null || r === undefined) {
      throw new TypeError(`${this.info.kind}.jvp: rx must be a Tensor for a module without parameters (module ${this.info.index})`);
    }
    return r;
  }

  /** Throws when a pass runs without a cached forward pass. */
  protected noCache(): never {
    throw new Error(`${this.info.kind}: backward or jvp called without a forward pass (module ${this.info.index})`);
  }

  private disposeViews(): void {
    for (const group of [this.params, this.grads, this.buffers]) for (const t of Object.values(group)) t.dispose();
    this.params = this.grads = this.buffers = EMPTY;
  }

  dispose(): void {
    this.releaseCache();
    this.disposeViews();
  }
}

/** The batch shape (N, ...exampleShape). */
export function batchShape(n: number, example: ExampleShape): number[] {
  return [n, ...example];
}

/** Disposes every tensor of a list (nulls skipped). */
export function disposeTensors(ts: readonly (Tensor | null | undefined)[]): void {
  for (const t of ts) t?.dispose();
}
