// The graph executor: the only code that walks a network (lib/nn/network.ts), for all four
// passes of note [module passes] in lib/nn/module.ts.
//
// Note [graph executor]
// ~~~~~~~~~~~~~~~~~~~~~
// - Nodes are in topological order (a node's inputs come before it; -1 is the network input)
//   and every node feeds the output, which is the last node (GraphBuilder and Sequential
//   guarantee both).
// - forward keeps every node's output alive — the modules' caches borrow their inputs —
//   until the next forward pass or release(); the output z belongs to the caller, and an alias
//   of it stays for the loss Hessian B(z). A Gauss-Newton solve reuses one forward cache for
//   all of its products.
// - vjp walks the nodes backwards. A value that feeds several nodes gets the sum of their
//   cotangents, added in node order (so the result is deterministic). A node is visited only
//   when a gradient is wanted through it: it has parameters, or one of its inputs leads to
//   parameters (or to the network input when the input gradient is asked for).
// - jvp walks forwards; a tangent is null (zero) until the first parameter, and a node whose
//   inputs all have null tangents and which has no parameters is skipped.
// - vjpJvp walks backwards with (cotangent, R{cotangent}) pairs and the tangents of the
//   jvp pass that preceded it.
// - Fusion rewrites: where a pass can use a fused kernel for a pattern of nodes it does, in
//   every pass (note [fusion rewrites] below).
// - A module may have several outputs (info.outputShapes): a value is a (node, port) pair, and
//   activations, cotangents and tangents are kept per port. Such a module's forward and jvp
//   return one tensor per port and its vjp and vjpJvp take one cotangent per port (null: zero,
//   a port nothing downstream needs). Single-output modules see plain tensors, as before.
import { add } from '../ops';
import type { Tensor } from '../tensor';
import type { ForwardContext, GradientTarget, Module, ParameterViews } from './module';
import { Conv2dModule } from './modules/conv2d';
import { MaxPool2dModule } from './modules/pool';
import { ReluModule } from './modules/relu';

/** A network's nodes: each module with the indices of its inputs (-1 = the network input). */
export interface GraphNodes {
  readonly modules: readonly Module[];
  readonly inputs: readonly (readonly number[])[];
  /** The output port of each input (default 0; only modules with several outputs have others). */
  readonly ports?: readonly (readonly number[])[];
}

/** What a vjp pass does at each node with parameters. */
export interface VjpTargets {
  /** Where node i's parameter gradient goes (GradientTarget); called once per visited node. */
  readonly params: (node: number) => GradientTarget;
  /** Also called at each visited node with parameters, with its inputs and the cotangent of each of its outputs (the stored-Jacobian mode). */
  readonly visit?: (node: number, xs: readonly Tensor[], dys: readonly (Tensor | null)[]) => void;
  /** Whether to return the gradient of the network input. */
  readonly inputGradient: boolean;
  /**
   * Called once for every node with parameters when its parameter gradient is final (written, or
   * left alone because no gradient reaches the node), in the order of the backward pass.
   */
  readonly parametersDone?: (node: number) => void;
}

/** One pass's tangents: every node output's R{·} per port (null = 0), kept for a vjpJvp pass when asked. */
export type Tangents = (Tensor | null)[][];

function disposeAll(ts: readonly (Tensor | null | undefined)[]): void {
  for (const t of ts) t?.dispose();
}

function disposeNested(ts: readonly (readonly (Tensor | null | undefined)[] | undefined)[]): void {
  for (const t of ts) if (t !== undefined) disposeAll(t);
}

/** A pass's result as one tensor per port. */
function asPorts<T extends Tensor | null>(r: T | readonly T[]): T[] {
  return Array.isArray(r) ? [...(r as readonly T[])] : [r as T];
}

/**
 * The cotangents a module takes for its ports: the one tensor of a single-output module (the
 * executor visits it only when that cotangent exists), the array for several outputs.
 */
function forModule(module: Module, perPort: readonly (Tensor | null)[]): Tensor | readonly (Tensor | null)[] {
  if (module.info.outputShapes.length > 1) return perPort;
  const t = perPort[0];
  if (t === null) throw new Error(`graph executor: node ${module.info.index} has no cotangent`);
  return t;
}

export class Executor {
  readonly nodes: GraphNodes;
  /** ports[i][k]: the output port of node i's k-th input. */
  private readonly ports: readonly (readonly number[])[];
  /** outputs[i]: how many outputs node i has. */
  private readonly outputs: readonly number[];
  /** consumers[i]: the nodes that read an output of node i (several when it fans out). */
  private readonly consumers: number[][];
  /** leadsToParameters[i]: node i or something before it has parameters. */
  private readonly leadsToParameters: boolean[];
  private activations: (Tensor | null)[][] = [];
  private input: Tensor | null = null;
  /** An alias of the last output z (the caller owns z itself). */
  private outputAlias: Tensor | null = null;

