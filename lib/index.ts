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
export { Tensor } from './tensor';
export * from './ops';
export * from './runtime';
