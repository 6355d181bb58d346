/**
 * Training: the objective f(θ) = ‖θ‖²/(2Cl) + (1/l)Σξ shared by every trainer, accuracy
 * evaluation, and the SGD and subsampled Newton training loops with progress, cancellation and
 * resumption.
 *
 * @packageDocumentation
 */
export {
  checkModelData,
  evaluateAccuracy,
  evaluateObjective,
  evaluateObjectiveAsync,
  objectiveSteps,
  type AccuracyOptions,
  type KeptBatch,
  type ObjectiveOptions,
  type ObjectiveResult,
} from './objective';
export { trainSgd } from './sgd-trainer';
export { DEFAULT_GRADIENT_BUCKET_BYTES } from './gradient-buckets';
export {
  checkLearningRate,
  checkRegularization,
  DivergenceError,
  maxStableLearningRate,
  MIN_CL,
  WARN_INVERSE_CL,
  type DivergedQuantity,
  type DivergenceDetails,
} from './divergence';
export {
  DEFAULT_NEWTON_ITERATIONS,
  DEFAULT_NEWTON_OPTIONS,
  resolveNewtonOptions,
  subsampleSize,
  trainNewton,
  type NewtonIteration,
  type NewtonOptions,
  type NewtonPhase,
  type NewtonProgress,
  type NewtonSampling,
  type NewtonTimes,
  type NewtonTrainResult,
  type ResolvedNewtonOptions,
  type TrainNewtonOptions,
} from './newton-trainer';
export type { EpochStats, NewtonState, SgdOptimizerName, SgdProgress, TrainResult, TrainSgdOptions, TrainState } from './types';
export type { TrainProgress } from './progress-types';
export { RunLog, readRunLog, RUN_LOG_COLUMNS, type RunLogFormat, type RunLogOptions, type RunRecord, type RunRecordKind } from './run-log';
