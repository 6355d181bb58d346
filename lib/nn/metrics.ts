// Classification metrics.
import { Tensor } from '../tensor';
import { isInt32Array } from './shape-util';

/** Index of the largest entry of each row of z (N, K) (the first one on ties). */
export function predictions(z: Tensor): Int32Array {
  if (!(z instanceof Tensor)) throw new TypeError(`predictions: z must be a Tensor, got ${z === null ? 'null' : typeof z}`);
  if (z.ndim !== 2) throw new RangeError(`predictions: z must have 2 dimensions (N, K), got shape (${z.shape.join(', ')})`);
  const [n, k] = z.shape;
  const v = z.toArray();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestValue = v[i * k];
    for (let j = 1; j < k; j++) {
      const e = v[i * k + j];
      if (e > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(e))) {
        best = j;
        bestValue = e;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Number of rows of z whose argmax equals the label. */
export function correctCount(z: Tensor, labels: Int32Array): number {
  if (!isInt32Array(labels)) throw new TypeError(`accuracy: labels must be an Int32Array, got ${labels === null ? 'null' : typeof labels}`);
  const pred = predictions(z);
  if (pred.length !== labels.length) {
    throw new RangeError(`accuracy: z has ${pred.length} rows but labels has ${labels.length} entries`);
  }
  let c = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) c++;
  return c;
}

/** Fraction of rows of z (N, K) whose argmax equals the label (0 for an empty batch). */
export function accuracy(z: Tensor, labels: Int32Array): number {
  const n = labels?.length ?? 0;
  const c = correctCount(z, labels);
  return n === 0 ? 0 : c / n;
}
