// trainSgd: mini-batch SGD with momentum (Algorithm 2 of the Newton paper; or, options.optimizer,
// the scale-amended SGD of the local-Hessian paper) over epochs of fresh random permutations, with
// progress callbacks, epoch-end evaluation, cancellation through an AbortSignal and bit-for-bit
// resumption from a TrainState.
//
// Determinism: the data order comes from a seeded lib/data Rng (one permutation drawn at the start
// of each epoch); dropout noise seeds are mixSeed(seed, step); everything else is deterministic
// native arithmetic. A TrainState taken at any batch boundary therefore continues exactly as the
// uninterrupted run would have. The batches come from a DataLoader over that permutation,
// assembled off the JS thread a few batches ahead (the same values gatherBatch gives: copies of
// the images, or their augmentation by draws keyed by (seed, epoch, position)); a resume at any
// batch reassembles them exactly, so the state needs nothing more.
import { Rng, isImageFolder, subset, validateDataset, type AnyDataset } from '../data';
import { DataLoader, resolveAugment, type LoaderBatch } from '../data/loader';
import { checkLoss, type Loss } from '../nn/losses';
import { mixSeed } from '../nn/seed';
import type { Network } from '../nn/network';
import type { StatisticsSync } from '../nn/module';
import { copy, scale } from '../ops';
import { ScaleAmendedSgd } from '../optim/scale-amended-sgd';
import { Sgd, type MinibatchOptimizer } from '../optim/sgd';
import { DivergenceError, firstNonFinite, nonFiniteElement, short, type DivergedQuantity } from './divergence';
import { checkModelData, evaluateObjectiveAsync } from './objective';
import { checkResumeBuffers, type EpochStats, type SgdOptimizerName, type TrainResult, type TrainSgdOptions, type TrainState } from './types';
import { isFloatArray, isInt32Array } from '../nn/shape-util';
import { profile } from '../profile';
import { checkDistributed, type Distributed } from '../distributed';
import { DEFAULT_GRADIENT_BUCKET_BYTES, GradientBuckets } from './gradient-buckets';

const FN = 'trainSgd';

function positiveInteger(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${FN}: ${name} must be a number, got ${v === null ? 'null' : typeof v}`);
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${FN}: ${name} must be a positive integer, got ${v}`);
  return v;
}

function checkFunction(name: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'function') throw new TypeError(`${FN}: ${name} must be a function, got ${v === null ? 'null' : typeof v}`);
}

interface Resolved {
  optimizer: SgdOptimizerName;
  epochs: number;
  batchSize: number;
  seed: number;
  loss: Loss;
  evaluate: boolean;
  trainEvaluationSize: number;
  evaluationBatchSize: number;
  checkpointEvery: number;
  yieldEveryMs: number;
  prefetch: number;
  /** A data-parallel job of more than one process (absent: this process alone). */
  distributed?: Distributed;
  /** Synchronised batch norm in a data-parallel job. */
  syncBatchNorm: boolean;
  /** Elements per gradient bucket in a data-parallel job (0: one all-reduce after the backward pass). */
  gradientBucketElements: number;
}

