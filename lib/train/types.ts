// Types of the training loops: options, progress reports, per-epoch statistics and the
// resumable training state.
import type { AnyDataset, AugmentOptions, AugmentPreset } from '../data';
import type { Distributed } from '../distributed';
import type { Loss } from '../nn/losses';
import type { ScaleAmendedSgdOptions } from '../optim/scale-amended-sgd';
import type { SgdOptions, SgdState } from '../optim/sgd';

/** Reported after every mini-batch (trainSgd's onProgress; trainNewton's counterpart is NewtonProgress). */
export interface SgdProgress {
  /** The optimizer: tells SgdProgress from NewtonProgress in a TrainProgress. */
  optimizer: SgdOptimizerName;
  /** Epoch in progress, 0-based. */
  epoch: number;
  /** Total epochs of the run. */
  epochs: number;
  /** Batches done in this epoch (1 after the first). */
  batch: number;
  /** Batches per epoch. */
  batches: number;
  /** Optimizer steps taken so far (over the whole training, resumes included). */
  iteration: number;
  /** Mean loss (1/|B|)Σ ξ_i of this batch (before the update). */
  loss: number;
  /** The learning rate this batch's step used. */
  learningRate: number;
  /** Training throughput of this run so far (evaluation time excluded). */
  imagesPerSecond: number;
  /** Seconds of training so far, resumed runs included (evaluation included). */
  elapsed: number;
}

/** Statistics measured at the end of an epoch. */
export interface EpochStats {
  /** The epoch, 0-based. */
  epoch: number;
  /** Optimizer steps after this epoch. */
  iteration: number;
  /** Mean of the batch losses during the epoch (a cheap running estimate). */
  trainLossRunning: number;
  /** f(θ) on the training evaluation set (regulariser with the full l); absent when evaluation is off. */
  objective?: number;
  /** Mean loss on the training evaluation set. */
  trainLoss?: number;
  /** Accuracy on the training evaluation set. */
  trainAccuracy?: number;
  /** Accuracy on the test set (when given). */
  testAccuracy?: number;
  /** Mean loss on the test set (when given). */
  testLoss?: number;
  /** Seconds of training so far (resumes included). */
  elapsed: number;
}

/**
 * Everything needed to continue a run bit-for-bit: position (epoch, batch), the epoch's order,
 * the order generator's state, the optimizer state and θ. Plain data (typed arrays and numbers),
 * so a checkpoint writer can serialise it.
 */
export interface TrainState {
  /** Format version of this object (1). */
  version: 1;
  /** Epoch in progress (0-based); equals the epoch count when the run is complete. */
  epoch: number;
  /** Batches of `epoch` already done (0: the epoch has not started, its order is not drawn yet). */
  batch: number;
  /** The order of epoch `epoch` (indices into the training set); empty when batch is 0. */
  permutation: Int32Array;
  /** State of the order generator (lib/data Rng) after drawing `permutation`. */
  rngState: number[];
  /** Optimizer state (step count, velocity). */
  optimizer: SgdState;
  /** θ. */
  parameters: Float32Array | Float64Array;
  /**
   * The network's buffers (batch-norm running statistics), Network.getBuffers(); absent in
   * states from before buffers existed, which only networks without buffers can resume.
   */
  buffers?: Float32Array | Float64Array;
  /** The seed the run started with (dropout noise seeds derive from it). */
  seed: number;
  /** Mini-batch size (a resume must use the same). */
  batchSize: number;
  /** Number of training examples l (a resume must use the same data). */
  trainSize: number;
  /** Seconds of training so far. */
  elapsed: number;
  /** Sum of the batch losses of the epoch in progress and their count (for EpochStats.trainLossRunning). */
  epochLoss: { sum: number; batches: number };
  /**
   * Present in the states of trainNewton (absent for SGD). There, `epoch`/`batch`/`permutation`
   * are the position in the subsample permutation (batch = subsamples of this permutation used),
   * `batchSize` is |S|, `optimizer.iteration` counts Newton iterations and `optimizer.velocity` is empty.
   */
  newton?: NewtonState;
}

/** The Newton method's own state (besides θ, the iteration count and the subsample position). */
export interface NewtonState {
  /** The Levenberg-Marquardt damping λ for the next iteration. */
  lambda: number;
}

/** The optimizers trainSgd runs. */
export type SgdOptimizerName = 'sgd' | 'scale-amended-sgd';

