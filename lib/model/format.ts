/**
 * The model file (`.ncnn`): a trained network with everything needed to use it, in the
 * container of lib/container.ts with the magic `NCNNMODL`, version 1.
 *
 * The JSON header:
 * ```json
 * { "format": "newton-cnn model", "version": 1,
 *   "name": "cnn3", "dtype": "float32", "numParameters": 62026, "numBuffers": 0,
 *   "graph": { "inputShape": [1, 28, 28], "nodes": [ { "spec": { "kind": "conv2d", … }, "inputs": [-1] }, … ] },
 *   "classNames": ["T-shirt/top", "Trouser", …],
 *   "loss": "squared",
 *   "preprocessing": { "kind": "paper" },            ("none" | "paper" | "channels"; arrays in sections)
 *   "provenance": { "library": "0.1.0", "createdAt": "2026-…Z", "training": { …options }, "metrics": { … } },
 *   "sections": [ { "name": "parameters", "dtype": "float32", … }, { "name": "buffers", … },
 *                 { "name": "preprocessing.mean", "dtype": "float32", … }, { "name": "preprocessing.std", … } ] }
 * ```
 * `graph` is Network.toSpec(): networkFromSpec rebuilds the same θ layout. θ ("parameters") and
 * the batch-norm running statistics ("buffers") are in the network's dtype; the preprocessing
 * arrays are float32 (present when its kind uses them). A file of a version this code does not
 * know is refused, naming the version.
 *
 * @packageDocumentation
 */
import { ContainerError, decodeContainer, encodeContainer, type SectionArray } from '../container';
import type { GraphSpec } from '../nn';
import type { Preprocessing } from './preprocessing';
import type { JsonValue, Provenance } from './model';

/** The 8 bytes every model file starts with. */
export const MODEL_MAGIC = 'NCNNMODL';
/** The format version this code writes (and the only one it reads). */
export const MODEL_FORMAT_VERSION = 1;
const FORMAT = 'newton-cnn model';

/** Everything a model file holds, as plain data. */
export interface ModelFileContents {
  /** The network's name. */
  name: string;
  /** Element type of θ and the buffers. */
  dtype: 'float32' | 'float64';
  /** The network graph. */
  graph: GraphSpec;
  /** θ. */
  parameters: Float32Array | Float64Array;
  /** The buffers (batch-norm running statistics; may be empty). */
  buffers: Float32Array | Float64Array;
  /** One name per class. */
  classNames: readonly string[];
  /** The loss it was trained with. */
  loss: 'squared' | 'cross-entropy';
  /** How raw images become inputs. */
  preprocessing: Preprocessing;
  /** Image files: the evaluation transform's shorter side (models trained on image folders). */
  imageResize?: number;
  /** Where it came from. */
  provenance: Provenance;
}

