/**
 * ONNX export of a model's network (inference mode: batch norm with its running statistics,
 * dropout as the identity), opset 17, IR version 8. Each module maps to ONNX operators; the fused
 * Newton and CG blocks (lib/nn/modules/fused.ts) map to their sub-graphs of Add, Mul, Sum, Neg
 * and Relu. θ and the buffers become initializers in the network's dtype (float32 → FLOAT,
 * float64 → DOUBLE). The graph's input `input` is (batch, C, H, W) of preprocessed images; the
 * model's preprocessing and class names are recorded in the metadata (`newton-cnn.preprocessing`,
 * `newton-cnn.classNames`) for the code that feeds it.
 *
 * @packageDocumentation
 */
import type { ModuleSpec } from '../../nn';
import type { ModuleInfo } from '../../nn/module';
import type { Model } from '../model';
import { OnnxAttributeType, OnnxDataType, onnxType } from './schema';

/** The ONNX operator set the export targets. */
export const ONNX_OPSET = 17;
/** The ONNX IR version of the files (the one that goes with opset 17). */
export const ONNX_IR_VERSION = 8;

interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

interface OnnxNode {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
}

interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

/** What a module's mapping writes into the graph. */
export interface OnnxEmitter {
  /** Adds a node; returns its output names. */
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes?: readonly OnnxAttribute[]): void;
  /** Adds an initializer holding `values` (the network's dtype) with `dims`; returns its name. */
  constant(name: string, dims: readonly number[], values: ArrayLike<number>): string;
  /** A fresh value name for an intermediate result of node `index`. */
  temp(index: number, what: string): string;
}

/** One module's mapping: its inputs, outputs, parameters and buffers by name. */
interface MappingContext {
  index: number;
  spec: ModuleSpec;
  info: ModuleInfo;
  inputs: readonly string[];
  outputs: readonly string[];
  /** The initializer holding the module's parameter `name`. */
  param(name: string): string;
  /** The initializer holding the module's buffer `name`. */
  buffer(name: string): string;
  emit: OnnxEmitter;
}

const ints = (name: string, values: readonly number[]): OnnxAttribute => ({ name, type: OnnxAttributeType.INTS, ints: [...values] });
const int = (name: string, value: number): OnnxAttribute => ({ name, type: OnnxAttributeType.INT, i: value });
const float = (name: string, value: number): OnnxAttribute => ({ name, type: OnnxAttributeType.FLOAT, f: value });

function windowAttributes(spec: { kernel: readonly number[]; stride: readonly number[]; padding: readonly number[] }): OnnxAttribute[] {
  const [ph, pw] = spec.padding;
  return [ints('kernel_shape', spec.kernel), ints('strides', spec.stride), ints('pads', [ph, pw, ph, pw])];
}

/** y = relu(s) or y = s, written to `out`. */
function activation(c: MappingContext, relu: boolean, s: string, out: string): void {
  c.emit.node(relu ? 'Relu' : 'Identity', [s], [out]);
}

type Mapping = (c: MappingContext) => void;

