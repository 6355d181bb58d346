// The CG operator of the Newton trainer: v ↦ (G_S + λI)v on the subsample S whose forward cache
// the objective evaluation kept (DESIGN.md "Losses and the Gauss-Newton product").
//
// TEMPORARY implementation until Sequential.gaussNewtonProduct lands: Jv by a central difference of
// two forward passes, Jᵀ(B Jv)/|S| by one backward pass of the re-cached forward at θ.
import type { KeptBatch } from './objective';
import type { Loss } from '../nn/losses';
import type { Sequential } from '../nn/sequential';
import type { LinearOperator } from '../optim/cg';
import { axpy, copy, scale, squaredNorm, sub } from '../ops';
import type { Tensor } from '../tensor';

/** Options of gaussNewtonOperator. */
export interface GaussNewtonOperatorOptions {
  /** The loss ξ (its Hessian B). */
  loss: Loss;
  /** The damping λ ≥ 0. */
  lambda: number;
  /** Cl = C·l. */
  Cl: number;
  /** 'rop' (R-operator each product) or 'stored' (Jacobians of S stored once). */
  mode: 'rop' | 'stored';
}

/**
 * (G_S + λI)v = (1/Cl + λ)v + (1/|S|) Jᵀ B J v on the kept batch S; the operator lives while
 * `kept` is not released.
 */
export function gaussNewtonOperator(model: Sequential, kept: KeptBatch, o: GaussNewtonOperatorOptions): LinearOperator {
  const n = kept.x.shape[0];
  return (v: Tensor): Tensor => {
    const theta = model.parameters.clone();
    const tn = Math.sqrt(squaredNorm(theta));
    const vn = Math.sqrt(squaredNorm(v));
    const eps = vn > 0 ? (1e-3 * Math.max(1, tn)) / vn : 1;
    try {
      axpy(model.parameters, eps, v);
      const zp = model.predict(kept.x);
      copy(model.parameters, theta);
      axpy(model.parameters, -eps, v);
      const zm = model.predict(kept.x);
      copy(model.parameters, theta);
      const d = sub(zp, zm);
      zp.dispose();
      zm.dispose();
      const u = scale(d, 1 / (2 * eps));
      d.dispose();
      const bu = o.loss.hessianProduct(kept.z, u);
      u.dispose();
      const q = scale(bu, 1 / n);
      bu.dispose();
      const z = model.forward(kept.x);
      z.dispose();
      model.backward(q);
      q.dispose();
      const out = model.gradient.clone();
      axpy(out, 1 / o.Cl + o.lambda, v);
      return out;
    } finally {
      theta.dispose();
    }
  };
}