/** Options of trainSgd. */
export interface TrainSgdOptions {
  /** Number of epochs of the whole run (a resumed run continues up to this many). */
  epochs: number;
  /** Mini-batch size (default 128). */
  batchSize?: number;
  /** Seed of the data order (and of dropout noise) (default 0). */
  seed?: number;
  /**
   * The optimizer: 'sgd' (default; Sgd, SGD with momentum) or 'scale-amended-sgd'
   * (ScaleAmendedSgd: Zhang, Chen & Liu 2018, Algorithm 2, SGD with momentum whose step on each
   * layer is amended by its local-Hessian scale). Both keep the same state (step count, velocity).
   */
  optimizer?: SgdOptimizerName;
  /**
   * The optimizer's settings: SgdOptions (defaults: the Newton paper's, DEFAULT_SGD_OPTIONS) or,
   * for 'scale-amended-sgd', ScaleAmendedSgdOptions (defaults: the local-Hessian paper's,
   * DEFAULT_SCALE_AMENDED_SGD_OPTIONS).
   */
  sgd?: SgdOptions | ScaleAmendedSgdOptions;
  /** The loss ξ. */
  loss: Loss;
  /** Test set, evaluated at epoch ends. */
  test?: AnyDataset;
  /** 'epoch' (default): objective and accuracies at each epoch end; 'never'. */
  evaluateEvery?: 'epoch' | 'never';
  /**
   * Training examples used for the epoch-end objective/accuracy (default min(l, 10000)): a fixed,
   * evenly spaced subset; the regulariser always uses the full l.
   */
  trainEvaluationSize?: number;
  /** Mini-batch size of the evaluations (default 256). */
  evaluationBatchSize?: number;
  /** Stop after the current batch when aborted; the result holds a resumable state. */
  signal?: AbortSignal;
  /** Continue from this state (from a previous result or a checkpoint). */
  resume?: TrainState;
  /** Called after every batch. */
  onProgress?: (p: SgdProgress) => void;
  /** Called after each epoch's evaluation. */
  onEpoch?: (s: EpochStats) => void;
  /** Called with a state at every epoch end and every `checkpointEvery` batches (awaited). */
  onCheckpoint?: (s: TrainState) => Promise<void> | void;
  /** Also checkpoint every this many optimizer steps (default: only at epoch ends). */
  checkpointEvery?: number;
  /** Give the event loop a turn at least this often, in milliseconds (default 50). */
  yieldEveryMs?: number;
  /**
   * Augment every training batch (random crop with zero padding, flip, normalisation: see
   * AugmentOptions; 'crop-flip': pad 4, crop to the image size, flip). The batches are then
   * assembled in native code off the JS thread, options.prefetch batches ahead, with draws keyed
   * by (seed, epoch, position), so resuming stays bit-for-bit. Default: none (batches gathered as is).
   */
  augment?: AugmentOptions | AugmentPreset;
  /** Batches assembled ahead of the step (default 2). */
  prefetch?: number;
  /**
   * A data-parallel job (lib/distributed.ts initDistributed, under `mpirun`): each rank trains on
   * its shard of every batch of the same permutation, the losses and gradients are summed over
   * the ranks before each step, and θ starts from rank 0's. Every rank returns the same state.
   */
  distributed?: Distributed;
  /**
   * With `distributed`: batch norm normalises over the job's whole batch, its statistics summed
   * over the ranks (synchronised batch norm, default true: the steps are then the single
   * process's, to rounding). False: each rank normalises its own shard (as PyTorch's
   * DistributedDataParallel does without SyncBatchNorm), and the running statistics are averaged
   * over the ranks after every step, so that every rank keeps the same ones.
   */
  syncBatchNorm?: boolean;
  /**
   * With `distributed`: the gradient is summed over the ranks in buckets of about this many
   * bytes, each started as soon as the backward pass has finished it, so that the sums of the
   * last layers' gradients run while the earlier layers' are computed (default 25 MiB, PyTorch
   * DistributedDataParallel's; 0: one all-reduce after the backward pass). The steps are the
   * same either way.
   */
  gradientBucketBytes?: number;
}

/** What trainSgd returns. */
export interface TrainResult {
  /** The state after the last batch run (resumable). */
  state: TrainState;
  /** True when stopped by the signal before the last epoch finished. */
  aborted: boolean;
  /** Per-epoch statistics of this run. */
  history: EpochStats[];
  /** The last epoch's statistics (undefined when no epoch ended in this run). */
  final?: EpochStats;
  /** Optimizer steps taken in this run. */
  iterations: number;
  /** Seconds this run took. */
  seconds: number;
  /** Training throughput of this run (evaluation excluded). */
  imagesPerSecond: number;
  /** Seconds the steps of this run waited for their batches (≈ 0 when the loader keeps ahead). */
  dataWaitSeconds: number;
}

/** Throws (through `bad`) unless `state`'s buffers fit `model` (a network without buffers takes a state without them). */
export function checkResumeBuffers(model: { readonly buffers: { readonly size: number } }, state: TrainState, bad: (why: string) => never): void {
  const have = state.buffers?.length ?? 0;
  const need = model.buffers.size;
  if (have !== need) {
    bad(
      state.buffers === undefined
        ? `has no buffer values (batch-norm running statistics) but the network has ${need}; it was written for a network without batch norm`
        : `has ${have} buffer values (batch-norm running statistics) but the network has ${need}`,
    );
  }
}
