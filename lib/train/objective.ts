// The objective every trainer uses (eq. 27 of the Newton paper, README.md "The Newton method"):
//   f(θ) = ‖θ‖²/(2·Cl) + (1/l) Σ_{i=1..l} ξ(z_i; y_i),     Cl = C·l
//   ∇f(θ) = θ/Cl + (1/l) Σ_i ∇_θ ξ_i
// evaluated over a data set in mini-batches (the network's caches are released after each).
import { gatherBatch, gatherBatchAsync, type AnyDataset, type Batch } from '../data';
import { checkAnyDataset, isStreamed } from '../data/dataset';
import { checkLoss, type Loss } from '../nn/losses';
import { correctCount } from '../nn/metrics';
import { Network } from '../nn/network';
import { axpy, fill, scale, squaredNorm } from '../ops';
import { Tensor } from '../tensor';
import { checkDistributed, type Distributed } from '../distributed';

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
  /**
   * The subsample S (distinct indices into `data`): the other examples are evaluated first, in
   * index order and mini-batches of batchSize, and S last as ONE mini-batch (section 3.5 of the
   * Newton paper). The sums are the same; only the order of the additions changes.
   */
  subsample?: Int32Array;
  /**
   * Batch norm on each mini-batch's own statistics (training mode; dropout stays off) instead
   * of the running statistics (default false). The Newton method's f, ∇f and line search use
   * it: the mini-batches are then a fixed partition of the data (S last), so f is one function
   * for the whole iteration (README.md, "Batch norm").
   */
  batchStatistics?: boolean;
  /** With batchStatistics: update batch norm's running statistics from every mini-batch (default false). */
  updateStatistics?: boolean;
  /**
   * Keep the forward cache of the last mini-batch (S) and return that batch in
   * {@link ObjectiveResult.kept}, so that Gauss-Newton products on S reuse it (default false;
   * needs options.subsample).
   */
  keepSubsample?: boolean;
  /**
   * Data streamed from disk (an image folder, a record set): read the next mini-batch on a
   * worker thread while this one is computed. objectiveSteps then yields the read's Promise
   * before it needs the batch, and its driver must await what it yields. evaluateObjectiveAsync
   * and the trainers do so (their default); evaluateObjective reads each batch when it needs it.
   */
  prefetch?: boolean;
  /**
   * A data-parallel job (initDistributed) of `size` processes, every one making this same call:
   * the mini-batches before S go to the processes in turn (batch k to rank k mod size), S is
   * split into one contiguous share per process (batch norm synchronised over the shares, so S
   * is still one batch), and the sums — losses, correct counts, ∇f and, with updateStatistics,
   * batch norm's running statistics — are added over the processes. Every process returns the
   * single-process result, to rounding; `kept` holds this process's share of S. Needs |S| ≥
   * size. With updateStatistics, a pass that throws leaves the running statistics of ranks
   * other than 0 partial (the trainers restore them).
   */
  distributed?: Distributed;
}

/**
 * The last mini-batch (the subsample S) of an objective evaluation with keepSubsample: its
 * tensors, alive together with the network's forward cache of it, until release().
 */