  constructor(nodes: GraphNodes) {
    this.nodes = nodes;
    const n = nodes.modules.length;
    this.ports = nodes.ports ?? nodes.inputs.map((ins) => ins.map(() => 0));
    this.outputs = nodes.modules.map((m) => m.info.outputShapes.length);
    this.consumers = Array.from({ length: n }, () => []);
    this.leadsToParameters = new Array<boolean>(n).fill(false);
    for (let i = 0; i < n; i++) {
      for (const j of nodes.inputs[i]) if (j >= 0 && !this.consumers[j].includes(i)) this.consumers[j].push(i);
      this.leadsToParameters[i] = nodes.modules[i].info.parameterCount > 0 || nodes.inputs[i].some((j) => j >= 0 && this.leadsToParameters[j]);
    }
  }

  get size(): number {
    return this.nodes.modules.length;
  }

  /** Whether a forward pass is cached. */
  get cached(): boolean {
    return this.outputAlias !== null;
  }

  /** The alias of the last output z, or null. */
  get output(): Tensor | null {
    return this.outputAlias;
  }

  /** Empty per-port slots for every node. */
  private slots(): (Tensor | null)[][] {
    return this.outputs.map((k) => new Array<Tensor | null>(k).fill(null));
  }

  /** The value of port `port` of node `j` in the last forward pass (-1: the input). */
  private value(j: number, port: number): Tensor {
    const v = j < 0 ? this.input : this.activations[j]?.[port] ?? null;
    if (v === null) throw new Error(`graph executor: node ${j} has no value (no forward pass)`);
    return v;
  }

  /** Node i's inputs of the last forward pass. */
  inputsOf(i: number): Tensor[] {
    return this.nodes.inputs[i].map((j, k) => this.value(j, this.ports[i][k]));
  }