// One entry per module kind (lib/nn/modules/build.ts); a kind without one is refused by name.
const MAPPINGS: { readonly [kind: string]: Mapping } = {
  conv2d: (c) => {
    if (c.spec.kind !== 'conv2d') return;
    const inputs = [c.inputs[0], c.param('weight'), ...(c.spec.bias ? [c.param('bias')] : [])];
    c.emit.node('Conv', inputs, c.outputs, [...windowAttributes(c.spec), ints('dilations', [1, 1]), int('group', 1)]);
  },
  linear: (c) => {
    if (c.spec.kind !== 'linear') return;
    const inputs = [c.inputs[0], c.param('weight'), ...(c.spec.bias ? [c.param('bias')] : [])];
    c.emit.node('Gemm', inputs, c.outputs, [int('transB', 1)]);
  },
  relu: (c) => c.emit.node('Relu', c.inputs, c.outputs),
  tanh: (c) => c.emit.node('Tanh', c.inputs, c.outputs),
  identity: (c) => c.emit.node('Identity', c.inputs, c.outputs),
  dropout: (c) => c.emit.node('Identity', c.inputs, c.outputs),
  flatten: (c) => c.emit.node('Flatten', c.inputs, c.outputs, [int('axis', 1)]),
  maxPool2d: (c) => {
    if (c.spec.kind !== 'maxPool2d') return;
    c.emit.node('MaxPool', c.inputs, c.outputs, windowAttributes(c.spec));
  },
  avgPool2d: (c) => {
    if (c.spec.kind !== 'avgPool2d') return;
    // lib/nn divides by the whole window, padding included (native/core/ops/pool.h)
    c.emit.node('AveragePool', c.inputs, c.outputs, [...windowAttributes(c.spec), int('count_include_pad', 1)]);
  },
  globalAvgPool2d: (c) => {
    const pooled = c.emit.temp(c.index, 'pooled');
    c.emit.node('GlobalAveragePool', c.inputs, [pooled]);
    c.emit.node('Flatten', [pooled], c.outputs, [int('axis', 1)]);
  },
  batchNorm2d: (c) => {
    if (c.spec.kind !== 'batchNorm2d') return;
    const channels = c.info.inputShape[0];
    const scale = c.spec.affine ? c.param('weight') : c.emit.constant(`node${c.index}.weight`, [channels], new Array<number>(channels).fill(1));
    const shift = c.spec.affine ? c.param('bias') : c.emit.constant(`node${c.index}.bias`, [channels], new Array<number>(channels).fill(0));
    c.emit.node('BatchNormalization', [c.inputs[0], scale, shift, c.buffer('runningMean'), c.buffer('runningVar')], c.outputs, [float('epsilon', c.spec.eps)]);
  },
  add: (c) => c.emit.node(c.inputs.length === 2 ? 'Add' : 'Sum', c.inputs, c.outputs),
  mul: (c) => c.emit.node('Mul', c.inputs, c.outputs),
  concat: (c) => c.emit.node('Concat', c.inputs, c.outputs, [int('axis', 1)]),
  scale: (c) => c.emit.node('Mul', [c.inputs[0], c.param('alpha')], c.outputs),
  constantScale: (c) => {
    if (c.spec.kind !== 'constantScale') return;
    c.emit.node('Mul', [c.inputs[0], c.emit.constant(`node${c.index}.factor`, [1], [c.spec.factor])], c.outputs);
  },
  newtonResidual: (c) => {
    if (c.spec.kind !== 'newtonResidual') return;
    // y = φ(a + b + α·p⊙q), q absent ≡ 1
    const [a, b, p, q] = c.inputs;
    const ab = c.emit.temp(c.index, 'a_plus_b');
    c.emit.node('Add', [a, b], [ab]);
    let pq = p;
    if (q !== undefined) {
      pq = c.emit.temp(c.index, 'p_times_q');
      c.emit.node('Mul', [p, q], [pq]);
    }
    const scaled = c.emit.temp(c.index, 'alpha_pq');
    c.emit.node('Mul', [pq, c.param('alpha')], [scaled]);
    const s = c.emit.temp(c.index, 'sum');
    c.emit.node('Add', [ab, scaled], [s]);
    activation(c, c.spec.relu, s, c.outputs[0]);
  },
  cgNetUpdate: (c) => {
    if (c.spec.kind !== 'cgNetUpdate') return;
    // d = −(y + g1 + g2 + g3) + β·dprev (no β term in the first block), y1 = y + α·d
    const [y, g1, g2, g3, dprev] = c.inputs;
    const [y1, d] = c.outputs;
    const total = c.emit.temp(c.index, 'sum');
    c.emit.node('Sum', [y, g1, g2, g3], [total]);
    if (c.spec.first) {
      c.emit.node('Neg', [total], [d]);
    } else {
      const negated = c.emit.temp(c.index, 'negated');
      c.emit.node('Neg', [total], [negated]);
      const momentum = c.emit.temp(c.index, 'beta_dprev');
      c.emit.node('Mul', [dprev, c.param('beta')], [momentum]);
      c.emit.node('Add', [negated, momentum], [d]);
    }
    const step = c.emit.temp(c.index, 'alpha_d');
    c.emit.node('Mul', [d, c.param('alpha')], [step]);
    c.emit.node('Add', [y, step], [y1]);
  },
};

/** The module kinds the export maps. */
export const ONNX_EXPORTABLE_KINDS: readonly string[] = Object.freeze(Object.keys(MAPPINGS));

/**
 * The mapping of module kind `kind`.
 * @throws RangeError naming the node and the kind when there is none.
 */
