/**
 * A trained model: a network together with what using it needs — the preprocessing of raw
 * images, the class names, the loss it was trained with, and where it came from. Save it with
 * `model.save(path)`, read it back with `loadModel(path)` (lib/model/file.ts), export it with
 * `model.exportOnnx(path)` (lib/model/onnx/export.ts).
 *
 *   const model = new Model(net, { preprocessing: { kind: 'paper', mean }, classNames: ['cat', 'dog'] });
 *   await model.save('pets.ncnn');
 *   const again = await loadModel('pets.ncnn');
 *   const [first] = again.predict(rawImages, { topK: 2 });   // first.top[0].name === 'cat' ...
 *
 * @packageDocumentation
 */
import { checkWritableDestination, writeFileAtomic } from '../atomic-file';
import { createDataset, validateDataset, type Dataset } from '../data';
import { describe } from '../errors';
import type { LossName, Network } from '../nn';
import { info } from '../runtime';
import { Tensor } from '../tensor';
import { encodeModel, type ModelFileContents } from './format';
import { onnxBytes, type ExportOnnxOptions } from './onnx/export';
import { EvaluationAccumulator, topClasses, type ClassScore, type Evaluation } from './metrics';
import { applyPreprocessing, checkPreprocessing, type Preprocessing } from './preprocessing';

/** A JSON value (training options and metrics are recorded as such). */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Where a model came from: written into its file. */
export interface Provenance {
  /** The newton-cnn version that wrote the file (set on save). */
  library?: string;
  /** When the file was written, ISO 8601 (set on save). */
  createdAt?: string;
  /** The training run's options (the CLI records its resolved options). */
  training?: { readonly [key: string]: JsonValue };
  /** Final metrics of the run (test accuracy, objective, …). */
  metrics?: { readonly [key: string]: JsonValue };
}

/** What a Model needs besides its network. */
export interface ModelOptions {
  /** How raw images become inputs (default { kind: 'none' }). */
  preprocessing?: Preprocessing;
  /** One name per output (default '0', '1', …). */
  classNames?: readonly string[];
  /** The loss it was trained with (default 'squared', the paper's): evaluate reports it. */
  loss?: LossName;
  /** Provenance to record. */
  provenance?: Provenance;
  /**
   * For a model trained on an image folder: an image file's shorter side is resized to this, then
   * the central crop of the input size is taken (the folder's evaluation transform), whatever
   * the file's size. Absent: files must have the input size (or are stretched to it on request).
   */
  imageResize?: number;
  /**
   * Whether the Model owns the network: dispose() disposes it (default false; loadModel's models
   * own theirs).
   */
  ownsNetwork?: boolean;
}

/** Options of predict, outputs and evaluate. */
export interface InferenceOptions {
  /** Examples per forward pass (default 256). */
  batchSize?: number;
  /** Whether the images are already preprocessed (default false: raw, as read from files). */
  preprocessed?: boolean;
}

/** One example's prediction. */
export interface Prediction {
  /** The most likely class. */
  index: number;
  /** Its name. */
  name: string;
  /** Its softmax probability. */
  probability: number;
  /** The top-k classes, most likely first (k = options.topK). */
  top: ClassScore[];
}

/** Raw images to predict on: a Dataset, or NCHW pixel values with the model's input shape. */
export type ModelInput = Dataset | Float32Array;