function resolveOptions(model: Network, train: AnyDataset, options: TrainSgdOptions): Resolved {
  checkModelData(FN, 'train', model, train);
  validateDataset(train, `${FN}: train`);
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${FN}: options must be an object with epochs and loss, got ${options === null ? 'null' : typeof options}`);
  }
  const optimizer = options.optimizer ?? 'sgd';
  if (optimizer !== 'sgd' && optimizer !== 'scale-amended-sgd') {
    throw new RangeError(`${FN}: options.optimizer must be 'sgd' or 'scale-amended-sgd', got ${JSON.stringify(optimizer) ?? String(optimizer)}`);
  }
  const sgdOptions = options.sgd as { fanOut?: unknown } | null | undefined;
  if (optimizer === 'sgd' && sgdOptions !== null && typeof sgdOptions === 'object' && sgdOptions.fanOut !== undefined) {
    throw new RangeError(`${FN}: options.sgd.fanOut is an option of scale-amended SGD; give options.optimizer 'scale-amended-sgd'`);
  }
  const epochs = positiveInteger('options.epochs', options.epochs);
  const batchSize = positiveInteger('options.batchSize', options.batchSize ?? 128);
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`${FN}: options.seed must be a non-negative safe integer, got ${String(seed)}`);
  }
  const loss = checkLoss(FN, options.loss);
  if (options.test !== undefined) {
    checkModelData(FN, 'options.test', model, options.test);
    validateDataset(options.test, `${FN}: options.test`);
  }
  const every = options.evaluateEvery ?? 'epoch';
  if (every !== 'epoch' && every !== 'never') {
    throw new RangeError(`${FN}: options.evaluateEvery must be 'epoch' or 'never', got ${JSON.stringify(every) ?? String(every)}`);
  }
  const trainEvaluationSize = Math.min(train.length, positiveInteger('options.trainEvaluationSize', options.trainEvaluationSize ?? 10000));
  const evaluationBatchSize = positiveInteger('options.evaluationBatchSize', options.evaluationBatchSize ?? 256);
  const checkpointEvery = options.checkpointEvery === undefined ? 0 : positiveInteger('options.checkpointEvery', options.checkpointEvery);
  const yieldEveryMs = options.yieldEveryMs ?? 50;
  if (typeof yieldEveryMs !== 'number' || !(yieldEveryMs >= 0)) {
    throw new RangeError(`${FN}: options.yieldEveryMs must be a non-negative number, got ${String(yieldEveryMs)}`);
  }
  if (options.signal !== undefined && (options.signal === null || typeof options.signal !== 'object' || typeof options.signal.aborted !== 'boolean')) {
    throw new TypeError(`${FN}: options.signal must be an AbortSignal`);
  }
  if (options.augment !== undefined) {
    const a = resolveAugment(FN, 'options.augment', options.augment, train.shape, isImageFolder(train));
    // epoch-end evaluations see the data set's own images, so the network's input must be theirs
    if (a.outShape.some((d, i) => d !== train.shape[i])) {
      throw new RangeError(`${FN}: options.augment.crop.size must be the images' size ${train.shape[1]}×${train.shape[2]} (crops of another size would not fit the network), got ${a.outShape[1]}×${a.outShape[2]}`);
    }
  }
  const prefetch = options.prefetch ?? 2;
  if (typeof prefetch !== 'number' || !Number.isInteger(prefetch) || prefetch < 0 || prefetch > 1024) {
    throw new RangeError(`${FN}: options.prefetch must be an integer in [0, 1024], got ${String(prefetch)}`);
  }
  checkFunction('options.onProgress', options.onProgress);
  checkFunction('options.onEpoch', options.onEpoch);
  checkFunction('options.onCheckpoint', options.onCheckpoint);
  const dist = options.distributed === undefined ? undefined : checkDistributed(FN, 'options.distributed', options.distributed, model.device);
  if (dist !== undefined && dist.size > 1 && optimizer === 'scale-amended-sgd') {
    throw new RangeError(`${FN}: options.distributed: scale-amended SGD draws its per-layer scales from the whole batch and is not data-parallel yet; use optimizer 'sgd'`);
  }
  const syncBatchNorm = options.syncBatchNorm ?? true;
  if (typeof syncBatchNorm !== 'boolean') throw new TypeError(`${FN}: options.syncBatchNorm must be a boolean, got ${typeof syncBatchNorm}`);
  const bucketBytes = options.gradientBucketBytes ?? DEFAULT_GRADIENT_BUCKET_BYTES;
  if (typeof bucketBytes !== 'number' || !Number.isSafeInteger(bucketBytes) || bucketBytes < 0) {
    throw new RangeError(`${FN}: options.gradientBucketBytes must be a non-negative integer number of bytes, got ${String(bucketBytes)}`);
  }
  const gradientBucketElements = bucketBytes === 0 ? 0 : Math.max(1, Math.floor(bucketBytes / (model.dtype === 'float64' ? 8 : 4)));
  return {
    optimizer,
    epochs,
    batchSize,
    seed,
    loss,
    evaluate: every === 'epoch',
    trainEvaluationSize,
    evaluationBatchSize,
    checkpointEvery,
    yieldEveryMs,
    prefetch,
    ...(dist !== undefined && dist.size > 1 ? { distributed: dist } : {}),
    syncBatchNorm,
    gradientBucketElements,
  };
}

