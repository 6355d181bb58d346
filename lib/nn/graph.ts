// Building a network that is not a chain: GraphBuilder adds modules one at a time, each on
// the values of earlier ones (a shortcut is a value used twice), and build() makes the
// Network (lib/nn/network.ts). Shapes are checked as modules are added.
//
//   const g = new GraphBuilder([3, 32, 32]);
//   const x = g.add(conv2d(16, 3, { padding: 1, bias: false }), g.input);
//   const h = g.chain(x, [batchNorm2d(), relu(), conv2d(16, 3, { padding: 1, bias: false }), batchNorm2d()]);
//   const y = g.add(relu(), g.add(add(), [x, h]));              // y = relu(x + F(x))
//   const net = g.build(g.chain(y, [globalAvgPool2d(), linear(10)]), { name: 'tiny-resnet' });
import { buildModule } from './modules/build';
import type { LayerSpec, ModuleSpec } from './layers';
import type { ExampleShape, Module } from './module';
import { checkInputShape, checkNetworkOptions, Network, type NetworkOptions } from './network';
import { fmtShape } from './shape-util';

/** A value of a graph under construction: the network input or a node's output. */
export interface Value {
  /** The node that makes it (-1: the network input). */
  readonly node: number;
  /** Which of the node's outputs (0 but for modules with several outputs). */
  readonly port: number;
  /** Its per-example shape. */
  readonly shape: ExampleShape;
}

/** The serialisable description of a network graph: its input shape and nodes. */
export interface GraphSpec {
  readonly inputShape: readonly [number, number, number];
  /**
   * Node i: its module's spec, its inputs (-1: the network input) and, where a module has
   * several outputs, the output port of each input (absent: all 0). The last node is the output.
   */
  readonly nodes: readonly { readonly spec: ModuleSpec; readonly inputs: readonly number[]; readonly ports?: readonly number[] }[];
}

export class GraphBuilder {
  /** The network input. */
  readonly input: Value;
  readonly inputShape: readonly [number, number, number];
  private readonly owner: string;
  private readonly modules: Module[] = [];
  private readonly inputs: number[][] = [];
  private readonly ports: number[][] = [];
  private readonly specs: ModuleSpec[] = [];
  private parameters = 0;
  private buffers = 0;
  private built = false;

  /** A builder for inputs of per-example shape [C, H, W]; `owner` names it in errors ('Network'). */
  constructor(inputShape: readonly [number, number, number], owner = 'Network') {
    this.owner = owner;
    this.inputShape = checkInputShape(owner, inputShape);
    this.input = Object.freeze({ node: -1, port: 0, shape: this.inputShape });
  }

  /** The number of nodes so far. */
  get size(): number {
    return this.modules.length;
  }

  private checkValue(v: unknown, what: string): Value {
    const value = v as Value | null;
    const ok =
      value !== null &&
      typeof value === 'object' &&
      typeof value.node === 'number' &&
      (value.node === -1
        ? value === this.input
        : value.node >= 0 && value.node < this.modules.length && this.modules[value.node].info.outputShapes[value.port] === value.shape);
    if (!ok) throw new TypeError(`${this.owner}: ${what} must be a value of this builder (its input or what add() returned)`);
    return value;
  }

  /** Adds a module of `spec` on `inputs` (one value, or an array for add and mul); returns its output. */
  add(spec: ModuleSpec, inputs: Value | readonly Value[]): Value {
    const outputs = this.addOutputs(spec, inputs);
    if (outputs.length !== 1) {
      throw new TypeError(`${this.owner}: layer ${outputs[0].node} (${spec.kind}) has ${outputs.length} outputs; add it with addOutputs(), which returns them all`);
    }
    return outputs[0];
  }

  /** Adds a module of `spec` on `inputs` and returns all its outputs (several for the modules that have them). */
  addOutputs(spec: ModuleSpec, inputs: Value | readonly Value[]): Value[] {
    if (this.built) throw new Error(`${this.owner}: the builder has already built its network`);
    const list = Array.isArray(inputs) ? (inputs as readonly Value[]) : [inputs as Value];
    const values = list.map((v, i) => this.checkValue(v, Array.isArray(inputs) ? `inputs[${i}]` : 'input'));
    const index = this.modules.length;
    const module = buildModule(spec, this.owner, index, values.map((v) => v.shape), this.parameters, this.buffers);
    this.parameters += module.info.parameterCount;
    this.buffers += module.info.buffers.reduce((a, b) => a + b.size, 0);
    this.modules.push(module);
    this.inputs.push(values.map((v) => v.node));
    this.ports.push(values.map((v) => v.port));
    this.specs.push(spec);
    return module.info.outputShapes.map((shape, port) => Object.freeze({ node: index, port, shape }));
  }

  /** Adds each spec in turn on the previous one's output, starting at `from`; returns the last output. */
  chain(from: Value, specs: readonly LayerSpec[]): Value {
    let v = from;
    for (const s of specs) v = this.add(s, v);
    return v;
  }

  /** The graph as plain data: every node's spec and inputs. */
  toSpec(): GraphSpec {
    return {
      inputShape: this.inputShape,
      nodes: this.specs.map((spec, i) => ({ spec, inputs: [...this.inputs[i]], ...(this.ports[i].some((p) => p !== 0) ? { ports: [...this.ports[i]] } : {}) })),
    };
  }

  /**
   * The network whose output is `output`, which must be the last value added; every node must
   * feed it (a node that does not would hold parameters no pass could train).
   * @param kind the name errors of the network start with ('Network' by default).
   */
  build(output: Value, options?: NetworkOptions, kind = 'Network'): Network {
    const o = checkNetworkOptions(kind, options);
    const out = this.checkValue(output, 'output');
    if (this.modules.length === 0) throw new RangeError(`${this.owner}: the graph has no layers`);
    if (out.node !== this.modules.length - 1 || out.port !== 0 || this.modules[out.node].info.outputShapes.length !== 1) {
      throw new RangeError(`${this.owner}: the output must be the last value added (node ${this.modules.length - 1}, a module with one output), got node ${out.node}${out.port > 0 ? ` output ${out.port}` : ''}`);
    }
    const used = new Array<boolean>(this.modules.length).fill(false);
    used[out.node] = true;
    for (let i = this.modules.length - 1; i >= 0; i--) {
      if (!used[i]) {
        throw new RangeError(`${this.owner}: layer ${i} (${this.modules[i].info.kind}, output ${fmtShape(this.modules[i].info.outputShape)}) does not feed the output`);
      }
      for (const j of this.inputs[i]) if (j >= 0) used[j] = true;
    }
    this.built = true;
    return new Network(kind, this.inputShape, { modules: this.modules, inputs: this.inputs, ports: this.ports }, this.specs, { dtype: o.dtype, device: o.device, name: o.name ?? kind.toLowerCase() });
  }
}

/** Builds the network of a GraphSpec (e.g. read back from a file). */
export function networkFromSpec(spec: GraphSpec, options?: NetworkOptions): Network {
  const g = new GraphBuilder(spec.inputShape);
  const values: Value[][] = [];
  spec.nodes.forEach((node) => {
    const outputs = g.addOutputs(
      node.spec,
      node.inputs.map((j, k) => (j < 0 ? g.input : values[j][node.ports?.[k] ?? 0])),
    );
    values.push(outputs);
  });
  return g.build(values[values.length - 1][0], options);
}
