/**
 * Types shared by the whole API.
 *
 * @packageDocumentation
 */

/** Element type of a tensor: float32 and float64 hold data; int32 holds indices (max-pool argmax). */
export type DType = 'float32' | 'float64' | 'int32';

/** Tensor extents, row-major (NCHW for images): a list of non-negative integers. */
export type Shape = readonly number[];

/** The typed arrays tensor data is read from and returned as. */
export type TensorData = Float32Array | Float64Array | Int32Array;

/** A number, or a (rectangular) nested array of numbers: `[[1, 2], [3, 4]]` has shape [2, 2]. */
export type NestedArray = number | readonly NestedArray[];

/** Where and how to create a tensor. */
export interface TensorOptions {
  /** Element type (default float32, or the typed array's type in Tensor.from). */
  dtype?: DType;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: string;
}