function checkResume(model: Network, r: Resolved, l: number, s: TrainState): void {
  const bad = (what: string): never => {
    throw new RangeError(`${FN}: options.resume ${what}`);
  };
  if (s === null || typeof s !== 'object') throw new TypeError(`${FN}: options.resume must be a TrainState, got ${s === null ? 'null' : typeof s}`);
  if (s.version !== 1) bad(`has version ${String(s.version)}, expected 1`);
  if (!isFloatArray(s.parameters) || s.parameters.length !== model.numParameters) {
    bad(`has ${String(s.parameters?.length)} parameters but the network has ${model.numParameters}`);
  }
  checkResumeBuffers(model, s, bad);
  if (s.batchSize !== r.batchSize) bad(`was made with batch size ${s.batchSize} but options.batchSize is ${r.batchSize}`);
  if (s.trainSize !== l) bad(`was made with ${s.trainSize} training examples but train has ${l}`);
  const batches = Math.ceil(l / r.batchSize);
  if (!Number.isInteger(s.epoch) || s.epoch < 0 || s.epoch > r.epochs) bad(`is at epoch ${s.epoch}, outside [0, ${r.epochs}] (options.epochs)`);
  if (!Number.isInteger(s.batch) || s.batch < 0 || s.batch >= batches) bad(`is at batch ${s.batch}, outside [0, ${batches})`);
  if (s.batch > 0 && (!isInt32Array(s.permutation) || s.permutation.length !== l)) bad(`permutation must be an Int32Array of length ${l}`);
  if (!Array.isArray(s.rngState)) bad('rngState must be an array');
}

function evaluationSubset(train: AnyDataset, n: number): AnyDataset {
  if (n >= train.length) return train;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = Math.floor((i * train.length) / n);
  return subset(train, idx);
}

const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Trains `model` on `train` with SGD + momentum (options.optimizer 'sgd', the default) or
 * scale-amended SGD ('scale-amended-sgd') for options.epochs epochs (each a pass over a
 * fresh seeded permutation, batches of options.batchSize, the last one partial).
 * - onProgress after every batch; at every epoch end the objective and accuracy on a training
 *   subset and on options.test (onEpoch), and onCheckpoint;
 * - gives the event loop a turn every options.yieldEveryMs milliseconds;
 * - when options.signal aborts, stops after the current batch and resolves with
 *   { aborted: true, state }; trainSgd(model, train, { ...options, resume: state }) then continues
 *   bit-for-bit (same θ as an uninterrupted run).
 * θ is updated in place; the model must be initialised first (cnn3/cnn5 are).
 * Divergence stops the run: a batch loss, the epoch-end objective, θ, the velocity or the
 * batch-norm statistics that is NaN or infinite throws a DivergenceError naming the epoch, the
 * batch and the step; no state with a non-finite θ is handed to onCheckpoint or returned.
 * @throws TypeError / RangeError for bad options (C·l below 2^-53 or overflowing, a learning rate
 *   at which the regulariser alone diverges: see Sgd), mismatched shapes or an incompatible resume state.
 * @throws DivergenceError when the run diverges.
 */
export async function trainSgd(model: Network, train: AnyDataset, options: TrainSgdOptions): Promise<TrainResult> {
  const r = resolveOptions(model, train, options);
  const l = train.length;
  const batches = Math.ceil(l / r.batchSize);
  if (options.resume !== undefined) checkResume(model, r, l, options.resume);
  const sgd: MinibatchOptimizer = r.optimizer === 'scale-amended-sgd' ? new ScaleAmendedSgd(model, options.sgd, l) : new Sgd(model, options.sgd, l);
  try {
    return await run(model, train, options, r, sgd, batches);
  } finally {
    sgd.dispose();
  }
}