export interface KeptBatch {
  /** Inputs of S, (|S|, C, H, W) (borrowed by the network's cache). */
  readonly x: Tensor;
  /** One-hot targets of S, (|S|, K). */
  readonly y: Tensor;
  /** The network output on S, (|S|, K). */
  readonly z: Tensor;
  /** Class indices of S. */
  readonly labels: Int32Array;
  /** Disposes x, y, z and releases the network's cache (idempotent). */
  release(): void;
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
  /** The subsample's batch with its forward cache kept; only with options.keepSubsample. The caller releases it. */
  kept?: KeptBatch;
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
export function checkModelData(fn: string, name: string, model: unknown, data: unknown): asserts data is AnyDataset {
  if (!(model instanceof Network)) throw new TypeError(`${fn}: model must be a Network (a Sequential, a ResNet or a GraphBuilder's network), got ${model === null ? 'null' : typeof model}`);
  checkAnyDataset(fn, name, data);
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

// The examples not in S in index order, then S: the traversal order of an evaluation with a subsample.
function subsampleLastOrder(fn: string, n: number, s: unknown): Int32Array {
  if (!(s instanceof Int32Array)) throw new TypeError(`${fn}: options.subsample must be an Int32Array, got ${s === null ? 'null' : typeof s}`);
  if (s.length === 0 || s.length > n) throw new RangeError(`${fn}: options.subsample must hold 1 to ${n} indices, got ${s.length}`);
  const inS = new Uint8Array(n);
  for (let i = 0; i < s.length; i++) {
    const k = s[i];
    if (k < 0 || k >= n) throw new RangeError(`${fn}: options.subsample[${i}] = ${k} is outside [0, ${n})`);
    if (inS[k] === 1) throw new RangeError(`${fn}: options.subsample holds ${k} twice`);
    inS[k] = 1;
  }
  const order = new Int32Array(n);
  let j = 0;
  for (let i = 0; i < n; i++) if (inS[i] === 0) order[j++] = i;
  order.set(s, j);
  return order;
}

/** A mini-batch being read ahead: `done` settles when `batch` (or `error`) is there. */
interface ReadAhead {
  done: Promise<void>;
  batch?: Batch;
  error?: unknown;
}

/**
 * The objective as a generator: yields after each mini-batch (so an async caller can give the
 * event loop a turn) and returns the result. evaluateObjective drains it synchronously. With
 * options.prefetch on streamed data it also yields, before a mini-batch, the Promise of its read
 * (started during the previous one), which the driver awaits.
 */
export function* objectiveSteps(model: Network, data: AnyDataset, options: ObjectiveOptions): Generator<Promise<void> | void, ObjectiveResult, void> {
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
  const batchStatistics = options.batchStatistics ?? false;
  const updateStatistics = options.updateStatistics ?? false;
  if (typeof batchStatistics !== 'boolean') throw new TypeError(`${fn}: options.batchStatistics must be a boolean, got ${typeof batchStatistics}`);
  if (typeof updateStatistics !== 'boolean') throw new TypeError(`${fn}: options.updateStatistics must be a boolean, got ${typeof updateStatistics}`);
  const keep = options.keepSubsample ?? false;
  if (typeof keep !== 'boolean') throw new TypeError(`${fn}: options.keepSubsample must be a boolean, got ${typeof keep}`);
  if (keep && options.subsample === undefined) throw new RangeError(`${fn}: options.keepSubsample needs options.subsample`);
  const order = options.subsample === undefined ? identityOrder(l) : subsampleLastOrder(fn, l, options.subsample);
  const dist = options.distributed === undefined ? undefined : checkDistributed(fn, 'options.distributed', options.distributed, model.device);
  const rank = dist?.rank ?? 0;
  const size = dist?.size ?? 1;
  if (size > 1 && options.subsample !== undefined && options.subsample.length < size) {
    throw new RangeError(`${fn}: options.subsample has ${options.subsample.length} examples, fewer than the ${size} processes of options.distributed (each takes a share of S)`);
  }
  // Mini-batch boundaries: [0, rest) in batchSize pieces, then S as one batch; in a data-parallel
  // job this process's pieces (with the decays of the running statistics over the others'
  // batches before each, Network.decayStatistics) and its share of S.
  const rest = options.subsample === undefined ? l : l - options.subsample.length;
  const plan = batchPlan(rest, l, batchSize, rank, size);
  const bounds = plan.batches.map((b): [number, number] => [b.start, b.end]);
  const updatesHere = updateStatistics && model.buffers.size > 0;
  const syncOfS = dist !== undefined && rest < l ? { batchSize: l - rest, sum: (t: Tensor): void => dist.allReduceSum(t) } : null;
  // the running statistics as a sum over the processes: rank 0 starts from the current values, the others from 0
  if (updatesHere && size > 1 && rank !== 0) fill(model.buffers, 0);
  const acc = wantGradient ? Tensor.zeros([model.numParameters], { dtype: model.dtype, device: model.device }) : null;
  let lossSum = 0;
  let correct = 0;
  let kept: KeptBatch | undefined;
  // streamed data: batch k + 1 is read on a worker thread while batch k is computed
  let finished = false;
  const readAhead = (k: number): ReadAhead => {
    const [s0, e0] = bounds[k];
    const cell: ReadAhead = { done: Promise.resolve() };
    cell.done = gatherBatchAsync(data, order, s0, e0, { dtype: model.dtype, device: model.device }).then(
      (b) => {
        if (!finished) {
          cell.batch = b;
          return;
        }
        b.x.dispose(); // the evaluation ended (aborted, failed) while it was read
        b.y.dispose();
      },
      (e: unknown) => {
        cell.error = e;
      },
    );
    return cell;
  };
  let ahead: ReadAhead | null = options.prefetch === true && isStreamed(data) ? readAhead(0) : null;
  try {
    for (let k = 0; k < bounds.length; k++) {
      const [start, end] = bounds[k];
      const keepThis = keep && k === bounds.length - 1;
      let batch: Batch;
      if (ahead !== null) {
        const cell = ahead;
        if (cell.batch === undefined && cell.error === undefined) yield cell.done;
        if (cell.error !== undefined) throw cell.error;
        if (cell.batch === undefined) throw new Error(`${fn}: options.prefetch needs a driver that awaits the Promises the steps yield (evaluateObjectiveAsync does)`);
        batch = cell.batch;
        cell.batch = undefined;
        ahead = k + 1 < bounds.length ? readAhead(k + 1) : null;
      } else {
        batch = gatherBatch(data, order, start, end, { dtype: model.dtype, device: model.device });
      }
      let z: Tensor | null = null;
      let handedOver = false;
      const isS = plan.batches[k].isS;
      // S's update of the running statistics is the same on every process: rank 0 applies it
      const applyUpdate = updateStatistics && (size === 1 || !isS || rank === 0);
      if (updatesHere) model.decayStatistics(plan.batches[k].decaysBefore);
      try {
        z = model.forward(batch.x, { batchStatistics, updateStatistics: applyUpdate, statisticsSync: isS ? syncOfS : null });
        if (updatesHere && !applyUpdate) model.decayStatistics();
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
        if (keepThis) {
          kept = keptBatch(model, batch.x, batch.y, z, batch.labels);
          handedOver = true;
        }
      } finally {
        if (!handedOver) {
          model.releaseCache();
          z?.dispose();
          batch.x.dispose();
          batch.y.dispose();
        }
      }
      yield;
    }
    if (updatesHere) model.decayStatistics(plan.decaysAfter);
    if (dist !== undefined && size > 1) {
      const sums = Float64Array.of(lossSum, correct);
      dist.allReduceScalars(sums);
      [lossSum, correct] = sums;
      if (acc !== null) dist.allReduceSum(acc);
      if (updatesHere) dist.allReduceSum(model.buffers);
    }
    const regularization = squaredNorm(model.parameters) / (2 * Cl);
    const lossMean = lossSum / l;
    const result: ObjectiveResult = { value: regularization + lossMean, lossMean, regularization, accuracy: correct / l };
    if (acc !== null) {
      const g = scale(acc, 1 / l);
      axpy(g, 1 / Cl, model.parameters);
      result.gradient = g;
    }
    if (kept !== undefined) result.kept = kept;
    kept = undefined;
    return result;
  } finally {
    finished = true;
    if (ahead?.batch !== undefined) {
      ahead.batch.x.dispose();
      ahead.batch.y.dispose();
    }
    acc?.dispose();
    kept?.release(); // only when the evaluation did not complete
  }
}

/** One mini-batch of a process's share of a pass: positions [start, end) of the traversal order. */
interface PlannedBatch {
  readonly start: number;
  readonly end: number;
  /** The subsample S (or this process's share of it). */
  readonly isS: boolean;
  /** Batches of other processes before this one (their running-statistics updates this process decays over). */
  readonly decaysBefore: number;
}

/**
 * The mini-batches of process `rank` of `size` in a pass over positions [0, l) with S at
 * [rest, l): [0, rest) in pieces of batchSize, piece k to rank k mod size, then S split into
 * `size` contiguous shares (one process: every piece, then S whole).
 */
function batchPlan(rest: number, l: number, batchSize: number, rank: number, size: number): { batches: PlannedBatch[]; decaysAfter: number } {
  const batches: PlannedBatch[] = [];
  let skipped = 0;
  for (let start = 0, k = 0; start < rest; start += batchSize, k++) {
    if (k % size !== rank) {
      skipped++;
      continue;
    }
    batches.push({ start, end: Math.min(rest, start + batchSize), isS: false, decaysBefore: skipped });
    skipped = 0;
  }
  if (rest < l) {
    const s = l - rest;
    batches.push({ start: rest + Math.floor((rank * s) / size), end: rest + Math.floor(((rank + 1) * s) / size), isS: true, decaysBefore: skipped });
    skipped = 0;
  }
  return { batches, decaysAfter: skipped };
}

function keptBatch(model: Network, x: Tensor, y: Tensor, z: Tensor, labels: Int32Array): KeptBatch {
  let released = false;
  return {
    x,
    y,
    z,
    labels,
    release(): void {
      if (released) return;
      released = true;
      model.releaseCache();
      z.dispose();
      x.dispose();
      y.dispose();
    },
  };
}

/**
 * f(θ) = ‖θ‖²/(2Cl) + (1/l)Σ ξ_i over `data` in mini-batches, and with options.gradient also
 * ∇f = θ/Cl + (1/l)Σ ∇ξ_i (a new tensor). Dropout is inactive (inference mode). model.gradient
 * is used as scratch space (it holds the last batch's gradient afterwards). With
 * options.subsample the subsample S is the last mini-batch, and with options.keepSubsample its
 * forward cache stays for Gauss-Newton products (result.kept; release it when done).
 */
export function evaluateObjective(model: Network, data: AnyDataset, options: ObjectiveOptions): ObjectiveResult {
  const steps = objectiveSteps(model, data, { ...options, prefetch: false });
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * evaluateObjective giving the event loop a turn between mini-batches, and reading streamed data
 * a mini-batch ahead (options.prefetch, default true here).
 */
export async function evaluateObjectiveAsync(model: Network, data: AnyDataset, options: ObjectiveOptions): Promise<ObjectiveResult> {
  const steps = objectiveSteps(model, data, { ...options, prefetch: options.prefetch ?? true });
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (r.value instanceof Promise) await r.value;
    else await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Fraction of `data` the network classifies correctly (argmax of the output), in mini-batches. */
export function evaluateAccuracy(model: Network, data: AnyDataset, options?: AccuracyOptions): number {
  const fn = 'evaluateAccuracy';
  checkModelData(fn, 'data', model, data);
  const batchSize = positiveInteger(fn, 'options.batchSize', options?.batchSize ?? 256);
  const order = identityOrder(data.length);
  let correct = 0;
  for (let start = 0; start < data.length; start += batchSize) {
    const batch = gatherBatch(data, order, start, Math.min(data.length, start + batchSize), { dtype: model.dtype, device: model.device });
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
