/**
 * Optimizers over a network's flat parameter tensor θ.
 *
 * @packageDocumentation
 */
export {
  DEFAULT_SGD_OPTIONS,
  Sgd,
  learningRateAt,
  resolveSgdOptions,
  weightDecayMask,
  type ResolvedSgdOptions,
  type SgdOptions,
  type SgdSchedule,
  type SgdState,
  type WeightDecayTarget,
} from './sgd';
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
