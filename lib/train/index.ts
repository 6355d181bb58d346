/**
 * Training: the objective f(θ) = ‖θ‖²/(2Cl) + (1/l)Σξ shared by every trainer, accuracy
 * evaluation, and the SGD training loop with progress, cancellation and resumption.
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
  type ObjectiveOptions,
  type ObjectiveResult,
} from './objective';
export { trainSgd } from './sgd-trainer';
export type { EpochStats, SgdProgress, TrainResult, TrainSgdOptions, TrainState } from './types';
