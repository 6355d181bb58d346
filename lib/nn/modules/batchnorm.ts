// Batch normalisation over the channels of (N, C, H, W) — README.md, "Batch norm" — with its four passes exact in both modes:
//
//   training   x̂ = (x − μ)/σ, y = γx̂ + β, μ and σ = √(var + ε) the batch statistics of each
//              channel over its m = N·H·W values (var biased). Examples are not independent.
//   inference  y = γ(x − μ_r)/σ_r + β with the running statistics: an affine map per channel.
//
// Parameters 'weight' γ (C, ones) and 'bias' β (C, zeros) when affine; buffers 'runningMean'
// (C, zeros) and 'runningVar' (C, ones), updated as r ← (1 − momentum)·r + momentum·batch (the
// variance unbiased, m/(m − 1)) only on passes with ctx.updateStatistics (never during Gv, Hv
// or a line search). Every mean below is over the m values of a channel; the per-channel
// vectors (C) are combined with element-wise ops, the passes over the data are the
// per-channel ops channelAffine, channelCombine, channelDot and biasGrad (Σ per channel).
//
// Synchronised (ctx.statisticsSync, a batch split among the processes of a data-parallel job):
// the batch is the union of the shares, m counts all of its values, and every per-channel sum
// that enters a normalisation — μ and σ in forward, Σdy and Σdy⊙x̂ in vjp, the sums of R{x},
// R{dy} in the R-operator passes — is summed over the processes (sync.sum) before use, so each
// process computes its share of the single-process result. The parameter gradients stay each
// process's own sums: the trainer adds the processes' gradients together afterwards.
import {
  add,
  axpy,
  batchNormStats,
  biasGrad,
  channelAffine,
  channelCombine,
  channelDot,
  copy,
  mul,
  rsqrt,
  scale,
  sub,
} from '../../ops';
import { Tensor } from '../../tensor';
import type { BatchNorm2dSpec } from '../layers';
import type { ExampleShape, ForwardContext, GradientTarget, ParameterViews, StatisticsSync, VjpJvpResult } from '../module';
import { fmtShape } from '../shape-util';
import { BaseModule, disposeTensors, moduleInfo } from './base';

/** What a forward pass keeps: x̂, 1/σ (C), the per-channel count m and the mode. */
interface BatchNormCache {
  /** Batch statistics (training mode) or running ones (inference). */
  readonly training: boolean;
  /** x̂ (N, C, H, W), owned. */
  readonly xhat: Tensor;
  /** 1/σ (C), owned: of the batch (training mode) or of the running variance (inference). */
  readonly invStd: Tensor;
  /** m = N·H·W (N of the whole batch when synchronised). */
  readonly m: number;
  /** The processes sharing the batch (synchronised batch norm), or null. */
  readonly sync: StatisticsSync | null;
}

export class BatchNorm2dModule extends BaseModule {
  readonly spec: BatchNorm2dSpec;
  private cache: BatchNormCache | null = null;

  constructor(spec: BatchNorm2dSpec, owner: string, index: number, inputShapes: readonly ExampleShape[], offset: number, bufferOffset: number) {
    const shape = inputShapes[0];
    if (shape.length !== 3) {
      throw new RangeError(`${owner}: layer ${index} (batchNorm2d) needs an image input [C, H, W], got per-example shape ${fmtShape(shape)}`);
    }
    const C = shape[0];
    super(
      moduleInfo(
        {
          kind: 'batchNorm2d',
          inputShapes,
          outputShape: shape,
          parameters: spec.affine
            ? [
                { name: 'weight', shape: [C], init: 'ones' },
                { name: 'bias', shape: [C], init: 'zeros' },
              ]
            : [],
          buffers: [
            { name: 'runningMean', shape: [C], init: 'zeros' },
            { name: 'runningVar', shape: [C], init: 'ones' },
          ],
        },
        index,
        offset,
        bufferOffset,
      ),
    );
    this.spec = spec;
  }

  override perSample(): boolean {
    return this.cache === null || !this.cache.training;
  }

