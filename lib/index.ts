/**
 * newton-cnn: convolutional networks on CPU and NVIDIA GPUs from Node.js.
 *
 * @example
 * import { Tensor, conv2d, relu } from 'newton-cnn';
 * const x = Tensor.from(new Float32Array(1 * 3 * 8 * 8), { shape: [1, 3, 8, 8] });
 *
 * @packageDocumentation
 */
export type { DType, NestedArray, Shape, TensorData, TensorOptions } from './types';
export { Tensor, tidy, keep } from './tensor';
export { OutOfMemoryError } from './errors';
export * from './ops';
export * from './runtime';
export { profile, type ProfileReport, type ProfileOpSummary, type ProfileScopeSummary, type ProfileScope, type ProfileSteps } from './profile';
export { lapackAvailable, symmetricEigen } from './linalg';
export { initDistributed, distributedInfo, DEFAULT_COLLECTIVE_TIMEOUT_SECONDS, type Distributed, type DistributedBackend, type InitDistributedOptions, type LibraryInfo, type PendingCollective } from './distributed';
export type { SymmetricEigenOptions, SymmetricEigenResult } from './linalg';

// Networks, data, optimizers and training loops, as namespaces: the layer factories of `nn`
// (nn.conv2d, nn.relu, …) share their names with the tensor ops above.
export * as nn from './nn';
export * as data from './data';
export * as optim from './optim';
export * as train from './train';
export * as checkpoint from './checkpoint';
export * as analysis from './analysis';
export * as model from './model';

// The most used names of those namespaces, directly.
export { GraphBuilder, Network, Sequential, cnn3, cnn5, cifarResNet, linearNetwork, modelByName, newtonCgNet, newtonResnet, resnet, vgg13bn } from './nn';
export type { Loss, LayerSpec, Initializer } from './nn';
export { Sgd, ScaleAmendedSgd } from './optim';
export type { SgdOptions, ScaleAmendedSgdOptions } from './optim';
export { trainSgd, trainNewton, evaluateObjective, evaluateAccuracy, DivergenceError } from './train';
export type { TrainSgdOptions, TrainResult, TrainState, SgdProgress, TrainNewtonOptions, NewtonIteration, NewtonTrainResult } from './train';
export { conjugateGradient } from './optim';
export { loadDataset, paperPreprocess, Rng } from './data';
export { Model, loadModel } from './model';
export type { Evaluation, Prediction, Preprocessing } from './model';
export type { Dataset } from './data';