export function onnxMapping(kind: string, index: number): Mapping {
  const m = Object.prototype.hasOwnProperty.call(MAPPINGS, kind) ? MAPPINGS[kind] : undefined;
  if (m === undefined) {
    throw new RangeError(`exportOnnx: node ${index} is a '${kind}' module, which has no ONNX mapping (exportable: ${ONNX_EXPORTABLE_KINDS.join(', ')})`);
  }
  return m;
}

function littleEndianBytes(values: ArrayLike<number>, dtype: 'float32' | 'float64'): Uint8Array {
  const a = dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function tensorType(elemType: number, dims: readonly (number | string)[]): object {
  return {
    tensorType: {
      elemType,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  };
}

/** Options of exportOnnx. */
export interface ExportOnnxOptions {
  /** The graph's name (default: the network's name). */
  graphName?: string;
}

/**
 * The ONNX model (protobuf bytes) of `model`'s network in inference mode.
 * @throws RangeError naming a module without an ONNX mapping.
 */
export function onnxBytes(model: Model, options: ExportOnnxOptions = {}): Uint8Array {
  const net = model.network;
  net.checkAlive('exportOnnx');
  const dtype = net.dtype;
  const elemType = dtype === 'float64' ? OnnxDataType.DOUBLE : OnnxDataType.FLOAT;
  const theta = net.getParameters();
  const buffers = net.getBuffers();
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const names = new Set<string>();
  const emit: OnnxEmitter = {
    node(opType, input, output, attribute = []) {
      nodes.push({ name: `${output[0]}.${opType}`, opType, input: [...input], output: [...output], attribute: [...attribute] });
    },
    constant(name, dims, values) {
      if (names.has(name)) throw new Error(`exportOnnx: two initializers named ${name}`);
      names.add(name);
      initializers.push({ name, dims: [...dims], dataType: elemType, rawData: littleEndianBytes(values, dtype) });
      return name;
    },
    temp: (index, what) => `node${index}.${what}`,
  };
  const layers = net.layers();
  const last = layers.length - 1;
  const valueName = (node: number, port: number): string => (node < 0 ? 'input' : node === last ? 'output' : port === 0 ? `node${node}` : `node${node}:${port}`);
  layers.forEach((info, i) => {
    const spec = net.nodeSpecs[i];
    const mapping = onnxMapping(spec.kind, i);
    const slot = (slots: readonly { name: string; offset: number; size: number; shape: readonly number[] }[], source: Float32Array | Float64Array, what: string) => (name: string): string => {
      const s = slots.find((x) => x.name === name);
      if (s === undefined) throw new Error(`exportOnnx: node ${i} (${spec.kind}) has no ${what} '${name}'`);
      return emit.constant(`node${i}.${name}`, s.shape, source.subarray(s.offset, s.offset + s.size));
    };
    mapping({
      index: i,
      spec,
      info,
      inputs: net.nodeInputs[i].map((j, k) => valueName(j, net.nodePorts[i][k])),
      outputs: info.outputShapes.map((_, p) => valueName(i, p)),
      param: slot(info.parameters, theta, 'parameter'),
      buffer: slot(info.buffers, buffers, 'buffer'),
      emit,
    });
  });
  const [c, h, w] = net.inputShape;
  const graph = {
    name: options.graphName ?? net.name,
    node: nodes,
    initializer: initializers,
    input: [{ name: 'input', type: tensorType(elemType, ['batch', c, h, w]) }],
    output: [{ name: 'output', type: tensorType(elemType, ['batch', net.outputSize]) }],
  };
  const preprocessing = model.preprocessing;
  const metadata = {
    'newton-cnn.preprocessing': JSON.stringify(
      preprocessing.kind === 'none' ? preprocessing : { ...preprocessing, mean: [...preprocessing.mean], ...(preprocessing.kind === 'channels' ? { std: [...preprocessing.std] } : {}) },
    ),
    'newton-cnn.classNames': JSON.stringify(model.classNames),
    'newton-cnn.loss': model.loss,
  };
  const ModelProto = onnxType('ModelProto');
  const message = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'newton-cnn',
    producerVersion: model.provenance.library ?? '',
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  const problem = ModelProto.verify(message);
  if (problem !== null) throw new Error(`exportOnnx: internal error: the ONNX message is malformed (${problem})`);
  return ModelProto.encode(ModelProto.fromObject(message)).finish();
}