  private cached(): BatchNormCache {
    return this.cache ?? this.noCache();
  }

  /** γ, or a (C) tensor of ones without affine parameters (owned by the caller). */
  private gamma(like: Tensor): Tensor {
    const g = this.params.weight;
    return g !== undefined ? g.reshape(g.shape) : Tensor.full([like.shape[0]], 1, { dtype: like.dtype, device: like.device });
  }

  forward(xs: readonly Tensor[], ctx: ForwardContext): Tensor {
    this.releaseCache();
    const x = xs[0];
    const sync = ctx.batchStatistics ? ctx.statisticsSync ?? null : null;
    const m = (sync?.batchSize ?? x.shape[0]) * x.shape[2] * x.shape[3];
    let mean: Tensor;
    let invStd: Tensor;
    if (ctx.batchStatistics) {
      const stats = sync === null ? batchNormStats(x, this.spec.eps) : this.syncedStats(x, sync, m);
      mean = stats.mean;
      invStd = stats.invStd;
      if (ctx.updateStatistics) this.updateRunning(stats.mean, stats.variance, m);
      stats.variance.dispose();
    } else {
      mean = this.buffers.runningMean.reshape(this.buffers.runningMean.shape);
      invStd = rsqrt(this.buffers.runningVar, this.spec.eps);
    }
    // x̂ = x·(1/σ) − μ/σ
    const shift = mul(mean, invStd);
    const negShift = scale(shift, -1);
    const xhat = channelAffine(x, invStd, negShift);
    disposeTensors([mean, shift, negShift]);
    this.cache = { training: ctx.batchStatistics, xhat, invStd, m, sync };
    return this.spec.affine ? channelAffine(xhat, this.param('weight'), this.param('bias')) : xhat.reshape(xhat.shape);
  }

  /**
   * μ, the biased variance and 1/σ of each channel over the whole batch (m values) from this
   * process's share: μ = Σ_p m_p μ_p / m, var = Σ_p m_p (var_p + (μ_p − μ)²) / m (Chan et al.'s
   * combination: no cancellation, unlike Σx² − m·μ²).
   */
  private syncedStats(x: Tensor, sync: StatisticsSync, m: number): { mean: Tensor; variance: Tensor; invStd: Tensor } {
    const share = x.shape[0] * x.shape[2] * x.shape[3];
    const local = batchNormStats(x, this.spec.eps);
    local.invStd.dispose();
    const mean = scale(local.mean, share / m);
    let variance: Tensor | null = null;
    try {
      sync.sum(mean);
      const d = sub(local.mean, mean);
      variance = mul(d, d);
      d.dispose();
      axpy(variance, 1, local.variance);
      scaleInPlace(variance, share / m);
      sync.sum(variance);
      return { mean, variance, invStd: rsqrt(variance, this.spec.eps) };
    } catch (e) {
      disposeTensors([mean, variance]);
      throw e;
    } finally {
      disposeTensors([local.mean, local.variance]);
    }
  }

  /**
   * Running statistics ← (1 − momentum)^updates·r: the decay of the updates this process skips
   * (other processes' batches of a data-parallel pass, see Network.decayStatistics).
   */
  decayStatistics(updates: number): void {
    const factor = (1 - this.spec.momentum) ** updates;
    scaleInPlace(this.buffers.runningMean, factor);
    scaleInPlace(this.buffers.runningVar, factor);
  }

  /** r ← (1 − momentum)·r + momentum·batch, the variance made unbiased with m/(m − 1). */
  private updateRunning(mean: Tensor, variance: Tensor, m: number): void {
    const mom = this.spec.momentum;
    const rm = this.buffers.runningMean;
    const rv = this.buffers.runningVar;
    const keptMean = scale(rm, 1 - mom);
    axpy(keptMean, mom, mean);
    copy(rm, keptMean);
    const keptVar = scale(rv, 1 - mom);
    axpy(keptVar, m > 1 ? (mom * m) / (m - 1) : mom, variance);
    copy(rv, keptVar);
    disposeTensors([keptMean, keptVar]);
  }

