// The objective every trainer uses (eq. 27 of the Newton paper, DESIGN.md "Losses"):
//   f(θ) = ‖θ‖²/(2·Cl) + (1/l) Σ_{i=1..l} ξ(z_i; y_i),     Cl = C·l
//   ∇f(θ) = θ/Cl + (1/l) Σ_i ∇_θ ξ_i
// evaluated over a data set in mini-batches (the network's caches are released after each).
import { gatherBatch, type Dataset } from '../data';
import { checkDataset } from '../data/dataset';
import { checkLoss, type Loss } from '../nn/losses';
import { correctCount } from '../nn/metrics';
import { Sequential } from '../nn/sequential';
import { axpy, scale, squaredNorm } from '../ops';
import { Tensor } from '../tensor';

/** Options of evaluateObjective. */
export interface ObjectiveOptions {
  /** Regularisation C > 0 (Cl = C·l). */
  C: number;
  /** The loss ξ. */
  loss: Loss;
  /** Mini-batch size of the evaluation (default 256). */
  batchSize?: number;
  /** Also compute ∇f (default false). */
  gradient?: boolean;
  /**
   * l in Cl = C·l (default data.length). Set it to the training-set size when `data` is a subset
   * of the training data, so the regularisation term is that of the full objective.
   */
  trainSize?: number;
}

/** The value (and optionally the gradient) of the objective. */
export interface ObjectiveResult {
  /** f(θ) = ‖θ‖²/(2Cl) + lossMean. */
  value: number;
  /** (1/l) Σ ξ_i over `data` (l = data.length here). */
  lossMean: number;
  /** ‖θ‖²/(2Cl). */
  regularization: number;
  /** Fraction of `data` classified correctly (argmax of z), computed in the same pass. */
  accuracy: number;
  /** ∇f = θ/Cl + mean loss gradient, (P); owned by the caller. Only with options.gradient. */
  gradient?: Tensor;
}

/** Options of evaluateAccuracy. */
export interface AccuracyOptions {
  /** Mini-batch size (default 256). */
  batchSize?: number;
}

function positiveInteger(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`${fn}: ${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

/**
 * Checks that `data` fits `model`: same per-image shape, classes = output size, not empty.
 * @throws TypeError / RangeError naming `fn`, the data set and both shapes.
 */
export function checkModelData(fn: string, name: string, model: unknown, data: unknown): asserts data is Dataset {
  if (!(model instanceof Sequential)) throw new TypeError(`${fn}: model must be a Sequential, got ${model === null ? 'null' : typeof model}`);
  checkDataset(fn, name, data);
  const [c, h, w] = data.shape;
  const [mc, mh, mw] = model.inputShape;
  if (c !== mc || h !== mh || w !== mw) {
    throw new RangeError(`${fn}: ${name} has images of shape [${c}, ${h}, ${w}] but the network expects [${mc}, ${mh}, ${mw}]`);
  }
  if (data.classes !== model.outputSize) {
    throw new RangeError(`${fn}: ${name} has ${data.classes} classes but the network has ${model.outputSize} outputs`);
  }
  if (data.length === 0) throw new RangeError(`${fn}: ${name} is empty`);
}

function identityOrder(n: number): Int32Array {
  const o = new Int32Array(n);
  for (let i = 0; i < n; i++) o[i] = i;
  return o;
}

/**
 * The objective as a generator: yields after each mini-batch (so an async caller can give the
 * event loop a turn) and returns the result. evaluateObjective drains it synchronously.
 */
export function* objectiveSteps(model: Sequential, data: Dataset, options: ObjectiveOptions): Generator<void, ObjectiveResult, void> {
  const fn = 'evaluateObjective';
  checkModelData(fn, 'data', model, data);
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: options must be an object with C and loss`);
  const C = options.C;
  if (typeof C !== 'number' || !Number.isFinite(C) || C <= 0) throw new RangeError(`${fn}: options.C must be a positive finite number, got ${String(C)}`);
  const loss = checkLoss(fn, options.loss);
  const batchSize = positiveInteger(fn, 'options.batchSize', options.batchSize ?? 256);
  const trainSize = positiveInteger(fn, 'options.trainSize', options.trainSize ?? data.length);
  const wantGradient = options.gradient ?? false;
  const l = data.length;
  const Cl = C * trainSize;
  const order = identityOrder(l);
  const acc = wantGradient ? Tensor.zeros([model.numParameters], { dtype: model.dtype, device: model.device }) : null;
  let lossSum = 0;
  let correct = 0;
  try {
    for (let start = 0; start < l; start += batchSize) {
      const batch = gatherBatch(data, order, start, Math.min(l, start + batchSize), { dtype: model.dtype });
      let z: Tensor | null = null;
      try {
        z = model.forward(batch.x);
        lossSum += loss.value(z, batch.y);
        correct += correctCount(z, batch.labels);
        if (acc !== null) {
          const dz = loss.gradient(z, batch.y);
          try {
            model.backward(dz);
          } finally {
            dz.dispose();
          }
          axpy(acc, 1, model.gradient);
        }
      } finally {
        model.releaseCache();
        z?.dispose();
        batch.x.dispose();
        batch.y.dispose();
      }
      yield;
    }
    const regularization = squaredNorm(model.parameters) / (2 * Cl);
    const lossMean = lossSum / l;
    const result: ObjectiveResult = { value: regularization + lossMean, lossMean, regularization, accuracy: correct / l };
    if (acc !== null) {
      const g = scale(acc, 1 / l);
      axpy(g, 1 / Cl, model.parameters);
      result.gradient = g;
    }
    return result;
  } finally {
    acc?.dispose();
  }
}

/**
 * f(θ) = ‖θ‖²/(2Cl) + (1/l)Σ ξ_i over `data` in mini-batches, and with options.gradient also
 * ∇f = θ/Cl + (1/l)Σ ∇ξ_i (a new tensor). Dropout is inactive (inference mode). model.gradient
 * is used as scratch space (it holds the last batch's gradient afterwards).
 */
export function evaluateObjective(model: Sequential, data: Dataset, options: ObjectiveOptions): ObjectiveResult {
  const steps = objectiveSteps(model, data, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** evaluateObjective giving the event loop a turn between mini-batches. */
export async function evaluateObjectiveAsync(model: Sequential, data: Dataset, options: ObjectiveOptions): Promise<ObjectiveResult> {
  const steps = objectiveSteps(model, data, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Fraction of `data` the network classifies correctly (argmax of the output), in mini-batches. */
export function evaluateAccuracy(model: Sequential, data: Dataset, options?: AccuracyOptions): number {
  const fn = 'evaluateAccuracy';
  checkModelData(fn, 'data', model, data);
  const batchSize = positiveInteger(fn, 'options.batchSize', options?.batchSize ?? 256);
  const order = identityOrder(data.length);
  let correct = 0;
  for (let start = 0; start < data.length; start += batchSize) {
    const batch = gatherBatch(data, order, start, Math.min(data.length, start + batchSize), { dtype: model.dtype });
    try {
      const z = model.predict(batch.x);
      correct += correctCount(z, batch.labels);
      z.dispose();
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  return correct / data.length;
}
