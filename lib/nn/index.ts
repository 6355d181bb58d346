/**
 * Networks: module specifications, networks as graphs of modules with one flat parameter
 * tensor θ (Network, built by GraphBuilder; Sequential for chains), residual blocks and the
 * ResNets, initialisers, losses, metrics and the paper's cnn3 / cnn5.
 *
 * Note: the factories conv2d, linear, relu, maxPool2d, avgPool2d, add, mul, scale and tanh share
 * their names with tensor ops of the top-level API; import them from this module (or through a
 * namespace).
 *
 * @packageDocumentation
 */
export type {
  ExampleShape,
  ForwardContext,
  GradientTarget,
  Module,
  ModuleInfo,
  ParameterSlot,
  ParameterViews,
  StatisticsSync,
  VjpJvpResult,
} from './module';
export {
  DEFAULT_STORED_JACOBIAN_BYTES,
  type GaussNewtonMode,
  type GaussNewtonOptions,
  type HessianOptions,
  type StoredJacobianInfo,
  type StoredJacobianOptions,
} from './products';
export {
  add,
  avgPool2d,
  batchNorm2d,
  cgNetUpdate,
  concat,
  constantScale,
  conv2d,
  dropout,
  flatten,
  globalAvgPool2d,
  identity,
  linear,
  maxPool2d,
  mul,
  newtonResidual,
  relu,
  scale,
  tanh,
  type AddSpec,
  type BatchNorm2dOptions,
  type BatchNorm2dSpec,
  type CgNetUpdateSpec,
  type ConcatSpec,
  type ConstantScaleSpec,
  type Conv2dLayerOptions,
  type Conv2dSpec,
  type DropoutSpec,
  type FlattenSpec,
  type GlobalAvgPool2dSpec,
  type IdentitySpec,
  type LayerSpec,
  type LinearSpec,
  type ModuleSpec,
  type MulSpec,
  type NewtonResidualSpec,
  type Pool2dLayerOptions,
  type Pool2dSpec,
  type ReluSpec,
  type ScaleSpec,
  type TanhSpec,
} from './layers';
export { Network, type BackwardOptions, type FloatDType, type ForwardOptions, type NetworkOptions } from './network';
export { GraphBuilder, networkFromSpec, type GraphSpec, type Value } from './graph';
export { Sequential, type SequentialOptions } from './sequential';
export type { Initializer, InitOptions } from './init';
export { checkLoss, crossEntropyLoss, lossByName, squaredLoss, type Loss, type LossName } from './losses';
export { accuracy, correctCount, predictions } from './metrics';
export { cnn3, cnn3Layers, cnn5, cnn5Layers, MODEL_NAMES, modelByName, type ModelOptions, type NamedModelOptions } from './models';
export {
  basicBlock,
  bottleneckBlock,
  cifarResNet,
  CIFAR_RESNET_DEPTHS,
  resnet,
  resnetByName,
  RESNET_DEPTHS,
  type BlockOptions,
  type ResidualBlockOptions,
  type ResNetOptions,
  type ResNetStem,
  type ShortcutKind,
} from './resnet';
export {
  NEWTON_ALPHA_INIT,
  NEWTON_RESNET_NAMES,
  NEWTON_RESNETS,
  newtonBlock,
  newtonBottleneckBlock,
  newtonResnet,
  newtonResnetByName,
  type NewtonActivation,
  type NewtonBlockOptions,
  type NewtonBottleneckOptions,
  type NewtonResNetOptions,
  type SecondOrderActivation,
} from './newton-resnet';
export {
  cgBlock,
  cgGradient,
  newtonCgBlock,
  newtonCgNet,
  newtonCgNet34ImageNet,
  newtonCgNetByName,
  NEWTON_CGNET_CONFIGS,
  NEWTON_CGNET_DEPTHS,
  NEWTON_CGNET_NAMES,
  NEWTON_CGNET_DROPOUT,
  NEWTON_CGNET34_PARAMETERS,
  type CgBranches,
  type CgBlockOptions,
  type CgGradientOptions,
  type CgState,
  type CgTransition,
  type NewtonCgBlockOptions,
  type NewtonCgNetOptions,
  type NewtonCgNet34Options,
} from './newton-cgnet';
export { vgg13bn, vgg13bnLayers, VGG13_CONFIG, type Vgg13BnOptions } from './vgg';
export { LINEAR_NETWORK_INITIALIZATIONS, linearNetwork, type LinearNetworkInitialization, type LinearNetworkOptions } from './linear-networks';
export { householderQR, orthogonalFromGaussian, type ThinQR } from './orthogonal';
export { mixSeed } from './seed';
