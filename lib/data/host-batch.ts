/**
 * Host arrays of an assembled mini-batch made into the tensors of a Batch: the last step of every
 * way a batch is made (gatherBatch, image folders, record sets, the loader).
 *
 * @packageDocumentation
 */
import { Tensor } from '../tensor';
import type { Batch } from './batch';

/**
 * The Batch of the first `count` rows of x (images of `shape`) and y (one-hot of `classes`).
 * x and y are disposed together: when y cannot be made, x is disposed before the error propagates.
 */
export function hostBatch(
  x: Float32Array | Float64Array,
  y: Float32Array | Float64Array,
  labels: Int32Array,
  count: number,
  shape: readonly [number, number, number],
  classes: number,
  options: { dtype?: 'float32' | 'float64'; device?: string | undefined },
): Batch {
  const [c, h, w] = shape;
  const size = c * h * w;
  const whole = x.length === count * size;
  const xt = Tensor.from(whole ? x : x.subarray(0, count * size), { shape: [count, c, h, w], dtype: options.dtype, device: options.device });
  let yt: Tensor;
  try {
    yt = Tensor.from(whole ? y : y.subarray(0, count * classes), { shape: [count, classes], dtype: options.dtype, device: options.device });
  } catch (err) {
    xt.dispose();
    throw err;
  }
  return { x: xt, y: yt, labels: labels.length === count ? labels : labels.slice(0, count) };
}