  /**
   * Training: g = γ·dy, dx = (g − mean(g) − x̂·mean(g⊙x̂))/σ, i.e. dx = a·dy + b·x̂ + c with
   * a = γ/σ, b = −a·Σ(dy⊙x̂)/m, c = −a·Σdy/m. Inference: dx = (γ/σ_r)·dy. Both: dβ = Σ dy,
   * dγ = Σ dy⊙x̂.
   */
  vjp(dy: Tensor, needInputs: readonly boolean[], grads: GradientTarget): (Tensor | null)[] {
    const { xhat } = this.cached();
    const sumDy = biasGrad(dy);
    const sumDyXhat = channelDot(dy, xhat);
    try {
      const out = this.gradientViews(grads);
      if (this.spec.affine && out !== null) {
        copy(out.weight, sumDyXhat);
        copy(out.bias, sumDy);
      }
      if (!needInputs[0]) return [null];
      this.sumOverProcesses([sumDy, sumDyXhat]);
      return [this.inputGradient(dy, sumDy, sumDyXhat)];
    } finally {
      disposeTensors([sumDy, sumDyXhat]);
    }
  }

  /** dx from dy, with Σ dy and Σ dy⊙x̂ per channel already summed. Owned by the caller. */
  private inputGradient(dy: Tensor, sumDy: Tensor, sumDyXhat: Tensor): Tensor {
    const { xhat, invStd, m, training } = this.cached();
    const gamma = this.gamma(invStd);
    const a = mul(gamma, invStd);
    gamma.dispose();
    if (!training) {
      const dx = channelAffine(dy, a);
      a.dispose();
      return dx;
    }
    const b = mul(a, sumDyXhat);
    const c = mul(a, sumDy);
    scaleInPlace(b, -1 / m);
    scaleInPlace(c, -1 / m);
    try {
      return channelCombine(dy, a, xhat, b, c);
    } finally {
      disposeTensors([a, b, c]);
    }
  }

  /** R{x̂} from R{x}: training (R{x} − mean R{x} − x̂·mean(x̂⊙R{x}))/σ; inference R{x}/σ_r. Owned. */
  private rxhat(rx: Tensor): { rxhat: Tensor; rsigmaOverSigma: Tensor | null } {
    const { xhat, invStd, m, training } = this.cached();
    if (!training) return { rxhat: channelAffine(rx, invStd), rsigmaOverSigma: null };
    const meanRx = biasGrad(rx); // Σ R{x}
    const meanXhatRx = channelDot(xhat, rx); // Σ x̂⊙R{x}
    try {
      this.sumOverProcesses([meanRx, meanXhatRx]);
    } catch (e) {
      disposeTensors([meanRx, meanXhatRx]);
      throw e;
    }
    scaleInPlace(meanRx, 1 / m);
    scaleInPlace(meanXhatRx, 1 / m);
    const b = mul(invStd, meanXhatRx); // R{σ}/σ = mean(x̂⊙R{x})/σ
    const c = mul(invStd, meanRx);
    const bn = scale(b, -1);
    const cn = scale(c, -1);
    const r = channelCombine(rx, invStd, xhat, bn, cn);
    disposeTensors([meanRx, meanXhatRx, c, bn, cn]);
    return { rxhat: r, rsigmaOverSigma: b };
  }

  /** R{y} = γ·R{x̂} + v_γ·x̂ + v_β (R{x̂} = 0 without an input tangent). */
  jvp(rxs: readonly (Tensor | null)[], v: ParameterViews | null): Tensor {
    const { xhat } = this.cached();
    const rx = rxs[0];
    if (!this.spec.affine) {
      const { rxhat, rsigmaOverSigma } = this.rxhat(this.requireTangent(rxs));
      rsigmaOverSigma?.dispose();
      return rxhat;
    }
    const vg = this.tangent('jvp', v, 'weight');
    const vb = this.tangent('jvp', v, 'bias');
    if (rx === null) return channelAffine(xhat, vg, vb);
    const { rxhat, rsigmaOverSigma } = this.rxhat(rx);
    try {
      return channelCombine(rxhat, this.param('weight'), xhat, vg, vb);
    } finally {
      disposeTensors([rxhat, rsigmaOverSigma]);
    }
  }