async function run(model: Network, train: AnyDataset, options: TrainSgdOptions, r: Resolved, sgd: MinibatchOptimizer, batches: number): Promise<TrainResult> {
  const l = train.length;
  const resume = options.resume;
  let rng: Rng;
  let epoch = 0;
  let batch = 0;
  let permutation: Int32Array = new Int32Array(0);
  let previousElapsed = 0;
  let epochLoss = { sum: 0, batches: 0 };
  if (resume !== undefined) {
    model.setParameters(resume.parameters);
    if (resume.buffers !== undefined) model.setBuffers(resume.buffers);
    sgd.loadState(resume.optimizer);
    rng = Rng.fromState(resume.rngState);
    epoch = resume.epoch;
    batch = resume.batch;
    if (batch > 0) permutation = Int32Array.from(resume.permutation);
    previousElapsed = resume.elapsed ?? 0;
    epochLoss = { ...(resume.epochLoss ?? { sum: 0, batches: 0 }) };
  } else {
    rng = new Rng(r.seed);
  }
  const trainEval = r.evaluate ? evaluationSubset(train, r.trainEvaluationSize) : null;
  // every batch comes through the loader (without augmentation its values are gatherBatch's);
  // in a data-parallel job each rank assembles its shard of every batch
  const dist = r.distributed;
  const loader = new DataLoader(train, {
    batchSize: r.batchSize,
    seed: r.seed,
    prefetch: r.prefetch,
    ...(options.augment !== undefined ? { augment: options.augment } : {}),
    dtype: model.dtype,
    device: model.device,
    ...(dist !== undefined ? { shard: { index: dist.rank, count: dist.size } } : {}),
  });
  if (dist !== undefined) {
    // every rank starts from rank 0's θ and batch-norm statistics (a resumed run too)
    dist.broadcast(model.parameters, 0);
    if (model.buffers.size > 0) dist.broadcast(model.buffers, 0);
  }
  // Batch norm across the ranks: synchronised (its sums over the job's batch, whose size the ranks
  // add up first: an image folder may skip unreadable files) or each rank's shard alone.
  const withBatchNorm = model.buffers.size > 0;
  const statisticsSync = (shardSize: number): StatisticsSync | null => {
    if (dist === undefined || !r.syncBatchNorm || !withBatchNorm) return null;
    const total = Float64Array.of(shardSize);
    dist.allReduceScalars(total);
    return { batchSize: total[0], sum: (t) => dist.allReduceSum(t) };
  };
  // where this rank's shard of batch k starts in the job's batch (DataLoader's shard rule), for
  // dropout's masks
  const shardOffset = (k: number): number => {
    if (dist === undefined) return 0;
    const b = Math.min(r.batchSize, l - k * r.batchSize);
    return Math.floor((b * dist.rank) / dist.size);
  };
  const averageBuffers = (d: Distributed): void => {
    d.allReduceSum(model.buffers);
    const mean = scale(model.buffers, 1 / d.size);
    copy(model.buffers, mean);
    mean.dispose();
  };
  // the ranks share the epoch-end evaluations' batches (each rank a part, the sums added)
  const shareEvaluation = dist !== undefined ? { distributed: dist } : {};
  let dataWaitMs = 0;
  const C = sgd.options.C;
  const start = performance.now();
  let trainMs = 0;
  let images = 0;
  let lastYield = start;
  const startIteration = sgd.iteration;
  const history: EpochStats[] = [];
  const elapsed = (): number => previousElapsed + (performance.now() - start) / 1000;
  // Divergence: a message naming where (epoch, batch, step), what, and what to do.
  const diverged = (quantity: DivergedQuantity, value: number, what: string, at: { epoch: number; batch: number }): DivergenceError => {
    const place = at.batch === 0 ? `at the end of epoch ${at.epoch + 1}` : `in epoch ${at.epoch + 1}, batch ${at.batch}/${batches}`;
    return new DivergenceError(
      `${FN}: diverged: ${what} ${place} (step ${sgd.iteration}, learning rate ${short(sgd.learningRate)}): ` +
        `lower the learning rate (η0 = ${sgd.options.learningRate}) or raise C (C = ${sgd.options.C}, C·l = ${sgd.options.C * l}); ` +
        'the last state handed to onCheckpoint is the last finite one',
      { optimizer: r.optimizer, quantity, value, iteration: sgd.iteration, epoch: at.epoch, batch: at.batch },
    );
  };
  // θ, the velocity and the buffers of a state must be finite (checked on the host copies, which
  // a state makes anyway): a non-finite state is never handed out
  const checkState = (s: TrainState): TrainState => {
    const arrays: Array<[DivergedQuantity, string, Float32Array | Float64Array | undefined]> = [
      ['parameters', 'θ', s.parameters],
      ['velocity', 'the velocity', s.optimizer.velocity],
      ['buffers', 'the batch-norm statistics', s.buffers],
    ];
    for (const [quantity, name, a] of arrays) {
      const i = a === undefined ? -1 : firstNonFinite(a);
      if (i >= 0) throw diverged(quantity, a![i], `${name} is not finite (element ${i} is ${a![i]})`, { epoch: s.epoch, batch: s.batch });
    }
    return s;
  };
  const snapshot = (): TrainState =>
    checkState({
      version: 1,
      epoch,
      batch,
      permutation: batch > 0 ? Int32Array.from(permutation) : new Int32Array(0),
      rngState: rng.getState(),
      optimizer: sgd.state(),
      parameters: model.getParameters(),
      buffers: model.getBuffers(),
      seed: r.seed,
      batchSize: r.batchSize,
      trainSize: l,
      elapsed: elapsed(),
      epochLoss: { ...epochLoss },
    });
  const result = (aborted: boolean): TrainResult => ({
    state: snapshot(),
    aborted,
    history,
    ...(history.length > 0 ? { final: history[history.length - 1] } : {}),
    iterations: sgd.iteration - startIteration,
    seconds: (performance.now() - start) / 1000,
    imagesPerSecond: trainMs > 0 ? images / (trainMs / 1000) : 0,
    dataWaitSeconds: dataWaitMs / 1000,
  });
  // In a data-parallel job the ranks stop together: a rank's request travels with the step's
  // all-reduce, and every rank then stops after that same step.
  let jobAborted = false;
  const aborted = (): boolean => (dist !== undefined ? jobAborted : options.signal?.aborted === true);
  // the time a step waits for its batch: ≈ 0 when the loader keeps ahead
  const nextLoaded = async (it: AsyncIterator<LoaderBatch>): Promise<LoaderBatch> => {
    const scope = profile.scope('data');
    const w0 = performance.now();
    try {
      const n = await it.next();
      if (n.done === true) throw new Error(`${FN}: the data loader ended before batch ${batch + 1}/${batches} of epoch ${epoch + 1}`);
      return n.value;
    } finally {
      dataWaitMs += performance.now() - w0;
      scope.close();
    }
  };

  if (aborted()) return result(epoch < r.epochs);
  while (epoch < r.epochs) {
    if (batch === 0) {
      permutation = rng.permutation(l);
      epochLoss = { sum: 0, batches: 0 };
    }
    let stop = false;
    // the loader starts assembling this epoch's next batches now, and keeps ahead of the steps
    const loaded = loader.epoch(epoch, { order: permutation, from: batch });
    while (batch < batches) {
      using stepScope = profile.scope('sgd step');
      const t0 = performance.now();
      const learningRate = sgd.learningRate;
      const b = await nextLoaded(loaded);
      // the batch size, less the images an image folder skipped (unreadable files)
      let size = b.labels.length;
      let lossSum: number;
      let buckets: GradientBuckets | null = null;
      try {
        using gradientScope = profile.scope('gradient');
        const z = model.forward(b.x, {
          training: true,
          updateStatistics: true,
          noiseSeed: mixSeed(r.seed, sgd.iteration),
          statisticsSync: statisticsSync(size),
          exampleOffset: shardOffset(batch),
        });
        try {
          lossSum = r.loss.value(z, b.y);
          if (dist !== undefined) {
            // the job's batch: every rank holds one shard; all of them check the same total
            const totals = Float64Array.of(lossSum, size, options.signal?.aborted === true ? 1 : 0);
            profile.scope('all-reduce', () => dist.allReduceScalars(totals));
            [lossSum, size] = totals;
            jobAborted = totals[2] > 0;
          }
          // the one check of every step: the batch loss, a number already here
          if (!Number.isFinite(lossSum)) {
            const bad = nonFiniteElement(model.parameters);
            throw diverged(
              'loss',
              lossSum,
              `the loss of the batch is ${lossSum}${bad === null ? ' at a finite θ (the network outputs overflowed)' : `; θ is not finite (element ${bad.index} is ${bad.value})`}`,
              { epoch, batch: batch + 1 },
            );
          }
          const dz = r.loss.gradient(z, b.y);
          // in a data-parallel job the gradient's buckets are summed over the ranks while the
          // backward pass computes the layers before them
          buckets = dist !== undefined && r.gradientBucketElements > 0 ? new GradientBuckets(dist, model.gradient, r.gradientBucketElements) : null;
          const bucketing = buckets;
          try {
            model.backward(dz, bucketing === null ? undefined : { onParameterGradient: (offset, size) => bucketing.ready(offset, size) });
          } catch (e) {
            bucketing?.abandon();
            buckets = null;
            throw e;
          } finally {
            dz.dispose();
          }
        } finally {
          z.dispose();
        }
        gradientScope.close();
        // the gradient of the job's batch: the sum of the ranks' sums
        if (buckets !== null) {
          const started = buckets;
          buckets = null;
          profile.scope('all-reduce', () => started.finish());
        } else if (dist !== undefined) {
          profile.scope('all-reduce', () => dist.allReduceSum(model.gradient));
        }
        if (dist !== undefined && !r.syncBatchNorm && withBatchNorm) averageBuffers(dist);
        profile.scope('update', () => sgd.step(size));
      } finally {
        model.releaseCache();
        b.x.dispose();
        b.y.dispose();
      }
      stepScope.close();
      const now = performance.now();
      trainMs += now - t0;
      images += size;
      batch++;
      epochLoss.sum += lossSum / size;
      epochLoss.batches++;
      options.onProgress?.({
        optimizer: r.optimizer,
        epoch,
        epochs: r.epochs,
        batch,
        batches,
        iteration: sgd.iteration,
        loss: lossSum / size,
        learningRate,
        imagesPerSecond: images / (trainMs / 1000),
        elapsed: elapsed(),
      });
      if (aborted()) {
        stop = true;
        break;
      }
      if (r.checkpointEvery > 0 && sgd.iteration % r.checkpointEvery === 0 && batch < batches && options.onCheckpoint) {
        await options.onCheckpoint(snapshot());
      }
      if (now - lastYield >= r.yieldEveryMs) {
        await turn();
        lastYield = performance.now();
        if (aborted()) {
          stop = true;
          break;
        }
      }
    }
    if (batch < batches) return result(true);

    // epoch end
    const bad = nonFiniteElement(model.parameters);
    if (bad !== null) throw diverged('parameters', bad.value, `θ is not finite (element ${bad.index} is ${bad.value})`, { epoch, batch: 0 });
    const stats: EpochStats = {
      epoch,
      iteration: sgd.iteration,
      trainLossRunning: epochLoss.batches > 0 ? epochLoss.sum / epochLoss.batches : NaN,
      elapsed: 0,
    };
    if (trainEval !== null) {
      const f = await evaluateObjectiveAsync(model, trainEval, { C, loss: r.loss, trainSize: l, batchSize: r.evaluationBatchSize, ...shareEvaluation });
      if (!Number.isFinite(f.value)) throw diverged('objective', f.value, `the objective f is ${f.value}`, { epoch, batch: 0 });
      stats.objective = f.value;
      stats.trainLoss = f.lossMean;
      stats.trainAccuracy = f.accuracy;
      if (options.test !== undefined) {
        const t = await evaluateObjectiveAsync(model, options.test, { C, loss: r.loss, trainSize: l, batchSize: r.evaluationBatchSize, ...shareEvaluation });
        stats.testAccuracy = t.accuracy;
        stats.testLoss = t.lossMean;
      }
    }
    epoch++;
    batch = 0;
    stats.elapsed = elapsed();
    history.push(stats);
    options.onEpoch?.(stats);
    if (options.onCheckpoint) await options.onCheckpoint(snapshot());
    lastYield = performance.now();
    if (stop || aborted()) return result(epoch < r.epochs);
  }
  return result(false);
}
