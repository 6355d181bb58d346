/**
 * Optimizers over a network's flat parameter tensor θ.
 *
 * @packageDocumentation
 */
export {
  DEFAULT_SGD_OPTIONS,
  Sgd,
  checkSgdState,
  learningRateAt,
  resolveSgdOptions,
  weightDecayMask,
  type MinibatchOptimizer,
  type ResolvedSgdOptions,
  type SgdOptions,
  type SgdSchedule,
  type SgdState,
  type WeightDecayTarget,
} from './sgd';
export {
  DEFAULT_SCALE_AMENDED_SGD_OPTIONS,
  ScaleAmendedSgd,
  backwardFactors,
  resolveScaleAmendedSgdOptions,
  type Amendment,
  type BackwardFactor,
  type BackwardFactorFanOut,
  type ResolvedScaleAmendedSgdOptions,
  type ScaleAmendedSgdOptions,
} from './scale-amended-sgd';
export {
  cgSteps,
  conjugateGradient,
  resolveCgOptions,
  type CgOptions,
  type CgResult,
  type CgStop,
  type LinearOperator,
  type ResolvedCgOptions,
} from './cg';