  /**
   * The R-operator of vjp (README.md, "Batch norm"): R{dβ} = Σ R{dy}; R{dγ} = Σ (R{dy}⊙x̂ + dy⊙R{x̂});
   * R{g} = v_γ·dy + γ·R{dy}; training: R{dx} = −(R{σ}/σ)·dx + (R{g} − mean R{g} −
   * R{x̂}·mean(g⊙x̂) − x̂·mean(R{g}⊙x̂ + g⊙R{x̂}))/σ; inference: R{dx} = R{g}/σ_r.
   */
  override vjpJvp(
    dy: Tensor,
    rdy: Tensor,
    rxs: readonly (Tensor | null)[],
    v: ParameterViews | null,
    out: ParameterViews | null,
    needInputs: readonly boolean[],
  ): VjpJvpResult {
    const { xhat, invStd, m, training } = this.cached();
    const rx = rxs[0];
    // Every intermediate goes into `live` and is disposed at the end.
    const live: (Tensor | null)[] = [];
    const keep = <T extends Tensor | null>(t: T): T => {
      live.push(t);
      return t;
    };
    try {
      const r = rx === null ? null : this.rxhat(rx);
      const rxhat = r === null ? null : keep(r.rxhat);
      const rsigmaOverSigma = r === null ? null : keep(r.rsigmaOverSigma);
      const sumDy = keep(biasGrad(dy));
      const sumDyXhat = keep(channelDot(dy, xhat));
      const sumRdy = keep(biasGrad(rdy));
      const sumRdyXhat = keep(channelDot(rdy, xhat));
      const sumDyRxhat = rxhat === null ? null : keep(channelDot(dy, rxhat));
      if (this.spec.affine && out !== null) {
        const rdg = sumDyRxhat === null ? sumRdyXhat.reshape(sumRdyXhat.shape) : add(sumRdyXhat, sumDyRxhat);
        copy(out.weight, rdg);
        copy(out.bias, sumRdy);
        rdg.dispose();
      }
      if (!needInputs[0]) return { dx: [null], rdx: [null] };
      this.sumOverProcesses([sumDy, sumDyXhat, sumRdy, sumRdyXhat, sumDyRxhat]);
      const dx = this.inputGradient(dy, sumDy, sumDyXhat);
      try {
        const rdx = this.inputGradientTangent(dy, rdy, v, { sumDy, sumDyXhat, sumRdy, sumRdyXhat, sumDyRxhat, rxhat, rsigmaOverSigma, dx, xhat, invStd, m, training }, keep);
        return { dx: [dx], rdx: [rdx] };
      } catch (e) {
        dx.dispose();
        throw e;
      }
    } finally {
      disposeTensors(live);
    }
  }

