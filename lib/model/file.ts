/**
 * Loading models (the format is lib/model/format.ts; Model.save in lib/model/model.ts writes
 * them): `loadModel(path)` verifies the file and rebuilds the network.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';

import { ContainerError } from '../container';
import { describe } from '../errors';
import { networkFromSpec, Sequential, type LayerSpec } from '../nn';
import { decodeModel, type ModelFileContents } from './format';
import { Model } from './model';

/** Options of loadModel. */
export interface LoadModelOptions {
  /** The device to build the network on (default 'cpu'). */
  device?: string;
}

function checkPath(fn: string, file: unknown): asserts file is string {
  if (typeof file !== 'string' || file === '') throw new TypeError(`${fn}: path must be a non-empty string, got ${describe(file)}`);
}

/**
 * The Model of model-file bytes (owning its network). `source` names the file in errors.
 * @throws Error `loadModel: SOURCE: …` for a foreign, truncated, corrupted or newer file, or a
 *   graph this version cannot build.
 */
export function modelFromBytes(buf: Buffer, source: string, options: LoadModelOptions = {}): Model {
  const fn = 'loadModel';
  let m: ModelFileContents;
  try {
    m = decodeModel(buf);
  } catch (e) {
    if (e instanceof ContainerError) throw new Error(`${fn}: ${source}: ${e.reason}`);
    throw e;
  }
  const netOptions = { dtype: m.dtype, device: options.device ?? 'cpu', name: m.name };
  let net;
  try {
    // a chain is rebuilt as a Sequential, so that the loaded model is what the builders return
    const chain = m.graph.nodes.every((n, i) => n.inputs.length === 1 && n.inputs[0] === i - 1 && n.ports === undefined);
    net = chain ? new Sequential(m.graph.inputShape, m.graph.nodes.map((n) => n.spec as LayerSpec), netOptions) : networkFromSpec(m.graph, netOptions);
  } catch (e) {
    throw new Error(`${fn}: ${source}: the file's graph cannot be built (${(e as Error).message})`, { cause: e });
  }
  try {
    if (net.numParameters !== m.parameters.length || net.getBuffers().length !== m.buffers.length) {
      throw new Error(`${fn}: ${source}: the graph has ${net.numParameters} parameters and ${net.getBuffers().length} buffer values but the file holds ${m.parameters.length} and ${m.buffers.length}`);
    }
    net.setParameters(m.parameters);
    net.setBuffers(m.buffers);
    return new Model(net, { preprocessing: m.preprocessing, classNames: m.classNames, loss: m.loss, provenance: m.provenance, ...(m.imageResize !== undefined ? { imageResize: m.imageResize } : {}), ownsNetwork: true });
  } catch (e) {
    net.dispose();
    if (e instanceof Error && !e.message.startsWith(fn)) throw new Error(`${fn}: ${source}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * Reads and verifies a model file and rebuilds its network (on options.device).
 * @throws Error naming the file: missing, unreadable, foreign, truncated, corrupted, newer.
 */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
  const fn = 'loadModel';
  checkPath(fn, path);
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`${fn}: ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : `cannot read it (${err.message})`}`);
  }
  return modelFromBytes(buf, path, options);
}