  /** z for x; keeps the activations (the input x is borrowed and must stay alive). */
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    this.release();
    const { modules } = this.nodes;
    const acts = this.slots();
    this.input = x;
    this.activations = acts;
    const done = new Array<boolean>(modules.length).fill(false);
    try {
      for (let i = 0; i < modules.length; i++) {
        if (done[i]) continue;
        const r = this.fusedConvRelu(i);
        if (r >= 0) {
          // acts[i] stays empty: the pre-activation is never made, and only node r reads it
          const y = (modules[i] as Conv2dModule).forwardRelu(this.inputsOf(i), ctx);
          acts[r][0] = y;
          (modules[r] as ReluModule).forwardFused(y);
          done[r] = true;
          continue;
        }
        const out = asPorts(modules[i].forward(this.inputsOf(i), ctx));
        out.forEach((t, p) => (acts[i][p] = t));
      }
    } catch (e) {
      this.release();
      throw e;
    }
    const last = acts[acts.length - 1];
    const z = last[0]!;
    last[0] = null; // z belongs to the caller
    this.outputAlias = z.reshape(z.shape);
    return z;
  }

  /** Frees the activations and every module's cache. */
  release(): void {
    disposeNested(this.activations);
    this.activations = [];
    this.input = null;
    this.outputAlias?.dispose();
    this.outputAlias = null;
    for (const m of this.nodes.modules) m.releaseCache();
  }

  /**
   * Which inputs of node i need a cotangent: those that lead to parameters, and all of them
   * when the input gradient is wanted (every node depends on the one network input).
   */
  private needInputs(i: number, inputGradient: boolean): boolean[] {
    return this.nodes.inputs[i].map((j) => inputGradient || (j >= 0 && this.leadsToParameters[j]));
  }

  // Note [fusion rewrites]
  // ~~~~~~~~~~~~~~~~~~~~~~
  // ReLU → max pooling (every conv block of cnn3/cnn5): when a max-pool node's only input is a
  // ReLU node that feeds nothing else, the backward of both is one pass over the activations
  // (maxPool2dReluBackward, bit for bit the composition) and the ReLU node is not visited.
  // vjp and vjpJvp use it (ReLU has no curvature of its own, so R{dx} takes the same form).
  //
  // Convolution → ReLU (every conv of cnn3/cnn5): when a conv2d node's only consumer is a ReLU
  // node that is not the network's output, forward computes both with one conv2dRelu (bias and
  // ReLU applied as the convolution writes its output, bit for bit conv2d then relu:
  // native/core/ops/conv.h, note [fused conv passes]). The conv node's own output is never
  // made; the ReLU node's output is, and the ReLU module caches it in place of its input
  // (forwardFused), since 1[y > 0] = 1[x > 0]. So vjp, jvp and vjpJvp walk both nodes as
  // before and give the same bits, the ReLU → max-pool rewrite included. The output node is
  // left alone: z belongs to the caller, who may dispose it before a backward pass.
  /** Whether forward fuses a ReLU into a convolution's output (note [fusion rewrites]); off only to compare with the unfused composition. @internal */
  fuseConvRelu = true;

  /** The ReLU node whose forward is fused into conv node i's, or -1. */
  private fusedConvRelu(i: number): number {
    if (!this.fuseConvRelu || !(this.nodes.modules[i] instanceof Conv2dModule) || this.consumers[i].length !== 1) return -1;
    const r = this.consumers[i][0];
    const ok = this.nodes.modules[r] instanceof ReluModule && r !== this.nodes.modules.length - 1 && this.nodes.inputs[r].length === 1;
    return ok ? r : -1;
  }

  /** The ReLU node fused into max-pool node i's backward, or -1. */
  private fusedRelu(i: number, need: readonly boolean[]): number {
    const module = this.nodes.modules[i];
    if (!(module instanceof MaxPool2dModule) || !need[0]) return -1;
    const r = this.nodes.inputs[i][0];
    if (r < 0 || !(this.nodes.modules[r] instanceof ReluModule) || this.consumers[r].length !== 1) return -1;
    return r;
  }

  /**
   * Adds g into the cotangent store at port `port` of node j (the sum at fan-out, in node order);
   * j = -1 is the network input, whose cotangent goes to `input`.
   */
  private static accumulate(store: (Tensor | null)[][], j: number, port: number, g: Tensor): void {
    const prev = store[j][port];
    if (prev === null) {
      store[j][port] = g;
    } else {
      store[j][port] = add(prev, g);
      prev.dispose();
      g.dispose();
    }
  }

  /**
   * The backward pass from dz (N, ...outputShape): parameter gradients as `targets` says,
   * and the input gradient when asked (owned by the caller), else null.
   */
  vjp(dz: Tensor, targets: VjpTargets): Tensor | null {
    const { modules, inputs } = this.nodes;
    const n = modules.length;
    const cot = this.slots();
    const dxStore: (Tensor | null)[][] = [[null]];
    // cot[n − 1][0] is the caller's dz: borrowed, never disposed here.
    const owned = (i: number, p: number) => !(i === n - 1 && p === 0);
    const accumulate = (j: number, port: number, g: Tensor): void => {
      if (j < 0) Executor.accumulate(dxStore, 0, 0, g);
      else Executor.accumulate(cot, j, port, g);
    };
    cot[n - 1][0] = dz;
    const skip = new Array<boolean>(n).fill(false);
    try {
      for (let i = n - 1; i >= 0; i--) {
        const dys = cot[i];
        const module = modules[i];
        if (skip[i] || dys.every((t) => t === null)) {
          if (module.info.parameterCount > 0) targets.parametersDone?.(i);
          continue;
        }
        const need = this.needInputs(i, targets.inputGradient);
        if (module.info.parameterCount > 0) targets.visit?.(i, this.inputsOf(i), dys);
        const r = this.fusedRelu(i, need);
        if (r >= 0) {
          const g = (module as MaxPool2dModule).vjpThroughRelu(dys[0]!, this.reluInput(r));
          skip[r] = true;
          accumulate(inputs[r][0], this.ports[r][0], g);
        } else if (module.info.parameterCount > 0 || need.some((x) => x)) {
          const grads = module.vjp(forModule(module, dys), need, module.info.parameterCount > 0 ? targets.params(i) : false);
          grads.forEach((g, k) => {
            if (g !== null) accumulate(inputs[i][k], this.ports[i][k], g);
          });
        }
        dys.forEach((t, p) => {
          if (owned(i, p)) t?.dispose();
        });
        cot[i] = dys.map(() => null);
        if (module.info.parameterCount > 0) targets.parametersDone?.(i);
      }
    } catch (e) {
      cot.forEach((ts, i) => ts.forEach((t, p) => owned(i, p) && t?.dispose()));
      dxStore[0][0]?.dispose();
      throw e;
    }
    return dxStore[0][0];
  }

  private reluInput(r: number): Tensor {
    const x = (this.nodes.modules[r] as ReluModule).cachedInput;
    if (x === null) throw new Error('graph executor: the fused ReLU has no cached input');
    return x;
  }

  /**
   * The R-operator pass along parameter tangents v (views per node; null for nodes without
   * parameters): R{z}, and with `keep` every node's tangent (for vjpJvp; the caller disposes
   * them with disposeTangents). R{z} is null when no node has parameters.
   */
  jvp(v: (ParameterViews | null)[], keep: boolean): { rz: Tensor | null; tangents: Tangents } {
    const { modules, inputs } = this.nodes;
    const n = modules.length;
    const r = this.slots();
    const pending = this.consumers.map((c) => c.length);
    try {
      for (let i = 0; i < n; i++) {
        const rxs = inputs[i].map((j, k) => (j < 0 ? null : r[j][this.ports[i][k]]));
        const hasParams = modules[i].info.parameterCount > 0;
        if (hasParams || rxs.some((t) => t !== null)) {
          asPorts(modules[i].jvp(rxs, hasParams ? v[i] : null)).forEach((t, p) => (r[i][p] = t));
        }
        if (!keep) {
          for (const j of new Set(inputs[i])) {
            if (j >= 0 && --pending[j] === 0) {
              disposeAll(r[j]);
              r[j] = r[j].map(() => null);
            }
          }
        }
      }
    } catch (e) {
      disposeNested(r);
      throw e;
    }
    const rz = r[n - 1][0];
    if (!keep) r[n - 1][0] = null;
    return { rz, tangents: keep ? r : [] };
  }

  /**
   * The R-operator of the backward pass (forward-over-reverse) from dz and R{dz}, with the
   * tangents of a jvp pass kept (`tangents`) and the parameter tangents `v`: writes R{dθ} into
   * `out` (views per node). The caller owns dz and rdz.
   */
  vjpJvp(dz: Tensor, rdz: Tensor, tangents: Tangents, v: (ParameterViews | null)[], out: (ParameterViews | null)[]): void {
    const { modules, inputs } = this.nodes;
    const n = modules.length;
    const cot = this.slots();
    const rcot = this.slots();
    const owned = (i: number, p: number) => !(i === n - 1 && p === 0);
    cot[n - 1][0] = dz;
    rcot[n - 1][0] = rdz;
    const skip = new Array<boolean>(n).fill(false);
    const give = (store: (Tensor | null)[][], i: number, k: number, g: Tensor | null): void => {
      if (g === null) return;
      const j = inputs[i][k];
      if (j >= 0) Executor.accumulate(store, j, this.ports[i][k], g);
      else g.dispose();
    };
    try {
      for (let i = n - 1; i >= 0; i--) {
        const dys = cot[i];
        const rdys = rcot[i];
        const single = this.outputs[i] === 1;
        if (skip[i] || dys.every((t) => t === null) || (single && rdys[0] === null)) {
          dys.forEach((t, p) => owned(i, p) && t?.dispose());
          rdys.forEach((t, p) => owned(i, p) && t?.dispose());
          cot[i] = dys.map(() => null);
          rcot[i] = rdys.map(() => null);
          continue;
        }
        const need = this.needInputs(i, false);
        const module = modules[i];
        const r = this.fusedRelu(i, need);
        if (r >= 0) {
          const pool = module as MaxPool2dModule;
          const x = this.reluInput(r);
          skip[r] = true;
          const j = inputs[r][0];
          if (j >= 0) {
            Executor.accumulate(cot, j, this.ports[r][0], pool.vjpThroughRelu(dys[0]!, x));
            if (rdys[0] !== null) Executor.accumulate(rcot, j, this.ports[r][0], pool.vjpThroughRelu(rdys[0], x));
          }
        } else if (module.info.parameterCount > 0 || need.some((x) => x)) {
          const rxs = inputs[i].map((j, k) => (j < 0 ? null : tangents[j][this.ports[i][k]]));
          const hasParams = module.info.parameterCount > 0;
          const res = module.vjpJvp(forModule(module, dys), forModule(module, rdys), rxs, hasParams ? v[i] : null, hasParams ? out[i] : null, need);
          res.dx.forEach((g, k) => give(cot, i, k, g));
          res.rdx.forEach((g, k) => give(rcot, i, k, g));
        }
        dys.forEach((t, p) => owned(i, p) && t?.dispose());
        rdys.forEach((t, p) => owned(i, p) && t?.dispose());
        cot[i] = dys.map(() => null);
        rcot[i] = rdys.map(() => null);
      }
    } catch (e) {
      cot.forEach((ts, i) => ts.forEach((t, p) => owned(i, p) && t?.dispose()));
      rcot.forEach((ts, i) => ts.forEach((t, p) => owned(i, p) && t?.dispose()));
      throw e;
    }
  }
}

/** Disposes the tangents a jvp pass kept. */
export function disposeTangents(tangents: Tangents): void {
  disposeNested(tangents);
}