  /** R{dx} (see vjpJvp) from the per-channel sums; intermediates go to `keep`. Owned by the caller. */
  private inputGradientTangent(
    dy: Tensor,
    rdy: Tensor,
    v: ParameterViews | null,
    t: {
      readonly sumDy: Tensor;
      readonly sumDyXhat: Tensor;
      readonly sumRdy: Tensor;
      readonly sumRdyXhat: Tensor;
      readonly sumDyRxhat: Tensor | null;
      readonly rxhat: Tensor | null;
      readonly rsigmaOverSigma: Tensor | null;
      readonly dx: Tensor;
      readonly xhat: Tensor;
      readonly invStd: Tensor;
      readonly m: number;
      readonly training: boolean;
    },
    keep: <T extends Tensor | null>(x: T) => T,
  ): Tensor {
    const gamma = keep(this.gamma(t.invStd));
    const vg = this.spec.affine ? this.tangent('vjpJvp', v, 'weight') : null;
    // R{g}/σ = (v_γ/σ)·dy + (γ/σ)·R{dy}
    const a = keep(mul(gamma, t.invStd));
    const va = vg === null ? null : keep(mul(vg, t.invStd));
    if (!t.training) return va === null ? channelAffine(rdy, a) : channelCombine(rdy, a, dy, va);
    // −mean(R{g})/σ, mean(R{g}) = (v_γ·Σdy + γ·ΣR{dy})/m
    const meanRg = keep(mul(gamma, t.sumRdy));
    if (vg !== null) axpyProduct(meanRg, vg, t.sumDy);
    const shift = keep(mul(t.invStd, meanRg));
    scaleInPlace(shift, -1 / t.m);
    const rdx = va === null ? channelAffine(rdy, a, shift) : channelCombine(rdy, a, dy, va, shift);
    try {
      // − x̂·mean(R{g}⊙x̂ + g⊙R{x̂})/σ, the mean = (v_γ·Σdy⊙x̂ + γ·ΣR{dy}⊙x̂ + γ·Σdy⊙R{x̂})/m
      const mixed = keep(mul(gamma, t.sumRdyXhat));
      if (vg !== null) axpyProduct(mixed, vg, t.sumDyXhat);
      if (t.sumDyRxhat !== null) axpyProduct(mixed, gamma, t.sumDyRxhat);
      const cx = keep(mul(t.invStd, mixed));
      scaleInPlace(cx, -1 / t.m);
      const fromXhat = channelAffine(t.xhat, cx);
      axpy(rdx, 1, fromXhat);
      fromXhat.dispose();
      if (t.rxhat !== null && t.rsigmaOverSigma !== null) {
        // − R{x̂}·mean(g⊙x̂)/σ − (R{σ}/σ)·dx, mean(g⊙x̂) = γ·Σ(dy⊙x̂)/m
        const cr = keep(mul(gamma, t.sumDyXhat));
        const crs = keep(mul(cr, t.invStd));
        scaleInPlace(crs, -1 / t.m);
        const ns = keep(scale(t.rsigmaOverSigma, -1));
        const fromR = channelCombine(t.rxhat, crs, t.dx, ns);
        axpy(rdx, 1, fromR);
        fromR.dispose();
      }
      return rdx;
    } catch (e) {
      rdx.dispose();
      throw e;
    }
  }

  /** One example's dγ = Σ dy⊙x̂, dβ = Σ dy (inference mode: x̂ from the running statistics). */
  sampleParameterGradient(xs: readonly Tensor[], dy: Tensor, out: ParameterViews): void {
    if (!this.spec.affine) return;
    const invStd = rsqrt(this.buffers.runningVar, this.spec.eps);
    const shift = mul(this.buffers.runningMean, invStd);
    scaleInPlace(shift, -1);
    const xhat = channelAffine(xs[0], invStd, shift);
    const dg = channelDot(dy, xhat);
    const db = biasGrad(dy);
    copy(out.weight, dg);
    copy(out.bias, db);
    disposeTensors([invStd, shift, xhat, dg, db]);
  }

  /**
   * Per-channel sums of this process's share → sums over the whole batch, in place, when the
   * forward pass was synchronised in training mode (every process calls this at the same points).
   */
  private sumOverProcesses(sums: readonly (Tensor | null)[]): void {
    const { sync, training } = this.cached();
    if (sync === null || !training) return;
    for (const t of sums) if (t !== null) sync.sum(t);
  }

  releaseCache(): void {
    if (this.cache !== null) {
      this.cache.xhat.dispose();
      this.cache.invStd.dispose();
    }
    this.cache = null;
  }
}

/** t ← αt, in place. */
function scaleInPlace(t: Tensor, alpha: number): void {
  const s = scale(t, alpha);
  copy(t, s);
  s.dispose();
}

/** acc += a ⊙ b, in place. */
function axpyProduct(acc: Tensor, a: Tensor, b: Tensor): void {
  const p = mul(a, b);
  axpy(acc, 1, p);
  p.dispose();
}