function positiveInteger(fn: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RangeError(`${fn}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/** A network with its preprocessing, class names, loss and provenance. */
export class Model {
  /** The network (inference mode: batch norm uses its running statistics). */
  readonly network: Network;
  /** How raw images become inputs. */
  readonly preprocessing: Preprocessing;
  /** One name per class (output). */
  readonly classNames: readonly string[];
  /** The loss the model was trained with. */
  readonly loss: LossName;
  /** Where it came from. */
  readonly provenance: Provenance;
  /** See {@link ModelOptions.imageResize}. */
  readonly imageResize: number | undefined;
  private readonly ownsNetwork: boolean;

  /**
   * @throws TypeError/RangeError when the preprocessing does not fit the network's input shape,
   *   the class names are not one string per output, or the loss is unknown.
   */
  constructor(network: Network, options: ModelOptions = {}) {
    const fn = 'Model';
    if (network === null || typeof network !== 'object' || typeof (network as Partial<Network>).toSpec !== 'function') {
      throw new TypeError(`${fn}: network must be a Network, got ${describe(network)}`);
    }
    network.checkAlive(fn);
    if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
    this.network = network;
    this.preprocessing = checkPreprocessing(fn, options.preprocessing ?? { kind: 'none' }, network.inputShape);
    const k = network.outputSize;
    const names = options.classNames ?? Array.from({ length: k }, (_, i) => String(i));
    if (!Array.isArray(names) || names.length !== k || !names.every((s) => typeof s === 'string' && s.length > 0)) {
      throw new RangeError(`${fn}: classNames must be ${k} non-empty strings (one per output of ${network.name}), got ${Array.isArray(names) ? `${names.length} entries` : describe(names)}`);
    }
    this.classNames = Object.freeze([...names]);
    const loss = options.loss ?? 'squared';
    if (loss !== 'squared' && loss !== 'cross-entropy') throw new RangeError(`${fn}: loss must be 'squared' or 'cross-entropy', got ${JSON.stringify(loss) ?? String(loss)}`);
    this.loss = loss;
    this.provenance = { ...(options.provenance ?? {}) };
    const [, h, w] = network.inputShape;
    if (options.imageResize !== undefined && (!Number.isInteger(options.imageResize) || options.imageResize < Math.max(h, w) || options.imageResize > 32768)) {
      throw new RangeError(`${fn}: imageResize must be an integer from ${Math.max(h, w)} (the input's longer side) to 32768, got ${String(options.imageResize)}`);
    }
    this.imageResize = options.imageResize;
    this.ownsNetwork = options.ownsNetwork ?? false;
  }

  /** Per-example input shape [C, H, W]. */
  get inputShape(): readonly [number, number, number] {
    return this.network.inputShape;
  }

  /** Number of classes. */
  get classes(): number {
    return this.network.outputSize;
  }

  /** `input` as a Dataset of the model's input shape (labels 0 when it is an array). */
  private asDataset(fn: string, input: unknown): Dataset {
    const [c, h, w] = this.inputShape;
    const size = c * h * w;
    if (input instanceof Float32Array) {
      if (input.length === 0 || input.length % size !== 0) {
        throw new RangeError(`${fn}: images must hold whole images of shape [${c}, ${h}, ${w}] (${size} values each), got ${input.length} values`);
      }
      return createDataset({ name: 'images', images: input, labels: new Int32Array(input.length / size), shape: [c, h, w], classes: this.classes });
    }
    const ds = input as Partial<Dataset> | null;
    if (ds === null || typeof ds !== 'object' || !(ds.images instanceof Float32Array) || !Array.isArray(ds.shape)) {
      throw new TypeError(`${fn}: images must be a Dataset or a Float32Array of NCHW pixel values, got ${describe(input)}`);
    }
    if (ds.shape.some((d, i) => d !== this.inputShape[i])) {
      throw new RangeError(`${fn}: '${String(ds.name)}' has images of shape [${ds.shape.join(', ')}] but the model takes [${c}, ${h}, ${w}]`);
    }
    return input as Dataset;
  }

  /**
   * Runs `fn` on the outputs z (n, K) of consecutive batches of `input` (preprocessed unless
   * options.preprocessed), in float64.
   */
  private forEachBatch(fn: string, input: unknown, options: InferenceOptions | undefined, visit: (z: Float64Array, first: number, labels: Int32Array) => void): Dataset {
    this.network.checkAlive(fn);
    const batchSize = positiveInteger(fn, 'options.batchSize', options?.batchSize, 256);
    const raw = this.asDataset(fn, input);
    const ds = options?.preprocessed === true ? raw : applyPreprocessing(this.preprocessing, raw);
    const [c, h, w] = this.inputShape;
    const size = c * h * w;
    for (let first = 0; first < ds.length; first += batchSize) {
      const n = Math.min(batchSize, ds.length - first);
      const x = Tensor.from(ds.images.subarray(first * size, (first + n) * size), { shape: [n, c, h, w], dtype: this.network.dtype, device: this.network.device });
      try {
        const z = this.network.predict(x);
        try {
          visit(Float64Array.from(z.toArray()), first, ds.labels.subarray(first, first + n));
        } finally {
          z.dispose();
        }
      } finally {
        x.dispose();
      }
    }
    return ds;
  }

  /** The network outputs z (N, K) for raw images, row-major, in the network's dtype widened to float64. */
  outputs(images: ModelInput, options?: InferenceOptions): Float64Array {
    const fn = 'Model.outputs';
    const k = this.classes;
    const parts: Float64Array[] = [];
    const ds = this.forEachBatch(fn, images, options, (z) => parts.push(z));
    const out = new Float64Array(ds.length * k);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /**
   * The top classes of each image, with softmax probabilities of the outputs. (For a model
   * trained with the squared loss, the paper's, these are the softmax of its outputs: they rank
   * the classes but are not calibrated probabilities.)
   */
  predict(images: ModelInput, options?: InferenceOptions & { topK?: number }): Prediction[] {
    const fn = 'Model.predict';
    const topK = positiveInteger(fn, 'options.topK', options?.topK, Math.min(5, this.classes));
    const k = this.classes;
    const out: Prediction[] = [];
    this.forEachBatch(fn, images, options, (z) => {
      for (let i = 0; i < z.length / k; i++) {
        const top = topClasses(z, i, k, topK, this.classNames);
        out.push({ index: top[0].index, name: top[0].name, probability: top[0].probability, top });
      }
    });
    return out;
  }

  /**
   * Accuracy, top-5 accuracy, per-class accuracy, the confusion matrix and the mean loss on a
   * labelled data set of raw images.
   * @throws RangeError when the data set's labels do not fit the model's classes.
   */
  evaluate(data: Dataset, options?: InferenceOptions): Evaluation {
    const fn = 'Model.evaluate';
    const ds = this.asDataset(fn, data);
    validateDataset(ds, fn);
    const bad = ds.labels.findIndex((y) => y < 0 || y >= this.classes);
    if (bad >= 0) throw new RangeError(`${fn}: '${ds.name}' label ${bad} is ${ds.labels[bad]} but the model has ${this.classes} classes (0..${this.classes - 1})`);
    const acc = new EvaluationAccumulator(this.classes, this.loss);
    this.forEachBatch(fn, ds, options, (z, _first, labels) => acc.add(z, labels));
    return acc.result();
  }

  /** The plain contents of the model's file, provenance stamped with the library version and time. */
  contents(): ModelFileContents {
    const net = this.network;
    net.checkAlive('Model.save');
    return {
      name: net.name,
      dtype: net.dtype,
      graph: net.toSpec(),
      parameters: net.getParameters(),
      buffers: net.getBuffers(),
      classNames: this.classNames,
      loss: this.loss,
      preprocessing: this.preprocessing,
      ...(this.imageResize !== undefined ? { imageResize: this.imageResize } : {}),
      provenance: { ...this.provenance, library: info().version, createdAt: new Date().toISOString() },
    };
  }

  /**
   * Writes the model file (lib/model/format.ts) to `path` atomically (a temporary file renamed
   * over it): an interrupted or failed save leaves the previous file whole.
   * @throws Error `Model.save: PATH: …` for a directory, a missing or unwritable directory, or a
   *   failed write.
   */
  async save(path: string): Promise<void> {
    const fn = 'Model.save';
    if (typeof path !== 'string' || path === '') throw new TypeError(`${fn}: path must be a non-empty string, got ${describe(path)}`);
    const bytes = encodeModel(this.contents());
    await checkWritableDestination(fn, path);
    try {
      await writeFileAtomic(path, bytes);
    } catch (e) {
      throw new Error(`${fn}: ${path}: cannot write the model (${(e as Error).message})`, { cause: e });
    }
  }

  /**
   * Writes the network as an ONNX model (opset 17; lib/model/onnx/export.ts) to `path`,
   * atomically. Its input is preprocessed images (the preprocessing is in its metadata).
   * @throws RangeError naming a module without an ONNX mapping; Error for an unwritable path.
   */
  async exportOnnx(path: string, options?: ExportOnnxOptions): Promise<void> {
    const fn = 'Model.exportOnnx';
    if (typeof path !== 'string' || path === '') throw new TypeError(`${fn}: path must be a non-empty string, got ${describe(path)}`);
    const bytes = onnxBytes(this, options);
    await checkWritableDestination(fn, path);
    try {
      await writeFileAtomic(path, bytes);
    } catch (e) {
      throw new Error(`${fn}: ${path}: cannot write the ONNX file (${(e as Error).message})`, { cause: e });
    }
  }

  /** Frees the network when the model owns it (loadModel's models do). */
  dispose(): void {
    if (this.ownsNetwork && !this.network.disposed) this.network.dispose();
  }
}
