// Losses ξ(z; y) over a batch, with y one-hot (or any target rows for the squared loss):
//   squared:        ξ = ‖z − y‖²,               ∂ξ/∂z = 2(z − y),  B = ∂²ξ/∂z² = 2I
//   cross-entropy:  ξ = −Σ_k y_k log softmax(z)_k, ∂ξ/∂z = p − y,    B = diag(p) − ppᵀ
// value() sums over the batch; gradient() is ∂(Σ_i ξ_i)/∂z (N, K); hessianProduct(z, u) is B_i u_i
// per row (the Gauss-Newton middle factor).
import {
  softmaxCrossEntropy,
  softmaxCrossEntropyGradient,
  softmaxCrossEntropyHessianProduct,
  squaredLoss as squaredLossValue,
  squaredLossGradient,
  squaredLossHessianProduct,
} from '../ops';
import type { Tensor } from '../tensor';

/** The names of the losses. */
export type LossName = 'squared' | 'cross-entropy';

/** A loss of the network output z (N, K) against targets y (N, K). */
export interface Loss {
  /** 'squared' or 'cross-entropy'. */
  readonly name: LossName;
  /** Σ_i ξ(z_i; y_i) over the batch. */
  value(z: Tensor, y: Tensor): number;
  /** ∂(Σ_i ξ_i)/∂z, (N, K); the caller disposes it. */
  gradient(z: Tensor, y: Tensor): Tensor;
  /** B_i u_i per row, B_i = ∂²ξ_i/∂z_i²; (N, K); the caller disposes it. */
  hessianProduct(z: Tensor, u: Tensor): Tensor;
}

/** Squared loss ξ = ‖z − y‖² (the paper's choice, with a linear last layer). */
export const squaredLoss: Loss = Object.freeze({
  name: 'squared' as const,
  value: (z: Tensor, y: Tensor): number => squaredLossValue(z, y),
  gradient: (z: Tensor, y: Tensor): Tensor => squaredLossGradient(z, y),
  hessianProduct: (z: Tensor, u: Tensor): Tensor => squaredLossHessianProduct(z, u),
});

/** Softmax cross-entropy ξ = −Σ_k y_k log softmax(z)_k. */
export const crossEntropyLoss: Loss = Object.freeze({
  name: 'cross-entropy' as const,
  value: (z: Tensor, y: Tensor): number => softmaxCrossEntropy(z, y),
  gradient: (z: Tensor, y: Tensor): Tensor => softmaxCrossEntropyGradient(z, y),
  hessianProduct: (z: Tensor, u: Tensor): Tensor => softmaxCrossEntropyHessianProduct(z, u),
});

/** The loss called `name`: 'squared' or 'cross-entropy' (also 'softmax-cross-entropy', 'ce', 'mse'). */
export function lossByName(name: string): Loss {
  switch (name) {
    case 'squared':
    case 'mse':
      return squaredLoss;
    case 'cross-entropy':
    case 'softmax-cross-entropy':
    case 'ce':
      return crossEntropyLoss;
    default:
      throw new RangeError(`lossByName: name must be 'squared' or 'cross-entropy', got ${JSON.stringify(name) ?? String(name)}`);
  }
}

/** Throws unless `loss` is a Loss object (for entry points taking options.loss). */
export function checkLoss(fn: string, loss: unknown): Loss {
  const l = loss as Partial<Loss> | null;
  if (l === null || typeof l !== 'object' || typeof l.value !== 'function' || typeof l.gradient !== 'function') {
    throw new TypeError(`${fn}: options.loss must be a Loss (squaredLoss, crossEntropyLoss or lossByName(name)), got ${l === null ? 'null' : typeof l}`);
  }
  return l as Loss;
}
