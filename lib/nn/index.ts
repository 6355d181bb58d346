/**
 * Networks: layer specifications, the Sequential container with one flat parameter tensor θ,
 * initialisers, losses, metrics and the paper's cnn3 / cnn5.
 *
 * Note: the layer factories conv2d, linear, relu, maxPool2d and avgPool2d share their names with
 * tensor ops of the top-level API; import them from this module (or through a namespace).
 *
 * @packageDocumentation
 */
export type { BackwardJvpResult, ExampleShape, ForwardContext, Layer, LayerInfo, LayerKind, ParameterSlot, ParameterTangent } from './layer';
export {
  DEFAULT_STORED_JACOBIAN_BYTES,
  type GaussNewtonMode,
  type GaussNewtonOptions,
  type HessianOptions,
  type StoredJacobianInfo,
  type StoredJacobianOptions,
} from './products';
export {
  avgPool2d,
  conv2d,
  dropout,
  flatten,
  linear,
  maxPool2d,
  relu,
  type Conv2dLayerOptions,
  type Conv2dSpec,
  type DropoutSpec,
  type FlattenSpec,
  type LayerSpec,
  type LinearSpec,
  type Pool2dLayerOptions,
  type Pool2dSpec,
  type ReluSpec,
} from './layers';
export { Sequential, type BackwardOptions, type FloatDType, type ForwardOptions, type SequentialOptions } from './sequential';
export type { Initializer, InitOptions } from './init';
export { checkLoss, crossEntropyLoss, lossByName, squaredLoss, type Loss, type LossName } from './losses';
export { accuracy, correctCount, predictions } from './metrics';
export { cnn3, cnn3Layers, cnn5, cnn5Layers, modelByName, type ModelOptions } from './models';
export { mixSeed } from './seed';