/** Serialises a model (the format above). */
export function encodeModel(m: ModelFileContents): Buffer {
  const sections: [string, SectionArray][] = [
    ['parameters', m.parameters],
    ['buffers', m.buffers],
  ];
  if (m.preprocessing.kind === 'paper' || m.preprocessing.kind === 'channels') sections.push(['preprocessing.mean', m.preprocessing.mean]);
  if (m.preprocessing.kind === 'channels') sections.push(['preprocessing.std', m.preprocessing.std]);
  const header = {
    format: FORMAT,
    version: MODEL_FORMAT_VERSION,
    name: m.name,
    dtype: m.dtype,
    numParameters: m.parameters.length,
    numBuffers: m.buffers.length,
    graph: m.graph,
    classNames: m.classNames,
    loss: m.loss,
    preprocessing: { kind: m.preprocessing.kind },
    ...(m.imageResize !== undefined ? { imageResize: m.imageResize } : {}),
    provenance: m.provenance,
  };
  return encodeContainer(MODEL_MAGIC, MODEL_FORMAT_VERSION, header, sections);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkGraph(v: unknown): GraphSpec {
  if (!isObject(v) || !Array.isArray(v.inputShape) || !Array.isArray(v.nodes)) throw new ContainerError('the header has no valid graph (inputShape and nodes)');
  const shape = v.inputShape;
  if (shape.length !== 3 || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) throw new ContainerError(`graph.inputShape must be [C, H, W], got ${JSON.stringify(shape)}`);
  v.nodes.forEach((n: unknown, i: number) => {
    if (!isObject(n) || !isObject(n.spec) || typeof n.spec.kind !== 'string' || !Array.isArray(n.inputs) || !n.inputs.every((j) => Number.isInteger(j) && j >= -1 && j < i)) {
      throw new ContainerError(`graph.nodes[${i}] must be { spec: { kind, … }, inputs: [earlier node indices or -1] }`);
    }
    if (n.ports !== undefined && (!Array.isArray(n.ports) || n.ports.length !== n.inputs.length || !n.ports.every((p) => Number.isInteger(p) && p >= 0))) {
      throw new ContainerError(`graph.nodes[${i}].ports must be one output index per input`);
    }
  });
  if (v.nodes.length === 0) throw new ContainerError('the graph has no nodes');
  return v as unknown as GraphSpec;
}

/**
 * Parses and verifies model-file bytes.
 * @throws ContainerError saying what is wrong (the caller names the file).
 */
export function decodeModel(buf: Buffer): ModelFileContents {
  const c = decodeContainer(buf, { magic: MODEL_MAGIC, versions: [MODEL_FORMAT_VERSION], format: FORMAT, what: 'model file' });
  const h = c.header;
  if (typeof h.name !== 'string') throw new ContainerError('the header has no name');
  const dtype = h.dtype;
  if (dtype !== 'float32' && dtype !== 'float64') throw new ContainerError(`dtype must be float32 or float64, got ${JSON.stringify(dtype)}`);
  const graph = checkGraph(h.graph);
  const parameters = c.section('parameters', [dtype]) as Float32Array | Float64Array;
  const buffers = c.section('buffers', [dtype]) as Float32Array | Float64Array;
  if (parameters.length !== h.numParameters || buffers.length !== h.numBuffers) {
    throw new ContainerError(`θ has ${parameters.length} and the buffers ${buffers.length} values but the header says ${String(h.numParameters)} and ${String(h.numBuffers)}`);
  }
  const names = h.classNames;
  if (!Array.isArray(names) || !names.every((s) => typeof s === 'string')) throw new ContainerError('classNames must be an array of strings');
  const loss = h.loss;
  if (loss !== 'squared' && loss !== 'cross-entropy') throw new ContainerError(`loss must be 'squared' or 'cross-entropy', got ${JSON.stringify(loss)}`);
  const p = h.preprocessing;
  if (!isObject(p)) throw new ContainerError('the header has no preprocessing');
  let preprocessing: Preprocessing;
  if (p.kind === 'none') preprocessing = { kind: 'none' };
  else if (p.kind === 'paper') preprocessing = { kind: 'paper', mean: c.section('preprocessing.mean', ['float32']) as Float32Array };
  else if (p.kind === 'channels') {
    preprocessing = { kind: 'channels', mean: c.section('preprocessing.mean', ['float32']) as Float32Array, std: c.section('preprocessing.std', ['float32']) as Float32Array };
  } else throw new ContainerError(`unknown preprocessing kind ${JSON.stringify(p.kind)}`);
  const provenance = isObject(h.provenance) ? (h.provenance as Provenance & { [key: string]: JsonValue }) : {};
  const imageResize = h.imageResize;
  if (imageResize !== undefined && (typeof imageResize !== 'number' || !Number.isInteger(imageResize) || imageResize < 1)) throw new ContainerError(`imageResize must be a positive integer, got ${JSON.stringify(imageResize)}`);
  return { name: h.name, dtype, graph, parameters, buffers, classNames: names as string[], loss, preprocessing, ...(imageResize !== undefined ? { imageResize } : {}), provenance };
}
